/* test_cc_share.c - the congestion classes on one shared bottleneck, on a virtual clock.
 *
 * Bulk flows (each: recovery + cc + pacer on the sender, recvtrack on the receiver, every packet
 * carrying a TIMESTAMP and every ack an owd echo) share a drop-tail FIFO link of 1.25 MB/s
 * (10 Mbit/s) with 125 kB of buffer (100 ms), 40 ms base RTT.  Goodput is counted from acked bytes
 * after a warm-up.  This is early evidence for the fairness and background-class claims
 * (docs/BENCH.md); the authoritative runs belong to the simulator once sessions exist.
 *   - two default-class (NewReno) flows: Jain fairness index >= 0.9;
 *   - one background (LEDBAT) flow alone: >= 80% of the link;
 *   - LEDBAT beside NewReno: NewReno keeps >= 90% of what it gets alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ackframe.h"
#include "node/transport/cc.h"
#include "node/transport/pacer.h"
#include "node/transport/recovery.h"
#include "node/transport/recvtrack.h"

#define MS 1000ull
#define NEVER UINT64_MAX
#define PKT 1200
#define RATE_BPMS 1250ull          /* bytes per ms */
#define BUFFER (100 * RATE_BPMS)   /* bytes */
#define ONE_WAY (20 * MS)
#define MAXFLOWS 2

typedef struct ev {
	uint64_t at;
	int flow;
	bool to_sender; /* an ack going back, else a data packet arriving */
	uint64_t pn;
	uint32_t ts;
	konce_ack ack;
} ev;

enum { HEAP_MAX = 1 << 15 };
static ev *heap[HEAP_MAX];
static size_t nheap;

static void push(ev *e)
{
	assert_true(nheap < HEAP_MAX);
	size_t i = nheap++;
	while (i > 0 && heap[(i - 1) / 2]->at > e->at) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = e;
}

static ev *pop(void)
{
	ev *top = heap[0], *last = heap[--nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= nheap)
			break;
		if (c + 1 < nheap && heap[c + 1]->at < heap[c]->at)
			c++;
		if (heap[c]->at >= last->at)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheap)
		heap[i] = last;
	return top;
}

typedef struct flow {
	bool on;
	uint64_t start;
	konce_recovery rec;
	konce_sent_packet slots[4096];
	konce_cc cc;
	konce_pacer pacer;
	uint64_t next_pn;
	konce_recvtrack rt;
	uint64_t goodput; /* acked bytes after warm-up */
} flow;

static flow flows[MAXFLOWS];
static uint64_t link_free, drops;
static uint64_t warmup;

static void noop_ref(void *ctx, const konce_frame_ref *r)
{
	(void)ctx;
	(void)r;
}

static void link_send(int f, uint64_t pn, uint32_t ts, uint64_t now)
{
	uint64_t backlog = link_free > now ? (link_free - now) * RATE_BPMS / MS : 0;
	if (backlog + PKT > BUFFER) {
		drops++;
		return;
	}
	uint64_t start = link_free > now ? link_free : now;
	link_free = start + PKT * MS / RATE_BPMS;
	ev *e = calloc(1, sizeof(*e));
	e->at = link_free + ONE_WAY;
	e->flow = f;
	e->pn = pn;
	e->ts = ts;
	push(e);
}

static uint64_t flow_next_send(flow *fl, uint64_t now)
{
	if (!fl->on || now < fl->start)
		return fl->on ? fl->start : NEVER;
	if (!konce_cc_can_send(&fl->cc, PKT) || !konce_recovery_can_send(&fl->rec, fl->next_pn))
		return NEVER;
	return konce_pacer_next_time(&fl->pacer, PKT, now);
}

static void flow_send(int f, uint64_t now)
{
	flow *fl = &flows[f];
	while (flow_next_send(fl, now) <= now) {
		konce_sent_packet p = {.pn = fl->next_pn++, .time_sent = now, .bytes = PKT, .ack_eliciting = true,
				       .in_flight = true, .nrefs = 0};
		assert_int_equal(konce_recovery_on_sent(&fl->rec, &p), 0);
		konce_cc_on_sent(&fl->cc, PKT, now);
		konce_pacer_on_sent(&fl->pacer, PKT, now);
		link_send(f, p.pn, (uint32_t)now, now);
	}
}

