/* test_ncghost.c - the group API host's sequencing around its store writer (node/core/ncghost.c)
 * through a recording fake I/O: two real node cores (nc_pair.h), a hand-moved clock, and for each
 * a fake writer that is one FIFO, as the daemon's (node/io/node_storew.c): the ncghost jobs and the
 * record batches queue behind each other, and the test runs them one at a time, in order, choosing
 * when (between notes, flushes and events).  The fake store records what reaches it, in order:
 *
 *   - create: the row is written on the writer, not on the call; the group is hosted and done(0)
 *     only when its job is done; a row the store refuses ends with its errno and nothing hosted;
 *     a full writer queue refuses the call (no done); a row still queued when the groups stop is
 *     written by the stop's sync (a call behind it, as node_storew.c's), then cancelled and removed;
 *   - the rejoin hold-back: with a batch in flight and records queued when the rejoin is called,
 *     the rejoin waits (nothing of it queued) until the batch ends, then the queued records go as
 *     one batch, then the rejoin, alone; records noted while it waits or runs are held back and go
 *     in the batch after it; its job removes the old row and adds the new one;
 *   - a failed batch before a waiting rejoin goes again first; the rejoin job that finds records
 *     still on the writer fails (the old row stays), logged;
 *   - a rejoin whose job cannot be queued (the writer's queue full) fails: inside the call, the call
 *     returns -ENOBUFS and its done is never called; later (it waited its turn), its done ends
 *     -ENOBUFS; the flush event is asked for either way;
 *   - stop: waiting rejoins end -ECANCELED without touching the store;
 *   - the log read: entries read on the writer, the count on the loop;
 *   - the replay: a restored member's state read ahead on the writer and played on the replay
 *     event; a full writer queue arms the replay event a millisecond later; a group's event that
 *     overtakes its read waits for it (drain), the state before the event's notices.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncghost.h"
#include "node/transport/identity.h"
#include "tests/unit/gstore_fake.h"
#include "tests/unit/nc_pair.h"

enum { MS = 1000, UNIX_S = 1700000000, QMAX = 16 };

/* ---- the writer: its connection is the fake store (gstore_fake.h) ----------------------------- */

/* One entry of the writer's FIFO: a job, or a record batch (job NULL). */
struct qent {
	konce_ncghost_job *job;
};

struct side;

struct host {
	struct side *x;
	konce_ncghost gh;
	konce_ncgpersist persist;
	bool stopped;
	struct qent q[QMAX];
	unsigned nq, cap;
	/* the writer: records on the loop's store queue, on the writer's, a batch queued or running */
	uint64_t store_q, writer_q, durable;
	bool busy, flush_active;
	unsigned flush_ms; /* armed (0: not) */
	int batch_err;     /* the next batch's result */
	unsigned replay_now, replay_ms;
};

struct side {
	konce_identity *id;
	konce_nodecore *c;
	konce_ncgapp app;
	konce_addr addr;
	konce_ncgapi_host h;
	struct host ho;
	gstore st; /* the store, and the writer's own calls in its order: B batch written, F batch failed, S sync */
	char notices[64]; /* the application's: s snapshot, e entry (seq digit) */
};

static struct side s[2];
static uint64_t now = 1000000;
static int policy_yes;

static const konce_ncgapi_host prims = {.add = gstore_add, .add_join = gstore_add_join, .remove = gstore_remove,
					.delivered = gstore_delivered, .entries = gstore_entries, .read = gstore_read};

/* ---- the fake I/O: the writer is one FIFO ----------------------------------------------------- */

static konce_ncgapi api(int i) { return (konce_ncgapi){&s[i].app, s[i].c, &s[i].h, now, UNIX_S}; }

static int io_call(void *ctx, konce_ncghost_job *j)
{
	struct host *ho = ctx;
	if (ho->nq == ho->cap)
		return -ENOBUFS;
	ho->q[ho->nq++].job = j;
	return 0;
}

static void run_one(struct host *ho);

static void io_drain(void *ctx)
{
	struct host *ho = ctx;
	while (ho->nq)
		run_one(ho);
}

static void io_call_wait(void *ctx, konce_ncghost_job *j)
{
	char msg[256];
	io_drain(ctx);
	konce_ncghost_job_run(j, &((struct host *)ctx)->x->st, msg, sizeof msg);
}

