/* group_core.c - the consensus core's persistence (consensus/cgroup.h) on the store: a
 * konce_group_persist whose calls queue records (groups.c), the same for a persist call a host
 * carried here as a note (consensus/cnote.h), a restart from what is durable, and the
 * application's state handed back after it (konce_store_group_replay). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "consensus/cgroup.h"
#include "consensus/cnote.h"
#include "store/store_int.h"

_Static_assert((int)KONCE_STORE_GROUP_ID == (int)KONCE_CW_GROUP_ID, "one group id size");

static int queued(int rc) { return rc ? rc : KONCE_GROUP_PERSIST_QUEUED; }

static int b_view(void *ctx, const uint8_t *value, size_t len)
{
	konce_store_group_binding *b = ctx;
	return queued(konce_store_group_note_view(b->st, b->gid, value, len));
}

static int b_vote(void *ctx, uint64_t base, uint64_t promised, uint64_t acc_ballot, const uint8_t *value, size_t len)
{
	konce_store_group_binding *b = ctx;
	return queued(konce_store_group_note_vote(b->st, b->gid, base, promised, acc_ballot, value, len));
}

static int b_entries(void *ctx, uint64_t first, unsigned count, const uint8_t *entries, size_t len)
{
	konce_store_group_binding *b = ctx;
	return queued(konce_store_group_note_entries(b->st, b->gid, first, count, entries, len));
}

static int b_delivered(void *ctx, uint64_t seq)
{
	konce_store_group_binding *b = ctx;
	return queued(konce_store_group_note_delivered(b->st, b->gid, seq));
}

static int b_snapshot(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	konce_store_group_binding *b = ctx;
	return queued(konce_store_group_note_snapshot(b->st, b->gid, seq, data, len));
}

void konce_store_group_persist(konce_store_group_binding *b, konce_group_persist *out)
{
	*out = (konce_group_persist){.ctx = b, .put_view = b_view, .put_vote = b_vote, .put_entries = b_entries,
				     .put_delivered = b_delivered, .put_snapshot = b_snapshot};
}

int konce_store_group_note(konce_store *st, const konce_cnote *n)
{
	switch (n->type) {
	case KONCE_CNOTE_VIEW: return konce_store_group_note_view(st, n->gid, n->bytes, n->len);
	case KONCE_CNOTE_VOTE: return konce_store_group_note_vote(st, n->gid, n->a, n->b, n->c, n->bytes, n->len);
	case KONCE_CNOTE_ENTRIES: return konce_store_group_note_entries(st, n->gid, n->a, n->count, n->bytes, n->len);
	case KONCE_CNOTE_DELIVERED: return konce_store_group_note_delivered(st, n->gid, n->a);
	case KONCE_CNOTE_SNAPSHOT: return konce_store_group_note_snapshot(st, n->gid, n->a, n->bytes, n->len);
	}
	return -EINVAL;
}

struct restore_ctx {
	konce_group *g;
	int rc;
	uint64_t seq;
};

static int restore_one(void *ctx, uint64_t seq, const uint8_t *entry, size_t len)
{
	struct restore_ctx *c = ctx;
	c->rc = konce_group_restore_entry(c->g, seq, entry, len);
	c->seq = seq;
	return c->rc != 0;
}

static int invite_one(void *ctx, const uint8_t *e, size_t len)
{
	return konce_group_restore_invite(((struct restore_ctx *)ctx)->g, e, len) ? 1 : 0;
}

static int used_one(void *ctx, const uint8_t hash[32])
{
	return konce_group_restore_used(((struct restore_ctx *)ctx)->g, hash) ? 1 : 0;
}

int konce_store_group_restore(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], konce_group *g,
			      uint64_t now, char *err, size_t errlen)
{
	konce_store_group_rec r;
	int e = konce_store_group_get(st, gid, &r);
	if (e) {
		snprintf(err, errlen, "group: %s", e == -ENOENT ? "no such group in the store" : "cannot read it from the store");
		return e;
	}
	if (!r.view && r.join_n) {
		e = konce_group_join(g, (const uint8_t (*)[KONCE_CW_KEY])r.join_keys, r.join_n, r.join_secret, now);
		if (!e && r.join_until && (e = konce_group_join_deadline_unix(g, r.join_until)) == -EINVAL)
			e = 0; /* the time left, not a new one; without a wall clock, the default from now */
		if (e)
			snprintf(err, errlen, "group: cannot resume the pending join: %d", e);
	} else if (!r.view) {
		snprintf(err, errlen, "group: the store holds no view and no pending join for it");
		e = -ENOENT;
	} else if ((e = konce_group_restore(g, r.view, r.view_len, r.vote_base, r.promised, r.acc_ballot, r.acc_value,
					    r.acc_len, r.delivered, now))) {
		snprintf(err, errlen, "group: the stored view or vote is refused by the core (%d)", e);
	} else {
		struct restore_ctx c = {.g = g};
		int n = konce_store_group_entries(st, gid, r.delivered + 1, UINT64_MAX, restore_one, &c);
		e = n < 0 ? n : c.rc;
		if (e) {
			snprintf(err, errlen, "group: stored entry %llu is refused (%d)", (unsigned long long)c.seq, e);
		} else if ((n = konce_store_group_invites(st, gid, r.delivered, invite_one, used_one, &c)) < 0) {
			e = n == -ECANCELED ? -EINVAL : n; /* the core refused one */
			snprintf(err, errlen, "group: the stored invitations are refused (%d)", e);
		} else if (r.needs_state && (e = konce_group_restore_catchup(g))) {
			snprintf(err, errlen, "group: cannot resume the state transfer (%d)", e);
		} else if (!r.needs_state && r.snapshot) {
			/* the invitations a joiner's snapshot brought; a snapshot stored before the
			 * stream had a core section teaches nothing (the member abstains on them) */
			(void)konce_group_restore_snapshot(g, r.snapshot, r.snap_len);
		}
	}
	konce_store_group_rec_free(&r);
	return e;
}

