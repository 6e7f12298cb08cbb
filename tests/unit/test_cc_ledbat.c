/* test_cc_ledbat.c - LEDBAT grows while the queueing delay is under target, shrinks above it,
 * tracks the base delay over minutes, survives clock wrap, and halves on loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/cc.h"

#define MSS 1200
#define MS 1000
#define TARGET KONCE_LEDBAT_TARGET_US

/* An ack-clocked flow: a FIFO of packets in flight; each ack arrives rtt after its packet was
 * sent, carrying owd = clock offset + one-way base + q, and the window is refilled at once. */
static struct {
	uint64_t sent[1 << 16];
	size_t head, tail;
	uint64_t now;
} flow;

static void refill(konce_cc *cc)
{
	while (konce_cc_can_send(cc, MSS) && flow.tail - flow.head < (1 << 16)) {
		konce_cc_on_sent(cc, MSS, flow.now);
		flow.sent[flow.tail++ % (1 << 16)] = flow.now;
	}
}

static uint64_t min_rtt = 40 * MS; /* what rtt.h would report: sets LEDBAT++'s gain */
/* The delivery-rate sample the acks carry (recovery.h): 0 none; with rate_follows, the rate the
 * flow's own window makes, cwnd / rtt (another flow holds the queue and takes the rest). */
static uint64_t ack_rate;
static bool rate_follows;

static void run(konce_cc *cc, uint32_t offset, uint64_t q, int nacks)
{
	const uint64_t rtt = 40 * MS + q;
	refill(cc);
	for (int i = 0; i < nacks && flow.head < flow.tail; i++) {
		uint64_t s = flow.sent[flow.head++ % (1 << 16)];
		if (s + rtt > flow.now)
			flow.now = s + rtt;
		uint64_t rate = rate_follows ? konce_cc_cwnd(cc) * 1000000 / rtt : ack_rate;
		konce_cc_ack a = {.bytes = MSS, .largest_sent = s, .rtt = rtt, .min_rtt = min_rtt,
				  .has_owd = true, .owd = offset + (uint32_t)(20 * MS + q), .rate = rate};
		konce_cc_on_ack(cc, &a, flow.now);
		refill(cc);
	}
}

static void start(konce_cc *cc)
{
	memset(&flow, 0, sizeof(flow));
	flow.now = 1;
	min_rtt = 40 * MS;
	ack_rate = 0;
	rate_follows = false;
	konce_cc_init(cc, &konce_cc_ledbat, MSS, flow.now);
	assert_int_equal(konce_cc_cwnd(cc), 2 * MSS);
	assert_int_equal(cc->u.ledbat.target_us, 60 * MS);
	/* these tests measure the steady-state rules; test_periodic_slowdown turns it back on */
	cc->u.ledbat.no_slowdown = true;
	/* and the rules at LEDBAT++'s 60 ms target; test_target_follows_min_rtt the target itself */
	cc->u.ledbat.fixed_target = true;
}

/* The target is a quarter of the minimum RTT, between 5 and 60 ms, so that LEDBAT yields to a
 * model-based flow that queues no more than that (cc_bbr.c). */
static void test_target_follows_min_rtt(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	cc.u.ledbat.fixed_target = false;
	run(&cc, 0, 0, 4);
	assert_int_equal(cc.u.ledbat.target_us, 10 * MS); /* 40 ms / 4 */
	min_rtt = 400 * MS;
	run(&cc, 0, 0, 4);
	assert_int_equal(cc.u.ledbat.target_us, KONCE_LEDBAT_TARGET_US);
	min_rtt = 4 * MS;
	run(&cc, 0, 0, 4);
	assert_int_equal(cc.u.ledbat.target_us, KONCE_LEDBAT_TARGET_MIN_US);
	/* and a 10 ms queue on a 40 ms path is at the target: slow start is over */
	start(&cc);
	cc.u.ledbat.fixed_target = false;
	run(&cc, 0, 0, 50);
	run(&cc, 0, 10 * MS, 5);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_AVOID);
}

static void test_grows_below_target(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	/* no queue: slow start doubles the window each round trip */
	run(&cc, 12345, 0, 200);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_SLOW_START);
	assert_true(konce_cc_cwnd(&cc) > 100 * MSS);
	/* 50 ms of queue > 3/4 target: slow start ends, growth goes on at GAIN x (60 - 50) / 60 mss
	 * per RTT.  min_rtt 40 ms: one-way base ~20 ms, GAIN = 1 / ceil(2 x 60 / 20) = 1/6. */
	run(&cc, 12345, 50 * MS, 10);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_AVOID);
	uint64_t w0 = konce_cc_cwnd(&cc);
	int acks = (int)(w0 / MSS) * 36; /* about 36 round trips */
	run(&cc, 12345, 50 * MS, acks);
	uint64_t grown = konce_cc_cwnd(&cc) - w0;
	/* 36 round trips x 1/6 x (60 - 50) / 60 mss = one mss */
	assert_true(grown >= MSS / 2 && grown <= 2 * MSS);
	assert_int_equal(cc.u.ledbat.last_queuing_delay, 50 * MS);
	/* On a long path (min_rtt 400 ms, base 200 ms > 2 x target) GAIN is 1: six round trips
	 * give one mss. */
	min_rtt = 400 * MS;
	w0 = konce_cc_cwnd(&cc);
	run(&cc, 12345, 50 * MS, (int)(w0 / MSS) * 6);
	grown = konce_cc_cwnd(&cc) - w0;
	assert_true(grown >= MSS / 2 && grown <= 2 * MSS);
}

