/* cmd_ping.c - konce ping PEER: round-trip times through the peer's built-in echo handler. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "konce/konce.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce ping [options] PEER[+GROUP]\n\n"
		   "Sends echo requests to PEER (a public key or a petname) through the running node and\n"
		   "prints each round-trip time, then a summary.  Runs until COUNT replies or losses, or\n"
		   "until interrupted (Ctrl-C).  Exits 0 if any reply arrived.\n\n"
		   "Options:\n"
		   "  -c, --count N         stop after N requests\n"
		   "  -i, --interval SECS   wait SECS between requests (default 1; at least 0.01)\n"
		   "  -s, --size BYTES      echo payload size, 0 to %d (default: the node's)\n"
		   "  -a, --addr HOST:PORT  where to reach PEER if the node has no session and no stored address\n"
		   "  -W, --timeout SECS    how long to wait for each reply (default: the node's)\n"
		   "      --json            print one JSON object with every reply and the summary\n"
		   "      --control PATH    the node's control socket (default: as konce node)\n"
		   "      --config FILE     read the control socket location from FILE\n"
		   "  -h, --help            show this help\n",
		KONCE_MESSAGE_MAX);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Losses ping counts and carries on from; any other error ends the run. */
static bool is_loss(const char *eno)
{
	static const char *const loss[] = {"ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAGAIN", "ENOBUFS"};
	for (size_t i = 0; eno && i < sizeof(loss) / sizeof(loss[0]); i++)
		if (!strcmp(eno, loss[i]))
			return true;
	return false;
}

struct stats {
	long sent, received;
	double min, max, sum;
};

