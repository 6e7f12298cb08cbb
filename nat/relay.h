/* relay.h - the relay forwarding table of a rendezvous: which pairs may be relayed, how fast.
 *
 * When no direct path works, two peers talk through a rendezvous: RELAY(to T, payload) in,
 * RELAYED(from F, payload) out.  The payload is the peers' end-to-end encrypted session packet,
 * opaque here.  A pair is opened when the rendezvous introduces the two (so only registered,
 * introduced keys are relayed), and lives while it is used, up to idle_us after the last packet.
 *
 * Table: a konce_khtab (node/base/khtab.h), a fixed array of slots allocated once and indexed by a
 * keyed hash of the two keys in sorted order; a pair lives in one of the 8 slots from there.  Opening a
 * pair takes a free or idle slot in that run, else fails with -ENOSPC: live pairs are never
 * evicted, so a flood of introductions cannot cut an honest relayed session.  Each pair has one
 * token bucket (bytes per second, shared by both directions).  Nothing is allocated after
 * konce_relay_new().
 *
 * Caps: a key is in at most per_key live pairs (KONCE_RELAY_PER_KEY), so one key, or
 * strangers aiming at one, cannot take the table; each key's entry in a second keyed-hash table
 * (twice the pair slots, 8-slot runs) lists its pairs' slots, and a slot whose pair idled out or
 * closed no longer counts.  All pairs together pass at most global_rate bytes per second (one more
 * bucket), so the rendezvous's uplink is bounded whatever the number of pairs.
 */
#ifndef KONCE_RELAY_H
#define KONCE_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "node/base/env.h"
#include "node/base/wire.h"

typedef struct konce_relay konce_relay;

enum {
	KONCE_RELAY_PER_KEY = 16,                     /* live pairs one key may be in */
	KONCE_RELAY_GLOBAL_RATE = 4 * 1024 * 1024,    /* bytes per second, all pairs */
	KONCE_RELAY_GLOBAL_BURST = 4 * 1024 * 1024,
};

typedef struct konce_relay_cfg {
	unsigned slots;   /* 0 = 1024; rounded up to a power of two, at most 2^20 */
	uint32_t rate;    /* bytes per second per pair; 0 = 64 KiB/s */
	uint32_t burst;   /* bucket depth in bytes; 0 = 64 KiB */
	uint64_t idle_us; /* a pair unused this long is gone; 0 = 120 s */
	unsigned per_key; /* 0 = KONCE_RELAY_PER_KEY (at most that) */
	uint32_t global_rate, global_burst; /* 0 = KONCE_RELAY_GLOBAL_RATE, _BURST */
} konce_relay_cfg;

struct konce_relay_counters {
	uint64_t opened, forwarded, bytes, no_pair, over_rate, full;
	uint64_t key_full, over_global; /* refused: a key at its cap; the global budget spent */
};

/* 0, -EINVAL, -ENOMEM.  cfg may be NULL (defaults). */
int konce_relay_new(konce_relay **out, const konce_env *env, const konce_relay_cfg *cfg);
void konce_relay_free(konce_relay *r);
/* Opens (or refreshes) the pair {a, b}.  0, -EINVAL (a == b), -ENOSPC (table full), -EDQUOT (a
 * or b is in per_key live pairs already). */
int konce_relay_open(konce_relay *r, const uint8_t a[KONCE_WIRE_KEY], const uint8_t b[KONCE_WIRE_KEY],
		     uint64_t now);
/* May len bytes go from a to b now?  Charges the pair and the global budget.  0, -ENOENT (no open
 * pair), -EAGAIN (over its rate or the global one: drop the packet). */
int konce_relay_admit(konce_relay *r, const uint8_t a[KONCE_WIRE_KEY], const uint8_t b[KONCE_WIRE_KEY],
		      size_t len, uint64_t now);
/* Closes the pair {a, b} (one side refused the introduction).  0, -ENOENT (no open pair). */
int konce_relay_close(konce_relay *r, const uint8_t a[KONCE_WIRE_KEY], const uint8_t b[KONCE_WIRE_KEY],
		      uint64_t now);
size_t konce_relay_live(const konce_relay *r, uint64_t now);
const struct konce_relay_counters *konce_relay_counters(const konce_relay *r);

#endif
