/* test_transport_adversary.c - an on-path adversary against a live session and its handshake.
 *
 *	client 203.0.113.5 <---> M 192.0.2.99:7807 | M:9000 <---> server 198.51.100.1:7807
 *
 * M relays every datagram (the client believes M:7807 is the server; the server sees the client at
 * M:9000), records what passes, can hold a datagram back, and injects whatever it likes on both
 * paths: replays, every truncation, every single-bit and whole-byte flip, and garbage.  Since M is
 * the path, its injections arrive from the very address the victim expects.
 *
 * For every attack: each injected datagram is dropped and counted under exactly one reason (the sum
 * of the drop counters grows by the number injected, and the specific counter named for the attack
 * grows as it must), no event reaches the application, no session is closed or created, the
 * server allocates nothing, and the session then still carries messages both ways.  A datagram
 * held back while its mutants were refused is accepted afterwards: refusing them burned nothing.
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

enum { PORT = 7807, MPORT = 9000, CAP = 64 };

typedef struct pktrec {
	size_t len;
	uint8_t d[KONCE_WIRE_MAX_DATAGRAM];
} pktrec;

typedef struct world {
	sim *s;
	tnode srv, cli;
	sim_host *m;
	konce_addr m_front, m_back, srv_addr, cli_addr;
	uint32_t cconn, sconn;
	/* recorded by M */
	pktrec hello, cookie, initiate, accept;
	pktrec c2s[CAP], s2c[CAP];
	unsigned nc2s, ns2c;
	/* hold the next datagram of this type in this direction instead of relaying it */
	int hold_c2s, hold_s2c;
	pktrec held;
	bool have_held;
	/* what the applications saw */
	int c_msgs, s_msgs, c_bad_events, s_bad_events, s_established;
	char c_last[64], s_last[64];
} world;

/* ---- M --------------------------------------------------------------------------------------- */

static void rec(pktrec *r, const uint8_t *p, size_t len)
{
	r->len = len;
	memcpy(r->d, p, len);
}

static uint64_t m_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
		       uint64_t now)
{
	world *w = ctx;
	if (len == 0 || len > KONCE_WIRE_MAX_DATAGRAM)
		return 0;
	if (to->port == PORT) { /* client -> server */
		w->cli_addr = *from;
		if (pkt[0] == KONCE_PKT_HELLO)
			rec(&w->hello, pkt, len);
		if (pkt[0] == KONCE_PKT_INITIATE)
			rec(&w->initiate, pkt, len);
		if (pkt[0] == KONCE_PKT_DATA)
			rec(&w->c2s[w->nc2s++ % CAP], pkt, len);
		if (w->hold_c2s == pkt[0] && !w->have_held) {
			rec(&w->held, pkt, len);
			w->have_held = true;
			w->hold_c2s = 0;
			return 0;
		}
		sim_send(w->s, w->m, MPORT, &w->srv_addr, pkt, len);
	} else { /* server -> client */
		if (pkt[0] == KONCE_PKT_COOKIE)
			rec(&w->cookie, pkt, len);
		if (pkt[0] == KONCE_PKT_ACCEPT)
			rec(&w->accept, pkt, len);
		if (pkt[0] == KONCE_PKT_DATA)
			rec(&w->s2c[w->ns2c++ % CAP], pkt, len);
		if (w->hold_s2c == pkt[0] && !w->have_held) {
			rec(&w->held, pkt, len);
			w->have_held = true;
			w->hold_s2c = 0;
			return 0;
		}
		sim_send(w->s, w->m, PORT, &w->cli_addr, pkt, len);
	}
	return 0;
}
static const sim_host_ops m_ops = {m_recv, NULL, NULL}; /* M: what reaches it */

static void to_server(world *w, const uint8_t *p, size_t len)
{
	sim_send(w->s, w->m, MPORT, &w->srv_addr, p, len);
}

static void to_client(world *w, const uint8_t *p, size_t len)
{
	sim_send(w->s, w->m, PORT, &w->cli_addr, p, len);
}

/* ---- the applications --------------------------------------------------------------------------- */

static void srv_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED) {
		w->sconn = ev->conn;
		w->s_established++;
	} else if (ev->type == KONCE_EV_MESSAGE) {
		w->s_msgs++;
		size_t l = ev->len < sizeof w->s_last - 1 ? ev->len : sizeof w->s_last - 1;
		memcpy(w->s_last, ev->data, l);
		w->s_last[l] = 0;
	} else {
		w->s_bad_events++;
	}
}

