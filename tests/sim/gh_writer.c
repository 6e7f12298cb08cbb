/* gh_writer.c - the group harness's asynchronous stores (gh_set_async) as the daemon runs them:
 * the persist table, the flush event and the writer of tests/sim/gwriter.h (node/io/group_io.c's
 * calls in its order) over the node's in-memory store and, in SQLite mode, its real store.
 *
 * Each record a core persists is queued on the node's store (gh_store.pend, and in SQLite mode the
 * store connection's group queue) and noted; the end of the node's drain is the round.  A batch
 * handed to the writer moves to its queue (gh_store.wq, and in SQLite mode to the writer's own
 * connection, konce_store_group_move, as node/io/node_storew.c does); when the writer ends
 * 1..flush_max microseconds later and does not fail (wfail), the batch is applied to the in-memory
 * store and committed to SQLite (konce_store_group_flush), and only then the table tells the core
 * its persist ids (konce_group_persisted).  A crash loses the store's queue and the writer's. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/gh_int.h"

static gh_node *node_of(gh_store *st) { return (gh_node *)((char *)st - offsetof(gh_node, st)); }
static unsigned index_of(gh_store *st) { return (unsigned)(node_of(st) - st->sim->node); }

static void hand_over(void *ctx)
{
	gh_store *st = ctx;
	if (st->nwq + st->npend > st->cwq) {
		st->cwq = st->nwq + st->npend + 16;
		st->wq = realloc(st->wq, st->cwq * sizeof(*st->wq));
	}
	for (size_t k = 0; k < st->npend; k++)
		st->wq[st->nwq++] = st->pend[k];
	st->npend = 0;
	if (st->db)
		konce_store_group_move(st->wdb, st->db);
}

static void written(void *ctx)
{
	gh_store *st = ctx;
	gh *s = st->sim;
	for (size_t k = 0; k < st->nwq; k++) {
		if (gh_store_apply(st, &st->wq[k]))
			gh_violation(s, "node %u: a queued record does not apply", index_of(st));
		free(st->wq[k].bytes);
	}
	st->nwq = 0;
	if (st->wdb) {
		char err[512];
		if (konce_store_group_flush(st->wdb, err, sizeof(err)))
			gh_violation(s, "node %u: %s", index_of(st), err);
		s->db_flushes++;
	}
}

/* The batch's ids reach the node's core (the only group a gh node hosts). */
static void report(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid)
{
	gh_store *st = ctx;
	gh *s = st->sim;
	gh_node *n = node_of(st);
	if (memcmp(gid, s->group, KONCE_CW_GROUP_ID))
		gh_violation(s, "node %u: a written batch names another group", index_of(st));
	else if (n->up && n->g && konce_group_persisted(n->g, pid))
		gh_violation(s, "node %u: persisted(%llu) refused", index_of(st), (unsigned long long)pid);
}

static void kick(void *ctx)
{
	gh_store *st = ctx;
	gh_drain(st->sim, index_of(st));
}

void gh_writer_init(gh *s, gh_store *st)
{
	st->gw = (gwriter){.ctx = st, .hand_over = hand_over, .written = written, .kick = kick, .report = report,
			   .delay_min = 1, .delay_max = s->flush_max, .fail = s->wfail, .rng = &s->frng};
}

void gh_set_write_fail(gh *s, double p)
{
	s->wfail = p;
	for (unsigned i = 0; i < GH_MAX_NODES; i++)
		s->node[i].st.gw.fail = p;
}

void gh_writer_noted(gh *s, gh_store *st, const gh_rec *r)
{
	konce_nc_gnote g = {.type = (enum konce_cnote_type)r->kind, .a = r->a, .b = r->b, .c = r->c,
			    .pid = st->calls, .count = (unsigned)r->b, .bytes = r->bytes, .len = r->len};
	memcpy(g.gid, s->group, KONCE_CW_GROUP_ID);
	gwriter_noted(&st->gw, &g);
}

size_t gh_writer_drop(gh_store *st)
{
	size_t lost = st->nwq;
	for (size_t k = 0; k < st->nwq; k++)
		free(st->wq[k].bytes);
	st->nwq = 0;
	if (st->wdb)
		konce_store_group_discard(st->wdb);
	gwriter_drop(&st->gw); /* the store's queue is the caller's to free and count */
	return lost;
}
