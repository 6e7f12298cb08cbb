/* fuzz_cookie.c - COOKIE parser, and a client with a handshake pending fed arbitrary cookies.
 * Invariants: build(parse(p)) == p; whatever the client sends in answer is one INITIATE that
 * parses and echoes the cookie's challenge, or nothing. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_identity *id;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_cookie_msg c;
	if (konce_cookie_parse(&c, d, n) == 0) {
		uint8_t out[KONCE_COOKIE_SIZE];
		if (konce_cookie_build(out, &c) != KONCE_COOKIE_SIZE || memcmp(out, d, KONCE_COOKIE_SIZE))
			abort();
	}
	if (n != KONCE_COOKIE_SIZE)
		return 0;
	if (!id) {
		uint8_t secret[32] = {1};
		if (konce_identity_from_secret(&id, secret))
			abort();
	}
	konce_ep *client;
	konce_ep_config cfg = {.env = &fz_env, .identity = id, .max_pow_bits = 6, .max_sessions = 4};
	if (konce_ep_new(&client, &cfg, 1000000))
		abort();
	konce_addr srv = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2}, .port = 7807};
	uint8_t spk[32] = {9};
	uint32_t conn;
	if (konce_ep_connect(client, spk, &srv, (const uint8_t *)"m", 1, 1000000, &conn))
		abort();
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	if (!konce_ep_poll_datagram(client, pkt, &len, &to)) /* the HELLO */
		abort();
	konce_hello h;
	if (konce_hello_parse(&h, pkt, len))
		abort();
	/* aim the fuzzed cookie at the pending handshake unless the input says not to */
	memcpy(pkt, d, n);
	pkt[0] = KONCE_PKT_COOKIE;
	if (!(d[1] & 0x80)) {
		memcpy(pkt + KONCE_COOKIE_CLIENT_CID, h.client_cid, 8);
		wire_put64(pkt + KONCE_COOKIE_CLIENT_TIME, h.client_time);
	}
	konce_ep_input(client, pkt, n, &srv, 1010000, NULL);
	uint64_t challenge = wire_get64(pkt + KONCE_COOKIE_CHALLENGE);
	while (konce_ep_poll_datagram(client, pkt, &len, &to)) {
		konce_initiate in;
		if (konce_initiate_parse(&in, pkt, len) || in.challenge != challenge)
			abort();
	}
	konce_ep_free(client);
	return 0;
}
