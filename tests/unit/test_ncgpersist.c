/* test_ncgpersist.c - the group records' persist ids and the flush policy (node/core/ncgpersist.h):
 * each table keeps one entry per group with its highest id; a batch takes what was queued when it
 * was handed over, and records queued during the write wait for the next one; a failed write keeps
 * its batch (retried alone, every RETRY_MS, logged once, and the recovery once); a round of delivery
 * marks alone arms the flush MARK_LAG_MS later, other records flush on the next turn unless a
 * batch is in flight; a record that failed to queue stops the flushes a round asks for; after stop
 * a written batch is still reported and nothing more is asked.  On a real node core, a founder's
 * first view waits for the batch holding its records to be reported written, and no longer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncgapp.h"
#include "node/core/ncgpersist.h"
#include "node/transport/identity.h"

/* A node core hosting no group (test_tables, test_policy): the ids go nowhere. */
static konce_identity *nid;
static konce_nodecore *none;

static int setup(void **state)
{
	(void)state;
	konce_nodecore_config cfg = {.ep = {.explicit_identity = true}};
	if (konce_identity_generate(&nid, konce_env_default()))
		return -1;
	cfg.ep.identity = nid;
	return konce_nodecore_new(&none, &cfg, 1000);
}

static int teardown(void **state)
{
	(void)state;
	konce_nodecore_free(none);
	konce_identity_free(nid);
	return 0;
}

static konce_nc_gnote note(uint8_t g, enum konce_cnote_type type, uint64_t pid)
{
	konce_nc_gnote n = {.type = type, .pid = pid};
	memset(n.gid, g, sizeof n.gid);
	return n;
}

static uint64_t pid_of(const konce_ncgp_pid *t, unsigned n, uint8_t g)
{
	for (unsigned i = 0; i < n; i++)
		if (t[i].gid[0] == g)
			return t[i].pid;
	return 0;
}

static void test_tables(void **state)
{
	(void)state;
	static konce_ncgpersist p;
	konce_nc_gnote n;
	memset(&p, 0, sizeof p);
	n = note(1, KONCE_CNOTE_ENTRIES, 3);
	assert_false(konce_ncgpersist_noted(&p, &n, 0));
	n = note(1, KONCE_CNOTE_VOTE, 5);
	konce_ncgpersist_noted(&p, &n, 0);
	n = note(1, KONCE_CNOTE_DELIVERED, 4); /* lower: the highest id stays */
	konce_ncgpersist_noted(&p, &n, 0);
	n = note(2, KONCE_CNOTE_VIEW, 1);
	konce_ncgpersist_noted(&p, &n, 0);
	assert_int_equal(p.nqueued, 2);
	assert_int_equal(pid_of(p.queued, p.nqueued, 1), 5);
	assert_int_equal(pid_of(p.queued, p.nqueued, 2), 1);

	/* nothing handed over while a batch is in flight, or when nothing is queued */
	assert_int_equal(konce_ncgpersist_submit(&p, true, 0, true), KONCE_NCGP_IDLE);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, false), KONCE_NCGP_IDLE);
	assert_int_equal(p.nqueued, 2);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	assert_int_equal(p.nqueued, 0);
	assert_int_equal(p.nflying, 2);
	assert_int_equal(pid_of(p.flying, p.nflying, 1), 5);
	assert_false(p.urgent);

	/* queued during the write: the next batch's */
	n = note(1, KONCE_CNOTE_ENTRIES, 7);
	konce_ncgpersist_noted(&p, &n, 0);
	assert_int_equal(pid_of(p.flying, p.nflying, 1), 5);
	assert_int_equal(pid_of(p.queued, p.nqueued, 1), 7);

	/* a failed write: kept, retried alone, logged once */
	konce_ncgp_act a = konce_ncgpersist_written(&p, none, -EIO, true, false);
	assert_int_equal(a.flush, KONCE_NCGP_ARM);
	assert_int_equal(a.ms, KONCE_NCGP_RETRY_MS);
	assert_int_equal(a.log, -1);
	assert_false(a.kick);
	assert_int_equal(p.nflying, 2);
	a = konce_ncgpersist_round(&p, false, false); /* the retry runs; rounds ask for nothing */
	assert_int_equal(a.flush, KONCE_NCGP_NONE);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 3, true), KONCE_NCGP_RETRY);
	assert_int_equal(pid_of(p.queued, p.nqueued, 1), 7); /* not behind the failed batch */
	assert_int_equal(pid_of(p.flying, p.nflying, 1), 5);
	a = konce_ncgpersist_written(&p, none, -EIO, true, false);
	assert_int_equal(a.log, 0);
	assert_int_equal(a.ms, KONCE_NCGP_RETRY_MS);

	/* written again: reported, logged once, and the urgent queue goes at once */
	a = konce_ncgpersist_written(&p, none, 0, true, false);
	assert_int_equal(a.log, 1);
	assert_true(a.kick);
	assert_int_equal(a.flush, KONCE_NCGP_SUBMIT);
	assert_int_equal(p.nflying, 0);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	assert_int_equal(pid_of(p.flying, p.nflying, 1), 7);
	a = konce_ncgpersist_written(&p, none, 0, false, false);
	assert_int_equal(a.log, 0);
	assert_int_equal(a.flush, KONCE_NCGP_NONE);
	assert_int_equal(p.nflying, 0);

	/* a synchronous write: what is queued is handed over; a failure keeps it flying */
	n = note(3, KONCE_CNOTE_SNAPSHOT, 9);
	konce_ncgpersist_noted(&p, &n, 0);
	konce_ncgpersist_synced(&p, none, -EIO);
	assert_int_equal(p.nqueued, 0);
	assert_int_equal(pid_of(p.flying, p.nflying, 3), 9);
	konce_ncgpersist_synced(&p, none, 0);
	assert_int_equal(p.nflying, 0);
}

