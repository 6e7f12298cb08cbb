/* conn.c - one session's reliability state (see conn.h). */
#include "node/transport/conn.h"

#include <errno.h>
#include <string.h>

#include "node/transport/ackframe.h"
#include "node/transport/frame.h"
#include "node/transport/slack.h"
#include "node/base/varint.h"

static void maybe_close_channel(konce_conn *c);

static const konce_cc_ops *foreground(const konce_conn *c) { return c->cfg.cc ? c->cfg.cc : &KONCE_CC_DEFAULT; }

static void on_acked(void *ctx, const konce_frame_ref *ref)
{
	konce_conn *c = ctx;
	if (ref->kind == KONCE_REF_ACK) {
		/* the peer saw an ack reaching down to ref->id: stop repeating older ranges */
		konce_recvtrack_forget_below(&c->rt, ref->id);
		return;
	}
	konce_smsg *m = konce_msgq_acked(&c->q, ref);
	if (m) {
		c->ops.delivered(c->ops.ctx, m);
		konce_msgq_retire(&c->q, m);
	}
}

static void on_lost(void *ctx, const konce_frame_ref *ref)
{
	konce_conn *c = ctx;
	if (ref->kind == KONCE_REF_FRAGMENT && konce_msgq_needed(&c->q, ref)) {
		konce_msgq_lost(&c->q, ref);
		c->retransmitted++;
	}
}

int konce_conn_new(konce_conn **out, const konce_env *env, const konce_conn_cfg *cfg, const konce_conn_ops *ops,
		   uint64_t now)
{
	*out = NULL;
	konce_conn *c = konce_env_alloc(env, sizeof *c);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof *c);
	c->env = env;
	c->cfg = *cfg;
	c->ops = *ops;
	konce_recovery_ops rops = {on_acked, on_lost, c};
	konce_reasm_config rc = {.budget = cfg->budget, .max_message = cfg->max_message, .pool = cfg->pool};
	int r = konce_recovery_init(&c->rec, env, KONCE_CONN_PRESENCE_RING, &rops, (uint64_t)KONCE_ACK_MAX_DELAY_MS * 1000);
	if (r) {
		konce_env_free(env, c);
		return r;
	}
	if ((r = konce_reasm_init(&c->ra, env, &rc))) {
		konce_recovery_free(&c->rec);
		konce_env_free(env, c);
		return r;
	}
	c->rec.big_bytes = KONCE_PMTU_BASE;
	konce_recvtrack_init(&c->rt, 0);
	konce_cc_init(&c->cc, foreground(c), KONCE_CONN_MSS, now);
	konce_pacer_init(&c->pacer, KONCE_CONN_PACER_BURST, now);
	konce_msgq_init(&c->q, env);
	konce_msgq_set_limit(&c->q, cfg->send_max, cfg->send_pool);
	c->credit = KONCE_CONN_INITIAL_CREDIT;
	c->last_eliciting_tx = now;
	c->progress_at = now;
	c->msg_us = now;
	*out = c;
	return 0;
}

void konce_conn_free(konce_conn *c)
{
	if (!c)
		return;
	const konce_env *env = c->env;
	konce_msgq_free(&c->q);
	konce_reasm_free(&c->ra);
	konce_recovery_free(&c->rec);
	memset(c, 0, sizeof *c);
	konce_env_free(env, c);
}

int konce_conn_keep_channel(konce_conn *c)
{
	if (!c->channel) {
		int r = konce_recovery_resize(&c->rec, c->cfg.ring);
		if (r)
			return r;
		c->channel = true;
	}
	c->channel_kept = true;
	return 0;
}

