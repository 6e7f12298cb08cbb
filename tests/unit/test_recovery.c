/* test_recovery.c - packet-threshold loss (with recvtrack producing the acks), time-threshold
 * loss, probe timeout with backoff, the bounded store, and "nothing acknowledged is sent again";
 * acks of packets the store never recorded, and eviction from a full store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/recovery.h"
#include "node/transport/recvtrack.h"
#include "tests/unit/count_env.h"

#define MS 1000

typedef struct log {
	int acked[256], lost[256]; /* per ref id: how many times reported */
	size_t nacked, nlost;
} log_t;

static void on_acked(void *ctx, const konce_frame_ref *ref)
{
	log_t *l = ctx;
	l->acked[ref->id]++;
	l->nacked++;
}

static void on_lost(void *ctx, const konce_frame_ref *ref)
{
	log_t *l = ctx;
	l->lost[ref->id]++;
	l->nlost++;
}

/* One packet whose single ref has id = pn (so the log shows which packet was reported). */
static void send_pkt(konce_recovery *r, uint64_t pn, uint64_t now)
{
	konce_sent_packet p = {.pn = pn, .time_sent = now, .bytes = 1000, .ack_eliciting = true,
			       .in_flight = true, .nrefs = 1};
	p.refs[0] = (konce_frame_ref){.id = pn, .index = 0, .kind = 1};
	assert_int_equal(konce_recovery_on_sent(r, &p), 0);
}

static konce_ack ack_of(uint64_t lo, uint64_t hi)
{
	konce_ack a = {.nranges = 1};
	a.ranges[0] = (konce_ack_range){lo, hi};
	return a;
}

/*
 * The fixture: a store of cap slots (cap from the test's prestate in main()) whose callbacks log
 * into l, and the loss result the calls fill.  test_bounded_store builds its own (it owns an env).
 */
typedef struct fx {
	konce_recovery r;
	log_t l;
	konce_loss_result res;
	size_t cap;
	konce_sent_packet slots[];
} fx;

/* A fresh store: empty ring, empty log. */
static void reset(fx *f)
{
	memset(&f->l, 0, sizeof(f->l));
	konce_recovery_ops ops = {on_acked, on_lost, &f->l};
	konce_recovery_init_with(&f->r, f->slots, f->cap, &ops, 25 * MS);
}

static int fx_setup(void **state)
{
	size_t cap = *(const size_t *)*state;
	fx *f = calloc(1, sizeof(*f) + cap * sizeof(f->slots[0]));
	if (!f)
		return -1;
	f->cap = cap;
	reset(f);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	free(*state);
	return 0;
}

/* A fresh store whose first packet was acked rtt after it left (one RTT sample); what the ack
 * returned. */
static int sampled(fx *f, uint64_t rtt)
{
	reset(f);
	send_pkt(&f->r, 1, 0);
	konce_ack a = ack_of(1, 1);
	return konce_recovery_on_ack(&f->r, &a, rtt, &f->res);
}

/* Sampled at 100 ms; 2..20 sent every 100 ms from 200 ms on, and 21 at 3900 ms. */
static void lossy_run(fx *f)
{
	sampled(f, 100 * MS);
	/* srtt 100 ms, rttvar 50 ms: persistent-congestion period (100 + 200 + 25) x 3 = 975 ms */
	for (uint64_t pn = 2; pn <= 20; pn++)
		send_pkt(&f->r, pn, 200 * MS + (pn - 2) * 100 * MS);
	send_pkt(&f->r, 21, 3900 * MS);
}

/* Packet 5 of 1..10 is lost.  The receiver (recvtrack) acks as konce does: the ack at 6 reveals the
 * hole, packet 5 waits that ack out, and the next ack (at 8) declares it lost. */
