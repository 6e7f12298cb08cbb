/* test_ep_session.c - an established session between two endpoints back to back (ep_pair.h):
 * forged packets cannot close it, the client's address changes, it idles out, rekeys, carries
 * extension frames and survives a lossy, reordering, duplicating network; plus the counter names
 * and bad arguments to the API. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ep_pair.h"

static void test_garbage_cannot_close(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	/* capture one real DATA packet a -> b */
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"m", 1, p.now), 0);
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	konce_ep_event ev;
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	/* replay, truncations, every single-bit flip */
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	assert_int_equal(konce_ep_counters(p.b)->data_replay, 1);
	for (size_t n = 0; n < len; n++)
		konce_ep_input(p.b, buf, n, &p.addr_a, p.now, NULL);
	uint8_t t[KONCE_WIRE_MAX_DATAGRAM];
	for (size_t i = 0; i < len * 8; i++) {
		memcpy(t, buf, len);
		t[i / 8] ^= (uint8_t)(1 << (i % 8));
		konce_ep_input(p.b, t, len, &p.addr_a, p.now, NULL);
	}
	/* a forged CLOSE under a made-up key to the right cid */
	memcpy(t, buf, len);
	t[len - 3] = 0x55;
	konce_ep_input(p.b, t, len, &p.addr_a, p.now, NULL);
	assert_false(konce_ep_poll_event(p.b, &ev));
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 1);
	/* still works */
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"still", 5, p.now), 0);
	pump(&p);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	assert_memory_equal(ev.data, "still", 5);
	free_pair(&p);
}

static void test_address_change(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	/* the client's NAT mapping changes */
	konce_addr old = p.addr_a;
	konce_addr_parse(&p.addr_a, "192.0.2.1:2222");
	/* a packet too small to pay for a PATH_CHALLENGE under the 1x limit: delivered, not probed yet */
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"m", 1, p.now), 0);
	pump(&p);
	konce_ep_event ev;
	assert_true(konce_ep_poll_event(p.b, &ev));
	assert_int_equal(ev.type, KONCE_EV_MESSAGE); /* authenticated: delivered */
	assert_int_equal(konce_ep_counters(p.b)->path_challenge_tx, 0);
	assert_true(konce_ep_counters(p.b)->amplification_blocked > 0);
	/* replies still go to the validated address meanwhile */
	assert_int_equal(konce_ep_send(p.b, sc, (const uint8_t *)"r", 1, p.now), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	assert_true(konce_addr_eq(&to, &old));
	uint8_t id_old[KONCE_WIRE_CID], id_a_old[KONCE_WIRE_CID];
	memcpy(id_old, buf + KONCE_DATA_DCID, KONCE_WIRE_CID); /* the client's id, to the old address */
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"before", 6, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	memcpy(id_a_old, buf + KONCE_DATA_DCID, KONCE_WIRE_CID); /* the server's id, as the client uses it */
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	int fresh = 0;
	while (konce_ep_poll_datagram(p.b, buf, &len, &to))
		if (konce_addr_eq(&to, &p.addr_a)) { /* the challenge to the new address: a fresh id */
			assert_memory_not_equal(buf + KONCE_DATA_DCID, id_old, KONCE_WIRE_CID);
			konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
			fresh++;
		}
	assert_int_equal(fresh, 1);
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"moved, and a bit more", 21, p.now), 0);
	pump(&p);
	assert_true(next_event(p.b, &ev, KONCE_EV_PATH_CHANGED));
	assert_false(ev.validated); /* the old path's check is still running */
	assert_true(konce_addr_eq(&ev.addr, &p.addr_a));
	assert_int_equal(konce_ep_counters(p.b)->path_challenge_tx, 1);
	/* replies now go to the new address */
	assert_int_equal(konce_ep_send(p.b, sc, (const uint8_t *)"back", 4, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	assert_true(konce_addr_eq(&to, &p.addr_a));
	assert_false(konce_addr_eq(&to, &old));
	assert_memory_not_equal(buf + KONCE_DATA_DCID, id_old, KONCE_WIRE_CID);
	konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
	assert_true(next_event(p.a, &ev, KONCE_EV_MESSAGE));
	/* the client followed: its packets now carry a fresh id for the server, which it answers to */
	drain_events(p.b);
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"new id", 6, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	assert_memory_not_equal(buf + KONCE_DATA_DCID, id_a_old, KONCE_WIRE_CID);
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	assert_memory_equal(ev.data, "new id", 6);
	free_pair(&p);
}

static void test_idle_close(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc;
	handshake(&p, &sc);
	drain_events(p.b);
	p.now += (uint64_t)KONCE_IDLE_TIMEOUT_MS * 1000 + 1;
	assert_true(konce_ep_next_timer(p.b) <= p.now);
	konce_ep_timer(p.b, p.now);
	konce_ep_event ev;
	assert_true(next_event(p.b, &ev, KONCE_EV_CLOSED));
	assert_int_equal(ev.reason, KONCE_FAIL_IDLE);
	free_pair(&p);
}

static void count_names(void *ctx, const char *name, uint64_t v)
{
	unsigned *n = ctx;
	if (strcmp(name, "cookie_tx") == 0)
		assert_int_equal(v, 1);
	(*n)++;
}

static void test_counter_names(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc;
	handshake(&p, &sc);
	unsigned n = 0;
	konce_ep_counters_foreach(konce_ep_counters(p.b), count_names, &n);
	assert_int_equal(n * sizeof(uint64_t), sizeof(struct konce_ep_counters));
	free_pair(&p);
}

static void test_bad_args(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	konce_ep *ep;
	konce_ep_config cfg = {0};
	assert_int_equal(konce_ep_new(&ep, &cfg, 0), -EINVAL);
	uint32_t conn;
	uint8_t big[KONCE_EP_MAX_FIRST_MESSAGE + 1] = {0};
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, big, sizeof big, p.now, &conn),
			 -EMSGSIZE);
	assert_int_equal(konce_ep_send(p.a, 12345, big, 1, p.now), -ENOENT);
	assert_int_equal(konce_ep_close(p.a, 0, p.now), -ENOENT);
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	assert_int_equal(konce_ep_send(p.a, conn, big, 1, p.now), -ENOTCONN);
	assert_int_equal(konce_ep_close(p.a, conn, p.now), 0);
	free_pair(&p);
}

