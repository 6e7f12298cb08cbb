/* fuzz_ctlproto.c - the control protocol (node/ctl/ctlproto.h) driven directly: request lines into
 * konce_ctlproto_handle(), no socket in between (tests/fuzz/fuzz_control.c drives the same code
 * through the socket's plumbing).
 *
 * Harness (built once): a real node (konce_node_new on an event_base, a temporary data directory,
 * 127.0.0.1:0, traversal on as a rendezvous service so "path", "netcheck" and the traversal part
 * of "status" answer from real state) and its control host (node/io/ctl_host.c).
 *
 * Input: request lines separated by '\n'.  A line is handed over as a C string, as the socket layer
 * does (an embedded NUL ends it); a line longer than KONCE_CTLPROTO_LINE_MAX gets the plumbing's
 * refusal instead.  Requests naming "addr" or "file" are not sent (the first would send UDP to an
 * arbitrary host, the second read an arbitrary local file; tests/unit/test_ctlproto.c covers both).
 * Invariants (abort on violation): DONE means exactly one line was written, final, and no op; PENDING
 * means an op and nothing written yet; a pending op answers with exactly one final line within 10 s
 * (progress lines before it are objects with "progress" and no "ok"); every final line is a JSON
 * object with a boolean "ok", and a refusal carries a string "error" and an "errno"; nothing leaks. */
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ctlnode.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static struct event_base *base;
static konce_node *node;
static konce_ctlproto_host host;
static unsigned lines, finals;

static void setup(void)
{
	node = fz_ctlnode_start("ctlproto", &base, NULL, 0);
	node_ctl_host(node, &host);
}

static void out(void *octx, const char *line, size_t len, bool final)
{
	(void)octx;
	if (!line || strlen(line) != len || finals)
		abort();
	json_t *r = json_loadb(line, len, 0, NULL);
	json_t *ok = json_object_get(r, "ok");
	lines++;
	if (final) {
		finals++;
		if (!json_is_object(r) || !json_is_boolean(ok) ||
		    (json_is_false(ok) && (!json_is_string(json_object_get(r, "error")) || !json_object_get(r, "errno"))))
			abort();
		event_base_loopbreak(base);
	} else if (!json_is_object(json_object_get(r, "progress")) || ok) {
		abort();
	}
	json_decref(r);
}

static void time_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	abort(); /* a pending request never answered */
}

static int refused_here(const char *line)
{
	json_t *req = json_loads(line, 0, NULL);
	int no = json_is_object(req) && (json_object_get(req, "addr") || json_object_get(req, "file"));
	json_decref(req);
	return no;
}

static void one(char *line, size_t len)
{
	konce_ctlproto_op *op = NULL;
	lines = finals = 0;
	if (len > KONCE_CTLPROTO_LINE_MAX) {
		konce_ctlproto_too_long(out, NULL);
		if (lines != 1 || finals != 1)
			abort();
		return;
	}
	if (refused_here(line))
		return;
	int r = konce_ctlproto_handle(&host, line, out, NULL, &op);
	if (r == KONCE_CTLPROTO_DONE) {
		if (op || lines != 1 || finals != 1)
			abort();
		return;
	}
	if (r != KONCE_CTLPROTO_PENDING || !op || lines)
		abort();
	if (konce_ctlproto_op_progress_ms(op))
		konce_ctlproto_op_progress(op);
	/* the limit is an event of its own, gone afterwards (a loopexit would outlive this loop) */
	struct timeval limit = {10, 0};
	struct event *t = evtimer_new(base, time_up, NULL);
	if (!t || evtimer_add(t, &limit))
		abort();
	event_base_dispatch(base);
	event_free(t);
	if (finals != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!node)
		setup();
	fz_lines(d, n, one);
	return 0;
}
