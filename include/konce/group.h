/** \file group.h
 * Consensus groups on a node (docs/API.md "Groups", docs/CONSENSUS.md).
 *
 * A group is a small set of nodes that agree on one sequence of decisions.  A node founds one
 * (konce_node_group_create), invites peers with a token (konce_node_group_invite), and a peer joins
 * with it (konce_node_group_join).  Any member proposes decisions (bytes); every member delivers the
 * committed decisions in the same order through the event callback.  A member that stops answering
 * is evicted by the others.  Groups are named locally (the name is this node's, not the group's) and
 * live in the node's store: they survive a restart.  The node needs a data directory (a store):
 * without one every call returns -ENOTSUP.
 *
 * The conventions of konce.h apply: 0 (or a count) or a negative errno; a call that fails never
 * calls back.  Events are delivered from the node's event loop, never inside the call.
 */
#ifndef KONCE_GROUP_H
#define KONCE_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"

enum {
	KONCE_GROUP_ID_BYTES = 16,
	KONCE_GROUP_NAME_MAX = 63,        /* bytes of a local group name */
	KONCE_GROUP_MEMBERS_MAX = 16,
	KONCE_GROUP_DECISION_MAX = 1024,  /* bytes of one decision */
	KONCE_GROUP_JOIN_TIMEOUT_DEFAULT = 30, /* seconds a join waits to be admitted (konce_node_group_join) */
	KONCE_GROUP_JOIN_TIMEOUT_MAX = 86400,  /* seconds, at most (konce_node_group_join_timeout) */
	KONCE_GROUP_TOKEN_MAX = 1200,     /* an invitation token's text, with its NUL */
	KONCE_GROUP_SNAPSHOT_MAX = (1 << 20) - 2048, /* bytes of an application snapshot */
	KONCE_GROUP_ORIGIN_BYTES = 8,     /* a decision's origin: the first bytes of its proposer's key */
};

enum konce_group_notice_type {
	KONCE_GROUP_N_DECIDED = 1, /* seq, origin, nonce, data/len: the next committed decision, in order */
	KONCE_GROUP_N_VIEW,        /* epoch, members: a new view was installed (a join, leave, eviction) */
	KONCE_GROUP_N_JOINED,      /* this node's join was accepted (a VIEW follows or preceded it) */
	KONCE_GROUP_N_OUT,         /* reason: this node is no longer a member */
	KONCE_GROUP_N_HALTED,      /* a view change cannot complete: this side may be a minority */
	KONCE_GROUP_N_STORE_FAILED, /* reason (negative errno): a record could not be made durable */
	KONCE_GROUP_N_SNAPSHOT,    /* seq, data/len: this node joined (or missed views): replace the
				    * application state by this one, another member's state after
				    * decision seq (its snapshot callback's bytes); DECIDED goes on at
				    * seq + 1 */
};

enum konce_group_out_why {
	KONCE_GROUP_EVICTED = 1, /* the others removed this node */
	KONCE_GROUP_LEFT,        /* konce_node_group_leave() completed */
	KONCE_GROUP_REFUSED,     /* a join was refused (invalid, used or expired invitation, or a veto) */
	KONCE_GROUP_JOIN_TIMEDOUT, /* a join was neither accepted nor refused in its time (30 s unless
				    * konce_node_group_join_timeout said otherwise), and it withdrew: no
				    * coordinator admitted it (the group is down, halted, or unreachable) */
	KONCE_GROUP_JOIN_UNKNOWN,  /* as JOIN_TIMEDOUT, and a coordinator it reached did not know its
				    * invitation: a forged or mistyped token, or one whose INVITE never
				    * committed (a group cannot tell these apart, so it never refuses one
				    * at once: docs/CONSENSUS.md, "Joining before the INVITE commits") */
};

