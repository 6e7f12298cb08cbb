/* test_ep_rsrc.c - the reassembly charge per source (ep_msg.c): when a presence grows into a
 * channel, its source's charge is found in the chained hash under the table key, in a few entries
 * whatever the number of sessions (counted by the rsrc_visits counter, not by a clock); the
 * sessions of one source share one charge, it is freed when the last of them lets go (a close or a
 * shrink) and reused, and there are never more charges than sessions.
 *
 * A dials N sessions to b (ep_crowd.h), all to one address; a's sessions are outgoing, so the
 * table's rules do not look at their handshake address, and a test that wants many sources gives
 * each session its own (konce_sess.hs_addr, what the charge is keyed by) before it grows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ep_internal.h"
#include "tests/unit/ep_crowd.h"

enum { N = 2000, WAVE = 256 };

typedef ep_crowd world;

static world *make_world(void)
{
	world *w = test_malloc(sizeof *w);
	crowd_make(w, 11, N + 16, 2 * N, N);
	w->conns = test_malloc(N * sizeof *w->conns);
	w->no_failure = true;
	unsigned started = 0;
	while (w->nconn < N) {
		crowd_step(w, &started, N, WAVE);
		assert_true(w->now < 600000000);
	}
	assert_int_equal(konce_ep_counters(w->a)->sessions_live, N);
	return w;
}

static void free_world(world *w)
{
	test_free(w->conns);
	crowd_free(w);
	test_free(w);
}

static konce_sess *sess(world *w, unsigned i)
{
	konce_sess *s = konce_ep_sess_by_conn(w->a, w->conns[i]);
	assert_non_null(s);
	return s;
}

/* a's session i grows into a channel (a PING), and b answers. */
static void grow(world *w, unsigned i)
{
	assert_null(sess(w, i)->rel);
	assert_int_equal(konce_ep_ping(w->a, w->conns[i], w->now), 0);
	assert_non_null(sess(w, i)->rel);
	crowd_pump(w);
}

static uint64_t visits(const world *w) { return konce_ep_counters(w->a)->rsrc_visits; }

/* Sessions with a charge, and charges with a reference, in a's table. */
static unsigned charges(const world *w)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->a->rsrc_used; i++)
		n += w->a->rsrc[i].refs != 0;
	return n;
}

static void source_addr(konce_addr *a, unsigned i)
{
	char text[64];
	snprintf(text, sizeof text, "10.%u.%u.%u:7807", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	assert_int_equal(konce_addr_parse(a, text), 0);
}

/* Two sessions of one source share one charge; it lives while either holds it, goes with the last
 * close, and the next source's growth takes the same entry back. */
static void test_one_source_shares(void **state)
{
	(void)state;
	world *w = make_world();
	konce_ep *a = w->a;
	assert_int_equal(a->rsrc_used, 0);

	uint64_t v0 = visits(w);
	grow(w, 10);
	konce_ep_rsrc *g = sess(w, 10)->rsrc;
	assert_non_null(g);
	assert_int_equal(g->refs, 1);
	assert_int_equal(visits(w) - v0, 0); /* an empty bucket: nothing to look at */

	v0 = visits(w);
	grow(w, 1999);
	assert_ptr_equal(sess(w, 1999)->rsrc, g); /* the same source: the same charge */
	assert_int_equal(g->refs, 2);
	assert_int_equal(visits(w) - v0, 1); /* the one entry in its bucket, not the N sessions */
	assert_int_equal(a->rsrc_used, 1);

	assert_int_equal(konce_ep_close(a, w->conns[10], w->now), 0);
	assert_int_equal(g->refs, 1);
	assert_int_equal(charges(w), 1);
	assert_int_equal(konce_ep_close(a, w->conns[1999], w->now), 0);
	assert_int_equal(charges(w), 0); /* released with the last session */
	assert_ptr_equal(a->rsrc_free, g);

	/* a session of another source takes the freed entry, with nothing left of the old charge */
	g->acct.used = 12345; /* what a stale charge would carry */
	source_addr(&sess(w, 7)->hs_addr, 7);
	grow(w, 7);
	assert_ptr_equal(sess(w, 7)->rsrc, g);
	assert_int_equal(g->refs, 1);
	assert_int_equal(g->acct.used, 0);
	assert_int_equal(a->rsrc_used, 1);
	crowd_pump(w);
	free_world(w);
}

/* Every session of a from its own source: N charges, each found in a few entries, never more
 * charges than sessions; a shrink lets go of the charge like a close, and regrowth after it reuses
 * the freed entries instead of taking new ones. */
static void test_many_sources_bounded(void **state)
{
	(void)state;
	world *w = make_world();
	konce_ep *a = w->a;
	for (unsigned i = 0; i < N; i++)
		source_addr(&sess(w, i)->hs_addr, i);
	uint64_t v0 = visits(w);
	for (unsigned i = 0; i < N; i++) {
		uint64_t v = visits(w);
		grow(w, i);
		assert_true(visits(w) - v <= 16); /* a chain of the hash, not a walk over the table */
	}
	uint64_t total = visits(w) - v0;
	printf("# %u sources grew: %llu entries looked at (a scan looked at up to %u each)\n", N,
	       (unsigned long long)total, N);
	assert_true(total <= 2 * (uint64_t)N); /* load factor <= 1: about half an entry per growth */
	assert_int_equal(charges(w), N);
	assert_int_equal(a->rsrc_used, N);
	for (unsigned i = 1; i < N; i++)
		assert_ptr_not_equal(sess(w, i)->rsrc, sess(w, i - 1)->rsrc);

	/* every channel goes idle and shrinks (ep_msg.c: KONCE_EP_SHRINK_MS): its charge goes with it */
	uint64_t end = w->now + 8000000;
	for (uint64_t t; (t = konce_ep_next_timer(a)) <= end;) {
		w->now = t > w->now ? t : w->now;
		konce_ep_timer(a, w->now);
		konce_ep_timer(w->b, w->now);
		crowd_pump(w);
	}
	w->now = end;
	assert_int_equal(konce_ep_counters(a)->channels_shrunk, N);
	assert_int_equal(charges(w), 0);
	for (unsigned i = 0; i < N; i++)
		assert_null(sess(w, i)->rsrc);

	/* regrowth, two sessions a source now: the freed entries come back, no new ones */
	for (unsigned i = 0; i < N; i++)
		source_addr(&sess(w, i)->hs_addr, i / 2);
	for (unsigned i = 0; i < N; i++)
		grow(w, i);
	assert_int_equal(charges(w), N / 2);
	assert_int_equal(a->rsrc_used, N);
	for (unsigned i = 0; i < N; i += 2) {
		assert_ptr_equal(sess(w, i)->rsrc, sess(w, i + 1)->rsrc);
		assert_int_equal(sess(w, i)->rsrc->refs, 2);
	}
	free_world(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_source_shares),
		cmocka_unit_test(test_many_sources_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
