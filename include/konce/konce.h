/* konce.h - the public konce API.
 *
 * Conventions, for every call in include/konce/:
 *  - Types are opaque and prefixed konce_.  The caller owns what it creates and frees it with the
 *    matching _free call.
 *  - Calls return 0 (or a count) on success and a negative errno value on failure.
 *  - A call that fails never invokes a callback it was given, then or later.
 *  - Buffers passed in are borrowed for the duration of the call unless the call says otherwise.
 */
#ifndef KONCE_KONCE_H
#define KONCE_KONCE_H

#include <stddef.h>
#include <stdint.h>

#define KONCE_VERSION_STRING "0.1.0"

enum {
	KONCE_KEY_BYTES = 32,     /* an X25519 public key, the durable identity of a peer */
	KONCE_KEY_TEXT_LEN = 43,  /* its text form: unpadded base64url (RFC 4648 section 5) */
	KONCE_DEFAULT_PORT = 7807 /* the node's documented default UDP port */
};

/* Public key text (docs/KEYS.md): 43 characters of unpadded base64url.  The caller allocates out.
 * konce_key_to_text always succeeds and returns 0.  konce_key_from_text returns 0, or -EINVAL for
 * any text that is not exactly the canonical form of a key (wrong length, a character outside the
 * base64url alphabet, whitespace, padding, non-zero trailing bits); key is then left zeroed. */
int konce_key_to_text(char out[KONCE_KEY_TEXT_LEN + 1], const uint8_t key[KONCE_KEY_BYTES]);
int konce_key_from_text(uint8_t key[KONCE_KEY_BYTES], const char *text);

#endif
