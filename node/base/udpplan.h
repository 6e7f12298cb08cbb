/* udpplan.h - the decisions of the batched UDP socket (node/io/udp.c), apart from its system calls:
 * which queued datagrams make one GSO train, what a failed sendmmsg() means for the rest of the
 * queue, and the hint a bind failure's message carries.  Pure functions, tested in test_udpplan.
 */
#ifndef KONCE_NODE_UDPPLAN_H
#define KONCE_NODE_UDPPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

enum { KONCE_UDP_GSO_MAX_BYTES = 65507 }; /* one UDP datagram to the kernel (IPv4, or IPv4-mapped) */

/* One queued datagram. */
typedef struct konce_udp_slot {
	const uint8_t *pkt;
	uint16_t len;
	konce_addr to;
} konce_udp_slot;

/* How many of q[0..n) (n >= 1) one send carries from q[0]: 1, or a GSO train of up to max_segs to
 * one destination, equal sizes (the last may be shorter), at most KONCE_UDP_GSO_MAX_BYTES in all. */
unsigned konce_udp_train(const konce_udp_slot *q, unsigned n, unsigned max_segs);

/* What a sendmmsg() failure with errno e, for a message of segs datagrams, means. */
enum konce_udp_send_fail {
	KONCE_UDP_FAIL_RETRY = 1, /* interrupted: send it again */
	KONCE_UDP_FAIL_NO_GSO,    /* the kernel or device cannot segment: resend one datagram at a time */
	KONCE_UDP_FAIL_FULL,      /* the socket buffer is full: drop the rest of the queue */
	KONCE_UDP_FAIL_DEST,      /* a per-destination error (unreachable, refused): drop this message only */
};
enum konce_udp_send_fail konce_udp_send_fail(int e, unsigned segs);

/* Why bind() may have failed with errno e, as a hint for its message ("" when there is none). */
const char *konce_udp_bind_hint(int e);

#endif
