/* probe_sock.c - UDP sockets that say where and how each datagram arrived, and small helpers. */
#include "tools/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int probe_udp_open(const konce_addr *bind_to)
{
	struct sockaddr_storage ss;
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(bind_to, &ss, false);
	int on = 1;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (ss.ss_family == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int probe_local(int fd, konce_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return konce_addr_from_sockaddr(a, (struct sockaddr *)&ss);
}

int probe_udp_recv(int fd, probe_rx *rx)
{
	struct sockaddr_storage from;
	union {
		char buf[256];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {rx->buf, sizeof(rx->buf)};
	struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	rx->len = (size_t)n;
	rx->truncated = mh.msg_flags & MSG_TRUNC;
	rx->ttl = -1;
	rx->has_dst = false;
	rx->at_us = probe_now_us();
	if (konce_addr_from_sockaddr(&rx->src, (struct sockaddr *)&from) < 0)
		memset(&rx->src, 0, sizeof(rx->src));
	probe_local(fd, &rx->dst);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			konce_addr_from_v4(&rx->dst, (const uint8_t *)&pi.ipi_addr, rx->dst.port);
			rx->has_dst = true;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			int ttl;
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
			rx->ttl = ttl;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			konce_addr_from_v6(&rx->dst, pi.ipi6_addr.s6_addr, rx->dst.port);
			rx->has_dst = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			int hl;
			memcpy(&hl, CMSG_DATA(c), sizeof(hl));
			rx->ttl = hl;
		}
	}
	return 1;
}

static bool ip_is_any(const konce_addr *a)
{
	static const uint8_t any6[16], any4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return !memcmp(a->ip, any6, 16) || !memcmp(a->ip, any4, 16);
}

int probe_udp_send(int fd, const konce_addr *to, const konce_addr *src_ip, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(to, &ss, !konce_addr_is_v4(to));
	union {
		char buf[64];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_name = &ss, .msg_namelen = sl, .msg_iov = &iov, .msg_iovlen = 1};
	memset(&ctl, 0, sizeof(ctl));
	if (src_ip && !ip_is_any(src_ip)) {
		mh.msg_control = ctl.buf;
		struct cmsghdr *c = (struct cmsghdr *)ctl.buf;
		if (ss.ss_family == AF_INET && konce_addr_is_v4(src_ip)) {
			struct in_pktinfo pi = {0};
			memcpy(&pi.ipi_spec_dst, src_ip->ip + 12, 4);
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		} else if (ss.ss_family == AF_INET6 && !konce_addr_is_v4(src_ip)) {
			struct in6_pktinfo pi = {0};
			memcpy(&pi.ipi6_addr, src_ip->ip, 16);
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		} else {
			mh.msg_control = NULL;
		}
	}
	ssize_t n = sendmsg(fd, &mh, 0);
	return n < 0 ? -errno : 0;
}

int probe_parse_bind(const char *text, konce_addr *out)
{
	char buf[96];
	const char *p = text;
	if (!text || !*text)
		return -EINVAL;
	if (strspn(text, "0123456789") == strlen(text)) {
		if (snprintf(buf, sizeof(buf), "0.0.0.0:%s", text) >= (int)sizeof(buf))
			return -EINVAL;
		p = buf;
	}
	return konce_addr_parse(out, p);
}

int probe_resolve(const char *text, uint16_t default_port, int family, konce_addr *out, const char **err)
{
	char host[256], port[8];
	const char *colon = strchr(text, ':');
	*err = NULL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (close[1] && close[1] != ':') || (size_t)(close - text) > sizeof(host)) {
			*err = "malformed [address]:port";
			return -EINVAL;
		}
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		snprintf(port, sizeof(port), "%s", close[1] ? close + 2 : "");
	} else if (colon && !strchr(colon + 1, ':')) {
		if ((size_t)(colon - text) >= sizeof(host)) {
			*err = "host name too long";
			return -EINVAL;
		}
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		if (strlen(text) >= sizeof(host)) {
			*err = "host name too long";
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "%s", text);
		port[0] = '\0';
	}
	if (!port[0])
		snprintf(port, sizeof(port), "%u", default_port);
	char *end;
	unsigned long pv = strtoul(port, &end, 10);
	if (*end || pv == 0 || pv > 65535 || !host[0]) {
		*err = "bad port or empty host";
		return -EINVAL;
	}
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM}, *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		*err = gai_strerror(rc);
		return -EHOSTUNREACH;
	}
	rc = -EAFNOSUPPORT;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (konce_addr_from_sockaddr(out, ai->ai_addr) == 0) {
			rc = 0;
			break;
		}
	freeaddrinfo(res);
	if (rc)
		*err = "no IPv4 or IPv6 address";
	return rc;
}

uint64_t probe_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void probe_sleep_until(uint64_t at_us)
{
	struct timespec ts = {.tv_sec = (time_t)(at_us / 1000000), .tv_nsec = (long)(at_us % 1000000) * 1000};
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

uint64_t probe_random64(void)
{
	uint64_t v;
	randombytes_buf(&v, sizeof(v));
	return v;
}

int probe_wait(const int *fds, int n, uint64_t until_us)
{
	struct pollfd pfd[64];
	if (n > 64)
		n = 64;
	for (;;) {
		uint64_t now = probe_now_us();
		int ms = now >= until_us ? 0 : (int)((until_us - now + 999) / 1000);
		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		int r = poll(pfd, (nfds_t)n, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (probe_now_us() >= until_us)
				return -1;
			continue;
		}
		for (int i = 0; i < n; i++)
			if (pfd[i].revents)
				return i;
	}
}

void probe_hexdump(FILE *f, const uint8_t *buf, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	for (size_t i = 0; i < n; i += 16) {
		fprintf(f, "    %04zx ", i);
		for (size_t k = i; k < i + 16; k++) {
			if (k < n)
				fprintf(f, " %02x", buf[k]);
			else
				fputs("   ", f);
		}
		fputs("  ", f);
		for (size_t k = i; k < i + 16 && k < n; k++)
			fputc(buf[k] >= 0x20 && buf[k] < 0x7f ? buf[k] : '.', f);
		fputc('\n', f);
	}
	if (n < len)
		fprintf(f, "    ... %zu more bytes\n", len - n);
}

json_t *probe_json_hex(const uint8_t *buf, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	char *s = malloc(2 * n + 1);
	if (!s)
		return json_null();
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", buf[i]);
	s[2 * n] = '\0';
	json_t *j = json_string(s);
	free(s);
	return j;
}

json_t *probe_json_addr(const konce_addr *a)
{
	char b[KONCE_ADDR_STRLEN];
	return json_string(konce_addr_str(a, b));
}

void probe_json_print(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	if (s) {
		puts(s);
		free(s);
	}
	fflush(stdout);
	json_decref(j);
}

void probe_timestamp(char out[32])
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(out, 32, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

const char *probe_rewrite_str(const konce_addr *local, const konce_addr *seen)
{
	bool same_ip = !memcmp(local->ip, seen->ip, 16);
	if (same_ip && local->port == seen->port)
		return "not rewritten";
	if (same_ip)
		return "port rewritten, address kept";
	if (local->port == seen->port)
		return "address rewritten, port preserved";
	return "address and port rewritten";
}
