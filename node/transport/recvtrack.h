/* recvtrack.h - the receiver's record of which packet numbers arrived, and when to ack them.
 *
 * The record is a bounded list of received ranges, newest first (the same shape as an ACK frame).
 * When a new range would make it longer than KONCE_RECVTRACK_MAX_RANGES, the oldest range is
 * forgotten and everything at or below it becomes "too old": such a packet is reported as
 * KONCE_RECV_TOO_OLD and never acked (the sender has long declared it lost and resent its data).
 *
 * When an ack is due (RFC 9000 section 13.2):
 *   - at once after KONCE_ACK_ELICITING_THRESHOLD (2) ack-eliciting packets since the last ack;
 *   - at once when an ack-eliciting packet arrives out of order (it fills a hole, or it opens one
 *     above the previous largest), so the sender learns of the hole without waiting;
 *   - otherwise max_ack_delay after the first unacked ack-eliciting packet.
 * Packets that are not ack-eliciting (ACK-only ones) are recorded and acked along with the next
 * ack, but never make one due: two peers would otherwise ack each other's acks forever.
 *
 * Invariants:
 *   1. ranges[] satisfies the konce_ack invariants (descending, disjoint, gap >= 1, lo >= 1);
 *   2. every remembered range lies at or above floor;
 *   3. ack_at == KONCE_RECVTRACK_NEVER iff no ack-eliciting packet arrived since the last ack.
 */
#ifndef KONCE_RECVTRACK_H
#define KONCE_RECVTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "node/transport/ackframe.h"
#include "node/base/wire.h"

#define KONCE_RECVTRACK_NEVER UINT64_MAX

typedef enum konce_recv_result {
	KONCE_RECV_NEW = 0,   /* first time seen: process its frames */
	KONCE_RECV_DUPLICATE, /* seen before: drop */
	KONCE_RECV_TOO_OLD,   /* below what is remembered (or 0): drop */
} konce_recv_result;

typedef struct konce_recvtrack {
	konce_ack_range ranges[KONCE_RECVTRACK_MAX_RANGES];
	size_t nranges;
	uint64_t floor;            /* packets below this are too old */
	uint64_t largest_time;     /* when ranges[0].hi arrived */
	bool largest_has_owd;
	uint32_t largest_owd;
	uint64_t max_ack_delay_us;
	unsigned unacked_eliciting; /* ack-eliciting packets since the last ack */
	uint64_t ack_at;           /* when an ack is due; 0 = now; NEVER = none pending */
} konce_recvtrack;

/* max_ack_delay_us: 0 means KONCE_ACK_MAX_DELAY_MS. */
void konce_recvtrack_init(konce_recvtrack *rt, uint64_t max_ack_delay_us);

/* Records packet pn, received at now.  has_ts/ts: the packet carried a TIMESTAMP frame with the
 * sender's time ts; the one-way-delay sample (now - ts mod 2^32) rides on the ack of the largest.
 * Call it only for packets that authenticated. */
konce_recv_result konce_recvtrack_on_packet(konce_recvtrack *rt, uint64_t pn, bool ack_eliciting,
					    uint64_t now, bool has_ts, uint32_t ts);

/* When an ack should be sent (KONCE_RECVTRACK_NEVER if none is pending); the caller's timer. */
static inline uint64_t konce_recvtrack_ack_time(const konce_recvtrack *rt) { return rt->ack_at; }
static inline bool konce_recvtrack_ack_due(const konce_recvtrack *rt, uint64_t now)
{
	return rt->ack_at != KONCE_RECVTRACK_NEVER && now >= rt->ack_at;
}

/* Fills *a with the newest KONCE_ACK_MAX_RANGES ranges, the ack delay as of now and credit.
 * Returns 0, or -ENODATA if nothing has been received yet.  Changes nothing: call
 * konce_recvtrack_on_ack_sent() once the ack is actually in a packet. */
int konce_recvtrack_build_ack(const konce_recvtrack *rt, uint64_t now, uint64_t credit, konce_ack *a);
void konce_recvtrack_on_ack_sent(konce_recvtrack *rt);

/* The peer has seen an ack covering everything below pn (it acked a packet carrying that ack):
 * stop repeating those ranges.  Packets below pn become too old. */
void konce_recvtrack_forget_below(konce_recvtrack *rt, uint64_t pn);

#endif
