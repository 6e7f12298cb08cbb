/* cmd_peers.c - konce peers: the peers the running node knows, as a table or JSON; --watch redraws it. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "konce/konce.h"
#include "tools/args.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce peers [--limit N] [--full] [--watch[=SECONDS] [--count N]] [--json]\n"
		   "                   [--control PATH] [--config FILE]\n\n"
		   "Lists the peers the running node knows: public key, petname, address, path, state,\n"
		   "the key this node shows it (SHOWN: master, or per-server: a key derived for that peer\n"
		   "alone; docs/KEYS.md), round-trip time, when it was last heard from, and the traffic of each session over the\n"
		   "last second.  Peers with a session come first.\n\n"
		   "Options:\n"
		   "  -n, --limit N       at most N peers\n"
		   "      --full          print whole public keys instead of their first 12 characters\n"
		   "  -w, --watch[=SECONDS]  redraw the list every SECONDS (default 1) until interrupted,\n"
		   "                      like top; with --json, one JSON object per line each time\n"
		   "      --count N       with --watch: stop after N lists\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

enum { COLS = 10, CELL = 96 };

/* Display width of UTF-8 text: one column per code point (good enough for petnames). */
static int width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void ago(char *out, size_t len, long long t, long long now)
{
	long long d = now - t;
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(out, len, "%llds ago", d);
	else if (d < 7200)
		snprintf(out, len, "%lldm ago", d / 60);
	else if (d < 172800)
		snprintf(out, len, "%lldh ago", d / 3600);
	else
		snprintf(out, len, "%lldd ago", d / 86400);
}

static void cell_str(char *out, json_t *v)
{
	const char *s = json_string_value(v);
	snprintf(out, CELL, "%s", s && *s ? s : "-");
}

/* A session's rate, "-" for a peer without one. */
static void rate_cell(char *out, json_t *v)
{
	char b[KONCE_CLI_BYTES_LEN];
	snprintf(out, CELL, "%s", json_is_number(v) ? konce_cli_bytes(b, json_number_value(v), false) : "-");
}

static int print_table(json_t *peers, bool full)
{
	static const char *const head[COLS] = {"KEY", "PETNAME", "ADDRESS", "PATH", "STATE", "SHOWN", "RTT", "IN/S",
					       "OUT/S", "LAST SEEN"};
	size_t n = json_array_size(peers);
	char(*cells)[COLS][CELL] = calloc(n + 1, sizeof(*cells));
	int w[COLS] = {0};
	long long now = (long long)time(NULL);

	if (!cells) {
		fprintf(stderr, "konce peers: out of memory\n");
		return KONCE_EXIT_FAIL;
	}
	for (int c = 0; c < COLS; c++)
		snprintf(cells[0][c], CELL, "%s", head[c]);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(peers, i), *v;
		char(*row)[CELL] = cells[i + 1];
		const char *key = json_string_value(json_object_get(p, "public_key"));
		if (key && !full && strlen(key) > 12)
			snprintf(row[0], CELL, "%.12s..", key);
		else
			cell_str(row[0], json_object_get(p, "public_key"));
		cell_str(row[1], json_object_get(p, "petname"));
		cell_str(row[2], json_object_get(p, "address"));
		cell_str(row[3], json_object_get(p, "path"));
		cell_str(row[4], json_object_get(p, "state"));
		cell_str(row[5], json_object_get(p, "identity")); /* the key we show it */
		if (json_is_number(v = json_object_get(p, "rtt_ms")))
			snprintf(row[6], CELL, "%.1f ms", json_number_value(v));
		else
			snprintf(row[6], CELL, "-");
		rate_cell(row[7], json_object_get(p, "rx_bytes_per_s"));
		rate_cell(row[8], json_object_get(p, "tx_bytes_per_s"));
		if (json_is_integer(v = json_object_get(p, "last_seen")))
			ago(row[9], CELL, (long long)json_integer_value(v), now);
		else
			snprintf(row[9], CELL, "never");
	}
	for (size_t i = 0; i <= n; i++)
		for (int c = 0; c < COLS; c++)
			if (width(cells[i][c]) > w[c])
				w[c] = width(cells[i][c]);
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < COLS; c++) {
			fputs(cells[i][c], stdout);
			if (c < COLS - 1)
				printf("%*s", w[c] - width(cells[i][c]) + 2, "");
		}
		putchar('\n');
	}
	free(cells);
	if (!n)
		printf("(no peers yet: konce connect KEY@HOST:PORT)\n");
	return fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
}

