/* db.c - opening the presence store: pragmas, integrity, schema migrations, error mapping.
 *
 * Migrations are forward-only SQL steps; PRAGMA user_version records how many have been applied.
 * Each runs in its own transaction, so a crash mid-migration leaves the previous version intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <libgen.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

static const char *const migrations[KONCE_STORE_SCHEMA] = {
	/* 1: peers and their addresses */
	"CREATE TABLE peers ("
	"  pk BLOB PRIMARY KEY CHECK (length(pk) = 32),"
	"  petname TEXT UNIQUE,"
	"  first_seen INTEGER NOT NULL DEFAULT 0,"
	"  last_seen INTEGER NOT NULL DEFAULT 0,"
	"  rtt_us INTEGER NOT NULL DEFAULT 0,"
	"  handshakes INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE addrs ("
	"  pk BLOB NOT NULL REFERENCES peers(pk) ON DELETE CASCADE,"
	"  ip BLOB NOT NULL CHECK (length(ip) = 16),"
	"  port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	"  source INTEGER NOT NULL,"
	"  seen_at INTEGER NOT NULL,"
	"  PRIMARY KEY (pk, ip, port)"
	") WITHOUT ROWID;",
	/* 2: NAT type and reputation; ordering peers by recency without a table scan */
	"ALTER TABLE peers ADD COLUMN nat_type INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE peers ADD COLUMN score INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX peers_last_seen ON peers(last_seen DESC);",
	/* 3: consensus groups (store/groups.c, docs/CONSENSUS.md "Durability") */
	"CREATE TABLE groups ("
	"  gid BLOB PRIMARY KEY CHECK (length(gid) = 16),"
	"  name TEXT UNIQUE,"
	"  view BLOB,"
	"  epoch INTEGER NOT NULL DEFAULT 0,"
	"  vote_base INTEGER NOT NULL DEFAULT 0,"
	"  promised INTEGER NOT NULL DEFAULT 0,"
	"  acc_ballot INTEGER NOT NULL DEFAULT 0,"
	"  acc_value BLOB,"
	"  delivered INTEGER NOT NULL DEFAULT 0,"
	"  needs_state INTEGER NOT NULL DEFAULT 0,"
	"  snap_seq INTEGER NOT NULL DEFAULT 0,"
	"  snapshot BLOB,"
	"  join_keys BLOB,"
	"  join_secret BLOB CHECK (join_secret IS NULL OR length(join_secret) = 32)"
	") WITHOUT ROWID;"
	"CREATE TABLE group_entries ("
	"  gid BLOB NOT NULL REFERENCES groups(gid) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL CHECK (seq > 0),"
	"  entry BLOB NOT NULL,"
	"  PRIMARY KEY (gid, seq)"
	") WITHOUT ROWID;"
	"CREATE TABLE group_used ("
	"  gid BLOB NOT NULL REFERENCES groups(gid) ON DELETE CASCADE,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  PRIMARY KEY (gid, hash)"
	") WITHOUT ROWID;",
	/* 4: a pending join's deadline, wall clock (unix seconds; 0: none stored), so that it survives
	 * a restart (docs/CONSENSUS.md "Join") */
	"ALTER TABLE groups ADD COLUMN join_until INTEGER NOT NULL DEFAULT 0;",
};

int store_errno(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return db && sqlite3_system_errno(db) ? -sqlite3_system_errno(db) : -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EILSEQ;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
	case SQLITE_MISMATCH:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static const char *advice(int e)
{
	switch (e) {
	case -EACCES:
	case -EROFS:
		return "; check that the data directory and the file are writable by this user";
	case -EBUSY:
		return "; another process holds the database locked (is another node using this data directory?)";
	case -EILSEQ:
		return "; the file is not a konce database or is corrupt: move it aside and the node starts a new one";
	case -ENOSPC:
	case -EIO:
		return "; the disk may be full or failing: the queued records stay in memory and are retried";
	default:
		return "";
	}
}

int store_fail(konce_store *st, int rc, const char *what, char *err, size_t errlen)
{
	int e = store_errno(st ? st->db : NULL, rc);
	if (e == 0)
		e = -EIO;
	if (err && errlen)
		snprintf(err, errlen, "store %s: %s: %s%s", st && st->path ? st->path : "", what,
			 st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), advice(e));
	return e;
}

