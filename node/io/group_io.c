/* group_io.c - consensus groups on the daemon: the public API of include/konce/group.h, whose
 * every decision is the node core's (node/core/ncgapi.h: checks, the store's immediate writes
 * around hosting, rejoin, restore at start, replay, events; ncgapp.h: names, notices, tokens), and
 * whose sequencing around the store writer is node/core/ncghost.h's (the replay read ahead in
 * stretches, the flush of the group records with the rejoins' hold-back, the control's create and
 * join on the writer), the same the simulator runs (tests/sim/nn_groups.c).
 *
 * What is here is plumbing: the clock (read for each call into ncgapi), the store's primitives
 * (store/group_host.h) on the loop's connection, ncghost's jobs as store writer calls
 * (node_storew.h), the writer's group batches and sync, the flush and replay events, and the
 * application's callback.  node_io_kick() hands every group note to node_groups_io(), which queues
 * it in the store (konce_store_group_note) and tells the persist table; at start every stored
 * group is hosted again and restored (konce_ncgapi_restore) before the first packet is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "konce/group.h"
#include "node/core/ncgapi.h"
#include "node/core/ncghost.h"
#include "node/io/node_storew.h"
#include "node/io/node_int.h"
#include "store/group_host.h"

struct node_groups {
	konce_ncgapp app;
	konce_ncgapi_host api; /* ctx: the node; store: its store */
	konce_ncghost gh;      /* ctx: the node */
	konce_ncgpersist persist;
	struct event *ev_flush, *ev_replay;
};

static uint64_t unix_s(void) { return (uint64_t)time(NULL); }

/* One call's context (a, filled): n's groups and core, their host, the clock now. */
static konce_ncgapi *api_at(konce_node *n, konce_ncgapi *a)
{
	struct node_groups *gs = n ? n->groups : NULL;
	*a = (konce_ncgapi){gs ? &gs->app : NULL, n ? n->core : NULL, gs ? &gs->api : NULL, node_now_us(), unix_s()};
	return a;
}
#define API(n) api_at((n), &(konce_ncgapi){0})

/* ---- the writer and the flush event, for ncghost's driver (ncgpersist.h konce_ncgp_host) ------ */

static bool h_wbusy(void *ctx) { return node_storew_group_busy(((struct konce_node *)ctx)->storew); }
static size_t h_wpending(void *ctx) { return node_storew_group_pending(((struct konce_node *)ctx)->storew); }
static bool h_spending(void *ctx) { return konce_store_group_pending(((struct konce_node *)ctx)->store) > 0; }
static bool h_armed(void *ctx) { return event_pending(((struct konce_node *)ctx)->groups->ev_flush, EV_TIMEOUT, NULL); }
static void h_submit(void *ctx, bool from_store)
{
	struct konce_node *n = ctx;
	node_storew_group_submit(n->storew, from_store ? n->store : NULL);
}
static void h_now(void *ctx) { event_active(((struct konce_node *)ctx)->groups->ev_flush, EV_TIMEOUT, 0); }
static void h_arm(void *ctx, unsigned ms)
{
	struct timeval tv = {0, (suseconds_t)ms * 1000};
	event_add(((struct konce_node *)ctx)->groups->ev_flush, &tv);
}

static void on_gflush(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	(void)fd, (void)what;
	if (n->groups && n->core)
		konce_ncghost_flush(&n->groups->gh);
}

/* The writer's result for the batch handed over (node_storew_group_on_done). */
static void on_written(void *arg, int e, const char *msg)
{
	struct konce_node *n = arg;
	if (!n->groups || !n->core)
		return;
	konce_ncgp_act a = konce_ncghost_written(&n->groups->gh, n->core, e);
	if (a.log < 0)
		node_log(n, KONCE_LOG_ERROR, "%s", msg);
	else if (a.log > 0)
		node_log(n, KONCE_LOG_INFO, "group records written again");
	if (a.kick)
		node_io_kick(n);
}

void node_groups_io(struct konce_node *n)
{
	konce_nc_gnote g;
	if (!n->groups)
		return;
	while (konce_nodecore_poll_gnote(n->core, &g)) {
		int e = konce_store_group_note(n->store, &g);
		if (konce_ncgpersist_noted(&n->groups->persist, &g, e))
			node_log(n, KONCE_LOG_ERROR, "cannot queue a group record: %s", strerror(-e));
	}
	konce_ncghost_round(&n->groups->gh);
}

