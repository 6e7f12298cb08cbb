/* node_storew.c - the store writer (node_storew.h): its jobs on a worker thread (worker.h).
 *
 * The notes' inbox is two fixed arrays on the loop thread: node_storew_note appends to one, and a
 * flush job takes it whole and writes its notes into the writer's store while the other fills.  A
 * flush is posted once a second (a libevent timer, when there are notes or the last flush failed),
 * at once when the inbox reaches half, and last by the stop, which also closes the store; at most
 * one flush is posted at a time.  Calls are jobs on the same worker, so calls and flushes run in
 * the order posted.  A group batch is the call embedded in the writer (gcall), so that a submit
 * allocates nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/io/node_int.h"
#include "node/io/node_storew.h"
#include "node/io/worker.h"

enum {
	INBOX = 8192,             /* notes each side of the inbox; a flush is posted at half */
	FLUSH_INTERVAL_MS = 1000, /* the notes' flush period when the inbox stays below half */
};

struct wnote {
	konce_nc_note note;
	int64_t wall;
};

struct call {
	node_job job; /* first: the job is its call */
	struct node_storew *w;
	node_storew_fn fn;
	node_storew_done done;
	void *arg;
	bool allocated; /* freed after its done (not the group batch's, nor a waited call's) */
	int result;
	char msg[512];
};

struct flush {
	node_job job; /* first */
	struct node_storew *w;
	struct wnote *batch;
	size_t n;
	bool closing; /* the stop's: write, then close the store */
	int result;
	konce_store_stats stats;
	char err[768];
};

struct node_storew {
	node_worker *wk;
	konce_store *store;        /* the worker thread's (invariant 1) */
	struct event *tick;        /* FLUSH_INTERVAL_MS */
	struct wnote *in[2];       /* in[fill] takes notes; the other is the posted flush's */
	size_t len, fill;
	bool flushing;             /* fl is posted, not yet reported */
	struct flush fl;
	uint64_t inbox_refused;
	unsigned ncalls;           /* allocated calls not yet reported */
	node_storew_status status; /* as of the last flush reported */
	struct call gcall;         /* the group batch */
	bool gbusy;                /* gcall posted, not yet reported */
	node_storew_done gdone;
	void *garg;
};

/* ---- the notes ---------------------------------------------------------------------------------- */

static void flush_run(node_job *j)
{
	struct flush *f = (struct flush *)j;
	konce_store *st = f->w->store;
	for (size_t i = 0; i < f->n; i++)
		konce_store_nc_note(st, &f->batch[i].note, f->batch[i].wall); /* -ENOBUFS: counted */
	f->err[0] = 0;
	f->stats = (konce_store_stats){0};
	if (f->closing) { /* flushes, then closes */
		f->result = konce_store_close(st, f->err, sizeof f->err);
		f->w->store = NULL;
		return;
	}
	f->result = konce_store_flush(st, f->err, sizeof f->err);
	konce_store_get_stats(st, &f->stats);
}

static void post_flush(struct node_storew *w, bool closing);

static void flush_done(node_job *j)
{
	struct flush *f = (struct flush *)j;
	struct node_storew *w = f->w;
	w->flushing = false;
	w->status.stats = f->stats;
	w->status.failing = f->result != 0;
	snprintf(w->status.err, sizeof w->status.err, "%s", f->result ? f->err : "");
	if (w->len >= INBOX / 2 && !f->closing)
		post_flush(w, false);
}

static void post_flush(struct node_storew *w, bool closing)
{
	w->fl = (struct flush){.job = {.run = flush_run, .done = flush_done}, .w = w, .batch = w->in[w->fill],
			       .n = w->len, .closing = closing};
	w->fill ^= 1;
	w->len = 0;
	w->flushing = node_worker_post(w->wk, &w->fl.job) == 0; /* fails only after the stop */
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct node_storew *w = arg;
	(void)fd, (void)what;
	if (!w->flushing && (w->len || w->status.failing)) /* a failed flush is retried */
		post_flush(w, false);
}

int node_storew_note(node_storew *w, const konce_nc_note *note, int64_t wall)
{
	if (w->len == INBOX) {
		w->inbox_refused++;
		return -ENOBUFS;
	}
	w->in[w->fill][w->len++] = (struct wnote){*note, wall};
	if (w->len >= INBOX / 2 && !w->flushing)
		post_flush(w, false);
	return 0;
}

void node_storew_get_status(node_storew *w, node_storew_status *out)
{
	*out = w->status;
	out->stats.pending += w->len;
	out->stats.notes_refused += w->inbox_refused;
}

/* ---- calls -------------------------------------------------------------------------------------- */

static void call_run(node_job *j)
{
	struct call *c = (struct call *)j;
	c->msg[0] = 0;
	c->result = c->fn(c->w->store, c->arg, c->msg, sizeof c->msg);
}

static void call_done(node_job *j)
{
	struct call *c = (struct call *)j;
	if (c->allocated)
		c->w->ncalls--;
	if (c->done)
		c->done(c->arg, c->result, c->msg);
	if (c->allocated)
		free(c);
}

