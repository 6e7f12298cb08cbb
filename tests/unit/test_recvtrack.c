/* test_recvtrack.c - received ranges, duplicates, the bounded record, and when acks are due. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "node/transport/recvtrack.h"

#define MS 1000

static void test_ranges_and_duplicates(void **state)
{
	(void)state;
	konce_recvtrack rt;
	konce_ack a;
	konce_recvtrack_init(&rt, 0);
	assert_int_equal(konce_recvtrack_build_ack(&rt, 0, 0, &a), -ENODATA);
	const uint64_t pns[] = {1, 2, 3, 7, 8, 5, 10};
	for (size_t i = 0; i < sizeof(pns) / sizeof(pns[0]); i++)
		assert_int_equal(konce_recvtrack_on_packet(&rt, pns[i], true, 0, false, 0), KONCE_RECV_NEW);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 7, true, 0, false, 0), KONCE_RECV_DUPLICATE);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 1, true, 0, false, 0), KONCE_RECV_DUPLICATE);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 0, true, 0, false, 0), KONCE_RECV_TOO_OLD);
	assert_int_equal(konce_recvtrack_build_ack(&rt, 0, 1234, &a), 0);
	assert_true(konce_ack_valid(&a));
	assert_int_equal(a.nranges, 4);
	const konce_ack_range want[] = {{10, 10}, {7, 8}, {5, 5}, {1, 3}};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(a.ranges[i].lo, want[i].lo);
		assert_int_equal(a.ranges[i].hi, want[i].hi);
	}
	assert_int_equal(a.credit, 1234);
	/* 4 and 6 join everything from 1 to 8; 9 joins 10 */
	konce_recvtrack_on_packet(&rt, 4, true, 0, false, 0);
	konce_recvtrack_on_packet(&rt, 6, true, 0, false, 0);
	konce_recvtrack_on_packet(&rt, 9, true, 0, false, 0);
	konce_recvtrack_build_ack(&rt, 0, 0, &a);
	assert_int_equal(a.nranges, 1);
	assert_int_equal(a.ranges[0].lo, 1);
	assert_int_equal(a.ranges[0].hi, 10);
}

static void test_bounded(void **state)
{
	(void)state;
	konce_recvtrack rt;
	konce_recvtrack_init(&rt, 0);
	/* Every other packet: each is its own range. */
	for (uint64_t pn = 1; pn <= 2 * (KONCE_RECVTRACK_MAX_RANGES + 10); pn += 2)
		assert_int_equal(konce_recvtrack_on_packet(&rt, pn, true, 0, false, 0), KONCE_RECV_NEW);
	assert_int_equal(rt.nranges, KONCE_RECVTRACK_MAX_RANGES);
	/* The ten oldest were forgotten: packets there are too old, newer holes still fill. */
	assert_int_equal(konce_recvtrack_on_packet(&rt, 2, true, 0, false, 0), KONCE_RECV_TOO_OLD);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 1, true, 0, false, 0), KONCE_RECV_TOO_OLD);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 21, true, 0, false, 0), KONCE_RECV_DUPLICATE);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 22, true, 0, false, 0), KONCE_RECV_NEW);
	assert_int_equal(rt.nranges, KONCE_RECVTRACK_MAX_RANGES - 1);
	konce_ack a;
	konce_recvtrack_build_ack(&rt, 0, 0, &a);
	assert_int_equal(a.nranges, KONCE_ACK_MAX_RANGES);
	assert_int_equal(a.ranges[0].hi, 2 * (KONCE_RECVTRACK_MAX_RANGES + 10) - 1);
	assert_true(konce_ack_valid(&a));

	konce_recvtrack_forget_below(&rt, 100);
	assert_int_equal(konce_recvtrack_on_packet(&rt, 98, true, 0, false, 0), KONCE_RECV_TOO_OLD);
	assert_true(rt.ranges[rt.nranges - 1].lo >= 100);
}

static void test_ack_every_second_packet(void **state)
{
	(void)state;
	konce_recvtrack rt;
	konce_recvtrack_init(&rt, 25 * MS);
	assert_int_equal(konce_recvtrack_ack_time(&rt), KONCE_RECVTRACK_NEVER);
	konce_recvtrack_on_packet(&rt, 1, true, 1000, false, 0);
	assert_false(konce_recvtrack_ack_due(&rt, 1000));
	assert_int_equal(konce_recvtrack_ack_time(&rt), 1000 + 25 * MS);
	konce_recvtrack_on_packet(&rt, 2, true, 2000, false, 0);
	assert_true(konce_recvtrack_ack_due(&rt, 2000));
	konce_ack a;
	konce_recvtrack_build_ack(&rt, 2500, 0, &a);
	assert_int_equal(a.ack_delay_us, 500);
	konce_recvtrack_on_ack_sent(&rt);
	assert_false(konce_recvtrack_ack_due(&rt, 2500));
	assert_int_equal(konce_recvtrack_ack_time(&rt), KONCE_RECVTRACK_NEVER);
	/* Non-eliciting packets never make an ack due. */
	for (uint64_t pn = 3; pn < 10; pn++)
		konce_recvtrack_on_packet(&rt, pn, false, 3000, false, 0);
	assert_int_equal(konce_recvtrack_ack_time(&rt), KONCE_RECVTRACK_NEVER);
	/* ... but are acked with the next ack. */
	konce_recvtrack_on_packet(&rt, 10, true, 4000, false, 0);
	konce_recvtrack_build_ack(&rt, 4000, 0, &a);
	assert_int_equal(a.ranges[0].lo, 1);
	assert_int_equal(a.ranges[0].hi, 10);
}

