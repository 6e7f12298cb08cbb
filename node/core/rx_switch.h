/* rx_switch.h - the one place the node reads a received datagram's type byte.
 *
 * Every datagram from the node's sockets is classified here, once, before anything else looks at
 * it: the transport endpoint's packets (HELLO .. VERSION), the bare traversal datagrams (PUNCH,
 * the lifetime service's LIFE_REQ, the filtering test's FILTER), the rendezvous types that only
 * ever ride inside a session (bare, they are junk), and junk.  A HELLO that carries a traversal tag
 * in its padding (node/base/wire.h KONCE_HELLO_TRAV_*: the handshake as the punch probe) is its own
 * kind; the tag is checked by the traversal layer, and an unverified one is still an ordinary HELLO.
 *
 * konce_rx_priority() is the input queue's order (node/core/inq.h) built on the same switch: the
 * endpoint's own (konce_ep_priority), with bare traversal datagrams beside a fresh source's
 * handshake when traversal runs.  No crypto, no clock, no allocation.
 */
#ifndef KONCE_RX_SWITCH_H
#define KONCE_RX_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/transport/endpoint.h"

enum konce_rx_kind {
	KONCE_RX_JUNK = 0,     /* empty, too long (DATA over KONCE_PMTU_MAX, others over 1,200), or a
	                        * type nobody takes bare: dropped */
	KONCE_RX_TRANSPORT,    /* the endpoint's: HELLO, COOKIE, INITIATE, ACCEPT, DATA, VERSION */
	KONCE_RX_TAGGED_HELLO, /* a full-size HELLO with the traversal tag's magic: a punch probe */
	KONCE_RX_PUNCH,        /* traversal: a probe or ack between peers */
	KONCE_RX_LIFE_REQ,     /* the rendezvous's lifetime service: a request */
	KONCE_RX_FILTER,       /* the filtering test, bare: echo request, echo, probe */
};

enum konce_rx_kind konce_rx_classify(const uint8_t *pkt, size_t len);

/* The input queue priority of a datagram (0 best .. KONCE_INQ_PRIOS - 1); traversal: whether the
 * node runs traversal (else its datagrams are junk). */
enum { KONCE_RX_PRIO_TRAVERSAL = 1 }; /* beside a fresh source's handshake */
unsigned konce_rx_priority(konce_ep *ep, bool traversal, const uint8_t *pkt, size_t len, const konce_addr *from,
			   uint64_t now_us);

#endif