static long ext_len(void *ctx, uint8_t type, const uint8_t *p, size_t avail)
{
	(void)ctx;
	(void)p;
	return type == 0x20 && avail >= 4 ? 4 : -1;
}

struct ext_seen {
	unsigned n;
	uint32_t conn;
	uint64_t pn;
	uint8_t body[4];
};

static void ext_frame(void *ctx, uint32_t conn, uint64_t pn, uint8_t type, const uint8_t *body, size_t len,
		      uint64_t now_us)
{
	struct ext_seen *e = ctx;
	(void)now_us;
	assert_int_equal(type, 0x20);
	assert_int_equal(len, 4);
	e->n++;
	e->conn = conn;
	e->pn = pn;
	memcpy(e->body, body, 4);
}

/* The reliability layer's extension point: its frames reach its hook with their packet number,
 * and without the hook they make the packet malformed. */
static void test_frame_extension(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	drain_events(p.b);
	uint8_t frames[] = {0x20, 1, 2, 3, 4, KONCE_FRAME_MESSAGE, 0, 1, 'x'};
	uint64_t pn;
	assert_int_equal(konce_ep_send_frames_conn(p.a, cc, frames, sizeof frames, p.now, &pn), 0);
	assert_int_equal(pn, 2);
	pump(&p);
	assert_int_equal(konce_ep_counters(p.b)->data_bad_frame, 1);
	konce_ep_event ev;
	assert_false(konce_ep_poll_event(p.b, &ev));
	struct ext_seen seen = {0};
	konce_ep_ext ext = {ext_len, ext_frame, &seen};
	konce_ep_set_ext(p.b, &ext);
	assert_int_equal(konce_ep_send_frames_conn(p.a, cc, frames, sizeof frames, p.now, &pn), 0);
	assert_int_equal(pn, 3);
	pump(&p);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.conn, sc);
	assert_int_equal(seen.pn, 3);
	assert_memory_equal(seen.body, frames + 1, 4);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	assert_int_equal(konce_ep_acked(p.a, cc, 3), 0);
	assert_int_equal(konce_ep_acked(p.a, 999, 3), -ENOENT);
	assert_int_equal(konce_ep_send_frames_conn(p.a, 999, frames, sizeof frames, p.now, NULL), -ENOENT);
	konce_ep_set_ext(p.b, NULL);
	free_pair(&p);
}

/* Rekey between two endpoints: after KONCE_REKEY_AFTER_MS each side moves to the next key and the
 * other follows; a packet sealed before the rekey but delivered after it still opens. */
