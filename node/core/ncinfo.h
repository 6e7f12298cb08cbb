/* ncinfo.h - read-only views of the node core for status reports: the counters, one row per
 * active peer, and the traffic summary with the busiest peers (docs/CONTROL.md "status", "peers").
 *
 * The core fills plain structs; the control protocol only turns them into JSON
 * (node/ctl/ctl_status.c), and the I/O layer into the public konce_node_stats (node/io/node.c).
 * Rates come from the last konce_nodecore_sample_traffic(c, now): bytes of each session between two
 * samples divided by the time between them.  Nothing here writes the core's state except the sample itself.
 */
#ifndef KONCE_NCINFO_H
#define KONCE_NCINFO_H

#include <stddef.h>
#include <stdint.h>

#include "node/core/nodecore.h"

enum { KONCE_NC_BUSIEST = 16 }; /* peers named in the traffic summary */

/* One active peer (a session up or a connect in progress). */
typedef struct konce_nc_peer_info {
	const konce_ncpeer *peer; /* for the traversal glue's path name; valid until the core runs */
	uint8_t pk[KONCE_KEY_BYTES];
	konce_addr addr;
	int up;
	uint32_t rtt_us;          /* 0 = never measured */
	uint64_t msgs_rx, msgs_tx;
	uint64_t since_us;        /* when the peer was added (its session or connect began) */
	uint64_t last_contact_us; /* last datagram from the peer, else when the peer was added */
	int identity;             /* enum konce_nc_identity */
	uint8_t local_pk[KONCE_KEY_BYTES]; /* our key in the session once up, else zeros */
	uint64_t rx_bytes, tx_bytes;       /* session totals (0 without a session) */
	double rx_rate, tx_rate;           /* bytes per second over the last sample interval */
} konce_nc_peer_info;

/* The node's traffic: the sum of the peers' rates, and the busiest peers (rx + tx rate, busiest
 * first; peers with no traffic are left out; equal rates keep table order). */
typedef struct konce_nc_traffic {
	double rx_rate, tx_rate;
	size_t nbusiest;
	konce_nc_peer_info busiest[KONCE_NC_BUSIEST];
} konce_nc_traffic;

/* The counters a status report shows. */
typedef struct konce_nc_status {
	konce_nodecore_stats core;
	struct konce_ep_counters ep;
	konce_ep_memory memory;
	unsigned pow_bits;       /* the endpoint's proof-of-work difficulty at now */
	uint64_t forged_dropped; /* datagrams that failed authentication, of every kind */
} konce_nc_status;

/* Rates of every peer's session traffic since the last call (the first call only sets the base). */
void konce_nodecore_sample_traffic(konce_nodecore *c, uint64_t now);
void konce_nodecore_status(konce_nodecore *c, uint64_t now, konce_nc_status *out);
/* Fills the row of p. */
void konce_nodecore_peer_info(konce_nodecore *c, const konce_ncpeer *p, konce_nc_peer_info *out);
/* Calls fn for each active peer in table order; stops at fn's first nonzero return, and returns it. */
int konce_nodecore_peers_each(konce_nodecore *c, int (*fn)(void *ctx, const konce_nc_peer_info *row), void *ctx);
void konce_nodecore_traffic(konce_nodecore *c, konce_nc_traffic *out);
/* The endpoint's receive and send counters as one log line ("counters: rx N tx N data_rx N ..."),
 * written by the host at stop. */
void konce_nodecore_counters_line(konce_nodecore *c, char *buf, size_t cap);

#endif
