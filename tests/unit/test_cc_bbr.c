/* test_cc_bbr.c - the model-based controller (cc_bbr.c) driven round by round with the delivery-
 * rate samples recovery.h would give: STARTUP ends when the bandwidth stops growing, the window
 * and pacing rate follow bw x min_rtt, random loss under the threshold changes nothing, a lossy
 * probe bounds inflight_hi (never below 1.25 BDP), PROBE_RTT comes after 10 s, and persistent
 * congestion starts over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/cc.h"

#define MSS 1200
#define MS 1000ull
#define RTT (40 * MS)

typedef struct path {
	uint64_t t, delivered;
	uint64_t bw;     /* what the samples say, bytes/s */
	uint64_t rtt;
	uint64_t jitter; /* every other ack's RTT sample is this much longer (its delivery is not) */
} path;

/* One round trip: the window goes out (at most what the pacing rate allows in an RTT, plus one),
 * then every packet is acked a round trip later -- except `lost` of them, spread out, which are
 * declared lost at the same time. */
static unsigned round_trip(konce_cc *cc, path *p, unsigned lost)
{
	uint64_t n = konce_cc_cwnd(cc) / MSS, by_rate = konce_cc_pacing_rate(cc, p->rtt) * p->rtt / 1000000 / MSS + 1;
	if (n > by_rate)
		n = by_rate;
	uint64_t prior = p->delivered, sent_at = p->t;
	for (uint64_t i = 0; i < n; i++)
		konce_cc_on_sent(cc, MSS, sent_at);
	p->t += p->rtt;
	unsigned every = lost ? (unsigned)(n / lost) : 0;
	for (uint64_t i = 0; i < n; i++) {
		if (every && lost && i % every == every / 2) {
			konce_cc_on_loss(cc, MSS, sent_at, p->t);
			lost--;
			continue;
		}
		p->delivered += MSS;
		konce_cc_ack a = {.bytes = MSS, .largest_sent = sent_at, .rtt = p->rtt + (i % 2 ? p->jitter : 0),
				  .min_rtt = RTT, .delivered = p->delivered, .rate = p->bw, .prior_delivered = prior};
		konce_cc_on_ack(cc, &a, p->t);
	}
	return (unsigned)n;
}

static uint64_t bdp(uint64_t bw) { return bw * RTT / 1000000; }

/* A round trip whose losses come from a full queue: its RTT samples stand 60% above min_rtt. */
static unsigned queued_round_trip(konce_cc *cc, path *p, unsigned lost)
{
	p->rtt = RTT * 16 / 10;
	unsigned n = round_trip(cc, p, lost);
	p->rtt = RTT;
	return n;
}

static void start(konce_cc *cc, path *p, uint64_t bw)
{
	*p = (path){.t = 1, .bw = bw, .rtt = RTT};
	konce_cc_init(cc, &konce_cc_bbr, MSS, p->t);
	assert_int_equal(konce_cc_cwnd(cc), 10 * MSS);
	assert_int_equal(cc->u.bbr.mode, KONCE_BBR_STARTUP);
}

/* Started on a 20 Mbit/s path (BDP 100 kB) and past STARTUP: 30 clean round trips. */
static void steady(konce_cc *cc, path *p)
{
	start(cc, p, 2500000);
	for (int i = 0; i < 30; i++)
		round_trip(cc, p, 0);
}

/* Lossy round trips from a full queue (5 losses each) until one falls in an UP phase, the only
 * phase a lossy round bounds, and sets inflight_hi (at most 40). */
static void lossy_probe(konce_cc *cc, path *p)
{
	for (int i = 0; i < 40 && cc->u.bbr.inflight_hi == UINT64_MAX; i++)
		queued_round_trip(cc, p, 5);
}

/* PROBE_BW's window on the 20 Mbit/s path: 2 BDP + 3 mss, and the ack aggregation these acks (a
 * window's at one instant) show, at most 20 ms at bw. */
static void assert_probe_bw_window(const konce_cc *cc)
{
	assert_true(konce_cc_cwnd(cc) > 2 * bdp(2500000) + 3 * MSS);
	assert_true(konce_cc_cwnd(cc) <= 2 * bdp(2500000) + 3 * MSS + 2500000 / 50);
}

