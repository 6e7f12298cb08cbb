/* test_msgq.c - the outgoing message queue: starting under flow control, round-robin across
 * messages, a fragment that did not fit keeps its turn, retransmission by reference, nothing
 * acknowledged sent again, completion exactly once, runs cut to the room a packet has (a lost
 * large run sent again in smaller ones after the PLPMTU fell), the shared pool's slices, and no
 * leaks.  Most cases take fragments of KONCE_FRAG_DATA_MAX bytes, a base-size packet's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/msgq.h"
#include "tests/unit/testenv.h"

static uint8_t buf[10000];

/* Starts q and takes its three fragments in order; f is the last (the 80-byte tail of 2000). */
static void start_three(konce_msgq *q, konce_frame_ref r[3], konce_fragment *f)
{
	konce_msgq_start(q, 1 << 20);
	for (int i = 0; i < 3; i++)
		assert_true(konce_msgq_next(q, &r[i], KONCE_FRAG_DATA_MAX));
	assert_int_equal(konce_msgq_fragment(q, &r[2], f), 0);
}

static void test_start_and_round_robin(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 1);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	assert_int_equal(konce_msgq_push(&q, buf, 3000, 0, 11, 0), 0); /* 4 fragments */
	assert_int_equal(konce_msgq_push(&q, buf, 10, 0, 12, 0), 0);   /* 1 */
	assert_int_equal(konce_msgq_push(&q, buf, 0, 1, 13, 0), 0);    /* the empty message: 1 */
	assert_int_equal(q.nbackground, 1);
	/* credit for the first only: it starts anyway (nothing started), the second waits */
	assert_int_equal(konce_msgq_start(&q, konce_reasm_charge(3000)), 1);
	assert_int_equal(q.nactive, 1);
	assert_int_equal(konce_msgq_start(&q, konce_reasm_charge(3000) + konce_reasm_charge(10) - 1), 0);
	/* a message larger than all the credit still starts when nothing else is started */
	konce_msgq big;
	konce_msgq_init(&big, &te.env);
	assert_int_equal(konce_msgq_push(&big, buf, 5000, 0, 1, 0), 0);
	assert_int_equal(konce_msgq_start(&big, 10), 1);
	konce_msgq_free(&big);
	assert_int_equal(konce_msgq_start(&q, 1 << 20), 2);
	assert_int_equal(q.outstanding_charge,
			 konce_reasm_charge(3000) + konce_reasm_charge(10) + konce_reasm_charge(0));
	/* wire ids in start order; fragments alternate between messages */
	konce_frame_ref r;
	uint64_t ids[6];
	for (int i = 0; i < 6; i++) {
		assert_true(konce_msgq_next(&q, &r, KONCE_FRAG_DATA_MAX));
		ids[i] = r.id;
	}
	uint64_t want[6] = {1, 2, 3, 1, 1, 1};
	assert_memory_equal(ids, want, sizeof want);
	assert_false(konce_msgq_next(&q, &r, KONCE_FRAG_DATA_MAX));
	assert_false(konce_msgq_has_data(&q));
	konce_msgq_free(&q);
	assert_int_equal(te.allocs, te.frees);
}

static void test_unnext_keeps_turn(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 2);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	for (int i = 0; i < 3; i++)
		assert_int_equal(konce_msgq_push(&q, buf, 5000, 0, (uint64_t)i + 1, 0), 0);
	konce_msgq_start(&q, 1 << 20);
	/* packets of one fragment each: take two, give the second back, repeatedly.  Every
	 * message must still advance (a fragment that did not fit keeps its message's turn). */
	unsigned sent[4] = {0};
	for (int k = 0; k < 12; k++) {
		konce_frame_ref a, b;
		assert_true(konce_msgq_next(&q, &a, KONCE_FRAG_DATA_MAX));
		sent[a.id]++;
		if (konce_msgq_next(&q, &b, KONCE_FRAG_DATA_MAX))
			konce_msgq_unnext(&q, &b);
	}
	assert_int_equal(sent[1], 4);
	assert_int_equal(sent[2], 4);
	assert_int_equal(sent[3], 4);
	konce_msgq_free(&q);
	assert_int_equal(te.allocs, te.frees);
}

