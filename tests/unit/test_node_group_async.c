/* test_node_group_async.c - the group calls that do not wait for SQLite (include/konce/group.h:
 * konce_node_group_create_async, _join_async, _log_async) on two real nodes in one process over
 * loopback UDP, each with its own SQLite store.
 *
 * Each call returns before its SQLite work runs (the group is not hosted yet when create returns),
 * and its done comes once, later, from the event loop; a call refused by its checks returns the
 * errno and never calls done; two creates of one name taken before either is written end in one
 * group and one -EEXIST.  The log's entries are handed over on the store writer's thread, its
 * count on the loop's.  A create still on the writer when the node is freed ends -ECANCELED inside
 * konce_node_free(), and the restarted node does not have the group. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "konce/group.h"
#include "konce/konce.h"
#include "tests/unit/node_world.h"

static struct event_base *base;
static konce_node *nodes[2];
static char addr0[64], dir[64];
static pthread_t loop_thread;

struct done {
	int result;
	unsigned calls;
	bool on_loop;
};

static void on_done(void *ctx, int result)
{
	struct done *d = ctx;
	d->result = result;
	d->calls++;
	d->on_loop = pthread_equal(pthread_self(), loop_thread);
}

static uint64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* Runs the loop until ok(ctx) or 10 s; false on timeout. */
static bool run_until(bool (*ok)(const void *), const void *ctx)
{
	uint64_t end = now_us() + 10000000;
	while (!ok(ctx)) {
		if (now_us() > end)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

static bool called(const void *c) { return ((const struct done *)c)->calls > 0; }

static int state_of(int i)
{
	konce_group_info gi;
	return konce_node_group_info(nodes[i], "demo", &gi) ? -1 : gi.state;
}
static bool pair(const void *c)
{
	konce_group_info a, b;
	(void)c;
	return !konce_node_group_info(nodes[0], "demo", &a) && !konce_node_group_info(nodes[1], "demo", &b) &&
	       a.state == KONCE_GROUP_S_MEMBER && b.state == KONCE_GROUP_S_MEMBER && a.nmembers == 2 &&
	       b.nmembers == 2;
}
static bool committed(const void *tok) { return konce_node_group_invite_status(nodes[0], "demo", tok) == 1; }

/* The log's entry callback: on the writer thread, never the loop's. */
struct seen {
	unsigned entries, on_loop;
	bool found;
};
static int on_entry(void *ctx, uint64_t seq, const uint8_t *origin, const uint8_t *data, size_t len)
{
	struct seen *s = ctx;
	(void)seq, (void)origin;
	s->entries++;
	s->on_loop += pthread_equal(pthread_self(), loop_thread) != 0;
	if (len == 5 && !memcmp(data, "first", 5))
		s->found = true;
	return 0;
}
static int find_first(void *ctx, uint64_t seq, const uint8_t *origin, const uint8_t *data, size_t len)
{
	(void)seq, (void)origin;
	*(bool *)ctx = len == 5 && !memcmp(data, "first", 5);
	return *(bool *)ctx;
}
static bool both_have_first(const void *c)
{
	(void)c;
	for (int i = 0; i < 2; i++) {
		bool f = false;
		if (konce_node_group_log(nodes[i], "demo", 1, find_first, &f) <= 0 || !f)
			return false;
	}
	return true;
}

static int open_node(int i, const char *listen)
{
	char err[512], path[128];
	snprintf(path, sizeof path, "%s/%c", dir, 'a' + i);
	konce_node_config cfg = {.data_dir = path, .listen = listen, .log = node_log_quiet,
				 .log_level = getenv("TEST_NODE_VERBOSE") ? KONCE_LOG_DEBUG : KONCE_LOG_INFO};
	if (konce_node_new(&nodes[i], base, &cfg, err, sizeof err)) {
		fprintf(stderr, "node %d: %s\n", i, err);
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	loop_thread = pthread_self();
	if (!(base = event_base_new()) || node_dir_make(dir, sizeof dir, "node-group-async"))
		return -1;
	for (int i = 0; i < 2; i++)
		if (open_node(i, "127.0.0.1:0"))
			return -1;
	konce_node_listen_addr(nodes[0], addr0, sizeof addr0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return node_world_free(nodes, 2, base, dir);
}

static void test_create_join_log(void **state)
{
	(void)state;
	struct done c = {0}, j = {0}, l = {0}, no = {0};
	konce_group_info gi;

	/* create: nothing hosted when the call returns; done later, on the loop */
	assert_int_equal(konce_node_group_create_async(nodes[0], "demo", on_done, &c), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(konce_node_group_info(nodes[0], "demo", &gi), -ENOENT);
	assert_true(run_until(called, &c));
	assert_int_equal(c.result, 0);
	assert_true(c.on_loop);
	assert_int_equal(state_of(0), KONCE_GROUP_S_MEMBER);

	/* refused by the checks: the errno, and no done */
	assert_int_equal(konce_node_group_create_async(nodes[0], "demo", on_done, &no), -EEXIST);
	assert_int_equal(konce_node_group_create_async(nodes[0], "bad name", on_done, &no), -EINVAL);
	assert_int_equal(konce_node_group_create_async(nodes[0], "other", NULL, NULL), -EINVAL);
	assert_int_equal(konce_node_group_join_async(nodes[1], "not a token", "demo", 0, on_done, &no), -EINVAL);
	assert_int_equal(konce_node_group_join_async(nodes[1], "not a token", "demo", KONCE_GROUP_JOIN_TIMEOUT_MAX + 1,
						     on_done, &no),
			 -ERANGE);
	assert_int_equal(konce_node_group_log_async(nodes[1], "demo", 1, on_entry, NULL, on_done, &no), -ENOENT);

	/* join: under way once done says 0; the outcome as the group's own events */
	char tok[KONCE_GROUP_TOKEN_MAX];
	assert_int_equal(konce_node_group_invite(nodes[0], "demo", 0, addr0, tok, sizeof tok), 0);
	assert_true(run_until(committed, tok));
	assert_int_equal(konce_node_group_join_async(nodes[1], tok, "demo", 0, on_done, &j), 0);
	assert_int_equal(j.calls, 0);
	assert_true(run_until(called, &j));
	assert_int_equal(j.result, 0);
	assert_true(j.on_loop);
	assert_true(run_until(pair, NULL));

	/* log: the entries on the writer thread, the count on the loop */
	assert_true(konce_node_group_propose(nodes[0], "demo", (const uint8_t *)"first", 5) > 0);
	assert_true(run_until(both_have_first, NULL));
	struct seen s = {0};
	assert_int_equal(konce_node_group_log_async(nodes[1], "demo", 1, on_entry, &s, on_done, &l), 0);
	assert_true(run_until(called, &l));
	assert_true(l.on_loop);
	assert_true(l.result >= 1);
	assert_int_equal((unsigned)l.result, s.entries);
	assert_int_equal(s.on_loop, 0);
	assert_true(s.found);

	/* two creates of one name, both taken before either is written: one group, one refusal */
	struct done t1 = {0}, t2 = {0};
	assert_int_equal(konce_node_group_create_async(nodes[0], "twin", on_done, &t1), 0);
	assert_int_equal(konce_node_group_create_async(nodes[0], "twin", on_done, &t2), 0);
	assert_true(run_until(called, &t1));
	assert_true(run_until(called, &t2));
	assert_int_equal(t1.result, 0);
	assert_int_equal(t2.result, -EEXIST);
	konce_group_info all[4];
	assert_int_equal(konce_node_group_list(nodes[0], all, 4), 2); /* demo and twin */

	assert_int_equal(no.calls, 0);
	assert_int_equal(c.calls + j.calls + l.calls + t1.calls + t2.calls, 5);
}

static void test_cancelled_by_free(void **state)
{
	(void)state;
	struct done d = {0};
	konce_group_info gi[2];

	assert_int_equal(konce_node_group_create_async(nodes[0], "late", on_done, &d), 0);
	konce_node_free(nodes[0]);
	nodes[0] = NULL;
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.result, -ECANCELED);

	/* the restarted node does not host it */
	assert_int_equal(open_node(0, addr0), 0);
	assert_int_equal(konce_node_group_list(nodes[0], gi, 2), 0);
	assert_int_equal(konce_node_group_info(nodes[0], "late", &gi[0]), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_join_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_by_free, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
