/* test_conn.c - one session's reliability state, two konce_conns wired back to back (no
 * session, no crypto): presence vs channel, ack-only packets, refusal of a too-large message,
 * keepalive, the message timeout, the estimate of when an outcome is known, a path reset, and the
 * pacing quantum the sender wakes for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/conn.h"
#include "node/transport/slack.h"
#include "node/transport/frame.h"
#include "tests/unit/testenv.h"

#define MS 1000ull

typedef struct side {
	konce_conn *c;
	uint64_t pn;
	unsigned delivered, refused, messages;
	uint8_t why;
	uint64_t last_len;
} side;

static void cb_delivered(void *ctx, const konce_smsg *m)
{
	(void)m;
	((side *)ctx)->delivered++;
}
static void cb_refused(void *ctx, const konce_smsg *m, uint8_t why)
{
	(void)m;
	((side *)ctx)->refused++;
	((side *)ctx)->why = why;
}
static void cb_message(void *ctx, konce_reasm_msg *m)
{
	side *s = ctx;
	s->messages++;
	s->last_len = m->len;
	konce_conn_release(s->c, m);
}

static konce_conn_cfg cfg(uint64_t max_message)
{
	return (konce_conn_cfg){.budget = konce_reasm_charge(max_message), .max_message = max_message, .ring = 256,
				.keepalive_us = 25000 * MS, .msg_timeout_us = 30000 * MS,
				.reasm_idle_us = 180000 * MS, .overhead = 40};
}

static void make(side *s, test_env *te, uint64_t max_message)
{
	konce_conn_cfg c = cfg(max_message);
	konce_conn_ops ops = {cb_delivered, cb_refused, cb_message, s};
	s->pn = 1;
	assert_int_equal(konce_conn_new(&s->c, &te->env, &c, &ops, 0), 0);
}

/* Two sides in one counting env (seeded seed), able to take messages of max_a and max_b bytes. */
static void open_pair(test_env *te, unsigned seed, side *a, uint64_t max_a, side *b, uint64_t max_b)
{
	test_env_init(te, seed);
	*a = (side){0};
	*b = (side){0};
	make(a, te, max_a);
	make(b, te, max_b);
}

/* Frees both, and proves every allocation was returned. */
static void close_pair(test_env *te, side *a, side *b)
{
	konce_conn_free(a->c);
	konce_conn_free(b->c);
	assert_int_equal(te->allocs, te->frees);
}

/* Everything `from` has due goes to `to` (10 ms later), packet by packet; returns packets sent.
 * A packet is dropped when drop says so. */
static unsigned deliver(side *from, side *to, uint64_t *now, bool (*drop)(uint64_t pn))
{
	unsigned n = 0;
	uint8_t p[KONCE_WIRE_MAX_PAYLOAD];
	konce_sent_packet sp;
	size_t w;
	while ((w = konce_conn_build(from->c, p, sizeof p, from->pn, *now, &sp))) {
		assert_int_equal(konce_frame_validate(p, w, NULL), 0);
		konce_conn_on_sent(from->c, &sp, w + 40, *now);
		if (!drop || !drop(from->pn))
			konce_conn_on_packet(to->c, from->pn, p, w, *now + 10 * MS);
		from->pn++;
		n++;
	}
	return n;
}

static void exchange(side *a, side *b, uint64_t *now, uint64_t until)
{
	while (*now < until) {
		*now += 10 * MS;
		konce_conn_tick(a->c, *now);
		konce_conn_tick(b->c, *now);
		deliver(a, b, now, NULL);
		deliver(b, a, now, NULL);
	}
}

