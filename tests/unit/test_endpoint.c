/* test_endpoint.c - two endpoints wired back to back in-process (no simulator): the handshake,
 * the first message and the reply, version negotiation, wrong keys, duplicate INITIATEs, and the
 * proof that unauthenticated packets allocate nothing and are never answered with more bytes
 * than they carried. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"
#include "node/transport/load.h"
#include "testenv.h"

typedef struct pair {
	test_env tenv_a, tenv_b;
	konce_identity *id_a, *id_b;
	konce_ep *a, *b; /* a: client at addr_a, b: server at addr_b */
	konce_addr addr_a, addr_b;
	uint64_t now;
	/* filled by pump() */
	size_t a_to_b_bytes, b_to_a_bytes;
	unsigned a_to_b_pkts, b_to_a_pkts;
	uint8_t last_initiate[KONCE_WIRE_MAX_DATAGRAM];
	size_t last_initiate_len;
	uint8_t server_saw_pk[KONCE_WIRE_KEY]; /* handshake(): the key b's ESTABLISHED showed for a */
	enum konce_ep_verdict b_verdict; /* pump(): what b's konce_ep_input() said of the latest datagram */
	konce_ep_rx b_rx;
} pair;

static void make_pair(pair *p, const konce_ep_config *ca, const konce_ep_config *cb)
{
	memset(p, 0, sizeof *p);
	test_env_init(&p->tenv_a, 1);
	test_env_init(&p->tenv_b, 2);
	assert_int_equal(konce_identity_generate(&p->id_a, &p->tenv_a.env), 0);
	assert_int_equal(konce_identity_generate(&p->id_b, &p->tenv_b.env), 0);
	konce_ep_config a = ca ? *ca : (konce_ep_config){0}, b = cb ? *cb : (konce_ep_config){0};
	a.env = &p->tenv_a.env;
	a.identity = p->id_a;
	b.env = &p->tenv_b.env;
	b.identity = p->id_b;
	p->now = 1000000;
	assert_int_equal(konce_ep_new(&p->a, &a, p->now), 0);
	assert_int_equal(konce_ep_new(&p->b, &b, p->now), 0);
	assert_int_equal(konce_addr_parse(&p->addr_a, "192.0.2.1:1000"), 0);
	assert_int_equal(konce_addr_parse(&p->addr_b, "198.51.100.2:7807"), 0);
}

static void free_pair(pair *p)
{
	konce_ep_free(p->a);
	konce_ep_free(p->b);
	konce_identity_free(p->id_a);
	konce_identity_free(p->id_b);
	assert_int_equal(p->tenv_a.allocs, p->tenv_a.frees);
	assert_int_equal(p->tenv_b.allocs, p->tenv_b.frees);
}

/* Delivers everything queued, in both directions, until quiet; one-way delay 10 ms per hop. */
static void pump(pair *p)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		while (konce_ep_poll_datagram(p->a, buf, &len, &to)) {
			moved = 1;
			p->now += 10000;
			if (buf[0] == KONCE_PKT_INITIATE) {
				memcpy(p->last_initiate, buf, len);
				p->last_initiate_len = len;
			}
			p->a_to_b_bytes += len;
			p->a_to_b_pkts++;
			if (konce_addr_eq(&to, &p->addr_b))
				p->b_verdict = konce_ep_input(p->b, buf, len, &p->addr_a, p->now, &p->b_rx);
		}
		while (konce_ep_poll_datagram(p->b, buf, &len, &to)) {
			moved = 1;
			p->now += 10000;
			p->b_to_a_bytes += len;
			p->b_to_a_pkts++;
			if (konce_addr_eq(&to, &p->addr_a))
				konce_ep_input(p->a, buf, len, &p->addr_b, p->now, NULL);
		}
	}
}

static bool next_event(konce_ep *ep, konce_ep_event *ev, enum konce_ep_event_type type)
{
	while (konce_ep_poll_event(ep, ev))
		if (ev->type == type)
			return true;
	return false;
}

static void drain_events(konce_ep *ep)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(ep, &ev))
		;
}

