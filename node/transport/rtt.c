/* rtt.c - RFC 9002 section 5 RTT estimator (see rtt.h). */
#include "node/transport/rtt.h"

#include "node/base/wire.h"

void konce_rtt_init(konce_rtt *r, uint64_t peer_max_ack_delay_us)
{
	r->latest = 0;
	r->min = 0;
	r->smoothed = KONCE_INITIAL_RTT_US;
	r->var = KONCE_INITIAL_RTT_US / 2;
	r->max_ack_delay = peer_max_ack_delay_us;
	r->have_sample = false;
}

void konce_rtt_update(konce_rtt *r, uint64_t latest_rtt, uint64_t ack_delay)
{
	r->latest = latest_rtt;
	if (!r->have_sample) {
		r->have_sample = true;
		r->min = latest_rtt;
		r->smoothed = latest_rtt;
		r->var = latest_rtt / 2;
		return;
	}
	if (latest_rtt < r->min)
		r->min = latest_rtt;
	if (ack_delay > r->max_ack_delay)
		ack_delay = r->max_ack_delay;
	uint64_t adjusted = latest_rtt;
	if (latest_rtt >= r->min + ack_delay)
		adjusted = latest_rtt - ack_delay;
	uint64_t diff = r->smoothed > adjusted ? r->smoothed - adjusted : adjusted - r->smoothed;
	r->var = (3 * r->var + diff) / 4;
	r->smoothed = (7 * r->smoothed + adjusted) / 8;
}

uint64_t konce_rtt_timeout(const konce_rtt *r)
{
	uint64_t v = 4 * r->var;
	return r->smoothed + (v > KONCE_GRANULARITY_US ? v : KONCE_GRANULARITY_US);
}

uint64_t konce_rtt_pto(const konce_rtt *r) { return konce_rtt_timeout(r) + r->max_ack_delay; }
