/* rawpkt.c - ICMP echo and TCP SYN / SYN-ACK bytes around a probe payload (see rawpkt.h). */
#include "nat/rawpkt.h"

#include <errno.h>
#include <string.h>

#include "node/base/wire.h"

enum { IPPROTO_ICMP_ = 1, IPPROTO_TCP_ = 6 };


static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += wire_get16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

int konce_rawpkt_build(enum konce_rawpkt_proto proto, const konce_rawpkt *p, uint8_t *out, size_t cap)
{
	size_t hl = proto == KONCE_RAWPKT_ICMP ? KONCE_RAWPKT_ICMP_HDR : KONCE_RAWPKT_TCP_HDR;
	if ((proto != KONCE_RAWPKT_ICMP && proto != KONCE_RAWPKT_TCP) || !konce_addr_is_v4(&p->src) ||
	    !konce_addr_is_v4(&p->dst) || p->len > 0xffff - hl - KONCE_RAWPKT_IPV4_MIN)
		return -EINVAL;
	if (cap < hl + p->len)
		return -ENOSPC;
	memset(out, 0, hl);
	if (p->len)
		memcpy(out + hl, p->payload, p->len);
	if (proto == KONCE_RAWPKT_ICMP) {
		out[0] = p->is_reply ? KONCE_RAWPKT_ICMP_ECHO_REPLY : KONCE_RAWPKT_ICMP_ECHO_REQUEST;
		wire_put16(out + 4, p->src.port);
		wire_put16(out + 6, (uint16_t)p->seq);
		wire_put16(out + 2, fold(sum16(out, hl + p->len, 0)));
		return (int)(hl + p->len);
	}
	uint8_t pseudo[12];
	wire_put16(out, p->src.port);
	wire_put16(out + 2, p->dst.port);
	wire_put32(out + 4, p->seq);
	wire_put32(out + 8, p->is_reply ? p->ack : 0);
	out[12] = 5 << 4;
	out[13] = p->is_reply ? KONCE_RAWPKT_TCP_SYN | KONCE_RAWPKT_TCP_ACK : KONCE_RAWPKT_TCP_SYN;
	wire_put16(out + 14, 65535);
	memcpy(pseudo, p->src.ip + 12, 4);
	memcpy(pseudo + 4, p->dst.ip + 12, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP_;
	wire_put16(pseudo + 10, (uint16_t)(hl + p->len));
	wire_put16(out + 16, fold(sum16(out, hl + p->len, sum16(pseudo, sizeof(pseudo), 0))));
	return (int)(hl + p->len);
}

int konce_rawpkt_parse(enum konce_rawpkt_proto proto, const uint8_t *buf, size_t len, konce_rawpkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < KONCE_RAWPKT_IPV4_MIN || buf[0] >> 4 != 4)
		return -EINVAL;
	size_t ihl = (size_t)(buf[0] & 15) * 4;
	size_t total = wire_get16(buf + 2);
	if (ihl < KONCE_RAWPKT_IPV4_MIN || total < ihl || total > len)
		return -EINVAL;
	if (buf[9] != (proto == KONCE_RAWPKT_ICMP ? IPPROTO_ICMP_ : IPPROTO_TCP_))
		return -EINVAL;
	p->ttl = buf[8];
	const uint8_t *l4 = buf + ihl;
	size_t l4len = total - ihl;
	if (proto == KONCE_RAWPKT_ICMP) {
		if (l4len < KONCE_RAWPKT_ICMP_HDR || l4[1] != 0 ||
		    (l4[0] != KONCE_RAWPKT_ICMP_ECHO_REQUEST && l4[0] != KONCE_RAWPKT_ICMP_ECHO_REPLY))
			return -EINVAL;
		p->is_reply = l4[0] == KONCE_RAWPKT_ICMP_ECHO_REPLY;
		konce_addr_from_v4(&p->src, buf + 12, wire_get16(l4 + 4));
		konce_addr_from_v4(&p->dst, buf + 16, wire_get16(l4 + 4));
		p->seq = wire_get16(l4 + 6);
		p->payload = l4 + KONCE_RAWPKT_ICMP_HDR;
		p->len = l4len - KONCE_RAWPKT_ICMP_HDR;
		return 0;
	}
	if (l4len < KONCE_RAWPKT_TCP_HDR)
		return -EINVAL;
	size_t doff = (size_t)(l4[12] >> 4) * 4;
	if (doff < KONCE_RAWPKT_TCP_HDR || doff > l4len)
		return -EINVAL;
	p->tcp_flags = l4[13];
	if (!(p->tcp_flags & KONCE_RAWPKT_TCP_SYN) || (p->tcp_flags & KONCE_RAWPKT_TCP_RST))
		return -EINVAL; /* only the SYN / SYN-ACK shapes carry probes */
	konce_addr_from_v4(&p->src, buf + 12, wire_get16(l4));
	konce_addr_from_v4(&p->dst, buf + 16, wire_get16(l4 + 2));
	p->seq = wire_get32(l4 + 4);
	p->ack = wire_get32(l4 + 8);
	p->is_reply = (p->tcp_flags & KONCE_RAWPKT_TCP_ACK) != 0;
	p->payload = l4 + doff;
	p->len = l4len - doff;
	return 0;
}
