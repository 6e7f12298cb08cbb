/* group_writer.c - the group records' writer thread (group_writer.h).
 *
 * The loop hands a batch over by moving its store's queued records onto the writer's connection
 * (konce_store_group_move) and setting `go`; the thread runs konce_store_group_flush() on its own
 * connection and wakes the loop through an eventfd, whose event reports the result with `done`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "node/io/group_writer.h"

struct group_writer {
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* go or stop set (to the thread); writing ended (to sync) */
	pthread_t thread;
	konce_store *store;  /* the writer's connection; its group queue is the batch */
	bool busy;           /* loop side: submitted, not yet reported */
	bool go, writing, stop, ended; /* under mu */
	int result;          /* under mu: the last batch's */
	char msg[512];       /* under mu */
	int efd;
	struct event *ev;
	group_writer_done done;
	void *ctx;
};

static void *run(void *arg)
{
	group_writer *w = arg;
	char msg[512];
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->go && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		w->go = false;
		w->writing = true;
		pthread_mutex_unlock(&w->mu);
		msg[0] = 0;
		int e = konce_store_group_flush(w->store, msg, sizeof msg);
		pthread_mutex_lock(&w->mu);
		w->result = e;
		snprintf(w->msg, sizeof w->msg, "%s", msg);
		w->writing = false;
		w->ended = true;
		pthread_cond_broadcast(&w->cv);
		uint64_t one = 1;
		if (write(w->efd, &one, sizeof one) < 0) {
			/* the counter cannot overflow at one write per batch; nothing else fails here */
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The batch's result, once the thread has ended it (mu not held); reported by done. */
static void report(group_writer *w)
{
	char msg[512];
	pthread_mutex_lock(&w->mu);
	if (!w->ended) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->ended = false;
	int e = w->result;
	snprintf(msg, sizeof msg, "%s", w->msg);
	pthread_mutex_unlock(&w->mu);
	w->busy = false;
	w->done(w->ctx, e, msg);
}

static void on_efd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;
	(void)what;
	if (read(fd, &v, sizeof v) < 0) {
		/* EAGAIN: a sync already took the result */
	}
	report(arg);
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
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		e = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(w);
		return e;
	}
	if (!(w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w)) || event_add(w->ev, NULL)) {
		snprintf(err, errlen, "out of memory");
		e = -ENOMEM;
		goto fail;
	}
	if ((e = konce_store_open(&w->store, path, 1, err, errlen))) /* 1: it queues no presence note */
		goto fail;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((e = pthread_create(&w->thread, NULL, run, w))) {
		snprintf(err, errlen, "cannot start the group writer thread: %s", strerror(e));
		e = -e;
		konce_store_close(w->store, NULL, 0);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->ev)
		event_free(w->ev);
	close(w->efd);
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
	pthread_mutex_lock(&w->mu);
	w->go = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int group_writer_sync(group_writer *w, konce_store *from, char *err, size_t errlen)
{
	if (w->busy) {
		pthread_mutex_lock(&w->mu);
		while (w->go || w->writing)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
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
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	konce_store_close(w->store, NULL, 0); /* drops what is still queued */
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	event_free(w->ev);
	close(w->efd);
	free(w);
}
