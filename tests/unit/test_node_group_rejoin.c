/* test_node_group_rejoin.c - the daemon's group API (include/konce/group.h, node/io/group_io.c, node/core/ncgapp.c) on two
 * nodes in one process over loopback UDP, each with its own SQLite store: a member that is out of
 * a group comes back only with a new invitation.
 *
 * A founds "demo" and invites B; B joins, then leaves (a pair shrinks to one by a leave: B votes in
 * it), and is out.  B's old token is refused (the view that admitted B used that invitation): B is
 * out again.  A join with a new token replaces the group B is out of (same name, same id): B is a
 * member again and A and B agree on a decision.  A join of a group B is a member of (or joining)
 * is still refused with -EEXIST.
 *
 * The control socket's join (konce_node_group_join_async, group.h) does the same replacement on
 * the store writer: the call returns with the old group still there (nothing waited for SQLite on
 * the loop), its done reports 0 later, B is a member again, and after a restart B's store holds
 * the one group, as a member. */
#include <errno.h>
#include <event2/event.h>
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
#include "node/ctl/ctlproto.h"
#include "tests/unit/node_world.h"

struct gnode {
	konce_node *n;
	char addr[64];
	unsigned joined, outs, out_reason;
};

static struct event_base *base;
static struct gnode nodes[2];
static char dir[64];

static void on_group(void *ctx, const konce_group_notice *ev)
{
	struct gnode *g = ctx;
	if (ev->type == KONCE_GROUP_N_JOINED)
		g->joined++;
	if (ev->type == KONCE_GROUP_N_OUT) {
		g->outs++;
		g->out_reason = (unsigned)ev->reason;
	}
}

static uint64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* Runs the loop until done() or 10 s; false on timeout.  The group cores tick every 20 ms, so a
 * turn never blocks long. */
static bool run_until(bool (*done)(const void *), const void *ctx)
{
	uint64_t end = now_us() + 10000000;
	while (!done(ctx)) {
		if (now_us() > end)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

static int state_of(int i, unsigned *nmembers)
{
	konce_group_info gi;
	if (konce_node_group_info(nodes[i].n, "demo", &gi))
		return -1;
	if (nmembers)
		*nmembers = gi.nmembers;
	return gi.state;
}

static bool b_out(const void *c) { return nodes[1].outs == *(const unsigned *)c && state_of(1, NULL) == KONCE_GROUP_S_OUT; }
static bool pair(const void *c)
{
	unsigned na = 0, nb = 0;
	(void)c;
	return state_of(0, &na) == KONCE_GROUP_S_MEMBER && na == 2 && state_of(1, &nb) == KONCE_GROUP_S_MEMBER && nb == 2;
}
static bool b_joined(const void *c) { return nodes[1].joined == *(const unsigned *)c; }
static bool alone(const void *c)
{
	unsigned na = 0;
	(void)c;
	return state_of(0, &na) == KONCE_GROUP_S_MEMBER && na == 1;
}
/* The node's log (what it delivered, as `konce group log` shows it) holds the decision text. A
 * joiner's first deliveries may come as its snapshot (the state after them) rather than as
 * DECIDED events: the log is what both have in common. */
struct find {
	const char *text;
	bool found;
};
static int find_text(void *ctx, uint64_t seq, const uint8_t *origin, const uint8_t *data, size_t len)
{
	struct find *f = ctx;
	(void)seq, (void)origin;
	f->found = len == strlen(f->text) && !memcmp(data, f->text, len);
	return f->found;
}
static bool delivered(int i, const char *text)
{
	struct find f = {text, false};
	return konce_node_group_log(nodes[i].n, "demo", 1, find_text, &f) > 0 && f.found;
}
static bool both_decided(const void *c) { return delivered(0, c) && delivered(1, c); }

static bool committed(const void *tok) { return konce_node_group_invite_status(nodes[0].n, "demo", tok) == 1; }
static void invite(char *tok)
{
	assert_int_equal(konce_node_group_invite(nodes[0].n, "demo", 0, nodes[0].addr, tok, KONCE_GROUP_TOKEN_MAX), 0);
	assert_true(run_until(committed, tok)); /* a joiner can use it now */
}

/* A creates "demo" and invites B with tok, B joins, and both see the pair. */
static void create_and_pair(char *tok)
{
	assert_int_equal(konce_node_group_create(nodes[0].n, "demo"), 0);
	invite(tok);
	assert_int_equal(konce_node_group_join(nodes[1].n, tok, "demo"), 0);
	assert_true(run_until(pair, NULL));
}

static int setup(void **state)
{
	char err[512], path[128];
	(void)state;
	if (!(base = event_base_new()) || node_dir_make(dir, sizeof dir, "node-group"))
		return -1;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%c", dir, 'a' + i);
		konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = node_log_quiet,
					 .log_level = getenv("TEST_NODE_VERBOSE") ? KONCE_LOG_DEBUG : KONCE_LOG_INFO};
		memset(&nodes[i], 0, sizeof nodes[i]);
		if (konce_node_new(&nodes[i].n, base, &cfg, err, sizeof err)) {
			fprintf(stderr, "node %d: %s\n", i, err);
			return -1;
		}
		konce_node_listen_addr(nodes[i].n, nodes[i].addr, sizeof nodes[i].addr);
		if (konce_node_group_on_event(nodes[i].n, on_group, &nodes[i]))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++)
		konce_node_free(nodes[i].n);
	event_base_free(base);
	return node_dir_remove(dir);
}

