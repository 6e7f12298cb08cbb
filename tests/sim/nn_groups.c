/* nn_groups.c - a node harness host's groups with a store (node_harness.h): node/io/group_io.c's
 * plumbing on the simulated clock.  The API's decisions are node/core/ncgapi.c's, the store's
 * primitives store/group_host.c's, the replay read ahead in stretches on the writer
 * node/core/ncghost.c's (as the daemon's); the persist table and its writer are gwriter.h's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/core/ncghost.h"
#include "store/group_host.h"
#include "tests/sim/nn_int.h"

struct nn_groups {
	konce_ncgapp app;
	konce_ncgapi_host api;
	konce_ncghost gh; /* the replay read ahead on the writer, as the daemon's (node/core/ncghost.h) */
	konce_store *db;  /* the node's store: immediate writes, reads, the group-record queue */
	konce_store *wdb; /* the writer's connection (node/io/node_storew.c opens its own) */
	bool kick_due, replay_due; /* node_io_schedule(), event_active(ev_replay) */
	uint64_t errors;
	char first[512];
};

static void fail(nn_groups *g, const char *msg)
{
	if (!g->errors++)
		snprintf(g->first, sizeof g->first, "%s", msg);
}

/* ---- the writer's connection (gwriter.h hand_over / written) ---------------------------------- */

static void hand_over(void *ctx)
{
	ncnode *n = ctx;
	konce_store_group_move(n->groups->wdb, n->groups->db);
}

static void written(void *ctx)
{
	ncnode *n = ctx;
	char err[512];
	if (konce_store_group_flush(n->groups->wdb, err, sizeof err))
		fail(n->groups, err);
}

void nn_groups_note(ncnode *n, const konce_nc_gnote *g)
{
	int e = konce_store_group_note(n->groups->db, g);
	if (!e) {
		gwriter_noted(&n->gw, g);
		return;
	}
	konce_ncgpersist_noted(&n->gw.persist, g, e); /* never durable: the group waits */
	fail(n->groups, "the store refused a group record");
}

/* ---- the API's host (node/core/ncgapi.h), as group_io.c's ------------------------------------- */

static int a_sync(void *ctx, char *err, size_t errlen)
{
	ncnode *n = ctx;
	return konce_ncghost_sync(&n->groups->gh, n->core, err, errlen);
}
static void a_log(void *ctx, int level, const char *line)
{
	ncnode *n = ctx;
	if (level <= KONCE_LOG_ERROR)
		fail(n->groups, line);
	if (getenv("NN_TRACE"))
		fprintf(stderr, "[%llu.%06llu %s] %s\n", (unsigned long long)(sim_now(n->s) / 1000000),
			(unsigned long long)(sim_now(n->s) % 1000000), sim_host_name(n->h), line);
}
/* node_io_schedule() / event_active(ev_replay): the loop's next turn (a timer at now) */
static void a_kick(void *ctx)
{
	ncnode *n = ctx;
	n->groups->kick_due = true;
	if (!n->draining)
		nn_rearm(n);
}

/* ---- the replay read ahead (ncghost.h's io): jobs on gwriter's writer, the replay event --------- */

static int io_call(void *ctx, konce_ncghost_job *j)
{
	ncnode *n = ctx;
	int e = gwriter_call(&n->gw, j, sim_now(n->s));
	if (!e && !n->draining)
		nn_rearm(n);
	return e;
}
static void io_call_wait(void *ctx, konce_ncghost_job *j)
{
	ncnode *n = ctx;
	gwriter_call_wait(&n->gw, j, sim_now(n->s));
}
static void io_drain(void *ctx)
{
	ncnode *n = ctx;
	gwriter_drain(&n->gw, sim_now(n->s));
}
static void io_replay_now(void *ctx)
{
	ncnode *n = ctx;
	n->groups->replay_due = true;
	if (!n->draining)
		nn_rearm(n);
}
static void io_replay_arm(void *ctx, unsigned ms)
{
	ncnode *n = ctx;
	gwriter_replay_arm(&n->gw, sim_now(n->s), ms);
	if (!n->draining)
		nn_rearm(n);
}

static konce_ncghost *io_self(void *ctx)
{
	ncnode *n = ctx;
	return n->groups ? &n->groups->gh : NULL;
}
static void io_api(void *ctx, konce_ncgapi *a) { *a = ncnode_gapi(ctx); }
static int io_sync(void *ctx, char *err, size_t errlen)
{
	ncnode *n = ctx;
	(void)err, (void)errlen; /* the simulated writer's sync does not fail: a failed batch is retried */
	return gwriter_sync(&n->gw, sim_now(n->s));
}
static const konce_ncghost_io ghio = {io_call, io_call_wait, io_drain,	io_replay_now, io_replay_arm,
				      a_log,   io_self,	     io_api,	io_sync,       konce_store_group_pending_of};

static void a_replay_soon(void *ctx)
{
	ncnode *n = ctx;
	konce_ncgapi a = ncnode_gapi(n);
	konce_ncghost_replay_soon(&n->groups->gh, &a);
}
static int a_replay(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		    konce_ncgapi_entry_fn entry, void *fnctx, bool wait)
{
	return konce_ncghost_replay(&((ncnode *)ctx)->groups->gh, gid, upto, snap, entry, fnctx, wait);
}

