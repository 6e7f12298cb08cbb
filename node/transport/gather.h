/* gather.h - sealing a payload whose message data stays where the message holds it.
 *
 * A DATA packet's plaintext is the frames the builder writes (ACK, TIMESTAMP, the FRAGMENT frames'
 * headers) with each fragment's bytes between them.  Copying those bytes into the packet before
 * sealing it was ~9% of a bulk sender's CPU (BENCH.md).  Instead the builder leaves a hole where
 * each fragment's data goes and records it here; konce_aead_seal_sub_gather() encrypts the holes
 * from the message and the rest from the packet, into one contiguous ciphertext.
 *
 * The result is byte for byte what konce_aead_seal_sub() (keys.h) gives for the plaintext with the
 * holes filled: ChaCha20-Poly1305 (RFC 8439) over a 12-byte nonce under the HChaCha20 subkey,
 * composed here from libsodium's ChaCha20 and Poly1305 primitives, because its AEAD takes one
 * contiguous plaintext.  The keystream is consumed in whole 64-byte blocks, as there: a stretch
 * that starts or ends inside a block goes through a 64-byte buffer that is wiped after use.
 *
 * Invariants: holes are in increasing order, do not overlap, and lie within [0, len); a gather
 * that breaks this is refused (false) before anything is written.
 */
#ifndef KONCE_GATHER_H
#define KONCE_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { KONCE_GATHER_MAX = 4 }; /* a packet's fragments: at most its recorded refs (recovery.h) */

typedef struct konce_gather {
	unsigned n;
	struct {
		size_t off;         /* where the bytes go in the plaintext */
		size_t len;
		const uint8_t *src; /* the message's bytes, the caller's until the seal returns */
	} hole[KONCE_GATHER_MAX];
} konce_gather;

/* Adds a hole; false if the gather is full or the hole is not after the last one. */
bool konce_gather_add(konce_gather *g, size_t off, const uint8_t *src, size_t len);

/* Seals plain[0, len), with g's holes read from their sources instead, into out[0, len) and the
 * tag after it.  plain may be out (the holes' bytes in out are then never read); g may be NULL or
 * empty.  Returns false, with out untouched, if g's holes are out of order or past len. */
bool konce_aead_seal_sub_gather(uint8_t *out, const uint8_t *plain, size_t len, const konce_gather *g,
				const uint8_t *ad, size_t adlen, uint64_t pn, const uint8_t sub[32]);

#endif
