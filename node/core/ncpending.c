/* ncpending.c - the node core's pending outcomes: the nonce table (requests awaiting a reply), the
 * message table (handed to the endpoint, delivery unknown), and their deadlines as data: a binary
 * min-heap keyed by deadline, read by konce_nodecore_next_timer() and served by
 * konce_nodecore_timer().  The state machine and invariants M1-M3 are drawn in nodecore.h. */
#include <stddef.h>
#include <string.h>

#include "node/core/nc_int.h"

unsigned nc_bucket64(uint64_t v) { return (unsigned)((v * 0x9e3779b97f4a7c15ull) >> 54) % KONCE_NC_BUCKETS; }

static void unlink_from(struct ncpending **head, struct ncpending *p, size_t next_off)
{
	for (struct ncpending **pp = head; *pp; pp = (struct ncpending **)((char *)*pp + next_off))
		if (*pp == p) {
			*pp = *(struct ncpending **)((char *)p + next_off);
			return;
		}
}

void ncpending_nonce_add(konce_nodecore *c, struct ncpending *p)
{
	unsigned b = nc_bucket64(p->nonce);
	p->nonce_next = c->by_nonce[b];
	c->by_nonce[b] = p;
	p->in_nonces = 1;
}

void ncpending_msg_add(konce_nodecore *c, struct ncpending *p)
{
	unsigned b = nc_bucket64(p->msg_id);
	p->msg_next = c->by_msg[b];
	c->by_msg[b] = p;
	p->in_msgs = 1;
}

void ncpending_msg_unlink(konce_nodecore *c, struct ncpending *p)
{
	if (p->in_msgs)
		unlink_from(&c->by_msg[nc_bucket64(p->msg_id)], p, offsetof(struct ncpending, msg_next));
	p->in_msgs = 0;
}

struct ncpending *ncpending_msg_find(konce_nodecore *c, uint64_t msg_id)
{
	for (struct ncpending *p = c->by_msg[nc_bucket64(msg_id)]; p; p = p->msg_next)
		if (p->msg_id == msg_id)
			return p;
	return NULL;
}

struct ncpending *ncpending_reply_find(konce_nodecore *c, uint64_t nonce, uint16_t klass,
				       const uint8_t pk[KONCE_KEY_BYTES])
{
	for (struct ncpending *p = c->by_nonce[nc_bucket64(nonce)]; p; p = p->nonce_next)
		if (p->nonce == nonce && p->klass == klass && !memcmp(p->pk, pk, KONCE_KEY_BYTES))
			return p;
	return NULL;
}

/* ---- the deadline heap ---------------------------------------------------------------------- */

static void heap_set(konce_nodecore *c, uint32_t i, struct ncpending *p)
{
	c->heap[i] = p;
	p->heap_ix = i;
}

static void heap_up(konce_nodecore *c, uint32_t i)
{
	struct ncpending *p = c->heap[i];
	while (i) {
		uint32_t up = (i - 1) / 2;
		if (c->heap[up]->deadline <= p->deadline)
			break;
		heap_set(c, i, c->heap[up]);
		i = up;
	}
	heap_set(c, i, p);
}

static void heap_down(konce_nodecore *c, uint32_t i)
{
	struct ncpending *p = c->heap[i];
	for (;;) {
		uint32_t l = 2 * i + 1, m = l;
		if (l >= c->nheap)
			break;
		if (l + 1 < c->nheap && c->heap[l + 1]->deadline < c->heap[l]->deadline)
			m = l + 1;
		if (c->heap[m]->deadline >= p->deadline)
			break;
		heap_set(c, i, c->heap[m]);
		i = m;
	}
	heap_set(c, i, p);
}

static void heap_remove(konce_nodecore *c, struct ncpending *p)
{
	uint32_t i = p->heap_ix;
	if (i == UINT32_MAX)
		return;
	struct ncpending *last = c->heap[--c->nheap];
	p->heap_ix = UINT32_MAX;
	if (last != p) {
		heap_set(c, i, last);
		heap_up(c, i);
		heap_down(c, last->heap_ix);
	}
}

void ncpending_set_deadline(konce_nodecore *c, struct ncpending *p, uint64_t at)
{
	heap_remove(c, p);
	p->deadline = at;
	if (!at)
		return;
	/* the heap holds at most KONCE_NC_PENDING_MAX entries: sized once, at new() (M3) */
	heap_set(c, c->nheap++, p);
	heap_up(c, p->heap_ix);
}

uint64_t ncpending_next_deadline(const konce_nodecore *c) { return c->nheap ? c->heap[0]->deadline : UINT64_MAX; }

void ncpending_expire(konce_nodecore *c, uint64_t now)
{
	while (c->nheap && c->heap[0]->deadline <= now) {
		struct ncpending *p = c->heap[0];
		ncpending_finish(c, p, KONCE_OUTCOME_FAILED,
				 p->peer && p->peer->up ? KONCE_REASON_TIMED_OUT : KONCE_REASON_UNREACHABLE, NULL, 0);
	}
}

/* ---- outcomes ------------------------------------------------------------------------------- */

/* A message of ours reached the peer (delivered, or it replied): a trust signal.  A peer that
 * only ever dialled us is recorded from now on (docs/STORE.md, "Who is recorded"). */
