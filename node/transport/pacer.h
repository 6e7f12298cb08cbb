/* pacer.h - token-bucket pacing: spreads a congestion window over the round trip.
 *
 * Tokens (bytes) accrue at `rate` bytes per second up to `burst`; a packet may go when the bucket
 * holds its size, and sending spends them.  With rate = konce_cc_pacing_rate(cwnd, srtt), a window
 * leaves as a steady stream over about one RTT instead of one burst that overflows a shallow
 * queue.  The burst lets a few packets go back to back (timer granularity, GSO batches); a fresh
 * pacer starts full so the first packets are not held.
 *
 * Tokens are kept in byte-microseconds-per-second (bytes x 10^6) so that slow rates and short
 * intervals do not round to zero.  Rate 0 means unpaced.
 *
 * A packet larger than the burst may go once the bucket is full; what it spends beyond the tokens
 * there were is a debt the next refills pay first.  Without the debt, a path-MTU datagram (up to
 * 8,972 bytes) sent on a 1,200-byte allowance would be paced several times faster than `rate`.
 */
#ifndef KONCE_PACER_H
#define KONCE_PACER_H

#include <stdint.h>

typedef struct konce_pacer {
	uint64_t rate;   /* bytes per second, 0 = unpaced */
	uint64_t burst;  /* bytes */
	int64_t tokens;  /* bytes x 10^6; negative: a packet larger than the tokens left went, and its
			  * excess is owed (paid back before the next packet may go) */
	uint64_t last;   /* time of the last refill */
} konce_pacer;

void konce_pacer_init(konce_pacer *p, uint64_t burst_bytes, uint64_t now);
/* Changes the rate (tokens earned so far are kept at the old rate). */
void konce_pacer_set_rate(konce_pacer *p, uint64_t rate_bytes_per_s, uint64_t now);
/* Changes the burst (tokens above it are dropped at the next refill). */
void konce_pacer_set_burst(konce_pacer *p, uint64_t burst_bytes);
/* Earliest time (>= now) at which a packet of bytes may be sent. */
uint64_t konce_pacer_next_time(konce_pacer *p, uint64_t bytes, uint64_t now);
/* Spends the tokens for a packet of bytes sent at now. */
void konce_pacer_on_sent(konce_pacer *p, uint64_t bytes, uint64_t now);

#endif
