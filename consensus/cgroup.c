/* cgroup.c - the consensus core's lifecycle, input dispatch, queues and timer (cgroup.h).
 *
 * Every input is parsed in full (cwire.c) before anything is looked at; then the group id, the
 * sender's membership and the epoch are checked, in that order, before any state changes. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "consensus/cgroup_int.h"

int cg_index(const konce_group *g, const uint8_t key[KONCE_CW_KEY])
{
	for (unsigned i = 0; i < g->n; i++)
		if (!memcmp(g->keys[i], key, KONCE_CW_KEY))
			return (int)i;
	return -1;
}

unsigned cg_coord(const konce_group *g) { return g->n ? (unsigned)(g->epoch % g->n) : 0; }
bool cg_is_coord(const konce_group *g) { return g->n && cg_coord(g) == g->self; }
unsigned cg_majority(unsigned n) { return n / 2 + 1; }

void cg_msg_init(konce_group *g, uint8_t type)
{
	konce_cw_msg *m = &g->msg;
	m->type = type;
	m->group = g->cfg.group;
	m->epoch = g->epoch;
	m->commit = g->commit;
	m->u = m->acc_ballot = m->first = 0;
	m->nonce = 0;
	m->flag = 0;
	m->key = m->secret = NULL;
	m->count = 0;
	m->has_value = false;
}

void cg_send(konce_group *g, const uint8_t to[KONCE_CW_KEY])
{
	if (!memcmp(to, g->cfg.self, KONCE_CW_KEY))
		return;
	size_t len = konce_cw_encode(&g->msg, g->buf, KONCE_CW_MAX_MSG);
	if (!len || g->out_len == KONCE_GROUP_OUT_MAX) {
		g->out_dropped++;
		return;
	}
	uint8_t *b = konce_env_alloc(g->env, len);
	if (!b) {
		g->out_dropped++;
		return;
	}
	memcpy(b, g->buf, len);
	cg_outmsg *o = &g->out[(g->out_head + g->out_len++) % KONCE_GROUP_OUT_MAX];
	memcpy(o->to, to, KONCE_CW_KEY);
	o->bytes = b;
	o->len = len;
	o->need = g->p_gate;
}

void cg_send_all(konce_group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		if (i != g->self)
			cg_send(g, g->keys[i]);
}

void cg_event(konce_group *g, const konce_group_event *ev)
{
	if (g->ev_len == KONCE_GROUP_EV_RING || g->ev_lost) { /* never drop silently (invariant 7) */
		g->ev_lost++;
		return;
	}
	unsigned k = (g->ev_head + g->ev_len++) % KONCE_GROUP_EV_RING;
	g->ev[k] = *ev;
	g->ev_need[k] = g->p_gate;
}

/* Back-pressure (invariant 7): too few free event slots to take another call. */
bool cg_busy(const konce_group *g)
{
	return g->ev_len > KONCE_GROUP_EV_RING - KONCE_GROUP_EV_RESERVE || g->ev_lost;
}

void cg_set_out(konce_group *g, enum konce_group_out_reason why, uint8_t kind, uint64_t epoch)
{
	konce_group_event ev = {.type = KONCE_GROUP_EV_OUT, .out_reason = why, .kind = kind, .epoch = epoch};
	g->state = KONCE_GROUP_OUT;
	g->out_reason = why;
	cg_event(g, &ev);
}

int cg_persist_rc(konce_group *g, int rc)
{
	if (rc == 0 || rc == KONCE_GROUP_PERSIST_QUEUED) {
		g->p_issued++;
		g->p_gate = g->p_issued;
		if (rc == 0) /* durable now, and (the caller keeps call order) everything before it */
			g->p_done = g->p_issued;
		return 0;
	}
	konce_group_event ev = {.type = KONCE_GROUP_EV_PERSIST_FAILED, .err = rc < 0 ? rc : -EIO};
	cg_event(g, &ev);
	return rc < 0 ? rc : -EIO;
}

uint64_t konce_group_persist_issued(const konce_group *g) { return g->p_issued; }

int konce_group_persisted(konce_group *g, uint64_t id)
{
	if (id > g->p_issued)
		return -EINVAL;
	if (id > g->p_done) {
		g->p_done = id;
		cc_persisted(g); /* the coordinator's own copy counts as its ack only now */
	}
	return 0;
}

