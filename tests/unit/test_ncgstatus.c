/* test_ncgstatus.c - the read-only group questions of node/core/ncgstatus.c, on two real node cores
 * over a zero-latency link this file carries, with a hand-moved clock:
 *
 *   - invitation status: 0 before the founder's proposal is appended, 1 once it has committed;
 *     -EINVAL for no token, bad text or a token of another group; -ENOENT for an unknown group;
 *   - status: -ENOENT for an unknown group, -ENOTCONN while joining; once both are members, each
 *     side sees the view in order with itself and the coordinator marked, acks counted only at the
 *     coordinator, heard_ms growing with the clock it is given (and 0 for itself);
 *   - each member other than this node is named by its petname in the core's known set: "" without
 *     one, and a later rename or clear (konce_nodecore_known_name) shows in the next status; this
 *     node's own petname is never shown;
 *   - the application's callbacks (node/core/ncgappcb.c): the join policy is asked with the group's
 *     local name and the joiner's key, and its no keeps the joiner out; once it says yes, the joiner
 *     gets the snapshot the founder's callback hands out, under the joiner's own name for the
 *     group; after konce_ncgapp_unwire() the core asks the table no more.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncgapp.h"
#include "node/transport/identity.h"
#include "tests/unit/nc_pair.h"

enum { MS = 1000, UNIX_S = 1700000000 };

struct side {
	konce_identity *id;
	konce_nodecore *c;
	konce_ncgapp app;
	konce_addr addr;
	unsigned snapshots;       /* SNAPSHOT notices */
	char snap[16], snap_name[KONCE_GROUP_NAME_MAX + 1];
};

/* The founder's application: its policy's answer and what it was asked. */
static struct {
	int yes;
	unsigned policy_calls, snap_calls;
	char policy_name[KONCE_GROUP_NAME_MAX + 1], snap_name[KONCE_GROUP_NAME_MAX + 1];
	uint8_t key[KONCE_KEY_BYTES];
} founder;

static struct side s[2];
static uint64_t now = 1000000;

static const uint8_t SECRET[KONCE_CW_SECRET] = "the invitation secret, 32 bytes";

static const uint8_t *pk(int i) { return konce_nodecore_public_key(s[i].c); }

/* A group event of side i to its ncgapp; SNAPSHOT notices kept. */
static void group_event(int i, const konce_nc_event *ev)
{
	konce_ncgapp_out o;
	konce_ncgapp_event(&s[i].app, s[i].c, ev, &o);
	for (unsigned k = 0; k < o.n; k++)
		if (o.notice[k].type == KONCE_GROUP_N_SNAPSHOT && o.notice[k].len < sizeof(s[i].snap)) {
			s[i].snapshots++;
			memcpy(s[i].snap, o.notice[k].data, o.notice[k].len);
			s[i].snap[o.notice[k].len] = '\0';
			snprintf(s[i].snap_name, sizeof(s[i].snap_name), "%s", o.notice[k].name);
		}
}

/* Runs both cores (nc_pair.h: every group note made durable, datagrams to the other) until the
 * clock reaches until. */
static void run(uint64_t until)
{
	const nc_pair p = {{s[0].c, s[1].c}, {s[0].addr, s[1].addr}, &now, group_event, NULL};
	nc_pair_run(&p, until);
}

static bool member_of_two(int i, const char *name)
{
	konce_group_info info;
	return !konce_ncgapp_info(&s[i].app, s[i].c, name, &info) && info.state == KONCE_GROUP_S_MEMBER &&
	       info.nmembers == 2;
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		nc_pair_side_new(i, &s[i].id, &s[i].c, &s[i].addr, now);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		konce_nodecore_free(s[i].c);
		konce_identity_free(s[i].id);
	}
	return 0;
}