static void test_ack_loss_complete(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 3);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	for (size_t i = 0; i < 2000; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(konce_msgq_push(&q, buf, 2000, 0, 7, 0), 0); /* 3 fragments */
	konce_frame_ref r[3];
	konce_fragment f;
	start_three(&q, r, &f);
	assert_int_equal(f.offset, 1920);
	assert_int_equal(f.len, 80);
	assert_int_equal(f.total, 2000);
	assert_memory_equal(f.data, buf + 1920, 80);
	/* fragment 1 lost, fragment 0 acked, then its loss reported too (a probe copy): only 1 is
	 * queued again */
	assert_null(konce_msgq_acked(&q, &r[0]));
	konce_msgq_lost(&q, &r[1]);
	konce_msgq_lost(&q, &r[0]);
	assert_false(konce_msgq_needed(&q, &r[0]));
	assert_int_equal(q.unacked_bytes, 2000 - 960);
	konce_frame_ref x;
	assert_true(konce_msgq_next(&q, &x, KONCE_FRAG_DATA_MAX));
	assert_int_equal(x.index, KONCE_FRAG_DATA_MAX / KONCE_FRAG_UNIT); /* units */
	assert_false(konce_msgq_next(&q, &x, KONCE_FRAG_DATA_MAX));
	/* acked twice counts once; the last fragment completes it exactly once */
	assert_null(konce_msgq_acked(&q, &r[1]));
	assert_null(konce_msgq_acked(&q, &r[1]));
	konce_smsg *m = konce_msgq_acked(&q, &r[2]);
	assert_non_null(m);
	assert_int_equal(m->api_id, 7);
	konce_msgq_retire(&q, m);
	assert_null(konce_msgq_acked(&q, &r[2]));
	assert_true(konce_msgq_empty(&q));
	assert_int_equal(q.outstanding_charge, 0);
	assert_int_equal(q.unacked_bytes, 0);
	assert_int_equal(konce_msgq_fragment(&q, &r[2], &f), -ENOENT);
	konce_msgq_free(&q);
	assert_int_equal(te.allocs, te.frees);
}

static void test_wire_window(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 4);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	/* an old message keeps a hole: new ids stay below it + KONCE_REASM_WINDOW */
	assert_int_equal(konce_msgq_push(&q, buf, 1, 0, 1, 0), 0);
	konce_msgq_start(&q, 1 << 30);
	konce_smsg *old = konce_msgq_any(&q);
	q.next_wire_id = KONCE_REASM_WINDOW; /* as if 4094 messages had come and gone */
	assert_int_equal(konce_msgq_push(&q, buf, 1, 0, 2, 0), 0);
	assert_int_equal(konce_msgq_start(&q, 1 << 30), 1);
	assert_int_equal(konce_msgq_push(&q, buf, 1, 0, 3, 0), 0);
	assert_int_equal(konce_msgq_start(&q, 1 << 30), 0);
	konce_msgq_retire(&q, old);
	assert_int_equal(konce_msgq_start(&q, 1 << 30), 1);
	assert_non_null(konce_msgq_by_api(&q, 3));
	assert_null(konce_msgq_by_api(&q, 1));
	konce_msgq_free(&q);
	assert_int_equal(te.allocs, te.frees);
}

/* The pool's slices (msgq.h): first come, first served up to half the budget; past half, a queue
 * grows only within budget / (2 x shares), so a queue holding nothing always finds its slice free
 * however many queues took theirs.  holders follows who holds anything. */
