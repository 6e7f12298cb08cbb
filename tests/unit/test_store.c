/* test_store.c - the presence store: schema, queued writes, petnames, migration and bad conditions. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store_int.h"
#include "tests/unit/store_dir.h"

static int setup(void **state)
{
	(void)state;
	if (store_dir_make("store"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return store_dir_remove();
}

static void key(uint8_t pk[32], unsigned n)
{
	memset(pk, 0, 32);
	pk[0] = 0x4b;
	pk[28] = (uint8_t)(n >> 24);
	pk[29] = (uint8_t)(n >> 16);
	pk[30] = (uint8_t)(n >> 8);
	pk[31] = (uint8_t)n;
}

static int schema_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int v = -1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void test_notes_and_reads(void **state)
{
	(void)state;
	konce_store *st;
	konce_peer_rec r;
	konce_store_addr addrs[4];
	konce_addr a1, a2;
	uint8_t pk[32], pk2[32], got[32];

	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(schema_version(dbpath), KONCE_STORE_SCHEMA);
	key(pk, 1);
	key(pk2, 2);
	assert_int_equal(konce_addr_parse(&a1, "192.0.2.1:7807"), 0);
	assert_int_equal(konce_addr_parse(&a2, "[2001:db8::2]:9"), 0);

	/* queued, not yet written */
	assert_int_equal(konce_store_note_seen(st, pk, &a1, KONCE_ADDR_SEEN, 1000, 2500), 0);
	assert_int_equal(konce_store_peer_get(st, pk, &r), -ENOENT);
	assert_int_equal(konce_store_note_seen(st, pk, &a2, KONCE_ADDR_RENDEZVOUS, 1010, 0), 0);
	assert_int_equal(konce_store_note_handshake(st, pk, true, 1011), 0);
	assert_int_equal(konce_store_note_handshake(st, pk, false, 1012), 0);
	assert_int_equal(konce_store_note_nat(st, pk, 3), 0);
	assert_int_equal(konce_store_note_score(st, pk, -5), 0);
	assert_int_equal(konce_store_note_seen(st, pk2, NULL, 0, 900, 0), 0);
	konce_store_stats stats;
	konce_store_get_stats(st, &stats);
	assert_int_equal(stats.pending, 7);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	konce_store_get_stats(st, &stats);
	assert_int_equal(stats.pending, 0);
	assert_int_equal(stats.notes_flushed, 7);

	assert_int_equal(konce_store_peer_get(st, pk, &r), 0);
	assert_memory_equal(r.pk, pk, 32);
	assert_int_equal(r.first_seen, 1000);
	assert_int_equal(r.last_seen, 1011);
	assert_int_equal(r.rtt_us, 2500); /* a 0 rtt does not erase a known one */
	assert_int_equal(r.handshakes, 1);
	assert_int_equal(r.failures, 1);
	assert_int_equal(r.nat_type, 3);
	assert_int_equal(r.score, -5);
	assert_string_equal(r.petname, "");

	assert_int_equal(konce_store_addrs(st, pk, addrs, 4), 2);
	assert_true(konce_addr_eq(&addrs[0].addr, &a2)); /* newest first */
	assert_int_equal(addrs[0].source, KONCE_ADDR_RENDEZVOUS);
	assert_true(konce_addr_eq(&addrs[1].addr, &a1));
	assert_int_equal(konce_store_addrs(st, pk2, addrs, 4), 0);
	assert_int_equal(konce_store_peer_count(st), 2);

	/* petnames */
	assert_int_equal(konce_store_set_petname(st, pk, "alice", err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_by_petname(st, "alice", got), 0);
	assert_memory_equal(got, pk, 32);
	assert_int_equal(konce_store_set_petname(st, pk2, "alice", err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already names another peer"));
	assert_int_equal(konce_store_set_petname(st, pk2, "has space", err, sizeof(err)), -EINVAL);
	assert_int_equal(konce_store_set_petname(st, pk2, "a@b", err, sizeof(err)), -EINVAL);
	char longname[80];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(konce_store_set_petname(st, pk2, longname, err, sizeof(err)), -EINVAL);
	assert_int_equal(konce_store_set_petname(st, pk, NULL, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_by_petname(st, "alice", got), -ENOENT);
	/* a petname for an unknown peer creates it */
	uint8_t pk3[32];
	key(pk3, 3);
	assert_int_equal(konce_store_set_petname(st, pk3, "carol", err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_count(st), 3);

	/* bad arguments */
	assert_int_equal(konce_store_note_seen(st, NULL, NULL, 0, 1, 0), -EINVAL);
	assert_int_equal(konce_store_note_seen(st, pk, &a1, 9, 1, 0), -EINVAL);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

static int count_cb(void *ctx, const konce_peer_rec *r)
{
	int64_t *last = ctx;
	assert_true(r->last_seen <= *last); /* most recent first */
	*last = r->last_seen;
	return 0;
}

static void test_each_and_reopen(void **state)
{
	(void)state;
	konce_store *st;
	uint8_t pk[32];
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 500; i++) {
		key(pk, i);
		assert_int_equal(konce_store_note_seen(st, pk, NULL, 0, 1000 + (i * 7919) % 500, 0), 0);
	}
	/* close flushes */
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_count(st), 500);
	int64_t last = INT64_MAX;
	assert_int_equal(konce_store_peers_each(st, 0, count_cb, &last), 500);
	last = INT64_MAX;
	assert_int_equal(konce_store_peers_each(st, 10, count_cb, &last), 10);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

static void test_queue_full(void **state)
{
	(void)state;
	konce_store *st;
	uint8_t pk[32];
	konce_store_stats stats;
	key(pk, 9);
	assert_int_equal(konce_store_open(&st, dbpath, 4, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(konce_store_note_score(st, pk, 1), 0);
	assert_int_equal(konce_store_note_score(st, pk, 1), -ENOBUFS);
	konce_store_get_stats(st, &stats);
	assert_int_equal(stats.notes_refused, 1);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	/* the ring wraps */
	for (int i = 0; i < 3; i++)
		assert_int_equal(konce_store_note_score(st, pk, 10), 0);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	konce_peer_rec r;
	assert_int_equal(konce_store_peer_get(st, pk, &r), 0);
	assert_int_equal(r.score, 34);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

static void test_migration_from_v1(void **state)
{
	(void)state;
	sqlite3 *db;
	uint8_t pk[32];
	key(pk, 42);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(store_migrate(db, 1, err, sizeof(err)), SQLITE_OK);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO peers (pk, petname, last_seen, handshakes) "
					    "VALUES (?1, 'old', 77, 5)", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_int_equal(schema_version(dbpath), 1);

	konce_store *st;
	konce_peer_rec r;
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(schema_version(dbpath), KONCE_STORE_SCHEMA);
	assert_int_equal(konce_store_peer_get(st, pk, &r), 0);
	assert_string_equal(r.petname, "old");
	assert_int_equal(r.last_seen, 77);
	assert_int_equal(r.handshakes, 5);
	assert_int_equal(r.nat_type, 0);
	assert_int_equal(r.score, 0);
	assert_int_equal(konce_store_note_nat(st, pk, 2), 0); /* the new column works */
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

static void test_newer_schema_refused(void **state)
{
	(void)state;
	sqlite3 *db;
	konce_store *st;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), -EPROTO);
	assert_null(st);
	assert_non_null(strstr(err, "newer than this konce"));
}

static void write_file(const char *path, const void *buf, size_t n, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, n, at), (ssize_t)n);
	close(fd);
}

static void test_not_a_database(void **state)
{
	(void)state;
	konce_store *st;
	char junk[4096];
	memset(junk, 'J', sizeof(junk));
	write_file(dbpath, junk, sizeof(junk), 0);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), -EILSEQ);
	assert_null(st);
	assert_non_null(strstr(err, dbpath));
	assert_non_null(strstr(err, "move it aside"));
}

static void test_corrupt_pages(void **state)
{
	(void)state;
	konce_store *st;
	uint8_t pk[32];
	char cmd[256];
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 3000; i++) {
		key(pk, i);
		assert_int_equal(konce_store_note_seen(st, pk, NULL, 0, i, 0), 0);
	}
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
	/* fold the WAL into the main file, then smash interior pages (keep the header page intact) */
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null", dbpath);
	assert_int_equal(system(cmd), 0);
	struct stat sb;
	assert_int_equal(stat(dbpath, &sb), 0);
	assert_true(sb.st_size > 8 * 4096);
	char junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	for (off_t off = 4096; off + 4096 <= sb.st_size; off += 3 * 4096)
		write_file(dbpath, junk, sizeof(junk), off);
	int e = konce_store_open(&st, dbpath, 0, err, sizeof(err));
	assert_int_equal(e, -EILSEQ);
	assert_null(st);
	assert_non_null(strstr(err, dbpath));
}

static int open_readonly_dir(void)
{
	konce_store *st;
	/* root ignores permission bits: become nobody so the read-only directory really refuses us */
	if (getuid() == 0 && (setgid(65534) || setuid(65534)))
		return 90;
	int e = konce_store_open(&st, dbpath, 0, err, sizeof(err));
	if (e == 0)
		return 91;
	fprintf(stderr, "  (expected error: %s)\n", err);
	if (!strstr(err, dbpath) || !strstr(err, "writable"))
		return 92;
	return e == -EACCES ? 0 : 93;
}

static void test_readonly_directory(void **state)
{
	(void)state;
	assert_int_equal(chmod(dir, 0555), 0);
	assert_int_equal(in_child(open_readonly_dir), 0);
}

static int fill_disk(void)
{
	konce_store *st;
	uint8_t pk[32];
	konce_store_stats stats;
	struct rlimit rl;
	if (konce_store_open(&st, dbpath, 0, err, sizeof(err)))
		return 80;
	/* Model a full disk: no file may grow past 64 KiB.  SIGXFSZ would kill us; ignore it so the write
	 * fails with EFBIG the way it fails with ENOSPC on a full disk. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &rl);
	struct rlimit small = {64 * 1024, rl.rlim_max};
	if (setrlimit(RLIMIT_FSIZE, &small))
		return 81;
	for (unsigned i = 0; i < 5000; i++) {
		key(pk, i);
		if (konce_store_note_seen(st, pk, NULL, 0, i + 1, 0))
			return 82;
	}
	int e = konce_store_flush(st, err, sizeof(err));
	if (e == 0)
		return 83;
	fprintf(stderr, "  (expected error: %s)\n", err);
	konce_store_get_stats(st, &stats);
	if (stats.pending != 5000 || stats.flush_failures != 1)
		return 84; /* nothing lost from the queue */
	if (konce_store_peer_count(st) != 0)
		return 85; /* and nothing half-written */
	/* space comes back: the same notes are written */
	if (setrlimit(RLIMIT_FSIZE, &rl))
		return 86;
	if (konce_store_flush(st, err, sizeof(err)))
		return 87;
	if (konce_store_peer_count(st) != 5000)
		return 88;
	return konce_store_close(st, err, sizeof(err)) ? 89 : 0;
}

static void test_full_disk(void **state)
{
	(void)state;
	assert_int_equal(in_child(fill_disk), 0);
}

static void test_locked(void **state)
{
	(void)state;
	konce_store *st;
	sqlite3 *other;
	uint8_t pk[32];
	key(pk, 5);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(sqlite3_open(dbpath, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(konce_store_note_score(st, pk, 1), 0);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "another process"));
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	konce_peer_rec r;
	assert_int_equal(konce_store_peer_get(st, pk, &r), 0);
	assert_int_equal(r.score, 1);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

static konce_addr addr_n(unsigned n)
{
	konce_addr a;
	char text[64];
	snprintf(text, sizeof(text), "203.0.113.%u:%u", n % 250 + 1, 1000 + n);
	assert_int_equal(konce_addr_parse(&a, text), 0);
	return a;
}

/* Regression: a peer's address rows grew with every address it showed. Now
 * the KONCE_STORE_ADDRS_DEFAULT most recently seen are kept. */
static void test_addrs_capped(void **state)
{
	(void)state;
	konce_store *st;
	uint8_t pk[32];
	konce_store_addr out[64];
	key(pk, 7);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 40; i++) {
		konce_addr a = addr_n(i);
		assert_int_equal(konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, 1000 + i, 0), 0);
	}
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_addrs(st, pk, out, 64), KONCE_STORE_ADDRS_DEFAULT);
	konce_addr newest = addr_n(39);
	assert_true(konce_addr_eq(&out[0].addr, &newest));
	assert_int_equal(out[KONCE_STORE_ADDRS_DEFAULT - 1].seen_at, 1000 + 40 - KONCE_STORE_ADDRS_DEFAULT);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* Regression: notes about strangers (KONCE_NOTE_IF_KNOWN) create no row;
 * they update a known peer; a trust note records a stranger. */
