/* test_cc_newreno.c - NewReno: initial window, slow start, one halving per recovery period (the
 * window following PRR down to it: test_cc_prr.c has PRR's own cases),
 * congestion avoidance growth of one mss per round trip, persistent congestion, pacing rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/cc.h"

#define MSS 1200
#define MS 1000

/* One round trip: send the whole window in mss packets at t, ack them all at t + rtt. */
static void round_trip(konce_cc *cc, uint64_t *t, uint64_t rtt)
{
	uint64_t n = konce_cc_cwnd(cc) / MSS;
	for (uint64_t i = 0; i < n; i++) {
		assert_true(konce_cc_can_send(cc, MSS));
		konce_cc_on_sent(cc, MSS, *t);
	}
	assert_false(konce_cc_can_send(cc, MSS)); /* windows here are whole multiples of mss */
	uint64_t sent_at = *t;
	*t += rtt;
	for (uint64_t i = 0; i < n; i++) {
		konce_cc_ack a = {.bytes = MSS, .largest_sent = sent_at, .rtt = rtt, .min_rtt = rtt};
		konce_cc_on_ack(cc, &a, *t);
	}
}

static void test_initial_and_slow_start(void **state)
{
	(void)state;
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	assert_int_equal(konce_cc_initial_window(MSS), 10 * MSS);   /* min(12000, max(14720, 2400)) */
	assert_int_equal(konce_cc_initial_window(1000), 10000);
	assert_int_equal(konce_cc_initial_window(9000), 18000);     /* max(14720, 18000) < 90000 */
	assert_int_equal(konce_cc_cwnd(&cc), 10 * MSS);
	uint64_t t = 1;
	round_trip(&cc, &t, 100 * MS);
	assert_int_equal(konce_cc_cwnd(&cc), 20 * MSS);
	round_trip(&cc, &t, 100 * MS);
	assert_int_equal(konce_cc_cwnd(&cc), 40 * MSS);
	assert_int_equal(cc.bytes_in_flight, 0);
}

static void test_recovery_halving(void **state)
{
	(void)state;
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	uint64_t t = 1;
	round_trip(&cc, &t, 100 * MS);
	round_trip(&cc, &t, 100 * MS); /* 40 mss */
	for (int i = 0; i < 40; i++)
		konce_cc_on_sent(&cc, MSS, t + (uint64_t)i);
	/* loss of a packet sent at t + 5, found by the timer at t + 150 ms: ssthresh halves at once,
	 * the window follows PRR (cc_prr.c): what is in flight (39) plus the first retransmission */
	uint64_t now = t + 150 * MS;
	konce_cc_on_loss(&cc, MSS, t + 5, now);
	assert_int_equal(cc.ssthresh, 20 * MSS);
	assert_int_equal(konce_cc_cwnd(&cc), 40 * MSS);
	assert_int_equal(cc.prr.recover_fs, 40 * MSS);
	/* more losses of packets sent before the period began: no second cut */
	konce_cc_on_loss(&cc, 2 * MSS, t + 30, now + 10 * MS);
	assert_int_equal(cc.ssthresh, 20 * MSS);
	assert_int_equal(cc.episodes, 1);
	/* acks of packets sent before it: no growth; PRR lets ssthresh / RecoverFS of what they
	 * delivered go: 10 mss * 20 / 40 = 5 mss beyond the 27 still in flight */
	konce_cc_ack a = {.bytes = 10 * MSS, .largest_sent = t + 20};
	konce_cc_on_ack(&cc, &a, now + 20 * MS);
	assert_int_equal(cc.bytes_in_flight, 27 * MSS);
	assert_int_equal(konce_cc_cwnd(&cc), 32 * MSS);
	assert_true(cc.in_recovery_period);
	/* an ack of a packet sent after it ends the period at ssthresh; then a new loss cuts again */
	konce_cc_on_sent(&cc, MSS, now + 30 * MS);
	assert_int_equal(cc.prr.out, MSS);
	a = (konce_cc_ack){.bytes = MSS, .largest_sent = now + 30 * MS};
	konce_cc_on_ack(&cc, &a, now + 130 * MS);
	assert_false(cc.in_recovery_period);
	assert_int_equal(konce_cc_cwnd(&cc), 20 * MSS);
	konce_cc_on_loss(&cc, MSS, now + 30 * MS, now + 140 * MS);
	assert_int_equal(cc.ssthresh, 10 * MSS);
	assert_int_equal(cc.episodes, 2);
	/* repeated cuts, each losing all that is in flight, stop at 2 mss */
	konce_cc_on_loss(&cc, cc.bytes_in_flight, now + 150 * MS, now + 160 * MS);
	for (int i = 0; i < 10; i++) {
		uint64_t at = now + 200 * MS * (uint64_t)(i + 1);
		konce_cc_on_sent(&cc, MSS, at);
		konce_cc_on_loss(&cc, MSS, at, at + 1);
	}
	assert_int_equal(cc.ssthresh, 2 * MSS);
	assert_int_equal(konce_cc_cwnd(&cc), 2 * MSS);
}

