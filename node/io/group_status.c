/* group_status.c - read-only questions about a hosted group, over the public API of
 * include/konce/group.h: whether an invitation has committed (konce_node_group_invite_status). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "consensus/ctoken.h"
#include "konce/group.h"
#include "node/core/ncgroup.h"
#include "node/io/node_int.h"

/* The core of the group named `name` on this node, or NULL (*e says why). */
static konce_group *core_of(konce_node *n, const char *name, konce_group_info *info, int *e)
{
	if ((*e = konce_node_group_info(n, name, info)))
		return NULL;
	konce_group *g = konce_nodecore_group_find(n->core, info->id);
	if (!g)
		*e = -ENOENT;
	return g;
}

int konce_node_group_invite_status(konce_node *n, const char *name, const char *token)
{
	konce_group_info info;
	int e;
	if (!n || !n->core || !token)
		return -EINVAL;
	konce_group *g = core_of(n, name, &info, &e);
	if (!g)
		return e;
	konce_ctoken *t = sodium_malloc(sizeof *t); /* it holds the secret */
	if (!t)
		return -ENOMEM;
	if (konce_ctoken_from_text(t, token) || memcmp(t->group, info.id, KONCE_CW_GROUP_ID)) {
		sodium_free(t);
		return -EINVAL;
	}
	konce_nodecore_groups_wallclock(n->core, (uint64_t)time(NULL));
	e = konce_group_invite_state(g, t->secret);
	sodium_free(t);
	return e;
}
