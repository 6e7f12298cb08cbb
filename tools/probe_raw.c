/* probe_raw.c - probes inside ICMP echo and inside fake TCP segments, over raw IPv4 sockets.
 *
 * A NAT treats ICMP echo by its identifier and TCP by its ports and flags, and often differently
 * from UDP; these transports show that.  A fake TCP "request" is a SYN carrying the probe as data, and
 * the "reply" a SYN-ACK carrying the answer: no connection is ever made, and both kernels may send a
 * RST for the segment they did not expect (which is part of what a NAT sees, too).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/probe.h"

enum { IP_HDR_MIN = 20, ICMP_HDR = 8, TCP_HDR = 20, TCP_SYN = 0x02, TCP_ACK = 0x10, TCP_RST = 0x04 };

const char *probe_raw_eperm_msg(void)
{
	return "raw sockets need root or CAP_NET_RAW (try: sudo, or setcap cap_net_raw+ep on the konce binary)";
}

int probe_raw_open(enum probe_transport t)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, t == PROBE_ICMP ? IPPROTO_ICMP : IPPROTO_TCP);
	if (fd < 0)
		return errno == EACCES ? -EPERM : -errno;
	return fd;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
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

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

int probe_raw_send(int fd, enum probe_transport t, bool reply, const konce_addr *src, const konce_addr *dst,
		   uint16_t id_or_port, uint16_t peer_port, uint32_t seq, uint32_t ack, const uint8_t *payload,
		   size_t len)
{
	uint8_t pkt[TCP_HDR + 256];
	size_t hl = t == PROBE_ICMP ? ICMP_HDR : TCP_HDR;
	if (!konce_addr_is_v4(dst) || len > sizeof(pkt) - hl)
		return -EINVAL;
	memset(pkt, 0, hl);
	memcpy(pkt + hl, payload, len);
	if (t == PROBE_ICMP) {
		pkt[0] = reply ? 0 : 8;
		put16(pkt + 4, id_or_port);
		put16(pkt + 6, (uint16_t)seq);
		put16(pkt + 2, fold(sum16(pkt, hl + len, 0)));
	} else {
		uint8_t pseudo[12];
		put16(pkt, id_or_port);
		put16(pkt + 2, peer_port);
		put32(pkt + 4, seq);
		put32(pkt + 8, reply ? ack : 0);
		pkt[12] = 5 << 4;
		pkt[13] = reply ? TCP_SYN | TCP_ACK : TCP_SYN;
		put16(pkt + 14, 65535);
		memcpy(pseudo, src->ip + 12, 4);
		memcpy(pseudo + 4, dst->ip + 12, 4);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_TCP;
		put16(pseudo + 10, (uint16_t)(hl + len));
		put16(pkt + 16, fold(sum16(pkt, hl + len, sum16(pseudo, sizeof(pseudo), 0))));
	}
	struct sockaddr_in to = {.sin_family = AF_INET};
	memcpy(&to.sin_addr, dst->ip + 12, 4);
	/* the source the checksum was computed for must be the one the kernel uses */
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct in_pktinfo pi = {0};
	memcpy(&pi.ipi_spec_dst, src->ip + 12, 4);
	struct iovec iov = {pkt, hl + len};
	struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
}

int probe_raw_parse(enum probe_transport t, const uint8_t *buf, size_t len, probe_raw_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < IP_HDR_MIN || buf[0] >> 4 != 4)
		return -EINVAL;
	size_t ihl = (size_t)(buf[0] & 15) * 4;
	size_t total = get16(buf + 2);
	if (ihl < IP_HDR_MIN || total < ihl || total > len)
		return -EINVAL;
	if (buf[9] != (t == PROBE_ICMP ? IPPROTO_ICMP : IPPROTO_TCP))
		return -EINVAL;
	p->ttl = buf[8];
	const uint8_t *l4 = buf + ihl;
	size_t l4len = total - ihl;
	if (t == PROBE_ICMP) {
		if (l4len < ICMP_HDR || (l4[0] != 8 && l4[0] != 0) || l4[1] != 0)
			return -EINVAL;
		p->is_reply = l4[0] == 0;
		konce_addr_from_v4(&p->src, buf + 12, get16(l4 + 4));
		konce_addr_from_v4(&p->dst, buf + 16, get16(l4 + 4));
		p->seq = get16(l4 + 6);
		p->payload = l4 + ICMP_HDR;
		p->len = l4len - ICMP_HDR;
		return 0;
	}
	if (l4len < TCP_HDR)
		return -EINVAL;
	size_t doff = (size_t)(l4[12] >> 4) * 4;
	if (doff < TCP_HDR || doff > l4len)
		return -EINVAL;
	konce_addr_from_v4(&p->src, buf + 12, get16(l4));
	konce_addr_from_v4(&p->dst, buf + 16, get16(l4 + 2));
	p->seq = get32(l4 + 4);
	p->ack = get32(l4 + 8);
	p->tcp_flags = l4[13];
	if (!(p->tcp_flags & TCP_SYN) || (p->tcp_flags & TCP_RST))
		return -EINVAL; /* only our SYN / SYN-ACK shapes carry probes */
	p->is_reply = (p->tcp_flags & TCP_ACK) != 0;
	p->payload = l4 + doff;
	p->len = l4len - doff;
	return 0;
}

int probe_route_src(const konce_addr *dst, konce_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(dst, &ss, !konce_addr_is_v4(dst));
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (((struct sockaddr_in *)&ss)->sin_port == 0)
		((struct sockaddr_in *)&ss)->sin_port = htons(9); /* connect() wants a port; nothing is sent */
	int rc = connect(fd, (struct sockaddr *)&ss, sl) < 0 ? -errno : probe_local(fd, src);
	close(fd);
	return rc;
}
