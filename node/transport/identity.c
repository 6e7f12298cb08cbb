/* identity.c - durable X25519 identities (see identity.h).
 *
 * The whole konce_identity, public half included, is one sodium_malloc() block: guard pages on both
 * sides, mlock()ed so it is never swapped (checked: node/base/secmem.h), excluded from core dumps, and
 * zeroed when freed.
 * The secret is stored clamped, so the bytes a key file holds are exactly the scalar in use and
 * loading a saved key gives back the same identity, bit for bit.
 */
#include "node/transport/identity.h"
#include "node/base/secmem.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

struct konce_identity {
	uint8_t secret[crypto_scalarmult_BYTES];
	uint8_t public[crypto_scalarmult_BYTES];
};

static const char derive_label[] = "konce per-server identity v1";

static konce_identity *identity_new(void)
{
	return konce_secmem_alloc(sizeof(konce_identity), NULL); /* NULL too if it cannot be locked */
}

/* Clamps id->secret in place and computes the public key from it. */
static void identity_finish(konce_identity *id)
{
	id->secret[0] &= 248;
	id->secret[31] &= 127;
	id->secret[31] |= 64;
	crypto_scalarmult_base(id->public, id->secret);
}

int konce_identity_generate(konce_identity **out, const konce_env *env)
{
	konce_identity *id = identity_new();
	if (!id)
		return -ENOMEM;
	konce_env_random(env, id->secret, sizeof(id->secret));
	identity_finish(id);
	*out = id;
	return 0;
}

int konce_identity_from_secret(konce_identity **out, const uint8_t secret[32])
{
	konce_identity *id = identity_new();
	if (!id)
		return -ENOMEM;
	memcpy(id->secret, secret, sizeof(id->secret));
	identity_finish(id);
	*out = id;
	return 0;
}

void konce_identity_free(konce_identity *id)
{
	if (id)
		konce_secmem_free(id, sizeof *id); /* zeroes the block before unmapping it */
}

const uint8_t *konce_identity_public(const konce_identity *id) { return id->public; }

const uint8_t *konce_identity_secret_(const konce_identity *id) { return id->secret; }

int konce_identity_derive_for(const konce_identity *master, const uint8_t server_pk[32],
			      konce_identity **out)
{
	/* The message is public (label and server key); only the BLAKE2b key is secret. */
	uint8_t msg[sizeof(derive_label) - 1 + 32];
	memcpy(msg, derive_label, sizeof(derive_label) - 1);
	memcpy(msg + sizeof(derive_label) - 1, server_pk, 32);

	konce_identity *id = identity_new();
	if (!id)
		return -ENOMEM;
	/* hash straight into the new block so the derived secret never touches the stack */
	crypto_generichash_blake2b(id->secret, sizeof(id->secret), msg, sizeof(msg), master->secret,
				   sizeof(master->secret));
	identity_finish(id);
	*out = id;
	return 0;
}

int konce_identity_dh(const konce_identity *id, uint8_t out[32], const uint8_t peer_pk[32])
{
	/* libsodium already fails on an all-zero result; check again so the rule does not depend on
	 * the library version. */
	if (crypto_scalarmult(out, id->secret, peer_pk) != 0 || sodium_is_zero(out, 32)) {
		sodium_memzero(out, 32);
		return -EINVAL;
	}
	return 0;
}
