/*
 * travhostile: a registered attacker against two honest nodes' traversal, for
 * tests/netsim/test_trav_hostile.sh (the simulated counterpart is tests/sim/test_traversal_hostile.c).
 *
 *   travhostile --rdv KEY@IP:PORT --src IP[,IP...] --victim IP:PORT --targets KEY[,KEY]
 *               --hijack KEY@IP:PORT --seconds S [--sessions N]
 *
 * One UDP socket and one konce endpoint (libkonce's sans-I/O konce_ep) on each --src address (up
 * to 8): the rendezvous charges new registrations to their source address (8 keys at once, then
 * one per 4 s, nat/rendezvous.h), so the sessions are spread over the addresses, session i on
 * address i mod n.  Over the run, at once:
 *
 *   table filling and reflection: N sessions with the rendezvous, each under a fresh identity, each
 *     registering with the victim's addresses (--victim, its port and the next three) as host,
 *     port-mapped and reflexive candidates and a random mapping, then asking every 500 ms for an
 *     introduction to each of --targets in turn: every introduced target gets a stranger per
 *     identity and is told to probe the victim.  The rendezvous replaces the claimed reflexive
 *     candidate by the address it saw, ours, so the introduced targets probe us too;
 *   hijack: every 20 ms, a PUNCH probe and a PUNCH ack naming the first key of --hijack, sent to
 *     its address (the other honest node), with a made-up intro id and MAC; every probe that
 *     reaches us (a PUNCH probe, or a HELLO copy carrying the traversal tag: node/core/trav_hs.c)
 *     is echoed to its sender as that key's ack (counted apart when the sender is --hijack's
 *     address, whose pair with that key we attack), with the probe's intro id and, when the probe
 *     belongs to an introduction we got (one of our identities'), a MAC made with that
 *     introduction's secret: the best forgery a registered attacker can make, since it never
 *     learns the secret of the hijacked pair's introduction.
 *
 * Datagrams that arrive are parsed only by libkonce's bounds-checked parsers (konce_rdvwire_decode,
 * which has its fuzz target, and the endpoint).  At the end it prints one JSON object with what it
 * did; the bytes it spent are the rendezvous message bodies it sent (REGISTER and INTRO_REQUEST).
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

#include "nat/rdvwire.h"
#include "node/base/wire.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "node/transport/keytext.h"
#include "tests/netsim/attacker.h"

enum {
	MAX_SESS = 64, MAX_SRC = 8, MAX_TARGETS = 4, VICTIM_PORTS = 4, REQ_US = 500 * 1000, HIJACK_US = 20 * 1000,
	INTRO_RING = 256,
};

struct sess {
	konce_identity *id;
	unsigned src;  /* the source address (socket and endpoint) it lives on */
	uint32_t conn; /* 0 = none */
	bool up, registered;
	uint64_t next_req;
	unsigned reqs;
};

static struct {
	uint64_t dials, established, died, registers, registered, intro_requests, intros, spent_bytes, forged_probes,
		forged_acks, punch_rx, hello_rx, echoed, echoed_keyed, echoed_hijack;
} st;

/* the introductions our identities got: their ids and secrets (latest INTRO_RING) */
static struct {
	uint64_t id;
	uint8_t secret[KONCE_INTRO_SECRET_BYTES];
} intro_ring[INTRO_RING];
static unsigned intro_next;

static unsigned nsrc, cur_src; /* cur_src: the socket input() is reading */
static int fds[MAX_SRC];
static konce_ep *eps[MAX_SRC];
static konce_identity *masters[MAX_SRC];
static struct sess sess[MAX_SESS];
static uint8_t rdv_pk[KONCE_WIRE_KEY], hijack_pk[KONCE_WIRE_KEY], targets[MAX_TARGETS][KONCE_WIRE_KEY];
static unsigned ntargets;
static konce_addr rdv, victim, hijack_to;

/* A PUNCH naming the hijacked key, from socket src.  The hijacked pair's introduction secret is
 * out of reach, so the MAC is made with secret (another introduction's, which we hold) if given,
 * else random. */
