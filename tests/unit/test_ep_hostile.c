/* test_ep_hostile.c - endpoints against authenticated but hostile peers: memory a peer
 * can make us hold (reassembly, send queues), the event ring, ACK and PATH_CHALLENGE floods.
 * Endpoints are wired back to back in-process, as in test_endpoint.c; the hostile side writes raw
 * frames with konce_ep_send_frames_conn(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ackframe.h"
#include "node/transport/conn.h"
#include "node/transport/endpoint.h"
#include "node/transport/frag.h"
#include "node/transport/frame.h"
#include "node/transport/identity.h"
#include "node/transport/msgq.h"
#include "node/base/varint.h"
#include "tests/unit/bytes_env.h"
#include "tests/unit/testenv.h"

enum { MAXC = 8 };

/* One server and up to MAXC clients, each at its own address. */
typedef struct world {
	bytes_env senv;
	test_env cenv[MAXC];
	konce_identity *sid, *cid[MAXC];
	konce_ep *s, *c[MAXC];
	konce_addr saddr, caddr[MAXC];
	uint32_t sconn[MAXC], cconn[MAXC];
	unsigned n;
	uint64_t now;
	bool hold_c2s[MAXC]; /* drop what client i sends (it never acks, never sends) */
} world;

static void world_init(world *w, unsigned n, const konce_ep_config *scfg, const konce_ep_config *ccfg)
{
	memset(w, 0, sizeof *w);
	w->n = n;
	w->now = 1000000;
	bytes_env_init(&w->senv, 99);
	assert_int_equal(konce_identity_generate(&w->sid, &w->senv.env), 0);
	konce_ep_config sc = scfg ? *scfg : (konce_ep_config){0};
	sc.env = &w->senv.env;
	sc.identity = w->sid;
	assert_int_equal(konce_ep_new(&w->s, &sc, w->now), 0);
	assert_int_equal(konce_addr_parse(&w->saddr, "198.51.100.2:7807"), 0);
	for (unsigned i = 0; i < n; i++) {
		char a[64];
		test_env_init(&w->cenv[i], (uint8_t)(i + 1));
		assert_int_equal(konce_identity_generate(&w->cid[i], &w->cenv[i].env), 0);
		konce_ep_config cc = ccfg ? *ccfg : (konce_ep_config){0};
		cc.env = &w->cenv[i].env;
		cc.identity = w->cid[i];
		assert_int_equal(konce_ep_new(&w->c[i], &cc, w->now), 0);
		snprintf(a, sizeof a, "192.0.2.%u:1000", i + 1);
		assert_int_equal(konce_addr_parse(&w->caddr[i], a), 0);
	}
}

static void world_free(world *w)
{
	for (unsigned i = 0; i < w->n; i++) {
		konce_ep_free(w->c[i]);
		konce_identity_free(w->cid[i]);
		assert_int_equal(w->cenv[i].allocs, w->cenv[i].frees);
	}
	konce_ep_free(w->s);
	konce_identity_free(w->sid);
	assert_int_equal(w->senv.bytes, 0);
}

/* Delivers datagrams both ways until quiet (1 ms per hop); events stay queued. */
static void pump(world *w)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		for (unsigned i = 0; i < w->n; i++)
			while (konce_ep_poll_datagram(w->c[i], buf, &len, &to)) {
				moved = 1;
				w->now += 1000;
				if (!w->hold_c2s[i])
					konce_ep_input(w->s, buf, len, &w->caddr[i], w->now, NULL);
			}
		while (konce_ep_poll_datagram(w->s, buf, &len, &to)) {
			moved = 1;
			w->now += 1000;
			for (unsigned i = 0; i < w->n; i++)
				if (konce_addr_eq(&to, &w->caddr[i]))
					konce_ep_input(w->c[i], buf, len, &w->saddr, w->now, NULL);
		}
	}
}

/* Client i connects; the server's conn for it goes to w->sconn[i].  Events are drained. */
static void connect_one(world *w, unsigned i)
{
	assert_int_equal(konce_ep_connect(w->c[i], konce_identity_public(w->sid), &w->saddr, NULL, 0, w->now,
					  &w->cconn[i]), 0);
	pump(w);
	konce_ep_event ev;
	bool est = false;
	while (konce_ep_poll_event(w->c[i], &ev))
		est |= ev.type == KONCE_EV_ESTABLISHED;
	assert_true(est);
	w->sconn[i] = 0;
	while (konce_ep_poll_event(w->s, &ev))
		if (ev.type == KONCE_EV_ESTABLISHED)
			w->sconn[i] = ev.conn;
	assert_int_not_equal(w->sconn[i], 0);
}

