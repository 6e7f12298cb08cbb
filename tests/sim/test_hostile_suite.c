/* test_hostile_suite.c - one attacker, every hostile-peer attack on a schedule, against a server
 * endpoint that 200 honest peers use at the same time.
 *
 *	200 honest peers 198.18.i.j, 10-60 ms links --\
 *	Mallory's endpoint 203.0.113.7 (any source)  ---+--> server 198.51.100.1:7807
 *	Mallory's hostile server 203.0.113.9 <-- dialled by the server
 *	Mallory's tap 203.0.113.10 (sees 20 honest peers' packets leave)
 *
 * The server is an endpoint with the simulator's CPU model (20 us per load unit, so 50,000 units a
 * second, queued by konce_ep_priority()) and the node's application rules: it answers an ECHO
 * request with the same body if the body is at most KONCE_ECHO_MAX and the peer's send queue holds
 * less than KONCE_ECHO_QUEUE_MAX (node/io/node_msg.c), and it dials whoever Mallory names.
 * Honest peers arrive over the first 10 s; each asks for an echo of 200..2000 bytes every second.
 *
 * Mallory's schedule (virtual seconds; all of it overlaps from 12 s to 40 s):
 *   2-40   spoofed junk: 1-byte INITIATEs and random datagrams, half of them from honest peers'
 *          own addresses (finding 2: a victim's bucket must not be charged by them);
 *   5      table filling with one key: 80 dials showing the same key (finding 3, per-key rule);
 *   8      table filling with many keys: 200 dials with fresh identities from her one address
 *          (per-source rule);
 *   12-40  on her sessions, 10 every 50 ms in turn: on half of them the first fragment of a 16 MiB
 *          message that never finishes (finding 4, reassembly memory), on the other half an 8 KiB
 *          ECHO request while her endpoint never reads the answers (so, with 64 KiB of reassembly
 *          memory, it soon advertises no credit: finding 4, send queues); on all, one packet of
 *          390 MESSAGE frames (finding 5, event ring) and a PING (so no session is ever idle);
 *   15, 16 the server dials her hostile server, whose COOKIE demands 30 bits (unpayable: fails at
 *          once) and then 15 bits (payable: solved in 1 ms slices; her server then never
 *          accepts) (finding 1);
 *   5-40   path-migration replay: her tap copies 20 honest peers' DATA packets and races them to
 *          the server from her own address, relaying the server's answers back (finding 8).
 * Her budget: at most BUDGET_PPS datagrams a second over all of it (asserted).
 *
 * Asserted: >= 99% of honest handshakes complete; no honest session is closed on either side;
 * every echo an established honest peer asked for more than 10 s before the end came back, each
 * within ECHO_BOUND_MS; no single piece of the server's work (one input or timer call) lasts more
 * than 50 ms of virtual time; the server never sent a session to Mallory's tap with a validated
 * PATH_CHANGED, nor kept one there longer than a second; her sessions at the server stay within
 * the per-source cap; the server's reassembly and send pools stay within their budgets, echoes to
 * her fail (her zero credit) and nobody else's message does; and the server's allocated bytes
 * (malloc_usable_size of every allocation through its konce_env) stay under MEM_BOUND.  A failing
 * seed is printed with its figures; SIM_SEEDS=n runs more.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "konce/konce.h"
#include "node/transport/ep_internal.h"
#include "node/transport/frag.h"
#include "node/transport/hs_packets.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum {
	PORT = 7807,
	MAL_PORT = 6000,
	TAP_PORT0 = 5000,
	NHONEST = 200,
	NTAPPED = 20,
	US_PER_UNIT = 20,
	US_PER_HASH = 20,
	RUN_S = 45,
	JUNK_PPS = 3000,
	BUDGET_PPS = 5000,
	ECHO_BOUND_MS = 3000,
	ONE_KEY_DIALS = 80,
	MANY_KEY_DIALS = 200,
	MAL_MAX = ONE_KEY_DIALS + MANY_KEY_DIALS,
	MAL_ECHO_BODY = 8 * 1024,
	MAL_BUDGET = 64 * 1024, /* her reassembly memory per session: full after 8 unread echoes */
	STALL_BOUND_US = 50 * 1000,
};
/* The server's memory: everything its endpoint allocated for the honest peers before the attacks,
 * plus the two pools it shares out (reassembly and send queues), plus the fixed state of the
 * sessions Mallory may hold (per-source cap, at 64 KiB each for a session, its conn and rings). */
