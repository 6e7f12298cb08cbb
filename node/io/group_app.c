/* group_app.c - the application's join policy and snapshot callbacks for every group on the node
 * (include/konce/group.h), wired into the groups the node core hosts (konce_nodecore_groups_app):
 * the core calls back with a group's id, and this file names the group as the application knows
 * it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "konce/group.h"
#include "node/core/ncgroup.h"
#include "node/io/node_int.h"

_Static_assert((int)KONCE_GROUP_SNAPSHOT_MAX <= (int)KONCE_CW_SNAP_MAX - (int)KONCE_CW_SNAP_CORE_MAX,
	       "an application snapshot fits beside the core section");

/* The local name of the group with this id into name (KONCE_GROUP_NAME_MAX + 1); false if none.
 * Runs only on a join vote or a snapshot request. */
static bool group_name(konce_node *n, const uint8_t gid[KONCE_CW_GROUP_ID], char *name)
{
	enum { LIST_MAX = 64 };
	konce_group_info *v = calloc(LIST_MAX, sizeof *v);
	bool found = false;
	if (!v)
		return false;
	int k = konce_node_group_list(n, v, LIST_MAX);
	for (int i = 0; i < k && i < LIST_MAX && !found; i++)
		if (!memcmp(v[i].id, gid, KONCE_CW_GROUP_ID)) {
			memcpy(name, v[i].name, sizeof v[i].name);
			found = true;
		}
	free(v);
	return found;
}

static bool on_policy(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const uint8_t key[KONCE_CW_KEY])
{
	konce_node *n = ctx;
	char name[KONCE_GROUP_NAME_MAX + 1];
	if (!n->group_policy)
		return true;
	if (!group_name(n, gid, name))
		return false; /* a group the application cannot be asked about: no yes from us */
	return n->group_policy(n->group_policy_ctx, name, key) != 0;
}

static int on_snapshot(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const uint8_t **data, size_t *len)
{
	konce_node *n = ctx;
	char name[KONCE_GROUP_NAME_MAX + 1];
	*data = NULL;
	*len = 0;
	if (!n->group_snapshot)
		return 0;
	if (!group_name(n, gid, name))
		return -ENOENT;
	int r = n->group_snapshot(n->group_snapshot_ctx, name, data, len);
	if (r)
		return -EAGAIN;
	return *len > KONCE_GROUP_SNAPSHOT_MAX || (*len && !*data) ? -EMSGSIZE : 0;
}

static int wire(konce_node *n)
{
	if (!n || !n->core)
		return -EINVAL;
	if (!n->groups)
		return -ENOTSUP;
	konce_nc_group_app app = {.policy = on_policy, .snapshot = on_snapshot, .policy_ctx = n, .snapshot_ctx = n};
	return konce_nodecore_groups_app(n->core, &app);
}

int konce_node_group_on_join_request(konce_node *n, konce_group_policy_fn fn, void *ctx)
{
	int e = wire(n);
	if (e)
		return e;
	n->group_policy = fn;
	n->group_policy_ctx = ctx;
	return 0;
}

int konce_node_group_on_snapshot(konce_node *n, konce_group_snapshot_fn fn, void *ctx)
{
	int e = wire(n);
	if (e)
		return e;
	n->group_snapshot = fn;
	n->group_snapshot_ctx = ctx;
	return 0;
}
