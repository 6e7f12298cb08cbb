/* ep_pair.h - two endpoints wired back to back in-process (no simulator), for test_endpoint.c,
 * test_ep_session.c, test_ep_server.c and the rigs of ep_link.h: make_pair()/free_pair() (a counting env each, so
 * free_pair() proves every allocation was freed), pump() to deliver everything queued until quiet,
 * and handshake(), which connects a to b and checks every step and verdict on the way.
 * Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_EP_PAIR_H
#define KONCE_TEST_EP_PAIR_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"
#include "node/transport/load.h"
#include "tests/unit/testenv.h"

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
	/* for the rigs built on this one (ep_link.h) */
	uint64_t round_us; /* the link's delay: each round of datagrams arrives this much later */
	uint32_t ca, cb;   /* the session at a and at b */
	unsigned a_msgs, b_msgs, a_delivered, b_delivered, a_failed;
	bool drop_ab, drop_ba; /* the link drops everything that way */
	unsigned pass_ab;      /* while drop_ab: let this many more a->b datagrams through */
	size_t mtu;            /* the link drops datagrams larger than this either way (0: none) */
	size_t largest_ab;     /* the largest a->b datagram sent (whether the link dropped it or not) */
	uint8_t last_b_msg[8]; /* the first bytes of the latest message b got */
} pair;

/* Both endpoints at 1 s, their counting envs seeded seed_a and seed_b; ca and cb (or NULL) give
 * all of each config but env and identity. */
static inline void make_pair_seeded(pair *p, const konce_ep_config *ca, const konce_ep_config *cb, unsigned seed_a,
				    unsigned seed_b)
{
	memset(p, 0, sizeof *p);
	test_env_init(&p->tenv_a, seed_a);
	test_env_init(&p->tenv_b, seed_b);
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

static inline void make_pair(pair *p, const konce_ep_config *ca, const konce_ep_config *cb)
{
	make_pair_seeded(p, ca, cb, 1, 2);
}

static inline void free_pair(pair *p)
{
	konce_ep_free(p->a);
	konce_ep_free(p->b);
	konce_identity_free(p->id_a);
	konce_identity_free(p->id_b);
	assert_int_equal(p->tenv_a.allocs, p->tenv_a.frees);
	assert_int_equal(p->tenv_b.allocs, p->tenv_b.frees);
}

/* A cmocka fixture: *state is a default pair (make_pair(p, NULL, NULL)), freed and checked for
 * leaks by free_pair() after the test. */
static inline int pair_setup(void **state)
{
	pair *p = malloc(sizeof *p);
	if (!p)
		return -1;
	make_pair(p, NULL, NULL);
	*state = p;
	return 0;
}

static inline int pair_teardown(void **state)
{
	free_pair(*state);
	free(*state);
	return 0;
}

/* The one pump loop of the rigs on this pair (pump() below, ep_link.h, test_cidrot.c): rounds of
 * every datagram a has queued, then every one b has, each handed to hop (from_a: which side sent
 * it, to: where it goes), then after_round (or NULL), until a round moves nothing. */
typedef void (*pair_hop_fn)(pair *p, bool from_a, const uint8_t *buf, size_t len, const konce_addr *to);
static inline void pair_pump_with(pair *p, pair_hop_fn hop, void (*after_round)(pair *p))
{
	uint8_t buf[KONCE_PMTU_MAX];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		while (konce_ep_poll_datagram(p->a, buf, &len, &to)) {
			moved = 1;
			hop(p, true, buf, len, &to);
		}
		while (konce_ep_poll_datagram(p->b, buf, &len, &to)) {
			moved = 1;
			hop(p, false, buf, len, &to);
		}
		if (after_round)
			after_round(p);
	}
}

/* pump()'s hop: 10 ms later, counted, to the side it is addressed to (a's INITIATE kept, b's
 * verdict on it too). */
static inline void pair_hop(pair *p, bool from_a, const uint8_t *buf, size_t len, const konce_addr *to)
{
	p->now += 10000;
	if (from_a) {
		if (buf[0] == KONCE_PKT_INITIATE) {
			memcpy(p->last_initiate, buf, len);
			p->last_initiate_len = len;
		}
		p->a_to_b_bytes += len;
		p->a_to_b_pkts++;
		if (konce_addr_eq(to, &p->addr_b))
			p->b_verdict = konce_ep_input(p->b, buf, len, &p->addr_a, p->now, &p->b_rx);
	} else {
		p->b_to_a_bytes += len;
		p->b_to_a_pkts++;
		if (konce_addr_eq(to, &p->addr_a))
			konce_ep_input(p->a, buf, len, &p->addr_b, p->now, NULL);
	}
}

/* Delivers everything queued, in both directions, until quiet; one-way delay 10 ms per hop. */
static inline void pump(pair *p) { pair_pump_with(p, pair_hop, NULL); }

static inline bool next_event(konce_ep *ep, konce_ep_event *ev, enum konce_ep_event_type type)
{
	while (konce_ep_poll_event(ep, ev))
		if (ev->type == type)
			return true;
	return false;
}

static inline void drain_events(konce_ep *ep)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(ep, &ev))
		;
}

/* Connects a to b with "hello?" and lets b answer "hi!" in its ACCEPT. */
static inline uint32_t handshake(pair *p, uint32_t *server_conn)
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

/* A pair (configs as make_pair() takes them) connected by handshake(), every event so far taken:
 * the client's conn; *server_conn is the server's. */
static inline uint32_t connected_pair(pair *p, const konce_ep_config *ca, const konce_ep_config *cb,
				      uint32_t *server_conn)
{
	make_pair(p, ca, cb);
	uint32_t conn = handshake(p, server_conn);
	drain_events(p->a);
	drain_events(p->b);
	return conn;
}

#endif
