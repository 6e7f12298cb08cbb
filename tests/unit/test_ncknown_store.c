/* test_ncknown_store.c - the node core's known-keys set (node/core/ncknown.c) against a real
 * presence store (store/): the control answers "status" and "peers" read the set instead of
 * SQLite (docs/STORE.md), so the set must answer what the store would.
 *
 * A seeded random run makes notes on a real node core (SEEN, HANDSHAKE ok and failed, TRUSTED,
 * with and without an address, with and without KONCE_NC_NOTE_IF_KNOWN) and sets and clears
 * petnames, some of them clashing; the core's notes go to the store as the store worker hands them
 * (konce_store_nc_note, one wall second apart), and a petname goes to the store first and to the
 * core only if the store took it, as ctl_alias() does.  After every batch the store is flushed and
 * compared with the set:
 *   - the same number of keys (status's peers_known);
 *   - the keys seen, in the same order (konce_store_peers_each: last_seen DESC), then the keys
 *     never seen (last_seen 0; the store does not order these among themselves);
 *   - for each key, the same petname, handshakes, failures and newest address (konce_store_addrs);
 *   - and, after a restart (a new core loaded from the store, as node_io.c load_known() does), the
 *     same again, with the RTT and last_seen the store holds.
 * The store is flushed before each petname change: the node sets a petname at once, while its notes
 * wait up to a second for the worker, so a note that only updates a known key (IF_KNOWN) of a key
 * named within that second counts in the store and not in the set; the run keeps clear of that.
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
#include <sodium.h>

#include "node/core/nc_int.h"
#include "node/transport/identity.h"
#include "store/store.h"

enum { NKEYS = 48, NADDRS = 6, NNAMES = 6, STEPS = 600, BATCH = 25 };

struct world {
	char dir[64], path[96];
	konce_store *st;
	konce_identity *id;
	konce_nodecore *c;
	uint8_t k[NKEYS][KONCE_KEY_BYTES];
	konce_addr a[NADDRS];
	int64_t wall;
	uint64_t rng;
};

static uint32_t rnd(struct world *w, uint32_t n)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (uint32_t)(w->rng % n);
}

static void core_new(struct world *w)
{
	konce_nodecore_config cfg = {.ep = {.identity = w->id, .explicit_identity = true}, .notes = true};
	assert_int_equal(konce_nodecore_new(&w->c, &cfg, 1000), 0);
}

static int setup(void **state)
{
	static struct world w;
	char err[512];
	memset(&w, 0, sizeof w);
	w.rng = 0x9e3779b97f4a7c15ull;
	w.wall = 1700000000;
	snprintf(w.dir, sizeof w.dir, "/tmp/konce-ncknown-XXXXXX");
	if (!mkdtemp(w.dir))
		return -1;
	snprintf(w.path, sizeof w.path, "%s/peers.db", w.dir);
	if (konce_store_open(&w.st, w.path, 0, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (konce_identity_generate(&w.id, konce_env_default()))
		return -1;
	for (unsigned i = 0; i < NKEYS; i++)
		randombytes_buf(w.k[i], KONCE_KEY_BYTES);
	for (unsigned i = 0; i < NADDRS; i++) {
		char s[64];
		snprintf(s, sizeof s, i % 2 ? "[2001:db8::%u]:%u" : "192.0.2.%u:%u", i + 1, 7000 + i);
		if (konce_addr_parse(&w.a[i], s))
			return -1;
	}
	core_new(&w);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	char cmd[128];
	konce_nodecore_free(w->c);
	konce_identity_free(w->id);
	konce_store_close(w->st, NULL, 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The core's notes, into the store as the worker hands them: each a wall second after the last. */
static void hand_notes(struct world *w)
{
	konce_nc_note n;
	while (konce_nodecore_poll_note(w->c, &n))
		assert_int_equal(konce_store_nc_note(w->st, &n, ++w->wall), 0);
}

static void flush(struct world *w)
{
	char err[512];
	hand_notes(w);
	assert_int_equal(konce_store_flush(w->st, err, sizeof err), 0);
}

static void step(struct world *w)
{
	const uint8_t *pk = w->k[rnd(w, NKEYS)];
	const konce_addr *addr = rnd(w, 3) ? &w->a[rnd(w, NADDRS)] : NULL;
	unsigned flags = rnd(w, 2) ? KONCE_NC_NOTE_IF_KNOWN : 0;
	switch (rnd(w, 8)) {
	case 0:
	case 1: nc_note(w->c, KONCE_NC_NOTE_SEEN, pk, addr, false, flags); break;
	case 2: nc_note(w->c, KONCE_NC_NOTE_HANDSHAKE, pk, NULL, true, flags); break;
	case 3:
	case 4: nc_note(w->c, KONCE_NC_NOTE_HANDSHAKE, pk, NULL, false, flags); break;
	case 5: nc_note(w->c, KONCE_NC_NOTE_TRUSTED, pk, addr, true, 0); break;
	default: { /* konce alias: the store first, the core only if the store took it (ctl_alias) */
		char name[16] = "";
		char err[256];
		if (rnd(w, 4))
			snprintf(name, sizeof name, "peer-%u", rnd(w, NNAMES));
		flush(w);
		int e = konce_store_set_petname(w->st, pk, name, err, sizeof err);
		assert_true(e == 0 || e == -EEXIST);
		if (!e)
			assert_int_equal(konce_nodecore_known_name(w->c, pk, name), 0);
	}
	}
	hand_notes(w);
}

