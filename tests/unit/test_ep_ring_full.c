/* test_ep_ring_full.c - a keepalive that finds the endpoint's out ring full is not lost
 * (ep_msg.c presence_timer): with a 16-slot out ring and 300 presences wanted at the same instant,
 * so that all of them are due in one konce_ep_timer() call, the keepalives the ring cannot take
 * stay due (konce_ep_next_timer() is now until they are placed), a host that flushes the ring and
 * calls again sends every one of them, none is dropped for a full ring (ring_full_datagrams stays
 * 0), and over two idle timeouts no session on either side closes.  The host here is the one the
 * contract asks for: it runs the timer when konce_ep_next_timer() says, and moves every datagram
 * before asking again; the sessions held back wait unvisited, so the N keepalives cost about N
 * visits, not one per session per round.  A path challenge's retry (path.h) that finds the ring full waits the same
 * way, and leaves, once the host has flushed, to the address it probes.
 *
 * Control datagrams (ep_internal.h invariant 6) that find the ring full of ordinary traffic take
 * its reserve instead of being dropped: a presence's ack of a PING, a CLOSE, our handshake's
 * HELLO and ACCEPT, and the first path challenge to a new address.  Each test fills the ring with
 * unreliable messages (konce_ep_send() until -ENOBUFS), makes the control datagram, and checks
 * that nothing was dropped, that the ring then holds the messages and exactly one datagram more,
 * and that the peer, fed all of them, acts on the control datagram once.  More control datagrams
 * than the reserve holds between two flushes are dropped and counted (ring_full_control). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ep_internal.h"
#include "node/transport/path.h"
#include "tests/unit/ep_crowd.h"
#include "tests/unit/ep_pair.h"

enum { N = 300, RING = 16, WAVE = 4 };

/* crowd_make() with a's out ring RING slots: the dials go WAVE at a time, well within it. */
static void make_world(ep_crowd *w)
{
	crowd_make(w, 11, N + 16, 2 * N, N);
	konce_ep_free(w->a);
	konce_ep_config a = {.env = &w->tenv_a.env, .identity = w->id_a, .max_sessions = N + 16, .out_ring = RING};
	assert_int_equal(konce_ep_new(&w->a, &a, w->now), 0);
	w->conns = test_malloc(N * sizeof *w->conns);
	w->no_failure = true;
}

/* One round of the host: a's and b's timers if due, then every datagram moved both ways. */
static void host_round(ep_crowd *w)
{
	if (konce_ep_next_timer(w->a) <= w->now)
		konce_ep_timer(w->a, w->now);
	if (konce_ep_next_timer(w->b) <= w->now)
		konce_ep_timer(w->b, w->now);
	crowd_pump(w);
}

static uint64_t next_of_both(const ep_crowd *w)
{
	uint64_t a = konce_ep_next_timer(w->a), b = konce_ep_next_timer(w->b);
	return a < b ? a : b;
}

