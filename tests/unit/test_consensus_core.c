/* test_consensus_core.c - one consensus member driven by hand: its transitions and what it refuses.
 *
 * The member is key A in a view {A, B, C} at epoch 1 (coordinator B, index 1 mod 3), restored from
 * an in-memory store whose calls are recorded; the test plays B and C with encoded messages. */
#include <stdio.h>

#include "tests/unit/cgroup_fixture.h"

static void test_alone(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = member(&s, A, 0, NULL, 0);
	assert_int_equal(konce_group_create(g, 0), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_epoch(g), 1);
	assert_int_equal(s.views, 1);
	int64_t nonce = konce_group_propose(g, (const uint8_t *)"solo", 4, 10);
	assert_true(nonce > 0);
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_VIEW);
	assert_int_equal(ev.members, 1); /* the event's own view, not whatever the core is in when read */
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_COMMITTED);
	assert_int_equal(ev.seq, 1);
	assert_int_equal(ev.nonce, (uint64_t)nonce);
	assert_int_equal(ev.len, 4);
	assert_memory_equal(ev.data, "solo", 4);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.delivered_seq, 1);
	assert_int_equal(konce_group_propose(g, (const uint8_t *)"x", KONCE_CW_MAX_ENTRY + 1, 10), -EMSGSIZE);
	konce_group_free(g);
}

static void test_follower_commit(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	assert_int_equal(konce_group_coordinator(g), 1);
	konce_cw_msg m;
	/* Our proposal goes to the coordinator. */
	int64_t nonce = konce_group_propose(g, (const uint8_t *)"mine", 4, 1 * MSEC);
	assert_true(nonce > 0);
	assert_true(find_out(g, KONCE_CW_SUBMIT, B, &m));
	assert_int_equal(m.e[0].nonce, (uint64_t)nonce);
	assert_memory_equal(m.e[0].origin, A, KONCE_CW_ORIGIN);

	/* B proposes seq 1 (C's entry) and 2 (ours): persisted, then acked. */
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0);
	p.first = 1;
	p.count = 2;
	p.e[0] = entry(C, 5, "theirs");
	p.e[1] = entry(A, (uint64_t)nonce, "mine");
	assert_int_equal(input(g, B, &p, 2 * MSEC), 0);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.last_first, 1);
	assert_true(find_out(g, KONCE_CW_ACK, B, &m));
	assert_int_equal(m.u, 2);
	konce_group_event ev;
	assert_false(konce_group_poll_event(g, &ev)); /* nothing committed yet */

	/* A replay of the same PROPOSE appends nothing and is acked again. */
	assert_int_equal(input(g, B, &p, 3 * MSEC), 0);
	assert_int_equal(s.entries, 1);
	assert_true(find_out(g, KONCE_CW_ACK, B, &m));
	assert_int_equal(m.u, 2);

	/* COMMIT rides on the next message (a heartbeat from C here). */
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 1, 2);
	assert_int_equal(input(g, C, &hb, 4 * MSEC), 0);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_COMMITTED);
	assert_int_equal(ev.seq, 1);
	assert_memory_equal(ev.data, "theirs", 6);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.seq, 2);
	assert_int_equal(ev.nonce, (uint64_t)nonce);
	assert_false(konce_group_poll_event(g, &ev));
	assert_int_equal(s.delivered_seq, 2);

	/* A commit index past what we hold is capped at what we hold. */
	hb.commit = 99;
	assert_int_equal(input(g, C, &hb, 5 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(g), 2);

	/* A gap: seq 4 before 3 is not appended. */
	p.first = 4;
	p.count = 1;
	p.e[0] = entry(C, 6, "later");
	assert_int_equal(input(g, B, &p, 6 * MSEC), 0);
	assert_true(find_out(g, KONCE_CW_ACK, B, &m));
	assert_int_equal(m.u, 2);
	konce_group_free(g);
}

