/* test_sim_net.c - the simulator's clock, links, CPU model, env and reproducibility.
 *
 * The hosts here are tiny recorders written for the test: each logs what reached it (a sequence
 * number in the first 4 bytes, the arrival time) and can echo or charge CPU time. */
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

#include "tests/sim/sim.h"

enum { MAXREC = 200000 };

typedef struct rec {
	sim *s;
	sim_host *h;
	bool echo;       /* send every datagram back to its sender */
	uint64_t cost;   /* CPU time charged per datagram */
	uint64_t n;      /* datagrams received */
	uint64_t bytes;
	uint32_t *seq;   /* sequence numbers in arrival order */
	uint64_t *at;    /* arrival (processing) times */
	int *prio_of;    /* priority callback: seq -> priority */
	konce_addr last_from, last_to;
	uint64_t timers;
	uint64_t timer_at[16];
} rec;

/* Newton's method: the tests need a square root and libm is not linked. */
static double root2(double x)
{
	double r = x > 1 ? x : 1;
	for (int i = 0; i < 100; i++)
		r = 0.5 * (r + x / r);
	return r;
}

static double absd(double x) { return x < 0 ? -x : x; }

static uint32_t get_seq(const uint8_t *p, size_t len)
{
	uint32_t v = 0;
	if (len >= 4)
		memcpy(&v, p, 4);
	return v;
}

static uint64_t rec_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			 const konce_addr *to, uint64_t now)
{
	rec *r = ctx;
	if (r->n < MAXREC) {
		r->seq[r->n] = get_seq(pkt, len);
		r->at[r->n] = now;
	}
	r->n++;
	r->bytes += len;
	r->last_from = *from;
	r->last_to = *to;
	/* echo requests, never echoes (byte 4 marks a reply), so two echo hosts do not ping-pong */
	if (r->echo && (len <= 4 || pkt[4] != 0xEE)) {
		uint8_t buf[2048];
		assert_true(len <= sizeof(buf));
		memcpy(buf, pkt, len);
		if (len > 4)
			buf[4] = 0xEE;
		int e = sim_send(r->s, r->h, to->port, from, buf, len);
		assert_true(e == 0 || e == -EHOSTUNREACH); /* the sender may have moved away */
	}
	return r->cost;
}

static void rec_timer(void *ctx, uint64_t now)
{
	rec *r = ctx;
	if (r->timers < 16)
		r->timer_at[r->timers] = now;
	r->timers++;
}

static int rec_prio(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	rec *r = ctx;
	return r->prio_of ? r->prio_of[get_seq(pkt, len)] : 0;
}

static const sim_host_ops rec_ops = {rec_recv, rec_timer, rec_prio};

static rec *rec_new(sim *s, const char *ip, uint16_t port)
{
	rec *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->seq = calloc(MAXREC, sizeof(*r->seq));
	r->at = calloc(MAXREC, sizeof(*r->at));
	assert_true(r->seq && r->at);
	r->s = s;
	r->h = sim_host_add(s, ip, &rec_ops, r);
	assert_non_null(r->h);
	if (port)
		assert_int_equal(sim_host_bind(r->h, port), 0);
	return r;
}

static void rec_free(rec *r)
{
	free(r->seq);
	free(r->at);
	free(r);
}

static void send_seq(sim *s, rec *from, uint16_t port, const konce_addr *to, uint32_t seq, size_t len)
{
	uint8_t buf[2000] = {0};
	assert_true(len <= sizeof(buf) && len >= 4);
	memcpy(buf, &seq, 4);
	assert_int_equal(sim_send(s, from->h, port, to, buf, len), 0);
}

/* Sends count datagrams of len bytes, one every gap us starting now, by running the clock. */
static void stream(sim *s, rec *from, const konce_addr *to, uint32_t count, uint64_t gap, size_t len)
{
	for (uint32_t i = 0; i < count; i++) {
		send_seq(s, from, 5000, to, i, len);
		sim_run_for(s, gap);
	}
}

static uint64_t sum_drops(const sim_counters *c)
{
	return c->lost + c->dropped_queue + c->dropped_mtu + c->dropped_noport + c->dropped_filter +
	       c->dropped_noroute + c->dropped_cpu;
}

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

/* ---- impairments ----------------------------------------------------------------------------- */

