/* args.c - checking PEER and HOST:PORT arguments (see args.h). */
#include "tools/args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "konce/konce.h"
#include "node/base/addr.h"
#include "tools/ctl.h"

/* Well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF), no C0/C1 controls, no
 * spaces, no DEL, no '@'. */
static bool petname_chars_ok(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s;
		if (c <= 0x20 || c == 0x7f || c == '@')
			return false;
		if (c < 0x80) {
			s++;
			continue;
		}
		int n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f) || cp == 0xa0)
			return false;
		s += n + 1;
	}
	return true;
}

bool konce_args_petname_ok(const char *name)
{
	size_t n = strlen(name);
	return n >= 1 && n <= 64 && n != KONCE_KEY_TEXT_LEN && petname_chars_ok((const unsigned char *)name);
}

int konce_args_check_peer(const char *cmd, const char *peer)
{
	uint8_t pk[KONCE_KEY_BYTES];
	if (konce_key_from_text(pk, peer) == 0)
		return 0;
	if (strlen(peer) == KONCE_KEY_TEXT_LEN) {
		fprintf(stderr, "konce %s: bad key text '%s': not a public key (43 characters of base64url, "
				"see konce pubkey)\n", cmd, peer);
		return KONCE_EXIT_USAGE;
	}
	if (!konce_args_petname_ok(peer)) {
		fprintf(stderr, "konce %s: bad key text '%s': neither a public key (43 characters of base64url) nor "
				"a petname (1 to 64 characters, no spaces or '@')\n", cmd, peer);
		return KONCE_EXIT_USAGE;
	}
	return 0;
}

int konce_args_split_peer(const char *arg, char peer[KONCE_ARGS_PEER_MAX], char group[KONCE_KEY_TEXT_LEN + 1],
			  const char **hostport)
{
	const char *at = strchr(arg, '@');
	size_t len = at ? (size_t)(at - arg) : strlen(arg);
	uint8_t k[KONCE_KEY_BYTES];
	group[0] = '\0';
	*hostport = at ? at + 1 : NULL;
	peer[0] = '\0';
	/* "+GROUP": a '+' and 43 characters that are a key's text, at the end of the PEER part */
	if (len > KONCE_KEY_TEXT_LEN + 1 && arg[len - KONCE_KEY_TEXT_LEN - 1] == '+') {
		const char *g = arg + len - KONCE_KEY_TEXT_LEN;
		memcpy(group, g, KONCE_KEY_TEXT_LEN);
		group[KONCE_KEY_TEXT_LEN] = '\0';
		if (konce_key_from_text(k, group) == 0)
			len -= KONCE_KEY_TEXT_LEN + 1;
		else
			group[0] = '\0';
	}
	if (len >= KONCE_ARGS_PEER_MAX)
		return -EINVAL;
	memcpy(peer, arg, len);
	peer[len] = '\0';
	return 0;
}

int konce_args_peer_addr(const char *cmd, const char *arg, char peer[KONCE_ARGS_PEER_MAX],
			 char group[KONCE_KEY_TEXT_LEN + 1], const char *addr_arg, char *addr, size_t addrlen)
{
	const char *at;
	if (konce_args_split_peer(arg, peer, group, &at) || at) {
		fprintf(stderr, "konce %s: bad key text '%s': PEER[+GROUP] is a key or a petname, and a group key "
				"(no @HOST:PORT: see --addr)\n", cmd, arg);
		return KONCE_EXIT_USAGE;
	}
	int status = konce_args_check_peer(cmd, peer);
	if (status || !addr_arg)
		return status;
	char err[512];
	int r = konce_args_resolve(addr_arg, addr, addrlen, err, sizeof(err));
	if (r) {
		fprintf(stderr, "konce %s: --addr: %s\n", cmd, err);
		return r == -EINVAL ? KONCE_EXIT_USAGE : KONCE_EXIT_FAIL;
	}
	return 0;
}

int konce_args_resolve(const char *text, char *out, size_t outlen, char *err, size_t errlen)
{
	char host[256];
	const char *port;
	size_t hlen;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "'%s': expected [IPv6]:PORT", text);
			return -EINVAL;
		}
		hlen = (size_t)(close - text - 1);
		memcpy(host, text + 1, hlen < sizeof(host) ? hlen : 0);
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s': expected HOST:PORT", text);
			return -EINVAL;
		}
		if (memchr(text, ':', (size_t)(colon - text))) {
			snprintf(err, errlen, "'%s': put an IPv6 address in brackets: [ADDR]:PORT", text);
			return -EINVAL;
		}
		hlen = (size_t)(colon - text);
		memcpy(host, text, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': %s host name", text, hlen ? "overlong" : "missing");
		return -EINVAL;
	}
	host[hlen] = '\0';
	size_t plen = strlen(port);
	if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen || atoi(port) < 1 || atoi(port) > 65535) {
		snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535", text);
		return -EINVAL;
	}

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -EHOSTUNREACH;
	}
	konce_addr a;
	int r = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai && r; ai = ai->ai_next)
		r = konce_addr_from_sockaddr(&a, ai->ai_addr) ? -EHOSTUNREACH : 0;
	freeaddrinfo(res);
	if (r) {
		snprintf(err, errlen, "cannot resolve '%s': no IPv4 or IPv6 address", host);
		return r;
	}
	char buf[KONCE_ADDR_STRLEN];
	if ((size_t)snprintf(out, outlen, "%s", konce_addr_str(&a, buf)) >= outlen) {
		snprintf(err, errlen, "address buffer too small");
		return -ENAMETOOLONG;
	}
	return 0;
}

int konce_args_seconds(const char *text, double min_s, double max_s, unsigned *ms)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	/* no hex floats, inf or nan: digits and at most one point */
	if (!*text || *end || errno || strspn(text, "0123456789.") != strlen(text) || !(v >= min_s && v <= max_s))
		return -EINVAL;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	return 0;
}

enum { HIDDEN_DASH = 0x1f }; /* a control character: never the start of an option or of a key */

void konce_args_hide_keys(int argc, char **argv)
{
	uint8_t pk[KONCE_KEY_BYTES];
	char t[KONCE_KEY_TEXT_LEN + 1];
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strnlen(a, KONCE_KEY_TEXT_LEN) < KONCE_KEY_TEXT_LEN ||
		    (a[KONCE_KEY_TEXT_LEN] && a[KONCE_KEY_TEXT_LEN] != '@' && a[KONCE_KEY_TEXT_LEN] != '+'))
			continue;
		memcpy(t, a, KONCE_KEY_TEXT_LEN);
		t[KONCE_KEY_TEXT_LEN] = 0;
		if (konce_key_from_text(pk, t) == 0)
			argv[i][0] = HIDDEN_DASH;
	}
}

void konce_args_unhide_keys(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == HIDDEN_DASH)
			argv[i][0] = '-';
}
