/* group_io.c - consensus groups on the daemon: the public API of include/konce/group.h, whose
 * every decision is the node core's (node/core/ncgapi.h: checks, the store's immediate writes
 * around hosting, rejoin, restore at start, replay, events; ncgapp.h: names, notices, tokens), and
 * their persistence in the store.
 *
 * What is here is plumbing: the clock (read for each call into ncgapi), the store's immediate
 * writes and reads behind ncgapi's host table, the store writer's batches, the flush and replay events and
 * the application's callback.
 *
 * Persistence: node_io_kick() hands every group note to node_groups_io(), which queues it in the
 * store (konce_store_group_note) and tells the core's table (node/core/ncgpersist.h), which says
 * what to do with the one flush event: run it on the loop's next turn, or arm it (delivery marks
 * alone, a retry).  The flush hands the store's queue to the store writer (node_storew.h) unless
 * a batch is in flight; the loop goes on meanwhile.  When a batch is durable the table tells each
 * of its groups with konce_group_persisted() the persist ids the batch held, and only then.
 * write_all() is the blocking form of the same (stop, and the public API's rejoin): it runs the
 * store's SQLite transaction on the writer and waits for it here, and reports to the table.  The
 * control's rejoin (konce_node_group_join_call) waits for nothing: while it waits the driver hands
 * nothing over (h_busy), rejoin_go hands over what is queued, and the writer removes the old row
 * and adds the new one right behind it (rejoin_rows), only if those records are durable.
 *
 * At start every stored group is hosted again and restored from its records
 * (konce_ncgapi_restore), before the first packet is read; what its application is owed back is
 * read on the store writer once the event callback is set (a_replay_soon: into a tape per group,
 * konce_ncgapi_tape, a bounded stretch per read) and played to the application from the loop's turn
 * after the read's done, which frees it and queues the next stretch (on_replay), or all of it just
 * before the group's first new event (konce_ncgapi_replay).  The loop waits for the writer only
 * when such an event overtakes its group's reads (the state comes first).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "konce/group.h"
#include "node/core/ncgapi.h"
#include "node/core/ncghost.h"
#include "node/core/ncgpersist.h"
#include "node/io/node_storew.h"
#include "node/io/node_int.h"
#include "store/group_host.h"

struct gcall;

struct node_groups {
	konce_ncgapp app;
	konce_ncgpersist persist;
	konce_ncgapi_host api; /* ctx: the node; store: its store */
	struct event *ev_flush, *ev_replay;
	konce_ncghost gh;         /* the replays read ahead on the store writer */
	struct gcall *rejoins;    /* the control's rejoins waiting for the records before them */
	bool rejoin_flying;       /* one is on the writer */
};

static uint64_t unix_s(void) { return (uint64_t)time(NULL); }

/* ---- persistence ---------------------------------------------------------------------------- */

/* The host's state and primitives for the core's driver (ncgpersist.h konce_ncgp_host).  While a
 * rejoin waits or runs (rejoin_go) the driver hands nothing over: the rejoin does. */
static bool h_wbusy(void *ctx) { return node_storew_group_busy(((struct konce_node *)ctx)->storew); }
static bool h_busy(void *ctx)
{
	struct node_groups *gs = ((struct konce_node *)ctx)->groups;
	return h_wbusy(ctx) || gs->rejoins || gs->rejoin_flying;
}
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

static void rejoin_go(struct konce_node *n);
static void rejoins_cancel(struct konce_node *n);

static konce_ncgp_host host(struct konce_node *n)
{
	return (konce_ncgp_host){n, h_busy, h_wpending, h_spending, h_armed, h_submit, h_now, h_arm};
}

static void on_gflush(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	(void)fd;
	(void)what;
	if (n->groups && n->core) {
		konce_ncgp_host h = host(n);
		konce_ncgp_drive_flush(&n->groups->persist, &h);
		rejoin_go(n);
	}
}

/* The writer's result for the batch handed over (node_storew_group_on_done). */
static void on_written(void *arg, int e, const char *msg)
{
	struct konce_node *n = arg;
	if (!n->groups || !n->core)
		return;
	konce_ncgp_host h = host(n);
	konce_ncgp_act a = konce_ncgp_drive_written(&n->groups->persist, &h, konce_ncgpersist_report_core, n->core, e);
	if (a.log < 0)
		node_log(n, KONCE_LOG_ERROR, "%s", msg);
	else if (a.log > 0)
		node_log(n, KONCE_LOG_INFO, "group records written again");
	if (a.kick)
		node_io_kick(n);
	rejoin_go(n);
}

/* Writes everything queued, here and now (stop, forget): 0 or a negative errno (err). */
static int write_all(struct konce_node *n, char *err, size_t errlen)
{
	struct node_groups *gs = n->groups;
	while (gs->rejoin_flying) /* the writer's group queue is its until its done */
		node_storew_drain(n->storew);
	int e = node_storew_group_sync(n->storew, n->store, err, errlen);
	konce_ncgpersist_synced(&gs->persist, n->core, e);
	return e;
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
	konce_ncgp_host h = host(n);
	konce_ncgp_drive_round(&n->groups->persist, &h);
}