#define MEM_BOUND(base, ep) \
	((base) + (ep)->reasm_pool.budget + (ep)->send_pool.budget + (uint64_t)(ep)->max_per_source * 64 * 1024)

typedef struct world world;

typedef struct honest {
	tnode n;
	world *w;
	int idx;
	uint32_t conn;
	bool established, failed, closed;
	uint64_t nonce;
	uint64_t asked_at[RUN_S + 2];
	uint64_t answered_at[RUN_S + 2];
	unsigned asked;
} honest;

struct world {
	sim *s;
	tnode srv, mal, evil;
	sim_host *tap;
	konce_addr srv_addr, mal_addr, evil_addr;
	honest hc[NHONEST];
	konce_identity *keys[MANY_KEY_DIALS];
	uint32_t mal_conn[MAL_MAX];
	unsigned nmal, mal_next;
	uint64_t mal_frag_id[MAL_MAX];
	unsigned evil_demand;
	uint32_t dial_evil;
	unsigned evil_failed, evil_reason;
	/* server-side view: its conns of Mallory's and of honest peers */
	uint32_t srv_mal_conn[1024], srv_honest_conn[NHONEST];
	unsigned n_srv_mal, n_srv_honest;
	unsigned evil_up;
	unsigned srv_mal_live, srv_mal_max, srv_honest_closed, srv_validated_tap, srv_moves_to_tap;
	uint64_t echoes_answered, echoes_withheld;
	uint64_t mal_echo_failed, other_msg_failed; /* MSG_FAILED on her sessions, on anyone else's */
	uint32_t at_tap[NTAPPED];    /* the server's sessions whose path is her tap now, */
	uint64_t at_tap_since[NTAPPED]; /* since when */
	unsigned n_at_tap;
	uint64_t tap_stay_max;       /* the longest a session rested on her tap */
	uint64_t mem_base;
	uint64_t reasm_max, send_max;
	unsigned ev_cap_max;
	/* Mallory's packets */
	double junk_due;
	uint64_t junk, copies, relayed;
};

static bool is_honest(const konce_addr *a) { return a->ip[12] == 198 && a->ip[13] == 18; }
static bool is_mal(const world *w, const konce_addr *a) { return memcmp(a->ip, w->mal_addr.ip, 16) == 0; }
static bool is_tap(const world *w, const konce_addr *a)
{
	konce_addr t = sim_host_addr(w->tap, 0);
	return memcmp(a->ip, t.ip, 16) == 0;
}

