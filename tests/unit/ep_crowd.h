/* ep_crowd.h - one endpoint dialing thousands of sessions to another, in-process and on a clock
 * that stands still while datagrams move, for test_ep_table.c and test_ep_timer.c.  Every session
 * comes from one address and one key, as in bench_sessions: b's per-source caps and rate limit are
 * raised so that only what a test looks at binds.
 *
 * crowd_make()/crowd_free() (a counting env each, so crowd_free() proves every allocation was
 * freed), crowd_pump() to move every datagram both ways until quiet, and crowd_step(), one wave of
 * dials and a millisecond.  Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_EP_CROWD_H
#define KONCE_TEST_EP_CROWD_H

#include <stdbool.h>
#include <string.h>

#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/unit/testenv.h"

typedef struct ep_crowd {
	test_env tenv_a, tenv_b;
	konce_identity *id_a, *id_b;
	konce_ep *a, *b; /* a dials to b, from one address and one key */
	konce_addr addr_a, addr_b;
	uint64_t now;
	unsigned nconn, inflight, failed; /* a's dials: established, under way, failed */
	uint32_t *conns;                  /* if set: the established sessions' ids, in order */
	bool no_failure;                  /* a FAILED dial fails the test at once */
} ep_crowd;

/* a with room for a_max sessions, b for b_max, at most b_per_source of them from one source. */
static inline void crowd_make(ep_crowd *w, uint8_t seed, unsigned a_max, unsigned b_max, unsigned b_per_source)
{
	memset(w, 0, sizeof *w);
	test_env_init(&w->tenv_a, seed);
	test_env_init(&w->tenv_b, (uint8_t)(seed + 1));
	assert_int_equal(konce_identity_generate(&w->id_a, &w->tenv_a.env), 0);
	assert_int_equal(konce_identity_generate(&w->id_b, &w->tenv_b.env), 0);
	konce_ep_config a = {.env = &w->tenv_a.env, .identity = w->id_a, .max_sessions = a_max, .out_ring = 4096};
	konce_ep_config b = {.env = &w->tenv_b.env, .identity = w->id_b, .max_sessions = b_max,
			     .max_per_source = b_per_source, .capacity = 2000000, .rl_rate = 1u << 24,
			     .rl_burst = 1u << 24, .out_ring = 4096};
	w->now = 1000000;
	assert_int_equal(konce_ep_new(&w->a, &a, w->now), 0);
	assert_int_equal(konce_ep_new(&w->b, &b, w->now), 0);
	assert_int_equal(konce_addr_parse(&w->addr_a, "192.0.2.1:1000"), 0);
	assert_int_equal(konce_addr_parse(&w->addr_b, "198.51.100.2:7807"), 0);
}

static inline void crowd_free(ep_crowd *w)
{
	konce_ep_free(w->a);
	konce_ep_free(w->b);
	konce_identity_free(w->id_a);
	konce_identity_free(w->id_b);
	assert_int_equal(w->tenv_a.allocs, w->tenv_a.frees);
	assert_int_equal(w->tenv_b.allocs, w->tenv_b.frees);
}

/* a's dial outcomes are counted; b's events are dropped. */
static inline void crowd_drain(ep_crowd *w)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(w->a, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED) {
			w->inflight--;
			if (w->conns)
				w->conns[w->nconn] = ev.conn;
			w->nconn++;
		}
		if (ev.type == KONCE_EV_FAILED) {
			if (w->no_failure)
				print_error("failed reason %u after %u\n", ev.reason, w->nconn);
			assert_false(w->no_failure);
			w->inflight--;
			w->failed++;
		}
	}
	while (konce_ep_poll_event(w->b, &ev))
		;
}

/* Moves every datagram both ways until quiet (no delay: the clock stands still). */
static inline void crowd_pump(ep_crowd *w)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		while (konce_ep_poll_datagram(w->a, buf, &len, &to)) {
			moved = 1;
			konce_ep_input(w->b, buf, len, &w->addr_a, w->now, NULL);
		}
		while (konce_ep_poll_datagram(w->b, buf, &len, &to)) {
			moved = 1;
			konce_ep_input(w->a, buf, len, &w->addr_b, w->now, NULL);
		}
		crowd_drain(w);
	}
}

/* Starts dials until *started reaches n or wave are under way, pumps, and runs both endpoints'
 * timers a millisecond later. */
static inline void crowd_step(ep_crowd *w, unsigned *started, unsigned n, unsigned wave)
{
	while (*started < n && w->inflight < wave) {
		uint32_t c;
		assert_int_equal(konce_ep_connect(w->a, konce_identity_public(w->id_b), &w->addr_b, NULL, 0, w->now, &c), 0);
		(*started)++;
		w->inflight++;
	}
	crowd_pump(w);
	w->now += 1000;
	konce_ep_timer(w->a, w->now);
	konce_ep_timer(w->b, w->now);
}

#endif
