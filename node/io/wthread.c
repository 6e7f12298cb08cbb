/* wthread.c - the worker-thread plumbing (wthread.h). */
#include "node/io/wthread.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void on_efd(evutil_socket_t fd, short what, void *arg)
{
	node_wthread *w = arg;
	uint64_t v;
	(void)what;
	if (read(fd, &v, sizeof v) < 0) {
		/* EAGAIN: an earlier callback took the count */
	}
	w->wake(w->arg);
}

int node_wthread_start(node_wthread *w, void *(*run)(void *), void *run_arg, struct event_base *base,
		       void (*wake)(void *arg), void *arg)
{
	pthread_condattr_t ca;
	int e;
	w->efd = -1;
	w->ev = NULL;
	w->wake = wake;
	w->arg = arg;
	if (base) {
		if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			return -errno;
		if (!(w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w)) || event_add(w->ev, NULL)) {
			if (w->ev)
				event_free(w->ev);
			close(w->efd);
			return -ENOMEM;
		}
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e = pthread_create(&w->thread, NULL, run, run_arg))) {
		node_wthread_release(w);
		return -e;
	}
	return 0;
}

void node_wthread_wake_loop(node_wthread *w)
{
	uint64_t one = 1;
	if (write(w->efd, &one, sizeof one) < 0) {
		/* EAGAIN only at a saturated counter: the loop is woken anyway */
	}
}

struct timespec node_wthread_deadline(uint64_t ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000)
		t.tv_sec++, t.tv_nsec -= 1000000000;
	return t;
}

void node_wthread_unwatch(node_wthread *w)
{
	if (w->ev)
		event_free(w->ev);
	w->ev = NULL;
}

void node_wthread_release(node_wthread *w)
{
	node_wthread_unwatch(w);
	if (w->efd >= 0)
		close(w->efd);
	w->efd = -1;
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

void node_wthread_join(node_wthread *w)
{
	pthread_join(w->thread, NULL);
	node_wthread_release(w);
}
