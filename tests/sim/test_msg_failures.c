/* test_msg_failures.c - every way a message can fail gives its send exactly one FAILED outcome with
 * the reason the application is told (konce.h), on the shipping node core (node/core/nodecore.h,
 * driven by tests/sim/node_harness.c), and nothing is left behind (the hosts' counting konce_env:
 * every allocation is freed with the node).
 *   - connect timeout: a message to an address where nobody listens fails UNREACHABLE, when the
 *     endpoint's handshake gives up (a long node deadline) or at the node's own connect deadline;
 *   - the peer vanishes mid-transfer (its link goes dead both ways): the 1 MiB message fails
 *     TIMED_OUT after msg_timeout_ms without ack progress and the peer goes DOWN; the receiver,
 *     holding a partial message, closes on its idle timeout and its handler never saw it;
 *   - too large: the receiver takes at most 64 KiB, a 1 MiB message fails TOO_LARGE (the peer's
 *     REFUSE), and a small message sent after it is delivered (nothing stalls);
 *   - the node closes: what is still queued fails LOCAL_CLOSE, the peer sees the session go DOWN,
 *     and sends the node refuses at once (too large for its endpoint) get no outcome at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "tests/sim/node_harness.h"

enum { KLASS = 300 };

typedef struct rec {
	unsigned calls, failed, delivered;
	int reason;
	uint64_t t_done;
	sim *s;
} rec;

typedef struct rx {
	unsigned messages;
	size_t last_len;
} rx;

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	rec *r = ctx;
	(void)data;
	(void)len;
	r->calls++;
	r->failed += outcome == KONCE_OUTCOME_FAILED;
	r->delivered += outcome == KONCE_OUTCOME_DELIVERED;
	r->reason = reason;
	r->t_done = sim_now(r->s);
}

static void on_message(void *ctx, konce_node *node, const konce_message *m)
{
	rx *x = ctx;
	(void)node;
	x->messages++;
	x->last_len = m->len;
}

static bool waiting(void *ctx) { return ((rec *)ctx)->calls == 0; }

/* A (10.0.0.1) and B (192.0.2.1), B's handler for KLASS counting into *x, A knowing B's address. */
static void pair(sim *s, ncnode *a, ncnode *b, const sim_link_cfg *link, const konce_nodecore_config *ca,
		 const konce_nodecore_config *cb, rx *x)
{
	assert_int_equal(ncnode_init(a, s, NULL, "10.0.0.1", 40000, ca), 0);
	assert_int_equal(ncnode_init(b, s, NULL, "192.0.2.1", 7807, cb), 0);
	sim_link_set_both(s, a->h, b->h, link);
	assert_int_equal(konce_nodecore_handle(b->core, KLASS, on_message, x), 0);
	ncnode_learn(a, b);
}

static void free_pair(sim *s, ncnode *a, ncnode *b)
{
	const konce_env *ea = sim_host_env(a->h), *eb = sim_host_env(b->h);
	ncnode_free(a);
	ncnode_free(b);
	SIM_ASSERT_EQ(s, sim_env_live(ea), 0);
	SIM_ASSERT_EQ(s, sim_env_live(eb), 0);
}

static void test_connect_timeout(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static ncnode a;
		SIM_ASSERT_EQ(s, ncnode_init(&a, s, NULL, "10.0.0.1", 40000, NULL), 0);
		sim_host *nobody = sim_host_add(s, "192.0.2.9", NULL, NULL); /* no port bound */
		SIM_ASSERT(s, nobody != NULL);
		konce_addr to = sim_host_addr(nobody, 7807);
		char hint[KONCE_ADDR_STRLEN];
		const konce_env *env = sim_host_env(a.h);
		static uint8_t msg[5000];
		uint8_t pk[KONCE_KEY_BYTES] = {9}, pk2[KONCE_KEY_BYTES] = {10};
		/* the endpoint's handshake retries give up first */
		konce_send_opts o = {.addr_hint = konce_addr_str(&to, hint), .connect_timeout_ms = 120000};
		rec r = {.s = s}, r2 = {.s = s};
		uint64_t handle;
		SIM_ASSERT_EQ(s, ncnode_send(&a, pk, KLASS, msg, sizeof msg, &o, on_outcome, &r, &handle), 0);
		SIM_ASSERT(s, konce_nodecore_outcome_eta(a.core, handle, sim_now(s)) >= 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, waiting, &r, sim_now(s) + 120 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, r.calls, 1);
		SIM_ASSERT_EQ(s, r.failed, 1);
		SIM_ASSERT_EQ(s, r.reason, KONCE_REASON_UNREACHABLE);
		SIM_ASSERT(s, r.t_done < 120 * SIM_SEC);
		SIM_ASSERT_EQ(s, konce_nodecore_outcome_eta(a.core, handle, sim_now(s)), -ENOENT);
		SIM_ASSERT_EQ(s, konce_nodecore_npeers(a.core), 0);
		/* the node's own deadline first: 2 s after the send, to the microsecond */
		o.connect_timeout_ms = 2000;
		uint64_t t0 = sim_now(s);
		SIM_ASSERT_EQ(s, ncnode_send(&a, pk2, KLASS, msg, 10, &o, on_outcome, &r2, NULL), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, waiting, &r2, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, r2.reason, KONCE_REASON_UNREACHABLE);
		SIM_ASSERT_EQ(s, r2.t_done, t0 + 2 * SIM_SEC);
		sim_run_for(s, 10 * SIM_SEC);
		SIM_ASSERT_EQ(s, r.calls + r2.calls, 2); /* exactly once each */
		ncnode_free(&a);
		SIM_ASSERT_EQ(s, sim_env_live(env), 0);
		sim_free(s);
	}
}

