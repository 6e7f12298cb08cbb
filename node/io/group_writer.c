/* group_writer.c - the group records' writer thread (group_writer.h).
 *
 * The loop hands a batch over by moving its store's queued records onto the writer's connection
 * (konce_store_group_move) and setting `go`; the thread runs konce_store_group_flush() on its own
 * connection and wakes the loop through an eventfd, whose event reports the result with `done`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/io/group_writer.h"
#include "node/io/wthread.h"

struct group_writer {
	node_wthread t;      /* t.cv: go or stop set (to the thread); writing ended (to sync) */
	konce_store *store;  /* the writer's connection; its group queue is the batch */
	bool busy;           /* loop side: submitted, not yet reported */
	bool go, writing, stop, ended; /* under mu */
	int result;          /* under mu: the last batch's */
	char msg[512];       /* under mu */
	group_writer_done done;
	void *ctx;
};

static void *run(void *arg)
{
	group_writer *w = arg;
	char msg[512];
	pthread_mutex_lock(&w->t.mu);
	for (;;) {
		while (!w->go && !w->stop)
			pthread_cond_wait(&w->t.cv, &w->t.mu);
		if (w->stop)
			break;
		w->go = false;
		w->writing = true;
		pthread_mutex_unlock(&w->t.mu);
		msg[0] = 0;
		int e = konce_store_group_flush(w->store, msg, sizeof msg);
		pthread_mutex_lock(&w->t.mu);
		w->result = e;
		snprintf(w->msg, sizeof w->msg, "%s", msg);
		w->writing = false;
		w->ended = true;
		pthread_cond_broadcast(&w->t.cv);
		/* wake the loop with the mutex released: report() takes it at once (on one CPU, a wake
		 * under the mutex costs the loop a futex wait and two more context switches) */
		pthread_mutex_unlock(&w->t.mu);
		node_wthread_wake_loop(&w->t);
		pthread_mutex_lock(&w->t.mu);
	}
	pthread_mutex_unlock(&w->t.mu);
	return NULL;
}

/* The batch's result, once the thread has ended it (mu not held; the loop's wake, or a sync that
 * took it first); reported by done. */
static void report(void *arg)
{
	group_writer *w = arg;
	char msg[512];
	pthread_mutex_lock(&w->t.mu);
	if (!w->ended) {
		pthread_mutex_unlock(&w->t.mu);
		return;
	}
	w->ended = false;
	int e = w->result;
	snprintf(msg, sizeof msg, "%s", w->msg);
	pthread_mutex_unlock(&w->t.mu);
	w->busy = false;
	w->done(w->ctx, e, msg);
}

int group_writer_start(group_writer **out, struct event_base *base, const char *path, group_writer_done done,
		       void *ctx, char *err, size_t errlen)
{
	group_writer *w = calloc(1, sizeof *w);
	int e;
	*out = NULL;
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->done = done;
	w->ctx = ctx;
	if ((e = konce_store_open(&w->store, path, 1, err, errlen))) /* 1: it queues no presence note */
		goto fail;
	if ((e = node_wthread_start(&w->t, run, w, base, report, w))) {
		snprintf(err, errlen, "cannot start the group writer thread: %s", strerror(-e));
		konce_store_close(w->store, NULL, 0);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	free(w);
	return e;
}

bool group_writer_busy(const group_writer *w) { return w->busy; }

int group_writer_submit(group_writer *w, konce_store *from)
{
	if (w->busy)
		return -EBUSY;
	if (from)
		konce_store_group_move(w->store, from); /* the thread is idle: the connection is ours */
	w->busy = true;
	pthread_mutex_lock(&w->t.mu);
	w->go = true;
	pthread_mutex_unlock(&w->t.mu);
	/* signalled after the unlock, so that the woken thread does not block on the mutex the loop
	 * still holds (the thread waits for go or stop, both set under the mutex) */
	pthread_cond_signal(&w->t.cv);
	return 0;
}

int group_writer_sync(group_writer *w, konce_store *from, char *err, size_t errlen)
{
	if (w->busy) {
		pthread_mutex_lock(&w->t.mu);
		while (w->go || w->writing)
			pthread_cond_wait(&w->t.cv, &w->t.mu);
		pthread_mutex_unlock(&w->t.mu);
		report(w); /* done runs first, for the batch that was in flight */
	}
	if (w->busy) /* done submitted the next batch */
		return group_writer_sync(w, from, err, errlen);
	konce_store_group_move(w->store, from);
	return konce_store_group_flush(w->store, err, errlen);
}

size_t group_writer_pending(group_writer *w) { return w->busy ? 0 : konce_store_group_pending(w->store); }

void group_writer_stop(group_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->t.mu);
	w->stop = true;
	pthread_cond_signal(&w->t.cv);
	pthread_mutex_unlock(&w->t.mu);
	node_wthread_join(&w->t);
	konce_store_close(w->store, NULL, 0); /* drops what is still queued */
	free(w);
}
