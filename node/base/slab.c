/* slab.c - fixed-size objects in chunks (slab.h). */
#include "node/base/slab.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* KONCE_ASAN: built with AddressSanitizer.  GCC says so with __SANITIZE_ADDRESS__, clang with
 * __has_feature(address_sanitizer) (newer clang also with __SANITIZE_ADDRESS__); the reserved
 * name itself is not defined here. */
#if defined(__SANITIZE_ADDRESS__)
#define KONCE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KONCE_ASAN 1
#endif
#endif

/* Under AddressSanitizer an object is poisoned while it is not handed out, so that a use after
 * konce_slab_free() is reported as it would be after free(). */
#if defined(KONCE_ASAN)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct konce_slab_chunk {
	konce_slab_chunk *prev, *next; /* the avail list */
	void *free;                    /* returned objects, linked through their first word */
	unsigned used;                 /* objects handed out */
	unsigned fresh;                /* objects [fresh, per) have never been handed out */
	bool listed;                   /* on the avail list */
};

/* The objects start at a 16-byte boundary after the header (each then at a multiple of 8). */
enum { HDR = (sizeof(konce_slab_chunk) + 15) & ~(size_t)15 };

static inline uint8_t *objs(konce_slab_chunk *c) { return (uint8_t *)c + HDR; }

void konce_slab_init(konce_slab *sl, const konce_env *env, size_t size)
{
	memset(sl, 0, sizeof *sl);
	sl->env = env;
	sl->size = (size + 7) & ~(size_t)7;
	sl->per = (unsigned)((KONCE_SLAB_CHUNK - HDR) / sl->size);
}

static void unlist(konce_slab *sl, konce_slab_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		sl->avail = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->listed = false;
}

static void list(konce_slab *sl, konce_slab_chunk *c)
{
	c->prev = NULL;
	c->next = sl->avail;
	if (sl->avail)
		sl->avail->prev = c;
	sl->avail = c;
	c->listed = true;
}

/* The index of the first chunk at an address above p (chunks[i - 1] holds p, if any does). */
static unsigned upper(const konce_slab *sl, const void *p)
{
	unsigned lo = 0, hi = sl->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if ((uintptr_t)sl->chunks[mid] <= (uintptr_t)p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* With the default env a chunk is its own mapping: it never sits between other objects in
 * malloc's heap (where the holes around it would stay resident, and it would keep the heap from
 * shrinking), and its pages go back to the system when it is freed.  Any other env (a test's, that
 * counts or fails allocations) gives the chunk. */
static void *chunk_alloc(const konce_slab *sl)
{
	if (sl->env != konce_env_default())
		return konce_env_alloc_raw(sl->env, KONCE_SLAB_CHUNK);
#if defined(KONCE_ASAN)
	/* LeakSanitizer scans heap blocks for pointers, not the program's own mappings: from an
	 * mmap'd chunk, what a session points to (its conn, rings) would be reported as leaked. */
	return malloc(KONCE_SLAB_CHUNK);
#else
	void *p = mmap(NULL, KONCE_SLAB_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
#endif
}

static void chunk_free(const konce_slab *sl, void *c)
{
	UNPOISON(c, KONCE_SLAB_CHUNK);
	if (sl->env != konce_env_default())
		konce_env_free(sl->env, c);
#if defined(KONCE_ASAN)
	else
		free(c);
#else
	else
		munmap(c, KONCE_SLAB_CHUNK);
#endif
}

static void release_all(konce_slab *sl);

static konce_slab_chunk *grow(konce_slab *sl)
{
	if (sl->n == sl->cap) {
		unsigned cap = sl->cap ? sl->cap * 2 : 16;
		konce_slab_chunk **v = konce_env_alloc(sl->env, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		if (sl->n)
			memcpy(v, sl->chunks, (size_t)sl->n * sizeof *v);
		konce_env_free(sl->env, sl->chunks);
		sl->chunks = v;
		sl->cap = cap;
	}
	/* raw: the header is set here and each object is zeroed as it is handed out, so the
	 * chunk's pages are touched only as its objects are used */
	konce_slab_chunk *c = chunk_alloc(sl);
	if (!c)
		return NULL;
	memset(c, 0, sizeof *c);
	POISON(objs(c), (size_t)sl->per * sl->size);
	unsigned i = upper(sl, c);
	memmove(sl->chunks + i + 1, sl->chunks + i, (size_t)(sl->n - i) * sizeof *sl->chunks);
	sl->chunks[i] = c;
	sl->n++;
	sl->n_empty++;
	list(sl, c);
	return c;
}

void *konce_slab_alloc(konce_slab *sl)
{
	konce_slab_chunk *c = sl->avail;
	if (!c && !(c = grow(sl)))
		return NULL;
	void *p;
	if (c->free) {
		p = c->free;
		UNPOISON(p, sl->size);
		memcpy(&c->free, p, sizeof c->free);
	} else {
		p = objs(c) + (size_t)c->fresh++ * sl->size;
		UNPOISON(p, sl->size);
	}
	if (c->used++ == 0)
		sl->n_empty--;
	sl->used++;
	if (!c->free && c->fresh == sl->per)
		unlist(sl, c);
	memset(p, 0, sl->size);
	return p;
}

void konce_slab_free(konce_slab *sl, void *p)
{
	if (!p)
		return;
	unsigned i = upper(sl, p);
	konce_slab_chunk *c = sl->chunks[i - 1]; /* p came from this slab: some chunk holds it */
	memcpy(p, &c->free, sizeof c->free);
	POISON(p, sl->size);
	c->free = p;
	if (!c->listed)
		list(sl, c);
	sl->used--;
	if (--c->used)
		return;
	if (!sl->used) {
		release_all(sl); /* nothing is out: nothing is kept */
		return;
	}
	if (sl->n_empty++ == 0)
		return; /* the one empty chunk kept */
	unlist(sl, c);
	memmove(sl->chunks + i - 1, sl->chunks + i, (size_t)(sl->n - i) * sizeof *sl->chunks);
	sl->n--;
	sl->n_empty--;
	chunk_free(sl, c);
}

/* Every chunk and the index back; the slab stays usable (env, size, per kept). */
static void release_all(konce_slab *sl)
{
	for (unsigned i = 0; i < sl->n; i++)
		chunk_free(sl, sl->chunks[i]);
	konce_env_free(sl->env, sl->chunks);
	sl->chunks = NULL;
	sl->avail = NULL;
	sl->n = sl->cap = sl->n_empty = sl->used = 0;
}

void konce_slab_fini(konce_slab *sl)
{
	release_all(sl);
	memset(sl, 0, sizeof *sl);
}

size_t konce_slab_bytes(const konce_slab *sl)
{
	return (size_t)sl->n * KONCE_SLAB_CHUNK + (size_t)sl->cap * sizeof *sl->chunks;
}
