/* ratelimit.c - per-source token buckets in a fixed, keyed-hash table.
 *
 * Source key: 16 bytes (konce_addr_source).  IPv4 (stored ::ffff:a.b.c.d) keys on all 16 bytes, i.e.
 * the /32; IPv6 keys on the first 8 bytes followed by 8 zero bytes, i.e. the /64; a path handle
 * (addr.h: the node's traversal gives one to each peer) is its own source.  A v4 key has 0xffff in
 * bytes 10..11, a /64 key zeros in 8..15, a path key ff fe in 8..9.
 *
 * The table is a konce_khtab (node/base/khtab.h): a source lives in the run of KONCE_KHTAB_RUN slots
 * from its keyed-hash home.  A source not found takes a free slot in its run, or else evicts the
 * run's entry that was charged least recently.
 *
 * Balances are token buckets in micro-units (node/base/tbucket.h).  A balance lies in
 * [-MAX_LEVEL x burst, burst]; debt beyond MAX_LEVEL bursts is not recorded, so even the worst
 * offender is back to a full bucket (MAX_LEVEL + 1) x burst / rate seconds after it stops.
 */
#include "node/base/ratelimit.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/base/khtab.h"
#include "node/base/tbucket.h"

enum {
	MAX_LEVEL = 15,
	MAX_SLOTS = 1u << 24,
};

struct rl_entry {
	uint8_t key[16];
	uint64_t touched_us; /* last charge; eviction order */
	int64_t balance;     /* micro-units */
	bool used;
};

struct konce_ratelimit {
	const konce_env *env;
	konce_khtab tab;     /* struct rl_entry */
	uint32_t rate;       /* units per second = micro-units per microsecond */
	int64_t burst_micro; /* full bucket */
};

int konce_ratelimit_new(konce_ratelimit **out, const konce_env *env, unsigned slots, uint32_t rate,
			uint32_t burst)
{
	*out = NULL;
	if (slots == 0 || slots > MAX_SLOTS || rate == 0 || burst == 0)
		return -EINVAL;
	konce_ratelimit *rl = konce_env_alloc(env, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	int err = konce_khtab_init(&rl->tab, env, slots, MAX_SLOTS, sizeof(struct rl_entry));
	if (err) {
		konce_env_free(env, rl);
		return err;
	}
	rl->env = env;
	rl->rate = rate;
	rl->burst_micro = konce_tbucket_units(burst);
	*out = rl;
	return 0;
}

void konce_ratelimit_free(konce_ratelimit *rl)
{
	if (!rl)
		return;
	const konce_env *env = rl->env;
	konce_khtab_fini(&rl->tab, env);
	sodium_memzero(rl, sizeof(*rl));
	konce_env_free(env, rl);
}

static struct rl_entry *find(const konce_ratelimit *rl, const uint8_t key[16], uint32_t home)
{
	for (unsigned i = 0; i < konce_khtab_run(&rl->tab); i++) {
		struct rl_entry *e = konce_khtab_at(&rl->tab, home, i);
		if (e->used && memcmp(e->key, key, 16) == 0)
			return e;
	}
	return NULL;
}

/* The balance of e at now, refilled at rate and capped at a full bucket. */
static int64_t refilled(const konce_ratelimit *rl, const struct rl_entry *e, uint64_t now_us)
{
	return konce_tbucket_refill(e->balance, e->touched_us, now_us, rl->rate, rl->burst_micro);
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
	konce_addr_source(key, src);
	uint32_t home = konce_khtab_home(&rl->tab, key, sizeof(key));
	struct rl_entry *e = find(rl, key, home);
	int64_t bal;
	if (e) {
		bal = refilled(rl, e, now_us);
		if (now_us < e->touched_us) /* out-of-order now: refill was 0, keep the later mark */
			now_us = e->touched_us;
	} else {
		for (unsigned i = 0; i < konce_khtab_run(&rl->tab); i++) {
			struct rl_entry *c = konce_khtab_at(&rl->tab, home, i);
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
	bal -= konce_tbucket_units(cost);
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
	konce_addr_source(key, src);
	const struct rl_entry *e = find(rl, key, konce_khtab_home(&rl->tab, key, sizeof(key)));
	return e ? level_of(rl, refilled(rl, e, now_us)) : 0;
}
