/* test_pmtud.c - path MTU discovery (node/transport/pmtud.h, ep_pmtud.c) between two endpoints on
 * simulated links that drop every datagram above their MTU silently (the simulator sends no ICMP):
 *
 *   A (10.0.0.2) ---- link, MTU m, 10 ms each way ---- B (192.0.2.1)
 *
 * Both endpoints are told max_datagram = KONCE_PMTU_MAX and that the path MTU estimate (what
 * IP_MTU would say for a 1,500-byte interface) is 1,472 bytes.
 *
 *   - black hole: m = 1,400 while the estimate says 1,472.  Each sender settles at exactly 1,400,
 *     every message arrives intact, and the lost probes never reached congestion control: no data
 *     packet was declared lost and nothing was retransmitted (the link loses nothing else).
 *   - grow: m = 1,472: the search takes one probe (the estimate, probed before the base: its ack
 *     confirms both) and data goes in 1,472-byte datagrams.
 *   - black hole after the fact (with 0.5% random loss and 1 ms jitter): m falls from 1,472 to
 *     1,300 at the start of a transfer.  The sender detects it from the lost large packets (its
 *     probe-timeout probes are base-size, so their acks declare the large ones lost), falls back
 *     to BASE, searches again and settles at 1,300, and the messages all arrive, intact.
 *   - path change (the same loss): after the search settled at 1,472, the traversal layer moves
 *     the peer's address to another path (konce_ep_path_reset, e.g. onto a relay) that carries
 *     1,200 bytes only: the search starts again from BASE and stays there; the transfer completes.
 *   - roam: A sits behind a NAT that forgets its mapping mid-transfer; B validates A's new address
 *     (PATH_CHANGED), starts its search again and finds 1,400 on the new path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/pmtud.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum { N = 6, LEN = 300 * 1024, ESTIMATE = 1500 - KONCE_PMTU_IPV4_UDP };

typedef struct pw {
	sim *s;
	sim_nat *nat;
	tnode a, b;
	uint32_t ca, cb;
	unsigned got_a, got_b, bad, delivered_a, delivered_b, failed, closed, path_changes;
	size_t largest_rx_b, largest_rx_a; /* largest datagram that reached each side */
	size_t largest_tx_a;
} pw;

static uint8_t pat(unsigned i, size_t k) { return (uint8_t)(i * 29 + k * 13 + (k >> 9)); }

static void check(pw *w, const konce_ep_event *ev, unsigned *got)
{
	unsigned i = ev->len ? ev->data[0] : N;
	if (ev->len != LEN || i >= N) {
		w->bad++;
		return;
	}
	for (size_t k = 1; k < ev->len; k++)
		if (ev->data[k] != pat(i, k)) {
			w->bad++;
			return;
		}
	(*got)++;
}

static void on_ev(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	pw *w = n->user;
	(void)now;
	bool is_a = n == &w->a;
	if (ev->type == KONCE_EV_ESTABLISHED && !is_a)
		w->cb = ev->conn;
	if (ev->type == KONCE_EV_MESSAGE)
		check(w, ev, is_a ? &w->got_a : &w->got_b);
	if (ev->type == KONCE_EV_MSG_DELIVERED)
		(*(is_a ? &w->delivered_a : &w->delivered_b))++;
	w->failed += ev->type == KONCE_EV_MSG_FAILED;
	w->closed += ev->type == KONCE_EV_CLOSED;
	w->path_changes += ev->type == KONCE_EV_PATH_CHANGED && !is_a;
}

static void on_rx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	pw *w = n->user;
	(void)pkt, (void)from, (void)now;
	size_t *l = n == &w->a ? &w->largest_rx_a : &w->largest_rx_b;
	if (len > *l)
		*l = len;
}

static bool on_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	pw *w = n->user;
	(void)pkt, (void)to, (void)now;
	if (n == &w->a && len > w->largest_tx_a)
		w->largest_tx_a = len;
	return true;
}

static unsigned estimate(void *ctx, const konce_addr *peer)
{
	(void)ctx, (void)peer;
	return ESTIMATE;
}