static void io_replay_now(void *ctx) { ((struct host *)ctx)->replay_now++; }
static void io_replay_arm(void *ctx, unsigned ms) { ((struct host *)ctx)->replay_ms = ms; }
static void io_log(void *ctx, int level, const char *line)
{
	(void)level;
	gstore_log(&((struct host *)ctx)->x->st, line);
}
static konce_ncghost *io_self(void *ctx)
{
	struct host *ho = ctx;
	return ho->stopped ? NULL : &ho->gh;
}
static void io_api(void *ctx, konce_ncgapi *a)
{
	struct host *ho = ctx;
	*a = api((int)(ho->x - s));
	if (ho->stopped) { /* the host's context once its groups stopped (nn_groups.c, group_io.c) */
		a->t = NULL;
		a->h = NULL;
	}
}
/* node_storew_group_sync: a call behind the FIFO, so everything queued runs first (dones too). */
static int io_sync(void *ctx, char *err, size_t errlen)
{
	struct host *ho = ctx;
	(void)err, (void)errlen;
	while (ho->nq)
		run_one(ho);
	gstore_mark(&ho->x->st, 'S');
	ho->durable += ho->store_q + ho->writer_q;
	ho->store_q = ho->writer_q = 0;
	return 0;
}
/* st: the side's fake store, the writer's connection */
static size_t io_store_pending(void *st)
{
	const struct side *x = (const struct side *)((char *)st - offsetof(struct side, st));
	return (size_t)x->ho.writer_q;
}

static const konce_ncghost_io fio = {io_call, io_call_wait, io_drain, io_replay_now, io_replay_arm,
				     io_log,  io_self,	    io_api,   io_sync,	     io_store_pending};

/* The writer's primitives for the persist driver (ncgpersist.h konce_ncgp_host). */
static bool w_busy(void *ctx) { return ((struct host *)ctx)->busy; }
static size_t w_wpending(void *ctx) { return (size_t)((struct host *)ctx)->writer_q; }
static bool w_spending(void *ctx) { return ((struct host *)ctx)->store_q > 0; }
static bool w_armed(void *ctx) { return ((struct host *)ctx)->flush_active || ((struct host *)ctx)->flush_ms; }
static void w_submit(void *ctx, bool from_store)
{
	struct host *ho = ctx;
	if (from_store) {
		ho->writer_q += ho->store_q;
		ho->store_q = 0;
	}
	ho->busy = true;
	assert_int_not_equal(ho->nq, QMAX); /* the daemon's batch is embedded: it always queues */
	ho->q[ho->nq++].job = NULL;
}
static void w_now(void *ctx) { ((struct host *)ctx)->flush_active = true; }
static void w_arm(void *ctx, unsigned ms) { ((struct host *)ctx)->flush_ms = ms; }

/* The first entry of the FIFO runs on the writer, then its done on the loop. */
static void run_one(struct host *ho)
{
	assert_true(ho->nq > 0);
	konce_ncghost_job *j = ho->q[0].job;
	memmove(&ho->q[0], &ho->q[1], --ho->nq * sizeof ho->q[0]);
	if (!j) { /* a batch */
		int e = ho->batch_err;
		ho->busy = false;
		gstore_mark(&ho->x->st, e ? 'F' : 'B');
		if (!e) {
			ho->durable += ho->writer_q;
			ho->writer_q = 0;
		}
		konce_ncghost_written(&ho->gh, ho->x->c, e);
		return;
	}
	char msg[256] = "";
	int e = konce_ncghost_job_run(j, &ho->x->st, msg, sizeof msg);
	konce_ncghost_job_done(j, e, msg);
}

/* The flush event's turn, if it was asked for. */
static bool flush_turn(struct host *ho)
{
	if (!ho->flush_active && !ho->flush_ms)
		return false;
	ho->flush_active = false;
	ho->flush_ms = 0;
	konce_ncghost_flush(&ho->gh);
	return true;
}

/* n group records of gid noted on the loop's store queue, and the round's end. */
static void note(struct host *ho, const uint8_t gid[KONCE_CW_GROUP_ID], unsigned n)
{
	static uint64_t pid = 1;
	for (unsigned i = 0; i < n; i++) {
		konce_nc_gnote g = {.type = KONCE_CNOTE_VIEW, .pid = pid++};
		memcpy(g.gid, gid, KONCE_CW_GROUP_ID);
		ho->store_q++;
		konce_ncgpersist_noted(&ho->persist, &g, 0);
	}
	konce_ncghost_round(&ho->gh);
}

