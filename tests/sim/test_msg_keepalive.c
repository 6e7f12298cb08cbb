/* test_msg_keepalive.c - keepalive and idle close.
 *
 *	A (10.0.0.2) -- NAT 198.51.100.1 (port-restricted cone, 30 s mapping timeout) -- B (192.0.2.1)
 *
 *   - A wants its session to B and stays idle for 5 minutes: A's PINGs (every 25 s) hold the NAT
 *     mapping open, so a message B sends afterwards reaches A;
 *   - the control: with keepalives every 1000 s instead, the mapping expires and B's message is
 *     dropped at the NAT;
 *   - without wanting it (and idle_timeout_ms = 60 s on both sides), the session closes after
 *     about 60 s on both sides: CLOSED with KONCE_FAIL_IDLE at A, the peer's CLOSE at B, and
 *     nothing is left allocated but the endpoints;
 *   - konce_ep_ping() (traversal's authenticated liveness probe): one PING leaves at once on an
 *     idle session, and the peer's ack is authenticated traffic of that conn
 *     (konce_ep_input's verdict SESSION_DATA), which garbage and a foreign conn are not;
 *   - the same two cases on the shipping node core (tests/sim/node_harness.c): a send with
 *     keep_session holds the NAT for B's late message to A's key; without it both peers go DOWN
 *     after the idle timeout, and A's next send reconnects by the address its cache kept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "tests/sim/node_harness.h"
#include "tests/sim/transport_node.h"

typedef struct ka {
	sim *s;
	sim_nat *nat;
	tnode a, b;
	uint32_t ca, cb;
	unsigned a_msgs, b_delivered, a_closed, b_closed, a_reason;
	uint64_t t_a_closed, t_b_closed;
} ka;

static void a_ev(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	ka *k = n->user;
	if (ev->type == KONCE_EV_MESSAGE)
		k->a_msgs++;
	if (ev->type == KONCE_EV_CLOSED) {
		k->a_closed++;
		k->a_reason = ev->reason;
		k->t_a_closed = now;
	}
}

static void b_ev(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	ka *k = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED)
		k->cb = ev->conn;
	if (ev->type == KONCE_EV_MSG_DELIVERED)
		k->b_delivered++;
	if (ev->type == KONCE_EV_CLOSED) {
		k->b_closed++;
		k->t_b_closed = now;
	}
}

static void setup(ka *k, uint64_t seed, unsigned idle_ms, unsigned keepalive_ms)
{
	memset(k, 0, sizeof *k);
	k->s = sim_new(seed);
	sim_nat_cfg nc = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	nc.timeout_us = 30 * SIM_SEC;
	k->nat = sim_nat_add(k->s, "198.51.100.1", &nc);
	konce_ep_config cfg = {.idle_timeout_ms = idle_ms, .keepalive_ms = keepalive_ms};
	assert_int_equal(tnode_init(&k->a, k->s, k->nat, "10.0.0.2", 40000, &cfg), 0);
	assert_int_equal(tnode_init(&k->b, k->s, NULL, "192.0.2.1", 7807, &cfg), 0);
	k->a.user = k->b.user = k;
	k->a.on_event = a_ev;
	k->b.on_event = b_ev;
	sim_link_cfg link = {.delay_us = 15 * SIM_MS, .jitter_us = 1 * SIM_MS};
	sim_link_default(k->s, &link);
	konce_addr to = tnode_addr(&k->b);
	assert_int_equal(tnode_connect(&k->a, tnode_pk(&k->b), &to, NULL, 0, &k->ca), 0);
	sim_run_for(k->s, 1 * SIM_SEC);
	SIM_ASSERT(k->s, k->cb != 0);
}

static void test_wanted_session_holds_nat(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static ka k;
		setup(&k, seed, 0, 0);
		SIM_ASSERT_EQ(k.s, konce_ep_set_wanted(k.a.ep, k.ca, true, sim_now(k.s)), 0);
		tnode_flush(&k.a, sim_now(k.s));
		sim_run_for(k.s, 300 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a_closed + k.b_closed, 0);
		uint64_t pings = tnode_counters(&k.a)->keepalive_tx;
		SIM_ASSERT(k.s, pings >= 11 && pings <= 13);
		uint64_t id;
		SIM_ASSERT_EQ(k.s, konce_ep_msg_send(k.b.ep, k.cb, (const uint8_t *)"late", 4, 0, 0, sim_now(k.s), &id), 0);
		tnode_flush(&k.b, sim_now(k.s));
		sim_run_for(k.s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a_msgs, 1);
		SIM_ASSERT_EQ(k.s, k.b_delivered, 1);
		tnode_free(&k.a);
		tnode_free(&k.b);
		sim_free(k.s);
	}
}

/* The control: the same with keepalives every 1000 s (and a 10-minute idle timeout) -- the NAT
 * forgets A after 30 s, and B's late message never reaches A. */
