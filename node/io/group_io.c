/* group_io.c - consensus groups on the daemon: the public API of include/konce/group.h over the
 * groups the node core hosts (node/core/ncgroup.h, and node/core/ncgapp.h for their names,
 * notices and tokens), their persistence in the store, and their events to the application.
 *
 * What is here is plumbing: the clock, random bytes, the store's immediate writes (a group is
 * recorded before it is hosted, and removed when hosting fails), the flush event and the
 * application's callback.  The reads (info, list, status, invitation status) and the
 * application's join policy and snapshot callbacks are the core's (ncgapp.h).
 *
 * Persistence: node_io_kick() hands every group note to node_groups_io(), which queues it in the
 * store (konce_store_group_note) and tells the core's table (node/core/ncgpersist.h), which says
 * what to do with the one flush event: run it on the loop's next turn, or arm it (delivery marks
 * alone, a retry).  The flush hands the store's queue to the writer thread (group_writer.h) unless
 * a batch is in flight; the loop goes on meanwhile.  When a batch is durable the table tells each
 * of its groups with konce_group_persisted() the persist ids the batch held, and only then.
 *
 * At start every stored group is hosted again and restored from its records
 * (konce_store_group_restore), before the first packet is read; what its application is owed back
 * and when (node/core/ncgrestore.c) is read from the store (konce_store_group_replay) from the
 * loop's turn after the event callback is set, or just before the group's first new event.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "konce/group.h"
#include "node/core/ncgapp.h"
#include "node/core/ncgpersist.h"
#include "node/io/group_writer.h"
#include "node/io/node_int.h"

struct node_groups {
	konce_ncgapp app;
	konce_ncgpersist persist;
	struct event *ev_flush, *ev_replay;
	group_writer *writer;
};

static uint64_t unix_s(void) { return (uint64_t)time(NULL); }

/* ---- persistence ---------------------------------------------------------------------------- */

/* The host's state and primitives for the core's driver (ncgpersist.h konce_ncgp_host). */
static bool h_busy(void *ctx) { return group_writer_busy(((struct konce_node *)ctx)->groups->writer); }
static size_t h_wpending(void *ctx) { return group_writer_pending(((struct konce_node *)ctx)->groups->writer); }
static bool h_spending(void *ctx) { return konce_store_group_pending(((struct konce_node *)ctx)->store) > 0; }
static bool h_armed(void *ctx) { return event_pending(((struct konce_node *)ctx)->groups->ev_flush, EV_TIMEOUT, NULL); }
static void h_submit(void *ctx, bool from_store)
{
	struct konce_node *n = ctx;
	group_writer_submit(n->groups->writer, from_store ? n->store : NULL);
}
static void h_now(void *ctx) { event_active(((struct konce_node *)ctx)->groups->ev_flush, EV_TIMEOUT, 0); }
static void h_arm(void *ctx, unsigned ms)
{
	struct timeval tv = {0, (suseconds_t)ms * 1000};
	event_add(((struct konce_node *)ctx)->groups->ev_flush, &tv);
}

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
	}
}

/* The writer's result for the batch handed over (group_writer_done). */
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
}

