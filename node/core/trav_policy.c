/* trav_policy.c - "introductions = known": a node that refuses introductions from strangers.
 *
 * Known, for this node, means one of (issue 15: a handshake alone no longer makes a key known,
 * or one stranger's accepted introduction would be known for ever):
 *   1. a peer with a live session now (it proved its key to us);
 *   2. a key the application asked to reach (konce connect/send/ping by key: a solicited
 *      traversal entry, node_travpool.h), not a stranger's entry;
 *   3. a key the host knows otherwise (ops.known: the node asks its presence store for a petname;
 *      konce alias KEY NAME marks a key as known before first contact).
 * The rendezvous client core calls the predicate for every INTRO and every RELAYED payload
 * (nat/rdvclient.h).  The store is asked only when 1 and 2 fail: relayed payloads from a refused
 * key do not reach us at all once the rendezvous closed the pair, so the store sees about one
 * query per refused introduction, which the rendezvous rate-limits per source.
 *
 * The other side of a refusal: the requester's client core reports KONCE_IFAIL_DECLINED, and
 * trav_declined() resets the attempt and raises KONCE_TRAV_EV_DECLINED, on which the host fails
 * whatever waits for that peer with KONCE_REASON_INTRO_REFUSED at once, instead of letting the
 * handshake time out.
 */
#include <string.h>

#include "node/core/trav_int.h"

bool trav_known(void *ctx, const uint8_t key[KONCE_WIRE_KEY])
{
	konce_trav *t = ctx;
	konce_trav_peer np;
	const struct tpeer *tp = tpeer_get(t, key, TPEER_FIND, 0);
	if ((trav_peer(t, key, &np) && np.up) || (tp && tp->solicited))
		return true;
	if (t->ops.known && t->ops.known(t->ops.ctx, key))
		return true;
	t->intros_refused++;
	return false;
}

void trav_declined(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], uint64_t now)
{
	struct tpeer *tp = tpeer_get(t, pk, TPEER_FIND, now);
	t->intros_declined++;
	if (tp) {
		/* back to IDLE: the next send asks for a new introduction */
		konce_punch_free(tp->pu);
		tp->pu = NULL;
		tp->nheld = 0;
		tp->intro_fail = KONCE_IFAIL_DECLINED;
		tp->result = 0;
		tp->result_us = now;
		if (konce_punch_new(&tp->pu, t->env, t->pk, pk))
			tp->used = false;
	}
	konce_trav_event *e = trav_event(t, KONCE_TRAV_EV_DECLINED);
	if (e)
		memcpy(e->pk, pk, KONCE_WIRE_KEY);
}
