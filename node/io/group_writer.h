/* group_writer.h - the group records' writer thread: makes a node's queued consensus-group records
 * durable (one SQLite transaction and fsync per batch) off the event loop.
 *
 * Why: a flush on the loop thread stops every session of the node for an fsync, and a group's
 * members, when they share a loop (bench/bench_group.c, a host serving several members), fsync one
 * after the other.  With the writer, the loop keeps reading and sending (what does not wait for
 * those records) while a batch is written, and the records noted meanwhile form the next batch
 * (group commit).
 *
 * States: IDLE --submit--> WRITING --the thread's commit--> DONE --the loop reads the result--> IDLE.
 * Invariants:
 *   1. At most one batch is handed over: submit is refused unless IDLE.  Batches are written in
 *      the order they are submitted; a failed batch stays queued on the writer's connection, in
 *      front of the records the next submit appends, so records are never reordered or lost.
 *   2. `done` (on the loop thread) reports a batch only after its COMMIT returned (synchronous =
 *      FULL: durable); only then may the caller report the records persisted (cgroup.h
 *      invariant 6).
 *   3. The writer's connection is used by the thread only while WRITING, and by the loop thread
 *      (group_writer_sync) only after it has waited the thread out.
 */
#ifndef KONCE_NODE_GROUP_WRITER_H
#define KONCE_NODE_GROUP_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>

#include "store/store.h"

typedef struct group_writer group_writer;

/* done(ctx, err, msg): a submitted batch is written (err 0) or not (negative errno, msg says why;
 * its records stay queued for the next submit).  Runs on the loop thread, from `base`. */
typedef void (*group_writer_done)(void *ctx, int err, const char *msg);

/* Opens a second connection to the database at path and starts the thread: 0 or a negative errno
 * (err says why). */
int group_writer_start(group_writer **out, struct event_base *base, const char *path, group_writer_done done,
		       void *ctx, char *err, size_t errlen);
/* A batch is handed over and not yet reported by done. */
bool group_writer_busy(const group_writer *w);
/* Moves every record queued on `from` (NULL: none) behind the writer's own (a failed batch's) and
 * starts writing them: 0, or -EBUSY while a batch is in flight. */
int group_writer_submit(group_writer *w, konce_store *from);
/* On the loop thread: waits for a batch in flight (its result is reported by done first), then
 * writes the writer's queue and every record queued on `from`, here, at once: 0 when all of it is
 * durable, or a negative errno (err says why; the records stay queued on the writer). */
int group_writer_sync(group_writer *w, konce_store *from, char *err, size_t errlen);
/* Records queued on the writer (a failed batch, or one in flight). */
size_t group_writer_pending(group_writer *w);
/* Stops the thread and closes the connection; queued records are dropped (sync first). */
void group_writer_stop(group_writer *w);

#endif