static void rand_bytes(sim *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = sim_rand(s);
		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

static size_t echo_msg(uint8_t *out, uint8_t flags, uint64_t nonce, size_t body)
{
	konce_msg_head_put(out, KONCE_CLASS_ECHO, flags, nonce);
	memset(out + KONCE_MSG_BODY, 0x5a, body);
	return KONCE_MSG_BODY + body;
}

/* ---- the server: the node's ECHO rule, and a watch on its paths and tables -------------------- */

static void srv_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
		if (is_mal(w, &ev->addr) && w->n_srv_mal < 1024) {
			w->srv_mal_conn[w->n_srv_mal++] = ev->conn;
			if (++w->srv_mal_live > w->srv_mal_max)
				w->srv_mal_max = w->srv_mal_live;
		} else if (is_honest(&ev->addr) && w->n_srv_honest < NHONEST) {
			w->srv_honest_conn[w->n_srv_honest++] = ev->conn;
		} else if (ev->conn == w->dial_evil) {
			w->evil_up++;
		}
		break;
	case KONCE_EV_CLOSED:
		for (unsigned i = 0; i < w->n_srv_mal; i++)
			if (w->srv_mal_conn[i] == ev->conn) {
				w->srv_mal_conn[i] = w->srv_mal_conn[--w->n_srv_mal];
				w->srv_mal_live--;
				break;
			}
		for (unsigned i = 0; i < w->n_srv_honest; i++)
			w->srv_honest_closed += w->srv_honest_conn[i] == ev->conn;
		break;
	case KONCE_EV_PATH_CHANGED: {
		unsigned i = 0;
		while (i < w->n_at_tap && w->at_tap[i] != ev->conn)
			i++;
		if (is_tap(w, &ev->addr)) {
			w->srv_moves_to_tap++;
			w->srv_validated_tap += ev->validated;
			if (i == w->n_at_tap && w->n_at_tap < NTAPPED) {
				w->at_tap_since[w->n_at_tap] = now;
				w->at_tap[w->n_at_tap++] = ev->conn;
			}
		} else if (i < w->n_at_tap) {
			if (now - w->at_tap_since[i] > w->tap_stay_max)
				w->tap_stay_max = now - w->at_tap_since[i];
			w->n_at_tap--;
			w->at_tap[i] = w->at_tap[w->n_at_tap];
			w->at_tap_since[i] = w->at_tap_since[w->n_at_tap];
		}
		break;
	}
	case KONCE_EV_MESSAGE:
		if (ev->len >= KONCE_MSG_BODY && wire_get16(ev->data + KONCE_MSG_CLASS) == KONCE_CLASS_ECHO &&
		    (ev->data[KONCE_MSG_FLAGS] & KONCE_MSG_F_REQUEST)) {
			size_t body = ev->len - KONCE_MSG_BODY;
			uint64_t id;
			if (body > KONCE_ECHO_MAX || konce_ep_msg_queued(n->ep, ev->conn) >= KONCE_ECHO_QUEUE_MAX) {
				w->echoes_withheld++;
				break;
			}
			static uint8_t reply[KONCE_MSG_BODY + KONCE_ECHO_MAX];
			memcpy(reply, ev->data, ev->len);
			reply[KONCE_MSG_FLAGS] = KONCE_MSG_F_REPLY;
			if (konce_ep_msg_send(n->ep, ev->conn, reply, ev->len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id) == 0)
				w->echoes_answered++;
			else
				w->echoes_withheld++;
		}
		break;
	case KONCE_EV_MSG_FAILED: {
		bool mal = false;
		for (unsigned i = 0; i < w->n_srv_mal && !mal; i++)
			mal = w->srv_mal_conn[i] == ev->conn;
		if (mal)
			w->mal_echo_failed++;
		else
			w->other_msg_failed++;
		break;
	}
	case KONCE_EV_FAILED:
		if (ev->conn == w->dial_evil) {
			w->evil_failed++;
			w->evil_reason = ev->reason;
		}
		break;
	default:
		break;
	}
}

/* ---- honest peers -------------------------------------------------------------------------------- */

static void honest_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	honest *c = n->user;
	if (ev->conn != c->conn)
		return;
	if (ev->type == KONCE_EV_ESTABLISHED)
		c->established = true;
	else if (ev->type == KONCE_EV_FAILED)
		c->failed = true;
	else if (ev->type == KONCE_EV_CLOSED)
		c->closed = true;
	else if (ev->type == KONCE_EV_MESSAGE && ev->len >= KONCE_MSG_BODY &&
		 ev->data[KONCE_MSG_FLAGS] == KONCE_MSG_F_REPLY) {
		uint64_t k = wire_get64(ev->data + KONCE_MSG_NONCE);
		if (k >= 1 && k <= c->asked && !c->answered_at[k])
			c->answered_at[k] = now;
	}
}

static void honest_ask(void *ctx, uint64_t now)
{
	honest *c = ctx;
	if (c->failed || c->closed)
		return;
	if (c->established && c->asked < RUN_S) {
		uint8_t m[KONCE_MSG_BODY + 2000];
		size_t body = 200 + (size_t)sim_rand_below(c->w->s, 1801);
		size_t len = echo_msg(m, KONCE_MSG_F_REQUEST, ++c->asked, body);
		uint64_t id;
		c->asked_at[c->asked] = now;
		SIM_ASSERT_EQ(c->w->s, konce_ep_msg_send(c->n.ep, c->conn, m, len, 0, 0, now, &id), 0);
		tnode_flush(&c->n, now);
	}
	if (now < (uint64_t)(RUN_S - 1) * SIM_SEC)
		sim_at(c->w->s, now + SIM_SEC, honest_ask, c);
}

