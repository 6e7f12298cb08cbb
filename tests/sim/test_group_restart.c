/* test_group_restart.c - the public group API (node/core/ncgapi.c, as node/io/group_io.c runs it)
 * on real node cores with real stores, and a node core restarted from what its store kept.
 *
 * Four node cores (tests/sim/node_harness.c) on public addresses with 10 ms links that lose 1% of
 * datagrams; each has its own store (store/store.h, a file on tmpfs) behind the daemon's persist
 * table and a simulated writer whose batches take 0.2-5 ms and fail one time in ten.  Through the
 * API only (create, invite, invite_status, join, propose, info, on_event):
 *   - A founds the group; B, C and D join it one after the other with A's tokens (each token once
 *     its invitation has committed); each joiner hears JOINED, and all install the view of four;
 *   - every member proposes decisions; every member's application hears the same DECIDED notices
 *     (seq, origin, data) in the same order;
 *   - the last joiner's core stops (test_restart_stop: the daemon's stop, every queued record written;
 *     test_restart_crash: a crash at a seeded moment while decisions flow, queued and in-flight
 *     records lost) and a new core with the same key is made on the same host; the store is
 *     reopened and konce_ncgapi_restore() hosts the group again from its records:
 *       * it restores exactly one group, under its name, in the epoch and with the members the
 *         node had before (no view changed meanwhile), and no error is logged;
 *       * once the application listens again, the replayed DECIDED notices (replayed = 1) are the
 *         decisions 1..k in order, k the store's delivery point, equal to what the application heard
 *         before; after a stop k is all it heard, after a crash at most that;
 *       * the new DECIDED notices go on at k + 1 without a gap, and the restarted node ends with
 *         the same decisions as every other member, all four members in one view;
 *   - test_restart_coordinator_crash: the same crash of the founder, the view's coordinator:
 *     restored in its own epoch it is sealed (consensus/cgroup.h), so the group goes on through a
 *     view change (a later epoch at the end), with everything above holding;
 *   - test_restart_stretches: a stop with 150 decisions owed, more than one stretch
 *     (KONCE_NCGAPI_TAPE_ENTRIES): the replay is read ahead on the simulated store writer in
 *     several jobs (node/core/ncghost.c, as the daemon runs it), nothing is handed back on the
 *     loop's next turn, and all of it comes in order once read;
 *   - test_rejoin_call: the control's rejoin on the simulated store writer (ncnode_group_join_call,
 *     node/core/ncghost.c as the daemon runs it): D leaves, is out, and joins again with a new token;
 *     the call returns with the old group still hosted, its done says 0 later, all four agree on
 *     new decisions, and after a restart D's store holds the one group with all four members.
 *   - test_create_log_call: the control's create and log read on the simulated store writer
 *     (ncnode_group_create_call, _log_call): each returns before its job runs, its done later; the
 *     log read hands back exactly what the application heard, from where it was asked; a clean
 *     stop runs the jobs still queued (their dones come: a create is cancelled, its row removed),
 *     a crash drops them.
 *   - test_replay_seed: the whole run is the seed's: the same seeded run of groups (A founds two
 *     groups, the others join one with A's tokens, all decide, the last joiner crashes at a seeded
 *     moment and is restored) made twice gives the same group ids, invitation tokens (their secrets
 *     included), decisions, final epoch and trace hash (sim_trace_hash); another seed, other ids.
 *     The node core takes a group's id and an invitation's secret from its env (ncgapi.h), which
 *     the harness seeds (sim_host_env).
 * Seeds: 3 by default, SIM_SEEDS=N for more, SIM_SEED=N for one.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "konce/group.h"
#include "tests/sim/node_harness.h"
#include "tests/sim/sim.h"

enum { N = 4, LOGMAX = 256 };

typedef struct decided {
	uint64_t seq;
	uint8_t origin[KONCE_GROUP_ORIGIN_BYTES];
	char data[24];
	int replayed;
} decided;

typedef struct member {
	ncnode nn;
	decided log[LOGMAX];
	unsigned nlog, joined, views, outs, snapshots, other;
	bool gap; /* a DECIDED that did not follow the one before */
} member;

typedef struct world {
	sim *s;
	member m[N];
	char dir[64];
	unsigned proposed;
} world;