void cg_slot_to_entry(const cg_slot *s, konce_cw_entry *e)
{
	e->kind = s->kind;
	e->origin = s->origin;
	e->nonce = s->nonce;
	e->len = s->len;
	e->data = s->data;
}

void cg_entry_to_slot(const konce_cw_entry *e, uint64_t seq, cg_slot *s)
{
	s->seq = seq;
	s->kind = e->kind;
	memcpy(s->origin, e->origin, KONCE_CW_ORIGIN);
	s->nonce = e->nonce;
	s->len = e->len;
	memcpy(s->data, e->data, e->len);
}

konce_group *konce_group_new(const konce_group_config *cfg)
{
	const konce_env *env = cfg->env ? cfg->env : konce_env_default();
	konce_group *g = konce_env_alloc(env, sizeof(*g));
	if (!g)
		return NULL;
	g->cfg = *cfg;
	g->env = env;
	g->max_batch = KONCE_CW_MAX_BATCH;
	g->buf = konce_env_alloc(env, KONCE_CW_MAX_MSG);
	g->vbuf = konce_env_alloc(env, KONCE_CW_MAX_VALUE);
	g->view_bytes = konce_env_alloc(env, KONCE_CW_MAX_VALUE);
	g->acc_value = konce_env_alloc(env, KONCE_CW_MAX_VALUE);
	g->best_value = konce_env_alloc(env, KONCE_CW_MAX_VALUE);
	g->prop_value = konce_env_alloc(env, KONCE_CW_MAX_VALUE);
	g->collect = konce_env_alloc(env, sizeof(cg_slot) * KONCE_GROUP_RING);
	g->deliver_buf = konce_env_alloc(env, sizeof(cg_slot));
	g->secret = konce_env_alloc(env, KONCE_CW_SECRET);
	if (!g->buf || !g->vbuf || !g->view_bytes || !g->acc_value || !g->best_value || !g->prop_value ||
	    !g->collect || !g->deliver_buf || !g->secret) {
		konce_group_free(g);
		return NULL;
	}
	/* Nonces identify a member's proposals across its restarts (duplicate SUBMITs are recognised
	 * by (origin, nonce)), and are not persisted: start each run at a random point. */
	uint8_t r[8];
	konce_env_random(env, r, sizeof(r));
	for (unsigned i = 0; i < 8; i++)
		g->next_nonce = g->next_nonce << 8 | r[i];
	g->next_nonce = (g->next_nonce >> 2) | 1;
	return g;
}

void konce_group_free(konce_group *g)
{
	if (!g)
		return;
	const konce_env *env = g->env;
	while (g->out_len) {
		konce_env_free(env, g->out[g->out_head].bytes);
		g->out_head = (g->out_head + 1) % KONCE_GROUP_OUT_MAX;
		g->out_len--;
	}
	konce_env_free(env, g->out_last);
	konce_env_free(env, g->snap_buf);
	if (g->secret)
		sodium_memzero(g->secret, KONCE_CW_SECRET);
	sodium_memzero(g->joinq, sizeof(g->joinq));
	sodium_memzero(&g->join, sizeof(g->join));
	konce_env_free(env, g->secret);
	konce_env_free(env, g->buf);
	konce_env_free(env, g->vbuf);
	konce_env_free(env, g->view_bytes);
	konce_env_free(env, g->acc_value);
	konce_env_free(env, g->best_value);
	konce_env_free(env, g->prop_value);
	konce_env_free(env, g->collect);
	konce_env_free(env, g->deliver_buf);
	konce_env_free(env, g);
}

static void start_clock(konce_group *g, uint64_t now)
{
	g->now = now;
	g->next_tick = now + MS(KONCE_GROUP_TICK_MS);
	g->next_hb = now;
}

int konce_group_create(konce_group *g, uint64_t now)
{
	if (g->state != KONCE_GROUP_NONE)
		return -EINVAL;
	static const uint8_t zero[KONCE_CW_SECRET];
	konce_cw_value v = {.epoch = 1, .n = 1, .keys = g->cfg.self, .used_invite = zero, .commit = 0, .first_seq = 1};
	start_clock(g, now);
	return cv_install(g, &v, true);
}

