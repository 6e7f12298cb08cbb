/* test_ncgapi.c - the public group API's decisions (node/core/ncgapi.c) without a daemon: two real
 * node cores over a zero-latency link this file carries, a hand-moved clock, and an in-memory host
 * (konce_ncgapi_host) that records what the API asks of the store and the loop, and can fail:
 *
 *   - checks: -ERANGE for a join's timeout before anything, -EINVAL for a missing token or status
 *     buffer before the node is asked, then -EINVAL (no core) and -ENOTSUP (no groups); none of them
 *     touches the host;
 *   - create: a bad or taken name is refused before the store; the store's refusal is returned and
 *     nothing is hosted; the core's refusal (the table full) removes the group from the store again;
 *     a created group is recorded under the id the core hosts, logged, and the core kicked;
 *   - join and rejoin: the store gets the token's keys and the deadline as wall-clock time; a join
 *     of a group this node is out of writes every queued record, removes the group from the store and
 *     the core and joins again (in that order); when that write fails the join fails with -EIO and
 *     the group stays; a join of a group this node is a member of is refused with -EEXIST, untouched;
 *   - restore at start: every stored group is hosted; one the store cannot restore is logged and
 *     unhosted; a member is owed its state up to its delivery point, and gets it once the application
 *     listens (replay_soon, then replay), or just before the group's next event, before that event's
 *     notices; a replay the store cannot serve is logged; an unreadable store is logged and returned;
 *     what a host reads ahead is the groups owed their state once the application listens, each up
 *     to its delivery point; a replay read into a tape plays back the same calls in the same order,
 *     stops with -ECANCELED where a callback says so, and returns the read's own result after; the
 *     read-ahead table plans each owed group once (nothing before the application listens, nothing
 *     while it is read), takes an unqueued plan back, and its READY tape is what the group's replay
 *     plays before the event; a long replay comes in stretches of at most KONCE_NCGAPI_TAPE_ENTRIES
 *     entries, each freed once played, the group owed until the last, every entry once and in order,
 *     and a further stretch that finds a hole or a short log is -ENODATA;
 *   - the log read: the name, then the callback, then the delivery point; nothing past it is read;
 *   - stop: the table is unwired from the core and every queued record written (its failure logged).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncgapi.h"
#include "node/transport/identity.h"
#include "tests/unit/gstore_fake.h"
#include "tests/unit/nc_pair.h"

enum { MS = 1000, UNIX_S = 1700000000 };

/* ---- the in-memory host: the store is gstore_fake.h -------------------------------------------- */

/* A log that lacks the two entries after first. */
static int h_entries_holed(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t first, uint64_t last,
			  konce_ncgapi_entry_fn fn, void *fnctx)
{
	return gstore_entries(ctx, gid, first + 2, last, fn, fnctx);
}

/* A log that holds entries up to 20 only. */
static int h_entries_upto_20(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t first, uint64_t last,
			     konce_ncgapi_entry_fn fn, void *fnctx)
{
	return gstore_entries(ctx, gid, first, last < 20 ? last : 20, fn, fnctx);
}

/* ---- two node cores --------------------------------------------------------------------------- */

struct side {
	konce_identity *id;
	konce_nodecore *c;
	konce_ncgapp app;
	konce_addr addr;
	gstore st; /* the store, and the loop's calls in its order: K kick, S sync */
	int sync_err;
	unsigned replay_soon;
	konce_ncgapi_host h;
	konce_group_notice seen[16]; /* data: a copy in bytes[] (a notice's is valid only in the call) */
	uint8_t bytes[16][16];
	unsigned nseen;
};

static struct side s[2];
static uint64_t now = 1000000;
static int policy_yes;

/* The loop's calls (ctx: the side). */
static int h_sync(void *ctx, char *err, size_t errlen)
{
	struct side *x = ctx;
	gstore_mark(&x->st, 'S');
	if (x->sync_err)
		snprintf(err, errlen, "the disk is read-only");
	return x->sync_err;
}

static int h_replay(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		    konce_ncgapi_entry_fn fn, void *fnctx, bool wait)
{
	(void)wait;
	int e = gstore_read(&((struct side *)ctx)->st, gid, upto, snap, fn, fnctx);
	return e < 0 ? e : 0;
}

static void h_log(void *ctx, int level, const char *line)
{
	(void)level;
	gstore_log(&((struct side *)ctx)->st, line);
}

