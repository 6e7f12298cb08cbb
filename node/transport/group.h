/* group.h - limited-circulation servers: the HELLO clue and the COOKIE mask.
 *
 * A server in this mode answers only clients that hold its group key.  The client proves it in the
 * HELLO with a clue; a HELLO without a valid clue is dropped silently, so a client without the
 * key learns nothing about who is behind the address, not even that a konce server is there.  The
 * COOKIE's transient key is XORed with a mask derived from the group key and the challenge, so
 * each cookie carries a use-once value that does not link cookies to one another (or to the same
 * server elsewhere) for anyone without the key.
 *
 *   clue = BLAKE2b-128(key = group key, client_cid || client_time u64 || nversions u8 || versions 16)
 *   mask = BLAKE2b-256(key = group key, "konce cookie mask" || challenge u64)
 */
#ifndef KONCE_GROUP_H
#define KONCE_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "node/transport/hs_packets.h"

void konce_group_clue(uint8_t clue[KONCE_WIRE_CLUE], const uint8_t key[KONCE_WIRE_KEY],
		      const uint8_t client_cid[KONCE_WIRE_CID], uint64_t client_time, const konce_versions *v);
/* Constant-time check of a HELLO's clue. */
bool konce_group_clue_ok(const konce_hello *h, const uint8_t key[KONCE_WIRE_KEY]);
/* epk ^= mask; the same call masks and unmasks. */
void konce_group_mask(uint8_t epk[KONCE_WIRE_KEY], const uint8_t key[KONCE_WIRE_KEY], uint64_t challenge);

#endif
