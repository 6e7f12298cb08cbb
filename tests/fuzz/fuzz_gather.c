/* fuzz_gather.c - the gather seal (gather.h) against libsodium's AEAD.
 *
 * Input: byte 0 is the associated data's length (mod 33), bytes 1-8 the packet number, then up to
 * KONCE_GATHER_MAX hole descriptions of 4 bytes (offset step and length, 16 bits each, big-endian)
 * while byte 9 says how many, and the rest is the plaintext.  Each hole's bytes come from a fixed
 * source.  The gather seal, in place and apart, must give what konce_aead_seal_sub gives for the
 * plaintext with the holes filled, or refuse a gather that does not fit, leaving out untouched.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/wire.h"
#include "node/transport/gather.h"
#include "node/transport/keys.h"

enum { MAXLEN = 9216 };

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t src[MAXLEN], key[32], full[MAXLEN], want[MAXLEN + 16], got[MAXLEN + 16], inplace[MAXLEN + 16];
	static int ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		for (size_t i = 0; i < sizeof src; i++)
			src[i] = (uint8_t)(i * 29 + 3);
		memset(key, 0x42, sizeof key);
		ready = 1;
	}
	if (n < 10)
		return 0;
	size_t adlen = d[0] % 33;
	uint64_t pn = wire_get64(d + 1);
	unsigned nholes = d[9] % (KONCE_GATHER_MAX + 1);
	d += 10, n -= 10;
	if (n < 4 * (size_t)nholes)
		return 0;
	const uint8_t *desc = d;
	d += 4 * nholes, n -= 4 * nholes;
	size_t len = n > MAXLEN ? MAXLEN : n;
	static const uint8_t ad[32] = {1, 2, 3};

	konce_gather g = {0};
	size_t at = 0;
	bool fits = true;
	for (unsigned i = 0; i < nholes; i++) {
		size_t off = at + wire_get16(desc + 4 * i), hl = wire_get16(desc + 4 * i + 2);
		if (hl > MAXLEN)
			hl %= MAXLEN;
		if (!konce_gather_add(&g, off, src, hl))
			abort(); /* in order by construction */
		at = off + hl;
		fits = fits && at <= len;
	}

	memset(got, 0x5a, sizeof got);
	bool ok = konce_aead_seal_sub_gather(got, d, len, &g, ad, adlen, pn, key);
	if (ok != fits)
		abort();
	if (!ok) {
		for (size_t i = 0; i < sizeof got; i++)
			if (got[i] != 0x5a)
				abort(); /* refused, yet written */
		return 0;
	}
	memcpy(full, d, len);
	memcpy(inplace, d, len);
	for (unsigned i = 0; i < g.n; i++)
		memcpy(full + g.hole[i].off, g.hole[i].src, g.hole[i].len);
	konce_aead_seal_sub(want, full, len, ad, adlen, pn, key);
	if (memcmp(got, want, len + 16))
		abort();
	if (!konce_aead_seal_sub_gather(inplace, inplace, len, &g, ad, adlen, pn, key) || memcmp(inplace, want, len + 16))
		abort();
	return 0;
}
