/* probe_listen.c - `konce probe listen`: show every packet, obey probe commands, answer STUN.
 *
 * With --also A2:P2 the listener holds the four transport addresses of an RFC 5780 server:
 * A1:P1 (primary), A1:P2, A2:P1 and A2:P2, so it can answer "from the other port" and "from the other
 * address" for probes and STUN CHANGE-REQUEST alike.  Without --also it holds A1:P1 and A1:P2
 * (P2 = --other-port, default P1+1).
 *
 * STUN answers are larger than their requests, to addresses nobody proved: each source gets a small
 * budget of excess bytes (nat/stun_limit.h), so the listener is no amplifier for spoofed floods.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/probewire.h"
#include "nat/stun.h"
#include "nat/stun_limit.h"
#include "tools/probe.h"
#include <sodium.h>

enum { IP1 = 0, IP2 = 1, PORT1 = 0, PORT2 = 1 };

struct lsock {
	int fd;
	konce_addr addr; /* as bound; the IP may be the wildcard */
	int ip_role, port_role;
};

struct listener {
	struct lsock s[4];
	int n;
	bool json, has_also;
	konce_addr also;       /* A2:P2 */
	uint16_t p1, p2;
	int icmp_fd, tcp_fd;
	long count, seen;
	konce_stun_limit stun_limit; /* answers larger than their request, per source */
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig, stop = 1; }

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: konce probe listen [ADDR:]PORT [--also ADDR2:PORT2] [--other-port P2] [--icmp] [--tcp]\n"
		"                          [--count N] [--duration SECONDS] [--json]\n\n"
		"Shows every packet that arrives: time, local address, source as seen, size, TTL or hop limit,\n"
		"and the decoded probe or STUN message (anything else as raw bytes).  Obeys probe commands\n"
		"(reply from the same socket, from the other port, from the other address, to another port,\n"
		"display only) and answers STUN Binding requests, honouring CHANGE-REQUEST and RESPONSE-PORT.\n\n"
		"  --also ADDR2:PORT2  a second address (and port): replies \"from the other address\" come from\n"
		"                      it, and the listener offers all four RFC 5780 transport addresses\n"
		"  --other-port P2     the other port when there is no --also (default PORT+1)\n"
		"  --icmp              also answer probes carried in ICMP echo (needs root or CAP_NET_RAW)\n"
		"  --tcp               also answer probes carried in raw TCP SYNs to PORT (root or CAP_NET_RAW)\n"
		"  --count N           exit after N packets\n"
		"  --duration SECONDS  exit after this long\n"
		"  --json              one JSON object per packet on stdout\n");
}

static struct lsock *find(struct listener *l, int ip_role, int port_role)
{
	for (int i = 0; i < l->n; i++)
		if (l->s[i].ip_role == ip_role && l->s[i].port_role == port_role)
			return &l->s[i];
	return NULL;
}

/* The address a socket's replies leave from: its bound address, or for a wildcard socket of the
 * primary address, the address the request arrived on. */
static konce_addr sock_from(const struct lsock *s, const probe_rx *rx)
{
	konce_addr a = s->addr;
	static const uint8_t any4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, any6[16];
	if ((!memcmp(a.ip, any4, 16) || !memcmp(a.ip, any6, 16)) && rx->has_dst)
		memcpy(a.ip, rx->dst.ip, 16);
	return a;
}

static bool other_for(const struct listener *l, const probe_rx *rx, konce_addr *other)
{
	if (l->has_also) {
		*other = l->also;
		return true;
	}
	if (l->p2 == l->p1)
		return false;
	*other = rx->dst;
	other->port = l->p2;
	return true;
}

static int add_sock(struct listener *l, const konce_addr *a, int ip_role, int port_role, bool required)
{
	char b[KONCE_ADDR_STRLEN];
	int fd = probe_udp_open(a);
	if (fd < 0) {
		fprintf(stderr, "konce probe listen: cannot bind %s: %s%s\n", konce_addr_str(a, b), strerror(-fd),
			required ? "" : " (continuing without it)");
		return required ? -1 : 0;
	}
	l->s[l->n++] = (struct lsock){fd, *a, ip_role, port_role};
	return 0;
}

