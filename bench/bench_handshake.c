/* bench_handshake.c - handshakes per second per core, beside X25519 operations per second measured
 * in the same run, and forged packets rejected per second per core.
 *
 * A client and a server endpoint are wired back to back in this process (no simulator, no
 * sockets), on one thread.  Each handshake is complete: HELLO, COOKIE, INITIATE carrying a 16-byte
 * message, ACCEPT carrying a 16-byte reply, both sides ESTABLISHED; then both close.  The clock
 * runs only around the server's calls (konce_ep_input of HELLO and INITIATE, polling its events,
 * building its ACCEPT) for the server figure, and only around the client's for the client figure.
 * Every handshake comes from a different source address, so per-source pricing never asks for
 * proof of work; the server's capacity is set high enough that load never does either: this is
 * the cost of the handshake itself.  The server does 3 X25519 per handshake, so its ideal is 1/3
 * of the X25519 rate; the client does 3 more, a fixed-base one for its transient key and the
 * derivation of its per-server identity.
 *
 * Rejected forged packets: INITIATEs with a flipped cookie-MAC bit (refused at check d, after the
 * cheap size/time/window/replay checks), DATA with an unknown connection id, and DATA for a live
 * session that fails authentication (one XChaCha20-Poly1305 open).
 *
 *   make bench   (or build/bench/bench_handshake [seconds per figure, default 1; 0.1 with BENCH_QUICK=1])
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loop.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"

static uint64_t vnow = 1000000; /* the endpoints' clock: real enough, moves 1 us per call */
static uint64_t tick(void) { return vnow++; }

static void die(const char *what)
{
	fprintf(stderr, "bench_handshake: %s\n", what);
	exit(1);
}

typedef struct bench {
	konce_identity *cid, *sid;
	konce_ep *cli, *srv;
	konce_addr saddr;
	double t_srv, t_cli;
	uint64_t n;
} bench;

static void src_addr(konce_addr *a, uint64_t i)
{
	uint8_t ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	konce_addr_from_v4(a, ip, 4000);
}

static bool poll_type(konce_ep *ep, uint8_t *buf, size_t *len, uint8_t type)
{
	konce_addr to;
	return konce_ep_poll_datagram(ep, buf, len, &to) && buf[0] == type;
}

/* One complete handshake from source address number i; returns the client's conn. */
static void handshake(bench *b, uint64_t i, bool keep, uint32_t *cconn, uint32_t *sconn)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr from;
	konce_ep_event ev;
	uint32_t conn, sc = 0;
	src_addr(&from, i);
	double t0 = bench_now_s();
	if (konce_ep_connect(b->cli, konce_identity_public(b->sid), &b->saddr, (const uint8_t *)"0123456789abcdef",
			     16, tick(), &conn) ||
	    !poll_type(b->cli, buf, &len, KONCE_PKT_HELLO))
		die("connect");
	double t1 = bench_now_s();
	konce_ep_input(b->srv, buf, len, &from, tick(), NULL);
	if (!poll_type(b->srv, buf, &len, KONCE_PKT_COOKIE))
		die("no COOKIE");
	double t2 = bench_now_s();
	konce_ep_input(b->cli, buf, len, &b->saddr, tick(), NULL);
	if (!poll_type(b->cli, buf, &len, KONCE_PKT_INITIATE))
		die("no INITIATE");
	double t3 = bench_now_s();
	konce_ep_input(b->srv, buf, len, &from, tick(), NULL);
	int got = 0;
	while (konce_ep_poll_event(b->srv, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED)
			sc = ev.conn;
		if (ev.type == KONCE_EV_MESSAGE && ev.len == 16) {
			konce_ep_send(b->srv, ev.conn, (const uint8_t *)"fedcba9876543210", 16, tick());
			got++;
		}
	}
	if (!got || !poll_type(b->srv, buf, &len, KONCE_PKT_ACCEPT))
		die("no ACCEPT");
	double t4 = bench_now_s();
	konce_ep_input(b->cli, buf, len, &b->saddr, tick(), NULL);
	got = 0;
	while (konce_ep_poll_event(b->cli, &ev))
		got += ev.type == KONCE_EV_ESTABLISHED || (ev.type == KONCE_EV_MESSAGE && ev.len == 16);
	if (got != 2)
		die("client not established");
	double t5 = bench_now_s();
	b->t_cli += (t1 - t0) + (t3 - t2) + (t5 - t4);
	b->t_srv += (t2 - t1) + (t4 - t3);
	b->n++;
	if (keep) {
		*cconn = conn;
		*sconn = sc;
		return;
	}
	konce_ep_close(b->cli, conn, tick());
	konce_ep_close(b->srv, sc, tick());
	while (konce_ep_poll_datagram(b->cli, buf, &len, &from))
		;
	while (konce_ep_poll_datagram(b->srv, buf, &len, &from))
		;
}

