/* keytext.c - the text form of keys: unpadded base64url (RFC 4648 section 5), 43 characters.
 *
 * The codec is libsodium's, which is constant-time (no table lookups indexed by secret bytes, no
 * secret-dependent branches), so the same code can encode and decode secret keys for key files.
 * libsodium rejects most non-canonical input itself: characters outside the alphabet, padding in the
 * NO_PADDING variant, and non-zero bits left over after the last whole byte.  But libsodium 1.0.18
 * (Debian 12) decodes bytes >= 0x80 as if they were letters (it widens a signed char before its
 * constant-time range checks), so every decode is re-encoded and compared with the input, in
 * constant time.  That makes "decodes" and "is the canonical text of a key" the same thing whatever
 * the library version.  test_keytext.c and fuzz_keytext.c check it.
 */
#include "node/transport/keytext.h"

#include "node/transport/keys.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

enum { VARIANT = sodium_base64_VARIANT_URLSAFE_NO_PADDING };

_Static_assert(sodium_base64_ENCODED_LEN(KONCE_KEY_BYTES, VARIANT) == KONCE_KEY_TEXT_LEN + 1,
	       "KONCE_KEY_TEXT_LEN must be the unpadded base64 length of a key");

int konce_key_to_text(char out[KONCE_KEY_TEXT_LEN + 1], const uint8_t key[KONCE_KEY_BYTES])
{
	sodium_bin2base64(out, KONCE_KEY_TEXT_LEN + 1, key, KONCE_KEY_BYTES, VARIANT);
	return 0;
}

int konce_key_decode_(uint8_t key[KONCE_KEY_BYTES], const char *text, size_t len)
{
	size_t n = 0;
	char again[KONCE_KEY_TEXT_LEN + 1];
	int r = -EINVAL;
	/* With no ignore set and no end pointer, libsodium fails on any character it cannot use. */
	if (len == KONCE_KEY_TEXT_LEN &&
	    sodium_base642bin(key, KONCE_KEY_BYTES, text, len, NULL, &n, NULL, VARIANT) == 0 &&
	    n == KONCE_KEY_BYTES) {
		konce_key_to_text(again, key);
		if (sodium_memcmp(again, text, KONCE_KEY_TEXT_LEN) == 0)
			r = 0;
		sodium_memzero(again, sizeof(again)); /* it may be a secret key */
	}
	if (r)
		sodium_memzero(key, KONCE_KEY_BYTES);
	return r;
}

int konce_key_from_text(uint8_t key[KONCE_KEY_BYTES], const char *text)
{
	if (!text) {
		sodium_memzero(key, KONCE_KEY_BYTES);
		return -EINVAL;
	}
	/* strnlen: a long string is rejected without reading past one character too many */
	int r = konce_key_decode_(key, text, strnlen(text, KONCE_KEY_TEXT_LEN + 1));
	if (r == 0 && !konce_key_canonical(key)) {
		sodium_memzero(key, KONCE_KEY_BYTES);
		r = -EINVAL; /* a second name for a canonical key (keys.h) */
	}
	return r;
}

int konce_key_list_(const char *text, uint8_t (*keys)[KONCE_KEY_BYTES], size_t max)
{
	if (!text || !*text)
		return -EINVAL;
	size_t n = 0;
	for (const char *p = text;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		uint8_t k[KONCE_KEY_BYTES];
		if (konce_key_decode_(k, p, len))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		memcpy(keys[n++], k, KONCE_KEY_BYTES);
		if (!end)
			return (int)n;
		p = end + 1;
	}
}
