/* test_rendezvous.c - the rendezvous server: registration and RTT, introductions and their
 * delays, refusals, the bounded keyed-hash table under a flood, expiry, per-source limits,
 * relaying between introduced pairs, and no allocation after construction. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/rendezvous.h"
#include "tests/unit/rdv_rig.h"

static void test_register_and_rtt(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	konce_addr a = addr("198.51.100.1:4000"), got;
	uint64_t rtt;
	do_register(&g, 1, &a, 5 * SEC, 40 * MS);
	assert_int_equal(konce_rendezvous_lookup(g.r, (uint8_t[32]){[0 ... 31] = 1}, 6 * SEC, &got, &rtt), 0);
	assert_true(konce_addr_eq(&got, &a));
	assert_int_equal(rtt, 40 * MS);
	assert_int_equal(konce_rendezvous_counters(g.r)->rtt_samples, 1);
	/* an echo from the future or 10 s old is no sample */
	konce_rdvwire_msg m = reg_msg(1, 100 * SEC);
	feed(&g, &m, &a, 7 * SEC);
	m = reg_msg(1, 1);
	feed(&g, &m, &a, 20 * SEC);
	assert_int_equal(konce_rendezvous_counters(g.r)->rtt_samples, 1);
	/* a new source address for the key (NAT rebinding) replaces the old */
	konce_addr b = addr("198.51.100.1:4999");
	m = reg_msg(1, 0);
	feed(&g, &m, &b, 21 * SEC);
	assert_int_equal(konce_rendezvous_lookup(g.r, m.key, 21 * SEC, &got, &rtt), 0);
	assert_true(konce_addr_eq(&got, &b));
	rig_free(&g);
}

static void test_delays(void **state)
{
	(void)state;
	uint32_t da, db;
	/* A 20 ms away (RTT), B 140 ms: start = now + 70 ms + 20 ms; A hears at +10 ms, B at +70 ms */
	konce_rendezvous_delays(20 * MS, 140 * MS, &da, &db);
	assert_int_equal(da, 80 * MS);
	assert_int_equal(db, 20 * MS);
	konce_rendezvous_delays(50 * MS, 50 * MS, &da, &db);
	assert_int_equal(da, KONCE_RDV_MARGIN_MS * MS);
	assert_int_equal(db, KONCE_RDV_MARGIN_MS * MS);
}

static void test_introduction(void **state)
{
	(void)state;
	rig g;
	konce_addr a, b = addr("198.51.100.2:5000"), to;
	rig_peers(&g, NULL, &a, NULL, NULL);
	do_register(&g, 2, &b, SEC, 140 * MS);
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 9}, m;
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	feed(&g, &req, &a, 2 * SEC);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	/* nothing about B reaches A, and no relay pair opens, before B accepts */
	assert_int_equal(konce_relay_live(konce_rendezvous_relay(g.r), 2 * SEC), 0);
	consent(&g, 2, 1, &b, 2 * SEC + 10 * MS);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO);
	assert_true(konce_addr_eq(&to, &a));
	assert_int_equal(m.flags, KONCE_INTRO_F_INITIATOR);
	assert_int_equal(m.key[0], 2);
	assert_int_equal(m.value, 80 * MS);
	assert_int_equal(m.ncand, 2); /* B's observed address first, then what B reported */
	assert_int_equal(m.cand[0].type, KONCE_CAND_REFLEXIVE);
	assert_true(konce_addr_eq(&m.cand[0].addr, &b));
	assert_int_equal(m.cand[1].type, KONCE_CAND_HOST);
	uint64_t id = m.id;
	assert_true(out(&g, &m, &to, buf));
	assert_true(konce_addr_eq(&to, &b));
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.key[0], 1);
	assert_int_equal(m.value, 20 * MS);
	assert_int_equal(m.id, id);
	assert_false(out(&g, &m, &to, buf));
	rig_free(&g);
}

