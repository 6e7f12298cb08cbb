/* test_probewire.c - the konce probe packet: a byte-exact vector, round trips, and bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/probewire.h"
#include "nat/stun.h"

/* A reply, byte for byte as docs/PROBE.md lays it out. */
static const uint8_t vector_reply[KONCE_PROBE_SIZE] = {
	'K', 'P', 'R', 'B', 1, 2, 3, 0x07,                       /* magic, v1, reply, other-addr, flags */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,          /* nonce */
	0, 0, 0, 42, 0, 0, 1, 61,                                /* seq 42, reply_port 0, UDP, ttl 61 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9, 0xee, 0x48, /* seen_src 203.0.113.9:61000 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1, 0x0d, 0x96, /* seen_dst 198.51.100.1:3478 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2, 0x0d, 0x97, /* from 198.51.100.2:3479 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2, 0x0d, 0x97, /* other 198.51.100.2:3479 */
	0, 0, 0, 0, 0, 0, 0, 0,                                  /* reserved */
};

static void test_vector(void **state)
{
	(void)state;
	konce_probewire_msg req = {.type = KONCE_PROBE_T_REQUEST, .command = KONCE_PROBE_CMD_OTHER_ADDR,
			   .nonce = 0x0123456789abcdefull, .seq = 42};
	konce_probewire_msg rep, p;
	konce_addr src, dst, other;
	uint8_t out[KONCE_PROBE_SIZE];
	konce_addr_parse(&src, "203.0.113.9:61000");
	konce_addr_parse(&dst, "198.51.100.1:3478");
	konce_addr_parse(&other, "198.51.100.2:3479");
	konce_probewire_make_reply(&rep, &req, &src, &dst, &other, &other, KONCE_PROBE_TR_UDP, 61);
	assert_int_equal(konce_probewire_encode(&rep, out), KONCE_PROBE_SIZE);
	assert_memory_equal(out, vector_reply, KONCE_PROBE_SIZE);

	assert_int_equal(konce_probewire_parse(&p, vector_reply, sizeof(vector_reply)), KONCE_PROBE_OK);
	assert_int_equal(p.type, KONCE_PROBE_T_REPLY);
	assert_int_equal(p.command, KONCE_PROBE_CMD_OTHER_ADDR);
	assert_true(p.nonce == 0x0123456789abcdefull);
	assert_int_equal(p.seq, 42);
	assert_int_equal(p.ttl, 61);
	assert_int_equal(p.transport, KONCE_PROBE_TR_UDP);
	assert_true(konce_addr_eq(&p.seen_src, &src));
	assert_true(konce_addr_eq(&p.seen_dst, &dst));
	assert_true(konce_addr_eq(&p.from, &other));
	assert_true(konce_addr_eq(&p.other, &other));
}

static void test_request_roundtrip(void **state)
{
	(void)state;
	uint8_t out[KONCE_PROBE_SIZE];
	konce_probewire_msg p;
	for (int c = 1; c <= KONCE_PROBE_CMD_MAX; c++) {
		konce_probewire_msg req = {.type = KONCE_PROBE_T_REQUEST, .command = (uint8_t)c, .nonce = 7, .seq = 1};
		if (c == KONCE_PROBE_CMD_REPLY_TO_PORT)
			req.reply_port = 5555;
		assert_int_equal(konce_probewire_encode(&req, out), KONCE_PROBE_SIZE);
		assert_int_equal(konce_probewire_parse(&p, out, sizeof(out)), KONCE_PROBE_OK);
		assert_int_equal(p.command, c);
		assert_int_equal(p.reply_port, req.reply_port);
		assert_int_equal(konce_probewire_command_parse(konce_probewire_command_name((uint8_t)c)), c);
		/* no observation is reported in a request */
		assert_int_equal(p.flags, 0);
	}
	assert_int_equal(konce_probewire_command_parse("bogus"), -EINVAL);
	assert_null(konce_probewire_command_name(0));
	assert_null(konce_probewire_command_name(KONCE_PROBE_CMD_MAX + 1));
}

/* A probe and a STUN message can share a port: neither parser takes the other's packets. */
static void test_demux(void **state)
{
	(void)state;
	konce_stun_msg m;
	assert_false(konce_stun_is_candidate(vector_reply, sizeof(vector_reply)));
	assert_int_equal(konce_stun_parse(&m, vector_reply, sizeof(vector_reply)), KONCE_STUN_NOT_STUN);
	uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	konce_probewire_msg p;
	assert_int_equal(konce_probewire_parse(&p, stun, sizeof(stun)), KONCE_PROBE_BAD_MAGIC);
}

