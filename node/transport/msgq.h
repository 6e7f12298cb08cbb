/* msgq.h - a session's outgoing messages: their bytes, which fragments the peer acknowledged, what
 * to send next, and when each message is done.
 *
 * Fragments are runs of KONCE_FRAG_UNIT-byte units (wire.h): a reference (recovery.h) names
 * (wire id, first unit, unit count).  The caller says how many data bytes the packet being built
 * has room for, so the same message goes out in large runs on a path with a large PLPMTU and in
 * smaller ones after the PLPMTU fell: a lost run is cut again to fit (konce_msgq_next), and its
 * units already acknowledged through other packets are left out.
 *
 * A message is queued (konce_msgq_push, which copies its bytes, or konce_msgq_push_owned, which
 * takes over a buffer allocated through the queue's env), then *started* when flow control
 * lets it (konce_msgq_start): it gets the next wire id and its fragments become sendable.  Up to
 * KONCE_MSGQ_ACTIVE messages are started at once.  konce_msgq_next() picks what goes next:
 * fragments declared lost first (oldest loss first), then new fragments round-robin over the
 * started messages, so a large message never holds a small one back (no head-of-line blocking on
 * the sending side either).  recovery.h reports each fragment reference acked or lost; lost
 * fragments are queued again unless they were acked through another packet.  A message whose
 * every unit is acked is complete: konce_msgq_acked() hands it back once, and the caller
 * queues MSG_DELIVERED and retires it.
 *
 * Flow control (docs/PROTOCOL.md section 11, "Fragmentation, reassembly, flow control"): the
 * charge (konce_reasm_charge) of the started and not yet complete messages stays within the peer's
 * latest credit -- except that when nothing is started, the next message starts anyway, so a
 * message the peer can never take is refused by the peer (REFUSE) and fails instead of waiting
 * forever.  New wire ids stay below the oldest started id + KONCE_REASM_WINDOW, the receiver's
 * window of finished ids.
 *
 * Bounds: what the queue holds -- each message's bytes plus KONCE_MSGQ_MSG_COST and its ack
 * bitmap for its bookkeeping -- stays within the queue's limit and, with a pool (the endpoint's, shared by every
 * session), within the pool's budget and, past half of it, the queue's slice (konce_msgq_pool).
 * A push beyond any of them fails with -ENOBUFS and queues nothing, so a peer that never acks (or
 * advertises no credit) cannot make its queue grow without end, nor many such peers starve another.
 *
 * Invariants:
 *   0. held <= max_held (when set) and pool->used <= pool->budget; held = sum of the costs of the
 *      queued and started messages; pool->used = sum of its queues' held; pool->holders = its
 *      queues with held > 0; with shares, pool->used <= budget / 2 + sum of min(held, slice);
 *   1. a fragment is queued for (re)transmission only while it is not acked: nothing acknowledged
 *      is ever sent again (konce_msgq_next skips refs acked since they were queued);
 *   2. outstanding_charge = sum of the charges of started messages;
 *   3. wire ids are given out in order from 1, one per started message.
 */
#ifndef KONCE_MSGQ_H
#define KONCE_MSGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/env.h"
#include "node/transport/frag.h"
#include "node/transport/recovery.h"

enum { KONCE_MSGQ_ACTIVE = 32, KONCE_REF_FRAGMENT = 1, KONCE_REF_ACK = 2, KONCE_MSGQ_MSG_COST = 128 };

/* Send-queue memory shared by many queues (the endpoint's sessions).  The first half of the budget
 * goes to whoever asks first; past half, a queue may only grow within its slice, budget / (2 x
 * shares), where shares bounds how many queues can ever share the pool (the endpoint's
 * max_sessions).  So however many queues an attacker makes hold, and however much, the pool is
 * never full for a queue that holds less than its slice:
 *   used <= budget / 2 + sum over queues of min(held, slice) <= budget - slice + (this queue's held).
 * (A share of budget / holders, the reassembly pool's rule in frag.h, does not give that: holders
 * that each hold budget / holders fill it.)  shares 0 = no slices (first come, first served). */
typedef struct konce_msgq_pool {
	uint64_t budget;  /* bytes */
	uint64_t used;
	uint64_t holders; /* queues with held > 0 */
	unsigned shares;
} konce_msgq_pool;

typedef struct konce_smsg {
	uint64_t api_id;   /* what the application was told */
	uint64_t wire_id;  /* 0 until started */
	uint64_t len, charge;
	uint8_t *data;     /* our copy, or the buffer we took over; wiped when freed */
	uint64_t nunits, nacked, next_new; /* units; next_new: first unit never sent */
	uint64_t *acked;   /* bitmap, one bit per unit */
	uint8_t klass;
	uint64_t queued_us;
	struct konce_smsg *next; /* waiting list */
} konce_smsg;

