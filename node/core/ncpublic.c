/* ncpublic.c - the node core's report views in the public API's shapes (ncpublic.h). */
#include "node/core/ncpublic.h"

#include <stdio.h>
#include <string.h>

#include "node/core/ncinfo.h"

_Static_assert((int)KONCE_NC_ID_UNSET == (int)KONCE_IDENTITY_DEFAULT &&
		       (int)KONCE_NC_ID_PER_SERVER == (int)KONCE_IDENTITY_PER_SERVER &&
		       (int)KONCE_NC_ID_MASTER == (int)KONCE_IDENTITY_MASTER,
	       "konce_peer_info.identity is the core's enum");

const char *konce_reason_str(int reason)
{
	switch (reason) {
	case KONCE_REASON_NONE: return "none";
	case KONCE_REASON_UNREACHABLE: return "unreachable";
	case KONCE_REASON_REFUSED: return "refused";
	case KONCE_REASON_TIMED_OUT: return "timed out";
	case KONCE_REASON_TOO_LARGE: return "too large";
	case KONCE_REASON_PEER_CLOSED: return "peer closed";
	case KONCE_REASON_PROTOCOL: return "protocol mismatch";
	case KONCE_REASON_LOCAL_CLOSE: return "local close";
	case KONCE_REASON_INTRO_REFUSED: return "introduction refused: the peer accepts only keys it knows";
	}
	return "unknown";
}

struct peers_out {
	konce_peer_info *out;
	size_t i, max;
	uint64_t now;
};

static int peer_out(void *ctx, const konce_nc_peer_info *r)
{
	struct peers_out *po = ctx;
	char as[KONCE_ADDR_STRLEN];
	if (po->i < po->max) {
		konce_peer_info *o = &po->out[po->i];
		memset(o, 0, sizeof(*o));
		memcpy(o->pk, r->pk, KONCE_KEY_BYTES);
		snprintf(o->addr, sizeof(o->addr), "%s", konce_addr_str(&r->addr, as));
		o->up = r->up;
		o->rtt_us = r->rtt_us;
		o->msgs_rx = r->msgs_rx;
		o->msgs_tx = r->msgs_tx;
		o->since_ms = (po->now - r->since_us) / 1000u;
		o->identity = r->identity; /* enum konce_nc_identity = enum konce_identity_mode */
		memcpy(o->local_pk, r->local_pk, KONCE_KEY_BYTES);
	}
	po->i++;
	return 0;
}

size_t konce_nodecore_peers_public(konce_nodecore *c, konce_peer_info *out, size_t max, uint64_t now)
{
	struct peers_out po = {out, 0, max, now};
	konce_nodecore_peers_each(c, peer_out, &po);
	return po.i;
}

void konce_nodecore_stats_public(konce_nodecore *c, uint64_t now, uint64_t started_us, konce_node_stats *o)
{
	konce_nc_status st;
	konce_nodecore_status(c, now, &st);
	memset(o, 0, sizeof(*o));
	o->uptime_ms = (now - started_us) / 1000u;
	o->peers_active = st.core.peers;
	o->msgs_rx = st.core.msgs_rx;
	o->msgs_tx = st.core.msgs_tx;
	o->msgs_dropped = st.core.msgs_dropped;
	o->rx_packets = st.ep.rx_packets;
	o->tx_packets = st.ep.tx_packets;
	o->handshakes_in = st.ep.accept_tx;
	o->handshakes_failed = st.ep.hs_failed;
	o->forged_dropped = st.forged_dropped;
	o->pow_bits = st.pow_bits;
}
