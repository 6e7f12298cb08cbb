/* cview.c - view change: single-decree Paxos among the members of the installed view (epoch e)
 * decides view e+1, and the decided value carries the log tail the new view re-proposes.
 *
 *   proposer                               acceptor (every member of view e, the proposer too)
 *   cv_start: ballot = round << 8 | idx+1
 *     PREPARE(e, ballot) ----------------> cv_on_prepare: ballot > promised?  persist, freeze e
 *                        <---------------- PROMISE(ballot, accepted ballot+value, log (commit, last])
 *   cv_on_promise: a strict majority of view e:
 *     value = the highest accepted value, or (e+1, members, commit = max commit,
 *             tail = (max commit, max last]) built from the promises
 *     ACCEPT(e, ballot, value) ----------> cv_on_accept: ballot >= promised?  persist
 *                        <---------------- ACCEPTED(ballot)
 *   cv_on_accepted: a strict majority: decided
 *     NEWVIEW(value) to view e and e+1 --> cv_on_newview -> cv_install
 *
 * Why an entry committed in e survives: it was persisted by every member of e before that member
 * promised (a promiser acks nothing more in e), so every promise carries it, or carries a commit
 * index at or past it; the value keeps everything up to the highest commit index (each installer
 * holds those entries itself) and the tail after it from the promises.  Why one view per epoch:
 * Paxos (two majorities of view e intersect; ballots are unique per proposer; an acceptor
 * persists before it answers; a proposer adopts the highest accepted value it is told of).
 * The new membership: view e's members minus those suspected that did not promise, minus those
 * that asked to leave, plus an accepted joiner.  A side with no strict majority of view e never
 * gets past PREPARE: it halts (cv_tick) and keeps trying.
 */
#include <errno.h>
#include <string.h>

#include "consensus/cgroup_int.h"
#include "consensus/ctoken.h"

static const uint8_t zero32[KONCE_CW_SECRET];

bool cv_in_prev(const konce_group *g, const uint8_t key[KONCE_CW_KEY])
{
	for (unsigned i = 0; i < g->prev_n; i++)
		if (!memcmp(g->prev_keys[i], key, KONCE_CW_KEY))
			return true;
	return false;
}

void cv_resend_view(konce_group *g, const uint8_t to[KONCE_CW_KEY], cg_member *mm)
{
	static const uint64_t never = 0;
	uint64_t *at = mm ? &mm->resend_at : NULL;
	if (at && *at != never && g->now - *at < MS(KONCE_GROUP_RESEND_MS))
		return;
	if (!g->view_len)
		return;
	cg_msg_init(g, KONCE_CW_NEWVIEW);
	if (konce_cw_value_parse(&g->msg.v, g->view_bytes, g->view_len, NULL) != KONCE_CW_OK)
		return;
	g->msg.epoch = g->msg.v.epoch;
	g->msg.has_value = true;
	cg_send(g, to);
	if (at)
		*at = g->now ? g->now : 1;
}

static int persist_vote(konce_group *g)
{
	if (!g->cfg.persist.put_vote)
		return 0;
	return cg_persist_rc(g, g->cfg.persist.put_vote(g->cfg.persist.ctx, g->epoch, g->promised, g->acc_ballot,
							g->acc_ballot ? g->acc_value : NULL,
							g->acc_ballot ? g->acc_len : 0));
}

static void enter_vc(konce_group *g)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return;
	g->state = KONCE_GROUP_VIEWCHANGE;
	g->vc_since = g->now;
	g->vc_retry_at = g->now + MS(KONCE_GROUP_VC_TAKEOVER_MS + 50 * g->self);
}

