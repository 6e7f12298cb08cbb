/* probe_nat.c - `konce probe nat`: runs the RFC 5780 classifier (nat/classify.c) over real sockets,
 * against a konce probe listener or a STUN server with two addresses. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>
#include <unistd.h>

#include "nat/classify.h"
#include "nat/probewire.h"
#include "nat/stun.h"
#include "tools/probe.h"

enum proto { P_AUTO, P_PROBE, P_STUN };
enum { MAX_SOCKS = 48 };

struct natd {
	enum proto proto;
	bool json, stun_rfc5780;
	konce_addr server, bind_any;
	uint16_t from;
	int fds[MAX_SOCKS];
	konce_classify c;
	json_t *log;
	probe_rx *rx;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: konce probe nat SERVER[:PORT] [--proto auto|probe|stun] [--lifetime[=MAX_SECONDS]]\n"
		"                       [--from PORT] [--timeout MS] [-4 | -6] [--json]\n\n"
		"Discovers the behaviour of the NAT(s) between here and SERVER, in the manner of RFC 5780:\n"
		"mapping (endpoint-independent, address-dependent, address-and-port-dependent), filtering,\n"
		"port allocation (preserving, sequential, random), hairpinning and, if asked, the mapping\n"
		"lifetime.  SERVER is a `konce probe listen ... --also ...` listener or an RFC 5780 / RFC 3489\n"
		"STUN server with two addresses (default port %d).\n\n"
		"  --proto P          probe, stun, or auto (default: send both at first, use what answers)\n"
		"  --lifetime[=MAX]   also measure how long an idle mapping lasts, trying idle periods up to\n"
		"                     MAX seconds (default 120, at most 3600); this takes minutes\n"
		"  --from PORT        local port of the first socket (the others are chosen by the system)\n"
		"  --timeout MS       per test (default 1500)\n"
		"  -4, -6             resolve SERVER to IPv4 / IPv6 only\n"
		"  --json             the result as one JSON object on stdout\n\n"
		"Exit status: 0 classification finished (a blocked path is a result, not an error),\n"
		"1 failure (socket, name resolution), 2 bad usage.\n",
		KONCE_STUN_DEFAULT_PORT);
}

static int sock(struct natd *d, unsigned i)
{
	if (i >= MAX_SOCKS)
		return -EMFILE;
	if (d->fds[i] >= 0)
		return d->fds[i];
	konce_addr b = d->bind_any;
	b.port = i == 0 ? d->from : 0;
	int fd = probe_udp_open(&b);
	if (fd >= 0)
		d->fds[i] = fd;
	return fd;
}

struct outstanding {
	uint64_t nonce;
	uint8_t txid[KONCE_STUN_TXID];
	uint8_t probe_pkt[KONCE_PROBE_SIZE];
	uint8_t stun_pkt[128];
	int stun_len;
	bool send_probe, send_stun;
};

static void build(struct natd *d, const konce_classify_probe *p, struct outstanding *o)
{
	static const uint8_t cmd_of[] = {
		[KONCE_CLASSIFY_ASK_SAME] = KONCE_PROBE_CMD_SAME,
		[KONCE_CLASSIFY_ASK_OTHER_PORT] = KONCE_PROBE_CMD_OTHER_PORT,
		[KONCE_CLASSIFY_ASK_OTHER_BOTH] = KONCE_PROBE_CMD_OTHER_ADDR,
		[KONCE_CLASSIFY_ASK_TO_PORT] = KONCE_PROBE_CMD_REPLY_TO_PORT,
	};
	uint32_t change = p->ask == KONCE_CLASSIFY_ASK_OTHER_PORT ? KONCE_STUN_CHANGE_PORT
			  : p->ask == KONCE_CLASSIFY_ASK_OTHER_BOTH ? KONCE_STUN_CHANGE_PORT | KONCE_STUN_CHANGE_IP
								: 0;
	memset(o, 0, sizeof(*o));
	o->send_probe = d->proto != P_STUN;
	o->send_stun = d->proto != P_PROBE;
	o->nonce = probe_random64();
	randombytes_buf(o->txid, sizeof(o->txid));
	konce_probewire_msg req = {.type = KONCE_PROBE_T_REQUEST,
			   .command = p->hairpin ? KONCE_PROBE_CMD_DISPLAY : cmd_of[p->ask],
			   .nonce = o->nonce,
			   .reply_port = p->ask == KONCE_CLASSIFY_ASK_TO_PORT ? p->reply_port : 0};
	konce_probewire_encode(&req, o->probe_pkt);
	o->stun_len = konce_stun_request(o->stun_pkt, sizeof(o->stun_pkt), o->txid, p->hairpin ? 0 : change,
					 p->ask == KONCE_CLASSIFY_ASK_TO_PORT ? p->reply_port : 0, NULL);
}

/* Is rx (on socket expect) the answer?  Fills obs; switches an auto run to the protocol that answered. */
static bool match(struct natd *d, const konce_classify_probe *p, const struct outstanding *o, unsigned expect,
		  const probe_rx *rx, konce_classify_obs *obs, bool *was_stun)
{
	konce_probewire_msg pr;
	konce_stun_msg m;
	memset(obs, 0, sizeof(*obs));
	konce_addr bound;
	obs->local = rx->dst;
	if (probe_local(d->fds[expect], &bound) == 0)
		obs->local.port = bound.port;
	*was_stun = false;
	if (konce_probewire_parse(&pr, rx->buf, rx->len) == KONCE_PROBE_OK && pr.nonce == o->nonce) {
		if (p->hairpin)
			return pr.type == KONCE_PROBE_T_REQUEST;
		if (pr.type != KONCE_PROBE_T_REPLY || !(pr.flags & KONCE_PROBE_F_SEEN))
			return false;
		obs->has_mapped = true;
		obs->mapped = pr.seen_src;
		obs->has_other = (pr.flags & KONCE_PROBE_F_OTHER) != 0;
		obs->other = pr.other;
		return true;
	}
	if (konce_stun_parse(&m, rx->buf, rx->len) == KONCE_STUN_OK && !memcmp(m.txid, o->txid, KONCE_STUN_TXID)) {
		*was_stun = true;
		if (p->hairpin)
			return m.type == KONCE_STUN_BINDING_REQUEST;
		if (m.type != KONCE_STUN_BINDING_SUCCESS || !konce_stun_mapped(&m))
			return false;
		obs->has_mapped = true;
		obs->mapped = *konce_stun_mapped(&m);
		obs->has_other = m.has_other;
		obs->other = m.other;
		if (p->test == KONCE_CLASSIFY_T_BASIC)
			d->stun_rfc5780 = m.has_other && !m.other_is_changed_address; /* RESPONSE-PORT likely */
		return true;
	}
	return false;
}

