/* rtt.h - round-trip time estimation, RFC 9002 section 5.
 *
 * Until the first sample, smoothed_rtt = KONCE_INITIAL_RTT_US and rttvar = half of it.  Each sample
 * (konce_rtt_update) is the time from sending the largest newly acked packet to its ack:
 *   min_rtt  = min over all samples, taken before any ack-delay adjustment;
 *   the peer's reported ack delay is capped at max_ack_delay and subtracted only if that does not
 *   take the sample below min_rtt;
 *   rttvar   = 3/4 rttvar + 1/4 |smoothed_rtt - adjusted|;
 *   smoothed = 7/8 smoothed + 1/8 adjusted.
 * The retransmission timeout is SRTT + max(G, 4 RTTVAR); the probe timeout adds the
 * peer's max_ack_delay (RFC 9002 section 6.2.1), since the peer may hold its ack that long.
 * All times are microseconds.
 */
#ifndef KONCE_RTT_H
#define KONCE_RTT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct konce_rtt {
	uint64_t latest, min, smoothed, var;
	uint64_t max_ack_delay; /* the peer's, microseconds */
	bool have_sample;
} konce_rtt;

void konce_rtt_init(konce_rtt *r, uint64_t peer_max_ack_delay_us);
/* One sample: latest_rtt measured by the sender, ack_delay reported by the peer. */
void konce_rtt_update(konce_rtt *r, uint64_t latest_rtt, uint64_t ack_delay);
/* SRTT + max(G, 4 RTTVAR). */
uint64_t konce_rtt_timeout(const konce_rtt *r);
/* The probe timeout before backoff: konce_rtt_timeout() + max_ack_delay. */
uint64_t konce_rtt_pto(const konce_rtt *r);

#endif
