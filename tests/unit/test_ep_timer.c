/* test_ep_timer.c - the endpoint's deadline heap (ep_timer.c): with thousands of sessions, one
 * konce_ep_timer() call runs the timers of the sessions that are due and of no other (counted by
 * the timer_visits counter, not by a clock), konce_ep_next_timer() names the earliest deadline,
 * deadlines come out in order and on time, and sessions that close inside a call (idle) leave the
 * heap cleanly.  The timers' own semantics (keepalive, idle close, PTO/RTO, handshake resends,
 * path MTU probes) are covered by test_endpoint, test_ep_session, test_pmtud and the simulator
 * tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ep_internal.h"
#include "tests/unit/ep_crowd.h"

enum { N = 10000, WAVE = 256 };

typedef ep_crowd world;

/* every session from one address and key: the table's per-source caps and the rate limit are
 * raised, as in bench_sessions, so that admission stays out of the way; a dial that fails fails
 * the test */
static void make_world(world *w)
{
	crowd_make(w, 7, N + 16, 2 * N, N);
	w->conns = test_malloc(N * sizeof *w->conns);
	w->no_failure = true;
}

static void free_world(world *w)
{
	test_free(w->conns);
	crowd_free(w);
}

/* Datagrams a sent, dropped (the peer is away). */
static unsigned discard(konce_ep *ep)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned n = 0;
	while (konce_ep_poll_datagram(ep, buf, &len, &to))
		n++;
	return n;
}

/* b acknowledges what a sent: its delayed acks go out at its timers (b's visits are its own). */
static void ack_all(world *w)
{
	crowd_pump(w);
	uint64_t end = w->now + 2 * (uint64_t)KONCE_ACK_MAX_DELAY_MS * 1000;
	while (konce_ep_next_timer(w->b) <= end) {
		if (konce_ep_next_timer(w->b) > w->now)
			w->now = konce_ep_next_timer(w->b);
		konce_ep_timer(w->b, w->now);
		crowd_pump(w);
	}
}

/* N sessions from a to b, then both quiet: every deadline in the future. */
static void establish(world *w)
{
	unsigned started = 0;
	while (w->nconn < N) {
		crowd_step(w, &started, N, WAVE);
		if (w->now > 600000000) {
			const struct konce_ep_counters *cb = konce_ep_counters(w->b), *ca = konce_ep_counters(w->a);
			printf("# stuck at %u: b init_full %llu source_full %llu live %llu; a failed %llu pow %llu\n", w->nconn,
			       (unsigned long long)cb->init_full, (unsigned long long)cb->init_source_full,
			       (unsigned long long)cb->sessions_live, (unsigned long long)ca->hs_failed,
			       (unsigned long long)ca->pow_tries);
			fail();
		}
	}
	/* deadlines set during the handshake (resends a second after each dial) pass: a visit that
	 * finds nothing to do, and the session's next deadline is its idle close */
	uint64_t end = w->now + 2000000;
	for (uint64_t t; (t = konce_ep_next_timer(w->a)) <= end;) {
		w->now = t > w->now ? t : w->now;
		konce_ep_timer(w->a, w->now);
		konce_ep_timer(w->b, w->now);
		crowd_pump(w);
	}
	w->now = end;
	assert_int_equal(konce_ep_counters(w->a)->sessions_live, N);
	assert_int_equal(konce_ep_counters(w->b)->sessions_live, N);
}

static uint64_t visits(const konce_ep *ep) { return konce_ep_counters(ep)->timer_visits; }

static void test_visits_only_due(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	make_world(w);
	establish(w);
	const struct konce_ep_counters *ca = konce_ep_counters(w->a);
	/* nothing is due: a call visits no session, and the next deadline is ahead */
	w->now += 1000;
	assert_true(konce_ep_next_timer(w->a) > w->now);
	uint64_t v0 = visits(w->a);
	konce_ep_timer(w->a, w->now);
	assert_int_equal(visits(w->a), v0);

	/* ten sessions hold keepalives every 100 ms; the other 9,990 wait for their idle close */
	enum { K = 10 };
	for (unsigned i = 0; i < K; i++) {
		assert_int_equal(konce_ep_set_keepalive(w->a, w->conns[i * 997], 100000, w->now), 0);
		assert_int_equal(konce_ep_set_wanted(w->a, w->conns[i * 997], true, w->now), 0);
	}
	assert_true(konce_ep_next_timer(w->a) <= w->now);
	v0 = visits(w->a);
	uint64_t t0 = w->now;
	konce_ep_timer(w->a, w->now);
	assert_int_equal(visits(w->a) - v0, K); /* the ten that were armed */
	ack_all(w);
	assert_int_equal(konce_ep_next_timer(w->a), konce_ep_due_early(t0 + 100000, 100000)); /* on its grid */

	/* a second of keepalives: every call visits only some of the ten (keepalives, their acks'
	 * acks, probe timeouts), never the idle 9,990; each of the ten PINGs every 100 ms */
	uint64_t ka0 = ca->keepalive_tx, calls = 0;
	v0 = visits(w->a);
	while (w->now < t0 + 1000000) {
		w->now = konce_ep_next_timer(w->a);
		uint64_t v = visits(w->a);
		konce_ep_timer(w->a, w->now);
		calls++;
		assert_true(visits(w->a) - v <= K);
		ack_all(w);
	}
	printf("# 1 s of %u keepalives among %u sessions: %llu calls, %llu visits, %llu keepalives\n", K, N,
	       (unsigned long long)calls, (unsigned long long)(visits(w->a) - v0),
	       (unsigned long long)(ca->keepalive_tx - ka0));
	assert_true(ca->keepalive_tx - ka0 >= 9 * K);
	assert_true(visits(w->a) - v0 <= 4 * 10 * K);
	free_world(w);
	test_free(w);
}

