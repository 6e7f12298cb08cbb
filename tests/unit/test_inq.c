/* test_inq.c - the daemon's input queue: priority order, shedding the worst first, no growth. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/inq.h"
#include "node/base/wire.h"

static konce_addr addr(uint32_t i)
{
	konce_addr a;
	uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	konce_addr_from_v4(&a, v4, (uint16_t)(1024 + i % 60000));
	return a;
}

/* A datagram of type t (first byte) carrying its sequence number i. */
static size_t dgram(uint8_t *buf, uint8_t t, uint32_t i, size_t len)
{
	memset(buf, 0, len);
	buf[0] = t;
	memcpy(buf + 1, &i, sizeof i);
	return len;
}

static uint32_t seq(const uint8_t *pkt)
{
	uint32_t i;
	memcpy(&i, pkt + 1, sizeof i);
	return i;
}

/* One wake's worth: 1,000 junk HELLOs from spoofed (fresh, priority 1) sources arrive around 10
 * session DATA datagrams (priority 0), into a 256-slot queue.  The 10 DATA come out first, in
 * arrival order, none is shed, and everything shed is junk. */
static void test_flood_sheds_junk_not_data(void **state)
{
	(void)state;
	konce_inq *q;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	assert_int_equal(konce_inq_new(&q, 256, KONCE_WIRE_MAX_DATAGRAM), 0);
	unsigned ndata = 0;
	for (uint32_t i = 0; i < 1010; i++) {
		konce_addr a = addr(i);
		if (i % 101 == 50) /* DATA spread through the flood, the last ones after the queue is full */
			konce_inq_push(q, 0, buf, dgram(buf, KONCE_PKT_DATA, ndata++, 100), &a);
		else
			konce_inq_push(q, 1, buf, dgram(buf, KONCE_PKT_HELLO, i, KONCE_HELLO_SIZE), &a);
	}
	assert_int_equal(ndata, 10);
	assert_int_equal(konce_inq_len(q), 256);
	assert_int_equal(konce_inq_shed(q), 1010 - 256);
	assert_int_equal(konce_inq_shed_prio(q, 0), 0);
	assert_int_equal(konce_inq_shed_prio(q, 1), 1010 - 256);

	const uint8_t *pkt;
	size_t len;
	const konce_addr *from;
	unsigned prio;
	for (uint32_t k = 0; k < 10; k++) {
		assert_true(konce_inq_peek(q, &pkt, &len, &from, &prio));
		assert_int_equal(prio, 0);
		assert_int_equal(pkt[0], KONCE_PKT_DATA);
		assert_int_equal(len, 100);
		assert_int_equal(seq(pkt), k);
		konce_inq_drop(q);
	}
	/* then the 246 HELLOs kept, oldest first.  Among equals a full queue sheds the newcomer (tail
	 * drop), so the first 253 HELLOs (i 0..255 but the 3 DATA) were kept, and each of the 7 DATA that
	 * came later displaced the oldest of them: i 0..6 are gone. */
	uint32_t last = 0, first = 0;
	for (unsigned k = 0; k < 246; k++) {
		assert_true(konce_inq_peek(q, &pkt, &len, &from, &prio));
		assert_int_equal(prio, 1);
		assert_int_equal(pkt[0], KONCE_PKT_HELLO);
		assert_int_equal(len, KONCE_HELLO_SIZE);
		konce_addr want = addr(seq(pkt));
		assert_true(konce_addr_eq(from, &want));
		if (k)
			assert_true(seq(pkt) > last);
		else
			first = seq(pkt);
		last = seq(pkt);
		konce_inq_drop(q);
	}
	assert_int_equal(first, 7);
	assert_int_equal(last, 255);
	assert_false(konce_inq_peek(q, &pkt, &len, &from, &prio));
	assert_int_equal(konce_inq_len(q), 0);
	konce_inq_free(q);
}

