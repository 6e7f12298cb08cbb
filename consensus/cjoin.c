/* cjoin.c - invitations, joins and leaves: the membership changes that are not evictions.
 *
 * An invitation enters the group as an INVITE entry (the hash of its secret), ordered and
 * committed like any entry, so every member knows it.  A joiner sends JOIN(secret) to every member
 * it knows of, again every KONCE_GROUP_JOIN_RETRY_MS; the coordinator queues it if the invitation
 * is committed and unused (else REFUSED(INVALID)), and takes one join at a time: JOIN_ASK to
 * every member, each of which checks the invitation and asks its policy, and answers JOIN_VOTE.
 * The coordinator decides once every member has answered or KONCE_GROUP_JOIN_DEADLINE_MS has
 * passed: accepted when a strict majority said yes and none said no.  An accepted join becomes a
 * view change (cview.c) whose value adds the joiner and marks the invitation used, so it orders
 * against entries as an epoch boundary; one with a "no" gets REFUSED(REJECTED) and spends the
 * invitation (a REVOKE entry, ordered like the INVITE, so no later round admits it); one with too few
 * answers by the deadline just ends, and the joiner's next JOIN starts another round.  A view installed
 * while a join is under vote drops the vote; the joiner's next JOIN starts it again.
 * An invitation carries an expiry (unix seconds; 0: never), judged by each member's wall clock
 * (konce_group_set_wallclock): an expired one is refused with REFUSED(EXPIRED) when the join
 * arrives, when its vote starts and when it is decided, and a member votes no on it.
 * A member that leaves sends LEAVE to the coordinator until a view without it is installed.
 *
 * The joiner's side: its token names the members of the view the invitation was made in, and the
 * coordinator may since have changed (evicted, or a view that a later joiner entered).  A JOIN
 * carries the epoch of the latest view the joiner knows (0: its token's); a member that is not the
 * coordinator, holds a later view and finds the invitation valid answers with that view (NEWVIEW),
 * and the joiner asks that view's members from then on (cj_learn_view).
 *
 * Giving up, without leaving a silent member behind.  A joiner whose time (join_until, by default
 * KONCE_GROUP_JOIN_TIMEOUT_MS) runs out may already have been admitted: the coordinator may have
 * decided, and the view naming it be on its way.  So it does not just stop; it withdraws:
 *
 *   JOINING --join_until--> withdrawing: JOIN_WITHDRAW(PENDING) instead of JOIN, every JOIN_RETRY
 *      |  input(NEWVIEW naming it): it takes the seat (cv_install): NORMAL, as any joiner
 *      |  input(REFUSED(WITHDRAWN)) from the coordinator: OUT (TIMEDOUT), confirmed
 *      |  KONCE_GROUP_WITHDRAW_MS without either: JOIN_WITHDRAW(OUT), OUT (TIMEDOUT), unconfirmed
 *   OUT (TIMEDOUT): a member's message (a view naming it, member traffic; not REFUSED nor a view
 *      without it): JOIN_WITHDRAW(OUT) back, once per RESEND_MS; members never answer OUT
 *
 * The coordinator answers REFUSED(WITHDRAWN) only in NORMAL and only when no view change adding the
 * joiner is under way (change_join): it drops the joiner from its queue, ends a vote on it, and
 * takes no JOIN from it for KONCE_GROUP_WITHDRAW_KEEP_MS, so after that answer no view of that
 * epoch or later admits it (only the coordinator builds a value that adds a joiner).  Every other
 * member records the withdrawal too (a later coordinator takes no late JOIN from it) and, like for
 * JOIN, answers a joiner that knows an older view with its view.  A member whose view names the
 * joiner answers PENDING with its view (the joiner takes the seat), and treats OUT as a suspect that
 * is never cleared, so a view change removes it at once instead of after the failure detector's
 * deadline.  What is left: an admission whose every message to and from the joiner is lost for
 * KONCE_GROUP_WITHDRAW_MS, and then a two-member view, which cannot remove anyone (cview.c).
 */
