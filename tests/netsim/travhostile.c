/*
 * travhostile: a registered attacker against two honest nodes' traversal, for
 * tests/netsim/test_trav_hostile.sh (the simulated counterpart is tests/sim/test_traversal_hostile.c).
 *
 *   travhostile --rdv KEY@IP:PORT --src IP[,IP...] --hijack-src IP --victim IP:PORT
 *               --targets KEY,KEY --hijack KEY@IP:PORT --seconds S
 *               [--sessions N] [--wave W] [--wave-s S]
 *
 * One UDP socket and one konce endpoint (libkonce's sans-I/O konce_ep) on each --src address (up
 * to 12): the rendezvous charges new registrations to their source address (8 keys at once, then
 * one per 4 s, nat/rendezvous.h), so the identities are spread over the addresses, identity i on
 * address i mod n.  The endpoints carry only the rendezvous sessions: nothing else that arrives
 * is handed to them, so no identity ever answers an honest node's handshake.  One more socket,
 * on --hijack-src, only forges PUNCH: no identity lives there, so nothing honest has a reason to
 * send it anything.  Over the run, at once:
 *
 *   table filling and reflection: N identities (--sessions), in waves of W (--wave) started S
 *     seconds apart (--wave-s), each with a session to the rendezvous, registering with the
 *     victim's addresses (--victim, its port and the next three) as its claimed candidates, then
 *     asking every 500 ms for an introduction to each of --targets until it got one: every
 *     introduced target gets a stranger per identity, which is told to probe the victim, dials it,
 *     and is never answered, so once that dial fails the stranger's entry has no session and is
 *     evictable; the next wave's introductions then evict them.  Even identities register an
 *     endpoint-dependent random mapping and a port-mapped candidate (direct expected: the honest
 *     node's probes of the observed address are HELLO copies, node/core/trav_hs.c), odd ones an
 *     unknown mapping and no port mapping (relay first: the probes are PUNCH, nat/punch.h).  The
 *     rendezvous replaces the claimed reflexive candidate by the address it saw, ours, so the
 *     introduced targets probe us;
 *   hijack (finding 1 of the issue): every 20 ms a PUNCH probe and a PUNCH ack naming --hijack's
 *     key, sent from the --hijack-src socket to --hijack's address (the other honest node, which
 *     has traversal state for that key), and the same, naming the other target, to every address
 *     a target's probe came from (its NAT's mapping: the probe opened its filter toward that
 *     socket) from the socket it reached.  Their intro id alternates between a random one with a
 *     random MAC and the id of an introduction of one of our identities to that node, with a MAC
 *     made with that introduction's secret: the best forgery a registered attacker can make,
 *     since it never learns the secret of the hijacked pair's introduction.  And every probe that
 *     reaches us (a PUNCH probe, or a HELLO copy carrying the traversal tag) is echoed to its
 *     sender as the other target's PUNCH ack, with the probe's intro id and, when the probe
 *     belongs to an introduction we got, a MAC made with that introduction's secret.
 *
 * Every PUNCH, HELLO copy and PUNCH ack that reaches us is checked against the introductions our
 * identities got: one whose intro id and MAC are an introduction's of ours is a probe of our own
 * identities' attempts; any other (none expected) is "foreign": an honest node probing us for
 * something learned from a forged packet (an attempt of its pair, or the id we chose).  A probe
 * that beats our copy of its INTRO is checked again at the end.
 *
 * Datagrams that arrive are parsed only by libkonce's bounds-checked parsers (konce_rdvwire_decode,
 * which has its fuzz target, and the endpoint).  At the end it prints one JSON object with what it
 * did (the arrays are in --targets order); spent_bytes are the rendezvous message bodies it sent
 * (REGISTER and INTRO_REQUEST), wire_bytes every datagram it sent the rendezvous.
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
	MAX_SESS = 64, MAX_SRC = 12, MAX_TARGETS = 2, VICTIM_PORTS = 4, REQ_US = 500 * 1000, HIJACK_US = 20 * 1000,
	INTRO_RING = 1024, PENDING = 256, HSRC = MAX_SRC, /* cur_src of the --hijack-src socket */
};

