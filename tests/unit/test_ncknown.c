/* test_ncknown.c - the petnames in the node core's known-keys set (node/core/ncknown.c), on a real
 * node core with no socket:
 *
 *   - a key loaded with a petname answers it; one loaded without, or never loaded, answers -ENOENT;
 *   - konce_nodecore_known_name() renames, names an unknown key (making it known and named), and
 *     clears (the key stays known with its address, no longer named); clearing an unknown key
 *     leaves it unknown;
 *   - a petname of KONCE_NC_PETNAME_MAX bytes is taken, one byte more is refused and changes nothing;
 *   - at known_max keys a new key evicts the least recently noted key without a petname: named keys
 *     keep their names, a key whose name was cleared may go, and when every key is named a new one
 *     is refused (-ENOMEM);
 *   - konce_nodecore_known_by_name() finds the key of a petname through every change above (load,
 *     rename, clear, eviction), and with many named keys sharing the name chains;
 *   - konce_nodecore_known_info() answers the petname and the counts loaded with a key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/nodecore.h"
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
	uint8_t stranger[KONCE_KEY_BYTES];
	key(stranger, 99);
	assert_int_equal(konce_nodecore_known_name(f.c, stranger, ""), 0);
	assert_int_equal(konce_nodecore_known(f.c, stranger), 0);
	assert_int_equal(konce_nodecore_known_count(f.c), 4);

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
	for (unsigned i = 4; i < 10; i++) { /* newcomers, named then cleared, push out the unnamed */
		assert_int_equal(konce_nodecore_known_name(f.c, k[i], "for a while"), 0);
		assert_int_equal(konce_nodecore_known_name(f.c, k[i], i % 2 ? "" : NULL), 0);
		assert_int_equal(konce_nodecore_known_count(f.c), MAX);
	}
	assert_string_equal(name_of(f.c, k[0]), "zero");
	assert_string_equal(name_of(f.c, k[3]), "three");
	assert_int_equal(konce_nodecore_known(f.c, k[1]), 0);
	assert_int_equal(konce_nodecore_known(f.c, k[2]), 0);
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
	assert_int_equal(konce_nodecore_known_load_counts(f.c, stranger, 1, 1, 1), -ENOENT);
	assert_int_equal(konce_nodecore_known_info(f.c, stranger, &in), -ENOENT);
	assert_int_equal(konce_nodecore_known_load_counts(f.c, k[1], 7, 2, 1700000000), 0);
	assert_int_equal(konce_nodecore_known_info(f.c, k[1], &in), 0);
	assert_string_equal(in.petname, "odd-1");
	assert_int_equal(in.handshakes, 7);
	assert_int_equal(in.failures, 2);
	assert_int_equal(in.last_seen, 1700000000);
	assert_false(in.seen_noted);
	assert_int_equal(konce_nodecore_known_info(f.c, k[0], &in), 0);
	assert_string_equal(in.petname, "");
	assert_int_equal(in.handshakes, 0);
	assert_int_equal(in.last_seen, 0);
	fix_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_and_changes),
		cmocka_unit_test(test_named_keys_stay),
		cmocka_unit_test(test_many_names_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
