/* world_loop.h - runs a libevent-hosted test world until a condition holds, for the unit tests that
 * drive real nodes on one event base (test_node_group.c, test_node_group_replay.c).
 *
 * Include it after defining struct world, which has a `struct event_base *base` member.  Every
 * 20 ms a timer checks c(w) and breaks the loop once it holds; the loop also ends after secs
 * seconds.  run_until returns c(w) at the end, so a test asserts the condition, never the clock.
 */
#ifndef KONCE_TESTS_WORLD_LOOP_H
#define KONCE_TESTS_WORLD_LOOP_H

#include <event2/event.h>
#include <stdbool.h>

static bool (*cond)(struct world *w);

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct world *w = arg;
	(void)fd, (void)what;
	if (cond(w))
		event_base_loopbreak(w->base);
}

/* Runs the nodes until c(w) holds, at most secs seconds; returns c(w). */
static bool run_until(struct world *w, bool (*c)(struct world *), int secs)
{
	struct timeval every = {0, 20000}, limit = {secs, 0};
	cond = c;
	struct event *t = event_new(w->base, -1, EV_PERSIST, tick, w);
	event_add(t, &every);
	event_base_loopexit(w->base, &limit);
	event_base_dispatch(w->base);
	event_free(t);
	return c(w);
}

#endif
