/* fuzz_initiate.c - INITIATE parser and the server's checks on arbitrary INITIATEs.
 * Two modes, chosen by the input's first byte:
 *   - raw: the input is the INITIATE.  A forged INITIATE never opens a session, never allocates,
 *     and is never answered; the head round-trips through the parser.
 *   - mutate (first byte & 0x40): a real client builds a real INITIATE from a real COOKIE, the rest
 *     of the input is XORed onto it, and the server gets the result.  This reaches the MAC, the
 *     proof of work, the X25519s and both boxes.  A session opens exactly when nothing outside
 *     the pow nonce changed (nothing depends on the nonce; the demand is 0).
 *   - simultaneous (first byte & 0x20): the same, but the server has its own attempt toward the
 *     client and both show their own keys (node/transport/hs_simopen.c).  Unchanged, the INITIATE is dropped
 *     (server key lower) or served by the server's attempt (higher), with no allocation either
 *     way; changed, neither happens. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hs.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

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
	konce_ep_input(m_server, pkt, len, &caddr, m_now, NULL);
	if (!konce_ep_poll_datagram(m_server, pkt, &len, &to))
		abort();
	konce_ep_input(m_client, pkt, len, &saddr, m_now, NULL);
	if (!konce_ep_poll_datagram(m_client, pkt, &len, &to) || pkt[0] != KONCE_PKT_INITIATE)
		abort();
	bool changed = false;
	for (size_t i = 0; i + 1 < n && i < len; i++) {
		pkt[i] ^= d[i + 1];
		if (d[i + 1] && (i < KONCE_INIT_POW_NONCE || i >= KONCE_INIT_BOX1))
			changed = true;
	}
	uint64_t opened = konce_ep_counters(m_server)->sessions_opened;
	konce_ep_input(m_server, pkt, len, &caddr, m_now, NULL);
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

static konce_ep *s_server, *s_client[2];
static konce_identity *s_sid, *s_cid[2]; /* s_cid[0] below s_sid (the server serves it), [1] above */

static void drain(konce_ep *ep)
{
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	konce_ep_event ev;
	while (konce_ep_poll_datagram(ep, pkt, &len, &to))
		;
	while (konce_ep_poll_event(ep, &ev))
		;
}

static void simultaneous_mode(const uint8_t *d, size_t n)
{
	konce_addr caddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7}, .port = 9};
	konce_addr saddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7}, .port = 7807};
	if (!s_server) {
		uint8_t sec[32] = {0x80};
		konce_ep_config sc = {.env = &fz_env, .explicit_identity = true, .capacity = 1000000000,
				      .rl_rate = 1000000000, .rl_burst = 1000000000};
		if (konce_identity_from_secret(&s_sid, sec) || !(sc.identity = s_sid) || konce_ep_new(&s_server, &sc, m_now))
			abort();
		for (uint8_t k = 1; !s_cid[0] || !s_cid[1]; k++) {
			konce_identity *c;
			sec[0] = k;
			if (konce_identity_from_secret(&c, sec))
				abort();
			int side = memcmp(konce_identity_public(c), konce_identity_public(s_sid), 32) > 0;
			if (s_cid[side]) {
				konce_identity_free(c);
				continue;
			}
			s_cid[side] = c;
			konce_ep_config cc = {.env = &fz_env, .identity = c, .explicit_identity = true};
			if (konce_ep_new(&s_client[side], &cc, m_now))
				abort();
		}
	}
	int side = n > 1 && (d[1] & 0x80);
	konce_ep *cl = s_client[side];
	m_now += 10000;
	konce_ep_timer(s_server, m_now);
	uint32_t sconn, cconn;
	if (konce_ep_connect(s_server, konce_identity_public(s_cid[side]), &caddr, NULL, 0, m_now, &sconn) ||
	    konce_ep_connect(cl, konce_identity_public(s_sid), &saddr, (const uint8_t *)"m", 1, m_now, &cconn))
		abort();
	drain(s_server); /* the server's own HELLO */
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	if (!konce_ep_poll_datagram(cl, pkt, &len, &to))
		abort();
	konce_ep_input(s_server, pkt, len, &caddr, m_now, NULL);
	if (!konce_ep_poll_datagram(s_server, pkt, &len, &to))
		abort();
	konce_ep_input(cl, pkt, len, &saddr, m_now, NULL);
	if (!konce_ep_poll_datagram(cl, pkt, &len, &to) || pkt[0] != KONCE_PKT_INITIATE)
		abort();
	bool changed = false;
	for (size_t i = 0; i + 2 < n && i < len; i++) {
		pkt[i] ^= d[i + 2];
		if (d[i + 2] && (i < KONCE_INIT_POW_NONCE || i >= KONCE_INIT_BOX1))
			changed = true;
	}
	struct konce_ep_counters before = *konce_ep_counters(s_server);
	unsigned long allocs = fz_allocs;
	konce_ep_input(s_server, pkt, len, &caddr, m_now, NULL);
	const struct konce_ep_counters *after = konce_ep_counters(s_server);
	uint64_t yielded = after->simopen_yielded - before.simopen_yielded;
	uint64_t merged = after->simopen_merged - before.simopen_merged;
	if (fz_allocs != allocs || after->sessions_opened != before.sessions_opened)
		abort(); /* neither outcome allocates; no second session */
	if (changed ? yielded + merged != 0 : (yielded != (uint64_t)side || merged != (uint64_t)!side))
		abort();
	drain(s_server);
	konce_ep_close(s_server, sconn, m_now); /* the attempt, or the session it became */
	konce_ep_close(cl, cconn, m_now);
	drain(s_server);
	drain(cl);
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
	fz_server(&server, &id);
	if (n && (d[0] & 0x40)) {
		mutate_mode(d, n);
		return 0;
	}
	if (n && (d[0] & 0x20)) {
		simultaneous_mode(d, n);
		return 0;
	}
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	n = fz_typed(pkt, d, n, KONCE_PKT_INITIATE);
	/* keep the times plausible half of the time so the later checks are reached */
	if (n >= KONCE_INIT_MIN_SIZE && (d[1] & 1))
		wire_put64(pkt + KONCE_INIT_SERVER_TIME, 1500);
	unsigned long allocs = fz_allocs;
	konce_addr from = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
	konce_ep_input(server, pkt, n, &from, 2000000, NULL);
	size_t len;
	konce_addr to;
	if (konce_ep_poll_datagram(server, pkt, &len, &to) || fz_allocs != allocs ||
	    konce_ep_counters(server)->sessions_opened)
		abort();
	return 0;
}
