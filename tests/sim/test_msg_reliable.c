/* test_msg_reliable.c - the reliability invariants of the message layer (node/transport/conn.h
 * "Invariants"), checked against the shipping node core after every simulator event.
 *
 * Node A sends 40 messages of random sizes (log-uniform by octave over 1 B .. 1 MiB; the first is
 * 1 MiB, the second 1 B) to node B over a link with 10% loss, 5% duplication, 25% reordering (held
 * back up to 30 ms), +-5 ms jitter, 20 ms one way, 4 MB/s with a 256 kB queue.  A keeps at most 8
 * messages queued and queues the next when one's outcome comes.  The congestion controller cycles
 * over the seeds: BBR (the default), NewReno, LEDBAT, CUBIC.  For every seed:
 *
 *   1. every message arrives exactly once and byte-identical, and A sees DELIVERED once for each
 *      and no FAILED;
 *   2. no fragment the peer acknowledged is ever transmitted again: after every event, each
 *      packet either node sent during it (its sent-packet record in recovery, read through
 *      node/transport/ep_inspect.h) carries only fragment units that the send queue's ack bitmap
 *      (msgq.h) does not mark acknowledged, and no fragment of a message already complete;
 *   3. the receiver never exceeds its reassembly budget (per session and the endpoint's pool) and
 *      never refuses a message (no REFUSE recorded, none queued, none in the reassembler);
 *   4. congestion control's and recovery's bytes in flight agree after every event, on both nodes;
 *   5. nothing leaks: once everything is delivered no reassembly or send-queue memory is charged,
 *      and after both nodes are freed every allocation was freed;
 *   6. no head-of-line blocking across messages: B gets messages while an older one is still
 *      incomplete (counted over all seeds; must happen).
 *
 * How check 2 knows the order: the simulator runs one event at a time, and the test keeps, per
 * node, a copy of the send queue's ack bitmaps as the previous event left them.  A unit acked
 * before the event must not be in a packet the event sent.  A unit acked during the event must
 * not be either if the event read its acks before it built anything: it took no DATA datagram, or
 * it took one and the endpoint's timers were not due (konce_nodecore_timer runs them, and they may
 * send, before it serves queued input).  Otherwise the packet may have been built before the ack
 * was read -- a retransmission queued by the loss timer, then the ack that shows the loss was
 * spurious -- and such units are counted, not flagged.  ACK-only packets are not recorded
 * (recovery.h) and carry no fragment.
 *
 * Seeds: 30 by default (a few seconds), SIM_SEEDS=N for a long run, SIM_SEED=N for one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ep_inspect.h"
#include "tests/sim/lossy_pair.h"
#include "tests/sim/node_harness.h"

enum { NMSG = 40, WINDOW = 8, MAXLEN = 1 << 20, KLASS = 300 };

/* The send queue's ack state of one message as the last check saw it (units only ever become
 * acked, so the bitmap is copied again only when nacked changed). */
typedef struct shadow {
	uint64_t wire;           /* 0: free */
	uint64_t nacked, nunits;
	uint64_t *acked;
	bool gone;               /* no longer queued: complete (or failed) */
} shadow;

enum { SHADOWS = 64 };

/* One node's view, for the per-event checks. */
typedef struct side {
	ncnode n;
	uint32_t conn;           /* its session with the other node; 0 until up */
	uint64_t checked_pn;     /* every packet number up to this was checked */
	uint64_t data_rx;        /* DATA datagrams taken, at the last check */
	uint64_t ep_timer;       /* konce_ep_next_timer() before the event */
	shadow sh[SHADOWS];      /* by wire id % SHADOWS */
} side;

typedef struct run {
	sim *s;
	side a, b;
	uint64_t seed;
	uint32_t len[NMSG];
	lossy_tx tx;
	lossy_slot slot[NMSG];
	uint8_t delivered[NMSG], received[NMSG];
	unsigned delivered_evs, failed_evs, received_total, bad, unmatched;
	uint64_t overtook;       /* messages B got while an older one was incomplete */
	/* check 2 */
	uint64_t resent_after_ack, pkts_checked, refs_checked, units_checked, events, units_unordered;
	uint8_t *buf;
} run;

