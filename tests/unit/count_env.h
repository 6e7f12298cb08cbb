/* count_env.h - a konce_env for unit tests: counts live allocations and gives seeded,
 * reproducible randomness (ChaCha20 keystream of a seed), so tests can prove "no allocation after
 * construction" and compare exact outputs across runs. */
#ifndef KONCE_TEST_COUNT_ENV_H
#define KONCE_TEST_COUNT_ENV_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/env.h"

typedef struct count_env {
	konce_env env;
	long allocs; /* calls to alloc */
	long live;   /* allocations not yet freed */
	long lazy_allocs; /* of allocs, calls to alloc_lazy */
	uint8_t seed[crypto_stream_chacha20_KEYBYTES];
	uint64_t counter; /* nonce of the next random draw */
} count_env;

static inline void *count_alloc(void *ctx, size_t n)
{
	count_env *c = ctx;
	void *p = calloc(1, n);
	if (p) {
		c->allocs++;
		c->live++;
	}
	return p;
}

/* alloc_lazy (env.h) for tests that turn it on with count_env_lazy(): counted as alloc, and filled
 * with 0xa5 rather than zeroed, so a byte delivered without being written shows. */
static inline void *count_alloc_lazy(void *ctx, size_t n)
{
	count_env *c = ctx;
	void *p = malloc(n);
	if (p) {
		memset(p, 0xa5, n);
		c->allocs++;
		c->live++;
		c->lazy_allocs++;
	}
	return p;
}

static inline void count_free(void *ctx, void *p)
{
	count_env *c = ctx;
	c->live--;
	free(p);
}

static inline void count_random(void *ctx, uint8_t *buf, size_t n)
{
	count_env *c = ctx;
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
	memcpy(nonce, &c->counter, sizeof(c->counter) < sizeof(nonce) ? sizeof(c->counter) : sizeof(nonce));
	c->counter++;
	crypto_stream_chacha20(buf, n, nonce, c->seed);
}

static inline void count_env_init(count_env *c, uint8_t seed)
{
	memset(c, 0, sizeof(*c));
	c->env.alloc = count_alloc;
	c->env.free = count_free;
	c->env.random = count_random;
	c->env.ctx = c;
	memset(c->seed, seed, sizeof(c->seed));
}

/* Gives c an alloc_lazy (count_alloc_lazy). */
static inline void count_env_lazy(count_env *c) { c->env.alloc_lazy = count_alloc_lazy; }

#endif
