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

#endif
