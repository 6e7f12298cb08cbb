/* test_cc_cubic.c - CUBIC (cc_cubic.c, RFC 9438) against the RFC's formulas over simulated time:
 *   - K = cbrt((W_max - cwnd_epoch) / C) and W_cubic(t) = C (t - K)^3 + W_max;
 *   - a cut to beta = 0.7 of the window, spread by PRR; fast convergence lowers W_max to
 *     cwnd (1 + beta) / 2 when a loss comes below the last W_max;
 *   - on a 100 ms path after a loss at 100 segments the window follows W_cubic: concave up to
 *     W_max at t = K (4.2 s), convex beyond;
 *   - on a 10 ms path the Reno-friendly estimate W_est = cwnd_epoch + alpha t / RTT leads (alpha =
 *     3 (1 - beta) / (1 + beta), then 1 once W_est passes the window of the loss) and the window
 *     is W_est;
 *   - slow start below ssthresh, no growth while the window is not used, and an
 *     application-limited phase moves the epoch later by its length;
 *   - HyStart++ (RFC 9406): the initial slow start leaves for Conservative Slow Start when the
 *     RTT rises by the threshold, before any loss; CSS grows by a quarter of what is acked, goes
 *     back to slow start if the RTT falls back, and ends in congestion avoidance (ssthresh = cwnd)
 *     after 5 rounds, with no congestion event;
 *   - undo (RFC 9438 section 4.9): once every byte a congestion event declared lost is reported
 *     spurious, cwnd, ssthresh, W_max and the rest come back and the recovery period ends; a
 *     partly spurious event, or one after persistent congestion, is not undone.
 * The network is played by the test: each datagram of MSS is acked exactly one RTT after it went,
 * and the sender sends whatever the window allows at each ack (ack-clocked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/cc.h"

#define MSS 1200
#define MS 1000

typedef struct pipe_sim {
	konce_cc cc;
	uint64_t rtt, now;
	uint64_t sent[1 << 14]; /* ring of send times, oldest at head */
	size_t head, n;
} pipe_sim;

static void send_all(pipe_sim *p)
{
	while (konce_cc_can_send(&p->cc, MSS)) {
		assert_true(p->n < sizeof p->sent / sizeof p->sent[0]);
		p->sent[(p->head + p->n++) % (sizeof p->sent / sizeof p->sent[0])] = p->now;
		konce_cc_on_sent(&p->cc, MSS, p->now);
	}
}

/* Acks the oldest datagram at its send time + rtt, then sends. */
static void ack_one(pipe_sim *p)
{
	uint64_t at = p->sent[p->head];
	p->head = (p->head + 1) % (sizeof p->sent / sizeof p->sent[0]);
	p->n--;
	if (at + p->rtt > p->now)
		p->now = at + p->rtt;
	konce_cc_ack a = {.bytes = MSS, .largest_sent = at, .rtt = p->rtt, .min_rtt = p->rtt};
	konce_cc_on_ack(&p->cc, &a, p->now);
	send_all(p);
}

/* A sender in congestion avoidance at w segments (W_max w) on a path of rtt, flight full, whose
 * nlost first datagrams are lost, found by the time threshold as their acks are due: the recovery
 * period has begun. */
static void full_then_lose(pipe_sim *p, uint64_t w, uint64_t rtt, uint64_t nlost)
{
	memset(p, 0, sizeof *p);
	p->rtt = rtt;
	p->now = 1;
	konce_cc_init(&p->cc, &konce_cc_cubic, MSS, 0);
	p->cc.cwnd = w * MSS;
	p->cc.ssthresh = w * MSS;
	p->cc.u.cubic.w_max = (double)(w * MSS);
	send_all(p);
	assert_int_equal(p->n, w);
	p->head += nlost;
	p->n -= nlost;
	p->now += rtt;
	konce_cc_on_loss(&p->cc, nlost * MSS, 1, p->now);
	assert_true(p->cc.in_recovery_period);
}

