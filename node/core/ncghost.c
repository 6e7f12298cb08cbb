/* ncghost.c - the group API host's replay read ahead on its store writer (ncghost.h). */
#include <errno.h>
#include <stdlib.h>

#include "node/core/ncghost.h"
#include "konce/konce.h"

/* One read: on the writer's thread, one stretch of each of its slots' tapes. */
struct konce_ncghost_job {
	konce_ncghost *gh;
	unsigned k;
	konce_ncgapi_slot *s[KONCE_NC_GROUPS_MAX];
};

void konce_ncghost_job_run(konce_ncghost_job *j, void *store)
{
	for (unsigned i = 0; i < j->k; i++)
		konce_ncgapi_tape_read(&j->s[i]->tape, j->gh->reads, store, j->s[i]->gid, j->s[i]->upto);
}

void konce_ncghost_job_done(konce_ncghost_job *j)
{
	konce_ncghost *gh = j->gh;
	gh->stretches += j->k;
	konce_ncgapi_ahead_read(&gh->ahead, j->s, j->k);
	gh->io.replay_now(gh->io.ctx);
	free(j);
}

/* Queues the read of the next stretch of every group owed its state: false when there is none
 * (or the writer's queue is full: the replay event runs again a millisecond later). */
static bool read_ahead(konce_ncghost *gh, const konce_ncgapi *a)
{
	konce_ncghost_job *j = calloc(1, sizeof *j);
	if (j) {
		j->gh = gh;
		j->k = konce_ncgapi_ahead_plan(a, &gh->ahead, j->s);
	}
	if (j && j->k && !gh->io.call(gh->io.ctx, j)) {
		gh->jobs++;
		return true;
	}
	if (j && j->k) {
		konce_ncgapi_ahead_drop(&gh->ahead, j->s, j->k);
		gh->io.replay_arm(gh->io.ctx, 1);
	}
	free(j);
	return false;
}

void konce_ncghost_replay_soon(konce_ncghost *gh, const konce_ncgapi *a)
{
	if (!read_ahead(gh, a))
		gh->io.replay_now(gh->io.ctx);
}

int konce_ncghost_replay(konce_ncghost *gh, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto,
			 konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry, void *fnctx, bool wait)
{
	konce_ncgapi_slot *s = konce_ncgapi_ahead_take(&gh->ahead, gid, upto);
	int e = 1;
	if (!s)
		return -ENOMEM;
	if (wait && s->state != KONCE_NCGAPI_AHEAD_READY)
		gh->io.log(gh->io.ctx, KONCE_LOG_DEBUG,
			   "a group's new event waits for the rest of its replay, read on the store writer");
	while (e > 0) {
		if (s->state != KONCE_NCGAPI_AHEAD_READY && !wait)
			return 1;
		if (s->state == KONCE_NCGAPI_AHEAD_READING)
			gh->io.drain(gh->io.ctx); /* its read's done runs here: READY */
		if (s->state == KONCE_NCGAPI_AHEAD_UNREAD) {
			konce_ncghost_job j = {.gh = gh, .k = 1, .s = {s}};
			gh->io.call_wait(gh->io.ctx, &j);
			gh->stretches++;
		}
		e = konce_ncgapi_ahead_play(s, snap, entry, fnctx);
		if (!wait)
			break;
	}
	return e;
}

void konce_ncghost_on_replay(konce_ncghost *gh, const konce_ncgapi *a)
{
	konce_ncgapi_replay(a, NULL);
	if (a->t) {
		konce_ncgapi_ahead_prune(a, &gh->ahead); /* tapes of groups gone meanwhile */
		read_ahead(gh, a);                        /* the next stretches */
	}
}

void konce_ncghost_stop(konce_ncghost *gh)
{
	if (gh->ahead.reading) /* a read still queued: its done runs first */
		gh->io.drain(gh->io.ctx);
	konce_ncgapi_ahead_free(&gh->ahead); /* tapes never played */
}