int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK && err && errlen)
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc;
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_migrate(sqlite3 *db, int target, char *err, size_t errlen)
{
	int v = 0, rc = user_version(db, &v);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "reading schema version: %s", sqlite3_errmsg(db));
		return rc;
	}
	if (v > KONCE_STORE_SCHEMA) {
		snprintf(err, errlen, "schema version %d is newer than this konce understands (%d); upgrade konce",
			 v, KONCE_STORE_SCHEMA);
		return SQLITE_MISMATCH | 0x1000; /* mapped to -EPROTO by the caller */
	}
	for (; v < target; v++) {
		char sql[64];
		if ((rc = store_exec(db, "BEGIN IMMEDIATE", err, errlen)) != SQLITE_OK)
			return rc;
		rc = store_exec(db, migrations[v], err, errlen);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (rc == SQLITE_OK)
			rc = store_exec(db, sql, err, errlen);
		if (rc == SQLITE_OK)
			rc = store_exec(db, "COMMIT", err, errlen);
		if (rc != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return SQLITE_OK;
}

static const char *const stmt_sql[ST__COUNT] = {
	[ST_UPSERT_SEEN] = "INSERT INTO peers (pk, first_seen, last_seen, rtt_us) VALUES (?1, ?2, ?2, ?3) "
			   "ON CONFLICT (pk) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), "
			   "first_seen = CASE first_seen WHEN 0 THEN excluded.first_seen ELSE first_seen END, "
			   "rtt_us = CASE excluded.rtt_us WHEN 0 THEN rtt_us ELSE excluded.rtt_us END",
	[ST_UPSERT_ADDR] = "INSERT INTO addrs (pk, ip, port, source, seen_at) VALUES (?1, ?2, ?3, ?4, ?5) "
			   "ON CONFLICT (pk, ip, port) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at), "
			   "source = excluded.source",
	[ST_HANDSHAKE_OK] = "UPDATE peers SET handshakes = handshakes + 1 WHERE pk = ?1",
	[ST_HANDSHAKE_FAIL] = "UPDATE peers SET failures = failures + 1 WHERE pk = ?1",
	[ST_NAT] = "UPDATE peers SET nat_type = ?2 WHERE pk = ?1",
	[ST_SCORE] = "UPDATE peers SET score = max(-1000000, min(1000000, score + ?2)) WHERE pk = ?1",
	[ST_ENSURE_PEER] = "INSERT INTO peers (pk) VALUES (?1) ON CONFLICT (pk) DO NOTHING",
	[ST_GET_PEER] = ("SELECT pk, coalesce(petname, ''), nat_type, first_seen, last_seen, rtt_us, handshakes, "
			 "failures, score FROM peers WHERE pk = ?1"),
	[ST_BY_PETNAME] = "SELECT pk FROM peers WHERE petname = ?1",
	[ST_SET_PETNAME] = "UPDATE peers SET petname = ?2 WHERE pk = ?1",
	[ST_ADDRS] = "SELECT ip, port, source, seen_at FROM addrs WHERE pk = ?1 ORDER BY " ADDRS_ORDER " LIMIT ?2",
	[ST_COUNT] = "SELECT count(*) FROM peers",
	[ST_EXISTS] = "SELECT 1 FROM peers WHERE pk = ?1",
	[ST_TRIM_ADDRS] = "DELETE FROM addrs WHERE pk = ?1 AND (ip, port) NOT IN "
			  "(SELECT ip, port FROM addrs WHERE pk = ?1 ORDER BY seen_at DESC LIMIT ?2)",
	/* least recently seen first; a petname is the user's own word, never evicted */
	[ST_TRIM_PEERS] = "DELETE FROM peers WHERE pk IN "
			  "(SELECT pk FROM peers WHERE petname IS NULL ORDER BY last_seen ASC LIMIT ?1)",
	[ST_TRUSTED] = "UPDATE peers SET handshakes = max(handshakes, 1) WHERE pk = ?1",
};

static int check_writable(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	int e = 0;
	if (!copy)
		return -ENOMEM;
	const char *d = dirname(copy), *what = d;
	if (access(d, W_OK | X_OK) != 0)
		e = -errno;
	else if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0)
		e = -errno, what = path;
	if (e)
		snprintf(err, errlen, "store %s: %s is not writable: %s%s", path, what, strerror(-e),
			 e == -ENOENT ? "; create the data directory first" : advice(-EACCES));
	free(copy);
	return e;
}