/* Byte 0 names the message (NMSG < 256), the rest is the pattern. */
static void fill(lossy_tx *tx, unsigned i)
{
	run *r = tx->ctx;
	r->buf[0] = (uint8_t)i;
	lossy_fill(r->buf, r->seed, i, 1, r->len[i]);
}

static bool on_outcome(lossy_tx *tx, unsigned i, int outcome, int reason)
{
	run *r = tx->ctx;
	if (outcome == KONCE_OUTCOME_DELIVERED) {
		r->delivered[i]++;
		r->delivered_evs++;
	} else {
		r->failed_evs++;
		fprintf(stderr, "message %u: outcome %d, reason %d\n", i, outcome, reason);
	}
	return true;
}

static void on_message(void *ctx, konce_node *node, const konce_message *m)
{
	run *r = ctx;
	(void)node;
	r->received_total++;
	if (m->len == 0 || m->data[0] >= NMSG || r->len[m->data[0]] != m->len) {
		r->unmatched++;
		return;
	}
	unsigned i = m->data[0];
	r->received[i]++;
	r->bad += !lossy_intact(m->data, r->seed, i, 1, m->len);
	for (unsigned j = 0; j < i; j++)
		if (!r->received[j]) {
			r->overtook++;
			break;
		}
}

static void on_peer(ncnode *n, int event, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr, uint64_t now)
{
	side *sd = (side *)n; /* n is the first member */
	(void)addr, (void)now;
	if (event == KONCE_PEER_UP) {
		konce_ncpeer *p = konce_nodecore_peer_find(n->core, pk);
		if (p)
			sd->conn = p->conn;
	}
}

static bool unit_acked(const uint64_t *map, uint64_t u) { return map[u / 64] >> (u % 64) & 1; }

static void resent(run *r, const side *sd, uint64_t pn, const konce_frame_ref *ref, const char *why)
{
	if (!r->resent_after_ack++)
		fprintf(stderr, "seed %llu, %.6f s: node %c packet %llu carries units %u+%u of message %llu: %s\n",
			(unsigned long long)r->seed, sim_now(r->s) / 1e6, sd == &r->a ? 'A' : 'B',
			(unsigned long long)pn, ref->index, ref->count, (unsigned long long)ref->id, why);
}

static shadow *shadow_of(side *sd, uint64_t wire)
{
	shadow *e = &sd->sh[wire % SHADOWS];
	return e->wire == wire ? e : NULL;
}

/* After the checks of an event: the shadows take the queue's ack state. */
static void shadow_update(run *r, side *sd, const konce_conn *c)
{
	for (unsigned k = 0; k < SHADOWS; k++)
		if (sd->sh[k].wire && !sd->sh[k].gone && !konce_msgq_by_wire(&c->q, sd->sh[k].wire))
			sd->sh[k].gone = true;
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++) {
		const konce_smsg *m = c->q.active[i];
		if (!m)
			continue;
		shadow *e = &sd->sh[m->wire_id % SHADOWS];
		if (e->wire != m->wire_id) {
			/* a slot is reused only long after its message is gone: ids are dense, at most
			 * WINDOW + a few in flight */
			SIM_ASSERT(r->s, e->wire == 0 || e->gone);
			free(e->acked);
			*e = (shadow){.wire = m->wire_id, .nunits = m->nunits, .nacked = UINT64_MAX};
			e->acked = calloc((m->nunits + 63) / 64, sizeof *e->acked);
			SIM_ASSERT(r->s, e->acked != NULL);
		}
		if (e->nacked != m->nacked) {
			memcpy(e->acked, m->acked, (m->nunits + 63) / 64 * sizeof *e->acked);
			e->nacked = m->nacked;
		}
	}
}

static void shadow_free(side *sd)
{
	for (unsigned k = 0; k < SHADOWS; k++)
		free(sd->sh[k].acked);
	memset(sd->sh, 0, sizeof sd->sh);
}

/* Check 2 for the packets sd sent during the event.  A unit acked before the event began (the
 * shadow) must not be in them.  A unit acked during it must not be either, if the event read its
 * acks before building anything: no DATA taken, or one taken and the endpoint's timers (which
 * konce_nodecore_timer runs before queued input, and which may send) not due.  Otherwise a packet
 * may have been built before the ack was read, legitimately; such units are counted. */
