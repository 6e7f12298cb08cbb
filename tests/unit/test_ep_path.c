/* test_ep_path.c - path handles (node/base/addr.h) on the endpoint: a server B and clients that B
 * sees either at path handles (as the node's traversal names the peers it reaches by key) or at
 * real addresses inside 100::/64, the prefix the traversal layer used to fake its virtual
 * addresses in.
 *
 *   - Each path handle is its own source: two traversal peers get their own session caps and
 *     rate-limit buckets, and B's answers carry the handle back out.
 *   - A real datagram from 100::/64 is an ordinary /64 source, never a traversal path: two hosts
 *     there share one cap, and the node's traversal layer does not take their address for a
 *     peer's path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/addr.h"
#include "node/base/ratelimit.h"
#include "node/core/trav.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "testenv.h"

enum { NCLIENTS = 2 };

typedef struct world {
	test_env tenv[NCLIENTS + 1];
	konce_identity *id[NCLIENTS + 1];
	konce_ep *ep[NCLIENTS + 1]; /* [0] is the server B */
	konce_addr b_addr;
	konce_addr src[NCLIENTS + 1]; /* where B sees each client come from */
	uint64_t now;
	unsigned to_path, to_real;    /* datagrams B sent to path handles, to real addresses */
	enum konce_ep_verdict last[NCLIENTS + 1]; /* B's verdict on each client's latest datagram */
} world;

static void make_world(world *w, unsigned max_per_source)
{
	memset(w, 0, sizeof *w);
	w->now = 1000000;
	for (unsigned i = 0; i <= NCLIENTS; i++) {
		test_env_init(&w->tenv[i], 40 + i);
		assert_int_equal(konce_identity_generate(&w->id[i], &w->tenv[i].env), 0);
		konce_ep_config c = {.env = &w->tenv[i].env, .identity = w->id[i]};
		if (i == 0)
			c.max_per_source = max_per_source;
		assert_int_equal(konce_ep_new(&w->ep[i], &c, w->now), 0);
	}
	assert_int_equal(konce_addr_parse(&w->b_addr, "198.51.100.2:7807"), 0);
}

static void free_world(world *w)
{
	for (unsigned i = 0; i <= NCLIENTS; i++) {
		konce_ep_free(w->ep[i]);
		konce_identity_free(w->id[i]);
		assert_int_equal(w->tenv[i].allocs, w->tenv[i].frees);
	}
}

/* Moves datagrams until quiet: a client's go to B from src[i]; B's go to the client whose src is
 * the address B names (a path handle comes back out as it went in). */
static void pump(world *w)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		for (unsigned i = 1; i <= NCLIENTS; i++)
			while (konce_ep_poll_datagram(w->ep[i], buf, &len, &to)) {
				moved = 1;
				w->now += 1000;
				assert_true(konce_addr_eq(&to, &w->b_addr));
				w->last[i] = konce_ep_input(w->ep[0], buf, len, &w->src[i], w->now, NULL);
			}
		while (konce_ep_poll_datagram(w->ep[0], buf, &len, &to)) {
			moved = 1;
			w->now += 1000;
			if (to.path)
				w->to_path++;
			else
				w->to_real++;
			for (unsigned i = 1; i <= NCLIENTS; i++)
				if (konce_addr_eq(&to, &w->src[i]))
					konce_ep_input(w->ep[i], buf, len, &w->b_addr, w->now, NULL);
		}
	}
}

/* Each client dials B; returns how many of B's sessions came up. */
static unsigned dial_all(world *w)
{
	for (unsigned i = 1; i <= NCLIENTS; i++) {
		uint32_t conn;
		assert_int_equal(konce_ep_connect(w->ep[i], konce_identity_public(w->id[0]), &w->b_addr, NULL, 0,
						  w->now, &conn), 0);
		pump(w);
	}
	unsigned up = 0;
	konce_ep_event ev;
	while (konce_ep_poll_event(w->ep[0], &ev))
		up += ev.type == KONCE_EV_ESTABLISHED;
	for (unsigned i = 1; i <= NCLIENTS; i++)
		while (konce_ep_poll_event(w->ep[i], &ev))
			;
	return up;
}

/* With one incoming session per source, two traversal peers (path handles) each get theirs, and
 * B's answers leave addressed to the handles. */
static void test_paths_are_sources(void **state)
{
	(void)state;
	world w;
	make_world(&w, 1);
	w.src[1] = konce_addr_path(1);
	w.src[2] = konce_addr_path(2);
	assert_int_equal(dial_all(&w), 2);
	assert_int_equal(w.last[2], KONCE_EP_ESTABLISHED);
	assert_int_equal(konce_ep_counters(w.ep[0])->init_source_full, 0);
	assert_true(w.to_path > 0);
	assert_int_equal(w.to_real, 0);
	free_world(&w);
}

/* Two real hosts in 100::/64 are one /64 source: the second is refused by the per-source cap. */
static void test_discard_prefix_is_one_source(void **state)
{
	(void)state;
	world w;
	make_world(&w, 1);
	assert_int_equal(konce_addr_parse(&w.src[1], "[100::5]:7"), 0);
	assert_int_equal(konce_addr_parse(&w.src[2], "[100::6]:7"), 0);
	assert_int_equal(dial_all(&w), 1);
	assert_int_equal(w.last[2], KONCE_EP_DROPPED_FULL);
	assert_true(konce_ep_counters(w.ep[0])->init_source_full > 0);
	assert_int_equal(w.to_path, 0);
	free_world(&w);
}

/* The rate-limit table: one traversal peer's overdraft leaves another's bucket full, and a real
 * datagram from [100::5]:7 is neither path 5 nor a source of its own. */
static void test_buckets(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 7);
	konce_ratelimit *rl;
	assert_int_equal(konce_ratelimit_new(&rl, &te.env, 64, 1, 4), 0);
	konce_addr p1 = konce_addr_path(1), p2 = konce_addr_path(2), p5 = konce_addr_path(5), r5, r6;
	assert_int_equal(konce_addr_parse(&r5, "[100::5]:7"), 0);
	assert_int_equal(konce_addr_parse(&r6, "[100::6]:9"), 0);
	assert_true(konce_ratelimit_charge(rl, &p1, 40, 0) > 0);
	assert_int_equal(konce_ratelimit_level(rl, &p2, 0), 0);
	assert_int_equal(konce_ratelimit_level(rl, &p5, 0), 0);
	assert_true(konce_ratelimit_charge(rl, &r5, 40, 0) > 0);
	assert_true(konce_ratelimit_level(rl, &r6, 0) > 0); /* the same /64 */
	assert_int_equal(konce_ratelimit_level(rl, &p5, 0), 0);
	konce_ratelimit_free(rl);
	assert_int_equal(te.allocs, te.frees);
}

/* The node's traversal layer routes only path handles: a real [100::5]:7 is not a peer's path,
 * and a handle prints as one. */
static void test_not_virtual(void **state)
{
	(void)state;
	konce_addr r5, p5 = konce_addr_path(5);
	char s[KONCE_ADDR_STRLEN];
	assert_int_equal(konce_addr_parse(&r5, "[100::5]:7"), 0);
	assert_false(konce_trav_is_path(&r5));
	assert_true(konce_trav_is_path(&p5));
	assert_false(konce_addr_eq(&r5, &p5));
	assert_string_equal(konce_addr_str(&p5, s), "path:5");
	assert_int_equal(konce_addr_parse(&r5, "path:5"), -EINVAL); /* never from text either */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_are_sources),
		cmocka_unit_test(test_discard_prefix_is_one_source),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_not_virtual),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