/* ---- two node cores --------------------------------------------------------------------------- */

static void h_log(void *ctx, int level, const char *line) { io_log(&((struct side *)ctx)->ho, level, line); }
static void h_kick(void *ctx) { (void)ctx; }
static int h_sync(void *ctx, char *err, size_t errlen) { return io_sync(&((struct side *)ctx)->ho, err, errlen); }
static void h_replay_soon(void *ctx)
{
	struct side *x = ctx;
	konce_ncgapi a = api((int)(x - s));
	konce_ncghost_replay_soon(&x->ho.gh, &a);
}
static int h_replay(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		    konce_ncgapi_entry_fn fn, void *fnctx, bool wait)
{
	return konce_ncghost_replay(&((struct side *)ctx)->ho.gh, gid, upto, snap, fn, fnctx, wait);
}

static int policy(void *ctx, const char *name, const uint8_t key[KONCE_KEY_BYTES])
{
	(void)ctx, (void)name, (void)key;
	return policy_yes;
}

static void on_notice(void *ctx, const konce_group_notice *o)
{
	struct side *x = ctx;
	size_t n = strlen(x->notices);
	if (n + 2 >= sizeof x->notices)
		return;
	if (o->type != KONCE_GROUP_N_SNAPSHOT && o->type != KONCE_GROUP_N_DECIDED)
		return;
	x->notices[n] = o->type == KONCE_GROUP_N_SNAPSHOT ? 's' : 'e';
	x->notices[n + 1] = (char)('0' + o->seq % 10);
}

/* Runs both cores (nc_pair.h), every group event through the API, until the clock reaches until. */
static void run(uint64_t until) { nc_pair_api_run(api, &now, until); }

static int state_of(int i, const char *name) { return nc_pair_api_state(api, i, name); }

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct side *x = &s[i];
		memset(x, 0, sizeof *x);
		nc_pair_side_new(i, &x->id, &x->c, &x->addr, now);
		/* the loop's connection: reads and restore on the fake store, the rest through ncghost */
		x->h = (konce_ncgapi_host){.ctx = x, .store = &x->st, .add = gstore_add, .add_join = gstore_add_join,
					   .remove = gstore_remove, .sync = h_sync, .delivered = gstore_delivered,
					   .entries = gstore_entries, .each = gstore_each, .restore = gstore_restore,
					   .replay = h_replay, .log = h_log, .kick = h_kick, .replay_soon = h_replay_soon};
		struct host *ho = &x->ho;
		ho->x = x;
		ho->cap = QMAX;
		ho->gh = (konce_ncghost){.io = &fio, .ctx = ho, .prims = &prims, .persist = &ho->persist};
		ho->gh.w = (konce_ncgp_host){ho, w_busy, w_wpending, w_spending, w_armed, w_submit, w_now, w_arm};
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct host *ho = &s[i].ho;
		while (ho->nq) { /* a test that failed midway */
			if (ho->q[ho->nq - 1].job)
				konce_ncghost_job_drop(ho->q[ho->nq - 1].job);
			ho->nq--;
		}
		konce_ncgapi_ahead_free(&ho->gh.ahead);
		konce_ncgapp_unwire(&s[i].app, s[i].c);
		konce_nodecore_free(s[i].c);
		konce_identity_free(s[i].id);
	}
	return 0;
}

/* ---- the tests ---------------------------------------------------------------------------------- */

static int dones[16], ndone;
static void on_done(void *dctx, int e)
{
	(void)dctx;
	if (ndone < 16)
		dones[ndone++] = e;
}

