/* test_store_newest.c - konce_store_peers_each_newest(), the one-query load of every key with its
 * newest address (node_io.c load_known), against the per-key reads it replaces.
 *
 * A store holds keys with zero to six addresses each (some IPv4, some IPv6, some sharing an IP on
 * other ports), written in a scrambled order, with ties in seen_at between a key's newest addresses,
 * an address seen again later (and once with an older time, which max() ignores), keys known only by
 * a petname or a trust signal (no address), and the per-peer address cap trimming some.  Then:
 *   - the walk visits the same keys in the same order as konce_store_peers_each, with equal records;
 *   - each key's address is the first konce_store_addrs returns for it, or NULL when that returns 0;
 *   - limit and a callback that stops behave as in konce_store_peers_each;
 *   - the same holds on a second connection opened after the writes (as the node's loop thread).
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

#include "store/store.h"

enum { KEYS = 60, ADDRS_CAP = 5 };

static char dir[64];
static char dbpath[128];
static char err[512];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/konce-newest-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/peers.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void key(uint8_t pk[32], unsigned n)
{
	memset(pk, 0, 32);
	pk[0] = 0x4e;
	pk[30] = (uint8_t)(n >> 8);
	pk[31] = (uint8_t)n;
}

/* Address j of key i: IPv6 for odd i; j >= 3 shares the IP of j - 3 on another port. */
static void addr_of(konce_addr *a, unsigned i, unsigned j)
{
	char text[80];
	unsigned host = j % 3;
	if (i & 1)
		snprintf(text, sizeof(text), "[2001:db8:%x::%x]:%u", i, host + 1, 7000 + j);
	else
		snprintf(text, sizeof(text), "10.%u.0.%u:%u", i, host + 1, 7000 + j);
	assert_int_equal(konce_addr_parse(a, text), 0);
}

static unsigned naddrs(unsigned i) { return i % 7; } /* 0 to 6: keys 0, 7, 14, ... have none */

/* When address j of key i is seen: distinct per key (the walk's order is then defined), scrambled
 * within it; for every third key addresses 0, 1 and 3 share the newest time (a tie). */
static int64_t seen_at(unsigned i, unsigned j)
{
	int64_t t = 100000 + (int64_t)((i * 37u) % KEYS) * 1000 + (int64_t)((j * 5u + i) % 7u) * 10;
	if (i % 3 == 0 && (j < 2 || j == 3)) /* 3 has the IP of 0: the port decides */
		t = 100000 + (int64_t)((i * 37u) % KEYS) * 1000 + 90;
	return t;
}

static void fill(konce_store *st)
{
	uint8_t pk[32];
	konce_addr a;
	char name[16];
	konce_store_set_limits(st, 0, ADDRS_CAP);
	/* addresses in a scrambled order over keys and addresses */
	for (unsigned k = 0; k < KEYS * 6; k++) {
		unsigned idx = (k * 7u) % (KEYS * 6), i = idx % KEYS, j = idx / KEYS; /* 7 is prime to 360 */
		if (j >= naddrs(i))
			continue;
		key(pk, i);
		addr_of(&a, i, j);
		int src = j == 1 ? KONCE_ADDR_RENDEZVOUS : KONCE_ADDR_SEEN;
		assert_int_equal(konce_store_note_seen(st, pk, &a, src, seen_at(i, j), 1000 + i), 0);
	}
	/* an address seen again later becomes the newest; an older sighting changes nothing */
	key(pk, 4);
	addr_of(&a, 4, 2);
	assert_int_equal(konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, seen_at(4, 0) + 95, 0), 0);
	key(pk, 5);
	addr_of(&a, 5, 0);
	assert_int_equal(konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, 1, 0), 0);
	/* keys without an address: seen without one, trusted without one, named only */
	for (unsigned i = 0; i < KEYS; i += 7) {
		key(pk, i);
		if (i % 3 == 0)
			assert_int_equal(konce_store_note_seen(st, pk, NULL, 0, seen_at(i, 0), 0), 0);
		else
			assert_int_equal(konce_store_note_trusted(st, pk, NULL, seen_at(i, 0)), 0);
	}
	assert_int_equal(konce_store_flush(st, err, sizeof(err)), 0);
	key(pk, KEYS); /* never seen: last_seen 0, last in the walk */
	assert_int_equal(konce_store_set_petname(st, pk, "named", err, sizeof(err)), 0);
	for (unsigned i = 1; i < KEYS; i += 11) {
		key(pk, i);
		snprintf(name, sizeof(name), "p%u", i);
		assert_int_equal(konce_store_set_petname(st, pk, name, err, sizeof(err)), 0);
	}
}