static void test_holds_at_target_shrinks_above(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	run(&cc, 0, 0, 300);
	run(&cc, 0, 50 * MS, 10); /* leave slow start */
	uint64_t w0 = konce_cc_cwnd(&cc);
	/* exactly at target: off_target is 0, the window holds */
	run(&cc, 0, TARGET, 500);
	assert_true(konce_cc_cwnd(&cc) <= w0 + MSS && konce_cc_cwnd(&cc) + MSS >= w0);
	/* 120 ms of queue: twice the target.  LEDBAT++ takes off min(window x (q/target - 1), half a
	 * window) per round trip: one round of acks halves it (the first three acks still see the
	 * 60 ms samples through the current-delay filter, hence the slack of 2 mss). */
	w0 = konce_cc_cwnd(&cc);
	run(&cc, 0, 2 * TARGET, (int)(w0 / MSS));
	assert_true(konce_cc_cwnd(&cc) <= w0 / 2 + 2 * MSS);
	assert_true(konce_cc_cwnd(&cc) >= w0 / 2 - 2 * MSS);
	run(&cc, 0, 2 * TARGET, 2000);
	assert_true(konce_cc_cwnd(&cc) <= 4 * MSS);
	assert_true(konce_cc_cwnd(&cc) >= 2 * MSS);
	/* the queue drains: it grows again */
	uint64_t low = konce_cc_cwnd(&cc);
	run(&cc, 0, 5 * MS, 400);
	assert_true(konce_cc_cwnd(&cc) > low + 2 * MSS);
}

static void test_base_delay_tracking(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	const uint64_t minute = 60ull * 1000 * MS;
	uint64_t t = 1;
	/* minute 0: one-way delay 20 ms (plus an arbitrary clock offset) */
	konce_cc_ack a = {.bytes = 0, .has_owd = true, .owd = 7000000 + 20 * MS};
	konce_cc_on_ack(&cc, &a, t);
	/* the route changes: 70 ms from now on.  For ten minutes that reads as 50 ms of queue. */
	uint64_t q_at_5min = 0;
	for (int i = 1; i <= 12 * 6; i++) {
		t += minute / 6;
		a.owd = 7000000 + 70 * MS;
		a.bytes = MSS;
		konce_cc_on_sent(&cc, MSS, t);
		konce_cc_on_ack(&cc, &a, t);
		if (i == 5 * 6)
			q_at_5min = (uint64_t)cc.u.ledbat.last_queuing_delay;
	}
	assert_int_equal(q_at_5min, 50 * MS);
	/* after ten one-minute buckets the 20 ms minute has aged out */
	assert_int_equal(cc.u.ledbat.last_queuing_delay, 0);
	assert_int_equal(cc.u.ledbat.nbase, KONCE_LEDBAT_BASE_HISTORY);
	/* a lower delay shows up in the base at once */
	a.owd = 7000000 + 60 * MS;
	konce_cc_on_ack(&cc, &a, t + 1);
	a.owd = 7000000 + 80 * MS;
	for (int i = 0; i < KONCE_LEDBAT_CURRENT_FILTER; i++)
		konce_cc_on_ack(&cc, &a, t + 2);
	assert_int_equal(cc.u.ledbat.last_queuing_delay, 20 * MS);
}

static void test_clock_wrap(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	/* receiver-minus-sender clocks near 2^32: samples wrap past zero */
	run(&cc, 0xffffffffu - 25 * MS, 0, 50);
	assert_int_equal(cc.u.ledbat.last_queuing_delay, 0);
	run(&cc, 0xffffffffu - 25 * MS, 30 * MS, 20);
	assert_int_equal(cc.u.ledbat.last_queuing_delay, 30 * MS);
}

static void test_loss_and_rtt_fallback(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	run(&cc, 0, 0, 100);
	uint64_t w = konce_cc_cwnd(&cc);
	konce_cc_on_loss(&cc, MSS, flow.now, flow.now + 1);
	assert_int_equal(konce_cc_cwnd(&cc), w / 2);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_AVOID);
	/* once per round trip */
	konce_cc_on_loss(&cc, MSS, flow.now, flow.now + 2);
	assert_int_equal(konce_cc_cwnd(&cc), w / 2);
	konce_cc_on_persistent_congestion(&cc, flow.now + 3);
	assert_int_equal(konce_cc_cwnd(&cc), 2 * MSS);

	/* A peer that sends no owd: RTT samples stand in. */
	start(&cc);
	konce_cc_ack a = {.bytes = MSS, .rtt = 100 * MS};
	konce_cc_on_sent(&cc, MSS, 1);
	konce_cc_on_ack(&cc, &a, 2);
	a.rtt = 100 * MS + 2 * TARGET;
	for (int i = 0; i < 8; i++) {
		konce_cc_on_sent(&cc, MSS, 3);
		konce_cc_on_ack(&cc, &a, 4);
	}
	assert_int_equal(cc.u.ledbat.last_queuing_delay, 2 * TARGET);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_AVOID);
}