/* A FRAGMENT frame of message id claiming total bytes, len bytes at off. */
static int send_fragment(world *w, unsigned i, uint64_t id, uint64_t total, uint64_t off, size_t len)
{
	static uint8_t data[KONCE_FRAG_DATA_MAX];
	uint8_t frame[KONCE_WIRE_MAX_PAYLOAD];
	konce_fragment f = {.msg_id = id, .offset = off, .total = total, .len = len, .data = data};
	size_t n = konce_frag_encode(frame, sizeof frame, &f);
	assert_true(n > 0);
	return konce_ep_send_frames_conn(w->c[i], w->cconn[i], frame, n, w->now, NULL);
}

/* Regression: every first fragment used to calloc and charge the whole
 * message it claimed (18 MiB for 16 MiB), with no cap across sessions.  Eight authenticated
 * peers each claiming 64 messages of 16 MiB, one fragment each, now cost the server what the
 * fragments touch: well under 32 MiB in all (it was 8 x 18 MiB). */
static void test_claims_cost_what_they_touch(void **state)
{
	(void)state;
	world w;
	world_init(&w, MAXC, NULL, NULL);
	for (unsigned i = 0; i < MAXC; i++)
		connect_one(&w, i);
	uint64_t before = w.senv.bytes;
	for (unsigned i = 0; i < MAXC; i++) {
		for (uint64_t id = 1; id <= 64; id++)
			assert_int_equal(send_fragment(&w, i, id, KONCE_MSG_MAX_DEFAULT, KONCE_MSG_MAX_DEFAULT - 960, 960), 0);
		pump(&w);
	}
	assert_true(w.senv.peak - before < (32u << 20));
	world_free(&w);
}

/* Regression: with a pool smaller than two full messages, a greedy peer
 * cannot take it all: an honest peer's 1 MiB message still arrives while the greedy one holds
 * what it can. */
static void test_pool_leaves_room_for_others(void **state)
{
	(void)state;
	world w;
	konce_ep_config sc = {.max_message = 1u << 20, .msg_budget_total = 3u << 20};
	world_init(&w, 2, &sc, NULL);
	connect_one(&w, 0);
	connect_one(&w, 1);
	/* the greedy peer touches every chunk of 64 messages of 1 MiB without finishing any */
	for (uint64_t id = 1; id <= 64; id++) {
		for (uint64_t off = 0; off < (1u << 20); off += KONCE_REASM_CHUNK)
			send_fragment(&w, 0, id, 1u << 20, off, 960);
		pump(&w);
	}
	uint64_t greedy = w.senv.bytes;
	assert_true(greedy < (3u << 20) + (1u << 20)); /* the pool, plus the sessions' fixed state */
	/* the honest peer sends a whole 1 MiB message reliably */
	static uint8_t msg[1u << 20];
	for (size_t k = 0; k < sizeof msg; k++)
		msg[k] = (uint8_t)(k * 13);
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(w.c[1], w.cconn[1], msg, sizeof msg, KONCE_MSG_CLASS_DEFAULT, 0, w.now, &id), 0);
	bool got = false;
	for (int round = 0; round < 2000 && !got; round++) {
		pump(&w);
		konce_ep_event ev;
		while (konce_ep_poll_event(w.s, &ev))
			if (ev.type == KONCE_EV_MESSAGE && ev.conn == w.sconn[1]) {
				assert_int_equal(ev.len, sizeof msg);
				assert_memory_equal(ev.data, msg, sizeof msg);
				got = true;
			}
		w.now += 5000;
		konce_ep_timer(w.c[1], w.now);
		konce_ep_timer(w.s, w.now);
	}
	assert_true(got);
	world_free(&w);
}

/* Regression: the fair share past half the reassembly pool was per session, budget / sessions
 * holding, so one host with a few sessions (seven here; the per-source cap allows 64) each touching
 * every chunk of a 16 MiB message filled the whole pool (4 x 18 MiB by default) and an honest
 * peer's 1 MiB message was refused.  The pool is now shared per source (frag.h): the seven, all
 * from 192.0.2.1, hold at most half of it together, and the honest peer's message arrives. */
