/* node_storew.c - the store writer (node_storew.h): the one thread that writes the store.
 *
 * The notes' inbox is two fixed arrays: the loop thread appends to one while the thread writes the
 * other's notes into its store; a flush swaps them under the mutex.  Calls are a FIFO of QUEUED
 * calls and one of DONE calls under the mutex; the thread runs the first queued call with the mutex
 * released, moves it to DONE and wakes the loop through the eventfd, whose callback (report) runs
 * the dones.  A group batch is the call embedded in the writer (gcall), so that a submit allocates
 * nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/io/node_int.h"
#include "node/io/node_storew.h"
#include "node/io/wthread.h"

enum {
	INBOX = 8192,            /* notes each side of the inbox; the thread is woken at half */
	WAKE_INTERVAL_MS = 1000, /* the notes' flush period when the inbox stays below half */
};

struct wnote {
	konce_nc_note note;
	int64_t wall;
};

struct call {
	struct call *next;
	node_storew_fn fn;
	node_storew_done done;
	void *arg;
	bool allocated; /* freed after its done (not the group batch's, nor call_wait's) */
	bool ran;       /* under mu: fn returned */
	int result;
	char msg[512];
};

struct node_storew {
	node_wthread t;           /* t.mu guards what is "under mu"; t.cv: work (to the thread), a call ran (to a waiter) */
	konce_store *store;       /* the thread's (invariant 1) */
	struct wnote *in[2];      /* in[fill] takes notes; the other is the thread's */
	size_t len, fill;
	bool stop, woken;         /* under mu; woken: the inbox reached half */
	uint64_t inbox_refused;   /* under mu */
	struct call *queued, *queued_tail, *done, *done_tail; /* under mu */
	unsigned ncalls;          /* under mu: allocated calls not yet reported */
	node_storew_status status; /* under mu: as of the last notes flush */
	int final_err;            /* the last notes write's result, read after the join */
	char final_msg[768];
	struct call gcall;        /* the group batch (loop thread, but for ran/result under mu) */
	bool gbusy;               /* loop thread: gcall handed over, not yet reported */
	node_storew_done gdone;
	void *garg;
};

static void push(struct call **head, struct call **tail, struct call *c)
{
	c->next = NULL;
	if (*tail)
		(*tail)->next = c;
	else
		*head = c;
	*tail = c;
}

/* The notes of the inbox into the store, and their write (mu held on entry and on return). */
static void flush_notes(struct node_storew *w, bool stopping)
{
	char err[768];
	struct wnote *batch = w->in[w->fill];
	size_t n = w->len;
	w->fill ^= 1;
	w->len = 0;
	w->woken = false;
	pthread_mutex_unlock(&w->t.mu);

	for (size_t i = 0; i < n; i++)
		konce_store_nc_note(w->store, &batch[i].note, batch[i].wall); /* -ENOBUFS: counted */
	int e = stopping ? konce_store_close(w->store, err, sizeof(err)) /* flushes, then closes */
			 : konce_store_flush(w->store, err, sizeof(err));
	konce_store_stats ss = {0};
	if (!stopping)
		konce_store_get_stats(w->store, &ss);

	pthread_mutex_lock(&w->t.mu);
	w->status.stats = ss;
	w->status.failing = e != 0;
	snprintf(w->status.err, sizeof(w->status.err), "%s", e ? err : "");
	if (stopping) {
		w->store = NULL;
		w->final_err = e;
		snprintf(w->final_msg, sizeof(w->final_msg), "%s", e ? err : "");
	}
}

static void *run(void *arg)
{
	struct node_storew *w = arg;
	struct timespec due = node_wthread_deadline(WAKE_INTERVAL_MS);
	pthread_mutex_lock(&w->t.mu);
	for (;;) {
		struct call *c = w->queued;
		if (c) { /* calls first, in order (invariant 2) */
			if (!(w->queued = c->next))
				w->queued_tail = NULL;
			pthread_mutex_unlock(&w->t.mu);
			c->msg[0] = 0;
			int e = c->fn(w->store, c->arg, c->msg, sizeof c->msg);
			pthread_mutex_lock(&w->t.mu);
			c->result = e;
			c->ran = true;
			push(&w->done, &w->done_tail, c);
			pthread_cond_broadcast(&w->t.cv); /* a call_wait */
			/* wake the loop with the mutex released: report() takes it at once (on one CPU, a
			 * wake under the mutex costs the loop a futex wait and two more context switches) */
			pthread_mutex_unlock(&w->t.mu);
			node_wthread_wake_loop(&w->t);
			pthread_mutex_lock(&w->t.mu);
			continue;
		}
		if (!w->stop && !w->woken && pthread_cond_timedwait(&w->t.cv, &w->t.mu, &due) != ETIMEDOUT)
			continue; /* a call, a half-full inbox, stop, or nothing: look again */
		bool stopping = w->stop;
		flush_notes(w, stopping);
		if (stopping)
			break;
		due = node_wthread_deadline(WAKE_INTERVAL_MS);
	}
	pthread_mutex_unlock(&w->t.mu);
	return NULL;
}

/* On the loop thread: the dones of the calls that ran, in order (the eventfd's wake, a wait, stop).
 * One at a time off the shared list, so that a done that waits for a call of its own (a report
 * within this one) keeps the order. */
