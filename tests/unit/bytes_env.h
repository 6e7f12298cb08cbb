/* bytes_env.h - a konce_env that counts the bytes it has handed out and not had back (bytes) and
 * the most it ever had out at once (peak): how test_ep_hostile.c and test_frag.c measure the memory
 * an attacker makes a server hold.  Randomness is testenv.h's, seeded. */
#ifndef KONCE_TEST_BYTES_ENV_H
#define KONCE_TEST_BYTES_ENV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testenv.h"

typedef struct bytes_env {
	konce_env env;
	uint64_t bytes, peak;
	test_env rnd;
} bytes_env;

/* Each allocation carries its size in a header word, so free() can count it back. */
static inline void *bytes_env_alloc(void *ctx, size_t n)
{
	bytes_env *b = ctx;
	uint64_t *p = calloc(1, n + sizeof(uint64_t));
	if (!p)
		return NULL;
	*p = n;
	b->bytes += n;
	if (b->bytes > b->peak)
		b->peak = b->bytes;
	return p + 1;
}

static inline void bytes_env_free(void *ctx, void *v)
{
	uint64_t *p = (uint64_t *)v - 1;
	((bytes_env *)ctx)->bytes -= *p;
	free(p);
}

static inline void bytes_env_random(void *ctx, uint8_t *buf, size_t n)
{
	bytes_env *b = ctx;
	b->rnd.env.random(b->rnd.env.ctx, buf, n);
}

static inline void bytes_env_init(bytes_env *b, uint8_t seed)
{
	memset(b, 0, sizeof *b);
	test_env_init(&b->rnd, seed);
	b->env = (konce_env){bytes_env_alloc, bytes_env_free, bytes_env_random, b, NULL, NULL};
}

#endif
