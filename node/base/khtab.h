/* khtab.h - a bounded table indexed by a keyed hash: the shape every per-source or per-key table of
 * a sans-I/O core takes (node/base/ratelimit.c, nat/relay.c, nat/rendezvous.c).
 *
 * The table is a fixed power-of-two array of the caller's entries, allocated once, zeroed, from the
 * caller's env.  A key's home slot is SipHash-2-4 of the key under a random per-table hash key, and
 * the key lives in one of the KONCE_KHTAB_RUN slots from there.  So, whatever an attacker sends:
 *   - the table never grows and a lookup touches at most KONCE_KHTAB_RUN slots;
 *   - without the hash key no one knows which slots a key uses, so no one can aim collisions at
 *     one key; the most a flood can do is churn the whole table.
 * What an entry holds, when it is live and which one a full run gives up is the caller's business:
 * this file sizes, hashes and walks; it never allocates after konce_khtab_init().
 *
 *   for (unsigned i = 0; i < konce_khtab_run(t); i++) {
 *           struct my_entry *e = konce_khtab_at(t, home, i);
 *           ...
 *   }
 */
#ifndef KONCE_KHTAB_H
#define KONCE_KHTAB_H

#include <stddef.h>
#include <stdint.h>

#include "node/base/env.h"

enum {
	KONCE_KHTAB_RUN = 8,       /* slots a key may live in, from its home */
	KONCE_KHTAB_HASHKEY = 16,  /* crypto_shorthash_KEYBYTES */
};

typedef struct konce_khtab {
	void *slots;        /* (mask + 1) entries of entry_size bytes */
	size_t entry_size;
	uint32_t mask;
	uint8_t hashkey[KONCE_KHTAB_HASHKEY];
} konce_khtab;

/* Allocates want entries (rounded up to a power of two) of entry_size bytes, zeroed, and draws the
 * hash key, both from env.  0, -EINVAL (want is 0 or above max), -ENOMEM. */
int konce_khtab_init(konce_khtab *t, const konce_env *env, unsigned want, unsigned max, size_t entry_size);
/* Frees the entries (after wiping them) and wipes t; a zeroed t is fine. */
void konce_khtab_fini(konce_khtab *t, const konce_env *env);
/* The home slot of key[0..len). */
uint32_t konce_khtab_home(const konce_khtab *t, const void *key, size_t len);

static inline uint32_t konce_khtab_size(const konce_khtab *t) { return t->mask + 1; }
/* How many slots from home a key may live in: KONCE_KHTAB_RUN, or the whole of a smaller table. */
static inline unsigned konce_khtab_run(const konce_khtab *t)
{
	return t->mask + 1 < KONCE_KHTAB_RUN ? t->mask + 1 : KONCE_KHTAB_RUN;
}
/* The index of the i-th slot of the run from home, and that entry. */
static inline uint32_t konce_khtab_index(const konce_khtab *t, uint32_t home, unsigned i)
{
	return (home + i) & t->mask;
}
static inline void *konce_khtab_at(const konce_khtab *t, uint32_t home, unsigned i)
{
	return (uint8_t *)t->slots + (size_t)konce_khtab_index(t, home, i) * t->entry_size;
}
/* Entry number idx (idx < konce_khtab_size(t)). */
static inline void *konce_khtab_entry(const konce_khtab *t, uint32_t idx)
{
	return (uint8_t *)t->slots + (size_t)idx * t->entry_size;
}

#endif
