/* bench_bulk.c - bulk goodput of konce messages between two processes over loopback UDP, beside
 * iperf3 TCP, iperf3 UDP (1200-byte datagrams, unlimited rate) and a raw unencrypted UDP loop with
 * the same batching (konce_udp: sendmmsg/recvmmsg, GSO trains, GRO), all measured in this run.
 *
 * konce: the parent is the sender, a forked child the receiver; each runs one endpoint on one
 * socket in its own loop (bench/loop.c: ppoll with the endpoint's next timer, recvmmsg ->
 * konce_ep_input, events, datagrams -> konce_udp_queue, flush).  After the handshake the sender
 * keeps WINDOW messages of 1 MiB queued with konce_ep_msg_send (the default class, with pacing:
 * KONCE_CC_DEFAULT, or BENCH_CC=bbr|newreno|cubic on both sides) until the time budget is spent,
 * then waits for the rest.  Each message is a fresh buffer handed over (KONCE_EP_MSG_TAKE), as a
 * node hands over a file read into its buffer; BENCH_COPY=1 queues one buffer by copy instead, as
 * konce_ep_msg_send without the flag does.  Goodput = message bytes
 * acknowledged (KONCE_EV_MSG_DELIVERED) / time from the first konce_ep_msg_send to the last
 * MSG_DELIVERED.  The receiver checks every message's length.  Run with GSO/GRO on (the default
 * where the kernel has them) and off (konce_udp_set_offload on both sides), both with path MTU
 * discovery as a node runs it (max_datagram KONCE_PMTU_MAX, bounded by the route's MTU: loopback's
 * 65,536 gives 8,972-byte datagrams), and once more with GSO/GRO on and no PMTUD (1,200-byte
 * datagrams), the baseline for what PMTUD brings.
 *
 * Raw UDP: the same konce_udp batching carrying 1200-byte datagrams of nothing, as fast as the
 * sender can; throughput = bytes the receiver got / time from its first to its last datagram.
 * iperf3: `iperf3 -s -1` and `iperf3 -c 127.0.0.1 -J` (TCP; then UDP with -u -b 0 -l 1200), the
 * receiver-side figure from the JSON.  Without iperf3 those rows say unavailable.
 *
 * Usage: [BENCH_CC=bbr|newreno|cubic] [BENCH_COPY=1] bench_bulk [SECONDS per figure, default 3; 0.2 with BENCH_QUICK=1,
 *                   iperf3 runs 1 s at least] [all|konce|konce-on|konce-1200|baselines]
 * (konce-on: only konce with GSO/GRO on and PMTUD; konce-1200: only konce with GSO/GRO on and
 * 1,200-byte datagrams, no PMTUD; e.g. under perf)
 *
 * Both processes run with the allocator settings a node has (konce_mtune_bulk, node/io/mtune.c).
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/loop.h"
#include "node/io/mtune.h"

/* BENCH_CC names the default class's controller (checked in main); unset: the endpoint's default. */
static const konce_cc_ops *bench_cc(void)
{
	const char *name = getenv("BENCH_CC");
	return name && *name ? konce_cc_by_name(name) : NULL;
}

enum {
	MSG_SIZE = 1 << 20,
	WINDOW = 8,      /* messages queued at once */
	RAW_SIZE = 1200, /* = KONCE_WIRE_MAX_DATAGRAM */
	/* Datagrams per flush in the raw loop.  A GSO train must fit one UDP length (65,507 bytes of
	 * payload over IPv4): 54 x 1200 does, KONCE_UDP_BATCH (64) x 1200 does not, and node/io/udp.c
	 * then turns GSO off for good (EMSGSIZE is its fallback signal). */
	RAW_TRAIN = 65507 / RAW_SIZE,
};

static const char *me = "bench_bulk";
static double secs = 3;

/* ---- konce ---------------------------------------------------------------------------------- */

typedef struct rx_report {
	uint64_t msgs, bytes, bad, datagrams, wakeups, timer_calls;
	double cpu_s, wall_s;
	konce_udp_stats udp;
	uint64_t tx_packets, tx_bytes;
} rx_report;

