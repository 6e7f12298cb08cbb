/* test_consensus_withdraw.c - a joiner that gives up withdraws (consensus/cjoin.c), driven by hand
 * (tests/unit/cgroup_fixture.h): the joiner's side (JOIN_WITHDRAW, REFUSED(WITHDRAWN), taking the
 * seat of a view that admitted it meanwhile, giving up unanswered; a refused joiner answers a view
 * that names it anyway like one that gave up) and the members' side (the
 * coordinator ends the vote and answers, except while a view adding the joiner is under way; a
 * joiner that withdrew for good is removed from a view that names it at once). */
#include "tests/unit/cgroup_fixture.h"

static uint8_t Y[32], SECRET[32], H[32];

static konce_group *joiner(store *s)
{
	static uint8_t tok[2][32];
	memcpy(tok[0], A, 32);
	memcpy(tok[1], B, 32);
	konce_group *g = member(s, Y, 0, NULL, 0);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])tok, 2, SECRET, 0), 0);
	return g;
}

/* Withdraws sent now to A and B, all with this final byte; the count. */
static unsigned withdraws(konce_group *g, uint8_t final)
{
	uint8_t to[32];
	konce_cw_msg m;
	unsigned n = 0;
	while (next_out(g, to, &m)) {
		assert_int_equal(m.type, KONCE_CW_JOIN_WITHDRAW);
		assert_int_equal(m.flag, final);
		assert_memory_equal(m.secret, SECRET, 32);
		assert_true(!memcmp(to, A, 32) || !memcmp(to, B, 32));
		n++;
	}
	return n;
}

/* The next message out: a JOIN_WITHDRAW to `key`. */
static void expect_withdraw(konce_group *g, const uint8_t *key, konce_cw_msg *m)
{
	uint8_t to[32];
	assert_true(next_out(g, to, m));
	assert_int_equal(m->type, KONCE_CW_JOIN_WITHDRAW);
	assert_memory_equal(to, key, 32);
}

/* The NEWVIEW of epoch 2 that the joiner's members send: {A, B}, or {A, B, Y} admitting Y by its
 * invitation. */
static konce_cw_msg view2(bool with_y)
{
	static uint8_t keys[2][3][32];
	uint8_t (*k)[32] = keys[with_y];
	memcpy(k[0], A, 32);
	memcpy(k[1], B, 32);
	memcpy(k[2], Y, 32);
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 2, 0);
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 2, .n = with_y ? 3 : 2, .keys = &k[0][0], .used_invite = with_y ? H : ZERO,
				.commit = 0, .first_seq = 1};
	return nv;
}

/* The joiner: a deadline set by the host; at it, JOIN_WITHDRAW(PENDING) instead of JOIN; the
 * coordinator's REFUSED(WITHDRAWN) makes it OUT (TIMEDOUT) -- but not before it withdraws. */
