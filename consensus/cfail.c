/* cfail.c - failure detection: heartbeats, indirect probes, suspicion with hysteresis.
 *
 * Every member sends HEARTBEAT to every other every KONCE_GROUP_HB_MS (cgroup.c).  A member
 * silent for KONCE_GROUP_SUSPECT_MS -- or, at the coordinator, one that owes an ACK that long --
 * is not suspected at once: we ask another member we hear from (PROBE_REQ) whether it has heard
 * the silent one within KONCE_GROUP_SUSPECT_MS.  "Alive" defers suspicion by another
 * KONCE_GROUP_SUSPECT_MS, at most KONCE_GROUP_DEFER_MAX times in a row (a path that carries
 * nothing between two members blocks all-ack commits, so it cannot defer for ever); no answer
 * within KONCE_GROUP_PROBE_MS, or no member to ask, makes it a suspect.  A suspect is cleared only
 * when heard again at least KONCE_GROUP_REHAB_MS after it was suspected (hysteresis).  Any
 * suspect starts a view change (cview.c).  A member new to the installed view is not suspected
 * within KONCE_GROUP_JOIN_GRACE_MS of the install (cv_install sets its defer_until): a joiner may
 * need a handshake retry before it reaches every member.
 */
#include <errno.h>
#include <string.h>

#include "consensus/cgroup_int.h"

void cf_heard(konce_group *g, unsigned i)
{
	cg_member *mm = &g->m[i];
	mm->last_heard = g->now;
	mm->probe_deadline = 0;
	if (g->now >= mm->defer_until)
		mm->defers = 0;
	if (mm->suspect && !mm->withdrawn && g->now - mm->suspect_since >= MS(KONCE_GROUP_REHAB_MS))
		mm->suspect = false;
}

static bool silent(const konce_group *g, unsigned i)
{
	const cg_member *mm = &g->m[i];
	if (g->now < mm->defer_until)
		return false;
	if (g->now - mm->last_heard >= MS(KONCE_GROUP_SUSPECT_MS))
		return true;
	return cg_is_coord(g) && g->state == KONCE_GROUP_NORMAL && mm->owed_since &&
	       g->now - mm->owed_since >= MS(KONCE_GROUP_SUSPECT_MS);
}

static void suspect(konce_group *g, unsigned i)
{
	cg_member *mm = &g->m[i];
	mm->probe_deadline = 0;
	if (mm->suspect)
		return;
	mm->suspect = true;
	mm->suspect_since = g->now;
}

void cf_tick(konce_group *g)
{
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return;
	bool any = false;
	for (unsigned i = 0; i < g->n; i++) {
		cg_member *mm = &g->m[i];
		if (i == g->self)
			continue;
		if (mm->suspect) {
			any = true;
			continue;
		}
		if (!silent(g, i))
			continue;
		if (mm->probe_deadline) {
			if (g->now >= mm->probe_deadline)
				suspect(g, i), any = true;
			continue;
		}
		if (mm->defers >= KONCE_GROUP_DEFER_MAX) {
			suspect(g, i), any = true;
			continue;
		}
		/* Ask a helper we heard recently, rotating with the probe count. */
		int helper = -1;
		for (unsigned k = 0; k < g->n && helper < 0; k++) {
			unsigned j = (i + 1 + k + mm->defers) % g->n;
			if (j != g->self && j != i && !g->m[j].suspect &&
			    g->now - g->m[j].last_heard < MS(KONCE_GROUP_SUSPECT_MS))
				helper = (int)j;
		}
		if (helper < 0) {
			suspect(g, i), any = true;
			continue;
		}
		mm->probe_nonce++;
		mm->probe_deadline = g->now + MS(KONCE_GROUP_PROBE_MS);
		cg_msg_init(g, KONCE_CW_PROBE_REQ);
		g->msg.key = g->keys[i];
		g->msg.nonce = mm->probe_nonce;
		cg_send(g, g->keys[helper]);
	}
	if (any && g->state == KONCE_GROUP_NORMAL)
		cv_start(g);
}

void cf_on_probe_req(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m)
{
	int t = cg_index(g, m->key);
	if (t < 0)
		return;
	bool alive = (unsigned)t == g->self || g->now - g->m[t].last_heard < MS(KONCE_GROUP_SUSPECT_MS);
	cg_msg_init(g, KONCE_CW_PROBE_REP);
	g->msg.key = m->key;
	g->msg.nonce = m->nonce;
	g->msg.flag = alive;
	cg_send(g, from);
}

void cf_on_probe_rep(konce_group *g, const konce_cw_msg *m)
{
	int t = cg_index(g, m->key);
	if (t < 0 || (unsigned)t == g->self)
		return;
	cg_member *mm = &g->m[t];
	if (!mm->probe_deadline || m->nonce != mm->probe_nonce)
		return; /* not the probe we have out: a replay or a late answer */
	mm->probe_deadline = 0;
	if (m->flag) {
		mm->defers++;
		mm->defer_until = g->now + MS(KONCE_GROUP_SUSPECT_MS);
	} else {
		suspect(g, (unsigned)t);
	}
}

int konce_group_member_info(const konce_group *g, unsigned i, konce_group_mstatus *out)
{
	if ((g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE) || i >= g->n)
		return -EINVAL;
	const cg_member *mm = &g->m[i];
	memset(out, 0, sizeof(*out));
	out->last_heard = i == g->self ? g->now : mm->last_heard;
	out->acked_known = cg_is_coord(g);
	out->acked = out->acked_known ? (i == g->self ? cc_durable(g) : mm->acked) : 0;
	if (i == g->self)
		out->suspicion = KONCE_GROUP_SUSP_NONE;
	else if (mm->suspect)
		out->suspicion = KONCE_GROUP_SUSP_SUSPECT;
	else if (mm->probe_deadline)
		out->suspicion = KONCE_GROUP_SUSP_PROBING;
	else if (g->now < mm->defer_until)
		out->suspicion = KONCE_GROUP_SUSP_GRACE;
	else if (silent(g, i))
		out->suspicion = KONCE_GROUP_SUSP_SILENT;
	else
		out->suspicion = KONCE_GROUP_SUSP_NONE;
	return 0;
}

uint64_t konce_group_last(const konce_group *g) { return g->last; }
