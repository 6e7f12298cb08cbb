/* test_pmtud.c - the PLPMTUD state machine (node/transport/pmtud.h) against a modelled path: a
 * path that carries datagrams up to `limit` bytes and silently drops larger ones (no ICMP), with
 * acks coming back an RTT later.  Vectors: growth to the upper bound in one probe (the eager
 * probe of max, before BASE), a path below its estimate (the eager probe lost once, then BASE and
 * the search as RFC 8899 has it), a black hole at 1,400 bytes (settles at exactly 1,400), a path change (back to BASE and a new search), a black
 * hole that appears after the search (detected from large-packet losses), the ERROR state, the
 * raise timer, and what a shrunk channel keeps (konce_pmtud_keep, resume, kept_reset).  Then the rule that makes probes safe to lose: two konce_conns back to back,
 * the sender's probes numbered through konce_conn_on_probe_sent() and dropped, and its
 * reliability layer declares nothing lost and retransmits nothing, while one dropped data packet
 * is seen (the control).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/wire.h"
#include "node/transport/conn.h"
#include "node/transport/frame.h"
#include "node/transport/pmtud.h"
#include "tests/unit/testenv.h"

enum { RTT_US = 20000, TIMEOUT_US = 3 * RTT_US };

typedef struct path {
	size_t limit;      /* largest datagram that gets through */
	uint64_t now, pn;
	unsigned sent, lost;
	size_t largest_probe;
} path;

static konce_ack ack_of(uint64_t pn)
{
	konce_ack a;
	memset(&a, 0, sizeof a);
	a.nranges = 1;
	a.ranges[0].lo = a.ranges[0].hi = pn;
	return a;
}

/* Runs the machine until it stops probing (or `steps` probes went), as a sender would. */
static void run(konce_pmtud *p, path *w, unsigned steps)
{
	for (unsigned i = 0; i < steps; i++) {
		size_t size = konce_pmtud_probe_due(p, w->now);
		if (size == 0) {
			uint64_t t = konce_pmtud_next_timer(p, w->now);
			if (t == UINT64_MAX || p->state == KONCE_PMTUD_SEARCH_COMPLETE || p->state == KONCE_PMTUD_ERROR)
				return;
			w->now = t;
			konce_pmtud_tick(p, w->now);
			continue;
		}
		assert_true(size >= KONCE_PMTU_BASE && size <= p->max);
		uint64_t pn = ++w->pn;
		konce_pmtud_probe_sent(p, size, pn, w->now, TIMEOUT_US);
		w->sent++;
		if (size > w->largest_probe)
			w->largest_probe = size;
		assert_int_equal(konce_pmtud_probe_due(p, w->now), 0); /* one outstanding at a time */
		if (size <= w->limit) {
			w->now += RTT_US;
			konce_ack a = ack_of(pn);
			konce_pmtud_on_ack(p, &a, w->now);
		} else {
			w->lost++;
			uint64_t t = konce_pmtud_next_timer(p, w->now);
			assert_true(t >= w->now + TIMEOUT_US);
			assert_false(konce_pmtud_tick(p, t - 1) && p->probed); /* not before its time */
			w->now = t;
			konce_pmtud_tick(p, w->now);
		}
		/* invariant 1 */
		assert_true(p->plpmtu >= KONCE_PMTU_BASE && p->plpmtu <= p->max && p->max <= KONCE_PMTU_MAX);
		assert_true(p->plpmtu <= w->limit || w->limit < KONCE_PMTU_BASE);
	}
	fail_msg("the search did not end in %u probes", steps);
}

/* A fresh search at 0 with the interface's estimate mtu, over a path that carries up to limit
 * bytes, run for at most steps probes and timers. */
static void search(konce_pmtud *p, path *w, size_t limit, size_t mtu, unsigned steps)
{
	konce_pmtud_init(p);
	*w = (path){.limit = limit};
	konce_pmtud_start(p, mtu, 0);
	run(p, w, steps);
}

static void test_disabled(void **state)
{
	(void)state;
	konce_pmtud p;
	konce_pmtud_init(&p);
	assert_int_equal(p.state, KONCE_PMTUD_DISABLED);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	assert_int_equal(konce_pmtud_probe_due(&p, 0), 0);
	assert_int_equal(konce_pmtud_next_timer(&p, 5), UINT64_MAX);
	/* a reset before the start keeps it disabled */
	konce_pmtud_reset(&p, 1472, 0);
	assert_int_equal(p.state, KONCE_PMTUD_DISABLED);
}