typedef struct konce_run {
	konce_identity *sid, *cid;
	bool offload;
	bool pmtud;  /* max_datagram KONCE_PMTU_MAX and the route's MTU as the bound, as a node has */
	/* receiver (child) */
	bool closed;
	rx_report rr;
	/* sender (parent) */
	uint32_t conn;
	bool established, failed;
	uint8_t *msg;  /* the message konce_ep_msg_send copies, with BENCH_COPY=1 */
	bool copy;     /* BENCH_COPY=1: queue by copy (konce_ep_msg_send without KONCE_EP_MSG_TAKE) */
	unsigned outstanding;
	uint64_t sent, delivered_bytes, t_first, t_last, t_stop;
} konce_run;

static void rx_event(bench_node *n, const konce_ep_event *ev)
{
	konce_run *k = n->ctx;
	if (ev->type == KONCE_EV_MESSAGE) {
		k->rr.msgs++;
		k->rr.bytes += ev->len;
		k->rr.bad += ev->len != MSG_SIZE;
	} else if (ev->type == KONCE_EV_CLOSED) {
		k->closed = true;
	}
}

static int konce_receiver(void *ctx, int wfd)
{
	konce_run *k = ctx;
	bench_node n = {.on_event = rx_event, .ctx = k};
	if (bench_node_open_udp(&n))
		return 1;
	if (!k->offload)
		konce_udp_set_offload(n.udp, false, false);
	konce_ep_config cfg = {.identity = k->sid, .max_sessions = 4, .capacity = 1u << 30, .out_ring = 1024,
			       .event_ring = 1024, .max_datagram = k->pmtud ? KONCE_PMTU_MAX : 0,
			       .path_mtu = k->pmtud ? bench_path_mtu : NULL, .cc = bench_cc()};
	if (bench_node_start(&n, &cfg))
		return 1;
	if (write(wfd, &n.local, sizeof n.local) != (ssize_t)sizeof n.local)
		return 1;
	double c0 = bench_cpu_s();
	uint64_t t0 = bench_now_us(), limit = t0 + (uint64_t)((secs + 30) * 1e6);
	while (!k->closed && bench_now_us() < limit)
		bench_node_step(&n, 100000);
	k->rr.cpu_s = bench_cpu_s() - c0;
	k->rr.wall_s = (double)(bench_now_us() - t0) / 1e6;
	k->rr.datagrams = n.rx_datagrams;
	k->rr.wakeups = n.wakeups;
	k->rr.timer_calls = n.timer_calls;
	konce_udp_get_stats(n.udp, &k->rr.udp);
	const struct konce_ep_counters *c = konce_ep_counters(n.ep);
	k->rr.tx_packets = c->tx_packets;
	k->rr.tx_bytes = c->tx_bytes;
	bench_node_close(&n);
	return write(wfd, &k->rr, sizeof k->rr) == (ssize_t)sizeof k->rr ? 0 : 1;
}

static void queue_one(bench_node *n, konce_run *k, uint64_t now)
{
	uint64_t id;
	int r;
	if (k->copy) {
		r = konce_ep_msg_send(n->ep, k->conn, k->msg, MSG_SIZE, KONCE_MSG_CLASS_DEFAULT, 0, now, &id);
	} else {
		/* Handed over, as a node hands over a file it has read into the buffer (ncsend.c).  Its
		 * bytes are what the allocator gives (often the last delivered message's, wiped): the
		 * application's making of them is not the transport's cost. */
		uint8_t *b = konce_env_alloc_raw(konce_env_default(), MSG_SIZE);
		if (!b)
			bench_die(me, "malloc");
		r = konce_ep_msg_send(n->ep, k->conn, b, MSG_SIZE, KONCE_MSG_CLASS_DEFAULT, KONCE_EP_MSG_TAKE, now, &id);
		if (r)
			free(b);
	}
	if (r)
		bench_die(me, "konce_ep_msg_send failed");
	k->outstanding++;
	k->sent++;
}

static void tx_event(bench_node *n, const konce_ep_event *ev)
{
	konce_run *k = n->ctx;
	uint64_t now = bench_now_us();
	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
		k->established = true;
		break;
	case KONCE_EV_FAILED:
	case KONCE_EV_CLOSED:
	case KONCE_EV_MSG_FAILED:
		k->failed = true;
		break;
	case KONCE_EV_MSG_DELIVERED:
		k->outstanding--;
		k->delivered_bytes += MSG_SIZE;
		k->t_last = now;
		if (now < k->t_stop)
			queue_one(n, k, now);
		break;
	default:
		break;
	}
}