static void test_pool_shared_per_source(void **state)
{
	(void)state;
	enum { HOSTILE = MAXC - 1, BIG = KONCE_MSG_MAX_DEFAULT };
	world w;
	world_init(&w, MAXC, NULL, NULL);
	for (unsigned i = 0; i < HOSTILE; i++) {
		char a[64];
		snprintf(a, sizeof a, "192.0.2.1:%u", 1000 + i);
		assert_int_equal(konce_addr_parse(&w.caddr[i], a), 0);
	}
	for (unsigned i = 0; i < MAXC; i++)
		connect_one(&w, i);
	for (unsigned i = 0; i < HOSTILE; i++)
		for (uint64_t off = 0; off < BIG; off += KONCE_REASM_CHUNK) {
			send_fragment(&w, i, 1, BIG, off, 960);
			if (off / KONCE_REASM_CHUNK % 64 == 63)
				pump(&w);
		}
	pump(&w);
	konce_ep_memory m;
	konce_ep_memory_get(w.s, &m);
	assert_int_equal(m.reasm_sources, 1);
	assert_true(m.reasm_used <= m.reasm_budget / 2);
	assert_true(m.reasm_used > m.reasm_budget / 2 - konce_reasm_charge(KONCE_REASM_CHUNK)); /* it tried */
	uint64_t hostile = m.reasm_used;
	/* the honest peer, from another address, sends a whole 1 MiB message reliably */
	static uint8_t msg[1u << 20];
	for (size_t k = 0; k < sizeof msg; k++)
		msg[k] = (uint8_t)(k * 29);
	unsigned h = MAXC - 1;
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(w.c[h], w.cconn[h], msg, sizeof msg, KONCE_MSG_CLASS_DEFAULT, 0, w.now, &id), 0);
	bool got = false, failed = false;
	for (int round = 0; round < 2000 && !got && !failed; round++) {
		pump(&w);
		konce_ep_event ev;
		while (konce_ep_poll_event(w.s, &ev))
			if (ev.type == KONCE_EV_MESSAGE && ev.conn == w.sconn[h]) {
				assert_int_equal(ev.len, sizeof msg);
				assert_memory_equal(ev.data, msg, sizeof msg);
				got = true;
			}
		while (konce_ep_poll_event(w.c[h], &ev))
			failed |= ev.type == KONCE_EV_MSG_FAILED && ev.msg_id == id;
		w.now += 5000;
		konce_ep_timer(w.c[h], w.now);
		konce_ep_timer(w.s, w.now);
	}
	assert_false(failed);
	assert_true(got);
	/* the hostile host still holds what it took: the honest message did not need any of it */
	konce_ep_memory_get(w.s, &m);
	assert_true(m.reasm_used >= hostile);
	world_free(&w);
}

/* Regression: a peer that never acknowledges (or advertises no credit)
 * used to let the send queue grow without bound.  Sends beyond the bound now fail at once with
 * -ENOBUFS, and no event ever follows for them. */
static void test_send_queue_bounded(void **state)
{
	(void)state;
	world w;
	konce_ep_config cc = {.max_message = 1u << 20};
	world_init(&w, 1, NULL, &cc);
	connect_one(&w, 0);
	/* the server goes silent: nothing it sends is acked */
	static uint8_t msg[1u << 20];
	uint64_t id;
	int r = 0;
	unsigned queued = 0;
	w.hold_c2s[0] = false;
	for (int k = 0; k < 40 && r == 0; k++) {
		r = konce_ep_msg_send(w.c[0], w.cconn[0], msg, sizeof msg, KONCE_MSG_CLASS_DEFAULT, 0, w.now, &id);
		if (r == 0)
			queued++;
		/* what the client sends is lost on the way: no acks come back */
		uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
		size_t len;
		konce_addr to;
		while (konce_ep_poll_datagram(w.c[0], buf, &len, &to))
			;
	}
	assert_int_equal(r, -ENOBUFS);
	assert_true(queued >= 8 && queued <= 16); /* the default bound: 16 MiB */
	assert_true(konce_ep_msg_queued(w.c[0], w.cconn[0]) <= 16u << 20);
	/* the refused send has no event: only queued messages fail when the session closes */
	assert_int_equal(konce_ep_close(w.c[0], w.cconn[0], w.now), 0);
	konce_ep_event ev;
	unsigned failed = 0;
	while (konce_ep_poll_event(w.c[0], &ev))
		failed += ev.type == KONCE_EV_MSG_FAILED;
	assert_int_equal(failed, queued);
	world_free(&w);
}

