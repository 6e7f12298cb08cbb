/* ncgpersist.h - when a node's queued group records go to its writer, and which hosted groups hear
 * that their records are durable, for which persist ids.  Sans-I/O: the host (node/io/group_io.c)
 * queues each group note in the store, runs the store writer's batches (node_storew.h) and one flush event,
 * and tells this table what happened; the table says what to do with the flush event and calls
 * konce_group_persisted() on the node core's groups.
 *
 * A record goes  QUEUED (on the store's queue: konce_ncgpersist_noted)
 *      --konce_ncgpersist_submit BATCH / _synced-->  FLYING (handed to the writer)
 *      --konce_ncgpersist_written(err 0) / _synced(err 0)-->  reported: konce_group_persisted()
 *        with the highest persist id of each group among the flying records.
 * Invariants:
 *   1. A group hears a persist id only once the batch holding it is reported written (its COMMIT
 *      returned: cgroup.h invariant 6).  Records queued after a batch was handed over are not
 *      reported with it: they are the next batch.
 *   2. Each table holds one entry per group (at most KONCE_NC_GROUPS_MAX), with its highest id.
 *   3. A failed batch stays on the writer and in FLYING; it is retried alone (RETRY: nothing new
 *      is handed over behind it) every KONCE_NCGP_RETRY_MS until it is written.
 *   4. After konce_ncgpersist_stop() a written batch is still reported, but no flush is asked for.
 *
 * Flush policy.  A round of notes (one kick of the host) holding a record other than a delivery
 * mark is urgent: the flush runs on the loop's next turn (NOW), so that the notes of many kicks
 * share one SQLite transaction and fsync, unless a batch is in flight (its end hands the queue
 * over at once).  A round of delivery marks alone arms the flush KONCE_NCGP_MARK_LAG_MS later (a
 * mark gates nothing the core must send soon, so it rides with the next records), unless a flush
 * is armed already.  Once a record failed to queue, or while the writer fails, a round asks for
 * nothing (the failed write's retry goes on).
 */
#ifndef KONCE_NCGPERSIST_H
#define KONCE_NCGPERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/core/ncgroup.h"
#include "node/core/nodecore.h"

enum { KONCE_NCGP_RETRY_MS = 100, KONCE_NCGP_MARK_LAG_MS = 5 };

/* The highest persist id of a group among some records. */
typedef struct konce_ncgp_pid {
	uint8_t gid[KONCE_CW_GROUP_ID];
	uint64_t pid;
} konce_ncgp_pid;

/* The caller allocates it zeroed. */
typedef struct konce_ncgpersist {
	konce_ncgp_pid queued[KONCE_NC_GROUPS_MAX]; /* records on the store's queue */
	konce_ncgp_pid flying[KONCE_NC_GROUPS_MAX]; /* records handed to the writer */
	unsigned nqueued, nflying;
	bool urgent;                   /* the store's queue holds more than delivery marks */
	bool round_urgent, round_mark; /* what the round under way queued */
	bool note_failing, flush_failing, stopping;
} konce_ncgpersist;

/* What the host does next with its flush event. */
typedef enum konce_ncgp_flush {
	KONCE_NCGP_NONE,   /* nothing */
	KONCE_NCGP_NOW,    /* make it run on the loop's next turn */
	KONCE_NCGP_ARM,    /* run it in `ms` milliseconds */
	KONCE_NCGP_SUBMIT, /* flush here, now (konce_ncgpersist_submit) */
} konce_ncgp_flush;

typedef struct konce_ncgp_act {
	konce_ncgp_flush flush;
	unsigned ms;  /* KONCE_NCGP_ARM */
	int log;      /* _written: < 0 the writer's first failure (log its message), > 0 written again */
	bool kick;    /* groups heard persisted ids: the host runs the core (they may send now) */
} konce_ncgp_act;

/* What the flush hands the writer. */
typedef enum konce_ncgp_submit {
	KONCE_NCGP_IDLE,  /* nothing: a batch is in flight, or nothing is queued */
	KONCE_NCGP_RETRY, /* the writer's own queue (a failed batch) again, alone */
	KONCE_NCGP_BATCH, /* the store's queue: its records are flying now */
} konce_ncgp_submit;

