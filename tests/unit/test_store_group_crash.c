/* test_store_group_crash.c - kill -9 while a member's group records are being flushed, then
 * restart: the database passes PRAGMA integrity_check, every flush that returned 0 (after which
 * the core would have acked) is there whole, no flush is there in part, and the state handed back
 * to the application (konce_store_group_replay) is exactly the delivered entries.
 *
 * A child process queues, per batch b, the records one core call might make: 16 entries at
 * 16b+1.., a vote (promised = b + 1) and a delivery point (16b), flushes them, and reports b on a
 * pipe once the flush returned 0.  The parent kills it with SIGKILL at a varying point, reads every
 * report that made it into the pipe, and checks the store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/cwire.h"
#include "store/store.h"
#include "tests/unit/crash_rig.h"

enum { PER = 16, ROUNDS = 5 };

static const uint8_t GID[16] = "crash-test-group";
static const uint8_t ORIGIN[8] = "origin!!";

static size_t entry_bytes(uint64_t seq, uint8_t *out, size_t cap)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "entry %llu", (unsigned long long)seq);
	konce_cw_entry e = {.kind = KONCE_CW_E_APP, .origin = ORIGIN, .nonce = seq, .len = (uint16_t)n,
			    .data = (const uint8_t *)text};
	return konce_cw_entry_encode(&e, out, cap);
}

static void writer(const char *path, uint64_t first_batch, int fd)
{
	char err[512];
	static uint8_t buf[PER * 64];
	konce_store *st;
	if (konce_store_open(&st, path, 0, err, sizeof(err))) {
		fprintf(stderr, "writer: %s\n", err);
		_exit(1);
	}
	for (uint64_t b = first_batch;; b++) {
		size_t off = 0;
		for (unsigned i = 0; i < PER; i++)
			off += entry_bytes(b * PER + 1 + i, buf + off, sizeof(buf) - off);
		if (konce_store_group_note_entries(st, GID, b * PER + 1, PER, buf, off) ||
		    konce_store_group_note_vote(st, GID, 1, b + 1, 0, NULL, 0) ||
		    konce_store_group_note_delivered(st, GID, b * PER))
			_exit(2);
		if (konce_store_group_flush(st, err, sizeof(err))) {
			fprintf(stderr, "writer: %s\n", err);
			_exit(3);
		}
		if (write(fd, &b, sizeof(b)) != sizeof(b))
			_exit(4);
	}
}

struct check {
	uint64_t next, bad;
};

static int check_entry(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	struct check *c = ctx;
	uint8_t want[64];
	size_t n = entry_bytes(seq, want, sizeof(want));
	if (seq != c->next || len != n || memcmp(e, want, n))
		c->bad = seq;
	c->next = seq + 1;
	return 0;
}

static int no_snapshot(void *ctx, uint64_t seq, const uint8_t *d, size_t len)
{
	(void)ctx, (void)seq, (void)d, (void)len;
	fail_msg("a founder's replay has no snapshot");
	return 1;
}

static void test_kill9_during_group_flushes(void **state)
{
	(void)state;
	char dir[] = "/tmp/konce-gcrash-XXXXXX", path[128], err[512], buf[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/peers.db", dir);
	konce_store *st;
	assert_int_equal(konce_store_open(&st, path, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_group_add(st, GID, "crash", NULL, 0, NULL, err, sizeof(err)), 0);
	/* a founder's view, so that a restart hands the application its delivered log back */
	static const uint8_t self[32] = "the founding member's key......";
	static const uint8_t zero[32];
	uint8_t vb[KONCE_CW_MAX_VALUE];
	konce_cw_value v = {.epoch = 1, .n = 1, .keys = self, .used_invite = zero, .commit = 0, .first_seq = 1};
	size_t vl = konce_cw_value_encode(&v, vb, sizeof(vb));
	assert_int_equal(konce_store_group_note_view(st, GID, vb, vl), 0);
	assert_int_equal(konce_store_group_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
	uint64_t next_batch = 0;

	for (int round = 0; round < ROUNDS; round++) {
		uint64_t last = crash_round(writer, path, next_batch, 3 + round * 4, (useconds_t)(round * 700));

		/* restart */
		crash_integrity_ok(path);
		assert_int_equal(konce_store_open(&st, path, 0, err, sizeof(err)), 0);
		konce_store_group_rec r;
		assert_int_equal(konce_store_group_get(st, GID, &r), 0);
		/* every flushed batch, and at most one more that landed before the kill, whole */
		if (r.last % PER)
			fail_msg("round %d: a partial flush is visible (log ends at %llu)", round, (unsigned long long)r.last);
		uint64_t batches = r.last / PER;
		assert_true(batches >= last + 1 && batches <= last + 2);
		assert_int_equal(r.promised, batches);
		assert_int_equal(r.delivered, (batches - 1) * PER);
		struct check c = {.next = 1};
		assert_int_equal(konce_store_group_entries(st, GID, 1, UINT64_MAX, check_entry, &c), (int)r.last);
		if (c.bad)
			fail_msg("round %d: entry %llu is wrong or missing", round, (unsigned long long)c.bad);
		/* the application's state after the restart: exactly the delivered entries, in order */
		struct check rc = {.next = 1};
		assert_int_equal(konce_store_group_replay(st, GID, UINT64_MAX, no_snapshot, check_entry, &rc),
				 (int)r.delivered);
		assert_int_equal(rc.bad, 0);
		assert_int_equal(rc.next, r.delivered + 1);
		print_message("round %d: %llu flushes acknowledged, %llu batches present, integrity ok\n", round,
			      (unsigned long long)last + 1, (unsigned long long)batches);
		konce_store_group_rec_free(&r);
		assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
		next_batch = batches;
	}
	snprintf(buf, sizeof(buf), "rm -rf '%s'", dir);
	assert_int_equal(system(buf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_during_group_flushes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