int konce_group_join(konce_group *g, const uint8_t (*keys)[KONCE_CW_KEY], unsigned n,
		     const uint8_t secret[KONCE_CW_SECRET], uint64_t now)
{
	if (g->state != KONCE_GROUP_NONE || n == 0 || n > KONCE_CW_MAX_MEMBERS)
		return -EINVAL;
	memcpy(g->token_keys, keys, (size_t)n * KONCE_CW_KEY);
	g->token_n = n;
	memcpy(g->secret, secret, KONCE_CW_SECRET);
	g->state = KONCE_GROUP_JOINING;
	g->fresh = true;
	start_clock(g, now);
	g->join_retry_at = now; /* the first JOIN goes out on the first timer */
	g->join_until = now + MS(KONCE_GROUP_JOIN_TIMEOUT_MS);
	g->withdrawing = false;
	g->join_view_epoch = 0;
	konce_group_timer(g, now);
	return 0;
}

int konce_group_restore(konce_group *g, const uint8_t *view, size_t view_len, uint64_t vote_base,
			uint64_t promised, uint64_t acc_ballot, const uint8_t *acc_value, size_t acc_len,
			uint64_t delivered, uint64_t now)
{
	konce_cw_value v;
	if (g->state != KONCE_GROUP_NONE || view_len > KONCE_CW_MAX_VALUE || acc_len > KONCE_CW_MAX_VALUE)
		return -EINVAL;
	if (konce_cw_value_parse(&v, view, view_len, NULL) != KONCE_CW_OK)
		return -EINVAL;
	start_clock(g, now);
	int rc = cv_install(g, &v, false);
	if (rc)
		return rc;
	/* The view's tail is what the store holds unless later entries replaced it; the caller feeds
	 * those with konce_group_restore_entry().  Everything up to `delivered` was delivered. */
	if (delivered > g->last)
		g->last = delivered; /* entries appended after the view, all delivered */
	g->delivered = delivered;
	if (g->commit < delivered)
		g->commit = delivered;
	if (vote_base == g->epoch && promised) {
		konce_cw_value av;
		if (acc_ballot && konce_cw_value_parse(&av, acc_value, acc_len, NULL) != KONCE_CW_OK)
			return -EINVAL;
		g->vote_base = vote_base;
		g->promised = promised;
		g->acc_ballot = acc_ballot;
		if (acc_ballot)
			memcpy(g->acc_value, acc_value, acc_len);
		g->acc_len = acc_ballot ? acc_len : 0;
		g->max_round = promised >> 8;
		g->state = KONCE_GROUP_VIEWCHANGE; /* a promise freezes the epoch, across restarts too */
		g->vc_since = now;
		g->vc_retry_at = now + MS(KONCE_GROUP_VC_TAKEOVER_MS);
	}
	/* A restart is not news: drop the VIEW event the install queued. */
	g->ev_len = 0;
	/* The coordinator of the restored epoch may have sent PROPOSEs for seqs its store does not
	 * hold: it orders nothing more in this epoch (invariant 8).  A lone member sent nothing. */
	g->sealed = g->n > 1 && cg_is_coord(g);
	return 0;
}

int konce_group_found(konce_group *g, const uint8_t *view, size_t view_len, uint64_t now)
{
	konce_cw_value v;
	if (g->state != KONCE_GROUP_NONE || view_len > KONCE_CW_MAX_VALUE ||
	    konce_cw_value_parse(&v, view, view_len, NULL) != KONCE_CW_OK || v.epoch != 1 || v.commit || v.count)
		return -EINVAL;
	int rc = konce_group_restore(g, view, view_len, 0, 0, 0, NULL, 0, 0, now);
	g->sealed = false; /* a first start: nobody has proposed in this view yet */
	return rc;
}

int konce_group_restore_entry(konce_group *g, uint64_t seq, const uint8_t *entry, size_t len)
{
	konce_cw_entry e;
	if (konce_cw_entry_parse(&e, entry, len, NULL) != KONCE_CW_OK || seq <= g->delivered || seq > g->last + 1)
		return -EINVAL;
	if (seq - g->delivered >= KONCE_GROUP_RING)
		return -ENOSPC;
	cg_entry_to_slot(&e, seq, &g->ring[seq % KONCE_GROUP_RING]);
	g->ring[seq % KONCE_GROUP_RING].pid = 0; /* it comes from the store: durable */
	cc_seen(g, e.origin, e.nonce);
	if (seq > g->last)
		g->last = seq;
	cc_pending_refresh(g);
	return 0;
}