/* The database is the owner's alone, whatever the umask: created 0600 (SQLite gives its -wal and
 * -shm files the database's mode), and tightened to 0600 if it was looser. */
static int create_private(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	int e = 0;
	if (fd < 0 && errno == ELOOP)
		fd = open(path, O_RDWR | O_CLOEXEC); /* a symlink the user made: follow it, check the target */
	if (fd < 0 || fstat(fd, &st) != 0)
		e = -errno;
	else if (!S_ISREG(st.st_mode))
		e = -EINVAL;
	else if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) != 0)
		e = -errno;
	if (fd >= 0)
		close(fd);
	if (e)
		snprintf(err, errlen, "store %s: cannot create it owner-only (0600): %s", path,
			 e == -EINVAL ? "not a regular file" : strerror(-e));
	return e;
}

static void store_free(konce_store *st)
{
	store_groups_free(st);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->st[i]);
	if (st->db)
		sqlite3_close_v2(st->db);
	free(st->queue);
	free(st->path);
	free(st);
}

int konce_store_open(konce_store **out, const char *path, size_t queue_max, char *err, size_t errlen)
{
	char msg[256] = "";
	int rc, e;
	konce_store *st;

	*out = NULL;
	if (!path || !*path) {
		snprintf(err, errlen, "store: no database path given");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path)))
		goto nomem;
	st->qmax = queue_max ? queue_max : KONCE_STORE_QUEUE_DEFAULT;
	st->peers_max = KONCE_STORE_PEERS_DEFAULT;
	st->addrs_max = KONCE_STORE_ADDRS_DEFAULT;
	st->queue = calloc(st->qmax, sizeof(*st->queue));
	if (!st->queue)
		goto nomem;

	/* SQLite reports an unwritable place as a bare CANTOPEN (often with errno ENOENT from its read-only
	 * retry), so ask the kernel first.  WAL mode also creates -wal and -shm files beside the database,
	 * so the directory itself must be writable. */
	if ((e = check_writable(path, err, errlen)) || (e = create_private(path, err, errlen))) {
		store_free(st);
		return e;
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		e = store_fail(st, rc, "cannot open", err, errlen);
		store_free(st);
		return e;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 2000);
	/* The first statement that reads the file is where "not a database" shows up. */
	rc = store_exec(st->db, "PRAGMA journal_mode = WAL", msg, sizeof(msg));
	if (rc == SQLITE_OK)
		rc = store_exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", msg, sizeof(msg));
	if (rc == SQLITE_OK) {
		/* quick_check reads every page: a corrupt file is refused now, not mid-flush. */
		char buf[128];
		e = konce_store_check(st, buf, sizeof(buf));
		if (e) {
			snprintf(err, errlen, "store %s: integrity check failed: %s%s", path, buf,
				 e == -EILSEQ ? advice(e) : "");
			store_free(st);
			return e;
		}
		rc = store_migrate(st->db, KONCE_STORE_SCHEMA, msg, sizeof(msg));
		if (rc == (SQLITE_MISMATCH | 0x1000)) {
			snprintf(err, errlen, "store %s: %s", path, msg);
			store_free(st);
			return -EPROTO;
		}
	}
	for (int i = 0; rc == SQLITE_OK && i < ST__COUNT; i++)
		rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i], NULL);
	if (rc != SQLITE_OK) {
		e = store_fail(st, rc, "cannot prepare the database", err, errlen);
		store_free(st);
		return e;
	}
	*out = st;
	return 0;
nomem:
	if (st)
		store_free(st);
	snprintf(err, errlen, "store: out of memory");
	return -ENOMEM;
}

int konce_store_close(konce_store *st, char *err, size_t errlen)
{
	int e = 0;
	if (!st)
		return 0;
	if (st->qlen)
		e = konce_store_flush(st, err, errlen);
	store_free(st);
	return e;
}

int konce_store_check(konce_store *st, char *buf, size_t len)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);
		int e = r && !strcmp(r, "ok") ? 0 : -EILSEQ;
		snprintf(buf, len, "%s", r ? r : "");
		sqlite3_finalize(s);
		return e;
	}
	snprintf(buf, len, "%s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return store_errno(st->db, rc) ? store_errno(st->db, rc) : -EIO;
}