static void test_refusals(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	konce_cw_msg m = hdr(KONCE_CW_HEARTBEAT, 1, 0);
	assert_int_equal(input(g, X, &m, MSEC), -EPERM); /* not a member */
	uint8_t other[16] = "another-group!!";
	m.group = other;
	assert_int_equal(input(g, B, &m, MSEC), -EPERM);
	m.group = GROUP;
	uint8_t junk[10] = {1, 1, 0, 0};
	assert_int_equal(konce_group_input(g, B, junk, sizeof(junk), MSEC), -EBADMSG);
	/* PROPOSE from a member that is not the coordinator. */
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0);
	p.first = 1;
	p.count = 1;
	p.e[0] = entry(C, 1, "forged");
	assert_int_equal(input(g, C, &p, MSEC), -EPERM);
	assert_int_equal(s.entries, 0);
	/* A future epoch is not ours to act on. */
	konce_cw_msg f = hdr(KONCE_CW_HEARTBEAT, 5, 0);
	assert_int_equal(input(g, B, &f, MSEC), -ESTALE);
	/* A SUBMIT to a non-coordinator, and one whose origin is not its sender. */
	konce_cw_msg sub = hdr(KONCE_CW_SUBMIT, 1, 0);
	sub.count = 1;
	sub.e[0] = entry(C, 1, "x");
	assert_int_equal(input(g, C, &sub, MSEC), -EPERM);
	konce_group_free(g);

	/* At the coordinator (B's view of the same group): forged origin refused. */
	store s2 = {0};
	static uint8_t keys[3][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memcpy(keys[2], C, 32);
	konce_group *b = member(&s2, B, 3, (const uint8_t (*)[32])keys, 0);
	sub.e[0] = entry(A, 1, "not from A");
	assert_int_equal(input(b, C, &sub, MSEC), -EPERM);
	sub.e[0] = entry(C, 1, "from C");
	assert_int_equal(input(b, C, &sub, MSEC), 0);
	konce_cw_msg out;
	assert_true(find_out(b, KONCE_CW_PROPOSE, A, &out));
	assert_int_equal(out.first, 1);
	/* The same SUBMIT again (a duplicate) is not ordered twice. */
	assert_int_equal(input(b, C, &sub, 2 * MSEC), 0);
	assert_false(find_out(b, KONCE_CW_PROPOSE, A, &out));
	/* All three ack: committed, and the commit index is announced. */
	konce_cw_msg ack = hdr(KONCE_CW_ACK, 1, 0);
	ack.u = 1;
	assert_int_equal(input(b, A, &ack, 3 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 0);
	assert_int_equal(input(b, C, &ack, 3 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 1);
	assert_true(find_out(b, KONCE_CW_HEARTBEAT, A, &out));
	assert_int_equal(out.commit, 1);
	konce_group_free(b);
}

static void test_vote_freezes_epoch(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	konce_cw_msg m;
	konce_cw_msg prep = hdr(KONCE_CW_PREPARE, 1, 0);
	prep.u = 1 << 8 | 3; /* round 1, proposer C (index 2) */
	assert_int_equal(input(g, B, &prep, MSEC), 0); /* a ballot naming C, from B: ignored */
	assert_int_equal(s.votes, 0);
	assert_int_equal(input(g, C, &prep, MSEC), 0);
	assert_int_equal(s.votes, 1);
	assert_int_equal(s.promised, prep.u);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_VIEWCHANGE);
	assert_true(find_out(g, KONCE_CW_PROMISE, C, &m));
	assert_int_equal(m.u, prep.u);
	assert_int_equal(m.acc_ballot, 0);
	assert_int_equal(m.first, 1);
	/* A lower ballot is refused with the promised one. */
	konce_cw_msg low = hdr(KONCE_CW_PREPARE, 1, 0);
	low.u = 1 << 8 | 2;
	assert_int_equal(input(g, B, &low, MSEC), 0);
	assert_true(find_out(g, KONCE_CW_NACK, B, &m));
	assert_int_equal(m.u, prep.u);
	/* Frozen: a PROPOSE of epoch 1 is neither persisted nor acked. */
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0);
	p.first = 1;
	p.count = 1;
	p.e[0] = entry(B, 1, "too late");
	assert_int_equal(input(g, B, &p, 2 * MSEC), 0);
	assert_int_equal(s.entries, 0);
	assert_false(find_out(g, KONCE_CW_ACK, B, &m));
	/* ACCEPT of (2, {A, C}) from C: persisted, ACCEPTED. */
	static uint8_t keys[2][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], C, 32);
	konce_cw_msg acc = hdr(KONCE_CW_ACCEPT, 1, 0);
	acc.u = prep.u;
	acc.has_value = true;
	acc.v = (konce_cw_value){.epoch = 2, .n = 2, .keys = &keys[0][0], .used_invite = ZERO, .commit = 0, .first_seq = 1};
	assert_int_equal(input(g, C, &acc, 3 * MSEC), 0);
	assert_int_equal(s.acc_ballot, prep.u);
	assert_true(find_out(g, KONCE_CW_ACCEPTED, C, &m));
	/* NEWVIEW installs epoch 2; the coordinator is now C (2 mod 2 = 0 -> A? no: index 0 = A). */
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 2, 0);
	nv.has_value = true;
	nv.v = acc.v;
	assert_int_equal(input(g, C, &nv, 4 * MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_epoch(g), 2);
	assert_int_equal(konce_group_coordinator(g), 0);
	/* B, removed, is told so when it speaks with the old epoch. */
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 1, 0);
	assert_int_equal(input(g, B, &hb, 5 * MSEC), -EPERM);
	assert_true(find_out(g, KONCE_CW_NEWVIEW, B, &m));
	assert_int_equal(m.v.epoch, 2);
	/* An old NEWVIEW again changes nothing. */
	assert_int_equal(input(g, C, &nv, 6 * MSEC), -ESTALE);
	konce_group_free(g);
}