static void test_loss_rate(void **state)
{
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
		sim_link_cfg c = {.delay_us = 5000, .loss = 0.1};
		sim_link_default(s, &c);
		konce_addr to = sim_host_addr(b->h, 2);
		const uint32_t n = 20000;
		stream(s, a, &to, n, 100, 20);
		sim_run_for(s, SIM_SEC);
		/* binomial: sd = root2(n p (1-p)) ~ 42; allow 5 sd */
		double expect = n * 0.9, sd = root2(n * 0.1 * 0.9);
		SIM_ASSERT(s, absd((double)b->n - expect) < 5 * sd);
		const sim_counters *tx = sim_host_tx(a->h);
		SIM_ASSERT_EQ(s, tx->lost + tx->delivered, n);
		SIM_ASSERT_EQ(s, b->n, tx->delivered);
		rec_free(a), rec_free(b);
		sim_free(s);
	}
}

static void test_duplication(void **state)
{
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "2001:db8::2", 2);
		sim_link_cfg c = {.delay_us = 1000, .duplicate = 0.2};
		sim_link_set(s, a->h, b->h, &c);
		konce_addr to = sim_host_addr(b->h, 2);
		const uint32_t n = 10000;
		stream(s, a, &to, n, 100, 20);
		sim_run_for(s, SIM_SEC);
		double sd = root2(n * 0.2 * 0.8);
		SIM_ASSERT(s, absd((double)(b->n - n) - n * 0.2) < 5 * sd);
		SIM_ASSERT_EQ(s, sim_host_tx(a->h)->duplicated, b->n - n);
		/* every sequence number arrives once or twice */
		uint8_t *seen = calloc(n, 1);
		for (uint64_t i = 0; i < b->n; i++)
			seen[b->seq[i]]++;
		for (uint32_t i = 0; i < n; i++)
			SIM_ASSERT(s, seen[i] == 1 || seen[i] == 2);
		free(seen);
		rec_free(a), rec_free(b);
		sim_free(s);
	}
}

static uint64_t inversions(const rec *r)
{
	uint64_t inv = 0;
	for (uint64_t i = 1; i < r->n; i++)
		inv += r->seq[i] < r->seq[i - 1];
	return inv;
}

static void test_reordering(void **state)
{
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
		konce_addr to = sim_host_addr(b->h, 2);
		sim_link_cfg c = {.delay_us = 10000};
		sim_link_set(s, a->h, b->h, &c);
		stream(s, a, &to, 1000, 1000, 20);
		sim_run_for(s, SIM_SEC);
		SIM_ASSERT_EQ(s, inversions(b), 0);

		b->n = 0;
		c.reorder = 0.1;
		c.reorder_us = 5000; /* five packets' worth: overtaken by the next ones */
		sim_link_set(s, a->h, b->h, &c);
		stream(s, a, &to, 1000, 1000, 20);
		sim_run_for(s, SIM_SEC);
		SIM_ASSERT_EQ(s, b->n, 1000);
		uint64_t held = sim_link_counters(s, a->h, b->h).reordered;
		SIM_ASSERT(s, held > 50 && held < 150);
		/* each held-back datagram arrives after the next ones: an inversion at least */
		SIM_ASSERT(s, inversions(b) > held / 2);
		rec_free(a), rec_free(b);
		sim_free(s);
	}
}

static void test_jitter(void **state)
{
	SIM_FOR_EACH_SEED(seed, 3) {
		for (int dist = 0; dist < 2; dist++) {
			sim *s = sim_new(seed);
			rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
			konce_addr to = sim_host_addr(b->h, 2);
			sim_link_cfg c = {.delay_us = 20000, .jitter_us = 2000, .jitter_dist = dist};
			sim_link_set(s, a->h, b->h, &c);
			const uint32_t n = 5000;
			for (uint32_t i = 0; i < n; i++) {
				send_seq(s, a, 1, &to, i, 8);
				sim_run_for(s, 100 * SIM_MS); /* far apart: arrival order = send order */
			}
			SIM_ASSERT_EQ(s, b->n, n);
			double sum = 0, sq = 0;
			for (uint32_t i = 0; i < n; i++) {
				double d = (double)b->at[i] - (double)i * 100 * SIM_MS - 20000.0;
				SIM_ASSERT(s, absd(d) <= (dist ? 6000.0 : 2000.0));
				sum += d;
				sq += d * d;
			}
			double mean = sum / n, sd = root2(sq / n - mean * mean);
			/* uniform on [-2000, 2000]: sd 1155; normal: sd 2000 (a little less, being cut) */
			SIM_ASSERT(s, absd(mean) < 100);
			SIM_ASSERT(s, dist ? absd(sd - 2000) < 150 : absd(sd - 1155) < 80);
			rec_free(a), rec_free(b);
			sim_free(s);
		}
	}
}

