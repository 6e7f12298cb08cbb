/* hs_crypto.h - the handshake's cryptography as two pure functions, one per side, so the endpoint
 * and the test vectors run exactly the same code.  Key schedule: keys.h.
 *
 * All secrets (DH results, k_box1, prk) live on the stack inside these calls and are wiped before
 * they return; the caller gets only the two session keys and wipes them once stored.
 */
#ifndef KONCE_HS_CRYPTO_H
#define KONCE_HS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"

/* Client: writes a whole INITIATE into out from head (its client_epk is ignored: computed from
 * esk), sealing box1 (me's public key, server_pk, head->client_time) and box2 (frames[0, flen),
 * flen <= KONCE_WIRE_MAX_DATAGRAM - KONCE_INIT_MIN_SIZE) under the keys of ee, es and se.  The
 * proof of work is not solved here (the pow nonce is head->pow_nonce; it is outside both boxes'
 * associated data, so solving afterwards changes nothing they cover).
 * Returns the INITIATE length, or 0 if a DH result is all zero (low-order server key) or flen is
 * too large. */
size_t konce_hs_initiate_seal(uint8_t out[KONCE_WIRE_MAX_DATAGRAM], const konce_initiate *head,
			      const uint8_t esk[KONCE_WIRE_KEY], const uint8_t s_epk[KONCE_WIRE_KEY],
			      const konce_identity *me, const uint8_t server_pk[KONCE_WIRE_KEY],
			      const uint8_t *frames, size_t flen, uint8_t k_c2s[KONCE_WIRE_KEY],
			      uint8_t k_s2c[KONCE_WIRE_KEY]);

enum konce_hs_open_result {
	KONCE_HS_OPEN_OK = 0,
	KONCE_HS_OPEN_LOW_ORDER,      /* a DH result was all zero, or a key was not canonical */
	KONCE_HS_OPEN_BAD_BOX1,       /* box1 did not authenticate, or its client time differs */
	KONCE_HS_OPEN_UNKNOWN_SERVER, /* box1 asks for a durable key we do not hold */
	KONCE_HS_OPEN_BAD_BOX2,       /* box2 did not authenticate under the derived key */
};

/* Server: opens a parsed INITIATE (in, from konce_initiate_parse(pkt)) with the cookie
 * generation's transient pair and the durable keys we answer for.  On OK: c_pub is the client's
 * durable key, *S the identity it asked for, plain[0, in->box2_len - 16) box2's frames. */
enum konce_hs_open_result konce_hs_initiate_open(const uint8_t *pkt, const konce_initiate *in,
						 const uint8_t s_esk[KONCE_WIRE_KEY],
						 const uint8_t s_epk[KONCE_WIRE_KEY],
						 const konce_identity *const *ids, unsigned nids,
						 uint8_t c_pub[KONCE_WIRE_KEY], const konce_identity **S,
						 uint8_t k_c2s[KONCE_WIRE_KEY], uint8_t k_s2c[KONCE_WIRE_KEY],
						 uint8_t plain[KONCE_WIRE_MAX_DATAGRAM]);

/* Server: the ACCEPT, head and the server's first session packet (pn 1 under k_s2c) carrying
 * frames[0, flen) (flen <= KONCE_WIRE_MAX_PAYLOAD).  Returns its length. */
size_t konce_hs_accept_seal(uint8_t out[KONCE_WIRE_MAX_DATAGRAM], const uint8_t client_cid[KONCE_WIRE_CID],
			    const uint8_t server_cid[KONCE_WIRE_CID], const uint8_t *frames, size_t flen,
			    const uint8_t k_s2c[KONCE_WIRE_KEY]);
/* Client: opens a parsed ACCEPT (a, from konce_accept_parse(pkt)) into plain; 0 or -EBADMSG. */
int konce_hs_accept_open(const uint8_t *pkt, const konce_accept *a, const uint8_t k_s2c[KONCE_WIRE_KEY],
			 uint8_t plain[KONCE_WIRE_MAX_DATAGRAM]);

#endif
