/* store.h - the presence store: what a node knows about peers, durable in SQLite.
 *
 * A node may know a very large number of peers.  Inactive ones live only here; active ones also
 * live in memory (their sessions and secrets are never written to disk).  The store belongs to the
 * I/O layer: nothing on the packet path calls it.  Writes are queued in memory with the konce_store_note_*
 * calls (no I/O, no allocation beyond the fixed queue) and written by konce_store_flush() in one
 * transaction, from a timer.  A note is *acknowledged* once a flush that included it returned 0; an
 * acknowledged note survives a crash or kill -9 of the process (synchronous=FULL in WAL mode).
 *
 * Errors never lose queued notes: a failed flush (disk full, database locked, I/O error) rolls back
 * and leaves the queue as it was, to be retried.  When the queue is full, further notes are refused
 * with -ENOBUFS and counted, so memory stays bounded while the disk is unavailable.
 *
 * Invariants:
 *  1. The schema version (PRAGMA user_version) equals KONCE_STORE_SCHEMA after konce_store_open().
 *  2. Every row in addrs has a row in peers (foreign key, ON DELETE CASCADE).
 *  3. The queue holds notes in the order they were made; a flush applies them in that order.
 *  4. After a flush, peers without a petname number at most peers_max (the least recently seen
 *     are deleted first, with their addresses) and every peer has at most addrs_max addresses
 *     (the most recently seen are kept).
 *
 * Consensus groups (store/groups.c) keep, per group: the installed view, the member's vote, its
 * log (every entry it holds, committed or not, by seq), its delivery point and the snapshot it
 * joined with (or the mark that it still needs one), written as records
 * queued in call order (konce_store_group_note_*) and made durable together by
 * konce_store_group_flush(); and, while a join is pending, the invitation's member keys and
 * secret.  The secret is the only secret the store holds: the file is the owner's alone (0600,
 * its -wal and -shm too), and the secret is cleared by the first view the member installs.
 *
 * Errors carry a human message in the caller's err buffer (never a secret).
 */
#ifndef KONCE_STORE_H
#define KONCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

struct konce_group;
struct konce_group_persist;
struct konce_cnote;

enum {
	KONCE_STORE_SCHEMA = 4,
	KONCE_STORE_PETNAME_MAX = 63,
	KONCE_STORE_QUEUE_DEFAULT = 65536,
	KONCE_STORE_PEERS_DEFAULT = 100000, /* peers kept; beyond, the least recently seen go */
	KONCE_STORE_ADDRS_DEFAULT = 8,      /* addresses kept per peer, newest first */
};

/* konce_store_note_seen_ex / note_handshake_ex flags. */
enum { KONCE_NOTE_IF_KNOWN = 1 }; /* apply only to a peer the store has already: a stranger gets no row */

/* Where an address came from. */
enum konce_addr_source {
	KONCE_ADDR_SEEN = 1,       /* packets authenticated from it */
	KONCE_ADDR_RENDEZVOUS = 2, /* told by a rendezvous node */
	KONCE_ADDR_CONFIGURED = 3, /* given by the user */
};

typedef struct konce_store konce_store;

typedef struct konce_peer_rec {
	uint8_t pk[32];
	char petname[KONCE_STORE_PETNAME_MAX + 1]; /* "" if none */
	int nat_type;                              /* 0 unknown; nat/ defines the values */
	int64_t first_seen, last_seen;             /* unix seconds, 0 = never */
	uint32_t rtt_us;                           /* 0 = unknown */
	uint32_t handshakes, failures;
	int32_t score;                             /* reputation; negative = deranked */
} konce_peer_rec;

typedef struct konce_store_addr {
	konce_addr addr;
	int source;      /* enum konce_addr_source */
	int64_t seen_at; /* unix seconds */
} konce_store_addr;

typedef struct konce_store_stats {
	uint64_t flushes, flush_failures, notes_flushed, notes_refused;
	size_t pending;
} konce_store_stats;

