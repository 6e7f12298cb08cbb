/* ncgapp.h - the application's side of the consensus groups the node core hosts (ncgroup.h):
 * the local names it calls them by, the notices and info it is given (include/konce/group.h), and
 * the invitation tokens it passes around (consensus/ctoken.h).  Sans-I/O: the caller passes the
 * clock (now_us, monotonic; unix_s, wall clock for token expiry) and random bytes, and does the
 * store's immediate writes itself (ncgapi.c, through its host: a group is recorded in the store
 * before it is hosted here, and removed again when hosting fails).
 *
 * A name is bound to a group id for the life of the node (it is not unbound when the group ends,
 * so the application can still read its log); a joining group is reported JOINED, once, just
 * before its first view.
 */
#ifndef KONCE_NCGAPP_H
#define KONCE_NCGAPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/ctoken.h"
#include "konce/group.h"
#include "node/core/ncgroup.h"
#include "node/core/nodecore.h"

typedef struct konce_ncgapp_name {
	uint8_t gid[KONCE_CW_GROUP_ID];
	char name[KONCE_GROUP_NAME_MAX + 1];
	bool used, joining; /* joining: JOINED not yet reported */
	bool replay;        /* restored from the store: its state is still to be handed back to the
			     * application (ncgrestore.c), up to replay_upto */
	uint64_t replay_upto;
	unsigned replayed; /* the DECIDED notices handed back so far (a replay in several reads) */
} konce_ncgapp_name;

/* The caller allocates (zeroed: no names, no callbacks). */
typedef struct konce_ncgapp {
	konce_ncgapp_name names[KONCE_NC_GROUPS_MAX];
	/* the application's callbacks (ncgappcb.c); NULL: accept every joiner / an empty state */
	konce_group_policy_fn policy;
	konce_group_snapshot_fn snapshot;
	void *policy_ctx, *snapshot_ctx;
	konce_group_fn notify; /* the application's notices (konce_node_group_on_event); NULL: none */
	void *notify_ctx;
	bool wired; /* the core calls back into this table */
} konce_ncgapp;

/* A local name: 1 to KONCE_GROUP_NAME_MAX of [A-Za-z0-9._-]. */
bool konce_ncgapp_name_ok(const char *name);
konce_ncgapp_name *konce_ncgapp_by_name(konce_ncgapp *t, const char *name);
konce_ncgapp_name *konce_ncgapp_by_gid(konce_ncgapp *t, const uint8_t gid[KONCE_CW_GROUP_ID]);
/* Binds name (a hex id if NULL or empty) to gid; NULL if the table is full. */
konce_ncgapp_name *konce_ncgapp_bind(konce_ncgapp *t, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name);

/* What one group event (konce_nc_event KONCE_NC_EV_GROUP) becomes: n notices to hand the
 * application in order, and a log line when level >= 0. */
typedef struct konce_ncgapp_out {
	unsigned n;
	konce_group_notice notice[2];
	int level; /* KONCE_LOG_*, or -1: nothing to log */
	char log[KONCE_GROUP_NAME_MAX + 96];
} konce_ncgapp_out;
void konce_ncgapp_event(konce_ncgapp *t, konce_nodecore *c, const konce_nc_event *ev, konce_ncgapp_out *out);
/* The public reason (enum konce_group_out_why) for a core's (enum konce_group_out_reason); 0 for 0. */
int konce_ncgapp_out_why(int core_reason, int kind);

/* Commands.  Each returns 0 or a negative errno; -ENOENT for a name not bound. */
/* A new group, founded by this node, under gid (already in the store): -EINVAL (bad name),
 * -EEXIST, or the core's refusal (then nothing is hosted). */
int konce_ncgapp_create(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name,
			uint64_t now_us, uint64_t unix_s);
/* The name a new group may take: 0, -EINVAL (not a name) or -EEXIST. */
int konce_ncgapp_name_free(konce_ncgapp *t, const char *name);
/* An invitation to a group this node is a member of, as token text (cap >= KONCE_CTOKEN_TEXT_MAX):
 * the member keys (self first), secret (32 random bytes from the caller) and the address hint
 * (addr_hint: this node's "ADDR:PORT", or NULL for none).  -EINVAL, -ENOTCONN (not a member now). */
