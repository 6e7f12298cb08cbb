/* evclock.h - the I/O layer's clock and the one way it arms a core's timer: every host asks its
 * sans-I/O core for the next deadline (monotonic microseconds, UINT64_MAX = none) and arms a
 * node_ptimer at it (the node core's and traversal's, the port-mapping policy's).
 *
 * Why a timerfd and not a libevent timer: libevent keeps its time with CLOCK_MONOTONIC_COARSE
 * unless the application made its event base with EVENT_BASE_FLAG_PRECISE_TIMER, and that clock
 * moves once a jiffy (4 ms at HZ=250), so a libevent timer fires up to a jiffy late.  node_ptimer
 * fires at its deadline on CLOCK_MONOTONIC, whatever the base: a timerfd the loop watches.  The
 * node's core timer needs it, because the pacer's deadlines are a fraction of a millisecond apart:
 * a pacer with a 2 ms burst woken every 4 ms sends half its rate, and BBR's STARTUP, whose
 * bandwidth samples follow what the pacer let out, grew 1.1-1.7x a round instead of ~2x
 * (docs/BENCH.md, "The start of a transfer, and the pacer's timer"; pacer.h now also widens the
 * burst by how late wakes come).  The deadlines are absolute, so the one kind serves every core.
 */
#ifndef KONCE_NODE_EVCLOCK_H
#define KONCE_NODE_EVCLOCK_H

#include <stdint.h>

#include <event2/event.h>

/* CLOCK_MONOTONIC in microseconds: the time every core is given. */
uint64_t node_now_us(void);
/* The same as a callback for a sans-I/O caller that reads the host's clock (ctx unused). */
uint64_t node_clock_us(void *ctx);

/* A timer on CLOCK_MONOTONIC (a timerfd).  The caller allocates it; cb(arg) runs from the loop at
 * the deadline. */
typedef struct node_ptimer {
	struct event *ev;
	int fd;
	uint64_t armed; /* the deadline set in the timerfd (UINT64_MAX: none) */
	void (*cb)(void *arg);
	void *arg;
} node_ptimer;

/* 0, or a negative errno (then nothing is held, and t->ev is NULL). */
int node_ptimer_init(node_ptimer *t, struct event_base *base, void (*cb)(void *arg), void *arg);
/* Fires at deadline at (CLOCK_MONOTONIC us; a past one on the loop's next turn), or never for
 * UINT64_MAX.  Replaces the previous deadline. */
void node_ptimer_arm(node_ptimer *t, uint64_t at);
/* Safe on a freed timer, one whose init failed, and a zeroed one (t->ev NULL: nothing held). */
void node_ptimer_free(node_ptimer *t);

#endif
