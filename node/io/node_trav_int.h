/* node_trav_int.h - the node's traversal host (node_trav.c): the traversal core (node/core/trav.h)
 * and the plumbing around it, shared with node_trav_setup.c, ctl_host.c, node_trav_life.c,
 * node_travfilter.c and node_trav_socks.c.  The core's own state
 * (node/core/trav_int.h) is the core's: this layer reads it through node/core/trav_info.h. */
#ifndef KONCE_NODE_TRAV_INT_H
#define KONCE_NODE_TRAV_INT_H

#include <event2/event.h>

#include "node/core/trav.h"
#include "node/io/node_trav.h"
#include "node/io/portmap.h"

struct node_trav {
	struct konce_node *n;
	konce_trav *core;
	struct event *ev_timer, *ev_kick;
	konce_portmap *pm;
	const char *pm_state; /* "off", "trying", "mapped", "unavailable", "lost" */
	enum konce_portmap_policy_proto pm_proto;
	enum konce_portmap_policy_err pm_reason;
	konce_addr pm_external;
	struct node_trav_socks *socks; /* birthday probing's extra sockets (node_trav_socks.c), or NULL */
	struct node_filt *filt; /* the filtering test, both sides (node_travfilter.c) */
	struct node_trav_life *life; /* node_trav_life.c: mapping lifetime, NULL = off */
	uint64_t bday_dropped; /* datagrams for a birthday socket that could not be sent */
};

/* node_trav.c: run the core's pump soon (from the event loop, never inside the caller); create
 * the timer and kick events (node_trav_setup.c frees them).  0 or -ENOMEM. */
void node_trav_schedule(struct node_trav *t);
int node_trav_events_new(struct node_trav *t);

/* node_trav_life.c (mapping lifetime).  start: spec is the nat_lifetime setting; 0, -EINVAL (err
 * says why), -ENOMEM.  datagram: a LIFE_REQ from the node socket.  apply: after every pump. */
int node_trav_life_start(struct node_trav *t, const char *spec, char *err, size_t errlen);
void node_trav_life_free(struct node_trav *t);
void node_trav_life_datagram(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from);
void node_trav_life_apply(struct node_trav *t);
json_t *node_trav_life_json(struct node_trav *t);
json_t *node_trav_life_srv_json(struct node_trav *t);

/* node_travfilter.c: the filtering test's sockets (the test runs in the core, trav_filter.c).
 * sock: open or close socket id (KONCE_TRAV_SOCK_FILTER, _ALT) as the core's event asks, and
 * report it opened; send: a datagram the core addressed to one of them (true if id is one). */
int node_travfilter_new(struct node_trav *t);
void node_travfilter_free(struct node_trav *t);
void node_travfilter_sock(struct node_trav *t, unsigned id, bool open);
bool node_travfilter_send(struct node_trav *t, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *to);

#endif
