/* test_hs_solve_queue.c - proofs of work solved at once take turns (hs_client.c): the oldest
 * COOKIE's attempt hashes with the whole slice and the others wait, so the oldest finish within
 * their deadline one after another; an attempt whose turn did not come, or came late, before its
 * deadline starts over without spending its one restart (pow_waited), and none fails for the
 * queue.
 *
 * The client dials N attempts at once to a server that answers every HELLO with a COOKIE
 * demanding BITS bits (built here: the client does not check the MAC, only the server would).
 * The client's rate (pow_rate) makes one 1 ms slice SLICE tries, and a solve about BITS_TRIES /
 * SLICE slices: with shared slices (the code before) every attempt got at least one try a call,
 * so each of the N solves needed about 2^BITS calls, longer than the 5 s deadline of 5,000 calls:
 * most restarted and then failed.  In turns the queue's work is N solves one after another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"
#include "node/transport/pow.h"
#include "tests/unit/testenv.h"

/* pow_rate 2,000 hashes of 1200 bytes a second: 10,000 of a 232-byte (2-block) INITIATE, so 10 a
 * 1 ms slice.  13 bits (8,192 tries, about 820 slices) is payable: within the 1.25 s budget. */
enum { N = 12, BITS = 13, RATE = 2000, SLICE = RATE / 1000 * 10 / 2 };

typedef struct world {
	test_env tenv;
	konce_identity *id, *server;
	konce_ep *a;
	konce_addr addr_s;
	uint64_t now;
	uint8_t cid[N][KONCE_WIRE_CID]; /* attempt i's client cid, in dial order */
	uint32_t conn[N];
	unsigned order[N], n_init;  /* the attempts in the order their first INITIATEs left */
	bool sent[N];
	unsigned failed;
} world;

static int attempt_of(const world *w, const uint8_t cid[KONCE_WIRE_CID])
{
	for (unsigned i = 0; i < N; i++)
		if (!memcmp(w->cid[i], cid, KONCE_WIRE_CID))
			return (int)i;
	return -1;
}

/* The server's answer to a HELLO: a COOKIE demanding BITS (epk: a valid public key). */
static void answer_hello(world *w, const uint8_t *pkt, size_t len)
{
	konce_hello h;
	assert_int_equal(konce_hello_parse(&h, pkt, len), 0);
	konce_cookie_msg c;
	memset(&c, 0, sizeof c);
	c.version = KONCE_VERSION_1;
	memcpy(c.client_cid, h.client_cid, KONCE_WIRE_CID);
	c.client_time = h.client_time;
	c.challenge = w->now;
	c.server_time = w->now / 1000;
	c.pow_bits = BITS;
	memcpy(c.epk, konce_identity_public(w->server), KONCE_WIRE_KEY);
	uint8_t out[KONCE_COOKIE_SIZE];
	size_t n = konce_cookie_build(out, &c);
	konce_ep_input(w->a, out, n, &w->addr_s, w->now, NULL);
}

/* Every datagram of a: HELLOs answered, INITIATEs checked (their proof holds) and noted. */
static void serve(world *w)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	while (konce_ep_poll_datagram(w->a, buf, &len, &to)) {
		if (buf[0] == KONCE_PKT_HELLO) {
			answer_hello(w, buf, len);
		} else if (buf[0] == KONCE_PKT_INITIATE) {
			konce_initiate in;
			assert_int_equal(konce_initiate_parse(&in, buf, len), 0);
			assert_true(konce_pow_check(buf, len, BITS));
			int i = attempt_of(w, in.client_cid);
			assert_true(i >= 0);
			assert_false(w->sent[i]); /* one INITIATE each: the attempt is closed at once */
			w->sent[i] = true;
			w->order[w->n_init++] = (unsigned)i;
			assert_int_equal(konce_ep_close(w->a, w->conn[i], w->now), 0); /* no server to answer it */
		}
	}
	konce_ep_event ev;
	while (konce_ep_poll_event(w->a, &ev))
		w->failed += ev.type == KONCE_EV_FAILED;
}

static void test_solves_take_turns(void **state)
{
	(void)state;
	world *w = test_malloc(sizeof *w);
	memset(w, 0, sizeof *w);
	test_env_init(&w->tenv, 7);
	assert_int_equal(konce_identity_generate(&w->id, &w->tenv.env), 0);
	assert_int_equal(konce_identity_generate(&w->server, &w->tenv.env), 0);
	konce_ep_config cfg = {.env = &w->tenv.env, .identity = w->id, .pow_rate = RATE, .max_sessions = 2 * N};
	w->now = 1000000;
	assert_int_equal(konce_ep_new(&w->a, &cfg, w->now), 0);
	assert_int_equal(konce_addr_parse(&w->addr_s, "198.51.100.2:7807"), 0);
	const struct konce_ep_counters *c = konce_ep_counters(w->a);

	/* N dials at once; each HELLO's cid names its attempt */
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(konce_ep_connect(w->a, konce_identity_public(w->server), &w->addr_s, NULL, 0, w->now,
						  &w->conn[i]), 0);
		assert_true(konce_ep_poll_datagram(w->a, buf, &len, &to));
		konce_hello h;
		assert_int_equal(konce_hello_parse(&h, buf, len), 0);
		memcpy(w->cid[i], h.client_cid, KONCE_WIRE_CID);
		answer_hello(w, buf, len); /* the COOKIEs come in dial order */
		w->now += 10;
	}
	/* the host: the timer every millisecond of other work, one slice a call at most */
	unsigned calls = 0;
	uint64_t start = w->now;
	unsigned first_round = 0;
	while (w->n_init < N) {
		w->now += 1000;
		uint64_t before = c->pow_tries;
		if (konce_ep_next_timer(w->a) <= w->now)
			konce_ep_timer(w->a, w->now);
		assert_true(c->pow_tries - before <= SLICE); /* one slice a call, whatever the queue */
		serve(w);
		if (c->pow_waited && !first_round)
			first_round = w->n_init; /* solved before the first attempt gave up waiting */
		assert_int_equal(w->failed, 0);
		assert_true(++calls < 200000);
	}
	printf("# %u solves of %u bits in turns: %llu tries, %u calls (%.1f s), %llu restarts of them %llu for "
	       "waiting; %u solved within the first deadline\n",
	       N, BITS, (unsigned long long)c->pow_tries, calls, (double)(w->now - start) / 1e6,
	       (unsigned long long)c->hs_restarts, (unsigned long long)c->pow_waited, first_round);
	/* the first COOKIEs' attempts finished first, in their order, and some within the deadline */
	assert_true(first_round >= 2);
	for (unsigned k = 0; k < first_round; k++)
		assert_int_equal(w->order[k], k);
	/* the queue was longer than a deadline: some waited, started over, and still none failed */
	assert_true(c->pow_waited > 0);
	assert_int_equal(c->hs_failed, 0);
	/* every restart was for waiting (no turn, or one that began late): no solve of its own, in a
	 * whole turn, outlived its deadline, and no attempt spent its one restart on the queue */
	assert_int_equal(c->hs_restarts, c->pow_waited);
	konce_ep_free(w->a);
	konce_identity_free(w->id);
	konce_identity_free(w->server);
	assert_int_equal(w->tenv.allocs, w->tenv.frees);
	test_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_solves_take_turns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
