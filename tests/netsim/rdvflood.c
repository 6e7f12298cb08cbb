/*
 * rdvflood: floods a konce rendezvous node from one or more source addresses, for
 * tests/netsim/test_rendezvous_flood.sh.
 *
 *   rdvflood --rdv KEY@IP:PORT --src IP[,IP...] --seconds S [--sessions N] [--garbage-pps P]
 *            [--max-pow BITS]
 *
 * Per source address, one UDP socket and one konce endpoint (libkonce's sans-I/O konce_ep).  Two
 * kinds of traffic, both paced over the run:
 *
 *   cheap:     raw datagrams at --garbage-pps per source: random bytes, forged HELLOs and
 *              INITIATEs (right type byte and size, random content), bare rendezvous messages
 *              (REGISTER / INTRO_REQUEST outside any session) -- nothing the rendezvous may
 *              answer with state.
 *   expensive: real handshakes, each showing a fresh identity (konce_ep_connect_ex .as), paying
 *              whatever proof of work the rendezvous demands up to --max-pow bits (solved inside
 *              konce_ep_input).  Up to --sessions per source at once.  Once established, each
 *              session sends, as reliable KONCE_CLASS_RENDEZVOUS messages (what an honest node
 *              sends): one REGISTER for its own key (a real registration: it fills the table),
 *              four REGISTERs for random keys (forged: the key is not the session's), four
 *              INTRO_REQUESTs for random unregistered targets, one INTRO_REQUEST in a random
 *              key's name, one malformed message (a random rendezvous type byte and random bytes)
 *              and one oversized one (a 4000-byte RELAY), then closes the session and starts
 *              another with a new identity.
 *
 * At the end it prints one JSON object: what it sent, how many handshakes succeeded or failed,
 * the highest proof-of-work demand it paid, and the rates achieved.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nat/rdvwire.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "node/transport/keytext.h"
#include "node/base/wire.h"

enum { MAX_SRC = 16, MAX_CONC = 256 };

struct slot {
	uint32_t conn;           /* 0 = free */
	konce_identity *id;      /* shown in the handshake; freed at ESTABLISHED / FAILED */
	uint64_t started, established;
	unsigned outstanding;    /* messages not yet delivered or failed */
};

struct src {
	int fd;
	konce_ep *ep;
	konce_identity *master;
	struct slot slots[MAX_CONC];
};

static struct {
	uint64_t garbage, forged_hs, bare_rdv, hs_started, hs_ok, hs_failed, msgs, msgs_delivered, msgs_failed,
		own_registers, forged_registers, intro_requests, forged_intros, malformed, oversized, closed;
	unsigned pow_max;
} st;

static uint8_t rdv_pk[KONCE_WIRE_KEY];
static konce_addr rdv_addr;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void send_to(int fd, const uint8_t *b, size_t n, const konce_addr *to)
{
	struct sockaddr_storage ss;
	size_t sl = konce_addr_to_sockaddr(to, &ss, false);
	if (sl)
		(void)sendto(fd, b, n, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

static void flush(struct src *s)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t n;
	konce_addr to;
	while (konce_ep_poll_datagram(s->ep, buf, &n, &to))
		send_to(s->fd, buf, n, &to);
}

/* One class-3 message on conn: the node's framing (class, flags, nonce) then body. */
static void rdv_msg(struct src *s, struct slot *sl, const uint8_t *body, size_t len, uint64_t now)
{
	static uint8_t buf[KONCE_MSG_BODY + 4096];
	uint64_t id;
	if (len > 4096)
		return;
	konce_msg_head_put(buf, KONCE_CLASS_RENDEZVOUS, 0, 0);
	memcpy(buf + KONCE_MSG_BODY, body, len);
	if (konce_ep_msg_send(s->ep, sl->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id) == 0) {
		sl->outstanding++;
		st.msgs++;
	}
}

static void encode_send(struct src *s, struct slot *sl, const konce_rdvwire_msg *m, uint64_t now)
{
	uint8_t b[KONCE_RDV_MAX_MSG];
	size_t n = konce_rdvwire_encode(m, b, sizeof(b));
	if (n)
		rdv_msg(s, sl, b, n, now);
}

static konce_rdvwire_msg reg_for(const uint8_t *key)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .nat = {KONCE_NATMAP_EIM, 0, 0}, .ncand = 1};
	memcpy(m.key, key, KONCE_WIRE_KEY);
	randombytes_buf(&m.id, sizeof(m.id));
	m.cand[0].type = KONCE_CAND_HOST;
	uint8_t ip[4] = {10, 99, 0, 0};
	randombytes_buf(ip + 2, 2);
	konce_addr_from_v4(&m.cand[0].addr, ip, (uint16_t)(1024 + randombytes_uniform(60000)));
	return m;
}

