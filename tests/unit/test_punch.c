/* test_punch.c - the path state machine and probe scheduler: start time and pacing, first pair
 * wins, acks and peer-reflexive targets, give-up and upgrade backoff, keepalive loss,
 * authenticated liveness, birthday probing, PUNCH authenticated with the introduction's secret
 * (no forged probe or ack counts, nothing but an INTRO starts an attempt), the budget of claimed
 * targets, relay first, and no allocation after construction.  Moving a direct path (rebinding,
 * confirmation, the hold) is test_punch_moves.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/punch_rig.h"

static void test_schedule_and_pacing(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high);
	r.now = 10 * SEC;
	assert_int_equal(konce_punch_start(r.p, &r.in, r.now), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PUNCHING);
	uint64_t T = 10 * SEC + 50 * MS;
	assert_int_equal(konce_punch_next_timer(r.p), T); /* nothing before the start time */
	konce_punch_timer(r.p, T);
	drain(&r);
	assert_int_equal(r.nout, 1); /* the host candidate first */
	assert_true(konce_addr_eq(&r.out[0].to, &r.cand[0].addr));
	assert_false(r.out[0].ack);
	assert_int_equal(r.out[0].intro_id, 77);
	assert_int_equal(konce_punch_next_timer(r.p), T + KONCE_PUNCH_PACE_MS * MS);
	konce_punch_timer(r.p, T + KONCE_PUNCH_PACE_MS * MS);
	drain(&r);
	assert_int_equal(r.nout, 2);
	assert_true(konce_addr_eq(&r.out[1].to, &r.cand[1].addr));
	assert_int_equal(konce_punch_next_timer(r.p), T + 100 * MS); /* the second round */
	run_to(&r, T + 3999 * MS);
	/* nine rounds to the reflexive address (the rendezvous saw it); the host candidate is the
	 * peer's claim and never answered, so it gets only KONCE_PUNCH_CLAIMED_ALLOW */
	assert_int_equal(r.nout, 9 + KONCE_PUNCH_CLAIMED_ALLOW);
	assert_int_equal(konce_punch_counters(r.p)->claimed_withheld, 9 - KONCE_PUNCH_CLAIMED_ALLOW);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PUNCHING);
	run_to(&r, T + KONCE_PUNCH_GIVEUP_MS * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	konce_punch_free(r.p);
	assert_int_equal(r.ce.live, 0);
	assert_int_equal(r.ce.allocs, 1);
}

static void test_first_pair_wins(void **state)
{
	(void)state;
	rig r;
	rig_start(&r, low, high);
	run_to(&r, 50 * MS + 10 * MS);
	/* an ack with a stale intro id, and one from an address we never probed, count for nothing */
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 76, 1, r.now);
	konce_punch_input(r.p, 0, &(konce_addr){0}, true, 77, 1, r.now);
	konce_punch_input(r.p, 5, &r.cand[1].addr, true, 77, 1, r.now); /* right address, wrong socket */
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PUNCHING);
	assert_int_equal(konce_punch_counters(r.p)->stale, 1);
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, 2, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(r.p, &sock, &path));
	assert_true(konce_addr_eq(&path, &r.cand[1].addr) && sock == 0);
	/* a later ack from the other candidate does not move the path */
	konce_punch_input(r.p, 0, &r.cand[0].addr, true, 77, 1, r.now);
	assert_true(konce_punch_path(r.p, &sock, &path));
	assert_true(konce_addr_eq(&path, &r.cand[1].addr));
	assert_false(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	/* the peer's own probe over the winner (it holds the INTRO): answered, nothing else */
	unsigned before = r.nout;
	konce_punch_input(r.p, 0, &r.cand[1].addr, false, 77, 9, r.now);
	drain(&r);
	assert_int_equal(r.nout - before, 1);
	assert_true(r.out[before].ack);
	/* KONCE_PUNCH_EXTRA more probes to the winner, and then only keepalives */
	before = r.nout;
	run_to(&r, r.now + 5 * SEC);
	assert_int_equal(r.nout - before, KONCE_PUNCH_EXTRA);
	for (unsigned i = before; i < r.nout; i++)
		assert_true(konce_addr_eq(&r.out[i].to, &r.cand[1].addr));
	konce_punch_free(r.p);
}

/* A pair verified before the peer probed it (the peer's INTRO late: our handshake copy verified
 * it, and our PUNCH probes reached the peer before its INTRO, which drops them): the winner keeps
 * being probed every KONCE_PUNCH_LINGER_MS after the extra probes, until the peer's probe comes
 * over it; without the peer's probe, until the attempt's give-up time. */
