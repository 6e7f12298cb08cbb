/* test_consensus_core.c - one consensus member driven by hand: its transitions and what it refuses.
 *
 * The member is key A in a view {A, B, C} at epoch 1 (coordinator B, index 1 mod 3), restored from
 * an in-memory store whose calls are recorded; the test plays B and C with encoded messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/cgroup.h"
#include "consensus/cgroup_int.h" /* cg_event: to overflow the event ring directly */
#include "consensus/ctoken.h"

#define MSEC 1000ULL

static uint8_t GROUP[16] = "unit-test-group";
static uint8_t A[32], B[32], C[32], X[32];
static const uint8_t ZERO[32];

typedef struct store {
	unsigned views, votes, entries, delivered;
	uint64_t promised, acc_ballot, last_first, delivered_seq;
	int fail_entries;
	bool queued; /* answer KONCE_GROUP_PERSIST_QUEUED: durable only when the test says so */
	unsigned snapshots;
	uint64_t snap_seq;
	size_t snap_len;
} store;

static int done(const store *s) { return s->queued ? KONCE_GROUP_PERSIST_QUEUED : 0; }
static int p_view(void *c, const uint8_t *v, size_t l) { (void)v; (void)l; ((store *)c)->views++; return done(c); }
static int p_vote(void *c, uint64_t b, uint64_t pr, uint64_t ab, const uint8_t *v, size_t l)
{
	store *s = c;
	(void)b, (void)v, (void)l;
	s->votes++;
	s->promised = pr;
	s->acc_ballot = ab;
	return done(s);
}
static int p_entries(void *c, uint64_t first, unsigned n, const uint8_t *b, size_t l)
{
	store *s = c;
	(void)n, (void)b, (void)l;
	if (s->fail_entries)
		return s->fail_entries;
	s->entries++;
	s->last_first = first;
	return done(s);
}
static int p_delivered(void *c, uint64_t seq)
{
	((store *)c)->delivered++;
	((store *)c)->delivered_seq = seq;
	return done(c);
}

static int p_snapshot(void *c, uint64_t seq, const uint8_t *d, size_t l)
{
	store *s = c;
	(void)d;
	s->snapshots++;
	s->snap_seq = seq;
	s->snap_len = l;
	return done(s);
}

static bool veto_x(void *ctx, const uint8_t k[32]) { (void)ctx; return memcmp(k, X, 32) != 0; }

static const char APP_STATE[] = "the application state";
static unsigned snapshot_calls;
static int app_snapshot(void *ctx, const uint8_t **data, size_t *len)
{
	(void)ctx;
	snapshot_calls++;
	*data = (const uint8_t *)APP_STATE;
	*len = sizeof(APP_STATE);
	return 0;
}

static konce_group *member(store *st, const uint8_t *self, unsigned n, const uint8_t (*keys)[32], uint64_t now)
{
	konce_group_config cfg = {.policy = veto_x, .snapshot = app_snapshot};
	memcpy(cfg.group, GROUP, 16);
	memcpy(cfg.self, self, 32);
	cfg.persist = (konce_group_persist){st, p_view, p_vote, p_entries, p_delivered, p_snapshot};
	konce_group *g = konce_group_new(&cfg);
	assert_non_null(g);
	if (!n)
		return g;
	konce_cw_value v = {.epoch = 1, .n = (uint8_t)n, .keys = &keys[0][0], .used_invite = ZERO, .commit = 0,
			    .first_seq = 1};
	uint8_t vb[KONCE_CW_MAX_VALUE];
	size_t len = konce_cw_value_encode(&v, vb, sizeof(vb));
	assert_int_equal(konce_group_restore(g, vb, len, 0, 0, 0, NULL, 0, 0, now), 0);
	return g;
}

static konce_group *abc(store *st)
{
	static uint8_t keys[3][32];
	memcpy(keys[0], A, 32);
	memcpy(keys[1], B, 32);
	memcpy(keys[2], C, 32);
	konce_group *g = member(st, A, 3, (const uint8_t (*)[32])keys, 0);
	konce_group_out o;
	while (konce_group_poll(g, &o)) /* the ACK a restart sends its coordinator */
		;
	return g;
}

static konce_cw_msg hdr(uint8_t type, uint64_t epoch, uint64_t commit)
{
	konce_cw_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.group = GROUP;
	m.epoch = epoch;
	m.commit = commit;
	return m;
}

