/* node_travfilter.c - the filtering test's sockets (plumbing; its `konce netcheck` answers are
 * node_travinfo.c's).
 *
 * The test itself, both sides, runs in the traversal core (node/core/trav_filter.c).  The core
 * names two sockets by number and asks for them by event: KONCE_TRAV_SOCK_FILTER, the client's
 * fresh socket S, and KONCE_TRAV_SOCK_ALT, the rendezvous's second port.  This file opens each
 * (the node socket's IP, any port) when asked, reads it from the event loop into the core with its
 * number, sends what the core addresses to it, and closes it when asked.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"

struct fsock {
	struct node_trav *t;
	unsigned id;
	int fd; /* -1 when closed */
	struct event *ev;
	konce_addr local;
};

struct node_filt {
	struct fsock s[2]; /* [0] KONCE_TRAV_SOCK_FILTER, [1] KONCE_TRAV_SOCK_ALT */
};

static struct fsock *fsock_of(struct node_trav *t, unsigned id)
{
	if (!t->filt || id < KONCE_TRAV_SOCK_FILTER || id > KONCE_TRAV_SOCK_ALT)
		return NULL;
	return &t->filt->s[id - KONCE_TRAV_SOCK_FILTER];
}

static void on_rx(evutil_socket_t fd, short what, void *arg)
{
	struct fsock *s = arg;
	uint8_t buf[2048];
	(void)what;
	for (int i = 0; i < 16 && s->fd >= 0; i++) {
		konce_addr from;
		int n = konce_udp_recv_one(fd, buf, sizeof(buf), &from);
		if (n == -EAFNOSUPPORT)
			continue;
		if (n < 0)
			break;
		konce_trav_input(s->t->core, s->id, buf, (size_t)n, &from, node_now_us());
	}
	node_trav_schedule(s->t);
}

static void fsock_close(struct fsock *s)
{
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void node_travfilter_sock(struct node_trav *t, unsigned id, bool open)
{
	struct fsock *s = fsock_of(t, id);
	konce_addr local;
	if (!s)
		return;
	if (!open) {
		fsock_close(s);
		return;
	}
	if (s->fd >= 0)
		return;
	int fd = -EADDRNOTAVAIL;
	if (!konce_udp_local(t->n->udp, &local)) {
		local.port = 0;
		fd = konce_udp_socket(&local, &s->local);
	}
	if (fd >= 0) {
		s->fd = fd;
		s->ev = event_new(t->n->base, fd, EV_READ | EV_PERSIST, on_rx, s);
		if (!s->ev || event_add(s->ev, NULL))
			fsock_close(s);
	}
	if (s->fd < 0)
		node_log(t->n, KONCE_LOG_WARN, "filtering test: cannot open a socket: %s", strerror(fd < 0 ? -fd : ENOMEM));
	konce_trav_sock_opened(t->core, id, s->fd >= 0 ? &s->local : NULL, node_now_us());
}

bool node_travfilter_send(struct node_trav *t, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	struct fsock *s = fsock_of(t, id);
	if (!s)
		return false;
	if (s->fd >= 0)
		(void)konce_udp_send_one(s->fd, !konce_addr_is_v4(&s->local), pkt, len, to);
	return true;
}

int node_travfilter_new(struct node_trav *t)
{
	struct node_filt *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (unsigned i = 0; i < 2; i++) {
		f->s[i].t = t;
		f->s[i].id = KONCE_TRAV_SOCK_FILTER + i;
		f->s[i].fd = -1;
	}
	t->filt = f;
	return 0;
}

void node_travfilter_free(struct node_trav *t)
{
	struct node_filt *f = t->filt;
	if (!f)
		return;
	fsock_close(&f->s[0]);
	fsock_close(&f->s[1]);
	free(f);
	t->filt = NULL;
}