struct sess {
	konce_identity *id;
	unsigned src;  /* the source address (socket and endpoint) it lives on */
	uint32_t conn; /* 0 = none */
	bool up, registered, unknown_nat;
	uint64_t start_us, next_req;
	unsigned reqs, introduced; /* introduced: bit t set once an INTRO to targets[t] came */
};

static struct {
	uint64_t dials, established, died, registers, registered, intro_requests, intros, spent_bytes, wire_bytes,
		forged_probes, forged_acks, forged_own_id, punch_rx, hello_rx, acks_rx, echoed, echoed_keyed, hijack_rx,
		probes_ours, pending_overflow;
	uint64_t intro_keys[MAX_TARGETS]; /* identities introduced to target t */
	uint64_t named[MAX_TARGETS];      /* PUNCH sent to target t naming the other target (forged, echoes) */
	uint64_t echoes_to[MAX_TARGETS];  /* of which echoes of its probes */
	uint64_t probes_from[MAX_TARGETS];
} st;

/* the introductions our identities got (latest INTRO_RING): their ids, secrets and peers */
static struct {
	uint64_t id;
	uint8_t secret[KONCE_INTRO_SECRET_BYTES];
	int target; /* index in targets, or -1 */
} intro_ring[INTRO_RING];
static unsigned intro_next;
static int last_intro[MAX_TARGETS] = {-1, -1}; /* ring index of the latest introduction to target t */

/* probes whose introduction we did not hold yet when they came: checked again at the end */
static struct {
	uint64_t id;
	size_t maclen; /* the MAC at pkt[maclen] covers pkt[0, maclen) */
	uint8_t pkt[KONCE_HELLO_TRAV_MAC + KONCE_PUNCH_MAC_BYTES];
} pending[PENDING];
static unsigned npending;

/* where each target's probes came from (its mapping: the probe opened its NAT toward socket src) */
static struct {
	bool known;
	konce_addr addr;
	unsigned src;
} learned[MAX_TARGETS];

static unsigned nsrc, cur_src; /* cur_src: the socket input() is reading (HSRC: the hijack socket) */
static int fds[MAX_SRC + 1];
static konce_ep *eps[MAX_SRC];
static konce_identity *masters[MAX_SRC];
static struct sess sess[MAX_SESS];
static uint8_t rdv_pk[KONCE_WIRE_KEY], hijack_pk[KONCE_WIRE_KEY], targets[MAX_TARGETS][KONCE_WIRE_KEY];
static unsigned ntargets;
static konce_addr rdv, victim, hijack_to;

static int target_of(const uint8_t *pk)
{
	for (unsigned t = 0; t < ntargets; t++)
		if (!memcmp(pk, targets[t], KONCE_WIRE_KEY))
			return (int)t;
	return -1;
}

/* The target whose key we name toward target t: the other one. */
static const uint8_t *other(int t) { return targets[t == 0 && ntargets > 1 ? 1 : 0]; }

/* A PUNCH naming pk, from socket fd.  The hijacked pair's introduction secret is out of reach, so
 * the MAC is made with secret (another introduction's, which we hold) if given, else random. */
static void forge_punch(int fd, const uint8_t pk[KONCE_WIRE_KEY], bool ack, uint64_t intro_id, uint16_t seq,
			const konce_addr *seen, const konce_addr *to, const uint8_t *secret)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = ack ? KONCE_PUNCH_F_ACK : 0, .seq = seq, .id = intro_id};
	memcpy(m.key, pk, KONCE_WIRE_KEY);
	if (ack)
		m.addr = *seen;
	randombytes_buf(m.mac, sizeof(m.mac));
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	if (len && secret) /* as nat/punch.c tags it: over [0, KONCE_PUNCH_MAC), keyed by the secret */
		crypto_generichash(buf + KONCE_PUNCH_MAC, KONCE_PUNCH_MAC_BYTES, buf, KONCE_PUNCH_MAC, secret,
				   KONCE_INTRO_SECRET_BYTES);
	if (len)
		atk_send_to(fd, buf, len, to);
}

