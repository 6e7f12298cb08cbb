/* cmd_status.c - konce status: the running node's identity, address, uptime and counters. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce status [--json] [--control PATH] [--config FILE]\n\n"
		   "Shows the running node's public key, listening address, version, uptime, peer counts,\n"
		   "presence store state, traffic (the rates over the last second, in all and for the\n"
		   "busiest peers) and counters.\n\n"
		   "Options:\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

static void print_uptime(long long s)
{
	if (s >= 86400)
		printf("%lldd %02lldh %02lldm %02llds\n", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
	else if (s >= 3600)
		printf("%lldh %02lldm %02llds\n", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		printf("%lldm %02llds\n", s / 60, s % 60);
	else
		printf("%llds\n", s);
}

static void print_human(json_t *r)
{
	const char *v;
	json_t *j;
	printf("public key  %s\n", (v = json_string_value(json_object_get(r, "public_key"))) ? v : "?");
	printf("listening   %s\n", (v = json_string_value(json_object_get(r, "listen"))) ? v : "?");
	printf("version     %s\n", (v = json_string_value(json_object_get(r, "version"))) ? v : "?");
	printf("uptime      ");
	print_uptime((long long)json_integer_value(json_object_get(r, "uptime_s")));
	printf("peers       %lld active", (long long)json_integer_value(json_object_get(r, "peers_active")));
	if (json_is_integer(j = json_object_get(r, "peers_known")))
		printf(", %lld known\n", (long long)json_integer_value(j));
	else
		printf(" (no presence store: known peers cannot be counted)\n");
	json_t *store = json_object_get(r, "store");
	if (json_is_object(store))
		printf("store       %s, %lld writes pending\n",
		       json_is_true(json_object_get(store, "ok")) ? "ok" : "NOT OK (serving from memory)",
		       (long long)json_integer_value(json_object_get(store, "pending")));
	json_t *traffic = json_object_get(r, "traffic");
	if (json_is_object(traffic)) {
		char in[KONCE_CLI_BYTES_LEN], out[KONCE_CLI_BYTES_LEN];
		printf("traffic     in %s/s, out %s/s (over the last second)\n",
		       konce_cli_bytes(in, json_number_value(json_object_get(traffic, "rx_bytes_per_s")), false),
		       konce_cli_bytes(out, json_number_value(json_object_get(traffic, "tx_bytes_per_s")), false));
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(traffic, "busiest"), i, p) {
			const char *k = json_string_value(json_object_get(p, "public_key"));
			printf("  %.12s..  in %s/s, out %s/s\n", k ? k : "?",
			       konce_cli_bytes(in, json_number_value(json_object_get(p, "rx_bytes_per_s")), false),
			       konce_cli_bytes(out, json_number_value(json_object_get(p, "tx_bytes_per_s")), false));
		}
	}
	json_t *mem = json_object_get(r, "memory");
	if (json_is_object(mem)) {
		char u1[KONCE_CLI_BYTES_LEN], b1[KONCE_CLI_BYTES_LEN], u2[KONCE_CLI_BYTES_LEN], b2[KONCE_CLI_BYTES_LEN];
		json_t *ra = json_object_get(mem, "reassembly"), *sq = json_object_get(mem, "send_queues");
		printf("messages    reassembly %s of %s (%lld sessions), send queues %s of %s (%lld sessions)\n",
		       konce_cli_bytes(u1, (double)json_integer_value(json_object_get(ra, "used")), false),
		       konce_cli_bytes(b1, (double)json_integer_value(json_object_get(ra, "budget")), false),
		       (long long)json_integer_value(json_object_get(ra, "sessions")),
		       konce_cli_bytes(u2, (double)json_integer_value(json_object_get(sq, "used")), false),
		       konce_cli_bytes(b2, (double)json_integer_value(json_object_get(sq, "budget")), false),
		       (long long)json_integer_value(json_object_get(sq, "sessions")));
	}
	json_t *counters = json_object_get(r, "counters");
	if (json_is_object(counters) && json_object_size(counters)) {
		const char *k;
		size_t w = 0;
		json_object_foreach(counters, k, j) {
			size_t n = strlen(k);
			w = n > w ? n : w;
		}
		printf("counters\n");
		json_object_foreach(counters, k, j) {
			if (json_is_integer(j))
				printf("  %-*s  %lld\n", (int)w, k, (long long)json_integer_value(j));
			else if (json_is_number(j))
				printf("  %-*s  %g\n", (int)w, k, json_number_value(j));
			else {
				char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
				printf("  %-*s  %s\n", (int)w, k, s ? s : "?");
				free(s);
			}
		}
	}
}

int konce_cmd_status(int argc, char **argv)
{
	struct konce_ctl_opts o = {0};
	int status = konce_ctl_parse_opts(argc, argv, &o, usage);
	if (status >= 0)
		return status;
	if (optind != argc) {
		fprintf(stderr, "konce status: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	json_t *resp = konce_ctl_cli_request("status", &o, json_pack("{s:s}", "cmd", "status"), 10000, &status);
	if (!resp)
		return status;
	if (o.json) {
		status = konce_ctl_print_json("status", resp);
	} else {
		print_human(resp);
		status = fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	}
	json_decref(resp);
	return status;
}
