/* test_sim_links.c - the simulator's links (loss, duplication, reordering, jitter, rates, access
 * links, queues, MTU, ports and routes) and its CPU model.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