static void on_notice(void *ctx, const konce_group_notice *ev)
{
	member *m = ctx;
	switch (ev->type) {
	case KONCE_GROUP_N_DECIDED:
		if (m->nlog == LOGMAX)
			break;
		if (m->nlog ? ev->seq <= m->log[m->nlog - 1].seq : false)
			m->gap = true;
		decided *d = &m->log[m->nlog++];
		d->seq = ev->seq;
		memcpy(d->origin, ev->origin, sizeof d->origin);
		snprintf(d->data, sizeof d->data, "%.*s", (int)ev->len, (const char *)ev->data);
		d->replayed = ev->replayed;
		break;
	case KONCE_GROUP_N_JOINED:
		m->joined++;
		break;
	case KONCE_GROUP_N_VIEW:
		m->views++;
		break;
	case KONCE_GROUP_N_OUT:
		m->outs++;
		break;
	case KONCE_GROUP_N_SNAPSHOT: /* a joiner's state before its first decision (empty here) */
		m->snapshots++;
		break;
	default:
		m->other++; /* HALTED, STORE_FAILED: none expected here */
		break;
	}
}

static konce_ncgapi api(world *w, int i) { return ncnode_gapi(&w->m[i].nn); }

/* The application starts listening (konce_node_group_on_event), as after konce_node_start. */
static void listen(world *w, int i)
{
	konce_ncgapi a = api(w, i);
	assert_int_equal(konce_ncgapi_on_event(&a, on_notice, &w->m[i]), 0);
	ncnode_flush(&w->m[i].nn, sim_now(w->s));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

/* Every link of member who loses loss of its datagrams (10 ms, +-1 ms). */
static void links_of(world *w, int who, double loss, bool all)
{
	sim_link_cfg link = {.delay_us = 10 * SIM_MS, .jitter_us = 1 * SIM_MS, .loss = loss};
	if (all)
		sim_link_default(w->s, &link);
	else
		for (int j = 0; j < N; j++)
			if (j != who)
				SIM_ASSERT_EQ(w->s, sim_link_set_both(w->s, w->m[who].nn.h, w->m[j].nn.h, &link), 0);
}

/* The stores' directory of the case under way: a failed case leaves by longjmp, past its
 * teardown, so the next case and the exit remove it. */
static char live_dir[64];

static void remove_live_dir(void)
{
	if (live_dir[0])
		nftw(live_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	live_dir[0] = 0;
}

static void setup(world *w, uint64_t seed)
{
	static bool registered;
	if (!registered)
		registered = atexit(remove_live_dir) == 0;
	remove_live_dir();
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	links_of(w, 0, 0.01, true);
	snprintf(w->dir, sizeof w->dir, "%s/konce-gr-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(w->dir));
	memcpy(live_dir, w->dir, sizeof live_dir);
	for (int i = 0; i < N; i++) {
		char ip[32], path[128];
		snprintf(ip, sizeof ip, "192.0.2.%d", i + 1);
		assert_int_equal(ncnode_init(&w->m[i].nn, w->s, NULL, ip, 7807, NULL), 0);
		w->m[i].nn.gw.fail = 0.1;
		snprintf(path, sizeof path, "%s/node%d.db", w->dir, i);
		assert_int_equal(ncnode_groups_open(&w->m[i].nn, path), 0); /* a new store: nothing restored */
		listen(w, i);
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (i != j)
				ncnode_learn(&w->m[i].nn, &w->m[j].nn);
}

static void teardown(world *w)
{
	for (int i = 0; i < N; i++)
		ncnode_free(&w->m[i].nn);
	sim_free(w->s);
	remove_live_dir();
}

/* Runs until cond(w) or the deadline; true if cond held. */
static bool run_until(world *w, bool (*cond)(world *w, int i), int i, uint64_t within)
{
	uint64_t end = sim_now(w->s) + within;
	while (!cond(w, i) && sim_now(w->s) < end)
		sim_run_for(w->s, 20 * SIM_MS);
	return cond(w, i);
}

static bool joined(world *w, int i) { return w->m[i].joined > 0; }

static char tokens[N][KONCE_GROUP_TOKEN_MAX];
static bool invite_committed(world *w, int j)
{
	konce_ncgapi a = api(w, 0);
	return konce_ncgapi_invite_status(&a, "g", tokens[j]) == 1;
}

/* B, C and D join A's group "g" with A's tokens, one after the other. */
static void join_all(world *w)
{
	konce_ncgapi a;
	for (int j = 1; j < N; j++) {
		a = api(w, 0);
		SIM_ASSERT_EQ(w->s, konce_ncgapi_invite(&a, "g", 0, NULL, tokens[j], sizeof tokens[j]), 0);
		ncnode_flush(&w->m[0].nn, sim_now(w->s));
		SIM_ASSERT(w->s, run_until(w, invite_committed, j, 10 * SIM_SEC));
		konce_ncgapi b = api(w, j);
		SIM_ASSERT_EQ(w->s, konce_ncgapi_join(&b, tokens[j], "g", 60), 0);
		ncnode_flush(&w->m[j].nn, sim_now(w->s));
		SIM_ASSERT(w->s, run_until(w, joined, j, 30 * SIM_SEC));
	}
	sim_run_for(w->s, 2 * SIM_SEC);
	for (int i = 0; i < N; i++) {
		konce_group_info info;
		a = api(w, i);
		SIM_ASSERT_EQ(w->s, konce_ncgapi_info(&a, "g", &info), 0);
		SIM_ASSERT_EQ(w->s, info.nmembers, N);
	}
}

/* The group of n members, through the API: A founds it, the others join with A's tokens. */
static void form(world *w)
{
	konce_ncgapi a = api(w, 0);
	assert_int_equal(konce_ncgapi_create(&a, "g"), 0);
	ncnode_flush(&w->m[0].nn, sim_now(w->s));
	join_all(w);
}

/* Member i proposes its next decision ("i.k"). */
static void propose(world *w, int i)
{
	char d[24];
	int len = snprintf(d, sizeof d, "%d.%u", i, w->proposed);
	konce_ncgapi a = api(w, i);
	int64_t r = konce_ncgapi_propose(&a, "g", (const uint8_t *)d, (size_t)len);
	SIM_ASSERT(w->s, r >= 1 || r == -EAGAIN);
	w->proposed += r >= 1;
	ncnode_flush(&w->m[i].nn, sim_now(w->s));
}

/* n decisions, proposed by the members in turn, 30 ms apart. */
static void propose_rounds(world *w, int n)
{
	for (int r = 0; r < n; r++) {
		propose(w, r % N);
		sim_run_for(w->s, 30 * SIM_MS);
	}
}

static bool same(const decided *x, const decided *y)
{
	return x->seq == y->seq && !memcmp(x->origin, y->origin, sizeof x->origin) && !strcmp(x->data, y->data);
}

/* Every member heard every decision proposed, the same ones in the same order. */
static bool converged(world *w, int unused)
{
	(void)unused;
	for (int i = 0; i < N; i++) {
		const member *m = &w->m[i], *z = &w->m[0];
		if (!m->nn.core || m->nlog != z->nlog || m->nlog != w->proposed)
			return false;
		for (unsigned k = 0; k < m->nlog; k++)
			if (!same(&m->log[k], &z->log[k]))
				return false;
	}
	return true;
}

static void dump(world *w)
{
	for (int i = 0; i < N; i++) {
		konce_group_info in;
		konce_ncgapi a = api(w, i);
		int e = konce_ncgapi_info(&a, "g", &in);
		fprintf(stderr, "node %d: %u decisions of %u (last seq %llu), info %d state %d epoch %llu commit %llu members %u halted %d\n",
			i, w->m[i].nlog, w->proposed,
			(unsigned long long)(w->m[i].nlog ? w->m[i].log[w->m[i].nlog - 1].seq : 0), e, in.state,
			(unsigned long long)in.epoch, (unsigned long long)in.commit, in.nmembers, in.halted);
	}
}

static void no_errors(world *w)
{
	for (int i = 0; i < N; i++) {
		const char *first;
		if (ncnode_group_errors(&w->m[i].nn, &first))
			fprintf(stderr, "node %d: %s\n", i, first);
		SIM_ASSERT_EQ(w->s, ncnode_group_errors(&w->m[i].nn, NULL), 0);
		SIM_ASSERT(w->s, !w->m[i].gap);
		SIM_ASSERT_EQ(w->s, w->m[i].outs + w->m[i].other, 0);
	}
}

/* The restart of member who and everything the header promises about it. */
static void restart_case(uint64_t seed, bool crash, int who, int decisions)
{
	world w;
	setup(&w, seed);
	form(&w);
	propose_rounds(&w, decisions);
	SIM_ASSERT(w.s, run_until(&w, converged, 0, 20 * SIM_SEC));
	member *m = &w.m[who];
	if (crash) { /* the others' decisions flow; the crash falls at a seeded moment among them */
		uint64_t at = sim_now(w.s) + sim_rand(w.s) % (200 * SIM_MS);
		for (int r = 0; r < 8; r++) {
			propose(&w, (who + 1 + r % (N - 1)) % N); /* who proposes none of them */
			sim_run_for(w.s, 25 * SIM_MS);
		}
		if (sim_now(w.s) < at)
			sim_run_until(w.s, at);
	}
	konce_group_info pre;
	konce_ncgapi a = api(&w, who);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &pre), 0);
	no_errors(&w);
	decided heard[LOGMAX];
	unsigned nheard = m->nlog;
	memcpy(heard, m->log, sizeof heard);

	/* The node is down 300 ms, less than the others take to suspect and evict it (cgroup.h
	 * KONCE_GROUP_SUSPECT_MS + PROBE_MS), and its links lose nothing until it is back: a lost
	 * handshake packet costs a 1 s retry, and the eviction that may follow is test_group_node's. */
	links_of(&w, who, 0, false);
	ncnode_stop(&m->nn, crash);
	SIM_ASSERT(w.s, crash || m->nn.records_lost == 0); /* the stop wrote everything */
	sim_run_for(w.s, 300 * SIM_MS);

	/* The new process: a core with the same key, the store reopened, its groups restored. */
	m->nlog = 0;
	m->joined = m->views = 0;
	SIM_ASSERT_EQ(w.s, ncnode_restart(&m->nn), 0);
	for (int j = 0; j < N; j++)
		if (j != who)
			ncnode_learn(&m->nn, &w.m[j].nn);
	konce_group_info list[4], post;
	a = api(&w, who);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_list(&a, list, 4), 1);
	SIM_ASSERT(w.s, !strcmp(list[0].name, "g"));
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &post), 0);
	SIM_ASSERT(w.s, !memcmp(post.id, pre.id, sizeof pre.id));
	SIM_ASSERT_EQ(w.s, post.epoch, pre.epoch);
	SIM_ASSERT_EQ(w.s, post.nmembers, pre.nmembers);
	SIM_ASSERT(w.s, !memcmp(post.members, pre.members, sizeof pre.members[0] * pre.nmembers));
	SIM_ASSERT_EQ(w.s, m->nlog, 0); /* nothing handed back before the application listens */
	uint64_t delivered = 0;
	konce_store_group_rec rec;
	SIM_ASSERT_EQ(w.s, konce_store_group_get(ncnode_store(&m->nn), pre.id, &rec), 0);
	delivered = rec.delivered;
	konce_store_group_rec_free(&rec);
	/* what the application heard up to the delivery point is owed back: all of it after a stop */
	unsigned owed = 0;
	while (owed < nheard && heard[owed].seq <= delivered)
		owed++;
	SIM_ASSERT(w.s, crash || owed == nheard);
	SIM_ASSERT(w.s, nheard > 0 && owed > 0);

	/* The application listens: the replay is read ahead on the store writer (node/core/ncghost.c:
	 * one stretch a job, 0.2-5 ms each here) and comes once read, before anything new (a new event
	 * of the group waits for the rest of the read). */
	listen(&w, who);
	sim_run_for(w.s, 1);
	SIM_ASSERT_EQ(w.s, m->nlog, 0); /* not read yet: the loop did not wait for the store */
	uint64_t jobs = m->nn.gw.jobs;
	sim_run_for(w.s, 50 * SIM_MS);
	/* one writer job a stretch of KONCE_NCGAPI_TAPE_ENTRIES decisions at most (or a wait's read) */
	SIM_ASSERT(w.s, m->nn.gw.jobs - jobs >= (owed + KONCE_NCGAPI_TAPE_ENTRIES - 1) / KONCE_NCGAPI_TAPE_ENTRIES);
	unsigned replayed = 0;
	while (replayed < m->nlog && m->log[replayed].replayed)
		replayed++;
	SIM_ASSERT_EQ(w.s, replayed, owed);
	if (getenv("GR_TRACE"))
		fprintf(stderr, "seed %llu %s: heard %u, delivery point %llu, replayed %u in %llu reads, lost records %llu\n",
			(unsigned long long)seed, crash ? "crash" : "stop", nheard, (unsigned long long)delivered,
			replayed, (unsigned long long)(m->nn.gw.jobs - jobs), (unsigned long long)m->nn.records_lost);
	for (unsigned k = 0; k < replayed; k++)
		SIM_ASSERT(w.s, same(&m->log[k], &heard[k]));
	for (unsigned k = replayed; k < m->nlog; k++)
		SIM_ASSERT_EQ(w.s, m->log[k].replayed, 0);

	sim_run_for(w.s, 2 * SIM_SEC);
	links_of(&w, who, 0.01, false);
	/* The group goes on with it: new decisions from everyone, the restarted node's included. */
	propose_rounds(&w, 8);
	if (!run_until(&w, converged, 0, 30 * SIM_SEC))
		dump(&w);
	SIM_ASSERT(w.s, converged(&w, 0));
	for (unsigned k = 0; k < m->nlog; k++) /* what it heard before the stop, heard the same again */
		SIM_ASSERT(w.s, k >= nheard || same(&m->log[k], &heard[k]));
	no_errors(&w);
	konce_group_info end0;
	a = api(&w, 0);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &end0), 0);
	for (int i = 0; i < N; i++) { /* one view of all four everywhere, the restarted node's included */
		konce_group_info end;
		a = api(&w, i);
		SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &end), 0);
		SIM_ASSERT_EQ(w.s, end.state, KONCE_GROUP_S_MEMBER);
		SIM_ASSERT_EQ(w.s, end.epoch, end0.epoch);
		SIM_ASSERT_EQ(w.s, end.nmembers, N);
		SIM_ASSERT(w.s, w.m[i].nn.gw.durable > 0);
	}
	SIM_ASSERT(w.s, who != 0 || end0.epoch > pre.epoch); /* a sealed coordinator: a view change */
	if (getenv("GR_TRACE"))
		fprintf(stderr, "  epoch %llu before, %llu at the end\n", (unsigned long long)pre.epoch,
			(unsigned long long)end0.epoch);
	teardown(&w);
}

