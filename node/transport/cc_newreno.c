/* cc_newreno.c - NewReno, RFC 9002 section 7 and appendix B: the default congestion class.
 *
 * Slow start: cwnd grows by every acked byte until the first loss (ssthresh = infinity).
 * Congestion avoidance: one mss per cwnd of acked bytes (appropriate byte counting, RFC 3465),
 * i.e. one mss per round trip.  A loss starting a new recovery period halves the window
 * (kLossReductionFactor 0.5, floor 2 mss): ssthresh takes the new window at once, and the window
 * follows Proportional Rate Reduction down to it over the period (cc_prr.c); acks of packets sent
 * before the period do not grow it.
 * Persistent congestion drops it to 2 mss (cc.c).  Pacing is pacer.h's, at cc.h's rate.
 */
#include "node/transport/cc.h"

static void newreno_init(konce_cc *cc, uint64_t now)
{
	(void)now;
	cc->u.newreno.acked = 0;
}

static void newreno_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	(void)now;
	if (cc->in_recovery_period)
		return; /* only packets sent before the loss were acked: no growth (RFC 9002 B.5) */
	if (!cc->window_used)
		return; /* the application did not fill the window: no growth (RFC 9002 7.8) */
	if (cc->cwnd < cc->ssthresh) {
		cc->cwnd += ack->bytes;
		return;
	}
	cc->u.newreno.acked += ack->bytes;
	while (cc->u.newreno.acked >= cc->cwnd) {
		cc->u.newreno.acked -= cc->cwnd;
		cc->cwnd += cc->mss;
	}
}

static void newreno_on_congestion(konce_cc *cc, uint64_t now)
{
	(void)now;
	cc->ssthresh = cc->cwnd / 2;
	if (cc->ssthresh < konce_cc_min_window(cc->mss))
		cc->ssthresh = konce_cc_min_window(cc->mss);
	cc->cwnd = cc->ssthresh;
	cc->u.newreno.acked = 0;
}

static void newreno_on_persistent(konce_cc *cc, uint64_t now)
{
	(void)now;
	cc->u.newreno.acked = 0;
}

const konce_cc_ops konce_cc_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.on_ack = newreno_on_ack,
	.on_congestion = newreno_on_congestion,
	.on_persistent_congestion = newreno_on_persistent,
	.prr = true,
};
