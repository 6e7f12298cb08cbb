/* test_transport_nostate.c - no state before proof, and no amplification.
 *
 * One server, one honest client whose session must survive, and attackers:
 *   S       a spoofer: 100,000 HELLOs (a few with unknown versions) from random IPv4 and IPv6
 *           sources, and forged INITIATEs: garbage, well-formed ones whose MAC cannot hold
 *           (an echoed cookie from a different source, or a flipped MAC bit), stale ones (an
 *           echoed cookie past its lifetime, or a server time from the future), and replays of
 *           the honest client's completed INITIATE, from random sources and from its own address
 *           (while its cookie is fresh, then after).
 *   O       a real host that floods HELLOs from its own address until it is overdrawn, and
 *           answers every cookie that demands work with a well-formed INITIATE whose proof of
 *           work does not hold.
 *   P[]     real hosts that pay the demanded work (up to 10 bits) but send a garbage box1.
 *
 *	S (spoofing)   \
 *	O 203.0.113.66  +--->  server 198.51.100.1:7807  <--->  honest client 203.0.113.5
 *	P 203.0.113.1xx/
 *
 * Checked over the whole run: the server's allocation count does not move after the honest
 * session exists; it opens no second session; every kind of forgery is refused by the check meant
 * for it; and for every source address, the bytes the server sent to it are at most the bytes it
 * received from it.  Then the honest session still carries messages both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/hs_packets.h"
#include "node/transport/pow.h"
#include "tests/sim/hs_forge.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum {
	PORT = 7807,
	NPAY = 12,
	HELLOS = 100000,
	INITS = 100000,
	FLOOD_MS = 20000,    /* both floods spread over 20 s of virtual time */
	PAY_MAX_BITS = 10,   /* what a payer is willing to hash */
	HARVEST = 4096,
};

typedef struct cookie_rec {
	konce_cookie_msg c;
	uint64_t at;
} cookie_rec;

typedef struct world world;

typedef struct raw {
	world *w;
	sim_host *h;
	uint16_t port;
	konce_addr addr;
} raw;

struct world {
	sim *s;
	tnode srv, cli;
	uint32_t cconn, sconn;
	int c_established, c_msgs, s_msgs;
	uint8_t honest_init[KONCE_WIRE_MAX_DATAGRAM];
	size_t honest_init_len;
	uint64_t honest_at;
	raw spoof, over, pay[NPAY];
	cookie_rec harvest[HARVEST]; /* O's cookies, oldest overwritten */
	uint64_t nharvest;
	uint64_t sent_hello, sent_init, tick;
	uint64_t k_garbage, k_badmac, k_stale, k_replay, k_replay_own, k_badpow, k_paid, k_priced_out;
	addrmap amp;
	konce_versions v1;
};

static konce_addr rand_source(sim *s)
{
	konce_addr a;
	uint8_t ip[16];
	sim_rand_bytes(s, ip, sizeof ip);
	if (sim_rand_below(s, 4)) {
		ip[0] = (uint8_t)(1 + sim_rand_below(s, 222)); /* keep clear of the test's own ranges */
		if (ip[0] == 198 || ip[0] == 203 || ip[0] == 10)
			ip[0] = 44;
		konce_addr_from_v4(&a, ip, 0);
	} else {
		ip[0] = 0x2a;
		konce_addr_from_v6(&a, ip, 0);
	}
	a.port = (uint16_t)(1024 + sim_rand_below(s, 64000));
	return a;
}

static size_t make_hello(world *w, uint8_t out[KONCE_HELLO_SIZE], bool bad_version)
{
	konce_versions v = w->v1;
	if (bad_version) {
		uint16_t only = 0x7777;
		konce_versions_set(&v, &only, 1);
	}
	return forge_hello(w->s, &v, out);
}

/* ---- the server's books: bytes in and out per address ------------------------------------- */

static void srv_rx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	world *w = n->user;
	addrmap_get(&w->amp, from)->in += len;
}

static bool srv_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	world *w = n->user;
	addrmap_get(&w->amp, to)->out += len;
	return true;
}

static void srv_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED)
		w->sconn = ev->conn;
	if (ev->type == KONCE_EV_MESSAGE) {
		w->s_msgs++;
		assert_int_equal(konce_ep_send(n->ep, ev->conn, ev->data, ev->len, now), 0);
	}
}

static void cli_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED)
		w->c_established++;
	if (ev->type == KONCE_EV_MESSAGE)
		w->c_msgs++;
	assert_int_not_equal(ev->type, KONCE_EV_CLOSED);
	assert_int_not_equal(ev->type, KONCE_EV_FAILED);
}

