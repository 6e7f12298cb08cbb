/* test_consensus_join.c - one consensus member driven by hand (tests/unit/cgroup_fixture.h):
 * joins, invitations, votes and state transfer. */
#include "tests/unit/cgroup_fixture.h"

/* State transfer: a joiner admitted at commit index 5 delivers nothing until a snapshot at >= 5
 * arrives (chunks out of order, duplicated), then goes on after the snapshot's seq. */
static void test_joiner_snapshot(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = member(&s, X, 0, NULL, 0);
	static uint8_t keys[3][32], secret[32], h[32], big[KONCE_CW_SNAP_CHUNK + 3];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], X, 32);
	memcpy(keys[2], B, 32);
	memset(secret, 0x33, 32);
	konce_ctoken_secret_hash(h, secret);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])keys, 1, secret, 0), 0);
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 2, 5), m;
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 2, .n = 3, .keys = &keys[0][0], .used_invite = h, .commit = 5, .first_seq = 6};
	assert_int_equal(input(g, A, &nv, MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	assert_true(konce_group_catching_up(g));
	assert_int_equal(s.snapshots, 1); /* the mark, before the view */
	assert_int_equal(s.snap_seq, 0);
	konce_group_timer(g, 30 * MSEC);
	assert_true(find_out(g, KONCE_CW_SNAP_REQ, B, &m)); /* the coordinator (epoch 2 mod 3) first */
	assert_int_equal(m.u, 5);
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_VIEW);
	/* Entries 6 and 7 arrive and commit: not delivered without state. */
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 2, 7);
	p.first = 6;
	p.count = 2;
	p.e[0] = entry(A, 1, "six");
	p.e[1] = entry(A, 2, "seven");
	assert_int_equal(input(g, B, &p, 40 * MSEC), 0);
	assert_false(konce_group_poll_event(g, &ev));
	/* No answer within the retry time: the next member is asked. */
	konce_group_timer(g, 600 * MSEC);
	assert_true(find_out(g, KONCE_CW_SNAP_REQ, A, &m));
	/* A stale snapshot (before the commit index) is ignored; a stranger's is refused.  Its bytes: an
	 * empty core section (no invitations), then the application's. */
	memset(big, 0x77, sizeof(big));
	big[0] = 0;
	konce_cw_msg c = hdr(KONCE_CW_SNAP, 2, 7);
	c.u = 4;
	c.total = sizeof(big);
	c.offset = KONCE_CW_SNAP_CHUNK;
	c.dlen = 3;
	c.data = big + KONCE_CW_SNAP_CHUNK;
	assert_int_equal(input(g, A, &c, 610 * MSEC), 0);
	assert_int_equal(input(g, C, &c, 610 * MSEC), -EPERM);
	/* The snapshot at 7 in two chunks: the last first, then the first twice. */
	c.u = 7;
	assert_int_equal(input(g, A, &c, 620 * MSEC), 0);
	assert_true(konce_group_catching_up(g));
	c.offset = 0;
	c.dlen = KONCE_CW_SNAP_CHUNK;
	c.data = big;
	assert_int_equal(input(g, A, &c, 630 * MSEC), 0);
	assert_false(konce_group_catching_up(g));
	assert_int_equal(input(g, A, &c, 640 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_ACK, B, &m)); /* its log now reaches 7 */
	assert_int_equal(m.u, 7);
	assert_int_equal(s.snap_seq, 7);
	assert_int_equal(s.snap_len, sizeof(big)); /* the whole stream, core section included */
	assert_int_equal(s.delivered_seq, 7);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_SNAPSHOT);
	assert_int_equal(ev.seq, 7);
	assert_int_equal(ev.len, sizeof(big) - 1);
	assert_memory_equal(ev.data, big + 1, sizeof(big) - 1);
	assert_false(konce_group_poll_event(g, &ev));
	/* It goes on after 7. */
	p.first = 8;
	p.count = 1;
	p.commit = 8;
	p.e[0] = entry(A, 3, "eight");
	assert_int_equal(input(g, B, &p, 650 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_ACK, B, &m));
	assert_int_equal(m.u, 8);
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 2, 8);
	assert_int_equal(input(g, B, &hb, 660 * MSEC), 0);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_COMMITTED);
	assert_int_equal(ev.seq, 8);
	assert_memory_equal(ev.data, "eight", 5);
	konce_group_free(g);
}