/* Opens or creates the database at path and migrates it to KONCE_STORE_SCHEMA.  queue_max = 0 means
 * KONCE_STORE_QUEUE_DEFAULT.  Errors: -EACCES/-EROFS (unwritable file or directory), -EBUSY (locked
 * longer than the busy timeout), -EILSEQ (not a database, or corrupt), -EPROTO (schema newer than
 * this build), -ENOSPC, -EIO, -ENOMEM; err says which file and what to do. */
int konce_store_open(konce_store **out, const char *path, size_t queue_max, char *err, size_t errlen);
/* Flushes what it can, then closes.  Returns the flush result (0, or a negative errno, with the notes
 * that could not be written lost: callers that care flush first and keep the store open on failure). */
int konce_store_close(konce_store *st, char *err, size_t errlen);

/* Queued writes: no I/O.  0, or -ENOBUFS when the queue is full, -EINVAL for bad arguments. */
int konce_store_note_seen(konce_store *st, const uint8_t pk[32], const konce_addr *addr, int source,
			  int64_t now, uint32_t rtt_us);
int konce_store_note_handshake(konce_store *st, const uint8_t pk[32], bool ok, int64_t now);
/* The same with flags (KONCE_NOTE_IF_KNOWN). */
int konce_store_note_seen_ex(konce_store *st, const uint8_t pk[32], const konce_addr *addr, int source,
			     int64_t now, uint32_t rtt_us, unsigned flags);
int konce_store_note_handshake_ex(konce_store *st, const uint8_t pk[32], bool ok, int64_t now, unsigned flags);
/* A trust signal (docs/STORE.md): records the peer even if it is new, seen now at addr (NULL =
 * none), and counts at least one handshake for it. */
int konce_store_note_trusted(konce_store *st, const uint8_t pk[32], const konce_addr *addr, int64_t now);
int konce_store_note_nat(konce_store *st, const uint8_t pk[32], int nat_type);
int konce_store_note_score(konce_store *st, const uint8_t pk[32], int32_t delta);
struct konce_nc_note;
/* Queues the write a node core's note carries (node/base/ncnote.h), as the matching _note_* call
 * does, made at wall (unix seconds).  0, -ENOBUFS, -EINVAL (an unknown type: nothing queued). */
int konce_store_nc_note(konce_store *st, const struct konce_nc_note *n, int64_t wall);
/* Writes every queued note in one transaction.  0, or a negative errno with the queue untouched. */
int konce_store_flush(konce_store *st, char *err, size_t errlen);
void konce_store_get_stats(const konce_store *st, konce_store_stats *out);
/* Caps applied at each flush (invariant 4); 0 keeps the current value. */
void konce_store_set_limits(konce_store *st, size_t peers_max, size_t addrs_max);

/* Immediate operations, for the control socket and the CLI (never the packet path). */
/* Sets (or with name NULL/"" clears) a peer's petname, creating the peer if unknown.  -EEXIST if another
 * peer has that name, -EINVAL if the name is too long or has control characters or spaces. */
int konce_store_set_petname(konce_store *st, const uint8_t pk[32], const char *name, char *err, size_t errlen);
/* 0 and *out filled, -ENOENT, or another negative errno. */
int konce_store_peer_get(konce_store *st, const uint8_t pk[32], konce_peer_rec *out);
int konce_store_peer_by_petname(konce_store *st, const char *name, uint8_t pk[32]);
/* Up to max addresses of a peer, newest first (equal seen_at: by ip, then port); returns how many,
 * or a negative errno. */
int konce_store_addrs(konce_store *st, const uint8_t pk[32], konce_store_addr *out, size_t max);
/* Calls fn for each peer, most recently seen first, up to limit (0 = all); fn returns nonzero to stop.
 * Returns the number visited or a negative errno. */
int konce_store_peers_each(konce_store *st, size_t limit, int (*fn)(void *ctx, const konce_peer_rec *rec),
			   void *ctx);
/* The same walk, one query: fn also gets the peer's newest address (what konce_store_addrs returns
 * first; NULL if it has none).  For loading every key at start (node_io.c). */
int konce_store_peers_each_newest(konce_store *st, size_t limit,
				  int (*fn)(void *ctx, const konce_peer_rec *rec, const konce_store_addr *newest),
				  void *ctx);
