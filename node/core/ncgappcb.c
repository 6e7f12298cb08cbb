/* ncgappcb.c - the application's join policy and snapshot callbacks for every hosted group
 * (include/konce/group.h), wired into the core (konce_nodecore_groups_app) with the ncgapp table as
 * their context: the core calls back with a group's id, and this file names the group as the
 * application knows it and holds the application to the snapshot's bounds (ncgapp.h). */
#include <errno.h>
#include <string.h>

#include "node/core/ncgapp.h"

_Static_assert((int)KONCE_GROUP_SNAPSHOT_MAX <= (int)KONCE_CW_SNAP_MAX - (int)KONCE_CW_SNAP_CORE_MAX,
	       "an application snapshot fits beside the core section");

static bool on_policy(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const uint8_t key[KONCE_CW_KEY])
{
	konce_ncgapp *t = ctx;
	if (!t->policy)
		return true;
	const konce_ncgapp_name *x = konce_ncgapp_by_gid(t, gid);
	if (!x)
		return false; /* a group the application cannot be asked about: no yes from us */
	return t->policy(t->policy_ctx, x->name, key) != 0;
}

static int on_snapshot(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const uint8_t **data, size_t *len)
{
	konce_ncgapp *t = ctx;
	*data = NULL;
	*len = 0;
	if (!t->snapshot)
		return 0;
	const konce_ncgapp_name *x = konce_ncgapp_by_gid(t, gid);
	if (!x)
		return -ENOENT;
	if (t->snapshot(t->snapshot_ctx, x->name, data, len))
		return -EAGAIN;
	return *len > KONCE_GROUP_SNAPSHOT_MAX || (*len && !*data) ? -EMSGSIZE : 0;
}

static int wire(konce_ncgapp *t, konce_nodecore *c)
{
	konce_nc_group_app app = {.policy = on_policy, .snapshot = on_snapshot, .policy_ctx = t, .snapshot_ctx = t};
	int e = konce_nodecore_groups_app(c, &app);
	t->wired |= !e;
	return e;
}

int konce_ncgapp_on_join_request(konce_ncgapp *t, konce_nodecore *c, konce_group_policy_fn fn, void *ctx)
{
	int e = wire(t, c);
	if (e)
		return e;
	t->policy = fn;
	t->policy_ctx = ctx;
	return 0;
}

int konce_ncgapp_on_snapshot(konce_ncgapp *t, konce_nodecore *c, konce_group_snapshot_fn fn, void *ctx)
{
	int e = wire(t, c);
	if (e)
		return e;
	t->snapshot = fn;
	t->snapshot_ctx = ctx;
	return 0;
}

void konce_ncgapp_unwire(konce_ncgapp *t, konce_nodecore *c)
{
	if (!t->wired)
		return;
	konce_nodecore_groups_app(c, &(konce_nc_group_app){0});
	t->wired = false;
}
