/* cmd_send.c - konce send PEER TEXT | --file F: one message, and its outcome. */
#include <errno.h>
#include <sys/stat.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "konce/konce.h"
#include "tools/args.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce send [options] PEER[+GROUP] TEXT\n"
		   "       konce send [options] --file FILE PEER\n\n"
		   "Sends one text message to PEER (a public key or a petname) through the running node, and\n"
		   "reports the outcome: replied (the peer's node has the whole message), or an error.  The\n"
		   "text is UTF-8, at most 60 KiB; a file, at most %d bytes.\n\n"
		   "Options:\n"
		   "  -f, --file FILE       send the contents of FILE, up to 16 MiB of any bytes ('-': text from\n"
		   "                        standard input, up to 60 KiB)\n"
		   "  -a, --addr HOST:PORT  where to reach PEER if the node has no session and no stored address\n"
		   "  -W, --timeout SECONDS give up after SECONDS (default: the node's, 6 s to connect)\n"
		   "  -b, --background      send in the background congestion class, which yields to other\n"
		   "                        traffic (LEDBAT); the default for files of at least the node's\n"
		   "                        file_background size\n"
		   "      --foreground      send in the default class even if the node's file_background\n"
		   "                        size says background\n"
		   "      --progress        report progress every 0.5 s: a line on standard error (the\n"
		   "                        default when it is a terminal), or with --json one JSON object\n"
		   "                        per line before the answer\n"
		   "      --no-progress     no progress line, even on a terminal\n"
		   "      --json            print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH    the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE     read the control socket location from FILE\n"
		   "  -h, --help            show this help\n",
		KONCE_MESSAGE_MAX);
}

enum { PROGRESS_MS = 500 };

struct progress {
	bool json, tty, shown;
};

static void on_progress(void *ctx, json_t *p)
{
	struct progress *pg = ctx;
	if (pg->json) {
		json_t *o = json_pack("{s:O}", "progress", p);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (s) {
			printf("%s\n", s);
			fflush(stdout);
			free(s);
		}
		return;
	}
	double acked = (double)json_integer_value(json_object_get(p, "acked_bytes"));
	double total = (double)json_integer_value(json_object_get(p, "total_bytes"));
	double rate = json_number_value(json_object_get(p, "rate_bytes_per_s"));
	json_t *eta = json_object_get(p, "eta_ms");
	char a[KONCE_CLI_BYTES_LEN], t[KONCE_CLI_BYTES_LEN], r[KONCE_CLI_BYTES_LEN], e[32] = "-";
	konce_cli_bytes(a, acked, true);
	konce_cli_bytes(t, total, true);
	konce_cli_bytes(r, rate, false);
	if (json_is_integer(eta))
		snprintf(e, sizeof(e), "%.1f s", (double)json_integer_value(eta) / 1000.0);
	fprintf(stderr, "%s%s of %s (%.0f%%)  %s/s  ETA %s%s", pg->tty ? "\r\033[K" : "", a, t,
		total > 0 ? 100.0 * acked / total : 100.0, r, e, pg->tty ? "" : "\n");
	fflush(stderr);
	pg->shown = true;
}

/* Text from standard input: it travels inside one control-protocol line, so at most TEXT_MAX bytes. */
enum { TEXT_MAX = 60 * 1024 };