static void honest_start(void *ctx, uint64_t now)
{
	honest *c = ctx;
	SIM_ASSERT_EQ(c->w->s, tnode_connect(&c->n, tnode_pk(&c->w->srv), &c->w->srv_addr, NULL, 0, &c->conn), 0);
	SIM_ASSERT_EQ(c->w->s, konce_ep_set_wanted(c->n.ep, c->conn, true, now), 0);
	sim_at(c->w->s, now + SIM_SEC, honest_ask, c);
}

/* The tap sees a tapped peer's DATA leave and races a copy from its own address (one port per
 * peer, so it knows whom the server's answers are for). */
static bool honest_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	honest *c = n->user;
	world *w = c->w;
	uint64_t t = now / SIM_SEC;
	if (c->idx < NTAPPED && t >= 5 && t < 40 && pkt[0] == KONCE_PKT_DATA && konce_addr_eq(to, &w->srv_addr)) {
		sim_send(w->s, w->tap, (uint16_t)(TAP_PORT0 + c->idx), &w->srv_addr, pkt, len);
		w->copies++;
	}
	return true;
}

static uint64_t tap_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			 uint64_t now)
{
	world *w = ctx;
	int i = to->port - TAP_PORT0;
	if (i >= 0 && i < NTAPPED && konce_addr_eq(from, &w->srv_addr)) {
		konce_addr peer = tnode_addr(&w->hc[i].n);
		sim_send_spoofed(w->s, w->tap, &w->srv_addr, &peer, pkt, len);
		w->relayed++;
	}
	return 0;
}

/* ---- Mallory ----------------------------------------------------------------------------------- */

static void junk_one(world *w)
{
	sim *s = w->s;
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	konce_addr from;
	if (sim_rand_below(s, 2)) {
		from = tnode_addr(&w->hc[sim_rand_below(s, NHONEST)].n); /* a victim's own address */
	} else {
		uint8_t ip[4];
		rand_bytes(s, ip, 4);
		ip[0] = (uint8_t)(100 + ip[0] % 90);
		konce_addr_from_v4(&from, ip, (uint16_t)(1024 + sim_rand_below(s, 60000)));
	}
	size_t n = 1;
	p[0] = KONCE_PKT_INITIATE;
	if (sim_rand_below(s, 2)) {
		n = 1 + sim_rand_below(s, KONCE_WIRE_MAX_DATAGRAM);
		rand_bytes(s, p, n);
	}
	sim_send_spoofed(s, w->mal.h, &from, &w->srv_addr, p, n);
	w->junk++;
}

static void mal_dial(world *w, const konce_identity *as)
{
	uint64_t now = sim_now(w->s);
	konce_ep_connect_opts o = {.as = as};
	uint32_t conn;
	if (w->nmal < MAL_MAX && konce_ep_connect_ex(w->mal.ep, tnode_pk(&w->srv), &w->srv_addr, NULL, 0, &o, now, &conn) == 0)
		w->mal_conn[w->nmal++] = conn;
	tnode_flush(&w->mal, now);
}

/* One round on one of her sessions: reassembly (even sessions: her own message ids there are all
 * fragments that never finish) or a zero-credit echo (odd ones), an event flood, a PING. */
static void mal_round(world *w, unsigned i)
{
	uint64_t now = sim_now(w->s);
	konce_ep *ep = w->mal.ep;
	uint32_t conn = w->mal_conn[i];
	if (konce_ep_ping(ep, conn, now) == -ENOENT) { /* refused or replaced: forget it */
		w->mal_conn[i] = w->mal_conn[--w->nmal];
		w->mal_frag_id[i] = w->mal_frag_id[w->nmal];
		return;
	}
	uint8_t f[KONCE_WIRE_MAX_PAYLOAD];
	static uint8_t data[900];
	if (conn & 1) {
		static uint8_t m[KONCE_MSG_BODY + MAL_ECHO_BODY];
		uint64_t id;
		konce_ep_msg_send(ep, conn, m, echo_msg(m, KONCE_MSG_F_REQUEST, now, MAL_ECHO_BODY), 0, 0, now, &id);
	} else if (w->mal_frag_id[i] < KONCE_REASM_WINDOW) {
		konce_fragment fr = {.msg_id = ++w->mal_frag_id[i], .offset = 0, .total = 16u << 20, .len = sizeof data,
				     .data = data};
		size_t n = konce_frag_encode(f, sizeof f, &fr);
		if (n)
			konce_ep_send_frames_conn(ep, conn, f, n, now, NULL);
	}
	size_t k = 0;
	while (k + 3 <= KONCE_WIRE_MAX_PAYLOAD)
		k += konce_frame_put_message(f + k, sizeof f - k, data, 0);
	konce_ep_send_frames_conn(ep, conn, f, k, now, NULL);
	tnode_flush(&w->mal, now);
}