#include <errno.h>
#include <string.h>

#include "consensus/cgroup_int.h"
#include "consensus/ctoken.h"

static cg_withdrawn *wd_find(konce_group *g, const uint8_t key[KONCE_CW_KEY]);

static uint64_t invite_expiry(const uint8_t *data)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v = v << 8 | data[KONCE_CW_SECRET + i];
	return v;
}

static bool expired(const konce_group *g, uint64_t expires) { return expires && g->wall && g->wall >= expires; }

void cj_committed(konce_group *g, const cg_slot *s)
{
	if ((s->kind == KONCE_CW_E_INVITE && s->len != KONCE_CW_INVITE_LEN) ||
	    (s->kind == KONCE_CW_E_REVOKE && s->len != KONCE_CW_SECRET))
		return;
	uint64_t expires = s->kind == KONCE_CW_E_INVITE ? invite_expiry(s->data) : 0;
	for (unsigned i = 0; i < g->n_invites; i++)
		if (!memcmp(g->invites[i], s->data, KONCE_CW_SECRET)) {
			if (s->kind == KONCE_CW_E_REVOKE)
				g->invite_used[i] = true;
			return;
		}
	/* A full table forgets its oldest invitation. */
	if (g->n_invites == KONCE_GROUP_INVITES) {
		memmove(g->invites[0], g->invites[1], (KONCE_GROUP_INVITES - 1) * KONCE_CW_SECRET);
		memmove(&g->invite_used[0], &g->invite_used[1], (KONCE_GROUP_INVITES - 1) * sizeof(bool));
		memmove(&g->invite_expires[0], &g->invite_expires[1], (KONCE_GROUP_INVITES - 1) * sizeof(uint64_t));
		g->n_invites--;
	}
	memcpy(g->invites[g->n_invites], s->data, KONCE_CW_SECRET);
	g->invite_expires[g->n_invites] = expires;
	g->invite_used[g->n_invites++] = s->kind == KONCE_CW_E_REVOKE;
}

int cj_invite_check(const konce_group *g, const uint8_t secret[KONCE_CW_SECRET], int *slot)
{
	uint8_t h[KONCE_CW_SECRET];
	konce_ctoken_secret_hash(h, secret);
	for (unsigned i = 0; i < g->n_invites; i++)
		if (!memcmp(g->invites[i], h, KONCE_CW_SECRET)) {
			if (slot)
				*slot = (int)i;
			if (g->invite_used[i])
				return KONCE_CW_R_INVALID;
			return expired(g, g->invite_expires[i]) ? KONCE_CW_R_EXPIRED : 0;
		}
	return KONCE_CW_R_INVALID;
}

int konce_group_invite_state(const konce_group *g, const uint8_t secret[KONCE_CW_SECRET])
{
	int slot = -1;
	int why = cj_invite_check(g, secret, &slot);
	if (slot < 0)
		return 0;
	return why == KONCE_CW_R_EXPIRED ? -ETIMEDOUT : why ? -ESTALE : 1;
}

bool cj_invite_valid(const konce_group *g, const uint8_t secret[KONCE_CW_SECRET], int *slot)
{
	return cj_invite_check(g, secret, slot) == 0;
}

/* What this member knows of an invitation: valid (YES), used or expired (NO), or nothing
 * (ABSTAIN).  A member also trusts an invitation still in its log (not yet known to be committed):
 * the coordinator asks only about invitations committed at the coordinator.  Not knowing one is no
 * reason to reject it: the member may have joined after it committed. */