typedef struct vanish_ctx {
	sim *s;
	ncnode *a, *b;
} vanish_ctx;

static void vanish(void *ctx, uint64_t now)
{
	vanish_ctx *v = ctx;
	(void)now;
	sim_link_cfg dead = {.delay_us = 20 * SIM_MS, .loss = 1.0};
	sim_link_set_both(v->s, v->a->h, v->b->h, &dead);
}

static bool b_up(void *ctx) { return ((ncnode *)ctx)->peers_down == 0; }

static void test_peer_vanishes(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static ncnode a, b;
		rx x = {0};
		konce_nodecore_config ca = {.ep = {.msg_timeout_ms = 5000}}, cb = {.ep = {.idle_timeout_ms = 20000}};
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .rate = 1000000, .queue_bytes = 100000};
		pair(s, &a, &b, &link, &ca, &cb, &x);
		static uint8_t big[1 << 20];
		rec r = {.s = s};
		SIM_ASSERT_EQ(s, ncnode_send(&a, ncnode_pk(&b), KLASS, big, sizeof big, NULL, on_outcome, &r, NULL), 0);
		uint64_t t_vanish = sim_now(s) + 300 * SIM_MS;
		vanish_ctx v = {s, &a, &b};
		sim_at(s, t_vanish, vanish, &v);
		SIM_ASSERT_EQ(s, sim_run_while(s, waiting, &r, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, r.failed, 1);
		SIM_ASSERT_EQ(s, r.reason, KONCE_REASON_TIMED_OUT);
		SIM_ASSERT(s, r.t_done >= t_vanish + 5 * SIM_SEC && r.t_done <= t_vanish + 7 * SIM_SEC);
		SIM_ASSERT_EQ(s, a.peers_up, 1);
		SIM_ASSERT_EQ(s, a.peers_down, 1); /* the session closed with the message */
		SIM_ASSERT_EQ(s, konce_nodecore_npeers(a.core), 0);
		/* B held part of the message: its session idles out */
		SIM_ASSERT_EQ(s, sim_run_while(s, b_up, &b, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, x.messages, 0);
		SIM_ASSERT_EQ(s, konce_nodecore_npeers(b.core), 0);
		SIM_ASSERT_EQ(s, r.calls, 1);
		free_pair(s, &a, &b);
		sim_free(s);
	}
}

static bool two_done(void *ctx) { return ((rec *)ctx)[0].calls + ((rec *)ctx)[1].calls < 2; }

static void test_too_large(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 10) {
		sim *s = sim_new(seed);
		static ncnode a, b;
		rx x = {0};
		konce_nodecore_config cb = {.ep = {.max_message = 64 * 1024}};
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 2 * SIM_MS, .loss = 0.02};
		pair(s, &a, &b, &link, NULL, &cb, &x);
		static uint8_t big[1 << 20];
		rec warm = {.s = s}, r[2] = {{.s = s}, {.s = s}};
		SIM_ASSERT_EQ(s, ncnode_send(&a, ncnode_pk(&b), KLASS, "warm", 4, NULL, on_outcome, &warm, NULL), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, waiting, &warm, sim_now(s) + 10 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, warm.delivered, 1);
		SIM_ASSERT_EQ(s, ncnode_send(&a, ncnode_pk(&b), KLASS, big, sizeof big, NULL, on_outcome, &r[0], NULL), 0);
		SIM_ASSERT_EQ(s, ncnode_send(&a, ncnode_pk(&b), KLASS, "still here", 10, NULL, on_outcome, &r[1], NULL), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, two_done, r, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, r[0].failed, 1);
		SIM_ASSERT_EQ(s, r[0].reason, KONCE_REASON_TOO_LARGE);
		SIM_ASSERT_EQ(s, r[1].delivered, 1);
		SIM_ASSERT_EQ(s, x.messages, 2);
		SIM_ASSERT_EQ(s, x.last_len, 10);
		sim_run_for(s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(s, r[0].calls + r[1].calls, 2);
		free_pair(s, &a, &b);
		sim_free(s);
	}
}

static void test_local_close(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static ncnode a, b;
		rx x = {0};
		konce_nodecore_config ca = {.ep = {.max_message = 100000}};
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .rate = 100000};
		pair(s, &a, &b, &link, &ca, NULL, &x);
		static uint8_t m[100000];
		rec r[3] = {{.s = s}, {.s = s}, {.s = s}}, refused = {.s = s};
		for (int i = 0; i < 3; i++)
			SIM_ASSERT_EQ(s, ncnode_send(&a, ncnode_pk(&b), KLASS, m, 90000, NULL, on_outcome, &r[i], NULL), 0);
		/* larger than A's endpoint takes (the header counts): refused, no outcome ever */
		SIM_ASSERT_EQ(s, ncnode_send(&a, ncnode_pk(&b), KLASS, m, 100000, NULL, on_outcome, &refused, NULL),
			      -EMSGSIZE);
		sim_run_for(s, 200 * SIM_MS);
		SIM_ASSERT_EQ(s, a.peers_up, 1);
		konce_nodecore_close_all(a.core, sim_now(s));
		ncnode_flush(&a, sim_now(s));
		for (int i = 0; i < 3; i++) {
			SIM_ASSERT_EQ(s, r[i].failed, 1);
			SIM_ASSERT_EQ(s, r[i].reason, KONCE_REASON_LOCAL_CLOSE);
		}
		sim_run_for(s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(s, b.peers_down, 1); /* B got the CLOSE */
		SIM_ASSERT_EQ(s, refused.calls, 0);
		SIM_ASSERT_EQ(s, x.messages, 0);
		free_pair(s, &a, &b);
		sim_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_peer_vanishes),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_local_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
