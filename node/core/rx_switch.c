/* rx_switch.c - the receive switch on the type byte (rx_switch.h). */
#include "node/core/rx_switch.h"

#include <string.h>

#include "node/base/wire.h"
#include "node/core/inq.h"

enum konce_rx_kind konce_rx_classify(const uint8_t *pkt, size_t len)
{
	if (len < 1 || len > KONCE_PMTU_MAX)
		return KONCE_RX_JUNK;
	/* only DATA outgrows the base size (a session's PLPMTU, pmtud.h) */
	if (len > KONCE_WIRE_MAX_DATAGRAM && pkt[0] != KONCE_PKT_DATA)
		return KONCE_RX_JUNK;
	switch (pkt[0]) {
	case KONCE_PKT_HELLO:
		if (len == KONCE_HELLO_SIZE &&
		    !memcmp(pkt + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4))
			return KONCE_RX_TAGGED_HELLO;
		return KONCE_RX_TRANSPORT;
	case KONCE_PKT_COOKIE:
	case KONCE_PKT_INITIATE:
	case KONCE_PKT_ACCEPT:
	case KONCE_PKT_DATA:
	case KONCE_PKT_VERSION:
		return KONCE_RX_TRANSPORT;
	case KONCE_RDV_PUNCH:
		return KONCE_RX_PUNCH;
	case KONCE_RDV_LIFE_REQ:
		return KONCE_RX_LIFE_REQ;
	case KONCE_RDV_FILTER:
		return KONCE_RX_FILTER;
	default:
		/* REGISTER .. INTRO_ACCEPT ride only in sessions (KONCE_CLASS_RENDEZVOUS); LIFE_ACK and
		 * LIFE_PROBE only to the lifetime search's own socket, which reads them itself */
		return KONCE_RX_JUNK;
	}
}

unsigned konce_rx_priority(konce_ep *ep, bool traversal, const uint8_t *pkt, size_t len, const konce_addr *from,
			   uint64_t now_us)
{
	switch (konce_rx_classify(pkt, len)) {
	case KONCE_RX_TRANSPORT:
	case KONCE_RX_TAGGED_HELLO:
		return konce_ep_priority(ep, pkt, len, from, now_us);
	case KONCE_RX_PUNCH:
	case KONCE_RX_LIFE_REQ:
	case KONCE_RX_FILTER:
		return traversal ? KONCE_RX_PRIO_TRAVERSAL : KONCE_INQ_PRIOS - 1;
	default:
		return KONCE_INQ_PRIOS - 1;
	}
}
