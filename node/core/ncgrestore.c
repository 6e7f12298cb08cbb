/* ncgrestore.c - a group the store holds, at start (ncgapp.h): hosted again for the host to
 * restore into, named, or unhosted when it cannot be restored or named; and what it owes the
 * application.  A group restored as a member (not still joining) gets its application state back,
 * the snapshot it joined by and then the entries it had delivered up to the delivery point the
 * core restarted from, as `replayed` notices.  Each group is owed this once, and it comes before
 * the group's first new event (or earlier, once the application listens), so the new DECIDED
 * notices follow the replayed ones without a gap.  The host reads the store
 * (konce_store_group_restore, konce_store_group_replay), on its loop or ahead on another thread
 * into a tape (ncgapi.h konce_ncgapi_tape), a bounded stretch at a time, that the loop plays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/core/ncgapi.h"
#include "node/core/ncgapp.h"

int konce_ncgapp_restore_host(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t unix_s,
			      konce_group **g)
{
	int e = konce_nodecore_group_add(c, gid, g);
	if (!e)
		konce_nodecore_groups_wallclock(c, unix_s);
	return e;
}

konce_ncgapp_name *konce_ncgapp_restored(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID],
					 const char *name, int err)
{
	konce_group *g = konce_nodecore_group_find(c, gid);
	konce_ncgapp_name *x = err || !g ? NULL : konce_ncgapp_bind(t, gid, name);
	if (!x) {
		konce_nodecore_group_remove(c, gid);
		return NULL;
	}
	x->joining = konce_group_state(g) == KONCE_GROUP_JOINING;
	return x;
}

bool konce_ncgapp_replay_due(const konce_ncgapp_name *x) { return !x->joining; }

void konce_ncgapp_replay_owe(konce_ncgapp_name *x, uint64_t delivered)
{
	x->replay = true;
	x->replay_upto = delivered;
	x->replayed = 0;
}

konce_ncgapp_name *konce_ncgapp_replay_next(konce_ncgapp *t, const uint8_t *gid, int *pos)
{
	for (int i = *pos; i < KONCE_NC_GROUPS_MAX; i++) {
		konce_ncgapp_name *x = &t->names[i];
		if (x->used && x->replay && (!gid || !memcmp(x->gid, gid, KONCE_CW_GROUP_ID))) {
			x->replay = false;
			*pos = i + 1;
			return x;
		}
	}
	return NULL;
}

void konce_ncgapp_replay_notice(const konce_ncgapp_name *x, konce_group_notice *o)
{
	memset(o, 0, sizeof *o);
	snprintf(o->name, sizeof o->name, "%s", x->name);
	memcpy(o->id, x->gid, KONCE_CW_GROUP_ID);
	o->replayed = 1;
}

void konce_ncgapp_replay_snapshot(konce_group_notice *o, uint64_t seq, const uint8_t *data, size_t len)
{
	o->type = KONCE_GROUP_N_SNAPSHOT;
	o->seq = seq;
	o->data = data;
	o->len = len;
}

int konce_ncgapp_replay_entry(konce_group_notice *o, uint64_t seq, const uint8_t *e, size_t len)
{
	konce_cw_entry en;
	if (konce_cw_entry_parse(&en, e, len, NULL) != KONCE_CW_OK)
		return -1;
	if (en.kind != KONCE_CW_E_APP)
		return 0; /* the group's own (invitations): not the application's */
	o->type = KONCE_GROUP_N_DECIDED;
	o->seq = seq;
	memcpy(o->origin, en.origin, sizeof o->origin);
	o->nonce = en.nonce;
	o->data = en.data;
	o->len = en.len;
	return 1;
}

void konce_ncgapp_notify(const konce_ncgapp *t, const konce_group_notice *o)
{
	if (t->notify)
		t->notify(t->notify_ctx, o);
}

int konce_ncgapp_replay_snap_cb(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	konce_ncgapp_replayer *r = ctx;
	konce_group_notice o = r->o;
	konce_ncgapp_replay_snapshot(&o, seq, data, len);
	konce_ncgapp_notify(r->t, &o);
	return 0;
}

int konce_ncgapp_replay_entry_cb(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	konce_ncgapp_replayer *r = ctx;
	konce_group_notice o = r->o;
	int k = konce_ncgapp_replay_entry(&o, seq, e, len);
	if (k < 0)
		return 1;
	if (k) {
		r->decided++;
		konce_ncgapp_notify(r->t, &o);
	}
	return 0;
}