/* Connects a to b with "hello?" and lets b answer "hi!" in its ACCEPT. */
static uint32_t handshake(pair *p, uint32_t *server_conn)
{
	uint32_t conn;
	uint64_t start = p->now;
	assert_int_equal(konce_ep_connect(p->a, konce_identity_public(p->id_b), &p->addr_b,
					  (const uint8_t *)"hello?", 6, p->now, &conn), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	/* HELLO -> COOKIE -> INITIATE, stepwise so the server can answer before its ACCEPT leaves */
	assert_true(konce_ep_poll_datagram(p->a, buf, &len, &to));
	assert_int_equal(len, KONCE_HELLO_SIZE);
	konce_ep_rx rx;
	assert_int_equal(konce_ep_input(p->b, buf, len, &p->addr_a, p->now += 10000, &rx), KONCE_EP_HELLO_ANSWERED);
	assert_int_equal(rx.conn, 0);
	assert_int_equal(rx.cost, KONCE_COST_HELLO);
	assert_true(konce_ep_poll_datagram(p->b, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_COOKIE);
	assert_int_equal(konce_ep_input(p->a, buf, len, &p->addr_b, p->now += 10000, &rx), KONCE_EP_COOKIE_TAKEN);
	assert_int_equal(rx.conn, conn);
	assert_true(konce_ep_poll_datagram(p->a, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_INITIATE);
	memcpy(p->last_initiate, buf, len);
	p->last_initiate_len = len;
	assert_int_equal(konce_ep_input(p->b, buf, len, &p->addr_a, p->now += 10000, &rx), KONCE_EP_ESTABLISHED);
	assert_int_equal(rx.cost, KONCE_COST_REJECT + KONCE_COST_POW + KONCE_COST_DH);
	uint32_t server_rx_conn = rx.conn;

	konce_ep_event ev;
	assert_true(konce_ep_poll_event(p->b, &ev));
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_true(ev.incoming);
	assert_true(konce_addr_eq(&ev.addr, &p->addr_a));
	memcpy(p->server_saw_pk, ev.peer_pk, sizeof p->server_saw_pk);
	*server_conn = ev.conn;
	assert_int_equal(server_rx_conn, ev.conn);
	assert_true(konce_ep_poll_event(p->b, &ev));
	assert_int_equal(ev.type, KONCE_EV_MESSAGE);
	assert_int_equal(ev.len, 6);
	assert_memory_equal(ev.data, "hello?", 6);
	assert_int_equal(konce_ep_send(p->b, *server_conn, (const uint8_t *)"hi!", 3, p->now), 0);

	assert_true(konce_ep_poll_datagram(p->b, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_ACCEPT);
	assert_true(konce_addr_eq(&to, &p->addr_a));
	assert_int_equal(konce_ep_input(p->a, buf, len, &p->addr_b, p->now += 10000, &rx), KONCE_EP_ESTABLISHED);
	assert_int_equal(rx.conn, conn);
	assert_true(konce_ep_poll_event(p->a, &ev));
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_false(ev.incoming);
	assert_int_equal(ev.conn, conn);
	assert_memory_equal(ev.peer_pk, konce_identity_public(p->id_b), 32);
	assert_true(konce_ep_poll_event(p->a, &ev));
	assert_int_equal(ev.type, KONCE_EV_MESSAGE);
	assert_int_equal(ev.len, 3);
	assert_memory_equal(ev.data, "hi!", 3);
	/* four one-way trips of 10 ms: the reply to the first message arrives at 2 RTT */
	assert_int_equal(p->now - start, 2 * 20000);
	return conn;
}

/* konce_ep_input() says what it did: session data with its conn, and each kind of drop. */
static void test_verdicts(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], data[KONCE_WIRE_MAX_DATAGRAM];
	size_t dlen;
	konce_addr to;
	konce_ep_rx rx;
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"x", 1, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, data, &dlen, &to));
	assert_int_equal(konce_ep_input(p.b, data, dlen, &p.addr_a, p.now, &rx), KONCE_EP_SESSION_DATA);
	assert_int_equal(rx.conn, sc);
	assert_int_equal(rx.cost, 1);
	/* the same packet again: a replay */
	assert_int_equal(konce_ep_input(p.b, data, dlen, &p.addr_a, p.now, &rx), KONCE_EP_DROPPED_STALE);
	assert_int_equal(rx.conn, 0);
	assert_true(konce_ep_dropped(KONCE_EP_DROPPED_STALE));
	/* a flipped bit in the ciphertext of a fresh packet: authentication fails */
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"y", 1, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, buf, &dlen, &to));
	buf[dlen - 1] ^= 1;
	assert_int_equal(konce_ep_input(p.b, buf, dlen, &p.addr_a, p.now, NULL), KONCE_EP_DROPPED_AUTH);
	/* a connection id that names no session */
	buf[KONCE_DATA_DCID] ^= 0x55;
	assert_int_equal(konce_ep_input(p.b, buf, dlen, &p.addr_a, p.now, NULL), KONCE_EP_DROPPED_UNMATCHED);
	/* not the transport's: empty, too long, an unknown type byte */
	assert_int_equal(konce_ep_input(p.b, buf, 0, &p.addr_a, p.now, NULL), KONCE_EP_NOT_MINE);
	uint8_t big[KONCE_PMTU_MAX + 1] = {KONCE_PKT_DATA}; /* DATA may be as large as KONCE_PMTU_MAX */
	assert_int_equal(konce_ep_input(p.b, big, sizeof big, &p.addr_a, p.now, NULL), KONCE_EP_NOT_MINE);
	big[0] = KONCE_PKT_HELLO; /* every other type fits 1,200 bytes */
	assert_int_equal(konce_ep_input(p.b, big, KONCE_WIRE_MAX_DATAGRAM + 1, &p.addr_a, p.now, NULL),
			 KONCE_EP_NOT_MINE);
	buf[0] = 0x47;
	assert_int_equal(konce_ep_input(p.b, buf, 64, &p.addr_a, p.now, &rx), KONCE_EP_NOT_MINE);
	assert_int_equal(rx.cost, 0);
	assert_false(konce_ep_dropped(KONCE_EP_NOT_MINE));
	/* a truncated HELLO */
	buf[0] = KONCE_PKT_HELLO;
	assert_int_equal(konce_ep_input(p.b, buf, 64, &p.addr_a, p.now, NULL), KONCE_EP_DROPPED_MALFORMED);
	/* an ACCEPT for no handshake of ours */
	memset(buf, 0, sizeof buf);
	buf[0] = KONCE_PKT_ACCEPT;
	assert_int_equal(konce_ep_input(p.a, buf, KONCE_WIRE_MAX_DATAGRAM, &p.addr_b, p.now, NULL),
			 KONCE_EP_DROPPED_UNMATCHED);
	drain_events(p.a);
	drain_events(p.b);
	free_pair(&p);
}

