/* test_hs_simultaneous.c - the simultaneous open (node/transport/hs_simopen.c) over the simulator: two
 * endpoints behind two port-restricted cone NATs connect to each other's public address at the
 * same moment.  Nothing else opens the NATs: each side's HELLO opens its own NAT's filter for the
 * other, and the other's HELLO, arriving a one-way delay later, passes it.
 *
 *	L (lower key)                                    H (higher key)
 *	T   HELLO ------------------------\ /------------------ HELLO    T
 *	T+D COOKIE -----------------------/ \------------------ COOKIE   T+D
 *	T+2D INITIATE + first(L) ---------\ /---- INITIATE + first(H)    T+2D
 *	T+3D drops H's INITIATE            X     L's INITIATE: H's attempt becomes its server session
 *	T+4D ESTABLISHED, first(H) <------/ \---- ACCEPT + first(H)     T+3D
 *
 * Asserted for every seed: exactly one session on each side, on the conn each side connected
 * with, the client being the lower key; the first message and a queued 3000-byte message of each
 * side delivered exactly once; no handshake packet (forged ones from a spoofing attacker
 * included) that made no session allocated anything; and, without loss, each first message
 * arrives within 3 (L's) and 4 (H's) one-way delays of the start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/hs_packets.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum { PORT = 7807, BIG = 3000, MAXCAP = 8 };

typedef struct side {
	tnode n;
	struct side *peer;
	uint32_t conn;
	bool lower;               /* our key is the lower */
	int established, failed, closed, other_conn, got_first, got_big, delivered, msg_failed;
	int first_delivered;      /* MSG_DELIVERED for first_id */
	uint64_t first_id;        /* ESTABLISHED's msg_id: H's first message, reliable in its ACCEPT */
	bool incoming;
	uint64_t t_first;         /* when the peer's first message arrived */
	uint64_t before_sessions, before_merged;
	int alloc_violations;
	/* INITIATEs this side sent, for the attacker to replay */
	uint8_t cap[MAXCAP][KONCE_WIRE_MAX_DATAGRAM];
	size_t cap_len[MAXCAP];
	unsigned ncap;
} side;

typedef struct world {
	sim *s;
	sim_nat *nat[2];
	side x[2];
	sim_host *attacker;
	uint64_t t0;
	uint64_t skew[2];
	uint64_t attack_until;
} world;

static void big_msg(uint8_t *b, bool lower)
{
	for (int i = 0; i < BIG; i++)
		b[i] = (uint8_t)(i * 7 + lower);
}

static void on_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	side *x = n->user;
	if (ev->type != KONCE_EV_MSG_DELIVERED && ev->type != KONCE_EV_MSG_FAILED && ev->conn != x->conn) {
		x->other_conn++;
		return;
	}
	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
		x->established++;
		x->incoming = ev->incoming;
		x->first_id = ev->msg_id;
		break;
	case KONCE_EV_MESSAGE: {
		const char *want = x->lower ? "first H" : "first L";
		uint8_t big[BIG];
		big_msg(big, !x->lower);
		if (ev->len == 7 && !memcmp(ev->data, want, 7)) {
			if (!x->got_first++)
				x->t_first = now;
		} else if (ev->len == BIG && !memcmp(ev->data, big, BIG)) {
			x->got_big++;
		} else {
			x->other_conn += 1000; /* garbage */
		}
		break;
	}
	case KONCE_EV_MSG_DELIVERED:
		x->delivered++;
		x->first_delivered += x->first_id && ev->msg_id == x->first_id;
		break;
	case KONCE_EV_MSG_FAILED:
		x->msg_failed++;
		break;
	case KONCE_EV_FAILED:
		x->failed++;
		break;
	case KONCE_EV_CLOSED:
		x->closed++;
		break;
	default:
		break;
	}
}

static void on_rx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	side *x = n->user;
	(void)pkt;
	(void)len;
	(void)from;
	(void)now;
	x->before_sessions = tnode_counters(n)->sessions_opened;
	x->before_merged = tnode_counters(n)->simopen_merged;
}

/* A handshake packet that made no session (forged, replayed, crossed or answered statelessly)
 * must not have allocated anything. */
static void on_input(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t allocs, uint64_t now)
{
	side *x = n->user;
	(void)from;
	(void)now;
	if (!len || allocs == 0)
		return;
	bool hs = pkt[0] == KONCE_PKT_HELLO || pkt[0] == KONCE_PKT_COOKIE || pkt[0] == KONCE_PKT_VERSION ||
		  pkt[0] == KONCE_PKT_INITIATE;
	if (hs && tnode_counters(n)->sessions_opened == x->before_sessions &&
	    tnode_counters(n)->simopen_merged == x->before_merged)
		x->alloc_violations++;
}