static void note_trusted(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	konce_ncpeer *peer = konce_nodecore_peer_find(c, pk);
	if (!peer || peer->trusted)
		return;
	nc_note(c, KONCE_NC_NOTE_TRUSTED, pk, peer->up ? nc_note_addr(c, pk, &peer->addr, NULL) : NULL, true, 0);
	peer->trusted = 1;
}

void ncpending_finish(konce_nodecore *c, struct ncpending *p, int outcome, int reason, const uint8_t *data,
		      size_t len)
{
	if (outcome == KONCE_OUTCOME_DELIVERED || outcome == KONCE_OUTCOME_REPLIED)
		note_trusted(c, p->pk);
	if (p->in_nonces)
		unlink_from(&c->by_nonce[nc_bucket64(p->nonce)], p, offsetof(struct ncpending, nonce_next));
	ncpending_msg_unlink(c, p);
	if (p->peer && p->peer->initiate_msg == p)
		p->peer->initiate_msg = NULL;
	p->in_nonces = 0;
	ncpending_set_deadline(c, p, 0);
	nc_free(c, p->data);
	p->data = NULL;
	p->len = 0;
	if (data && len && (p->data = nc_alloc(c, len))) {
		memcpy(p->data, data, len);
		p->len = len;
	}
	p->outcome = outcome;
	p->reason = reason;
	p->peer = NULL;
	nc_queue_outcome(c, p);
}

void ncpending_fail_peer(konce_nodecore *c, konce_ncpeer *peer, int reason)
{
	if (!reason)
		reason = KONCE_REASON_PEER_CLOSED;
	if (peer->initiate_msg)
		ncpending_finish(c, peer->initiate_msg, KONCE_OUTCOME_FAILED, reason, NULL, 0);
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++) {
		for (struct ncpending *p = c->by_nonce[b], *next; p; p = next) {
			next = p->nonce_next;
			if (p->peer == peer)
				ncpending_finish(c, p, KONCE_OUTCOME_FAILED, reason, NULL, 0);
		}
		for (struct ncpending *p = c->by_msg[b], *next; p; p = next) {
			next = p->msg_next;
			if (p->peer == peer)
				ncpending_finish(c, p, KONCE_OUTCOME_FAILED, reason, NULL, 0);
		}
	}
}

void konce_nodecore_fail_all(konce_nodecore *c, int reason)
{
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		for (konce_ncpeer *p = c->by_pk[b]; p; p = p->pk_next)
			ncpending_fail_peer(c, p, reason);
}

void ncpending_peer_up(konce_nodecore *c, konce_ncpeer *peer, const konce_ep_event *ev, uint64_t now)
{
	/* connected: the connect deadline is met; requests now wait at most their reply lifetime */
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++) {
		for (struct ncpending *p = c->by_msg[b]; p; p = p->msg_next)
			if (p->peer == peer && !p->request)
				ncpending_set_deadline(c, p, 0);
		for (struct ncpending *p = c->by_nonce[b]; p; p = p->nonce_next)
			if (p->peer == peer)
				ncpending_set_deadline(c, p, now + (uint64_t)p->reply_lifetime_ms * 1000u);
	}
	struct ncpending *p = peer->initiate_msg;
	if (!p)
		return;
	peer->initiate_msg = NULL;
	if (ev->incoming && ev->msg_id) {
		/* simultaneous open, and we are its server: the message now rides in our ACCEPT as a
		 * reliable one, delivered when the peer acks it */
		nc_free(c, p->data);
		p->data = NULL;
		p->msg_id = ev->msg_id;
		ncpending_msg_add(c, p);
		if (!p->request)
			ncpending_set_deadline(c, p, 0);
	} else if (ev->incoming) {
		ncpending_finish(c, p, KONCE_OUTCOME_FAILED, KONCE_REASON_NONE, NULL, 0); /* never sent */
	} else if (!p->request) {
		/* the server opened it before it answered: delivered (a request now waits for its reply) */
		ncpending_finish(c, p, KONCE_OUTCOME_DELIVERED, KONCE_REASON_NONE, NULL, 0);
	}
}

void ncpending_release(konce_nodecore *c, struct ncpending *p)
{
	if (!p)
		return;
	nc_free(c, p->data);
	nc_free(c, p);
}

/* Drops every pending without an outcome (konce_nodecore_free: the caller reported them first).
 * Three passes, so that nothing is read after it was freed: INITIATE messages that are not
 * requests, then the nonce table (what is not also in the message table), then the message table. */
void ncpending_free_all(konce_nodecore *c)
{
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		for (konce_ncpeer *peer = c->by_pk[b]; peer; peer = peer->pk_next) {
			if (peer->initiate_msg && !peer->initiate_msg->in_nonces)
				ncpending_release(c, peer->initiate_msg);
			peer->initiate_msg = NULL;
		}
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++) {
		for (struct ncpending *p = c->by_nonce[b], *next; p; p = next) {
			next = p->nonce_next;
			if (!p->in_msgs)
				ncpending_release(c, p);
		}
		c->by_nonce[b] = NULL;
	}
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++) {
		for (struct ncpending *p = c->by_msg[b], *next; p; p = next) {
			next = p->msg_next;
			ncpending_release(c, p);
		}
		c->by_msg[b] = NULL;
	}
	c->nheap = 0;
}
