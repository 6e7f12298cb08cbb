/*
 * travhostile: a registered attacker against two honest nodes' traversal, for
 * tests/netsim/test_trav_hostile.sh (the simulated counterpart is tests/sim/test_traversal_hostile.c).
 *
 *   travhostile --rdv KEY@IP:PORT --src IP --victim IP:PORT --targets KEY[,KEY]
 *               --hijack KEY@IP:PORT --seconds S [--sessions N]
 *
 * One UDP socket on --src and one konce endpoint (libkonce's sans-I/O konce_ep).  Over the run, at
 * once:
 *
 *   table filling and reflection: N sessions with the rendezvous, each under a fresh identity, each
 *     registering with the victim's addresses (--victim, its port and the next three) as host,
 *     port-mapped and reflexive candidates and a random mapping, then asking every 500 ms for an
 *     introduction to each of --targets in turn: every introduced target gets a stranger per
 *     identity and is told to probe the victim;
 *   hijack: every 20 ms, a PUNCH probe and a PUNCH ack naming the first key of --hijack, sent to
 *     its address (the other honest node), with a made-up intro id and MAC; every PUNCH probe that
 *     reaches us is echoed as that key's ack.
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

enum { MAX_SESS = 64, MAX_TARGETS = 4, VICTIM_PORTS = 4, REQ_US = 500 * 1000, HIJACK_US = 20 * 1000 };

struct sess {
	konce_identity *id;
	uint32_t conn; /* 0 = none */
	bool up, registered;
	uint64_t next_req;
	unsigned reqs;
};

static struct {
	uint64_t dials, established, died, registers, registered, intro_requests, intros, spent_bytes, forged_probes,
		forged_acks, punch_rx, echoed;
} st;

static int fd;
static konce_ep *ep;
static struct sess sess[MAX_SESS];
static uint8_t rdv_pk[KONCE_WIRE_KEY], hijack_pk[KONCE_WIRE_KEY], targets[MAX_TARGETS][KONCE_WIRE_KEY];
static unsigned ntargets;
static konce_addr rdv, victim, hijack_to;

/* A PUNCH naming the hijacked key; it cannot know an introduction's secret, so the MAC is random. */
static void forge_punch(bool ack, uint64_t intro_id, uint16_t seq, const konce_addr *seen, const konce_addr *to)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = ack ? KONCE_PUNCH_F_ACK : 0, .seq = seq, .id = intro_id};
	memcpy(m.key, hijack_pk, KONCE_WIRE_KEY);
	if (ack)
		m.addr = *seen;
	randombytes_buf(m.mac, sizeof(m.mac));
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	if (len)
		atk_send_to(fd, buf, len, to);
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
	if (len && !konce_ep_msg_send(ep, s->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id))
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
		if (konce_ep_connect_ex(ep, rdv_pk, &rdv, NULL, 0, &o, now, &s->conn) == 0)
			konce_ep_set_wanted(ep, s->conn, true, now);
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

static struct sess *by_conn(uint32_t conn)
{
	for (unsigned i = 0; i < MAX_SESS; i++)
		if (sess[i].conn && sess[i].conn == conn)
			return &sess[i];
	return NULL;
}

static void events(void)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(ep, &ev)) {
		struct sess *s = by_conn(ev.conn);
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
			if (m.type == KONCE_RDV_INTRO)
				st.intros++;
		}
	}
}

static void input(const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m;
	if (!konce_rdvwire_decode(&m, pkt, len) && m.type == KONCE_RDV_PUNCH) {
		/* a probe that reached us (an honest node probing a candidate): acked as the hijacked key */
		st.punch_rx++;
		if (!(m.flags & KONCE_PUNCH_F_ACK)) {
			forge_punch(true, m.id, m.seq, from, from);
			st.echoed++;
		}
		return;
	}
	konce_ep_input(ep, pkt, len, from, now, NULL);
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
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (sodium_init() < 0 || parse_keyaddr(rdv_s, rdv_pk, &rdv) || parse_keyaddr(hijack_s, hijack_pk, &hijack_to) ||
	    !victim_s || konce_addr_parse(&victim, victim_s) < 0 || parse_targets(targets_s) || !src ||
	    inet_pton(AF_INET, src, &sa.sin_addr) != 1 || nsess < 1 || nsess > MAX_SESS) {
		fprintf(stderr, "usage: travhostile --rdv KEY@IP:PORT --src IP --victim IP:PORT --targets KEY[,KEY] "
				"--hijack KEY@IP:PORT --seconds S [--sessions N<=%d]\n", MAX_SESS);
		return 2;
	}
	konce_identity *master;
	konce_ep_config cfg = {.max_sessions = MAX_SESS + 16, .out_ring = 4096, .event_ring = 4096};
	if (atk_open("travhostile", &sa, &cfg, &fd, &master, &ep))
		return 1;
	uint64_t t0 = atk_now_us(), end = t0 + (uint64_t)(seconds * 1e6), next_hijack = t0;
	while (atk_now_us() < end) {
		atk_receive(fd, input);
		uint64_t now = atk_now_us();
		if (konce_ep_next_timer(ep) <= now)
			konce_ep_timer(ep, now);
		events();
		for (unsigned i = 0; i < nsess; i++)
			sess_tick(&sess[i], now);
		if (now >= next_hijack) {
			uint64_t id;
			uint16_t seq;
			randombytes_buf(&id, sizeof(id));
			randombytes_buf(&seq, sizeof(seq));
			forge_punch(false, id, seq, &hijack_to, &hijack_to);
			forge_punch(true, id, seq, &hijack_to, &hijack_to);
			st.forged_probes++;
			st.forged_acks++;
			next_hijack = now + HIJACK_US;
		}
		atk_flush(fd, ep);
	}
	printf("{\"seconds\":%.2f,\"sessions\":%u,\"dials\":%llu,\"established\":%llu,\"died\":%llu,"
	       "\"registers\":%llu,\"registered\":%llu,\"intro_requests\":%llu,\"intros\":%llu,\"spent_bytes\":%llu,"
	       "\"forged_probes\":%llu,\"forged_acks\":%llu,\"punch_rx\":%llu,\"echoed\":%llu}\n",
	       (double)(atk_now_us() - t0) / 1e6, nsess, (unsigned long long)st.dials, (unsigned long long)st.established,
	       (unsigned long long)st.died, (unsigned long long)st.registers, (unsigned long long)st.registered,
	       (unsigned long long)st.intro_requests, (unsigned long long)st.intros,
	       (unsigned long long)st.spent_bytes, (unsigned long long)st.forged_probes,
	       (unsigned long long)st.forged_acks, (unsigned long long)st.punch_rx, (unsigned long long)st.echoed);
	for (unsigned i = 0; i < MAX_SESS; i++)
		konce_identity_free(sess[i].id);
	konce_ep_free(ep);
	konce_identity_free(master);
	close(fd);
	return 0;
}
