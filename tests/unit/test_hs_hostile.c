/* test_hs_hostile.c - regression tests for the handshake against one hostile peer: what it must not
 * be able to do to an endpoint.  Several endpoints in one process on a virtual clock, routed by address:
 *   - freeze the client with a proof-of-work demand (an unauthenticated COOKIE), or make its timers
 *     run on a stale clock after a long solve;
 *   - charge a victim's rate-limit bucket with spoofed junk;
 *   - fill the session table so that the node cannot dial out or take a new honest peer;
 *   - give one secret two identities with a non-canonical X25519 key;
 *   - turn a replayed INITIATE into a stream of ACCEPTs larger than the replay.
 */
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

enum { MAXN = 52 };

typedef struct tn {
	test_env tenv;
	konce_identity *id;
	konce_ep *ep;
	konce_addr addr;
} tn;

typedef struct net {
	tn n[MAXN];
	unsigned nn;
	uint64_t now;
	/* datagrams whose type is in drop_mask (bit = type) are lost */
	unsigned drop_mask;
} net;

static tn *add(net *w, const char *addr, const konce_ep_config *cfg)
{
	assert_true(w->nn < MAXN);
	tn *t = &w->n[w->nn];
	test_env_init(&t->tenv, (uint8_t)(w->nn + 1));
	assert_int_equal(konce_identity_generate(&t->id, &t->tenv.env), 0);
	konce_ep_config c = cfg ? *cfg : (konce_ep_config){0};
	c.env = &t->tenv.env;
	c.identity = t->id;
	assert_int_equal(konce_ep_new(&t->ep, &c, w->now), 0);
	assert_int_equal(konce_addr_parse(&t->addr, addr), 0);
	w->nn++;
	return t;
}

static void net_init(net *w)
{
	memset(w, 0, sizeof *w);
	w->now = 1000000;
}

static void net_free(net *w)
{
	for (unsigned i = 0; i < w->nn; i++) {
		konce_ep_free(w->n[i].ep);
		konce_identity_free(w->n[i].id);
		assert_int_equal(w->n[i].tenv.allocs, w->n[i].tenv.frees);
	}
}

static tn *by_addr(net *w, const konce_addr *a)
{
	for (unsigned i = 0; i < w->nn; i++)
		if (konce_addr_eq(&w->n[i].addr, a))
			return &w->n[i];
	return NULL;
}

/* Delivers every queued datagram (1 ms per hop) until quiet. */
static void pump(net *w)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		for (unsigned i = 0; i < w->nn; i++)
			while (konce_ep_poll_datagram(w->n[i].ep, buf, &len, &to)) {
				moved = 1;
				w->now += 1000;
				tn *d = by_addr(w, &to);
				if (d && !(w->drop_mask & (1u << buf[0])))
					konce_ep_input(d->ep, buf, len, &w->n[i].addr, w->now, NULL);
			}
	}
}

/* Runs timers and traffic until `until` (virtual us); each timer call is one step of at least 1 ms. */
static void run_until(net *w, uint64_t until)
{
	for (unsigned guard = 0; guard < 2000000; guard++) {
		pump(w);
		uint64_t t = UINT64_MAX;
		for (unsigned i = 0; i < w->nn; i++) {
			uint64_t x = konce_ep_next_timer(w->n[i].ep);
			if (x < t)
				t = x;
		}
		if (t > until) {
			w->now = until > w->now ? until : w->now;
			return;
		}
		w->now = t > w->now ? t : w->now + 1000;
		for (unsigned i = 0; i < w->nn; i++)
			if (konce_ep_next_timer(w->n[i].ep) <= w->now)
				konce_ep_timer(w->n[i].ep, w->now);
	}
	fail_msg("run_until: no progress");
}

static bool find_event(konce_ep *ep, enum konce_ep_event_type type, uint32_t conn, konce_ep_event *out)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(ep, &ev))
		if (ev.type == type && (!conn || ev.conn == conn)) {
			if (out)
				*out = ev;
			return true;
		}
	return false;
}