static void test_handshake_and_data(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	/* the server sees the client's per-server key, not its master key */
	konce_identity *derived;
	assert_int_equal(konce_identity_derive_for(p.id_a, konce_identity_public(p.id_b), &derived), 0);
	assert_memory_equal(p.server_saw_pk, konce_identity_public(derived), KONCE_WIRE_KEY);
	assert_memory_not_equal(p.server_saw_pk, konce_identity_public(p.id_a), KONCE_WIRE_KEY);
	konce_ep_event ev;
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 1);
	konce_identity_free(derived);

	/* DATA both ways */
	for (int i = 0; i < 50; i++) {
		char m[32];
		int n = snprintf(m, sizeof m, "c2s %d", i);
		assert_int_equal(konce_ep_send(p.a, cc, (uint8_t *)m, (size_t)n, p.now), 0);
		pump(&p);
		assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
		assert_int_equal(ev.conn, sc);
		assert_memory_equal(ev.data, m, (size_t)n);
		n = snprintf(m, sizeof m, "s2c %d", i);
		assert_int_equal(konce_ep_send(p.b, sc, (uint8_t *)m, (size_t)n, p.now), 0);
		pump(&p);
		assert_true(next_event(p.a, &ev, KONCE_EV_MESSAGE));
		assert_memory_equal(ev.data, m, (size_t)n);
	}
	assert_int_equal(konce_ep_send(p.a, cc, NULL, KONCE_EP_MAX_MESSAGE + 1, p.now), -EMSGSIZE);
	uint8_t big[KONCE_EP_MAX_MESSAGE];
	memset(big, 7, sizeof big);
	assert_int_equal(konce_ep_send(p.a, cc, big, sizeof big, p.now), 0);
	pump(&p);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE));
	assert_int_equal(ev.len, sizeof big);

	/* an authenticated CLOSE ends it on both sides */
	assert_int_equal(konce_ep_close(p.a, cc, p.now), 0);
	assert_int_equal(konce_ep_send(p.a, cc, big, 1, p.now), -ENOENT);
	pump(&p);
	assert_true(next_event(p.b, &ev, KONCE_EV_CLOSED));
	assert_int_equal(ev.conn, sc);
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 0);
	free_pair(&p);
}

static void test_explicit_identity(void **state)
{
	(void)state;
	pair p;
	konce_ep_config ca = {.explicit_identity = true};
	make_pair(&p, &ca, NULL);
	uint32_t sc;
	handshake(&p, &sc);
	free_pair(&p);

	/* default: a per-server key, which differs from the master key */
	make_pair(&p, NULL, NULL);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	konce_ep_event ev;
	assert_true(next_event(p.b, &ev, KONCE_EV_ESTABLISHED));
	konce_identity *derived;
	assert_int_equal(konce_identity_derive_for(p.id_a, konce_identity_public(p.id_b), &derived), 0);
	assert_memory_equal(ev.peer_pk, konce_identity_public(derived), 32);
	assert_memory_not_equal(ev.peer_pk, konce_identity_public(p.id_a), 32);
	konce_identity_free(derived);
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	free_pair(&p);
}

