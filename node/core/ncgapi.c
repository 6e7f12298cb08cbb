/* ncgapi.c - the public group API of include/konce/group.h as the node core runs it (ncgapi.h):
 * checks, the store's immediate writes around hosting, the rejoin of a group this node is out of,
 * the restore at start, the replay of owed state and the group events.  The host does the I/O and
 * the node core's env gives the random bytes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "node/base/env.h"
#include "node/core/ncgapi.h"
#include "node/core/nodecore.h"

static void say(const konce_ncgapi *a, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const konce_ncgapi *a, int level, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	a->h->log(a->h->ctx, level, line);
}

int konce_ncgapi_ready(const konce_ncgapi *a) { return !a->c ? -EINVAL : !a->t ? -ENOTSUP : 0; }

/* ---- commands ------------------------------------------------------------------------------- */

int konce_ncgapi_create_begin(const konce_ncgapi *a, const char *name, uint8_t gid[KONCE_CW_GROUP_ID])
{
	int e;
	if ((e = konce_ncgapi_ready(a)) || (e = konce_ncgapp_name_free(a->t, name)))
		return e;
	konce_env_random(konce_nodecore_env(a->c), gid, KONCE_CW_GROUP_ID);
	return 0;
}

int konce_ncgapi_create_end(const konce_ncgapi *a, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name, int e,
			    bool *undo)
{
	*undo = false;
	if (!e && (e = konce_ncgapi_ready(a))) /* the node stopped hosting groups meanwhile */
		return e;
	if (e)
		return e;
	if ((e = konce_ncgapp_create(a->t, a->c, gid, name, a->now_us, a->unix_s))) {
		*undo = true;
		return e;
	}
	say(a, KONCE_LOG_INFO, "group %s created", name);
	a->h->kick(a->h->ctx);
	return 0;
}

int konce_ncgapi_create(const konce_ncgapi *a, const char *name)
{
	uint8_t gid[KONCE_CW_GROUP_ID];
	char err[256];
	bool undo;
	int e = konce_ncgapi_create_begin(a, name, gid);
	if (e)
		return e;
	e = konce_ncgapi_create_end(a, gid, name, a->h->add(a->h->store, gid, name, err, sizeof err), &undo);
	if (undo)
		a->h->remove(a->h->store, gid, err, sizeof err);
	return e;
}

int konce_ncgapi_invite(const konce_ncgapi *a, const char *name, uint64_t expires, const char *addr_hint,
			char *token, size_t cap)
{
	uint8_t secret[KONCE_CW_SECRET];
	int e;
	if ((e = konce_ncgapi_ready(a)))
		return e;
	konce_env_random(konce_nodecore_env(a->c), secret, sizeof secret);
	e = konce_ncgapp_invite(a->t, a->c, name, konce_nodecore_public_key(a->c), secret, expires, addr_hint,
				a->now_us, a->unix_s, token, cap);
	sodium_memzero(secret, sizeof secret);
	a->h->kick(a->h->ctx);
	return e;
}

/* Forgets the group gid this node is out of, for a join of it with a new invitation: every queued
 * record is written (none of it stays queued behind the removal), then the group leaves the store
 * and the core. */
static int forget_out(const konce_ncgapi *a, const uint8_t gid[KONCE_CW_GROUP_ID], char *err, size_t errlen)
{
	if (a->h->sync(a->h->ctx, err, errlen))
		return -EIO;
	int e = a->h->remove(a->h->store, gid, err, errlen);
	if (e && e != -ENOENT)
		return e;
	konce_ncgapp_forget(a->t, a->c, gid);
	return 0;
}

/* The token's check, and the rejoin of a group this node is out of (ncgapi.h): forgotten here, or
 * (forget given) left to the host, *forget set. */