/* Distinct deadlines come out one by one, in order, each on time (a keepalive's time: its grid
 * point, ep_timer.c "Coalescing"; they are further apart than a grid step). */
static void test_deadlines_in_order(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	make_world(w);
	establish(w);
	enum { K = 40 };
	/* keepalives of 1 s + 20 ms * i (i < 40: each session's second PING comes after every first
	 * one), set in a scrambled order */
	for (unsigned j = 0; j < K; j++) {
		unsigned i = (j * 7919) % K;
		uint32_t c = w->conns[i * (N / K)];
		assert_int_equal(konce_ep_set_keepalive(w->a, c, 1000000 + 20000 * (uint64_t)i, w->now), 0);
		assert_int_equal(konce_ep_set_wanted(w->a, c, true, w->now), 0);
	}
	konce_ep_timer(w->a, w->now);
	discard(w->a);
	uint64_t t0 = w->now;
	const struct konce_ep_counters *ca = konce_ep_counters(w->a);
	unsigned idx = 0, calls = 0;
	while (idx < K) {
		uint64_t next = konce_ep_next_timer(w->a);
		assert_true(next >= w->now);
		w->now = next;
		uint64_t v0 = visits(w->a), ka = ca->keepalive_tx;
		konce_ep_timer(w->a, w->now);
		assert_true(visits(w->a) - v0 >= 1 && visits(w->a) - v0 <= 2); /* a keepalive, a probe timeout */
		assert_true(ca->keepalive_tx - ka <= 1);
		if (ca->keepalive_tx - ka == 1) {
			uint64_t k = 1000000 + 20000 * (uint64_t)idx;
			assert_int_equal(w->now, konce_ep_due_early(t0 + k, k)); /* in order, on time */
			idx++;
		}
		discard(w->a);
		assert_true(++calls <= 4 * K);
	}
	free_world(w);
	test_free(w);
}

/* Every session is still reached at its deadline: at the idle timeout all N close, in a handful
 * of calls, and each session is visited a bounded number of times on the way. */
static void test_idle_close_reaches_all(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	make_world(w);
	establish(w);
	uint64_t v0 = visits(w->a), calls = 0;
	uint64_t end = w->now + (uint64_t)KONCE_IDLE_TIMEOUT_MS * 1000 + 1000000;
	while (konce_ep_next_timer(w->a) <= end) {
		w->now = konce_ep_next_timer(w->a);
		konce_ep_timer(w->a, w->now);
		discard(w->a);
		calls++;
	}
	konce_ep_event ev;
	unsigned closed = 0;
	while (konce_ep_poll_event(w->a, &ev))
		closed += ev.type == KONCE_EV_CLOSED && ev.reason == KONCE_FAIL_IDLE;
	assert_int_equal(closed, N);
	assert_int_equal(konce_ep_counters(w->a)->sessions_live, 0);
	assert_int_equal(konce_ep_next_timer(w->a) > end, true);
	/* a walk over every session per call would have made calls x N visits */
	printf("# idle close of %u sessions: %llu timer calls, %llu session visits\n", N, (unsigned long long)calls,
	       (unsigned long long)(visits(w->a) - v0));
	assert_true(visits(w->a) - v0 <= 2 * (uint64_t)N);
	free_world(w);
	test_free(w);
}

/* The slack grid's bounds (ep_timer.c "Coalescing"): a step is a power of two, at most 1/64 of
 * the interval and at most KONCE_EP_SLACK_MAX_US; a keepalive's deadline moves earlier by less
 * than a step, an idle close's later by less than one. */
