/*
 * hostile: one attacker host against a konce node, for tests/netsim/test_hostile.sh.
 *
 *   hostile --target KEY@IP:PORT --src IP --seconds S [--sessions N] [--junk-pps P]
 *
 * One UDP socket on --src and one konce endpoint (libkonce's sans-I/O konce_ep) that never reads
 * its events, so what the node sends it stays charged to a 64 KiB reassembly budget and its
 * credit soon falls to nothing.  Over the run, at once:
 *
 *   junk:      --junk-pps datagrams a second: 1-byte INITIATEs, forged HELLOs and INITIATEs (right
 *              type and size, random content), and random bytes (findings 1, 2);
 *   sessions:  up to --sessions at once, each showing a fresh identity (konce_ep_connect_ex .as),
 *              paying the demanded proof of work: the per-source cap and the table rules decide how
 *              many the node keeps (finding 3).  A dead one is replaced.
 *   on each:   every 20 ms, in turn: the first fragment of a 16 MiB message that never finishes
 *              (finding 4, reassembly memory), an 8 KiB ECHO request whose answer is never read
 *              (finding 4, send queues with no credit), one packet of 390 empty MESSAGE frames
 *              (finding 5, the event ring), and a PING (so the session is never idle).
 *
 * At the end it prints one JSON object with what it sent.  It never reads a clock inside libkonce:
 * times are CLOCK_MONOTONIC microseconds, as the node's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/base/wire.h"
#include "node/transport/endpoint.h"
#include "node/transport/frag.h"
#include "node/transport/frame.h"
#include "node/transport/identity.h"
#include "node/transport/keytext.h"
#include "tests/netsim/attacker.h"

enum { MAX_SESS = 256, ECHO_BODY = 8 * 1024, ROUND_US = 20 * 1000 };

struct sess {
	uint32_t conn;      /* 0 = free */
	konce_identity *id; /* shown; kept until the session ends (the endpoint borrows it) */
	uint64_t next_round, frag_id;
	unsigned turn;
	bool up;
};

static struct {
	uint64_t junk, dials, dial_refused, died, established, frags, echoes, floods, pings;
} st;

static int fd;
static konce_ep *ep;
static uint8_t target_pk[KONCE_WIRE_KEY];
static konce_addr target;
static struct sess sess[MAX_SESS];

static void junk(void)
{
	uint8_t b[KONCE_WIRE_MAX_DATAGRAM];
	size_t n = 1;
	switch (randombytes_uniform(4)) {
	case 0:
		b[0] = KONCE_PKT_INITIATE;
		break;
	case 1:
		n = KONCE_WIRE_MAX_DATAGRAM;
		randombytes_buf(b, n);
		b[0] = KONCE_PKT_HELLO;
		break;
	case 2:
		n = KONCE_INIT_MIN_SIZE + randombytes_uniform(KONCE_WIRE_MAX_DATAGRAM - KONCE_INIT_MIN_SIZE);
		randombytes_buf(b, n);
		b[0] = KONCE_PKT_INITIATE;
		break;
	default:
		n = 1 + randombytes_uniform(KONCE_WIRE_MAX_DATAGRAM);
		randombytes_buf(b, n);
		break;
	}
	atk_send_to(fd, b, n, &target);
	st.junk++;
}

static void dial(struct sess *s, uint64_t now)
{
	if (!s->id && konce_identity_generate(&s->id, konce_env_default()))
		return;
	konce_ep_connect_opts o = {.as = s->id};
	st.dials++;
	if (konce_ep_connect_ex(ep, target_pk, &target, NULL, 0, &o, now, &s->conn)) {
		s->conn = 0;
		st.dial_refused++;
		return;
	}
	s->next_round = now + ROUND_US;
	s->frag_id = 0;
	s->turn = 0;
	s->up = false;
}