static void test_grow_1500(void **state)
{
	(void)state;
	konce_pmtud p;
	path w = {.limit = 1500 - KONCE_PMTU_IPV4_UDP, .now = 1000};
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 1500 - KONCE_PMTU_IPV4_UDP, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), 1472); /* eager: the estimate first */
	run(&p, &w, 40);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, 1472);
	assert_int_equal(w.sent, 1); /* its ack confirms BASE too */
	assert_int_equal(w.lost, 0);
	assert_int_equal(w.now, 1000 + RTT_US); /* complete one round trip after the start */
	/* IPv6 on the same link */
	search(&p, &w, 1500 - KONCE_PMTU_IPV6_UDP, 1500 - KONCE_PMTU_IPV6_UDP, 40);
	assert_int_equal(p.plpmtu, 1452);
	/* the upper bound is clamped to MAX_PLPMTU and raised to BASE */
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 65535, 0);
	assert_int_equal(p.max, KONCE_PMTU_MAX);
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 500, 0);
	assert_int_equal(p.max, KONCE_PMTU_BASE);
	w = (path){.limit = 1500};
	run(&p, &w, 10);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE); /* nothing to search */
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
}

static void test_blackhole_1400(void **state)
{
	(void)state;
	konce_pmtud p;
	path w;
	konce_pmtud_init(&p);
	w = (path){.limit = 1400}; /* the interface says 1500; the path drops above 1400 */
	konce_pmtud_start(&p, 1472, 0);
	/* the eager probe of max, lost once, is not retried: BASE confirms, then the search */
	assert_int_equal(konce_pmtud_probe_due(&p, 0), 1472);
	konce_pmtud_probe_sent(&p, 1472, ++w.pn, 0, TIMEOUT_US);
	w.sent++, w.lost++;
	w.now = konce_pmtud_next_timer(&p, 0);
	assert_true(konce_pmtud_tick(&p, w.now));
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), KONCE_PMTU_BASE);
	run(&p, &w, 200);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, 1400); /* exactly the largest size that works */
	assert_int_equal(w.largest_probe, 1472);
	/* each failed size of the search: MAX_PROBES losses, besides the eager probe's one */
	assert_int_equal((w.lost - 1) % KONCE_PMTU_MAX_PROBES, 0);
	assert_int_equal(p.probes_lost, w.lost);
	/* a jumbo interface in front of a 1,280-byte tunnel, IPv6 */
	search(&p, &w, 1280 - KONCE_PMTU_IPV6_UDP, 9000 - KONCE_PMTU_IPV6_UDP, 400);
	assert_int_equal(p.plpmtu, 1232);
	/* a path that carries nothing above BASE */
	search(&p, &w, KONCE_PMTU_BASE, 1472, 200);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
}