static void test_linger_until_peer_probes(void **state)
{
	(void)state;
	for (int heard = 0; heard < 2; heard++) {
		rig r;
		rig_verified(&r, low, high);
		assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
		unsigned before = r.nout;
		run_to(&r, 60 * MS + 1 * SEC);
		unsigned n1 = r.nout - before;
		assert_true(n1 > KONCE_PUNCH_EXTRA); /* the extra probes, then lingering ones */
		for (unsigned i = before; i < r.nout; i++)
			assert_true(konce_addr_eq(&r.out[i].to, &r.cand[1].addr) && !r.out[i].ack);
		if (heard) {
			before = r.nout;
			konce_punch_input(r.p, 0, &r.cand[1].addr, false, 77, 5, r.now); /* its INTRO came */
			drain(&r);
			run_to(&r, KONCE_PUNCH_GIVEUP_MS * MS + 1 * SEC);
			assert_int_equal(r.nout - before, 1); /* the ack: no more probes */
			assert_int_equal(konce_punch_counters(r.p)->linger_probes, n1 - KONCE_PUNCH_EXTRA);
		} else {
			run_to(&r, KONCE_PUNCH_GIVEUP_MS * MS + 1 * SEC);
			uint64_t lingered = konce_punch_counters(r.p)->linger_probes;
			assert_true(lingered > n1 - KONCE_PUNCH_EXTRA);
			assert_true(lingered <= KONCE_PUNCH_GIVEUP_MS / KONCE_PUNCH_LINGER_MS);
			/* past the give-up time only the keepalive remains */
			before = r.nout;
			run_to(&r, r.now + 3 * SEC);
			assert_int_equal(r.nout, before);
			assert_int_equal(konce_punch_counters(r.p)->linger_probes, lingered);
		}
		assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
		konce_punch_free(r.p);
	}
}

static void test_probe_in_acks_and_learns(void **state)
{
	(void)state;
	rig r;
	rig_start(&r, low, high);
	konce_addr prflx = addr("198.51.100.7:9999");
	konce_punch_input(r.p, 0, &prflx, false, 77, 41, 10 * MS); /* before our own start time */
	drain(&r);
	assert_int_equal(r.nout, 2);
	assert_true(r.out[0].ack && r.out[0].seq == 41 && r.out[0].intro_id == 77);
	assert_true(konce_addr_eq(&r.out[0].to, &prflx) && konce_addr_eq(&r.out[0].seen, &prflx));
	assert_false(r.out[1].ack); /* triggered probe to the new peer-reflexive address */
	assert_true(konce_addr_eq(&r.out[1].to, &prflx));
	/* the same address again: acked, not added twice */
	konce_punch_input(r.p, 0, &prflx, false, 77, 42, 11 * MS);
	drain(&r);
	assert_int_equal(r.nout, 3);
	assert_true(r.out[2].ack);
	konce_punch_input(r.p, 0, &prflx, true, 77, 1, 12 * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	konce_punch_free(r.p);
}

/* A probe is no reason to start an attempt.  Before, a probe in IDLE started
 * one with the prober's intro id and probed it back, and its ack then verified the prober. */
static void test_no_attempt_without_intro(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high);
	konce_addr from = addr("203.0.113.3:5000");
	konce_punch_input(r.p, 0, &from, false, 1234, 1, 5 * SEC);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_IDLE);
	drain(&r);
	assert_int_equal(r.nout, 0); /* not even an ack: we hold no introduction */
	konce_punch_input(r.p, 0, &from, true, 1234, 1, 5 * SEC + 30 * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_IDLE);
	/* during an attempt, a probe naming another introduction adds no target */
	konce_punch_start(r.p, &r.in, 6 * SEC);
	konce_punch_input(r.p, 0, &from, false, 1234, 1, 6 * SEC + 60 * MS);
	drain(&r);
	for (unsigned i = 0; i < r.nout; i++)
		assert_false(konce_addr_eq(&r.out[i].to, &from));
	assert_false(konce_punch_is_target(r.p, 0, &from));
	assert_int_equal(konce_punch_counters(r.p)->stale, 3);
	konce_punch_free(r.p);
}