/* The burst an established flood session sends. */
static void burst(struct src *s, struct slot *sl, const uint8_t *own, uint64_t now)
{
	konce_rdvwire_msg m = reg_for(own);
	encode_send(s, sl, &m, now);
	st.own_registers++;
	for (int i = 0; i < 4; i++) {
		uint8_t k[KONCE_WIRE_KEY];
		randombytes_buf(k, sizeof(k));
		m = reg_for(k);
		encode_send(s, sl, &m, now);
		st.forged_registers++;
	}
	for (int i = 0; i < 5; i++) {
		konce_rdvwire_msg r = {.type = KONCE_RDV_INTRO_REQUEST};
		randombytes_buf(&r.id, sizeof(r.id));
		randombytes_buf(r.target, sizeof(r.target));
		if (i < 4) {
			memcpy(r.key, own, KONCE_WIRE_KEY);
			st.intro_requests++;
		} else {
			randombytes_buf(r.key, sizeof(r.key));
			st.forged_intros++;
		}
		encode_send(s, sl, &r, now);
	}
	uint8_t junk[4000];
	size_t jl = 1 + randombytes_uniform(1100);
	randombytes_buf(junk, jl);
	junk[0] = (uint8_t)(KONCE_RDV_REGISTER + randombytes_uniform(9));
	rdv_msg(s, sl, junk, jl, now);
	st.malformed++;
	randombytes_buf(junk, sizeof(junk));
	junk[0] = KONCE_RDV_RELAY;
	junk[1] = 0;
	rdv_msg(s, sl, junk, sizeof(junk), now);
	st.oversized++;
}

static struct slot *slot_of(struct src *s, uint32_t conn)
{
	for (unsigned i = 0; i < MAX_CONC; i++)
		if (s->slots[i].conn == conn)
			return &s->slots[i];
	return NULL;
}

static void release(struct slot *sl)
{
	konce_identity_free(sl->id);
	sl->id = NULL;
	sl->conn = 0;
	sl->outstanding = 0;
}

static void events(struct src *s, uint64_t now)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(s->ep, &ev)) {
		struct slot *sl = slot_of(s, ev.conn);
		if (!sl)
			continue;
		switch (ev.type) {
		case KONCE_EV_ESTABLISHED:
			st.hs_ok++;
			sl->established = now;
			burst(s, sl, konce_identity_public(sl->id), now);
			konce_identity_free(sl->id);
			sl->id = NULL;
			break;
		case KONCE_EV_FAILED:
		case KONCE_EV_CLOSED:
			if (!sl->established)
				st.hs_failed++;
			release(sl);
			break;
		case KONCE_EV_MSG_DELIVERED:
		case KONCE_EV_MSG_FAILED:
			if (ev.type == KONCE_EV_MSG_DELIVERED)
				st.msgs_delivered++;
			else
				st.msgs_failed++;
			if (sl->outstanding && --sl->outstanding == 0 && sl->established) {
				konce_ep_close(s->ep, sl->conn, now);
				st.closed++;
				release(sl);
			}
			break;
		default:
			break;
		}
	}
}

