/* cc_ledbat.c - LEDBAT (RFC 6817) with LEDBAT++'s target, slow-start exit, multiplicative
 * decrease, dynamic gain and periodic slowdown: the background congestion class.  It fills the
 * path while the queue is short and steps aside as soon as anything else builds one.
 *
 * Delay.  The sender puts a TIMESTAMP frame (its clock, low 32 bits, us) in its packets; the
 * receiver answers in ACK_OWD with (its clock at receipt - timestamp) mod 2^32 for the largest
 * packet acked (recvtrack.c).  The two clocks have an unknown offset, so a sample means nothing
 * alone; the first sample becomes a reference and every sample is kept as a signed 32-bit
 * difference from it, which is exact while the spread of delays stays under 35 minutes.
 *   base delay    = minimum of KONCE_LEDBAT_BASE_HISTORY (10) one-minute minima, so a route change
 *                   is forgotten after ten minutes (RFC 6817 section 4.2);
 *   current delay = minimum of the last KONCE_LEDBAT_CURRENT_FILTER (4) samples (filters jitter
 *                   and delayed acks);
 *   queuing delay = current - base.
 * Without one-way samples (a peer that sends plain ACKs) the RTT samples stand in: the queueing
 * delay is then the round trip's, which errs on the side of yielding.
 *
 * Target: a quarter of the minimum RTT, within 5..60 ms (see ledbat_on_ack: beside BBR a fixed
 * target is never reached).  60 ms is LEDBAT++'s choice and the low end of RFC 6817's "at most 100 ms".  A lower target
 * leaves less standing queue for the interactive traffic the background class must not hurt; it
 * is still several times typical access-link jitter, so LEDBAT does not mistake noise for
 * congestion.  (RFC 6817 leaves clock-skew correction optional; it is not done here.)
 *
 * Window, per ack of `bytes` with queuing delay q (GAIN below, in bytes of mss):
 *   slow start   cwnd += bytes while q < 3/4 target (LEDBAT++ exits there, or on loss);
 *   q <= target  cwnd += GAIN * (target - q) / target * bytes * mss / cwnd   (RFC 6817);
 *   q >  target  cwnd += max(GAIN * mss - cwnd * (q / target - 1), -cwnd / 2) * bytes / cwnd
 *                (LEDBAT++: a multiplicative decrease of at most half a window per round trip,
 *                which yields to a loss-based flow far faster than RFC 6817's linear decrease);
 *   bounded by the delivery rate (konce's own rule, not in either document), with
 *   floor = rate x (min_rtt + target / 2), from recovery.h's rate sample on the ack:
 *     q >  target  the cut stops at floor (and never grows the window).  The delay an ack
 *                  reports is a round trip old, so cut per ack the window keeps falling for the
 *                  round trip the queue takes to drain: on netsim (100 Mbit/s, 40 ms) the
 *                  initial slow start's 750 kB fell to 340 kB, against a 500 kB BDP, and 1 mss
 *                  per round trip took the rest of a transfer to come back.  floor is the window
 *                  that, alone, would leave half the target of queue.  Beside a flow holding
 *                  the queue up, the rate this flow gets falls with its window: it still yields.
 *     q < target/2 the window grows to floor if it is below (a rate sample that is not
 *                  application-limited): with no queue that is (min_rtt + target / 2) / min_rtt
 *                  per round trip, where RFC 6817's 1 mss per round trip needs a hundred round
 *                  trips to fill a 100 Mbit/s, 40 ms path after a slowdown or a cut;
 *   then no growth past bytes_in_flight + bytes + mss (RFC 6817's max_allowed_cwnd: no growth
 *   while the window is not used), and cwnd >= 2 mss.  A loss halves the window, once per round
 *   trip, like Reno.
 *
 * Periodic slowdown (LEDBAT++ section 4.4).  A flow that starts while another LEDBAT flow holds a
 * standing queue takes that queue for part of its base delay, and then holds it there forever --
 * the "latecomer advantage": measured here, a second flow took 95% of the link from the first.
 * So every flow drains its own queue now and then, and both re-measure the base:
 *
 *     SLOW_START --(q > 3/4 target, or loss)--> AVOID
 *     AVOID --(now >= next_slowdown)--> SLOWDOWN      cwnd = 2 mss, held for 2 RTT
 *     SLOWDOWN --(2 RTT passed)--> RAMP               slow start toward the window it had
 *     RAMP --(cwnd >= saved, q > 3/4 target, or loss)--> AVOID
 *
 * The first slowdown comes 2 RTT after the initial slow start; each next one 9 x the length of the
 * previous (SLOWDOWN + RAMP), so at most about a tenth of the time is spent below the window.
 *
 * GAIN is LEDBAT++'s: 1 / min(16, ceil(2 target / base one-way delay)), with min_rtt / 2 standing
 * in for the one-way delay.  On a 40 ms path it is 1/6; the shared-bottleneck test measured a
 * NewReno flow beside LEDBAT keeping 97% of the link with it, 92% with RFC 6817's GAIN = 1.
 */
