/* auxsock.c - a set of extra UDP sockets named by number (auxsock.h). */
#include "node/io/auxsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/base/wire.h"
#include "node/io/udp.h"

enum { RX_PER_WAKE = 64 };

struct asock {
	struct node_aux *set;
	unsigned id;
	int fd; /* -1: closed */
	struct event *ev;
	konce_addr local;
};

struct node_aux {
	struct event_base *base;
	konce_addr bind_ip;
	bool have_ip;
	unsigned nids;
	node_aux_rx rx;
	node_aux_done done;
	void *ctx;
	struct asock s[]; /* [0] unused: socket 0 is the node's */
};

int node_aux_new(struct node_aux **out, struct event_base *base, const konce_addr *bind_ip, unsigned nids,
		 node_aux_rx rx, node_aux_done done, void *ctx)
{
	*out = NULL;
	if (!rx)
		return -EINVAL;
	struct node_aux *s = calloc(1, sizeof(*s) + (nids + 1) * sizeof(s->s[0]));
	if (!s)
		return -ENOMEM;
	s->base = base;
	if ((s->have_ip = bind_ip != NULL)) {
		s->bind_ip = *bind_ip;
		s->bind_ip.port = 0;
	}
	s->nids = nids;
	s->rx = rx;
	s->done = done;
	s->ctx = ctx;
	for (unsigned i = 0; i <= nids; i++)
		s->s[i] = (struct asock){.set = s, .id = i, .fd = -1};
	*out = s;
	return 0;
}

void node_aux_close(struct node_aux *s, unsigned id)
{
	if (!s || id < 1 || id > s->nids || s->s[id].fd < 0)
		return;
	event_free(s->s[id].ev);
	close(s->s[id].fd);
	s->s[id].fd = -1;
	s->s[id].ev = NULL;
}

void node_aux_free(struct node_aux *s)
{
	if (!s)
		return;
	for (unsigned i = 1; i <= s->nids; i++)
		node_aux_close(s, i);
	free(s);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct asock *x = arg;
	struct node_aux *s = x->set;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM]; /* anything larger is refused whole */
	(void)what;
	/* rx may close sockets (the host's core is done with them): stop once ours is gone */
	for (int k = 0; k < RX_PER_WAKE && x->fd == fd; k++) {
		konce_addr from;
		int n = konce_udp_recv_one(fd, buf, sizeof(buf), &from);
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0)
			continue; /* an ICMP error queued on the socket (port unreachable): read on */
		s->rx(s->ctx, x->id, buf, (size_t)n, &from);
	}
	if (s->done)
		s->done(s->ctx);
}

int node_aux_open(struct node_aux *s, unsigned id, konce_addr *local)
{
	if (id < 1 || id > s->nids)
		return -EINVAL;
	struct asock *x = &s->s[id];
	if (x->fd < 0) {
		int fd = s->have_ip ? konce_udp_socket(&s->bind_ip, &x->local) : -EADDRNOTAVAIL;
		struct event *ev = fd >= 0 ? event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, x) : NULL;
		if (fd < 0 || !ev || event_add(ev, NULL)) {
			if (ev)
				event_free(ev);
			if (fd >= 0)
				close(fd);
			return fd < 0 ? fd : -ENOMEM;
		}
		x->fd = fd;
		x->ev = ev;
	}
	if (local)
		*local = x->local;
	return 0;
}

int node_aux_send(struct node_aux *s, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	if (id < 1 || id > s->nids)
		return -EINVAL;
	if (s->s[id].fd < 0)
		return -ENOTCONN;
	return konce_udp_send_one(s->s[id].fd, !konce_addr_is_v4(&s->s[id].local), pkt, len, to);
}