static const char *ask_str(enum konce_classify_ask a)
{
	switch (a) {
	case KONCE_CLASSIFY_ASK_SAME: return "same";
	case KONCE_CLASSIFY_ASK_OTHER_PORT: return "other-port";
	case KONCE_CLASSIFY_ASK_OTHER_BOTH: return "other-addr";
	case KONCE_CLASSIFY_ASK_TO_PORT: return "reply-to-port";
	}
	return "?";
}

/* Runs one probe to its answer or deadline.  0, or -errno on a socket failure. */
/* A lifetime step is minutes of silence: say what it waits for and what is known so far, and on a
 * terminal count the wait down. */
static void wait_idle(struct natd *d, const konce_classify_probe *p)
{
	uint64_t now = probe_now_us();
	if (d->json) {
		probe_sleep_until(p->not_before);
		return;
	}
	char known[128] = "";
	if (d->c.life_lo && d->c.life_hi)
		snprintf(known, sizeof(known), " (so far: alive after %u s, gone after %u s)", d->c.life_lo, d->c.life_hi);
	else if (d->c.life_lo)
		snprintf(known, sizeof(known), " (so far: alive after %u s)", d->c.life_lo);
	else if (d->c.life_hi)
		snprintf(known, sizeof(known), " (so far: gone after %u s)", d->c.life_hi);
	printf("  %-50s first %.0f s idle%s\n", konce_classify_test_str(p->test), (double)(p->not_before - now) / 1e6,
	       known);
	fflush(stdout);
	if (isatty(STDOUT_FILENO) != 1) {
		probe_sleep_until(p->not_before);
		return;
	}
	while ((now = probe_now_us()) < p->not_before) {
		printf("\r\033[K    %.0f s of idleness left", (double)(p->not_before - now) / 1e6);
		fflush(stdout);
		probe_sleep_until(now + 1000000 < p->not_before ? now + 1000000 : p->not_before);
	}
	printf("\r\033[K");
	fflush(stdout);
}

