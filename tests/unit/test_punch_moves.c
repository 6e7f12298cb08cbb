/* test_punch_moves.c - moving a direct path: rebinding (the controlled side follows the peer's
 * new address at once, the controlling side only once its own path stops answering), and with a
 * session the confirmation of every move by authenticated traffic, undone when none comes, and
 * the hold after moves that were undone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/punch_rig.h"

static void test_rebinding(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, high, low);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	drain(&r);
	unsigned n = r.nout;
	konce_addr moved = addr("198.51.100.7:4555");
	konce_punch_input(r.p, 0, &moved, false, 77, 9, r.now);
	drain(&r);
	assert_int_equal(r.nout, n + 2); /* ack, and a probe to validate the new address */
	assert_true(!r.out[n + 1].ack && konce_addr_eq(&r.out[n + 1].to, &moved));
	unsigned sock;
	konce_addr path;
	konce_punch_path(r.p, &sock, &path);
	assert_true(konce_addr_eq(&path, &r.cand[1].addr)); /* not used before it answers */
	konce_punch_input(r.p, 0, &moved, true, 77, r.out[n + 1].seq, r.now + 20 * MS);
	konce_punch_path(r.p, &sock, &path);
	assert_true(konce_addr_eq(&path, &moved));
	assert_int_equal(konce_punch_counters(r.p)->rebinds, 1);
	/* a rebind sends no extra probes: the peer probed us from there, and extra probes from both
	 * sides of a rebind would start the next one */
	drain(&r);
	n = r.nout;
	run_to(&r, r.now + 500 * MS);
	assert_int_equal(r.nout, n);
	konce_punch_free(r.p);
}

/* The controlling side (the lower key) keeps its path while it answers: the peer may just hold
 * another valid pair of the same attempt (two sequential NATs have 16), and if both sides
 * followed each other's probes they would swap pairs for ever.  Only when a keepalive goes
 * unanswered does it probe the new address, and move there when it answers. */
static void test_rebinding_controlling(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, low, high);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	run_to(&r, r.now + 500 * MS); /* the extra probes */
	unsigned n = r.nout;
	konce_addr moved = addr("198.51.100.7:4555");
	konce_punch_input(r.p, 0, &moved, false, 77, 9, r.now);
	drain(&r);
	assert_int_equal(r.nout, n + 1); /* only the ack */
	assert_true(r.out[n].ack);
	/* the keepalive goes to the path alone, and is answered: nothing moves */
	run_to(&r, r.now + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	assert_int_equal(r.nout, n + 2);
	assert_true(konce_addr_eq(&r.out[n + 1].to, &r.cand[1].addr));
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 77, r.out[n + 1].seq, r.now + 20 * MS);
	/* the next one is not answered: its retry probes the path and the new address */
	run_to(&r, r.now + (KONCE_PUNCH_PATH_KEEPALIVE_MS + KONCE_PUNCH_PATH_PROBE_RETRY_MS + 100) * MS);
	assert_int_equal(r.nout, n + 5);
	assert_true(konce_addr_eq(&r.out[n + 2].to, &r.cand[1].addr));
	assert_true(konce_addr_eq(&r.out[n + 3].to, &r.cand[1].addr));
	assert_true(!r.out[n + 4].ack && konce_addr_eq(&r.out[n + 4].to, &moved));
	konce_punch_input(r.p, 0, &moved, true, 77, r.out[n + 4].seq, r.now + 20 * MS);
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &moved));
	assert_int_equal(konce_punch_counters(r.p)->rebinds, 1);
	konce_punch_free(r.p);
}

/* The controlled side (the higher key) on a verified direct path with a session over it, past the
 * extra probes. */
static void authenticated_direct(rig *r)
{
	rig_verified(r, high, low);
	assert_true(next_event(r, KONCE_PUNCH_EV_DIRECT));
	konce_punch_set_authenticated(r->p, true);
	run_to(r, r->now + 500 * MS);
}