typedef struct konce_group_notice {
	enum konce_group_notice_type type;
	char name[KONCE_GROUP_NAME_MAX + 1];
	uint8_t id[KONCE_GROUP_ID_BYTES];
	uint64_t seq, epoch;
	uint8_t origin[KONCE_GROUP_ORIGIN_BYTES];
	uint64_t nonce;      /* DECIDED: the proposer's nonce (konce_node_group_propose's return) */
	const uint8_t *data; /* DECIDED, SNAPSHOT: valid during the callback */
	size_t len;
	unsigned members;    /* VIEW */
	int reason;          /* OUT: enum konce_group_out_why; STORE_FAILED: errno */
	int replayed;        /* DECIDED, SNAPSHOT: 1 when handed back from this node's store as the node
			      * starts (the state this node had built before: a SNAPSHOT if it joined
			      * by one, then the DECIDED after it); 0 when new */
} konce_group_notice;

typedef void (*konce_group_fn)(void *ctx, const konce_group_notice *ev);

enum konce_group_state_public {
	KONCE_GROUP_S_JOINING = 1,
	KONCE_GROUP_S_MEMBER,
	KONCE_GROUP_S_VIEWCHANGE,
	KONCE_GROUP_S_OUT,
};

typedef struct konce_group_info {
	char name[KONCE_GROUP_NAME_MAX + 1];
	uint8_t id[KONCE_GROUP_ID_BYTES];
	int state;       /* enum konce_group_state_public */
	int halted;
	uint64_t epoch, commit;
	unsigned nmembers, coordinator; /* coordinator: index into members */
	uint8_t members[KONCE_GROUP_MEMBERS_MAX][KONCE_KEY_BYTES];
	int out_reason;        /* OUT: enum konce_group_out_why; else 0 */
	int64_t join_left_ms;  /* JOINING: milliseconds before the join gives up (OUT, JOIN_TIMEDOUT); else -1 */
	uint64_t join_epoch;   /* JOINING: the epoch of the latest view a member told this node of, whose
				* members it asks now (0: none yet, it asks the token's members) */
} konce_group_info;

/** What this node's failure detector thinks of a member (docs/CONSENSUS.md "Failure detection"). */
enum konce_group_suspicion_public {
	KONCE_GROUP_HEALTHY = 0, /* heard lately (or this node itself) */
	KONCE_GROUP_IN_GRACE,    /* new to the view, or another member vouched for it: not suspected yet */
	KONCE_GROUP_SILENT,      /* not heard (or owing an ack) for 600 ms: it is about to be probed */
	KONCE_GROUP_PROBING,     /* silent: another member is being asked whether it hears it */
	KONCE_GROUP_SUSPECTED,   /* suspected: a view change without it is under way */
};

typedef struct konce_group_member_status {
	uint8_t key[KONCE_KEY_BYTES];
	char name[64];       /* this node's petname for the key ("konce alias"), "" if none */
	int self;            /* this node */
	int coordinator;     /* the view's coordinator */
	int64_t heard_ms;    /* milliseconds since this node last heard from it (0 for itself) */
	int64_t acked;       /* the seq through which it has stored the log, as the coordinator counts
			      * it; -1 when this node is not the coordinator (only it counts acks) */
	int suspicion;       /* enum konce_group_suspicion_public */
} konce_group_member_status;

typedef struct konce_group_status {
	konce_group_info info;
	int catching_up;     /* this node waits for a snapshot of the state before its first view */
	uint64_t last;       /* the last log position this node holds (>= info.commit) */
	konce_group_member_status members[KONCE_GROUP_MEMBERS_MAX]; /* info.nmembers of them, in view order */
} konce_group_status;

/** Founds a group named `name` (letters, digits, '-', '_', '.'; unique on this node) with this node
 * as its only member.  0, -EEXIST, -EINVAL, -ENOTSUP (no store), -ENOSPC (too many groups). */