/* own: msg is a buffer to take over (konce_msgq_push_owned), else it is copied. */
static int conn_send(konce_conn *c, const uint8_t *msg, bool own, size_t len, uint8_t klass, uint64_t api_id,
		     uint64_t now)
{
	bool idle = konce_msgq_empty(&c->q) && c->rec.bytes_in_flight == 0;
	uint64_t cost = konce_msgq_cost(len);
	if (!konce_msgq_admits(&c->q, cost))
		return -ENOBUFS; /* before the channel opens for it */
	if (!c->channel && konce_frag_count(len) > 1) {
		int r = konce_recovery_resize(&c->rec, c->cfg.ring);
		if (r)
			return r;
		c->channel = true;
	}
	int r = own ? konce_msgq_push_owned(&c->q, (uint8_t *)msg, len, klass, api_id, now)
		    : konce_msgq_push(&c->q, msg, len, klass, api_id, now);
	if (r)
		return r;
	if (idle) {
		/* A busy period starts: its first message picks the path's congestion class. */
		const konce_cc_ops *want = klass ? &konce_cc_ledbat : foreground(c);
		if (c->cc.ops != want) {
			uint64_t cwnd = c->cc.cwnd;
			konce_cc_init(&c->cc, want, c->cc.mss, now);
			if (!klass && cwnd > c->cc.cwnd)
				c->cc.cwnd = cwnd;
			if (c->seed_rtt)
				konce_cc_seed_min_rtt(&c->cc, c->seed_rtt, c->seed_at, now);
		}
		c->progress_at = now;
	}
	return 0;
}

int konce_conn_send(konce_conn *c, const uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now)
{
	return conn_send(c, msg, false, len, klass, api_id, now);
}

int konce_conn_send_owned(konce_conn *c, uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now)
{
	return conn_send(c, msg, true, len, klass, api_id, now);
}

bool konce_conn_eliciting(const uint8_t *p, size_t len)
{
	size_t off = 0;
	konce_frame f;
	while (konce_frame_next(p, len, &off, &f, NULL) == 1)
		if (f.type != KONCE_FRAME_ACK && f.type != KONCE_FRAME_ACK_OWD && f.type != KONCE_FRAME_PADDING)
			return true;
	return false;
}

/* ---- receiving ----------------------------------------------------------------------------- */

static void queue_refuse(konce_conn *c, uint64_t id, uint8_t why)
{
	const unsigned mem = sizeof c->refused / sizeof c->refused[0];
	if (why == KONCE_REFUSE_OTHER) {
		for (unsigned i = 0; i < mem; i++)
			if (c->refused[i] == id)
				why = c->refused_why[i];
	} else {
		c->refused[c->nrefused % mem] = id;
		c->refused_why[c->nrefused++ % mem] = why;
	}
	for (unsigned i = 0; i < c->nrefuse; i++)
		if (c->refuse[i] == id)
			return;
	if (c->nrefuse == sizeof c->refuse / sizeof c->refuse[0])
		return; /* the sender sends the fragment again and we answer then */
	c->refuse[c->nrefuse] = id;
	c->refuse_why[c->nrefuse++] = why;
}

static void on_fragment(konce_conn *c, const konce_fragment *f, uint64_t now)
{
	konce_reasm_msg *m;
	switch (konce_reasm_on_fragment(&c->ra, f, now, &m)) {
	case KONCE_REASM_COMPLETE:
		c->msgs_rx++;
		c->ops.message(c->ops.ctx, m);
		break;
	case KONCE_REASM_TOO_LARGE:
		queue_refuse(c, f->msg_id, KONCE_REFUSE_TOO_LARGE);
		break;
	case KONCE_REASM_NO_BUDGET:
		queue_refuse(c, f->msg_id, KONCE_REFUSE_NO_BUDGET);
		break;
	case KONCE_REASM_BUSY:
		queue_refuse(c, f->msg_id, KONCE_REFUSE_BUSY);
		break;
	case KONCE_REASM_REFUSED:
	case KONCE_REASM_NO_MEMORY:
		queue_refuse(c, f->msg_id, KONCE_REFUSE_OTHER);
		break;
	default: /* PARTIAL, DUPLICATE, INCONSISTENT, OUT_OF_WINDOW */
		break;
	}
}

