/* cc_cubic.c - CUBIC, RFC 9438: a loss-based option for the default class
 * (`congestion = cubic`), with Proportional Rate Reduction in recovery (cc_prr.c).
 *
 * Windows are in bytes; the RFC's formulas are in segments of mss, so C is 0.4 mss per s^3.
 *
 *   slow start (cwnd < ssthresh): cwnd grows by every acked byte, as NewReno's; the initial slow
 *     start (ssthresh not yet set) runs HyStart++ (RFC 9406, below).
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
 *
 * HyStart++ (RFC 9406), in the initial slow start only (section 4.3: later slow starts have the
 * ssthresh a loss found).  Phases (enum konce_cubic_hs):
 *
 *     SS --(RTT rose: cur_round_min >= last_round_min + thresh)--> CSS
 *     CSS --(a round's min RTT below the baseline)--> SS
 *     CSS --(CSS_ROUNDS rounds ended in CSS: ssthresh = cwnd)--> OFF (congestion avoidance)
 *     SS, CSS --(congestion event, persistent congestion)--> OFF
 *
 *   A round ends when an ack covers a packet sent since it began (as cc.c's rounds).  At each
 *   round's start last_round_min = cur_round_min, cur_round_min = infinity, samples = 0; every RTT
 *   sample lowers cur_round_min.  Once a round has N_RTT_SAMPLE samples and both minimums exist,
 *   thresh = clamp(last_round_min / MIN_RTT_DIVISOR, MIN_RTT_THRESH, MAX_RTT_THRESH) decides the
 *   exit to Conservative Slow Start, with css_baseline = cur_round_min.  In CSS the window grows by
 *   acked / CSS_GROWTH_DIVISOR; an RTT back below the baseline (after N_RTT_SAMPLE samples) was
 *   jitter, and slow start resumes.  konce paces (pacer.h), so L is infinity: an ack's bytes are not
 *   capped.  The round CSS begins in counts as its first.
 *
 * Undo (RFC 9438 section 4.9): on_congestion saves cwnd, ssthresh, W_max, K, the epoch, W_est,
 * alpha, cwnd_prior and the HyStart++ phase, and counts the bytes of the loss that began the event
 * and of later losses in its recovery period (on_lost, cc.c).  recovery.h reports bytes declared
 * lost that an ack later showed only reordered (on_spurious); once every lost byte of the event
 * is so reported, the event was spurious: the saved state comes back (cwnd at least what it was),
 * and the recovery period ends, so PRR stops pulling the window down.  The next congestion event
 * or persistent congestion ends the chance to undo; spurious bytes of an earlier event that come
 * after a new one count toward the new one (recovery.h reports bytes, not which event lost them).
 */
#include "node/transport/cc.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

/* RFC 9406 section 4.3's constants; RTTs in us. */
#define HS_MIN_RTT_THRESH 4000
#define HS_MAX_RTT_THRESH 16000
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5
#define HS_NONE UINT64_MAX

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
	*s = (konce_cc_cubic_state){.alpha = CUBIC_ALPHA,
				    .hs_phase = KONCE_CUBIC_HS_SS,
				    .last_round_min_rtt = HS_NONE,
				    .cur_round_min_rtt = HS_NONE,
				    .css_baseline_min_rtt = HS_NONE};
}

/* HyStart++'s bookkeeping for one ack in the initial slow start (file header): rounds, RTT
 * minimums, and the moves between SS, CSS and OFF.  Growth is the caller's. */
