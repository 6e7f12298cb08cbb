/* node_travpolicy.c - "introductions = known": a node that refuses introductions from strangers.
 *
 * Known, for this node, means one of (issue 15: a handshake alone no longer makes a key known,
 * or one stranger's accepted introduction would be known for ever):
 *   1. a peer with a live session now (it proved its key to us);
 *   2. a key the application asked to reach (konce connect/send/ping by key: a solicited
 *      traversal entry, node_travpool.h), not a stranger's entry;
 *   3. a peer in the presence store with a petname (konce alias KEY NAME marks a key as known
 *      before first contact).
 * The rendezvous client core calls the predicate for every INTRO and every RELAYED payload
 * (nat/rdvclient.h).  The store is asked only when 1 and 2 fail: relayed payloads from a refused
 * key do not reach us at all once the rendezvous closed the pair, so the store sees about one
 * query per refused introduction, which the rendezvous rate-limits per source.
 *
 * The other side of a refusal: the requester's client core reports KONCE_IFAIL_DECLINED, and
 * node_trav_declined() fails whatever waits for that peer with KONCE_REASON_INTRO_REFUSED at once,
 * instead of letting the handshake time out.
 */
#include <string.h>

#include "nat/punch.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"

bool node_trav_known(void *ctx, const uint8_t key[KONCE_WIRE_KEY])
{
	struct node_trav *t = ctx;
	const struct peer *p = node_peer_find(t->n, key);
	const struct tpeer *tp = tpeer_get(t, key, TPEER_FIND);
	if ((p && p->up) || (tp && tp->solicited))
		return true;
	konce_peer_rec rec;
	if (t->n->store && konce_store_peer_get(t->n->store, key, &rec) == 0 && rec.petname[0])
		return true;
	t->intros_refused++;
	return false;
}

void node_trav_declined(struct node_trav *t, const uint8_t pk[KONCE_KEY_BYTES], uint64_t now)
{
	struct konce_node *n = t->n;
	struct tpeer *tp = tpeer_get(t, pk, false);
	t->intros_declined++;
	if (tp) {
		/* back to IDLE: the next send asks for a new introduction */
		konce_punch_free(tp->pu);
		tp->pu = NULL;
		tp->nheld = 0;
		tp->intro_fail = KONCE_IFAIL_DECLINED;
		tp->result = 0;
		tp->result_us = now;
		if (konce_punch_new(&tp->pu, konce_env_default(), n->pk, pk))
			tp->used = false;
	}
	struct peer *p = node_peer_find(n, pk);
	if (p && !p->up) {
		if (p->conn)
			konce_ep_close(n->ep, p->conn, now);
		node_peer_free(n, p, KONCE_REASON_INTRO_REFUSED);
	}
}
