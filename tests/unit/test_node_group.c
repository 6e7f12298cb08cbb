/* test_node_group.c - groups on three real nodes in one process (loopback UDP, libevent, stores in
 * a temporary directory), through the public API of include/konce/group.h: the join policy
 * (konce_node_group_on_join_request) vetoes a joiner, and the snapshot callback
 * (konce_node_group_on_snapshot) hands a joiner the application state it then gets as a SNAPSHOT
 * event, before the decisions that follow; after a restart the application gets its state back
 * through the same events (replayed). */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "konce/group.h"
#include "konce/konce.h"
#include "tests/unit/node_world.h"

enum { N = 3 };

struct app {
	char state[256]; /* the application state: every decision delivered, joined by '|' */
	size_t len;
	uint64_t snap_seq;
	unsigned snapshots, decided, snap_calls, policy_calls, refused, replayed;
	char policy_group[KONCE_GROUP_NAME_MAX + 1];
	uint8_t veto[KONCE_KEY_BYTES]; /* the key this node's policy vetoes (zero: none) */
};

struct world {
	struct event_base *base;
	char dir[64];
	konce_node *node[N];
	uint8_t pk[N][KONCE_KEY_BYTES];
	char addr[N][64];
	struct app app[N];
};

static void on_event(void *ctx, const konce_group_notice *ev)
{
	struct app *a = ctx;
	a->replayed += ev->replayed != 0;
	if (ev->type == KONCE_GROUP_N_DECIDED) {
		int w = snprintf(a->state + a->len, sizeof a->state - a->len, "%s%.*s", a->len ? "|" : "", (int)ev->len,
				 (const char *)ev->data);
		a->len += (size_t)w;
		a->decided++;
	} else if (ev->type == KONCE_GROUP_N_SNAPSHOT) {
		assert_true(ev->len < sizeof a->state);
		memcpy(a->state, ev->data, ev->len);
		a->len = ev->len;
		a->state[a->len] = '\0';
		a->snap_seq = ev->seq;
		a->snapshots++;
	} else if (ev->type == KONCE_GROUP_N_OUT && ev->reason == KONCE_GROUP_REFUSED) {
		a->refused++;
	}
}

static int on_snapshot(void *ctx, const char *name, const uint8_t **data, size_t *len)
{
	struct app *a = ctx;
	assert_string_equal(name, "g");
	a->snap_calls++;
	*data = (const uint8_t *)a->state;
	*len = a->len;
	return 0;
}

static int on_join(void *ctx, const char *name, const uint8_t key[KONCE_KEY_BYTES])
{
	struct app *a = ctx;
	a->policy_calls++;
	snprintf(a->policy_group, sizeof a->policy_group, "%s", name);
	return memcmp(key, a->veto, KONCE_KEY_BYTES) != 0;
}

#include "tests/unit/world_loop.h"

static konce_group_info info(struct world *w, int i)
{
	konce_group_info g;
	memset(&g, 0, sizeof g);
	konce_node_group_info(w->node[i], "g", &g);
	return g;
}
static bool two_members(struct world *w)
{
	return info(w, 1).state == KONCE_GROUP_S_MEMBER && info(w, 1).nmembers == 2 && w->app[1].snapshots == 1;
}
static bool b_decided_three(struct world *w) { return w->app[1].decided == 1 && w->app[0].decided == 3; }
static bool c_refused(struct world *w) { return w->app[2].refused == 1; }

static char token[KONCE_GROUP_TOKEN_MAX];
static int invite_node;
static bool committed(struct world *w) { return konce_node_group_invite_status(w->node[invite_node], "g", token) == 1; }

static void invite(struct world *w, int i)
{
	invite_node = i;
	assert_int_equal(konce_node_group_invite(w->node[i], "g", 0, w->addr[i], token, sizeof token), 0);
	assert_true(run_until(w, committed, 10));
}

static void propose(struct world *w, int i, const char *text)
{
	assert_true(konce_node_group_propose(w->node[i], "g", (const uint8_t *)text, strlen(text)) >= 1);
}

static bool a_decided_two(struct world *w) { return w->app[0].decided == 2; }

static void test_policy_and_snapshot(void **state)
{
	struct world *w = *state;
	assert_int_equal(konce_node_group_create(w->node[0], "g"), 0);
	propose(w, 0, "one");
	propose(w, 0, "two");
	assert_true(run_until(w, a_decided_two, 10));
	assert_string_equal(w->app[0].state, "one|two");

	/* B joins: A's snapshot callback gives it "one|two", as the SNAPSHOT event after seq >= 2 */
	invite(w, 0);
	assert_int_equal(konce_node_group_join(w->node[1], token, "g"), 0);
	assert_true(run_until(w, two_members, 15));
	assert_true(w->app[0].snap_calls >= 1);
	assert_string_equal(w->app[1].state, "one|two");
	assert_true(w->app[1].snap_seq >= 2);
	assert_int_equal(w->app[1].decided, 0);
	/* and the decisions after it */
	propose(w, 1, "three");
	assert_true(run_until(w, b_decided_three, 10));
	assert_string_equal(w->app[1].state, "one|two|three");
	assert_string_equal(w->app[0].state, w->app[1].state);

	/* C is vetoed by B's policy: refused, and B's callback named the group and saw C's key */
	memcpy(w->app[1].veto, w->pk[2], KONCE_KEY_BYTES);
	invite(w, 0);
	assert_int_equal(konce_node_group_join(w->node[2], token, "gc"), 0);
	assert_true(run_until(w, c_refused, 15));
	assert_true(w->app[1].policy_calls >= 1);
	assert_string_equal(w->app[1].policy_group, "g");
	assert_int_equal(info(w, 0).nmembers, 2);
	/* the invitation is spent: its status says so */
	assert_int_equal(konce_node_group_invite_status(w->node[0], "g", token), -ESTALE);
}

