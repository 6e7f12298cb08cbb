/* test_msg_outage.c - a reply after a long two-way outage, from the side that only received.
 *
 * The simulated twin of the netsim rebinding scenario (tests/netsim/test_traversal_rebind.sh): A
 * sends B a large message, the path dies both ways for 14 s (a NAT flush until the traversal finds the
 * new mapping), comes back, and the transfer completes; then B answers, as the node answers a
 * request.  B never sent a message of more than one packet, so its conn is a *presence* (conn.h):
 * a 16-packet sent-packet ring.  During the outage B's keepalive PINGs and probes, all lost, fill
 * that ring; B's ACK-only packets are not recorded there, so A acknowledging them told B nothing,
 * no recorded packet was ever acknowledged again, nothing was declared lost, the ring never freed
 * a slot, and B could send nothing ack-eliciting: its reply waited until msg_timeout and B closed
 * the session (KONCE_FAIL_IDLE).  Now an ack of ACK-only packets moves the recovery's
 * largest_acked (as RFC 9002 tracks every packet), so the outage's packets are declared lost, and
 * a probe that finds the ring full declares the oldest packet lost to make room.
 *
 *   - reply_after_outage: the scenario above; B's reply reaches A, nothing fails or closes (before
 *     the fix: B's keepalive came due with no slot to send it from, and B's timer spun);
 *   - message_after_one_way_outage: only B -> A dies for 3 s in the middle of a 256 KiB message;
 *     B's ACK-only packets of that time fill its ring, and once A's message is acknowledged A has
 *     nothing more to send, so nobody acknowledges B's ACK-only packets: a message B sends then
 *     goes out only because its probe evicts the lost packets;
 *   - node_request_replied_after_outage: the first scenario on the shipping node core (request,
 *     handler, reply, REPLIED outcome);
 *   - path_reset_probes_at_once: the first scenario again, with konce_ep_path_reset() on both sides
 *     when the path comes back (what the node does when the traversal moves a peer between direct
 *     and relayed): A probes at once instead of at a probe timeout backed off through the outage,
 *     so the same seed's message arrives earlier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/msg_pair.h"
#include "tests/sim/node_harness.h"

enum { LEN = 2 << 20, OUTAGE_US = 14 * SIM_SEC };

static const char REPLY[] = "the whole message arrived";

typedef struct fx {
	mpair p;
	mpair_outcomes o;
	unsigned at_b, at_a, bad, reply_err;
	bool reset, probed_at_reset;
	uint64_t t_at_b, t_at_a;
} fx;

static uint8_t pat(size_t k) { return (uint8_t)(k * 7 + (k >> 11) + 3); }

static void on_event(mpair *p, tnode *n, const konce_ep_event *ev, uint64_t now)
{
	fx *f = p->user;
	bool is_a = n == &p->a;
	switch (ev->type) {
	case KONCE_EV_MESSAGE:
		if (is_a) {
			f->at_a++;
			f->t_at_a = now;
			f->bad += ev->len != sizeof REPLY || memcmp(ev->data, REPLY, sizeof REPLY) != 0;
			break;
		}
		f->at_b++;
		f->t_at_b = now;
		if (ev->len == LEN) {
			for (size_t k = 0; k < ev->len; k++)
				if (ev->data[k] != pat(k)) {
					f->bad++;
					break;
				}
			/* answer at once, from inside the event, as the node answers a request */
			uint64_t id;
			f->reply_err += konce_ep_msg_send(n->ep, p->cb, (const uint8_t *)REPLY, sizeof REPLY, 0, 0, now,
							  &id) != 0;
		}
		break;
	default:
		mpair_tally(&f->o, is_a, ev);
		break;
	}
}

static void set_link(fx *f, double loss)
{
	sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 1 * SIM_MS, .loss = loss,
			     .rate = 2000000, .queue_bytes = 200000};
	sim_link_set_both(f->p.s, f->p.a.h, f->p.b.h, &link);
}

static void cut(void *ctx, uint64_t now)
{
	(void)now;
	set_link(ctx, 1.0);
}

static void restore(void *ctx, uint64_t now)
{
	fx *f = ctx;
	set_link(f, 0);
	if (!f->reset)
		return;
	/* what the node does when the traversal moves a virtual address (node_trav.c path_moved) */
	konce_addr to_b = tnode_addr(&f->p.b), to_a = tnode_addr(&f->p.a);
	uint64_t tx = sim_host_tx(f->p.a.h)->sent;
	konce_ep_path_reset(f->p.a.ep, &to_b, now);
	konce_ep_path_reset(f->p.b.ep, &to_a, now);
	tnode_flush(&f->p.a, now);
	tnode_flush(&f->p.b, now);
	f->probed_at_reset = sim_host_tx(f->p.a.h)->sent > tx;
}

static bool no_reply(void *ctx)
{
	fx *f = ctx;
	return (f->at_a == 0 || f->o.delivered_b == 0) && f->o.failed + f->o.closed == 0;
}