static void test_ack_delay_timer(void **state)
{
	(void)state;
	konce_recvtrack rt;
	konce_recvtrack_init(&rt, 0);
	konce_recvtrack_on_packet(&rt, 1, true, 10 * MS, false, 0);
	assert_false(konce_recvtrack_ack_due(&rt, 34 * MS));
	assert_true(konce_recvtrack_ack_due(&rt, 35 * MS));
	konce_ack a;
	konce_recvtrack_build_ack(&rt, 35 * MS, 0, &a);
	assert_int_equal(a.ack_delay_us, 25 * MS);
}

static void test_out_of_order_acks_at_once(void **state)
{
	(void)state;
	konce_recvtrack rt;
	konce_recvtrack_init(&rt, 0);
	konce_recvtrack_on_packet(&rt, 1, true, 0, false, 0);
	konce_recvtrack_on_packet(&rt, 2, true, 0, false, 0);
	konce_recvtrack_on_ack_sent(&rt);
	/* 4 opens a hole at 3 */
	konce_recvtrack_on_packet(&rt, 4, true, 0, false, 0);
	assert_true(konce_recvtrack_ack_due(&rt, 0));
	konce_recvtrack_on_ack_sent(&rt);
	/* 3 fills it */
	konce_recvtrack_on_packet(&rt, 3, true, 0, false, 0);
	assert_true(konce_recvtrack_ack_due(&rt, 0));
}

static void test_owd_sample(void **state)
{
	(void)state;
	konce_recvtrack rt;
	konce_ack a;
	konce_recvtrack_init(&rt, 0);
	/* sender clock 0xfffffff0 at send; receiver clock 5000000 at receipt: the difference wraps */
	konce_recvtrack_on_packet(&rt, 5, true, 5000000, true, 0xfffffff0u);
	konce_recvtrack_build_ack(&rt, 5000000, 0, &a);
	assert_true(a.has_owd);
	assert_int_equal(a.owd, (uint32_t)(5000000u + 0x10u));
	/* an older packet does not replace the sample of the largest */
	konce_recvtrack_on_packet(&rt, 4, true, 6000000, true, 0);
	konce_recvtrack_build_ack(&rt, 6000000, 0, &a);
	assert_int_equal(a.owd, (uint32_t)(5000000u + 0x10u));
	assert_int_equal(a.ack_delay_us, 1000000);
	/* a newer one without a timestamp clears it */
	konce_recvtrack_on_packet(&rt, 6, true, 6000000, false, 0);
	konce_recvtrack_build_ack(&rt, 6000000, 0, &a);
	assert_false(a.has_owd);
}

static bool rt_contains(const konce_recvtrack *rt, uint64_t pn)
{
	for (size_t i = 0; i < rt->nranges; i++)
		if (pn >= rt->ranges[i].lo && pn <= rt->ranges[i].hi)
			return true;
	return false;
}

/* Random arrival order with duplicates against a reference bitmap. */
static void test_random_against_reference(void **state)
{
	(void)state;
	int forgot = 0; /* rounds in which the record was full and forgot its oldest ranges */
	srand(7);
	for (int round = 0; round < 50; round++) {
		konce_recvtrack rt;
		konce_recvtrack_init(&rt, 0);
		uint8_t seen[400] = {0};
		for (int i = 0; i < 600; i++) {
			uint64_t pn = 1 + (uint64_t)(rand() % 120) + (uint64_t)i / 2;
			if (pn >= 400)
				continue;
			konce_recv_result res = konce_recvtrack_on_packet(&rt, pn, true, 0, false, 0);
			if (res == KONCE_RECV_TOO_OLD) {
				assert_true(pn < rt.floor);
				continue;
			}
			assert_int_equal(res, seen[pn] ? KONCE_RECV_DUPLICATE : KONCE_RECV_NEW);
			seen[pn] = 1;
		}
		konce_ack a;
		konce_recvtrack_build_ack(&rt, 0, 0, &a);
		assert_true(konce_ack_valid(&a));
		/* The full record matches above the floor, the ack matches above its oldest range. */
		for (uint64_t pn = rt.floor; pn < 400; pn++)
			assert_int_equal(rt_contains(&rt, pn), seen[pn]);
		for (uint64_t pn = a.ranges[a.nranges - 1].lo; pn < 400; pn++)
			assert_int_equal(konce_ack_contains(&a, pn), seen[pn]);
		forgot += rt.floor > 1;
	}
	assert_true(forgot > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_and_duplicates),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_ack_every_second_packet),
		cmocka_unit_test(test_ack_delay_timer),
		cmocka_unit_test(test_out_of_order_acks_at_once),
		cmocka_unit_test(test_owd_sample),
		cmocka_unit_test(test_random_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
