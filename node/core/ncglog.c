/* ncglog.c - the application's read of a group's log (konce_node_group_log; ncgapp.h): which
 * group (a name bound to a hosted group), which positions (from the one asked, or seq 1, up to the
 * delivery point: what the application was handed, nothing beyond) and which entries (whole
 * application entries; the group's own are skipped).  The host reads the store. */
#include <errno.h>
#include <string.h>

#include "node/core/ncgapp.h"

int konce_ncgapp_log_gid(konce_ncgapp *t, konce_nodecore *c, const char *name, uint8_t gid[KONCE_CW_GROUP_ID])
{
	konce_ncgapp_name *x = konce_ncgapp_by_name(t, name);
	if (!x || !konce_nodecore_group_find(c, x->gid))
		return -ENOENT;
	memcpy(gid, x->gid, KONCE_CW_GROUP_ID);
	return 0;
}

bool konce_ncgapp_log_span(uint64_t from, uint64_t delivered, uint64_t *first)
{
	if (from > delivered)
		return false;
	*first = from ? from : 1;
	return true;
}

int konce_ncgapp_log_one(void *ctx, uint64_t seq, const uint8_t *e, size_t len)
{
	konce_ncgapp_logread *l = ctx;
	const uint8_t *origin, *data;
	size_t dl;
	if (!konce_ncgapp_log_entry(e, len, &origin, &data, &dl))
		return 0;
	l->n++;
	return l->fn(l->ctx, seq, origin, data, dl);
}