static bool busy(void *ctx)
{
	pw *w = ctx;
	return w->delivered_a < N || w->delivered_b < N / 2;
}

static void setup_nat(pw *w, uint64_t seed, size_t mtu, double loss, sim_nat *(*nat)(sim *s))
{
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	konce_ep_config cfg = {.max_datagram = KONCE_PMTU_MAX, .path_mtu = estimate};
	w->nat = nat ? nat(w->s) : NULL;
	assert_int_equal(tnode_init(&w->a, w->s, w->nat, "10.0.0.2", 40000, &cfg), 0);
	assert_int_equal(tnode_init(&w->b, w->s, NULL, "192.0.2.1", 7807, &cfg), 0);
	w->a.user = w->b.user = w;
	w->a.on_event = w->b.on_event = on_ev;
	w->a.on_rx = w->b.on_rx = on_rx;
	w->a.on_tx = on_tx;
	/* no rate limit: no queue, so no congestion loss; random loss and jitter where asked */
	sim_link_cfg link = {.delay_us = 10 * SIM_MS, .jitter_us = loss > 0 ? 1 * SIM_MS : 0, .loss = loss, .mtu = mtu};
	sim_link_default(w->s, &link);
	konce_addr to = tnode_addr(&w->b);
	assert_int_equal(tnode_connect(&w->a, tnode_pk(&w->b), &to, NULL, 0, &w->ca), 0);
	while (!w->cb && sim_now(w->s) < 10 * SIM_SEC)
		sim_run_for(w->s, 100 * SIM_MS);
	SIM_ASSERT(w->s, w->cb != 0);
}

static void setup(pw *w, uint64_t seed, size_t mtu, double loss) { setup_nat(w, seed, mtu, loss, NULL); }

/* A sends N messages, B N / 2. */
static void send_all(pw *w)
{
	static uint8_t buf[LEN];
	uint64_t id;
	for (unsigned i = 0; i < N; i++) {
		buf[0] = (uint8_t)i;
		for (size_t k = 1; k < LEN; k++)
			buf[k] = pat(i, k);
		SIM_ASSERT_EQ(w->s, konce_ep_msg_send(w->a.ep, w->ca, buf, LEN, 0, 0, sim_now(w->s), &id), 0);
		if (i < N / 2)
			SIM_ASSERT_EQ(w->s, konce_ep_msg_send(w->b.ep, w->cb, buf, LEN, 0, 0, sim_now(w->s), &id), 0);
	}
	tnode_flush(&w->a, sim_now(w->s));
	tnode_flush(&w->b, sim_now(w->s));
}

static void finish(pw *w)
{
	SIM_ASSERT_EQ(w->s, sim_run_while(w->s, busy, w, sim_now(w->s) + 120 * SIM_SEC), 0);
	SIM_ASSERT_EQ(w->s, w->failed + w->closed + w->bad, 0);
	SIM_ASSERT_EQ(w->s, w->got_b, N);
	SIM_ASSERT_EQ(w->s, w->got_a, N / 2);
	/* the search goes on after the transfer (probes are timed by the PTO, at least 100 ms) */
	sim_run_for(w->s, 30 * SIM_SEC);
}

static konce_ep_pmtu_info info(tnode *n, uint32_t conn)
{
	konce_ep_pmtu_info i;
	assert_int_equal(konce_ep_conn_pmtu(n->ep, conn, &i), 0);
	return i;
}

static void done(pw *w)
{
	tnode_free(&w->a);
	tnode_free(&w->b);
	sim_free(w->s);
}