static void test_persist_failure_sends_nothing(void **st)
{
	(void)st;
	store s = {.fail_entries = -ENOSPC};
	konce_group *g = abc(&s);
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0), m;
	p.first = 1;
	p.count = 1;
	p.e[0] = entry(C, 1, "x");
	assert_int_equal(input(g, B, &p, MSEC), 0);
	assert_false(find_out(g, KONCE_CW_ACK, B, &m));
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_PERSIST_FAILED);
	assert_int_equal(ev.err, -ENOSPC);
	konce_group_free(g);
}

/* An asynchronous store: nothing that follows a queued record leaves before it is durable. */
static void test_queued_persist_waits(void **st)
{
	(void)st;
	store s = {.queued = true};
	konce_group *g = abc(&s);
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0), m;
	uint8_t to[32];
	p.first = 1;
	p.count = 1;
	p.e[0] = entry(C, 1, "x");
	uint64_t before = konce_group_persist_issued(g);
	assert_int_equal(input(g, B, &p, MSEC), 0);
	assert_int_equal(s.entries, 1);
	assert_int_equal(konce_group_persist_issued(g), before + 1);
	assert_false(next_out(g, to, &m)); /* the ACK waits for the entry to be durable */
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 1, 1);
	assert_int_equal(input(g, C, &hb, 2 * MSEC), 0);
	konce_group_event ev;
	assert_false(konce_group_poll_event(g, &ev)); /* committed, but not durable here yet */
	assert_int_equal(konce_group_persisted(g, before + 2), -EINVAL); /* no such call yet */
	assert_int_equal(konce_group_persisted(g, before + 1), 0);
	assert_true(next_out(g, to, &m));
	assert_int_equal(m.type, KONCE_CW_ACK);
	assert_int_equal(m.u, 1);
	assert_memory_equal(to, B, 32);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_COMMITTED);
	assert_int_equal(ev.seq, 1);
	konce_group_free(g);

	/* A lone member: its own entry is delivered only once durable, and a view change's promise
	 * leaves only once the vote is durable. */
	store s2 = {.queued = true};
	g = member(&s2, A, 0, NULL, 0);
	assert_int_equal(konce_group_create(g, 0), 0);
	assert_false(konce_group_poll_event(g, &ev)); /* the VIEW event follows put_view */
	assert_true(konce_group_propose(g, (const uint8_t *)"solo", 4, 10) > 0);
	assert_false(konce_group_poll_event(g, &ev));
	assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_VIEW);
	assert_int_equal(ev.members, 1); /* the event's own view, not whatever the core is in when read */
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_COMMITTED);
	assert_memory_equal(ev.data, "solo", 4);
	konce_group_free(g);

	store s3 = {.queued = true};
	g = abc(&s3);
	konce_cw_msg prep = hdr(KONCE_CW_PREPARE, 1, 0);
	prep.u = 1 << 8 | 2;
	assert_int_equal(input(g, B, &prep, MSEC), 0);
	assert_int_equal(s3.promised, prep.u);
	assert_false(next_out(g, to, &m));
	assert_int_equal(konce_group_persisted(g, konce_group_persist_issued(g)), 0);
	assert_true(find_out(g, KONCE_CW_PROMISE, B, &m));
	konce_group_free(g);
}

