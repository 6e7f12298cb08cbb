/* gh_store.c - the consensus members' stores in the group harness (group_harness.h): the
 * in-memory store behind konce_group_persist, applied at once or queued for a flush, and its
 * SQLite twin (gh_set_sqlite), compared record by record on every restart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/sim/gh_int.h"

/* ---- the store ------------------------------------------------------------------------------ */

void gh_put_bytes(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t len)
{
	free(*dst);
	*dst = NULL;
	*dlen = len;
	if (len) {
		*dst = malloc(len);
		memcpy(*dst, src, len);
	}
}

static int set_entry(gh_store *st, uint64_t seq, const konce_cw_entry *e)
{
	if (seq >= GH_MAX_SEQ)
		return -ENOSPC;
	uint8_t b[KONCE_CW_ENTRY_HEAD + KONCE_CW_MAX_ENTRY];
	size_t n = konce_cw_entry_encode(e, b, sizeof(b));
	gh_put_bytes(&st->entry[seq], &st->entry_len[seq], b, n);
	return 0;
}

static void truncate_from(gh_store *st, uint64_t seq)
{
	for (uint64_t s = seq; s <= st->max_seq && s < GH_MAX_SEQ; s++)
		gh_put_bytes(&st->entry[s], &st->entry_len[s], NULL, 0);
	if (st->max_seq >= seq)
		st->max_seq = seq - 1;
}

static int a_view(gh_store *st, const uint8_t *value, size_t len)
{
	konce_cw_value v;
	if (konce_cw_value_parse(&v, value, len, NULL) != KONCE_CW_OK)
		return -EINVAL;
	gh_put_bytes(&st->view, &st->view_len, value, len);
	static const uint8_t zero[KONCE_CW_SECRET];
	bool known = !memcmp(v.used_invite, zero, KONCE_CW_SECRET);
	for (size_t k = 0; k < st->nused && !known; k++)
		known = !memcmp(st->used[k], v.used_invite, KONCE_CW_SECRET);
	if (!known) {
		st->used = realloc(st->used, (st->nused + 1) * sizeof(*st->used));
		memcpy(st->used[st->nused++], v.used_invite, KONCE_CW_SECRET);
	}
	truncate_from(st, v.commit + 1);
	for (unsigned i = 0; i < v.count; i++)
		if (set_entry(st, v.commit + 1 + i, &v.e[i]))
			return -ENOSPC;
	if (v.commit + v.count > st->max_seq)
		st->max_seq = v.commit + v.count;
	return 0;
}

static int a_vote(gh_store *st, uint64_t base, uint64_t promised, uint64_t acc_ballot, const uint8_t *value,
		  size_t len)
{
	st->vote_base = base;
	st->promised = promised;
	st->acc_ballot = acc_ballot;
	gh_put_bytes(&st->acc, &st->acc_len, value, len);
	return 0;
}

static int a_entries(gh_store *st, uint64_t first, unsigned count, const uint8_t *b, size_t len)
{
	truncate_from(st, first);
	size_t off = 0;
	for (unsigned i = 0; i < count; i++) {
		konce_cw_entry e;
		size_t used;
		if (konce_cw_entry_parse(&e, b + off, len - off, &used) != KONCE_CW_OK)
			return -EINVAL;
		if (set_entry(st, first + i, &e))
			return -ENOSPC;
		off += used;
	}
	if (count)
		st->max_seq = first + count - 1;
	return off == len ? 0 : -EINVAL;
}

static int a_delivered(gh_store *st, uint64_t seq)
{
	st->delivered = seq;
	return 0;
}

int gh_store_apply(gh_store *st, const gh_rec *r)
{
	switch (r->kind) {
	case 1:
		return a_view(st, r->bytes, r->len);
	case 2:
		return a_vote(st, r->a, r->b, r->c, r->bytes, r->len);
	case 3:
		return a_entries(st, r->a, (unsigned)r->b, r->bytes, r->len);
	case 5:
		if (r->a == 0) {
			st->needs_state = true;
		} else {
			st->needs_state = false;
			st->snap_seq = r->a;
			st->snap_len = r->len;
		}
		return 0;
	default:
		return a_delivered(st, r->a);
	}
}