static void test_startup_to_probe_bw(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	start(&cc, &p, 2500000); /* 20 Mbit/s: BDP 100 kB */
	/* the window grows while the bandwidth estimate does; three flat rounds end STARTUP */
	int rounds = 0;
	while (cc.u.bbr.mode == KONCE_BBR_STARTUP && rounds < 50) {
		round_trip(&cc, &p, 0);
		rounds++;
	}
	assert_true(rounds >= 3 && rounds < 10);
	assert_true(cc.u.bbr.filled_pipe);
	assert_int_equal(cc.u.bbr.bw, 2500000);
	assert_int_equal(cc.u.bbr.min_rtt, RTT);
	for (int i = 0; i < 20; i++)
		round_trip(&cc, &p, 0);
	assert_int_equal(cc.u.bbr.mode, KONCE_BBR_PROBE_BW);
	assert_probe_bw_window(&cc);
	/* pacing gain x bw, 1% under */
	uint64_t gain[] = {125, 75, 100};
	unsigned g = cc.u.bbr.cycle < 2 ? cc.u.bbr.cycle : 2;
	assert_int_equal(konce_cc_pacing_rate(&cc, RTT), 2500000 * gain[g] / 100 * 99 / 100);
	assert_int_equal(cc.episodes, 0);
}

/* A session that carried only a few short messages (application-limited samples of a few kB/s)
 * and then starts a bulk transfer: in STARTUP the pacing rate is never below the initial window
 * over min_rtt times the STARTUP gain, so the first round sends the initial window within an RTT;
 * STARTUP then ends at the path's bandwidth as from a cold start. */
static void test_startup_after_short_messages(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	start(&cc, &p, 2500000);
	for (int i = 0; i < 3; i++) { /* one 100-byte message per round trip */
		uint64_t prior = p.delivered;
		konce_cc_on_sent(&cc, 100, p.t);
		p.t += RTT;
		p.delivered += 100;
		konce_cc_ack a = {.bytes = 100, .largest_sent = p.t - RTT, .rtt = RTT, .min_rtt = RTT, .delivered = p.delivered,
				  .rate = 100 * 1000000 / RTT, .prior_delivered = prior, .app_limited = true};
		konce_cc_on_ack(&cc, &a, p.t);
	}
	assert_int_equal(cc.u.bbr.bw, 100 * 1000000 / RTT);
	assert_int_equal(cc.u.bbr.mode, KONCE_BBR_STARTUP);
	uint64_t iw = konce_cc_initial_window(MSS);
	assert_true(konce_cc_pacing_rate(&cc, RTT) >= iw * 1000000 / RTT * 277 / 100 * 99 / 100);
	/* the first bulk round sends the whole window, not what 2.77 x 2.5 kB/s allows */
	assert_true(round_trip(&cc, &p, 0) >= iw / MSS);
	int rounds = 1;
	while (cc.u.bbr.mode == KONCE_BBR_STARTUP && rounds < 50) {
		round_trip(&cc, &p, 0);
		rounds++;
	}
	assert_true(rounds >= 3 && rounds < 10);
	assert_int_equal(cc.u.bbr.bw, 2500000);
	/* past STARTUP the estimate alone sets the rate */
	for (int i = 0; i < 20; i++)
		round_trip(&cc, &p, 0);
	uint64_t gain[] = {125, 75, 100};
	unsigned g = cc.u.bbr.cycle < 2 ? cc.u.bbr.cycle : 2;
	assert_int_equal(konce_cc_pacing_rate(&cc, RTT), 2500000 * gain[g] / 100 * 99 / 100);
}

/* 1% random loss: a recovery period begins now and then, but neither the window nor the pacing
 * rate moves, and inflight_hi stays unset. */
static void test_random_loss_below_threshold(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	uint64_t w = konce_cc_cwnd(&cc);
	for (int i = 0; i < 100; i++) {
		unsigned n = round_trip(&cc, &p, 1); /* 1 of ~90: 1.1% */
		assert_true(n >= 80);
		assert_int_equal(konce_cc_cwnd(&cc), w);
		assert_int_equal(cc.u.bbr.bw, 2500000);
	}
	assert_int_equal(cc.u.bbr.inflight_hi, UINT64_MAX);
	assert_int_equal(cc.u.bbr.lossy_rounds, 0);
	assert_true(cc.episodes >= 50); /* one per round trip at most, not one per loss */
	assert_true(cc.episodes <= 100);
}

/* 5% loss while probing: inflight_hi comes down to 0.7 of the round's peak, never below
 * 1.25 BDP, and bounds the window; the bandwidth estimate is untouched. */
