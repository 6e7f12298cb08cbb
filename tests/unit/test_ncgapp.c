/* test_ncgapp.c - the application's side of the hosted groups (node/core/ncgapp.h), on real node
 * cores without a network: names are checked and bound once; a founder's first view becomes a
 * VIEW notice, a joiner's a JOINED then a VIEW; an invitation carries this node first and the
 * address hint; a join refuses bad text, a bad name, an expired token, its own invitation and a
 * taken name or group; the log reader takes only whole application entries; a join nobody decides
 * on says how long it has left, then times out (OUT, JOIN_TIMEDOUT); the core's group_max_batch
 * sets how many decisions one append (one record, one PROPOSE) takes, and above 16 is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncgapp.h"
#include "node/transport/identity.h"

struct side {
	konce_identity *id;
	konce_nodecore *c;
	konce_ncgapp app;
};

static const uint8_t SECRET[KONCE_CW_SECRET] = "the invitation secret, 32 bytes";

static void side_new_batch(struct side *s, unsigned max_batch)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(konce_identity_generate(&s->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = s->id, .explicit_identity = true}, .group_max_batch = max_batch};
	assert_int_equal(konce_nodecore_new(&s->c, &cfg, 1000), 0);
}

static void side_new(struct side *s) { side_new_batch(s, 0); }

static void side_free(struct side *s)
{
	konce_nodecore_free(s->c);
	konce_identity_free(s->id);
}

static const uint8_t *pk(struct side *s) { return konce_nodecore_public_key(s->c); }

/* Makes every note durable and translates the events that follow into notices. */
static unsigned drain(struct side *s, konce_group_notice *out, unsigned max)
{
	konce_nc_gnote g;
	konce_nc_event ev;
	unsigned n = 0;
	/* as a host's loop turns: a coordinator appends its own proposals when polled (cgroup.h), so
	 * their records come out of a later round than the call that proposed them */
	for (bool more = true; more;) {
		more = false;
		while (konce_nodecore_poll_event(s->c, &ev)) {
			more = true;
			if (ev.type != KONCE_NC_EV_GROUP)
				continue;
			konce_ncgapp_out o;
			konce_ncgapp_event(&s->app, s->c, &ev, &o);
			for (unsigned i = 0; i < o.n && n < max; i++)
				out[n++] = o.notice[i];
		}
		while (konce_nodecore_poll_gnote(s->c, &g))
			more = true;
		konce_nodecore_groups_persisted(s->c);
	}
	return n;
}

