/* gwriter.c - group_io.c's persistence sequencing on the simulated clock (gwriter.h). */
#include <errno.h>
#include <string.h>

#include "tests/sim/gwriter.h"

/* event_pending(ev_flush, EV_TIMEOUT): active or armed. */
static bool flush_armed(const gwriter *w) { return w->flush_active || w->flush_at; }

/* group_writer_submit(): from the store's queue (from_store) or the writer's own alone. */
static void writer_submit(gwriter *w, bool from_store, uint64_t now)
{
	if (from_store) {
		if (w->hand_over)
			w->hand_over(w->ctx);
		w->writer_q += w->store_q;
		w->store_q = 0;
	}
	uint64_t span = w->delay_max > w->delay_min ? w->delay_max - w->delay_min : 0;
	w->busy = true;
	w->write_at = now + w->delay_min + (span ? simrng_below(w->rng, span + 1) : 0);
}

/* group_io.c submit(); group_writer_pending() is 0 while a batch is in flight. */
static void submit(gwriter *w, uint64_t now)
{
	switch (konce_ncgpersist_submit(&w->persist, w->busy, w->busy ? 0 : w->writer_q, w->store_q > 0)) {
	case KONCE_NCGP_RETRY:
		writer_submit(w, false, now);
		break;
	case KONCE_NCGP_BATCH:
		writer_submit(w, true, now);
		break;
	case KONCE_NCGP_IDLE:
		break;
	}
}

/* group_io.c flush_do(): event_active() or event_add() with the timeout, or submit here. */
static void flush_do(gwriter *w, konce_ncgp_act a, uint64_t now)
{
	switch (a.flush) {
	case KONCE_NCGP_NOW:
		if (!w->flush_active) {
			w->flush_active = true;
			w->flush_now = now;
		}
		break;
	case KONCE_NCGP_ARM:
		w->flush_at = now + (uint64_t)a.ms * 1000;
		break;
	case KONCE_NCGP_SUBMIT:
		submit(w, now);
		break;
	case KONCE_NCGP_NONE:
		break;
	}
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
	konce_ncgp_act a = w->core ? konce_ncgpersist_written(&w->persist, w->core, e, w->store_q > 0, flush_armed(w))
				   : konce_ncgpersist_written_to(&w->persist, w->report, w->ctx, e, w->store_q > 0,
								 flush_armed(w));
	flush_do(w, a, now);
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
	flush_do(w, konce_ncgpersist_round(&w->persist, w->busy, flush_armed(w)), now);
}

uint64_t gwriter_next(const gwriter *w)
{
	uint64_t at = w->flush_active ? w->flush_now : w->flush_at ? w->flush_at : UINT64_MAX;
	return w->busy && w->write_at < at ? w->write_at : at;
}

void gwriter_run(gwriter *w, uint64_t now)
{
	if (w->busy && w->write_at <= now)
		on_written(w, now);
	if ((w->flush_active && w->flush_now <= now) || (w->flush_at && w->flush_at <= now)) {
		w->flush_active = false; /* group_io.c on_gflush: a non-persistent event, its timeout goes too */
		w->flush_at = 0;
		submit(w, now);
	}
}

uint64_t gwriter_drop(gwriter *w)
{
	uint64_t lost = w->store_q + w->writer_q;
	w->store_q = w->writer_q = 0;
	w->busy = w->flush_active = false;
	w->flush_at = 0;
	memset(&w->persist, 0, sizeof(w->persist));
	return lost;
}
