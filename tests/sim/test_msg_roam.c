/* test_msg_roam.c - messages across NAT rebindings, on the shipping node core (node/core/nodecore.h,
 * driven by tests/sim/node_harness.c): A, behind a NAT, sends 1 MiB messages to B by key and B
 * sends some back by key over the same session, while the NAT forgets its mappings twice (every
 * mapping gets a new port).  Until B has validated A's new address it keeps sending to the old
 * one, which the NAT no longer maps: those packets are lost, and loss recovery sends their data
 * again once the path moved (B's node reports each move as a PEER_PATH event).  Every message still
 * arrives exactly once and intact, both ways, every send is DELIVERED, and no peer goes down.
 * Seed 1 runs twice and must give the same trace hash: the core is deterministic under the sim.
 *
 *	A (10.0.0.2) -- NAT 198.51.100.1 (symmetric, sequential ports) -- B (192.0.2.1)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/node_harness.h"
#include "tests/sim/sim.h"

enum { N = 4, LEN = 1 << 20, KLASS = 300 };

typedef struct rw {
	sim *s;
	sim_nat *nat;
	ncnode a, b;
	unsigned at_a[N], at_b[N], bad, delivered_a, delivered_b, failed, path_changes;
} rw;

static uint8_t pat(unsigned i, size_t k) { return (uint8_t)(i * 31 + k * 7 + (k >> 11)); }

static void check(rw *w, const konce_message *m, unsigned *got)
{
	if (m->len != LEN || m->data[0] >= N) {
		w->bad++;
		return;
	}
	unsigned i = m->data[0];
	got[i]++;
	for (size_t k = 1; k < m->len; k++)
		if (m->data[k] != pat(i, k)) {
			w->bad++;
			return;
		}
}

static void at_a(void *ctx, konce_node *node, const konce_message *m)
{
	rw *w = ctx;
	(void)node;
	check(w, m, w->at_a);
}

static void at_b(void *ctx, konce_node *node, const konce_message *m)
{
	rw *w = ctx;
	(void)node;
	check(w, m, w->at_b);
}

static void from_a(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	rw *w = ctx;
	(void)reason, (void)data, (void)len;
	w->delivered_a += outcome == KONCE_OUTCOME_DELIVERED;
	w->failed += outcome != KONCE_OUTCOME_DELIVERED;
}

static void from_b(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	rw *w = ctx;
	(void)reason, (void)data, (void)len;
	w->delivered_b += outcome == KONCE_OUTCOME_DELIVERED;
	w->failed += outcome != KONCE_OUTCOME_DELIVERED;
}

static void b_peer(ncnode *n, int event, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr, uint64_t now)
{
	rw *w = n->user;
	(void)pk, (void)addr, (void)now;
	w->path_changes += event == KONCE_PEER_PATH;
}

static void rebind(void *ctx, uint64_t now)
{
	(void)now;
	sim_nat_flush(((rw *)ctx)->nat);
}

static bool busy(void *ctx)
{
	rw *w = ctx;
	return w->delivered_a < N || w->delivered_b < N / 2;
}

/* One seed of the scenario; returns the run's trace hash. */
static uint64_t roam_run(uint64_t seed)
{
	static uint8_t buf[LEN];
	{
		static rw w;
		memset(&w, 0, sizeof w);
		w.s = sim_new(seed);
		sim_nat_cfg nc = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
		w.nat = sim_nat_add(w.s, "198.51.100.1", &nc);
		assert_int_equal(ncnode_init(&w.a, w.s, w.nat, "10.0.0.2", 40000, NULL), 0);
		assert_int_equal(ncnode_init(&w.b, w.s, NULL, "192.0.2.1", 7807, NULL), 0);
		w.a.user = w.b.user = &w;
		w.b.on_peer = b_peer;
		assert_int_equal(konce_nodecore_handle(w.a.core, KLASS, at_a, &w), 0);
		assert_int_equal(konce_nodecore_handle(w.b.core, KLASS, at_b, &w), 0);
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 2 * SIM_MS, .loss = 0.01,
				     .rate = 2000000, .queue_bytes = 200000};
		sim_link_default(w.s, &link);
		ncnode_learn(&w.a, &w.b);
		/* a first message opens the session; B then reaches A by key over it */
		assert_int_equal(ncnode_send(&w.a, ncnode_pk(&w.b), KONCE_CLASS_ECHO, NULL, 0, NULL, from_a, &w, NULL), 0);
		sim_run_for(w.s, 1 * SIM_SEC);
		SIM_ASSERT_EQ(w.s, w.b.peers_up, 1);
		SIM_ASSERT_EQ(w.s, w.delivered_a, 1);
		w.delivered_a = 0;
		for (unsigned i = 0; i < N; i++) {
			buf[0] = (uint8_t)i;
			for (size_t k = 1; k < LEN; k++)
				buf[k] = pat(i, k);
			SIM_ASSERT_EQ(w.s, ncnode_send(&w.a, ncnode_pk(&w.b), KLASS, buf, LEN, NULL, from_a, &w, NULL), 0);
			if (i < N / 2)
				SIM_ASSERT_EQ(w.s, ncnode_send(&w.b, ncnode_pk(&w.a), KLASS, buf, LEN, NULL, from_b, &w, NULL), 0);
		}
		sim_at(w.s, sim_now(w.s) + 700 * SIM_MS, rebind, &w);
		sim_at(w.s, sim_now(w.s) + 1900 * SIM_MS, rebind, &w);
		SIM_ASSERT_EQ(w.s, sim_run_while(w.s, busy, &w, sim_now(w.s) + 120 * SIM_SEC), 0);
		SIM_ASSERT_EQ(w.s, w.failed + w.a.peers_down + w.b.peers_down + w.bad, 0);
		SIM_ASSERT(w.s, w.path_changes >= 2);
		for (unsigned i = 0; i < N; i++) {
			SIM_ASSERT_EQ(w.s, w.at_b[i], 1);
			SIM_ASSERT_EQ(w.s, w.at_a[i], i < N / 2 ? 1 : 0);
		}
		printf("  seed %llu: %u path changes at B, %llu datagrams dropped at the NAT without a mapping\n",
		       (unsigned long long)seed, w.path_changes,
		       (unsigned long long)sim_nat_counters_get(w.nat)->dropped_nomap);
		uint64_t hash = sim_trace_hash(w.s);
		ncnode_free(&w.a);
		ncnode_free(&w.b);
		sim_free(w.s);
		return hash;
	}
}

static void test_messages_survive_rebinding(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		uint64_t h = roam_run(seed);
		/* the node core reads no clock and no randomness of its own: a seed replays exactly */
		if (seed == 1 && roam_run(seed) != h) {
			sim_report_failure(seed, "the same seed gave another trace", __FILE__, __LINE__);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages_survive_rebinding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
