/* keyfile.h - the secret key file (format and rules in docs/KEYS.md).
 *
 *     # konce secret key v1 - keep private
 *     secret: <43 characters: base64url of the 32-byte X25519 secret, stored clamped>
 *     public: <43 characters: the public key text>
 *
 * Exactly these three lines, each ending in "\n" (the last newline may be missing), and the secret
 * must be clamped (an unclamped one names the same key, so accepting it would give a key two texts).
 * The public line lets `konce pubkey` print the key without decoding the secret, and is checked
 * against the secret whenever the secret is loaded.
 *
 * The parser (konce_keyfile_parse) is pure and takes a buffer, so it can be fuzzed.  Load and save do
 * the file I/O and enforce the permission rules: a key file is created 0600 and atomically, and one
 * that group or others may read or write is refused, as ssh refuses such a key.  Every buffer that
 * held the secret is wiped.
 *
 * On failure the load calls write a one-line message to err (if err is not NULL) and return:
 *   -ENOENT   the file does not exist
 *   -EACCES   mode allows group/other access (the message names the mode and `chmod 600 FILE`),
 *             or open() was denied
 *   -EINVAL   not a regular file, bad format (the message names the line), or public line does not
 *             match the secret
 *   -EFBIG    larger than KONCE_KEYFILE_MAX bytes
 *   -ENOMEM, or another negative errno from the file system.
 */
#ifndef KONCE_KEYFILE_H
#define KONCE_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"
#include "node/transport/identity.h"

enum {
	KONCE_KEYFILE_MAX = 4096, /* a larger file is refused unread */
	/* the exact size of a file written by konce_keyfile_format, without the terminating NUL */
	KONCE_KEYFILE_LEN = 37 + (8 + KONCE_KEY_TEXT_LEN + 1) * 2,
};

/* Parses a key file held in buf[0..len).  The public key goes to pub.  If out is not NULL the secret
 * is decoded too, the identity built (the caller frees it) and its public key checked against the
 * public line; if out is NULL the secret line is checked for shape only and never decoded.
 * 0, -EINVAL (bad format or mismatch, message in err), -ENOMEM. */
int konce_keyfile_parse(const char *buf, size_t len, uint8_t pub[KONCE_KEY_BYTES], konce_identity **out,
			char *err, size_t errlen);

/* Writes the file's text for id into buf, which must hold KONCE_KEYFILE_LEN + 1 bytes and should be
 * sodium_malloc()ed since it receives the secret.  Returns KONCE_KEYFILE_LEN. */
size_t konce_keyfile_format(char *buf, const konce_identity *id);

/* Saves id to path: a 0600 temporary file in the same directory, fsync, then an atomic rename (and
 * an fsync of the directory).  Without force an existing path is left alone and -EEXIST returned;
 * the check and the rename are one atomic step.  0 or a negative errno. */
int konce_keyfile_save(const char *path, const konce_identity *id, bool force);

/* Loads the identity saved at path (the caller frees it).  0 or an error listed above. */
int konce_keyfile_load(const char *path, konce_identity **out, char *err, size_t errlen);

/* Reads only the public key of the key file at path; the same permission rules apply. */
int konce_keyfile_load_public(const char *path, uint8_t pub[KONCE_KEY_BYTES], char *err, size_t errlen);

#endif