int konce_group_restore_invite(konce_group *g, const uint8_t *entry, size_t len)
{
	konce_cw_entry e;
	if (g->state == KONCE_GROUP_NONE || konce_cw_entry_parse(&e, entry, len, NULL) != KONCE_CW_OK)
		return -EINVAL;
	if (e.kind == KONCE_CW_E_APP)
		return 0;
	cg_slot *s = g->deliver_buf; /* scratch: nothing is being delivered during a restore */
	cg_entry_to_slot(&e, 0, s);
	cj_committed(g, s);
	return 0;
}

int konce_group_restore_used(konce_group *g, const uint8_t hash[KONCE_CW_SECRET])
{
	if (g->state == KONCE_GROUP_NONE)
		return -EINVAL;
	cv_mark_invite_used(g, hash);
	return 0;
}

int64_t cg_propose(konce_group *g, uint8_t kind, const uint8_t *data, size_t len, uint64_t now)
{
	g->now = now;
	if (cg_busy(g))
		return -ENOBUFS;
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return -ENOTCONN;
	if (len > KONCE_CW_MAX_ENTRY)
		return -EMSGSIZE;
	for (unsigned i = 0; i < KONCE_GROUP_PENDING; i++) {
		cg_pending *p = &g->pend[i];
		if (p->used)
			continue;
		p->used = true;
		p->in_log = false;
		p->kind = kind;
		p->nonce = g->next_nonce++;
		p->len = (uint16_t)len;
		memcpy(p->data, data, len);
		p->sent_at = 0;
		g->defer_propose = true; /* a coordinator queues it for the next poll to propose */
		cc_tick(g);              /* a member sends it to the coordinator now */
		g->defer_propose = false;
		return (int64_t)p->nonce;
	}
	return -EAGAIN;
}

int64_t konce_group_propose(konce_group *g, const uint8_t *data, size_t len, uint64_t now)
{
	return cg_propose(g, KONCE_CW_E_APP, data, len, now);
}

int64_t konce_group_invite(konce_group *g, const uint8_t secret_hash[KONCE_CW_SECRET], uint64_t expires, uint64_t now)
{
	uint8_t d[KONCE_CW_INVITE_LEN];
	memcpy(d, secret_hash, KONCE_CW_SECRET);
	for (unsigned i = 0; i < 8; i++)
		d[KONCE_CW_SECRET + i] = (uint8_t)(expires >> (56 - 8 * i));
	return cg_propose(g, KONCE_CW_E_INVITE, d, sizeof(d), now);
}

void konce_group_set_wallclock(konce_group *g, uint64_t unix_seconds) { g->wall = unix_seconds; }

int konce_group_set_max_batch(konce_group *g, unsigned max_entries)
{
	if (max_entries < 1 || max_entries > KONCE_CW_MAX_BATCH)
		return -EINVAL;
	g->max_batch = max_entries;
	return 0;
}

int konce_group_leave(konce_group *g, uint64_t now)
{
	g->now = now;
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return -ENOTCONN;
	if (cg_busy(g))
		return -ENOBUFS;
	g->leaving = true;
	g->leave_retry_at = now;
	konce_group_timer(g, now);
	return 0;
}

