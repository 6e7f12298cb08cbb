/* node_trav.h - NAT traversal in the node: what node.c and node_io.c call.  They host
 * the sans-I/O traversal core (node/core/trav.h, which says how a peer known by key alone is
 * reached through path handles): they feed it, send what it returns from the node's socket or the
 * numbered extra sockets (auxsock.h), and run its timer.
 */
#ifndef KONCE_NODE_TRAV_H
#define KONCE_NODE_TRAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"
#include "node/base/addr.h"
#include "node/core/nodecore.h"

struct konce_node;

void node_trav_free(struct konce_node *n);
/* From node_io.c's loop: runs the traversal cores (their timers, pumps and events, what they send)
 * when scheduled or due, and nothing otherwise (no traversal: a no-op). */
void node_trav_run(struct konce_node *n, uint64_t now);
/* The traversal cores' next deadline (UINT64_MAX: none, or no traversal); a scheduled run comes
 * from node_io.c's kick event instead. */
uint64_t node_trav_next_timer(struct konce_node *n);

#endif