static int join_check(const konce_ncgapi *a, const char *text, const char *name, konce_ctoken *t,
		      char nm[KONCE_GROUP_NAME_MAX + 1], bool *forget)
{
	const uint8_t *self = konce_nodecore_public_key(a->c);
	char err[256];
	int e = konce_ncgapp_join_check(a->t, self, text, name, a->unix_s, t, nm);
	if (e != -EEXIST || !konce_ncgapp_rejoinable(a->t, a->c, t->group, nm))
		return e;
	if (forget) { /* the check that follows the group's presence in konce_ncgapp_join_check */
		*forget = !konce_ncgapp_token_own(t, self);
		return *forget ? 0 : -EINVAL;
	}
	if ((e = forget_out(a, t->group, err, sizeof err))) {
		say(a, KONCE_LOG_ERROR, "group %s: %s", nm, err);
		return e;
	}
	say(a, KONCE_LOG_INFO, "group %s: out of it: its records are removed for the new join", nm);
	return konce_ncgapp_join_check(a->t, self, text, name, a->unix_s, t, nm);
}

int konce_ncgapi_join_begin(const konce_ncgapi *a, const char *text, const char *name, unsigned timeout_s,
			    konce_ctoken *t, char nm[KONCE_GROUP_NAME_MAX + 1], uint64_t *until_unix, bool *forget)
{
	int e;
	if (forget)
		*forget = false;
	if (timeout_s < 1 || timeout_s > KONCE_GROUP_JOIN_TIMEOUT_MAX)
		return -ERANGE;
	if ((e = konce_ncgapi_ready(a)) || (e = join_check(a, text, name, t, nm, forget)))
		return e;
	/* The deadline goes to the store as wall-clock time, so a restart keeps what is left of it. */
	*until_unix = a->unix_s + timeout_s;
	return 0;
}

int konce_ncgapi_join_end(const konce_ncgapi *a, const konce_ctoken *t, const char *nm, unsigned timeout_s,
			  bool forgot, int e, bool *undo)
{
	*undo = false;
	if (!e && (e = konce_ncgapi_ready(a))) /* the node stopped hosting groups meanwhile */
		return e;
	if (e)
		return e;
	if (forgot) {
		konce_ncgapp_forget(a->t, a->c, t->group);
		say(a, KONCE_LOG_INFO, "group %s: out of it: its records are removed for the new join", nm);
	}
	if ((e = konce_ncgapp_join_for(a->t, a->c, t, nm, a->now_us, a->unix_s, timeout_s))) {
		*undo = true;
		return e;
	}
	say(a, KONCE_LOG_INFO, "group %s: joining (gives up after %u s)", nm, timeout_s);
	a->h->kick(a->h->ctx);
	return 0;
}

int konce_ncgapi_join(const konce_ncgapi *a, const char *text, const char *name, unsigned timeout_s)
{
	char err[256], nm[KONCE_GROUP_NAME_MAX + 1];
	uint64_t until;
	bool undo = false;
	konce_ctoken *t = sodium_malloc(sizeof *t); /* it holds the secret */
	if (!t)
		return -ENOMEM;
	int e = konce_ncgapi_join_begin(a, text, name, timeout_s, t, nm, &until, NULL);
	if (!e)
		e = konce_ncgapi_join_end(a, t, nm, timeout_s, false,
					  a->h->add_join(a->h->store, t, nm, until, err, sizeof err), &undo);
	if (undo)
		a->h->remove(a->h->store, t->group, err, sizeof err);
	sodium_free(t);
	return e;
}

int64_t konce_ncgapi_propose(const konce_ncgapi *a, const char *name, const uint8_t *data, size_t len)
{
	int e;
	if ((e = konce_ncgapi_ready(a)))
		return e;
	int64_t r = konce_ncgapp_propose(a->t, a->c, name, data, len, a->now_us);
	a->h->kick(a->h->ctx);
	return r;
}

int konce_ncgapi_leave(const konce_ncgapi *a, const char *name)
{
	int e;
	if ((e = konce_ncgapi_ready(a)))
		return e;
	e = konce_ncgapp_leave(a->t, a->c, name, a->now_us);
	a->h->kick(a->h->ctx);
	return e;
}

/* ---- reads and the application's callbacks --------------------------------------------------- */

