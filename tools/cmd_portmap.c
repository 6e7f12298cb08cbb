/* cmd_portmap.c - konce portmap: ask the home router for a UDP port mapping, show it, give it back.
 *
 * A probe of node/io/portmap.c, the code a node uses to hold its port-mapped candidate: the same
 * policy, worker thread and libraries, in a loop of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "konce/konce.h"
#include "node/io/portmap.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/ctl.h"

enum { STOP_TIMEOUT_MS = 6000 };

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce portmap [options]\n\n"
		   "Asks the gateway for a UDP port mapping, NAT-PMP first and then UPnP-IGD, prints it\n"
		   "(protocol, external address and port, granted lifetime), holds it for --hold seconds\n"
		   "while renewing it at half its lifetime, then deletes it.  Ctrl-C ends the hold early.\n"
		   "Exits 0 if a mapping was made and deleted, 1 if no gateway would map the port or the\n"
		   "delete was not confirmed, 2 on bad usage.\n\n"
		   "Options:\n"
		   "  -p, --port N          the local UDP port to expose (default %d)\n"
		   "  -e, --external N      the external port to ask for (default: the same)\n"
		   "  -l, --lifetime SECS   the lease to ask for (default 7200)\n"
		   "  -P, --protocol P      natpmp, upnp or auto (default auto: NAT-PMP, then UPnP)\n"
		   "  -W, --timeout SECS    how long each protocol may stay silent (default 2)\n"
		   "      --hold SECS       keep the mapping this long before deleting it (default 0)\n"
		   "      --json            print one JSON object per line for each event\n"
		   "  -v, --verbose         print every request and result to stderr\n"
		   "  -h, --help            show this help\n",
		KONCE_DEFAULT_PORT);
}

struct run {
	struct event_base *base;
	struct event *hold;
	unsigned hold_ms;
	bool json, verbose, mapped, unavailable;
	uint16_t internal_port;
};

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
	fflush(stdout);
}

static void on_event(void *ctx, const konce_portmap_policy_event *ev)
{
	struct run *r = ctx;
	char a[KONCE_ADDR_STRLEN], ip[KONCE_ADDR_STRLEN];
	konce_addr_str(&ev->external, a);
	snprintf(ip, sizeof(ip), "%s", a);
	char *colon = strrchr(ip, ':');
	if (colon)
		*colon = 0;
	switch (ev->type) {
	case KONCE_PM_EV_MAPPED:
		if (r->json)
			print_json(json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "event", "mapped", "protocol",
					     konce_portmap_policy_proto_name(ev->proto), "external_address", ip, "external_port",
					     (int)ev->external.port, "internal_port", (int)r->internal_port,
					     "lifetime_s", (json_int_t)ev->lifetime_s, "changed", ev->changed));
		else
			printf("%s %s %s -> local port %u, lifetime %u s\n", ev->changed ? "remapped" : "mapped",
			       konce_portmap_policy_proto_name(ev->proto), a, r->internal_port, ev->lifetime_s);
		fflush(stdout);
		if (!r->mapped) {
			struct timeval tv = {(time_t)(r->hold_ms / 1000), (suseconds_t)(r->hold_ms % 1000) * 1000};
			r->mapped = true;
			evtimer_add(r->hold, &tv);
		}
		break;
	case KONCE_PM_EV_LOST:
		if (r->json)
			print_json(json_pack("{s:s, s:s, s:s}", "event", "lost", "protocol", konce_portmap_policy_proto_name(ev->proto),
					     "reason", konce_portmap_policy_err_name(ev->reason)));
		else
			printf("lost %s mapping (%s); trying again\n", konce_portmap_policy_proto_name(ev->proto),
			       konce_portmap_policy_err_name(ev->reason));
		fflush(stdout);
		break;
	case KONCE_PM_EV_UNAVAILABLE:
		if (r->mapped) /* while holding: the policy retries after its backoff */
			break;
		r->unavailable = true;
		if (r->json)
			print_json(json_pack("{s:s, s:s}", "event", "unavailable", "reason", konce_portmap_policy_err_name(ev->reason)));
		fprintf(stderr, "konce portmap: no gateway would map the port: NAT-PMP and UPnP-IGD both failed "
				"(last: %s %s); run with -v for details\n",
			konce_portmap_policy_proto_name(ev->proto), konce_portmap_policy_err_name(ev->reason));
		event_base_loopbreak(r->base);
		break;
	}
}

static void on_trace(void *ctx, const char *line)
{
	struct run *r = ctx;
	if (r->verbose)
		fprintf(stderr, "portmap: %s\n", line);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	event_base_loopbreak(((struct run *)arg)->base);
}