/* The RTT is ours to measure.  An echo of a stamp we did not send last (a
 * requester making itself look far away, to hold its target's start back by half of it) is no
 * sample, nor is one held back past KONCE_RDV_RTT_MAX_MS, and the delays are capped anyway. */
static void test_rtt_not_trusted(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	konce_addr a = addr("198.51.100.1:4000"), got;
	uint64_t rtt;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_addr to;
	konce_rdvwire_msg m = reg_msg(1, 0), ans;
	feed(&g, &m, &a, 20 * SEC);
	assert_true(out(&g, &ans, &to, buf));
	/* echo a stamp 9 s older than the one we got */
	m = reg_msg(1, ans.stamp - 9 * SEC);
	feed(&g, &m, &a, ans.stamp + 30 * MS);
	assert_true(out(&g, &ans, &to, buf));
	assert_int_equal(konce_rendezvous_lookup(g.r, m.key, 21 * SEC, &got, &rtt), 0);
	assert_int_equal(rtt, 0);
	/* our stamp, echoed 5 s late */
	m = reg_msg(1, ans.stamp);
	feed(&g, &m, &a, ans.stamp + 5 * SEC);
	assert_true(out(&g, &ans, &to, buf));
	assert_int_equal(konce_rendezvous_lookup(g.r, m.key, 26 * SEC, &got, &rtt), 0);
	assert_int_equal(rtt, 0);
	assert_int_equal(konce_rendezvous_counters(g.r)->rtt_samples, 0);
	assert_int_equal(konce_rendezvous_counters(g.r)->rtt_refused, 2);
	/* the same stamp twice is one sample */
	m = reg_msg(1, ans.stamp);
	feed(&g, &m, &a, ans.stamp + 40 * MS);
	assert_true(out(&g, &ans, &to, buf));
	feed(&g, &m, &a, ans.stamp + 10 * MS);
	assert_true(out(&g, &ans, &to, buf));
	assert_int_equal(konce_rendezvous_counters(g.r)->rtt_samples, 1);
	/* whatever was measured, the other side waits at most half the cap (+ margin) */
	uint32_t da, db;
	konce_rendezvous_delays(20 * MS, 9 * SEC, &da, &db);
	assert_true(da <= (KONCE_RDV_RTT_MAX_MS / 2 + KONCE_RDV_MARGIN_MS) * MS);
	rig_free(&g);
}

/* A claimed REFLEXIVE candidate (any address the registrant likes) is never
 * forwarded; the only reflexive address in an INTRO is the one the rendezvous saw. */
static void test_only_observed_reflexive(void **state)
{
	(void)state;
	rig g;
	konce_addr a = addr("198.51.100.1:4000"), b, victim = addr("203.0.113.99:53"), to;
	rig_peers(&g, NULL, NULL, &b, NULL);
	konce_rdvwire_msg m = reg_msg(1, 0);
	m.ncand = 3;
	m.cand[1] = (konce_cand){KONCE_CAND_REFLEXIVE, victim};
	m.cand[2] = (konce_cand){KONCE_CAND_REFLEXIVE, victim};
	m.cand[2].addr.port = 54;
	feed(&g, &m, &a, SEC);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg o;
	assert_true(out(&g, &o, &to, buf));
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 9};
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	feed(&g, &req, &a, 2 * SEC);
	consent(&g, 2, 1, &b, 2 * SEC);
	assert_true(out(&g, &o, &to, buf)); /* to A */
	assert_true(out(&g, &o, &to, buf)); /* to B, about A */
	assert_true(konce_addr_eq(&to, &b));
	unsigned refl = 0;
	for (unsigned i = 0; i < o.ncand; i++) {
		assert_false(konce_addr_eq(&o.cand[i].addr, &victim));
		refl += o.cand[i].type == KONCE_CAND_REFLEXIVE;
	}
	assert_int_equal(refl, 1);
	assert_int_equal(o.cand[0].type, KONCE_CAND_REFLEXIVE);
	assert_true(konce_addr_eq(&o.cand[0].addr, &a));
	assert_int_equal(o.ncand, 2); /* observed + the host */
	rig_free(&g);
}

