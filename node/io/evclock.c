/* evclock.c - the I/O layer's clock and timer arming (evclock.h). */
#include "node/io/evclock.h"

#include <time.h>

uint64_t node_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void node_timer_arm(struct event *ev, uint64_t at, uint64_t now)
{
	if (at == UINT64_MAX) {
		event_del(ev);
		return;
	}
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
	event_add(ev, &tv);
}
