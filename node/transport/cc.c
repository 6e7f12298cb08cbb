/* cc.c - the algorithm-independent half of congestion control (see cc.h). */
#include "node/transport/cc.h"

#include <string.h>

const konce_cc_ops *konce_cc_by_name(const char *name)
{
	if (!strcmp(name, konce_cc_bbr.name))
		return &konce_cc_bbr;
	if (!strcmp(name, konce_cc_newreno.name))
		return &konce_cc_newreno;
	if (!strcmp(name, konce_cc_cubic.name))
		return &konce_cc_cubic;
	return NULL;
}

uint64_t konce_cc_initial_window(uint64_t mss)
{
	uint64_t w = 14720 > 2 * mss ? 14720 : 2 * mss;
	return w < 10 * mss ? w : 10 * mss;
}

void konce_cc_init(konce_cc *cc, const konce_cc_ops *ops, uint64_t mss, uint64_t now)
{
	memset(cc, 0, sizeof(*cc));
	cc->ops = ops;
	cc->mss = mss;
	cc->cwnd = konce_cc_initial_window(mss);
	cc->ssthresh = UINT64_MAX;
	ops->init(cc, now);
}

void konce_cc_set_mss(konce_cc *cc, uint64_t mss)
{
	if (mss == cc->mss || mss == 0)
		return;
	cc->mss = mss;
	if (cc->cwnd < konce_cc_min_window(mss))
		cc->cwnd = konce_cc_min_window(mss);
	if (cc->ops->on_mss)
		cc->ops->on_mss(cc);
}

void konce_cc_on_sent(konce_cc *cc, uint64_t bytes, uint64_t now)
{
	(void)now;
	cc->bytes_in_flight += bytes;
	if (cc->in_recovery_period && cc->ops->prr)
		konce_cc_prr_on_sent(cc, bytes);
	if (cc->bytes_in_flight > cc->flight_hi)
		cc->flight_hi = cc->bytes_in_flight;
}

void konce_cc_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	cc->bytes_in_flight -= ack->bytes < cc->bytes_in_flight ? ack->bytes : cc->bytes_in_flight;
	if (ack->bytes && ack->largest_sent >= cc->round_start) {
		uint64_t need = cc->cwnd < cc->ssthresh ? cc->cwnd / 2 : cc->cwnd - 2 * cc->mss;
		cc->window_used = cc->flight_hi >= need;
		cc->round_start = now;
		cc->flight_hi = cc->bytes_in_flight;
	}
	cc->prr.last_ack = now;
	cc->prr.last_delivered = ack->bytes;
	/* An ack of a packet sent after the recovery period began ends it. */
	if (cc->in_recovery_period && ack->bytes && ack->largest_sent > cc->recovery_start) {
		cc->in_recovery_period = false;
		if (cc->ops->prr)
			cc->cwnd = cc->ssthresh > konce_cc_min_window(cc->mss) ? cc->ssthresh : konce_cc_min_window(cc->mss);
	} else if (cc->in_recovery_period && cc->ops->prr) {
		konce_cc_prr_on_ack(cc, ack->bytes);
		return;
	}
	cc->ops->on_ack(cc, ack, now);
}

void konce_cc_on_loss(konce_cc *cc, uint64_t lost_bytes, uint64_t largest_lost_sent, uint64_t now)
{
	if (lost_bytes == 0)
		return; /* only packets that were not in flight (ACK-only): not congestion */
	cc->bytes_in_flight -= lost_bytes < cc->bytes_in_flight ? lost_bytes : cc->bytes_in_flight;
	if (cc->ops->on_lost)
		cc->ops->on_lost(cc, lost_bytes, now);
	if (cc->in_recovery_period && largest_lost_sent <= cc->recovery_start) {
		if (cc->ops->prr)
			konce_cc_prr_on_loss(cc, now);
		return;
	}
	cc->in_recovery_period = true;
	cc->recovery_start = now;
	cc->episodes++;
	cc->ops->on_congestion(cc, now);
	if (cc->ops->prr)
		konce_cc_prr_start(cc, lost_bytes, now);
	if (cc->cwnd < konce_cc_min_window(cc->mss))
		cc->cwnd = konce_cc_min_window(cc->mss);
}

void konce_cc_on_persistent_congestion(konce_cc *cc, uint64_t now)
{
	cc->persistent++;
	cc->ops->on_persistent_congestion(cc, now);
	cc->cwnd = konce_cc_min_window(cc->mss);
	cc->in_recovery_period = false;
}

void konce_cc_on_spurious(konce_cc *cc, uint64_t bytes, uint64_t now)
{
	if (bytes && cc->ops->on_spurious)
		cc->ops->on_spurious(cc, bytes, now);
}

void konce_cc_on_discard(konce_cc *cc, uint64_t bytes)
{
	cc->bytes_in_flight -= bytes < cc->bytes_in_flight ? bytes : cc->bytes_in_flight;
}

void konce_cc_seed_min_rtt(konce_cc *cc, uint64_t rtt_us, uint64_t at, uint64_t now)
{
	if (rtt_us && at <= now && cc->ops->seed_min_rtt)
		cc->ops->seed_min_rtt(cc, rtt_us, at, now);
}

uint64_t konce_cc_min_rtt(const konce_cc *cc, uint64_t *at)
{
	return cc->ops->min_rtt ? cc->ops->min_rtt(cc, at) : 0;
}

bool konce_cc_can_send(const konce_cc *cc, uint64_t bytes) { return cc->bytes_in_flight + bytes <= cc->cwnd; }

uint64_t konce_cc_pacing_rate(const konce_cc *cc, uint64_t smoothed_rtt_us)
{
	if (cc->ops->pacing_rate)
		return cc->ops->pacing_rate(cc, smoothed_rtt_us);
	if (smoothed_rtt_us == 0)
		smoothed_rtt_us = 1;
	uint64_t num = cc->cwnd < cc->ssthresh ? 2 : 5, den = cc->cwnd < cc->ssthresh ? 1 : 4;
	/* cwnd * 1e6 fits in 64 bits for any window below 18 TB */
	return cc->cwnd * 1000000 / smoothed_rtt_us * num / den;
}