static void test_packet_threshold_waits_one_ack(void **state)
{
	fx *f = *state;
	konce_recvtrack rt;
	konce_recvtrack_init(&rt, 0);

	uint64_t now = 0;
	int acks = 0, ack_lost_at = 0, ack_revealing = 0;
	for (uint64_t pn = 1; pn <= 10; pn++) {
		send_pkt(&f->r, pn, now);
		now += MS;
		if (pn == 5)
			continue;
		konce_recvtrack_on_packet(&rt, pn, true, now, false, 0);
		if (!konce_recvtrack_ack_due(&rt, now))
			continue;
		konce_ack a;
		assert_int_equal(konce_recvtrack_build_ack(&rt, now, 0, &a), 0);
		konce_recvtrack_on_ack_sent(&rt);
		acks++;
		/* the ack takes 50 ms to come back, so the time threshold (9/8 RTT) is ~56 ms,
		 * far longer than the 1 ms between packets: only the packet threshold acts */
		assert_int_equal(konce_recovery_on_ack(&f->r, &a, now + 50 * MS, &f->res), 0);
		if (!ack_revealing && konce_ack_largest(&a) > 5)
			ack_revealing = acks;
		if (f->l.lost[5] && !ack_lost_at)
			ack_lost_at = acks;
	}
	assert_int_equal(konce_recvtrack_ack_time(&rt), KONCE_RECVTRACK_NEVER);
	assert_true(ack_revealing > 0);
	assert_int_equal(ack_lost_at, ack_revealing + 1);
	assert_int_equal(f->l.nlost, 1);
	assert_int_equal(f->l.lost[5], 1);
	assert_int_equal(f->l.acked[5], 0);
	for (int pn = 1; pn <= 10; pn++)
		if (pn != 5)
			assert_int_equal(f->l.acked[pn], 1);
	assert_int_equal(f->r.bytes_in_flight, 0);
}

static void test_time_threshold(void **state)
{
	fx *f = *state;
	send_pkt(&f->r, 1, 0);
	send_pkt(&f->r, 2, 10 * MS);
	konce_ack a = ack_of(2, 2);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 110 * MS, &f->res), 0);
	assert_true(f->res.rtt_sample);
	assert_int_equal(f->r.rtt.latest, 100 * MS);
	assert_int_equal(f->res.nlost, 0);
	/* 1 is only one packet behind: lost when 9/8 x 100 ms have passed since it was sent */
	assert_int_equal(konce_recovery_timer(&f->r), 112500);
	assert_int_equal(konce_recovery_on_timeout(&f->r, 112499, &f->res), KONCE_RECOVERY_TIMER_NONE);
	assert_int_equal(f->l.nlost, 0);
	assert_int_equal(konce_recovery_on_timeout(&f->r, 112500, &f->res), KONCE_RECOVERY_TIMER_LOSS);
	assert_int_equal(f->res.nlost, 1);
	assert_int_equal(f->res.lost_bytes, 1000);
	assert_int_equal(f->res.largest_lost_sent, 0);
	assert_int_equal(f->l.lost[1], 1);
	assert_int_equal(konce_recovery_timer(&f->r), KONCE_RECOVERY_NEVER);
	/* A late ack of 1: the loss was spurious.  Its data is reported acked after all (once), and
	 * the time threshold grows by 1/4 RTT. */
	a = ack_of(1, 2);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 120 * MS, &f->res), 0);
	assert_int_equal(f->res.nacked, 0);
	assert_int_equal(f->res.nspurious, 1);
	assert_int_equal(f->l.acked[1], 1);
	assert_int_equal(f->r.time_num, KONCE_LOSS_TIME_NUM + 2);
	assert_int_equal(f->r.packet_threshold, KONCE_LOSS_PACKET_THRESHOLD);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 121 * MS, &f->res), 0);
	assert_int_equal(f->res.nspurious, 0);
	assert_int_equal(f->l.acked[1], 1);
}

/* Packets 1..3 are declared lost by the packet threshold, then acked: the threshold grows to the
 * reordering distance seen, and later reordering of that depth is no longer called loss. */