/* The pacer's burst (conn.h).  A timer that fires late must not cost the rate: an event loop wakes
 * every ms or so, not every 100 us a 100 Mbit/s rate would want; a burst of 2 ms at the rate covers
 * that (Linux's BBR sends a quantum of 1 ms), plus how late the host's wakes have come lately
 * (pacer.h: a loop on a jiffy clock comes up to 4 ms late).  A model-based controller's rate
 * follows what it achieves, so a pacer that falls short lowers its estimate round after round:
 * with a 2 ms burst and 4 ms wakes, BBR's STARTUP grows ~1.4x a round instead of 2x.  The cap,
 * 256 KiB, is 2 ms up to ~1 Gbit/s.  Above that the burst is shorter than 2 ms and the same
 * shortfall returns: a cap of 64 KiB is 160 us at 400 MB/s, a sender that wakes ~60 us late loses
 * a third of each wake's rate, and BBR on loopback settles at half what it moves with 256 KiB
 * (docs/BENCH.md). */
uint64_t konce_conn_pacer_burst(uint64_t rate, uint64_t late_us, uint64_t mss)
{
	uint64_t burst = rate * (2000 + late_us) / 1000000, lo = KONCE_CONN_PACER_BURST / KONCE_CONN_MSS * mss;
	return burst < lo ? lo : burst > KONCE_CONN_PACER_BURST_MAX ? KONCE_CONN_PACER_BURST_MAX : burst;
}

static void apply_loss(konce_conn *c, const konce_loss_result *res, const konce_ack *ack, uint64_t now)
{
	if (res->nacked) {
		konce_cc_ack ca = {.bytes = res->acked_bytes, .largest_sent = res->largest_acked_sent,
				   .rtt = res->rtt_sample ? c->rec.rtt.latest : 0, .min_rtt = c->rec.rtt.min,
				   .has_owd = ack && ack->has_owd, .owd = ack ? ack->owd : 0,
				   .delivered = c->rec.delivered, .rate = res->rs.rate,
				   .prior_delivered = res->rs.prior_delivered, .app_limited = res->rs.app_limited};
		konce_cc_on_ack(&c->cc, &ca, now);
	}
	c->big_lost += res->nlost_big;
	c->big_acked += res->nacked_big;
	konce_cc_on_spurious(&c->cc, res->spurious_bytes, now);
	if (res->nlost && res->largest_lost_sent < c->path_since) {
		konce_cc_on_discard(&c->cc, res->lost_bytes); /* sent on the old path */
	} else if (res->nlost) {
		konce_cc_on_loss(&c->cc, res->lost_bytes, res->largest_lost_sent, now);
		if (res->persistent_congestion)
			konce_cc_on_persistent_congestion(&c->cc, now);
	}
	uint64_t rate = konce_cc_pacing_rate(&c->cc, c->rec.rtt.smoothed);
	konce_pacer_set_rate(&c->pacer, rate, now);
	konce_pacer_set_burst(&c->pacer, konce_conn_pacer_burst(rate, konce_pacer_late(&c->pacer), c->cc.mss));
}

