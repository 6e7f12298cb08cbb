/* ccommit.c - the log: ordering at the coordinator, PROPOSE/ACK, the commit index, delivery.
 *
 * The coordinator gives each submission the next seq, issues its persist call, and sends PROPOSE
 * (up to g->max_batch entries each: konce_group_set_max_batch, default KONCE_CW_MAX_BATCH) to
 * every member at once, without waiting for that record to be durable (as a Raft leader does:
 * its own write and the members' overlap), never more than KONCE_CW_WINDOW beyond the commit
 * index.  A member appends only at last + 1 (an entry at seq <= last in the same epoch is the one
 * it holds: the epoch has one coordinator, and a coordinator restarted in its epoch orders
 * nothing more in it, cgroup.h invariant 8), persists, then ACKs its last seq.  The commit index
 * is the lowest acked seq over all members, the coordinator's own "ack" being the end of its
 * durable log (cc_durable: it counts only once konce_group_persisted() covers it); every message
 * carries it, so a member learns it from whatever comes next (cc_learn_commit).  A member
 * delivers up to its commit index, in order, when the caller polls events (cc_next_delivery).
 */
#include <errno.h>
#include <string.h>

#include "consensus/cgroup_int.h"

cg_slot *cc_at(konce_group *g, uint64_t seq)
{
	if (seq <= g->delivered || seq > g->last)
		return NULL;
	cg_slot *s = &g->ring[seq % KONCE_GROUP_RING];
	return s->seq == seq ? s : NULL;
}

static bool is_own(const konce_group *g, const uint8_t *origin)
{
	return !memcmp(origin, g->cfg.self, KONCE_CW_ORIGIN);
}

void cc_pending_refresh(konce_group *g)
{
	for (unsigned i = 0; i < KONCE_GROUP_PENDING; i++) {
		cg_pending *p = &g->pend[i];
		if (!p->used)
			continue;
		p->in_log = false;
		for (uint64_t s = g->delivered + 1; s <= g->last; s++) {
			cg_slot *sl = cc_at(g, s);
			if (sl && sl->nonce == p->nonce && is_own(g, sl->origin)) {
				p->in_log = true;
				break;
			}
		}
	}
}

/* Append the entries that extend the log (seq == last + 1 onwards); persist before keeping them.
 * Returns the number appended, or a negative errno. */
int cc_append(konce_group *g, uint64_t first, const konce_cw_entry *e, unsigned count)
{
	if (first > g->last + 1)
		return 0;
	unsigned skip = (unsigned)(g->last + 1 - first);
	if (skip >= count)
		return 0;
	unsigned take = count - skip;
	while (take && g->last + take - g->delivered >= KONCE_GROUP_RING)
		take--; /* the ring is full: the rest waits for delivery */
	if (!take)
		return 0;
	size_t off = 0;
	for (unsigned i = 0; i < take; i++) {
		const konce_cw_entry *x = &e[skip + i];
		size_t n = konce_cw_entry_encode(x, g->vbuf + off, KONCE_CW_MAX_VALUE - off);
		if (!n)
			return -EINVAL;
		off += n;
	}
	if (g->cfg.persist.put_entries) {
		int rc = cg_persist_rc(g, g->cfg.persist.put_entries(g->cfg.persist.ctx, g->last + 1, take, g->vbuf, off));
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < take; i++) {
		uint64_t seq = g->last + 1;
		cg_entry_to_slot(&e[skip + i], seq, &g->ring[seq % KONCE_GROUP_RING]);
		g->ring[seq % KONCE_GROUP_RING].pid = g->p_issued;
		g->last = seq;
		cc_seen(g, e[skip + i].origin, e[skip + i].nonce);
		if (is_own(g, e[skip + i].origin))
			for (unsigned k = 0; k < KONCE_GROUP_PENDING; k++)
				if (g->pend[k].used && g->pend[k].nonce == e[skip + i].nonce)
					g->pend[k].in_log = true;
	}
	return (int)take;
}

void cc_seen(konce_group *g, const uint8_t *origin, uint64_t nonce)
{
	memcpy(g->seen[g->seen_next].origin, origin, KONCE_CW_ORIGIN);
	g->seen[g->seen_next].nonce = nonce;
	g->seen_next = (g->seen_next + 1) % KONCE_GROUP_SEEN;
}