typedef struct konce_result {
	double goodput, tx_cpu, rx_cpu, wire_eff;
	uint64_t msgs, delivered;
	konce_udp_stats tx_udp, rx_udp;
	rx_report rr;
	uint64_t tx_packets, tx_bytes, tx_wakeups;
	long long rcvbuf_drops;
} konce_result;

static int run_konce(konce_run *k, konce_result *res)
{
	pid_t pid;
	int rfd;
	konce_addr to;
	k->closed = false;
	memset(&k->rr, 0, sizeof k->rr);
	if (bench_fork(konce_receiver, k, &pid, &rfd))
		bench_die(me, "fork");
	if (bench_read_full(rfd, &to, sizeof to, 5000))
		bench_die(me, "receiver did not start");

	bench_node n = {.on_event = tx_event, .ctx = k};
	if (bench_node_open_udp(&n))
		bench_die(me, "udp");
	if (!k->offload)
		konce_udp_set_offload(n.udp, false, false);
	konce_ep_config cfg = {.identity = k->cid, .max_sessions = 4, .out_ring = 1024, .event_ring = 1024,
			       .max_datagram = k->pmtud ? KONCE_PMTU_MAX : 0, .path_mtu = k->pmtud ? bench_path_mtu : NULL,
			       .cc = bench_cc()};
	if (bench_node_start(&n, &cfg))
		bench_die(me, "endpoint");
	k->established = k->failed = false;
	k->outstanding = 0;
	k->sent = k->delivered_bytes = 0;
	if (konce_ep_connect(n.ep, konce_identity_public(k->sid), &to, NULL, 0, bench_now_us(), &k->conn))
		bench_die(me, "connect");
	uint64_t limit = bench_now_us() + 5000000;
	while (!k->established && !k->failed && bench_now_us() < limit)
		bench_node_step(&n, 100000);
	if (!k->established)
		bench_die(me, "no handshake");

	double c0 = bench_cpu_s();
	long long d0 = bench_udp_rcvbuf_errors();
	k->t_first = k->t_last = bench_now_us();
	k->t_stop = k->t_first + (uint64_t)(secs * 1e6);
	for (int i = 0; i < WINDOW; i++)
		queue_one(&n, k, k->t_first);
	limit = k->t_stop + 30000000;
	while (k->outstanding && !k->failed && bench_now_us() < limit)
		bench_node_step(&n, 100000);
	if (k->outstanding || k->failed)
		bench_die(me, "messages failed or timed out");
	res->tx_cpu = bench_cpu_s() - c0;
	res->rcvbuf_drops = d0 < 0 ? -1 : bench_udp_rcvbuf_errors() - d0;
	res->goodput = (double)k->delivered_bytes / ((double)(k->t_last - k->t_first) / 1e6);
	res->msgs = k->sent;
	res->delivered = k->delivered_bytes;
	konce_udp_get_stats(n.udp, &res->tx_udp);
	res->tx_wakeups = n.wakeups;
	const struct konce_ep_counters *c = konce_ep_counters(n.ep);
	res->tx_packets = c->tx_packets;
	res->tx_bytes = c->tx_bytes;
	res->wire_eff = (double)k->delivered_bytes / (double)c->tx_bytes;

	konce_ep_close(n.ep, k->conn, bench_now_us());
	bench_node_pump(&n);
	if (bench_read_full(rfd, &res->rr, sizeof res->rr, 5000)) {
		fprintf(stderr, "%s: receiver did not see CLOSE; stopping it\n", me);
		kill(pid, SIGTERM);
		memset(&res->rr, 0, sizeof res->rr);
	}
	close(rfd);
	bench_reap(pid, 2000);
	bench_node_close(&n);
	res->rx_cpu = res->rr.cpu_s;
	if (res->rr.msgs && (res->rr.bad || res->rr.msgs != res->msgs))
		bench_die(me, "receiver got wrong messages");
	return 0;
}

/* ---- raw UDP with konce_udp batching ---------------------------------------------------------- */

typedef struct raw_report {
	uint64_t datagrams, bytes, first_us, last_us;
	double cpu_s;
	konce_udp_stats udp;
} raw_report;

static bool raw_offload;
static raw_report raw_rr;

static void raw_rx(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	(void)ctx;
	(void)pkt;
	(void)from;
	uint64_t now = bench_now_us();
	if (!raw_rr.datagrams)
		raw_rr.first_us = now;
	raw_rr.last_us = now;
	raw_rr.datagrams++;
	raw_rr.bytes += len;
}