/* The persist interface: applied at once, or (asynchronous) queued for a flush. */
static gh *the_sim(gh_store *st) { return st->sim; }

static int persist(gh_store *st, gh_rec r, const uint8_t *bytes)
{
	gh *s = the_sim(st);
	if (!s->async)
		return gh_store_apply(st, &(gh_rec){r.kind, r.a, r.b, r.c, (uint8_t *)bytes, r.len});
	if (st->npend == st->cpend) {
		st->cpend = st->cpend ? 2 * st->cpend : 16;
		st->pend = realloc(st->pend, st->cpend * sizeof(*st->pend));
	}
	r.bytes = NULL;
	if (r.len) {
		r.bytes = malloc(r.len);
		memcpy(r.bytes, bytes, r.len);
	}
	st->pend[st->npend++] = r;
	st->calls++;
	if (st->db) {
		int rc = 0;
		switch (r.kind) {
		case 1:
			rc = konce_store_group_note_view(st->db, s->group, r.bytes, r.len);
			break;
		case 2:
			rc = konce_store_group_note_vote(st->db, s->group, r.a, r.b, r.c, r.bytes, r.len);
			break;
		case 3:
			rc = konce_store_group_note_entries(st->db, s->group, r.a, (unsigned)r.b, r.bytes, r.len);
			break;
		case 5:
			rc = konce_store_group_note_snapshot(st->db, s->group, r.a, r.bytes, r.len);
			break;
		default:
			rc = konce_store_group_note_delivered(st->db, s->group, r.a);
		}
		if (rc)
			gh_violation(s, "the SQLite store refused a record: %d", rc);
	}
	gh_writer_noted(s, st, &r);
	return KONCE_GROUP_PERSIST_QUEUED;
}

static int p_view(void *ctx, const uint8_t *value, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 1, .len = len}, value);
}

static int p_vote(void *ctx, uint64_t base, uint64_t promised, uint64_t acc_ballot, const uint8_t *value, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 2, .a = base, .b = promised, .c = acc_ballot, .len = len}, value);
}

static int p_entries(void *ctx, uint64_t first, unsigned count, const uint8_t *b, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 3, .a = first, .b = count, .len = len}, b);
}

static int p_delivered(void *ctx, uint64_t seq)
{
	return persist(ctx, (gh_rec){.kind = 4, .a = seq}, NULL);
}

static int p_snapshot(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 5, .a = seq, .len = len}, data);
}

void gh_store_drop_pending(gh_store *st)
{
	for (size_t k = 0; k < st->npend; k++)
		free(st->pend[k].bytes);
	st->lost += st->npend + gh_writer_drop(st);
	st->npend = 0;
	if (st->db)
		konce_store_group_discard(st->db);
	st->calls = 0;
}

void gh_set_async(gh *s, uint64_t flush_max)
{
	s->async = true;
	s->flush_max = flush_max ? flush_max : 1;
	for (unsigned i = 0; i < GH_MAX_NODES; i++)
		gh_writer_init(s, &s->node[i].st);
}

int gh_db_open(gh *s, unsigned i)
{
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/node%u.db", s->dbdir, i);
	int rc = konce_store_open(&s->node[i].st.db, path, 1, err, sizeof(err));
	if (!rc && (rc = konce_store_open(&s->node[i].st.wdb, path, 1, err, sizeof(err)))) {
		konce_store_close(s->node[i].st.db, NULL, 0);
		s->node[i].st.db = NULL;
	}
	if (rc)
		gh_violation(s, "node %u: %s", i, err);
	return rc;
}

