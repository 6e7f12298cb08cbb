/* rdv_rig.h - a konce_rendezvous under test: a counting env (nothing may be allocated after
 * konce_rendezvous_new()), and helpers that feed it encoded messages, decode what it sends,
 * register keys and answer offers (test_rendezvous.c, test_rdv_budget.c).  Include it after
 * <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_RDV_RIG_H
#define KONCE_TEST_RDV_RIG_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nat/rendezvous.h"
#include "tests/unit/count_env.h"
#include "tests/unit/parse_addr.h"

#define MS 1000ULL
#define SEC 1000000ULL

typedef struct rig {
	count_env ce;
	konce_rendezvous *r;
	long allocs;
} rig;

static inline void rig_init(rig *g, const konce_rendezvous_cfg *cfg)
{
	count_env_init(&g->ce, 9);
	konce_rendezvous_cfg c = cfg ? *cfg : (konce_rendezvous_cfg){0};
	c.env = &g->ce.env;
	assert_int_equal(konce_rendezvous_new(&g->r, &c), 0);
	g->allocs = g->ce.allocs;
}

static inline void rig_free(rig *g)
{
	assert_int_equal(g->ce.allocs, g->allocs); /* nothing allocated after konce_rendezvous_new() */
	konce_rendezvous_free(g->r);
	assert_int_equal(g->ce.live, 0);
}

static inline void feed(rig *g, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t n = konce_rdvwire_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	konce_rendezvous_input(g->r, buf, n, from, now);
}

/* The next datagram out, decoded; false if none. */
static inline bool out(rig *g, konce_rdvwire_msg *m, konce_addr *to, uint8_t buf[KONCE_RDV_MAX_MSG])
{
	size_t n;
	if (!konce_rendezvous_poll(g->r, buf, &n, to))
		return false;
	assert_int_equal(konce_rdvwire_decode(m, buf, n), 0);
	return true;
}

static inline konce_rdvwire_msg reg_msg(uint8_t keybyte, uint64_t echo)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .id = 100 + keybyte, .stamp = echo,
			   .nat = {KONCE_NATMAP_EIM, 0, 0}, .ncand = 1};
	memset(m.key, keybyte, KONCE_WIRE_KEY);
	m.cand[0] = (konce_cand){KONCE_CAND_HOST, addr("10.0.0.2:7000")};
	m.cand[0].addr.ip[15] = keybyte;
	return m;
}

/* Registers key byte k from `from`, echoing the stamp so that the RTT is rtt. */
static inline void do_register(rig *g, uint8_t k, const konce_addr *from, uint64_t now, uint64_t rtt)
{
	konce_rdvwire_msg m = reg_msg(k, 0), a;
	konce_addr to;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	feed(g, &m, from, now);
	assert_true(out(g, &a, &to, buf));
	assert_int_equal(a.type, KONCE_RDV_REGISTERED);
	assert_int_equal(a.id, m.id);
	assert_true(konce_addr_eq(&a.addr, from) && konce_addr_eq(&to, from));
	assert_int_equal(a.value, KONCE_RDV_REFRESH_MS);
	m = reg_msg(k, a.stamp);
	feed(g, &m, from, a.stamp + rtt);
	assert_true(out(g, &a, &to, buf));
}

/* A rig (cfg, or NULL for the defaults) with the peers asked for registered at 1 s, each with a
 * 20 ms RTT, in this order: key byte 1 at a = 198.51.100.1:4000, 2 at b = 198.51.100.2:5000, 3 at
 * c = 198.51.100.3:6000.  A NULL address leaves that peer out. */
static inline void rig_peers(rig *g, const konce_rendezvous_cfg *cfg, konce_addr *a, konce_addr *b, konce_addr *c)
{
	rig_init(g, cfg);
	konce_addr *at[3] = {a, b, c};
	for (unsigned i = 0; i < 3; i++) {
		if (!at[i])
			continue;
		char s[32];
		snprintf(s, sizeof s, "198.51.100.%u:%u", i + 1, 4000 + 1000 * i);
		*at[i] = addr(s);
		do_register(g, (uint8_t)(i + 1), at[i], SEC, 20 * MS);
	}
}

/* Consent: the target (key byte k, at `at`) gets an INTRO_OFFER naming the requester and nothing
 * else, and accepts it. */
static inline void consent(rig *g, uint8_t k, uint8_t requester, const konce_addr *at, uint64_t now)
{
	konce_rdvwire_msg o;
	konce_addr to;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_true(out(g, &o, &to, buf));
	assert_int_equal(o.type, KONCE_RDV_INTRO_OFFER);
	assert_true(konce_addr_eq(&to, at));
	assert_int_equal(o.key[0], requester);
	assert_int_equal(o.target[0], k);
	konce_rdvwire_msg a = {.type = KONCE_RDV_INTRO_ACCEPT, .id = o.id};
	memset(a.key, k, 32);
	memset(a.target, requester, 32);
	feed(g, &a, at, now);
}

/* Feeds m from `from` and says whether the rendezvous rate-limited it. */
static inline bool limited(rig *g, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	uint64_t n = konce_rendezvous_counters(g->r)->rate_limited;
	feed(g, m, from, now);
	return konce_rendezvous_counters(g->r)->rate_limited != n;
}

static inline konce_rdvwire_msg req_msg(uint8_t requester, uint8_t target, uint64_t txid)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REQUEST, .id = txid};
	memset(m.key, requester, 32);
	memset(m.target, target, 32);
	return m;
}

#endif
