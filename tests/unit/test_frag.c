/* test_frag.c - FRAGMENT vectors and malformed frames; reassembly of random sizes (1 B..1 MiB) out
 * of order with duplicates and overlaps, budget exhaustion and refusal, no head-of-line blocking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/frag.h"
#include "tests/unit/bytes_env.h"
#include "tests/unit/count_env.h"

/* Deterministic message content: byte k of message id. */
static uint8_t content(uint64_t id, uint64_t k) { return (uint8_t)(id * 131 + k * 7 + (k >> 9)); }

static void fill(uint8_t *buf, uint64_t id, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = content(id, off + i);
}

static void test_vector(void **state)
{
	(void)state;
	const uint8_t want[] = {0x13, 0x01, 0x43, 0xc0, 0x47, 0xd0, 0x00, 0x03, 'a', 'b', 'c'};
	konce_fragment f = {.msg_id = 1, .offset = 960, .total = 2000, .len = 3, .data = (const uint8_t *)"abc"};
	uint8_t buf[32];
	assert_int_equal(konce_frag_encode(buf, sizeof(buf), &f), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(konce_frag_encode(buf, sizeof(want) - 1, &f), 0);
	konce_fragment d;
	assert_int_equal(konce_frag_decode(want, sizeof(want), &d), sizeof(want));
	assert_int_equal(d.msg_id, 1);
	assert_int_equal(d.offset, 960);
	assert_int_equal(d.total, 2000);
	assert_int_equal(d.len, 3);
	assert_memory_equal(d.data, "abc", 3);
	/* every truncation fails */
	for (size_t n = 0; n < sizeof(want); n++)
		assert_int_equal(konce_frag_decode(want, n, &d), 0);
	/* a full-size fragment with large numbers fits the header bound */
	uint8_t data[KONCE_FRAG_DATA_MAX] = {0};
	f = (konce_fragment){.msg_id = (uint64_t)1 << 40, .offset = (uint64_t)1 << 50,
			     .total = ((uint64_t)1 << 50) + KONCE_FRAG_DATA_MAX, .len = KONCE_FRAG_DATA_MAX,
			     .data = data};
	uint8_t big[KONCE_FRAG_HEADER_MAX + KONCE_FRAG_DATA_MAX];
	size_t n = konce_frag_encode(big, sizeof(big), &f);
	assert_true(n > 0 && n <= sizeof(big));
	assert_int_equal(konce_frag_decode(big, n, &d), n);
	assert_int_equal(d.offset, f.offset);
}

static void test_malformed(void **state)
{
	(void)state;
	konce_fragment d;
	const uint8_t id0[] = {0x13, 0x00, 0x00, 0x01, 0x00, 0x01, 'x'};
	assert_int_equal(konce_frag_decode(id0, sizeof(id0), &d), 0);
	const uint8_t past[] = {0x13, 0x01, 0x01, 0x01, 0x00, 0x01, 'x'}; /* offset 1 + 1 > total 1 */
	assert_int_equal(konce_frag_decode(past, sizeof(past), &d), 0);
	const uint8_t empty[] = {0x13, 0x01, 0x00, 0x05, 0x00, 0x00};    /* empty piece of 5 bytes */
	assert_int_equal(konce_frag_decode(empty, sizeof(empty), &d), 0);
	const uint8_t empty_msg[] = {0x13, 0x01, 0x00, 0x00, 0x00, 0x00}; /* the empty message: fine */
	assert_int_equal(konce_frag_decode(empty_msg, sizeof(empty_msg), &d), sizeof(empty_msg));
	const uint8_t short_data[] = {0x13, 0x01, 0x00, 0x05, 0x00, 0x05, 'a', 'b'};
	assert_int_equal(konce_frag_decode(short_data, sizeof(short_data), &d), 0);
	const uint8_t type[] = {0x10, 0x01, 0x00, 0x01, 0x00, 0x01, 'x'};
	assert_int_equal(konce_frag_decode(type, sizeof(type), &d), 0);
	/* longer than the largest packet's payload could be (9,000 bytes) */
	static uint8_t huge[8 + 9000] = {0x13, 0x01, 0x00, 0x63, 0x28, 0x23, 0x28};
	assert_int_equal(konce_frag_decode(huge, sizeof(huge), &d), 0);
}

static void test_bounds(void **state)
{
	(void)state;
	uint64_t off;
	size_t len;
	assert_int_equal(konce_frag_count(0), 1);
	assert_int_equal(konce_frag_count(1), 1);
	assert_int_equal(konce_frag_count(KONCE_FRAG_DATA_MAX), 1);
	assert_int_equal(konce_frag_count(KONCE_FRAG_DATA_MAX + 1), 2);
	assert_int_equal(konce_frag_bounds(0, 0, &off, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(konce_frag_bounds(2000, 2, &off, &len), 0);
	assert_int_equal(off, 1920);
	assert_int_equal(len, 80);
	assert_int_equal(konce_frag_bounds(2000, 3, &off, &len), -EINVAL);
}

static konce_reasm_result feed(konce_reasm *r, uint64_t id, uint64_t total, uint64_t off, size_t len,
			       konce_reasm_msg **out)
{
	uint8_t buf[KONCE_WIRE_MAX_PAYLOAD];
	fill(buf, id, off, len);
	konce_fragment f = {.msg_id = id, .offset = off, .total = total, .len = len, .data = buf};
	return konce_reasm_on_fragment(r, &f, 0, out);
}

static void check_msg(const konce_reasm_msg *m, uint64_t id, uint64_t total)
{
	assert_non_null(m);
	assert_int_equal(m->id, id);
	assert_int_equal(m->len, total);
	for (uint64_t k = 0; k < total; k++)
		if (m->data[k] != content(id, k))
			fail_msg("message %llu byte %llu differs", (unsigned long long)id, (unsigned long long)k);
}

/* Random sizes from 1 B to 1 MiB (log-uniform), several messages interleaved, fragments shuffled,
 * 10% sent twice; large ones in place (lazy) or in chunks. */
static void random_sizes(bool lazy)
{
	count_env ce;
	count_env_init(&ce, 1);
	if (lazy)
		count_env_lazy(&ce);
	konce_reasm r;
	konce_reasm_config cfg = {.budget = 8u << 20};
	assert_int_equal(konce_reasm_init(&r, &ce.env, &cfg), 0);
	srand(1234);
	enum { BATCH = 5, ROUNDS = 8 };
	uint64_t next_id = 1;
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t ids[BATCH], totals[BATCH];
		size_t nfr = 0;
		for (int i = 0; i < BATCH; i++) {
			ids[i] = next_id++;
			totals[i] = (uint64_t)1 << (rand() % 21);
			totals[i] += (uint64_t)rand() % totals[i];
			if (totals[i] > (1u << 20))
				totals[i] = 1u << 20;
			if (round == 0 && i == 0)
				totals[i] = 1;
			if (round == 0 && i == 1)
				totals[i] = 1u << 20;
			nfr += konce_frag_count(totals[i]);
		}
		/* (message, fragment index) pairs, some twice, shuffled */
		size_t cap = nfr * 2, n = 0;
		uint64_t(*list)[2] = malloc(cap * sizeof(*list));
		for (int i = 0; i < BATCH; i++)
			for (uint64_t k = 0; k < konce_frag_count(totals[i]); k++) {
				list[n][0] = (uint64_t)i;
				list[n++][1] = k;
				if (rand() % 10 == 0) {
					list[n][0] = (uint64_t)i;
					list[n++][1] = k;
				}
			}
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)rand() % i;
			uint64_t t0 = list[i - 1][0], t1 = list[i - 1][1];
			list[i - 1][0] = list[j][0];
			list[i - 1][1] = list[j][1];
			list[j][0] = t0;
			list[j][1] = t1;
		}
		int delivered[BATCH] = {0};
		for (size_t i = 0; i < n; i++) {
			int mi = (int)list[i][0];
			uint64_t off;
			size_t len;
			assert_int_equal(konce_frag_bounds(totals[mi], list[i][1], &off, &len), 0);
			konce_reasm_msg *m;
			konce_reasm_result res = feed(&r, ids[mi], totals[mi], off, len, &m);
			assert_true(r.used <= cfg.budget);
			if (res == KONCE_REASM_COMPLETE) {
				check_msg(m, ids[mi], totals[mi]);
				delivered[mi]++;
				konce_reasm_release(&r, m);
			} else {
				assert_true(res == KONCE_REASM_PARTIAL || res == KONCE_REASM_DUPLICATE);
				assert_null(m);
			}
		}
		for (int i = 0; i < BATCH; i++)
			assert_int_equal(delivered[i], 1);
		assert_int_equal(r.used, 0);
		free(list);
	}
	assert_int_equal(r.base, next_id);
	assert_int_equal(r.lazy, 0);
	assert_true(lazy ? ce.lazy_allocs > 0 : ce.lazy_allocs == 0);
	konce_reasm_free(&r);
	assert_int_equal(ce.live, 0);
}