/* With a session, a rebind verified by a PUNCH ack (which anyone who saw the probe can forge) is
 * confirmed by a session PING over the new pair at once; unanswered by authenticated traffic
 * within KONCE_PUNCH_CONFIRM_MS, the path goes back to the pair it left, which must then answer
 * its own session keepalive. */
static void test_auth_rebind_forged(void **state)
{
	(void)state;
	rig r;
	authenticated_direct(&r);
	unsigned n = r.nout;
	konce_addr moved = addr("198.51.100.66:4555");
	konce_punch_input(r.p, 0, &moved, false, 77, 9, r.now);
	drain(&r);
	konce_punch_input(r.p, 0, &moved, true, 77, r.out[r.nout - 1].seq, r.now + 5 * MS);
	drain(&r);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	assert_int_equal(session_outs(&r, n, &moved), 1); /* the confirming PING, at once */
	uint64_t moved_at = r.now + 5 * MS;
	/* forged acks keep coming; no authenticated traffic does */
	while (r.now < moved_at + KONCE_PUNCH_CONFIRM_MS * MS - 1) {
		run_to(&r, konce_punch_next_timer(r.p) < moved_at + KONCE_PUNCH_CONFIRM_MS * MS - 1
				   ? konce_punch_next_timer(r.p)
				   : moved_at + KONCE_PUNCH_CONFIRM_MS * MS - 1);
		konce_punch_input(r.p, 0, &moved, true, 77, 1, r.now);
	}
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &moved));
	assert_int_equal(session_outs(&r, n, &moved), 4); /* at 0, 300, 600, 900 ms */
	run_to(&r, moved_at + KONCE_PUNCH_CONFIRM_MS * MS);
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &r.cand[1].addr));
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 1);
	assert_int_equal(konce_punch_counters(r.p)->confirmed, 0);
	/* the old pair gets a session keepalive at once, and stays if it answers */
	assert_int_equal(session_outs(&r, n, &r.cand[1].addr), 1);
	konce_punch_heard(r.p, r.now + 20 * MS);
	run_to(&r, r.now + 5 * SEC);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &r.cand[1].addr));
	konce_punch_free(r.p);
}

/* Moves that are never confirmed hold the next ones back: 1 s, then 2 s, ... */
static void test_auth_move_hold(void **state)
{
	(void)state;
	rig r;
	authenticated_direct(&r);
	konce_addr moved = addr("198.51.100.66:4555");
	unsigned sock;
	konce_addr path;
	for (int round = 0; round < 3; round++) {
		konce_punch_input(r.p, 0, &moved, false, 77, 9, r.now);
		drain(&r);
		konce_punch_input(r.p, 0, &moved, true, 77, 1, r.now + 5 * MS);
		if (round == 0) {
			assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &moved));
			run_to(&r, r.now + 5 * MS + KONCE_PUNCH_CONFIRM_MS * MS); /* undone */
			konce_punch_heard(r.p, r.now);
		} else {
			/* within the hold (1 s after the first undo): the move is not made */
			assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &r.cand[1].addr));
			run_to(&r, r.now + 300 * MS);
		}
	}
	assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 1);
	assert_int_equal(konce_punch_counters(r.p)->moves_held, 2);
	/* after the hold, a move may be tried again */
	run_to(&r, r.now + 2 * SEC);
	konce_punch_heard(r.p, r.now);
	konce_punch_input(r.p, 0, &moved, false, 77, 9, r.now);
	drain(&r);
	konce_punch_input(r.p, 0, &moved, true, 77, 1, r.now + 5 * MS);
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &moved));
	konce_punch_free(r.p);
}

