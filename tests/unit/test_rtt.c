/* test_rtt.c - RFC 9002 section 5 estimator, numbers worked by hand from the RFC's formulas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/rtt.h"
#include "node/base/wire.h"

static void test_initial(void **state)
{
	(void)state;
	konce_rtt r;
	konce_rtt_init(&r, 25000);
	assert_false(r.have_sample);
	assert_int_equal(r.smoothed, 333000);
	assert_int_equal(r.var, 166500);
	/* 333 ms + 4 x 166.5 ms */
	assert_int_equal(konce_rtt_timeout(&r), 999000);
	assert_int_equal(konce_rtt_pto(&r), 999000 + 25000);
}

static void test_samples(void **state)
{
	(void)state;
	konce_rtt r;
	konce_rtt_init(&r, 25000);
	/* First sample: smoothed = sample, rttvar = sample / 2, ack delay ignored. */
	konce_rtt_update(&r, 100000, 20000);
	assert_int_equal(r.min, 100000);
	assert_int_equal(r.smoothed, 100000);
	assert_int_equal(r.var, 50000);
	/* 120 ms with 10 ms ack delay: adjusted 110 ms.
	 * rttvar = 3/4 50 + 1/4 |100 - 110| = 40; smoothed = 7/8 100 + 1/8 110 = 101.25 */
	konce_rtt_update(&r, 120000, 10000);
	assert_int_equal(r.min, 100000);
	assert_int_equal(r.var, 40000);
	assert_int_equal(r.smoothed, 101250);
	/* 105 ms with 30 ms ack delay: capped to max_ack_delay 25 ms, and 105 < min 100 + 25, so the
	 * delay is not subtracted.  rttvar = (3 x 40000 + 3750) / 4, smoothed = (7 x 101250 + 105000) / 8 */
	konce_rtt_update(&r, 105000, 30000);
	assert_int_equal(r.var, 30937);
	assert_int_equal(r.smoothed, 101718);
	assert_int_equal(r.latest, 105000);
	/* timeout = SRTT + max(G, 4 RTTVAR) */
	assert_int_equal(konce_rtt_timeout(&r), 101718 + 4 * 30937);
	assert_int_equal(konce_rtt_pto(&r), 101718 + 4 * 30937 + 25000);
	/* A smaller sample lowers min_rtt before the ack delay is considered. */
	konce_rtt_update(&r, 50000, 10000);
	assert_int_equal(r.min, 50000);
}

static void test_granularity(void **state)
{
	(void)state;
	konce_rtt r;
	konce_rtt_init(&r, 0);
	for (int i = 0; i < 50; i++)
		konce_rtt_update(&r, 200, 0);
	assert_int_equal(r.smoothed, 200);
	assert_true(4 * r.var < KONCE_GRANULARITY_US);
	assert_int_equal(konce_rtt_timeout(&r), 200 + KONCE_GRANULARITY_US);
}

static void test_ack_delay_never_below_min(void **state)
{
	(void)state;
	konce_rtt r;
	konce_rtt_init(&r, 25000);
	konce_rtt_update(&r, 40000, 0);
	/* 45 ms with a claimed 20 ms ack delay would make 25 ms < min 40 ms: not subtracted. */
	konce_rtt_update(&r, 45000, 20000);
	assert_int_equal(r.smoothed, (7 * 40000 + 45000) / 8);
	/* 70 ms with 20 ms: 70 >= 40 + 20, adjusted 50 ms. */
	uint64_t s = r.smoothed;
	konce_rtt_update(&r, 70000, 20000);
	assert_int_equal(r.smoothed, (7 * s + 50000) / 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_granularity),
		cmocka_unit_test(test_ack_delay_never_below_min),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