static void start_handshakes(struct src *s, unsigned conc, uint64_t now)
{
	for (unsigned i = 0; i < conc; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->conn) {
			/* a session whose burst never completes gives way after 5 s */
			if (now - sl->started > 5000000u) {
				konce_ep_close(s->ep, sl->conn, now);
				if (!sl->established)
					st.hs_failed++;
				release(sl);
			}
			continue;
		}
		if (konce_identity_generate(&sl->id, konce_env_default()))
			return;
		konce_ep_connect_opts o = {.as = sl->id};
		uint32_t conn;
		if (konce_ep_connect_ex(s->ep, rdv_pk, &rdv_addr, NULL, 0, &o, now, &conn)) {
			konce_identity_free(sl->id);
			sl->id = NULL;
			return;
		}
		sl->conn = conn;
		sl->started = now;
		sl->established = 0;
		st.hs_started++;
	}
}

static void cheap(struct src *s)
{
	uint8_t b[KONCE_WIRE_MAX_DATAGRAM];
	size_t n;
	switch (randombytes_uniform(4)) {
	case 0: /* random bytes */
		n = 1 + randombytes_uniform(KONCE_WIRE_MAX_DATAGRAM);
		randombytes_buf(b, n);
		st.garbage++;
		break;
	case 1: /* a forged HELLO: right type and size, random content */
		n = KONCE_WIRE_MAX_DATAGRAM;
		randombytes_buf(b, n);
		b[0] = KONCE_PKT_HELLO;
		st.forged_hs++;
		break;
	case 2: /* a forged INITIATE */
		n = KONCE_INIT_MIN_SIZE + randombytes_uniform(KONCE_WIRE_MAX_DATAGRAM - KONCE_INIT_MIN_SIZE);
		randombytes_buf(b, n);
		b[0] = KONCE_PKT_INITIATE;
		st.forged_hs++;
		break;
	default: { /* a rendezvous message outside any session */
		uint8_t k[KONCE_WIRE_KEY];
		randombytes_buf(k, sizeof(k));
		konce_rdvwire_msg m = reg_for(k);
		n = konce_rdvwire_encode(&m, b, sizeof(b));
		st.bare_rdv++;
		break;
	}
	}
	send_to(s->fd, b, n, &rdv_addr);
}

static int open_src(struct src *s, const char *ip)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return -EINVAL;
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	int big = 1 << 20;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	return 0;
}