static int raw_receiver(void *ctx, int wfd)
{
	(void)ctx;
	bench_node n = {0};
	if (bench_node_open_udp(&n))
		return 1;
	if (!raw_offload)
		konce_udp_set_offload(n.udp, false, false);
	if (write(wfd, &n.local, sizeof n.local) != (ssize_t)sizeof n.local)
		return 1;
	double c0 = bench_cpu_s();
	uint64_t limit = bench_now_us() + (uint64_t)((secs + 10) * 1e6);
	for (;;) {
		uint64_t now = bench_now_us();
		if (now > limit || (raw_rr.datagrams && now > raw_rr.last_us + 300000))
			break;
		struct pollfd p = {.fd = konce_udp_fd(n.udp), .events = POLLIN};
		if (poll(&p, 1, 50) > 0)
			konce_udp_recv(n.udp, 4, raw_rx, NULL);
	}
	raw_rr.cpu_s = bench_cpu_s() - c0;
	konce_udp_get_stats(n.udp, &raw_rr.udp);
	konce_udp_close(n.udp);
	return write(wfd, &raw_rr, sizeof raw_rr) == (ssize_t)sizeof raw_rr ? 0 : 1;
}

typedef struct raw_result {
	double rate, loss, tx_cpu;
	long long rcvbuf_drops;
	raw_report rr;
	konce_udp_stats tx;
} raw_result;

static void run_raw(bool offload, raw_result *res)
{
	pid_t pid;
	int rfd;
	konce_addr to;
	raw_offload = offload;
	memset(&raw_rr, 0, sizeof raw_rr);
	if (bench_fork(raw_receiver, NULL, &pid, &rfd))
		bench_die(me, "fork");
	if (bench_read_full(rfd, &to, sizeof to, 5000))
		bench_die(me, "raw receiver did not start");
	bench_node n = {0};
	if (bench_node_open_udp(&n))
		bench_die(me, "udp");
	if (!offload)
		konce_udp_set_offload(n.udp, false, false);
	uint8_t buf[RAW_SIZE];
	randombytes_buf(buf, sizeof buf);
	double c0 = bench_cpu_s();
	long long d0 = bench_udp_rcvbuf_errors();
	uint64_t stop = bench_now_us() + (uint64_t)(secs * 1e6);
	while (bench_now_us() < stop) {
		for (int i = 0; i < RAW_TRAIN; i++)
			konce_udp_queue(n.udp, buf, sizeof buf, &to);
		if (konce_udp_flush(n.udp) == -EAGAIN) {
			struct pollfd p = {.fd = konce_udp_fd(n.udp), .events = POLLOUT};
			poll(&p, 1, 5);
		}
	}
	res->tx_cpu = bench_cpu_s() - c0;
	konce_udp_get_stats(n.udp, &res->tx);
	konce_udp_close(n.udp);
	if (bench_read_full(rfd, &res->rr, sizeof res->rr, (int)(secs * 1000) + 15000))
		bench_die(me, "raw receiver did not report");
	close(rfd);
	bench_reap(pid, 2000);
	res->rcvbuf_drops = d0 < 0 ? -1 : bench_udp_rcvbuf_errors() - d0;
	double span = (double)(res->rr.last_us - res->rr.first_us) / 1e6;
	res->rate = span > 0 ? (double)res->rr.bytes / span : 0;
	res->loss = res->tx.tx ? 1.0 - (double)res->rr.datagrams / (double)res->tx.tx : 0;
}

/* ---- iperf3 ---------------------------------------------------------------------------------- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof a;
	int port = 5201;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &sl) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Receiver-side bits/s (and UDP loss %) of one iperf3 run, and CPU seconds per GB received (client +
 * server, from iperf3's own cpu_utilization_percent); false with why[] set if unavailable. */
