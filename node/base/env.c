/* env.c - the default konce_env: calloc/free, libsodium randomness, glibc's malloc_trim and malloc
 * as alloc_lazy; konce_env_alloc_raw. */
#include "node/base/env.h"

#include <sodium.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static void *env_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return calloc(1, n);
}

static void env_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void env_random(void *ctx, uint8_t *buf, size_t n)
{
	(void)ctx;
	randombytes_buf(buf, n);
}

#if defined(__GLIBC__)
static void env_trim(void *ctx)
{
	(void)ctx;
	malloc_trim(0);
}
#define ENV_TRIM env_trim
#else
#define ENV_TRIM NULL
#endif

static void *env_alloc_lazy(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static const konce_env default_env = {env_alloc, env_free, env_random, NULL, ENV_TRIM, env_alloc_lazy};

const konce_env *konce_env_default(void) { return &default_env; }

void *konce_env_alloc_raw(const konce_env *e, size_t n)
{
	if (e == &default_env)
		return malloc(n ? n : 1);
	return konce_env_alloc(e, n);
}
