/* test_endpoint.c - two endpoints wired back to back in-process (no simulator, ep_pair.h): the
 * handshake, the first message and the reply, the verdicts of konce_ep_input(), version
 * negotiation, wrong keys, duplicate INITIATEs, and the proof that unauthenticated packets allocate
 * nothing and are never answered with more bytes than they carried.  An established session's
 * life is in test_ep_session.c, the server's admission in test_ep_server.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ep_pair.h"

/* a dials b with no first message, and the pair runs until quiet: a's conn. */
static uint32_t dial(pair *p)
{
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p->a, konce_identity_public(p->id_b), &p->addr_b, NULL, 0, p->now, &conn), 0);
	pump(p);
	return conn;
}

/* 25 HELLOs from a's address load a capacity-20 server to ~125% for a period; a period later it
 * demands work, and what it answered is dropped. */
static void load_server(pair *p)
{
	uint8_t hello[KONCE_HELLO_SIZE] = {KONCE_PKT_HELLO}, buf[KONCE_WIRE_MAX_DATAGRAM];
	for (int i = 0; i < 25; i++)
		konce_ep_input(p->b, hello, sizeof hello, &p->addr_a, p->now, NULL);
	p->now += 1100000;
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(p->b, buf, &len, &to))
		;
}

/* konce_ep_input() says what it did: session data with its conn, and each kind of drop. */
static void test_verdicts(void **state)
{
	pair *p = *state;
	uint32_t sc, cc = handshake(p, &sc);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], data[KONCE_WIRE_MAX_DATAGRAM];
	size_t dlen;
	konce_addr to;
	konce_ep_rx rx;
	assert_int_equal(konce_ep_send(p->a, cc, (const uint8_t *)"x", 1, p->now), 0);
	assert_true(konce_ep_poll_datagram(p->a, data, &dlen, &to));
	assert_int_equal(konce_ep_input(p->b, data, dlen, &p->addr_a, p->now, &rx), KONCE_EP_SESSION_DATA);
	assert_int_equal(rx.conn, sc);
	assert_int_equal(rx.cost, 1);
	/* the same packet again: a replay */
	assert_int_equal(konce_ep_input(p->b, data, dlen, &p->addr_a, p->now, &rx), KONCE_EP_DROPPED_STALE);
	assert_int_equal(rx.conn, 0);
	assert_true(konce_ep_dropped(KONCE_EP_DROPPED_STALE));
	/* a flipped bit in the ciphertext of a fresh packet: authentication fails */
	assert_int_equal(konce_ep_send(p->a, cc, (const uint8_t *)"y", 1, p->now), 0);
	assert_true(konce_ep_poll_datagram(p->a, buf, &dlen, &to));
	buf[dlen - 1] ^= 1;
	assert_int_equal(konce_ep_input(p->b, buf, dlen, &p->addr_a, p->now, NULL), KONCE_EP_DROPPED_AUTH);
	/* a connection id that names no session */
	buf[KONCE_DATA_DCID] ^= 0x55;
	assert_int_equal(konce_ep_input(p->b, buf, dlen, &p->addr_a, p->now, NULL), KONCE_EP_DROPPED_UNMATCHED);
	/* not the transport's: empty, too long, an unknown type byte */
	assert_int_equal(konce_ep_input(p->b, buf, 0, &p->addr_a, p->now, NULL), KONCE_EP_NOT_MINE);
	uint8_t big[KONCE_PMTU_MAX + 1] = {KONCE_PKT_DATA}; /* DATA may be as large as KONCE_PMTU_MAX */
	assert_int_equal(konce_ep_input(p->b, big, sizeof big, &p->addr_a, p->now, NULL), KONCE_EP_NOT_MINE);
	big[0] = KONCE_PKT_HELLO; /* every other type fits 1,200 bytes */
	assert_int_equal(konce_ep_input(p->b, big, KONCE_WIRE_MAX_DATAGRAM + 1, &p->addr_a, p->now, NULL),
			 KONCE_EP_NOT_MINE);
	buf[0] = 0x47;
	assert_int_equal(konce_ep_input(p->b, buf, 64, &p->addr_a, p->now, &rx), KONCE_EP_NOT_MINE);
	assert_int_equal(rx.cost, 0);
	assert_false(konce_ep_dropped(KONCE_EP_NOT_MINE));
	/* a truncated HELLO */
	buf[0] = KONCE_PKT_HELLO;
	assert_int_equal(konce_ep_input(p->b, buf, 64, &p->addr_a, p->now, NULL), KONCE_EP_DROPPED_MALFORMED);
	/* an ACCEPT for no handshake of ours */
	memset(buf, 0, sizeof buf);
	buf[0] = KONCE_PKT_ACCEPT;
	assert_int_equal(konce_ep_input(p->a, buf, KONCE_WIRE_MAX_DATAGRAM, &p->addr_b, p->now, NULL),
			 KONCE_EP_DROPPED_UNMATCHED);
	drain_events(p->a);
	drain_events(p->b);
}