/* Writes everything queued, here and now (stop, forget): 0 or a negative errno (err). */
static int write_all(struct konce_node *n, char *err, size_t errlen)
{
	struct node_groups *gs = n->groups;
	int e = group_writer_sync(gs->writer, n->store, err, errlen);
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

/* ---- the state handed back at start ------------------------------------------------------------ */

static void replay_one(struct konce_node *n, const konce_ncgapp_name *x)
{
	konce_ncgapp_replayer r = {.t = &n->groups->app};
	konce_ncgapp_replay_notice(x, &r.o);
	int e = konce_store_group_replay(n->store, x->gid, x->replay_upto, konce_ncgapp_replay_snap_cb,
					 konce_ncgapp_replay_entry_cb, &r);
	if (e < 0)
		node_log(n, KONCE_LOG_ERROR, "group %s: cannot hand its state back from the store: %s", x->name,
			 e == -ENODATA ? "the log misses a delivered entry" : strerror(-e));
	else if (r.decided)
		node_log(n, KONCE_LOG_INFO, "group %s: %u decisions handed back from the store", x->name, r.decided);
}

/* Hands back the state of every restored group (gid: that one) still owed it, once the
 * application listens. */
static void replay_owed(struct konce_node *n, const uint8_t *gid)
{
	konce_ncgapp_name *x;
	if (!n->groups->app.notify)
		return;
	while ((x = konce_ncgapp_replay_next(&n->groups->app, gid)))
		replay_one(n, x);
}

static void on_replay(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	(void)fd;
	(void)what;
	if (n->groups)
		replay_owed(n, NULL);
}

/* ---- events --------------------------------------------------------------------------------- */

void node_group_event(struct konce_node *n, const konce_nc_event *ev)
{
	konce_ncgapp_out o;
	if (!n->groups)
		return;
	replay_owed(n, ev->gid); /* what it delivered before comes before what it delivers now */
	konce_ncgapp_event(&n->groups->app, n->core, ev, &o);
	if (o.level >= 0)
		node_log(n, o.level, "%s", o.log);
	for (unsigned i = 0; i < o.n; i++)
		konce_ncgapp_notify(&n->groups->app, &o.notice[i]);
}

/* ---- start and stop ------------------------------------------------------------------------- */

static int restore_one(void *ctx, const uint8_t gid[KONCE_STORE_GROUP_ID], const char *name, uint64_t epoch)
{
	struct konce_node *n = ctx;
	konce_group *g;
	char err[256], hex[2 * KONCE_CW_GROUP_ID + 1];
	(void)epoch;
	sodium_bin2hex(hex, sizeof hex, gid, KONCE_CW_GROUP_ID);
	if (konce_ncgapp_restore_host(n->core, gid, unix_s(), &g)) {
		node_log(n, KONCE_LOG_ERROR, "group %s: cannot host it (too many groups?)", name && *name ? name : hex);
		return 0;
	}
	int e = konce_store_group_restore(n->store, gid, g, node_now_us(), err, sizeof err);
	konce_ncgapp_name *x = konce_ncgapp_restored(&n->groups->app, n->core, gid, name, e);
	konce_store_group_rec r;
	if (!x)
		node_log(n, KONCE_LOG_ERROR, "group %s: %s", name && *name ? name : hex, e ? err : "no room for its name");
	else if (konce_ncgapp_replay_due(x) && !konce_store_group_get(n->store, gid, &r)) {
		konce_ncgapp_replay_owe(x, r.delivered);
		konce_store_group_rec_free(&r);
	}
	return 0;
}

int node_groups_start(struct konce_node *n)
{
	char err[768];
	if (!n->store)
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
	if (group_writer_start(&n->groups->writer, n->base, n->db_path, on_written, n, err, sizeof err)) {
		node_log(n, KONCE_LOG_ERROR, "%s; running without groups", err);
		event_free(n->groups->ev_flush);
		event_free(n->groups->ev_replay);
		free(n->groups);
		n->groups = NULL;
		return 0;
	}
	int r = konce_store_groups_each(n->store, restore_one, n);
	if (r < 0)
		node_log(n, KONCE_LOG_ERROR, "cannot read the groups from the store: %s", strerror(-r));
	else if (r > 0)
		node_log(n, KONCE_LOG_INFO, "restored %d group%s from the store", r, r == 1 ? "" : "s");
	return 0;
}

void node_groups_stop(struct konce_node *n)
{
	if (!n->groups)
		return;
	node_groups_io(n);
	konce_ncgapp_unwire(&n->groups->app, n->core); /* the core calls back into app no more */
	char err[512];
	konce_ncgpersist_stop(&n->groups->persist);
	if (write_all(n, err, sizeof err))
		node_log(n, KONCE_LOG_ERROR, "%s", err);
	group_writer_stop(n->groups->writer);
	event_free(n->groups->ev_flush);
	event_free(n->groups->ev_replay);
	free(n->groups);
	n->groups = NULL;
}

/* ---- the public API ------------------------------------------------------------------------- */

static konce_ncgapp *ready(konce_node *n, int *e)
{
	*e = !n || !n->core ? -EINVAL : n->groups ? 0 : -ENOTSUP;
	return *e ? NULL : &n->groups->app;
}

int konce_node_group_create(konce_node *n, const char *name)
{
	uint8_t gid[KONCE_CW_GROUP_ID];
	char err[256];
	int e;
	konce_ncgapp *a = ready(n, &e);
	if (!a || (e = konce_ncgapp_name_free(a, name)))
		return e;
	randombytes_buf(gid, sizeof gid);
	if ((e = konce_store_group_add(n->store, gid, name, NULL, 0, NULL, err, sizeof err)))
		return e;
	if ((e = konce_ncgapp_create(a, n->core, gid, name, node_now_us(), unix_s()))) {
		konce_store_group_remove(n->store, gid, err, sizeof err);
		return e;
	}
	node_log(n, KONCE_LOG_INFO, "group %s created", name);
	node_io_schedule(n);
	return 0;
}

int konce_node_group_invite(konce_node *n, const char *name, uint64_t expires, const char *addr_hint, char *token,
			    size_t cap)
{
	uint8_t secret[KONCE_CW_SECRET];
	int e;
	konce_ncgapp *a = ready(n, &e);
	if (!a)
		return e;
	randombytes_buf(secret, sizeof secret);
	e = konce_ncgapp_invite(a, n->core, name, n->pk, secret, expires, addr_hint, node_now_us(), unix_s(), token,
				cap);
	sodium_memzero(secret, sizeof secret);
	node_io_schedule(n);
	return e;
}

/* Forgets a group this node is out of, for a join of it with a new invitation: every queued record
 * is written (none of it stays queued behind the removal), then the group leaves the store and
 * the core. */
static int forget_out(struct konce_node *n, konce_ncgapp *a, const uint8_t gid[KONCE_CW_GROUP_ID], char *err,
		      size_t errlen)
{
	if (write_all(n, err, errlen))
		return -EIO;
	int e = konce_store_group_remove(n->store, gid, err, errlen);
	if (e && e != -ENOENT)
		return e;
	konce_ncgapp_forget(a, n->core, gid);
	return 0;
}

int konce_node_group_join(konce_node *n, const char *text, const char *name)
{
	return konce_node_group_join_timeout(n, text, name, KONCE_GROUP_JOIN_TIMEOUT_DEFAULT);
}

int konce_node_group_join_timeout(konce_node *n, const char *text, const char *name, unsigned timeout_s)
{
	char err[256], nm[KONCE_GROUP_NAME_MAX + 1];
	int e;
	if (timeout_s < 1 || timeout_s > KONCE_GROUP_JOIN_TIMEOUT_MAX)
		return -ERANGE;
	konce_ncgapp *a = ready(n, &e);
	if (!a)
		return e;
	konce_ctoken *t = sodium_malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	e = konce_ncgapp_join_check(a, n->pk, text, name, unix_s(), t, nm);
	if (e == -EEXIST && konce_ncgapp_rejoinable(a, n->core, t->group, nm)) {
		/* out of it: a new invitation replaces the group (its written records first) */
		if (!(e = forget_out(n, a, t->group, err, sizeof err))) {
			node_log(n, KONCE_LOG_INFO, "group %s: out of it: its records are removed for the new join", nm);
			e = konce_ncgapp_join_check(a, n->pk, text, name, unix_s(), t, nm);
		} else
			node_log(n, KONCE_LOG_ERROR, "group %s: %s", nm, err);
	}
	/* The deadline goes to the store as wall-clock time, so a restart keeps what is left of it. */
	if (!e && !(e = konce_store_group_add_join(n->store, t->group, nm, &t->keys[0][0], t->n, t->secret,
						   unix_s() + timeout_s, err, sizeof err)) &&
	    (e = konce_ncgapp_join_for(a, n->core, t, nm, node_now_us(), unix_s(), timeout_s)))
		konce_store_group_remove(n->store, t->group, err, sizeof err);
	sodium_free(t);
	if (e)
		return e;
	node_log(n, KONCE_LOG_INFO, "group %s: joining (gives up after %u s)", nm, timeout_s);
	node_io_schedule(n);
	return 0;
}

int64_t konce_node_group_propose(konce_node *n, const char *name, const uint8_t *data, size_t len)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	if (!a)
		return e;
	int64_t r = konce_ncgapp_propose(a, n->core, name, data, len, node_now_us());
	node_io_schedule(n);
	return r;
}

