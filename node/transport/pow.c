/* pow.c - proof of work: BLAKE2b-256 of the whole datagram ends in `bits` zero bits.
 *
 * "Ends in" counts from the last hash byte's least significant bit upwards, then the byte before
 * it, and so on: for bits = 12, hash[31] == 0 and (hash[30] & 0x0f) == 0.
 *
 * The solver hashes the whole datagram per try.  Caching the hash state after the bytes before the
 * nonce would only pay if whole 128-byte BLAKE2b blocks preceded it; in INITIATE the nonce sits at
 * byte 120, inside the first block, so there is nothing to cache.
 */
#include "node/transport/pow.h"

#include <errno.h>
#include <sodium.h>

#include "node/base/wire.h"

enum { POW_HASH = 32 };

static bool hash_ends_in_zeros(const uint8_t h[POW_HASH], unsigned bits)
{
	if (bits > 8 * POW_HASH)
		return false;
	unsigned i = POW_HASH - 1;
	for (; bits >= 8; bits -= 8, i--)
		if (h[i] != 0)
			return false;
	return bits == 0 || (h[i] & ((1u << bits) - 1)) == 0;
}

bool konce_pow_check(const uint8_t *pkt, size_t len, unsigned bits)
{
	if (bits == 0)
		return true;
	uint8_t h[POW_HASH];
	crypto_generichash(h, sizeof(h), pkt, len, NULL, 0);
	return hash_ends_in_zeros(h, bits);
}

int konce_pow_solve(uint8_t *pkt, size_t len, size_t nonce_off, unsigned bits, uint64_t start,
		    uint64_t max_tries, uint64_t *tries)
{
	if (bits > KONCE_WIRE_POW_MAX_BITS || nonce_off > len || len - nonce_off < 8)
		return -EINVAL;
	uint64_t n = 0;
	for (;;) {
		if (max_tries && n == max_tries) {
			if (tries)
				*tries = n;
			return -ETIMEDOUT;
		}
		wire_put64(pkt + nonce_off, start + n); /* wraps mod 2^64 */
		n++;
		if (konce_pow_check(pkt, len, bits))
			break;
	}
	if (tries)
		*tries = n;
	return 0;
}
