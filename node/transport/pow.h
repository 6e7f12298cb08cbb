/* pow.h - proof of work for INITIATE.
 *
 * The proof is BLAKE2b-256 over the whole datagram, with an 8-byte nonce field inside it, ending in
 * `bits` zero bits: the low bits of the last byte first, then the byte before it, and so on.
 * Checking costs one hash; solving costs about 2^bits hashes.
 */
#ifndef KONCE_POW_H
#define KONCE_POW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* true if the hash of pkt[0, len) ends in `bits` zero bits (bits = 0 is always true, bits > 256
 * never). */
bool konce_pow_check(const uint8_t *pkt, size_t len, unsigned bits);
/* Varies the u64 at pkt + nonce_off (starting from `start`) until the check holds.  Tries at most
 * max_tries nonces (0 = unbounded).  Returns 0 with *tries set, -ETIMEDOUT if max_tries ran out,
 * -EINVAL if bits > KONCE_WIRE_POW_MAX_BITS or the nonce field lies outside pkt (pkt untouched).
 * The nonce is written big-endian and wraps mod 2^64; on -ETIMEDOUT, *tries = max_tries and a
 * later call with start + max_tries continues the search.  tries may be NULL. */
int konce_pow_solve(uint8_t *pkt, size_t len, size_t nonce_off, unsigned bits, uint64_t start,
		    uint64_t max_tries, uint64_t *tries);

#endif
