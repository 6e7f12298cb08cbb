/* worker.c - a worker thread for blocking jobs (worker.h).
 *
 * Two FIFOs under the mutex: the jobs posted and not yet taken, and the jobs that ran and are not
 * yet reported.  The thread takes the first posted job, runs it with the mutex released, moves it
 * to the second FIFO, signals the condition (a waiter) and writes the eventfd (the loop's wake,
 * whose callback reports).  The condition is on CLOCK_MONOTONIC, so a timed wait ignores steps of
 * the wall clock.
 */
#include "node/io/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

struct fifo {
	node_job *head, *tail;
};

struct node_worker {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a job ran, a job was posted, stop, the thread exited */
	pthread_t thread;
	int efd;
	struct event *ev;  /* efd readable: report */
	void (*fini)(void *ctx);
	void *ctx;
	struct fifo posted, ran;          /* under mu */
	bool stopping, abandoned, exited; /* under mu */
};

static void push(struct fifo *f, node_job *j)
{
	j->next = NULL;
	if (f->tail)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
}

static node_job *pop(struct fifo *f)
{
	node_job *j = f->head;
	if (j && !(f->head = j->next))
		f->tail = NULL;
	return j;
}

static void release(node_worker *w)
{
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void *thread_main(void *arg)
{
	node_worker *w = arg;
	uint64_t one = 1;
	node_job *j;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (!(j = pop(&w->posted))) {
			if (w->stopping)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		j->run(j);
		pthread_mutex_lock(&w->mu);
		if (w->abandoned) {
			if (j->drop)
				j->drop(j);
			continue;
		}
		j->ran = true;
		push(&w->ran, j);
		pthread_cond_broadcast(&w->cv);
		/* the wake with the mutex released: the loop's report takes it at once (on one CPU a wake
		 * under the mutex costs the loop a futex wait and two more context switches) */
		pthread_mutex_unlock(&w->mu);
		if (write(w->efd, &one, sizeof one) < 0) {
			/* EAGAIN only at a saturated counter: the loop is woken anyway */
		}
		pthread_mutex_lock(&w->mu);
	}
	bool abandoned = w->abandoned;
	while (abandoned && (j = pop(&w->ran))) /* ran before the abandon, never to be reported */
		if (j->drop)
			j->drop(j);
	w->exited = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->fini)
		w->fini(w->ctx);
	if (abandoned)
		release(w);
	return NULL;
}

/* On the loop thread: the jobs that ran, in order, one at a time (invariant 2). */
static void report(node_worker *w)
{
	for (;;) {
		pthread_mutex_lock(&w->mu);
		node_job *j = pop(&w->ran);
		pthread_mutex_unlock(&w->mu);
		if (!j)
			return;
		if (j->done)
			j->done(j);
	}
}

static void on_efd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;
	(void)what;
	if (read(fd, &v, sizeof v) < 0) {
		/* EAGAIN: an earlier callback took the count */
	}
	report(arg);
}

int node_worker_start(node_worker **out, struct event_base *base, void (*fini)(void *ctx), void *ctx)
{
	pthread_condattr_t ca;
	int e;
	node_worker *w = calloc(1, sizeof *w);
	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fini = fini;
	w->ctx = ctx;
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		e = -errno;
		free(w);
		return e;
	}
	if (!(w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w)) || event_add(w->ev, NULL)) {
		if (w->ev)
			event_free(w->ev);
		close(w->efd);
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&w->thread, NULL, thread_main, w))) {
		event_free(w->ev);
		release(w);
		return -e;
	}
	*out = w;
	return 0;
}

int node_worker_post(node_worker *w, node_job *j)
{
	pthread_mutex_lock(&w->mu);
	bool stopping = w->stopping;
	if (!stopping) {
		j->ran = false;
		push(&w->posted, j);
	}
	pthread_mutex_unlock(&w->mu);
	if (stopping)
		return -ESHUTDOWN;
	/* after the unlock, so that the woken thread does not block on the mutex the loop holds */
	pthread_cond_broadcast(&w->cv);
	return 0;
}

/* Waits on w->cv, mu held, until *flag or deadline_us passes (0: none); *flag then. */
static bool wait_until(node_worker *w, const bool *flag, uint64_t deadline_us)
{
	struct timespec dl = {(time_t)(deadline_us / 1000000u), (long)(deadline_us % 1000000u) * 1000};
	for (int e = 0; !*flag && e != ETIMEDOUT;)
		e = deadline_us ? pthread_cond_timedwait(&w->cv, &w->mu, &dl) : pthread_cond_wait(&w->cv, &w->mu);
	return *flag;
}

bool node_worker_wait(node_worker *w, node_job *j, uint64_t deadline_us)
{
	pthread_mutex_lock(&w->mu);
	bool ran = wait_until(w, &j->ran, deadline_us);
	pthread_mutex_unlock(&w->mu);
	report(w); /* j's done may post it again: ran was read before */
	return ran;
}

int node_worker_stop(node_worker *w, uint64_t deadline_us)
{
	event_free(w->ev); /* from here the stop reports */
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	struct fifo unrun = {NULL, NULL};
	if (deadline_us) {
		unrun = w->posted; /* handed back unrun (worker.h) */
		w->posted = (struct fifo){NULL, NULL};
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (node_job *j; (j = pop(&unrun));) /* the loop's own now: cancel may free j */
		if (j->cancel)
			j->cancel(j);
	pthread_mutex_lock(&w->mu);
	bool exited = wait_until(w, &w->exited, deadline_us);
	w->abandoned = !exited;
	pthread_mutex_unlock(&w->mu);
	if (!exited) { /* still in a job: it drops the job and frees w (invariant 3) */
		pthread_detach(w->thread);
		return -ETIMEDOUT;
	}
	pthread_join(w->thread, NULL);
	report(w);
	release(w);
	return 0;
}
