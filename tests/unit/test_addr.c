/* test_addr.c - konce_addr parsing, formatting and sockaddr round trips. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "node/base/addr.h"
#include "node/base/wire.h"

static void test_v4_roundtrip(void **state)
{
	(void)state;
	konce_addr a;
	char buf[KONCE_ADDR_STRLEN];
	assert_int_equal(konce_addr_parse(&a, "192.0.2.7:7807"), 0);
	assert_true(konce_addr_is_v4(&a));
	assert_int_equal(a.port, 7807);
	assert_string_equal(konce_addr_str(&a, buf), "192.0.2.7:7807");

	struct sockaddr_storage ss;
	assert_int_equal(konce_addr_to_sockaddr(&a, &ss, false), sizeof(struct sockaddr_in));
	konce_addr b;
	assert_int_equal(konce_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	assert_true(konce_addr_eq(&a, &b));
	/* the same address as a v4-mapped AF_INET6 sockaddr compares equal */
	assert_int_equal(konce_addr_to_sockaddr(&a, &ss, true), sizeof(struct sockaddr_in6));
	assert_int_equal(konce_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	assert_true(konce_addr_eq(&a, &b));
}

static void test_v6_roundtrip(void **state)
{
	(void)state;
	konce_addr a;
	char buf[KONCE_ADDR_STRLEN];
	assert_int_equal(konce_addr_parse(&a, "[2001:db8::1]:1"), 0);
	assert_false(konce_addr_is_v4(&a));
	assert_string_equal(konce_addr_str(&a, buf), "[2001:db8::1]:1");
}

/* The 18-byte wire form and the 32-bit accessors: big-endian, exactly these bytes. */
static void test_wire_forms(void **state)
{
	(void)state;
	konce_addr a, b;
	assert_int_equal(konce_addr_parse(&a, "192.0.2.7:7807"), 0);
	uint8_t w[KONCE_ADDR_WIRE_SIZE + 1];
	memset(w, 0xee, sizeof w);
	konce_addr_encode(w, &a);
	static const uint8_t want[KONCE_ADDR_WIRE_SIZE] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7,
							   0x1e, 0x7f};
	assert_memory_equal(w, want, sizeof want);
	assert_int_equal(w[KONCE_ADDR_WIRE_SIZE], 0xee); /* writes 18 bytes, no more */
	konce_addr_decode(&b, w);
	assert_true(konce_addr_eq(&a, &b));

	uint8_t q[5] = {0xee, 0xee, 0xee, 0xee, 0xee};
	wire_put32(q, 0x01020304u);
	assert_int_equal(q[0], 1);
	assert_int_equal(q[3], 4);
	assert_int_equal(q[4], 0xee);
	assert_int_equal(wire_get32(q), 0x01020304u);
	wire_put32(q, 0xfffffffeu);
	assert_int_equal(wire_get32(q), 0xfffffffeu);
}

static void test_bad_input(void **state)
{
	(void)state;
	konce_addr a;
	const char *bad[] = {"", ":", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:1x",
			     "[::1]", "[::1]:", "::1:5", "[1.2.3.4]:5", "host:5", "1.2.3:5", "[::1]x5",
			     "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(konce_addr_parse(&a, bad[i]), -EINVAL);
	assert_int_equal(konce_addr_parse(&a, NULL), -EINVAL);

	struct sockaddr sa = {.sa_family = AF_UNIX};
	assert_int_equal(konce_addr_from_sockaddr(&a, &sa), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_roundtrip),
		cmocka_unit_test(test_v6_roundtrip),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_wire_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
