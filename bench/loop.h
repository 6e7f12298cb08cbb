/* loop.h - the benchmarks' I/O loop: one konce endpoint on one batched UDP socket, in one process.
 *
 * The same shape as node/io/node_io.c, without libevent: ppoll() on the socket with the endpoint's
 * next timer as the timeout (nanosecond resolution, so pacing is not rounded to milliseconds);
 * recvmmsg batches into konce_ep_input(); then events, then datagrams into konce_udp_queue(),
 * then one konce_udp_flush().  Also small process helpers shared by the benches (clock, rusage,
 * RSS, a child that reports back through a pipe).
 */
#ifndef KONCE_BENCH_LOOP_H
#define KONCE_BENCH_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/transport/endpoint.h"
#include "node/io/udp.h"

typedef struct bench_node bench_node;
struct bench_node {
	konce_ep *ep;
	konce_udp *udp;
	konce_addr local;
	void (*on_event)(bench_node *n, const konce_ep_event *ev); /* may be NULL */
	void *ctx;
	uint64_t wakeups, timer_calls, rx_datagrams;
	unsigned rx_since_pump;
	bool has_extra, extra_ready; /* step() also polls extra_fd and says whether it is readable */
	int extra_fd;
};

/* BENCH_QUICK=1 in the environment: each bench shrinks its counts and intervals so it finishes in a
 * second or two (CI's smoke run, `make bench-smoke`).  Its figures are then not worth quoting; the
 * point is that every code path still runs and every check in it still holds. */
bool bench_quick(void);

uint64_t bench_now_us(void);
/* The monotonic clock in seconds. */
double bench_now_s(void);
/* CPU seconds (user + system) this process has used. */
double bench_cpu_s(void);
/* Resident set size in KiB (/proc/self/status VmRSS), -1 if unknown. */
long bench_rss_kib(void);
__attribute__((noreturn)) void bench_die(const char *who, const char *what);
/* The kernel's UDP RcvbufErrors (/proc/net/snmp, this network namespace): receive-buffer drops,
 * counted per skb (a GRO/GSO super-datagram is one).  -1 if unknown. */
long long bench_udp_rcvbuf_errors(void);

/* X25519 operations (crypto_scalarmult) per second over about secs: the baseline that the
 * handshake and proof-of-work benches measure beside their figures.  Needs sodium_init(). */
double bench_x25519_rate(double secs);
/* Plaintext bytes per CPU second that this process seals with libsodium's XChaCha20-Poly1305
 * (IETF), one core, len bytes per packet from one buffer, a fresh nonce per packet and 16 bytes of
 * associated data: the ceiling for a one-core sender that encrypts every byte, the baseline of the
 * bulk and seal benches.  Measured for `seconds` of CPU time.  Needs sodium_init(). */
double bench_aead_seal_rate(size_t len, double seconds);

/* A socket bound to 127.0.0.1 on any port; n->local gets its address.  0 or -errno. */
int bench_node_open_udp(bench_node *n);
/* The endpoint, created now (call after fork, in the process that runs it).  0 or -errno. */
int bench_node_start(bench_node *n, const konce_ep_config *cfg);
void bench_node_close(bench_node *n);
/* konce_ep_config.path_mtu as a node sets it: the route's MTU toward peer (konce_udp_path_mtu). */
unsigned bench_path_mtu(void *ctx, const konce_addr *peer);
/* Events to on_event, datagrams to the socket, one flush. */
void bench_node_pump(bench_node *n);
/* Waits at most max_wait_us for the socket or the endpoint's timer, then serves both and pumps. */
void bench_node_step(bench_node *n, uint64_t max_wait_us);

/* Fork a child running fn(ctx, wfd); the child writes its report to wfd and exits with fn's
 * return.  The parent gets the child's pid and the read end.  0 or -errno. */
int bench_fork(int (*fn)(void *ctx, int wfd), void *ctx, pid_t *pid, int *rfd);
/* Reads exactly len bytes from fd, waiting at most timeout_ms in all.  0, or -1. */
int bench_read_full(int fd, void *buf, size_t len, int timeout_ms);
/* Waits for pid; after grace_ms sends SIGKILL.  Returns its exit status, or -1. */
int bench_reap(pid_t pid, int grace_ms);

#endif
