/* testenv.h - a deterministic, counting konce_env for unit tests (header only: each unit test is
 * one .c file).  Randomness is ChaCha20 keyed by a seed, so every run is the same; every alloc and
 * free is counted, which is how the tests prove nothing is allocated for unauthenticated peers. */
#ifndef KONCE_TESTENV_H
#define KONCE_TESTENV_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/env.h"

typedef struct test_env {
	konce_env env;
	uint64_t allocs, frees;
	uint8_t key[crypto_stream_chacha20_KEYBYTES];
	uint64_t counter;
} test_env;

static void *test_env_alloc(void *ctx, size_t n)
{
	((test_env *)ctx)->allocs++;
	return calloc(1, n);
}

static void test_env_free(void *ctx, void *p)
{
	((test_env *)ctx)->frees++;
	free(p);
}

static void test_env_random(void *ctx, uint8_t *buf, size_t n)
{
	test_env *t = ctx;
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
	memcpy(nonce, &t->counter, sizeof t->counter);
	t->counter++;
	crypto_stream_chacha20(buf, n, nonce, t->key);
}

static inline void test_env_init(test_env *t, uint8_t seed)
{
	memset(t, 0, sizeof *t);
	memset(t->key, seed, sizeof t->key);
	t->env.alloc = test_env_alloc;
	t->env.free = test_env_free;
	t->env.random = test_env_random;
	t->env.ctx = t;
}

#endif