/* Inputs per second of pkt from `from` to ep, over about secs. */
static double reject_rate(konce_ep *ep, uint8_t *pkt, size_t len, const konce_addr *from, double secs,
			  const uint64_t *counter, const char *what)
{
	uint64_t before = *counter, n = 0;
	double t0 = bench_now_s(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			pkt[len - 1] ^= (uint8_t)(i & 1); /* not bytewise identical: nothing to cache */
			konce_ep_input(ep, pkt, len, from, tick(), NULL);
			n++;
		}
	} while ((t = bench_now_s()) - t0 < secs);
	if (*counter - before != n)
		die(what);
	return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : bench_quick() ? 0.1 : 1.0;
	if (sodium_init() < 0 || secs <= 0)
		return 1;
	bench b;
	memset(&b, 0, sizeof b);
	if (konce_identity_generate(&b.cid, konce_env_default()) || konce_identity_generate(&b.sid, konce_env_default()))
		die("identity");
	konce_ep_config cc = {.identity = b.cid, .max_sessions = 16};
	/* the accepted-challenge table holds each challenge for the cookie lifetime (10 s): size it
	 * for this rate, and capacity so that load never asks for proof of work */
	konce_ep_config sc = {.identity = b.sid, .max_sessions = 1u << 17, .capacity = 1u << 30,
			      .rl_slots = 1u << 16};
	if (konce_ep_new(&b.cli, &cc, tick()) || konce_ep_new(&b.srv, &sc, tick()))
		die("endpoint");
	konce_addr_parse(&b.saddr, "198.51.100.1:7807");

	double x1 = bench_x25519_rate(secs / 2);
	for (int i = 0; i < 200; i++) /* warm up */
		handshake(&b, (uint64_t)i, false, NULL, NULL);
	b.n = 0;
	b.t_srv = b.t_cli = 0;
	double t0 = bench_now_s();
	uint64_t i = 1000;
	while (bench_now_s() - t0 < secs)
		handshake(&b, i++, false, NULL, NULL);
	double wall = bench_now_s() - t0;
	double x2 = bench_x25519_rate(secs / 2);
	double x = (x1 + x2) / 2;
	const struct konce_ep_counters *s = konce_ep_counters(b.srv);
	if (s->init_full || s->init_bad_pow || s->cookie_tx < b.n)
		die("handshakes were refused");
	double hs_srv = (double)b.n / b.t_srv, hs_cli = (double)b.n / b.t_cli, hs_both = (double)b.n / wall;

	/* forged INITIATE: a real cookie for a real source, its MAC flipped */
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], init[KONCE_WIRE_MAX_DATAGRAM];
	size_t len, ilen;
	konce_addr from, to;
	uint32_t conn, sconn;
	src_addr(&from, 1u << 23);
	if (konce_ep_connect(b.cli, konce_identity_public(b.sid), &b.saddr, NULL, 0, tick(), &conn) ||
	    !poll_type(b.cli, buf, &len, KONCE_PKT_HELLO))
		die("connect");
	konce_ep_input(b.srv, buf, len, &from, tick(), NULL);
	if (!poll_type(b.srv, buf, &len, KONCE_PKT_COOKIE))
		die("cookie");
	konce_ep_input(b.cli, buf, len, &b.saddr, tick(), NULL);
	if (!poll_type(b.cli, init, &ilen, KONCE_PKT_INITIATE))
		die("initiate");
	konce_ep_close(b.cli, conn, tick());
	init[KONCE_INIT_MAC] ^= 1;
	double r_mac = reject_rate(b.srv, init, ilen, &from, secs / 2, &s->init_bad_mac, "bad MAC not refused");

	/* DATA: a live session's packet with its tag broken, and one for an unknown connection id */
	handshake(&b, 1u << 22, true, &conn, &sconn);
	if (konce_ep_send(b.cli, conn, (const uint8_t *)"a message of about this size", 28, tick()) ||
	    !konce_ep_poll_datagram(b.cli, buf, &len, &to) || buf[0] != KONCE_PKT_DATA)
		die("data");
	src_addr(&from, 1u << 22);
	buf[len - 1] ^= 0x80;
	double r_auth = reject_rate(b.srv, buf, len, &from, secs / 2, &s->data_auth_fail, "bad tag not refused");
	buf[KONCE_DATA_DCID] ^= 0x55;
	double r_cid = reject_rate(b.srv, buf, len, &from, secs / 2, &s->data_unknown_cid, "unknown cid not refused");
	/* garbage: an unknown type byte */
	buf[0] = 0xee;
	double r_junk = reject_rate(b.srv, buf, len, &from, secs / 4, &s->rx_unknown_type, "junk not refused");

	printf("bench_handshake: one thread, %llu handshakes (HELLO..ACCEPT, 16-byte message and reply)\n",
	       (unsigned long long)b.n);
	printf("  %-48s %12.0f /s  (%.1f us)\n", "X25519 (baseline, crypto_scalarmult)", x, 1e6 / x);
	printf("  %-48s %12.0f /s  (%.1f us)  ratio %.3f of X25519 (ideal 1/3 = 0.333)\n",
	       "handshakes, server side only", hs_srv, 1e6 / hs_srv, hs_srv / x);
	printf("  %-48s %12.0f /s  (%.1f us)  ratio %.3f of X25519\n", "handshakes, client side only", hs_cli,
	       1e6 / hs_cli, hs_cli / x);
	printf("  %-48s %12.0f /s  (%.1f us)  ratio %.3f of X25519\n", "handshakes, both sides on one core",
	       hs_both, 1e6 / hs_both, hs_both / x);
	printf("  %-48s %12.0f /s  (%.2f us)\n", "rejected: forged INITIATE (bad cookie MAC)", r_mac, 1e6 / r_mac);
	printf("  %-48s %12.0f /s  (%.2f us)\n", "rejected: DATA for a session, bad tag", r_auth, 1e6 / r_auth);
	printf("  %-48s %12.0f /s  (%.2f us)\n", "rejected: DATA, unknown connection id", r_cid, 1e6 / r_cid);
	printf("  %-48s %12.0f /s  (%.2f us)\n", "rejected: garbage (unknown type)", r_junk, 1e6 / r_junk);
	printf("  X25519 rate before/after the handshakes: %.0f / %.0f /s\n", x1, x2);
	konce_ep_free(b.cli);
	konce_ep_free(b.srv);
	konce_identity_free(b.cid);
	konce_identity_free(b.sid);
	return 0;
}
