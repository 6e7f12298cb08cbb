/* ncgroup.c - consensus groups hosted by the node core: message routing, timers, events and
 * persistence notes (the composition is described in ncgroup.h). */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "node/core/nc_int.h"
#include "node/core/ncgroup.h"

struct ncgnote {
	konce_nc_gnote n;
	struct ncgnote *next;
};

struct ncgroup {
	struct konce_nodecore *c;
	uint8_t gid[KONCE_CW_GROUP_ID];
	konce_group *g;
	uint64_t polled_pid, done_pid; /* G1 */
};

struct ncgroups {
	struct ncgroup *v[KONCE_NC_GROUPS_MAX];
	struct ncgnote *head, **tail, *returned;
	size_t nnotes;
	konce_nc_group_stats st;
	uint64_t wall;
	/* the event handed out last: its data is copied here (valid until the next poll_event) */
	uint8_t *evbuf;
	size_t evcap;
	bool pumping;
	konce_nc_group_app app;
};

static struct ncgroups *gs(konce_nodecore *c)
{
	if (!c->groups) {
		c->groups = nc_alloc(c, sizeof(struct ncgroups));
		if (c->groups) {
			memset(c->groups, 0, sizeof(struct ncgroups));
			c->groups->tail = &c->groups->head;
		}
	}
	return c->groups;
}

/* ---- persistence: records become notes ------------------------------------------------------ */

static int note(struct ncgroup *x, enum konce_cnote_type t, uint64_t a, uint64_t b, uint64_t cc, unsigned count,
		const uint8_t *bytes, size_t len)
{
	konce_nodecore *c = x->c;
	struct ncgroups *s = c->groups;
	if (s->nnotes >= KONCE_NC_GNOTES_MAX)
		return -ENOBUFS;
	struct ncgnote *q = nc_alloc(c, sizeof(*q));
	if (!q)
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	if (len && !(q->n.bytes = nc_alloc(c, len))) {
		nc_free(c, q);
		return -ENOMEM;
	}
	if (len)
		memcpy(q->n.bytes, bytes, len);
	q->n.len = len;
	q->n.type = t;
	memcpy(q->n.gid, x->gid, KONCE_CW_GROUP_ID);
	q->n.a = a;
	q->n.b = b;
	q->n.c = cc;
	q->n.count = count;
	q->n.pid = konce_group_persist_issued(x->g) + 1; /* the core counts the call after it returns */
	*s->tail = q;
	s->tail = &q->next;
	s->nnotes++;
	return KONCE_GROUP_PERSIST_QUEUED;
}

static int p_view(void *ctx, const uint8_t *v, size_t len) { return note(ctx, KONCE_CNOTE_VIEW, 0, 0, 0, 0, v, len); }
static int p_vote(void *ctx, uint64_t base, uint64_t promised, uint64_t acc, const uint8_t *v, size_t len)
{
	return note(ctx, KONCE_CNOTE_VOTE, base, promised, acc, 0, v, len);
}
static int p_entries(void *ctx, uint64_t first, unsigned count, const uint8_t *e, size_t len)
{
	return note(ctx, KONCE_CNOTE_ENTRIES, first, 0, 0, count, e, len);
}
static int p_delivered(void *ctx, uint64_t seq) { return note(ctx, KONCE_CNOTE_DELIVERED, seq, 0, 0, 0, NULL, 0); }
static int p_snapshot(void *ctx, uint64_t seq, const uint8_t *d, size_t len)
{
	return note(ctx, KONCE_CNOTE_SNAPSHOT, seq, 0, 0, 0, d, len);
}

static void gnote_free(konce_nodecore *c, struct ncgnote *q)
{
	if (!q)
		return;
	if (q->n.bytes) {
		sodium_memzero(q->n.bytes, q->n.len);
		nc_free(c, q->n.bytes);
	}
	nc_free(c, q);
}

bool konce_nodecore_poll_gnote(konce_nodecore *c, konce_nc_gnote *n)
{
	struct ncgroups *s = c->groups;
	if (!s)
		return false;
	gnote_free(c, s->returned);
	s->returned = NULL;
	struct ncgnote *q = s->head;
	if (!q)
		return false;
	if (!(s->head = q->next))
		s->tail = &s->head;
	s->nnotes--;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i] && !memcmp(s->v[i]->gid, q->n.gid, KONCE_CW_GROUP_ID) && q->n.pid > s->v[i]->polled_pid)
			s->v[i]->polled_pid = q->n.pid;
	s->returned = q;
	*n = q->n;
	return true;
}

void konce_nodecore_groups_persisted(konce_nodecore *c)
{
	struct ncgroups *s = c->groups;
	if (!s)
		return;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++) {
		struct ncgroup *x = s->v[i];
		if (x && x->polled_pid > x->done_pid && konce_group_persisted(x->g, x->polled_pid) == 0)
			x->done_pid = x->polled_pid;
	}
}