/* The event ring never drops: a caller that does not poll events is pushed back, and nothing is
 * lost. */
static void test_event_backpressure(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	static uint8_t secret[32], y[32], h[32];
	memset(secret, 0x45, 32);
	memset(y, 0x77, 32);
	konce_ctoken_secret_hash(h, secret);
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0), m;
	p.first = 1;
	p.count = 1;
	p.e[0] = invite_entry(B, h, 0);
	assert_int_equal(input(g, B, &p, MSEC / 2), 0);
	konce_cw_msg ask = join_ask(1, y, secret);
	unsigned taken = 0;
	uint64_t t = MSEC;
	for (unsigned k = 0; k < KONCE_GROUP_EV_RING; k++, t += MSEC) {
		int rc = input(g, B, &ask, t);
		if (rc == -ENOBUFS)
			break;
		assert_int_equal(rc, 0);
		taken++;
		while (find_out(g, KONCE_CW_JOIN_VOTE, B, &m)) /* messages flow; events are not polled */
			;
	}
	assert_int_equal(taken, KONCE_GROUP_EV_RING - KONCE_GROUP_EV_RESERVE + 1);
	assert_int_equal(konce_group_propose(g, (const uint8_t *)"p", 1, t), -ENOBUFS);
	konce_group_timer(g, t + 1000 * MSEC); /* does nothing: no heartbeat, no suspicion */
	uint8_t to[32];
	assert_false(next_out(g, to, &m));
	konce_group_event ev;
	unsigned got = 0;
	while (konce_group_poll_event(g, &ev)) {
		if (ev.type == KONCE_GROUP_EV_COMMITTED)
			continue; /* the invitation */
		assert_int_equal(ev.type, KONCE_GROUP_EV_JOIN_REQUESTED);
		assert_memory_equal(ev.key, y, 32);
		got++;
	}
	assert_int_equal(got, taken);
	assert_int_equal(input(g, B, &ask, t + 1001 * MSEC), 0);
	assert_true(konce_group_propose(g, (const uint8_t *)"p", 1, t + 1001 * MSEC) > 0);
	konce_group_free(g);
}

/* If one call ever raised more events than the ring holds, the rest are counted, never dropped
 * silently: OVERFLOW follows the ring, and the core takes no call until it is drained. */
static void test_event_overflow(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	for (unsigned k = 0; k < KONCE_GROUP_EV_RING + 5; k++) {
		konce_group_event ev = {.type = KONCE_GROUP_EV_HALTED, .epoch = k};
		cg_event(g, &ev);
	}
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 1, 0);
	assert_int_equal(input(g, B, &hb, MSEC), -ENOBUFS);
	konce_group_event ev;
	for (unsigned k = 0; k < KONCE_GROUP_EV_RING; k++) {
		assert_true(konce_group_poll_event(g, &ev));
		assert_int_equal(ev.type, KONCE_GROUP_EV_HALTED);
		assert_int_equal(ev.epoch, k); /* the oldest first: nothing was dropped from the front */
	}
	assert_int_equal(input(g, B, &hb, MSEC), -ENOBUFS); /* still owed the OVERFLOW */
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OVERFLOW);
	assert_int_equal(ev.seq, 5);
	assert_false(konce_group_poll_event(g, &ev));
	assert_int_equal(input(g, B, &hb, 2 * MSEC), 0);
	konce_group_free(g);
}