static void test_rate_limit(void **state)
{
	sim *s = sim_new(1);
	rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
	konce_addr to = sim_host_addr(b->h, 2);
	sim_link_cfg c = {.delay_us = 5000, .rate = 100000, .queue_bytes = 20000};
	sim_link_set(s, a->h, b->h, &c);
	/* one datagram: 1000 bytes at 100 kB/s take 10 ms to serialise, then the 5 ms delay */
	send_seq(s, a, 1, &to, 0, 1000);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(b->at[0], 15000);

	/* offered 2x the rate for 10 s: the receiver sees the link rate */
	b->n = 0;
	b->bytes = 0;
	uint64_t t0 = sim_now(s);
	stream(s, a, &to, 2000, 5000, 1000);
	sim_run_for(s, SIM_SEC);
	uint64_t first = b->at[0], last = b->at[b->n - 1];
	double rate = (double)(b->bytes - 1000) * SIM_SEC / (double)(last - first);
	assert_true(absd(rate - 100000) < 1000);
	/* about half was dropped at the queue, none lost otherwise */
	const sim_counters *tx = sim_host_tx(a->h);
	assert_int_equal(tx->dropped_queue + b->n, 2000);
	assert_true(tx->dropped_queue > 950 && tx->dropped_queue < 1050);
	assert_true(b->at[b->n - 1] > t0 + 10 * SIM_SEC);
	rec_free(a), rec_free(b);
	sim_free(s);
}

/* Access links: two senders into one receiver share its downlink; one sender's two flows share
 * its uplink.  Per-pair links alone would give each flow the full rate. */
static void test_access_links(void **state)
{
	sim *s = sim_new(1);
	rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 1), *r = rec_new(s, "10.0.0.3", 2),
	    *r2 = rec_new(s, "10.0.0.4", 2);
	/* jitter breaks the phase lock drop-tail would otherwise give the flow sent first */
	sim_link_cfg c = {.delay_us = 5000, .jitter_us = 3000, .rate = 100000};
	sim_link_default(s, &c);
	sim_host_set_downlink(r->h, 100000, 30000);
	konce_addr to = sim_host_addr(r->h, 2), to2 = sim_host_addr(r2->h, 2);
	/* each sender offers 80 kB/s for 10 s: 160 kB/s into a 100 kB/s downlink */
	for (uint32_t i = 0; i < 800; i++) {
		send_seq(s, a, 1, &to, i, 1000);
		send_seq(s, b, 1, &to, 10000 + i, 1000);
		sim_run_for(s, 12500);
	}
	sim_run_for(s, SIM_SEC);
	uint64_t first = r->at[0], last = r->at[r->n - 1], from_a = 0;
	double rate = (double)(r->bytes - 1000) * SIM_SEC / (double)(last - first);
	assert_true(absd(rate - 100000) < 2000);
	for (uint64_t i = 0; i < r->n; i++)
		from_a += r->seq[i] < 10000;
	assert_true(from_a > r->n / 3 && from_a < 2 * r->n / 3); /* both flows get through */
	const sim_counters *rx = sim_host_rx(r->h);
	assert_int_equal(rx->delivered + rx->dropped_queue, 1600);
	assert_true(rx->dropped_queue > 500);
	assert_int_equal(sim_host_tx(a->h)->dropped_queue + sim_host_tx(b->h)->dropped_queue, rx->dropped_queue);

	/* one sender, two receivers, 60 kB/s each through a 100 kB/s uplink */
	sim_host_set_downlink(r->h, 0, 0);
	sim_host_set_uplink(a->h, 100000, 20000);
	r->n = r->bytes = 0;
	uint64_t t0 = sim_now(s);
	for (uint32_t i = 0; i < 600; i++) {
		send_seq(s, a, 1, &to, i, 1000);
		send_seq(s, a, 1, &to2, i, 1000);
		sim_run_for(s, 16667);
	}
	uint64_t span = sim_now(s) - t0;
	sim_run_for(s, SIM_SEC);
	double total = (double)(r->bytes + r2->bytes) * SIM_SEC / (double)span;
	assert_true(absd(total - 100000) < 3000);
	assert_true(r->n > 400 && r2->n > 400);
	rec_free(a), rec_free(b), rec_free(r), rec_free(r2);
	sim_free(s);
}

