/* test_gather.c - the gather seal against libsodium's AEAD: for payloads and holes of many
 * lengths and places (empty holes, holes at either end, holes side by side, holes that start or
 * end inside a keystream block), in place and apart, the ciphertext and tag are byte for byte what
 * konce_aead_seal_sub gives for the plaintext with the holes filled, and it opens.  A gather out of
 * order or past the payload is refused with out untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/transport/gather.h"
#include "node/transport/keys.h"

enum { MAXLEN = 9000 };

static uint8_t key[32], ad[24], src[MAXLEN];

static int setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(i * 13 + 1);
	for (size_t i = 0; i < sizeof ad; i++)
		ad[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (uint8_t)(i * 31 + 7);
	return 0;
}

/* Seals plain (len bytes, holes from g) both ways, in place and apart, and compares. */
static void check(const uint8_t *plain, size_t len, const konce_gather *g, size_t adlen, uint64_t pn)
{
	static uint8_t full[MAXLEN], want[MAXLEN + 16], apart[MAXLEN + 16], inplace[MAXLEN + 16], back[MAXLEN];
	memcpy(full, plain, len);
	for (unsigned i = 0; g && i < g->n; i++)
		memcpy(full + g->hole[i].off, g->hole[i].src, g->hole[i].len);
	konce_aead_subkey(key, key); /* a fresh subkey each time, to vary the key as well */
	konce_aead_seal_sub(want, full, len, ad, adlen, pn, key);

	assert_true(konce_aead_seal_sub_gather(apart, plain, len, g, ad, adlen, pn, key));
	assert_memory_equal(apart, want, len + 16);

	/* in place: the holes' bytes in the buffer are garbage and must not be read */
	memcpy(inplace, plain, len);
	for (unsigned i = 0; g && i < g->n; i++)
		memset(inplace + g->hole[i].off, 0xee, g->hole[i].len);
	assert_true(konce_aead_seal_sub_gather(inplace, inplace, len, g, ad, adlen, pn, key));
	assert_memory_equal(inplace, want, len + 16);

	assert_int_equal(konce_aead_open_sub(back, apart, len + 16, ad, adlen, pn, key), 0);
	assert_memory_equal(back, full, len);
}

static void test_no_holes(void **state)
{
	(void)state;
	static uint8_t plain[MAXLEN];
	memcpy(plain, src, sizeof plain);
	konce_gather g = {0};
	const size_t lens[] = {0, 1, 15, 16, 63, 64, 65, 127, 128, 1200, 1452, 8937, MAXLEN};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		check(plain, lens[i], NULL, 0, 2);
		check(plain, lens[i], &g, 9, (uint64_t)i << 40);
	}
}

static void test_holes(void **state)
{
	(void)state;
	static uint8_t plain[MAXLEN];
	for (size_t i = 0; i < sizeof plain; i++)
		plain[i] = (uint8_t)(0x55 ^ i);
	/* one hole at each place and length around the block size, in payloads around it too */
	const size_t lens[] = {1, 63, 64, 65, 200, 1200, 8937};
	const size_t offs[] = {0, 1, 17, 63, 64, 65, 100, 1000};
	const size_t hlens[] = {0, 1, 5, 47, 63, 64, 65, 130, 900, 8900};
	unsigned checked = 0;
	for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++)
		for (size_t b = 0; b < sizeof offs / sizeof offs[0]; b++)
			for (size_t c = 0; c < sizeof hlens / sizeof hlens[0]; c++) {
				if (offs[b] + hlens[c] > lens[a])
					continue;
				konce_gather g = {0};
				assert_true(konce_gather_add(&g, offs[b], src + c, hlens[c]));
				check(plain, lens[a], &g, (a * 5 + c) % 24, 1000 + checked);
				checked++;
			}
	assert_true(checked > 150);
}

/* Several holes, as a packet of small messages has: side by side, with gaps, at the end. */
static void test_many_holes(void **state)
{
	(void)state;
	static uint8_t plain[MAXLEN];
	for (size_t i = 0; i < sizeof plain; i++)
		plain[i] = (uint8_t)(i * 3);
	for (unsigned seed = 1; seed <= 400; seed++) {
		size_t len = 1 + (seed * 2654435761u) % MAXLEN;
		konce_gather g = {0};
		size_t at = (seed * 7) % 70;
		for (unsigned k = 0; k < KONCE_GATHER_MAX && at <= len; k++) {
			size_t room = len - at;
			size_t hl = room ? (seed * (k + 3) * 40503u) % (room + 1) / (KONCE_GATHER_MAX - k) : 0;
			assert_true(konce_gather_add(&g, at, src + k * 11, hl));
			at += hl + ((seed + k) % 3 == 0 ? 0 : (seed * 31 + k) % 90); /* side by side, or a gap */
		}
		check(plain, len, &g, seed % 24, seed);
	}
}

static void test_refused(void **state)
{
	(void)state;
	static uint8_t plain[256], out[256 + 16], before[256 + 16];
	memset(out, 0x77, sizeof out);
	memcpy(before, out, sizeof out);
	konce_gather g = {0};
	assert_true(konce_gather_add(&g, 100, src, 50));
	assert_false(konce_gather_add(&g, 120, src, 10)); /* overlaps the last */
	assert_true(konce_gather_add(&g, 150, src, 0));
	assert_true(konce_gather_add(&g, 150, src, 10));
	assert_true(konce_gather_add(&g, 200, src, 1));
	assert_false(konce_gather_add(&g, 250, src, 1)); /* full */
	assert_int_equal(g.n, KONCE_GATHER_MAX);

	/* past the payload */
	assert_false(konce_aead_seal_sub_gather(out, plain, 200, &g, ad, 8, 3, key));
	assert_memory_equal(out, before, sizeof out);
	/* a hole whose end wraps around */
	konce_gather w = {.n = 1};
	w.hole[0].off = 10;
	w.hole[0].len = SIZE_MAX - 5;
	w.hole[0].src = src;
	assert_false(konce_aead_seal_sub_gather(out, plain, 256, &w, ad, 8, 3, key));
	/* out of order, as a caller could write them by hand */
	konce_gather o = {.n = 2};
	o.hole[0].off = 50, o.hole[0].len = 10, o.hole[0].src = src;
	o.hole[1].off = 40, o.hole[1].len = 5, o.hole[1].src = src;
	assert_false(konce_aead_seal_sub_gather(out, plain, 256, &o, ad, 8, 3, key));
	assert_memory_equal(out, before, sizeof out);
	assert_true(konce_aead_seal_sub_gather(out, plain, 201, &g, ad, 8, 3, key));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_holes),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_many_holes),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
