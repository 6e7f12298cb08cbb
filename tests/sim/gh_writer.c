/* gh_writer.c - the group harness's asynchronous stores (gh_set_async) as the daemon runs them:
 * node/io/group_io.c's calls, in its order, to the persist table (node/core/ncgpersist.h), over a
 * simulated writer thread.
 *
 * Each record a core persists is queued on the node's store (gh_store.pend, and in SQLite mode the
 * store connection's group queue) and told to the table (konce_ncgpersist_noted); the end of the
 * node's drain is the round (konce_ncgpersist_round), whose answer drives the one flush event:
 * active (the loop's next turn: now, after the event under way) or armed some milliseconds later.
 * The flush hands the store's queue to the writer (konce_ncgpersist_submit: the records move to
 * the writer's queue, in SQLite mode to the writer's own connection, konce_store_group_move),
 * which ends 1..flush_max microseconds later: with probability wfail the write fails (a disk
 * error or a locked database: the batch stays on the writer and the table retries it alone), else
 * the batch is applied to the in-memory store and committed to SQLite (konce_store_group_flush),
 * and only then the table tells the core its persist ids (konce_group_persisted).  A crash loses
 * the store's queue and the batch in flight; what was written stays. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/gh_int.h"

static unsigned node_of(gh *s, gh_store *st) { return (unsigned)(((gh_node *)((char *)st - offsetof(gh_node, st))) - s->node); }

static bool flush_armed(const gh_store *st) { return st->flush_active || st->flush_at; }

uint64_t gh_writer_next(const gh_store *st)
{
	uint64_t at = st->flush_active ? st->flush_now : st->flush_at ? st->flush_at : UINT64_MAX;
	return st->wbusy && st->write_at < at ? st->write_at : at;
}

/* group_writer_submit(): the store's queue (from_store) behind the writer's own, written later. */
static void writer_submit(gh *s, gh_store *st, bool from_store)
{
	if (from_store) {
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
	st->wbusy = true;
	st->write_at = s->now + 1 + simrng_below(&s->frng, s->flush_max);
}

/* group_io.c submit(); group_writer_pending() is 0 while a batch is in flight. */
static void submit(gh *s, gh_store *st)
{
	switch (konce_ncgpersist_submit(&st->persist, st->wbusy, st->wbusy ? 0 : st->nwq, st->npend > 0)) {
	case KONCE_NCGP_RETRY:
		writer_submit(s, st, false);
		break;
	case KONCE_NCGP_BATCH:
		writer_submit(s, st, true);
		break;
	case KONCE_NCGP_IDLE:
		break;
	}
}

/* group_io.c flush_do(). */
static void flush_do(gh *s, gh_store *st, konce_ncgp_act a)
{
	switch (a.flush) {
	case KONCE_NCGP_NOW:
		if (!st->flush_active) {
			st->flush_active = true;
			st->flush_now = s->now;
		}
		break;
	case KONCE_NCGP_ARM:
		st->flush_at = s->now + (uint64_t)a.ms * 1000;
		break;
	case KONCE_NCGP_SUBMIT:
		submit(s, st);
		break;
	case KONCE_NCGP_NONE:
		break;
	}
}

/* The batch's ids reach the node's core (the only group a gh node hosts). */
static void report(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t pid)
{
	gh_store *st = ctx;
	gh *s = st->sim;
	gh_node *n = &s->node[node_of(s, st)];
	if (memcmp(gid, s->group, KONCE_CW_GROUP_ID))
		gh_violation(s, "node %u: a written batch names another group", node_of(s, st));
	else if (n->up && n->g && konce_group_persisted(n->g, pid))
		gh_violation(s, "node %u: persisted(%llu) refused", node_of(s, st), (unsigned long long)pid);
}

/* The writer's end (group_io.c on_written). */
static void written(gh *s, gh_store *st)
{
	unsigned i = node_of(s, st);
	int e = 0;
	st->wbusy = false;
	if (s->wfail > 0 && simrng_unit(&s->frng) < s->wfail) {
		e = -EIO;
		s->write_failures++;
	} else {
		for (size_t k = 0; k < st->nwq; k++) {
			if (gh_store_apply(st, &st->wq[k]))
				gh_violation(s, "node %u: a queued record does not apply", i);
			free(st->wq[k].bytes);
		}
		st->nwq = 0;
		if (st->wdb) {
			char err[512];
			if (konce_store_group_flush(st->wdb, err, sizeof(err)))
				gh_violation(s, "node %u: %s", i, err);
			s->db_flushes++;
		}
		s->batches++;
	}
	konce_ncgp_act a = konce_ncgpersist_written_to(&st->persist, report, st, e, st->npend > 0, flush_armed(st));
	flush_do(s, st, a);
	if (a.kick)
		gh_drain(s, i);
}

void gh_writer_run(gh *s, unsigned i)
{
	gh_store *st = &s->node[i].st;
	if (st->wbusy && st->write_at <= s->now)
		written(s, st);
	if ((st->flush_active && st->flush_now <= s->now) || (st->flush_at && st->flush_at <= s->now)) {
		st->flush_active = false; /* group_io.c on_gflush: a non-persistent event, its timeout goes too */
		st->flush_at = 0;
		submit(s, st);
	}
}

void gh_writer_noted(gh *s, gh_store *st, const gh_rec *r)
{
	konce_cnote g = {.type = (enum konce_cnote_type)r->kind, .a = r->a, .b = r->b, .c = r->c,
			 .pid = st->calls, .count = (unsigned)r->b, .bytes = r->bytes, .len = r->len};
	memcpy(g.gid, s->group, KONCE_CW_GROUP_ID);
	if (konce_ncgpersist_noted(&st->persist, &g, 0))
		gh_violation(s, "node %u: a record could not be queued", node_of(s, st));
}

void gh_writer_round(gh *s, unsigned i)
{
	gh_store *st = &s->node[i].st;
	if (s->async)
		flush_do(s, st, konce_ncgpersist_round(&st->persist, st->wbusy, flush_armed(st)));
}

size_t gh_writer_drop(gh_store *st)
{
	size_t lost = st->nwq;
	for (size_t k = 0; k < st->nwq; k++)
		free(st->wq[k].bytes);
	st->nwq = 0;
	if (st->wdb)
		konce_store_group_discard(st->wdb);
	st->wbusy = st->flush_active = false;
	st->flush_at = 0;
	memset(&st->persist, 0, sizeof(st->persist));
	return lost;
}
