/* group_harness.h - a deterministic in-process network of consensus members (consensus/cgroup.h)
 * for the tests/sim/test_group_*.c programs.
 *
 * Members are numbered nodes.  A message is delivered after a seeded delay (plus a slow node's
 * extra delay), may be lost or duplicated (reordering follows from the random delays), and dies
 * if its ends are on different sides of a partition or its receiver is down when it arrives.  Each
 * node has an in-memory store implementing konce_group_persist; a crash drops the core (and its
 * queued messages) and keeps the store, a restart rebuilds the core from the store.
 *
 * The checks run after every delivered event (gh_check_* record violations, never abort):
 *   - agreement: no two nodes deliver different entries at one seq;
 *   - no loss: each node delivers seq, seq+1, ... without a gap, and its application state (a
 *     hash chain over the entries applied) after seq equals every other node's after seq; a
 *     joiner, or a node that missed views (GAP), delivers nothing until its SNAPSHOT event, whose
 *     state must be the one after the snapshot's seq;
 *   - views: every node that installs epoch e installs the same members (judged when its VIEW
 *     event comes out while the core is still in epoch e: a later one reads a later view);
 *   - joins: a JOIN_DECIDED(accepted) at a coordinator is backed by JOIN_VOTE messages actually
 *     delivered to it (plus its own policy answer) from a strict majority and no "no"; a view that
 *     adds a key follows such a decision.
 * Progress is checked by the tests (gh_progress).
 */
#ifndef GROUP_HARNESS_H
#define GROUP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/cgroup.h"
#include "tests/sim/gwriter.h"
#include "store/store.h"
#include "tests/sim/sim_int.h"

enum { GH_MAX_NODES = 10, GH_MAX_SEQ = 1 << 13, GH_MAX_EPOCH = 1024 };

/* A persist call not yet durable (asynchronous stores: gh->async). */
typedef struct gh_rec {
	int kind; /* 1 view, 2 vote, 3 entries, 4 delivered, 5 snapshot */
	uint64_t a, b, c;
	uint8_t *bytes;
	size_t len;
} gh_rec;

typedef struct gh_store {
	uint8_t *view;
	size_t view_len;
	uint64_t vote_base, promised, acc_ballot;
	uint8_t *acc;
	size_t acc_len;
	uint8_t **entry; /* [GH_MAX_SEQ] encoded entries */
	size_t *entry_len;
	uint64_t max_seq, delivered;
	uint8_t (*used)[KONCE_CW_SECRET]; /* the invitations the views used */
	size_t nused;
	bool needs_state;      /* put_snapshot(0) */
	uint64_t snap_seq;     /* put_snapshot(seq >= 1) */
	size_t snap_len;
	/* Asynchronous mode (gh_writer.c): the store's queue (calls since the core was made), and the
	 * daemon's persist table with the flush event and the writer (tests/sim/gwriter.h). */
	gh_rec *pend;
	size_t npend, cpend;
	uint64_t calls;
	gwriter gw;
	gh_rec *wq; /* the writer's queue: a batch in flight, or a failed one */
	size_t nwq, cwq;
	uint64_t lost; /* records a crash lost before they were durable */
	struct gh *sim;
	konce_store *db;  /* SQLite mode: the same records, in a real store (gh_set_sqlite) */
	konce_store *wdb; /* and the writer's own connection to it */
} gh_store;

typedef struct gh_node {
	uint8_t key[KONCE_CW_KEY];
	konce_group *g;
	bool up, used, out;
	uint64_t next_delivery; /* seq expected next (0: not yet known) */
	uint64_t extra_delay;   /* a slow node */
	int side;               /* partition side */
	gh_store st;
	bool policy[GH_MAX_NODES]; /* this node's answer about joiner node j */
	uint64_t proposals, out_reason;
	uint64_t halted_events;
	uint8_t secret[KONCE_CW_SECRET]; /* a joiner's invitation */
	uint64_t invite_expires;         /* and its expiry (unix seconds; 0: never) */
	/* The application: a hash chain over the entries applied, at app_seq.  Its snapshot is the
	 * hash and a filler derived from it (0-40 KB, so that transfers take 1-3 SNAP chunks). */
	uint64_t app_hash, app_seq;
	bool awaiting; /* joined or missed views: no state until a SNAPSHOT event */
	uint64_t snapshots;
	unsigned max_batch; /* konce_group_set_max_batch() of its cores; 0: the default */
} gh_node;