static void h_kick(void *ctx) { gstore_mark(&((struct side *)ctx)->st, 'K'); }
static void h_replay_soon(void *ctx) { ((struct side *)ctx)->replay_soon++; }

static konce_ncgapi api(int i)
{
	return (konce_ncgapi){&s[i].app, s[i].c, &s[i].h, now, UNIX_S};
}

static void on_notice(void *ctx, const konce_group_notice *o)
{
	struct side *x = ctx;
	if (x->nseen >= 16)
		return;
	konce_group_notice *c = &x->seen[x->nseen];
	*c = *o;
	if (o->len) {
		assert_true(o->len <= sizeof x->bytes[0]);
		memcpy(x->bytes[x->nseen], o->data, o->len);
		c->data = x->bytes[x->nseen];
	}
	x->nseen++;
}

static int policy(void *ctx, const char *name, const uint8_t key[KONCE_KEY_BYTES])
{
	(void)ctx;
	(void)name;
	(void)key;
	return policy_yes;
}

/* Runs both cores (nc_pair.h), every group event through the API, until the clock reaches until. */
static void run(uint64_t until) { nc_pair_api_run(api, &now, until); }

static int state_of(int i, const char *name) { return nc_pair_api_state(api, i, name); }

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		memset(&s[i], 0, sizeof s[i]);
		nc_pair_side_new(i, &s[i].id, &s[i].c, &s[i].addr, now);
		s[i].h = (konce_ncgapi_host){.ctx = &s[i], .store = &s[i].st, .add = gstore_add,
					     .add_join = gstore_add_join, .remove = gstore_remove, .sync = h_sync,
					     .delivered = gstore_delivered, .entries = gstore_entries, .each = gstore_each,
					     .restore = gstore_restore, .replay = h_replay, .log = h_log, .kick = h_kick,
					     .replay_soon = h_replay_soon};
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		konce_ncgapp_unwire(&s[i].app, s[i].c);
		konce_nodecore_free(s[i].c);
		konce_identity_free(s[i].id);
	}
	return 0;
}

/* ---- the tests ---------------------------------------------------------------------------------- */

/* The host pointer is NULL in these contexts: a call that reached it would crash. */
static void test_checks(void **state)
{
	(void)state;
	konce_group_info info;
	konce_group_status st;
	konce_ncgapi none = {NULL, NULL, NULL, now, UNIX_S};        /* no node */
	konce_ncgapi nogroups = {NULL, s[0].c, NULL, now, UNIX_S}; /* a node without a store */
	assert_int_equal(konce_ncgapi_join(&none, "x", "x", 0), -ERANGE);
	assert_int_equal(konce_ncgapi_join(&none, "x", "x", KONCE_GROUP_JOIN_TIMEOUT_MAX + 1), -ERANGE);
	assert_int_equal(konce_ncgapi_join(&none, "x", "x", 1), -EINVAL);
	assert_int_equal(konce_ncgapi_join(&nogroups, "x", "x", KONCE_GROUP_JOIN_TIMEOUT_MAX), -ENOTSUP);
	assert_int_equal(konce_ncgapi_invite_status(&nogroups, "x", NULL), -EINVAL);
	assert_int_equal(konce_ncgapi_invite_status(&nogroups, "x", "t"), -ENOTSUP);
	assert_int_equal(konce_ncgapi_status(&nogroups, "x", NULL), -EINVAL);
	assert_int_equal(konce_ncgapi_status(&nogroups, "x", &st), -ENOTSUP);
	assert_int_equal(konce_ncgapi_create(&none, "x"), -EINVAL);
	assert_int_equal(konce_ncgapi_create(&nogroups, "x"), -ENOTSUP);
	assert_int_equal(konce_ncgapi_propose(&nogroups, "x", (const uint8_t *)"d", 1), -ENOTSUP);
	assert_int_equal(konce_ncgapi_leave(&none, "x"), -EINVAL);
	assert_int_equal(konce_ncgapi_info(&nogroups, "x", &info), -ENOTSUP);
	assert_int_equal(konce_ncgapi_list(&none, &info, 1), -EINVAL);
	assert_int_equal(konce_ncgapi_log(&nogroups, "x", 0, NULL, NULL), -ENOTSUP);
	assert_int_equal(konce_ncgapi_on_event(&nogroups, on_notice, NULL), -ENOTSUP);
	assert_int_equal(konce_ncgapi_on_join_request(&none, policy, NULL), -EINVAL);
	assert_int_equal(konce_ncgapi_on_snapshot(&nogroups, NULL, NULL), -ENOTSUP);
	assert_int_equal(konce_ncgapi_restore(&nogroups), -ENOTSUP);
	konce_ncgapi_replay(&nogroups, NULL);
	konce_ncgapi_stop(&none);
	konce_nc_event ev = {.type = KONCE_NC_EV_GROUP};
	konce_ncgapi_event(&nogroups, &ev);
}

