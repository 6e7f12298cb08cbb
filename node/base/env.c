/* env.c - the default konce_env: calloc/free, libsodium randomness and glibc's malloc_trim;
 * konce_env_alloc_raw. */
#include "node/base/env.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

enum { BIG_BYTES = 4u << 20, HUGE_PAGE = 2u << 20 };

/* A buffer of BIG_BYTES or more -- a large message's bytes, which the sender copies and the receiver
 * flattens while the transfer waits -- starts on a 2 MiB boundary, and the kernel is asked to back
 * it with transparent huge pages (where THP is "madvise", as on Debian).  Touching 16 MiB of fresh
 * 4 KiB pages costs 4,096 faults, 7-10 ms a buffer on a loaded 2-core machine, and a 16 MiB send
 * passes through three such buffers before its first packet (docs/BENCH.md, "konce beside TCP on
 * netsim").  free() releases it like any other. */
static void *big_alloc(size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, n))
		return NULL;
#if defined(MADV_HUGEPAGE)
	(void)madvise(p, n, MADV_HUGEPAGE); /* advice only: without THP the pages are 4 KiB */
#endif
	return p;
}

static void *env_alloc(void *ctx, size_t n)
{
	(void)ctx;
	if (n >= BIG_BYTES) {
		void *p = big_alloc(n);
		return p ? memset(p, 0, n) : NULL;
	}
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

static const konce_env default_env = {env_alloc, env_free, env_random, NULL, ENV_TRIM};

const konce_env *konce_env_default(void) { return &default_env; }

void *konce_env_alloc_raw(const konce_env *e, size_t n)
{
	if (e == &default_env)
		return n >= BIG_BYTES ? big_alloc(n) : malloc(n ? n : 1);
	return konce_env_alloc(e, n);
}
