/* fuzz_groupstore.c - libFuzzer target for the store's consensus-group records (store/groups.c,
 * store/group_core.c): the bytes a host hands konce_store_group_note_* and the rows a damaged
 * database may hold, read back by konce_store_group_get() and konce_store_group_restore().
 *
 * The first byte picks the target:
 *   0: the rest is a sequence of records (kind u8 % 5, a u8, b u8, len u16, bytes) noted, then
 *      flushed: a record that was accepted is applied (a flush never fails on noted bytes), and
 *      the group reads back and restores a core (or is refused cleanly);
 *   1: the rest fills one row of the groups table and two entries directly (view, accepted value,
 *      join keys and secret, counters), as a corrupt or foreign file could: get and restore must
 *      refuse or accept without reading out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "consensus/cgroup.h"
#include "store/store_int.h"
#include "tests/fuzz/fuzz_tmpdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_store *st;
static const uint8_t GID[16] = "fuzz-group-store";

static void open_once(void)
{
	char path[128], err[512];
	if (st)
		return;
	const char *dir = fz_tmpdir_make("groupstore");
	if (!dir)
		abort();
	snprintf(path, sizeof(path), "%s/peers.db", dir);
	if (konce_store_open(&st, path, 0, err, sizeof(err)))
		abort();
	sqlite3_exec(st->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL); /* speed; durability is not fuzzed */
}

static void restore_core(void)
{
	char err[256];
	uint8_t self[32];
	memset(self, 0xa0, 32);
	konce_group_config cfg = {0};
	memcpy(cfg.group, GID, 16);
	memcpy(cfg.self, self, 32);
	konce_store_group_binding b = {.st = st};
	memcpy(b.gid, GID, 16);
	konce_store_group_persist(&b, &cfg.persist);
	konce_group *g = konce_group_new(&cfg);
	if (!g)
		abort();
	if (!konce_store_group_restore(st, GID, g, 1000, err, sizeof(err))) {
		konce_group_timer(g, 2000000);
		konce_group_out o;
		while (konce_group_poll(g, &o))
			;
	}
	konce_group_free(g);
	konce_store_group_discard(st);
}

static int count_one(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	(void)seq;
	if (len && !e)
		abort();
	(*(size_t *)ctx)++;
	return 0;
}

static void records(const uint8_t *d, size_t n)
{
	char err[512];
	while (n >= 5) {
		unsigned kind = d[0] % 5;
		uint64_t a = d[1], b = d[2];
		size_t len = (size_t)d[3] << 8 | d[4];
		d += 5, n -= 5;
		if (len > n)
			len = n;
		switch (kind) {
		case 0:
			konce_store_group_note_view(st, GID, d, len);
			break;
		case 1:
			konce_store_group_note_vote(st, GID, a, b, b & 1 ? b : 0, d, len);
			break;
		case 2:
			konce_store_group_note_entries(st, GID, a, (unsigned)(b % 40), d, len);
			break;
		case 3:
			konce_store_group_note_snapshot(st, GID, a, d, len);
			break;
		default:
			konce_store_group_note_delivered(st, GID, a << 8 | b);
		}
		d += len, n -= len;
	}
	if (konce_store_group_flush(st, err, sizeof(err)))
		abort(); /* noted records were checked: applying them cannot fail on their bytes */
}

static void raw_row(const uint8_t *d, size_t n)
{
	sqlite3_stmt *s;
	size_t cut[5] = {0}, at = 0;
	for (unsigned i = 0; i < 5 && at < n; i++) {
		cut[i] = d[at] % 64 * (n / 64 + 1);
		at++;
	}
	const uint8_t *p = d + at;
	size_t left = n - at, len[5];
	for (unsigned i = 0; i < 5; i++) {
		len[i] = cut[i] < left ? cut[i] : left;
		left -= len[i];
	}
	/* A damaged file: the CHECK constraints are not there to help. */
	sqlite3_exec(st->db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO groups (gid, view, epoch, vote_base, promised, acc_ballot, acc_value, delivered, "
			       "join_keys, join_secret, needs_state) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			       -1, &s, NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_blob(s, 1, GID, 16, SQLITE_STATIC);
	const uint8_t *q = p;
	if (len[0])
		sqlite3_bind_blob(s, 2, q, (int)len[0], SQLITE_STATIC);
	q += len[0];
	sqlite3_bind_int64(s, 3, n > 8 ? d[n - 1] % 3 : 0);
	sqlite3_bind_int64(s, 4, n > 8 ? d[n - 2] : 0);
	sqlite3_bind_int64(s, 5, n > 8 ? d[n - 3] : 0);
	if (len[1])
		sqlite3_bind_blob(s, 6, q, (int)len[1], SQLITE_STATIC);
	q += len[1];
	sqlite3_bind_int64(s, 7, n > 8 ? d[n - 4] % 8 : 0);
	sqlite3_bind_int(s, 10, n > 8 ? d[n - 6] & 1 : 0);
	if (len[2])
		sqlite3_bind_blob(s, 8, q, (int)len[2], SQLITE_STATIC);
	q += len[2];
	if (len[3])
		sqlite3_bind_blob(s, 9, q, (int)len[3], SQLITE_STATIC);
	q += len[3];
	sqlite3_step(s);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(st->db, "INSERT INTO group_entries (gid, seq, entry) VALUES (?1, ?2, ?3)", -1, &s,
			       NULL) != SQLITE_OK)
		abort();
	for (unsigned k = 0; k < 2; k++) {
		sqlite3_bind_blob(s, 1, GID, 16, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, 1 + k + (n > 8 ? d[n - 5] % 4 : 0));
		sqlite3_bind_blob(s, 3, k ? q : (const uint8_t *)"", k ? (int)len[4] : 0, SQLITE_STATIC);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "PRAGMA ignore_check_constraints = OFF", NULL, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	open_once();
	sqlite3_exec(st->db, "DELETE FROM groups", NULL, NULL, NULL);
	if (d[0] & 1)
		raw_row(d + 1, n - 1);
	else
		records(d + 1, n - 1);
	konce_store_group_rec r;
	if (!konce_store_group_get(st, GID, &r)) {
		size_t count = 0;
		if (r.join_n && (!r.join_keys || !r.join_secret))
			abort();
		konce_store_group_entries(st, GID, 0, UINT64_MAX, count_one, &count);
		konce_store_group_rec_free(&r);
	}
	restore_core();
	return 0;
}
