/* attacker.h - what the netsim attacker tools (hostile.c, travhostile.c) share: the clock they
 * give libkonce, one non-blocking UDP socket, and moving datagrams between it and an endpoint.
 * Header-only: each .c in tests/netsim is a program of its own. */
#ifndef KONCE_TEST_NETSIM_ATTACKER_H
#define KONCE_TEST_NETSIM_ATTACKER_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "node/base/addr.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"

/* CLOCK_MONOTONIC microseconds, as the node's: libkonce itself never reads a clock. */
static inline uint64_t atk_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A non-blocking UDP socket bound to sa, or -1. */
static inline int atk_socket(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd >= 0 && bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The attacker's socket, bound to sa, and its endpoint, made from cfg under a fresh master
 * identity (cfg->identity is set to it).  0, or 1 with the cause printed under prog's name. */
static inline int atk_open(const char *prog, const struct sockaddr_in *sa, konce_ep_config *cfg, int *fd,
			   konce_identity **master, konce_ep **ep)
{
	*fd = atk_socket(sa);
	if (*fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return 1;
	}
	if (konce_identity_generate(master, konce_env_default()))
		return 1;
	cfg->identity = *master;
	if (konce_ep_new(ep, cfg, atk_now_us())) {
		fprintf(stderr, "%s: konce_ep_new failed\n", prog);
		return 1;
	}
	return 0;
}

static inline void atk_send_to(int fd, const uint8_t *b, size_t n, const konce_addr *to)
{
	struct sockaddr_storage ss;
	size_t sl = konce_addr_to_sockaddr(to, &ss, false);
	if (sl)
		(void)sendto(fd, b, n, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

/* Sends everything ep has queued. */
static inline void atk_flush(int fd, konce_ep *ep)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t n;
	konce_addr to;
	while (konce_ep_poll_datagram(ep, buf, &n, &to))
		atk_send_to(fd, buf, n, &to);
}

typedef void atk_input_fn(const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);

/* Hands input up to 256 datagrams that are waiting on the socket. */
static inline void atk_drain(int fd, atk_input_fn *input)
{
	uint8_t buf[2048];
	struct sockaddr_storage ss;
	for (int k = 0; k < 256; k++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (n < 0)
			break;
		konce_addr from;
		if (!konce_addr_from_sockaddr(&from, (struct sockaddr *)&ss))
			input(buf, (size_t)n, &from, atk_now_us());
	}
}

/* Waits up to a millisecond for the socket, then hands input up to 256 datagrams that are there. */
static inline void atk_receive(int fd, atk_input_fn *input)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	(void)poll(&p, 1, 1);
	atk_drain(fd, input);
}

/* Waits up to a millisecond for any of n (at most 16) sockets to be readable. */
static inline void atk_wait_any(const int *fds, unsigned n)
{
	struct pollfd p[16];
	n = n < 16 ? n : 16;
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	(void)poll(p, n, 1);
}

#endif