static void test_strangers_not_recorded(void **state)
{
	(void)state;
	konce_store *st;
	uint8_t known[32], stranger[32], friend_[32];
	konce_peer_rec rec;
	konce_addr a = addr_n(1);
	key(known, 1);
	key(stranger, 2);
	key(friend_, 3);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_note_seen(st, known, &a, KONCE_ADDR_SEEN, 100, 0), 0);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 3; i++) {
		uint8_t *pk = i == 0 ? known : i == 1 ? stranger : friend_;
		assert_int_equal(konce_store_note_seen_ex(st, pk, &a, KONCE_ADDR_SEEN, 200, 0, KONCE_NOTE_IF_KNOWN), 0);
		assert_int_equal(konce_store_note_handshake_ex(st, pk, true, 200, KONCE_NOTE_IF_KNOWN), 0);
	}
	assert_int_equal(konce_store_note_trusted(st, friend_, &a, 300), 0);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_get(st, stranger, &rec), -ENOENT);
	konce_store_addr none[4];
	assert_int_equal(konce_store_addrs(st, stranger, none, 4), 0);
	assert_int_equal(konce_store_peer_get(st, known, &rec), 0);
	assert_int_equal(rec.handshakes, 1);
	assert_int_equal(rec.last_seen, 200);
	assert_int_equal(konce_store_peer_get(st, friend_, &rec), 0);
	assert_int_equal(rec.handshakes, 1); /* trusted: counted once, not twice */
	assert_int_equal(rec.last_seen, 300);
	assert_int_equal(konce_store_peer_count(st), 2);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* Regression: the peer table is capped; the least recently seen peers go
 * first, with their addresses, and a peer with a petname is never evicted. */
