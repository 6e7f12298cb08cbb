/*
 * udpecho: the UDP reflector and probe the netsim scenario tests use to observe NAT behaviour.
 *
 *   udpecho serve ADDR:PORT...
 *       Binds every listed socket (numbered 0, 1, ... in order) and answers forever.  A datagram
 *       "who" is answered with the sender's address as seen here ("IP:PORT"), from the socket it
 *       arrived on; "who via N" answers from socket N instead (a changed address or port, as in an
 *       RFC 5780 filtering test).  Anything else is echoed back.
 *
 *   udpecho probe STEP...
 *       Runs steps in order on named sockets:
 *         bind NAME PORT            open socket NAME on 0.0.0.0:PORT (0: any port)
 *         send NAME IP:PORT TEXT    send TEXT (hex:XXXX for raw bytes)
 *         recv NAME MS              print "FROM TEXT" for the first datagram within MS
 *                                   milliseconds, or "timeout" (hex:... for non-text payloads;
 *                                   CR and LF in text print as spaces)
 *         ping NAME IP:PORT COUNT GAP_MS
 *                                   send COUNT numbered datagrams GAP_MS apart to an echoing
 *                                   peer and print "sent N received M rtt_ms AVG min MIN
 *                                   median MED max MAX sd SD dup D reorder R": RTT figures
 *                                   over first answers; D answers beyond the first for a
 *                                   datagram; R first answers that arrived after the answer to
 *                                   a later datagram
 *       Exit 0 when every step ran, 2 on bad usage or a socket error.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 16

static int parse_ep(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int open_sock(const struct sockaddr_in *sa)
{
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void ep_str(const struct sockaddr_in *sa, char *out, size_t n)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(out, n, "%s:%u", ip, ntohs(sa->sin_port));
}

static int serve(int argc, char **argv)
{
	struct pollfd pfd[MAX_SOCKS];
	int n = argc, i;

	if (n < 1 || n > MAX_SOCKS)
		return 2;
	for (i = 0; i < n; i++) {
		struct sockaddr_in sa;

		if (parse_ep(argv[i], &sa) < 0 || (pfd[i].fd = open_sock(&sa)) < 0) {
			fprintf(stderr, "udpecho: cannot bind %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		pfd[i].events = POLLIN;
	}
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			char buf[1500], out[64];
			struct sockaddr_in peer;
			socklen_t pl = sizeof(peer);
			ssize_t len;
			int via = i;

			if (!(pfd[i].revents & POLLIN))
				continue;
			len = recvfrom(pfd[i].fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &pl);
			if (len < 0)
				continue;
			buf[len] = '\0';
			if (strncmp(buf, "who", 3) == 0) {
				if (strncmp(buf, "who via ", 8) == 0)
					via = atoi(buf + 8);
				if (via < 0 || via >= n)
					via = i;
				ep_str(&peer, out, sizeof(out));
				sendto(pfd[via].fd, out, strlen(out), 0, (struct sockaddr *)&peer, pl);
			} else {
				sendto(pfd[i].fd, buf, (size_t)len, 0, (struct sockaddr *)&peer, pl);
			}
		}
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ping: numbered datagrams; an answer "seq" is matched to its send time. */
static void ping(int fd, const struct sockaddr_in *to, int count, int gap_ms)
{
	static double sent_at[4096], rtt[4096];
	double sum = 0, sq = 0, next = now_ms(), end, mean, var;
	unsigned char seen[4096] = { 0 };
	int sent = 0, got = 0, dup = 0, reorder = 0, highest = -1;

	if (count > 4096)
		count = 4096;
	end = next + (double)count * gap_ms + 2000.0;
	while (now_ms() < end && (sent < count || got < sent)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double t = now_ms();
		int wait_ms = sent < count ? (int)(next - t) : (int)(end - t);

		if (sent < count && t >= next) {
			char msg[16];

			snprintf(msg, sizeof(msg), "%d", sent);
			sent_at[sent++] = t;
			sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)to, sizeof(*to));
			next += gap_ms;
			continue;
		}
		if (poll(&p, 1, wait_ms < 0 ? 0 : wait_ms) > 0) {
			char buf[64];
			ssize_t len = recv(fd, buf, sizeof(buf) - 1, 0);
			int seq;

			if (len <= 0)
				continue;
			buf[len] = '\0';
			seq = atoi(buf);
			if (seq >= 0 && seq < sent && seen[seq]) {
				dup++;
			} else if (seq >= 0 && seq < sent) {
				double r = now_ms() - sent_at[seq];

				seen[seq] = 1;
				rtt[got++] = r;
				sum += r;
				sq += r * r;
				if (seq < highest)
					reorder++;
				else
					highest = seq;
			}
		}
	}
	mean = got ? sum / got : 0.0;
	var = got > 1 ? (sq - sum * mean) / (got - 1) : 0.0;
	qsort(rtt, (size_t)got, sizeof(rtt[0]), cmp_double);
	/* sd by Newton's method: no libm needed */
	double sd = var > 0 ? var : 0;
	for (int k = 0; k < 40 && var > 0; k++)
		sd = 0.5 * (sd + var / sd);
	printf("sent %d received %d rtt_ms %.2f min %.2f median %.2f max %.2f sd %.2f dup %d reorder %d\n", sent,
	       got, mean, got ? rtt[0] : 0.0, got ? rtt[got / 2] : 0.0, got ? rtt[got - 1] : 0.0, sd, dup, reorder);
	fflush(stdout);
}

