/* udp.c - batched UDP sockets (see udp.h). */
#include "node/io/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "node/base/udpplan.h"
#include "node/base/wire.h"

enum { RX_BUF = 65536 }; /* a GRO read can hold up to 64 KiB of coalesced datagrams */

struct konce_udp {
	int fd;
	bool v6;
	bool gso, gro;
	konce_udp_stats st;
	/* receive side */
	uint8_t (*rxbuf)[RX_BUF];
	struct mmsghdr rxmsg[KONCE_UDP_BATCH];
	struct iovec rxiov[KONCE_UDP_BATCH];
	struct sockaddr_storage rxaddr[KONCE_UDP_BATCH];
	char rxctl[KONCE_UDP_BATCH][CMSG_SPACE(sizeof(int))];
	/* send side */
	konce_udp_slot tx[KONCE_UDP_BATCH]; /* pkt: the caller's (queue_ref) or copy[] of the same index */
	unsigned ntx;
	uint8_t copy[KONCE_UDP_BATCH][KONCE_PMTU_MAX];
	struct mmsghdr txmsg[KONCE_UDP_BATCH];
	struct iovec txiov[KONCE_UDP_BATCH];
	struct sockaddr_storage txaddr[KONCE_UDP_BATCH];
	char txctl[KONCE_UDP_BATCH][CMSG_SPACE(sizeof(uint16_t))];
};

/* The address fd is bound to: 0, or a negative errno. */
static int sock_local(int fd, konce_addr *out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return konce_addr_from_sockaddr(out, (struct sockaddr *)&ss) ? -EAFNOSUPPORT : 0;
}

int konce_udp_socket(const konce_addr *bind_addr, konce_addr *local)
{
	struct sockaddr_storage ss;
	bool v6 = !konce_addr_is_v4(bind_addr);
	int zero = 0;
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(bind_addr, &ss, v6);
	if (!sl)
		return -EAFNOSUPPORT;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno ? -errno : -EIO;
	if (v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	if (local && (errno = -sock_local(fd, local)))
		goto fail;
	return fd;
fail:;
	int e = errno ? -errno : -EIO;
	close(fd);
	return e;
}

int konce_udp_recv_one(int fd, uint8_t *buf, size_t cap, konce_addr *from)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (konce_addr_from_sockaddr(from, (struct sockaddr *)&ss))
		return -EAFNOSUPPORT;
	return (int)n;
}

int konce_udp_send_one(int fd, bool v6, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(to, &ss, v6);
	if (!sl)
		return -EAFNOSUPPORT;
	return sendto(fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
}

int konce_udp_open(konce_udp **out, const konce_addr *bind_addr, char *err, size_t errlen)
{
	char as[KONCE_ADDR_STRLEN];
	konce_udp *u;
	int size = KONCE_UDP_RCVBUF, e;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (!u || !(u->rxbuf = calloc(KONCE_UDP_BATCH, RX_BUF))) {
		free(u);
		snprintf(err, errlen, "udp: out of memory");
		return -ENOMEM;
	}
	u->v6 = !konce_addr_is_v4(bind_addr);
	if ((u->fd = konce_udp_socket(bind_addr, NULL)) < 0) {
		errno = -u->fd;
		goto fail;
	}
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* Path MTU discovery is konce's (node/transport/pmtud.h): DF on every datagram, never
	 * fragmented locally, whatever the kernel's path MTU cache holds (an ICMP-learned value is
	 * what IP_MTU reports, see konce_udp_path_mtu) */
	int probe4 = IP_PMTUDISC_PROBE, probe6 = IPV6_PMTUDISC_PROBE;
	setsockopt(u->fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe4, sizeof(probe4));
	if (u->v6)
		setsockopt(u->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6));
	/* Offloads are optional: GRO where the kernel agrees, GSO until a send proves otherwise */
	konce_udp_set_offload(u, true, true);
	for (int i = 0; i < KONCE_UDP_BATCH; i++) {
		u->rxiov[i] = (struct iovec){u->rxbuf[i], RX_BUF};
		u->rxmsg[i].msg_hdr.msg_iov = &u->rxiov[i];
		u->rxmsg[i].msg_hdr.msg_iovlen = 1;
	}
	*out = u;
	return 0;
