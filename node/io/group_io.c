/* group_io.c - consensus groups on the daemon: the public API of include/konce/group.h over the
 * groups the node core hosts (node/core/ncgroup.h), their persistence in the store, and their
 * events to the application.
 *
 * Persistence: node_io_kick() hands every group note to node_groups_io(), which queues it in the
 * store (konce_store_group_note_*) and activates one flush event.  The flush (on the loop's next
 * turn, so that the notes of many kicks share one SQLite transaction and one fsync) runs
 * konce_store_group_flush() and, when it succeeds, konce_nodecore_groups_persisted(): only then
 * may a group ack, vote or deliver what those records hold (cgroup.h invariant 6).  A failed flush
 * keeps the queue and retries every RETRY_MS; the groups wait.
 *
 * At start every stored group is hosted again and restored from its records
 * (konce_store_group_restore), before the first packet is read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "consensus/ctoken.h"
#include "konce/group.h"
#include "node/core/ncgroup.h"
#include "node/io/node_int.h"

enum { RETRY_MS = 100 };
_Static_assert((int)KONCE_CTOKEN_TEXT_MAX <= (int)KONCE_GROUP_TOKEN_MAX, "a token's text fits KONCE_GROUP_TOKEN_MAX");

struct gname {
	uint8_t gid[KONCE_CW_GROUP_ID];
	char name[KONCE_GROUP_NAME_MAX + 1];
	bool used, joining; /* joining: JOINED not yet reported */
};

struct node_groups {
	struct gname names[KONCE_NC_GROUPS_MAX];
	konce_group_fn fn;
	void *ctx;
	struct event *ev_flush;
	bool flush_failing, note_failing;
};

static struct gname *by_name(struct konce_node *n, const char *name)
{
	if (!n->groups || !name)
		return NULL;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (n->groups->names[i].used && !strcmp(n->groups->names[i].name, name))
			return &n->groups->names[i];
	return NULL;
}

static struct gname *by_gid(struct konce_node *n, const uint8_t *gid)
{
	for (int i = 0; n->groups && i < KONCE_NC_GROUPS_MAX; i++)
		if (n->groups->names[i].used && !memcmp(n->groups->names[i].gid, gid, KONCE_CW_GROUP_ID))
			return &n->groups->names[i];
	return NULL;
}

static struct gname *name_add(struct konce_node *n, const uint8_t *gid, const char *name)
{
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (!n->groups->names[i].used) {
			struct gname *x = &n->groups->names[i];
			x->used = true;
			memcpy(x->gid, gid, KONCE_CW_GROUP_ID);
			snprintf(x->name, sizeof x->name, "%s", name);
			return x;
		}
	return NULL;
}

