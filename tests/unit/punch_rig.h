/* punch_rig.h - a konce_punch under test: a counting env, an introduction with a host and a
 * reflexive candidate, and helpers that run its timers and collect what it sends (test_punch*.c).
 * Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_PUNCH_RIG_H
#define KONCE_TEST_PUNCH_RIG_H

#include <stdbool.h>
#include <string.h>

#include "nat/punch.h"
#include "tests/unit/count_env.h"
#include "tests/unit/parse_addr.h"

#define MS 1000ULL
#define SEC 1000000ULL

static const uint8_t low[KONCE_WIRE_KEY] = {1}, high[KONCE_WIRE_KEY] = {2};
static const uint8_t secret[KONCE_INTRO_SECRET_BYTES] = {7, 7, 7};

typedef struct rig {
	count_env ce;
	konce_punch *p;
	konce_cand cand[3];
	konce_punch_intro in;
	konce_punch_out out[2048];
	unsigned nout;
	uint64_t now;
} rig;

static inline void rig_init(rig *r, const uint8_t *self, const uint8_t *peer)
{
	memset(r, 0, sizeof(*r));
	count_env_init(&r->ce, 3);
	assert_int_equal(konce_punch_new(&r->p, &r->ce.env, self, peer), 0);
	r->cand[0] = (konce_cand){KONCE_CAND_HOST, addr("10.0.0.9:7000")};
	r->cand[1] = (konce_cand){KONCE_CAND_REFLEXIVE, addr("198.51.100.7:4001")};
	r->in = (konce_punch_intro){.intro_id = 77, .delay_us = 50 * MS, .peer_cands = r->cand, .npeer = 2,
				    .peer_nat = {KONCE_NATMAP_EIM, 0, 4001}, .self_nat = {KONCE_NATMAP_EIM, 0, 0},
				    .secret = secret};
}

static inline void drain(rig *r)
{
	konce_punch_out o;
	while (konce_punch_poll(r->p, &o)) {
		assert_true(r->nout < 2048);
		r->out[r->nout++] = o;
	}
}

/* Runs timers up to t, one expiry at a time, collecting output. */
static inline void run_to(rig *r, uint64_t t)
{
	for (;;) {
		uint64_t n = konce_punch_next_timer(r->p);
		if (n > t)
			break;
		r->now = n > r->now ? n : r->now;
		konce_punch_timer(r->p, r->now);
		drain(r);
	}
	r->now = t;
}

/* Key self (low or high) introduced to peer with the rig's intro, started at 0 (its probes begin
 * at 50 ms). */
static inline void rig_start(rig *r, const uint8_t *self, const uint8_t *peer)
{
	rig_init(r, self, peer);
	konce_punch_start(r->p, &r->in, 0);
}

/* Started, and the peer's ack of our first probe to its reflexive candidate (cand[1]) arrives at
 * 60 ms: that pair is verified. */
static inline void rig_verified(rig *r, const uint8_t *self, const uint8_t *peer)
{
	rig_start(r, self, peer);
	run_to(r, 60 * MS);
	konce_punch_input(r->p, 0, &r->cand[1].addr, true, 77, 1, r->now);
}

static inline bool next_event(rig *r, enum konce_punch_ev_type type)
{
	konce_punch_event e;
	return konce_punch_poll_event(r->p, &e) && e.type == type;
}

/* Counts the session outs (confirming PINGs) in out[from..] sent to a. */
static inline unsigned session_outs(const rig *r, unsigned from, const konce_addr *a)
{
	unsigned k = 0;
	for (unsigned i = from; i < r->nout; i++)
		k += r->out[i].session && konce_addr_eq(&r->out[i].to, a);
	return k;
}

#endif
