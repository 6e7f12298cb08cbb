/* test_ncinfo.c - the node core's read-only report views (node/core/ncinfo.h), over cores driven
 * directly: one hub core, NSPOKES spoke cores, a hand-moved clock, datagrams carried by this file.
 *
 *   - status: the core's, the endpoint's counters and the memory budget as the core and endpoint
 *     report them; forged_dropped is the sum of the endpoint's authentication failures;
 *   - peer rows: one per active peer, key, address, state, identity and local key as the peer table
 *     holds them, session totals as konce_ep_conn_traffic() counts them;
 *   - rates: after two samples, each peer's rate is its session bytes between the samples divided
 *     by the seconds between them, and the node's rate is the sum; a third sample with no traffic
 *     in between gives 0 and an empty busiest list;
 *   - busiest: at most KONCE_NC_BUSIEST peers, busiest first, the least busy spoke left out;
 *   - the public shapes (ncpublic.h) carry the rows and the status field for field.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/ncinfo.h"
#include "node/core/ncpublic.h"
#include "node/transport/identity.h"
#include "tests/unit/nc_event.h"

enum { APP = 300, MS = 1000, NSPOKES = KONCE_NC_BUSIEST + 1, NSIDES = NSPOKES + 1, UNIT = 1000 };

struct side {
	konce_nodecore *c;
	konce_identity *id;
	konce_addr addr;
	int msgs;
};

struct world {
	struct side s[NSIDES]; /* 0 is the hub */
	uint64_t now;
	int delivered;
};

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct world *w = ctx;
	(void)data;
	(void)len;
	(void)reason;
	assert_int_equal(outcome, KONCE_OUTCOME_DELIVERED);
	w->delivered++;
}

