/* test_group_faults.c - consensus members under random fault schedules (group_harness.h).
 *
 * Each seed draws a group of 3 to 7 members (plus up to 3 who may join), a network (delay up to
 * 5 or 30 ms, so messages reorder; loss 0, 2 or 10 %; duplication 0 or 5 %) and 15 s of faults,
 * one every 0.2 to 1.5 s: crash a member (its store survives), restart one, crash the coordinator
 * (entries are always in flight, so mid-commit), crash a member in the middle of a view change,
 * partition at random, heal, make a member slow (100-300 ms each way), invite one or two joiners
 * at once (so joins queue, and some land during view changes; a quarter of the joiners get a
 * deadline 0.1-3 s away, so they give up and withdraw amid the faults), a member leaves.  Entries are
 * proposed throughout.  The harness checks agreement, gap-free delivery, one membership per epoch
 * and the join rule after every event; then the faults end (heal, no loss, restart every member --
 * or, in half the schedules, all but a minority of the view in force, which must be evicted) and
 * every member of the view then in force must commit a new entry of its own within 10 s.
 *
 * Half the schedules run asynchronous stores as the daemon does (gh_writer.c: the persist table of
 * node/core/ncgpersist.h decides when a batch goes to a simulated writer, which takes 1-5 ms and
 * fails never, 5 % or 20 % of the time, retried; a crash loses what is not written).  test_sqlite_schedules runs the schedules again with every
 * member's records in a real SQLite store (group_harness.h, SQLite mode): a crash closes it with its
 * queue lost, a restart reopens it, restores the member from it, and the member's application
 * rebuilds its state from it (konce_store_group_replay), which must equal every other member's
 * state after the same seq.
 *
 * Each node puts 1 (unbatched), 2-16 or the default 16 entries in a PROPOSE when it coordinates
 * (konce_group_set_max_batch, drawn per node): members with different settings share a group.
 *
 * SIM_SEEDS=N runs N schedules (default 500), SIM_SEED=N just one; SIM_STORE_SEEDS=N runs N
 * SQLite schedules (default 100); a failure prints its seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/group_harness.h"

enum { FAULT_US = 15 * SIM_SEC, QUIET_US = 8 * SIM_SEC, PROGRESS_US = 10 * SIM_SEC };

/* A quarter of the joins started during the faults get a deadline 0.1 to 3 s away (a stream of its
 * own, so the schedules draw what they drew before): they give up and withdraw amid crashes,
 * partitions and view changes, often as the coordinator admits them. */
static void short_deadline(gh *s, unsigned j)
{
	simrng r;
	simrng_seed(&r, s->seed, 1000 + j);
	if (simrng_below(&r, 4))
		return;
	uint64_t until = s->now + (100 + simrng_below(&r, 2900)) * SIM_MS;
	if (konce_group_join_deadline(s->node[j].g, until))
		fail();
	s->short_joins++;
}

typedef struct totals {
	uint64_t seeds, delivered, views, halts, evictions, joins, refused, msgs, async, lost, flushes, restores, snapshots, expired,
		 replays, short_joins, withdrawn, batches, wfails, stale;
} totals;

static int pick_up(gh *s, bool up)
{
	unsigned c[GH_MAX_NODES], n = 0;
	for (unsigned i = 0; i < s->nn; i++)
		if (s->node[i].used && !s->node[i].out && s->node[i].up == up && s->node[i].st.view_len)
			c[n++] = i;
	return n ? (int)c[simrng_below(&s->rng, n)] : -1;
}

static int pick_spare(gh *s)
{
	for (unsigned i = 0; i < s->nn; i++)
		if (!s->node[i].used)
			return (int)i;
	return -1;
}