static bool cli_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	world *w = n->user;
	if (pkt[0] == KONCE_PKT_INITIATE) {
		memcpy(w->honest_init, pkt, len);
		w->honest_init_len = len;
		w->honest_at = now;
	}
	return true;
}

/* O and P answer a COOKIE alike: r sends to `to` the INITIATE forged for c (300 bytes of box2),
 * its nonce one whose proof holds (pays) or one whose proof does not. */
static void send_forged(raw *r, const konce_cookie_msg *c, const konce_addr *to, bool pays)
{
	world *w = r->w;
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	size_t n = forge_initiate(w->s, &w->v1, p, c, 300);
	if (pays) {
		assert_int_equal(konce_pow_solve(p, n, KONCE_INIT_POW_NONCE, c->pow_bits, sim_rand(w->s), 0, NULL), 0);
	} else {
		for (uint64_t nonce = sim_rand(w->s);; nonce++) {
			wire_put64(p + KONCE_INIT_POW_NONCE, nonce);
			if (!konce_pow_check(p, n, c->pow_bits))
				break;
		}
	}
	sim_send(w->s, r->h, r->port, to, p, n);
	w->sent_init++;
}

/* ---- O: overdrawn, answers cookies with a proof that does not hold ------------------------- */

static uint64_t over_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			  uint64_t now)
{
	raw *r = ctx;
	world *w = r->w;
	konce_cookie_msg c;
	if (konce_cookie_parse(&c, pkt, len))
		return 0;
	w->harvest[w->nharvest++ % HARVEST] = (cookie_rec){c, now};
	if (c.pow_bits == 0)
		return 0;
	send_forged(r, &c, from, false);
	w->k_badpow++;
	return 0;
}

/* ---- P: pays the demanded work, garbage box1 ---------------------------------------------- */

static uint64_t pay_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			 uint64_t now)
{
	raw *r = ctx;
	world *w = r->w;
	konce_cookie_msg c;
	if (konce_cookie_parse(&c, pkt, len))
		return 0;
	if (c.pow_bits > PAY_MAX_BITS) {
		w->k_priced_out++;
		return 0;
	}
	send_forged(r, &c, from, true);
	w->k_paid++;
	return 0;
}

static void pay_timer(void *ctx, uint64_t now)
{
	raw *r = ctx;
	world *w = r->w;
	if (now >= 2 * SIM_SEC + (uint64_t)FLOOD_MS * 1000)
		return;
	uint8_t h[KONCE_HELLO_SIZE];
	konce_addr to = tnode_addr(&w->srv);
	sim_send(w->s, r->h, r->port, &to, h, make_hello(w, h, false));
	w->sent_hello++;
	sim_timer_set(w->s, r->h, now + 100 * SIM_MS);
}

/* ---- S: the spoofer, every millisecond ----------------------------------------------------- */

static const cookie_rec *harvested(world *w, uint64_t min_age, uint64_t max_age)
{
	uint64_t now = sim_now(w->s);
	uint64_t n = w->nharvest < HARVEST ? w->nharvest : HARVEST;
	for (uint64_t tries = 0; tries < 8 && n; tries++) {
		const cookie_rec *c = &w->harvest[(w->nharvest - 1 - sim_rand_below(w->s, n)) % HARVEST];
		if (now - c->at >= min_age && now - c->at <= max_age)
			return c;
	}
	return NULL;
}

static void spoof_initiate(world *w)
{
	sim *s = w->s;
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	size_t n = 0;
	konce_addr from = rand_source(s), to = tnode_addr(&w->srv);
	const cookie_rec *c;
	uint64_t kind = sim_rand_below(s, 100);
	if (kind < 35) {
		n = 1 + sim_rand_below(s, KONCE_WIRE_MAX_DATAGRAM);
		sim_rand_bytes(s, p, n);
		p[0] = KONCE_PKT_INITIATE;
		w->k_garbage++;
	} else if (kind < 65 && (c = harvested(w, 0, 5 * SIM_SEC))) {
		n = forge_initiate(w->s, &w->v1, p, &c->c, 232 + sim_rand_below(s, 900));
		if (sim_rand_below(s, 2)) { /* from O's own address, one MAC bit flipped */
			from = w->over.addr;
			p[KONCE_INIT_MAC + sim_rand_below(s, KONCE_WIRE_MAC)] ^= (uint8_t)(1u << sim_rand_below(s, 8));
		}
		w->k_badmac++;
	} else if (kind < 80) {
		c = harvested(w, (KONCE_COOKIE_LIFETIME_MS + 500) * SIM_MS, UINT64_MAX);
		if (c) { /* a genuine cookie, at its own address, too old */
			n = forge_initiate(w->s, &w->v1, p, &c->c, 300);
			from = w->over.addr;
		} else { /* a server time from the future */
			konce_cookie_msg f;
			memset(&f, 0, sizeof f);
			f.version = KONCE_VERSION_1;
			f.server_time = sim_now(s) / 1000 + 1000 + sim_rand_below(s, 1u << 30);
			f.challenge = sim_rand(s);
			n = forge_initiate(w->s, &w->v1, p, &f, 300);
		}
		w->k_stale++;
	} else {
		memcpy(p, w->honest_init, w->honest_init_len);
		n = w->honest_init_len;
		if (sim_rand_below(s, 5) == 0) {
			from = tnode_addr(&w->cli);
			w->k_replay_own++;
		}
		w->k_replay++;
	}
	if (n == 0) /* nothing harvested yet: garbage instead */
		return spoof_initiate(w);
	sim_send_spoofed(s, w->spoof.h, &from, &to, p, n);
	w->sent_init++;
}