static void test_restart_stop(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3)
	restart_case(seed, false, N - 1, 12);
}

static void test_restart_crash(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3)
	restart_case(seed, true, N - 1, 12);
}

/* The founder, the view's coordinator: restored in its own epoch it is sealed (cgroup.h), and the
 * group goes on through a view change. */
static void test_restart_coordinator_crash(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3)
	restart_case(seed, true, 0, 12);
}

/* More decisions owed than one stretch holds (KONCE_NCGAPI_TAPE_ENTRIES): the replay is read on the
 * writer in several jobs, each played on the loop before the next is queued, and comes whole and in
 * order. */
static void test_restart_stretches(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 2)
	restart_case(seed, false, N - 1, 150);
}

static void call_done(void *dctx, int e) { *(int *)dctx = e; }
static bool out(world *w, int i) { return w->m[i].outs > 0; }

/* The control's rejoin on the store writer (konce_node_group_join_async, node/core/ncghost.c): D
 * leaves and is out; with a new token its join call returns at once with the old group still
 * hosted (the loop waited for nothing), its done says 0 later, once the records before it and the
 * row swap are written; D is a member again, all four agree on new decisions, and after a restart
 * D's store holds the one group. */
static void rejoin_case(uint64_t seed)
{
	world w;
	setup(&w, seed);
	form(&w);
	const int d = N - 1;
	member *m = &w.m[d];
	konce_ncgapi a = api(&w, d);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_leave(&a, "g"), 0);
	ncnode_flush(&m->nn, sim_now(w.s));
	SIM_ASSERT(w.s, run_until(&w, out, d, 30 * SIM_SEC));
	m->outs = 0; /* that OUT was the leave's; no_errors below wants none after it */
	a = api(&w, 0);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_invite(&a, "g", 0, NULL, tokens[d], sizeof tokens[d]), 0);
	ncnode_flush(&w.m[0].nn, sim_now(w.s));
	SIM_ASSERT(w.s, run_until(&w, invite_committed, d, 10 * SIM_SEC));

	int rc = 1;
	m->joined = 0;
	SIM_ASSERT_EQ(w.s, ncnode_group_join_call(&m->nn, tokens[d], "g", 60, call_done, &rc), 0);
	SIM_ASSERT_EQ(w.s, rc, 1); /* on the writer: not done yet */
	konce_group_info info;
	a = api(&w, d);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &info), 0); /* the old group, still hosted */
	ncnode_flush(&m->nn, sim_now(w.s));
	for (int k = 0; k < 500 && rc == 1; k++)
		sim_run_for(w.s, SIM_MS);
	SIM_ASSERT_EQ(w.s, rc, 0);
	ncnode_flush(&m->nn, sim_now(w.s));
	SIM_ASSERT(w.s, run_until(&w, joined, d, 30 * SIM_SEC));
	sim_run_for(w.s, 2 * SIM_SEC);
	propose_rounds(&w, 4);
	SIM_ASSERT(w.s, run_until(&w, converged, 0, 20 * SIM_SEC));
	no_errors(&w);

	ncnode_stop(&m->nn, false);
	SIM_ASSERT_EQ(w.s, ncnode_restart(&m->nn), 0);
	konce_group_info list[4];
	a = api(&w, d);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_list(&a, list, 4), 1);
	SIM_ASSERT(w.s, !strcmp(list[0].name, "g"));
	SIM_ASSERT_EQ(w.s, list[0].nmembers, N);
	teardown(&w);
}