/* ---- hosting -------------------------------------------------------------------------------- */

static struct ncgroup **slot(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	struct ncgroups *s = c->groups;
	if (!s)
		return NULL;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i] && !memcmp(s->v[i]->gid, gid, KONCE_CW_GROUP_ID))
			return &s->v[i];
	return NULL;
}

/* The core's policy and snapshot callbacks: the application's, with the group's id. */
static bool x_policy(void *ctx, const uint8_t key[KONCE_CW_KEY])
{
	struct ncgroup *x = ctx;
	const konce_nc_group_app *a = &x->c->groups->app;
	return !a->policy || a->policy(a->policy_ctx, x->gid, key);
}

static int x_snapshot(void *ctx, const uint8_t **data, size_t *len)
{
	struct ncgroup *x = ctx;
	const konce_nc_group_app *a = &x->c->groups->app;
	if (!a->snapshot) {
		*data = NULL;
		*len = 0;
		return 0;
	}
	return a->snapshot(a->snapshot_ctx, x->gid, data, len);
}

int konce_nodecore_groups_app(konce_nodecore *c, const konce_nc_group_app *app)
{
	struct ncgroups *s = gs(c);
	if (!s)
		return -ENOMEM;
	s->app = *app;
	return 0;
}

int konce_nodecore_group_add(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID], konce_group **out)
{
	struct ncgroups *s = gs(c);
	*out = NULL;
	if (!s)
		return -ENOMEM;
	if (slot(c, gid))
		return -EEXIST;
	int i = 0;
	while (i < KONCE_NC_GROUPS_MAX && s->v[i])
		i++;
	if (i == KONCE_NC_GROUPS_MAX)
		return -ENOSPC;
	struct ncgroup *x = nc_alloc(c, sizeof(*x));
	if (!x)
		return -ENOMEM;
	memset(x, 0, sizeof(*x));
	x->c = c;
	memcpy(x->gid, gid, KONCE_CW_GROUP_ID);
	konce_group_config gc = {
		.env = c->env,
		.persist = {.ctx = x, .put_view = p_view, .put_vote = p_vote, .put_entries = p_entries,
			    .put_delivered = p_delivered, .put_snapshot = p_snapshot},
		.policy = x_policy,
		.policy_ctx = x,
		.snapshot = x_snapshot,
		.snapshot_ctx = x,
	};
	memcpy(gc.group, gid, KONCE_CW_GROUP_ID);
	memcpy(gc.self, c->pk, KONCE_CW_KEY);
	if (!(x->g = konce_group_new(&gc))) {
		nc_free(c, x);
		return -ENOMEM;
	}
	konce_group_set_wallclock(x->g, s->wall);
	if (c->cfg.group_max_batch && konce_group_set_max_batch(x->g, c->cfg.group_max_batch)) {
		konce_group_free(x->g);
		nc_free(c, x);
		return -EINVAL;
	}
	s->v[i] = x;
	*out = x->g;
	return 0;
}

static bool keys_have(const uint8_t (*keys)[KONCE_CW_KEY], unsigned n, const uint8_t pk[KONCE_CW_KEY])
{
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(keys[i], pk, KONCE_CW_KEY))
			return true;
	return false;
}

bool konce_nodecore_groups_have_key(const konce_nodecore *c, const uint8_t pk[KONCE_CW_KEY])
{
	if (!c->groups)
		return false;
	for (unsigned i = 0; i < KONCE_NC_GROUPS_MAX; i++) {
		const struct ncgroup *e = c->groups->v[i];
		const uint8_t (*keys)[KONCE_CW_KEY];
		if (!e)
			continue;
		unsigned n = konce_group_members(e->g, &keys);
		if (keys_have(keys, n, pk))
			return true;
		n = konce_group_join_targets(e->g, &keys);
		if (keys_have(keys, n, pk))
			return true;
	}
	return false;
}

konce_group *konce_nodecore_group_find(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	struct ncgroup **p = slot(c, gid);
	return p ? (*p)->g : NULL;
}

int konce_nodecore_group_remove(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	struct ncgroup **p = slot(c, gid);
	if (!p)
		return -ENOENT;
	struct ncgroups *s = c->groups;
	/* its queued notes go: nobody will acknowledge them */
	struct ncgnote **pp = &s->head;
	while (*pp) {
		struct ncgnote *q = *pp;
		if (!memcmp(q->n.gid, gid, KONCE_CW_GROUP_ID)) {
			*pp = q->next;
			s->nnotes--;
			gnote_free(c, q);
		} else {
			pp = &q->next;
		}
	}
	s->tail = &s->head;
	while (*s->tail)
		s->tail = &(*s->tail)->next;
	konce_group_free((*p)->g);
	nc_free(c, *p);
	*p = NULL;
	return 0;
}