void cc_unsee(konce_group *g, const uint8_t *origin, uint64_t nonce)
{
	for (unsigned i = 0; i < KONCE_GROUP_SEEN; i++)
		if (g->seen[i].nonce == nonce && !memcmp(g->seen[i].origin, origin, KONCE_CW_ORIGIN))
			g->seen[i].nonce = 0;
}

static bool was_seen(const konce_group *g, const uint8_t *origin, uint64_t nonce)
{
	for (unsigned i = 0; i < KONCE_GROUP_SEEN; i++)
		if (g->seen[i].nonce == nonce && !memcmp(g->seen[i].origin, origin, KONCE_CW_ORIGIN))
			return true;
	return false;
}

void cc_learn_commit(konce_group *g, uint64_t c)
{
	if (c > g->last)
		c = g->last;
	if (c > g->commit)
		g->commit = c;
}

uint64_t cc_durable(const konce_group *g)
{
	uint64_t s = g->commit > g->delivered ? g->commit : g->delivered;
	while (s < g->last) { /* the coordinator's commit index never passes its durable log */
		const cg_slot *sl = &g->ring[(s + 1) % KONCE_GROUP_RING];
		if (sl->seq != s + 1 || sl->pid > g->p_done)
			break;
		s++;
	}
	return s;
}

static void recompute_commit(konce_group *g)
{
	uint64_t c = cc_durable(g); /* our own ack: what we hold durably, never what is in flight */
	for (unsigned i = 0; i < g->n; i++)
		if (i != g->self && g->m[i].acked < c)
			c = g->m[i].acked;
	if (c > g->commit) {
		g->commit = c;
		if (!g->q_len) { /* nothing to carry it soon: announce */
			cg_msg_init(g, KONCE_CW_HEARTBEAT);
			g->msg.u = g->last;
			cg_send_all(g);
		}
	}
}

static void send_propose(konce_group *g, unsigned to, uint64_t first)
{
	cg_msg_init(g, KONCE_CW_PROPOSE);
	g->msg.first = first;
	for (uint64_t s = first; s <= g->last && g->msg.count < g->max_batch; s++) {
		cg_slot *sl = cc_at(g, s);
		if (!sl)
			break;
		cg_slot_to_entry(sl, &g->msg.e[g->msg.count++]);
	}
	if (!g->msg.count)
		return;
	cg_send(g, g->keys[to]);
	g->m[to].last_tx = g->now;
	if (!g->m[to].owed_since)
		g->m[to].owed_since = g->now;
}

void cc_persisted(konce_group *g)
{
	if (cg_is_coord(g) && g->state == KONCE_GROUP_NORMAL)
		recompute_commit(g);
}

void cc_propose(konce_group *g)
{
	if (!cg_is_coord(g) || g->state != KONCE_GROUP_NORMAL || g->defer_propose || g->sealed)
		return;
	while (g->q_len && g->last < g->commit + KONCE_CW_WINDOW) {
		konce_cw_entry e[KONCE_CW_MAX_BATCH];
		unsigned k = 0;
		while (k < g->max_batch && k < g->q_len && g->last + k < g->commit + KONCE_CW_WINDOW) {
			cg_slot_to_entry(&g->queue[(g->q_head + k) % KONCE_GROUP_QUEUE], &e[k]);
			k++;
		}
		uint64_t first = g->last + 1;
		/* PROPOSE does not wait for this persist call (only for those before it): the
		 * members persist while we do; recompute_commit counts our copy once it is durable. */
		uint64_t gate = g->p_gate;
		int got = cc_append(g, first, e, k);
		g->p_gate = gate;
		if (got <= 0)
			return;
		g->q_head = (g->q_head + (unsigned)got) % KONCE_GROUP_QUEUE;
		g->q_len -= (unsigned)got;
		for (unsigned i = 0; i < g->n; i++)
			if (i != g->self)
				send_propose(g, i, first);
	}
	recompute_commit(g);
}

void cc_on_propose(konce_group *g, const konce_cw_msg *m)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return; /* promised a view change: this epoch is frozen */
	int rc = cc_append(g, m->first, m->e, m->count);
	if (rc < 0)
		return;
	cc_learn_commit(g, m->commit);
	cg_msg_init(g, KONCE_CW_ACK);
	g->msg.u = g->last;
	cg_send(g, g->keys[cg_coord(g)]);
}