static void test_rejoin_call(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3)
	rejoin_case(seed);
}

/* What a log read on the writer handed back. */
typedef struct logread {
	decided e[LOGMAX];
	unsigned n;
} logread;

static int on_log(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		  size_t len)
{
	logread *l = ctx;
	if (l->n < LOGMAX) {
		decided *d = &l->e[l->n++];
		d->seq = seq;
		memcpy(d->origin, origin, sizeof d->origin);
		snprintf(d->data, sizeof d->data, "%.*s", (int)len, (const char *)data);
	}
	return 0;
}

static bool has_group(world *w, int i)
{
	konce_group_info info;
	konce_ncgapi a = api(w, i);
	return konce_ncgapi_info(&a, "g", &info) == 0;
}

/* The control's create and log read on the store writer (konce_node_group_create_async, _log_async,
 * node/core/ncghost.c as the daemon runs them):
 *   - A's create returns at once with nothing hosted; its done says 0 later, the group hosted; a
 *     second create of the name is refused on the call (-EEXIST), nothing queued;
 *   - the others join, all decide; a log read of a name not hosted is refused on the call; B's log
 *     read from 1 and from 3 hand back (on the writer, then the count on the loop) exactly the
 *     decisions B's application heard, in order, from there;
 *   - a log read still queued when B stops cleanly runs and is reported (node_storew_stop);
 *   - a create still queued when A stops cleanly runs in the stop's sync, after the groups were
 *     unwired from the core: its done says -ECANCELED, the row goes again, and the restart
 *     restores the one group, without an error (a crash drops the job: no done). */
