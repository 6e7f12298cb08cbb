/* test_replay.c - the anti-replay window: fixed cases, the exact window edge, jumps of every size,
 * a seeded comparison against a reference model (a set of seen numbers plus the window rule), and
 * a window switching between its small and wide sizes.
 *
 * A failure prints its seed; REPLAY_SEED=<seed> reruns that one seed.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/replay.h"
#include "tests/unit/splitmix.h"

#define W ((uint64_t)KONCE_REPLAY_WINDOW)

static uint64_t below(uint64_t *s, uint64_t n) { return splitmix_below(s, n); }

static uint64_t cur_seed;

#define CHECK(cond, ...)                                                                            \
	do {                                                                                        \
		if (!(cond)) {                                                                      \
			print_error(__VA_ARGS__);                                                   \
			print_error("\n");                                                         \
			fail_msg("%s:%d: %s; seed %" PRIu64 " (rerun: REPLAY_SEED=%" PRIu64 ")",    \
				 __FILE__, __LINE__, #cond, cur_seed, cur_seed);                    \
		}                                                                                   \
	} while (0)

/* update() must refuse, and leave the struct byte for byte as it was. */
static void refuse(konce_replay *r, uint64_t n)
{
	konce_replay before = *r;
	assert_false(konce_replay_check(r, n));
	assert_false(konce_replay_update(r, n));
	assert_memory_equal(&before, r, sizeof(before));
}

static void accept(konce_replay *r, uint64_t n)
{
	konce_replay before = *r;
	assert_true(konce_replay_check(r, n));
	assert_memory_equal(&before, r, sizeof(before)); /* check() is read-only */
	assert_true(konce_replay_update(r, n));
	assert_false(konce_replay_check(r, n));
}

static void test_fresh(void **state)
{
	(void)state;
	konce_replay r;
	memset(&r, 0x5a, sizeof(r));
	konce_replay_init(&r);
	assert_int_equal(r.top, 0);
	refuse(&r, 0);
	assert_true(konce_replay_check(&r, 1));
	assert_true(konce_replay_check(&r, UINT64_MAX));
	accept(&r, 1);
	refuse(&r, 1);
	refuse(&r, 0);
	accept(&r, 2);
	assert_int_equal(r.top, 2);
}

static void test_in_order(void **state)
{
	(void)state;
	konce_replay r;
	konce_replay_init(&r);
	for (uint64_t n = 1; n <= 10000; n++)
		accept(&r, n);
	for (uint64_t n = 1; n <= 10000; n++)
		refuse(&r, n); /* duplicates in the window, too old below it */
	assert_true(konce_replay_check(&r, 10001));
}

static void test_out_of_order(void **state)
{
	(void)state;
	konce_replay r;
	konce_replay_init(&r);
	accept(&r, 5000);
	/* the whole window, newest first, then again: every number once */
	for (uint64_t n = 4999; n >= 5000 - W; n--)
		accept(&r, n);
	for (uint64_t n = 5000; n >= 5000 - W; n--)
		refuse(&r, n);
	refuse(&r, 5000 - W - 1);
	/* odd numbers first, then even, across a span that straddles several words */
	konce_replay_init(&r);
	for (uint64_t n = 1; n <= 1500; n += 2)
		accept(&r, n);
	for (uint64_t n = 2; n <= 1500; n += 2)
		accept(&r, n);
	for (uint64_t n = 1; n <= 1500; n++)
		refuse(&r, n);
}

/* top - KONCE_REPLAY_WINDOW is the oldest number accepted (replay.h), for every bit offset of top. */
static void test_window_edge(void **state)
{
	(void)state;
	for (uint64_t off = 0; off < 64; off++) {
		uint64_t top = 100000 + off;
		konce_replay r;
		konce_replay_init(&r);
		/* fill the ring completely so stale bits would show up as false duplicates */
		for (uint64_t n = top - W - 200; n < top - W - 1; n++)
			accept(&r, n);
		accept(&r, top);
		refuse(&r, top - W - 1);
		refuse(&r, top - W - 2);
		for (uint64_t n = top - W; n < top; n++)
			assert_true(konce_replay_check(&r, n));
		accept(&r, top - W);
		refuse(&r, top - W);
		/* one step forward and the edge moves with top */
		accept(&r, top + 1);
		refuse(&r, top - W); /* now too old as well as seen */
		accept(&r, top + 1 - W);
	}
}

