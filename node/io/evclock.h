/* evclock.h - the I/O layer's clock and the one way it arms a core's timer: every host asks its
 * sans-I/O core for the next deadline (monotonic microseconds, UINT64_MAX = none) and arms a
 * libevent timer at it. */
#ifndef KONCE_NODE_EVCLOCK_H
#define KONCE_NODE_EVCLOCK_H

#include <stdint.h>

#include <event2/event.h>

/* CLOCK_MONOTONIC in microseconds: the time every core is given. */
uint64_t node_now_us(void);
/* Arms ev to fire at deadline at (now: the time the deadline was computed against; a past
 * deadline fires on the loop's next turn), or deletes it when at is UINT64_MAX. */
void node_timer_arm(struct event *ev, uint64_t at, uint64_t now);

#endif
