/* test_cc_dgram.c - congestion control counts bytes of the datagrams actually sent: for a given
 * bandwidth-delay product the window in bytes, the pacing rate and what reaches the receiver do
 * not depend on the datagram size (1,200 bytes, the base, or 8,972, a 9,000-byte path MTU).
 * Behaviour, not speed: every figure is compared with the same link's run at the other size.
 *
 * On the simulator with bare konce_conns (conn_link.h): 100 Mbit/s, 40 ms RTT, a BDP of queue.
 *   - The default class (BBR), no loss and 1% random loss: the mean window and the mean pacing
 *     rate at 8,972 bytes are within 15% of those at 1,200 bytes; so is the goodput (counted on
 *     the wire: a 1,200-byte datagram's overhead is a larger share of it); past startup
 *     neither overflows the queue.  (Before the controller and pacer counted the real size, the
 *     pacer let an 8,972-byte datagram go on a 1,200-byte allowance and forgave the rest.)
 *   - The background class (LEDBAT) alone: its mean window is within 25% at the two sizes and
 *     the queueing delay it keeps stays near its target (the queue never overflows after warm).
 *
 * SIM_SEED=N reruns one seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/wire.h"
#include "tests/sim/conn_link.h"

#define WARM (5 * SIM_SEC)
#define STOP (20 * SIM_SEC)

typedef struct result {
	double goodput, mean_cwnd, mean_rate;
	uint64_t queue_after_warm, failed;
} result;

static result run(uint64_t seed, uint8_t klass, double loss, size_t dgram)
{
	sim *s = sim_new(seed);
	static clink l;
	clink_cfg cfg = {.rate = 12500000, .queue = 500000, .owd_us = 20 * SIM_MS, .loss = loss, .msg = 1024 * 1024,
			 .depth = 8, .sample_us = 10 * SIM_MS, .warm = WARM, .stop = STOP, .dgram = dgram};
	assert_int_equal(clink_run_one(&l, s, &cfg, klass, STOP + SIM_SEC), 0);
	clink_flow *f = &l.f[0];
	result r = {
		.goodput = clink_goodput(&l, 0),
		.mean_cwnd = clink_mean_cwnd(&l, 0),
		.mean_rate = clink_mean_rate(&l, 0),
		.queue_after_warm = clink_queue_after_warm(&l),
		.failed = f->failed,
	};
	printf("  seed %llu %-7s loss %3.1f%% datagrams %4zu B: %5.1f Mbit/s, mean cwnd %4.0f kB, mean pacing "
	       "%5.1f Mbit/s, queue drops after warm-up %llu\n",
	       (unsigned long long)seed, f->tx->cc.ops->name, loss * 100, dgram, r.goodput * 8 / 1e6,
	       r.mean_cwnd / 1e3, r.mean_rate * 8 / 1e6, (unsigned long long)r.queue_after_warm);
	clink_free(&l);
	sim_free(s);
	return r;
}

static bool within(double a, double b, double frac) { return a <= b * (1 + frac) && b <= a * (1 + frac); }

/* Goodput counts message bytes; a datagram carries conn_link's (the endpoint's) overhead too, a
 * larger share of a small one.  The wire rate the goodput stands for: */
static double wire(double goodput, size_t dgram)
{
	size_t overhead = KONCE_WIRE_MAX_DATAGRAM - KONCE_WIRE_MAX_PAYLOAD;
	return goodput * (double)dgram / (double)(dgram - overhead);
}

#define CHECK(seed, cond) SIM_ASSERT_SEED(seed, cond)

static void test_default_class_window_in_bytes(void **state)
{
	(void)state;
	static const double losses[] = {0, 0.01};
	SIM_FOR_EACH_SEED(seed, 2) {
		for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
			result small = run(seed, 0, losses[i], KONCE_PMTU_BASE);
			result big = run(seed, 0, losses[i], KONCE_PMTU_MAX);
			CHECK(seed, small.failed == 0 && big.failed == 0);
			CHECK(seed, within(big.mean_cwnd, small.mean_cwnd, 0.15));
			CHECK(seed, within(big.mean_rate, small.mean_rate, 0.15));
			CHECK(seed, within(wire(big.goodput, KONCE_PMTU_MAX), wire(small.goodput, KONCE_PMTU_BASE), 0.15));
			CHECK(seed, small.queue_after_warm == 0 && big.queue_after_warm == 0);
		}
	}
}

static void test_background_class_window_in_bytes(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 2) {
		result small = run(seed, 1, 0, KONCE_PMTU_BASE);
		result big = run(seed, 1, 0, KONCE_PMTU_MAX);
		CHECK(seed, small.failed == 0 && big.failed == 0);
		CHECK(seed, within(big.mean_cwnd, small.mean_cwnd, 0.25));
		CHECK(seed, within(wire(big.goodput, KONCE_PMTU_MAX), wire(small.goodput, KONCE_PMTU_BASE), 0.25));
		CHECK(seed, small.queue_after_warm == 0 && big.queue_after_warm == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_class_window_in_bytes),
		cmocka_unit_test(test_background_class_window_in_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