/* PUNCH on the wire: only a datagram MAC'd with the INTRO's secret by the peer counts. */
static void test_punch_wire_mac(void **state)
{
	(void)state;
	rig a, b;
	rig_init(&a, low, high);
	rig_init(&b, high, low);
	konce_punch_start(a.p, &a.in, 0);
	konce_punch_start(b.p, &b.in, 0);
	run_to(&b, 50 * MS);
	assert_true(b.nout >= 1);
	konce_punch_out o = b.out[b.nout - 1]; /* B's probe to its reflexive target */
	uint8_t pkt[KONCE_RDV_MAX_MSG], forged[KONCE_RDV_MAX_MSG];
	size_t len = konce_punch_encode(b.p, &o, pkt, sizeof(pkt));
	assert_int_equal(len, KONCE_PUNCH_SIZE);
	konce_addr from = addr("198.51.100.7:4001"), x = addr("203.0.113.66:7000");

	/* an attacker who knows everything but the secret: the same fields, another MAC */
	memcpy(forged, pkt, len);
	forged[KONCE_PUNCH_MAC] ^= 1;
	assert_int_equal(konce_punch_receive(a.p, 0, &x, forged, len, 60 * MS), -EBADMSG);
	/* a reflection of A's own probe (its key, its MAC) is not the peer's either */
	run_to(&a, 50 * MS);
	uint8_t own[KONCE_RDV_MAX_MSG];
	size_t olen = konce_punch_encode(a.p, &a.out[a.nout - 1], own, sizeof(own));
	assert_int_equal(konce_punch_receive(a.p, 0, &x, own, olen, 60 * MS), -EBADMSG);
	/* a forged ack from a real target verifies nothing */
	konce_punch_out ack = {.ack = true, .sock = 0, .to = from, .seq = a.out[a.nout - 1].seq, .intro_id = 77};
	uint8_t fack[KONCE_RDV_MAX_MSG];
	rig m;
	rig_init(&m, high, low);
	uint8_t other[KONCE_INTRO_SECRET_BYTES] = {9};
	m.in.secret = other;
	konce_punch_start(m.p, &m.in, 0);
	size_t alen = konce_punch_encode(m.p, &ack, fack, sizeof(fack));
	assert_int_equal(konce_punch_receive(a.p, 0, &from, fack, alen, 70 * MS), -EBADMSG);
	assert_int_equal(konce_punch_state(a.p), KONCE_PUNCH_PATH_PUNCHING);
	assert_false(konce_punch_is_target(a.p, 0, &x));
	assert_int_equal(konce_punch_counters(a.p)->forged, 3);
	assert_int_equal(konce_punch_counters(a.p)->probes_rx, 0);

	/* the peer's own probe counts, and the ack of it, made by the peer, verifies */
	assert_int_equal(konce_punch_receive(a.p, 0, &from, pkt, len, 80 * MS), 0);
	assert_int_equal(konce_punch_counters(a.p)->probes_rx, 1);
	ack.seq = a.out[a.nout - 1].seq;
	alen = konce_punch_encode(b.p, &ack, fack, sizeof(fack));
	assert_int_equal(konce_punch_receive(a.p, 0, &from, fack, alen, 90 * MS), 0);
	assert_int_equal(konce_punch_state(a.p), KONCE_PUNCH_PATH_DIRECT);
	/* the HELLO tag: the same key, over other bytes */
	uint8_t msg[40] = {1, 2, 3}, mac[KONCE_PUNCH_MAC_BYTES];
	assert_true(konce_punch_tag(b.p, msg, sizeof(msg), mac));
	assert_true(konce_punch_tag_ok(a.p, msg, sizeof(msg), mac));
	assert_false(konce_punch_tag_ok(m.p, msg, sizeof(msg), mac));
	msg[0] ^= 1;
	assert_false(konce_punch_tag_ok(a.p, msg, sizeof(msg), mac));
	/* without an introduction there is no key: nothing is encoded or accepted */
	rig z;
	rig_init(&z, low, high);
	assert_int_equal(konce_punch_encode(z.p, &o, own, sizeof(own)), 0);
	assert_int_equal(konce_punch_receive(z.p, 0, &from, pkt, len, 0), -EBADMSG);
	konce_punch_free(a.p);
	konce_punch_free(b.p);
	konce_punch_free(m.p);
	konce_punch_free(z.p);
}

/* Claimed candidates (host, mapped) that never answer get at most
 * KONCE_PUNCH_CLAIMED_ALLOW probes each and KONCE_PUNCH_CLAIMED_BUDGET in all per attempt; one
 * the peer's probe came from is no longer a claim. */
