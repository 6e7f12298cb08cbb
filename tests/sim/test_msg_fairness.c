/* test_msg_fairness.c - congestion classes on one simulated bottleneck, on the shipping node core
 * (node/core/nodecore.h, driven by tests/sim/node_harness.c).
 *
 * Two sender nodes A1 and A2 each send to node B by key; B's downlink is the shared bottleneck:
 * 1.25 MB/s (10 Mbit/s) with a 125 kB drop-tail queue (100 ms), 20 ms each way with +-0.5 ms of
 * jitter (so seeds differ).  (A node has one session per peer key, so two flows are two senders.)
 * Each flow keeps 16 messages of 64 KiB queued and sends another whenever one is DELIVERED; the
 * background flow sends with konce_send_opts.background.  Goodput is message bytes handed to B's
 * handler between 15 s (after slow start) and 75 s of virtual time.
 *   - two default-class flows: Jain's fairness index >= 0.9;
 *   - one background-class (LEDBAT) flow alone: >= 80% of the link;
 *   - a default flow beside a background flow keeps >= 90% of what it gets alone;
 *   - the same two checks with NewReno as the default class's controller (congestion = newreno);
 *   - two background flows, the second starting 10 s later: Jain >= 0.8, together >= 80%.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/cc.h"
#include "tests/sim/node_harness.h"
#include "tests/sim/sim.h"

enum { MSG = 64 * 1024, DEPTH = 16, RATE = 1250000, KLASS = 300 };
#define WARM (15 * SIM_SEC)
#define END (75 * SIM_SEC)

typedef struct bed bed;

typedef struct flow {
	bed *w;
	ncnode a;             /* the sender */
	unsigned klass;       /* KONCE_MSG_CLASS_DEFAULT or KONCE_MSG_CLASS_BACKGROUND */
	uint64_t bytes;       /* delivered to B's handler within [WARM, END] */
	unsigned queued;
} flow;

struct bed {
	sim *s;
	ncnode b;
	flow f[2];
	int nf;
	uint64_t t0;
	unsigned failed;
	bool stopping; /* the nodes are being freed: their queued messages fail LOCAL_CLOSE */
};

static uint8_t payload[MSG];

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len);

static void fill(flow *f)
{
	konce_send_opts o = {.background = f->klass == KONCE_MSG_CLASS_BACKGROUND};
	while (f->queued < DEPTH) {
		if (ncnode_send(&f->a, ncnode_pk(&f->w->b), KLASS, payload, MSG, &o, on_outcome, f, NULL))
			return;
		f->queued++;
	}
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	flow *f = ctx;
	(void)data, (void)len;
	f->queued--;
	if (f->w->stopping)
		return;
	if (outcome != KONCE_OUTCOME_DELIVERED) {
		f->w->failed++;
		fprintf(stderr, "flow %d (class %u): message failed at %.1f s, reason %d\n", (int)(f - f->w->f),
			f->klass, (sim_now(f->w->s) - f->w->t0) / 1e6, reason);
	}
	fill(f);
}

static void at_b(void *ctx, konce_node *node, const konce_message *m)
{
	bed *w = ctx;
	(void)node;
	uint64_t now = sim_now(w->s);
	if (now < w->t0 + WARM || now > w->t0 + END)
		return;
	for (int i = 0; i < w->nf; i++)
		if (!memcmp(m->from, ncnode_pk(&w->f[i].a), KONCE_KEY_BYTES))
			w->f[i].bytes += m->len;
}

/* Runs flows with the given classes (1 or 2) and returns each one's goodput in bytes/s. */
static void run_staggered(uint64_t seed, int nf, const unsigned *klass, double *goodput, const konce_cc_ops *cc,
			  uint64_t stagger)
{
	konce_nodecore_config cfg = {.ep = {.cc = cc}}; /* the daemon's `congestion` setting */
	static bed w;
	memset(&w, 0, sizeof w);
	w.s = sim_new(seed);
	assert_int_equal(ncnode_init(&w.b, w.s, NULL, "192.0.2.1", 7807, NULL), 0);
	assert_int_equal(konce_nodecore_handle(w.b.core, KLASS, at_b, &w), 0);
	sim_host_set_downlink(w.b.h, RATE, RATE / 10);
	sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 500};
	sim_link_default(w.s, &link);
	w.nf = nf;
	w.t0 = sim_now(w.s);
	for (int i = 0; i < nf; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
		flow *f = &w.f[i];
		f->w = &w;
		f->klass = klass[i];
		assert_int_equal(ncnode_init(&f->a, w.s, NULL, ip, 40000, &cfg), 0);
		ncnode_learn(&f->a, &w.b);
		fill(f);
		sim_run_for(w.s, 500 * SIM_MS);
		SIM_ASSERT_EQ(w.s, f->a.peers_up, 1);
		if (i + 1 < nf && stagger > 500 * SIM_MS)
			sim_run_for(w.s, stagger - 500 * SIM_MS);
	}
	sim_run_until(w.s, w.t0 + END);
	SIM_ASSERT_EQ(w.s, w.failed, 0);
	for (int i = 0; i < nf; i++)
		goodput[i] = (double)w.f[i].bytes / ((END - WARM) / 1e6);
	w.stopping = true;
	for (int i = 0; i < nf; i++)
		ncnode_free(&w.f[i].a);
	ncnode_free(&w.b);
	sim_free(w.s);
}

