/* fuzz_rdvsrv.c - the node's rendezvous service (node/core/trav_rdvsrv.c): rendezvous messages
 * arriving on an authenticated session, checked against the session's key, handed to the
 * rendezvous core with the session's address, and the core's answers routed back to sessions.
 *
 * Harness (built once, as in fuzz_nodemsg.c): a real node with traversal on and the rendezvous
 * service enabled (konce_node_config.traversal.rendezvous = 1, no rendezvous of its own, so nothing is
 * sent anywhere but to the peer), and a peer endpoint on loopback UDP with an established session.
 * The glue cannot be driven without a node: it finds sessions through the node's peer table and
 * sends through its endpoint; here it runs exactly as in the daemon.
 *
 * Input: records  flags u8 | len u8 | bytes[len].  Each record's bytes are a KONCE_CLASS_RENDEZVOUS
 * message body from the peer; with flags bit 0, a body that decodes gets the peer's own key
 * written into its key field (konce_rdvwire_encode), so it passes the key check and reaches the core.
 * Invariants (abort on violation): the node takes every message within 10 s; a body the service
 * handles (REGISTER, INTRO_REQUEST, RELAY, INTRO_REFUSE, INTRO_ACCEPT) that does not decode or names
 * another key moves the service's "forged" counter and gets no answer; every answer the peer gets
 * is a RENDEZVOUS message whose body decodes and is one the rendezvous sends; a REGISTERED that
 * answers the last REGISTER in the peer's name carries the peer's own address (the core's rate
 * limit may leave a REGISTER unanswered, so an answer is not required). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "fuzz_tmpdir.h"
#include "nat/rdvwire.h"
#include "node/ctl/ctl_int.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/udp.h"
#include "node/base/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct event_base *base;
static konce_node *node;
static konce_ep *peer;
static konce_udp *pudp;
static konce_addr naddr;
static uint32_t conn;
static int up;
static konce_addr plocal; /* the peer's address as the node sees it */
static uint8_t ppk[KONCE_KEY_BYTES];
static uint64_t want_txid;

static void quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
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

static void check_answer(const uint8_t *p, size_t len)
{
	konce_rdvwire_msg m;
	if (len < KONCE_MSG_BODY || wire_get16(p + KONCE_MSG_CLASS) != KONCE_CLASS_RENDEZVOUS ||
	    konce_rdvwire_decode(&m, p + KONCE_MSG_BODY, len - KONCE_MSG_BODY))
		abort();
	if (m.type != KONCE_RDV_REGISTERED && m.type != KONCE_RDV_INTRO && m.type != KONCE_RDV_INTRO_FAIL &&
	    m.type != KONCE_RDV_RELAYED && m.type != KONCE_RDV_INTRO_OFFER)
		abort();
	if (m.type == KONCE_RDV_REGISTERED && m.id == want_txid && memcmp(&m.addr, &plocal, sizeof plocal))
		abort();
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
		else if (ev.type == KONCE_EV_MESSAGE)
			check_answer(ev.data, ev.len);
	}
}

static void setup(void)
{
	const char *dir = fz_tmpdir_make("rdvsrv");
	char err[512];
	if (!dir || !(base = event_base_new()))
		abort();
	konce_node_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0", .log = quiet, .log_level = KONCE_LOG_ERROR,
				 .traversal = {.rendezvous = 1, .rendezvous_capacity = 64}};
	if (konce_node_new(&node, base, &cfg, err, sizeof err)) {
		fprintf(stderr, "fuzz_nodemsg: %s\n", err);
		abort();
	}
	char as[KONCE_ADDR_STRLEN];
	konce_node_listen_addr(node, as, sizeof as);
	if (konce_addr_parse(&naddr, as))
		abort();
	konce_identity *id;
	uint8_t secret[32] = {42};
	konce_addr local;
	konce_addr_parse(&local, "127.0.0.1:0");
	if (konce_identity_from_secret(&id, secret) || konce_udp_open(&pudp, &local, err, sizeof err) ||
	    konce_udp_local(pudp, &plocal))
		abort();
	memcpy(ppk, konce_identity_public(id), KONCE_KEY_BYTES);
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

static json_int_t forged(void)
{
	konce_ctlproto_host h;
	node_ctl_host(node, &h);
	json_t *st = ctl_trav_status(&h); /* the traversal part of konce status */
	json_int_t f = json_integer_value(json_object_get(json_object_get(st, "rendezvous_service"), "forged"));
	json_decref(st);
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!node)
		setup();
	for (size_t i = 0; i + 2 <= n;) {
		unsigned flags = d[i];
		size_t len = d[i + 1];
		i += 2;
		if (len > n - i)
			len = n - i;
		uint8_t msg[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG + 256];
		memset(msg, 0, KONCE_MSG_BODY);
		wire_put16(msg + KONCE_MSG_CLASS, KONCE_CLASS_RENDEZVOUS);
		memcpy(msg + KONCE_MSG_BODY, d + i, len);
		i += len;
		konce_rdvwire_msg m;
		int dec = konce_rdvwire_decode(&m, msg + KONCE_MSG_BODY, len);
		if (!dec && (flags & 1)) {
			memcpy(m.key, ppk, KONCE_KEY_BYTES);
			size_t l = konce_rdvwire_encode(&m, msg + KONCE_MSG_BODY, KONCE_RDV_MAX_MSG);
			if (!l || konce_rdvwire_decode(&m, msg + KONCE_MSG_BODY, l))
				abort();
			len = l;
		}
		uint8_t t = len ? msg[KONCE_MSG_BODY] : 0;
		int served = t == KONCE_RDV_REGISTER || t == KONCE_RDV_INTRO_REQUEST || t == KONCE_RDV_RELAY ||
			     t == KONCE_RDV_INTRO_REFUSE || t == KONCE_RDV_INTRO_ACCEPT;
		int genuine = served && !dec && m.type == t && !memcmp(m.key, ppk, KONCE_KEY_BYTES);
		if (!up)
			connect_peer();
		json_int_t f = forged();
		seen_before = nstat().msgs_rx + nstat().msgs_dropped;
		if (genuine && t == KONCE_RDV_REGISTER)
			want_txid = m.id;
		uint64_t id;
		if (konce_ep_msg_send(peer, conn, msg, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, peer_clock(), &id))
			abort();
		if (!wait_for(node_took))
			continue; /* the session went down: the message went with it */
		pump(); /* the answers, sent in the same turn */
		if (served && !genuine && forged() != f + 1)
			abort();
		if (genuine && forged() != f)
			abort();
	}
	return 0;
}
