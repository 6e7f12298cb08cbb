/* test_ncknown.c - the node core's known-keys set (node/core/ncknown.c), on a real node core with
 * no socket:
 *
 *   - a key loaded with a petname answers it; one loaded without, or never loaded, answers -ENOENT;
 *   - konce_nodecore_known_name() renames, names an unknown key (making it known and named), and
 *     clears (the key stays known with its address, no longer named); clearing an unknown key
 *     makes it known, unnamed, as the store's konce_store_set_petname() makes its row;
 *   - a petname of KONCE_NC_PETNAME_MAX bytes is taken, one byte more is refused and changes nothing;
 *   - at known_max keys a new key evicts the least recently seen key without a petname: named keys
 *     keep their names, a key whose name was cleared may go, and when every key is named a new one
 *     is refused (-ENOMEM);
 *   - konce_nodecore_known_by_name() finds the key of a petname through every change above (load,
 *     rename, clear, eviction), and with many named keys sharing the name chains;
 *   - konce_nodecore_known_info() answers the petname, the counts and the RTT loaded with a key;
 *   - konce_nodecore_known_each() walks the keys most recently seen first: loads in their order, a
 *     note that makes a key seen (SEEN, TRUSTED, a completed handshake) moves it first, a failed
 *     handshake or a petname does not, and a key they make known joins last; it stops at limit or
 *     when the callback asks, and eviction takes the last unnamed key of that walk.
 * tests/unit/test_ncknown_store.c checks the same set against a real presence store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/nc_int.h"
#include "node/transport/identity.h"

struct fix {
	konce_identity *id;
	konce_nodecore *c;
};

static void fix_new(struct fix *f, unsigned known_max)
{
	assert_int_equal(konce_identity_generate(&f->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = f->id, .explicit_identity = true}, .known_max = known_max};
	assert_int_equal(konce_nodecore_new(&f->c, &cfg, 1000), 0);
}

static void fix_free(struct fix *f)
{
	konce_nodecore_free(f->c);
	konce_identity_free(f->id);
}

/* Key number i: distinct for every i. */
static void key(uint8_t pk[KONCE_KEY_BYTES], unsigned i)
{
	memset(pk, 0x5a, KONCE_KEY_BYTES);
	pk[0] = (uint8_t)i;
	pk[1] = (uint8_t)(i >> 8);
}

/* The key named `name`, which must be `want` (NULL: no key has that name). */
static void assert_named(const konce_nodecore *c, const char *name, const uint8_t *want)
{
	uint8_t pk[KONCE_KEY_BYTES];
	int e = konce_nodecore_known_by_name(c, name, pk);
	if (!want) {
		assert_int_equal(e, -ENOENT);
		return;
	}
	assert_int_equal(e, 0);
	assert_memory_equal(pk, want, KONCE_KEY_BYTES);
}

/* pk's petname, or "-" for -ENOENT. */
static const char *name_of(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	static char name[KONCE_NC_PETNAME_MAX + 1];
	int e = konce_nodecore_known_petname(c, pk, name);
	if (e) {
		assert_int_equal(e, -ENOENT);
		return "-";
	}
	return name;
}