static void test_pool_slices(void **state)
{
	(void)state;
	enum { N = 8, LEN = 100 };
	uint64_t c = konce_msgq_cost(LEN);
	konce_msgq_pool pool = {.budget = 2 * N * 4 * c, .shares = N}; /* a slice holds 4 messages */
	test_env te;
	test_env_init(&te, 5);
	konce_msgq q[N];
	unsigned n[N] = {0};
	for (unsigned i = 0; i < N; i++) {
		konce_msgq_init(&q[i], &te.env);
		konce_msgq_set_limit(&q[i], 0, &pool);
	}
	for (unsigned i = 0; i + 1 < N; i++) {
		while (konce_msgq_push(&q[i], buf, LEN, 0, n[i] + 1, 0) == 0)
			n[i]++;
		assert_true(pool.used <= pool.budget);
		assert_int_equal(pool.holders, i + 1);
	}
	assert_int_equal(n[0], N * 4); /* alone, the first one filled half the pool */
	for (unsigned i = 1; i + 1 < N; i++)
		assert_int_equal(n[i], 4); /* the others, their slices */
	/* the last queue: its whole slice, and not one message more */
	for (unsigned k = 0; k < 4; k++)
		assert_int_equal(konce_msgq_push(&q[N - 1], buf, LEN, 0, k + 1, 0), 0);
	assert_int_equal(konce_msgq_push(&q[N - 1], buf, LEN, 0, 5, 0), -ENOBUFS);
	assert_false(konce_msgq_admits(&q[N - 1], c));
	assert_int_equal(pool.holders, N);
	/* a queue that empties is no longer a holder, and gives its bytes back */
	uint64_t used = pool.used;
	konce_smsg *m;
	while ((m = konce_msgq_any(&q[1])))
		konce_msgq_retire(&q[1], m);
	assert_int_equal(pool.holders, N - 1);
	assert_int_equal(pool.used, used - 4 * c);
	/* without shares the pool is first come, first served: the first queue could take it all */
	for (unsigned i = 0; i < N; i++)
		konce_msgq_free(&q[i]);
	assert_int_equal(pool.used, 0);
	assert_int_equal(pool.holders, 0);
	pool.shares = 0;
	konce_msgq_init(&q[0], &te.env);
	konce_msgq_set_limit(&q[0], 0, &pool);
	unsigned all = 0;
	while (konce_msgq_push(&q[0], buf, LEN, 0, all + 1, 0) == 0)
		all++;
	assert_int_equal(all, 2 * N * 4);
	konce_msgq_free(&q[0]);
	assert_int_equal(te.allocs, te.frees);
}

/* The PLPMTU decides the cut: runs fill the room given; a lost run too large for the room it is
 * sent again in is cut again, and units acked meanwhile through other packets are left out. */
static void test_runs_follow_room(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 5);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	for (size_t i = 0; i < 5000; i++)
		buf[i] = (uint8_t)(i * 7);
	assert_int_equal(konce_msgq_push(&q, buf, 5000, 0, 1, 0), 0);
	konce_msgq_start(&q, 1 << 20);
	konce_frame_ref big, r;
	konce_fragment f;
	/* a 1,472-byte path: 1,400 bytes of room take 21 units (1,344 bytes) */
	assert_true(konce_msgq_next(&q, &big, 1400));
	assert_int_equal(big.index, 0);
	assert_int_equal(big.count, 21);
	assert_int_equal(konce_msgq_fragment(&q, &big, &f), 0);
	assert_int_equal(f.offset, 0);
	assert_int_equal(f.len, 1344);
	assert_memory_equal(f.data, buf, 1344);
	/* less than a unit of room: nothing */
	assert_false(konce_msgq_next(&q, &r, KONCE_FRAG_UNIT - 1));
	/* the path black-holes above 1,200: the big run is lost; its middle units were acked through
	 * a probe copy meanwhile */
	konce_frame_ref mid = {.id = big.id, .index = 5, .kind = KONCE_REF_FRAGMENT, .count = 3};
	assert_null(konce_msgq_acked(&q, &mid));
	konce_msgq_lost(&q, &big);
	/* sent again with 1,000 bytes of room: units 0..4, then 8..20 (15 units max: 13 left) */
	assert_true(konce_msgq_next(&q, &r, 1000));
	assert_int_equal(r.index, 0);
	assert_int_equal(r.count, 5);
	assert_true(konce_msgq_next(&q, &r, 1000));
	assert_int_equal(r.index, 8);
	assert_int_equal(r.count, 13);
	assert_int_equal(konce_msgq_fragment(&q, &r, &f), 0);
	assert_int_equal(f.offset, 8 * KONCE_FRAG_UNIT);
	assert_int_equal(f.len, 13 * KONCE_FRAG_UNIT);
	/* then new data: the short last unit goes whole (5000 = 78 x 64 + 8) */
	assert_true(konce_msgq_next(&q, &r, 100000));
	assert_int_equal(r.index, 21);
	assert_int_equal(r.count, 79 - 21);
	assert_int_equal(konce_msgq_fragment(&q, &r, &f), 0);
	assert_int_equal(f.offset + f.len, 5000);
	assert_false(konce_msgq_next(&q, &r, 100000));
	/* clip: a probe repeating the big run takes its first needed run that fits */
	konce_frame_ref c = big;
	assert_true(konce_msgq_clip(&q, &c, 10 * KONCE_FRAG_UNIT));
	assert_int_equal(c.index, 0);
	assert_int_equal(c.count, 5);
	c = (konce_frame_ref){.id = big.id, .index = 5, .kind = KONCE_REF_FRAGMENT, .count = 3};
	assert_false(konce_msgq_clip(&q, &c, 10000)); /* all acked */
	assert_int_equal(konce_msgq_acked_bytes(konce_msgq_any(&q)), 3 * KONCE_FRAG_UNIT);
	konce_msgq_free(&q);
	assert_int_equal(te.allocs, te.frees);
}