static void test_create(void **state)
{
	(void)state;
	struct side *x = &s[0];
	struct host *ho = &x->ho;
	konce_ncgapi a = api(0);
	konce_group_info info;
	ndone = 0;

	assert_int_equal(konce_ncghost_create_call(&ho->gh, &a, "a b", on_done, NULL), -EINVAL);
	assert_int_equal(ho->nq, 0);

	/* the row is written on the writer: nothing before the job runs */
	assert_int_equal(konce_ncghost_create_call(&ho->gh, &a, "team", on_done, NULL), 0);
	assert_int_equal(ho->nq, 1);
	assert_string_equal(x->st.order, "");
	assert_int_equal(konce_ncgapi_info(&a, "team", &info), -ENOENT);
	run_one(ho);
	assert_string_equal(x->st.order, "A");
	assert_int_equal(ndone, 1);
	assert_int_equal(dones[0], 0);
	assert_int_equal(konce_ncgapi_info(&a, "team", &info), 0);
	assert_memory_equal(info.id, x->st.recs[0].gid, KONCE_CW_GROUP_ID);
	assert_true(gstore_logged(&x->st, "group team created"));

	/* the store refuses the row: the call ends with its errno, nothing hosted */
	x->st.add_err = -EIO;
	assert_int_equal(konce_ncghost_create_call(&ho->gh, &a, "more", on_done, NULL), 0);
	run_one(ho);
	assert_int_equal(ndone, 2);
	assert_int_equal(dones[1], -EIO);
	assert_int_equal(konce_ncgapi_info(&a, "more", &info), -ENOENT);
	x->st.add_err = 0;

	/* a full writer queue refuses the call, no done */
	ho->cap = 0;
	assert_int_equal(konce_ncghost_create_call(&ho->gh, &a, "more", on_done, NULL), -ENOBUFS);
	assert_int_equal(ndone, 2);
	ho->cap = QMAX;

	/* stop with the row still queued: the stop's sync is a call behind it (node_storew_group_sync),
	 * so the row is written and its done runs inside the stop, the table already unwired from the
	 * core: the call is cancelled (a group hosted now would never write a record) and its row goes
	 * again on the writer */
	memset(x->st.order, 0, sizeof x->st.order);
	assert_int_equal(konce_ncghost_create_call(&ho->gh, &a, "late", on_done, NULL), 0);
	konce_ncghost_stopping(&ho->gh);
	konce_ncgapi_stop(&a);
	assert_string_equal(x->st.order, "ARS");
	assert_int_equal(ndone, 3);
	assert_int_equal(dones[2], -ECANCELED);
	assert_false(x->st.recs[1].used);
	assert_int_equal(ho->nq, 0);
	konce_ncghost_stop(&ho->gh);
	ho->stopped = true;

	/* no groups at all: ncgapi's answer, nothing queued */
	konce_ncgapi none = {NULL, x->c, NULL, now, UNIX_S};
	assert_int_equal(konce_ncghost_create_call(NULL, &none, "x", on_done, NULL), -ENOTSUP);
	assert_int_equal(konce_ncghost_log_call(NULL, &none, "x", 0, NULL, NULL, on_done, NULL), -ENOTSUP);
}

static int nlogged;
static char logdata[64];
static int on_entry(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		    size_t len)
{
	(void)ctx, (void)seq, (void)origin;
	size_t n = strlen(logdata);
	if (n + len + 1 < sizeof logdata) {
		memcpy(logdata + n, data, len);
		logdata[n + len] = ',';
	}
	nlogged++;
	return 0;
}

static void test_log(void **state)
{
	(void)state;
	struct side *x = &s[0];
	struct host *ho = &x->ho;
	konce_ncgapi a = api(0);
	ndone = 0;
	assert_int_equal(konce_ncghost_create_call(&ho->gh, &a, "team", on_done, NULL), 0);
	run_one(ho);
	assert_int_equal(konce_ncghost_log_call(&ho->gh, &a, "nope", 0, on_entry, NULL, on_done, NULL), -ENOENT);
	assert_int_equal(ho->nq, 0);
	x->st.recs[0].delivered = 4;
	memset(x->st.order, 0, sizeof x->st.order);
	assert_int_equal(konce_ncghost_log_call(&ho->gh, &a, "team", 3, on_entry, NULL, on_done, NULL), 0);
	assert_int_equal(nlogged, 0); /* read on the writer */
	assert_string_equal(x->st.order, "");
	run_one(ho);
	assert_string_equal(x->st.order, "E");
	assert_int_equal(nlogged, 2);
	assert_string_equal(logdata, "e3,e4,");
	assert_int_equal(ndone, 2);
	assert_int_equal(dones[1], 2);
}

/* The rejoin tests' setup: A founds "team" with a join policy; B's join under "ours" is refused:
 * B is out of it.  team_token: A's next invitation; team_gid: the group's id. */
static char team_token[KONCE_GROUP_TOKEN_MAX];
static uint8_t team_gid[KONCE_CW_GROUP_ID];

