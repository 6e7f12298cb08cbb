/* test_store_group_note.c - a batch of group notes (consensus/cnote.h: persist calls carried as
 * data, as the node core hands them out) applied to the store with konce_store_group_note() and
 * made durable by one konce_store_group_flush(): a lone member's records, noted for every kind of
 * persist call, restart a fresh core at the same view, commit index and log; two groups' notes
 * share one flush; a note the store cannot take is refused and queues nothing; a failed flush
 * keeps the whole batch for the next. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "consensus/cgroup.h"
#include "consensus/cnote.h"
#include "store/store_int.h"
#include "tests/unit/store_dir.h"

static const uint8_t GID_A[16] = "group-note-test1", GID_B[16] = "group-note-test2";
static uint8_t K0[32];

/* The notes one core's persist calls became, in call order (the bytes copied, as a host does). */
struct sink {
	const uint8_t *gid;
	konce_group *g;
	unsigned n;
	konce_cnote notes[256];
	uint8_t *owned[256];
};

static int add(struct sink *s, enum konce_cnote_type t, uint64_t a, uint64_t b, uint64_t c, unsigned count,
	       const uint8_t *bytes, size_t len)
{
	assert_true(s->n < 256);
	konce_cnote *n = &s->notes[s->n];
	*n = (konce_cnote){.type = t, .a = a, .b = b, .c = c, .count = count, .len = len};
	memcpy(n->gid, s->gid, 16);
	if (len) {
		assert_non_null(n->bytes = s->owned[s->n] = malloc(len));
		memcpy(n->bytes, bytes, len);
	}
	s->n++;
	return KONCE_GROUP_PERSIST_QUEUED;
}

static int p_view(void *x, const uint8_t *v, size_t l) { return add(x, KONCE_CNOTE_VIEW, 0, 0, 0, 0, v, l); }
static int p_vote(void *x, uint64_t base, uint64_t prom, uint64_t acc, const uint8_t *v, size_t l)
{
	return add(x, KONCE_CNOTE_VOTE, base, prom, acc, 0, v, l);
}
static int p_entries(void *x, uint64_t first, unsigned count, const uint8_t *e, size_t l)
{
	return add(x, KONCE_CNOTE_ENTRIES, first, 0, 0, count, e, l);
}
static int p_delivered(void *x, uint64_t seq) { return add(x, KONCE_CNOTE_DELIVERED, seq, 0, 0, 0, NULL, 0); }
static int p_snapshot(void *x, uint64_t seq, const uint8_t *d, size_t l)
{
	return add(x, KONCE_CNOTE_SNAPSHOT, seq, 0, 0, 0, d, l);
}

static void sink_clear(struct sink *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->owned[i]);
	memset(s->owned, 0, sizeof(s->owned));
	s->n = 0;
}

static konce_group *core(struct sink *s, const uint8_t *gid)
{
	konce_group_config cfg = {0};
	memcpy(cfg.group, gid, 16);
	memcpy(cfg.self, K0, 32);
	s->gid = gid;
	cfg.persist = (konce_group_persist){.ctx = s, .put_view = p_view, .put_vote = p_vote, .put_entries = p_entries,
					    .put_delivered = p_delivered, .put_snapshot = p_snapshot};
	assert_non_null(s->g = konce_group_new(&cfg));
	return s->g;
}

/* Hands every note to the store; returns how many. */
static unsigned apply(konce_store *st, struct sink *s)
{
	unsigned n = s->n;
	for (unsigned i = 0; i < s->n; i++)
		assert_int_equal(konce_store_group_note(st, &s->notes[i]), 0);
	sink_clear(s);
	return n;
}

/* A lone founder: created, three proposals committed and delivered. */
static void run_founder(struct sink *s, const char *tag)
{
	konce_group_event ev;
	konce_group *g = s->g;
	assert_int_equal(konce_group_create(g, 0), 0);
	for (unsigned i = 0; i < 3; i++)
		assert_true(konce_group_propose(g, (const uint8_t *)tag, strlen(tag), 1000 + i) > 0);
	assert_false(konce_group_poll_event(g, &ev)); /* nothing before the records are durable */
}

static int setup(void **state)
{
	(void)state;
	if (store_dir_make("gnote"))
		return -1;
	memset(K0, 0x42, 32);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return store_dir_remove();
}

struct texts {
	unsigned n;
	char t[8][16];
};

static int collect(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
	struct texts *x = ctx;
	konce_cw_entry e;
	(void)seq;
	assert_int_equal(konce_cw_entry_parse(&e, b, len, NULL), KONCE_CW_OK);
	if (e.kind == KONCE_CW_E_APP && x->n < 8)
		snprintf(x->t[x->n++], sizeof(x->t[0]), "%.*s", e.len, (const char *)e.data);
	return 0;
}

/* Two groups' notes, queued in one batch and written by one flush, restart both cores where they
 * stopped; the store holds each group's log under its own id. */
