/* fuzz_control.c - the node's control socket end to end: the socket plumbing (node/io/control.c)
 * and the control protocol behind it (node/ctl/ctlproto.h), driven through the socket itself
 * (tests/fuzz/fuzz_ctlproto.c drives the protocol alone, faster).
 *
 * Harness (built once): a real node (konce_node_new on an event_base, a temporary data directory,
 * 127.0.0.1:0, a control socket in that directory, traversal on as a rendezvous service) and one
 * client connection to the socket.  Each
 * request line is written to the socket and the node's own event handlers read it (on_read ->
 * konce_ctlproto_handle -> on_line) while the harness runs event_base_loop(EVLOOP_NONBLOCK) until the answer
 * arrives, so nothing in the control path is bypassed.
 *
 * Input: request lines separated by '\n' (as a client would send them).  Lines whose request names
 * "addr" or "file" are not sent: the first would make the node send UDP to an arbitrary host, the
 * second read an arbitrary local file (both are covered by tests/cli/test_node.sh).  Without an
 * address a connect, send or ping to a key the node has never met fails at once (EHOSTUNREACH), so
 * every request is answered before the next one is sent.
 * Invariants (abort on violation): every non-empty request line gets exactly one response line
 * within 10 s; it is a JSON object with a boolean "ok"; a refusal carries a string "error" and
 * "errno"; the node keeps its control socket open. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_ctlnode.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct event_base *base;
static konce_node *node;
static int fd = -1;
static char sock_path[108];
static char rbuf[1 << 17];
static size_t rlen;

static void setup(void) { node = fz_ctlnode_start("control", &base, sock_path, sizeof sock_path); }

static void connect_ctl(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, sock_path, strlen(sock_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		abort();
	rlen = 0;
	event_base_loop(base, EVLOOP_NONBLOCK); /* the node accepts */
}

/* The one response line to the request just written. */
static json_t *response(void)
{
	uint64_t until = node_now_us() + 10000000;
	for (;;) {
		char *nl = memchr(rbuf, '\n', rlen);
		if (nl) {
			size_t l = (size_t)(nl - rbuf);
			json_error_t je;
			json_t *r = json_loadb(rbuf, l, 0, &je);
			rlen -= l + 1;
			memmove(rbuf, nl + 1, rlen);
			return r;
		}
		if (node_now_us() > until)
			abort();
		event_base_loop(base, EVLOOP_NONBLOCK);
		ssize_t got = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
			abort(); /* the node closed the connection */
		if (got > 0)
			rlen += (size_t)got;
		if (rlen == sizeof rbuf)
			abort();
	}
}

static void send_all(const char *p, size_t len)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			event_base_loop(base, EVLOOP_NONBLOCK);
			continue;
		}
		if (w < 0)
			abort();
		p += w;
		len -= (size_t)w;
	}
}

/* Requests the harness does not send (see the top of the file).  The node parses the line as a C
 * string (evbuffer_readln, json_loads), so the check does too. */
static int refused_here(const char *line)
{
	json_t *req = json_loads(line, 0, NULL);
	int no = json_is_object(req) && (json_object_get(req, "addr") || json_object_get(req, "file"));
	json_decref(req);
	return no;
}

/* One request line: sent (with its '\n') unless refused here, and its answer checked. */
static void one(char *line, size_t l)
{
	if (refused_here(line))
		return;
	line[l] = '\n';
	send_all(line, l + 1);
	json_t *r = response();
	json_t *ok = json_object_get(r, "ok");
	if (!json_is_object(r) || !json_is_boolean(ok) ||
	    (json_is_false(ok) && (!json_is_string(json_object_get(r, "error")) || !json_object_get(r, "errno"))))
		abort();
	json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!node)
		setup();
	if (fd < 0)
		connect_ctl();
	fz_lines(d, n, one);
	return 0;
}