static void test_bad_input(void **state)
{
	(void)state;
	uint8_t b[KONCE_PROBE_SIZE + 1];
	konce_probewire_msg p;

	for (size_t n = 0; n < KONCE_PROBE_SIZE; n++)
		assert_int_not_equal(konce_probewire_parse(&p, vector_reply, n), KONCE_PROBE_OK);
	assert_int_equal(konce_probewire_parse(&p, vector_reply, 3), KONCE_PROBE_BAD_MAGIC);
	assert_int_equal(konce_probewire_parse(&p, vector_reply, 50), KONCE_PROBE_SHORT);
	memcpy(b, vector_reply, KONCE_PROBE_SIZE);
	b[KONCE_PROBE_SIZE] = 0;
	assert_int_equal(konce_probewire_parse(&p, b, sizeof(b)), KONCE_PROBE_SHORT);

#define MUTATE(off, val, want)                                                                  \
	do {                                                                                    \
		memcpy(b, vector_reply, KONCE_PROBE_SIZE);                                      \
		b[off] = (val);                                                                 \
		assert_int_equal(konce_probewire_parse(&p, b, KONCE_PROBE_SIZE), (want));           \
	} while (0)
	MUTATE(0, 'k', KONCE_PROBE_BAD_MAGIC);
	MUTATE(KONCE_PROBE_VERSION_OFF, 2, KONCE_PROBE_BAD_VERSION);
	MUTATE(KONCE_PROBE_TYPE_OFF, 0, KONCE_PROBE_BAD_TYPE);
	MUTATE(KONCE_PROBE_TYPE_OFF, 3, KONCE_PROBE_BAD_TYPE);
	MUTATE(KONCE_PROBE_COMMAND_OFF, 0, KONCE_PROBE_BAD_COMMAND);
	MUTATE(KONCE_PROBE_COMMAND_OFF, KONCE_PROBE_CMD_MAX + 1, KONCE_PROBE_BAD_COMMAND);
	MUTATE(KONCE_PROBE_FLAGS_OFF, 0x80, KONCE_PROBE_BAD_FIELD);
	MUTATE(KONCE_PROBE_FLAGS_OFF, KONCE_PROBE_F_TTL | KONCE_PROBE_F_OTHER, KONCE_PROBE_BAD_FIELD); /* seen data, no F_SEEN */
	MUTATE(KONCE_PROBE_FLAGS_OFF, KONCE_PROBE_F_SEEN | KONCE_PROBE_F_TTL, KONCE_PROBE_BAD_FIELD);  /* other data, no F_OTHER */
	MUTATE(KONCE_PROBE_FLAGS_OFF, KONCE_PROBE_F_SEEN | KONCE_PROBE_F_OTHER, KONCE_PROBE_BAD_FIELD); /* ttl, no F_TTL */
	MUTATE(KONCE_PROBE_TRANSPORT_OFF, 9, KONCE_PROBE_BAD_FIELD);
	MUTATE(KONCE_PROBE_REPLY_PORT_OFF + 1, 1, KONCE_PROBE_BAD_FIELD); /* port without REPLY_TO_PORT */
	MUTATE(KONCE_PROBE_RESERVED_OFF + 3, 1, KONCE_PROBE_BAD_FIELD);
	MUTATE(KONCE_PROBE_COMMAND_OFF, KONCE_PROBE_CMD_REPLY_TO_PORT, KONCE_PROBE_BAD_FIELD); /* no port */
#undef MUTATE

	/* encode refuses what parse would refuse */
	uint8_t out[KONCE_PROBE_SIZE];
	konce_probewire_msg bad = {.type = KONCE_PROBE_T_REQUEST, .command = KONCE_PROBE_CMD_SAME, .flags = KONCE_PROBE_F_SEEN};
	assert_int_equal(konce_probewire_encode(&bad, out), -EINVAL);
	bad.flags = 0;
	bad.command = 0;
	assert_int_equal(konce_probewire_encode(&bad, out), -EINVAL);
	for (int r = KONCE_PROBE_OK; r <= KONCE_PROBE_BAD_FIELD; r++)
		assert_non_null(konce_probewire_result_str((enum konce_probewire_result)r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_demux),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