static void test_joiner_withdraws(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = joiner(&s);
	konce_cw_msg m;
	assert_int_equal(konce_group_join_deadline(g, 2000 * MSEC), 0);
	(void)find_out(g, 0, NULL, &m);
	uint64_t ep, left;
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(left, 2000);
	konce_cw_msg r = hdr(KONCE_CW_REFUSED, 1, 0);
	r.flag = KONCE_CW_R_WITHDRAWN;
	assert_int_equal(input(g, B, &r, 100 * MSEC), -EINVAL); /* an earlier attempt's answer */
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	run_silent(g, 120 * MSEC, 1990 * MSEC);
	konce_group_timer(g, 2000 * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	assert_int_equal(withdraws(g, KONCE_CW_WD_PENDING), 2);
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(left, 0);
	assert_int_equal(konce_group_join_deadline(g, 9000 * MSEC), -EINVAL); /* too late to extend */
	konce_group_timer(g, 2500 * MSEC); /* resent every JOIN_RETRY */
	assert_int_equal(withdraws(g, KONCE_CW_WD_PENDING), 2);
	assert_int_equal(input(g, C, &r, 2600 * MSEC), -EPERM); /* not a member it asks */
	assert_int_equal(input(g, B, &r, 2600 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	assert_int_equal(konce_group_out_reason(g), KONCE_GROUP_OUT_TIMEDOUT);
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OUT);
	assert_int_equal(ev.out_reason, KONCE_GROUP_OUT_TIMEDOUT);
	assert_int_equal(konce_group_next_timer(g), UINT64_MAX);
	konce_group_free(g);
}

/* The race: the coordinator admitted the joiner just as its time ran out.  The view naming it
 * reaches it while it withdraws: it takes the seat (NORMAL, a VIEW event, no OUT). */
static void test_joiner_takes_seat(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = joiner(&s);
	konce_cw_msg m;
	assert_int_equal(konce_group_join_deadline(g, 1000 * MSEC), 0);
	run_silent(g, 20 * MSEC, 1000 * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	konce_cw_msg nv = view2(true);
	assert_int_equal(input(g, B, &nv, 1200 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_out_reason(g), 0);
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_VIEW);
	assert_false(konce_group_poll_event(g, &ev));
	/* Long past the withdrawal's end: still a member (A and B are silent here, so it suspects
	 * them, but it is not OUT), and no JOIN_WITHDRAW goes out. */
	konce_group_timer(g, (1000 + KONCE_GROUP_WITHDRAW_MS + 100) * MSEC);
	assert_int_not_equal(konce_group_state(g), KONCE_GROUP_OUT);
	assert_int_equal(konce_group_out_reason(g), 0);
	uint8_t to[32];
	while (next_out(g, to, &m))
		assert_int_not_equal(m.type, KONCE_CW_JOIN_WITHDRAW);
	konce_group_free(g);
}

/* Nobody answers the withdrawal: OUT (TIMEDOUT) KONCE_GROUP_WITHDRAW_MS later, with a final
 * JOIN_WITHDRAW(OUT); a member of a view that admitted it after all hears the same when it writes
 * (once per RESEND_MS). */
static void test_joiner_gives_up_unanswered(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = joiner(&s);
	konce_cw_msg m;
	uint8_t to[32];
	assert_int_equal(konce_group_join_deadline(g, 1000 * MSEC), 0);
	run_silent(g, 20 * MSEC, (1000 + KONCE_GROUP_WITHDRAW_MS - 20) * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	konce_group_timer(g, (1000 + KONCE_GROUP_WITHDRAW_MS) * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	assert_int_equal(konce_group_out_reason(g), KONCE_GROUP_OUT_TIMEDOUT);
	assert_int_equal(withdraws(g, KONCE_CW_WD_OUT), 2);
	uint64_t t = (1000 + KONCE_GROUP_WITHDRAW_MS + 100) * MSEC;
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 2, 0);
	assert_int_equal(input(g, A, &hb, t), -EINVAL);
	expect_withdraw(g, A, &m);
	assert_int_equal(m.flag, KONCE_CW_WD_OUT);
	assert_int_equal(input(g, A, &hb, t + 10 * MSEC), -EINVAL);
	assert_false(next_out(g, to, &m)); /* rate-limited */
	assert_int_equal(input(g, A, &hb, t + (KONCE_GROUP_RESEND_MS + 10) * MSEC), -EINVAL);
	assert_true(next_out(g, to, &m));
	/* A refusal, or a view without it, is no member's traffic: nothing back (no exchange loops). */
	t += 2 * (KONCE_GROUP_RESEND_MS + 10) * MSEC;
	konce_cw_msg rf = hdr(KONCE_CW_REFUSED, 2, 0);
	rf.flag = KONCE_CW_R_WITHDRAWN;
	assert_int_equal(input(g, B, &rf, t), -EINVAL);
	konce_cw_msg nv = view2(false);
	assert_int_equal(input(g, A, &nv, t), -EINVAL);
	assert_false(next_out(g, to, &m));
	konce_group_free(g);
}

/* A joiner refused finally (here REJECTED) that a view names anyway -- a later coordinator admitted
 * a JOIN of it still in flight (cgroup.h invariant 9) -- answers that view's members like one that
 * gave up: JOIN_WITHDRAW(OUT), once per RESEND_MS, so they remove it at once.  REFUSED(UNKNOWN)
 * before that ends nothing, and a view without it draws no answer. */
static void test_refused_joiner_answers_view(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = joiner(&s);
	konce_cw_msg m;
	uint8_t to[32];
	while (next_out(g, to, &m))
		;
	konce_cw_msg rf = hdr(KONCE_CW_REFUSED, 1, 0);
	rf.flag = KONCE_CW_R_UNKNOWN;
	assert_int_equal(input(g, B, &rf, MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	rf.flag = KONCE_CW_R_REJECTED;
	assert_int_equal(input(g, B, &rf, 2 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	assert_int_equal(konce_group_out_reason(g), KONCE_GROUP_OUT_REFUSED);
	assert_false(next_out(g, to, &m));
	konce_cw_msg nv = view2(false);
	assert_int_equal(input(g, A, &nv, 10 * MSEC), -EINVAL);
	assert_false(next_out(g, to, &m));
	nv = view2(true);
	assert_int_equal(input(g, A, &nv, 20 * MSEC), -EINVAL);
	expect_withdraw(g, A, &m);
	assert_int_equal(m.flag, KONCE_CW_WD_OUT);
	assert_false(next_out(g, to, &m));
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 2, 0);
	assert_int_equal(input(g, B, &hb, 30 * MSEC), -EINVAL);
	assert_false(next_out(g, to, &m)); /* rate-limited */
	assert_int_equal(input(g, B, &hb, (30 + KONCE_GROUP_RESEND_MS) * MSEC), -EINVAL);
	expect_withdraw(g, B, &m);
	konce_group_free(g);
}

/* Y's invitation, as B wrote it, restored into g. */
static void restore_y_invite(konce_group *g)
{
	static uint8_t eb[KONCE_CW_ENTRY_HEAD + KONCE_CW_INVITE_LEN];
	konce_cw_entry e = invite_entry(B, H, 0);
	size_t n = konce_cw_entry_encode(&e, eb, sizeof(eb));
	assert_int_equal(konce_group_restore_invite(g, eb, n), 0);
}

/* A, the coordinator of {B, A, C} at epoch 1, with Y's invitation. */
static konce_group *coordinator(store *s)
{
	konce_group *g = member3(s, A, B, A, C);
	assert_int_equal(konce_group_coordinator(g), 1);
	restore_y_invite(g);
	konce_cw_msg m;
	(void)find_out(g, 0, NULL, &m);
	return g;
}

static bool asks(konce_group *g)
{
	konce_cw_msg m;
	return find_out(g, KONCE_CW_JOIN_ASK, NULL, &m);
}

/* Y's JOIN at t, which the coordinator takes and puts to the vote; the JOIN. */
static konce_cw_msg y_joins(konce_group *g, uint64_t t)
{
	konce_cw_msg j = hdr(KONCE_CW_JOIN, 0, 0);
	j.secret = SECRET;
	assert_int_equal(input(g, Y, &j, t), 0);
	assert_true(asks(g));
	return j;
}

/* A yes to admitting Y. */
static konce_cw_msg yes_to_y(void)
{
	konce_cw_msg v = hdr(KONCE_CW_JOIN_VOTE, 1, 0);
	v.key = Y;
	v.flag = KONCE_CW_VOTE_YES;
	return v;
}

/* The coordinator: a withdrawal during the vote ends it and is answered; a late JOIN from the
 * joiner is not taken until KONCE_GROUP_WITHDRAW_KEEP_MS has passed; a stranger's withdrawal (an
 * unknown invitation) is not answered. */
static void test_coordinator_ends_vote(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = coordinator(&s);
	konce_cw_msg m;
	konce_cw_msg j = y_joins(g, 10 * MSEC);
	konce_cw_msg w = hdr(KONCE_CW_JOIN_WITHDRAW, 0, 0);
	static uint8_t other[32];
	memset(other, 0x5e, 32);
	w.secret = other;
	assert_int_equal(input(g, Y, &w, 20 * MSEC), 0);
	assert_false(find_out(g, KONCE_CW_REFUSED, Y, &m));
	w.secret = SECRET;
	assert_int_equal(input(g, Y, &w, 30 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_REFUSED, Y, &m));
	assert_int_equal(m.flag, KONCE_CW_R_WITHDRAWN);
	/* The vote is over: a yes arriving now changes nothing. */
	konce_cw_msg v = yes_to_y();
	assert_int_equal(input(g, B, &v, 40 * MSEC), 0);
	assert_int_equal(input(g, C, &v, 40 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	/* A duplicated JOIN is not taken while the withdrawal is remembered... */
	assert_int_equal(input(g, Y, &j, 50 * MSEC), 0);
	konce_group_timer(g, 60 * MSEC);
	assert_false(asks(g));
	/* ...and is after (a new attempt retries). */
	uint64_t later = (30 + KONCE_GROUP_WITHDRAW_KEEP_MS + 10) * MSEC;
	assert_int_equal(input(g, Y, &j, later), 0);
	assert_true(asks(g));
	/* A withdrawal for good (OUT) ends the vote too, and is not answered. */
	w.flag = KONCE_CW_WD_OUT;
	assert_int_equal(input(g, Y, &w, later + 10 * MSEC), 0);
	assert_false(find_out(g, KONCE_CW_REFUSED, Y, &m));
	assert_int_equal(input(g, B, &v, later + 20 * MSEC), 0);
	assert_int_equal(input(g, C, &v, later + 20 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	konce_group_free(g);
}

static uint64_t ballot_of(konce_group *g)
{
	konce_cw_msg m = {0};
	assert_true(find_out(g, KONCE_CW_PREPARE, NULL, &m));
	return m.u;
}

/* The race at the coordinator: the withdrawal arrives while the view change adding the joiner runs.
 * It is not answered; the view admits the joiner; a PENDING withdrawal from the new member is
 * answered with the view (it takes the seat); a final one (OUT) makes it a suspect at once that
 * nothing clears, and a view change starts. */
static void test_coordinator_admits_then_removes(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = coordinator(&s);
	konce_cw_msg m;
	(void)y_joins(g, 10 * MSEC);
	konce_cw_msg v = yes_to_y();
	assert_int_equal(input(g, B, &v, 20 * MSEC), 0);
	assert_int_equal(input(g, C, &v, 20 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_VIEWCHANGE);
	uint64_t ballot = ballot_of(g);
	konce_cw_msg w = hdr(KONCE_CW_JOIN_WITHDRAW, 0, 0);
	w.secret = SECRET;
	assert_int_equal(input(g, Y, &w, 30 * MSEC), 0);
	assert_false(find_out(g, KONCE_CW_REFUSED, Y, &m)); /* a view adding it is under way */
	konce_cw_msg p = hdr(KONCE_CW_PROMISE, 1, 0);
	p.u = ballot;
	p.first = 1;
	assert_int_equal(input(g, B, &p, 40 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_ACCEPT, NULL, &m));
	konce_cw_msg a = hdr(KONCE_CW_ACCEPTED, 1, 0);
	a.u = ballot;
	assert_int_equal(input(g, B, &a, 50 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_epoch(g), 2);
	const uint8_t (*keys)[KONCE_CW_KEY];
	assert_int_equal(konce_group_members(g, &keys), 4);
	assert_memory_equal(keys[3], Y, 32);
	(void)find_out(g, 0, NULL, &m);
	/* Still waiting (its NEWVIEW was lost): the view again, and it takes the seat. */
	assert_int_equal(input(g, Y, &w, 60 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_NEWVIEW, Y, &m));
	assert_int_equal(m.v.epoch, 2);
	/* Gone for good: a suspect at once (within its join grace), and a view change starts. */
	w.flag = KONCE_CW_WD_OUT;
	w.epoch = 2;
	assert_int_equal(input(g, Y, &w, 70 * MSEC), 0);
	konce_group_mstatus ms;
	assert_int_equal(konce_group_member_info(g, 3, &ms), 0);
	assert_int_equal(ms.suspicion, KONCE_GROUP_SUSP_SUSPECT);
	konce_group_timer(g, 80 * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_VIEWCHANGE);
	assert_true(find_out(g, KONCE_CW_PREPARE, NULL, &m));
	/* Hearing from it again later does not clear it (no hysteresis for a withdrawal). */
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 2, 0);
	assert_int_equal(input(g, Y, &hb, (80 + KONCE_GROUP_REHAB_MS + 10) * MSEC), 0);
	assert_int_equal(konce_group_member_info(g, 3, &ms), 0);
	assert_int_equal(ms.suspicion, KONCE_GROUP_SUSP_SUSPECT);
	konce_group_free(g);
}

/* A member that is not the coordinator: it points a joiner that knows an older view at its view
 * (as for JOIN), and never answers REFUSED(WITHDRAWN) itself. */
static void test_member_points_at_view(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s); /* B coordinates */
	restore_y_invite(g);
	konce_cw_msg w = hdr(KONCE_CW_JOIN_WITHDRAW, 0, 0), m;
	w.secret = SECRET;
	assert_int_equal(input(g, Y, &w, 10 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_NEWVIEW, Y, &m));
	w.epoch = 1;
	assert_int_equal(input(g, Y, &w, 20 * MSEC), 0);
	uint8_t to[32];
	while (next_out(g, to, &m))
		assert_false(!memcmp(to, Y, 32));
	konce_group_free(g);
}

/* The message itself: parses, re-encodes to the same bytes, and a bad final byte is refused. */
static void test_withdraw_wire(void **st)
{
	(void)st;
	static uint8_t b[KONCE_CW_MAX_MSG];
	konce_cw_msg w = hdr(KONCE_CW_JOIN_WITHDRAW, 3, 0), m;
	w.secret = SECRET;
	w.flag = KONCE_CW_WD_OUT;
	size_t n = konce_cw_encode(&w, b, sizeof(b));
	assert_int_equal(n, KONCE_CW_H_SIZE + 32 + 1);
	assert_int_equal(konce_cw_msg_size(&w), n);
	assert_int_equal(konce_cw_parse(&m, b, n), KONCE_CW_OK);
	assert_int_equal(m.flag, KONCE_CW_WD_OUT);
	assert_memory_equal(m.secret, SECRET, 32);
	assert_int_equal(konce_cw_parse(&m, b, n - 1), KONCE_CW_SHORT);
	b[n - 1] = 2;
	assert_int_not_equal(konce_cw_parse(&m, b, n), KONCE_CW_OK);
	w.flag = 2;
	assert_int_equal(konce_cw_encode(&w, b, sizeof(b)), 0);
	konce_cw_msg r = hdr(KONCE_CW_REFUSED, 1, 0);
	r.flag = KONCE_CW_R_WITHDRAWN;
	n = konce_cw_encode(&r, b, sizeof(b));
	assert_int_equal(konce_cw_parse(&m, b, n), KONCE_CW_OK);
	b[n - 1] = KONCE_CW_R_UNKNOWN; /* the last reason: "not yet" */
	assert_int_equal(konce_cw_parse(&m, b, n), KONCE_CW_OK);
	b[n - 1] = KONCE_CW_R_UNKNOWN + 1;
	assert_int_not_equal(konce_cw_parse(&m, b, n), KONCE_CW_OK);
}

static int setup_all(void **st)
{
	setup(st);
	memset(Y, 0x7b, 32);
	memset(SECRET, 0x49, 32);
	konce_ctoken_secret_hash(H, SECRET);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_joiner_withdraws),
		cmocka_unit_test(test_joiner_takes_seat),
		cmocka_unit_test(test_joiner_gives_up_unanswered),
		cmocka_unit_test(test_refused_joiner_answers_view),
		cmocka_unit_test(test_coordinator_ends_vote),
		cmocka_unit_test(test_coordinator_admits_then_removes),
		cmocka_unit_test(test_member_points_at_view),
		cmocka_unit_test(test_withdraw_wire),
	};
	return cmocka_run_group_tests(tests, setup_all, NULL);
}