/* ---- ncghost's io: its jobs on the store writer, the replay event ------------------------------ */

static int job_run(konce_store *st, void *arg, char *msg, size_t msglen)
{
	return konce_ncghost_job_run(arg, st, msg, msglen);
}
static void job_done(void *arg, int e, const char *msg) { konce_ncghost_job_done(arg, e, msg); }
static int io_call(void *ctx, konce_ncghost_job *j)
{
	return node_storew_call(((struct konce_node *)ctx)->storew, job_run, job_done, j);
}
static void io_call_wait(void *ctx, konce_ncghost_job *j)
{
	node_storew_call_wait(((struct konce_node *)ctx)->storew, job_run, NULL, j, NULL, 0);
}
static void io_drain(void *ctx) { node_storew_drain(((struct konce_node *)ctx)->storew); }
static void io_replay_now(void *ctx) { event_active(((struct konce_node *)ctx)->groups->ev_replay, EV_TIMEOUT, 0); }
static void io_replay_arm(void *ctx, unsigned ms)
{
	event_add(((struct konce_node *)ctx)->groups->ev_replay, &(struct timeval){0, (suseconds_t)ms * 1000});
}
static void a_log(void *ctx, int level, const char *line) { node_log(ctx, level, "%s", line); }
static konce_ncghost *io_self(void *ctx)
{
	struct konce_node *n = ctx;
	return n->groups ? &n->groups->gh : NULL;
}
static void io_api(void *ctx, konce_ncgapi *a) { api_at(ctx, a); }
static int io_sync(void *ctx, char *err, size_t errlen)
{
	struct konce_node *n = ctx;
	return node_storew_group_sync(n->storew, n->store, err, errlen);
}
static const konce_ncghost_io ghio = {io_call,	io_call_wait, io_drain, io_replay_now, io_replay_arm, a_log,
				      io_self,	io_api,	      io_sync,	konce_store_group_pending_of};

/* ---- the API's host (node/core/ncgapi.h) ------------------------------------------------------ */

static int a_sync(void *ctx, char *err, size_t errlen)
{
	struct konce_node *n = ctx;
	return konce_ncghost_sync(&n->groups->gh, n->core, err, errlen);
}
static void a_kick(void *ctx) { node_io_schedule(ctx); }
static void a_replay_soon(void *ctx)
{
	struct konce_node *n = ctx;
	konce_ncghost_replay_soon(&n->groups->gh, API(n));
}
static int a_replay(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		    konce_ncgapi_entry_fn entry, void *fnctx, bool wait)
{
	return konce_ncghost_replay(&((struct konce_node *)ctx)->groups->gh, gid, upto, snap, entry, fnctx, wait);
}

static void on_replay(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	(void)fd, (void)what;
	konce_ncghost_on_replay(&n->groups->gh, API(n));
}

void node_group_event(struct konce_node *n, const konce_nc_event *ev) { konce_ncgapi_event(API(n), ev); }

/* ---- start and stop ------------------------------------------------------------------------- */

int node_groups_start(struct konce_node *n)
{
	if (!n->storew) /* no store */
		return 0;
	if (!(n->groups = calloc(1, sizeof *n->groups)) ||
	    !(n->groups->ev_flush = event_new(n->base, -1, 0, on_gflush, n)) ||
	    !(n->groups->ev_replay = event_new(n->base, -1, 0, on_replay, n))) {
		if (n->groups && n->groups->ev_flush)
			event_free(n->groups->ev_flush);
		free(n->groups);
		n->groups = NULL;
		return -ENOMEM;
	}
	node_storew_group_on_done(n->storew, on_written, n);
	n->groups->api = (konce_ncgapi_host){.ctx = n, .sync = a_sync, .replay = a_replay, .log = a_log,
					     .kick = a_kick, .replay_soon = a_replay_soon};
	konce_store_group_host(&n->groups->api, n->store);
	n->groups->gh = (konce_ncghost){.io = &ghio, .ctx = n, .prims = &konce_store_group_prims,
					.persist = &n->groups->persist, .w = {n, h_wbusy, h_wpending, h_spending, h_armed, h_submit, h_now, h_arm}};
	konce_ncgapi_restore(API(n));
	return 0;
}