static uint8_t invite_vote(konce_group *g, const uint8_t secret[KONCE_CW_SECRET])
{
	int slot = -1;
	if (cj_invite_valid(g, secret, &slot))
		return KONCE_CW_VOTE_YES;
	if (slot >= 0)
		return KONCE_CW_VOTE_NO; /* known, and used or expired */
	uint8_t h[KONCE_CW_SECRET];
	konce_ctoken_secret_hash(h, secret);
	for (uint64_t s = g->delivered + 1; s <= g->last; s++) {
		cg_slot *sl = cc_at(g, s);
		if (sl && sl->kind == KONCE_CW_E_INVITE && sl->len == KONCE_CW_INVITE_LEN &&
		    !memcmp(sl->data, h, KONCE_CW_SECRET))
			return expired(g, invite_expiry(sl->data)) ? KONCE_CW_VOTE_NO : KONCE_CW_VOTE_YES;
	}
	return KONCE_CW_VOTE_ABSTAIN;
}

size_t cj_export(const konce_group *g, uint8_t *out, size_t cap)
{
	konce_cw_invite inv[KONCE_CW_SNAP_INVITES];
	for (unsigned i = 0; i < g->n_invites; i++)
		inv[i] = (konce_cw_invite){.hash = g->invites[i], .expires = g->invite_expires[i],
					   .used = g->invite_used[i]};
	return konce_cw_snapcore_encode(inv, g->n_invites, out, cap);
}

void cj_import(konce_group *g, const konce_cw_invite *inv, unsigned count)
{
	for (unsigned k = 0; k < count; k++) {
		unsigned i = 0;
		while (i < g->n_invites && memcmp(g->invites[i], inv[k].hash, KONCE_CW_SECRET))
			i++;
		if (i < g->n_invites) {
			g->invite_used[i] |= inv[k].used;
			continue;
		}
		if (g->n_invites == KONCE_GROUP_INVITES)
			continue; /* a full table keeps what it knows: an abstention, not a mistake */
		memcpy(g->invites[i], inv[k].hash, KONCE_CW_SECRET);
		g->invite_expires[i] = inv[k].expires;
		g->invite_used[i] = inv[k].used;
		g->n_invites++;
	}
}

bool cj_is_leaver(const konce_group *g, const uint8_t key[KONCE_CW_KEY])
{
	for (unsigned i = 0; i < g->n_leavers; i++)
		if (!memcmp(g->leavers[i], key, KONCE_CW_KEY))
			return true;
	return false;
}

void cj_reset(konce_group *g)
{
	g->join_active = false;
	g->change_join = false;
	g->n_leavers = 0;
	if (!cg_is_coord(g)) {
		memset(g->joinq, 0, sizeof(g->joinq));
		g->joinq_len = 0;
	}
}

static bool ask_policy(konce_group *g, const uint8_t key[KONCE_CW_KEY])
{
	konce_group_event ev = {.type = KONCE_GROUP_EV_JOIN_REQUESTED, .epoch = g->epoch};
	memcpy(ev.key, key, KONCE_CW_KEY);
	cg_event(g, &ev);
	return !g->cfg.policy || g->cfg.policy(g->cfg.policy_ctx, key);
}

static void send_refused(konce_group *g, const uint8_t to[KONCE_CW_KEY], uint8_t reason)
{
	cg_msg_init(g, KONCE_CW_REFUSED);
	g->msg.flag = reason;
	cg_send(g, to);
}

void cj_on_join(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m)
{
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return;
	if (!cg_is_coord(g)) {
		/* The joiner asks every member it knows of; the coordinator answers.  A joiner that
		 * knows only an older view (its token's) may not know our coordinator: tell it our
		 * view, once per JOIN while its JOIN names an older epoch, and only if it holds an
		 * invitation valid here (nothing is sent for an unknown secret). */
		if (m->epoch < g->epoch && cj_invite_check(g, m->secret, NULL) == 0)
			cv_resend_view(g, from, NULL);
		return;
	}
	int why = cj_invite_check(g, m->secret, NULL);
	if (why) {
		send_refused(g, from, (uint8_t)why);
		return;
	}
	if (g->join_active && !memcmp(g->join.key, from, KONCE_CW_KEY))
		return;
	if (wd_find(g, from))
		return; /* it withdrew: a late or duplicated JOIN (a new attempt retries) */
	for (unsigned i = 0; i < g->joinq_len; i++)
		if (!memcmp(g->joinq[i].key, from, KONCE_CW_KEY))
			return;
	if (g->joinq_len == KONCE_GROUP_JOINQ)
		return; /* it retries */
	memcpy(g->joinq[g->joinq_len].key, from, KONCE_CW_KEY);
	memcpy(g->joinq[g->joinq_len].secret, m->secret, KONCE_CW_SECRET);
	g->joinq_len++;
	cj_tick(g);
}