static void round_on(struct sess *s, uint64_t now)
{
	uint8_t f[KONCE_WIRE_MAX_PAYLOAD];
	static uint8_t data[900];
	int r = konce_ep_ping(ep, s->conn, now);
	if (r == -ENOENT) { /* failed, refused, evicted or replaced: a fresh identity dials again */
		st.died++;
		s->conn = 0;
		konce_identity_free(s->id);
		s->id = NULL;
		return;
	}
	if (r == -ENOTCONN)
		return; /* still in its handshake */
	st.pings++;
	if (!s->up) {
		s->up = true;
		st.established++;
	}
	switch (s->turn++ % 3) {
	case 0: {
		konce_fragment fr = {.msg_id = ++s->frag_id, .offset = 0, .total = 16u << 20, .len = sizeof data,
				     .data = data};
		size_t n = konce_frag_encode(f, sizeof f, &fr);
		if (n && konce_ep_send_frames_conn(ep, s->conn, f, n, now, NULL) == 0)
			st.frags++;
		break;
	}
	case 1: {
		static uint8_t m[KONCE_MSG_BODY + ECHO_BODY];
		uint64_t id;
		konce_msg_head_put(m, KONCE_CLASS_ECHO, KONCE_MSG_F_REQUEST, now);
		if (konce_ep_msg_send(ep, s->conn, m, sizeof m, KONCE_MSG_CLASS_DEFAULT, 0, now, &id) == 0)
			st.echoes++;
		break;
	}
	default: {
		size_t k = 0;
		while (k + 3 <= KONCE_WIRE_MAX_PAYLOAD)
			k += konce_frame_put_message(f + k, sizeof f - k, data, 0);
		if (konce_ep_send_frames_conn(ep, s->conn, f, k, now, NULL) == 0)
			st.floods++;
		break;
	}
	}
}

/* Whatever the node sends goes to the endpoint, which alone parses it. */
static void input(const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_ep_input(ep, pkt, len, from, now, NULL);
}

int main(int argc, char **argv)
{
	const char *tgt = NULL, *src = NULL;
	double seconds = 10;
	unsigned nsess = 64, pps = 2000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--target"))
			tgt = argv[i + 1];
		else if (!strcmp(argv[i], "--src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--sessions"))
			nsess = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--junk-pps"))
			pps = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "hostile: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	const char *at = tgt ? strchr(tgt, '@') : NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (!at || !src || nsess < 1 || nsess > MAX_SESS || sodium_init() < 0 ||
	    konce_key_decode_(target_pk, tgt, (size_t)(at - tgt)) || konce_addr_parse(&target, at + 1) < 0 ||
	    inet_pton(AF_INET, src, &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: hostile --target KEY@IP:PORT --src IP --seconds S [--sessions N<=%d] "
				"[--junk-pps P]\n", MAX_SESS);
		return 2;
	}
	konce_identity *master;
	konce_ep_config cfg = {.max_sessions = MAX_SESS + 16, .msg_budget = 64 * 1024, .out_ring = 4096,
			       .event_ring = 4096};
	if (atk_open("hostile", &sa, &cfg, &fd, &master, &ep))
		return 1;
	int big = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));

	uint64_t t0 = atk_now_us(), end = t0 + (uint64_t)(seconds * 1e6), last = t0;
	double junk_due = 0;
	while (atk_now_us() < end) {
		atk_receive(fd, input);
		uint64_t now = atk_now_us();
		if (konce_ep_next_timer(ep) <= now)
			konce_ep_timer(ep, now);
		/* it never polls events: what the node sends stays unread */
		for (unsigned i = 0; i < nsess; i++) {
			struct sess *s = &sess[i];
			if (!s->conn)
				dial(s, now);
			else if (now >= s->next_round) {
				s->next_round = now + ROUND_US;
				round_on(s, now);
			}
		}
		atk_flush(fd, ep);
		junk_due += (double)(now - last) / 1e6 * pps;
		last = now;
		for (; junk_due >= 1; junk_due--)
			junk();
	}
	double secs = (double)(atk_now_us() - t0) / 1e6;
	const struct konce_ep_counters *c = konce_ep_counters(ep);
	printf("{\"seconds\":%.2f,\"junk\":%llu,\"dials\":%llu,\"dial_refused\":%llu,\"sessions_died\":%llu,"
	       "\"established\":%llu,\"handshakes_failed\":%llu,\"fragments\":%llu,\"echo_requests\":%llu,"
	       "\"message_floods\":%llu,\"pings\":%llu,\"tx_packets\":%llu,\"tx_pps\":%.0f}\n",
	       secs, (unsigned long long)st.junk, (unsigned long long)st.dials, (unsigned long long)st.dial_refused,
	       (unsigned long long)st.died, (unsigned long long)st.established,
	       (unsigned long long)c->hs_failed, (unsigned long long)st.frags, (unsigned long long)st.echoes,
	       (unsigned long long)st.floods, (unsigned long long)st.pings,
	       (unsigned long long)(c->tx_packets + st.junk), (double)(c->tx_packets + st.junk) / secs);
	for (unsigned i = 0; i < MAX_SESS; i++)
		konce_identity_free(sess[i].id);
	konce_ep_free(ep);
	konce_identity_free(master);
	close(fd);
	return 0;
}
