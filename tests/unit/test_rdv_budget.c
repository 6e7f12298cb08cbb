/* test_rdv_budget.c - who pays at the rendezvous: a requester pays for the answer its
 * INTRO_REQUEST provokes, so strangers asking for B cannot spend B's per-source budget; answers
 * that match no pending offer do nothing and cost nothing; pending offers are capped per
 * requester key and per requester source, never per target (nat/rendezvous.h, "Abuse"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/rendezvous.h"
#include "tests/unit/rdv_rig.h"

/* A stranger cannot spend its target's budget.  Four attacker keys, each from its own address
 * (as on netsim), ask for B 100 times a second for 3 s, and B answers every INTRO_OFFER from its own
 * address, accepting or refusing.  The requesters pay for those answers: B's answers are never
 * rate-limited, and B's REGISTER refresh and its own request for C are served afterwards, while
 * the attackers' sources are the ones limited. */
static void test_answers_charged_to_requester(void **state)
{
	(void)state;
	rig g;
	konce_addr b, c, x[4], to;
	rig_peers(&g, NULL, NULL, &b, &c); /* 20 units/s, burst 40 */
	for (unsigned i = 0; i < 4; i++) {
		x[i] = addr("203.0.113.66:4000");
		x[i].ip[15] = (uint8_t)(66 + i);
		do_register(&g, (uint8_t)(11 + i), &x[i], SEC, 20 * MS);
	}
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg m;
	unsigned x_limited = 0, b_limited = 0, answers = 0;
	uint64_t now = 2 * SEC;
	for (unsigned t = 0; t < 300; t++, now += 10 * MS) {
		for (unsigned i = 0; i < 4; i++) {
			konce_rdvwire_msg req = req_msg((uint8_t)(11 + i), 2, t);
			x_limited += limited(&g, &req, &x[i], now);
		}
		while (out(&g, &m, &to, buf)) {
			if (m.type != KONCE_RDV_INTRO_OFFER)
				continue;
			assert_true(konce_addr_eq(&to, &b));
			konce_rdvwire_msg ans = {.type = (answers++ & 1) ? KONCE_RDV_INTRO_REFUSE : KONCE_RDV_INTRO_ACCEPT,
						 .id = m.id};
			memset(ans.key, 2, 32);
			memcpy(ans.target, m.key, 32);
			b_limited += limited(&g, &ans, &b, now);
		}
	}
	while (out(&g, &m, &to, buf))
		;
	assert_true(answers >= 4);
	/* B's refresh is served */
	konce_rdvwire_msg rm = reg_msg(2, 0);
	assert_false(limited(&g, &rm, &b, now));
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_REGISTERED);
	/* and so is B's own request for C */
	konce_rdvwire_msg req = req_msg(2, 3, 77);
	assert_false(limited(&g, &req, &b, now));
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	assert_true(konce_addr_eq(&to, &c));
	assert_int_equal(b_limited, 0);
	/* the attackers' sources are the ones limited, and still are */
	assert_true(x_limited > 4 * 200);
	assert_int_equal(konce_rendezvous_counters(g.r)->rate_limited_requests, x_limited);
	for (unsigned i = 0; i < 4; i++) {
		req = req_msg((uint8_t)(11 + i), 2, 999);
		assert_true(limited(&g, &req, &x[i], now));
	}
	assert_false(out(&g, &m, &to, buf));
	rig_free(&g);
}

/* An INTRO_ACCEPT or INTRO_REFUSE that answers no offer the rendezvous holds does nothing and costs
 * nothing: 600 of them from C (naming A or B, with made-up ids, with B's key from C's address, with
 * the pending offer's id but from C) send nothing, open no pair, leave C's whole budget (its 40
 * REGISTERs at once are all served) and leave A's pending offer to B as it was: B's real accept
 * still introduces them, once. */
static void test_unsolicited_answers(void **state)
{
	(void)state;
	rig g;
	konce_addr a, b, c, to;
	rig_peers(&g, NULL, &a, &b, &c);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg m, req = req_msg(1, 2, 5);
	feed(&g, &req, &a, 2 * SEC);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	uint64_t id = m.id, now = 3 * SEC;
	for (unsigned i = 0; i < 600; i++) {
		konce_rdvwire_msg ans = {.type = (i & 1) ? KONCE_RDV_INTRO_REFUSE : KONCE_RDV_INTRO_ACCEPT,
					 .id = i % 3 ? id : 1000 + i};
		memset(ans.key, i % 4 ? 3 : 2, 32); /* C's key, or B's */
		memset(ans.target, i % 5 ? 1 : 2, 32);
		feed(&g, &ans, &c, now);
	}
	const struct konce_rendezvous_counters *k = konce_rendezvous_counters(g.r);
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(k->answers_unmatched, 600);
	assert_int_equal(k->rate_limited, 0);
	assert_int_equal(k->intros, 0);
	assert_int_equal(k->intro_declined, 0);
	assert_int_equal(konce_relay_live(konce_rendezvous_relay(g.r), now), 0);
	for (unsigned i = 0; i < 40; i++) {
		konce_rdvwire_msg rm = reg_msg(3, 0);
		feed(&g, &rm, &c, now);
		assert_true(out(&g, &m, &to, buf));
		assert_int_equal(m.type, KONCE_RDV_REGISTERED);
	}
	assert_int_equal(k->rate_limited, 0);
	konce_rdvwire_msg acc = {.type = KONCE_RDV_INTRO_ACCEPT, .id = id};
	memset(acc.key, 2, 32);
	memset(acc.target, 1, 32);
	feed(&g, &acc, &b, now);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO);
	assert_true(konce_addr_eq(&to, &a));
	assert_true(out(&g, &m, &to, buf));
	assert_true(konce_addr_eq(&to, &b));
	feed(&g, &acc, &b, now); /* a replay: the offer is used */
	assert_false(out(&g, &m, &to, buf));
	assert_int_equal(k->intros, 1);
	assert_int_equal(k->answers_unmatched, 601);
	rig_free(&g);
}