static void test_jumps(void **state)
{
	(void)state;
	/* jumps of 1..40 words and a few huge ones, from every kind of filled ring */
	const uint64_t huge[] = {(uint64_t)1 << 40, (uint64_t)1 << 62, UINT64_MAX / 2};
	for (unsigned j = 0; j < 40 + 3; j++) {
		konce_replay r;
		konce_replay_init(&r);
		for (uint64_t n = 1; n <= 3000; n++)
			accept(&r, n);
		uint64_t to = j < 40 ? 3000 + 64 * (uint64_t)j + 17 : huge[j - 40];
		accept(&r, to);
		for (uint64_t n = to - 1; n >= to - W && n > 3000; n--)
			assert_true(konce_replay_check(&r, n)); /* nothing stale from the old words */
		for (uint64_t n = 1; n <= 3000; n++)
			assert_false(konce_replay_check(&r, n)); /* seen, or fallen out of the window */
		refuse(&r, to);
	}
	/* to the very top of the number space */
	konce_replay r;
	konce_replay_init(&r);
	accept(&r, 7);
	accept(&r, UINT64_MAX);
	refuse(&r, UINT64_MAX);
	refuse(&r, 7);
	refuse(&r, UINT64_MAX - W - 1);
	for (uint64_t n = UINT64_MAX - W; n < UINT64_MAX; n++)
		assert_true(konce_replay_check(&r, n));
	accept(&r, UINT64_MAX - W);
}

/* ---- against a reference model ---------------------------------------------------------------- */

struct model {
	uint64_t *set; /* open addressing, 0 = empty (0 is never inserted) */
	size_t cap;
	uint64_t top;
};

static bool model_seen(const struct model *m, uint64_t n)
{
	for (size_t i = (size_t)(splitmix64(&(uint64_t){n}) & (m->cap - 1));; i = (i + 1) & (m->cap - 1)) {
		if (m->set[i] == n)
			return true;
		if (m->set[i] == 0)
			return false;
	}
}

static bool model_check(const struct model *m, uint64_t n)
{
	if (n == 0)
		return false;
	if (n <= m->top && m->top - n > W)
		return false;
	return !model_seen(m, n);
}

static bool model_update(struct model *m, uint64_t n)
{
	if (!model_check(m, n))
		return false;
	size_t i = (size_t)(splitmix64(&(uint64_t){n}) & (m->cap - 1));
	while (m->set[i])
		i = (i + 1) & (m->cap - 1);
	m->set[i] = n;
	if (n > m->top)
		m->top = n;
	return true;
}