/* Number of known peers, or a negative errno. */
int64_t konce_store_peer_count(konce_store *st);
/* ---- consensus groups (store/groups.c, store/group_core.c) ------------------------------------ */

enum {
	KONCE_STORE_GROUP_ID = 16,
	KONCE_STORE_GROUP_NAME_MAX = 63,
	KONCE_STORE_GROUP_QUEUE_BYTES = 16 << 20, /* queued group records, at most */
};

typedef struct konce_store_group_rec {
	uint8_t gid[KONCE_STORE_GROUP_ID];
	char name[KONCE_STORE_GROUP_NAME_MAX + 1]; /* "" if none */
	uint64_t epoch;                            /* of the view; 0: no view yet (joining) */
	uint8_t *view;                             /* encoded value (consensus/cwire.h), or NULL */
	size_t view_len;
	uint64_t vote_base, promised, acc_ballot;
	uint8_t *acc_value;                        /* NULL unless acc_ballot */
	size_t acc_len;
	uint64_t delivered, last;                  /* delivery point; highest stored seq */
	bool needs_state;                          /* joined (or missed views) and has no snapshot yet */
	uint64_t snap_seq;                         /* the snapshot received, the state after snap_seq */
	uint8_t *snapshot;                         /* (0 and NULL: none) */
	size_t snap_len;
	uint8_t *join_keys;                        /* n x 32: a pending join's members, or NULL */
	unsigned join_n;
	uint8_t *join_secret;                      /* 32 bytes in sodium-guarded memory, or NULL */
	uint64_t join_until;                       /* the pending join gives up then (unix seconds;
						    * 0: KONCE_GROUP_JOIN_TIMEOUT_MS from each start) */
} konce_store_group_rec;

/* Immediate: records a group (a founder: join_n 0; a joiner: the token's keys and secret).
 * -EEXIST if the id or the name is taken, -EINVAL for a bad name (as petnames) or arguments. */
int konce_store_group_add(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], const char *name,
			  const uint8_t *join_keys, unsigned join_n, const uint8_t *join_secret, char *err,
			  size_t errlen);
/* The same, for a joiner, with the wall-clock time its join gives up (unix seconds; 0: none), which a
 * restart keeps (konce_store_group_restore). */
int konce_store_group_add_join(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], const char *name,
			       const uint8_t *join_keys, unsigned join_n, const uint8_t *join_secret,
			       uint64_t join_until, char *err, size_t errlen);
/* Immediate: deletes a group and its log (after a leave or an eviction).  -ENOENT if unknown. */
int konce_store_group_remove(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], char *err, size_t errlen);
/* Immediate reads.  _get fills rec (free it with _rec_free): 0, -ENOENT, or a negative errno. */
int konce_store_group_get(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], konce_store_group_rec *rec);
int konce_store_group_by_name(konce_store *st, const char *name, uint8_t gid[KONCE_STORE_GROUP_ID]);
void konce_store_group_rec_free(konce_store_group_rec *rec);
/* Calls fn for the stored entries first..last of a group in seq order (fn returns nonzero to stop);
 * returns the number visited or a negative errno. */
int konce_store_group_entries(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t first,
			      uint64_t last, int (*fn)(void *ctx, uint64_t seq, const uint8_t *entry, size_t len),
			      void *ctx);
/* What a restarted member needs to know its invitations: calls entry() for each stored INVITE and
 * REVOKE entry at seq <= upto, in log order, then used() for each invitation a view used.  Either
 * returns nonzero to stop (-ECANCELED).  The number visited, or a negative errno. */
int konce_store_group_invites(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t upto,
			      int (*entry)(void *ctx, const uint8_t *e, size_t len),
			      int (*used)(void *ctx, const uint8_t hash[32]), void *ctx);
/* Calls fn for every group, by name; returns the number or a negative errno. */
int konce_store_groups_each(konce_store *st, int (*fn)(void *ctx, const uint8_t gid[KONCE_STORE_GROUP_ID],
							 const char *name, uint64_t epoch),
			    void *ctx);

/* Queued records, one per konce_group_persist call (no I/O; the bytes are copied): 0, -ENOBUFS
 * (KONCE_STORE_GROUP_QUEUE_BYTES queued), -EINVAL (bytes that do not parse: nothing queued). */