/* New registrations are charged to their source.  One address registering
 * key after key (each REGISTER within the request rate limit) gets KONCE_RDV_NEW_BURST /
 * KONCE_RDV_NEW_COST of them at once, then one per KONCE_RDV_NEW_COST s; refreshes are free. */
static void test_new_keys_per_source(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	konce_addr a = addr("198.51.100.1:4000"), b = addr("198.51.100.77:4000"), to;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg o;
	uint64_t now = SEC;
	for (unsigned i = 0; i < 200; i++) {
		konce_rdvwire_msg m = reg_msg((uint8_t)(i + 1), 0);
		m.key[1] = (uint8_t)(i >> 8);
		feed(&g, &m, &a, now);
		now += 100 * 1000; /* 10 a second: under the request limit (20 units/s) */
		while (out(&g, &o, &to, buf))
			;
	}
	/* 20 s: 8 at once, then 1 per 4 s */
	size_t n = konce_rendezvous_count(g.r, now);
	assert_true(n >= KONCE_RDV_NEW_BURST / KONCE_RDV_NEW_COST);
	assert_true(n <= KONCE_RDV_NEW_BURST / KONCE_RDV_NEW_COST + 20 / KONCE_RDV_NEW_COST + 1);
	assert_true(konce_rendezvous_counters(g.r)->source_full >= 150);
	/* another source is not affected, and a registered key refreshes freely */
	konce_rdvwire_msg m = reg_msg(250, 0);
	feed(&g, &m, &b, now);
	assert_true(out(&g, &o, &to, buf) && o.type == KONCE_RDV_REGISTERED);
	m = reg_msg(1, 0);
	m.key[1] = 0;
	for (unsigned i = 0; i < 10; i++) {
		feed(&g, &m, &a, now + i * 100 * 1000);
		assert_true(out(&g, &o, &to, buf) && o.type == KONCE_RDV_REGISTERED);
	}
	rig_free(&g);
}

/* The target consents first.  Refused at the offer, nothing about it was
 * released: the requester hears DECLINED (with its request's txid), gets no INTRO, no relay pair
 * opens; an accept for another id, from another address or too late does nothing. */
static void test_consent(void **state)
{
	(void)state;
	rig g;
	konce_addr a, b, to;
	rig_peers(&g, NULL, &a, &b, NULL);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 41}, m;
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	feed(&g, &req, &a, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	assert_true(konce_addr_eq(&to, &b));
	assert_false(out(&g, &m, &to, buf)); /* nothing to A */
	uint64_t id = m.id;
	feed(&g, &req, &a, 2 * SEC + 500 * MS); /* A retries: the same offer goes out again */
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	assert_int_equal(m.id, id);
	assert_false(out(&g, &m, &to, buf));
	konce_rdvwire_msg acc = {.type = KONCE_RDV_INTRO_ACCEPT, .id = id + 1};
	memset(acc.key, 2, 32);
	memset(acc.target, 1, 32);
	feed(&g, &acc, &b, 2 * SEC + 600 * MS); /* another id */
	acc.id = id;
	feed(&g, &acc, &a, 2 * SEC + 600 * MS); /* B's key from A's address */
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_relay_live(konce_rendezvous_relay(g.r), 3 * SEC), 0);
	konce_rdvwire_msg rf = {.type = KONCE_RDV_INTRO_REFUSE, .id = id};
	memset(rf.key, 2, 32);
	memset(rf.target, 1, 32);
	feed(&g, &rf, &b, 2 * SEC + 700 * MS);
	assert_true(out(&g, &m, &to, buf));
	assert_true(konce_addr_eq(&to, &a));
	assert_int_equal(m.type, KONCE_RDV_INTRO_FAIL);
	assert_int_equal(m.flags, KONCE_IFAIL_DECLINED);
	assert_int_equal(m.id, 41); /* the txid of A's (latest) request */
	feed(&g, &acc, &b, 2 * SEC + 800 * MS); /* accepting after refusing: nothing */
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_relay_live(konce_rendezvous_relay(g.r), 3 * SEC), 0);
	assert_int_equal(konce_rendezvous_counters(g.r)->intros, 0);
	/* an offer not accepted in time is forgotten */
	feed(&g, &req, &a, 10 * SEC);
	assert_true(out(&g, &m, &to, buf));
	acc.id = m.id;
	feed(&g, &acc, &b, 10 * SEC + KONCE_RDV_OFFER_MS * MS);
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_rendezvous_counters(g.r)->intros, 0);
	rig_free(&g);
}

