/* fuzz_keyfile.c - the key file parser.
 *
 * Invariants: the parser never reads outside buf[0..n); a full parse and a public-only parse agree
 * on the public key whenever the full one succeeds; and the format is canonical: input that parses
 * is exactly konce_keyfile_format's output for the identity it gave (the final newline may be
 * missing), so one key has one file text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > KONCE_KEYFILE_MAX)
		return 0; /* load refuses larger files before parsing */
	char *buf = malloc(n ? n : 1); /* exact size, so ASan catches an overread */
	if (!buf)
		return 0;
	memcpy(buf, d, n);

	uint8_t pub[KONCE_KEY_BYTES], pub_only[KONCE_KEY_BYTES];
	char err[256];
	konce_identity *id = NULL;
	int full = konce_keyfile_parse(buf, n, pub, &id, err, sizeof(err));
	int only = konce_keyfile_parse(buf, n, pub_only, NULL, err, sizeof(err));
	if (full == 0) {
		char text[KONCE_KEYFILE_LEN + 1];
		size_t len = konce_keyfile_format(text, id);
		if (only != 0 || memcmp(pub, pub_only, sizeof(pub)) != 0 ||
		    memcmp(pub, konce_identity_public(id), sizeof(pub)) != 0)
			abort();
		if (!(n == len || n == len - 1) || memcmp(text, buf, n) != 0)
			abort();
		konce_identity_free(id);
	} else if (id) {
		abort(); /* out is set only on success */
	}
	free(buf);
	return 0;
}
