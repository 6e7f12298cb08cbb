/* test_cc_prr.c - Proportional Rate Reduction (cc_prr.c, RFC 9937) under NewReno, in the two
 * scenarios of RFC 6937's section 7: a window of 20 datagrams, ssthresh 10 after the cut, and
 *   - one loss: the sender sends ceil(prr_delivered * ssthresh / RecoverFS) by each ack -- about
 *     one datagram per two acks, never a burst -- and ends the episode with exactly ssthresh in
 *     flight (where cwnd = ssthresh at once would send nothing for half a round trip);
 *   - 15 consecutive losses: what is in flight falls below ssthresh; acks that show more loss
 *     send only what they deliver (PRR-CRB), safe acks one datagram more (PRR-SSRB, slow start),
 *     and what is in flight climbs back toward ssthresh without exceeding it;
 * and the episode's boundaries: a loss within it changes nothing but pipe, the ack of a packet sent
 * after it began ends it at cwnd = ssthresh, and the next loss starts a new one afresh.
 *
 * The test plays the network: datagrams of MSS numbered from 1, acked one by one; the loss
 * detector (recovery.h's packet threshold of 3) is played by hand; after each ack the sender sends
 * whatever konce_cc_can_send allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/cc.h"

#define MSS 1200
#define MS 1000
#define RTT (100 * MS)

typedef struct net {
	konce_cc cc;
	uint64_t sent_at[256]; /* by packet number */
	uint64_t npkts;        /* packets sent so far */
	uint64_t now;
} net;

static unsigned send_all(net *n)
{
	unsigned k = 0;
	while (konce_cc_can_send(&n->cc, MSS)) {
		n->sent_at[++n->npkts] = n->now;
		konce_cc_on_sent(&n->cc, MSS, n->now);
		k++;
		assert_true(k < 64);
	}
	return k;
}

/* A window of w datagrams in congestion avoidance, all in flight at time 1. */
static void start(net *n, uint64_t w)
{
	memset(n, 0, sizeof *n);
	konce_cc_init(&n->cc, &konce_cc_newreno, MSS, 0);
	n->cc.cwnd = w * MSS;
	n->cc.ssthresh = w * MSS;
	n->now = 1;
	assert_int_equal(send_all(n), w);
	n->now += RTT;
}

/* The ack of packet pn, one ms after the previous; lost packets lo..hi (0: none) found by it;
 * returns how many datagrams the sender sent in answer. */
static unsigned ack(net *n, uint64_t pn, uint64_t lo, uint64_t hi)
{
	n->now += MS;
	konce_cc_ack a = {.bytes = MSS, .largest_sent = n->sent_at[pn], .rtt = RTT, .min_rtt = RTT};
	konce_cc_on_ack(&n->cc, &a, n->now);
	if (lo)
		konce_cc_on_loss(&n->cc, (hi - lo + 1) * MSS, n->sent_at[hi], n->now);
	return send_all(n);
}

/* A window of 20 whose packet 1 is lost: the acks of 2 and 3, then the ack of 4 finds it (the
 * episode begins). */