static char *read_stdin_text(size_t *len)
{
	char *buf = malloc(TEXT_MAX + 1);
	size_t n = buf ? fread(buf, 1, TEXT_MAX + 1, stdin) : 0;
	bool bad = !buf || ferror(stdin);
	if (bad) {
		fprintf(stderr, "konce send: standard input: %s\n", buf ? "read error" : "out of memory");
	} else if (n > TEXT_MAX) {
		fprintf(stderr, "konce send: standard input is longer than %d bytes; save it to a file and use "
			"--file FILE\n", TEXT_MAX);
		bad = true;
	} else if (memchr(buf, '\0', n)) {
		fprintf(stderr, "konce send: standard input contains NUL bytes; use --file FILE for binary data\n");
		bad = true;
	}
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

int konce_cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},    {"addr", required_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 'W'}, {"json", no_argument, NULL, 'j'},
		{"background", no_argument, NULL, 'b'},    {"foreground", no_argument, NULL, 'F'},
		{"progress", no_argument, NULL, 'P'},      {"no-progress", no_argument, NULL, 'N'},
		{"control", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct konce_ctl_opts o = {0};
	const char *file = NULL, *addr_arg = NULL;
	unsigned timeout_ms = 0;
	int c, status, klass = -1, progress = -1; /* -1: the default */
	konce_args_hide_keys(argc, argv);
	while ((c = getopt_long(argc, argv, "f:a:W:bs:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': klass = 1; break;
		case 'F': klass = 0; break;
		case 'P': progress = 1; break;
		case 'N': progress = 0; break;
		case 'f': file = optarg; break;
		case 'a': addr_arg = optarg; break;
		case 'W':
			if (konce_args_seconds(optarg, 0.001, 3600, &timeout_ms)) {
				fprintf(stderr, "konce send: --timeout: '%s' is not a number of seconds up to 3600\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'j': o.json = true; break;
		case 's': o.control = optarg; break;
		case 'c': o.config = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KONCE_EXIT_USAGE;
		}
	}
	konce_args_unhide_keys(argc, argv);
	if (argc - optind != (file ? 1 : 2)) {
		fprintf(stderr, "konce send: expected %s\n", file ? "PEER (and no TEXT with --file)" : "PEER and TEXT");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	/* PEER[+GROUP]: a limited-circulation server's group key rides along (konce connect) */
	char peer[KONCE_ARGS_PEER_MAX], group[KONCE_KEY_TEXT_LEN + 1];
	char addr[128];
	if ((status = konce_args_peer_addr("send", argv[optind], peer, group, addr_arg, addr, sizeof(addr))))
		return status;
	json_t *req;
	if (file && strcmp(file, "-")) {
		/* a file of any content up to a message's size: the node reads it itself (it runs as the same
		 * user: the control socket is owner-only), so the bytes need not fit in one control line */
		char *abs = realpath(file, NULL);
		struct stat sb;
		if (!abs || stat(abs, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			fprintf(stderr, "konce send: %s: %s\n", file, !abs || errno ? strerror(errno) : "not a regular file");
			free(abs);
			return KONCE_EXIT_FAIL;
		}
		if (sb.st_size > KONCE_MESSAGE_MAX) {
			fprintf(stderr, "konce send: %s: %lld bytes; a message holds at most %d\n", file,
				(long long)sb.st_size, KONCE_MESSAGE_MAX);
			free(abs);
			return KONCE_EXIT_USAGE;
		}
		req = json_pack("{s:s, s:s, s:s}", "cmd", "send", "peer", peer, "file", abs);
		free(abs);
	} else {
		char *text;
		size_t len;
		if (file) {
			if (!(text = read_stdin_text(&len)))
				return KONCE_EXIT_FAIL;
		} else {
			len = strlen(argv[optind + 1]);
			if (len > TEXT_MAX) {
				fprintf(stderr, "konce send: the text is %zu bytes; give longer text with --file FILE\n", len);
				return KONCE_EXIT_USAGE;
			}
			if (!(text = strdup(argv[optind + 1])))
				return KONCE_EXIT_FAIL;
		}
		json_t *s = json_stringn(text, len);
		free(text);
		if (!s) {
			fprintf(stderr, "konce send: the text is not valid UTF-8\n");
			return KONCE_EXIT_USAGE;
		}
		req = json_pack("{s:s, s:s, s:o}", "cmd", "send", "peer", peer, "text", s);
	}
	if (req && addr_arg)
		json_object_set_new(req, "addr", json_string(addr));
	if (req && *group)
		json_object_set_new(req, "group", json_string(group));
	if (req && timeout_ms)
		json_object_set_new(req, "timeout_ms", json_integer(timeout_ms));
	if (req && klass >= 0)
		json_object_set_new(req, "background", json_boolean(klass));
	struct progress pg = {.json = o.json, .tty = isatty(STDERR_FILENO) == 1};
	if (progress < 0)
		progress = !o.json && pg.tty;
	if (req && progress) {
		json_object_set_new(req, "progress_ms", json_integer(PROGRESS_MS));
		o.on_progress = on_progress;
		o.progress_ctx = &pg;
	}
	o.peer = peer;
	json_t *resp = konce_ctl_cli_request("send", &o, req, (timeout_ms ? (int)timeout_ms : 20000) + 10000,
					     &status);
	if (pg.shown && pg.tty) {
		fputs("\r\033[K", stderr); /* the answer replaces the progress line */
		fflush(stderr);
	}
	if (!resp)
		return status;
	const char *outcome = json_string_value(json_object_get(resp, "outcome"));
	json_t *rtt = json_object_get(resp, "rtt_ms");
	const char *reply = json_string_value(json_object_get(resp, "reply"));
	if (o.json) {
		status = konce_ctl_print_json("send", resp);
	} else {
		printf("%s", outcome ? outcome : "sent");
		if (json_is_number(rtt))
			printf(" in %.2f ms", json_number_value(rtt));
		putchar('\n');
		if (reply)
			printf("reply: %s\n", reply);
		status = fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	}
	if (status == KONCE_EXIT_OK && (!outcome || !strcmp(outcome, "unknown"))) {
		fprintf(stderr, "konce send: sent, but whether it arrived cannot be known\n");
		status = KONCE_EXIT_FAIL;
	}
	json_decref(resp);
	return status;
}
