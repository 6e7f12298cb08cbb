/* test_traversal_hostile.c - traversal against a hostile third party, on the simulator.
 *
 *          R1 192.0.2.1   R2 192.0.2.2      (rendezvous)
 *                 \        /
 *   A 198.51.100.1 ----+---- B 198.51.100.2       X 203.0.113.66 (attacker)   V 203.0.113.99 (victim)
 *
 * Hijack: X knows B's key and A's address.  From before the introduction
 * to the end it sends A PUNCH probes that name B's key (with made-up intro ids, later with the
 * real one, which it learns from A's probes), and acks every probe A sends it.  A's path must
 * never be X, and every message must arrive both ways.
 *
 * Reflection (finding 2): X holds an authenticated session with R1 (as any node may), registers
 * claiming V's address as its candidates (host, port-mapped and reflexive) and asks for
 * introductions to B.  Every datagram B sends to V is counted; the bytes that reach V per byte X
 * sent (the bodies of its REGISTER and INTRO_REQUEST messages, not counting the session's
 * overhead) must stay under KONCE_PUNCH_CLAIMED_BUDGET's bound.
 *
 * A and B run the shipping traversal core (tests/sim/trav_host.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "node/base/wire.h"
#include "tests/sim/trav_host.h"

#define MS SIM_MS
#define SEC SIM_SEC

typedef struct attacker {
	sim *s;
	sim_host *h;
	uint8_t victim_key[KONCE_WIRE_KEY]; /* the key it impersonates (B) */
	konce_addr target;                 /* where it sends forged probes (A) */
	uint64_t intro_id;                 /* the latest intro id it saw A use, else made up */
	uint64_t until;
	unsigned forged, acked, probes_rx;
} attacker;

static void send_punch(attacker *x, bool ack, uint16_t seq, const konce_addr *seen, const konce_addr *to)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = ack ? KONCE_PUNCH_F_ACK : 0, .seq = seq,
			   .id = x->intro_id};
	memcpy(m.key, x->victim_key, KONCE_WIRE_KEY);
	if (ack)
		m.addr = *seen;
	/* it cannot know the introduction's key: the MAC is whatever it guesses */
	for (unsigned i = 0; i < sizeof(m.mac); i++)
		m.mac[i] = (uint8_t)sim_rand(x->s);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	if (len)
		sim_send(x->s, x->h, TP_MAIN_PORT, to, buf, len);
}

static uint64_t attacker_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			      const konce_addr *to, uint64_t now)
{
	attacker *x = ctx;
	konce_rdvwire_msg m;
	(void)to;
	(void)now;
	if (konce_rdvwire_decode(&m, pkt, len) || m.type != KONCE_RDV_PUNCH || (m.flags & KONCE_PUNCH_F_ACK))
		return 0;
	/* A probes us: echo it as B's ack, with the real intro id from now on */
	x->probes_rx++;
	x->intro_id = m.id;
	send_punch(x, true, m.seq, from, from);
	x->acked++;
	return 0;
}

static void attacker_tick(void *ctx, uint64_t now)
{
	attacker *x = ctx;
	if (now >= x->until)
		return;
	if (!x->intro_id || sim_rand_below(x->s, 4) == 0)
		x->intro_id = sim_rand(x->s); /* sometimes an id of its own choosing */
	send_punch(x, false, (uint16_t)(1 + sim_rand_below(x->s, 60000)), NULL, &x->target);
	x->forged++;
	sim_at(x->s, now + 20 * MS, attacker_tick, x);
}

static const sim_host_ops attacker_ops = {.recv = attacker_recv};

typedef struct world {
	sim *s;
	tp_rdv r1, r2;
	tp_peer a, b;
	konce_addr rdv[2];
	sim_host *ha, *hb;
} world;

