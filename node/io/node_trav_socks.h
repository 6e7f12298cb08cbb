/* node_trav_socks.h - the extra UDP sockets of birthday probing (nat/punch.h), for node_trav.c.
 *
 * The punch core numbers local sockets 0 (the node's own) and 1..KONCE_PUNCH_BIRTHDAY (extra, one
 * fresh NAT mapping each on a NAT that allocates at random).  This pool holds the extra ones: a
 * socket is opened the first time something is sent from its number, bound to the node socket's
 * address with an ephemeral port, and read from the event loop; datagrams it receives go to the
 * callback with its number.  node_trav_socks_sweep() closes every socket that no attempt and no
 * verified path needs any more, as the core says (konce_trav_socks_needed: all of them once no
 * peer is punching or within an attempt's window, except the one a peer's direct path was
 * verified on, which carries that peer's traffic until the path ends).
 *
 * Bounded: at most KONCE_PUNCH_BIRTHDAY sockets, shared by every traversal peer (one socket toward
 * several peers is several mappings on an endpoint-dependent NAT, so sharing costs nothing).  A
 * socket that cannot be opened (EMFILE, ...) makes its sends fail; the caller counts them.
 */
#ifndef KONCE_NODE_TRAV_SOCKS_H
#define KONCE_NODE_TRAV_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "nat/punch.h"
#include "node/base/addr.h"

struct konce_trav;
struct node_trav_socks;

typedef void (*node_trav_socks_rx)(void *ctx, unsigned sock, const uint8_t *pkt, size_t len,
				   const konce_addr *from);

struct node_trav_socks_stats {
	uint64_t opened, closed, open_failed, tx, tx_failed, rx;
	unsigned open_now, open_max; /* sockets open now, most open at once */
};

/* A pool whose sockets bind to bind_ip (its port is ignored).  0, -ENOMEM. */
int node_trav_socks_new(struct node_trav_socks **out, struct event_base *base, const konce_addr *bind_ip,
			node_trav_socks_rx rx, void *ctx);
void node_trav_socks_free(struct node_trav_socks *s);
/* Sends from socket sock (1..KONCE_PUNCH_BIRTHDAY), opening it first if needed.  0 or -errno. */
int node_trav_socks_send(struct node_trav_socks *s, unsigned sock, const konce_addr *to, const uint8_t *pkt,
			 size_t len);
/* Closes the sockets the traversal core's peers no longer need (konce_trav_socks_needed). */
void node_trav_socks_sweep(struct node_trav_socks *s, const struct konce_trav *t);
void node_trav_socks_get_stats(const struct node_trav_socks *s, struct node_trav_socks_stats *out);

#endif
