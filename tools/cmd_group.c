/* cmd_group.c - konce group SUBCOMMAND: consensus groups on the running node (docs/CONTROL.md
 * "Groups", docs/CONSENSUS.md). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "konce/group.h"
#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce group create NAME\n"
		   "       konce group invite GROUP [--expires DUR] [--addr HOST:PORT] [--wait DUR]\n"
		   "       konce group join TOKEN [--name NAME] [--timeout DUR]\n"
		   "       konce group propose GROUP TEXT|--file F\n"
		   "       konce group log GROUP [--follow]\n"
		   "       konce group members GROUP\n"
		   "       konce group status GROUP\n"
		   "       konce group leave GROUP\n"
		   "       konce group list\n"
		   "  (each also takes [--json] [--control PATH] [--config FILE])\n\n"
		   "Consensus groups: a small set of nodes that agree on one sequence of decisions.\n"
		   "create founds a group with this node as its only member.  invite prints a one-use\n"
		   "token that lets another node join, once the group has committed the invitation (every\n"
		   "member stores it; until then a joiner would be refused).  join asks to join with a token.  propose submits a\n"
		   "decision (text, or the bytes of a file; at most 1024 bytes).  log prints the decisions\n"
		   "this node has delivered, in order, one per line (SEQ ORIGIN TEXT).  members prints the\n"
		   "view: its epoch, its members and its coordinator.  status prints the view member by member\n"
		   "as this node sees it: when each was last heard, how far it has acked (counted by the\n"
		   "coordinator) and whether it is suspected.  leave leaves the group.  list lists\n"
		   "the groups of this node.  GROUP is the local name of a group.\n\n"
		   "Options:\n"
		   "      --expires DUR   invite: the token expires after DUR (seconds, or with s, m, h, d)\n"
		   "      --addr HOST:PORT  invite: where the joiner reaches this node (in the token)\n"
		   "      --wait DUR      invite: how long to wait for the invitation to commit (default\n"
		   "                      10s); then it fails, printing no token\n"
		   "      --name NAME     join: the local name of the group (default g-ID)\n"
		   "      --timeout DUR   join: give up (withdraw) if not admitted within DUR (seconds, or\n"
		   "                      with s, m, h, d; 1 s to 1 d; default 30 s).  A view that admits\n"
		   "                      this node as it gives up still seats it; a restart keeps the time\n"
		   "                      that was left\n"
		   "  -f, --file F        propose: the decision is the bytes of file F\n"
		   "      --follow        log: keep printing decisions as they are delivered\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long duration(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || v <= 0 || end == s)
		return -1;
	long long m = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
		      : !strcmp(end, "d") ? 86400 : -1;
	if (m <= 0 || v > 100LL * 365 * 86400 / m)
		return -1;
	return v * m;
}

/* --timeout: a duration of 1 s to KONCE_GROUP_JOIN_TIMEOUT_MAX; -1 (and a message) if not. */
static long long join_timeout(const char *s)
{
	long long v = duration(s);
	if (v < 1 || v > KONCE_GROUP_JOIN_TIMEOUT_MAX) {
		fprintf(stderr, "konce group join: bad --timeout '%s': 1 s to 1 d (e.g. 30, 90s, 5m, 1h)\n", s);
		return -1;
	}
	return v;
}

