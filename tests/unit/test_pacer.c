/* test_pacer.c - token-bucket pacing: a window spread over the round trip, burst limit, rate
 * changes, no overflow on long idle gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/cc.h"
#include "node/transport/pacer.h"

#define MSS 1200
#define MS 1000

static void test_spreads_window_over_rtt(void **state)
{
	(void)state;
	konce_cc cc;
	konce_pacer p;
	konce_cc_init(&cc, &konce_cc_newreno, MSS, 0);
	konce_cc_on_loss(&cc, MSS, 0, 1); /* congestion avoidance: rate = 5/4 cwnd / srtt */
	konce_cc_on_sent(&cc, MSS, 2);   /* the ack of a packet sent since ends the recovery period */
	konce_cc_ack a = {.bytes = MSS, .largest_sent = 2};
	konce_cc_on_ack(&cc, &a, 3);
	konce_pacer_init(&p, 2 * MSS, 0);
	uint64_t srtt = 100 * MS;
	konce_pacer_set_rate(&p, konce_cc_pacing_rate(&cc, srtt), 0);
	assert_int_equal(p.rate, 6000 * 1000000ull / srtt * 5 / 4); /* 75 kB/s */
	/* Send as early as the pacer allows, for one RTT. */
	uint64_t now = 0, last = 0, sent = 0, back_to_back = 0, max_b2b = 0;
	for (;;) {
		uint64_t t = konce_pacer_next_time(&p, MSS, now);
		assert_true(t >= now);
		if (t >= srtt)
			break;
		now = t;
		back_to_back = (sent && now == last) ? back_to_back + 1 : 1;
		if (back_to_back > max_b2b)
			max_b2b = back_to_back;
		konce_pacer_on_sent(&p, MSS, now);
		last = now;
		sent++;
	}
	/* 75 kB/s x 100 ms = 7500 bytes = 6.25 packets, plus the initial 2-packet burst */
	assert_int_equal(sent, 2 + 6);
	assert_int_equal(max_b2b, 2);
	/* after the burst, packets are 1200 / 75000 s = 16 ms apart */
	assert_int_equal(konce_pacer_next_time(&p, MSS, last) - last, 16 * MS);
}

static void test_unpaced_and_idle(void **state)
{
	(void)state;
	konce_pacer p;
	konce_pacer_init(&p, 10 * MSS, 5);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(konce_pacer_next_time(&p, MSS, 5), 5);
		konce_pacer_on_sent(&p, MSS, 5);
	}
	/* a very high rate after a very long idle gap: the bucket is just full */
	konce_pacer_set_rate(&p, UINT64_MAX / 4, 6);
	assert_int_equal(konce_pacer_next_time(&p, MSS, UINT64_MAX / 2), UINT64_MAX / 2);
	assert_int_equal(p.tokens, 10 * MSS * 1000000ull);
	/* a slow rate: 1 byte per second */
	konce_pacer_init(&p, MSS, 0);
	konce_pacer_set_rate(&p, 1, 0);
	konce_pacer_on_sent(&p, MSS, 0);
	assert_int_equal(konce_pacer_next_time(&p, 1, 0), 1000000);
	assert_int_equal(konce_pacer_next_time(&p, 1, 999999), 1000000);
	assert_int_equal(konce_pacer_next_time(&p, 1, 1000000), 1000000);
}

static void test_rate_change_keeps_tokens(void **state)
{
	(void)state;
	konce_pacer p;
	konce_pacer_init(&p, MSS, 0);
	konce_pacer_set_rate(&p, 120000, 0); /* 1200 bytes per 10 ms */
	konce_pacer_on_sent(&p, MSS, 0);
	/* 5 ms at the old rate earns half a packet; then the rate doubles */
	konce_pacer_set_rate(&p, 240000, 5 * MS);
	assert_int_equal(konce_pacer_next_time(&p, MSS, 5 * MS), 5 * MS + 2500);
}

/* A timer that fires 2 ms late at 12.5 MB/s: with a 4-packet burst the late wakeup sends 4
 * packets and the rate falls short; with a 2 ms burst it catches up (conn.c sizes it so). */
