/* test_netsim_wire.c - netsim-wire's pure part (netsim/wire_sched.c): the seeded RNG, the
 * impairment decisions (loss, duplication, reordering, delay and jitter distributions), the
 * pending-frame heap (order, FIFO ties, bound) and the settings parser (values, bad input,
 * round trip). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netsim/wire_sched.h"

#define N 200000

static int parse(struct nsw_conf *c, const char *s)
{
	char err[160];

	return nsw_conf_parse(c, s, strlen(s), err, sizeof(err));
}

static void test_rng_is_seeded(void **state)
{
	(void)state;
	struct nsw_rng a, b, c;
	nsw_rng_seed(&a, 42);
	nsw_rng_seed(&b, 42);
	nsw_rng_seed(&c, 43);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = nsw_rng_next(&a);
		assert_int_equal(x, nsw_rng_next(&b));
		differ += x != nsw_rng_next(&c);
	}
	assert_true(differ > 990);
	/* splitmix64's published first output for seed 0 */
	nsw_rng_seed(&a, 0);
	assert_int_equal(nsw_rng_next(&a), 0xe220a8397b1dcdafull);
}

static void test_chance(void **state)
{
	(void)state;
	struct nsw_rng r;
	nsw_rng_seed(&r, 7);
	int hits = 0;
	for (int i = 0; i < N; i++) {
		assert_false(nsw_rng_chance(&r, 0));
		assert_true(nsw_rng_chance(&r, NSW_PPM));
		hits += nsw_rng_chance(&r, 100000);
	}
	/* 10% of 200000: sd 134, allow 4 sd */
	assert_true(hits > 20000 - 536 && hits < 20000 + 536);
}

static void test_decide_loss_dup_reorder(void **state)
{
	(void)state;
	struct nsw_rng r;
	struct nsw_imp imp = { .delay_us = 10000 };
	uint64_t when[2];
	unsigned early, lost = 0, dup = 0, copies_early = 0, copies = 0;
	nsw_rng_seed(&r, 1);

	assert_int_equal(nsw_decide(&imp, &r, 5, when, &early), 1);
	assert_int_equal(when[0], 10005);
	assert_int_equal(early, 0);

	imp.loss_ppm = NSW_PPM;
	imp.dup_ppm = NSW_PPM;
	assert_int_equal(nsw_decide(&imp, &r, 5, when, &early), 0); /* loss wins over duplication */

	imp.loss_ppm = 0;
	imp.reorder_ppm = NSW_PPM;
	assert_int_equal(nsw_decide(&imp, &r, 5, when, &early), 2);
	assert_int_equal(when[0], 5);
	assert_int_equal(when[1], 5);
	assert_int_equal(early, 2);

	imp = (struct nsw_imp){ .delay_us = 1000, .loss_ppm = 100000, .dup_ppm = 200000, .reorder_ppm = 250000 };
	for (int i = 0; i < N; i++) {
		unsigned n = nsw_decide(&imp, &r, 100, when, &early);
		lost += n == 0;
		dup += n == 2;
		copies += n;
		copies_early += early;
		for (unsigned k = 0; k < n; k++)
			assert_true(when[k] == 100 || when[k] == 1100);
	}
	/* loss 10% (sd 134), duplication 20% of the survivors (sd 170), early 25% of copies (sd ~220) */
	assert_true(lost > 20000 - 540 && lost < 20000 + 540);
	assert_true(dup > 36000 - 700 && dup < 36000 + 700);
	assert_true(copies_early * 4 > copies - 3600 && copies_early * 4 < copies + 3600);
}

static void test_jitter_distributions(void **state)
{
	(void)state;
	struct nsw_rng r;
	struct nsw_imp imp = { .delay_us = 20000, .jitter_us = 5000, .dist = NSW_DIST_NORMAL };
	uint64_t when[2];
	unsigned early;
	double sum = 0, sq = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	nsw_rng_seed(&r, 2);
	for (int i = 0; i < N; i++) {
		assert_int_equal(nsw_decide(&imp, &r, 0, when, &early), 1);
		double d = (double)when[0];
		sum += d;
		sq += d * d;
		lo = when[0] < lo ? when[0] : lo;
		hi = when[0] > hi ? when[0] : hi;
	}
	double mean = sum / N, var = sq / N - mean * mean;
	assert_true(mean > 19950 && mean < 20050);
	/* sigma 5000: variance 25e6, within 3% (the +-3 sigma clamp trims it by ~0.3%) */
	assert_true(var > 25e6 * 0.97 && var < 25e6 * 1.03);
	assert_true(lo >= 20000 - 15000 && hi <= 20000 + 15000);
	assert_true(lo < 20000 - 12000 && hi > 20000 + 12000); /* the tails are there */

	imp.dist = NSW_DIST_UNIFORM;
	lo = UINT64_MAX, hi = 0, sum = 0;
	for (int i = 0; i < N; i++) {
		nsw_decide(&imp, &r, 0, when, &early);
		sum += (double)when[0];
		lo = when[0] < lo ? when[0] : lo;
		hi = when[0] > hi ? when[0] : hi;
	}
	assert_true(lo >= 15000 && lo < 15050 && hi <= 25000 && hi > 24950);
	assert_true(sum / N > 19950 && sum / N < 20050);

	/* jitter larger than the delay: never before arrival */
	imp = (struct nsw_imp){ .delay_us = 1000, .jitter_us = 10000, .dist = NSW_DIST_NORMAL };
	int at_arrival = 0;
	for (int i = 0; i < 10000; i++) {
		nsw_decide(&imp, &r, 500, when, &early);
		assert_true(when[0] >= 500);
		at_arrival += when[0] == 500;
	}
	assert_true(at_arrival > 3000);
}