static bool run_iperf(bool udp, double *bps, double *lost_pct, double *cpu_per_gb, char *why, size_t whylen)
{
	if (system("command -v iperf3 >/dev/null 2>&1") != 0) {
		snprintf(why, whylen, "iperf3 not installed");
		return false;
	}
	int port = free_port();
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	fflush(stdout);
	pid_t srv = fork();
	if (srv < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return false;
	}
	if (srv == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(127);
		execlp("iperf3", "iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", ps, (char *)NULL);
		_exit(127);
	}
	char cmd[256];
	snprintf(cmd, sizeof cmd, "iperf3 -c 127.0.0.1 -p %d -t %.0f -J %s 2>/dev/null", port, secs < 1 ? 1 : secs,
		 udp ? "-u -b 0 -l 1200" : "");
	json_t *root = NULL;
	bool ok = false;
	for (int attempt = 0; attempt < 10 && !ok; attempt++) {
		usleep(200000); /* let the server listen */
		FILE *f = popen(cmd, "r");
		if (!f)
			break;
		static char out[1 << 20];
		size_t n = fread(out, 1, sizeof out - 1, f);
		out[n] = 0;
		pclose(f);
		json_decref(root);
		root = json_loads(out, 0, NULL);
		if (!root)
			continue;
		json_t *err = json_object_get(root, "error");
		if (err) {
			snprintf(why, whylen, "iperf3: %s", json_string_value(err) ? json_string_value(err) : "error");
			continue;
		}
		json_t *end = json_object_get(root, "end");
		json_t *sum = json_object_get(end, "sum_received");
		if (!sum)
			sum = json_object_get(end, "sum");
		json_t *b = json_object_get(sum, "bits_per_second");
		if (!json_is_number(b)) {
			snprintf(why, whylen, "iperf3: no bits_per_second in its JSON");
			break;
		}
		*bps = json_number_value(b);
		json_t *l = json_object_get(sum, "lost_percent");
		*lost_pct = json_is_number(l) ? json_number_value(l) : 0;
		json_t *cpu = json_object_get(end, "cpu_utilization_percent");
		json_t *h = json_object_get(cpu, "host_total"), *r = json_object_get(cpu, "remote_total");
		json_t *secs_j = json_object_get(sum, "seconds"), *bytes_j = json_object_get(sum, "bytes");
		*cpu_per_gb = 0;
		if (json_is_number(h) && json_is_number(r) && json_is_number(secs_j) && json_is_number(bytes_j) &&
		    json_number_value(bytes_j) > 0)
			*cpu_per_gb = (json_number_value(h) + json_number_value(r)) / 100 * json_number_value(secs_j) /
				      (json_number_value(bytes_j) / 1e9);
		ok = true;
	}
	json_decref(root);
	bench_reap(srv, 3000); /* the one-off server exits after its test; killed if it did not */
	return ok;
}

/* ---- report ---------------------------------------------------------------------------------- */

/* CPU seconds (sender + receiver) per 10^9 bytes received: comparable across runs on a shared machine. */
static double cpu_per_gb(double cpu_s, uint64_t bytes) { return bytes ? cpu_s / ((double)bytes / 1e9) : 0; }

static void row(const char *name, double Bps, const char *extra)
{
	printf("  %-44s %9.1f MB/s %7.2f Gbit/s  %s\n", name, Bps / 1e6, Bps * 8 / 1e9, extra);
}

static void ratio_row(const char *name, double konce, double base, bool have)
{
	if (have && base > 0)
		printf("  konce (GSO/GRO on) / %-30s %6.3f\n", name, konce / base);
	else
		printf("  konce (GSO/GRO on) / %-30s unavailable\n", name);
}

static void print_konce(const char *name, const konce_result *r)
{
	char x[480];
	snprintf(x, sizeof x,
		 "CPU %.2f s/GB, %llu x 1 MiB, datagrams %.0f B avg, %.0f%% of wire bytes are message, CPU tx %.2f s rx %.2f s (%.1f s), "
		 "%llu GSO sends, %llu GRO reads, %lld rcvbuf drops; tx %.1f datagrams a sendmmsg, %.1f a wakeup; "
		 "rx %.1f datagrams a recvmmsg, %.1f a wakeup",
		 cpu_per_gb(r->tx_cpu + r->rx_cpu, r->delivered), (unsigned long long)r->msgs,
		 r->tx_packets ? (double)r->tx_bytes / (double)r->tx_packets : 0, r->wire_eff * 100, r->tx_cpu, r->rx_cpu,
		 r->rr.wall_s, (unsigned long long)r->tx_udp.gso_sends, (unsigned long long)r->rr.udp.gro_merged,
		 r->rcvbuf_drops, r->tx_udp.tx_calls ? (double)r->tx_udp.tx / (double)r->tx_udp.tx_calls : 0,
		 r->tx_wakeups ? (double)r->tx_udp.tx / (double)r->tx_wakeups : 0,
		 r->rr.udp.rx_calls ? (double)r->rr.udp.rx / (double)r->rr.udp.rx_calls : 0,
		 r->rr.wakeups ? (double)r->rr.udp.rx / (double)r->rr.wakeups : 0);
	row(name, r->goodput, x);
}

