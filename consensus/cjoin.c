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
 * and the joiner asks that view's members from then on (cj_learn_view).  A joiner that is neither
 * admitted nor refused within KONCE_GROUP_JOIN_TIMEOUT_MS gives up: OUT (TIMEDOUT).
 */
#include <errno.h>
#include <string.h>

#include "consensus/cgroup_int.h"
#include "consensus/ctoken.h"

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
