/* wthread.h - the I/O layer's worker-thread plumbing, one copy for the store writer
 * (node_storew.c) and the port-mapping worker (portmap.c): the
 * thread, the mutex and condition variable it shares with the loop thread (the condition on
 * CLOCK_MONOTONIC, so a timed wait ignores steps of the wall clock), and optionally an eventfd
 * through which the thread wakes the loop.  What the two sides exchange under the mutex, and when
 * they wait, is each user's own.
 *
 * Lifetime: node_wthread_start() sets all of it up or nothing; node_wthread_unwatch() (loop
 * thread) stops the wake's callbacks; node_wthread_release() frees the rest once the thread is
 * joined, or (portmap.c) by whichever of the two sides lets go last.
 */
#ifndef KONCE_NODE_WTHREAD_H
#define KONCE_NODE_WTHREAD_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

typedef struct node_wthread {
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* CLOCK_MONOTONIC */
	pthread_t thread;
	int efd;            /* the loop's wake; -1 without one */
	struct event *ev;   /* efd readable, on the loop: wake(arg) */
	void (*wake)(void *arg);
	void *arg;
} node_wthread;

/* Makes w's mutex and condition and, with base, the loop's wake (wake(arg) on base's thread after
 * each node_wthread_wake_loop()), then runs run(run_arg) on a new thread.  0, or a negative errno
 * with nothing made (and nothing to release). */
int node_wthread_start(node_wthread *w, void *(*run)(void *), void *run_arg, struct event_base *base,
		       void (*wake)(void *arg), void *arg);
/* On the thread: the loop's wake fires (several calls before it runs may fire it once). */
void node_wthread_wake_loop(node_wthread *w);
/* The monotonic time ms milliseconds from now, for pthread_cond_timedwait on w->cv. */
struct timespec node_wthread_deadline(uint64_t ms);
/* On the loop thread: wake(arg) is not called any more. */
void node_wthread_unwatch(node_wthread *w);
/* Frees the mutex, the condition and the wake (unwatching it first).  The thread must not use w
 * any more. */
void node_wthread_release(node_wthread *w);
/* pthread_join, then node_wthread_release. */
void node_wthread_join(node_wthread *w);

#endif
