/* relay.c - a bounded, keyed-hash table of relayed pairs with per-pair token buckets. */
#include "nat/relay.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

enum { PROBE = 8, MAX_SLOTS = 1u << 20 };

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
	struct pair *tab;
	uint32_t mask;
	struct keyent *keys;
	uint32_t kmask;
	int64_t gtokens; /* the global bucket, bytes x 10^6 */
	uint64_t glast;
	konce_relay_cfg cfg;
	uint8_t hashkey[crypto_shorthash_KEYBYTES];
	struct konce_relay_counters c;
};

#define MICRO 1000000LL

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
	unsigned n = 1;
	while (n < c.slots)
		n <<= 1;
	konce_relay *r = konce_env_alloc(env, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->tab = konce_env_alloc(env, (size_t)n * sizeof(*r->tab));
	r->keys = konce_env_alloc(env, (size_t)2 * n * sizeof(*r->keys));
	if (!r->tab || !r->keys) {
		konce_env_free(env, r->tab);
		konce_env_free(env, r->keys);
		konce_env_free(env, r);
		return -ENOMEM;
	}
	memset(r->tab, 0, (size_t)n * sizeof(*r->tab));
	memset(r->keys, 0, (size_t)2 * n * sizeof(*r->keys));
	r->kmask = 2 * n - 1;
	r->gtokens = (int64_t)c.global_burst * MICRO;
	r->glast = 0;
	r->env = env;
	r->mask = n - 1;
	r->cfg = c;
	memset(&r->c, 0, sizeof(r->c));
	konce_env_random(env, r->hashkey, sizeof(r->hashkey));
	*out = r;
	return 0;
}

void konce_relay_free(konce_relay *r)
{
	if (!r)
		return;
	const konce_env *env = r->env;
	konce_env_free(env, r->tab);
	konce_env_free(env, r->keys);
	sodium_memzero(r, sizeof(*r));
	konce_env_free(env, r);
}

static void pair_key(uint8_t k[2 * KONCE_WIRE_KEY], const uint8_t *a, const uint8_t *b)
{
	bool swap = memcmp(a, b, KONCE_WIRE_KEY) > 0;
	memcpy(k, swap ? b : a, KONCE_WIRE_KEY);
	memcpy(k + KONCE_WIRE_KEY, swap ? a : b, KONCE_WIRE_KEY);
}

static uint32_t slot_of(const konce_relay *r, const uint8_t *k)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, k, 2 * KONCE_WIRE_KEY, r->hashkey);
	return ((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24) & r->mask;
}

static bool live(const konce_relay *r, const struct pair *e, uint64_t now)
{
	return e->used && now - e->last < r->cfg.idle_us;
}

static unsigned run_len(const konce_relay *r) { return r->mask + 1 < PROBE ? r->mask + 1 : PROBE; }

static struct pair *find(konce_relay *r, const uint8_t *k, uint64_t now)
{
	uint32_t s = slot_of(r, k);
	for (unsigned i = 0; i < run_len(r); i++) {
		struct pair *e = &r->tab[(s + i) & r->mask];
		if (live(r, e, now) && memcmp(e->keys, k, sizeof(e->keys)) == 0)
			return e;
	}
	return NULL;
}

static void refill(const konce_relay *r, struct pair *e, uint64_t now)
{
	uint64_t dt = now > e->last ? now - e->last : 0;
	int64_t full = (int64_t)r->cfg.burst * MICRO;
	if (dt > (uint64_t)(2 * full) / r->cfg.rate + 1)
		e->tokens = full;
	else
		e->tokens += (int64_t)(dt * r->cfg.rate);
	if (e->tokens > full)
		e->tokens = full;
}

/* ---- per-key caps ---- */

static uint32_t key_home(const konce_relay *r, const uint8_t *key)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, key, KONCE_WIRE_KEY, r->hashkey);
	/* bytes 4..7: the pair table uses 0..3 of another input's hash */
	return ((uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24) & r->kmask;
}

/* Drops the slots of e that no longer hold a live pair with its key; returns how many remain. */
static unsigned key_purge(const konce_relay *r, struct keyent *e, uint64_t now)
{
	unsigned k = 0;
	for (unsigned i = 0; i < e->n; i++) {
		const struct pair *p = &r->tab[e->slot[i]];
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
	uint32_t h = key_home(r, key);
	struct keyent *free_e = NULL;
	unsigned run = r->kmask + 1 < PROBE ? r->kmask + 1 : PROBE;
	for (unsigned i = 0; i < run; i++) {
		struct keyent *e = &r->keys[(h + i) & r->kmask];
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
	uint32_t s = slot_of(r, k);
	for (unsigned i = 0; i < run_len(r); i++) {
		uint32_t idx = (s + i) & r->mask;
		e = &r->tab[idx];
		if (live(r, e, now))
			continue;
		memcpy(e->keys, k, sizeof(k));
		e->used = true;
		e->last = now;
		e->tokens = (int64_t)r->cfg.burst * MICRO;
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
	if (e->tokens < (int64_t)len * MICRO) {
		r->c.over_rate++;
		return -EAGAIN;
	}
	uint64_t dt = now > r->glast ? now - r->glast : 0;
	int64_t gfull = (int64_t)r->cfg.global_burst * MICRO;
	r->gtokens = dt > (uint64_t)(2 * gfull) / r->cfg.global_rate + 1 ? gfull
									     : r->gtokens + (int64_t)(dt * r->cfg.global_rate);
	r->gtokens = r->gtokens > gfull ? gfull : r->gtokens;
	r->glast = now > r->glast ? now : r->glast;
	if (r->gtokens < (int64_t)len * MICRO) {
		r->c.over_global++;
		return -EAGAIN;
	}
	r->gtokens -= (int64_t)len * MICRO;
	e->tokens -= (int64_t)len * MICRO;
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
	for (uint32_t i = 0; i <= r->mask; i++)
		n += live(r, &r->tab[i], now);
	return n;
}

const struct konce_relay_counters *konce_relay_counters(const konce_relay *r) { return &r->c; }
