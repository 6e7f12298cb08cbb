/* test_rdvwire.c - rendezvous/traversal codec: byte vectors written out from the layouts in
 * node/base/wire.h, round trips of every type, and malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/rdvwire.h"
#include "tests/unit/parse_addr.h"

static void test_registered_vector(void **state)
{
	(void)state;
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTERED, .id = 0x0102030405060708ULL,
			   .stamp = 0x1112131415161718ULL, .addr = addr("192.0.2.1:3478"), .value = 20000};
	static const uint8_t want[KONCE_REGD_SIZE] = {
		0x41, 0, 0, 0,                                  /* type, flags, reserved */
		1, 2, 3, 4, 5, 6, 7, 8,                         /* txid */
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* stamp */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1, 0x0d, 0x96, /* address */
		0, 0, 0x4e, 0x20,                               /* refresh ms */
	};
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	konce_rdvwire_msg d;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), 0);
	assert_int_equal(d.type, KONCE_RDV_REGISTERED);
	assert_true(d.id == m.id && d.stamp == m.stamp && d.value == 20000);
	assert_true(konce_addr_eq(&d.addr, &m.addr));
}

static void test_register_vector(void **state)
{
	(void)state;
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .id = 5, .stamp = 6,
			   .nat = {KONCE_NATMAP_EDM_SEQ, 1, 0x1389}, .ncand = 1};
	memset(m.key, 0xab, sizeof(m.key));
	m.cand[0].type = KONCE_CAND_HOST;
	m.cand[0].addr = addr("10.0.0.2:7000");
	uint8_t want[KONCE_REG_CANDS + KONCE_RDV_CAND_SIZE] = {0x40, 0, 1, 0};
	memset(want + 4, 0xab, 32);
	want[43] = 5;                                  /* txid */
	want[51] = 6;                                  /* echo */
	want[52] = 2, want[53] = 1, want[54] = 0x13, want[55] = 0x89; /* nat */
	want[56] = 1;                                  /* candidate type host */
	want[57 + 10] = 0xff, want[57 + 11] = 0xff, want[57 + 12] = 10, want[57 + 15] = 2;
	want[57 + 16] = 0x1b, want[57 + 17] = 0x58;    /* 7000 */
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_punch_vector(void **state)
{
	(void)state;
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = KONCE_PUNCH_F_ACK, .seq = 42, .id = 0x99,
			   .addr = addr("203.0.113.7:1")};
	memset(m.key, 0x5a, sizeof(m.key));
	uint8_t want[KONCE_PUNCH_SIZE] = {0x47, 0x01, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0x99};
	memset(want + 12, 0x5a, 32);
	want[44 + 10] = 0xff, want[44 + 11] = 0xff, want[44 + 12] = 203, want[44 + 14] = 113;
	want[44 + 15] = 7, want[44 + 17] = 1;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* a probe (no ACK flag) carries no address, and one that does is refused */
	m.flags = 0;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), KONCE_PUNCH_SIZE);
	for (int i = KONCE_PUNCH_SEEN; i < KONCE_PUNCH_SIZE; i++)
		assert_int_equal(buf[i], 0);
	buf[KONCE_PUNCH_SEEN + 17] = 1;
	konce_rdvwire_msg d;
	assert_int_equal(konce_rdvwire_decode(&d, buf, KONCE_PUNCH_SIZE), -EINVAL);
}

/* INTRO_REFUSE: the INTRO_REQUEST layout under its own type byte. */
static void test_intro_refuse_vector(void **state)
{
	(void)state;
	konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REFUSE, .id = 0x0102030405060708ULL};
	memset(m.key, 0x11, 32);
	memset(m.target, 0x22, 32);
	uint8_t want[KONCE_IREQ_SIZE] = {0x48, 0, 0, 0};
	memset(want + 4, 0x11, 32);
	memset(want + 36, 0x22, 32);
	for (int i = 0; i < 8; i++)
		want[68 + i] = (uint8_t)(i + 1);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	konce_rdvwire_msg d;
	want[1] = 1; /* flags must be zero */
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	/* INTRO_FAIL reasons end at DECLINED */
	uint8_t ifail[KONCE_IFAIL_SIZE] = {KONCE_RDV_INTRO_FAIL, KONCE_IFAIL_DECLINED};
	assert_int_equal(konce_rdvwire_decode(&d, ifail, sizeof(ifail)), 0);
	ifail[1] = KONCE_IFAIL_DECLINED + 1;
	assert_int_equal(konce_rdvwire_decode(&d, ifail, sizeof(ifail)), -EINVAL);
}