static void forge_punch(unsigned src, bool ack, uint64_t intro_id, uint16_t seq, const konce_addr *seen,
			const konce_addr *to, const uint8_t *secret)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = ack ? KONCE_PUNCH_F_ACK : 0, .seq = seq, .id = intro_id};
	memcpy(m.key, hijack_pk, KONCE_WIRE_KEY);
	if (ack)
		m.addr = *seen;
	randombytes_buf(m.mac, sizeof(m.mac));
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	if (len && secret) /* as nat/punch.c tags it: over [0, KONCE_PUNCH_MAC), keyed by the secret */
		crypto_generichash(buf + KONCE_PUNCH_MAC, KONCE_PUNCH_MAC_BYTES, buf, KONCE_PUNCH_MAC, secret,
				   KONCE_INTRO_SECRET_BYTES);
	if (len)
		atk_send_to(fds[src], buf, len, to);
}

static const uint8_t *intro_secret(uint64_t id)
{
	for (unsigned i = 0; i < INTRO_RING && i < intro_next; i++)
		if (intro_ring[i].id == id)
			return intro_ring[i].secret;
	return NULL;
}

/* A probe of an honest node's attempt with intro id reached us from `from`: echoed as the
 * hijacked key's ack. */
static void echo(uint64_t intro_id, uint16_t seq, const konce_addr *from)
{
	const uint8_t *secret = intro_secret(intro_id);
	forge_punch(cur_src, true, intro_id, seq, from, from, secret);
	st.echoed++;
	st.echoed_keyed += secret != NULL;
	st.echoed_hijack += konce_addr_eq(from, &hijack_to); /* to the node whose pair we attack */
}

/* One rendezvous message on session s (its body counted as what the attacker spent). */
static void rdv_send(struct sess *s, const konce_rdvwire_msg *m, uint64_t now)
{
	uint8_t buf[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG];
	uint64_t id;
	size_t len = konce_rdvwire_encode(m, buf + KONCE_MSG_BODY, KONCE_RDV_MAX_MSG);
	wire_put16(buf + KONCE_MSG_CLASS, KONCE_CLASS_RENDEZVOUS);
	buf[KONCE_MSG_FLAGS] = 0;
	wire_put64(buf + KONCE_MSG_NONCE, 0);
	if (len && !konce_ep_msg_send(eps[s->src], s->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id))
		st.spent_bytes += len;
}

static void rdv_register(struct sess *s, uint64_t now)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .nat = {KONCE_NATMAP_EDM_RANDOM, 0, 0},
			       .ncand = KONCE_RDV_MAX_REG_CANDS};
	randombytes_buf(&m.id, sizeof(m.id));
	memcpy(m.key, konce_identity_public(s->id), KONCE_WIRE_KEY);
	for (unsigned i = 0; i < m.ncand; i++) {
		m.cand[i].type = i == 0 ? KONCE_CAND_REFLEXIVE : i % 2 ? KONCE_CAND_HOST : KONCE_CAND_MAPPED;
		m.cand[i].addr = victim;
		m.cand[i].addr.port = (uint16_t)(victim.port + i % VICTIM_PORTS);
	}
	rdv_send(s, &m, now);
	st.registers++;
}

static void sess_tick(struct sess *s, uint64_t now)
{
	if (!s->conn) {
		if (!s->id && konce_identity_generate(&s->id, konce_env_default()))
			return;
		konce_ep_connect_opts o = {.as = s->id};
		st.dials++;
		if (konce_ep_connect_ex(eps[s->src], rdv_pk, &rdv, NULL, 0, &o, now, &s->conn) == 0)
			konce_ep_set_wanted(eps[s->src], s->conn, true, now);
		else
			s->conn = 0;
		s->up = s->registered = false;
		s->next_req = now + REQ_US;
		return;
	}
	if (!s->up || now < s->next_req)
		return;
	s->next_req = now + REQ_US;
	if (!s->registered || s->reqs % 20 == 19)
		rdv_register(s, now);
	if (s->registered) {
		konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REQUEST};
		randombytes_buf(&m.id, sizeof(m.id));
		memcpy(m.key, konce_identity_public(s->id), KONCE_WIRE_KEY);
		memcpy(m.target, targets[s->reqs % ntargets], KONCE_WIRE_KEY);
		rdv_send(s, &m, now);
		st.intro_requests++;
	}
	s->reqs++;
}

