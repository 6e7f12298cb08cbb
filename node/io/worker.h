/* worker.h - a worker thread that runs blocking jobs for the event loop: the I/O layer's one way to
 * keep SQLite (the store writer, node_storew.c), the port-mapping libraries (portmap.c) and file
 * reads (fileread.c) off the loop.  The loop posts a job; the thread runs it; an eventfd wakes the loop, which reports it.
 *
 * A job:    POSTED --the thread takes it, in the order posted--> RUNNING --run() returns--> RAN
 *           --reported on the loop thread (the loop's wake, a wait, the stop): done()--> the
 *           poster's again.  The worker keeps no pointer to a job once it is reported.
 * A worker: RUNNING --node_worker_stop()--> STOPPING --the thread exits: fini(); joined--> freed;
 *           or, past the stop's deadline with the thread still in a job: ABANDONED --the job
 *           returns: drop() on the thread, fini(), the thread frees the worker.
 * Invariants:
 *  1. Only the loop thread posts, waits, reports and stops; run(), drop() and fini() run on the
 *     worker thread, done() on the loop thread.
 *  2. Jobs run one at a time in the order posted, and are reported in that order, each once.  A
 *     report takes one job at a time, so a done() that waits for a job of its own keeps the order.
 *  3. Nothing is lost silently: a posted job is reported, or (a stop with a deadline) handed back
 *     to its poster unrun (cancel()), or, run by an abandoned thread, dropped.
 */
#ifndef KONCE_NODE_WORKER_H
#define KONCE_NODE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

typedef struct node_job node_job;
struct node_job {
	node_job *next;               /* the worker's */
	void (*run)(node_job *j);     /* on the worker thread */
	void (*done)(node_job *j);    /* on the loop thread, after run; NULL: none */
	void (*drop)(node_job *j);    /* on the worker thread, instead of done, when its worker was
				       * abandoned (node_worker_stop's deadline); NULL: none */
	void (*cancel)(node_job *j);  /* on the loop thread, in node_worker_stop, instead of run and
				       * done, when a stop with a deadline hands the job back unrun;
				       * NULL: none */
	bool ran;                     /* under the worker's mutex */
};

typedef struct node_worker node_worker;

/* Starts the thread, its jobs reported on base's loop.  fini(ctx) (NULL: none) runs on the thread
 * as its last act.  0, or a negative errno with nothing started. */
int node_worker_start(node_worker **out, struct event_base *base, void (*fini)(void *ctx), void *ctx);
/* Queues j (run, done and drop set by the caller).  0, or -ESHUTDOWN once the stop has begun. */
int node_worker_post(node_worker *w, node_job *j);
/* Waits here, on the loop thread, until j has run or the monotonic clock reaches deadline_us (0:
 * no deadline), then reports every job that ran.  Whether j ran before this returned. */
bool node_worker_wait(node_worker *w, node_job *j, uint64_t deadline_us);
/* Stops the thread and frees w.  deadline_us 0: the thread runs every job posted first, and all
 * are reported here; returns 0.  With a deadline: the jobs not yet taken are handed back unrun
 * (their cancel(), here, in the order posted), the job in progress is waited for until the
 * deadline; 0 when the thread exited (what ran is reported), or -ETIMEDOUT: the thread is
 * abandoned (worker.h's states). */
int node_worker_stop(node_worker *w, uint64_t deadline_us);

#endif