/* A sender in congestion avoidance at w segments, flight full, that loses one datagram: the
 * recovery period runs to its end (cwnd = ssthresh).  Returns the time the epoch began (the
 * ack that ended the period, the first in congestion avoidance). */
static uint64_t lose_at(pipe_sim *p, uint64_t w, uint64_t rtt)
{
	full_then_lose(p, w, rtt, 1);
	assert_int_equal(p->cc.ssthresh, (uint64_t)((double)(w * MSS) * 0.7));
	/* PRR: the window is not at ssthresh yet */
	assert_true(konce_cc_cwnd(&p->cc) > p->cc.ssthresh);
	while (p->cc.in_recovery_period)
		ack_one(p);
	return p->cc.u.cubic.epoch;
}

static double cwnd_seg(const pipe_sim *p) { return (double)konce_cc_cwnd(&p->cc) / MSS; }

static void test_formulas(void **state)
{
	(void)state;
	/* W_max 100, cwnd_epoch 70: C K^3 = 30 */
	double k = konce_cc_cubic_k(100, 70);
	assert_true(k > 4.2171 && k < 4.2172); /* cbrt(75) = 4.21716... */
	double k3 = 0.4 * k * k * k;
	assert_true(k3 > 30 - 1e-9 && k3 < 30 + 1e-9);
	assert_true(konce_cc_cubic_k(1e6, 7e5) > 0);
	assert_true(konce_cc_cubic_k(70, 70) == 0 && konce_cc_cubic_k(50, 70) == 0);
	/* the curve: W_max at K, cwnd_epoch at 0, symmetric about K */
	assert_true(konce_cc_cubic_w(k, k, 100) == 100);
	double w0 = konce_cc_cubic_w(0, k, 100);
	assert_true(w0 > 70 - 1e-9 && w0 < 70 + 1e-9);
	assert_true(konce_cc_cubic_w(k + 1, k, 100) - 100 == 100 - konce_cc_cubic_w(k - 1, k, 100));
	assert_true(konce_cc_cubic_w(k + 2, k, 100) > 103.19 && konce_cc_cubic_w(k + 2, k, 100) < 103.21);
}

/* 100 ms: the cubic region.  The window stays between W_cubic(t) less 2 segments (it follows
 * target = W_cubic(t + RTT) with a lag under one RTT) and W_cubic(t + RTT) plus one, until the
 * Reno-friendly estimate (5 segments a second, then 10 once past the window of the loss)
 * overtakes the curve's plateau at about 5.9 s and the window follows W_est. */