static void cli_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_MESSAGE) {
		w->c_msgs++;
		size_t l = ev->len < sizeof w->c_last - 1 ? ev->len : sizeof w->c_last - 1;
		memcpy(w->c_last, ev->data, l);
		w->c_last[l] = 0;
	} else if (ev->type != KONCE_EV_ESTABLISHED) {
		w->c_bad_events++;
	}
}

/* Every counter that names a dropped datagram; each drop is counted under exactly one. */
static uint64_t drops(const struct konce_ep_counters *c)
{
	return c->rx_short + c->rx_unknown_type + c->hello_bad_size + c->hello_bad_clue + c->init_bad_size +
	       c->init_bad_version + c->init_stale + c->init_challenge_window + c->init_dup_resent +
	       c->init_dup_dropped + c->init_bad_mac + c->init_bad_pow + c->init_bad_box1 + c->init_unknown_server +
	       c->init_low_order + c->init_bad_box2 + c->init_full + c->cookie_unmatched + c->cookie_bad +
	       c->cookie_pow_too_high + c->version_ignored + c->accept_unmatched + c->accept_bad +
	       c->data_unknown_cid + c->data_bad_header + c->data_replay + c->data_auth_fail + c->data_bad_frame +
	       c->data_not_ready;
}

static void world_init(world *w, uint64_t seed)
{
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	sim_link_cfg l = {.delay_us = 5 * SIM_MS};
	sim_link_default(w->s, &l);
	w->m = tnode_mitm_open(w->s, &w->srv, &w->cli, PORT, MPORT, &m_ops, w, &w->m_front);
	assert_non_null(w->m);
	w->srv.on_event = srv_event;
	w->cli.on_event = cli_event;
	w->srv_addr = tnode_addr(&w->srv);
}

static void world_free(world *w)
{
	tnode_free(&w->cli);
	tnode_free(&w->srv);
	sim_free(w->s);
}

static void connect_via_m(world *w)
{
	assert_int_equal(tnode_connect(&w->cli, tnode_pk(&w->srv), &w->m_front, "hello", 5, &w->cconn), 0);
	sim_run_for(w->s, 200 * SIM_MS);
}

/* One message each way; both must arrive (exactly once). */
static void exchange(world *w, const char *tag)
{
	char m[64];
	int cm = w->c_msgs, sm = w->s_msgs;
	snprintf(m, sizeof m, "c2s %s", tag);
	assert_int_equal(tnode_send(&w->cli, w->cconn, m, strlen(m)), 0);
	sim_run_for(w->s, 100 * SIM_MS);
	SIM_ASSERT_EQ(w->s, w->s_msgs, sm + 1);
	SIM_ASSERT(w->s, strcmp(w->s_last, m) == 0);
	snprintf(m, sizeof m, "s2c %s", tag);
	assert_int_equal(tnode_send(&w->srv, w->sconn, m, strlen(m)), 0);
	sim_run_for(w->s, 100 * SIM_MS);
	SIM_ASSERT_EQ(w->s, w->c_msgs, cm + 1);
	SIM_ASSERT(w->s, strcmp(w->c_last, m) == 0);
}

