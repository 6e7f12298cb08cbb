/* ratelimit.c - per-source token buckets in a fixed, keyed-hash table.
 *
 * Source key: 16 bytes (konce_addr_source).  IPv4 (stored ::ffff:a.b.c.d) keys on all 16 bytes, i.e.
 * the /32; IPv6 keys on the first 8 bytes followed by 8 zero bytes, i.e. the /64; a path handle
 * (addr.h: the node's traversal gives one to each peer) is its own source.  A v4 key has 0xffff in
 * bytes 10..11, a /64 key zeros in 8..15, a path key ff fe in 8..9.
 *
 * Slot = SipHash-2-4(random key, source key) mod slots; a source lives in one of the PROBE slots
 * from there.  A source not found takes a free slot in its run, or else evicts the run's entry that
 * was charged least recently.  Lookups touch at most PROBE slots, whatever the table holds.
 *
 * Balances are fixed point in micro-units (1 unit = 1,000,000) so that refill = elapsed_us x rate is
 * exact.  A balance lies in [-MAX_LEVEL x burst, burst]; debt beyond MAX_LEVEL bursts is not
 * recorded, so even the worst offender is back to a full bucket (MAX_LEVEL + 1) x burst / rate
 * seconds after it stops.
 */
#include "node/base/ratelimit.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

enum {
	PROBE = 8,
	MAX_LEVEL = 15,
	MAX_SLOTS = 1u << 24,
};
#define MICRO 1000000LL

struct rl_entry {
	uint8_t key[16];
	uint64_t touched_us; /* last charge; eviction order */
	int64_t balance;     /* micro-units */
	bool used;
};

struct konce_ratelimit {
	const konce_env *env;
	struct rl_entry *tab;
	uint32_t mask;
	uint32_t rate;       /* units per second = micro-units per microsecond */
	int64_t burst_micro; /* full bucket */
	uint8_t sipkey[crypto_shorthash_KEYBYTES];
};

int konce_ratelimit_new(konce_ratelimit **out, const konce_env *env, unsigned slots, uint32_t rate,
			uint32_t burst)
{
	*out = NULL;
	if (slots == 0 || slots > MAX_SLOTS || rate == 0 || burst == 0)
		return -EINVAL;
	unsigned n = 1;
	while (n < slots)
		n <<= 1;
	konce_ratelimit *rl = konce_env_alloc(env, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->tab = konce_env_alloc(env, (size_t)n * sizeof(*rl->tab));
	if (!rl->tab) {
		konce_env_free(env, rl);
		return -ENOMEM;
	}
	memset(rl->tab, 0, (size_t)n * sizeof(*rl->tab));
	rl->env = env;
	rl->mask = n - 1;
	rl->rate = rate;
	rl->burst_micro = (int64_t)burst * MICRO;
	konce_env_random(env, rl->sipkey, sizeof(rl->sipkey));
	*out = rl;
	return 0;
}

void konce_ratelimit_free(konce_ratelimit *rl)
{
	if (!rl)
		return;
	const konce_env *env = rl->env;
	konce_env_free(env, rl->tab);
	sodium_memzero(rl, sizeof(*rl));
	konce_env_free(env, rl);
}

static void source_key(uint8_t key[16], const konce_addr *src) { konce_addr_source(key, src); }

static uint32_t source_slot(const konce_ratelimit *rl, const uint8_t key[16])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, key, 16, rl->sipkey);
	uint32_t v = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	return v & rl->mask;
}

static unsigned probe_len(const konce_ratelimit *rl) { return rl->mask + 1 < PROBE ? rl->mask + 1 : PROBE; }

static struct rl_entry *find(const konce_ratelimit *rl, const uint8_t key[16], uint32_t s)
{
	for (unsigned i = 0; i < probe_len(rl); i++) {
		struct rl_entry *e = &rl->tab[(s + i) & rl->mask];
		if (e->used && memcmp(e->key, key, 16) == 0)
			return e;
	}
	return NULL;
}

/* The balance of e at now, refilled at rate and capped at a full bucket. */
static int64_t refilled(const konce_ratelimit *rl, const struct rl_entry *e, uint64_t now_us)
{
	if (now_us <= e->touched_us)
		return e->balance;
	uint64_t elapsed = now_us - e->touched_us;
	uint64_t room = (uint64_t)(rl->burst_micro - e->balance); /* <= (MAX_LEVEL + 1) x burst */
	if (elapsed >= room / rl->rate + 1)
		return rl->burst_micro;
	int64_t b = e->balance + (int64_t)(elapsed * rl->rate); /* < room + rate: no overflow */
	return b < rl->burst_micro ? b : rl->burst_micro;
}

static unsigned level_of(const konce_ratelimit *rl, int64_t balance)
{
	if (balance >= 0)
		return 0;
	/* ceil(debt / burst): any debt at all is level 1 */
	uint64_t debt = (uint64_t)-balance;
	uint64_t lv = (debt + (uint64_t)rl->burst_micro - 1) / (uint64_t)rl->burst_micro;
	return lv > MAX_LEVEL ? MAX_LEVEL : (unsigned)lv;
}

unsigned konce_ratelimit_charge(konce_ratelimit *rl, const konce_addr *src, unsigned cost,
				uint64_t now_us)
{
	uint8_t key[16];
	source_key(key, src);
	uint32_t s = source_slot(rl, key);
	struct rl_entry *e = find(rl, key, s);
	int64_t bal;
	if (e) {
		bal = refilled(rl, e, now_us);
		if (now_us < e->touched_us) /* out-of-order now: refill was 0, keep the later mark */
			now_us = e->touched_us;
	} else {
		for (unsigned i = 0; i < probe_len(rl); i++) {
			struct rl_entry *c = &rl->tab[(s + i) & rl->mask];
			if (!c->used) {
				e = c;
				break;
			}
			if (!e || c->touched_us < e->touched_us)
				e = c;
		}
		memcpy(e->key, key, 16);
		e->used = true;
		bal = rl->burst_micro; /* a new (or re-admitted) source starts with a full bucket */
	}
	bal -= (int64_t)cost * MICRO;
	int64_t lowest = -(int64_t)MAX_LEVEL * rl->burst_micro;
	if (bal < lowest)
		bal = lowest;
	e->balance = bal;
	e->touched_us = now_us;
	return level_of(rl, bal);
}

unsigned konce_ratelimit_level(const konce_ratelimit *rl, const konce_addr *src, uint64_t now_us)
{
	uint8_t key[16];
	source_key(key, src);
	const struct rl_entry *e = find(rl, key, source_slot(rl, key));
	return e ? level_of(rl, refilled(rl, e, now_us)) : 0;
}