static void test_blackhole(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3) {
		static pw w;
		setup(&w, seed, 1400, 0);
		send_all(&w);
		finish(&w);
		konce_ep_pmtu_info ia = info(&w.a, w.ca), ib = info(&w.b, w.cb);
		SIM_ASSERT_EQ(w.s, ia.state, KONCE_PMTUD_SEARCH_COMPLETE);
		SIM_ASSERT_EQ(w.s, ia.plpmtu, 1400); /* exactly the largest size that works */
		SIM_ASSERT_EQ(w.s, ib.plpmtu, 1400);
		SIM_ASSERT_EQ(w.s, ia.max, ESTIMATE);
		SIM_ASSERT(w.s, ia.probes_lost >= KONCE_PMTU_MAX_PROBES);
		/* the probes were lost, the data never: congestion control saw no loss */
		SIM_ASSERT_EQ(w.s, ia.packets_lost + ia.retransmitted + ib.packets_lost + ib.retransmitted, 0);
		SIM_ASSERT_EQ(w.s, w.largest_rx_b, 1400);
		SIM_ASSERT_EQ(w.s, w.largest_rx_a, 1400);
		SIM_ASSERT_EQ(w.s, w.largest_tx_a, ESTIMATE); /* the probe of the estimate, dropped */
		SIM_ASSERT(w.s, tnode_counters(&w.a)->pmtu_probes_lost == ia.probes_lost);
		printf("  seed %llu: settled at %u after %llu probes (%llu lost)\n", (unsigned long long)seed,
		       ia.plpmtu, (unsigned long long)ia.probes_sent, (unsigned long long)ia.probes_lost);
		done(&w);
	}
}

static void test_grow(void **state)
{
	(void)state;
	static pw w;
	setup(&w, 7, ESTIMATE, 0);
	send_all(&w);
	finish(&w);
	konce_ep_pmtu_info ia = info(&w.a, w.ca);
	SIM_ASSERT_EQ(w.s, ia.plpmtu, ESTIMATE);
	SIM_ASSERT_EQ(w.s, ia.probes_sent, 1); /* the eager probe of the estimate */
	SIM_ASSERT_EQ(w.s, ia.probes_lost, 0);
	SIM_ASSERT_EQ(w.s, w.largest_rx_b, ESTIMATE);
	/* most of the data went in full-size datagrams: fewer than LEN / 1,400 per message */
	SIM_ASSERT(w.s, tnode_counters(&w.a)->data_tx < (uint64_t)N * LEN / 1400 + 400);
	done(&w);
}

static void shrink(void *ctx, uint64_t now)
{
	pw *w = ctx;
	(void)now;
	sim_link_cfg link = sim_link_get(w->s, w->a.h, w->b.h);
	link.mtu = 1300;
	sim_link_default(w->s, &link);
}

static void test_blackhole_after(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 10) {
		static pw w;
		setup(&w, seed, ESTIMATE, 0.005);
		send_all(&w);
		while (info(&w.a, w.ca).plpmtu < ESTIMATE && sim_now(w.s) < 10 * SIM_SEC)
			sim_run_for(w.s, 5 * SIM_MS);
		SIM_ASSERT_EQ(w.s, info(&w.a, w.ca).plpmtu, ESTIMATE);
		SIM_ASSERT(w.s, w.delivered_a == 0); /* at the start of the transfer */
		sim_at(w.s, sim_now(w.s), shrink, &w);
		finish(&w);
		konce_ep_pmtu_info ia = info(&w.a, w.ca), ib = info(&w.b, w.cb);
		SIM_ASSERT(w.s, ia.blackholes >= 1);
		SIM_ASSERT(w.s, tnode_counters(&w.a)->pmtu_blackholes >= 1);
		SIM_ASSERT_EQ(w.s, ia.plpmtu, 1300);
		(void)ib; /* B's own transfer may have ended before the change: it learns when it sends */
		SIM_ASSERT(w.s, ia.retransmitted > 0); /* what the large packets held went again */
		printf("  seed %llu: black hole detected (%llu), settled at %u; %llu packets lost\n",
		       (unsigned long long)seed, (unsigned long long)ia.blackholes, ia.plpmtu,
		       (unsigned long long)ia.packets_lost);
		done(&w);
	}
}

