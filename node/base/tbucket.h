/* tbucket.h - the token bucket of the rate limits (node/base/ratelimit.c, nat/relay.c).
 *
 * A balance counts micro-units (1 unit = 1,000,000), so that refilling rate units per second over
 * elapsed microseconds is the exact product elapsed x rate.  A bucket holds at most full; whether it
 * may go below zero (debt) is the caller's rule.  The caller keeps the balance and the time it was
 * last refilled; these functions only compute.
 */
#ifndef KONCE_TBUCKET_H
#define KONCE_TBUCKET_H

#include <stdint.h>

#define KONCE_TBUCKET_MICRO 1000000LL

/* The micro-units of n units. */
static inline int64_t konce_tbucket_units(uint64_t n) { return (int64_t)n * KONCE_TBUCKET_MICRO; }

/* balance, last refilled at `at`, refilled at rate units per second up to full, at now (a now
 * before `at` refills nothing).  No overflow for any balance in [-2^62, full] and any elapsed
 * time: a wait long enough to fill the bucket is never multiplied out. */
static inline int64_t konce_tbucket_refill(int64_t balance, uint64_t at, uint64_t now, uint32_t rate, int64_t full)
{
	if (now <= at || balance >= full)
		return balance < full ? balance : full;
	uint64_t elapsed = now - at, room = (uint64_t)(full - balance);
	if (elapsed >= room / rate + 1)
		return full;
	int64_t b = balance + (int64_t)(elapsed * rate); /* < full + rate */
	return b < full ? b : full;
}

#endif
