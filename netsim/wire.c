/*
 * netsim/wire.c: netsim-wire, a userspace "wire" that impairs a link when the kernel has no
 * sch_netem.  netsim splices it into a link: NODE:eth0 <-veth-> wn [netsim-wire] wp <-veth-> NODE
 * on the parent's bridge, both wire ends in a namespace of their own (ns-RUN-NODE-wire).  It reads
 * every frame from each end with an AF_PACKET socket and writes it, byte for byte, to the other
 * end after the configured delay, or drops or duplicates it (decisions: wire_sched.c).
 *
 * Frames carry a virtio_net_hdr (PACKET_VNET_HDR), passed through unchanged, so a frame whose
 * checksum the sender left to the "hardware" (CHECKSUM_PARTIAL, usual on veth) arrives as it would
 * over a plain veth.  PACKET_IGNORE_OUTGOING keeps the wire from reading its own transmissions.
 *
 * One thread, one epoll loop: the two packet sockets, a timerfd armed at the earliest departure
 * and a signalfd (TERM/INT: print counters and exit; HUP: re-read --config; USR1: print counters).
 * Memory is bounded: at most --limit frames and --limit-bytes per direction are in flight; more
 * are dropped (drop-tail) and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "netsim/wire_sched.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define FRAME_MAX (65536 + 64) /* a full GSO frame plus the virtio header */
#define CONF_MAX 4096
#define RX_BATCH 64            /* frames read per wakeup per socket, so neither side starves */

struct counters {
	uint64_t rx, rx_bytes, tx, tx_bytes, lost, dup, early, queue_drop, tx_err;
};

struct side {
	const char *ifname;
	int ifindex;
	int fd;
};

struct wire {
	struct side side[2];
	struct nsw_heap q[2];      /* q[d]: frames read on side d, to be sent on side !d */
	size_t qbytes[2];
	struct counters c[2];
	struct nsw_conf conf;
	struct nsw_rng rng;
	size_t limit, limit_bytes;
	const char *config_path, *status_path;
	unsigned reloads;
	int timer_fd, sig_fd, ep_fd;
	int filter_outgoing;      /* PACKET_IGNORE_OUTGOING unsupported: drop PACKET_OUTGOING by hand */
	uint8_t buf[FRAME_MAX];
};

static const char usage[] =
	"usage: netsim-wire [OPTIONS] IF_A IF_B [KEY=VALUE...]\n"
	"Forwards every Ethernet frame between interfaces IF_A and IF_B, both ways and byte-exact,\n"
	"impairing each direction like tc netem: the userspace backend of netsim's link impairments\n"
	"for kernels without sch_netem (docs/netsim.md).\n"
	"\n"
	"  --config FILE       read the settings from FILE instead of the command line; SIGHUP re-reads it\n"
	"  --status FILE       write \"pid P reloads N ok|error\" once ready and after each reload\n"
	"  --limit N           frames in flight per direction (default 10000); more are dropped\n"
	"  --limit-bytes N     bytes in flight per direction (default 33554432)\n"
	"  --seed N            seed of the random decisions (default: from getrandom)\n"
	"  -h, --help          this text\n"
	"\n"
	"Settings: delay=D jitter=D (D: 40ms, 500us, 1.5s) dist=normal|uniform loss=P duplicate=P\n"
	"reorder=P (P: 1%, 0.25%), for both directions, or prefixed ab. (IF_A -> IF_B) or ba. for one.\n"
	"jitter is the standard deviation (normal, clamped to 3x) or the half-width (uniform); a\n"
	"reordered frame skips the delay.  Signals: TERM/INT exit, HUP reload, USR1 print counters.\n"
	"Counters go to stderr on exit and on USR1.\n";

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void print_counters(const struct wire *w)
{
	for (int d = 0; d < 2; d++) {
		const struct counters *c = &w->c[d];

		fprintf(stderr,
			"netsim-wire: %s -> %s: rx %" PRIu64 " tx %" PRIu64 " lost %" PRIu64 " duplicated %" PRIu64
			" reordered %" PRIu64 " queue_drop %" PRIu64 " tx_err %" PRIu64 " queued %zu"
			" rx_bytes %" PRIu64 " tx_bytes %" PRIu64 "\n",
			w->side[d].ifname, w->side[!d].ifname, c->rx, c->tx, c->lost, c->dup, c->early,
			c->queue_drop, c->tx_err, w->q[d].n, c->rx_bytes, c->tx_bytes);
	}
	fflush(stderr);
}

static void write_status(const struct wire *w, int ok)
{
	char tmp[4096];
	FILE *f;

	if (!w->status_path)
		return;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", w->status_path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "pid %ld reloads %u %s\n", (long)getpid(), w->reloads, ok ? "ok" : "error");
	if (fclose(f) == 0)
		rename(tmp, w->status_path);
}