static void collect(konce_group *g, unsigned from, uint64_t acc_ballot, const konce_cw_value *acc,
		    uint64_t first, const konce_cw_entry *e, unsigned count)
{
	g->m[from].promised = true;
	if (acc_ballot > g->best_acc) {
		size_t n = konce_cw_value_encode(acc, g->best_value, KONCE_CW_MAX_VALUE);
		if (n) {
			g->best_acc = acc_ballot;
			g->best_len = n;
		}
	}
	uint64_t c = first - 1;
	if (c > g->c_max)
		g->c_max = c;
	if (c + count > g->l_max)
		g->l_max = c + count;
	for (unsigned i = 0; i < count; i++) {
		uint64_t seq = first + i;
		cg_slot *s = &g->collect[seq % KONCE_GROUP_RING];
		if (s->seq <= seq) /* on a collision keep the later seq: only the tail is used */
			cg_entry_to_slot(&e[i], seq, s);
	}
}

static unsigned count_flag(const konce_group *g, bool accepted)
{
	unsigned k = 0;
	for (unsigned i = 0; i < g->n; i++)
		k += accepted ? g->m[i].accepted : g->m[i].promised;
	return k;
}

static void check_accepted(konce_group *g)
{
	if (g->phase != 2 || count_flag(g, true) < cg_majority(g->n))
		return;
	konce_cw_value v;
	if (konce_cw_value_parse(&v, g->prop_value, g->prop_len, NULL) != KONCE_CW_OK)
		return;
	g->phase = 0;
	cg_msg_init(g, KONCE_CW_NEWVIEW);
	g->msg.epoch = v.epoch;
	g->msg.has_value = true;
	g->msg.v = v;
	for (unsigned i = 0; i < g->n; i++)
		cg_send(g, g->keys[i]);
	for (unsigned i = 0; i < v.n; i++)
		if (cg_index(g, v.keys + i * KONCE_CW_KEY) < 0)
			cg_send(g, v.keys + i * KONCE_CW_KEY);
	cv_install(g, &v, true);
}

static bool build_value(konce_group *g)
{
	konce_cw_value *v = &g->msg.v;
	uint8_t (*keys)[KONCE_CW_KEY] = g->vkeys;
	uint8_t invite[KONCE_CW_SECRET];
	unsigned n = 0;
	for (unsigned i = 0; i < g->n; i++) {
		const cg_member *mm = &g->m[i];
		if (mm->suspect && !mm->promised)
			continue;
		if (cj_is_leaver(g, g->keys[i]) || (i == g->self && g->leaving))
			continue;
		memcpy(keys[n++], g->keys[i], KONCE_CW_KEY);
	}
	memset(invite, 0, sizeof(invite));
	if (g->change_join && n < KONCE_CW_MAX_MEMBERS && cg_index(g, g->join.key) < 0) {
		memcpy(keys[n++], g->join.key, KONCE_CW_KEY);
		konce_ctoken_secret_hash(invite, g->join.secret);
	}
	if (n == 0)
		return false; /* the last member cannot leave */
	if (g->l_max - g->c_max > KONCE_CW_MAX_LOG)
		return false; /* cannot happen (cgroup.h invariant 4); never drop a tail entry */
	v->epoch = g->epoch + 1;
	v->n = (uint8_t)n;
	v->keys = &keys[0][0];
	v->used_invite = invite;
	v->commit = g->c_max;
	v->first_seq = g->c_max + 1;
	v->count = 0;
	for (uint64_t s = g->c_max + 1; s <= g->l_max; s++) {
		cg_slot *sl = &g->collect[s % KONCE_GROUP_RING];
		if (sl->seq != s)
			return false;
		cg_slot_to_entry(sl, &v->e[v->count++]);
	}
	g->prop_len = konce_cw_value_encode(v, g->prop_value, KONCE_CW_MAX_VALUE);
	return g->prop_len != 0;
}