static bool on_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	side *x = n->user;
	(void)to;
	(void)now;
	if (pkt[0] == KONCE_PKT_INITIATE && x->ncap < MAXCAP) {
		memcpy(x->cap[x->ncap], pkt, len);
		x->cap_len[x->ncap++] = len;
	}
	return true;
}

static void start_side(void *ctx, uint64_t now)
{
	side *x = ctx;
	konce_addr to = sim_nat_public(sim_host_nat(x->peer->n.h), PORT);
	uint8_t big[BIG];
	uint64_t id;
	(void)now;
	assert_int_equal(tnode_connect(&x->n, tnode_pk(&x->peer->n), &to, x->lower ? "first L" : "first H", 7,
				       &x->conn), 0);
	big_msg(big, x->lower);
	assert_int_equal(konce_ep_msg_send(x->n.ep, x->conn, big, BIG, 0, 0, sim_now(x->n.s), &id), 0);
	tnode_flush(&x->n, sim_now(x->n.s));
}

/* Every 20 ms until attack_until: forged HELLO, COOKIE and INITIATE bytes and replays of real
 * INITIATEs, each spoofed from the peer's public address to each side's public address, so they
 * pass the NATs' filters like the peer's own packets. */
static void attack(void *ctx, uint64_t now)
{
	world *w = ctx;
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	for (int i = 0; i < 2; i++) {
		konce_addr to = sim_nat_public(w->nat[i], PORT), from = sim_nat_public(w->nat[!i], PORT);
		for (size_t k = 0; k < sizeof pkt; k++)
			pkt[k] = (uint8_t)sim_rand(w->s);
		konce_hello h;
		memset(&h, 0, sizeof h);
		static const uint16_t v1[] = {KONCE_VERSION_1};
		konce_versions_set(&h.versions, v1, 1);
		wire_put64(h.client_cid, sim_rand(w->s));
		h.client_time = now / 1000;
		size_t n = konce_hello_build(pkt, &h);
		sim_send_spoofed(w->s, w->attacker, &from, &to, pkt, n);
		pkt[0] = KONCE_PKT_COOKIE;
		sim_send_spoofed(w->s, w->attacker, &from, &to, pkt, KONCE_COOKIE_SIZE);
		pkt[0] = KONCE_PKT_INITIATE;
		sim_send_spoofed(w->s, w->attacker, &from, &to, pkt, sizeof pkt);
		side *p = &w->x[!i];
		for (unsigned c = 0; c < p->ncap; c++)
			sim_send_spoofed(w->s, w->attacker, &from, &to, p->cap[c], p->cap_len[c]);
	}
	if (now + 20 * SIM_MS < w->attack_until)
		sim_at(w->s, now + 20 * SIM_MS, attack, w);
}

typedef struct scenario {
	sim_link_cfg link;
	uint64_t max_skew;
	bool attacker;
	uint64_t run;
} scenario;

static void setup(world *w, uint64_t seed, const scenario *sc)
{
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	sim_link_default(w->s, &sc->link);
	sim_nat_cfg pr = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	w->nat[0] = sim_nat_add(w->s, "203.0.113.1", &pr);
	w->nat[1] = sim_nat_add(w->s, "203.0.113.2", &pr);
	konce_ep_config cfg = {.explicit_identity = true};
	static const char *ips[2] = {"10.1.0.2", "10.2.0.2"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tnode_init(&w->x[i].n, w->s, w->nat[i], ips[i], PORT, &cfg), 0);
		w->x[i].n.user = &w->x[i];
		w->x[i].n.on_event = on_event;
		w->x[i].n.on_rx = on_rx;
		w->x[i].n.on_input = on_input;
		w->x[i].n.on_tx = on_tx;
		w->x[i].peer = &w->x[!i];
	}
	for (int i = 0; i < 2; i++)
		w->x[i].lower = memcmp(tnode_pk(&w->x[i].n), tnode_pk(&w->x[!i].n), KONCE_WIRE_KEY) < 0;
	w->t0 = 200 * SIM_MS;
	for (int i = 0; i < 2; i++) {
		w->skew[i] = sc->max_skew ? sim_rand_below(w->s, sc->max_skew + 1) : 0;
		sim_at(w->s, w->t0 + w->skew[i], start_side, &w->x[i]);
	}
	if (sc->attacker) {
		w->attacker = sim_host_add(w->s, "198.18.0.66", NULL, NULL);
		w->attack_until = w->t0 + 4 * SIM_SEC;
		sim_at(w->s, w->t0 - 100 * SIM_MS, attack, w);
	}
}

