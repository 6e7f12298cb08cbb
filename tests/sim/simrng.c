/* simrng.c - the simulator's seeded randomness (xoshiro256** seeded by splitmix64) and the counting
 * konce_env it hands to cores.  Nothing here reads the clock or the operating system's randomness:
 * a seed fixes every value. */
#include <malloc.h>
#include <stdlib.h>

#include "tests/sim/sim_int.h"
#include "tests/unit/splitmix.h"

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void simrng_seed(simrng *r, uint64_t seed, uint64_t stream)
{
	/* Mix the stream number in through its own splitmix step so streams 0, 1, 2... of one seed
	 * and stream 0 of seeds 0, 1, 2... are unrelated. */
	uint64_t x = seed;
	uint64_t y = stream ^ 0x5851f42d4c957f2dULL;
	x ^= splitmix64(&y);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint64_t simrng_next(simrng *r)
{
	uint64_t *s = r->s;
	const uint64_t result = rotl(s[1] * 5, 7) * 9;
	const uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Lemire's nearly-divisionless method, with rejection so every value is equally likely. */
uint64_t simrng_below(simrng *r, uint64_t n)
{
	if (n <= 1)
		return 0;
	unsigned __int128 m = (unsigned __int128)simrng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = -n % n;
		while (lo < t) {
			m = (unsigned __int128)simrng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double simrng_unit(simrng *r) { return (double)(simrng_next(r) >> 11) * 0x1.0p-53; }

static void *env_alloc(void *ctx, size_t n)
{
	sim_envctx *e = ctx;
	if (e->allocs >= e->fail_after)
		return NULL;
	void *p = calloc(1, n ? n : 1);
	if (p) {
		e->allocs++;
		e->bytes += malloc_usable_size(p);
		if (e->bytes > e->peak_bytes)
			e->peak_bytes = e->bytes;
	}
	return p;
}

static void env_free(void *ctx, void *p)
{
	sim_envctx *e = ctx;
	if (!p)
		return;
	e->frees++;
	e->bytes -= malloc_usable_size(p);
	free(p);
}

static void env_random(void *ctx, uint8_t *buf, size_t n)
{
	sim_envctx *e = ctx;
	while (n) {
		uint64_t v = simrng_next(&e->rng);
		size_t k = n < 8 ? n : 8;
		for (size_t i = 0; i < k; i++, v >>= 8)
			*buf++ = (uint8_t)v;
		n -= k;
	}
}

void sim_envctx_init(sim_envctx *e, uint64_t seed, uint64_t stream)
{
	e->env.alloc = env_alloc;
	e->env.free = env_free;
	e->env.random = env_random;
	/* large messages are reassembled in place, as in the daemon; the block is counted in full when
	 * allocated, more than it holds resident until every fragment is written */
	e->env.alloc_lazy = env_alloc;
	e->env.ctx = e;
	simrng_seed(&e->rng, seed, stream);
	e->allocs = e->frees = 0;
	e->bytes = e->peak_bytes = 0;
	e->fail_after = UINT64_MAX;
}

static sim_envctx *envctx(const konce_env *e) { return (sim_envctx *)e->ctx; }

uint64_t sim_env_allocs(const konce_env *e) { return envctx(e)->allocs; }
uint64_t sim_env_frees(const konce_env *e) { return envctx(e)->frees; }
uint64_t sim_env_live(const konce_env *e) { return envctx(e)->allocs - envctx(e)->frees; }
uint64_t sim_env_bytes(const konce_env *e) { return envctx(e)->bytes; }
uint64_t sim_env_peak_bytes(const konce_env *e) { return envctx(e)->peak_bytes; }

void sim_env_fail_after(const konce_env *e, uint64_t n)
{
	sim_envctx *c = envctx(e);
	c->fail_after = n == UINT64_MAX || c->allocs > UINT64_MAX - n ? UINT64_MAX : c->allocs + n;
}

uint64_t sim_rand(sim *s) { return simrng_next(&s->rng); }
uint64_t sim_rand_below(sim *s, uint64_t n) { return simrng_below(&s->rng, n); }
double sim_rand_unit(sim *s) { return simrng_unit(&s->rng); }
const konce_env *sim_env(sim *s) { return &s->env.env; }
const konce_env *sim_host_env(sim_host *h) { return &h->env.env; }