static void test_create(void **state)
{
	(void)state;
	gstore *f = &s[0].st;
	konce_ncgapi a = api(0);
	konce_group_info info;

	assert_int_equal(konce_ncgapi_create(&a, "a b"), -EINVAL);
	assert_string_equal(f->order, ""); /* refused before the store */
	f->add_err = -EIO;
	assert_int_equal(konce_ncgapi_create(&a, "team"), -EIO);
	assert_string_equal(f->order, "A");
	assert_int_equal(konce_ncgapi_list(&a, &info, 1), 0); /* nothing hosted */
	f->add_err = 0;

	memset(f->order, 0, sizeof f->order);
	assert_int_equal(konce_ncgapi_create(&a, "team"), 0);
	assert_string_equal(f->order, "AK");
	assert_true(gstore_logged(f, "group team created"));
	assert_int_equal(konce_ncgapi_info(&a, "team", &info), 0);
	assert_memory_equal(info.id, f->recs[0].gid, KONCE_CW_GROUP_ID); /* the id the store holds */
	assert_string_equal(f->recs[0].name, "team");
	assert_false(f->recs[0].join);
	memset(f->order, 0, sizeof f->order);
	assert_int_equal(konce_ncgapi_create(&a, "team"), -EEXIST);
	assert_string_equal(f->order, "");

	/* the core's table is full: the group the store just took is removed again */
	for (int i = 1; i < KONCE_NC_GROUPS_MAX; i++) {
		char nm[16];
		snprintf(nm, sizeof nm, "g%d", i);
		assert_int_equal(konce_ncgapi_create(&a, nm), 0);
	}
	assert_int_equal(gstore_count(f), KONCE_NC_GROUPS_MAX);
	memset(f->order, 0, sizeof f->order);
	assert_int_equal(konce_ncgapi_create(&a, "late"), -ENOSPC);
	assert_string_equal(f->order, "AR");
	assert_int_equal(gstore_count(f), KONCE_NC_GROUPS_MAX);
	assert_int_equal(konce_ncgapi_list(&a, NULL, 0), KONCE_NC_GROUPS_MAX);
	assert_int_equal(konce_ncgapi_info(&a, "late", &info), -ENOENT);
}

/* A founds "team" with a join policy; B joins it under "ours". */
static void invite(char *token, size_t cap)
{
	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncgapi_invite(&a, "team", 0, "192.0.2.1:7807", token, cap), 0);
	run(now + 10 * MS);
}

static void test_join_rejoin(void **state)
{
	(void)state;
	char token[KONCE_GROUP_TOKEN_MAX];
	gstore *f = &s[1].st;
	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncgapi_create(&a, "team"), 0);
	assert_int_equal(konce_ncgapi_on_join_request(&a, policy, NULL), 0);
	uint8_t gid[KONCE_CW_GROUP_ID];
	memcpy(gid, s[0].st.recs[0].gid, sizeof gid);

	/* the policy says no: B is out */
	policy_yes = 0;
	invite(token, sizeof token);
	konce_ncgapi b = api(1);
	assert_int_equal(konce_ncgapi_join(&b, token, "ours", 30), 0);
	assert_string_equal(f->order, "JK");
	struct gstore_rec *r = gstore_rec_of(f, gid);
	assert_non_null(r);
	assert_true(r->join);
	assert_string_equal(r->name, "ours");
	assert_int_equal(r->nkeys, 1);
	assert_int_equal(r->until, UNIX_S + 30); /* wall-clock time: a restart keeps what is left */
	assert_true(gstore_logged(f, "group ours: joining (gives up after 30 s)"));
	run(now + 3000 * MS);
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_OUT);

	/* a new invitation; the write before the removal fails: nothing is removed, the group stays */
	policy_yes = 1;
	invite(token, sizeof token);
	b = api(1);
	memset(f->order, 0, sizeof f->order);
	s[1].sync_err = -EIO;
	assert_int_equal(konce_ncgapi_join(&b, token, "ours", 30), -EIO);
	assert_string_equal(f->order, "S");
	assert_true(gstore_logged(f, "group ours: the disk is read-only"));
	assert_non_null(gstore_rec_of(f, gid));
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_OUT);

	/* it is written: the group leaves the store and the core, then the join goes ahead */
	s[1].sync_err = 0;
	memset(f->order, 0, sizeof f->order);
	assert_int_equal(konce_ncgapi_join(&b, token, "ours", 60), 0);
	assert_string_equal(f->order, "SRJK");
	assert_true(gstore_logged(f, "group ours: out of it: its records are removed for the new join"));
	assert_int_equal(gstore_rec_of(f, gid)->until, UNIX_S + 60);
	for (int k = 0; k < 100 && state_of(1, "ours") != KONCE_GROUP_S_MEMBER; k++)
		run(now + 100 * MS);
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_MEMBER);

	/* a member: the join is refused and nothing is touched */
	invite(token, sizeof token);
	b = api(1);
	memset(f->order, 0, sizeof f->order);
	assert_int_equal(konce_ncgapi_join(&b, token, "ours", 30), -EEXIST);
	assert_string_equal(f->order, "");
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_MEMBER);
}