static cg_withdrawn *wd_find(konce_group *g, const uint8_t key[KONCE_CW_KEY])
{
	for (unsigned k = 0; k < g->wd_len; k++)
		if (g->wd[k].until > g->now && !memcmp(g->wd[k].key, key, KONCE_CW_KEY))
			return &g->wd[k];
	return NULL;
}

static void wd_note(konce_group *g, const uint8_t key[KONCE_CW_KEY], bool out)
{
	cg_withdrawn *w = wd_find(g, key);
	if (!w) {
		unsigned k = 0;
		while (k < g->wd_len && g->wd[k].until > g->now)
			k++; /* a lapsed slot */
		if (k == KONCE_GROUP_JOINQ) {
			/* Full: forget the oldest (its late JOINs are then taken again). */
			k = 0;
			for (unsigned j = 1; j < g->wd_len; j++)
				if (g->wd[j].until < g->wd[k].until)
					k = j;
		} else if (k == g->wd_len) {
			g->wd_len++;
		}
		w = &g->wd[k];
		memcpy(w->key, key, KONCE_CW_KEY);
		w->out = false;
	}
	w->until = g->now + MS(KONCE_GROUP_WITHDRAW_KEEP_MS);
	w->out |= out;
}

static void withdrawn_suspect(konce_group *g, unsigned i)
{
	cg_member *mm = &g->m[i];
	mm->withdrawn = true;
	mm->probe_deadline = 0;
	if (!mm->suspect) {
		mm->suspect = true;
		mm->suspect_since = g->now;
	}
}

void cj_mark_withdrawn(konce_group *g)
{
	for (unsigned i = 0; i < g->n; i++) {
		const cg_withdrawn *w = i == g->self ? NULL : wd_find(g, g->keys[i]);
		if (w && w->out)
			withdrawn_suspect(g, i);
	}
}

void cj_send_withdraw(konce_group *g, uint8_t final, const uint8_t *to)
{
	cg_msg_init(g, KONCE_CW_JOIN_WITHDRAW);
	g->msg.epoch = g->join_view_epoch;
	g->msg.commit = 0;
	g->msg.secret = g->secret;
	g->msg.flag = final;
	if (to) {
		cg_send(g, to);
		return;
	}
	for (unsigned k = 0; k < g->token_n; k++)
		cg_send(g, g->token_keys[k]);
}