static void test_slack_grid(void **state)
{
	(void)state;
	assert_int_equal(konce_ep_slack((uint64_t)KONCE_KEEPALIVE_MS * 1000), KONCE_EP_SLACK_MAX_US);
	assert_int_equal(konce_ep_slack(100000), 1024);
	assert_int_equal(konce_ep_slack(127), 1); /* no grid under 128 us */
	assert_int_equal(konce_ep_due_early(UINT64_MAX, 1000000), UINT64_MAX);
	assert_int_equal(konce_ep_due_late(UINT64_MAX, 1000000), UINT64_MAX);
	const uint64_t ivs[] = {1, 100, 5000, 100000, 1000000, 25000000, 180000000, 3600000000u};
	for (unsigned i = 0; i < sizeof ivs / sizeof ivs[0]; i++) {
		uint64_t iv = ivs[i], g = konce_ep_slack(iv);
		assert_true(g >= 1 && (g & (g - 1)) == 0 && g <= KONCE_EP_SLACK_MAX_US);
		assert_true(g == 1 || g <= iv / 64);
		for (uint64_t at = 1000000; at < 1000000 + 3 * g + 7; at += g / 3 + 1) {
			uint64_t e = konce_ep_due_early(at, iv), l = konce_ep_due_late(at, iv);
			assert_true(e <= at && at - e < g && e % g == 0);
			assert_true(l >= at && l - at < g && l % g == 0);
		}
	}
}

/* The PINGs that the sessions ss[0..n) sent in the call at now: each an interval after the one
 * before (last[i]) or less than a step g sooner, never later. */
static void check_pings(konce_sess *const *ss, uint64_t *last, unsigned *pings, unsigned n, uint64_t now, uint64_t k,
			uint64_t g, uint64_t *early_max)
{
	for (unsigned i = 0; i < n; i++) {
		if (ss[i]->ping_tx_us == last[i])
			continue;
		uint64_t d = ss[i]->ping_tx_us - last[i];
		assert_int_equal(ss[i]->ping_tx_us, now);
		assert_true(d <= k);    /* never late */
		assert_true(k - d < g); /* early by less than a step */
		if (k - d > *early_max)
			*early_max = k - d;
		last[i] = ss[i]->ping_tx_us;
		pings[i]++;
	}
}

/* Keepalives that fall due spread out (one session every 2.5 ms, as presences that were channels
 * keep their conns' rhythms, docs/BENCH.md) are served together: over three keepalive intervals
 * a's timer calls follow the slack grid (at most one a step), not the count of sessions (one call
 * each without the grid: 30,000); every session PINGs at least once an interval, never later
 * than an interval after its previous PING (or after it was wanted), and never more than a step
 * earlier. */
static void test_keepalives_coalesce(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	make_world(w);
	establish(w);
	const uint64_t k = (uint64_t)KONCE_KEEPALIVE_MS * 1000, g = konce_ep_slack(k);
	konce_sess **ss = test_malloc(N * sizeof *ss);
	uint64_t *last = test_malloc(N * sizeof *last);
	unsigned *pings = test_calloc(N, sizeof *pings);
	const struct konce_ep_counters *ca = konce_ep_counters(w->a);
	uint64_t ka0 = ca->keepalive_tx, calls = 0, early_max = 0;
	/* wanted one by one, 2.5 ms apart: the first ones PING before the last are wanted */
	for (unsigned i = 0; i < N; i++) {
		w->now += k / N;
		assert_int_equal(konce_ep_set_wanted(w->a, w->conns[i], true, w->now), 0);
		ss[i] = konce_ep_sess_by_conn(w->a, w->conns[i]);
		assert_non_null(ss[i]);
		assert_null(ss[i]->rel); /* a presence */
		last[i] = ss[i]->ping_tx_us;
		assert_int_equal(last[i], w->now);
		while (konce_ep_next_timer(w->a) <= w->now) {
			konce_ep_timer(w->a, w->now);
			crowd_pump(w);
			check_pings(ss, last, pings, i + 1, w->now, k, g, &early_max);
		}
	}
	uint64_t end = w->now + 3 * k;
	for (uint64_t t; (t = konce_ep_next_timer(w->a)) <= end;) {
		assert_true(t >= w->now);
		w->now = t;
		konce_ep_timer(w->a, w->now);
		calls++;
		crowd_pump(w); /* b answers each PING with an ACK at once */
		check_pings(ss, last, pings, N, w->now, k, g, &early_max);
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < N; i++) {
		assert_true(pings[i] >= 3); /* wanted before the three intervals: at least one PING in each */
		total += pings[i];
	}
	printf("# %u presences wanted 2.5 ms apart, 3 keepalive intervals: %llu timer calls, %llu PINGs "
	       "(%llu keepalives), earliest %llu us before its interval (step %llu us)\n",
	       N, (unsigned long long)calls, (unsigned long long)total, (unsigned long long)(ca->keepalive_tx - ka0),
	       (unsigned long long)early_max, (unsigned long long)g);
	assert_int_equal(ca->keepalive_tx - ka0, total);
	assert_int_equal(ca->sessions_live, N);
	assert_true(calls <= 3 * k / g + 2);
	test_free(pings);
	test_free(last);
	test_free(ss);
	free_world(w);
	test_free(w);
}