static void test_restore_replay(void **state)
{
	(void)state;
	gstore *f = &s[0].st;
	uint8_t g[3][KONCE_CW_GROUP_ID];
	for (int i = 0; i < 3; i++)
		memset(g[i], 0x10 + i, sizeof g[i]);
	struct gstore_rec *kept = gstore_rec_new(f, g[0], "kept");
	kept->delivered = 3;
	gstore_rec_new(f, g[1], "broken")->restore_err = -EINVAL;
	struct gstore_rec *anon = gstore_rec_new(f, g[2], NULL);
	anon->delivered = 2;
	anon->replay_err = -ENODATA;

	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncgapi_restore(&a), 3);
	assert_int_equal(f->restore_now, now);
	assert_true(gstore_logged(f, "group broken: its records do not parse"));
	assert_true(gstore_logged(f, "restored 3 groups from the store"));
	assert_int_equal(konce_ncgapi_list(&a, NULL, 0), 2);
	assert_null(konce_nodecore_group_find(s[0].c, g[1]));
	char hex[2 * KONCE_CW_GROUP_ID + 1];
	sodium_bin2hex(hex, sizeof hex, g[2], sizeof g[2]);
	konce_group_info info;
	assert_int_equal(konce_ncgapi_info(&a, hex, &info), 0); /* the unnamed one goes by its id */
	assert_memory_equal(info.id, g[2], KONCE_CW_GROUP_ID);

	/* nobody listens: nothing is read, and nothing is owed to be read ahead */
	konce_ncgapi_replay(&a, NULL);
	assert_string_equal(f->order, "");
	uint8_t owed[KONCE_NC_GROUPS_MAX][KONCE_CW_GROUP_ID];
	uint64_t upto[KONCE_NC_GROUPS_MAX];
	assert_int_equal(konce_ncgapi_replay_owed(&a, owed, upto, KONCE_NC_GROUPS_MAX), 0);

	/* the application listens: the loop is asked to hand the state back */
	assert_int_equal(konce_ncgapi_on_event(&a, on_notice, &s[0]), 0);
	assert_int_equal(s[0].replay_soon, 1);
	/* what a host reads ahead: the two members, each up to its delivery point (at most max) */
	assert_int_equal(konce_ncgapi_replay_owed(&a, owed, upto, 1), 1);
	assert_int_equal(konce_ncgapi_replay_owed(&a, owed, upto, KONCE_NC_GROUPS_MAX), 2);
	for (int i = 0; i < 2; i++) {
		int k = !memcmp(owed[i], g[0], KONCE_CW_GROUP_ID) ? 0 : 2;
		assert_memory_equal(owed[i], g[k], KONCE_CW_GROUP_ID);
		assert_int_equal(upto[i], k ? 2 : 3);
	}
	/* an event of "kept" first: its own state before the event's notices */
	konce_nc_event ev = {.type = KONCE_NC_EV_GROUP};
	memcpy(ev.gid, g[0], sizeof ev.gid);
	ev.group.type = KONCE_GROUP_EV_HALTED;
	ev.group.epoch = 4;
	konce_ncgapi_event(&a, &ev);
	assert_string_equal(f->order, "P");
	assert_int_equal(f->replay_upto, 3);
	assert_int_equal(s[0].nseen, 4); /* the snapshot, e2, e3 (entry 1 is the group's own), HALTED */
	assert_int_equal(s[0].seen[0].type, KONCE_GROUP_N_SNAPSHOT);
	assert_int_equal(s[0].seen[1].type, KONCE_GROUP_N_DECIDED);
	assert_int_equal(s[0].seen[1].seq, 2);
	assert_int_equal(s[0].seen[2].seq, 3);
	assert_memory_equal(s[0].seen[2].data, "e3", 2);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s[0].seen[i].replayed, 1);
		assert_string_equal(s[0].seen[i].name, "kept");
	}
	assert_int_equal(s[0].seen[3].type, KONCE_GROUP_N_HALTED);
	assert_int_equal(s[0].seen[3].replayed, 0);
	assert_true(gstore_logged(f, "group kept: 2 decisions handed back from the store"));
	/* its next event: paid already */
	konce_ncgapi_event(&a, &ev);
	assert_string_equal(f->order, "P");
	assert_int_equal(s[0].nseen, 5);
	assert_int_equal(konce_ncgapi_replay_owed(&a, owed, upto, KONCE_NC_GROUPS_MAX), 1); /* the unnamed one */
	assert_memory_equal(owed[0], g[2], KONCE_CW_GROUP_ID);

	/* the loop's turn: the rest, once; the store cannot serve it */
	konce_ncgapi_replay(&a, NULL);
	assert_string_equal(f->order, "PP");
	assert_true(gstore_logged(f, "cannot hand its state back from the store: the log misses a delivered entry"));
	konce_ncgapi_replay(&a, NULL);
	assert_string_equal(f->order, "PP");
	assert_int_equal(s[0].nseen, 5);

	/* an unreadable store */
	static konce_ncgapp fresh;
	konce_ncgapi b = api(1);
	b.t = &fresh;
	s[1].st.each_err = -EIO;
	assert_int_equal(konce_ncgapi_restore(&b), -EIO);
	assert_true(gstore_logged(&s[1].st, "cannot read the groups from the store: "));
}

