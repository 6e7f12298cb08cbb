/* test_msg_fairness.c - congestion classes of whole endpoints on one simulated bottleneck.
 *
 * Two sessions from host A to host B share the directed link A -> B: 1.25 MB/s (10 Mbit/s) with a
 * 125 kB drop-tail queue (100 ms), 20 ms each way with +-0.5 ms of jitter (so seeds differ).  Each flow keeps 16 messages of 64 KiB
 * queued and queues another whenever one is delivered.  Goodput is message bytes handed to B's
 * application between 15 s (after slow start) and 75 s of virtual time.
 *   - two default-class flows: Jain's fairness index >= 0.9;
 *   - one background-class (LEDBAT) flow alone: >= 80% of the link;
 *   - a default flow beside a background flow keeps >= 90% of what it gets alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum { MSG = 64 * 1024, DEPTH = 16, RATE = 1250000 };
#define WARM (15 * SIM_SEC)
#define END (75 * SIM_SEC)

typedef struct flow {
	uint32_t ca, cb;      /* conn at A, at B */
	unsigned klass;
	bool up;
	uint64_t bytes;       /* delivered to B's application within [WARM, END] */
	unsigned queued;
} flow;

typedef struct bed {
	sim *s;
	tnode a, b;
	flow f[2];
	int nf;
	uint64_t t0;
	unsigned failed;
} bed;

static uint8_t payload[MSG];

static void fill(bed *w, flow *f, uint64_t now)
{
	while (f->queued < DEPTH) {
		uint64_t id;
		if (konce_ep_msg_send(w->a.ep, f->ca, payload, MSG, f->klass, 0, now, &id))
			return;
		f->queued++;
	}
}

static void a_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	bed *w = n->user;
	for (int i = 0; i < w->nf; i++) {
		flow *f = &w->f[i];
		if (ev->conn != f->ca)
			continue;
		if (ev->type == KONCE_EV_ESTABLISHED) {
			f->up = true;
			fill(w, f, now);
		} else if (ev->type == KONCE_EV_MSG_DELIVERED || ev->type == KONCE_EV_MSG_FAILED) {
			if (ev->type == KONCE_EV_MSG_FAILED) {
				w->failed++;
				fprintf(stderr, "flow %d (class %u): message failed at %.1f s, reason %#x\n", i, f->klass,
					(now - w->t0) / 1e6, ev->reason);
			}
			f->queued--;
			fill(w, f, now);
		}
	}
}

static void b_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	bed *w = n->user;
	if (ev->type != KONCE_EV_MESSAGE || now < w->t0 + WARM || now > w->t0 + END)
		return;
	/* B's conns are in connect order: match by the order ESTABLISHED came in */
	for (int i = 0; i < w->nf; i++)
		if (w->f[i].cb == ev->conn)
			w->f[i].bytes += ev->len;
}

static void b_est(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	bed *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED) {
		for (int i = 0; i < w->nf; i++)
			if (!w->f[i].cb) {
				w->f[i].cb = ev->conn;
				break;
			}
		return;
	}
	b_event(n, ev, now);
}

/* Runs flows with the given classes (1 or 2) and returns each one's goodput in bytes/s. */
static void run(uint64_t seed, int nf, const unsigned *klass, double *goodput)
{
	static bed w;
	memset(&w, 0, sizeof w);
	w.s = sim_new(seed);
	assert_int_equal(tnode_init(&w.a, w.s, NULL, "10.0.0.1", 40000, NULL), 0);
	assert_int_equal(tnode_init(&w.b, w.s, NULL, "192.0.2.1", 7807, NULL), 0);
	w.a.user = w.b.user = &w;
	w.a.on_event = a_event;
	w.b.on_event = b_est;
	sim_link_cfg fwd = {.delay_us = 20 * SIM_MS, .jitter_us = 500, .rate = RATE, .queue_bytes = RATE / 10};
	sim_link_cfg rev = {.delay_us = 20 * SIM_MS, .jitter_us = 500, .rate = RATE, .queue_bytes = RATE / 10};
	sim_link_set(w.s, w.a.h, w.b.h, &fwd);
	sim_link_set(w.s, w.b.h, w.a.h, &rev);
	w.nf = nf;
	w.t0 = sim_now(w.s);
	konce_addr to = tnode_addr(&w.b);
	for (int i = 0; i < nf; i++) {
		w.f[i].klass = klass[i];
		/* one after the other, so B's ESTABLISHED order matches */
		assert_int_equal(tnode_connect(&w.a, tnode_pk(&w.b), &to, NULL, 0, &w.f[i].ca), 0);
		sim_run_for(w.s, 500 * SIM_MS);
		SIM_ASSERT(w.s, w.f[i].up && w.f[i].cb);
	}
	sim_run_until(w.s, w.t0 + END);
	SIM_ASSERT_EQ(w.s, w.failed, 0);
	for (int i = 0; i < nf; i++)
		goodput[i] = (double)w.f[i].bytes / ((END - WARM) / 1e6);
	tnode_free(&w.a);
	tnode_free(&w.b);
	sim_free(w.s);
}

static void test_two_default_flows_fair(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		unsigned k[2] = {KONCE_MSG_CLASS_DEFAULT, KONCE_MSG_CLASS_DEFAULT};
		double g[2];
		run(seed, 2, k, g);
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
		run(seed, 1, k, g);
		printf("  seed %llu: background flow alone %.0f kB/s = %.1f%% of the link\n", (unsigned long long)seed,
		       g[0] / 1e3, 100 * g[0] / RATE);
		if (g[0] < 0.8 * RATE)
			sim_report_failure(seed, "background alone >= 80%", __FILE__, __LINE__);
		assert_true(g[0] >= 0.8 * RATE);
	}
}

static void test_background_yields(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		unsigned k1[1] = {KONCE_MSG_CLASS_DEFAULT};
		unsigned k2[2] = {KONCE_MSG_CLASS_BACKGROUND, KONCE_MSG_CLASS_DEFAULT};
		double alone[1], both[2];
		run(seed, 1, k1, alone);
		run(seed, 2, k2, both);
		printf("  seed %llu: default alone %.0f kB/s; beside background %.0f kB/s (%.1f%%), background %.0f kB/s\n",
		       (unsigned long long)seed, alone[0] / 1e3, both[1] / 1e3, 100 * both[1] / alone[0], both[0] / 1e3);
		if (both[1] < 0.9 * alone[0])
			sim_report_failure(seed, "default keeps >= 90% beside background", __FILE__, __LINE__);
		assert_true(both[1] >= 0.9 * alone[0]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_default_flows_fair),
		cmocka_unit_test(test_background_alone),
		cmocka_unit_test(test_background_yields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