static void spoof_timer(void *ctx, uint64_t now)
{
	raw *r = ctx;
	world *w = r->w;
	sim *s = w->s;
	konce_addr to = tnode_addr(&w->srv);
	uint64_t ticks = FLOOD_MS;
	w->tick++;
	/* spread HELLOS and INITS evenly over the ticks */
	while (w->sent_hello * ticks < HELLOS * w->tick && w->sent_hello < HELLOS) {
		uint8_t h[KONCE_HELLO_SIZE];
		uint64_t kind = sim_rand_below(s, 100);
		size_t n = make_hello(w, h, kind < 5);
		if (kind >= 5 && kind < 15) {
			sim_send(s, w->over.h, w->over.port, &to, h, n);
		} else {
			konce_addr from = rand_source(s);
			sim_send_spoofed(s, r->h, &from, &to, h, n);
		}
		w->sent_hello++;
	}
	while (w->sent_init * ticks < INITS * w->tick && w->sent_init < INITS)
		spoof_initiate(w);
	if (w->tick < ticks)
		sim_timer_set(s, r->h, now + SIM_MS);
}

static void raw_init(world *w, raw *r, const char *ip, uint16_t port, const sim_host_ops *ops)
{
	r->w = w;
	r->port = port;
	r->h = sim_host_add(w->s, ip, ops, r);
	assert_non_null(r->h);
	assert_int_equal(sim_host_bind(r->h, port), 0);
	r->addr = sim_host_addr(r->h, port);
}

static void honest_connect(void *ctx, uint64_t now)
{
	world *w = ctx;
	konce_addr to = tnode_addr(&w->srv);
	assert_int_equal(tnode_connect(&w->cli, tnode_pk(&w->srv), &to, "first", 5, &w->cconn), 0);
}

