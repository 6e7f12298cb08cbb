/* test_ackframe.c - ACK frame vectors, truncation to a small buffer, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ackframe.h"
#include "node/base/varint.h"

static konce_ack sample(void)
{
	konce_ack a = {.ack_delay_us = 800, .credit = 65536, .nranges = 3};
	a.ranges[0] = (konce_ack_range){95, 100};
	a.ranges[1] = (konce_ack_range){80, 90};
	a.ranges[2] = (konce_ack_range){1, 1};
	return a;
}

/* Worked by hand from the layout in ackframe.h. */
static const uint8_t vec[] = {
	0x10,                   /* ACK */
	0x40, 0x64,             /* largest 100 */
	0x40, 0x64,             /* ack delay 100 x 8 us = 800 us */
	0x80, 0x01, 0x00, 0x00, /* credit 65536 */
	0x05,                   /* first range: 95..100 */
	0x02,                   /* two more ranges */
	0x03, 0x0a,             /* gap 3 (91..94 missing), length 10: 80..90 */
	0x40, 0x4d, 0x00,       /* gap 77 (2..79 missing), length 0: 1..1 */
};

static void assert_ack_equal(const konce_ack *a, const konce_ack *b)
{
	assert_int_equal(a->nranges, b->nranges);
	for (size_t i = 0; i < a->nranges; i++) {
		assert_int_equal(a->ranges[i].lo, b->ranges[i].lo);
		assert_int_equal(a->ranges[i].hi, b->ranges[i].hi);
	}
	assert_int_equal(a->ack_delay_us, b->ack_delay_us);
	assert_int_equal(a->credit, b->credit);
	assert_int_equal(a->has_owd, b->has_owd);
	assert_int_equal(a->owd, b->owd);
}

static void test_vector(void **state)
{
	(void)state;
	konce_ack a = sample(), d;
	uint8_t buf[64];
	size_t nenc;
	assert_int_equal(konce_ackframe_encode(buf, sizeof(buf), &a, &nenc), sizeof(vec));
	assert_int_equal(nenc, 3);
	assert_memory_equal(buf, vec, sizeof(vec));
	assert_int_equal(konce_ackframe_decode(vec, sizeof(vec), &d), sizeof(vec));
	assert_ack_equal(&a, &d);
	assert_true(konce_ack_contains(&d, 100) && konce_ack_contains(&d, 95) && konce_ack_contains(&d, 1));
	assert_false(konce_ack_contains(&d, 94) || konce_ack_contains(&d, 91) || konce_ack_contains(&d, 2) ||
		     konce_ack_contains(&d, 101));
	/* Trailing bytes belong to the next frame and are not consumed. */
	uint8_t longer[sizeof(vec) + 3];
	memcpy(longer, vec, sizeof(vec));
	memset(longer + sizeof(vec), 0x01, 3);
	assert_int_equal(konce_ackframe_decode(longer, sizeof(longer), &d), sizeof(vec));
}

static void test_owd_vector(void **state)
{
	(void)state;
	konce_ack a = sample(), d;
	a.has_owd = true;
	a.owd = 0x01020304;
	uint8_t buf[64];
	assert_int_equal(konce_ackframe_encode(buf, sizeof(buf), &a, NULL), sizeof(vec) + 4);
	assert_int_equal(buf[0], KONCE_FRAME_ACK_OWD);
	assert_memory_equal(buf + 1, vec + 1, sizeof(vec) - 1);
	assert_memory_equal(buf + sizeof(vec), "\x01\x02\x03\x04", 4);
	assert_int_equal(konce_ackframe_decode(buf, sizeof(vec) + 4, &d), sizeof(vec) + 4);
	assert_ack_equal(&a, &d);
	/* owd missing */
	assert_int_equal(konce_ackframe_decode(buf, sizeof(vec) + 3, &d), 0);
}

