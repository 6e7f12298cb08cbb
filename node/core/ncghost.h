/* ncghost.h - what a host of the group API (ncgapi.h) does around its store writer and its two
 * events, so that the daemon (node/io/group_io.c: a store writer thread and libevent) and the
 * simulator (tests/sim/nn_groups.c, gwriter.c: the simulated clock) run one sequencing:
 *   - the replay of a restored group's owed state, read ahead on the writer in bounded stretches
 *     (konce_ncgapi_tape, konce_ncgapi_ahead), played on the loop, and the wait of a group's event
 *     that overtook its reads;
 *   - the flush of the group records (the persist table and its driver, ncgpersist.h), with the
 *     hold-back of the control's rejoins;
 *   - the control's create and join, their rows written on the writer (two-half ncgapi calls), and
 *     its rejoin, which runs on the writer right behind every record queued before it; its log
 *     read, on the writer too.
 * Sans-I/O: the host does the I/O through a konce_ncghost_io and its writer's persist primitives
 * (konce_ncgp_host, without the hold-back: this adds it).
 *
 * Jobs.  Everything run on the writer is a job: the host queues it (call), the writer runs
 * konce_ncghost_job_run(job, its store) on its thread with its own connection, then
 * konce_ncghost_job_done(job, result) on the loop; call_wait runs one behind the queue, the loop
 * waiting (no done).
 *
 * Replay.  A read job holds the next stretch of every group owed its state; its done marks the
 * tapes READY and asks for the replay event (replay_now), whose turn (konce_ncghost_on_replay)
 * plays what is read (konce_ncgapi_replay) and queues the next stretches.  When the writer's queue
 * is full the slots go back to UNREAD and the replay event is armed a millisecond later.  A group's
 * event that overtakes its reads (konce_ncghost_replay with wait) drains the writer and reads the
 * rest with call_wait: the state comes before the event.
 *
 * Rejoin hold-back.  States: no rejoin; WAITING (rejoins queued: the driver hands the writer
 * nothing, so no record queued after the first of them is written before it); FLYING (one on the
 * writer).  rejoin_go, on the flush event, a batch's end and a rejoin's end: when the writer holds
 * no batch it hands the store's queue over, and once that is empty queues the first rejoin; its
 * job checks on the writer that no record is left queued, removes the old row and adds the new.
 * At its end the next goes, or the flush event runs for what was held back.
 *
 * Stop.  konce_ncghost_stopping cancels the rejoins waiting; the stop's sync (a call behind every
 * job queued) then runs the rows still queued: their dones, the table already unwired from the
 * core, end -ECANCELED and queue the row's removal (a group hosted then would keep no record).
 *
 * Invariants: the loop never touches a tape while its job is queued (READING); ahead.reading
 * counts the read jobs not done; a row job's done finds its host through io->self (NULL once the
 * groups stopped: the call ends as ncgapi's _end says with no groups); konce_ncghost_stop drains
 * the read jobs before it frees the tapes.
 */
#ifndef KONCE_NCGHOST_H
#define KONCE_NCGHOST_H

#include <stdbool.h>

#include "node/core/ncgapi.h"
#include "node/core/ncgpersist.h"

typedef struct konce_ncghost_job konce_ncghost_job;
typedef struct konce_ncghost konce_ncghost;

typedef struct konce_ncghost_io {
	/* Queues job on the store writer (see Jobs): 0, or a negative errno and nothing queued. */
	int (*call)(void *ctx, konce_ncghost_job *job);
	/* Runs konce_ncghost_job_run(job, the writer's store) behind what is queued, the loop waiting. */
	void (*call_wait)(void *ctx, konce_ncghost_job *job);
	/* Waits until every queued job is done (their dones run). */
	void (*drain)(void *ctx);
	void (*replay_now)(void *ctx);              /* konce_ncghost_on_replay from the loop's next turn */
	void (*replay_arm)(void *ctx, unsigned ms); /* ... or ms from now */
	void (*log)(void *ctx, int level, const char *line);
	konce_ncghost *(*self)(void *ctx);       /* the host's ncghost, NULL once its groups stopped */
	void (*api)(void *ctx, konce_ncgapi *a); /* one call's context, the clock read now */
	/* Writes the store's queue behind the writer's here and now (node_storew_group_sync). */
	int (*sync)(void *ctx, char *err, size_t errlen);
	size_t (*store_pending)(void *store); /* records on a store connection's queue (any thread) */
} konce_ncghost_io;