static int load_config(struct wire *w)
{
	char text[CONF_MAX + 1], err[160];
	struct nsw_conf c;
	size_t n;
	FILE *f = fopen(w->config_path, "r");

	if (!f) {
		fprintf(stderr, "netsim-wire: cannot read %s: %s\n", w->config_path, strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (n > CONF_MAX) {
		fprintf(stderr, "netsim-wire: %s: longer than %d bytes\n", w->config_path, CONF_MAX);
		return -1;
	}
	if (nsw_conf_parse(&c, text, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "netsim-wire: %s: %s\n", w->config_path, err);
		return -1;
	}
	w->conf = c;
	return 0;
}

static void log_config(const struct wire *w)
{
	char text[1024];

	nsw_conf_format(&w->conf, text, sizeof(text));
	fprintf(stderr, "netsim-wire: %s <-> %s settings:\n%s", w->side[0].ifname, w->side[1].ifname, text);
	fflush(stderr);
}

static int open_side(struct side *s, int *filter_outgoing)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	int one = 1, buf = 4 << 20;

	s->ifindex = (int)if_nametoindex(s->ifname);
	if (s->ifindex == 0) {
		fprintf(stderr, "netsim-wire: no interface %s: %s\n", s->ifname, strerror(errno));
		return -1;
	}
	/* Protocol 0 until bound: the socket sees no frame of another interface in between. */
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fprintf(stderr, "netsim-wire: AF_PACKET socket: %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(s->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) {
		fprintf(stderr, "netsim-wire: PACKET_VNET_HDR: %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		*filter_outgoing = 1; /* before Linux 4.20 */
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	sll.sll_ifindex = s->ifindex;
	if (bind(s->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "netsim-wire: bind to %s: %s\n", s->ifname, strerror(errno));
		return -1;
	}
	/* veth hands over frames for any MAC anyway; promiscuous mode makes that explicit. */
	mr.mr_ifindex = s->ifindex;
	if (setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		fprintf(stderr, "netsim-wire: promiscuous mode on %s: %s\n", s->ifname, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads up to RX_BATCH frames from side d and queues what the impairment decides. */
static int read_side(struct wire *w, int d)
{
	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(w->side[d].fd, w->buf, sizeof(w->buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		uint64_t when[2], now;
		unsigned copies, early;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (if_nametoindex(w->side[d].ifname) == 0) {
				fprintf(stderr, "netsim-wire: %s is gone, exiting\n", w->side[d].ifname);
				return -1;
			}
			return 0; /* ENETDOWN while the interface is down: it comes back with it */
		}
		if (w->filter_outgoing && from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if ((size_t)n > sizeof(w->buf)) { /* cannot happen below 64 KiB GSO; count, do not forward */
			w->c[d].queue_drop++;
			continue;
		}
		w->c[d].rx++;
		w->c[d].rx_bytes += (uint64_t)n;
		now = now_us();
		copies = nsw_decide(&w->conf.dir[d], &w->rng, now, when, &early);
		w->c[d].early += early;
		if (copies == 0)
			w->c[d].lost++;
		if (copies == 2)
			w->c[d].dup++;
		for (unsigned k = 0; k < copies; k++) {
			void *f;

			if (w->q[d].n >= w->limit || w->qbytes[d] + (size_t)n > w->limit_bytes ||
			    !(f = malloc((size_t)n))) {
				w->c[d].queue_drop++;
				continue;
			}
			memcpy(f, w->buf, (size_t)n);
			if (nsw_heap_push(&w->q[d], when[k], f, (size_t)n) < 0) {
				free(f);
				w->c[d].queue_drop++;
				continue;
			}
			w->qbytes[d] += (size_t)n;
		}
	}
	return 0;
}

/* Sends every due frame, then arms the timer at the next departure (or disarms it). */
static void flush_due(struct wire *w)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	uint64_t next = UINT64_MAX, now = now_us();

	for (int d = 0; d < 2; d++) {
		struct nsw_item it;
		const struct nsw_item *top;

		while (nsw_heap_pop_due(&w->q[d], now, &it)) {
			if (send(w->side[!d].fd, it.frame, it.len, 0) < 0) {
				w->c[d].tx_err++;
			} else {
				w->c[d].tx++;
				w->c[d].tx_bytes += it.len;
			}
			w->qbytes[d] -= it.len;
			free(it.frame);
		}
		top = nsw_heap_peek(&w->q[d]);
		if (top && top->when < next)
			next = top->when;
	}
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000000u);
		its.it_value.tv_nsec = (long)(next % 1000000u) * 1000;
	}
	timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* 1: keep running, 0: exit */
static int on_signal(struct wire *w)
{
	struct signalfd_siginfo si;

	while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP: {
			int ok = w->config_path && load_config(w) == 0;

			w->reloads++;
			if (ok)
				log_config(w);
			write_status(w, ok);
			break;
		}
		case SIGUSR1:
			print_counters(w);
			break;
		default:
			return 0;
		}
	}
	return 1;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > (1ull << 40))
		return -1;
	*out = (size_t)v;
	return 0;
}

static int setup(struct wire *w, int argc, char **argv)
{
	int i, nif = 0;
	unsigned long long seed = 0;
	int have_seed = 0;
	char text[CONF_MAX + 1] = "", err[160];
	size_t tl = 0;

	w->limit = 10000;
	w->limit_bytes = 32u << 20;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "--config") && i + 1 < argc) {
			w->config_path = argv[++i];
		} else if (!strcmp(a, "--status") && i + 1 < argc) {
			w->status_path = argv[++i];
		} else if (!strcmp(a, "--limit") && i + 1 < argc) {
			if (parse_size(argv[++i], &w->limit) < 0)
				goto bad;
		} else if (!strcmp(a, "--limit-bytes") && i + 1 < argc) {
			if (parse_size(argv[++i], &w->limit_bytes) < 0)
				goto bad;
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			char *end;

			seed = strtoull(argv[++i], &end, 0);
			if (*end)
				goto bad;
			have_seed = 1;
		} else if (a[0] == '-') {
			goto bad;
		} else if (strchr(a, '=')) {
			size_t l = strlen(a);

			if (tl + l + 2 > sizeof(text)) {
				fprintf(stderr, "netsim-wire: settings too long\n");
				return -1;
			}
			memcpy(text + tl, a, l);
			tl += l;
			text[tl++] = ' ';
			text[tl] = '\0';
		} else if (nif < 2) {
			w->side[nif++].ifname = a;
		} else {
			goto bad;
		}
	}
	if (nif != 2)
		goto bad;
	if (w->config_path) {
		if (tl) {
			fprintf(stderr, "netsim-wire: give settings on the command line or in --config, not both\n");
			return -1;
		}
		if (load_config(w) < 0)
			return -1;
	} else if (nsw_conf_parse(&w->conf, text, tl, err, sizeof(err)) < 0) {
		fprintf(stderr, "netsim-wire: %s\n", err);
		return -1;
	}
	if (!have_seed && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (unsigned long long)now_us() ^ (unsigned long long)getpid();
	nsw_rng_seed(&w->rng, seed);
	return 0;
bad:
	fputs(usage, stderr);
	return -2;
}