static void test_presence_then_channel(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 1, &a, 1 << 20, &b, 1 << 20);
	uint64_t now = 0;
	static uint8_t msg[20000];
	/* three short messages to a presence: one packet in flight at a time */
	for (int i = 0; i < 3; i++)
		assert_int_equal(konce_conn_send(a.c, msg, 100, 0, (uint64_t)i + 1, now), 0);
	assert_false(a.c->channel);
	assert_int_equal(deliver(&a, &b, &now, NULL), 1);
	assert_int_equal(a.c->rec.cap, KONCE_CONN_PRESENCE_RING);
	exchange(&a, &b, &now, 2000 * MS);
	assert_int_equal(a.delivered, 3);
	assert_int_equal(b.messages, 3);
	/* a message of 21 fragments opens the channel: the ring grows, several packets fly */
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, 4, now), 0);
	assert_true(a.c->channel);
	assert_int_equal(a.c->rec.cap, 256);
	assert_true(deliver(&a, &b, &now, NULL) > 1);
	exchange(&a, &b, &now, now + 3000 * MS);
	assert_int_equal(a.delivered, 4);
	assert_int_equal(b.messages, 4);
	assert_int_equal(b.last_len, sizeof msg);
	/* all acked, nothing queued: the channel closed and the ring is small again */
	assert_false(a.c->channel);
	assert_int_equal(a.c->rec.cap, KONCE_CONN_PRESENCE_RING);
	/* the receiver sent only acks (and an occasional PING): its ring held only those */
	assert_true(b.c->acks_tx > 0);
	assert_int_equal(a.c->cc.bytes_in_flight, a.c->rec.bytes_in_flight);
	close_pair(&te, &a, &b);
}

/* A kept channel (konce_conn_keep_channel): short messages fly together, not one per round trip,
 * and the channel stays open once everything is acked. */
static void test_kept_channel(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 1, &a, 1 << 20, &b, 1 << 20);
	uint64_t now = 0;
	static uint8_t msg[900]; /* one fragment each, and no two in one packet */
	assert_int_equal(konce_frag_count(sizeof msg), 1);
	assert_int_equal(konce_conn_keep_channel(a.c), 0);
	assert_true(a.c->channel);
	assert_int_equal(a.c->rec.cap, 256);
	for (int i = 0; i < 3; i++)
		assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, (uint64_t)i + 1, now), 0);
	assert_true(deliver(&a, &b, &now, NULL) > 1); /* a presence would send 1 */
	exchange(&a, &b, &now, 2000 * MS);
	assert_int_equal(a.delivered, 3);
	assert_int_equal(b.messages, 3);
	assert_true(a.c->channel); /* all acked, nothing queued: still open */
	assert_int_equal(a.c->rec.cap, 256);
	assert_int_equal(konce_conn_keep_channel(a.c), 0); /* again: nothing changes */
	close_pair(&te, &a, &b);
}

static void test_refuse_too_large(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 2, &a, 1 << 20, &b, 4096);
	uint64_t now = 0;
	static uint8_t msg[10000];
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, 1, now), 0);
	assert_int_equal(konce_conn_send(a.c, msg, 4000, 0, 2, now), 0);
	exchange(&a, &b, &now, 3000 * MS);
	assert_int_equal(a.refused, 1);
	assert_int_equal(a.why, KONCE_REFUSE_TOO_LARGE);
	assert_int_equal(a.delivered, 1);
	assert_int_equal(b.messages, 1);
	assert_int_equal(b.last_len, 4000);
	assert_int_equal(b.c->ra.used, 0);
	close_pair(&te, &a, &b);
}