static void test_policy(void **state)
{
	(void)state;
	static konce_ncgpersist p;
	konce_nc_gnote n;
	konce_ncgp_act a;
	memset(&p, 0, sizeof p);
	/* an empty round asks nothing */
	assert_int_equal(konce_ncgpersist_round(&p, false, false).flush, KONCE_NCGP_NONE);
	/* marks alone: later, unless a flush is armed */
	n = note(1, KONCE_CNOTE_DELIVERED, 1);
	konce_ncgpersist_noted(&p, &n, 0);
	a = konce_ncgpersist_round(&p, false, false);
	assert_int_equal(a.flush, KONCE_NCGP_ARM);
	assert_int_equal(a.ms, KONCE_NCGP_MARK_LAG_MS);
	konce_ncgpersist_noted(&p, &n, 0);
	assert_int_equal(konce_ncgpersist_round(&p, false, true).flush, KONCE_NCGP_NONE);
	assert_false(p.urgent);
	/* a record: the next turn, unless a batch is in flight (its end hands the queue over) */
	n = note(1, KONCE_CNOTE_ENTRIES, 2);
	konce_ncgpersist_noted(&p, &n, 0);
	assert_int_equal(konce_ncgpersist_round(&p, true, false).flush, KONCE_NCGP_NONE);
	assert_true(p.urgent);
	konce_ncgpersist_noted(&p, &n, 0);
	assert_int_equal(konce_ncgpersist_round(&p, false, true).flush, KONCE_NCGP_NOW);
	/* a written batch with marks alone queued behind it: later, unless armed */
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	n = note(1, KONCE_CNOTE_DELIVERED, 3);
	konce_ncgpersist_noted(&p, &n, 0);
	a = konce_ncgpersist_written(&p, none, 0, true, false);
	assert_int_equal(a.flush, KONCE_NCGP_ARM);
	assert_int_equal(a.ms, KONCE_NCGP_MARK_LAG_MS);
	assert_int_equal(konce_ncgpersist_written(&p, none, 0, true, true).flush, KONCE_NCGP_NONE);

	/* a record that failed to queue: logged once, and no round asks for a flush any more */
	assert_true(konce_ncgpersist_noted(&p, &n, -ENOBUFS));
	assert_false(konce_ncgpersist_noted(&p, &n, -ENOBUFS));
	n = note(1, KONCE_CNOTE_ENTRIES, 4);
	konce_ncgpersist_noted(&p, &n, 0);
	assert_int_equal(konce_ncgpersist_round(&p, false, false).flush, KONCE_NCGP_NONE);

	/* stopping: a written batch is reported, nothing more is asked for */
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	konce_ncgpersist_stop(&p);
	a = konce_ncgpersist_written(&p, none, -EIO, true, false);
	assert_int_equal(a.flush, KONCE_NCGP_NONE);
	assert_int_equal(a.log, 0);
	assert_int_equal(p.nflying, 1);
	a = konce_ncgpersist_written(&p, none, 0, true, false);
	assert_int_equal(a.flush, KONCE_NCGP_NONE);
	assert_false(a.kick);
	assert_int_equal(p.nflying, 0);
}