static int read_file(const char *path, char *hex, size_t cap)
{
	unsigned char b[KONCE_GROUP_DECISION_MAX + 1];
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "konce group propose: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(b, 1, sizeof b, f);
	fclose(f);
	if (n == 0 || n > KONCE_GROUP_DECISION_MAX) {
		fprintf(stderr, "konce group propose: '%s' must hold 1 to %d bytes\n", path, KONCE_GROUP_DECISION_MAX);
		return -1;
	}
	for (size_t i = 0; i < n && 2 * i + 2 < cap; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static void print_entry(json_t *e)
{
	const char *text = json_string_value(json_object_get(e, "text"));
	printf("%lld %s ", (long long)json_integer_value(json_object_get(e, "seq")),
	       json_string_value(json_object_get(e, "origin")));
	if (text) {
		for (const char *p = text; *p; p++) /* one line per decision */
			putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
		putchar('\n');
	} else {
		printf("hex:%s\n", json_string_value(json_object_get(e, "hex")));
	}
}

static int do_log(struct konce_ctl_opts *o, const char *group, bool follow)
{
	struct konce_ctl c;
	int status = konce_ctl_cli_open(&c, "group", o);
	long long from = 1;
	json_t *all = NULL; /* --json without --follow: the answer, with every page's entries */
	if (status)
		return status;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	c.stop = &stop;
	for (;;) {
		json_t *req = json_pack("{s:s, s:s, s:I}", "cmd", "group.log", "group", group, "from", (json_int_t)from);
		json_t *r = konce_ctl_cli_call(&c, NULL, "group", req, 10000, &status);
		json_decref(req); /* konce_ctl_cli_call borrows it */
		if (!r)
			break;
		json_t *a = json_object_get(r, "entries"), *e;
		size_t i;
		json_array_foreach(a, i, e) {
			if (o->json && !follow) {
				/* every page's entries in one answer, printed at the end */
			} else if (o->json) {
				char *s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
				if (s)
					printf("%s\n", s);
				free(s);
			} else {
				print_entry(e);
			}
			from = json_integer_value(json_object_get(e, "seq")) + 1;
		}
		bool more = json_is_true(json_object_get(r, "more")) && json_array_size(a) > 0;
		if (o->json && !follow) {
			if (!all)
				all = json_incref(r);
			else
				json_array_extend(json_object_get(all, "entries"), a);
		}
		json_decref(r);
		fflush(stdout);
		if (more && !stop)
			continue;
		if (!follow || stop)
			break;
		usleep(200000);
		if (stop)
			break;
	}
	if (all) {
		json_object_set_new(all, "more", json_false());
		if (!stop && status == KONCE_EXIT_OK) /* a failed later page has said why: no partial answer */
			status = konce_ctl_print_json("group", all);
		json_decref(all);
	}
	konce_ctl_close(&c);
	return stop ? KONCE_EXIT_OK : status;
}

/* invite: the token, printed only once the invitation has committed on this node (polled with
 * group.invite_status every 100 ms, at most wait_s seconds). */
static int do_invite(struct konce_ctl_opts *o, const char *group, long long expires, const char *addr, long long wait_s)
{
	struct konce_ctl c;
	int status = konce_ctl_cli_open(&c, "group", o);
	if (status)
		return status;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	c.stop = &stop;
	json_t *req = json_pack("{s:s, s:s, s:I}", "cmd", "group.invite", "group", group, "expires", (json_int_t)expires);
	if (addr)
		json_object_set_new(req, "addr", json_string(addr));
	json_t *r = konce_ctl_cli_call(&c, NULL, "group", req, 10000, &status);
	json_decref(req);
	if (!r) {
		konce_ctl_close(&c);
		return status;
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool committed = false;
	for (;;) {
		json_t *q = json_pack("{s:s, s:s, s:O}", "cmd", "group.invite_status", "group", group, "token",
				      json_object_get(r, "token"));
		json_t *a = konce_ctl_cli_call(&c, NULL, "group", q, 10000, &status);
		json_decref(q);
		if (!a)
			break;
		committed = json_is_true(json_object_get(a, "committed"));
		json_decref(a);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (committed || stop || (t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000 >= wait_s * 1000)
			break;
		usleep(100000);
	}
	konce_ctl_close(&c);
	if (committed) {
		json_object_set_new(r, "committed", json_true());
		if (o->json)
			status = konce_ctl_print_json("group", r);
		else
			printf("%s\n", json_string_value(json_object_get(r, "token")));
	} else if (!status && stop) {
		fprintf(stderr, "konce group invite: interrupted before the invitation committed; no token printed\n");
		status = KONCE_EXIT_FAIL;
	} else if (!status) {
		fprintf(stderr,
			"konce group invite: the invitation to %s has not committed within %lld s, so no token is\n"
			"  printed: every member of the view must store it first, and a member that is down or\n"
			"  unreachable holds it up until the others evict it ('konce group members %s')\n",
			group, wait_s, group);
		status = KONCE_EXIT_FAIL;
	}
	json_decref(r);
	if (fflush(stdout))
		status = KONCE_EXIT_FAIL;
	return status;
}

static const char *state_line(json_t *g)
{
	static char b[512];
	char more[192] = "";
	const char *why = json_string_value(json_object_get(g, "out_reason"));
	json_t *left = json_object_get(g, "join_left_ms");
	if (json_is_integer(left)) {
		long long ep = (long long)json_integer_value(json_object_get(g, "join_epoch"));
		char who[64] = "the token's members";
		if (ep)
			snprintf(who, sizeof who, "the members of epoch %lld", ep);
		snprintf(more, sizeof more, ", asking %s, gives up in %lld s", who,
			 ((long long)json_integer_value(left) + 999) / 1000);
	} else if (why && !strcmp(why, "join-timed-out"))
		snprintf(more, sizeof more, ", the join timed out (no coordinator decided before its deadline; join again to retry)");
	else if (why && !strcmp(why, "join-unknown-invitation"))
		snprintf(more, sizeof more, ", the join timed out: the group did not know the invitation (a forged or "
			 "mistyped token, or its INVITE never committed)");
	else if (why)
		snprintf(more, sizeof more, " (%s)", why);
	snprintf(b, sizeof b, "%s: %s%s, epoch %lld, %lld members, commit %lld%s",
		 json_string_value(json_object_get(g, "name")), json_string_value(json_object_get(g, "state")), more,
		 (long long)json_integer_value(json_object_get(g, "epoch")),
		 (long long)json_integer_value(json_object_get(g, "members_count")),
		 (long long)json_integer_value(json_object_get(g, "commit")),
		 json_is_true(json_object_get(g, "halted")) ? ", HALTED (no majority for a new view)" : "");
	return b;
}

/* status: the view line, then one line per member. */
static void print_status(json_t *g)
{
	json_t *m;
	size_t i;
	printf("%s, log %lld%s\n", state_line(g), (long long)json_integer_value(json_object_get(g, "last")),
	       json_is_true(json_object_get(g, "catching_up")) ? ", waiting for a snapshot" : "");
	json_array_foreach(json_object_get(g, "members"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		json_t *acked = json_object_get(m, "acked");
		printf("  %s%s%s%s%s", json_string_value(json_object_get(m, "key")), name && *name ? "  " : "",
		       name ? name : "", json_is_true(json_object_get(m, "self")) ? "  (this node)" : "",
		       json_is_true(json_object_get(m, "coordinator")) ? "  (coordinator)" : "");
		if (!json_is_true(json_object_get(m, "self")))
			printf("  heard %lld ms ago", (long long)json_integer_value(json_object_get(m, "heard_ms")));
		if (json_is_integer(acked))
			printf("  acked %lld", (long long)json_integer_value(acked));
		printf("  %s\n", json_string_value(json_object_get(m, "suspicion")));
	}
}

/* The options of `konce group`, before and after the subcommand's operands. */
struct group_args {
	struct konce_ctl_opts o;
	const char *addr, *name, *file;
	long long expires, wait_s, timeout_s;
	bool follow;
};

/* Takes option ch (with optarg): -1 to go on, else the exit code to end with. */
static int group_opt(struct group_args *a, int ch)
{
	switch (ch) {
	case 'e':
		if ((a->expires = duration(optarg)) < 0) {
			fprintf(stderr, "konce group: bad duration '%s' (e.g. 3600, 90m, 2h, 7d)\n", optarg);
			return KONCE_EXIT_USAGE;
		}
		break;
	case 'w':
		if ((a->wait_s = duration(optarg)) < 0) {
			fprintf(stderr, "konce group: bad duration '%s' (e.g. 10, 30s, 2m)\n", optarg);
			return KONCE_EXIT_USAGE;
		}
		break;
	case 't':
		if ((a->timeout_s = join_timeout(optarg)) < 0)
			return KONCE_EXIT_USAGE;
		break;
	case 'a': a->addr = optarg; break;
	case 'n': a->name = optarg; break;
	case 'f': a->file = optarg; break;
	case 'F': a->follow = true; break;
	case 'j': a->o.json = true; break;
	case 's': a->o.control = optarg; break;
	case 'c': a->o.config = optarg; break;
	case 'h': usage(stdout); return KONCE_EXIT_OK;
	default: usage(stderr); return KONCE_EXIT_USAGE;
	}
	return -1;
}

int konce_cmd_group(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"expires", required_argument, NULL, 'e'}, {"addr", required_argument, NULL, 'a'},
		{"wait", required_argument, NULL, 'w'},    {"timeout", required_argument, NULL, 't'},
		{"name", required_argument, NULL, 'n'},    {"file", required_argument, NULL, 'f'},
		{"follow", no_argument, NULL, 'F'},        {"json", no_argument, NULL, 'j'},
		{"control", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct group_args a = {.wait_s = 10};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+f:s:c:h", longopts, NULL)) != -1) {
		int rc = group_opt(&a, ch);
		if (rc >= 0)
			return rc;
		/* options may follow the subcommand and its operands: getopt stops at the first operand
		 * ("+"), so the rest is parsed again below */
	}
	char *ops[3];
	int nops = 0;
	for (int i = optind; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1]) {
			/* an option after an operand */
			int sub_argc = argc - i + 1;
			char **sub = calloc((size_t)sub_argc + 1, sizeof *sub);
			if (!sub)
				return KONCE_EXIT_FAIL;
			sub[0] = argv[0];
			for (int k = 1; k < sub_argc; k++)
				sub[k] = argv[i + k - 1];
			optind = 1;
			while ((ch = getopt_long(sub_argc, sub, "+f:s:c:h", longopts, NULL)) != -1) {
				int rc = group_opt(&a, ch);
				if (rc >= 0) {
					free(sub);
					return rc;
				}
			}
			for (int k = optind; k < sub_argc; k++)
				if (nops < 3)
					ops[nops++] = sub[k];
				else
					nops++;
			free(sub);
			break;
		}
		if (nops < 3)
			ops[nops++] = argv[i];
		else
			nops++;
	}
	if (nops < 1) {
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	const char *sub = ops[0];
	static const struct {
		const char *name;
		int nargs;
	} subs[] = {{"create", 1}, {"invite", 1}, {"join", 1}, {"propose", -1}, {"log", 1},
		    {"members", 1}, {"status", 1}, {"leave", 1}, {"list", 0}};
	int want = -2;
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(sub, subs[i].name))
			want = subs[i].nargs;
	if (want == -2) {
		fprintf(stderr, "konce group: unknown subcommand '%s'\n", sub);
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	if (want == -1) /* propose GROUP TEXT, or GROUP --file F */
		want = a.file ? 1 : 2;
	if (nops - 1 != want) {
		fprintf(stderr, "konce group %s: expected %d operand%s\n", sub, want, want == 1 ? "" : "s");
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	if (a.timeout_s && strcmp(sub, "join")) {
		fprintf(stderr, "konce group %s: --timeout applies to join only\n", sub);
		return KONCE_EXIT_USAGE;
	}
	const char *g = nops > 1 ? ops[1] : NULL;
	if (!strcmp(sub, "log"))
		return do_log(&a.o, g, a.follow);
	if (!strcmp(sub, "invite"))
		return do_invite(&a.o, g, a.expires ? (long long)time(NULL) + a.expires : 0, a.addr, a.wait_s);

	json_t *req = json_pack("{s:s}", "cmd", "group.list");
	char cmd[32];
	snprintf(cmd, sizeof cmd, "group.%s", sub);
	json_object_set_new(req, "cmd", json_string(cmd));
	if (!strcmp(sub, "create")) {
		json_object_set_new(req, "name", json_string(g));
	} else if (!strcmp(sub, "join")) {
		json_object_set_new(req, "token", json_string(g));
		if (a.timeout_s)
			json_object_set_new(req, "timeout", json_integer(a.timeout_s));
		if (a.name)
			json_object_set_new(req, "name", json_string(a.name));
	} else if (g) {
		json_object_set_new(req, "group", json_string(g));
	}
	if (!strcmp(sub, "propose")) {
		if (a.file) {
			char hex[2 * KONCE_GROUP_DECISION_MAX + 3];
			if (read_file(a.file, hex, sizeof hex)) {
				json_decref(req);
				return KONCE_EXIT_FAIL;
			}
			json_object_set_new(req, "hex", json_string(hex));
		} else {
			json_t *t = json_string(ops[2]);
			if (!t) {
				fprintf(stderr, "konce group propose: TEXT is not UTF-8 (use --file)\n");
				json_decref(req);
				return KONCE_EXIT_USAGE;
			}
			json_object_set_new(req, "text", t);
		}
	}
	int status;
	json_t *r = konce_ctl_cli_request("group", &a.o, req, 10000, &status);
	if (!r)
		return status;
	if (a.o.json) {
		status = konce_ctl_print_json("group", r);
		json_decref(r);
		return status;
	}
	if (!strcmp(sub, "create") || !strcmp(sub, "members")) {
		json_t *gj = json_object_get(r, "group"), *m;
		size_t i;
		printf("%s\n", state_line(gj));
		json_array_foreach(json_object_get(gj, "members"), i, m) {
			printf("  %s%s\n", json_string_value(json_object_get(m, "key")),
			       json_is_true(json_object_get(m, "coordinator")) ? "  (coordinator)" : "");
		}
	} else if (!strcmp(sub, "status")) {
		print_status(json_object_get(r, "group"));
	} else if (!strcmp(sub, "list")) {
		json_t *gj;
		size_t i;
		json_array_foreach(json_object_get(r, "groups"), i, gj) {
			printf("%s\n", state_line(gj));
		}
	} else if (!strcmp(sub, "propose")) {
		printf("proposed (nonce %lld)\n", (long long)json_integer_value(json_object_get(r, "nonce")));
	} else if (!strcmp(sub, "join")) {
		printf("joining (gives up after %lld s); 'konce group list' shows when the members have let this node in\n",
		       (long long)json_integer_value(json_object_get(r, "timeout")));
	} else if (!strcmp(sub, "leave")) {
		printf("leaving %s\n", g);
	}
	json_decref(r);
	return fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
}