/* A member answers a snapshot request with its state after what it delivered, rate-limited. */
static void test_member_sends_snapshot(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 1), m;
	p.first = 1;
	p.count = 1;
	p.e[0] = entry(C, 1, "one");
	assert_int_equal(input(g, B, &p, MSEC), 0);
	konce_cw_msg req = hdr(KONCE_CW_SNAP_REQ, 1, 1);
	req.u = 1;
	snapshot_calls = 0;
	assert_int_equal(input(g, C, &req, 2 * MSEC), 0);
	assert_false(find_out(g, KONCE_CW_SNAP, C, &m)); /* not delivered yet: no state at 1 */
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.seq, 1);
	assert_int_equal(input(g, C, &req, 3 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_SNAP, C, &m));
	assert_int_equal(snapshot_calls, 1);
	assert_int_equal(m.u, 1);
	assert_int_equal(m.total, 1 + sizeof(APP_STATE)); /* the core section knows no invitation */
	assert_int_equal(m.offset, 0);
	assert_int_equal(m.data[0], 0);
	assert_memory_equal(m.data + 1, APP_STATE, sizeof(APP_STATE));
	assert_int_equal(input(g, C, &req, 4 * MSEC), 0); /* again at once: rate-limited */
	assert_false(find_out(g, KONCE_CW_SNAP, C, &m));
	assert_int_equal(input(g, C, &req, 400 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_SNAP, C, &m));
	konce_group_free(g);
}

/* An invitation expires: members vote no on it, and the coordinator refuses it with the reason. */
static void test_invite_expiry(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	uint8_t secret[32], h[32];
	static uint8_t y[32];
	memset(secret, 0x46, 32);
	memset(y, 0x79, 32);
	konce_ctoken_secret_hash(h, secret);
	konce_cw_msg m;
	assert_int_equal(propose_invite(g, h, 1000, MSEC), 0);
	konce_cw_msg ask = join_ask(0, y, secret);
	konce_group_set_wallclock(g, 999); /* not committed yet, in the log, and valid */
	assert_int_equal(input(g, B, &ask, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, 1);
	konce_group_set_wallclock(g, 1000); /* expired */
	assert_int_equal(input(g, B, &ask, 3 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, 0);
	ask.commit = 1; /* committed now: the same */
	assert_int_equal(input(g, B, &ask, 4 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, 0);
	konce_group_free(g);

	/* A lone coordinator: an expired invitation's JOIN gets REFUSED(EXPIRED); a valid one starts
	 * a vote. */
	store s2 = {0};
	g = member(&s2, A, 0, NULL, 0);
	assert_int_equal(konce_group_create(g, 0), 0);
	konce_group_set_wallclock(g, 500);
	assert_true(konce_group_invite(g, h, 1000, MSEC) > 0);
	konce_group_event ev;
	while (konce_group_poll_event(g, &ev)) /* committed and delivered: known to the group */
		;
	konce_cw_msg j = hdr(KONCE_CW_JOIN, 0, 0);
	j.secret = secret;
	konce_group_set_wallclock(g, 1000);
	assert_int_equal(input(g, y, &j, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_REFUSED, y, &m));
	assert_int_equal(m.flag, KONCE_CW_R_EXPIRED);
	konce_group_set_wallclock(g, 999);
	assert_int_equal(input(g, y, &j, 3 * MSEC), 0);
	bool decided = false;
	while (konce_group_poll_event(g, &ev))
		decided |= ev.type == KONCE_GROUP_EV_JOIN_DECIDED && ev.flag;
	assert_true(decided); /* a majority of one said yes */
	konce_group_free(g);

	/* The joiner learns why. */
	store s3 = {0};
	g = member(&s3, y, 0, NULL, 0);
	static uint8_t keys[1][32];
	memcpy(keys[0], A, 32);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])keys, 1, secret, 0), 0);
	konce_cw_msg r = hdr(KONCE_CW_REFUSED, 1, 0);
	r.flag = KONCE_CW_R_EXPIRED;
	assert_int_equal(input(g, A, &r, MSEC), 0);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OUT);
	assert_int_equal(ev.out_reason, KONCE_GROUP_OUT_REFUSED);
	assert_int_equal(ev.kind, KONCE_CW_R_EXPIRED);
	konce_group_free(g);
}