struct walk {
	konce_store *st;
	konce_peer_rec recs[KEYS + 1];
	int n, with_addr, without, stop_after;
};

static int plain_cb(void *ctx, const konce_peer_rec *r)
{
	struct walk *w = ctx;
	assert_true(w->n < KEYS + 1);
	w->recs[w->n++] = *r;
	return 0;
}

static int newest_cb(void *ctx, const konce_peer_rec *r, const konce_store_addr *newest)
{
	struct walk *w = ctx;
	konce_store_addr all[8];
	assert_true(w->n < KEYS + 1);
	/* the same key and record as the plain walk at this position */
	assert_memory_equal(r, &w->recs[w->n], sizeof(*r));
	int na = konce_store_addrs(w->st, r->pk, all, 8);
	assert_true(na >= 0);
	if (na == 0) {
		assert_null(newest);
		w->without++;
	} else {
		assert_non_null(newest);
		assert_true(konce_addr_eq(&newest->addr, &all[0].addr));
		assert_int_equal(newest->source, all[0].source);
		assert_int_equal(newest->seen_at, all[0].seen_at);
		for (int k = 1; k < na; k++)
			assert_true(all[k].seen_at <= newest->seen_at);
		w->with_addr++;
	}
	w->n++;
	return w->stop_after && w->n == w->stop_after;
}

static void check_walk(konce_store *st)
{
	struct walk *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->st = st;
	assert_int_equal(konce_store_peers_each(st, 0, plain_cb, w), KEYS + 1);
	w->n = 0;
	assert_int_equal(konce_store_peers_each_newest(st, 0, newest_cb, w), KEYS + 1);
	assert_int_equal(w->n, KEYS + 1);
	/* keys 0, 7, ..., 56 and the named-only key have no address; every other key has */
	assert_int_equal(w->without, (KEYS + 6) / 7 + 1);
	assert_int_equal(w->with_addr, KEYS + 1 - w->without);
	assert_int_equal(w->recs[KEYS].last_seen, 0);
	assert_string_equal(w->recs[KEYS].petname, "named");

	/* limit and stop, as konce_store_peers_each */
	w->n = w->with_addr = w->without = 0;
	assert_int_equal(konce_store_peers_each_newest(st, 9, newest_cb, w), 9);
	w->n = w->with_addr = w->without = 0;
	w->stop_after = 4;
	assert_int_equal(konce_store_peers_each_newest(st, 0, newest_cb, w), 4);
	free(w);
}

static void test_newest_matches_addrs(void **state)
{
	(void)state;
	konce_store *st, *st2;
	uint8_t pk[32];
	konce_store_addr a[8];
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	fill(st);
	/* the data has what the walk must get right */
	key(pk, 3); /* a tie: two addresses at the newest time; ip then port decides */
	assert_int_equal(konce_store_addrs(st, pk, a, 8), 3);
	assert_int_equal(a[0].seen_at, a[1].seen_at);
	key(pk, 27); /* a tie on the same IP too (addresses 0 and 3) */
	assert_int_equal(konce_store_addrs(st, pk, a, 8), ADDRS_CAP);
	assert_int_equal(a[0].seen_at, a[2].seen_at);
	assert_true(memcmp(a[0].addr.ip, a[1].addr.ip, 16) == 0 && a[0].addr.port < a[1].addr.port);
	key(pk, 4); /* re-seen later: address 2 is the newest */
	assert_int_equal(konce_store_addrs(st, pk, a, 8), 4);
	konce_addr want;
	addr_of(&want, 4, 2);
	assert_true(konce_addr_eq(&a[0].addr, &want));
	key(pk, 6); /* capped at ADDRS_CAP */
	assert_int_equal(konce_store_addrs(st, pk, a, 8), ADDRS_CAP);
	check_walk(st);

	/* a second connection, opened after the writes, as the node's loop thread at start */
	assert_int_equal(konce_store_open(&st2, dbpath, 0, err, sizeof(err)), 0);
	check_walk(st2);
	assert_int_equal(konce_store_close(st2, err, sizeof(err)), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

static int never_cb(void *ctx, const konce_peer_rec *r, const konce_store_addr *newest)
{
	(void)ctx, (void)r, (void)newest;
	fail_msg("an empty store has no key to visit");
	return 1;
}

static void test_newest_empty(void **state)
{
	(void)state;
	konce_store *st;
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peers_each_newest(st, 0, never_cb, NULL), 0);
	assert_int_equal(konce_store_close(st, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_newest_matches_addrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_empty, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
