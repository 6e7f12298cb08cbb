/* queue.c - queued writes and the batched flush.
 *
 * Notes are copied into a fixed ring allocated at open, so making one costs no I/O and no allocation.
 * A flush writes them all in one IMMEDIATE transaction with prepared statements; on any error it rolls
 * back and leaves the ring as it was, so nothing is lost and the next flush retries.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "node/base/ncnote.h"
#include "store/store_int.h"

static struct note *push(konce_store *st, const uint8_t pk[32], uint8_t kind)
{
	if (!pk)
		return NULL;
	if (st->qlen == st->qmax) {
		st->stats.notes_refused++;
		return NULL;
	}
	struct note *n = &st->queue[(st->qhead + st->qlen) % st->qmax];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	memcpy(n->pk, pk, 32);
	st->qlen++;
	return n;
}

#define PUSH_OR_FAIL(n, st, pk, kind)                                  \
	do {                                                           \
		if (!(pk))                                             \
			return -EINVAL;                                \
		if (!((n) = push((st), (pk), (kind))))                 \
			return -ENOBUFS;                               \
	} while (0)

int konce_store_note_seen(konce_store *st, const uint8_t pk[32], const konce_addr *addr, int source,
			  int64_t now, uint32_t rtt_us)
{
	return konce_store_note_seen_ex(st, pk, addr, source, now, rtt_us, 0);
}

int konce_store_note_seen_ex(konce_store *st, const uint8_t pk[32], const konce_addr *addr, int source,
			     int64_t now, uint32_t rtt_us, unsigned flags)
{
	struct note *n;
	if (addr && (source < KONCE_ADDR_SEEN || source > KONCE_ADDR_CONFIGURED))
		return -EINVAL;
	PUSH_OR_FAIL(n, st, pk, NOTE_SEEN);
	n->if_known = (flags & KONCE_NOTE_IF_KNOWN) != 0;
	n->t = now;
	n->val = (int32_t)(rtt_us > INT32_MAX ? INT32_MAX : rtt_us);
	if (addr) {
		n->addr = *addr;
		n->source = (uint8_t)source;
	}
	return 0;
}

int konce_store_note_handshake(konce_store *st, const uint8_t pk[32], bool ok, int64_t now)
{
	return konce_store_note_handshake_ex(st, pk, ok, now, 0);
}

int konce_store_note_handshake_ex(konce_store *st, const uint8_t pk[32], bool ok, int64_t now, unsigned flags)
{
	struct note *n;
	PUSH_OR_FAIL(n, st, pk, NOTE_HANDSHAKE);
	n->if_known = (flags & KONCE_NOTE_IF_KNOWN) != 0;
	n->ok = ok;
	n->t = now;
	return 0;
}

int konce_store_note_trusted(konce_store *st, const uint8_t pk[32], const konce_addr *addr, int64_t now)
{
	struct note *n;
	PUSH_OR_FAIL(n, st, pk, NOTE_TRUSTED);
	n->t = now;
	if (addr) {
		n->addr = *addr;
		n->source = KONCE_ADDR_SEEN;
	}
	return 0;
}

_Static_assert((int)KONCE_NC_NOTE_IF_KNOWN == (int)KONCE_NOTE_IF_KNOWN, "a note's flags are the store's");

int konce_store_nc_note(konce_store *st, const konce_nc_note *n, int64_t wall)
{
	const konce_addr *a = n->has_addr ? &n->addr : NULL;
	switch (n->type) {
	case KONCE_NC_NOTE_SEEN: return konce_store_note_seen_ex(st, n->pk, a, KONCE_ADDR_SEEN, wall, 0, n->flags);
	case KONCE_NC_NOTE_HANDSHAKE: return konce_store_note_handshake_ex(st, n->pk, n->ok, wall, n->flags);
	case KONCE_NC_NOTE_TRUSTED: return konce_store_note_trusted(st, n->pk, a, wall);
	}
	return -EINVAL;
}

void konce_store_set_limits(konce_store *st, size_t peers_max, size_t addrs_max)
{
	if (peers_max)
		st->peers_max = peers_max;
	if (addrs_max)
		st->addrs_max = addrs_max;
}

int konce_store_note_nat(konce_store *st, const uint8_t pk[32], int nat_type)
{
	struct note *n;
	PUSH_OR_FAIL(n, st, pk, NOTE_NAT);
	n->val = nat_type;
	return 0;
}

int konce_store_note_score(konce_store *st, const uint8_t pk[32], int32_t delta)
{
	struct note *n;
	PUSH_OR_FAIL(n, st, pk, NOTE_SCORE);
	n->val = delta;
	return 0;
}

static int run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static bool exists(konce_store *st, const uint8_t pk[32], int *rc)
{
	sqlite3_stmt *s = st->st[ST_EXISTS];
	sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
	int r = sqlite3_step(s);
	sqlite3_reset(s);
	*rc = r == SQLITE_ROW || r == SQLITE_DONE ? SQLITE_OK : r;
	return r == SQLITE_ROW;
}

/* Keeps the addrs_max most recently seen addresses of pk. */
static int trim_addrs(konce_store *st, const uint8_t pk[32])
{
	sqlite3_stmt *s = st->st[ST_TRIM_ADDRS];
	sqlite3_bind_blob(s, 1, pk, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)st->addrs_max);
	return run(s);
}