static bool name_ok(const char *s)
{
	size_t l = s ? strlen(s) : 0;
	if (!l || l > KONCE_GROUP_NAME_MAX)
		return false;
	for (size_t i = 0; i < l; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static void wallclock(struct konce_node *n) { konce_nodecore_groups_wallclock(n->core, (uint64_t)time(NULL)); }

/* ---- persistence ---------------------------------------------------------------------------- */

static void on_gflush(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	char err[512];
	(void)fd;
	(void)what;
	if (!n->groups || !n->core)
		return;
	int e = konce_store_group_flush(n->store, err, sizeof err);
	if (e) {
		if (!n->groups->flush_failing)
			node_log(n, KONCE_LOG_ERROR, "%s", err);
		n->groups->flush_failing = true;
		struct timeval tv = {0, RETRY_MS * 1000};
		event_add(n->groups->ev_flush, &tv);
		return;
	}
	if (n->groups->flush_failing)
		node_log(n, KONCE_LOG_INFO, "group records written again");
	n->groups->flush_failing = false;
	konce_nodecore_groups_persisted(n->core);
	node_io_kick(n);
}

static int write_gnote(struct konce_node *n, const konce_nc_gnote *g)
{
	switch (g->type) {
	case KONCE_NC_GNOTE_VIEW: return konce_store_group_note_view(n->store, g->gid, g->bytes, g->len);
	case KONCE_NC_GNOTE_VOTE:
		return konce_store_group_note_vote(n->store, g->gid, g->a, g->b, g->c, g->bytes, g->len);
	case KONCE_NC_GNOTE_ENTRIES:
		return konce_store_group_note_entries(n->store, g->gid, g->a, g->count, g->bytes, g->len);
	case KONCE_NC_GNOTE_DELIVERED: return konce_store_group_note_delivered(n->store, g->gid, g->a);
	case KONCE_NC_GNOTE_SNAPSHOT: return konce_store_group_note_snapshot(n->store, g->gid, g->a, g->bytes, g->len);
	}
	return -EINVAL;
}

void node_groups_io(struct konce_node *n)
{
	konce_nc_gnote g;
	bool any = false;
	if (!n->groups)
		return;
	while (konce_nodecore_poll_gnote(n->core, &g)) {
		int e = write_gnote(n, &g);
		if (e) {
			/* not queued: this record never becomes durable, so nothing that follows it may be
			 * acknowledged; the group waits and its peers retransmit.  Logged once. */
			if (!n->groups->note_failing)
				node_log(n, KONCE_LOG_ERROR, "cannot queue a group record: %s", strerror(-e));
			n->groups->note_failing = true;
			continue;
		}
		any = true;
	}
	if (any && !n->groups->note_failing && !n->groups->flush_failing)
		event_active(n->groups->ev_flush, EV_TIMEOUT, 0);
}

/* ---- events --------------------------------------------------------------------------------- */

void node_group_event(struct konce_node *n, const konce_nc_event *ev)
{
	const konce_group_event *g = &ev->group;
	struct gname *x = by_gid(n, ev->gid);
	konce_group_notice o = {0};
	konce_group *core = konce_nodecore_group_find(n->core, ev->gid);
	if (!n->groups || !x)
		return;
	snprintf(o.name, sizeof o.name, "%s", x->name);
	memcpy(o.id, ev->gid, KONCE_CW_GROUP_ID);
	o.epoch = g->epoch;
	switch (g->type) {
	case KONCE_GROUP_EV_COMMITTED:
		if (g->kind != KONCE_CW_E_APP)
			return;
		o.type = KONCE_GROUP_N_DECIDED;
		o.seq = g->seq;
		memcpy(o.origin, g->origin, sizeof o.origin);
		o.nonce = g->nonce;
		o.data = g->data;
		o.len = g->len;
		break;
	case KONCE_GROUP_EV_VIEW: {
		const uint8_t(*keys)[KONCE_CW_KEY];
		o.type = KONCE_GROUP_N_VIEW;
		o.members = core ? konce_group_members(core, &keys) : 0;
		if (x->joining && n->groups->fn) {
			konce_group_notice j = o;
			j.type = KONCE_GROUP_N_JOINED;
			n->groups->fn(n->groups->ctx, &j);
		}
		x->joining = false;
		node_log(n, KONCE_LOG_INFO, "group %s: view %llu with %u members", x->name, (unsigned long long)g->epoch,
			 o.members);
		break;
	}
	case KONCE_GROUP_EV_HALTED:
		o.type = KONCE_GROUP_N_HALTED;
		node_log(n, KONCE_LOG_WARN, "group %s: halted (no majority for a new view)", x->name);
		break;
	case KONCE_GROUP_EV_OUT:
		o.type = KONCE_GROUP_N_OUT;
		o.reason = g->out_reason == KONCE_GROUP_OUT_EVICTED ? KONCE_GROUP_EVICTED
			   : g->out_reason == KONCE_GROUP_OUT_LEFT  ? KONCE_GROUP_LEFT
								    : KONCE_GROUP_REFUSED;
		node_log(n, KONCE_LOG_INFO, "group %s: out (%s)", x->name,
			 o.reason == KONCE_GROUP_EVICTED ? "evicted" : o.reason == KONCE_GROUP_LEFT ? "left" : "refused");
		break;
	case KONCE_GROUP_EV_PERSIST_FAILED:
		o.type = KONCE_GROUP_N_STORE_FAILED;
		o.reason = g->err;
		break;
	case KONCE_GROUP_EV_SNAPSHOT:
		o.type = KONCE_GROUP_N_SNAPSHOT;
		o.seq = g->seq;
		o.data = g->data;
		o.len = g->len;
		break;
	case KONCE_GROUP_EV_JOIN_DECIDED:
		node_log(n, KONCE_LOG_INFO, "group %s: join %s (%u yes, %u no)", x->name, g->flag ? "accepted" : "refused",
			 g->yes, g->no);
		return;
	case KONCE_GROUP_EV_OVERFLOW:
		node_log(n, KONCE_LOG_ERROR, "group %s: %llu events lost", x->name, (unsigned long long)g->seq);
		return;
	default:
		return;
	}
	if (n->groups->fn)
		n->groups->fn(n->groups->ctx, &o);
}

/* ---- start and stop ------------------------------------------------------------------------- */

static int restore_one(void *ctx, const uint8_t gid[KONCE_STORE_GROUP_ID], const char *name, uint64_t epoch)
{
	struct konce_node *n = ctx;
	konce_group *g;
	char err[256], hex[2 * KONCE_CW_GROUP_ID + 1];
	(void)epoch;
	sodium_bin2hex(hex, sizeof hex, gid, KONCE_CW_GROUP_ID);
	if (konce_nodecore_group_add(n->core, gid, &g)) {
		node_log(n, KONCE_LOG_ERROR, "group %s: cannot host it (too many groups?)", name && *name ? name : hex);
		return 0;
	}
	wallclock(n);
	int e = konce_store_group_restore(n->store, gid, g, node_now_us(), err, sizeof err);
	if (e) {
		node_log(n, KONCE_LOG_ERROR, "group %s: %s", name && *name ? name : hex, err);
		konce_nodecore_group_remove(n->core, gid);
		return 0;
	}
	name_add(n, gid, name && *name ? name : hex)->joining = konce_group_state(g) == KONCE_GROUP_JOINING;
	return 0;
}

int node_groups_start(struct konce_node *n)
{
	if (!n->store)
		return 0;
	if (!(n->groups = calloc(1, sizeof *n->groups)) ||
	    !(n->groups->ev_flush = event_new(n->base, -1, 0, on_gflush, n))) {
		free(n->groups);
		n->groups = NULL;
		return -ENOMEM;
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
	char err[256];
	if (konce_store_group_pending(n->store) && konce_store_group_flush(n->store, err, sizeof err))
		node_log(n, KONCE_LOG_ERROR, "%s", err);
	event_free(n->groups->ev_flush);
	free(n->groups);
	n->groups = NULL;
}

/* ---- the public API ------------------------------------------------------------------------- */

static int ready(konce_node *n)
{
	if (!n || !n->core)
		return -EINVAL;
	return n->groups ? 0 : -ENOTSUP;
}

static konce_group *find(konce_node *n, const char *name, struct gname **xo)
{
	struct gname *x = by_name(n, name);
	if (xo)
		*xo = x;
	return x ? konce_nodecore_group_find(n->core, x->gid) : NULL;
}

int konce_node_group_create(konce_node *n, const char *name)
{
	uint8_t gid[KONCE_CW_GROUP_ID];
	char err[256];
	konce_group *g;
	int e = ready(n);
	if (e)
		return e;
	if (!name_ok(name))
		return -EINVAL;
	if (by_name(n, name))
		return -EEXIST;
	randombytes_buf(gid, sizeof gid);
	if ((e = konce_store_group_add(n->store, gid, name, NULL, 0, NULL, err, sizeof err)))
		return e;
	if ((e = konce_nodecore_group_add(n->core, gid, &g)) || (wallclock(n), e = konce_group_create(g, node_now_us()))) {
		konce_nodecore_group_remove(n->core, gid);
		konce_store_group_remove(n->store, gid, err, sizeof err);
		return e;
	}
	name_add(n, gid, name);
	node_log(n, KONCE_LOG_INFO, "group %s created", name);
	node_io_schedule(n);
	return 0;
}

/* The token's hint: one "ADDR:PORT" (or "-") per member, in the token's key order, separated by
 * spaces: this node's (addr_hint), then the newest address this node knows for each other member
 * (from its sessions, never a traversal's virtual one).  A joiner loads them as it would a store's
 * addresses, so it opens a session to every member by key.  Without addr_hint the hint is empty:
 * the members are found by key alone (the joiner's store, or a rendezvous), which is right behind
 * NATs, where an address seen here may be a mapping the joiner cannot use.  Cut at the last whole
 * address that fits. */
static void hint_build(struct konce_node *n, konce_ctoken *t, const char *addr_hint)
{
	char buf[KONCE_CW_MAX_RENDEZVOUS + 1], as[KONCE_ADDR_STRLEN];
	size_t len = 0;
	buf[0] = '\0';
	for (unsigned i = 0; addr_hint && *addr_hint && i < t->n; i++) {
		const char *a = "-";
		konce_addr ad;
		if (i == 0)
			a = addr_hint;
		else if (!konce_nodecore_known_addr(n->core, t->keys[i], &ad))
			a = konce_addr_str(&ad, as);
		size_t l = strlen(a);
		if (len + (len ? 1 : 0) + l > KONCE_CW_MAX_RENDEZVOUS)
			break;
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? " " : "", a);
	}
	memcpy(t->rdv, buf, len + 1);
	t->rdv_len = (uint8_t)len;
}

/* Loads the addresses of a token's hint (hint_build) into the known-keys cache. */
static void hint_load(struct konce_node *n, const konce_ctoken *t)
{
	konce_addr a[KONCE_CW_MAX_MEMBERS];
	bool have[KONCE_CW_MAX_MEMBERS];
	konce_ctoken_hint_addrs(t, a, have); /* fuzzed: tests/fuzz/fuzz_tokenhint.c */
	for (unsigned i = 0; i < t->n && i < KONCE_CW_MAX_MEMBERS; i++)
		if (have[i])
			konce_nodecore_known_load(n->core, t->keys[i], &a[i], false);
}

int konce_node_group_invite(konce_node *n, const char *name, uint64_t expires, const char *addr_hint, char *token,
			    size_t cap)
{
	int e = ready(n);
	if (e)
		return e;
	konce_group *g = find(n, name, NULL);
	if (!g)
		return -ENOENT;
	if (!token || cap < KONCE_CTOKEN_TEXT_MAX || (addr_hint && strlen(addr_hint) > KONCE_CW_MAX_RENDEZVOUS))
		return -EINVAL;
	enum konce_group_state s = konce_group_state(g);
	if (s != KONCE_GROUP_NORMAL && s != KONCE_GROUP_VIEWCHANGE)
		return -ENOTCONN;
	konce_ctoken *t = sodium_malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof *t);
	memcpy(t->group, by_name(n, name)->gid, KONCE_CW_GROUP_ID);
	const uint8_t(*keys)[KONCE_CW_KEY];
	unsigned m = konce_group_members(g, &keys);
	/* this node first: the address hint is its own */
	memcpy(t->keys[t->n++], n->pk, KONCE_CW_KEY);
	for (unsigned i = 0; i < m; i++)
		if (memcmp(keys[i], n->pk, KONCE_CW_KEY))
			memcpy(t->keys[t->n++], keys[i], KONCE_CW_KEY);
	randombytes_buf(t->secret, sizeof t->secret);
	t->expires = expires;
	hint_build(n, t, addr_hint);
	uint8_t hash[KONCE_CW_SECRET];
	konce_ctoken_secret_hash(hash, t->secret);
	wallclock(n);
	int64_t r = konce_group_invite(g, hash, expires, node_now_us());
	if (r < 0)
		e = (int)r;
	else
		e = konce_ctoken_to_text(t, token, cap);
	sodium_free(t);
	node_io_schedule(n);
	return e;
}

int konce_node_group_join(konce_node *n, const char *text, const char *name)
{
	char err[256], def[3 + 2 * 4 + 1];
	konce_group *g;
	int e = ready(n);
	if (e)
		return e;
	if (name && !name_ok(name))
		return -EINVAL;
	konce_ctoken *t = sodium_malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	if ((e = konce_ctoken_from_text(t, text ? text : ""))) {
		sodium_free(t);
		return -EINVAL;
	}
	if (konce_ctoken_expired(t, (uint64_t)time(NULL))) {
		sodium_free(t);
		return -ETIMEDOUT;
	}
	if (!name) {
		memcpy(def, "g-", 2);
		sodium_bin2hex(def + 2, sizeof def - 2, t->group, 4);
		name = def;
	}
	if (by_name(n, name) || by_gid(n, t->group)) {
		sodium_free(t);
		return -EEXIST;
	}
	for (unsigned i = 0; i < t->n; i++)
		if (!memcmp(t->keys[i], n->pk, KONCE_CW_KEY)) { /* our own invitation */
			sodium_free(t);
			return -EINVAL;
		}
	if ((e = konce_store_group_add(n->store, t->group, name, &t->keys[0][0], t->n, t->secret, err, sizeof err))) {
		sodium_free(t);
		return e;
	}
	hint_load(n, t); /* the members' addresses: sessions open by them */
	wallclock(n);
	if ((e = konce_nodecore_group_add(n->core, t->group, &g)) ||
	    (e = konce_group_join(g, (const uint8_t(*)[KONCE_CW_KEY])t->keys, t->n, t->secret, node_now_us()))) {
		konce_nodecore_group_remove(n->core, t->group);
		konce_store_group_remove(n->store, t->group, err, sizeof err);
		sodium_free(t);
		return e;
	}
	name_add(n, t->group, name)->joining = true;
	sodium_free(t);
	node_log(n, KONCE_LOG_INFO, "group %s: joining", name);
	node_io_schedule(n);
	return 0;
}

int64_t konce_node_group_propose(konce_node *n, const char *name, const uint8_t *data, size_t len)
{
	int e = ready(n);
	if (e)
		return e;
	konce_group *g = find(n, name, NULL);
	if (!g)
		return -ENOENT;
	if (!len || !data)
		return -EINVAL;
	if (len > KONCE_GROUP_DECISION_MAX)
		return -EMSGSIZE;
	int64_t r = konce_group_propose(g, data, len, node_now_us());
	node_io_schedule(n);
	return r;
}

int konce_node_group_leave(konce_node *n, const char *name)
{
	int e = ready(n);
	if (e)
		return e;
	konce_group *g = find(n, name, NULL);
	if (!g)
		return -ENOENT;
	e = konce_group_leave(g, node_now_us());
	node_io_schedule(n);
	return e;
}

static void fill_info(konce_group *g, const struct gname *x, konce_group_info *o)
{
	const uint8_t(*keys)[KONCE_CW_KEY];
	memset(o, 0, sizeof *o);
	snprintf(o->name, sizeof o->name, "%s", x->name);
	memcpy(o->id, x->gid, KONCE_CW_GROUP_ID);
	switch (konce_group_state(g)) {
	case KONCE_GROUP_NORMAL: o->state = KONCE_GROUP_S_MEMBER; break;
	case KONCE_GROUP_VIEWCHANGE: o->state = KONCE_GROUP_S_VIEWCHANGE; break;
	case KONCE_GROUP_N_OUT: o->state = KONCE_GROUP_S_OUT; break;
	default: o->state = KONCE_GROUP_S_JOINING; break;
	}
	o->halted = konce_group_halted(g);
	o->epoch = konce_group_epoch(g);
	o->commit = konce_group_commit_index(g);
	o->nmembers = konce_group_members(g, &keys);
	if (o->nmembers > KONCE_GROUP_MEMBERS_MAX)
		o->nmembers = KONCE_GROUP_MEMBERS_MAX;
	for (unsigned i = 0; i < o->nmembers; i++)
		memcpy(o->members[i], keys[i], KONCE_KEY_BYTES);
	o->coordinator = o->nmembers ? konce_group_coordinator(g) : 0;
}

int konce_node_group_info(konce_node *n, const char *name, konce_group_info *out)
{
	struct gname *x;
	int e = ready(n);
	if (e)
		return e;
	konce_group *g = find(n, name, &x);
	if (!g || !out)
		return g ? -EINVAL : -ENOENT;
	fill_info(g, x, out);
	return 0;
}

int konce_node_group_list(konce_node *n, konce_group_info *out, size_t max)
{
	int e = ready(n), count = 0;
	if (e)
		return e;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++) {
		struct gname *x = &n->groups->names[i];
		konce_group *g = x->used ? konce_nodecore_group_find(n->core, x->gid) : NULL;
		if (!g)
			continue;
		if ((size_t)count < max && out)
			fill_info(g, x, &out[count]);
		count++;
	}
	return count;
}