static void test_names(void **state)
{
	(void)state;
	char longname[KONCE_GROUP_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_true(konce_ncgapp_name_ok("team-1_x.y"));
	assert_false(konce_ncgapp_name_ok(NULL));
	assert_false(konce_ncgapp_name_ok(""));
	assert_false(konce_ncgapp_name_ok("a b"));
	assert_false(konce_ncgapp_name_ok("a/b"));
	assert_false(konce_ncgapp_name_ok(longname));
	longname[KONCE_GROUP_NAME_MAX] = '\0';
	assert_true(konce_ncgapp_name_ok(longname));

	static konce_ncgapp t;
	uint8_t gid[KONCE_CW_GROUP_ID] = {0xab, 0xcd};
	assert_int_equal(konce_ncgapp_name_free(&t, "x"), 0);
	konce_ncgapp_name *x = konce_ncgapp_bind(&t, gid, "x");
	assert_non_null(x);
	assert_ptr_equal(konce_ncgapp_by_name(&t, "x"), x);
	assert_ptr_equal(konce_ncgapp_by_gid(&t, gid), x);
	assert_int_equal(konce_ncgapp_name_free(&t, "x"), -EEXIST);
	assert_int_equal(konce_ncgapp_name_free(&t, "no way"), -EINVAL);
	gid[0] = 1;
	x = konce_ncgapp_bind(&t, gid, NULL); /* no name: the id in hex */
	assert_non_null(x);
	assert_string_equal(x->name, "01cd0000000000000000000000000000");
	for (int i = 2; i < KONCE_NC_GROUPS_MAX; i++) {
		gid[0] = (uint8_t)(i + 1);
		assert_non_null(konce_ncgapp_bind(&t, gid, NULL));
	}
	gid[1] = 0;
	assert_null(konce_ncgapp_bind(&t, gid, "full"));
}

static void test_create_invite_join(void **state)
{
	(void)state;
	static struct side a, b;
	konce_group_notice no[4];
	char token[KONCE_GROUP_TOKEN_MAX];
	uint8_t gid[KONCE_CW_GROUP_ID];
	side_new(&a);
	side_new(&b);
	randombytes_buf(gid, sizeof(gid));
	assert_int_equal(konce_ncgapp_invite(&a.app, a.c, "team", pk(&a), SECRET, 0, NULL, 2000, 100, token,
					     sizeof(token)),
			 -ENOENT);
	assert_int_equal(konce_ncgapp_create(&a.app, a.c, gid, "bad name", 2000, 100), -EINVAL);
	assert_int_equal(konce_ncgapp_create(&a.app, a.c, gid, "team", 2000, 100), 0);
	assert_int_equal(konce_ncgapp_create(&a.app, a.c, gid, "team", 2000, 100), -EEXIST);
	assert_non_null(konce_nodecore_group_find(a.c, gid));
	assert_int_equal(drain(&a, no, 4), 1);
	assert_int_equal(no[0].type, KONCE_GROUP_N_VIEW);
	assert_string_equal(no[0].name, "team");
	assert_memory_equal(no[0].id, gid, sizeof(gid));
	assert_int_equal(no[0].members, 1);
	konce_group_info info;
	assert_int_equal(konce_ncgapp_info(&a.app, a.c, "team", &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_MEMBER);
	assert_int_equal(info.nmembers, 1);
	assert_memory_equal(info.members[0], pk(&a), 32);
	assert_int_equal(konce_ncgapp_info(&a.app, a.c, "other", &info), -ENOENT);
	assert_int_equal(konce_ncgapp_list(&a.app, a.c, &info, 1), 1);

	assert_int_equal(konce_ncgapp_invite(&a.app, a.c, "team", pk(&a), SECRET, 500, "192.0.2.7:4000", 3000, 100,
					     token, 10),
			 -EINVAL);
	assert_int_equal(konce_ncgapp_invite(&a.app, a.c, "team", pk(&a), SECRET, 500, "192.0.2.7:4000", 3000, 100,
					     token, sizeof(token)),
			 0);
	static konce_ctoken t;
	assert_int_equal(konce_ctoken_from_text(&t, token), 0);
	assert_memory_equal(t.group, gid, sizeof(gid));
	assert_int_equal(t.n, 1);
	assert_memory_equal(t.keys[0], pk(&a), 32);
	assert_memory_equal(t.secret, SECRET, sizeof(SECRET));
	assert_int_equal(t.expires, 500);
	assert_string_equal(t.rdv, "192.0.2.7:4000");

	char nm[KONCE_GROUP_NAME_MAX + 1];
	/* refusals */
	assert_int_equal(konce_ncgapp_join_check(&b.app, pk(&b), "not a token", NULL, 100, &t, nm), -EINVAL);
	assert_int_equal(konce_ncgapp_join_check(&b.app, pk(&b), token, "bad name", 100, &t, nm), -EINVAL);
	assert_int_equal(konce_ncgapp_join_check(&b.app, pk(&b), token, NULL, 501, &t, nm), -ETIMEDOUT);
	assert_int_equal(konce_ncgapp_join_check(&a.app, pk(&a), token, "again", 100, &t, nm), -EEXIST);
	assert_int_equal(konce_ncgapp_join_check(&a.app, pk(&a), token, "team", 100, &t, nm), -EEXIST);
	static konce_ncgapp empty;
	assert_int_equal(konce_ncgapp_join_check(&empty, pk(&a), token, "mine", 100, &t, nm), -EINVAL); /* own */
	/* the default name: "g-" and the id's first 4 bytes */
	assert_int_equal(konce_ncgapp_join_check(&b.app, pk(&b), token, NULL, 100, &t, nm), 0);
	char want[16];
	snprintf(want, sizeof(want), "g-%02x%02x%02x%02x", gid[0], gid[1], gid[2], gid[3]);
	assert_string_equal(nm, want);
	assert_int_equal(konce_ncgapp_join(&b.app, b.c, &t, nm, 4000, 100), 0);
	assert_non_null(konce_nodecore_group_find(b.c, gid));
	assert_true(konce_ncgapp_by_name(&b.app, nm)->joining);
	konce_addr hinted;
	assert_int_equal(konce_nodecore_known_addr(b.c, pk(&a), &hinted), 0); /* the hint, loaded */
	char as[KONCE_ADDR_STRLEN];
	assert_string_equal(konce_addr_str(&hinted, as), "192.0.2.7:4000");
	assert_int_equal(konce_ncgapp_info(&b.app, b.c, nm, &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_JOINING);

	/* a joiner's first view: JOINED, then VIEW; the second view only VIEW */
	konce_nc_event ev = {.type = KONCE_NC_EV_GROUP};
	memcpy(ev.gid, gid, sizeof(gid));
	ev.group.type = KONCE_GROUP_EV_VIEW;
	ev.group.epoch = 2;
	konce_ncgapp_out o;
	konce_ncgapp_event(&b.app, b.c, &ev, &o);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.notice[0].type, KONCE_GROUP_N_JOINED);
	assert_int_equal(o.notice[1].type, KONCE_GROUP_N_VIEW);
	assert_int_equal(o.notice[1].epoch, 2);
	assert_int_equal(o.level, KONCE_LOG_INFO);
	konce_ncgapp_event(&b.app, b.c, &ev, &o);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.notice[0].type, KONCE_GROUP_N_VIEW);
	/* a group's internal commits are not the application's; an unknown group is nobody's */
	ev.group.type = KONCE_GROUP_EV_COMMITTED;
	ev.group.kind = KONCE_CW_E_APP + 1;
	konce_ncgapp_event(&b.app, b.c, &ev, &o);
	assert_int_equal(o.n, 0);
	ev.gid[0] ^= 1;
	ev.group.type = KONCE_GROUP_EV_VIEW;
	konce_ncgapp_event(&b.app, b.c, &ev, &o);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.level, -1);

	assert_int_equal(konce_ncgapp_propose(&a.app, a.c, "team", NULL, 0, 5000), -EINVAL);
	assert_int_equal(konce_ncgapp_propose(&a.app, a.c, "nope", (const uint8_t *)"x", 1, 5000), -ENOENT);
	static uint8_t big[KONCE_GROUP_DECISION_MAX + 1];
	assert_int_equal(konce_ncgapp_propose(&a.app, a.c, "team", big, sizeof(big), 5000), -EMSGSIZE);
	assert_true(konce_ncgapp_propose(&a.app, a.c, "team", (const uint8_t *)"x", 1, 5000) > 0);
	assert_int_equal(drain(&a, no, 4), 1);
	assert_int_equal(no[0].type, KONCE_GROUP_N_DECIDED);
	assert_int_equal(no[0].len, 1);
	assert_memory_equal(no[0].data, "x", 1);
	assert_int_equal(konce_ncgapp_leave(&a.app, a.c, "nope", 6000), -ENOENT);
	side_free(&a);
	side_free(&b);
}

