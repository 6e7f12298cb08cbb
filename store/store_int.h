/* store_int.h - the store's private state, shared by db.c, queue.c and peers.c. */
#ifndef KONCE_STORE_INT_H
#define KONCE_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

enum note_kind { NOTE_SEEN = 1, NOTE_HANDSHAKE, NOTE_NAT, NOTE_SCORE, NOTE_TRUSTED };

struct note {
	uint8_t kind;
	uint8_t ok;      /* NOTE_HANDSHAKE */
	uint8_t source;  /* NOTE_SEEN, NOTE_TRUSTED: 0 = no address */
	uint8_t if_known; /* apply only if the peer has a row already (KONCE_NOTE_IF_KNOWN) */
	uint8_t pk[32];
	konce_addr addr;
	int64_t t;
	int32_t val;     /* rtt_us, nat type or score delta */
};

enum stmt_id {
	ST_UPSERT_SEEN,
	ST_UPSERT_ADDR,
	ST_HANDSHAKE_OK,
	ST_HANDSHAKE_FAIL,
	ST_NAT,
	ST_SCORE,
	ST_ENSURE_PEER,
	ST_GET_PEER,
	ST_BY_PETNAME,
	ST_SET_PETNAME,
	ST_ADDRS,
	ST_COUNT,
	ST_EXISTS,
	ST_TRIM_ADDRS,
	ST_TRIM_PEERS,
	ST_TRUSTED,
	ST__COUNT
};

/* A queued consensus-group record (groups.c): one konce_group_persist call. */
enum gnote_kind { GN_VIEW = 1, GN_VOTE, GN_ENTRIES, GN_DELIVERED, GN_SNAPSHOT };

struct gnote {
	struct gnote *next;
	uint8_t kind;
	uint8_t gid[16];
	uint64_t a, b, c; /* VOTE: base, promised, acc_ballot; ENTRIES: first, count; DELIVERED, SNAPSHOT: seq */
	size_t len;
	uint8_t bytes[]; /* VIEW: value; VOTE: accepted value; ENTRIES: concatenated entries; SNAPSHOT: state */
};

enum gstmt_id {
	GS_ENSURE,
	GS_VIEW,
	GS_VOTE,
	GS_DELIVERED,
	GS_SNAPSHOT,
	GS_TRUNCATE, /* entries at seq >= ?2 */
	GS_ENTRY,
	GS_GET,
	GS_LAST,
	GS_ENTRIES,
	GS_EACH,
	GS_USED,
	GS_USED_EACH,
	GS_INVITES,
	GS__COUNT
};

struct konce_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST__COUNT];
	struct note *queue; /* ring */
	size_t qmax, qhead, qlen;
	konce_store_stats stats;
	size_t peers_max, addrs_max; /* konce_store_set_limits */
	/* Consensus-group records (groups.c): a FIFO, bounded in bytes. */
	sqlite3_stmt *gst[GS__COUNT]; /* prepared on first use */
	struct gnote *gq_head, *gq_tail;
	size_t gq_count, gq_bytes;
	uint64_t g_flushes, g_failures;
};

/* The order of a peer's addresses, newest first: ties in seen_at go by (ip, port), so that every read
 * of "the newest address" names the same row (ST_ADDRS; konce_store_peers_each_newest applies the
 * same order in C, peers.c addr_newer). */
#define ADDRS_ORDER "seen_at DESC, ip, port"

/* db.c */
int store_errno(sqlite3 *db, int rc);
int store_fail(konce_store *st, int rc, const char *what, char *err, size_t errlen);
int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
/* Applies migrations until the schema is `target` (tests use a target below the current one). */
int store_migrate(sqlite3 *db, int target, char *err, size_t errlen);

/* groups.c */
void store_groups_free(konce_store *st);

#endif
