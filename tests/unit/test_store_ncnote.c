/* test_store_ncnote.c - the node core's presence notes (node/base/ncnote.h) applied to the store with
 * konce_store_nc_note() and written by one flush: TRUSTED records a new peer with its address and a
 * handshake; SEEN and HANDSHAKE with KONCE_NC_NOTE_IF_KNOWN give a stranger no row but update a
 * known peer (its address, last_seen, handshakes and failures), stamped with the wall time given;
 * SEEN without an address touches only last_seen; an unknown type queues nothing; a full queue
 * refuses the note. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/ncnote.h"
#include "store/store.h"
#include "tests/unit/store_dir.h"

static int setup(void **state)
{
	(void)state;
	if (store_dir_make("ncnote"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return store_dir_remove();
}

static konce_nc_note note(enum konce_nc_note_type t, uint8_t who, const char *addr, bool ok, unsigned flags)
{
	konce_nc_note n = {.type = t, .ok = ok, .flags = flags};
	memset(n.pk, who, sizeof(n.pk));
	if (addr) {
		n.has_addr = true;
		assert_int_equal(konce_addr_parse(&n.addr, addr), 0);
	}
	return n;
}

static void test_notes(void **state)
{
	(void)state;
	konce_store *st;
	konce_peer_rec r;
	konce_store_addr as[4];
	konce_store_stats ss;
	konce_addr want;
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);

	konce_nc_note trusted = note(KONCE_NC_NOTE_TRUSTED, 1, "192.0.2.1:7000", false, 0);
	konce_nc_note stranger_seen = note(KONCE_NC_NOTE_SEEN, 2, "192.0.2.2:7000", false, KONCE_NC_NOTE_IF_KNOWN);
	konce_nc_note stranger_hs = note(KONCE_NC_NOTE_HANDSHAKE, 2, NULL, true, KONCE_NC_NOTE_IF_KNOWN);
	assert_int_equal(konce_store_nc_note(st, &trusted, 1000), 0);
	assert_int_equal(konce_store_nc_note(st, &stranger_seen, 1000), 0);
	assert_int_equal(konce_store_nc_note(st, &stranger_hs, 1000), 0);
	konce_nc_note bad = trusted;
	bad.type = (enum konce_nc_note_type)99;
	assert_int_equal(konce_store_nc_note(st, &bad, 1000), -EINVAL);
	konce_store_get_stats(st, &ss);
	assert_int_equal(ss.pending, 3); /* the unknown type queued nothing */
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);

	uint8_t pk1[32], pk2[32];
	memset(pk1, 1, 32);
	memset(pk2, 2, 32);
	assert_int_equal(konce_store_peer_get(st, pk2, &r), -ENOENT); /* IF_KNOWN: no row for a stranger */
	assert_int_equal(konce_store_peer_get(st, pk1, &r), 0);
	assert_int_equal(r.last_seen, 1000);
	assert_true(r.handshakes >= 1);
	uint32_t hs = r.handshakes;
	assert_int_equal(konce_store_addrs(st, pk1, as, 4), 1);
	assert_int_equal(konce_addr_parse(&want, "192.0.2.1:7000"), 0);
	assert_true(konce_addr_eq(&as[0].addr, &want));
	assert_int_equal(as[0].source, KONCE_ADDR_SEEN);

	/* the known peer: a new address, a handshake, a failure, then a SEEN without an address */
	konce_nc_note seen = note(KONCE_NC_NOTE_SEEN, 1, "198.51.100.9:7001", false, KONCE_NC_NOTE_IF_KNOWN);
	konce_nc_note ok = note(KONCE_NC_NOTE_HANDSHAKE, 1, NULL, true, KONCE_NC_NOTE_IF_KNOWN);
	konce_nc_note fail = note(KONCE_NC_NOTE_HANDSHAKE, 1, NULL, false, 0);
	konce_nc_note bare = note(KONCE_NC_NOTE_SEEN, 1, NULL, false, 0);
	assert_int_equal(konce_store_nc_note(st, &seen, 2000), 0);
	assert_int_equal(konce_store_nc_note(st, &ok, 2000), 0);
	assert_int_equal(konce_store_nc_note(st, &fail, 2001), 0);
	assert_int_equal(konce_store_nc_note(st, &bare, 3000), 0);
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_get(st, pk1, &r), 0);
	assert_int_equal(r.last_seen, 3000);
	assert_int_equal(r.handshakes, hs + 1);
	assert_int_equal(r.failures, 1);
	assert_int_equal(konce_store_addrs(st, pk1, as, 4), 2); /* no address added by the bare SEEN */
	assert_int_equal(konce_addr_parse(&want, "198.51.100.9:7001"), 0);
	assert_true(konce_addr_eq(&as[0].addr, &want)); /* newest first */
	assert_int_equal(as[0].seen_at, 2000);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);

	/* a full queue refuses the note, as the matching call does */
	assert_int_equal(konce_store_open(&st, dbpath, 1, err, sizeof(err)), 0);
	assert_int_equal(konce_store_nc_note(st, &seen, 4000), 0);
	assert_int_equal(konce_store_nc_note(st, &ok, 4000), -ENOBUFS);
	konce_store_get_stats(st, &ss);
	assert_int_equal(ss.notes_refused, 1);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