static void test_spurious_raises_packet_threshold(void **state)
{
	fx *f = *state;
	for (uint64_t pn = 1; pn <= 10; pn++)
		send_pkt(&f->r, pn, pn * MS);
	konce_ack a = ack_of(4, 10);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 110 * MS, &f->res), 0);
	assert_int_equal(f->res.nlost, 3);
	a = ack_of(1, 10);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 111 * MS, &f->res), 0);
	assert_int_equal(f->res.nspurious, 3);
	assert_int_equal(f->r.packet_threshold, 10); /* 1 was lost when 10 was acked */
	for (int pn = 1; pn <= 3; pn++)
		assert_int_equal(f->l.acked[pn], 1);
	/* now 11..30; 25..30 acked: only packets 10 or more below 30 are lost */
	for (uint64_t pn = 11; pn <= 30; pn++)
		send_pkt(&f->r, pn, 200 * MS + pn * MS);
	a = ack_of(25, 30);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 300 * MS, &f->res), 0);
	assert_int_equal(f->res.nlost, 10); /* 11..20 */
	assert_int_equal(f->l.lost[20], 1);
	assert_int_equal(f->l.lost[21], 0);
	/* reordering beyond KONCE_LOSS_PACKET_THRESHOLD_MAX: the packet threshold is given up, time
	 * alone decides (RFC 8985) */
	for (uint64_t pn = 31; pn <= 60; pn++)
		send_pkt(&f->r, pn, 400 * MS + pn);
	a = ack_of(60, 60);
	konce_recovery_on_ack(&f->r, &a, 500 * MS, &f->res);
	a = ack_of(21, 60);
	konce_recovery_on_ack(&f->r, &a, 501 * MS, &f->res);
	assert_true(f->res.nspurious > 0);
	assert_int_equal(f->r.packet_threshold, KONCE_RECOVERY_NO_PACKET_THRESHOLD);
	/* 61..100 sent 1 ms apart; 100 acked 5 ms after 61 was sent: nothing is lost by count, and
	 * 61 only once the time threshold has passed */
	for (uint64_t pn = 61; pn <= 100; pn++)
		send_pkt(&f->r, pn, 600 * MS + (pn - 61) * 100);
	a = ack_of(100, 100);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 605 * MS, &f->res), 0);
	assert_int_equal(f->res.nlost, 0);
	assert_true(konce_recovery_timer(&f->r) > 605 * MS);
	assert_int_equal(konce_recovery_on_timeout(&f->r, konce_recovery_timer(&f->r), &f->res), KONCE_RECOVERY_TIMER_LOSS);
	assert_true(f->res.nlost > 0 && f->l.lost[61] == 1);
}

static void test_pto_backoff_and_probe(void **state)
{
	fx *f = *state;
	assert_int_equal(konce_recovery_timer(&f->r), KONCE_RECOVERY_NEVER);
	send_pkt(&f->r, 1, 0);
	uint64_t pto = 333000 + 4 * 166500 + 25 * MS;
	assert_int_equal(konce_recovery_timer(&f->r), pto);
	assert_int_equal(konce_recovery_on_timeout(&f->r, pto - 1, &f->res), KONCE_RECOVERY_TIMER_NONE);
	assert_int_equal(konce_recovery_on_timeout(&f->r, pto, &f->res), KONCE_RECOVERY_TIMER_PROBE);
	assert_int_equal(f->l.nlost, 0); /* a probe declares nothing lost */
	assert_int_equal(konce_recovery_timer(&f->r), 2 * pto);
	/* The probe carries the oldest outstanding data again. */
	konce_frame_ref refs[KONCE_RECOVERY_MAX_REFS];
	assert_int_equal(konce_recovery_probe_refs(&f->r, refs, KONCE_RECOVERY_MAX_REFS, NULL, NULL), 1);
	assert_int_equal(refs[0].id, 1);
	konce_sent_packet p = {.pn = 2, .time_sent = pto, .bytes = 1000, .ack_eliciting = true,
			       .in_flight = true, .nrefs = 1};
	p.refs[0] = refs[0];
	assert_int_equal(konce_recovery_on_sent(&f->r, &p), 0);
	assert_int_equal(konce_recovery_timer(&f->r), pto + 2 * pto);
	assert_int_equal(konce_recovery_on_timeout(&f->r, 3 * pto, &f->res), KONCE_RECOVERY_TIMER_PROBE);
	assert_int_equal(konce_recovery_timer(&f->r), pto + 4 * pto);
	/* Backoff is capped. */
	for (int i = 0; i < 40; i++)
		konce_recovery_on_timeout(&f->r, UINT64_MAX - 1, &f->res);
	assert_int_equal(konce_recovery_timer(&f->r), pto + (pto << KONCE_PTO_MAX_BACKOFF));
	/* The probe's ack reports the ref (id 1, carried by packet 2) and resets the backoff. */
	konce_ack a = ack_of(2, 2);
	uint64_t now = 3 * pto + 100 * MS;
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, now, &f->res), 0);
	assert_int_equal(f->l.acked[1], 1);
	assert_int_equal(f->r.pto_count, 0);
}

