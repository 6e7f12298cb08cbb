/* ncgapi.h - the public group API of include/konce/group.h, as the node core runs it: the
 * argument checks, the order of the store's immediate writes around hosting, the rejoin of a group
 * this node is out of, the restore of the stored groups at start, the replay of what the
 * application is owed and the translation of the core's group events into notices.  Sans-I/O: the
 * host (node/io/group_io.c, tests/sim/nn_groups.c; their sequencing around the store writer is
 * ncghost.h's) passes the clock in each call's context (konce_ncgapi) and does what
 * the store, its writer and its event loop do through a konce_ncgapi_host.  The random bytes (a new
 * group's id, an invitation's secret) come from the node core's env (konce_nodecore_env: the
 * daemon's is libsodium's randombytes_buf, the simulator's its seeded stream), so a seed replays a
 * simulated run of groups exactly.
 *
 * Each command checks its arguments, then that the node runs (-EINVAL when it has no core) and
 * hosts groups (-ENOTSUP when it has no store), then acts.  The store's immediate writes bracket
 * hosting: a group is recorded in the store (add, add_join) before the core hosts it, and removed
 * again when the core refuses it, so a restart never finds a group the store lacks nor hosts one
 * the application never saw succeed.  A command that changed the core asks the host to run it
 * (kick).
 *
 * Rejoin (konce_ncgapi_join): a join whose token names a group hosted here (-EEXIST) replaces it
 * when this node is out of it and the name is free or the group's own (konce_ncgapp_rejoinable):
 * every queued record is written first (sync: none stays queued behind the removal), the group
 * leaves the store and the core, and the token is checked again.  Any other -EEXIST stands.  The
 * two-half join (konce_ncgapi_join_begin) leaves the writes to the host and the core's forget to
 * its _end, in the same order.
 *
 * Restore (konce_ncgapi_restore): every stored group is hosted again and restored from its
 * records; one that the core cannot host, the store cannot restore or that finds no name left is
 * logged and unhosted; one restored as a member is owed its state up to the delivery point
 * (ncgrestore.c).  Replay (konce_ncgapi_replay): a group owed its state gets it from the store
 * before its first new event, or once the application listens (konce_ncgapi_on_event asks the
 * host for replay_soon).
 */
#ifndef KONCE_NCGAPI_H
#define KONCE_NCGAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/core/ncgapp.h"

/* The store's group callbacks, as store/store.h declares them. */
typedef int (*konce_ncgapi_each_fn)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name,
				    uint64_t epoch);
typedef int (*konce_ncgapi_snap_fn)(void *ctx, uint64_t seq, const uint8_t *data, size_t len);
typedef int (*konce_ncgapi_entry_fn)(void *ctx, uint64_t seq, const uint8_t *e, size_t len);

/* What the host does for the API.  Every int is 0 or a negative errno (err, when given, says why).
 * The store's primitives (add .. read) take `store` as their ctx, the rest `ctx`. */
typedef struct konce_ncgapi_host {
	void *ctx, *store;
	/* The store's immediate writes: a group founded here (no join keys), a joiner's group with its
	 * token's keys and secret and the wall-clock time its join gives up, a group removed. */
	int (*add)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name, char *err, size_t errlen);
	int (*add_join)(void *ctx, const konce_ctoken *tok, const char *name, uint64_t until_unix, char *err,
			size_t errlen);
	int (*remove)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], char *err, size_t errlen);
	/* Writes every queued group record here and now, and tells the persist table. */
	int (*sync)(void *ctx, char *err, size_t errlen);
	/* The store's reads: a group's delivery point; its entries first..last (the count or an errno);
	 * every stored group (the count or an errno); a group's core restored from its records (now_us:
	 * the core's clock); a group's application state up to upto (konce_store_group_replay: read,
	 * for konce_ncgapi_tape_read on the reader's thread). */
	int (*delivered)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t *delivered);
	int (*entries)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t first, uint64_t last,
		       konce_ncgapi_entry_fn fn, void *fnctx);
	int (*each)(void *ctx, konce_ncgapi_each_fn fn, void *fnctx);
	int (*restore)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], konce_group *g, uint64_t now_us, char *err,
		       size_t errlen);
	int (*read)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		    konce_ncgapi_entry_fn entry, void *fnctx);
	/* Hands gid's state up to upto to snap and entry, in order, and returns 0 or the negative errno
	 * konce_store_group_replay would with them as its callbacks; or, only when !wait, passes the
	 * part it has read so far and returns 1: the rest comes in a later call (the host calls
	 * konce_ncgapi_replay(, NULL) again once it has read more).  With wait it returns at the end. */
	int (*replay)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto, konce_ncgapi_snap_fn snap,
		      konce_ncgapi_entry_fn entry, void *fnctx, bool wait);
	void (*log)(void *ctx, int level, const char *line); /* level: KONCE_LOG_* */
	void (*kick)(void *ctx);        /* run the core from the loop's next turn: it may have datagrams */
	void (*replay_soon)(void *ctx); /* call konce_ncgapi_replay(, NULL) from the loop's next turn */
} konce_ncgapi_host;