static void go_accept(konce_group *g)
{
	if (g->best_acc) {
		memcpy(g->prop_value, g->best_value, g->best_len);
		g->prop_len = g->best_len;
	} else if (!build_value(g)) {
		g->phase = 0;
		return;
	}
	konce_cw_value v;
	if (konce_cw_value_parse(&v, g->prop_value, g->prop_len, NULL) != KONCE_CW_OK) {
		g->phase = 0;
		return;
	}
	g->phase = 2;
	g->acc_ballot = g->ballot;
	memcpy(g->acc_value, g->prop_value, g->prop_len);
	g->acc_len = g->prop_len;
	if (persist_vote(g)) {
		g->phase = 0;
		return;
	}
	g->m[g->self].accepted = true;
	cg_msg_init(g, KONCE_CW_ACCEPT);
	g->msg.u = g->ballot;
	g->msg.has_value = true;
	g->msg.v = v;
	cg_send_all(g);
	check_accepted(g);
}

void cv_start(konce_group *g)
{
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return;
	enter_vc(g);
	if (g->max_round < (g->promised >> 8))
		g->max_round = g->promised >> 8;
	g->max_round++;
	g->ballot = g->max_round << 8 | (g->self + 1);
	g->promised = g->ballot;
	g->vote_base = g->epoch;
	if (persist_vote(g)) {
		g->phase = 0;
		g->vc_retry_at = g->now + MS(KONCE_GROUP_VC_RETRY_MS);
		return;
	}
	g->phase = 1;
	g->best_acc = 0;
	g->c_max = g->l_max = 0;
	memset(g->collect, 0, sizeof(cg_slot) * KONCE_GROUP_RING);
	for (unsigned i = 0; i < g->n; i++)
		g->m[i].promised = g->m[i].accepted = false;
	g->vc_retry_at = g->now + MS(KONCE_GROUP_VC_RETRY_MS + 50 * g->self);

	/* Our own promise. */
	konce_cw_value acc;
	bool has = g->acc_ballot && konce_cw_value_parse(&acc, g->acc_value, g->acc_len, NULL) == KONCE_CW_OK;
	konce_cw_entry e[KONCE_CW_MAX_LOG];
	unsigned count = 0;
	for (uint64_t s = g->commit + 1; s <= g->last && count < KONCE_CW_MAX_LOG; s++) {
		cg_slot *sl = cc_at(g, s);
		if (!sl)
			break;
		cg_slot_to_entry(sl, &e[count++]);
	}
	collect(g, g->self, has ? g->acc_ballot : 0, has ? &acc : NULL, g->commit + 1, e, count);

	cg_msg_init(g, KONCE_CW_PREPARE);
	g->msg.u = g->ballot;
	cg_send_all(g);
	if (count_flag(g, false) >= cg_majority(g->n))
		go_accept(g);
}

static void send_promise(konce_group *g, unsigned to)
{
	cg_msg_init(g, KONCE_CW_PROMISE);
	g->msg.u = g->promised;
	g->msg.acc_ballot = 0;
	if (g->acc_ballot && konce_cw_value_parse(&g->msg.v, g->acc_value, g->acc_len, NULL) == KONCE_CW_OK) {
		g->msg.acc_ballot = g->acc_ballot;
		g->msg.has_value = true;
	}
	g->msg.first = g->commit + 1;
	for (uint64_t s = g->commit + 1; s <= g->last && g->msg.count < KONCE_CW_MAX_LOG; s++) {
		cg_slot *sl = cc_at(g, s);
		if (!sl)
			break;
		cg_slot_to_entry(sl, &g->msg.e[g->msg.count++]);
	}
	cg_send(g, g->keys[to]);
}

static void send_nack(konce_group *g, unsigned to)
{
	cg_msg_init(g, KONCE_CW_NACK);
	g->msg.u = g->promised;
	cg_send(g, g->keys[to]);
}

static void note_ballot(konce_group *g, uint64_t ballot)
{
	if ((ballot >> 8) > g->max_round)
		g->max_round = ballot >> 8;
	if (g->phase && ballot > g->ballot) {
		g->phase = 0; /* a higher proposer is at work: let it finish */
		g->vc_retry_at = g->now + MS(KONCE_GROUP_VC_TAKEOVER_MS + 50 * g->self);
	}
}