static void test_lossy_probe_bounds_inflight(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	lossy_probe(&cc, &p);
	assert_true(cc.u.bbr.lossy_rounds > 0);
	assert_true(cc.u.bbr.inflight_hi != UINT64_MAX);
	assert_true(cc.u.bbr.inflight_hi >= bdp(2500000) * 125 / 100);
	assert_true(konce_cc_cwnd(&cc) <= cc.u.bbr.inflight_hi);
	assert_true(konce_cc_cwnd(&cc) < 2 * bdp(2500000) + 3 * MSS);
	assert_int_equal(cc.u.bbr.bw, 2500000);
	/* loss stops (the queue stays): probes that fill the bound raise it again */
	uint64_t hi = cc.u.bbr.inflight_hi;
	for (int i = 0; i < 60; i++)
		queued_round_trip(&cc, &p, 0);
	assert_true(cc.u.bbr.inflight_hi > hi);
}

/* A lossy probe's cut whose losses turn out to be reordering (recognised after its round ended)
 * is undone; once the round after it has ended too, the cut stands. */
static void test_spurious_loss_undoes_cut(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	lossy_probe(&cc, &p);
	assert_true(cc.u.bbr.inflight_hi != UINT64_MAX);
	/* the cut round's 5 losses were late packets: without them it was not lossy */
	konce_cc_on_spurious(&cc, 5 * MSS, p.t);
	assert_int_equal(cc.u.bbr.inflight_hi, UINT64_MAX);
	assert_int_equal(cc.u.bbr.undone_cuts, 1);
	/* the next cut's losses are real: two rounds later, spurious ones no longer undo it */
	lossy_probe(&cc, &p);
	assert_true(cc.u.bbr.inflight_hi != UINT64_MAX);
	uint64_t hi = cc.u.bbr.inflight_hi;
	round_trip(&cc, &p, 0);
	round_trip(&cc, &p, 0);
	konce_cc_on_spurious(&cc, 5 * MSS, p.t);
	assert_int_equal(cc.u.bbr.undone_cuts, 1);
	assert_true(cc.u.bbr.inflight_hi >= hi);
	assert_true(cc.u.bbr.inflight_hi != UINT64_MAX);
}

/* 5% random loss with no queue behind it (every RTT sample at min_rtt, as on a lossy radio link
 * or netem): no round counts as lossy, inflight_hi stays unset and the estimate holds.  Counting
 * such rounds made every probe end and ratcheted the estimate down to ~10% of a netsim path at 3%
 * loss (docs/BENCH.md). */
static void test_random_loss_without_queue(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	uint64_t w = konce_cc_cwnd(&cc);
	for (int i = 0; i < 100; i++)
		round_trip(&cc, &p, 5);
	assert_int_equal(cc.u.bbr.lossy_rounds, 0);
	assert_int_equal(cc.u.bbr.inflight_hi, UINT64_MAX);
	assert_int_equal(cc.u.bbr.bw, 2500000);
	assert_int_equal(konce_cc_cwnd(&cc), w);
}

/* A standing queue that this flow's pacing does not drain (every RTT sample of the last 10 rounds at
 * least 1.5 min_rtt: another flow's queue) lowers the window's gain from 2 to 1.5 after 3 such
 * rounds.  Jitter, whose smallest samples come back near min_rtt within 10 rounds, does not; and
 * the gain of 2 returns as soon as a round's samples reach min_rtt again. */
static void test_standing_queue_lowers_window(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	assert_probe_bw_window(&cc);
	uint64_t w = konce_cc_cwnd(&cc);
	p.rtt = 2 * RTT;
	for (int i = 0; i < 9; i++)
		round_trip(&cc, &p, 0);
	assert_int_equal(cc.u.bbr.queue_rounds, 0); /* the last 10 rounds still hold one at min_rtt */
	assert_probe_bw_window(&cc);
	for (int i = 0; i < 6; i++)
		round_trip(&cc, &p, 0);
	assert_true(cc.u.bbr.queue_rounds >= 3);
	assert_true(konce_cc_cwnd(&cc) <= 3 * bdp(2500000) / 2 + 3 * MSS + 2500000 / 50);
	assert_int_equal(konce_cc_cwnd(&cc), w - bdp(2500000) / 2);
	assert_int_equal(cc.u.bbr.bw, 2500000); /* the model is unchanged: only the window's gain */
	/* jitter: most rounds slow, one in five at min_rtt */
	for (int i = 0; i < 30; i++) {
		p.rtt = i % 5 == 4 ? RTT : 2 * RTT;
		round_trip(&cc, &p, 0);
		if (i >= 4)
			assert_int_equal(cc.u.bbr.queue_rounds, 0);
	}
	p.rtt = RTT;
	round_trip(&cc, &p, 0);
	assert_probe_bw_window(&cc);
	/* jitter within each round: no sample at min_rtt for 10 rounds and more, but the samples of a
	 * round spread wider than their floor stands above min_rtt */
	p.rtt = 3 * RTT / 2;
	p.jitter = RTT;
	for (int i = 0; i < 30; i++)
		round_trip(&cc, &p, 0);
	assert_int_equal(cc.u.bbr.queue_rounds, 0);
	assert_probe_bw_window(&cc);
	p.jitter = 0; /* the same floor, steady: a queue */
	for (int i = 0; i < 13; i++)
		round_trip(&cc, &p, 0);
	assert_int_equal(cc.u.bbr.queue_rounds, 3);
	assert_int_equal(cc.episodes, 0);
}