static void test_lookup_and_changes(void **state)
{
	(void)state;
	struct fix f;
	uint8_t alice[KONCE_KEY_BYTES], bob[KONCE_KEY_BYTES], carol[KONCE_KEY_BYTES], dave[KONCE_KEY_BYTES];
	konce_addr a, got;
	key(alice, 1);
	key(bob, 2);
	key(carol, 3);
	key(dave, 4);
	assert_int_equal(konce_addr_parse(&a, "192.0.2.1:7807"), 0);
	fix_new(&f, 0);

	/* loaded at start: with and without a petname */
	assert_int_equal(konce_nodecore_known_load(f.c, alice, &a, "alice"), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, bob, NULL, ""), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, dave, NULL, NULL), 0);
	assert_string_equal(name_of(f.c, alice), "alice");
	assert_string_equal(name_of(f.c, bob), "-");
	assert_string_equal(name_of(f.c, dave), "-");
	assert_string_equal(name_of(f.c, carol), "-");
	assert_int_equal(konce_nodecore_known(f.c, alice), KONCE_NC_KNOWN | KONCE_NC_NAMED);
	assert_int_equal(konce_nodecore_known(f.c, bob), KONCE_NC_KNOWN);
	assert_int_equal(konce_nodecore_known_count(f.c), 3);
	assert_named(f.c, "alice", alice);
	assert_named(f.c, "bob", NULL);
	assert_named(f.c, "", NULL);
	assert_named(f.c, NULL, NULL);
	assert_named(f.c, "alic", NULL);

	/* `konce alias`: rename, name a known key, name an unknown one */
	assert_int_equal(konce_nodecore_known_name(f.c, alice, "alicia"), 0);
	assert_string_equal(name_of(f.c, alice), "alicia");
	assert_int_equal(konce_nodecore_known_name(f.c, bob, "bob"), 0);
	assert_string_equal(name_of(f.c, bob), "bob");
	assert_int_equal(konce_nodecore_known_name(f.c, carol, "carol"), 0);
	assert_string_equal(name_of(f.c, carol), "carol");
	assert_int_equal(konce_nodecore_known(f.c, carol), KONCE_NC_KNOWN | KONCE_NC_NAMED);
	assert_int_equal(konce_nodecore_known_count(f.c), 4);
	assert_named(f.c, "alice", NULL); /* renamed: the old name names nobody */
	assert_named(f.c, "alicia", alice);
	assert_named(f.c, "bob", bob);
	assert_named(f.c, "carol", carol);

	/* cleared: still known, address kept, no longer named */
	assert_int_equal(konce_nodecore_known_name(f.c, alice, ""), 0);
	assert_string_equal(name_of(f.c, alice), "-");
	assert_int_equal(konce_nodecore_known(f.c, alice), KONCE_NC_KNOWN);
	assert_int_equal(konce_nodecore_known_addr(f.c, alice, &got), 0);
	assert_true(konce_addr_eq(&got, &a));
	assert_int_equal(konce_nodecore_known_name(f.c, bob, NULL), 0);
	assert_string_equal(name_of(f.c, bob), "-");
	assert_named(f.c, "alicia", NULL);
	assert_named(f.c, "bob", NULL);
	assert_named(f.c, "carol", carol);
	/* a name cleared from one key may name another */
	assert_int_equal(konce_nodecore_known_name(f.c, dave, "alicia"), 0);
	assert_named(f.c, "alicia", dave);
	/* clearing the name of a key the set does not hold: the store makes its row, so it is known */
	uint8_t stranger[KONCE_KEY_BYTES], ghost[KONCE_KEY_BYTES];
	key(stranger, 99);
	key(ghost, 98);
	assert_int_equal(konce_nodecore_known_name(f.c, ghost, ""), 0);
	assert_int_equal(konce_nodecore_known(f.c, ghost), KONCE_NC_KNOWN);
	assert_int_equal(konce_nodecore_known_addr(f.c, ghost, &got), -ENOENT);
	assert_int_equal(konce_nodecore_known_count(f.c), 5);

	/* the longest petname, and one byte more */
	char longest[KONCE_NC_PETNAME_MAX + 2];
	memset(longest, 'x', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(konce_nodecore_known_name(f.c, carol, longest), -EINVAL);
	assert_int_equal(konce_nodecore_known_load(f.c, stranger, NULL, longest), -EINVAL);
	assert_int_equal(konce_nodecore_known(f.c, stranger), 0);
	assert_string_equal(name_of(f.c, carol), "carol");
	assert_named(f.c, longest, NULL);
	longest[KONCE_NC_PETNAME_MAX] = '\0';
	assert_int_equal(konce_nodecore_known_name(f.c, carol, longest), 0);
	assert_string_equal(name_of(f.c, carol), longest);
	assert_named(f.c, longest, carol);
	assert_named(f.c, "carol", NULL);
	assert_int_equal(konce_nodecore_known_petname(NULL, carol, longest), -ENOENT);
	fix_free(&f);
}