static void test_keepalives_survive_full_ring(void **state)
{
	(void)state;
	ep_crowd *w = test_malloc(sizeof *w);
	make_world(w);
	unsigned started = 0;
	while (w->nconn < N) {
		crowd_step(w, &started, N, WAVE);
		assert_true(w->now < 600000000);
	}
	/* the handshake's own deadlines pass */
	uint64_t end = w->now + 2000000;
	while (next_of_both(w) <= end) {
		uint64_t t = next_of_both(w);
		w->now = t > w->now ? t : w->now;
		host_round(w);
	}
	w->now = end;
	const struct konce_ep_counters *ca = konce_ep_counters(w->a), *cb = konce_ep_counters(w->b);
	assert_int_equal(ca->sessions_live, N);
	assert_int_equal(cb->sessions_live, N);
	uint64_t full0 = ca->ring_full_datagrams;

	/* every session wanted at the same instant: their keepalives all fall due together */
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(konce_ep_set_wanted(w->a, w->conns[i], true, w->now), 0);
	while (konce_ep_next_timer(w->a) <= w->now) /* each armed now: visited RING at a time */
		host_round(w);
	uint64_t t0 = w->now, k = (uint64_t)KONCE_KEEPALIVE_MS * 1000;
	uint64_t ka0 = ca->keepalive_tx, rx0 = cb->data_rx;

	/* the first due instant: one call places RING keepalives, the rest stay due (next timer is
	 * now, the clock stands still) until the host has flushed enough rounds for all */
	w->now = konce_ep_next_timer(w->a);
	assert_int_equal(w->now, konce_ep_due_early(t0 + k, k)); /* on the grid (ep_timer.c "Coalescing") */
	uint64_t v0 = ca->timer_visits, d0 = ca->timer_deferred;
	konce_ep_timer(w->a, w->now);
	assert_int_equal(ca->keepalive_tx - ka0, RING);
	assert_true(ca->timer_deferred > 0);
	assert_int_equal(konce_ep_next_timer(w->a), w->now);
	unsigned rounds = 0;
	while (ca->keepalive_tx - ka0 < N) {
		assert_int_equal(konce_ep_next_timer(w->a), w->now); /* still due: asks to be called now */
		crowd_pump(w);
		konce_ep_timer(w->a, w->now);
		assert_true(++rounds <= N);
	}
	crowd_pump(w);
	assert_int_equal(ca->keepalive_tx - ka0, N);
	assert_int_equal(cb->data_rx - rx0, N); /* every PING reached b */
	assert_true(konce_ep_next_timer(w->a) > w->now);
	/* the sessions a full ring held back waited unvisited: about one visit each, not one per
	 * round while the ring drained (ep_timer.c invariant 5) */
	printf("# the first due instant: %u rounds, %llu visits for %u keepalives\n", rounds + 1,
	       (unsigned long long)(ca->timer_visits - v0), N);
	assert_true(ca->timer_visits - v0 <= N + rounds + 1);
	/* and untouched: a call takes only as many as the ring has room for, so the waits are a
	 * few per call, not every waiting session popped and pushed back on every call */
	assert_true(ca->timer_deferred - d0 <= 2 * (uint64_t)(rounds + 1));

	/* two idle timeouts on: every keepalive interval, every session's PING goes, none is
	 * dropped for a full ring, and no session closes on either side */
	uint64_t stop = w->now + 2 * (uint64_t)KONCE_IDLE_TIMEOUT_MS * 1000;
	uint64_t ka1 = ca->keepalive_tx, t1 = w->now, calls = 0;
	while (next_of_both(w) <= stop) {
		uint64_t t = next_of_both(w);
		w->now = t > w->now ? t : w->now;
		host_round(w);
		calls++;
	}
	w->now = stop;
	uint64_t intervals = (stop - t1) / k;
	printf("# %u presences, %u-slot ring: %llu keepalives in %llu intervals, %llu deferred, %llu timer rounds\n", N,
	       RING, (unsigned long long)(ca->keepalive_tx - ka1), (unsigned long long)intervals,
	       (unsigned long long)ca->timer_deferred, (unsigned long long)calls);
	assert_true(ca->keepalive_tx - ka1 >= intervals * N);
	assert_int_equal(ca->ring_full_datagrams, full0);
	assert_int_equal(ca->ring_full_datagrams, 0);
	assert_int_equal(ca->idle_closed, 0);
	assert_int_equal(ca->sessions_live, N);
	assert_int_equal(cb->sessions_live, N);
	konce_ep_event ev;
	while (konce_ep_poll_event(w->a, &ev))
		assert_int_not_equal(ev.type, KONCE_EV_CLOSED);
	test_free(w->conns);
	crowd_free(w);
	test_free(w);
}

/* Datagrams queued at ep, dropped; how many went to addr. */
static unsigned discard_count(konce_ep *ep, const konce_addr *addr)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned n = 0;
	while (konce_ep_poll_datagram(ep, buf, &len, &to))
		n += konce_addr_eq(&to, addr);
	return n;
}