static void test_two_cannot_evict(void **st)
{
	(void)st;
	store s = {0};
	static uint8_t keys[2][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	konce_group *g = member(&s, A, 2, (const uint8_t (*)[32])keys, 0);
	run_silent(g, 0, 10000 * MSEC);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_VIEWCHANGE);
	assert_true(konce_group_halted(g));
	assert_int_equal(konce_group_epoch(g), 1);
	const uint8_t (*k)[32];
	assert_int_equal(konce_group_members(g, &k), 2);
	konce_group_event ev;
	bool halted = false;
	while (konce_group_poll_event(g, &ev))
		halted |= ev.type == KONCE_GROUP_EV_HALTED;
	assert_true(halted);
	konce_group_free(g);
}

static void test_behind_asks_for_view(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	konce_cw_msg m, hb = hdr(KONCE_CW_HEARTBEAT, 3, 0);
	/* X is in a later view we do not know: we answer with our epoch, at most every 300 ms. */
	assert_int_equal(input(g, X, &hb, 10 * MSEC), -ESTALE);
	assert_true(find_out(g, KONCE_CW_HEARTBEAT, X, &m));
	assert_int_equal(m.epoch, 1);
	assert_int_equal(input(g, X, &hb, 20 * MSEC), -ESTALE);
	assert_false(find_out(g, KONCE_CW_HEARTBEAT, X, &m));
	assert_int_equal(input(g, X, &hb, 400 * MSEC), -ESTALE);
	assert_true(find_out(g, KONCE_CW_HEARTBEAT, X, &m));
	konce_group_free(g);
}

static void test_evicted_passes_view_on(void **st)
{
	(void)st;
	store s = {0};
	konce_group *g = abc(&s);
	static uint8_t keys[2][32];
	memcpy(keys[0], B, 32);
	memcpy(keys[1], C, 32);
	konce_cw_msg nv = hdr(KONCE_CW_NEWVIEW, 2, 0), m;
	nv.has_value = true;
	nv.v = (konce_cw_value){.epoch = 2, .n = 2, .keys = &keys[0][0], .used_invite = ZERO, .commit = 0, .first_seq = 1};
	assert_int_equal(input(g, B, &nv, MSEC), 0);
	assert_int_equal(konce_group_state(g), KONCE_GROUP_OUT);
	konce_group_event ev;
	assert_true(konce_group_poll_event(g, &ev));
	assert_int_equal(ev.type, KONCE_GROUP_EV_OUT);
	assert_int_equal(ev.out_reason, KONCE_GROUP_OUT_EVICTED);
	/* C missed that NEWVIEW and still speaks epoch 1 (its PREPARE, say): we pass the view on. */
	konce_cw_msg prep = hdr(KONCE_CW_PREPARE, 1, 0);
	prep.u = 2 << 8 | 3;
	assert_int_equal(input(g, C, &prep, 2 * MSEC), -EINVAL);
	assert_true(find_out(g, KONCE_CW_NEWVIEW, C, &m));
	assert_int_equal(m.v.epoch, 2);
	assert_int_equal(m.v.n, 2);
	/* Nobody else hears it, and we take part in nothing. */
	assert_int_equal(input(g, X, &prep, 500 * MSEC), -EINVAL);
	assert_false(find_out(g, KONCE_CW_NEWVIEW, NULL, &m));
	assert_int_equal(s.votes, 0);
	konce_group_free(g);
}

/* Coordinator B of {A, B, C} with n entries proposed in one go: the PROPOSEs it sends to A, in
 * order (their first seq and count), and its persist calls. */