struct list {
	unsigned n;
	uint8_t pk[NKEYS][KONCE_KEY_BYTES];
	bool seen[NKEYS];
};

static int store_cb(void *ctx, const konce_peer_rec *r)
{
	struct list *l = ctx;
	assert_true(l->n < NKEYS);
	memcpy(l->pk[l->n], r->pk, KONCE_KEY_BYTES);
	l->seen[l->n++] = r->last_seen != 0;
	return 0;
}

static int core_cb(void *ctx, const konce_nc_known_info *in)
{
	struct list *l = ctx;
	assert_true(l->n < NKEYS);
	memcpy(l->pk[l->n], in->pk, KONCE_KEY_BYTES);
	l->seen[l->n++] = in->seen_noted || in->last_seen;
	return 0;
}

static bool listed(const struct list *l, const uint8_t pk[KONCE_KEY_BYTES])
{
	for (unsigned i = 0; i < l->n; i++)
		if (!memcmp(l->pk[i], pk, KONCE_KEY_BYTES))
			return true;
	return false;
}

/* One key: what the store holds of it, and what the set says. */
static void compare_key(struct world *w, const uint8_t pk[KONCE_KEY_BYTES], bool loaded)
{
	konce_peer_rec r;
	konce_nc_known_info in;
	konce_store_addr sa;
	assert_int_equal(konce_store_peer_get(w->st, pk, &r), 0);
	assert_int_equal(konce_nodecore_known_info(w->c, pk, &in), 0);
	assert_string_equal(in.petname, r.petname);
	assert_int_equal(in.handshakes, r.handshakes);
	assert_int_equal(in.failures, r.failures);
	int na = konce_store_addrs(w->st, pk, &sa, 1);
	assert_true(na >= 0);
	assert_int_equal(in.has_addr, na == 1);
	if (na == 1)
		assert_true(konce_addr_eq(&in.addr, &sa.addr));
	if (loaded) { /* what only the load brings: the store's own figures */
		assert_int_equal(in.rtt_us, r.rtt_us);
		assert_int_equal(in.last_seen, r.last_seen);
		assert_false(in.seen_noted);
	}
}

static void compare(struct world *w, bool loaded)
{
	struct list s = {0}, c = {0};
	flush(w);
	assert_int_equal(konce_store_peer_count(w->st), konce_nodecore_known_count(w->c));
	int ns = konce_store_peers_each(w->st, 0, store_cb, &s);
	size_t nc = konce_nodecore_known_each(w->c, 0, core_cb, &c);
	assert_int_equal(ns, s.n);
	assert_int_equal(nc, c.n);
	assert_int_equal(s.n, c.n);
	for (unsigned i = 0; i < s.n; i++) {
		assert_int_equal(s.seen[i], c.seen[i]);
		if (s.seen[i]) /* the keys seen: in the same order */
			assert_memory_equal(s.pk[i], c.pk[i], KONCE_KEY_BYTES);
		else /* the keys never seen: the same ones */
			assert_true(listed(&c, s.pk[i]));
		compare_key(w, s.pk[i], loaded);
	}
	/* a limit takes the first of that order */
	struct list c5 = {0};
	assert_int_equal(konce_nodecore_known_each(w->c, 5, core_cb, &c5), s.n < 5 ? s.n : 5);
	for (unsigned i = 0; i < c5.n; i++)
		assert_memory_equal(c5.pk[i], c.pk[i], KONCE_KEY_BYTES);
}

/* As node_io.c load_known(): every stored key, its newest address, petname and counts. */
static int load_cb(void *ctx, const konce_peer_rec *r, const konce_store_addr *newest)
{
	struct world *w = ctx;
	assert_int_equal(konce_nodecore_known_load(w->c, r->pk, newest ? &newest->addr : NULL, r->petname), 0);
	assert_int_equal(
		konce_nodecore_known_load_counts(w->c, r->pk, r->handshakes, r->failures, r->last_seen, r->rtt_us), 0);
	return 0;
}

static void test_set_answers_as_store(void **state)
{
	struct world *w = *state;
	for (unsigned i = 1; i <= STEPS; i++) {
		step(w);
		if (i % BATCH == 0)
			compare(w, false);
	}
	assert_true(konce_nodecore_known_count(w->c) > NKEYS / 2); /* the run did reach most keys */

	/* a restart: RTTs in the store (written by an older node: this one notes none), then a new
	 * core loaded from it answers as the store does, and keeps doing so */
	for (unsigned i = 0; i < NKEYS; i += 3)
		if (konce_store_peer_get(w->st, w->k[i], &(konce_peer_rec){0}) == 0)
			assert_int_equal(konce_store_note_seen(w->st, w->k[i], NULL, KONCE_ADDR_SEEN, ++w->wall, 1000 + i), 0);
	flush(w);
	konce_nodecore_free(w->c);
	core_new(w);
	assert_true(konce_store_peers_each_newest(w->st, 0, load_cb, w) > 0);
	compare(w, true);
	for (unsigned i = 1; i <= STEPS / 2; i++) {
		step(w);
		if (i % BATCH == 0)
			compare(w, false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_answers_as_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
