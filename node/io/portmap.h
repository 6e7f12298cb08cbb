/* portmap.h - a UDP port mapping on the home router, held in the background of a libevent loop.
 *
 * The policy (nat/portmap_policy.h) runs on the loop's thread and decides what to ask for; one
 * worker thread (node/io/worker.h) performs each request with the blocking libraries (libnatpmp,
 * miniupnpc), and the loop is woken with its result.  The loop therefore never waits on the network:
 * a request is a job posted to the worker (the policy keeps at most one outstanding, so one job
 * carries them all) and the loop goes on.
 *
 * Timeouts (each bounded, so a dead or silent gateway costs seconds, not the RFC's minute):
 *   - NAT-PMP: libnatpmp's retransmissions (250 ms, doubling) until cfg.natpmp_timeout_ms;
 *   - UPnP discovery: SSDP waits cfg.upnp_discover_ms;
 *   - UPnP SOAP calls: miniupnpc's own socket timeouts (3 s per connect/send/receive).
 *
 * Threads: konce_portmap_start and konce_portmap_stop, and the callback, run on the loop's
 * thread.  Never call konce_portmap_stop from inside the callback; break the loop instead.
 */
#ifndef KONCE_PORTMAP_H
#define KONCE_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/portmap_policy.h"

struct event_base;

typedef struct konce_portmap konce_portmap;

/* ev: MAPPED (external address and port, protocol, granted lifetime; again with changed=true if the
 * router moved it), LOST, UNAVAILABLE (reason; the policy retries after backoff).  ev is valid for
 * the call only. */
typedef void (*konce_portmap_cb)(void *ctx, const konce_portmap_policy_event *ev);
/* One line per request and result ("renew natpmp 11.0.0.10:40000 lifetime 6 s"), for verbose output. */
typedef void (*konce_portmap_trace_cb)(void *ctx, const char *line);

typedef struct konce_portmap_cfg {
	/* what to ask for and how to retry (nat/portmap_policy.h): internal_port (required),
	 * external_port, lifetime_s, protos, the backoff */
	konce_portmap_policy_cfg policy;
	unsigned natpmp_timeout_ms; /* per NAT-PMP request; 0 = 2000 */
	unsigned upnp_discover_ms;  /* SSDP wait; 0 = 2000 */
	konce_portmap_cb cb;        /* required */
	konce_portmap_trace_cb trace; /* optional */
	void *ctx;
} konce_portmap_cfg;

/* Starts the worker thread and the first discovery.  0 and *out, or -EINVAL, -ENOMEM, or the
 * negative errno of eventfd/pthread_create; on failure nothing runs and cb is never called.
 * cfg is copied. */
int konce_portmap_start(konce_portmap **out, struct event_base *base, const konce_portmap_cfg *cfg);

/* Deletes a held lease and stops the worker, waiting at most timeout_ms in all (the loop need not
 * run).  Frees pm.  0, or -ETIMEDOUT if the lease could not be confirmed deleted in time (a worker
 * still stuck in a library call is then left to finish and free itself).  cb is not called. */
int konce_portmap_stop(konce_portmap *pm, unsigned timeout_ms);

#endif