void konce_nodecore_groups_each(konce_nodecore *c, void (*fn)(void *ctx, const uint8_t *gid, konce_group *g),
				void *ctx)
{
	struct ncgroups *s = c->groups;
	for (int i = 0; s && i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i])
			fn(ctx, s->v[i]->gid, s->v[i]->g);
}

void konce_nodecore_groups_wallclock(konce_nodecore *c, uint64_t unix_seconds)
{
	struct ncgroups *s = gs(c);
	if (!s)
		return;
	s->wall = unix_seconds;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i])
			konce_group_set_wallclock(s->v[i]->g, unix_seconds);
}

void konce_nodecore_groups_stats(const konce_nodecore *c, konce_nc_group_stats *out)
{
	if (c->groups)
		*out = c->groups->st;
	else
		memset(out, 0, sizeof(*out));
}

void ncgroup_free_all(konce_nodecore *c)
{
	struct ncgroups *s = c->groups;
	if (!s)
		return;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i])
			konce_nodecore_group_remove(c, s->v[i]->gid);
	gnote_free(c, s->returned);
	nc_free(c, s->evbuf);
	nc_free(c, s);
	c->groups = NULL;
}

/* ---- traffic, timers, events ---------------------------------------------------------------- */

void ncgroup_sent(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	/* G3: consumed in poll_event(); a lost group message is the protocol's to retransmit */
	(void)ctx, (void)outcome, (void)reason, (void)data, (void)len;
}

void konce_nodecore_groups_pump(konce_nodecore *c)
{
	struct ncgroups *s = c->groups;
	konce_group_out o;
	konce_send_opts so = {.keep_session = 1};
	if (!s || s->pumping)
		return;
	s->pumping = true;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		while (s->v[i] && konce_group_poll(s->v[i]->g, &o)) {
			if (konce_nodecore_send(c, o.to, KONCE_CLASS_GROUP, o.bytes, o.len, &so, ncgroup_sent, NULL,
						c->now, NULL)) {
				s->st.unsent++;
				continue;
			}
			/* a member's session carries a stream of short messages that must not wait a round
			 * trip each (a presence's limit, conn.h): keep its channel open */
			konce_ncpeer *p = konce_nodecore_peer_find(c, o.to);
			if (p && p->up && p->conn)
				konce_ep_msg_keep_channel(c->ep, p->conn);
		}
	s->pumping = false;
}

void ncgroup_on_message(konce_nodecore *c, const uint8_t from[KONCE_KEY_BYTES], const uint8_t *b, size_t len)
{
	konce_group *g;
	if (len < KONCE_CW_H_SIZE || !(g = konce_nodecore_group_find(c, b + KONCE_CW_H_GROUP))) {
		if (c->groups)
			c->groups->st.unrouted++;
		c->msgs_dropped++;
		return;
	}
	int e = konce_group_input(g, from, b, len, c->now);
	if (e == -EPERM)
		c->groups->st.not_member++;
	else if (e < 0)
		c->groups->st.rejected++;
	konce_nodecore_groups_pump(c);
}

void ncgroup_timer(konce_nodecore *c, uint64_t now)
{
	struct ncgroups *s = c->groups;
	for (int i = 0; s && i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i] && konce_group_next_timer(s->v[i]->g) <= now)
			konce_group_timer(s->v[i]->g, now);
	konce_nodecore_groups_pump(c);
}

uint64_t ncgroup_next_timer(const konce_nodecore *c)
{
	const struct ncgroups *s = c->groups;
	uint64_t at = UINT64_MAX;
	for (int i = 0; s && i < KONCE_NC_GROUPS_MAX; i++)
		if (s->v[i]) {
			uint64_t t = konce_group_next_timer(s->v[i]->g);
			if (t < at)
				at = t;
		}
	return at;
}

bool ncgroup_poll_event(konce_nodecore *c, konce_nc_event *ev)
{
	struct ncgroups *s = c->groups;
	if (!s)
		return false;
	konce_nodecore_groups_pump(c);
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++) {
		konce_group_event ge;
		if (!s->v[i] || !konce_group_poll_event(s->v[i]->g, &ge))
			continue;
		if (ge.len && ge.data) { /* G2: the copy outlives the next call into the group core */
			if (ge.len > s->evcap) {
				uint8_t *b = nc_alloc(c, ge.len);
				if (!b) {
					ge.len = 0; /* cannot happen for entries beyond KONCE_CW_SNAP_MAX */
				} else {
					nc_free(c, s->evbuf);
					s->evbuf = b;
					s->evcap = ge.len;
				}
			}
			if (ge.len)
				memcpy(s->evbuf, ge.data, ge.len);
			ge.data = s->evbuf;
		}
		memset(ev, 0, sizeof(*ev));
		ev->type = KONCE_NC_EV_GROUP;
		memcpy(ev->gid, s->v[i]->gid, KONCE_CW_GROUP_ID);
		ev->group = ge;
		return true;
	}
	return false;
}