/* FILTER: op, token, and an address only for the ops that carry one. */
static void test_filter_vector(void **state)
{
	(void)state;
	konce_rdvwire_msg m = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_ECHO, .id = 0x1122334455667788ULL,
			   .addr = addr("198.51.100.7:40000")};
	uint8_t want[KONCE_FILT_SIZE] = {0x49, 2, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	want[12 + 10] = 0xff, want[12 + 11] = 0xff, want[12 + 12] = 198, want[12 + 13] = 51, want[12 + 14] = 100;
	want[12 + 15] = 7, want[12 + 16] = 0x9c, want[12 + 17] = 0x40;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	konce_rdvwire_msg d;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), 0);
	assert_true(konce_addr_eq(&d.addr, &m.addr));
	/* a PROBE or ECHO_REQ carries no address: encoded as zero, refused if present */
	m.flags = KONCE_FILT_OP_PROBE;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), KONCE_FILT_SIZE);
	for (int i = KONCE_FILT_ADDR; i < KONCE_FILT_SIZE; i++)
		assert_int_equal(buf[i], 0);
	want[1] = KONCE_FILT_OP_PROBE;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	want[1] = 0;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	want[1] = KONCE_FILT_OP_SENT + 1;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	want[1] = KONCE_FILT_OP_ASK;
	want[2] = 1;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	want[2] = 0;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want) - 1), -EINVAL);
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), 0);
	m.flags = 7;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
}

/* Encodes m, decodes it, and checks every byte-length variation of the result is refused. */
static void round_trip(const konce_rdvwire_msg *m)
{
	uint8_t buf[KONCE_RDV_MAX_MSG + 1];
	size_t n = konce_rdvwire_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(konce_rdvwire_encode(m, buf, n - 1), 0);
	konce_rdvwire_msg d;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), 0);
	uint8_t again[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvwire_encode(&d, again, sizeof(again)), n);
	assert_memory_equal(again, buf, n);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(konce_rdvwire_decode(&d, buf, k), -EINVAL);
	buf[n] = 0;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n + 1), -EINVAL);
}

static void test_round_trips(void **state)
{
	(void)state;
	konce_rdvwire_msg m;
	memset(&m, 0, sizeof(m));
	m.type = KONCE_RDV_REGISTER;
	memset(m.key, 1, 32);
	m.ncand = KONCE_RDV_MAX_REG_CANDS;
	for (unsigned i = 0; i < m.ncand; i++) {
		m.cand[i].type = (uint8_t)(1 + i % 3);
		m.cand[i].addr = addr("[2001:db8::1]:9");
		m.cand[i].addr.port = (uint16_t)i;
	}
	round_trip(&m);
	m.type = KONCE_RDV_INTRO;
	m.flags = KONCE_INTRO_F_INITIATOR;
	m.value = 123456;
	round_trip(&m);
	memset(&m, 0, sizeof(m));
	m.type = KONCE_RDV_INTRO_REQUEST;
	memset(m.target, 7, 32);
	m.id = ~0ULL;
	round_trip(&m);
	m.type = KONCE_RDV_INTRO_REFUSE;
	round_trip(&m);
	for (uint8_t op = KONCE_FILT_OP_ECHO_REQ; op <= KONCE_FILT_OP_SENT; op++) {
		konce_rdvwire_msg f = {.type = KONCE_RDV_FILTER, .flags = op, .id = 5};
		if (konce_rdvwire_filt_has_addr(op))
			f.addr = addr("[2001:db8::1]:9");
		round_trip(&f);
	}
	m.type = KONCE_RDV_INTRO_FAIL;
	m.flags = KONCE_IFAIL_FULL;
	round_trip(&m);
	m.flags = KONCE_IFAIL_DECLINED;
	round_trip(&m);
	uint8_t big[KONCE_RDV_MAX_RELAY];
	memset(big, 0xcc, sizeof(big));
	memset(&m, 0, sizeof(m));
	m.type = KONCE_RDV_RELAY;
	m.payload = big;
	m.len = sizeof(big);
	round_trip(&m);
	m.type = KONCE_RDV_RELAYED;
	round_trip(&m);
	m.len = 0;
	m.payload = NULL;
	round_trip(&m);
}