static void test_rekey_between_endpoints(void **state)
{
	(void)state;
	pair p;
	uint32_t sc, cc = connected_pair(&p, NULL, NULL, &sc);
	uint8_t late[KONCE_WIRE_MAX_DATAGRAM], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t late_len, len;
	konce_addr to;
	konce_ep_event ev;
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"before", 6, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, late, &late_len, &to)); /* held back */
	for (int round = 0; round < 3; round++) {
		p.now += (uint64_t)KONCE_REKEY_AFTER_MS * 1000 / 2; /* keep the sessions from idling out */
		konce_ep_timer(p.a, p.now);
		konce_ep_timer(p.b, p.now);
		p.now += (uint64_t)KONCE_REKEY_AFTER_MS * 1000 / 2 + 1;
		assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"after", 5, p.now), 0);
		assert_int_equal(konce_ep_send(p.b, sc, (const uint8_t *)"back", 4, p.now), 0);
		if (round == 0) {
			assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
			assert_int_equal(buf[KONCE_DATA_FLAGS] & KONCE_DATA_F_KEY_PHASE, KONCE_DATA_F_KEY_PHASE);
			konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
			/* the straggler from before the rekey */
			konce_ep_input(p.b, late, late_len, &p.addr_a, p.now, NULL);
			assert_true(konce_ep_poll_event(p.b, &ev));
			assert_memory_equal(ev.data, "after", 5);
			assert_true(konce_ep_poll_event(p.b, &ev));
			assert_memory_equal(ev.data, "before", 6);
			assert_int_equal(konce_ep_counters(p.b)->rx_old_key, 1);
		}
		pump(&p);
		if (round > 0) {
			assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
			assert_memory_equal(ev.data, "after", 5);
		}
		assert_true(next_event(p.a, &ev, KONCE_EV_MESSAGE));
		assert_memory_equal(ev.data, "back", 4);
	}
	assert_int_equal(konce_ep_counters(p.a)->rekey_tx, 3);
	assert_int_equal(konce_ep_counters(p.b)->rekey_rx, 3);
	assert_int_equal(konce_ep_counters(p.b)->rekey_tx, 3);
	/* the old key is wiped after KONCE_REKEY_OLD_KEY_MS: a replayed straggler no longer opens */
	p.now += (uint64_t)KONCE_REKEY_OLD_KEY_MS * 1000 + 1;
	konce_ep_timer(p.b, p.now);
	uint64_t fails = konce_ep_counters(p.b)->data_auth_fail + konce_ep_counters(p.b)->data_replay;
	konce_ep_input(p.b, late, late_len, &p.addr_a, p.now, NULL);
	assert_int_equal(konce_ep_counters(p.b)->data_auth_fail + konce_ep_counters(p.b)->data_replay, fails + 1);
	free_pair(&p);
}

/* A small lossy network: each datagram is lost with 10%, duplicated with 10%, and delayed 5..45 ms
 * (so reordered).  Seeded, so every run is the same. */
struct flight {
	uint64_t at;
	bool to_b;
	size_t len;
	uint8_t data[KONCE_WIRE_MAX_DATAGRAM];
};

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void lossy_collect(pair *p, struct flight *q, size_t *nq, size_t cap, uint64_t *rng)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int side = 0; side < 2; side++)
		while (konce_ep_poll_datagram(side ? p->b : p->a, buf, &len, &to)) {
			unsigned copies = rng_next(rng) % 10 == 0 ? 0 : rng_next(rng) % 10 == 0 ? 2 : 1;
			for (unsigned c = 0; c < copies && *nq < cap; c++) {
				struct flight *f = &q[(*nq)++];
				f->at = p->now + 5000 + rng_next(rng) % 40000;
				f->to_b = side == 0;
				f->len = len;
				memcpy(f->data, buf, len);
			}
		}
}