/* Acks of arbitrary, overlapping unit runs (across bitmap words, the short last unit among them)
 * against a model: konce_msgq_needed() is true exactly while a unit of the run is unacked,
 * unacked_bytes drops by exactly the bytes newly acked, and the message completes once, when its
 * last unit is acked. */
static void test_overlapping_acks(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 3);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	enum { LEN = 9000 }; /* 141 units, the last of 40 bytes */
	uint64_t units = konce_msgq_units(LEN);
	assert_int_equal(konce_msgq_push(&q, buf, LEN, 0, 5, 0), 0);
	konce_msgq_start(&q, 1 << 20);
	konce_frame_ref r;
	assert_true(konce_msgq_next(&q, &r, KONCE_FRAG_DATA_MAX)); /* its wire id and kind */
	bool acked[200] = {false};
	uint64_t left = LEN, nacked = 0;
	srand(7);
	bool done = false;
	for (int step = 0; !done; step++) {
		assert_true(step < 10000);
		uint64_t a = (uint64_t)rand() % units, n = 1 + (uint64_t)rand() % 80;
		if (a + n > units)
			n = units - a;
		r.index = (uint32_t)a;
		r.count = (uint16_t)n;
		bool need = false;
		uint64_t fresh = 0;
		for (uint64_t i = a; i < a + n; i++)
			if (!acked[i]) {
				need = true;
				acked[i] = true;
				fresh += i == units - 1 ? LEN - (units - 1) * KONCE_FRAG_UNIT : KONCE_FRAG_UNIT;
				nacked++;
			}
		assert_int_equal(konce_msgq_needed(&q, &r), need);
		konce_smsg *m = konce_msgq_acked(&q, &r);
		left -= fresh;
		assert_int_equal(q.unacked_bytes, left);
		if (nacked == units) {
			assert_non_null(m);
			assert_int_equal(m->nacked, units);
			konce_msgq_retire(&q, m);
			done = true;
		} else {
			assert_null(m);
		}
	}
	assert_int_equal(left, 0);
	assert_true(konce_msgq_empty(&q));
	konce_msgq_free(&q);
	assert_int_equal(te.allocs, te.frees);
}

/* A free that checks the buffer it watches was wiped before it went back. */
static const uint8_t *watched;
static size_t watched_len;
static int watched_freed, watched_wiped;

static void watching_free(void *ctx, void *p)
{
	if (p && p == watched) {
		watched_freed++;
		size_t i = 0;
		while (i < watched_len && ((const uint8_t *)p)[i] == 0)
			i++;
		watched_wiped += i == watched_len;
	}
	test_env_free(ctx, p);
}

