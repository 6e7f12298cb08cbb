/* cmd_alias.c - konce alias KEY NAME: a local petname for a peer. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "konce/konce.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce alias [--json] [--control PATH] [--config FILE] KEY NAME\n\n"
		   "Gives the peer with public key KEY the local petname NAME, which other commands then\n"
		   "accept in place of the key.  Petnames are yours alone: they are never sent to peers.\n"
		   "NAME is 1 to 64 characters of UTF-8 without spaces or '@', and not 43 characters long\n"
		   "(the length of a key).  An empty NAME (\"\") removes the petname.\n\n"
		   "Options:\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

int konce_cmd_alias(int argc, char **argv)
{
	struct konce_ctl_opts o = {0};
	int status = konce_ctl_parse_opts(argc, argv, &o, usage);
	if (status >= 0)
		return status;
	if (argc - optind != 2) {
		fprintf(stderr, "konce alias: expected KEY and NAME\n");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	const char *key = argv[optind], *name = argv[optind + 1];
	uint8_t pk[KONCE_KEY_BYTES];
	if (konce_key_from_text(pk, key)) {
		fprintf(stderr, "konce alias: bad key text '%s': not a public key (43 characters of base64url)\n", key);
		return KONCE_EXIT_USAGE;
	}
	if (*name && !konce_args_petname_ok(name)) {
		fprintf(stderr, "konce alias: '%s' cannot be a petname: use 1 to 64 characters of UTF-8 without spaces "
				"or '@', and not exactly 43 characters\n", name);
		return KONCE_EXIT_USAGE;
	}
	json_t *resp = konce_ctl_cli_request("alias", &o,
					     json_pack("{s:s, s:s, s:s}", "cmd", "alias", "peer", key, "name", name),
					     10000, &status);
	if (!resp)
		return status;
	if (o.json)
		status = konce_ctl_print_json("alias", resp);
	else {
		if (*name)
			printf("%s is now known here as %s\n", key, name);
		else
			printf("%s has no petname now\n", key);
		status = fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	}
	json_decref(resp);
	return status;
}