static int dispatch(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m)
{
	int i = cg_index(g, from);
	if (m->type == KONCE_CW_JOIN) {
		if (i >= 0) { /* admitted, but our NEWVIEW was lost */
			cv_resend_view(g, from, &g->m[i]);
			return 0;
		}
		/* A restarted coordinator (sealed, cgroup.h invariant 8) is handing its epoch over,
		 * and its store may predate the invitation's INVITE: it does not refuse an invitation
		 * it does not know (the joiner asks again; the next coordinator answers), since a
		 * refusal ends the join while the next coordinator may admit it. */
		if (g->sealed && konce_group_invite_state(g, m->secret) == 0)
			return 0;
		cj_on_join(g, from, m);
		return 0;
	}
	if (g->state == KONCE_GROUP_OUT && g->out_reason == KONCE_GROUP_OUT_TIMEDOUT) {
		/* We gave up joining: if a view admitted us after all, its members hear that we are
		 * gone for good (cjoin.c), once per RESEND_MS.  Members never answer that, and a
		 * refusal or a view without us is no member's traffic: no exchange loops. */
		bool named = m->type != KONCE_CW_NEWVIEW;
		for (unsigned k = 0; !named && k < m->v.n; k++)
			named = !memcmp(m->v.keys + k * KONCE_CW_KEY, g->cfg.self, KONCE_CW_KEY);
		if (m->epoch && named && m->type != KONCE_CW_REFUSED &&
		    (g->now - g->behind_at >= MS(KONCE_GROUP_RESEND_MS) || !g->behind_at)) {
			g->behind_at = g->now ? g->now : 1;
			cj_send_withdraw(g, KONCE_CW_WD_OUT, from);
		}
		return -EINVAL;
	}
	if (g->state == KONCE_GROUP_OUT) {
		/* A member of the view that removed us, still behind it: pass the view on. */
		konce_cw_value v;
		if (g->view_len && m->epoch < g->out_epoch && m->type != KONCE_CW_NEWVIEW &&
		    (g->now - g->behind_at >= MS(KONCE_GROUP_RESEND_MS) || !g->behind_at) &&
		    konce_cw_value_parse(&v, g->view_bytes, g->view_len, NULL) == KONCE_CW_OK)
			for (unsigned k = 0; k < v.n; k++)
				if (!memcmp(v.keys + k * KONCE_CW_KEY, from, KONCE_CW_KEY)) {
					g->behind_at = g->now ? g->now : 1;
					cv_resend_view(g, from, NULL);
					break;
				}
		return -EINVAL;
	}
	if (m->type == KONCE_CW_NEWVIEW)
		return cv_on_newview(g, from, m);
	if (m->type == KONCE_CW_JOIN_WITHDRAW) {
		cj_on_withdraw(g, from, i, m);
		return 0;
	}
	if (g->state == KONCE_GROUP_JOINING) {
		/* A joiner hears only NEWVIEW or REFUSED, from a member the token named. */
		bool named = false;
		for (unsigned k = 0; k < g->token_n; k++)
			named |= !memcmp(g->token_keys[k], from, KONCE_CW_KEY);
		if (!named)
			return -EPERM;
		if (m->type == KONCE_CW_REFUSED && m->flag == KONCE_CW_R_WITHDRAWN) {
			if (!g->withdrawing)
				return -EINVAL; /* the answer to an earlier attempt's withdrawal */
			cg_set_out(g, KONCE_GROUP_OUT_TIMEDOUT, m->flag, 0);
			return 0;
		}
		if (m->type == KONCE_CW_REFUSED) {
			cg_set_out(g, KONCE_GROUP_OUT_REFUSED, m->flag, 0);
			return 0;
		}
		return -EINVAL;
	}
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return -EINVAL;
	if (m->epoch > g->epoch) {
		/* We are behind: a later view may name a member our view does not, which our heartbeats
		 * never reach.  Tell the sender our epoch (a HEARTBEAT), and it sends us its view. */
		if (g->now - g->behind_at >= MS(KONCE_GROUP_RESEND_MS) || !g->behind_at) {
			g->behind_at = g->now ? g->now : 1;
			cg_msg_init(g, KONCE_CW_HEARTBEAT);
			g->msg.u = g->last;
			cg_send(g, from);
		}
		return -ESTALE;
	}
	if (i < 0) {
		/* A member we removed who has not heard: tell it (rate-limited by its old slot). */
		if (cv_in_prev(g, from) && m->epoch < g->epoch)
			cv_resend_view(g, from, NULL);
		return -EPERM;
	}
	if (m->epoch < g->epoch) {
		cv_resend_view(g, from, &g->m[i]);
		return -ESTALE;
	}
	unsigned u = (unsigned)i;
	cf_heard(g, u);
	cc_learn_commit(g, m->commit);
	switch (m->type) {
	case KONCE_CW_HEARTBEAT:
		return 0;
	case KONCE_CW_SUBMIT:
		if (!cg_is_coord(g) || memcmp(m->e[0].origin, from, KONCE_CW_ORIGIN))
			return -EPERM;
		cc_submit(g, &m->e[0]);
		return 0;
	case KONCE_CW_PROPOSE:
		if (u != cg_coord(g))
			return -EPERM;
		cc_on_propose(g, m);
		return 0;
	case KONCE_CW_ACK:
		if (!cg_is_coord(g))
			return -EPERM;
		cc_on_ack(g, u, m->u);
		return 0;
	case KONCE_CW_PROBE_REQ:
		cf_on_probe_req(g, from, m);
		return 0;
	case KONCE_CW_PROBE_REP:
		cf_on_probe_rep(g, m);
		return 0;
	case KONCE_CW_PREPARE:
		cv_on_prepare(g, u, m);
		return 0;
	case KONCE_CW_PROMISE:
		cv_on_promise(g, u, m);
		return 0;
	case KONCE_CW_NACK:
		cv_on_nack(g, m);
		return 0;
	case KONCE_CW_ACCEPT:
		cv_on_accept(g, u, m);
		return 0;
	case KONCE_CW_ACCEPTED:
		cv_on_accepted(g, u, m);
		return 0;
	case KONCE_CW_JOIN_ASK:
		if (u != cg_coord(g))
			return -EPERM;
		cj_on_ask(g, m);
		return 0;
	case KONCE_CW_JOIN_VOTE:
		if (!cg_is_coord(g))
			return -EPERM;
		cj_on_vote(g, u, m);
		return 0;
	case KONCE_CW_LEAVE:
		if (!cg_is_coord(g))
			return -EPERM;
		cj_on_leave(g, u);
		return 0;
	case KONCE_CW_SNAP_REQ:
		cs_on_req(g, u, m);
		return 0;
	case KONCE_CW_SNAP:
		cs_on_snap(g, u, m);
		return 0;
	default:
		return -EINVAL;
	}
}

