/* keyslab.h - one locked slab of session key slots.
 *
 * sodium_malloc() per session would cost guard pages and mlock()ed pages each and soon hit
 * RLIMIT_MEMLOCK, so an endpoint makes one sodium_malloc()ed slab of max_sessions slots at
 * creation and hands out slots by index.  A slot is wiped when released and when the slab is freed.
 */
#ifndef KONCE_KEYSLAB_H
#define KONCE_KEYSLAB_H

#include <stdint.h>

#include "node/base/wire.h"

typedef struct konce_keyslot {
	uint8_t tx[KONCE_WIRE_KEY];      /* current send key */
	uint8_t rx[KONCE_WIRE_KEY];      /* current receive key */
	uint8_t tx_sub[KONCE_WIRE_KEY];  /* konce_aead_subkey(tx): what DATA is sealed with */
	uint8_t rx_sub[KONCE_WIRE_KEY];  /* konce_aead_subkey(rx): what DATA is opened with */
	uint8_t rx_prev[KONCE_WIRE_KEY]; /* subkey of the previous receive key, kept briefly for stragglers */
	uint8_t spare[KONCE_WIRE_KEY];   /* scratch for the next receive key while it is tried */
	uint8_t group[KONCE_WIRE_KEY];   /* client handshake to a limited-circulation server */
	uint8_t cid_tx[KONCE_WIRE_KEY];  /* derives the peer's connection ids (cidrot.c) */
	uint8_t cid_rx[KONCE_WIRE_KEY];  /* derives ours */
} konce_keyslot;

typedef struct konce_keyslab konce_keyslab;

/* 0, -ENOMEM, or mlock()'s error (-ENOMEM over RLIMIT_MEMLOCK, -EPERM, -EAGAIN: secmem.h). */
int konce_keyslab_new(konce_keyslab **out, unsigned nslots);
void konce_keyslab_free(konce_keyslab *s);
konce_keyslot *konce_keyslab_slot(konce_keyslab *s, unsigned i);
void konce_keyslab_wipe(konce_keyslab *s, unsigned i);

#endif