static void test_refusals(void **state)
{
	(void)state;
	rig g;
	konce_addr a, to;
	rig_peers(&g, NULL, &a, NULL, NULL);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 9}, m;
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	/* the target never registered */
	feed(&g, &req, &a, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_FAIL);
	assert_int_equal(m.flags, KONCE_IFAIL_UNKNOWN);
	assert_int_equal(m.id, 9);
	/* asking for oneself */
	memset(req.target, 1, 32);
	feed(&g, &req, &a, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.flags, KONCE_IFAIL_UNKNOWN);
	/* a requester that did not register, or not from this address, gets no answer at all */
	konce_addr b = addr("198.51.100.2:5000");
	do_register(&g, 2, &b, SEC, 20 * MS);
	feed(&g, &req, &b, 2 * SEC); /* key 1 from B's address */
	memset(req.key, 3, 32);
	feed(&g, &req, &a, 2 * SEC);
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_rendezvous_counters(g.r)->not_registered, 2);
	/* registrations expire */
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	assert_int_equal(konce_rendezvous_count(g.r, SEC + KONCE_RDV_EXPIRE_MS * MS), 2);
	feed(&g, &req, &a, 2 * SEC + KONCE_RDV_EXPIRE_MS * MS);
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_rendezvous_count(g.r, 2 * SEC + KONCE_RDV_EXPIRE_MS * MS), 0);
	rig_free(&g);
}

static bool allow_odd(void *ctx, const uint8_t key[KONCE_WIRE_KEY])
{
	(*(int *)ctx)++;
	return key[0] & 1;
}

static void test_allow(void **state)
{
	(void)state;
	int calls = 0;
	konce_rendezvous_cfg cfg = {.allow = allow_odd, .allow_ctx = &calls};
	rig g;
	konce_addr a, b, to;
	rig_peers(&g, &cfg, &a, &b, NULL);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 4}, m;
	memset(req.key, 2, 32);
	memset(req.target, 1, 32);
	feed(&g, &req, &b, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_FAIL);
	assert_int_equal(m.flags, KONCE_IFAIL_REFUSED);
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	feed(&g, &req, &a, 2 * SEC);
	consent(&g, 2, 1, &b, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO);
	assert_int_equal(calls, 2);
	rig_free(&g);
}

/* B refuses A's introduction: A hears INTRO_FAIL DECLINED with the intro id, the relay pair is
 * closed, and a refusal for a pair never introduced (or from the wrong address) goes nowhere. */
