/* test_load.c - load measurement and the proof-of-work demand curve. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/load.h"
#include "node/base/wire.h"

#define P ((uint64_t)KONCE_LOAD_PERIOD_MS * 1000)

/* Charges `units` in period p (spread over 10 calls) and returns the demand at the start of p + 1. */
static unsigned period(konce_load *l, uint64_t p, uint64_t units)
{
	for (int i = 0; i < 10; i++)
		konce_load_charge(l, (unsigned)(units / 10), p * P + (uint64_t)i * P / 10);
	return konce_load_bits(l, 0, (p + 1) * P);
}

/* The same for work on behalf of sources that proved their address. */
static unsigned period_proven(konce_load *l, uint64_t p, uint64_t units)
{
	for (int i = 0; i < 10; i++)
		konce_load_charge_proven(l, (unsigned)(units / 10), p * P + (uint64_t)i * P / 10);
	return konce_load_bits(l, 0, (p + 1) * P);
}

static void test_idle_is_free(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 1000, 0);
	assert_int_equal(konce_load_bits(&l, 0, 0), 0);
	for (uint64_t p = 0; p < 50; p++)
		assert_int_equal(period(&l, p, 490), 0); /* 49% of capacity: nobody pays */
	assert_true(l.level <= 490);
}

static void test_rises_with_load(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 1000, 0);
	/* steady load at exactly capacity: level 500, 750, 875, 938, 969, 985, 993, 997, 999, 1000 */
	static const unsigned want[] = {6, 10, 12, 13, 14, 14, 14, 14, 14, 15, 15, 15};
	for (uint64_t p = 0; p < sizeof(want) / sizeof(want[0]); p++)
		assert_int_equal(period(&l, p, 1000), want[p]);
	assert_int_equal(l.level, 1000);
	/* 2x capacity converges to 2000 permille = 15 + 1000 / 250 = 19 bits */
	for (uint64_t p = 12; p < 40; p++)
		period(&l, p, 2000);
	assert_int_equal(l.level, 2000);
	assert_int_equal(l.bits, 19);
	/* a source with no overdraft pays at most BASE_MAX; an overdrawn one the curve + 2, at most MAX */
	assert_int_equal(konce_load_bits(&l, 0, 40 * P), KONCE_LOAD_BITS_BASE_MAX);
	assert_int_equal(konce_load_bits(&l, 1, 40 * P), KONCE_LOAD_BITS_MAX);
	/* the demand does not change inside a period, whatever is charged */
	konce_load_charge(&l, 1000000, 40 * P + 1);
	assert_int_equal(konce_load_bits(&l, 0, 41 * P - 1), KONCE_LOAD_BITS_BASE_MAX);
	assert_int_equal(l.bits, 19);
	assert_int_equal(konce_load_bits(&l, 1, 41 * P), KONCE_LOAD_BITS_MAX);
	assert_int_equal(l.bits, 32);
	assert_int_equal(konce_load_bits(&l, 0, 41 * P), KONCE_LOAD_BITS_BASE_MAX);
}

static void test_flood_and_recovery(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 1000, 7); /* periods need not start at 0 */
	uint64_t t = 7;
	konce_load_charge(&l, 10000, t);
	assert_int_equal(konce_load_bits(&l, 0, t + P), KONCE_LOAD_BITS_BASE_MAX);
	assert_int_equal(l.bits, 31); /* level 5000 */
	konce_load_charge(&l, 10000, t + P);
	assert_int_equal(konce_load_bits(&l, 0, t + 2 * P), KONCE_LOAD_BITS_BASE_MAX);
	assert_int_equal(l.bits, 32);
	for (uint64_t p = 2; p < 10; p++)
		konce_load_charge(&l, 10000, t + p * P);
	/* the flood stops: quiet periods each halve the level (9961 -> 4980 -> 2490 -> ...) */
	static const unsigned want[] = {32, 30, 20, 15, 8, 0, 0}; /* [0]: the last busy period */
	for (uint64_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		unsigned b = konce_load_bits(&l, 0, t + (10 + i) * P);
		assert_int_equal(l.bits, want[i]);
		assert_int_equal(b, want[i] < KONCE_LOAD_BITS_BASE_MAX ? want[i] : KONCE_LOAD_BITS_BASE_MAX);
	}
	for (uint64_t i = 17; i < 40; i++)
		konce_load_bits(&l, 0, t + i * P);
	assert_int_equal(l.level, 0); /* exactly 0, not stuck at 1 */
}

