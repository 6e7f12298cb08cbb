/*
 * konce_vectors: writes a pcap of konce datagrams built by konce's own encoders, for
 * tests/netsim/test_dissector_vectors.sh, which checks tools/wireshark/konce.lua against it.
 *
 *   konce_vectors OUT.pcap [NAME=HEX ...]
 *
 * Every datagram is one IPv4/UDP packet (link type RAW).  On stdout, one line per packet:
 *
 *   FRAME EXPECT NAME
 *
 * EXPECT is what the dissector must say about it: "ok" (decoded as NAME, well formed), "bad"
 * (decoded as NAME, flagged konce.malformed), "none" (not claimed: foreign traffic on a port
 * that only the heuristic watches) or "any" (a mutated copy: no Lua error, no exception).  Datagrams go first to random ports, one UDP conversation
 * each, so that only the heuristic can claim them (ACCEPT and DATA through the connection ids of
 * the HELLO and ACCEPT before them), then the same set again to port 7807.  Extra NAME=HEX
 * arguments (the handshake test vectors of docs/PROTOCOL.md) are appended, to port 7807, as "ok",
 * and the mutated copies come last.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/probewire.h"
#include "nat/rawpkt.h"
#include "nat/rdvwire.h"
#include "nat/stun.h"
#include "node/base/addr.h"
#include "node/transport/hs_packets.h"
#include "node/transport/pnwin.h"
#include "node/base/wire.h"

static FILE *out;
static unsigned frame, conv;

static void put32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* One IPv4 packet from 192.0.2.1 to 198.51.100.1 (back if reverse): protocol proto, layer 4
 * bytes l4[0, len). */
static void emit_ip(const char *expect, const char *name, uint8_t proto, const uint8_t *l4, size_t len, bool reverse)
{
	uint8_t rec[16], ip[20];
	size_t total = sizeof ip + len;
	put32le(rec, frame), put32le(rec + 4, 0), put32le(rec + 8, (uint32_t)total), put32le(rec + 12, (uint32_t)total);
	memset(ip, 0, sizeof ip);
	ip[0] = 0x45, ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total, ip[8] = 64, ip[9] = proto;
	memcpy(ip + (reverse ? 16 : 12), (const uint8_t[]){192, 0, 2, 1}, 4);
	memcpy(ip + (reverse ? 12 : 16), (const uint8_t[]){198, 51, 100, 1}, 4);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	wire_put16(ip + 10, (uint16_t)~sum);
	if (fwrite(rec, 1, sizeof rec, out) != sizeof rec || fwrite(ip, 1, sizeof ip, out) != sizeof ip ||
	    fwrite(l4, 1, len, out) != len) {
		perror("konce_vectors: write");
		exit(1);
	}
	printf("%u %s %s\n", ++frame, expect, name);
}

/* One UDP datagram from port sport to port dport (checksum 0: none). */
static void emit(const char *expect, const char *name, const uint8_t *pay, size_t len, uint16_t sport, uint16_t dport)
{
	static uint8_t udp[8 + 65536];
	wire_put16(udp, sport), wire_put16(udp + 2, dport), wire_put16(udp + 4, (uint16_t)(8 + len));
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, pay, len);
	emit_ip(expect, name, 17, udp, 8 + len, false);
}

/* A probe in an ICMP echo or a TCP SYN / SYN-ACK, as konce probe --icmp / --tcp sends it. */
static void emit_raw(const char *name, enum konce_rawpkt_proto proto, bool reply, const uint8_t *pay, size_t len)
{
	uint8_t l4[256];
	konce_rawpkt r = {.is_reply = reply, .seq = 1000, .ack = 2000, .payload = pay, .len = len};
	const char *a = "192.0.2.1:40000", *b = "198.51.100.1:3478";
	if (konce_addr_parse(&r.src, reply ? b : a) || konce_addr_parse(&r.dst, reply ? a : b)) {
		fprintf(stderr, "konce_vectors: bad address\n");
		exit(1);
	}
	int n = konce_rawpkt_build(proto, &r, l4, sizeof l4);
	if (n < 0) {
		fprintf(stderr, "konce_vectors: rawpkt_build failed\n");
		exit(1);
	}
	emit_ip("ok", name, proto == KONCE_RAWPKT_ICMP ? 1 : 6, l4, (size_t)n, reply);
}

