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
 *
 * Late wakes.  The bucket holds at most `burst`, so a sender that comes back later than the pacer
 * asked loses what it could have sent in the meantime beyond the burst.  A host's timer may fire
 * a jiffy late (libevent's clock is CLOCK_MONOTONIC_COARSE unless told otherwise: 4 ms at HZ=250),
 * or the process may not be scheduled: a 2 ms burst woken every 4 ms sends half the rate, and a
 * model-based controller's estimate follows what was sent.  So the pacer measures how late the
 * sender came back after each wait (konce_pacer_wait, then the next konce_pacer_on_sent) and
 * keeps the largest lateness of the last one to two seconds (konce_pacer_late), for the caller to
 * add to the burst.  A wait that ends because the sender ran out of data or window
 * (konce_pacer_unwait) is not a late wake.
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
	uint64_t release; /* konce_pacer_wait's time: the sender waits for it (0: not waiting) */
	uint64_t late[2]; /* the largest lateness after a wait (us): this window and the last */
	uint64_t late_start; /* when this window began */
} konce_pacer;

enum {
	KONCE_PACER_LATE_WINDOW_US = 1000000,
	KONCE_PACER_LATE_MAX_US = 8000, /* two jiffies at HZ=250; longer is a stall, not a late timer */
};

void konce_pacer_init(konce_pacer *p, uint64_t burst_bytes, uint64_t now);
/* Changes the rate (tokens earned so far are kept at the old rate). */
void konce_pacer_set_rate(konce_pacer *p, uint64_t rate_bytes_per_s, uint64_t now);
/* Changes the burst (tokens above it are dropped at the next refill). */
void konce_pacer_set_burst(konce_pacer *p, uint64_t burst_bytes);
/* Earliest time (>= now) at which a packet of bytes may be sent. */
uint64_t konce_pacer_next_time(konce_pacer *p, uint64_t bytes, uint64_t now);
/* Spends the tokens for a packet of bytes sent at now (and ends a wait: how late it was counts). */
void konce_pacer_on_sent(konce_pacer *p, uint64_t bytes, uint64_t now);
/* The sender has data and window, and waits for the pacer until `at` (konce_pacer_next_time's). */
void konce_pacer_wait(konce_pacer *p, uint64_t at);
/* The sender no longer waits for the pacer: no data, or no window. */
static inline void konce_pacer_unwait(konce_pacer *p) { p->release = 0; }
/* The largest lateness after a wait in the last one to two windows (us, at most LATE_MAX). */
uint64_t konce_pacer_late(const konce_pacer *p);

#endif
