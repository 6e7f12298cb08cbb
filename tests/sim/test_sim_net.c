/* test_sim_net.c - the simulator's clock and delivery, env, reproducibility and guards.  Links,
 * impairments and the CPU model are in test_sim_links.c.
 *
 * The hosts here are tiny recorders written for the test (sim_rec.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/sim/sim_rec.h"

/* ---- clock and delivery -------------------------------------------------------------------- */

static void test_delay_exact(void **state)
{
	sim *s = sim_new(1);
	rec *a = rec_new(s, "10.0.0.1", 1000), *b = rec_new(s, "10.0.0.2", 2000);
	b->echo = true;
	sim_link_cfg ab = {.delay_us = 25000}, ba = {.delay_us = 7000};
	sim_link_set(s, a->h, b->h, &ab);
	sim_link_set(s, b->h, a->h, &ba);
	konce_addr to = sim_host_addr(b->h, 2000);
	send_seq(s, a, 1000, &to, 1, 100);
	sim_run_until(s, 1000);
	send_seq(s, a, 1000, &to, 2, 100);
	sim_run_until(s, SIM_SEC);
	assert_int_equal(b->n, 2);
	assert_int_equal(b->at[0], 25000);
	assert_int_equal(b->at[1], 26000);
	assert_int_equal(a->n, 2);
	assert_int_equal(a->at[0], 32000);
	assert_int_equal(a->at[1], 33000);
	/* addresses as the receiver sees them */
	konce_addr fa = sim_host_addr(a->h, 1000);
	assert_true(konce_addr_eq(&b->last_from, &fa));
	assert_true(konce_addr_eq(&b->last_to, &to));
	assert_int_equal(sim_now(s), SIM_SEC);
	assert_int_equal(sim_host_tx(a->h)->sent, 2);
	assert_int_equal(sim_host_rx(b->h)->delivered, 2);
	assert_int_equal(sim_link_counters(s, a->h, b->h).delivered, 2);
	rec_free(a), rec_free(b);
	sim_free(s);
}

static void test_timers(void **state)
{
	sim *s = sim_new(1);
	rec *a = rec_new(s, "10.0.0.1", 0);
	assert_int_equal(sim_timer_get(a->h), UINT64_MAX);
	sim_timer_set(s, a->h, 500);
	sim_timer_set(s, a->h, 300); /* replaces */
	assert_int_equal(sim_timer_get(a->h), 300);
	sim_run_until(s, 1000);
	assert_int_equal(a->timers, 1);
	assert_int_equal(a->timer_at[0], 300);
	sim_timer_set(s, a->h, 2000);
	sim_timer_cancel(s, a->h);
	sim_run_until(s, 3000);
	assert_int_equal(a->timers, 1);
	sim_timer_set(s, a->h, 10); /* in the past: fires now */
	assert_true(sim_step(s));
	assert_int_equal(a->timers, 2);
	assert_int_equal(a->timer_at[1], 3000);
	assert_false(sim_step(s));
	rec_free(a);
	sim_free(s);
}

/* Random timer sets, resets and cancels on many hosts against a plain model of "one pending
 * timer per host": every timer fires exactly at its time, once, in time order. */
typedef struct tmodel {
	sim *s;
	sim_host *h[16];
	uint64_t due[16]; /* UINT64_MAX: none */
	uint64_t fired, last_fire;
	bool bad;
} tmodel;

typedef struct tslot {
	tmodel *m;
	int i;
} tslot;

static void tm_timer(void *ctx, uint64_t now)
{
	tslot *t = ctx;
	tmodel *m = t->m;
	if (m->due[t->i] != now || now < m->last_fire)
		m->bad = true;
	m->due[t->i] = UINT64_MAX;
	m->last_fire = now;
	m->fired++;
}

