/* test_khtab.c - the bounded keyed-hash table (node/base/khtab.h) and the token bucket
 * (node/base/tbucket.h) that the rate limits, the relay and the rendezvous table are built on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/base/khtab.h"
#include "node/base/tbucket.h"
#include "tests/unit/count_env.h"

struct ent {
	uint8_t key[4];
	uint32_t v;
};

static void test_sizes(void **state)
{
	(void)state;
	count_env c;
	count_env_init(&c, 1);
	konce_khtab t;
	assert_int_equal(konce_khtab_init(&t, &c.env, 0, 64, sizeof(struct ent)), -EINVAL);
	assert_int_equal(konce_khtab_init(&t, &c.env, 65, 64, sizeof(struct ent)), -EINVAL);
	assert_int_equal(c.live, 0);

	assert_int_equal(konce_khtab_init(&t, &c.env, 33, 64, sizeof(struct ent)), 0);
	assert_int_equal(konce_khtab_size(&t), 64); /* rounded up to a power of two */
	assert_int_equal(konce_khtab_run(&t), KONCE_KHTAB_RUN);
	for (uint32_t i = 0; i < konce_khtab_size(&t); i++) {
		const struct ent *e = konce_khtab_entry(&t, i);
		assert_int_equal(e->v, 0); /* zeroed */
	}
	assert_int_equal(c.live, 1);
	konce_khtab_fini(&t, &c.env);
	assert_int_equal(c.live, 0);
	assert_null(t.slots);
	konce_khtab_fini(&t, &c.env); /* a wiped table frees nothing twice */
	assert_int_equal(c.live, 0);

	/* a table smaller than a run: the run is the whole table, each slot once */
	assert_int_equal(konce_khtab_init(&t, &c.env, 3, 64, sizeof(struct ent)), 0);
	assert_int_equal(konce_khtab_size(&t), 4);
	assert_int_equal(konce_khtab_run(&t), 4);
	uint32_t home = konce_khtab_home(&t, "abcd", 4);
	bool seen[4] = {false};
	for (unsigned i = 0; i < konce_khtab_run(&t); i++) {
		uint32_t idx = konce_khtab_index(&t, home, i);
		assert_true(idx < 4);
		assert_false(seen[idx]);
		seen[idx] = true;
		assert_ptr_equal(konce_khtab_at(&t, home, i), konce_khtab_entry(&t, idx));
	}
	konce_khtab_fini(&t, &c.env);
}

/* The home of a key depends on the table's random hash key: two tables put the same keys in
 * different places, and one table always in the same place. */
static void test_keyed_home(void **state)
{
	(void)state;
	count_env c;
	count_env_init(&c, 2);
	konce_khtab a, b;
	assert_int_equal(konce_khtab_init(&a, &c.env, 1024, 1024, sizeof(struct ent)), 0);
	assert_int_equal(konce_khtab_init(&b, &c.env, 1024, 1024, sizeof(struct ent)), 0);
	unsigned same = 0, used = 0;
	static bool hit[1024];
	for (uint32_t k = 0; k < 256; k++) {
		uint8_t key[4] = {(uint8_t)k, 1, 2, 3};
		uint32_t ha = konce_khtab_home(&a, key, sizeof(key));
		assert_int_equal(ha, konce_khtab_home(&a, key, sizeof(key)));
		assert_true(ha < 1024);
		same += ha == konce_khtab_home(&b, key, sizeof(key));
		used += !hit[ha];
		hit[ha] = true;
	}
	assert_true(same < 8);   /* 256 keys in 1024 slots: about 0.25 agree by chance */
	assert_true(used > 200); /* spread, not clustered (about 226 expected) */
	konce_khtab_fini(&a, &c.env);
	konce_khtab_fini(&b, &c.env);
}

static void test_bucket(void **state)
{
	(void)state;
	const int64_t full = konce_tbucket_units(100);
	assert_int_equal(full, 100000000);
	/* 10 units per second: 0.5 s refills 5 units, exactly */
	assert_int_equal(konce_tbucket_refill(0, 1000, 1000 + 500000, 10, full), konce_tbucket_units(5));
	/* never above full */
	assert_int_equal(konce_tbucket_refill(konce_tbucket_units(99), 0, 1000000, 10, full), full);
	/* a clock that went back refills nothing */
	assert_int_equal(konce_tbucket_refill(konce_tbucket_units(7), 5000, 4000, 10, full), konce_tbucket_units(7));
	/* debt is paid back at the rate */
	assert_int_equal(konce_tbucket_refill(-konce_tbucket_units(20), 0, 1000000, 10, full),
			 -konce_tbucket_units(10));
	/* deep debt and an enormous wait: full, no overflow */
	assert_int_equal(konce_tbucket_refill(-((int64_t)1 << 62), 0, UINT64_MAX, UINT32_MAX, full), full);
	assert_int_equal(konce_tbucket_refill(-((int64_t)1 << 62), 0, UINT64_MAX, 1, full), full);
	/* the largest wait that does not fill the bucket */
	int64_t b = konce_tbucket_refill(0, 0, (uint64_t)full / 3, 3, full);
	assert_true(b <= full && b >= full - 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_keyed_home),
		cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
