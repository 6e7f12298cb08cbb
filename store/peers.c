/* peers.c - immediate reads and petname writes, for the control socket and the CLI. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

static void row_to_rec(sqlite3_stmt *s, konce_peer_rec *r)
{
	memset(r, 0, sizeof(*r));
	if (sqlite3_column_bytes(s, 0) == 32)
		memcpy(r->pk, sqlite3_column_blob(s, 0), 32);
	snprintf(r->petname, sizeof(r->petname), "%s", (const char *)sqlite3_column_text(s, 1));
	r->nat_type = sqlite3_column_int(s, 2);
	r->first_seen = sqlite3_column_int64(s, 3);
	r->last_seen = sqlite3_column_int64(s, 4);
	r->rtt_us = (uint32_t)sqlite3_column_int64(s, 5);
	r->handshakes = (uint32_t)sqlite3_column_int64(s, 6);
	r->failures = (uint32_t)sqlite3_column_int64(s, 7);
	r->score = sqlite3_column_int(s, 8);
}

static void row_to_addr(sqlite3_stmt *s, int col, konce_store_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sqlite3_column_bytes(s, col) == 16)
		memcpy(a->addr.ip, sqlite3_column_blob(s, col), 16);
	a->addr.port = (uint16_t)sqlite3_column_int(s, col + 1);
	a->source = sqlite3_column_int(s, col + 2);
	a->seen_at = sqlite3_column_int64(s, col + 3);
}

int konce_store_peer_get(konce_store *st, const uint8_t pk[32], konce_peer_rec *out)
{
	sqlite3_stmt *s = st->st[ST_GET_PEER];
	sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
	int rc = sqlite3_step(s), e = 0;
	if (rc == SQLITE_ROW)
		row_to_rec(s, out);
	else
		e = rc == SQLITE_DONE ? -ENOENT : store_errno(st->db, rc);
	sqlite3_reset(s);
	return e;
}

int konce_store_peer_by_petname(konce_store *st, const char *name, uint8_t pk[32])
{
	sqlite3_stmt *s = st->st[ST_BY_PETNAME];
	if (!name)
		return -EINVAL;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s), e = 0;
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32)
		memcpy(pk, sqlite3_column_blob(s, 0), 32);
	else
		e = rc == SQLITE_DONE ? -ENOENT : store_errno(st->db, rc) ? store_errno(st->db, rc) : -EIO;
	sqlite3_reset(s);
	return e;
}

static bool petname_ok(const char *name)
{
	size_t n = strlen(name);
	if (n > KONCE_STORE_PETNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c == 0x7f || c == '@')
			return false;
	}
	return true;
}

int konce_store_set_petname(konce_store *st, const uint8_t pk[32], const char *name, char *err, size_t errlen)
{
	int rc;
	bool clear = !name || !*name;

	if (!clear && !petname_ok(name)) {
		snprintf(err, errlen, "petname '%s' is invalid: use 1 to %d characters, no spaces, control "
			 "characters or '@'", name, KONCE_STORE_PETNAME_MAX);
		return -EINVAL;
	}
	if ((rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return store_fail(st, rc, "cannot set petname", err, errlen);
	sqlite3_stmt *s = st->st[ST_ENSURE_PEER];
	sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		s = st->st[ST_SET_PETNAME];
		sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
		if (clear)
			sqlite3_bind_null(s, 2);
		else
			sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
	}
	if (rc == SQLITE_DONE)
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		int e;
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			snprintf(err, errlen, "petname '%s' already names another peer", name);
			e = -EEXIST;
		} else {
			e = store_fail(st, rc, "cannot set petname", err, errlen);
		}
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return e;
	}
	return 0;
}

int konce_store_addrs(konce_store *st, const uint8_t pk[32], konce_store_addr *out, size_t max)
{
	sqlite3_stmt *s = st->st[ST_ADDRS];
	int n = 0, rc;
	sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)(max > 1024 ? 1024 : max));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_addr(s, 0, &out[n]);
		n++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? n : store_errno(st->db, rc);
}

int konce_store_peers_each(konce_store *st, size_t limit, int (*fn)(void *ctx, const konce_peer_rec *rec),
			   void *ctx)
{
	sqlite3_stmt *s;
	konce_peer_rec r;
	int n = 0, rc;
	rc = sqlite3_prepare_v2(st->db,
				"SELECT pk, coalesce(petname, ''), nat_type, first_seen, last_seen, rtt_us, handshakes, "
				"failures, score FROM peers ORDER BY last_seen DESC LIMIT ?1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_rec(s, &r);
		n++;
		if (fn(ctx, &r)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? n : store_errno(st->db, rc);
}

/* Whether a comes before b in ADDRS_ORDER (seen_at DESC, ip, port): SQLite compares the 16-byte ip
 * blobs with memcmp. */
