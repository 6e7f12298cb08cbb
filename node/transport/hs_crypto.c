/* hs_crypto.c - INITIATE seal (client) and open (server); see hs_crypto.h and keys.h. */
#include "node/transport/hs_crypto.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/transport/keys.h"

struct hs_secrets {
	uint8_t ee[32], es[32], se[32], k_box1[32], th[32], th2[32];
	uint8_t box1[KONCE_INIT_BOX1_PLAIN];
};

size_t konce_hs_initiate_seal(uint8_t out[KONCE_WIRE_MAX_DATAGRAM], const konce_initiate *head,
			      const uint8_t esk[KONCE_WIRE_KEY], const uint8_t s_epk[KONCE_WIRE_KEY],
			      const konce_identity *me, const uint8_t server_pk[KONCE_WIRE_KEY],
			      const uint8_t *frames, size_t flen, uint8_t k_c2s[KONCE_WIRE_KEY],
			      uint8_t k_s2c[KONCE_WIRE_KEY])
{
	if (flen > KONCE_WIRE_MAX_DATAGRAM - KONCE_INIT_MIN_SIZE)
		return 0;
	struct hs_secrets x;
	size_t len = 0;
	konce_initiate h = *head;
	crypto_scalarmult_base(h.client_epk, esk);
	konce_initiate_build_head(out, &h);
	if (crypto_scalarmult(x.ee, esk, s_epk) || crypto_scalarmult(x.es, esk, server_pk) ||
	    konce_identity_dh(me, x.se, s_epk))
		goto done;
	memcpy(x.box1, konce_identity_public(me), 32);
	memcpy(x.box1 + 32, server_pk, 32);
	wire_put64(x.box1 + 64, h.client_time);
	konce_keys_transcript(x.th, s_epk, out);
	konce_keys_box1(x.k_box1, x.ee, x.th);
	konce_aead_seal(out + KONCE_INIT_BOX1, x.box1, sizeof x.box1, out, KONCE_INIT_POW_NONCE, 0, x.k_box1);
	konce_keys_transcript2(x.th2, x.th, out + KONCE_INIT_BOX1);
	konce_keys_session(k_c2s, k_s2c, x.th2, x.ee, x.es, x.se);
	konce_aead_seal(out + KONCE_INIT_BOX2, frames, flen, out, KONCE_INIT_POW_NONCE, 1, k_c2s);
	len = KONCE_INIT_BOX2 + flen + KONCE_WIRE_TAG;
done:
	sodium_memzero(&x, sizeof x);
	return len;
}

static const konce_identity *find_id(const konce_identity *const *ids, unsigned nids, const uint8_t pk[32])
{
	for (unsigned i = 0; i < nids; i++)
		if (sodium_memcmp(konce_identity_public(ids[i]), pk, KONCE_WIRE_KEY) == 0)
			return ids[i];
	return NULL;
}

enum konce_hs_open_result konce_hs_initiate_open(const uint8_t *pkt, const konce_initiate *in,
						 const uint8_t s_esk[KONCE_WIRE_KEY],
						 const uint8_t s_epk[KONCE_WIRE_KEY],
						 const konce_identity *const *ids, unsigned nids,
						 uint8_t c_pub[KONCE_WIRE_KEY], const konce_identity **S,
						 uint8_t k_c2s[KONCE_WIRE_KEY], uint8_t k_s2c[KONCE_WIRE_KEY],
						 uint8_t plain[KONCE_WIRE_MAX_DATAGRAM])
{
	struct hs_secrets x;
	enum konce_hs_open_result r = KONCE_HS_OPEN_LOW_ORDER; /* or a non-canonical key (keys.h) */
	if (!konce_key_canonical(in->client_epk) || crypto_scalarmult(x.ee, s_esk, in->client_epk))
		goto done;
	konce_keys_transcript(x.th, s_epk, pkt);
	konce_keys_box1(x.k_box1, x.ee, x.th);
	r = KONCE_HS_OPEN_BAD_BOX1;
	if (konce_aead_open(x.box1, in->box1, KONCE_INIT_BOX1_PLAIN + KONCE_WIRE_TAG, pkt, KONCE_INIT_POW_NONCE, 0,
			    x.k_box1) ||
	    wire_get64(x.box1 + 64) != in->client_time)
		goto done;
	r = KONCE_HS_OPEN_UNKNOWN_SERVER;
	if (!(*S = find_id(ids, nids, x.box1 + 32)))
		goto done;
	r = KONCE_HS_OPEN_LOW_ORDER;
	if (!konce_key_canonical(x.box1) || konce_identity_dh(*S, x.es, in->client_epk) ||
	    crypto_scalarmult(x.se, s_esk, x.box1))
		goto done;
	konce_keys_transcript2(x.th2, x.th, in->box1);
	konce_keys_session(k_c2s, k_s2c, x.th2, x.ee, x.es, x.se);
	r = KONCE_HS_OPEN_BAD_BOX2;
	if (konce_aead_open(plain, in->box2, in->box2_len, pkt, KONCE_INIT_POW_NONCE, 1, k_c2s)) {
		sodium_memzero(k_c2s, KONCE_WIRE_KEY);
		sodium_memzero(k_s2c, KONCE_WIRE_KEY);
		goto done;
	}
	memcpy(c_pub, x.box1, KONCE_WIRE_KEY);
	r = KONCE_HS_OPEN_OK;
done:
	sodium_memzero(&x, sizeof x);
	return r;
}

size_t konce_hs_accept_seal(uint8_t out[KONCE_WIRE_MAX_DATAGRAM], const uint8_t client_cid[KONCE_WIRE_CID],
			    const uint8_t server_cid[KONCE_WIRE_CID], const uint8_t *frames, size_t flen,
			    const uint8_t k_s2c[KONCE_WIRE_KEY])
{
	konce_accept a;
	memset(&a, 0, sizeof a);
	memcpy(a.client_cid, client_cid, KONCE_WIRE_CID);
	memcpy(a.server_cid, server_cid, KONCE_WIRE_CID);
	size_t h = konce_accept_build_head(out, &a);
	konce_aead_seal(out + h, frames, flen, out, h, 1, k_s2c);
	return h + flen + KONCE_WIRE_TAG;
}

int konce_hs_accept_open(const uint8_t *pkt, const konce_accept *a, const uint8_t k_s2c[KONCE_WIRE_KEY],
			 uint8_t plain[KONCE_WIRE_MAX_DATAGRAM])
{
	if (a->box_len - KONCE_WIRE_TAG > KONCE_WIRE_MAX_PAYLOAD)
		return -EBADMSG;
	return konce_aead_open(plain, a->box, a->box_len, pkt, KONCE_ACCEPT_BOX, 1, k_s2c);
}