/* One call's context: the host builds it for each call, with the clock read then. */
typedef struct konce_ncgapi {
	konce_ncgapp *t;   /* the application's table; NULL: the node hosts no groups (no store) */
	konce_nodecore *c; /* NULL: no node */
	const konce_ncgapi_host *h;
	uint64_t now_us; /* monotonic */
	uint64_t unix_s; /* wall clock (token expiry, a join's deadline) */
} konce_ncgapi;

/* -EINVAL (no node), -ENOTSUP (no groups) or 0. */
int konce_ncgapi_ready(const konce_ncgapi *a);

/* include/konce/group.h, command by command, with its errors. */
int konce_ncgapi_create(const konce_ncgapi *a, const char *name);
/* konce_ncgapi_create and _join in two halves, for a host whose store writes complete later (the
 * control socket's, on the store writer's thread): _begin checks the call and says what to write
 * (create: the new group's id; join: the token, its name and the wall-clock time its join gives up);
 * the host writes it (add, add_join) anywhere; _end, in the loop, on the write's result e, hosts the
 * group (0) or returns the error; *undo: the core refused the group, and the host removes its row
 * again.  A rejoin (the token's group is hosted here and this node is out of it): with forget NULL
 * _begin forgets the old group here, through sync and remove; else it sets *forget and the host,
 * before it adds the new row, writes every group record queued so far and removes the old row, and
 * passes forgot = *forget to _end, which forgets the old group in the core once e is 0. */
int konce_ncgapi_create_begin(const konce_ncgapi *a, const char *name, uint8_t gid[KONCE_CW_GROUP_ID]);
int konce_ncgapi_create_end(const konce_ncgapi *a, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name, int e,
			    bool *undo);
int konce_ncgapi_join_begin(const konce_ncgapi *a, const char *text, const char *name, unsigned timeout_s,
			    konce_ctoken *t, char nm[KONCE_GROUP_NAME_MAX + 1], uint64_t *until_unix, bool *forget);
int konce_ncgapi_join_end(const konce_ncgapi *a, const konce_ctoken *t, const char *nm, unsigned timeout_s,
			  bool forgot, int e, bool *undo);
int konce_ncgapi_invite(const konce_ncgapi *a, const char *name, uint64_t expires, const char *addr_hint,
			char *token, size_t cap);
/* timeout_s outside 1..KONCE_GROUP_JOIN_TIMEOUT_MAX: -ERANGE, before anything else. */
int konce_ncgapi_join(const konce_ncgapi *a, const char *text, const char *name, unsigned timeout_s);
int64_t konce_ncgapi_propose(const konce_ncgapi *a, const char *name, const uint8_t *data, size_t len);
int konce_ncgapi_leave(const konce_ncgapi *a, const char *name);
int konce_ncgapi_info(const konce_ncgapi *a, const char *name, konce_group_info *out);
int konce_ncgapi_invite_status(const konce_ncgapi *a, const char *name, const char *token);
int konce_ncgapi_status(const konce_ncgapi *a, const char *name, konce_group_status *out);
int konce_ncgapi_list(const konce_ncgapi *a, konce_group_info *out, size_t max);
int konce_ncgapi_log(const konce_ncgapi *a, const char *name, uint64_t from,
		     int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
			       const uint8_t *data, size_t len),
		     void *ctx);