static void test_follows_cubic_curve(void **state)
{
	(void)state;
	static pipe_sim p;
	uint64_t rtt = 100 * MS;
	uint64_t epoch = lose_at(&p, 100, rtt);
	assert_true(epoch > 0);
	/* the epoch began at ssthresh (70), the ack that began it adding a few bytes */
	assert_true(konce_cc_cwnd(&p.cc) >= 70 * MSS && konce_cc_cwnd(&p.cc) < 70 * MSS + 100);
	double k = p.cc.u.cubic.k;
	assert_true(k > 4.2171 && k < 4.2172);
	double w_max = p.cc.u.cubic.w_max / MSS;
	assert_true(w_max == 100);
	bool checked_k = false, checked_convex = false;
	while (p.now < epoch + 7 * 1000 * MS) {
		ack_one(&p);
		double t = (double)(p.now - epoch) / 1e6, w = cwnd_seg(&p);
		/* W_est = 70 + alpha t / RTT, one segment per RTT once past 100 (at 5.67 s) */
		const double alpha = 3 * (1 - 0.7) / (1 + 0.7), t_prior = 30 / alpha * 0.1;
		double est = t < t_prior ? 70 + alpha * t / 0.1 : 100 + (t - t_prior) / 0.1;
		double lo = konce_cc_cubic_w(t, k, w_max) - 2, hi = konce_cc_cubic_w(t + 0.1, k, w_max) + 1;
		if (lo < 70)
			lo = 70;
		if (est - 2 > lo) /* the Reno-friendly region, from about 5.9 s */
			lo = est - 2;
		if (est + 1.5 > hi)
			hi = est + 1.5;
		if (w < lo || w > hi)
			fail_msg("t %.3f s: cwnd %.2f segments outside [%.2f, %.2f]", t, w, lo, hi);
		double e = p.cc.u.cubic.w_est / MSS;
		if (e < est - 1 || e > est + 1) /* acks come in bursts: a step of alpha per RTT */
			fail_msg("t %.3f s: W_est %.2f, expected %.2f", t, e, est);
		/* until then the curve leads */
		if (t < 5.5 && w < konce_cc_cubic_w(t, k, w_max) - 2)
			fail_msg("t %.3f s: cwnd %.2f below the curve", t, w);
		if (!checked_k && t >= k) {
			assert_true(w >= 98 && w <= 101); /* plateau at W_max */
			checked_k = true;
		}
		if (!checked_convex && t >= k + 2.5) {
			assert_true(w > 105); /* convex: probing beyond W_max */
			checked_convex = true;
		}
	}
	assert_true(checked_k && checked_convex);
	assert_int_equal(p.cc.episodes, 1);
}

/* 10 ms: Reno's growth (W_est, alpha per RTT) outpaces the curve's; the window is W_est. */
static void test_reno_friendly_region(void **state)
{
	(void)state;
	static pipe_sim p;
	uint64_t rtt = 10 * MS;
	uint64_t epoch = lose_at(&p, 100, rtt);
	const double alpha = 3 * (1 - 0.7) / (1 + 0.7);
	/* W_est = 70 + alpha t / RTT until it reaches 100 (at t = 30 / alpha RTT = 0.567 s), then
	 * one segment per RTT */
	const double t_prior = 30 / alpha * 0.010;
	bool before = false, after = false;
	while (p.now < epoch + 900 * MS) {
		ack_one(&p);
		double t = (double)(p.now - epoch) / 1e6, w = cwnd_seg(&p);
		double est = t < t_prior ? 70 + alpha * t / 0.010 : 100 + (t - t_prior) / 0.010;
		double k = p.cc.u.cubic.k;
		if (konce_cc_cubic_w(t, k, 100) >= est - 2)
			continue; /* near the crossing, either may lead */
		if (w < est - 2 || w > est + 1.5)
			fail_msg("t %.3f s: cwnd %.2f segments, W_est %.2f", t, w, est);
		before |= t > 0.2 && t < t_prior;
		after |= t > t_prior + 0.1;
	}
	assert_true(before && after);
	assert_true(p.cc.u.cubic.alpha == 1);
	/* 0.9 s: 100 + (0.9 - 0.567) / 0.01 = 133 segments; the curve alone would give 85 */
	assert_true(cwnd_seg(&p) > 130 && cwnd_seg(&p) < 135);
}

static void test_fast_convergence(void **state)
{
	(void)state;
	static pipe_sim p;
	lose_at(&p, 100, 100 * MS);
	assert_true(p.cc.u.cubic.w_max == 100 * MSS);
	/* another loss at once, at about 70 < W_max: the flow yields, W_max = 70 * 1.7 / 2 = 59.5 */
	uint64_t t = p.now + 1;
	double w = (double)konce_cc_cwnd(&p.cc);
	assert_true(w >= 70 * MSS && w < 70 * MSS + 100);
	konce_cc_on_sent(&p.cc, MSS, t);
	konce_cc_on_loss(&p.cc, MSS, t, t + 1);
	assert_int_equal(p.cc.episodes, 2);
	assert_true(p.cc.u.cubic.w_max == w * 0.85);
	assert_int_equal(p.cc.ssthresh, (uint64_t)(w * 0.7));
	assert_true(p.cc.u.cubic.cwnd_prior == w);
	/* a loss above W_max: W_max is the window at the loss */
	konce_cc c;
	konce_cc_init(&c, &konce_cc_cubic, MSS, 0);
	c.cwnd = 50 * MSS;
	c.u.cubic.w_max = 40 * MSS;
	konce_cc_on_sent(&c, 50 * MSS, 1);
	konce_cc_on_loss(&c, MSS, 1, 2);
	assert_true(c.u.cubic.w_max == 50 * MSS);
	assert_int_equal(c.ssthresh, 35 * MSS);
}