int konce_ncgapi_info(const konce_ncgapi *a, const char *name, konce_group_info *out)
{
	int e = konce_ncgapi_ready(a);
	return e ? e : konce_ncgapp_info(a->t, a->c, name, out);
}

int konce_ncgapi_invite_status(const konce_ncgapi *a, const char *name, const char *token)
{
	int e = !token ? -EINVAL : konce_ncgapi_ready(a);
	return e ? e : konce_ncgapp_invite_status(a->t, a->c, name, token, a->unix_s);
}

int konce_ncgapi_status(const konce_ncgapi *a, const char *name, konce_group_status *out)
{
	int e = !out ? -EINVAL : konce_ncgapi_ready(a);
	return e ? e : konce_ncgapp_status(a->t, a->c, name, a->now_us, out);
}

int konce_ncgapi_list(const konce_ncgapi *a, konce_group_info *out, size_t max)
{
	int e = konce_ncgapi_ready(a);
	return e ? e : konce_ncgapp_list(a->t, a->c, out, max);
}

int konce_ncgapi_log_begin(const konce_ncgapi *a, const char *name, bool have_fn, uint8_t gid[KONCE_CW_GROUP_ID])
{
	int e;
	if ((e = konce_ncgapi_ready(a)) || (e = konce_ncgapp_log_gid(a->t, a->c, name, gid)))
		return e;
	return have_fn ? 0 : -EINVAL;
}

int konce_ncgapi_log_read(const konce_ncgapi_host *h, void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID],
			  uint64_t from,
			  int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				    const uint8_t *data, size_t len),
			  void *fnctx)
{
	uint64_t upto, first;
	int e;
	if ((e = h->delivered(ctx, gid, &upto)))
		return e;
	if (!konce_ncgapp_log_span(from, upto, &first))
		return 0;
	konce_ncgapp_logread l = {fn, fnctx, 0};
	e = h->entries(ctx, gid, first, upto, konce_ncgapp_log_one, &l);
	return e < 0 ? e : l.n;
}

int konce_ncgapi_log(const konce_ncgapi *a, const char *name, uint64_t from,
		     int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
			       const uint8_t *data, size_t len),
		     void *ctx)
{
	uint8_t gid[KONCE_CW_GROUP_ID];
	int e = konce_ncgapi_log_begin(a, name, fn != NULL, gid);
	return e ? e : konce_ncgapi_log_read(a->h, a->h->store, gid, from, fn, ctx);
}

int konce_ncgapi_on_event(const konce_ncgapi *a, konce_group_fn fn, void *ctx)
{
	int e;
	if ((e = konce_ncgapi_ready(a)))
		return e;
	a->t->notify = fn;
	a->t->notify_ctx = ctx;
	if (fn)
		a->h->replay_soon(a->h->ctx); /* the restored groups' state, from the loop */
	return 0;
}

int konce_ncgapi_on_join_request(const konce_ncgapi *a, konce_group_policy_fn fn, void *ctx)
{
	int e = konce_ncgapi_ready(a);
	return e ? e : konce_ncgapp_on_join_request(a->t, a->c, fn, ctx);
}

int konce_ncgapi_on_snapshot(const konce_ncgapi *a, konce_group_snapshot_fn fn, void *ctx)
{
	int e = konce_ncgapi_ready(a);
	return e ? e : konce_ncgapp_on_snapshot(a->t, a->c, fn, ctx);
}

/* ---- start, replay, events, stop ---------------------------------------------------------------- */

static int restore_one(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name, uint64_t epoch)
{
	const konce_ncgapi *a = ctx;
	konce_group *g;
	uint64_t delivered;
	char err[256], hex[2 * KONCE_CW_GROUP_ID + 1];
	(void)epoch;
	sodium_bin2hex(hex, sizeof hex, gid, KONCE_CW_GROUP_ID);
	const char *shown = name && *name ? name : hex;
	if (konce_ncgapp_restore_host(a->c, gid, a->unix_s, &g)) {
		say(a, KONCE_LOG_ERROR, "group %s: cannot host it (too many groups?)", shown);
		return 0;
	}
	int e = a->h->restore(a->h->store, gid, g, a->now_us, err, sizeof err);
	konce_ncgapp_name *x = konce_ncgapp_restored(a->t, a->c, gid, name, e);
	if (!x)
		say(a, KONCE_LOG_ERROR, "group %s: %s", shown, e ? err : "no room for its name");
	else if (konce_ncgapp_replay_due(x) && !a->h->delivered(a->h->store, gid, &delivered))
		konce_ncgapp_replay_owe(x, delivered);
	return 0;
}