/* konce_ncgapi_log in two halves, for a host that reads the store on another thread: _log_begin
 * checks the call and resolves name to its group's id (the core: the loop thread); _log_read reads
 * the delivered entries from `from` through h's delivered and entries with ctx (no core: any
 * thread).  Each returns what konce_ncgapi_log would (_log_begin 0 to go on). */
int konce_ncgapi_log_begin(const konce_ncgapi *a, const char *name, bool have_fn, uint8_t gid[KONCE_CW_GROUP_ID]);
int konce_ncgapi_log_read(const konce_ncgapi_host *h, void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID],
			  uint64_t from,
			  int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				    const uint8_t *data, size_t len),
			  void *fnctx);
int konce_ncgapi_on_event(const konce_ncgapi *a, konce_group_fn fn, void *ctx);
int konce_ncgapi_on_join_request(const konce_ncgapi *a, konce_group_policy_fn fn, void *ctx);
int konce_ncgapi_on_snapshot(const konce_ncgapi *a, konce_group_snapshot_fn fn, void *ctx);

/* A replay read ahead on one thread (the store writer's) and played on another (the loop's), so that
 * the loop never waits for the read, in stretches of at most KONCE_NCGAPI_TAPE_ENTRIES entries or
 * KONCE_NCGAPI_TAPE_BYTES bytes (the snapshot counts; a stretch holds at least one record), so that
 * memory stays bounded whatever the log's length.  konce_ncgapi_tape_read, on the reader's thread,
 * empties the tape and reads the next stretch of gid's replay up to upto into it: the first through
 * h->read (konce_store_group_replay: the snapshot, then entries), each further one from the cursor
 * `next` through h->entries, checked for a gap (-ENODATA) as the store's replay checks it.
 * konce_ncgapi_tape_snap and _entry are its callbacks (ctx: the tape): they copy what they get, in
 * order (nonzero: out of memory, or the stretch is full, and the read stops); `result` is the read's
 * result.  konce_ncgapi_tape_play passes the copies to snap and entry in the same order and returns
 * what the read would have returned with them as its callbacks: -ECANCELED when one returns
 * nonzero, -ENOMEM when the copy ran out of memory, else `result`; `more`: a further stretch is due.
 * Zeroed: empty, at the start.  konce_ncgapi_tape_free empties it and frees its memory. */
enum { KONCE_NCGAPI_TAPE_ENTRIES = 64, KONCE_NCGAPI_TAPE_BYTES = 256 * 1024 };
typedef struct konce_ncgapi_tape {
	uint8_t *buf; /* records: kind (1 snapshot, 2 entry), seq (8 bytes), len (4 bytes), bytes */
	size_t len, cap;
	int result;
	bool nomem, gap;
	bool more;     /* the stretch stopped at its bound before upto */
	uint64_t upto; /* the stretch's bound (0: none, a tape filled by hand) */
	uint64_t next; /* the seq after the last entry read (0: none yet) */
	unsigned n;    /* entries on the tape */
} konce_ncgapi_tape;
int konce_ncgapi_tape_read(konce_ncgapi_tape *t, const konce_ncgapi_host *h, void *ctx,
			   const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto);
int konce_ncgapi_tape_snap(void *tape, uint64_t seq, const uint8_t *data, size_t len);
int konce_ncgapi_tape_entry(void *tape, uint64_t seq, const uint8_t *e, size_t len);
int konce_ncgapi_tape_play(const konce_ncgapi_tape *t, konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry,
			   void *ctx);
void konce_ncgapi_tape_free(konce_ncgapi_tape *t);

/* The groups owed their state now (the application listens): up to max ids and the delivery points
 * their replay reads up to, for a host that reads them ahead (konce_ncgapi_tape); the count. */
unsigned konce_ncgapi_replay_owed(const konce_ncgapi *a, uint8_t (*gid)[KONCE_CW_GROUP_ID], uint64_t *upto,
				  unsigned max);