static const uint8_t *intro_secret(uint64_t id)
{
	for (unsigned i = 0; i < INTRO_RING && i < intro_next; i++)
		if (intro_ring[i].id == id)
			return intro_ring[i].secret;
	return NULL;
}

/* Whether mac (over pkt[0, maclen)) was made with the secret of our introduction `id`. */
static bool ours(uint64_t id, const uint8_t *pkt, size_t maclen)
{
	const uint8_t *secret = intro_secret(id);
	uint8_t want[KONCE_PUNCH_MAC_BYTES];
	if (!secret)
		return false;
	crypto_generichash(want, sizeof(want), pkt, maclen, secret, KONCE_INTRO_SECRET_BYTES);
	return sodium_memcmp(want, pkt + maclen, sizeof(want)) == 0;
}

/* A probe or ack reached us: counted as our identities' (now, or at the end), and a probe from a
 * target is echoed to it as the other target's ack, and teaches where to forge at it. */
static void probe_rx(const uint8_t *pkt, size_t maclen, bool ack, uint64_t intro_id, uint16_t seq,
		     const uint8_t *sender, const konce_addr *from)
{
	if (ours(intro_id, pkt, maclen))
		st.probes_ours++;
	else if (npending < PENDING) {
		pending[npending].id = intro_id;
		pending[npending].maclen = maclen;
		memcpy(pending[npending++].pkt, pkt, maclen + KONCE_PUNCH_MAC_BYTES);
	} else
		st.pending_overflow++;
	int t = target_of(sender);
	if (t < 0 || ack)
		return;
	st.probes_from[t]++;
	if (cur_src != HSRC && !konce_addr_eq(from, &hijack_to)) {
		learned[t].known = true;
		learned[t].addr = *from;
		learned[t].src = cur_src;
	}
	const uint8_t *secret = intro_secret(intro_id);
	forge_punch(fds[cur_src], other(t), true, intro_id, seq, from, from, secret);
	st.echoed++;
	st.echoed_keyed += secret != NULL;
	st.echoes_to[t]++;
	st.named[t]++;
}

/* One rendezvous message on session s (its body counted as what the attacker spent). */
static void rdv_send(struct sess *s, const konce_rdvwire_msg *m, uint64_t now)
{
	uint8_t buf[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG];
	uint64_t id;
	size_t len = konce_rdvwire_encode(m, buf + KONCE_MSG_BODY, KONCE_RDV_MAX_MSG);
	konce_msg_head_put(buf, KONCE_CLASS_RENDEZVOUS, 0, 0);
	if (len && !konce_ep_msg_send(eps[s->src], s->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id))
		st.spent_bytes += len;
}

static void rdv_register(struct sess *s, uint64_t now)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .ncand = KONCE_RDV_MAX_REG_CANDS};
	m.nat.mapping = s->unknown_nat ? KONCE_NATMAP_UNKNOWN : KONCE_NATMAP_EDM_RANDOM;
	randombytes_buf(&m.id, sizeof(m.id));
	memcpy(m.key, konce_identity_public(s->id), KONCE_WIRE_KEY);
	for (unsigned i = 0; i < m.ncand; i++) {
		/* a port-mapped candidate makes a direct path expected (nat/candidates.h) */
		m.cand[i].type = i == 0 ? KONCE_CAND_REFLEXIVE
					: i % 2 || s->unknown_nat ? KONCE_CAND_HOST : KONCE_CAND_MAPPED;
		m.cand[i].addr = victim;
		m.cand[i].addr.port = (uint16_t)(victim.port + i % VICTIM_PORTS);
	}
	rdv_send(s, &m, now);
	st.registers++;
}