static void test_push_owned(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 6);
	te.env.free = watching_free;
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	/* refused: the buffer stays the caller's, untouched */
	konce_msgq_set_limit(&q, 1000, NULL);
	uint8_t *own = konce_env_alloc_raw(&te.env, 2000);
	assert_non_null(own);
	for (size_t i = 0; i < 2000; i++)
		own[i] = (uint8_t)(i * 7);
	assert_int_equal(konce_msgq_push_owned(&q, own, 2000, 0, 1, 0), -ENOBUFS);
	assert_int_equal(konce_msgq_push_owned(&q, NULL, 5, 0, 1, 0), -EINVAL);
	assert_true(konce_msgq_empty(&q));
	assert_int_equal(own[1999], (uint8_t)(1999 * 7));
	/* taken: its fragments point into the very buffer, and retiring the message wipes and frees it */
	konce_msgq_set_limit(&q, 0, NULL);
	uint64_t allocs = te.allocs;
	assert_int_equal(konce_msgq_push_owned(&q, own, 2000, 0, 9, 0), 0);
	assert_int_equal(te.allocs - allocs, 2); /* the bookkeeping and its bitmap: no copy */
	konce_frame_ref r[3];
	konce_fragment f;
	start_three(&q, r, &f);
	assert_ptr_equal(f.data, own + 1920);
	assert_int_equal(f.len, 80);
	watched = own;
	watched_len = 2000;
	konce_smsg *m = NULL;
	for (int i = 0; i < 3; i++)
		m = konce_msgq_acked(&q, &r[i]);
	assert_non_null(m);
	assert_int_equal(m->api_id, 9);
	konce_msgq_retire(&q, m);
	assert_int_equal(watched_freed, 1);
	assert_int_equal(watched_wiped, 1);
	/* a taken buffer still queued at konce_msgq_free goes back too */
	uint8_t *own2 = konce_env_alloc_raw(&te.env, 100);
	assert_non_null(own2);
	memset(own2, 0xa5, 100);
	assert_int_equal(konce_msgq_push_owned(&q, own2, 100, 1, 10, 0), 0);
	watched = own2;
	watched_len = 100;
	konce_msgq_free(&q);
	assert_int_equal(watched_freed, 2);
	assert_int_equal(watched_wiped, 2);
	watched = NULL;
	assert_int_equal(te.allocs, te.frees);
}

/* A message retired before it completes (failed, or its session closed) takes its unacked bytes
 * out of unacked_bytes, whatever its acked map holds: full words, a partial word, the short tail. */
static void test_retire_partly_acked(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 1);
	konce_msgq q;
	konce_msgq_init(&q, &te.env);
	assert_int_equal(konce_msgq_push(&q, buf, 9999, 0, 1, 0), 0); /* 157 units: 3 map words */
	assert_int_equal(konce_msgq_push(&q, buf, 500, 0, 2, 0), 0);
	konce_msgq_start(&q, 1 << 20);
	konce_frame_ref r[11];
	uint64_t acked = 0;
	konce_fragment f;
	for (int i = 0; i < 11; i++) /* the first message's 11 fragments, in turn with the second's one */
		do {
			assert_true(konce_msgq_next(&q, &r[i], KONCE_FRAG_DATA_MAX));
			assert_int_equal(konce_msgq_fragment(&q, &r[i], &f), 0);
		} while (f.total != 9999);
	for (int i = 0; i < 11; i += 2) { /* 0, 2, ..., 10: whole words and the tail */
		assert_int_equal(konce_msgq_fragment(&q, &r[i], &f), 0);
		acked += f.len;
		assert_null(konce_msgq_acked(&q, &r[i]));
	}
	assert_int_equal(q.unacked_bytes, 9999 + 500 - acked);
	konce_smsg *big = NULL;
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q.active[i] && q.active[i]->len == 9999)
			big = q.active[i];
	assert_non_null(big);
	konce_msgq_retire(&q, big);
	assert_int_equal(q.unacked_bytes, 500);
	konce_msgq_free(&q);
	assert_int_equal(q.unacked_bytes, 0);
	assert_int_equal(te.allocs, te.frees);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_and_round_robin),
		cmocka_unit_test(test_unnext_keeps_turn),
		cmocka_unit_test(test_ack_loss_complete),
		cmocka_unit_test(test_wire_window),
		cmocka_unit_test(test_pool_slices),
		cmocka_unit_test(test_runs_follow_room),
		cmocka_unit_test(test_overlapping_acks),
		cmocka_unit_test(test_push_owned),
		cmocka_unit_test(test_retire_partly_acked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
