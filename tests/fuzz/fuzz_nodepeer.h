/* fuzz_nodepeer.h - a real node and a peer that holds a session to it, for the fuzz targets that
 * feed the node whole messages from an authenticated peer (fuzz_nodemsg.c, fuzz_rdvsrv.c; header
 * only, each target is one .c file).
 *
 * The node is konce_node_new on an event_base, a temporary data directory, 127.0.0.1:0; the peer
 * is a plain konce_ep on its own loopback UDP socket.  Every message goes peer -> UDP -> the node's
 * socket, read by the node's own event handlers (event_base_loop with EVLOOP_NONBLOCK), and the
 * node's answers come back the same way.  Nothing in the node is bypassed.
 *
 * The including file defines on_message(), called with each message the peer receives. */
#ifndef KONCE_FUZZ_NODEPEER_H
#define KONCE_FUZZ_NODEPEER_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "fuzz_tmpdir.h"
#include "node/io/node_int.h"
#include "node/io/udp.h"

static struct event_base *base;
static konce_node *node;
static konce_ep *peer;
static konce_identity *peer_id;
static konce_udp *pudp;
static konce_addr naddr;
static uint32_t conn;
static int up;

static void on_message(const uint8_t *data, size_t len);

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
			on_message(ev.data, ev.len);
	}
}
/* The node (cfg as the target wants it, plus a temporary data directory, 127.0.0.1:0 and no log)
 * and the peer endpoint on its UDP socket, not yet connected. */
static void setup_node_and_peer(const char *name, konce_node_config *cfg)
{
	const char *dir = fz_tmpdir_make(name);
	char err[512];
	if (!dir || !(base = event_base_new()))
		abort();
	cfg->data_dir = dir;
	cfg->listen = "127.0.0.1:0";
	cfg->log = quiet;
	cfg->log_level = KONCE_LOG_ERROR;
	if (konce_node_new(&node, base, cfg, err, sizeof err)) {
		fprintf(stderr, "fuzz_%s: %s\n", name, err);
		abort();
	}
	char as[KONCE_ADDR_STRLEN];
	konce_node_listen_addr(node, as, sizeof as);
	if (konce_addr_parse(&naddr, as))
		abort();
	uint8_t secret[32] = {42};
	konce_addr local;
	konce_addr_parse(&local, "127.0.0.1:0");
	if (konce_identity_from_secret(&peer_id, secret) || konce_udp_open(&pudp, &local, err, sizeof err))
		abort();
	konce_ep_config pc = {.env = &fz_env, .identity = peer_id, .explicit_identity = true};
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

#endif