/* A flow started into another flow's standing queue: its own acks never show the path's empty
 * RTT, but the session saw it before the flow began (konce_cc_seed_min_rtt: the handshake's).
 * That sample is the standing queue's reference, so the window's gain falls to 1.5; the model keeps
 * the flow's own min_rtt, so the BDP is not cut to what an empty path would need (beside a flow
 * that keeps a deep queue, that would starve this one).  A sample 10 s old or more is ignored. */
static void test_path_rtt_sets_queue_reference(void **state)
{
	(void)state;
	for (int seed = 0; seed < 3; seed++) { /* none, fresh, 10 s old */
		konce_cc cc;
		path p = {.t = 10000 * MS + 1, .bw = 2500000, .rtt = 2 * RTT};
		konce_cc_init(&cc, &konce_cc_bbr, MSS, p.t);
		if (seed == 1)
			konce_cc_seed_min_rtt(&cc, RTT, p.t - 500 * MS, p.t);
		if (seed == 2)
			konce_cc_seed_min_rtt(&cc, RTT, 1, p.t);
		for (int i = 0; i < 40; i++)
			round_trip(&cc, &p, 0);
		assert_int_equal(cc.u.bbr.mode, KONCE_BBR_PROBE_BW);
		assert_int_equal(cc.u.bbr.min_rtt, 2 * RTT); /* the flow's own */
		uint64_t w2 = 2 * 2500000 * 2 * RTT / 1000000 + 3 * MSS;
		if (seed == 1) {
			assert_true(cc.u.bbr.queue_rounds >= 3);
			assert_true(konce_cc_cwnd(&cc) <= 3 * w2 / 4 + 3 * MSS + 2500000 / 50);
		} else {
			assert_int_equal(cc.u.bbr.queue_rounds, 0);
			assert_true(konce_cc_cwnd(&cc) > w2);
		}
	}
	/* a seed above what the flow has seen changes nothing */
	konce_cc cc;
	path p = {.t = 1, .bw = 2500000, .rtt = RTT};
	konce_cc_init(&cc, &konce_cc_bbr, MSS, p.t);
	for (int i = 0; i < 30; i++)
		round_trip(&cc, &p, 0);
	konce_cc_seed_min_rtt(&cc, 3 * RTT / 2, p.t, p.t);
	p.rtt = 3 * RTT / 2;
	for (int i = 0; i < 15; i++)
		round_trip(&cc, &p, 0);
	assert_true(cc.u.bbr.queue_rounds >= 3); /* judged against the flow's own 40 ms */
	assert_int_equal(cc.u.bbr.min_rtt, RTT);
}

/* Lossy rounds in STARTUP end it, with inflight_hi set. */
static void test_startup_loss_exit(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	start(&cc, &p, 2500000);
	round_trip(&cc, &p, 0);
	round_trip(&cc, &p, 0);
	queued_round_trip(&cc, &p, 4); /* 4 of ~40 packets: 10%, from a queue */
	round_trip(&cc, &p, 0);        /* the round ends with this round's first ack */
	assert_true(cc.u.bbr.filled_pipe);
	assert_true(cc.u.bbr.inflight_hi != UINT64_MAX);
	assert_true(cc.u.bbr.mode == KONCE_BBR_DRAIN || cc.u.bbr.mode == KONCE_BBR_PROBE_BW);
}

static unsigned tenth(const konce_cc *cc) { return (unsigned)(konce_cc_cwnd(cc) / MSS / 10); }

/* Random loss while the bandwidth still grows (the samples double each round) does not end
 * STARTUP: only a lossy round that also found no more bandwidth does. */