int konce_group_input(konce_group *g, const uint8_t from[KONCE_CW_KEY], const uint8_t *bytes, size_t len,
		      uint64_t now)
{
	g->now = now;
	if (cg_busy(g))
		return -ENOBUFS; /* the sender retransmits; the caller polls events first */
	/* Parsed into g->in; dispatch() builds replies in g->msg. */
	if (konce_cw_parse(&g->in, bytes, len) != KONCE_CW_OK)
		return -EBADMSG;
	if (memcmp(g->in.group, g->cfg.group, KONCE_CW_GROUP_ID))
		return -EPERM;
	return dispatch(g, from, &g->in);
}

bool konce_group_poll(konce_group *g, konce_group_out *out)
{
	konce_env_free(g->env, g->out_last);
	g->out_last = NULL;
	if (g->q_len) /* the proposals made since the last poll, in as few PROPOSEs as fit */
		cc_propose(g);
	if (!g->out_len || g->out[g->out_head].need > g->p_done)
		return false; /* nothing, or the next message waits for a persist (invariant 6) */
	cg_outmsg *o = &g->out[g->out_head];
	g->out_head = (g->out_head + 1) % KONCE_GROUP_OUT_MAX;
	g->out_len--;
	memcpy(out->to, o->to, KONCE_CW_KEY);
	out->bytes = g->out_last = o->bytes;
	out->len = o->len;
	return true;
}

bool konce_group_poll_event(konce_group *g, konce_group_event *ev)
{
	if (g->q_len) /* as in konce_group_poll */
		cc_propose(g);
	/* State changes first (a VIEW before the entries committed in it), then deliveries. */
	if (!g->ev_len && g->ev_lost) {
		memset(ev, 0, sizeof(*ev));
		ev->type = KONCE_GROUP_EV_OVERFLOW;
		ev->seq = g->ev_lost;
		g->ev_lost = 0;
		return true;
	}
	if (!g->ev_len)
		return cc_next_delivery(g, ev);
	if (g->ev_need[g->ev_head] > g->p_done)
		return false; /* it follows a record not yet durable (invariant 6) */
	*ev = g->ev[g->ev_head];
	g->ev_head = (g->ev_head + 1) % KONCE_GROUP_EV_RING;
	g->ev_len--;
	return true;
}

uint64_t konce_group_next_timer(const konce_group *g)
{
	if (g->state == KONCE_GROUP_NONE || g->state == KONCE_GROUP_OUT)
		return UINT64_MAX;
	return g->next_tick;
}