/* An application-limited second in congestion avoidance: the window holds, and the epoch moves
 * later by about that second (RFC 9438 section 5.8), so the curve resumes where it left off. */
static void test_app_limited_shifts_epoch(void **state)
{
	(void)state;
	static pipe_sim p;
	uint64_t rtt = 100 * MS;
	uint64_t epoch = lose_at(&p, 100, rtt);
	while (p.now < epoch + 2000 * MS)
		ack_one(&p);
	uint64_t w = konce_cc_cwnd(&p.cc), e0 = p.cc.u.cubic.epoch;
	/* drain the flight without sending, then 2 datagrams a round trip for one second */
	while (p.n) {
		uint64_t at = p.sent[p.head];
		p.head = (p.head + 1) % (sizeof p.sent / sizeof p.sent[0]);
		p.n--;
		if (at + rtt > p.now)
			p.now = at + rtt;
		konce_cc_ack a = {.bytes = MSS, .largest_sent = at, .rtt = rtt, .min_rtt = rtt};
		konce_cc_on_ack(&p.cc, &a, p.now);
	}
	uint64_t idle_start = p.now;
	while (p.now < idle_start + 1000 * MS) {
		uint64_t t = p.now;
		konce_cc_on_sent(&p.cc, 2 * MSS, t);
		p.now = t + rtt;
		konce_cc_ack a = {.bytes = 2 * MSS, .largest_sent = t, .rtt = rtt, .min_rtt = rtt};
		konce_cc_on_ack(&p.cc, &a, p.now);
	}
	/* the window grew at most in the draining round, which still counted as used */
	assert_true(konce_cc_cwnd(&p.cc) <= w + 2 * MSS);
	uint64_t shift = p.cc.u.cubic.epoch - e0;
	if (shift < 800 * MS || shift > 1100 * MS)
		fail_msg("epoch moved %llu ms for a 1 s application-limited phase", (unsigned long long)(shift / MS));
}

static void test_slow_start_and_unused_window(void **state)
{
	(void)state;
	konce_cc c;
	konce_cc_init(&c, &konce_cc_cubic, MSS, 0);
	assert_ptr_equal(konce_cc_by_name("cubic"), &konce_cc_cubic);
	assert_true(konce_cc_cubic.prr);
	/* slow start: a full window acked doubles it */
	for (int i = 0; i < 10; i++)
		konce_cc_on_sent(&c, MSS, 1);
	konce_cc_ack a = {.bytes = 10 * MSS, .largest_sent = 1, .rtt = 100 * MS, .min_rtt = 100 * MS};
	konce_cc_on_ack(&c, &a, 100 * MS);
	assert_int_equal(konce_cc_cwnd(&c), 20 * MSS);
	/* two datagrams a round never fill 20: no growth, and no epoch either */
	c.ssthresh = 20 * MSS;
	for (int r = 0; r < 20; r++) {
		uint64_t t = 100 * MS * (uint64_t)(r + 2);
		konce_cc_on_sent(&c, 2 * MSS, t);
		konce_cc_ack b = {.bytes = 2 * MSS, .largest_sent = t, .rtt = 100 * MS, .min_rtt = 100 * MS};
		konce_cc_on_ack(&c, &b, t + 100 * MS);
	}
	assert_int_equal(konce_cc_cwnd(&c), 20 * MSS);
	assert_int_equal(c.u.cubic.epoch, 0);
}