static void test_encode_refuses(void **state)
{
	(void)state;
	uint8_t buf[KONCE_RDV_MAX_MSG + 8] = {0};
	konce_rdvwire_msg m;
	memset(&m, 0, sizeof(m));
	m.type = KONCE_RDV_REGISTER;
	m.ncand = KONCE_RDV_MAX_REG_CANDS + 1;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.ncand = 1;
	m.cand[0].type = KONCE_CAND_PREDICTED; /* never on the wire */
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.cand[0].type = KONCE_CAND_HOST;
	m.nat.mapping = 4;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.type = KONCE_RDV_INTRO;
	m.nat.mapping = 0;
	m.ncand = 0;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.ncand = KONCE_RDV_MAX_INTRO_CANDS + 1;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.ncand = 1;
	m.flags = 0x02;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.type = KONCE_RDV_INTRO_FAIL;
	m.flags = 0;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.type = KONCE_RDV_RELAY;
	m.len = KONCE_RDV_MAX_RELAY + 1;
	m.payload = buf;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.len = 1;
	m.payload = NULL;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
	m.type = 0x3f;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);
}

static void test_malformed(void **state)
{
	(void)state;
	konce_rdvwire_msg m, d;
	uint8_t buf[KONCE_RDV_MAX_MSG] = {0};
	assert_int_equal(konce_rdvwire_decode(&d, buf, 0), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.type = KONCE_RDV_REGISTER;
	m.ncand = 1;
	m.cand[0].type = KONCE_CAND_HOST;
	size_t n = konce_rdvwire_encode(&m, buf, sizeof(buf));
	buf[KONCE_REG_RESERVED] = 1;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), -EINVAL);
	buf[KONCE_REG_RESERVED] = 0;
	buf[KONCE_REG_FLAGS] = 1;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), -EINVAL);
	buf[KONCE_REG_FLAGS] = 0;
	buf[KONCE_REG_NCAND] = 2; /* claims more than the datagram holds */
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), -EINVAL);
	buf[KONCE_REG_NCAND] = 1;
	buf[KONCE_REG_CANDS] = KONCE_CAND_PEER_REFLEXIVE;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), -EINVAL);
	buf[KONCE_REG_CANDS] = 0;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), -EINVAL);
	buf[KONCE_REG_CANDS] = KONCE_CAND_MAPPED;
	buf[KONCE_REG_NAT] = 9;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), -EINVAL);
	buf[KONCE_REG_NAT] = KONCE_NATMAP_EIM;
	assert_int_equal(konce_rdvwire_decode(&d, buf, n), 0);
	/* too many candidates, even if the length matches */
	uint8_t many[KONCE_REG_CANDS + 9 * KONCE_RDV_CAND_SIZE] = {KONCE_RDV_REGISTER, 0, 9, 0};
	for (int i = 0; i < 9; i++)
		many[KONCE_REG_CANDS + i * KONCE_RDV_CAND_SIZE] = KONCE_CAND_HOST;
	assert_int_equal(konce_rdvwire_decode(&d, many, sizeof(many)), -EINVAL);
	/* INTRO with no candidates */
	uint8_t intro[KONCE_INTRO_CANDS] = {KONCE_RDV_INTRO};
	assert_int_equal(konce_rdvwire_decode(&d, intro, sizeof(intro)), -EINVAL);
	/* INTRO_FAIL reasons outside 1..4 (KONCE_IFAIL_DECLINED) */
	uint8_t ifail[KONCE_IFAIL_SIZE] = {KONCE_RDV_INTRO_FAIL, 5};
	assert_int_equal(konce_rdvwire_decode(&d, ifail, sizeof(ifail)), -EINVAL);
	ifail[1] = 0;
	assert_int_equal(konce_rdvwire_decode(&d, ifail, sizeof(ifail)), -EINVAL);
	ifail[1] = KONCE_IFAIL_REFUSED;
	assert_int_equal(konce_rdvwire_decode(&d, ifail, sizeof(ifail)), 0);
	/* RELAY whose length field disagrees with the datagram, or exceeds the limit */
	uint8_t relay[KONCE_RELAY_PAYLOAD + 4] = {KONCE_RDV_RELAY, 0, 0, 5};
	assert_int_equal(konce_rdvwire_decode(&d, relay, sizeof(relay)), -EINVAL);
	relay[3] = 4;
	assert_int_equal(konce_rdvwire_decode(&d, relay, sizeof(relay)), 0);
	assert_ptr_equal(d.payload, relay + KONCE_RELAY_PAYLOAD);
	relay[2] = 0x04, relay[3] = 0x01; /* 1025 */
	assert_int_equal(konce_rdvwire_decode(&d, relay, sizeof(relay)), -EINVAL);
	/* types next to the ranges */
	uint8_t other[KONCE_PUNCH_SIZE] = {0x4a}; /* INTRO_OFFER, with the wrong length */
	assert_true(konce_rdvwire_is(other, sizeof(other)));
	assert_int_equal(konce_rdvwire_decode(&d, other, sizeof(other)), -EINVAL);
	assert_int_equal(konce_rdvwire_decode(&d, other, KONCE_IREQ_SIZE), 0);
	other[0] = 0x4b; /* the probe packet's 'K' */
	assert_false(konce_rdvwire_is(other, sizeof(other)));
	assert_int_equal(konce_rdvwire_decode(&d, other, sizeof(other)), -EINVAL);
	other[0] = 0x4f; /* INTRO_ACCEPT */
	assert_true(konce_rdvwire_is(other, sizeof(other)));
	assert_int_equal(konce_rdvwire_decode(&d, other, sizeof(other)), -EINVAL);
	assert_int_equal(konce_rdvwire_decode(&d, other, KONCE_IREQ_SIZE), 0);
	other[0] = 0x50;
	assert_false(konce_rdvwire_is(other, sizeof(other)));
	other[0] = 0x4a;
	other[0] = 0x3f;
	assert_int_equal(konce_rdvwire_decode(&d, other, sizeof(other)), -EINVAL);
	assert_false(konce_rdvwire_is(other, sizeof(other)));
	other[0] = KONCE_RDV_PUNCH;
	assert_true(konce_rdvwire_is(other, sizeof(other)));
	other[KONCE_PUNCH_FLAGS] = 0x02;
	assert_int_equal(konce_rdvwire_decode(&d, other, sizeof(other)), -EINVAL);
}

