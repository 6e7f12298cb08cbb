/* test_store_groups.c - consensus groups in the SQLite store (store/groups.c, store/group_core.c):
 * records survive a close and reopen, replace as the core's contract says, a failed flush (full
 * disk, read-only database) says why and loses nothing, the join secret stays owner-only and is
 * cleared by the first view, a core restarted from the store resumes where it stopped, and the
 * application's state comes back from the snapshot and log (konce_store_group_replay). */
#include <errno.h>
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
#include <sodium.h>
#include <sqlite3.h>

#include "consensus/cgroup.h"
#include "store/store_int.h"
#include "tests/unit/store_dir.h"

static const uint8_t GID[16] = "group-store-test";
static uint8_t K[4][32];
static const uint8_t ZERO[32];

static int setup(void **state)
{
	(void)state;
	if (store_dir_make("gstore"))
		return -1;
	for (unsigned i = 0; i < 4; i++)
		memset(K[i], 0x10 * (i + 1), 32);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return store_dir_remove();
}

static konce_cw_entry entry(uint64_t nonce, const char *text)
{
	return (konce_cw_entry){.kind = KONCE_CW_E_APP, .origin = K[0], .nonce = nonce, .len = (uint16_t)strlen(text),
				.data = (const uint8_t *)text};
}

/* A value: epoch, n members of K, commit C and a tail of `count` entries named t<i>. */
static size_t value(uint8_t *out, uint64_t epoch, unsigned n, uint64_t commit, unsigned count)
{
	static char text[8][16];
	konce_cw_value v = {.epoch = epoch, .n = (uint8_t)n, .keys = &K[0][0], .used_invite = ZERO, .commit = commit,
			    .first_seq = commit + 1, .count = (uint16_t)count};
	for (unsigned i = 0; i < count; i++) {
		snprintf(text[i], sizeof(text[i]), "t%u", i);
		v.e[i] = entry(100 + i, text[i]);
	}
	size_t len = konce_cw_value_encode(&v, out, KONCE_CW_MAX_VALUE);
	assert_true(len > 0);
	return len;
}

/* count entries e<first>.. concatenated. */
static size_t entries(uint8_t *out, uint64_t first, unsigned count)
{
	size_t off = 0;
	char text[16];
	for (unsigned i = 0; i < count; i++) {
		snprintf(text, sizeof(text), "e%llu", (unsigned long long)(first + i));
		konce_cw_entry e = entry(first + i, text);
		size_t n = konce_cw_entry_encode(&e, out + off, 4096 - off);
		assert_true(n > 0);
		off += n;
	}
	return off;
}

struct seen {
	unsigned n;
	uint64_t seq[64];
	char text[64][16];
};

static int collect(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
	struct seen *s = ctx;
	konce_cw_entry e;
	assert_int_equal(konce_cw_entry_parse(&e, b, len, NULL), KONCE_CW_OK);
	s->seq[s->n] = seq;
	snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", e.len, (const char *)e.data);
	s->n++;
	return 0;
}

struct listing {
	char names[128];
};

static int list_one(void *ctx, const uint8_t gid[16], const char *name, uint64_t epoch)
{
	struct listing *l = ctx;
	(void)gid;
	size_t at = strlen(l->names);
	snprintf(l->names + at, sizeof(l->names) - at, "%s/%llu ", name, (unsigned long long)epoch);
	return 0;
}

