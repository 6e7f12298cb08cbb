/* test_cc_startup.c - the start of a bulk transfer on a long fat link (100 Mbit/s, 40 ms RTT, netsim's
 * 200 ms tbf queue, 1,472-byte datagrams), with bare konce_conns on the simulator (conn_link.h).
 * Behaviour, not speed (virtual time):
 *
 *   - BBR's STARTUP fills the pipe: it ends (filled_pipe) with a bandwidth estimate >= 80% of the
 *     link, within 14 round trips; before it ends the estimate grows at least 1.5x a round from
 *     its third round until it passes half the link (STARTUP's gain of 2.77 is meant to double it;
 *     the simulator's early rounds give 1.6x).
 *   - The same with a host whose timers fire only on 4 ms ticks (tx_tick_us: a loop on a jiffy
 *     clock, as libevent's CLOCK_MONOTONIC_COARSE), datagrams still waking it at once: the pacer's
 *     burst must cover the wakes the host does not give, or the sender lets out one 2 ms burst
 *     per tick or per ack and the estimate grows ~1.4x a round (docs/BENCH.md).  The first MiB is
 *     acknowledged no more than half a round trip later than with exact timers.
 *   - NewReno's slow start is printed beside it for comparison.
 *
 * No loss or jitter: every seed is the same run (seed 1; SIM_SEED=N picks another).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/conn_link.h"

#define RATE 12500000u /* 100 Mbit/s */
#define MIB (1024u * 1024u)

typedef struct startup {
	uint64_t first_mib_us;   /* when the sender had 1 MiB of datagrams acknowledged */
	uint64_t exit_us;        /* when STARTUP ended (0: it did not) */
	uint64_t exit_round;     /* its round count then */
	uint64_t exit_bw;        /* the bandwidth estimate then, bytes/s */
	double min_growth;       /* lowest round-over-round growth of the estimate in STARTUP, from its
				  * third round until it passed half the link */
	uint64_t rounds_seen;    /* rounds over which min_growth was taken */
} startup;

static startup run_start(uint64_t seed, const konce_cc_ops *cc, uint64_t tick_us)
{
	sim *s = sim_new(seed);
	static clink l;
	clink_cfg cfg = {.rate = RATE, .queue = RATE / 5, .owd_us = 20 * SIM_MS, .msg = 1024 * 1024, .depth = 8,
			 .sample_us = 10 * SIM_MS, .warm = 10 * SIM_MS, .stop = 0, .cc = cc, .dgram = 1472,
			 .tx_tick_us = tick_us};
	assert_int_equal(clink_init(&l, s, &cfg), 0);
	assert_int_equal(clink_add_flow(&l, 0, 0), 0);
	clink_flow *f = &l.f[0];
	startup r = {.min_growth = 1e9};
	uint64_t round = 0, round_bw = 0;
	/* step 1 ms at a time through the first 2 s */
	for (uint64_t t = SIM_MS; t <= 2 * SIM_SEC; t += SIM_MS) {
		sim_run_until(s, t);
		if (!r.first_mib_us && f->tx->rec.delivered >= MIB)
			r.first_mib_us = t;
		if (cc != &konce_cc_bbr)
			continue;
		const konce_cc_bbr_state *b = &f->tx->cc.u.bbr;
		if (!r.exit_us && b->filled_pipe) {
			r.exit_us = t;
			r.exit_round = b->round_count;
			r.exit_bw = b->bw;
		}
		if (!r.exit_us && b->round_count != round) {
			/* a new round: the growth of the estimate over the last one */
			if (round >= 3 && round_bw && round_bw < RATE / 2) {
				double g = (double)b->bw / (double)round_bw;
				if (g < r.min_growth)
					r.min_growth = g;
				r.rounds_seen++;
			}
			round = b->round_count;
			round_bw = b->bw;
		}
	}
	printf("  seed %llu %-7s timer %s: first MiB at %5.1f ms", (unsigned long long)seed, cc->name,
	       tick_us ? "on 4 ms ticks" : "exact        ", r.first_mib_us / 1e3);
	if (cc == &konce_cc_bbr)
		printf(", STARTUP ended at %5.1f ms in round %llu at %5.1f Mbit/s, growth >= %.2fx a round over %llu rounds",
		       r.exit_us / 1e3, (unsigned long long)r.exit_round, r.exit_bw * 8 / 1e6, r.min_growth,
		       (unsigned long long)r.rounds_seen);
	printf("\n");
	clink_free(&l);
	sim_free(s);
	return r;
}

static void check_startup(const startup *r)
{
	assert_true(r->exit_us > 0);
	assert_true(r->exit_bw >= RATE / 10 * 8);
	assert_true(r->exit_round <= 14);
	assert_true(r->rounds_seen >= 2);
	assert_true(r->min_growth >= 1.5);
	assert_true(r->first_mib_us > 0);
}

static void test_startup_fills_the_pipe(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 1) {
		startup exact = run_start(seed, &konce_cc_bbr, 0);
		startup coarse = run_start(seed, &konce_cc_bbr, 4 * SIM_MS);
		run_start(seed, &konce_cc_newreno, 0);
		run_start(seed, &konce_cc_newreno, 4 * SIM_MS);
		check_startup(&exact);
		check_startup(&coarse);
		assert_true(coarse.first_mib_us <= exact.first_mib_us + 20 * SIM_MS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_fills_the_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