void node_groups_stop(struct konce_node *n)
{
	if (!n->groups)
		return;
	node_groups_io(n);
	konce_ncghost_stopping(&n->groups->gh); /* the rejoins waiting cancelled, the table stopped */
	konce_ncgapi_stop(API(n));              /* unwired from the core; everything queued written */
	konce_ncghost_stop(&n->groups->gh);     /* a replay's read still queued drained, the tapes freed */
	node_storew_group_on_done(n->storew, NULL, NULL);
	event_free(n->groups->ev_flush);
	event_free(n->groups->ev_replay);
	free(n->groups);
	n->groups = NULL;
}

/* ---- the calls that do not wait for SQLite (group.h; the control socket's too): the store writer
 * runs their SQLite (node/core/ncghost.h) ---------------------------------------------------------- */

int konce_node_group_log_async(konce_node *n, const char *name, uint64_t from,
			       int (*fn)(void *fnctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
					 const uint8_t *data, size_t len),
			       void *fnctx, konce_group_done_fn done, void *ctx)
{
	if (!n || !name || !done)
		return -EINVAL;
	return konce_ncghost_log_call(n->groups ? &n->groups->gh : NULL, API(n), name, from, fn, fnctx, done, ctx);
}

int konce_node_group_create_async(konce_node *n, const char *name, konce_group_done_fn done, void *ctx)
{
	if (!n || !name || !done)
		return -EINVAL;
	return konce_ncghost_create_call(n->groups ? &n->groups->gh : NULL, API(n), name, done, ctx);
}

int konce_node_group_join_async(konce_node *n, const char *token, const char *name, unsigned timeout_s,
				konce_group_done_fn done, void *ctx)
{
	if (!n || !token || !name || !done)
		return -EINVAL;
	return konce_ncghost_join_call(n->groups ? &n->groups->gh : NULL, API(n), token, name,
				       timeout_s ? timeout_s : KONCE_GROUP_JOIN_TIMEOUT_DEFAULT, done, ctx);
}

/* ---- the public API (node/core/ncgapi.h): each call is ncgapi's, with the clock read now ------- */

int konce_node_group_create(konce_node *n, const char *name) { return konce_ncgapi_create(API(n), name); }
int konce_node_group_invite(konce_node *n, const char *name, uint64_t expires, const char *addr_hint, char *token,
			    size_t cap)
{
	return konce_ncgapi_invite(API(n), name, expires, addr_hint, token, cap);
}
int konce_node_group_join(konce_node *n, const char *text, const char *name)
{
	return konce_ncgapi_join(API(n), text, name, KONCE_GROUP_JOIN_TIMEOUT_DEFAULT);
}
int konce_node_group_join_timeout(konce_node *n, const char *text, const char *name, unsigned timeout_s)
{
	return konce_ncgapi_join(API(n), text, name, timeout_s);
}
int64_t konce_node_group_propose(konce_node *n, const char *name, const uint8_t *data, size_t len)
{
	return konce_ncgapi_propose(API(n), name, data, len);
}
int konce_node_group_leave(konce_node *n, const char *name) { return konce_ncgapi_leave(API(n), name); }
int konce_node_group_info(konce_node *n, const char *name, konce_group_info *out)
{
	return konce_ncgapi_info(API(n), name, out);
}
int konce_node_group_invite_status(konce_node *n, const char *name, const char *token)
{
	return konce_ncgapi_invite_status(API(n), name, token);
}
int konce_node_group_status(konce_node *n, const char *name, konce_group_status *out)
{
	return konce_ncgapi_status(API(n), name, out);
}
int konce_node_group_list(konce_node *n, konce_group_info *out, size_t max)
{
	return konce_ncgapi_list(API(n), out, max);
}
int konce_node_group_log(konce_node *n, const char *name, uint64_t from,
			 int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				   const uint8_t *data, size_t len),
			 void *ctx)
{
	return konce_ncgapi_log(API(n), name, from, fn, ctx);
}
int konce_node_group_on_event(konce_node *n, konce_group_fn fn, void *ctx)
{
	return konce_ncgapi_on_event(API(n), fn, ctx);
}
int konce_node_group_on_join_request(konce_node *n, konce_group_policy_fn fn, void *ctx)
{
	return konce_ncgapi_on_join_request(API(n), fn, ctx);
}
int konce_node_group_on_snapshot(konce_node *n, konce_group_snapshot_fn fn, void *ctx)
{
	return konce_ncgapi_on_snapshot(API(n), fn, ctx);
}
