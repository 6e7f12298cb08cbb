/* node_trav_int.h - the node's traversal host (node_trav.c): the unit of traversal cores
 * (node/core/nctravhost.h) and the plumbing around it, shared with ctl_host.c.  The cores' own
 * state is theirs: this layer reads it through node/core/trav_info.h. */
#ifndef KONCE_NODE_TRAV_INT_H
#define KONCE_NODE_TRAV_INT_H

#include "node/core/nctravhost.h"
#include "node/io/auxsock.h"
#include "node/io/node_trav.h"
#include "node/io/portmap.h"

struct node_trav {
	struct konce_node *n;
	konce_nctravhost h; /* the cores; h.pm, h.bday_dropped, h.socks.st are what ctl_host.c reports */
	/* the cores' numbered sockets 1..KONCE_TRAVLIFE_SOCK_PROBE: birthday probing's pool, the
	 * filtering test's two, the lifetime's probe socket, opened and closed as h asks */
	struct node_aux *aux;
	konce_portmap *pm; /* NULL: no port mapping */
};

#endif
