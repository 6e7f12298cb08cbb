/* test_group_node.c - consensus groups hosted by real node cores (node/core/ncgroup.h).
 *
 * Five node cores (tests/sim/node_harness.c, the code the daemon runs) on public addresses with
 * 10 ms links that lose 1% of datagrams (a lost handshake packet costs the transport a 1 s retry,
 * which a fresh joiner's grace covers: cgroup.h KONCE_GROUP_JOIN_GRACE_MS).  Every group message travels as a node message of class KONCE_CLASS_GROUP over the
 * sessions the cores open on demand from a member's key (each core knows the others' addresses, as
 * the store's known keys would tell it):
 *   - A founds a group and registers one invitation per joiner; B, C, D, E join one after the
 *     other with their invitation's secret and the members' keys;
 *   - every member proposes decisions; every member delivers the same sequence at the same
 *     positions, and each sees a view of five;
 *   - E goes silent (its core is freed; its host stays): the four evict it (a view of four without
 *     E, installed everywhere) and go on committing, all delivering the same entries;
 *   - D leaves: it learns it is out, the other three install a view without it;
 *   - a group message from a non-member's session or for an unknown group is dropped and counted;
 *   - invitations registered up front, then joins in quick succession: a member that has just
 *     joined does not know the invitations committed before it (it abstains until its snapshot
 *     brings them), so every joiner gets in.
 * Every member's group records go through the daemon's persist table (node/core/ncgpersist.h) to
 * a simulated writer whose batches take 0.2-5 ms and fail one time in ten (a disk error or a
 * locked database: retried alone 100 ms later); all of the above holds with it, every record a
 * core made is written or lost with a silenced node, and none is left queued once the group is
 * idle.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/ctoken.h"
#include "node/core/ncgroup.h"
#include "tests/sim/node_harness.h"
#include "tests/sim/sim.h"

enum { N = 5, LOGMAX = 512 };

typedef struct member {
	ncnode nn;
	konce_group *g;
	uint64_t seq[LOGMAX];
	char data[LOGMAX][16];
	unsigned nlog;
	unsigned views, outs, out_reason, out_kind;
} member;

typedef struct world {
	sim *s;
	member m[N];
	uint8_t gid[KONCE_CW_GROUP_ID];
} world;

static void on_group(ncnode *n, const konce_nc_event *ev, uint64_t now)
{
	member *m = n->user;
	(void)now;
	const konce_group_event *g = &ev->group;
	if (g->type == KONCE_GROUP_EV_COMMITTED && g->kind == KONCE_CW_E_APP && m->nlog < LOGMAX) {
		m->seq[m->nlog] = g->seq;
		snprintf(m->data[m->nlog], sizeof m->data[0], "%.*s", (int)g->len, (const char *)g->data);
		m->nlog++;
	}
	if (g->type == KONCE_GROUP_EV_VIEW)
		m->views++;
	if (g->type == KONCE_GROUP_EV_OUT) {
		m->outs++;
		m->out_reason = g->out_reason;
		m->out_kind = g->kind;
	}
}

static void sent(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	(void)reason, (void)data, (void)len;
	*(int *)ctx = outcome;
}

static void setup(world *w, uint64_t seed)
{
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	sim_link_cfg link = {.delay_us = 10 * SIM_MS, .jitter_us = 1 * SIM_MS, .loss = 0.01};
	sim_link_default(w->s, &link);
	for (int i = 0; i < N; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "192.0.2.%d", i + 1);
		assert_int_equal(ncnode_init(&w->m[i].nn, w->s, NULL, ip, 7807, NULL), 0);
		w->m[i].nn.user = &w->m[i];
		w->m[i].nn.on_group = on_group;
		w->m[i].nn.gw.fail = 0.1;
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (i != j)
				ncnode_learn(&w->m[i].nn, &w->m[j].nn);
	for (int i = 0; i < KONCE_CW_GROUP_ID; i++)
		w->gid[i] = (uint8_t)(seed * 7 + (uint64_t)i);
	for (int i = 0; i < N; i++)
		assert_int_equal(konce_nodecore_group_add(w->m[i].nn.core, w->gid, &w->m[i].g), 0);
}

static void teardown(world *w)
{
	for (int i = 0; i < N; i++)
		if (w->m[i].nn.core)
			ncnode_free(&w->m[i].nn);
	sim_free(w->s);
}

/* Every group record member i's core made is written, queued, in flight or lost with its core;
 * when idle (the group quiet), none is waiting. */
