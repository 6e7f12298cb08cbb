/* test_storew.c - the store writer (node/io/node_storew.h).  Group batches: a batch handed over is
 * durable (read back through another connection) when its done reports it, and not before; records
 * queued meanwhile wait for the next batch; a failed batch (the database locked by another
 * connection) stays queued in front of later records and is written by the retry, in order; a
 * synchronous write waits out the batch in flight and reports it first.  Calls: they run in order
 * and their dones follow in order on the loop; while one waits for a lock another connection holds,
 * the loop goes on; a waited call, and a drain, report the calls before it first; stop runs what is
 * queued. */
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
#include "node/io/node_storew.h"

static char dir[64], dbpath[128], err[512];
static const uint8_t GID[16] = "group-writer-tst";
static const uint8_t K[32] = {1};
static struct event_base *base;
static konce_store *st;
static node_storew *w;
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
	snprintf(dir, sizeof dir, "/tmp/konce-storew-XXXXXX");
	if (!mkdtemp(dir) || !(base = event_base_new()))
		return -1;
	snprintf(dbpath, sizeof dbpath, "%s/peers.db", dir);
	ndone = 0;
	if (konce_store_open(&st, dbpath, 0, err, sizeof err) ||
	    konce_store_group_add(st, GID, "g", NULL, 0, NULL, err, sizeof err) ||
	    node_storew_start(&w, base, dbpath, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	node_storew_group_on_done(w, on_done, NULL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	if (w)
		node_storew_stop(w, NULL, 0);
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
	assert_int_equal(node_storew_group_submit(w, st), 0);
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_true(node_storew_group_busy(w));
	note_entries(17, 4, 'a'); /* queued during the write: the next batch */
	assert_int_equal(node_storew_group_submit(w, st), -EBUSY);
	run_until_done(1);
	assert_int_equal(last_err, 0);
	assert_false(node_storew_group_busy(w));
	assert_int_equal(stored_last(), 16);
	assert_int_equal(konce_store_group_pending(st), 1);
	assert_int_equal(node_storew_group_submit(w, st), 0);
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
	assert_int_equal(node_storew_group_submit(w, st), 0);
	run_until_done(1); /* the writer's busy timeout (2 s) runs out */
	assert_true(last_err < 0);
	fprintf(stderr, "  (expected error: %s)\n", last_msg);
	assert_true(last_msg[0] != 0);
	assert_int_equal(node_storew_group_pending(w), 1); /* kept */
	note_entries(1, 1, 'b'); /* replaces seq 1 if, and only if, it is written after the first batch */
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	assert_int_equal(node_storew_group_submit(w, NULL), 0); /* the retry, alone */
	run_until_done(2);
	assert_int_equal(last_err, 0);
	assert_int_equal(node_storew_group_pending(w), 0);
	stored_text(1, t);
	assert_string_equal(t, "a1");
	assert_int_equal(konce_store_group_pending(st), 1);
	assert_int_equal(node_storew_group_submit(w, st), 0);
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
	assert_int_equal(node_storew_group_submit(w, st), 0);
	note_entries(9, 8, 'a');
	assert_int_equal(node_storew_group_sync(w, st, err, sizeof err), 0);
	assert_int_equal(ndone, 1); /* the batch in flight was reported first */
	assert_int_equal(last_err, 0);
	assert_false(node_storew_group_busy(w));
	assert_int_equal(konce_store_group_pending(st), 0);
	assert_int_equal(node_storew_group_pending(w), 0);
	assert_int_equal(stored_last(), 16);
	stored_text(16, t);
	assert_string_equal(t, "a16");
	event_base_loop(base, EVLOOP_NONBLOCK); /* the eventfd's late wake reports nothing twice */
	assert_int_equal(ndone, 1);
}

/* ---- calls ---- */

struct pet {
	uint8_t pk[32];
	const char *name;
	int result;
	unsigned order; /* the done's rank, from 1 */
};
static unsigned ncalls_done, ticks;
static sqlite3 *locker;

static int set_pet(konce_store *s, void *arg, char *msg, size_t msglen)
{
	struct pet *p = arg;
	return konce_store_set_petname(s, p->pk, p->name, msg, msglen);
}

static void pet_done(void *arg, int e, const char *msg)
{
	struct pet *p = arg;
	(void)msg;
	p->result = e;
	p->order = ++ncalls_done;
}

static const char *stored_pet(const uint8_t pk[32], char out[KONCE_STORE_PETNAME_MAX + 1])
{
	konce_peer_rec r;
	out[0] = 0;
	if (konce_store_peer_get(st, pk, &r) == 0)
		snprintf(out, KONCE_STORE_PETNAME_MAX + 1, "%s", r.petname);
	return out;
}

/* Every 20 ms on the loop; the 10th tick lets the lock go. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	if (++ticks == 10) {
		assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(locker);
		locker = NULL;
	} else {
		struct timeval tv = {0, 20000};
		evtimer_add((struct event *)arg, &tv);
	}
}

static void test_calls_leave_the_loop_free(void **state)
{
	char t[KONCE_STORE_PETNAME_MAX + 1];
	struct pet a = {.pk = {7}, .name = "alice"}, b = {.pk = {8}, .name = "bob"};
	(void)state;
	ncalls_done = ticks = 0;
	/* another connection holds the database: the writer's call waits in SQLite's busy handler */
	assert_int_equal(sqlite3_open(dbpath, &locker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &a), 0);
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &b), 0);
	struct event *tick = evtimer_new(base, on_tick, event_self_cbarg());
	struct timeval tv = {0, 20000};
	evtimer_add(tick, &tv);
	time_t end = time(NULL) + 10;
	while (ncalls_done < 2 && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	/* the loop ran its timer while the calls waited for the lock, and released it itself */
	assert_int_equal(ticks, 10);
	assert_null(locker);
	assert_int_equal(a.result, 0);
	assert_int_equal(b.result, 0);
	assert_int_equal(a.order, 1); /* in order */
	assert_int_equal(b.order, 2);
	assert_string_equal(stored_pet(a.pk, t), "alice");
	assert_string_equal(stored_pet(b.pk, t), "bob");
}

