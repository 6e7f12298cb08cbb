/* nctrav.h - the traversal core's view of the node core's peer table (trav.h konce_trav_ops),
 * sans-I/O: what the traversal core asks of the node (a peer's session and address, a dial, a
 * petname) is answered here from the node core itself, so that no host sits between the two. */
#ifndef KONCE_NCTRAV_H
#define KONCE_NCTRAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/portmap_policy.h"
#include "node/core/nodecore.h"
#include "node/core/rx_switch.h"
#include "node/core/trav.h"
#include "node/core/trav_life.h"

/* The ops for konce_trav_cfg: peer = konce_nodecore_peer_find(); dial = a new peer and
 * konce_ep_connect() (the peer freed again if the connect fails); known = a petname in the known
 * set (KONCE_NC_NAMED).  ctx is c, which must outlive the traversal core. */
konce_trav_ops konce_nodecore_trav_ops(konce_nodecore *c);
/* KONCE_TRAV_EV_DECLINED: pk's side refused our introduction.  A peer not yet established is
 * closed and freed, its pendings failed with KONCE_REASON_INTRO_REFUSED (OUTCOME events); an
 * established one is kept. */
void konce_nodecore_trav_declined(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint64_t now);

/* The bodies of two node core hooks over the traversal core t (NULL = traversal off), one copy for
 * every host (node/io/node_trav.c, tests/sim/trav_host.c); the host then runs t if it took
 * something.
 *   outgoing: a datagram of the endpoint for `to`.  false if `to` is not a path handle (it goes
 *     to the socket); else true (never to a socket) and *queued = whether t took it.
 *   message: a KONCE_CLASS_RENDEZVOUS body from the peer `from` of c.  true if fed to t; an
 *     empty body, or no t, is counted as a dropped message of c. */
bool konce_nodecore_trav_outgoing(konce_trav *t, const uint8_t *pkt, size_t len, const konce_addr *to,
				  uint64_t now, bool *queued);
bool konce_nodecore_trav_message(konce_nodecore *c, konce_trav *t, const konce_ncpeer *from, const uint8_t *body,
				 size_t len, uint64_t now);

/* The node core's hooks over traversal, one table for every host (node/io/node_trav.c,
 * tests/sim/trav_host.c), for konce_nodecore_set_hooks() once the traversal core exists (without
 * hooks the node core takes nothing for traversal, resolves no bare key and drops rendezvous
 * messages).  g is their context and outlives them: c the node core, t the traversal core, life
 * the lifetime core (NULL: none, a LIFE_REQ is dropped).  They work at the node core's latest time
 * (konce_nodecore_now).  Whenever t took something, kick(kick_ctx) asks the host to run t soon,
 * never inside the call (NULL: the host runs t after every call anyway).
 *   on_datagram: konce_nodecore_trav_input() on the node socket; outgoing and on_message: the
 *   bodies below; resolve: a path handle for the key, and an introduction asked for;
 *   is_virtual: a path handle (never noted to the store); traversed: t holds an entry for the key
 *   (konce_trav_path_info_get() finds one); traversal: always. */
typedef struct konce_nodecore_trav_glue {
	konce_nodecore *c;
	konce_trav *t;
	konce_travlife *life;
	void (*kick)(void *ctx);
	void *kick_ctx;
} konce_nodecore_trav_glue;
void konce_nodecore_trav_hooks(konce_nodecore_trav_glue *g, konce_nodecore_hooks *h);

/* Where a datagram for traversal goes, one rule for every host: from local socket sock (0: the
 * node's, after the receive switch said k; 1..KONCE_PUNCH_BIRTHDAY: birthday probing's pool;
 * above: the filtering test's, and KONCE_TRAVLIFE_SOCK_PROBE the lifetime's), to the traversal
 * core t or the lifetime core life (NULL: off).  A LIFE_REQ is the lifetime service's on the node
 * socket, and dropped on any other; the filtering test's and the probe socket's are always taken.
 * true if taken; false if it is not traversal's (the node socket's goes on to the endpoint; a pool
 * socket's is refused, konce_trav_count_refused). */
bool konce_nodecore_trav_input(konce_trav *t, konce_travlife *life, unsigned sock, enum konce_rx_kind k,
			       const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);

/* An event of the host's port-mapping worker (nat/portmap_policy.h), for the traversal core t: st
 * notes it (konce_portmap_status_note); MAPPED hands t the external address as our MAPPED
 * candidate, LOST takes it back, UNAVAILABLE changes nothing (the policy retries).  Returns the
 * host's log line's level (KONCE_LOG_INFO for MAPPED and LOST, KONCE_LOG_DEBUG for UNAVAILABLE)
 * with its text in line. */
int konce_nodecore_trav_portmap(konce_trav *t, konce_portmap_status *st, const konce_portmap_policy_event *ev,
				uint64_t now, char *line, size_t cap);

#endif