static void test_version_mismatch(void **state)
{
	(void)state;
	pair p;
	static const uint16_t va[] = {7, 8}, vb[] = {1, 9};
	konce_ep_config ca = {.versions = va, .nversions = 2}, cb = {.versions = vb, .nversions = 2};
	make_pair(&p, &ca, &cb);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	konce_ep_event ev;
	assert_true(konce_ep_poll_event(p.a, &ev));
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.conn, conn);
	assert_int_equal(ev.reason, KONCE_FAIL_VERSION);
	assert_int_equal(ev.nversions, 2);
	assert_int_equal(ev.versions[0], 1);
	assert_int_equal(ev.versions[1], 9);
	assert_int_equal(konce_ep_counters(p.b)->version_tx, 1);
	/* the VERSION answer was smaller than the HELLO */
	assert_true(p.b_to_a_bytes <= p.a_to_b_bytes);
	assert_false(konce_ep_poll_event(p.b, &ev));
	free_pair(&p);

	/* a common version further down the client's list is chosen */
	static const uint16_t vc[] = {7, 9};
	ca.versions = vc;
	make_pair(&p, &ca, &cb);
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	free_pair(&p);
}

static void test_wrong_server_key(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint8_t wrong[32];
	memcpy(wrong, konce_identity_public(p.id_a), 32); /* a valid key, just not the server's */
	uint64_t b_allocs = p.tenv_b.allocs;
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, wrong, &p.addr_b, (const uint8_t *)"x", 1, p.now, &conn), 0);
	konce_ep_event ev;
	for (int i = 0; i < 20 && !konce_ep_poll_event(p.a, &ev); i++) {
		pump(&p);
		p.now = konce_ep_next_timer(p.a);
		konce_ep_timer(p.a, p.now);
		konce_ep_timer(p.b, p.now);
	}
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.reason, KONCE_FAIL_TIMEOUT);
	const struct konce_ep_counters *c = konce_ep_counters(p.b);
	/* KONCE_HS_RESTART_AFTER INITIATEs, a fresh HELLO, then KONCE_HS_ATTEMPTS more */
	assert_int_equal(c->init_unknown_server, KONCE_HS_RESTART_AFTER + KONCE_HS_ATTEMPTS);
	assert_int_equal(konce_ep_counters(p.a)->hs_restarts, 1);
	assert_int_equal(c->sessions_opened, 0);
	assert_int_equal(p.tenv_b.allocs, b_allocs); /* full crypto path ran, nothing allocated */
	assert_int_equal(konce_ep_counters(p.a)->sessions_live, 0);
	free_pair(&p);
}

static void test_timeout_no_answer(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned sent = 0;
	konce_ep_event ev;
	uint64_t start = p.now;
	while (!konce_ep_poll_event(p.a, &ev)) {
		while (konce_ep_poll_datagram(p.a, buf, &len, &to))
			sent++; /* lost */
		p.now = konce_ep_next_timer(p.a);
		konce_ep_timer(p.a, p.now);
	}
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.reason, KONCE_FAIL_TIMEOUT);
	assert_int_equal(sent, KONCE_HS_ATTEMPTS);
	assert_int_equal(p.now - start, (uint64_t)KONCE_HS_ATTEMPTS * KONCE_HS_RETRY_MS * 1000);
	assert_int_equal(konce_ep_send(p.a, conn, buf, 1, p.now), -ENOENT);
	free_pair(&p);
}

static void test_pow_too_high(void **state)
{
	(void)state;
	pair p;
	/* a server with tiny capacity demands work; a client that pays at most 1 bit gives up */
	konce_ep_config ca = {.max_pow_bits = 1}, cb = {.capacity = 20};
	make_pair(&p, &ca, &cb);
	uint8_t hello[KONCE_HELLO_SIZE] = {KONCE_PKT_HELLO};
	for (int i = 0; i < 25; i++) /* load the server to ~125% for a period */
		konce_ep_input(p.b, hello, sizeof hello, &p.addr_a, p.now, NULL);
	p.now += 1100000;
	assert_true(konce_ep_pow_bits(p.b, p.now) > 1);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(p.b, buf, &len, &to))
		;
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	konce_ep_event ev;
	assert_true(konce_ep_poll_event(p.a, &ev));
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.reason, KONCE_FAIL_POW_TOO_HIGH);
	free_pair(&p);

	/* and one that pays completes */
	make_pair(&p, NULL, &cb);
	for (int i = 0; i < 25; i++)
		konce_ep_input(p.b, hello, sizeof hello, &p.addr_a, p.now, NULL);
	p.now += 1100000;
	unsigned bits = konce_ep_pow_bits(p.b, p.now);
	assert_true(bits > 0 && bits <= 20);
	while (konce_ep_poll_datagram(p.b, buf, &len, &to))
		;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	/* the proof is solved in slices from the client's timer (hs_client.c) */
	for (int i = 0; i < 100000 && konce_ep_next_timer(p.a) <= p.now; i++) {
		konce_ep_timer(p.a, p.now += 1000);
		pump(&p);
	}
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_true(p.last_initiate[KONCE_INIT_POW_BITS] > 0);
	free_pair(&p);
}

