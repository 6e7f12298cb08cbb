/* cmd_probe.c - `konce probe`: see what happens to packets on their way through NATs.
 * Dispatches to listen, send, stun and nat (tools/probe_*.c); docs/PROBE.md describes them. */
#include <stdio.h>
#include <string.h>

#include "tools/commands.h"
#include "tools/probe.h"

static const struct {
	const char *name;
	konce_cmd_fn fn;
	const char *summary;
} modes[] = {
	{"listen", probe_cmd_listen, "show every packet received; obey probe commands; answer STUN"},
	{"send", probe_cmd_send, "send probes and show how their source was rewritten"},
	{"stun", probe_cmd_stun, "ask a STUN server for the mapped address"},
	{"nat", probe_cmd_nat, "classify the NAT on the way to a listener or STUN server (RFC 5780)"},
	{NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce probe MODE [ARGS...]\n\nModes:\n");
	for (size_t i = 0; modes[i].name; i++)
		fprintf(f, "  %-7s %s\n", modes[i].name, modes[i].summary);
	fprintf(f, "\nRun 'konce probe MODE --help' for a mode's options.  Exit status: 0 success, 1 failure,\n"
		   "2 bad usage.  Raw transports (--icmp, --tcp) need root or CAP_NET_RAW.\n");
}

int konce_cmd_probe(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; modes[i].name; i++)
		if (!strcmp(argv[1], modes[i].name))
			return modes[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "konce probe: unknown mode '%s' (try 'konce probe --help')\n", argv[1]);
	return 2;
}