static unsigned propose_n(konce_group *b, store *s, unsigned n, uint64_t firsts[], unsigned counts[])
{
	konce_group_out o;
	while (konce_group_poll(b, &o)) /* what the restore sent */
		;
	unsigned before = s->entries, k = 0;
	for (unsigned i = 0; i < n; i++) {
		char d[16];
		snprintf(d, sizeof d, "e%u", i);
		assert_true(konce_group_propose(b, (const uint8_t *)d, strlen(d), MSEC) > 0);
	}
	uint8_t to[32];
	konce_cw_msg m;
	while (next_out(b, to, &m))
		if (m.type == KONCE_CW_PROPOSE && !memcmp(to, A, 32)) {
			assert_true(k < n);
			firsts[k] = m.first;
			counts[k++] = m.count;
		}
	assert_int_equal(s->entries - before, k);
	return k;
}

static void test_max_batch(void **st)
{
	(void)st;
	static uint8_t keys[3][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memcpy(keys[2], C, 32);
	uint64_t firsts[8];
	unsigned counts[8];

	/* The default: the five proposals go out in one PROPOSE, one persist call. */
	store s0 = {0};
	konce_group *b = member(&s0, B, 3, (const uint8_t (*)[32])keys, 0);
	assert_int_equal(propose_n(b, &s0, 5, firsts, counts), 1);
	assert_int_equal(firsts[0], 1);
	assert_int_equal(counts[0], 5);
	konce_group_free(b);

	/* Out of range: refused, the setting unchanged. */
	store s = {0};
	b = member(&s, B, 3, (const uint8_t (*)[32])keys, 0);
	assert_int_equal(konce_group_set_max_batch(b, 0), -EINVAL);
	assert_int_equal(konce_group_set_max_batch(b, KONCE_CW_MAX_BATCH + 1), -EINVAL);
	assert_int_equal(konce_group_set_max_batch(b, KONCE_CW_MAX_BATCH), 0);
	/* Unbatched: one entry per PROPOSE and per persist call, in seq order. */
	assert_int_equal(konce_group_set_max_batch(b, 1), 0);
	assert_int_equal(propose_n(b, &s, 5, firsts, counts), 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(firsts[i], i + 1);
		assert_int_equal(counts[i], 1);
	}
	/* A retransmission to a member that has not acked carries one entry too. */
	konce_group_timer(b, (KONCE_GROUP_RETX_MS + 5) * MSEC);
	uint8_t to[32];
	konce_cw_msg m;
	unsigned retx = 0;
	while (next_out(b, to, &m))
		if (m.type == KONCE_CW_PROPOSE) {
			assert_int_equal(m.count, 1);
			retx++;
		}
	assert_true(retx > 0);
	/* A and C ack everything: all five commit, delivered in order. */
	konce_cw_msg ack = hdr(KONCE_CW_ACK, 1, 0);
	ack.u = 5;
	uint64_t t = (KONCE_GROUP_RETX_MS + 6) * MSEC;
	assert_int_equal(input(b, A, &ack, t), 0);
	assert_int_equal(input(b, C, &ack, t), 0);
	assert_int_equal(konce_group_commit_index(b), 5);
	konce_group_event ev;
	unsigned seq = 0;
	while (konce_group_poll_event(b, &ev)) {
		if (ev.type != KONCE_GROUP_EV_COMMITTED)
			continue;
		char d[16];
		snprintf(d, sizeof d, "e%u", seq);
		assert_int_equal(ev.seq, ++seq);
		assert_int_equal(ev.len, strlen(d));
		assert_memory_equal(ev.data, d, ev.len);
	}
	assert_int_equal(seq, 5);
	konce_group_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_follower_commit),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_vote_freezes_epoch),
		cmocka_unit_test(test_persist_failure_sends_nothing),
		cmocka_unit_test(test_queued_persist_waits),
		cmocka_unit_test(test_event_backpressure),
		cmocka_unit_test(test_event_overflow),
		cmocka_unit_test(test_two_cannot_evict),
		cmocka_unit_test(test_behind_asks_for_view),
		cmocka_unit_test(test_evicted_passes_view_on),
		cmocka_unit_test(test_max_batch),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
