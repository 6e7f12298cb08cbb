/* cmd_connect.c - konce connect KEY@HOST:PORT: handshake with a peer at an address. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/args.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce connect [--json] [--control PATH] [--config FILE] PEER[+GROUP][@HOST:PORT]\n\n"
		   "Has the running node open a session to PEER (a public key, or a petname given with\n"
		   "konce alias) at HOST:PORT, and prints the round-trip time of the handshake.  HOST may be\n"
		   "a name; it is resolved here and the node is given the numeric address.  Write IPv6\n"
		   "addresses in brackets: KEY@[2001:db8::1]:7807.  PEER alone: the node uses the address\n"
		   "it last saw PEER at, or, if it registers with rendezvous nodes (rendezvous_peers),\n"
		   "asks its rendezvous to introduce it (docs/TRAVERSAL.md).  +GROUP: PEER is a\n"
		   "limited-circulation server that answers only holders of the group key GROUP (its key\n"
		   "text); the node keeps it for every later dial of PEER.\n\n"
		   "Options:\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

int konce_cmd_connect(int argc, char **argv)
{
	struct konce_ctl_opts o = {0};
	int status = konce_ctl_parse_opts(argc, argv, &o, usage);
	if (status >= 0)
		return status;
	if (argc - optind != 1) {
		fprintf(stderr, "konce connect: expected one PEER[+GROUP][@HOST:PORT] argument\n");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	/* PEER alone: the node finds the address (its store, or an introduction by its rendezvous) */
	const char *at;
	char peer[KONCE_ARGS_PEER_MAX], group[KONCE_KEY_TEXT_LEN + 1], addr[128] = "", err[512];
	if (konce_args_split_peer(argv[optind], peer, group, &at)) {
		fprintf(stderr, "konce connect: bad key text: PEER is longer than a key or a petname\n");
		return KONCE_EXIT_USAGE;
	}
	if ((status = konce_args_check_peer("connect", peer)))
		goto out;
	int r = at ? konce_args_resolve(at, addr, sizeof(addr), err, sizeof(err)) : 0;
	if (r) {
		fprintf(stderr, "konce connect: %s\n", err);
		status = r == -EINVAL ? KONCE_EXIT_USAGE : KONCE_EXIT_FAIL;
		goto out;
	}
	o.peer = peer;
	json_t *req = json_pack("{s:s, s:s}", "cmd", "connect", "peer", peer);
	if (req && *addr)
		json_object_set_new(req, "addr", json_string(addr));
	if (req && *group)
		json_object_set_new(req, "group", json_string(group));
	json_t *resp = konce_ctl_cli_request("connect", &o, req, 30000, &status);
	if (!resp)
		goto out;
	if (o.json) {
		status = konce_ctl_print_json("connect", resp);
	} else {
		const char *k = json_string_value(json_object_get(resp, "public_key"));
		const char *a = json_string_value(json_object_get(resp, "address"));
		json_t *rtt = json_object_get(resp, "rtt_ms");
		printf("connected to %s at %s", k ? k : peer, a ? a : addr);
		if (json_is_number(rtt))
			printf(", handshake %.2f ms", json_number_value(rtt));
		putchar('\n');
		status = fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	}
	json_decref(resp);
out:
	return status;
}
