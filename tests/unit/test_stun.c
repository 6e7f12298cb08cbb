/* test_stun.c - the STUN codec: RFC 5769 test vectors, building, answering, and bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/stun.h"

/* RFC 5769 section 2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
 * MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
	0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
	0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: sample IPv4 response, 192.0.2.1:32853. */
static const uint8_t rfc5769_v4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: sample IPv6 response, [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc5769_v6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
	0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
	0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t rfc5769_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void test_crc32(void **state)
{
	(void)state;
	/* the standard check value of CRC-32/ISO-HDLC */
	assert_int_equal(konce_stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	assert_int_equal(konce_stun_crc32(NULL, 0), 0);
}

static void test_rfc5769_request(void **state)
{
	(void)state;
	konce_stun_msg m;
	assert_int_equal(konce_stun_parse(&m, rfc5769_request, sizeof(rfc5769_request)), KONCE_STUN_OK);
	assert_int_equal(m.type, KONCE_STUN_BINDING_REQUEST);
	assert_int_equal(m.cookie, KONCE_STUN_MAGIC_COOKIE);
	assert_memory_equal(m.txid, rfc5769_txid, 12);
	assert_true(m.has_fingerprint);
	assert_true(m.has_integrity);
	assert_int_equal(m.integrity_offset, 20 + 20 + 8 + 12 + 16);
	assert_string_equal(m.software, "STUN test client");
	/* PRIORITY (0x0024) is comprehension-required and not ours; ICE-CONTROLLED (0x8029) is optional */
	assert_int_equal(m.n_unknown_required, 1);
	assert_int_equal(m.unknown_required[0], 0x0024);
	assert_int_equal(m.n_unknown_optional, 1);
	assert_int_equal(m.n_attrs, 6);
	assert_null(konce_stun_mapped(&m));
}

static void test_rfc5769_v4(void **state)
{
	(void)state;
	konce_stun_msg m;
	char buf[KONCE_ADDR_STRLEN];
	assert_int_equal(konce_stun_parse(&m, rfc5769_v4, sizeof(rfc5769_v4)), KONCE_STUN_OK);
	assert_int_equal(m.type, KONCE_STUN_BINDING_SUCCESS);
	assert_true(m.has_fingerprint);
	assert_true(m.has_xor_mapped);
	assert_false(m.has_mapped);
	assert_string_equal(konce_addr_str(konce_stun_mapped(&m), buf), "192.0.2.1:32853");
	/* 11 bytes of name; the padding byte (a space in the RFC) is not part of it */
	assert_string_equal(m.software, "test vector");
	assert_int_equal(m.n_unknown_required, 0);
}

static void test_rfc5769_v6(void **state)
{
	(void)state;
	konce_stun_msg m;
	char buf[KONCE_ADDR_STRLEN];
	assert_int_equal(konce_stun_parse(&m, rfc5769_v6, sizeof(rfc5769_v6)), KONCE_STUN_OK);
	assert_true(m.has_fingerprint);
	assert_string_equal(konce_addr_str(konce_stun_mapped(&m), buf),
			    "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

/* Our builder reproduces the XOR-MAPPED-ADDRESS bytes of the RFC 5769 vectors. */
static void test_build_xor_matches_rfc(void **state)
{
	(void)state;
	uint8_t out[64];
	konce_stun_builder b;
	konce_addr a;
	assert_int_equal(konce_addr_parse(&a, "192.0.2.1:32853"), 0);
	konce_stun_build_start(&b, out, sizeof(out), KONCE_STUN_BINDING_SUCCESS, KONCE_STUN_MAGIC_COOKIE,
			       rfc5769_txid);
	konce_stun_add_addr(&b, KONCE_STUN_A_XOR_MAPPED_ADDRESS, &a);
	assert_int_equal(konce_stun_build_finish(&b), 32);
	assert_memory_equal(out + 20, rfc5769_v4 + 36, 12);

	assert_int_equal(konce_addr_parse(&a, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"), 0);
	konce_stun_build_start(&b, out, sizeof(out), KONCE_STUN_BINDING_SUCCESS, KONCE_STUN_MAGIC_COOKIE,
			       rfc5769_txid);
	konce_stun_add_addr(&b, KONCE_STUN_A_XOR_MAPPED_ADDRESS, &a);
	assert_int_equal(konce_stun_build_finish(&b), 44);
	assert_memory_equal(out + 20, rfc5769_v6 + 36, 24);
}

static void test_request_and_answer(void **state)
{
	(void)state;
	uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t req[128], ans[256];
	konce_stun_msg m, r;
	konce_addr seen, origin, other;
	char buf[KONCE_ADDR_STRLEN];

	int n = konce_stun_request(req, sizeof(req), txid, KONCE_STUN_CHANGE_IP | KONCE_STUN_CHANGE_PORT, 4000, "t");
	assert_true(n > 0);
	assert_int_equal(konce_stun_parse(&m, req, (size_t)n), KONCE_STUN_OK);
	assert_true(m.has_change);
	assert_int_equal(m.change, KONCE_STUN_CHANGE_IP | KONCE_STUN_CHANGE_PORT);
	assert_true(m.has_response_port);
	assert_int_equal(m.response_port, 4000);
	assert_true(m.has_fingerprint);

	konce_addr_parse(&seen, "203.0.113.9:61000");
	konce_addr_parse(&origin, "198.51.100.1:3478");
	konce_addr_parse(&other, "198.51.100.2:3479");
	n = konce_stun_answer(ans, sizeof(ans), &m, &seen, &origin, &other, "konce");
	assert_true(n > 0);
	assert_int_equal(konce_stun_parse(&r, ans, (size_t)n), KONCE_STUN_OK);
	assert_int_equal(r.type, KONCE_STUN_BINDING_SUCCESS);
	assert_memory_equal(r.txid, txid, 12);
	assert_true(r.has_xor_mapped && r.has_mapped && r.has_origin && r.has_other && r.has_fingerprint);
	assert_false(r.other_is_changed_address);
	assert_string_equal(konce_addr_str(&r.xor_mapped, buf), "203.0.113.9:61000");
	assert_true(konce_addr_eq(&r.mapped, &seen));
	assert_true(konce_addr_eq(&r.origin, &origin));
	assert_true(konce_addr_eq(&r.other, &other));
	assert_string_equal(r.software, "konce");

	/* a response deserves no answer */
	assert_int_equal(konce_stun_answer(ans, sizeof(ans), &r, &seen, &origin, NULL, NULL), 0);
	/* too small a buffer */
	assert_int_equal(konce_stun_answer(ans, 40, &m, &seen, &origin, &other, "konce"), -ENOSPC);
}

/* An RFC 3489 request (no magic cookie) is answered in RFC 3489 terms. */
static void test_answer_rfc3489(void **state)
{
	(void)state;
	uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t ans[128];
	konce_stun_msg m, r;
	konce_addr seen, origin, other;
	konce_addr_parse(&seen, "10.0.0.1:5000");
	konce_addr_parse(&origin, "10.0.0.2:3478");
	konce_addr_parse(&other, "10.0.0.3:3479");
	assert_int_equal(konce_stun_parse(&m, req, sizeof(req)), KONCE_STUN_OK);
	int n = konce_stun_answer(ans, sizeof(ans), &m, &seen, &origin, &other, "konce");
	assert_int_equal(n, 20 + 3 * 12);
	assert_int_equal(konce_stun_parse(&r, ans, (size_t)n), KONCE_STUN_OK);
	assert_int_equal(r.cookie, 0xdeadbeefu);
	assert_false(r.has_xor_mapped);
	assert_false(r.has_fingerprint);
	assert_true(r.has_mapped && konce_addr_eq(&r.mapped, &seen));
	assert_true(r.has_origin && r.origin_is_source_address && konce_addr_eq(&r.origin, &origin));
	assert_true(r.has_other && r.other_is_changed_address && konce_addr_eq(&r.other, &other));
}

/* Unknown comprehension-required attributes get a 420 that lists them. */
static void test_answer_unknown_attribute(void **state)
{
	(void)state;
	uint8_t ans[128];
	konce_stun_msg m, r;
	konce_addr seen, origin;
	konce_addr_parse(&seen, "10.0.0.1:5000");
	konce_addr_parse(&origin, "10.0.0.2:3478");
	assert_int_equal(konce_stun_parse(&m, rfc5769_request, sizeof(rfc5769_request)), KONCE_STUN_OK);
	int n = konce_stun_answer(ans, sizeof(ans), &m, &seen, &origin, NULL, NULL);
	assert_true(n > 0);
	assert_int_equal(konce_stun_parse(&r, ans, (size_t)n), KONCE_STUN_OK);
	assert_int_equal(r.type, KONCE_STUN_BINDING_ERROR);
	assert_true(r.has_error);
	assert_int_equal(r.error_code, 420);
	assert_null(konce_stun_mapped(&r));
	/* UNKNOWN-ATTRIBUTES carries 0x0024 */
	assert_memory_equal(ans + 20 + 4 + 4 + 20, "\x00\x0a\x00\x02\x00\x24", 6);
}

static void test_bad_input(void **state)
{
	(void)state;
	uint8_t b[sizeof(rfc5769_v4)];
	konce_stun_msg m;

	/* every truncation is refused, never read past */
	for (size_t n = 0; n < sizeof(rfc5769_v4); n++)
		assert_int_not_equal(konce_stun_parse(&m, rfc5769_v4, n), KONCE_STUN_OK);
	assert_int_equal(konce_stun_parse(&m, rfc5769_v4, 19), KONCE_STUN_SHORT);
	assert_int_equal(konce_stun_parse(&m, rfc5769_v4, 24), KONCE_STUN_BAD_LENGTH);

	/* a flipped bit anywhere before the fingerprint is caught by it */
	for (size_t i = 0; i < sizeof(b) - 8; i++) {
		memcpy(b, rfc5769_v4, sizeof(b));
		b[i] ^= 0x10;
		assert_int_not_equal(konce_stun_parse(&m, b, sizeof(b)), KONCE_STUN_OK);
	}

	/* top bits set: not STUN (e.g. a konce probe, which starts with 'K') */
	memcpy(b, rfc5769_v4, sizeof(b));
	b[0] = 'K';
	assert_int_equal(konce_stun_parse(&m, b, sizeof(b)), KONCE_STUN_NOT_STUN);

	/* an attribute whose length runs past the end */
	uint8_t t[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00};
	assert_int_equal(konce_stun_parse(&m, t, sizeof(t)), KONCE_STUN_ATTR_TRUNCATED);
	/* XOR-MAPPED-ADDRESS with a bad family / bad length */
	t[21] = 0x20;
	t[23] = 0x04;
	t[25] = 0x03;
	assert_int_equal(konce_stun_parse(&m, t, sizeof(t)), KONCE_STUN_BAD_ATTR);
	t[25] = 0x01;
	assert_int_equal(konce_stun_parse(&m, t, sizeof(t)), KONCE_STUN_BAD_ATTR);

	/* attributes after FINGERPRINT */
	uint8_t f[36];
	konce_stun_builder bl;
	uint8_t txid[12] = {0};
	konce_stun_build_start(&bl, f, sizeof(f), KONCE_STUN_BINDING_REQUEST, KONCE_STUN_MAGIC_COOKIE, txid);
	konce_stun_add_fingerprint(&bl);
	konce_stun_add_u32(&bl, 0x8050, 7);
	assert_int_equal(konce_stun_build_finish(&bl), 36);
	/* make the fingerprint right for the final length, so only the position is wrong */
	uint32_t crc = konce_stun_crc32(f, 20) ^ KONCE_STUN_FINGERPRINT_XOR;
	f[24] = (uint8_t)(crc >> 24), f[25] = (uint8_t)(crc >> 16), f[26] = (uint8_t)(crc >> 8), f[27] = (uint8_t)crc;
	assert_int_equal(konce_stun_parse(&m, f, 36), KONCE_STUN_AFTER_FINGERPRINT);

	/* the builder refuses to overflow */
	konce_stun_build_start(&bl, f, 10, KONCE_STUN_BINDING_REQUEST, KONCE_STUN_MAGIC_COOKIE, txid);
	assert_int_equal(konce_stun_build_finish(&bl), -ENOSPC);
	konce_stun_build_start(&bl, f, 24, KONCE_STUN_BINDING_REQUEST, KONCE_STUN_MAGIC_COOKIE, txid);
	konce_stun_add_fingerprint(&bl);
	assert_int_equal(konce_stun_build_finish(&bl), -ENOSPC);
	for (int r = KONCE_STUN_OK; r <= KONCE_STUN_AFTER_FINGERPRINT; r++)
		assert_non_null(konce_stun_result_str((enum konce_stun_result)r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_v4),
		cmocka_unit_test(test_rfc5769_v6),
		cmocka_unit_test(test_build_xor_matches_rfc),
		cmocka_unit_test(test_request_and_answer),
		cmocka_unit_test(test_answer_rfc3489),
		cmocka_unit_test(test_answer_unknown_attribute),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
