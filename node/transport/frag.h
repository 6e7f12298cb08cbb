/* frag.h - messages cut into FRAGMENT frames, and their reassembly under a memory budget.
 *
 * Sender side: msgq.h cuts a message into runs of KONCE_FRAG_UNIT-byte units that fill the packet
 * at the session's PLPMTU.  konce_frag_count() and konce_frag_bounds() give the cut at the base
 * PLPMTU, KONCE_FRAG_DATA_MAX (960) bytes a fragment: index i covers [i * 960, min(total,
 * (i + 1) * 960)), an empty message is one empty fragment; a message of more than one such
 * fragment opens a channel (conn.h).
 * FRAGMENT layout (wire.h): type | message id | offset | total (varints) | length u16 | bytes.
 *
 * Receiver side, konce_reasm: one buffer per message in progress, allocated through konce_env and
 * charged against the budget as the fragments touch it, never for what a first fragment merely
 * claims.  A message of up to KONCE_REASM_CHUNK bytes is one block (header + a one-bit-per-byte map
 * of what arrived + data) charged at its first fragment; a larger one is a header and a table of
 * chunk pointers, and each KONCE_REASM_CHUNK-byte chunk (map + data) is charged when a fragment
 * first writes into it.  Its data is written in place, into one block of the message's length from
 * the env's alloc_lazy (env.h: address space, resident only as written), when the env has one and
 * the lazy blocks of the messages in progress stay within the budget and the pool's (lazy <=
 * budget); a chunk is then only its map, and completion frees the maps -- no copy.  Otherwise each
 * chunk also holds its data, and on completion the chunks are copied into one block of the
 * message's length -- briefly holding the message twice.  Either way the map's charge returns at
 * completion.  Fragments may come in any order, twice, or overlapping: the map records which
 * bytes are held, a byte is written once (the first copy wins), and a message is delivered when
 * every byte is held -- independently of every other message, so a hole in message A never delays
 * message B.  A delivered message stays
 * charged until konce_reasm_release(), so an application that does not consume its messages pushes
 * back through the credit it advertises.
 *
 * A pool (konce_reasm_pool, optional, owned by the caller) is the budget the reassemblers of every
 * session share.  A charge must fit the session's budget and the pool's; once the pool is more than
 * half full, it must also keep what it charges within its fair share, so one peer cannot take the
 * memory every other peer needs.  What is charged is the reassembler's source (konce_reasm_source:
 * the endpoint groups the sessions of one address or /64) if it has one, and its share is
 * pool budget / max(2, sources holding memory), counting itself: one source, with however many
 * sessions, never holds more than half the pool, so a second source always finds half of it free
 * of the first's holdings.  A reassembler without a source is charged alone, and its share is
 * pool budget / reassemblers holding memory.
 *
 * Message ids are sequential from 1 per direction.  The reassembler remembers which ids are
 * finished (delivered or refused) in a window of KONCE_REASM_WINDOW ids above the lowest unfinished
 * one; a fragment of a finished message is a duplicate and never delivers it again.  Senders must
 * therefore keep every new id below (oldest id not yet fully acked) + KONCE_REASM_WINDOW.
 *
 * Refusal is final for an id: a message larger than max_message, one that does not fit in the
 * budget or the table of messages in progress (at its first fragment or at a later chunk), or one
 * that stalls past konce_reasm_expire() is
 * dropped with its reason, marked finished, and its later fragments are answered
 * KONCE_REASM_REFUSED (the message layer tells the sender, which fails or retries the message) --
 * while the id is in the window or among the last KONCE_REASM_REFUSED_MEMORY refusals; after
 * that, KONCE_REASM_DUPLICATE.
 *
 * Invariants:
 *   1. used <= budget and pool->used <= pool->budget, always; used = sum of the charge of messages
 *      in progress or delivered and not yet released; pool->used = sum of its reassemblers' used;
 *      source->used = sum of its reassemblers' used; pool->sources = sources with used > 0;
 *      lazy <= budget and pool->lazy <= pool->budget: the lengths of the messages in progress in
 *      place (a delivered one is charged its length);
 *   2. a message id is delivered at most once;
 *   3. a delivered message's bytes are exactly the bytes of its fragments (first copy of each byte).
 */
