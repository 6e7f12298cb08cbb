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

static enum konce_rawpkt_proto proto_of(enum probe_transport t)
{
	return t == PROBE_ICMP ? KONCE_RAWPKT_ICMP : KONCE_RAWPKT_TCP;
}

int probe_raw_parse(enum probe_transport t, const uint8_t *buf, size_t len, konce_rawpkt *p)
{
	return konce_rawpkt_parse(proto_of(t), buf, len, p);
}

int probe_raw_send(int fd, enum probe_transport t, const konce_rawpkt *p)
{
	uint8_t pkt[KONCE_RAWPKT_TCP_HDR + 256];
	int n = konce_rawpkt_build(proto_of(t), p, pkt, sizeof(pkt));
	if (n < 0)
		return n;
	struct sockaddr_in to = {.sin_family = AF_INET};
	memcpy(&to.sin_addr, p->dst.ip + 12, 4);
	/* the source the TCP checksum was computed for must be the one the kernel uses */
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct in_pktinfo pi = {0};
	memcpy(&pi.ipi_spec_dst, p->src.ip + 12, 4);
	struct iovec iov = {pkt, (size_t)n};
	struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
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