/* ---- the API's host (node/core/ncgapi.h) ---------------------------------------------------- */

static int a_sync(void *ctx, char *err, size_t errlen) { return write_all(ctx, err, errlen); }
static void a_log(void *ctx, int level, const char *line) { node_log(ctx, level, "%s", line); }
static void a_kick(void *ctx) { node_io_schedule(ctx); }

/* One call's context (a, filled): n's groups and core, their host, the clock now. */
static konce_ncgapi *api_at(konce_node *n, konce_ncgapi *a)
{
	struct node_groups *gs = n ? n->groups : NULL;
	*a = (konce_ncgapi){gs ? &gs->app : NULL, n ? n->core : NULL, gs ? &gs->api : NULL, node_now_us(), unix_s()};
	return a;
}
#define API(n) api_at((n), &(konce_ncgapi){0})

/* ---- the replay read ahead on the store writer (node/core/ncghost.h's io) ------------------ */

static int job_run(konce_store *st, void *arg, char *msg, size_t msglen)
{
	(void)msg, (void)msglen;
	konce_ncghost_job_run(arg, st);
	return 0;
}
static void job_done(void *arg, int e, const char *msg)
{
	(void)e, (void)msg;
	konce_ncghost_job_done(arg);
}
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

/* ---- the state handed back at start, events ------------------------------------------------------ */

static void on_replay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct konce_node *n = arg;
	konce_ncghost_on_replay(&n->groups->gh, API(n));
}

void node_group_event(struct konce_node *n, const konce_nc_event *ev)
{
	konce_ncgapi_event(API(n), ev);
}

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
	n->groups->gh = (konce_ncghost){.io = {n, io_call, io_call_wait, io_drain, io_replay_now, io_replay_arm, a_log},
					.reads = &konce_store_group_reads};
	konce_ncgapi_restore(API(n));
	return 0;
}

void node_groups_stop(struct konce_node *n)
{
	if (!n->groups)
		return;
	node_groups_io(n);
	rejoins_cancel(n);
	konce_ncgpersist_stop(&n->groups->persist);
	konce_ncgapi_stop(API(n)); /* unwired from the core; everything queued written */
	konce_ncghost_stop(&n->groups->gh); /* a read still queued is drained, the tapes freed */
	node_storew_group_on_done(n->storew, NULL, NULL);
	event_free(n->groups->ev_flush);
	event_free(n->groups->ev_replay);
	free(n->groups);
	n->groups = NULL;
}

/* ---- the control socket's group log, read on the store writer (ctlproto.h) ------------------- */

struct logcall {
	uint8_t gid[KONCE_CW_GROUP_ID];
	uint64_t from;
	int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		  size_t len);
	void *fnctx;
	void (*done)(void *dctx, int n);
	void *dctx;
};

static int log_rows(konce_store *st, void *arg, char *msg, size_t msglen)
{
	struct logcall *x = arg;
	(void)msg, (void)msglen;
	return konce_ncgapi_log_read(&konce_store_group_reads, st, x->gid, x->from, x->fn, x->fnctx);
}

static void log_rows_done(void *arg, int k, const char *msg)
{
	struct logcall *x = arg;
	(void)msg;
	x->done(x->dctx, k);
	free(x);
}

int konce_node_group_log_call(konce_node *n, const char *name, uint64_t from,
			      int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
					const uint8_t *data, size_t len),
			      void *fnctx, void (*done)(void *dctx, int n), void *dctx)
{
	struct logcall *x = malloc(sizeof *x);
	int e;
	if (!x)
		return -ENOMEM;
	*x = (struct logcall){.from = from, .fn = fn, .fnctx = fnctx, .done = done, .dctx = dctx};
	if ((e = konce_ncgapi_log_begin(API(n), name, fn != NULL, x->gid)) ||
	    (e = node_storew_call(n->storew, log_rows, log_rows_done, x)))
		free(x);
	return e;
}

/* ---- the control socket's create and join: the row written on the store writer (ctlproto.h) --- */

struct gcall {
	struct gcall *next; /* a rejoin's, while it waits */
	bool forget;        /* a rejoin: the old group's row goes first, its records before it */
	struct konce_node *n;
	uint8_t gid[KONCE_CW_GROUP_ID];     /* create */
	char name[KONCE_GROUP_NAME_MAX + 1];
	konce_ctoken *t;                    /* join: sodium memory (it holds the secret) */
	uint64_t until;                     /* join: when it gives up, unix seconds */
	unsigned timeout_s;
	void (*done)(void *dctx, int e);
	void *dctx;
};

static int add_row(konce_store *st, void *arg, char *msg, size_t msglen)
{
	struct gcall *x = arg;
	const konce_ncgapi_host *h = &x->n->groups->api; /* its store primitives, on the writer's connection */
	return x->t ? h->add_join(st, x->t, x->name, x->until, msg, msglen) : h->add(st, x->gid, x->name, msg, msglen);
}

/* A rejoin's rows: every record queued before it is written (rejoin_go), then the old row goes
 * and the new one comes. */
