/* groups.c - consensus groups in the store: queued records, the batched flush, and reads.
 *
 * Each konce_group_persist call becomes one record in a FIFO (struct gnote, bounded by
 * KONCE_STORE_GROUP_QUEUE_BYTES).  konce_store_group_flush() applies them in call order in one
 * IMMEDIATE transaction; on any error it rolls back and leaves the FIFO as it was, so a failed
 * flush loses nothing and the next one retries (the core's output waits meanwhile).  What a record
 * does:
 *   VIEW      the installed view (value bytes), its epoch; every entry at seq > the value's commit
 *             index is replaced by the value's tail; a pending join's secret and keys are cleared;
 *             the invitation the view used, if any, is recorded as used (group_used).
 *   VOTE      the vote for the view after epoch `base`: promised, accepted ballot and value.
 *   ENTRIES   entries at first.. replace every stored entry at seq >= first.
 *   DELIVERED the delivery point.
 *   SNAPSHOT  seq 0: the member needs a snapshot (needs_state); seq >= 1: the snapshot received
 *             (snap_seq, snapshot), which clears needs_state.
 * Entries are never deleted below a view's commit index: the table is the member's whole log.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cwire.h"
#include "store/store_int.h"

static const char *const gstmt_sql[GS__COUNT] = {
	[GS_ENSURE] = "INSERT INTO groups (gid) VALUES (?1) ON CONFLICT (gid) DO NOTHING",
	[GS_VIEW] = "UPDATE groups SET view = ?2, epoch = ?3, join_keys = NULL, join_secret = NULL WHERE gid = ?1",
	[GS_VOTE] = "UPDATE groups SET vote_base = ?2, promised = ?3, acc_ballot = ?4, acc_value = ?5 WHERE gid = ?1",
	[GS_DELIVERED] = "UPDATE groups SET delivered = ?2 WHERE gid = ?1",
	[GS_SNAPSHOT] = "UPDATE groups SET needs_state = ?2 = 0, snap_seq = CASE ?2 WHEN 0 THEN snap_seq ELSE ?2 END, "
			"snapshot = CASE ?2 WHEN 0 THEN snapshot ELSE ?3 END WHERE gid = ?1",
	[GS_TRUNCATE] = "DELETE FROM group_entries WHERE gid = ?1 AND seq >= ?2",
	[GS_ENTRY] = "INSERT OR REPLACE INTO group_entries (gid, seq, entry) VALUES (?1, ?2, ?3)",
	[GS_GET] = "SELECT coalesce(name, ''), view, epoch, vote_base, promised, acc_ballot, acc_value, delivered, "
		   "join_keys, join_secret, (SELECT max(seq) FROM group_entries WHERE gid = ?1), needs_state, snap_seq, "
		   "snapshot, join_until FROM groups WHERE gid = ?1",
	[GS_LAST] = "SELECT gid FROM groups WHERE name = ?1",
	[GS_ENTRIES] = "SELECT seq, entry FROM group_entries WHERE gid = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
	[GS_EACH] = "SELECT gid, coalesce(name, ''), epoch FROM groups ORDER BY name, gid",
	[GS_USED] = "INSERT INTO group_used (gid, hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
	[GS_USED_EACH] = "SELECT hash FROM group_used WHERE gid = ?1",
	/* INVITE and REVOKE entries (kind, the first byte, is not APP) up to a seq, in log order */
	[GS_INVITES] = "SELECT entry FROM group_entries WHERE gid = ?1 AND seq <= ?2 AND substr(entry, 1, 1) <> x'00' "
		       "ORDER BY seq",
};

