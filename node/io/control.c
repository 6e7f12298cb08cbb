/* control.c - the node's control socket: newline-delimited JSON over a Unix stream socket
 * (docs/CONTROL.md).  This file is the plumbing only: accept, read lines, write answers, pause.  What
 * a request means and how it is answered is the control protocol's (node/ctl/ctlproto.h).
 *
 * The socket is created mode 0600 so only the node's owner can drive it.  Each connection is served
 * one request at a time: reading pauses while a request waits for the network (connect, send, ping)
 * and resumes after its response line, so responses come back in request order.  While a send that
 * asked for progress waits, a timer has the protocol write a progress line every progress_ms.  A
 * client that goes away while its request waits is freed at once and its op abandoned.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/io/node_int.h"

enum { MAX_CLIENTS = 64 };

struct control {
	struct konce_node *node;
	struct evconnlistener *lst;
	char *path;
	unsigned nclients;
	LIST_HEAD(, client) clients; /* every open connection, freed by node_control_stop() */
};

struct client {
	struct control *ctl;
	LIST_ENTRY(client) link;
	struct bufferevent *bev;
	konce_ctlproto_host host; /* refreshed before each request; outlives node_control_stop() */
	konce_ctlproto_op *op; /* the request waiting for the network, or NULL */
	struct event *tick;    /* its progress lines, or NULL */
	struct timeval every;
};

static void client_free(struct client *cl)
{
	if (cl->op)
		konce_ctlproto_op_abandon(cl->op);
	if (cl->tick)
		event_free(cl->tick);
	cl->ctl->nclients--;
	LIST_REMOVE(cl, link);
	bufferevent_free(cl->bev);
	free(cl);
}

/* The protocol's output: one line; after the response line the next request is read. */
static void on_line(void *octx, const char *line, size_t len, bool final)
{
	struct client *cl = octx;
	if (line) {
		struct evbuffer *out = bufferevent_get_output(cl->bev);
		evbuffer_add(out, line, len);
		evbuffer_add(out, "\n", 1);
	}
	if (!final)
		return;
	cl->op = NULL; /* freed by the protocol */
	if (cl->tick) {
		event_free(cl->tick);
		cl->tick = NULL;
	}
	bufferevent_enable(cl->bev, EV_READ);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	(void)fd;
	(void)what;
	konce_ctlproto_op_progress(cl->op);
	evtimer_add(cl->tick, &cl->every);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!cl->op) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) > KONCE_CTLPROTO_LINE_MAX) {
				konce_ctlproto_too_long(on_line, cl);
				evbuffer_drain(in, evbuffer_get_length(in));
			}
			return;
		}
		if (len) {
			node_ctl_host(cl->ctl->node, &cl->host);
			konce_ctlproto_handle(&cl->host, line, on_line, cl, &cl->op);
		}
		free(line);
	}
	/* a request waits for the network: one at a time */
	bufferevent_disable(bev, EV_READ);
	unsigned ms = konce_ctlproto_op_progress_ms(cl->op);
	if (ms && (cl->tick = evtimer_new(cl->ctl->node->base, on_tick, cl))) {
		cl->every = (struct timeval){ms / 1000, ms % 1000 * 1000};
		evtimer_add(cl->tick, &cl->every);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	(void)l;
	(void)sa;
	(void)salen;
	if (ctl->nclients >= MAX_CLIENTS) {
		close(fd);
		return;
	}
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->bev = bufferevent_socket_new(ctl->node->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(cl);
		close(fd);
		return;
	}
	cl->ctl = ctl;
	ctl->nclients++;
	LIST_INSERT_HEAD(&ctl->clients, cl, link);
	bufferevent_setcb(cl->bev, on_read, NULL, on_event, cl);
	bufferevent_enable(cl->bev, EV_READ);
}
int node_control_start(struct konce_node *n, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct control *ctl;
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long (max %zu bytes): %s", sizeof(sun.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return snprintf(err, errlen, "control socket: %s", strerror(errno)), -errno;
	/* A socket file left by a node that died is replaced; a live node's is not. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		snprintf(err, errlen, "another node is already running with control socket %s", path);
		return -EADDRINUSE;
	}
	unlink(path);
	mode_t old = umask(0177);
	e = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (!e && chmod(path, 0600) < 0)
		e = -errno;
	if (e) {
		close(fd);
		snprintf(err, errlen, "cannot create control socket %s: %s", path, strerror(-e));
		return e;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (ctl)
		ctl->path = strdup(path);
	if (!ctl || !ctl->path ||
	    !(ctl->lst = evconnlistener_new(n->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd))) {
		if (ctl)
			free(ctl->path);
		free(ctl);
		close(fd);
		unlink(path);
		snprintf(err, errlen, "cannot listen on control socket %s", path);
		return -ENOMEM;
	}
	ctl->node = n;
	n->control = ctl;
	return 0;
}

void node_control_stop(struct konce_node *n)
{
	struct control *ctl = n->control;
	if (!ctl)
		return;
	evconnlistener_free(ctl->lst);
	while (!LIST_EMPTY(&ctl->clients)) /* a client left open would reach the freed ctl when it closes */
		client_free(LIST_FIRST(&ctl->clients));
	unlink(ctl->path);
	free(ctl->path);
	free(ctl);
	n->control = NULL;
}
