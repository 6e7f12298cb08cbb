/* ncpeer.c - the node core's peer table: one konce_ncpeer per durable key, found by key and by the
 * endpoint's conn handle (nodecore.h, "Peer lifecycle").  Keys hash with a keyed SipHash
 * (crypto_shorthash) so a peer cannot choose keys that collide in one bucket. */
#include <sodium.h>
#include <string.h>

#include "node/core/nc_int.h"

static unsigned pk_bucket(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, pk, KONCE_KEY_BYTES, c->hash_key);
	return (unsigned)(h[0] | h[1] << 8) % KONCE_NC_BUCKETS;
}

konce_ncpeer *konce_nodecore_peer_find(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	for (konce_ncpeer *p = c->by_pk[pk_bucket(c, pk)]; p; p = p->pk_next)
		if (!memcmp(p->pk, pk, KONCE_KEY_BYTES))
			return p;
	return NULL;
}

konce_ncpeer *konce_nodecore_peer_by_conn(konce_nodecore *c, uint32_t conn)
{
	if (!conn)
		return NULL;
	for (konce_ncpeer *p = c->by_conn[conn % KONCE_NC_BUCKETS]; p; p = p->conn_next)
		if (p->conn == conn)
			return p;
	return NULL;
}

konce_ncpeer *konce_nodecore_peer_add(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	konce_ncpeer *p = nc_alloc(c, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->pk, pk, KONCE_KEY_BYTES);
	unsigned b = pk_bucket(c, pk);
	p->pk_next = c->by_pk[b];
	c->by_pk[b] = p;
	c->npeers++;
	return p;
}

static void unlink_conn(konce_nodecore *c, konce_ncpeer *p)
{
	if (!p->conn)
		return;
	for (konce_ncpeer **pp = &c->by_conn[p->conn % KONCE_NC_BUCKETS]; *pp; pp = &(*pp)->conn_next)
		if (*pp == p) {
			*pp = p->conn_next;
			break;
		}
	p->conn = 0;
}

void konce_nodecore_peer_set_conn(konce_nodecore *c, konce_ncpeer *p, uint32_t conn)
{
	unlink_conn(c, p);
	p->conn = conn;
	if (conn) {
		p->conn_next = c->by_conn[conn % KONCE_NC_BUCKETS];
		c->by_conn[conn % KONCE_NC_BUCKETS] = p;
	}
}

void konce_nodecore_peer_free(konce_nodecore *c, konce_ncpeer *p, int reason)
{
	ncpending_fail_peer(c, p, reason); /* P2 */
	unlink_conn(c, p);
	for (konce_ncpeer **pp = &c->by_pk[pk_bucket(c, p->pk)]; *pp; pp = &(*pp)->pk_next)
		if (*pp == p) {
			*pp = p->pk_next;
			break;
		}
	c->npeers--;
	nc_free(c, p);
}

void ncpeer_free_all(konce_nodecore *c, int reason)
{
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		while (c->by_pk[b])
			konce_nodecore_peer_free(c, c->by_pk[b], reason);
}

konce_ncpeer *const *konce_nodecore_peer_buckets(const konce_nodecore *c) { return c->by_pk; }
unsigned konce_nodecore_npeers(const konce_nodecore *c) { return c->npeers; }

void konce_nodecore_close_all(konce_nodecore *c, uint64_t now)
{
	if (now > c->now)
		c->now = now;
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		for (konce_ncpeer *p = c->by_pk[b]; p; p = p->pk_next)
			if (p->conn)
				konce_ep_close(c->ep, p->conn, now);
	ncpeer_free_all(c, KONCE_REASON_LOCAL_CLOSE);
}
