/* gh_debug.c - with GH_TRACE set, the consensus harness dumps each member's internals when a
 * progress check runs (gh_progress, gh_setup.c); a reading aid for a failing seed. */
#include <stdio.h>

#include "consensus/cgroup_int.h"
#include "tests/sim/group_harness.h"

void gh_debug_dump(konce_group *g, unsigned node)
{
	fprintf(stderr, "node %u state %d epoch %llu n %u self %u coord %u last %llu commit %llu delivered %llu q %u phase %d halted %d\n", node, g->state,
		(unsigned long long)g->epoch, g->n, g->self, cg_coord(g), (unsigned long long)g->last, (unsigned long long)g->commit,
		(unsigned long long)g->delivered, g->q_len, g->phase, g->halted);
	for (unsigned i = 0; i < KONCE_GROUP_PENDING; i++)
		if (g->pend[i].used)
			fprintf(stderr, "  pend nonce %llu in_log %d sent_at %llu\n", (unsigned long long)g->pend[i].nonce, g->pend[i].in_log, (unsigned long long)g->pend[i].sent_at);
	for (unsigned i = 0; i < g->n; i++)
		fprintf(stderr, "  m%u acked %llu owed %llu heard %llu suspect %d\n", i, (unsigned long long)g->m[i].acked, (unsigned long long)g->m[i].owed_since, (unsigned long long)g->m[i].last_heard, g->m[i].suspect);
}