int konce_store_group_note_view(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], const uint8_t *value,
				size_t len);
int konce_store_group_note_vote(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t base,
				uint64_t promised, uint64_t acc_ballot, const uint8_t *value, size_t len);
int konce_store_group_note_entries(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t first,
				   unsigned count, const uint8_t *entries, size_t len);
int konce_store_group_note_delivered(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t seq);
/* seq 0 (no bytes): the member needs a snapshot; seq >= 1: the snapshot it received. */
int konce_store_group_note_snapshot(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t seq,
				    const uint8_t *data, size_t len);
/* Queues the record a group note carries (consensus/cnote.h: one persist call of a core the node
 * core hosts), as the matching _note_* call does: 0, -ENOBUFS, -EINVAL (an unknown type or bytes
 * that do not parse: nothing queued). */
int konce_store_group_note(konce_store *st, const struct konce_cnote *n);
/* Writes every queued group record, in order, in one transaction (synchronous = FULL: durable when
 * it returns 0).  On failure (disk full, read-only, locked, I/O error) it rolls back, keeps the
 * queue as it was for the next try, and err says what happened. */
int konce_store_group_flush(konce_store *st, char *err, size_t errlen);
/* Drops the queued group records: a host that gives up on them restarts its cores from what is
 * durable.  Returns how many were dropped. */
size_t konce_store_group_discard(konce_store *st);
size_t konce_store_group_pending(const konce_store *st);
/* Appends every record queued on `from` to the queue of `to` (a connection to the same database,
 * e.g. a writer thread's), in order, and empties `from`: the next flush of `to` writes them after
 * the records it held.  No I/O; neither store may be in use by another thread meanwhile. */
void konce_store_group_move(konce_store *to, konce_store *from);

/* The consensus core's persistence, on this store (store/group_core.c).  The binding must outlive
 * the core.  Each persist call queues a record and returns KONCE_GROUP_PERSIST_QUEUED; after a call
 * into the core the host runs konce_store_group_flush() and, when it returns 0, reports
 * konce_group_persisted(g, konce_group_persist_issued(g)). */
typedef struct konce_store_group_binding {
	konce_store *st;
	uint8_t gid[KONCE_STORE_GROUP_ID];
} konce_store_group_binding;
void konce_store_group_persist(konce_store_group_binding *b, struct konce_group_persist *out);
/* Restarts a fresh core (konce_group_new) from the store: its view, vote, delivery point and the
 * entries after it, the invitations it knew (konce_group_restore_invite and _used), and a state
 * transfer still to do (konce_group_restore_catchup); or, for a
 * group still joining, konce_group_join with the stored invitation and its stored deadline
 * (konce_group_join_deadline_unix: the core's wall clock must be set first).  The application's state comes
 * back with konce_store_group_replay().
 * 0, -ENOENT (no such group), -EINVAL (stored records the core refuses), or a negative errno. */
int konce_store_group_restore(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], struct konce_group *g,
			      uint64_t now, char *err, size_t errlen);

/* The application's state after a restart, from what is durable: snap() with the snapshot the
 * member received (its seq and the application's bytes, without the core section), if it has one,
 * then entry() for every stored entry after it (or from seq 1) up to the delivery point or upto,
 * whichever is lower, in seq order (every kind: the caller keeps its application's).  Neither is
 * called for a group still joining or waiting for a snapshot (needs_state).  Either returns nonzero
 * to stop (-ECANCELED).  The number of entries passed, -ENODATA if the log lacks one of them (the
 * state cannot be rebuilt), -ENOENT, or a negative errno. */
int konce_store_group_replay(konce_store *st, const uint8_t gid[KONCE_STORE_GROUP_ID], uint64_t upto,
			     int (*snap)(void *ctx, uint64_t seq, const uint8_t *data, size_t len),
			     int (*entry)(void *ctx, uint64_t seq, const uint8_t *e, size_t len), void *ctx);

/* "ok" or SQLite's first complaint, into buf.  0 if ok, -EILSEQ if not, other negative errno on failure. */
int konce_store_check(konce_store *st, char *buf, size_t len);

#endif