static void test_batch_restarts_cores(void **state)
{
	(void)state;
	static struct sink a, b;
	konce_group_event ev;
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID_A, "alpha", NULL, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_add(st, GID_B, "beta", NULL, 0, NULL, err, sizeof(err)), 0);
	core(&a, GID_A);
	core(&b, GID_B);
	run_founder(&a, "aa");
	run_founder(&b, "bbb");
	unsigned queued = apply(st, &a);
	queued += apply(st, &b);
	assert_true(queued >= 4);
	assert_int_equal(konce_store_group_pending(st), queued);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_pending(st), 0);
	/* durable: the cores may deliver, and their delivery marks are notes again */
	unsigned delivered = 0;
	struct sink *both[2] = {&a, &b};
	for (unsigned i = 0; i < 2; i++) {
		konce_group *g = both[i]->g;
		assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
		while (konce_group_poll_event(g, &ev))
			delivered += ev.type == KONCE_GROUP_EV_COMMITTED && ev.kind == KONCE_CW_E_APP;
	}
	assert_int_equal(delivered, 6);
	assert_true(apply(st, &a) > 0);
	assert_true(apply(st, &b) > 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	konce_group_free(a.g);
	konce_group_free(b.g);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);

	st = open_store();
	const uint8_t *gids[2] = {GID_A, GID_B};
	const char *tags[2] = {"aa", "bbb"};
	for (unsigned i = 0; i < 2; i++) {
		konce_group *g = core(both[i], gids[i]);
		assert_int_equal(konce_store_group_restore(st, gids[i], g, 5000, err, sizeof(err)), 0);
		assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
		assert_int_equal(konce_group_epoch(g), 1);
		konce_store_group_rec r;
		assert_int_equal(konce_store_group_get(st, gids[i], &r), 0);
		assert_int_equal(r.delivered, konce_group_commit_index(g));
		konce_store_group_rec_free(&r);
		struct texts x = {0};
		assert_true(konce_store_group_entries(st, gids[i], 1, UINT64_MAX, collect, &x) >= 3);
		assert_int_equal(x.n, 3);
		for (unsigned k = 0; k < 3; k++)
			assert_string_equal(x.t[k], tags[i]);
		konce_group_free(g);
		sink_clear(both[i]);
	}
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* A snapshot note and its "needs a snapshot" mark (seq 0) reach the record. */
static void test_snapshot_note(void **state)
{
	(void)state;
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID_A, "snap", NULL, 0, NULL, err, sizeof(err)), 0);
	konce_cnote n = {.type = KONCE_CNOTE_SNAPSHOT, .a = 0};
	memcpy(n.gid, GID_A, 16);
	assert_int_equal(konce_store_group_note(st, &n), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID_A, &r), 0);
	assert_true(r.needs_state);
	konce_store_group_rec_free(&r);
	n.a = 7;
	n.bytes = (uint8_t *)"state";
	n.len = 5;
	assert_int_equal(konce_store_group_note(st, &n), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_get(st, GID_A, &r), 0);
	assert_false(r.needs_state);
	assert_int_equal(r.snap_seq, 7);
	assert_int_equal(r.snap_len, 5);
	assert_memory_equal(r.snapshot, "state", 5);
	konce_store_group_rec_free(&r);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* Notes the store cannot take are refused and queue nothing: an unknown type, bytes that are not
 * a value or entries, a snapshot mark that carries bytes. */
static void test_bad_notes_queue_nothing(void **state)
{
	(void)state;
	konce_store *st = open_store();
	static uint8_t junk[64];
	memset(junk, 0xee, sizeof(junk));
	konce_cnote n = {.type = (enum konce_cnote_type)99, .bytes = junk, .len = sizeof(junk)};
	memcpy(n.gid, GID_A, 16);
	assert_int_equal(konce_store_group_note(st, &n), -EINVAL);
	n.type = KONCE_CNOTE_VIEW;
	assert_int_equal(konce_store_group_note(st, &n), -EINVAL);
	n.type = KONCE_CNOTE_VOTE;
	n.c = 5;
	assert_int_equal(konce_store_group_note(st, &n), -EINVAL);
	n.type = KONCE_CNOTE_ENTRIES;
	n.a = 1;
	n.count = 2;
	assert_int_equal(konce_store_group_note(st, &n), -EINVAL);
	n.type = KONCE_CNOTE_SNAPSHOT;
	n.a = 0;
	assert_int_equal(konce_store_group_note(st, &n), -EINVAL);
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

/* A flush that fails (the database read-only) keeps the whole batch; the next writes all of it. */
static void test_failed_flush_keeps_batch(void **state)
{
	(void)state;
	static struct sink a;
	konce_store *st = open_store();
	assert_int_equal(konce_store_group_add(st, GID_A, "kept", NULL, 0, NULL, err, sizeof(err)), 0);
	core(&a, GID_A);
	run_founder(&a, "kk");
	unsigned queued = apply(st, &a);
	assert_int_equal(sqlite3_exec(st->db, "PRAGMA query_only = ON", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), -EROFS);
	assert_int_equal(konce_store_group_pending(st), queued);
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID_A, &r), 0);
	assert_int_equal(r.epoch, 0); /* nothing half-written */
	konce_store_group_rec_free(&r);
	assert_int_equal(sqlite3_exec(st->db, "PRAGMA query_only = OFF", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_get(st, GID_A, &r), 0);
	assert_int_equal(r.epoch, 1);
	assert_int_equal(r.last, 3);
	konce_store_group_rec_free(&r);
	konce_group_free(a.g);
	sink_clear(&a);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_restarts_cores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_notes_queue_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_flush_keeps_batch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
