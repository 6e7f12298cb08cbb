/* env.h - what a sans-I/O core borrows from its caller: memory and randomness.
 *
 * Cores never call malloc() or randombytes() directly.  They call through a konce_env, so that tests
 * can count every allocation (to prove nothing is allocated for an unauthenticated peer) and the
 * simulator can make every run reproducible from its seed.  konce_env_default() uses malloc/free and
 * libsodium's randombytes_buf.
 *
 * trim (optional, NULL: nothing to do) hands memory the allocator keeps free back to the system; the
 * endpoint calls it through konce_env_trim() after channels shrink back to presences (ep_mem.c), so
 * no core calls an allocator-specific function itself.  konce_env_default()'s is glibc's
 * malloc_trim(0) (NULL where the C library has none).
 *
 * konce_env_alloc_raw() is for a buffer that is written in full before it is read (a message's
 * bytes, copied in or reassembled), so that a large one is not zeroed only to be overwritten: with
 * konce_env_default() it is malloc(), with any other env its alloc (zeroed, and counted as every
 * other allocation).  Freed with konce_env_free().
 *
 * alloc_lazy (optional, NULL: none) is a block, not zeroed, that costs memory only as its pages are
 * written: address space, made resident page by page.  The reassembler writes a large message's
 * fragments straight into one (node/transport/frag.h) and charges the pages it touches.
 * konce_env_default()'s is malloc(): a block that large is a fresh mapping or new heap, both
 * faulted in on first write, or pages the allocator already holds.  The simulator's is its alloc
 * (the block counted in full at once); the unit tests' counting envs leave it NULL, unless a test
 * turns it on, and the reassembler then builds large messages from separate chunks.  Freed with
 * konce_env_free().
 */
#ifndef KONCE_ENV_H
#define KONCE_ENV_H

#include <stddef.h>
#include <stdint.h>

typedef struct konce_env {
	void *(*alloc)(void *ctx, size_t size); /* zeroed memory or NULL */
	void (*free)(void *ctx, void *ptr);
	void (*random)(void *ctx, uint8_t *buf, size_t len);
	void *ctx;
	void (*trim)(void *ctx); /* optional: give free memory back to the system */
	void *(*alloc_lazy)(void *ctx, size_t size); /* optional: memory resident only as written */
} konce_env;

const konce_env *konce_env_default(void);

static inline void *konce_env_alloc(const konce_env *e, size_t n) { return e->alloc(e->ctx, n); }
void *konce_env_alloc_raw(const konce_env *e, size_t n);
/* NULL if e has no alloc_lazy, or it said no. */
static inline void *konce_env_alloc_lazy(const konce_env *e, size_t n)
{
	return e->alloc_lazy ? e->alloc_lazy(e->ctx, n ? n : 1) : NULL;
}
static inline void konce_env_free(const konce_env *e, void *p)
{
	if (p)
		e->free(e->ctx, p);
}
static inline void konce_env_trim(const konce_env *e)
{
	if (e->trim)
		e->trim(e->ctx);
}
static inline void konce_env_random(const konce_env *e, uint8_t *buf, size_t n) { e->random(e->ctx, buf, n); }

#endif