/* LIFE_REQ / LIFE_ACK / LIFE_PROBE: written out from the layout, and their malformed variants. */
static void test_life_vectors(void **state)
{
	(void)state;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg d;
	konce_rdvwire_msg m = {.type = KONCE_RDV_LIFE_REQ, .id = 0x0102030405060708ULL, .value = 45000};
	uint8_t want[KONCE_LIFE_REQ_SIZE] = {0x4c, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0xaf, 0xc8};
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), KONCE_LIFE_REQ_SIZE);
	assert_memory_equal(buf, want, sizeof(want));
	assert_true(konce_rdvwire_is(want, sizeof(want)));
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), 0);
	assert_true(d.type == KONCE_RDV_LIFE_REQ && d.id == m.id && d.value == 45000 && d.flags == 0);
	/* padding must be zero, the size exact, flags zero */
	want[40] = 1;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	want[40] = 0;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want) - 1), -EINVAL);
	assert_int_equal(konce_rdvwire_decode(&d, want, KONCE_LIFE_SHORT_SIZE), -EINVAL);
	want[KONCE_LIFE_FLAGS] = 1;
	assert_int_equal(konce_rdvwire_decode(&d, want, sizeof(want)), -EINVAL);
	m.flags = 1;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);

	m = (konce_rdvwire_msg){.type = KONCE_RDV_LIFE_ACK, .flags = KONCE_LIFE_F_BUSY, .id = 9, .value = 1};
	assert_int_equal(konce_addr_parse(&m.addr, "198.51.100.7:40003"), 0);
	/* the observed address: ::ffff:198.51.100.7, port 40003 = 0x9c43 */
	static const uint8_t ack[KONCE_LIFE_ACK_SIZE] = {0x4d, 1,    0,    0,    0,    0,   0,   0,   0,
							 0,    0,    9,    0,    0,    0,   1,   0,   0,
							 0,    0,    0,    0,    0,    0,   0,   0,   0xff,
							 0xff, 198,  51,   100,  7,    0x9c, 0x43};
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), KONCE_LIFE_ACK_SIZE);
	assert_memory_equal(buf, ack, sizeof(ack));
	assert_int_equal(konce_rdvwire_decode(&d, ack, sizeof(ack)), 0);
	assert_true(d.type == KONCE_RDV_LIFE_ACK && d.flags == KONCE_LIFE_F_BUSY && d.id == 9 && d.value == 1);
	assert_true(konce_addr_eq(&d.addr, &m.addr));
	assert_int_equal(konce_rdvwire_decode(&d, ack, KONCE_LIFE_SHORT_SIZE), -EINVAL); /* the old, short ACK */
	assert_int_equal(konce_rdvwire_decode(&d, ack, sizeof(ack) - 1), -EINVAL);
	assert_int_equal(konce_rdvwire_encode(&m, buf, KONCE_LIFE_ACK_SIZE - 1), 0);
	m.flags = 2;
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), 0);

	m = (konce_rdvwire_msg){.type = KONCE_RDV_LIFE_PROBE, .flags = KONCE_LIFE_COPIES - 1, .id = 9, .value = 1};
	assert_int_equal(konce_rdvwire_encode(&m, buf, sizeof(buf)), KONCE_LIFE_SHORT_SIZE);
	assert_int_equal(buf[0], 0x4e);
	assert_int_equal(konce_rdvwire_decode(&d, buf, KONCE_LIFE_SHORT_SIZE), 0);
	assert_int_equal(d.flags, KONCE_LIFE_COPIES - 1);
	buf[KONCE_LIFE_FLAGS] = KONCE_LIFE_COPIES; /* no such copy */
	assert_int_equal(konce_rdvwire_decode(&d, buf, KONCE_LIFE_SHORT_SIZE), -EINVAL);
	buf[KONCE_LIFE_FLAGS] = 0;
	buf[KONCE_LIFE_RESERVED + 1] = 1;
	assert_int_equal(konce_rdvwire_decode(&d, buf, KONCE_LIFE_SHORT_SIZE), -EINVAL);
	buf[KONCE_LIFE_RESERVED + 1] = 0;
	uint8_t longer[KONCE_LIFE_SHORT_SIZE + 1] = {0};
	memcpy(longer, buf, KONCE_LIFE_SHORT_SIZE);
	assert_int_equal(konce_rdvwire_decode(&d, longer, sizeof(longer)), -EINVAL);
	/* the answer to one request is never larger than the request */
	assert_true(KONCE_LIFE_ACK_SIZE + KONCE_LIFE_SHORT_SIZE * KONCE_LIFE_COPIES <= KONCE_LIFE_REQ_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered_vector),
		cmocka_unit_test(test_register_vector),
		cmocka_unit_test(test_punch_vector),
		cmocka_unit_test(test_intro_refuse_vector),
		cmocka_unit_test(test_filter_vector),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_life_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