static void test_named_keys_stay(void **state)
{
	(void)state;
	enum { MAX = 4 };
	struct fix f;
	uint8_t k[16][KONCE_KEY_BYTES];
	for (unsigned i = 0; i < 16; i++)
		key(k[i], i + 1);
	fix_new(&f, MAX);
	/* loads come most recently seen first: k0 (named) is the newest, k3 the oldest */
	assert_int_equal(konce_nodecore_known_load(f.c, k[0], NULL, "zero"), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, k[1], NULL, NULL), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, k[2], NULL, NULL), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, k[3], NULL, "three"), 0);
	/* newcomers, named then cleared, never seen: the first pushes out k2 (the least recently seen
	 * unnamed key) and joins last; each later one pushes out the one before it, as the store's
	 * flush evicts a row whose last_seen is 0 first */
	for (unsigned i = 4; i < 10; i++) {
		assert_int_equal(konce_nodecore_known_name(f.c, k[i], "for a while"), 0);
		assert_int_equal(konce_nodecore_known_name(f.c, k[i], i % 2 ? "" : NULL), 0);
		assert_int_equal(konce_nodecore_known_count(f.c), MAX);
	}
	assert_string_equal(name_of(f.c, k[0]), "zero");
	assert_string_equal(name_of(f.c, k[3]), "three");
	assert_int_equal(konce_nodecore_known(f.c, k[1]), KONCE_NC_KNOWN);
	assert_int_equal(konce_nodecore_known(f.c, k[2]), 0);
	for (unsigned i = 4; i < 9; i++)
		assert_int_equal(konce_nodecore_known(f.c, k[i]), 0);
	assert_int_equal(konce_nodecore_known(f.c, k[9]), KONCE_NC_KNOWN);

	/* named newcomers fill the set; then nothing more fits */
	assert_int_equal(konce_nodecore_known_name(f.c, k[10], "ten"), 0);
	assert_int_equal(konce_nodecore_known_name(f.c, k[11], "eleven"), 0);
	assert_int_equal(konce_nodecore_known_count(f.c), MAX);
	assert_int_equal(konce_nodecore_known_name(f.c, k[12], "twelve"), -ENOMEM);
	assert_int_equal(konce_nodecore_known(f.c, k[12]), 0);
	assert_string_equal(name_of(f.c, k[10]), "ten");
	assert_string_equal(name_of(f.c, k[11]), "eleven");

	/* a cleared name makes its key evictable again: the next newcomer takes its place */
	assert_int_equal(konce_nodecore_known_name(f.c, k[3], NULL), 0);
	assert_int_equal(konce_nodecore_known_name(f.c, k[12], "twelve"), 0);
	assert_int_equal(konce_nodecore_known(f.c, k[3]), 0);
	assert_string_equal(name_of(f.c, k[12]), "twelve");
	assert_named(f.c, "three", NULL);
	assert_named(f.c, "for a while", NULL);
	assert_named(f.c, "twelve", k[12]);
	assert_named(f.c, "zero", k[0]);
	assert_string_equal(name_of(f.c, k[0]), "zero");
	assert_int_equal(konce_nodecore_known_count(f.c), MAX);
	fix_free(&f);
}

/* More named keys than name chains (known_max 64: 16 chains): every name finds its key, through
 * renames and clears; and the counts loaded with a key come back with its petname. */
static void test_many_names_and_counts(void **state)
{
	(void)state;
	enum { N = 48 };
	struct fix f;
	uint8_t k[N][KONCE_KEY_BYTES];
	char nm[32];
	fix_new(&f, 64);
	for (unsigned i = 0; i < N; i++) {
		key(k[i], i + 1);
		snprintf(nm, sizeof(nm), "peer-%u", i);
		assert_int_equal(konce_nodecore_known_load(f.c, k[i], NULL, nm), 0);
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(nm, sizeof(nm), "peer-%u", i);
		assert_named(f.c, nm, k[i]);
	}
	for (unsigned i = 0; i < N; i += 2) { /* the even ones cleared, the odd ones renamed */
		assert_int_equal(konce_nodecore_known_name(f.c, k[i], NULL), 0);
		snprintf(nm, sizeof(nm), "odd-%u", i + 1);
		assert_int_equal(konce_nodecore_known_name(f.c, k[i + 1], nm), 0);
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(nm, sizeof(nm), "peer-%u", i);
		assert_named(f.c, nm, NULL);
		snprintf(nm, sizeof(nm), "odd-%u", i);
		assert_named(f.c, nm, i % 2 ? k[i] : NULL);
	}

	konce_nc_known_info in;
	uint8_t stranger[KONCE_KEY_BYTES];
	key(stranger, 999);
	assert_int_equal(konce_nodecore_known_load_counts(f.c, stranger, 1, 1, 1, 1), -ENOENT);
	assert_int_equal(konce_nodecore_known_info(f.c, stranger, &in), -ENOENT);
	assert_int_equal(konce_nodecore_known_load_counts(f.c, k[1], 7, 2, 1700000000, 41000), 0);
	assert_int_equal(konce_nodecore_known_info(f.c, k[1], &in), 0);
	assert_memory_equal(in.pk, k[1], KONCE_KEY_BYTES);
	assert_string_equal(in.petname, "odd-1");
	assert_int_equal(in.handshakes, 7);
	assert_int_equal(in.failures, 2);
	assert_int_equal(in.rtt_us, 41000);
	assert_int_equal(in.last_seen, 1700000000);
	assert_false(in.seen_noted);
	assert_false(in.has_addr);
	assert_int_equal(konce_nodecore_known_info(f.c, k[0], &in), 0);
	assert_string_equal(in.petname, "");
	assert_int_equal(in.handshakes, 0);
	assert_int_equal(in.rtt_us, 0);
	assert_int_equal(in.last_seen, 0);
	fix_free(&f);
}