static void run(uint64_t seed, int nf, const unsigned *klass, double *goodput, const konce_cc_ops *cc)
{
	run_staggered(seed, nf, klass, goodput, cc, 0);
}

static void test_two_default_flows_fair(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		unsigned k[2] = {KONCE_MSG_CLASS_DEFAULT, KONCE_MSG_CLASS_DEFAULT};
		double g[2];
		run(seed, 2, k, g, NULL);
		double jain = (g[0] + g[1]) * (g[0] + g[1]) / (2 * (g[0] * g[0] + g[1] * g[1]));
		printf("  seed %llu: two default flows %.0f + %.0f kB/s (%.0f%% of the link), Jain %.3f\n",
		       (unsigned long long)seed, g[0] / 1e3, g[1] / 1e3, 100 * (g[0] + g[1]) / RATE, jain);
		if (jain < 0.9)
			sim_report_failure(seed, "Jain index >= 0.9", __FILE__, __LINE__);
		assert_true(jain >= 0.9);
	}
}

static void test_background_alone(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		unsigned k[1] = {KONCE_MSG_CLASS_BACKGROUND};
		double g[1];
		run(seed, 1, k, g, NULL);
		printf("  seed %llu: background flow alone %.0f kB/s = %.1f%% of the link\n", (unsigned long long)seed,
		       g[0] / 1e3, 100 * g[0] / RATE);
		if (g[0] < 0.8 * RATE)
			sim_report_failure(seed, "background alone >= 80%", __FILE__, __LINE__);
		assert_true(g[0] >= 0.8 * RATE);
	}
}

static void background_yields(const konce_cc_ops *cc, const char *name)
{
	SIM_FOR_EACH_SEED(seed, 3) {
		unsigned k1[1] = {KONCE_MSG_CLASS_DEFAULT};
		unsigned k2[2] = {KONCE_MSG_CLASS_BACKGROUND, KONCE_MSG_CLASS_DEFAULT};
		double alone[1], both[2];
		run(seed, 1, k1, alone, cc);
		run(seed, 2, k2, both, cc);
		printf("  seed %llu: default (%s) alone %.0f kB/s; beside background %.0f kB/s (%.1f%%), background %.0f kB/s\n",
		       (unsigned long long)seed, name, alone[0] / 1e3, both[1] / 1e3, 100 * both[1] / alone[0], both[0] / 1e3);
		if (both[1] < 0.9 * alone[0])
			sim_report_failure(seed, "default keeps >= 90% beside background", __FILE__, __LINE__);
		assert_true(both[1] >= 0.9 * alone[0]);
	}
}

static void test_background_yields(void **state)
{
	(void)state;
	background_yields(NULL, "BBR");
}

/* congestion = newreno: two NewReno flows share fairly, and NewReno keeps its share beside LEDBAT. */
static void test_newreno(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 2) {
		unsigned k[2] = {KONCE_MSG_CLASS_DEFAULT, KONCE_MSG_CLASS_DEFAULT};
		double g[2];
		run(seed, 2, k, g, &konce_cc_newreno);
		double jain = (g[0] + g[1]) * (g[0] + g[1]) / (2 * (g[0] * g[0] + g[1] * g[1]));
		printf("  seed %llu: two NewReno flows %.0f + %.0f kB/s (%.0f%% of the link), Jain %.3f\n",
		       (unsigned long long)seed, g[0] / 1e3, g[1] / 1e3, 100 * (g[0] + g[1]) / RATE, jain);
		if (jain < 0.9)
			sim_report_failure(seed, "Jain index >= 0.9", __FILE__, __LINE__);
		assert_true(jain >= 0.9);
	}
	background_yields(&konce_cc_newreno, "NewReno");
}

/* Two background flows, the second starting 10 s after the first: LEDBAT's latecomer problem is
 * bounded (Jain >= 0.8) and together they still fill the link (>= 80%). */
static void test_two_background_flows(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 2) {
		unsigned k[2] = {KONCE_MSG_CLASS_BACKGROUND, KONCE_MSG_CLASS_BACKGROUND};
		double g[2];
		run_staggered(seed, 2, k, g, NULL, 10 * SIM_SEC);
		double jain = (g[0] + g[1]) * (g[0] + g[1]) / (2 * (g[0] * g[0] + g[1] * g[1]));
		printf("  seed %llu: two background flows (10 s apart) %.0f + %.0f kB/s (%.0f%% of the link), Jain %.3f\n",
		       (unsigned long long)seed, g[0] / 1e3, g[1] / 1e3, 100 * (g[0] + g[1]) / RATE, jain);
		if (jain < 0.8 || g[0] + g[1] < 0.8 * RATE)
			sim_report_failure(seed, "Jain >= 0.8 and >= 80% of the link", __FILE__, __LINE__);
		assert_true(jain >= 0.8 && g[0] + g[1] >= 0.8 * RATE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_default_flows_fair),
		cmocka_unit_test(test_background_alone),
		cmocka_unit_test(test_background_yields),
		cmocka_unit_test(test_newreno),
		cmocka_unit_test(test_two_background_flows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
