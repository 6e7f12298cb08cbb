/* fuzz_initiate.c - INITIATE parser and the server's checks on arbitrary INITIATEs.
 * Invariants: the head round-trips; a forged INITIATE never opens a session, never allocates,
 * and is never answered. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/endpoint.h"
#include "node/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *server;
static konce_identity *id;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_initiate in;
	if (konce_initiate_parse(&in, d, n) == 0) {
		uint8_t out[KONCE_INIT_BOX1];
		konce_initiate_build_head(out, &in);
		if (memcmp(out, d, KONCE_INIT_BOX1) || in.box2_len != n - KONCE_INIT_BOX2 ||
		    in.box2_len < KONCE_WIRE_TAG)
			abort();
	}
	if (!server) {
		uint8_t secret[32] = {2};
		konce_ep_config cfg = {.env = &fz_env};
		if (konce_identity_from_secret(&id, secret) || !(cfg.identity = id) ||
		    konce_ep_new(&server, &cfg, 1000000))
			abort();
	}
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	if (n > sizeof pkt)
		n = sizeof pkt;
	memcpy(pkt, d, n);
	if (n)
		pkt[0] = KONCE_PKT_INITIATE;
	/* keep the times plausible half of the time so the later checks are reached */
	if (n >= KONCE_INIT_MIN_SIZE && (d[1] & 1))
		wire_put64(pkt + KONCE_INIT_SERVER_TIME, 1500);
	unsigned long allocs = fz_allocs;
	konce_addr from = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
	konce_ep_input(server, pkt, n, &from, 2000000);
	size_t len;
	konce_addr to;
	if (konce_ep_poll_datagram(server, pkt, &len, &to) || fz_allocs != allocs ||
	    konce_ep_counters(server)->sessions_opened)
		abort();
	return 0;
}
