/* test_ratelimit.c - per-source token buckets: refill, burst, overdraft levels, source
 * aggregation, eviction when full, and no allocation after construction. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/base/ratelimit.h"
#include "tests/unit/count_env.h"

#define SEC 1000000ull

static konce_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	konce_addr x;
	const uint8_t ip[4] = {a, b, c, d};
	konce_addr_from_v4(&x, ip, port);
	return x;
}

static konce_addr parse(const char *s)
{
	konce_addr x;
	assert_int_equal(konce_addr_parse(&x, s), 0);
	return x;
}

static void test_bad_args(void **state)
{
	(void)state;
	konce_ratelimit *rl = (konce_ratelimit *)1;
	const konce_env *e = konce_env_default();
	assert_int_equal(konce_ratelimit_new(&rl, e, 0, 1, 1), -EINVAL);
	assert_null(rl);
	assert_int_equal(konce_ratelimit_new(&rl, e, 8, 0, 1), -EINVAL);
	assert_int_equal(konce_ratelimit_new(&rl, e, 8, 1, 0), -EINVAL);
	assert_int_equal(konce_ratelimit_new(&rl, e, (1u << 24) + 1, 1, 1), -EINVAL);
	konce_ratelimit_free(NULL);
}

static void test_refill_and_burst(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 1);
	konce_ratelimit *rl;
	/* 10 units/s, bucket of 20 */
	assert_int_equal(konce_ratelimit_new(&rl, &ce.env, 64, 10, 20), 0);
	konce_addr a = v4(192, 0, 2, 1, 1000);
	uint64_t t = 5 * SEC;
	assert_int_equal(konce_ratelimit_level(rl, &a, t), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 20, t), 0); /* the whole burst at once */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t), 1);  /* one unit of debt */
	assert_int_equal(konce_ratelimit_level(rl, &a, t + SEC / 10 - 1), 1);
	assert_int_equal(konce_ratelimit_level(rl, &a, t + SEC / 10), 0); /* 1 unit back after 100 ms */
	assert_int_equal(konce_ratelimit_level(rl, &a, t), 1);             /* level() did not charge */
	/* 2.1 s refills exactly 21 units: a full bucket again, and no more */
	t += 2 * SEC + SEC / 10;
	assert_int_equal(konce_ratelimit_charge(rl, &a, 20, t), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t), 1);
	/* an hour of idling still caps at one burst */
	t += 3600 * SEC;
	assert_int_equal(konce_ratelimit_charge(rl, &a, 20, t), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t), 1);
	/* a steady 10 units/s never runs dry */
	t += 10 * SEC;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t + (uint64_t)i * SEC / 10), 0);
	/* a now earlier than the last charge refills nothing (and does not crash) */
	t += 200 * SEC;
	assert_int_equal(konce_ratelimit_charge(rl, &a, 20, t), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t - SEC), 1);
	assert_int_equal(konce_ratelimit_level(rl, &a, t - SEC), 1);
	assert_int_equal(konce_ratelimit_level(rl, &a, t + SEC / 10), 0); /* time counts from t */
	konce_ratelimit_free(rl);
	assert_int_equal(ce.live, 0);
}

static void test_overdraft_levels(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 2);
	konce_ratelimit *rl;
	assert_int_equal(konce_ratelimit_new(&rl, &ce.env, 64, 10, 10), 0);
	konce_addr a = v4(198, 51, 100, 9, 1);
	uint64_t t = 0;
	assert_int_equal(konce_ratelimit_charge(rl, &a, 10, t), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t), 1);  /* debt 1 */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 9, t), 1);  /* debt 10 = one burst */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1, t), 2);  /* debt 11 */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 9, t), 2);  /* debt 20 */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 25, t), 5); /* debt 45 */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1000000, t), 15);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 1000000, t), 15);
	/* debt is capped at 15 bursts: 15 s pays it off, 1 s more refills the bucket */
	assert_int_equal(konce_ratelimit_level(rl, &a, t + 15 * SEC - 1), 1);
	assert_int_equal(konce_ratelimit_level(rl, &a, t + 15 * SEC), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &a, 10, t + 16 * SEC), 0);
	/* paying off debt lowers the level step by step */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 40, t + 16 * SEC), 4);
	assert_int_equal(konce_ratelimit_level(rl, &a, t + 17 * SEC), 3);
	assert_int_equal(konce_ratelimit_level(rl, &a, t + 19 * SEC), 1);
	konce_ratelimit_free(rl);
	assert_int_equal(ce.live, 0);
}

