/* gwriter.h - a simulated host's group-record persistence: the plumbing under the daemon's persist
 * table and its driver (node/core/ncgpersist.h konce_ncgp_drive_*, or node/core/ncghost.h's on top
 * of it for a node host), as node/io/group_io.c's, with
 * its one flush event and its store writer thread (node/io/node_storew.c) on the simulated clock.  Shared by the node harness
 * (node_harness.c: a node core's groups) and the consensus harness (gh_writer.c: one konce_group).
 *
 * The host queues each group record on its store and calls gwriter_noted(); at the end of each
 * drain (node_groups_io) gwriter_round().  The flush event is active (runs on the loop's next turn:
 * a timer at now, after the event under way) or armed (its timeout reset, as event_add does); when
 * it runs, konce_ncgpersist_submit() says whether the store's queue goes to the writer (the host's
 * hand_over moves it) or the writer's failed batch is retried alone.  A batch ends
 * delay_min..delay_max microseconds after it was handed over (seeded); with probability `fail` it
 * fails (a disk error or a locked database: it stays on the writer), else the host's `written`
 * makes it durable; then konce_ncgpersist_written() (core set) or _written_to(report) tells the
 * groups, and `kick` drains the host.  A crash is gwriter_drop(): the queues and the table go.
 *
 * The writer also runs the group API host's jobs (node/core/ncghost.h: the replay's stretches read
 * ahead, the control's rows and log reads), as node_storew_call does.  As the daemon's one writer
 * thread, the writer is one FIFO of jobs and record batches: each entry ends delay_min..delay_max
 * after the one before it (or after it was queued), a job on the host's writer connection `store`
 * then its done on the loop, a batch as above; at most GWRITER_CALLS jobs queued (-ENOBUFS beyond,
 * as the daemon's writer queue refuses; the batch, embedded in the daemon's writer, is not
 * counted).  A drain, a call_wait and a sync run everything queued before them, batches included,
 * with their dones, as node_storew_call_wait does.  The replay event (ncghost's replay_arm) is a
 * timer here too, which calls the host's `replay` when due.
 * A node host sets gh: the flush, the round and a batch's end then go through ncghost's driver
 * (konce_ncghost_flush, _round, _written: the rejoins' hold-back on top of this writer's
 * primitives), and its sync is konce_ncghost_sync's (this one does not tell the table then).
 * A clean stop runs what is still queued (gwriter_drain), as node_storew_stop does; a crash drops it.
 *
 * States of the writer: IDLE --submit--> BUSY (the batch queued, until its entry ends) --end-->
 * IDLE (written, or failed: writer_q > 0 and the table retries it).  Invariants: a group hears a
 * persist id only after the host's `written` ran for the batch holding it; entries end in the
 * order they were queued.
 */
#ifndef KONCE_SIM_GWRITER_H
#define KONCE_SIM_GWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "node/core/ncghost.h"
#include "node/core/ncgpersist.h"
#include "tests/sim/sim_int.h"

enum { GWRITER_CALLS = 8 };

typedef struct gwriter {
	konce_ncgpersist persist;
	/* the host's */
	void *ctx;
	void (*hand_over)(void *ctx); /* the store's queue moves behind the writer's (or NULL) */
	void (*written)(void *ctx);   /* the writer's queue is durable (or NULL) */
	void (*kick)(void *ctx);      /* groups heard ids: run the host's drain */
	konce_nodecore *core;         /* the groups to report to, or NULL and report: */
	konce_ncgp_report_fn report;
	uint64_t delay_min, delay_max;
	double fail;
	simrng *rng;
	void *store;                  /* the writer's connection for jobs (or NULL: no jobs) */
	konce_ncghost *gh;            /* the host's ncghost: it drives (with the rejoins' hold-back), or NULL */
	void (*replay)(void *ctx);    /* the armed replay event is due */
	/* state */
	uint64_t store_q, writer_q;   /* records on the store's queue, on the writer's */
	bool busy;                    /* a batch queued on the writer, not yet ended */
	bool flush_active;            /* the flush event: active (runs at flush_now) ... */
	uint64_t flush_now, flush_at; /* ... or armed for flush_at (0: not) */
	uint64_t noted, durable, batches, failures;
	uint64_t now;                 /* the clock of the driver's call under way */
	konce_ncgp_host host;         /* this writer's primitives for the driver */
	struct {
		konce_ncghost_job *job;  /* NULL: the record batch */
		uint64_t at;             /* when it ends */
	} q[GWRITER_CALLS + 1];       /* the writer's FIFO: the jobs and at most one batch, in order */
	unsigned nq, ncalls;          /* entries queued, jobs among them */
	uint64_t replay_at;           /* the replay event armed for then (0: not) */
	uint64_t jobs;                /* jobs run */
} gwriter;

/* One record queued on the host's store (konce_store_group_note gave 0). */
void gwriter_noted(gwriter *w, const konce_nc_gnote *g);
/* The end of the host's drain (node_groups_io's round). */
void gwriter_round(gwriter *w, uint64_t now);
/* When the flush event or the writer's end is due (UINT64_MAX: neither). */
uint64_t gwriter_next(const gwriter *w);
/* Runs the writer's end and the flush event if due at now. */
void gwriter_run(gwriter *w, uint64_t now);
/* node_storew_group_sync(): everything queued ends now, in order (the batch in flight may fail
 * and be retried, as often as the writer fails), then the store's queue is written here and now,
 * and the table told (konce_ncgpersist_synced: core's groups hear every id).  The stop. */
int gwriter_sync(gwriter *w, uint64_t now);
/* node_storew_call for an ncghost job at now: 0 or -ENOBUFS (the queue is full). */
int gwriter_call(gwriter *w, konce_ncghost_job *job, uint64_t now);
/* node_storew_call_wait: what is queued ends first (drain), then job runs here, no done. */
void gwriter_call_wait(gwriter *w, konce_ncghost_job *job, uint64_t now);
/* node_storew_drain: every queued entry ends and its done runs, now, in order. */
void gwriter_drain(gwriter *w, uint64_t now);
/* The replay event armed ms from now. */
void gwriter_replay_arm(gwriter *w, uint64_t now, unsigned ms);

/* The host crashed or its groups' core is new: the queues, the jobs queued (freed, no done) and
 * the table go; returns how many records were lost (queued or in flight). */
uint64_t gwriter_drop(gwriter *w);

#endif
