/* fuzz_nodemsg.c - the node's message layer: the 11-byte header (class, flags, nonce) and the
 * routing behind it (replies, ECHO, TEXT, RENDEZVOUS, application handlers), fed whole messages
 * from an authenticated peer.
 *
 * Harness (built once): a real node (konce_node_new on an event_base, a temporary data directory,
 * 127.0.0.1:0) and a peer that is a plain konce_ep on its own loopback UDP socket.  The peer dials
 * the node and keeps the session; every message goes peer -> UDP -> the node's socket, read by the
 * node's own event handlers (event_base_loop with EVLOOP_NONBLOCK), and the node's answers come
 * back the same way.  Nothing in the node is bypassed.
 *
 * Input: records  len u8 | bytes[len]; each record's bytes are one message the peer sends.
 * Invariants (abort on violation), per message once the node has taken it:
 *   - shorter than the header: counted dropped, not received; otherwise counted received;
 *   - an ECHO request of at most KONCE_ECHO_MAX bytes is answered with a REPLY of the same class,
 *     nonce and body;
 *   - the application handler (class 0x1234) sees exactly the body after the header, with the
 *     request flag as sent;
 *   - the node takes every message within 10 s (the peer's session does not stall). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_env.h"
#include "fuzz_tmpdir.h"
#include "node/io/node_int.h"
#include "node/io/udp.h"
#include "node/base/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

enum { APP_CLASS = 0x1234 };

static struct event_base *base;
static konce_node *node;
static konce_ep *peer;
static konce_udp *pudp;
static konce_addr naddr;
static uint32_t conn;
static int up;
/* what came back to the peer, and what the application handler saw */
static uint8_t last_reply[KONCE_MSG_BODY + KONCE_ECHO_MAX];
static size_t last_reply_len;
static int got_reply;
static const uint8_t *app_want;
static size_t app_want_len;
static int app_want_req, app_calls;

static void quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
}

static void on_app(void *ctx, konce_node *nd, const konce_message *m)
{
	(void)ctx;
	(void)nd;
	if (!app_want || m->klass != APP_CLASS || m->len != app_want_len || memcmp(m->data, app_want, m->len) ||
	    m->is_request != app_want_req)
		abort();
	app_calls++;
}

/* The peer's clock: real time, pushed ahead to its next timer whenever it waits for one (its pacer
 * spaces packets by the initial RTT until it has a sample).  Another host's clock may run ahead of
 * ours; the node's clock is untouched. */
static uint64_t pnow;
static uint64_t peer_clock(void)
{
	uint64_t r = node_now_us();
	if (r > pnow)
		pnow = r;
	return pnow;
}

static void peer_rx(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	(void)ctx;
	konce_ep_input(peer, pkt, len, from, peer_clock(), NULL);
}

/* One round of traffic both ways. */
static void pump(void)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	konce_ep_event ev;
	uint64_t now = peer_clock();
	if (konce_ep_next_timer(peer) <= now)
		konce_ep_timer(peer, now);
	while (konce_ep_poll_datagram(peer, buf, &len, &to))
		konce_udp_queue(pudp, buf, len, &to);
	konce_udp_flush(pudp);
	event_base_loop(base, EVLOOP_NONBLOCK);
	konce_udp_recv(pudp, 64, peer_rx, NULL);
	while (konce_ep_poll_event(peer, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED && ev.conn == conn)
			up = 1;
		else if ((ev.type == KONCE_EV_CLOSED || ev.type == KONCE_EV_FAILED) && ev.conn == conn)
			up = 0;
		else if (ev.type == KONCE_EV_MESSAGE && ev.len <= sizeof last_reply) {
			memcpy(last_reply, ev.data, ev.len);
			last_reply_len = ev.len;
			got_reply = 1;
		}
	}
}

static void setup(void)
{
	const char *dir = fz_tmpdir_make("nodemsg");
	char err[512];
	if (!dir || !(base = event_base_new()))
		abort();
	konce_node_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0", .log = quiet, .log_level = KONCE_LOG_ERROR};
	if (konce_node_new(&node, base, &cfg, err, sizeof err)) {
		fprintf(stderr, "fuzz_nodemsg: %s\n", err);
		abort();
	}
	char as[KONCE_ADDR_STRLEN];
	konce_node_listen_addr(node, as, sizeof as);
	if (konce_addr_parse(&naddr, as))
		abort();
	if (konce_node_handle(node, APP_CLASS, on_app, NULL))
		abort();
	konce_identity *id;
	uint8_t secret[32] = {42};
	konce_addr local;
	konce_addr_parse(&local, "127.0.0.1:0");
	if (konce_identity_from_secret(&id, secret) || konce_udp_open(&pudp, &local, err, sizeof err))
		abort();
	konce_ep_config pc = {.env = &fz_env, .identity = id, .explicit_identity = true};
	if (konce_ep_new(&peer, &pc, node_now_us()))
		abort();
}

static void connect_peer(void)
{
	uint8_t npk[KONCE_KEY_BYTES];
	konce_node_public_key(node, npk);
	up = 0;
	if (konce_ep_connect(peer, npk, &naddr, NULL, 0, peer_clock(), &conn))
		abort();
	for (int i = 0; !up && i < 100000; i++)
		pump();
	if (!up)
		abort();
}

/* Pumps until done(); 0 if the session went down first.  The peer's clock skips ahead over short
 * waits only (pacing gaps), never to an idle or keepalive timer. */
static int wait_for(int (*done)(void))
{
	uint64_t until = node_now_us() + 10000000;
	while (!done()) {
		if (!up)
			return 0;
		if (node_now_us() > until)
			abort();
		pump();
		uint64_t t = konce_ep_next_timer(peer);
		if (!done() && t != UINT64_MAX && t > peer_clock() && t - peer_clock() <= 100000)
			pnow = t;
	}
	return 1;
}

static konce_node_stats nstat(void)
{
	konce_node_stats st;
	konce_node_get_stats(node, &st);
	return st;
}

static uint64_t seen_before;
static int node_took(void) { return nstat().msgs_rx + nstat().msgs_dropped > seen_before; }
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
