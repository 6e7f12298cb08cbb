/* test_msg_hol.c - no head-of-line blocking across messages: a fragment of message A is dropped
 * on purpose, and message B, sent after A, is delivered while A still misses that fragment; A
 * then arrives whole once the fragment is sent again.
 *
 *	A: 8 fragments (7,000 B) at t0      -- its 2nd datagram is dropped by the test --
 *	B: 100 B at t0 + 5 ms               -> delivered first, A incomplete at that moment
 *	A's lost fragment resent after loss detection (about an RTT later) -> A delivered, intact
 *
 * Both are messages of the shipping node core (tests/sim/node_harness.c) to the peer's key, seen
 * by the peer's handler; the session is opened first by an empty echo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/node_harness.h"

enum { ALEN = 7000, BLEN = 100, KLASS = 300 };

typedef struct hol {
	sim *s;
	ncnode a, b;
	bool armed;
	unsigned data_seen, dropped;
	int order[2], norder;   /* 0 = A, 1 = B, in the order B's endpoint delivered them */
	int intact[2];
	uint64_t t_b, t_a;
	unsigned delivered_evs;
} hol;

static uint8_t pa(size_t k) { return (uint8_t)(k * 7 + 3); }
static uint8_t pb(size_t k) { return (uint8_t)(k * 13 + 1); }

/* A's DATA datagrams after the test armed the drop: the second one carrying a full fragment
 * (A's fragment 1; fragment 0 went first) is dropped. */
static bool a_tx(ncnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	hol *h = n->user;
	(void)pkt;
	(void)to;
	(void)now;
	if (!h->armed || len < 900)
		return true;
	if (++h->data_seen == 2) {
		h->dropped++;
		return false;
	}
	return true;
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	hol *h = ctx;
	(void)reason, (void)data, (void)len;
	h->delivered_evs += outcome == KONCE_OUTCOME_DELIVERED;
}

static void on_message(void *ctx, konce_node *node, const konce_message *m)
{
	hol *h = ctx;
	(void)node;
	if (h->norder == 2)
		return;
	int which = m->len == ALEN ? 0 : m->len == BLEN ? 1 : -1;
	if (which < 0)
		return;
	h->order[h->norder++] = which;
	int ok = 1;
	for (size_t k = 0; k < m->len; k++)
		if (m->data[k] != (which ? pb(k) : pa(k)))
			ok = 0;
	h->intact[which] = ok;
	if (which)
		h->t_b = sim_now(h->s);
	else
		h->t_a = sim_now(h->s);
}

static bool not_up(void *ctx) { return ((hol *)ctx)->b.peers_up == 0 || ((hol *)ctx)->delivered_evs == 0; }

static bool not_done(void *ctx)
{
	hol *h = ctx;
	return h->norder < 2 || h->delivered_evs < 2;
}

static void send_b(void *ctx, uint64_t now)
{
	hol *h = ctx;
	(void)now;
	uint8_t b[BLEN];
	for (size_t k = 0; k < BLEN; k++)
		b[k] = pb(k);
	SIM_ASSERT_EQ(h->s, ncnode_send(&h->a, ncnode_pk(&h->b), KLASS, b, BLEN, NULL, on_outcome, h, NULL), 0);
}

static void test_no_head_of_line_blocking(void **state)
{
	(void)state;
	static hol h;
	uint64_t gap_sum = 0, n = 0;
	SIM_FOR_EACH_SEED(seed, 50) {
		memset(&h, 0, sizeof h);
		sim *s = sim_new(seed);
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 1 * SIM_MS};
		h.s = s;
		SIM_ASSERT_EQ(s, ncnode_init(&h.a, s, NULL, "10.0.0.1", 40000, NULL), 0);
		SIM_ASSERT_EQ(s, ncnode_init(&h.b, s, NULL, "192.0.2.1", 7807, NULL), 0);
		sim_link_set_both(s, h.a.h, h.b.h, &link);
		SIM_ASSERT_EQ(s, konce_nodecore_handle(h.b.core, KLASS, on_message, &h), 0);
		ncnode_learn(&h.a, &h.b);
		/* the session first (an empty echo), so the test's drop hits A's message fragments */
		SIM_ASSERT_EQ(s, ncnode_send(&h.a, ncnode_pk(&h.b), KONCE_CLASS_ECHO, NULL, 0, NULL, on_outcome, &h, NULL), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, not_up, &h, sim_now(s) + 30 * SIM_SEC), 0);
		h.delivered_evs = 0;
		h.a.user = &h;
		h.a.on_tx = a_tx;
		uint8_t a[ALEN];
		for (size_t k = 0; k < ALEN; k++)
			a[k] = pa(k);
		h.armed = true;
		SIM_ASSERT_EQ(s, ncnode_send(&h.a, ncnode_pk(&h.b), KLASS, a, ALEN, NULL, on_outcome, &h, NULL), 0);
		sim_at(s, sim_now(s) + 5 * SIM_MS, send_b, &h);
		SIM_ASSERT_EQ(s, sim_run_while(s, not_done, &h, sim_now(s) + 30 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, h.dropped, 1);
		SIM_ASSERT_EQ(s, h.order[0], 1); /* B first, while A lacked its fragment */
		SIM_ASSERT_EQ(s, h.order[1], 0);
		SIM_ASSERT(s, h.intact[0] && h.intact[1]);
		SIM_ASSERT(s, h.t_a > h.t_b);
		gap_sum += h.t_a - h.t_b;
		n++;
		ncnode_free(&h.a);
		ncnode_free(&h.b);
		sim_free(s);
	}
	printf("  B delivered %.1f ms (mean) before A, whose fragment 1 was dropped\n", n ? gap_sum / 1e3 / n : 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_head_of_line_blocking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