static void test_random_sizes(void **state)
{
	(void)state;
	random_sizes(false);
}

static void test_random_sizes_in_place(void **state)
{
	(void)state;
	random_sizes(true);
}

static void test_overlap_first_copy_wins(void **state)
{
	(void)state;
	konce_reasm r;
	konce_reasm_config cfg = {.budget = 4096};
	assert_int_equal(konce_reasm_init(&r, konce_env_default(), &cfg), 0);
	uint8_t a[100], b[100];
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	konce_reasm_msg *m;
	konce_fragment f = {.msg_id = 1, .offset = 0, .total = 200, .len = 100, .data = a};
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_PARTIAL);
	f = (konce_fragment){.msg_id = 1, .offset = 50, .total = 200, .len = 100, .data = b};
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_DUPLICATE);
	f = (konce_fragment){.msg_id = 1, .offset = 10, .total = 200, .len = 20, .data = b};
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_DUPLICATE);
	/* a different total for the same message is refused */
	f = (konce_fragment){.msg_id = 1, .offset = 150, .total = 300, .len = 50, .data = a};
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_INCONSISTENT);
	f = (konce_fragment){.msg_id = 1, .offset = 120, .total = 200, .len = 80, .data = a};
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_COMPLETE);
	for (int i = 0; i < 200; i++)
		assert_int_equal(m->data[i], i < 100 ? 'a' : i < 150 ? 'b' : 'a');
	konce_reasm_release(&r, m);
	/* finished: never delivered again */
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 0, &m), KONCE_REASM_DUPLICATE);
	assert_null(m);
	konce_reasm_free(&r);
}

