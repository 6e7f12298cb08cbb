/* node_trav.h - NAT traversal in the node: the hooks node.c, node_io.c and ctl_host.c
 * call.  They host the sans-I/O traversal core (node/core/trav.h, which says how a peer known by
 * key alone is reached through path handles): they feed it, send what it returns from the node's
 * socket or the birthday sockets, and run its timer.
 */
#ifndef KONCE_NODE_TRAV_H
#define KONCE_NODE_TRAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "konce/konce.h"
#include "node/base/addr.h"
#include "node/core/rx_switch.h"

struct konce_node;
struct peer;

void node_trav_free(struct konce_node *n);
/* A datagram from the socket, of kind k (node/core/rx_switch.h: the one switch on its type byte):
 * true if traversal consumed it (fed it to the endpoint itself, or dropped it). */
bool node_trav_on_datagram(struct konce_node *n, enum konce_rx_kind k, const uint8_t *pkt, size_t len,
			   const konce_addr *from);
/* A datagram from the endpoint: true if it went to a path handle and was taken care of. */
bool node_trav_outgoing(struct konce_node *n, const uint8_t *pkt, size_t len, const konce_addr *to);
/* A message of class KONCE_CLASS_RENDEZVOUS (body only) from an authenticated peer. */
void node_trav_on_message(struct konce_node *n, struct peer *from, const uint8_t *body, size_t len);
/* No address known for pk: a virtual one, and an introduction is asked for.  0, -EHOSTUNREACH. */
int node_trav_resolve(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a);
bool node_trav_is_virtual(const konce_addr *a);
/* "direct", "relayed" for a peer's session. */
const char *node_trav_path_name(struct konce_node *n, const struct peer *p);

/* Sends body as a KONCE_CLASS_RENDEZVOUS message on conn (reliable).  0 or negative errno. */
int node_trav_send_msg(struct konce_node *n, uint32_t conn, const uint8_t *body, size_t len);

#endif