static void test_duplicate_initiate(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc;
	handshake(&p, &sc);
	drain_events(p.a);
	const struct konce_ep_counters *c = konce_ep_counters(p.b);
	uint64_t opened = c->sessions_opened, allocs = p.tenv_b.allocs;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	/* the same INITIATE again (a retransmission): the stored ACCEPT, no DH, no new session */
	konce_ep_rx rx;
	assert_int_equal(konce_ep_input(p.b, p.last_initiate, p.last_initiate_len, &p.addr_a, p.now, &rx),
			 KONCE_EP_ACCEPT_RESENT);
	assert_int_equal(rx.conn, sc);
	assert_true(rx.cost < 10);
	assert_int_equal(c->init_dup_resent, 1);
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_ACCEPT);
	assert_true(konce_addr_eq(&to, &p.addr_a));
	/* a copy with another pow nonce (nothing depends on it) counts as the same INITIATE */
	uint8_t copy[KONCE_WIRE_MAX_DATAGRAM];
	memcpy(copy, p.last_initiate, p.last_initiate_len);
	copy[KONCE_INIT_POW_NONCE] ^= 0xff;
	konce_ep_input(p.b, copy, p.last_initiate_len, &p.addr_a, p.now, NULL);
	assert_int_equal(c->init_dup_resent, 2);
	uint8_t again[KONCE_WIRE_MAX_DATAGRAM];
	size_t again_len;
	assert_true(konce_ep_poll_datagram(p.b, again, &again_len, &to));
	assert_int_equal(again_len, len);
	assert_memory_equal(again, buf, len);
	/* the client, already established, ignores the second ACCEPT */
	konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
	assert_int_equal(konce_ep_counters(p.a)->accept_unmatched, 1);
	konce_ep_event ev;
	assert_false(konce_ep_poll_event(p.a, &ev));
	/* the same bytes from another address: dropped, nothing sent (no reflection) */
	konce_addr other;
	konce_addr_parse(&other, "203.0.113.9:4000");
	konce_ep_input(p.b, p.last_initiate, p.last_initiate_len, &other, p.now, NULL);
	assert_int_equal(c->init_dup_dropped, 1);
	assert_false(konce_ep_poll_datagram(p.b, buf, &len, &to));
	/* a modified INITIATE with the used challenge: dropped */
	p.last_initiate[p.last_initiate_len - 1] ^= 1;
	konce_ep_input(p.b, p.last_initiate, p.last_initiate_len, &p.addr_a, p.now, NULL);
	assert_int_equal(c->init_dup_dropped, 2);
	assert_int_equal(c->sessions_opened, opened);
	assert_int_equal(p.tenv_b.allocs, allocs);
	free_pair(&p);
}

/* No state before proof: 100,000 HELLOs and 100,000 forged or replayed INITIATEs leave the
 * server's allocation count where it was, and no answer is larger than what caused it. */