static void check_sent(run *r, side *sd, const konce_conn *c, bool ordered)
{
	const konce_recovery *rec = &c->rec;
	uint64_t from = sd->checked_pn + 1;
	if (rec->largest_sent >= rec->cap && from < rec->largest_sent - rec->cap + 1)
		from = rec->largest_sent - rec->cap + 1;
	for (uint64_t pn = from; pn <= rec->largest_sent; pn++) {
		const konce_sent_packet *sp = &rec->slots[pn % rec->cap];
		if (sp->pn != pn)
			continue; /* ACK-only (never recorded) */
		r->pkts_checked++;
		for (unsigned k = 0; k < sp->nrefs; k++) {
			const konce_frame_ref *ref = &sp->refs[k];
			if (ref->kind != KONCE_REF_FRAGMENT)
				continue;
			r->refs_checked++;
			const shadow *e = shadow_of(sd, ref->id);
			const konce_smsg *m = konce_msgq_by_wire(&c->q, ref->id);
			if (e && e->gone) {
				resent(r, sd, pn, ref, "its message was complete before");
				continue;
			}
			if (!m) {
				SIM_ASSERT(r->s, ref->id < c->q.next_wire_id);
				if (ordered)
					resent(r, sd, pn, ref, "its message was complete");
				else
					r->units_unordered++;
				continue;
			}
			uint64_t end = (uint64_t)ref->index + ref->count;
			if (end > m->nunits)
				end = m->nunits;
			for (uint64_t u = ref->index; u < end; u++) {
				r->units_checked++;
				if (e && unit_acked(e->acked, u)) {
					resent(r, sd, pn, ref, "a unit was acknowledged before the event");
					break;
				}
				if (unit_acked(m->acked, u)) {
					if (ordered) {
						resent(r, sd, pn, ref, "a unit was acknowledged");
						break;
					}
					r->units_unordered++;
				}
			}
		}
	}
	if (rec->largest_sent > sd->checked_pn)
		sd->checked_pn = rec->largest_sent;
}

/* Checks 2, 3 and 4 on one node after an event. */
static void check_side(run *r, side *sd)
{
	const konce_ep *ep = ncnode_ep(&sd->n);
	uint64_t rx = konce_ep_counters(ep)->data_rx;
	bool ordered = rx == sd->data_rx || (rx == sd->data_rx + 1 && sd->ep_timer > sim_now(r->s));
	sd->data_rx = rx;
	konce_ep_memory mem;
	konce_ep_memory_get(ep, &mem);
	SIM_ASSERT(r->s, mem.reasm_used <= mem.reasm_budget);
	SIM_ASSERT(r->s, mem.send_used <= mem.send_budget);
	const konce_conn *c = sd->conn ? konce_ep_conn_inspect(ep, sd->conn) : NULL;
	if (!c)
		return; /* a presence: nothing in flight, nothing reassembled */
	SIM_ASSERT_EQ(r->s, c->cc.bytes_in_flight, c->rec.bytes_in_flight);
	SIM_ASSERT(r->s, c->ra.used <= c->ra.cfg.budget);
	SIM_ASSERT_EQ(r->s, c->nrefused, 0);
	SIM_ASSERT_EQ(r->s, c->nrefuse, 0);
	SIM_ASSERT_EQ(r->s, c->ra.nrefused, 0);
	check_sent(r, sd, c, ordered);
	shadow_update(r, sd, c);
}

static bool not_done(const run *r)
{
	return r->delivered_evs + r->failed_evs < NMSG || r->received_total < NMSG;
}

static const konce_cc_ops *const ccs[] = {&konce_cc_bbr, &konce_cc_newreno, &konce_cc_ledbat, &konce_cc_cubic};

