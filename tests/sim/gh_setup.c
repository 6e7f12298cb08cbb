/* gh_setup.c - the group harness's setup and faults (group_harness.h): members and spares, crash
 * and restart (from memory or SQLite), partitions healed, proposals, invitations and joins, and
 * the progress check after the faults. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/ctoken.h"
#include "store/store.h"
#include "tests/sim/gh_int.h"

/* ---- setup and faults ----------------------------------------------------------------------- */

gh *gh_new(uint64_t seed, unsigned members, unsigned spares)
{
	gh *s = calloc(1, sizeof(*s));
	s->seed = seed;
	simrng_seed(&s->rng, seed, 0x67726f7570ULL);
	sim_envctx_init(&s->envc, seed, 1);
	s->seq_hash = calloc(GH_MAX_SEQ, sizeof(uint64_t));
	s->chain = calloc(GH_MAX_SEQ, sizeof(uint64_t));
	s->chain[0] = 0xcbf29ce484222325ULL | 1; /* the empty state */
	simrng_seed(&s->frng, seed, 0x666c757368ULL);
	s->nn = members + spares;
	s->delay_min = 500;
	s->delay_max = 5000;
	for (unsigned k = 0; k < KONCE_CW_GROUP_ID; k++)
		s->group[k] = (uint8_t)simrng_next(&s->rng);
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *n = &s->node[i];
		n->key[0] = (uint8_t)(i + 1);
		for (unsigned k = 1; k < KONCE_CW_KEY; k++)
			n->key[k] = (uint8_t)simrng_next(&s->rng);
		n->st.sim = s;
		n->st.entry = calloc(GH_MAX_SEQ, sizeof(uint8_t *));
		n->st.entry_len = calloc(GH_MAX_SEQ, sizeof(size_t));
		for (unsigned j = 0; j < GH_MAX_NODES; j++)
			n->policy[j] = simrng_unit(&s->rng) < 0.9;
		for (unsigned k = 0; k < KONCE_CW_SECRET; k++)
			n->secret[k] = (uint8_t)simrng_next(&s->rng);
	}
	/* The founding view, as every founder's store would hold it. */
	uint8_t keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	for (unsigned i = 0; i < members; i++)
		memcpy(keys[i], s->node[i].key, KONCE_CW_KEY);
	static const uint8_t zero[KONCE_CW_SECRET];
	konce_cw_value v = {.epoch = 1, .n = (uint8_t)members, .keys = &keys[0][0], .used_invite = zero,
			    .commit = 0, .first_seq = 1};
	uint8_t vb[KONCE_CW_MAX_VALUE];
	size_t vlen = konce_cw_value_encode(&v, vb, sizeof(vb));
	for (unsigned i = 0; i < members; i++) {
		gh_node *n = &s->node[i];
		n->used = true;
		gh_put_bytes(&n->st.view, &n->st.view_len, vb, vlen);
		/* A first start (konce_group_found), not a restart: nobody has proposed yet. */
		n->g = gh_make_core(s, i);
		if (konce_group_found(n->g, vb, vlen, s->now))
			gh_violation(s, "node %u could not found the group", i);
		n->up = true;
		n->app_hash = s->chain[0];
		n->next_delivery = 1;
		gh_drain(s, i);
	}
	gh_record_view(s, 0, 1);
	return s;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void gh_free(gh *s)
{
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *n = &s->node[i];
		konce_group_free(n->g);
		free(n->st.view);
		free(n->st.acc);
		for (unsigned k = 0; k < GH_MAX_SEQ; k++)
			free(n->st.entry[k]);
		free(n->st.entry);
		free(n->st.entry_len);
		gh_store_drop_pending(&n->st);
		free(n->st.pend);
		free(n->st.wq);
		free(n->st.used);
		gh_db_close(s, i);
	}
	if (s->dbdir[0])
		nftw(s->dbdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	while (s->qlen) {
		gh_msg m = gh_q_pop(s);
		free(m.bytes);
	}
	free(s->q);
	free(s->seq_hash);
	free(s->chain);
	free(s);
}