fail:
	e = errno;
	snprintf(err, errlen, "udp: cannot bind %s: %s%s", konce_addr_str(bind_addr, as), strerror(e),
		 konce_udp_bind_hint(e));
	if (u->fd >= 0)
		close(u->fd);
	free(u->rxbuf);
	free(u);
	return -e;
}

void konce_udp_close(konce_udp *u)
{
	if (!u)
		return;
	konce_udp_flush(u);
	close(u->fd);
	free(u->rxbuf);
	free(u);
}

int konce_udp_fd(const konce_udp *u) { return u->fd; }

int konce_udp_local(const konce_udp *u, konce_addr *out) { return sock_local(u->fd, out); }

static int gro_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	return 0;
}

int konce_udp_recv(konce_udp *u, unsigned max_calls, konce_udp_rx_fn fn, void *ctx)
{
	int total = 0;
	for (unsigned call = 0; call < max_calls; call++) {
		for (int i = 0; i < KONCE_UDP_BATCH; i++) {
			struct msghdr *h = &u->rxmsg[i].msg_hdr;
			h->msg_name = &u->rxaddr[i];
			h->msg_namelen = sizeof(u->rxaddr[i]);
			h->msg_control = u->gro ? u->rxctl[i] : NULL;
			h->msg_controllen = u->gro ? sizeof(u->rxctl[i]) : 0;
			h->msg_flags = 0;
		}
		int n = recvmmsg(u->fd, u->rxmsg, KONCE_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			/* ICMP errors surface here as ECONNREFUSED and the like: report, don't stop the node */
			return total ? total : -errno;
		}
		u->st.rx_calls++;
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &u->rxmsg[i].msg_hdr;
			konce_addr from;
			size_t len = u->rxmsg[i].msg_len, seg = len;
			if (konce_addr_from_sockaddr(&from, (struct sockaddr *)h->msg_name) < 0)
				continue;
			if (h->msg_flags & MSG_TRUNC) {
				u->st.rx_truncated++;
				continue;
			}
			int g = u->gro ? gro_size(h) : 0;
			if (g > 0 && (size_t)g < len) {
				seg = (size_t)g;
				u->st.gro_merged++;
			}
			for (size_t off = 0; off < len; off += seg) {
				size_t l = len - off < seg ? len - off : seg;
				u->st.rx++;
				total++;
				fn(ctx, u->rxbuf[i] + off, l, &from);
			}
		}
		if (n < KONCE_UDP_BATCH)
			break;
	}
	return total;
}

int konce_udp_queue_ref(konce_udp *u, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	if (len == 0 || len > KONCE_PMTU_MAX)
		return -EMSGSIZE;
	if (u->ntx == KONCE_UDP_BATCH) {
		int e = konce_udp_flush(u);
		if (e < 0 && e != -EAGAIN)
			return e;
	}
	u->tx[u->ntx++] = (konce_udp_slot){pkt, (uint16_t)len, *to};
	return 0;
}

int konce_udp_queue(konce_udp *u, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	int e = konce_udp_queue_ref(u, pkt, len, to);
	if (!e) /* taken: its slot is the last one, and the copy beside it */
		u->tx[u->ntx - 1].pkt = memcpy(u->copy[u->ntx - 1], pkt, len);
	return e;
}