/* A restarted member is handed the invitations it knew: a committed one, and one an earlier view
 * used. */
static void test_restore_invites(void **st)
{
	(void)st;
	uint8_t s1[32], s2[32], h1[32], h2[32];
	static uint8_t y[32], eb[KONCE_CW_ENTRY_HEAD + KONCE_CW_INVITE_LEN];
	memset(s1, 0x51, 32);
	memset(s2, 0x52, 32);
	memset(y, 0x79, 32);
	konce_ctoken_secret_hash(h1, s1);
	konce_ctoken_secret_hash(h2, s2);
	for (unsigned used = 0; used < 2; used++) {
		store s = {0};
		konce_group *g = abc(&s);
		konce_cw_entry e = invite_entry(B, h1, 0);
		size_t n = konce_cw_entry_encode(&e, eb, sizeof(eb));
		assert_int_equal(konce_group_restore_invite(g, eb, n), 0);
		e = invite_entry(B, h2, 0);
		n = konce_cw_entry_encode(&e, eb, sizeof(eb));
		assert_int_equal(konce_group_restore_invite(g, eb, n), 0);
		if (used)
			assert_int_equal(konce_group_restore_used(g, h2), 0);
		konce_cw_msg ask = hdr(KONCE_CW_JOIN_ASK, 1, 0), m;
		ask.key = y;
		ask.secret = s1;
		assert_int_equal(input(g, B, &ask, MSEC), 0);
		assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
		assert_int_equal(m.flag, 1); /* known and unused */
		ask.secret = s2;
		assert_int_equal(input(g, B, &ask, 2 * MSEC), 0);
		assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
		assert_int_equal(m.flag, used ? 0 : 1);
		assert_int_equal(konce_group_restore_invite(g, (const uint8_t *)"x", 1), -EINVAL);
		konce_group_free(g);
	}
}

/* A member new to the view may still be opening sessions (a lost handshake packet costs the
 * transport a 1 s retry): it is not suspected before KONCE_GROUP_JOIN_GRACE_MS, even when another
 * view is installed meanwhile, and is after. */
static void test_joiner_grace(void **st)
{
	(void)st;
	store s = {0};
	static uint8_t keys[3][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	konce_group *g = member(&s, A, 2, (const uint8_t (*)[32])keys, 0);
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 1, 0), m;
	uint8_t to[32];
	for (uint64_t t = 0; t < 2000 * MSEC; t += 100 * MSEC) {
		assert_int_equal(input(g, B, &hb, t), 0);
		run_silent(g, t, t + 99 * MSEC);
	}
	memcpy(keys[0], A, 32);
	memcpy(keys[1], X, 32);
	memcpy(keys[2], B, 32); /* B coordinates epoch 2; A epoch 3 */
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 2, 0);
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 2, .n = 3, .keys = &keys[0][0], .used_invite = ZERO, .commit = 0, .first_seq = 1};
	uint64_t t0 = 2000 * MSEC, first = 0;
	assert_int_equal(input(g, B, &nv, t0), 0);
	konce_group_mstatus ms;
	assert_int_equal(konce_group_member_info(g, 1, &ms), 0);
	assert_int_equal(ms.suspicion, KONCE_GROUP_SUSP_GRACE);
	assert_false(ms.acked_known); /* B coordinates */
	assert_int_equal(konce_group_member_info(g, 3, &ms), -EINVAL);
	hb.epoch = 2;
	konce_cw_msg nv3 = hdr(KONCE_CW_NEWVIEW, 3, 0);
	nv3.has_value = true;
	nv3.v = (konce_cw_value){.epoch = 3, .n = 3, .keys = &keys[0][0], .used_invite = ZERO, .commit = 0, .first_seq = 1};
	for (uint64_t t = t0; t < t0 + 4000 * MSEC && !first; t += 20 * MSEC) {
		if (t == t0 + 500 * MSEC) { /* another view during the grace (the next join): it goes on */
			assert_int_equal(input(g, B, &nv3, t), 0);
			hb.epoch = 3;
		}
		if ((t - t0) % (100 * MSEC) == 0)
			assert_int_equal(input(g, B, &hb, t), 0);
		konce_group_timer(g, t);
		while (next_out(g, to, &m))
			if (!first && ((m.type == KONCE_CW_PROBE_REQ && !memcmp(m.key, X, 32)) || m.type == KONCE_CW_PREPARE))
				first = t;
	}
	assert_int_equal(konce_group_member_info(g, 1, &ms), 0);
	assert_true(ms.suspicion == KONCE_GROUP_SUSP_PROBING || ms.suspicion == KONCE_GROUP_SUSP_SUSPECT);
	assert_true(first >= t0 + KONCE_GROUP_JOIN_GRACE_MS * MSEC); /* not before the grace */
	assert_true(first < t0 + (KONCE_GROUP_JOIN_GRACE_MS + 100) * MSEC); /* and soon after it */
	konce_group_free(g);
}