static int setup_out_of_team(void **state)
{
	setup(state);
	konce_ncgapi a = api(0), b;
	assert_int_equal(konce_ncghost_create_call(&s[0].ho.gh, &a, "team", on_done, NULL), 0);
	run_one(&s[0].ho);
	assert_int_equal(konce_ncgapi_on_join_request(&a, policy, NULL), 0);
	memcpy(team_gid, s[0].st.recs[0].gid, KONCE_CW_GROUP_ID);
	policy_yes = 0;
	assert_int_equal(konce_ncgapi_invite(&a, "team", 0, "192.0.2.1:7807", team_token, sizeof team_token), 0);
	run(now + 10 * MS);
	b = api(1);
	assert_int_equal(konce_ncghost_join_call(&s[1].ho.gh, &b, team_token, "ours", 30, on_done, NULL), 0);
	run_one(&s[1].ho);
	assert_string_equal(s[1].st.order, "J");
	run(now + 3000 * MS);
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_OUT);
	policy_yes = 1;
	a = api(0);
	assert_int_equal(konce_ncgapi_invite(&a, "team", 0, "192.0.2.1:7807", team_token, sizeof team_token), 0);
	run(now + 10 * MS);
	memset(s[1].st.order, 0, sizeof s[1].st.order);
	ndone = 0;
	return 0;
}

/* n records of "team" noted and handed to side 1's writer as one batch, in flight. */
static void batch_flying(struct host *ho, unsigned n)
{
	note(ho, team_gid, n);
	assert_true(flush_turn(ho));
}

/* Side 1's control asks to rejoin "ours" with A's new token (konce_ncghost_join_call); the call is
 * taken (its done comes later, or has come: ndone). */
static void rejoin(struct host *ho)
{
	konce_ncgapi b = api(1);
	assert_int_equal(konce_ncghost_join_call(&ho->gh, &b, team_token, "ours", 60, on_done, NULL), 0);
}

static void test_rejoin_holdback(void **state)
{
	(void)state;
	struct side *x = &s[1];
	struct host *ho = &x->ho;

	/* a batch in flight, two more records queued behind it on the store */
	batch_flying(ho, 2);
	assert_true(ho->busy);
	assert_int_equal(ho->nq, 1);
	note(ho, team_gid, 2);
	flush_turn(ho);
	assert_int_equal(ho->nq, 1); /* one batch at a time */

	/* the rejoin waits: nothing of it on the writer */
	rejoin(ho);
	assert_non_null(ho->gh.rejoins);
	assert_int_equal(ho->nq, 1);
	note(ho, team_gid, 1); /* while it waits */
	flush_turn(ho);
	assert_int_equal(ho->nq, 1);

	/* the batch ends: the store's queue goes as one batch, the rejoin right behind it */
	run_one(ho);
	assert_string_equal(x->st.order, "B");
	assert_int_equal(ho->durable, 2);
	assert_int_equal(ho->nq, 2);
	assert_null(ho->q[0].job);
	assert_non_null(ho->q[1].job);
	assert_null(ho->gh.rejoins);
	assert_true(ho->gh.rejoin_flying);
	assert_int_equal(ho->writer_q, 3);
	assert_int_equal(ho->store_q, 0);

	/* a record noted while it flies is held back, whatever the flush says */
	note(ho, team_gid, 1);
	while (flush_turn(ho))
		;
	assert_int_equal(ho->nq, 2);
	run_one(ho); /* the batch */
	assert_int_equal(ho->durable, 5);
	assert_int_equal(ho->nq, 1);
	assert_int_equal(ho->store_q, 1);
	while (flush_turn(ho))
		;
	assert_int_equal(ho->nq, 1); /* still held */

	/* the rejoin: the old row goes, the new comes; then what was held back is handed over */
	run_one(ho);
	assert_string_equal(x->st.order, "BBRJ");
	assert_false(ho->gh.rejoin_flying);
	assert_int_equal(ndone, 1);
	assert_int_equal(dones[0], 0);
	assert_true(gstore_logged(&x->st, "group ours: out of it: its records are removed for the new join"));
	assert_true(gstore_rec_of(&x->st, team_gid)->join);
	assert_int_equal(ho->nq, 0);
	assert_true(flush_turn(ho));
	assert_int_equal(ho->nq, 1);
	assert_null(ho->q[0].job);
	run_one(ho);
	assert_string_equal(x->st.order, "BBRJB");
	assert_int_equal(ho->durable, 6);
	for (int k = 0; k < 100 && state_of(1, "ours") != KONCE_GROUP_S_MEMBER; k++)
		run(now + 100 * MS);
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_MEMBER);
}

