/* cidtab.c - connection id -> session, a chained hash table sized at endpoint creation.
 *
 * Ids are hashed with a secret SipHash key (crypto_shorthash), so a peer who picks the ids it
 * sends cannot aim lookups at one chain; our own ids are random or derived from secret keys
 * (cidrot.c), so chains stay short.  A session holds up to KONCE_EP_CIDS entries: its handshake
 * id (epoch 0, s->scid) and the derived ids of the epochs the peer may use (cidrot.c).
 */
#include <sodium.h>
#include <stddef.h>
#include <string.h>

#include "node/transport/ep_internal.h"

static unsigned bucket(const konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, cid, KONCE_WIRE_CID, ep->cid_key);
	uint32_t v;
	memcpy(&v, h, sizeof v);
	return v & ep->cid_mask;
}

konce_sess *konce_cid_lookup(const konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID], uint32_t *epoch)
{
	for (konce_cident *e = ep->cid_buckets[bucket(ep, cid)]; e; e = e->next)
		if (memcmp(e->cid, cid, KONCE_WIRE_CID) == 0) {
			if (epoch)
				*epoch = e->epoch;
			return (konce_sess *)((char *)(e - e->idx) - offsetof(konce_sess, cids));
		}
	return NULL;
}

konce_sess *konce_cid_find(const konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID])
{
	return konce_cid_lookup(ep, cid, NULL);
}

void konce_cid_add(konce_ep *ep, konce_sess *s, konce_cident *e, const uint8_t cid[KONCE_WIRE_CID], uint32_t epoch)
{
	memcpy(e->cid, cid, KONCE_WIRE_CID);
	e->epoch = epoch;
	e->idx = (uint8_t)(e - s->cids);
	e->used = true;
	unsigned b = bucket(ep, e->cid);
	e->next = ep->cid_buckets[b];
	ep->cid_buckets[b] = e;
}

void konce_cid_del(konce_ep *ep, konce_cident *e)
{
	if (!e->used)
		return;
	for (konce_cident **pp = &ep->cid_buckets[bucket(ep, e->cid)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	memset(e, 0, sizeof *e);
}

void konce_cid_insert(konce_ep *ep, konce_sess *s) { konce_cid_add(ep, s, &s->cids[0], s->scid, 0); }

void konce_cid_remove(konce_ep *ep, konce_sess *s)
{
	for (unsigned i = 0; i < KONCE_EP_CIDS; i++)
		konce_cid_del(ep, &s->cids[i]);
}
