/* ctl_group_status.c - the control protocol's "group.status" answer (docs/CONTROL.md "Groups"):
 * the view of one group member by member, from konce_node_group_status(). */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "konce/group.h"
#include "node/ctl/ctl_int.h"
#include "node/transport/keytext.h"

static const char *state_name(int s)
{
	return s == KONCE_GROUP_S_MEMBER ? "member" : s == KONCE_GROUP_S_VIEWCHANGE ? "view-change"
	       : s == KONCE_GROUP_S_OUT  ? "out" : "joining";
}

static const char *suspicion_name(int s)
{
	return s == KONCE_GROUP_IN_GRACE ? "grace" : s == KONCE_GROUP_SILENT ? "silent"
	       : s == KONCE_GROUP_PROBING ? "probing" : s == KONCE_GROUP_SUSPECTED ? "suspected" : "healthy";
}

static json_t *error(const char *name, const char *errno_name, const char *why)
{
	char msg[256];
	snprintf(msg, sizeof msg, "status %s: %s", name, why);
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "errno", errno_name);
}

json_t *ctl_group_status(konce_node *n, const char *name)
{
	konce_group_status *st = calloc(1, sizeof *st);
	if (!st)
		return error(name, "ENOMEM", "out of memory");
	int e = konce_node_group_status(n, name, st);
	if (e && e != -ENOTCONN) {
		free(st);
		return e == -ENOENT ? error(name, "ENOENT", "no such group here")
		       : e == -ENOTSUP ? error(name, "ENOTSUP", "the node has no store (run it with a data directory)")
				       : error(name, "EINVAL", "bad argument");
	}
	char id[2 * KONCE_GROUP_ID_BYTES + 1];
	sodium_bin2hex(id, sizeof id, st->info.id, sizeof st->info.id);
	json_t *g = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:i, s:b}", "name", st->info.name, "id", id,
			      "state", state_name(st->info.state), "halted", st->info.halted, "epoch",
			      (json_int_t)st->info.epoch, "commit", (json_int_t)st->info.commit, "last",
			      (json_int_t)st->last, "members_count", (int)st->info.nmembers, "catching_up",
			      st->catching_up);
	ctl_group_progress(g, &st->info);
	json_t *a = json_array();
	for (unsigned i = 0; !e && i < st->info.nmembers && i < KONCE_GROUP_MEMBERS_MAX; i++) {
		const konce_group_member_status *m = &st->members[i];
		char key[KONCE_KEY_TEXT_LEN + 1];
		konce_key_to_text(key, m->key);
		json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:I, s:s}", "key", key, "name", m->name, "self", m->self,
				      "coordinator", m->coordinator, "heard_ms", (json_int_t)m->heard_ms, "suspicion",
				      suspicion_name(m->suspicion));
		json_object_set_new(o, "acked", m->acked < 0 ? json_null() : json_integer((json_int_t)m->acked));
		json_array_append_new(a, o);
	}
	json_object_set_new(g, "members", a);
	free(st);
	return json_pack("{s:b, s:o}", "ok", 1, "group", g);
}
