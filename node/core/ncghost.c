/* ncghost.c - the group API host's sequencing around its store writer (ncghost.h). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "node/core/ncghost.h"
#include "konce/konce.h"

enum { JOB_READ, JOB_ROW, JOB_UNDO, JOB_LOG };

struct konce_ncghost_job {
	int kind;
	/* JOB_READ: one stretch of each slot's tape */
	konce_ncghost *gh;
	unsigned k;
	konce_ncgapi_slot *s[KONCE_NC_GROUPS_MAX];
	/* JOB_ROW (create, join, rejoin: forget), JOB_UNDO (the row removed again) */
	const konce_ncghost_io *io;
	void *ctx;
	const konce_ncgapi_host *prims;
	konce_ncghost_job *next; /* a rejoin's, while it waits */
	bool forget;             /* a rejoin: the old group's row goes first, its records before it */
	uint8_t gid[KONCE_CW_GROUP_ID];     /* create */
	char name[KONCE_GROUP_NAME_MAX + 1];
	konce_ctoken *t;                    /* join: sodium memory (it holds the secret) */
	uint64_t until;                     /* join: when it gives up, unix seconds */
	unsigned timeout_s;
	void (*done)(void *dctx, int e); /* JOB_LOG: the count of entries read, or an errno */
	void *dctx;
	/* JOB_LOG: the control's log read (gid: the group) */
	uint64_t from;
	int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		  size_t len);
	void *fnctx;
};

static void job_free(konce_ncghost_job *j)
{
	if (j->t)
		sodium_free(j->t);
	free(j);
}

/* ---- the writer's side ---------------------------------------------------------------------- */

static int add_row(konce_ncghost_job *x, void *st, char *msg, size_t msglen)
{
	return x->t ? x->prims->add_join(st, x->t, x->name, x->until, msg, msglen)
		    : x->prims->add(st, x->gid, x->name, msg, msglen);
}

/* A rejoin's rows: every record queued before it is written (rejoin_go), then the old row goes
 * and the new one comes. */
static int rejoin_rows(konce_ncghost_job *x, void *st, char *msg, size_t msglen)
{
	int e;
	if (x->io->store_pending(st)) {
		snprintf(msg, msglen, "the group records before the rejoin are not written yet");
		return -EIO;
	}
	if ((e = x->prims->remove(st, x->t->group, msg, msglen)) && e != -ENOENT)
		return e;
	return add_row(x, st, msg, msglen);
}

int konce_ncghost_job_run(konce_ncghost_job *j, void *st, char *msg, size_t msglen)
{
	switch (j->kind) {
	case JOB_READ:
		for (unsigned i = 0; i < j->k; i++)
			konce_ncgapi_tape_read(&j->s[i]->tape, j->gh->prims, st, j->s[i]->gid, j->s[i]->upto);
		return 0;
	case JOB_ROW:
		return j->forget ? rejoin_rows(j, st, msg, msglen) : add_row(j, st, msg, msglen);
	case JOB_LOG:
		return konce_ncgapi_log_read(j->prims, st, j->gid, j->from, j->fn, j->fnctx);
	default:
		return j->prims->remove(st, j->t ? j->t->group : j->gid, msg, msglen);
	}
}

/* ---- the replay read ahead ------------------------------------------------------------------- */

static void read_done(konce_ncghost_job *j)
{
	konce_ncghost *gh = j->gh;
	gh->stretches += j->k;
	konce_ncgapi_ahead_read(&gh->ahead, j->s, j->k);
	gh->io->replay_now(gh->ctx);
	free(j);
}

/* Queues the read of the next stretch of every group owed its state: false when there is none
 * (or the writer's queue is full: the replay event runs again a millisecond later). */