static void on_ack(konce_conn *c, konce_ack *a, uint64_t now)
{
	uint64_t largest = konce_ack_largest(a);
	if (largest > c->largest_pn_sent)
		return; /* acks what we never sent: ignore the frame */
	if (largest >= c->credit_largest) {
		c->credit_largest = largest;
		c->credit = a->credit;
	}
	/* ACK-only packets are not in recovery: trim ranges above what it knows. */
	size_t k = 0;
	while (k < a->nranges && a->ranges[k].lo > c->rec.largest_sent)
		k++;
	konce_loss_result res;
	if (k < a->nranges) {
		if (k) {
			memmove(a->ranges, a->ranges + k, (a->nranges - k) * sizeof a->ranges[0]);
			a->nranges -= k;
			a->has_owd = false; /* the sample belonged to the trimmed largest */
		}
		if (a->ranges[0].hi > c->rec.largest_sent)
			a->ranges[0].hi = c->rec.largest_sent;
		if (konce_recovery_on_ack(&c->rec, a, now, &res))
			return;
		if (res.nacked)
			c->progress_at = now;
		apply_loss(c, &res, a, now);
	}
	/* An acked ACK-only packet still says which recorded packets before it the peer never got:
	 * after an outage that lost every recorded packet, the acks of our ACK-only packets are the
	 * only news, and without them the ring would stay full for good. */
	if (largest > c->rec.largest_acked) {
		konce_recovery_on_unrecorded_ack(&c->rec, largest, now, &res);
		if (res.nlost)
			apply_loss(c, &res, NULL, now);
	}
}

bool konce_conn_on_packet(konce_conn *c, uint64_t pn, const uint8_t *p, size_t len, uint64_t now)
{
	size_t off = 0;
	konce_frame f;
	bool has_ts = false, held = false;
	uint32_t ts = 0;
	while (konce_frame_next(p, len, &off, &f, NULL) == 1) {
		if (f.type == KONCE_FRAME_TIMESTAMP) {
			has_ts = true;
			konce_timestamp_decode(f.body - 1, f.len + 1, &ts);
		}
		held |= f.type == KONCE_FRAME_FRAGMENT && c->hold_fragments;
	}
	bool eliciting = konce_conn_eliciting(p, len);
	if (!held)
		konce_recvtrack_on_packet(&c->rt, pn, eliciting, now, has_ts, ts);
	off = 0;
	bool acked = false;
	while (konce_frame_next(p, len, &off, &f, NULL) == 1) {
		switch (f.type) {
		case KONCE_FRAME_ACK:
		case KONCE_FRAME_ACK_OWD: {
			/* One ACK frame per packet is acted on: each walks the sent-packet window, and a
			 * packet has room for ~200 of them.  We never send more than one. */
			konce_ack a;
			if (acked) {
				c->acks_ignored++;
				break;
			}
			acked = true;
			if (konce_ackframe_decode(f.body - 1, f.len + 1, &a))
				on_ack(c, &a, now);
			break;
		}
		case KONCE_FRAME_FRAGMENT: {
			konce_fragment fr;
			if (!held && konce_frag_decode(f.body - 1, f.len + 1, &fr))
				on_fragment(c, &fr, now);
			break;
		}
		case KONCE_FRAME_REFUSE: {
			uint64_t id;
			uint8_t why;
			if (konce_frame_get_refuse(f.body, f.len, &id, &why) == 0)
				break;
			konce_smsg *m = konce_msgq_by_wire(&c->q, id);
			if (m) {
				c->ops.refused(c->ops.ctx, m, why);
				konce_msgq_retire(&c->q, m);
			}
			break;
		}
		default:
			break;
		}
	}
	maybe_close_channel(c);
	return !held;
}

/* A channel with nothing queued and nothing outstanding goes back to being a presence. */
static void maybe_close_channel(konce_conn *c)
{
	if (c->channel && !c->channel_kept && konce_msgq_empty(&c->q) && c->rec.oldest > c->rec.largest_sent &&
	    konce_recovery_resize(&c->rec, KONCE_CONN_PRESENCE_RING) == 0)
		c->channel = false;
}

void konce_conn_release(konce_conn *c, konce_reasm_msg *m) { konce_reasm_release(&c->ra, m); }

/* ---- sending ------------------------------------------------------------------------------- */