static void apply(flow *fl, const konce_loss_result *res, const konce_ack *ack, uint64_t now)
{
	if (res->nacked) {
		konce_cc_ack ca = {.bytes = res->acked_bytes, .largest_sent = res->largest_acked_sent,
				   .rtt = res->rtt_sample ? fl->rec.rtt.latest : 0, .min_rtt = fl->rec.rtt.min,
				   .has_owd = ack && ack->has_owd, .owd = ack ? ack->owd : 0};
		konce_cc_on_ack(&fl->cc, &ca, now);
		if (now >= warmup)
			fl->goodput += res->acked_bytes;
	}
	if (res->nlost) {
		konce_cc_on_loss(&fl->cc, res->lost_bytes, res->largest_lost_sent, now);
		if (res->persistent_congestion)
			konce_cc_on_persistent_congestion(&fl->cc, now);
	}
	konce_pacer_set_rate(&fl->pacer, konce_cc_pacing_rate(&fl->cc, fl->rec.rtt.smoothed), now);
}

static void receiver_ack(int f, uint64_t now)
{
	flow *fl = &flows[f];
	ev *e = calloc(1, sizeof(*e));
	assert_int_equal(konce_recvtrack_build_ack(&fl->rt, now, UINT64_MAX, &e->ack), 0);
	konce_recvtrack_on_ack_sent(&fl->rt);
	e->at = now + ONE_WAY;
	e->flow = f;
	e->to_sender = true;
	push(e);
}

/* Runs the flows for `secs` of virtual time; returns nothing, fills flows[].goodput. */
static void run(const konce_cc_ops *ops[MAXFLOWS], const uint64_t start[MAXFLOWS], uint64_t secs)
{
	memset(flows, 0, sizeof(flows));
	nheap = 0;
	link_free = drops = 0;
	warmup = 10ull * 1000 * MS;
	konce_recovery_ops rops = {noop_ref, noop_ref, NULL};
	for (int f = 0; f < MAXFLOWS; f++) {
		if (!ops[f])
			continue;
		flow *fl = &flows[f];
		fl->on = true;
		fl->start = start[f];
		fl->next_pn = 1;
		konce_recovery_init_with(&fl->rec, fl->slots, 4096, &rops, KONCE_ACK_MAX_DELAY_MS * MS);
		konce_cc_init(&fl->cc, ops[f], PKT, 0);
		konce_pacer_init(&fl->pacer, 4 * PKT, 0);
		konce_recvtrack_init(&fl->rt, 0);
	}
	uint64_t now = 0, end = secs * 1000 * MS;
	while (now < end) {
		uint64_t next = end;
		for (int f = 0; f < MAXFLOWS; f++) {
			if (!flows[f].on)
				continue;
			flow_send(f, now);
			uint64_t t = flow_next_send(&flows[f], now);
			if (t < next)
				next = t;
			t = konce_recovery_timer(&flows[f].rec);
			if (t < next)
				next = t;
			t = konce_recvtrack_ack_time(&flows[f].rt);
			if (t < next)
				next = t;
		}
		if (nheap && heap[0]->at < next)
			next = heap[0]->at;
		if (next > now)
			now = next;
		while (nheap && heap[0]->at <= now) {
			ev *e = pop();
			flow *fl = &flows[e->flow];
			if (e->to_sender) {
				konce_loss_result res;
				assert_int_equal(konce_recovery_on_ack(&fl->rec, &e->ack, now, &res), 0);
				apply(fl, &res, &e->ack, now);
			} else {
				konce_recvtrack_on_packet(&fl->rt, e->pn, true, now + 0x5555u, true, e->ts);
				if (konce_recvtrack_ack_due(&fl->rt, now))
					receiver_ack(e->flow, now);
			}
			free(e);
		}
		for (int f = 0; f < MAXFLOWS; f++) {
			if (!flows[f].on)
				continue;
			konce_loss_result res;
			konce_recovery_timeout t = konce_recovery_on_timeout(&flows[f].rec, now, &res);
			if (t == KONCE_RECOVERY_TIMER_LOSS)
				apply(&flows[f], &res, NULL, now);
			else if (t == KONCE_RECOVERY_TIMER_PROBE && konce_recovery_can_send(&flows[f].rec, flows[f].next_pn)) {
				/* bulk data: a probe is simply the next packet, outside the window */
				konce_sent_packet p = {.pn = flows[f].next_pn++, .time_sent = now, .bytes = PKT,
						       .ack_eliciting = true, .in_flight = true};
				konce_recovery_on_sent(&flows[f].rec, &p);
				konce_cc_on_sent(&flows[f].cc, PKT, now);
				link_send(f, p.pn, (uint32_t)now, now);
			}
			if (konce_recvtrack_ack_due(&flows[f].rt, now))
				receiver_ack(f, now);
		}
	}
	while (nheap)
		free(pop());
}