static int run_one(struct natd *d, const konce_classify_probe *p)
{
	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	int sfd = sock(d, p->sock), efd = sock(d, p->expect_sock);
	if (sfd < 0 || efd < 0)
		return sfd < 0 ? sfd : efd;
	uint64_t now = probe_now_us();
	if (p->not_before > now)
		wait_idle(d, p);
	struct outstanding o;
	build(d, p, &o);
	uint64_t start = probe_now_us(), deadline = start + (p->deadline - p->not_before), next = start;
	konce_classify_obs obs = {0};
	bool got = false, was_stun = false, stun_seen = false;
	konce_classify_obs stun_obs = {0};
	while (!got && probe_now_us() < deadline) {
		if (probe_now_us() >= next) {
			int rc = 0;
			if (o.send_probe)
				rc = probe_udp_send(sfd, &p->to, NULL, o.probe_pkt, sizeof(o.probe_pkt));
			if (o.send_stun && !rc)
				rc = probe_udp_send(sfd, &p->to, NULL, o.stun_pkt, (size_t)o.stun_len);
			if (rc && rc != -ECONNREFUSED && rc != -EHOSTUNREACH && rc != -ENETUNREACH)
				return rc;
			next += p->resend_us;
		}
		uint64_t until = next < deadline ? next : deadline;
		/* in auto mode, a STUN answer waits a moment for the probe answer, which says more */
		if (stun_seen && start + 100000 < until)
			until = start + 100000 > probe_now_us() ? start + 100000 : probe_now_us();
		int i = probe_wait(&efd, 1, until);
		if (i < 0 && stun_seen && probe_now_us() >= start + 100000) {
			obs = stun_obs;
			d->proto = P_STUN;
			got = true;
			break;
		}
		while (!got && i == 0 && probe_udp_recv(efd, d->rx) == 1) {
			if (!match(d, p, &o, p->expect_sock, d->rx, &obs, &was_stun))
				continue;
			if (d->proto == P_AUTO && was_stun) {
				stun_seen = true;
				stun_obs = obs;
				continue;
			}
			if (d->proto == P_AUTO)
				d->proto = P_PROBE;
			got = true;
		}
	}
	if (!got && stun_seen) {
		obs = stun_obs;
		d->proto = P_STUN;
		got = true;
	}
	uint64_t took = probe_now_us() - start;
	json_t *j = json_pack("{s:s, s:i, s:o, s:s}", "test", konce_classify_test_str(p->test), "socket", (int)p->sock, "to",
			      probe_json_addr(&p->to), "ask", ask_str(p->ask));
	json_object_set_new(j, "answered", json_boolean(got));
	if (got && obs.has_mapped)
		json_object_set_new(j, "mapped", probe_json_addr(&obs.mapped));
	json_object_set_new(j, "ms", json_real((double)took / 1000.0));
	json_array_append_new(d->log, j);
	if (!d->json) {
		printf("  %-50s -> %-22s ", konce_classify_test_str(p->test), konce_addr_str(&p->to, a));
		if (!got)
			printf("no answer (%.0f ms)\n", (double)took / 1000.0);
		else if (obs.has_mapped)
			printf("mapped %s (%.1f ms)\n", konce_addr_str(&obs.mapped, b), (double)took / 1000.0);
		else
			printf("arrived (%.1f ms)\n", (double)took / 1000.0);
		fflush(stdout);
	}
	if (p->test == KONCE_CLASSIFY_T_BASIC)
		konce_classify_set_reply_to_port(&d->c, d->proto == P_PROBE || (d->proto == P_STUN && d->stun_rfc5780));
	if (got)
		konce_classify_input(&d->c, probe_now_us(), &obs);
	else
		konce_classify_timer(&d->c, probe_now_us());
	return 0;
}