static bool not_id_1(void *ctx, const konce_frame_ref *ref)
{
	(void)ctx;
	return ref->id != 1;
}

/* Probe data skips what the message layer says is no longer needed (acked via another packet). */
static void test_probe_refs_filter(void **state)
{
	fx *f = *state;
	send_pkt(&f->r, 1, 0);
	send_pkt(&f->r, 2, 0);
	konce_sent_packet ack_only = {.pn = 3, .bytes = 30, .nrefs = 0};
	assert_int_equal(konce_recovery_on_sent(&f->r, &ack_only), 0);
	konce_frame_ref refs[4];
	assert_int_equal(konce_recovery_probe_refs(&f->r, refs, 4, NULL, NULL), 2);
	assert_int_equal(refs[0].id, 1);
	assert_int_equal(refs[1].id, 2);
	assert_int_equal(konce_recovery_probe_refs(&f->r, refs, 1, NULL, NULL), 1);
	assert_int_equal(konce_recovery_probe_refs(&f->r, refs, 4, not_id_1, NULL), 1);
	assert_int_equal(refs[0].id, 2);
}

static void test_never_resend_acked(void **state)
{
	fx *f = *state;
	for (uint64_t pn = 1; pn <= 20; pn++)
		send_pkt(&f->r, pn, pn * MS);
	/* Acks arrive out of order, repeated and overlapping. */
	konce_ack a = {.nranges = 3};
	a.ranges[0] = (konce_ack_range){15, 16};
	a.ranges[1] = (konce_ack_range){8, 10};
	a.ranges[2] = (konce_ack_range){2, 3};
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 50 * MS, &f->res), 0);
	assert_int_equal(f->res.nacked, 7);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 51 * MS, &f->res), 0);
	assert_int_equal(f->res.nacked, 0);
	a = ack_of(1, 20);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 52 * MS, &f->res), 0);
	for (int pn = 1; pn <= 20; pn++) {
		/* all arrived in the end: each acked exactly once, lost at most once */
		assert_int_equal(f->l.acked[pn], 1);
		assert_true(f->l.lost[pn] <= 1);
		/* acked before any loss was declared: never reported lost */
		if ((pn >= 2 && pn <= 3) || (pn >= 8 && pn <= 10) || (pn >= 15 && pn <= 16))
			assert_int_equal(f->l.lost[pn], 0);
	}
	assert_true(f->l.nlost > 0);
	assert_int_equal(f->r.bytes_in_flight, 0);
	assert_int_equal(f->r.eliciting_in_flight, 0);
	/* An ack of a packet never sent is refused and changes nothing. */
	send_pkt(&f->r, 21, 60 * MS);
	a = ack_of(21, 22);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 61 * MS, &f->res), -EPROTO);
	assert_int_equal(f->l.acked[21], 0);
	assert_int_equal(f->r.bytes_in_flight, 1000);
}