static void test_keepalive_and_timeout(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 3, &a, 1 << 20, &b, 1 << 20);
	uint64_t now = 0;
	/* wanted and idle: a PING after keepalive_us, up to one slack step early (on its grid point,
	 * slack.h), never late, and the peer acks it */
	a.c->wanted = true;
	const uint64_t ka = konce_ep_due_early(25000 * MS, 25000 * MS);
	assert_true(ka <= 25000 * MS && 25000 * MS - ka < konce_ep_slack(25000 * MS));
	assert_int_equal(konce_conn_next_timer(a.c, now), ka);
	assert_true(konce_conn_tick(a.c, ka - 1));
	assert_false(a.c->ping_due);
	now = ka;
	assert_true(konce_conn_tick(a.c, now));
	assert_true(a.c->ping_due);
	assert_int_equal(deliver(&a, &b, &now, NULL), 1);
	assert_false(a.c->ping_due);
	exchange(&a, &b, &now, now + 200 * MS);
	assert_int_equal(a.c->rec.eliciting_in_flight, 0);
	/* not wanted, nothing queued: no keepalive timer */
	a.c->wanted = false;
	assert_true(konce_conn_next_timer(a.c, now) > now + 100000 * MS);
	/* a message into the void: the estimate is about a probe timeout out, then no progress
	 * for msg_timeout_us makes tick say the peer is gone */
	static uint8_t msg[3000];
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, 9, now), 0);
	uint64_t eta = konce_conn_eta(a.c, 9, now);
	assert_true(eta > now && eta < now + 5000 * MS);
	assert_int_equal(konce_conn_eta(a.c, 10, now), UINT64_MAX);
	uint64_t start = now;
	bool alive = true;
	while (alive && now < start + 60000 * MS) {
		now += 100 * MS;
		alive = konce_conn_tick(a.c, now);
		uint8_t p[KONCE_WIRE_MAX_PAYLOAD];
		konce_sent_packet sp;
		size_t w;
		while ((w = konce_conn_build(a.c, p, sizeof p, a.pn++, now, &sp)))
			konce_conn_on_sent(a.c, &sp, w + 40, now);
	}
	assert_false(alive);
	assert_true(now >= start + 30000 * MS && now <= start + 30200 * MS);
	assert_true(a.c->probes > 0);
	close_pair(&te, &a, &b);
}

static bool drop_all(uint64_t pn)
{
	(void)pn;
	return true;
}

/* A transfer, then 5 s in which nothing arrives (the probe timeout backs off, the losses collapse
 * the window), then konce_conn_path_reset: the window and RTT start afresh, two probes are due at
 * once, and the outage's packets, declared lost afterwards, are not taken as congestion. */
static void test_path_reset(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 4, &a, 1 << 20, &b, 1 << 20);
	uint64_t now = 0;
	static uint8_t msg[300000];
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, 1, now), 0);
	exchange(&a, &b, &now, 100 * MS);
	assert_int_equal(a.delivered, 0);
	uint64_t end = now + 5000 * MS;
	while (now < end) {
		now += 10 * MS;
		assert_true(konce_conn_tick(a.c, now));
		konce_conn_tick(b.c, now);
		deliver(&a, &b, &now, drop_all);
		deliver(&b, &a, &now, drop_all);
	}
	assert_true(a.c->rec.pto_count > 2);
	assert_true(a.c->rec.eliciting_in_flight > 0);
	konce_conn_path_reset(a.c, now);
	assert_int_equal(a.c->rec.pto_count, 0);
	assert_int_equal(a.c->probes_due, 2);
	assert_int_equal(a.c->rec.rtt.smoothed, KONCE_INITIAL_RTT_US);
	assert_int_equal(a.c->cc.cwnd, konce_cc_initial_window(KONCE_CONN_MSS));
	assert_int_equal(a.c->cc.ssthresh, UINT64_MAX);
	assert_int_equal(a.c->cc.bytes_in_flight, a.c->rec.bytes_in_flight);
	assert_int_equal(konce_conn_next_timer(a.c, now), now);
	assert_true(deliver(&a, &b, &now, NULL) >= 1);
	exchange(&a, &b, &now, now + 5000 * MS);
	assert_int_equal(a.delivered, 1);
	assert_int_equal(b.messages, 1);
	assert_int_equal(b.last_len, sizeof msg);
	/* no loss on the new path: no congestion response (NewReno would still be in slow start;
	 * BBR's window follows its model of this small transfer, not the loss-free history) */
	assert_int_equal(a.c->cc.ssthresh, UINT64_MAX);
	assert_int_equal(a.c->cc.episodes, 0);
	assert_true(a.c->cc.cwnd >= 4 * KONCE_CONN_MSS);
	assert_int_equal(a.c->cc.bytes_in_flight, a.c->rec.bytes_in_flight);
	/* nothing outstanding: a reset asks for no probe */
	konce_conn_path_reset(a.c, now);
	assert_int_equal(a.c->probes_due, 0);
	close_pair(&te, &a, &b);
}