static void test_truncation_keeps_newest(void **state)
{
	(void)state;
	konce_ack a = sample(), d;
	uint8_t buf[64];
	size_t nenc;
	assert_int_equal(konce_ackframe_encode(buf, 14, &a, &nenc), 13);
	assert_int_equal(nenc, 2);
	assert_int_equal(konce_ackframe_decode(buf, 13, &d), 13);
	assert_int_equal(d.nranges, 2);
	assert_int_equal(d.ranges[0].hi, 100);
	assert_int_equal(d.ranges[1].lo, 80);
	assert_int_equal(konce_ackframe_encode(buf, 11, &a, &nenc), 11);
	assert_int_equal(nenc, 1);
	assert_int_equal(konce_ackframe_encode(buf, 10, &a, &nenc), 0);
	assert_int_equal(nenc, 0);
	/* With an owd sample the 4 bytes are reserved first. */
	a.has_owd = true;
	assert_int_equal(konce_ackframe_encode(buf, 17, &a, &nenc), 17);
	assert_int_equal(nenc, 2);
	assert_int_equal(konce_ackframe_decode(buf, 17, &d), 17);
	assert_true(d.has_owd);

	/* The maximum number of ranges, with large gaps, into a buffer that holds about half. */
	konce_ack big = {.nranges = KONCE_ACK_MAX_RANGES};
	uint64_t pn = (uint64_t)1 << 40;
	for (size_t i = 0; i < big.nranges; i++) {
		big.ranges[i] = (konce_ack_range){pn - 100000, pn};
		pn -= 1000000;
	}
	size_t n = konce_ackframe_encode(buf, sizeof(buf), &big, &nenc);
	assert_true(n > 0 && n <= sizeof(buf));
	assert_true(nenc > 1 && nenc < big.nranges);
	assert_int_equal(konce_ackframe_decode(buf, n, &d), n);
	assert_int_equal(d.nranges, nenc);
	for (size_t i = 0; i < nenc; i++)
		assert_int_equal(d.ranges[i].lo, big.ranges[i].lo);
}

static void test_encode_refuses_invalid(void **state)
{
	(void)state;
	uint8_t buf[64];
	konce_ack a = sample();
	a.ranges[1].hi = 94; /* adjacent to the range above: no missing packet between */
	assert_int_equal(konce_ackframe_encode(buf, sizeof(buf), &a, NULL), 0);
	a = sample();
	a.ranges[2].lo = 0;
	assert_int_equal(konce_ackframe_encode(buf, sizeof(buf), &a, NULL), 0);
	a = sample();
	a.nranges = 0;
	assert_int_equal(konce_ackframe_encode(buf, sizeof(buf), &a, NULL), 0);
	a = sample();
	a.ranges[0].hi = KONCE_VARINT_MAX + 1;
	assert_int_equal(konce_ackframe_encode(buf, sizeof(buf), &a, NULL), 0);
	/* credit saturates rather than failing */
	a = sample();
	a.credit = UINT64_MAX;
	konce_ack d;
	size_t n = konce_ackframe_encode(buf, sizeof(buf), &a, NULL);
	assert_true(n > 0);
	assert_int_equal(konce_ackframe_decode(buf, n, &d), n);
	assert_int_equal(d.credit, KONCE_VARINT_MAX);
}

