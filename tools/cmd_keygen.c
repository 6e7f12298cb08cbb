/* cmd_keygen.c - konce keygen: create the node's secret identity key. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "node/base/env.h"
#include "node/transport/identity.h"
#include "store/keyfile.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/paths.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce keygen [-f FILE] [--force] [--json]\n"
		   "       konce keygen --group\n\n"
		   "Creates a new secret identity key, saves it to FILE with mode 0600 and prints its\n"
		   "public key.  An existing key file is never replaced without --force.\n\n"
		   "Options:\n"
		   "  -f, --file FILE  the key file (default: $XDG_DATA_HOME/konce/identity.key;\n"
		   "                   XDG_DATA_HOME defaults to ~/.local/share)\n"
		   "      --force      replace an existing key file; its old key is lost for good\n"
		   "      --json       print {\"public_key\": \"...\", \"file\": \"...\"}\n"
		   "      --group      print a fresh group key for a limited-circulation server\n"
		   "                   (konce node --group-key KEY) and its clients (PEER+KEY); no\n"
		   "                   file is written: keep it as secret as the group is\n"
		   "  -h, --help       show this help\n");
}

int konce_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'}, {"force", no_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
		{"group", no_argument, NULL, 'g'},      {NULL, 0, NULL, 0},
	};
	const char *file_opt = NULL;
	bool force = false, json = false, group = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file_opt = optarg; break;
		case 'F': force = true; break;
		case 'j': json = true; break;
		case 'g': group = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "konce keygen: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (group) {
		/* 32 random bytes in the text of a key (the public key of a fresh secret, so that it is
		 * canonical key text); the group key is a shared secret, not a key pair */
		if (file_opt || force || json) {
			fprintf(stderr, "konce keygen: --group writes no file and takes no other option\n");
			return 2;
		}
		konce_identity *g;
		char text[KONCE_KEY_TEXT_LEN + 1];
		if ((c = konce_identity_generate(&g, konce_env_default()))) {
			fprintf(stderr, "konce keygen: cannot allocate secure memory for the key: %s\n", strerror(-c));
			return 1;
		}
		konce_key_to_text(text, konce_identity_public(g));
		konce_identity_free(g);
		printf("%s\n", text);
		return fflush(stdout) ? 1 : 0;
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
