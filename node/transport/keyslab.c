/* keyslab.c - the locked key-slot slab (see keyslab.h). */
#include "node/transport/keyslab.h"
#include "node/base/secmem.h"

#include <errno.h>
#include <sodium.h>

struct konce_keyslab {
	unsigned n;
	konce_keyslot *slots;
};

int konce_keyslab_new(konce_keyslab **out, unsigned nslots)
{
	*out = NULL;
	int e;
	konce_keyslab *s = konce_secmem_alloc(sizeof *s, &e);
	if (!s)
		return e;
	s->n = nslots;
	s->slots = konce_secmem_alloc((size_t)nslots * sizeof(konce_keyslot), &e);
	if (!s->slots) {
		konce_secmem_free(s, sizeof *s);
		return e;
	}
	sodium_memzero(s->slots, (size_t)nslots * sizeof(konce_keyslot));
	*out = s;
	return 0;
}

void konce_keyslab_free(konce_keyslab *s)
{
	if (!s)
		return;
	konce_secmem_free(s->slots, (size_t)s->n * sizeof(konce_keyslot)); /* wiped before unmapping */
	konce_secmem_free(s, sizeof *s);
}

konce_keyslot *konce_keyslab_slot(konce_keyslab *s, unsigned i) { return &s->slots[i]; }

void konce_keyslab_wipe(konce_keyslab *s, unsigned i) { sodium_memzero(&s->slots[i], sizeof s->slots[i]); }
