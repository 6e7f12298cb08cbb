/* fuzz_nodemsg.c - the node's message layer: the 11-byte header (class, flags, nonce) and the
 * routing behind it (replies, ECHO, TEXT, RENDEZVOUS, application handlers), fed whole messages
 * from an authenticated peer.
 *
 * Harness (built once, fuzz_nodepeer.h): a real node and a peer that is a plain konce_ep on its
 * own loopback UDP socket.  The peer dials the node and keeps the session; every message goes
 * through the node's socket and event handlers, and its answers come back the same way.  Nothing
 * in the node is bypassed.
 *
 * Input: records  len u8 | bytes[len]; each record's bytes are one message the peer sends.
 * Invariants (abort on violation), per message once the node has taken it:
 *   - shorter than the header: counted dropped, not received; otherwise counted received;
 *   - an ECHO request of at most KONCE_ECHO_MAX bytes is answered with a REPLY of the same class,
 *     nonce and body;
 *   - the application handler (class 0x1234) sees exactly the body after the header, with the
 *     request flag as sent;
 *   - the node takes every message within 10 s (the peer's session does not stall). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_nodepeer.h"
#include "node/base/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

enum { APP_CLASS = 0x1234 };

/* what came back to the peer, and what the application handler saw */
static uint8_t last_reply[KONCE_MSG_BODY + KONCE_ECHO_MAX];
static size_t last_reply_len;
static int got_reply;
static const uint8_t *app_want;
static size_t app_want_len;
static int app_want_req, app_calls;

static void on_app(void *ctx, konce_node *nd, const konce_message *m)
{
	(void)ctx;
	(void)nd;
	if (!app_want || m->klass != APP_CLASS || m->len != app_want_len || memcmp(m->data, app_want, m->len) ||
	    m->is_request != app_want_req)
		abort();
	app_calls++;
}

static void on_message(const uint8_t *data, size_t len)
{
	if (len <= sizeof last_reply) {
		memcpy(last_reply, data, len);
		last_reply_len = len;
		got_reply = 1;
	}
}

static void setup(void)
{
	konce_node_config cfg = {0};
	setup_node_and_peer("nodemsg", &cfg);
	if (konce_node_handle(node, APP_CLASS, on_app, NULL))
		abort();
}

static int reply_came(void) { return got_reply; }

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!node)
		setup();
	for (size_t i = 0; i < n;) {
		size_t len = d[i++];
		if (len > n - i)
			len = n - i;
		const uint8_t *m = d + i;
		i += len;
		if (!up)
			connect_peer();
		uint64_t rx = nstat().msgs_rx, dropped = nstat().msgs_dropped;
		seen_before = rx + dropped;
		got_reply = 0;
		int app = len >= KONCE_MSG_BODY && wire_get16(m + KONCE_MSG_CLASS) == APP_CLASS &&
			  !(m[KONCE_MSG_FLAGS] & KONCE_MSG_F_REPLY);
		app_want = app ? m + KONCE_MSG_BODY : NULL;
		app_want_len = app ? len - KONCE_MSG_BODY : 0;
		app_want_req = app && (m[KONCE_MSG_FLAGS] & KONCE_MSG_F_REQUEST);
		int calls = app_calls;
		uint64_t id;
		if (konce_ep_msg_send(peer, conn, m, len, KONCE_MSG_CLASS_DEFAULT, 0, peer_clock(), &id))
			abort();
		if (!wait_for(node_took))
			continue; /* the session went down: the message went with it */
		if (len < KONCE_MSG_BODY) {
			if (nstat().msgs_rx != rx || nstat().msgs_dropped != dropped + 1)
				abort();
			continue;
		}
		if (nstat().msgs_rx != rx + 1 || app_calls != calls + app)
			abort();
		if (wire_get16(m + KONCE_MSG_CLASS) == KONCE_CLASS_ECHO && m[KONCE_MSG_FLAGS] & KONCE_MSG_F_REQUEST &&
		    !(m[KONCE_MSG_FLAGS] & KONCE_MSG_F_REPLY)) {
			if (!wait_for(reply_came))
				continue;
			if (last_reply_len != len || wire_get16(last_reply + KONCE_MSG_CLASS) != KONCE_CLASS_ECHO ||
			    !(last_reply[KONCE_MSG_FLAGS] & KONCE_MSG_F_REPLY) ||
			    memcmp(last_reply + KONCE_MSG_NONCE, m + KONCE_MSG_NONCE, 8) ||
			    memcmp(last_reply + KONCE_MSG_BODY, m + KONCE_MSG_BODY, len - KONCE_MSG_BODY))
				abort();
		}
	}
	return 0;
}