static bool addr_newer(const konce_store_addr *a, const konce_store_addr *b)
{
	if (a->seen_at != b->seen_at)
		return a->seen_at > b->seen_at;
	int c = memcmp(a->addr.ip, b->addr.ip, 16);
	return c ? c < 0 : a->addr.port < b->addr.port;
}

/* Each peer (as konce_store_peers_each) with its newest address (as konce_store_addrs with max 1), in
 * one statement: peers by last_seen (the peers_last_seen index, whose entries end with pk, so the
 * order needs no sort), LEFT JOINed to all their addresses by the addrs primary key (pk, ip, port).
 * A key's rows are consecutive (ORDER BY ends with pk); this keeps the newest of them by ADDRS_ORDER
 * and hands the key on when the next one starts.  A peer without an address has one row, ip NULL.
 * One seek into addrs per key and no sort: a per-key subquery picking the newest in SQL (ORDER BY
 * seen_at ... LIMIT 1) builds and sorts a temporary b-tree for every key. */
int konce_store_peers_each_newest(konce_store *st, size_t limit,
				  int (*fn)(void *ctx, const konce_peer_rec *rec, const konce_store_addr *newest),
				  void *ctx)
{
	sqlite3_stmt *s;
	konce_peer_rec r;
	konce_store_addr a, best;
	bool cur = false, have = false, stopped = false;
	size_t n = 0;
	int rc;
	rc = sqlite3_prepare_v2(st->db,
				"SELECT p.pk, coalesce(p.petname, ''), p.nat_type, p.first_seen, p.last_seen, p.rtt_us, "
				"p.handshakes, p.failures, p.score, a.ip, a.port, a.source, a.seen_at "
				"FROM peers AS p LEFT JOIN addrs AS a ON a.pk = p.pk ORDER BY p.last_seen DESC, p.pk",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_errno(st->db, rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!cur || sqlite3_column_bytes(s, 0) != 32 || memcmp(r.pk, sqlite3_column_blob(s, 0), 32)) {
			if (cur) {
				n++;
				if (fn(ctx, &r, have ? &best : NULL) || n == limit) {
					stopped = true;
					break;
				}
			}
			row_to_rec(s, &r);
			cur = true;
			have = false;
		}
		if (sqlite3_column_type(s, 9) == SQLITE_NULL)
			continue;
		row_to_addr(s, 9, &a);
		if (!have || addr_newer(&a, &best))
			best = a, have = true;
	}
	if (rc == SQLITE_DONE && cur && !stopped) {
		n++;
		fn(ctx, &r, have ? &best : NULL);
	}
	sqlite3_finalize(s);
	return stopped || rc == SQLITE_DONE ? (int)n : store_errno(st->db, rc);
}

int64_t konce_store_peer_count(konce_store *st)
{
	sqlite3_stmt *s = st->st[ST_COUNT];
	int rc = sqlite3_step(s);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : store_errno(st->db, rc);
	sqlite3_reset(s);
	return n;
}
