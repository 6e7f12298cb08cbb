/* test_consensus_overlap.c - the coordinator's own write overlaps its members' (cgroup.h
 * invariants 1, 6 and 8), driven by hand (tests/unit/cgroup_fixture.h).
 *
 * The member under test is B, the coordinator of {A, B, C} at epoch 1 (index 1 mod 3), on a store
 * that queues every record (durable only when the test calls konce_group_persisted()); the test
 * plays A and C with encoded messages. */
#include "tests/unit/cgroup_fixture.h"

static const uint8_t (*abc_keys(void))[32]
{
	static uint8_t keys[3][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memcpy(keys[2], C, 32);
	return (const uint8_t (*)[32])keys;
}

/* The view {A, B, C} at epoch 1. */
static konce_cw_value abc_value(void)
{
	return (konce_cw_value){.epoch = 1, .n = 3, .keys = &abc_keys()[0][0], .used_invite = ZERO, .first_seq = 1};
}

/* A bare member's config (no policy, no snapshot) for self over s. */
static konce_group_config bare_config(store *s, const uint8_t *self)
{
	konce_group_config cfg = {0};
	memcpy(cfg.group, GROUP, 16);
	memcpy(cfg.self, self, 32);
	cfg.persist = (konce_group_persist){s, p_view, p_vote, p_entries, p_delivered, p_snapshot};
	return cfg;
}

static int ack(konce_group *b, const uint8_t *from, uint64_t epoch, uint64_t last, uint64_t now)
{
	konce_cw_msg m = hdr(KONCE_CW_ACK, epoch, 0);
	m.u = last;
	return input(b, from, &m, now);
}

static unsigned count_committed(konce_group *g, uint64_t *last_seq)
{
	konce_group_event ev;
	unsigned k = 0;
	while (konce_group_poll_event(g, &ev))
		if (ev.type == KONCE_GROUP_EV_COMMITTED) {
			k++;
			*last_seq = ev.seq;
		}
	return k;
}

/* PROPOSE leaves before the coordinator's own entry is durable; nothing commits until it is. */
static void test_propose_before_own_persist(void **st)
{
	(void)st;
	store s = {.queued = true};
	konce_group *b = member(&s, B, 3, abc_keys(), 0);
	konce_group_out o;
	while (konce_group_poll(b, &o))
		;
	uint64_t done0 = konce_group_persist_issued(b);
	int64_t nonce = konce_group_propose(b, (const uint8_t *)"x", 1, MSEC);
	assert_true(nonce > 0);
	konce_cw_msg m;
	/* The PROPOSE to A is out at once, while the entry's persist call is issued but not durable. */
	assert_true(find_out(b, KONCE_CW_PROPOSE, A, &m));
	assert_int_equal(m.first, 1);
	assert_int_equal(m.count, 1);
	assert_int_equal(m.e[0].nonce, (uint64_t)nonce);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.last_first, 1);
	assert_int_equal(konce_group_persist_issued(b), done0 + 1);
	assert_int_equal(konce_group_last(b), 1);

	/* Both members ack: still not committed, the coordinator's own copy is not durable. */
	assert_int_equal(ack(b, A, 1, 1, 2 * MSEC), 0);
	assert_int_equal(ack(b, C, 1, 1, 2 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 0);
	konce_group_mstatus ms;
	assert_int_equal(konce_group_member_info(b, 1, &ms), 0);
	assert_true(ms.acked_known);
	assert_int_equal(ms.acked, 0);
	assert_int_equal(konce_group_member_info(b, 0, &ms), 0);
	assert_int_equal(ms.acked, 1);
	uint64_t seq = 0;
	assert_int_equal(count_committed(b, &seq), 0);
	/* Its own persist reported: committed, announced, delivered. */
	assert_int_equal(konce_group_persisted(b, konce_group_persist_issued(b)), 0);
	assert_int_equal(konce_group_commit_index(b), 1);
	assert_int_equal(konce_group_member_info(b, 1, &ms), 0);
	assert_int_equal(ms.acked, 1);
	assert_true(find_out(b, KONCE_CW_HEARTBEAT, C, &m));
	assert_int_equal(m.commit, 1);
	assert_int_equal(count_committed(b, &seq), 1);
	assert_int_equal(seq, 1);

	/* The other order: its own copy durable first, then the last member's ack commits. */
	assert_true(konce_group_propose(b, (const uint8_t *)"y", 1, 3 * MSEC) > 0);
	assert_true(find_out(b, KONCE_CW_PROPOSE, C, &m));
	assert_int_equal(m.first, 2);
	assert_int_equal(konce_group_persisted(b, konce_group_persist_issued(b)), 0);
	assert_int_equal(konce_group_commit_index(b), 1);
	assert_int_equal(ack(b, A, 1, 2, 4 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 1);
	assert_int_equal(ack(b, C, 1, 2, 4 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 2);
	assert_int_equal(count_committed(b, &seq), 1);
	assert_int_equal(seq, 2);
	konce_group_free(b);
}

/* Two batches in flight, the coordinator's writes durable one at a time: the commit index follows
 * the durable prefix of its own log, never what is only in flight. */
static void test_commit_follows_own_durable_prefix(void **st)
{
	(void)st;
	store s = {.queued = true};
	konce_group *b = member(&s, B, 3, abc_keys(), 0);
	konce_cw_msg m;
	uint64_t base = konce_group_persist_issued(b);
	assert_true(konce_group_propose(b, (const uint8_t *)"1", 1, MSEC) > 0);
	assert_true(find_out(b, KONCE_CW_PROPOSE, A, &m)); /* seq 1: persist call base + 1 */
	assert_true(konce_group_propose(b, (const uint8_t *)"2", 1, MSEC) > 0);
	assert_true(find_out(b, KONCE_CW_PROPOSE, A, &m)); /* seq 2: persist call base + 2 */
	assert_int_equal(m.first, 2);
	assert_int_equal(konce_group_persist_issued(b), base + 2);
	assert_int_equal(ack(b, A, 1, 2, 2 * MSEC), 0);
	assert_int_equal(ack(b, C, 1, 2, 2 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 0);
	assert_int_equal(konce_group_persisted(b, base + 1), 0);
	assert_int_equal(konce_group_commit_index(b), 1);
	assert_int_equal(konce_group_persisted(b, base + 2), 0);
	assert_int_equal(konce_group_commit_index(b), 2);
	konce_group_free(b);
}

/* The danger of invariant 8: B sends PROPOSE(1, x) and dies before x is durable; A holds x at 1.
 * Restarted in epoch 1 from its store (which ends before seq 1), B must not give seq 1 (or any
 * seq) to another entry: it orders nothing, hands the epoch over by a view change, and the new
 * view carries the x that A holds, so A, B and C all hold x at seq 1. */
static void test_restart_between_propose_and_persist(void **st)
{
	(void)st;
	store s = {.queued = true};
	konce_group *b = member(&s, B, 3, abc_keys(), 0);
	konce_cw_msg m, x;
	int64_t nx = konce_group_propose(b, (const uint8_t *)"x", 1, MSEC);
	assert_true(nx > 0);
	assert_true(find_out(b, KONCE_CW_PROPOSE, A, &x));
	assert_int_equal(x.first, 1);
	static uint8_t xdata[1];
	memcpy(xdata, x.e[0].data, 1);
	x.e[0].data = xdata;
	/* Crash: the queued entry is lost with the process.  The store holds the view alone. */
	konce_group_free(b);
	s.queued = false;
	konce_cw_value v = abc_value();
	uint8_t vb[KONCE_CW_MAX_VALUE];
	size_t vlen = konce_cw_value_encode(&v, vb, sizeof(vb));
	konce_group_config cfg = bare_config(&s, B);
	b = konce_group_new(&cfg);
	assert_non_null(b);
	assert_int_equal(konce_group_restore(b, vb, vlen, 0, 0, 0, NULL, 0, 0, 10 * MSEC), 0);
	assert_int_equal(konce_group_state(b), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_last(b), 0);

	/* A new proposal and a SUBMIT from C: neither gets a seq in epoch 1. */
	unsigned entries = s.entries;
	assert_true(konce_group_propose(b, (const uint8_t *)"y", 1, 11 * MSEC) > 0);
	konce_cw_msg sub = hdr(KONCE_CW_SUBMIT, 1, 0);
	sub.count = 1;
	sub.e[0] = entry(C, 7, "z");
	assert_int_equal(input(b, C, &sub, 11 * MSEC), 0);
	assert_false(find_out(b, KONCE_CW_PROPOSE, NULL, &m));
	assert_int_equal(s.entries, entries);
	assert_int_equal(konce_group_last(b), 0);
	/* A acks the x it holds at 1: nothing commits (B holds nothing at 1). */
	assert_int_equal(ack(b, A, 1, 1, 12 * MSEC), 0);
	assert_int_equal(ack(b, C, 1, 0, 12 * MSEC), 0);
	assert_int_equal(konce_group_commit_index(b), 0);

	/* Its next timer hands the epoch over: PREPARE, and still no PROPOSE. */
	konce_group_timer(b, 30 * MSEC);
	uint8_t to[32];
	konce_cw_msg prep = hdr(0, 0, 0);
	bool prepared = false;
	while (next_out(b, to, &m)) {
		assert_int_not_equal(m.type, KONCE_CW_PROPOSE);
		if (m.type == KONCE_CW_PREPARE && !prepared) {
			prep = m;
			prepared = true;
		}
	}
	assert_true(prepared);
	assert_int_equal(prep.epoch, 1);
	assert_int_equal(konce_group_state(b), KONCE_GROUP_VIEWCHANGE);
	/* A promises with its log (x at 1); B (and A) make a strict majority: ACCEPT carries x. */
	konce_cw_msg pr = hdr(KONCE_CW_PROMISE, 1, 0);
	pr.u = prep.u;
	pr.first = 1;
	pr.count = 1;
	pr.e[0] = x.e[0];
	assert_int_equal(input(b, A, &pr, 31 * MSEC), 0);
	konce_cw_msg acc;
	assert_true(find_out(b, KONCE_CW_ACCEPT, A, &acc));
	assert_int_equal(acc.v.epoch, 2);
	assert_int_equal(acc.v.n, 3);
	assert_int_equal(acc.v.commit, 0);
	assert_int_equal(acc.v.count, 1);
	assert_int_equal(acc.v.e[0].nonce, (uint64_t)nx);
	assert_memory_equal(acc.v.e[0].data, "x", 1);
	konce_cw_msg acd = hdr(KONCE_CW_ACCEPTED, 1, 0);
	acd.u = prep.u;
	assert_int_equal(input(b, A, &acd, 32 * MSEC), 0);
	/* Decided and installed: epoch 2 (coordinator C), x at seq 1 in B's log as in A's. */
	assert_int_equal(konce_group_epoch(b), 2);
	assert_int_equal(konce_group_state(b), KONCE_GROUP_NORMAL);
	assert_int_equal(konce_group_coordinator(b), 2);
	assert_int_equal(konce_group_last(b), 1);
	/* B's own y goes to the new coordinator, to be ordered after x. */
	konce_group_timer(b, 200 * MSEC);
	bool submitted = false;
	while (next_out(b, to, &m)) {
		assert_int_not_equal(m.type, KONCE_CW_PROPOSE);
		if (m.type == KONCE_CW_SUBMIT && !memcmp(to, C, 32) && m.e[0].len == 1 && m.e[0].data[0] == 'y')
			submitted = true;
	}
	assert_true(submitted);
	/* C commits x at 1 in epoch 2: B delivers x. */
	konce_cw_msg hb = hdr(KONCE_CW_HEARTBEAT, 2, 1);
	assert_int_equal(input(b, C, &hb, 210 * MSEC), 0);
	konce_group_event ev;
	bool got = false;
	while (konce_group_poll_event(b, &ev))
		if (ev.type == KONCE_GROUP_EV_COMMITTED) {
			assert_int_equal(ev.seq, 1);
			assert_int_equal(ev.nonce, (uint64_t)nx);
			assert_memory_equal(ev.data, "x", 1);
			got = true;
		}
	assert_true(got);
	konce_group_free(b);
}

/* Sealing is for a coordinator restored in its own epoch only: a member that is not the
 * coordinator, and a lone member, restart and go on; a first start (konce_group_found) proposes. */
static void test_seal_only_restarted_coordinator(void **st)
{
	(void)st;
	konce_cw_value v = abc_value();
	uint8_t vb[KONCE_CW_MAX_VALUE];
	size_t vlen = konce_cw_value_encode(&v, vb, sizeof(vb));
	store s = {0};
	konce_group_config cfg = bare_config(&s, A);
	/* A (not the coordinator), restarted: no view change on its timer. */
	konce_group *a = konce_group_new(&cfg);
	assert_int_equal(konce_group_restore(a, vb, vlen, 0, 0, 0, NULL, 0, 0, 0), 0);
	konce_group_timer(a, 30 * MSEC);
	konce_cw_msg m;
	assert_false(find_out(a, KONCE_CW_PREPARE, NULL, &m));
	assert_int_equal(konce_group_state(a), KONCE_GROUP_NORMAL);
	konce_group_free(a);
	/* found() refuses a view that is not a first one. */
	konce_cw_value v2 = v;
	v2.epoch = 2;
	vlen = konce_cw_value_encode(&v2, vb, sizeof(vb));
	memcpy(cfg.self, B, 32);
	konce_group *b = konce_group_new(&cfg);
	assert_int_equal(konce_group_found(b, vb, vlen, 0), -EINVAL);
	konce_group_free(b);
	/* B restored at epoch 2 is not its coordinator (2 mod 3 = C): not sealed either. */
	b = konce_group_new(&cfg);
	assert_int_equal(konce_group_restore(b, vb, vlen, 0, 0, 0, NULL, 0, 0, 0), 0);
	konce_group_timer(b, 30 * MSEC);
	assert_false(find_out(b, KONCE_CW_PREPARE, NULL, &m));
	konce_group_free(b);
	/* A lone member restored proposes and commits in its own epoch. */
	konce_cw_value v1 = {.epoch = 1, .n = 1, .keys = B, .used_invite = ZERO, .first_seq = 1};
	vlen = konce_cw_value_encode(&v1, vb, sizeof(vb));
	b = konce_group_new(&cfg);
	assert_int_equal(konce_group_restore(b, vb, vlen, 0, 0, 0, NULL, 0, 0, 0), 0);
	assert_true(konce_group_propose(b, (const uint8_t *)"solo", 4, MSEC) > 0);
	uint64_t seq = 0;
	assert_int_equal(count_committed(b, &seq), 1);
	assert_int_equal(konce_group_epoch(b), 1);
	konce_group_free(b);
}

/* A restarted coordinator hands its epoch over and may have missed an invitation's INVITE while it
 * was down: it does not refuse a JOIN with an invitation it does not know finally (the next
 * coordinator may admit it), nor does any coordinator (cjoin.c): both answer REFUSED(UNKNOWN), on
 * which the joiner asks again. */
static void test_sealed_does_not_refuse_unknown(void **st)
{
	(void)st;
	konce_cw_value v = abc_value();
	uint8_t vb[KONCE_CW_MAX_VALUE], secret[32];
	size_t vlen = konce_cw_value_encode(&v, vb, sizeof(vb));
	memset(secret, 0x5e, sizeof(secret));
	konce_cw_msg j = hdr(KONCE_CW_JOIN, 0, 0), m;
	j.secret = secret;
	store s = {0};
	konce_group_config cfg = bare_config(&s, B);
	konce_group *b = konce_group_new(&cfg);
	assert_int_equal(konce_group_restore(b, vb, vlen, 0, 0, 0, NULL, 0, 0, 0), 0);
	assert_int_equal(input(b, X, &j, MSEC), 0);
	assert_true(find_out(b, KONCE_CW_REFUSED, X, &m));
	assert_int_equal(m.flag, KONCE_CW_R_UNKNOWN);
	konce_group_free(b);
	b = konce_group_new(&cfg);
	assert_int_equal(konce_group_found(b, vb, vlen, 0), 0);
	assert_int_equal(input(b, X, &j, MSEC), 0);
	assert_true(find_out(b, KONCE_CW_REFUSED, X, &m));
	assert_int_equal(m.flag, KONCE_CW_R_UNKNOWN);
	konce_group_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_propose_before_own_persist),
		cmocka_unit_test(test_commit_follows_own_durable_prefix),
		cmocka_unit_test(test_restart_between_propose_and_persist),
		cmocka_unit_test(test_seal_only_restarted_coordinator),
		cmocka_unit_test(test_sealed_does_not_refuse_unknown),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