/* What the sender waits for the pacer to allow before it wakes to send: the rate's worth of
 * KONCE_CONN_PACE_QUANTUM_US, at least one datagram, at most the burst.  Woken for one datagram,
 * a fast sender comes back as soon as one more may go and sends only what built up since: on
 * loopback a sendmmsg then carried 12-19 datagrams at 1,200 bytes, and the per-wake cost held the
 * rate to ~0.8x of an unpaced sender.  A quantum of 1 ms is what Linux's BBR sends per pacing
 * event (tcp_tso_autosize: rate >> sk_pacing_shift); the burst bounds it, so what goes back to
 * back is no more than the pacer allowed before.  Where 1 ms of the rate is under
 * KONCE_CONN_PACE_QUANTUM_MIN datagrams (under ~38 Mbit/s at 1,200 bytes) it is one datagram, as
 * before: there the wakes are few anyway, and a slow or loss-bound flow keeps its packets spread. */
uint64_t konce_conn_pace_quantum(const konce_conn *c)
{
	uint64_t q = c->pacer.rate / (1000000 / KONCE_CONN_PACE_QUANTUM_US);
	if (q > c->pacer.burst)
		q = c->pacer.burst;
	return q < KONCE_CONN_PACE_QUANTUM_MIN * c->cc.mss ? c->cc.mss : q;
}

static bool data_allowed(konce_conn *c, uint64_t now)
{
	if (!konce_cc_can_send(&c->cc, c->cc.mss) || (!c->channel && c->rec.eliciting_in_flight > 0)) {
		konce_pacer_unwait(&c->pacer); /* the window holds it back, not the pacer */
		return false; /* (a presence: one message packet per round trip) */
	}
	uint64_t at = konce_pacer_next_time(&c->pacer, c->cc.mss, now);
	if (at <= now)
		return true;
	/* it comes back when a quantum is due (konce_conn_next_timer), so that is the wait */
	konce_pacer_wait(&c->pacer, konce_pacer_next_time(&c->pacer, konce_conn_pace_quantum(c), now));
	return false;
}

_Static_assert((int)KONCE_GATHER_MAX >= (int)KONCE_RECOVERY_MAX_REFS, "a packet's fragments must fit its gather");

static bool still_needed(void *ctx, const konce_frame_ref *ref) { return konce_msgq_needed(ctx, ref); }

/* Writes FRAGMENT frames from out[n]; returns the new length.  With g, each fragment's data is
 * left as a hole in out for the seal to read from the message (gather.h) instead of copied. */
static size_t put_fragments(konce_conn *c, uint8_t *out, size_t n, size_t cap, konce_sent_packet *sp, bool probe,
			    konce_gather *g)
{
	konce_frame_ref ref;
	while (sp->nrefs < KONCE_RECOVERY_MAX_REFS && cap - n > KONCE_FRAG_HEADER_MAX) {
		size_t room = cap - n - KONCE_FRAG_HEADER_MAX;
		bool fresh = konce_msgq_next(&c->q, &ref, room);
		if (!fresh) {
			if (!probe || sp->nrefs > 0 ||
			    konce_recovery_probe_refs(&c->rec, &ref, 1, still_needed, &c->q) != 1 ||
			    !konce_msgq_clip(&c->q, &ref, room))
				break;
		}
		konce_fragment f;
		if (konce_msgq_fragment(&c->q, &ref, &f))
			continue;
		size_t w = g ? konce_frag_encode_header(out + n, cap - n, &f) : konce_frag_encode(out + n, cap - n, &f);
		if (w && g) {
			if (!konce_gather_add(g, n + w, f.data, f.len))
				w = 0;
			else
				w += f.len;
		}
		if (w == 0) {
			if (fresh)
				konce_msgq_unnext(&c->q, &ref);
			break;
		}
		n += w;
		sp->refs[sp->nrefs++] = ref;
		if (!fresh)
			break;
	}
	return n;
}

size_t konce_conn_build(konce_conn *c, uint8_t *out, size_t cap, uint64_t pn, uint64_t now, konce_sent_packet *sp)
{
	return konce_conn_build_gather(c, out, cap, pn, now, sp, NULL);
}

