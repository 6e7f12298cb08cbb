/* fuzz_initiate.c - INITIATE parser and the server's checks on arbitrary INITIATEs.
 * Two modes, chosen by the input's first byte:
 *   - raw: the input is the INITIATE.  A forged INITIATE never opens a session, never allocates,
 *     and is never answered; the head round-trips through the parser.
 *   - mutate (first byte & 0x40): a real client builds a real INITIATE from a real COOKIE, the rest
 *     of the input is XORed onto it, and the server gets the result.  This reaches the MAC, the
 *     proof of work, the X25519s and both boxes.  A session opens exactly when nothing outside
 *     the pow nonce changed (nothing depends on the nonce; the demand is 0). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/endpoint.h"
#include "node/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *server;
static konce_identity *id;

static konce_ep *m_server, *m_client;
static konce_identity *m_cid;
static uint64_t m_now = 1000000;

static void mutate_mode(const uint8_t *d, size_t n)
{
	konce_addr caddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
	konce_addr saddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2}, .port = 7807};
	if (!m_server) {
		uint8_t s1[32] = {1};
		konce_ep_config sc = {.env = &fz_env, .identity = id, .capacity = 1000000000,
				      .rl_rate = 1000000000, .rl_burst = 1000000000};
		konce_ep_config cc = {.env = &fz_env};
		if (konce_identity_from_secret(&m_cid, s1) || !(cc.identity = m_cid) ||
		    konce_ep_new(&m_server, &sc, m_now) || konce_ep_new(&m_client, &cc, m_now))
			abort();
	}
	m_now += 10000;
	konce_ep_timer(m_server, m_now);
	uint32_t conn;
	if (konce_ep_connect(m_client, konce_identity_public(id), &saddr, (const uint8_t *)"m", 1, m_now, &conn))
		abort();
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	if (!konce_ep_poll_datagram(m_client, pkt, &len, &to))
		abort();
	konce_ep_input(m_server, pkt, len, &caddr, m_now);
	if (!konce_ep_poll_datagram(m_server, pkt, &len, &to))
		abort();
	konce_ep_input(m_client, pkt, len, &saddr, m_now);
	if (!konce_ep_poll_datagram(m_client, pkt, &len, &to) || pkt[0] != KONCE_PKT_INITIATE)
		abort();
	bool changed = false;
	for (size_t i = 0; i + 1 < n && i < len; i++) {
		pkt[i] ^= d[i + 1];
		if (d[i + 1] && (i < KONCE_INIT_POW_NONCE || i >= KONCE_INIT_BOX1))
			changed = true;
	}
	uint64_t opened = konce_ep_counters(m_server)->sessions_opened;
	konce_ep_input(m_server, pkt, len, &caddr, m_now);
	bool now_open = konce_ep_counters(m_server)->sessions_opened != opened;
	if (now_open == changed)
		abort();
	konce_ep_event ev;
	while (konce_ep_poll_event(m_server, &ev))
		if (ev.type == KONCE_EV_ESTABLISHED && konce_ep_close(m_server, ev.conn, m_now))
			abort();
	while (konce_ep_poll_datagram(m_server, pkt, &len, &to))
		;
	if (konce_ep_close(m_client, conn, m_now))
		abort();
	while (konce_ep_poll_event(m_client, &ev))
		;
}

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
	if (n && (d[0] & 0x40)) {
		mutate_mode(d, n);
		return 0;
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