static void test_timer_model(void **state)
{
	static const sim_host_ops ops = {NULL, tm_timer, NULL};
	SIM_FOR_EACH_SEED(seed, 10) {
		tmodel m = {.s = sim_new(seed)};
		tslot slot[16];
		sim *s = m.s;
		for (int i = 0; i < 16; i++) {
			char ip[32];
			snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
			slot[i] = (tslot){&m, i};
			m.h[i] = sim_host_add(s, ip, &ops, &slot[i]);
			m.due[i] = UINT64_MAX;
		}
		for (int k = 0; k < 20000; k++) {
			int i = (int)sim_rand_below(s, 16);
			switch (sim_rand_below(s, 4)) {
			case 0:
			case 1: {
				uint64_t at = sim_now(s) + sim_rand_below(s, 1000);
				sim_timer_set(s, m.h[i], at);
				m.due[i] = at;
				break;
			}
			case 2:
				sim_timer_cancel(s, m.h[i]);
				m.due[i] = UINT64_MAX;
				break;
			default:
				sim_run_for(s, sim_rand_below(s, 300));
				for (int j = 0; j < 16; j++)
					SIM_ASSERT(s, m.due[j] == UINT64_MAX || m.due[j] > sim_now(s));
			}
			SIM_ASSERT_EQ(s, sim_timer_get(m.h[i]), m.due[i]);
			SIM_ASSERT(s, !m.bad);
		}
		SIM_ASSERT(s, m.fired > 1000);
		sim_free(s);
	}
}

static bool fewer_than(void *ctx)
{
	rec *r = ctx;
	return r->n < 3;
}

static void flap(void *ctx, uint64_t now)
{
	rec **ab = ctx;
	sim_link_cfg down = {.loss = 1.0, .delay_us = 1000};
	sim_link_cfg up = {.delay_us = 1000};
	sim_link_set(ab[0]->s, ab[0]->h, ab[1]->h, now < 2 * SIM_SEC ? &down : &up);
}

static void test_run_while_and_flap(void **state)
{
	sim *s = sim_new(3);
	rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
	sim_link_cfg up = {.delay_us = 1000};
	sim_link_set(s, a->h, b->h, &up);
	konce_addr to = sim_host_addr(b->h, 2);
	rec *ab[2] = {a, b};
	/* down from 1 s to 2 s */
	assert_int_equal(sim_at(s, SIM_SEC, flap, ab), 0);
	assert_int_equal(sim_at(s, 2 * SIM_SEC, flap, ab), 0);
	for (uint32_t i = 0; i < 30; i++) {
		send_seq(s, a, 1, &to, i, 10);
		sim_run_for(s, 100 * SIM_MS);
	}
	/* sent at 0, 0.1, ... 2.9 s: those sent in [1.0, 2.0) are lost */
	assert_int_equal(b->n, 20);
	assert_int_equal(sim_host_tx(a->h)->lost, 10);
	for (uint64_t i = 0; i < b->n; i++)
		assert_true(b->seq[i] < 10 || b->seq[i] >= 20);

	/* run_while stops at the event that makes the predicate false */
	b->n = 0;
	for (uint32_t i = 0; i < 5; i++)
		send_seq(s, a, 1, &to, i, 10);
	uint64_t t0 = sim_now(s);
	assert_int_equal(sim_run_while(s, fewer_than, b, t0 + SIM_SEC), 0);
	assert_int_equal(b->n, 3);
	assert_int_equal(sim_now(s), t0 + 1000);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(sim_run_while(s, fewer_than, b, sim_now(s) + 5) , 0);
	b->n = 0;
	assert_int_equal(sim_run_while(s, fewer_than, b, sim_now(s) + 5000), -ETIMEDOUT);
	rec_free(a), rec_free(b);
	sim_free(s);
}

/* ---- env, determinism, counters -------------------------------------------------------------- */