static unsigned count_established(konce_ep *ep, bool incoming)
{
	unsigned n = 0;
	konce_ep_event ev;
	while (konce_ep_poll_event(ep, &ev))
		if (ev.type == KONCE_EV_ESTABLISHED && ev.incoming == incoming)
			n++;
	return n;
}

/* Sends a's HELLO to b and hands back b's COOKIE (not delivered). */
static size_t hello_cookie(net *w, tn *a, tn *b, uint32_t *conn, uint8_t cookie[KONCE_WIRE_MAX_DATAGRAM])
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_int_equal(konce_ep_connect(a->ep, konce_identity_public(b->id), &b->addr, NULL, 0, w->now, conn), 0);
	assert_true(konce_ep_poll_datagram(a->ep, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_HELLO);
	konce_ep_input(b->ep, buf, len, &a->addr, w->now += 1000, NULL);
	assert_true(konce_ep_poll_datagram(b->ep, cookie, &len, &to));
	assert_int_equal(cookie[0], KONCE_PKT_COOKIE);
	return len;
}

/* Floods b's load meter from a's address to 10x its capacity (20) for two periods, so that it
 * demands 16 bits of everyone, and drops what b answered. */
static void overload(net *w, tn *a, tn *b)
{
	uint8_t hello[KONCE_HELLO_SIZE] = {KONCE_PKT_HELLO}, buf[KONCE_WIRE_MAX_DATAGRAM];
	for (int period = 0; period < 2; period++) {
		for (int i = 0; i < 200; i++)
			konce_ep_input(b->ep, hello, sizeof hello, &a->addr, w->now, NULL);
		w->now += 1000000;
	}
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(b->ep, buf, &len, &to))
		;
}

/* A client hashing 200,000 times a second and a server of capacity 20 that overload() has driven
 * to demand 16 bits of everyone. */
static void overloaded_pair(net *w, tn **a, tn **b)
{
	net_init(w);
	konce_ep_config ca = {.pow_rate = 200000}, cb = {.capacity = 20};
	*a = add(w, "192.0.2.1:1000", &ca);
	*b = add(w, "198.51.100.2:7807", &cb);
	overload(w, *a, *b);
}

/* m dials b once as each of n fresh identities (ids[0, n), freed by the caller), one after another. */
static void dial_as_many(net *w, tn *m, tn *b, konce_identity **ids, int n)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(konce_identity_generate(&ids[i], &m->tenv.env), 0);
		konce_ep_connect_opts o = {.as = ids[i]};
		uint32_t conn;
		assert_int_equal(konce_ep_connect_ex(m->ep, konce_identity_public(b->id), &b->addr, NULL, 0, &o, w->now,
						     &conn), 0);
		pump(w);
	}
}

/* ---- 1. proof of work -------------------------------------------------------------------- */

/* A COOKIE is unauthenticated: whoever answers our HELLO (the server we dial, or anyone on the path)
 * can demand any number of bits.  A demand that cannot be paid within the cookie's lifetime at the
 * endpoint's hash rate fails at once (today the client hashed 2^22 times inside konce_ep_input). */
static void test_pow_unpayable_demand_fails_at_once(void **state)
{
	(void)state;
	net w;
	net_init(&w);
	konce_ep_config ca = {.pow_rate = 100000}; /* a slow client: 100,000 hashes a second */
	tn *a = add(&w, "192.0.2.1:1000", &ca), *b = add(&w, "198.51.100.2:7807", NULL);
	uint8_t cookie[KONCE_WIRE_MAX_DATAGRAM];
	uint32_t conn;
	size_t len = hello_cookie(&w, a, b, &conn, cookie);
	cookie[KONCE_COOKIE_POW_BITS] = 22; /* 4 million hashes: 42 s at that rate, past the 10 s lifetime */
	konce_ep_input(a->ep, cookie, len, &b->addr, w.now += 1000, NULL);
	konce_ep_event ev;
	assert_true(find_event(a->ep, KONCE_EV_FAILED, conn, &ev));
	assert_int_equal(ev.reason, KONCE_FAIL_POW_TOO_HIGH);
	assert_int_equal(konce_ep_counters(a->ep)->pow_tries, 0); /* refused before any hashing */
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	konce_addr to;
	assert_false(konce_ep_poll_datagram(a->ep, buf, &len, &to));
	net_free(&w);
}

