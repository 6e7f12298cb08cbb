/* node_trav_int.h - the node's traversal host (node_trav.c): the traversal core (node/core/trav.h),
 * the mapping lifetime core composed with it (node/core/nctravlife.h) and the plumbing around
 * them, shared with node_trav_setup.c and ctl_host.c.  The cores' own state is theirs: this layer
 * reads it through node/core/trav_info.h. */
#ifndef KONCE_NODE_TRAV_INT_H
#define KONCE_NODE_TRAV_INT_H

#include <event2/event.h>

#include "node/core/nctrav.h"
#include "node/core/nctravlife.h"
#include "node/core/trav.h"
#include "node/core/trav_life.h"
#include "node/io/auxsock.h"
#include "node/io/node_trav.h"
#include "node/io/portmap.h"

struct node_trav {
	struct konce_node *n;
	konce_trav *core;
	konce_travlife *life;     /* the mapping lifetime, NULL = off */
	konce_nctravlife life_with; /* what it is composed with (life's ops point here) */
	/* the cores' numbered sockets 1..KONCE_TRAVLIFE_SOCK_PROBE: birthday probing's pool, the
	 * filtering test's two, the lifetime's probe socket */
	struct node_aux *aux;
	bool due; /* node_trav_schedule()d: node_trav_run() runs the cores on the loop's next turn */
	konce_nodecore_trav_glue glue; /* the node core's hooks' context (node_trav_hook) */
	konce_portmap *pm;
	konce_portmap_status pm_status; /* what the port-mapping worker last reported */
	uint64_t bday_dropped; /* datagrams for a birthday socket that could not be sent */
};

/* node_trav.c: run the cores' pump soon (from the event loop, never inside the caller); create
 * the socket set on the node socket's address local (NULL: unknown; node_trav_setup.c frees it).
 * 0 or -ENOMEM. */
void node_trav_schedule(struct node_trav *t);
int node_trav_aux_new(struct node_trav *t, const konce_addr *local);
/* node_trav.c: the node core's hooks over the started cores (konce_nodecore_trav_hooks). */
void node_trav_hook(struct node_trav *t);

#endif