/* Builds message m for slots [first, first + count): one datagram, or one GSO train when count > 1. */
static void build(konce_udp *u, unsigned m, unsigned first, unsigned count)
{
	struct msghdr *h = &u->txmsg[m].msg_hdr;
	memset(h, 0, sizeof(*h));
	for (unsigned k = 0; k < count; k++)
		u->txiov[first + k] = (struct iovec){(void *)u->tx[first + k].pkt, u->tx[first + k].len};
	h->msg_iov = &u->txiov[first];
	h->msg_iovlen = count;
	h->msg_name = &u->txaddr[m];
	h->msg_namelen = (socklen_t)konce_addr_to_sockaddr(&u->tx[first].to, &u->txaddr[m], u->v6);
	if (count > 1) {
		uint16_t seg = u->tx[first].len;
		h->msg_control = u->txctl[m];
		h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
		struct cmsghdr *c = CMSG_FIRSTHDR(h);
		c->cmsg_level = IPPROTO_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

/* Groups the queue into messages; returns how many, with first[]/count[] describing each. */
static unsigned plan(konce_udp *u, unsigned *first, unsigned *count)
{
	unsigned m = 0;
	for (unsigned i = 0; i < u->ntx;) {
		unsigned n = u->gso ? konce_udp_train(u->tx + i, u->ntx - i, KONCE_UDP_MAX_GSO) : 1;
		first[m] = i;
		count[m] = n;
		build(u, m, i, n);
		m++;
		i += n;
	}
	return m;
}

int konce_udp_flush(konce_udp *u)
{
	unsigned first[KONCE_UDP_BATCH], count[KONCE_UDP_BATCH];
	int err = 0;

	while (u->ntx) {
		unsigned nm = plan(u, first, count), sent_msgs = 0;
		while (sent_msgs < nm) {
			int r = sendmmsg(u->fd, u->txmsg + sent_msgs, nm - sent_msgs, MSG_DONTWAIT);
			if (r > 0) {
				u->st.tx_calls++;
				for (int k = 0; k < r; k++) {
					u->st.tx += count[sent_msgs + (unsigned)k];
					if (count[sent_msgs + (unsigned)k] > 1)
						u->st.gso_sends++;
				}
				sent_msgs += (unsigned)r;
				continue;
			}
			int e = errno;
			unsigned c = count[sent_msgs];
			switch (konce_udp_send_fail(e, c)) {
			case KONCE_UDP_FAIL_RETRY: continue;
			case KONCE_UDP_FAIL_NO_GSO: u->gso = false; goto replan;
			case KONCE_UDP_FAIL_FULL:
				for (unsigned k = sent_msgs; k < nm; k++)
					u->st.tx_dropped += count[k];
				u->ntx = 0;
				return -EAGAIN;
			case KONCE_UDP_FAIL_DEST: /* drop that message, keep the others */
				u->st.tx_dropped += c;
				err = -e;
				sent_msgs++;
			}
		}
		u->ntx = 0;
		break;
	replan:
		/* drop what was sent and plan the remainder again without GSO (a copied datagram's
		 * pkt still points at its copy[] slot: nothing is queued before the queue is empty) */
		{
			unsigned done = first[sent_msgs];
			memmove(u->tx, u->tx + done, (u->ntx - done) * sizeof(u->tx[0]));
			u->ntx -= done;
		}
	}
	return err;
}

unsigned konce_udp_path_mtu(const konce_addr *peer)
{
	struct sockaddr_storage ss;
	bool v4 = konce_addr_is_v4(peer);
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(peer, &ss, !v4);
	int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = 0;
	socklen_t ml = sizeof(mtu);
	if (fd < 0)
		return 0;
	/* connect() on UDP sends nothing: it picks the route, whose MTU (or the path MTU the kernel
	 * learned from ICMP) IP_MTU then reports */
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    getsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_MTU : IPV6_MTU, &mtu, &ml) < 0)
		mtu = 0;
	close(fd);
	int hdr = v4 ? KONCE_PMTU_IPV4_UDP : KONCE_PMTU_IPV6_UDP;
	return mtu > hdr ? (unsigned)(mtu - hdr) : 0;
}

void konce_udp_get_stats(const konce_udp *u, konce_udp_stats *out)
{
	*out = u->st;
	out->gso = u->gso;
	out->gro = u->gro;
}

void konce_udp_set_offload(konce_udp *u, bool gso, bool gro)
{
	int v = gro ? 1 : 0;
	u->gso = gso;
	if (setsockopt(u->fd, IPPROTO_UDP, UDP_GRO, &v, sizeof(v)) == 0)
		u->gro = gro;
	else
		u->gro = false;
}
