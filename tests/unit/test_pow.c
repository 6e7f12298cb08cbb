/* test_pow.c - proof-of-work vectors, the trailing-bit convention and the solver's limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/transport/pow.h"
#include "node/base/wire.h"

enum { LEN = 300, OFF = KONCE_INIT_POW_NONCE };

static void vector_buf(uint8_t b[LEN])
{
	for (int i = 0; i < LEN; i++)
		b[i] = (uint8_t)(i * 7 + 3);
}

/* Nonces and try counts computed independently (Python hashlib.blake2b(digest_size=32), nonce
 * big-endian at byte 120, "ends in n zero bits" = the hash read as a big-endian integer is
 * divisible by 2^n). */
static void test_vectors(void **state)
{
	(void)state;
	static const struct {
		unsigned bits;
		uint64_t start, nonce, tries;
	} v[] = {
		{1, 0, 1, 2},
		{8, 0, 24, 25},
		{12, 0, 1974, 1975},
		{16, 0, 14017, 14018},
		{12, 1000, 1974, 975},
		{8, UINT64_MAX - 2, 24, 28}, /* the nonce wraps */
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t b[LEN];
		uint64_t tries = 0;
		vector_buf(b);
		assert_int_equal(konce_pow_solve(b, LEN, OFF, v[i].bits, v[i].start, 0, &tries), 0);
		assert_int_equal(wire_get64(b + OFF), v[i].nonce);
		assert_int_equal(tries, v[i].tries);
		assert_true(konce_pow_check(b, LEN, v[i].bits));
		/* only the nonce changed */
		uint8_t orig[LEN];
		vector_buf(orig);
		assert_memory_equal(b, orig, OFF);
		assert_memory_equal(b + OFF + 8, orig + OFF + 8, LEN - OFF - 8);
	}
}

/* The vector hashes end ...45 00 (12 bits), ...3b 00 00 (16 bits) and ...6d 00 (8 bits): exactly
 * that many zero bits counted from the last byte's low bit, which a first-byte or high-bit-first
 * reading would not give. */
static void test_trailing_bit_convention(void **state)
{
	(void)state;
	static const struct {
		uint64_t nonce;
		unsigned zeros;
		uint8_t last2[2];
	} v[] = {{1974, 12, {0x50, 0x00}}, {14017, 16, {0x00, 0x00}}, {24, 8, {0x6d, 0x00}}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t b[LEN], h[32];
		vector_buf(b);
		wire_put64(b + OFF, v[i].nonce);
		crypto_generichash(h, sizeof(h), b, LEN, NULL, 0);
		assert_memory_equal(h + 30, v[i].last2, 2);
		for (unsigned n = 0; n <= v[i].zeros; n++)
			assert_true(konce_pow_check(b, LEN, n));
		assert_false(konce_pow_check(b, LEN, v[i].zeros + 1));
		assert_false(konce_pow_check(b, LEN, 256));
		assert_false(konce_pow_check(b, LEN, 1000));
	}
}

/* check() agrees with solve() on seeded pseudo-random packets of several sizes, and flipping a
 * bit of a solved packet breaks the proof (for these seeds; in general with probability
 * 1 - 2^-bits). */
static void test_check_agrees_with_solve(void **state)
{
	(void)state;
	uint8_t b[KONCE_WIRE_MAX_DATAGRAM];
	uint8_t seed[randombytes_SEEDBYTES] = {0};
	size_t lens[] = {8, KONCE_INIT_MIN_SIZE, 500, KONCE_WIRE_MAX_DATAGRAM};
	int broken = 0, flips = 0;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t off = lens[i] == 8 ? 0 : OFF;
		for (unsigned bits = 0; bits <= 10; bits += 2) {
			seed[0] = (uint8_t)i;
			seed[1] = (uint8_t)bits;
			randombytes_buf_deterministic(b, lens[i], seed);
			uint64_t tries;
			assert_int_equal(konce_pow_solve(b, lens[i], off, bits, wire_get64(b), 0, &tries), 0);
			assert_true(tries >= 1);
			assert_true(konce_pow_check(b, lens[i], bits));
			if (bits < 8)
				continue;
			b[lens[i] - 1] ^= 0x80;
			flips++;
			broken += !konce_pow_check(b, lens[i], bits);
		}
	}
	assert_int_equal(broken, flips);
}

static void test_zero_bits(void **state)
{
	(void)state;
	uint8_t b[16] = {0};
	uint64_t tries = 99;
	assert_true(konce_pow_check(b, 16, 0));
	assert_true(konce_pow_check(NULL, 0, 0));
	assert_int_equal(konce_pow_solve(b, 16, 8, 0, 77, 0, &tries), 0);
	assert_int_equal(tries, 1);
	assert_int_equal(wire_get64(b + 8), 77);
	assert_int_equal(konce_pow_solve(b, 16, 8, 0, 78, 0, NULL), 0);
}

static void test_einval(void **state)
{
	(void)state;
	uint8_t b[LEN];
	vector_buf(b);
	uint64_t tries = 0;
	assert_int_equal(konce_pow_solve(b, LEN, OFF, KONCE_WIRE_POW_MAX_BITS + 1, 0, 0, &tries), -EINVAL);
	assert_int_equal(konce_pow_solve(b, LEN, LEN - 7, 1, 0, 0, &tries), -EINVAL);
	assert_int_equal(konce_pow_solve(b, LEN, LEN, 1, 0, 0, &tries), -EINVAL);
	assert_int_equal(konce_pow_solve(b, LEN, SIZE_MAX - 3, 1, 0, 0, &tries), -EINVAL);
	assert_int_equal(konce_pow_solve(b, 7, 0, 1, 0, 0, &tries), -EINVAL);
	uint8_t orig[LEN];
	vector_buf(orig);
	assert_memory_equal(b, orig, LEN); /* refused calls write nothing */
	assert_int_equal(konce_pow_solve(b, LEN, LEN - 8, 1, 0, 0, &tries), 0); /* nonce at the very end */
}

static void test_timeout(void **state)
{
	(void)state;
	uint8_t b[LEN];
	uint64_t tries = 0;
	vector_buf(b);
	/* the 16-bit vector needs 14018 tries from 0 */
	assert_int_equal(konce_pow_solve(b, LEN, OFF, 16, 0, 14017, &tries), -ETIMEDOUT);
	assert_int_equal(tries, 14017);
	assert_int_equal(konce_pow_solve(b, LEN, OFF, 16, 0, 14018, &tries), 0);
	assert_int_equal(tries, 14018);
	assert_int_equal(wire_get64(b + OFF), 14017);
	/* resuming where a bounded run stopped finds the same nonce */
	vector_buf(b);
	assert_int_equal(konce_pow_solve(b, LEN, OFF, 16, 0, 10000, &tries), -ETIMEDOUT);
	assert_int_equal(konce_pow_solve(b, LEN, OFF, 16, 10000, 10000, &tries), 0);
	assert_int_equal(tries, 4018);
	assert_int_equal(wire_get64(b + OFF), 14017);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_trailing_bit_convention),
		cmocka_unit_test(test_check_agrees_with_solve),
		cmocka_unit_test(test_zero_bits),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
