/* keys.h - the handshake key schedule and the session AEAD, in one place.
 *
 *   th     = BLAKE2b-256("konce handshake v1" || s_epk || INITIATE[0, KONCE_INIT_POW_NONCE))
 *   k_box1 = BLAKE2b-256(key = ee, "box1" || th)
 *   th2    = BLAKE2b-256(th || box1 ciphertext and tag)
 *   prk    = BLAKE2b-256(key = th2, ee || es || se)
 *   k_c2s  = BLAKE2b-256(key = prk, "c2s"),  k_s2c = BLAKE2b-256(key = prk, "s2c")
 *   rekey:   k' = BLAKE2b-256(key = k, "rekey")
 * ee = X25519(client transient, server transient), es = X25519(client transient, server durable),
 * se = X25519(client durable, server transient).  AEAD: XChaCha20-Poly1305 (IETF), nonce = 16 zero
 * bytes || packet number u64 big-endian.  Callers wipe every intermediate with sodium_memzero.
 */
#ifndef KONCE_KEYS_H
#define KONCE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/wire.h"

#define KONCE_KEYS_LABEL "konce handshake v1"

void konce_keys_transcript(uint8_t th[32], const uint8_t s_epk[32], const uint8_t *init_head);
void konce_keys_box1(uint8_t k_box1[32], const uint8_t ee[32], const uint8_t th[32]);
void konce_keys_transcript2(uint8_t th2[32], const uint8_t th[32], const uint8_t *box1_ct);
/* k_c2s and k_s2c from th2 and the three DH results; wipes prk. */
void konce_keys_session(uint8_t k_c2s[32], uint8_t k_s2c[32], const uint8_t th2[32], const uint8_t ee[32],
			const uint8_t es[32], const uint8_t se[32]);
/* k = BLAKE2b-256(key = k, "rekey"), in place (out may equal k). */
void konce_keys_rekey(uint8_t out[32], const uint8_t k[32]);

/* Seals plain[0, len) into out (len + 16 bytes); out may equal plain. */
void konce_aead_seal(uint8_t *out, const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
		     uint64_t pn, const uint8_t key[32]);
/* Opens ct[0, ctlen) into out (ctlen - 16 bytes).  0, or -EBADMSG (out is then zeroed). */
int konce_aead_open(uint8_t *out, const uint8_t *ct, size_t ctlen, const uint8_t *ad, size_t adlen,
		    uint64_t pn, const uint8_t key[32]);

/* XChaCha20-Poly1305 with konce's nonces, which are all 16 zero bytes || a u64 (docs/PROTOCOL.md):
 * XChaCha20's subkey, HChaCha20(key, the nonce's first 16 bytes), is then the same for every packet
 * under a key, so a session derives it once per key (konce_aead_subkey) and seals and opens with
 * ChaCha20-Poly1305 (IETF) under the subkey and the nonce 4 zero bytes || the u64: byte for byte
 * what konce_aead_seal/open compute, without a HChaCha20 per packet. */
void konce_aead_subkey(uint8_t sub[32], const uint8_t key[32]);
void konce_aead_seal_sub(uint8_t *out, const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
			 uint64_t pn, const uint8_t sub[32]);
int konce_aead_open_sub(uint8_t *out, const uint8_t *ct, size_t ctlen, const uint8_t *ad, size_t adlen,
			uint64_t pn, const uint8_t sub[32]);

/* True if pk is the canonical encoding of an X25519 u-coordinate: bit 255 clear and the value below
 * p = 2^255 - 19.  X25519 ignores bit 255 and reduces mod p, so every other encoding names the same
 * point as a canonical one: one secret would have several public keys (identities).  Every peer key
 * that enters (handshake, key text, connect) is checked with this. */
bool konce_key_canonical(const uint8_t pk[32]);

#endif