static void test_call_errors_and_wait(void **state)
{
	char t[KONCE_STORE_PETNAME_MAX + 1], msg[512];
	struct pet bad = {.pk = {9}, .name = ""}, a = {.pk = {9}, .name = "carol"}, c = {.pk = {10}, .name = "dave"};
	(void)state;
	ncalls_done = 0;
	char longname[KONCE_STORE_PETNAME_MAX + 8];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	bad.name = longname;
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &bad), 0);
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &a), 0);
	/* a waited call reports the calls before it first, then itself */
	assert_int_equal(node_storew_call_wait(w, set_pet, pet_done, &c, msg, sizeof msg), 0);
	assert_true(bad.result < 0);
	assert_int_equal(bad.order, 1);
	assert_int_equal(a.order, 2);
	assert_int_equal(c.order, 3);
	assert_string_equal(stored_pet(a.pk, t), "carol");
	assert_string_equal(stored_pet(c.pk, t), "dave");
	event_base_loop(base, EVLOOP_NONBLOCK); /* the eventfd's late wake reports nothing twice */
	assert_int_equal(ncalls_done, 3);
	/* a drain waits for the calls queued before it and runs their dones, here */
	struct pet d = {.pk = {12}, .name = "frank"}, e = {.pk = {13}, .name = "grace"};
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &d), 0);
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &e), 0);
	node_storew_drain(w);
	assert_int_equal(d.order, 4);
	assert_int_equal(e.order, 5);
	assert_string_equal(stored_pet(e.pk, t), "grace");
}

static void test_stop_runs_queued_calls(void **state)
{
	char t[KONCE_STORE_PETNAME_MAX + 1];
	struct pet a = {.pk = {11}, .name = "erin"};
	(void)state;
	ncalls_done = 0;
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &a), 0);
	assert_int_equal(node_storew_stop(w, err, sizeof err), 0);
	w = NULL;
	assert_int_equal(a.order, 1);
	assert_int_equal(a.result, 0);
	assert_string_equal(stored_pet(a.pk, t), "erin");
}

/* At most STOREW_CALLS_MAX calls wait: one more is refused, runs nothing, and the rest all run. */
static void test_calls_bounded(void **state)
{
	static struct pet p[STOREW_CALLS_MAX + 1];
	(void)state;
	ncalls_done = ticks = 0;
	assert_int_equal(sqlite3_open(dbpath, &locker), SQLITE_OK); /* the first call waits: the rest queue */
	assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	for (unsigned i = 0; i <= STOREW_CALLS_MAX; i++) {
		p[i] = (struct pet){.pk = {(uint8_t)i, (uint8_t)(i >> 8), 1}, .name = ""};
		assert_int_equal(node_storew_call(w, set_pet, pet_done, &p[i]), i < STOREW_CALLS_MAX ? 0 : -ENOBUFS);
	}
	struct event *tick = evtimer_new(base, on_tick, event_self_cbarg());
	struct timeval tv = {0, 20000};
	evtimer_add(tick, &tv);
	time_t end = time(NULL) + 20;
	while (ncalls_done < STOREW_CALLS_MAX && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	assert_int_equal(ncalls_done, STOREW_CALLS_MAX);
	assert_int_equal(p[STOREW_CALLS_MAX].order, 0);
	assert_int_equal(node_storew_call(w, set_pet, pet_done, &p[STOREW_CALLS_MAX]), 0); /* room again */
	while (ncalls_done < STOREW_CALLS_MAX + 1 && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(p[STOREW_CALLS_MAX].order, STOREW_CALLS_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_batch_stays_in_front, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_waits_for_the_batch_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calls_leave_the_loop_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_errors_and_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_runs_queued_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calls_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
