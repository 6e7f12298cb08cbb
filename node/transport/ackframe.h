/* ackframe.h - the ACK frame: which packets arrived, how late the ack is, and how much more the
 * receiver will accept; and the TIMESTAMP frame whose delay ACK_OWD reports.
 *
 * An ack lists the received packet numbers as ranges, newest first.  On the wire (all varints,
 * node/base/varint.h; byte diagram in docs/PROTOCOL.md section 11):
 *
 *   type 0x10 | largest | ack delay >> 3 | credit | first range | range count |
 *   (gap | length) x range count | (type 0x11 only) owd u32
 *
 * - first range: how many packets directly below `largest` also arrived, so the newest received
 *   range is [largest - first range, largest].
 * - each further range sits below the previous one's low end: gap = (missing packets) - 1 and
 *   length = (received packets) - 1, as in RFC 9000 section 19.3.1.
 * - credit: bytes of message data the receiver will still accept (flow control, frag.h).
 * - owd: one-way-delay sample for `largest`, receiver clock minus the sender's TIMESTAMP, mod 2^32
 *   microseconds.  The two clocks are unrelated, so only differences between samples mean anything
 *   (cc_ledbat.c subtracts a base).
 *
 * Invariants of a konce_ack (the encoder refuses, the decoder never produces, anything else):
 *   1. 1 <= nranges <= KONCE_ACK_MAX_RANGES;
 *   2. every range has 1 <= lo <= hi <= KONCE_VARINT_MAX (packet number 0 does not exist);
 *   3. ranges[i + 1].hi + 1 < ranges[i].lo: descending, disjoint, at least one missing packet
 *      between neighbours.
 */
#ifndef KONCE_ACKFRAME_H
#define KONCE_ACKFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/wire.h"

typedef struct konce_ack_range {
	uint64_t lo, hi; /* inclusive */
} konce_ack_range;

typedef struct konce_ack {
	uint64_t ack_delay_us; /* time between receiving `largest` and sending this ack */
	uint64_t credit;       /* bytes the receiver will still accept */
	bool has_owd;
	uint32_t owd;          /* one-way-delay sample for `largest` (see above) */
	size_t nranges;
	konce_ack_range ranges[KONCE_ACK_MAX_RANGES]; /* newest first */
} konce_ack;

static inline uint64_t konce_ack_largest(const konce_ack *a) { return a->ranges[0].hi; }

/* true if a satisfies the invariants above. */
bool konce_ack_valid(const konce_ack *a);
/* true if pn is inside one of a's ranges. */
bool konce_ack_contains(const konce_ack *a, uint64_t pn);

/* Encodes a into out[0, cap).  If not every range fits, the oldest ones are left out (the newest
 * are the ones loss detection needs) and *nencoded (if not NULL) says how many were written.
 * The ack delay is rounded down to a multiple of 8 us; a credit above KONCE_VARINT_MAX is sent as
 * KONCE_VARINT_MAX.  Returns the frame length, or 0 if a is invalid or not even the newest range
 * fits. */
size_t konce_ackframe_encode(uint8_t *out, size_t cap, const konce_ack *a, size_t *nencoded);

/* Decodes an ACK or ACK_OWD frame (type byte included) from p[0, avail).  Returns the bytes
 * consumed, or 0 if malformed: truncated, a range below packet 1, more than KONCE_ACK_MAX_RANGES
 * ranges, or an ack delay that does not fit in 64 bits of microseconds. */
size_t konce_ackframe_decode(const uint8_t *p, size_t avail, konce_ack *a);

/* TIMESTAMP frame (the sender half of the one-way-delay measurement): type 0x12 | u32 time.
 * Encode returns KONCE_TIMESTAMP_SIZE, or 0 if cap is too small; decode returns the bytes
 * consumed, or 0 if p is not a complete TIMESTAMP frame. */
size_t konce_timestamp_encode(uint8_t *out, size_t cap, uint32_t ts);
size_t konce_timestamp_decode(const uint8_t *p, size_t avail, uint32_t *ts);

#endif