static void test_status(void **state)
{
	(void)state;
	static konce_group_status st;
	static konce_ctoken tok;
	char token[KONCE_GROUP_TOKEN_MAX], other[KONCE_GROUP_TOKEN_MAX], nm[KONCE_GROUP_NAME_MAX + 1];
	uint8_t gid[KONCE_CW_GROUP_ID], gid2[KONCE_CW_GROUP_ID];
	randombytes_buf(gid, sizeof(gid));
	memcpy(gid2, gid, sizeof(gid));
	gid2[0] ^= 1;

	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now, &st), -ENOENT);
	assert_int_equal(konce_ncgapp_create(&s[0].app, s[0].c, gid, "team", now, UNIX_S), 0);
	assert_int_equal(konce_ncgapp_create(&s[0].app, s[0].c, gid2, "other", now, UNIX_S), 0);
	run(now + 10 * MS);
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now, NULL), -EINVAL);
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "nope", now, &st), -ENOENT);

	/* alone: this node, coordinator, never named (even with a petname of its own) */
	assert_int_equal(konce_nodecore_known_name(s[0].c, pk(0), "me"), 0);
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now, &st), 0);
	assert_string_equal(st.info.name, "team");
	assert_int_equal(st.info.nmembers, 1);
	assert_memory_equal(st.members[0].key, pk(0), KONCE_KEY_BYTES);
	assert_true(st.members[0].self && st.members[0].coordinator);
	assert_string_equal(st.members[0].name, "");
	assert_int_equal(st.members[0].heard_ms, 0);

	/* invitations: committed once the founder's own proposal has gone through */
	assert_int_equal(konce_ncgapp_invite(&s[0].app, s[0].c, "team", pk(0), SECRET, 0, "192.0.2.1:7807", now,
					     UNIX_S, token, sizeof(token)),
			 0);
	assert_int_equal(konce_ncgapp_invite_status(&s[0].app, s[0].c, "team", token, UNIX_S), 0);
	run(now + 10 * MS);
	assert_int_equal(konce_ncgapp_invite_status(&s[0].app, s[0].c, "team", token, UNIX_S), 1);
	assert_int_equal(konce_ncgapp_invite(&s[0].app, s[0].c, "other", pk(0), SECRET, 0, NULL, now, UNIX_S, other,
					     sizeof(other)),
			 0);
	assert_int_equal(konce_ncgapp_invite_status(&s[0].app, s[0].c, "team", other, UNIX_S), -EINVAL);
	assert_int_equal(konce_ncgapp_invite_status(&s[0].app, s[0].c, "team", "konce-invite:xyz", UNIX_S), -EINVAL);
	assert_int_equal(konce_ncgapp_invite_status(&s[0].app, s[0].c, "team", NULL, UNIX_S), -EINVAL);
	assert_int_equal(konce_ncgapp_invite_status(&s[0].app, s[0].c, "nope", token, UNIX_S), -ENOENT);

	/* B joins: not connected while joining */
	assert_int_equal(konce_ncgapp_join_check(&s[1].app, pk(1), token, "team", UNIX_S, &tok, nm), 0);
	assert_int_equal(konce_ncgapp_join(&s[1].app, s[1].c, &tok, nm, now, UNIX_S), 0);
	assert_int_equal(konce_ncgapp_status(&s[1].app, s[1].c, "team", now, &st), -ENOTCONN);
	for (int k = 0; k < 100 && !(member_of_two(0, "team") && member_of_two(1, "team")); k++)
		run(now + 100 * MS);
	assert_true(member_of_two(0, "team") && member_of_two(1, "team"));

	/* the coordinator's view: B unnamed, then "bob"; acks counted here */
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now, &st), 0);
	assert_int_equal(st.info.nmembers, 2);
	assert_memory_equal(st.members[0].key, pk(0), KONCE_KEY_BYTES);
	assert_memory_equal(st.members[1].key, pk(1), KONCE_KEY_BYTES);
	assert_true(st.members[0].self && st.members[0].coordinator);
	assert_true(!st.members[1].self && !st.members[1].coordinator);
	assert_string_equal(st.members[0].name, "");
	assert_string_equal(st.members[1].name, "");
	assert_true(st.members[1].acked >= 0);
	int64_t heard = st.members[1].heard_ms;
	assert_int_equal(konce_nodecore_known_name(s[0].c, pk(1), "bob"), 0);
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now + 300 * MS, &st), 0);
	assert_string_equal(st.members[1].name, "bob");
	assert_int_equal(st.members[1].heard_ms, heard + 300);
	assert_int_equal(st.members[0].heard_ms, 0);
	assert_int_equal(konce_nodecore_known_name(s[0].c, pk(1), "robert"), 0);
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now, &st), 0);
	assert_string_equal(st.members[1].name, "robert");
	assert_int_equal(konce_nodecore_known_name(s[0].c, pk(1), ""), 0);
	assert_int_equal(konce_ncgapp_status(&s[0].app, s[0].c, "team", now, &st), 0);
	assert_string_equal(st.members[1].name, "");

	/* B's view: A is the coordinator, named by B's own petname; B counts no acks */
	assert_int_equal(konce_nodecore_known_name(s[1].c, pk(0), "alice"), 0);
	assert_int_equal(konce_ncgapp_status(&s[1].app, s[1].c, "team", now, &st), 0);
	assert_true(st.members[0].coordinator && !st.members[0].self);
	assert_true(st.members[1].self && !st.members[1].coordinator);
	assert_string_equal(st.members[0].name, "alice");
	assert_string_equal(st.members[1].name, "");
	assert_int_equal(st.members[0].acked, -1);
}

static int policy(void *ctx, const char *name, const uint8_t key[KONCE_KEY_BYTES])
{
	assert_ptr_equal(ctx, &founder);
	founder.policy_calls++;
	snprintf(founder.policy_name, sizeof(founder.policy_name), "%s", name);
	memcpy(founder.key, key, KONCE_KEY_BYTES);
	return founder.yes;
}

