/* fuzz_version.c - the VERSION packet: its parser, and a client waiting after its HELLO fed arbitrary ones.
 *
 * Input: byte 0 is a control byte, the rest is the VERSION datagram (given to the endpoint with
 * its type byte set to VERSION; the parser alone sees it as it is).  With control bit 0 set (and the
 * datagram long enough) the client's real cid is written over the echo field, so the fuzzer reaches
 * the version check instead of only the cid match.  The datagram arrives from the server's address
 * (bit 1 clear) or another one (bit 1 set): VERSION is unauthenticated either way.
 * Invariants (abort on violation):
 *   - a VERSION that parses rebuilds to the same bytes;
 *   - the client fails its handshake exactly when the datagram parses, echoes its HELLO's cid and
 *     lists none of the versions it offered, and the failure event carries that list;
 *   - otherwise the handshake goes on: the client still answers its retransmission timer. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *client;
static konce_identity *cid, *sid;
static uint64_t now = 1000000;
static const konce_addr saddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2}, .port = 7807};
static const konce_addr other = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9}, .port = 7807};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	const uint8_t *p = d + 1;
	size_t len = n - 1;
	konce_version_msg v;
	bool parses = konce_version_parse(&v, p, len) == 0;
	if (parses) {
		uint8_t out[KONCE_VERSION_SIZE];
		if (konce_version_build(out, &v) != KONCE_VERSION_SIZE || memcmp(out, p, KONCE_VERSION_SIZE))
			abort();
	}
	if (!client) {
		uint8_t s1[32] = {1}, s2[32] = {2};
		konce_ep_config cc = {.env = &fz_env, .identity = NULL};
		if (konce_identity_from_secret(&cid, s1) || konce_identity_from_secret(&sid, s2))
			abort();
		cc.identity = cid;
		if (konce_ep_new(&client, &cc, now))
			abort();
	}
	now += 1000;
	konce_ep_timer(client, now);
	uint32_t conn;
	if (konce_ep_connect(client, konce_identity_public(sid), &saddr, NULL, 0, now, &conn))
		abort();
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM], hello[KONCE_WIRE_MAX_DATAGRAM];
	size_t hlen;
	konce_addr to;
	if (!konce_ep_poll_datagram(client, hello, &hlen, &to) || hello[0] != KONCE_PKT_HELLO)
		abort();
	konce_hello h;
	if (konce_hello_parse(&h, hello, hlen))
		abort();
	uint8_t in[KONCE_WIRE_MAX_DATAGRAM];
	if (len > sizeof in)
		len = sizeof in;
	memcpy(in, p, len);
	if (len)
		in[0] = KONCE_PKT_VERSION; /* the endpoint routes on this byte; other types have their own targets */
	if ((d[0] & 1) && len >= KONCE_VERSION_CLIENT_CID + KONCE_WIRE_CID)
		memcpy(in + KONCE_VERSION_CLIENT_CID, h.client_cid, KONCE_WIRE_CID);
	parses = konce_version_parse(&v, in, len) == 0;
	bool expect_fail = parses && !memcmp(v.client_cid, h.client_cid, KONCE_WIRE_CID);
	for (unsigned i = 0; expect_fail && i < v.versions.n; i++)
		if (konce_versions_has(&h.versions, konce_versions_at(&v.versions, i)))
			expect_fail = false;
	konce_ep_input(client, in, len, (d[0] & 2) ? &other : &saddr, now, NULL);
	konce_ep_event ev;
	bool failed = false;
	while (konce_ep_poll_event(client, &ev)) {
		if (ev.type != KONCE_EV_FAILED || ev.conn != conn)
			abort();
		if (ev.reason != KONCE_FAIL_VERSION || ev.nversions != v.versions.n)
			abort();
		for (unsigned i = 0; i < ev.nversions; i++)
			if (ev.versions[i] != konce_versions_at(&v.versions, i))
				abort();
		failed = true;
	}
	if (failed != expect_fail)
		abort();
	/* whatever came in, no datagram answers it */
	if (konce_ep_poll_datagram(client, pkt, &hlen, &to))
		abort();
	if (!failed) {
		/* still waiting for a COOKIE: the HELLO is retransmitted when its timer fires */
		bool resent = false;
		for (int i = 0; i < 8 && !resent; i++) {
			uint64_t t = konce_ep_next_timer(client);
			if (t == UINT64_MAX)
				abort();
			now = t > now ? t : now;
			konce_ep_timer(client, now);
			while (konce_ep_poll_datagram(client, pkt, &hlen, &to))
				resent |= pkt[0] == KONCE_PKT_HELLO;
		}
		if (!resent)
			abort();
		konce_ep_close(client, conn, now);
		while (konce_ep_poll_datagram(client, pkt, &hlen, &to))
			;
		while (konce_ep_poll_event(client, &ev))
			;
	}
	return 0;
}