/* ---- a replay read ahead (ncgapi.h konce_ncgapi_tape) ----------------------------------------- */

enum { TAPE_SNAP = 1, TAPE_ENTRY = 2, TAPE_HEAD = 1 + 8 + 4 };

static int tape_put(konce_ncgapi_tape *t, uint8_t kind, uint64_t seq, const uint8_t *b, size_t len)
{
	if (len > UINT32_MAX || t->len + TAPE_HEAD + len < t->len) {
		t->nomem = true;
		return -1;
	}
	size_t need = t->len + TAPE_HEAD + len;
	if (need > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *nb = realloc(t->buf, cap);
		if (!nb) {
			t->nomem = true;
			return -1;
		}
		t->buf = nb;
		t->cap = cap;
	}
	uint8_t *p = t->buf + t->len;
	uint32_t l = (uint32_t)len;
	p[0] = kind;
	memcpy(p + 1, &seq, 8);
	memcpy(p + 9, &l, 4);
	if (len)
		memcpy(p + TAPE_HEAD, b, len);
	t->len = need;
	return 0;
}

int konce_ncgapi_tape_snap(void *tape, uint64_t seq, const uint8_t *data, size_t len)
{
	return tape_put(tape, TAPE_SNAP, seq, data, len);
}

int konce_ncgapi_tape_entry(void *tape, uint64_t seq, const uint8_t *e, size_t len)
{
	konce_ncgapi_tape *t = tape;
	if (t->next && seq != t->next) { /* a further stretch's entry the log lacks */
		t->gap = true;
		return 1;
	}
	if (tape_put(t, TAPE_ENTRY, seq, e, len))
		return 1;
	t->next = seq + 1;
	t->n++;
	if (seq < t->upto && (t->n >= KONCE_NCGAPI_TAPE_ENTRIES || t->len >= KONCE_NCGAPI_TAPE_BYTES)) {
		t->more = true; /* the stretch is full: the next one goes on from t->next */
		return 1;
	}
	return 0;
}

int konce_ncgapi_tape_read(konce_ncgapi_tape *t, const konce_ncgapi_host *h, void *ctx,
			   const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto)
{
	bool first = !t->next;
	int r;
	t->len = 0;
	t->n = 0;
	t->upto = upto;
	t->more = t->gap = t->nomem = false;
	if (first) {
		r = h->read(ctx, gid, upto, konce_ncgapi_tape_snap, konce_ncgapi_tape_entry, t);
	} else {
		r = h->entries(ctx, gid, t->next, upto, konce_ncgapi_tape_entry, t);
		if (r >= 0 && !t->more && t->next != upto + 1)
			t->gap = true; /* the log ends before upto */
	}
	t->result = t->gap ? -ENODATA : t->more ? 0 : r;
	return t->result;
}

int konce_ncgapi_tape_play(const konce_ncgapi_tape *t, konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry,
			   void *ctx)
{
	for (size_t off = 0; off + TAPE_HEAD <= t->len;) {
		const uint8_t *p = t->buf + off;
		uint64_t seq;
		uint32_t l;
		memcpy(&seq, p + 1, 8);
		memcpy(&l, p + 9, 4);
		if ((p[0] == TAPE_SNAP ? snap : entry)(ctx, seq, p + TAPE_HEAD, l))
			return -ECANCELED;
		off += TAPE_HEAD + l;
	}
	return t->nomem ? -ENOMEM : t->result;
}

void konce_ncgapi_tape_free(konce_ncgapi_tape *t)
{
	free(t->buf);
	memset(t, 0, sizeof *t);
}

/* Frees the played stretch's memory and keeps the cursor for the next one. */
static void tape_played(konce_ncgapi_tape *t)
{
	uint64_t next = t->next;
	konce_ncgapi_tape_free(t);
	t->next = next;
}

/* ---- the replays read ahead (ncgapi.h konce_ncgapi_ahead) ------------------------------------- */

konce_ncgapi_slot *konce_ncgapi_ahead_find(konce_ncgapi_ahead *ah, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	for (int j = 0; j < KONCE_NC_GROUPS_MAX; j++)
		if (ah->slot[j].state != KONCE_NCGAPI_AHEAD_FREE && !memcmp(ah->slot[j].gid, gid, KONCE_CW_GROUP_ID))
			return &ah->slot[j];
	return NULL;
}

