/* ncgrestore.c - a group the store holds, at start (ncgapp.h): hosted again for the host to
 * restore into, named, or unhosted when it cannot be restored or named; and what it owes the
 * application.  A group restored as a member (not still joining) gets its application state back,
 * the snapshot it joined by and then the entries it had delivered up to the delivery point the
 * core restarted from, as `replayed` notices.  Each group is owed this once, and it comes before
 * the group's first new event (or earlier, once the application listens), so the new DECIDED
 * notices follow the replayed ones without a gap.  The host reads the store
 * (konce_store_group_restore, konce_store_group_replay). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
}

konce_ncgapp_name *konce_ncgapp_replay_next(konce_ncgapp *t, const uint8_t *gid)
{
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++) {
		konce_ncgapp_name *x = &t->names[i];
		if (x->used && x->replay && (!gid || !memcmp(x->gid, gid, KONCE_CW_GROUP_ID))) {
			x->replay = false;
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