/* A fresh sender in its initial slow start on an RTT of rtt, acked until cwnd reaches w segments. */
static void slow_start_to(pipe_sim *p, uint64_t rtt, uint64_t w)
{
	memset(p, 0, sizeof *p);
	p->rtt = rtt;
	p->now = 1;
	konce_cc_init(&p->cc, &konce_cc_cubic, MSS, 0);
	send_all(p);
	while (konce_cc_cwnd(&p->cc) < w * MSS)
		ack_one(p);
	assert_int_equal(p->cc.u.cubic.hs_phase, KONCE_CUBIC_HS_SS);
	assert_true(p->cc.ssthresh == UINT64_MAX);
}

/* Acks until CUBIC's HyStart++ phase is phase, at most n acks; asserts it got there. */
static void ack_until_phase(pipe_sim *p, unsigned phase, unsigned n)
{
	for (unsigned i = 0; i < n && p->cc.u.cubic.hs_phase != phase; i++)
		ack_one(p);
	if (p->cc.u.cubic.hs_phase != phase)
		fail_msg("HyStart++ phase %u after %u acks, expected %u (cwnd %.1f segments)",
			 (unsigned)p->cc.u.cubic.hs_phase, n, phase, cwnd_seg(p));
}

/* The RTT rises from 100 to 120 ms (the threshold is 100 / 8 = 12.5 ms) at 80 segments: slow
 * start leaves for CSS within the next round and a half, before any loss; each ack in CSS adds a
 * quarter of its bytes instead of all of them; 5 rounds later ssthresh = cwnd and the window is
 * in congestion avoidance, still with no congestion event. */
static void test_hystart_exits_on_rtt_increase(void **state)
{
	(void)state;
	static pipe_sim p;
	slow_start_to(&p, 100 * MS, 80);
	/* a steady RTT keeps slow start going: each ack adds its bytes */
	for (int i = 0; i < 20; i++) {
		uint64_t w = konce_cc_cwnd(&p.cc);
		ack_one(&p);
		assert_int_equal(konce_cc_cwnd(&p.cc) - w, MSS);
	}
	assert_int_equal(p.cc.u.cubic.hs_phase, KONCE_CUBIC_HS_SS);
	uint64_t w0 = konce_cc_cwnd(&p.cc);
	p.rtt = 120 * MS;
	ack_until_phase(&p, KONCE_CUBIC_HS_CSS, 4000);
	assert_int_equal(p.cc.episodes, 0);
	assert_true(p.cc.ssthresh == UINT64_MAX);
	assert_true(konce_cc_cwnd(&p.cc) <= 4 * w0); /* at most two rounds of doubling */
	assert_true(p.cc.u.cubic.css_baseline_min_rtt == 120 * MS);
	/* CSS: a quarter of each ack's bytes, until it ends */
	uint64_t css_start = p.now, acks = 0;
	while (p.cc.u.cubic.hs_phase == KONCE_CUBIC_HS_CSS) {
		uint64_t w = konce_cc_cwnd(&p.cc);
		ack_one(&p);
		if (p.cc.u.cubic.hs_phase == KONCE_CUBIC_HS_CSS && konce_cc_cwnd(&p.cc) - w != MSS / 4)
			fail_msg("ack %llu in CSS: cwnd grew %llu bytes, expected %d", (unsigned long long)acks,
				 (unsigned long long)(konce_cc_cwnd(&p.cc) - w), MSS / 4);
		assert_true(++acks < 100000);
	}
	assert_int_equal(p.cc.u.cubic.hs_phase, KONCE_CUBIC_HS_OFF);
	/* the round CSS began in and 4 more: between 4 and 5 round trips */
	uint64_t css_us = p.now - css_start;
	if (css_us < 4 * 120 * MS - 10 * MS || css_us > 5 * 120 * MS + 10 * MS)
		fail_msg("CSS lasted %llu ms", (unsigned long long)(css_us / MS));
	/* ssthresh = cwnd as the round ended; the same ack then grew it as congestion avoidance does */
	assert_true(p.cc.ssthresh <= konce_cc_cwnd(&p.cc) && konce_cc_cwnd(&p.cc) - p.cc.ssthresh < MSS / 4);
	assert_true(p.cc.ssthresh > w0);
	assert_int_equal(p.cc.episodes, 0);
	/* congestion avoidance from here: an epoch starts, growth is far below an ack's bytes */
	uint64_t w = konce_cc_cwnd(&p.cc);
	for (int i = 0; i < 10; i++)
		ack_one(&p);
	assert_true(p.cc.u.cubic.epoch != 0);
	assert_true(konce_cc_cwnd(&p.cc) - w < 2 * MSS);
}