static void test_congestion_avoidance_one_mss_per_rtt(void **state)
{
	(void)state;
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	uint64_t t = 1;
	round_trip(&cc, &t, 100 * MS); /* 20 mss */
	konce_cc_on_loss(&cc, MSS, t - 1, t);
	assert_int_equal(cc.ssthresh, 10 * MSS);
	/* nothing in flight: PRR's first datagram, at the 2 mss floor; the ack of a packet sent in
	 * the period ends it at ssthresh */
	assert_int_equal(konce_cc_cwnd(&cc), 2 * MSS);
	t += 1;
	round_trip(&cc, &t, 100 * MS);
	assert_int_equal(konce_cc_cwnd(&cc), 10 * MSS);
	for (int r = 0; r < 20; r++) {
		uint64_t before = konce_cc_cwnd(&cc);
		round_trip(&cc, &t, 100 * MS);
		assert_int_equal(konce_cc_cwnd(&cc), before + MSS);
	}
	assert_int_equal(konce_cc_cwnd(&cc), 30 * MSS);
}

static void test_persistent_congestion(void **state)
{
	(void)state;
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	uint64_t t = 1;
	round_trip(&cc, &t, 100 * MS);
	konce_cc_on_sent(&cc, 5 * MSS, t);
	konce_cc_on_loss(&cc, 5 * MSS, t, t + 2000 * MS);
	konce_cc_on_persistent_congestion(&cc, t + 2000 * MS);
	assert_int_equal(konce_cc_cwnd(&cc), 2 * MSS);
	assert_int_equal(cc.bytes_in_flight, 0);
	/* slow start again up to ssthresh (10 mss), then one mss per round trip */
	t += 2001 * MS;
	round_trip(&cc, &t, 100 * MS);
	assert_int_equal(konce_cc_cwnd(&cc), 4 * MSS);
}

/* An application that keeps only 2 packets in flight never fills the 10-packet window: it must
 * not grow (RFC 9002 section 7.8), in slow start or after. */
static void test_underused_window_does_not_grow(void **state)
{
	(void)state;
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	uint64_t t = 1;
	for (int r = 0; r < 50; r++) {
		konce_cc_on_sent(&cc, MSS, t);
		konce_cc_on_sent(&cc, MSS, t);
		t += 100 * MS;
		konce_cc_ack a = {.bytes = 2 * MSS, .largest_sent = t - 100 * MS, .rtt = 100 * MS};
		konce_cc_on_ack(&cc, &a, t);
	}
	/* the first round counts the initial window as used only if half of it was in flight: no */
	assert_int_equal(konce_cc_cwnd(&cc), 10 * MSS);
	/* filling it again lets it grow */
	uint64_t t2 = t;
	round_trip(&cc, &t2, 100 * MS);
	round_trip(&cc, &t2, 100 * MS);
	assert_true(konce_cc_cwnd(&cc) > 10 * MSS);
}

static void test_can_send_and_pacing(void **state)
{
	(void)state;
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	for (int i = 0; i < 9; i++)
		konce_cc_on_sent(&cc, MSS, 0);
	assert_true(konce_cc_can_send(&cc, MSS));
	assert_false(konce_cc_can_send(&cc, MSS + 1));
	/* 12000 bytes over 100 ms: 120 kB/s, doubled in slow start */
	assert_int_equal(konce_cc_pacing_rate(&cc, 100 * MS), 240000);
	/* losing only packets that were not in flight (ACK-only) is not congestion */
	konce_cc_on_loss(&cc, 0, 1, 2);
	assert_int_equal(konce_cc_cwnd(&cc), 10 * MSS);
	konce_cc_on_loss(&cc, MSS, 1, 2);
	/* in recovery the window is what is in flight (8 mss) plus PRR's first retransmission:
	 * 10800 bytes over 100 ms, times 5/4 */
	assert_int_equal(cc.ssthresh, 5 * MSS);
	assert_int_equal(konce_cc_pacing_rate(&cc, 100 * MS), 135000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_and_slow_start),
		cmocka_unit_test(test_recovery_halving),
		cmocka_unit_test(test_congestion_avoidance_one_mss_per_rtt),
		cmocka_unit_test(test_persistent_congestion),
		cmocka_unit_test(test_underused_window_does_not_grow),
		cmocka_unit_test(test_can_send_and_pacing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
