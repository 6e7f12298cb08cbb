/* fuzz_hello.c - HELLO parser and the server's answer to arbitrary datagrams.
 * Invariants (abort on violation): build(parse(p)) equals p but for the padding; a server never
 * answers with more bytes than it received, and never allocates for what it received. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_hs.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *server;
static konce_identity *id;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	fz_server(&server, &id);
	konce_hello h;
	if (konce_hello_parse(&h, d, n) == 0) {
		uint8_t out[KONCE_HELLO_SIZE];
		if (konce_hello_build(out, &h) != KONCE_HELLO_SIZE || memcmp(out, d, KONCE_HELLO_PADDING))
			abort();
	}
	/* the same bytes, typed as a HELLO, at the server */
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	n = fz_typed(pkt, d, n, KONCE_PKT_HELLO);
	unsigned long allocs = fz_allocs;
	konce_addr from = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
	konce_ep_input(server, pkt, n, &from, 2000000, NULL);
	size_t out_len, total = 0;
	konce_addr to;
	while (konce_ep_poll_datagram(server, pkt, &out_len, &to))
		total += out_len;
	if (total > n || fz_allocs != allocs || konce_ep_counters(server)->sessions_opened)
		abort();
	return 0;
}