static void test_handshake_and_data(void **state)
{
	pair *p = *state;
	uint32_t sc, cc = handshake(p, &sc);
	/* the server sees the client's per-server key, not its master key */
	konce_identity *derived;
	assert_int_equal(konce_identity_derive_for(p->id_a, konce_identity_public(p->id_b), &derived), 0);
	assert_memory_equal(p->server_saw_pk, konce_identity_public(derived), KONCE_WIRE_KEY);
	assert_memory_not_equal(p->server_saw_pk, konce_identity_public(p->id_a), KONCE_WIRE_KEY);
	konce_ep_event ev;
	assert_int_equal(konce_ep_counters(p->b)->sessions_live, 1);
	konce_identity_free(derived);

	/* DATA both ways */
	for (int i = 0; i < 50; i++) {
		char m[32];
		int n = snprintf(m, sizeof m, "c2s %d", i);
		assert_int_equal(konce_ep_send(p->a, cc, (uint8_t *)m, (size_t)n, p->now), 0);
		pump(p);
		assert_true(next_event(p->b, &ev, KONCE_EV_MESSAGE));
		assert_int_equal(ev.conn, sc);
		assert_memory_equal(ev.data, m, (size_t)n);
		n = snprintf(m, sizeof m, "s2c %d", i);
		assert_int_equal(konce_ep_send(p->b, sc, (uint8_t *)m, (size_t)n, p->now), 0);
		pump(p);
		assert_true(next_event(p->a, &ev, KONCE_EV_MESSAGE));
		assert_memory_equal(ev.data, m, (size_t)n);
	}
	assert_int_equal(konce_ep_send(p->a, cc, NULL, KONCE_EP_MAX_MESSAGE + 1, p->now), -EMSGSIZE);
	uint8_t big[KONCE_EP_MAX_MESSAGE];
	memset(big, 7, sizeof big);
	assert_int_equal(konce_ep_send(p->a, cc, big, sizeof big, p->now), 0);
	pump(p);
	assert_true(next_event(p->b, &ev, KONCE_EV_MESSAGE));
	assert_int_equal(ev.len, sizeof big);

	/* an authenticated CLOSE ends it on both sides */
	assert_int_equal(konce_ep_close(p->a, cc, p->now), 0);
	assert_int_equal(konce_ep_send(p->a, cc, big, 1, p->now), -ENOENT);
	pump(p);
	assert_true(next_event(p->b, &ev, KONCE_EV_CLOSED));
	assert_int_equal(ev.conn, sc);
	assert_int_equal(konce_ep_counters(p->b)->sessions_live, 0);
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
	dial(&p);
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
	uint32_t conn = dial(&p);
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
	conn = dial(&p);
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	free_pair(&p);
}

static void test_wrong_server_key(void **state)
{
	pair *p = *state;
	uint8_t wrong[32];
	memcpy(wrong, konce_identity_public(p->id_a), 32); /* a valid key, just not the server's */
	uint64_t b_allocs = p->tenv_b.allocs;
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p->a, wrong, &p->addr_b, (const uint8_t *)"x", 1, p->now, &conn), 0);
	konce_ep_event ev;
	for (int i = 0; i < 20 && !konce_ep_poll_event(p->a, &ev); i++) {
		pump(p);
		p->now = konce_ep_next_timer(p->a);
		konce_ep_timer(p->a, p->now);
		konce_ep_timer(p->b, p->now);
	}
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.reason, KONCE_FAIL_TIMEOUT);
	const struct konce_ep_counters *c = konce_ep_counters(p->b);
	/* KONCE_HS_RESTART_AFTER INITIATEs, a fresh HELLO, then KONCE_HS_ATTEMPTS more */
	assert_int_equal(c->init_unknown_server, KONCE_HS_RESTART_AFTER + KONCE_HS_ATTEMPTS);
	assert_int_equal(konce_ep_counters(p->a)->hs_restarts, 1);
	assert_int_equal(c->sessions_opened, 0);
	assert_int_equal(p->tenv_b.allocs, b_allocs); /* full crypto path ran, nothing allocated */
	assert_int_equal(konce_ep_counters(p->a)->sessions_live, 0);
}

static void test_timeout_no_answer(void **state)
{
	pair *p = *state;
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p->a, konce_identity_public(p->id_b), &p->addr_b, NULL, 0, p->now, &conn), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned sent = 0;
	konce_ep_event ev;
	uint64_t start = p->now;
	while (!konce_ep_poll_event(p->a, &ev)) {
		while (konce_ep_poll_datagram(p->a, buf, &len, &to))
			sent++; /* lost */
		p->now = konce_ep_next_timer(p->a);
		konce_ep_timer(p->a, p->now);
	}
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.reason, KONCE_FAIL_TIMEOUT);
	assert_int_equal(sent, KONCE_HS_ATTEMPTS);
	assert_int_equal(p->now - start, (uint64_t)KONCE_HS_ATTEMPTS * KONCE_HS_RETRY_MS * 1000);
	assert_int_equal(konce_ep_send(p->a, conn, buf, 1, p->now), -ENOENT);
}

