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
 * Nothing here allocates after konce_ep_new, and no rule walks the table: ep_table_init sizes
 * indexes that are kept as sessions come and go (konce_ep_table_join/leave/wanted/touch):
 *   - n_unwanted counts the incoming, unwanted sessions (rule 1);
 *   - a count node per source, in a bucket array under a keyed hash (rule 2);
 *   - a node per peer key of incoming sessions: their count past ACCEPT_PENDING and their list
 *     (rule 3); the list is walked only to replace the oldest, when the key is at its cap;
 *   - the unwanted sessions in a list ordered by last_app_us (every update moves a session to
 *     the tail), so the idle-longest evictable one is found from the head (rule 4).  Sessions
 *     are skipped only while not evictable for another reason (a handshake or a queue).
 * So an admission costs a few index entries (counted in table_visits), not a walk over
 * max_sessions; and it happens only for an INITIATE that passed the cookie MAC and paid the
 * demanded proof.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "node/transport/ep_internal.h"
#include "node/transport/msgq.h"

static bool wanted(const konce_sess *s) { return s->wanted; }

/* An incoming session the application does not want: what rules 1, 2 and 4 count. */
static bool unwanted_incoming(const konce_sess *s) { return s->incoming && !wanted(s); }

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

/* ---- indexes --------------------------------------------------------------------------- */

static uint32_t bucket(const konce_ep *ep, const void *k, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, k, len, ep->table_key);
	return (uint32_t)(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24) & ep->tmask;
}

int konce_ep_table_init(konce_ep *ep)
{
	unsigned nb = 1;
	while (nb < ep->max_sessions)
		nb <<= 1;
	ep->tmask = nb - 1;
	/* a node per unwanted session's source and per incoming session's key at most */
	ep->tnodes = konce_env_alloc(ep->env, (size_t)ep->max_sessions * 2 * sizeof *ep->tnodes);
	ep->src_buckets = konce_env_alloc(ep->env, (size_t)nb * sizeof *ep->src_buckets);
	ep->key_buckets = konce_env_alloc(ep->env, (size_t)nb * sizeof *ep->key_buckets);
	if (!ep->tnodes || !ep->src_buckets || !ep->key_buckets)
		return -ENOMEM;
	memset(ep->src_buckets, 0, (size_t)nb * sizeof *ep->src_buckets);
	memset(ep->key_buckets, 0, (size_t)nb * sizeof *ep->key_buckets);
	konce_env_random(ep->env, ep->table_key, sizeof ep->table_key);
	return 0;
}

void konce_ep_table_fini(konce_ep *ep)
{
	konce_env_free(ep->env, ep->tnodes);
	konce_env_free(ep->env, ep->src_buckets);
	konce_env_free(ep->env, ep->key_buckets);
	ep->tnodes = NULL;
	ep->src_buckets = NULL;
	ep->key_buckets = NULL;
}

/* The node of k[0, len) in buckets, or NULL; with create, a fresh one (n 0) if there is none. */
static konce_ep_tnode *node(konce_ep *ep, konce_ep_tnode **buckets, const uint8_t *k, size_t len, bool create)
{
	uint32_t b = bucket(ep, k, len);
	for (konce_ep_tnode *e = buckets[b]; e; e = e->next) {
		ep->c.table_visits++;
		if (memcmp(e->key, k, len) == 0)
			return e;
	}
	if (!create)
		return NULL;
	konce_ep_tnode *e = ep->tnode_free;
	if (e)
		ep->tnode_free = e->next;
	else
		e = &ep->tnodes[ep->tnode_used++];
	memset(e, 0, sizeof *e);
	memcpy(e->key, k, len);
	e->next = buckets[b];
	buckets[b] = e;
	return e;
}

