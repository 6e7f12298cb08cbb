/* auxsock.h - a set of extra UDP sockets named by number, for a sans-I/O core that names its
 * sockets (the traversal host: birthday probing's sockets, the filtering test's two, the mapping
 * lifetime's probe socket; node/core/trav.h and trav_life.h number them 1..KONCE_TRAVLIFE_SOCK_PROBE,
 * 0 being the node's own socket).
 *
 * Every socket binds to the set's IP (the node socket's) with an ephemeral port and is read from
 * the event loop: each datagram goes to rx with the socket's number, and done runs once after each
 * read batch (the host runs its core's pump there).  Numbers 1..pool are the on-demand pool: a send
 * opens one if needed, node_aux_keep() closes those the core no longer needs, and the counters
 * (node_aux_stats) are the pool's.  Numbers above the pool open and close only when asked.
 * A socket that cannot be opened (EMFILE, no address) makes its sends fail.
 */
#ifndef KONCE_NODE_AUXSOCK_H
#define KONCE_NODE_AUXSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "node/base/addr.h"

struct node_aux;

typedef void (*node_aux_rx)(void *ctx, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *from);
typedef void (*node_aux_done)(void *ctx);

struct node_aux_stats {
	uint64_t opened, closed, open_failed, tx, tx_failed, rx;
	unsigned open_now, open_max; /* pool sockets open now, most open at once */
};

/* Sockets 1..nids (the first pool of them on demand), bound to bind_ip's IP (its port is ignored;
 * NULL: every open fails with -EADDRNOTAVAIL).  done may be NULL.  0, -EINVAL, -ENOMEM. */
int node_aux_new(struct node_aux **out, struct event_base *base, const konce_addr *bind_ip, unsigned nids,
		 unsigned pool, node_aux_rx rx, node_aux_done done, void *ctx);
void node_aux_free(struct node_aux *s);
/* Opens socket id if it is closed; local (may be NULL) gets its address.  0 or -errno. */
int node_aux_open(struct node_aux *s, unsigned id, konce_addr *local);
void node_aux_close(struct node_aux *s, unsigned id);
/* Sends from socket id (a pool socket is opened first).  0, -EINVAL (no such id), -ENOTCONN
 * (closed, not in the pool) or -errno. */
int node_aux_send(struct node_aux *s, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *to);
/* Closes every pool socket whose keep[id] is false (keep has pool + 1 entries, [0] unused). */
void node_aux_keep(struct node_aux *s, const bool *keep);
void node_aux_get_stats(const struct node_aux *s, struct node_aux_stats *out);

#endif