/* Sends reply bytes from socket s to dst, and says so. */
static void send_from(struct listener *l, struct lsock *s, const probe_rx *rx, const konce_addr *dst,
		      const uint8_t *buf, size_t len, json_t *j)
{
	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	konce_addr from = sock_from(s, rx);
	int rc = probe_udp_send(s->fd, dst, &from, buf, len);
	if (l->json) {
		json_object_set_new(j, "sent_from", probe_json_addr(&from));
		json_object_set_new(j, "sent_to", probe_json_addr(dst));
		json_object_set_new(j, "sent_bytes", json_integer((json_int_t)len));
		if (rc)
			json_object_set_new(j, "send_error", json_string(strerror(-rc)));
	} else if (rc) {
		printf("    -> reply from %s to %s failed: %s\n", konce_addr_str(&from, a), konce_addr_str(dst, b),
		       strerror(-rc));
	} else {
		printf("    -> replied from %s to %s\n", konce_addr_str(&from, a), konce_addr_str(dst, b));
	}
}

static void refuse(struct listener *l, const char *why, json_t *j)
{
	if (l->json)
		json_object_set_new(j, "not_answered", json_string(why));
	else
		printf("    -> not answered: %s\n", why);
}

static void on_probe(struct listener *l, struct lsock *s, const probe_rx *rx, const konce_probewire_msg *p, json_t *j)
{
	struct lsock *r = s;
	konce_addr dst = rx->src, other, seen_dst = rx->dst;
	seen_dst.port = s->addr.port;
	if (p->type != KONCE_PROBE_T_REQUEST)
		return refuse(l, "a reply, not a request", j);
	switch (p->command) {
	case KONCE_PROBE_CMD_DISPLAY:
		return refuse(l, "display-only", j);
	case KONCE_PROBE_CMD_OTHER_PORT:
		r = find(l, s->ip_role, !s->port_role);
		break;
	case KONCE_PROBE_CMD_OTHER_ADDR:
		r = find(l, !s->ip_role, !s->port_role);
		break;
	case KONCE_PROBE_CMD_REPLY_TO_PORT:
		dst.port = p->reply_port;
		break;
	}
	if (!r)
		return refuse(l, p->command == KONCE_PROBE_CMD_OTHER_ADDR ? "no other address (start with --also)"
									    : "no other-port socket",
			      j);
	konce_probewire_msg reply;
	uint8_t out[KONCE_PROBE_SIZE];
	konce_addr from = sock_from(r, rx);
	bool has_other = other_for(l, rx, &other);
	konce_probewire_make_reply(&reply, p, &rx->src, &seen_dst, &from, has_other ? &other : NULL, KONCE_PROBE_TR_UDP,
				   rx->ttl);
	if (konce_probewire_encode(&reply, out) == KONCE_PROBE_SIZE)
		send_from(l, r, rx, &dst, out, sizeof(out), j);
}

static void on_stun(struct listener *l, struct lsock *s, const probe_rx *rx, const konce_stun_msg *m, json_t *j)
{
	if (m->type != KONCE_STUN_BINDING_REQUEST)
		return refuse(l, "not a Binding request", j);
	int ip_role = s->ip_role, port_role = s->port_role;
	if (m->has_change && (m->change & KONCE_STUN_CHANGE_IP))
		ip_role = !ip_role;
	if (m->has_change && (m->change & KONCE_STUN_CHANGE_PORT))
		port_role = !port_role;
	struct lsock *r = find(l, ip_role, port_role);
	if (!r)
		return refuse(l, "cannot honour CHANGE-REQUEST (no such socket; start with --also)", j);
	konce_addr dst = rx->src, origin = sock_from(r, rx);
	if (m->has_response_port) {
		if (!m->response_port)
			return refuse(l, "RESPONSE-PORT 0", j);
		dst.port = m->response_port;
	}
	uint8_t out[KONCE_STUN_MAX_MESSAGE];
	int n = konce_stun_answer(out, sizeof(out), m, &rx->src, &origin, l->has_also ? &l->also : NULL,
				  KONCE_PROBE_SOFTWARE);
	if (n <= 0)
		return;
	if (!konce_stun_limit_allow(&l->stun_limit, &rx->src, rx->len, (size_t)n, probe_now_us()))
		return refuse(l, "rate-limited (the answer is larger than the request, and this source's budget is spent)", j);
	send_from(l, r, rx, &dst, out, (size_t)n, j);
}

