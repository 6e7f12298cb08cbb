/* slab.h - objects of one fixed size, packed in chunks of their own (mapped, with the default
 * konce_env; from the env otherwise).
 *
 * Why: glibc's malloc puts a header before every object and mixes long-lived objects (a session)
 * with short-lived ones (its handshake buffers, a channel's rings) in one heap, so that the
 * holes the short-lived ones leave stay resident.  A slab has no header per object, keeps one
 * kind of object together, hands out a chunk's objects in order (a chunk's untouched tail costs
 * no resident memory), and gives a chunk back as soon as it is empty (one empty chunk is kept
 * while others are in use, so that an alloc/free pair at a chunk's edge does not go to the env
 * each time; with no object out, the slab holds nothing).
 *
 * Invariants: every chunk is in `chunks`, sorted by address (an object's chunk is found by
 * binary search); a chunk with a free object (on its list, or never handed out) is in the
 * `avail` list, the others are not; `used` counts the objects handed out of a chunk.
 */
#ifndef KONCE_SLAB_H
#define KONCE_SLAB_H

#include <stddef.h>

#include "node/base/env.h"

typedef struct konce_slab_chunk konce_slab_chunk;

typedef struct konce_slab {
	const konce_env *env;
	size_t size;              /* bytes per object, a multiple of 8 (objects need no more alignment) */
	unsigned per;             /* objects per chunk */
	konce_slab_chunk *avail;  /* chunks with a free object */
	konce_slab_chunk **chunks; /* every chunk, by address */
	unsigned n, cap;
	unsigned n_empty;         /* chunks with nothing handed out (at most one is kept) */
	size_t used;              /* objects handed out; at 0 every chunk goes back */
} konce_slab;

enum { KONCE_SLAB_CHUNK = 64 * 1024 }; /* bytes of a chunk */

/* An empty slab for objects of `size` bytes (at most a quarter of a chunk). */
void konce_slab_init(konce_slab *sl, const konce_env *env, size_t size);
/* Gives every chunk back to the env; objects still out are lost with them. */
void konce_slab_fini(konce_slab *sl);
/* A zeroed object, or NULL if the env said no. */
void *konce_slab_alloc(konce_slab *sl);
/* Returns p (from this slab; NULL is ignored).  The caller wipes what must be wiped first. */
void konce_slab_free(konce_slab *sl, void *p);
/* Bytes the slab holds from the env (its chunks and their index). */
size_t konce_slab_bytes(const konce_slab *sl);

#endif
