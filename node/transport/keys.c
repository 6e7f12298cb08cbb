/* keys.c - BLAKE2b key schedule and XChaCha20-Poly1305 wrappers (see keys.h). */
#include "node/transport/keys.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

void konce_keys_transcript(uint8_t th[32], const uint8_t s_epk[32], const uint8_t *init_head)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)KONCE_KEYS_LABEL, sizeof KONCE_KEYS_LABEL - 1);
	crypto_generichash_update(&st, s_epk, 32);
	crypto_generichash_update(&st, init_head, KONCE_INIT_POW_NONCE);
	crypto_generichash_final(&st, th, 32);
}

void konce_keys_box1(uint8_t k_box1[32], const uint8_t ee[32], const uint8_t th[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, ee, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)"box1", 4);
	crypto_generichash_update(&st, th, 32);
	crypto_generichash_final(&st, k_box1, 32);
	sodium_memzero(&st, sizeof st);
}

void konce_keys_transcript2(uint8_t th2[32], const uint8_t th[32], const uint8_t *box1_ct)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, th, 32);
	crypto_generichash_update(&st, box1_ct, KONCE_INIT_BOX1_PLAIN + KONCE_WIRE_TAG);
	crypto_generichash_final(&st, th2, 32);
}

void konce_keys_session(uint8_t k_c2s[32], uint8_t k_s2c[32], const uint8_t th2[32], const uint8_t ee[32],
			const uint8_t es[32], const uint8_t se[32])
{
	uint8_t prk[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, th2, 32, 32);
	crypto_generichash_update(&st, ee, 32);
	crypto_generichash_update(&st, es, 32);
	crypto_generichash_update(&st, se, 32);
	crypto_generichash_final(&st, prk, 32);
	sodium_memzero(&st, sizeof st);
	crypto_generichash(k_c2s, 32, (const uint8_t *)"c2s", 3, prk, 32);
	crypto_generichash(k_s2c, 32, (const uint8_t *)"s2c", 3, prk, 32);
	sodium_memzero(prk, sizeof prk);
}

void konce_keys_rekey(uint8_t out[32], const uint8_t k[32])
{
	uint8_t tmp[32];
	crypto_generichash(tmp, 32, (const uint8_t *)"rekey", 5, k, 32);
	memcpy(out, tmp, 32);
	sodium_memzero(tmp, sizeof tmp);
}

/* Both AEADs take the packet number big-endian in the nonce's last 8 bytes, zeros before it:
 * 24-byte XChaCha20 nonces, and 12-byte ChaCha20 nonces under a precomputed HChaCha20 subkey. */
typedef int aead_encrypt_fn(unsigned char *c, unsigned long long *clen, const unsigned char *m,
			    unsigned long long mlen, const unsigned char *ad, unsigned long long adlen,
			    const unsigned char *nsec, const unsigned char *npub, const unsigned char *k);
typedef int aead_decrypt_fn(unsigned char *m, unsigned long long *mlen, unsigned char *nsec,
			    const unsigned char *c, unsigned long long clen, const unsigned char *ad,
			    unsigned long long adlen, const unsigned char *npub, const unsigned char *k);

enum { NONCE_MAX = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES };

static inline void make_nonce(uint8_t n[NONCE_MAX], size_t nlen, uint64_t pn)
{
	memset(n, 0, nlen - 8);
	wire_put64(n + nlen - 8, pn);
}

static inline void aead_seal(aead_encrypt_fn *enc, size_t nlen, uint8_t *out, const uint8_t *plain, size_t len,
			     const uint8_t *ad, size_t adlen, uint64_t pn, const uint8_t key[32])
{
	uint8_t n[NONCE_MAX];
	make_nonce(n, nlen, pn);
	enc(out, NULL, plain, len, ad, adlen, NULL, n, key);
}

/* A forged or damaged packet leaves nothing of its would-be plaintext in out. */
static inline int aead_open(aead_decrypt_fn *dec, size_t nlen, uint8_t *out, const uint8_t *ct, size_t ctlen,
			    const uint8_t *ad, size_t adlen, uint64_t pn, const uint8_t key[32])
{
	uint8_t n[NONCE_MAX];
	if (ctlen < KONCE_WIRE_TAG)
		return -EBADMSG;
	make_nonce(n, nlen, pn);
	if (dec(out, NULL, NULL, ct, ctlen, ad, adlen, n, key) != 0) {
		sodium_memzero(out, ctlen - KONCE_WIRE_TAG);
		return -EBADMSG;
	}
	return 0;
}

void konce_aead_seal(uint8_t *out, const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
		     uint64_t pn, const uint8_t key[32])
{
	aead_seal(crypto_aead_xchacha20poly1305_ietf_encrypt, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, out,
		  plain, len, ad, adlen, pn, key);
}

int konce_aead_open(uint8_t *out, const uint8_t *ct, size_t ctlen, const uint8_t *ad, size_t adlen,
		    uint64_t pn, const uint8_t key[32])
{
	return aead_open(crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
			 out, ct, ctlen, ad, adlen, pn, key);
}

void konce_aead_subkey(uint8_t sub[32], const uint8_t key[32])
{
	static const uint8_t zero[16];
	crypto_core_hchacha20(sub, zero, key, NULL);
}

void konce_aead_seal_sub(uint8_t *out, const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
			 uint64_t pn, const uint8_t sub[32])
{
	aead_seal(crypto_aead_chacha20poly1305_ietf_encrypt, crypto_aead_chacha20poly1305_ietf_NPUBBYTES, out, plain,
		  len, ad, adlen, pn, sub);
}

int konce_aead_open_sub(uint8_t *out, const uint8_t *ct, size_t ctlen, const uint8_t *ad, size_t adlen,
			uint64_t pn, const uint8_t sub[32])
{
	return aead_open(crypto_aead_chacha20poly1305_ietf_decrypt, crypto_aead_chacha20poly1305_ietf_NPUBBYTES, out,
			 ct, ctlen, ad, adlen, pn, sub);
}

bool konce_key_canonical(const uint8_t pk[32])
{
	if (pk[31] & 0x80)
		return false;
	/* p = 2^255 - 19 is ed ff .. ff 7f little-endian: reject p .. 2^255 - 1 */
	if (pk[31] != 0x7f || pk[0] < 0xed)
		return true;
	for (int i = 1; i < 31; i++)
		if (pk[i] != 0xff)
			return true;
	return false;
}