/* Fragments at arbitrary byte offsets and lengths, overlapping each other across map words and
 * chunk boundaries, against a model in which the first copy of each byte wins: a fragment is a
 * duplicate exactly when the model holds all of its bytes, the message completes exactly when the
 * model holds every byte, and each byte delivered is the one its first fragment carried. */
static void unaligned_overlaps(bool lazy)
{
	count_env ce;
	count_env_init(&ce, 1);
	if (lazy)
		count_env_lazy(&ce);
	konce_reasm r;
	konce_reasm_config cfg = {.budget = 1u << 20};
	assert_int_equal(konce_reasm_init(&r, &ce.env, &cfg), 0);
	srand(99);
	enum { ROUNDS = 12 };
	for (uint64_t id = 1; id <= ROUNDS; id++) {
		uint64_t total = id % 3 == 0 ? 1 + (uint64_t)rand() % 300 : 20000 + (uint64_t)rand() % 30000;
		uint8_t *want = malloc(total), *held = calloc(1, total), buf[3000];
		uint64_t nheld = 0;
		bool done = false;
		for (unsigned step = 0; !done; step++) {
			uint64_t off = (uint64_t)rand() % total, len = 1 + (uint64_t)rand() % 2999;
			if (step % 7 == 6) { /* now and then, one that starts at the first byte not held */
				for (off = 0; held[off]; off++)
					;
			}
			if (len > total - off)
				len = total - off;
			uint64_t fresh = 0;
			for (uint64_t i = 0; i < len; i++) {
				buf[i] = (uint8_t)(step * 37 + i);
				fresh += !held[off + i];
			}
			konce_fragment f = {.msg_id = id, .offset = off, .total = total, .len = (size_t)len, .data = buf};
			konce_reasm_msg *m;
			konce_reasm_result res = konce_reasm_on_fragment(&r, &f, 0, &m);
			for (uint64_t i = 0; i < len; i++)
				if (!held[off + i]) {
					held[off + i] = 1;
					want[off + i] = buf[i];
				}
			nheld += fresh;
			if (fresh == 0) {
				assert_int_equal(res, KONCE_REASM_DUPLICATE);
			} else if (nheld < total) {
				assert_int_equal(res, KONCE_REASM_PARTIAL);
			} else {
				assert_int_equal(res, KONCE_REASM_COMPLETE);
				assert_int_equal(m->len, total);
				assert_memory_equal(m->data, want, total);
				konce_reasm_release(&r, m);
				done = true;
			}
		}
		free(want);
		free(held);
	}
	assert_int_equal(r.used, 0);
	assert_true(lazy ? ce.lazy_allocs > 0 : ce.lazy_allocs == 0);
	konce_reasm_free(&r);
	assert_int_equal(ce.live, 0);
}