KONCE_API int konce_node_group_create(konce_node *n, const char *name);
/** Registers a one-use invitation (it is ordered like a decision) and writes its token text into
 * token (KONCE_GROUP_TOKEN_MAX bytes).  expires: unix seconds, 0 = never.  addr_hint: "ADDR:PORT"
 * where a joiner reaches this node; the token then also carries the newest address this node knows
 * for each other member.  NULL: no addresses (the joiner finds the members by key: its store or a
 * rendezvous; right behind NATs).  0, -ENOENT (no such group), -ENOTCONN (not a member now), -EAGAIN
 * (too many proposals pending), -EINVAL. */
KONCE_API int konce_node_group_invite(konce_node *n, const char *name, uint64_t expires, const char *addr_hint,
				      char *token, size_t cap);
/** Whether the invitation of a token that konce_node_group_invite() returned has committed here:
 * 1 (a joiner can use the token now), 0 (not yet: the invitation is ordered like a decision, and
 * commits once every member of the view has it), -ESTALE (used or refused), -ETIMEDOUT (expired),
 * -ENOENT (no such group), -EINVAL (not a token of this group). */
KONCE_API int konce_node_group_invite_status(konce_node *n, const char *name, const char *token);
/** Asks to join the group of a token, naming it `name` here (NULL: "g-" and the id's first bytes in
 * hex).  The outcome arrives as JOINED, or OUT (REFUSED, or JOIN_TIMEDOUT when no coordinator
 * admitted it within KONCE_GROUP_JOIN_TIMEOUT_DEFAULT seconds; a member that is not the coordinator
 * points the join at its view's).  At the deadline the join withdraws rather than just stopping: a
 * view that admitted it meanwhile still seats it (JOINED), and OUT follows once the coordinator
 * confirms or a few seconds pass (docs/CONSENSUS.md "Giving up").  The deadline is wall-clock time
 * kept in the store: a restarted node keeps what was left.  0, -EINVAL (a malformed token),
 * -ETIMEDOUT (the token has expired), -EEXIST (the group or the name is here already).  A group this
 * node is out of (evicted, left, refused) is replaced by the join: its records go first. */
KONCE_API int konce_node_group_join(konce_node *n, const char *token, const char *name);
/** The same, giving up after timeout_s seconds (1 .. KONCE_GROUP_JOIN_TIMEOUT_MAX); -ERANGE for
 * another value. */
KONCE_API int konce_node_group_join_timeout(konce_node *n, const char *token, const char *name, unsigned timeout_s);
/** Proposes a decision of len bytes (1 .. KONCE_GROUP_DECISION_MAX).  Returns its nonce (>= 1): the
 * DECIDED event with this node's origin carries the decision; or -ENOENT, -EMSGSIZE, -EAGAIN,
 * -ENOTCONN (not a member in a working view). */
KONCE_API int64_t konce_node_group_propose(konce_node *n, const char *name, const uint8_t *data, size_t len);
/** Leaves the group: the others install a view without this node; OUT (LEFT) follows. */
KONCE_API int konce_node_group_leave(konce_node *n, const char *name);
/** The state and view of one group.  0, -ENOENT. */
KONCE_API int konce_node_group_info(konce_node *n, const char *name, konce_group_info *out);
/** The view of one group as this node sees it, member by member: when each was last heard, how far
 * it has acked (at the coordinator) and whether it is suspected.  0, -ENOENT, -ENOTCONN (this node
 * is joining or out: no view to report; out->info is filled). */
KONCE_API int konce_node_group_status(konce_node *n, const char *name, konce_group_status *out);
/** Up to max groups, by name; returns how many there are (possibly more than max). */
KONCE_API int konce_node_group_list(konce_node *n, konce_group_info *out, size_t max);
/** Calls fn for each decision delivered at seq >= from, in order (fn returns nonzero to stop).
 * Returns the number visited, or -ENOENT. */
KONCE_API int konce_node_group_log(konce_node *n, const char *name, uint64_t from,
				   int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
					     const uint8_t *data, size_t len),
				   void *ctx);
