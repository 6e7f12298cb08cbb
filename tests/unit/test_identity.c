/* test_identity.c - X25519 identities: RFC 7748 vectors, DH agreement, per-server derivation,
 * rejection of low-order peer keys, randomness only through konce_env. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/transport/identity.h"

static void hex(uint8_t *out, size_t n, const char *h)
{
	size_t len;
	assert_int_equal(sodium_hex2bin(out, n, h, strlen(h), NULL, &len, NULL), 0);
	assert_int_equal(len, n);
}

/* RFC 7748 section 6.1 */
static const char alice_sk[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pk[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_sk[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pk[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static konce_identity *from_hex(const char *h)
{
	uint8_t sk[32];
	konce_identity *id = NULL;
	hex(sk, 32, h);
	assert_int_equal(konce_identity_from_secret(&id, sk), 0);
	return id;
}

static void test_rfc7748_vector(void **state)
{
	(void)state;
	uint8_t want[32], peer[32], out[32];
	konce_identity *a = from_hex(alice_sk), *b = from_hex(bob_sk);
	hex(want, 32, alice_pk);
	assert_memory_equal(konce_identity_public(a), want, 32);
	hex(want, 32, bob_pk);
	assert_memory_equal(konce_identity_public(b), want, 32);

	hex(want, 32, shared);
	hex(peer, 32, bob_pk);
	assert_int_equal(konce_identity_dh(a, out, peer), 0);
	assert_memory_equal(out, want, 32);
	hex(peer, 32, alice_pk);
	assert_int_equal(konce_identity_dh(b, out, peer), 0);
	assert_memory_equal(out, want, 32);
	konce_identity_free(a);
	konce_identity_free(b);
}

static void test_secret_is_stored_clamped(void **state)
{
	(void)state;
	uint8_t sk[32];
	memset(sk, 0xff, sizeof(sk));
	konce_identity *id = NULL;
	assert_int_equal(konce_identity_from_secret(&id, sk), 0);
	const uint8_t *s = konce_identity_secret_(id);
	assert_int_equal(s[0] & 7, 0);
	assert_int_equal(s[31] & 0x80, 0);
	assert_int_equal(s[31] & 0x40, 0x40);
	/* reloading the stored secret gives the same identity (what a key file relies on) */
	konce_identity *again = NULL;
	assert_int_equal(konce_identity_from_secret(&again, s), 0);
	assert_memory_equal(konce_identity_secret_(again), s, 32);
	assert_memory_equal(konce_identity_public(again), konce_identity_public(id), 32);
	konce_identity_free(again);
	konce_identity_free(id);
	konce_identity_free(NULL);
}

/* An env whose randomness is a counter, and which counts its calls. */
struct fake {
	unsigned calls;
	uint8_t next;
};

static void fake_random(void *ctx, uint8_t *buf, size_t n)
{
	struct fake *f = ctx;
	f->calls++;
	for (size_t i = 0; i < n; i++)
		buf[i] = f->next++;
}

static void test_generate_uses_env_randomness(void **state)
{
	(void)state;
	const konce_env *def = konce_env_default();
	struct fake f1 = {0, 0}, f2 = {0, 0};
	konce_env e1 = {def->alloc, def->free, fake_random, &f1, NULL, NULL};
	konce_env e2 = {def->alloc, def->free, fake_random, &f2, NULL, NULL};
	konce_identity *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(konce_identity_generate(&a, &e1), 0);
	assert_int_equal(konce_identity_generate(&b, &e2), 0);
	assert_int_equal(f1.calls, 1);
	/* same randomness, same key; it is the counter bytes, clamped */
	assert_memory_equal(konce_identity_public(a), konce_identity_public(b), 32);
	uint8_t sk[32];
	for (int i = 0; i < 32; i++)
		sk[i] = (uint8_t)i;
	assert_int_equal(konce_identity_from_secret(&c, sk), 0);
	assert_memory_equal(konce_identity_public(a), konce_identity_public(c), 32);
	konce_identity_free(a);
	konce_identity_free(b);
	konce_identity_free(c);

	/* the default env gives different keys each time */
	assert_int_equal(konce_identity_generate(&a, def), 0);
	assert_int_equal(konce_identity_generate(&b, def), 0);
	assert_memory_not_equal(konce_identity_public(a), konce_identity_public(b), 32);
	konce_identity_free(a);
	konce_identity_free(b);
}

static void test_dh_agreement(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		konce_identity *a = NULL, *b = NULL;
		uint8_t ab[32], ba[32];
		assert_int_equal(konce_identity_generate(&a, konce_env_default()), 0);
		assert_int_equal(konce_identity_generate(&b, konce_env_default()), 0);
		assert_int_equal(konce_identity_dh(a, ab, konce_identity_public(b)), 0);
		assert_int_equal(konce_identity_dh(b, ba, konce_identity_public(a)), 0);
		assert_memory_equal(ab, ba, 32);
		konce_identity_free(a);
		konce_identity_free(b);
	}
}

/* The derivation written out again from its specification in identity.h. */
static void derive_by_spec(uint8_t pk[32], const uint8_t master_sk[32], const uint8_t server_pk[32])
{
	static const char label[] = "konce per-server identity v1";
	uint8_t msg[sizeof(label) - 1 + 32], sk[32];
	memcpy(msg, label, sizeof(label) - 1);
	memcpy(msg + sizeof(label) - 1, server_pk, 32);
	crypto_generichash_blake2b(sk, 32, msg, sizeof(msg), master_sk, 32);
	assert_int_equal(crypto_scalarmult_base(pk, sk), 0); /* crypto_scalarmult clamps */
}

static void test_derive_for(void **state)
{
	(void)state;
	konce_identity *m = from_hex(alice_sk);
	uint8_t s1[32], s2[32], want[32];
	hex(s1, 32, bob_pk);
	memcpy(s2, s1, 32);
	s2[0] ^= 1;

	konce_identity *d1 = NULL, *d1b = NULL, *d2 = NULL;
	assert_int_equal(konce_identity_derive_for(m, s1, &d1), 0);
	assert_int_equal(konce_identity_derive_for(m, s1, &d1b), 0);
	assert_int_equal(konce_identity_derive_for(m, s2, &d2), 0);
	/* deterministic per server, different across servers, never the master key */
	assert_memory_equal(konce_identity_public(d1), konce_identity_public(d1b), 32);
	assert_memory_not_equal(konce_identity_public(d1), konce_identity_public(d2), 32);
	assert_memory_not_equal(konce_identity_public(d1), konce_identity_public(m), 32);

	derive_by_spec(want, konce_identity_secret_(m), s1);
	assert_memory_equal(konce_identity_public(d1), want, 32);
	/* pinned vector (docs/KEYS.md): master = RFC 7748 Alice, server = RFC 7748 Bob */
	hex(want, 32, "ee669835fa824e8672a5e99b2caaa4b529011f092f9a967fc8f9ae428c8de93d");
	assert_memory_equal(konce_identity_public(d1), want, 32);

	/* another master gives another key for the same server */
	konce_identity *m2 = from_hex(bob_sk), *e1 = NULL;
	assert_int_equal(konce_identity_derive_for(m2, s1, &e1), 0);
	assert_memory_not_equal(konce_identity_public(e1), konce_identity_public(d1), 32);

	/* a derived identity is a full identity: DH with it agrees */
	uint8_t x[32], y[32];
	assert_int_equal(konce_identity_dh(d1, x, konce_identity_public(m2)), 0);
	assert_int_equal(konce_identity_dh(m2, y, konce_identity_public(d1)), 0);
	assert_memory_equal(x, y, 32);

	konce_identity_free(d1);
	konce_identity_free(d1b);
	konce_identity_free(d2);
	konce_identity_free(e1);
	konce_identity_free(m2);
	konce_identity_free(m);
}

static void test_dh_rejects_low_order(void **state)
{
	(void)state;
	/* points of order 1, 2, 4 and 8, and non-canonical encodings of them (from the list libsodium
	 * and others blacklist); X25519 with any of them is all zero */
	static const char *low[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	konce_identity *id = NULL;
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		uint8_t peer[32], out[32], zero[32] = {0};
		hex(peer, 32, low[i]);
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(konce_identity_dh(id, out, peer), -EINVAL);
		assert_memory_equal(out, zero, 32); /* nothing half-computed is left behind */
	}
	konce_identity_free(id);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7748_vector),
		cmocka_unit_test(test_secret_is_stored_clamped),
		cmocka_unit_test(test_generate_uses_env_randomness),
		cmocka_unit_test(test_dh_agreement),
		cmocka_unit_test(test_derive_for),
		cmocka_unit_test(test_dh_rejects_low_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