static void records(world *w, int i, bool idle)
{
	const ncnode *n = &w->m[i].nn;
	SIM_ASSERT_EQ(w->s, n->gnotes, n->gw.durable + n->gw.store_q + n->gw.writer_q + n->records_lost);
	SIM_ASSERT(w->s, n->gw.batches > 0);
	if (idle)
		SIM_ASSERT(w->s, n->gw.store_q == 0 && n->gw.writer_q == 0 && !n->gw.busy);
}

/* The writers failed (and their batches were retried) somewhere in this run. */
static void writers_failed(world *w)
{
	uint64_t f = 0;
	for (int i = 0; i < N; i++)
		f += w->m[i].nn.gw.failures;
	SIM_ASSERT(w->s, f > 0);
}

static void kick(world *w, int i) { ncnode_flush(&w->m[i].nn, sim_now(w->s)); }

/* setup(), then A creates the group alone. */
static void founded(world *w, uint64_t seed)
{
	setup(w, seed);
	SIM_ASSERT_EQ(w->s, konce_group_create(w->m[0].g, sim_now(w->s)), 0);
	kick(w, 0);
}

/* Member 0's INVITE entries commit (its writer may be failing: an invitation is known only once
 * committed, and a join that comes before is refused). */
static void invites_commit(world *w)
{
	sim_run_for(w->s, 100 * SIM_MS);
	for (unsigned t = 0; t < 300 && konce_group_commit_index(w->m[0].g) < konce_group_last(w->m[0].g); t++)
		sim_run_for(w->s, 10 * SIM_MS);
	SIM_ASSERT(w->s, konce_group_commit_index(w->m[0].g) >= konce_group_last(w->m[0].g));
}

/* Member i joins through the view of member 0, with a fresh invitation of member 0's. */
static void join(world *w, int i)
{
	uint8_t secret[KONCE_CW_SECRET], hash[KONCE_CW_SECRET];
	for (int k = 0; k < KONCE_CW_SECRET; k++)
		secret[k] = (uint8_t)(sim_rand(w->s) & 0xff);
	konce_ctoken_secret_hash(hash, secret);
	SIM_ASSERT(w->s, konce_group_invite(w->m[0].g, hash, 0, sim_now(w->s)) >= 1);
	kick(w, 0);
	invites_commit(w);
	const uint8_t(*keys)[KONCE_CW_KEY];
	unsigned n = konce_group_members(w->m[0].g, &keys);
	SIM_ASSERT_EQ(w->s, konce_group_join(w->m[i].g, keys, n, secret, sim_now(w->s)), 0);
	kick(w, i);
	/* 3 s, or up to 10 s when the first JOIN's session handshake lost packets (each costs the
	 * transport a 1 s retry: seed 1484 took 3.8 s) */
	uint64_t t0 = sim_now(w->s);
	sim_run_for(w->s, 3 * SIM_SEC);
	while (konce_group_state(w->m[i].g) != KONCE_GROUP_NORMAL && sim_now(w->s) - t0 < 10 * SIM_SEC)
		sim_run_for(w->s, 10 * SIM_MS);
	SIM_ASSERT_EQ(w->s, konce_group_state(w->m[i].g), KONCE_GROUP_NORMAL);
	SIM_ASSERT_EQ(w->s, konce_group_members(w->m[i].g, &keys), (unsigned)i + 1);
}

static void propose(world *w, int i, unsigned k)
{
	char d[16];
	int l = snprintf(d, sizeof d, "m%d-%u", i, k);
	SIM_ASSERT(w->s, konce_group_propose(w->m[i].g, (const uint8_t *)d, (size_t)l, sim_now(w->s)) >= 1);
	kick(w, i);
}

/* Every pair of live members agrees at every position both delivered; returns the shortest log. */
static unsigned agree(world *w, int live)
{
	unsigned shortest = LOGMAX;
	for (int i = 0; i < live; i++) {
		member *a = &w->m[i], *b = &w->m[0];
		for (unsigned x = 0; x < a->nlog; x++)
			for (unsigned y = 0; y < b->nlog; y++)
				if (a->seq[x] == b->seq[y])
					SIM_ASSERT(w->s, strcmp(a->data[x], b->data[y]) == 0);
		if (a->nlog < shortest)
			shortest = a->nlog;
	}
	return shortest;
}

static bool in_view(konce_group *g, const uint8_t *pk)
{
	const uint8_t(*keys)[KONCE_CW_KEY];
	unsigned n = konce_group_members(g, &keys);
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(keys[i], pk, KONCE_CW_KEY))
			return true;
	return false;
}

