/* konce.c - the konce command: one binary, subcommands dispatched from a table. */
#include <stdio.h>
#include <string.h>

#include "konce/konce.h"
#include "tools/commands.h"

static const struct {
	const char *name;
	konce_cmd_fn fn;
	const char *summary;
} commands[] = {
	/* subcommands are added here, one line each */
	{"keygen", konce_cmd_keygen, "create a secret identity key and print its public key"},
	{"pubkey", konce_cmd_pubkey, "print the public key of a key file"},
	{NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce COMMAND [ARGS...]\n\n"
		   "konce is a peer-to-peer node: encrypted messages between public keys over UDP.\n\n"
		   "Commands:\n");
	for (size_t i = 0; commands[i].name; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "show this help");
	fprintf(f, "  %-10s %s\n", "version", "print the version");
	fprintf(f, "\nRun 'konce COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("konce %s\n", KONCE_VERSION_STRING);
		return 0;
	}
	for (size_t i = 0; commands[i].name; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "konce: unknown command '%s' (try 'konce help')\n", cmd);
	return 2;
}
