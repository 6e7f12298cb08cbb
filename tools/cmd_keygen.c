/* cmd_keygen.c - konce keygen: create the node's secret identity key. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "node/base/env.h"
#include "node/transport/identity.h"
#include "node/io/keyfile.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/paths.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce keygen [-f FILE] [--force] [--json]\n\n"
		   "Creates a new secret identity key, saves it to FILE with mode 0600 and prints its\n"
		   "public key.  An existing key file is never replaced without --force.\n\n"
		   "Options:\n"
		   "  -f, --file FILE  the key file (default: $XDG_DATA_HOME/konce/identity.key;\n"
		   "                   XDG_DATA_HOME defaults to ~/.local/share)\n"
		   "      --force      replace an existing key file; its old key is lost for good\n"
		   "      --json       print {\"public_key\": \"...\", \"file\": \"...\"}\n"
		   "  -h, --help       show this help\n");
}

int konce_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'}, {"force", no_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *file_opt = NULL;
	bool force = false, json = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file_opt = optarg; break;
		case 'F': force = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "konce keygen: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	char path[PATH_MAX];
	if (konce_cli_key_file(path, sizeof(path), "keygen", file_opt))
		return 1;
	int r = konce_paths_mkdirs_for(path, 0700);
	if (r) {
		fprintf(stderr, "konce keygen: cannot create the directory for %s: %s\n", path, strerror(-r));
		return 1;
	}
	konce_identity *id;
	if ((r = konce_identity_generate(&id, konce_env_default()))) {
		fprintf(stderr, "konce keygen: cannot allocate secure memory for the key: %s\n", strerror(-r));
		return 1;
	}
	r = konce_keyfile_save(path, id, force);
	uint8_t pub[KONCE_KEY_BYTES];
	memcpy(pub, konce_identity_public(id), sizeof(pub));
	konce_identity_free(id);
	if (r == -EEXIST) {
		fprintf(stderr, "konce keygen: %s already exists; refusing to replace a key (use --force to replace it)\n",
			path);
		return 1;
	}
	if (r) {
		fprintf(stderr, "konce keygen: cannot save %s: %s\n", path, strerror(-r));
		return 1;
	}
	if (!json)
		fprintf(stderr, "konce keygen: saved a new secret key to %s\n", path);
	return konce_cli_print_key("keygen", pub, path, json);
}
