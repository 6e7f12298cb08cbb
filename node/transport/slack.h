/* slack.h - timer slack: the grid that recurring deadlines sit on, so that the deadlines of many
 * sessions within one grid step fall on one instant and one timer call serves them all
 * (ep_timer.c, "Coalescing", says which deadlines use it and why).  Shared by the endpoint
 * (a presence's keepalive, the idle close, the old key's wipe) and the conn (a channel's
 * keepalive, conn.c), so that a presence and a channel keep their PINGs on the same points. */
#ifndef KONCE_SLACK_H
#define KONCE_SLACK_H

#include <stdint.h>

enum { KONCE_EP_SLACK_MAX_US = 1 << 14 };

/* The grid of a deadline of a timer that recurs every interval_us: the largest power of two
 * microseconds at most interval_us / 64 and at most KONCE_EP_SLACK_MAX_US (1 for intervals under
 * 128 us: no grid). */
static inline uint64_t konce_ep_slack(uint64_t interval_us)
{
	uint64_t x = interval_us / 64;
	if (x > KONCE_EP_SLACK_MAX_US)
		x = KONCE_EP_SLACK_MAX_US;
	return x ? (uint64_t)1 << (63 - __builtin_clzll(x)) : 1;
}

/* A deadline that must not be missed (a keepalive: the NAT binding needs it by then), moved
 * earlier to its grid point: in (at_us - slack, at_us]. */
static inline uint64_t konce_ep_due_early(uint64_t at_us, uint64_t interval_us)
{
	if (at_us == UINT64_MAX)
		return at_us;
	return at_us & ~(konce_ep_slack(interval_us) - 1);
}

/* A deadline that must not come early (an idle close), moved later to its grid point: in
 * [at_us, at_us + slack). */
static inline uint64_t konce_ep_due_late(uint64_t at_us, uint64_t interval_us)
{
	uint64_t g = konce_ep_slack(interval_us);
	if (at_us > UINT64_MAX - g)
		return at_us;
	return (at_us + g - 1) & ~(g - 1);
}

#endif
