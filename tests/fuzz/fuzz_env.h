/* fuzz_env.h - a reproducible konce_env for the handshake fuzz targets (header only). */
#ifndef KONCE_FUZZ_ENV_H
#define KONCE_FUZZ_ENV_H

#include <stdlib.h>
#include <string.h>

#include "node/base/env.h"

static unsigned long fz_allocs;
static void *fz_alloc(void *ctx, size_t n)
{
	(void)ctx;
	fz_allocs++;
	return calloc(1, n);
}
static void fz_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}
static void fz_random(void *ctx, uint8_t *b, size_t n)
{
	static uint64_t x = 0x9e3779b97f4a7c15ull;
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}
static const konce_env fz_env = {fz_alloc, fz_free, fz_random, NULL, NULL, NULL};

#endif
