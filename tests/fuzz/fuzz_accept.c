/* fuzz_accept.c - ACCEPT parser, and a client waiting for its ACCEPT fed arbitrary ones.
 * Invariants: the head round-trips; a forged ACCEPT never establishes the session. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/endpoint.h"
#include "node/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *client, *server;
static konce_identity *cid, *sid;
static uint8_t client_cid[8];
static konce_addr caddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
static konce_addr saddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2}, .port = 7807};

static void setup(void)
{
	uint8_t s1[32] = {1}, s2[32] = {2};
	if (konce_identity_from_secret(&cid, s1) || konce_identity_from_secret(&sid, s2))
		abort();
	konce_ep_config cc = {.env = &fz_env, .identity = cid}, sc = {.env = &fz_env, .identity = sid};
	if (konce_ep_new(&client, &cc, 1000000) || konce_ep_new(&server, &sc, 1000000))
		abort();
	uint32_t conn;
	if (konce_ep_connect(client, konce_identity_public(sid), &saddr, NULL, 0, 1000000, &conn))
		abort();
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	/* HELLO -> server -> COOKIE -> client; the INITIATE is dropped, so the client waits */
	if (!konce_ep_poll_datagram(client, pkt, &len, &to))
		abort();
	memcpy(client_cid, pkt + KONCE_HELLO_CLIENT_CID, 8);
	konce_ep_input(server, pkt, len, &caddr, 1000000);
	if (!konce_ep_poll_datagram(server, pkt, &len, &to))
		abort();
	konce_ep_input(client, pkt, len, &saddr, 1000000);
	if (!konce_ep_poll_datagram(client, pkt, &len, &to) || pkt[0] != KONCE_PKT_INITIATE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_accept a;
	if (konce_accept_parse(&a, d, n) == 0) {
		uint8_t out[KONCE_ACCEPT_BOX];
		konce_accept_build_head(out, &a);
		if (memcmp(out, d, KONCE_ACCEPT_BOX) || a.box_len != n - KONCE_ACCEPT_BOX)
			abort();
	}
	if (!client)
		setup();
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	if (n > sizeof pkt)
		n = sizeof pkt;
	memcpy(pkt, d, n);
	if (n)
		pkt[0] = KONCE_PKT_ACCEPT;
	if (n >= KONCE_ACCEPT_MIN_SIZE && !(d[0] & 1))
		memcpy(pkt + KONCE_ACCEPT_CLIENT_CID, client_cid, 8);
	konce_ep_input(client, pkt, n, &saddr, 1100000);
	konce_ep_event ev;
	while (konce_ep_poll_event(client, &ev))
		if (ev.type == KONCE_EV_ESTABLISHED || ev.type == KONCE_EV_MESSAGE)
			abort();
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(client, pkt, &len, &to))
		;
	return 0;
}
