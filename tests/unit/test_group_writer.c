/* test_group_writer.c - the group records' writer thread (node/io/group_writer.h): a batch handed
 * over is durable (read back through another connection) when `done` reports it, and not before;
 * records queued meanwhile wait for the next batch; a failed batch (the database locked by another
 * connection) stays queued in front of later records and is written by the retry, in order; a
 * synchronous write waits out the batch in flight and reports it first. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "consensus/cwire.h"
#include "node/io/group_writer.h"

static char dir[64], dbpath[128], err[512];
static const uint8_t GID[16] = "group-writer-tst";
static const uint8_t K[32] = {1};
static struct event_base *base;
static konce_store *st;
static group_writer *w;
static unsigned ndone;
static int last_err;
static char last_msg[512];

static void on_done(void *ctx, int e, const char *msg)
{
	(void)ctx;
	ndone++;
	last_err = e;
	snprintf(last_msg, sizeof last_msg, "%s", msg);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/konce-gwriter-XXXXXX");
	if (!mkdtemp(dir) || !(base = event_base_new()))
		return -1;
	snprintf(dbpath, sizeof dbpath, "%s/peers.db", dir);
	ndone = 0;
	if (konce_store_open(&st, dbpath, 0, err, sizeof err) ||
	    konce_store_group_add(st, GID, "g", NULL, 0, NULL, err, sizeof err) ||
	    group_writer_start(&w, base, dbpath, on_done, NULL, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	group_writer_stop(w);
	konce_store_close(st, NULL, 0);
	event_base_free(base);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

/* Queues entries first.. (count) whose texts are <tag><seq>. */
static void note_entries(uint64_t first, unsigned count, char tag)
{
	uint8_t b[4096];
	char text[16][16];
	size_t off = 0;
	for (unsigned i = 0; i < count; i++) {
		snprintf(text[i], sizeof text[i], "%c%llu", tag, (unsigned long long)(first + i));
		konce_cw_entry e = {.kind = KONCE_CW_E_APP, .origin = K, .nonce = first + i,
				    .len = (uint16_t)strlen(text[i]), .data = (const uint8_t *)text[i]};
		size_t n = konce_cw_entry_encode(&e, b + off, sizeof b - off);
		assert_true(n > 0);
		off += n;
	}
	assert_int_equal(konce_store_group_note_entries(st, GID, first, count, b, off), 0);
}

static uint64_t stored_last(void)
{
	konce_store_group_rec r;
	assert_int_equal(konce_store_group_get(st, GID, &r), 0);
	uint64_t last = r.last;
	konce_store_group_rec_free(&r);
	return last;
}

static int take_text(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	konce_cw_entry x;
	(void)seq;
	size_t used;
	if (konce_cw_entry_parse(&x, e, len, &used) != KONCE_CW_OK || used != len || x.len >= 16)
		return 1;
	memcpy(ctx, x.data, x.len);
	((char *)ctx)[x.len] = 0;
	return 1;
}

/* The text of the stored entry at seq. */
static void stored_text(uint64_t seq, char out[16])
{
	out[0] = 0;
	assert_int_equal(konce_store_group_entries(st, GID, seq, seq, take_text, out), 1);
}

static void run_until_done(unsigned n)
{
	time_t end = time(NULL) + 10;
	while (ndone < n && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(ndone, n);
}

static void test_batches(void **state)
{
	char t[16];
	(void)state;
	note_entries(1, 16, 'a');
	assert_int_equal(group_writer_submit(w, st), 0);
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_true(group_writer_busy(w));
	note_entries(17, 4, 'a'); /* queued during the write: the next batch */
	assert_int_equal(group_writer_submit(w, st), -EBUSY);
	run_until_done(1);
	assert_int_equal(last_err, 0);
	assert_false(group_writer_busy(w));
	assert_int_equal(stored_last(), 16);
	assert_int_equal(konce_store_group_pending(st), 1);
	assert_int_equal(group_writer_submit(w, st), 0);
	run_until_done(2);
	assert_int_equal(last_err, 0);
	assert_int_equal(stored_last(), 20);
	stored_text(20, t);
	assert_string_equal(t, "a20");
}

static void test_failed_batch_stays_in_front(void **state)
{
	char t[16];
	sqlite3 *lock;
	(void)state;
	assert_int_equal(sqlite3_open(dbpath, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	note_entries(1, 2, 'a');
	assert_int_equal(group_writer_submit(w, st), 0);
	run_until_done(1); /* the writer's busy timeout (2 s) runs out */
	assert_true(last_err < 0);
	fprintf(stderr, "  (expected error: %s)\n", last_msg);
	assert_true(last_msg[0] != 0);
	assert_int_equal(group_writer_pending(w), 1); /* kept */
	note_entries(1, 1, 'b'); /* replaces seq 1 if, and only if, it is written after the first batch */
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	assert_int_equal(group_writer_submit(w, NULL), 0); /* the retry, alone */
	run_until_done(2);
	assert_int_equal(last_err, 0);
	assert_int_equal(group_writer_pending(w), 0);
	stored_text(1, t);
	assert_string_equal(t, "a1");
	assert_int_equal(konce_store_group_pending(st), 1);
	assert_int_equal(group_writer_submit(w, st), 0);
	run_until_done(3);
	assert_int_equal(last_err, 0);
	stored_text(1, t);
	assert_string_equal(t, "b1");
	assert_int_equal(stored_last(), 1); /* entries from seq 1 on were replaced */
}

static void test_sync_waits_for_the_batch_in_flight(void **state)
{
	char t[16];
	(void)state;
	note_entries(1, 8, 'a');
	assert_int_equal(group_writer_submit(w, st), 0);
	note_entries(9, 8, 'a');
	assert_int_equal(group_writer_sync(w, st, err, sizeof err), 0);
	assert_int_equal(ndone, 1); /* the batch in flight was reported first */
	assert_int_equal(last_err, 0);
	assert_false(group_writer_busy(w));
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_int_equal(group_writer_pending(w), 0);
	assert_int_equal(stored_last(), 16);
	stored_text(16, t);
	assert_string_equal(t, "a16");
	event_base_loop(base, EVLOOP_NONBLOCK); /* the eventfd's late wake reports nothing twice */
	assert_int_equal(ndone, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_batch_stays_in_front, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_waits_for_the_batch_in_flight, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
