/* stun_limit.h - how many bytes a STUN responder may send beyond what it received, per source.
 *
 * A Binding answer is larger than its request (XOR-MAPPED, MAPPED, RESPONSE-ORIGIN, OTHER,
 * SOFTWARE, FINGERPRINT: 4 to 7 times a bare 20-byte request), and its source address is not
 * proven, so an open responder is a reflector.  Requiring the client to pad its request (RFC 5780's
 * PADDING) would refuse the standard clients a NAT probe is meant to serve, so instead each source
 * IP (an IPv6 /64 counts as one) has a token bucket of *excess* bytes: an answer no larger than its
 * request is always allowed; a larger one spends (answer - request) tokens, refilled at
 * KONCE_STUN_LIMIT_RATE bytes per second up to KONCE_STUN_LIMIT_BURST.  A spoofed flood at one
 * victim therefore reflects at most its own size plus the refill.  Sources hash (keyed, so they
 * cannot aim at one slot) into a fixed table; sources that share a slot share its bucket, which
 * errs on the side of answering less.  Sans-I/O: the caller passes the time.
 */
#ifndef KONCE_STUN_LIMIT_H
#define KONCE_STUN_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

enum {
	KONCE_STUN_LIMIT_SLOTS = 1024,
	KONCE_STUN_LIMIT_BURST = 2048, /* excess bytes a fresh source may get: a full NAT test */
	KONCE_STUN_LIMIT_RATE = 256,   /* excess bytes per second afterwards */
};

typedef struct konce_stun_limit {
	uint8_t key[16];
	struct {
		uint32_t tokens;
		uint64_t at_us; /* last refill; 0 = never used */
	} slot[KONCE_STUN_LIMIT_SLOTS];
} konce_stun_limit;

/* key: 16 random bytes (copied). */
void konce_stun_limit_init(konce_stun_limit *l, const uint8_t key[16]);
/* May an answer of answer_len bytes go to src, whose request had request_len bytes?  Spends the
 * excess when it says yes. */
bool konce_stun_limit_allow(konce_stun_limit *l, const konce_addr *src, size_t request_len, size_t answer_len,
			    uint64_t now_us);

#endif