void konce_group_timer(konce_group *g, uint64_t now)
{
	g->now = now;
	if (g->state == KONCE_GROUP_NONE || g->state == KONCE_GROUP_OUT)
		return;
	if (now >= g->next_tick)
		g->next_tick = now + MS(KONCE_GROUP_TICK_MS);
	if (cg_busy(g))
		return; /* back-pressure: the caller polls events first */
	if (g->state == KONCE_GROUP_JOINING) {
		if (!g->withdrawing && now >= g->join_until) {
			/* Not admitted (nor refused) in time: withdraw (cjoin.c) rather than just stop,
			 * for the coordinator may have admitted us a moment ago. */
			g->withdrawing = true;
			g->withdraw_until = now + MS(KONCE_GROUP_WITHDRAW_MS);
			g->join_retry_at = now;
		}
		if (g->withdrawing && now >= g->withdraw_until) {
			/* Nobody answered (the group is halted, or no member we know of answers). */
			cj_send_withdraw(g, KONCE_CW_WD_OUT, NULL);
			cg_set_out(g, KONCE_GROUP_OUT_TIMEDOUT, 0, 0);
			return;
		}
		if (now >= g->join_retry_at) {
			if (g->withdrawing) {
				cj_send_withdraw(g, KONCE_CW_WD_PENDING, NULL);
			} else {
				cg_msg_init(g, KONCE_CW_JOIN);
				g->msg.epoch = g->join_view_epoch; /* members of a later view tell us of it */
				g->msg.commit = 0;
				g->msg.secret = g->secret;
				for (unsigned k = 0; k < g->token_n; k++)
					cg_send(g, g->token_keys[k]);
			}
			g->join_retry_at = now + MS(KONCE_GROUP_JOIN_RETRY_MS);
		}
		return;
	}
	if (now >= g->next_hb) {
		cg_msg_init(g, KONCE_CW_HEARTBEAT);
		g->msg.u = g->last;
		cg_send_all(g);
		g->next_hb = now + MS(KONCE_GROUP_HB_MS);
	}
	cf_tick(g);
	if (g->state == KONCE_GROUP_OUT)
		return;
	cc_tick(g);
	cj_tick(g);
	cv_tick(g);
	cs_tick(g);
}

enum konce_group_state konce_group_state(const konce_group *g) { return g->state; }
bool konce_group_halted(const konce_group *g) { return g->halted; }
uint64_t konce_group_epoch(const konce_group *g) { return g->epoch; }
unsigned konce_group_coordinator(const konce_group *g) { return cg_coord(g); }
uint64_t konce_group_commit_index(const konce_group *g) { return g->commit; }
uint64_t konce_group_out_dropped(const konce_group *g) { return g->out_dropped; }

int konce_group_out_reason(const konce_group *g) { return g->state == KONCE_GROUP_OUT ? (int)g->out_reason : 0; }

int konce_group_join_deadline(konce_group *g, uint64_t until)
{
	if (g->state != KONCE_GROUP_JOINING || g->withdrawing)
		return -EINVAL;
	g->join_until = until;
	return 0;
}

int konce_group_join_deadline_unix(konce_group *g, uint64_t unix_s)
{
	if (!g->wall)
		return -EINVAL; /* no wall clock to judge it by */
	uint64_t left = unix_s > g->wall ? unix_s - g->wall : 0;
	if (left > UINT64_MAX / 1000000u - g->now)
		return -ERANGE;
	return konce_group_join_deadline(g, g->now + left * 1000000u);
}

int konce_group_join_progress(const konce_group *g, uint64_t *epoch, uint64_t *left_ms)
{
	if (g->state != KONCE_GROUP_JOINING)
		return -EINVAL;
	*epoch = g->join_view_epoch;
	*left_ms = g->join_until > g->now ? (g->join_until - g->now) / 1000u : 0;
	return 0;
}

unsigned konce_group_members(const konce_group *g, const uint8_t (**keys)[KONCE_CW_KEY])
{
	*keys = (const uint8_t (*)[KONCE_CW_KEY])g->keys;
	return g->n;
}

unsigned konce_group_join_targets(const konce_group *g, const uint8_t (**keys)[KONCE_CW_KEY])
{
	*keys = (const uint8_t (*)[KONCE_CW_KEY])g->token_keys;
	return g->state == KONCE_GROUP_JOINING ? g->token_n : 0;
}