static void test_lossy_network(void **state)
{
	(void)state;
	pair p;
	/* 100 sessions at once from one address and key: a table of 2048 allows 128 per source */
	konce_ep_config cb = {.capacity = 100000000, .rl_rate = 1000000000, .rl_burst = 1000000000,
			      .max_sessions = 2048};
	make_pair(&p, NULL, &cb);
	enum { N = 100, CAP = 4096 };
	static struct flight q[CAP];
	size_t nq = 0;
	uint64_t rng = 0x1234567887654321ull;
	uint32_t conns[N];
	unsigned established = 0, replies = 0, failed = 0;
	for (int i = 0; i < N; i++)
		assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, (const uint8_t *)"ping", 4,
						  p.now + (uint64_t)i * 1000, &conns[i]), 0);
	uint64_t end = p.now + 60ull * 1000000;
	while (p.now < end && established + failed < N) {
		lossy_collect(&p, q, &nq, CAP, &rng);
		/* the next thing to happen: a delivery or a timer */
		uint64_t next = konce_ep_next_timer(p.a);
		if (konce_ep_next_timer(p.b) < next)
			next = konce_ep_next_timer(p.b);
		size_t first = SIZE_MAX;
		for (size_t i = 0; i < nq; i++)
			if (q[i].at <= next && (first == SIZE_MAX || q[i].at < q[first].at))
				first = i;
		if (first != SIZE_MAX) {
			struct flight f = q[first];
			q[first] = q[--nq];
			p.now = f.at > p.now ? f.at : p.now;
			konce_ep_input(f.to_b ? p.b : p.a, f.data, f.len, f.to_b ? &p.addr_a : &p.addr_b, p.now, NULL);
		} else {
			p.now = next > p.now ? next : p.now;
			konce_ep_timer(p.a, p.now);
			konce_ep_timer(p.b, p.now);
		}
		konce_ep_event ev;
		while (konce_ep_poll_event(p.b, &ev))
			if (ev.type == KONCE_EV_MESSAGE)
				konce_ep_send(p.b, ev.conn, (const uint8_t *)"pong", 4, p.now);
		while (konce_ep_poll_event(p.a, &ev)) {
			if (ev.type == KONCE_EV_ESTABLISHED)
				established++;
			if (ev.type == KONCE_EV_MESSAGE && ev.len == 4 && memcmp(ev.data, "pong", 4) == 0)
				replies++;
			if (ev.type == KONCE_EV_FAILED)
				failed++;
		}
	}
	printf("# lossy: %u established, %u replies in ACCEPT, %u failed; client retransmits %llu restarts %llu; "
	       "server dup INITIATEs answered %llu, replays dropped %llu\n",
	       established, replies, failed, (unsigned long long)konce_ep_counters(p.a)->hs_retransmits,
	       (unsigned long long)konce_ep_counters(p.a)->hs_restarts,
	       (unsigned long long)konce_ep_counters(p.b)->init_dup_resent,
	       (unsigned long long)konce_ep_counters(p.b)->init_dup_dropped);
	assert_int_equal(established, N);
	assert_int_equal(failed, 0);
	/* every reply rode in an ACCEPT, which the client got (resent on duplicate INITIATEs) */
	assert_int_equal(replies, N);
	/* one server session per handshake, plus one per client restart at most */
	assert_true(konce_ep_counters(p.b)->sessions_opened >= N);
	assert_true(konce_ep_counters(p.b)->sessions_opened <= N + konce_ep_counters(p.a)->hs_restarts);
	free_pair(&p);
}

/* Packets taken in together are acknowledged together: while b takes in a burst of a's DATA
 * packets, it sends nothing (an ACK alone waits); its timer, due at once, then sends one ACK,
 * which covers the whole burst. */
static void test_one_ack_per_burst(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	(void)sc;
	pump(&p);
	drain_events(p.a);
	drain_events(p.b);
	enum { FRAGS = 4 };
	static uint8_t msg[FRAGS * KONCE_FRAG_DATA_MAX], burst[FRAGS + 1][KONCE_WIRE_MAX_DATAGRAM];
	size_t lens[FRAGS + 1], n = 0;
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7);
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(p.a, cc, msg, sizeof msg, KONCE_MSG_CLASS_DEFAULT, 0, p.now, &id), 0);
	konce_addr to;
	while (n <= FRAGS && konce_ep_poll_datagram(p.a, burst[n], &lens[n], &to))
		n++;
	assert_int_equal(n, FRAGS); /* one packet a fragment, all within the initial window */
	p.now += 10000;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(konce_ep_input(p.b, burst[i], lens[i], &p.addr_a, p.now, NULL), KONCE_EP_SESSION_DATA);
		assert_false(konce_ep_poll_datagram(p.b, buf, &len, &to));
	}
	konce_ep_event ev;
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	assert_int_equal(ev.len, sizeof msg);
	assert_memory_equal(ev.data, msg, sizeof msg);
	assert_true(konce_ep_next_timer(p.b) <= p.now);
	konce_ep_timer(p.b, p.now);
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	assert_false(konce_ep_poll_datagram(p.b, buf, &len, &to));
	/* that one ACK acknowledges every packet of the burst: the message is delivered at a */
	konce_ep_input(p.a, buf, len, &p.addr_b, p.now += 10000, NULL);
	assert_true(next_event(p.a, &ev, KONCE_EV_MSG_DELIVERED));
	assert_int_equal(ev.msg_id, id);
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_cannot_close),
		cmocka_unit_test(test_address_change),
		cmocka_unit_test(test_idle_close),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test(test_frame_extension),
		cmocka_unit_test(test_rekey_between_endpoints),
		cmocka_unit_test(test_lossy_network),
		cmocka_unit_test(test_one_ack_per_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
