/* rawpkt.h - probes carried in ICMP echo and in fake TCP segments: the bytes, without the sockets.
 *
 * Building gives the layer-4 bytes (ICMP echo or TCP header, checksummed, then the payload); the
 * kernel adds the IPv4 header.  Parsing takes what an IPv4 raw socket delivers: the IPv4 header
 * followed by layer 4.  IPv4 only.  For ICMP the "port" of both addresses is the echo identifier,
 * which is what a NAT rewrites in place of a port.  Checksums are computed, never checked: packets
 * that reach a raw socket through a local NAT may legitimately carry partial (offloaded) checksums.
 */
#ifndef KONCE_NAT_RAWPKT_H
#define KONCE_NAT_RAWPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

enum konce_rawpkt_proto { KONCE_RAWPKT_ICMP = 1, KONCE_RAWPKT_TCP = 2 };

enum {
	KONCE_RAWPKT_IPV4_MIN = 20,
	KONCE_RAWPKT_ICMP_HDR = 8,
	KONCE_RAWPKT_TCP_HDR = 20,
	KONCE_RAWPKT_TCP_SYN = 0x02,
	KONCE_RAWPKT_TCP_RST = 0x04,
	KONCE_RAWPKT_TCP_ACK = 0x10,
	KONCE_RAWPKT_ICMP_ECHO_REQUEST = 8,
	KONCE_RAWPKT_ICMP_ECHO_REPLY = 0,
};

typedef struct konce_rawpkt {
	konce_addr src, dst;    /* ports: TCP ports, or the ICMP echo identifier in both */
	int ttl;
	bool is_reply;          /* echo reply, or SYN-ACK */
	uint8_t tcp_flags;
	uint32_t seq, ack;      /* TCP; for ICMP seq is the echo sequence number */
	const uint8_t *payload; /* points into the parsed buffer */
	size_t len;
} konce_rawpkt;

/* 0 if buf is an IPv4 packet carrying an ICMP echo (request or reply) or a TCP SYN / SYN-ACK without
 * RST; -EINVAL otherwise. */
int konce_rawpkt_parse(enum konce_rawpkt_proto proto, const uint8_t *buf, size_t len, konce_rawpkt *p);

/* Writes the layer-4 bytes for p (src and dst must be IPv4; the TCP checksum covers them) into out.
 * A TCP request is a SYN, a reply a SYN-ACK acknowledging p->ack.  Returns the length, -EINVAL, or
 * -ENOSPC. */
int konce_rawpkt_build(enum konce_rawpkt_proto proto, const konce_rawpkt *p, uint8_t *out, size_t cap);

#endif