static void one_lost(net *n)
{
	start(n, 20);
	ack(n, 2, 0, 0);
	ack(n, 3, 0, 0);
	ack(n, 4, 1, 1);
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static void test_one_loss_proportional(void **state)
{
	(void)state;
	net n;
	start(&n, 20);
	/* packet 1 is lost; the acks of 2 and 3 send nothing new (the window is full) */
	assert_int_equal(ack(&n, 2, 0, 0), 1); /* congestion avoidance: one acked, one sent */
	assert_int_equal(ack(&n, 3, 0, 0), 1);
	/* the ack of 4 finds 1 lost: ssthresh 10, RecoverFS what was in flight before that ack (20),
	 * and the retransmission goes at once */
	uint64_t sent = ack(&n, 4, 1, 1);
	assert_int_equal(n.cc.ssthresh, 10 * MSS);
	assert_int_equal(n.cc.prr.recover_fs, 20 * MSS);
	assert_int_equal(n.cc.episodes, 1);
	assert_int_equal(sent, 1);
	/* the rest of the flight (5..22) is delivered an ack at a time */
	uint64_t k = 1; /* acks in the episode so far */
	for (uint64_t pn = 5; pn <= 22; pn++) {
		uint64_t pipe_before = n.cc.bytes_in_flight - MSS; /* after this ack's delivery */
		unsigned s = ack(&n, pn, 0, 0);
		k++;
		assert_true(s <= 1); /* never a burst */
		sent += s;
		assert_int_equal(n.cc.prr.delivered, k * MSS);
		assert_int_equal(n.cc.prr.out, sent * MSS);
		if (pipe_before > n.cc.ssthresh)
			assert_int_equal(sent, ceil_div(k * 10, 20)); /* prr_delivered * ssthresh / RecoverFS */
		else
			assert_true(n.cc.bytes_in_flight <= n.cc.ssthresh);
	}
	/* 19 of the 20 delivered (one lost): 10 sent, and ssthresh is what is in flight */
	assert_int_equal(sent, 10);
	assert_int_equal(n.cc.bytes_in_flight, 10 * MSS);
	assert_true(n.cc.in_recovery_period);
	/* the retransmission of 1 went with the ack that found the loss (same time as the period
	 * began): its ack does not end the episode; the next packet's does, at cwnd = ssthresh */
	uint64_t first = 23;
	assert_int_equal(n.sent_at[first], n.cc.recovery_start);
	ack(&n, first, 0, 0);
	assert_true(n.cc.in_recovery_period);
	ack(&n, first + 1, 0, 0);
	assert_false(n.cc.in_recovery_period);
	assert_int_equal(konce_cc_cwnd(&n.cc), 10 * MSS);
	assert_int_equal(n.cc.episodes, 1);
}

static void test_many_losses_slow_start_bound(void **state)
{
	(void)state;
	net n;
	start(&n, 20);
	/* packets 1..15 are lost.  The ack of 16 finds 1..13 lost (16 >= pn + 3): pipe falls to 6,
	 * below ssthresh, and the ack shows loss: PRR-CRB, only what it delivered (one) */
	assert_int_equal(ack(&n, 16, 1, 13), 1);
	assert_int_equal(n.cc.ssthresh, 10 * MSS);
	assert_int_equal(n.cc.prr.recover_fs, 20 * MSS);
	assert_int_equal(n.cc.bytes_in_flight, 7 * MSS);
	/* 17 finds 14, 18 finds 15: still one for one (the step taken as safe is taken again as
	 * unsafe when the same ack's loss arrives) */
	assert_int_equal(ack(&n, 17, 14, 14), 1);
	assert_int_equal(ack(&n, 18, 15, 15), 1);
	assert_int_equal(n.cc.bytes_in_flight, 5 * MSS);
	/* 19 and 20 show no loss: PRR-SSRB sends what was delivered and one more (slow start) */
	assert_int_equal(ack(&n, 19, 0, 0), 2);
	assert_int_equal(ack(&n, 20, 0, 0), 2);
	assert_int_equal(n.cc.bytes_in_flight, 7 * MSS);
	assert_int_equal(n.cc.prr.out, 7 * MSS);
	/* the retransmissions' acks keep slow-starting toward ssthresh, bounded by it: 21 went when
	 * the period began, so its ack is still in it */
	assert_int_equal(ack(&n, 21, 0, 0), 2);
	assert_int_equal(n.cc.bytes_in_flight, 8 * MSS);
	assert_true(n.cc.in_recovery_period);
	/* 22 was sent after the period began: its ack ends it, at ssthresh */
	ack(&n, 22, 0, 0);
	assert_false(n.cc.in_recovery_period);
	assert_int_equal(konce_cc_cwnd(&n.cc), 10 * MSS);
	assert_true(n.cc.bytes_in_flight <= 10 * MSS);
}

/* PRR-SSRB never lets what is in flight pass ssthresh during the episode, however far behind
 * prr_out is: ssthresh - pipe bounds the catch-up. */
static void test_catch_up_bounded_by_ssthresh(void **state)
{
	(void)state;
	net n;
	one_lost(&n);
	/* the application has nothing to send for a while: the acks of 5..14 deliver 10 without
	 * prr_out following */
	for (uint64_t pn = 5; pn <= 14; pn++) {
		n.now += MS;
		konce_cc_ack a = {.bytes = MSS, .largest_sent = n.sent_at[pn]};
		konce_cc_on_ack(&n.cc, &a, n.now);
	}
	assert_int_equal(n.cc.bytes_in_flight, 9 * MSS); /* 20 - 11 acked - 1 lost + 1 retransmitted */
	/* the next ack may send prr_delivered - prr_out + 1 (11) but no more than ssthresh - pipe (2) */
	assert_int_equal(ack(&n, 15, 0, 0), 2);
	assert_int_equal(n.cc.bytes_in_flight, 10 * MSS);
	assert_int_equal(ack(&n, 16, 0, 0), 1);
	assert_int_equal(n.cc.bytes_in_flight, 10 * MSS);
}

static void test_episode_boundaries(void **state)
{
	(void)state;
	net n;
	one_lost(&n);
	uint64_t fs = n.cc.prr.recover_fs, began = n.cc.recovery_start;
	/* a loss of a packet sent before the period (found by the timer, no ack): no new episode,
	 * no new cut, PRR's counters go on */
	n.now += MS;
	konce_cc_on_loss(&n.cc, MSS, n.sent_at[5], n.now);
	assert_int_equal(n.cc.episodes, 1);
	assert_int_equal(n.cc.ssthresh, 10 * MSS);
	assert_int_equal(n.cc.prr.recover_fs, fs);
	assert_int_equal(n.cc.recovery_start, began);
	assert_int_equal(n.cc.prr.delivered, MSS);
	/* an ack that delivers nothing sends nothing */
	uint64_t w = konce_cc_cwnd(&n.cc);
	konce_cc_ack none = {.bytes = 0, .largest_sent = n.sent_at[6]};
	konce_cc_on_ack(&n.cc, &none, n.now + 1);
	assert_int_equal(konce_cc_cwnd(&n.cc), w);
	/* the rest is delivered; then the first packet sent after the period began is acked */
	for (uint64_t pn = 6; pn <= 20; pn++)
		ack(&n, pn, 0, 0);
	uint64_t after = 0;
	for (uint64_t pn = 21; pn <= n.npkts && !after; pn++)
		if (n.sent_at[pn] > began)
			after = pn;
	assert_true(after > 0);
	ack(&n, after, 0, 0);
	assert_false(n.cc.in_recovery_period);
	assert_int_equal(konce_cc_cwnd(&n.cc), 10 * MSS);
	/* a loss of a packet sent after that begins a new episode from scratch: 5 mss, RecoverFS
	 * what was in flight */
	uint64_t pn = n.npkts;
	n.now += MS;
	uint64_t before = n.cc.bytes_in_flight;
	konce_cc_on_loss(&n.cc, MSS, n.sent_at[pn], n.now);
	assert_int_equal(n.cc.episodes, 2);
	assert_int_equal(n.cc.ssthresh, 5 * MSS);
	assert_int_equal(n.cc.prr.recover_fs, before);
	assert_int_equal(n.cc.prr.delivered, 0);
	assert_int_equal(n.cc.prr.out, 0);
	assert_int_equal(konce_cc_cwnd(&n.cc), before); /* pipe (before - 1) + the retransmission */
}

/* BBR bounds what is in flight itself: no PRR. */
static void test_not_for_bbr(void **state)
{
	(void)state;
	assert_true(konce_cc_newreno.prr);
	assert_false(konce_cc_bbr.prr);
	assert_false(konce_cc_ledbat.prr);
	konce_cc cc;
	konce_cc_init(&cc, &konce_cc_bbr, MSS, 0);
	for (int i = 0; i < 10; i++)
		konce_cc_on_sent(&cc, MSS, 1);
	konce_cc_on_loss(&cc, MSS, 1, 50 * MS);
	konce_cc_on_sent(&cc, MSS, 50 * MS);
	assert_int_equal(cc.prr.out, 0);
	assert_int_equal(cc.prr.recover_fs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_loss_proportional),
		cmocka_unit_test(test_many_losses_slow_start_bound),
		cmocka_unit_test(test_catch_up_bounded_by_ssthresh),
		cmocka_unit_test(test_episode_boundaries),
		cmocka_unit_test(test_not_for_bbr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