static void on_udp(struct listener *l, struct lsock *s, const probe_rx *rx)
{
	char ts[32], a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	konce_addr local = rx->dst;
	local.port = s->addr.port;
	probe_timestamp(ts);
	json_t *j = NULL;
	if (l->json) {
		j = json_pack("{s:s, s:s, s:o, s:o, s:I}", "time", ts, "transport", "udp", "local", probe_json_addr(&local),
			      "src", probe_json_addr(&rx->src), "size", (json_int_t)rx->len);
		json_object_set_new(j, "ttl", rx->ttl >= 0 ? json_integer(rx->ttl) : json_null());
	} else {
		printf("%s %s <- %s %zu bytes", ts, konce_addr_str(&local, a), konce_addr_str(&rx->src, b), rx->len);
		if (rx->ttl >= 0)
			printf(" ttl %d", rx->ttl);
		fputs(": ", stdout);
	}

	konce_probewire_msg p;
	konce_stun_msg m;
	if (konce_probewire_is_candidate(rx->buf, rx->len)) {
		enum konce_probewire_result r = konce_probewire_parse(&p, rx->buf, rx->len);
		if (r != KONCE_PROBE_OK) {
			if (l->json) {
				json_object_set_new(j, "kind", json_string("malformed-probe"));
				json_object_set_new(j, "error", json_string(konce_probewire_result_str(r)));
				json_object_set_new(j, "hex", probe_json_hex(rx->buf, rx->len, 256));
			} else {
				printf("malformed probe (%s)\n", konce_probewire_result_str(r));
				probe_hexdump(stdout, rx->buf, rx->len, 256);
			}
		} else {
			if (l->json) {
				json_object_set_new(j, "kind", json_string("probe"));
				json_object_set_new(j, "probe", probe_json_probe(&p));
			} else {
				probe_show_probe(stdout, &p);
				putchar('\n');
			}
			on_probe(l, s, rx, &p, j);
		}
	} else if (konce_stun_is_candidate(rx->buf, rx->len)) {
		enum konce_stun_result r = konce_stun_parse(&m, rx->buf, rx->len);
		if (r != KONCE_STUN_OK) {
			if (l->json) {
				json_object_set_new(j, "kind", json_string("malformed-stun"));
				json_object_set_new(j, "error", json_string(konce_stun_result_str(r)));
				json_object_set_new(j, "hex", probe_json_hex(rx->buf, rx->len, 256));
			} else {
				printf("malformed STUN (%s)\n", konce_stun_result_str(r));
				probe_hexdump(stdout, rx->buf, rx->len, 256);
			}
		} else {
			if (l->json) {
				json_object_set_new(j, "kind", json_string("stun"));
				json_object_set_new(j, "stun", probe_json_stun(&m));
			} else {
				probe_show_stun(stdout, &m);
				putchar('\n');
			}
			on_stun(l, s, rx, &m, j);
		}
	} else if (l->json) {
		json_object_set_new(j, "kind", json_string("raw"));
		json_object_set_new(j, "hex", probe_json_hex(rx->buf, rx->len, 256));
	} else {
		printf("not a probe or STUN message%s\n", rx->truncated ? " (truncated)" : "");
		probe_hexdump(stdout, rx->buf, rx->len, 256);
	}
	if (l->json)
		probe_json_print(j);
	fflush(stdout);
}