size_t konce_conn_build_gather(konce_conn *c, uint8_t *out, size_t cap, uint64_t pn, uint64_t now,
			       konce_sent_packet *sp, konce_gather *g)
{
	memset(sp, 0, sizeof *sp);
	if (g)
		g->n = 0;
	sp->pn = pn;
	sp->time_sent = now;
	/* An ack-eliciting packet needs a slot in the sent-packet ring; an ACK-only one does not
	 * (it is not recorded), so acks flow even while the ring is full. */
	bool can_record = konce_recovery_can_send(&c->rec, pn);
	if (!can_record && (c->probes_due || c->ping_due) && pn > c->rec.largest_sent) {
		/* A probe or keepalive is due and the ring is full of packets nobody acknowledged for a
		 * probe timeout: they are lost, or nothing ack-eliciting could ever go out again. */
		konce_loss_result res;
		konce_recovery_evict(&c->rec, pn, &res);
		if (res.nlost)
			apply_loss(c, &res, NULL, now);
		can_record = konce_recovery_can_send(&c->rec, pn);
	}
	konce_msgq_start(&c->q, c->credit);
	bool probe = can_record && c->probes_due > 0;
	bool ping = can_record && c->ping_due;
	bool refuse = can_record && c->nrefuse;
	bool data = can_record && konce_msgq_has_data(&c->q) && (probe || data_allowed(c, now));
	if (!konce_msgq_has_data(&c->q)) {
		konce_pacer_unwait(&c->pacer); /* nothing to send: no wait to be late for */
		if (konce_cc_can_send(&c->cc, c->cc.mss))
			konce_recovery_on_app_limited(&c->rec); /* the window is not the limit: rate samples say so */
	}
	bool ack = konce_recvtrack_ack_time(&c->rt) != KONCE_RECVTRACK_NEVER &&
		   (konce_recvtrack_ack_due(&c->rt, now) || data || ping || refuse);
	if (!data && !ack && !probe && !ping && !refuse)
		return 0;
	if (c->defer_ack && !data && !probe && !ping && !refuse)
		return 0; /* ACK-only: at the end of the burst (conn.h) */
	size_t n = 0;
	uint64_t ack_low = 0;
	if (ack) {
		/* leave room for a base-size fragment and a timestamp when data goes too */
		size_t room = data ? cap - KONCE_TIMESTAMP_SIZE - KONCE_FRAG_HEADER_MAX - KONCE_FRAG_DATA_MAX : cap;
		konce_ack a;
		if (konce_recvtrack_build_ack(&c->rt, now, konce_reasm_credit(&c->ra), &a) == 0) {
			size_t nenc = 0;
			size_t w = konce_ackframe_encode(out, room, &a, &nenc);
			if (w) {
				n += w;
				ack_low = a.ranges[nenc - 1].lo;
				konce_recvtrack_on_ack_sent(&c->rt);
				c->acks_tx++;
			}
		}
	}
	bool eliciting = false;
	if (data || probe) {
		if (c->cc.ops == &konce_cc_ledbat)
			n += konce_timestamp_encode(out + n, cap - n, (uint32_t)now);
		size_t w = put_fragments(c, out, n, cap, sp, probe, g);
		if (w > n) {
			n = w;
			eliciting = true;
		} else if (c->cc.ops == &konce_cc_ledbat) {
			n -= KONCE_TIMESTAMP_SIZE;
		}
	}
	while (refuse && c->nrefuse && cap - n >= KONCE_REFUSE_MAX_SIZE) {
		c->nrefuse--;
		n += konce_frame_put_refuse(out + n, cap - n, c->refuse[c->nrefuse], c->refuse_why[c->nrefuse]);
		eliciting = true;
	}
	if (can_record && (probe || ping || c->ack_only_run + 1 >= KONCE_CONN_ACK_ONLY_RUN) && !eliciting &&
	    cap - n >= 1) {
		n += konce_frame_put_ping(out + n, cap - n);
		eliciting = true;
	}
	if (n == 0)
		return 0;
	if (eliciting) {
		sp->ack_eliciting = true;
		sp->in_flight = true;
		if (ack_low && sp->nrefs < KONCE_RECOVERY_MAX_REFS)
			sp->refs[sp->nrefs++] = (konce_frame_ref){.id = ack_low, .kind = KONCE_REF_ACK};
	}
	return n;
}

