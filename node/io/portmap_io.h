/* portmap_io.h - the blocking half of port mapping: one request, performed with libnatpmp or
 * miniupnpc.  Runs only on the port-mapping worker thread (portmap.c); every call is bounded.
 */
#ifndef KONCE_PORTMAP_IO_H
#define KONCE_PORTMAP_IO_H

#include <stdbool.h>
#include <stddef.h>

#include "nat/portmap_policy.h"

typedef struct konce_pmio konce_pmio;

/* NULL on allocation failure.  Nothing is sent until the first request. */
konce_pmio *konce_pmio_new(unsigned natpmp_timeout_ms, unsigned upnp_discover_ms);
void konce_pmio_free(konce_pmio *io);

/* Performs req and fills res (res->id = req->id).  detail gets a short human-readable note (the
 * gateway, the library's error), always NUL-terminated. */
void konce_pmio_do(konce_pmio *io, const konce_portmap_policy_req *req, konce_portmap_policy_result *res, char *detail, size_t dlen);

#endif