static int snapshot(void *ctx, const char *name, const uint8_t **data, size_t *len)
{
	assert_ptr_equal(ctx, &founder);
	founder.snap_calls++;
	snprintf(founder.snap_name, sizeof(founder.snap_name), "%s", name);
	*data = (const uint8_t *)"state";
	*len = 5;
	return 0;
}

/* B, out of the group, joins it again with a new invitation from A under its name "ours". */
static void rejoin(char *token, size_t cap, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	static konce_ctoken tok;
	char nm[KONCE_GROUP_NAME_MAX + 1];
	uint8_t secret[KONCE_CW_SECRET]; /* a new one: the last was spent */
	randombytes_buf(secret, sizeof(secret));
	assert_int_equal(konce_ncgapp_invite(&s[0].app, s[0].c, "team", pk(0), secret, 0, "192.0.2.1:7807", now,
					     UNIX_S, token, cap),
			 0);
	run(now + 10 * MS);
	assert_true(konce_ncgapp_rejoinable(&s[1].app, s[1].c, gid, "ours"));
	konce_ncgapp_forget(&s[1].app, s[1].c, gid);
	assert_int_equal(konce_ncgapp_join_check(&s[1].app, pk(1), token, "ours", UNIX_S, &tok, nm), 0);
	assert_int_equal(konce_ncgapp_join(&s[1].app, s[1].c, &tok, nm, now, UNIX_S), 0);
	for (int k = 0; k < 100 && !(member_of_two(0, "team") && member_of_two(1, "ours")); k++)
		run(now + 100 * MS);
	assert_true(member_of_two(0, "team") && member_of_two(1, "ours"));
}

static void test_callbacks(void **state)
{
	(void)state;
	static konce_ctoken tok;
	char token[KONCE_GROUP_TOKEN_MAX], nm[KONCE_GROUP_NAME_MAX + 1];
	uint8_t gid[KONCE_CW_GROUP_ID];
	randombytes_buf(gid, sizeof(gid));
	memset(&founder, 0, sizeof(founder));
	assert_int_equal(konce_ncgapp_create(&s[0].app, s[0].c, gid, "team", now, UNIX_S), 0);
	assert_int_equal(konce_ncgapp_on_join_request(&s[0].app, s[0].c, policy, &founder), 0);
	assert_int_equal(konce_ncgapp_on_snapshot(&s[0].app, s[0].c, snapshot, &founder), 0);
	assert_int_equal(konce_ncgapp_invite(&s[0].app, s[0].c, "team", pk(0), SECRET, 0, "192.0.2.1:7807", now,
					     UNIX_S, token, sizeof(token)),
			 0);
	run(now + 10 * MS);

	/* the policy says no: B stays out */
	assert_int_equal(konce_ncgapp_join_check(&s[1].app, pk(1), token, "ours", UNIX_S, &tok, nm), 0);
	assert_int_equal(konce_ncgapp_join(&s[1].app, s[1].c, &tok, nm, now, UNIX_S), 0);
	run(now + 3000 * MS);
	assert_true(founder.policy_calls >= 1);
	assert_string_equal(founder.policy_name, "team");
	assert_memory_equal(founder.key, pk(1), KONCE_KEY_BYTES);
	assert_false(member_of_two(0, "team"));
	assert_false(member_of_two(1, "ours"));

	konce_group_info info;
	assert_int_equal(konce_ncgapp_info(&s[1].app, s[1].c, "ours", &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_OUT);

	/* a new invitation, and the policy says yes: B joins with the founder's state */
	founder.yes = 1;
	rejoin(token, sizeof(token), gid);
	assert_true(founder.snap_calls >= 1);
	assert_string_equal(founder.snap_name, "team");
	assert_int_equal(s[1].snapshots, 1);
	assert_string_equal(s[1].snap, "state");
	assert_string_equal(s[1].snap_name, "ours");

	/* unwired: the core asks the table no more, so it accepts B's next join unasked (no policy) */
	konce_ncgapp_unwire(&s[0].app, s[0].c);
	konce_ncgapp_unwire(&s[0].app, s[0].c); /* twice is harmless */
	unsigned calls = founder.policy_calls, snaps = founder.snap_calls;
	founder.yes = 0;
	assert_int_equal(konce_ncgapp_leave(&s[1].app, s[1].c, "ours", now), 0);
	for (int k = 0; k < 100 && konce_ncgapp_info(&s[0].app, s[0].c, "team", &info) == 0 && info.nmembers != 1; k++)
		run(now + 100 * MS);
	assert_int_equal(info.nmembers, 1);
	rejoin(token, sizeof(token), gid);
	assert_int_equal(founder.policy_calls, calls);
	assert_int_equal(founder.snap_calls, snaps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callbacks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