static void on_app(void *ctx, konce_node *node, const konce_message *m)
{
	(void)node;
	(void)m;
	((struct side *)ctx)->msgs++;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->now = 1000000;
	for (int i = 0; i < NSIDES; i++) {
		struct side *sd = &w->s[i];
		char a[64];
		snprintf(a, sizeof(a), "192.0.2.%d:7807", i + 1);
		assert_int_equal(konce_identity_generate(&sd->id, konce_env_default()), 0);
		konce_nodecore_config cfg = {.ep = {.identity = sd->id, .explicit_identity = true}};
		assert_int_equal(konce_nodecore_new(&sd->c, &cfg, w->now), 0);
		assert_int_equal(konce_addr_parse(&sd->addr, a), 0);
		assert_int_equal(konce_nodecore_handle(sd->c, APP, on_app, sd), 0);
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	for (int i = 0; i < NSIDES; i++) {
		konce_nodecore_free(w->s[i].c);
		konce_identity_free(w->s[i].id);
	}
	free(w);
	return 0;
}

static void drain(struct world *w, int i)
{
	struct side *sd = &w->s[i];
	konce_nc_event ev;
	konce_nc_datagram dg;
	konce_nc_note no;
	while (konce_nodecore_poll_event(sd->c, &ev))
		nc_app_event(&ev);
	while (konce_nodecore_poll(sd->c, &dg))
		for (int j = 0; j < NSIDES; j++)
			if (j != i && konce_addr_eq(&dg.to, &w->s[j].addr))
				konce_nodecore_input(w->s[j].c, 0, dg.buf, dg.len, &sd->addr, w->now);
	while (konce_nodecore_poll_note(sd->c, &no))
		;
}

/* Runs every core on a zero-latency link until the clock reaches until. */
static void run(struct world *w, uint64_t until)
{
	for (int guard = 0; guard < 1000000; guard++) {
		for (int i = 0; i < NSIDES; i++)
			drain(w, i);
		uint64_t t = UINT64_MAX;
		for (int i = 0; i < NSIDES; i++) {
			uint64_t ti = konce_nodecore_next_timer(w->s[i].c);
			t = ti < t ? ti : t;
		}
		if (t > until) {
			w->now = until > w->now ? until : w->now;
			return;
		}
		w->now = t > w->now ? t : w->now;
		for (int i = 0; i < NSIDES; i++)
			if (konce_nodecore_next_timer(w->s[i].c) <= w->now)
				konce_nodecore_timer(w->s[i].c, w->now);
	}
	fail_msg("the cores did not go idle");
}

/* The hub sends spoke i a message of i * UNIT bytes. */
static void send_round(struct world *w)
{
	static uint8_t buf[NSPOKES * UNIT];
	int before = w->delivered;
	for (int i = 1; i < NSIDES; i++)
		assert_int_equal(konce_nodecore_send(w->s[0].c, konce_nodecore_public_key(w->s[i].c), APP, buf,
						     (size_t)i * UNIT, NULL, on_outcome, w, w->now, NULL),
				 0);
	run(w, w->now + 2000 * MS);
	assert_int_equal(w->delivered - before, NSPOKES);
}

struct rows {
	konce_nc_peer_info r[NSIDES];
	int n;
};

/* The hub (side 0) knows every other side's key at its address. */
static void hub_knows_all(struct world *w)
{
	for (int i = 1; i < NSIDES; i++)
		assert_int_equal(konce_nodecore_known_load(w->s[0].c, konce_nodecore_public_key(w->s[i].c),
							   &w->s[i].addr, NULL),
				 0);
}

static int collect(void *ctx, const konce_nc_peer_info *row)
{
	struct rows *rs = ctx;
	assert_true(rs->n < NSIDES);
	rs->r[rs->n++] = *row;
	return 0;
}

static int stop_at_first(void *ctx, const konce_nc_peer_info *row)
{
	(void)row;
	++*(int *)ctx;
	return 7;
}

static int spoke_of(struct world *w, const uint8_t *pk)
{
	for (int i = 1; i < NSIDES; i++)
		if (!memcmp(pk, konce_nodecore_public_key(w->s[i].c), KONCE_KEY_BYTES))
			return i;
	fail_msg("a row for a key that is no spoke");
	return -1;
}

static const konce_nc_peer_info *row_of(struct rows *rs, const uint8_t *pk)
{
	for (int i = 0; i < rs->n; i++)
		if (!memcmp(rs->r[i].pk, pk, KONCE_KEY_BYTES))
			return &rs->r[i];
	fail_msg("no row for that key");
	return NULL;
}

static void assert_near(double got, double want)
{
	if (fabs(got - want) > 1e-6 * (fabs(want) + 1))
		fail_msg("got %f, want %f", got, want);
}

static void test_status_and_rows(void **state)
{
	struct world *w = *state;
	konce_nodecore *hub = w->s[0].c;
	hub_knows_all(w);
	send_round(w);

	konce_nc_status st;
	konce_nodecore_stats cs;
	konce_ep_memory m;
	konce_nodecore_status(hub, w->now, &st);
	konce_nodecore_stats_get(hub, &cs);
	konce_ep_memory_get(konce_nodecore_ep(hub), &m);
	const struct konce_ep_counters *e = konce_ep_counters(konce_nodecore_ep(hub));
	assert_int_equal(st.core.peers, NSPOKES);
	assert_int_equal(st.core.msgs_tx, cs.msgs_tx);
	assert_int_equal(st.core.msgs_tx, NSPOKES);
	assert_int_equal(st.ep.tx_packets, e->tx_packets);
	assert_int_equal(st.ep.sessions_live, NSPOKES);
	assert_true(st.ep.rx_packets > 0);
	assert_int_equal(st.forged_dropped, 0);
	assert_int_equal(st.memory.send_budget, m.send_budget);
	assert_true(st.memory.reasm_budget > 0);
	assert_int_equal(st.pow_bits, konce_ep_pow_bits(konce_nodecore_ep(hub), w->now));

	struct rows rs = {0};
	assert_int_equal(konce_nodecore_peers_each(hub, collect, &rs), 0);
	assert_int_equal(rs.n, NSPOKES);
	for (int k = 0; k < rs.n; k++) {
		const konce_nc_peer_info *r = &rs.r[k];
		int i = spoke_of(w, r->pk);
		const konce_ncpeer *p = konce_nodecore_peer_find(hub, r->pk);
		assert_ptr_equal(r->peer, p);
		assert_true(r->up);
		assert_true(konce_addr_eq(&r->addr, &w->s[i].addr));
		assert_int_equal(r->msgs_tx, 1);
		assert_int_equal(r->identity, p->identity);
		assert_memory_equal(r->local_pk, p->local_pk, KONCE_KEY_BYTES);
		assert_int_equal(r->last_contact_us, p->last_rx_us ? p->last_rx_us : p->since_us);
		uint64_t rx, tx;
		assert_int_equal(konce_ep_conn_traffic(konce_nodecore_ep(hub), p->conn, &rx, &tx), 0);
		assert_int_equal(r->rx_bytes, rx);
		assert_int_equal(r->tx_bytes, tx);
		assert_true(r->tx_bytes >= (uint64_t)i * UNIT); /* the message went out in the session */
		assert_int_equal(w->s[i].msgs, 1);
	}
	/* the stop line carries the endpoint's counters */
	char line[512], want[64];
	konce_nodecore_counters_line(hub, line, sizeof line);
	snprintf(want, sizeof want, "counters: rx %llu tx %llu ", (unsigned long long)e->rx_packets,
		 (unsigned long long)e->tx_packets);
	assert_memory_equal(line, want, strlen(want));
	snprintf(want, sizeof want, " ring_full %llu", (unsigned long long)e->ring_full_datagrams);
	assert_string_equal(line + strlen(line) - strlen(want), want);
	/* a nonzero return stops the walk and is passed back */
	int calls = 0;
	assert_int_equal(konce_nodecore_peers_each(hub, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
}

static void test_rates_and_busiest(void **state)
{
	struct world *w = *state;
	konce_nodecore *hub = w->s[0].c;
	hub_knows_all(w);
	send_round(w); /* sessions up */
	konce_nc_traffic t;
	/* before any interval: no rates, nobody busy */
	konce_nodecore_sample_traffic(hub, w->now);
	konce_nodecore_traffic(hub, &t);
	assert_int_equal(t.nbusiest, 0);
	assert_near(t.rx_rate + t.tx_rate, 0);

	struct rows a = {0}, b = {0};
	uint64_t t1 = w->now;
	konce_nodecore_peers_each(hub, collect, &a);
	send_round(w);
	run(w, t1 + 4000 * MS);
	uint64_t t2 = w->now;
	assert_int_equal(t2, t1 + 4000 * MS);
	konce_nodecore_sample_traffic(hub, t2);
	konce_nodecore_peers_each(hub, collect, &b);
	assert_int_equal(b.n, NSPOKES);
	double secs = (double)(t2 - t1) / 1e6, sum_rx = 0, sum_tx = 0;
	for (int k = 0; k < b.n; k++) {
		const konce_nc_peer_info *r = &b.r[k], *r0 = row_of(&a, r->pk);
		assert_near(r->rx_rate, (double)(r->rx_bytes - r0->rx_bytes) / secs);
		assert_near(r->tx_rate, (double)(r->tx_bytes - r0->tx_bytes) / secs);
		assert_true(r->tx_rate * secs >= (double)spoke_of(w, r->pk) * UNIT);
		sum_rx += r->rx_rate;
		sum_tx += r->tx_rate;
	}
	konce_nodecore_traffic(hub, &t);
	assert_near(t.rx_rate, sum_rx);
	assert_near(t.tx_rate, sum_tx);
	/* the busiest, busiest first: spokes NSPOKES down to 2; spoke 1 is the one left out */
	assert_int_equal(t.nbusiest, KONCE_NC_BUSIEST);
	for (size_t k = 0; k < t.nbusiest; k++) {
		const konce_nc_peer_info *r = &t.busiest[k];
		assert_int_equal(spoke_of(w, r->pk), NSPOKES - (int)k);
		const konce_nc_peer_info *rb = row_of(&b, r->pk);
		assert_near(r->rx_rate, rb->rx_rate);
		assert_near(r->tx_rate, rb->tx_rate);
		assert_int_equal(r->tx_bytes, rb->tx_bytes);
		if (k)
			assert_true(t.busiest[k - 1].rx_rate + t.busiest[k - 1].tx_rate >= r->rx_rate + r->tx_rate);
	}

	/* an interval with no traffic: every rate 0, nobody busy */
	konce_nodecore_sample_traffic(hub, t2 + 1000 * MS);
	konce_nodecore_traffic(hub, &t);
	assert_int_equal(t.nbusiest, 0);
	assert_near(t.rx_rate, 0);
	assert_near(t.tx_rate, 0);
	/* a clock that did not move gives no rate rather than a division by zero */
	konce_nodecore_sample_traffic(hub, t2 + 1000 * MS);
	konce_nodecore_traffic(hub, &t);
	assert_int_equal(t.nbusiest, 0);
}

/* The public shapes (ncpublic.h): one konce_peer_info per row, its fields the row's; max bounds
 * what is written but not the count; the stats are the status's. */
static void test_public_shapes(void **state)
{
	struct world *w = *state;
	konce_nodecore *hub = w->s[0].c;
	hub_knows_all(w);
	send_round(w);
	struct rows rs = {.n = 0};
	konce_nodecore_peers_each(hub, collect, &rs);
	konce_peer_info pi[NSIDES];
	memset(pi, 0xa5, sizeof(pi));
	assert_int_equal(konce_nodecore_peers_public(hub, pi, NSIDES, w->now), (size_t)rs.n);
	assert_int_equal(rs.n, NSPOKES);
	for (int i = 0; i < rs.n; i++) {
		const konce_nc_peer_info *r = row_of(&rs, pi[i].pk);
		char as[KONCE_ADDR_STRLEN];
		assert_string_equal(pi[i].addr, konce_addr_str(&r->addr, as));
		assert_int_equal(pi[i].up, r->up);
		assert_int_equal(pi[i].msgs_tx, r->msgs_tx);
		assert_int_equal(pi[i].msgs_rx, r->msgs_rx);
		assert_int_equal(pi[i].rtt_us, r->rtt_us);
		assert_int_equal(pi[i].since_ms, (w->now - r->since_us) / 1000u);
		assert_int_equal(pi[i].identity, r->identity);
		assert_memory_equal(pi[i].local_pk, r->local_pk, KONCE_KEY_BYTES);
	}
	konce_peer_info one[1];
	assert_int_equal(konce_nodecore_peers_public(hub, one, 1, w->now), (size_t)NSPOKES);

	konce_nc_status st;
	konce_node_stats ns;
	konce_nodecore_status(hub, w->now, &st);
	konce_nodecore_stats_public(hub, w->now, w->now - 5000 * MS, &ns);
	assert_int_equal(ns.uptime_ms, 5000);
	assert_int_equal(ns.peers_active, st.core.peers);
	assert_int_equal(ns.msgs_tx, st.core.msgs_tx);
	assert_int_equal(ns.msgs_tx, NSPOKES);
	assert_int_equal(ns.rx_packets, st.ep.rx_packets);
	assert_int_equal(ns.tx_packets, st.ep.tx_packets);
	assert_int_equal(ns.handshakes_failed, st.ep.hs_failed);
	assert_int_equal(ns.forged_dropped, st.forged_dropped);
	assert_string_equal(konce_reason_str(KONCE_REASON_TIMED_OUT), "timed out");
	assert_string_equal(konce_reason_str(-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rates_and_busiest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_shapes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