/* konce against the seal rate at its own datagram size: wall clock, and per CPU second of the busier
 * side.  On a shared machine a process may get a fraction of a core, so the wall-clock ratio mixes
 * code with load; per CPU second of the busier side (sender or receiver) it does not. */
static void print_per_cpu(const char *name, const konce_result *r, double seal_1200, double seal_big)
{
	double dgram = r->tx_packets ? (double)r->tx_bytes / (double)r->tx_packets : 0;
	double seal = dgram > 4000 ? seal_big : seal_1200;
	printf("  %s / one-core seal rate at its datagram size (%.0f B): %.3f\n", name, dgram, r->goodput / seal);
	double busy = r->tx_cpu > r->rx_cpu ? r->tx_cpu : r->rx_cpu;
	if (busy > 0) {
		double per_cpu = (double)r->delivered / busy;
		printf("  %s per CPU second of its busier side: %.1f MB/s = %.3f of the seal rate\n", name,
		       per_cpu / 1e6, per_cpu / seal);
	}
}

int main(int argc, char **argv)
{
	const char *only = argc > 2 ? argv[2] : "all";
	if (bench_quick())
		secs = 0.2;
	if (argc > 1)
		secs = atof(argv[1]);
	if (sodium_init() < 0 || secs <= 0)
		return 1;
	konce_mtune_bulk(); /* as konce_node_new does: both sides reuse message blocks' pages */
	const char *ccname = getenv("BENCH_CC");
	if (ccname && *ccname && !bench_cc()) {
		fprintf(stderr, "bench_bulk: BENCH_CC=%s is not bbr, newreno or cubic\n", ccname);
		return 1;
	}
	bool do_konce = strcmp(only, "baselines") != 0, do_base = !strcmp(only, "all") || !strcmp(only, "baselines");
	bool only_1200 = !strcmp(only, "konce-1200");
	bool do_off = strcmp(only, "konce-on") != 0 && !only_1200;
	signal(SIGPIPE, SIG_IGN);

	double tcp_bps = 0, udp_bps = 0, udp_lost = 0, dummy, tcp_cpu = 0, udp_cpu = 0;
	bool have_tcp = false, have_udp = false;
	char why_tcp[256] = "", why_udp[256] = "";
	raw_result raw_on = {0}, raw_off = {0};
	konce_result kon = {0}, koff = {0}, kbase = {0};
	/* the AEAD ceiling, at iperf3's 1,200 bytes and at the 8,972-byte datagrams PMTUD reaches on
	 * loopback (KONCE_PMTU_MAX, the konce-on run's size); measured first so that it shares the load
	 * of the runs beside it */
	double seal_1200 = bench_aead_seal_rate(1200, secs / 3), seal_big = bench_aead_seal_rate(8972, secs / 3);

	if (do_base) {
		have_tcp = run_iperf(false, &tcp_bps, &dummy, &tcp_cpu, why_tcp, sizeof why_tcp);
		have_udp = run_iperf(true, &udp_bps, &udp_lost, &udp_cpu, why_udp, sizeof why_udp);
		run_raw(true, &raw_on);
		run_raw(false, &raw_off);
	}
	if (do_konce) {
		konce_run k = {0};
		if (konce_identity_generate(&k.sid, konce_env_default()) ||
		    konce_identity_generate(&k.cid, konce_env_default()))
			bench_die(me, "identity");
		k.msg = malloc(MSG_SIZE);
		if (!k.msg)
			bench_die(me, "malloc");
		randombytes_buf(k.msg, MSG_SIZE);
		k.copy = getenv("BENCH_COPY") && strcmp(getenv("BENCH_COPY"), "0") != 0;
		k.offload = true;
		k.pmtud = true;
		if (!only_1200)
			run_konce(&k, &kon);
		k.pmtud = false;
		if (do_off || only_1200)
			run_konce(&k, &kbase);
		k.offload = false;
		k.pmtud = true;
		if (do_off)
			run_konce(&k, &koff);
		free(k.msg);
		konce_identity_free(k.sid);
		konce_identity_free(k.cid);
	}

	char x[320];
	printf("%s: two processes over loopback, %g s per figure; MB = 10^6 bytes; receiver-side figures\n", me,
	       secs);
	if (do_base) {
		if (have_tcp) {
			snprintf(x, sizeof x, "CPU %.2f s/GB", tcp_cpu);
			row("iperf3 TCP (baseline)", tcp_bps / 8, x);
		}
		else
			printf("  %-44s unavailable (%s)\n", "iperf3 TCP (baseline)", why_tcp);
		if (have_udp) {
			snprintf(x, sizeof x, "CPU %.2f s/GB, loss %.2f%%", udp_cpu, udp_lost);
			row("iperf3 UDP 1200 B, -b 0 (baseline)", udp_bps / 8, x);
		} else {
			printf("  %-44s unavailable (%s)\n", "iperf3 UDP 1200 B (baseline)", why_udp);
		}
		snprintf(x, sizeof x,
			 "CPU %.2f s/GB, loss %.2f%% (%lld rcvbuf drops), %llu GSO sends, %llu GRO reads, tx CPU %.2f s, rx CPU %.2f s",
			 cpu_per_gb(raw_on.tx_cpu + raw_on.rr.cpu_s, raw_on.rr.bytes), raw_on.loss * 100, raw_on.rcvbuf_drops, (unsigned long long)raw_on.tx.gso_sends,
			 (unsigned long long)raw_on.rr.udp.gro_merged, raw_on.tx_cpu, raw_on.rr.cpu_s);
		row("raw UDP 1200 B, konce_udp, GSO/GRO on", raw_on.rate, x);
		snprintf(x, sizeof x, "CPU %.2f s/GB, loss %.2f%% (%lld rcvbuf drops), tx CPU %.2f s, rx CPU %.2f s",
			 cpu_per_gb(raw_off.tx_cpu + raw_off.rr.cpu_s, raw_off.rr.bytes), raw_off.loss * 100,
			 raw_off.rcvbuf_drops, raw_off.tx_cpu, raw_off.rr.cpu_s);
		row("raw UDP 1200 B, konce_udp, GSO/GRO off", raw_off.rate, x);
	}
	row("XChaCha20-Poly1305 seal, one core, 1200 B", seal_1200, "(baseline: plaintext bytes sealed per CPU second)");
	row("XChaCha20-Poly1305 seal, one core, 8972 B", seal_big, "(baseline)");
	if (do_konce && only_1200) {
		print_konce("konce, GSO/GRO on, no PMTUD (1,200 B)", &kbase);
		print_per_cpu("konce (GSO/GRO on, no PMTUD)", &kbase, seal_1200, seal_big);
	} else if (do_konce) {
		const konce_result *r[3] = {&kon, &koff, &kbase};
		static const char *names[3] = {"konce messages, GSO/GRO on", "konce messages, GSO/GRO off",
					       "konce, GSO/GRO on, no PMTUD (1,200 B)"};
		for (int i = 0; i < (do_off ? 3 : 1); i++)
			print_konce(names[i], r[i]);
		if (do_off) {
			printf("  konce GSO/GRO on / off: %.3f\n", koff.goodput > 0 ? kon.goodput / koff.goodput : 0);
			printf("  konce GSO/GRO on, PMTUD / no PMTUD: %.3f\n", kbase.goodput > 0 ? kon.goodput / kbase.goodput : 0);
		}
		print_per_cpu("konce (GSO/GRO on)", &kon, seal_1200, seal_big);
		if (do_off)
			print_per_cpu("konce (GSO/GRO on, no PMTUD)", &kbase, seal_1200, seal_big);
		if (do_base) {
			ratio_row("iperf3 TCP", kon.goodput, tcp_bps / 8, have_tcp);
			ratio_row("iperf3 UDP 1200 B", kon.goodput, udp_bps / 8, have_udp);
			ratio_row("raw UDP, GSO/GRO on", kon.goodput, raw_on.rate, true);
			ratio_row("raw UDP, GSO/GRO off", kon.goodput, raw_off.rate, true);
			if (do_off && have_udp)
				printf("  konce (GSO/GRO on, no PMTUD, 1,200 B) / iperf3 UDP 1200 B: %.3f\n",
				       udp_bps > 0 ? kbase.goodput / (udp_bps / 8) : 0);
			printf("  konce (GSO/GRO off) / raw UDP, GSO/GRO off: %.3f\n",
			       raw_off.rate > 0 ? koff.goodput / raw_off.rate : 0);
		}
	}
	return 0;
}