static void test_joiner(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = member(&s, X, 0, NULL, 0);
	static uint8_t keys[2][32], secret[32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memset(secret, 0x33, 32);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])keys, 2, secret, 0), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	uint8_t to[32];
	konce_cw_msg m;
	unsigned joins = 0;
	while (next_out(g, to, &m)) {
		assert_int_equal(m.type, KONCE_CW_JOIN);
		assert_memory_equal(m.secret, secret, 32);
		joins++;
	}
	assert_int_equal(joins, 2);
	konce_cw_msg r = hdr(KONCE_CW_REFUSED, 3, 0);
	r.flag = KONCE_CW_R_REJECTED;
	assert_int_equal(input(g, C, &r, MSEC), -EPERM); /* C was not named by the token */
	assert_int_equal(input(g, B, &r, MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OUT);
	assert_int_equal(ev.out_reason, KONCE_GROUP_OUT_REFUSED);
	konce_group_free(g);
}

static void test_join_vote_and_veto(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	/* Register X's invitation: committed at seq 1. */
	uint8_t secret[32], h[32];
	memset(secret, 0x44, 32);
	konce_ctoken_secret_hash(h, secret);
	konce_cw_msg m;
	assert_int_equal(propose_invite(g, h, 0, MSEC), 0);
	konce_cw_msg ask = join_ask(1, X, secret);
	assert_int_equal(input(g, B, &ask, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, 0); /* our policy vetoes X */
	ask.key = C;                 /* already a member */
	assert_int_equal(input(g, B, &ask, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, 0);
	static uint8_t y[32];
	memset(y, 0x77, 32);
	ask.key = y;
	assert_int_equal(input(g, B, &ask, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, 1);
	static uint8_t wrong[32];
	memset(wrong, 0x45, 32);
	ask.secret = wrong; /* an invitation this member does not know: no reason to reject it */
	assert_int_equal(input(g, B, &ask, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, B, &m));
	assert_int_equal(m.flag, KONCE_CW_VOTE_ABSTAIN);
	konce_group_free(g);
}

/* A member that has just joined knows no invitation committed before it joined: it abstains on
 * one (never votes no) until its snapshot brings the sender's invitations, then votes yes on the
 * valid one and no on the used one. */
static void test_joiner_abstains_until_snapshot(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = member(&s, C, 0, NULL, 0);
	static uint8_t keys[3][32], secret[32], h[32], s2[32], h2[32], s3[32], h3[32], y[32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memcpy(keys[2], C, 32);
	memset(secret, 0x33, 32);
	memset(s2, 0x34, 32);
	memset(s3, 0x35, 32);
	memset(y, 0x79, 32);
	konce_ctoken_secret_hash(h, secret);
	konce_ctoken_secret_hash(h2, s2);
	konce_ctoken_secret_hash(h3, s3);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])keys, 2, secret, 0), 0);
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 2, 4), m;
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 2, .n = 3, .keys = &keys[0][0], .used_invite = h, .commit = 4, .first_seq = 5};
	assert_int_equal(input(g, A, &nv, MSEC), 0);
	assert_true(konce_group_catching_up(g));
	(void)find_out(g, 0, NULL, &m);
	konce_cw_msg ask = hdr(KONCE_CW_JOIN_ASK, 2, 4);
	ask.key = y;
	ask.secret = s2;
	assert_int_equal(konce_group_coordinator(g), 2); /* C itself: move on to a view A coordinates */
	nv = hdr(KONCE_CW_NEWVIEW, 3, 4);
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 3, .n = 3, .keys = &keys[0][0], .used_invite = ZERO, .commit = 4, .first_seq = 5};
	assert_int_equal(input(g, A, &nv, 2 * MSEC), 0);
	assert_int_equal(konce_group_coordinator(g), 0);
	assert_true(konce_group_catching_up(g));
	(void)find_out(g, 0, NULL, &m);
	ask.epoch = 3;
	assert_int_equal(input(g, A, &ask, 3 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, A, &m));
	assert_int_equal(m.flag, KONCE_CW_VOTE_ABSTAIN);
	/* The snapshot at 4: a core section with s2's invitation (valid) and s3's (used), then the
	 * application's state. */
	uint8_t snap[KONCE_CW_SNAP_CORE_MAX + 8];
	konce_cw_invite inv[2] = {{.hash = h2, .expires = 0, .used = false}, {.hash = h3, .expires = 0, .used = true}};
	size_t cl = konce_cw_snapcore_encode(inv, 2, snap, sizeof(snap));
	assert_int_equal(cl, 1 + 2 * KONCE_CW_SNAP_INVITE);
	memcpy(snap + cl, "app", 3);
	konce_cw_msg c = hdr(KONCE_CW_SNAP, 3, 4);
	c.u = 4;
	c.total = (uint32_t)(cl + 3);
	c.dlen = (uint16_t)(cl + 3);
	c.data = snap;
	assert_int_equal(input(g, B, &c, 4 * MSEC), 0);
	assert_false(konce_group_catching_up(g));
	assert_int_equal(s.snap_len, cl + 3); /* stored whole: a restart learns the invitations again */
	konce_group_event ev;
	while (konce_group_poll_event(g, &ev))
		if (ev.type == KONCE_GROUP_EV_SNAPSHOT) {
			assert_int_equal(ev.len, 3);
			assert_memory_equal(ev.data, "app", 3);
		}
	(void)find_out(g, 0, NULL, &m);
	assert_int_equal(input(g, A, &ask, 5 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, A, &m));
	assert_int_equal(m.flag, KONCE_CW_VOTE_YES);
	ask.secret = s3;
	assert_int_equal(input(g, A, &ask, 6 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_VOTE, A, &m));
	assert_int_equal(m.flag, KONCE_CW_VOTE_NO);
	konce_group_free(g);

	/* Restarted from its view (its log starts after the invitations): it knows them again from
	 * the stored snapshot stream; without it, it would abstain. */
	store s2st = {0};
	g = member(&s2st, C, 3, (const uint8_t (*)[32])keys, 10 * MSEC);
	assert_int_equal(konce_group_invite_state(g, s2), 0);
	assert_int_equal(konce_group_restore_snapshot(g, (const uint8_t *)"app", 3), -EINVAL);
	assert_int_equal(konce_group_restore_snapshot(g, snap, cl + 3), 0);
	assert_int_equal(konce_group_invite_state(g, s2), 1);
	assert_int_equal(konce_group_invite_state(g, s3), -ESTALE);
	assert_int_equal(konce_group_invite_state(g, y), 0);
	konce_group_free(g);
}