/* Authenticated traffic over the new pair confirms the move: it stays, on the normal period. */
static void test_auth_rebind_confirmed(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, high, low);
	konce_punch_set_authenticated(r.p, true);
	run_to(&r, r.now + 500 * MS);
	konce_addr moved = addr("198.51.100.7:4555");
	konce_punch_input(r.p, 0, &moved, false, 77, 9, r.now);
	drain(&r);
	konce_punch_input(r.p, 0, &moved, true, 77, r.out[r.nout - 1].seq, r.now);
	drain(&r);
	uint64_t moved_at = r.now;
	konce_punch_heard(r.p, r.now + 40 * MS);
	assert_int_equal(konce_punch_counters(r.p)->confirmed, 1);
	assert_int_equal(konce_punch_next_timer(r.p), moved_at + KONCE_PUNCH_PATH_KEEPALIVE_MS * MS);
	unsigned n = r.nout;
	run_to(&r, r.now + 2 * KONCE_PUNCH_CONFIRM_MS * MS);
	assert_int_equal(r.nout, n); /* no more confirming PINGs */
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &moved));
	assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 0);
	konce_punch_free(r.p);
}

/* An upgrade from the relay with a session: the verified pair carries traffic only until
 * KONCE_PUNCH_CONFIRM_MS passes without authenticated traffic over it; then back to the relay
 * (LOST: the caller resets the session's path state and re-registers).  A heard() confirms it. */
static void test_auth_upgrade_confirm(void **state)
{
	(void)state;
	for (int confirm = 0; confirm < 2; confirm++) {
		rig r;
		rig_start(&r, low, high);
		run_to(&r, (50 + KONCE_PUNCH_GIVEUP_MS) * MS);
		assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
		assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
		konce_punch_set_authenticated(r.p, true);
		r.in.intro_id = 78;
		assert_int_equal(konce_punch_start(r.p, &r.in, r.now), 0);
		assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING);
		run_to(&r, r.now + 60 * MS);
		unsigned n = r.nout;
		konce_punch_input(r.p, 0, &r.cand[1].addr, true, 78, 1, r.now);
		drain(&r);
		assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
		assert_int_equal(session_outs(&r, n, &r.cand[1].addr), 1);
		uint64_t at = r.now;
		if (confirm)
			konce_punch_heard(r.p, at + 30 * MS);
		run_to(&r, at + KONCE_PUNCH_CONFIRM_MS * MS);
		if (confirm) {
			assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
			assert_int_equal(konce_punch_counters(r.p)->confirmed, 1);
			assert_int_equal(session_outs(&r, n, &r.cand[1].addr), 1);
		} else {
			assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
			assert_true(next_event(&r, KONCE_PUNCH_EV_LOST));
			assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 1);
			/* a forged ack from the old pair cannot bring it back */
			konce_punch_input(r.p, 0, &r.cand[1].addr, true, 78, 1, r.now);
			assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
		}
		konce_punch_free(r.p);
	}
}

/* A move away from a pair that was itself never confirmed has nothing to go back to: the relay. */
static void test_auth_move_from_unconfirmed(void **state)
{
	(void)state;
	rig r;
	rig_start(&r, high, low);
	run_to(&r, (50 + KONCE_PUNCH_GIVEUP_MS) * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	konce_punch_set_authenticated(r.p, true);
	r.in.intro_id = 78;
	konce_punch_start(r.p, &r.in, r.now);
	run_to(&r, r.now + 60 * MS);
	konce_punch_input(r.p, 0, &r.cand[1].addr, true, 78, 1, r.now);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	konce_addr moved = addr("198.51.100.66:4555");
	konce_punch_input(r.p, 0, &moved, false, 78, 9, r.now + 10 * MS);
	drain(&r);
	konce_punch_input(r.p, 0, &moved, true, 78, r.out[r.nout - 1].seq, r.now + 20 * MS);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &moved));
	run_to(&r, r.now + 20 * MS + KONCE_PUNCH_CONFIRM_MS * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_RELAYED);
	assert_true(next_event(&r, KONCE_PUNCH_EV_LOST));
	assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 1);
	konce_punch_free(r.p);
}

