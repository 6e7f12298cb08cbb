/* splitmix.h - the seeded random numbers of the randomized unit tests (test_pnwin.c,
 * test_replay.c) and the simulator's seeding (tests/sim/simrng.c): splitmix64 (Steele, Lea and
 * Flood), whose state is one counter, so a seed fixes every value. */
#ifndef KONCE_TEST_SPLITMIX_H
#define KONCE_TEST_SPLITMIX_H

#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) (0 when n is 0); the modulo bias (< n / 2^64) does not matter here. */
static inline uint64_t splitmix_below(uint64_t *s, uint64_t n) { return n ? splitmix64(s) % n : 0; }

#endif