static void addr(konce_addr *a, const char *text)
{
	if (konce_addr_parse(a, text)) {
		fprintf(stderr, "konce_vectors: bad address %s\n", text);
		exit(1);
	}
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 37 * i);
}

struct pkt {
	const char *expect, *name;
	uint8_t b[4096]; /* a GSO train: several datagrams */
	size_t len;
};
static struct pkt pk[64];
static unsigned npk;

static struct pkt *add(const char *expect, const char *name)
{
	if (npk == sizeof pk / sizeof pk[0]) {
		fprintf(stderr, "konce_vectors: too many packets\n");
		exit(1);
	}
	struct pkt *p = &pk[npk++];
	p->expect = expect, p->name = name;
	return p;
}

static void rdv(const char *expect, const char *name, const konce_rdvwire_msg *m)
{
	struct pkt *p = add(expect, name);
	konce_rdvwire_msg back;
	p->len = konce_rdvwire_encode(m, p->b, sizeof p->b);
	if (!p->len || konce_rdvwire_decode(&back, p->b, p->len)) {
		fprintf(stderr, "konce_vectors: %s does not encode\n", name);
		exit(1);
	}
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: konce_vectors OUT.pcap [NAME=HEX ...]\n");
		return 2;
	}
	uint8_t cid_c[8], cid_s[8], key_a[32], key_b[32];
	memset(cid_c, 0xc1, 8), memset(cid_s, 0x5e, 8), memset(key_a, 0xaa, 32), memset(key_b, 0xbb, 32);

	/* handshake and session, from the builders in node/transport/hs_packets.c */
	konce_hello h = {.flags = KONCE_HELLO_F_CLUE, .client_time = 123456};
	konce_versions_set(&h.versions, (const uint16_t[]){1, 7}, 2);
	memcpy(h.client_cid, cid_c, 8);
	fill(h.clue, 16, 3);
	struct pkt *p = add("ok", "HELLO"), *hello = p;
	p->len = konce_hello_build(p->b, &h);
	p = add("ok", "HELLO"); /* a traversal copy (node/io/node_trav_hs.c) */
	h.flags = 0;
	memset(h.clue, 0, 16);
	p->len = konce_hello_build(p->b, &h);
	memcpy(p->b + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4);
	memcpy(p->b + KONCE_HELLO_TRAV_KEY, key_a, 32);
	wire_put64(p->b + KONCE_HELLO_TRAV_INTRO, 0x1122334455667788ULL);

	konce_cookie_msg c = {.flags = KONCE_COOKIE_F_MASKED, .version = 1, .client_time = 123456,
			      .challenge = 0xfeedfacecafebeefULL, .server_time = 999, .pow_bits = 12, .key_id = 3};
	memcpy(c.client_cid, cid_c, 8);
	fill(c.epk, 32, 9), fill(c.mac, 16, 11);
	struct pkt *cookie = p = add("ok", "COOKIE");
	p->len = konce_cookie_build(p->b, &c);

	konce_initiate in = {.version = 1, .client_time = 123456, .challenge = c.challenge, .server_time = 999,
			     .pow_bits = 12, .key_id = 3, .pow_nonce = 0x77};
	in.versions = h.versions;
	memcpy(in.client_cid, cid_c, 8);
	memcpy(in.mac, c.mac, 16);
	fill(in.client_epk, 32, 13);
	p = add("ok", "INITIATE");
	p->len = konce_initiate_build_head(p->b, &in);
	fill(p->b + p->len, 88 + 40, 17); /* box1, box2 (24 bytes + tag) */
	p->len += 88 + 40;

	konce_accept a;
	memcpy(a.client_cid, cid_c, 8), memcpy(a.server_cid, cid_s, 8);
	p = add("ok", "ACCEPT");
	p->len = konce_accept_build_head(p->b, &a);
	fill(p->b + p->len, 50, 19);
	p->len += 50;

	struct pkt *data_s = p = add("ok", "DATA"); /* to the server: a long window (nothing acked yet) */
	p->b[0] = KONCE_PKT_DATA, p->b[1] = KONCE_DATA_F_KEY_PHASE;
	memcpy(p->b + 2, cid_s, 8);
	p->len = 10 + konce_pnwin_encode(p->b + 10, 9, 300000, 0);
	fill(p->b + p->len, 60, 23);
	p->len += 60;
	struct pkt *data_c = p = add("ok", "DATA"); /* to the client */
	p->b[0] = KONCE_PKT_DATA, p->b[1] = 0;
	memcpy(p->b + 2, cid_c, 8);
	p->len = 10 + konce_pnwin_encode(p->b + 10, 9, 5, 4);
	fill(p->b + p->len, 16, 29);
	p->len += 16;

	konce_version_msg v;
	memcpy(v.client_cid, cid_c, 8);
	konce_versions_set(&v.versions, (const uint16_t[]){2, 3, 4}, 3);
	p = add("ok", "VERSION");
	p->len = konce_version_build(p->b, &v);

	/* rendezvous, traversal and lifetime, from nat/rdvwire.c */
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .id = 0x0102030405060708ULL, .stamp = 5000,
			   .nat = {KONCE_NATMAP_EDM_SEQ, 2, 40002}, .ncand = 2};
	memcpy(m.key, key_a, 32);
	m.cand[0].type = KONCE_CAND_HOST, addr(&m.cand[0].addr, "10.0.0.2:7807");
	m.cand[1].type = KONCE_CAND_MAPPED, addr(&m.cand[1].addr, "[2001:db8::5]:7000");
	rdv("ok", "REGISTER", &m);
	struct pkt *reg = &pk[npk - 1];
	m = (konce_rdvwire_msg){.type = KONCE_RDV_REGISTERED, .id = 0x0102030405060708ULL, .stamp = 77, .value = 20000};
	addr(&m.addr, "203.0.113.50:31000");
	rdv("ok", "REGISTERED", &m);
	m = (konce_rdvwire_msg){.type = KONCE_RDV_INTRO_REQUEST, .id = 9};
	memcpy(m.key, key_a, 32), memcpy(m.target, key_b, 32);
	rdv("ok", "INTRO_REQUEST", &m);
	m.type = KONCE_RDV_INTRO_OFFER; /* consent: the same layout */
	m.id = 0x1122334455667788ULL;
	rdv("ok", "INTRO_OFFER", &m);
	m.type = KONCE_RDV_INTRO_ACCEPT;
	memcpy(m.key, key_b, 32), memcpy(m.target, key_a, 32);
	rdv("ok", "INTRO_ACCEPT", &m);
	m = (konce_rdvwire_msg){.type = KONCE_RDV_INTRO, .flags = KONCE_INTRO_F_INITIATOR, .id = 0x1122334455667788ULL,
			    .value = 120000, .nat = {KONCE_NATMAP_EIM, 0, 0}, .ncand = 3};
	memcpy(m.key, key_b, 32);
	for (int i = 0; i < 3; i++)
		m.cand[i].type = KONCE_CAND_REFLEXIVE, addr(&m.cand[i].addr, "203.0.113.60:40000");
	rdv("ok", "INTRO", &m);
	struct pkt *intro = &pk[npk - 1];
	m = (konce_rdvwire_msg){.type = KONCE_RDV_INTRO_FAIL, .flags = KONCE_IFAIL_DECLINED, .id = 9};
	memcpy(m.key, key_b, 32);
	rdv("ok", "INTRO_FAIL", &m);
	m = (konce_rdvwire_msg){.type = KONCE_RDV_RELAY, .payload = data_s->b, .len = data_s->len};
	memcpy(m.key, key_a, 32), memcpy(m.target, key_b, 32);
	rdv("ok", "RELAY", &m);
	struct pkt *relay = &pk[npk - 1];
	m = (konce_rdvwire_msg){.type = KONCE_RDV_PUNCH, .seq = 3, .id = 0x1122334455667788ULL};
	memcpy(m.key, key_a, 32);
	rdv("ok", "PUNCH", &m);
	m.flags = KONCE_PUNCH_F_ACK;
	addr(&m.addr, "203.0.113.60:40001");
	rdv("ok", "PUNCH", &m);
	struct pkt *punch = &pk[npk - 1];
	m = (konce_rdvwire_msg){.type = KONCE_RDV_RELAYED, .payload = punch->b, .len = punch->len};
	memcpy(m.key, key_b, 32);
	rdv("ok", "RELAYED", &m);
	m = (konce_rdvwire_msg){.type = KONCE_RDV_INTRO_REFUSE, .id = 0x1122334455667788ULL};
	memcpy(m.key, key_b, 32), memcpy(m.target, key_a, 32);
	rdv("ok", "INTRO_REFUSE", &m);
	for (uint8_t op = KONCE_FILT_OP_ECHO_REQ; op <= KONCE_FILT_OP_SENT; op++) {
		m = (konce_rdvwire_msg){.type = KONCE_RDV_FILTER, .flags = op, .id = 0xabcdef};
		if (konce_rdvwire_filt_has_addr(op))
			addr(&m.addr, "203.0.113.70:5000");
		rdv("ok", "FILTER", &m);
	}
	m = (konce_rdvwire_msg){.type = KONCE_RDV_LIFE_REQ, .id = 0x5555, .value = 3000};
	rdv("ok", "LIFE_REQ", &m);
	struct pkt *life_req = &pk[npk - 1];
	m.type = KONCE_RDV_LIFE_ACK, m.flags = KONCE_LIFE_F_BUSY;
	rdv("ok", "LIFE_ACK", &m);
	m.type = KONCE_RDV_LIFE_PROBE, m.flags = 2;
	rdv("ok", "LIFE_PROBE", &m);

	/* the probe, from nat/probewire.c */
	konce_probewire_msg pr = {.type = KONCE_PROBE_T_REQUEST, .command = KONCE_PROBE_CMD_REPLY_TO_PORT, .nonce = 0x4242,
			  .seq = 7, .reply_port = 9999, .transport = KONCE_PROBE_TR_UDP};
	p = add("ok", "PROBE REQUEST");
	p->len = (size_t)konce_probewire_encode(&pr, p->b);
	konce_addr s1, s2, s3, s4;
	addr(&s1, "203.0.113.80:1234"), addr(&s2, "198.51.100.1:3478"), addr(&s3, "198.51.100.1:3479");
	addr(&s4, "198.51.100.2:3479");
	konce_probewire_msg reply;
	konce_probewire_make_reply(&reply, &pr, &s1, &s2, &s3, &s4, KONCE_PROBE_TR_UDP, 61);
	struct pkt *probe_reply = p = add("ok", "PROBE REPLY");
	p->len = (size_t)konce_probewire_encode(&reply, p->b);

	/* GSO trains (node/io/udp.c): equal sizes to one destination, the last may be shorter; a capture
	 * on the sending host sees one UDP payload.  The dissector splits them. */
	p = add("ok", "DATA"); /* 2 x 74 + 50 bytes: fits in 1200 like one DATA would */
	for (int i = 0; i < 3; i++) {
		uint8_t *d = p->b + p->len;
		d[0] = KONCE_PKT_DATA, d[1] = KONCE_DATA_F_KEY_PHASE;
		memcpy(d + 2, cid_s, 8);
		size_t n = 10 + konce_pnwin_encode(d + 10, 9, 300001 + (uint64_t)i, 300000);
		fill(d + n, (i < 2 ? 74 : 50) - n, (uint8_t)(51 + i));
		p->len += i < 2 ? 74 : 50;
	}
	p = add("ok", "DATA"); /* 3 x 1000 bytes: larger than any one datagram */
	for (int i = 0; i < 3; i++) {
		uint8_t *d = p->b + p->len;
		d[0] = KONCE_PKT_DATA, d[1] = 0;
		memcpy(d + 2, cid_c, 8);
		size_t n = 10 + konce_pnwin_encode(d + 10, 9, 70 + (uint64_t)i, 60);
		fill(d + n, 1000 - n, (uint8_t)(61 + i));
		p->len += 1000;
	}
	p = add("ok", "PUNCH"); /* 4 birthday probes to one address */
	for (int i = 0; i < 4; i++) {
		memcpy(p->b + p->len, punch->b, punch->len);
		p->b[p->len + 1] = 0;                              /* not an ACK ... */
		memset(p->b + p->len + KONCE_PUNCH_SEEN, 0, 18); /* ... so no address */
		p->b[p->len + KONCE_PUNCH_SEQ + 1] = (uint8_t)(10 + i);
		p->len += punch->len;
	}

	/* malformed: konce types with broken layouts (flagged, never a Lua error) */
	p = add("bad", "COOKIE");
	memcpy(p->b, cookie->b, 87), p->len = 87;
	p = add("bad", "PUNCH");
	memcpy(p->b, punch->b, punch->len), p->len = punch->len, p->b[1] = 0x02;
	p = add("bad", "DATA"); /* packet-number window longer than 9 bytes */
	p->b[0] = KONCE_PKT_DATA;
	memset(p->b + 2, 0x5e, 8), memset(p->b + 10, 0x81, 12), memset(p->b + 22, 0, 20), p->len = 42;
	p = add("bad", "DATA"); /* no room for the tag */
	memcpy(p->b, data_c->b, 27), p->b[10] |= 0x80, p->len = 27;
	p = add("bad", "PROBE REPLY");
	memcpy(p->b, probe_reply->b, 100), p->len = 100;
	p = add("bad", "REGISTER");
	memcpy(p->b, reg->b, reg->len - 1), p->len = reg->len - 1;
	p = add("bad", "LIFE_REQ");
	memcpy(p->b, life_req->b, KONCE_LIFE_REQ_SIZE), p->b[40] = 1, p->len = KONCE_LIFE_REQ_SIZE;
	p = add("bad", "RELAY");
	memcpy(p->b, relay->b, relay->len), p->b[3] ^= 1, p->len = relay->len;
	p = add("bad", "HELLO");
	memcpy(p->b, hello->b, 600), p->len = 600;
	p = add("bad", "INTRO");
	memcpy(p->b, intro->b, intro->len), p->b[KONCE_INTRO_CANDS + KONCE_RDV_CAND_SIZE] = 9, p->len = intro->len;

	/* foreign traffic the heuristic must leave alone */
	p = add("none", "STUN");
	uint8_t txid[KONCE_STUN_TXID];
	fill(txid, sizeof txid, 31);
	p->len = (size_t)konce_stun_request(p->b, sizeof p->b, txid, 0, 0, NULL);
	p = add("none", "DATA-shaped, unknown connection id");
	p->b[0] = KONCE_PKT_DATA;
	fill(p->b + 1, 99, 41), p->b[1] = 0, p->b[10] = 0x05, p->len = 100;
	p = add("none", "ACCEPT-shaped, unknown connection id");
	p->b[0] = KONCE_PKT_ACCEPT;
	fill(p->b + 1, 63, 43), p->b[1] = 0, p->len = 64;
	p = add("none", "random");
	fill(p->b, 200, 47), p->b[0] = KONCE_RDV_PUNCH, p->len = 200;
	p = add("none", "DNS query");
	static const uint8_t dns[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l',
				      'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
	memcpy(p->b, dns, sizeof dns), p->len = sizeof dns;

	out = fopen(argv[1], "wb");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	uint8_t gh[24] = {0};
	put32le(gh, 0xa1b2c3d4), gh[4] = 2, gh[6] = 4, put32le(gh + 16, 65535), put32le(gh + 20, 101); /* RAW */
	if (fwrite(gh, 1, sizeof gh, out) != sizeof gh)
		return 1;
	/* heuristic pass: a fresh conversation per packet; a malformed packet is not claimed there */
	for (unsigned i = 0; i < npk; i++, conv++)
		emit(strcmp(pk[i].expect, "bad") ? pk[i].expect : "none", pk[i].name, pk[i].b, pk[i].len,
		     (uint16_t)(40000 + conv), (uint16_t)(50000 + conv));
	/* port pass: konce's own port claims every konce type byte, so foreign bytes are left out */
	for (unsigned i = 0; i < npk; i++, conv++)
		if (strcmp(pk[i].expect, "none"))
			emit(pk[i].expect, pk[i].name, pk[i].b, pk[i].len, (uint16_t)(40000 + conv), 7807);
	/* the probe over ICMP echo and fake TCP (nat/rawpkt.c), both directions */
	struct pkt *probe_req = probe_reply - 1;
	emit_raw("PROBE REQUEST", KONCE_RAWPKT_ICMP, false, probe_req->b, probe_req->len);
	emit_raw("PROBE REPLY", KONCE_RAWPKT_ICMP, true, probe_reply->b, probe_reply->len);
	emit_raw("PROBE REQUEST", KONCE_RAWPKT_TCP, false, probe_req->b, probe_req->len);
	emit_raw("PROBE REPLY", KONCE_RAWPKT_TCP, true, probe_reply->b, probe_reply->len);
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		size_t n = eq ? strlen(eq + 1) : 1;
		if (!eq || n % 2 || n / 2 > KONCE_WIRE_MAX_DATAGRAM) {
			fprintf(stderr, "konce_vectors: bad argument %s\n", argv[i]);
			return 2;
		}
		uint8_t b[KONCE_WIRE_MAX_DATAGRAM];
		for (size_t k = 0; k < n / 2; k++) {
			int hi = hexval(eq[1 + 2 * k]), lo = hexval(eq[2 + 2 * k]);
			if (hi < 0 || lo < 0) {
				fprintf(stderr, "konce_vectors: bad hex in %s\n", argv[i]);
				return 2;
			}
			b[k] = (uint8_t)(hi << 4 | lo);
		}
		*eq = 0;
		emit("ok", argv[i], b, n / 2, (uint16_t)(40000 + conv++), 7807);
	}
	/* mutations of every well-formed one, to port 7807: anything may be said about them but a Lua
	 * error or an exception (a fixed xorshift, so every run writes the same file) */
	uint32_t x = 2463534242u;
	unsigned nok = npk;
	for (unsigned i = 0; i < nok; i++) {
		if (strcmp(pk[i].expect, "ok"))
			continue;
		for (int k = 0; k < 12; k++) {
			uint8_t b[sizeof pk[0].b];
			size_t len = pk[i].len;
			memcpy(b, pk[i].b, len);
			for (int f = 0; f < 1 + k % 4; f++) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				size_t at = (x >> 8) % (len < 64 ? len : 64); /* mostly headers */
				b[at] ^= (uint8_t)(1u << (x % 8));
			}
			if (k % 3 == 2) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				len = 1 + x % len;
			}
			emit("any", pk[i].name, b, len, (uint16_t)(40000 + conv++), 7807);
		}
	}
	return fclose(out) ? 1 : 0;
}
