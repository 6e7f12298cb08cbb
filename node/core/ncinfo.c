/* ncinfo.c - read-only views of the node core for status reports (ncinfo.h). */
#include <stdio.h>
#include <string.h>

#include "node/core/ncinfo.h"

void konce_nodecore_sample_traffic(konce_nodecore *c, uint64_t now)
{
	konce_ncpeer *const *by_pk = konce_nodecore_peer_buckets(c);
	konce_ep *ep = konce_nodecore_ep(c);
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		for (konce_ncpeer *p = by_pk[b]; p; p = p->pk_next) {
			uint64_t rx, tx;
			if (!p->conn || konce_ep_conn_traffic(ep, p->conn, &rx, &tx))
				rx = tx = 0;
			/* a new session restarts its counters: no negative rate */
			double secs = p->sample_us && now > p->sample_us ? (double)(now - p->sample_us) / 1e6 : 0;
			p->rx_rate = secs > 0 && rx >= p->sample_rx ? (double)(rx - p->sample_rx) / secs : 0;
			p->tx_rate = secs > 0 && tx >= p->sample_tx ? (double)(tx - p->sample_tx) / secs : 0;
			p->sample_rx = rx;
			p->sample_tx = tx;
			p->sample_us = now;
		}
}

void konce_nodecore_status(konce_nodecore *c, uint64_t now, konce_nc_status *o)
{
	konce_ep *ep = konce_nodecore_ep(c);
	const struct konce_ep_counters *e = konce_ep_counters(ep);
	memset(o, 0, sizeof(*o));
	konce_nodecore_stats_get(c, &o->core);
	o->ep = *e;
	konce_ep_memory_get(ep, &o->memory);
	o->pow_bits = konce_ep_pow_bits(ep, now);
	o->forged_dropped = e->data_auth_fail + e->data_replay + e->data_bad_header + e->init_bad_mac +
			    e->init_bad_pow + e->init_bad_box1 + e->init_bad_box2 + e->init_stale + e->cookie_bad +
			    e->accept_bad;
}

void konce_nodecore_peer_info(konce_nodecore *c, const konce_ncpeer *p, konce_nc_peer_info *o)
{
	memset(o, 0, sizeof(*o));
	o->peer = p;
	memcpy(o->pk, p->pk, KONCE_KEY_BYTES);
	o->addr = p->addr;
	o->up = p->up;
	o->rtt_us = p->rtt_us;
	o->msgs_rx = p->msgs_rx;
	o->msgs_tx = p->msgs_tx;
	o->since_us = p->since_us;
	o->last_contact_us = p->last_rx_us ? p->last_rx_us : p->since_us;
	o->identity = p->identity;
	if (p->up)
		memcpy(o->local_pk, p->local_pk, KONCE_KEY_BYTES);
	if (p->conn && konce_ep_conn_traffic(konce_nodecore_ep(c), p->conn, &o->rx_bytes, &o->tx_bytes))
		o->rx_bytes = o->tx_bytes = 0;
	o->rx_rate = p->rx_rate;
	o->tx_rate = p->tx_rate;
}

int konce_nodecore_peers_each(konce_nodecore *c, int (*fn)(void *ctx, const konce_nc_peer_info *row), void *ctx)
{
	konce_ncpeer *const *by_pk = konce_nodecore_peer_buckets(c);
	konce_nc_peer_info row;
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		for (const konce_ncpeer *p = by_pk[b]; p; p = p->pk_next) {
			konce_nodecore_peer_info(c, p, &row);
			int r = fn(ctx, &row);
			if (r)
				return r;
		}
	return 0;
}

void konce_nodecore_traffic(konce_nodecore *c, konce_nc_traffic *o)
{
	const konce_ncpeer *top[KONCE_NC_BUSIEST];
	size_t ntop = 0;
	konce_ncpeer *const *by_pk = konce_nodecore_peer_buckets(c);
	memset(o, 0, sizeof(*o));
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		for (const konce_ncpeer *p = by_pk[b]; p; p = p->pk_next) {
			double r = p->rx_rate + p->tx_rate;
			o->rx_rate += p->rx_rate;
			o->tx_rate += p->tx_rate;
			if (r <= 0)
				continue;
			/* insertion after every peer at least as busy: equal rates keep table order */
			size_t i = ntop;
			while (i > 0 && top[i - 1]->rx_rate + top[i - 1]->tx_rate < r)
				i--;
			if (i >= KONCE_NC_BUSIEST)
				continue;
			size_t last = ntop < KONCE_NC_BUSIEST ? ntop : KONCE_NC_BUSIEST - 1;
			memmove(&top[i + 1], &top[i], (last - i) * sizeof(top[0]));
			top[i] = p;
			if (ntop < KONCE_NC_BUSIEST)
				ntop++;
		}
	for (size_t i = 0; i < ntop; i++)
		konce_nodecore_peer_info(c, top[i], &o->busiest[i]);
	o->nbusiest = ntop;
}

void konce_nodecore_counters_line(konce_nodecore *c, char *buf, size_t cap)
{
	const struct konce_ep_counters *e = konce_ep_counters(konce_nodecore_ep(c));
	snprintf(buf, cap,
		 "counters: rx %llu tx %llu data_rx %llu unknown_cid %llu not_ready %llu bad_header %llu replay %llu "
		 "auth_fail %llu bad_frame %llu ring_full %llu",
		 (unsigned long long)e->rx_packets, (unsigned long long)e->tx_packets, (unsigned long long)e->data_rx,
		 (unsigned long long)e->data_unknown_cid, (unsigned long long)e->data_not_ready,
		 (unsigned long long)e->data_bad_header, (unsigned long long)e->data_replay,
		 (unsigned long long)e->data_auth_fail, (unsigned long long)e->data_bad_frame,
		 (unsigned long long)e->ring_full_datagrams);
}