static void rand_bytes(sim *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = sim_rand(s);
		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

typedef struct victim {
	tnode *n;
	void (*inject)(world *w, const uint8_t *p, size_t len);
	tnode *peer; /* sends the datagram M holds back */
	uint32_t *peer_conn;
	int *hold;
	int *msgs;
} victim;

static void victims(world *w, victim v[2])
{
	v[0] = (victim){&w->srv, to_server, &w->cli, &w->cconn, &w->hold_c2s, &w->s_msgs};
	v[1] = (victim){&w->cli, to_client, &w->srv, &w->sconn, &w->hold_s2c, &w->c_msgs};
}

/* Has the peer send one message, which M holds back. */
static void hold_one(world *w, victim *v, const char *text)
{
	*v->hold = KONCE_PKT_DATA;
	w->have_held = false;
	assert_int_equal(tnode_send(v->peer, *v->peer_conn, text, strlen(text)), 0);
	sim_run_for(w->s, 50 * SIM_MS);
	SIM_ASSERT(w->s, w->have_held);
}

/* ---- attacks on a live session -------------------------------------------------------------- */

static void test_live_session_attacks(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 10) {
		world w;
		world_init(&w, seed);
		connect_via_m(&w);
		SIM_ASSERT_EQ(w.s, w.s_established, 1);
		for (int i = 0; i < 4; i++)
			exchange(&w, "warm-up");
		uint64_t allocs0 = tnode_allocs(&w.srv);
		victim vs[2];
		victims(&w, vs);
		for (int vi = 0; vi < 2; vi++) {
			victim *v = &vs[vi];
			const struct konce_ep_counters *c = tnode_counters(v->n);
			pktrec *log = vi == 0 ? w.c2s : w.s2c;
			unsigned nlog = vi == 0 ? w.nc2s : w.ns2c;
			SIM_ASSERT(w.s, nlog >= 4);

			/* replay: every datagram seen so far, twice */
			uint64_t d0 = drops(c), r0 = c->data_replay;
			int m0 = *v->msgs;
			for (int k = 0; k < 2; k++)
				for (unsigned i = 0; i < nlog && i < CAP; i++)
					v->inject(&w, log[i].d, log[i].len);
			sim_run_for(w.s, 50 * SIM_MS);
			unsigned n = 2 * (nlog < CAP ? nlog : CAP);
			SIM_ASSERT_EQ(w.s, c->data_replay - r0, n);
			SIM_ASSERT_EQ(w.s, drops(c) - d0, n);
			SIM_ASSERT_EQ(w.s, *v->msgs, m0);

			/* truncation: every prefix of a datagram not delivered yet; then the datagram */
			hold_one(&w, v, "held for truncation");
			d0 = drops(c);
			uint64_t rs0 = c->rx_short, bh0 = c->data_bad_header, af0 = c->data_auth_fail;
			for (size_t l = 0; l < w.held.len; l++)
				v->inject(&w, w.held.d, l);
			sim_run_for(w.s, 50 * SIM_MS);
			SIM_ASSERT_EQ(w.s, drops(c) - d0, w.held.len);
			SIM_ASSERT_EQ(w.s, (c->rx_short - rs0) + (c->data_bad_header - bh0) + (c->data_auth_fail - af0),
				      w.held.len);
			SIM_ASSERT_EQ(w.s, *v->msgs, m0);
			v->inject(&w, w.held.d, w.held.len);
			sim_run_for(w.s, 50 * SIM_MS);
			SIM_ASSERT_EQ(w.s, *v->msgs, m0 + 1);

			/* every single-bit flip and every whole-byte flip of a datagram not delivered yet */
			hold_one(&w, v, "held for bit flips");
			pktrec orig = w.held;
			size_t hdr = KONCE_DATA_PN; /* the packet-number window: 7 bits a byte, high bit = more */
			while (hdr < orig.len && (orig.d[hdr] & 0x80))
				hdr++;
			hdr++;
			d0 = drops(c);
			af0 = c->data_auth_fail;
			uint64_t injected = 0, in_body = 0;
			for (size_t i = 0; i < orig.len; i++) {
				for (int b = -1; b < 8; b++) {
					pktrec x = orig;
					x.d[i] ^= b < 0 ? 0xff : (uint8_t)(1u << b);
					v->inject(&w, x.d, x.len);
					injected++;
					in_body += i >= hdr;
				}
			}
			sim_run_for(w.s, 100 * SIM_MS);
			SIM_ASSERT_EQ(w.s, drops(c) - d0, injected);
			/* flips in the sealed part fail authentication; header flips fail there or before */
			SIM_ASSERT(w.s, c->data_auth_fail - af0 >= in_body);
			SIM_ASSERT_EQ(w.s, *v->msgs, m0 + 1);
			v->inject(&w, orig.d, orig.len);
			sim_run_for(w.s, 50 * SIM_MS);
			SIM_ASSERT_EQ(w.s, *v->msgs, m0 + 2);

			/* garbage: random datagrams of any type and length, and DATA aimed at the session's
			 * connection id (some with a CLOSE-sized payload: none can close it) */
			d0 = drops(c);
			uint64_t short0 = c->rx_short;
			for (int i = 0; i < 2000; i++) {
				uint8_t g[KONCE_WIRE_MAX_DATAGRAM];
				size_t l = 1 + sim_rand_below(w.s, sizeof g);
				rand_bytes(w.s, g, l);
				if (i % 2) {
					memcpy(g, orig.d, KONCE_DATA_PN); /* type, flags, dcid */
					g[KONCE_DATA_FLAGS] &= KONCE_DATA_F_KEY_PHASE;
					if (i % 4 == 1)
						l = KONCE_DATA_PN + 1 + 3 + KONCE_WIRE_TAG; /* a CLOSE frame's size */
				} else if (g[0] == KONCE_PKT_HELLO) {
					g[0] = 0xee; /* a 1200-byte random HELLO would rightly get a COOKIE */
				}
				v->inject(&w, g, l);
			}
			sim_run_for(w.s, 100 * SIM_MS);
			SIM_ASSERT_EQ(w.s, drops(c) - d0, 2000);
			SIM_ASSERT_EQ(w.s, c->rx_short, short0);
			SIM_ASSERT_EQ(w.s, *v->msgs, m0 + 2);
			SIM_ASSERT_EQ(w.s, c->sessions_live, 1);
		}
		/* nothing closed, nothing new, nothing allocated, and the session works */
		SIM_ASSERT_EQ(w.s, w.c_bad_events + w.s_bad_events, 0);
		SIM_ASSERT_EQ(w.s, w.s_established, 1);
		SIM_ASSERT_EQ(w.s, tnode_counters(&w.srv)->sessions_opened, 1);
		SIM_ASSERT_EQ(w.s, tnode_allocs(&w.srv), allocs0);
		exchange(&w, "after the attacks");
		if (seed == 1) {
			const struct konce_ep_counters *s = tnode_counters(&w.srv), *cc = tnode_counters(&w.cli);
			printf("  server refused: replay %llu, bad header %llu, auth %llu, unknown cid %llu, short %llu,"
			       " other types %llu; client: replay %llu, bad header %llu, auth %llu, unknown cid %llu\n",
			       (unsigned long long)s->data_replay, (unsigned long long)s->data_bad_header,
			       (unsigned long long)s->data_auth_fail, (unsigned long long)s->data_unknown_cid,
			       (unsigned long long)s->rx_short,
			       (unsigned long long)(drops(s) - s->data_replay - s->data_bad_header - s->data_auth_fail -
						    s->data_unknown_cid - s->rx_short),
			       (unsigned long long)cc->data_replay, (unsigned long long)cc->data_bad_header,
			       (unsigned long long)cc->data_auth_fail, (unsigned long long)cc->data_unknown_cid);
		}
		world_free(&w);
	}
}