static void test_path_change(void **state)
{
	(void)state;
	konce_pmtud p;
	path w;
	search(&p, &w, 1472, 1472, 40);
	assert_int_equal(p.plpmtu, 1472);
	/* the peer moves behind a relay: the new path carries 1,200 only */
	konce_pmtud_reset(&p, 1472, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	w.limit = KONCE_PMTU_BASE;
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	/* and back to a direct 9000-byte path, whose estimate the I/O layer passes in */
	konce_pmtud_reset(&p, 8972, w.now);
	w.limit = 8972;
	run(&p, &w, 40);
	assert_int_equal(p.plpmtu, 8972);
	/* a probe outstanding across the reset is forgotten: its ack grows nothing */
	konce_pmtud_reset(&p, 8972, w.now);
	size_t size = konce_pmtud_probe_due(&p, w.now);
	assert_int_equal(size, 8972); /* a new path: eager again */
	konce_pmtud_probe_sent(&p, size, 1000, w.now, TIMEOUT_US);
	konce_pmtud_reset(&p, 1472, w.now);
	konce_ack a = ack_of(1000);
	assert_false(konce_pmtud_on_ack(&p, &a, w.now));
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
}

static void test_blackhole_after(void **state)
{
	(void)state;
	konce_pmtud p;
	path w;
	search(&p, &w, 1472, 1472, 40);
	assert_int_equal(p.plpmtu, 1472);
	/* losses of large packets with large ones acked in between: congestion, not a black hole */
	for (int i = 0; i < 10; i++) {
		assert_false(konce_pmtud_on_loss(&p, 2, 0, w.now));
		assert_false(konce_pmtud_on_loss(&p, 0, 1, w.now));
	}
	assert_false(konce_pmtud_on_loss(&p, 5, 3, w.now)); /* acked in the same batch */
	assert_int_equal(p.plpmtu, 1472);
	/* a route change drops everything above 1,300, no ICMP: small packets still pass */
	w.limit = 1300;
	assert_false(konce_pmtud_on_loss(&p, 1, 0, w.now));
	assert_false(konce_pmtud_on_loss(&p, 0, 0, w.now)); /* only small ones settled */
	assert_true(konce_pmtud_on_loss(&p, KONCE_PMTU_BLACKHOLE_LOSSES - 1, 0, w.now));
	/* suspected: data at BASE at once, and the PLPMTU is probed */
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), 1472);
	assert_false(konce_pmtud_on_loss(&p, 10, 0, w.now)); /* already suspected */
	/* the probe is lost MAX_PROBES times: a black hole, and the search finds the new size */
	unsigned lost = w.lost;
	run(&p, &w, 200);
	assert_int_equal(p.blackholes, 1);
	assert_true(w.lost - lost >= KONCE_PMTU_MAX_PROBES);
	assert_int_equal(p.plpmtu, 1300);
	/* a burst of congestion loss looks the same, but the probe of the PLPMTU is acked */
	w.limit = 1300;
	assert_true(konce_pmtud_on_loss(&p, KONCE_PMTU_BLACKHOLE_LOSSES, 0, w.now));
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	run(&p, &w, 10);
	assert_int_equal(p.plpmtu, 1300); /* restored by one probe */
	assert_int_equal(p.blackholes, 1);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	/* at BASE nothing is large: no black hole to detect */
	konce_pmtud_reset(&p, 1472, w.now);
	assert_false(konce_pmtud_on_loss(&p, 10, 0, w.now));
}

static void test_error_and_raise(void **state)
{
	(void)state;
	konce_pmtud p;
	path w;
	search(&p, &w, 0, 1472, 10); /* nothing gets through */
	assert_int_equal(p.state, KONCE_PMTUD_ERROR);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE); /* the floor stays */
	assert_int_equal(w.lost, 1 + KONCE_PMTU_MAX_PROBES); /* the eager probe, then BASE's */
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), 0);
	uint64_t t = konce_pmtud_next_timer(&p, w.now);
	assert_int_equal(t, w.now + (uint64_t)KONCE_PMTU_ERROR_RETRY_MS * 1000);
	w.now = t;
	w.limit = 1400; /* the path came back */
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), KONCE_PMTU_BASE);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, 1400);
	/* SEARCH_COMPLETE below max: the raise timer searches again, and finds a grown path */
	t = konce_pmtud_next_timer(&p, w.now);
	assert_int_equal(t, w.now + (uint64_t)KONCE_PMTU_RAISE_MS * 1000);
	assert_int_equal(konce_pmtud_probe_due(&p, t - 1), 0);
	w.now = t;
	w.limit = 1472;
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, 1472);
	/* at max, nothing more to raise */
	assert_int_equal(konce_pmtud_next_timer(&p, w.now), UINT64_MAX);
}

/* A channel's search ends in 16 bytes (keep) and the next one resumes from them: at the kept size,
 * complete, with the raise timer armed as after a search and no probe due; the counts add up.
 * Nothing is kept from a search that did not complete or suspects a black hole, under another
 * bound, or after a path change (kept_reset). */
