/* cmd_node.c - konce node: run a node in the foreground until SIGINT or SIGTERM. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "konce/konce.h"
#include "tools/commands.h"
#include "tools/config.h"
#include "tools/ctl.h"
#include "tools/paths.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: konce node [--config FILE] [--listen ADDR:PORT] [--data DIR] [--control PATH] [-v|-q]\n\n"
		"Runs a konce node in the foreground until SIGINT or SIGTERM.  On start it prints its public\n"
		"key, the address it listens on and its control socket; it logs to standard error.  On first\n"
		"run it creates a new identity in the data directory.\n\n"
		"Options (each overrides the same key in the configuration file, see konce.conf(5)):\n"
		"  -c, --config FILE       configuration file (default: $XDG_CONFIG_HOME/konce/konce.conf,\n"
		"                          used only if it exists)\n"
		"  -l, --listen ADDR:PORT  UDP address to bind, numeric (default: [::]:%d, dual stack;\n"
		"                          port 0 picks a free port)\n"
		"  -d, --data DIR          identity and presence store (default: $XDG_DATA_HOME/konce)\n"
		"  -s, --control PATH      control socket for the other konce commands (default:\n"
		"                          $XDG_RUNTIME_DIR/konce/control.sock, or DIR/control.sock)\n"
		"      --log LEVEL         error, warn, info (default) or debug\n"
		"  -v, --verbose           log debug messages (--log debug)\n"
		"  -q, --quiet             log errors only (--log error)\n"
		"      --max-sessions N    most peers with a live session at once (default 1024)\n"
		"      --max-per-source N  most incoming sessions from one address, and per peer key\n"
		"                          (default max(4, max-sessions / 16): 64)\n"
		"      --capacity N        handshake load units per second before asking for proof of work\n"
		"      --rendezvous yes|no serve as a rendezvous (registrations, introductions, relay)\n"
		"      --rendezvous-capacity N  registrations the rendezvous holds at most (default\n"
		"                          4096, rounded up to a power of two)\n"
		"      --rendezvous-peer KEY@IP:PORT  register with this rendezvous (repeatable; the\n"
		"                          first is the primary); konce connect KEY then works by key\n"
		"      --portmap yes|no    while registered, lease the UDP port on the router over\n"
		"                          NAT-PMP / UPnP-IGD for a port-mapped candidate (default yes)\n"
		"      --host-candidates yes|no  register the node's LAN addresses with the rendezvous,\n"
		"                          which gives them to every key introduced (default no)\n"
		"      --introductions any|known  accept introductions from any key (default), or only\n"
		"                          from keys this node knows (a live session, a key it asked\n"
		"                          to reach, a petname)\n"
		"      --nat-lifetime auto|off|MIN:MAX|MIN:START:MAX  learn the NAT mapping lifetime\n"
		"                          with the primary rendezvous and keep mappings open with it\n"
		"                          (default auto: 10..300 s, first test 20 s; seconds)\n"
		"      --congestion bbr|newreno|cubic  congestion control of the default message class\n"
		"                          (default bbr; the background class is always LEDBAT)\n"
		"      --file-background SIZE|off  a file of at least SIZE bytes (K, M, G suffixes) that\n"
		"                          konce send sends goes in the background class, which yields\n"
		"                          to other traffic (default off; a send may ask otherwise)\n"
		"      --identity per-server|master  the key this node shows the peers it dials: one\n"
		"                          derived for each (default), or its master key; peers with a\n"
		"                          petname, rendezvous and introduced peers always get the master\n"
		"      --identity-master KEY,KEY  peers always shown the master key\n"
		"      --group-key KEY     limited circulation: answer only clients that hold this group\n"
		"                          key (konce keygen --group makes one); others get no answer\n"
		"  -h, --help              show this help\n",
		KONCE_DEFAULT_PORT);
}

static void log_line(void *ctx, int level, const char *line)
{
	(void)ctx;
	fprintf(stderr, "konce node: %s: %s\n", konce_conf_log_name(level), line);
}

struct sigctx {
	struct event_base *base;
	int log_level;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sigctx *sc = arg;
	(void)what;
	if (sc->log_level >= KONCE_LOG_INFO)
		log_line(NULL, KONCE_LOG_INFO, sig == SIGINT ? "SIGINT: shutting down" : "SIGTERM: shutting down");
	event_base_loopbreak(sc->base);
}

int konce_cmd_node(int argc, char **argv)
{
	enum { O_LOG = 256, O_MAX_SESSIONS, O_CAPACITY, O_RENDEZVOUS, O_RDV_PEER, O_PORTMAP, O_HOST_CANDIDATES, O_INTRODUCTIONS, O_RDV_CAPACITY,
	       O_NAT_LIFETIME, O_FILE_BACKGROUND, O_CONGESTION, O_MAX_PER_SOURCE, O_IDENTITY, O_IDENTITY_MASTER,
	       O_GROUP_KEY };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},  {"listen", required_argument, NULL, 'l'},
		{"data", required_argument, NULL, 'd'},    {"control", required_argument, NULL, 's'},
		{"log", required_argument, NULL, O_LOG},   {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},         {"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
		{"capacity", required_argument, NULL, O_CAPACITY},
		{"rendezvous", required_argument, NULL, O_RENDEZVOUS},
		{"rendezvous-peer", required_argument, NULL, O_RDV_PEER},
		{"portmap", required_argument, NULL, O_PORTMAP},
		{"host-candidates", required_argument, NULL, O_HOST_CANDIDATES},
		{"introductions", required_argument, NULL, O_INTRODUCTIONS},
		{"rendezvous-capacity", required_argument, NULL, O_RDV_CAPACITY},
		{"nat-lifetime", required_argument, NULL, O_NAT_LIFETIME},
		{"congestion", required_argument, NULL, O_CONGESTION},
		{"max-per-source", required_argument, NULL, O_MAX_PER_SOURCE},
		{"file-background", required_argument, NULL, O_FILE_BACKGROUND},
		{"identity", required_argument, NULL, O_IDENTITY},
		{"identity-master", required_argument, NULL, O_IDENTITY_MASTER},
		{"group-key", required_argument, NULL, O_GROUP_KEY},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	/* flags are collected first and applied after the file, so that they win */
	struct {
		const char *key, *value, *flag;
	} flags[16];
	size_t nflags = 0;
	const char *config = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "c:l:d:s:vqh", opts, NULL)) != -1) {
		const char *key = NULL, *flag = NULL, *value = optarg;
		switch (c) {
		case 'c': config = optarg; continue;
		case 'l': key = "listen", flag = "--listen"; break;
		case 'd': key = "data", flag = "--data"; break;
		case 's': key = "control", flag = "--control"; break;
		case O_LOG: key = "log", flag = "--log"; break;
		case 'v': key = "log", flag = "-v", value = "debug"; break;
		case 'q': key = "log", flag = "-q", value = "error"; break;
		case O_MAX_SESSIONS: key = "max_sessions", flag = "--max-sessions"; break;
		case O_CAPACITY: key = "capacity", flag = "--capacity"; break;
		case O_RENDEZVOUS: key = "rendezvous", flag = "--rendezvous"; break;
		case O_RDV_PEER: key = "rendezvous_peer", flag = "--rendezvous-peer"; break;
		case O_PORTMAP: key = "portmap", flag = "--portmap"; break;
		case O_HOST_CANDIDATES: key = "host_candidates", flag = "--host-candidates"; break;
		case O_INTRODUCTIONS: key = "introductions", flag = "--introductions"; break;
		case O_RDV_CAPACITY: key = "rendezvous_capacity", flag = "--rendezvous-capacity"; break;
		case O_NAT_LIFETIME: key = "nat_lifetime", flag = "--nat-lifetime"; break;
		case O_CONGESTION: key = "congestion", flag = "--congestion"; break;
		case O_MAX_PER_SOURCE: key = "max_per_source", flag = "--max-per-source"; break;
		case O_FILE_BACKGROUND: key = "file_background", flag = "--file-background"; break;
		case O_IDENTITY: key = "identity", flag = "--identity"; break;
		case O_IDENTITY_MASTER: key = "identity_master", flag = "--identity-master"; break;
		case O_GROUP_KEY: key = "group_key", flag = "--group-key"; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KONCE_EXIT_USAGE;
		}
		if (nflags == sizeof(flags) / sizeof(flags[0])) {
			fprintf(stderr, "konce node: too many options\n");
			return KONCE_EXIT_USAGE;
		}
		flags[nflags].key = key, flags[nflags].value = value, flags[nflags].flag = flag, nflags++;
	}
	if (optind != argc) {
		fprintf(stderr, "konce node: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}

	struct konce_conf conf;
	char err[PATH_MAX + 512], file[PATH_MAX];
	int r = 0, status = KONCE_EXIT_FAIL;
	konce_conf_init(&conf);
	if (config)
		r = konce_conf_load(&conf, config, true, err, sizeof(err));
	else if (konce_paths_config_file(file, sizeof(file), NULL) == 0)
		r = konce_conf_load(&conf, file, false, err, sizeof(err));
	if (r) {
		fprintf(stderr, "konce node: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < nflags; i++)
		if (konce_conf_set(&conf, flags[i].key, flags[i].value, flags[i].flag, err, sizeof(err))) {
			fprintf(stderr, "konce node: %s\n", err);
			status = KONCE_EXIT_USAGE;
			goto out;
		}
	if ((r = konce_conf_resolve(&conf, NULL, err, sizeof(err)))) {
		fprintf(stderr, "konce node: %s\n", err);
		goto out;
	}
	if ((r = konce_paths_mkdirs(conf.data, 0700))) {
		fprintf(stderr, "konce node: cannot create the data directory %s: %s\n", conf.data, strerror(-r));
		goto out;
	}
	if ((r = konce_paths_mkdirs_for(conf.control, 0700))) {
		fprintf(stderr, "konce node: cannot create the directory for the control socket %s: %s\n",
			conf.control, strerror(-r));
		goto out;
	}

	umask(077); /* the store, its journal and anything else the node writes are the owner's alone */
	signal(SIGPIPE, SIG_IGN); /* a CLI that hangs up early must not kill the node */
	struct event_base *base = event_base_new();
	if (!base) {
		fprintf(stderr, "konce node: cannot create a libevent base\n");
		goto out;
	}
	/* signals are caught from before the node exists: one that comes early waits for the loop */
	struct sigctx sc = {base, conf.log_level};
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, &sc);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, &sc);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) || evsignal_add(sigterm, NULL)) {
		fprintf(stderr, "konce node: cannot install the signal handlers\n");
		goto free_base;
	}
	konce_node_config nc = {
		.data_dir = conf.data,
		.listen = conf.listen,
		.control_path = conf.control,
		.log_level = conf.log_level,
		.log = log_line,
		.max_sessions = conf.max_sessions,
		.max_per_source = conf.max_per_source,
		.capacity = conf.capacity,
		.congestion = conf.congestion,
		.file_background_bytes = conf.file_background,
		.identity = conf.identity,
		.identity_master = conf.identity_master,
		.group_key = conf.group_key,
		.traversal = {.rendezvous = conf.rendezvous, .rendezvous_peers = conf.rendezvous_peers,
			      .portmap = conf.portmap != 0, .host_candidates = conf.host_candidates,
			      .introductions_known = conf.introductions_known,
			      .rendezvous_capacity = conf.rendezvous_capacity, .lifetime = conf.nat_lifetime},
	};
	konce_node *node;
	if ((r = konce_node_new(&node, base, &nc, err, sizeof(err)))) {
		fprintf(stderr, "konce node: %s\n", err);
		if (r == -EINVAL) /* a bad configuration, such as a rendezvous_peers entry */
			status = KONCE_EXIT_USAGE;
		goto free_base;
	}
	uint8_t pk[KONCE_KEY_BYTES];
	char pktext[KONCE_KEY_TEXT_LEN + 1], addr[128];
	konce_node_public_key(node, pk);
	konce_key_to_text(pktext, pk);
	konce_node_listen_addr(node, addr, sizeof(addr));
	printf("public key  %s\nlistening   %s\ncontrol     %s\n", pktext, addr, conf.control);
	fflush(stdout);
	if (event_base_dispatch(base) < 0)
		fprintf(stderr, "konce node: the event loop failed\n");
	else
		status = KONCE_EXIT_OK;
	if ((r = konce_node_free(node))) {
		fprintf(stderr, "konce node: flushing the presence store: %s\n", strerror(-r));
		status = KONCE_EXIT_FAIL;
	}
free_base:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	event_base_free(base);
out:
	konce_conf_free(&conf);
	return status;
}