static void test_heap_order_and_bound(void **state)
{
	(void)state;
	struct nsw_heap h;
	struct nsw_item it;
	struct nsw_rng r;
	static int tag[1000];

	assert_int_equal(nsw_heap_init(&h, 0), -EINVAL);
	assert_int_equal(nsw_heap_init(&h, 1000), 0);
	assert_null(nsw_heap_peek(&h));
	assert_int_equal(nsw_heap_pop_due(&h, UINT64_MAX, &it), 0);
	nsw_rng_seed(&r, 3);
	for (int i = 0; i < 1000; i++) {
		tag[i] = i;
		/* few distinct times, so ties are common */
		assert_int_equal(nsw_heap_push(&h, nsw_rng_next(&r) % 50, &tag[i], (size_t)i), 0);
	}
	assert_int_equal(nsw_heap_push(&h, 0, &tag[0], 0), -ENOBUFS);
	assert_int_equal(h.n, 1000);
	/* nothing departs before its time */
	uint64_t first = nsw_heap_peek(&h)->when;
	if (first > 0)
		assert_int_equal(nsw_heap_pop_due(&h, first - 1, &it), 0);
	uint64_t last_when = 0;
	int last_tag = -1, popped = 0;
	while (nsw_heap_pop_due(&h, 49, &it)) {
		int t = *(int *)it.frame;
		assert_true(it.when >= last_when);
		if (it.when == last_when)
			assert_true(t > last_tag); /* equal times leave in arrival order */
		assert_int_equal(it.len, (size_t)t);
		last_when = it.when;
		last_tag = t;
		popped++;
	}
	assert_int_equal(popped, 1000);
	assert_int_equal(h.n, 0);
	nsw_heap_free(&h);
}

static void test_parse_values(void **state)
{
	(void)state;
	struct nsw_conf c;

	assert_int_equal(parse(&c, ""), 0);
	assert_int_equal(c.dir[0].delay_us, 0);
	assert_int_equal(parse(&c, "delay=40ms jitter=500us loss=1% duplicate=0.5 reorder=100%"), 0);
	for (int d = 0; d < 2; d++) {
		assert_int_equal(c.dir[d].delay_us, 40000);
		assert_int_equal(c.dir[d].jitter_us, 500);
		assert_int_equal(c.dir[d].loss_ppm, 10000);
		assert_int_equal(c.dir[d].dup_ppm, 5000);
		assert_int_equal(c.dir[d].reorder_ppm, NSW_PPM);
		assert_int_equal(c.dir[d].dist, NSW_DIST_NORMAL);
	}
	assert_int_equal(parse(&c, "# comment\n\tdelay=1.5s # more\nab.delay=0.25ms ba.dist=uniform\r\n"), 0);
	assert_int_equal(c.dir[0].delay_us, 250);
	assert_int_equal(c.dir[1].delay_us, 1500000);
	assert_int_equal(c.dir[0].dist, NSW_DIST_NORMAL);
	assert_int_equal(c.dir[1].dist, NSW_DIST_UNIFORM);
	assert_int_equal(parse(&c, "delay=60s loss=0.0001%"), 0);
	assert_int_equal(c.dir[0].delay_us, NSW_MAX_DELAY_US);
	assert_int_equal(c.dir[0].loss_ppm, 1);
	assert_int_equal(parse(&c, "delay=1.000999ms"), 0); /* below a microsecond: truncated */
	assert_int_equal(c.dir[0].delay_us, 1000);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
		"delay", "delay=", "delay=40", "delay=40xs", "delay=ms", "delay=-1ms", "delay=61s",
		"delay=60000001us", "delay=1.ms", "delay=.5ms", "delay=1..5ms", "delay=99999999999999999999s", "delay=1.0000001s",
		"loss=101%", "loss=100.0001", "loss=1.00001%", "loss=1%%", "loss=%", "loss=1 %",
		"jitter=5mss", "dist=weird", "foo=1", "=1", "ab.=1", "xy.delay=1ms", "ab.foo=1",
		"delay=40ms loss=2 bogus",
	};
	struct nsw_conf c;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (nsw_conf_parse(&c, bad[i], strlen(bad[i]), err, sizeof(err)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(strlen(err) > 0);
	}
	/* a tiny error buffer is never overrun */
	assert_int_equal(nsw_conf_parse(&c, "foo=1", 5, err, 4), -EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(nsw_conf_parse(&c, "foo=1", 5, NULL, 0), -EINVAL);
	/* the length bounds the text: no terminator needed */
	assert_int_equal(nsw_conf_parse(&c, "delay=5msXXXX", 9, err, sizeof(err)), 0);
	assert_int_equal(c.dir[0].delay_us, 5000);
}

static void test_format_round_trip(void **state)
{
	(void)state;
	struct nsw_conf a, b;
	char text[1024];

	assert_int_equal(parse(&a, "ab.delay=12345us ba.delay=2s jitter=7ms ab.dist=uniform loss=12.3456% "
				   "ba.duplicate=100 reorder=0.0001"), 0);
	int n = nsw_conf_format(&a, text, sizeof(text));
	assert_true(n > 0 && (size_t)n < sizeof(text));
	assert_int_equal(parse(&b, text), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_non_null(strstr(text, "ab.loss=12.3456%"));
	/* truncated output still reports the full length */
	assert_int_equal(nsw_conf_format(&a, text, 10), n);
	assert_int_equal(strlen(text), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_is_seeded),
		cmocka_unit_test(test_chance),
		cmocka_unit_test(test_decide_loss_dup_reorder),
		cmocka_unit_test(test_jitter_distributions),
		cmocka_unit_test(test_heap_order_and_bound),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_format_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