static void test_queue_drops_and_mtu(void **state)
{
	sim *s = sim_new(1);
	rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
	konce_addr to = sim_host_addr(b->h, 2);
	sim_link_cfg c = {.rate = 100000, .queue_bytes = 10000, .mtu = 1280};
	sim_link_set(s, a->h, b->h, &c);
	/* a burst of 100 x 1000 bytes at one instant: one on the wire plus 9 waiting fit */
	for (uint32_t i = 0; i < 100; i++)
		send_seq(s, a, 1, &to, i, 1000);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(b->n, 10);
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(b->seq[i], i);
		assert_int_equal(b->at[i], (i + 1) * 10000);
	}
	assert_int_equal(sim_host_tx(a->h)->dropped_queue, 90);
	assert_int_equal(sim_link_counters(s, a->h, b->h).dropped_queue, 90);

	send_seq(s, a, 1, &to, 1000, 1280);
	send_seq(s, a, 1, &to, 1001, 1281);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(b->n, 11);
	assert_int_equal(b->seq[10], 1000);
	assert_int_equal(sim_host_tx(a->h)->dropped_mtu, 1);
	rec_free(a), rec_free(b);
	sim_free(s);
}

static void test_ports_and_routes(void **state)
{
	sim *s = sim_new(1);
	rec *a = rec_new(s, "10.0.0.1", 1), *b = rec_new(s, "10.0.0.2", 2);
	assert_null(sim_host_add(s, "10.0.0.2", &rec_ops, NULL)); /* taken */
	assert_null(sim_host_add(s, "10.0.0.300", &rec_ops, NULL));
	assert_int_equal(sim_host_bind(b->h, 2), -EADDRINUSE);
	assert_int_equal(sim_host_bind(b->h, 0), -EINVAL);
	assert_int_equal(sim_host_bind(b->h, 3), 0);
	konce_addr to3 = sim_host_addr(b->h, 3), to4 = sim_host_addr(b->h, 4);
	send_seq(s, a, 1, &to3, 1, 10);
	send_seq(s, a, 1, &to4, 2, 10);
	sim_run_for(s, SIM_MS);
	assert_int_equal(b->n, 1);
	assert_int_equal(sim_host_rx(b->h)->dropped_noport, 1);
	assert_int_equal(sim_host_unbind(b->h, 3), 0);
	assert_int_equal(sim_host_unbind(b->h, 3), -ENOENT);
	send_seq(s, a, 1, &to3, 3, 10);
	sim_run_for(s, SIM_MS);
	assert_int_equal(sim_host_rx(b->h)->dropped_noport, 2);

	konce_addr nowhere;
	assert_int_equal(konce_addr_parse(&nowhere, "192.0.2.99:1"), 0);
	uint8_t x[4] = {0};
	assert_int_equal(sim_send(s, a->h, 1, &nowhere, x, 4), -EHOSTUNREACH);
	assert_int_equal(sim_host_tx(a->h)->dropped_noroute, 1);
	assert_int_equal(sim_send(s, a->h, 1, &to3, x, SIM_MAX_DATAGRAM + 1), -EMSGSIZE);

	/* roaming: b moves, its new address gets traffic, the old one has no route */
	konce_addr old = sim_host_addr(b->h, 2);
	assert_int_equal(sim_host_move(b->h, NULL, "10.0.0.1"), -EADDRINUSE);
	assert_int_equal(sim_host_move(b->h, NULL, "10.9.9.9"), 0);
	assert_string_equal(sim_host_name(b->h), "10.9.9.9");
	assert_int_equal(sim_send(s, a->h, 1, &old, x, 4), -EHOSTUNREACH);
	konce_addr now2 = sim_host_addr(b->h, 2);
	b->n = 0;
	send_seq(s, a, 1, &now2, 9, 10);
	sim_run_for(s, SIM_MS);
	assert_int_equal(b->n, 1);

	/* spoofed source: the receiver sees the forged address */
	konce_addr forged;
	assert_int_equal(konce_addr_parse(&forged, "[2001:db8::66]:6666"), 0);
	assert_int_equal(sim_send_spoofed(s, a->h, &forged, &now2, x, 4), 0);
	sim_run_for(s, SIM_MS);
	assert_true(konce_addr_eq(&b->last_from, &forged));

	const sim_counters *tx = sim_host_tx(a->h);
	assert_int_equal(tx->sent, tx->delivered + sum_drops(tx));
	rec_free(a), rec_free(b);
	sim_free(s);
}

