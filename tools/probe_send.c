/* probe_send.c - `konce probe send`: send probes, show each reply and how our source was rewritten. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/probewire.h"
#include "nat/stun.h"
#include "tools/probe.h"

struct sender {
	bool json;
	enum probe_transport tr;
	int fd;
	konce_addr dst, local;
	uint16_t port; /* UDP/TCP source port, ICMP echo id */
	int command;
	uint16_t reply_port;
	unsigned replies, stray, kernel_echoes;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: konce probe send HOST[:PORT] [--from PORT] [--command CMD] [--reply-port P] [--count N]\n"
		"                        [--interval MS] [--timeout MS] [--icmp | --tcp] [-4 | -6] [--json]\n\n"
		"Sends konce probes to a listener (a host name or an address) and shows each reply: the source\n"
		"address and port the listener saw, i.e. how the probe's source was rewritten on the way.\n\n"
		"  --from PORT       local source port (ICMP: the echo identifier)\n"
		"  --command CMD     same (default), other-port, other-addr, display, reply-to-port\n"
		"  --reply-port P    the port reply-to-port asks the listener to answer to\n"
		"  --count N         probes to send (default 1)\n"
		"  --interval MS     between probes (default 200)\n"
		"  --timeout MS      wait for each reply (default 1000)\n"
		"  --icmp            carry the probe in an ICMP echo request (root or CAP_NET_RAW; IPv4)\n"
		"  --tcp             carry the probe in a raw TCP SYN (root or CAP_NET_RAW; IPv4)\n"
		"  -4, -6            resolve HOST to IPv4 / IPv6 only\n"
		"  --json            one JSON object per event on stdout\n\n"
		"Exit status: 0 if a reply came (or the command was display), 1 if none did, 2 bad usage.\n");
}

static void show_reply(struct sender *s, const konce_addr *from, const konce_addr *local, int ttl, const konce_probewire_msg *p,
		       unsigned seq, unsigned count, uint64_t rtt_us)
{
	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN], c[KONCE_ADDR_STRLEN];
	const char *rw = probe_rewrite_str(local, &p->seen_src);
	if (s->json) {
		json_t *j = json_pack("{s:s, s:i, s:o, s:o, s:o, s:s, s:f}", "event", "reply", "seq", (int)seq, "from",
				      probe_json_addr(from), "local", probe_json_addr(local), "mapped",
				      probe_json_addr(&p->seen_src), "rewrite", rw, "rtt_ms", (double)rtt_us / 1000.0);
		json_object_set_new(j, "ttl_here", ttl >= 0 ? json_integer(ttl) : json_null());
		json_object_set_new(j, "probe", probe_json_probe(p));
		probe_json_print(j);
		return;
	}
	printf("reply %u/%u from %s in %.1f ms: %s was seen as %s (%s)", seq + 1, count, konce_addr_str(from, a),
	       (double)rtt_us / 1000.0, konce_addr_str(local, b), konce_addr_str(&p->seen_src, c), rw);
	printf(", arriving on %s", konce_addr_str(&p->seen_dst, a));
	if (p->flags & KONCE_PROBE_F_TTL)
		printf(" with ttl %u", p->ttl);
	if (!konce_addr_eq(from, &p->from))
		printf("; reply says it was sent from %s but came from %s", konce_addr_str(&p->from, a),
		       konce_addr_str(from, b));
	if (p->flags & KONCE_PROBE_F_OTHER)
		printf("; listener's other address %s", konce_addr_str(&p->other, a));
	if (ttl >= 0)
		printf("; reply ttl here %d", ttl);
	printf("\n");
	fflush(stdout);
}

static void show_other(struct sender *s, const konce_addr *from, const char *what, const uint8_t *buf, size_t len)
{
	char a[KONCE_ADDR_STRLEN];
	if (s->json) {
		json_t *j = json_pack("{s:s, s:o, s:s}", "event", "other", "from", probe_json_addr(from), "what", what);
		json_object_set_new(j, "hex", probe_json_hex(buf, len, 128));
		probe_json_print(j);
		return;
	}
	printf("from %s: %s\n", konce_addr_str(from, a), what);
	probe_hexdump(stdout, buf, len, 128);
	fflush(stdout);
}

