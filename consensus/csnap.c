/* csnap.c - state transfer: a member without the application state before its view's commit
 * index (a joiner, or a member that missed views: GAP) gets a snapshot from another member.
 *
 * States (of the receiving member; `catchup` is orthogonal to NORMAL / VIEWCHANGE):
 *   not catching up --cv_install() of a view whose commit index C > 0, as a joiner or over a
 *       gap: put_snapshot(0) marks it in the store first; cs_start(C)--> catching up
 *   catching up --cs_tick(), every KONCE_GROUP_SNAP_RETRY_MS: SNAP_REQ(C) to the next member
 *       (the coordinator first)--> catching up
 *   catching up --cs_on_snap(): every chunk of one snapshot (one sender, one seq S >= C), then
 *       put_snapshot(S) of the whole stream, the invitations merged (cj_import),
 *       put_delivered(S), event SNAPSHOT--> not catching up
 * A snapshot's bytes are a core section (cwire.h: the invitations the sender knows, which a
 * joiner could not learn from a log that starts after them) followed by the application's state;
 * put_snapshot stores the whole stream (a restart learns the invitations again with
 * konce_group_restore_snapshot), the SNAPSHOT event carries only the application's part.
 * A member answers SNAP_REQ(min) when it is not catching up itself and has delivered at least
 * min entries: the config's snapshot callback gives the application state after exactly
 * `delivered` entries (deliveries leave the core only as polled COMMITTED events), sent as SNAP
 * chunks stamped with that seq, at most every KONCE_GROUP_SNAP_ANSWER_MS per requester.
 *
 * Invariants:
 *   1. A member catching up delivers nothing (cc_next_delivery); it appends, acks and votes as
 *      any member, so the group's commits need it (the ring bounds how far they go without it).
 *   2. After a snapshot at S the member's log starts at S + 1: the entries it held at <= S are
 *      dropped (the snapshot contains them), and last >= S.
 *   3. The reassembly buffer is allocated only for a SNAP from a member of the view, bounded by
 *      KONCE_CW_SNAP_MAX, and replaced when another sender, seq or size starts.
 *   4. Until the snapshot arrives the member knows no invitation committed before its log starts:
 *      it abstains on them (cjoin.c), never votes no.
 */
#include <errno.h>
#include <string.h>

#include "consensus/cgroup_int.h"

void cs_start(konce_group *g, uint64_t min_seq)
{
	g->catchup = true;
	g->catch_min = min_seq;
	g->catch_at = g->now;
	g->catch_ask = 0;
	g->snap_from = -1;
	g->snap_have = 0;
}

void cs_tick(konce_group *g)
{
	if (!g->catchup || g->n < 2 || g->now < g->catch_at)
		return;
	unsigned to = (cg_coord(g) + g->catch_ask++) % g->n;
	if (to == g->self)
		to = (to + 1) % g->n, g->catch_ask++;
	cg_msg_init(g, KONCE_CW_SNAP_REQ);
	g->msg.u = g->catch_min;
	cg_send(g, g->keys[to]);
	g->catch_at = g->now + MS(KONCE_GROUP_SNAP_RETRY_MS);
}

void cs_on_req(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	cg_member *mm = &g->m[from];
	if (g->catchup || g->delivered < m->u || (mm->snap_at && g->now - mm->snap_at < MS(KONCE_GROUP_SNAP_ANSWER_MS)))
		return;
	const uint8_t *data = NULL;
	size_t len = 0;
	if (g->cfg.snapshot && g->cfg.snapshot(g->cfg.snapshot_ctx, &data, &len))
		return;
	if (len > KONCE_CW_SNAP_MAX - KONCE_CW_SNAP_CORE_MAX || (len && !data))
		return;
	/* The stream is the core section (the invitations), then the application's bytes. */
	uint8_t core[KONCE_CW_SNAP_CORE_MAX];
	size_t clen = cj_export(g, core, sizeof(core));
	if (!clen)
		return;
	size_t total = clen + len;
	mm->snap_at = g->now ? g->now : 1;
	size_t off = 0;
	do {
		size_t n = total - off < KONCE_CW_SNAP_CHUNK ? total - off : KONCE_CW_SNAP_CHUNK;
		size_t from_core = off < clen ? (clen - off < n ? clen - off : n) : 0;
		if (from_core)
			memcpy(g->chunk, core + off, from_core);
		if (n > from_core)
			memcpy(g->chunk + from_core, data + (off + from_core - clen), n - from_core);
		cg_msg_init(g, KONCE_CW_SNAP);
		g->msg.u = g->delivered;
		g->msg.total = (uint32_t)total;
		g->msg.offset = (uint32_t)off;
		g->msg.dlen = (uint16_t)n;
		g->msg.data = g->chunk;
		cg_send(g, g->keys[from]); /* copied into the queue now */
		off += n;
	} while (off < total);
}