static void test_path_change(void **state)
{
	(void)state;
	static pw w;
	setup(&w, 11, ESTIMATE, 0.005);
	send_all(&w);
	while (info(&w.a, w.ca).plpmtu < ESTIMATE && sim_now(w.s) < 10 * SIM_SEC)
		sim_run_for(w.s, 5 * SIM_MS);
	SIM_ASSERT_EQ(w.s, info(&w.a, w.ca).plpmtu, ESTIMATE);
	/* the peer's address now leads over a relay that carries base-size datagrams only */
	sim_link_cfg link = sim_link_get(w.s, w.a.h, w.b.h);
	link.mtu = KONCE_PMTU_BASE;
	sim_link_default(w.s, &link);
	konce_addr b = tnode_addr(&w.b);
	konce_ep_path_reset(w.a.ep, &b, sim_now(w.s));
	konce_ep_pmtu_info ia = info(&w.a, w.ca);
	SIM_ASSERT_EQ(w.s, ia.state, KONCE_PMTUD_BASE);
	SIM_ASSERT_EQ(w.s, ia.plpmtu, KONCE_PMTU_BASE);
	SIM_ASSERT_EQ(w.s, tnode_counters(&w.a)->pmtu_resets, 1);
	tnode_flush(&w.a, sim_now(w.s));
	finish(&w);
	ia = info(&w.a, w.ca);
	SIM_ASSERT_EQ(w.s, ia.plpmtu, KONCE_PMTU_BASE);
	SIM_ASSERT_EQ(w.s, ia.state, KONCE_PMTUD_SEARCH_COMPLETE);
	done(&w);
}

static sim_nat *symmetric_nat(sim *s)
{
	sim_nat_cfg nc = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
	return sim_nat_add(s, "198.51.100.1", &nc);
}

static void rebind(void *ctx, uint64_t now)
{
	(void)now;
	sim_nat_flush(((pw *)ctx)->nat);
}

/* A roams: its NAT forgets the mapping, so B sees A's packets come from a new address, validates
 * it (PATH_CHANGED) and starts its search again on the new path. */
static void test_roam(void **state)
{
	(void)state;
	static pw w;
	setup_nat(&w, 5, 1400, 0, symmetric_nat);
	send_all(&w);
	while (info(&w.b, w.cb).state != KONCE_PMTUD_SEARCH_COMPLETE && sim_now(w.s) < 20 * SIM_SEC)
		sim_run_for(w.s, 10 * SIM_MS);
	SIM_ASSERT_EQ(w.s, info(&w.b, w.cb).plpmtu, 1400);
	finish(&w);
	/* the NAT forgets A; both send again */
	rebind(&w, sim_now(w.s));
	static uint8_t buf[LEN];
	buf[0] = 0;
	for (size_t k = 1; k < LEN; k++)
		buf[k] = pat(0, k);
	uint64_t id;
	SIM_ASSERT_EQ(w.s, konce_ep_msg_send(w.a.ep, w.ca, buf, LEN, 0, 0, sim_now(w.s), &id), 0);
	SIM_ASSERT_EQ(w.s, konce_ep_msg_send(w.b.ep, w.cb, buf, LEN, 0, 0, sim_now(w.s), &id), 0);
	tnode_flush(&w.a, sim_now(w.s));
	tnode_flush(&w.b, sim_now(w.s));
	w.delivered_a = w.delivered_b = 0;
	while ((w.delivered_a < 1 || w.delivered_b < 1) && sim_now(w.s) < 120 * SIM_SEC)
		sim_run_for(w.s, 10 * SIM_MS);
	sim_run_for(w.s, 30 * SIM_SEC);
	SIM_ASSERT_EQ(w.s, w.failed + w.closed + w.bad, 0);
	SIM_ASSERT_EQ(w.s, w.got_a, N / 2 + 1);
	SIM_ASSERT_EQ(w.s, w.got_b, N + 1);
	SIM_ASSERT(w.s, w.path_changes >= 1);
	SIM_ASSERT(w.s, tnode_counters(&w.b)->pmtu_resets >= 1);
	konce_ep_pmtu_info ib = info(&w.b, w.cb);
	SIM_ASSERT_EQ(w.s, ib.plpmtu, 1400); /* found again on the new path */
	SIM_ASSERT_EQ(w.s, ib.state, KONCE_PMTUD_SEARCH_COMPLETE);
	SIM_ASSERT(w.s, ib.probes_sent > 16); /* two searches */
	done(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blackhole),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_blackhole_after),
		cmocka_unit_test(test_path_change),
		cmocka_unit_test(test_roam),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
