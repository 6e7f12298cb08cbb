/* test_udpplan.c - the batched UDP socket's decisions (node/base/udpplan.h): GSO trains, what a
 * send failure means, the bind hint. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/udpplan.h"

static konce_addr A, B;

static int setup(void **state)
{
	(void)state;
	assert_int_equal(konce_addr_parse(&A, "192.0.2.1:7807"), 0);
	assert_int_equal(konce_addr_parse(&B, "192.0.2.2:7807"), 0);
	return 0;
}

static void fill(konce_udp_slot *q, unsigned n, uint16_t len, const konce_addr *to)
{
	for (unsigned i = 0; i < n; i++)
		q[i] = (konce_udp_slot){NULL, len, *to};
}

static void trains(void **state)
{
	(void)state;
	konce_udp_slot q[80];
	fill(q, 80, 1200, &A);
	assert_int_equal(konce_udp_train(q, 1, 64), 1);
	assert_int_equal(konce_udp_train(q, 10, 64), 10);
	assert_int_equal(konce_udp_train(q, 80, 64), 54); /* 54 * 1200 <= 65507 < 55 * 1200 */
	assert_int_equal(konce_udp_train(q, 80, 16), 16);
	fill(q, 80, 500, &A);
	assert_int_equal(konce_udp_train(q, 80, 64), 64); /* 64 * 500 fits: the segment cap binds */
	/* another destination ends the train */
	fill(q, 10, 1200, &A);
	q[4].to = B;
	assert_int_equal(konce_udp_train(q, 10, 64), 4);
	assert_int_equal(konce_udp_train(q + 4, 6, 64), 1);
	/* the last may be shorter; nothing follows a shorter one, and nothing longer joins */
	fill(q, 10, 1200, &A);
	q[3].len = 800;
	assert_int_equal(konce_udp_train(q, 10, 64), 4);
	fill(q, 10, 1200, &A);
	q[3].len = 1300;
	assert_int_equal(konce_udp_train(q, 10, 64), 3);
	/* a datagram too large for two in one train goes alone */
	fill(q, 3, 40000, &A);
	assert_int_equal(konce_udp_train(q, 3, 64), 1);
}

static void send_failures(void **state)
{
	(void)state;
	assert_int_equal(konce_udp_send_fail(EINTR, 1), KONCE_UDP_FAIL_RETRY);
	assert_int_equal(konce_udp_send_fail(EINTR, 8), KONCE_UDP_FAIL_RETRY);
	const int nogso[] = {EIO, EINVAL, EMSGSIZE, EOPNOTSUPP};
	for (size_t i = 0; i < sizeof nogso / sizeof nogso[0]; i++) {
		assert_int_equal(konce_udp_send_fail(nogso[i], 2), KONCE_UDP_FAIL_NO_GSO);
		/* a single datagram: the error is the destination's */
		assert_int_equal(konce_udp_send_fail(nogso[i], 1), KONCE_UDP_FAIL_DEST);
	}
	assert_int_equal(konce_udp_send_fail(EAGAIN, 1), KONCE_UDP_FAIL_FULL);
	assert_int_equal(konce_udp_send_fail(EWOULDBLOCK, 4), KONCE_UDP_FAIL_FULL);
	assert_int_equal(konce_udp_send_fail(ENOBUFS, 1), KONCE_UDP_FAIL_FULL);
	assert_int_equal(konce_udp_send_fail(ECONNREFUSED, 1), KONCE_UDP_FAIL_DEST);
	assert_int_equal(konce_udp_send_fail(ENETUNREACH, 4), KONCE_UDP_FAIL_DEST);
	assert_int_equal(konce_udp_send_fail(EPERM, 1), KONCE_UDP_FAIL_DEST);
}

static void bind_hints(void **state)
{
	(void)state;
	assert_non_null(strstr(konce_udp_bind_hint(EADDRINUSE), "--listen"));
	assert_non_null(strstr(konce_udp_bind_hint(EACCES), "CAP_NET_BIND_SERVICE"));
	assert_string_equal(konce_udp_bind_hint(EADDRNOTAVAIL), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trains), cmocka_unit_test(send_failures), cmocka_unit_test(bind_hints),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