static void test_burst_covers_late_timers(void **state)
{
	(void)state;
	for (int big = 0; big < 2; big++) {
		konce_pacer p;
		konce_pacer_init(&p, 4 * MSS, 0);
		konce_pacer_set_rate(&p, 12500000, 0);
		if (big)
			konce_pacer_set_burst(&p, 12500000 / 500);
		uint64_t sent = 0;
		for (uint64_t now = 0; now < 100 * MS; now += 2 * MS) /* wakes every 2 ms */
			while (konce_pacer_next_time(&p, MSS, now) == now) {
				konce_pacer_on_sent(&p, MSS, now);
				sent += MSS;
			}
		/* 100 ms at 12.5 MB/s is 1.25 MB; four packets per wakeup are 0.24 MB */
		if (big)
			assert_true(sent >= 1150000); /* within a packet a wakeup of it */
		else
			assert_true(sent <= 4 * MSS * 51);
	}
	/* a smaller burst drops the tokens above it at once */
	konce_pacer p;
	konce_pacer_init(&p, 10 * MSS, 0);
	konce_pacer_set_burst(&p, 2 * MSS);
	assert_int_equal(p.tokens, 2 * MSS * 1000000ull);
}

/* Datagrams larger than the burst (a path MTU of 8,972 bytes against a 4 x 1,200-byte burst) go
 * at the rate, not faster: what a packet spends beyond the tokens left is owed. */
static void test_large_packets_keep_the_rate(void **state)
{
	(void)state;
	for (uint64_t size = MSS; size <= 8972; size += 7772) {
		konce_pacer p;
		konce_pacer_init(&p, 4 * MSS, 0);
		konce_pacer_set_rate(&p, 1250000, 0); /* 10 Mbit/s */
		uint64_t sent = 0, now = 0;
		while (now < 1000 * MS) {
			now = konce_pacer_next_time(&p, size, now);
			konce_pacer_on_sent(&p, size, now);
			sent += size;
		}
		/* one second at 1.25 MB/s, plus the initial burst and the packet at the end */
		assert_true(sent <= 1250000 + 4 * MSS + 2 * size);
		assert_true(sent >= 1250000 - size);
	}
}

/* The pacer measures how late the sender came back after a wait: a host whose wakes come on 4 ms
 * ticks shows ~4 ms; a wait ended by an ack before the release time, or by running out of data,
 * shows nothing; a sample ages out after one to two windows, and a stall counts as LATE_MAX. */
static void test_late_wakes_measured(void **state)
{
	(void)state;
	konce_pacer p;
	konce_pacer_init(&p, 4 * MSS, 0);
	konce_pacer_set_rate(&p, 12500000, 0);
	assert_int_equal(konce_pacer_late(&p), 0);
	uint64_t now = 0, at;
	while ((at = konce_pacer_next_time(&p, MSS, now)) == now)
		konce_pacer_on_sent(&p, MSS, now);
	konce_pacer_wait(&p, at); /* ~100 us ahead */
	now = 4 * MS;             /* the next tick */
	assert_true(konce_pacer_next_time(&p, MSS, now) == now);
	konce_pacer_on_sent(&p, MSS, now);
	assert_int_equal(konce_pacer_late(&p), now - at);
	/* on time (an ack woke the sender at the release): no larger sample */
	uint64_t first = konce_pacer_late(&p);
	while ((at = konce_pacer_next_time(&p, MSS, now)) == now)
		konce_pacer_on_sent(&p, MSS, now);
	konce_pacer_wait(&p, at);
	konce_pacer_on_sent(&p, MSS, at);
	assert_int_equal(konce_pacer_late(&p), first);
	/* a wait the sender left for want of data is not a late wake */
	konce_pacer_wait(&p, now + 100);
	konce_pacer_unwait(&p);
	konce_pacer_on_sent(&p, MSS, now + 20 * MS);
	assert_int_equal(konce_pacer_late(&p), first);
	/* a stall counts as LATE_MAX at most */
	now = 30 * MS;
	konce_pacer_wait(&p, now);
	konce_pacer_on_sent(&p, MSS, now + 500 * MS);
	assert_int_equal(konce_pacer_late(&p), KONCE_PACER_LATE_MAX_US);
	/* two windows without a late wake forget it */
	konce_pacer_on_sent(&p, MSS, now + 500 * MS + KONCE_PACER_LATE_WINDOW_US);
	assert_int_equal(konce_pacer_late(&p), KONCE_PACER_LATE_MAX_US); /* still the last window's */
	konce_pacer_on_sent(&p, MSS, now + 500 * MS + 2 * KONCE_PACER_LATE_WINDOW_US);
	assert_int_equal(konce_pacer_late(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spreads_window_over_rtt),
		cmocka_unit_test(test_unpaced_and_idle),
		cmocka_unit_test(test_rate_change_keeps_tokens),
		cmocka_unit_test(test_burst_covers_late_timers),
		cmocka_unit_test(test_large_packets_keep_the_rate),
		cmocka_unit_test(test_late_wakes_measured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