static void test_records_survive_reopen(void **state)
{
	(void)state;
	static uint8_t vb[KONCE_CW_MAX_VALUE], eb[4096];
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID, "team", NULL, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_add(st, GID, "other", NULL, 0, NULL, err, sizeof(err)), -EEXIST);
	assert_int_equal(konce_store_group_add(st, (const uint8_t *)"another-group-id", "team", NULL, 0, NULL, err,
						sizeof(err)),
			 -EEXIST);
	assert_int_equal(konce_store_group_add(st, (const uint8_t *)"another-group-id", "bad name", NULL, 0, NULL, err,
						sizeof(err)),
			 -EINVAL);

	size_t vl = value(vb, 1, 3, 0, 0);
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	size_t el = entries(eb, 1, 5);
	assert_int_equal(konce_store_group_note_entries(st, GID, 1, 5, eb, el), 0);
	assert_int_equal(konce_store_group_note_delivered(st, GID, 2), 0);
	size_t al = value(vb, 2, 2, 3, 1); /* an accepted value: epoch 2, commit 3, tail t0 */
	assert_int_equal(konce_store_group_note_vote(st, GID, 1, 0x201, 0x201, vb, al), 0);
	assert_int_equal(konce_store_group_pending(st), 4);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);

	st = open_store();
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_string_equal(r.name, "team");
	assert_int_equal(r.epoch, 1);
	assert_int_equal(r.view_len, value(vb, 1, 3, 0, 0));
	assert_memory_equal(r.view, vb, r.view_len);
	assert_int_equal(r.vote_base, 1);
	assert_int_equal(r.promised, 0x201);
	assert_int_equal(r.acc_ballot, 0x201);
	assert_int_equal(r.acc_len, al);
	assert_int_equal(r.delivered, 2);
	assert_int_equal(r.last, 5);
	assert_null(r.join_secret);
	konce_store_group_rec_free(&r);
	uint8_t gid[16];
	assert_int_equal(konce_store_group_by_name(st, "team", gid), 0);
	assert_memory_equal(gid, GID, 16);
	assert_int_equal(konce_store_group_by_name(st, "nope", gid), -ENOENT);

	/* The core's replacement rules: entries at >= first replace; a view replaces every entry
	 * after its commit index by its tail; entries at or below it stay (the log). */
	el = entries(eb, 4, 1);
	assert_int_equal(konce_store_group_note_entries(st, GID, 4, 1, eb, el), 0);
	vl = value(vb, 2, 2, 2, 1);
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	struct seen s = {0};
	assert_int_equal(konce_store_group_entries(st, GID, 1, UINT64_MAX, collect, &s), 3);
	assert_int_equal(s.seq[0], 1);
	assert_string_equal(s.text[0], "e1");
	assert_string_equal(s.text[1], "e2");
	assert_int_equal(s.seq[2], 3);
	assert_string_equal(s.text[2], "t0");
	memset(&s, 0, sizeof(s));
	assert_int_equal(konce_store_group_entries(st, GID, 2, 2, collect, &s), 1);
	assert_int_equal(s.seq[0], 2);

	/* Bad records are refused when noted, and nothing is queued. */
	assert_int_equal(konce_store_group_note_view(st, GID, eb, el), -EINVAL);
	assert_int_equal(konce_store_group_note_entries(st, GID, 1, 2, eb, el), -EINVAL);
	assert_int_equal(konce_store_group_note_entries(st, GID, 0, 1, eb, el), -EINVAL);
	assert_int_equal(konce_store_group_note_vote(st, GID, 1, 2, 2, eb, el), -EINVAL);
	assert_int_equal(konce_store_group_pending(st), 0);

	struct listing l = {0};
	assert_int_equal(konce_store_group_add(st, (const uint8_t *)"another-group-id", "alpha", NULL, 0, NULL, err,
						sizeof(err)),
			 0);
	assert_int_equal(konce_store_groups_each(st, list_one, &l), 2);
	assert_string_equal(l.names, "alpha/0 team/2 ");
	assert_int_equal(konce_store_group_remove(st, GID, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_remove(st, GID, err, sizeof(err)), -ENOENT);
	memset(&s, 0, sizeof(s));
	assert_int_equal(konce_store_group_entries(st, GID, 1, UINT64_MAX, collect, &s), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* A joiner's invitation: kept owner-only until the first view, which clears it. */
static void test_join_secret(void **state)
{
	(void)state;
	static uint8_t vb[KONCE_CW_MAX_VALUE];
	uint8_t secret[32];
	memset(secret, 0x5e, 32);
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID, "joined", &K[0][0], 2, secret, err, sizeof(err)), 0);
	struct stat sb;
	char wal[160];
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	assert_int_equal(stat(dbpath, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_int_equal(r.epoch, 0);
	assert_null(r.view);
	assert_int_equal(r.join_n, 2);
	assert_memory_equal(r.join_keys, K[0], 64);
	assert_non_null(r.join_secret);
	assert_memory_equal(r.join_secret, secret, 32);
	konce_store_group_rec_free(&r);

	/* A core restarted while joining joins again with the stored invitation. */
	konce_group_config cfg = {0};
	memcpy(cfg.group, GID, 16);
	memcpy(cfg.self, K[3], 32);
	konce_store_group_binding b = {.st = st};
	memcpy(b.gid, GID, 16);
	konce_store_group_persist(&b, &cfg.persist);
	konce_group *g = konce_group_new(&cfg);
	assert_non_null(g);
	assert_int_equal(konce_store_group_restore(st, GID, g, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	konce_group_out o;
	unsigned joins = 0;
	while (konce_group_poll(g, &o))
		joins++;
	assert_int_equal(joins, 2);
	konce_group_free(g);

	size_t vl = value(vb, 3, 3, 0, 0);
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_int_equal(r.epoch, 3);
	assert_null(r.join_secret);
	assert_null(r.join_keys);
	konce_store_group_rec_free(&r);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* State transfer: the mark survives a restart (the member asks again and delivers nothing), and
 * the snapshot received replaces it. */
static void test_snapshot_mark(void **state)
{
	(void)state;
	static uint8_t vb[KONCE_CW_MAX_VALUE];
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID, "late", NULL, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_note_snapshot(st, GID, 0, NULL, 0), 0);
	size_t vl = value(vb, 2, 3, 5, 0);
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	assert_int_equal(konce_store_group_note_delivered(st, GID, 5), 0);
	assert_int_equal(konce_store_group_note_snapshot(st, GID, 0, (const uint8_t *)"x", 1), -EINVAL);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_true(r.needs_state);
	assert_int_equal(r.snap_seq, 0);
	assert_null(r.snapshot);
	konce_store_group_rec_free(&r);

	konce_group_config cfg = {0};
	memcpy(cfg.group, GID, 16);
	memcpy(cfg.self, K[0], 32);
	konce_store_group_binding b = {.st = st};
	memcpy(b.gid, GID, 16);
	konce_store_group_persist(&b, &cfg.persist);
	konce_group *g = konce_group_new(&cfg);
	assert_int_equal(konce_store_group_restore(st, GID, g, 0, err, sizeof(err)), 0);
	assert_true(konce_group_catching_up(g));
	konce_group_free(g);

	assert_int_equal(konce_store_group_note_snapshot(st, GID, 9, (const uint8_t *)"state", 5), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_false(r.needs_state);
	assert_int_equal(r.snap_seq, 9);
	assert_int_equal(r.snap_len, 5);
	assert_memory_equal(r.snapshot, "state", 5);
	konce_store_group_rec_free(&r);
	g = konce_group_new(&cfg);
	assert_int_equal(konce_store_group_restore(st, GID, g, 0, err, sizeof(err)), 0);
	assert_false(konce_group_catching_up(g));
	konce_group_free(g);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* A pending join's deadline is stored as wall-clock time: a core restarted 12 s into a 20 s join
 * has 8 s left, one restarted after it withdraws at once, and a group without one (join_until 0)
 * gets the default from the restart. */
static konce_group *joiner_restart(konce_store *st, uint64_t wall, uint64_t now)
{
	konce_group_config cfg = {0};
	memcpy(cfg.group, GID, 16);
	memcpy(cfg.self, K[3], 32);
	konce_group *g = konce_group_new(&cfg);
	assert_non_null(g);
	if (wall)
		konce_group_set_wallclock(g, wall); /* as the node does before it restores (ncgrestore.c) */
	assert_int_equal(konce_store_group_restore(st, GID, g, now, err, sizeof(err)), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	return g;
}

static void test_join_deadline_survives_restart(void **state)
{
	(void)state;
	uint8_t secret[32];
	memset(secret, 0x5f, 32);
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add_join(st, GID, "j", &K[0][0], 2, NULL, 1020, err, sizeof(err)), -EINVAL);
	assert_int_equal(konce_store_group_add_join(st, GID, "j", NULL, 0, NULL, 1020, err, sizeof(err)), -EINVAL);
	assert_int_equal(konce_store_group_add_join(st, GID, "j", &K[0][0], 2, secret, 1020, err, sizeof(err)), 0);
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_int_equal(r.join_until, 1020);
	konce_store_group_rec_free(&r);
	uint64_t ep, left;
	konce_group *g = joiner_restart(st, 1012, 5000000);
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(left, 8000);
	konce_group_free(g);

	g = joiner_restart(st, 1030, 5000000);
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(left, 0);
	konce_group_out o;
	while (konce_group_poll(g, &o))
		;
	konce_group_timer(g, 5000000 + 20000);
	unsigned withdraws = 0;
	while (konce_group_poll(g, &o)) {
		konce_cw_msg m;
		assert_int_equal(konce_cw_parse(&m, o.bytes, o.len), KONCE_CW_OK);
		withdraws += m.type == KONCE_CW_JOIN_WITHDRAW;
	}
	assert_int_equal(withdraws, 2);
	konce_group_free(g);

	g = joiner_restart(st, 0, 5000000); /* no wall clock to judge it by: the default */
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(left, KONCE_GROUP_JOIN_TIMEOUT_MS);
	konce_group_free(g);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

struct replayed {
	unsigned snaps;
	uint64_t snap_seq;
	char snap[32];
	struct seen e;
};

static int on_snap(void *ctx, uint64_t seq, const uint8_t *d, size_t len)
{
	struct replayed *r = ctx;
	r->snaps++;
	r->snap_seq = seq;
	snprintf(r->snap, sizeof(r->snap), "%.*s", (int)len, (const char *)d);
	return 0;
}

static int on_entry(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
	return collect(&((struct replayed *)ctx)->e, seq, b, len);
}

/* The application's state after a restart (konce_store_group_replay): a founder's log from seq 1 to
 * the delivery point; a joiner's snapshot (without its core section) and the entries after it; none
 * while a snapshot is awaited; a hole in the log is an error, not a silent gap. */
static void test_replay(void **state)
{
	(void)state;
	static uint8_t vb[KONCE_CW_MAX_VALUE], eb[4096];
	struct replayed r;
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID, "founder", NULL, 0, NULL, err, sizeof(err)), 0);
	size_t vl = value(vb, 1, 1, 0, 0);
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	size_t el = entries(eb, 1, 6);
	assert_int_equal(konce_store_group_note_entries(st, GID, 1, 6, eb, el), 0);
	assert_int_equal(konce_store_group_note_delivered(st, GID, 4), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
	st = open_store(); /* as after a restart */
	memset(&r, 0, sizeof(r));
	assert_int_equal(konce_store_group_replay(st, GID, UINT64_MAX, on_snap, on_entry, &r), 4);
	assert_int_equal(r.snaps, 0);
	assert_int_equal(r.e.n, 4); /* up to the delivery point, not the log's end */
	for (unsigned i = 0; i < 4; i++) {
		char want[16];
		snprintf(want, sizeof(want), "e%u", i + 1);
		assert_int_equal(r.e.seq[i], i + 1);
		assert_string_equal(r.e.text[i], want);
	}
	memset(&r, 0, sizeof(r));
	assert_int_equal(konce_store_group_replay(st, GID, 2, on_snap, on_entry, &r), 2); /* upto */
	assert_int_equal(r.e.n, 2);
	uint8_t other[16] = "no such group";
	assert_int_equal(konce_store_group_replay(st, other, UINT64_MAX, on_snap, on_entry, &r), -ENOENT);

	/* A joiner: waiting for a snapshot, then a snapshot at 9 (core section + "app state") and
	 * entries 10..12 delivered. */
	static const uint8_t G2[16] = "group-store-tst2";
	assert_int_equal(konce_store_group_add(st, G2, "joiner", NULL, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_note_snapshot(st, G2, 0, NULL, 0), 0);
	vl = value(vb, 3, 3, 8, 0);
	assert_int_equal(konce_store_group_note_view(st, G2, vb, vl), 0);
	el = entries(eb, 9, 4);
	assert_int_equal(konce_store_group_note_entries(st, G2, 9, 4, eb, el), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(konce_store_group_replay(st, G2, UINT64_MAX, on_snap, on_entry, &r), 0);
	assert_int_equal(r.snaps + r.e.n, 0); /* no state yet */
	uint8_t stream[KONCE_CW_SNAP_CORE_MAX + 16];
	uint8_t h[32];
	memset(h, 0x33, sizeof(h));
	konce_cw_invite inv = {.hash = h, .expires = 0, .used = true};
	size_t cl = konce_cw_snapcore_encode(&inv, 1, stream, sizeof(stream));
	memcpy(stream + cl, "app state", 9);
	assert_int_equal(konce_store_group_note_snapshot(st, G2, 9, stream, cl + 9), 0);
	assert_int_equal(konce_store_group_note_delivered(st, G2, 12), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(konce_store_group_replay(st, G2, UINT64_MAX, on_snap, on_entry, &r), 3);
	assert_int_equal(r.snaps, 1);
	assert_int_equal(r.snap_seq, 9);
	assert_string_equal(r.snap, "app state");
	assert_int_equal(r.e.n, 3);
	assert_int_equal(r.e.seq[0], 10);
	assert_string_equal(r.e.text[2], "e12");

	/* A hole in the delivered log (a damaged database): -ENODATA. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM group_entries WHERE seq = 11", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	memset(&r, 0, sizeof(r));
	assert_int_equal(konce_store_group_replay(st, G2, UINT64_MAX, on_snap, on_entry, &r), -ENODATA);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* A full disk during a flush: a clear error, the records stay queued, nothing is half-written,
 * and they are written once there is space. */
static int fill_disk(void)
{
	static uint8_t vb[KONCE_CW_MAX_VALUE], eb[4096];
	konce_store *st;
	konce_store_group_rec r;
	if (konce_store_open(&st, dbpath, 0, err, sizeof(err)) || konce_store_group_add(st, GID, "g", NULL, 0, NULL, err, sizeof(err)))
		return 80;
	size_t vl = value(vb, 1, 3, 0, 0);
	if (konce_store_group_note_view(st, GID, vb, vl) || konce_store_group_flush(st, err, sizeof(err)))
		return 81;
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl, small;
	getrlimit(RLIMIT_FSIZE, &rl);
	small = (struct rlimit){64 * 1024, rl.rlim_max};
	if (setrlimit(RLIMIT_FSIZE, &small))
		return 82;
	size_t queued = 0;
	for (uint64_t first = 1; first < 2000; first += 16) {
		size_t el = entries(eb, first, 16);
		if (konce_store_group_note_entries(st, GID, first, 16, eb, el))
			return 83;
		queued++;
	}
	if (konce_store_group_note_delivered(st, GID, 1000))
		return 84;
	queued++;
	int e = konce_store_group_flush(st, err, sizeof(err));
	if (e == 0)
		return 85;
	fprintf(stderr, "  (expected error: %s)\n", err);
	if (!strstr(err, dbpath) || !strstr(err, "kept in memory"))
		return 86;
	if (konce_store_group_pending(st) != queued)
		return 87; /* nothing lost from the queue */
	if (konce_store_group_get(st, GID, &r) || r.last != 0 || r.delivered != 0)
		return 88; /* and nothing half-written */
	konce_store_group_rec_free(&r);
	if (setrlimit(RLIMIT_FSIZE, &rl))
		return 89;
	if (konce_store_group_flush(st, err, sizeof(err)) || konce_store_group_pending(st))
		return 90;
	if (konce_store_group_get(st, GID, &r) || r.last != 2000 || r.delivered != 1000)
		return 91;
	konce_store_group_rec_free(&r);
	return konce_store_close(st, err, sizeof(err)) ? 92 : 0;
}

static void test_full_disk(void **state)
{
	(void)state;
	assert_int_equal(in_child(fill_disk), 0);
}

/* A database that has become read-only: -EROFS with a clear error; nothing lost. */
static void test_readonly(void **state)
{
	(void)state;
	static uint8_t vb[KONCE_CW_MAX_VALUE];
	konce_store *st = open_store();
	size_t vl = value(vb, 1, 3, 0, 0);
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	assert_int_equal(konce_store_group_note_delivered(st, GID, 0), 0);
	assert_int_equal(sqlite3_exec(st->db, "PRAGMA query_only = ON", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), -EROFS);
	fprintf(stderr, "  (expected error: %s)\n", err);
	assert_non_null(strstr(err, "writable"));
	assert_int_equal(konce_store_group_pending(st), 2);
	assert_int_equal(sqlite3_exec(st->db, "PRAGMA query_only = OFF", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	assert_int_equal(r.epoch, 1);
	konce_store_group_rec_free(&r);
	/* The queue is bounded in bytes. */
	static uint8_t eb[4096 * 8];
	int rc = 0;
	unsigned n = 0;
	for (; n < 100000 && !rc; n++) {
		size_t el = entries(eb, 1, 16);
		rc = konce_store_group_note_entries(st, GID, 1, 16, eb, el);
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_true(konce_store_group_discard(st) > 100);
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* A group on st (local name `name`) that K[0] founds alone, persisting through *b; *cfg is its
 * config. */
static konce_group *found_alone(konce_store *st, const char *name, konce_store_group_binding *b,
				konce_group_config *cfg)
{
	assert_int_equal(konce_store_group_add(st, GID, name, NULL, 0, NULL, err, sizeof(err)), 0);
	*b = (konce_store_group_binding){.st = st};
	memcpy(b->gid, GID, 16);
	*cfg = (konce_group_config){0};
	memcpy(cfg->group, GID, 16);
	memcpy(cfg->self, K[0], 32);
	konce_store_group_persist(b, &cfg->persist);
	konce_group *g = konce_group_new(cfg);
	assert_int_equal(konce_group_create(g, 0), 0);
	return g;
}

/* A lone member on the store: nothing is delivered before the flush; killed (its queue lost) and
 * restarted, it resumes with the same view and log, and what it had not flushed is gone. */
static void test_core_restart(void **state)
{
	(void)state;
	konce_store *st = open_store();
	konce_store_group_binding b;
	konce_group_config cfg;
	konce_group *g = found_alone(st, "solo", &b, &cfg);
	konce_group_event ev;
	for (unsigned i = 0; i < 3; i++)
		assert_true(konce_group_propose(g, (const uint8_t *)"abc", 3, 1000) > 0);
	assert_false(konce_group_poll_event(g, &ev));
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
	unsigned delivered = 0;
	while (konce_group_poll_event(g, &ev))
		delivered += ev.type == KONCE_GROUP_EV_COMMITTED;
	assert_int_equal(delivered, 3);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0); /* the delivery marks */
	assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
	/* One more, never flushed: lost with the process. */
	assert_true(konce_group_propose(g, (const uint8_t *)"lost", 4, 2000) > 0);
	assert_false(konce_group_poll_event(g, &ev));
	konce_group_free(g);
	assert_true(konce_store_group_discard(st) > 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);

	st = open_store();
	b.st = st;
	g = konce_group_new(&cfg);
	assert_int_equal(konce_store_group_restore(st, GID, g, 5000, err, sizeof(err)), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_epoch(g), 1);
	assert_int_equal(konce_group_commit_index(g), 3);
	assert_true(konce_group_propose(g, (const uint8_t *)"next", 4, 6000) > 0);
	assert_false(konce_group_poll_event(g, &ev)); /* appends it; not durable yet */
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_COMMITTED);
	assert_int_equal(ev.seq, 4);
	assert_memory_equal(ev.data, "next", 4);
	konce_group_free(g);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	struct seen s = {0};
	assert_int_equal(konce_store_group_entries(st, GID, 1, UINT64_MAX, collect, &s), 4);
	assert_string_equal(s.text[3], "next");
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* Flush, release, and return the type of the first message to `to` (0: none); events drained. */
static uint8_t pump(konce_store *st, konce_group *g, const uint8_t *to, uint8_t *flag)
{
	konce_group_out o;
	konce_group_event ev;
	uint8_t type = 0;
	while (konce_group_poll_event(g, &ev)) /* a host polls before it flushes: proposals append here */
		;
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
	while (konce_group_poll_event(g, &ev))
		;
	while (konce_group_poll(g, &o)) {
		static konce_cw_msg m;
		if (!type && !memcmp(o.to, to, 32) && konce_cw_parse(&m, o.bytes, o.len) == KONCE_CW_OK) {
			type = m.type;
			if (flag)
				*flag = m.flag;
		}
	}
	return type;
}

static uint8_t join_msg(konce_store *st, konce_group *g, const uint8_t *from, const uint8_t secret[32], uint64_t now,
			uint8_t *flag)
{
	static uint8_t b[KONCE_CW_MAX_MSG];
	konce_cw_msg j = {.type = KONCE_CW_JOIN, .group = GID, .secret = secret};
	size_t n = konce_cw_encode(&j, b, sizeof(b));
	assert_int_equal(konce_group_input(g, from, b, n, now), 0);
	return pump(st, g, from, flag);
}

struct inv_seen {
	unsigned entries, used;
	uint8_t first[32], used_hash[32];
};

static int inv_entry(void *ctx, const uint8_t *e, size_t len)
{
	struct inv_seen *v = ctx;
	konce_cw_entry x;
	assert_int_equal(konce_cw_entry_parse(&x, e, len, NULL), KONCE_CW_OK);
	assert_int_equal(x.kind, KONCE_CW_E_INVITE);
	if (!v->entries++)
		memcpy(v->first, x.data, 32);
	return 0;
}

static int inv_used(void *ctx, const uint8_t hash[32])
{
	struct inv_seen *v = ctx;
	v->used++;
	memcpy(v->used_hash, hash, 32);
	return 0;
}

/* A restarted member knows the invitations it knew: one a view used stays used (a second JOIN with
 * it is refused), and one committed but unused still admits. */
static void test_invitations_survive_restart(void **state)
{
	(void)state;
	konce_store *st = open_store();
	konce_store_group_binding b;
	konce_group_config cfg;
	konce_group *g = found_alone(st, "inv", &b, &cfg);
	uint8_t s1[32], s2[32], h1[32], h2[32], flag = 0;
	memset(s1, 0x61, 32);
	memset(s2, 0x62, 32);
	crypto_generichash(h1, 32, s1, 32, NULL, 0);
	crypto_generichash(h2, 32, s2, 32, NULL, 0);
	assert_true(konce_group_invite(g, h1, 0, 1000) > 0);
	assert_true(konce_group_invite(g, h2, 0, 1000) > 0);
	pump(st, g, K[1], NULL);
	/* K[1] joins with the first: a majority of one accepts, a view change admits it. */
	assert_int_equal(join_msg(st, g, K[1], s1, 2000, NULL), KONCE_CW_NEWVIEW);
	assert_int_equal(konce_group_epoch(g), 2);
	konce_group_free(g);
	/* What a restart replays: the two INVITE entries in log order, and the invitation view 2 used. */
	struct inv_seen v = {0};
	assert_int_equal(konce_store_group_invites(st, GID, UINT64_MAX, inv_entry, inv_used, &v), 3);
	assert_int_equal(v.entries, 2);
	assert_memory_equal(v.first, h1, 32);
	assert_int_equal(v.used, 1);
	assert_memory_equal(v.used_hash, h1, 32);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);

	st = open_store();
	b.st = st;
	g = konce_group_new(&cfg);
	assert_int_equal(konce_store_group_restore(st, GID, g, 5000, err, sizeof(err)), 0);
	assert_int_equal(konce_group_epoch(g), 2);
	assert_int_equal(join_msg(st, g, K[2], s1, 6000, &flag), KONCE_CW_REFUSED); /* used */
	assert_int_equal(flag, KONCE_CW_R_INVALID);
	assert_int_equal(join_msg(st, g, K[2], s2, 7000, NULL), 0); /* valid: a vote starts, no refusal */
	konce_group_free(g);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records_survive_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_deadline_survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_core_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invitations_survive_restart, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
