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

struct konce_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST__COUNT];
	struct note *queue; /* ring */
	size_t qmax, qhead, qlen;
	konce_store_stats stats;
	size_t peers_max, addrs_max; /* konce_store_set_limits */
};

/* db.c */
int store_errno(sqlite3 *db, int rc);
int store_fail(konce_store *st, int rc, const char *what, char *err, size_t errlen);
int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
/* Applies migrations until the schema is `target` (tests use a target below the current one). */
int store_migrate(sqlite3 *db, int target, char *err, size_t errlen);

#endif