/* One received payload; true if it is the reply to nonce. */
static bool consider(struct sender *s, const konce_addr *from, const konce_addr *local, int ttl, const uint8_t *buf,
		     size_t len, uint64_t nonce, unsigned seq, unsigned count, uint64_t sent_at)
{
	konce_probewire_msg p;
	if (!konce_probewire_is_candidate(buf, len)) {
		if (s->tr == PROBE_UDP)
			show_other(s, from, "not a konce probe", buf, len);
		return false;
	}
	enum konce_probewire_result r = konce_probewire_parse(&p, buf, len);
	if (r != KONCE_PROBE_OK) {
		show_other(s, from, konce_probewire_result_str(r), buf, len);
		s->stray++;
		return false;
	}
	if (p.type == KONCE_PROBE_T_REQUEST) {
		/* our own request echoed back by the kernel's ping reply, or someone else's request */
		if (s->tr == PROBE_ICMP && p.nonce == nonce)
			s->kernel_echoes++;
		else
			show_other(s, from, "a probe request, not a reply", buf, len);
		return false;
	}
	if (p.nonce != nonce) {
		show_other(s, from, "probe reply with the wrong nonce (spoofed, or a late reply to an earlier probe)", buf, len);
		s->stray++;
		return false;
	}
	show_reply(s, from, local, ttl, &p, seq, count, probe_now_us() - sent_at);
	return true;
}

static int send_one(struct sender *s, uint64_t nonce, unsigned seq)
{
	konce_probewire_msg req = {.type = KONCE_PROBE_T_REQUEST, .command = (uint8_t)s->command, .nonce = nonce, .seq = seq,
			   .reply_port = s->reply_port};
	uint8_t out[KONCE_PROBE_SIZE];
	if (konce_probewire_encode(&req, out) != KONCE_PROBE_SIZE)
		return -EINVAL;
	if (s->tr == PROBE_UDP)
		return probe_udp_send(s->fd, &s->dst, NULL, out, sizeof(out));
	konce_rawpkt rp = {.src = s->local, .dst = s->dst, .seq = s->tr == PROBE_ICMP ? seq : (uint32_t)probe_random64(),
			   .payload = out, .len = sizeof(out)};
	return probe_raw_send(s->fd, s->tr, &rp);
}

/* Waits for the reply to nonce until deadline; true if it came. */
static bool await(struct sender *s, uint64_t nonce, unsigned seq, unsigned count, uint64_t sent_at, uint64_t deadline)
{
	probe_rx *rx = malloc(sizeof(*rx));
	bool got = false;
	if (!rx)
		return false;
	while (!got && probe_wait(&s->fd, 1, deadline) == 0) {
		if (s->tr == PROBE_UDP) {
			while (!got && probe_udp_recv(s->fd, rx) == 1) {
				konce_addr local = rx->dst;
				local.port = s->port;
				got = consider(s, &rx->src, &local, rx->ttl, rx->buf, rx->len, nonce, seq, count, sent_at);
			}
			continue;
		}
		ssize_t n;
		while (!got && (n = recv(s->fd, rx->buf, sizeof(rx->buf), MSG_DONTWAIT)) > 0) {
			konce_rawpkt pk;
			if (probe_raw_parse(s->tr, rx->buf, (size_t)n, &pk) || !pk.is_reply)
				continue;
			if (memcmp(pk.src.ip, s->dst.ip, 16) || pk.dst.port != s->port)
				continue; /* someone else's ping or connection */
			if (s->tr == PROBE_TCP && pk.src.port != s->dst.port)
				continue;
			got = consider(s, &pk.src, &s->local, pk.ttl, pk.payload, pk.len, nonce, seq, count, sent_at);
		}
	}
	free(rx);
	return got;
}

