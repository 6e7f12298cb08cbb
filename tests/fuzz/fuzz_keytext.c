/* fuzz_keytext.c - key text decoding.
 *
 * Invariants: decoding never reads past the text; whatever decodes re-encodes to exactly the same
 * text (one text per key); a failed decode leaves the key zeroed; and the first 32 input bytes,
 * taken as a key, survive an encode/decode round trip; a key list yields only keys whose text is
 * its item. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "konce/konce.h"
#include "node/transport/keys.h"
#include "node/transport/keytext.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint8_t key[KONCE_KEY_BYTES];
	char again[KONCE_KEY_TEXT_LEN + 1];

	/* as a C string (an exact-size heap copy, so ASan sees any overread) */
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, d, n);
	s[n] = '\0';
	memset(key, 0x5a, sizeof(key));
	if (konce_key_from_text(key, s) == 0) {
		konce_key_to_text(again, key);
		if (strcmp(again, s) != 0)
			abort();
	} else {
		for (size_t i = 0; i < sizeof(key); i++)
			if (key[i])
				abort();
	}
	free(s);

	/* as a bounded buffer with no terminator */
	char *b = malloc(n ? n : 1);
	if (!b)
		return 0;
	memcpy(b, d, n);
	if (konce_key_decode_(key, b, n) == 0) {
		konce_key_to_text(again, key);
		if (n != KONCE_KEY_TEXT_LEN || memcmp(again, b, n) != 0)
			abort();
	}
	free(b);

	/* as a key list: every key it yields re-encodes to its item of the text */
	s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, d, n);
	s[n] = '\0';
	uint8_t list[4][KONCE_KEY_BYTES];
	int cnt = konce_key_list_(s, list, 4);
	if (cnt > 4 || (cnt < 0 && cnt != -EINVAL && cnt != -E2BIG))
		abort();
	const char *item = s;
	for (int i = 0; i < cnt; i++, item += KONCE_KEY_TEXT_LEN + 1) {
		konce_key_to_text(again, list[i]);
		if (memcmp(again, item, KONCE_KEY_TEXT_LEN) != 0 || (item[KONCE_KEY_TEXT_LEN] != ',' && i + 1 < cnt))
			abort();
	}
	free(s);

	if (n >= KONCE_KEY_BYTES) {
		/* the codec round-trips any 32 bytes; a public key parses only if canonical X25519 */
		uint8_t back[KONCE_KEY_BYTES];
		konce_key_to_text(again, d);
		if (strlen(again) != KONCE_KEY_TEXT_LEN || konce_key_decode_(back, again, KONCE_KEY_TEXT_LEN) != 0 ||
		    memcmp(back, d, KONCE_KEY_BYTES) != 0)
			abort();
		if ((konce_key_from_text(back, again) == 0) != konce_key_canonical(d))
			abort();
	}
	return 0;
}