static void report(struct natd *d, const konce_classify_result *r, const char *name)
{
	char a[KONCE_ADDR_STRLEN];
	const char *proto = d->proto == P_STUN ? "stun" : d->proto == P_PROBE ? "probe" : "none answered";
	if (d->json) {
		json_t *j = json_pack("{s:s, s:o, s:s, s:s, s:b, s:b}", "server_name", name, "server",
				      probe_json_addr(&d->server), "protocol", proto, "classic", konce_classify_classic_str(r),
				      "blocked", r->blocked, "nat", r->nat);
		if (!r->blocked) {
			json_object_set_new(j, "local", probe_json_addr(&r->local));
			json_object_set_new(j, "mapped", probe_json_addr(&r->mapped));
			if (r->has_alt_addr || r->has_alt_port)
				json_object_set_new(j, "server_other", probe_json_addr(&r->other));
		}
		json_object_set_new(j, "mapping", json_string(konce_nat_mapping_abbrev(r->mapping)));
		json_object_set_new(j, "mapping_long", json_string(konce_nat_mapping_name(r->mapping)));
		json_object_set_new(j, "filtering", json_string(konce_nat_filtering_abbrev(r->filtering)));
		json_object_set_new(j, "filtering_long", json_string(konce_nat_filtering_name(r->filtering)));
		json_object_set_new(j, "port_allocation", json_string(konce_nat_ports_name(r->ports)));
		if (r->ports == KONCE_NAT_PORTS_SEQUENTIAL)
			json_object_set_new(j, "port_stride", json_integer(r->port_stride));
		json_object_set_new(j, "hairpinning", json_string(konce_nat_tri_name(r->hairpin)));
		json_t *s = json_array();
		for (unsigned i = 0; i < r->n_samples; i++)
			json_array_append_new(s, json_pack("{s:i, s:i}", "local_port", r->samples[i].local_port,
							   "mapped_port", r->samples[i].mapped_port));
		json_object_set_new(j, "port_samples", s);
		if (r->lifetime_measured)
			json_object_set_new(j, "lifetime", json_pack("{s:i, s:o}", "alive_after_s", (int)r->lifetime_alive_s,
								     "gone_after_s", r->lifetime_dead_s ? json_integer(r->lifetime_dead_s) : json_null()));
		else
			json_object_set_new(j, "lifetime", json_null());
		json_object_set_new(j, "tests", json_incref(d->log));
		probe_json_print(j);
		return;
	}
	printf("\nresult (%s protocol)\n", proto);
	if (r->blocked) {
		printf("  UDP blocked: no answer at all from %s\n", konce_addr_str(&d->server, a));
		printf("  classic type     blocked\n");
		return;
	}
	printf("  NAT              %s", r->nat ? "yes" : "no");
	printf(" (local %s", konce_addr_str(&r->local, a));
	printf(", mapped %s)\n", konce_addr_str(&r->mapped, a));
	printf("  mapping          %s\n", konce_nat_mapping_name(r->mapping));
	printf("  filtering        %s\n", konce_nat_filtering_name(r->filtering));
	printf("  port allocation  %s", konce_nat_ports_name(r->ports));
	if (r->ports == KONCE_NAT_PORTS_SEQUENTIAL)
		printf(", stride %u", r->port_stride);
	printf(" (local->mapped: ");
	for (unsigned i = 0; i < r->n_samples; i++)
		printf("%s%u->%u", i ? " " : "", r->samples[i].local_port, r->samples[i].mapped_port);
	printf(")\n");
	printf("  hairpinning      %s\n", konce_nat_tri_name(r->hairpin));
	if (r->lifetime_measured) {
		if (r->lifetime_dead_s)
			printf("  mapping lifetime between %u and %u s idle\n", r->lifetime_alive_s, r->lifetime_dead_s);
		else
			printf("  mapping lifetime at least %u s idle (the bound)\n", r->lifetime_alive_s);
	}
	if (!r->has_alt_addr)
		printf("  note             the server offered no second address; tests needing it were skipped\n");
	printf("  classic type     %s\n", konce_classify_classic_str(r));
}