static void create_log_case(uint64_t seed)
{
	world w;
	setup(&w, seed);
	member *a0 = &w.m[0], *b = &w.m[1];
	int rc = 1;
	SIM_ASSERT_EQ(w.s, ncnode_group_create_call(&a0->nn, "g", call_done, &rc), 0);
	SIM_ASSERT_EQ(w.s, rc, 1); /* on the writer: not done yet */
	SIM_ASSERT(w.s, !has_group(&w, 0));
	for (int k = 0; k < 500 && rc == 1; k++)
		sim_run_for(w.s, SIM_MS);
	SIM_ASSERT_EQ(w.s, rc, 0);
	SIM_ASSERT(w.s, has_group(&w, 0));
	int rc2 = 1;
	SIM_ASSERT_EQ(w.s, ncnode_group_create_call(&a0->nn, "g", call_done, &rc2), -EEXIST);
	SIM_ASSERT_EQ(w.s, a0->nn.gw.ncalls, 0);
	ncnode_flush(&a0->nn, sim_now(w.s));
	join_all(&w);
	propose_rounds(&w, 6);
	SIM_ASSERT(w.s, run_until(&w, converged, 0, 20 * SIM_SEC));
	sim_run_for(w.s, SIM_SEC); /* the delivery marks written */

	logread l = {0};
	int n = 1;
	SIM_ASSERT_EQ(w.s, ncnode_group_log_call(&b->nn, "nope", 1, on_log, &l, call_done, &n), -ENOENT);
	SIM_ASSERT_EQ(w.s, ncnode_group_log_call(&b->nn, "g", 1, on_log, &l, call_done, &n), 0);
	SIM_ASSERT_EQ(w.s, n, 1);
	SIM_ASSERT_EQ(w.s, l.n, 0); /* read on the writer */
	for (int k = 0; k < 500 && n == 1; k++)
		sim_run_for(w.s, SIM_MS);
	SIM_ASSERT_EQ(w.s, n, (int)b->nlog);
	SIM_ASSERT_EQ(w.s, l.n, b->nlog);
	for (unsigned k = 0; k < l.n; k++)
		SIM_ASSERT(w.s, same(&l.e[k], &b->log[k]));
	memset(&l, 0, sizeof l);
	n = 1;
	uint64_t from = b->log[2].seq;
	SIM_ASSERT_EQ(w.s, ncnode_group_log_call(&b->nn, "g", from, on_log, &l, call_done, &n), 0);
	for (int k = 0; k < 500 && n == 1; k++)
		sim_run_for(w.s, SIM_MS);
	SIM_ASSERT_EQ(w.s, n, (int)b->nlog - 2);
	for (unsigned k = 0; k < l.n; k++)
		SIM_ASSERT(w.s, same(&l.e[k], &b->log[k + 2]));
	no_errors(&w);

	/* B stops cleanly with a log read queued: it runs, and its done comes */
	memset(&l, 0, sizeof l);
	n = 1;
	SIM_ASSERT_EQ(w.s, ncnode_group_log_call(&b->nn, "g", 1, on_log, &l, call_done, &n), 0);
	ncnode_stop(&b->nn, false);
	SIM_ASSERT_EQ(w.s, n, (int)b->nlog);
	SIM_ASSERT_EQ(w.s, l.n, b->nlog);

	/* A stops cleanly with a create queued: the row job runs in the stop, but the groups are
	 * stopping, so the call is cancelled and the row removed again; the restart restores "g"
	 * alone, without an error */
	rc = 1;
	SIM_ASSERT_EQ(w.s, ncnode_group_create_call(&a0->nn, "h", call_done, &rc), 0);
	ncnode_stop(&a0->nn, false);
	SIM_ASSERT_EQ(w.s, rc, -ECANCELED);
	SIM_ASSERT_EQ(w.s, ncnode_restart(&a0->nn), 0);
	konce_group_info info, list[4];
	konce_ncgapi a = api(&w, 0);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "h", &info), -ENOENT);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_list(&a, list, 4), 1);
	SIM_ASSERT(w.s, !strcmp(list[0].name, "g"));
	SIM_ASSERT_EQ(w.s, ncnode_group_errors(&a0->nn, NULL), 0);

	/* C crashes with a create queued: the job dies with it, no done, nothing stored */
	rc = 1;
	SIM_ASSERT_EQ(w.s, ncnode_group_create_call(&w.m[2].nn, "h", call_done, &rc), 0);
	ncnode_stop(&w.m[2].nn, true);
	SIM_ASSERT_EQ(w.s, rc, 1);
	SIM_ASSERT_EQ(w.s, ncnode_restart(&w.m[2].nn), 0);
	a = api(&w, 2);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "h", &info), -ENOENT);
	teardown(&w);
}