static bool three_members(struct world *w)
{
	return info(w, 0).nmembers == 3 && info(w, 2).state == KONCE_GROUP_S_MEMBER && info(w, 2).nmembers == 3;
}
static bool b_member_again(struct world *w)
{
	return info(w, 1).state == KONCE_GROUP_S_MEMBER && info(w, 0).state == KONCE_GROUP_S_MEMBER;
}

/* An invitation committed before B joined reaches B only with B's snapshot; B restarted keeps it
 * (the store holds the snapshot stream), so the pair A, B can admit C with it: both must say yes. */
static void test_restart_keeps_invitations(void **state)
{
	struct world *w = *state;
	char token_c[KONCE_GROUP_TOKEN_MAX], err[256], path[128];
	assert_int_equal(konce_node_group_create(w->node[0], "g"), 0);
	invite(w, 0);
	memcpy(token_c, token, sizeof token_c);
	invite(w, 0);
	assert_int_equal(konce_node_group_join(w->node[1], token, "g"), 0);
	assert_true(run_until(w, two_members, 15));

	konce_node_free(w->node[1]);
	snprintf(path, sizeof(path), "%s/b", w->dir);
	konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = node_log_quiet, .log_ctx = w};
	assert_int_equal(konce_node_new(&w->node[1], w->base, &cfg, err, sizeof(err)), 0);
	konce_node_listen_addr(w->node[1], w->addr[1], sizeof(w->addr[1]));
	assert_int_equal(konce_node_group_on_event(w->node[1], on_event, &w->app[1]), 0);
	assert_true(run_until(w, b_member_again, 10));

	assert_int_equal(konce_node_group_join(w->node[2], token_c, "g"), 0);
	assert_true(run_until(w, three_members, 20));
	assert_int_equal(w->app[2].refused, 0);
}

static void restart(struct world *w, int i)
{
	char err[256], path[128];
	konce_node_free(w->node[i]);
	memset(&w->app[i], 0, sizeof w->app[i]); /* a new process: the application starts empty */
	snprintf(path, sizeof(path), "%s/%c", w->dir, 'a' + i);
	/* the same address: the other one, restarted too, finds it where it was */
	konce_node_config cfg = {.data_dir = path, .listen = w->addr[i], .log = node_log_quiet, .log_ctx = w};
	assert_int_equal(konce_node_new(&w->node[i], w->base, &cfg, err, sizeof(err)), 0);
	assert_int_equal(konce_node_group_on_event(w->node[i], on_event, &w->app[i]), 0);
	assert_int_equal(konce_node_group_on_snapshot(w->node[i], on_snapshot, &w->app[i]), 0);
	assert_int_equal(w->app[i].replayed, 0); /* never inside the call */
}

static bool both_rebuilt(struct world *w)
{
	return b_member_again(w) && !strcmp(w->app[0].state, "one|two|three") &&
	       !strcmp(w->app[1].state, "one|two|three");
}
static bool both_four(struct world *w)
{
	return !strcmp(w->app[0].state, "one|two|three|four") && !strcmp(w->app[1].state, "one|two|three|four");
}

/* After a restart the application's state comes back through the same callbacks: A (the founder)
 * gets every decision again, B (which joined by a snapshot) its snapshot and the decision after it,
 * each marked `replayed`; the next decision follows once, with nothing lost or repeated. */
static void test_restart_hands_state_back(void **state)
{
	struct world *w = *state;
	assert_int_equal(konce_node_group_create(w->node[0], "g"), 0);
	propose(w, 0, "one");
	propose(w, 0, "two");
	assert_true(run_until(w, a_decided_two, 10));
	invite(w, 0);
	assert_int_equal(konce_node_group_join(w->node[1], token, "g"), 0);
	assert_true(run_until(w, two_members, 15));
	propose(w, 1, "three");
	assert_true(run_until(w, b_decided_three, 10));

	restart(w, 0);
	restart(w, 1);
	assert_true(run_until(w, both_rebuilt, 10));
	assert_int_equal(w->app[0].snapshots, 0);
	assert_int_equal(w->app[0].decided, 3);
	assert_int_equal(w->app[0].replayed, 3);
	assert_int_equal(w->app[1].snapshots, 1);
	assert_true(w->app[1].snap_seq >= 2);
	assert_int_equal(w->app[1].decided, 1);
	assert_int_equal(w->app[1].replayed, 2);

	propose(w, 1, "four");
	assert_true(run_until(w, both_four, 10));
	assert_int_equal(w->app[0].decided, 4);
	assert_int_equal(w->app[0].replayed, 3); /* the new one is not a replay */
	assert_int_equal(w->app[1].decided, 2);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[512], path[128];
	if (!w || !(w->base = event_base_new()) || node_dir_make(w->dir, sizeof w->dir, "ngroup"))
		return -1;
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/%c", w->dir, 'a' + i); /* a, b, c */
		konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = node_log_quiet, .log_ctx = w};
		if (konce_node_new(&w->node[i], w->base, &cfg, err, sizeof(err))) {
			fprintf(stderr, "node %d: %s\n", i, err);
			return -1;
		}
		konce_node_public_key(w->node[i], w->pk[i]);
		konce_node_listen_addr(w->node[i], w->addr[i], sizeof(w->addr[i]));
		if (konce_node_group_on_event(w->node[i], on_event, &w->app[i]) ||
		    konce_node_group_on_snapshot(w->node[i], on_snapshot, &w->app[i]) ||
		    konce_node_group_on_join_request(w->node[i], on_join, &w->app[i]))
			return -1;
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	int rc = node_world_free(w->node, N, w->base, w->dir);
	free(w);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_and_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_invitations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_hands_state_back, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
