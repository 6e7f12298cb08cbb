/* relay.c - a bounded, keyed-hash table of relayed pairs with per-pair token buckets. */
#include "nat/relay.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

#include "node/base/khtab.h"
#include "node/base/tbucket.h"

enum { MAX_SLOTS = 1u << 20 };

struct pair {
	uint8_t keys[2 * KONCE_WIRE_KEY]; /* lower key first */
	uint64_t last;                    /* last open or forward, us */
	int64_t tokens;                   /* bytes x 10^6 */
	bool used;
};

/* A key's live pairs, by slot in tab (stale ones are dropped when looked at). */
struct keyent {
	uint8_t key[KONCE_WIRE_KEY];
	uint8_t n;
	uint32_t slot[KONCE_RELAY_PER_KEY];
};

struct konce_relay {
	const konce_env *env;
	konce_khtab tab;  /* struct pair, by pair key */
	konce_khtab keys; /* struct keyent, by key: twice the pairs, each pair has two keys */
	int64_t gtokens; /* the global bucket, bytes x 10^6 */
	uint64_t glast;
	konce_relay_cfg cfg;
	struct konce_relay_counters c;
};

int konce_relay_new(konce_relay **out, const konce_env *env, const konce_relay_cfg *cfg)
{
	*out = NULL;
	konce_relay_cfg c = cfg ? *cfg : (konce_relay_cfg){0};
	c.slots = c.slots ? c.slots : 1024;
	c.rate = c.rate ? c.rate : 64 * 1024;
	c.burst = c.burst ? c.burst : 64 * 1024;
	c.idle_us = c.idle_us ? c.idle_us : 120 * 1000000ULL;
	c.per_key = c.per_key && c.per_key < KONCE_RELAY_PER_KEY ? c.per_key : KONCE_RELAY_PER_KEY;
	c.global_rate = c.global_rate ? c.global_rate : KONCE_RELAY_GLOBAL_RATE;
	c.global_burst = c.global_burst ? c.global_burst : KONCE_RELAY_GLOBAL_BURST;
	if (c.slots > MAX_SLOTS)
		return -EINVAL;
	konce_relay *r = konce_env_alloc(env, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->env = env;
	int err = konce_khtab_init(&r->tab, env, c.slots, MAX_SLOTS, sizeof(struct pair));
	if (!err)
		err = konce_khtab_init(&r->keys, env, 2 * konce_khtab_size(&r->tab), 2 * MAX_SLOTS,
				       sizeof(struct keyent));
	if (err) {
		konce_relay_free(r);
		return err;
	}
	r->gtokens = konce_tbucket_units(c.global_burst);
	r->glast = 0;
	r->cfg = c;
	*out = r;
	return 0;
}

void konce_relay_free(konce_relay *r)
{
	if (!r)
		return;
	const konce_env *env = r->env;
	konce_khtab_fini(&r->tab, env);
	konce_khtab_fini(&r->keys, env);
	sodium_memzero(r, sizeof(*r));
	konce_env_free(env, r);
}

static void pair_key(uint8_t k[2 * KONCE_WIRE_KEY], const uint8_t *a, const uint8_t *b)
{
	bool swap = memcmp(a, b, KONCE_WIRE_KEY) > 0;
	memcpy(k, swap ? b : a, KONCE_WIRE_KEY);
	memcpy(k + KONCE_WIRE_KEY, swap ? a : b, KONCE_WIRE_KEY);
}

static bool live(const konce_relay *r, const struct pair *e, uint64_t now)
{
	return e->used && now - e->last < r->cfg.idle_us;
}

static struct pair *find(konce_relay *r, const uint8_t *k, uint64_t now)
{
	uint32_t home = konce_khtab_home(&r->tab, k, 2 * KONCE_WIRE_KEY);
	for (unsigned i = 0; i < konce_khtab_run(&r->tab); i++) {
		struct pair *e = konce_khtab_at(&r->tab, home, i);
		if (live(r, e, now) && memcmp(e->keys, k, sizeof(e->keys)) == 0)
			return e;
	}
	return NULL;
}

static void refill(const konce_relay *r, struct pair *e, uint64_t now)
{
	e->tokens = konce_tbucket_refill(e->tokens, e->last, now, r->cfg.rate, konce_tbucket_units(r->cfg.burst));
}

/* ---- per-key caps ---- */

/* Drops the slots of e that no longer hold a live pair with its key; returns how many remain. */
static unsigned key_purge(const konce_relay *r, struct keyent *e, uint64_t now)
{
	unsigned k = 0;
	for (unsigned i = 0; i < e->n; i++) {
		const struct pair *p = konce_khtab_entry(&r->tab, e->slot[i]);
		if (live(r, p, now) && (memcmp(p->keys, e->key, KONCE_WIRE_KEY) == 0 ||
					memcmp(p->keys + KONCE_WIRE_KEY, e->key, KONCE_WIRE_KEY) == 0))
			e->slot[k++] = e->slot[i];
	}
	e->n = (uint8_t)k;
	return k;
}

/* key's entry (purged), taking one with no live pairs left if it has none; NULL if the run is
 * full of keys with live pairs. */
static struct keyent *key_entry(konce_relay *r, const uint8_t *key, uint64_t now)
{
	uint32_t home = konce_khtab_home(&r->keys, key, KONCE_WIRE_KEY);
	struct keyent *free_e = NULL;
	for (unsigned i = 0; i < konce_khtab_run(&r->keys); i++) {
		struct keyent *e = konce_khtab_at(&r->keys, home, i);
		if (memcmp(e->key, key, KONCE_WIRE_KEY) == 0) {
			key_purge(r, e, now);
			return e;
		}
		if (!free_e && key_purge(r, e, now) == 0)
			free_e = e;
	}
	if (free_e) {
		memcpy(free_e->key, key, KONCE_WIRE_KEY);
		free_e->n = 0;
	}
	return free_e;
}

int konce_relay_open(konce_relay *r, const uint8_t a[KONCE_WIRE_KEY], const uint8_t b[KONCE_WIRE_KEY],
		     uint64_t now)
{
	if (memcmp(a, b, KONCE_WIRE_KEY) == 0)
		return -EINVAL;
	uint8_t k[2 * KONCE_WIRE_KEY];
	pair_key(k, a, b);
	struct pair *e = find(r, k, now);
	if (e) {
		refill(r, e, now);
		e->last = now;
		return 0;
	}
	struct keyent *ka = key_entry(r, a, now), *kb = ka ? key_entry(r, b, now) : NULL;
	if (!ka || !kb) {
		r->c.full++;
		return -ENOSPC;
	}
	if (ka->n >= r->cfg.per_key || kb->n >= r->cfg.per_key) {
		r->c.key_full++;
		return -EDQUOT;
	}
	uint32_t home = konce_khtab_home(&r->tab, k, sizeof(k));
	for (unsigned i = 0; i < konce_khtab_run(&r->tab); i++) {
		uint32_t idx = konce_khtab_index(&r->tab, home, i);
		e = konce_khtab_entry(&r->tab, idx);
		if (live(r, e, now))
			continue;
		memcpy(e->keys, k, sizeof(k));
		e->used = true;
		e->last = now;
		e->tokens = konce_tbucket_units(r->cfg.burst);
		ka->slot[ka->n++] = idx;
		kb->slot[kb->n++] = idx;
		r->c.opened++;
		return 0;
	}
	r->c.full++;
	return -ENOSPC;
}

int konce_relay_admit(konce_relay *r, const uint8_t a[KONCE_WIRE_KEY], const uint8_t b[KONCE_WIRE_KEY],
		      size_t len, uint64_t now)
{
	uint8_t k[2 * KONCE_WIRE_KEY];
	pair_key(k, a, b);
	struct pair *e = find(r, k, now);
	if (!e) {
		r->c.no_pair++;
		return -ENOENT;
	}
	refill(r, e, now);
	e->last = now;
	int64_t cost = konce_tbucket_units(len);
	if (e->tokens < cost) {
		r->c.over_rate++;
		return -EAGAIN;
	}
	r->gtokens = konce_tbucket_refill(r->gtokens, r->glast, now, r->cfg.global_rate,
					  konce_tbucket_units(r->cfg.global_burst));
	r->glast = now > r->glast ? now : r->glast;
	if (r->gtokens < cost) {
		r->c.over_global++;
		return -EAGAIN;
	}
	r->gtokens -= cost;
	e->tokens -= cost;
	r->c.forwarded++;
	r->c.bytes += len;
	return 0;
}

int konce_relay_close(konce_relay *r, const uint8_t a[KONCE_WIRE_KEY], const uint8_t b[KONCE_WIRE_KEY],
		      uint64_t now)
{
	uint8_t k[2 * KONCE_WIRE_KEY];
	pair_key(k, a, b);
	struct pair *e = find(r, k, now);
	if (!e)
		return -ENOENT;
	e->used = false;
	return 0;
}

size_t konce_relay_live(const konce_relay *r, uint64_t now)
{
	size_t n = 0;
	for (uint32_t i = 0; i < konce_khtab_size(&r->tab); i++)
		n += live(r, konce_khtab_entry(&r->tab, i), now);
	return n;
}

const struct konce_relay_counters *konce_relay_counters(const konce_relay *r) { return &r->c; }
