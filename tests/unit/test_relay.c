/* test_relay.c - the relay pair table: only opened pairs pass, both directions share one bucket,
 * idle pairs go, a full run refuses rather than evicts, one key holds at most
 * KONCE_RELAY_PER_KEY pairs, all pairs share a global byte budget, and nothing is allocated after
 * new. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/relay.h"
#include "tests/unit/count_env.h"

#define SEC 1000000ULL

static void key(uint8_t k[KONCE_WIRE_KEY], uint32_t n)
{
	memset(k, 0, KONCE_WIRE_KEY);
	memcpy(k, &n, sizeof(n));
	k[31] = 1;
}

static void test_pairs_and_rate(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 4);
	konce_relay *r;
	konce_relay_cfg cfg = {.slots = 64, .rate = 1000, .burst = 3000, .idle_us = 10 * SEC};
	assert_int_equal(konce_relay_new(&r, &ce.env, &cfg), 0);
	long allocs = ce.allocs;
	uint8_t a[32], b[32], c[32];
	key(a, 1), key(b, 2), key(c, 3);
	assert_int_equal(konce_relay_admit(r, a, b, 10, SEC), -ENOENT);
	assert_int_equal(konce_relay_open(r, a, a, SEC), -EINVAL);
	assert_int_equal(konce_relay_open(r, b, a, SEC), 0);
	assert_int_equal(konce_relay_admit(r, a, b, 1000, SEC), 0);
	assert_int_equal(konce_relay_admit(r, b, a, 2000, SEC), 0); /* the same pair, either way */
	assert_int_equal(konce_relay_admit(r, a, b, 1, SEC), -EAGAIN);
	assert_int_equal(konce_relay_admit(r, a, c, 1, SEC), -ENOENT);
	assert_int_equal(konce_relay_admit(r, a, b, 500, SEC + SEC / 2), 0); /* refilled 500 */
	assert_int_equal(konce_relay_live(r, 2 * SEC), 1);
	/* use keeps it alive; idleness ends it */
	assert_int_equal(konce_relay_admit(r, a, b, 1, 9 * SEC), 0);
	assert_int_equal(konce_relay_live(r, 18 * SEC), 1);
	assert_int_equal(konce_relay_admit(r, a, b, 1, 19 * SEC), -ENOENT);
	assert_int_equal(konce_relay_live(r, 19 * SEC), 0);
	const struct konce_relay_counters *k = konce_relay_counters(r);
	assert_int_equal(k->opened, 1);
	assert_int_equal(k->forwarded, 4);
	assert_int_equal(k->over_rate, 1);
	assert_int_equal(ce.allocs, allocs);
	konce_relay_free(r);
	assert_int_equal(ce.live, 0);
}

static void test_full_refuses(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 5);
	konce_relay *r;
	konce_relay_cfg cfg = {.slots = 16, .idle_us = 10 * SEC};
	assert_int_equal(konce_relay_new(&r, &ce.env, &cfg), 0);
	uint8_t a[32], b[32];
	key(a, 1), key(b, 2);
	assert_int_equal(konce_relay_open(r, a, b, SEC), 0);
	unsigned ok = 0, full = 0;
	for (uint32_t i = 10; i < 1000; i++) {
		uint8_t x[32], y[32];
		key(x, i);
		key(y, i + 100000);
		int e = konce_relay_open(r, y, x, SEC);
		ok += e == 0;
		full += e == -ENOSPC;
	}
	/* every pair lives in the 8 slots after its hash: at least a run's worth fit, never more than
	 * the table, and the rest are refused */
	assert_true(ok >= 7 && ok <= 15);
	assert_int_equal(full, 1000 - 10 - ok);
	assert_int_equal(konce_relay_live(r, SEC), ok + 1);
	/* the first pair was never pushed out */
	assert_int_equal(konce_relay_admit(r, b, a, 100, 2 * SEC), 0);
	konce_relay_free(r);
	konce_relay *bad = (konce_relay *)1;
	konce_relay_cfg huge = {.slots = (1u << 20) + 1};
	assert_int_equal(konce_relay_new(&bad, &ce.env, &huge), -EINVAL);
	assert_null(bad);
	assert_int_equal(ce.live, 0);
}

/* One key cannot take the table (before, a key could open pairs with every
 * registered key, up to the whole table, at 64 KiB/s each). */
static void test_key_cap(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 6);
	konce_relay *r;
	assert_int_equal(konce_relay_new(&r, &ce.env, NULL), 0);
	long allocs = ce.allocs;
	uint8_t a[32], x[32];
	key(a, 1);
	unsigned ok = 0, refused = 0;
	for (uint32_t i = 10; i < 40; i++) {
		key(x, i);
		int e = konce_relay_open(r, a, x, SEC);
		ok += e == 0;
		refused += e == -EDQUOT;
	}
	assert_int_equal(ok, KONCE_RELAY_PER_KEY);
	assert_int_equal(refused, 30 - KONCE_RELAY_PER_KEY);
	/* reopening one it holds is fine; once its pairs idle out, it may open others */
	key(x, 10);
	assert_int_equal(konce_relay_open(r, x, a, 2 * SEC), 0);
	key(x, 99);
	assert_int_equal(konce_relay_open(r, a, x, 2 * SEC), -EDQUOT);
	assert_int_equal(konce_relay_open(r, a, x, 2 * SEC + 121 * SEC), 0);
	/* a closed pair frees its place at once */
	uint8_t b[32], c[32];
	key(b, 5000);
	for (uint32_t i = 0; i < KONCE_RELAY_PER_KEY; i++) {
		key(c, 6000 + i);
		assert_int_equal(konce_relay_open(r, b, c, 200 * SEC), 0);
	}
	key(c, 7000);
	assert_int_equal(konce_relay_open(r, b, c, 200 * SEC), -EDQUOT);
	key(x, 6000);
	assert_int_equal(konce_relay_close(r, b, x, 200 * SEC), 0);
	assert_int_equal(konce_relay_open(r, b, c, 200 * SEC), 0);
	assert_true(konce_relay_counters(r)->key_full >= 1);
	assert_int_equal(ce.allocs, allocs);
	konce_relay_free(r);
	assert_int_equal(ce.live, 0);
}

/* All pairs together stay within the global budget. */
static void test_global_budget(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 7);
	konce_relay *r;
	assert_int_equal(konce_relay_new(&r, &ce.env, NULL), 0);
	uint64_t admitted = 0;
	for (uint32_t i = 0; i < 200; i++) {
		uint8_t x[32], y[32];
		key(x, 2 * i + 100);
		key(y, 2 * i + 101);
		if (konce_relay_open(r, x, y, SEC))
			continue;
		/* each pair at its own rate: 64 x 1 KiB in a second */
		for (unsigned k = 0; k < 64; k++)
			if (konce_relay_admit(r, x, y, 1024, SEC + k * 15000) == 0)
				admitted += 1024;
	}
	assert_true(konce_relay_counters(r)->over_global > 0);
	assert_true(admitted <= (uint64_t)KONCE_RELAY_GLOBAL_BURST + (uint64_t)KONCE_RELAY_GLOBAL_RATE + 1024);
	konce_relay_free(r);
	assert_int_equal(ce.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs_and_rate),
		cmocka_unit_test(test_full_refuses),
		cmocka_unit_test(test_key_cap),
		cmocka_unit_test(test_global_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
