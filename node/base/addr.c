/* addr.c - konce_addr conversions (see addr.h). */
#include "node/base/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool konce_addr_is_v4(const konce_addr *a) { return memcmp(a->ip, v4_prefix, 12) == 0; }

void konce_addr_source(uint8_t key[16], const konce_addr *a)
{
	if (a->path) {
		memset(key, 0, 16);
		key[8] = 0xff;
		key[9] = 0xfe;
		key[12] = (uint8_t)(a->path >> 8);
		key[13] = (uint8_t)a->path;
		return;
	}
	memcpy(key, a->ip, 16);
	if (!konce_addr_is_v4(a))
		memset(key + 8, 0, 8);
}

void konce_addr_from_v4(konce_addr *a, const uint8_t ip4[4], uint16_t port)
{
	memcpy(a->ip, v4_prefix, 12);
	memcpy(a->ip + 12, ip4, 4);
	a->port = port;
	a->path = 0;
}

void konce_addr_from_v6(konce_addr *a, const uint8_t ip6[16], uint16_t port)
{
	memcpy(a->ip, ip6, 16);
	a->port = port;
	a->path = 0;
}

int konce_addr_from_sockaddr(konce_addr *a, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		konce_addr_from_v4(a, (const uint8_t *)&s4->sin_addr, ntohs(s4->sin_port));
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		konce_addr_from_v6(a, s6->sin6_addr.s6_addr, ntohs(s6->sin6_port));
		return 0;
	}
	return -EAFNOSUPPORT;
}

size_t konce_addr_to_sockaddr(const konce_addr *a, struct sockaddr_storage *ss, bool want_v6)
{
	memset(ss, 0, sizeof(*ss));
	if (konce_addr_is_v4(a) && !want_v6) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip + 12, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(a->port);
	memcpy(s6->sin6_addr.s6_addr, a->ip, 16);
	return sizeof(*s6);
}

char *konce_addr_str(const konce_addr *a, char buf[KONCE_ADDR_STRLEN])
{
	char ip[INET6_ADDRSTRLEN];
	if (a->path) {
		snprintf(buf, KONCE_ADDR_STRLEN, "path:%u", a->path);
	} else if (konce_addr_is_v4(a)) {
		inet_ntop(AF_INET, a->ip + 12, ip, sizeof(ip));
		snprintf(buf, KONCE_ADDR_STRLEN, "%s:%u", ip, a->port);
	} else {
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
		snprintf(buf, KONCE_ADDR_STRLEN, "[%s]:%u", ip, a->port);
	}
	return buf;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int konce_addr_parse(konce_addr *a, const char *text)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint16_t port;
	uint8_t buf[16];

	if (!text)
		return -EINVAL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		if (parse_port(close + 2, &port) || inet_pton(AF_INET6, host, buf) != 1)
			return -EINVAL;
		konce_addr_from_v6(a, buf, port);
		return 0;
	}
	colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (parse_port(colon + 1, &port) || inet_pton(AF_INET, host, buf) != 1)
		return -EINVAL;
	konce_addr_from_v4(a, buf, port);
	return 0;
}