/* The group events c has for the application now. */
static unsigned group_events(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	konce_nc_event ev;
	unsigned k = 0;
	while (konce_nodecore_poll_event(c, &ev))
		if (ev.type == KONCE_NC_EV_GROUP && !memcmp(ev.gid, gid, KONCE_CW_GROUP_ID))
			k++;
	return k;
}

static void note_all(konce_nodecore *c, konce_ncgpersist *p)
{
	konce_nc_gnote g;
	while (konce_nodecore_poll_gnote(c, &g))
		assert_false(konce_ncgpersist_noted(p, &g, 0));
}

static void test_durable_only(void **state)
{
	(void)state;
	static konce_ncgapp app;
	static konce_ncgpersist p;
	konce_identity *id;
	konce_nodecore *c;
	uint8_t ga[KONCE_CW_GROUP_ID], gb[KONCE_CW_GROUP_ID];
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&c, &cfg, 1000), 0);
	randombytes_buf(ga, sizeof ga);
	randombytes_buf(gb, sizeof gb);

	assert_int_equal(konce_ncgapp_create(&app, c, ga, "a", 2000, 100), 0);
	note_all(c, &p);
	assert_int_equal(konce_ncgpersist_round(&p, false, false).flush, KONCE_NCGP_NOW);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	/* b's records come after a's batch was handed over */
	assert_int_equal(konce_ncgapp_create(&app, c, gb, "b", 2000, 100), 0);
	note_all(c, &p);
	assert_int_equal(group_events(c, ga), 0); /* nothing durable yet */
	konce_ncgpersist_written(&p, c, -EIO, true, false);
	assert_int_equal(group_events(c, ga), 0); /* a failed write reports nothing */
	assert_int_equal(konce_ncgpersist_submit(&p, false, 1, true), KONCE_NCGP_RETRY);
	konce_ncgp_act a = konce_ncgpersist_written(&p, c, 0, true, false);
	assert_true(a.kick);
	assert_int_equal(a.flush, KONCE_NCGP_SUBMIT);
	assert_int_equal(group_events(c, ga), 1); /* a's first view */
	assert_int_equal(group_events(c, gb), 0); /* b's records were not in that batch */
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	konce_ncgpersist_written(&p, c, 0, false, false);
	assert_int_equal(group_events(c, gb), 1);

	konce_ncgapp_unwire(&app, c);
	konce_nodecore_free(c);
	konce_identity_free(id);
}

/* A host with its own groups (written_to): each group of a written batch is reported once, with
 * its highest id; a failed write reports nothing, its retry reports the same batch; records noted
 * after the hand-over wait for the next batch. */
typedef struct heard {
	uint8_t gid[KONCE_CW_GROUP_ID];
	uint64_t pid;
} heard;
typedef struct hearing {
	heard h[4];
	unsigned n;
} hearing;

static void hear(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid)
{
	hearing *x = ctx;
	assert_true(x->n < 4);
	memcpy(x->h[x->n].gid, gid, KONCE_CW_GROUP_ID);
	x->h[x->n++].pid = pid;
}