/* The keys konce_nodecore_known_each() visits, as key numbers (key() above), into got. */
struct walk {
	unsigned n, stop_at; /* stop_at: ask to stop after this many (0 = never) */
	unsigned got[16];
	konce_nc_known_info last;
};

static int walk_cb(void *ctx, const konce_nc_known_info *in)
{
	struct walk *w = ctx;
	assert_true(w->n < 16);
	w->got[w->n++] = in->pk[0] | (unsigned)in->pk[1] << 8;
	w->last = *in;
	return w->stop_at && w->n == w->stop_at;
}

/* The walk from the most recently seen key must be want[0..n). */
static void assert_walk(const konce_nodecore *c, const unsigned *want, unsigned n)
{
	struct walk w = {0};
	assert_int_equal(konce_nodecore_known_each(c, 0, walk_cb, &w), n);
	assert_int_equal(w.n, n);
	for (unsigned i = 0; i < n; i++)
		if (w.got[i] != want[i])
			fail_msg("walk position %u: key %u, want %u", i, w.got[i], want[i]);
	assert_int_equal(konce_nodecore_known_count(c), n);
}

#define WALK(c, ...)                                                                                          \
	do {                                                                                                  \
		const unsigned want_[] = {__VA_ARGS__};                                                       \
		assert_walk(c, want_, sizeof(want_) / sizeof(want_[0]));                                      \
	} while (0)