static void test_path_retry_waits_for_room(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	const struct konce_ep_counters *cb = konce_ep_counters(p.b);
	/* the client's address changes: b probes the new one; that first challenge is lost */
	konce_addr_parse(&p.addr_a, "192.0.2.1:2222");
	uint8_t big[400] = {0};
	assert_int_equal(konce_ep_send(p.a, cc, big, sizeof big, p.now), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(p.a, buf, &len, &to))
		konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	assert_int_equal(cb->path_challenge_tx, 1);
	assert_int_equal(discard_count(p.b, &p.addr_a), 1);
	/* b's out ring fills (messages to the validated address), and the retry falls due */
	while (konce_ep_send(p.b, sc, (const uint8_t *)"x", 1, p.now) == 0)
		;
	uint64_t full0 = cb->ring_full_datagrams, def0 = cb->timer_deferred;
	p.now += (uint64_t)KONCE_PATH_RETRY_MS * 1000;
	assert_true(konce_ep_next_timer(p.b) <= p.now);
	konce_ep_timer(p.b, p.now);
	assert_int_equal(cb->ring_full_datagrams, full0); /* not sealed and dropped */
	assert_true(cb->timer_deferred > def0);
	assert_true(konce_ep_next_timer(p.b) <= p.now); /* still due: call again after a flush */
	assert_int_equal(discard_count(p.b, &p.addr_a), 0);
	/* the host flushed: the retry leaves, to the probed address */
	konce_ep_timer(p.b, p.now);
	assert_int_equal(cb->path_challenge_tx, 2);
	assert_int_equal(discard_count(p.b, &p.addr_a), 1);
	assert_int_equal(cb->ring_full_datagrams, full0);
	free_pair(&p);
}

/* ---- control datagrams take the reserve ------------------------------------------------- */

/* Unreliable messages from ep on conn until the ring has no room for ordinary traffic: how many. */
static unsigned fill_ring(konce_ep *ep, uint32_t conn, uint64_t now)
{
	unsigned n = 0;
	while (konce_ep_send(ep, conn, (const uint8_t *)"x", 1, now) == 0)
		n++;
	assert_int_equal(konce_ep_send(ep, conn, (const uint8_t *)"x", 1, now), -ENOBUFS);
	return n;
}

/* Every datagram queued at from, fed to `to` as coming from `src` (those addressed to dst only):
 * how many were queued, and *to_dst of them went to dst. */
static unsigned deliver(konce_ep *from, konce_ep *to, const konce_addr *src, const konce_addr *dst, uint64_t now,
			unsigned *to_dst)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr a;
	unsigned n = 0, d = 0;
	while (konce_ep_poll_datagram(from, buf, &len, &a)) {
		n++;
		if (konce_addr_eq(&a, dst)) {
			d++;
			konce_ep_input(to, buf, len, src, now, NULL);
		}
	}
	if (to_dst)
		*to_dst = d;
	return n;
}

/* MESSAGE events of ep, the others left out. */
static unsigned count_messages(konce_ep *ep)
{
	konce_ep_event ev;
	unsigned n = 0;
	while (konce_ep_poll_event(ep, &ev))
		n += ev.type == KONCE_EV_MESSAGE;
	return n;
}

/* b's session is a presence (the handshake's messages are unreliable): a PING from a (a channel
 * now, konce_ep_ping) is answered at once with an ACK that b cannot send again, as it keeps no
 * receive state.  With b's ring full it takes the reserve, and a's PING is acknowledged. */
static void test_ping_ack_takes_reserve(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	const struct konce_ep_counters *cb = konce_ep_counters(p.b);
	konce_sess *sa = konce_ep_sess_by_conn(p.a, cc), *sb = konce_ep_sess_by_conn(p.b, sc);
	assert_null(sb->rel);
	unsigned filled = fill_ring(p.b, sc, p.now);
	assert_true(filled >= 16);
	uint64_t full0 = cb->ring_full_datagrams, tx0 = cb->tx_packets;
	assert_int_equal(konce_ep_ping(p.a, cc, p.now), 0);
	uint64_t ping_pn = sa->rel->rec.largest_sent;
	unsigned to_b;
	assert_int_equal(deliver(p.a, p.b, &p.addr_a, &p.addr_b, p.now, &to_b), 1); /* the PING alone */
	assert_null(sb->rel); /* still a presence: the ack is its own, sent at once */
	assert_int_equal(cb->ring_full_datagrams, full0);
	assert_int_equal(cb->ring_full_control, 0);
	assert_int_equal(cb->tx_packets - tx0, 1);
	assert_true(sa->rel->rec.largest_acked < ping_pn || sa->rel->rec.largest_acked == 0);
	/* the host flushes b: the messages and the ack, once */
	unsigned to_a;
	p.now += 10000;
	assert_int_equal(deliver(p.b, p.a, &p.addr_b, &p.addr_a, p.now, &to_a), filled + 1);
	assert_int_equal(to_a, filled + 1);
	assert_int_equal(sa->rel->rec.largest_acked, ping_pn);
	assert_int_equal(count_messages(p.a), filled);
	assert_false(konce_ep_poll_datagram(p.b, (uint8_t[KONCE_WIRE_MAX_DATAGRAM]){0}, &(size_t){0}, &(konce_addr){0}));
	free_pair(&p);
}