static void sess_tick(struct sess *s, uint64_t now)
{
	if (now < s->start_us)
		return;
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
	for (unsigned t = 0; s->registered && t < ntargets; t++) {
		if (s->introduced & 1u << t)
			continue; /* introduced once: its stranger entry is left to die */
		konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REQUEST};
		randombytes_buf(&m.id, sizeof(m.id));
		memcpy(m.key, konce_identity_public(s->id), KONCE_WIRE_KEY);
		memcpy(m.target, targets[t], KONCE_WIRE_KEY);
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

static void on_intro(struct sess *s, const konce_rdvwire_msg *m)
{
	int t = target_of(m->key);
	unsigned k = intro_next++ % INTRO_RING;
	st.intros++;
	intro_ring[k].id = m->id;
	intro_ring[k].target = t;
	memcpy(intro_ring[k].secret, m->secret, KONCE_INTRO_SECRET_BYTES);
	if (t < 0)
		return;
	last_intro[t] = (int)k;
	if (!(s->introduced & 1u << t))
		st.intro_keys[t]++;
	s->introduced |= 1u << t;
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
			if (m.type == KONCE_RDV_INTRO)
				on_intro(s, &m);
			sodium_memzero(m.secret, sizeof(m.secret));
		}
	}
}

static void input(const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m;
	st.hijack_rx += cur_src == HSRC;
	if (!konce_rdvwire_decode(&m, pkt, len) && m.type == KONCE_RDV_PUNCH) {
		bool ack = m.flags & KONCE_PUNCH_F_ACK;
		st.punch_rx += !ack;
		st.acks_rx += ack;
		probe_rx(pkt, KONCE_PUNCH_MAC, ack, m.id, m.seq, m.key, from);
	} else if (len == KONCE_HELLO_SIZE && pkt[0] == KONCE_PKT_HELLO &&
		   !memcmp(pkt + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4)) {
		/* a HELLO copy: the first attempt's probe (node/core/trav_hs.c), tagged with its intro id */
		st.hello_rx++;
		probe_rx(pkt, KONCE_HELLO_TRAV_MAC, false, wire_get64(pkt + KONCE_HELLO_TRAV_INTRO), 0,
			 pkt + KONCE_HELLO_TRAV_KEY, from);
	} else if (cur_src != HSRC && konce_addr_eq(from, &rdv)) {
		konce_ep_input(eps[cur_src], pkt, len, from, now, NULL); /* our rendezvous sessions only */
	}
}

/* One tick of the hijack: a forged probe and ack naming the other target at each target address
 * we can reach, the intro id alternately random and an introduction of ours to that node. */
static void hijack_tick(bool own_id)
{
	for (unsigned t = 0; t < ntargets; t++) {
		bool at_hijack = !memcmp(other((int)t), hijack_pk, KONCE_WIRE_KEY);
		if (!at_hijack && !learned[t].known)
			continue;
		int fd = at_hijack ? fds[HSRC] : fds[learned[t].src];
		const konce_addr *to = at_hijack ? &hijack_to : &learned[t].addr;
		const uint8_t *secret = NULL;
		uint64_t id;
		uint16_t seq;
		randombytes_buf(&id, sizeof(id));
		randombytes_buf(&seq, sizeof(seq));
		if (own_id && last_intro[t] >= 0) {
			id = intro_ring[last_intro[t]].id;
			secret = intro_ring[last_intro[t]].secret;
			st.forged_own_id++;
		}
		forge_punch(fd, other((int)t), false, id, seq, to, to, secret);
		forge_punch(fd, other((int)t), true, id, seq, to, to, secret);
		st.forged_probes++;
		st.forged_acks++;
		st.named[t] += 2;
	}
}

