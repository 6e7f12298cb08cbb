/* fuzz_rx_switch.c - the node's receive switch on the type byte (node/core/rx_switch.h) against the
 * endpoint, on arbitrary datagrams.  Invariants (abort on violation): the switch hands the endpoint
 * exactly what the endpoint calls its own (its verdict is NOT_MINE for every other kind); the
 * priority is within the input queue's range; nothing is allocated for any of it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/core/inq.h"
#include "node/core/rx_switch.h"
#include "node/transport/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *ep;
static konce_identity *id;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!ep) {
		uint8_t secret[32] = {5};
		konce_ep_config cfg = {.env = &fz_env};
		if (konce_identity_from_secret(&id, secret) || !(cfg.identity = id) || konce_ep_new(&ep, &cfg, 1000000))
			abort();
	}
	konce_addr from = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
	enum konce_rx_kind k = konce_rx_classify(d, n);
	unsigned long allocs = fz_allocs;
	if (konce_rx_priority(ep, true, d, n, &from, 2000000) >= KONCE_INQ_PRIOS ||
	    konce_rx_priority(ep, false, d, n, &from, 2000000) >= KONCE_INQ_PRIOS)
		abort();
	enum konce_ep_verdict v = konce_ep_input(ep, d, n, &from, 2000000, NULL);
	bool transport = k == KONCE_RX_TRANSPORT || k == KONCE_RX_TAGGED_HELLO;
	if (transport == (v == KONCE_EP_NOT_MINE))
		abort();
	if (fz_allocs != allocs)
		abort();
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(ep, buf, &len, &to))
		;
	return 0;
}