/* Regression: the send-queue pool was first come, first served: four sessions whose peers never
 * acknowledge (each allowed send_queue_max, a quarter of the pool) filled it, and every other
 * session's send failed with -ENOBUFS.  Now, past half, a session grows only within its slice,
 * send_queue_total / (2 x max_sessions) (msgq.h): seven such sessions together hold at most half
 * the pool and their slices, and the eighth still queues a message as large as its slice, which
 * is delivered. */
static void test_send_pool_slices(void **state)
{
	(void)state;
	/* a table of 32 (at 8 incoming, a COOKIE demands no work yet: ep_table.c rule 5) */
	enum { SESS = 32, QMAX = 256 << 10, TOTAL = 1 << 20, MSG = 2 << 10, SLICE = TOTAL / 2 / SESS };
	world w;
	konce_ep_config sc = {.max_sessions = SESS, .send_queue_max = QMAX, .send_queue_total = TOTAL};
	world_init(&w, MAXC, &sc, NULL);
	for (unsigned i = 0; i < MAXC; i++)
		connect_one(&w, i);
	static uint8_t msg[SLICE];
	uint64_t id;
	unsigned queued[MAXC] = {0};
	for (unsigned i = 0; i + 1 < MAXC; i++) {
		w.hold_c2s[i] = true; /* this peer never acknowledges anything */
		int r;
		while ((r = konce_ep_msg_send(w.s, w.sconn[i], msg, MSG, KONCE_MSG_CLASS_DEFAULT, 0, w.now, &id)) == 0)
			queued[i]++;
		assert_int_equal(r, -ENOBUFS);
		pump(&w);
	}
	konce_ep_memory m;
	konce_ep_memory_get(w.s, &m);
	assert_int_equal(m.send_budget, TOTAL);
	assert_int_equal(m.send_holders, MAXC - 1);
	assert_true(m.send_used <= TOTAL / 2 + (MAXC - 1) * SLICE);
	/* the first come filled the first half; each later one its slice, no more */
	assert_true(queued[0] * konce_msgq_cost(MSG) > QMAX - konce_msgq_cost(MSG));
	for (unsigned i = 2; i + 1 < MAXC; i++)
		assert_true(queued[i] * konce_msgq_cost(MSG) <= SLICE);
	/* the honest session: a message of all its slice */
	size_t len = SLICE - KONCE_MSGQ_MSG_COST - 64;
	assert_true(konce_msgq_cost(len) <= SLICE);
	for (size_t k = 0; k < len; k++)
		msg[k] = (uint8_t)(k * 7);
	unsigned h = MAXC - 1;
	assert_int_equal(konce_ep_msg_send(w.s, w.sconn[h], msg, len, KONCE_MSG_CLASS_DEFAULT, 0, w.now, &id), 0);
	bool got = false, delivered = false;
	for (int round = 0; round < 2000 && !(got && delivered); round++) {
		pump(&w);
		konce_ep_event ev;
		while (konce_ep_poll_event(w.c[h], &ev))
			if (ev.type == KONCE_EV_MESSAGE) {
				assert_int_equal(ev.len, len);
				assert_memory_equal(ev.data, msg, len);
				got = true;
			}
		while (konce_ep_poll_event(w.s, &ev))
			delivered |= ev.type == KONCE_EV_MSG_DELIVERED && ev.msg_id == id;
		w.now += 5000;
		konce_ep_timer(w.c[h], w.now);
		konce_ep_timer(w.s, w.now);
	}
	assert_true(got);
	assert_true(delivered);
	world_free(&w);
}

/* Regression: one authenticated peer flooding MESSAGE frames in one wake
 * used to fill the 65,536-slot event ring, after which the CLOSED of *another* session was
 * dropped and its peer entry went stale.  Now the flooder is held at its per-session bound and
 * the other session's CLOSED arrives. */