static void test_keep_resume(void **state)
{
	(void)state;
	konce_pmtud p;
	path w;
	konce_pmtud_kept k = {0};
	assert_int_equal(konce_pmtud_kept_state(&k), KONCE_PMTUD_DISABLED);
	assert_false(konce_pmtud_kept_reset(&k, 1472)); /* no search ran: nothing to forget */
	search(&p, &w, 1400, 1472, 200);
	assert_int_equal(p.plpmtu, 1400);
	konce_pmtud_keep(&p, &k);
	assert_int_equal(k.plpmtu, 1400);
	assert_int_equal(k.max, 1472);
	assert_int_equal(k.probes_sent, w.sent);
	assert_int_equal(k.probes_lost, w.lost);
	assert_int_equal(konce_pmtud_kept_state(&k), KONCE_PMTUD_SEARCH_COMPLETE);
	/* the next channel, later */
	uint64_t now = w.now + 5000000;
	konce_pmtud_init(&p);
	konce_pmtud_resume(&p, &k, 1472, now);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, 1400);
	assert_int_equal(p.max, 1472);
	assert_int_equal(p.probes_sent, 0); /* this search's; k has the earlier ones */
	assert_int_equal(konce_pmtud_probe_due(&p, now), 0);
	assert_int_equal(konce_pmtud_next_timer(&p, now), now + (uint64_t)KONCE_PMTU_RAISE_MS * 1000);
	/* its raise search goes straight to halving (the bound failed before) and finds a grown path */
	w = (path){.limit = 1450, .now = now + (uint64_t)KONCE_PMTU_RAISE_MS * 1000};
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, 1450);
	assert_true(w.largest_probe < 1472);
	konce_pmtud_keep(&p, &k);
	assert_int_equal(k.plpmtu, 1450);
	assert_true(k.probes_sent > w.sent); /* summed over both searches */
	/* resuming does nothing to a search that runs */
	konce_pmtud_kept other = {.plpmtu = 1300, .max = 1472};
	konce_pmtud_resume(&p, &other, 1472, w.now);
	assert_int_equal(p.plpmtu, 1450);
	/* another bound: the route may have changed; a new search from BASE */
	konce_pmtud_init(&p);
	konce_pmtud_resume(&p, &k, 8972, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	assert_int_equal(p.max, 8972);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), 8972); /* a new bound: eager */
	/* a suspected black hole keeps no size, nor does ERROR (both resume from BASE) */
	search(&p, &w, 1472, 1472, 40);
	assert_true(konce_pmtud_on_loss(&p, KONCE_PMTU_BLACKHOLE_LOSSES, 0, w.now));
	konce_pmtud_keep(&p, &k);
	assert_int_equal(k.plpmtu, 0);
	assert_int_equal(konce_pmtud_kept_state(&k), KONCE_PMTUD_BASE);
	konce_pmtud_init(&p);
	konce_pmtud_resume(&p, &k, 1472, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), KONCE_PMTU_BASE); /* not eager: BASE first */
	search(&p, &w, 0, 1472, 10);
	assert_int_equal(p.state, KONCE_PMTUD_ERROR);
	konce_pmtud_keep(&p, &k);
	assert_int_equal(k.plpmtu, 0);
	/* a path change while shrunk forgets the size, and takes the new bound */
	search(&p, &w, 1400, 1472, 200);
	konce_pmtud_keep(&p, &k);
	assert_int_equal(k.plpmtu, 1400);
	assert_true(konce_pmtud_kept_reset(&k, KONCE_PMTU_BASE));
	assert_int_equal(k.plpmtu, 0);
	assert_int_equal(k.max, KONCE_PMTU_BASE);
	konce_pmtud_init(&p);
	konce_pmtud_resume(&p, &k, KONCE_PMTU_BASE, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
}

/* ---- probes and the reliability layer ------------------------------------------------------- */

typedef struct side {
	konce_conn *c;
	uint64_t pn;
	unsigned delivered, messages;
} side;

static void cb_delivered(void *ctx, const konce_smsg *m)
{
	(void)m;
	((side *)ctx)->delivered++;
}
static void cb_refused(void *ctx, const konce_smsg *m, uint8_t why)
{
	(void)ctx, (void)m, (void)why;
	fail_msg("refused");
}
static void cb_message(void *ctx, konce_reasm_msg *m)
{
	side *s = ctx;
	s->messages++;
	konce_conn_release(s->c, m);
}

