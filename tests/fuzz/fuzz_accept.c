/* fuzz_accept.c - ACCEPT parser, and a client waiting for its ACCEPT fed arbitrary ones.
 * Two modes, chosen by the input's first byte:
 *   - raw: the input is the ACCEPT; the head round-trips and a forged ACCEPT never establishes.
 *   - mutate (first byte & 0x40): a real handshake runs up to the server's ACCEPT, the rest of the
 *     input is XORed onto it, and the client gets the result: it establishes exactly when nothing
 *     changed, and then the reply is intact. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hs.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

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
	konce_ep_input(server, pkt, len, &caddr, 1000000, NULL);
	if (!konce_ep_poll_datagram(server, pkt, &len, &to))
		abort();
	konce_ep_input(client, pkt, len, &saddr, 1000000, NULL);
	if (!konce_ep_poll_datagram(client, pkt, &len, &to) || pkt[0] != KONCE_PKT_INITIATE)
		abort();
}

static konce_ep *m_client, *m_server;
static uint64_t m_now = 1000000;

static void mutate_mode(const uint8_t *d, size_t n)
{
	if (!m_client) {
		konce_ep_config cc = {.env = &fz_env, .identity = cid};
		konce_ep_config sc = {.env = &fz_env, .identity = sid, .capacity = 1000000000, .rl_rate = 1000000000,
				      .rl_burst = 1000000000};
		if (konce_ep_new(&m_client, &cc, m_now) || konce_ep_new(&m_server, &sc, m_now))
			abort();
	}
	m_now += 10000;
	konce_ep_timer(m_server, m_now);
	uint32_t conn;
	if (konce_ep_connect(m_client, konce_identity_public(sid), &saddr, NULL, 0, m_now, &conn))
		abort();
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	konce_ep_event ev;
	for (int hop = 0; hop < 3; hop++) { /* HELLO, COOKIE, INITIATE */
		konce_ep *from = hop % 2 ? m_server : m_client, *dst = hop % 2 ? m_client : m_server;
		if (!konce_ep_poll_datagram(from, pkt, &len, &to))
			abort();
		konce_ep_input(dst, pkt, len, hop % 2 ? &saddr : &caddr, m_now, NULL);
	}
	uint32_t sconn = 0;
	while (konce_ep_poll_event(m_server, &ev))
		if (ev.type == KONCE_EV_ESTABLISHED)
			sconn = ev.conn;
	if (!sconn || konce_ep_send(m_server, sconn, (const uint8_t *)"reply", 5, m_now) ||
	    !konce_ep_poll_datagram(m_server, pkt, &len, &to) || pkt[0] != KONCE_PKT_ACCEPT)
		abort();
	bool changed = false;
	for (size_t i = 0; i + 1 < n && i < len; i++) {
		pkt[i] ^= d[i + 1];
		changed |= d[i + 1] != 0;
	}
	konce_ep_input(m_client, pkt, len, &saddr, m_now, NULL);
	bool established = false, replied = false;
	while (konce_ep_poll_event(m_client, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED)
			established = true;
		if (ev.type == KONCE_EV_MESSAGE)
			replied = ev.len == 5 && memcmp(ev.data, "reply", 5) == 0;
	}
	if (established == changed || (established && !replied))
		abort();
	konce_ep_close(m_client, conn, m_now);
	konce_ep_close(m_server, sconn, m_now);
	while (konce_ep_poll_datagram(m_client, pkt, &len, &to) || konce_ep_poll_datagram(m_server, pkt, &len, &to))
		;
	while (konce_ep_poll_event(m_server, &ev) || konce_ep_poll_event(m_client, &ev))
		;
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
	if (n && (d[0] & 0x40)) {
		mutate_mode(d, n);
		return 0;
	}
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	n = fz_typed(pkt, d, n, KONCE_PKT_ACCEPT);
	if (n >= KONCE_ACCEPT_MIN_SIZE && !(d[0] & 1))
		memcpy(pkt + KONCE_ACCEPT_CLIENT_CID, client_cid, 8);
	konce_ep_input(client, pkt, n, &saddr, 1100000, NULL);
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