static void test_declined(void **state)
{
	(void)state;
	rig g;
	konce_addr a, b, c, to;
	rig_peers(&g, NULL, &a, &b, &c);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 4}, m;
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	feed(&g, &req, &a, 2 * SEC);
	consent(&g, 2, 1, &b, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	uint64_t id = m.id;
	assert_true(out(&g, &m, &to, buf));
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_relay_live(konce_rendezvous_relay(g.r), 2 * SEC), 1);
	konce_rdvwire_msg rf = {.type = KONCE_RDV_INTRO_REFUSE, .id = id};
	memset(rf.key, 2, 32);
	memset(rf.target, 1, 32);
	feed(&g, &rf, &c, 2 * SEC); /* B's key from C's address */
	memset(rf.key, 3, 32);
	feed(&g, &rf, &c, 2 * SEC); /* C never met A here */
	assert_false(out(&g, &m, &to, buf));
	memset(rf.key, 2, 32);
	feed(&g, &rf, &b, 2 * SEC + 10 * MS);
	assert_true(out(&g, &m, &to, buf));
	assert_true(konce_addr_eq(&to, &a));
	assert_int_equal(m.type, KONCE_RDV_INTRO_FAIL);
	assert_int_equal(m.flags, KONCE_IFAIL_DECLINED);
	assert_int_equal(m.key[0], 2);
	assert_int_equal(m.id, id);
	assert_int_equal(konce_rendezvous_counters(g.r)->intro_declined, 1);
	assert_int_equal(konce_relay_live(konce_rendezvous_relay(g.r), 2 * SEC + 10 * MS), 0);
	/* the pair is gone: a second refusal and A's relayed packets go nowhere */
	feed(&g, &rf, &b, 2 * SEC + 20 * MS);
	konce_rdvwire_msg r = {.type = KONCE_RDV_RELAY, .payload = (const uint8_t *)"x", .len = 1};
	memset(r.key, 1, 32);
	memset(r.target, 2, 32);
	feed(&g, &r, &a, 2 * SEC + 20 * MS);
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(konce_rendezvous_capacity(g.r), 4096);
	rig_free(&g);
}

static void test_table_bounded_under_flood(void **state)
{
	(void)state;
	konce_rendezvous_cfg cfg = {.slots = 64, .rl_rate = 1000000, .rl_burst = 1000000};
	rig g;
	rig_init(&g, &cfg);
	/* honest peers first */
	konce_addr hon = addr("198.51.100.1:4000");
	for (uint8_t k = 1; k <= 4; k++) {
		hon.port = (uint16_t)(4000 + k);
		do_register(&g, k, &hon, SEC, 20 * MS);
	}
	/* 20000 forged keys, from as many sources (one source alone is held to a few: see
	 * test_new_keys_per_source) */
	konce_addr from = addr("203.0.113.1:1");
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg m;
	konce_addr to;
	for (uint32_t i = 0; i < 20000; i++) {
		konce_rdvwire_msg f = reg_msg(0, 0);
		memcpy(f.key, &i, sizeof(i));
		f.key[31] = 0xee;
		from.port = (uint16_t)i;
		from.ip[14] = (uint8_t)(i >> 8);
		from.ip[15] = (uint8_t)i;
		feed(&g, &f, &from, 2 * SEC);
		while (konce_rendezvous_poll(g.r, buf, &(size_t){0}, &to))
			;
	}
	assert_true(konce_rendezvous_count(g.r, 2 * SEC) <= 64);
	assert_true(konce_rendezvous_counters(g.r)->table_full > 10000);
	/* the honest registrations are all still there and still introduce each other */
	uint64_t rtt;
	for (uint8_t k = 1; k <= 4; k++)
		assert_int_equal(konce_rendezvous_lookup(g.r, (uint8_t[32]){[0 ... 31] = k}, 3 * SEC, &to, &rtt), 0);
	hon.port = 4001;
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 4};
	memset(req.key, 1, 32);
	memset(req.target, 3, 32);
	feed(&g, &req, &hon, 3 * SEC);
	hon.port = 4003;
	consent(&g, 3, 1, &hon, 3 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO);
	assert_true(out(&g, &m, &to, buf)); /* and to the target */
	assert_int_equal(m.type, KONCE_RDV_INTRO);
	/* once the forged ones expire, new keys find room again */
	konce_rdvwire_msg late = reg_msg(9, 0);
	feed(&g, &late, &from, 2 * SEC + KONCE_RDV_EXPIRE_MS * MS);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_REGISTERED);
	rig_free(&g);
}

static void test_rate_limit(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL); /* 20 units/s, burst 40 */
	konce_addr a = addr("198.51.100.1:4000");
	for (int i = 0; i < 100; i++) {
		konce_rdvwire_msg m = reg_msg(1, 0);
		feed(&g, &m, &a, SEC);
	}
	assert_int_equal(konce_rendezvous_counters(g.r)->rate_limited, 60);
	/* another source is not affected */
	konce_addr b = addr("198.51.100.2:4000");
	konce_rdvwire_msg m = reg_msg(2, 0);
	feed(&g, &m, &b, SEC);
	assert_int_equal(konce_rendezvous_counters(g.r)->rate_limited, 60);
	rig_free(&g);
}