static int gstmt(konce_store *st, enum gstmt_id id, sqlite3_stmt **out)
{
	if (!st->gst[id]) {
		int rc = sqlite3_prepare_v3(st->db, gstmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st->gst[id], NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	*out = st->gst[id];
	return SQLITE_OK;
}

static int run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

void store_groups_free(konce_store *st)
{
	konce_store_group_discard(st);
	for (int i = 0; i < GS__COUNT; i++)
		sqlite3_finalize(st->gst[i]);
}

/* ---- queued records ------------------------------------------------------------------------- */

static int push(konce_store *st, uint8_t kind, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t a, uint64_t b,
		uint64_t c, const uint8_t *bytes, size_t len)
{
	if (!st || !gid || (len && !bytes))
		return -EINVAL;
	if (len > KONCE_STORE_GROUP_QUEUE_BYTES - st->gq_bytes)
		return -ENOBUFS;
	struct gnote *n = malloc(sizeof(*n) + len);
	if (!n)
		return -ENOMEM;
	n->next = NULL;
	n->kind = kind;
	memcpy(n->gid, gid, KONCE_STORE_GROUP_ID);
	n->a = a, n->b = b, n->c = c;
	n->len = len;
	if (len)
		memcpy(n->bytes, bytes, len);
	if (st->gq_tail)
		st->gq_tail->next = n;
	else
		st->gq_head = n;
	st->gq_tail = n;
	st->gq_count++;
	st->gq_bytes += len;
	return 0;
}

int konce_store_group_note_view(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], const uint8_t *value,
				size_t len)
{
	konce_cw_value v;
	if (!value || konce_cw_value_parse(&v, value, len, NULL) != KONCE_CW_OK || v.epoch > INT64_MAX ||
	    v.commit > INT64_MAX - KONCE_CW_MAX_LOG)
		return -EINVAL; /* SQLite integers are signed */
	return push(st, GN_VIEW, gid, 0, 0, 0, value, len);
}

int konce_store_group_note_vote(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t base,
				uint64_t promised, uint64_t acc_ballot, const uint8_t *value, size_t len)
{
	konce_cw_value v;
	if (acc_ballot && (!value || konce_cw_value_parse(&v, value, len, NULL) != KONCE_CW_OK))
		return -EINVAL;
	if (base > INT64_MAX || promised > INT64_MAX || acc_ballot > INT64_MAX)
		return -EINVAL;
	return push(st, GN_VOTE, gid, base, promised, acc_ballot, acc_ballot ? value : NULL, acc_ballot ? len : 0);
}

/* Splits count concatenated entries; false unless they fill len exactly. */
static bool split_entries(const uint8_t *b, size_t len, unsigned count, size_t *off, size_t *elen)
{
	size_t at = 0;
	for (unsigned i = 0; i < count; i++) {
		konce_cw_entry e;
		size_t used;
		if (at >= len || konce_cw_entry_parse(&e, b + at, len - at, &used) != KONCE_CW_OK)
			return false;
		if (off)
			off[i] = at, elen[i] = used;
		at += used;
	}
	return at == len;
}

int konce_store_group_note_entries(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t first,
				   unsigned count, const uint8_t *entries, size_t len)
{
	if (!first || first > (uint64_t)INT64_MAX - count || count > KONCE_CW_MAX_LOG || (count && !entries) ||
	    !split_entries(entries, len, count, NULL, NULL))
		return -EINVAL;
	return push(st, GN_ENTRIES, gid, first, count, 0, entries, len);
}

int konce_store_group_note_delivered(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t seq)
{
	if (seq > INT64_MAX)
		return -EINVAL;
	return push(st, GN_DELIVERED, gid, seq, 0, 0, NULL, 0);
}

int konce_store_group_note_snapshot(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t seq,
				    const uint8_t *data, size_t len)
{
	if (seq > INT64_MAX || (!seq && len) || len > INT32_MAX)
		return -EINVAL;
	return push(st, GN_SNAPSHOT, gid, seq, 0, 0, data, len);
}

size_t konce_store_group_discard(konce_store *st)
{
	size_t n = st->gq_count;
	while (st->gq_head) {
		struct gnote *x = st->gq_head;
		st->gq_head = x->next;
		free(x);
	}
	st->gq_tail = NULL;
	st->gq_count = st->gq_bytes = 0;
	return n;
}

size_t konce_store_group_pending(const konce_store *st) { return st->gq_count; }

void konce_store_group_move(konce_store *to, konce_store *from)
{
	if (!from->gq_head)
		return;
	if (to->gq_tail)
		to->gq_tail->next = from->gq_head;
	else
		to->gq_head = from->gq_head;
	to->gq_tail = from->gq_tail;
	to->gq_count += from->gq_count;
	to->gq_bytes += from->gq_bytes;
	from->gq_head = from->gq_tail = NULL;
	from->gq_count = from->gq_bytes = 0;
}

/* ---- the flush ------------------------------------------------------------------------------ */

static int put_entry(konce_store *st, const uint8_t *gid, uint64_t seq, const uint8_t *b, size_t len)
{
	sqlite3_stmt *s;
	int rc = gstmt(st, GS_ENTRY, &s);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	sqlite3_bind_blob(s, 3, b, (int)len, SQLITE_STATIC);
	return run(s);
}

static int truncate_from(konce_store *st, const uint8_t *gid, uint64_t seq)
{
	sqlite3_stmt *s;
	int rc = gstmt(st, GS_TRUNCATE, &s);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	return run(s);
}

static int apply_view(konce_store *st, const struct gnote *n)
{
	konce_cw_value v;
	uint8_t eb[KONCE_CW_ENTRY_HEAD + KONCE_CW_MAX_ENTRY];
	sqlite3_stmt *s;
	int rc;
	if (konce_cw_value_parse(&v, n->bytes, n->len, NULL) != KONCE_CW_OK || v.commit > INT64_MAX - KONCE_CW_MAX_LOG ||
	    v.epoch > INT64_MAX)
		return SQLITE_MISMATCH; /* checked when noted; never reached */
	if ((rc = gstmt(st, GS_VIEW, &s)) != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(s, 1, n->gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, n->bytes, (int)n->len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)v.epoch);
	if ((rc = run(s)) != SQLITE_OK || (rc = truncate_from(st, n->gid, v.commit + 1)) != SQLITE_OK)
		return rc;
	static const uint8_t zero[KONCE_CW_SECRET];
	if (memcmp(v.used_invite, zero, KONCE_CW_SECRET)) {
		if ((rc = gstmt(st, GS_USED, &s)) != SQLITE_OK)
			return rc;
		sqlite3_bind_blob(s, 1, n->gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, v.used_invite, KONCE_CW_SECRET, SQLITE_STATIC);
		if ((rc = run(s)) != SQLITE_OK)
			return rc;
	}
	for (unsigned i = 0; i < v.count; i++) {
		size_t len = konce_cw_entry_encode(&v.e[i], eb, sizeof(eb));
		if (!len)
			return SQLITE_MISMATCH;
		if ((rc = put_entry(st, n->gid, v.commit + 1 + i, eb, len)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int apply_entries(konce_store *st, const struct gnote *n)
{
	size_t off[KONCE_CW_MAX_LOG], len[KONCE_CW_MAX_LOG];
	int rc;
	if (!split_entries(n->bytes, n->len, (unsigned)n->b, off, len))
		return SQLITE_MISMATCH;
	if ((rc = truncate_from(st, n->gid, n->a)) != SQLITE_OK)
		return rc;
	for (unsigned i = 0; i < n->b; i++)
		if ((rc = put_entry(st, n->gid, n->a + i, n->bytes + off[i], len[i])) != SQLITE_OK)
			return rc;
	return SQLITE_OK;
}

static int apply(konce_store *st, const struct gnote *n)
{
	sqlite3_stmt *s;
	int rc = gstmt(st, GS_ENSURE, &s);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(s, 1, n->gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	if ((rc = run(s)) != SQLITE_OK)
		return rc;
	switch (n->kind) {
	case GN_VIEW:
		return apply_view(st, n);
	case GN_ENTRIES:
		return apply_entries(st, n);
	case GN_VOTE:
		if ((rc = gstmt(st, GS_VOTE, &s)) != SQLITE_OK)
			return rc;
		sqlite3_bind_blob(s, 1, n->gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)n->a);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)n->b);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)n->c);
		if (n->len)
			sqlite3_bind_blob(s, 5, n->bytes, (int)n->len, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 5);
		return run(s);
	case GN_SNAPSHOT:
		if ((rc = gstmt(st, GS_SNAPSHOT, &s)) != SQLITE_OK)
			return rc;
		sqlite3_bind_blob(s, 1, n->gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)n->a);
		sqlite3_bind_blob(s, 3, n->len ? n->bytes : (const uint8_t *)"", (int)n->len, SQLITE_STATIC);
		return run(s);
	case GN_DELIVERED:
		if ((rc = gstmt(st, GS_DELIVERED, &s)) != SQLITE_OK)
			return rc;
		sqlite3_bind_blob(s, 1, n->gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)n->a);
		return run(s);
	}
	return SQLITE_MISUSE;
}