static void test_bounded_store(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 1);
	konce_recovery r;
	log_t l = {0};
	konce_recovery_ops ops = {on_acked, on_lost, &l};
	konce_loss_result res;
	assert_int_equal(konce_recovery_init(&r, &ce.env, 0, &ops, 0), -EINVAL);
	assert_int_equal(konce_recovery_init(&r, &ce.env, 8, &ops, 0), 0);
	assert_int_equal(ce.live, 1);
	/* Numbers may skip (pn 1 went to the handshake), but never go back. */
	for (uint64_t pn = 2; pn <= 9; pn++)
		send_pkt(&r, pn, 0);
	assert_false(konce_recovery_can_send(&r, 10));
	assert_false(konce_recovery_can_send(&r, 9));
	konce_sent_packet p = {.pn = 10, .bytes = 1, .nrefs = 0};
	assert_int_equal(konce_recovery_on_sent(&r, &p), -ENOBUFS);
	p.pn = 5;
	assert_int_equal(konce_recovery_on_sent(&r, &p), -EINVAL);
	/* Acking 3 does not free a slot for 10: 2 is still outstanding, 10 - 2 >= 8. */
	konce_ack a = ack_of(3, 3);
	assert_int_equal(konce_recovery_on_ack(&r, &a, 10 * MS, &res), 0);
	assert_false(konce_recovery_can_send(&r, 10));
	a = ack_of(2, 3);
	assert_int_equal(konce_recovery_on_ack(&r, &a, 11 * MS, &res), 0);
	assert_true(konce_recovery_can_send(&r, 10));
	assert_true(konce_recovery_can_send(&r, 11));
	assert_false(konce_recovery_can_send(&r, 12));
	/* Empty store: any larger number starts a new window. */
	a = ack_of(2, 9);
	assert_int_equal(konce_recovery_on_ack(&r, &a, 12 * MS, &res), 0);
	assert_true(konce_recovery_can_send(&r, 1000));
	send_pkt(&r, 1000, 13 * MS);
	assert_int_equal(konce_recovery_probe_refs(&r, (konce_frame_ref[4]){0}, 4, NULL, NULL), 1);
	konce_recovery_free(&r);
	assert_int_equal(ce.live, 0);
}

static void test_persistent_congestion(void **state)
{
	fx *f = *state;
	lossy_run(f);
	/* 21 is acked 100 ms after it is sent, so the RTT estimate stays near 100 ms */
	konce_ack a = ack_of(21, 21);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 4000 * MS, &f->res), 0);
	assert_int_equal(f->res.nlost, 19);
	assert_true(f->res.persistent_congestion);
	assert_int_equal(f->res.lost_bytes, 19 * 1000);
	assert_int_equal(f->res.largest_lost_sent, 200 * MS + 18 * 100 * MS);

	/* The same losses with every fifth packet acked in between: no run is long enough. */
	lossy_run(f);
	a = (konce_ack){.nranges = 4};
	a.ranges[0] = (konce_ack_range){21, 21};
	a.ranges[1] = (konce_ack_range){16, 16};
	a.ranges[2] = (konce_ack_range){11, 11};
	a.ranges[3] = (konce_ack_range){6, 6};
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 4000 * MS, &f->res), 0);
	assert_int_equal(f->res.nlost, 16);
	assert_false(f->res.persistent_congestion);
}

static void test_non_eliciting_not_timed(void **state)
{
	fx *f = *state;
	konce_sent_packet p = {.pn = 1, .time_sent = 0, .bytes = 40, .ack_eliciting = false, .in_flight = false};
	assert_int_equal(konce_recovery_on_sent(&f->r, &p), 0);
	assert_int_equal(konce_recovery_timer(&f->r), KONCE_RECOVERY_NEVER);
	assert_int_equal(f->r.bytes_in_flight, 0);
}

/* An outage: packets 2..9 (recorded) are all lost, then the caller sends ACK-only packets 10..30
 * that the store never sees.  The peer acking 20 declares 2..9 lost (20 >= 9 + 3), ends the probe
 * backoff and frees the ring; an ack of a number already covered changes nothing. */