static void run_model(uint64_t seed, struct model *m, uint64_t *sweeps)
{
	cur_seed = seed;
	uint64_t s = seed;
	memset(m->set, 0, m->cap * sizeof(*m->set));
	m->top = 0;
	konce_replay r;
	konce_replay_init(&r);
	uint64_t recent[16] = {0};
	unsigned nops = 1000 + (unsigned)below(&s, 2000);
	for (unsigned op = 0; op < nops; op++) {
		uint64_t top = m->top, n;
		unsigned kind = (unsigned)below(&s, 100);
		if (kind < 40) { /* around and below top, partly out of the window; 0 near the start */
			uint64_t back = below(&s, W + 200);
			n = back > top ? 0 : top - back;
		}
		else if (kind < 70)
			n = top + 1 + below(&s, 100);
		else if (kind < 78) /* the exact edges */
			n = top > W + 1 ? top - W - 1 + below(&s, 3) : below(&s, 3);
		else if (kind < 88)
			n = recent[below(&s, 16)];
		else if (kind < 93) /* jumps of a few words to a few rings */
			n = top + 64 + below(&s, 64 * 3 * KONCE_REPLAY_WORDS);
		else if (kind < 95)
			n = top + below(&s, (uint64_t)1 << 50);
		else
			n = below(&s, 10000);
		bool want = model_check(m, n);
		konce_replay before = r;
		CHECK(konce_replay_check(&r, n) == want, "check(%" PRIu64 ") top %" PRIu64 " want %d", n, top, want);
		CHECK(memcmp(&before, &r, sizeof(r)) == 0, "check() changed the window");
		bool got = konce_replay_update(&r, n);
		CHECK(got == model_update(m, n), "update(%" PRIu64 ") top %" PRIu64 " want %d", n, top, want);
		if (!got)
			CHECK(memcmp(&before, &r, sizeof(r)) == 0, "a refused update changed the window");
		else
			recent[op % 16] = n;
		CHECK(r.top == m->top, "top %" PRIu64 " model %" PRIu64, r.top, m->top);
		if (below(&s, 500) == 0) { /* the whole window and a little beyond, both ways */
			(*sweeps)++;
			uint64_t lo = m->top > W + 70 ? m->top - W - 70 : 0;
			for (uint64_t x = lo; x <= m->top + 70; x++)
				CHECK(konce_replay_check(&r, x) == model_check(m, x), "sweep at %" PRIu64, x);
		}
	}
}

static void test_model(void **state)
{
	(void)state;
	struct model m = {.cap = 8192};
	m.set = malloc(m.cap * sizeof(*m.set));
	assert_non_null(m.set);
	uint64_t sweeps = 0;
	const char *e = getenv("REPLAY_SEED");
	if (e && *e) {
		run_model(strtoull(e, NULL, 0), &m, &sweeps);
	} else {
		uint64_t master = 0x7265706c6179;
		for (unsigned i = 0; i < 2000; i++)
			run_model(splitmix64(&master), &m, &sweeps);
		print_message("model: 2000 sequences, %" PRIu64 " full-window sweeps\n", sweeps);
		assert_true(sweeps > 1000);
	}
	free(m.set);
}

/* A window that switches between the small and the wide size (a session shrinking to a presence
 * and growing into a channel, replay.h) never accepts a number twice, and always accepts a new
 * number within KONCE_REPLAY_SMALL_WINDOW of top, whatever the switches.  Numbers come mostly in
 * order, some reordered by up to 600, some repeated. */
static void test_widen_narrow(void **state)
{
	(void)state;
	enum { MAX = 200000 };
	static uint8_t seen[MAX + 1000];
	memset(seen, 0, sizeof seen);
	konce_replay_small sm;
	konce_replay wide;
	konce_replay_small_init(&sm);
	bool is_wide = false;
	uint64_t top = 0, rng = 12345;
	unsigned switches = 0;
	for (uint64_t next = 1; next < MAX;) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned r = (unsigned)(rng >> 33);
		uint64_t n;
		if (r % 10 < 6)
			n = next++;
		else if (r % 10 < 9)
			n = next > 600 ? next - 1 - (r >> 4) % 600 : next;
		else
			n = next + (r >> 4) % 300; /* ahead */
		if (r % 97 == 0) {
			if (is_wide)
				konce_replay_narrow(&sm, &wide);
			else
				konce_replay_widen(&wide, &sm);
			is_wide = !is_wide;
			switches++;
		}
		bool ok = is_wide ? konce_replay_check(&wide, n) : konce_replay_small_check(&sm, n);
		if (seen[n])
			assert_false(ok); /* never twice */
		else if (n > top || top - n <= KONCE_REPLAY_SMALL_WINDOW)
			assert_true(ok); /* never refuses a new number the small window holds */
		if (ok) {
			assert_true(is_wide ? konce_replay_update(&wide, n) : konce_replay_small_update(&sm, n));
			seen[n] = 1;
			if (n > top)
				top = n;
		}
	}
	assert_true(switches > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_window_edge),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_widen_narrow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