struct named {
	char name[32];
	int fd;
};

static int find(struct named *s, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return s[i].fd;
	fprintf(stderr, "udpecho: no socket named %s\n", name);
	return -1;
}

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
	size_t n = 0;

	while (h[0] && h[1] && n < cap) {
		unsigned int b;

		if (sscanf(h, "%2x", &b) != 1)
			break;
		out[n++] = (unsigned char)b;
		h += 2;
	}
	return n;
}

static int probe(int argc, char **argv)
{
	struct named socks[MAX_SOCKS];
	int ns = 0, i = 0;

	while (i < argc) {
		const char *op = argv[i];

		if (strcmp(op, "bind") == 0 && i + 2 < argc && ns < MAX_SOCKS) {
			struct sockaddr_in sa;

			memset(&sa, 0, sizeof(sa));
			sa.sin_family = AF_INET;
			sa.sin_port = htons((uint16_t)atoi(argv[i + 2]));
			snprintf(socks[ns].name, sizeof(socks[ns].name), "%s", argv[i + 1]);
			if ((socks[ns].fd = open_sock(&sa)) < 0) {
				fprintf(stderr, "udpecho: bind %s: %s\n", argv[i + 2], strerror(errno));
				return 2;
			}
			ns++;
			i += 3;
		} else if (strcmp(op, "send") == 0 && i + 3 < argc) {
			struct sockaddr_in sa;
			unsigned char buf[1500];
			size_t len;
			int fd = find(socks, ns, argv[i + 1]);

			if (fd < 0 || parse_ep(argv[i + 2], &sa) < 0)
				return 2;
			if (strncmp(argv[i + 3], "hex:", 4) == 0) {
				len = unhex(argv[i + 3] + 4, buf, sizeof(buf));
			} else {
				len = strlen(argv[i + 3]);
				if (len > sizeof(buf))
					len = sizeof(buf);
				memcpy(buf, argv[i + 3], len);
			}
			if (sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				printf("senderror %s\n", strerror(errno));
			i += 4;
		} else if (strcmp(op, "recv") == 0 && i + 2 < argc) {
			struct pollfd p = { .fd = find(socks, ns, argv[i + 1]), .events = POLLIN };
			unsigned char buf[1500];
			struct sockaddr_in peer;
			socklen_t pl = sizeof(peer);
			char from[64];
			ssize_t len;
			int text = 1;

			if (p.fd < 0)
				return 2;
			if (poll(&p, 1, atoi(argv[i + 2])) <= 0) {
				printf("timeout\n");
			} else if ((len = recvfrom(p.fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl)) < 0) {
				printf("recverror %s\n", strerror(errno));
			} else {
				ep_str(&peer, from, sizeof(from));
				for (ssize_t k = 0; k < len; k++)
					if (!isprint(buf[k]) && buf[k] != '\r' && buf[k] != '\n')
						text = 0;
				printf("%s %s", from, text ? "" : "hex:");
				for (ssize_t k = 0; k < len; k++) /* text: line breaks become spaces */
					printf(text ? "%c" : "%02x", text && !isprint(buf[k]) ? ' ' : buf[k]);
				printf("\n");
			}
			fflush(stdout);
			i += 3;
		} else if (strcmp(op, "ping") == 0 && i + 4 < argc) {
			struct sockaddr_in sa;
			int fd = find(socks, ns, argv[i + 1]);

			if (fd < 0 || parse_ep(argv[i + 2], &sa) < 0)
				return 2;
			ping(fd, &sa, atoi(argv[i + 3]), atoi(argv[i + 4]));
			i += 5;
		} else {
			fprintf(stderr, "udpecho: bad step at '%s'\n", op);
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "probe") == 0)
		return probe(argc - 2, argv + 2);
	fprintf(stderr, "usage: udpecho serve ADDR:PORT... | udpecho probe STEP...\n");
	return 2;
}