#include "node/transport/cc.h"

#include <string.h>

#define MINUTE_US (60ull * 1000 * 1000)

static void ledbat_init(konce_cc *cc, uint64_t now)
{
	konce_cc_ledbat_state *l = &cc->u.ledbat;
	memset(l, 0, sizeof(*l));
	cc->cwnd = konce_cc_min_window(cc->mss);
	l->cwnd = (double)cc->cwnd;
	l->target_us = KONCE_LEDBAT_TARGET_US;
	l->phase = KONCE_LEDBAT_SLOW_START;
	l->base_minute_start = now;
}

static void add_sample(konce_cc_ledbat_state *l, int64_t d, uint64_t now)
{
	if (l->nbase == 0) {
		l->base[0] = d;
		l->nbase = 1;
		l->base_minute_start = now;
	} else if (now - l->base_minute_start >= MINUTE_US) {
		if (l->nbase == KONCE_LEDBAT_BASE_HISTORY) {
			memmove(l->base, l->base + 1, (KONCE_LEDBAT_BASE_HISTORY - 1) * sizeof(l->base[0]));
			l->nbase--;
		}
		l->base[l->nbase++] = d;
		l->base_minute_start = now;
	} else if (d < l->base[l->nbase - 1]) {
		l->base[l->nbase - 1] = d;
	}
	l->current[l->current_at] = d;
	l->current_at = (l->current_at + 1) % KONCE_LEDBAT_CURRENT_FILTER;
	if (l->ncurrent < KONCE_LEDBAT_CURRENT_FILTER)
		l->ncurrent++;
}

static int64_t queuing_delay(const konce_cc_ledbat_state *l)
{
	int64_t base = l->base[0], cur = l->current[0];
	for (unsigned i = 1; i < l->nbase; i++)
		if (l->base[i] < base)
			base = l->base[i];
	for (unsigned i = 1; i < l->ncurrent; i++)
		if (l->current[i] < cur)
			cur = l->current[i];
	return cur - base;
}

/* LEDBAT++ dynamic gain: 1 / min(16, ceil(2 target / base delay)), so that on short paths, where
 * a loss-based flow's queue swings through the target every cycle, LEDBAT grows slower than Reno.
 * The one-way base delay cannot be read from unsynchronised clocks; min_rtt / 2 stands in. */
static double gain(const konce_cc_ack *ack, double target)
{
	double base = (double)(ack->min_rtt / 2);
	if (base <= 0)
		return 1.0 / 16;
	double d = 2 * target / base;
	d = d > 16 ? 16 : d < 1 ? 1 : (double)(uint64_t)(d + 0.999999);
	return 1.0 / d;
}

/* The delivery-rate floor: the window that, at the rate this flow is delivered, would leave
 * half the target of queue.  0 without a rate sample or a minimum RTT. */
static double rate_floor(const konce_cc_ack *ack, double target)
{
	if (!ack->rate || !ack->min_rtt)
		return 0;
	return (double)ack->rate * ((double)ack->min_rtt + target / 2) / 1e6;
}

static void enter_avoid(konce_cc *cc, konce_cc_ledbat_state *l, uint64_t now)
{
	uint64_t rtt = l->rtt ? l->rtt : 100000;
	if (l->phase == KONCE_LEDBAT_SLOW_START)
		l->next_slowdown = now + 2 * rtt;
	else if (l->phase == KONCE_LEDBAT_RAMP)
		l->next_slowdown = now + 9 * (now - l->slowdown_start);
	l->phase = KONCE_LEDBAT_AVOID;
	cc->ssthresh = cc->cwnd; /* pacing leaves its slow-start rate */
}

/* The transitions of the diagram above, taken on an ack before the window changes. */
static void phase_step(konce_cc *cc, konce_cc_ledbat_state *l, bool queue_building, uint64_t now)
{
	switch (l->phase) {
	case KONCE_LEDBAT_SLOW_START:
		if (queue_building)
			enter_avoid(cc, l, now);
		break;
	case KONCE_LEDBAT_AVOID:
		if (!l->no_slowdown && l->next_slowdown && now >= l->next_slowdown) {
			l->phase = KONCE_LEDBAT_SLOWDOWN;
			l->saved_cwnd = l->cwnd;
			l->slowdown_start = now;
			l->hold_until = now + 2 * (l->rtt ? l->rtt : 100000);
		}
		break;
	case KONCE_LEDBAT_SLOWDOWN:
		if (now >= l->hold_until) {
			l->phase = KONCE_LEDBAT_RAMP;
			cc->ssthresh = (uint64_t)l->saved_cwnd; /* pacing at the slow-start rate */
		}
		break;
	case KONCE_LEDBAT_RAMP:
		if (queue_building || l->cwnd >= l->saved_cwnd)
			enter_avoid(cc, l, now);
		break;
	}
}