static bool read_ahead(konce_ncghost *gh, const konce_ncgapi *a)
{
	konce_ncghost_job *j = calloc(1, sizeof *j);
	if (!j)
		return false;
	*j = (konce_ncghost_job){.kind = JOB_READ, .gh = gh};
	j->k = konce_ncgapi_ahead_plan(a, &gh->ahead, j->s);
	int e = j->k ? gh->io->call(gh->ctx, j) : -ENODATA; /* 0: the writer owns j */
	if (e && j->k) {
		konce_ncgapi_ahead_drop(&gh->ahead, j->s, j->k);
		gh->io->replay_arm(gh->ctx, 1);
	}
	if (e)
		free(j);
	else
		gh->jobs++;
	return !e;
}

void konce_ncghost_replay_soon(konce_ncghost *gh, const konce_ncgapi *a)
{
	if (!read_ahead(gh, a))
		gh->io->replay_now(gh->ctx);
}

int konce_ncghost_replay(konce_ncghost *gh, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto,
			 konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry, void *fnctx, bool wait)
{
	konce_ncgapi_slot *s = konce_ncgapi_ahead_take(&gh->ahead, gid, upto);
	int e = 1;
	if (!s)
		return -ENOMEM;
	if (wait && s->state != KONCE_NCGAPI_AHEAD_READY)
		gh->io->log(gh->ctx, KONCE_LOG_DEBUG,
			    "a group's new event waits for the rest of its replay, read on the store writer");
	while (e > 0) {
		if (s->state != KONCE_NCGAPI_AHEAD_READY && !wait)
			return 1;
		if (s->state == KONCE_NCGAPI_AHEAD_READING)
			gh->io->drain(gh->ctx); /* its read's done runs here: READY */
		if (s->state == KONCE_NCGAPI_AHEAD_UNREAD) {
			konce_ncghost_job j = {.kind = JOB_READ, .gh = gh, .k = 1, .s = {s}};
			gh->io->call_wait(gh->ctx, &j);
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

/* ---- the flush, with the rejoins' hold-back -------------------------------------------------- */

static bool c_wbusy(void *c) { return ((konce_ncghost *)c)->w.writer_busy(((konce_ncghost *)c)->w.ctx); }
static bool c_busy(void *c)
{
	konce_ncghost *gh = c;
	return c_wbusy(c) || gh->rejoins || gh->rejoin_flying;
}
static size_t c_wpending(void *c) { return ((konce_ncghost *)c)->w.writer_pending(((konce_ncghost *)c)->w.ctx); }
static bool c_spending(void *c) { return ((konce_ncghost *)c)->w.store_pending(((konce_ncghost *)c)->w.ctx); }
static bool c_armed(void *c) { return ((konce_ncghost *)c)->w.flush_armed(((konce_ncghost *)c)->w.ctx); }
static void c_submit(void *c, bool from_store) { ((konce_ncghost *)c)->w.submit(((konce_ncghost *)c)->w.ctx, from_store); }
static void c_now(void *c) { ((konce_ncghost *)c)->w.flush_now(((konce_ncghost *)c)->w.ctx); }
static void c_arm(void *c, unsigned ms) { ((konce_ncghost *)c)->w.flush_arm(((konce_ncghost *)c)->w.ctx, ms); }

/* The driver's host: the writer's, busy while a rejoin waits or runs (it hands over what is queued). */
static konce_ncgp_host held(konce_ncghost *gh)
{
	return (konce_ncgp_host){gh, c_busy, c_wpending, c_spending, c_armed, c_submit, c_now, c_arm};
}

static void row_done(konce_ncghost_job *x, int e, const char *msg);

/* The next rejoin goes to the writer once every record queued before it is handed over: the
 * driver holds back while rejoins wait, so this hands over what is queued, and the rejoin runs
 * behind it; a failed batch goes again first (this runs again on its result and on the flush). */
static int rejoin_go_from(konce_ncghost *gh, konce_ncghost_job *mine)
{
	konce_ncghost_job *x = gh->rejoins;
	if (!x || gh->rejoin_flying || c_wbusy(gh))
		return 0;
	if (c_spending(gh) || c_wpending(gh)) {
		konce_ncgp_host h = held(gh);
		h.writer_busy = c_wbusy;
		konce_ncgp_drive_flush(gh->persist, &h);
		if (c_spending(gh))
			return 0;
	}
	gh->rejoins = x->next;
	if (gh->io->call(gh->ctx, x)) {
		x->forget = false; /* nothing ran: nothing to forget */
		c_now(gh);         /* the flush event: the driver, or the next rejoin */
		if (x == mine)     /* inside the join call: it fails, and its done is never called */
			return -ENOBUFS;
		row_done(x, -ENOBUFS, "the store writer's queue is full");
		return 0;
	}
	gh->rejoin_flying = true;
	return 0;
}

static void rejoin_go(konce_ncghost *gh) { (void)rejoin_go_from(gh, NULL); }

void konce_ncghost_round(konce_ncghost *gh)
{
	konce_ncgp_host h = held(gh);
	konce_ncgp_drive_round(gh->persist, &h);
}

void konce_ncghost_flush(konce_ncghost *gh)
{
	konce_ncgp_host h = held(gh);
	konce_ncgp_drive_flush(gh->persist, &h);
	rejoin_go(gh);
}

konce_ncgp_act konce_ncghost_written(konce_ncghost *gh, konce_nodecore *c, int e)
{
	konce_ncgp_host h = held(gh);
	konce_ncgp_act a = konce_ncgp_drive_written(gh->persist, &h, konce_ncgpersist_report_core, c, e);
	rejoin_go(gh);
	return a;
}

int konce_ncghost_sync(konce_ncghost *gh, konce_nodecore *c, char *err, size_t errlen)
{
	while (gh->rejoin_flying) /* the writer's group queue is its until it is done */
		gh->io->drain(gh->ctx);
	int e = gh->io->sync(gh->ctx, err, errlen);
	konce_ncgpersist_synced(gh->persist, c, e);
	return e;
}

/* ---- the control's create and join ----------------------------------------------------------- */

/* The row is written (or not): the core hosts the group, or the row goes again (undo). */
static void row_done(konce_ncghost_job *x, int e, const char *msg)
{
	konce_ncghost *gh = x->io->self(x->ctx);
	konce_ncgapi a;
	bool undo, rejoin = x->forget;
	x->io->api(x->ctx, &a);
	if (e && rejoin) {
		char line[KONCE_GROUP_NAME_MAX + 512];
		snprintf(line, sizeof line, "group %s: %s", x->name, msg ? msg : "");
		x->io->log(x->ctx, KONCE_LOG_ERROR, line);
	}
	if (rejoin && gh)
		gh->rejoin_flying = false;
	if (gh && gh->persist->stopping) {
		/* the groups stop (their stop's sync runs the writer's queue): the table is unwired from
		 * the core, so a group hosted now would write no record and not come back at the next
		 * start; it is not hosted, and the row written goes again */
		undo = !e;
		e = -ECANCELED;
	} else
		e = x->t ? konce_ncgapi_join_end(&a, x->t, x->name, x->timeout_s, x->forget, e, &undo)
			 : konce_ncgapi_create_end(&a, x->gid, x->name, e, &undo);
	x->done(x->dctx, e);
	x->kind = JOB_UNDO;
	if (!undo || x->io->call(x->ctx, x)) /* undo: groups run, so the writer does */
		job_free(x);
	if (rejoin && gh && !gh->rejoins)
		c_now(gh); /* what the driver held back meanwhile */
	else if (rejoin && gh)
		rejoin_go(gh);
}

void konce_ncghost_job_done(konce_ncghost_job *j, int e, const char *msg)
{
	if (j->kind == JOB_READ)
		read_done(j);
	else if (j->kind == JOB_ROW)
		row_done(j, e, msg);
	else {
		if (j->kind == JOB_LOG)
			j->done(j->dctx, e);
		job_free(j);
	}
}

void konce_ncghost_job_drop(konce_ncghost_job *j) { job_free(j); }

static konce_ncghost_job *row_job(konce_ncghost *gh, void (*done)(void *dctx, int e), void *dctx)
{
	konce_ncghost_job *x = calloc(1, sizeof *x);
	if (x)
		*x = (konce_ncghost_job){.kind = JOB_ROW, .io = gh->io, .ctx = gh->ctx, .prims = gh->prims,
					 .done = done, .dctx = dctx};
	return x;
}

int konce_ncghost_create_call(konce_ncghost *gh, const konce_ncgapi *a, const char *name,
			      void (*done)(void *dctx, int e), void *dctx)
{
	konce_ncghost_job *x;
	int e;
	if (!gh) { /* no groups: ncgapi's answer */
		uint8_t gid[KONCE_CW_GROUP_ID];
		return (e = konce_ncgapi_create_begin(a, name, gid)) ? e : -ENOTSUP;
	}
	if (!(x = row_job(gh, done, dctx)))
		return -ENOMEM;
	if (!(e = konce_ncgapi_create_begin(a, name, x->gid))) { /* it refuses a name too long for x->name */
		snprintf(x->name, sizeof x->name, "%s", name);
		e = gh->io->call(gh->ctx, x);
	}
	if (e)
		job_free(x);
	return e;
}

int konce_ncghost_join_call(konce_ncghost *gh, const konce_ncgapi *a, const char *text, const char *name,
			    unsigned timeout_s, void (*done)(void *dctx, int e), void *dctx)
{
	konce_ncghost_job *x;
	int e;
	if (!gh) { /* no groups: ncgapi's answer (it refuses before it reads the token) */
		char nm[KONCE_GROUP_NAME_MAX + 1];
		uint64_t until;
		bool forget;
		konce_ctoken *t = sodium_malloc(sizeof *t);
		if (!t)
			return -ENOMEM;
		e = konce_ncgapi_join_begin(a, text, name, timeout_s, t, nm, &until, &forget);
		sodium_free(t);
		return e ? e : -ENOTSUP;
	}
	if (!(x = row_job(gh, done, dctx)) || !(x->t = sodium_malloc(sizeof *x->t))) {
		free(x);
		return -ENOMEM;
	}
	x->timeout_s = timeout_s;
	if ((e = konce_ncgapi_join_begin(a, text, name, timeout_s, x->t, x->name, &x->until, &x->forget))) {
		job_free(x);
		return e;
	}
	if (x->forget) { /* behind the rejoins waiting, if any */
		konce_ncghost_job **p = &gh->rejoins;
		while (*p)
			p = &(*p)->next;
		*p = x;
		if ((e = rejoin_go_from(gh, x)))
			job_free(x);
		return e;
	}
	if ((e = gh->io->call(gh->ctx, x)))
		job_free(x);
	return e;
}

int konce_ncghost_log_call(konce_ncghost *gh, const konce_ncgapi *a, const char *name, uint64_t from,
			   int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				     const uint8_t *data, size_t len),
			   void *fnctx, void (*done)(void *dctx, int n), void *dctx)
{
	konce_ncghost_job *x;
	int e;
	if (!gh) { /* no groups: ncgapi's answer */
		uint8_t gid[KONCE_CW_GROUP_ID];
		return (e = konce_ncgapi_log_begin(a, name, fn != NULL, gid)) ? e : -ENOTSUP;
	}
	if (!(x = row_job(gh, done, dctx)))
		return -ENOMEM;
	x->kind = JOB_LOG;
	x->from = from;
	x->fn = fn;
	x->fnctx = fnctx;
	if ((e = konce_ncgapi_log_begin(a, name, fn != NULL, x->gid)) || (e = gh->io->call(gh->ctx, x)))
		job_free(x);
	return e;
}

/* ---- stop ------------------------------------------------------------------------------------ */

void konce_ncghost_stopping(konce_ncghost *gh)
{
	for (konce_ncghost_job *x; (x = gh->rejoins);) { /* never handed to the writer */
		gh->rejoins = x->next;
		x->done(x->dctx, -ECANCELED);
		job_free(x);
	}
	konce_ncgpersist_stop(gh->persist);
}

void konce_ncghost_stop(konce_ncghost *gh)
{
	if (gh->ahead.reading) /* a read still queued: its done runs first */
		gh->io->drain(gh->ctx);
	konce_ncgapi_ahead_free(&gh->ahead); /* tapes never played */
}