/* Raw ICMP echo / TCP SYN carrying a probe request: answer in kind (probe_raw.c does the bytes). */
static void on_raw(struct listener *l, int fd, enum probe_transport t)
{
	uint8_t buf[PROBE_RX_MAX];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	konce_rawpkt pk;
	konce_probewire_msg p, reply;
	if (n <= 0 || probe_raw_parse(t, buf, (size_t)n, &pk) || pk.is_reply)
		return;
	if (t == PROBE_TCP && pk.dst.port != l->p1 && pk.dst.port != l->p2)
		return;
	if (!konce_probewire_is_candidate(pk.payload, pk.len))
		return; /* ordinary pings and TCP traffic are none of our business */
	char ts[32], a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	const char *tn = t == PROBE_ICMP ? "icmp" : "tcp";
	enum konce_probewire_result r = konce_probewire_parse(&p, pk.payload, pk.len);
	probe_timestamp(ts);
	json_t *j = NULL;
	if (l->json) {
		j = json_pack("{s:s, s:s, s:o, s:o, s:I, s:i}", "time", ts, "transport", tn, "local", probe_json_addr(&pk.dst),
			      "src", probe_json_addr(&pk.src), "size", (json_int_t)pk.len, "ttl", pk.ttl);
		json_object_set_new(j, "kind", json_string(r == KONCE_PROBE_OK ? "probe" : "malformed-probe"));
		if (r == KONCE_PROBE_OK)
			json_object_set_new(j, "probe", probe_json_probe(&p));
		else
			json_object_set_new(j, "error", json_string(konce_probewire_result_str(r)));
	} else {
		printf("%s %s %s <- %s %zu bytes ttl %d: ", ts, tn, konce_addr_str(&pk.dst, a), konce_addr_str(&pk.src, b),
		       pk.len, pk.ttl);
		if (r == KONCE_PROBE_OK)
			probe_show_probe(stdout, &p);
		else
			printf("malformed probe (%s)", konce_probewire_result_str(r));
		putchar('\n');
	}
	if (r == KONCE_PROBE_OK && p.type == KONCE_PROBE_T_REQUEST && p.command != KONCE_PROBE_CMD_DISPLAY) {
		if (p.command != KONCE_PROBE_CMD_SAME) {
			refuse(l, "raw transports answer only 'same' (and 'display')", j);
		} else {
			uint8_t out[KONCE_PROBE_SIZE];
			konce_probewire_make_reply(&reply, &p, &pk.src, &pk.dst, &pk.dst, NULL,
						   t == PROBE_ICMP ? KONCE_PROBE_TR_ICMP : KONCE_PROBE_TR_TCP, pk.ttl);
			konce_probewire_encode(&reply, out);
			konce_rawpkt rp = {.src = pk.dst, .dst = pk.src, .is_reply = true,
					   .seq = t == PROBE_ICMP ? pk.seq : (uint32_t)probe_random64(),
					   .ack = pk.seq + 1 + (uint32_t)pk.len, .payload = out, .len = sizeof(out)};
			int rc = probe_raw_send(fd, t, &rp);
			if (l->json)
				json_object_set_new(j, rc ? "send_error" : "sent_to",
						    rc ? json_string(strerror(-rc)) : probe_json_addr(&pk.src));
			else if (rc)
				printf("    -> %s reply failed: %s\n", tn, strerror(-rc));
			else
				printf("    -> %s reply to %s\n", tn, konce_addr_str(&pk.src, a));
		}
	}
	if (l->json)
		probe_json_print(j);
	fflush(stdout);
	l->seen++;
}

