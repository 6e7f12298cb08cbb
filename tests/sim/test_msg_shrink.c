/* test_msg_shrink.c - channels that shrink back to presences and grow again, under loss.
 *
 * A and B exchange rounds of messages over a link that loses 5%, duplicates 2% and reorders 5%
 * of datagrams by 30 ms (40 ms one way): each round A sends three messages (one packet, a few,
 * many) and B two, in both classes; when all are delivered the pair stays quiet for 8 s, past
 * the shrink interval (ep_msg.c), and then the next round starts.  Every message is delivered
 * exactly once and no message fails; every round grows both sides into channels again after the
 * previous shrink, and at the end each side shrank as often as it grew (late retransmissions and
 * duplicates may grow a presence once more: it shrinks again).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/msg_pair.h"

enum { ROUNDS = 8, QUIET_US = 8 * SIM_SEC, A_MSGS = 3, B_MSGS = 2 };

static const size_t a_len[A_MSGS] = {200, 4000, 60000}, b_len[B_MSGS] = {100, 9000};

typedef struct fx {
	mpair p;
	unsigned got_a[ROUNDS][B_MSGS], got_b[ROUNDS][A_MSGS];
	mpair_outcomes o;
	unsigned bad;
} fx;

/* byte k of message (round, idx) of a side: the receiver checks every byte */
static uint8_t pat(unsigned side, unsigned round, unsigned idx, size_t k)
{
	return (uint8_t)(side * 101 + round * 31 + idx * 7 + k * 13 + (k >> 9));
}

static void on_event(mpair *p, tnode *n, const konce_ep_event *ev, uint64_t now)
{
	(void)now;
	fx *f = p->user;
	bool at_a = n == &p->a;
	switch (ev->type) {
	case KONCE_EV_MESSAGE: {
		if (ev->len < 2) {
			f->bad++;
			break;
		}
		unsigned round = ev->data[0], idx = ev->data[1], side = at_a ? 1 : 0; /* the sender's */
		if (round >= ROUNDS || idx >= (at_a ? B_MSGS : A_MSGS) || ev->len != (at_a ? b_len : a_len)[idx]) {
			f->bad++;
			break;
		}
		for (size_t k = 2; k < ev->len; k++)
			if (ev->data[k] != pat(side, round, idx, k)) {
				f->bad++;
				break;
			}
		if (at_a)
			f->got_a[round][idx]++;
		else
			f->got_b[round][idx]++;
		break;
	}
	default:
		mpair_tally(&f->o, at_a, ev);
		break;
	}
}

static void send_one(fx *f, tnode *n, unsigned side, unsigned round, unsigned idx, size_t len)
{
	static uint8_t buf[65536];
	buf[0] = (uint8_t)round;
	buf[1] = (uint8_t)idx;
	for (size_t k = 2; k < len; k++)
		buf[k] = pat(side, round, idx, k);
	uint64_t id;
	SIM_ASSERT_EQ(f->p.s, mpair_send(&f->p, n, buf, len, idx == 1 ? KONCE_MSG_CLASS_BACKGROUND : 0, &id), 0);
}

static unsigned want_a, want_b; /* deliveries the round waits for */

static bool round_busy(void *ctx)
{
	fx *f = ctx;
	return (f->o.delivered_a < want_a || f->o.delivered_b < want_b) && f->o.failed + f->o.closed + f->bad == 0;
}

static void test_shrink_under_loss(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 4) {
		static fx f;
		memset(&f, 0, sizeof f);
		sim *s = sim_new(seed);
		f.p.on_event = on_event;
		f.p.user = &f;
		sim_link_cfg link = {.delay_us = 40 * SIM_MS, .jitter_us = 2 * SIM_MS, .loss = 0.05, .duplicate = 0.02,
				     .reorder = 0.05, .reorder_us = 30 * SIM_MS, .rate = 4000000, .queue_bytes = 200000};
		SIM_ASSERT_EQ(s, mpair_init(&f.p, s, &link, NULL, NULL), 0);
		const struct konce_ep_counters *ca = tnode_counters(&f.p.a), *cb = tnode_counters(&f.p.b);
		want_a = want_b = 0;
		for (unsigned r = 0; r < ROUNDS; r++) {
			uint64_t grown_a = ca->channels_grown, grown_b = cb->channels_grown;
			for (unsigned i = 0; i < A_MSGS; i++)
				send_one(&f, &f.p.a, 0, r, i, a_len[i]);
			for (unsigned i = 0; i < B_MSGS; i++)
				send_one(&f, &f.p.b, 1, r, i, b_len[i]);
			want_a += A_MSGS;
			want_b += B_MSGS;
			SIM_ASSERT_EQ(s, sim_run_while(s, round_busy, &f, sim_now(s) + 60 * SIM_SEC), 0);
			SIM_ASSERT_EQ(s, f.o.failed + f.o.closed + f.bad, 0);
			SIM_ASSERT_EQ(s, f.o.delivered_a, want_a);
			SIM_ASSERT_EQ(s, f.o.delivered_b, want_b);
			if (r > 0) {
				/* the previous quiet spell shrank both: this round grew them again */
				SIM_ASSERT(s, ca->channels_grown > grown_a);
				SIM_ASSERT(s, cb->channels_grown > grown_b);
			}
			sim_run_for(s, QUIET_US);
			SIM_ASSERT_EQ(s, ca->channels_shrunk, ca->channels_grown); /* a presence again */
			SIM_ASSERT_EQ(s, cb->channels_shrunk, cb->channels_grown);
		}
		for (unsigned r = 0; r < ROUNDS; r++) {
			for (unsigned i = 0; i < A_MSGS; i++)
				SIM_ASSERT_EQ(s, f.got_b[r][i], 1); /* exactly once */
			for (unsigned i = 0; i < B_MSGS; i++)
				SIM_ASSERT_EQ(s, f.got_a[r][i], 1);
		}
		SIM_ASSERT(s, ca->channels_shrunk >= ROUNDS);
		SIM_ASSERT(s, cb->channels_shrunk >= ROUNDS);
		printf("  seed %llu: A grew %llu and shrank %llu times, B %llu and %llu\n", (unsigned long long)seed,
		       (unsigned long long)ca->channels_grown, (unsigned long long)ca->channels_shrunk,
		       (unsigned long long)cb->channels_grown, (unsigned long long)cb->channels_shrunk);
		mpair_free(&f.p);
		sim_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shrink_under_loss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
