/* node_storew.c - the store worker (node_storew.h): a thread that writes the presence store, so that
 * the event loop never waits for SQLite, its fsync or another process's lock.
 *
 * The inbox is two fixed arrays: the loop thread appends to one while the worker writes the other's
 * notes into its store; a wake swaps them under the mutex.  Nothing is allocated after start.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/io/node_storew.h"
#include "node/io/wthread.h"

enum {
	INBOX = 8192,           /* notes each side of the inbox; the worker is woken at half */
	WAKE_INTERVAL_MS = 1000, /* the flush period when the inbox stays below half */
};

struct wnote {
	konce_nc_note note;
	int64_t wall;
};

struct node_storew {
	node_wthread t;           /* t.mu guards what is "under mu" */
	konce_store *store;       /* the worker's alone */
	struct wnote *in[2];      /* in[fill] takes notes; the other is the worker's */
	size_t len, fill;
	bool stop, woken;
	uint64_t inbox_refused;   /* under mu */
	node_storew_status status; /* under mu: as of the last flush */
	int final_err;            /* the last write's result, read after the join */
	char final_msg[768];
};

/* Takes the filled side of the inbox (mu held); the caller writes it with mu released. */
static size_t take(struct node_storew *w, struct wnote **batch)
{
	size_t n = w->len;
	*batch = w->in[w->fill];
	w->fill ^= 1;
	w->len = 0;
	return n;
}

static void *run(void *arg)
{
	struct node_storew *w = arg;
	char err[768];
	pthread_mutex_lock(&w->t.mu);
	for (;;) {
		if (!w->stop && !w->woken) {
			struct timespec until = node_wthread_deadline(WAKE_INTERVAL_MS);
			pthread_cond_timedwait(&w->t.cv, &w->t.mu, &until);
		}
		w->woken = false;
		bool stopping = w->stop;
		struct wnote *batch;
		size_t n = take(w, &batch);
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
			break;
		}
	}
	pthread_mutex_unlock(&w->t.mu);
	return NULL;
}

int node_storew_start(node_storew **out, const char *path, char *err, size_t errlen)
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
	if ((e = node_wthread_start(&w->t, run, w, NULL, NULL, NULL))) {
		snprintf(err, errlen, "cannot start the store worker thread: %s", strerror(-e));
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
	pthread_mutex_lock(&w->t.mu);
	if (w->len == INBOX) {
		w->inbox_refused++;
		e = -ENOBUFS;
	} else {
		w->in[w->fill][w->len++] = (struct wnote){*note, wall};
		if (w->len == INBOX / 2) {
			w->woken = true;
			pthread_cond_signal(&w->t.cv);
		}
	}
	pthread_mutex_unlock(&w->t.mu);
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
	pthread_cond_signal(&w->t.cv);
	pthread_mutex_unlock(&w->t.mu);
	node_wthread_join(&w->t);
	int e = w->final_err;
	if (e && errlen)
		snprintf(err, errlen, "%s", w->final_msg);
	free(w->in[0]);
	free(w->in[1]);
	free(w);
	return e;
}