static int input(konce_group *g, const uint8_t *from, const konce_cw_msg *m, uint64_t now)
{
	static uint8_t b[KONCE_CW_MAX_MSG];
	size_t n = konce_cw_encode(m, b, sizeof(b));
	assert_true(n > 0);
	return konce_group_input(g, from, b, n, now);
}

/* The next outgoing message, parsed; false if none. */
static bool next_out(konce_group *g, uint8_t to[32], konce_cw_msg *m)
{
	konce_group_out o;
	static uint8_t copy[KONCE_CW_MAX_MSG];
	if (!konce_group_poll(g, &o))
		return false;
	memcpy(to, o.to, 32);
	memcpy(copy, o.bytes, o.len);
	assert_int_equal(konce_cw_parse(m, copy, o.len), KONCE_CW_OK);
	return true;
}

/* Drop every queued message except the first of `type` (to `to` if not NULL); true if found. */
static bool find_out(konce_group *g, uint8_t type, const uint8_t *to, konce_cw_msg *out)
{
	uint8_t dst[32];
	static konce_cw_msg m;
	bool found = false;
	while (next_out(g, dst, &m))
		if (!found && m.type == type && (!to || !memcmp(dst, to, 32))) {
			*out = m;
			found = true;
		}
	return found;
}

/* An INVITE entry: the hash, then the expiry (unix seconds, big-endian). */
static konce_cw_entry invite_entry(const uint8_t *origin, const uint8_t h[32], uint64_t expires)
{
	static uint8_t d[4][KONCE_CW_INVITE_LEN];
	static unsigned k;
	uint8_t *b = d[k++ % 4];
	memcpy(b, h, 32);
	for (unsigned i = 0; i < 8; i++)
		b[32 + i] = (uint8_t)(expires >> (56 - 8 * i));
	return (konce_cw_entry){.kind = KONCE_CW_E_INVITE, .origin = origin, .nonce = 1, .len = KONCE_CW_INVITE_LEN,
				.data = b};
}

static konce_cw_entry entry(const uint8_t *origin, uint64_t nonce, const char *text)
{
	return (konce_cw_entry){.kind = KONCE_CW_E_APP, .origin = origin, .nonce = nonce, .len = (uint16_t)strlen(text),
				.data = (const uint8_t *)text};
}

static int setup(void **st)
{
	(void)st;
	memset(A, 0xa0, 32);
	memset(B, 0xb0, 32);
	memset(C, 0xc0, 32);
	memset(X, 0xee, 32);
	return 0;
}

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
	konce_cw_msg ask = hdr(KONCE_CW_JOIN_ASK, 1, 1);
	ask.key = y;
	ask.secret = secret;
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
	assert_int_equal(s.snap_len, sizeof(big) - 1);
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
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0), m;
	p.first = 1;
	p.count = 1;
	p.e[0] = invite_entry(B, h, 1000);
	assert_int_equal(input(g, B, &p, MSEC), 0);
	konce_cw_msg ask = hdr(KONCE_CW_JOIN_ASK, 1, 0);
	ask.key = y;
	ask.secret = secret;
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

static void run_silent(konce_group *g, uint64_t from, uint64_t to)
{
	konce_group_out o;
	for (uint64_t t = from; t <= to; t = konce_group_next_timer(g)) {
		konce_group_timer(g, t);
		while (konce_group_poll(g, &o))
			;
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
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0), m;
	p.first = 1;
	p.count = 1;
	p.e[0] = invite_entry(B, h, 0);
	assert_int_equal(input(g, B, &p, MSEC), 0);
	konce_cw_msg ask = hdr(KONCE_CW_JOIN_ASK, 1, 1);
	ask.key = X;
	ask.secret = secret;
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
	assert_int_equal(s.snap_len, 3);
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
		cmocka_unit_test(test_joiner_snapshot),
		cmocka_unit_test(test_invite_expiry),
		cmocka_unit_test(test_restore_invites),
		cmocka_unit_test(test_member_sends_snapshot),
		cmocka_unit_test(test_two_cannot_evict),
		cmocka_unit_test(test_joiner_grace),
		cmocka_unit_test(test_joiner),
		cmocka_unit_test(test_join_vote_and_veto),
		cmocka_unit_test(test_joiner_abstains_until_snapshot),
		cmocka_unit_test(test_behind_asks_for_view),
		cmocka_unit_test(test_evicted_passes_view_on),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
