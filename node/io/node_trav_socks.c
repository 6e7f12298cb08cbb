/* node_trav_socks.c - the extra sockets of birthday probing (node_trav_socks.h). */
#include "node/io/node_trav_socks.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/io/node_int.h"
#include "node/core/trav.h"
#include "node/base/wire.h"

enum { RX_PER_WAKE = 64 };

struct xsock {
	struct node_trav_socks *pool;
	unsigned idx;
	int fd; /* -1: closed */
	struct event *ev;
};

struct node_trav_socks {
	struct event_base *base;
	konce_addr bind_ip;
	bool v6;
	node_trav_socks_rx rx;
	void *ctx;
	struct xsock s[KONCE_PUNCH_BIRTHDAY + 1]; /* [0] unused: socket 0 is the node's */
	struct node_trav_socks_stats st;
};

int node_trav_socks_new(struct node_trav_socks **out, struct event_base *base, const konce_addr *bind_ip,
			node_trav_socks_rx rx, void *ctx)
{
	struct node_trav_socks *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->base = base;
	s->bind_ip = *bind_ip;
	s->bind_ip.port = 0;
	s->v6 = !konce_addr_is_v4(bind_ip);
	s->rx = rx;
	s->ctx = ctx;
	for (unsigned i = 0; i <= KONCE_PUNCH_BIRTHDAY; i++) {
		s->s[i].pool = s;
		s->s[i].idx = i;
		s->s[i].fd = -1;
	}
	*out = s;
	return 0;
}

static void sock_close(struct node_trav_socks *s, unsigned i)
{
	if (s->s[i].fd < 0)
		return;
	event_free(s->s[i].ev);
	close(s->s[i].fd);
	s->s[i].fd = -1;
	s->s[i].ev = NULL;
	s->st.closed++;
	s->st.open_now--;
}

void node_trav_socks_free(struct node_trav_socks *s)
{
	if (!s)
		return;
	for (unsigned i = 1; i <= KONCE_PUNCH_BIRTHDAY; i++)
		sock_close(s, i);
	free(s);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct xsock *x = arg;
	struct node_trav_socks *s = x->pool;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	(void)what;
	/* the callback may close sockets (a sweep after a verified pair): stop once ours is gone */
	for (int k = 0; k < RX_PER_WAKE && x->fd == fd; k++) {
		konce_addr from;
		int n = konce_udp_recv_one(fd, buf, sizeof(buf), &from);
		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n < 0)
			continue; /* an ICMP error queued on the socket (port unreachable): read on */
		s->st.rx++;
		s->rx(s->ctx, x->idx, buf, (size_t)n, &from);
	}
}

static int sock_open(struct node_trav_socks *s, unsigned i)
{
	int fd = konce_udp_socket(&s->bind_ip, NULL);
	if (fd < 0) {
		s->st.open_failed++;
		return fd;
	}
	struct event *ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, &s->s[i]);
	if (!ev || event_add(ev, NULL)) {
		if (ev)
			event_free(ev);
		close(fd);
		s->st.open_failed++;
		return -ENOMEM;
	}
	s->s[i].fd = fd;
	s->s[i].ev = ev;
	s->st.opened++;
	if (++s->st.open_now > s->st.open_max)
		s->st.open_max = s->st.open_now;
	return 0;
}

int node_trav_socks_send(struct node_trav_socks *s, unsigned sock, const konce_addr *to, const uint8_t *pkt,
			 size_t len)
{
	int e;
	if (sock < 1 || sock > KONCE_PUNCH_BIRTHDAY)
		return -EINVAL;
	if (s->s[sock].fd < 0 && (e = sock_open(s, sock))) {
		s->st.tx_failed++;
		return e;
	}
	if ((e = konce_udp_send_one(s->s[sock].fd, s->v6, pkt, len, to))) {
		s->st.tx_failed++;
		return e;
	}
	s->st.tx++;
	return 0;
}

void node_trav_socks_sweep(struct node_trav_socks *s, const konce_trav *t)
{
	bool keep[KONCE_PUNCH_BIRTHDAY + 1] = {false};
	if (!s->st.open_now || konce_trav_socks_needed(t, node_now_us(), keep))
		return;
	for (unsigned i = 1; i <= KONCE_PUNCH_BIRTHDAY; i++)
		if (!keep[i])
			sock_close(s, i);
}

void node_trav_socks_get_stats(const struct node_trav_socks *s, struct node_trav_socks_stats *out)
{
	if (s)
		*out = s->st;
	else
		memset(out, 0, sizeof(*out));
}