static void test_no_alloc_before_proof(void **state)
{
	(void)state;
	pair p;
	konce_ep_config cb = {.capacity = 100000000, .rl_rate = 1000000000, .rl_burst = 1000000000};
	make_pair(&p, NULL, &cb);
	uint32_t sc;
	handshake(&p, &sc);
	uint8_t valid[KONCE_WIRE_MAX_DATAGRAM];
	size_t valid_len = p.last_initiate_len;
	memcpy(valid, p.last_initiate, valid_len);
	const struct konce_ep_counters *c = konce_ep_counters(p.b);
	uint64_t allocs = p.tenv_b.allocs, frees = p.tenv_b.frees;
	uint64_t tx_bytes = c->tx_bytes, rx_bytes = c->rx_bytes;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to, src = p.addr_a;

	konce_hello h = {0};
	konce_versions_set(&h.versions, (const uint16_t[]){1}, 1);
	uint8_t hello[KONCE_HELLO_SIZE];
	uint64_t out_bytes = 0, in_bytes = 0;
	for (uint32_t i = 0; i < 100000; i++) {
		h.client_time = i;
		memcpy(h.client_cid, &i, sizeof i);
		src.port = (uint16_t)i;
		konce_hello_build(hello, &h);
		konce_ep_input(p.b, hello, sizeof hello, &src, p.now, NULL);
		in_bytes += sizeof hello;
		while (konce_ep_poll_datagram(p.b, buf, &len, &to)) {
			assert_true(len <= sizeof hello);
			out_bytes += len;
		}
	}
	assert_int_equal(c->cookie_tx, 100000 + 1);
	assert_true(out_bytes <= in_bytes);

	uint8_t forged[KONCE_WIRE_MAX_DATAGRAM];
	uint64_t dropped0 = c->init_rx;
	for (uint32_t i = 0; i < 100000; i++) {
		memcpy(forged, valid, valid_len);
		size_t flen = valid_len;
		switch (i % 8) {
		case 0: /* replay of the accepted INITIATE from elsewhere */
			src.port = (uint16_t)(i + 1);
			break;
		case 1: /* random bytes after the type */
			randombytes_buf(forged + 1, flen - 1);
			break;
		case 2: /* truncated */
			flen = i % KONCE_INIT_MIN_SIZE;
			break;
		case 3: /* another challenge under the old MAC */
			wire_put64(forged + KONCE_INIT_CHALLENGE, wire_get64(forged + KONCE_INIT_CHALLENGE) - 1 - i);
			break;
		case 4: /* a forged MAC on a fresh-looking challenge */
			wire_put64(forged + KONCE_INIT_CHALLENGE, wire_get64(forged + KONCE_INIT_CHALLENGE) + 1);
			randombytes_buf(forged + KONCE_INIT_MAC, KONCE_WIRE_MAC);
			break;
		case 5: /* tampered box2 of the accepted one */
			forged[flen - 1 - i % 16] ^= 0x80;
			break;
		case 6: /* server time from the future */
			wire_put64(forged + KONCE_INIT_SERVER_TIME, p.now / 1000 + 1 + i);
			break;
		case 7: /* unknown key generation */
			forged[KONCE_INIT_KEY_ID] ^= 0x5a;
			wire_put64(forged + KONCE_INIT_CHALLENGE, wire_get64(forged + KONCE_INIT_CHALLENGE) + 1);
			break;
		}
		konce_ep_input(p.b, forged, flen, &src, p.now, NULL);
		src = p.addr_a;
		assert_false(konce_ep_poll_datagram(p.b, buf, &len, &to));
	}
	assert_int_equal(c->init_rx - dropped0, 100000);
	/* and INITIATEs that pass the MAC and the proof of work (fresh cookies) but carry a tampered
	 * box or key: the server does the X25519 work, then drops them without allocating */
	for (unsigned i = 0; i < 300; i++) {
		uint32_t conn;
		assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
		assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
		konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
		assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
		konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
		assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
		assert_int_equal(buf[0], KONCE_PKT_INITIATE);
		size_t at = i % 3 == 0 ? KONCE_INIT_BOX1 + i % 88 : i % 3 == 1 ? KONCE_INIT_BOX2 + i % (len - KONCE_INIT_BOX2)
										  : KONCE_INIT_CLIENT_EPK + i % 32;
		buf[at] ^= 0x01;
		konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
		assert_false(konce_ep_poll_datagram(p.b, buf, &len, &to));
		assert_int_equal(konce_ep_close(p.a, conn, p.now), 0);
	}
	assert_int_equal(c->init_bad_box1 + c->init_bad_box2 + c->init_low_order, 300);
	/* and a stale replay after the cookie lifetime */
	uint64_t stale0 = c->init_stale;
	p.now += (uint64_t)(KONCE_COOKIE_LIFETIME_MS + 1) * 1000;
	konce_ep_input(p.b, valid, valid_len, &p.addr_a, p.now, NULL);
	assert_int_equal(c->init_stale - stale0, 1);
	assert_false(konce_ep_poll_datagram(p.b, buf, &len, &to));

	assert_int_equal(p.tenv_b.allocs, allocs);
	assert_int_equal(p.tenv_b.frees, frees);
	assert_int_equal(c->sessions_opened, 1);
	assert_true(c->tx_bytes - tx_bytes <= c->rx_bytes - rx_bytes);
	printf("# forged INITIATE drops: size %llu stale %llu window %llu dup %llu mac %llu pow %llu box1 %llu box2 %llu\n",
	       (unsigned long long)c->init_bad_size, (unsigned long long)c->init_stale,
	       (unsigned long long)c->init_challenge_window, (unsigned long long)c->init_dup_dropped,
	       (unsigned long long)c->init_bad_mac, (unsigned long long)c->init_bad_pow,
	       (unsigned long long)c->init_bad_box1, (unsigned long long)c->init_bad_box2);
	free_pair(&p);
}

/* Answers to unauthenticated packets are never larger than the packet: HELLOs of the wrong size
 * get nothing, full ones get an 88-byte COOKIE or a 28-byte VERSION. */
