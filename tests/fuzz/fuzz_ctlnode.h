/* fuzz_ctlnode.h - the node the control targets talk to (fuzz_control.c through its socket,
 * fuzz_ctlproto.c directly): konce_node_new on an event base of its own, a temporary data
 * directory (fuzz_tmpdir.h), 127.0.0.1:0, traversal on as a rendezvous service only (it sends
 * nothing by itself, so "path", "netcheck" and the traversal part of "status" answer from real
 * state), and a log that drops every line; and how both cut their input into request lines
 * (header only). */
#ifndef KONCE_FUZZ_CTLNODE_H
#define KONCE_FUZZ_CTLNODE_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tmpdir.h"
#include "node/io/node_int.h"

static void fz_quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
}

/* Starts the node in /tmp/konce-fuzz-NAME-XXXXXX on *base (made here); with sock, its control
 * socket is ctl.sock in that directory, and its path goes into sock[cap].  Aborts on failure. */
static konce_node *fz_ctlnode_start(const char *name, struct event_base **base, char *sock, size_t cap)
{
	const char *dir = fz_tmpdir_make(name);
	char err[512];
	konce_node *node;
	if (!dir || !(*base = event_base_new()))
		abort();
	if (sock)
		snprintf(sock, cap, "%s/ctl.sock", dir);
	konce_node_config cfg = {.data_dir = dir, .listen = "127.0.0.1:0", .control_path = sock, .log = fz_quiet,
				 .log_level = KONCE_LOG_ERROR,
				 .traversal = {.rendezvous = 1, .rendezvous_capacity = 16}};
	if (konce_node_new(&node, *base, &cfg, err, sizeof err)) {
		fprintf(stderr, "fuzz_%s: %s\n", name, err);
		abort();
	}
	return node;
}

/* Calls each(line, len) for every non-empty '\n'-separated line of d[0, n), as a C string (an
 * embedded NUL ends it early) in a buffer with room for one byte more after the NUL. */
static void fz_lines(const uint8_t *d, size_t n, void (*each)(char *line, size_t len))
{
	char *line = malloc(n + 2);
	if (!line)
		abort();
	for (size_t i = 0; i < n;) {
		const uint8_t *nl = memchr(d + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (d + i)) : n - i;
		memcpy(line, d + i, l);
		line[l] = 0;
		i += l + 1;
		if (l)
			each(line, l);
	}
	free(line);
}

#endif
