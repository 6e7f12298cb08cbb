/* nctravlife.h - the mapping lifetime core (trav_life.h) composed with the node core and the
 * traversal core, sans-I/O: its ops are the node core's peer table and endpoint and the traversal
 * core's keepalive setters, and apply() hands it the traversal core's reflexive address and the
 * node's number of peers.  nctravhost.h runs it with the traversal core; the host
 * (node/io/node_trav.c) only adds the probe socket, the timer and the log. */
#ifndef KONCE_NCTRAVLIFE_H
#define KONCE_NCTRAVLIFE_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/lifetime.h"
#include "node/core/nodecore.h"
#include "node/core/trav.h"
#include "node/core/trav_life.h"

/* The caller fills it; it must outlive the lifetime core. */
typedef struct konce_nctravlife {
	konce_nodecore *c;
	konce_trav *t;
	void (*log)(void *ctx, int level, const char *text); /* NULL: no log */
	void *log_ctx;
} konce_nctravlife;

/* The lifetime core's configuration for the nat_lifetime setting (off, life: konce_travconf):
 * the search runs when it is not off and the node registers with a rendezvous, the service when
 * the node is one.  false when neither does (no lifetime core is needed); out's ops point at b. */
bool konce_nctravlife_cfg(konce_nctravlife *b, bool off, const konce_lifetime_cfg *life, konce_travlife_cfg *out);
/* After every traversal pump: the reflexive address the primary rendezvous reports (a new one is
 * a rebound) and the number of peers (their keepalives are set again when it changes). */
void konce_nctravlife_apply(const konce_nctravlife *b, konce_travlife *l, uint64_t now);

#endif