/* Sends what endpoint k queued, counting what goes to the rendezvous. */
static void flush(unsigned k)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t n;
	konce_addr to;
	while (konce_ep_poll_datagram(eps[k], buf, &n, &to)) {
		st.wire_bytes += konce_addr_eq(&to, &rdv) ? n : 0;
		atk_send_to(fds[k], buf, n, &to);
	}
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
	return ntargets && !(s && *s) ? 0 : -1;
}

static struct sockaddr_in srcs[MAX_SRC + 1];

static int parse_ip(const char *s, size_t n, struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN];
	if (n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = 0;
	*sa = (struct sockaddr_in){.sin_family = AF_INET};
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int parse_srcs(const char *s)
{
	while (s && *s && nsrc < MAX_SRC) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (parse_ip(s, n, &srcs[nsrc++]))
			return -1;
		s = comma ? comma + 1 : NULL;
	}
	return nsrc && !(s && *s) ? 0 : -1;
}

static void print_u64s(const char *name, const uint64_t *v)
{
	printf(",\"%s\":[", name);
	for (unsigned t = 0; t < ntargets; t++)
		printf("%s%llu", t ? "," : "", (unsigned long long)v[t]);
	printf("]");
}

static void report(double seconds, unsigned nsess, uint64_t foreign)
{
	char as[KONCE_ADDR_STRLEN];
	printf("{\"seconds\":%.2f,\"sources\":%u,\"sessions\":%u,\"dials\":%llu,\"established\":%llu,\"died\":%llu,"
	       "\"registers\":%llu,\"registered\":%llu,\"intro_requests\":%llu,\"intros\":%llu,\"spent_bytes\":%llu,"
	       "\"wire_bytes\":%llu,\"forged_probes\":%llu,\"forged_acks\":%llu,\"forged_own_id\":%llu,"
	       "\"punch_rx\":%llu,\"hello_rx\":%llu,\"acks_rx\":%llu,\"echoed\":%llu,\"echoed_keyed\":%llu,"
	       "\"hijack_rx\":%llu,\"probes_ours\":%llu,\"foreign\":%llu,\"pending_overflow\":%llu",
	       seconds, nsrc, nsess, (unsigned long long)st.dials, (unsigned long long)st.established,
	       (unsigned long long)st.died, (unsigned long long)st.registers, (unsigned long long)st.registered,
	       (unsigned long long)st.intro_requests, (unsigned long long)st.intros,
	       (unsigned long long)st.spent_bytes, (unsigned long long)st.wire_bytes,
	       (unsigned long long)st.forged_probes, (unsigned long long)st.forged_acks,
	       (unsigned long long)st.forged_own_id, (unsigned long long)st.punch_rx, (unsigned long long)st.hello_rx,
	       (unsigned long long)st.acks_rx, (unsigned long long)st.echoed, (unsigned long long)st.echoed_keyed,
	       (unsigned long long)st.hijack_rx, (unsigned long long)st.probes_ours, (unsigned long long)foreign,
	       (unsigned long long)st.pending_overflow);
	print_u64s("intro_keys", st.intro_keys);
	print_u64s("named", st.named);
	print_u64s("echoes_to", st.echoes_to);
	print_u64s("probes_from", st.probes_from);
	printf(",\"learned\":[");
	for (unsigned t = 0; t < ntargets; t++)
		printf(t ? ",%s%s%s" : "%s%s%s", learned[t].known ? "\"" : "",
		       learned[t].known ? konce_addr_str(&learned[t].addr, as) : "null", learned[t].known ? "\"" : "");
	printf("]}\n");
}