/* A failed batch goes again before a waiting rejoin; the rejoin that still finds records on the
 * writer (the retry failed too) fails, logged, and the old row stays. */
static void test_rejoin_failed_batch(void **state)
{
	(void)state;
	struct side *x = &s[1];
	struct host *ho = &x->ho;

	batch_flying(ho, 2);
	rejoin(ho);
	ho->batch_err = -EIO;
	run_one(ho); /* fails: retried alone, the rejoin behind it */
	assert_string_equal(x->st.order, "F");
	assert_int_equal(ho->nq, 2);
	assert_null(ho->q[0].job);
	assert_non_null(ho->q[1].job);
	run_one(ho); /* fails again */
	run_one(ho); /* the rejoin: the records are not written */
	assert_string_equal(x->st.order, "FF");
	assert_int_equal(ndone, 1);
	assert_int_not_equal(dones[0], 0);
	assert_true(gstore_logged(&x->st, "the group records before the rejoin are not written yet"));
	assert_non_null(gstore_rec_of(&x->st, team_gid));
	assert_false(gstore_rec_of(&x->st, team_gid)->join ? false : true); /* the old join row, untouched */
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_OUT);
	/* the writer heals: the retry writes them */
	ho->batch_err = 0;
	while (flush_turn(ho) || ho->nq)
		if (ho->nq)
			run_one(ho);
	assert_int_equal(ho->writer_q, 0);
	assert_int_equal(ho->durable, 2);
}

/* The writer's queue is full when the rejoin's turn comes, inside the call or later; stop ends the
 * rejoins waiting. */
static void test_rejoin_full_stop(void **state)
{
	(void)state;
	struct side *x = &s[1];
	struct host *ho = &x->ho;

	konce_ncgapi b = api(1);
	ho->cap = 0;
	/* its turn is now, inside the call: the call fails, and no done follows */
	assert_int_equal(konce_ncghost_join_call(&ho->gh, &b, team_token, "ours", 60, on_done, NULL), -ENOBUFS);
	assert_int_equal(ndone, 0);
	assert_null(ho->gh.rejoins);
	assert_true(ho->flush_active);
	assert_string_equal(x->st.order, "");
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_OUT);

	/* a rejoin waiting behind a batch whose turn comes when the queue is full: its done, -ENOBUFS */
	ho->cap = QMAX;
	note(ho, team_gid, 1);
	flush_turn(ho);
	rejoin(ho);
	assert_int_equal(ndone, 0);
	ho->cap = 0;
	run_one(ho); /* the batch ends; the rejoin's turn */
	assert_int_equal(ndone, 1);
	assert_int_equal(dones[0], -ENOBUFS);
	assert_int_equal(state_of(1, "ours"), KONCE_GROUP_S_OUT);
	ho->cap = QMAX;

	/* two rejoins wait behind a batch; the groups stop: both end -ECANCELED, the store untouched */
	note(ho, team_gid, 1);
	flush_turn(ho);
	rejoin(ho);
	rejoin(ho);
	konce_ncghost_stopping(&ho->gh);
	assert_int_equal(ndone, 3);
	assert_int_equal(dones[1], -ECANCELED);
	assert_int_equal(dones[2], -ECANCELED);
	assert_null(ho->gh.rejoins);
	run_one(ho); /* the batch in flight still ends, and asks for nothing more */
	assert_string_equal(x->st.order, "BB");
	assert_int_equal(ho->nq, 0);
	konce_ncghost_stop(&ho->gh);
}

/* ---- the replay read ahead -------------------------------------------------------------------- */

/* A restored member of "team" owed its state up to 3: A's core restores it from B's... here side
 * 0's own fake store holds one group, restored at start. */
static void restored_member(struct side *x, uint8_t gid[KONCE_CW_GROUP_ID])
{
	konce_ncgapi a = api(0);
	assert_int_equal(konce_ncghost_create_call(&x->ho.gh, &a, "team", on_done, NULL), 0);
	run_one(&x->ho);
	memcpy(gid, x->st.recs[0].gid, KONCE_CW_GROUP_ID);
	x->st.recs[0].delivered = 3;
}