static void test_without_keepalive_nat_forgets(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 2) {
		static ka k;
		setup(&k, seed, 600000, 1000000);
		SIM_ASSERT_EQ(k.s, konce_ep_set_wanted(k.a.ep, k.ca, true, sim_now(k.s)), 0);
		sim_run_for(k.s, 300 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, tnode_counters(&k.a)->keepalive_tx, 0);
		uint64_t id;
		SIM_ASSERT_EQ(k.s, konce_ep_msg_send(k.b.ep, k.cb, (const uint8_t *)"late", 4, 0, 0, sim_now(k.s), &id), 0);
		tnode_flush(&k.b, sim_now(k.s));
		sim_run_for(k.s, 10 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a_msgs, 0);
		SIM_ASSERT_EQ(k.s, k.b_delivered, 0);
		SIM_ASSERT(k.s, sim_nat_counters_get(k.nat)->dropped_nomap > 0);
		tnode_free(&k.a);
		tnode_free(&k.b);
		sim_free(k.s);
	}
}

static void test_unwanted_session_closes(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static ka k;
		setup(&k, seed, 60000, 0);
		/* one message each way, then silence */
		uint64_t id;
		uint64_t t0 = sim_now(k.s);
		SIM_ASSERT_EQ(k.s, konce_ep_msg_send(k.b.ep, k.cb, (const uint8_t *)"hi", 2, 0, 0, t0, &id), 0);
		tnode_flush(&k.b, t0);
		sim_run_for(k.s, 1 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a_msgs, 1);
		const konce_env *ea = sim_host_env(k.a.h), *eb = sim_host_env(k.b.h);
		uint64_t la = sim_env_live(ea), lb = sim_env_live(eb);
		sim_run_for(k.s, 120 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a_closed, 1);
		SIM_ASSERT_EQ(k.s, k.b_closed, 1);
		SIM_ASSERT_EQ(k.s, k.a_reason, KONCE_FAIL_IDLE);
		/* the first side to reach 60 s of idleness closes; the other hears its CLOSE */
		uint64_t first = k.t_a_closed < k.t_b_closed ? k.t_a_closed : k.t_b_closed;
		SIM_ASSERT(k.s, first >= t0 + 60 * SIM_SEC && first <= t0 + 62 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, tnode_counters(&k.a)->keepalive_tx, 0);
		/* the session and its reliability state are gone on both sides */
		SIM_ASSERT(k.s, sim_env_live(ea) < la && sim_env_live(eb) < lb);
		SIM_ASSERT_EQ(k.s, tnode_counters(&k.a)->sessions_live, 0);
		SIM_ASSERT_EQ(k.s, tnode_counters(&k.b)->sessions_live, 0);
		tnode_free(&k.a);
		tnode_free(&k.b);
		SIM_ASSERT_EQ(k.s, sim_env_live(ea), 0);
		SIM_ASSERT_EQ(k.s, sim_env_live(eb), 0);
		sim_free(k.s);
	}
}

static void test_ping_probe(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static ka k;
		setup(&k, seed, 0, 0);
		sim_run_for(k.s, 2 * SIM_SEC);
		uint64_t now = sim_now(k.s);
		uint64_t ka0 = tnode_counters(&k.a)->keepalive_tx, rx0 = tnode_counters(&k.a)->data_rx;
		SIM_ASSERT_EQ(k.s, konce_ep_ping(k.a.ep, k.ca, now), 0);
		SIM_ASSERT_EQ(k.s, tnode_counters(&k.a)->keepalive_tx, ka0 + 1); /* queued at once */
		tnode_flush(&k.a, now);
		sim_run_for(k.s, 300 * SIM_MS);
		/* B acked it: the last datagram A took is authenticated DATA of this session */
		SIM_ASSERT(k.s, tnode_counters(&k.a)->data_rx > rx0);
		SIM_ASSERT_EQ(k.s, k.a.last_verdict, KONCE_EP_SESSION_DATA);
		SIM_ASSERT_EQ(k.s, k.a.last_rx.conn, k.ca);
		konce_addr from = tnode_addr(&k.b);
		uint8_t junk[64] = {KONCE_PKT_DATA};
		konce_ep_rx rx;
		SIM_ASSERT(k.s, konce_ep_dropped(konce_ep_input(k.a.ep, junk, sizeof junk, &from, sim_now(k.s), &rx)));
		SIM_ASSERT_EQ(k.s, rx.conn, 0);
		/* errors: an unknown conn, a session still in its handshake */
		SIM_ASSERT_EQ(k.s, konce_ep_ping(k.a.ep, k.ca ^ 0x7f000000u, sim_now(k.s)), -ENOENT);
		uint8_t other[KONCE_WIRE_KEY];
		memset(other, 0x5a, sizeof other);
		konce_addr dead;
		assert_int_equal(konce_addr_parse(&dead, "192.0.2.99:7807"), 0);
		uint32_t c2;
		SIM_ASSERT_EQ(k.s, konce_ep_connect(k.a.ep, other, &dead, NULL, 0, sim_now(k.s), &c2), 0);
		SIM_ASSERT_EQ(k.s, konce_ep_ping(k.a.ep, c2, sim_now(k.s)), -ENOTCONN);
		SIM_ASSERT_EQ(k.s, konce_ep_close(k.a.ep, c2, sim_now(k.s)), 0);
		tnode_free(&k.a);
		tnode_free(&k.b);
		sim_free(k.s);
	}
}

