/* gwriter.c - group_io.c's persistence sequencing on the simulated clock (gwriter.h). */
#include <errno.h>
#include <string.h>

#include "tests/sim/gwriter.h"

static uint64_t delay(gwriter *w);

/* An entry at the FIFO's tail: it ends delay() after the one before it, or after now. */
static void push(gwriter *w, konce_ncghost_job *job, uint64_t now)
{
	uint64_t from = w->nq && w->q[w->nq - 1].at > now ? w->q[w->nq - 1].at : now;
	w->q[w->nq].job = job;
	w->q[w->nq++].at = from + delay(w);
}

/* The host's state and primitives for the core's driver (ncgpersist.h konce_ncgp_host), at w->now. */
static bool h_busy(void *ctx) { return ((gwriter *)ctx)->busy; }
static size_t h_wpending(void *ctx) { return ((gwriter *)ctx)->writer_q; }
static bool h_spending(void *ctx) { return ((gwriter *)ctx)->store_q > 0; }
/* event_pending(ev_flush, EV_TIMEOUT): active or armed. */
static bool h_armed(void *ctx) { return ((gwriter *)ctx)->flush_active || ((gwriter *)ctx)->flush_at; }

/* node_storew_group_submit(): from the store's queue (from_store) or the writer's own alone. */
static void h_submit(void *ctx, bool from_store)
{
	gwriter *w = ctx;
	if (from_store) {
		if (w->hand_over)
			w->hand_over(w->ctx);
		w->writer_q += w->store_q;
		w->store_q = 0;
	}
	w->busy = true; /* one batch at a time (the driver asks only when not busy): q has room */
	push(w, NULL, w->now);
}

/* event_active(): the flush runs after the event under way. */
static void h_now(void *ctx)
{
	gwriter *w = ctx;
	if (!w->flush_active) {
		w->flush_active = true;
		w->flush_now = w->now;
	}
}

/* event_add() with a timeout: resets it. */
static void h_arm(void *ctx, unsigned ms)
{
	gwriter *w = ctx;
	w->flush_at = w->now + (uint64_t)ms * 1000;
}

static const konce_ncgp_host *host(gwriter *w, uint64_t now)
{
	w->now = now;
	w->host = (konce_ncgp_host){w, h_busy, h_wpending, h_spending, h_armed, h_submit, h_now, h_arm};
	if (w->gh)
		w->gh->w = w->host;
	return &w->host;
}

/* The writer's end (group_io.c on_written). */
static void on_written(gwriter *w, uint64_t now)
{
	int e = 0;
	w->busy = false;
	if (w->fail > 0 && simrng_unit(w->rng) < w->fail) {
		e = -EIO;
		w->failures++;
	} else {
		if (w->written)
			w->written(w->ctx);
		w->durable += w->writer_q;
		w->writer_q = 0;
		w->batches++;
	}
	konce_ncgp_act a = w->gh   ? (host(w, now), konce_ncghost_written(w->gh, w->core, e))
			   : w->core ? konce_ncgp_drive_written(&w->persist, host(w, now), konce_ncgpersist_report_core,
							      w->core, e)
				   : konce_ncgp_drive_written(&w->persist, host(w, now), w->report, w->ctx, e);
	if (a.kick)
		w->kick(w->ctx);
}

void gwriter_noted(gwriter *w, const konce_nc_gnote *g)
{
	w->noted++;
	w->store_q++;
	konce_ncgpersist_noted(&w->persist, g, 0);
}

void gwriter_round(gwriter *w, uint64_t now)
{
	const konce_ncgp_host *h = host(w, now);
	if (w->gh)
		konce_ncghost_round(w->gh);
	else
		konce_ncgp_drive_round(&w->persist, h);
}

uint64_t gwriter_next(const gwriter *w)
{
	uint64_t at = w->flush_active ? w->flush_now : w->flush_at ? w->flush_at : UINT64_MAX;
	if (w->nq && w->q[0].at < at)
		at = w->q[0].at;
	return w->replay_at && w->replay_at < at ? w->replay_at : at;
}

static uint64_t delay(gwriter *w)
{
	uint64_t span = w->delay_max > w->delay_min ? w->delay_max - w->delay_min : 0;
	return w->delay_min + (span ? simrng_below(w->rng, span + 1) : 0);
}

int gwriter_call(gwriter *w, konce_ncghost_job *job, uint64_t now)
{
	if (!w->store || w->ncalls == GWRITER_CALLS)
		return -ENOBUFS;
	w->ncalls++;
	push(w, job, now);
	return 0;
}

/* The FIFO's first entry ends: a job runs on the writer's connection, then its done on the loop;
 * a batch ends as group_io.c's on_written. */
static void end_one(gwriter *w, uint64_t now)
{
	konce_ncghost_job *job = w->q[0].job;
	memmove(&w->q[0], &w->q[1], --w->nq * sizeof w->q[0]);
	if (!job) {
		on_written(w, now);
		return;
	}
	w->ncalls--;
	w->jobs++;
	char msg[512] = "";
	int e = konce_ncghost_job_run(job, w->store, msg, sizeof msg);
	konce_ncghost_job_done(job, e, msg);
}

void gwriter_drain(gwriter *w, uint64_t now)
{
	while (w->nq)
		end_one(w, now);
}

void gwriter_call_wait(gwriter *w, konce_ncghost_job *job, uint64_t now)
{
	gwriter_drain(w, now);
	w->jobs++;
	char msg[512];
	konce_ncghost_job_run(job, w->store, msg, sizeof msg);
}

void gwriter_replay_arm(gwriter *w, uint64_t now, unsigned ms) { w->replay_at = now + (uint64_t)ms * 1000; }

void gwriter_run(gwriter *w, uint64_t now)
{
	while (w->nq && w->q[0].at <= now)
		end_one(w, now);
	if (w->replay_at && w->replay_at <= now) {
		w->replay_at = 0;
		w->replay(w->ctx);
	}
	if ((w->flush_active && w->flush_now <= now) || (w->flush_at && w->flush_at <= now)) {
		w->flush_active = false; /* group_io.c on_gflush: a non-persistent event, its timeout goes too */
		w->flush_at = 0;
		const konce_ncgp_host *h = host(w, now);
		if (w->gh)
			konce_ncghost_flush(w->gh);
		else
			konce_ncgp_drive_flush(&w->persist, h);
	}
}

int gwriter_sync(gwriter *w, uint64_t now)
{
	/* a call behind everything queued: it ends first, the batch in flight too (a failed one stays on
	 * the writer, written below; a retry it asks for queues and ends here as well) */
	gwriter_drain(w, now);
	if (w->hand_over)
		w->hand_over(w->ctx);
	w->writer_q += w->store_q;
	w->store_q = 0;
	if (w->written)
		w->written(w->ctx);
	w->durable += w->writer_q;
	w->writer_q = 0;
	w->batches++;
	if (w->core && !w->gh) /* else konce_ncghost_sync tells it */
		konce_ncgpersist_synced(&w->persist, w->core, 0);
	return 0;
}

uint64_t gwriter_drop(gwriter *w)
{
	uint64_t lost = w->store_q + w->writer_q;
	while (w->nq) /* the jobs die with the process: no done */
		if (w->q[--w->nq].job)
			konce_ncghost_job_drop(w->q[w->nq].job);
	w->ncalls = 0;
	w->store_q = w->writer_q = 0;
	w->busy = w->flush_active = false;
	w->flush_at = w->replay_at = 0;
	memset(&w->persist, 0, sizeof(w->persist));
	return lost;
}
