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

#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "testenv.h"

enum { N = 2000, WAVE = 128 };

typedef struct world {
	test_env tenv_a, tenv_b;
	konce_identity *id_a, *id_b;
	konce_ep *a, *b; /* a dials to b, from one address and one key */
	konce_addr addr_a, addr_b;
	uint64_t now;
	unsigned nconn, inflight, failed;
} world;

static void make_world(world *w, unsigned b_max)
{
	memset(w, 0, sizeof *w);
	test_env_init(&w->tenv_a, 17);
	test_env_init(&w->tenv_b, 18);
	assert_int_equal(konce_identity_generate(&w->id_a, &w->tenv_a.env), 0);
	assert_int_equal(konce_identity_generate(&w->id_b, &w->tenv_b.env), 0);
	/* every session from one address and key, as in bench_sessions: per-source and per-key caps
	 * raised so that only the table's size binds */
	konce_ep_config a = {.env = &w->tenv_a.env, .identity = w->id_a, .max_sessions = 2 * N + 16, .out_ring = 4096};
	konce_ep_config b = {.env = &w->tenv_b.env, .identity = w->id_b, .max_sessions = b_max,
			     .max_per_source = 2 * N, .capacity = 2000000, .rl_rate = 1u << 24,
			     .rl_burst = 1u << 24, .out_ring = 4096};
	w->now = 1000000;
	assert_int_equal(konce_ep_new(&w->a, &a, w->now), 0);
	assert_int_equal(konce_ep_new(&w->b, &b, w->now), 0);
	assert_int_equal(konce_addr_parse(&w->addr_a, "192.0.2.1:1000"), 0);
	assert_int_equal(konce_addr_parse(&w->addr_b, "198.51.100.2:7807"), 0);
}

static void free_world(world *w)
{
	konce_ep_free(w->a);
	konce_ep_free(w->b);
	konce_identity_free(w->id_a);
	konce_identity_free(w->id_b);
	assert_int_equal(w->tenv_a.allocs, w->tenv_a.frees);
	assert_int_equal(w->tenv_b.allocs, w->tenv_b.frees);
}

static void drain(world *w)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(w->a, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED) {
			w->inflight--;
			w->nconn++;
		}
		if (ev.type == KONCE_EV_FAILED) {
			w->inflight--;
			w->failed++;
		}
	}
	while (konce_ep_poll_event(w->b, &ev))
		;
}

static void pump(world *w)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		while (konce_ep_poll_datagram(w->a, buf, &len, &to)) {
			moved = 1;
			konce_ep_input(w->b, buf, len, &w->addr_a, w->now, NULL);
		}
		while (konce_ep_poll_datagram(w->b, buf, &len, &to)) {
			moved = 1;
			konce_ep_input(w->a, buf, len, &w->addr_b, w->now, NULL);
		}
		drain(w);
	}
}

/* n more sessions from a to b. */
static void dial(world *w, unsigned n)
{
	unsigned started = 0, want = w->nconn + n;
	while (w->nconn < want) {
		while (started < n && w->inflight < WAVE) {
			uint32_t c;
			assert_int_equal(konce_ep_connect(w->a, konce_identity_public(w->id_b), &w->addr_b, NULL, 0, w->now, &c),
					 0);
			started++;
			w->inflight++;
		}
		pump(w);
		w->now += 1000;
		konce_ep_timer(w->a, w->now);
		konce_ep_timer(w->b, w->now);
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
	free_world(w);
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
	pump(w);
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
	free_world(w);
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