/* ---- the same on the node core ------------------------------------------------------------- */

typedef struct nka {
	sim *s;
	sim_nat *nat;
	ncnode a, b;
	unsigned a_msgs, outcomes, delivered;
} nka;

static void n_msg(void *ctx, konce_node *node, const konce_message *m)
{
	(void)node, (void)m;
	((nka *)ctx)->a_msgs++;
}

static void n_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	nka *k = ctx;
	(void)reason, (void)data, (void)len;
	k->outcomes++;
	k->delivered += outcome == KONCE_OUTCOME_DELIVERED;
}

static void n_setup(nka *k, uint64_t seed, unsigned idle_ms, int keep)
{
	memset(k, 0, sizeof *k);
	k->s = sim_new(seed);
	sim_nat_cfg nc = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	nc.timeout_us = 30 * SIM_SEC;
	k->nat = sim_nat_add(k->s, "198.51.100.1", &nc);
	konce_nodecore_config cfg = {.ep = {.idle_timeout_ms = idle_ms}};
	assert_int_equal(ncnode_init(&k->a, k->s, k->nat, "10.0.0.2", 40000, &cfg), 0);
	assert_int_equal(ncnode_init(&k->b, k->s, NULL, "192.0.2.1", 7807, &cfg), 0);
	assert_int_equal(konce_nodecore_handle(k->a.core, 300, n_msg, k), 0);
	sim_link_cfg link = {.delay_us = 15 * SIM_MS, .jitter_us = 1 * SIM_MS};
	sim_link_default(k->s, &link);
	ncnode_learn(&k->a, &k->b);
	konce_send_opts o = {.keep_session = keep};
	SIM_ASSERT_EQ(k->s, ncnode_send(&k->a, ncnode_pk(&k->b), KONCE_CLASS_ECHO, NULL, 0, &o, n_outcome, k, NULL), 0);
	sim_run_for(k->s, 1 * SIM_SEC);
	SIM_ASSERT_EQ(k->s, k->delivered, 1);
	SIM_ASSERT_EQ(k->s, k->b.peers_up, 1);
}

static void test_node_keep_session_holds_nat(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static nka k;
		n_setup(&k, seed, 0, 1);
		sim_run_for(k.s, 300 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a.peers_down + k.b.peers_down, 0);
		SIM_ASSERT_EQ(k.s, ncnode_send(&k.b, ncnode_pk(&k.a), 300, "late", 4, NULL, n_outcome, &k, NULL), 0);
		sim_run_for(k.s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a_msgs, 1);
		SIM_ASSERT_EQ(k.s, k.delivered, 2);
		ncnode_free(&k.a);
		ncnode_free(&k.b);
		sim_free(k.s);
	}
}

static void test_node_idle_session_closes(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static nka k;
		n_setup(&k, seed, 60000, 0);
		sim_run_for(k.s, 120 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.a.peers_down, 1);
		SIM_ASSERT_EQ(k.s, k.b.peers_down, 1);
		SIM_ASSERT_EQ(k.s, konce_nodecore_npeers(k.a.core) + konce_nodecore_npeers(k.b.core), 0);
		SIM_ASSERT_EQ(k.s, konce_ep_counters(ncnode_ep(&k.a))->sessions_live, 0);
		/* the address stayed known: A's next send needs no hint and connects again */
		SIM_ASSERT_EQ(k.s, ncnode_send(&k.a, ncnode_pk(&k.b), KONCE_CLASS_ECHO, NULL, 0, NULL, n_outcome, &k, NULL), 0);
		sim_run_for(k.s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(k.s, k.delivered, 2);
		SIM_ASSERT_EQ(k.s, k.a.peers_up, 2);
		SIM_ASSERT_EQ(k.s, k.outcomes, 2);
		ncnode_free(&k.a);
		ncnode_free(&k.b);
		sim_free(k.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted_session_holds_nat),
		cmocka_unit_test(test_without_keepalive_nat_forgets),
		cmocka_unit_test(test_unwanted_session_closes),
		cmocka_unit_test(test_ping_probe),
		cmocka_unit_test(test_node_keep_session_holds_nat),
		cmocka_unit_test(test_node_idle_session_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
