/* node_travseam.c - the seam between the node core and the NAT traversal glue.
 *
 * Every call between them crosses here, in two directions:
 *
 *   core -> traversal: the core's hook table (konce_nodecore_hooks), filled by
 *     node_travseam_hooks():
 *       on_datagram  = node_trav_on_datagram  a PUNCH, before the endpoint sees the datagram
 *       outgoing     = node_trav_outgoing     datagrams to a virtual address (held, punched, relayed)
 *       on_message   = node_trav_on_message   KONCE_CLASS_RENDEZVOUS bodies from a session
 *       resolve      = node_trav_resolve      a key with no address: a virtual one + an introduction
 *       is_virtual   = node_trav_is_virtual   never noted to the store
 *       priority     = rendezvous types beside a fresh source's handshake in the input queue
 *
 *   traversal -> node: the traversal core's ops are the node core's peer table itself
 *     (node/core/nctrav.h), so nothing calls up through the I/O layer; the host (node_trav*.c)
 *     uses the node's socket, event base, clock and log like the rest of node/io.
 */
#include "node/io/node_int.h"
#include "node/core/inq.h"
#include "node/io/node_trav.h"

static bool seam_on_datagram(void *ctx, enum konce_rx_kind kind, const uint8_t *pkt, size_t len,
			     const konce_addr *from, uint64_t now)
{
	(void)now; /* the host reads its own clock */
	return node_trav_on_datagram(ctx, kind, pkt, len, from);
}

static bool seam_outgoing(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	return node_trav_outgoing(ctx, pkt, len, to);
}

static void seam_on_message(void *ctx, konce_ncpeer *from, const uint8_t *body, size_t len)
{
	node_trav_on_message(ctx, from, body, len);
}

static int seam_resolve(void *ctx, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a)
{
	return node_trav_resolve(ctx, pk, a); /* -EHOSTUNREACH without rendezvous */
}

static bool seam_is_virtual(void *ctx, const konce_addr *a)
{
	(void)ctx;
	return node_trav_is_virtual(a);
}

static bool seam_traversal(void *ctx)
{
	const struct konce_node *n = ctx;
	return n->trav != NULL;
}

void node_travseam_hooks(struct konce_node *n, konce_nodecore_hooks *h)
{
	*h = (konce_nodecore_hooks){
		.ctx = n,
		.on_datagram = seam_on_datagram,
		.outgoing = seam_outgoing,
		.on_message = seam_on_message,
		.resolve = seam_resolve,
		.is_virtual = seam_is_virtual,
		.traversal = seam_traversal,
	};
}
