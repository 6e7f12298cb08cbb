/* msg_pair.h - two konce endpoints (transport_node.h) joined by a session, for the
 * tests/sim/test_msg_*.c tests of reliable messages (konce_ep_msg_send and its events).
 *
 * mpair_init() makes client A and server B, sets both directions of the link, connects A to B
 * and runs until both saw ESTABLISHED.  Every event after that goes to the test's on_event hook
 * (tnode.on_event; the MESSAGE data is valid only inside the hook).  mpair_send() queues a message
 * at the current virtual time and lets its datagrams leave.
 */
#ifndef KONCE_MSG_PAIR_H
#define KONCE_MSG_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

typedef struct mpair {
	sim *s;
	tnode a, b;
	uint32_t ca, cb;          /* A's conn to B, B's conn from A */
	int a_up, b_up;
	void (*on_event)(struct mpair *p, tnode *n, const konce_ep_event *ev, uint64_t now);
	void *user;
} mpair;

/* 0, or negative errno (setup failed, or no session within 30 virtual seconds: -ETIMEDOUT).
 * cfg_a / cfg_b may be NULL.  link applies both ways. */
int mpair_init(mpair *p, sim *s, const sim_link_cfg *link, const konce_ep_config *cfg_a,
	       const konce_ep_config *cfg_b);
/* Frees both endpoints (not the sim). */
void mpair_free(mpair *p);
/* What a test tallies of the message outcomes and the session's end, per side. */
typedef struct mpair_outcomes {
	unsigned delivered_a, delivered_b; /* MSG_DELIVERED at A, at B */
	unsigned failed;                   /* MSG_FAILED at either */
	unsigned closed;                   /* CLOSED or FAILED (the session) at either */
} mpair_outcomes;
/* Tallies ev (seen at A when at_a, else at B) into o if it is one of those; true if it was. */
bool mpair_tally(mpair_outcomes *o, bool at_a, const konce_ep_event *ev);
/* konce_ep_msg_send on n (A or B) over its conn to the other, then flushes n. */
int mpair_send(mpair *p, tnode *n, const void *msg, size_t len, unsigned klass, uint64_t *id);

#endif
