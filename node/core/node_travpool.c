/* node_travpool.c - the choice of a traversal-peer entry for a new key (node_travpool.h). */
#include "node/core/node_travpool.h"

/* The evictable entry seen longest ago: no session, and a stranger (any age) or, if `stale`, a
 * solicited one idle NODE_TRAVPOOL_REUSE_US.  -1 if none. */
static int oldest(const struct node_travpool_slot *s, unsigned n, bool strangers, bool stale, uint64_t now)
{
	int best = -1;
	for (unsigned i = 0; i < n; i++) {
		if (!s[i].used || s[i].session)
			continue;
		bool ok = (strangers && !s[i].solicited) ||
			  (stale && s[i].solicited && now - s[i].last_us >= NODE_TRAVPOOL_REUSE_US);
		if (ok && (best < 0 || s[i].last_us < s[best].last_us))
			best = (int)i;
	}
	return best;
}

int node_travpool_pick(const struct node_travpool_slot *s, unsigned n, bool solicited, uint64_t now)
{
	unsigned strangers = 0;
	int free_slot = -1;
	for (unsigned i = 0; i < n; i++) {
		strangers += s[i].used && !s[i].solicited;
		if (!s[i].used && free_slot < 0)
			free_slot = (int)i;
	}
	if (!solicited && strangers >= NODE_TRAVPOOL_STRANGERS)
		return oldest(s, n, true, false, now); /* the pool is full: a stranger makes room */
	if (free_slot >= 0)
		return free_slot;
	if (solicited) {
		int i = oldest(s, n, true, false, now);
		return i >= 0 ? i : oldest(s, n, false, true, now);
	}
	return oldest(s, n, false, true, now);
}