static void hystart_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	konce_cc_cubic_state *s = &cc->u.cubic;
	if (s->hs_phase == KONCE_CUBIC_HS_OFF)
		return;
	if (cc->ssthresh != UINT64_MAX) { /* not the initial slow start */
		s->hs_phase = KONCE_CUBIC_HS_OFF;
		return;
	}
	if (ack->bytes && ack->largest_sent >= s->hs_round_start) {
		if (s->hs_phase == KONCE_CUBIC_HS_CSS && ++s->css_rounds >= HS_CSS_ROUNDS) {
			cc->ssthresh = cc->cwnd; /* congestion avoidance */
			s->hs_phase = KONCE_CUBIC_HS_OFF;
			return;
		}
		s->last_round_min_rtt = s->cur_round_min_rtt;
		s->cur_round_min_rtt = HS_NONE;
		s->rtt_samples = 0;
		s->hs_round_start = now;
	}
	if (!ack->rtt)
		return;
	if (ack->rtt < s->cur_round_min_rtt)
		s->cur_round_min_rtt = ack->rtt;
	s->rtt_samples++;
	if (s->rtt_samples < HS_N_RTT_SAMPLE || s->cur_round_min_rtt == HS_NONE)
		return;
	if (s->hs_phase == KONCE_CUBIC_HS_SS) {
		if (s->last_round_min_rtt == HS_NONE)
			return;
		uint64_t thresh = s->last_round_min_rtt / HS_MIN_RTT_DIVISOR;
		thresh = thresh < HS_MAX_RTT_THRESH ? thresh : HS_MAX_RTT_THRESH;
		thresh = thresh > HS_MIN_RTT_THRESH ? thresh : HS_MIN_RTT_THRESH;
		if (s->cur_round_min_rtt >= s->last_round_min_rtt + thresh) {
			s->css_baseline_min_rtt = s->cur_round_min_rtt;
			s->hs_phase = KONCE_CUBIC_HS_CSS;
			s->css_rounds = 0;
			s->css_acked = 0;
		}
	} else if (s->cur_round_min_rtt < s->css_baseline_min_rtt) {
		/* the rise was jitter: back to slow start */
		s->css_baseline_min_rtt = HS_NONE;
		s->hs_phase = KONCE_CUBIC_HS_SS;
	}
}

/* Slow start's growth for acked bytes: all of them, a quarter in CSS. */
static void slow_start_grow(konce_cc *cc, uint64_t acked)
{
	konce_cc_cubic_state *s = &cc->u.cubic;
	if (s->hs_phase != KONCE_CUBIC_HS_CSS) {
		cc->cwnd += acked;
		return;
	}
	s->css_acked += acked;
	cc->cwnd += s->css_acked / HS_CSS_GROWTH_DIVISOR;
	s->css_acked %= HS_CSS_GROWTH_DIVISOR;
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
	if (cc->cwnd < cc->ssthresh)
		hystart_on_ack(cc, ack, now);
	if (!cc->window_used || ack->bytes == 0) {
		/* the application did not fill the window: no growth (RFC 9002 7.8), and the
		 * curve waits (RFC 9438 5.8) */
		if (s->epoch)
			s->epoch += since;
		return;
	}
	if (cc->cwnd < cc->ssthresh) {
		slow_start_grow(cc, ack->bytes);
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
	/* what an undo restores (RFC 9438 section 4.9) */
	s->prior_cwnd = cc->cwnd;
	s->prior_ssthresh = cc->ssthresh;
	s->prior_epoch = s->epoch;
	s->prior_w_max = s->w_max;
	s->prior_k = s->k;
	s->prior_w_est = s->w_est;
	s->prior_alpha = s->alpha;
	s->prior_cwnd_prior = s->cwnd_prior;
	s->prior_hs_phase = s->hs_phase;
	s->undo_lost = s->last_lost;
	s->hs_phase = KONCE_CUBIC_HS_OFF;
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
	cc->u.cubic.undo_lost = 0; /* a timeout's collapse is not undone */
	cc->u.cubic.hs_phase = KONCE_CUBIC_HS_OFF;
}

/* Every loss: the one that begins an event (on_congestion follows and takes last_lost) or one
 * within its recovery period (it adds to what must be shown spurious). */
static void cubic_on_lost(konce_cc *cc, uint64_t lost_bytes, uint64_t now)
{
	(void)now;
	konce_cc_cubic_state *s = &cc->u.cubic;
	s->last_lost = lost_bytes;
	if (s->undo_lost)
		s->undo_lost += lost_bytes;
}

/* Bytes declared lost were only reordered: once all of the last event's are, undo it. */
static void cubic_on_spurious(konce_cc *cc, uint64_t bytes, uint64_t now)
{
	(void)now;
	konce_cc_cubic_state *s = &cc->u.cubic;
	if (!s->undo_lost)
		return;
	if (bytes < s->undo_lost) {
		s->undo_lost -= bytes;
		return;
	}
	s->undo_lost = 0;
	if (s->prior_cwnd > cc->cwnd)
		cc->cwnd = s->prior_cwnd;
	cc->ssthresh = s->prior_ssthresh;
	s->epoch = s->prior_epoch;
	s->w_max = s->prior_w_max;
	s->k = s->prior_k;
	s->w_est = s->prior_w_est;
	s->alpha = s->prior_alpha;
	s->cwnd_prior = s->prior_cwnd_prior;
	s->hs_phase = s->prior_hs_phase;
	s->frac = 0;
	cc->in_recovery_period = false; /* PRR stops: the window is not to come down */
	s->undone++;
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
	.on_lost = cubic_on_lost,
	.on_spurious = cubic_on_spurious,
	.on_mss = cubic_on_mss,
	.prr = true,
};