static void test_amplification(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (size_t n = 0; n <= KONCE_WIRE_MAX_DATAGRAM; n++) {
		for (unsigned t = 0; t < 16; t++) {
			memset(pkt, 0, sizeof pkt);
			pkt[0] = (uint8_t)(t / 2);
			pkt[KONCE_HELLO_NVERSIONS] = 1;
			wire_put16(pkt + KONCE_HELLO_VERSIONS, t % 2 ? 1 : 5); /* one we speak, one we don't */
			konce_ep_input(p.b, pkt, n, &p.addr_a, p.now, NULL);
			size_t out = 0;
			while (konce_ep_poll_datagram(p.b, buf, &len, &to))
				out += len;
			assert_true(out <= n);
			if (n != KONCE_HELLO_SIZE)
				assert_int_equal(out, 0);
		}
	}
	assert_int_equal(konce_ep_counters(p.b)->cookie_tx, 1);
	assert_int_equal(konce_ep_counters(p.b)->version_tx, 1);
	free_pair(&p);
}

/* The input-queue hint: a session's DATA first, a fresh source's HELLO next, DATA typed junk (no
 * such connection id, or a header too short to name one) and unknown types last.  From any
 * address: a session's DATA is 0 wherever it comes from (migration), and costs no crypto to tell. */
static void test_priority(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	(void)sc;
	drain_events(p.a);
	drain_events(p.b);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], hello[KONCE_HELLO_SIZE] = {KONCE_PKT_HELLO};
	size_t len;
	konce_addr to, elsewhere;
	assert_int_equal(konce_addr_parse(&elsewhere, "203.0.113.9:4000"), 0);
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"m", 1, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_DATA);
	uint64_t auth_fail = konce_ep_counters(p.b)->data_auth_fail;
	assert_int_equal(konce_ep_priority(p.b, buf, len, &p.addr_a, p.now), 0);
	assert_int_equal(konce_ep_priority(p.b, buf, len, &elsewhere, p.now), 0);
	assert_int_equal(konce_ep_priority(p.b, hello, sizeof hello, &elsewhere, p.now), 1);
	buf[KONCE_DATA_DCID] ^= 1; /* no session has this id */
	assert_int_equal(konce_ep_priority(p.b, buf, len, &p.addr_a, p.now), 17);
	assert_int_equal(konce_ep_priority(p.b, buf, KONCE_DATA_DCID + 4, &p.addr_a, p.now), 17);
	uint8_t unknown = 0x7f;
	assert_int_equal(konce_ep_priority(p.b, &unknown, 1, &p.addr_a, p.now), 17);
	assert_int_equal(konce_ep_priority(p.b, buf, 0, &p.addr_a, p.now), 17);
	/* reads only: nothing was opened, counted or charged */
	assert_int_equal(konce_ep_counters(p.b)->data_auth_fail, auth_fail);
	free_pair(&p);
}

static void test_garbage_cannot_close(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	drain_events(p.a);
	drain_events(p.b);
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
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	drain_events(p.a);
	drain_events(p.b);
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
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	drain_events(p.a);
	drain_events(p.b);
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

/* A server answering for several durable keys. */
static void test_server_identities(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	konce_identity *other;
	assert_int_equal(konce_identity_generate(&other, &p.tenv_b.env), 0);
	const konce_identity *ids[] = {p.id_b, other};
	assert_int_equal(konce_ep_set_server_identities(p.b, ids, 2), 0);
	assert_int_equal(konce_ep_set_server_identities(p.b, ids, 0), -EINVAL);
	uint32_t conn;
	konce_ep_event ev;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(konce_ep_connect(p.a, konce_identity_public(ids[i]), &p.addr_b, NULL, 0, p.now, &conn), 0);
		pump(&p);
		assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
		assert_memory_equal(ev.peer_pk, konce_identity_public(ids[i]), 32);
	}
	/* and no longer for one it dropped */
	assert_int_equal(konce_ep_set_server_identities(p.b, ids, 1), 0);
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(other), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	assert_false(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_true(konce_ep_counters(p.b)->init_unknown_server >= 1);
	free_pair(&p);
	konce_identity_free(other);
}

/* The client's address changes between COOKIE and INITIATE (a NAT rebinding): the INITIATE fails
 * the cookie MAC, and after KONCE_HS_RESTART_AFTER tries the client starts over and gets through. */
static void test_restart_after_rebinding(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, (const uint8_t *)"q", 1,
					  p.now, &conn), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
	konce_addr_parse(&p.addr_a, "192.0.2.1:3333"); /* the NAT maps the client anew */
	konce_ep_event ev;
	while (!konce_ep_poll_event(p.a, &ev)) {
		pump(&p);
		p.now = konce_ep_next_timer(p.a);
		konce_ep_timer(p.a, p.now);
	}
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_int_equal(konce_ep_counters(p.b)->init_bad_mac, KONCE_HS_RESTART_AFTER);
	assert_int_equal(konce_ep_counters(p.a)->hs_restarts, 1);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE)); /* the first message survived the restart */
	assert_memory_equal(ev.data, "q", 1);
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