static void test_startup_loss_while_growing(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	start(&cc, &p, 300000);
	for (int i = 0; i < 5; i++) {
		round_trip(&cc, &p, 0);
		p.bw *= 2;
	}
	for (int i = 0; i < 3; i++) {
		queued_round_trip(&cc, &p, tenth(&cc)); /* about 10% */
		p.bw *= 2;
		assert_int_equal(cc.u.bbr.mode, KONCE_BBR_STARTUP);
	}
	assert_true(cc.u.bbr.lossy_rounds >= 2);
	assert_int_equal(cc.u.bbr.inflight_hi, UINT64_MAX);
	/* the path is full: the samples stop growing, the next lossy round ends STARTUP */
	queued_round_trip(&cc, &p, tenth(&cc));
	queued_round_trip(&cc, &p, tenth(&cc));
	round_trip(&cc, &p, 0);
	assert_true(cc.u.bbr.filled_pipe);
	assert_true(cc.u.bbr.inflight_hi != UINT64_MAX);
}

/* min_rtt not seen again for 10 s: PROBE_RTT caps the window at BDP/2 for 200 ms and a round,
 * then PROBE_BW resumes with the window it had. */
static void test_probe_rtt(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	uint64_t w = konce_cc_cwnd(&cc);
	p.rtt = RTT + 5 * MS; /* a standing queue: the samples never reach min_rtt again */
	int rounds = 0;
	while (cc.u.bbr.mode != KONCE_BBR_PROBE_RTT && rounds < 400) {
		round_trip(&cc, &p, 0);
		rounds++;
	}
	assert_int_equal(cc.u.bbr.mode, KONCE_BBR_PROBE_RTT);
	assert_true(p.t >= 10 * 1000 * MS);
	p.rtt = RTT;
	uint64_t began = p.t;
	while (cc.u.bbr.mode == KONCE_BBR_PROBE_RTT && p.t < began + 2000 * MS) {
		round_trip(&cc, &p, 0);
		if (cc.u.bbr.mode == KONCE_BBR_PROBE_RTT)
			assert_true(konce_cc_cwnd(&cc) <= bdp(cc.u.bbr.bw) / 2 + MSS);
	}
	assert_int_equal(cc.u.bbr.mode, KONCE_BBR_PROBE_BW);
	assert_true(p.t - began >= 200 * MS);
	for (int i = 0; i < 10; i++)
		round_trip(&cc, &p, 0);
	assert_int_equal(konce_cc_cwnd(&cc), w);
}

static void test_persistent_congestion_restarts(void **state)
{
	(void)state;
	konce_cc cc;
	path p;
	steady(&cc, &p);
	konce_cc_on_sent(&cc, 10 * MSS, p.t);
	konce_cc_on_loss(&cc, 10 * MSS, p.t, p.t + 1000 * MS);
	konce_cc_on_persistent_congestion(&cc, p.t + 1000 * MS);
	assert_int_equal(konce_cc_cwnd(&cc), 2 * MSS);
	assert_int_equal(cc.u.bbr.mode, KONCE_BBR_STARTUP);
	assert_int_equal(cc.u.bbr.bw, 0);
	assert_int_equal(cc.persistent, 1);
	p.t += 1000 * MS;
	for (int i = 0; i < 30; i++)
		round_trip(&cc, &p, 0);
	assert_int_equal(cc.u.bbr.bw, 2500000);
	assert_probe_bw_window(&cc);
}

static void test_by_name(void **state)
{
	(void)state;
	assert_ptr_equal(konce_cc_by_name("bbr"), &konce_cc_bbr);
	assert_ptr_equal(konce_cc_by_name("newreno"), &konce_cc_newreno);
	assert_null(konce_cc_by_name("ledbat")); /* the background class is not a choice here */
	assert_ptr_equal(konce_cc_by_name("cubic"), &konce_cc_cubic);
	assert_null(konce_cc_by_name("vegas"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_to_probe_bw),
		cmocka_unit_test(test_startup_after_short_messages),
		cmocka_unit_test(test_random_loss_below_threshold),
		cmocka_unit_test(test_random_loss_without_queue),
		cmocka_unit_test(test_standing_queue_lowers_window),
		cmocka_unit_test(test_path_rtt_sets_queue_reference),
		cmocka_unit_test(test_lossy_probe_bounds_inflight),
		cmocka_unit_test(test_spurious_loss_undoes_cut),
		cmocka_unit_test(test_startup_loss_exit),
		cmocka_unit_test(test_startup_loss_while_growing),
		cmocka_unit_test(test_probe_rtt),
		cmocka_unit_test(test_persistent_congestion_restarts),
		cmocka_unit_test(test_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
