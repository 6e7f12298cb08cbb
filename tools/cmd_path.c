/* cmd_path.c - konce path PEER: the trace of the last traversal attempt to PEER. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce path [--json] [--control PATH] [--config FILE] PEER\n\n"
		   "Prints the last NAT traversal attempt of the running node toward PEER (a public key):\n"
		   "when the introduction came, the candidates the rendezvous gave, the probes\n"
		   "sent and answered, the result and its timings, and why it ended up relayed if it did.\n"
		   "Times are milliseconds from the moment the introduction was asked for (or, on the side\n"
		   "that was asked, from its arrival).\n\n"
		   "Options:\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

static void ms(const char *label, json_t *v)
{
	if (json_is_number(v))
		printf("  %-14s %.1f ms\n", label, json_number_value(v));
	else
		printf("  %-14s -\n", label);
}

static void print(json_t *r)
{
	json_t *pr = json_object_get(r, "probes"), *dg = json_object_get(r, "datagrams"), *c;
	size_t i;
	printf("peer           %s\nstate          %s\n", json_string_value(json_object_get(r, "peer")),
	       json_string_value(json_object_get(r, "state")));
	printf("role           %s, %s\n", json_is_true(json_object_get(r, "initiator")) ? "asked" : "was asked",
	       json_is_true(json_object_get(r, "controlling")) ? "controlling (lower key)" : "controlled");
	printf("peer NAT       %s\n", json_string_value(json_object_get(r, "peer_nat")));
	printf("timings\n");
	ms("introduced", json_object_get(r, "intro_ms"));
	ms("start delay", json_object_get(r, "delay_ms"));
	ms("first probe", json_object_get(r, "first_probe_ms"));
	ms("result", json_object_get(r, "result_ms"));
	printf("candidates\n");
	json_t *cands = json_object_get(r, "candidates");
	for (i = 0; i < json_array_size(cands); i++)
		c = json_array_get(cands, i), printf("  %-14s %s\n", json_string_value(json_object_get(c, "type")),
		       json_string_value(json_object_get(c, "address")));
	printf("probes         %lld sent, %lld answered, %lld received from the peer, %lld verified pairs, "
	       "%lld give-ups\n",
	       json_integer_value(json_object_get(pr, "sent")), json_integer_value(json_object_get(pr, "answered")),
	       json_integer_value(json_object_get(pr, "received")), json_integer_value(json_object_get(pr, "verified")),
	       json_integer_value(json_object_get(pr, "giveups")));
	json_t *path = json_object_get(r, "path"), *why = json_object_get(r, "why_relayed");
	printf("path           %s\n", json_is_string(path) ? json_string_value(path) : "none direct");
	printf("datagrams      %lld direct, %lld relayed out, %lld relayed in\n",
	       json_integer_value(json_object_get(dg, "direct_tx")), json_integer_value(json_object_get(dg, "relayed_tx")),
	       json_integer_value(json_object_get(dg, "relayed_rx")));
	json_t *hp = json_object_get(r, "hairpin");
	if (json_is_string(hp))
		printf("shared NAT     both behind one public address; its hairpin: %s\n",
		       !strcmp(json_string_value(hp), "yes")  ? "on (the path runs through it)"
		       : !strcmp(json_string_value(hp), "no") ? "off (no probe through it came back)"
							      : "not known yet");
	if (json_is_string(why))
		printf("why relayed    %s\n", json_string_value(why));
}

int konce_cmd_path(int argc, char **argv)
{
	struct konce_ctl_opts o = {0};
	int status = konce_ctl_parse_opts(argc, argv, &o, usage);
	if (status >= 0)
		return status;
	if (argc - optind != 1) {
		fprintf(stderr, "konce path: expected one PEER argument\n");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	const char *peer = argv[optind];
	if ((status = konce_args_check_peer("path", peer)))
		return status;
	o.peer = peer;
	json_t *resp = konce_ctl_cli_request("path", &o, json_pack("{s:s, s:s}", "cmd", "path", "peer", peer), 5000,
					     &status);
	if (!resp)
		return status;
	if (o.json)
		status = konce_ctl_print_json("path", resp);
	else {
		print(resp);
		status = fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	}
	json_decref(resp);
	return status;
}