/* A full server refuses before any DH, and its client times out; a freed slot is reused. */
static void test_server_full(void **state)
{
	(void)state;
	pair p;
	konce_ep_config cb = {.max_sessions = 1};
	make_pair(&p, NULL, &cb);
	uint32_t sc;
	handshake(&p, &sc);
	drain_events(p.a);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	const struct konce_ep_counters *c = konce_ep_counters(p.b);
	assert_int_equal(c->init_full, 1);
	assert_int_equal(p.b_verdict, KONCE_EP_DROPPED_FULL);
	assert_int_equal(p.b_rx.cost, KONCE_COST_REJECT + KONCE_COST_POW);
	/* the server's session ends; the client's retransmitted INITIATE now finds room */
	assert_int_equal(konce_ep_close(p.b, sc, p.now), 0);
	konce_ep_event ev;
	while (!konce_ep_poll_event(p.a, &ev) || ev.type == KONCE_EV_CLOSED) {
		pump(&p);
		p.now = konce_ep_next_timer(p.a);
		konce_ep_timer(p.a, p.now);
	}
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_int_equal(ev.conn, conn);
	free_pair(&p);
}

/* Limited circulation: only holders of the group key get any answer, and each COOKIE's point is
 * masked differently. */
static void test_group_server(void **state)
{
	(void)state;
	pair p;
	uint8_t group[32], wrong[32];
	memset(group, 0x77, sizeof group);
	memset(wrong, 0x78, sizeof wrong);
	konce_ep_config cb = {.group_key = group};
	make_pair(&p, NULL, &cb);
	konce_ep_connect_opts opts = {.group_key = group};
	uint32_t conn;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], epk1[32];
	size_t len;
	konce_addr to;
	/* two HELLOs with the key: two COOKIEs, masked, whose points differ */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(konce_ep_connect_ex(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, &opts, p.now,
						     &conn), 0);
		assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
		assert_int_equal(buf[KONCE_HELLO_FLAGS], KONCE_HELLO_F_CLUE);
		konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
		assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
		assert_int_equal(buf[KONCE_COOKIE_FLAGS], KONCE_COOKIE_F_MASKED);
		if (i == 0)
			memcpy(epk1, buf + KONCE_COOKIE_SERVER_EPK, 32);
		else
			assert_memory_not_equal(epk1, buf + KONCE_COOKIE_SERVER_EPK, 32);
		konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
		pump(&p);
	}
	konce_ep_event ev;
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 2);

	/* without the key, or with the wrong one: silence, then a timeout */
	const uint8_t *keys[] = {NULL, wrong};
	for (int i = 0; i < 2; i++) {
		opts.group_key = keys[i];
		assert_int_equal(konce_ep_connect_ex(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, &opts, p.now,
						     &conn), 0);
		uint64_t tx = konce_ep_counters(p.b)->tx_packets;
		while (!konce_ep_poll_event(p.a, &ev)) {
			pump(&p);
			p.now = konce_ep_next_timer(p.a);
			konce_ep_timer(p.a, p.now);
		}
		assert_int_equal(ev.type, KONCE_EV_FAILED);
		assert_int_equal(ev.reason, KONCE_FAIL_TIMEOUT);
		assert_int_equal(konce_ep_counters(p.b)->tx_packets, tx);
	}
	assert_int_equal(konce_ep_counters(p.b)->hello_bad_clue, 2 * KONCE_HS_ATTEMPTS);
	free_pair(&p);

	/* a client that expects a group server does not accept an unmasked cookie */
	make_pair(&p, NULL, NULL);
	opts.group_key = group;
	assert_int_equal(konce_ep_connect_ex(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, &opts, p.now, &conn),
			 0);
	pump(&p);
	assert_true(konce_ep_counters(p.a)->cookie_bad >= 1);
	assert_false(konce_ep_poll_event(p.a, &ev));
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_explicit_identity),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_wrong_server_key),
		cmocka_unit_test(test_timeout_no_answer),
		cmocka_unit_test(test_pow_too_high),
		cmocka_unit_test(test_duplicate_initiate),
		cmocka_unit_test(test_no_alloc_before_proof),
		cmocka_unit_test(test_amplification),
		cmocka_unit_test(test_garbage_cannot_close),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_address_change),
		cmocka_unit_test(test_idle_close),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test(test_group_server),
		cmocka_unit_test(test_frame_extension),
		cmocka_unit_test(test_rekey_between_endpoints),
		cmocka_unit_test(test_server_identities),
		cmocka_unit_test(test_server_full),
		cmocka_unit_test(test_restart_after_rebinding),
		cmocka_unit_test(test_lossy_network),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
