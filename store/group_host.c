/* group_host.c - the store's group primitives for the node core's group API (group_host.h). */
#include "store/group_host.h"

_Static_assert((int)KONCE_CW_GROUP_ID == (int)KONCE_STORE_GROUP_ID, "one group id for the core and the store");

static int st_add(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name, char *err, size_t errlen)
{
	return konce_store_group_add(ctx, gid, name, NULL, 0, NULL, err, errlen);
}
static int st_add_join(void *ctx, const konce_ctoken *t, const char *name, uint64_t until, char *err, size_t errlen)
{
	return konce_store_group_add_join(ctx, t->group, name, &t->keys[0][0], t->n, t->secret, until, err, errlen);
}
static int st_remove(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], char *err, size_t errlen)
{
	return konce_store_group_remove(ctx, gid, err, errlen);
}
static int st_delivered(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t *delivered)
{
	konce_store_group_rec r;
	int e = konce_store_group_get(ctx, gid, &r);
	if (!e) {
		*delivered = r.delivered;
		konce_store_group_rec_free(&r);
	}
	return e;
}
static int st_entries(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t first, uint64_t last,
		      konce_ncgapi_entry_fn fn, void *fnctx)
{
	return konce_store_group_entries(ctx, gid, first, last, fn, fnctx);
}
static int st_each(void *ctx, konce_ncgapi_each_fn fn, void *fnctx) { return konce_store_groups_each(ctx, fn, fnctx); }
static int st_restore(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], konce_group *g, uint64_t now_us, char *err,
		      size_t errlen)
{
	return konce_store_group_restore(ctx, gid, g, now_us, err, errlen);
}
static int st_read(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		   konce_ncgapi_entry_fn entry, void *fnctx)
{
	return konce_store_group_replay(ctx, gid, upto, snap, entry, fnctx);
}

const konce_ncgapi_host konce_store_group_prims = {.add = st_add, .add_join = st_add_join, .remove = st_remove,
						   .delivered = st_delivered, .entries = st_entries, .each = st_each,
						   .restore = st_restore, .read = st_read};

size_t konce_store_group_pending_of(void *st) { return konce_store_group_pending(st); }

void konce_store_group_host(konce_ncgapi_host *h, konce_store *st)
{
	h->store = st;
	h->add = st_add;
	h->add_join = st_add_join;
	h->remove = st_remove;
	h->delivered = st_delivered;
	h->entries = st_entries;
	h->each = st_each;
	h->restore = st_restore;
	h->read = st_read;
}
