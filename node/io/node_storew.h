/* node_storew.h - the store worker: the node's presence-store writes, on a thread of their own.
 *
 * The loop thread hands the node core's notes to node_storew_note(), which copies them into an inbox
 * under a mutex held only for the copy: it never waits for SQLite.  The worker thread owns a second
 * connection to the same peers.db (WAL: the loop thread's connection keeps reading while the worker
 * writes).  It wakes once a second, or as soon as the inbox is half full, or to stop; it moves the
 * inbox into its store's queue (konce_store_nc_note) and writes the whole queue in one transaction
 * (konce_store_flush).
 *
 * States of the worker:   RUNNING --node_storew_stop()--> STOPPING --last flush, close--> joined
 * Invariants:
 *  - Only the worker touches its konce_store; only the loop thread calls node_storew_*.
 *  - A failed flush loses nothing: the store keeps its queue and the next wake retries.  Memory
 *    stays bounded: a note that finds the inbox full, or the store's queue full, is refused and
 *    counted (konce_store_stats.notes_refused), as the store alone refuses it.
 *  - node_storew_stop() writes every note queued before it and returns the result of that last write.
 */
#ifndef KONCE_NODE_STOREW_H
#define KONCE_NODE_STOREW_H

#include <stddef.h>
#include <stdint.h>

#include "node/base/ncnote.h"
#include "store/store.h"

typedef struct node_storew node_storew;

/* Opens the worker's connection to the store at path and starts the thread.  0, or a negative errno
 * with err saying why (konce_store_open's, or the thread's). */
int node_storew_start(node_storew **out, const char *path, char *err, size_t errlen);
/* Queues one note made at wall (unix seconds).  0, or -ENOBUFS when the inbox is full (counted). */
int node_storew_note(node_storew *w, const konce_nc_note *note, int64_t wall);

typedef struct node_storew_status {
	konce_store_stats stats; /* the worker's store, plus the inbox: pending and refused notes */
	int failing;             /* the last flush failed */
	char err[768];           /* its error, when failing */
} node_storew_status;
/* The state as of the worker's last flush. */
void node_storew_get_status(node_storew *w, node_storew_status *out);
/* Writes what is queued, stops the thread and closes the worker's connection; frees w (NULL: no-op).
 * 0, or the last write's negative errno with err saying why (those notes are lost). */
int node_storew_stop(node_storew *w, char *err, size_t errlen);

#endif