/* The same for channels (conn.c keeps a channel's keepalive on the presences' grid): a thousand
 * kept channels, each given a PING 2.5 ms after the one before, PING on their own over three
 * intervals, each never later than an interval after its previous ack-eliciting packet and never
 * more than a step earlier, and always on a grid point: the thousand channels' PINGs leave at the
 * grid points that the 2.5 s of spread covers, not at a thousand instants.  (a's timer calls are
 * counted but not bounded here: a PING's probe timeout, armed at the exact time it answers the
 * network, stays in the heap after the ack cancelled it, and a visits the session for nothing
 * then, ep_timer.c konce_ep_arm.) */
static void test_channel_keepalives_coalesce(void **state)
{
	(void)state;
	enum { M = 1000 };
	world *w = test_malloc(sizeof *w);
	make_world(w);
	establish(w);
	const uint64_t k = (uint64_t)KONCE_KEEPALIVE_MS * 1000, g = konce_ep_slack(k), step = k / N;
	konce_sess *ss[M];
	uint64_t last[M];
	unsigned pings[M] = {0};
	for (unsigned i = 0; i < M; i++) {
		w->now += step;
		assert_int_equal(konce_ep_set_wanted(w->a, w->conns[i], true, w->now), 0);
		assert_int_equal(konce_ep_ping(w->a, w->conns[i], w->now), 0);
		assert_int_equal(konce_ep_msg_keep_channel(w->a, w->conns[i]), 0);
		ss[i] = konce_ep_sess_by_conn(w->a, w->conns[i]);
		assert_non_null(ss[i]->rel);
		while (konce_ep_next_timer(w->a) <= w->now)
			konce_ep_timer(w->a, w->now);
		crowd_pump(w);
		last[i] = ss[i]->rel->last_eliciting_tx;
		assert_int_equal(last[i], w->now); /* the PING left */
	}
	uint64_t calls = 0, instants = 0, early_max = 0, end = w->now + 3 * k;
	for (;;) {
		uint64_t ta = konce_ep_next_timer(w->a), tb = konce_ep_next_timer(w->b), t = ta < tb ? ta : tb;
		if (t > end)
			break;
		w->now = t > w->now ? t : w->now;
		if (ta <= w->now) {
			konce_ep_timer(w->a, w->now);
			calls++;
		}
		konce_ep_timer(w->b, w->now); /* its acks (delayed) and its channels' shrink */
		crowd_pump(w);
		bool pinged = false;
		for (unsigned i = 0; i < M; i++) {
			uint64_t tx = ss[i]->rel->last_eliciting_tx;
			if (tx == last[i])
				continue;
			pinged = true;
			assert_int_equal(tx, w->now);
			assert_int_equal(tx % g, 0); /* on the grid */
			assert_true(tx - last[i] <= k);    /* never late */
			assert_true(k - (tx - last[i]) < g); /* early by less than a step */
			if (k - (tx - last[i]) > early_max)
				early_max = k - (tx - last[i]);
			last[i] = tx;
			pings[i]++;
		}
		instants += pinged;
	}
	for (unsigned i = 0; i < M; i++) {
		assert_non_null(ss[i]->rel); /* kept */
		assert_int_equal(pings[i], 3);
	}
	uint64_t points = (uint64_t)M * step / g + 2; /* grid points the spread covers */
	printf("# %u channels PINGed 2.5 ms apart, 3 keepalive intervals: 3000 PINGs at %llu instants (%llu grid points "
	       "an interval), %llu timer calls of a, earliest %llu us before its interval (step %llu us)\n",
	       M, (unsigned long long)instants, (unsigned long long)points, (unsigned long long)calls,
	       (unsigned long long)early_max, (unsigned long long)g);
	assert_true(instants <= 3 * points);
	free_world(w);
	test_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_visits_only_due),
		cmocka_unit_test(test_deadlines_in_order),
		cmocka_unit_test(test_idle_close_reaches_all),
		cmocka_unit_test(test_slack_grid),
		cmocka_unit_test(test_keepalives_coalesce),
		cmocka_unit_test(test_channel_keepalives_coalesce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