/* ---- the handshake: replays get no new state; a tampered INITIATE never makes a session ------ */

static void test_handshake_replays(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 10) {
		world w;
		world_init(&w, seed);
		connect_via_m(&w);
		exchange(&w, "one");
		const struct konce_ep_counters *s = tnode_counters(&w.srv), *c = tnode_counters(&w.cli);
		uint64_t allocs0 = tnode_allocs(&w.srv), cookies0 = s->cookie_tx;
		konce_addr elsewhere;
		assert_int_equal(konce_addr_parse(&elsewhere, "192.0.2.77:4444"), 0);

		uint64_t cu0 = c->cookie_unmatched, au0 = c->accept_unmatched;
		/* HELLO replayed 100 times: 100 COOKIEs (each smaller than the HELLO), no state */
		for (int i = 0; i < 100; i++)
			to_server(&w, w.hello.d, w.hello.len);
		/* the INITIATE replayed from the path it came from: answered from the session, but only
		 * KONCE_HS_DUP_ANSWERS times (a replay is no amplifier) */
		uint64_t dr0 = s->init_dup_resent, dd0 = s->init_dup_dropped;
		for (int i = 0; i < 20; i++)
			to_server(&w, w.initiate.d, w.initiate.len);
		sim_run_for(w.s, 100 * SIM_MS);
		SIM_ASSERT_EQ(w.s, s->cookie_tx - cookies0, 100);
		SIM_ASSERT_EQ(w.s, s->init_dup_resent - dr0, KONCE_HS_DUP_ANSWERS);
		SIM_ASSERT_EQ(w.s, s->init_dup_dropped - dd0, 20 - KONCE_HS_DUP_ANSWERS);
		/* ... and from elsewhere: dropped */
		sim_send_spoofed(w.s, w.m, &elsewhere, &w.srv_addr, w.initiate.d, w.initiate.len);
		sim_run_for(w.s, 50 * SIM_MS);
		SIM_ASSERT_EQ(w.s, s->init_dup_dropped - dd0, 20 - KONCE_HS_DUP_ANSWERS + 1);
		/* the client ignores the COOKIEs those HELLOs fetched, the resent ACCEPTs, and replays */
		SIM_ASSERT_EQ(w.s, c->cookie_unmatched - cu0, 100);
		SIM_ASSERT_EQ(w.s, c->accept_unmatched - au0, KONCE_HS_DUP_ANSWERS);
		cu0 = c->cookie_unmatched;
		au0 = c->accept_unmatched;
		for (int i = 0; i < 10; i++) {
			to_client(&w, w.cookie.d, w.cookie.len);
			to_client(&w, w.accept.d, w.accept.len);
		}
		sim_run_for(w.s, 50 * SIM_MS);
		SIM_ASSERT_EQ(w.s, c->cookie_unmatched - cu0, 10);
		SIM_ASSERT_EQ(w.s, c->accept_unmatched - au0, 10);
		/* once the cookie is past its lifetime, the INITIATE is merely stale */
		sim_run_for(w.s, KONCE_COOKIE_LIFETIME_MS * SIM_MS);
		uint64_t st0 = s->init_stale;
		to_server(&w, w.initiate.d, w.initiate.len);
		sim_run_for(w.s, 50 * SIM_MS);
		SIM_ASSERT_EQ(w.s, s->init_stale - st0, 1);
		SIM_ASSERT_EQ(w.s, s->sessions_opened, 1);
		SIM_ASSERT_EQ(w.s, tnode_allocs(&w.srv), allocs0);
		SIM_ASSERT_EQ(w.s, w.c_bad_events + w.s_bad_events, 0);
		exchange(&w, "two");
		world_free(&w);
	}
}

