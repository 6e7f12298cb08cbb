/* trav_info.h - read-only views of the traversal core (trav.h) for its host: the rendezvous it
 * registers with, the primary's report of our reflexive address, and the registration refresh
 * the mapping lifetime (trav_life.h) sets.  Nothing here changes the core's state machines. */
#ifndef KONCE_TRAV_INFO_H
#define KONCE_TRAV_INFO_H

#include <stdbool.h>
#include <stdint.h>

#include "node/core/trav.h"

/* The rendezvous the client registers with ([0] = primary): their count, and *pk, *addr pointing
 * at the core's arrays (valid for its life).  0 when the node runs no client. */
unsigned konce_trav_rdvs(const konce_trav *t, const uint8_t (**pk)[KONCE_WIRE_KEY], const konce_addr **addr);
/* Whether the core runs the rendezvous client / the rendezvous service. */
bool konce_trav_has_client(const konce_trav *t);
bool konce_trav_has_service(const konce_trav *t);
/* The primary rendezvous's latest report of our reflexive address: 0, or -ENOENT. */
int konce_trav_reflexive(const konce_trav *t, konce_addr *a);
/* The registration refresh interval (konce_rdvclient_set_keepalive); no-op without a client. */
void konce_trav_set_rdv_keepalive(konce_trav *t, uint64_t keepalive_us);

#endif