static void test_env(void **state)
{
	sim *s1 = sim_new(42), *s2 = sim_new(42), *s3 = sim_new(43);
	const konce_env *e1 = sim_env(s1), *e2 = sim_env(s2), *e3 = sim_env(s3);
	uint8_t r1[37], r2[37], r3[37];
	konce_env_random(e1, r1, sizeof(r1));
	konce_env_random(e2, r2, sizeof(r2));
	konce_env_random(e3, r3, sizeof(r3));
	assert_memory_equal(r1, r2, sizeof(r1));
	assert_memory_not_equal(r1, r3, sizeof(r1));

	void *p = konce_env_alloc(e1, 100);
	assert_non_null(p);
	assert_int_equal(((uint8_t *)p)[99], 0);
	assert_int_equal(sim_env_allocs(e1), 1);
	assert_int_equal(sim_env_live(e1), 1);
	konce_env_free(e1, p);
	konce_env_free(e1, NULL);
	assert_int_equal(sim_env_frees(e1), 1);
	assert_int_equal(sim_env_live(e1), 0);
	sim_env_fail_after(e1, 1);
	p = konce_env_alloc(e1, 8);
	assert_non_null(p);
	assert_null(konce_env_alloc(e1, 8));
	assert_int_equal(sim_env_allocs(e1), 2);
	sim_env_fail_after(e1, UINT64_MAX);
	void *q = konce_env_alloc(e1, 8);
	assert_non_null(q);
	konce_env_free(e1, p);
	konce_env_free(e1, q);

	/* per-host envs: own counters, own streams */
	sim_host *h1 = sim_host_add(s1, "10.0.0.1", NULL, NULL), *h2 = sim_host_add(s1, "10.0.0.2", NULL, NULL);
	konce_env_random(sim_host_env(h1), r1, sizeof(r1));
	konce_env_random(sim_host_env(h2), r2, sizeof(r2));
	assert_memory_not_equal(r1, r2, sizeof(r1));
	konce_env_free(sim_host_env(h1), konce_env_alloc(sim_host_env(h1), 1));
	assert_int_equal(sim_env_allocs(sim_host_env(h1)), 1);
	assert_int_equal(sim_env_allocs(sim_host_env(h2)), 0);
	sim_free(s1), sim_free(s2), sim_free(s3);
}

/* A busy little network: 6 hosts, lossy jittery links, echoes, a NAT. */
static uint64_t scenario(uint64_t seed, sim_counters *total)
{
	sim *s = sim_new(seed);
	sim_link_cfg c = {.delay_us = 8000, .jitter_us = 3000, .loss = 0.05, .duplicate = 0.02,
			  .reorder = 0.05, .reorder_us = 4000, .rate = 60000, .queue_bytes = 8000};
	sim_link_default(s, &c);
	sim_nat_cfg nc = sim_nat_preset(SIM_NAT_SYMMETRIC);
	sim_nat *nat = sim_nat_add(s, "198.51.100.1", &nc);
	rec *h[6];
	for (int i = 0; i < 6; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), i < 3 ? "10.0.0.%d" : "192.168.1.%d", i + 1);
		h[i] = calloc(1, sizeof(rec));
		h[i]->seq = calloc(MAXREC, 4);
		h[i]->at = calloc(MAXREC, 8);
		h[i]->s = s;
		h[i]->h = i < 3 ? sim_host_add(s, ip, &rec_ops, h[i]) : sim_host_add_behind(s, nat, ip, &rec_ops, h[i]);
		assert_non_null(h[i]->h);
		sim_host_bind(h[i]->h, 9);
		h[i]->echo = i < 3;
		h[i]->cost = (uint64_t)i * 50;
	}
	for (uint32_t k = 0; k < 3000; k++) {
		int from = 3 + (int)sim_rand_below(s, 3), to = (int)sim_rand_below(s, 3);
		konce_addr dst = sim_host_addr(h[to]->h, 9);
		send_seq(s, h[from], 9, &dst, k, 20 + (size_t)sim_rand_below(s, 1000));
		sim_run_for(s, sim_rand_below(s, 2000));
	}
	sim_run_for(s, 10 * SIM_SEC);
	memset(total, 0, sizeof(*total));
	for (int i = 0; i < 6; i++) {
		const sim_counters *tx = sim_host_tx(h[i]->h);
		total->sent += tx->sent;
		total->duplicated += tx->duplicated;
		total->delivered += tx->delivered;
		total->lost += tx->lost;
		total->dropped_queue += sum_drops(tx) - tx->lost;
		total->reordered += tx->reordered;
		rec_free(h[i]);
	}
	uint64_t hash = sim_trace_hash(s);
	sim_free(s);
	return hash;
}

static void test_determinism(void **state)
{
	sim_counters t1, t2;
	uint64_t h1 = scenario(7, &t1), h2 = scenario(7, &t2), h3 = scenario(8, &t2);
	assert_int_equal(h1, h2);
	assert_int_not_equal(h1, h3);
	/* every datagram accounted for, and every effect exercised */
	assert_int_equal(t1.sent + t1.duplicated, t1.delivered + t1.lost + t1.dropped_queue);
	assert_true(t1.lost > 0 && t1.duplicated > 0 && t1.reordered > 0 && t1.dropped_queue > 0);
	assert_true(t1.delivered > 3000);
	/* and a different seed hashes differently across many seeds */
	uint64_t seen[8];
	for (int i = 0; i < 8; i++) {
		seen[i] = scenario(100 + (uint64_t)i, &t2);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(seen[i], seen[j]);
	}
}