static void test_no_state_no_amplification(void **state)
{
	(void)state;
	static const sim_host_ops over_ops = {over_recv, NULL, NULL};
	static const sim_host_ops pay_ops = {pay_recv, pay_timer, NULL};
	static const sim_host_ops spoof_ops = {NULL, spoof_timer, NULL};
	SIM_FOR_EACH_SEED(seed, 2) {
		static world w;
		memset(&w, 0, sizeof w);
		uint16_t one = KONCE_VERSION_1;
		konce_versions_set(&w.v1, &one, 1);
		w.s = sim_new(seed);
		sim_link_cfg l = {.delay_us = 5 * SIM_MS, .jitter_us = 2 * SIM_MS};
		sim_link_default(w.s, &l);
		assert_int_equal(tnode_init(&w.srv, w.s, NULL, "198.51.100.1", PORT, NULL), 0);
		w.srv.user = &w;
		w.srv.on_event = srv_event;
		w.srv.on_rx = srv_rx;
		w.srv.on_tx = srv_tx;
		assert_int_equal(tnode_init(&w.cli, w.s, NULL, "203.0.113.5", 5555, NULL), 0);
		w.cli.user = &w;
		w.cli.on_event = cli_event;
		w.cli.on_tx = cli_tx;
		raw_init(&w, &w.spoof, "203.0.113.200", 1, &spoof_ops);
		raw_init(&w, &w.over, "203.0.113.66", 6666, &over_ops);
		for (int i = 0; i < NPAY; i++) {
			char ip[32];
			snprintf(ip, sizeof ip, "203.0.113.%d", 100 + i);
			raw_init(&w, &w.pay[i], ip, 7000, &pay_ops);
			sim_timer_set(w.s, w.pay[i].h, 2 * SIM_SEC + sim_rand_below(w.s, 100 * SIM_MS));
		}

		sim_at(w.s, SIM_SEC / 2, honest_connect, &w);
		sim_run_until(w.s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(w.s, w.c_established, 1);
		SIM_ASSERT_EQ(w.s, w.s_msgs, 1);
		uint64_t allocs0 = tnode_allocs(&w.srv);
		uint64_t live0 = sim_env_live(sim_host_env(w.srv.h));

		sim_timer_set(w.s, w.spoof.h, 2 * SIM_SEC);
		sim_run_until(w.s, 2 * SIM_SEC + (uint64_t)FLOOD_MS * SIM_MS + 2 * SIM_SEC);

		const struct konce_ep_counters *c = tnode_counters(&w.srv);
		SIM_ASSERT(w.s, w.sent_hello >= HELLOS);
		SIM_ASSERT(w.s, w.sent_init >= INITS);
		SIM_ASSERT_EQ(w.s, tnode_allocs(&w.srv), allocs0);
		SIM_ASSERT_EQ(w.s, sim_env_live(sim_host_env(w.srv.h)), live0);
		SIM_ASSERT_EQ(w.s, c->sessions_opened, 1);
		SIM_ASSERT_EQ(w.s, c->sessions_live, 1);
		SIM_ASSERT_EQ(w.s, c->hello_rx, w.sent_hello + 1);
		SIM_ASSERT_EQ(w.s, c->init_rx, w.sent_init + 1);
		/* each kind met the check meant for it */
		SIM_ASSERT(w.s, c->init_bad_size > 0 && c->init_bad_mac > 0 && c->init_stale > 0);
		SIM_ASSERT(w.s, c->init_dup_dropped > 0 && c->init_dup_resent > 0);
		SIM_ASSERT_EQ(w.s, c->init_bad_pow, w.k_badpow);
		/* paid, garbage box1: a random client_epk is non-canonical half the time, refused as a
		 * bad key before the DH (init_low_order) */
		SIM_ASSERT_EQ(w.s, c->init_bad_box1 + c->init_low_order, w.k_paid);
		SIM_ASSERT(w.s, w.k_badpow > 1000 && w.k_paid > 1000);
		SIM_ASSERT_EQ(w.s, c->accept_tx, 1);
		/* a replay from the client's own address got its stored ACCEPT again, which the client,
		 * established already, ignored */
		SIM_ASSERT_EQ(w.s, tnode_counters(&w.cli)->accept_unmatched, c->init_dup_resent);
		SIM_ASSERT_EQ(w.s, c->cookie_tx + c->version_tx, c->hello_rx - c->hello_bad_size);
		SIM_ASSERT(w.s, c->version_tx > 0);
		uint64_t refused = c->init_bad_size + c->init_bad_version + c->init_stale + c->init_challenge_window +
				   c->init_dup_resent + c->init_dup_dropped + c->init_bad_mac + c->init_bad_pow +
				   c->init_bad_box1 + c->init_unknown_server + c->init_low_order + c->init_bad_box2 +
				   c->init_full;
		SIM_ASSERT_EQ(w.s, refused, w.sent_init);

		/* amplification: per address, never more out than in */
		uint64_t sources = 0, answered = 0;
		for (size_t i = 0; i < w.amp.cap; i++) {
			addrstat *a = &w.amp.v[i];
			if (!a->used)
				continue;
			sources++;
			answered += a->out > 0;
			if (a->out > a->in) {
				char b[KONCE_ADDR_STRLEN];
				fprintf(stderr, "amplified: %s in %llu out %llu\n", konce_addr_str(&a->a, b),
					(unsigned long long)a->in, (unsigned long long)a->out);
			}
			SIM_ASSERT(w.s, a->out <= a->in);
		}

		/* the honest session still works both ways */
		int before = w.c_msgs;
		assert_int_equal(tnode_send(&w.cli, w.cconn, "still here", 10), 0);
		sim_run_for(w.s, SIM_SEC);
		SIM_ASSERT_EQ(w.s, w.c_msgs, before + 1);
		if (seed == 1)
			printf("  %llu HELLOs, %llu INITIATEs (garbage %llu, bad MAC %llu, stale %llu, replay %llu of which"
			       " %llu from the client's address, bad pow %llu, paid + bad box1 %llu; %llu cookies priced"
			       " out): server allocations %llu before and after; %llu source addresses, %llu answered,"
			       " none with more bytes than it sent\n",
			       (unsigned long long)w.sent_hello, (unsigned long long)w.sent_init,
			       (unsigned long long)w.k_garbage, (unsigned long long)w.k_badmac,
			       (unsigned long long)w.k_stale, (unsigned long long)w.k_replay,
			       (unsigned long long)w.k_replay_own, (unsigned long long)w.k_badpow,
			       (unsigned long long)w.k_paid, (unsigned long long)w.k_priced_out,
			       (unsigned long long)allocs0, (unsigned long long)sources, (unsigned long long)answered);
		addrmap_free(&w.amp);
		tnode_free(&w.cli);
		tnode_free(&w.srv);
		sim_free(w.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_state_no_amplification),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