int main(int argc, char **argv)
{
	const char *rdv_s = NULL, *src = NULL, *hsrc = NULL, *victim_s = NULL, *targets_s = NULL, *hijack_s = NULL;
	double seconds = 10, wave_s = 0;
	unsigned nsess = 16, wave = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rdv"))
			rdv_s = argv[i + 1];
		else if (!strcmp(argv[i], "--src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--hijack-src"))
			hsrc = argv[i + 1];
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
		else if (!strcmp(argv[i], "--wave"))
			wave = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--wave-s"))
			wave_s = atof(argv[i + 1]);
		else {
			fprintf(stderr, "travhostile: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (sodium_init() < 0 || parse_keyaddr(rdv_s, rdv_pk, &rdv) || parse_keyaddr(hijack_s, hijack_pk, &hijack_to) ||
	    !victim_s || konce_addr_parse(&victim, victim_s) < 0 || parse_targets(targets_s) || target_of(hijack_pk) < 0 ||
	    parse_srcs(src) || !hsrc || parse_ip(hsrc, strlen(hsrc), &srcs[HSRC]) || nsess < 1 || nsess > MAX_SESS ||
	    wave_s < 0) {
		fprintf(stderr, "usage: travhostile --rdv KEY@IP:PORT --src IP[,IP...] --hijack-src IP --victim IP:PORT "
				"--targets KEY[,KEY] --hijack KEY@IP:PORT --seconds S [--sessions N<=%d] [--wave W] "
				"[--wave-s S]\n(--hijack's key is one of --targets)\n", MAX_SESS);
		return 2;
	}
	for (unsigned k = 0; k < nsrc; k++) {
		konce_ep_config cfg = {.max_sessions = MAX_SESS + 16, .out_ring = 4096, .event_ring = 4096};
		if (atk_open("travhostile", &srcs[k], &cfg, &fds[k], &masters[k], &eps[k]))
			return 1;
	}
	if ((fds[HSRC] = atk_socket(&srcs[HSRC])) < 0) {
		fprintf(stderr, "travhostile: hijack socket: %s\n", strerror(errno));
		return 1;
	}
	int wait_fds[MAX_SRC + 1];
	memcpy(wait_fds, fds, nsrc * sizeof(int));
	wait_fds[nsrc] = fds[HSRC];
	uint64_t t0 = atk_now_us(), end = t0 + (uint64_t)(seconds * 1e6), next_hijack = t0;
	for (unsigned i = 0; i < nsess; i++) {
		sess[i].src = i % nsrc;
		sess[i].unknown_nat = i % 2;
		sess[i].start_us = t0 + (wave ? i / wave : 0) * (uint64_t)(wave_s * 1e6);
	}
	bool own_id = false;
	while (atk_now_us() < end) {
		atk_wait_any(wait_fds, nsrc + 1);
		for (cur_src = 0; cur_src < nsrc; cur_src++)
			atk_drain(fds[cur_src], input);
		cur_src = HSRC;
		atk_drain(fds[HSRC], input);
		uint64_t now = atk_now_us();
		for (unsigned k = 0; k < nsrc; k++) {
			if (konce_ep_next_timer(eps[k]) <= now)
				konce_ep_timer(eps[k], now);
			events(k);
		}
		for (unsigned i = 0; i < nsess; i++)
			sess_tick(&sess[i], now);
		if (now >= next_hijack) {
			hijack_tick(own_id);
			own_id = !own_id;
			next_hijack = now + HIJACK_US;
		}
		for (unsigned k = 0; k < nsrc; k++)
			flush(k);
	}
	/* the probes that beat our copy of their INTRO, checked against every introduction we got */
	uint64_t foreign = 0;
	for (unsigned i = 0; i < npending; i++) {
		bool ok = ours(pending[i].id, pending[i].pkt, pending[i].maclen);
		st.probes_ours += ok;
		foreign += !ok;
	}
	report((double)(atk_now_us() - t0) / 1e6, nsess, foreign);
	for (unsigned i = 0; i < MAX_SESS; i++)
		konce_identity_free(sess[i].id);
	sodium_memzero(intro_ring, sizeof(intro_ring));
	for (unsigned k = 0; k < nsrc; k++) {
		konce_ep_free(eps[k]);
		konce_identity_free(masters[k]);
		close(fds[k]);
	}
	close(fds[HSRC]);
	return 0;
}
