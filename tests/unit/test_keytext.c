/* test_keytext.c - public key text: vectors, round trips and every class of bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "konce/konce.h"
#include "node/transport/keytext.h"

static void check_vector(const uint8_t key[32], const char *text)
{
	char out[KONCE_KEY_TEXT_LEN + 1];
	uint8_t back[32];
	assert_int_equal(konce_key_to_text(out, key), 0);
	assert_string_equal(out, text);
	assert_int_equal(konce_key_decode_(back, text, strlen(text)), 0);
	assert_memory_equal(back, key, 32);
	/* a public key must also be canonical X25519 (bit 255 clear, below 2^255 - 19) */
	if (key[31] & 0x80) {
		assert_int_equal(konce_key_from_text(back, text), -EINVAL);
	} else {
		assert_int_equal(konce_key_from_text(back, text), 0);
		assert_memory_equal(back, key, 32);
	}
}

/* One secret, several encodings of its public key: only the canonical one parses. */
static void test_noncanonical_public_keys(void **state)
{
	(void)state;
	uint8_t k[32], back[32];
	char text[KONCE_KEY_TEXT_LEN + 1];
	randombytes_buf(k, sizeof k);
	k[31] &= 0x7f;
	konce_key_to_text(text, k);
	assert_int_equal(konce_key_from_text(back, text), 0);
	k[31] |= 0x80; /* the same point to X25519 */
	konce_key_to_text(text, k);
	assert_int_equal(konce_key_from_text(back, text), -EINVAL);
	for (int i = 0; i < 32; i++)
		assert_int_equal(back[i], 0);
	/* p - 1 is canonical; p = 2^255 - 19 .. 2^255 - 1 name 0 .. 18 again */
	memset(k, 0xff, 32);
	k[31] = 0x7f;
	for (unsigned lo = 0xe0; lo <= 0xff; lo++) {
		k[0] = (uint8_t)lo;
		konce_key_to_text(text, k);
		assert_int_equal(konce_key_from_text(back, text), lo < 0xed ? 0 : -EINVAL);
	}
}

static void test_vectors(void **state)
{
	(void)state;
	uint8_t k[32];
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
	check_vector(k, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	memset(k, 0xfb, 32); /* uses both URL-safe characters, '-' and '_' */
	check_vector(k, "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s");
	memset(k, 0xff, 32);
	check_vector(k, "__________________________________________8");
	memset(k, 0, 32);
	check_vector(k, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	/* RFC 7748 section 6.1, Alice's public key */
	static const uint8_t alice[32] = {0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d,
					  0xdc, 0xb4, 0x3e, 0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38,
					  0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
	check_vector(alice, "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo");
}

static void test_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < 2000; i++) {
		uint8_t k[32], back[32];
		char text[KONCE_KEY_TEXT_LEN + 1];
		randombytes_buf(k, sizeof(k));
		k[31] &= 0x7f; /* a public key; test_noncanonical_public_keys has the others */
		konce_key_to_text(text, k);
		assert_int_equal(strlen(text), KONCE_KEY_TEXT_LEN);
		for (size_t j = 0; j < KONCE_KEY_TEXT_LEN; j++)
			assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
					       text[j]));
		assert_int_equal(konce_key_from_text(back, text), 0);
		assert_memory_equal(back, k, 32);
	}
}

static void expect_bad(const char *text)
{
	uint8_t k[32], zero[32] = {0};
	memset(k, 0xaa, sizeof(k));
	assert_int_equal(konce_key_from_text(k, text), -EINVAL);
	assert_memory_equal(k, zero, 32); /* a failed decode leaves nothing half written */
}

static void test_bad_length(void **state)
{
	(void)state;
	const char *good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	char buf[128];
	expect_bad("");
	expect_bad(NULL);
	for (size_t n = 0; n < KONCE_KEY_TEXT_LEN; n++) {
		memcpy(buf, good, n);
		buf[n] = '\0';
		expect_bad(buf); /* every truncation */
	}
	snprintf(buf, sizeof(buf), "%sA", good);
	expect_bad(buf);
	snprintf(buf, sizeof(buf), "%s%s", good, good);
	expect_bad(buf);
}