static void world_init(world *w, uint64_t seed, bool peers)
{
	memset(w, 0, sizeof(*w));
	w->s = sim_new(seed);
	sim_link_cfg dflt = {.delay_us = 25 * MS, .jitter_us = 3 * MS, .loss = 0.01};
	sim_link_default(w->s, &dflt);
	tp_rdv_init(&w->r1, w->s, "192.0.2.1", NULL);
	tp_rdv_init(&w->r2, w->s, "192.0.2.2", NULL);
	w->rdv[0] = sim_host_addr(w->r1.h, TP_RDV_PORT);
	w->rdv[1] = sim_host_addr(w->r2.h, TP_RDV_PORT);
	w->ha = sim_host_add(w->s, "198.51.100.1", NULL, NULL);
	w->hb = sim_host_add(w->s, "198.51.100.2", NULL, NULL);
	if (!peers)
		return;
	uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
	tp_random_keys(w->s, ka, kb);
	tp_peer_init(&w->a, w->s, w->ha, "a", ka, kb, w->rdv, 2, 16, NULL, NULL);
	tp_peer_init(&w->b, w->s, w->hb, "b", kb, ka, w->rdv, 2, 16, NULL, NULL);
}

static void world_free(world *w)
{
	tp_peer_free(&w->a);
	tp_peer_free(&w->b);
	tp_rdv_free(&w->r1);
	tp_rdv_free(&w->r2);
	sim_free(w->s);
}

typedef struct watch {
	sim *s;
	tp_peer *p;
	konce_addr bad;
	unsigned hijacked, direct_good;
	uint64_t until;
} watch;

static void watch_tick(void *ctx, uint64_t now)
{
	watch *wa = ctx;
	unsigned sock;
	konce_addr pa;
	if (konce_punch_path(tp_pu(wa->p), &sock, &pa)) {
		if (konce_addr_eq(&pa, &wa->bad))
			wa->hijacked++;
		else
			wa->direct_good++;
	}
	if (now < wa->until)
		sim_at(wa->s, now + 5 * MS, watch_tick, wa);
}

/* Finding 1: forged probes and acks never move A's path to the attacker. */
static void test_hijack(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8)
	{
		world w;
		world_init(&w, seed, true);
		sim *s = w.s;
		attacker x = {.s = s, .until = 25 * SEC};
		x.h = sim_host_add(s, "203.0.113.66", &attacker_ops, &x);
		sim_host_bind(x.h, TP_MAIN_PORT);
		memcpy(x.victim_key, w.b.key, KONCE_WIRE_KEY);
		x.target = sim_host_addr(w.ha, TP_MAIN_PORT);
		watch wa = {s, &w.a, sim_host_addr(x.h, TP_MAIN_PORT), 0, 0, 25 * SEC};
		sim_at(s, SEC, attacker_tick, &x);
		sim_at(s, SEC, watch_tick, &wa);
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 25 * SEC);
		if (getenv("TP_DEBUG"))
			fprintf(stderr, "seed %llu: forged %u, A probed X %u times, hijacked %u ticks, direct %u ticks\n",
				(unsigned long long)seed, x.forged, x.probes_rx, wa.hijacked, wa.direct_good);
		SIM_ASSERT(s, x.forged > 1000);
		SIM_ASSERT_EQ(s, wa.hijacked, 0);
		SIM_ASSERT_EQ(s, x.probes_rx, 0); /* nothing it sent made A probe it */
		SIM_ASSERT(s, wa.direct_good > 0);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		world_free(&w);
	}
}

/* ---- reflection ------------------------------------------------------------------------------ */

enum { VICTIM_PORTS = 7, REFLECT_S = 30 };

typedef struct reflector {
	sim *s;
	sim_host *h;
	konce_identity *id;
	konce_ep *ep;
	uint32_t conn;                     /* the session with R1, once up */
	bool up;
	uint8_t key[KONCE_WIRE_KEY], target[KONCE_WIRE_KEY]; /* its public key, B's */
	konce_addr rdv, victim;
	bool registered;
	uint64_t until, sent_bytes, intro_bytes;
	unsigned requests, intros;
} reflector;

