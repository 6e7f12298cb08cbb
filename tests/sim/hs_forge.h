/* hs_forge.h - handshake packets an attacker forges in the simulator (test_transport_flood.c,
 * test_transport_nostate.c): well-formed on the wire, with the random parts drawn from the
 * simulation's network stream, so a seed replays the same packets. */
#ifndef KONCE_SIM_HS_FORGE_H
#define KONCE_SIM_HS_FORGE_H

#include <stddef.h>
#include <stdint.h>

#include "node/transport/hs_packets.h"
#include "tests/sim/sim.h"

/* n random bytes from the network stream. */
void sim_rand_bytes(sim *s, uint8_t *p, size_t n);
/* A HELLO offering versions v, stamped with the virtual time, from a random client cid. */
size_t forge_hello(sim *s, const konce_versions *v, uint8_t out[KONCE_HELLO_SIZE]);
/* A well-formed INITIATE offering versions v and echoing cookie c, with random keys and boxes, len
 * bytes long (at least KONCE_INIT_BOX1). */
size_t forge_initiate(sim *s, const konce_versions *v, uint8_t *pkt, const konce_cookie_msg *c, size_t len);

#endif