/* Side 0 (x) is a restored member (restored_member: gid), then restarts: its node core and
 * application go, a new core with the same identity comes, and the group is restored from the
 * store; returns the restarted side's call set. */
static konce_ncgapi restart_restored(struct side *x, uint8_t gid[KONCE_CW_GROUP_ID])
{
	restored_member(x, gid);
	konce_ncgapi a = api(0);
	konce_ncgapi_stop(&a);
	konce_ncgapp_unwire(&x->app, x->c);
	konce_nodecore_free(x->c);
	konce_nodecore_config cfg = {.ep = {.identity = x->id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&x->c, &cfg, now), 0);
	memset(&x->app, 0, sizeof x->app);
	a = api(0);
	assert_int_equal(konce_ncgapi_restore(&a), 1);
	return a;
}

static void test_replay(void **state)
{
	(void)state;
	uint8_t gid[KONCE_CW_GROUP_ID];
	struct side *x = &s[0];
	struct host *ho = &x->ho;
	/* the node restarts with the group on its store */
	konce_ncgapi a = restart_restored(x, gid);

	/* the application listens: the state is read ahead on the writer; a full queue retries later */
	memset(x->st.order, 0, sizeof x->st.order);
	ho->cap = 0;
	assert_int_equal(konce_ncgapi_on_event(&a, on_notice, x), 0);
	assert_int_equal(ho->replay_ms, 1);
	assert_int_equal(ho->nq, 0);
	ho->cap = QMAX;
	konce_ncghost_on_replay(&ho->gh, &a);
	assert_int_equal(ho->nq, 1);
	assert_string_equal(x->st.order, "");
	assert_string_equal(x->notices, ""); /* nothing played before it is read */
	unsigned before = ho->replay_now;
	run_one(ho); /* read on the writer, then the replay event asked for */
	assert_string_equal(x->st.order, "P");
	assert_int_equal(ho->replay_now, before + 1);
	assert_string_equal(x->notices, "");
	konce_ncghost_on_replay(&ho->gh, &a);
	assert_string_equal(x->notices, "s1e2e3");
	assert_int_equal(ho->gh.stretches, 1);
	konce_ncghost_on_replay(&ho->gh, &a); /* nothing more owed: nothing read */
	assert_int_equal(ho->nq, 0);
	assert_string_equal(x->notices, "s1e2e3");
}

/* A group's event overtakes its queued read: the read is drained first, the state played, then
 * the event's notices. */
static void test_replay_overtaken(void **state)
{
	(void)state;
	uint8_t gid[KONCE_CW_GROUP_ID];
	struct side *x = &s[0];
	struct host *ho = &x->ho;
	konce_ncgapi a = restart_restored(x, gid);
	assert_int_equal(konce_ncgapi_on_event(&a, on_notice, x), 0);
	assert_int_equal(ho->nq, 1); /* the read queued */
	memset(x->st.order, 0, sizeof x->st.order);

	/* the group's next decision (as the core hands it out): its event comes before the read's done */
	konce_nc_event ev = {.type = KONCE_NC_EV_GROUP,
			     .group = {.type = KONCE_GROUP_EV_COMMITTED, .seq = 4, .kind = KONCE_CW_E_APP,
				       .data = (const uint8_t *)"new", .len = 3}};
	memcpy(ev.gid, gid, KONCE_CW_GROUP_ID);
	konce_ncgapi_event(&a, &ev);
	assert_int_equal(ho->nq, 0); /* drained by the event */
	assert_string_equal(x->st.order, "P");
	assert_string_equal(x->notices, "s1e2e3e4"); /* the state first, then the event's decision */
	assert_true(gstore_logged(&x->st, "a group's new event waits for the rest of its replay"));
	konce_ncghost_on_replay(&ho->gh, &a); /* the read's replay event: nothing played twice */
	assert_string_equal(x->notices, "s1e2e3e4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejoin_holdback, setup_out_of_team, teardown),
		cmocka_unit_test_setup_teardown(test_rejoin_failed_batch, setup_out_of_team, teardown),
		cmocka_unit_test_setup_teardown(test_rejoin_full_stop, setup_out_of_team, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_overtaken, setup, teardown),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