konce_ncgapi ncnode_gapi(ncnode *n)
{
	uint64_t now = sim_now(n->s);
	return (konce_ncgapi){n->groups ? &n->groups->app : NULL, n->core, n->groups ? &n->groups->api : NULL, now,
			      NN_UNIX_BASE + now / 1000000};
}

int ncnode_group_create_call(ncnode *n, const char *name, void (*done)(void *dctx, int e), void *dctx)
{
	konce_ncgapi a = ncnode_gapi(n);
	return konce_ncghost_create_call(n->groups ? &n->groups->gh : NULL, &a, name, done, dctx);
}

int ncnode_group_join_call(ncnode *n, const char *text, const char *name, unsigned timeout_s,
			   void (*done)(void *dctx, int e), void *dctx)
{
	konce_ncgapi a = ncnode_gapi(n);
	return konce_ncghost_join_call(n->groups ? &n->groups->gh : NULL, &a, text, name, timeout_s, done, dctx);
}

int ncnode_group_log_call(ncnode *n, const char *name, uint64_t from,
			  int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				    const uint8_t *data, size_t len),
			  void *fnctx, void (*done)(void *dctx, int n), void *dctx)
{
	konce_ncgapi a = ncnode_gapi(n);
	return konce_ncghost_log_call(n->groups ? &n->groups->gh : NULL, &a, name, from, fn, fnctx, done, dctx);
}

void nn_groups_event(ncnode *n, const konce_nc_event *ev)
{
	konce_ncgapi a = ncnode_gapi(n);
	konce_ncgapi_event(&a, ev);
}

bool nn_groups_due(const ncnode *n) { return n->groups && (n->groups->kick_due || n->groups->replay_due); }

void nn_groups_run(ncnode *n)
{
	n->groups->kick_due = false;
	if (n->groups->replay_due) {
		n->groups->replay_due = false;
		konce_ncgapi a = ncnode_gapi(n);
		konce_ncghost_on_replay(&n->groups->gh, &a);
	}
}

/* ---- start and stop ------------------------------------------------------------------------- */

int ncnode_groups_open(ncnode *n, const char *path)
{
	char err[512];
	int e;
	if (!n->core || n->groups || strlen(path) >= sizeof n->store_path)
		return -EINVAL;
	if (!(n->groups = calloc(1, sizeof *n->groups)))
		return -ENOMEM;
	nn_groups *g = n->groups;
	if ((e = konce_store_open(&g->db, path, 1, err, sizeof err)) ||
	    (e = konce_store_open(&g->wdb, path, 1, err, sizeof err))) {
		fprintf(stderr, "%s\n", err);
		konce_store_close(g->db, NULL, 0);
		free(g);
		n->groups = NULL;
		return e;
	}
	snprintf(n->store_path, sizeof n->store_path, "%s", path);
	g->api = (konce_ncgapi_host){.ctx = n, .sync = a_sync, .replay = a_replay, .log = a_log, .kick = a_kick,
				     .replay_soon = a_replay_soon};
	konce_store_group_host(&g->api, g->db); /* the daemon's store primitives (store/group_host.c) */
	g->gh = (konce_ncghost){.io = &ghio, .ctx = n, .prims = &konce_store_group_prims, .persist = &n->gw.persist};
	n->gw.gh = &g->gh; /* gwriter's primitives become g->gh.w on each call */
	n->gw.store = g->wdb;
	n->gw.replay = io_replay_now;
	n->gw.hand_over = hand_over;
	n->gw.written = written;
	konce_ncgapi a = ncnode_gapi(n);
	int r = konce_ncgapi_restore(&a);
	nn_drain_rearm(n, sim_now(n->s));
	return r;
}

void nn_groups_stop(ncnode *n, bool crash)
{
	nn_groups *g = n->groups;
	char err[512];
	if (!g)
		return;
	if (crash) {
		konce_ncghost_stopping(&g->gh); /* the rejoins waiting end */
		konce_ncghost_stop(&g->gh);     /* the writer's queued reads end (they write nothing), the tapes go */
		konce_ncgapp_unwire(&g->app, n->core);
		konce_store_group_discard(g->db); /* a dead process's queues die with it */
		konce_store_group_discard(g->wdb);
	} else { /* node_groups_stop: the last notes queued (the caller drained), everything written */
		konce_ncghost_stopping(&g->gh); /* the rejoins waiting end, the table stops */
		konce_ncgapi a = ncnode_gapi(n);
		konce_ncgapi_stop(&a);
		konce_ncghost_stop(&g->gh);
		/* node_storew_stop: the groups are gone (io_self NULL), the writer runs what is still
		 * queued on its connection and reports it (an undo's row, a log read) */
		n->groups = NULL;
		gwriter_drain(&n->gw, sim_now(n->s));
	}
	if (konce_store_close(g->wdb, err, sizeof err) || konce_store_close(g->db, err, sizeof err))
		fprintf(stderr, "store close: %s\n", err);
	n->gw.hand_over = n->gw.written = n->gw.replay = NULL;
	n->gw.store = NULL;
	n->gw.gh = NULL;
	n->gw.replay_at = 0;
	free(g);
	n->groups = NULL;
}

uint64_t ncnode_group_errors(const ncnode *n, const char **first)
{
	if (first)
		*first = n->groups && n->groups->errors ? n->groups->first : "";
	return n->groups ? n->groups->errors : 0;
}

konce_store *ncnode_store(const ncnode *n) { return n->groups ? n->groups->db : NULL; }