int konce_cmd_ping(int argc, char **argv)
{
	enum { O_CONTROL = 256, O_CONFIG, O_JSON };
	static const struct option opts[] = {
		{"count", required_argument, NULL, 'c'},      {"interval", required_argument, NULL, 'i'},
		{"size", required_argument, NULL, 's'},       {"addr", required_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 'W'},    {"json", no_argument, NULL, O_JSON},
		{"control", required_argument, NULL, O_CONTROL}, {"config", required_argument, NULL, O_CONFIG},
		{"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
	};
	struct konce_ctl_opts o = {0};
	long count = -1, size = -1;
	unsigned interval_ms = 1000, timeout_ms = 0;
	const char *addr_arg = NULL;
	char *end, addr[128], err[512];
	int c, status;

	konce_args_hide_keys(argc, argv);
	while ((c = getopt_long(argc, argv, "c:i:s:a:W:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || end == optarg || count < 1 || count > 1000000) {
				fprintf(stderr, "konce ping: -c: '%s' is not a count from 1 to 1000000\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'i':
			if (konce_args_seconds(optarg, 0.01, 3600, &interval_ms)) {
				fprintf(stderr, "konce ping: -i: '%s' is not a number of seconds from 0.01 to 3600\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 's':
			size = strtol(optarg, &end, 10);
			if (*end || end == optarg || size < 0 || size > KONCE_ECHO_MAX) {
				fprintf(stderr, "konce ping: -s: '%s' is not a size from 0 to %d\n", optarg, KONCE_ECHO_MAX);
				return KONCE_EXIT_USAGE;
			}
			break;
		case 'a': addr_arg = optarg; break;
		case 'W':
			if (konce_args_seconds(optarg, 0.001, 3600, &timeout_ms)) {
				fprintf(stderr, "konce ping: -W: '%s' is not a number of seconds up to 3600\n", optarg);
				return KONCE_EXIT_USAGE;
			}
			break;
		case O_JSON: o.json = true; break;
		case O_CONTROL: o.control = optarg; break;
		case O_CONFIG: o.config = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KONCE_EXIT_USAGE;
		}
	}
	konce_args_unhide_keys(argc, argv);
	if (argc - optind != 1) {
		fprintf(stderr, "konce ping: expected one PEER argument\n");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	/* PEER[+GROUP]: a limited-circulation server's group key rides along (konce connect) */
	char peer[KONCE_ARGS_PEER_MAX], group[KONCE_KEY_TEXT_LEN + 1];
	if ((status = konce_args_peer_addr("ping", argv[optind], peer, group, addr_arg, addr, sizeof(addr))))
		return status;

	struct konce_ctl ctl;
	if ((status = konce_ctl_cli_open(&ctl, "ping", &o)))
		return status;
	struct sigaction sa = {.sa_handler = on_sigint}; /* no SA_RESTART: a blocked poll must return */
	sigaction(SIGINT, &sa, NULL);
	ctl.stop = &interrupted;

	json_t *req = json_pack("{s:s, s:s}", "cmd", "ping", "peer", peer);
	if (req && *group)
		json_object_set_new(req, "group", json_string(group));
	json_t *replies = json_array();
	if (!req || !replies) {
		fprintf(stderr, "konce ping: out of memory\n");
		status = KONCE_EXIT_FAIL;
		goto out;
	}
	if (addr_arg)
		json_object_set_new(req, "addr", json_string(addr));
	if (size >= 0)
		json_object_set_new(req, "size", json_integer(size));
	if (timeout_ms)
		json_object_set_new(req, "timeout_ms", json_integer(timeout_ms));

	struct stats st = {.min = 1e300};
	bool fatal = false;
	double next = now_ms();
	for (long seq = 1; !interrupted && (count < 0 || seq <= count); seq++) {
		for (double left; !interrupted && (left = next - now_ms()) > 0;)
			poll(NULL, 0, (int)left + 1);
		if (interrupted)
			break;
		next = now_ms() + interval_ms;
		st.sent++;
		json_t *resp = konce_ctl_call(&ctl, req, (timeout_ms ? (int)timeout_ms : 20000) + 10000, err,
					      sizeof(err));
		if (!resp) {
			/* interrupted while waiting: sent and unanswered, as ping(8) counts it */
			if (!interrupted) {
				fprintf(stderr, "konce ping: %s\n", err);
				fatal = true;
				st.sent--; /* the node failed, not the peer: not counted */
			}
			break;
		}
		json_t *rtt = json_object_get(resp, "rtt_ms");
		if (json_is_true(json_object_get(resp, "ok")) && json_is_number(rtt)) {
			double ms = json_number_value(rtt);
			long long bytes = (long long)json_integer_value(json_object_get(resp, "bytes"));
			st.received++;
			st.sum += ms;
			st.min = ms < st.min ? ms : st.min;
			st.max = ms > st.max ? ms : st.max;
			if (o.json)
				json_array_append_new(replies, json_pack("{s:I, s:f, s:I}", "seq", (json_int_t)seq, "rtt_ms",
									 ms, "bytes", (json_int_t)bytes));
			else
				printf("%lld bytes from %s: seq=%ld time=%.3f ms\n", bytes, peer, seq, ms);
		} else {
			const char *msg = json_string_value(json_object_get(resp, "error"));
			const char *eno = json_string_value(json_object_get(resp, "errno"));
			if (o.json)
				json_array_append_new(replies, json_pack("{s:I, s:s, s:s?}", "seq", (json_int_t)seq, "error",
									 msg ? msg : "failed", "errno", eno));
			else
				printf("no reply from %s: seq=%ld: %s\n", peer, seq, msg ? msg : "failed");
			if (!is_loss(eno)) {
				if (o.json)
					fprintf(stderr, "konce ping: %s%s%s%s\n", msg ? msg : "failed", eno ? " (" : "",
						eno ? eno : "", eno ? ")" : "");
				json_decref(resp);
				fatal = true;
				status = eno && !strcmp(eno, "EINVAL") ? KONCE_EXIT_USAGE : KONCE_EXIT_FAIL;
				break;
			}
		}
		json_decref(resp);
		fflush(stdout);
	}

	double loss = st.sent ? 100.0 * (double)(st.sent - st.received) / (double)st.sent : 0;
	double avg = st.received ? st.sum / (double)st.received : 0;
	if (o.json) {
		json_t *sum = json_pack("{s:s, s:I, s:I, s:f, s:o}", "peer", peer, "sent", (json_int_t)st.sent,
					"received", (json_int_t)st.received, "loss_pct", loss, "replies", replies);
		replies = NULL;
		if (sum && st.received)
			json_object_set_new(sum, "rtt_ms",
					    json_pack("{s:f, s:f, s:f}", "min", st.min, "avg", avg, "max", st.max));
		else if (sum)
			json_object_set_new(sum, "rtt_ms", json_null());
		int s = sum ? konce_ctl_print_json("ping", sum) : KONCE_EXIT_FAIL;
		json_decref(sum);
		if (s)
			status = s;
	} else if (st.sent) {
		printf("--- %s ping statistics ---\n%ld sent, %ld received, %.0f%% loss\n", peer, st.sent,
		       st.received, loss);
		if (st.received)
			printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", st.min, avg, st.max);
	}
	if (!fatal)
		status = st.received ? KONCE_EXIT_OK : KONCE_EXIT_FAIL;
	else if (!status)
		status = KONCE_EXIT_FAIL;
	if (fflush(stdout))
		status = KONCE_EXIT_FAIL;
out:
	json_decref(req);
	json_decref(replies);
	konce_ctl_close(&ctl);
	return status;
}