typedef struct konce_msgq {
	const konce_env *env;
	konce_smsg *wait_head, *wait_tail;
	size_t nwait;
	konce_smsg *active[KONCE_MSGQ_ACTIVE];
	unsigned nactive, rr;
	uint64_t next_wire_id;
	uint64_t outstanding_charge;
	uint64_t unacked_bytes;  /* bytes of queued and started messages not yet acked */
	unsigned nbackground;    /* background-class messages queued or started */
	uint64_t held, max_held; /* bytes held (message bytes + KONCE_MSGQ_MSG_COST each); 0 = no limit */
	konce_msgq_pool *pool;   /* NULL = none */
	konce_frame_ref *rtx;    /* ring of lost fragments to send again */
	size_t rtx_cap, rtx_head, rtx_n;
} konce_msgq;

void konce_msgq_init(konce_msgq *q, const konce_env *env);
/* Frees every message (no events: fail them first with konce_msgq_pop_any). */
void konce_msgq_free(konce_msgq *q);
/* Bounds what the queue may hold (0 = no limit) and shares pool's budget (NULL = none). */
void konce_msgq_set_limit(konce_msgq *q, uint64_t max_held, konce_msgq_pool *pool);
/* KONCE_FRAG_UNIT units of a message of len bytes (1 for an empty message). */
static inline uint64_t konce_msgq_units(uint64_t len)
{
	return len == 0 ? 1 : (len + KONCE_FRAG_UNIT - 1) / KONCE_FRAG_UNIT;
}
/* What a message of len bytes costs against the limits. */
static inline uint64_t konce_msgq_cost(uint64_t len)
{
	return len + KONCE_MSGQ_MSG_COST + (konce_msgq_units(len) + 63) / 64 * 8;
}
/* Would a push costing cost (konce_msgq_cost) fit the queue's limit, the pool's budget and slice? */
bool konce_msgq_admits(const konce_msgq *q, uint64_t cost);
/* Copies msg; 0, -ENOBUFS (not admitted: konce_msgq_admits) or -ENOMEM. */
int konce_msgq_push(konce_msgq *q, const uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now);
/* konce_msgq_push without the copy: msg was allocated through the queue's env (konce_env_alloc or
 * konce_env_alloc_raw) and, on 0, belongs to the queue, which wipes and frees it when the message is
 * retired.  On a negative return (as konce_msgq_push, or -EINVAL for len > 0 with no msg) it is still
 * the caller's.  With len 0 the queue keeps nothing of msg (the caller frees it). */
int konce_msgq_push_owned(konce_msgq *q, uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now);
/* Starts waiting messages as credit allows; returns how many. */
unsigned konce_msgq_start(konce_msgq *q, uint64_t credit);
/* The next fragment to send, with at most max_bytes of data; false when none (or none that small). */
bool konce_msgq_next(konce_msgq *q, konce_frame_ref *ref, size_t max_bytes);
/* Narrows ref to its first run of units still needed, with at most max_bytes of data (for a probe
 * that repeats outstanding data).  false if none of it is needed or no unit fits. */
bool konce_msgq_clip(const konce_msgq *q, konce_frame_ref *ref, size_t max_bytes);
/* Puts a fragment taken with konce_msgq_next() back at the front (it did not fit a packet). */
void konce_msgq_unnext(konce_msgq *q, const konce_frame_ref *ref);
/* true if fragment ref still needs to reach the peer. */
bool konce_msgq_needed(const konce_msgq *q, const konce_frame_ref *ref);
/* Fills f with fragment ref (data points into the message); -ENOENT if it is no longer needed. */
int konce_msgq_fragment(const konce_msgq *q, const konce_frame_ref *ref, konce_fragment *f);
/* A fragment was acked: returns its message if that made it complete (retire it next), else NULL. */
konce_smsg *konce_msgq_acked(konce_msgq *q, const konce_frame_ref *ref);
void konce_msgq_lost(konce_msgq *q, const konce_frame_ref *ref);
konce_smsg *konce_msgq_by_wire(const konce_msgq *q, uint64_t wire_id);
konce_smsg *konce_msgq_by_api(const konce_msgq *q, uint64_t api_id);
/* Bytes of m the peer has acknowledged: whole units, exact (the last one may be short). */
uint64_t konce_msgq_acked_bytes(const konce_smsg *m);
/* Removes a started or waiting message and frees it. */
void konce_msgq_retire(konce_msgq *q, konce_smsg *m);
/* Any message (started first); NULL when empty.  For failing everything. */
konce_smsg *konce_msgq_any(const konce_msgq *q);
/* Something could be sent now (ignoring congestion control). */
bool konce_msgq_has_data(const konce_msgq *q);
static inline bool konce_msgq_empty(const konce_msgq *q) { return q->nactive == 0 && q->nwait == 0; }

#endif
