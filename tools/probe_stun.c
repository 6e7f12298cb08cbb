/* probe_stun.c - `konce probe stun`: ask any STUN server for our mapped address (RFC 5389 Binding). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>
#include <unistd.h>

#include "nat/stun.h"
#include "tools/probe.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: konce probe stun HOST[:PORT] [--from PORT] [--change ip|port|both] [--count N]\n"
		"                        [--timeout MS] [-4 | -6] [--json]\n\n"
		"Sends a STUN Binding request (RFC 5389, with FINGERPRINT) to a STUN server (default port %d) and\n"
		"shows the mapped address it reports, its RESPONSE-ORIGIN and OTHER-ADDRESS (or the RFC 3489\n"
		"SOURCE-ADDRESS and CHANGED-ADDRESS), and how our source was rewritten.\n\n"
		"  --from PORT     local source port\n"
		"  --change WHAT   ask for the answer from the server's other ip, port, or both (CHANGE-REQUEST)\n"
		"  --count N       requests to send, one after the other (default 1)\n"
		"  --timeout MS    per request, with retransmissions at 500 ms, 1 s, 2 s... (default 3000)\n"
		"  -4, -6          resolve HOST to IPv4 / IPv6 only\n"
		"  --json          one JSON object per answer on stdout\n\n"
		"Exit status: 0 every request got a mapped address, 1 otherwise, 2 bad usage.\n",
		KONCE_STUN_DEFAULT_PORT);
}

static void show(bool json, const konce_addr *server, const probe_rx *rx, const konce_addr *local, const konce_stun_msg *m,
		 uint64_t rtt_us)
{
	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	const konce_addr *x = konce_stun_mapped(m);
	if (json) {
		json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:f}", "event", "answer", "server", probe_json_addr(server),
				      "from", probe_json_addr(&rx->src), "local", probe_json_addr(local), "rtt_ms",
				      (double)rtt_us / 1000.0);
		if (x) {
			json_object_set_new(j, "mapped", probe_json_addr(x));
			json_object_set_new(j, "rewrite", json_string(probe_rewrite_str(local, x)));
		}
		json_object_set_new(j, "stun", probe_json_stun(m));
		probe_json_print(j);
		return;
	}
	printf("%s from %s in %.1f ms%s\n", probe_stun_type_str(m->type), konce_addr_str(&rx->src, a),
	       (double)rtt_us / 1000.0, m->cookie != KONCE_STUN_MAGIC_COOKIE ? " (RFC 3489 server)" : "");
	if (x)
		printf("  mapped address   %s (%s); local %s: %s\n", konce_addr_str(x, a),
		       m->has_xor_mapped ? "XOR-MAPPED-ADDRESS" : "MAPPED-ADDRESS", konce_addr_str(local, b),
		       probe_rewrite_str(local, x));
	if (m->has_origin)
		printf("  %-16s %s\n", m->origin_is_source_address ? "source address" : "response origin",
		       konce_addr_str(&m->origin, a));
	if (m->has_other)
		printf("  %-16s %s\n", m->other_is_changed_address ? "changed address" : "other address",
		       konce_addr_str(&m->other, a));
	if (m->has_error)
		printf("  error            %u\n", m->error_code);
	if (m->has_software) {
		printf("  software         ");
		for (const char *c = m->software; *c; c++)
			putchar(*c >= 0x20 && *c < 0x7f ? *c : '.');
		putchar('\n');
	}
	printf("  fingerprint      %s\n", m->has_fingerprint ? "present, correct" : "absent");
	fflush(stdout);
}

static void show_bad(bool json, const probe_rx *rx, const char *what)
{
	char a[KONCE_ADDR_STRLEN];
	if (json) {
		json_t *j = json_pack("{s:s, s:o, s:s}", "event", "ignored", "from", probe_json_addr(&rx->src), "why", what);
		json_object_set_new(j, "hex", probe_json_hex(rx->buf, rx->len, 128));
		probe_json_print(j);
		return;
	}
	printf("ignored a packet from %s: %s\n", konce_addr_str(&rx->src, a), what);
	probe_hexdump(stdout, rx->buf, rx->len, 128);
}

int probe_cmd_stun(int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},    {"change", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'n'},   {"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long from = 0, count = 1, timeout = 3000;
	uint32_t change = 0;
	bool json = false;
	int family = AF_UNSPEC, c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "46h", opts, NULL)) != -1) {
		long *target = NULL, hi = 0;
		switch (c) {
		case 'f': target = &from, hi = 65535; break;
		case 'n': target = &count, hi = 1000000; break;
		case 't': target = &timeout, hi = 3600000; break;
		case 'c':
			if (!strcmp(optarg, "ip"))
				change = KONCE_STUN_CHANGE_IP;
			else if (!strcmp(optarg, "port"))
				change = KONCE_STUN_CHANGE_PORT;
			else if (!strcmp(optarg, "both"))
				change = KONCE_STUN_CHANGE_IP | KONCE_STUN_CHANGE_PORT;
			else {
				fprintf(stderr, "konce probe stun: --change wants ip, port or both\n");
				return 2;
			}
			break;
		case 'j': json = true; break;
		case '4': family = AF_INET; break;
		case '6': family = AF_INET6; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (target) {
			*target = strtol(optarg, &end, 10);
			if (*end || *target < (target == &from ? 0 : 1) || *target > hi) {
				fprintf(stderr, "konce probe stun: bad value '%s'\n", optarg);
				return 2;
			}
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	konce_addr server, bind_to, local;
	const char *err;
	int rc = probe_resolve(argv[optind], KONCE_STUN_DEFAULT_PORT, family, &server, &err);
	if (rc) {
		fprintf(stderr, "konce probe stun: %s: %s\n", argv[optind], err);
		return rc == -EINVAL ? 2 : 1;
	}
	memset(&bind_to, 0, sizeof(bind_to));
	if (konce_addr_is_v4(&server))
		bind_to.ip[10] = bind_to.ip[11] = 0xff;
	bind_to.port = (uint16_t)from;
	int fd = probe_udp_open(&bind_to);
	if (fd < 0) {
		fprintf(stderr, "konce probe stun: cannot bind port %ld: %s\n", from, strerror(-fd));
		return 1;
	}
	probe_local(fd, &local);
	probe_rx *rx = malloc(sizeof(*rx));
	if (!rx) {
		close(fd);
		return 1;
	}
	long ok = 0;
	for (long i = 0; i < count; i++) {
		uint8_t txid[KONCE_STUN_TXID], req[256];
		konce_stun_msg m;
		randombytes_buf(txid, sizeof(txid));
		int n = konce_stun_request(req, sizeof(req), txid, change, 0, NULL);
		uint64_t start = probe_now_us(), deadline = start + (uint64_t)timeout * 1000, rto = 500000;
		uint64_t next_send = start;
		bool done = false;
		while (!done && probe_now_us() < deadline) {
			if (probe_now_us() >= next_send) {
				if ((rc = probe_udp_send(fd, &server, NULL, req, (size_t)n))) {
					fprintf(stderr, "konce probe stun: send failed: %s\n", strerror(-rc));
					break;
				}
				next_send += rto;
				rto *= 2;
			}
			if (probe_wait(&fd, 1, next_send < deadline ? next_send : deadline) != 0)
				continue;
			while (!done && probe_udp_recv(fd, rx) == 1) {
				konce_addr here = rx->dst;
				here.port = local.port;
				enum konce_stun_result r = konce_stun_parse(&m, rx->buf, rx->len);
				if (r != KONCE_STUN_OK)
					show_bad(json, rx, konce_stun_result_str(r));
				else if (memcmp(m.txid, txid, sizeof(txid)))
					show_bad(json, rx, "STUN answer with an unknown transaction id (spoofed or stale)");
				else if (m.type != KONCE_STUN_BINDING_SUCCESS && m.type != KONCE_STUN_BINDING_ERROR)
					show_bad(json, rx, "STUN message that is not a Binding response");
				else {
					show(json, &server, rx, &here, &m, probe_now_us() - start);
					done = true;
					ok += m.type == KONCE_STUN_BINDING_SUCCESS && konce_stun_mapped(&m) &&
					      !m.n_unknown_required;
				}
			}
		}
		if (!done) {
			char a[KONCE_ADDR_STRLEN];
			if (json)
				probe_json_print(json_pack("{s:s, s:o, s:I}", "event", "timeout", "server",
							   probe_json_addr(&server), "timeout_ms", (json_int_t)timeout));
			else
				printf("no answer from %s within %ld ms\n", konce_addr_str(&server, a), timeout);
		}
	}
	free(rx);
	close(fd);
	return ok == count ? 0 : 1;
}
