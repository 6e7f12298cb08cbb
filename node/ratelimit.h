/* ratelimit.h - per-source token buckets for handshake work.
 *
 * Sources are IPv4 addresses and IPv6 /64 prefixes.  The table is a fixed array allocated once by
 * konce_ratelimit_new() and indexed by a keyed hash (crypto_shorthash), so an attacker can neither
 * make it grow nor aim collisions at one slot; when full, the stalest entry is reused.  Charging
 * never allocates.  A source that has spent its bucket is "overdrawn": the server asks it for more
 * proof of work and serves it after everyone else.
 */
#ifndef KONCE_RATELIMIT_H
#define KONCE_RATELIMIT_H

#include <stdint.h>

#include "node/addr.h"
#include "node/env.h"

typedef struct konce_ratelimit konce_ratelimit;

/* slots: table size (rounded up to a power of two); rate: cost units per second refilled; burst:
 * bucket depth.  0, -ENOMEM, -EINVAL. */
int konce_ratelimit_new(konce_ratelimit **out, const konce_env *env, unsigned slots, uint32_t rate,
			uint32_t burst);
void konce_ratelimit_free(konce_ratelimit *rl);
/* Charges cost units to src's bucket.  Returns the overdraft level: 0 within budget, then 1, 2, ...
 * for each further burst's worth of debt (capped at 15). */
unsigned konce_ratelimit_charge(konce_ratelimit *rl, const konce_addr *src, unsigned cost,
				uint64_t now_us);
/* The overdraft level without charging. */
unsigned konce_ratelimit_level(const konce_ratelimit *rl, const konce_addr *src, uint64_t now_us);

#endif