int probe_cmd_nat(int argc, char **argv)
{
	static const struct option opts[] = {
		{"proto", required_argument, NULL, 'p'},  {"lifetime", optional_argument, NULL, 'l'},
		{"from", required_argument, NULL, 'f'},   {"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct natd d = {.proto = P_AUTO};
	konce_classify_config cfg = {0};
	long from = 0, timeout = 1500, life_max = 120;
	bool lifetime = false;
	int family = AF_UNSPEC, c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "46h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!strcmp(optarg, "auto"))
				d.proto = P_AUTO;
			else if (!strcmp(optarg, "probe"))
				d.proto = P_PROBE;
			else if (!strcmp(optarg, "stun"))
				d.proto = P_STUN;
			else {
				fprintf(stderr, "konce probe nat: --proto wants auto, probe or stun\n");
				return 2;
			}
			break;
		case 'l':
			lifetime = true;
			if (optarg) {
				life_max = strtol(optarg, &end, 10);
				if (*end || life_max < 1 || life_max > 3600) {
					fprintf(stderr, "konce probe nat: --lifetime=MAX wants 1..3600 seconds\n");
					return 2;
				}
			}
			break;
		case 'f':
			from = strtol(optarg, &end, 10);
			if (*end || from < 1 || from > 65535) {
				fprintf(stderr, "konce probe nat: bad --from '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*end || timeout < 10 || timeout > 60000) {
				fprintf(stderr, "konce probe nat: --timeout wants 10..60000 ms\n");
				return 2;
			}
			break;
		case 'j': d.json = true; break;
		case '4': family = AF_INET; break;
		case '6': family = AF_INET6; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *err;
	int rc = probe_resolve(argv[optind], KONCE_STUN_DEFAULT_PORT, family, &d.server, &err);
	if (rc) {
		fprintf(stderr, "konce probe nat: %s: %s\n", argv[optind], err);
		return rc == -EINVAL ? 2 : 1;
	}
	memset(&d.bind_any, 0, sizeof(d.bind_any));
	if (konce_addr_is_v4(&d.server))
		d.bind_any.ip[10] = d.bind_any.ip[11] = 0xff;
	d.from = (uint16_t)from;
	for (int i = 0; i < MAX_SOCKS; i++)
		d.fds[i] = -1;
	cfg.server = d.server;
	cfg.reply_to_port = d.proto != P_STUN; /* a STUN server's answer to the basic test may say otherwise */
	cfg.lifetime = lifetime;
	cfg.lifetime_max_s = (uint32_t)life_max;
	cfg.timeout_us = (uint64_t)timeout * 1000;
	konce_classify_init(&d.c, &cfg);
	d.log = json_array();
	d.rx = malloc(sizeof(*d.rx));
	if (!d.rx)
		return 1;

	char a[KONCE_ADDR_STRLEN];
	if (!d.json)
		printf("classifying the path to %s (%s)%s\n", konce_addr_str(&d.server, a), argv[optind],
		       lifetime ? ", with the lifetime test" : "");
	konce_classify_probe p;
	int status = 0;
	while (konce_classify_poll(&d.c, probe_now_us(), &p)) {
		if ((rc = run_one(&d, &p))) {
			fprintf(stderr, "konce probe nat: %s: %s\n", konce_classify_test_str(p.test), strerror(-rc));
			status = 1;
			break;
		}
	}
	if (!status)
		report(&d, konce_classify_result_get(&d.c), argv[optind]);
	for (int i = 0; i < MAX_SOCKS; i++)
		if (d.fds[i] >= 0)
			close(d.fds[i]);
	json_decref(d.log);
	free(d.rx);
	return status;
}