int konce_ncgapp_invite(konce_ncgapp *t, konce_nodecore *c, const char *name, const uint8_t self[KONCE_CW_KEY],
			const uint8_t secret[KONCE_CW_SECRET], uint64_t expires, const char *addr_hint,
			uint64_t now_us, uint64_t unix_s, char *token, size_t cap);
/* Reads an invitation's text into *tok for a join under name (NULL: "g-" and the id's first 4
 * bytes in hex, written to name_out): -EINVAL (bad text or name, or this node's own invitation),
 * -ETIMEDOUT (expired), -EEXIST (the name or the group is taken). */
int konce_ncgapp_join_check(konce_ncgapp *t, const uint8_t self[KONCE_CW_KEY], const char *text, const char *name,
			    uint64_t unix_s, konce_ctoken *tok, char name_out[KONCE_GROUP_NAME_MAX + 1]);
/* A join of gid under name that found the group here (-EEXIST) may replace it when this node is
 * out of it (evicted, left, refused) and name is free or the group's own: true then.  forget
 * unhosts the group and frees its name (the caller removes its records from the store first). */
/* tok is an invitation this node (self) made: a member's own, which it cannot join by. */
bool konce_ncgapp_token_own(const konce_ctoken *tok, const uint8_t self[KONCE_CW_KEY]);
bool konce_ncgapp_rejoinable(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID],
			     const char *name);
void konce_ncgapp_forget(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID]);
/* Joins the group of a checked token (already in the store) under name: loads the members'
 * addresses of its hint, hosts the group and asks to join.  On failure nothing is hosted. */
int konce_ncgapp_join(konce_ncgapp *t, konce_nodecore *c, const konce_ctoken *tok, const char *name, uint64_t now_us,
		      uint64_t unix_s);
/* The same, giving up timeout_s seconds from now_us (0: KONCE_GROUP_JOIN_TIMEOUT_MS). */
int konce_ncgapp_join_for(konce_ncgapp *t, konce_nodecore *c, const konce_ctoken *tok, const char *name,
			  uint64_t now_us, uint64_t unix_s, unsigned timeout_s);
int64_t konce_ncgapp_propose(konce_ncgapp *t, konce_nodecore *c, const char *name, const uint8_t *data, size_t len,
			     uint64_t now_us);
int konce_ncgapp_leave(konce_ncgapp *t, konce_nodecore *c, const char *name, uint64_t now_us);

/* Reads. */
int konce_ncgapp_info(konce_ncgapp *t, konce_nodecore *c, const char *name, konce_group_info *out);
/* Fills up to max; returns how many groups are hosted. */
int konce_ncgapp_list(konce_ncgapp *t, konce_nodecore *c, konce_group_info *out, size_t max);
/* ncgstatus.c: what group `name` knows of the invitation `token`, its expiry judged at unix_s
 * (konce_group_invite_state: 1 committed, 0 not yet, -ESTALE, -ETIMEDOUT; -EINVAL for bad text or
 * a token of another group); and the view member by member at now_us (out zeroed first; each
 * member other than this node named by its petname in the known set, "" if none): 0, -ENOENT,
 * -ENOTCONN (joining or out). */
int konce_ncgapp_invite_status(konce_ncgapp *t, konce_nodecore *c, const char *name, const char *token,
			       uint64_t unix_s);
int konce_ncgapp_status(konce_ncgapp *t, konce_nodecore *c, const char *name, uint64_t now_us,
			konce_group_status *out);
/* ncgappcb.c: the application's join policy / snapshot callback for every hosted group, called
 * with the group's local name (a group without one gets a no / -ENOENT; a snapshot callback's
 * nonzero return becomes -EAGAIN, a snapshot over KONCE_GROUP_SNAPSHOT_MAX -EMSGSIZE).  The first
 * call wires t into c (konce_nodecore_groups_app), so t must stay put until
 * konce_ncgapp_unwire(t, c), which a host calls before it frees t.  0 or -ENOMEM. */
