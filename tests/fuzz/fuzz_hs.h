/* fuzz_hs.h - what the handshake packet targets (fuzz_hello.c, fuzz_initiate.c, fuzz_accept.c)
 * share: the server endpoint they feed, and the input typed as one of their packets (header
 * only). */
#ifndef KONCE_FUZZ_HS_H
#define KONCE_FUZZ_HS_H

#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/base/wire.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"

/* Makes *server, once: an endpoint on fz_env, at time 1 s, with the identity of the secret {2}
 * (*id).  Aborts on failure. */
static inline void fz_server(konce_ep **server, konce_identity **id)
{
	if (*server)
		return;
	uint8_t secret[32] = {2};
	konce_ep_config cfg = {.env = &fz_env};
	if (konce_identity_from_secret(id, secret) || !(cfg.identity = *id) || konce_ep_new(server, &cfg, 1000000))
		abort();
}

/* The input d[0, n) as a datagram of the given type in pkt[KONCE_WIRE_MAX_DATAGRAM]: cut to that
 * size, its first byte replaced by the type.  Returns its length. */
static inline size_t fz_typed(uint8_t *pkt, const uint8_t *d, size_t n, uint8_t type)
{
	if (n > KONCE_WIRE_MAX_DATAGRAM)
		n = KONCE_WIRE_MAX_DATAGRAM;
	memcpy(pkt, d, n);
	if (n)
		pkt[0] = type;
	return n;
}

#endif