static void test_relay(void **state)
{
	(void)state;
	konce_rendezvous_cfg cfg = {.relay = {.rate = 1000, .burst = 2000}};
	rig g;
	konce_addr a, b, to;
	rig_peers(&g, &cfg, &a, &b, NULL);
	uint8_t buf[KONCE_RDV_MAX_MSG], payload[600];
	memset(payload, 0x77, sizeof(payload));
	konce_rdvwire_msg r = {.type = KONCE_RDV_RELAY, .payload = payload, .len = sizeof(payload)}, m;
	memset(r.key, 1, 32);
	memset(r.target, 2, 32);
	/* not introduced yet: refused */
	feed(&g, &r, &a, 2 * SEC);
	assert_false(out(&g, &m, &to, buf));
	konce_rdvwire_msg req = {.type = KONCE_RDV_INTRO_REQUEST, .id = 4};
	memset(req.key, 1, 32);
	memset(req.target, 2, 32);
	feed(&g, &req, &a, 2 * SEC);
	consent(&g, 2, 1, &b, 2 * SEC);
	while (konce_rendezvous_poll(g.r, buf, &(size_t){0}, &to))
		;
	feed(&g, &r, &a, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_RELAYED);
	assert_true(konce_addr_eq(&to, &b));
	assert_int_equal(m.key[0], 1);
	assert_int_equal(m.len, sizeof(payload));
	assert_memory_equal(m.payload, payload, sizeof(payload));
	/* from the wrong address: refused */
	feed(&g, &r, &b, 2 * SEC);
	assert_false(out(&g, &m, &to, buf));
	/* the pair's bucket: 2000 bytes, 600 spent; two more fit, the fourth does not */
	feed(&g, &r, &a, 2 * SEC);
	feed(&g, &r, &a, 2 * SEC);
	feed(&g, &r, &a, 2 * SEC);
	int n = 0;
	while (out(&g, &m, &to, buf))
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(konce_relay_counters(konce_rendezvous_relay(g.r))->over_rate, 1);
	/* the reverse direction shares the bucket, which refills at 1000 bytes/s */
	memset(r.key, 2, 32);
	memset(r.target, 1, 32);
	feed(&g, &r, &b, 2 * SEC + 600 * MS);
	assert_true(out(&g, &m, &to, buf));
	assert_true(konce_addr_eq(&to, &a));
	rig_free(&g);
}

static void test_garbage(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	konce_addr a = addr("198.51.100.1:4000"), to;
	uint8_t junk[70] = {KONCE_RDV_REGISTER, 1, 2, 3};
	konce_rendezvous_input(g.r, junk, sizeof(junk), &a, SEC);
	konce_rendezvous_input(g.r, junk, 0, &a, SEC);
	/* messages meant for peers are not for us */
	konce_rdvwire_msg p = {.type = KONCE_RDV_PUNCH};
	feed(&g, &p, &a, SEC);
	assert_int_equal(konce_rendezvous_counters(g.r)->bad, 3);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_false(konce_rendezvous_poll(g.r, buf, &(size_t){0}, &to));
	rig_free(&g);
}

static void test_bad_config(void **state)
{
	(void)state;
	konce_rendezvous *r = (konce_rendezvous *)1;
	konce_rendezvous_cfg cfg = {.slots = (1u << 20) + 1};
	assert_int_equal(konce_rendezvous_new(&r, &cfg), -EINVAL);
	assert_null(r);
	konce_rendezvous_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_rtt),
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_introduction),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_consent),
		cmocka_unit_test(test_new_keys_per_source),
		cmocka_unit_test(test_rtt_not_trusted),
		cmocka_unit_test(test_only_observed_reflexive),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_table_bounded_under_flood),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