/* konce_ep_close() frees the session as its CLOSE leaves: nothing could send it later.  With the
 * ring full it takes the reserve, and the peer closes once. */
static void test_close_takes_reserve(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	const struct konce_ep_counters *ca = konce_ep_counters(p.a), *cb = konce_ep_counters(p.b);
	unsigned filled = fill_ring(p.a, cc, p.now);
	uint64_t full0 = ca->ring_full_datagrams, tx0 = ca->tx_packets;
	assert_int_equal(konce_ep_close(p.a, cc, p.now), 0);
	assert_int_equal(ca->ring_full_datagrams, full0);
	assert_int_equal(ca->ring_full_control, 0);
	assert_int_equal(ca->tx_packets - tx0, 1);
	assert_int_equal(ca->sessions_live, 0);
	unsigned to_b;
	p.now += 10000;
	assert_int_equal(deliver(p.a, p.b, &p.addr_a, &p.addr_b, p.now, &to_b), filled + 1);
	assert_int_equal(to_b, filled + 1);
	assert_int_equal(cb->sessions_live, 0);
	konce_ep_event ev;
	unsigned msgs = 0, closed = 0;
	while (konce_ep_poll_event(p.b, &ev)) {
		msgs += ev.type == KONCE_EV_MESSAGE;
		if (ev.type == KONCE_EV_CLOSED) {
			closed++;
			assert_int_equal(ev.conn, sc);
			assert_int_equal(ev.reason, 0);
		}
	}
	assert_int_equal(msgs, filled); /* every message came before the CLOSE */
	assert_int_equal(closed, 1);
	free_pair(&p);
}

/* The handshake's datagrams: a second dial's HELLO from a, whose ring is full, and b's ACCEPT for
 * it, sent while b's ring is full.  Each takes the reserve at once (no attempt spent on a
 * datagram that never left), and the dial completes without a resend. */
static void test_handshake_takes_reserve(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	const struct konce_ep_counters *ca = konce_ep_counters(p.a), *cb = konce_ep_counters(p.b);
	unsigned filled_a = fill_ring(p.a, cc, p.now);
	uint64_t tx0 = ca->tx_packets;
	uint32_t c2;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &c2), 0);
	assert_int_equal(ca->tx_packets - tx0, 1); /* the HELLO */
	assert_int_equal(ca->ring_full_datagrams, 0);
	/* b gets the messages and the HELLO; its COOKIE leaves (b's ring has room) */
	unsigned to_b;
	p.now += 10000;
	assert_int_equal(deliver(p.a, p.b, &p.addr_a, &p.addr_b, p.now, &to_b), filled_a + 1);
	assert_int_equal(cb->hello_rx, 2);
	assert_int_equal(cb->cookie_tx, 2);
	assert_int_equal(count_messages(p.b), filled_a);
	/* the COOKIE back to a; a's INITIATE to b; then b's ring fills before its ACCEPT is made */
	p.now += 10000;
	deliver(p.b, p.a, &p.addr_b, &p.addr_a, p.now, NULL);
	uint8_t init[KONCE_WIRE_MAX_DATAGRAM];
	size_t init_len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.a, init, &init_len, &to));
	assert_int_equal(init[0], KONCE_PKT_INITIATE);
	unsigned filled_b = fill_ring(p.b, sc, p.now);
	uint64_t txb0 = cb->tx_packets;
	p.now += 10000;
	assert_int_equal(konce_ep_input(p.b, init, init_len, &p.addr_a, p.now, NULL), KONCE_EP_ESTABLISHED);
	unsigned to_a;
	assert_int_equal(deliver(p.b, p.a, &p.addr_b, &p.addr_a, p.now + 10000, &to_a), filled_b + 1);
	assert_int_equal(cb->tx_packets - txb0, 1); /* the ACCEPT */
	assert_int_equal(cb->accept_tx, 2);
	assert_int_equal(cb->ring_full_datagrams, 0);
	konce_ep_event ev;
	unsigned est = 0, msgs = 0;
	while (konce_ep_poll_event(p.a, &ev)) {
		est += ev.type == KONCE_EV_ESTABLISHED && ev.conn == c2;
		msgs += ev.type == KONCE_EV_MESSAGE;
	}
	assert_int_equal(est, 1);
	assert_int_equal(msgs, filled_b);
	assert_int_equal(ca->hs_retransmits, 0);
	assert_int_equal(ca->ring_full_control + cb->ring_full_control, 0);
	free_pair(&p);
}