static void test_report_to(void **state)
{
	(void)state;
	static konce_ncgpersist p;
	hearing x = {.n = 0};
	konce_nc_gnote a1 = {.type = KONCE_CNOTE_VIEW, .gid = {1}, .pid = 1};
	konce_nc_gnote a2 = {.type = KONCE_CNOTE_ENTRIES, .gid = {1}, .pid = 2};
	konce_nc_gnote b1 = {.type = KONCE_CNOTE_VOTE, .gid = {2}, .pid = 1};
	konce_nc_gnote a3 = {.type = KONCE_CNOTE_DELIVERED, .gid = {1}, .pid = 3};
	assert_false(konce_ncgpersist_noted(&p, &a1, 0));
	assert_false(konce_ncgpersist_noted(&p, &b1, 0));
	assert_false(konce_ncgpersist_noted(&p, &a2, 0));
	assert_int_equal(konce_ncgpersist_round(&p, false, false).flush, KONCE_NCGP_NOW);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	assert_false(konce_ncgpersist_noted(&p, &a3, 0)); /* during the write */
	konce_ncgp_act r = konce_ncgpersist_written_to(&p, hear, &x, -EIO, true, false);
	assert_int_equal(x.n, 0);
	assert_int_equal(r.flush, KONCE_NCGP_ARM);
	assert_int_equal(r.ms, KONCE_NCGP_RETRY_MS);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 3, true), KONCE_NCGP_RETRY);
	r = konce_ncgpersist_written_to(&p, hear, &x, 0, true, false);
	assert_true(r.kick);
	assert_int_equal(r.flush, KONCE_NCGP_ARM); /* a3, a mark alone, rides MARK_LAG_MS later */
	assert_int_equal(r.ms, KONCE_NCGP_MARK_LAG_MS);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.h[0].gid[0], 1);
	assert_int_equal(x.h[0].pid, 2);
	assert_int_equal(x.h[1].gid[0], 2);
	assert_int_equal(x.h[1].pid, 1);
	assert_int_equal(konce_ncgpersist_submit(&p, false, 0, true), KONCE_NCGP_BATCH);
	konce_ncgpersist_written_to(&p, hear, &x, 0, false, false);
	assert_int_equal(x.n, 3);
	assert_int_equal(x.h[2].gid[0], 1);
	assert_int_equal(x.h[2].pid, 3);
}

/* A host for the driver: its state, and a log of the primitives the driver called. */
typedef struct fhost {
	bool busy, armed;
	size_t wq, sq;          /* records on the writer, on the store's queue */
	unsigned submits, from_store, nows, arms, arm_ms;
} fhost;

static bool f_busy(void *c) { return ((fhost *)c)->busy; }
static size_t f_wpending(void *c) { return ((fhost *)c)->wq; }
static bool f_spending(void *c) { return ((fhost *)c)->sq > 0; }
static bool f_armed(void *c) { return ((fhost *)c)->armed; }
static void f_submit(void *c, bool from_store)
{
	fhost *f = c;
	f->submits++;
	if (from_store) {
		f->from_store++;
		f->wq += f->sq;
		f->sq = 0;
	}
	f->busy = true;
}
static void f_now(void *c) { ((fhost *)c)->nows++; }
static void f_arm(void *c, unsigned ms)
{
	fhost *f = c;
	f->arms++;
	f->arm_ms = ms;
	f->armed = true;
}

/* The driver's sequencing, as group_io.c and the simulator's gwriter.c run it: an urgent round
 * asks for the next turn, the flush hands the store's queue over, a round during the write asks
 * nothing, the failed write arms the retry and the flush retries the writer's batch alone, the
 * written batch reports and hands what was queued during it over at once; marks alone arm the
 * flush MARK_LAG_MS later, and not again while it is armed. */
