/* node_storew.h - the store writer: the one thread that writes the node's SQLite store, so that the
 * event loop never waits for SQLite, its fsync or another process's lock.  It owns a second
 * connection to peers.db (WAL: the loop thread's connection keeps reading while it writes), and it
 * writes three things, each a job on one worker thread (worker.h), reported back on the loop:
 *   - the node core's presence notes, appended to an inbox on the loop (node_storew_note) and
 *     written once a second, or as soon as the inbox is half full, in one transaction (a flush);
 *   - the consensus groups' record batches (node_storew_group_submit), each in one transaction
 *     and fsync; the records queued on the loop meanwhile form the next batch (group commit);
 *   - calls (node_storew_call): any other store write or read a request needs (a petname, a group's
 *     rows), run on the writer's connection; the request is answered from the completion.
 *
 * States of the writer: RUNNING --node_storew_stop()--> STOPPING --the calls posted run, the last
 * flush writes and closes--> freed.  A call, a flush and a group batch are jobs (worker.h: POSTED
 * --> RAN --> reported); a group batch: IDLE --submit--> POSTED --reported--> IDLE.
 * Invariants:
 *  1. Only the worker thread touches the writer's konce_store, except its group queue while no
 *     batch is handed over (the loop moves records onto it at submit; the thread flushes it only
 *     inside a batch's job).  Only the loop thread calls node_storew_*.
 *  2. Calls run in the order they are posted, before the flush posted after them; their dones run
 *     on the loop thread in the same order, once each (node_storew_call_wait reports the calls
 *     before it, and its own, on the caller's thread).
 *  3. A group batch is reported to its done only after its COMMIT returned (synchronous = FULL:
 *     durable); a failed batch stays on the writer's group queue, in front of the records the next
 *     submit moves behind it, so records are never reordered or lost.
 *  4. A failed flush loses nothing: the store keeps its queue and the next second's flush retries.
 *     Memory stays bounded: a note that finds the inbox full, or the store's queue full, is refused
 *     and counted (konce_store_stats.notes_refused); at most STOREW_CALLS_MAX calls wait.
 *  5. node_storew_stop() runs every call posted and writes every note queued before it, and returns
 *     the result of that last write; the calls' dones run before it returns.
 */
#ifndef KONCE_NODE_STOREW_H
#define KONCE_NODE_STOREW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "node/base/ncnote.h"
#include "store/store.h"

enum { STOREW_CALLS_MAX = 256 };

typedef struct node_storew node_storew;

/* Opens the writer's connection to the store at path and starts the thread; its completions run on
 * base's loop.  0, or a negative errno with err saying why (konce_store_open's, or the thread's). */
int node_storew_start(node_storew **out, struct event_base *base, const char *path, char *err, size_t errlen);
/* Queues one note made at wall (unix seconds).  0, or -ENOBUFS when the inbox is full (counted). */
int node_storew_note(node_storew *w, const konce_nc_note *note, int64_t wall);

/* On the thread, with the writer's connection: 0 or a negative errno, with msg (msglen bytes,
 * zeroed before) saying why. */
typedef int (*node_storew_fn)(konce_store *st, void *arg, char *msg, size_t msglen);
/* On the loop thread: fn's result. */
typedef void (*node_storew_done)(void *arg, int err, const char *msg);
/* Queues fn(arg), then done(arg, fn's result) on the loop.  0, or -ENOBUFS (STOREW_CALLS_MAX wait),
 * -ENOMEM, or -ESHUTDOWN (the stop has begun: a done run by the stop); then neither runs. */
int node_storew_call(node_storew *w, node_storew_fn fn, node_storew_done done, void *arg);
/* The same, and waits here, on the loop thread, until fn has run (for stop and a rejoin's forget):
 * the dones of the calls queued before it run first, then its own; returns fn's result (msg). */
int node_storew_call_wait(node_storew *w, node_storew_fn fn, node_storew_done done, void *arg, char *msg,
			  size_t msglen);

/* Waits here, on the loop thread, until every call queued before has run, and runs their dones. */
void node_storew_drain(node_storew *w);

/* The group records' batches (invariant 3).  done(arg, err, msg) reports each. */
void node_storew_group_on_done(node_storew *w, node_storew_done done, void *arg);
/* A batch is handed over and not yet reported. */
bool node_storew_group_busy(const node_storew *w);
/* Moves every record queued on `from` (NULL: none) behind the writer's own (a failed batch's) and
 * queues their write: 0, or -EBUSY while a batch is handed over. */
int node_storew_group_submit(node_storew *w, konce_store *from);
/* Waits for the batch handed over (done reports it first), then writes the writer's group queue and
 * every record on `from` at once, waiting here: 0 when all is durable, or a negative errno (err). */
int node_storew_group_sync(node_storew *w, konce_store *from, char *err, size_t errlen);
/* Records on the writer's group queue when no batch is handed over (a failed batch's), else 0. */
size_t node_storew_group_pending(const node_storew *w);

typedef struct node_storew_status {
	konce_store_stats stats; /* the writer's store, plus the inbox: pending and refused notes */
	int failing;             /* the last notes flush failed */
	char err[768];           /* its error, when failing */
} node_storew_status;
/* The state as of the last flush reported, with the inbox's notes. */
void node_storew_get_status(node_storew *w, node_storew_status *out);
/* Runs the queued calls, writes the notes, stops the thread and closes the writer's connection
 * (group records still queued on it are dropped: sync first); frees w (NULL: no-op).  0, or the
 * last notes write's negative errno with err saying why (those notes are lost). */
int node_storew_stop(node_storew *w, char *err, size_t errlen);

#endif