static void test_claimed_budget(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high);
	konce_cand c[KONCE_RDV_MAX_INTRO_CANDS];
	c[0] = (konce_cand){KONCE_CAND_REFLEXIVE, addr("198.51.100.7:4001")};
	for (unsigned i = 1; i <= 8; i++) {
		char s[32];
		snprintf(s, sizeof(s), "203.0.113.99:%u", 7000 + i); /* a victim's ports */
		c[i] = (konce_cand){i % 2 ? KONCE_CAND_HOST : KONCE_CAND_MAPPED, addr(s)};
	}
	r.in.peer_cands = c;
	r.in.npeer = 9;
	konce_punch_start(r.p, &r.in, 0);
	run_to(&r, 50 * MS + KONCE_PUNCH_GIVEUP_MS * MS);
	unsigned victim = 0, refl = 0;
	for (unsigned i = 0; i < r.nout; i++) {
		if (r.out[i].ack)
			continue;
		victim += memcmp(r.out[i].to.ip, c[1].addr.ip, 16) == 0;
		refl += konce_addr_eq(&r.out[i].to, &c[0].addr);
	}
	assert_int_equal(victim, KONCE_PUNCH_CLAIMED_BUDGET);
	assert_int_equal(refl, 9);
	/* introduced again at once (a new intro id): the bucket is empty, the claims get nothing */
	uint64_t t0 = r.now;
	r.in.intro_id = 78;
	konce_punch_start(r.p, &r.in, t0);
	unsigned before = r.nout;
	run_to(&r, t0 + 50 * MS + KONCE_PUNCH_GIVEUP_MS * MS);
	victim = 0;
	for (unsigned i = before; i < r.nout; i++)
		victim += !r.out[i].ack && memcmp(r.out[i].to.ip, c[1].addr.ip, 16) == 0;
	assert_int_equal(victim, 0);
	/* one token back per KONCE_PUNCH_CLAIMED_REFILL_MS */
	r.in.intro_id = 79;
	konce_punch_start(r.p, &r.in, t0 + 2 * KONCE_PUNCH_CLAIMED_REFILL_MS * MS);
	before = r.nout;
	run_to(&r, t0 + 2 * KONCE_PUNCH_CLAIMED_REFILL_MS * MS + 50 * MS + KONCE_PUNCH_GIVEUP_MS * MS);
	victim = 0;
	for (unsigned i = before; i < r.nout; i++)
		victim += !r.out[i].ack && memcmp(r.out[i].to.ip, c[1].addr.ip, 16) == 0;
	assert_true(victim >= 1 && victim <= 2);
	konce_punch_free(r.p);

	/* a public host's host candidate is where the rendezvous saw it: observed, every round */
	rig_init(&r, low, high);
	r.cand[0].addr = r.cand[1].addr;
	konce_punch_start(r.p, &r.in, 0);
	run_to(&r, 50 * MS + 3999 * MS);
	unsigned same = 0;
	for (unsigned i = 0; i < r.nout; i++)
		if (!r.out[i].ack && konce_addr_eq(&r.out[i].to, &r.cand[1].addr)) {
			same++;
			assert_int_equal(r.out[i].type, KONCE_CAND_REFLEXIVE);
		}
	assert_int_equal(same, 9);
	konce_punch_free(r.p);

	/* heard from: the host candidate is the peer after all, and gets every round */
	rig_start(&r, low, high);
	konce_punch_input(r.p, 0, &r.cand[0].addr, false, 77, 5, 10 * MS);
	run_to(&r, 50 * MS + 3999 * MS);
	unsigned host = 0;
	for (unsigned i = 0; i < r.nout; i++)
		host += !r.out[i].ack && konce_addr_eq(&r.out[i].to, &r.cand[0].addr);
	assert_int_equal(host, 9);
	konce_punch_free(r.p);
}

