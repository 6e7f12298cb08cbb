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
 * Errors carry a human message in the caller's err buffer (never a secret: the store holds none).
 */
#ifndef KONCE_STORE_H
#define KONCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

enum {
	KONCE_STORE_SCHEMA = 2,
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
/* Up to max addresses of a peer, newest first; returns how many, or a negative errno. */
int konce_store_addrs(konce_store *st, const uint8_t pk[32], konce_store_addr *out, size_t max);
/* Calls fn for each peer, most recently seen first, up to limit (0 = all); fn returns nonzero to stop.
 * Returns the number visited or a negative errno. */
int konce_store_peers_each(konce_store *st, size_t limit, int (*fn)(void *ctx, const konce_peer_rec *rec),
			   void *ctx);
/* Number of known peers, or a negative errno. */
int64_t konce_store_peer_count(konce_store *st);
/* "ok" or SQLite's first complaint, into buf.  0 if ok, -EILSEQ if not, other negative errno on failure. */
int konce_store_check(konce_store *st, char *buf, size_t len);

#endif
