/* ncghost.h - what a host of the group API (ncgapi.h) does around its store writer to hand a
 * restored group's owed state back without the loop waiting for the store: which groups to read
 * ahead and when, one bounded stretch per read (konce_ncgapi_tape), the reads' bookkeeping
 * (konce_ncgapi_ahead), their play on the loop and the wait of a group's event that overtook its
 * reads.  Sans-I/O: the host does the I/O through a konce_ncghost_io, the daemon's with its store
 * writer thread and libevent (node/io/group_io.c), the simulator's on the simulated clock
 * (tests/sim/nn_groups.c, gwriter.c); both run this.
 *
 * A read is a job: the host queues it on its writer (call), which runs konce_ncghost_job_run on
 * its thread with its own store connection and then konce_ncghost_job_done on the loop; the done
 * marks the job's tapes READY and asks for the replay event (replay_now), whose turn calls
 * konce_ncghost_on_replay: konce_ncgapi_replay plays what is read, and the next stretches are
 * queued.  When the writer's queue is full (call fails) the slots go back to UNREAD and the replay
 * event is armed a millisecond later (replay_arm).  A group's event that overtakes its reads
 * (konce_ncghost_replay with wait) drains the writer (its read's done runs) and reads the rest
 * with call_wait, the loop waiting: the state comes before the event.
 *
 * Invariants: the loop never touches a tape while its job is queued (READING); gh->ahead.reading
 * counts the jobs queued and not done; konce_ncghost_stop drains them before it frees the tapes.
 */
#ifndef KONCE_NCGHOST_H
#define KONCE_NCGHOST_H

#include <stdbool.h>

#include "node/core/ncgapi.h"

typedef struct konce_ncghost_job konce_ncghost_job;

typedef struct konce_ncghost_io {
	void *ctx;
	/* Queues job on the store writer: konce_ncghost_job_run(job, its store) on its thread, then
	 * konce_ncghost_job_done(job) on the loop.  0, or a negative errno and nothing queued. */
	int (*call)(void *ctx, konce_ncghost_job *job);
	/* Runs konce_ncghost_job_run(job, the writer's store) behind what is queued, the loop
	 * waiting; no done. */
	void (*call_wait)(void *ctx, konce_ncghost_job *job);
	/* Waits until every queued job is done (their dones run). */
	void (*drain)(void *ctx);
	void (*replay_now)(void *ctx);             /* konce_ncghost_on_replay from the loop's next turn */
	void (*replay_arm)(void *ctx, unsigned ms); /* ... or ms from now */
	void (*log)(void *ctx, int level, const char *line);
} konce_ncghost_io;

typedef struct konce_ncghost {
	konce_ncghost_io io;
	const konce_ncgapi_host *reads; /* the store's reads (delivered, entries, read) on the writer's store */
	konce_ncgapi_ahead ahead;
	uint64_t jobs, stretches;       /* reads queued, tapes read (counts, for the tests) */
} konce_ncghost;

/* The writer's side of a job, on its thread, with its store (the reads' ctx). */
void konce_ncghost_job_run(konce_ncghost_job *job, void *store);
/* The loop's side once it ran (frees the job). */
void konce_ncghost_job_done(konce_ncghost_job *job);

/* ncgapi's host replay_soon: the application listens; the replays are read ahead, and played by
 * the replay event (at once when there is nothing to read: a tape may be ready). */
void konce_ncghost_replay_soon(konce_ncghost *gh, const konce_ncgapi *a);
/* ncgapi's host replay (konce_ncgapi_host.replay's contract). */
int konce_ncghost_replay(konce_ncghost *gh, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto,
			 konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry, void *fnctx, bool wait);
/* The replay event's turn: plays what is read, prunes the tapes of groups gone, reads on. */
void konce_ncghost_on_replay(konce_ncghost *gh, const konce_ncgapi *a);
/* The groups stop: a job still queued is drained, then every tape is freed. */
void konce_ncghost_stop(konce_ncghost *gh);

#endif