/* A payable demand is solved in slices from the timer, never more than the per-call budget at a
 * time; the INITIATE leaves with timers armed from the clock of the call that finished the proof. */
static void test_pow_solved_in_slices(void **state)
{
	(void)state;
	net w;
	tn *a, *b;
	overloaded_pair(&w, &a, &b);
	assert_int_equal(konce_ep_pow_bits(b->ep, w.now), 16);
	uint8_t cookie[KONCE_WIRE_MAX_DATAGRAM], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	uint32_t conn;
	len = hello_cookie(&w, a, b, &conn, cookie);
	assert_int_equal(cookie[KONCE_COOKIE_POW_BITS], 16);
	const struct konce_ep_counters *c = konce_ep_counters(a->ep);
	/* 1 ms of hashing at the configured rate per call: the rate is for 1200-byte datagrams (10
	 * BLAKE2b blocks), this 232-byte INITIATE is 2 blocks */
	const uint64_t budget = 200000 / 1000 * 10 / 2;
	konce_ep_input(a->ep, cookie, len, &b->addr, w.now += 1000, NULL);
	assert_true(c->pow_tries <= budget);
	/* 2^16 expected tries: not in one slice (this seed does not get lucky), so nothing left yet */
	assert_false(konce_ep_poll_datagram(a->ep, buf, &len, &to));
	assert_true(konce_ep_next_timer(a->ep) <= w.now); /* more work: call the timer now (may be early: ep_timer.c) */
	unsigned calls = 0;
	for (;;) {
		uint64_t before = c->pow_tries;
		w.now += 1000; /* the I/O loop ran other work between slices */
		konce_ep_timer(a->ep, w.now);
		calls++;
		assert_true(c->pow_tries - before <= budget);
		if (konce_ep_poll_datagram(a->ep, buf, &len, &to))
			break;
		assert_int_equal(konce_ep_next_timer(a->ep), w.now);
		assert_true(calls < 20000);
	}
	assert_int_equal(buf[0], KONCE_PKT_INITIATE);
	assert_int_equal(buf[KONCE_INIT_POW_BITS], 16);
	/* the retransmission is due a retry interval after the slice that finished, not after the COOKIE */
	assert_int_equal(konce_ep_next_timer(a->ep), w.now + (uint64_t)KONCE_HS_RETRY_MS * 1000);
	printf("# 16 bits: %llu tries in %u timer calls (budget %llu a call)\n", (unsigned long long)c->pow_tries,
	       calls + 1, (unsigned long long)budget);
	konce_ep_input(b->ep, buf, len, &a->addr, w.now += 1000, NULL);
	pump(&w);
	assert_true(find_event(a->ep, KONCE_EV_ESTABLISHED, conn, NULL));
	net_free(&w);
}