void konce_conn_set_mss(konce_conn *c, size_t dgram)
{
	konce_cc_set_mss(&c->cc, dgram < KONCE_CONN_MSS ? KONCE_CONN_MSS : dgram);
}

void konce_conn_unbuild(konce_conn *c, const konce_sent_packet *sp)
{
	for (unsigned i = sp->nrefs; i-- > 0;)
		if (sp->refs[i].kind == KONCE_REF_FRAGMENT)
			konce_msgq_unnext(&c->q, &sp->refs[i]);
}

void konce_conn_on_sent(konce_conn *c, konce_sent_packet *sp, size_t bytes, uint64_t now)
{
	if (sp->pn > c->largest_pn_sent)
		c->largest_pn_sent = sp->pn;
	if (!sp->ack_eliciting) {
		c->ack_only_run++;
		return;
	}
	c->ack_only_run = 0;
	c->ping_due = false;
	if (c->probes_due) {
		c->probes_due--;
		c->probes++;
	}
	if (c->rec.eliciting_in_flight == 0 && !konce_msgq_empty(&c->q) && c->progress_at < c->last_eliciting_tx)
		c->progress_at = now; /* nothing was outstanding: the wait for progress starts now */
	sp->bytes = (uint32_t)bytes;
	if (konce_recovery_on_sent(&c->rec, sp))
		return;
	konce_cc_on_sent(&c->cc, bytes, now);
	konce_pacer_on_sent(&c->pacer, bytes, now);
	c->last_eliciting_tx = now;
}

void konce_conn_on_probe_sent(konce_conn *c, uint64_t pn)
{
	if (pn > c->largest_pn_sent)
		c->largest_pn_sent = pn;
}

void konce_conn_seed_rtt(konce_conn *c, uint64_t rtt_us, uint64_t at, uint64_t now)
{
	if (!rtt_us || at > now)
		return;
	c->seed_rtt = rtt_us;
	c->seed_at = at;
	konce_cc_seed_min_rtt(&c->cc, rtt_us, at, now);
}

void konce_conn_path_reset(konce_conn *c, uint64_t now)
{
	konce_recovery_path_reset(&c->rec);
	konce_cc_init(&c->cc, c->cc.ops, KONCE_CONN_MSS, now);
	c->cc.bytes_in_flight = c->rec.bytes_in_flight;
	c->path_since = now; /* the old path's packets, declared lost later, are not congestion here */
	c->seed_rtt = c->seed_at = 0; /* the old path's */
	konce_pacer_init(&c->pacer, KONCE_CONN_PACER_BURST, now);
	if (c->rec.eliciting_in_flight)
		c->probes_due = 2; /* now, not at a probe timeout backed off by the outage */
}

bool konce_conn_idle(const konce_conn *c)
{
	return !c->channel_kept && konce_msgq_empty(&c->q) && c->rec.oldest > c->rec.largest_sent &&
	       c->rec.bytes_in_flight == 0 && konce_recvtrack_ack_time(&c->rt) == KONCE_RECVTRACK_NEVER &&
	       !c->ping_due && !c->probes_due && !c->nrefuse && konce_reasm_settled(&c->ra);
}

void konce_conn_ids(const konce_conn *c, uint64_t *tx_next, uint64_t *rx_base)
{
	*tx_next = c->q.next_wire_id;
	*rx_base = c->ra.base;
}