static void test_lifecycle_survives_message_flood(void **state)
{
	(void)state;
	world w;
	world_init(&w, 2, NULL, NULL);
	connect_one(&w, 0);
	connect_one(&w, 1);
	const uint8_t m[8] = "flooding";
	for (unsigned k = 0; k < 70000; k++) {
		assert_int_equal(konce_ep_send(w.c[0], w.cconn[0], m, sizeof m, w.now), 0);
		if (k % 128 == 127)
			pump(&w);
	}
	pump(&w);
	assert_true(konce_ep_counters(w.s)->msg_events_held > 0);
	assert_int_equal(konce_ep_close(w.c[1], w.cconn[1], w.now), 0);
	pump(&w);
	konce_ep_event ev;
	unsigned msgs = 0, closed = 0;
	while (konce_ep_poll_event(w.s, &ev)) {
		msgs += ev.type == KONCE_EV_MESSAGE;
		closed += ev.type == KONCE_EV_CLOSED && ev.conn == w.sconn[1];
	}
	assert_int_equal(closed, 1);
	assert_true(msgs <= KONCE_EP_SESS_MSG_EVENTS);
	assert_int_equal(konce_ep_counters(w.s)->ring_full_events, 0);
	/* consumed: the session reads messages again */
	assert_int_equal(konce_ep_send(w.c[0], w.cconn[0], m, sizeof m, w.now), 0);
	pump(&w);
	assert_true(konce_ep_poll_event(w.s, &ev));
	assert_int_equal(ev.type, KONCE_EV_MESSAGE);
	world_free(&w);
}

/* Regression: reliable messages from a peer the application does not keep
 * up with are held back (not read, not acknowledged) once the session has its bound of unconsumed
 * MESSAGE events, and every one still arrives exactly once when the application catches up. */
static void test_reliable_backpressure(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1, NULL, NULL);
	connect_one(&w, 0);
	enum { N = 1500 };
	static uint8_t seen[N];
	memset(seen, 0, sizeof seen);
	for (unsigned k = 0; k < N; k++) {
		uint8_t m[4] = {(uint8_t)(k >> 8), (uint8_t)k, 0xab, 0xcd};
		uint64_t id;
		assert_int_equal(konce_ep_msg_send(w.c[0], w.cconn[0], m, sizeof m, KONCE_MSG_CLASS_DEFAULT, 0, w.now, &id), 0);
	}
	/* the application sleeps: at most the bound (plus one packet's worth) is taken in */
	for (int round = 0; round < 4000; round++) {
		pump(&w);
		w.now += 5000;
		konce_ep_timer(w.c[0], w.now);
		konce_ep_timer(w.s, w.now);
	}
	uint64_t taken = konce_ep_counters(w.s)->msgs_rx;
	assert_true(taken >= KONCE_EP_SESS_MSG_EVENTS);
	assert_true(taken < KONCE_EP_SESS_MSG_EVENTS + 200);
	assert_true(konce_ep_counters(w.s)->msg_events_held > 0);
	/* then it catches up, and everything arrives once */
	unsigned got = 0;
	for (int round = 0; round < 20000 && got < N; round++) {
		konce_ep_event ev;
		while (konce_ep_poll_event(w.s, &ev))
			if (ev.type == KONCE_EV_MESSAGE) {
				assert_int_equal(ev.len, 4);
				unsigned k = (unsigned)ev.data[0] << 8 | ev.data[1];
				assert_true(k < N);
				assert_int_equal(seen[k], 0);
				seen[k] = 1;
				got++;
			}
		pump(&w);
		w.now += 5000;
		konce_ep_timer(w.c[0], w.now);
		konce_ep_timer(w.s, w.now);
	}
	assert_int_equal(got, N);
	world_free(&w);
}

/* Regression: conn handles carried a 12-bit generation, so a slot's 4096th
 * reuse gave back a handle the application may still hold for a dead session.  The generation now
 * takes every bit the slot number leaves (32 with one slot, 22 with the default 1024). */
static void test_handle_generations(void **state)
{
	(void)state;
	world w;
	konce_ep_config cc = {.max_sessions = 1};
	world_init(&w, 1, NULL, &cc);
	uint32_t first, h;
	assert_int_equal(konce_ep_connect(w.c[0], konce_identity_public(w.sid), &w.saddr, NULL, 0, w.now, &first), 0);
	assert_int_equal(konce_ep_close(w.c[0], first, w.now), 0);
	for (unsigned k = 0; k < 5000; k++) {
		assert_int_equal(konce_ep_connect(w.c[0], konce_identity_public(w.sid), &w.saddr, NULL, 0, w.now, &h), 0);
		assert_int_not_equal(h, first);
		assert_int_equal(konce_ep_ping(w.c[0], first, w.now), -ENOENT); /* the old handle names nothing */
		assert_int_equal(konce_ep_close(w.c[0], h, w.now), 0);
	}
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(w.c[0], buf, &len, &to))
		;
	world_free(&w);
}