static void mal_tick(void *ctx, uint64_t now)
{
	world *w = ctx;
	uint64_t ms = now / SIM_MS;
	if (ms >= 2000 && ms < 40000)
		for (w->junk_due += JUNK_PPS / 1000.0; w->junk_due >= 1; w->junk_due -= 1)
			junk_one(w);
	if (ms >= 5000 && ms < 5000 + ONE_KEY_DIALS * 10 && ms % 10 == 0)
		mal_dial(w, NULL); /* her endpoint's one derived key for the server */
	if (ms >= 8000 && ms < 8000 + MANY_KEY_DIALS * 10 && ms % 10 == 0)
		mal_dial(w, w->keys[(ms - 8000) / 10]);
	if (ms >= 12000 && ms < 40000 && ms % 50 == 0 && w->nmal)
		for (int r = 0; r < 10 && w->nmal; r++)
			mal_round(w, w->mal_next++ % w->nmal);
	if (ms == 15000 || ms == 16000) {
		w->evil_demand = ms == 15000 ? 30 : 15;
		SIM_ASSERT_EQ(w->s, tnode_connect(&w->srv, tnode_pk(&w->evil), &w->evil_addr, NULL, 0, &w->dial_evil), 0);
	}
	if (ms == 40000) /* the tap stops: whoever is still there has rested there since */
		for (unsigned i = 0; i < w->n_at_tap; i++)
			if (now - w->at_tap_since[i] > w->tap_stay_max)
				w->tap_stay_max = now - w->at_tap_since[i];
	if (ms % 100 == 0) {
		const konce_ep *ep = w->srv.ep;
		if (ep->reasm_pool.used > w->reasm_max)
			w->reasm_max = ep->reasm_pool.used;
		if (ep->send_pool.used > w->send_max)
			w->send_max = ep->send_pool.used;
		if (ep->ev_cap > w->ev_cap_max)
			w->ev_cap_max = ep->ev_cap;
	}
	if (ms < (uint64_t)RUN_S * 1000)
		sim_at(w->s, now + SIM_MS, mal_tick, w);
}

static bool evil_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	world *w = n->user;
	if (len == KONCE_COOKIE_SIZE && pkt[0] == KONCE_PKT_COOKIE)
		((uint8_t *)pkt)[KONCE_COOKIE_POW_BITS] = (uint8_t)w->evil_demand; /* unauthenticated */
	return true;
}

static void note_memory(void *ctx, uint64_t now)
{
	world *w = ctx;
	w->mem_base = sim_env_bytes(sim_host_env(w->srv.h));
}

/* ---- the run ------------------------------------------------------------------------------------ */