static void fault(gh *s, uint64_t *join_at)
{
	unsigned mem[KONCE_CW_MAX_MEMBERS], cnt;
	int i;
	switch (simrng_below(&s->rng, 12)) {
	case 0:
	case 1:
		if ((i = pick_up(s, true)) >= 0)
			gh_crash(s, (unsigned)i);
		break;
	case 2:
	case 3:
		if ((i = pick_up(s, false)) >= 0)
			gh_restart(s, (unsigned)i);
		break;
	case 4: /* the coordinator, with entries in flight */
		if (gh_top_epoch(s, mem, &cnt) && cnt) {
			unsigned c = mem[0];
			for (unsigned k = 0; k < s->nn; k++)
				if (s->node[k].g && s->node[k].up && !s->node[k].out) {
					const uint8_t (*keys)[KONCE_CW_KEY];
					konce_group_members(s->node[k].g, &keys);
					int x = gh_node_of(s, keys[konce_group_coordinator(s->node[k].g)]);
					if (x >= 0)
						c = (unsigned)x;
					break;
				}
			if (s->node[c].up)
				gh_crash(s, c);
		}
		break;
	case 5: /* a member in the middle of a view change */
		for (int k = (int)s->nn - 1; k >= 0; k--)
			if (s->node[k].up && s->node[k].g && konce_group_state(s->node[k].g) == KONCE_GROUP_VIEWCHANGE) {
				gh_crash(s, (unsigned)k);
				break;
			}
		break;
	case 6:
		for (unsigned k = 0; k < s->nn; k++)
			s->node[k].side = (int)simrng_below(&s->rng, 2);
		break;
	case 7:
		gh_heal(s);
		break;
	case 8:
		if ((i = pick_up(s, true)) >= 0)
			s->node[i].extra_delay = s->node[i].extra_delay ? 0 : (100 + simrng_below(&s->rng, 200)) * SIM_MS;
		break;
	case 9: /* one or two invitations at once: their joins run concurrently */
		for (unsigned k = simrng_below(&s->rng, 2) + 1; k > 0; k--) {
			int j = pick_spare(s), inv = pick_up(s, true);
			if (j < 0 || inv < 0)
				break;
			if (!gh_invite(s, (unsigned)inv, (unsigned)j)) {
				s->node[j].used = true; /* reserved; gh_join starts it at join_at[j] */
				join_at[j] = s->now + (500 + simrng_below(&s->rng, 1500)) * SIM_MS;
			}
		}
		break;
	case 10:
		if (simrng_below(&s->rng, 4) == 0 && (i = pick_up(s, true)) >= 0 && s->node[i].g &&
		    konce_group_state(s->node[i].g) == KONCE_GROUP_NORMAL) {
			unsigned n = konce_group_members(s->node[i].g, &(const uint8_t (*)[KONCE_CW_KEY]){0});
			if (n > 3)
				konce_group_leave(s->node[i].g, s->now);
		}
		break;
	default:
		s->loss = (double[]){0, 0.02, 0.1}[simrng_below(&s->rng, 3)];
		break;
	}
}