/* A host's replays read ahead, one slot per group owed its state, one stretch at a time:
 *
 *   FREE --_ahead_take: a replay with nothing read ahead--> UNREAD
 *   FREE, UNREAD --_ahead_plan: owed (the application listens)--> READING
 *   READING --_ahead_read, on the loop, once the reader filled the tape--> READY
 *   READING --_ahead_drop: a plan the host could not queue--> UNREAD
 *   READY, UNREAD (read here, the host waiting) --_ahead_play--> FREE (the tape played and freed)
 *                                                              or UNREAD (a further stretch is due)
 *   READY, UNREAD --_ahead_prune: its group is owed nothing now (it left)--> FREE
 *   any --_ahead_free (the groups stop, no read queued)--> FREE
 *
 * The reader fills a READING slot's tape with konce_ncgapi_tape_read(gid, upto) on its thread.
 * Invariants: a group has at most one slot that is not FREE; `reading` counts the plans whose read
 * has not been reported; the loop never touches a READING slot's tape; a tape holds at most one
 * stretch, and only a READY or READING slot's tape holds memory past _ahead_play. */
enum { KONCE_NCGAPI_AHEAD_FREE, KONCE_NCGAPI_AHEAD_UNREAD, KONCE_NCGAPI_AHEAD_READING, KONCE_NCGAPI_AHEAD_READY };
typedef struct konce_ncgapi_slot {
	uint8_t gid[KONCE_CW_GROUP_ID];
	uint64_t upto;
	int state;
	konce_ncgapi_tape tape;
} konce_ncgapi_slot;
typedef struct konce_ncgapi_ahead {
	konce_ncgapi_slot slot[KONCE_NC_GROUPS_MAX];
	unsigned reading; /* plans not yet read */
} konce_ncgapi_ahead;
/* The slots to read now (READING; at most KONCE_NC_GROUPS_MAX in out): the count (0: nothing to read). */
unsigned konce_ncgapi_ahead_plan(const konce_ncgapi *a, konce_ncgapi_ahead *ah, konce_ncgapi_slot **out);
void konce_ncgapi_ahead_drop(konce_ncgapi_ahead *ah, konce_ncgapi_slot **s, unsigned k);
void konce_ncgapi_ahead_read(konce_ncgapi_ahead *ah, konce_ncgapi_slot **s, unsigned k);
/* gid's slot that is not FREE, or NULL. */
konce_ncgapi_slot *konce_ncgapi_ahead_find(konce_ncgapi_ahead *ah, const uint8_t gid[KONCE_CW_GROUP_ID]);
/* gid's slot, or a FREE one made UNREAD for it (read from the start, up to upto). */
konce_ncgapi_slot *konce_ncgapi_ahead_take(konce_ncgapi_ahead *ah, const uint8_t gid[KONCE_CW_GROUP_ID],
					   uint64_t upto);
/* Plays s's tape (konce_ncgapi_tape_play) and frees its memory: 1 when a further stretch is due
 * (UNREAD), else 0 or the replay's negative errno (FREE). */
int konce_ncgapi_ahead_play(konce_ncgapi_slot *s, konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn entry, void *ctx);
void konce_ncgapi_ahead_prune(const konce_ncgapi *a, konce_ncgapi_ahead *ah);
void konce_ncgapi_ahead_free(konce_ncgapi_ahead *ah);

/* Start: hosts and restores every stored group (logged); the number restored or a negative errno. */
int konce_ncgapi_restore(const konce_ncgapi *a);
/* Hands back the state of every restored group (gid: that one only) still owed it, if the
 * application listens: with gid, all of it now (the host waits for its reads); without, what the
 * host has read (a group whose replay the host has more of to read stays owed). */
void konce_ncgapi_replay(const konce_ncgapi *a, const uint8_t *gid);
/* One group event of the core: the group's owed state first, then its notices. */
void konce_ncgapi_event(const konce_ncgapi *a, const konce_nc_event *ev);
/* Stop: the core calls back into the table no more, and every queued record is written (sync; a
 * failure is logged).  The host has queued the core's last notes and stopped its persist table. */
void konce_ncgapi_stop(const konce_ncgapi *a);

#endif
