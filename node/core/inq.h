/* inq.h - the daemon's input queue: received datagrams wait here, served by priority, and the
 * lowest priority is shed first when it is full.
 *
 * The I/O layer (node_io.c) reads a bounded batch per wake, classifies each datagram with
 * konce_ep_priority() (0 = DATA for one of our sessions and answers to our own handshakes, 1 +
 * the source's rate-limit overdraft for HELLO and INITIATE, 17 = DATA for no session and unknown
 * types), pushes it here, then feeds the
 * endpoint from konce_inq_peek()/konce_inq_drop() up to a per-wake work budget.  What the budget
 * leaves stays queued for the next wake, where it competes with new arrivals by priority.
 *
 * States of a slot: free (on the free stack) or queued (in its priority's FIFO list).
 * Invariants: free + queued = slots; each FIFO holds datagrams of one priority, oldest first;
 * peek returns the oldest datagram of the lowest non-empty priority.  When every slot is queued, a
 * push sheds the oldest datagram of the highest (worst) non-empty priority if that priority is
 * worse than the new datagram's, else the new datagram itself: a full queue never holds a
 * datagram of priority p while one of priority < p was shed after it arrived.
 *
 * All memory is allocated by konce_inq_new(); push, peek and drop never allocate.  Pure logic: no
 * clock, no socket, no libevent.
 */
#ifndef KONCE_INQ_H
#define KONCE_INQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"

enum {
	KONCE_INQ_PRIOS = 18, /* priorities 0..17; larger values are taken as 17 */
};

typedef struct konce_inq konce_inq;

/* A queue of `slots` datagrams of up to `max_len` bytes each.  0, -EINVAL (0 slots or length, or
 * more than 2^24 slots) or -ENOMEM. */
int konce_inq_new(konce_inq **q, unsigned slots, size_t max_len);
void konce_inq_free(konce_inq *q);

/* Queues a copy of pkt (len <= max_len, else it is shed).  true if queued (possibly by shedding a
 * worse one), false if this datagram was shed. */
bool konce_inq_push(konce_inq *q, unsigned prio, const uint8_t *pkt, size_t len, const konce_addr *from);
/* The best queued datagram (lowest priority, oldest first), valid until the next push or drop;
 * false when empty. */
bool konce_inq_peek(const konce_inq *q, const uint8_t **pkt, size_t *len, const konce_addr **from,
		    unsigned *prio);
/* Removes the datagram peek returned. */
void konce_inq_drop(konce_inq *q);

size_t konce_inq_len(const konce_inq *q);
/* Datagrams shed since creation: in total, and per priority (0..KONCE_INQ_PRIOS-1). */
uint64_t konce_inq_shed(const konce_inq *q);
uint64_t konce_inq_shed_prio(const konce_inq *q, unsigned prio);

#endif