static struct sess *by_conn(unsigned src, uint32_t conn)
{
	for (unsigned i = 0; i < MAX_SESS; i++)
		if (sess[i].conn && sess[i].src == src && sess[i].conn == conn)
			return &sess[i];
	return NULL;
}

static void events(unsigned src)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(eps[src], &ev)) {
		struct sess *s = by_conn(src, ev.conn);
		konce_rdvwire_msg m;
		if (!s)
			continue;
		if (ev.type == KONCE_EV_ESTABLISHED) {
			s->up = true;
			st.established++;
		} else if (ev.type == KONCE_EV_FAILED || ev.type == KONCE_EV_CLOSED) {
			s->conn = 0;
			s->up = s->registered = false;
			st.died++;
		} else if (ev.type == KONCE_EV_MESSAGE && ev.len > KONCE_MSG_BODY &&
			   wire_get16(ev.data + KONCE_MSG_CLASS) == KONCE_CLASS_RENDEZVOUS &&
			   !konce_rdvwire_decode(&m, ev.data + KONCE_MSG_BODY, ev.len - KONCE_MSG_BODY)) {
			if (m.type == KONCE_RDV_REGISTERED && !s->registered) {
				s->registered = true;
				st.registered++;
			}
			if (m.type == KONCE_RDV_INTRO) {
				st.intros++;
				intro_ring[intro_next % INTRO_RING].id = m.id;
				memcpy(intro_ring[intro_next++ % INTRO_RING].secret, m.secret, KONCE_INTRO_SECRET_BYTES);
			}
		}
	}
}

static void input(const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m;
	if (!konce_rdvwire_decode(&m, pkt, len) && m.type == KONCE_RDV_PUNCH) {
		/* a probe that reached us (an honest node probing a candidate): acked as the hijacked key */
		st.punch_rx++;
		if (!(m.flags & KONCE_PUNCH_F_ACK))
			echo(m.id, m.seq, from);
		return;
	}
	if (len == KONCE_HELLO_SIZE && pkt[0] == KONCE_PKT_HELLO &&
	    !memcmp(pkt + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4)) {
		/* a HELLO copy: the first attempt's probe (node/core/trav_hs.c), tagged with its intro id */
		st.hello_rx++;
		echo(wire_get64(pkt + KONCE_HELLO_TRAV_INTRO), 0, from);
	}
	konce_ep_input(eps[cur_src], pkt, len, from, now, NULL);
}

static int parse_keyaddr(const char *s, uint8_t pk[KONCE_WIRE_KEY], konce_addr *a)
{
	const char *at = s ? strchr(s, '@') : NULL;
	return at && !konce_key_decode_(pk, s, (size_t)(at - s)) && konce_addr_parse(a, at + 1) >= 0 ? 0 : -1;
}

static int parse_targets(const char *s)
{
	while (s && *s && ntargets < MAX_TARGETS) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (konce_key_decode_(targets[ntargets++], s, n))
			return -1;
		s = comma ? comma + 1 : NULL;
	}
	return ntargets ? 0 : -1;
}

static struct sockaddr_in srcs[MAX_SRC];