static void run_seed(uint64_t seed, totals *t, bool sqlite)
{
	simrng r;
	simrng_seed(&r, seed, 7);
	unsigned members = 3 + (unsigned)simrng_below(&r, 5);
	unsigned spares = GH_MAX_NODES - members < 3 ? GH_MAX_NODES - members : 3;
	gh *s = gh_new(seed, members, spares);
	s->expiring_invites = true;
	/* Each node's PROPOSE size when it coordinates: a third unbatched (1), a third the default, a
	 * third 2-16; members with different settings meet in one group (their own stream of
	 * randomness: the schedules stay as they were). */
	simrng rb;
	simrng_seed(&rb, seed, 8);
	for (unsigned i = 0; i < GH_MAX_NODES; i++) {
		unsigned k = (unsigned)simrng_below(&rb, 3);
		s->node[i].max_batch = k == 0 ? 1 : k == 1 ? 0 : 2 + (unsigned)simrng_below(&rb, KONCE_CW_MAX_BATCH - 1);
		if (s->node[i].g && s->node[i].max_batch && konce_group_set_max_batch(s->node[i].g, s->node[i].max_batch))
			fail_msg("max_batch %u refused", s->node[i].max_batch);
	}
	/* Half the schedules run asynchronous stores: a record becomes durable up to 5 ms after the
	 * persist call, and a crash loses the records not yet durable (its own stream of randomness,
	 * so the synchronous schedules stay as they were). */
	if (sqlite) {
		if (gh_set_sqlite(s, (uint64_t)(1 + simrng_below(&r, 5)) * SIM_MS))
			fail_msg("cannot create the SQLite stores");
	} else if (simrng_below(&r, 2)) {
		gh_set_async(s, (uint64_t)(1 + simrng_below(&r, 5)) * SIM_MS);
	}
	/* The asynchronous stores' writer fails a batch (a disk error, a locked database) never, one
	 * time in twenty or one in five; the daemon's persist table retries it alone every 100 ms. */
	if (s->async)
		gh_set_write_fail(s, (double[]){0, 0.05, 0.2}[simrng_below(&rb, 3)]);
	s->loss = (double[]){0, 0.02, 0.1}[simrng_below(&s->rng, 3)];
	s->dup = simrng_below(&s->rng, 2) ? 0.05 : 0;
	s->delay_max = simrng_below(&s->rng, 2) ? 30 * SIM_MS : 5 * SIM_MS;

	uint64_t join_at[GH_MAX_NODES] = {0};
	while (s->now < FAULT_US && !s->violations) {
		uint64_t step = (200 + simrng_below(&s->rng, 1300)) * SIM_MS;
		for (unsigned k = simrng_below(&s->rng, 4); k > 0; k--) {
			int i = pick_up(s, true);
			if (i >= 0)
				gh_propose(s, (unsigned)i);
		}
		fault(s, join_at);
		for (unsigned j = 0; j < s->nn; j++)
			if (join_at[j] && s->now >= join_at[j]) {
				s->node[j].used = false;
				if (!gh_join(s, j))
					short_deadline(s, j);
				join_at[j] = 0;
			}
		gh_run_until(s, s->now + step);
	}
	for (unsigned j = 0; j < s->nn; j++)
		if (join_at[j]) {
			s->node[j].used = false;
			gh_join(s, j);
		}
	/* The faults end: heal, no loss, restart everybody -- except, in half the schedules, a
	 * minority of the view in force stays down: the majority must evict it and go on. */
	gh_heal(s);
	s->loss = s->dup = 0;
	unsigned mem[KONCE_CW_MAX_MEMBERS], cnt, keep_down = 0;
	gh_top_epoch(s, mem, &cnt);
	if (cnt >= 3 && simrng_below(&s->rng, 2))
		keep_down = 1 + (unsigned)simrng_below(&s->rng, (cnt - 1) / 2);
	for (unsigned i = 0; i < s->nn; i++) {
		s->node[i].extra_delay = 0;
		bool down = false;
		for (unsigned k = 0; k < keep_down; k++)
			down |= mem[k] == i;
		if (down)
			gh_crash(s, i);
		else
			gh_restart(s, i);
	}
	gh_run_until(s, s->now + QUIET_US);
	/* A view change that was under way may have shrunk the view so that the ones kept down are
	 * no longer a minority of it (a two-member view cannot evict): then progress needs them. */
	unsigned up = 0;
	gh_top_epoch(s, mem, &cnt);
	for (unsigned k = 0; k < cnt; k++)
		up += s->node[mem[k]].up && !s->node[mem[k]].out;
	if (up < cnt / 2 + 1) {
		for (unsigned i = 0; i < s->nn; i++)
			gh_restart(s, i);
		gh_run_until(s, s->now + QUIET_US);
	}
	gh_progress(s, PROGRESS_US);
	/* No silent member: a joiner that gave up (OUT, TIMEDOUT) is in no view in force by now. */
	gh_top_epoch(s, mem, &cnt);
	for (unsigned k = 0; k < cnt; k++)
		if (s->node[mem[k]].out && s->node[mem[k]].out_reason == KONCE_GROUP_OUT_TIMEDOUT) {
			s->violations++;
			snprintf(s->first_violation, sizeof(s->first_violation),
				 "node %u gave up joining and is still a member of the view in force", mem[k]);
		}

	if (s->violations) {
		char what[300];
		snprintf(what, sizeof(what), "%u violations, first: %s", s->violations, s->first_violation);
		sim_report_failure(seed, what, __FILE__, __LINE__);
		gh_free(s);
		fail();
	}
	t->seeds++;
	t->delivered += s->delivered_events;
	t->views += s->views;
	t->halts += s->halts;
	t->evictions += s->evictions;
	t->joins += s->joins_accepted;
	t->refused += s->joins_refused;
	t->short_joins += s->short_joins;
	t->withdrawn += s->joins_withdrawn;
	t->msgs += s->msgs;
	t->async += s->async;
	t->lost += s->lost_records;
	for (unsigned i = 0; i < GH_MAX_NODES; i++) {
		t->batches += s->node[i].st.gw.batches;
		t->wfails += s->node[i].st.gw.failures;
	}
	t->stale += s->stale_views;
	t->flushes += s->db_flushes;
	t->restores += s->db_restores;
	t->replays += s->replays;
	t->snapshots += s->snapshots;
	t->expired += s->expired_refusals;
	gh_free(s);
}