int konce_node_group_leave(konce_node *n, const char *name)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	if (!a)
		return e;
	e = konce_ncgapp_leave(a, n->core, name, node_now_us());
	node_io_schedule(n);
	return e;
}

int konce_node_group_info(konce_node *n, const char *name, konce_group_info *out)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	return a ? konce_ncgapp_info(a, n->core, name, out) : e;
}

int konce_node_group_invite_status(konce_node *n, const char *name, const char *token)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	return !token ? -EINVAL : a ? konce_ncgapp_invite_status(a, n->core, name, token, unix_s()) : e;
}

int konce_node_group_status(konce_node *n, const char *name, konce_group_status *out)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	return !out ? -EINVAL : a ? konce_ncgapp_status(a, n->core, name, node_now_us(), out) : e;
}

int konce_node_group_list(konce_node *n, konce_group_info *out, size_t max)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	return a ? konce_ncgapp_list(a, n->core, out, max) : e;
}

int konce_node_group_log(konce_node *n, const char *name, uint64_t from,
			 int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				   const uint8_t *data, size_t len),
			 void *ctx)
{
	uint8_t gid[KONCE_CW_GROUP_ID];
	konce_store_group_rec r;
	uint64_t first;
	int e;
	konce_ncgapp *a = ready(n, &e);
	if (!a)
		return e;
	if ((e = konce_ncgapp_log_gid(a, n->core, name, gid)))
		return e;
	if (!fn)
		return -EINVAL;
	if ((e = konce_store_group_get(n->store, gid, &r)))
		return e;
	uint64_t upto = r.delivered;
	konce_store_group_rec_free(&r);
	if (!konce_ncgapp_log_span(from, upto, &first))
		return 0;
	konce_ncgapp_logread l = {fn, ctx, 0};
	e = konce_store_group_entries(n->store, gid, first, upto, konce_ncgapp_log_one, &l);
	return e < 0 ? e : l.n;
}

int konce_node_group_on_event(konce_node *n, konce_group_fn fn, void *ctx)
{
	int e;
	if (!ready(n, &e))
		return e;
	n->groups->app.notify = fn;
	n->groups->app.notify_ctx = ctx;
	if (fn)
		event_active(n->groups->ev_replay, EV_TIMEOUT, 0); /* the restored groups' state, from the loop */
	return 0;
}

int konce_node_group_on_join_request(konce_node *n, konce_group_policy_fn fn, void *ctx)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	return a ? konce_ncgapp_on_join_request(a, n->core, fn, ctx) : e;
}

int konce_node_group_on_snapshot(konce_node *n, konce_group_snapshot_fn fn, void *ctx)
{
	int e;
	konce_ncgapp *a = ready(n, &e);
	return a ? konce_ncgapp_on_snapshot(a, n->core, fn, ctx) : e;
}