/* A replay read ahead into a tape (konce_ncgapi_tape) and played later. */
struct played {
	char order[16];
	uint64_t seq[16];
	unsigned n, stop_at; /* stop_at: the callback that returns nonzero (1-based; 0 none) */
};

static int play_one(struct played *p, char kind, uint64_t seq, const uint8_t *b, size_t len)
{
	p->order[p->n] = kind;
	p->seq[p->n++] = seq;
	assert_true(kind == 'S' ? len == 5 && !memcmp(b, "state", 5) : len > 0);
	return p->n == p->stop_at;
}
static int play_snap(void *ctx, uint64_t seq, const uint8_t *b, size_t len) { return play_one(ctx, 'S', seq, b, len); }
static int play_entry(void *ctx, uint64_t seq, const uint8_t *b, size_t len) { return play_one(ctx, 'E', seq, b, len); }

static void test_tape(void **state)
{
	(void)state;
	gstore *f = &s[0].st;
	uint8_t g[KONCE_CW_GROUP_ID];
	memset(g, 0x20, sizeof g);
	gstore_rec_new(f, g, "taped")->delivered = 4;
	konce_ncgapi_tape t = {0};
	/* empty: plays nothing, returns the read's result */
	struct played p = {0};
	assert_int_equal(konce_ncgapi_tape_play(&t, play_snap, play_entry, &p), 0);
	assert_int_equal(p.n, 0);
	/* recorded through the host's read, as a store writer would, then played: same calls, same order */
	t.result = gstore_read(f, g, 3, konce_ncgapi_tape_snap, konce_ncgapi_tape_entry, &t);
	assert_int_equal(t.result, 0);
	assert_int_equal(konce_ncgapi_tape_play(&t, play_snap, play_entry, &p), 0);
	assert_string_equal(p.order, "SEE");
	assert_int_equal(p.seq[0], 1);
	assert_int_equal(p.seq[1], 2);
	assert_int_equal(p.seq[2], 3);
	/* a callback that stops the play: -ECANCELED, as the read would have returned */
	struct played q = {.stop_at = 2};
	assert_int_equal(konce_ncgapi_tape_play(&t, play_snap, play_entry, &q), -ECANCELED);
	assert_string_equal(q.order, "SE");
	/* the read's error comes back after what it passed */
	t.result = -ENODATA;
	struct played r = {0};
	assert_int_equal(konce_ncgapi_tape_play(&t, play_snap, play_entry, &r), -ENODATA);
	assert_int_equal(r.n, 3);
	konce_ncgapi_tape_free(&t);
	assert_null(t.buf);
	assert_int_equal(t.len, 0);
}

