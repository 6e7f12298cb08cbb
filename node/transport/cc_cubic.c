/* cc_cubic.c - CUBIC, RFC 9438: a loss-based option for the default class
 * (`congestion = cubic`), with Proportional Rate Reduction in recovery (cc_prr.c).
 *
 * Windows are in bytes; the RFC's formulas are in segments of mss, so C is 0.4 mss per s^3.
 *
 *   slow start (cwnd < ssthresh): cwnd grows by every acked byte, as NewReno's (no HyStart++).
 *   congestion event (on_congestion, once per recovery period, cc.c):
 *     fast convergence: W_max = cwnd * (1 + beta) / 2 if cwnd < W_max (the flow is yielding to a
 *     newcomer), else W_max = cwnd; cwnd_prior = cwnd; ssthresh = cwnd * beta (beta = 0.7, floor
 *     2 mss); the window follows PRR down to ssthresh until the period ends; a new epoch starts at
 *     the next ack in congestion avoidance.
 *   epoch start (first ack in congestion avoidance): t_epoch = now, cwnd_epoch = cwnd,
 *     K = cbrt((W_max - cwnd_epoch) / C) (0, and W_max = cwnd, if cwnd is already above W_max),
 *     W_est = cwnd_epoch.
 *   each ack in congestion avoidance, t = now - t_epoch:
 *     W_cubic(t) = C (t - K)^3 + W_max;  target = W_cubic(t + RTT) within [cwnd, 1.5 cwnd];
 *     W_est += alpha * acked / cwnd (alpha = 3 (1 - beta) / (1 + beta), 1 once W_est reaches
 *     cwnd_prior);
 *     Reno-friendly region (W_cubic(t) < W_est): cwnd = W_est;
 *     otherwise (concave below W_max, convex above): cwnd += (target - cwnd) * acked / cwnd.
 *   persistent congestion: cc.c drops cwnd to 2 mss; the epoch ends (slow start to ssthresh).
 *
 * RTT is the path's minimum RTT (as Linux's CUBIC uses its delay_min), the latest sample before
 * there is one.  Application-limited (RFC 9438 section 5.8): as NewReno, the window does not grow
 * in a round whose flight did not reach it (cc.h: window_used), and the epoch moves later by the
 * time such acks cover (from the previous ack to this one), so the curve keeps its shape, shifted,
 * instead of jumping ahead when the application fills the window again.
 */
#include "node/transport/cc.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

/* The cube root by Newton's method (v >= 0), so the transport needs no libm. */
static double cube_root(double v)
{
	if (v <= 0)
		return 0;
	double x = v > 1 ? v / 3 + 1 : 1;
	for (int i = 0; i < 200; i++) {
		double next = (2 * x + v / (x * x)) / 3;
		if (next == x || (next < x && x - next < x * 1e-15))
			return next;
		x = next;
	}
	return x;
}

double konce_cc_cubic_k(double w_max, double cwnd_epoch)
{
	return w_max > cwnd_epoch ? cube_root((w_max - cwnd_epoch) / CUBIC_C) : 0;
}

double konce_cc_cubic_w(double t, double k, double w_max)
{
	return CUBIC_C * (t - k) * (t - k) * (t - k) + w_max;
}

static void cubic_init(konce_cc *cc, uint64_t now)
{
	(void)now;
	konce_cc_cubic_state *s = &cc->u.cubic;
	*s = (konce_cc_cubic_state){.alpha = CUBIC_ALPHA};
}

static void epoch_start(konce_cc *cc, uint64_t now)
{
	konce_cc_cubic_state *s = &cc->u.cubic;
	double w = (double)cc->cwnd;
	s->epoch = now ? now : 1;
	if (w < s->w_max) {
		s->k = konce_cc_cubic_k(s->w_max / (double)cc->mss, w / (double)cc->mss);
	} else {
		s->k = 0;
		s->w_max = w;
	}
	s->w_est = w;
	s->frac = 0;
}

static void cubic_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	konce_cc_cubic_state *s = &cc->u.cubic;
	uint64_t since = s->last_ack && now > s->last_ack ? now - s->last_ack : 0;
	s->last_ack = now;
	if (!cc->window_used || ack->bytes == 0) {
		/* the application did not fill the window: no growth (RFC 9002 7.8), and the
		 * curve waits (RFC 9438 5.8) */
		if (s->epoch)
			s->epoch += since;
		return;
	}
	if (cc->cwnd < cc->ssthresh) {
		cc->cwnd += ack->bytes;
		return;
	}
	if (!s->epoch)
		epoch_start(cc, now);
	double mss = (double)cc->mss, w = (double)cc->cwnd, acked = (double)ack->bytes;
	uint64_t rtt_us = ack->min_rtt ? ack->min_rtt : ack->rtt;
	double t = (double)(now - s->epoch) / 1e6, rtt = (double)rtt_us / 1e6;
	double target = konce_cc_cubic_w(t + rtt, s->k, s->w_max / mss) * mss;
	if (target < w)
		target = w;
	if (target > 1.5 * w)
		target = 1.5 * w;
	s->w_est += s->alpha * mss * acked / w;
	if (s->w_est >= s->cwnd_prior)
		s->alpha = 1;
	if (konce_cc_cubic_w(t, s->k, s->w_max / mss) * mss < s->w_est) {
		if (s->w_est > w) /* Reno-friendly region */
			cc->cwnd = (uint64_t)s->w_est;
		s->frac = 0;
		return;
	}
	s->frac += (target - w) * acked / w; /* concave or convex region */
	if (s->frac >= 1) {
		cc->cwnd += (uint64_t)s->frac;
		s->frac -= (double)(uint64_t)s->frac;
	}
}

static void cubic_on_congestion(konce_cc *cc, uint64_t now)
{
	(void)now;
	konce_cc_cubic_state *s = &cc->u.cubic;
	double w = (double)cc->cwnd;
	s->w_max = w < s->w_max ? w * (1 + CUBIC_BETA) / 2 : w; /* fast convergence */
	s->cwnd_prior = w;
	s->alpha = CUBIC_ALPHA;
	s->epoch = 0;
	s->frac = 0;
	uint64_t ssthresh = (uint64_t)(w * CUBIC_BETA);
	cc->ssthresh = ssthresh > konce_cc_min_window(cc->mss) ? ssthresh : konce_cc_min_window(cc->mss);
	cc->cwnd = cc->ssthresh; /* cc.c's PRR takes it from here */
}

static void cubic_on_persistent(konce_cc *cc, uint64_t now)
{
	(void)now;
	cc->u.cubic.epoch = 0;
	cc->u.cubic.frac = 0;
}

static void cubic_on_mss(konce_cc *cc)
{
	cc->u.cubic.epoch = 0; /* K was computed in segments of the old size */
}

const konce_cc_ops konce_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.on_ack = cubic_on_ack,
	.on_congestion = cubic_on_congestion,
	.on_persistent_congestion = cubic_on_persistent,
	.on_mss = cubic_on_mss,
	.prr = true,
};