/* The client moves: b's first challenge to the new address, and its check of the old one, are made
 * by the packet that shows the move (path.h counts a try for each).  With b's ring full both take
 * the reserve; a's response, coming from the new address, moves the session there with the
 * first try. */
static void test_first_challenge_takes_reserve(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	const struct konce_ep_counters *cb = konce_ep_counters(p.b);
	unsigned filled = fill_ring(p.b, sc, p.now);
	konce_addr old = p.addr_a;
	konce_addr_parse(&p.addr_a, "192.0.2.1:2222");
	uint8_t big[400] = {0}; /* large enough for the padded challenges under the amplification limit */
	assert_int_equal(konce_ep_send(p.a, cc, big, sizeof big, p.now), 0);
	uint64_t tx0 = cb->tx_packets;
	p.now += 10000;
	deliver(p.a, p.b, &p.addr_a, &p.addr_b, p.now, NULL);
	assert_int_equal(cb->path_challenge_tx, 1);
	assert_int_equal(cb->path_old_challenge_tx, 1);
	assert_int_equal(cb->tx_packets - tx0, 2);
	assert_int_equal(cb->ring_full_datagrams, 0);
	/* b's flush: the messages and the old path's check to the validated address, the challenge
	 * to the new one, once */
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned n_old = 0, n_new = 0;
	p.now += 10000;
	while (konce_ep_poll_datagram(p.b, buf, &len, &to)) {
		n_old += konce_addr_eq(&to, &old);
		if (konce_addr_eq(&to, &p.addr_a)) {
			n_new++;
			konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
		}
	}
	assert_int_equal(n_old, filled + 1);
	assert_int_equal(n_new, 1);
	/* a answers from its new address: the session moves there with the first try */
	p.now += 10000;
	deliver(p.a, p.b, &p.addr_a, &p.addr_b, p.now, NULL);
	assert_int_equal(cb->path_challenge_tx, 1);
	assert_int_equal(cb->path_changed, 1);
	assert_true(konce_addr_eq(&konce_ep_sess_by_conn(p.b, sc)->path.cur, &p.addr_a));
	assert_int_equal(cb->ring_full_control, 0);
	free_pair(&p);
}

/* The reserve is finite: more control datagrams than it holds between two flushes are dropped,
 * and counted as such (ring_full_control), the ordinary traffic's own waits apart.  b, with a
 * 16-slot ring (and so the smallest reserve, 16 slots), gets 24 PINGs while its ring is full. */
static void test_reserve_overflow_counted(void **state)
{
	(void)state;
	enum { PINGS = 24 };
	konce_ep_config cfg = {.out_ring = RING};
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, &cfg, &sc);
	const struct konce_ep_counters *cb = konce_ep_counters(p.b);
	assert_int_equal(fill_ring(p.b, sc, p.now), RING);
	unsigned reserve = RING; /* konce_ep_out_reserve_for(16) */
	for (unsigned i = 0; i < PINGS; i++) {
		assert_int_equal(konce_ep_ping(p.a, cc, p.now), 0);
		assert_int_equal(deliver(p.a, p.b, &p.addr_a, &p.addr_b, p.now, NULL), 1);
		p.now += 1000;
	}
	assert_int_equal(cb->ring_full_control, PINGS - reserve);
	assert_int_equal(cb->ring_full_datagrams, PINGS - reserve);
	assert_int_equal(deliver(p.b, p.a, &p.addr_b, &p.addr_a, p.now, NULL), RING + reserve);
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalives_survive_full_ring),
		cmocka_unit_test(test_path_retry_waits_for_room),
		cmocka_unit_test(test_ping_ack_takes_reserve),
		cmocka_unit_test(test_close_takes_reserve),
		cmocka_unit_test(test_handshake_takes_reserve),
		cmocka_unit_test(test_first_challenge_takes_reserve),
		cmocka_unit_test(test_reserve_overflow_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