/* The replays a host reads ahead: planned once the application listens, once per group, read,
 * played, freed. */
static konce_ncgapi_ahead ah;
/* A host's replay that plays what it read ahead (group_io.c a_replay, without the waits). */
static int h_replay_ahead(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
			  konce_ncgapi_entry_fn fn, void *fnctx, bool wait)
{
	(void)wait;
	konce_ncgapi_slot *sl = konce_ncgapi_ahead_find(&ah, gid);
	(void)ctx;
	assert_non_null(sl);
	assert_int_equal(sl->state, KONCE_NCGAPI_AHEAD_READY);
	assert_int_equal(sl->upto, upto);
	return konce_ncgapi_ahead_play(sl, snap, fn, fnctx);
}

static void test_ahead(void **state)
{
	(void)state;
	gstore *f = &s[0].st;
	uint8_t g[2][KONCE_CW_GROUP_ID];
	for (int i = 0; i < 2; i++) {
		memset(g[i], 0x30 + i, sizeof g[i]);
		gstore_rec_new(f, g[i], i ? "second" : "first")->delivered = 3;
	}
	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncgapi_restore(&a), 2);
	memset(&ah, 0, sizeof ah);
	konce_ncgapi_slot *out[KONCE_NC_GROUPS_MAX];
	assert_int_equal(konce_ncgapi_ahead_plan(&a, &ah, out), 0); /* nobody listens */
	assert_int_equal(konce_ncgapi_on_event(&a, on_notice, &s[0]), 0);
	/* a plan the host could not queue: back to unread, planned again */
	assert_int_equal(konce_ncgapi_ahead_plan(&a, &ah, out), 2);
	assert_int_equal(ah.reading, 1);
	konce_ncgapi_ahead_drop(&ah, out, 2);
	assert_int_equal(ah.reading, 0);
	assert_int_equal(konce_ncgapi_ahead_find(&ah, g[0])->state, KONCE_NCGAPI_AHEAD_UNREAD);
	assert_int_equal(konce_ncgapi_ahead_plan(&a, &ah, out), 2);
	assert_int_equal(out[0]->state, KONCE_NCGAPI_AHEAD_READING);
	assert_int_equal(out[0]->upto, 3);
	/* a second plan while they are read: nothing more */
	konce_ncgapi_slot *again[KONCE_NC_GROUPS_MAX];
	assert_int_equal(konce_ncgapi_ahead_plan(&a, &ah, again), 0);
	assert_int_equal(ah.reading, 1);
	/* the reader fills the tapes (here the fake store's read), the loop marks them read */
	for (int i = 0; i < 2; i++)
		out[i]->tape.result = gstore_read(f, out[i]->gid, out[i]->upto, konce_ncgapi_tape_snap,
						  konce_ncgapi_tape_entry, &out[i]->tape);
	konce_ncgapi_ahead_read(&ah, out, 2);
	assert_int_equal(ah.reading, 0);
	konce_ncgapi_slot *first = konce_ncgapi_ahead_find(&ah, g[0]);
	assert_non_null(first);
	assert_int_equal(first->state, KONCE_NCGAPI_AHEAD_READY);
	/* the replay plays the tape through the host's callback: the snapshot, e2, e3, then the event */
	konce_nc_event ev = {.type = KONCE_NC_EV_GROUP};
	memcpy(ev.gid, g[0], sizeof ev.gid);
	ev.group.type = KONCE_GROUP_EV_HALTED;
	ev.group.epoch = 4;
	s[0].h.replay = h_replay_ahead;
	konce_ncgapi_event(&a, &ev);
	assert_string_equal(f->order, "PP"); /* the fake store read twice above, not since */
	assert_int_equal(s[0].nseen, 4);
	assert_int_equal(s[0].seen[0].type, KONCE_GROUP_N_SNAPSHOT);
	assert_int_equal(s[0].seen[2].seq, 3);
	assert_int_equal(s[0].seen[2].replayed, 1);
	assert_int_equal(s[0].seen[3].type, KONCE_GROUP_N_HALTED);
	assert_null(konce_ncgapi_ahead_find(&ah, g[0]));
	/* a played group is owed nothing: the plan skips it; the other keeps its tape until freed */
	assert_int_equal(konce_ncgapi_ahead_plan(&a, &ah, again), 0);
	assert_non_null(konce_ncgapi_ahead_find(&ah, g[1]));
	konce_ncgapi_ahead_free(&ah);
	assert_null(konce_ncgapi_ahead_find(&ah, g[1]));
	assert_null(ah.slot[1].tape.buf);
}

