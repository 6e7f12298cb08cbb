/* auxsock.h - a set of extra UDP sockets named by number, for a sans-I/O core that names its
 * sockets (the traversal host: birthday probing's sockets, the filtering test's two, the mapping
 * lifetime's probe socket; node/core/trav.h and trav_life.h number them 1..KONCE_TRAVLIFE_SOCK_PROBE,
 * 0 being the node's own socket).
 *
 * Plumbing only: which sockets are open and when, and their counters, are the core's
 * (node/core/nctravhost.h); a socket opens and closes when asked.  Every socket binds to the set's
 * IP (the node socket's) with an ephemeral port and is read from the event loop: each datagram goes
 * to rx with the socket's number, and done runs once after each read batch (the host runs its
 * core's pump there).
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

/* Sockets 1..nids, all closed, bound when opened to bind_ip's IP (its port is ignored; NULL: every
 * open fails with -EADDRNOTAVAIL).  done may be NULL.  0, -EINVAL, -ENOMEM. */
int node_aux_new(struct node_aux **out, struct event_base *base, const konce_addr *bind_ip, unsigned nids,
		 node_aux_rx rx, node_aux_done done, void *ctx);
void node_aux_free(struct node_aux *s);
/* Opens socket id if it is closed; local (may be NULL) gets its address.  0 or -errno. */
int node_aux_open(struct node_aux *s, unsigned id, konce_addr *local);
void node_aux_close(struct node_aux *s, unsigned id);
/* Sends from socket id.  0, -EINVAL (no such id), -ENOTCONN (closed) or -errno. */
int node_aux_send(struct node_aux *s, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *to);

#endif
