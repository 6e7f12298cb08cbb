/* test_node_travpool.c - the traversal-peer table's two pools (node/core/node_travpool.h): strangers
 * never fill the table, a solicited key always finds an entry unless every entry carries a
 * session, and sessions are never evicted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/node_travpool.h"

#define SEC 1000000ull
enum { N = 64 }; /* NODE_TRAV_PEERS */

/* A key arrives every second and takes what it is given, as node_trav.c's tpeer_get does. */
static int arrive(struct node_travpool_slot *s, bool solicited, bool session, uint64_t now)
{
	int i = node_travpool_pick(s, N, solicited, now);
	if (i >= 0)
		s[i] = (struct node_travpool_slot){true, solicited, session, now};
	return i;
}

/* Unsolicited introductions (one per key per second here) used to fill all
 * 64 entries, and for a minute after no key could be reached. */
static void test_strangers_never_fill(void **state)
{
	(void)state;
	struct node_travpool_slot s[N];
	memset(s, 0, sizeof(s));
	uint64_t now = 100 * SEC;
	for (unsigned k = 0; k < 500; k++, now += SEC / 10)
		assert_true(arrive(s, false, false, now) >= 0); /* the newest stranger always gets in */
	unsigned strangers = 0;
	for (unsigned i = 0; i < N; i++)
		strangers += s[i].used && !s[i].solicited;
	assert_int_equal(strangers, NODE_TRAVPOOL_STRANGERS);
	/* keys we ask for find entries, all the free ones, then strangers' */
	for (unsigned k = 0; k < N; k++, now += SEC / 10)
		assert_true(arrive(s, true, true, now) >= 0);
	for (unsigned i = 0; i < N; i++)
		assert_true(s[i].used && s[i].solicited);
	/* full of solicited sessions: nobody gets in, nothing is evicted */
	assert_int_equal(arrive(s, true, false, now), -1);
	assert_int_equal(arrive(s, false, false, now), -1);
}

static void test_sessions_and_idle(void **state)
{
	(void)state;
	struct node_travpool_slot s[N];
	memset(s, 0, sizeof(s));
	uint64_t now = 100 * SEC;
	/* strangers with sessions hold their entries: the pool is then closed to new strangers */
	for (unsigned k = 0; k < NODE_TRAVPOOL_STRANGERS; k++)
		assert_true(arrive(s, false, true, now) >= 0);
	assert_int_equal(arrive(s, false, false, now), -1);
	/* but solicited keys have the rest */
	for (unsigned k = 0; k < N - NODE_TRAVPOOL_STRANGERS; k++)
		assert_true(arrive(s, true, false, now + k) >= 0);
	assert_int_equal(arrive(s, true, false, now + SEC), -1); /* solicited, no session, recent */
	/* a minute idle, a solicited entry without a session may be reused */
	int i = arrive(s, true, false, now + NODE_TRAVPOOL_REUSE_US);
	assert_true(i >= 0 && !s[i].session);
	assert_true(s[i].last_us == now + NODE_TRAVPOOL_REUSE_US);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strangers_never_fill),
		cmocka_unit_test(test_sessions_and_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