/* A long replay read ahead in stretches (konce_ncgapi_tape_read): each stretch holds at most
 * KONCE_NCGAPI_TAPE_ENTRIES entries and its memory goes once played; the group stays owed between
 * stretches; the application sees the snapshot and every entry once, in order, then the event. */
struct order {
	uint64_t next; /* the seq the next DECIDED must carry */
	unsigned snaps, decided, replayed, after;
	bool bad;
};
static void on_order(void *ctx, const konce_group_notice *o)
{
	struct order *w = ctx;
	if (o->type == KONCE_GROUP_N_SNAPSHOT) {
		w->snaps++;
		w->bad |= w->decided != 0 || o->seq != 1;
		w->next = o->seq + 1;
	} else if (o->type == KONCE_GROUP_N_DECIDED) {
		w->bad |= o->seq != w->next || !o->replayed;
		w->next = o->seq + 1;
		w->decided++;
	} else {
		w->after++;
		w->bad |= w->next == 0;
	}
	w->replayed += o->replayed != 0;
}

static const konce_ncgapi_host reader = {.read = gstore_read, .entries = gstore_entries};

static void read_plan(konce_ncgapi_slot **out, unsigned k, gstore *f)
{
	for (unsigned i = 0; i < k; i++)
		konce_ncgapi_tape_read(&out[i]->tape, &reader, f, out[i]->gid, out[i]->upto);
	konce_ncgapi_ahead_read(&ah, out, k);
}

static int h_replay_nowait(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
			   konce_ncgapi_entry_fn fn, void *fnctx, bool wait)
{
	konce_ncgapi_slot *sl = konce_ncgapi_ahead_take(&ah, gid, upto);
	(void)ctx;
	if (sl->state == KONCE_NCGAPI_AHEAD_READING && !wait)
		return 1;
	assert_int_equal(sl->state, KONCE_NCGAPI_AHEAD_READY);
	return konce_ncgapi_ahead_play(sl, snap, fn, fnctx);
}

static void test_ahead_stretches(void **state)
{
	(void)state;
	enum { LONG = 2 * KONCE_NCGAPI_TAPE_ENTRIES + 5 };
	gstore *f = &s[0].st;
	uint8_t g[KONCE_CW_GROUP_ID];
	memset(g, 0x40, sizeof g);
	gstore_rec_new(f, g, "long")->delivered = LONG;
	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncgapi_restore(&a), 1);
	memset(&ah, 0, sizeof ah);
	struct order w = {0};
	s[0].h.replay = h_replay_nowait;
	assert_int_equal(konce_ncgapi_on_event(&a, on_order, &w), 0);
	konce_ncgapi_slot *out[KONCE_NC_GROUPS_MAX];
	unsigned stretches = 0;
	for (unsigned k; (k = konce_ncgapi_ahead_plan(&a, &ah, out)); stretches++) {
		assert_int_equal(k, 1);
		read_plan(out, k, f);
		assert_true(out[0]->tape.n <= KONCE_NCGAPI_TAPE_ENTRIES);
		unsigned before = w.decided;
		konce_ncgapi_replay(&a, NULL);
		assert_true(w.decided - before <= KONCE_NCGAPI_TAPE_ENTRIES);
		konce_ncgapi_slot *sl = konce_ncgapi_ahead_find(&ah, g);
		if (sl) { /* a further stretch is due: nothing of the played one is held */
			assert_int_equal(sl->state, KONCE_NCGAPI_AHEAD_UNREAD);
			assert_null(sl->tape.buf);
			uint8_t og[1][KONCE_CW_GROUP_ID];
			uint64_t up[1];
			assert_int_equal(konce_ncgapi_replay_owed(&a, og, up, 1), 1); /* still owed */
			assert_int_equal(up[0], LONG);
		}
		assert_true(stretches < 8);
	}
	/* snapshot + entries 2..LONG in 64, 64, 3: three stretches, then owed nothing, no slot held */
	assert_int_equal(stretches, 3);
	assert_false(w.bad);
	assert_int_equal(w.snaps, 1);
	assert_int_equal(w.decided, LONG - 1);
	assert_int_equal(w.next, LONG + 1);
	assert_null(konce_ncgapi_ahead_find(&ah, g));
	for (int j = 0; j < KONCE_NC_GROUPS_MAX; j++)
		assert_null(ah.slot[j].tape.buf);
	assert_true(gstore_logged(f, "132 decisions handed back")); /* counted over the three */
	/* the next event follows, once */
	konce_nc_event ev = {.type = KONCE_NC_EV_GROUP};
	memcpy(ev.gid, g, sizeof ev.gid);
	ev.group.type = KONCE_GROUP_EV_HALTED;
	ev.group.epoch = 4;
	konce_ncgapi_event(&a, &ev);
	assert_int_equal(w.after, 1);
	assert_int_equal(w.replayed, LONG);
}

