/* ncgstatus.c - read-only questions the application asks about a hosted group (ncgapp.h): whether
 * an invitation has committed, and the view member by member as the failure detector sees it, each
 * member named by its petname from the core's known-keys set (ncknown.c), so that no SQLite read
 * runs on the loop.  Sans-I/O: the caller passes the clocks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node/core/ncgapp.h"

_Static_assert(sizeof(((konce_group_member_status *)0)->name) > KONCE_NC_PETNAME_MAX, "a petname fits");

/* The core of the group named `name`, its info into *info, or NULL (*e says why). */
static konce_group *core_of(konce_ncgapp *t, konce_nodecore *c, const char *name, konce_group_info *info, int *e)
{
	if ((*e = konce_ncgapp_info(t, c, name, info)))
		return NULL;
	konce_group *g = konce_nodecore_group_find(c, info->id);
	if (!g)
		*e = -ENOENT;
	return g;
}

int konce_ncgapp_invite_status(konce_ncgapp *t, konce_nodecore *c, const char *name, const char *token,
			       uint64_t unix_s)
{
	konce_group_info info;
	int e;
	if (!token)
		return -EINVAL;
	konce_group *g = core_of(t, c, name, &info, &e);
	if (!g)
		return e;
	konce_ctoken *tok = sodium_malloc(sizeof *tok); /* it holds the secret */
	if (!tok)
		return -ENOMEM;
	if (konce_ctoken_from_text(tok, token) || memcmp(tok->group, info.id, KONCE_CW_GROUP_ID)) {
		sodium_free(tok);
		return -EINVAL;
	}
	konce_nodecore_groups_wallclock(c, unix_s);
	e = konce_group_invite_state(g, tok->secret);
	sodium_free(tok);
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

int konce_ncgapp_status(konce_ncgapp *t, konce_nodecore *c, const char *name, uint64_t now_us,
			konce_group_status *out)
{
	int e;
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	konce_group *g = core_of(t, c, name, &out->info, &e);
	if (!g)
		return e;
	if (out->info.state != KONCE_GROUP_S_MEMBER && out->info.state != KONCE_GROUP_S_VIEWCHANGE)
		return -ENOTCONN;
	out->catching_up = konce_group_catching_up(g);
	out->last = konce_group_last(g);
	const uint8_t *self = konce_nodecore_public_key(c);
	const uint8_t(*keys)[KONCE_CW_KEY];
	unsigned m = konce_group_members(g, &keys);
	unsigned coord = konce_group_coordinator(g);
	for (unsigned i = 0; i < m && i < KONCE_GROUP_MEMBERS_MAX; i++) {
		konce_group_member_status *ms = &out->members[i];
		konce_group_mstatus st;
		memcpy(ms->key, keys[i], KONCE_KEY_BYTES);
		ms->self = !memcmp(keys[i], self, KONCE_KEY_BYTES);
		ms->coordinator = i == coord;
		if (konce_group_member_info(g, i, &st))
			continue;
		ms->heard_ms = ms->self || now_us < st.last_heard ? 0 : (int64_t)((now_us - st.last_heard) / 1000);
		ms->acked = st.acked_known ? (int64_t)st.acked : -1;
		ms->suspicion = suspicion(st.suspicion);
		if (!ms->self) /* no petname (-ENOENT) leaves the name "" */
			konce_nodecore_known_petname(c, keys[i], ms->name);
	}
	return 0;
}