int main(int argc, char **argv)
{
	static struct wire w; /* 64 KiB receive buffer: not on the stack */
	struct epoll_event ev;
	sigset_t sigs;
	int rc = 1, d;

	w.side[0].fd = w.side[1].fd = w.timer_fd = w.sig_fd = w.ep_fd = -1;
	d = setup(&w, argc, argv);
	if (d < 0)
		return d == -2 ? 2 : 1;
	/* Departure times are microseconds apart: ask for no timer slack (default 50 us). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	w.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	w.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w.ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w.sig_fd < 0 || w.timer_fd < 0 || w.ep_fd < 0) {
		fprintf(stderr, "netsim-wire: setup: %s\n", strerror(errno));
		goto out;
	}
	for (d = 0; d < 2; d++) {
		if (nsw_heap_init(&w.q[d], w.limit) < 0) {
			fprintf(stderr, "netsim-wire: cannot allocate a queue of %zu frames\n", w.limit);
			goto out;
		}
		if (open_side(&w.side[d], &w.filter_outgoing) < 0)
			goto out;
	}
	if (w.side[0].ifindex == w.side[1].ifindex) {
		fprintf(stderr, "netsim-wire: IF_A and IF_B are the same interface\n");
		goto out;
	}
	for (d = 0; d < 4; d++) {
		int fd = d < 2 ? w.side[d].fd : d == 2 ? w.timer_fd : w.sig_fd;

		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = (uint32_t)d };
		if (epoll_ctl(w.ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			fprintf(stderr, "netsim-wire: epoll: %s\n", strerror(errno));
			goto out;
		}
	}
	log_config(&w);
	write_status(&w, 1);
	rc = 0;
	for (;;) {
		struct epoll_event evs[4];
		int n = epoll_wait(w.ep_fd, evs, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "netsim-wire: epoll_wait: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t k = evs[i].data.u32;

			if (k < 2 && read_side(&w, (int)k) < 0) {
				rc = 1;
				goto done;
			}
			if (k == 2) {
				uint64_t ticks;

				if (read(w.timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					fprintf(stderr, "netsim-wire: timerfd: %s\n", strerror(errno));
			}
			if (k == 3 && !on_signal(&w))
				goto done;
		}
		flush_due(&w);
	}
done:
	print_counters(&w);
out:
	for (d = 0; d < 2; d++) {
		struct nsw_item it;

		while (nsw_heap_pop_due(&w.q[d], UINT64_MAX, &it))
			free(it.frame);
		nsw_heap_free(&w.q[d]);
		if (w.side[d].fd >= 0)
			close(w.side[d].fd);
	}
	if (w.timer_fd >= 0)
		close(w.timer_fd);
	if (w.sig_fd >= 0)
		close(w.sig_fd);
	if (w.ep_fd >= 0)
		close(w.ep_fd);
	return rc;
}