#ifndef KONCE_FRAG_H
#define KONCE_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/env.h"
#include "node/base/wire.h"

enum { KONCE_REASM_WINDOW = 4096, KONCE_REASM_REFUSED_MEMORY = 16, KONCE_REASM_CHUNK = 16384 };

typedef struct konce_fragment {
	uint64_t msg_id; /* >= 1 */
	uint64_t offset;
	uint64_t total;
	size_t len;
	const uint8_t *data;
} konce_fragment;

/* Fragments for a message of total bytes (1 for an empty message). */
uint64_t konce_frag_count(uint64_t total);
/* Offset and length of fragment index; -EINVAL if index is past the end. */
int konce_frag_bounds(uint64_t total, uint64_t index, uint64_t *offset, size_t *len);
/* Writes the FRAGMENT frame for f into out[0, cap).  Returns its length, 0 if it does not fit or f
 * is invalid (id 0, offset + len > total, len > KONCE_WIRE_MAX_SESSION_PAYLOAD). */
size_t konce_frag_encode(uint8_t *out, size_t cap, const konce_fragment *f);
/* The same frame without its data: writes the header (type to length) and returns its length,
 * leaving the f->len bytes after it to the caller (gather.h), or 0 as konce_frag_encode does,
 * when the whole frame would not fit. */
size_t konce_frag_encode_header(uint8_t *out, size_t cap, const konce_fragment *f);
/* Reads a FRAGMENT frame (type byte included); f->data points into p.  Returns the bytes consumed,
 * 0 if malformed: truncated, id 0, offset + length > total, an empty fragment of a non-empty
 * message, or length > KONCE_WIRE_MAX_SESSION_PAYLOAD. */
size_t konce_frag_decode(const uint8_t *p, size_t avail, konce_fragment *f);

typedef enum konce_reasm_result {
	KONCE_REASM_PARTIAL = 0,  /* bytes stored; the message is not complete yet */
	KONCE_REASM_COMPLETE,     /* *out is the whole message, the caller's until released */
	KONCE_REASM_DUPLICATE,    /* nothing new: bytes already held, or the message is finished */
	KONCE_REASM_REFUSED,      /* the message was refused earlier */
	KONCE_REASM_TOO_LARGE,    /* refused now: total > max_message */
	KONCE_REASM_NO_BUDGET,    /* refused now: would take used past budget */
	KONCE_REASM_BUSY,         /* refused now: max_messages already in progress */
	KONCE_REASM_NO_MEMORY,    /* refused now: the allocator said no */
	KONCE_REASM_INCONSISTENT, /* invalid fragment, or total differs from earlier ones: dropped */
	KONCE_REASM_OUT_OF_WINDOW, /* id >= lowest unfinished + KONCE_REASM_WINDOW: dropped */
} konce_reasm_result;

typedef struct konce_reasm_msg {
	uint64_t id;
	uint64_t len;
	uint8_t *data; /* delivered: the message; a large one in progress: its lazy block, or NULL */
	/* private */
	uint64_t have;          /* bytes held */
	uint64_t charge;        /* bytes counted against the budget */
	uint64_t last_progress; /* time new bytes last arrived */
	uint64_t *map;          /* one bit per byte (NULL when chunked or delivered from chunks) */
	uint8_t **chunks;       /* a large message in progress: its chunks, NULL until touched */
} konce_reasm_msg;

