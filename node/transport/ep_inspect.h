/* ep_inspect.h - a read-only view of one session's reliability state, for tests and debugging.
 *
 * The simulator checks the transport's invariants (conn.h "Invariants") against the shipping
 * endpoint after every event (tests/sim/test_msg_reliable.c): congestion control's and recovery's
 * bytes in flight, the reassembly budget, refusals, and the fragments of each newly sent packet
 * against the send queue's ack state.  This is the only door to that state from outside the
 * endpoint; it changes nothing, and the daemon never calls it.
 */
#ifndef KONCE_EP_INSPECT_H
#define KONCE_EP_INSPECT_H

#include <stdint.h>

#include "node/transport/conn.h"
#include "node/transport/endpoint.h"

/* conn's reliability state (conn.h), or NULL if conn is unknown or is a presence without one (none
 * made yet, or shrunk back: ep_msg.c).  Valid until the next call into ep; read it, never write. */
const konce_conn *konce_ep_conn_inspect(const konce_ep *ep, uint32_t conn);

#endif