static void test_tampered_initiate(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		world w;
		world_init(&w, seed);
		w.hold_c2s = KONCE_PKT_INITIATE;
		assert_int_equal(tnode_connect(&w.cli, tnode_pk(&w.srv), &w.m_front, "hello", 5, &w.cconn), 0);
		sim_run_for(w.s, 100 * SIM_MS);
		SIM_ASSERT(w.s, w.have_held);
		pktrec orig = w.held;
		const struct konce_ep_counters *s = tnode_counters(&w.srv);
		uint64_t allocs0 = tnode_allocs(&w.srv), d0 = drops(s), n = 0;
		/* Every bit and byte flip, before the real one arrives.  Not the proof-of-work nonce:
		 * the client varies it after sealing, so it is outside the boxes' AD by design, and with a
		 * demand of 0 bits a changed nonce is just another valid choice of nonce. */
		for (size_t i = 0; i < orig.len; i++) {
			if (i >= KONCE_INIT_POW_NONCE && i < KONCE_INIT_BOX1)
				continue;
			for (int b = -1; b < 8; b++) {
				pktrec x = orig;
				x.d[i] ^= b < 0 ? 0xff : (uint8_t)(1u << b);
				to_server(&w, x.d, x.len);
				n++;
			}
		}
		sim_run_for(w.s, 100 * SIM_MS);
		SIM_ASSERT_EQ(w.s, drops(s) - d0, n);
		SIM_ASSERT_EQ(w.s, s->sessions_opened, 0);
		SIM_ASSERT_EQ(w.s, tnode_allocs(&w.srv), allocs0);
		SIM_ASSERT(w.s, s->init_bad_mac > 0 && s->init_bad_box1 > 0 && s->init_bad_box2 > 0);
		/* the real one still works */
		to_server(&w, orig.d, orig.len);
		sim_run_for(w.s, 100 * SIM_MS);
		SIM_ASSERT_EQ(w.s, s->sessions_opened, 1);
		SIM_ASSERT_EQ(w.s, w.s_msgs, 1);
		exchange(&w, "after tampering");
		/* and a nonce-flipped copy of it from the same address finds its challenge used: it is
		 * answered like a retransmission (the nonce binds nothing), never as a new handshake */
		pktrec x = orig;
		x.d[KONCE_INIT_POW_NONCE] ^= 1;
		uint64_t dr0 = s->init_dup_resent;
		to_server(&w, x.d, x.len);
		sim_run_for(w.s, 50 * SIM_MS);
		SIM_ASSERT_EQ(w.s, s->init_dup_resent - dr0, 1);
		SIM_ASSERT_EQ(w.s, s->sessions_opened, 1);
		if (seed == 1)
			printf("  %llu tampered INITIATEs: size %llu, version %llu, stale %llu, window %llu, MAC %llu,"
			       " pow %llu, box1 %llu, unknown server %llu, low order %llu, box2 %llu\n",
			       (unsigned long long)n, (unsigned long long)s->init_bad_size,
			       (unsigned long long)s->init_bad_version, (unsigned long long)s->init_stale,
			       (unsigned long long)s->init_challenge_window, (unsigned long long)s->init_bad_mac,
			       (unsigned long long)s->init_bad_pow, (unsigned long long)s->init_bad_box1,
			       (unsigned long long)s->init_unknown_server, (unsigned long long)s->init_low_order,
			       (unsigned long long)s->init_bad_box2);
		world_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_session_attacks),
		cmocka_unit_test(test_handshake_replays),
		cmocka_unit_test(test_tampered_initiate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
