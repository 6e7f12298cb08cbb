/* test_transport_hostile_pow.c - a server we dial demands a large proof of work:
 * the client's loop keeps serving its other session while it pays, and a demand it cannot pay in
 * time fails at once.
 *
 *	honest S --ping every 10 ms--> C (client)            each ping's delay at C is measured
 *	                               C --dial--> H          H's COOKIEs are rewritten to demand DEMAND
 *
 * CPU model (transport_node.h): C hashes at 1 us a try (a minimal INITIATE), and is told a rate
 * that agrees (200,000 hashes of 1200 bytes a second = 1,000,000 of its 232-byte INITIATE), so one
 * slice is 1 ms of virtual CPU and its cap is 20 bits.  A 20-bit demand is about 1 s of hashing:
 * done in one call (as the client once did), every ping behind it would wait that long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/hs_packets.h"
#include "node/base/wire.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum {
	PORT = 7807,
	LINK_US = 5337, /* off the 1 ms grid of the slices, so pings land inside them */
	PING_US = 10000,
	RATE = 200000, /* C's pow_rate: 1200-byte hashes a second */
	US_PER_HASH = 1,
};

typedef struct world {
	sim *s;
	tnode c, srv, hostile;
	unsigned demand;
	uint32_t c_srv, srv_conn, c_hostile;
	bool c_up, hostile_failed;
	unsigned hostile_reason;
	uint64_t pings_sent, pings_got, max_delay, solve_start, solve_end;
} world;

static bool hostile_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	(void)to;
	(void)now;
	world *w = n->user;
	if (len == KONCE_COOKIE_SIZE && pkt[0] == KONCE_PKT_COOKIE)
		((uint8_t *)pkt)[KONCE_COOKIE_POW_BITS] = (uint8_t)w->demand; /* the COOKIE is not authenticated */
	return true;
}

static void srv_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	(void)now;
	world *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED)
		w->srv_conn = ev->conn;
}

static void c_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED && ev->conn == w->c_srv)
		w->c_up = true;
	if (ev->type == KONCE_EV_FAILED && ev->conn == w->c_hostile) {
		w->hostile_failed = true;
		w->hostile_reason = ev->reason;
	}
	if (ev->type == KONCE_EV_MESSAGE && ev->conn == w->c_srv && ev->len == 8) {
		uint64_t sent = wire_get64(ev->data);
		uint64_t delay = now - sent - LINK_US;
		if (delay > w->max_delay)
			w->max_delay = delay;
		w->pings_got++;
	}
	(void)n;
}

static void ping(void *ctx, uint64_t now)
{
	world *w = ctx;
	if (w->srv_conn) {
		uint8_t m[8];
		wire_put64(m, now);
		if (tnode_send(&w->srv, w->srv_conn, m, sizeof m) == 0)
			w->pings_sent++;
	}
	if (now < 19 * SIM_SEC) /* the last one lands before the run ends */
		sim_at(w->s, now + PING_US, ping, w);
}

static void dial_hostile(void *ctx, uint64_t now)
{
	(void)now;
	world *w = ctx;
	konce_addr a = tnode_addr(&w->hostile);
	w->solve_start = konce_ep_counters(w->c.ep)->pow_tries;
	assert_int_equal(tnode_connect(&w->c, tnode_pk(&w->hostile), &a, NULL, 0, &w->c_hostile), 0);
}

static void run(uint64_t seed, unsigned demand, world *w)
{
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	w->demand = demand;
	sim_link_cfg l = {.delay_us = LINK_US};
	sim_link_default(w->s, &l);
	konce_ep_config cc = {.pow_rate = RATE};
	assert_int_equal(tnode_init(&w->c, w->s, NULL, "192.0.2.10", PORT, &cc), 0);
	assert_int_equal(tnode_init(&w->srv, w->s, NULL, "198.51.100.1", PORT, NULL), 0);
	assert_int_equal(tnode_init(&w->hostile, w->s, NULL, "203.0.113.66", PORT, NULL), 0);
	w->c.us_per_hash = US_PER_HASH;
	w->c.user = w->srv.user = w->hostile.user = w;
	w->c.on_event = c_event;
	w->srv.on_event = srv_event;
	w->hostile.on_tx = hostile_tx;
	konce_addr a = tnode_addr(&w->srv);
	assert_int_equal(tnode_connect(&w->c, tnode_pk(&w->srv), &a, NULL, 0, &w->c_srv), 0);
	assert_int_equal(konce_ep_set_wanted(w->c.ep, w->c_srv, true, sim_now(w->s)), 0);
	sim_at(w->s, 100 * SIM_MS, ping, w);
	sim_at(w->s, 500 * SIM_MS, dial_hostile, w);
	sim_run_until(w->s, 20 * SIM_SEC);
	w->solve_end = konce_ep_counters(w->c.ep)->pow_tries;
}

static void finish(world *w)
{
	tnode_free(&w->c);
	tnode_free(&w->srv);
	tnode_free(&w->hostile);
	sim_free(w->s);
}

/* 20 bits: payable, so C pays (in slices), and pays again after its restart; H never accepts (its
 * MAC binds the demand it really made).  Every ping is served within a slice of its arrival. */
static void test_payable_demand_does_not_stall(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		world w;
		run(seed, 20, &w);
		uint64_t tries = w.solve_end - w.solve_start;
		if (seed == 1)
			printf("  demand 20 bits: %llu tries (%.2f s of C's CPU), %llu/%llu pings, longest ping delay %.2f ms\n",
			       (unsigned long long)tries, (double)tries * US_PER_HASH / 1e6,
			       (unsigned long long)w.pings_got, (unsigned long long)w.pings_sent, w.max_delay / 1e3);
		SIM_ASSERT(w.s, w.c_up);
		SIM_ASSERT(w.s, tries > (1u << 18)); /* it really worked on the proof */
		SIM_ASSERT(w.s, w.hostile_failed);
		SIM_ASSERT_EQ(w.s, w.pings_got, w.pings_sent);
		SIM_ASSERT(w.s, w.max_delay <= 2000 /* two 1 ms slices */);
		finish(&w);
	}
}

/* 21 bits: past C's cap (expected cost > 1.25 s): refused at once, nothing hashed. */
static void test_unpayable_demand_fails_at_once(void **state)
{
	(void)state;
	world w;
	run(1, 21, &w);
	SIM_ASSERT(w.s, w.hostile_failed);
	SIM_ASSERT_EQ(w.s, w.hostile_reason, KONCE_FAIL_POW_TOO_HIGH);
	SIM_ASSERT_EQ(w.s, w.solve_end - w.solve_start, 0);
	SIM_ASSERT_EQ(w.s, w.pings_got, w.pings_sent);
	finish(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payable_demand_does_not_stall),
		cmocka_unit_test(test_unpayable_demand_fails_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