static void test_form_commit_evict(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 20) {
		world w;
		founded(&w, seed);
		sim_run_for(w.s, 100 * SIM_MS);
		for (int i = 1; i < N; i++)
			join(&w, i);
		for (int i = 0; i < N; i++)
			SIM_ASSERT(w.s, in_view(w.m[i].g, ncnode_pk(&w.m[N - 1].nn)));

		/* decisions from every member */
		for (unsigned k = 0; k < 10; k++) {
			for (int i = 0; i < N; i++)
				propose(&w, i, k);
			sim_run_for(w.s, 100 * SIM_MS);
		}
		sim_run_for(w.s, 2 * SIM_SEC);
		for (int i = 0; i < N; i++)
			SIM_ASSERT_EQ(w.s, w.m[i].nlog, 10u * N);
		SIM_ASSERT_EQ(w.s, agree(&w, N), 10u * N);
		for (int i = 0; i < N; i++)
			records(&w, i, true);
		/* the same sequence, position by position */
		for (int i = 1; i < N; i++)
			for (unsigned x = 0; x < w.m[i].nlog; x++) {
				SIM_ASSERT_EQ(w.s, w.m[i].seq[x], w.m[0].seq[x]);
				SIM_ASSERT(w.s, strcmp(w.m[i].data[x], w.m[0].data[x]) == 0);
			}
		uint64_t epoch = konce_group_epoch(w.m[0].g);

		/* E goes silent */
		uint8_t epk[KONCE_KEY_BYTES];
		memcpy(epk, ncnode_pk(&w.m[N - 1].nn), sizeof epk);
		const konce_env *eenv = sim_host_env(w.m[N - 1].nn.h);
		ncnode_free(&w.m[N - 1].nn);
		SIM_ASSERT_EQ(w.s, sim_env_live(eenv), 0); /* the hosted group went with the core */
		sim_run_for(w.s, 8 * SIM_SEC);
		for (int i = 0; i < N - 1; i++) {
			SIM_ASSERT(w.s, !in_view(w.m[i].g, epk));
			SIM_ASSERT_EQ(w.s, konce_group_state(w.m[i].g), KONCE_GROUP_NORMAL);
			SIM_ASSERT(w.s, konce_group_epoch(w.m[i].g) > epoch);
			SIM_ASSERT_EQ(w.s, konce_group_epoch(w.m[i].g), konce_group_epoch(w.m[0].g));
			const uint8_t(*keys)[KONCE_CW_KEY];
			SIM_ASSERT_EQ(w.s, konce_group_members(w.m[i].g, &keys), (unsigned)N - 1);
		}

		/* the four carry on */
		for (unsigned k = 10; k < 15; k++) {
			for (int i = 0; i < N - 1; i++)
				propose(&w, i, k);
			sim_run_for(w.s, 100 * SIM_MS);
		}
		sim_run_for(w.s, 2 * SIM_SEC);
		for (int i = 0; i < N - 1; i++)
			SIM_ASSERT_EQ(w.s, w.m[i].nlog, 10u * N + 5u * (N - 1));
		agree(&w, N - 1);
		for (int i = 0; i < N; i++)
			records(&w, i, i < N - 1); /* E's: written, or lost with its core */
		for (int i = 1; i < N - 1; i++)
			for (unsigned x = 0; x < w.m[i].nlog; x++)
				SIM_ASSERT_EQ(w.s, w.m[i].seq[x], w.m[0].seq[x]);

		/* D leaves: it learns it is out (LEFT), the other three install a view without it */
		uint8_t dpk[KONCE_KEY_BYTES];
		memcpy(dpk, ncnode_pk(&w.m[N - 2].nn), sizeof dpk);
		SIM_ASSERT_EQ(w.s, konce_group_leave(w.m[N - 2].g, sim_now(w.s)), 0);
		kick(&w, N - 2);
		sim_run_for(w.s, 3 * SIM_SEC);
		SIM_ASSERT_EQ(w.s, w.m[N - 2].outs, 1u);
		SIM_ASSERT_EQ(w.s, konce_group_state(w.m[N - 2].g), KONCE_GROUP_OUT);
		for (int i = 0; i < N - 2; i++) {
			SIM_ASSERT(w.s, !in_view(w.m[i].g, dpk));
			const uint8_t(*keys)[KONCE_CW_KEY];
			SIM_ASSERT_EQ(w.s, konce_group_members(w.m[i].g, &keys), (unsigned)N - 2);
		}

		/* a group message for no hosted group is dropped and counted */
		konce_nc_group_stats st0, st;
		konce_nodecore_groups_stats(w.m[0].nn.core, &st0);
		uint8_t junk[KONCE_CW_H_SIZE + 8] = {KONCE_CW_HEARTBEAT, KONCE_CW_VERSION};
		memset(junk + KONCE_CW_H_GROUP, 0xee, KONCE_CW_GROUP_ID);
		int oc1 = 0, oc2 = 0;
		SIM_ASSERT_EQ(w.s, ncnode_send(&w.m[1].nn, ncnode_pk(&w.m[0].nn), KONCE_CLASS_GROUP, junk, sizeof junk,
					       NULL, sent, &oc1, NULL), 0);
		/* and one for this group from a session that is not a member's (a fresh node) */
		sim_run_for(w.s, 5 * SIM_SEC);
		konce_nodecore_groups_stats(w.m[0].nn.core, &st);
		SIM_ASSERT_EQ(w.s, st.unrouted, st0.unrouted + 1);
		unsigned logged = w.m[0].nlog;
		ncnode stranger;
		SIM_ASSERT_EQ(w.s, ncnode_init(&stranger, w.s, NULL, "192.0.2.99", 7807, NULL), 0);
		ncnode_learn(&stranger, &w.m[0].nn);
		uint8_t forged[KONCE_CW_H_SIZE + 8] = {KONCE_CW_HEARTBEAT, KONCE_CW_VERSION};
		memcpy(forged + KONCE_CW_H_GROUP, w.gid, KONCE_CW_GROUP_ID);
		SIM_ASSERT_EQ(w.s, ncnode_send(&stranger, ncnode_pk(&w.m[0].nn), KONCE_CLASS_GROUP, forged,
					       sizeof forged, NULL, sent, &oc2, NULL), 0);
		sim_run_for(w.s, 5 * SIM_SEC);
		SIM_ASSERT_EQ(w.s, oc1, KONCE_OUTCOME_DELIVERED);
		SIM_ASSERT_EQ(w.s, oc2, KONCE_OUTCOME_DELIVERED);
		konce_nodecore_groups_stats(w.m[0].nn.core, &st);
		SIM_ASSERT_EQ(w.s, st.not_member, st0.not_member + 1);
		SIM_ASSERT_EQ(w.s, w.m[0].nlog, logged);
		ncnode_free(&stranger);
		writers_failed(&w);
		teardown(&w);
	}
}