static void test_sources(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 3);
	konce_ratelimit *rl;
	assert_int_equal(konce_ratelimit_new(&rl, &ce.env, 1024, 1, 5), 0);

	/* one IPv6 /64 is one source, whatever the interface id and port */
	konce_addr a = parse("[2001:db8:1:2::1]:1");
	konce_addr b = parse("[2001:db8:1:2:ffff:eeee:dddd:cccc]:2");
	konce_addr c = parse("[2001:db8:1:3::1]:1"); /* the next /64 */
	assert_int_equal(konce_ratelimit_charge(rl, &a, 5, 0), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &b, 1, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &a, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &c, 0), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &c, 5, 0), 0);

	/* IPv4 keys on the whole address; the port does not matter */
	konce_addr h1 = v4(192, 0, 2, 1, 1), h1p = v4(192, 0, 2, 1, 2), h2 = v4(192, 0, 2, 2, 1);
	assert_int_equal(konce_ratelimit_charge(rl, &h1, 6, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &h1p, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &h2, 0), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &h2, 5, 0), 0);

	/* a v4 host and the v6 /64 ::/64 are different sources */
	konce_addr z4 = v4(0, 0, 0, 1, 1), z6 = parse("[::1]:1");
	assert_int_equal(konce_ratelimit_charge(rl, &z6, 6, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &z4, 0), 0);

	/* the node's traversal peers are path handles (addr.h): one source each, so one peer's
	 * handshakes never price out another's */
	konce_addr t1 = konce_addr_path(1), t2 = konce_addr_path(2);
	assert_int_equal(konce_ratelimit_charge(rl, &t1, 6, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &t2, 0), 0);
	assert_int_equal(konce_ratelimit_charge(rl, &t2, 5, 0), 0);
	/* and a path is no address: not the /64 of [::], not any v4 host */
	assert_int_equal(konce_ratelimit_level(rl, &z6, 0), 1);
	konce_addr z4b = v4(0, 0, 0, 0, 0);
	assert_int_equal(konce_ratelimit_level(rl, &z4b, 0), 0);
	/* real datagrams from the discard prefix 100::/64 are one /64 like any other: no longer
	 * a source per address, and never a traversal path */
	konce_addr r1 = parse("[100::5]:7"), r2 = parse("[100::6]:7");
	assert_int_equal(r1.path, 0);
	assert_int_equal(konce_ratelimit_charge(rl, &r1, 6, 0), 1);
	assert_int_equal(konce_ratelimit_level(rl, &r2, 0), 1);
	konce_addr t5 = konce_addr_path(5);
	assert_int_equal(konce_ratelimit_level(rl, &t5, 0), 0);
	konce_ratelimit_free(rl);
	assert_int_equal(ce.live, 0);
}

/* With 8 slots one probe run covers the whole table, so which entry is evicted does not depend on
 * the hash key: always the one charged least recently. */
static void test_eviction(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 4);
	konce_ratelimit *rl;
	assert_int_equal(konce_ratelimit_new(&rl, &ce.env, 5, 1, 1), 0); /* rounds up to 8 */
	konce_addr s[12];
	for (int i = 0; i < 12; i++)
		s[i] = v4(203, 0, 113, (uint8_t)i, 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(konce_ratelimit_charge(rl, &s[i], 3, (uint64_t)i), 2);
	for (int i = 0; i < 8; i++) /* all 8 fit: nothing evicted yet */
		assert_int_equal(konce_ratelimit_level(rl, &s[i], 8), 2);

	assert_int_equal(konce_ratelimit_charge(rl, &s[1], 0, 9), 2);   /* s[1] is fresh again */
	assert_int_equal(konce_ratelimit_charge(rl, &s[8], 3, 10), 2);  /* evicts s[0] */
	assert_int_equal(konce_ratelimit_level(rl, &s[0], 10), 0);
	assert_int_equal(konce_ratelimit_level(rl, &s[1], 10), 2);
	assert_int_equal(konce_ratelimit_charge(rl, &s[9], 3, 11), 2);  /* evicts s[2], not s[1] */
	assert_int_equal(konce_ratelimit_level(rl, &s[2], 11), 0);
	assert_int_equal(konce_ratelimit_level(rl, &s[1], 11), 2);
	/* an evicted source comes back with a full bucket: eviction never hurts it */
	assert_int_equal(konce_ratelimit_charge(rl, &s[0], 1, 12), 0);
	assert_int_equal(konce_ratelimit_level(rl, &s[3], 12), 0); /* s[0] took s[3]'s slot */
	for (int i = 4; i < 10; i++)
		assert_int_equal(konce_ratelimit_level(rl, &s[i], 12), 2);
	konce_ratelimit_free(rl);
	assert_int_equal(ce.live, 0);
}

/* 200,000 charges from distinct sprayed sources: no allocation, and an honest overdrawn source's
 * level is either kept or reset to 0, never raised. */
static void test_spray_no_alloc(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 5);
	konce_ratelimit *rl;
	assert_int_equal(konce_ratelimit_new(&rl, &ce.env, 1024, 100, 10), 0);
	long allocs = ce.allocs, live = ce.live;
	konce_addr honest = v4(192, 0, 2, 77, 1), quiet = v4(192, 0, 2, 78, 1);
	assert_int_equal(konce_ratelimit_charge(rl, &honest, 35, 0), 3);
	assert_int_equal(konce_ratelimit_charge(rl, &quiet, 1, 0), 0);
	int evicted = 0;
	for (uint32_t i = 0; i < 200000; i++) {
		konce_addr x;
		uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 0, 1};
		if (i & 1)
			konce_addr_from_v6(&x, ip6, 443);
		else
			x = v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 1);
		assert_true(konce_ratelimit_charge(rl, &x, 1 + i % 20, 0) <= 15);
		unsigned lv = konce_ratelimit_level(rl, &honest, 0);
		assert_true(lv == 3 || lv == 0);
		if (lv == 0)
			evicted = 1;
		assert_true(konce_ratelimit_level(rl, &quiet, 0) == 0);
	}
	assert_true(evicted); /* a spray that big churns a 1024-slot table */
	assert_int_equal(ce.allocs, allocs);
	assert_int_equal(ce.live, live);
	konce_ratelimit_free(rl);
	assert_int_equal(ce.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_refill_and_burst),
		cmocka_unit_test(test_overdraft_levels),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_spray_no_alloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
