/* group_host.h - the store's group primitives behind the node core's group API host table
 * (node/core/ncgapi.h konce_ncgapi_host: add, add_join, remove, delivered, entries, each, restore
 * and read, each with a konce_store as its ctx), so that the daemon's host (node/io/group_io.c,
 * on the loop's connection and the store writer's) and the simulator's (tests/sim/nn_groups.c)
 * run one set of them.  They live here, not in node/core, because they call the SQLite layer;
 * node/core only names them through the table. */
#ifndef KONCE_STORE_GROUP_HOST_H
#define KONCE_STORE_GROUP_HOST_H

#include "node/core/ncgapi.h"
#include "store/store.h"

/* Fills h's store primitives (add .. read) and sets h->store to st; the rest of h is left alone. */
void konce_store_group_host(konce_ncgapi_host *h, konce_store *st);
/* The same primitives (no store, no host callbacks), for calls on another connection (the
 * writer's: the replay's reads, the control's rows), with their store as ctx. */
extern const konce_ncgapi_host konce_store_group_prims;
/* konce_store_group_pending on a store given as void * (ncghost.h's store_pending). */
size_t konce_store_group_pending_of(void *st);

#endif