static void complete(konce_group *g)
{
	uint64_t s = g->snap_seq;
	konce_cw_invite inv[KONCE_CW_SNAP_INVITES];
	unsigned ninv = 0;
	size_t clen = 0;
	if (konce_cw_snapcore_parse(inv, &ninv, g->snap_buf, g->snap_total, &clen) != KONCE_CW_OK) {
		g->snap_have = 0; /* malformed: ask again (the next member, in turn) */
		g->snap_from = -1;
		return;
	}
	const uint8_t *app = g->snap_buf + clen;
	size_t alen = g->snap_total - clen;
	if (g->cfg.persist.put_snapshot &&
	    cg_persist_rc(g, g->cfg.persist.put_snapshot(g->cfg.persist.ctx, s, g->snap_buf, g->snap_total))) {
		g->snap_have = 0; /* not durable: ask again */
		return;
	}
	cj_import(g, inv, ninv);
	for (uint64_t q = g->delivered + 1; q <= s && q <= g->last; q++) {
		cg_slot *sl = &g->ring[q % KONCE_GROUP_RING];
		if (sl->seq == q)
			sl->seq = 0;
	}
	g->delivered = s;
	if (g->last < s)
		g->last = s;
	if (g->commit < s)
		g->commit = s;
	if (g->cfg.persist.put_delivered)
		(void)cg_persist_rc(g, g->cfg.persist.put_delivered(g->cfg.persist.ctx, s));
	g->catchup = false;
	cc_pending_refresh(g);
	konce_group_event ev = {.type = KONCE_GROUP_EV_SNAPSHOT, .seq = s, .epoch = g->epoch, .data = app,
				.len = alen};
	cg_event(g, &ev);
	if (!cg_is_coord(g)) { /* our log may have jumped to s */
		cg_msg_init(g, KONCE_CW_ACK);
		g->msg.u = g->last;
		cg_send(g, g->keys[cg_coord(g)]);
	}
}

void cs_on_snap(konce_group *g, unsigned from, const konce_cw_msg *m)
{
	if (!g->catchup || m->u < g->catch_min)
		return;
	if (g->snap_from != (int)from || g->snap_seq != m->u || g->snap_total != m->total) {
		konce_env_free(g->env, g->snap_buf);
		g->snap_buf = NULL;
		g->snap_from = -1;
		if (m->total && !(g->snap_buf = konce_env_alloc(g->env, m->total)))
			return;
		g->snap_from = (int)from;
		g->snap_seq = m->u;
		g->snap_total = m->total;
		g->snap_have = 0;
	}
	if (m->dlen)
		memcpy(g->snap_buf + m->offset, m->data, m->dlen);
	g->snap_have |= 1ULL << (m->offset / KONCE_CW_SNAP_CHUNK);
	unsigned chunks = m->total ? (m->total + KONCE_CW_SNAP_CHUNK - 1) / KONCE_CW_SNAP_CHUNK : 1;
	uint64_t all = chunks >= 64 ? ~0ULL : (1ULL << chunks) - 1;
	if (g->snap_have == all)
		complete(g);
}

int konce_group_restore_snapshot(konce_group *g, const uint8_t *stream, size_t len)
{
	konce_cw_invite inv[KONCE_CW_SNAP_INVITES];
	unsigned n = 0;
	size_t used = 0;
	if (!stream || konce_cw_snapcore_parse(inv, &n, stream, len, &used) != KONCE_CW_OK)
		return -EINVAL;
	cj_import(g, inv, n);
	return 0;
}

int konce_group_restore_catchup(konce_group *g)
{
	if (g->state != KONCE_GROUP_NORMAL && g->state != KONCE_GROUP_VIEWCHANGE)
		return -EINVAL;
	cs_start(g, g->commit);
	return 0;
}

bool konce_group_catching_up(const konce_group *g) { return g->catchup; }