/* The path's RTT from outside the controller (konce_conn_seed_rtt) reaches the controller a class
 * switch starts: a background busy period (LEDBAT) and then a default one (BBR) in one channel, and
 * a path reset forgets it.  Which sample to keep is the session's choice (konce_ep_rtt_seen). */
static void test_seed_survives_class_switch(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 5, &a, 1 << 20, &b, 1 << 20);
	uint64_t now = 1000 * MS;
	static uint8_t msg[20000];
	assert_int_equal(konce_conn_keep_channel(a.c), 0);
	konce_conn_seed_rtt(a.c, 15 * MS, now - 100 * MS, now);
	assert_int_equal(a.c->seed_rtt, 15 * MS);
	assert_int_equal(a.c->seed_at, now - 100 * MS);
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 1, 1, now), 0); /* background */
	assert_ptr_equal(a.c->cc.ops, &konce_cc_ledbat);
	exchange(&a, &b, &now, now + 2000 * MS);
	assert_int_equal(a.delivered, 1);
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, 2, now), 0); /* default */
	assert_ptr_equal(a.c->cc.ops, &konce_cc_bbr);
	assert_int_equal(a.c->cc.u.bbr.path_rtt, 15 * MS);
	assert_int_equal(a.c->cc.u.bbr.path_rtt_at, 1000 * MS - 100 * MS);
	exchange(&a, &b, &now, now + 2000 * MS);
	assert_int_equal(a.delivered, 2);
	konce_conn_path_reset(a.c, now);
	assert_int_equal(a.c->seed_rtt, 0);
	assert_int_equal(a.c->cc.u.bbr.path_rtt, 0);
	close_pair(&te, &a, &b);
}

/* A packet built with gather (its fragments' data left as holes for the seal, gather.h) is, with
 * the holes filled from the message, the packet built with copies: two identical pairs, one
 * building each way, carry small messages (several fragments a packet), an empty one and a large
 * one, and every packet matches byte for byte. */