static void test_seen_order(void **state)
{
	(void)state;
	struct fix f;
	uint8_t k[8][KONCE_KEY_BYTES];
	konce_addr a0, a2, a2b, a4, got;
	for (unsigned i = 0; i < 8; i++)
		key(k[i], i);
	assert_int_equal(konce_addr_parse(&a0, "192.0.2.10:7807"), 0);
	assert_int_equal(konce_addr_parse(&a2, "[2001:db8::2]:7807"), 0);
	assert_int_equal(konce_addr_parse(&a2b, "198.51.100.2:9000"), 0);
	assert_int_equal(konce_addr_parse(&a4, "203.0.113.4:7807"), 0);
	fix_new(&f, 0);

	/* loaded in the store's order, most recently seen first: walked in that order */
	assert_int_equal(konce_nodecore_known_load(f.c, k[0], &a0, NULL), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, k[1], NULL, NULL), 0);
	assert_int_equal(konce_nodecore_known_load(f.c, k[2], &a2, "two"), 0);
	assert_int_equal(konce_nodecore_known_load_counts(f.c, k[2], 5, 1, 1700000002, 12000), 0);
	WALK(f.c, 0, 1, 2);
	/* a second load of a key (an older address) changes neither its place nor its address */
	assert_int_equal(konce_nodecore_known_load(f.c, k[0], &a4, NULL), 0);
	WALK(f.c, 0, 1, 2);
	assert_int_equal(konce_nodecore_known_addr(f.c, k[0], &got), 0);
	assert_true(konce_addr_eq(&got, &a0));

	/* what a walk hands over: everything known_info() answers */
	struct walk w = {.stop_at = 3};
	assert_int_equal(konce_nodecore_known_each(f.c, 0, walk_cb, &w), 3);
	assert_memory_equal(w.last.pk, k[2], KONCE_KEY_BYTES);
	assert_string_equal(w.last.petname, "two");
	assert_true(w.last.has_addr);
	assert_true(konce_addr_eq(&w.last.addr, &a2));
	assert_int_equal(w.last.handshakes, 5);
	assert_int_equal(w.last.failures, 1);
	assert_int_equal(w.last.rtt_us, 12000);
	assert_int_equal(w.last.last_seen, 1700000002);
	assert_false(w.last.seen_noted);

	/* seen at a new address: first, with that address as its newest */
	nc_note(f.c, KONCE_NC_NOTE_SEEN, k[2], &a2b, false, 0);
	WALK(f.c, 2, 0, 1);
	assert_int_equal(konce_nodecore_known_addr(f.c, k[2], &got), 0);
	assert_true(konce_addr_eq(&got, &a2b));
	assert_int_equal(konce_nodecore_known_info(f.c, k[2], &w.last), 0);
	assert_true(w.last.seen_noted);
	assert_int_equal(w.last.seen_us, 1000);
	assert_int_equal(w.last.last_seen, 1700000002); /* as loaded; superseded by seen_us */

	/* a failed handshake is no sighting: the key stays put, its failure counted */
	nc_note(f.c, KONCE_NC_NOTE_HANDSHAKE, k[1], NULL, false, 0);
	WALK(f.c, 2, 0, 1);
	assert_int_equal(konce_nodecore_known_info(f.c, k[1], &w.last), 0);
	assert_int_equal(w.last.failures, 1);
	assert_false(w.last.seen_noted);
	/* a failed dial of a new key makes it known, last (the store's row has last_seen 0) */
	nc_note(f.c, KONCE_NC_NOTE_HANDSHAKE, k[3], NULL, false, 0);
	WALK(f.c, 2, 0, 1, 3);
	/* a completed handshake is a sighting */
	nc_note(f.c, KONCE_NC_NOTE_HANDSHAKE, k[1], NULL, true, 0);
	WALK(f.c, 1, 2, 0, 3);
	/* a petname on a new key: known, last; on a known key: no move */
	assert_int_equal(konce_nodecore_known_name(f.c, k[4], "four"), 0);
	assert_int_equal(konce_nodecore_known_name(f.c, k[0], "zero"), 0);
	WALK(f.c, 1, 2, 0, 3, 4);
	/* trusted (a message of ours reached it): a sighting, with its address */
	nc_note(f.c, KONCE_NC_NOTE_TRUSTED, k[4], &a4, true, 0);
	WALK(f.c, 4, 1, 2, 0, 3);
	assert_int_equal(konce_nodecore_known_addr(f.c, k[4], &got), 0);
	assert_true(konce_addr_eq(&got, &a4));
	/* a stranger's session (IF_KNOWN): nothing; a known key's: a sighting */
	nc_note(f.c, KONCE_NC_NOTE_SEEN, k[5], &a4, false, KONCE_NC_NOTE_IF_KNOWN);
	nc_note(f.c, KONCE_NC_NOTE_HANDSHAKE, k[5], NULL, true, KONCE_NC_NOTE_IF_KNOWN);
	nc_note(f.c, KONCE_NC_NOTE_SEEN, k[3], NULL, false, KONCE_NC_NOTE_IF_KNOWN);
	WALK(f.c, 3, 4, 1, 2, 0);
	assert_int_equal(konce_nodecore_known(f.c, k[5]), 0);

	/* limit, and a callback that stops the walk */
	memset(&w, 0, sizeof w);
	assert_int_equal(konce_nodecore_known_each(f.c, 2, walk_cb, &w), 2);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.got[1], 4);
	memset(&w, 0, sizeof w);
	w.stop_at = 1;
	assert_int_equal(konce_nodecore_known_each(f.c, 0, walk_cb, &w), 1);
	assert_int_equal(w.got[0], 3);
	fix_free(&f);

	/* eviction takes the least recently seen unnamed key, whatever was noted of it since */
	fix_new(&f, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(konce_nodecore_known_load(f.c, k[i], NULL, NULL), 0);
	nc_note(f.c, KONCE_NC_NOTE_HANDSHAKE, k[2], NULL, false, 0); /* noted, not seen */
	nc_note(f.c, KONCE_NC_NOTE_SEEN, k[6], NULL, false, 0);
	WALK(f.c, 6, 0, 1);
	assert_int_equal(konce_nodecore_known(f.c, k[2]), 0);
	nc_note(f.c, KONCE_NC_NOTE_SEEN, k[7], &a0, false, 0);
	WALK(f.c, 7, 6, 0);
	fix_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_and_changes),
		cmocka_unit_test(test_named_keys_stay),
		cmocka_unit_test(test_many_names_and_counts),
		cmocka_unit_test(test_seen_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