struct logctx {
	int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		  size_t len);
	void *ctx;
	int n;
};

static int log_one(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	struct logctx *l = ctx;
	if (len < KONCE_CW_ENTRY_HEAD)
		return 0;
	size_t dl = (size_t)e[1 + KONCE_CW_ORIGIN + 8] << 8 | e[1 + KONCE_CW_ORIGIN + 8 + 1];
	if (e[0] != KONCE_CW_E_APP || dl > len - KONCE_CW_ENTRY_HEAD)
		return 0;
	l->n++;
	return l->fn(l->ctx, seq, e + 1, e + KONCE_CW_ENTRY_HEAD, dl);
}

int konce_node_group_log(konce_node *n, const char *name, uint64_t from,
			 int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				   const uint8_t *data, size_t len),
			 void *ctx)
{
	struct gname *x;
	konce_store_group_rec r;
	int e = ready(n);
	if (e)
		return e;
	if (!find(n, name, &x))
		return -ENOENT;
	if (!fn)
		return -EINVAL;
	if ((e = konce_store_group_get(n->store, x->gid, &r)))
		return e;
	uint64_t upto = r.delivered;
	konce_store_group_rec_free(&r);
	if (from > upto)
		return 0;
	struct logctx l = {fn, ctx, 0};
	e = konce_store_group_entries(n->store, x->gid, from ? from : 1, upto, log_one, &l);
	return e < 0 ? e : l.n;
}

int konce_node_group_on_event(konce_node *n, konce_group_fn fn, void *ctx)
{
	int e = ready(n);
	if (e)
		return e;
	n->groups->fn = fn;
	n->groups->ctx = ctx;
	return 0;
}