static void test_build_gather_matches_copy(void **state)
{
	(void)state;
	test_env te1, te2;
	side a1, b1, a2, b2;
	open_pair(&te1, 9, &a1, 1 << 20, &b1, 1 << 20);
	open_pair(&te2, 9, &a2, 1 << 20, &b2, 1 << 20);
	assert_int_equal(konce_conn_keep_channel(a1.c), 0);
	assert_int_equal(konce_conn_keep_channel(a2.c), 0);
	uint64_t now = 1000 * MS, now2;
	static uint8_t big[20000], small[3][100];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	for (unsigned k = 0; k < 3; k++) {
		memset(small[k], 'a' + k, sizeof small[k]);
		assert_int_equal(konce_conn_send(a1.c, small[k], sizeof small[k], 0, k + 1, now), 0);
		assert_int_equal(konce_conn_send(a2.c, small[k], sizeof small[k], 0, k + 1, now), 0);
	}
	assert_int_equal(konce_conn_send(a1.c, big, 0, 0, 4, now), 0);
	assert_int_equal(konce_conn_send(a2.c, big, 0, 0, 4, now), 0);
	assert_int_equal(konce_conn_send(a1.c, big, sizeof big, 0, 5, now), 0);
	assert_int_equal(konce_conn_send(a2.c, big, sizeof big, 0, 5, now), 0);
	unsigned holes = 0, most = 0, packets = 0;
	for (int round = 0; round < 500 && a1.delivered < 5; round++) {
		now += 10 * MS;
		konce_conn_tick(a1.c, now);
		konce_conn_tick(a2.c, now);
		konce_conn_tick(b1.c, now);
		konce_conn_tick(b2.c, now);
		static uint8_t p1[1200], p2[1200];
		konce_sent_packet sp1, sp2;
		konce_gather g;
		size_t w1;
		while ((w1 = konce_conn_build_gather(a1.c, p1, 1200, a1.pn, now, &sp1, &g))) {
			size_t w2 = konce_conn_build(a2.c, p2, 1200, a2.pn, now, &sp2);
			assert_int_equal(w1, w2);
			for (unsigned i = 0; i < g.n; i++) {
				assert_true(g.hole[i].off + g.hole[i].len <= w1);
				if (g.hole[i].len)
					memcpy(p1 + g.hole[i].off, g.hole[i].src, g.hole[i].len);
			}
			holes += g.n;
			most = g.n > most ? g.n : most;
			assert_memory_equal(p1, p2, w1);
			assert_int_equal(sp1.nrefs, sp2.nrefs);
			konce_conn_on_sent(a1.c, &sp1, w1 + 40, now);
			konce_conn_on_sent(a2.c, &sp2, w2 + 40, now);
			konce_conn_on_packet(b1.c, a1.pn++, p1, w1, now + 10 * MS);
			konce_conn_on_packet(b2.c, a2.pn++, p2, w2, now + 10 * MS);
			packets++;
		}
		assert_int_equal(konce_conn_build(a2.c, p2, 1200, a2.pn, now, &sp2), 0);
		now2 = now;
		deliver(&b1, &a1, &now, NULL);
		deliver(&b2, &a2, &now2, NULL);
	}
	assert_int_equal(a1.delivered, 5);
	assert_int_equal(a2.delivered, 5);
	assert_int_equal(b1.messages, 5);
	assert_true(packets >= 18 && holes > packets); /* 20,000 bytes at ~1,150 a packet, and the small ones */
	assert_true(most >= 2); /* a packet carried several fragments */
	close_pair(&te1, &a1, &b1);
	close_pair(&te2, &a2, &b2);
}

/* The sender wakes for a quantum of the pacing rate, not for each datagram: at a high rate the
 * next timer waits until 1 ms of the rate (bounded by the burst) has built up, so one wake sends a
 * batch; at a low rate, where 1 ms of it is under a few datagrams, it waits for one, as the pacer does. */
/* The pacer's burst: 2 ms at the rate plus the host's lateness, between 4 datagrams and 256 KiB. */
static void test_pacer_burst(void **state)
{
	(void)state;
	assert_int_equal(konce_conn_pacer_burst(12500000, 0, 1200), 25000);      /* 100 Mbit/s: 2 ms */
	assert_int_equal(konce_conn_pacer_burst(12500000, 4000, 1200), 75000);   /* woken 4 ms late */
	assert_int_equal(konce_conn_pacer_burst(100000, 0, 1200), 4 * 1200);     /* at least 4 datagrams */
	assert_int_equal(konce_conn_pacer_burst(100000, 0, 8936), 4 * 8936);
	assert_int_equal(konce_conn_pacer_burst(125000000, 0, 1200), 250000);    /* 1 Gbit/s: still 2 ms */
	assert_int_equal(konce_conn_pacer_burst(400000000, 0, 8936), 256 * 1024); /* the cap */
	assert_int_equal(KONCE_CONN_PACER_BURST_MAX, 256 * 1024);
}