static void test_peers_capped_lru(void **state)
{
	(void)state;
	konce_store *st;
	uint8_t pk[32];
	konce_peer_rec rec;
	konce_store_addr out[4];
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	konce_store_set_limits(st, 100, 0);
	key(pk, 0);
	assert_int_equal(konce_store_set_petname(st, pk, "oldfriend", err, sizeof(err)), 0);
	for (unsigned i = 1; i <= 300; i++) {
		konce_addr a = addr_n(i);
		key(pk, i);
		assert_int_equal(konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, 1000 + i, 0), 0);
		if (i % 50 == 0)
			assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	}
	assert_int_equal(konce_store_peer_count(st), 100);
	key(pk, 0);
	assert_int_equal(konce_store_peer_get(st, pk, &rec), 0); /* named: kept */
	key(pk, 300);
	assert_int_equal(konce_store_peer_get(st, pk, &rec), 0);
	key(pk, 202);
	assert_int_equal(konce_store_peer_get(st, pk, &rec), 0); /* the 99 most recent */
	key(pk, 201);
	assert_int_equal(konce_store_peer_get(st, pk, &rec), -ENOENT);
	assert_int_equal(konce_store_addrs(st, pk, out, 4), 0); /* its addresses went with it */
	char buf[64];
	assert_int_equal(konce_store_check(st, buf, sizeof(buf)), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* Regression: peers.db took the process umask (0644 under the usual 022).
 * It is created owner-only, its WAL files follow, and a looser existing file is tightened. */
static void test_created_owner_only(void **state)
{
	(void)state;
	konce_store *st;
	struct stat sb;
	char wal[160];
	uint8_t pk[32];
	mode_t old = umask(022);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	key(pk, 1);
	assert_int_equal(konce_store_note_handshake(st, pk, true, 5), 0);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	assert_int_equal(stat(dbpath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
	assert_int_equal(chmod(dbpath, 0664), 0);
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(stat(dbpath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
	umask(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notes_and_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addrs_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strangers_not_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peers_capped_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_owner_only, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