int konce_store_group_flush(konce_store *st, char *err, size_t errlen)
{
	if (!st->gq_head)
		return 0;
	int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (const struct gnote *n = st->gq_head; rc == SQLITE_OK && n; n = n->next)
		rc = apply(st, n);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int e = store_fail(st, rc, "cannot write group records (kept in memory, will retry; nothing was acked)",
				   err, errlen);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->g_failures++;
		return e;
	}
	st->g_flushes++;
	konce_store_group_discard(st);
	return 0;
}

/* ---- immediate operations ------------------------------------------------------------------- */

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > KONCE_STORE_GROUP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
			return false;
	return true;
}

int konce_store_group_add(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], const char *name,
			  const uint8_t *join_keys, unsigned join_n, const uint8_t *join_secret, char *err,
			  size_t errlen)
{
	return konce_store_group_add_join(st, gid, name, join_keys, join_n, join_secret, 0, err, errlen);
}

int konce_store_group_add_join(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], const char *name,
			       const uint8_t *join_keys, unsigned join_n, const uint8_t *join_secret,
			       uint64_t join_until, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	if (!gid || (name && *name && !name_ok(name)) || join_n > KONCE_CW_MAX_MEMBERS || (join_n && !join_keys) ||
	    (join_n && !join_secret) || (!join_n && join_secret) || (!join_n && join_until) ||
	    join_until > INT64_MAX) {
		snprintf(err, errlen, "group: bad arguments (a name is 1-%d characters without spaces or controls)",
			 KONCE_STORE_GROUP_NAME_MAX);
		return -EINVAL;
	}
	int rc = sqlite3_prepare_v2(st->db,
				    "INSERT INTO groups (gid, name, join_keys, join_secret, join_until) "
				    "VALUES (?1, ?2, ?3, ?4, ?5)", -1,
				    &s, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "cannot add the group", err, errlen);
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	if (name && *name)
		sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	if (join_n) {
		sqlite3_bind_blob(s, 3, join_keys, (int)(join_n * KONCE_CW_KEY), SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, join_secret, KONCE_CW_SECRET, SQLITE_STATIC);
	}
	sqlite3_bind_int64(s, 5, (sqlite3_int64)join_until);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		int e = store_fail(st, rc, "cannot add the group", err, errlen);
		if (e == -EEXIST)
			snprintf(err, errlen, "group: a group with this %s exists already", name && *name ? "name or id" : "id");
		return e;
	}
	return 0;
}