/* A join nobody decides on (the members never answer): the info says it is joining and how long it
 * has left; at the deadline an OUT notice says the join timed out, and so does the info. */
static void test_join_times_out(void **state)
{
	(void)state;
	static struct side a, b;
	konce_group_notice no[4];
	char token[KONCE_GROUP_TOKEN_MAX], nm[KONCE_GROUP_NAME_MAX + 1];
	uint8_t gid[KONCE_CW_GROUP_ID];
	static konce_ctoken t;
	konce_group_info info;
	side_new(&a);
	side_new(&b);
	randombytes_buf(gid, sizeof(gid));
	assert_int_equal(konce_ncgapp_create(&a.app, a.c, gid, "team", 2000, 100), 0);
	assert_int_equal(konce_ncgapp_invite(&a.app, a.c, "team", pk(&a), SECRET, 0, NULL, 3000, 100, token,
					     sizeof(token)),
			 0);
	assert_int_equal(konce_ncgapp_join_check(&b.app, pk(&b), token, "far", 100, &t, nm), 0);
	assert_int_equal(konce_ncgapp_join_for(&b.app, b.c, &t, nm, 4000, 100, 12), 0);
	assert_int_equal(konce_ncgapp_info(&b.app, b.c, "far", &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_JOINING);
	assert_int_equal(info.out_reason, 0);
	assert_int_equal(info.join_left_ms, 12000);
	assert_int_equal(info.join_epoch, 0);
	uint64_t deadline = 4000 + 12000000;
	konce_nodecore_timer(b.c, deadline - 1000000);
	(void)drain(&b, no, 4);
	assert_int_equal(konce_ncgapp_info(&b.app, b.c, "far", &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_JOINING);
	assert_true(info.join_left_ms > 900 && info.join_left_ms <= 1000);
	/* At the deadline it withdraws (nobody answers here) and is OUT KONCE_GROUP_WITHDRAW_MS later. */
	konce_nodecore_timer(b.c, deadline);
	assert_int_equal(drain(&b, no, 4), 0);
	assert_int_equal(konce_ncgapp_info(&b.app, b.c, "far", &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_JOINING);
	assert_int_equal(info.join_left_ms, 0);
	konce_nodecore_timer(b.c, deadline + (uint64_t)KONCE_GROUP_WITHDRAW_MS * 1000);
	assert_int_equal(drain(&b, no, 4), 1);
	assert_int_equal(no[0].type, KONCE_GROUP_N_OUT);
	assert_int_equal(no[0].reason, KONCE_GROUP_JOIN_TIMEDOUT);
	assert_int_equal(konce_ncgapp_info(&b.app, b.c, "far", &info), 0);
	assert_int_equal(info.state, KONCE_GROUP_S_OUT);
	assert_int_equal(info.out_reason, KONCE_GROUP_JOIN_TIMEDOUT);
	assert_int_equal(info.join_left_ms, -1);
	/* out of it: a new invitation may replace it */
	assert_true(konce_ncgapp_rejoinable(&b.app, b.c, gid, "far"));
	side_free(&a);
	side_free(&b);
}

/* A founder with group_max_batch = max proposes 5 decisions in one go: the entry records (persist
 * calls) its group makes, and every decision is delivered in order. */
static unsigned entry_records(unsigned max)
{
	static struct side a;
	uint8_t gid[KONCE_CW_GROUP_ID];
	konce_group_notice no[8];
	side_new_batch(&a, max);
	randombytes_buf(gid, sizeof(gid));
	assert_int_equal(konce_ncgapp_create(&a.app, a.c, gid, "solo", 2000, 100), 0);
	assert_int_equal(drain(&a, no, 8), 1); /* the VIEW */
	for (unsigned i = 0; i < 5; i++) {
		char d[16];
		int l = snprintf(d, sizeof d, "d%u", i);
		assert_true(konce_ncgapp_propose(&a.app, a.c, "solo", (const uint8_t *)d, (size_t)l, 3000) > 0);
	}
	unsigned records = 0, n = 0;
	konce_nc_gnote g;
	konce_nc_event ev;
	for (bool more = true; more;) {
		more = false;
		while (konce_nodecore_poll_event(a.c, &ev)) {
			more = true;
			if (ev.type != KONCE_NC_EV_GROUP)
				continue;
			konce_ncgapp_out o;
			konce_ncgapp_event(&a.app, a.c, &ev, &o);
			for (unsigned i = 0; i < o.n; i++) {
				if (o.notice[i].type != KONCE_GROUP_N_DECIDED)
					continue;
				char d[16];
				int l = snprintf(d, sizeof d, "d%u", n++);
				assert_int_equal(o.notice[i].len, (size_t)l);
				assert_memory_equal(o.notice[i].data, d, (size_t)l);
			}
		}
		while (konce_nodecore_poll_gnote(a.c, &g)) {
			more = true;
			records += g.type == KONCE_CNOTE_ENTRIES;
		}
		konce_nodecore_groups_persisted(a.c);
	}
	assert_int_equal(n, 5);
	side_free(&a);
	return records;
}

static void test_max_batch(void **state)
{
	(void)state;
	assert_int_equal(entry_records(0), 1); /* the default: one append for the five */
	assert_int_equal(entry_records(1), 5); /* unbatched */
	assert_int_equal(entry_records(3), 2);
	/* out of range: the core is not made */
	konce_identity *id;
	konce_nodecore *c = NULL;
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = id, .explicit_identity = true},
				     .group_max_batch = KONCE_CW_MAX_BATCH + 1};
	assert_int_equal(konce_nodecore_new(&c, &cfg, 1000), -EINVAL);
	assert_null(c);
	konce_identity_free(id);
}

static void test_log_entry(void **state)
{
	(void)state;
	uint8_t b[KONCE_CW_ENTRY_HEAD + 8];
	const uint8_t *origin, *data;
	size_t dl;
	const uint8_t orig[KONCE_CW_ORIGIN] = "origin!";
	konce_cw_entry e = {.kind = KONCE_CW_E_APP, .origin = orig, .nonce = 9, .len = 3, .data = (const uint8_t *)"abc"};
	size_t n = konce_cw_entry_encode(&e, b, sizeof(b));
	assert_int_equal(n, KONCE_CW_ENTRY_HEAD + 3);
	assert_true(konce_ncgapp_log_entry(b, n, &origin, &data, &dl));
	assert_int_equal(dl, 3);
	assert_memory_equal(data, "abc", 3);
	assert_memory_equal(origin, orig, KONCE_CW_ORIGIN);
	assert_false(konce_ncgapp_log_entry(b, n - 1, &origin, &data, &dl));  /* data cut short */
	assert_false(konce_ncgapp_log_entry(b, KONCE_CW_ENTRY_HEAD - 1, &origin, &data, &dl));
	b[0] = KONCE_CW_E_APP + 1;
	assert_false(konce_ncgapp_log_entry(b, n, &origin, &data, &dl)); /* not the application's */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_create_invite_join),
		cmocka_unit_test(test_log_entry),
		cmocka_unit_test(test_max_batch),
		cmocka_unit_test(test_join_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