/* Pending offers are bounded per requester key and per requester source, never per target.  One
 * key asking for 12 unanswered targets gets KONCE_RDV_OFFERS_PER_KEY offers in a
 * KONCE_RDV_OFFER_MS window, the rest INTRO_FAIL FULL, one more once one is answered, and more in
 * the next window; four keys
 * from one address get KONCE_RDV_OFFER_SRC_BURST between them however generous cfg's
 * per-source budget is; B, which they all ask for, is still offered to a requester from elsewhere. */
static void test_offer_caps(void **state)
{
	(void)state;
	konce_rendezvous_cfg cfg = {.rl_rate = 1000000, .rl_burst = 1000000};
	rig g;
	rig_init(&g, &cfg);
	konce_addr x = addr("203.0.113.66:4000"), d = addr("198.51.100.4:4000"), t, to;
	for (uint8_t k = 20; k < 40; k++) {
		t = addr("198.51.100.100:5000");
		t.ip[15] = k;
		do_register(&g, k, &t, SEC + k * 30 * MS, 20 * MS);
	}
	for (uint8_t k = 11; k <= 14; k++) {
		x.port = (uint16_t)(4000 + k);
		do_register(&g, k, &x, SEC + k * 30 * MS, 20 * MS);
	}
	do_register(&g, 4, &d, SEC + 40 * 30 * MS, 20 * MS);
	const struct konce_rendezvous_counters *c = konce_rendezvous_counters(g.r);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg m;
	/* one key, 12 targets */
	x.port = 4011;
	uint64_t now = 3 * SEC;
	unsigned offered = 0, full = 0;
	for (uint8_t k = 20; k < 32; k++) {
		konce_rdvwire_msg req = req_msg(11, k, k);
		feed(&g, &req, &x, now);
		assert_true(out(&g, &m, &to, buf));
		offered += m.type == KONCE_RDV_INTRO_OFFER;
		full += m.type == KONCE_RDV_INTRO_FAIL && m.flags == KONCE_IFAIL_FULL;
	}
	assert_int_equal(offered, KONCE_RDV_OFFERS_PER_KEY);
	assert_int_equal(full, 12 - KONCE_RDV_OFFERS_PER_KEY);
	assert_int_equal(c->offers_key_full, 12 - KONCE_RDV_OFFERS_PER_KEY);
	/* a retry of a pending offer is no new offer */
	konce_rdvwire_msg req = req_msg(11, 20, 99);
	feed(&g, &req, &x, now);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	assert_int_equal(c->offers_dup, 1);
	/* an answered offer frees its place in the window: target 20 refuses, one more is offered */
	konce_rdvwire_msg rf = {.type = KONCE_RDV_INTRO_REFUSE, .id = m.id};
	memset(rf.key, 20, 32);
	memset(rf.target, 11, 32);
	t = addr("198.51.100.20:5000");
	feed(&g, &rf, &t, now);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_FAIL);
	assert_int_equal(m.flags, KONCE_IFAIL_DECLINED);
	req = req_msg(11, 31, 98);
	feed(&g, &req, &x, now);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	req = req_msg(11, 30, 97);
	feed(&g, &req, &x, now);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_FAIL);
	/* the next window: room again */
	req = req_msg(11, 32, 100);
	feed(&g, &req, &x, now + KONCE_RDV_OFFER_MS * MS);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	/* four keys at one address, 8 targets each, at once: the source's bucket holds 16 offers
	 * (8 + 1 of key 11 above: refilled by now); the rest are refused per source */
	now = 20 * SEC;
	offered = full = 0;
	for (uint8_t k = 11; k <= 14; k++) {
		x.port = (uint16_t)(4000 + k);
		for (uint8_t j = 0; j < 8; j++) {
			req = req_msg(k, (uint8_t)(20 + j + (k - 11) * 4), j);
			feed(&g, &req, &x, now);
			assert_true(out(&g, &m, &to, buf));
			offered += m.type == KONCE_RDV_INTRO_OFFER;
			full += m.type == KONCE_RDV_INTRO_FAIL && m.flags == KONCE_IFAIL_FULL;
		}
	}
	assert_int_equal(offered, KONCE_RDV_OFFER_SRC_BURST);
	assert_int_equal(full, 32 - KONCE_RDV_OFFER_SRC_BURST);
	assert_int_equal(c->offers_source_full, 32 - KONCE_RDV_OFFER_SRC_BURST);
	/* target 20 has offers pending from keys 11 and 12; D, elsewhere, is still offered to it */
	req = req_msg(4, 20, 7);
	feed(&g, &req, &d, now);
	assert_true(out(&g, &m, &to, buf));
	assert_int_equal(m.type, KONCE_RDV_INTRO_OFFER);
	assert_int_equal(m.key[0], 4);
	assert_int_equal(c->rate_limited, 0);
	rig_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_charged_to_requester),
		cmocka_unit_test(test_unsolicited_answers),
		cmocka_unit_test(test_offer_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