static void test_unaligned_overlaps(void **state)
{
	(void)state;
	unaligned_overlaps(false);
}

static void test_unaligned_overlaps_in_place(void **state)
{
	(void)state;
	unaligned_overlaps(true);
}

/* Feeds message id of total bytes, fragments [from, to) of KONCE_FRAG_DATA_MAX; returns the last
 * result, *out the message if it completed. */
static konce_reasm_result feed_range(konce_reasm *r, uint64_t id, uint64_t total, uint64_t from, uint64_t to,
				     konce_reasm_msg **out)
{
	konce_reasm_result res = KONCE_REASM_PARTIAL;
	for (uint64_t k = from; k < to; k++) {
		uint64_t off;
		size_t len;
		assert_int_equal(konce_frag_bounds(total, k, &off, &len), 0);
		res = feed(r, id, total, off, len, out);
	}
	return res;
}

/* A large message is written in place when the env has alloc_lazy and the lengths of the messages
 * in progress in place fit the budget and the pool's; one that does not fit comes in chunks.  Both
 * deliver the same bytes at the same charge; lazy returns at delivery, expiry and free. */
static void test_in_place(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 1);
	count_env_lazy(&ce);
	const uint64_t big = 1u << 20, small = 200000;
	konce_reasm_pool pool = {.budget = konce_reasm_charge(big) + konce_reasm_charge(small)};
	konce_reasm_config cfg = {.budget = pool.budget, .pool = &pool};
	konce_reasm r, q;
	assert_int_equal(konce_reasm_init(&r, &ce.env, &cfg), 0);
	assert_int_equal(konce_reasm_init(&q, &ce.env, &cfg), 0);
	konce_reasm_msg *m1 = NULL, *m2 = NULL, *m3 = NULL, *m;
	uint64_t n_big = konce_frag_count(big);
	/* 1 MiB in place: a lazy block, charged only as its chunks are touched */
	assert_int_equal(feed_range(&r, 1, big, 0, 1, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(ce.lazy_allocs, 1);
	assert_int_equal(r.lazy, big);
	assert_int_equal(pool.lazy, big);
	assert_true(r.used < 2 * KONCE_REASM_CHUNK);
	/* a second 1 MiB would take lazy past the budget: in chunks */
	assert_int_equal(feed_range(&r, 2, big, 0, 1, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(ce.lazy_allocs, 1);
	assert_int_equal(r.lazy, big);
	/* message 1 completes, its fragments backwards, at a delivered message's charge */
	for (uint64_t k = n_big; k-- > 1;)
		assert_int_equal(feed_range(&r, 1, big, k, k + 1, &m1), k == 1 ? KONCE_REASM_COMPLETE : KONCE_REASM_PARTIAL);
	check_msg(m1, 1, big);
	assert_int_equal(r.lazy, 0);
	assert_int_equal(pool.lazy, 0);
	uint64_t m2_part = r.used - (64 + big);
	assert_true(m2_part > 0 && m2_part < 2 * KONCE_REASM_CHUNK);
	/* released, it makes room for message 2, in chunks, which completes at the same charge */
	konce_reasm_release(&r, m1);
	assert_int_equal(feed_range(&r, 2, big, 1, n_big, &m2), KONCE_REASM_COMPLETE);
	check_msg(m2, 2, big);
	assert_int_equal(r.used, 64 + big);
	konce_reasm_release(&r, m2);
	assert_int_equal(r.used, 0);
	/* the pool bounds lazy too: r's 1 MiB and q's first 200,000 B fit it, q's second does not */
	assert_int_equal(feed_range(&r, 3, big, 0, 1, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(feed_range(&q, 1, small, 0, 1, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(ce.lazy_allocs, 3);
	assert_int_equal(pool.lazy, big + small);
	assert_int_equal(feed_range(&q, 2, small, 0, 1, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(ce.lazy_allocs, 3);
	assert_int_equal(pool.lazy, big + small);
	/* q's messages stall and expire: the block in place and its lazy go, and the chunks */
	assert_int_equal(konce_reasm_expire(&q, 1, 1), 2);
	assert_int_equal(q.lazy, 0);
	assert_int_equal(q.used, 0);
	assert_int_equal(pool.lazy, big);
	/* message 3 completes in place and outlives r: its holder frees it */
	assert_int_equal(feed_range(&r, 3, big, 1, n_big, &m3), KONCE_REASM_COMPLETE);
	check_msg(m3, 3, big);
	konce_reasm_free(&r);
	assert_int_equal(pool.lazy, 0);
	assert_int_equal(pool.used, 0);
	konce_reasm_msg_free(&ce.env, m3);
	konce_reasm_free(&q);
	assert_int_equal(ce.live, 0);
}

static void test_no_head_of_line_blocking(void **state)
{
	(void)state;
	konce_reasm r;
	konce_reasm_config cfg = {.budget = 1 << 20};
	assert_int_equal(konce_reasm_init(&r, konce_env_default(), &cfg), 0);
	konce_reasm_msg *m;
	uint64_t total_a = 3 * KONCE_FRAG_DATA_MAX, total_b = 2 * KONCE_FRAG_DATA_MAX;
	/* A's fragments 0 and 2 arrive, fragment 1 is missing */
	assert_int_equal(feed(&r, 1, total_a, 0, KONCE_FRAG_DATA_MAX, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(feed(&r, 1, total_a, 2 * KONCE_FRAG_DATA_MAX, KONCE_FRAG_DATA_MAX, &m), KONCE_REASM_PARTIAL);
	/* B, sent after A, completes while A still has its hole */
	assert_int_equal(feed(&r, 2, total_b, KONCE_FRAG_DATA_MAX, KONCE_FRAG_DATA_MAX, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(feed(&r, 2, total_b, 0, KONCE_FRAG_DATA_MAX, &m), KONCE_REASM_COMPLETE);
	check_msg(m, 2, total_b);
	konce_reasm_release(&r, m);
	assert_int_equal(r.base, 1); /* A is still open */
	assert_int_equal(feed(&r, 1, total_a, KONCE_FRAG_DATA_MAX, KONCE_FRAG_DATA_MAX, &m), KONCE_REASM_COMPLETE);
	check_msg(m, 1, total_a);
	konce_reasm_release(&r, m);
	assert_int_equal(r.base, 3);
	konce_reasm_free(&r);
}

static void test_budget_and_refusals(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 1);
	konce_reasm r;
	konce_reasm_config cfg = {.budget = 10000, .max_message = 6000, .max_messages = 2};
	assert_int_equal(konce_reasm_init(&r, &ce.env, &cfg), 0);
	konce_reasm_msg *m;
	assert_int_equal(konce_reasm_credit(&r), 10000);
	/* too large for max_message: refused, and stays refused */
	assert_int_equal(feed(&r, 1, 6001, 0, 100, &m), KONCE_REASM_TOO_LARGE);
	assert_int_equal(feed(&r, 1, 6001, 100, 100, &m), KONCE_REASM_REFUSED);
	/* 5000 bytes: charged 5000 + 632 + 64 */
	assert_int_equal(feed(&r, 2, 5000, 0, 100, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(konce_reasm_charge(5000), 5000 + 79 * 8 + 64);
	assert_int_equal(konce_reasm_credit(&r), 10000 - konce_reasm_charge(5000));
	/* another 5000 does not fit the rest of the budget */
	assert_int_equal(feed(&r, 3, 5000, 0, 100, &m), KONCE_REASM_NO_BUDGET);
	assert_true(r.used <= cfg.budget);
	assert_int_equal(feed(&r, 3, 5000, 100, 100, &m), KONCE_REASM_REFUSED);
	/* two in progress fill the table */
	assert_int_equal(feed(&r, 4, 100, 0, 50, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(feed(&r, 5, 100, 0, 50, &m), KONCE_REASM_BUSY);
	/* a message id far ahead of the lowest unfinished (2) is dropped, not refused */
	assert_int_equal(feed(&r, 2 + KONCE_REASM_WINDOW, 10, 0, 10, &m), KONCE_REASM_OUT_OF_WINDOW);
	assert_int_equal(feed(&r, 1 + KONCE_REASM_WINDOW, 10, 0, 10, &m), KONCE_REASM_BUSY);
	/* the stalled message 2 expires; its budget comes back */
	assert_int_equal(feed(&r, 4, 100, 50, 25, &m), KONCE_REASM_PARTIAL);
	konce_fragment f = {.msg_id = 4, .offset = 75, .total = 100, .len = 5, .data = (const uint8_t *)"xxxxx"};
	assert_int_equal(konce_reasm_on_fragment(&r, &f, 900, &m), KONCE_REASM_PARTIAL);
	assert_int_equal(konce_reasm_expire(&r, 1000, 500), 1);
	assert_int_equal(feed(&r, 2, 5000, 100, 100, &m), KONCE_REASM_REFUSED);
	assert_int_equal(konce_reasm_credit(&r), 10000 - konce_reasm_charge(100));
	/* a delivered message holds its charge until released */
	assert_int_equal(feed(&r, 6, 4000, 0, 960, &m), KONCE_REASM_PARTIAL);
	for (uint64_t off = 960; off < 4000; off += 960)
		feed(&r, 6, 4000, off, off + 960 > 4000 ? 4000 - off : 960, &m);
	check_msg(m, 6, 4000);
	assert_int_equal(konce_reasm_credit(&r), 10000 - konce_reasm_charge(100) - konce_reasm_charge(4000));
	konce_reasm_release(&r, m);
	assert_int_equal(konce_reasm_credit(&r), 10000 - konce_reasm_charge(100));
	/* the empty message */
	assert_int_equal(feed(&r, 7, 0, 0, 0, &m), KONCE_REASM_COMPLETE);
	assert_int_equal(m->len, 0);
	konce_reasm_release(&r, m);
	assert_int_equal(feed(&r, 7, 0, 0, 0, &m), KONCE_REASM_DUPLICATE);
	konce_reasm_free(&r);
	assert_int_equal(ce.live, 0);
}

/* Regression: a first fragment that claims a 16 MiB message used to calloc
 * and charge all of it.  Now only what the fragments touch is allocated and charged: 64 claims of
 * 16 MiB, one fragment each, hold less than 2 MiB, and the full message still reassembles. */
static void test_charge_touched_memory(void **state)
{
	(void)state;
	bytes_env be;
	bytes_env_init(&be, 1);
	const uint64_t total = 16u << 20;
	konce_reasm r;
	konce_reasm_config cfg = {.budget = konce_reasm_charge(total), .max_message = total};
	assert_int_equal(konce_reasm_init(&r, &be.env, &cfg), 0);
	uint64_t base = be.bytes;
	konce_reasm_msg *m;
	for (uint64_t id = 1; id <= 64; id++)
		assert_int_equal(feed(&r, id, total, total - 960, 960, &m), KONCE_REASM_PARTIAL);
	assert_true(r.used < (2u << 20));
	assert_true(be.bytes - base < (2u << 20));
	assert_true(be.bytes - base <= r.used); /* everything allocated is charged */
	/* the claims expire; then one real 16 MiB message fits the budget and arrives whole */
	assert_int_equal(konce_reasm_expire(&r, 1, 1), 64);
	assert_int_equal(r.used, 0);
	for (uint64_t off = 0; off < total; off += 960) {
		size_t len = total - off < 960 ? (size_t)(total - off) : 960;
		konce_reasm_result res = feed(&r, 65, total, off, len, &m);
		assert_int_equal(res, off + len == total ? KONCE_REASM_COMPLETE : KONCE_REASM_PARTIAL);
		assert_true(r.used <= cfg.budget);
	}
	check_msg(m, 65, total);
	assert_int_equal(r.used, 64 + total); /* the map's charge came back at delivery */
	konce_reasm_release(&r, m);
	assert_int_equal(r.used, 0);
	konce_reasm_free(&r);
	assert_int_equal(be.bytes, 0);
}

/* Regression: sessions share a pool.  One greedy reassembler cannot take
 * more than the pool, and past half full it is held to its fair share, so another session can
 * still receive.  Giving memory back (release, free) returns it to the pool. */
static void test_pool_fair_share(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 1);
	konce_reasm_pool pool = {.budget = 400000};
	konce_reasm_config cfg = {.budget = 1u << 20, .max_message = 1u << 20, .pool = &pool};
	konce_reasm a, b;
	assert_int_equal(konce_reasm_init(&a, &ce.env, &cfg), 0);
	assert_int_equal(konce_reasm_init(&b, &ce.env, &cfg), 0);
	assert_int_equal(konce_reasm_credit(&a), pool.budget);
	konce_reasm_msg *m;
	/* the greedy one touches chunk after chunk of a 1 MiB message */
	konce_reasm_result res = KONCE_REASM_PARTIAL;
	uint64_t off = 0;
	while (res == KONCE_REASM_PARTIAL && off < (1u << 20)) {
		res = feed(&a, 1, 1u << 20, off, 960, &m);
		off += KONCE_REASM_CHUNK;
	}
	assert_int_equal(res, KONCE_REASM_NO_BUDGET);
	assert_int_equal(a.used, 0); /* the refused message gave everything back */
	/* again, but with a second session holding memory: a stops at about half */
	assert_int_equal(feed(&b, 1, 100000, 0, 960, &m), KONCE_REASM_PARTIAL);
	res = KONCE_REASM_PARTIAL;
	off = 0;
	uint64_t most = 0;
	while (res == KONCE_REASM_PARTIAL) {
		res = feed(&a, 2, 1u << 20, off, 960, &m);
		if (a.used > most)
			most = a.used;
		off += KONCE_REASM_CHUNK;
	}
	assert_int_equal(res, KONCE_REASM_NO_BUDGET);
	assert_true(most <= pool.budget / 2);
	assert_true(pool.used <= pool.budget);
	/* b finishes its message within its share */
	for (off = 960; off < 100000; off += 960) {
		res = feed(&b, 1, 100000, off, 100000 - off < 960 ? 100000 - off : 960, &m);
		assert_int_not_equal(res, KONCE_REASM_NO_BUDGET);
	}
	assert_int_equal(res, KONCE_REASM_COMPLETE);
	check_msg(m, 1, 100000);
	assert_int_equal(pool.used, b.used);
	assert_int_equal(pool.holders, 1);
	konce_reasm_free(&b); /* m not released: its charge leaves with the reassembler */
	konce_reasm_msg_free(&ce.env, m);
	assert_int_equal(pool.used, 0);
	assert_int_equal(pool.holders, 0);
	konce_reasm_free(&a);
	assert_int_equal(ce.live, 0);
}

/* Regression: the share past half was per reassembler, so one source with many reassemblers
 * took nearly all the pool (6 x 45 kB of 400 kB), and another source's 150 kB message was refused.
 * Reassemblers charged to one source share its share: alone, the source stops at half the pool,
 * however many reassemblers it has; the other source's message then arrives; and the counts
 * return to zero as memory is given back. */
static void test_pool_share_per_source(void **state)
{
	(void)state;
	enum { N = 6, BIG = 40000, SMALL = 150000 };
	count_env ce;
	count_env_init(&ce, 1);
	konce_reasm_pool pool = {.budget = 400000};
	konce_reasm_config cfg = {.budget = 1u << 21, .max_message = 1u << 20, .pool = &pool};
	konce_reasm_source hostile = {0}, honest = {0};
	konce_reasm h[N], g;
	for (int i = 0; i < N; i++) {
		assert_int_equal(konce_reasm_init(&h[i], &ce.env, &cfg), 0);
		assert_int_equal(konce_reasm_set_source(&h[i], &hostile), 0);
	}
	assert_int_equal(konce_reasm_init(&g, &ce.env, &cfg), 0);
	assert_int_equal(konce_reasm_set_source(&g, &honest), 0);
	konce_reasm_msg *m;
	/* each hostile reassembler sends all of a 40 kB message but its last fragment */
	for (int i = 0; i < N; i++)
		for (uint64_t off = 0; off + 960 < BIG; off += 960)
			if (feed(&h[i], 1, BIG, off, 960, &m) != KONCE_REASM_PARTIAL)
				break;
	assert_true(hostile.used <= pool.budget / 2);
	assert_true(hostile.used > pool.budget / 2 - konce_reasm_charge(BIG)); /* it took what it could */
	assert_int_equal(pool.used, hostile.used);
	assert_int_equal(pool.sources, 1);
	/* the other source's message, 169 kB of charge, arrives whole */
	konce_reasm_result res = KONCE_REASM_PARTIAL;
	assert_true(konce_reasm_charge(SMALL) <= pool.budget / 2);
	for (uint64_t off = 0; off < SMALL; off += 960) {
		res = feed(&g, 1, SMALL, off, SMALL - off < 960 ? SMALL - off : 960, &m);
		assert_true(res == KONCE_REASM_PARTIAL || res == KONCE_REASM_COMPLETE);
	}
	assert_int_equal(res, KONCE_REASM_COMPLETE);
	check_msg(m, 1, SMALL);
	assert_int_equal(pool.sources, 2);
	assert_int_equal(honest.used, g.used);
	/* a source that holds memory cannot be switched */
	assert_int_equal(konce_reasm_set_source(&g, NULL), -EBUSY);
	konce_reasm_release(&g, m);
	assert_int_equal(honest.used, 0);
	assert_int_equal(pool.sources, 1);
	for (int i = 0; i < N; i++)
		konce_reasm_free(&h[i]);
	konce_reasm_free(&g);
	assert_int_equal(hostile.used, 0);
	assert_int_equal(pool.used, 0);
	assert_int_equal(pool.sources, 0);
	assert_int_equal(pool.holders, 0);
	assert_int_equal(ce.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_random_sizes),
		cmocka_unit_test(test_random_sizes_in_place),
		cmocka_unit_test(test_overlap_first_copy_wins),
		cmocka_unit_test(test_unaligned_overlaps),
		cmocka_unit_test(test_unaligned_overlaps_in_place),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_no_head_of_line_blocking),
		cmocka_unit_test(test_budget_and_refusals),
		cmocka_unit_test(test_charge_touched_memory),
		cmocka_unit_test(test_pool_fair_share),
		cmocka_unit_test(test_pool_share_per_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