void gh_crash(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	konce_group_free(n->g);
	n->g = NULL;
	n->up = false;
	s->lost_records += n->st.npend + n->st.nwq;
	gh_store_drop_pending(&n->st); /* what was not written is gone */
	gh_db_close(s, i);
}

void gh_restart(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	if (n->up || n->out || !n->st.view_len)
		return;
	gh_store *st = &n->st;
	int rc;
	if (s->dbdir[0] && !st->db && gh_db_open(s, i))
		return;
	n->g = gh_make_core(s, i);
	if (st->db) {
		char err[512];
		gh_db_compare(s, i);
		rc = konce_store_group_restore(st->db, s->group, n->g, s->now, err, sizeof(err));
		if (rc)
			gh_violation(s, "node %u could not restart from SQLite: %s", i, err);
		s->db_restores++;
	} else {
		rc = konce_group_restore(n->g, st->view, st->view_len, st->vote_base, st->promised, st->acc_ballot,
					 st->acc, st->acc_len, st->delivered, s->now);
		for (uint64_t q = st->delivered + 1; !rc && q <= st->max_seq; q++)
			if (st->entry[q])
				rc = konce_group_restore_entry(n->g, q, st->entry[q], st->entry_len[q]);
		for (uint64_t q = 1; !rc && q <= st->delivered && q < GH_MAX_SEQ; q++)
			if (st->entry[q])
				rc = konce_group_restore_invite(n->g, st->entry[q], st->entry_len[q]);
		for (size_t k = 0; !rc && k < st->nused; k++)
			rc = konce_group_restore_used(n->g, st->used[k]);
		if (!rc && st->needs_state)
			rc = konce_group_restore_catchup(n->g);
		if (rc)
			gh_violation(s, "node %u could not restart: %d", i, rc);
	}
	n->up = true;
	n->next_delivery = st->delivered + 1;
	if (st->db) {
		/* The application starts empty and gets its state back from the store. */
		gh_app_replay(s, i);
	} else {
		/* The application kept its state with each delivery (or the snapshot), durable with them. */
		n->app_hash = st->delivered < GH_MAX_SEQ ? s->chain[st->delivered] : 0;
		n->app_seq = st->delivered;
	}
	n->awaiting = st->needs_state;
	if (st->needs_state)
		n->next_delivery = 0;
	gh_drain(s, i);
}

void gh_heal(gh *s)
{
	for (unsigned i = 0; i < s->nn; i++)
		s->node[i].side = 0;
}

int gh_propose(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	if (!n->up || !n->g)
		return -ENOTCONN;
	uint8_t data[64];
	size_t len = 1 + simrng_below(&s->rng, sizeof(data));
	for (size_t k = 0; k < len; k++)
		data[k] = (uint8_t)simrng_next(&s->rng);
	gh_set_wall(s, i);
	int64_t r = konce_group_propose(n->g, data, len, s->now);
	gh_drain(s, i);
	if (r > 0)
		n->proposals++;
	return r > 0 ? 0 : (int)r;
}

int gh_invite(gh *s, unsigned inviter, unsigned j)
{
	gh_node *n = &s->node[inviter];
	if (!n->up || !n->g)
		return -ENOTCONN;
	uint8_t h[KONCE_CW_SECRET];
	konce_ctoken_secret_hash(h, s->node[j].secret);
	/* A quarter of the invitations expire 1-3 s after they are issued (the joiner starts 0.5-2 s
	 * later): some are refused for it, and none may be accepted after it. */
	uint64_t expires = 0;
	if (s->expiring_invites && simrng_below(&s->frng, 4) == 0)
		expires = gh_wall(s) + 1 + simrng_below(&s->frng, 3);
	s->node[j].invite_expires = expires;
	gh_set_wall(s, inviter);
	int64_t r = konce_group_invite(n->g, h, expires, s->now);
	gh_drain(s, inviter);
	return r > 0 ? 0 : (int)r;
}

int gh_join(gh *s, unsigned j)
{
	unsigned members[KONCE_CW_MAX_MEMBERS], cnt;
	gh_top_epoch(s, members, &cnt);
	return gh_join_to(s, j, members, cnt);
}