/* Nobody calls for a while: the skipped periods count as empty ones. */
static void test_long_gap(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 1000, 0);
	for (uint64_t p = 0; p < 10; p++)
		period(&l, p, 100000); /* 100x capacity */
	assert_int_equal(konce_load_bits(&l, 1, 10 * P), KONCE_LOAD_BITS_MAX);
	uint32_t lv = l.level;
	/* three periods later in one call: the last busy period closed, then two empty ones */
	konce_load_charge(&l, 100000, 10 * P);
	konce_load_charge(&l, 0, 13 * P + 5);
	assert_int_equal(l.level, (lv + (100000 - lv + 1) / 2 + 1) / 2 / 2);
	assert_int_equal(l.period_start, 13 * P);
	/* an hour later: 0, however high it was */
	assert_int_equal(konce_load_bits(&l, 0, 13 * P + 3600ull * 1000000), 0);
	assert_int_equal(l.level, 0);
	/* even the highest recordable level is gone after a gap of 22 periods */
	konce_load_init(&l, 1, 0);
	konce_load_charge(&l, UINT_MAX, 0);
	konce_load_charge(&l, UINT_MAX, 0);
	assert_int_equal(konce_load_bits(&l, 1, P), KONCE_LOAD_BITS_MAX);
	assert_int_equal(l.level, 500000); /* half of the 1000x cap */
	assert_int_equal(konce_load_bits(&l, 0, 22 * P), 0);
	assert_int_equal(l.level, 0);
}

static void test_overdraft(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 1000, 0);
	/* an idle server still makes an overdrawn source pay */
	assert_int_equal(konce_load_bits(&l, 0, 0), 0);
	assert_int_equal(konce_load_bits(&l, 1, 0), 10);
	assert_int_equal(konce_load_bits(&l, 2, 0), 12);
	assert_int_equal(konce_load_bits(&l, 4, 0), 16);
	assert_int_equal(konce_load_bits(&l, 5, 0), 18);
	/* ... but never more than a client can pay within the cookie lifetime */
	assert_int_equal(KONCE_LOAD_BITS_MAX, 20);
	assert_int_equal(konce_load_bits(&l, 6, 0), 20);
	assert_int_equal(konce_load_bits(&l, 11, 0), 20);
	assert_int_equal(konce_load_bits(&l, 15, 0), 20);
	assert_int_equal(konce_load_bits(&l, UINT_MAX, 0), 20);
	/* on a loaded server the overdraft comes on top of the base demand */
	for (uint64_t p = 0; p < 12; p++)
		period(&l, p, 1000);
	assert_int_equal(konce_load_bits(&l, 0, 12 * P), 15);
	assert_int_equal(konce_load_bits(&l, 1, 12 * P), 17);
	assert_int_equal(konce_load_bits(&l, 2, 12 * P), 19);
	assert_int_equal(konce_load_bits(&l, 3, 12 * P), 20);
	assert_int_equal(konce_load_bits(&l, 9, 12 * P), 20);
	/* and never beyond the cap, whatever the load */
	for (uint64_t p = 12; p < 20; p++)
		period(&l, p, 1000000);
	for (unsigned o = 1; o <= 15; o++)
		assert_int_equal(konce_load_bits(&l, o, 20 * P), KONCE_LOAD_BITS_MAX);
	assert_int_equal(konce_load_bits(&l, 0, 20 * P), KONCE_LOAD_BITS_BASE_MAX);
}

/* Sustained overload by proven work lets the demand on sources with no overdraft rise past
 * BASE_MAX, one bit per SURGE_PERIODS overloaded periods in a row, to SURGE_MAX and no further;
 * one period back at capacity ends the surge, and the next one starts from scratch.  Unproven
 * load (spoofed junk) never starts one, however high. */
