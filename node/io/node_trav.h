/* node_trav.h - NAT traversal in the node: the hooks node.c, node_io.c, node_msg.c and control.c call.
 *
 * How a peer known by key alone is reached (docs/TRAVERSAL.md, "In the node"):
 *   1. konce_node_send() finds no address: node_trav_resolve() gives the endpoint a *virtual*
 *      address for the key: a path handle (node/base/addr.h; no ip, no port, never from the
 *      network) and asks the primary rendezvous for an introduction.
 *   2. Datagrams the endpoint sends to a virtual address never reach the socket:
 *      node_trav_outgoing() holds them while the punch runs, then sends them to the verified
 *      direct address, or wraps them in RELAY to the rendezvous once punching gave up.
 *   3. RELAYED payloads are fed to the endpoint as if they came from the sender's virtual
 *      address, so a relayed session is an ordinary session whose address is virtual; when a
 *      later attempt goes direct, the endpoint's own path validation moves it.
 * All state is bounded (NODE_TRAV_PEERS traversal peers, two held datagrams each).
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
/* A datagram from the endpoint: true if it went to a virtual address and was taken care of. */
bool node_trav_outgoing(struct konce_node *n, const uint8_t *pkt, size_t len, const konce_addr *to);
/* A message of class KONCE_CLASS_RENDEZVOUS (body only) from an authenticated peer. */
void node_trav_on_message(struct konce_node *n, struct peer *from, const uint8_t *body, size_t len);
/* No address known for pk: a virtual one, and an introduction is asked for.  0, -EHOSTUNREACH. */
int node_trav_resolve(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a);
bool node_trav_is_virtual(const konce_addr *a);
/* "direct", "relayed" for a peer's session. */
const char *node_trav_path_name(struct konce_node *n, const struct peer *p);
/* control commands "path" {"peer": KEY} (the last attempt's trace) and "netcheck". */
/* The traversal part of konce status: policy, refusal counters, the rendezvous service's table. */
json_t *node_trav_status_json(struct konce_node *n);
json_t *node_trav_control(struct konce_node *n, const char *cmd, json_t *req);

/* node_rdvsrv.c: the rendezvous service. */
struct node_rdvsrv;
int node_rdvsrv_new(struct node_rdvsrv **out, struct konce_node *n, unsigned slots);
void node_rdvsrv_free(struct node_rdvsrv *s);
/* REGISTER, INTRO_REQUEST or RELAY from peer: true if handled (served, or dropped as forged). */
void node_rdvsrv_input(struct node_rdvsrv *s, struct peer *from, const uint8_t *body, size_t len, uint64_t now);
json_t *node_rdvsrv_json(struct node_rdvsrv *s, uint64_t now);

/* Sends body as a KONCE_CLASS_RENDEZVOUS message on conn (reliable).  0 or negative errno. */
int node_trav_send_msg(struct konce_node *n, uint32_t conn, const uint8_t *body, size_t len);

#endif
