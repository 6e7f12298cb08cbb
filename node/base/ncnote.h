/* ncnote.h - one presence-store write as data: what the node core (node/core/nodecore.h) hands its
 * host to write to the presence store, copied out so that a host can queue it and write it
 * elsewhere, later (a worker thread, node/io/node_storew.c).  The store takes it
 * (store.h konce_store_nc_note(), stamped with the wall clock when written); the core applies the
 * same note to its known-keys cache as it makes it.  Neither needs the other.
 */
#ifndef KONCE_NCNOTE_H
#define KONCE_NCNOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/wire.h"

enum konce_nc_note_type {
	KONCE_NC_NOTE_SEEN = 1,  /* konce_store_note_seen_ex(pk, has_addr ? addr : NULL, SEEN, flags) */
	KONCE_NC_NOTE_HANDSHAKE, /* konce_store_note_handshake_ex(pk, ok, flags) */
	KONCE_NC_NOTE_TRUSTED,   /* konce_store_note_trusted(pk, has_addr ? addr : NULL) */
};
enum { KONCE_NC_NOTE_IF_KNOWN = 1 }; /* = store.h KONCE_NOTE_IF_KNOWN */

typedef struct konce_nc_note {
	enum konce_nc_note_type type;
	uint8_t pk[KONCE_WIRE_KEY];
	bool has_addr, ok;
	konce_addr addr;
	unsigned flags;
} konce_nc_note;

#endif