struct replay_ctx {
	int (*entry)(void *ctx, uint64_t seq, const uint8_t *e, size_t len);
	void *ctx;
	uint64_t next;
	int rc;
};

static int replay_one(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	struct replay_ctx *c = ctx;
	if (seq != c->next) {
		c->rc = -ENODATA; /* a delivered entry the log lacks: the state cannot be rebuilt */
		return 1;
	}
	c->next++;
	if (c->entry(c->ctx, seq, e, len)) {
		c->rc = -ECANCELED;
		return 1;
	}
	return 0;
}

int konce_store_group_replay(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t upto,
			     int (*snap)(void *ctx, uint64_t seq, const uint8_t *data, size_t len),
			     int (*entry)(void *ctx, uint64_t seq, const uint8_t *e, size_t len), void *ctx)
{
	konce_store_group_rec r;
	int e = konce_store_group_get(st, gid, &r);
	if (e)
		return e;
	if (!r.view || r.needs_state) {
		konce_store_group_rec_free(&r);
		return 0; /* joining, or waiting for a snapshot: no state here yet */
	}
	if (upto > r.delivered)
		upto = r.delivered;
	uint64_t first = 1;
	if (r.snap_seq && r.snapshot) {
		konce_cw_invite inv[KONCE_CW_SNAP_INVITES];
		unsigned n = 0;
		size_t core = 0;
		/* the stream: the core section, then the application's bytes (a stream stored
		 * without a core section is the application's bytes alone) */
		if (konce_cw_snapcore_parse(inv, &n, r.snapshot, r.snap_len, &core) != KONCE_CW_OK)
			core = 0;
		if (snap(ctx, r.snap_seq, r.snapshot + core, r.snap_len - core)) {
			konce_store_group_rec_free(&r);
			return -ECANCELED;
		}
		first = r.snap_seq + 1;
	}
	konce_store_group_rec_free(&r);
	if (first > upto)
		return 0;
	struct replay_ctx c = {.entry = entry, .ctx = ctx, .next = first};
	int n = konce_store_group_entries(st, gid, first, upto, replay_one, &c);
	if (n < 0)
		return n;
	if (c.rc)
		return c.rc;
	if (c.next != upto + 1)
		return -ENODATA;
	return (int)(upto - first + 1 > INT32_MAX ? INT32_MAX : upto - first + 1);
}