void cv_on_prepare(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	if ((m->u & 0xff) != from + 1 || !(m->u >> 8))
		return; /* ballots name their proposer */
	note_ballot(g, m->u);
	if (m->u < g->promised) {
		send_nack(g, from);
		return;
	}
	if (m->u > g->promised) {
		uint64_t old = g->promised;
		g->promised = m->u;
		g->vote_base = g->epoch;
		if (persist_vote(g)) {
			g->promised = old;
			return;
		}
		enter_vc(g);
		g->vc_retry_at = g->now + MS(KONCE_GROUP_VC_TAKEOVER_MS + 50 * g->self);
	}
	send_promise(g, from);
}

void cv_on_promise(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	if (g->phase != 1 || m->u != g->ballot || g->m[from].promised)
		return;
	if (m->acc_ballot && m->v.epoch != g->epoch + 1)
		return;
	collect(g, from, m->acc_ballot, m->acc_ballot ? &m->v : NULL, m->first, m->e, m->count);
	if (count_flag(g, false) >= cg_majority(g->n))
		go_accept(g);
}

void cv_on_nack(konce_group *g, const konce_cw_msg *m) { note_ballot(g, m->u); }

void cv_on_accept(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	note_ballot(g, m->u);
	if (m->v.epoch != g->epoch + 1 || (m->u & 0xff) != from + 1)
		return;
	if (m->u < g->promised) {
		send_nack(g, from);
		return;
	}
	size_t n = konce_cw_value_encode(&m->v, g->vbuf, KONCE_CW_MAX_VALUE);
	if (!n)
		return;
	uint64_t op = g->promised, ob = g->acc_ballot;
	g->promised = g->acc_ballot = m->u;
	g->vote_base = g->epoch;
	uint8_t *tmp = g->acc_value; /* keep the old value until the new one is durable */
	size_t olen = g->acc_len;
	g->acc_value = g->vbuf;
	g->acc_len = n;
	if (persist_vote(g)) {
		g->acc_value = tmp;
		g->acc_len = olen;
		g->promised = op;
		g->acc_ballot = ob;
		return;
	}
	g->vbuf = tmp;
	enter_vc(g);
	cg_msg_init(g, KONCE_CW_ACCEPTED);
	g->msg.u = m->u;
	cg_send(g, g->keys[from]);
}

void cv_on_accepted(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	if (g->phase != 2 || m->u != g->ballot)
		return;
	g->m[from].accepted = true;
	check_accepted(g);
}

int cv_on_newview(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m)
{
	const konce_cw_value *v = &m->v;
	bool in_new = false, from_new = false;
	for (unsigned i = 0; i < v->n; i++) {
		in_new |= !memcmp(v->keys + i * KONCE_CW_KEY, g->cfg.self, KONCE_CW_KEY);
		from_new |= !memcmp(v->keys + i * KONCE_CW_KEY, from, KONCE_CW_KEY);
	}
	if (g->state == KONCE_GROUP_JOINING) {
		bool named = false;
		for (unsigned k = 0; k < g->token_n; k++)
			named |= !memcmp(g->token_keys[k], from, KONCE_CW_KEY);
		if (!(named || (in_new && from_new)))
			return -EPERM;
		if (!in_new)
			return cj_learn_view(g, v); /* a member's view: its coordinator decides on us */
		return cv_install(g, v, true);
	}
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return -EINVAL;
	if (v->epoch <= g->epoch)
		return -ESTALE;
	bool from_cur = cg_index(g, from) >= 0;
	if (!from_cur && !(from_new && in_new))
		return -EPERM;
	return cv_install(g, v, true);
}