static konce_ncgapi_slot *ahead_free_slot(konce_ncgapi_ahead *ah, const uint8_t gid[KONCE_CW_GROUP_ID],
					  uint64_t upto)
{
	for (int j = 0; j < KONCE_NC_GROUPS_MAX; j++) {
		konce_ncgapi_slot *s = &ah->slot[j];
		if (s->state == KONCE_NCGAPI_AHEAD_FREE) {
			konce_ncgapi_tape_free(&s->tape);
			memcpy(s->gid, gid, KONCE_CW_GROUP_ID);
			s->upto = upto;
			s->state = KONCE_NCGAPI_AHEAD_UNREAD;
			return s;
		}
	}
	return NULL; /* never, while groups are at most KONCE_NC_GROUPS_MAX */
}

konce_ncgapi_slot *konce_ncgapi_ahead_take(konce_ncgapi_ahead *ah, const uint8_t gid[KONCE_CW_GROUP_ID],
					   uint64_t upto)
{
	konce_ncgapi_slot *s = konce_ncgapi_ahead_find(ah, gid);
	return s ? s : ahead_free_slot(ah, gid, upto);
}

unsigned konce_ncgapi_ahead_plan(const konce_ncgapi *a, konce_ncgapi_ahead *ah, konce_ncgapi_slot **out)
{
	uint8_t gid[KONCE_NC_GROUPS_MAX][KONCE_CW_GROUP_ID];
	uint64_t upto[KONCE_NC_GROUPS_MAX];
	unsigned owed = konce_ncgapi_replay_owed(a, gid, upto, KONCE_NC_GROUPS_MAX), k = 0;
	for (unsigned i = 0; i < owed; i++) {
		konce_ncgapi_slot *s = konce_ncgapi_ahead_take(ah, gid[i], upto[i]);
		if (!s || s->state != KONCE_NCGAPI_AHEAD_UNREAD)
			continue; /* read already, or being read */
		s->state = KONCE_NCGAPI_AHEAD_READING;
		out[k++] = s;
	}
	if (k)
		ah->reading++;
	return k;
}

void konce_ncgapi_ahead_drop(konce_ncgapi_ahead *ah, konce_ncgapi_slot **s, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		s[i]->state = KONCE_NCGAPI_AHEAD_UNREAD;
	if (k)
		ah->reading--;
}

void konce_ncgapi_ahead_read(konce_ncgapi_ahead *ah, konce_ncgapi_slot **s, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		s[i]->state = KONCE_NCGAPI_AHEAD_READY;
	if (k)
		ah->reading--;
}

int konce_ncgapi_ahead_play(konce_ncgapi_slot *s, konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry, void *ctx)
{
	int e = konce_ncgapi_tape_play(&s->tape, snap, entry, ctx);
	bool more = !e && s->tape.more;
	tape_played(&s->tape);
	if (more) {
		s->state = KONCE_NCGAPI_AHEAD_UNREAD;
		return 1;
	}
	konce_ncgapi_tape_free(&s->tape);
	s->state = KONCE_NCGAPI_AHEAD_FREE;
	return e < 0 ? e : 0;
}

void konce_ncgapi_ahead_prune(const konce_ncgapi *a, konce_ncgapi_ahead *ah)
{
	for (int j = 0; j < KONCE_NC_GROUPS_MAX; j++) {
		konce_ncgapi_slot *s = &ah->slot[j];
		if (s->state != KONCE_NCGAPI_AHEAD_READY && s->state != KONCE_NCGAPI_AHEAD_UNREAD)
			continue;
		bool owed = false;
		for (int i = 0; a->t && i < KONCE_NC_GROUPS_MAX && !owed; i++)
			owed = a->t->names[i].used && a->t->names[i].replay &&
			       !memcmp(a->t->names[i].gid, s->gid, KONCE_CW_GROUP_ID);
		if (!owed) {
			konce_ncgapi_tape_free(&s->tape);
			s->state = KONCE_NCGAPI_AHEAD_FREE;
		}
	}
}

void konce_ncgapi_ahead_free(konce_ncgapi_ahead *ah)
{
	for (int j = 0; j < KONCE_NC_GROUPS_MAX; j++) {
		konce_ncgapi_tape_free(&ah->slot[j].tape);
		ah->slot[j].state = KONCE_NCGAPI_AHEAD_FREE;
	}
	ah->reading = 0;
}
