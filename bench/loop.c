/* loop.c - the benchmarks' I/O loop and process helpers (see loop.h). */
#include "bench/loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PUMP_EVERY = 128 }; /* datagrams fed between pumps, so the endpoint's rings never fill */

bool bench_quick(void)
{
	const char *q = getenv("BENCH_QUICK");
	return q && *q && strcmp(q, "0") != 0;
}

uint64_t bench_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

long bench_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

long long bench_udp_rcvbuf_errors(void)
{
	FILE *f = fopen("/proc/net/snmp", "r");
	char head[512], vals[512];
	long long v = -1;
	while (f && fgets(head, sizeof head, f)) {
		if (strncmp(head, "Udp: ", 5) || !fgets(vals, sizeof vals, f))
			continue;
		/* the header line names the columns; find RcvbufErrors's index */
		int col = -1, i = 0;
		for (char *save = NULL, *t = strtok_r(head + 5, " \n", &save); t; t = strtok_r(NULL, " \n", &save), i++)
			if (!strcmp(t, "RcvbufErrors"))
				col = i;
		i = 0;
		for (char *save = NULL, *t = strtok_r(vals + 5, " \n", &save); t; t = strtok_r(NULL, " \n", &save), i++)
			if (i == col)
				v = strtoll(t, NULL, 10);
		break;
	}
	if (f)
		fclose(f);
	return v;
}

void bench_die(const char *who, const char *what)
{
	fprintf(stderr, "%s: %s\n", who, what);
	exit(1);
}

static volatile unsigned x25519_sink; /* keeps the compiler from dropping the operations */

double bench_x25519_rate(double secs)
{
	uint8_t sk[32], pk[32], out[32];
	randombytes_buf(sk, sizeof sk);
	crypto_scalarmult_base(pk, sk);
	uint64_t n = 0;
	double t0 = bench_now_s(), t;
	do {
		for (int i = 0; i < 100; i++) {
			sk[0] = (uint8_t)n;
			x25519_sink += (unsigned)crypto_scalarmult(out, sk, pk);
			n++;
		}
	} while ((t = bench_now_s()) - t0 < secs);
	return (double)n / (t - t0);
}

double bench_aead_seal_rate(size_t len, double seconds)
{
	static uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], ad[16];
	uint8_t *in = malloc(len), *out = malloc(len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {0};
	if (!in || !out)
		bench_die("bench_aead_seal_rate", "malloc");
	randombytes_buf(key, sizeof key);
	randombytes_buf(in, len);
	uint64_t bytes = 0, pn = 0;
	double c0 = bench_cpu_s(), c;
	do {
		for (int i = 0; i < 256; i++) {
			memcpy(n + 16, &pn, sizeof pn);
			pn++;
			crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, sizeof ad, NULL, n, key);
			bytes += len;
		}
		c = bench_cpu_s() - c0;
	} while (c < seconds);
	free(in);
	free(out);
	return (double)bytes / c;
}

int bench_node_open_udp(bench_node *n)
{
	char err[256];
	konce_addr a;
	konce_addr_parse(&a, "127.0.0.1:0");
	int e = konce_udp_open(&n->udp, &a, err, sizeof err);
	if (e) {
		fprintf(stderr, "%s\n", err);
		return e;
	}
	return konce_udp_local(n->udp, &n->local);
}

int bench_node_start(bench_node *n, const konce_ep_config *cfg)
{
	return konce_ep_new(&n->ep, cfg, bench_now_us());
}

unsigned bench_path_mtu(void *ctx, const konce_addr *peer)
{
	(void)ctx;
	return konce_udp_path_mtu(peer);
}

void bench_node_close(bench_node *n)
{
	konce_ep_free(n->ep);
	konce_udp_close(n->udp);
	n->ep = NULL;
	n->udp = NULL;
}

void bench_node_pump(bench_node *n)
{
	konce_ep_event ev;
	const uint8_t *pkt;
	size_t len;
	konce_addr to;
	while (konce_ep_poll_event(n->ep, &ev))
		if (n->on_event)
			n->on_event(n, &ev);
	/* from the endpoint's out ring straight to the kernel, no copy: a batch lent, sent, released */
	unsigned k;
	do {
		for (k = 0; k < KONCE_UDP_BATCH && konce_ep_poll_datagram_ref(n->ep, &pkt, &len, &to); k++)
			konce_udp_queue_ref(n->udp, pkt, len, &to);
		konce_udp_flush(n->udp);
		konce_ep_release_datagrams(n->ep);
	} while (k == KONCE_UDP_BATCH);
	n->rx_since_pump = 0;
}

static void on_datagram(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	bench_node *n = ctx;
	konce_ep_input(n->ep, pkt, len, from, bench_now_us(), NULL);
	n->rx_datagrams++;
	if (++n->rx_since_pump >= PUMP_EVERY)
		bench_node_pump(n);
}

void bench_node_step(bench_node *n, uint64_t max_wait_us)
{
	uint64_t now = bench_now_us(), at = konce_ep_next_timer(n->ep);
	uint64_t wait = at <= now ? 0 : at - now;
	if (wait > max_wait_us)
		wait = max_wait_us;
	struct pollfd p[2] = {{.fd = konce_udp_fd(n->udp), .events = POLLIN}, {.fd = n->extra_fd, .events = POLLIN}};
	struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
	n->wakeups++;
	n->extra_ready = false;
	if (ppoll(p, n->has_extra ? 2 : 1, &ts, NULL) > 0) {
		if (p[0].revents & POLLIN)
			konce_udp_recv(n->udp, 4, on_datagram, n);
		n->extra_ready = n->has_extra && (p[1].revents & (POLLIN | POLLHUP));
	}
	now = bench_now_us();
	if (konce_ep_next_timer(n->ep) <= now) {
		konce_ep_timer(n->ep, now);
		n->timer_calls++;
	}
	bench_node_pump(n);
}

int bench_fork(int (*fn)(void *ctx, int wfd), void *ctx, pid_t *pid, int *rfd)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid_t p = fork();
	if (p < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return -e;
	}
	if (p == 0) {
		close(fds[0]);
		int r = fn(ctx, fds[1]);
		close(fds[1]);
		_exit(r);
	}
	close(fds[1]);
	*pid = p;
	*rfd = fds[0];
	return 0;
}

int bench_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	uint8_t *b = buf;
	size_t got = 0;
	uint64_t until = bench_now_us() + (uint64_t)timeout_ms * 1000u;
	while (got < len) {
		uint64_t now = bench_now_us();
		if (now >= until)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)((until - now) / 1000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t k = read(fd, b + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

int bench_reap(pid_t pid, int grace_ms)
{
	int st;
	for (int i = 0; i < grace_ms; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0)
			return -1;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}
