/* node_travpool.h - which traversal-peer entry (node_trav_int.h, NODE_TRAV_PEERS of them) a new key
 * gets.  Pure: the caller describes its entries, this picks one.
 *
 * Two pools share the table.  Solicited entries are keys this node asked to
 * reach (konce connect/send/ping by key); strangers came by themselves (an introduction someone
 * else asked for, a relayed payload).  Invariants:
 *   1. At most NODE_TRAVPOOL_STRANGERS entries are strangers, so strangers can never hold the
 *      whole table: there are always NODE_TRAV_PEERS - NODE_TRAVPOOL_STRANGERS entries that only
 *      solicited keys (or dead weight) fill.
 *   2. A stranger without a session is evictable at any time, by a solicited key or by a newer
 *      stranger when the pool is full (the one seen longest ago goes).
 *   3. An entry with a session is never taken (its path handle carries the session).
 *   4. A solicited entry without a session is taken only after NODE_TRAVPOOL_REUSE_US idle.
 */
#ifndef KONCE_NODE_TRAVPOOL_H
#define KONCE_NODE_TRAVPOOL_H

#include <stdbool.h>
#include <stdint.h>

enum { NODE_TRAVPOOL_STRANGERS = 16 };
#define NODE_TRAVPOOL_REUSE_US (60 * 1000000ull)

struct node_travpool_slot {
	bool used;
	bool solicited;
	bool session;     /* a session lives behind the entry's path handle */
	uint64_t last_us; /* last asked, introduced or result */
};

/* The entry for a new key (free, or to evict), or -1 if none may be taken. */
int node_travpool_pick(const struct node_travpool_slot *s, unsigned n, bool solicited, uint64_t now);

#endif