static void check(world *w)
{
	for (int i = 0; i < 2; i++) {
		side *x = &w->x[i];
		const struct konce_ep_counters *c = tnode_counters(&x->n);
		SIM_ASSERT_EQ(w->s, x->established, 1);
		SIM_ASSERT_EQ(w->s, x->failed + x->closed + x->other_conn + x->msg_failed, 0);
		SIM_ASSERT(w->s, x->incoming == !x->lower); /* the lower key is the client */
		SIM_ASSERT_EQ(w->s, x->got_first, 1);
		SIM_ASSERT_EQ(w->s, x->got_big, 1);
		/* H's first message rode in its ACCEPT as a reliable message: delivered once acked */
		SIM_ASSERT_EQ(w->s, x->delivered, x->lower ? 1 : 2);
		SIM_ASSERT_EQ(w->s, x->first_delivered, !x->lower);
		SIM_ASSERT_EQ(w->s, c->sessions_opened, 1);
		SIM_ASSERT_EQ(w->s, c->sessions_live, 1);
		SIM_ASSERT_EQ(w->s, x->alloc_violations, 0);
	}
}

/* No loss, equal start: the first messages arrive at 3 and 4 one-way delays (plus jitter). */
static void test_simultaneous_timing(void **state)
{
	(void)state;
	const uint64_t D = 25 * SIM_MS, J = 1 * SIM_MS;
	scenario sc = {.link = {.delay_us = D, .jitter_us = J}, .run = 5 * SIM_SEC};
	uint64_t worst_l = 0, worst_h = 0;
	SIM_FOR_EACH_SEED(seed, 50) {
		world w;
		setup(&w, seed, &sc);
		sim_run_for(w.s, w.t0 + sc.run);
		check(&w);
		for (int i = 0; i < 2; i++) {
			side *x = &w.x[i];
			uint64_t dt = x->t_first - w.t0;
			/* H hears L's first message in L's INITIATE; L hears H's in the ACCEPT */
			SIM_ASSERT(w.s, dt <= (x->lower ? 4 : 3) * (D + J));
			SIM_ASSERT(w.s, dt >= (x->lower ? 4 : 3) * (D - J));
			if (x->lower && dt > worst_l)
				worst_l = dt;
			if (!x->lower && dt > worst_h)
				worst_h = dt;
			SIM_ASSERT_EQ(w.s, tnode_counters(&x->n)->simopen_yielded, x->lower ? 1 : 0);
			SIM_ASSERT_EQ(w.s, tnode_counters(&x->n)->simopen_merged, x->lower ? 0 : 1);
		}
		for (int i = 0; i < 2; i++)
			tnode_free(&w.x[i].n);
		sim_free(w.s);
	}
	printf("one-way delay %llu ms: first message L->H at most %.1f ms, H->L at most %.1f ms after the start\n",
	       (unsigned long long)(D / SIM_MS), worst_h / 1000.0, worst_l / 1000.0);
}

/* Loss, duplication, reordering, the two sides up to 60 ms apart, and an attacker replaying and
 * forging handshake packets from each peer's address: still one session each, every message. */
static void test_simultaneous_lossy(void **state)
{
	(void)state;
	scenario sc = {.link = {.delay_us = 25 * SIM_MS,
				.jitter_us = 3 * SIM_MS,
				.loss = 0.05,
				.duplicate = 0.02,
				.reorder = 0.02,
				.reorder_us = 10 * SIM_MS},
		       .max_skew = 60 * SIM_MS,
		       .attacker = true,
		       .run = 40 * SIM_SEC};
	uint64_t yielded = 0, restarts = 0, n = 0;
	SIM_FOR_EACH_SEED(seed, 100) {
		world w;
		setup(&w, seed, &sc);
		sim_run_for(w.s, w.t0 + sc.run);
		check(&w);
		n++;
		for (int i = 0; i < 2; i++) {
			yielded += tnode_counters(&w.x[i].n)->simopen_yielded;
			restarts += tnode_counters(&w.x[i].n)->hs_restarts;
		}
		for (int i = 0; i < 2; i++)
			tnode_free(&w.x[i].n);
		sim_free(w.s);
	}
	printf("%llu lossy runs: one session each, every message delivered; %llu INITIATEs yielded (crossed, "
	       "retransmitted or replayed), %llu handshake restarts\n", (unsigned long long)n,
	       (unsigned long long)yielded, (unsigned long long)restarts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simultaneous_timing),
		cmocka_unit_test(test_simultaneous_lossy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
