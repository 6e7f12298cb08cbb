/* nc_event.h - an application's part of a node core's events, as the tests that drive node cores
 * by hand play it (test_ncidentity.c, test_ncinfo.c, test_nodecore.c, and tests/sim/core_host.c):
 * an OUTCOME calls the sender's outcome function, a MESSAGE its handler (with no konce_node). */
#ifndef KONCE_TEST_NC_EVENT_H
#define KONCE_TEST_NC_EVENT_H

#include <stdbool.h>

#include "node/core/nodecore.h"

/* True if ev was the application's (OUTCOME or MESSAGE) and has been handed to it. */
static inline bool nc_app_event(const konce_nc_event *ev)
{
	switch (ev->type) {
	case KONCE_NC_EV_OUTCOME:
		ev->fn(ev->ctx, ev->outcome, ev->reason, ev->data, ev->len);
		return true;
	case KONCE_NC_EV_MESSAGE:
		ev->handler(ev->handler_ctx, NULL, &ev->msg);
		return true;
	default:
		return false;
	}
}

#endif