static int parse_port(const char *opt, const char *text, bool zero_ok, uint16_t *out)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (*end || end == text || v < (zero_ok ? 0 : 1) || v > 65535) {
		fprintf(stderr, "konce portmap: %s: '%s' is not a port from %d to 65535\n", opt, text, zero_ok ? 0 : 1);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

int konce_cmd_portmap(int argc, char **argv)
{
	enum { O_HOLD = 256, O_JSON };
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},     {"external", required_argument, NULL, 'e'},
		{"lifetime", required_argument, NULL, 'l'}, {"protocol", required_argument, NULL, 'P'},
		{"timeout", required_argument, NULL, 'W'},  {"hold", required_argument, NULL, O_HOLD},
		{"json", no_argument, NULL, O_JSON},        {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	struct run r;
	konce_portmap_cfg cfg;
	unsigned ms;
	int c;

	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy.internal_port = KONCE_DEFAULT_PORT;
	while ((c = getopt_long(argc, argv, "p:e:l:P:W:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_port("-p", optarg, false, &cfg.policy.internal_port))
				return KONCE_EXIT_USAGE;
			break;
		case 'e':
			if (parse_port("-e", optarg, true, &cfg.policy.external_port))
				return KONCE_EXIT_USAGE;
			break;
		case 'l':
			if (konce_args_seconds(optarg, 1, 86400 * 7, &ms)) {
				fprintf(stderr, "konce portmap: -l: '%s' is not a number of seconds from 1 to 604800\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			cfg.policy.lifetime_s = (ms + 999) / 1000;
			break;
		case 'P':
			if (!strcmp(optarg, "natpmp"))
				cfg.policy.protos[0] = KONCE_PM_PROTO_NATPMP;
			else if (!strcmp(optarg, "upnp"))
				cfg.policy.protos[0] = KONCE_PM_PROTO_UPNP;
			else if (strcmp(optarg, "auto")) {
				fprintf(stderr, "konce portmap: -P: '%s' is not natpmp, upnp or auto\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'W':
			if (konce_args_seconds(optarg, 0.1, 60, &ms)) {
				fprintf(stderr, "konce portmap: -W: '%s' is not a number of seconds from 0.1 to 60\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			cfg.natpmp_timeout_ms = cfg.upnp_discover_ms = ms;
			break;
		case O_HOLD:
			if (konce_args_seconds(optarg, 0, 86400, &r.hold_ms)) {
				fprintf(stderr, "konce portmap: --hold: '%s' is not a number of seconds up to 86400\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case O_JSON: r.json = true; break;
		case 'v': r.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KONCE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "konce portmap: unexpected argument '%s'\n", argv[optind]);
		return KONCE_EXIT_USAGE;
	}
	r.internal_port = cfg.policy.internal_port;
	cfg.cb = on_event;
	cfg.trace = on_trace;
	cfg.ctx = &r;

	struct event *sigint = NULL, *sigterm = NULL;
	konce_portmap *pm = NULL;
	int status = KONCE_EXIT_FAIL, rc;
	r.base = event_base_new();
	if (!r.base || !(r.hold = evtimer_new(r.base, on_stop, &r)) ||
	    !(sigint = evsignal_new(r.base, SIGINT, on_stop, &r)) || !(sigterm = evsignal_new(r.base, SIGTERM, on_stop, &r)) ||
	    event_add(sigint, NULL) || event_add(sigterm, NULL)) {
		fprintf(stderr, "konce portmap: cannot set up the event loop\n");
		goto out;
	}
	if ((rc = konce_portmap_start(&pm, r.base, &cfg))) {
		fprintf(stderr, "konce portmap: cannot start: %s\n", strerror(-rc));
		goto out;
	}
	event_base_dispatch(r.base);
	rc = konce_portmap_stop(pm, STOP_TIMEOUT_MS);
	if (r.mapped && rc) {
		fprintf(stderr, "konce portmap: the mapping was not confirmed deleted within %d ms\n", STOP_TIMEOUT_MS);
	} else if (r.mapped) {
		if (r.json)
			print_json(json_pack("{s:s}", "event", "deleted"));
		else
			printf("deleted\n");
		status = KONCE_EXIT_OK;
	} else if (!r.unavailable) {
		fprintf(stderr, "konce portmap: interrupted before a mapping was made\n");
	}
out:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (r.hold)
		event_free(r.hold);
	if (r.base)
		event_base_free(r.base);
	return status;
}
