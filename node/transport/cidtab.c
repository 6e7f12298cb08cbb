/* cidtab.c - connection id -> session, a chained hash table sized at endpoint creation.
 *
 * Ids are hashed with a secret SipHash key (crypto_shorthash), so a peer who picks the ids it
 * sends cannot aim lookups at one chain; our own ids are random, so chains stay short.
 */
#include <sodium.h>
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

konce_sess *konce_cid_find(const konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID])
{
	for (konce_sess *s = ep->cid_buckets[bucket(ep, cid)]; s; s = s->cid_next)
		if (memcmp(s->scid, cid, KONCE_WIRE_CID) == 0)
			return s;
	return NULL;
}

void konce_cid_insert(konce_ep *ep, konce_sess *s)
{
	unsigned b = bucket(ep, s->scid);
	s->cid_next = ep->cid_buckets[b];
	ep->cid_buckets[b] = s;
}

void konce_cid_remove(konce_ep *ep, konce_sess *s)
{
	for (konce_sess **pp = &ep->cid_buckets[bucket(ep, s->scid)]; *pp; pp = &(*pp)->cid_next)
		if (*pp == s) {
			*pp = s->cid_next;
			s->cid_next = NULL;
			return;
		}
}
