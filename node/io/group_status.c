/* group_status.c - read-only questions about a hosted group, over the public API of
 * include/konce/group.h: whether an invitation has committed (konce_node_group_invite_status),
 * and the view member by member as the failure detector sees it (konce_node_group_status). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "consensus/ctoken.h"
#include "konce/group.h"
#include "node/core/ncgroup.h"
#include "node/io/node_int.h"
#include "store/store.h"

_Static_assert(sizeof(((konce_group_member_status *)0)->name) > KONCE_STORE_PETNAME_MAX, "a petname fits");

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

static int suspicion(enum konce_group_suspicion s)
{
	switch (s) {
	case KONCE_GROUP_SUSP_GRACE: return KONCE_GROUP_IN_GRACE;
	case KONCE_GROUP_SUSP_SILENT: return KONCE_GROUP_SILENT;
	case KONCE_GROUP_SUSP_PROBING: return KONCE_GROUP_PROBING;
	case KONCE_GROUP_SUSP_SUSPECT: return KONCE_GROUP_SUSPECTED;
	default: return KONCE_GROUP_HEALTHY;
	}
}

int konce_node_group_status(konce_node *n, const char *name, konce_group_status *out)
{
	int e;
	if (!n || !n->core || !out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	konce_group *g = core_of(n, name, &out->info, &e);
	if (!g)
		return e;
	if (out->info.state != KONCE_GROUP_S_MEMBER && out->info.state != KONCE_GROUP_S_VIEWCHANGE)
		return -ENOTCONN;
	out->catching_up = konce_group_catching_up(g);
	out->last = konce_group_last(g);
	uint64_t now = node_now_us();
	const uint8_t(*keys)[KONCE_CW_KEY];
	unsigned m = konce_group_members(g, &keys);
	unsigned coord = konce_group_coordinator(g);
	for (unsigned i = 0; i < m && i < KONCE_GROUP_MEMBERS_MAX; i++) {
		konce_group_member_status *ms = &out->members[i];
		konce_group_mstatus st;
		memcpy(ms->key, keys[i], KONCE_KEY_BYTES);
		ms->self = !memcmp(keys[i], n->pk, KONCE_KEY_BYTES);
		ms->coordinator = i == coord;
		if (konce_group_member_info(g, i, &st))
			continue;
		ms->heard_ms = ms->self || now < st.last_heard ? 0 : (int64_t)((now - st.last_heard) / 1000);
		ms->acked = st.acked_known ? (int64_t)st.acked : -1;
		ms->suspicion = suspicion(st.suspicion);
		konce_peer_rec rec;
		if (!ms->self && n->store && !konce_store_peer_get(n->store, keys[i], &rec))
			snprintf(ms->name, sizeof ms->name, "%s", rec.petname);
	}
	return 0;
}