static double share(int f, uint64_t secs)
{
	return (double)flows[f].goodput / (double)(RATE_BPMS * 1000 * (secs - 10));
}

static void test_alone(void **state)
{
	(void)state;
	const konce_cc_ops *reno[MAXFLOWS] = {&konce_cc_newreno, NULL};
	const konce_cc_ops *ledbat[MAXFLOWS] = {&konce_cc_ledbat, NULL};
	const uint64_t start[MAXFLOWS] = {0, 0};
	run(reno, start, 60);
	double r = share(0, 60);
	print_message("newreno alone: %.1f%% of the link, %llu drops, srtt %llu ms\n", 100 * r,
		      (unsigned long long)drops, (unsigned long long)(flows[0].rec.rtt.smoothed / MS));
	run(ledbat, start, 60);
	double l = share(0, 60);
	print_message("ledbat alone:  %.1f%% of the link, %llu drops, srtt %llu ms, queueing delay %lld ms\n",
		      100 * l, (unsigned long long)drops, (unsigned long long)(flows[0].rec.rtt.smoothed / MS),
		      (long long)(flows[0].cc.u.ledbat.last_queuing_delay / (int64_t)MS));
	assert_true(r >= 0.9);
	assert_true(l >= 0.8);
}

static void test_two_newreno_fair(void **state)
{
	(void)state;
	const konce_cc_ops *ops[MAXFLOWS] = {&konce_cc_newreno, &konce_cc_newreno};
	const uint64_t start[MAXFLOWS] = {0, 2000 * MS};
	run(ops, start, 120);
	double a = (double)flows[0].goodput, b = (double)flows[1].goodput;
	double jain = (a + b) * (a + b) / (2 * (a * a + b * b));
	print_message("two newreno: %.1f%% + %.1f%%, Jain %.3f\n", 100 * share(0, 120), 100 * share(1, 120), jain);
	assert_true(jain >= 0.9);
}

/* Two background flows, the second arriving while the first holds its queue: without LEDBAT++'s
 * periodic slowdown the latecomer took 95% (it counted the first flow's queue as base delay). */
static void test_two_ledbat(void **state)
{
	(void)state;
	const konce_cc_ops *ops[MAXFLOWS] = {&konce_cc_ledbat, &konce_cc_ledbat};
	const uint64_t start[MAXFLOWS] = {0, 10000 * MS};
	run(ops, start, 120);
	double a = (double)flows[0].goodput, b = (double)flows[1].goodput;
	double jain = (a + b) * (a + b) / (2 * (a * a + b * b));
	print_message("two ledbat: %.1f%% + %.1f%%, Jain %.3f\n", 100 * share(0, 120), 100 * share(1, 120), jain);
	assert_true(share(0, 120) + share(1, 120) >= 0.8);
	assert_true(jain >= 0.8);
}

static void test_ledbat_yields(void **state)
{
	(void)state;
	const konce_cc_ops *alone[MAXFLOWS] = {&konce_cc_newreno, NULL};
	const konce_cc_ops *both[MAXFLOWS] = {&konce_cc_newreno, &konce_cc_ledbat};
	/* LEDBAT starts first and owns the link; the default-class flow arrives later. */
	const uint64_t start[MAXFLOWS] = {5000 * MS, 0};
	run(alone, start, 60);
	double reno_alone = share(0, 60);
	run(both, start, 60);
	double reno = share(0, 60), ledbat = share(1, 60);
	print_message("newreno beside ledbat: %.1f%% (alone %.1f%%), ledbat %.1f%%\n", 100 * reno, 100 * reno_alone,
		      100 * ledbat);
	assert_true(reno >= 0.9 * reno_alone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_two_newreno_fair),
		cmocka_unit_test(test_ledbat_yields),
		cmocka_unit_test(test_two_ledbat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