/* A further stretch that finds a hole in the log, or the log ending short of upto: -ENODATA. */
static void test_tape_gap(void **state)
{
	(void)state;
	gstore *f = &s[0].st;
	uint8_t g[KONCE_CW_GROUP_ID];
	memset(g, 0x50, sizeof g);
	gstore_rec_new(f, g, "gap")->delivered = 500;
	konce_ncgapi_tape t = {0};
	/* the first stretch stops at its bound with more to come; the next goes on from its cursor */
	assert_int_equal(konce_ncgapi_tape_read(&t, &reader, f, g, 500), 0);
	assert_true(t.more);
	assert_int_equal(t.n, KONCE_NCGAPI_TAPE_ENTRIES);
	assert_int_equal(t.next, 2 + KONCE_NCGAPI_TAPE_ENTRIES);
	assert_int_equal(konce_ncgapi_tape_read(&t, &reader, f, g, 500), 0);
	assert_int_equal(t.n, KONCE_NCGAPI_TAPE_ENTRIES);
	assert_int_equal(t.next, 2 + 2 * KONCE_NCGAPI_TAPE_ENTRIES);
	/* a log that skips two entries after the cursor */
	konce_ncgapi_host holed = {.read = gstore_read, .entries = h_entries_holed};
	assert_int_equal(konce_ncgapi_tape_read(&t, &holed, f, g, 500), -ENODATA);
	assert_int_equal(t.n, 0);
	konce_ncgapi_tape_free(&t);
	/* a log that ends at 20, read from 10 up to 30 */
	konce_ncgapi_tape u = {.next = 10};
	konce_ncgapi_host shortlog = {.read = gstore_read, .entries = h_entries_upto_20};
	assert_int_equal(konce_ncgapi_tape_read(&u, &shortlog, f, g, 30), -ENODATA);
	assert_int_equal(u.n, 11);
	struct played p = {0};
	konce_ncgapi_tape_free(&u);
	assert_int_equal(konce_ncgapi_tape_play(&u, play_snap, play_entry, &p), 0); /* freed: empty */
}

static int on_entry(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		    size_t len)
{
	uint64_t *last = ctx;
	(void)origin;
	assert_int_equal(len, 2);
	assert_int_equal(data[0], 'e');
	*last = seq;
	return 0;
}

static void test_log_stop(void **state)
{
	(void)state;
	gstore *f = &s[0].st;
	uint64_t last = 0;
	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncgapi_create(&a, "team"), 0);
	f->recs[0].delivered = 4;
	memset(f->order, 0, sizeof f->order);
	assert_int_equal(konce_ncgapi_log(&a, "nope", 0, on_entry, &last), -ENOENT);
	assert_int_equal(konce_ncgapi_log(&a, "team", 0, NULL, NULL), -EINVAL);
	assert_int_equal(konce_ncgapi_log(&a, "team", 5, on_entry, &last), 0); /* past the delivery point */
	assert_string_equal(f->order, "");
	assert_int_equal(konce_ncgapi_log(&a, "team", 0, on_entry, &last), 3); /* entry 1 is the group's own */
	assert_int_equal(last, 4);
	assert_int_equal(konce_ncgapi_log(&a, "team", 4, on_entry, &last), 1);
	f->entries_err = -EIO;
	assert_int_equal(konce_ncgapi_log(&a, "team", 0, on_entry, &last), -EIO);
	f->delivered_err = -EBUSY;
	assert_int_equal(konce_ncgapi_log(&a, "team", 0, on_entry, &last), -EBUSY);

	/* stop: unwired, everything written; a failed write is logged */
	assert_int_equal(konce_ncgapi_on_snapshot(&a, NULL, NULL), 0);
	assert_true(s[0].app.wired);
	memset(f->order, 0, sizeof f->order);
	s[0].sync_err = -EIO;
	konce_ncgapi_stop(&a);
	assert_false(s[0].app.wired);
	assert_string_equal(f->order, "S");
	assert_true(gstore_logged(f, "the disk is read-only"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_rejoin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_stretches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tape_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_stop, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