static void test_random_schedules(void **state)
{
	(void)state;
	totals t = {0};
	SIM_FOR_EACH_SEED(seed, 500)
		run_seed(seed, &t, false);
	printf("group faults: %llu schedules, 0 violations; %llu deliveries, %llu view installs, %llu halts, "
	       "%llu evictions, %llu joins accepted, %llu join rounds refused, %llu joiners refused for an expired "
	       "invitation, %llu joins with a short deadline, %llu joiners withdrawn, %llu messages, "
	       "%llu snapshots restored; %llu with asynchronous stores, %llu batches written, %llu writes failed, "
	       "%llu records lost in crashes before they were written, %llu view events out after a later view\n",
	       (unsigned long long)t.seeds, (unsigned long long)t.delivered, (unsigned long long)t.views,
	       (unsigned long long)t.halts, (unsigned long long)t.evictions, (unsigned long long)t.joins,
	       (unsigned long long)t.refused, (unsigned long long)t.expired, (unsigned long long)t.short_joins,
	       (unsigned long long)t.withdrawn, (unsigned long long)t.msgs,
	       (unsigned long long)t.snapshots,
	       (unsigned long long)t.async, (unsigned long long)t.batches, (unsigned long long)t.wfails,
	       (unsigned long long)t.lost, (unsigned long long)t.stale);
}

static void test_sqlite_schedules(void **state)
{
	(void)state;
	totals t = {0};
	const char *one = getenv("SIM_SEED"), *n = getenv("SIM_STORE_SEEDS");
	uint64_t first = one ? strtoull(one, NULL, 10) : 1, count = one ? 1 : n ? strtoull(n, NULL, 10) : 100;
	for (uint64_t seed = first; seed < first + count; seed++)
		run_seed(seed, &t, true);
	printf("group faults on SQLite: %llu schedules, 0 violations; %llu deliveries, %llu view installs, "
	       "%llu evictions, %llu joins accepted, %llu snapshots restored; %llu flushes, %llu restarts from SQLite "
	       "(%llu application states rebuilt from the store), %llu writes failed, %llu records lost in crashes before "
	       "they were written\n",
	       (unsigned long long)t.seeds, (unsigned long long)t.delivered, (unsigned long long)t.views,
	       (unsigned long long)t.evictions, (unsigned long long)t.joins, (unsigned long long)t.snapshots,
	       (unsigned long long)t.flushes,
	       (unsigned long long)t.restores, (unsigned long long)t.replays, (unsigned long long)t.wfails,
	       (unsigned long long)t.lost);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_schedules),
		cmocka_unit_test(test_sqlite_schedules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