/* Reassembly memory shared by many reassemblers (the endpoint's sessions). */
typedef struct konce_reasm_pool {
	uint64_t budget;  /* bytes */
	uint64_t used;
	uint64_t holders; /* reassemblers with used > 0 */
	uint64_t sources; /* sources (konce_reasm_source) with used > 0 */
	uint64_t lazy;    /* lengths of its reassemblers' messages in progress in place */
} konce_reasm_pool;

/* The reassemblers of one source (the endpoint's: an IPv4 address or IPv6 /64), charged together
 * in a pool; owned by the caller, which keeps it alive while any of its reassemblers is. */
typedef struct konce_reasm_source {
	uint64_t used; /* sum of its reassemblers' used */
} konce_reasm_source;

typedef struct konce_reasm_config {
	uint64_t budget;      /* bytes; required */
	uint64_t max_message; /* 0 = KONCE_MSG_MAX_DEFAULT */
	size_t max_messages;  /* messages in progress at once; 0 = 64 */
	konce_reasm_pool *pool; /* shared budget; NULL = none */
} konce_reasm_config;

typedef struct konce_reasm {
	const konce_env *env;
	konce_reasm_config cfg;
	konce_reasm_pool *pool;
	konce_reasm_source *source; /* NULL = the reassembler is a source of its own */
	uint64_t used;
	uint64_t lazy;            /* lengths of the messages in progress in place */
	konce_reasm_msg **active; /* cfg.max_messages slots, NULL = free */
	size_t nactive;           /* slots in use: lets expiry skip an idle reassembler */
	uint64_t base;            /* every id below is finished */
	uint64_t finished[KONCE_REASM_WINDOW / 64], refused[KONCE_REASM_WINDOW / 64]; /* ring by id */
	uint64_t recent_refused[KONCE_REASM_REFUSED_MEMORY]; /* refusals the window slid past */
	uint64_t nrefused;
} konce_reasm;

/* Returns 0, -EINVAL (no budget) or -ENOMEM. */
int konce_reasm_init(konce_reasm *r, const konce_env *env, const konce_reasm_config *cfg);
/* Charges r to source src (NULL = none) from now on; r must hold nothing yet (-EBUSY otherwise). */
int konce_reasm_set_source(konce_reasm *r, konce_reasm_source *src);
/* Frees the messages in progress, and gives the pool back all of used (a delivered message not yet
 * released is then its holder's to free with konce_reasm_msg_free). */
void konce_reasm_free(konce_reasm *r);
/* Frees a message whose reassembler is gone (konce_reasm_free); env is the one it was built with. */
void konce_reasm_msg_free(const konce_env *env, konce_reasm_msg *m);

/* Takes one fragment received at now.  On KONCE_REASM_COMPLETE, *out is the message. */
konce_reasm_result konce_reasm_on_fragment(konce_reasm *r, const konce_fragment *f, uint64_t now,
					   konce_reasm_msg **out);
/* Gives a delivered message back: its memory is freed and its charge returns to the credit. */
void konce_reasm_release(konce_reasm *r, konce_reasm_msg *m);
/* Refuses (as KONCE_REASM_REFUSED) every message in progress that got no new byte for idle_us.
 * Returns how many were dropped. */
size_t konce_reasm_expire(konce_reasm *r, uint64_t now, uint64_t idle_us);
/* Nothing in progress, nothing charged, nothing ever refused, and every finished id is below
 * base: the reassembler's whole state is then base (konce_reasm_resume restores it). */
bool konce_reasm_settled(const konce_reasm *r);
/* A fresh reassembler continues a settled one's ids: every id below base is finished. */
void konce_reasm_resume(konce_reasm *r, uint64_t base);
/* Bytes the receiver will still accept (its budget's rest, at most the pool's): the credit field
 * of the next ACK. */
uint64_t konce_reasm_credit(const konce_reasm *r);
/* The most a message of total bytes is charged while in progress: 64 + total + its map
 * (8 x ceil(total / 64)) + 8 per chunk if it is larger than one chunk. */
uint64_t konce_reasm_charge(uint64_t total);

#endif
