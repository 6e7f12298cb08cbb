/* test_msg_roam.c - reliable messages across NAT rebindings: A, behind a NAT, sends 1 MiB
 * messages to B and receives some from B while the NAT forgets its mappings twice (every
 * mapping gets a new port).  Until B has validated A's new address it keeps sending to the old
 * one, which the NAT no longer maps: those packets are lost, and loss recovery sends their data
 * again once PATH_CHANGED moved the session.  Every message still arrives exactly once and
 * intact, both ways, and nothing fails.
 *
 *	A (10.0.0.2) -- NAT 198.51.100.1 (symmetric, sequential ports) -- B (192.0.2.1)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum { N = 4, LEN = 1 << 20 };

typedef struct rw {
	sim *s;
	sim_nat *nat;
	tnode a, b;
	uint32_t ca, cb;
	unsigned at_a[N], at_b[N], bad, delivered_a, delivered_b, failed, closed, path_changes;
} rw;

static uint8_t pat(unsigned i, size_t k) { return (uint8_t)(i * 31 + k * 7 + (k >> 11)); }

static void check(rw *w, const konce_ep_event *ev, unsigned *got)
{
	if (ev->len != LEN || ev->data[0] >= N) {
		w->bad++;
		return;
	}
	unsigned i = ev->data[0];
	got[i]++;
	for (size_t k = 1; k < ev->len; k++)
		if (ev->data[k] != pat(i, k)) {
			w->bad++;
			return;
		}
}

static void a_ev(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	rw *w = n->user;
	(void)now;
	if (ev->type == KONCE_EV_MESSAGE)
		check(w, ev, w->at_a);
	w->delivered_a += ev->type == KONCE_EV_MSG_DELIVERED;
	w->failed += ev->type == KONCE_EV_MSG_FAILED;
	w->closed += ev->type == KONCE_EV_CLOSED;
}

static void b_ev(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	rw *w = n->user;
	(void)now;
	if (ev->type == KONCE_EV_ESTABLISHED)
		w->cb = ev->conn;
	if (ev->type == KONCE_EV_MESSAGE)
		check(w, ev, w->at_b);
	w->delivered_b += ev->type == KONCE_EV_MSG_DELIVERED;
	w->failed += ev->type == KONCE_EV_MSG_FAILED;
	w->closed += ev->type == KONCE_EV_CLOSED;
	w->path_changes += ev->type == KONCE_EV_PATH_CHANGED;
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

static void test_messages_survive_rebinding(void **state)
{
	(void)state;
	static uint8_t buf[LEN];
	SIM_FOR_EACH_SEED(seed, 5) {
		static rw w;
		memset(&w, 0, sizeof w);
		w.s = sim_new(seed);
		sim_nat_cfg nc = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
		w.nat = sim_nat_add(w.s, "198.51.100.1", &nc);
		assert_int_equal(tnode_init(&w.a, w.s, w.nat, "10.0.0.2", 40000, NULL), 0);
		assert_int_equal(tnode_init(&w.b, w.s, NULL, "192.0.2.1", 7807, NULL), 0);
		w.a.user = w.b.user = &w;
		w.a.on_event = a_ev;
		w.b.on_event = b_ev;
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 2 * SIM_MS, .loss = 0.01,
				     .rate = 2000000, .queue_bytes = 200000};
		sim_link_default(w.s, &link);
		konce_addr to = tnode_addr(&w.b);
		assert_int_equal(tnode_connect(&w.a, tnode_pk(&w.b), &to, NULL, 0, &w.ca), 0);
		sim_run_for(w.s, 1 * SIM_SEC);
		SIM_ASSERT(w.s, w.cb != 0);
		uint64_t id;
		for (unsigned i = 0; i < N; i++) {
			buf[0] = (uint8_t)i;
			for (size_t k = 1; k < LEN; k++)
				buf[k] = pat(i, k);
			SIM_ASSERT_EQ(w.s, konce_ep_msg_send(w.a.ep, w.ca, buf, LEN, 0, 0, sim_now(w.s), &id), 0);
			if (i < N / 2)
				SIM_ASSERT_EQ(w.s, konce_ep_msg_send(w.b.ep, w.cb, buf, LEN, 0, 0, sim_now(w.s), &id), 0);
		}
		tnode_flush(&w.a, sim_now(w.s));
		tnode_flush(&w.b, sim_now(w.s));
		sim_at(w.s, sim_now(w.s) + 700 * SIM_MS, rebind, &w);
		sim_at(w.s, sim_now(w.s) + 1900 * SIM_MS, rebind, &w);
		SIM_ASSERT_EQ(w.s, sim_run_while(w.s, busy, &w, sim_now(w.s) + 120 * SIM_SEC), 0);
		SIM_ASSERT_EQ(w.s, w.failed + w.closed + w.bad, 0);
		SIM_ASSERT(w.s, w.path_changes >= 2);
		for (unsigned i = 0; i < N; i++) {
			SIM_ASSERT_EQ(w.s, w.at_b[i], 1);
			SIM_ASSERT_EQ(w.s, w.at_a[i], i < N / 2 ? 1 : 0);
		}
		printf("  seed %llu: %u path changes at B, %llu datagrams dropped at the NAT without a mapping\n",
		       (unsigned long long)seed, w.path_changes,
		       (unsigned long long)sim_nat_counters_get(w.nat)->dropped_nomap);
		tnode_free(&w.a);
		tnode_free(&w.b);
		sim_free(w.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages_survive_rebinding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
