/* probe.h - shared pieces of `konce probe`: sockets that report where and how a packet arrived,
 * name resolution, output helpers.  The codecs (nat/stun, nat/probewire) and the classifier
 * (nat/classify) hold no I/O; everything here is the I/O around them. */
#ifndef KONCE_TOOLS_PROBE_H
#define KONCE_TOOLS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "konce/konce.h"
#include "nat/rawpkt.h"
#include "node/base/addr.h"

#define KONCE_PROBE_SOFTWARE "konce probe " KONCE_VERSION_STRING

enum { PROBE_RX_MAX = 2048 };

typedef struct probe_rx {
	uint8_t buf[PROBE_RX_MAX];
	size_t len;
	bool truncated;
	konce_addr src;     /* as it arrived */
	konce_addr dst;     /* local address it arrived on (IP_PKTINFO), port of the socket */
	bool has_dst;
	int ttl;            /* TTL / hop limit, -1 unknown */
	uint64_t at_us;     /* monotonic */
} probe_rx;

/* UDP socket bound to *bind (port 0: any), with PKTINFO and TTL reporting.  fd or -errno. */
int probe_udp_open(const konce_addr *bind);
/* One datagram, without blocking: 1 got one, 0 none waiting, -errno. */
int probe_udp_recv(int fd, probe_rx *rx);
/* Sends from fd; if src_ip is given the packet leaves with that source address (IP_PKTINFO). */
int probe_udp_send(int fd, const konce_addr *to, const konce_addr *src_ip, const void *buf, size_t len);
/* The address fd is bound to. */
int probe_local(int fd, konce_addr *a);

/* "host", "host:port", "[v6]:port", "v6": resolves with getaddrinfo, first usable address,
 * preferring family (AF_UNSPEC, AF_INET, AF_INET6).  0 or -errno; *err names the problem. */
int probe_resolve(const char *text, uint16_t default_port, int family, konce_addr *out, const char **err);
/* "[ADDR:]PORT" as `listen` takes it, numeric only. */
int probe_parse_bind(const char *text, konce_addr *out);

uint64_t probe_now_us(void);
void probe_sleep_until(uint64_t at_us); /* monotonic, absolute; returns early only on a signal */
uint64_t probe_random64(void);
/* Waits until one of fds is readable or until_us passes: index, -1 on timeout. */
int probe_wait(const int *fds, int n, uint64_t until_us);

/* Output. */
void probe_hexdump(FILE *f, const uint8_t *buf, size_t len, size_t max);
json_t *probe_json_hex(const uint8_t *buf, size_t len, size_t max);
json_t *probe_json_addr(const konce_addr *a);
void probe_json_print(json_t *j); /* one line on stdout, then decref */
void probe_timestamp(char out[32]); /* wall clock, HH:MM:SS.mmm, for display only */
/* "rewritten (address and port)", "port preserved", "not rewritten". */
const char *probe_rewrite_str(const konce_addr *local, const konce_addr *seen);

/* Showing decoded packets (probe_show.c). */
struct konce_probewire_msg;
struct konce_stun_msg;
void probe_show_probe(FILE *f, const struct konce_probewire_msg *p);
json_t *probe_json_probe(const struct konce_probewire_msg *p);
void probe_show_stun(FILE *f, const struct konce_stun_msg *m);
json_t *probe_json_stun(const struct konce_stun_msg *m);
const char *probe_stun_type_str(uint16_t type);

/* Subcommands. */
int probe_cmd_listen(int argc, char **argv);
int probe_cmd_send(int argc, char **argv);
int probe_cmd_stun(int argc, char **argv);
int probe_cmd_nat(int argc, char **argv);

/* Raw transports (probe_raw.c; the bytes are nat/rawpkt.c's).  IPv4 only.  Opening fails with
 * -EPERM without CAP_NET_RAW. */
enum probe_transport { PROBE_UDP = 1, PROBE_ICMP = 2, PROBE_TCP = 3 };
int probe_raw_open(enum probe_transport t);
const char *probe_raw_eperm_msg(void);
/* Builds p as an ICMP echo or TCP segment and sends it from p->src's address to p->dst. */
int probe_raw_send(int fd, enum probe_transport t, const konce_rawpkt *p);
int probe_raw_parse(enum probe_transport t, const uint8_t *buf, size_t len, konce_rawpkt *p);
/* The local address the kernel would use to reach dst (UDP connect trick). */
int probe_route_src(const konce_addr *dst, konce_addr *src);

#endif