static void test_unrecorded_ack(void **state)
{
	fx *f = *state;
	assert_int_equal(sampled(f, 50 * MS), 0);
	for (uint64_t pn = 2; pn <= 9; pn++)
		send_pkt(&f->r, pn, 100 * MS);
	assert_int_equal(konce_recovery_on_timeout(&f->r, 10000 * MS, &f->res), KONCE_RECOVERY_TIMER_PROBE);
	assert_int_equal(f->r.pto_count, 1);
	assert_false(konce_recovery_can_send(&f->r, 31));
	konce_recovery_on_unrecorded_ack(&f->r, 20, 10100 * MS, &f->res);
	assert_int_equal(f->res.nlost, 8);
	assert_int_equal(f->res.lost_bytes, 8000);
	assert_int_equal(f->res.nacked, 0);
	assert_int_equal(f->l.nlost, 8);
	for (uint64_t pn = 2; pn <= 9; pn++)
		assert_int_equal(f->l.lost[pn], 1);
	assert_int_equal(f->r.largest_acked, 20);
	assert_int_equal(f->r.pto_count, 0);
	assert_int_equal(f->r.bytes_in_flight, 0);
	assert_int_equal(f->r.eliciting_in_flight, 0);
	assert_true(konce_recovery_can_send(&f->r, 31));
	/* stale: nothing changes */
	konce_recovery_on_unrecorded_ack(&f->r, 15, 10200 * MS, &f->res);
	assert_int_equal(f->res.nlost, 0);
	assert_int_equal(f->r.largest_acked, 20);
	/* the next recorded packet is tracked and acked as usual */
	send_pkt(&f->r, 31, 10300 * MS);
	konce_ack a = ack_of(31, 31);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 10350 * MS, &f->res), 0);
	assert_int_equal(f->res.nacked, 1);
	assert_int_equal(f->l.acked[31], 1);

	/* Only the thresholds decide: an ack of 10 declares 2..7 lost by count (10 >= 7 + 3); 8 and 9,
	 * sent 10 ms ago, wait for the time threshold. */
	assert_int_equal(sampled(f, 50 * MS), 0);
	for (uint64_t pn = 2; pn <= 9; pn++)
		send_pkt(&f->r, pn, 100 * MS);
	konce_recovery_on_unrecorded_ack(&f->r, 10, 110 * MS, &f->res);
	assert_int_equal(f->res.nlost, 6);
	assert_int_equal(f->l.lost[7], 1);
	assert_int_equal(f->l.lost[8], 0);
	assert_int_equal(f->l.lost[9], 0);
	assert_true(konce_recovery_timer(&f->r) != KONCE_RECOVERY_NEVER);
}

/* A full ring and a probe to send: the oldest packets are declared lost, just enough of them. */
static void test_evict(void **state)
{
	fx *f = *state;
	for (uint64_t pn = 1; pn <= 8; pn += 2)
		send_pkt(&f->r, pn, 0); /* 1, 3, 5, 7: the even numbers were ACK-only */
	assert_true(konce_recovery_can_send(&f->r, 8));
	assert_false(konce_recovery_can_send(&f->r, 12));
	konce_recovery_evict(&f->r, 12, &f->res);
	assert_int_equal(f->res.nlost, 2); /* 1 and 3: the oldest is then 5, and 12 - 5 < 8 */
	assert_int_equal(f->l.lost[1], 1);
	assert_int_equal(f->l.lost[3], 1);
	assert_int_equal(f->l.lost[5], 0);
	assert_int_equal(f->r.oldest, 5);
	assert_int_equal(f->r.bytes_in_flight, 2000);
	assert_true(konce_recovery_can_send(&f->r, 12));
	/* room already: nothing evicted */
	konce_recovery_evict(&f->r, 12, &f->res);
	assert_int_equal(f->res.nlost, 0);
	/* an ack of an evicted packet reports nothing (its data was handed back as lost) */
	send_pkt(&f->r, 10, 5 * MS);
	konce_ack a = ack_of(1, 10);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 10 * MS, &f->res), 0);
	assert_int_equal(f->l.acked[1], 0);
	assert_int_equal(f->l.acked[5], 1);
	assert_int_equal(f->l.acked[10], 1);
	assert_int_equal(f->res.nspurious, 0);
	assert_int_equal(f->r.bytes_in_flight, 0);
}