static void ledbat_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	konce_cc_ledbat_state *l = &cc->u.ledbat;
	int64_t d;
	if (ack->has_owd) {
		if (!l->have_ref) {
			l->have_ref = true;
			l->ref = ack->owd;
		}
		d = (int32_t)(ack->owd - l->ref);
	} else if (ack->rtt) {
		d = (int64_t)ack->rtt;
	} else {
		return; /* no delay information: hold the window */
	}
	add_sample(l, d, now);
	if (ack->bytes == 0)
		return;

	/* Beside a model-based flow (cc_bbr.c), which queues at most a quarter of the minimum RTT
	 * when it probes, a fixed 60 ms is never reached and LEDBAT would not yield: the target is
	 * a quarter of the minimum RTT, between KONCE_LEDBAT_TARGET_MIN_US and the 60 ms above. */
	if (ack->min_rtt && !l->fixed_target) {
		uint64_t t = ack->min_rtt / 4;
		l->target_us = t < KONCE_LEDBAT_TARGET_MIN_US ? KONCE_LEDBAT_TARGET_MIN_US
			       : t > KONCE_LEDBAT_TARGET_US  ? KONCE_LEDBAT_TARGET_US : t;
	}
	double q = (double)queuing_delay(l), target = (double)l->target_us, mss = (double)cc->mss;
	double bytes = (double)ack->bytes, w = l->cwnd;
	l->last_queuing_delay = (int64_t)q;
	if (ack->rtt)
		l->rtt = ack->rtt;
	phase_step(cc, l, q > 0.75 * target, now);
	if (l->phase == KONCE_LEDBAT_SLOWDOWN) {
		w = (double)konce_cc_min_window(cc->mss);
	} else if (cc->in_recovery_period) {
		/* acks of packets sent before the last loss: no growth */
	} else if (l->phase == KONCE_LEDBAT_SLOW_START || l->phase == KONCE_LEDBAT_RAMP) {
		w += bytes;
	} else if (q <= target) {
		w += gain(ack, target) * (target - q) / target * bytes * mss / w;
		/* ... and up to the delivery-rate floor (the header says why) */
		double floor = rate_floor(ack, target);
		if (!ack->app_limited && q < target / 2 && w < floor)
			w = floor;
	} else {
		double per_rtt = gain(ack, target) * mss - w * (q / target - 1);
		if (per_rtt < -w / 2)
			per_rtt = -w / 2;
		double before = w;
		w += per_rtt * bytes / w;
		/* not below the delivery-rate floor (the header says why), and no growth from it */
		double floor = rate_floor(ack, target);
		if (w < floor)
			w = floor < before ? floor : before;
	}
	/* Growth only while the window is used: flight size before this ack + one mss.  It caps
	 * growth, never shrinks the window by itself (the acks of one round drain the flight). */
	double max_allowed = (double)(cc->bytes_in_flight + ack->bytes + cc->mss);
	if (w > l->cwnd && w > max_allowed)
		w = max_allowed > l->cwnd ? max_allowed : l->cwnd;
	if (w < (double)konce_cc_min_window(cc->mss))
		w = (double)konce_cc_min_window(cc->mss);
	l->cwnd = w;
	cc->cwnd = (uint64_t)w;
}

static void ledbat_on_congestion(konce_cc *cc, uint64_t now)
{
	konce_cc_ledbat_state *l = &cc->u.ledbat;
	if (l->phase != KONCE_LEDBAT_AVOID && l->phase != KONCE_LEDBAT_SLOWDOWN)
		enter_avoid(cc, l, now);
	l->cwnd /= 2;
	if (l->cwnd < (double)konce_cc_min_window(cc->mss))
		l->cwnd = (double)konce_cc_min_window(cc->mss);
	cc->cwnd = (uint64_t)l->cwnd;
	cc->ssthresh = cc->cwnd;
	if (l->phase == KONCE_LEDBAT_SLOWDOWN)
		l->saved_cwnd /= 2; /* the window to come back to shrinks too */
}

static void ledbat_on_persistent(konce_cc *cc, uint64_t now)
{
	konce_cc_ledbat_state *l = &cc->u.ledbat;
	if (l->phase != KONCE_LEDBAT_AVOID)
		enter_avoid(cc, l, now);
	l->cwnd = (double)konce_cc_min_window(cc->mss);
}

/* The datagram size changed: the fractional window follows cc.c's floor. */
static void ledbat_on_mss(konce_cc *cc)
{
	if (cc->u.ledbat.cwnd < (double)cc->cwnd)
		cc->u.ledbat.cwnd = (double)cc->cwnd;
}

const konce_cc_ops konce_cc_ledbat = {
	.name = "ledbat",
	.init = ledbat_init,
	.on_ack = ledbat_on_ack,
	.on_congestion = ledbat_on_congestion,
	.on_persistent_congestion = ledbat_on_persistent,
	.on_mss = ledbat_on_mss,
};