static struct call make_call(struct node_storew *w, node_storew_fn fn, node_storew_done done, void *arg)
{
	return (struct call){.job = {.run = call_run, .done = call_done}, .w = w, .fn = fn, .done = done, .arg = arg};
}

int node_storew_call(node_storew *w, node_storew_fn fn, node_storew_done done, void *arg)
{
	if (w->ncalls >= STOREW_CALLS_MAX)
		return -ENOBUFS;
	struct call *c = malloc(sizeof *c);
	if (!c)
		return -ENOMEM;
	*c = make_call(w, fn, done, arg);
	c->allocated = true;
	int e = node_worker_post(w->wk, &c->job);
	if (e) {
		free(c);
		return e;
	}
	w->ncalls++;
	return 0;
}

int konce_node_store_call(konce_node *n, node_storew_fn fn, node_storew_done done, void *arg)
{
	return n->storew ? node_storew_call(n->storew, fn, done, arg) : -EIO;
}

int node_storew_call_wait(node_storew *w, node_storew_fn fn, node_storew_done done, void *arg, char *msg,
			  size_t msglen)
{
	struct call c = make_call(w, fn, done, arg);
	int e = node_worker_post(w->wk, &c.job);
	if (e)
		return e;
	node_worker_wait(w->wk, &c.job, 0);
	if (c.result && msglen)
		snprintf(msg, msglen, "%s", c.msg);
	return c.result;
}

static int nothing(konce_store *st, void *arg, char *msg, size_t msglen)
{
	(void)st, (void)arg, (void)msg, (void)msglen;
	return 0;
}

void node_storew_drain(node_storew *w) { node_storew_call_wait(w, nothing, NULL, NULL, NULL, 0); }

/* ---- the group records' batches --------------------------------------------------------------- */

static int gflush(konce_store *st, void *arg, char *msg, size_t msglen)
{
	(void)arg;
	return konce_store_group_flush(st, msg, msglen);
}

static void gwritten(void *arg, int e, const char *msg)
{
	struct node_storew *w = arg;
	w->gbusy = false;
	if (w->gdone)
		w->gdone(w->garg, e, msg);
}

void node_storew_group_on_done(node_storew *w, node_storew_done done, void *arg)
{
	w->gdone = done;
	w->garg = arg;
}

bool node_storew_group_busy(const node_storew *w) { return w->gbusy; }

int node_storew_group_submit(node_storew *w, konce_store *from)
{
	if (w->gbusy)
		return -EBUSY;
	if (from) /* no batch handed over: the writer's group queue is the loop's (invariant 1) */
		konce_store_group_move(w->store, from);
	w->gcall = make_call(w, gflush, gwritten, w);
	int e = node_worker_post(w->wk, &w->gcall.job);
	w->gbusy = e == 0;
	return e;
}

int node_storew_group_sync(node_storew *w, konce_store *from, char *err, size_t errlen)
{
	while (w->gbusy) /* the batch handed over is reported first; its done may hand the next over */
		node_worker_wait(w->wk, &w->gcall.job, 0);
	konce_store_group_move(w->store, from);
	return node_storew_call_wait(w, gflush, NULL, NULL, err, errlen);
}

size_t node_storew_group_pending(const node_storew *w) { return w->gbusy ? 0 : konce_store_group_pending(w->store); }

/* ---- start and stop ----------------------------------------------------------------------------- */

static void free_writer(struct node_storew *w)
{
	if (w->tick)
		event_free(w->tick);
	free(w->in[0]);
	free(w->in[1]);
	free(w);
}

int node_storew_start(node_storew **out, struct event_base *base, const char *path, char *err, size_t errlen)
{
	struct node_storew *w = calloc(1, sizeof(*w));
	const struct timeval period = {FLUSH_INTERVAL_MS / 1000, (FLUSH_INTERVAL_MS % 1000) * 1000};
	int e;
	*out = NULL;
	if (!w || !(w->in[0] = calloc(INBOX, sizeof(struct wnote))) ||
	    !(w->in[1] = calloc(INBOX, sizeof(struct wnote))) ||
	    !(w->tick = event_new(base, -1, EV_PERSIST, on_tick, w)) || event_add(w->tick, &period)) {
		snprintf(err, errlen, "out of memory");
		e = -ENOMEM;
		goto fail;
	}
	if ((e = konce_store_open(&w->store, path, 0, err, errlen)))
		goto fail;
	if ((e = node_worker_start(&w->wk, base, NULL, NULL))) {
		snprintf(err, errlen, "cannot start the store writer thread: %s", strerror(-e));
		konce_store_close(w->store, NULL, 0);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w)
		free_writer(w);
	return e;
}

int node_storew_stop(node_storew *w, char *err, size_t errlen)
{
	if (!w)
		return 0;
	while (w->flushing) /* its done may post the next */
		node_worker_wait(w->wk, &w->fl.job, 0);
	post_flush(w, true);
	node_worker_stop(w->wk, 0); /* runs every call posted, then the last flush, and reports them */
	int e = w->fl.result;
	if (e && errlen)
		snprintf(err, errlen, "%s", w->fl.err);
	free_writer(w);
	return e;
}
