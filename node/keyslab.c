/* keyslab.c - the locked key-slot slab (see keyslab.h). */
#include "node/keyslab.h"

#include <errno.h>
#include <sodium.h>

struct konce_keyslab {
	unsigned n;
	konce_keyslot *slots;
};

int konce_keyslab_new(konce_keyslab **out, unsigned nslots)
{
	*out = NULL;
	if (sodium_init() < 0)
		return -ENOMEM;
	konce_keyslab *s = sodium_malloc(sizeof *s);
	if (!s)
		return -ENOMEM;
	s->n = nslots;
	s->slots = sodium_allocarray(nslots, sizeof(konce_keyslot));
	if (!s->slots) {
		sodium_free(s);
		return -ENOMEM;
	}
	sodium_memzero(s->slots, (size_t)nslots * sizeof(konce_keyslot));
	*out = s;
	return 0;
}

void konce_keyslab_free(konce_keyslab *s)
{
	if (!s)
		return;
	sodium_free(s->slots); /* sodium_free wipes before unmapping */
	sodium_free(s);
}

konce_keyslot *konce_keyslab_slot(konce_keyslab *s, unsigned i) { return &s->slots[i]; }

void konce_keyslab_wipe(konce_keyslab *s, unsigned i) { sodium_memzero(&s->slots[i], sizeof s->slots[i]); }