static void test_create_log_call(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3)
	create_log_case(seed);
}

/* What a run shows from outside: the groups' ids, the tokens, every member's decisions, the final
 * epoch and the simulator's trace. */
typedef struct run_seen {
	uint8_t gid[2][KONCE_GROUP_ID_BYTES];
	char tokens[N][KONCE_GROUP_TOKEN_MAX];
	decided log[N][LOGMAX];
	unsigned nlog[N];
	uint64_t epoch, trace;
} run_seen;

/* The seeded run of test_replay_seed, recorded in *r. */
static void seeded_run(uint64_t seed, run_seen *r)
{
	world w;
	konce_group_info info;
	setup(&w, seed);
	form(&w);
	konce_ncgapi a = api(&w, 0);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_create(&a, "h"), 0);
	propose_rounds(&w, 8);
	SIM_ASSERT(w.s, run_until(&w, converged, 0, 20 * SIM_SEC));
	uint64_t at = sim_now(w.s) + sim_rand(w.s) % (100 * SIM_MS);
	sim_run_until(w.s, at);
	links_of(&w, N - 1, 0, false); /* as restart_case: no lost handshake while it is back */
	ncnode_stop(&w.m[N - 1].nn, true);
	sim_run_for(w.s, 300 * SIM_MS);
	w.m[N - 1].nlog = 0;
	SIM_ASSERT_EQ(w.s, ncnode_restart(&w.m[N - 1].nn), 0);
	for (int j = 0; j < N - 1; j++)
		ncnode_learn(&w.m[N - 1].nn, &w.m[j].nn);
	listen(&w, N - 1);
	sim_run_for(w.s, 2 * SIM_SEC);
	propose_rounds(&w, 4);
	SIM_ASSERT(w.s, run_until(&w, converged, 0, 30 * SIM_SEC));
	no_errors(&w);
	memset(r, 0, sizeof *r);
	a = api(&w, 0);
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &info), 0);
	memcpy(r->gid[0], info.id, sizeof info.id);
	r->epoch = info.epoch;
	SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "h", &info), 0);
	memcpy(r->gid[1], info.id, sizeof info.id);
	for (int i = 0; i < N; i++) {
		a = api(&w, i);
		SIM_ASSERT_EQ(w.s, konce_ncgapi_info(&a, "g", &info), 0);
		SIM_ASSERT(w.s, !memcmp(info.id, r->gid[0], sizeof info.id)); /* one group, one id */
		memcpy(r->tokens[i], tokens[i], sizeof tokens[i]);
		memcpy(r->log[i], w.m[i].log, sizeof r->log[i]);
		r->nlog[i] = w.m[i].nlog;
	}
	r->trace = sim_trace_hash(w.s);
	teardown(&w);
}

