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
 *   traversal -> node: the glue (node_trav*.c, node_rdvsrv.c, node_travfilter.c, ...) still calls
 *     up into the node by these names and reads struct konce_node's seam fields (node_int.h: ep,
 *     by_pk, npeers, msgs_dropped, udp, base, store, pk).  The functions below keep those names
 *     working on the core's peer table:
 *       node_peer_find / node_peer_by_conn / node_peer_add / node_peer_set_conn / node_peer_free
 *     and node_io_kick() (node_io.c), node_log() and node_now_us() (node.c).
 *
 * When traversal becomes a sans-I/O core of its own, it plugs into the hook table directly and this
 * file, the seam fields and those up-calls go.
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

struct peer *node_peer_find(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES])
{
	return konce_nodecore_peer_find(n->core, pk);
}

struct peer *node_peer_by_conn(struct konce_node *n, uint32_t conn) { return konce_nodecore_peer_by_conn(n->core, conn); }

struct peer *node_peer_add(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES])
{
	struct peer *p = konce_nodecore_peer_add(n->core, pk);
	n->npeers = konce_nodecore_npeers(n->core);
	return p;
}

void node_peer_set_conn(struct konce_node *n, struct peer *p, uint32_t conn)
{
	konce_nodecore_peer_set_conn(n->core, p, conn);
}

void node_peer_free(struct konce_node *n, struct peer *p, int reason)
{
	konce_nodecore_peer_free(n->core, p, reason);
	n->npeers = konce_nodecore_npeers(n->core);
	node_io_schedule(n); /* its pendings' outcomes */
}