int konce_ncgapi_restore(const konce_ncgapi *a)
{
	int e = konce_ncgapi_ready(a);
	if (e)
		return e;
	int r = a->h->each(a->h->store, restore_one, (void *)a);
	if (r < 0)
		say(a, KONCE_LOG_ERROR, "cannot read the groups from the store: %s", strerror(-r));
	else if (r > 0)
		say(a, KONCE_LOG_INFO, "restored %d group%s from the store", r, r == 1 ? "" : "s");
	return r;
}

/* x's state, or what the host has read of it (wait: all of it); x stays owed for the rest. */
static void replay_one(const konce_ncgapi *a, konce_ncgapp_name *x, bool wait)
{
	konce_ncgapp_replayer r = {.t = a->t};
	konce_ncgapp_replay_notice(x, &r.o);
	int e = a->h->replay(a->h->ctx, x->gid, x->replay_upto, konce_ncgapp_replay_snap_cb,
			     konce_ncgapp_replay_entry_cb, &r, wait);
	x->replayed += r.decided;
	if (e > 0 && !wait) {
		x->replay = true; /* the host reads on: a later konce_ncgapi_replay plays the rest */
		return;
	}
	if (e < 0)
		say(a, KONCE_LOG_ERROR, "group %s: cannot hand its state back from the store: %s", x->name,
		    e == -ENODATA ? "the log misses a delivered entry" : strerror(-e));
	else if (x->replayed)
		say(a, KONCE_LOG_INFO, "group %s: %u decisions handed back from the store", x->name, x->replayed);
}

void konce_ncgapi_replay(const konce_ncgapi *a, const uint8_t *gid)
{
	konce_ncgapp_name *x;
	int pos = 0; /* each group once per call, though one the host reads on is owed again */
	if (konce_ncgapi_ready(a) || !a->t->notify)
		return;
	while ((x = konce_ncgapp_replay_next(a->t, gid, &pos)))
		replay_one(a, x, gid != NULL);
}

unsigned konce_ncgapi_replay_owed(const konce_ncgapi *a, uint8_t (*gid)[KONCE_CW_GROUP_ID], uint64_t *upto,
				  unsigned max)
{
	unsigned k = 0;
	if (konce_ncgapi_ready(a) || !a->t->notify)
		return 0; /* nothing is handed back before the application listens */
	for (int i = 0; i < KONCE_NC_GROUPS_MAX && k < max; i++) {
		const konce_ncgapp_name *x = &a->t->names[i];
		if (x->used && x->replay) {
			memcpy(gid[k], x->gid, KONCE_CW_GROUP_ID);
			upto[k++] = x->replay_upto;
		}
	}
	return k;
}

void konce_ncgapi_event(const konce_ncgapi *a, const konce_nc_event *ev)
{
	konce_ncgapp_out o;
	if (konce_ncgapi_ready(a))
		return;
	konce_ncgapi_replay(a, ev->gid); /* what it delivered before comes before what it delivers now */
	konce_ncgapp_event(a->t, a->c, ev, &o);
	if (o.level >= 0)
		say(a, o.level, "%s", o.log);
	for (unsigned i = 0; i < o.n; i++)
		konce_ncgapp_notify(a->t, &o.notice[i]);
}

void konce_ncgapi_stop(const konce_ncgapi *a)
{
	char err[512];
	if (konce_ncgapi_ready(a))
		return;
	konce_ncgapp_unwire(a->t, a->c); /* the core calls back into the table no more */
	if (a->h->sync(a->h->ctx, err, sizeof err))
		say(a, KONCE_LOG_ERROR, "%s", err);
}