void cj_on_withdraw(konce_group *g, const uint8_t from[KONCE_CW_KEY], int i, const konce_cw_msg *m)
{
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return;
	if (i >= 0) {
		/* It was admitted.  Still waiting (PENDING): it takes the seat once it has our view.
		 * Gone for good (OUT): remove it now rather than when the failure detector would. */
		if ((unsigned)i == g->self)
			return;
		if (m->flag == KONCE_CW_WD_OUT) {
			wd_note(g, from, true);
			withdrawn_suspect(g, (unsigned)i);
		} else {
			cv_resend_view(g, from, &g->m[i]);
		}
		return;
	}
	int slot = -1;
	(void)cj_invite_check(g, m->secret, &slot);
	if (slot < 0)
		return; /* not an invitation of ours: nothing is kept for it */
	wd_note(g, from, m->flag == KONCE_CW_WD_OUT);
	for (unsigned k = 0; k < g->joinq_len; k++)
		if (!memcmp(g->joinq[k].key, from, KONCE_CW_KEY)) {
			memmove(&g->joinq[k], &g->joinq[k + 1], (g->joinq_len - k - 1) * sizeof(g->joinq[0]));
			memset(&g->joinq[--g->joinq_len], 0, sizeof(g->joinq[0]));
			break;
		}
	/* Only a joiner still waiting (PENDING) is answered: one gone for good (OUT) waits for
	 * nothing, and an answer to it would only draw another OUT. */
	bool pending = m->flag == KONCE_CW_WD_PENDING;
	if (!cg_is_coord(g)) {
		if (pending && m->epoch < g->epoch)
			cv_resend_view(g, from, NULL); /* as for JOIN: our coordinator answers */
		return;
	}
	bool voting = g->join_active && !memcmp(g->join.key, from, KONCE_CW_KEY);
	if (voting && g->change_join)
		return; /* a view adding it is under way: it takes the seat when that view arrives */
	if (g->state != KONCE_GROUP_NORMAL)
		return; /* a view change may be adding it: answer once a view is installed */
	if (voting)
		g->join_active = false; /* the round ends; the next queued join starts on the tick */
	if (pending)
		send_refused(g, from, KONCE_CW_R_WITHDRAWN);
}

int cj_learn_view(konce_group *g, const konce_cw_value *v)
{
	if (v->epoch <= g->join_view_epoch)
		return -ESTALE;
	/* A member we ask is in a view without us, later than any we knew: its members (its
	 * coordinator among them) are whom the JOIN goes to now.  The members are trusted (cgroup.h:
	 * no Byzantine tolerance), and the value names at least one, itself. */
	memcpy(g->token_keys, v->keys, (size_t)v->n * KONCE_CW_KEY);
	g->token_n = v->n;
	g->join_view_epoch = v->epoch;
	g->join_retry_at = g->now; /* at once, on the next timer */
	return 0;
}

static void send_asks(konce_group *g)
{
	cg_msg_init(g, KONCE_CW_JOIN_ASK);
	g->msg.key = g->join.key;
	g->msg.secret = g->join.secret;
	for (unsigned i = 0; i < g->n; i++)
		if (i != g->self && !g->m[i].voted)
			cg_send(g, g->keys[i]);
	g->join_ask_at = g->now;
}

static void decide(konce_group *g)
{
	unsigned yes = 0, no = 0, answered = 0;
	for (unsigned i = 0; i < g->n; i++)
		if (g->m[i].voted) {
			answered++;
			yes += g->m[i].vote == KONCE_CW_VOTE_YES;
			no += g->m[i].vote == KONCE_CW_VOTE_NO;
		}
	bool accept;
	if (cj_invite_check(g, g->join.secret, NULL) == KONCE_CW_R_EXPIRED) {
		/* It expired while the members voted: refused, whatever they said. */
		konce_group_event ev = {.type = KONCE_GROUP_EV_JOIN_DECIDED, .epoch = g->epoch, .yes = yes, .no = no};
		memcpy(ev.key, g->join.key, KONCE_CW_KEY);
		cg_event(g, &ev);
		send_refused(g, g->join.key, KONCE_CW_R_EXPIRED);
		g->join_active = false;
		return;
	}
	if (no)
		accept = false;
	else if (answered == g->n || g->now >= g->join_deadline)
		accept = yes >= cg_majority(g->n);
	else
		return;
	konce_group_event ev = {.type = KONCE_GROUP_EV_JOIN_DECIDED, .epoch = g->epoch, .flag = accept,
				.yes = yes, .no = no};
	memcpy(ev.key, g->join.key, KONCE_CW_KEY);
	cg_event(g, &ev);
	if (!accept) {
		/* A "no" is final.  Too few answers by the deadline is not: the round ends and the
		 * joiner's next JOIN starts another (the members may have been busy with a view change
		 * that, for all this coordinator knows, admits the joiner). */
		if (no) {
			/* Final: the invitation is spent here at once, and everywhere once the REVOKE
			 * entry commits, so no later round (a JOIN still in flight, another
			 * coordinator) admits the joiner with it. */
			int slot = -1;
			uint8_t h[KONCE_CW_SECRET];
			if (cj_invite_valid(g, g->join.secret, &slot) && slot >= 0)
				g->invite_used[slot] = true;
			konce_ctoken_secret_hash(h, g->join.secret);
			cg_propose(g, KONCE_CW_E_REVOKE, h, sizeof(h), g->now);
			send_refused(g, g->join.key, KONCE_CW_R_REJECTED);
		}
		g->join_active = false;
		return;
	}
	g->change_join = true;
	cv_start(g);
}