static void node_put(konce_ep *ep, konce_ep_tnode **buckets, konce_ep_tnode *e, size_t len)
{
	for (konce_ep_tnode **pp = &buckets[bucket(ep, e->key, len)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->next = ep->tnode_free;
	ep->tnode_free = e;
}

static void lru_unlink(konce_ep *ep, konce_sess *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		ep->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		ep->lru_tail = s->lru_prev;
	s->lru_next = s->lru_prev = NULL;
}

static void lru_append(konce_ep *ep, konce_sess *s)
{
	s->lru_next = NULL;
	s->lru_prev = ep->lru_tail;
	if (ep->lru_tail)
		ep->lru_tail->lru_next = s;
	else
		ep->lru_head = s;
	ep->lru_tail = s;
}

/* s (incoming) becomes unwanted: counted for its source, listed for eviction. */
static void unwanted_add(konce_ep *ep, konce_sess *s)
{
	uint8_t k[16];
	konce_addr_source(k, &s->hs_addr);
	s->src = node(ep, ep->src_buckets, k, sizeof k, true);
	s->src->n++;
	ep->n_unwanted++;
	lru_append(ep, s);
}

static void unwanted_del(konce_ep *ep, konce_sess *s)
{
	konce_ep_tnode *e = s->src;
	s->src = NULL;
	ep->n_unwanted--;
	lru_unlink(ep, s);
	if (--e->n == 0)
		node_put(ep, ep->src_buckets, e, 16);
}

void konce_ep_table_join(konce_ep *ep, konce_sess *s)
{
	konce_ep_tnode *k = node(ep, ep->key_buckets, s->peer_pk, KONCE_WIRE_KEY, true);
	s->key = k;
	s->key_prev = NULL;
	s->key_next = k->list;
	if (k->list)
		k->list->key_prev = s;
	k->list = s;
	if (s->state != KONCE_HS_ACCEPT_PENDING)
		k->n++;
	if (!s->wanted)
		unwanted_add(ep, s);
}

void konce_ep_table_leave(konce_ep *ep, konce_sess *s)
{
	konce_ep_tnode *k = s->key;
	if (k) {
		if (s->key_prev)
			s->key_prev->key_next = s->key_next;
		else
			k->list = s->key_next;
		if (s->key_next)
			s->key_next->key_prev = s->key_prev;
		if (s->state != KONCE_HS_ACCEPT_PENDING)
			k->n--;
		if (!k->list)
			node_put(ep, ep->key_buckets, k, KONCE_WIRE_KEY);
		s->key = NULL;
		s->key_next = s->key_prev = NULL;
	}
	if (s->src)
		unwanted_del(ep, s);
}

void konce_ep_table_wanted(konce_ep *ep, konce_sess *s, bool wanted)
{
	s->wanted = wanted;
	if (!s->incoming)
		return;
	if (wanted && s->src)
		unwanted_del(ep, s);
	else if (!wanted && !s->src)
		unwanted_add(ep, s);
}

void konce_ep_table_touch(konce_ep *ep, konce_sess *s, uint64_t at_us)
{
	s->last_app_us = at_us;
	if (s->src && s != ep->lru_tail) {
		lru_unlink(ep, s);
		lru_append(ep, s);
	}
}

/* ---- rules ------------------------------------------------------------------------------ */

konce_sess *konce_ep_table_victim(konce_ep *ep, uint64_t now_us)
{
	/* oldest first: once one is too young to evict, so are all after it */
	for (konce_sess *s = ep->lru_head; s; s = s->lru_next) {
		ep->c.table_visits++;
		if (now_us < s->last_app_us + (uint64_t)KONCE_EP_EVICT_IDLE_MS * 1000)
			break;
		if (evictable(s, now_us))
			return s;
	}
	return NULL;
}

void konce_ep_evict(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_LOCAL_CLOSE);
	ep->c.sessions_evicted++;
	konce_ep_sess_end(ep, s, KONCE_FAIL_IDLE, now_us);
}

int konce_ep_table_admit(konce_ep *ep, const konce_addr *from, uint64_t now_us, konce_sess **victim)
{
	*victim = NULL;
	uint8_t k[16];
	konce_addr_source(k, from);
	const konce_ep_tnode *e = node(ep, ep->src_buckets, k, sizeof k, false);
	if (e && e->n >= per_source(ep)) {
		ep->c.init_source_full++;
		return -ENOSPC;
	}
	if (ep->n_free == 0 || ep->n_unwanted >= in_cap(ep)) {
		konce_sess *v = konce_ep_table_victim(ep, now_us);
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
	konce_ep_tnode *k = node(ep, ep->key_buckets, peer_pk, KONCE_WIRE_KEY, false);
	konce_sess *oldest = NULL;
	if (k && k->n >= per_source(ep)) {
		/* the key is at its cap: only now are its sessions looked at, for the oldest (k->n
		 * counts those past ACCEPT_PENDING, so there is one) */
		for (konce_sess *s = k->list; s; s = s->key_next) {
			ep->c.table_visits++;
			if (s->state != KONCE_HS_ACCEPT_PENDING && (!oldest || s->last_rx_us < oldest->last_rx_us))
				oldest = s;
		}
	}
	if (oldest) {
		ep->c.sessions_replaced++;
		konce_ep_evict(ep, oldest, now_us); /* the key's owner dials again: its new session wins */
		if (oldest == victim)
			return;
		/* the replaced one made room already, unless the reserve still binds */
		if (ep->n_free > 0 && victim && ep->n_unwanted < in_cap(ep))
			return;
	}
	if (victim)
		konce_ep_evict(ep, victim, now_us);
}