static void test_surge(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 1000, 0);
	assert_int_equal(KONCE_LOAD_SURGE_PERIODS, 5);
	assert_int_equal(KONCE_LOAD_BITS_SURGE_MAX, 18);
	/* 2x capacity: level 1000, 1500, 1750, 1875, ... 2000; the curve passes 16 from the 2nd period */
	static const unsigned want[] = {15, 16, 16, 16, 16, 17, 17, 17, 17, 17,
					18, 18, 18, 18, 18, 18, 18, 18, 18, 18};
	for (uint64_t p = 0; p < sizeof(want) / sizeof(want[0]); p++) {
		assert_int_equal(period_proven(&l, p, 2000), want[p]);
		/* an overdrawn source never pays less than one without overdraft */
		assert_true(konce_load_bits(&l, 1, (p + 1) * P) >= want[p]);
	}
	for (uint64_t p = 20; p < 200; p++) /* however long, however high */
		assert_int_equal(period_proven(&l, p, 100000), KONCE_LOAD_BITS_SURGE_MAX);
	assert_int_equal(l.bits, 32);

	/* unproven load: the curve reads 32 but the cap stays at BASE_MAX */
	konce_load_init(&l, 1000, 0);
	for (uint64_t p = 0; p < 100; p++)
		assert_int_equal(period(&l, p, 100000), KONCE_LOAD_BITS_BASE_MAX);
	assert_int_equal(l.bits, 32);
	assert_int_equal(l.overloaded, 0);
	/* ... and proven work at 1.25x capacity or less is not a surge either */
	konce_load_init(&l, 1000, 0);
	for (uint64_t p = 0; p < 100; p++) {
		konce_load_charge(&l, 50000, p * P);
		assert_true(period_proven(&l, p, 1250) <= KONCE_LOAD_BITS_BASE_MAX);
	}
	assert_int_equal(l.overloaded, 0);

	/* a surge ends with the first period back at capacity, and restarts from nothing */
	konce_load_init(&l, 1000, 0);
	for (uint64_t p = 0; p < 30; p++)
		period_proven(&l, p, 2000);
	assert_int_equal(konce_load_bits(&l, 0, 30 * P), 18);
	assert_int_equal(period_proven(&l, 30, 0), 15); /* level 1000 */
	assert_int_equal(l.overloaded, 0);
	assert_int_equal(period_proven(&l, 31, 2000), 16); /* level 1500: the curve's 17 capped at 16 again */
	/* skipped (empty) periods count: a long silence ends a surge */
	for (uint64_t p = 32; p < 60; p++)
		period_proven(&l, p, 2000);
	assert_int_equal(konce_load_bits(&l, 0, 60 * P), 18);
	assert_int_equal(konce_load_bits(&l, 0, 65 * P), 0);
	assert_int_equal(l.overloaded, 0);
	assert_int_equal(l.proven_level, l.level); /* all of it was proven */
}

static void test_edges(void **state)
{
	(void)state;
	konce_load l;
	konce_load_init(&l, 0, 100 * P); /* capacity 0 is taken as 1 */
	assert_int_equal(l.capacity, 1);
	konce_load_charge(&l, 1, 100 * P);
	/* a now before the period start changes nothing */
	assert_int_equal(konce_load_bits(&l, 0, 50 * P), 0);
	assert_int_equal(l.used, 1);
	/* 1 unit of capacity 1 is a 1000 permille sample: level 500, the first demand step */
	assert_int_equal(konce_load_bits(&l, 0, 101 * P), KONCE_LOAD_BITS_START);
	assert_int_equal(l.level, 500);
	/* the last permille before 500 is free, 500 is not */
	konce_load_init(&l, 2000, 0);
	period(&l, 0, 1990); /* sample 995 -> level 498 */
	assert_int_equal(l.level, 498);
	assert_int_equal(konce_load_bits(&l, 0, P), 0);
	konce_load_init(&l, 2000, 0);
	period(&l, 0, 2000);
	assert_int_equal(konce_load_bits(&l, 0, P), KONCE_LOAD_BITS_START);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_is_free),
		cmocka_unit_test(test_rises_with_load),
		cmocka_unit_test(test_flood_and_recovery),
		cmocka_unit_test(test_long_gap),
		cmocka_unit_test(test_overdraft),
		cmocka_unit_test(test_surge),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