static int rejoin_rows(konce_store *st, void *arg, char *msg, size_t msglen)
{
	struct gcall *x = arg;
	int e;
	if (konce_store_group_pending(st)) {
		snprintf(msg, msglen, "the group records before the rejoin are not written yet");
		return -EIO;
	}
	if ((e = x->n->groups->api.remove(st, x->t->group, msg, msglen)) && e != -ENOENT)
		return e;
	return add_row(st, x, msg, msglen);
}

static int remove_row(konce_store *st, void *arg, char *msg, size_t msglen)
{
	struct gcall *x = arg;
	return x->n->groups->api.remove(st, x->t ? x->t->group : x->gid, msg, msglen);
}

static void gcall_free(void *arg, int e, const char *msg)
{
	struct gcall *x = arg;
	(void)e, (void)msg;
	if (x->t)
		sodium_free(x->t);
	free(x);
}

/* The row is written (or not): the core hosts the group, or the row goes again (undo). */
static void row_added(void *arg, int e, const char *msg)
{
	struct gcall *x = arg;
	struct konce_node *n = x->n;
	konce_ncgapi *a = API(n);
	bool undo, rejoin = x->forget;
	if (e && rejoin)
		node_log(n, KONCE_LOG_ERROR, "group %s: %s", x->name, msg);
	if (rejoin && n->groups)
		n->groups->rejoin_flying = false;
	e = x->t ? konce_ncgapi_join_end(a, x->t, x->name, x->timeout_s, x->forget, e, &undo)
		 : konce_ncgapi_create_end(a, x->gid, x->name, e, &undo);
	x->done(x->dctx, e);
	if (!undo || node_storew_call(n->storew, remove_row, gcall_free, x)) /* undo: groups run, so the writer does */
		gcall_free(x, 0, NULL);
	if (rejoin && n->groups && !n->groups->rejoins)
		h_now(n); /* what the driver held back meanwhile */
	else if (rejoin && n->groups)
		rejoin_go(n);
}

static void rejoins_cancel(struct konce_node *n)
{
	for (struct gcall *x; (x = n->groups->rejoins);) { /* never handed to the writer */
		n->groups->rejoins = x->next;
		x->done(x->dctx, -ECANCELED);
		gcall_free(x, 0, NULL);
	}
}

/* The next rejoin goes to the writer once every record queued before it is handed over: the
 * driver holds back (h_busy) while rejoins wait, so this hands over what is queued, and the rejoin
 * runs behind it; a failed batch goes again first (this runs again on its result and on the
 * flush event). */
static void rejoin_go(struct konce_node *n)
{
	struct node_groups *gs = n->groups;
	struct gcall *x = gs->rejoins;
	if (!x || gs->rejoin_flying || node_storew_group_busy(n->storew))
		return;
	if (konce_store_group_pending(n->store) || node_storew_group_pending(n->storew)) {
		konce_ncgp_host h = host(n);
		h.writer_busy = h_wbusy;
		konce_ncgp_drive_flush(&gs->persist, &h);
		if (konce_store_group_pending(n->store))
			return;
	}
	gs->rejoins = x->next;
	if (node_storew_call(n->storew, rejoin_rows, row_added, x)) {
		x->forget = false; /* nothing ran: nothing to forget */
		row_added(x, -ENOBUFS, "the store writer's queue is full");
		h_now(n); /* the flush event: the driver, or the next rejoin */
		return;
	}
	gs->rejoin_flying = true;
}

int konce_node_group_create_call(konce_node *n, const char *name, void (*done)(void *dctx, int e), void *dctx)
{
	struct gcall *x = calloc(1, sizeof *x);
	int e;
	if (!x)
		return -ENOMEM;
	*x = (struct gcall){.n = n, .done = done, .dctx = dctx};
	if (!(e = konce_ncgapi_create_begin(API(n), name, x->gid))) { /* it refuses a name too long for x->name */
		snprintf(x->name, sizeof x->name, "%s", name);
		e = node_storew_call(n->storew, add_row, row_added, x);
	}
	if (e)
		gcall_free(x, 0, NULL);
	return e;
}

int konce_node_group_join_call(konce_node *n, const char *text, const char *name, unsigned timeout_s,
			       void (*done)(void *dctx, int e), void *dctx)
{
	struct gcall *x = calloc(1, sizeof *x);
	int e;
	if (!x || !(x->t = sodium_malloc(sizeof *x->t))) {
		free(x);
		return -ENOMEM;
	}
	x->n = n;
	x->timeout_s = timeout_s;
	x->done = done;
	x->dctx = dctx;
	if ((e = konce_ncgapi_join_begin(API(n), text, name, timeout_s, x->t, x->name, &x->until, &x->forget))) {
		gcall_free(x, 0, NULL);
		return e;
	}
	if (x->forget) { /* behind the rejoins waiting, if any */
		struct gcall **p = &n->groups->rejoins;
		while (*p)
			p = &(*p)->next;
		*p = x;
		rejoin_go(n);
		return 0;
	}
	if ((e = node_storew_call(n->storew, add_row, row_added, x)))
		gcall_free(x, 0, NULL);
	return e;
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
