/* ncgpersist.c - the group records' persist ids between the store's queue, the writer and the
 * groups, and the flush policy (ncgpersist.h). */
#include <string.h>

#include "node/core/ncgpersist.h"

static void pid_note(konce_ncgp_pid *t, unsigned *n, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid)
{
	for (unsigned i = 0; i < *n; i++)
		if (!memcmp(t[i].gid, gid, KONCE_CW_GROUP_ID)) {
			if (pid > t[i].pid)
				t[i].pid = pid;
			return;
		}
	if (*n < KONCE_NC_GROUPS_MAX) { /* one entry per hosted group: never full */
		memcpy(t[*n].gid, gid, KONCE_CW_GROUP_ID);
		t[(*n)++].pid = pid;
	}
}

/* The records queued on the store go with the next batch. */
static void hand_over(konce_ncgpersist *p)
{
	for (unsigned i = 0; i < p->nqueued; i++)
		pid_note(p->flying, &p->nflying, p->queued[i].gid, p->queued[i].pid);
	p->nqueued = 0;
	p->urgent = false;
}

/* Every record handed to the writer is durable: tell their groups. */
static void report_flying(konce_ncgpersist *p, konce_ncgp_report_fn report, void *ctx)
{
	for (unsigned i = 0; i < p->nflying; i++)
		if (p->flying[i].pid)
			report(ctx, p->flying[i].gid, p->flying[i].pid);
	p->nflying = 0;
}

void konce_ncgpersist_report_core(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid)
{
	konce_group *g = konce_nodecore_group_find(ctx, gid);
	if (g)
		konce_group_persisted(g, pid);
}

bool konce_ncgpersist_noted(konce_ncgpersist *p, const konce_nc_gnote *g, int err)
{
	if (err) {
		bool first = !p->note_failing;
		p->note_failing = true;
		return first;
	}
	pid_note(p->queued, &p->nqueued, g->gid, g->pid);
	if (g->type == KONCE_CNOTE_DELIVERED)
		p->round_mark = true;
	else
		p->round_urgent = p->urgent = true;
	return false;
}

konce_ncgp_act konce_ncgpersist_round(konce_ncgpersist *p, bool writer_busy, bool flush_armed)
{
	konce_ncgp_act a = {KONCE_NCGP_NONE, 0, 0, false};
	bool urgent = p->round_urgent, mark = p->round_mark;
	p->round_urgent = p->round_mark = false;
	if (p->note_failing || p->flush_failing)
		return a;
	if (urgent) {
		if (!writer_busy)
			a.flush = KONCE_NCGP_NOW;
	} else if (mark && !flush_armed) {
		a.flush = KONCE_NCGP_ARM;
		a.ms = KONCE_NCGP_MARK_LAG_MS;
	}
	return a;
}

konce_ncgp_submit konce_ncgpersist_submit(konce_ncgpersist *p, bool writer_busy, size_t writer_pending,
					  bool store_pending)
{
	if (writer_busy)
		return KONCE_NCGP_IDLE; /* the end of the write in flight hands the queue over */
	/* a failed batch is retried alone: the store's queue stays bounded (-ENOBUFS) while the disk
	 * fails, instead of piling onto the writer's */
	if (writer_pending > 0)
		return KONCE_NCGP_RETRY;
	if (!store_pending)
		return KONCE_NCGP_IDLE;
	hand_over(p);
	return KONCE_NCGP_BATCH;
}

konce_ncgp_act konce_ncgpersist_written(konce_ncgpersist *p, konce_nodecore *c, int err, bool store_pending,
					bool flush_armed)
{
	return konce_ncgpersist_written_to(p, konce_ncgpersist_report_core, c, err, store_pending, flush_armed);
}

konce_ncgp_act konce_ncgpersist_written_to(konce_ncgpersist *p, konce_ncgp_report_fn report, void *ctx, int err,
					   bool store_pending, bool flush_armed)
{
	konce_ncgp_act a = {KONCE_NCGP_NONE, 0, 0, false};
	if (p->stopping) { /* the stop's last write goes on with what is left */
		if (!err)
			report_flying(p, report, ctx);
		return a;
	}
	if (err) {
		a.log = p->flush_failing ? 0 : -1;
		p->flush_failing = true;
		a.flush = KONCE_NCGP_ARM;
		a.ms = KONCE_NCGP_RETRY_MS;
		return a;
	}
	a.log = p->flush_failing ? 1 : 0;
	p->flush_failing = false;
	report_flying(p, report, ctx);
	a.kick = true;
	if (p->urgent) {
		a.flush = KONCE_NCGP_SUBMIT; /* what was queued during the write: the next batch, at once */
	} else if (store_pending && !flush_armed) {
		a.flush = KONCE_NCGP_ARM; /* marks alone, as a round of them does */
		a.ms = KONCE_NCGP_MARK_LAG_MS;
	}
	return a;
}

void konce_ncgpersist_synced(konce_ncgpersist *p, konce_nodecore *c, int err)
{
	hand_over(p);
	if (!err)
		report_flying(p, konce_ncgpersist_report_core, c);
}

void konce_ncgpersist_stop(konce_ncgpersist *p) { p->stopping = true; }

/* ---- the driver ---- */

void konce_ncgp_drive_flush(konce_ncgpersist *p, const konce_ncgp_host *h)
{
	bool busy = h->writer_busy(h->ctx);
	switch (konce_ncgpersist_submit(p, busy, busy ? 0 : h->writer_pending(h->ctx), h->store_pending(h->ctx))) {
	case KONCE_NCGP_RETRY:
		h->submit(h->ctx, false);
		break;
	case KONCE_NCGP_BATCH:
		h->submit(h->ctx, true);
		break;
	case KONCE_NCGP_IDLE:
		break;
	}
}

static void drive_act(konce_ncgpersist *p, const konce_ncgp_host *h, konce_ncgp_act a)
{
	switch (a.flush) {
	case KONCE_NCGP_NOW:
		h->flush_now(h->ctx);
		break;
	case KONCE_NCGP_ARM:
		h->flush_arm(h->ctx, a.ms);
		break;
	case KONCE_NCGP_SUBMIT:
		konce_ncgp_drive_flush(p, h);
		break;
	case KONCE_NCGP_NONE:
		break;
	}
}

void konce_ncgp_drive_round(konce_ncgpersist *p, const konce_ncgp_host *h)
{
	drive_act(p, h, konce_ncgpersist_round(p, h->writer_busy(h->ctx), h->flush_armed(h->ctx)));
}

konce_ncgp_act konce_ncgp_drive_written(konce_ncgpersist *p, const konce_ncgp_host *h, konce_ncgp_report_fn report,
					void *rctx, int err)
{
	konce_ncgp_act a =
	    konce_ncgpersist_written_to(p, report, rctx, err, h->store_pending(h->ctx), h->flush_armed(h->ctx));
	drive_act(p, h, a);
	return a;
}