static void test_pace_quantum(void **state)
{
	(void)state;
	test_env te;
	side a, b;
	open_pair(&te, 5, &a, 1 << 20, &b, 1 << 20);
	uint64_t now = 0;
	static uint8_t msg[1 << 20];
	assert_int_equal(konce_conn_send(a.c, msg, sizeof msg, 0, 1, now), 0);
	exchange(&a, &b, &now, 60 * MS);
	assert_true(a.c->channel);
	assert_true(konce_msgq_has_data(&a.c->q));
	a.c->cc.cwnd = a.c->cc.bytes_in_flight + 1000 * KONCE_CONN_MSS; /* the window holds nothing back */
	uint64_t mss = a.c->cc.mss;
	now += 20 * MS; /* past the acks exchange() handed over 10 ms ahead */

	/* 400 MB/s, a burst of 64 KiB: the quantum is the burst (under 1 ms of the rate), 54 datagrams of
	 * 1,200 bytes (the message has room for one such batch after exchange()) */
	const uint64_t burst = 64 * 1024;
	uint64_t fast = 400000000;
	konce_pacer_set_rate(&a.c->pacer, fast, now);
	konce_pacer_set_burst(&a.c->pacer, burst);
	a.c->pacer.tokens = 0;
	assert_int_equal(konce_conn_pace_quantum(a.c), burst);
	uint64_t t = konce_conn_next_timer(a.c, now);
	assert_true(t - now >= 16 * mss * 1000000 / fast);
	assert_int_equal(t - now, (burst * 1000000ull + fast - 1) / fast);
	/* woken then, it sends the batch in one go */
	uint8_t p[KONCE_WIRE_MAX_PAYLOAD];
	konce_sent_packet sp;
	size_t w;
	unsigned n = 0;
	while ((w = konce_conn_build(a.c, p, sizeof p, a.pn, t, &sp))) {
		konce_conn_on_sent(a.c, &sp, w + 40, t);
		a.pn++;
		n++;
	}
	assert_true(n >= 16);
	now = t;

	/* 12.5 MB/s (100 Mbit/s), burst 25 KB: 1 ms of the rate, 12,500 bytes (10 datagrams) */
	uint64_t mid = 12500000;
	konce_pacer_set_rate(&a.c->pacer, mid, now);
	konce_pacer_set_burst(&a.c->pacer, 25000);
	a.c->pacer.tokens = 0;
	assert_int_equal(konce_conn_pace_quantum(a.c), 12500);
	assert_int_equal(konce_conn_next_timer(a.c, now) - now, 1000);

	/* 3 MB/s: 1 ms of the rate is 2.5 datagrams, under KONCE_CONN_PACE_QUANTUM_MIN: one datagram */
	konce_pacer_set_rate(&a.c->pacer, 3000000, now);
	konce_pacer_set_burst(&a.c->pacer, KONCE_CONN_PACER_BURST);
	a.c->pacer.tokens = 0;
	assert_int_equal(konce_conn_pace_quantum(a.c), mss);
	assert_int_equal(konce_conn_next_timer(a.c, now) - now, 400);

	/* 500 KB/s: one datagram (2.4 ms), not 1 ms of the rate */
	uint64_t slow = 500000;
	konce_pacer_set_rate(&a.c->pacer, slow, now);
	konce_pacer_set_burst(&a.c->pacer, KONCE_CONN_PACER_BURST);
	a.c->pacer.tokens = 0;
	assert_int_equal(konce_conn_pace_quantum(a.c), mss);
	assert_int_equal(konce_conn_next_timer(a.c, now) - now, (mss * 1000000 + slow - 1) / slow);
	close_pair(&te, &a, &b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presence_then_channel),
		cmocka_unit_test(test_kept_channel),
		cmocka_unit_test(test_refuse_too_large),
		cmocka_unit_test(test_keepalive_and_timeout),
		cmocka_unit_test(test_path_reset),
		cmocka_unit_test(test_seed_survives_class_switch),
		cmocka_unit_test(test_build_gather_matches_copy),
		cmocka_unit_test(test_pacer_burst),
		cmocka_unit_test(test_pace_quantum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