/* Overdrawn sources (priority 1 + overdraft) are shed before fresh ones, and unknown types (17)
 * before all; a better datagram arriving into a full queue displaces the worst; an equal or worse
 * one is shed itself. */
static void test_worst_shed_first(void **state)
{
	(void)state;
	konce_inq *q;
	uint8_t buf[64];
	konce_addr a = addr(1);
	assert_int_equal(konce_inq_new(&q, 4, sizeof buf), 0);
	assert_true(konce_inq_push(q, 17, buf, dgram(buf, 0x99, 0, 8), &a));
	assert_true(konce_inq_push(q, 5, buf, dgram(buf, KONCE_PKT_INITIATE, 1, 8), &a));
	assert_true(konce_inq_push(q, 3, buf, dgram(buf, KONCE_PKT_HELLO, 2, 8), &a));
	assert_true(konce_inq_push(q, 5, buf, dgram(buf, KONCE_PKT_INITIATE, 3, 8), &a));
	/* full: a fresh HELLO (1) displaces the unknown (17), then the oldest overdraft-4 (5) */
	assert_true(konce_inq_push(q, 1, buf, dgram(buf, KONCE_PKT_HELLO, 4, 8), &a));
	assert_int_equal(konce_inq_shed_prio(q, 17), 1);
	assert_true(konce_inq_push(q, 1, buf, dgram(buf, KONCE_PKT_HELLO, 5, 8), &a));
	assert_int_equal(konce_inq_shed_prio(q, 5), 1);
	/* an overdraft-4 source now finds nothing worse queued than itself: shed */
	assert_false(konce_inq_push(q, 5, buf, dgram(buf, KONCE_PKT_INITIATE, 6, 8), &a));
	assert_int_equal(konce_inq_shed_prio(q, 5), 2);
	/* priorities above 17 are 17; oversize datagrams are shed, never truncated */
	assert_false(konce_inq_push(q, 40, buf, dgram(buf, 0x99, 7, 8), &a));
	assert_int_equal(konce_inq_shed_prio(q, 17), 2);
	uint8_t big[65] = {KONCE_PKT_DATA};
	assert_false(konce_inq_push(q, 0, big, sizeof big, &a));
	assert_int_equal(konce_inq_shed_prio(q, 0), 1);
	assert_int_equal(konce_inq_shed(q), 5);

	static const uint32_t order[] = {4, 5, 2, 3}; /* prio 1, 1, 3, 5 */
	const uint8_t *pkt;
	size_t len;
	const konce_addr *from;
	for (unsigned k = 0; k < 4; k++) {
		assert_true(konce_inq_peek(q, &pkt, &len, &from, NULL));
		assert_int_equal(seq(pkt), order[k]);
		konce_inq_drop(q);
	}
	assert_false(konce_inq_peek(q, &pkt, &len, &from, NULL));
	konce_inq_drop(q); /* on empty: nothing */
	/* slots are reused: the pool never grows, and still holds 4 */
	for (uint32_t i = 0; i < 4; i++)
		assert_true(konce_inq_push(q, 2, buf, dgram(buf, KONCE_PKT_HELLO, 10 + i, 8), &a));
	assert_false(konce_inq_push(q, 2, buf, dgram(buf, KONCE_PKT_HELLO, 14, 8), &a));
	assert_true(konce_inq_peek(q, &pkt, &len, &from, NULL));
	assert_int_equal(seq(pkt), 10);
	konce_inq_free(q);
}

static void test_bad_args(void **state)
{
	(void)state;
	konce_inq *q = (konce_inq *)1;
	assert_int_equal(konce_inq_new(&q, 0, 10), -EINVAL);
	assert_null(q);
	assert_int_equal(konce_inq_new(&q, 10, 0), -EINVAL);
	assert_int_equal(konce_inq_new(&q, (1u << 24) + 1, 10), -EINVAL);
	konce_inq_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_sheds_junk_not_data),
		cmocka_unit_test(test_worst_shed_first),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