int konce_ncgapp_on_join_request(konce_ncgapp *t, konce_nodecore *c, konce_group_policy_fn fn, void *ctx);
int konce_ncgapp_on_snapshot(konce_ncgapp *t, konce_nodecore *c, konce_group_snapshot_fn fn, void *ctx);
void konce_ncgapp_unwire(konce_ncgapp *t, konce_nodecore *c);
/* ncgrestore.c: a group the store holds, at start, and the state it hands back to the
 * application (replayed notices).  konce_ncgapp_restore_host hosts an idle core for gid (and sets
 * the groups' wall clock) for the caller to restore into: 0 and *g, or the core's refusal.
 * konce_ncgapp_restored: the caller's restore of it returned err: on 0 its name is bound (NULL or
 * empty: the id in hex) and its JOINED still owed if it is joining; on failure, or with no room
 * for the name, the group is unhosted and NULL returned.  konce_ncgapp_replay_due: x restored as a
 * member: the caller reads its delivery point from the store and calls konce_ncgapp_replay_owe
 * (the core delivers after it: everything up to it is handed back).
 * konce_ncgapp_replay_next: the next group owed its state (the one of gid, before an event of it;
 * any, with gid NULL, once the application listens), in table order from *pos (moved past it; 0 at
 * the start), or NULL; its debt is paid:
 * the caller hands the state back now (or owes it again, x->replay, for what a read still has to
 * bring).  The notices: _replay_notice fills the group's part of
 * *o, _replay_snapshot and _replay_entry one stored snapshot or log entry (on a copy of it);
 * _replay_entry returns 1 (a DECIDED notice), 0 (not the application's: no notice) or -1
 * (malformed). */
int konce_ncgapp_restore_host(konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t unix_s,
			      konce_group **g);
konce_ncgapp_name *konce_ncgapp_restored(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID],
					 const char *name, int err);
bool konce_ncgapp_replay_due(const konce_ncgapp_name *x);
void konce_ncgapp_replay_owe(konce_ncgapp_name *x, uint64_t delivered);
konce_ncgapp_name *konce_ncgapp_replay_next(konce_ncgapp *t, const uint8_t *gid, int *pos);
void konce_ncgapp_replay_notice(const konce_ncgapp_name *x, konce_group_notice *o);
void konce_ncgapp_replay_snapshot(konce_group_notice *o, uint64_t seq, const uint8_t *data, size_t len);
int konce_ncgapp_replay_entry(konce_group_notice *o, uint64_t seq, const uint8_t *e, size_t len);
/* Hands o to the application's notify callback, if it has one. */
void konce_ncgapp_notify(const konce_ncgapp *t, const konce_group_notice *o);
/* The store's replay callbacks (konce_store_group_replay) over a konce_ncgapp_replayer: each
 * stored snapshot and each application entry, as a replayed notice of r->o's group (filled by
 * konce_ncgapp_replay_notice) to konce_ncgapp_notify(r->t); r->decided counts the DECIDED ones.  A
 * malformed entry stops the replay (1). */
typedef struct konce_ncgapp_replayer {
	const konce_ncgapp *t;
	konce_group_notice o;
	unsigned decided;
} konce_ncgapp_replayer;
int konce_ncgapp_replay_snap_cb(void *r, uint64_t seq, const uint8_t *data, size_t len);
int konce_ncgapp_replay_entry_cb(void *r, uint64_t seq, const uint8_t *e, size_t len);
/* ncglog.c: the application's read of a group's log.  _log_gid: the id of the hosted group bound
 * to name, 0 or -ENOENT.  _log_span: the positions to read from `from` (0: the start) up to the
 * delivery point, [*first, delivered]; false when there are none.  _log_one: a store entry
 * callback (konce_store_group_entries) that passes each application entry to l->fn, counted in
 * l->n, and skips the rest; it returns what l->fn returns (nonzero stops). */
typedef struct konce_ncgapp_logread {
	int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		  size_t len);
	void *ctx;
	int n;
} konce_ncgapp_logread;
int konce_ncgapp_log_gid(konce_ncgapp *t, konce_nodecore *c, const char *name, uint8_t gid[KONCE_CW_GROUP_ID]);
bool konce_ncgapp_log_span(uint64_t from, uint64_t delivered, uint64_t *first);
int konce_ncgapp_log_one(void *ctx, uint64_t seq, const uint8_t *e, size_t len);
/* An application entry of a group's log (cwire.h entry encoding): true with its origin and data,
 * false for any other kind or a malformed entry. */
bool konce_ncgapp_log_entry(const uint8_t *e, size_t len, const uint8_t **origin, const uint8_t **data, size_t *dlen);

#endif