int probe_cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},     {"command", required_argument, NULL, 'c'},
		{"reply-port", required_argument, NULL, 'r'}, {"count", required_argument, NULL, 'n'},
		{"interval", required_argument, NULL, 'i'}, {"timeout", required_argument, NULL, 't'},
		{"icmp", no_argument, NULL, 'I'},           {"tcp", no_argument, NULL, 'T'},
		{"json", no_argument, NULL, 'j'},           {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sender s = {.tr = PROBE_UDP, .command = KONCE_PROBE_CMD_SAME, .fd = -1};
	long from = 0, count = 1, interval = 200, timeout = 1000, rport = 0;
	int family = AF_UNSPEC, c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "46h", opts, NULL)) != -1) {
		long *target = NULL, lo = 0, hi = 0;
		switch (c) {
		case 'f': target = &from, lo = 1, hi = 65535; break;
		case 'r': target = &rport, lo = 1, hi = 65535; break;
		case 'n': target = &count, lo = 1, hi = 1000000; break;
		case 'i': target = &interval, lo = 0, hi = 3600000; break;
		case 't': target = &timeout, lo = 1, hi = 3600000; break;
		case 'c':
			s.command = konce_probewire_command_parse(optarg);
			if (s.command < 0) {
				fprintf(stderr, "konce probe send: unknown --command '%s'\n", optarg);
				return 2;
			}
			break;
		case 'I': s.tr = PROBE_ICMP; break;
		case 'T': s.tr = PROBE_TCP; break;
		case 'j': s.json = true; break;
		case '4': family = AF_INET; break;
		case '6': family = AF_INET6; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (target) {
			*target = strtol(optarg, &end, 10);
			if (*end || *target < lo || *target > hi) {
				fprintf(stderr, "konce probe send: bad value '%s'\n", optarg);
				return 2;
			}
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if ((s.command == KONCE_PROBE_CMD_REPLY_TO_PORT) != (rport != 0)) {
		fprintf(stderr, "konce probe send: --command reply-to-port and --reply-port go together\n");
		return 2;
	}
	s.reply_port = (uint16_t)rport;
	if (s.tr != PROBE_UDP && s.command != KONCE_PROBE_CMD_SAME && s.command != KONCE_PROBE_CMD_DISPLAY) {
		fprintf(stderr, "konce probe send: raw transports carry only --command same or display\n");
		return 2;
	}
	if (s.tr != PROBE_UDP)
		family = AF_INET;
	const char *err;
	int rc = probe_resolve(argv[optind], s.tr == PROBE_ICMP ? 1 : KONCE_DEFAULT_PORT, family, &s.dst, &err);
	if (rc) {
		fprintf(stderr, "konce probe send: %s: %s\n", argv[optind], err);
		return rc == -EINVAL ? 2 : 1;
	}
	if (s.tr == PROBE_UDP) {
		konce_addr bind_to = s.dst;
		memset(bind_to.ip, 0, 16);
		if (konce_addr_is_v4(&s.dst))
			bind_to.ip[10] = bind_to.ip[11] = 0xff;
		bind_to.port = (uint16_t)from;
		s.fd = probe_udp_open(&bind_to);
		if (s.fd < 0) {
			fprintf(stderr, "konce probe send: cannot bind port %ld: %s\n", from, strerror(-s.fd));
			return 1;
		}
		probe_local(s.fd, &s.local);
		s.port = s.local.port;
	} else {
		if (!konce_addr_is_v4(&s.dst)) {
			fprintf(stderr, "konce probe send: raw transports are IPv4 only\n");
			return 2;
		}
		s.fd = probe_raw_open(s.tr);
		if (s.fd < 0) {
			fprintf(stderr, "konce probe send: %s\n", s.fd == -EPERM ? probe_raw_eperm_msg() : strerror(-s.fd));
			return 1;
		}
		if ((rc = probe_route_src(&s.dst, &s.local))) {
			fprintf(stderr, "konce probe send: no route to %s: %s\n", argv[optind], strerror(-rc));
			return 1;
		}
		s.port = from ? (uint16_t)from
			      : s.tr == PROBE_ICMP ? (uint16_t)KONCE_PROBE_ICMP_ID
						   : (uint16_t)(40000 + probe_random64() % 20000);
		s.local.port = s.port;
	}

	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	if (!s.json && s.tr == PROBE_ICMP) {
		konce_addr_str(&s.dst, a);
		konce_addr_str(&s.local, b);
		*strrchr(a, ':') = *strrchr(b, ':') = '\0';
		printf("probing %s (%s) from %s with echo id %u over icmp, command %s\n", a, argv[optind], b, s.port,
		       konce_probewire_command_name((uint8_t)s.command));
	} else if (!s.json) {
		printf("probing %s (%s) from %s port %u over %s, command %s\n", konce_addr_str(&s.dst, a), argv[optind],
		       s.tr == PROBE_UDP ? "local" : konce_addr_str(&s.local, b), s.port, s.tr == PROBE_UDP ? "udp" : "tcp",
		       konce_probewire_command_name((uint8_t)s.command));
	}
	for (long i = 0; i < count; i++) {
		uint64_t nonce = probe_random64(), at = probe_now_us();
		if ((rc = send_one(&s, nonce, (unsigned)i))) {
			fprintf(stderr, "konce probe send: send to %s failed: %s\n", konce_addr_str(&s.dst, a), strerror(-rc));
			close(s.fd);
			return 1;
		}
		if (s.command == KONCE_PROBE_CMD_DISPLAY) {
			if (!s.json)
				printf("sent %ld/%ld (display only: no reply expected)\n", i + 1, count);
		} else if (await(&s, nonce, (unsigned)i, (unsigned)count, at, at + (uint64_t)timeout * 1000)) {
			s.replies++;
		} else if (!s.json) {
			printf("no reply to probe %ld/%ld within %ld ms\n", i + 1, count, timeout);
		}
		if (i + 1 < count) {
			probe_sleep_until(at + (uint64_t)interval * 1000);
		}
	}
	close(s.fd);
	if (s.json) {
		probe_json_print(json_pack("{s:s, s:I, s:i, s:i, s:i}", "event", "summary", "sent", (json_int_t)count,
					   "replies", s.replies, "stray", s.stray, "kernel_echoes", s.kernel_echoes));
	} else {
		printf("%u of %ld probes answered", s.replies, count);
		if (s.stray)
			printf("; %u stray or spoofed packets ignored", s.stray);
		if (s.kernel_echoes && !s.replies)
			printf("; the host answered ping itself, but no konce listener answered in-band");
		printf("\n");
	}
	return s.command == KONCE_PROBE_CMD_DISPLAY || s.replies ? 0 : 1;
}