static void run(uint64_t seed)
{
	static world w;
	memset(&w, 0, sizeof w);
	sim *s = w.s = sim_new(seed);
	sim_link_cfg l = {.delay_us = 20 * SIM_MS, .jitter_us = 2 * SIM_MS};
	sim_link_default(s, &l);
	konce_ep_config sc = {.pow_rate = 1000000 / US_PER_HASH};
	SIM_ASSERT_EQ(s, tnode_init(&w.srv, s, NULL, "198.51.100.1", PORT, &sc), 0);
	w.srv.user = &w;
	w.srv.on_event = srv_event;
	w.srv.us_per_unit = US_PER_UNIT;
	w.srv.us_per_hash = US_PER_HASH;
	w.srv.use_priority = true;
	w.srv_addr = tnode_addr(&w.srv);

	konce_ep_config mc = {.pow_rate = 1000000 / US_PER_HASH, .max_sessions = 1024, .msg_budget = MAL_BUDGET};
	SIM_ASSERT_EQ(s, tnode_init(&w.mal, s, NULL, "203.0.113.7", MAL_PORT, &mc), 0);
	w.mal.user = &w;
	w.mal.hold_events = true; /* she never reads: her credit falls to nothing */
	w.mal.us_per_hash = US_PER_HASH;
	w.mal_addr = tnode_addr(&w.mal);
	for (int i = 0; i < MANY_KEY_DIALS; i++)
		SIM_ASSERT_EQ(s, konce_identity_generate(&w.keys[i], sim_host_env(w.mal.h)), 0);
	SIM_ASSERT_EQ(s, tnode_init(&w.evil, s, NULL, "203.0.113.9", PORT, NULL), 0);
	w.evil.user = &w;
	w.evil.on_tx = evil_tx;
	w.evil_addr = tnode_addr(&w.evil);
	static const sim_host_ops tap_ops = {.recv = tap_recv};
	w.tap = sim_host_add(s, "203.0.113.10", &tap_ops, &w);
	SIM_ASSERT(s, w.tap != NULL);
	sim_link_cfg near = {.delay_us = 2 * SIM_MS};
	sim_link_set_both(s, w.tap, w.srv.h, &near);
	for (int i = 0; i < NTAPPED; i++)
		SIM_ASSERT_EQ(s, sim_host_bind(w.tap, (uint16_t)(TAP_PORT0 + i)), 0);

	for (int i = 0; i < NHONEST; i++) {
		honest *c = &w.hc[i];
		char ip[32];
		snprintf(ip, sizeof ip, "198.18.%d.%d", 1 + i / 200, 1 + i % 200);
		SIM_ASSERT_EQ(s, tnode_init(&c->n, s, NULL, ip, 40000, &(konce_ep_config){.pow_rate = 1000000 / US_PER_HASH}),
			      0);
		c->w = &w;
		c->idx = i;
		c->n.user = c;
		c->n.on_event = honest_event;
		c->n.on_tx = honest_tx;
		c->n.us_per_hash = US_PER_HASH;
		sim_link_cfg hl = {.delay_us = (10 + sim_rand_below(s, 51)) * SIM_MS, .jitter_us = SIM_MS};
		sim_link_set_both(s, c->n.h, w.srv.h, &hl);
		if (i < NTAPPED)
			sim_link_set(s, w.tap, c->n.h, &near);
		sim_at(s, sim_rand_below(s, 10 * SIM_SEC), honest_start, c);
	}
	sim_at(s, 0, mal_tick, &w);
	sim_at(s, 4 * SIM_SEC, note_memory, &w); /* before her sessions and fragments: table still hers-free */
	sim_run_until(s, (uint64_t)RUN_S * SIM_SEC);

	const struct konce_ep_counters *c = tnode_counters(&w.srv);
	const konce_ep *ep = w.srv.ep;
	int est = 0, closed = 0, failed = 0, late = 0, missing = 0;
	uint64_t worst = 0;
	for (int i = 0; i < NHONEST; i++) {
		honest *h = &w.hc[i];
		est += h->established;
		closed += h->closed;
		failed += h->failed;
		for (unsigned k = 1; k <= h->asked; k++) {
			if (h->asked_at[k] + 10 * SIM_SEC > (uint64_t)RUN_S * SIM_SEC)
				continue;
			if (!h->answered_at[k]) {
				missing++;
				continue;
			}
			uint64_t d = h->answered_at[k] - h->asked_at[k];
			if (d > worst)
				worst = d;
			late += d > (uint64_t)ECHO_BOUND_MS * SIM_MS;
		}
	}
	uint64_t mal_sent = sim_host_tx(w.mal.h)->sent + sim_host_tx(w.tap)->sent + sim_host_tx(w.evil.h)->sent;
	uint64_t mem_peak = sim_env_peak_bytes(sim_host_env(w.srv.h));
	if (seed == 1 || est * 100 < NHONEST * 99 || closed || w.srv_honest_closed || missing || late ||
	    w.srv.max_work_us > STALL_BOUND_US)
		printf("  seed %llu: %d/%d honest up (%d failed, %d closed, %u closed by the server), %d echoes"
		       " missing, %d late (worst %llu ms); longest work %llu us; Mallory %llu datagrams (%llu junk,"
		       " %llu copies, %llu relayed), %u of her sessions at most (cap %u), %llu refused by source;"
		       " reassembly %llu of %llu, send %llu of %llu, echoes %llu answered %llu withheld, %llu failed"
		       " at her end, %llu others failed; ring %u; memory %llu KiB before her, %llu KiB peak (bound"
		       " %llu KiB); paths: %u moves to the tap (the longest stay %llu ms), %llu refused, %llu undone;"
		       " evil dial failed %u (%#x); msg events held %llu\n",
		       (unsigned long long)seed, est, NHONEST, failed, closed, w.srv_honest_closed, missing, late,
		       (unsigned long long)(worst / SIM_MS), (unsigned long long)w.srv.max_work_us,
		       (unsigned long long)mal_sent, (unsigned long long)w.junk, (unsigned long long)w.copies,
		       (unsigned long long)w.relayed, w.srv_mal_max, ep->max_per_source,
		       (unsigned long long)c->init_source_full, (unsigned long long)w.reasm_max,
		       (unsigned long long)ep->reasm_pool.budget, (unsigned long long)w.send_max,
		       (unsigned long long)ep->send_pool.budget, (unsigned long long)w.echoes_answered,
		       (unsigned long long)w.echoes_withheld, (unsigned long long)w.mal_echo_failed,
		       (unsigned long long)w.other_msg_failed, w.ev_cap_max, (unsigned long long)(w.mem_base >> 10),
		       (unsigned long long)(mem_peak >> 10), (unsigned long long)(MEM_BOUND(w.mem_base, ep) >> 10),
		       w.srv_moves_to_tap, (unsigned long long)(w.tap_stay_max / SIM_MS),
		       (unsigned long long)c->path_refused, (unsigned long long)c->path_reverted,
		       w.evil_failed, w.evil_reason, (unsigned long long)c->msg_events_held);
	SIM_ASSERT(s, est * 100 >= NHONEST * 99);
	SIM_ASSERT_EQ(s, closed, 0);
	SIM_ASSERT_EQ(s, w.srv_honest_closed, 0);
	SIM_ASSERT_EQ(s, missing, 0);
	SIM_ASSERT_EQ(s, late, 0);
	SIM_ASSERT(s, w.srv.max_work_us <= STALL_BOUND_US);
	SIM_ASSERT(s, mal_sent <= (uint64_t)BUDGET_PPS * RUN_S);
	/* each attack happened and met its rule */
	SIM_ASSERT(s, w.junk > 0 && w.copies > 0 && w.relayed > 0);
	SIM_ASSERT(s, w.srv_mal_max > 0 && w.srv_mal_max <= ep->max_per_source);
	SIM_ASSERT(s, c->init_source_full > 0);
	SIM_ASSERT(s, w.reasm_max > 0 && w.reasm_max <= ep->reasm_pool.budget);
	SIM_ASSERT(s, w.send_max <= ep->send_pool.budget);
	/* her zero credit: the echoes to her are refused and fail, so her queues stay within the echo
	 * rule, and nobody else's message fails */
	SIM_ASSERT(s, w.mal_echo_failed > 0);
	SIM_ASSERT_EQ(s, w.other_msg_failed, 0);
	SIM_ASSERT(s, w.send_max <= (uint64_t)ep->max_per_source * (KONCE_ECHO_QUEUE_MAX + 2 * MAL_ECHO_BODY) +
				       (uint64_t)NHONEST * 4096);
	SIM_ASSERT(s, c->msg_events_held > 0);       /* her MESSAGE floods met back-pressure */
	SIM_ASSERT_EQ(s, w.srv_validated_tap, 0);
	SIM_ASSERT(s, w.tap_stay_max <= SIM_SEC); /* a move to her, if any, is undone within a round trip */
	SIM_ASSERT(s, w.srv_moves_to_tap <= NTAPPED);
	SIM_ASSERT_EQ(s, w.evil_failed + w.evil_up, 2); /* both dials ended, and neither froze the server */
	SIM_ASSERT(s, mem_peak <= MEM_BOUND(w.mem_base, ep));
	SIM_ASSERT(s, c->sessions_live <= ep->max_sessions);

	for (int i = 0; i < NHONEST; i++)
		tnode_free(&w.hc[i].n);
	tnode_free(&w.evil);
	tnode_free(&w.mal);
	for (int i = 0; i < MANY_KEY_DIALS; i++)
		konce_identity_free(w.keys[i]);
	tnode_free(&w.srv);
	sim_free(s);
}

static void test_hostile_suite(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 2)
		run(seed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_suite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