typedef struct gh_msg {
	uint64_t at, seq;
	unsigned from, to;
	uint8_t *bytes;
	size_t len;
} gh_msg;

typedef struct gh {
	uint64_t seed, now, qseq;
	simrng rng;
	sim_envctx envc;
	uint8_t group[KONCE_CW_GROUP_ID];
	gh_node node[GH_MAX_NODES];
	unsigned nn;
	gh_msg *q; /* binary heap on (at, seq) */
	size_t qlen, qcap;
	double loss, dup;
	uint64_t delay_min, delay_max;
	/* Checks. */
	uint64_t *seq_hash; /* [GH_MAX_SEQ] entry hash delivered at seq (0: none yet) */
	uint64_t *chain;    /* [GH_MAX_SEQ] the application's hash after applying seq (0: none yet) */
	uint64_t snapshots, expired_refusals;
	bool expiring_invites; /* gh_invite: a quarter of the invitations expire 1-3 s after issue */
	uint64_t max_delivered;
	uint64_t epoch_hash[GH_MAX_EPOCH];
	uint8_t epoch_keys[GH_MAX_EPOCH][KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	uint8_t epoch_n[GH_MAX_EPOCH];
	bool accepted[GH_MAX_NODES];
	/* Delivered JOIN_VOTEs: [coordinator][joiner][voter] = 1 yes, 2 no, with the epoch. */
	uint8_t votes[GH_MAX_NODES][GH_MAX_NODES][GH_MAX_NODES];
	uint64_t votes_epoch[GH_MAX_NODES][GH_MAX_NODES];
	unsigned violations;
	char first_violation[256];
	uint64_t delivered_events, views, msgs, halts, evictions, joins_accepted, joins_refused;
	uint64_t stale_views; /* VIEW events released after the core installed a later view */
	uint64_t short_joins, joins_withdrawn; /* joins given a short deadline; joiners OUT (TIMEDOUT) */
	/* Asynchronous stores: a persist call returns KONCE_GROUP_PERSIST_QUEUED and the record goes
	 * to the writer as the daemon's persist table says; a batch takes 1..flush_max microseconds and
	 * fails with probability wfail (retried); only a written one is reported (konce_group_persisted).
	 * A crash loses what is not written. */
	bool async;
	uint64_t flush_max;
	double wfail;
	simrng frng;
	uint64_t lost_records;
	/* SQLite mode: every node's records also go to its own konce_store in dbdir; a crash closes
	 * it with its queue discarded, a restart reopens it and restores the core from it (and checks
	 * that it holds exactly the in-memory store's records). */
	char dbdir[64];
	uint64_t db_flushes, db_restores, replays;
} gh;

gh *gh_new(uint64_t seed, unsigned members, unsigned spares);
/* Make every store asynchronous (call right after gh_new). */
void gh_set_async(gh *s, uint64_t flush_max);
/* The asynchronous stores' writer fails a batch with probability p (call after gh_set_async). */
void gh_set_write_fail(gh *s, double p);
/* SQLite mode (implies asynchronous stores); call right after gh_new.  0 or a negative errno. */
int gh_set_sqlite(gh *s, uint64_t flush_max);
void gh_free(gh *s);
/* Run until time t (microseconds): deliver messages, run timers. */
void gh_run_until(gh *s, uint64_t t);
void gh_crash(gh *s, unsigned i);
void gh_restart(gh *s, unsigned i);
void gh_heal(gh *s);
int gh_propose(gh *s, unsigned i);
/* Node inviter registers an invitation for spare j, and j starts to join. */
int gh_invite(gh *s, unsigned inviter, unsigned j);
int gh_join(gh *s, unsigned j);
/* The same with a token naming these nodes (an older view's, or part of one). */
int gh_join_to(gh *s, unsigned j, const unsigned *members, unsigned cnt);
/* The highest installed epoch among running nodes, and its members as node numbers. */
uint64_t gh_top_epoch(gh *s, unsigned *members, unsigned *n);
int gh_node_of(const gh *s, const uint8_t key[KONCE_CW_KEY]);
/* The simulated wall clock every node's core judges invitation expiry by (unix seconds). */
uint64_t gh_wall(const gh *s);
/* After the faults end: every member of the top view runs, is NORMAL in that epoch, and an entry
 * each proposes is delivered by all of them within `within` microseconds.  0, or -1 with a
 * violation recorded. */
int gh_progress(gh *s, uint64_t within);
/* gh_debug.c: print a member's internals to stderr. */
void gh_debug_dump(konce_group *g, unsigned node);

#endif