static void test_pow_too_high(void **state)
{
	(void)state;
	pair p;
	/* a server with tiny capacity demands work; a client that pays at most 1 bit gives up */
	konce_ep_config ca = {.max_pow_bits = 1}, cb = {.capacity = 20};
	make_pair(&p, &ca, &cb);
	load_server(&p);
	assert_true(konce_ep_pow_bits(p.b, p.now) > 1);
	dial(&p);
	konce_ep_event ev;
	assert_true(konce_ep_poll_event(p.a, &ev));
	assert_int_equal(ev.type, KONCE_EV_FAILED);
	assert_int_equal(ev.reason, KONCE_FAIL_POW_TOO_HIGH);
	free_pair(&p);

	/* and one that pays completes */
	make_pair(&p, NULL, &cb);
	load_server(&p);
	unsigned bits = konce_ep_pow_bits(p.b, p.now);
	assert_true(bits > 0 && bits <= 20);
	dial(&p);
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
	pair *p = *state;
	uint32_t sc;
	handshake(p, &sc);
	drain_events(p->a);
	const struct konce_ep_counters *c = konce_ep_counters(p->b);
	uint64_t opened = c->sessions_opened, allocs = p->tenv_b.allocs;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	/* the same INITIATE again (a retransmission): the stored ACCEPT, no DH, no new session */
	konce_ep_rx rx;
	assert_int_equal(konce_ep_input(p->b, p->last_initiate, p->last_initiate_len, &p->addr_a, p->now, &rx),
			 KONCE_EP_ACCEPT_RESENT);
	assert_int_equal(rx.conn, sc);
	assert_true(rx.cost < 10);
	assert_int_equal(c->init_dup_resent, 1);
	assert_true(konce_ep_poll_datagram(p->b, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_ACCEPT);
	assert_true(konce_addr_eq(&to, &p->addr_a));
	/* a copy with another pow nonce (nothing depends on it) counts as the same INITIATE */
	uint8_t copy[KONCE_WIRE_MAX_DATAGRAM];
	memcpy(copy, p->last_initiate, p->last_initiate_len);
	copy[KONCE_INIT_POW_NONCE] ^= 0xff;
	konce_ep_input(p->b, copy, p->last_initiate_len, &p->addr_a, p->now, NULL);
	assert_int_equal(c->init_dup_resent, 2);
	uint8_t again[KONCE_WIRE_MAX_DATAGRAM];
	size_t again_len;
	assert_true(konce_ep_poll_datagram(p->b, again, &again_len, &to));
	assert_int_equal(again_len, len);
	assert_memory_equal(again, buf, len);
	/* the client, already established, ignores the second ACCEPT */
	konce_ep_input(p->a, buf, len, &p->addr_b, p->now, NULL);
	assert_int_equal(konce_ep_counters(p->a)->accept_unmatched, 1);
	konce_ep_event ev;
	assert_false(konce_ep_poll_event(p->a, &ev));
	/* the same bytes from another address: dropped, nothing sent (no reflection) */
	konce_addr other;
	konce_addr_parse(&other, "203.0.113.9:4000");
	konce_ep_input(p->b, p->last_initiate, p->last_initiate_len, &other, p->now, NULL);
	assert_int_equal(c->init_dup_dropped, 1);
	assert_false(konce_ep_poll_datagram(p->b, buf, &len, &to));
	/* a modified INITIATE with the used challenge: dropped */
	p->last_initiate[p->last_initiate_len - 1] ^= 1;
	konce_ep_input(p->b, p->last_initiate, p->last_initiate_len, &p->addr_a, p->now, NULL);
	assert_int_equal(c->init_dup_dropped, 2);
	assert_int_equal(c->sessions_opened, opened);
	assert_int_equal(p->tenv_b.allocs, allocs);
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
	pair *p = *state;
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (size_t n = 0; n <= KONCE_WIRE_MAX_DATAGRAM; n++) {
		for (unsigned t = 0; t < 16; t++) {
			memset(pkt, 0, sizeof pkt);
			pkt[0] = (uint8_t)(t / 2);
			pkt[KONCE_HELLO_NVERSIONS] = 1;
			wire_put16(pkt + KONCE_HELLO_VERSIONS, t % 2 ? 1 : 5); /* one we speak, one we don't */
			konce_ep_input(p->b, pkt, n, &p->addr_a, p->now, NULL);
			size_t out = 0;
			while (konce_ep_poll_datagram(p->b, buf, &len, &to))
				out += len;
			assert_true(out <= n);
			if (n != KONCE_HELLO_SIZE)
				assert_int_equal(out, 0);
		}
	}
	assert_int_equal(konce_ep_counters(p->b)->cookie_tx, 1);
	assert_int_equal(konce_ep_counters(p->b)->version_tx, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_data, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_verdicts, pair_setup, pair_teardown),
		cmocka_unit_test(test_explicit_identity),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test_setup_teardown(test_wrong_server_key, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_no_answer, pair_setup, pair_teardown),
		cmocka_unit_test(test_pow_too_high),
		cmocka_unit_test_setup_teardown(test_duplicate_initiate, pair_setup, pair_teardown),
		cmocka_unit_test(test_no_alloc_before_proof),
		cmocka_unit_test_setup_teardown(test_amplification, pair_setup, pair_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
