/* udp.h - batched UDP sockets for the I/O layer.
 *
 * One non-blocking socket, IPv6 dual-stack when bound to [::] (IPv4 peers appear as ::ffff:a.b.c.d,
 * which is how konce_addr stores them anyway), or plain IPv4.  Receiving uses recvmmsg() and, where the
 * kernel offers it, UDP GRO (one syscall returns many same-sized datagrams, split here).  Sending queues
 * datagrams and writes them with sendmmsg(); runs of equal-sized datagrams to one destination go out as
 * one UDP GSO super-datagram.  If the kernel or the route refuses GSO (EIO, EINVAL, EMSGSIZE), GSO is
 * switched off for this socket and the same datagrams are sent one by one: nothing is lost to the
 * fallback.  Queued datagrams are copied (konce_udp_queue) or lent (konce_udp_queue_ref: the kernel
 * reads the caller's bytes).  Nothing here allocates after konce_udp_open().
 */
#ifndef KONCE_UDP_H
#define KONCE_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

enum {
	KONCE_UDP_BATCH = 64,     /* datagrams per recvmmsg / sendmmsg */
	KONCE_UDP_MAX_GSO = 64,   /* segments in one GSO send */
	KONCE_UDP_RCVBUF = 4 << 20, /* socket buffers asked for (the kernel may cap them) */
};

typedef struct konce_udp konce_udp;

typedef struct konce_udp_stats {
	uint64_t rx, tx, rx_calls, tx_calls, tx_dropped, rx_truncated, gso_sends, gro_merged;
	bool gso, gro; /* in use now */
} konce_udp_stats;

typedef void (*konce_udp_rx_fn)(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from);

/* The one dual-stack opener: a non-blocking, close-on-exec UDP socket bound to `bind` (port 0 =
 * any; an IPv6 address makes it dual-stack, IPV6_V6ONLY off).  Its fd, with *local = the bound
 * address if local is not NULL, or -errno.  konce_udp_open() and the traversal's extra sockets
 * (birthday, filtering test, the lifetime probe) use it. */
int konce_udp_socket(const konce_addr *bind, konce_addr *local);
/* Bare sockets (konce_udp_socket), one datagram at a time, never blocking.  recv: its length
 * with *from, -EAGAIN when none waits, -EAFNOSUPPORT for a source konce_addr cannot hold (the
 * datagram is consumed), or another -errno (an ICMP error queued on the socket: read on).
 * send: v6 = the socket is AF_INET6; 0 or -errno. */
int konce_udp_recv_one(int fd, uint8_t *buf, size_t cap, konce_addr *from);
int konce_udp_send_one(int fd, bool v6, const uint8_t *pkt, size_t len, const konce_addr *to);
/* Binds a socket to `bind` (port 0 = any).  For [::] the socket is dual-stack.  0 or -errno, with err
 * naming the address and the reason. */
int konce_udp_open(konce_udp **out, const konce_addr *bind, char *err, size_t errlen);
void konce_udp_close(konce_udp *u);
int konce_udp_fd(const konce_udp *u);
/* The bound address (with the port the kernel chose). */
int konce_udp_local(const konce_udp *u, konce_addr *out);
/* Reads what is waiting, up to `max_calls` recvmmsg calls, calling fn per datagram.  Returns the number
 * of datagrams, or -errno for a socket error (EAGAIN is not one). */
int konce_udp_recv(konce_udp *u, unsigned max_calls, konce_udp_rx_fn fn, void *ctx);
/* Queues one datagram (copied, up to KONCE_PMTU_MAX bytes); flushes first if the queue is full.  0,
 * -EMSGSIZE, or a send error. */
int konce_udp_queue(konce_udp *u, const uint8_t *pkt, size_t len, const konce_addr *to);
/* The same by reference: the kernel reads pkt itself (one iovec of sendmmsg; a GSO train is one
 * message whose iovecs are its datagrams in order, cut by the kernel at the first one's size, so a
 * train is a run of equal sizes to one destination whose last may be shorter).  Lifetime:
 * pkt[0, len) must stay valid and unchanged until the next konce_udp_flush() or konce_udp_close()
 * returns (a queue call flushes earlier when the queue is full); after that the socket holds no
 * pointer to it (sent, or dropped and counted). */
int konce_udp_queue_ref(konce_udp *u, const uint8_t *pkt, size_t len, const konce_addr *to);
/* Sends everything queued.  On EAGAIN the rest is dropped and counted (UDP may drop anyway; the
 * protocols above recover).  0 or -errno. */
int konce_udp_flush(konce_udp *u);
void konce_udp_get_stats(const konce_udp *u, konce_udp_stats *out);
/* The largest datagram (UDP payload) toward peer that the route's MTU allows: IP_MTU (IPV6_MTU)
 * of a socket connected to it, minus the IP and UDP headers; 0 if unknown.  The upper bound of a
 * session's path MTU search (konce_ep_config.path_mtu).  The socket itself sets DF on every
 * datagram and never fragments (IP_PMTUDISC_PROBE), so the search sees what the path carries. */
unsigned konce_udp_path_mtu(const konce_addr *peer);
/* For tests and benchmarks: turn GSO/GRO use off (they are on by default where supported). */
void konce_udp_set_offload(konce_udp *u, bool gso, bool gro);

#endif