int gh_join_to(gh *s, unsigned j, const unsigned *members, unsigned cnt)
{
	gh_node *n = &s->node[j];
	if (n->used)
		return -EALREADY;
	uint8_t keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	for (unsigned k = 0; k < cnt; k++)
		memcpy(keys[k], s->node[members[k]].key, KONCE_CW_KEY);
	n->used = true;
	n->app_hash = s->chain[0];
	if (n->st.db) {
		char err[512];
		if (konce_store_group_add(n->st.db, s->group, "sim", &keys[0][0], cnt, n->secret, err, sizeof(err)))
			gh_violation(s, "node %u: %s", j, err);
	}
	n->g = gh_make_core(s, j);
	n->up = true;
	gh_set_wall(s, j);
	int rc = konce_group_join(n->g, (const uint8_t (*)[KONCE_CW_KEY])keys, cnt, n->secret, s->now);
	gh_drain(s, j);
	return rc;
}

uint64_t gh_top_epoch(gh *s, unsigned *members, unsigned *n)
{
	/* The highest view any node has persisted, running or not. */
	uint64_t top = 0;
	static konce_cw_value v, best;
	*n = 0;
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *x = &s->node[i];
		if (x->out || !x->st.view_len || konce_cw_value_parse(&v, x->st.view, x->st.view_len, NULL) != KONCE_CW_OK)
			continue;
		if (v.epoch > top) {
			top = v.epoch;
			best = v;
		}
	}
	for (unsigned k = 0; top && k < best.n; k++) {
		int j = gh_node_of(s, best.keys + k * KONCE_CW_KEY);
		if (j >= 0)
			members[(*n)++] = (unsigned)j;
	}
	return top;
}

int gh_progress(gh *s, uint64_t within)
{
	unsigned mem[KONCE_CW_MAX_MEMBERS], cnt;
	uint64_t top = gh_top_epoch(s, mem, &cnt);
	if (!top) {
		gh_violation(s, "no node holds a view");
		return -1;
	}
	uint64_t old_max = s->max_delivered;
	unsigned proposed = 0;
	for (unsigned k = 0; k < cnt; k++) {
		gh_node *x = &s->node[mem[k]];
		if (!x->up || x->out)
			continue; /* down (or a joiner refused by a stale round): the others must evict it */
		if (gh_propose(s, mem[k]))
			gh_violation(s, "node %u cannot propose after the faults", mem[k]);
		else
			proposed++;
	}
	gh_run_until(s, s->now + within);
	/* Every member of the view now in force has delivered the same prefix, and it includes the
	 * cnt entries just proposed: they take seqs past everything delivered before. */
	uint64_t top2 = gh_top_epoch(s, mem, &cnt);
	uint64_t first = 0;
	if (getenv("GH_TRACE"))
		for (unsigned k = 0; k < s->nn; k++)
			if (s->node[k].g)
				gh_debug_dump(s->node[k].g, k);
	for (unsigned k = 0; k < cnt; k++) {
		gh_node *x = &s->node[mem[k]];
		if (!x->up || konce_group_state(x->g) != KONCE_GROUP_NORMAL || konce_group_epoch(x->g) != top2) {
			gh_violation(s, "node %u is not running epoch %llu after the faults (state %d, epoch %llu)", mem[k],
				  (unsigned long long)top2, x->g ? (int)konce_group_state(x->g) : -1,
				  x->g ? (unsigned long long)konce_group_epoch(x->g) : 0ULL);
			return -1;
		}
		uint64_t d = x->next_delivery ? x->next_delivery - 1 : 0;
		if (!k)
			first = d;
		else if (d != first) {
			gh_violation(s, "node %u delivered through %llu, node %u through %llu", mem[k],
				  (unsigned long long)d, mem[0], (unsigned long long)first);
			return -1;
		}
	}
	if (first < old_max + proposed)
		gh_violation(s, "no progress: delivered through %llu, %u proposals after seq %llu",
			  (unsigned long long)first, proposed, (unsigned long long)old_max);
	return s->violations ? -1 : 0;
}