void cc_on_ack(konce_group *g, unsigned from, uint64_t last)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return;
	cg_member *mm = &g->m[from];
	if (last > g->last)
		last = g->last;
	if (last > mm->acked) {
		mm->acked = last;
		mm->owed_since = last >= g->last ? 0 : g->now;
	}
	cc_propose(g);
	recompute_commit(g);
}

void cc_submit(konce_group *g, const konce_cw_entry *e)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return;
	for (unsigned k = 0; k < g->q_len; k++) {
		cg_slot *q = &g->queue[(g->q_head + k) % KONCE_GROUP_QUEUE];
		if (q->nonce == e->nonce && !memcmp(q->origin, e->origin, KONCE_CW_ORIGIN))
			return;
	}
	if (was_seen(g, e->origin, e->nonce))
		return;
	if (g->q_len == KONCE_GROUP_QUEUE)
		return; /* the submitter retries */
	cg_entry_to_slot(e, 0, &g->queue[(g->q_head + g->q_len++) % KONCE_GROUP_QUEUE]);
	cc_propose(g);
}

void cc_tick(konce_group *g)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return;
	for (unsigned i = 0; i < KONCE_GROUP_PENDING; i++) {
		cg_pending *p = &g->pend[i];
		if (!p->used || p->in_log || (p->sent_at && g->now - p->sent_at < MS(KONCE_GROUP_RETX_MS)))
			continue;
		p->sent_at = g->now;
		konce_cw_entry e = {.kind = p->kind, .origin = g->cfg.self, .nonce = p->nonce, .len = p->len,
				    .data = p->data};
		if (cg_is_coord(g)) {
			cc_submit(g, &e);
		} else {
			cg_msg_init(g, KONCE_CW_SUBMIT);
			g->msg.count = 1;
			g->msg.e[0] = e;
			cg_send(g, g->keys[cg_coord(g)]);
		}
	}
	if (!cg_is_coord(g))
		return;
	if (g->sealed && !g->defer_propose) {
		/* Restarted in our own epoch: we may have sent PROPOSEs past our durable log, so the
		 * epoch's next seq is not ours to give again (invariant 8).  Hand the epoch over: a
		 * view change to e + 1, the same members unless some are suspected. */
		cv_start(g);
		return;
	}
	for (unsigned i = 0; i < g->n; i++) {
		cg_member *mm = &g->m[i];
		if (i == g->self || mm->acked >= g->last || g->now - mm->last_tx < MS(KONCE_GROUP_RETX_MS))
			continue;
		uint64_t from = (mm->acked > g->delivered ? mm->acked : g->delivered) + 1;
		send_propose(g, i, from);
	}
	cc_propose(g);
}

bool cc_next_delivery(konce_group *g, konce_group_event *ev)
{
	if (g->delivered >= g->commit || g->catchup)
		return false; /* nothing, or no state to apply it to yet (csnap.c) */
	cg_slot *s = cc_at(g, g->delivered + 1);
	if (!s || s->pid > g->p_done)
		return false; /* not there, or not durable here yet (invariant 6) */
	*g->deliver_buf = *s;
	s->seq = 0;
	g->delivered++;
	if (g->cfg.persist.put_delivered) { /* a lost delivery mark only redelivers after a restart, */
		uint64_t gate = g->p_gate; /* so no message or event waits for one (invariant 6) */
		(void)cg_persist_rc(g, g->cfg.persist.put_delivered(g->cfg.persist.ctx, g->delivered));
		g->p_gate = gate;
	}
	s = g->deliver_buf;
	if (is_own(g, s->origin))
		for (unsigned k = 0; k < KONCE_GROUP_PENDING; k++)
			if (g->pend[k].used && g->pend[k].nonce == s->nonce)
				g->pend[k].used = false;
	if (s->kind != KONCE_CW_E_APP)
		cj_committed(g, s);
	memset(ev, 0, sizeof(*ev));
	ev->type = KONCE_GROUP_EV_COMMITTED;
	ev->seq = s->seq;
	ev->epoch = g->epoch;
	ev->kind = s->kind;
	memcpy(ev->origin, s->origin, KONCE_CW_ORIGIN);
	ev->nonce = s->nonce;
	ev->data = s->data;
	ev->len = s->len;
	return true;
}