int konce_store_group_remove(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, "DELETE FROM groups WHERE gid = ?1", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "cannot remove the group", err, errlen);
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_fail(st, rc, "cannot remove the group", err, errlen);
	if (!sqlite3_changes(st->db)) {
		snprintf(err, errlen, "group: no such group");
		return -ENOENT;
	}
	return 0;
}

static uint8_t *dup_col(sqlite3_stmt *s, int col, size_t *len)
{
	int n = sqlite3_column_bytes(s, col);
	const void *b = sqlite3_column_blob(s, col);
	*len = 0;
	if (n <= 0 || !b)
		return NULL;
	uint8_t *p = malloc((size_t)n);
	if (p) {
		memcpy(p, b, (size_t)n);
		*len = (size_t)n;
	}
	return p;
}

void konce_store_group_rec_free(konce_store_group_rec *r)
{
	if (!r)
		return;
	free(r->view);
	free(r->acc_value);
	free(r->join_keys);
	free(r->snapshot);
	if (r->join_secret)
		sodium_free(r->join_secret);
	memset(r, 0, sizeof(*r));
}

int konce_store_group_get(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], konce_store_group_rec *r)
{
	sqlite3_stmt *s;
	memset(r, 0, sizeof(*r));
	int rc = gstmt(st, GS_GET, &s), e = 0;
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t klen = 0, slen;
		memcpy(r->gid, gid, KONCE_STORE_GROUP_ID);
		snprintf(r->name, sizeof(r->name), "%s", (const char *)sqlite3_column_text(s, 0));
		r->view = dup_col(s, 1, &r->view_len);
		r->epoch = (uint64_t)sqlite3_column_int64(s, 2);
		r->vote_base = (uint64_t)sqlite3_column_int64(s, 3);
		r->promised = (uint64_t)sqlite3_column_int64(s, 4);
		r->acc_ballot = (uint64_t)sqlite3_column_int64(s, 5);
		r->acc_value = dup_col(s, 6, &r->acc_len);
		r->delivered = (uint64_t)sqlite3_column_int64(s, 7);
		r->join_keys = dup_col(s, 8, &klen);
		r->last = (uint64_t)sqlite3_column_int64(s, 10);
		r->needs_state = sqlite3_column_int(s, 11) != 0;
		r->snap_seq = (uint64_t)sqlite3_column_int64(s, 12);
		r->snapshot = dup_col(s, 13, &r->snap_len);
		r->join_until = (uint64_t)sqlite3_column_int64(s, 14);
		slen = (size_t)sqlite3_column_bytes(s, 9);
		if (klen % KONCE_CW_KEY || klen / KONCE_CW_KEY > KONCE_CW_MAX_MEMBERS ||
		    (klen && slen != KONCE_CW_SECRET)) {
			e = -EILSEQ; /* the schema's checks make this a corrupt file */
		} else if (klen) {
			r->join_n = (unsigned)(klen / KONCE_CW_KEY);
			r->join_secret = sodium_init() >= 0 ? sodium_malloc(KONCE_CW_SECRET) : NULL;
			if (r->join_secret)
				memcpy(r->join_secret, sqlite3_column_blob(s, 9), KONCE_CW_SECRET);
		}
		if (!e && ((sqlite3_column_bytes(s, 1) && !r->view) || (sqlite3_column_bytes(s, 6) && !r->acc_value) ||
			   (sqlite3_column_bytes(s, 13) && !r->snapshot) ||
			   (klen && (!r->join_keys || !r->join_secret))))
			e = -ENOMEM;
	} else {
		e = rc == SQLITE_DONE ? -ENOENT : store_errno(st->db, rc);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (e)
		konce_store_group_rec_free(r);
	return e;
}