static int upsert_addr(konce_store *st, const struct note *n)
{
	sqlite3_stmt *s = st->st[ST_UPSERT_ADDR];
	sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, n->addr.ip, 16, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, n->addr.port);
	sqlite3_bind_int(s, 4, n->source);
	sqlite3_bind_int64(s, 5, n->t);
	int rc = run(s);
	return rc == SQLITE_OK ? trim_addrs(st, n->pk) : rc;
}

/* Deletes the least recently seen peers without a petname beyond peers_max. */
static int trim_peers(konce_store *st)
{
	sqlite3_stmt *s = st->st[ST_COUNT];
	int rc = sqlite3_step(s);
	int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_reset(s);
	if (count < 0)
		return rc;
	if ((uint64_t)count <= st->peers_max)
		return SQLITE_OK;
	s = st->st[ST_TRIM_PEERS];
	sqlite3_bind_int64(s, 1, count - (int64_t)st->peers_max);
	return run(s);
}

static int apply(konce_store *st, const struct note *n, bool *inserts)
{
	sqlite3_stmt *s;
	int rc;

	if (n->if_known) {
		if (!exists(st, n->pk, &rc))
			return rc; /* a stranger: no row (docs/STORE.md, "Who is recorded") */
	} else {
		*inserts = true;
	}
	/* Every note may be the first we hear of a peer: make sure its row exists. */
	s = st->st[n->kind == NOTE_SEEN || n->kind == NOTE_TRUSTED ? ST_UPSERT_SEEN : ST_ENSURE_PEER];
	sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
	if (n->kind == NOTE_SEEN || n->kind == NOTE_TRUSTED) {
		sqlite3_bind_int64(s, 2, n->t);
		sqlite3_bind_int64(s, 3, n->val);
	}
	if ((rc = run(s)) != SQLITE_OK)
		return rc;

	switch (n->kind) {
	case NOTE_SEEN:
		return n->source ? upsert_addr(st, n) : SQLITE_OK;
	case NOTE_TRUSTED:
		if (n->source && (rc = upsert_addr(st, n)) != SQLITE_OK)
			return rc;
		s = st->st[ST_TRUSTED];
		sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
		return run(s);
	case NOTE_HANDSHAKE:
		s = st->st[n->ok ? ST_HANDSHAKE_OK : ST_HANDSHAKE_FAIL];
		sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
		if ((rc = run(s)) != SQLITE_OK)
			return rc;
		s = st->st[ST_UPSERT_SEEN];
		sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, n->ok ? n->t : 0);
		sqlite3_bind_int64(s, 3, 0);
		return n->ok ? run(s) : (sqlite3_reset(s), SQLITE_OK);
	case NOTE_NAT:
	case NOTE_SCORE:
		s = st->st[n->kind == NOTE_NAT ? ST_NAT : ST_SCORE];
		sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, n->val);
		return run(s);
	}
	return SQLITE_MISUSE;
}

int konce_store_flush(konce_store *st, char *err, size_t errlen)
{
	int rc;
	size_t i;

	if (!st->qlen)
		return 0;
	bool inserts = false;
	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (i = 0; rc == SQLITE_OK && i < st->qlen; i++)
		rc = apply(st, &st->queue[(st->qhead + i) % st->qmax], &inserts);
	if (rc == SQLITE_OK && inserts)
		rc = trim_peers(st);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int e = store_fail(st, rc, "cannot write queued records (kept in memory, will retry)", err, errlen);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->stats.flush_failures++;
		return e;
	}
	st->stats.flushes++;
	st->stats.notes_flushed += st->qlen;
	st->qhead = (st->qhead + st->qlen) % st->qmax;
	st->qlen = 0;
	return 0;
}

void konce_store_get_stats(const konce_store *st, konce_store_stats *out)
{
	*out = st->stats;
	out->pending = st->qlen;
}