/* One rendezvous message on the session with R1 (its body counted as what the attacker spent). */
static void reflector_send(reflector *x, const konce_rdvwire_msg *m, bool intro)
{
	uint8_t buf[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG];
	uint64_t id;
	size_t len = konce_rdvwire_encode(m, buf + KONCE_MSG_BODY, KONCE_RDV_MAX_MSG);
	konce_msg_head_put(buf, KONCE_CLASS_RENDEZVOUS, 0, 0);
	if (!len || konce_ep_msg_send(x->ep, x->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0,
				      sim_now(x->s), &id))
		return;
	x->sent_bytes += len;
	if (intro)
		x->intro_bytes += len;
}

static void reflector_register(reflector *x)
{
	/* claims: the victim's ports as host, port-mapped and reflexive candidates, and a random NAT
	 * (so that an EIM target would spray birthday probes at its "reflexive" address) */
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .id = sim_rand(x->s), .nat = {KONCE_NATMAP_EDM_RANDOM, 0, 0},
			   .ncand = KONCE_RDV_MAX_REG_CANDS};
	memcpy(m.key, x->key, KONCE_WIRE_KEY);
	for (unsigned i = 0; i < m.ncand; i++) {
		m.cand[i].type = i == 0 ? KONCE_CAND_REFLEXIVE : i % 2 ? KONCE_CAND_HOST : KONCE_CAND_MAPPED;
		m.cand[i].addr = x->victim;
		m.cand[i].addr.port = (uint16_t)(x->victim.port + i % VICTIM_PORTS);
	}
	reflector_send(x, &m, false);
}

/* The attacker's endpoint: events (its session, the rendezvous' answers), datagrams, timer. */
static void reflector_flush(reflector *x, uint64_t now)
{
	konce_ep_event ev;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	while (konce_ep_poll_event(x->ep, &ev)) {
		konce_rdvwire_msg m;
		if (ev.type == KONCE_EV_ESTABLISHED && ev.conn == x->conn)
			x->up = true;
		else if ((ev.type == KONCE_EV_FAILED || ev.type == KONCE_EV_CLOSED) && ev.conn == x->conn)
			x->up = false, x->conn = 0;
		else if (ev.type == KONCE_EV_MESSAGE && ev.len > KONCE_MSG_BODY &&
			 wire_get16(ev.data + KONCE_MSG_CLASS) == KONCE_CLASS_RENDEZVOUS &&
			 !konce_rdvwire_decode(&m, ev.data + KONCE_MSG_BODY, ev.len - KONCE_MSG_BODY)) {
			if (m.type == KONCE_RDV_REGISTERED)
				x->registered = true;
			if (m.type == KONCE_RDV_INTRO)
				x->intros++;
		}
	}
	while (konce_ep_poll_datagram(x->ep, buf, &len, &to))
		sim_send(x->s, x->h, TP_MAIN_PORT, &to, buf, len);
	uint64_t t = konce_ep_next_timer(x->ep);
	if (t != UINT64_MAX)
		sim_timer_set(x->s, x->h, t > now ? t : now);
}

static uint64_t reflector_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			       const konce_addr *to, uint64_t now)
{
	reflector *x = ctx;
	(void)to;
	konce_ep_input(x->ep, pkt, len, from, now, NULL);
	reflector_flush(x, now);
	return 30;
}

static void reflector_timer(void *ctx, uint64_t now)
{
	reflector *x = ctx;
	konce_ep_timer(x->ep, now);
	reflector_flush(x, now);
}

/* Every second: an INTRO_REQUEST for the target (registering again every 10 s). */
static void reflector_tick(void *ctx, uint64_t now)
{
	reflector *x = ctx;
	if (now >= x->until)
		return;
	if (!x->conn) {
		uint8_t rk[KONCE_WIRE_KEY];
		tp_rdv_key(&x->rdv, rk);
		if (konce_ep_connect(x->ep, rk, &x->rdv, NULL, 0, now, &x->conn) == 0)
			konce_ep_set_wanted(x->ep, x->conn, true, now);
	} else if (x->up) {
		if (!x->registered || x->requests % 10 == 9)
			reflector_register(x);
		if (x->registered) {
			konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REQUEST, .id = sim_rand(x->s)};
			memcpy(m.key, x->key, KONCE_WIRE_KEY);
			memcpy(m.target, x->target, KONCE_WIRE_KEY);
			reflector_send(x, &m, true);
			x->requests++;
		}
	}
	reflector_flush(x, now);
	sim_at(x->s, now + SEC, reflector_tick, x);
}