static void report(void *arg)
{
	struct node_storew *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->t.mu);
		struct call *c = w->done;
		if (c && !(w->done = c->next))
			w->done_tail = NULL;
		if (c && c->allocated)
			w->ncalls--;
		pthread_mutex_unlock(&w->t.mu);
		if (!c)
			return;
		if (c->done)
			c->done(c->arg, c->result, c->msg);
		if (c->allocated)
			free(c);
	}
}

static void enqueue(struct node_storew *w, struct call *c)
{
	pthread_mutex_lock(&w->t.mu);
	push(&w->queued, &w->queued_tail, c);
	pthread_mutex_unlock(&w->t.mu);
	/* signalled after the unlock, so that the woken thread does not block on the mutex the loop
	 * still holds (the thread looks at the queue under the mutex) */
	pthread_cond_broadcast(&w->t.cv);
}

int node_storew_call(node_storew *w, node_storew_fn fn, node_storew_done done, void *arg)
{
	struct call *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	*c = (struct call){.fn = fn, .done = done, .arg = arg, .allocated = true};
	pthread_mutex_lock(&w->t.mu);
	bool full = w->ncalls >= STOREW_CALLS_MAX;
	if (!full) {
		w->ncalls++;
		push(&w->queued, &w->queued_tail, c);
	}
	pthread_mutex_unlock(&w->t.mu);
	if (full) {
		free(c);
		return -ENOBUFS;
	}
	pthread_cond_broadcast(&w->t.cv); /* after the unlock, as in enqueue() */
	return 0;
}

int konce_node_store_call(konce_node *n, node_storew_fn fn, node_storew_done done, void *arg)
{
	return n->storew ? node_storew_call(n->storew, fn, done, arg) : -EIO;
}

/* Waits until c ran, then reports everything that did (c last). */
static void wait_ran(struct node_storew *w, struct call *c)
{
	pthread_mutex_lock(&w->t.mu);
	while (!c->ran)
		pthread_cond_wait(&w->t.cv, &w->t.mu);
	pthread_mutex_unlock(&w->t.mu);
	report(w);
}

int node_storew_call_wait(node_storew *w, node_storew_fn fn, node_storew_done done, void *arg, char *msg,
			  size_t msglen)
{
	struct call c = {.fn = fn, .done = done, .arg = arg};
	enqueue(w, &c);
	wait_ran(w, &c);
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
	w->gbusy = true;
	w->gcall = (struct call){.fn = gflush, .done = gwritten, .arg = w};
	enqueue(w, &w->gcall);
	return 0;
}

int node_storew_group_sync(node_storew *w, konce_store *from, char *err, size_t errlen)
{
	while (w->gbusy) /* the batch handed over is reported first; its done may hand the next over */
		wait_ran(w, &w->gcall);
	konce_store_group_move(w->store, from);
	return node_storew_call_wait(w, gflush, NULL, NULL, err, errlen);
}

size_t node_storew_group_pending(const node_storew *w) { return w->gbusy ? 0 : konce_store_group_pending(w->store); }

/* ---- start, notes, status, stop ---------------------------------------------------------------- */

int node_storew_start(node_storew **out, struct event_base *base, const char *path, char *err, size_t errlen)
{
	struct node_storew *w = calloc(1, sizeof(*w));
	int e;
	*out = NULL;
	if (!w || !(w->in[0] = calloc(INBOX, sizeof(struct wnote))) ||
	    !(w->in[1] = calloc(INBOX, sizeof(struct wnote)))) {
		snprintf(err, errlen, "out of memory");
		e = -ENOMEM;
		goto fail;
	}
	if ((e = konce_store_open(&w->store, path, 0, err, errlen)))
		goto fail;
	if ((e = node_wthread_start(&w->t, run, w, base, report, w))) {
		snprintf(err, errlen, "cannot start the store writer thread: %s", strerror(-e));
		konce_store_close(w->store, NULL, 0);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w) {
		free(w->in[0]);
		free(w->in[1]);
	}
	free(w);
	return e;
}

int node_storew_note(node_storew *w, const konce_nc_note *note, int64_t wall)
{
	int e = 0;
	bool wake = false;
	pthread_mutex_lock(&w->t.mu);
	if (w->len == INBOX) {
		w->inbox_refused++;
		e = -ENOBUFS;
	} else {
		w->in[w->fill][w->len++] = (struct wnote){*note, wall};
		if (w->len == INBOX / 2)
			wake = w->woken = true;
	}
	pthread_mutex_unlock(&w->t.mu);
	if (wake)
		pthread_cond_broadcast(&w->t.cv);
	return e;
}

void node_storew_get_status(node_storew *w, node_storew_status *out)
{
	pthread_mutex_lock(&w->t.mu);
	*out = w->status;
	out->stats.pending += w->len;
	out->stats.notes_refused += w->inbox_refused;
	pthread_mutex_unlock(&w->t.mu);
}

int node_storew_stop(node_storew *w, char *err, size_t errlen)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&w->t.mu);
	w->stop = true;
	pthread_mutex_unlock(&w->t.mu);
	pthread_cond_broadcast(&w->t.cv);
	pthread_join(w->t.thread, NULL);
	report(w); /* every call ran before the last flush (the thread takes calls first) */
	node_wthread_release(&w->t);
	int e = w->final_err;
	if (e && errlen)
		snprintf(err, errlen, "%s", w->final_msg);
	free(w->in[0]);
	free(w->in[1]);
	free(w);
	return e;
}
