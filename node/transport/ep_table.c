/* ep_table.c - who may hold a slot of the session table.
 *
 * The table has max_sessions slots.  Without rules, one host filled them all with incoming
 * sessions (fresh keys are free) and held them with a PING every few minutes; the node could then
 * neither take a new peer nor dial out, not even to its rendezvous.  The rules, checked by the
 * server after an INITIATE's proof of work and before its DH (konce_ep_table_admit), and applied
 * once it authenticated (konce_ep_table_seat):
 *
 *   1. Reserve.  Incoming sessions that the application does not want (konce_ep_set_wanted) hold at
 *      most max_sessions - max_sessions / 8 slots; the rest is kept for our own dials and for
 *      sessions the application wants, so the node can always dial out.
 *   2. Per source.  At most max_per_source (default max(4, max_sessions / 16)) incoming sessions
 *      per source (an IPv4 address or an IPv6 /64, as ratelimit.h counts sources:
 *      konce_addr_source).
 *   3. Per key.  As many incoming sessions per peer key as per source (rule 2), wherever they come
 *      from.  The key's owner proved itself, so a further one replaces its oldest (a peer that
 *      lost its state and dials again, or one identity spread over many addresses).
 *   4. Eviction.  When rule 1 or a full table would refuse, the incoming, unwanted session with
 *      nothing queued that has been idle longest (no message either way, no PING from the peer)
 *      for at least KONCE_EP_EVICT_IDLE_MS is closed (CLOSED, KONCE_FAIL_IDLE) to make room.  A
 *      dial (konce_ep_connect) evicts the same way when every slot is taken.
 *   5. Price.  The proof-of-work demand in every COOKIE rises with the number of incoming
 *      sessions against the unreserved part's size, even on an idle server: 0 below half, 8 bits
 *      at half, 16 when full (konce_ep_table_bits; the load and overdraft demand of load.h applies
 *      if higher).
 *
 * Nothing here allocates; an admission check scans the live list once (bounded by max_sessions),
 * and only for an INITIATE that passed the cookie MAC and paid the demanded proof.
 */
#include <errno.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/msgq.h"

static bool wanted(const konce_sess *s) { return s->wanted; }

/* An incoming session the application does not want: what rules 1, 2 and 4 count. */
static bool unwanted_incoming(const konce_sess *s) { return s->incoming && !wanted(s); }

static bool same_source(const konce_addr *a, const konce_addr *b)
{
	uint8_t ka[16], kb[16]; /* IPv4 address, IPv6 /64, or a traversal peer's own address */
	konce_addr_source(ka, a);
	konce_addr_source(kb, b);
	return memcmp(ka, kb, 16) == 0;
}

static unsigned in_cap(const konce_ep *ep) { return ep->max_sessions - ep->max_sessions / 8; }

static unsigned per_source(const konce_ep *ep) { return ep->max_per_source; }

static bool evictable(const konce_sess *s, uint64_t now_us)
{
	return unwanted_incoming(s) && s->state == KONCE_HS_ESTABLISHED && (!s->rel || konce_msgq_empty(&s->rel->q)) &&
	       now_us >= s->last_app_us + (uint64_t)KONCE_EP_EVICT_IDLE_MS * 1000;
}

unsigned konce_ep_table_bits(const konce_ep *ep)
{
	unsigned cap = in_cap(ep), half = cap / 2, n = ep->n_incoming;
	if (cap < 2 || n < half)
		return 0;
	if (n >= cap)
		return KONCE_LOAD_BITS_BASE_MAX;
	return 8 + (KONCE_LOAD_BITS_BASE_MAX - 8) * (n - half) / (cap - half);
}

konce_sess *konce_ep_table_victim(konce_ep *ep, uint64_t now_us)
{
	konce_sess *v = NULL;
	for (konce_sess *s = ep->live; s; s = s->next)
		if (evictable(s, now_us) && (!v || s->last_app_us < v->last_app_us))
			v = s;
	return v;
}

void konce_ep_evict(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_LOCAL_CLOSE);
	ep->c.sessions_evicted++;
	konce_ep_sess_end(ep, s, KONCE_FAIL_IDLE, now_us);
}

int konce_ep_table_admit(konce_ep *ep, const konce_addr *from, uint64_t now_us, konce_sess **victim)
{
	unsigned incoming = 0, from_src = 0;
	konce_sess *v = NULL;
	*victim = NULL;
	for (konce_sess *s = ep->live; s; s = s->next) {
		if (!unwanted_incoming(s))
			continue;
		incoming++;
		if (same_source(&s->hs_addr, from))
			from_src++;
		if (evictable(s, now_us) && (!v || s->last_app_us < v->last_app_us))
			v = s;
	}
	if (from_src >= per_source(ep)) {
		ep->c.init_source_full++;
		return -ENOSPC;
	}
	if (ep->n_free == 0 || incoming >= in_cap(ep)) {
		if (!v) {
			ep->c.init_full++;
			return -ENOSPC;
		}
		*victim = v;
	}
	return 0;
}

void konce_ep_table_seat(konce_ep *ep, const uint8_t peer_pk[KONCE_WIRE_KEY], konce_sess *victim,
			 uint64_t now_us)
{
	unsigned same = 0;
	konce_sess *oldest = NULL;
	for (konce_sess *s = ep->live; s; s = s->next)
		if (s->incoming && s->state != KONCE_HS_ACCEPT_PENDING &&
		    memcmp(s->peer_pk, peer_pk, KONCE_WIRE_KEY) == 0) {
			same++;
			if (!oldest || s->last_rx_us < oldest->last_rx_us)
				oldest = s;
		}
	if (same >= per_source(ep)) {
		ep->c.sessions_replaced++;
		konce_ep_evict(ep, oldest, now_us); /* the key's owner dials again: its new session wins */
		if (oldest == victim)
			return;
		if (ep->n_free > 0 && victim) {
			/* the replaced one made room already, unless the reserve still binds */
			unsigned incoming = 0;
			for (konce_sess *s = ep->live; s; s = s->next)
				incoming += unwanted_incoming(s);
			if (incoming < in_cap(ep))
				return;
		}
	}
	if (victim)
		konce_ep_evict(ep, victim, now_us);
}
