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

struct konce_relay {
	const konce_env *env;
	struct pair *tab;
	uint32_t mask;
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
	if (c.slots > MAX_SLOTS)
		return -EINVAL;
	unsigned n = 1;
	while (n < c.slots)
		n <<= 1;
	konce_relay *r = konce_env_alloc(env, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->tab = konce_env_alloc(env, (size_t)n * sizeof(*r->tab));
	if (!r->tab) {
		konce_env_free(env, r);
		return -ENOMEM;
	}
	memset(r->tab, 0, (size_t)n * sizeof(*r->tab));
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
	uint32_t s = slot_of(r, k);
	for (unsigned i = 0; i < run_len(r); i++) {
		e = &r->tab[(s + i) & r->mask];
		if (live(r, e, now))
			continue;
		memcpy(e->keys, k, sizeof(k));
		e->used = true;
		e->last = now;
		e->tokens = (int64_t)r->cfg.burst * MICRO;
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
