/* fuzz_epdata.c - the endpoint's DATA path end to end: connection-id lookup, the path (migration
 * and validation), the session's packet-number window and authentication, and the frames behind
 * them, through konce_ep_input() of an endpoint with an established session.
 *
 * Harness: a client endpoint A and a server endpoint B in memory, handshaken at the start of each
 * input (after an earlier input closed the session) on a clock that only moves forward.  The input
 * is a sequence of records  op u8 | arg u8 | len u8 | bytes[len]:
 *   op % 4 == 0: bytes[] as a datagram to B from A's address (op & 4: its type byte made DATA and
 *                the live connection id written in, so the lookup finds the session);
 *   op % 4 == 1: the same from one of 4 other addresses (arg);
 *   op % 4 == 2: bytes[] as frames A seals in one DATA packet (konce_ep_send_frames_conn), to B from
 *                A's address (op & 4: from another one, as after a NAT rebinding);
 *   op % 4 == 3: the clock moves arg ms, A sends a message, and both run their timers.
 * After each record the two exchange datagrams until quiet.
 * Invariants (abort on violation): unauthenticated datagrams (ops 0 and 1) never deliver a message
 * or close the session, and a DATA one never makes B send to an address A has not sent from; and
 * while the session is up, a message A sends at the end of the input arrives intact (within 50
 * timer steps).  Sanitizers check the memory of everything in between. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_ep *a, *b;
static konce_identity *ida, *idb;
static uint32_t aconn, bconn;
static uint8_t bcid[KONCE_WIRE_CID];
static uint64_t now = 1000000;
static bool up;
static const konce_addr aaddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, .port = 9};
static const konce_addr baddr = {.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2}, .port = 7807};
static konce_addr others[4];
static unsigned delivered, closed, canaries;
static const char canary[] = "canary message";

/* Datagrams from B go to A (when addressed to A's address or an address A "moved" to); A's go to B
 * from `from`.  Returns whether anything moved. */
static bool exchange(const konce_addr *afrom, bool checked)
{
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	bool moved = false;
	while (konce_ep_poll_datagram(a, pkt, &len, &to)) {
		if (pkt[0] == KONCE_PKT_DATA && len >= KONCE_DATA_MIN_SIZE)
			memcpy(bcid, pkt + KONCE_DATA_DCID, KONCE_WIRE_CID);
		konce_ep_input(b, pkt, len, afrom, now, NULL);
		moved = true;
	}
	while (konce_ep_poll_datagram(b, pkt, &len, &to)) {
		bool known = !memcmp(&to, &aaddr, sizeof to) || !memcmp(&to, afrom, sizeof to);
		if (!known && checked)
			abort(); /* B answered an address the peer never sent from */
		konce_ep_input(a, pkt, len, &baddr, now, NULL);
		moved = true;
	}
	konce_ep_event ev;
	while (konce_ep_poll_event(b, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED)
			bconn = ev.conn;
		else if (ev.type == KONCE_EV_MESSAGE) {
			delivered++;
			canaries += ev.len == sizeof canary && !memcmp(ev.data, canary, sizeof canary);
		}
		else if (ev.type == KONCE_EV_CLOSED && ev.conn == bconn)
			closed++, up = false;
	}
	while (konce_ep_poll_event(a, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED && ev.conn == aconn)
			up = true;
		else if ((ev.type == KONCE_EV_CLOSED || ev.type == KONCE_EV_FAILED) && ev.conn == aconn)
			up = false;
	}
	return moved;
}

static void settle(const konce_addr *afrom, bool checked)
{
	for (int i = 0; i < 64 && exchange(afrom, checked); i++)
		;
}

static void timers(void)
{
	if (konce_ep_next_timer(a) <= now)
		konce_ep_timer(a, now);
	if (konce_ep_next_timer(b) <= now)
		konce_ep_timer(b, now);
}

static void handshake(void)
{
	if (!a) {
		uint8_t s1[32] = {1}, s2[32] = {2};
		if (konce_identity_from_secret(&ida, s1) || konce_identity_from_secret(&idb, s2))
			abort();
		konce_ep_config ac = {.env = &fz_env, .identity = ida};
		konce_ep_config bc = {.env = &fz_env, .identity = idb, .capacity = 1000000000, .rl_rate = 1000000000,
				      .rl_burst = 1000000000};
		if (konce_ep_new(&a, &ac, now) || konce_ep_new(&b, &bc, now))
			abort();
		for (int i = 0; i < 4; i++)
			others[i] = (konce_addr){.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, (uint8_t)(i + 1)},
						 .port = (uint16_t)(4000 + i)};
	}
	now += 1000000;
	timers();
	settle(&aaddr, false);
	if (konce_ep_connect(a, konce_identity_public(idb), &baddr, NULL, 0, now, &aconn))
		abort();
	settle(&aaddr, false);
	/* a first message gives B's connection id (A's DATA carries it) */
	uint64_t id;
	if (!up || konce_ep_msg_send(a, aconn, (const uint8_t *)"x", 1, KONCE_MSG_CLASS_DEFAULT, 0, now, &id))
		abort();
	settle(&aaddr, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!up)
		handshake();
	for (size_t i = 0; i + 3 <= n && up;) {
		unsigned op = d[i], arg = d[i + 1];
		size_t len = d[i + 2];
		i += 3;
		if (len > n - i)
			len = n - i;
		uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
		memcpy(buf, d + i, len);
		i += len;
		unsigned before = delivered, closes = closed;
		switch (op % 4) {
		case 0:
		case 1:
			if ((op & 4) && len >= KONCE_DATA_DCID + KONCE_WIRE_CID) {
				buf[0] = KONCE_PKT_DATA;
				memcpy(buf + KONCE_DATA_DCID, bcid, KONCE_WIRE_CID);
			}
			konce_ep_input(b, buf, len, op % 4 ? &others[arg % 4] : &aaddr, now, NULL);
			settle(&aaddr, len && buf[0] == KONCE_PKT_DATA);
			if (delivered != before || closed != closes)
				abort();
			break;
		case 2: {
			const konce_addr *from = (op & 4) ? &others[arg % 4] : &aaddr;
			konce_ep_send_frames_conn(a, aconn, buf, len, now, NULL);
			settle(from, false);
			break;
		}
		case 3: {
			now += (uint64_t)arg * 1000;
			timers();
			uint64_t id;
			konce_ep_msg_send(a, aconn, buf, len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id);
			settle(&aaddr, false);
			break;
		}
		}
	}
	if (up) {
		/* the session still carries a message intact */
		uint64_t id;
		unsigned before = canaries;
		if (konce_ep_msg_send(a, aconn, (const uint8_t *)canary, sizeof canary, KONCE_MSG_CLASS_DEFAULT, 0, now, &id))
			abort();
		for (int k = 0; k < 50 && canaries == before && up; k++) {
			settle(&aaddr, false);
			if (canaries == before) {
				uint64_t t = konce_ep_next_timer(a), u = konce_ep_next_timer(b);
				t = t < u ? t : u;
				if (t != UINT64_MAX && t > now)
					now = t;
				timers();
			}
		}
		if (up && canaries == before)
			abort();
	}
	return 0;
}