int main(int argc, char **argv)
{
	const char *rdv = NULL, *srcs = NULL;
	double seconds = 10;
	unsigned conc = 16, pps = 2000, max_pow = 20;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rdv"))
			rdv = argv[i + 1];
		else if (!strcmp(argv[i], "--src"))
			srcs = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--sessions"))
			conc = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--garbage-pps"))
			pps = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--max-pow"))
			max_pow = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "rdvflood: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	const char *at = rdv ? strchr(rdv, '@') : NULL;
	if (!at || !srcs || conc < 1 || conc > MAX_CONC || sodium_init() < 0 ||
	    konce_key_decode_(rdv_pk, rdv, (size_t)(at - rdv)) || konce_addr_parse(&rdv_addr, at + 1) < 0) {
		fprintf(stderr, "usage: rdvflood --rdv KEY@IP:PORT --src IP[,IP...] --seconds S [--sessions N<=%d] "
				"[--garbage-pps P] [--max-pow BITS]\n", MAX_CONC);
		return 2;
	}
	static struct src src[MAX_SRC];
	unsigned nsrc = 0;
	char *list = strdup(srcs), *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t && nsrc < MAX_SRC; t = strtok_r(NULL, ",", &save)) {
		struct src *s = &src[nsrc];
		int e = open_src(s, t);
		if (e) {
			fprintf(stderr, "rdvflood: cannot bind %s: %s\n", t, strerror(-e));
			return 1;
		}
		if (konce_identity_generate(&s->master, konce_env_default()))
			return 1;
		konce_ep_config cfg = {.identity = s->master, .max_sessions = MAX_CONC + 16, .max_pow_bits = max_pow,
				       .out_ring = 4096, .event_ring = 4096};
		if (konce_ep_new(&s->ep, &cfg, now_us())) {
			fprintf(stderr, "rdvflood: konce_ep_new failed\n");
			return 1;
		}
		nsrc++;
	}
	free(list);

	uint64_t t0 = now_us(), end = t0 + (uint64_t)(seconds * 1e6), last_tick = t0;
	double cheap_due = 0;
	struct pollfd pfd[MAX_SRC];
	while (now_us() < end) {
		uint64_t now = now_us();
		for (unsigned i = 0; i < nsrc; i++) {
			pfd[i].fd = src[i].fd;
			pfd[i].events = POLLIN;
		}
		(void)poll(pfd, nsrc, 1);
		now = now_us();
		for (unsigned i = 0; i < nsrc; i++) {
			struct src *s = &src[i];
			uint8_t buf[2048];
			struct sockaddr_storage ss;
			/* a COOKIE's proof of work is solved inside konce_ep_input: keep to the deadline */
			for (int k = 0; k < 256 && now_us() < end; k++) {
				socklen_t sl = sizeof(ss);
				ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
				if (n < 0)
					break;
				konce_addr from;
				if (konce_addr_from_sockaddr(&from, (struct sockaddr *)&ss))
					continue;
				konce_ep_input(s->ep, buf, (size_t)n, &from, now, NULL);
				/* the demand it just paid, if this was a COOKIE */
				if (n > 0 && buf[0] == KONCE_PKT_COOKIE && (size_t)n > KONCE_COOKIE_POW_BITS &&
				    buf[KONCE_COOKIE_POW_BITS] > st.pow_max)
					st.pow_max = buf[KONCE_COOKIE_POW_BITS];
			}
			if (konce_ep_next_timer(s->ep) <= now)
				konce_ep_timer(s->ep, now);
			events(s, now);
			start_handshakes(s, conc, now);
			flush(s);
		}
		/* garbage at pps per source, spread over the run */
		cheap_due += (double)(now - last_tick) / 1e6 * pps * nsrc;
		last_tick = now;
		for (; cheap_due >= 1; cheap_due--)
			cheap(&src[randombytes_uniform(nsrc)]);
	}
	double secs = (double)(now_us() - t0) / 1e6;
	printf("{\"seconds\":%.2f,\"sources\":%u,\"garbage\":%llu,\"forged_handshake\":%llu,\"bare_rendezvous\":%llu,"
	       "\"handshakes_started\":%llu,\"handshakes_ok\":%llu,\"handshakes_failed\":%llu,\"pow_max_demanded\":%u,"
	       "\"messages\":%llu,\"messages_delivered\":%llu,\"messages_failed\":%llu,\"own_registers\":%llu,"
	       "\"forged_registers\":%llu,\"intro_requests\":%llu,\"forged_intros\":%llu,\"malformed\":%llu,"
	       "\"oversized\":%llu,\"cheap_pps\":%.0f,\"handshakes_per_s\":%.1f,\"messages_per_s\":%.0f}\n",
	       secs, nsrc, (unsigned long long)st.garbage, (unsigned long long)st.forged_hs,
	       (unsigned long long)st.bare_rdv, (unsigned long long)st.hs_started, (unsigned long long)st.hs_ok,
	       (unsigned long long)st.hs_failed, st.pow_max, (unsigned long long)st.msgs,
	       (unsigned long long)st.msgs_delivered, (unsigned long long)st.msgs_failed,
	       (unsigned long long)st.own_registers, (unsigned long long)st.forged_registers,
	       (unsigned long long)st.intro_requests, (unsigned long long)st.forged_intros,
	       (unsigned long long)st.malformed, (unsigned long long)st.oversized,
	       (double)(st.garbage + st.forged_hs + st.bare_rdv) / secs, (double)st.hs_ok / secs,
	       (double)st.msgs / secs);
	for (unsigned i = 0; i < nsrc; i++) {
		for (unsigned k = 0; k < MAX_CONC; k++)
			konce_identity_free(src[i].slots[k].id);
		konce_ep_free(src[i].ep);
		konce_identity_free(src[i].master);
		close(src[i].fd);
	}
	return 0;
}