static void start_join(konce_group *g)
{
	g->join = g->joinq[0];
	memmove(&g->joinq[0], &g->joinq[1], (g->joinq_len - 1) * sizeof(g->joinq[0]));
	g->joinq_len--;
	memset(&g->joinq[g->joinq_len], 0, sizeof(g->joinq[0]));
	int why = cj_invite_check(g, g->join.secret, NULL);
	if (why) {
		send_refused(g, g->join.key, (uint8_t)why);
		return;
	}
	g->join_active = true;
	g->change_join = false;
	g->join_deadline = g->now + MS(KONCE_GROUP_JOIN_DEADLINE_MS);
	for (unsigned i = 0; i < g->n; i++)
		g->m[i].voted = false;
	g->m[g->self].voted = true;
	g->m[g->self].vote = ask_policy(g, g->join.key) ? KONCE_CW_VOTE_YES : KONCE_CW_VOTE_NO;
	send_asks(g);
	decide(g);
}

void cj_on_ask(konce_group *g, const konce_cw_msg *m)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return;
	uint8_t vote = cg_index(g, m->key) >= 0 ? KONCE_CW_VOTE_NO : invite_vote(g, m->secret);
	if (vote != KONCE_CW_VOTE_NO && !ask_policy(g, m->key))
		vote = KONCE_CW_VOTE_NO;
	cg_msg_init(g, KONCE_CW_JOIN_VOTE);
	g->msg.key = m->key;
	g->msg.flag = vote;
	cg_send(g, g->keys[cg_coord(g)]);
}

void cj_on_vote(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	if (!g->join_active || g->change_join || g->state != KONCE_GROUP_NORMAL ||
	    memcmp(m->key, g->join.key, KONCE_CW_KEY) || g->m[from].voted)
		return;
	g->m[from].voted = true;
	g->m[from].vote = m->flag;
	decide(g);
}

void cj_on_leave(konce_group *g, unsigned from)
{
	if (cj_is_leaver(g, g->keys[from]) || g->n_leavers == KONCE_CW_MAX_MEMBERS)
		return;
	memcpy(g->leavers[g->n_leavers++], g->keys[from], KONCE_CW_KEY);
	cj_tick(g);
}

void cj_tick(konce_group *g)
{
	if (g->state != KONCE_GROUP_NORMAL)
		return;
	if (g->leaving) {
		if (cg_is_coord(g)) {
			if (!cj_is_leaver(g, g->cfg.self) && g->n_leavers < KONCE_CW_MAX_MEMBERS)
				memcpy(g->leavers[g->n_leavers++], g->cfg.self, KONCE_CW_KEY);
		} else if (g->now >= g->leave_retry_at) {
			cg_msg_init(g, KONCE_CW_LEAVE);
			cg_send(g, g->keys[cg_coord(g)]);
			g->leave_retry_at = g->now + MS(KONCE_GROUP_RETX_MS);
		}
	}
	if (!cg_is_coord(g))
		return;
	if (g->join_active) {
		if (!g->change_join) {
			if (g->now - g->join_ask_at >= MS(KONCE_GROUP_RETX_MS))
				send_asks(g);
			decide(g);
		}
		return;
	}
	if (g->n_leavers) {
		if (g->n > 1)
			cv_start(g);
		return;
	}
	if (g->joinq_len)
		start_join(g);
}
