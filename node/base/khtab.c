/* khtab.c - the bounded keyed-hash table (khtab.h). */
#include "node/base/khtab.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

_Static_assert(KONCE_KHTAB_HASHKEY == crypto_shorthash_KEYBYTES, "SipHash key size");

int konce_khtab_init(konce_khtab *t, const konce_env *env, unsigned want, unsigned max, size_t entry_size)
{
	memset(t, 0, sizeof(*t));
	if (want == 0 || want > max || entry_size == 0)
		return -EINVAL;
	uint32_t n = 1;
	while (n < want)
		n <<= 1;
	t->slots = konce_env_alloc(env, (size_t)n * entry_size);
	if (!t->slots)
		return -ENOMEM;
	memset(t->slots, 0, (size_t)n * entry_size);
	t->entry_size = entry_size;
	t->mask = n - 1;
	konce_env_random(env, t->hashkey, sizeof(t->hashkey));
	return 0;
}

void konce_khtab_fini(konce_khtab *t, const konce_env *env)
{
	if (t->slots) {
		sodium_memzero(t->slots, (size_t)konce_khtab_size(t) * t->entry_size);
		konce_env_free(env, t->slots);
	}
	sodium_memzero(t, sizeof(*t));
}

uint32_t konce_khtab_home(const konce_khtab *t, const void *key, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, key, len, t->hashkey);
	return ((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24) & t->mask;
}