/** The calls above that write or read the store (create, join and log) wait for SQLite on the
 * caller's thread, which is the event loop's.  Each has a form that does not: the store's writer
 * thread does the SQLite work, and the outcome comes later, from the event loop.
 *
 * Each returns 0, and then done(ctx, result) is called exactly once: from the event loop, never
 * inside the call; or, if the node stops first, from inside konce_node_free() with -ECANCELED (for a
 * create or join the group then is not kept).  Or it returns a negative errno from the checks that
 * need no SQLite (those of the waiting form, e.g. -EINVAL, -EEXIST, -ENOTSUP; -ENOBUFS when the
 * writer already holds too many calls), and done is never called. */
typedef void (*konce_group_done_fn)(void *ctx, int result);
/** konce_node_group_create(): result is 0 once the group's row is written and the group hosted,
 * or what the waiting form returns. */
KONCE_API int konce_node_group_create_async(konce_node *n, const char *name, konce_group_done_fn done, void *ctx);
/** konce_node_group_join_timeout() (timeout_s 0: KONCE_GROUP_JOIN_TIMEOUT_DEFAULT): result is 0 once
 * the join is under way (a group this node is out of replaced, its records written and removed on
 * the writer too); the outcome of the join itself still comes as JOINED or OUT. */
KONCE_API int konce_node_group_join_async(konce_node *n, const char *token, const char *name, unsigned timeout_s,
					  konce_group_done_fn done, void *ctx);
/** konce_node_group_log(): name is resolved in the call (-ENOENT), the decisions at seq >= from are
 * read on the writer thread, and fn(fnctx, ...) is called for each ON THAT THREAD (it must not call
 * the node; data is valid until it returns; nonzero stops); then done(ctx, the number visited or a
 * negative errno) from the event loop. */
KONCE_API int konce_node_group_log_async(konce_node *n, const char *name, uint64_t from,
					 int (*fn)(void *fnctx, uint64_t seq,
						   const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
						   size_t len),
					 void *fnctx, konce_group_done_fn done, void *ctx);
/** The join policy: when the coordinator asks this node to vote on a joiner of group `name` that
 * holds an invitation this node does not know to be used or expired, the node asks fn (from the
 * event loop, while it handles the request); nonzero accepts, 0 vetoes, and one veto refuses the
 * joiner (and spends the invitation).  NULL (the default) accepts. */
typedef int (*konce_group_policy_fn)(void *ctx, const char *name, const uint8_t key[KONCE_KEY_BYTES]);
/** The application's state for a member that lacks it (a joiner, or one that missed views): fn points
 * *data at the state after every decision this node has delivered so far (every DECIDED event it
 * has had), at most KONCE_GROUP_SNAPSHOT_MAX bytes, valid until fn returns, and returns 0; nonzero:
 * no snapshot now (the member asks another).  Called from the event loop.  The receiver gets it as
 * a SNAPSHOT event.  NULL (the default): the state is empty, and the receiver learns only where its
 * DECIDED events start. */
typedef int (*konce_group_snapshot_fn)(void *ctx, const char *name, const uint8_t **data, size_t *len);
/** Sets the join policy for every group on this node.  0, or -ENOTSUP without a store. */
KONCE_API int konce_node_group_on_join_request(konce_node *n, konce_group_policy_fn fn, void *ctx);
/** Sets the snapshot callback for every group on this node.  0, or -ENOTSUP without a store. */
KONCE_API int konce_node_group_on_snapshot(konce_node *n, konce_group_snapshot_fn fn, void *ctx);
/** Events of every group on this node (NULL: none).  0, or -ENOTSUP without a store.
 * A node that starts with groups in its store hands each group's state back first, from the event
 * loop after fn is set (or just before that group's first new event): the SNAPSHOT it joined by,
 * if any, then every DECIDED delivered before, in order, each with `replayed` set; the new DECIDED
 * events go on from there.  An application that keeps its own state durably may skip them. */
KONCE_API int konce_node_group_on_event(konce_node *n, konce_group_fn fn, void *ctx);

#endif
