/* test_ep_table.c - the session table's rules (ep_table.c) cost a handful of index entries per
 * handshake, whatever the number of sessions: with thousands of incoming sessions held, admitting
 * one more, and evicting the idle-longest one to make room in a full table, look at a bounded
 * number of entries (the table_visits counter, not a clock).  What the rules decide (per-source and
 * per-key caps, the reserve, eviction, replacement) is covered by test_hs_hostile and
 * test_hostile_suite; here they must still decide the same while their cost stays flat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ep_crowd.h"

enum { N = 2000, WAVE = 128 };

typedef ep_crowd world;

/* every session from one address and key: per-source and per-key caps raised so that only the
 * table's size binds */
static void make_world(world *w, unsigned b_max) { crowd_make(w, 17, 2 * N + 16, b_max, 2 * N); }

/* n more sessions from a to b. */
static void dial(world *w, unsigned n)
{
	unsigned started = 0, want = w->nconn + n;
	while (w->nconn < want) {
		crowd_step(w, &started, n, WAVE);
		assert_int_equal(w->failed, 0);
		assert_true(w->now < 600000000);
	}
}

static const struct konce_ep_counters *cb(const world *w) { return konce_ep_counters(w->b); }

static void test_admission_cost_flat(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	make_world(w, 2 * N);
	dial(w, N / 10);
	uint64_t v0 = cb(w)->table_visits;
	dial(w, N / 10);
	uint64_t early = cb(w)->table_visits - v0; /* 200 admissions beside 200 to 400 sessions */
	dial(w, N - 2 * (N / 10));
	v0 = cb(w)->table_visits;
	dial(w, N / 10);
	uint64_t late = cb(w)->table_visits - v0; /* 200 more beside 2,000 to 2,200 */
	printf("# table visits for %u admissions: %llu beside %u sessions, %llu beside %u\n", N / 10,
	       (unsigned long long)early, N / 10, (unsigned long long)late, N);
	assert_int_equal(cb(w)->sessions_live, N + N / 10);
	/* one source node and one key node to look up per admission and seat (a bucket's chain may
	 * hold another), never the sessions: a walk would cost thousands per admission here */
	assert_true(late <= 6 * (N / 10));
	assert_true(late <= early + early / 2);
	assert_int_equal(cb(w)->sessions_evicted, 0);
	assert_int_equal(cb(w)->sessions_replaced, 0);
	crowd_free(w);
	test_free(w);
}

static void test_full_table_evicts_idle_longest(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	/* b's unreserved part (max - max / 8) is N: filled, every further admission evicts */
	unsigned bmax = N + N / 7;
	while (bmax - bmax / 8 > N)
		bmax--;
	while (bmax - bmax / 8 < N)
		bmax++;
	make_world(w, bmax);
	dial(w, N);
	assert_int_equal(cb(w)->sessions_live, N);
	assert_int_equal(cb(w)->sessions_evicted, 0);
	/* all idle past the eviction age (no message either way; below the idle close) */
	w->now += 11000000;
	konce_ep_timer(w->a, w->now);
	konce_ep_timer(w->b, w->now);
	crowd_pump(w);
	assert_int_equal(cb(w)->sessions_live, N);
	uint64_t v0 = cb(w)->table_visits, e0 = cb(w)->sessions_evicted;
	dial(w, 10);
	uint64_t v = cb(w)->table_visits - v0;
	printf("# 10 admissions into a full table of %u: %llu table visits, %llu evicted\n", N,
	       (unsigned long long)v, (unsigned long long)(cb(w)->sessions_evicted - e0));
	assert_int_equal(cb(w)->sessions_evicted - e0, 10);
	assert_int_equal(cb(w)->sessions_live, N);
	/* the idle-longest is at the head of the order: a few entries per admission */
	assert_true(v <= 10 * 8);
	crowd_free(w);
	test_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admission_cost_flat),
		cmocka_unit_test(test_full_table_evicts_idle_longest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