struct konce_ncghost {
	const konce_ncghost_io *io;
	void *ctx;
	const konce_ncgapi_host *prims; /* the store's primitives, ctx: a store connection */
	konce_ncgp_host w;              /* the host's writer and flush event */
	konce_ncgpersist *persist;      /* the host's persist table */
	konce_ncgapi_ahead ahead;
	konce_ncghost_job *rejoins; /* WAITING, in order */
	bool rejoin_flying;         /* FLYING */
	uint64_t jobs, stretches;   /* read jobs queued, stretches read (counts, for the tests) */
};

/* The writer's side of a job, on its thread, with its store: 0 or a negative errno (msg: why). */
int konce_ncghost_job_run(konce_ncghost_job *job, void *store, char *msg, size_t msglen);
/* The loop's side once it ran (frees the job). */
void konce_ncghost_job_done(konce_ncghost_job *job, int e, const char *msg);

/* A queued job that will never run (the host died with it: a simulated crash): freed, no done. */
void konce_ncghost_job_drop(konce_ncghost_job *job);

/* ncgapi's host replay_soon and replay (konce_ncgapi_host's contracts). */
void konce_ncghost_replay_soon(konce_ncghost *gh, const konce_ncgapi *a);
int konce_ncghost_replay(konce_ncghost *gh, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto,
			 konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry, void *fnctx, bool wait);
/* The replay event's turn: plays what is read, prunes the tapes of groups gone, reads on. */
void konce_ncghost_on_replay(konce_ncghost *gh, const konce_ncgapi *a);

/* The end of a round of notes (each told to gh->persist), the flush event's turn, a batch's end
 * (the act: the host logs a.log, kicks on a.kick), and the blocking write of everything queued
 * (ncgapi's sync: the rejoin on the writer ends first). */
void konce_ncghost_round(konce_ncghost *gh);
void konce_ncghost_flush(konce_ncghost *gh);
konce_ncgp_act konce_ncghost_written(konce_ncghost *gh, konce_nodecore *c, int e);
int konce_ncghost_sync(konce_ncghost *gh, konce_nodecore *c, char *err, size_t errlen);

/* The control's create and join (ctlproto.h): the row written on the writer, then done(dctx, e)
 * on the loop (-ECANCELED and the row removed when the groups stop meanwhile: see Stop); a rejoin
 * waits its turn (see Rejoin hold-back).  0 or a negative errno (done is not called).  gh NULL:
 * the node hosts no groups, and the call fails as ncgapi's would. */
int konce_ncghost_create_call(konce_ncghost *gh, const konce_ncgapi *a, const char *name,
			      void (*done)(void *dctx, int e), void *dctx);
int konce_ncghost_join_call(konce_ncghost *gh, const konce_ncgapi *a, const char *text, const char *name,
			    unsigned timeout_s, void (*done)(void *dctx, int e), void *dctx);

/* The control's log read (konce_node_group_log_async): name resolved here, the entries from `from`
 * read on the writer (konce_ncgapi_log_read, fn called on its thread), then done(dctx, count or a
 * negative errno) on the loop.  0 or a negative errno (done is not called); gh NULL as above. */
int konce_ncghost_log_call(konce_ncghost *gh, const konce_ncgapi *a, const char *name, uint64_t from,
			   int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				     const uint8_t *data, size_t len),
			   void *fnctx, void (*done)(void *dctx, int n), void *dctx);

/* The groups stop: the rejoins waiting end (-ECANCELED), the table stops (konce_ncgpersist_stop);
 * then, after konce_ncgapi_stop, konce_ncghost_stop drains the reads and frees the tapes. */
void konce_ncghost_stopping(konce_ncghost *gh);
void konce_ncghost_stop(konce_ncghost *gh);

#endif