static volatile sig_atomic_t stopping;

static void stop_watching(int sig)
{
	(void)sig;
	stopping = 1;
}

/* One request and its list.  watching: JSON goes out as one line per list. */
static int list_once(const struct konce_ctl_opts *o, long limit, bool full, bool watching)
{
	int status;
	json_t *req = json_pack("{s:s}", "cmd", "peers");
	if (req && limit > 0)
		json_object_set_new(req, "limit", json_integer(limit));
	json_t *resp = konce_ctl_cli_request("peers", o, req, 10000, &status);
	if (!resp)
		return status;
	json_t *peers = json_object_get(resp, "peers");
	if (o->json && watching) {
		status = json_dumpf(resp, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) || putchar('\n') == EOF ||
				 fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	} else if (o->json)
		status = konce_ctl_print_json("peers", resp);
	else if (!json_is_array(peers)) {
		fprintf(stderr, "konce peers: the node's answer has no peer list\n");
		status = KONCE_EXIT_FAIL;
	} else
		status = print_table(peers, full);
	json_decref(resp);
	return status;
}

int konce_cmd_peers(int argc, char **argv)
{
	static const struct option opts[] = {
		{"limit", required_argument, NULL, 'n'},   {"full", no_argument, NULL, 'f'},
		{"watch", optional_argument, NULL, 'w'},   {"count", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},          {"control", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct konce_ctl_opts o = {0};
	long limit = -1, count = 0;
	bool full = false;
	unsigned watch_ms = 0;
	int c, status = KONCE_EXIT_OK;
	char *end;
	while ((c = getopt_long(argc, argv, "n:w::s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			watch_ms = 1000;
			if (optarg && konce_args_seconds(optarg, 0.1, 3600, &watch_ms)) {
				fprintf(stderr, "konce peers: --watch: '%s' is not a number of seconds from 0.1 to 3600\n",
					optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'C':
			count = strtol(optarg, &end, 10);
			if (*end || end == optarg || count < 1 || count > 1000000) {
				fprintf(stderr, "konce peers: --count: '%s' is not a number from 1 to 1000000\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'n':
			limit = strtol(optarg, &end, 10);
			if (*end || end == optarg || limit < 1 || limit > 1000000) {
				fprintf(stderr, "konce peers: --limit: '%s' is not a number from 1 to 1000000\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'f': full = true; break;
		case 'j': o.json = true; break;
		case 's': o.control = optarg; break;
		case 'c': o.config = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KONCE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "konce peers: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	if (count && !watch_ms) {
		fprintf(stderr, "konce peers: --count goes with --watch\n");
		return KONCE_EXIT_USAGE;
	}
	if (!watch_ms)
		return list_once(&o, limit, full, false);
	/* --watch: one connection per list, so a node restart shows as an error, then the lists go on */
	signal(SIGINT, stop_watching);
	signal(SIGTERM, stop_watching);
	bool screen = !o.json && isatty(STDOUT_FILENO) == 1;
	for (long i = 0; !stopping && (!count || i < count); i++) {
		if (i) {
			struct timespec ts = {watch_ms / 1000, (long)(watch_ms % 1000) * 1000000};
			if (nanosleep(&ts, NULL) && stopping)
				break;
		}
		if (screen) {
			char when[32];
			time_t t = time(NULL);
			strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
			printf("\033[H\033[2Jkonce peers, every %.1f s, at %s (Ctrl-C stops)\n\n", watch_ms / 1000.0, when);
		}
		status = list_once(&o, limit, full, true);
		if (status == KONCE_EXIT_USAGE)
			return status;
	}
	return stopping ? KONCE_EXIT_OK : status;
}
