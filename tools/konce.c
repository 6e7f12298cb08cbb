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
	{"node", konce_cmd_node, "run a node in the foreground"},
	{"status", konce_cmd_status, "show the running node's identity, address, uptime and counters"},
	{"peers", konce_cmd_peers, "list the peers the running node knows"},
	{"connect", konce_cmd_connect, "connect to a peer: KEY@HOST:PORT, or KEY via rendezvous"},
	{"path", konce_cmd_path, "the last NAT traversal attempt toward a peer"},
	{"netcheck", konce_cmd_netcheck, "NAT behaviour, reflexive addresses, rendezvous latency"},
	{"send", konce_cmd_send, "send a message to a peer"},
	{"ping", konce_cmd_ping, "measure the round-trip time to a peer"},
	{"alias", konce_cmd_alias, "give a peer a local petname"},
	{"portmap", konce_cmd_portmap, "map a UDP port on the gateway (NAT-PMP, UPnP-IGD) and delete it"},
	{"group", konce_cmd_group, "consensus groups: create, invite, join, propose, log, members, leave"},
	{"probe", konce_cmd_probe, "see what happens to packets on their way through NATs"},
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
		if (!strcmp(cmd, commands[i].name)) {
			/* getopt names argv[0] in its messages: "konce ping: invalid option", not "ping: ..." */
			char name[32];
			snprintf(name, sizeof(name), "konce %s", cmd);
			argv[1] = name;
			return commands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "konce: unknown command '%s' (try 'konce help')\n", cmd);
	return 2;
}