/* The same seed twice: the same run, to the bit; another seed: other group ids. */
static void test_replay_seed(void **state)
{
	(void)state;
	static run_seen one, two, other;
	SIM_FOR_EACH_SEED(seed, 3) {
		seeded_run(seed, &one);
		seeded_run(seed, &two);
		assert_memory_equal(one.gid, two.gid, sizeof one.gid);
		assert_memory_not_equal(one.gid[0], one.gid[1], sizeof one.gid[0]);
		for (int i = 1; i < N; i++)
			assert_string_equal(one.tokens[i], two.tokens[i]);
		assert_memory_equal(one.nlog, two.nlog, sizeof one.nlog);
		for (int i = 0; i < N; i++)
			for (unsigned k = 0; k < one.nlog[i]; k++) {
				assert_true(same(&one.log[i][k], &two.log[i][k]));
				assert_int_equal(one.log[i][k].replayed, two.log[i][k].replayed);
			}
		assert_int_equal(one.epoch, two.epoch);
		assert_int_equal(one.trace, two.trace);
		seeded_run(seed + 1000, &other);
		assert_memory_not_equal(one.gid[0], other.gid[0], sizeof one.gid[0]);
		assert_memory_not_equal(one.gid[1], other.gid[1], sizeof one.gid[1]);
		for (int i = 1; i < N; i++)
			assert_string_not_equal(one.tokens[i], other.tokens[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_stop),
		cmocka_unit_test(test_restart_crash),
		cmocka_unit_test(test_restart_coordinator_crash),
		cmocka_unit_test(test_restart_stretches),
		cmocka_unit_test(test_rejoin_call),
		cmocka_unit_test(test_create_log_call),
		cmocka_unit_test(test_replay_seed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