void cv_mark_invite_used(konce_group *g, const uint8_t *h)
{
	if (!memcmp(h, zero32, KONCE_CW_SECRET))
		return;
	for (unsigned i = 0; i < g->n_invites; i++)
		if (!memcmp(g->invites[i], h, KONCE_CW_SECRET)) {
			g->invite_used[i] = true;
			return;
		}
	unsigned slot = g->n_invites < KONCE_GROUP_INVITES ? g->n_invites++ : 0;
	memcpy(g->invites[slot], h, KONCE_CW_SECRET);
	g->invite_used[slot] = true;
	g->invite_expires[slot] = 0;
}

int cv_install(konce_group *g, const konce_cw_value *v, bool persist)
{
	int self = -1;
	for (unsigned i = 0; i < v->n; i++)
		if (!memcmp(v->keys + i * KONCE_CW_KEY, g->cfg.self, KONCE_CW_KEY))
			self = (int)i;
	if (self < 0) {
		/* Keep the view that removed us: members of it that missed its NEWVIEW may still ask
		 * us (their PREPAREs for the old epoch reach us), and with the proposer gone we may be
		 * the only ones who can tell them (cgroup.c dispatch). */
		size_t vl = konce_cw_value_encode(v, g->view_bytes, KONCE_CW_MAX_VALUE);
		g->view_len = vl;
		g->out_epoch = v->epoch;
		cg_set_out(g, g->leaving ? KONCE_GROUP_OUT_LEFT : KONCE_GROUP_OUT_EVICTED, 0, v->epoch);
		return 0;
	}
	size_t len = konce_cw_value_encode(v, g->vbuf, KONCE_CW_MAX_VALUE);
	if (!len)
		return -EINVAL;
	bool fresh = g->fresh || g->state == KONCE_GROUP_NONE || g->state == KONCE_GROUP_JOINING;
	if (!fresh && g->last < v->commit) {
		/* We missed views: positions (last, commit] were committed without us. */
		konce_group_event ev = {.type = KONCE_GROUP_EV_GAP, .seq = g->last + 1, .nonce = v->commit,
					.epoch = v->epoch};
		cg_event(g, &ev);
		fresh = true;
	}
	uint64_t new_delivered = fresh ? v->commit : g->delivered;
	if (v->commit + v->count - new_delivered >= KONCE_GROUP_RING)
		return -ENOSPC; /* undelivered entries fill the ring: poll events first */
	/* Without the state before the commit index (a joiner, or a gap), the member needs a snapshot
	 * (csnap.c); the mark goes to the store before the view, so a restart knows. */
	bool need_state = persist && fresh && v->commit > 0;
	if (need_state && g->cfg.persist.put_snapshot) {
		int rc = cg_persist_rc(g, g->cfg.persist.put_snapshot(g->cfg.persist.ctx, 0, NULL, 0));
		if (rc)
			return rc;
	}
	if (persist && g->cfg.persist.put_view) {
		int rc = cg_persist_rc(g, g->cfg.persist.put_view(g->cfg.persist.ctx, g->vbuf, len));
		if (rc)
			return rc;
	}
	/* The previous view, for telling removed members they are out. */
	g->prev_n = g->n;
	memcpy(g->prev_keys, g->keys, sizeof(g->keys));
	g->n = v->n;
	for (unsigned i = 0; i < v->n; i++)
		memcpy(g->keys[i], v->keys + i * KONCE_CW_KEY, KONCE_CW_KEY);
	g->self = (unsigned)self;
	g->epoch = v->epoch;
	memcpy(g->view_bytes, g->vbuf, len);
	g->view_len = len;

	/* The log: keep (delivered, commit], take the value's tail after it. */
	if (fresh) {
		/* A joiner's history starts after the view's commit index (the snapshot that would
		 * carry what came before is not part of this core yet). */
		memset(g->ring, 0, sizeof(g->ring));
		g->delivered = g->commit = v->commit;
		if (persist && g->cfg.persist.put_delivered)
			(void)cg_persist_rc(g, g->cfg.persist.put_delivered(g->cfg.persist.ctx, v->commit));
	}
	/* Entries after the value's commit index that it does not carry are gone: forget that we saw
	 * them, so that their proposers' resubmissions are ordered. */
	for (uint64_t q = v->commit + 1; !fresh && q <= g->last; q++) {
		cg_slot *sl = cc_at(g, q);
		if (sl)
			cc_unsee(g, sl->origin, sl->nonce);
	}
	g->last = v->commit;
	for (unsigned i = 0; i < v->count; i++) {
		uint64_t seq = v->commit + 1 + i;
		cg_entry_to_slot(&v->e[i], seq, &g->ring[seq % KONCE_GROUP_RING]);
		g->ring[seq % KONCE_GROUP_RING].pid = g->p_issued; /* durable with the view (or restored) */
		cc_seen(g, v->e[i].origin, v->e[i].nonce);
		g->last = seq;
	}
	if (g->commit < v->commit)
		g->commit = v->commit;
	if (g->commit > g->last)
		g->commit = g->last;

	/* A member's grace (below) outlives the views installed during it: a join follows a join. */
	uint64_t grace[KONCE_CW_MAX_MEMBERS] = {0};
	for (unsigned i = 0; i < g->n; i++)
		for (unsigned j = 0; j < g->prev_n; j++)
			if (!memcmp(g->keys[i], g->prev_keys[j], KONCE_CW_KEY) && g->m[j].defer_until > g->now)
				grace[i] = g->m[j].defer_until;
	for (unsigned i = 0; i < g->n; i++) {
		cg_member *mm = &g->m[i];
		memset(mm, 0, sizeof(*mm));
		mm->last_heard = g->now;
		mm->acked = v->commit;
		mm->owed_since = v->count ? g->now : 0;
		/* New to us (a joiner; or, to a joiner or a restarted member, everyone): it may still be
		 * opening its sessions and installing the view; cfail.c suspects no one before
		 * defer_until. */
		if (i != (unsigned)self && !cv_in_prev(g, g->keys[i]))
			mm->defer_until = g->now + MS(KONCE_GROUP_JOIN_GRACE_MS);
		else
			mm->defer_until = grace[i];
	}
	g->vote_base = g->epoch;
	g->promised = g->acc_ballot = 0;
	g->acc_len = 0;
	g->phase = 0;
	g->max_round = 0;
	g->q_len = 0;
	g->state = KONCE_GROUP_NORMAL;
	g->halted = false;
	g->fresh = false;
	g->sealed = false; /* a new epoch: its seqs are this view's coordinator's to give */
	g->withdrawing = false; /* a withdrawing joiner takes the seat (cjoin.c) */
	cv_mark_invite_used(g, v->used_invite);
	cj_mark_withdrawn(g);
	cj_reset(g);
	cc_pending_refresh(g);
	for (unsigned i = 0; i < KONCE_GROUP_PENDING; i++)
		if (g->pend[i].used && !g->pend[i].in_log)
			g->pend[i].sent_at = 0;

	if (need_state)
		cs_start(g, v->commit);
	else if (g->catchup)
		g->snap_from = -1, g->snap_have = 0; /* member indices changed: start the transfer over */
	konce_group_event ev = {.type = KONCE_GROUP_EV_VIEW, .epoch = g->epoch, .members = g->n};
	cg_event(g, &ev);
	if (!cg_is_coord(g)) {
		cg_msg_init(g, KONCE_CW_ACK);
		g->msg.u = g->last;
		cg_send(g, g->keys[cg_coord(g)]);
	} else {
		cc_propose(g);
	}
	return 0;
}

void cv_tick(konce_group *g)
{
	if (g->state != KONCE_GROUP_VIEWCHANGE)
		return;
	if (!g->halted && g->now - g->vc_since >= MS(KONCE_GROUP_HALT_MS)) {
		g->halted = true;
		konce_group_event ev = {.type = KONCE_GROUP_EV_HALTED, .epoch = g->epoch};
		cg_event(g, &ev);
	}
	if (g->now >= g->vc_retry_at)
		cv_start(g);
}