static void test_driver(void **state)
{
	(void)state;
	static konce_ncgpersist p;
	fhost f = {0};
	hearing x = {.n = 0};
	konce_ncgp_host h = {&f, f_busy, f_wpending, f_spending, f_armed, f_submit, f_now, f_arm};
	konce_nc_gnote v1 = {.type = KONCE_CNOTE_VIEW, .gid = {1}, .pid = 1};
	konce_nc_gnote e2 = {.type = KONCE_CNOTE_ENTRIES, .gid = {1}, .pid = 2};
	konce_nc_gnote d3 = {.type = KONCE_CNOTE_DELIVERED, .gid = {1}, .pid = 3};
	konce_nc_gnote d4 = {.type = KONCE_CNOTE_DELIVERED, .gid = {1}, .pid = 4};

	konce_ncgp_drive_flush(&p, &h); /* nothing queued: nothing handed over */
	assert_int_equal(f.submits, 0);
	konce_ncgpersist_noted(&p, &v1, 0);
	f.sq++;
	konce_ncgp_drive_round(&p, &h);
	assert_int_equal(f.nows, 1);
	assert_int_equal(f.arms, 0);
	assert_int_equal(f.submits, 0); /* the round only schedules: the flush hands over */
	konce_ncgp_drive_flush(&p, &h);
	assert_int_equal(f.submits, 1);
	assert_int_equal(f.from_store, 1);
	assert_int_equal(f.wq, 1);

	konce_ncgpersist_noted(&p, &e2, 0); /* during the write: the next batch */
	f.sq++;
	konce_ncgp_drive_round(&p, &h);
	assert_int_equal(f.nows, 1);  /* a batch in flight: its end hands over */
	konce_ncgp_drive_flush(&p, &h);
	assert_int_equal(f.submits, 1);

	f.busy = false; /* the write fails: the batch stays on the writer */
	konce_ncgp_act a = konce_ncgp_drive_written(&p, &h, hear, &x, -EIO);
	assert_int_equal(a.log, -1);
	assert_false(a.kick);
	assert_int_equal(x.n, 0);
	assert_int_equal(f.arms, 1);
	assert_int_equal(f.arm_ms, KONCE_NCGP_RETRY_MS);
	f.armed = false; /* the retry timer runs: the writer's batch alone */
	konce_ncgp_drive_flush(&p, &h);
	assert_int_equal(f.submits, 2);
	assert_int_equal(f.from_store, 1);
	assert_int_equal(f.sq, 1);

	f.busy = false; /* written: pid 1 heard, e2 (urgent) handed over here and now */
	f.wq = 0;
	a = konce_ncgp_drive_written(&p, &h, hear, &x, 0);
	assert_int_equal(a.log, 1);
	assert_true(a.kick);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.h[0].pid, 1);
	assert_int_equal(f.submits, 3);
	assert_int_equal(f.from_store, 2);
	assert_int_equal(f.nows, 1);
	assert_int_equal(f.arms, 1);

	konce_ncgpersist_noted(&p, &d3, 0); /* a mark during the write */
	f.sq++;
	konce_ncgp_drive_round(&p, &h);
	assert_int_equal(f.arms, 2);
	assert_int_equal(f.arm_ms, KONCE_NCGP_MARK_LAG_MS);
	konce_ncgpersist_noted(&p, &d4, 0);
	f.sq++;
	konce_ncgp_drive_round(&p, &h); /* armed already: not reset */
	assert_int_equal(f.arms, 2);
	assert_int_equal(f.nows, 1);

	f.busy = false; /* e2 written; the marks wait for the armed flush */
	f.wq = 0;
	a = konce_ncgp_drive_written(&p, &h, hear, &x, 0);
	assert_int_equal(a.log, 0);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.h[1].pid, 2);
	assert_int_equal(f.submits, 3);
	assert_int_equal(f.arms, 2);
	f.armed = false;
	konce_ncgp_drive_flush(&p, &h);
	assert_int_equal(f.submits, 4);
	f.busy = false;
	f.wq = 0;
	konce_ncgp_drive_written(&p, &h, hear, &x, 0);
	assert_int_equal(x.n, 3);
	assert_int_equal(x.h[2].pid, 4);
	assert_int_equal(f.submits, 4); /* nothing left */
	assert_int_equal(f.arms, 2);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_durable_only),
		cmocka_unit_test(test_report_to),
		cmocka_unit_test(test_driver),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