/* A rise that a later round's RTT undoes was jitter: CSS goes back to slow start, whose acks add
 * their bytes again; ssthresh stays unset. */
static void test_css_back_to_slow_start(void **state)
{
	(void)state;
	static pipe_sim p;
	slow_start_to(&p, 100 * MS, 40);
	p.rtt = 120 * MS;
	ack_until_phase(&p, KONCE_CUBIC_HS_CSS, 4000);
	p.rtt = 100 * MS;
	ack_until_phase(&p, KONCE_CUBIC_HS_SS, 4000);
	assert_true(p.cc.ssthresh == UINT64_MAX);
	assert_true(p.cc.u.cubic.css_baseline_min_rtt == UINT64_MAX);
	uint64_t w = konce_cc_cwnd(&p.cc);
	ack_one(&p);
	assert_int_equal(konce_cc_cwnd(&p.cc) - w, MSS);
	/* a rise below the threshold (100 -> 110 ms, threshold 12.5 ms) is no exit */
	p.rtt = 110 * MS;
	for (int i = 0; i < 400; i++)
		ack_one(&p);
	assert_int_equal(p.cc.u.cubic.hs_phase, KONCE_CUBIC_HS_SS);
	assert_int_equal(p.cc.episodes, 0);
}

/* A sender in congestion avoidance at w segments (W_max w), flight full, that loses nlost
 * datagrams at once: the recovery period has begun and PRR is under way. */
static void lose_some(pipe_sim *p, uint64_t w, uint64_t nlost)
{
	full_then_lose(p, w, 100 * MS, nlost);
	assert_int_equal(p->cc.episodes, 1);
	ack_one(p); /* PRR: the window is on its way down */
	assert_true(konce_cc_cwnd(&p->cc) < w * MSS);
}

/* The loss was reordering (recovery.h: the "lost" packet's ack came): the reduction is undone. */
static void test_spurious_loss_undone(void **state)
{
	(void)state;
	static pipe_sim p;
	/* during the recovery period */
	lose_some(&p, 100, 1);
	assert_int_equal(p.cc.ssthresh, 70 * MSS);
	konce_cc_on_spurious(&p.cc, MSS, p.now);
	assert_int_equal(konce_cc_cwnd(&p.cc), 100 * MSS);
	assert_int_equal(p.cc.ssthresh, 100 * MSS);
	assert_true(p.cc.u.cubic.w_max == 100 * MSS);
	assert_false(p.cc.in_recovery_period);
	assert_int_equal(p.cc.u.cubic.undone, 1);
	/* acks go on from the restored window: no PRR, no cut */
	for (int i = 0; i < 50; i++)
		ack_one(&p);
	assert_true(konce_cc_cwnd(&p.cc) >= 100 * MSS);
	/* a second report of the same bytes finds nothing to undo */
	konce_cc_on_spurious(&p.cc, MSS, p.now);
	assert_int_equal(p.cc.u.cubic.undone, 1);

	/* after the period ended, with the epoch begun at ssthresh */
	uint64_t epoch = lose_at(&p, 100, 100 * MS);
	assert_true(epoch != 0);
	for (int i = 0; i < 30; i++)
		ack_one(&p);
	assert_true(konce_cc_cwnd(&p.cc) < 80 * MSS);
	konce_cc_on_spurious(&p.cc, MSS, p.now);
	assert_int_equal(konce_cc_cwnd(&p.cc), 100 * MSS);
	assert_int_equal(p.cc.ssthresh, 100 * MSS);
	assert_true(p.cc.u.cubic.w_max == 100 * MSS);
	assert_int_equal(p.cc.u.cubic.epoch, 0); /* as before the loss: the next ack starts one */
}

