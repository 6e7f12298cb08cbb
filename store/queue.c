/* queue.c - queued writes and the batched flush.
 *
 * Notes are copied into a fixed ring allocated at open, so making one costs no I/O and no allocation.
 * A flush writes them all in one IMMEDIATE transaction with prepared statements; on any error it rolls
 * back and leaves the ring as it was, so nothing is lost and the next flush retries.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
	struct note *n;
	if (addr && (source < KONCE_ADDR_SEEN || source > KONCE_ADDR_CONFIGURED))
		return -EINVAL;
	PUSH_OR_FAIL(n, st, pk, NOTE_SEEN);
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
	struct note *n;
	PUSH_OR_FAIL(n, st, pk, NOTE_HANDSHAKE);
	n->ok = ok;
	n->t = now;
	return 0;
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

static int apply(konce_store *st, const struct note *n)
{
	sqlite3_stmt *s;
	int rc;

	/* Every note may be the first we hear of a peer: make sure its row exists. */
	s = st->st[n->kind == NOTE_SEEN ? ST_UPSERT_SEEN : ST_ENSURE_PEER];
	sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
	if (n->kind == NOTE_SEEN) {
		sqlite3_bind_int64(s, 2, n->t);
		sqlite3_bind_int64(s, 3, n->val);
	}
	if ((rc = run(s)) != SQLITE_OK)
		return rc;

	switch (n->kind) {
	case NOTE_SEEN:
		if (!n->source)
			return SQLITE_OK;
		s = st->st[ST_UPSERT_ADDR];
		sqlite3_bind_blob(s, 1, n->pk, 32, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, n->addr.ip, 16, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, n->addr.port);
		sqlite3_bind_int(s, 4, n->source);
		sqlite3_bind_int64(s, 5, n->t);
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
	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (i = 0; rc == SQLITE_OK && i < st->qlen; i++)
		rc = apply(st, &st->queue[(st->qhead + i) % st->qmax]);
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
