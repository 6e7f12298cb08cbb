/* cgroup_fixture.h - the hand-driven consensus member of test_consensus_core.c and
 * test_consensus_join.c: an in-memory store whose calls are recorded, keys A, B, C and X, a member
 * founded in a view, and helpers to feed it encoded messages and read what it sends. */
#ifndef KONCE_TEST_CGROUP_FIXTURE_H
#define KONCE_TEST_CGROUP_FIXTURE_H

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
#define FIX static __attribute__((unused))

FIX uint8_t GROUP[16] = "unit-test-group";
FIX uint8_t A[32], B[32], C[32], X[32];
FIX const uint8_t ZERO[32];

typedef struct store {
	unsigned views, votes, entries, delivered;
	uint64_t promised, acc_ballot, last_first, delivered_seq;
	int fail_entries;
	bool queued; /* answer KONCE_GROUP_PERSIST_QUEUED: durable only when the test says so */
	unsigned snapshots;
	uint64_t snap_seq;
	size_t snap_len;
} store;

FIX int done(const store *s) { return s->queued ? KONCE_GROUP_PERSIST_QUEUED : 0; }
FIX int p_view(void *c, const uint8_t *v, size_t l) { (void)v; (void)l; ((store *)c)->views++; return done(c); }
FIX int p_vote(void *c, uint64_t b, uint64_t pr, uint64_t ab, const uint8_t *v, size_t l)
{
	store *s = c;
	(void)b, (void)v, (void)l;
	s->votes++;
	s->promised = pr;
	s->acc_ballot = ab;
	return done(s);
}
FIX int p_entries(void *c, uint64_t first, unsigned n, const uint8_t *b, size_t l)
{
	store *s = c;
	(void)n, (void)b, (void)l;
	if (s->fail_entries)
		return s->fail_entries;
	s->entries++;
	s->last_first = first;
	return done(s);
}
FIX int p_delivered(void *c, uint64_t seq)
{
	((store *)c)->delivered++;
	((store *)c)->delivered_seq = seq;
	return done(c);
}

FIX int p_snapshot(void *c, uint64_t seq, const uint8_t *d, size_t l)
{
	store *s = c;
	(void)d;
	s->snapshots++;
	s->snap_seq = seq;
	s->snap_len = l;
	return done(s);
}

FIX bool veto_x(void *ctx, const uint8_t k[32]) { (void)ctx; return memcmp(k, X, 32) != 0; }

FIX const char APP_STATE[] = "the application state";
FIX unsigned snapshot_calls;
FIX int app_snapshot(void *ctx, const uint8_t **data, size_t *len)
{
	(void)ctx;
	snapshot_calls++;
	*data = (const uint8_t *)APP_STATE;
	*len = sizeof(APP_STATE);
	return 0;
}

FIX konce_group *member(store *st, const uint8_t *self, unsigned n, const uint8_t (*keys)[32], uint64_t now)
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
	assert_int_equal(konce_group_found(g, vb, len, now), 0);
	return g;
}

/* member() of the group of k0, k1 and k2, in that order, founded at time 0. */
FIX konce_group *member3(store *st, const uint8_t *self, const uint8_t *k0, const uint8_t *k1, const uint8_t *k2)
{
	uint8_t keys[3][32];
	memcpy(keys[0], k0, 32);
	memcpy(keys[1], k1, 32);
	memcpy(keys[2], k2, 32);
	return member(st, self, 3, (const uint8_t (*)[32])keys, 0);
}

FIX konce_group *abc(store *st)
{
	konce_group *g = member3(st, A, A, B, C);
	konce_group_out o;
	while (konce_group_poll(g, &o)) /* the ACK an install sends its coordinator */
		;
	return g;
}

FIX konce_cw_msg hdr(uint8_t type, uint64_t epoch, uint64_t commit)
{
	konce_cw_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.group = GROUP;
	m.epoch = epoch;
	m.commit = commit;
	return m;
}

FIX int input(konce_group *g, const uint8_t *from, const konce_cw_msg *m, uint64_t now)
{
	static uint8_t b[KONCE_CW_MAX_MSG];
	size_t n = konce_cw_encode(m, b, sizeof(b));
	assert_true(n > 0);
	return konce_group_input(g, from, b, n, now);
}

/* The next outgoing message, parsed; false if none. */
FIX bool next_out(konce_group *g, uint8_t to[32], konce_cw_msg *m)
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
FIX bool find_out(konce_group *g, uint8_t type, const uint8_t *to, konce_cw_msg *out)
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
FIX konce_cw_entry invite_entry(const uint8_t *origin, const uint8_t h[32], uint64_t expires)
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

/* B, the coordinator of abc(), proposes log entry 1 at epoch 1: an invitation by hash h, expiring
 * at `expires`; what g's input said of it at now. */
FIX int propose_invite(konce_group *g, const uint8_t h[32], uint64_t expires, uint64_t now)
{
	konce_cw_msg p = hdr(KONCE_CW_PROPOSE, 1, 0);
	p.first = 1;
	p.count = 1;
	p.e[0] = invite_entry(B, h, expires);
	return input(g, B, &p, now);
}

/* The coordinator's JOIN_ASK at epoch 1, committed up to commit: may key, holding secret, join? */
FIX konce_cw_msg join_ask(uint64_t commit, const uint8_t *key, const uint8_t *secret)
{
	konce_cw_msg ask = hdr(KONCE_CW_JOIN_ASK, 1, commit);
	ask.key = key;
	ask.secret = secret;
	return ask;
}

FIX konce_cw_entry entry(const uint8_t *origin, uint64_t nonce, const char *text)
{
	return (konce_cw_entry){.kind = KONCE_CW_E_APP, .origin = origin, .nonce = nonce, .len = (uint16_t)strlen(text),
				.data = (const uint8_t *)text};
}

FIX int setup(void **st)
{
	(void)st;
	memset(A, 0xa0, 32);
	memset(B, 0xb0, 32);
	memset(C, 0xc0, 32);
	memset(X, 0xee, 32);
	return 0;
}

FIX void run_silent(konce_group *g, uint64_t from, uint64_t to)
{
	konce_group_out o;
	for (uint64_t t = from; t <= to; t = konce_group_next_timer(g)) {
		konce_group_timer(g, t);
		while (konce_group_poll(g, &o))
			;
	}
}

#endif