/* LEDBAT++ periodic slowdown: 2 RTT after slow start the window drops to 2 mss for 2 RTT, climbs
 * back by slow start, and the next slowdown comes 9 slowdown-lengths later. */
static void test_periodic_slowdown(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	cc.u.ledbat.no_slowdown = false;
	run(&cc, 0, 0, 100);
	run(&cc, 0, 50 * MS, 5); /* queue over 3/4 target: slow start ends */
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_AVOID);
	uint64_t rtt = 40 * MS + 50 * MS, exit_at = flow.now;
	assert_true(cc.u.ledbat.next_slowdown >= exit_at + 2 * rtt - rtt / 4 &&
		    cc.u.ledbat.next_slowdown <= exit_at + 2 * rtt);
	uint64_t w = konce_cc_cwnd(&cc);
	/* run past it: the window is held at 2 mss */
	while (cc.u.ledbat.phase == KONCE_LEDBAT_AVOID)
		run(&cc, 0, 30 * MS, 1);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_SLOWDOWN);
	assert_int_equal(konce_cc_cwnd(&cc), 2 * MSS);
	uint64_t began = cc.u.ledbat.slowdown_start;
	/* the queue drains; after 2 RTT the window climbs back in slow start */
	while (cc.u.ledbat.phase == KONCE_LEDBAT_SLOWDOWN)
		run(&cc, 0, 0, 1);
	assert_true(flow.now - began >= 2 * 40 * MS);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_RAMP);
	while (cc.u.ledbat.phase == KONCE_LEDBAT_RAMP)
		run(&cc, 0, 0, 1);
	assert_int_equal(cc.u.ledbat.phase, KONCE_LEDBAT_AVOID);
	assert_true(konce_cc_cwnd(&cc) + 2 * MSS >= w);
	uint64_t length = flow.now - began;
	assert_int_equal(cc.u.ledbat.next_slowdown, flow.now + 9 * length);
}

/* The delay an ack reports is a round trip old, so cutting per ack overshoots: the cut stops at
 * the delivery rate x (min_rtt + target / 2), the window that would leave half the target of
 * queue; with no queue the window grows to that bound rather than by 1 mss per round trip.
 * Beside a flow that holds the queue up (the rate falls with the window) it still yields. */
static void test_delivery_rate_bounds_the_window(void **state)
{
	(void)state;
	konce_cc cc;
	start(&cc);
	run(&cc, 0, 0, 300);
	run(&cc, 0, 50 * MS, 10); /* leave slow start */
	/* 12.5 MB/s delivered, 40 ms min_rtt, 60 ms target: the bound is 12.5 MB/s x 70 ms */
	const uint64_t rate = 12500000, bound = rate * 70 / 1000;
	ack_rate = rate;
	uint64_t w0 = konce_cc_cwnd(&cc);
	run(&cc, 0, 0, 4000);
	assert_true(w0 < bound / 2);
	assert_true(konce_cc_cwnd(&cc) >= bound); /* it grew to the bound, far past 1 mss per RTT */
	/* twice the target of queue from a window of twice the bound: it falls to the bound and stays */
	cc.u.ledbat.cwnd = (double)(2 * bound);
	cc.cwnd = 2 * bound;
	run(&cc, 0, 2 * TARGET, 20000);
	assert_true(konce_cc_cwnd(&cc) + 2 * MSS >= bound);
	assert_true(konce_cc_cwnd(&cc) <= bound + 2 * MSS);
	/* another flow holds the queue: what this one is delivered falls with its window */
	rate_follows = true;
	uint64_t t0 = flow.now;
	/* ten acks at a time, to see when it gets there (run() stops when the flight drains) */
	for (int i = 0; i < 10000 && konce_cc_cwnd(&cc) > 4 * MSS; i++)
		run(&cc, 0, 2 * TARGET, 10);
	assert_true(konce_cc_cwnd(&cc) <= 4 * MSS);
	assert_true(flow.now - t0 < 2 * 1000 * MS); /* in a dozen round trips or so */
	/* without a rate sample (a peer that cannot give one) the rules are RFC 6817's alone */
	rate_follows = false;
	ack_rate = 0;
	uint64_t low = konce_cc_cwnd(&cc);
	run(&cc, 0, 0, 400);
	assert_true(konce_cc_cwnd(&cc) < low + 20 * MSS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_below_target),
		cmocka_unit_test(test_holds_at_target_shrinks_above),
		cmocka_unit_test(test_base_delay_tracking),
		cmocka_unit_test(test_clock_wrap),
		cmocka_unit_test(test_loss_and_rtt_fallback),
		cmocka_unit_test(test_periodic_slowdown),
		cmocka_unit_test(test_target_follows_min_rtt),
		cmocka_unit_test(test_delivery_rate_bounds_the_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