/* The scenario of the header; with reset, both sides are told at the end of the outage that the
 * path changed.  Returns when B's message and reply were delivered. */
static void outage_run(fx *f, uint64_t seed, bool reset, uint64_t *t_cut)
{
	static uint8_t big[LEN];
	for (size_t k = 0; k < LEN; k++)
		big[k] = pat(k);
	sim *s = sim_new(seed);
	memset(f, 0, sizeof *f);
	f->p.on_event = on_event;
	f->p.user = f;
	f->reset = reset;
	sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 1 * SIM_MS, .rate = 2000000,
			     .queue_bytes = 200000};
	SIM_ASSERT_EQ(s, mpair_init(&f->p, s, &link, NULL, NULL), 0);
	uint64_t id;
	SIM_ASSERT_EQ(s, mpair_send(&f->p, &f->p.a, big, sizeof big, 0, &id), 0);
	*t_cut = sim_now(s) + 300 * SIM_MS;
	sim_at(s, *t_cut, cut, f);
	sim_at(s, *t_cut + OUTAGE_US, restore, f);
	SIM_ASSERT_EQ(s, sim_run_while(s, no_reply, f, sim_now(s) + 120 * SIM_SEC), 0);
	SIM_ASSERT_EQ(s, f->o.failed + f->o.closed + f->bad + f->reply_err, 0);
	SIM_ASSERT_EQ(s, f->at_b, 1);
	SIM_ASSERT_EQ(s, f->at_a, 1);
	SIM_ASSERT(s, f->t_at_b > *t_cut + OUTAGE_US); /* the outage really cut the transfer */
	SIM_ASSERT_EQ(s, f->o.delivered_b, 1);
	/* A's own message is acknowledged too, and the session stays up */
	sim_run_for(s, 2 * SIM_SEC);
	SIM_ASSERT_EQ(s, f->o.delivered_a, 1);
	SIM_ASSERT_EQ(s, f->o.failed + f->o.closed, 0);
	mpair_free(&f->p);
	sim_free(s);
}

static void test_reply_after_outage(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static fx f;
		uint64_t t_cut;
		outage_run(&f, seed, false, &t_cut);
		printf("  seed %llu: message at B %.1f s after the cut, reply at A %.1f s after the cut\n",
		       (unsigned long long)seed, (double)(f.t_at_b - t_cut) / SIM_SEC,
		       (double)(f.t_at_a - t_cut) / SIM_SEC);
	}
}

/* The same scenario on the shipping node core (tests/sim/node_harness.c): A's 2 MiB message is a
 * request to B's key, B's handler answers it as soon as it arrives (after the outage), and A's
 * send ends REPLIED with B's answer; no peer goes down. */
typedef struct nfx {
	sim *s;
	ncnode a, b;
	unsigned at_b, outcomes, bad;
	int outcome, reason;
	uint64_t t_at_b, t_reply;
	uint8_t reply[sizeof REPLY];
} nfx;

static void n_at_b(void *ctx, konce_node *node, const konce_message *m)
{
	nfx *f = ctx;
	(void)node;
	f->at_b++;
	f->t_at_b = sim_now(f->s);
	if (m->len != LEN || !m->is_request) {
		f->bad++;
		return;
	}
	for (size_t k = 0; k < m->len; k++)
		if (m->data[k] != pat(k)) {
			f->bad++;
			break;
		}
	f->bad += ncnode_reply(&f->b, m, REPLY, sizeof REPLY) != 0;
}

static void n_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	nfx *f = ctx;
	f->outcomes++;
	f->outcome = outcome;
	f->reason = reason;
	f->t_reply = sim_now(f->s);
	f->bad += outcome == KONCE_OUTCOME_REPLIED && (len != sizeof REPLY || memcmp(data, REPLY, len));
}

static void n_link(nfx *f, double loss)
{
	sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 1 * SIM_MS, .loss = loss,
			     .rate = 2000000, .queue_bytes = 200000};
	sim_link_set_both(f->s, f->a.h, f->b.h, &link);
}

static void n_cut(void *ctx, uint64_t now)
{
	(void)now;
	n_link(ctx, 1.0);
}

static void n_restore(void *ctx, uint64_t now)
{
	(void)now;
	n_link(ctx, 0);
}

static bool n_waiting(void *ctx) { return ((nfx *)ctx)->outcomes == 0; }

