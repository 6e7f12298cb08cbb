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
	fprintf(f, "Usage: konce connect [--json] [--control PATH] [--config FILE] PEER[@HOST:PORT]\n\n"
		   "Has the running node open a session to PEER (a public key, or a petname given with\n"
		   "konce alias) at HOST:PORT, and prints the round-trip time of the handshake.  HOST may be\n"
		   "a name; it is resolved here and the node is given the numeric address.  Write IPv6\n"
		   "addresses in brackets: KEY@[2001:db8::1]:7807.  PEER alone: the node uses the address\n"
		   "it last saw PEER at, or, if it registers with rendezvous nodes (rendezvous_peers),\n"
		   "asks its rendezvous to introduce it (docs/TRAVERSAL.md).\n\n"
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
		fprintf(stderr, "konce connect: expected one PEER[@HOST:PORT] argument\n");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	const char *arg = argv[optind], *at = strchr(arg, '@');
	/* PEER alone: the node finds the address (its store, or an introduction by its rendezvous) */
	char *peer = at ? strndup(arg, (size_t)(at - arg)) : strdup(arg), addr[128] = "", err[512];
	if (!peer)
		return KONCE_EXIT_FAIL;
	if ((status = konce_args_check_peer("connect", peer)))
		goto out;
	int r = at ? konce_args_resolve(at + 1, addr, sizeof(addr), err, sizeof(err)) : 0;
	if (r) {
		fprintf(stderr, "konce connect: %s\n", err);
		status = r == -EINVAL ? KONCE_EXIT_USAGE : KONCE_EXIT_FAIL;
		goto out;
	}
	o.peer = peer;
	json_t *req = json_pack("{s:s, s:s}", "cmd", "connect", "peer", peer);
	if (req && *addr)
		json_object_set_new(req, "addr", json_string(addr));
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
	free(peer);
	return status;
}
