/* identity.h - durable X25519 identities.
 *
 * A node has one master secret.  By default a client shows each server a different durable key,
 * derived from the master secret and that server's public key, so servers cannot correlate one user
 * across servers; the caller can pick an explicit identity instead.
 *
 * Secrets live in sodium_malloc()ed memory (guard pages, mlock, no core dumps) and are wiped by
 * konce_identity_free().  The secret never leaves this module except through keyfile.c.
 */
#ifndef KONCE_IDENTITY_H
#define KONCE_IDENTITY_H

#include <stdint.h>

#include "node/base/env.h"

typedef struct konce_identity konce_identity;

/* New random identity (randomness from env).  0, -ENOMEM. */
int konce_identity_generate(konce_identity **out, const konce_env *env);
/* Identity from a 32-byte secret (clamped as X25519 requires).  0, -ENOMEM. */
int konce_identity_from_secret(konce_identity **out, const uint8_t secret[32]);
/* Wipes and frees; NULL is fine. */
void konce_identity_free(konce_identity *id);
/* The 32-byte public key; valid as long as id. */
const uint8_t *konce_identity_public(const konce_identity *id);
/* Per-server identity: secret = BLAKE2b-256(key = master secret, "konce per-server identity v1" ||
 * server_pk).  0, -ENOMEM. */
int konce_identity_derive_for(const konce_identity *master, const uint8_t server_pk[32],
			      konce_identity **out);
/* out = X25519(secret, peer_pk).  -EINVAL if the result is all zero (low-order peer key). */
int konce_identity_dh(const konce_identity *id, uint8_t out[32], const uint8_t peer_pk[32]);
/* For keyfile.c only: the secret bytes, to be written to a 0600 file. */
const uint8_t *konce_identity_secret_(const konce_identity *id);

#endif
