/* gather.c - ChaCha20-Poly1305 over a plaintext in pieces (see gather.h). */
#include "node/transport/gather.h"

#include <sodium.h>
#include <string.h>

#include "node/base/wire.h"

enum { BLOCK = 64 };

bool konce_gather_add(konce_gather *g, size_t off, const uint8_t *src, size_t len)
{
	if (g->n >= KONCE_GATHER_MAX)
		return false;
	if (g->n && off < g->hole[g->n - 1].off + g->hole[g->n - 1].len)
		return false;
	g->hole[g->n].off = off;
	g->hole[g->n].len = len;
	g->hole[g->n].src = src;
	g->n++;
	return true;
}

/* The ciphertext written so far is out[0, at + fill); the last fill bytes' plaintext waits in
 * buf until its block is whole (or the payload ends), so each keystream block is made once. */
typedef struct {
	uint8_t *out;
	size_t at; /* where buf's block starts in out: a multiple of BLOCK */
	size_t fill;
	uint8_t buf[BLOCK];
	const uint8_t *nonce, *key;
} stream;

static uint32_t counter(size_t at) { return 1 + (uint32_t)(at / BLOCK); } /* block 0 is Poly1305's key */

static void flush(stream *st)
{
	crypto_stream_chacha20_ietf_xor_ic(st->buf, st->buf, st->fill, st->nonce, counter(st->at), st->key);
	memcpy(st->out + st->at, st->buf, st->fill);
	st->at += st->fill;
	st->fill = 0;
}

static void put(stream *st, const uint8_t *in, size_t len)
{
	while (len) {
		if (st->fill || len < BLOCK) {
			size_t k = BLOCK - st->fill < len ? BLOCK - st->fill : len;
			memcpy(st->buf + st->fill, in, k);
			st->fill += k;
			in += k;
			len -= k;
			if (st->fill == BLOCK)
				flush(st);
			continue;
		}
		/* block-aligned: straight from the source into out (in place when in == out + at) */
		size_t whole = len / BLOCK * BLOCK;
		crypto_stream_chacha20_ietf_xor_ic(st->out + st->at, in, whole, st->nonce, counter(st->at), st->key);
		st->at += whole;
		in += whole;
		len -= whole;
	}
}

static void pad16(crypto_onetimeauth_poly1305_state *mac, size_t len)
{
	static const uint8_t zero[16];
	crypto_onetimeauth_poly1305_update(mac, zero, (16 - len % 16) % 16);
}

static void put_len(crypto_onetimeauth_poly1305_state *mac, size_t len)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)len >> (8 * i));
	crypto_onetimeauth_poly1305_update(mac, le, sizeof le);
}

bool konce_aead_seal_sub_gather(uint8_t *out, const uint8_t *plain, size_t len, const konce_gather *g,
				const uint8_t *ad, size_t adlen, uint64_t pn, const uint8_t sub[32])
{
	unsigned holes = g ? g->n : 0;
	size_t end = 0;
	for (unsigned i = 0; i < holes; i++) {
		if (g->hole[i].off < end || g->hole[i].len > len || g->hole[i].off > len - g->hole[i].len)
			return false;
		end = g->hole[i].off + g->hole[i].len;
	}
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
	wire_put64(nonce + sizeof nonce - 8, pn);
	stream st = {.out = out, .nonce = nonce, .key = sub};
	size_t at = 0;
	for (unsigned i = 0; i < holes; i++) {
		put(&st, plain + at, g->hole[i].off - at);
		put(&st, g->hole[i].src, g->hole[i].len);
		at = g->hole[i].off + g->hole[i].len;
	}
	put(&st, plain + at, len - at);
	if (st.fill)
		flush(&st);
	sodium_memzero(st.buf, sizeof st.buf); /* keystream, and plaintext */

	uint8_t block0[BLOCK];
	crypto_onetimeauth_poly1305_state mac;
	crypto_stream_chacha20_ietf(block0, sizeof block0, nonce, sub);
	crypto_onetimeauth_poly1305_init(&mac, block0);
	sodium_memzero(block0, sizeof block0);
	crypto_onetimeauth_poly1305_update(&mac, ad, adlen);
	pad16(&mac, adlen);
	crypto_onetimeauth_poly1305_update(&mac, out, len);
	pad16(&mac, len);
	put_len(&mac, adlen);
	put_len(&mac, len);
	crypto_onetimeauth_poly1305_final(&mac, out + len);
	sodium_memzero(&mac, sizeof mac);
	return true;
}