/* Chaos: random topology (two NATs of random behaviour, one nested), random link settings changed
 * mid-run, random CPU costs, queue bounds and priorities, NAT flushes and host moves.  Whatever
 * happens, every datagram is accounted for on its sender, its link and its receiver, and the
 * run replays exactly. */
typedef struct chaos {
	sim *s;
	rec *h[10];
	sim_nat *nat[2];
} chaos;

static void chaos_event(void *ctx, uint64_t now)
{
	chaos *c = ctx;
	sim *s = c->s;
	sim_host *a = c->h[sim_rand_below(s, 10)]->h, *b = c->h[sim_rand_below(s, 10)]->h;
	sim_link_cfg l = {.delay_us = sim_rand_below(s, 50000), .jitter_us = sim_rand_below(s, 5000),
			  .jitter_dist = (enum sim_jitter)sim_rand_below(s, 2),
			  .loss = sim_rand_unit(s) * 0.3, .duplicate = sim_rand_unit(s) * 0.1,
			  .reorder = sim_rand_unit(s) * 0.2, .reorder_us = sim_rand_below(s, 20000),
			  .rate = sim_rand_below(s, 2) ? 0 : 10000 + sim_rand_below(s, 1000000),
			  .queue_bytes = sim_rand_below(s, 20000), .mtu = sim_rand_below(s, 3) ? 0 : 600};
	switch (sim_rand_below(s, 7)) {
	case 0:
		sim_link_set(s, a, b, &l);
		break;
	case 1:
		sim_link_default(s, &l);
		break;
	case 2:
		sim_link_reset(s, a, b);
		break;
	case 3:
		sim_nat_flush(c->nat[sim_rand_below(s, 2)]);
		break;
	case 4: {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.9.%u.%u", (unsigned)sim_rand_below(s, 4), (unsigned)(1 + sim_rand_below(s, 4)));
		sim_host_move(a, sim_rand_below(s, 2) ? c->nat[sim_rand_below(s, 2)] : NULL, ip);
		break;
	}
	case 5:
		sim_host_set_queue(a, 1 + sim_rand_below(s, 50));
		break;
	default:
		sim_host_set_uplink(a, sim_rand_below(s, 2) ? 0 : 20000 + sim_rand_below(s, 500000), sim_rand_below(s, 9000));
		sim_host_set_downlink(b, sim_rand_below(s, 2) ? 0 : 20000 + sim_rand_below(s, 500000), sim_rand_below(s, 9000));
	}
}

