/* test_node_group_replay.c - a restarted node hands its group's state back to the application
 * (node/io/group_io.c: the replay read on the store writer, a stretch at a time, ncgapi.h
 * konce_ncgapi_tape), on one real node (libevent, a store in a temporary directory), through the
 * public API of include/konce/group.h.
 *
 * The group's log is longer than two stretches (KONCE_NCGAPI_TAPE_ENTRIES), so its replay takes
 * several reads.  The application proposes a new decision from inside its callback for the first
 * replayed notice, so the new decision is made while the rest of the replay is still to be read:
 * the group's new event overtakes its replay's read, and the loop waits for the writer (its debug
 * log says so).  The application must see every old decision once, in order, marked replayed, then
 * the new one once, not marked: no gap, no duplicate. */
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
#include "node/core/ncgapi.h"
#include "tests/unit/node_world.h"

enum { OLD = 2 * KONCE_NCGAPI_TAPE_ENTRIES + 10 };

struct world {
	struct event_base *base;
	char dir[64];
	konce_node *node;
	unsigned decided, replayed, out_of_order, waited, proposed_new;
	uint64_t last_seq;
	bool propose_inside, saw_new;
};

static void logline(void *ctx, int level, const char *line)
{
	struct world *w = ctx;
	if (strstr(line, "waits for the rest of its replay"))
		w->waited++;
	node_log_show(level, line);
}

/* Decisions "d0", "d1", ... then "new": each checked against the count so far. */
static void on_event(void *ctx, const konce_group_notice *ev)
{
	struct world *w = ctx;
	char want[16];
	if (ev->type != KONCE_GROUP_N_DECIDED)
		return;
	if (w->decided < OLD)
		snprintf(want, sizeof want, "d%u", w->decided);
	else
		snprintf(want, sizeof want, "new");
	if (ev->len != strlen(want) || memcmp(ev->data, want, ev->len) || ev->seq <= w->last_seq ||
	    (ev->replayed != 0) != (w->propose_inside && w->decided < OLD))
		w->out_of_order++;
	w->saw_new |= w->decided == OLD;
	w->last_seq = ev->seq;
	w->decided++;
	w->replayed += ev->replayed != 0;
	if (w->propose_inside && ev->replayed && !w->proposed_new) {
		w->proposed_new++; /* made now, decided while the rest is still to be read */
		assert_true(konce_node_group_propose(w->node, "g", (const uint8_t *)"new", 3) >= 1);
	}
}

#include "tests/unit/world_loop.h"

static unsigned target;
static bool decided_target(struct world *w) { return w->decided >= target; }

static void start(struct world *w)
{
	char err[256];
	konce_node_config cfg = {.data_dir = w->dir, .listen = "127.0.0.1:0", .log = logline, .log_ctx = w,
				 .log_level = KONCE_LOG_DEBUG};
	assert_int_equal(konce_node_new(&w->node, w->base, &cfg, err, sizeof err), 0);
}

static void test_new_event_overtakes_replay(void **state)
{
	struct world *w = *state;
	char d[16];
	start(w);
	assert_int_equal(konce_node_group_on_event(w->node, on_event, w), 0);
	assert_int_equal(konce_node_group_create(w->node, "g"), 0);
	for (unsigned i = 0; i < OLD; i++) {
		snprintf(d, sizeof d, "d%u", i);
		assert_true(konce_node_group_propose(w->node, "g", (const uint8_t *)d, strlen(d)) >= 1);
		target = i + 1;
		assert_true(run_until(w, decided_target, 10)); /* one at a time: their order is the log's */
	}
	assert_int_equal(w->out_of_order, 0);

	/* a new process: the application starts empty and listens; its first replayed notice proposes */
	konce_node_free(w->node);
	w->decided = 0, w->last_seq = 0, w->replayed = 0, w->out_of_order = 0, w->waited = 0;
	w->propose_inside = true;
	start(w);
	assert_int_equal(konce_node_group_on_event(w->node, on_event, w), 0);
	assert_int_equal(w->decided, 0); /* never inside the call */
	target = OLD + 1;
	assert_true(run_until(w, decided_target, 15));
	assert_int_equal(w->proposed_new, 1);
	assert_int_equal(w->out_of_order, 0);
	assert_int_equal(w->replayed, OLD);
	assert_true(w->saw_new);
	assert_true(w->waited >= 1); /* the branch under test ran */
	/* nothing more comes: no duplicate of the replay or of the new decision */
	target = OLD + 2;
	assert_false(run_until(w, decided_target, 1));
	assert_int_equal(w->decided, OLD + 1);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	if (!(w->base = event_base_new()) || node_dir_make(w->dir, sizeof w->dir, "greplay"))
		return -1;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	int rc = node_world_free(&w->node, 1, w->base, w->dir);
	free(w);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_event_overtakes_replay, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