static const sim_host_ops reflector_ops = {.recv = reflector_recv, .timer = reflector_timer};

typedef struct victim {
	uint64_t bytes, datagrams;
} victim;

static uint64_t victim_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			    const konce_addr *to, uint64_t now)
{
	victim *v = ctx;
	(void)pkt;
	(void)from;
	(void)to;
	(void)now;
	v->bytes += len;
	v->datagrams++;
	return 0;
}

static const sim_host_ops victim_ops = {.recv = victim_recv};

/* Finding 2: a registered attacker's introductions make B send the victim (whose addresses it
 * claims) fewer bytes than the attacker spent on its INTRO_REQUESTs. */
static void test_reflection(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 4)
	{
		world w;
		world_init(&w, seed, false);
		sim *s = w.s;
		victim v = {0};
		sim_host *hv = sim_host_add(s, "203.0.113.99", &victim_ops, &v);
		for (unsigned i = 0; i < VICTIM_PORTS; i++)
			sim_host_bind(hv, (uint16_t)(7001 + i));
		reflector x = {.s = s, .rdv = w.rdv[0], .victim = sim_host_addr(hv, 7001), .until = REFLECT_S * SEC};
		x.h = sim_host_add(s, "203.0.113.66", &reflector_ops, &x);
		sim_host_bind(x.h, TP_MAIN_PORT);
		uint8_t xsecret[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		for (int i = 0; i < KONCE_WIRE_KEY; i++)
			xsecret[i] = (uint8_t)sim_rand(s);
		for (int i = 0; i < KONCE_WIRE_KEY; i++)
			kb[i] = (uint8_t)sim_rand(s);
		SIM_ASSERT_EQ(s, konce_identity_from_secret(&x.id, xsecret), 0);
		memcpy(x.key, konce_identity_public(x.id), KONCE_WIRE_KEY);
		konce_ep_config xc = {.env = sim_host_env(x.h), .identity = x.id, .explicit_identity = true};
		SIM_ASSERT_EQ(s, konce_ep_new(&x.ep, &xc, sim_now(s)), 0);
		/* B, public, would accept the attacker's introductions (it is the key B "talks to") */
		tp_peer_init(&w.b, s, w.hb, "b", kb, xsecret, w.rdv, 2, 0, NULL, NULL);
		memcpy(x.target, w.b.key, KONCE_WIRE_KEY);
		sim_at(s, SEC, reflector_tick, &x); /* its session with R1 first: registered by about 2 s */
		sim_run_until(s, (REFLECT_S + 5) * SEC);
		double ratio = x.intro_bytes ? (double)v.bytes / (double)x.intro_bytes : 0;
		printf("seed %llu: %u INTRO_REQUESTs (%llu bytes; %llu with REGISTERs), %u INTROs; the victim got "
		       "%llu datagrams, %llu bytes: %.2f bytes per INTRO_REQUEST byte\n",
		       (unsigned long long)seed, x.requests, (unsigned long long)x.intro_bytes,
		       (unsigned long long)x.sent_bytes, x.intros, (unsigned long long)v.datagrams,
		       (unsigned long long)v.bytes, ratio);
		SIM_ASSERT(s, x.requests >= REFLECT_S - 5 && x.intros >= x.requests / 2);
		SIM_ASSERT(s, v.bytes <= x.intro_bytes); /* no amplification */
		konce_ep_free(x.ep);
		konce_identity_free(x.id);
		world_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hijack),
		cmocka_unit_test(test_reflection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