static void test_bad_characters(void **state)
{
	(void)state;
	const char *good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	char buf[64];
	/* the standard base64 alphabet's '+' and '/', padding, whitespace, control and non-ASCII bytes,
	 * each at the start, in the middle and at the end */
	static const char bad[] = {'+', '/', '=', ' ', '\t', '\n', '\r', '.', '~', '*', '\x01', '\x7f',
				   '\x80', '\xff'};
	static const size_t pos[] = {0, 20, KONCE_KEY_TEXT_LEN - 1};
	for (size_t i = 0; i < sizeof(bad); i++)
		for (size_t j = 0; j < 3; j++) {
			strcpy(buf, good);
			buf[pos[j]] = bad[i];
			expect_bad(buf);
		}
	/* whitespace around an otherwise good key */
	snprintf(buf, sizeof(buf), " %s", good);
	expect_bad(buf);
	snprintf(buf, sizeof(buf), "%s\n", good);
	expect_bad(buf);
	/* padded form (base64url with '='), and the standard alphabet's form of the 0xfb key */
	snprintf(buf, sizeof(buf), "%s=", good);
	expect_bad(buf);
	expect_bad("+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s");
	/* an embedded NUL makes the string short */
	strcpy(buf, good);
	buf[30] = '\0';
	expect_bad(buf);
}

/* Every byte outside the alphabet, at every position.  (libsodium 1.0.18 alone accepts bytes >= 0x80
 * at some positions; keytext.c's re-encoding check is what refuses them.) */
static void test_every_byte_everywhere(void **state)
{
	(void)state;
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char buf[KONCE_KEY_TEXT_LEN + 1];
	for (int c = 1; c < 256; c++) {
		if (memchr(alphabet, c, sizeof(alphabet) - 1))
			continue;
		for (size_t i = 0; i < KONCE_KEY_TEXT_LEN; i++) {
			strcpy(buf, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
			buf[i] = (char)c;
			expect_bad(buf);
		}
	}
}

/* 43 characters carry 258 bits; the last 2 must be zero or two texts would name one key. */
static void test_non_canonical_trailing_bits(void **state)
{
	(void)state;
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char buf[KONCE_KEY_TEXT_LEN + 1];
	strcpy(buf, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	int accepted = 0;
	for (int v = 0; v < 64; v++) {
		uint8_t k[32];
		char again[KONCE_KEY_TEXT_LEN + 1];
		buf[KONCE_KEY_TEXT_LEN - 1] = alphabet[v];
		int r = konce_key_from_text(k, buf);
		if (v & 3) {
			assert_int_equal(r, -EINVAL);
		} else {
			assert_int_equal(r, 0);
			konce_key_to_text(again, k);
			assert_string_equal(again, buf);
			accepted++;
		}
	}
	assert_int_equal(accepted, 16);
}

/* konce.conf identity_master: KEY,KEY,... */
static void test_key_list(void **state)
{
	(void)state;
	uint8_t keys[3][KONCE_KEY_BYTES], k1[KONCE_KEY_BYTES], k2[KONCE_KEY_BYTES];
	const char *t1 = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", *t2 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	char text[200];
	assert_int_equal(konce_key_from_text(k1, t1), 0);
	assert_int_equal(konce_key_from_text(k2, t2), 0);
	assert_int_equal(konce_key_list_(t1, keys, 3), 1);
	assert_memory_equal(keys[0], k1, KONCE_KEY_BYTES);
	snprintf(text, sizeof text, "%s,%s,%s", t2, t1, t2);
	assert_int_equal(konce_key_list_(text, keys, 3), 3);
	assert_memory_equal(keys[0], k2, KONCE_KEY_BYTES);
	assert_memory_equal(keys[1], k1, KONCE_KEY_BYTES);
	assert_memory_equal(keys[2], k2, KONCE_KEY_BYTES);
	assert_int_equal(konce_key_list_(text, keys, 2), -E2BIG);
	static const char *const bad[] = {"", ",", "x", "%s,", ",%s", "%s,,%s", "%s ,%s", "%s, %s", " %s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, bad[i], t1, t2);
		assert_int_equal(konce_key_list_(text, keys, 3), -EINVAL);
	}
	assert_int_equal(konce_key_list_(NULL, keys, 3), -EINVAL);
}

static void test_decode_bounded(void **state)
{
	(void)state;
	/* the internal decoder never reads past len: the same good text is refused when cut short */
	const char *good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	uint8_t k[32];
	assert_int_equal(konce_key_decode_(k, good, KONCE_KEY_TEXT_LEN), 0);
	assert_int_equal(konce_key_decode_(k, good, KONCE_KEY_TEXT_LEN - 1), -EINVAL);
	assert_int_equal(konce_key_decode_(k, good, 0), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_noncanonical_public_keys),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_length),
		cmocka_unit_test(test_bad_characters),
		cmocka_unit_test(test_every_byte_everywhere),
		cmocka_unit_test(test_non_canonical_trailing_bits),
		cmocka_unit_test(test_key_list),
		cmocka_unit_test(test_decode_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