/* Only an event whose every lost byte was reordering is undone; persistent congestion is not. */
static void test_partly_spurious_not_undone(void **state)
{
	(void)state;
	static pipe_sim p;
	lose_some(&p, 100, 2);
	konce_cc_on_spurious(&p.cc, MSS, p.now);
	assert_int_equal(p.cc.u.cubic.undone, 0);
	assert_int_equal(p.cc.ssthresh, 70 * MSS);
	assert_true(p.cc.in_recovery_period);
	/* a later loss in the same period must be shown spurious too */
	konce_cc_on_loss(&p.cc, MSS, 1, p.now + 1);
	assert_int_equal(p.cc.episodes, 1);
	konce_cc_on_spurious(&p.cc, MSS, p.now + 2);
	assert_int_equal(p.cc.u.cubic.undone, 0);
	konce_cc_on_spurious(&p.cc, MSS, p.now + 3);
	assert_int_equal(p.cc.u.cubic.undone, 1);
	assert_int_equal(konce_cc_cwnd(&p.cc), 100 * MSS);

	lose_some(&p, 100, 1);
	konce_cc_on_persistent_congestion(&p.cc, p.now);
	assert_int_equal(konce_cc_cwnd(&p.cc), 2 * MSS);
	konce_cc_on_spurious(&p.cc, MSS, p.now);
	assert_int_equal(konce_cc_cwnd(&p.cc), 2 * MSS);
	assert_int_equal(p.cc.u.cubic.undone, 0);
}

/* A spurious loss in the initial slow start: undone, slow start and HyStart++ go on. */
static void test_spurious_in_slow_start(void **state)
{
	(void)state;
	static pipe_sim p;
	slow_start_to(&p, 100 * MS, 40);
	uint64_t w = konce_cc_cwnd(&p.cc);
	p.head++;
	p.n--;
	konce_cc_on_loss(&p.cc, MSS, p.now, p.now + 1);
	assert_int_equal(p.cc.u.cubic.hs_phase, KONCE_CUBIC_HS_OFF);
	assert_true(p.cc.ssthresh < UINT64_MAX);
	konce_cc_on_spurious(&p.cc, MSS, p.now + 2);
	assert_true(p.cc.ssthresh == UINT64_MAX);
	assert_int_equal(konce_cc_cwnd(&p.cc), w);
	assert_int_equal(p.cc.u.cubic.hs_phase, KONCE_CUBIC_HS_SS);
	uint64_t w1 = konce_cc_cwnd(&p.cc);
	ack_one(&p);
	assert_int_equal(konce_cc_cwnd(&p.cc) - w1, MSS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formulas),
		cmocka_unit_test(test_follows_cubic_curve),
		cmocka_unit_test(test_reno_friendly_region),
		cmocka_unit_test(test_fast_convergence),
		cmocka_unit_test(test_app_limited_shifts_epoch),
		cmocka_unit_test(test_slow_start_and_unused_window),
		cmocka_unit_test(test_hystart_exits_on_rtt_increase),
		cmocka_unit_test(test_css_back_to_slow_start),
		cmocka_unit_test(test_spurious_loss_undone),
		cmocka_unit_test(test_partly_spurious_not_undone),
		cmocka_unit_test(test_spurious_in_slow_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