static uint64_t chaos_run(uint64_t seed)
{
	chaos c = {.s = sim_new(seed)};
	sim *s = c.s;
	static const enum sim_nat_preset presets[] = {SIM_NAT_FULL_CONE, SIM_NAT_RESTRICTED_CONE,
		SIM_NAT_PORT_RESTRICTED_CONE, SIM_NAT_SYMMETRIC, SIM_NAT_SYMMETRIC_SEQUENTIAL};
	sim_nat_cfg n0 = sim_nat_preset(presets[sim_rand_below(s, 5)]);
	sim_nat_cfg n1 = sim_nat_preset(presets[sim_rand_below(s, 5)]);
	n0.timeout_us = SIM_SEC * (1 + sim_rand_below(s, 5));
	c.nat[0] = sim_nat_add(s, "198.51.100.1", &n0);
	c.nat[1] = sim_nat_add_behind(s, c.nat[0], "100.64.0.1", &n1);
	assert_true(c.nat[0] && c.nat[1]);
	static int prio[65536];
	for (int i = 0; i < 65536; i++)
		prio[i] = i % 7;
	for (int i = 0; i < 10; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
		rec *r = calloc(1, sizeof(*r));
		r->seq = calloc(MAXREC, 4);
		r->at = calloc(MAXREC, 8);
		r->s = s;
		r->h = sim_host_add_behind(s, i < 4 ? NULL : c.nat[i % 2], ip, &rec_ops, r);
		assert_non_null(r->h);
		sim_host_bind(r->h, 9);
		r->echo = i % 3 == 0;
		r->cost = sim_rand_below(s, 3) * 300;
		r->prio_of = i % 2 ? prio : NULL;
		c.h[i] = r;
	}
	for (int k = 0; k < 40; k++)
		sim_at(s, sim_rand_below(s, 4 * SIM_SEC), chaos_event, &c);
	for (uint32_t k = 0; k < 4000; k++) {
		rec *from = c.h[sim_rand_below(s, 10)];
		const sim_host *to = c.h[sim_rand_below(s, 10)]->h;
		konce_addr dst = sim_host_addr(to, 9);
		if (sim_host_nat(to) && sim_rand_below(s, 2)) /* aim at a (maybe stale) public mapping */
			dst = sim_nat_public(c.nat[0], (uint16_t)(1024 + sim_rand_below(s, 64)));
		uint8_t buf[1000] = {0};
		memcpy(buf, &k, 4);
		/* at least 5 bytes, so that byte 4 marks echoes and echo hosts never ping-pong */
		int r = sim_send(s, from->h, 9, &dst, buf, 5 + sim_rand_below(s, sizeof(buf) - 5));
		assert_true(r == 0 || r == -EHOSTUNREACH);
		sim_run_for(s, sim_rand_below(s, 1000));
	}
	sim_link_cfg calm = {.delay_us = 1000};
	sim_link_default(s, &calm);
	sim_run_for(s, 60 * SIM_SEC); /* everything lands or is dropped */
	SIM_ASSERT_EQ(s, sim_next_event(s), UINT64_MAX);

	uint64_t rx_delivered = 0, tx_delivered = 0;
	for (int i = 0; i < 10; i++) {
		const sim_counters *tx = sim_host_tx(c.h[i]->h), *rx = sim_host_rx(c.h[i]->h);
		SIM_ASSERT_EQ(s, tx->sent + tx->duplicated, tx->delivered + sum_drops(tx));
		SIM_ASSERT_EQ(s, rx->delivered, c.h[i]->n);
		rx_delivered += rx->delivered;
		tx_delivered += tx->delivered;
		for (int j = 0; j <= 10; j++) {
			sim_counters l = sim_link_counters(s, c.h[i]->h, j < 10 ? c.h[j]->h : NULL);
			SIM_ASSERT_EQ(s, l.sent + l.duplicated, l.delivered + sum_drops(&l));
		}
	}
	SIM_ASSERT_EQ(s, rx_delivered, tx_delivered);
	uint64_t hash = sim_trace_hash(s);
	for (int i = 0; i < 10; i++)
		rec_free(c.h[i]);
	sim_free(s);
	return hash;
}

static void test_chaos(void **state)
{
	SIM_FOR_EACH_SEED(seed, 20) {
		uint64_t h1 = chaos_run(seed), h2 = chaos_run(seed);
		if (h1 != h2)
			sim_report_failure(seed, "replay differs", __FILE__, __LINE__);
		assert_int_equal(h1, h2);
	}
}

/* The runaway guard aborts (checked in a child process: abort ends the process). */
static void test_event_limit(void **state)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2); /* the expected report would read like a failure in the log */
		sim *s = sim_new(99);
		sim_host *h = sim_host_add(s, "10.0.0.1", NULL, NULL);
		sim_set_event_limit(s, 1000);
		for (int i = 0; i < 2000; i++)
			sim_timer_set(s, h, (uint64_t)i), sim_run_for(s, 1);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void test_seed_loop(void **state)
{
	/* without SIM_SEED/SIM_SEEDS in the environment: seeds 1..n */
	if (getenv("SIM_SEED") || getenv("SIM_SEEDS"))
		skip();
	uint64_t sum = 0, count = 0;
	SIM_FOR_EACH_SEED(seed, 4) {
		sum += seed;
		count++;
	}
	assert_int_equal(count, 4);
	assert_int_equal(sum, 1 + 2 + 3 + 4);
	setenv("SIM_SEED", "77", 1);
	SIM_FOR_EACH_SEED(seed, 4) {
		assert_int_equal(seed, 77);
		count++;
	}
	unsetenv("SIM_SEED");
	assert_int_equal(count, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_exact),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_model),
		cmocka_unit_test(test_run_while_and_flap),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_chaos),
		cmocka_unit_test(test_event_limit),
		cmocka_unit_test(test_seed_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