/* One group note of the round under way, queued in the store (err 0) or not (a negative errno:
 * that record never becomes durable, so nothing after it may be acknowledged; the group waits and
 * its peers retransmit).  True when the host logs err: the first failure only. */
bool konce_ncgpersist_noted(konce_ncgpersist *p, const konce_nc_gnote *g, int err);
/* Ends the round: NOW, ARM or NONE.  writer_busy: a batch is in flight; flush_armed: the flush
 * event waits for a timeout already. */
konce_ncgp_act konce_ncgpersist_round(konce_ncgpersist *p, bool writer_busy, bool flush_armed);
/* The flush: what to hand the writer (writer_pending: records queued on the writer; store_pending:
 * records on the store's queue). */
konce_ncgp_submit konce_ncgpersist_submit(konce_ncgpersist *p, bool writer_busy, size_t writer_pending,
					  bool store_pending);
/* The writer's result for the batch in flight: err 0 reports it to c's groups.  Then: ARM
 * (a retry, or marks alone), SUBMIT (urgent records queued during the write) or NONE. */
konce_ncgp_act konce_ncgpersist_written(konce_ncgpersist *p, konce_nodecore *c, int err, bool store_pending,
					bool flush_armed);
/* The same for a host whose groups are not a node core's (the simulator's consensus harness):
 * report(ctx, gid, pid) once per group of a written batch, with its highest persist id (>= 1);
 * konce_ncgpersist_written() is this with konce_group_persisted() on c's groups. */
typedef void (*konce_ncgp_report_fn)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid);
konce_ncgp_act konce_ncgpersist_written_to(konce_ncgpersist *p, konce_ncgp_report_fn report, void *ctx, int err,
					   bool store_pending, bool flush_armed);
/* Everything queued was handed to the writer and written here and now (node_storew_group_sync):
 * err 0 reports it; on failure it stays flying for the retry. */
void konce_ncgpersist_synced(konce_ncgpersist *p, konce_nodecore *c, int err);
/* The host stops: the last writes are still reported, no flush is asked for. */
void konce_ncgpersist_stop(konce_ncgpersist *p);
/* A report fn for a node core's groups (core: the konce_nodecore): konce_group_persisted(). */
void konce_ncgpersist_report_core(void *core, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid);

/* The driver: the host's whole sequencing of its flush event and writer, so that the daemon
 * (group_io.c: libevent) and the simulator (tests/sim/gwriter.c: its clock) run the same calls in
 * the same order.  The host gives its state and three primitives; the driver decides. */
typedef struct konce_ncgp_host {
	void *ctx;
	bool (*writer_busy)(void *ctx);      /* a batch is in flight */
	size_t (*writer_pending)(void *ctx); /* records on the writer (a failed batch) */
	bool (*store_pending)(void *ctx);    /* records on the store's queue */
	bool (*flush_armed)(void *ctx);      /* the flush event is active or waits for a timeout */
	void (*submit)(void *ctx, bool from_store); /* hand the writer a batch: the store's queue, or its own */
	void (*flush_now)(void *ctx);               /* run the flush event on the loop's next turn */
	void (*flush_arm)(void *ctx, unsigned ms);  /* run the flush event in ms milliseconds */
} konce_ncgp_host;

/* The end of a round of notes (after konce_ncgpersist_noted for each). */
void konce_ncgp_drive_round(konce_ncgpersist *p, const konce_ncgp_host *h);
/* The flush event runs: hand the writer what konce_ncgpersist_submit says. */
void konce_ncgp_drive_flush(konce_ncgpersist *p, const konce_ncgp_host *h);
/* The writer's result for the batch in flight: reports a written batch (report(rctx, ...)), then
 * does what the table says with the flush.  The host logs a.log and runs its drain on a.kick. */
konce_ncgp_act konce_ncgp_drive_written(konce_ncgpersist *p, const konce_ncgp_host *h, konce_ncgp_report_fn report,
					void *rctx, int err);

#endif