static void test_malformed(void **state)
{
	(void)state;
	konce_ack d;
	/* every truncation of the vector */
	for (size_t n = 0; n < sizeof(vec); n++)
		assert_int_equal(konce_ackframe_decode(vec, n, &d), 0);
	/* wrong type */
	uint8_t b[sizeof(vec)];
	memcpy(b, vec, sizeof(vec));
	b[0] = KONCE_FRAME_FRAGMENT;
	assert_int_equal(konce_ackframe_decode(b, sizeof(b), &d), 0);
	/* largest 0 */
	const uint8_t zero[] = {0x10, 0x00, 0x00, 0x00, 0x00, 0x00};
	assert_int_equal(konce_ackframe_decode(zero, sizeof(zero), &d), 0);
	/* first range reaching packet 0: largest 5, first range 5 */
	const uint8_t under[] = {0x10, 0x05, 0x00, 0x00, 0x05, 0x00};
	assert_int_equal(konce_ackframe_decode(under, sizeof(under), &d), 0);
	const uint8_t ok[] = {0x10, 0x05, 0x00, 0x00, 0x04, 0x00};
	assert_int_equal(konce_ackframe_decode(ok, sizeof(ok), &d), sizeof(ok));
	assert_int_equal(d.ranges[0].lo, 1);
	/* a gap reaching below packet 1: largest 10, first 0, gap 7 -> hi = 10 - 7 - 2 = 1 fine, gap 8 not */
	const uint8_t gap_ok[] = {0x10, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x07, 0x00};
	assert_int_equal(konce_ackframe_decode(gap_ok, sizeof(gap_ok), &d), sizeof(gap_ok));
	assert_int_equal(d.ranges[1].hi, 1);
	const uint8_t gap_bad[] = {0x10, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00};
	assert_int_equal(konce_ackframe_decode(gap_bad, sizeof(gap_bad), &d), 0);
	/* a length reaching packet 0: hi 3 (gap 5), length 3 */
	const uint8_t len_bad[] = {0x10, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x05, 0x03};
	assert_int_equal(konce_ackframe_decode(len_bad, sizeof(len_bad), &d), 0);
	/* too many ranges */
	uint8_t many[6 + 2 * KONCE_ACK_MAX_RANGES] = {0x10, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
	/* largest 65536 in 4 bytes, delay 0, credit 0, first 0, count = MAX (31 + 1) */
	size_t n = 5;
	many[n++] = 0x00;
	many[n++] = 0x00;
	many[n++] = 0x00;
	many[n++] = KONCE_ACK_MAX_RANGES;
	uint8_t big[sizeof(many) + 4];
	memcpy(big, many, n);
	memset(big + n, 0, sizeof(big) - n);
	assert_int_equal(konce_ackframe_decode(big, n + 2 * KONCE_ACK_MAX_RANGES, &d), 0);
	big[n - 1] = KONCE_ACK_MAX_RANGES - 1;
	assert_int_equal(konce_ackframe_decode(big, n + 2 * (KONCE_ACK_MAX_RANGES - 1), &d),
			 n + 2 * (KONCE_ACK_MAX_RANGES - 1));
	assert_int_equal(d.nranges, KONCE_ACK_MAX_RANGES);
	/* an ack delay whose microseconds overflow 64 bits */
	const uint8_t delay[] = {0x10, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00};
	assert_int_equal(konce_ackframe_decode(delay, sizeof(delay), &d), 0);
}

static void test_varint(void **state)
{
	(void)state;
	/* RFC 9000 appendix A.1 examples */
	const struct {
		uint64_t v;
		uint8_t b[8];
		size_t n;
	} ex[] = {
		{151288809941952652ull, {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}, 8},
		{494878333, {0x9d, 0x7f, 0x3e, 0x7d}, 4},
		{15293, {0x7b, 0xbd}, 2},
		{37, {0x25}, 1},
	};
	uint8_t buf[8];
	uint64_t v;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(konce_varint_put(buf, sizeof(buf), ex[i].v), ex[i].n);
		assert_memory_equal(buf, ex[i].b, ex[i].n);
		assert_int_equal(konce_varint_get(ex[i].b, ex[i].n, &v), ex[i].n);
		assert_int_equal(v, ex[i].v);
		assert_int_equal(konce_varint_get(ex[i].b, ex[i].n - 1, &v), 0);
	}
	/* 37 in two bytes decodes too */
	assert_int_equal(konce_varint_get((const uint8_t *)"\x40\x25", 2, &v), 2);
	assert_int_equal(v, 37);
	assert_int_equal(konce_varint_put(buf, sizeof(buf), KONCE_VARINT_MAX + 1), 0);
	assert_int_equal(konce_varint_put(buf, 1, 64), 0);
}

static void test_timestamp(void **state)
{
	(void)state;
	uint8_t buf[8];
	uint32_t ts;
	assert_int_equal(konce_timestamp_encode(buf, sizeof(buf), 0x89abcdefu), 5);
	assert_memory_equal(buf, "\x12\x89\xab\xcd\xef", 5);
	assert_int_equal(konce_timestamp_decode(buf, 5, &ts), 5);
	assert_int_equal(ts, 0x89abcdefu);
	assert_int_equal(konce_timestamp_decode(buf, 4, &ts), 0);
	assert_int_equal(konce_timestamp_encode(buf, 4, 1), 0);
	buf[0] = KONCE_FRAME_ACK;
	assert_int_equal(konce_timestamp_decode(buf, 5, &ts), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_owd_vector),
		cmocka_unit_test(test_truncation_keeps_newest),
		cmocka_unit_test(test_encode_refuses_invalid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_timestamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