static int parse_srcs(const char *s)
{
	char ip[INET_ADDRSTRLEN];
	while (s && *s && nsrc < MAX_SRC) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (n >= sizeof(ip))
			return -1;
		memcpy(ip, s, n);
		ip[n] = 0;
		srcs[nsrc] = (struct sockaddr_in){.sin_family = AF_INET};
		if (inet_pton(AF_INET, ip, &srcs[nsrc++].sin_addr) != 1)
			return -1;
		s = comma ? comma + 1 : NULL;
	}
	return nsrc && !(s && *s) ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *rdv_s = NULL, *src = NULL, *victim_s = NULL, *targets_s = NULL, *hijack_s = NULL;
	double seconds = 10;
	unsigned nsess = 16;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rdv"))
			rdv_s = argv[i + 1];
		else if (!strcmp(argv[i], "--src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--victim"))
			victim_s = argv[i + 1];
		else if (!strcmp(argv[i], "--targets"))
			targets_s = argv[i + 1];
		else if (!strcmp(argv[i], "--hijack"))
			hijack_s = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--sessions"))
			nsess = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "travhostile: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (sodium_init() < 0 || parse_keyaddr(rdv_s, rdv_pk, &rdv) || parse_keyaddr(hijack_s, hijack_pk, &hijack_to) ||
	    !victim_s || konce_addr_parse(&victim, victim_s) < 0 || parse_targets(targets_s) || parse_srcs(src) ||
	    nsess < 1 || nsess > MAX_SESS) {
		fprintf(stderr, "usage: travhostile --rdv KEY@IP:PORT --src IP[,IP...] --victim IP:PORT --targets KEY[,KEY] "
				"--hijack KEY@IP:PORT --seconds S [--sessions N<=%d]\n", MAX_SESS);
		return 2;
	}
	for (unsigned k = 0; k < nsrc; k++) {
		konce_ep_config cfg = {.max_sessions = MAX_SESS + 16, .out_ring = 4096, .event_ring = 4096};
		if (atk_open("travhostile", &srcs[k], &cfg, &fds[k], &masters[k], &eps[k]))
			return 1;
	}
	for (unsigned i = 0; i < nsess; i++)
		sess[i].src = i % nsrc;
	uint64_t t0 = atk_now_us(), end = t0 + (uint64_t)(seconds * 1e6), next_hijack = t0;
	while (atk_now_us() < end) {
		atk_wait_any(fds, nsrc);
		for (cur_src = 0; cur_src < nsrc; cur_src++)
			atk_drain(fds[cur_src], input);
		uint64_t now = atk_now_us();
		for (unsigned k = 0; k < nsrc; k++) {
			if (konce_ep_next_timer(eps[k]) <= now)
				konce_ep_timer(eps[k], now);
			events(k);
		}
		for (unsigned i = 0; i < nsess; i++)
			sess_tick(&sess[i], now);
		if (now >= next_hijack) {
			uint64_t id;
			uint16_t seq;
			randombytes_buf(&id, sizeof(id));
			randombytes_buf(&seq, sizeof(seq));
			forge_punch(0, false, id, seq, &hijack_to, &hijack_to, NULL);
			forge_punch(0, true, id, seq, &hijack_to, &hijack_to, NULL);
			st.forged_probes++;
			st.forged_acks++;
			next_hijack = now + HIJACK_US;
		}
		for (unsigned k = 0; k < nsrc; k++)
			atk_flush(fds[k], eps[k]);
	}
	printf("{\"seconds\":%.2f,\"sources\":%u,\"sessions\":%u,\"dials\":%llu,\"established\":%llu,\"died\":%llu,"
	       "\"registers\":%llu,\"registered\":%llu,\"intro_requests\":%llu,\"intros\":%llu,\"spent_bytes\":%llu,"
	       "\"forged_probes\":%llu,\"forged_acks\":%llu,\"punch_rx\":%llu,\"hello_rx\":%llu,\"echoed\":%llu,"
	       "\"echoed_keyed\":%llu,\"echoed_hijack\":%llu}\n",
	       (double)(atk_now_us() - t0) / 1e6, nsrc, nsess, (unsigned long long)st.dials,
	       (unsigned long long)st.established, (unsigned long long)st.died, (unsigned long long)st.registers,
	       (unsigned long long)st.registered, (unsigned long long)st.intro_requests, (unsigned long long)st.intros,
	       (unsigned long long)st.spent_bytes, (unsigned long long)st.forged_probes,
	       (unsigned long long)st.forged_acks, (unsigned long long)st.punch_rx, (unsigned long long)st.hello_rx,
	       (unsigned long long)st.echoed, (unsigned long long)st.echoed_keyed,
	       (unsigned long long)st.echoed_hijack);
	for (unsigned i = 0; i < MAX_SESS; i++)
		konce_identity_free(sess[i].id);
	sodium_memzero(intro_ring, sizeof(intro_ring));
	for (unsigned k = 0; k < nsrc; k++) {
		konce_ep_free(eps[k]);
		konce_identity_free(masters[k]);
		close(fds[k]);
	}
	return 0;
}