static void test_node_request_replied_after_outage(void **state)
{
	(void)state;
	static uint8_t big[LEN];
	for (size_t k = 0; k < LEN; k++)
		big[k] = pat(k);
	SIM_FOR_EACH_SEED(seed, 5) {
		static nfx f;
		memset(&f, 0, sizeof f);
		sim *s = f.s = sim_new(seed);
		SIM_ASSERT_EQ(s, ncnode_init(&f.a, s, NULL, "10.0.0.1", 40000, NULL), 0);
		SIM_ASSERT_EQ(s, ncnode_init(&f.b, s, NULL, "192.0.2.1", 7807, NULL), 0);
		n_link(&f, 0);
		SIM_ASSERT_EQ(s, konce_nodecore_handle(f.b.core, 300, n_at_b, &f), 0);
		ncnode_learn(&f.a, &f.b);
		konce_send_opts o = {.expect_reply = 1, .reply_lifetime_ms = 60000};
		SIM_ASSERT_EQ(s, ncnode_send(&f.a, ncnode_pk(&f.b), 300, big, sizeof big, &o, n_outcome, &f, NULL), 0);
		uint64_t t_cut = sim_now(s) + 300 * SIM_MS;
		sim_at(s, t_cut, n_cut, &f);
		sim_at(s, t_cut + OUTAGE_US, n_restore, &f);
		SIM_ASSERT_EQ(s, sim_run_while(s, n_waiting, &f, sim_now(s) + 120 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, f.outcome, KONCE_OUTCOME_REPLIED);
		SIM_ASSERT_EQ(s, f.bad, 0);
		SIM_ASSERT_EQ(s, f.at_b, 1);
		SIM_ASSERT(s, f.t_at_b > t_cut + OUTAGE_US); /* the outage really cut the transfer */
		sim_run_for(s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(s, f.outcomes, 1);
		SIM_ASSERT_EQ(s, f.a.peers_down + f.b.peers_down, 0);
		printf("  seed %llu: node request at B %.1f s after the cut, REPLIED at A %.1f s after the cut\n",
		       (unsigned long long)seed, (double)(f.t_at_b - t_cut) / SIM_SEC,
		       (double)(f.t_reply - t_cut) / SIM_SEC);
		ncnode_free(&f.a);
		ncnode_free(&f.b);
		sim_free(s);
	}
}

/* konce_ep_path_reset at the end of the outage: A probes at once instead of at its backed-off
 * probe timeout, so the same run (same seed) completes earlier. */
static void test_path_reset_probes_at_once(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		static fx plain, reset;
		uint64_t t_cut, t_cut2;
		outage_run(&plain, seed, false, &t_cut);
		outage_run(&reset, seed, true, &t_cut2);
		assert_int_equal(t_cut, t_cut2);
		assert_true(reset.probed_at_reset);
		assert_true(reset.t_at_b < plain.t_at_b);
		printf("  seed %llu: message at B %.1f s after the end of the outage with the reset, %.1f s without\n",
		       (unsigned long long)seed, (double)(reset.t_at_b - t_cut - OUTAGE_US) / SIM_SEC,
		       (double)(plain.t_at_b - t_cut - OUTAGE_US) / SIM_SEC);
	}
}

static bool b_undelivered(void *ctx)
{
	fx *f = ctx;
	return f->at_a == 0 && f->o.failed + f->o.closed == 0;
}

static bool a_undelivered(void *ctx)
{
	fx *f = ctx;
	return f->o.delivered_a == 0 && f->o.failed + f->o.closed == 0;
}

static void cut_b_to_a(void *ctx, uint64_t now)
{
	fx *f = ctx;
	(void)now;
	sim_link_cfg dead = {.delay_us = 20 * SIM_MS, .loss = 1.0};
	sim_link_set(f->p.s, f->p.b.h, f->p.a.h, &dead);
}

static void test_message_after_one_way_outage(void **state)
{
	(void)state;
	static uint8_t mid[256 * 1024];
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static fx f;
		memset(&f, 0, sizeof f);
		f.p.on_event = on_event;
		f.p.user = &f;
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 1 * SIM_MS, .rate = 2000000,
				     .queue_bytes = 200000};
		SIM_ASSERT_EQ(s, mpair_init(&f.p, s, &link, NULL, NULL), 0);
		uint64_t id;
		SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.a, mid, sizeof mid, 0, &id), 0);
		uint64_t t_cut = sim_now(s) + 50 * SIM_MS;
		sim_at(s, t_cut, cut_b_to_a, &f);
		sim_at(s, t_cut + 3 * SIM_SEC, restore, &f);
		SIM_ASSERT_EQ(s, sim_run_while(s, a_undelivered, &f, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, f.o.delivered_a, 1);
		SIM_ASSERT_EQ(s, f.at_b, 1);
		uint64_t t_send = sim_now(s);
		SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.b, REPLY, sizeof REPLY, 0, &id), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, b_undelivered, &f, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, f.o.failed + f.o.closed + f.bad, 0);
		SIM_ASSERT_EQ(s, f.at_a, 1);
		sim_run_for(s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(s, f.o.delivered_b, 1);
		SIM_ASSERT_EQ(s, f.o.failed + f.o.closed, 0);
		printf("  seed %llu: A's message acknowledged %.1f s after the cut, B's message at A %.1f s after it was sent\n",
		       (unsigned long long)seed, (double)(t_send - t_cut) / SIM_SEC,
		       (double)(f.t_at_a - t_send) / SIM_SEC);
		mpair_free(&f.p);
		sim_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_after_outage),
		cmocka_unit_test(test_node_request_replied_after_outage),
		cmocka_unit_test(test_message_after_one_way_outage),
		cmocka_unit_test(test_path_reset_probes_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
