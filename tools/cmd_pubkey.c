/* cmd_pubkey.c - konce pubkey: print the public key of a key file. */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "store/keyfile.h"
#include "tools/cli.h"
#include "tools/commands.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce pubkey [-f FILE] [--json]\n\n"
		   "Prints the public key of a key file made by 'konce keygen'.  The secret in the file is\n"
		   "not read, but the file must still be private (mode 0600).\n\n"
		   "Options:\n"
		   "  -f, --file FILE  the key file (default: $XDG_DATA_HOME/konce/identity.key;\n"
		   "                   XDG_DATA_HOME defaults to ~/.local/share)\n"
		   "      --json       print {\"public_key\": \"...\", \"file\": \"...\"}\n"
		   "  -h, --help       show this help\n");
}

int konce_cmd_pubkey(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *file_opt = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file_opt = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "konce pubkey: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	char path[PATH_MAX];
	if (konce_cli_key_file(path, sizeof(path), "pubkey", file_opt))
		return 1;
	uint8_t pub[KONCE_KEY_BYTES];
	char err[PATH_MAX * 2 + 256];
	if (konce_keyfile_load_public(path, pub, err, sizeof(err))) {
		fprintf(stderr, "konce pubkey: %s\n", err);
		return 1;
	}
	return konce_cli_print_key("pubkey", pub, path, json);
}