/* A joiner whose token is older than the group's view: a member that is not the coordinator tells
 * it the view (only for a valid invitation, and only while the JOIN names an older epoch); the
 * joiner asks that view's members from then on, and gives up at KONCE_GROUP_JOIN_TIMEOUT_MS. */
static void test_join_follows_view(void **st)
{
	(void)st;
	uint8_t secret[32], h[32], bad[32], to[32];
	static uint8_t y[32];
	memset(secret, 0x47, 32);
	memset(bad, 0x48, 32);
	memset(y, 0x7a, 32);
	konce_ctoken_secret_hash(h, secret);

	/* The member's side: A in {A, B, C} at epoch 1 (B coordinates) with the invitation committed. */
	store s = {0};
	konce_group *g = abc(&s);
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 1), m;
	p.first = 1;
	p.count = 1;
	p.e[0] = invite_entry(B, h, 0);
	assert_int_equal(input(g, B, &p, MSEC), 0);
	konce_group_event ev;
	while (konce_group_poll_event(g, &ev))
		;
	assert_int_equal(konce_group_invite_state(g, secret), 1);
	(void)find_out(g, 0, NULL, &m);
	konce_cw_msg j = hdr(KONCE_CW_JOIN, 0, 0);
	j.secret = bad;
	assert_int_equal(input(g, y, &j, 2 * MSEC), 0);
	assert_false(find_out(g, KONCE_CW_NEWVIEW, y, &m)); /* an unknown invitation: nothing */
	j.secret = secret;
	assert_int_equal(input(g, y, &j, 3 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_NEWVIEW, y, &m)); /* its view, whose coordinator is B */
	assert_int_equal(m.v.epoch, 1);
	assert_int_equal(m.v.n, 3);
	j.epoch = 1; /* the joiner knows this view now: no answer */
	assert_int_equal(input(g, y, &j, 4 * MSEC), 0);
	assert_false(find_out(g, KONCE_CW_NEWVIEW, y, &m));
	konce_group_free(g);

	/* The joiner's side: its token names A and B. */
	store s2 = {0};
	g = member(&s2, y, 0, NULL, 0);
	static uint8_t tok[2][32], view[2][32];
	memcpy(tok[0], A, 32);
	memcpy(tok[1], B, 32);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])tok, 2, secret, 0), 0);
	assert_true(next_out(g, to, &m));
	assert_int_equal(m.type, KONCE_CW_JOIN);
	assert_int_equal(m.epoch, 0);
	(void)find_out(g, 0, NULL, &m);
	uint64_t ep, left;
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(ep, 0);
	assert_int_equal(left, KONCE_GROUP_JOIN_TIMEOUT_MS);
	/* B is in view 4, {B, C}, which does not name the joiner: it asks B and C now. */
	memcpy(view[0], B, 32);
	memcpy(view[1], C, 32);
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 4, 0);
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 4, .n = 2, .keys = &view[0][0], .used_invite = ZERO, .commit = 0, .first_seq = 1};
	assert_int_equal(input(g, B, &nv, 100 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	const uint8_t (*tk)[KONCE_CW_KEY];
	assert_int_equal(konce_group_join_targets(g, &tk), 2);
	assert_memory_equal(tk[1], C, 32);
	konce_group_timer(g, 120 * MSEC);
	bool to_c = false;
	while (next_out(g, to, &m)) {
		assert_int_equal(m.type, KONCE_CW_JOIN);
		assert_int_equal(m.epoch, 4);
		assert_false(!memcmp(to, A, 32));
		to_c |= !memcmp(to, C, 32);
	}
	assert_true(to_c);
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(ep, 4);
	/* An older view teaches nothing; A, no longer asked, is not heard. */
	nv.epoch = nv.v.epoch = 3;
	assert_int_equal(input(g, C, &nv, 200 * MSEC), -ESTALE);
	nv.epoch = nv.v.epoch = 5;
	assert_int_equal(input(g, A, &nv, 210 * MSEC), -EPERM);
	assert_int_equal(konce_group_join_targets(g, &tk), 2);
	/* Nobody admits it: at the deadline it withdraws from the view's members (no JOIN after it),
	 * and is OUT (TIMEDOUT) when nobody answers that either (test_consensus_withdraw.c). */
	konce_group_timer(g, (KONCE_GROUP_JOIN_TIMEOUT_MS - 1) * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	assert_int_equal(konce_group_join_progress(g, &ep, &left), 0);
	assert_int_equal(left, 1);
	(void)find_out(g, 0, NULL, &m);
	konce_group_timer(g, KONCE_GROUP_JOIN_TIMEOUT_MS * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	to_c = false;
	while (next_out(g, to, &m)) {
		assert_int_equal(m.type, KONCE_CW_JOIN_WITHDRAW);
		assert_int_equal(m.epoch, 4);
		to_c |= !memcmp(to, C, 32);
	}
	assert_true(to_c);
	konce_group_timer(g, (KONCE_GROUP_JOIN_TIMEOUT_MS + KONCE_GROUP_WITHDRAW_MS) * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	assert_int_equal(konce_group_out_reason(g), KONCE_GROUP_OUT_TIMEDOUT);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OUT);
	assert_int_equal(ev.out_reason, KONCE_GROUP_OUT_TIMEDOUT);
	while (next_out(g, to, &m)) {
		assert_int_equal(m.type, KONCE_CW_JOIN_WITHDRAW);
		assert_int_equal(m.flag, KONCE_CW_WD_OUT);
	}
	assert_int_equal(konce_group_next_timer(g), UINT64_MAX);
	konce_group_free(g);
}

/* An invitation the coordinator does not know (yet) does not end the join (cjoin.c): the coordinator
 * B of {A, B, C}, whose INVITE has not committed (A and C have not acked it), answers a JOIN with
 * REFUSED(UNKNOWN), not a final refusal; the joiner keeps asking, so the JOIN that arrives once the
 * INVITE has committed (here, or at a later coordinator) starts the vote that admits it.  A joiner
 * told only UNKNOWN reports it when it finally gives up (OUT, TIMEDOUT, kind UNKNOWN).  A used
 * invitation is refused finally (INVALID). */
static void test_join_before_invite_commits(void **st)
{
	(void)st;
	static uint8_t keys[3][32], y[32], secret[32], h[32], to[32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memcpy(keys[2], C, 32);
	memset(y, 0x7b, 32);
	memset(secret, 0x4b, 32);
	konce_ctoken_secret_hash(h, secret);
	store s = {0};
	konce_group *g = member(&s, B, 3, (const uint8_t (*)[32])keys, 0);
	konce_group_event ev;
	konce_cw_msg m;
	assert_int_equal(konce_group_coordinator(g), 1);
	assert_true(konce_group_invite(g, h, 0, MSEC) > 0);
	while (konce_group_poll_event(g, &ev))
		;
	(void)find_out(g, 0, NULL, &m);
	assert_int_equal(konce_group_invite_state(g, secret), 0); /* in the log, not committed */
	konce_cw_msg j = hdr(KONCE_CW_JOIN, 0, 0);
	j.secret = secret;
	assert_int_equal(input(g, y, &j, 2 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_REFUSED, y, &m));
	assert_int_equal(m.flag, KONCE_CW_R_UNKNOWN);
	assert_false(find_out(g, KONCE_CW_JOIN_ASK, A, &m)); /* no vote on it yet */
	/* A and C ack: the INVITE commits, and the same (resent or delayed) JOIN starts the vote. */
	konce_cw_msg ack = hdr(KONCE_CW_ACK, 1, 0);
	ack.u = 1;
	assert_int_equal(input(g, A, &ack, 3 * MSEC), 0);
	assert_int_equal(input(g, C, &ack, 3 * MSEC), 0);
	while (konce_group_poll_event(g, &ev))
		;
	assert_int_equal(konce_group_invite_state(g, secret), 1);
	assert_int_equal(input(g, y, &j, 4 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_JOIN_ASK, A, &m));
	assert_memory_equal(m.key, y, 32);
	konce_group_free(g);

	/* The joiner's side: UNKNOWN is not final; it keeps sending JOIN, and when its time is up it
	 * withdraws as any joiner (OUT, TIMEDOUT), saying the group did not know the invitation. */
	store s2 = {0};
	g = member(&s2, y, 0, NULL, 0);
	assert_int_equal(konce_group_join(g, (const uint8_t (*)[32])keys, 3, secret, 0), 0);
	(void)find_out(g, 0, NULL, &m);
	konce_cw_msg r = hdr(KONCE_CW_REFUSED, 1, 0);
	r.flag = KONCE_CW_R_UNKNOWN;
	assert_int_equal(input(g, B, &r, MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_JOINING);
	assert_false(konce_group_poll_event(g, &ev));
	konce_group_timer(g, (KONCE_GROUP_JOIN_RETRY_MS + 1) * MSEC);
	unsigned joins = 0;
	while (next_out(g, to, &m))
		joins += m.type == KONCE_CW_JOIN;
	assert_int_equal(joins, 3);
	assert_int_equal(konce_group_join_deadline(g, 600 * MSEC), 0);
	konce_group_timer(g, 600 * MSEC);
	konce_group_timer(g, (600 + KONCE_GROUP_WITHDRAW_MS) * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OUT);
	assert_int_equal(ev.out_reason, KONCE_GROUP_OUT_TIMEDOUT);
	assert_int_equal(ev.kind, KONCE_CW_R_UNKNOWN);
	konce_group_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_joiner_snapshot),
		cmocka_unit_test(test_member_sends_snapshot),
		cmocka_unit_test(test_invite_expiry),
		cmocka_unit_test(test_restore_invites),
		cmocka_unit_test(test_joiner_grace),
		cmocka_unit_test(test_joiner),
		cmocka_unit_test(test_join_vote_and_veto),
		cmocka_unit_test(test_joiner_abstains_until_snapshot),
		cmocka_unit_test(test_join_follows_view),
		cmocka_unit_test(test_join_before_invite_commits),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