static void test_giveup_and_upgrade_backoff(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high); /* low key: controlling */
	assert_true(konce_punch_controlling(r.p));
	konce_punch_start(r.p, &r.in, 0);
	uint64_t T = 50 * MS;
	run_to(&r, T + KONCE_PUNCH_GIVEUP_MS * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	uint64_t relayed_at = r.now;
	/* not one probe heard from the peer: its INTRO was probably lost, so one quick retry */
	run_to(&r, relayed_at + KONCE_UPGRADE_AFTER_LOSS_MS * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	/* no intro comes: asked again 30 s later, then 60 s (the backoff doubled) */
	uint64_t t1 = r.now;
	run_to(&r, t1 + KONCE_UPGRADE_FIRST_MS * MS - 1);
	assert_false(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	run_to(&r, t1 + KONCE_UPGRADE_FIRST_MS * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	run_to(&r, r.now + 2 * KONCE_UPGRADE_FIRST_MS * MS - 1);
	assert_false(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	run_to(&r, r.now + 1);
	assert_true(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	/* an attempt that heard the peer but never verified a pair waits the full backoff: 240 s, as
	 * each of the three upgrades so far doubled it */
	r.in.intro_id = 90;
	konce_punch_start(r.p, &r.in, r.now);
	konce_punch_input(r.p, 0, &(konce_addr){{0}, 1, 0}, false, 90, 1, r.now + 60 * MS);
	uint64_t s0 = r.now;
	run_to(&r, s0 + 50 * MS + KONCE_PUNCH_GIVEUP_MS * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	uint64_t gave = r.now;
	run_to(&r, gave + 8 * KONCE_UPGRADE_FIRST_MS * MS - 1);
	assert_false(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	run_to(&r, gave + 8 * KONCE_UPGRADE_FIRST_MS * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	/* the intro comes: PROBING, fails again, next upgrade waits longer, capped */
	r.in.intro_id = 78;
	konce_punch_start(r.p, &r.in, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	for (int i = 0; i < 10; i++) {
		run_to(&r, r.now + KONCE_UPGRADE_MAX_MS * MS);
		konce_punch_event e;
		while (konce_punch_poll_event(r.p, &e))
			;
	}
	uint64_t up = konce_punch_counters(r.p)->upgrades;
	run_to(&r, r.now + KONCE_UPGRADE_MAX_MS * MS);
	assert_int_equal(konce_punch_counters(r.p)->upgrades, up + 1);
	konce_punch_free(r.p);

	/* the non-controlling side never asks */
	rig_start(&r, high, low);
	run_to(&r, 1000 * SEC);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	assert_int_equal(konce_punch_counters(r.p)->upgrades, 0);
	assert_int_equal(konce_punch_next_timer(r.p), UINT64_MAX);
	konce_punch_free(r.p);
}

static void test_keepalive_loss(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, low, high);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	uint64_t direct_at = r.now;
	run_to(&r, direct_at + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	unsigned n = r.nout;
	assert_true(konce_addr_eq(&r.out[n - 1].to, &r.cand[1].addr)); /* keepalive probe */
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, r.out[n - 1].seq, r.now + 30 * MS);
	/* answered: the next is a full period later */
	assert_int_equal(konce_punch_next_timer(r.p), r.now + 30 * MS + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	/* now silence: probes at +0, +0.7, +1.4 s, then the path is declared lost */
	uint64_t t0 = konce_punch_next_timer(r.p);
	run_to(&r, t0 + 2 * KONCE_PUNCH_PATH_PROBE_RETRY_MS * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	run_to(&r, t0 + 3 * KONCE_PUNCH_PATH_PROBE_RETRY_MS * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_true(next_event(&r, KONCE_PUNCH_EV_LOST));
	/* after a loss the controlling side asks for a new intro soon, not after the long backoff */
	run_to(&r, r.now + KONCE_UPGRADE_AFTER_LOSS_MS * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_UPGRADE));
	konce_punch_free(r.p);
}

/* With a session (authenticated mode) the keepalive is a session packet, forged PUNCH acks from
 * the path's address keep nothing alive, and authenticated traffic (heard) does. */
static void test_authenticated_keepalive(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, low, high);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	uint64_t direct_at = r.now;
	konce_punch_set_authenticated(r.p, true);
	run_to(&r, direct_at + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	konce_punch_out *o = &r.out[r.nout - 1];
	assert_true(o->session && !o->ack && o->sock == 0 && konce_addr_eq(&o->to, &r.cand[1].addr));
	/* answered by authenticated traffic: the next keepalive is a full period later */
	konce_punch_heard(r.p, r.now + 30 * MS);
	assert_int_equal(konce_punch_next_timer(r.p), r.now + 30 * MS + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	/* heard while no keepalive is out leaves the period alone (it holds the NAT mapping) */
	konce_punch_heard(r.p, r.now + 40 * MS);
	assert_int_equal(konce_punch_next_timer(r.p), r.now + 30 * MS + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	/* the path dies; an attacker answers every keepalive with a well-formed PUNCH ack from the
	 * path's address, echoing the intro id and the last probe number */
	uint64_t t0 = konce_punch_next_timer(r.p);
	uint64_t forged = 0;
	while (konce_punch_state(r.p) == KONCE_PUNCH_PATH_DIRECT && r.now < t0 + 10 * SEC) {
		unsigned n = r.nout;
		run_to(&r, konce_punch_next_timer(r.p));
		if (r.nout > n) {
			assert_true(r.out[r.nout - 1].session);
			konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, 1, r.now + 1 * MS);
			forged++;
		}
	}
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_true(next_event(&r, KONCE_PUNCH_EV_LOST));
	assert_int_equal(forged, KONCE_PUNCH_PATH_PROBE_FAILS);
	assert_int_equal(konce_punch_counters(r.p)->acks_ignored, forged);
	assert_int_equal(r.now, t0 + KONCE_PUNCH_PATH_PROBE_FAILS * KONCE_PUNCH_PATH_PROBE_RETRY_MS * MS);
	/* heard() means nothing off the direct path */
	konce_punch_heard(r.p, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	konce_punch_free(r.p);
}

/* Without a session the same acks count (PUNCH is all there is), and switching the mode off
 * brings PUNCH keepalives back. */
static void test_unauthenticated_keepalive(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, low, high);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	konce_punch_set_authenticated(r.p, true);
	konce_punch_set_authenticated(r.p, false);
	for (unsigned i = 0; i < 5; i++) {
		run_to(&r, konce_punch_next_timer(r.p));
		konce_punch_out *o = &r.out[r.nout - 1];
		assert_false(o->session);
		assert_int_not_equal(o->seq, 0);
		konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, o->seq, r.now + 1 * MS);
	}
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_int_equal(konce_punch_counters(r.p)->acks_ignored, 0);
	konce_punch_free(r.p);
}

/* A shorter keepalive period (a NAT that forgets sooner) takes over at once. */
static void test_keepalive_period(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, low, high);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	konce_punch_input(r.p, 0, &r.cand[1].addr, false, 77, 2, r.now); /* the peer probes the pair too */
	run_to(&r, r.now + 1 * SEC);
	assert_int_equal(konce_punch_next_timer(r.p), 60 * MS + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	konce_punch_set_keepalive(r.p, 3 * SEC, r.now);
	assert_int_equal(konce_punch_next_timer(r.p), r.now + 3 * SEC);
	run_to(&r, r.now + 3 * SEC);
	unsigned n = r.nout;
	assert_true(konce_addr_eq(&r.out[n - 1].to, &r.cand[1].addr));
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, r.out[n - 1].seq, r.now + 30 * MS);
	assert_int_equal(konce_punch_next_timer(r.p), r.now + 30 * MS + 3 * SEC);
	konce_punch_set_keepalive(r.p, 0, r.now + 30 * MS); /* back to the default: takes effect next time */
	assert_int_equal(konce_punch_next_timer(r.p), r.now + 30 * MS + 3 * SEC);
	konce_punch_free(r.p);
}

/* The controlled side (the higher key) follows a probe from a new address at once: it probes it,
 * and moves the path when the new address answers. */
static void test_birthday(void **state)
{
	(void)state;
	rig r;
	/* we map EIM, the peer allocates at random: spray random ports of its IP from sock 0 */
	rig_init(&r, low, high);
	r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	konce_punch_start(r.p, &r.in, 0);
	run_to(&r, 50 * MS + KONCE_PUNCH_BIRTHDAY_AT_MS * MS - 1);
	assert_int_equal(konce_punch_counters(r.p)->birthday_probes, 0); /* not before T + 1 s */
	run_to(&r, 50 * MS + 1600 * MS - 1);
	assert_int_equal(konce_punch_counters(r.p)->birthday_probes, KONCE_PUNCH_BIRTHDAY);
	unsigned spray = 0;
	for (unsigned i = 0; i < r.nout; i++)
		if (r.out[i].sock == 0 && memcmp(r.out[i].to.ip, r.cand[1].addr.ip, 16) == 0 &&
		    !konce_addr_eq(&r.out[i].to, &r.cand[1].addr))
			spray++;
	assert_int_equal(spray, KONCE_PUNCH_BIRTHDAY);
	/* an ack from one of the sprayed ports verifies it */
	konce_addr hit = r.out[r.nout - 7].to;
	konce_punch_input(r.p, 0, &hit, true, 77, 1, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	konce_punch_free(r.p);

	/* we allocate at random, the peer maps EIM: 256 sockets to its reflexive address */
	rig_init(&r, low, high);
	r.in.self_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	konce_punch_start(r.p, &r.in, 0);
	run_to(&r, 50 * MS + KONCE_PUNCH_GIVEUP_MS * MS);
	assert_int_equal(konce_punch_counters(r.p)->birthday_probes, 5 * KONCE_PUNCH_BIRTHDAY);
	bool seen[KONCE_PUNCH_BIRTHDAY + 1] = {0};
	for (unsigned i = 0; i < r.nout; i++)
		if (r.out[i].sock)
			seen[r.out[i].sock] = konce_addr_eq(&r.out[i].to, &r.cand[1].addr);
	for (unsigned s = 1; s <= KONCE_PUNCH_BIRTHDAY; s++)
		assert_true(seen[s]);
	/* the whole attempt stayed within its documented budget */
	assert_true(konce_punch_counters(r.p)->probes <= 9 * KONCE_CAND_MAX_TARGETS + 5 * KONCE_PUNCH_BIRTHDAY);
	konce_punch_free(r.p);

	/* both sides endpoint-dependent: no birthday, and a random peer gets no prediction either */
	rig_init(&r, low, high);
	r.in.self_nat = (konce_natinfo){KONCE_NATMAP_EDM_SEQ, 1, 0};
	r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	konce_punch_start(r.p, &r.in, 0);
	run_to(&r, 50 * MS + KONCE_PUNCH_GIVEUP_MS * MS);
	assert_int_equal(konce_punch_counters(r.p)->birthday_probes, 0);
	assert_int_equal(konce_punch_counters(r.p)->probes, 9 + KONCE_PUNCH_CLAIMED_ALLOW);
	konce_punch_free(r.p);
}

static void test_bad_start(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high);
	r.in.npeer = 0;
	assert_int_equal(konce_punch_start(r.p, &r.in, 0), -22);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_IDLE);
	assert_int_equal(konce_punch_next_timer(r.p), UINT64_MAX);
	/* a repeated INTRO does not restart the schedule */
	r.in.npeer = 2;
	konce_punch_start(r.p, &r.in, 0);
	run_to(&r, 60 * MS);
	unsigned n = r.nout;
	konce_punch_start(r.p, &r.in, r.now);
	run_to(&r, 99 * MS);
	assert_int_equal(r.nout, n);
	konce_punch_free(r.p);
}

static void test_relay_heard_and_duplicates(void **state)
{
	(void)state;
	rig r;
	/* our INTRO was lost and the peer already relays: leave IDLE, and (controlling) ask soon */
	rig_init(&r, low, high);
	konce_punch_relay_heard(r.p, 5 * SEC);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	assert_int_equal(konce_punch_next_timer(r.p), 5 * SEC + KONCE_UPGRADE_AFTER_LOSS_MS * MS);
	konce_punch_relay_heard(r.p, 6 * SEC); /* only from IDLE */
	assert_false(konce_punch_poll_event(r.p, &(konce_punch_event){0}));
	konce_punch_free(r.p);
	/* the non-controlling side waits for the other to ask */
	rig_init(&r, high, low);
	konce_punch_relay_heard(r.p, 5 * SEC);
	assert_int_equal(konce_punch_next_timer(r.p), UINT64_MAX);
	konce_punch_free(r.p);
	/* a duplicated INTRO arriving after the path is direct changes nothing */
	rig_verified(&r, low, high);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_int_equal(konce_punch_start(r.p, &r.in, r.now), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_int_equal(konce_punch_counters(r.p)->attempts, 1);
	/* a new one (the peer's side broke and it asked again) starts probing */
	r.in.intro_id = 78;
	konce_punch_start(r.p, &r.in, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	konce_punch_free(r.p);
}

/* A first attempt (PUNCHING, traffic held for a direct pair) whose peer talks through the relay:
 * the peer still holds a session with us from before we restarted, so its attempt is an upgrade
 * that keeps the relay, and its answer to our HELLO copy (a COOKIE) comes that way.  We join it:
 * PROBING with event RELAY (held traffic goes through the relay), the schedule runs on, and a
 * verified pair still makes the path direct.  Only from PUNCHING and IDLE: later relayed traffic
 * changes nothing. */
static void test_relay_heard_while_punching(void **state)
{
	(void)state;
	rig r;
	rig_start(&r, high, low);
	run_to(&r, 120 * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PUNCHING);
	uint64_t probes = konce_punch_counters(r.p)->probes;
	assert_true(probes > 0);
	konce_punch_relay_heard(r.p, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	assert_false(konce_punch_poll_event(r.p, &(konce_punch_event){0}));
	assert_int_equal(konce_punch_counters(r.p)->relay_joined, 1);
	/* more relayed traffic: nothing new */
	konce_punch_relay_heard(r.p, r.now + MS);
	assert_false(konce_punch_poll_event(r.p, &(konce_punch_event){0}));
	assert_int_equal(konce_punch_counters(r.p)->relay_joined, 1);
	/* the attempt's rounds go on (T + 300 ms is one) */
	run_to(&r, 50 * MS + 350 * MS);
	assert_true(konce_punch_counters(r.p)->probes > probes);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, 1, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	konce_punch_relay_heard(r.p, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	konce_punch_free(r.p);

	/* nothing verified: the give-up leaves PROBING for RELAYED, as any attempt */
	rig_start(&r, low, high);
	run_to(&r, 100 * MS);
	konce_punch_relay_heard(r.p, r.now);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	run_to(&r, (50 + KONCE_PUNCH_GIVEUP_MS) * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_int_equal(konce_punch_counters(r.p)->giveups, 1);
	konce_punch_free(r.p);
}

/* Direct not expected (docs/TRAVERSAL.md "What happens for each NAT pair"): the first attempt
 * starts in PROBING with a RELAY event (traffic goes through the relay at once), runs its whole
 * schedule, and a pair it verifies upgrades to DIRECT; direct expected stays PUNCHING. */
static void test_relay_first(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high); /* both EIM: the HELLO copies are the probes, traffic held */
	assert_int_equal(konce_punch_start(r.p, &r.in, 0), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PUNCHING);
	konce_punch_event e;
	assert_false(konce_punch_poll_event(r.p, &e));
	assert_int_equal(konce_punch_counters(r.p)->relay_first, 0);
	konce_punch_free(r.p);

	/* impossible (both EDM, one random): relayed from the start, the attempt still runs */
	rig_init(&r, low, high);
	r.in.self_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_SEQ, 1, 4001};
	assert_int_equal(konce_punch_start(r.p, &r.in, 0), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	assert_int_equal(konce_punch_counters(r.p)->relay_first, 1);
	run_to(&r, 50 * MS + 2000 * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	assert_true(konce_punch_counters(r.p)->probes > 0);
	/* a repeated INTRO changes nothing */
	assert_int_equal(konce_punch_start(r.p, &r.in, r.now), 0);
	assert_int_equal(konce_punch_counters(r.p)->relay_first, 1);
	/* an unexpected success: a verified pair upgrades, as from RELAYED */
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, 1, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	konce_punch_free(r.p);

	/* impossible and nothing verified: RELAYED at the give-up, with the usual event */
	rig_init(&r, high, low);
	r.in.self_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	assert_int_equal(konce_punch_start(r.p, &r.in, 0), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	run_to(&r, (50 + KONCE_PUNCH_GIVEUP_MS) * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	assert_int_equal(konce_punch_counters(r.p)->giveups, 1);
	konce_punch_free(r.p);

	/* birthday (we EIM, the peer random): relayed at once, birthday probes from T + 1 s, a hit
	 * goes direct */
	rig_init(&r, low, high);
	r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	assert_int_equal(konce_punch_start(r.p, &r.in, 0), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	run_to(&r, 50 * MS + 1600 * MS - 1);
	assert_int_equal(konce_punch_counters(r.p)->birthday_probes, KONCE_PUNCH_BIRTHDAY);
	konce_addr hit = r.out[r.nout - 7].to;
	konce_punch_input(r.p, 0, &hit, true, 77, 1, r.now);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	konce_punch_free(r.p);

	/* a port-mapped candidate on either side makes direct expected: held, punching */
	for (int side = 0; side < 2; side++) {
		konce_cand m = {KONCE_CAND_MAPPED, addr("198.51.100.9:4444")};
		rig_init(&r, low, high);
		r.in.self_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
		r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
		if (side) {
			r.cand[2] = m;
			r.in.npeer = 3;
		} else {
			r.in.self_cands = &m;
			r.in.nself = 1;
		}
		assert_int_equal(konce_punch_start(r.p, &r.in, 0), 0);
		assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PUNCHING);
		konce_punch_free(r.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_and_pacing),
		cmocka_unit_test(test_first_pair_wins),
		cmocka_unit_test(test_linger_until_peer_probes),
		cmocka_unit_test(test_probe_in_acks_and_learns),
		cmocka_unit_test(test_no_attempt_without_intro),
		cmocka_unit_test(test_punch_wire_mac),
		cmocka_unit_test(test_claimed_budget),
		cmocka_unit_test(test_giveup_and_upgrade_backoff),
		cmocka_unit_test(test_keepalive_loss),
		cmocka_unit_test(test_keepalive_period),
		cmocka_unit_test(test_authenticated_keepalive),
		cmocka_unit_test(test_unauthenticated_keepalive),
		cmocka_unit_test(test_birthday),
		cmocka_unit_test(test_bad_start),
		cmocka_unit_test(test_relay_heard_and_duplicates),
		cmocka_unit_test(test_relay_heard_while_punching),
		cmocka_unit_test(test_relay_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