/* Four invitations commit while A is alone; B, C, D and E then join, each starting as soon as the
 * one before it is in the group (its snapshot may still be on its way). */
static void test_quick_joins(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 20) {
		world w;
		founded(&w, seed);
		uint8_t secret[N][KONCE_CW_SECRET], hash[KONCE_CW_SECRET];
		for (int i = 1; i < N; i++) {
			for (int k = 0; k < KONCE_CW_SECRET; k++)
				secret[i][k] = (uint8_t)(sim_rand(w.s) & 0xff);
			konce_ctoken_secret_hash(hash, secret[i]);
			SIM_ASSERT(w.s, konce_group_invite(w.m[0].g, hash, 0, sim_now(w.s)) >= 1);
			kick(&w, 0);
		}
		invites_commit(&w);
		for (int i = 1; i < N; i++) {
			const uint8_t(*keys)[KONCE_CW_KEY];
			unsigned n = konce_group_members(w.m[0].g, &keys);
			SIM_ASSERT_EQ(w.s, konce_group_join(w.m[i].g, keys, n, secret[i], sim_now(w.s)), 0);
			kick(&w, i);
			for (unsigned t = 0; t < 300 && konce_group_state(w.m[i].g) != KONCE_GROUP_NORMAL; t++)
				sim_run_for(w.s, 10 * SIM_MS);
			SIM_ASSERT_EQ(w.s, konce_group_state(w.m[i].g), KONCE_GROUP_NORMAL);
		}
		sim_run_for(w.s, 2 * SIM_SEC);
		for (int i = 0; i < N; i++) {
			const uint8_t(*keys)[KONCE_CW_KEY];
			SIM_ASSERT_EQ(w.s, konce_group_state(w.m[i].g), KONCE_GROUP_NORMAL);
			SIM_ASSERT_EQ(w.s, konce_group_members(w.m[i].g, &keys), (unsigned)N);
			SIM_ASSERT(w.s, !konce_group_catching_up(w.m[i].g));
			records(&w, i, true);
		}
		teardown(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_commit_evict),
		cmocka_unit_test(test_quick_joins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
