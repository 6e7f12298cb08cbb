/* cookie.h - the server's stateless cookie: rotating secrets, transient keys and the cookie MAC.
 *
 * A generation pairs a cookie MAC secret with a transient X25519 key pair; both rotate together
 * every KONCE_KEY_ROTATE_MS, and the previous generation is still accepted for one period.  The
 * key_id byte in COOKIE and INITIATE names the generation.  Generations live in sodium_malloc()ed
 * memory and a retired generation is wiped.  Nothing here allocates after konce_cookie_keys_new().
 */
#ifndef KONCE_COOKIE_H
#define KONCE_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/env.h"
#include "node/base/wire.h"

typedef struct konce_cookie_gen {
	uint8_t key_id;
	uint64_t born_us;
	uint8_t secret[KONCE_WIRE_KEY]; /* cookie MAC key */
	uint8_t esk[KONCE_WIRE_KEY];    /* transient secret key */
	uint8_t epk[KONCE_WIRE_KEY];    /* transient public key */
} konce_cookie_gen;

typedef struct konce_cookie_keys konce_cookie_keys;

/* Creates the first generation (random key_id, secrets from env).  0, -ENOMEM, or -EIO if
 * libsodium cannot initialise.  k remembers env for konce_cookie_keys_free(). */
int konce_cookie_keys_new(konce_cookie_keys **out, const konce_env *env, uint64_t now_us);
void konce_cookie_keys_free(konce_cookie_keys *k);
/* Rotates when due: a new current generation (key_id + 1), the old current one becomes previous,
 * the old previous one is wiped.  Returns the time of the next rotation (a full period after this
 * one, even if the tick came late).  Never allocates. */
uint64_t konce_cookie_keys_tick(konce_cookie_keys *k, const konce_env *env, uint64_t now_us);
const konce_cookie_gen *konce_cookie_keys_current(const konce_cookie_keys *k);
/* The current or previous generation with this id, else NULL. */
const konce_cookie_gen *konce_cookie_keys_get(const konce_cookie_keys *k, uint8_t key_id);

/* Everything the cookie MAC binds (see KONCE_COOKIE_MAC_INPUT in wire.h). */
typedef struct konce_cookie_params {
	konce_addr client;
	uint16_t version;
	uint8_t nversions;
	uint8_t versions[2 * KONCE_WIRE_MAX_VERSIONS]; /* as on the wire */
	uint8_t client_cid[KONCE_WIRE_CID];
	uint64_t client_time;
	uint8_t clue[KONCE_WIRE_CLUE];
	uint64_t challenge;
	uint64_t server_time;
	uint8_t pow_bits;
	uint8_t key_id;
} konce_cookie_params;

/* BLAKE2b-128 keyed by secret over the KONCE_COOKIE_MAC_INPUT bytes assembled from p. */
void konce_cookie_mac(uint8_t mac[KONCE_WIRE_MAC], const uint8_t secret[KONCE_WIRE_KEY],
		      const konce_cookie_params *p);
/* Constant-time comparison against a recomputed MAC. */
bool konce_cookie_mac_ok(const uint8_t mac[KONCE_WIRE_MAC], const uint8_t secret[KONCE_WIRE_KEY],
			 const konce_cookie_params *p);

#endif