static void make(side *s, test_env *te)
{
	konce_conn_cfg cfg = {.budget = konce_reasm_charge(1 << 20), .max_message = 1 << 20, .ring = 256,
			      .keepalive_us = 25000000, .msg_timeout_us = 30000000, .reasm_idle_us = 180000000,
			      .overhead = KONCE_DATA_OVERHEAD_MAX};
	konce_conn_ops ops = {cb_delivered, cb_refused, cb_message, s};
	s->pn = 1;
	assert_int_equal(konce_conn_new(&s->c, &te->env, &cfg, &ops, 0), 0);
}

/* Everything from has due goes to `to` 10 ms later, at 1,472-byte datagrams.  Before each data
 * packet of from, if probe_every says so, a probe takes a packet number and is lost (or arrives,
 * if probes_arrive).  A data packet whose number drop_pn names is lost. */
static void deliver(side *from, side *to, uint64_t now, unsigned probe_every, bool probes_arrive, uint64_t drop_pn)
{
	uint8_t p[1472];
	konce_sent_packet sp;
	size_t w;
	unsigned k = 0;
	for (;;) {
		if (probe_every && ++k % probe_every == 0) {
			konce_conn_on_probe_sent(from->c, from->pn);
			if (probes_arrive) {
				uint8_t probe[1400] = {KONCE_FRAME_PING}; /* PING and PADDING */
				konce_conn_on_packet(to->c, from->pn, probe, sizeof probe, now + 10000);
			}
			from->pn++;
		}
		w = konce_conn_build(from->c, p, sizeof p - KONCE_DATA_OVERHEAD_MAX, from->pn, now, &sp);
		if (!w)
			break;
		konce_conn_on_sent(from->c, &sp, w + KONCE_DATA_OVERHEAD_MAX, now);
		if (from->pn != drop_pn)
			konce_conn_on_packet(to->c, from->pn, p, w, now + 10000);
		from->pn++;
	}
}

static void transfer(unsigned probe_every, bool probes_arrive, uint64_t drop_pn, side *a, side *b, test_env *te)
{
	static uint8_t msg[200000];
	make(a, te);
	make(b, te);
	assert_int_equal(konce_conn_send(a->c, msg, sizeof msg, 0, 1, 0), 0);
	for (uint64_t now = 0; now < 20000000 && !a->delivered; now += 10000) {
		konce_conn_tick(a->c, now);
		konce_conn_tick(b->c, now);
		deliver(a, b, now, probe_every, probes_arrive, drop_pn);
		deliver(b, a, now, 0, false, 0);
	}
	assert_int_equal(a->delivered, 1);
	assert_int_equal(b->messages, 1);
}

static void test_probe_loss_is_not_congestion(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 1);
	side a = {0}, b = {0};
	/* every fourth packet number is a probe, and every probe is lost */
	transfer(4, false, 0, &a, &b, &te);
	assert_int_equal(a.c->rec.nlost_total, 0);  /* no data packet declared lost */
	assert_int_equal(a.c->retransmitted, 0);
	assert_int_equal(a.c->big_lost, 0);        /* nothing for black-hole detection either */
	assert_true(a.c->big_acked > 0);           /* the data packets were large, and acked */
	assert_int_equal(a.c->rec.bytes_in_flight, a.c->cc.bytes_in_flight);
	konce_conn_free(a.c);
	konce_conn_free(b.c);
	/* the control: one data packet lost is declared lost and retransmitted */
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	transfer(0, false, 20, &a, &b, &te);
	assert_true(a.c->rec.nlost_total >= 1);
	assert_true(a.c->retransmitted >= 1);
	assert_true(a.c->big_lost >= 1);
	konce_conn_free(a.c);
	konce_conn_free(b.c);
	/* probes that arrive are acknowledged like any packet, and their acks are not refused as
	 * acks of packets never sent */
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	transfer(4, true, 0, &a, &b, &te);
	assert_true(a.c->credit_largest >= a.pn - 8);
	assert_int_equal(a.c->rec.nlost_total, 0);
	konce_conn_free(a.c);
	konce_conn_free(b.c);
	assert_int_equal(te.allocs, te.frees);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_grow_1500),
		cmocka_unit_test(test_blackhole_1400),
		cmocka_unit_test(test_path_change),
		cmocka_unit_test(test_blackhole_after),
		cmocka_unit_test(test_error_and_raise),
		cmocka_unit_test(test_keep_resume),
		cmocka_unit_test(test_probe_loss_is_not_congestion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