int probe_cmd_listen(int argc, char **argv)
{
	static const struct option opts[] = {
		{"also", required_argument, NULL, 'a'}, {"other-port", required_argument, NULL, 'o'},
		{"count", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},         {"icmp", no_argument, NULL, 'I'},
		{"tcp", no_argument, NULL, 'T'},          {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct listener l = {.icmp_fd = -1, .tcp_fd = -1, .count = -1};
	uint8_t lkey[16];
	if (sodium_init() < 0) {
		fprintf(stderr, "konce probe listen: libsodium failed to initialise\n");
		return 1;
	}
	randombytes_buf(lkey, sizeof lkey);
	konce_stun_limit_init(&l.stun_limit, lkey);
	long other_port = -1, duration = -1;
	bool icmp = false, tcp = false;
	char *end;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (konce_addr_parse(&l.also, optarg)) {
				fprintf(stderr, "konce probe listen: --also wants ADDR:PORT, not '%s'\n", optarg);
				return 2;
			}
			l.has_also = true;
			break;
		case 'o':
			other_port = strtol(optarg, &end, 10);
			if (*end || other_port < 1 || other_port > 65535) {
				fprintf(stderr, "konce probe listen: bad --other-port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c':
			l.count = strtol(optarg, &end, 10);
			if (*end || l.count < 1) {
				fprintf(stderr, "konce probe listen: bad --count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			duration = strtol(optarg, &end, 10);
			if (*end || duration < 1) {
				fprintf(stderr, "konce probe listen: bad --duration '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j': l.json = true; break;
		case 'I': icmp = true; break;
		case 'T': tcp = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	konce_addr a1;
	if (probe_parse_bind(argv[optind], &a1) || a1.port == 0) {
		fprintf(stderr, "konce probe listen: want [ADDR:]PORT (numeric), not '%s'\n", argv[optind]);
		return 2;
	}
	l.p1 = a1.port;
	l.p2 = l.has_also ? l.also.port : other_port > 0 ? (uint16_t)other_port : (uint16_t)(a1.port + 1);
	if (l.has_also && (konce_addr_is_v4(&a1) != konce_addr_is_v4(&l.also))) {
		fprintf(stderr, "konce probe listen: the two addresses must be of one family\n");
		return 2;
	}
	if (l.has_also && !memcmp(l.also.ip, a1.ip, 16)) {
		fprintf(stderr, "konce probe listen: --also must name a different address\n");
		return 2;
	}
	konce_addr a;
	if (add_sock(&l, &a1, IP1, PORT1, true))
		return 1;
	if (l.p2 != l.p1) {
		a = a1, a.port = l.p2;
		if (add_sock(&l, &a, IP1, PORT2, l.has_also))
			return 1;
	}
	if (l.has_also) {
		a = l.also, a.port = l.p1;
		if (add_sock(&l, &a, IP2, PORT1, true))
			return 1;
		if (l.p2 != l.p1 && add_sock(&l, &l.also, IP2, PORT2, true))
			return 1;
	}
	if (icmp && (l.icmp_fd = probe_raw_open(PROBE_ICMP)) < 0) {
		fprintf(stderr, "konce probe listen: --icmp: %s\n",
			l.icmp_fd == -EPERM ? probe_raw_eperm_msg() : strerror(-l.icmp_fd));
		return 1;
	}
	if (tcp && (l.tcp_fd = probe_raw_open(PROBE_TCP)) < 0) {
		fprintf(stderr, "konce probe listen: --tcp: %s\n",
			l.tcp_fd == -EPERM ? probe_raw_eperm_msg() : strerror(-l.tcp_fd));
		return 1;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!l.json) {
		char b[KONCE_ADDR_STRLEN];
		printf("listening on");
		for (int i = 0; i < l.n; i++)
			printf(" %s", konce_addr_str(&l.s[i].addr, b));
		printf("%s%s\n", icmp ? " +icmp" : "", tcp ? " +tcp" : "");
		fflush(stdout);
	}

	int fds[8], nf = 0;
	for (int i = 0; i < l.n; i++)
		fds[nf++] = l.s[i].fd;
	if (l.icmp_fd >= 0)
		fds[nf++] = l.icmp_fd;
	if (l.tcp_fd >= 0)
		fds[nf++] = l.tcp_fd;
	uint64_t until = duration > 0 ? probe_now_us() + (uint64_t)duration * 1000000 : UINT64_MAX;
	probe_rx *rx = malloc(sizeof(*rx));
	if (!rx)
		return 1;
	while (!stop && (l.count < 0 || l.seen < l.count)) {
		uint64_t step = probe_now_us() + 500000; /* wake up now and then to notice signals */
		int i = probe_wait(fds, nf, step < until ? step : until);
		if (i < 0) {
			if (probe_now_us() >= until)
				break;
			continue;
		}
		if (fds[i] == l.icmp_fd) {
			on_raw(&l, fds[i], PROBE_ICMP);
			continue;
		}
		if (fds[i] == l.tcp_fd) {
			on_raw(&l, fds[i], PROBE_TCP);
			continue;
		}
		while (probe_udp_recv(fds[i], rx) == 1 && (l.count < 0 || l.seen < l.count)) {
			on_udp(&l, &l.s[i], rx);
			l.seen++;
		}
	}
	free(rx);
	for (int i = 0; i < nf; i++)
		close(fds[i]);
	return 0;
}