int konce_store_group_by_name(konce_store *st, const char *name, uint8_t gid[KONCE_STORE_GROUP_ID])
{
	sqlite3_stmt *s;
	if (!name)
		return -EINVAL;
	int rc = gstmt(st, GS_LAST, &s), e = -ENOENT;
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == KONCE_STORE_GROUP_ID) {
		memcpy(gid, sqlite3_column_blob(s, 0), KONCE_STORE_GROUP_ID);
		e = 0;
	} else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		e = store_errno(st->db, rc);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return e;
}

int konce_store_group_entries(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t first,
			      uint64_t last, int (*fn)(void *ctx, uint64_t seq, const uint8_t *entry, size_t len),
			      void *ctx)
{
	sqlite3_stmt *s;
	int rc = gstmt(st, GS_ENTRIES, &s), count = 0;
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	if (last > INT64_MAX)
		last = INT64_MAX;
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)(first > INT64_MAX ? INT64_MAX : first));
	sqlite3_bind_int64(s, 3, (sqlite3_int64)last);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		count++;
		if (fn(ctx, (uint64_t)sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
		       (size_t)sqlite3_column_bytes(s, 1)))
			break;
	}
	int e = rc == SQLITE_ROW || rc == SQLITE_DONE ? count : store_errno(st->db, rc);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return e;
}

int konce_store_groups_each(konce_store *st, int (*fn)(void *ctx, const uint8_t gid[KONCE_STORE_GROUP_ID],
							 const char *name, uint64_t epoch),
			    void *ctx)
{
	sqlite3_stmt *s;
	int rc = gstmt(st, GS_EACH, &s), count = 0;
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != KONCE_STORE_GROUP_ID)
			continue;
		count++;
		if (fn(ctx, sqlite3_column_blob(s, 0), (const char *)sqlite3_column_text(s, 1),
		       (uint64_t)sqlite3_column_int64(s, 2)))
			break;
	}
	int e = rc == SQLITE_ROW || rc == SQLITE_DONE ? count : store_errno(st->db, rc);
	sqlite3_reset(s);
	return e;
}

int konce_store_group_invites(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t upto,
			      int (*entry)(void *ctx, const uint8_t *e, size_t len),
			      int (*used)(void *ctx, const uint8_t hash[32]), void *ctx)
{
	sqlite3_stmt *s;
	int rc = gstmt(st, GS_INVITES, &s), count = 0, stop = 0;
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)(upto > INT64_MAX ? INT64_MAX : upto));
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		count++;
		stop = entry(ctx, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
	}
	int e = stop || rc == SQLITE_DONE ? 0 : store_errno(st->db, rc);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (e || stop)
		return e ? e : -ECANCELED;
	if ((rc = gstmt(st, GS_USED_EACH, &s)) != SQLITE_OK)
		return store_errno(st->db, rc);
	sqlite3_bind_blob(s, 1, gid, KONCE_STORE_GROUP_ID, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != 32)
			continue;
		count++;
		stop = used(ctx, sqlite3_column_blob(s, 0));
	}
	e = stop || rc == SQLITE_DONE ? 0 : store_errno(st->db, rc);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return e ? e : stop ? -ECANCELED : count;
}
