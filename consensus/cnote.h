/* cnote.h - one konce_group_persist call as data: the record a consensus core asked to persist,
 * copied out of the call so that a host can queue it and write it elsewhere, later.
 *
 * The node core (node/core/ncgroup.h) turns every persist call of the groups it hosts into one of
 * these; the store (store.h konce_store_group_note()) takes them.  Neither needs the other.
 */
#ifndef KONCE_CNOTE_H
#define KONCE_CNOTE_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/cwire.h"

enum konce_cnote_type {
	KONCE_CNOTE_VIEW = 1,  /* put_view: bytes = value */
	KONCE_CNOTE_VOTE,      /* put_vote: a = base, b = promised, c = acc_ballot, bytes = value */
	KONCE_CNOTE_ENTRIES,   /* put_entries: a = first seq, count, bytes = the entries */
	KONCE_CNOTE_DELIVERED, /* put_delivered: a = seq */
	KONCE_CNOTE_SNAPSHOT,  /* put_snapshot: a = seq, bytes = data */
};

typedef struct konce_cnote {
	enum konce_cnote_type type;
	uint8_t gid[KONCE_CW_GROUP_ID]; /* the group whose core made the call */
	uint64_t a, b, c;
	uint64_t pid; /* the persist id (konce_group_persist_issued() after the call) */
	unsigned count;
	uint8_t *bytes; /* owned by whoever handed the note out */
	size_t len;
} konce_cnote;

#endif
