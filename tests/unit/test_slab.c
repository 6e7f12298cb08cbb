/* test_slab.c - fixed-size objects in chunks (node/base/slab.h): objects are distinct, zeroed and
 * never overlap; a chunk goes back to the env once empty (one empty chunk is kept while others
 * are in use, none once nothing is out); fini frees everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/base/slab.h"
#include "tests/unit/count_env.h"

enum { SIZE = 904, N = 1000 };

static void test_alloc_free(void **state)
{
	(void)state;
	count_env c;
	count_env_init(&c, 1);
	konce_slab sl;
	konce_slab_init(&sl, &c.env, SIZE);
	assert_int_equal(sl.size, SIZE); /* a multiple of 8: no padding */
	assert_true(sl.per >= 64);
	assert_int_equal(c.live, 0); /* nothing until the first object */

	static uint8_t *p[N];
	for (unsigned i = 0; i < N; i++) {
		p[i] = konce_slab_alloc(&sl);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 8, 0);
		for (unsigned k = 0; k < SIZE; k++)
			assert_int_equal(p[i][k], 0);
		memset(p[i], (int)(i & 0xff) | 1, SIZE);
	}
	unsigned chunks = (N + sl.per - 1) / sl.per;
	assert_int_equal(sl.n, chunks);
	/* no object overlaps another: each still holds what was written */
	for (unsigned i = 0; i < N; i++)
		for (unsigned k = 0; k < SIZE; k += 97)
			assert_int_equal(p[i][k], (i & 0xff) | 1);

	/* every other object back: no chunk empties, and the objects are handed out again */
	for (unsigned i = 0; i < N; i += 2)
		konce_slab_free(&sl, p[i]);
	assert_int_equal(sl.n, chunks);
	for (unsigned i = 0; i < N; i += 2) {
		p[i] = konce_slab_alloc(&sl);
		assert_non_null(p[i]);
		assert_int_equal(p[i][0], 0); /* zeroed again */
		memset(p[i], (int)(i & 0xff) | 1, SIZE);
	}
	assert_int_equal(sl.n, chunks);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(p[i][SIZE - 1], (i & 0xff) | 1);

	/* all back but one: one empty chunk is kept, the others return to the env */
	for (unsigned i = 1; i < N; i++)
		konce_slab_free(&sl, p[i]);
	assert_int_equal(sl.n, 2);
	assert_int_equal(c.live, 3); /* p[0]'s chunk, the empty one and the chunk index */
	void *q = konce_slab_alloc(&sl);
	assert_non_null(q);
	assert_int_equal(sl.n, 2);
	konce_slab_free(&sl, NULL);
	konce_slab_free(&sl, q);
	konce_slab_free(&sl, p[0]);
	assert_int_equal(sl.n, 0); /* nothing out: nothing held */
	assert_int_equal(c.live, 0);
	assert_non_null(q = konce_slab_alloc(&sl)); /* and usable again */
	konce_slab_fini(&sl);
	assert_int_equal(c.live, 0);
}

/* Objects freed in an arbitrary order: every chunk is found from its objects. */
static void test_scattered(void **state)
{
	(void)state;
	count_env c;
	count_env_init(&c, 2);
	konce_slab sl;
	konce_slab_init(&sl, &c.env, 100);
	assert_int_equal(sl.size, 104);
	static void *p[N * 4];
	for (unsigned i = 0; i < N * 4; i++)
		assert_non_null(p[i] = konce_slab_alloc(&sl));
	for (unsigned i = 0; i < N * 4; i++) {
		unsigned j = (unsigned)((uint64_t)i * 2654435761u % (N * 4)); /* a permutation: 4000 is coprime to it */
		konce_slab_free(&sl, p[j]);
	}
	assert_int_equal(sl.n, 0);
	assert_int_equal(c.live, 0);
	konce_slab_fini(&sl);
	assert_int_equal(c.live, 0);
}

/* The default env's chunks are mappings of their own: the same behaviour. */
static void test_mapped(void **state)
{
	(void)state;
	konce_slab sl;
	konce_slab_init(&sl, konce_env_default(), SIZE);
	static uint8_t *p[N];
	for (unsigned i = 0; i < N; i++) {
		assert_non_null(p[i] = konce_slab_alloc(&sl));
		assert_int_equal(p[i][SIZE / 2], 0);
		memset(p[i], (int)(i & 0xff) | 1, SIZE);
	}
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(p[i][0], (i & 0xff) | 1);
	assert_int_equal(sl.n, (N + sl.per - 1) / sl.per);
	for (unsigned i = 0; i < N; i++)
		konce_slab_free(&sl, p[N - 1 - i]);
	assert_int_equal(sl.n, 0);
	konce_slab_fini(&sl);
	assert_int_equal(sl.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_scattered),
		cmocka_unit_test(test_mapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