static void test_reliable(void **state)
{
	(void)state;
	static run r;
	uint64_t nseeds = 0, tot_bytes = 0, tot_virtual = 0, tot_overtook = 0, tot_pkts = 0, tot_refs = 0,
		 tot_units = 0, tot_events = 0, tot_unordered = 0, min_overtook = UINT64_MAX;
	SIM_FOR_EACH_SEED(seed, 30) {
		memset(&r, 0, sizeof r);
		r.seed = seed;
		r.buf = malloc(MAXLEN);
		assert_non_null(r.buf);
		sim *s = sim_new(seed);
		r.s = s;
		for (unsigned i = 0; i < NMSG; i++)
			r.len[i] = lossy_len(s);
		r.len[0] = MAXLEN;
		r.len[1] = 1;
		for (unsigned i = 0; i < NMSG; i++)
			tot_bytes += r.len[i];
		konce_nodecore_config cfg = {0};
		cfg.ep.cc = ccs[seed % 4];
		lossy_pair_open(s, &r.a.n, &r.b.n, &cfg, KLASS, on_message, &r);
		r.a.n.on_peer = r.b.n.on_peer = on_peer;
		uint64_t t0 = sim_now(s), deadline = t0 + 3600 * SIM_SEC;
		r.tx = (lossy_tx){.s = s, .a = &r.a.n, .b = &r.b.n, .klass = KLASS, .nmsg = NMSG, .window = WINDOW,
				  .len = r.len, .buf = r.buf, .slot = r.slot, .fill = fill, .outcome = on_outcome, .ctx = &r};
		lossy_tx_more(&r.tx);
		while (not_done(&r)) {
			r.a.ep_timer = konce_ep_next_timer(ncnode_ep(&r.a.n));
			r.b.ep_timer = konce_ep_next_timer(ncnode_ep(&r.b.n));
			SIM_ASSERT(s, sim_step(s));
			SIM_ASSERT(s, sim_now(s) < deadline);
			r.events++;
			check_side(&r, &r.a);
			check_side(&r, &r.b);
		}
		/* 1: exactly once, intact */
		SIM_ASSERT_EQ(s, r.failed_evs, 0);
		SIM_ASSERT_EQ(s, r.unmatched, 0);
		SIM_ASSERT_EQ(s, r.bad, 0);
		SIM_ASSERT_EQ(s, r.received_total, NMSG);
		SIM_ASSERT_EQ(s, r.delivered_evs, NMSG);
		for (unsigned i = 0; i < NMSG; i++) {
			SIM_ASSERT_EQ(s, r.received[i], 1);
			SIM_ASSERT_EQ(s, r.delivered[i], 1);
		}
		/* 2: nothing acknowledged sent again, and the check saw the data go out */
		SIM_ASSERT_EQ(s, r.resent_after_ack, 0);
		SIM_ASSERT(s, r.refs_checked > 0);
		/* 5: nothing held once all is delivered ... */
		konce_ep_memory ma, mb;
		konce_ep_memory_get(ncnode_ep(&r.a.n), &ma);
		konce_ep_memory_get(ncnode_ep(&r.b.n), &mb);
		SIM_ASSERT_EQ(s, ma.send_used, 0);
		SIM_ASSERT_EQ(s, mb.reasm_used, 0);
		tot_virtual += sim_now(s) - t0;
		tot_overtook += r.overtook;
		if (r.overtook < min_overtook)
			min_overtook = r.overtook;
		tot_pkts += r.pkts_checked;
		tot_refs += r.refs_checked;
		tot_units += r.units_checked;
		tot_events += r.events;
		tot_unordered += r.units_unordered;
		nseeds++;
		/* ... and nothing allocated survives the nodes */
		shadow_free(&r.a);
		shadow_free(&r.b);
		lossy_pair_close(s, &r.a.n, &r.b.n);
		free(r.buf);
		sim_free(s);
	}
	/* 6: messages overtook incomplete older ones */
	assert_true(nseeds == 0 || tot_overtook > 0);
	printf("  %llu seeds x %d messages (%.1f MB, %.1f virtual s per seed): all exactly once and intact;\n"
	       "  %llu events, each checked on both nodes; %llu packets, %llu fragment runs, %llu units checked\n"
	       "  against the ack state: none acknowledged before its packet was built (%llu units acked in the\n"
	       "  event that resent them, the timers having run before the ack was read: not flagged);\n"
	       "  %llu messages delivered while an older one had a hole (at least %llu per seed)\n",
	       (unsigned long long)nseeds, NMSG, tot_bytes / 1e6, nseeds ? tot_virtual / 1e6 / nseeds : 0.0,
	       (unsigned long long)tot_events, (unsigned long long)tot_pkts, (unsigned long long)tot_refs,
	       (unsigned long long)tot_units, (unsigned long long)tot_unordered, (unsigned long long)tot_overtook,
	       (unsigned long long)(nseeds ? min_overtook : 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reliable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