/* ---- the CPU model ---------------------------------------------------------------------------- */

static void test_cpu_capacity(void **state)
{
	sim *s = sim_new(1);
	rec *srv = rec_new(s, "10.0.0.1", 7807);
	srv->cost = 1000; /* 1 ms each: 1000 datagrams per second at most */
	sim_host_set_queue(srv->h, 100);
	rec *cl[3];
	konce_addr to = sim_host_addr(srv->h, 7807);
	sim_link_cfg c = {.delay_us = 3000};
	sim_link_default(s, &c);
	for (int i = 0; i < 3; i++)
		cl[i] = rec_new(s, i == 0 ? "10.0.1.1" : i == 1 ? "10.0.1.2" : "10.0.1.3", 1);
	/* 3000 datagrams per second offered for 2 s */
	for (uint32_t k = 0; k < 6000; k++) {
		send_seq(s, cl[k % 3], 1, &to, k, 50);
		sim_run_for(s, 333);
		if (k % 3 == 2)
			sim_run_for(s, 1);
	}
	sim_run_for(s, SIM_SEC);
	/* processing starts never closer than the cost */
	for (uint64_t i = 1; i < srv->n; i++)
		assert_true(srv->at[i] - srv->at[i - 1] >= 1000);
	uint64_t in_first_2s = 0;
	for (uint64_t i = 0; i < srv->n; i++)
		in_first_2s += srv->at[i] < 2 * SIM_SEC;
	assert_true(in_first_2s <= 2000 && in_first_2s >= 1990);
	const sim_counters *rx = sim_host_rx(srv->h);
	assert_int_equal(rx->delivered + rx->dropped_cpu, 6000);
	assert_true(rx->dropped_cpu > 500);
	assert_int_equal(sim_host_queue_len(srv->h), 0);
	assert_false(sim_host_busy(srv->h));
	for (int i = 0; i < 3; i++)
		rec_free(cl[i]);
	rec_free(srv);
	sim_free(s);
}

static void test_cpu_priority(void **state)
{
	sim *s = sim_new(1);
	rec *srv = rec_new(s, "10.0.0.1", 7807), *cl = rec_new(s, "10.0.0.2", 1);
	int prio[16] = {0, 5, 1, 5, 1, 0, 9, 0, 9, 1};
	srv->prio_of = prio;
	srv->cost = 100;
	sim_host_set_queue(srv->h, 6);
	konce_addr to = sim_host_addr(srv->h, 7807);
	/* seq 0 starts the CPU; 1..9 queue up (6 places): the two 9s and then the newer 5 go */
	for (uint32_t i = 0; i < 10; i++)
		send_seq(s, cl, 1, &to, i, 10);
	sim_run_for(s, SIM_SEC);
	uint32_t expect[] = {0, 5, 7, 2, 4, 9, 1};
	assert_int_equal(srv->n, 7);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(srv->seq[i], expect[i]);
		assert_int_equal(srv->at[i], (uint64_t)i * 100);
	}
	assert_int_equal(sim_host_rx(srv->h)->dropped_cpu, 3);
	rec_free(srv), rec_free(cl);
	sim_free(s);
}

static void test_reply_leaves_after_cost(void **state)
{
	sim *s = sim_new(1);
	rec *srv = rec_new(s, "10.0.0.1", 7807), *cl = rec_new(s, "10.0.0.2", 1);
	srv->echo = true;
	srv->cost = 500;
	sim_link_cfg c = {.delay_us = 10000};
	sim_link_default(s, &c);
	konce_addr to = sim_host_addr(srv->h, 7807);
	send_seq(s, cl, 1, &to, 1, 10);
	send_seq(s, cl, 1, &to, 2, 10);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(cl->n, 2);
	assert_int_equal(cl->at[0], 20500); /* RTT + one job */
	assert_int_equal(cl->at[1], 21000); /* waited for the first */
	rec_free(srv), rec_free(cl);
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
		cmocka_unit_test(test_loss_rate),
		cmocka_unit_test(test_duplication),
		cmocka_unit_test(test_reordering),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_access_links),
		cmocka_unit_test(test_queue_drops_and_mtu),
		cmocka_unit_test(test_ports_and_routes),
		cmocka_unit_test(test_cpu_capacity),
		cmocka_unit_test(test_cpu_priority),
		cmocka_unit_test(test_reply_leaves_after_cost),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_chaos),
		cmocka_unit_test(test_event_limit),
		cmocka_unit_test(test_seed_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