/* A solve that outlives its cookie is abandoned: the client starts over with a fresh HELLO. */
static void test_pow_solve_outlives_cookie(void **state)
{
	(void)state;
	net w;
	tn *a, *b;
	overloaded_pair(&w, &a, &b);
	uint8_t cookie[KONCE_WIRE_MAX_DATAGRAM], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	uint32_t conn;
	len = hello_cookie(&w, a, b, &conn, cookie);
	konce_ep_input(a->ep, cookie, len, &b->addr, w.now += 1000, NULL);
	assert_false(konce_ep_poll_datagram(a->ep, buf, &len, &to));
	/* the process was stopped (or starved) for longer than the cookie lives */
	w.now += (uint64_t)KONCE_COOKIE_LIFETIME_MS * 1000;
	konce_ep_timer(a->ep, w.now);
	assert_true(konce_ep_poll_datagram(a->ep, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_HELLO);
	assert_int_equal(konce_ep_counters(a->ep)->hs_restarts, 1);
	net_free(&w);
}

/* ---- 2. rate limiter --------------------------------------------------------------------- */

/* Spoofed junk from a victim's address (1-byte INITIATEs, forged INITIATEs, HELLOs) charges nobody's
 * bucket: the victim then pays nothing on an idle server. */
static void test_spoofed_junk_charges_nobody(void **state)
{
	(void)state;
	net w;
	net_init(&w);
	konce_ep_config cb = {.capacity = 100000000};
	tn *a = add(&w, "192.0.2.1:1000", NULL), *b = add(&w, "198.51.100.2:7807", &cb);
	uint8_t junk[KONCE_WIRE_MAX_DATAGRAM] = {KONCE_PKT_INITIATE};
	uint8_t hello[KONCE_HELLO_SIZE] = {KONCE_PKT_HELLO};
	for (int i = 0; i < 20000; i++) {
		konce_ep_input(b->ep, junk, 1, &a->addr, w.now, NULL);
		randombytes_buf(junk + 1, KONCE_INIT_MIN_SIZE - 1);
		konce_ep_input(b->ep, junk, KONCE_INIT_MIN_SIZE, &a->addr, w.now, NULL);
		konce_ep_input(b->ep, hello, sizeof hello, &a->addr, w.now, NULL);
		assert_int_equal(konce_ep_priority(b->ep, junk, 1, &a->addr, w.now), 1);
	}
	uint8_t cookie[KONCE_WIRE_MAX_DATAGRAM];
	uint32_t conn;
	hello_cookie(&w, a, b, &conn, cookie);
	assert_int_equal(cookie[KONCE_COOKIE_POW_BITS], 0);
	net_free(&w);
}

/* ---- 3. session table -------------------------------------------------------------------- */

/* One host at one address opens sessions to b with as many keys as it likes, then ones from many
 * addresses fill what is left: b can still dial out, and a new honest peer still gets in. */
/* max_per_source raises rule 2 for servers whose peers share one address (a CGNAT) */
static void test_per_source_raised(void **state)
{
	(void)state;
	net w;
	net_init(&w);
	konce_ep_config cb = {.max_sessions = 32, .max_per_source = 12, .capacity = 100000000,
			      .rl_rate = 100000000, .rl_burst = 100000000};
	konce_ep_config cm = {.max_sessions = 64, .pow_rate = 100000000};
	tn *b = add(&w, "198.51.100.2:7807", &cb);
	tn *m = add(&w, "203.0.113.66:5000", &cm);
	konce_identity *ids[20];
	dial_as_many(&w, m, b, ids, 20);
	run_until(&w, w.now + 20000000);
	assert_int_equal(count_established(b->ep, true), 12);
	for (int i = 0; i < 20; i++)
		konce_identity_free(ids[i]);
	net_free(&w);
}

static void test_table_fill(void **state)
{
	(void)state;
	net w;
	net_init(&w);
	konce_ep_config cb = {.max_sessions = 32, .capacity = 100000000, .rl_rate = 100000000, .rl_burst = 100000000};
	konce_ep_config cm = {.max_sessions = 64, .pow_rate = 100000000};
	tn *b = add(&w, "198.51.100.2:7807", &cb);
	tn *m = add(&w, "203.0.113.66:5000", &cm);
	tn *c = add(&w, "198.51.100.3:7807", NULL);
	konce_identity *ids[40];
	dial_as_many(&w, m, b, ids, 40);
	run_until(&w, w.now + 20000000); /* the refused ones give up */
	unsigned from_m = count_established(b->ep, true);
	printf("# one address, 40 keys: %u sessions on b (max_sessions 32)\n", from_m);
	assert_int_equal(from_m, 4); /* max(4, max_sessions / 16) per source */
	/* one key from five addresses: its fifth session replaces its first (4 per key, as per source) */
	const struct konce_ep_counters *bc = konce_ep_counters(b->ep);
	uint64_t live0 = bc->sessions_live;
	konce_identity *kid;
	assert_int_equal(konce_identity_generate(&kid, &m->tenv.env), 0);
	for (int i = 0; i < 5; i++) {
		char ka[32];
		snprintf(ka, sizeof ka, "192.0.2.%d:6000", 100 + i);
		tn *k = add(&w, ka, NULL);
		konce_ep_connect_opts o = {.as = kid};
		uint32_t conn;
		assert_int_equal(konce_ep_connect_ex(k->ep, konce_identity_public(b->id), &b->addr, NULL, 0, &o, w.now,
						     &conn), 0);
		run_until(&w, w.now + 100000);
		assert_true(find_event(k->ep, KONCE_EV_ESTABLISHED, conn, NULL));
	}
	assert_int_equal(bc->sessions_replaced, 1);
	assert_int_equal(bc->sessions_live, live0 + 4);

	/* now many addresses, one session each, until b refuses */
	char ip[64];
	for (int i = 0; i < 40 && w.nn < MAXN - 2; i++) {
		snprintf(ip, sizeof ip, "[2001:db8:%x::1]:5000", i + 1);
		tn *x = add(&w, ip, NULL);
		uint32_t conn;
		assert_int_equal(konce_ep_connect(x->ep, konce_identity_public(b->id), &b->addr, NULL, 0, w.now, &conn), 0);
		pump(&w);
	}
	run_until(&w, w.now + 20000000);
	printf("# then many addresses: %llu sessions live on b\n",
	       (unsigned long long)konce_ep_counters(b->ep)->sessions_live);
	/* b dials out: a slot is kept for it */
	uint32_t out;
	assert_int_equal(konce_ep_connect(b->ep, konce_identity_public(c->id), &c->addr, NULL, 0, w.now, &out), 0);
	run_until(&w, w.now + 1000000);
	assert_true(find_event(b->ep, KONCE_EV_ESTABLISHED, out, NULL));
	/* the unreserved part is full: every COOKIE now asks for the most a source with no overdraft
	 * pays, even though the server is idle */
	tn *e = add(&w, "192.0.2.78:4000", NULL);
	uint8_t ck[KONCE_WIRE_MAX_DATAGRAM];
	uint32_t ec;
	hello_cookie(&w, e, b, &ec, ck);
	assert_int_equal(ck[KONCE_COOKIE_POW_BITS], KONCE_LOAD_BITS_BASE_MAX);
	assert_int_equal(konce_ep_close(e->ep, ec, w.now), 0);
	/* and a new honest peer gets in, in place of an idle, unwanted incoming session */
	uint64_t evicted0 = bc->sessions_evicted;
	tn *d = add(&w, "192.0.2.77:4000", NULL);
	uint32_t dc;
	assert_int_equal(konce_ep_connect(d->ep, konce_identity_public(b->id), &b->addr, NULL, 0, w.now, &dc), 0);
	run_until(&w, w.now + 10000000);
	assert_true(find_event(d->ep, KONCE_EV_ESTABLISHED, dc, NULL));
	assert_int_equal(bc->sessions_evicted, evicted0 + 1);
	for (int i = 0; i < 40; i++)
		konce_identity_free(ids[i]);
	konce_identity_free(kid);
	net_free(&w);
}

/* ---- 8. non-canonical keys, replayed INITIATEs ------------------------------------------- */

static void test_noncanonical_keys(void **state)
{
	(void)state;
	net w;
	net_init(&w);
	konce_ep_config ca = {.explicit_identity = true};
	tn *a = add(&w, "192.0.2.1:1000", &ca), *b = add(&w, "198.51.100.2:7807", NULL);
	/* dialling b's key with bit 255 set would reach b under a second name */
	uint8_t pk[32];
	memcpy(pk, konce_identity_public(b->id), 32);
	pk[31] |= 0x80;
	uint32_t conn;
	assert_int_equal(konce_ep_connect(a->ep, pk, &b->addr, NULL, 0, w.now, &conn), -EINVAL);
	/* p = 2^255 - 19 itself (the point 0) and p + 1 */
	memset(pk, 0xff, 32);
	pk[31] = 0x7f;
	pk[0] = 0xed;
	assert_int_equal(konce_ep_connect(a->ep, pk, &b->addr, NULL, 0, w.now, &conn), -EINVAL);
	pk[0] = 0xee;
	assert_int_equal(konce_ep_connect(a->ep, pk, &b->addr, NULL, 0, w.now, &conn), -EINVAL);
	/* a client that shows its key with bit 255 set (X25519 ignores the bit, so every DH works) */
	((uint8_t *)konce_identity_public(a->id))[31] |= 0x80;
	assert_int_equal(konce_ep_connect(a->ep, konce_identity_public(b->id), &b->addr, NULL, 0, w.now, &conn), 0);
	run_until(&w, w.now + 20000000);
	assert_int_equal(konce_ep_counters(b->ep)->sessions_opened, 0);
	assert_false(find_event(b->ep, KONCE_EV_ESTABLISHED, 0, NULL));
	((uint8_t *)konce_identity_public(a->id))[31] &= 0x7f;
	net_free(&w);
}

/* Replays of an accepted INITIATE from its address: a few answers, never more bytes than came in. */
static void test_replayed_initiate(void **state)
{
	(void)state;
	for (int big_reply = 0; big_reply < 2; big_reply++) {
		net w;
		net_init(&w);
		tn *a = add(&w, "192.0.2.1:1000", NULL), *b = add(&w, "198.51.100.2:7807", NULL);
		uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], init[KONCE_WIRE_MAX_DATAGRAM];
		size_t len, ilen;
		konce_addr to;
		uint32_t conn;
		len = hello_cookie(&w, a, b, &conn, buf);
		konce_ep_input(a->ep, buf, len, &b->addr, w.now += 1000, NULL);
		assert_true(konce_ep_poll_datagram(a->ep, init, &ilen, &to));
		assert_int_equal(init[0], KONCE_PKT_INITIATE);
		konce_ep_input(b->ep, init, ilen, &a->addr, w.now += 1000, NULL);
		konce_ep_event ev = {0};
		assert_true(find_event(b->ep, KONCE_EV_ESTABLISHED, 0, &ev));
		static const uint8_t reply[700] = {1};
		if (big_reply)
			assert_int_equal(konce_ep_send(b->ep, ev.conn, reply, sizeof reply, w.now), 0);
		assert_true(konce_ep_poll_datagram(b->ep, buf, &len, &to));
		assert_int_equal(buf[0], KONCE_PKT_ACCEPT);
		assert_true(big_reply ? len > ilen : len < ilen);
		/* the ACCEPT is lost; someone replays the INITIATE from a's address 100 times */
		size_t out = 0;
		unsigned answers = 0;
		for (int i = 0; i < 100; i++) {
			konce_ep_input(b->ep, init, ilen, &a->addr, w.now += 1000, NULL);
			while (konce_ep_poll_datagram(b->ep, buf, &len, &to)) {
				assert_true(len <= ilen);
				out += len;
				answers++;
			}
		}
		printf("# reply %s: %u answers, %zu bytes for 100 replays of %zu bytes\n", big_reply ? "700 B" : "none",
		       answers, out, ilen);
		assert_true(answers <= KONCE_HS_DUP_ANSWERS);
		assert_true(big_reply ? answers == 0 : answers >= 1);
		/* the honest client still gets in: b resends a large ACCEPT on its own timer */
		run_until(&w, w.now + 5000000);
		assert_true(find_event(a->ep, KONCE_EV_ESTABLISHED, conn, NULL));
		/* (a sends nothing back after a reply it need not acknowledge: b cannot tell, and resends
		 * up to KONCE_HS_DUP_ANSWERS times) */
		uint64_t resent = konce_ep_counters(b->ep)->accept_resent;
		assert_true(big_reply ? resent >= 1 && resent <= KONCE_HS_DUP_ANSWERS : resent == 0);
		net_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pow_unpayable_demand_fails_at_once),
		cmocka_unit_test(test_pow_solved_in_slices),
		cmocka_unit_test(test_pow_solve_outlives_cookie),
		cmocka_unit_test(test_spoofed_junk_charges_nobody),
		cmocka_unit_test(test_table_fill),
		cmocka_unit_test(test_per_source_raised),
		cmocka_unit_test(test_noncanonical_keys),
		cmocka_unit_test(test_replayed_initiate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