/* Delivery rate (draft-cheng-iccrg-delivery-rate-estimation): a sender that sends one 1000-byte
 * packet every ms, over a 50 ms round trip, measures 1000 bytes/ms once a round has passed, and
 * each sample's interval spans at least the round trip.  Samples of packets sent while the sender
 * was application-limited say so, until what was then in flight has been delivered. */
static void test_delivery_rate(void **state)
{
	fx *f = *state;
	uint64_t pn_acked = 0, last_prior = 0;
	for (uint64_t pn = 1; pn <= 200; pn++) {
		uint64_t now = (pn - 1) * MS;
		/* every packet sent 50 ms or more ago is acked now */
		while (pn_acked + 1 < pn && pn_acked * MS + 50 * MS <= now) {
			pn_acked++;
			konce_ack a = ack_of(pn_acked, pn_acked);
			assert_int_equal(konce_recovery_on_ack(&f->r, &a, (pn_acked - 1) * MS + 50 * MS, &f->res), 0);
			assert_int_equal(f->r.delivered, pn_acked * 1000);
			assert_true(f->res.rs.prior_delivered >= last_prior);
			last_prior = f->res.rs.prior_delivered;
			assert_false(f->res.rs.app_limited);
			if (pn_acked > 60) { /* a round trip of history */
				assert_true(f->res.rs.interval_us >= 50 * MS);
				assert_true(f->res.rs.rate >= 990000 && f->res.rs.rate <= 1010000);
			}
		}
		send_pkt(&f->r, pn, now);
	}
	/* the application runs dry: what goes out now is marked, and so are its samples */
	konce_recovery_on_app_limited(&f->r);
	uint64_t until = f->r.app_limited_until;
	assert_int_equal(until, f->r.delivered + f->r.bytes_in_flight);
	send_pkt(&f->r, 201, 200 * MS);
	assert_true(f->slots[201 % 256].app_limited);
	assert_false(f->slots[200 % 256].app_limited);
	konce_ack a = ack_of(1, 201);
	assert_int_equal(konce_recovery_on_ack(&f->r, &a, 260 * MS, &f->res), 0);
	assert_true(f->res.rs.app_limited); /* the newest packet acked was app-limited */
	assert_int_equal(f->r.app_limited_until, 0); /* and everything then in flight is delivered */
	/* nothing in flight: the next packet starts a fresh interval */
	send_pkt(&f->r, 202, 300 * MS);
	assert_int_equal(f->slots[202 % 256].first_sent_time, 300 * MS);
	assert_int_equal(f->slots[202 % 256].delivered_time, 300 * MS);
	assert_false(f->slots[202 % 256].app_limited);
}

/* A test run on a fresh fixture of cap slots. */
#define FX(test, cap) cmocka_unit_test_prestate_setup_teardown(test, fx_setup, fx_teardown, &(size_t){cap})

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX(test_packet_threshold_waits_one_ack, 64),
		FX(test_time_threshold, 16),
		FX(test_spurious_raises_packet_threshold, 64),
		FX(test_pto_backoff_and_probe, 16),
		FX(test_never_resend_acked, 32),
		FX(test_probe_refs_filter, 16),
		cmocka_unit_test(test_bounded_store),
		FX(test_persistent_congestion, 64),
		FX(test_non_eliciting_not_timed, 8),
		FX(test_unrecorded_ack, 8),
		FX(test_evict, 8),
		FX(test_delivery_rate, 256),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
