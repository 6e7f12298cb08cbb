/* ratelimit.h - per-source token buckets for handshake work.
 *
 * Sources are IPv4 addresses and IPv6 /64 prefixes.  The table is a fixed array allocated once by
 * konce_ratelimit_new() and indexed by a keyed hash (crypto_shorthash), so an attacker can neither
 * make it grow nor aim collisions at one slot; when full, the stalest entry is reused.  Charging
 * never allocates.  A source that has spent its bucket is "overdrawn": the server asks it for more
 * proof of work and serves it after everyone else.
 *
 * Buckets: balances refill at `rate` units per second up to `burst`; a charge may take the balance
 * below zero, down to 15 bursts of debt (deeper debt is not recorded, so any source is back to a
 * full bucket at most 16 x burst / rate seconds after it stops).  The overdraft level is
 * ceil(debt / burst): any debt at all is level 1.
 *
 * Table: slot = SipHash(random per-table key, source) and a source lives in one of the 8 slots from
 * there.  An unknown source takes a free slot among those 8, or else evicts the one charged least
 * recently, and starts with a full bucket.  What an attacker spraying many sources (spoofed IPv4
 * addresses, or the 65536 /64s of an IPv6 /48 it owns) can and cannot do:
 *   - It cannot make the table grow or lookups slow: both are fixed (8 probes at most).
 *   - It cannot aim at one honest source: without the SipHash key it does not know which slots a
 *     source uses, so it can only churn the whole table, at one charged packet per entry.
 *   - It can evict honest entries.  That resets them to a full bucket, which only helps them.
 *   - It can evict its own overdrawn entry and so shed its penalty.  To do so it must churn the
 *     table faster than it is refilled with honest traffic, and every packet of that churn is
 *     charged to the server's global load (load.h), which raises the base demand for every
 *     source, its own included.  Per-source grading is a refinement; global demand is the backstop.
 *   - Sources behind one NAT (or CGNAT) share a bucket; rate and burst must leave room for that.
 */
#ifndef KONCE_RATELIMIT_H
#define KONCE_RATELIMIT_H

#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/env.h"

typedef struct konce_ratelimit konce_ratelimit;

/* slots: table size (rounded up to a power of two, at most 2^24); rate: cost units per second
 * refilled; burst: bucket depth.  0, -ENOMEM, -EINVAL (a zero argument or too many slots).
 * The table comes from env and so does the SipHash key. */
int konce_ratelimit_new(konce_ratelimit **out, const konce_env *env, unsigned slots, uint32_t rate,
			uint32_t burst);
void konce_ratelimit_free(konce_ratelimit *rl);
/* Charges cost units to src's bucket (the port is ignored).  Returns the overdraft level: 0 within
 * budget, then 1, 2, ... for each further burst's worth of debt (capped at 15). */
unsigned konce_ratelimit_charge(konce_ratelimit *rl, const konce_addr *src, unsigned cost,
				uint64_t now_us);
/* The overdraft level without charging; 0 for a source not in the table. */
unsigned konce_ratelimit_level(const konce_ratelimit *rl, const konce_addr *src, uint64_t now_us);

#endif