/* Without a session a move is final at once (the first attempt, handshake-as-probe). */
static void test_unauth_move_final(void **state)
{
	(void)state;
	rig r;
	rig_verified(&r, low, high);
	drain(&r);
	assert_int_equal(session_outs(&r, 0, &r.cand[1].addr), 0);
	run_to(&r, r.now + 3 * KONCE_PUNCH_CONFIRM_MS * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 0);
	konce_punch_free(r.p);
}

/* A birthday attempt with a session (we spray, the peer's 256 sockets probe us): a second
 * socket's mapping may also match a sprayed port, so after the first pair verified, a probe comes
 * from that port and then the ack to our earlier spray probe there.  That is another valid pair of
 * the same attempt, not a rebind: the controlling side stays on its pair (the peer's session
 * traffic confirms it) instead of moving to one the peer does not use, whose confirmation can
 * never come (the sim matrix's seed 32 ended half-direct so: we went back to the relay while the
 * peer stayed direct). */
static void test_birthday_second_pair_not_rebind(void **state)
{
	(void)state;
	rig r;
	rig_init(&r, low, high);
	r.in.peer_nat = (konce_natinfo){KONCE_NATMAP_EDM_RANDOM, 0, 0};
	assert_int_equal(konce_punch_start(r.p, &r.in, 0), 0);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_PROBING); /* a gamble: relay first */
	assert_true(next_event(&r, KONCE_PUNCH_EV_RELAY));
	konce_punch_set_authenticated(r.p, true); /* the session runs over the relay */
	run_to(&r, 50 * MS + 1600 * MS - 1);
	assert_int_equal(konce_punch_counters(r.p)->birthday_probes, KONCE_PUNCH_BIRTHDAY);
	const konce_punch_out *px = &r.out[r.nout - 9], *py = &r.out[r.nout - 3];
	assert_true(px->birthday && py->birthday && !konce_addr_eq(&px->to, &py->to));
	konce_addr x = px->to, y = py->to;
	uint16_t yseq = py->seq;
	konce_punch_input(r.p, 0, &x, true, 77, px->seq, r.now);
	assert_true(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	drain(&r);
	unsigned n = r.nout;
	/* the peer's other socket: its probe, then the ack to our spray probe to it */
	konce_punch_input(r.p, 0, &y, false, 77, 40, r.now + 10 * MS);
	drain(&r);
	assert_int_equal(r.nout, n + 1); /* the ack only: the controlling side does not probe y */
	assert_true(r.out[n].ack);
	konce_punch_input(r.p, 0, &y, true, 77, yseq, r.now + 12 * MS);
	assert_false(next_event(&r, KONCE_PUNCH_EV_DIRECT));
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &x));
	assert_int_equal(konce_punch_counters(r.p)->rebinds, 0);
	/* the peer's session traffic over x confirms it, and it stays */
	konce_punch_heard(r.p, r.now + 40 * MS);
	run_to(&r, r.now + 3 * KONCE_PUNCH_CONFIRM_MS * MS);
	assert_int_equal(konce_punch_state(r.p), KONCE_PUNCH_PATH_DIRECT);
	assert_true(konce_punch_path(r.p, &sock, &path) && konce_addr_eq(&path, &x));
	assert_int_equal(konce_punch_counters(r.p)->confirmed, 1);
	assert_int_equal(konce_punch_counters(r.p)->unconfirmed, 0);
	konce_punch_free(r.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rebinding),
		cmocka_unit_test(test_rebinding_controlling),
		cmocka_unit_test(test_auth_rebind_forged),
		cmocka_unit_test(test_auth_move_hold),
		cmocka_unit_test(test_auth_rebind_confirmed),
		cmocka_unit_test(test_auth_upgrade_confirm),
		cmocka_unit_test(test_auth_move_from_unconfirmed),
		cmocka_unit_test(test_unauth_move_final),
		cmocka_unit_test(test_birthday_second_pair_not_rebind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
