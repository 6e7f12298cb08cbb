/* node_world.h - small helpers of the unit tests that run real nodes (konce_node) on one libevent
 * base in this process (test_node.c, test_node_group.c, test_node_group_rejoin.c,
 * test_node_group_replay.c, test_node_trav_hostile.c, test_ctlproto.c): the nodes' log, shown only
 * from warnings up unless TEST_NODE_VERBOSE is set; the scratch directory that holds the nodes'
 * data; a run of the base for a while; and the end of a world.  world_loop.h runs a world until a
 * condition holds. */
#ifndef KONCE_TEST_NODE_WORLD_H
#define KONCE_TEST_NODE_WORLD_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "konce/konce.h"

/* A node's log line on stderr, if it is a warning or worse or TEST_NODE_VERBOSE is set. */
static inline void node_log_show(int level, const char *line)
{
	if (level <= KONCE_LOG_WARN || getenv("TEST_NODE_VERBOSE"))
		fprintf(stderr, "  node log: %s\n", line);
}

/* konce_node_config.log for a node whose lines the test does not read. */
static inline void node_log_quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	node_log_show(level, line);
}

/* A fresh /tmp/konce-NAME-XXXXXX in dir (cap bytes): 0, or -1 if it cannot be made. */
static inline int node_dir_make(char *dir, size_t cap, const char *name)
{
	snprintf(dir, cap, "/tmp/konce-%s-XXXXXX", name);
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and all in it; system()'s status (0: removed). */
static inline int node_dir_remove(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

/* The end of a world: node[n - 1] .. node[0] freed, then base; then dir removed.  system()'s
 * status (0: removed). */
static inline int node_world_free(konce_node **node, int n, struct event_base *base, const char *dir)
{
	for (int i = n - 1; i >= 0; i--)
		konce_node_free(node[i]);
	event_base_free(base);
	return node_dir_remove(dir);
}

/* Runs base for ms milliseconds. */
static inline void node_run_for(struct event_base *base, long ms)
{
	struct timeval t = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &t);
	event_base_dispatch(base);
}

#endif