void konce_conn_resume(konce_conn *c, uint64_t tx_next, uint64_t rx_base)
{
	if (tx_next > c->q.next_wire_id)
		c->q.next_wire_id = tx_next;
	konce_reasm_resume(&c->ra, rx_base);
}

/* The keepalive's deadline: keepalive_us after the last ack-eliciting packet, moved earlier to its
 * slack grid point (slack.h; ep_timer.c "Coalescing"), as a presence's is (ep_msg.c), so that the
 * keepalives of channels and presences fall on the same points and one timer call serves them.  It
 * is an upper bound: a PING may leave up to one step (1/64 of the interval, 16 ms at most) early,
 * never late. */
static uint64_t keepalive_at(const konce_conn *c)
{
	return konce_ep_due_early(c->last_eliciting_tx + c->cfg.keepalive_us, c->cfg.keepalive_us);
}

bool konce_conn_tick(konce_conn *c, uint64_t now)
{
	if (!konce_msgq_empty(&c->q) && now >= c->progress_at + c->cfg.msg_timeout_us)
		return false;
	konce_loss_result res;
	switch (konce_recovery_on_timeout(&c->rec, now, &res)) {
	case KONCE_RECOVERY_TIMER_LOSS:
		apply_loss(c, &res, NULL, now);
		break;
	case KONCE_RECOVERY_TIMER_PROBE:
		c->probes_due = 2;
		break;
	default:
		break;
	}
	if ((c->wanted || !konce_msgq_empty(&c->q)) && now >= keepalive_at(c))
		c->ping_due = true;
	konce_reasm_expire(&c->ra, now, c->cfg.reasm_idle_us);
	return true;
}

uint64_t konce_conn_next_timer(const konce_conn *c, uint64_t now)
{
	uint64_t t = konce_recovery_timer(&c->rec);
	uint64_t a = konce_recvtrack_ack_time(&c->rt);
	if (a < t)
		t = a;
	if ((c->probes_due || c->ping_due || c->nrefuse) && konce_recovery_can_send(&c->rec, c->largest_pn_sent + 1))
		return now;
	if (!konce_msgq_empty(&c->q)) {
		uint64_t d = c->progress_at + c->cfg.msg_timeout_us;
		if (d < t)
			t = d;
	}
	if ((c->wanted || !konce_msgq_empty(&c->q)) && !c->ping_due) {
		uint64_t k = keepalive_at(c);
		if (k < t)
			t = k;
	}
	if (konce_msgq_has_data(&c->q) && konce_cc_can_send(&c->cc, c->cc.mss) &&
	    (c->channel || c->rec.eliciting_in_flight == 0) && konce_recovery_can_send(&c->rec, c->largest_pn_sent + 1)) {
		konce_pacer p = c->pacer;
		uint64_t s = konce_pacer_next_time(&p, konce_conn_pace_quantum(c), now);
		if (s < t)
			t = s;
	}
	return t < now ? now : t;
}

int konce_conn_progress(const konce_conn *c, uint64_t api_id, uint64_t *acked, uint64_t *total)
{
	const konce_smsg *m = konce_msgq_by_api(&c->q, api_id);
	if (!m)
		return -ENOENT;
	*acked = konce_msgq_acked_bytes(m);
	*total = m->len;
	return 0;
}

uint64_t konce_conn_eta(const konce_conn *c, uint64_t api_id, uint64_t now)
{
	const konce_smsg *m = konce_msgq_by_api(&c->q, api_id);
	if (!m)
		return UINT64_MAX;
	/* everything queued ahead of it and its own unacked bytes at the pacing rate, then a probe
	 * timeout for the last ack */
	uint64_t rate = konce_cc_pacing_rate(&c->cc, c->rec.rtt.smoothed);
	uint64_t bytes = c->q.unacked_bytes;
	uint64_t send = rate ? bytes * 1000000 / rate : 0;
	return now + send + konce_rtt_pto(&c->rec.rtt);
}