static void test_back_only_by_new_invitation(void **state)
{
	char tok1[KONCE_GROUP_TOKEN_MAX], tok2[KONCE_GROUP_TOKEN_MAX];
	konce_group_info a, b;
	unsigned outs;
	(void)state;
	create_and_pair(tok1);
	/* the JOINED notice follows the view's record to disk (the group writer thread), which may be
	 * a loop turn after the core installed the view */
	outs = 1; /* here: the JOINED notices B has had */
	assert_true(run_until(b_joined, &outs));
	assert_true(konce_node_group_propose(nodes[1].n, "demo", (const uint8_t *)"first", 5) > 0);
	assert_true(run_until(both_decided, "first"));
	/* a member (or a joiner) cannot join its group again */
	assert_int_equal(konce_node_group_join(nodes[1].n, tok1, "demo"), -EEXIST);
	assert_int_equal(konce_node_group_join(nodes[1].n, tok1, "other"), -EEXIST);

	/* B leaves: out */
	assert_int_equal(konce_node_group_leave(nodes[1].n, "demo"), 0);
	outs = 1;
	assert_true(run_until(b_out, &outs));
	assert_int_equal(nodes[1].out_reason, KONCE_GROUP_LEFT);
	assert_true(run_until(alone, NULL));
	assert_int_equal(konce_node_group_info(nodes[1].n, "demo", &b), 0); /* B still shows it, out */

	/* the old token: the join is refused, B is out again */
	assert_int_equal(konce_node_group_join(nodes[1].n, tok1, "demo"), 0);
	assert_int_equal(state_of(1, NULL), KONCE_GROUP_S_JOINING);
	outs = 2;
	assert_true(run_until(b_out, &outs));
	assert_int_equal(nodes[1].out_reason, KONCE_GROUP_REFUSED);
	assert_true(alone(NULL));

	/* a new invitation: B is a member again, of the same group */
	invite(tok2);
	assert_int_equal(konce_node_group_join(nodes[1].n, tok2, "demo"), 0);
	assert_true(run_until(pair, NULL));
	outs = 2;
	assert_true(run_until(b_joined, &outs));
	assert_int_equal(konce_node_group_info(nodes[0].n, "demo", &a), 0);
	assert_int_equal(konce_node_group_info(nodes[1].n, "demo", &b), 0);
	assert_memory_equal(a.id, b.id, sizeof a.id);
	assert_int_equal(a.epoch, b.epoch);
	assert_true(konce_node_group_propose(nodes[1].n, "demo", (const uint8_t *)"back", 4) > 0);
	assert_true(run_until(both_decided, "back"));
	assert_int_equal(konce_node_group_list(nodes[1].n, &b, 1), 1); /* one group, not two */
}

struct callres {
	int e;
	unsigned calls;
};
static void join_done(void *dctx, int e)
{
	struct callres *r = dctx;
	r->e = e;
	r->calls++;
}
static bool called(const void *c) { return ((const struct callres *)c)->calls > 0; }
static bool b_member(const void *c)
{
	(void)c;
	return state_of(1, NULL) == KONCE_GROUP_S_MEMBER;
}

static void test_control_rejoin_on_writer(void **state)
{
	char tok1[KONCE_GROUP_TOKEN_MAX], tok2[KONCE_GROUP_TOKEN_MAX], err[256], path[128];
	konce_group_info a, b;
	unsigned outs;
	(void)state;
	create_and_pair(tok1);
	assert_int_equal(konce_node_group_leave(nodes[1].n, "demo"), 0);
	outs = 1;
	assert_true(run_until(b_out, &outs));
	assert_true(run_until(alone, NULL));

	/* the rejoin by the control's call: nothing is forgotten inside it */
	invite(tok2);
	struct callres r = {0};
	assert_int_equal(konce_node_group_join_async(nodes[1].n, tok2, "demo", 60, join_done, &r), 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(state_of(1, NULL), KONCE_GROUP_S_OUT);
	assert_true(run_until(called, &r));
	assert_int_equal(r.e, 0);
	assert_int_equal(r.calls, 1);
	assert_true(run_until(pair, NULL));
	assert_true(konce_node_group_propose(nodes[1].n, "demo", (const uint8_t *)"back", 4) > 0);
	assert_true(run_until(both_decided, "back"));
	assert_int_equal(konce_node_group_list(nodes[1].n, &b, 1), 1);

	/* B restarted: its store holds the new group's row alone, a member */
	konce_node_free(nodes[1].n);
	snprintf(path, sizeof path, "%s/b", dir);
	konce_node_config cfg = {.data_dir = path, .listen = nodes[1].addr, .log = node_log_quiet};
	assert_int_equal(konce_node_new(&nodes[1].n, base, &cfg, err, sizeof err), 0);
	assert_int_equal(konce_node_group_list(nodes[1].n, &b, 1), 1);
	assert_true(run_until(b_member, NULL));
	assert_int_equal(konce_node_group_info(nodes[0].n, "demo", &a), 0);
	assert_int_equal(konce_node_group_info(nodes[1].n, "demo", &b), 0);
	assert_memory_equal(a.id, b.id, sizeof a.id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_back_only_by_new_invitation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_rejoin_on_writer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
