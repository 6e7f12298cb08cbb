/* nctrav.h - the traversal core's view of the node core's peer table (trav.h konce_trav_ops),
 * sans-I/O: what the traversal core asks of the node (a peer's session and address, a dial, a
 * petname) is answered here from the node core itself, so that no host sits between the two. */
#ifndef KONCE_NCTRAV_H
#define KONCE_NCTRAV_H

#include <stdint.h>

#include "node/core/nodecore.h"
#include "node/core/trav.h"

/* The ops for konce_trav_cfg: peer = konce_nodecore_peer_find(); dial = a new peer and
 * konce_ep_connect() (the peer freed again if the connect fails); known = a petname in the known
 * set (KONCE_NC_NAMED).  ctx is c, which must outlive the traversal core. */
konce_trav_ops konce_nodecore_trav_ops(konce_nodecore *c);
/* KONCE_TRAV_EV_DECLINED: pk's side refused our introduction.  A peer not yet established is
 * closed and freed, its pendings failed with KONCE_REASON_INTRO_REFUSED (OUTCOME events); an
 * established one is kept. */
void konce_nodecore_trav_declined(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint64_t now);

#endif