void gh_db_close(gh *s, unsigned i)
{
	char err[512];
	gh_store *st = &s->node[i].st;
	if (!st->db)
		return;
	konce_store_group_discard(st->db); /* a dead process's queues die with it */
	konce_store_group_discard(st->wdb);
	if (konce_store_close(st->wdb, err, sizeof(err)) || konce_store_close(st->db, err, sizeof(err)))
		gh_violation(s, "node %u: %s", i, err);
	st->db = st->wdb = NULL;
}

int gh_set_sqlite(gh *s, uint64_t flush_max)
{
	char err[512];
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	gh_set_async(s, flush_max);
	snprintf(s->dbdir, sizeof(s->dbdir), "%s/konce-gh-XXXXXX", tmp);
	if (!mkdtemp(s->dbdir)) {
		s->dbdir[0] = 0;
		return -errno;
	}
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *n = &s->node[i];
		int rc = gh_db_open(s, i);
		if (rc)
			return rc;
		if (!n->st.view_len)
			continue; /* a spare: gh_join records its invitation */
		/* A founder: the founding view, as gh_new put it in the in-memory store. */
		if ((rc = konce_store_group_add(n->st.db, s->group, "sim", NULL, 0, NULL, err, sizeof(err))) ||
		    (rc = konce_store_group_note_view(n->st.db, s->group, n->st.view, n->st.view_len)) ||
		    (rc = konce_store_group_flush(n->st.db, err, sizeof(err)))) {
			gh_violation(s, "node %u: %s", i, err);
			return rc;
		}
	}
	return 0;
}

struct cmp_ctx {
	gh_store *st;
	uint64_t next, bad;
};

static int cmp_entry(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
	struct cmp_ctx *c = ctx;
	gh_store *st = c->st;
	for (; c->next < seq && c->next < GH_MAX_SEQ; c->next++)
		if (st->entry[c->next])
			c->bad = c->next; /* the memory store has one SQLite lacks */
	if (seq >= GH_MAX_SEQ || !st->entry[seq] || st->entry_len[seq] != len || memcmp(st->entry[seq], b, len))
		c->bad = seq;
	c->next = seq + 1;
	return 0;
}

/* The SQLite store holds exactly what the in-memory one does (what a restart reads). */
void gh_db_compare(gh *s, unsigned i)
{
	gh_store *st = &s->node[i].st;
	konce_store_group_rec r;
	if (konce_store_group_get(st->db, s->group, &r)) {
		gh_violation(s, "node %u: the SQLite store lost the group", i);
		return;
	}
	if (r.view_len != st->view_len || memcmp(r.view, st->view, r.view_len) || r.delivered != st->delivered ||
	    r.vote_base != st->vote_base || r.promised != st->promised || r.acc_ballot != st->acc_ballot ||
	    r.acc_len != st->acc_len || (r.acc_len && memcmp(r.acc_value, st->acc, r.acc_len)) ||
	    r.needs_state != st->needs_state || r.snap_seq != st->snap_seq || r.snap_len != st->snap_len)
		gh_violation(s, "node %u: the SQLite store's view, vote or delivery point differs", i);
	uint64_t last = 0;
	for (uint64_t q = 1; q <= st->max_seq && q < GH_MAX_SEQ; q++)
		if (st->entry[q])
			last = q;
	if (r.last != last)
		gh_violation(s, "node %u: the SQLite store's log ends at %llu, the memory one at %llu", i,
			  (unsigned long long)r.last, (unsigned long long)last);
	struct cmp_ctx c = {.st = st, .next = 1};
	if (konce_store_group_entries(st->db, s->group, 1, UINT64_MAX, cmp_entry, &c) < 0 || c.bad)
		gh_violation(s, "node %u: the SQLite store's entry at seq %llu differs", i, (unsigned long long)c.bad);
	konce_store_group_rec_free(&r);
}

konce_group_persist gh_store_persist(gh_store *st)
{
	return (konce_group_persist){.ctx = st, .put_view = p_view, .put_vote = p_vote, .put_entries = p_entries,
				     .put_delivered = p_delivered, .put_snapshot = p_snapshot};
}
