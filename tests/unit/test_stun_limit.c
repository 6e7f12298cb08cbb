/* test_stun_limit.c - the STUN responder's per-source budget of excess answer bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/stun_limit.h"
#include "tests/unit/parse_addr.h"

static void test_budget(void **state)
{
	(void)state;
	static konce_stun_limit l;
	const uint8_t key[16] = {1, 2, 3};
	konce_stun_limit_init(&l, key);
	konce_addr a = addr("203.0.113.7:4000"), a2 = addr("203.0.113.7:4001"), b = addr("198.51.100.9:4000");
	uint64_t now = 1000000;
	/* an answer no larger than its request always goes */
	for (int i = 0; i < 1000; i++)
		assert_true(konce_stun_limit_allow(&l, &a, 100, 100, now));
	/* a fresh source gets the burst of excess bytes, then nothing more at this instant */
	unsigned n = 0;
	while (konce_stun_limit_allow(&l, &a, 20, 88, now))
		n++;
	assert_int_equal(n, KONCE_STUN_LIMIT_BURST / 68);
	/* another port of the same IP shares the budget; another IP has its own */
	assert_false(konce_stun_limit_allow(&l, &a2, 20, 88, now));
	assert_true(konce_stun_limit_allow(&l, &b, 20, 88, now));
	/* the refill: KONCE_STUN_LIMIT_RATE bytes per second, never above the burst */
	now += 1000000;
	n = 0;
	while (konce_stun_limit_allow(&l, &a, 20, 88, now))
		n++;
	assert_int_equal(n, (KONCE_STUN_LIMIT_RATE + KONCE_STUN_LIMIT_BURST % 68) / 68);
	now += 3600ull * 1000000;
	n = 0;
	while (konce_stun_limit_allow(&l, &a, 20, 88, now))
		n++;
	assert_int_equal(n, KONCE_STUN_LIMIT_BURST / 68);
	/* small steps add up (no refill lost to rounding) */
	unsigned got = 0;
	for (int i = 0; i < 1000; i++) {
		now += 1000; /* 1 ms: a quarter byte each */
		got += konce_stun_limit_allow(&l, &a, 20, 21, now);
	}
	assert_true(got >= KONCE_STUN_LIMIT_RATE - 2 && got <= KONCE_STUN_LIMIT_RATE + 2);
}

static void test_ipv6_prefix(void **state)
{
	(void)state;
	static konce_stun_limit l;
	const uint8_t key[16] = {9};
	konce_stun_limit_init(&l, key);
	konce_addr a = addr("[2001:db8:1:2::1]:5000"), a2 = addr("[2001:db8:1:2:ffff::7]:5000");
	while (konce_stun_limit_allow(&l, &a, 20, 88, 5))
		;
	assert_false(konce_stun_limit_allow(&l, &a2, 20, 88, 5)); /* same /64: same budget */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_ipv6_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
