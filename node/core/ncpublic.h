/* ncpublic.h - the node core's report views (ncinfo.h) in the public API's shapes
 * (include/konce/konce.h: konce_node_peers, konce_node_get_stats), sans-I/O: the host passes the
 * time.  konce_reason_str() is defined beside them. */
#ifndef KONCE_NCPUBLIC_H
#define KONCE_NCPUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"
#include "node/core/nodecore.h"

/* Fills out[0..max) with the peers (konce_node_peers); returns how many there are (may be > max). */
size_t konce_nodecore_peers_public(konce_nodecore *c, konce_peer_info *out, size_t max, uint64_t now);
/* konce_node_get_stats for a node started at started_us. */
void konce_nodecore_stats_public(konce_nodecore *c, uint64_t now, uint64_t started_us, konce_node_stats *out);

#endif