/* Regression: every PATH_CHALLENGE frame was answered with its own packet,
 * so one packet full of them (about 130) filled the shared out ring.  Now a packet gets at most one
 * PATH_RESPONSE. */
static void test_path_challenge_flood(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1, NULL, NULL);
	connect_one(&w, 0);
	uint8_t frames[KONCE_WIRE_MAX_PAYLOAD];
	size_t n = 0;
	for (uint8_t k = 0; n + 1 + KONCE_FRAME_PATH_DATA <= 50 * (1 + KONCE_FRAME_PATH_DATA); k++) {
		uint8_t data[KONCE_FRAME_PATH_DATA] = {k, 1, 2, 3, 4, 5, 6, 7};
		n += konce_frame_put_path(frames + n, sizeof frames - n, KONCE_FRAME_PATH_CHALLENGE, data);
	}
	assert_int_equal(konce_ep_send_frames_conn(w.c[0], w.cconn[0], frames, n, w.now, NULL), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(w.c[0], buf, &len, &to));
	uint64_t before = konce_ep_counters(w.s)->tx_packets;
	konce_ep_input(w.s, buf, len, &w.caddr[0], w.now += 1000, NULL);
	assert_int_equal(konce_ep_counters(w.s)->tx_packets - before, 1);
	world_free(&w);
}

static void nop_delivered(void *ctx, const konce_smsg *m) { (void)ctx, (void)m; }
static void nop_refused(void *ctx, const konce_smsg *m, uint8_t why) { (void)ctx, (void)m, (void)why; }
static void nop_message(void *ctx, konce_reasm_msg *m) { konce_conn_release(ctx, m); }

/* Regression: each ACK frame walks the sent-packet window, and one packet
 * holds about 200 of them.  Now only a packet's first ACK frame is acted on. */
static void test_one_ack_frame_per_packet(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 5);
	konce_conn_cfg cfg = {.budget = 1u << 20, .max_message = 1u << 20, .ring = 64, .keepalive_us = 15000000,
			      .msg_timeout_us = 30000000, .reasm_idle_us = 30000000, .overhead = 40};
	konce_conn *c;
	konce_conn_ops ops = {nop_delivered, nop_refused, nop_message, NULL};
	uint64_t now = 1000000;
	assert_int_equal(konce_conn_new(&c, &te.env, &cfg, &ops, now), 0);
	c->ops.ctx = c;
	static uint8_t msg[3000];
	assert_int_equal(konce_conn_send(c, msg, sizeof msg, 0, 1, now), 0);
	uint8_t out[KONCE_WIRE_MAX_PAYLOAD];
	for (uint64_t pn = 1; pn <= 3; pn++) {
		konce_sent_packet sp;
		assert_true(konce_conn_build(c, out, sizeof out, pn, now, &sp) > 0);
		konce_conn_on_sent(c, &sp, 1200, now);
	}
	uint64_t in_flight = c->rec.bytes_in_flight;
	assert_int_equal(in_flight, 3 * 1200);
	/* one packet, two ACK frames: [1, 1], then [3, 3] */
	uint8_t p[64];
	size_t n = 0;
	konce_ack a = {.credit = 1u << 20, .nranges = 1, .ranges = {{1, 1}}};
	n += konce_ackframe_encode(p + n, sizeof p - n, &a, NULL);
	a.ranges[0] = (konce_ack_range){3, 3};
	n += konce_ackframe_encode(p + n, sizeof p - n, &a, NULL);
	konce_conn_on_packet(c, 1, p, n, now + 20000);
	assert_int_equal(c->rec.bytes_in_flight, 2 * 1200); /* only packet 1 */
	assert_int_equal(c->acks_ignored, 1);
	konce_conn_free(c);
	assert_int_equal(te.allocs, te.frees);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims_cost_what_they_touch),
		cmocka_unit_test(test_pool_leaves_room_for_others),
		cmocka_unit_test(test_pool_shared_per_source),
		cmocka_unit_test(test_send_queue_bounded),
		cmocka_unit_test(test_send_pool_slices),
		cmocka_unit_test(test_lifecycle_survives_message_flood),
		cmocka_unit_test(test_reliable_backpressure),
		cmocka_unit_test(test_handle_generations),
		cmocka_unit_test(test_path_challenge_flood),
		cmocka_unit_test(test_one_ack_frame_per_packet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
