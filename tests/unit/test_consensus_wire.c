/* test_consensus_wire.c - consensus message and invitation token codecs: byte-exact vectors, round
 * trips of every message type, and malformed input (every truncation, bad type, version,
 * reserved bits, counts, lengths, duplicate members, trailing bytes). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/ctoken.h"
#include "consensus/cwire.h"

static const uint8_t GROUP[16] = {0x67, 0x72, 0x6f, 0x75, 0x70, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

/* HEARTBEAT, epoch 7, commit 0x0102, last 0x0103. */
static const uint8_t HB[] = {
	0x01, 0x01, 0x00, 0x00, 0x67, 0x72, 0x6f, 0x75, 0x70, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x03,
};

/* PROPOSE, epoch 1, commit 0, first 5, one APP entry from origin "origin!!", nonce 9, "hi". */
static const uint8_t PROP[] = {
	0x03, 0x01, 0x00, 0x00, 0x67, 0x72, 0x6f, 0x75, 0x70, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 5,  /* first */
	0, 1,                    /* count */
	0x00, 'o', 'r', 'i', 'g', 'i', 'n', '!', '!', 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 'h', 'i',
};

static void test_vectors(void **st)
{
	(void)st;
	konce_cw_msg m;
	assert_int_equal(konce_cw_parse(&m, HB, sizeof(HB)), KONCE_CW_OK);
	assert_int_equal(m.type, KONCE_CW_HEARTBEAT);
	assert_int_equal(m.epoch, 7);
	assert_int_equal(m.commit, 0x0102);
	assert_int_equal(m.u, 0x0103);
	assert_memory_equal(m.group, GROUP, 16);
	uint8_t out[KONCE_CW_MAX_MSG];
	assert_int_equal(konce_cw_encode(&m, out, sizeof(out)), sizeof(HB));
	assert_memory_equal(out, HB, sizeof(HB));
	assert_int_equal(konce_cw_msg_size(&m), sizeof(HB));

	assert_int_equal(konce_cw_parse(&m, PROP, sizeof(PROP)), KONCE_CW_OK);
	assert_int_equal(m.type, KONCE_CW_PROPOSE);
	assert_int_equal(m.first, 5);
	assert_int_equal(m.count, 1);
	assert_int_equal(m.e[0].kind, KONCE_CW_E_APP);
	assert_memory_equal(m.e[0].origin, "origin!!", 8);
	assert_int_equal(m.e[0].nonce, 9);
	assert_int_equal(m.e[0].len, 2);
	assert_memory_equal(m.e[0].data, "hi", 2);
	assert_int_equal(konce_cw_encode(&m, out, sizeof(out)), sizeof(PROP));
	assert_memory_equal(out, PROP, sizeof(PROP));
	/* Too small a buffer: nothing. */
	assert_int_equal(konce_cw_encode(&m, out, sizeof(PROP) - 1), 0);
}

static void test_truncation_and_trailing(void **st)
{
	(void)st;
	konce_cw_msg m;
	for (size_t n = 0; n < sizeof(PROP); n++)
		assert_int_not_equal(konce_cw_parse(&m, PROP, n), KONCE_CW_OK);
	uint8_t b[sizeof(PROP) + 1];
	memcpy(b, PROP, sizeof(PROP));
	b[sizeof(PROP)] = 0;
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_TRAILING);
}

static void test_bad_fields(void **st)
{
	(void)st;
	konce_cw_msg m;
	uint8_t b[sizeof(PROP)];
	memcpy(b, PROP, sizeof(b));
	b[0] = 0;
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_TYPE);
	b[0] = KONCE_CW_TYPE_MAX + 1;
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_TYPE);
	memcpy(b, PROP, sizeof(b));
	b[1] = 2;
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_VERSION);
	memcpy(b, PROP, sizeof(b));
	b[3] = 1; /* reserved */
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
	memcpy(b, PROP, sizeof(b));
	b[36 + 7] = 0; /* first seq 0 */
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
	memcpy(b, PROP, sizeof(b));
	b[45] = KONCE_CW_MAX_BATCH + 1; /* count */
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
	memcpy(b, PROP, sizeof(b));
	b[45] = 0; /* an empty PROPOSE */
	assert_int_not_equal(konce_cw_parse(&m, b, 46), KONCE_CW_OK);
	memcpy(b, PROP, sizeof(b));
	b[46] = 3; /* unknown entry kind */
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
	memcpy(b, PROP, sizeof(b));
	b[46] = KONCE_CW_E_INVITE; /* an invitation is 40 bytes (hash, expiry) */
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
	memcpy(b, PROP, sizeof(b));
	b[46] = KONCE_CW_E_REVOKE; /* so is a revocation */
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
	memcpy(b, PROP, sizeof(b));
	b[63] = 0x04; /* entry length 1026 > KONCE_CW_MAX_ENTRY */
	b[64] = 0x02;
	assert_int_equal(konce_cw_parse(&m, b, sizeof(b)), KONCE_CW_BAD_FIELD);
}

static konce_cw_msg base(uint8_t type)
{
	konce_cw_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.group = GROUP;
	m.epoch = 3;
	m.commit = 11;
	return m;
}

static void roundtrip(const konce_cw_msg *m)
{
	static uint8_t out[KONCE_CW_MAX_MSG], out2[KONCE_CW_MAX_MSG];
	static konce_cw_msg p;
	size_t n = konce_cw_encode(m, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(n, konce_cw_msg_size(m));
	assert_int_equal(konce_cw_parse(&p, out, n), KONCE_CW_OK);
	assert_int_equal(p.type, m->type);
	assert_int_equal(p.epoch, m->epoch);
	assert_int_equal(p.commit, m->commit);
	assert_int_equal(konce_cw_encode(&p, out2, sizeof(out2)), n);
	assert_memory_equal(out, out2, n);
}

static void test_every_type_roundtrips(void **st)
{
	(void)st;
	static uint8_t keys[3][32], secret[32], data[KONCE_CW_MAX_ENTRY];
	for (unsigned i = 0; i < 3; i++)
		memset(keys[i], (int)i + 1, 32);
	memset(secret, 0x5e, 32);
	memset(data, 0xda, sizeof(data));
	konce_cw_entry e = {.kind = KONCE_CW_E_APP, .origin = keys[0], .nonce = 77, .len = KONCE_CW_MAX_ENTRY,
			    .data = data};
	for (uint8_t t = 1; t <= KONCE_CW_TYPE_MAX; t++) {
		static konce_cw_msg m;
		m = base(t);
		m.u = 0x1234;
		m.key = keys[1];
		m.secret = secret;
		m.nonce = 99;
		m.flag = 1;
		if (t == KONCE_CW_REFUSED)
			m.flag = KONCE_CW_R_INVALID;
		if (t == KONCE_CW_SUBMIT || t == KONCE_CW_PROPOSE || t == KONCE_CW_PROMISE) {
			m.first = 12;
			m.count = t == KONCE_CW_SUBMIT ? 1 : t == KONCE_CW_PROPOSE ? KONCE_CW_MAX_BATCH : KONCE_CW_MAX_LOG;
			for (unsigned i = 0; i < m.count; i++)
				m.e[i] = e;
		}
		if (t == KONCE_CW_PROMISE || t == KONCE_CW_ACCEPT || t == KONCE_CW_NEWVIEW) {
			m.acc_ballot = t == KONCE_CW_PROMISE ? 0x201 : 0;
			m.has_value = true;
			m.v = (konce_cw_value){.epoch = 4, .n = 3, .keys = &keys[0][0], .used_invite = secret,
					       .commit = 11, .first_seq = 12, .count = KONCE_CW_MAX_LOG};
			for (unsigned i = 0; i < KONCE_CW_MAX_LOG; i++)
				m.v.e[i] = e;
			if (t == KONCE_CW_NEWVIEW)
				m.epoch = 4;
		}
		roundtrip(&m);
	}
	/* The largest message fits KONCE_CW_MAX_MSG exactly. */
	static konce_cw_msg big;
	big = base(KONCE_CW_PROMISE);
	big.u = big.acc_ballot = 0x101;
	big.first = 12;
	big.count = KONCE_CW_MAX_LOG;
	static uint8_t k16[16][32];
	for (unsigned i = 0; i < 16; i++)
		memset(k16[i], (int)i + 1, 32);
	big.v = (konce_cw_value){.epoch = 4, .n = 16, .keys = &k16[0][0], .used_invite = secret, .commit = 11,
				 .first_seq = 12, .count = KONCE_CW_MAX_LOG};
	for (unsigned i = 0; i < KONCE_CW_MAX_LOG; i++)
		big.e[i] = big.v.e[i] = e;
	assert_int_equal(konce_cw_msg_size(&big), KONCE_CW_MAX_MSG);
	roundtrip(&big);
}

/* SNAP chunks: in place within a bounded snapshot, each exactly as long as its chunk. */
/* The snapshot core section: canonical, and every count, length and flag checked. */
static void test_snapcore(void **st)
{
	(void)st;
	uint8_t h[2][32], out[KONCE_CW_SNAP_CORE_MAX + 4];
	memset(h[0], 0x11, 32);
	memset(h[1], 0x22, 32);
	konce_cw_invite in[2] = {{.hash = h[0], .expires = 1234, .used = false}, {.hash = h[1], .used = true}};
	konce_cw_invite got[KONCE_CW_SNAP_INVITES];
	unsigned count = 0;
	size_t n = konce_cw_snapcore_encode(in, 2, out, sizeof(out)), used = 0;
	assert_int_equal(n, 1 + 2 * KONCE_CW_SNAP_INVITE);
	out[n] = 0x99; /* the application's bytes follow */
	assert_int_equal(konce_cw_snapcore_parse(got, &count, out, n + 1, &used), KONCE_CW_OK);
	assert_int_equal(used, n);
	assert_int_equal(count, 2);
	assert_memory_equal(got[1].hash, h[1], 32);
	assert_int_equal(got[0].expires, 1234);
	assert_false(got[0].used);
	assert_true(got[1].used);
	assert_int_equal(konce_cw_snapcore_parse(got, &count, out, n + 1, NULL), KONCE_CW_TRAILING);
	assert_int_equal(konce_cw_snapcore_parse(got, &count, out, n - 1, &used), KONCE_CW_SHORT);
	assert_int_equal(konce_cw_snapcore_parse(got, &count, out, 0, &used), KONCE_CW_SHORT);
	out[n - 1] = 2; /* used is 0 or 1 */
	assert_int_equal(konce_cw_snapcore_parse(got, &count, out, n, &used), KONCE_CW_BAD_FIELD);
	out[0] = KONCE_CW_SNAP_INVITES + 1;
	assert_int_equal(konce_cw_snapcore_parse(got, &count, out, n, &used), KONCE_CW_BAD_FIELD);
	assert_int_equal(konce_cw_snapcore_encode(in, KONCE_CW_SNAP_INVITES + 1, out, sizeof(out)), 0);
	assert_int_equal(konce_cw_snapcore_encode(in, 2, out, n - 1), 0);
	/* A JOIN_VOTE is no, yes or abstain; nothing else. */
	konce_cw_msg m = base(KONCE_CW_JOIN_VOTE), p;
	static uint8_t key[32], buf[KONCE_CW_MAX_MSG];
	m.key = key;
	m.flag = KONCE_CW_VOTE_ABSTAIN;
	size_t l = konce_cw_encode(&m, buf, sizeof(buf));
	assert_true(l > 0);
	assert_int_equal(konce_cw_parse(&p, buf, l), KONCE_CW_OK);
	assert_int_equal(p.flag, KONCE_CW_VOTE_ABSTAIN);
	buf[l - 1] = 3;
	assert_int_equal(konce_cw_parse(&p, buf, l), KONCE_CW_BAD_FIELD);
	m.flag = 3;
	assert_int_equal(konce_cw_encode(&m, buf, sizeof(buf)), 0);
}

static void test_snap_chunks(void **st)
{
	(void)st;
	static uint8_t data[KONCE_CW_SNAP_CHUNK], out[KONCE_CW_MAX_MSG];
	memset(data, 0x5a, sizeof(data));
	konce_cw_msg m = base(KONCE_CW_SNAP), p;
	m.u = 42;
	m.total = 2 * KONCE_CW_SNAP_CHUNK + 5;
	m.offset = 2 * KONCE_CW_SNAP_CHUNK; /* the last, short chunk */
	m.dlen = 5;
	m.data = data;
	roundtrip(&m);
	size_t n = konce_cw_encode(&m, out, sizeof(out));
	assert_int_equal(n, KONCE_CW_H_SIZE + 18 + 5);
	assert_int_equal(konce_cw_parse(&p, out, n), KONCE_CW_OK);
	assert_int_equal(p.u, 42);
	assert_int_equal(p.total, m.total);
	assert_int_equal(p.offset, m.offset);
	assert_int_equal(p.dlen, 5);
	assert_memory_equal(p.data, data, 5);
	for (size_t k = 0; k < n; k++) /* every truncation */
		assert_int_not_equal(konce_cw_parse(&p, out, k), KONCE_CW_OK);
	m.offset = 0; /* a full chunk */
	m.dlen = KONCE_CW_SNAP_CHUNK;
	roundtrip(&m);
	m.dlen = 5; /* the first chunk cannot be short */
	assert_int_equal(konce_cw_encode(&m, out, sizeof(out)), 0);
	m.offset = 7; /* not at a chunk boundary */
	assert_int_equal(konce_cw_encode(&m, out, sizeof(out)), 0);
	m.offset = 3 * KONCE_CW_SNAP_CHUNK; /* past the end */
	m.dlen = 0;
	assert_int_equal(konce_cw_encode(&m, out, sizeof(out)), 0);
	m.total = KONCE_CW_SNAP_MAX + 1; /* too large */
	m.offset = 0;
	m.dlen = KONCE_CW_SNAP_CHUNK;
	assert_int_equal(konce_cw_encode(&m, out, sizeof(out)), 0);
	m.total = 0; /* an empty snapshot is one empty chunk */
	m.dlen = 0;
	roundtrip(&m);
	/* The parser refuses the same in bytes: a valid last chunk with its offset moved. */
	m.total = 2 * KONCE_CW_SNAP_CHUNK + 5;
	m.offset = 2 * KONCE_CW_SNAP_CHUNK;
	m.dlen = 5;
	n = konce_cw_encode(&m, out, sizeof(out));
	out[KONCE_CW_H_SIZE + 15] = 1; /* offset + 1 */
	assert_int_equal(konce_cw_parse(&p, out, n), KONCE_CW_BAD_FIELD);
	out[KONCE_CW_H_SIZE + 15] = 0;
	out[KONCE_CW_H_SIZE + 17] = 6; /* a length that is not the chunk's */
	assert_int_not_equal(konce_cw_parse(&p, out, n), KONCE_CW_OK);
}

static void test_value_rules(void **st)
{
	(void)st;
	static uint8_t keys[2][32], zero[32], out[KONCE_CW_MAX_VALUE];
	memset(keys, 9, sizeof(keys)); /* the same key twice */
	konce_cw_value v = {.epoch = 2, .n = 2, .keys = &keys[0][0], .used_invite = zero, .commit = 0, .first_seq = 1};
	size_t n = konce_cw_value_encode(&v, out, sizeof(out));
	assert_true(n > 0);
	konce_cw_value p;
	assert_int_equal(konce_cw_value_parse(&p, out, n, NULL), KONCE_CW_BAD_FIELD);
	keys[1][0] = 1;
	n = konce_cw_value_encode(&v, out, sizeof(out));
	assert_int_equal(konce_cw_value_parse(&p, out, n, NULL), KONCE_CW_OK);
	v.first_seq = 5; /* the tail starts right after the commit index */
	assert_int_equal(konce_cw_value_encode(&v, out, sizeof(out)), 0);
	v.first_seq = 1;
	v.n = 0;
	assert_int_equal(konce_cw_value_encode(&v, out, sizeof(out)), 0);
	v.n = 2;
	out[8] = 0; /* n = 0 on the wire */
	assert_int_equal(konce_cw_value_parse(&p, out, n, NULL), KONCE_CW_BAD_FIELD);
	out[8] = KONCE_CW_MAX_MEMBERS + 1;
	assert_int_equal(konce_cw_value_parse(&p, out, n, NULL), KONCE_CW_BAD_FIELD);
}

static konce_ctoken sample_token(void)
{
	konce_ctoken t;
	memset(&t, 0, sizeof(t));
	memcpy(t.group, GROUP, 16);
	t.n = 2;
	memset(t.keys[0], 0xa1, 32);
	memset(t.keys[1], 0xb2, 32);
	memset(t.secret, 0x5c, 32);
	t.expires = 1800000000; /* 2027-01-15 */
	t.rdv_len = 14;
	memcpy(t.rdv, "rdv.example:53", 14);
	return t;
}

/* The address hint: one word per key, "-" for none, positional; bad words give nothing. */
static void test_token_hint(void **st)
{
	(void)st;
	konce_ctoken t = sample_token();
	konce_addr a[KONCE_CW_MAX_MEMBERS];
	bool have[KONCE_CW_MAX_MEMBERS];
	char s[KONCE_ADDR_STRLEN];
	t.n = 4;
	snprintf(t.rdv, sizeof(t.rdv), "%s", "203.0.113.1:7807 - [2001:db8::1]:9 nonsense 192.0.2.9:1");
	t.rdv_len = (uint8_t)strlen(t.rdv);
	assert_int_equal(konce_ctoken_hint_addrs(&t, a, have), 2);
	assert_true(have[0] && !have[1] && have[2] && !have[3]);
	assert_string_equal(konce_addr_str(&a[0], s), "203.0.113.1:7807");
	assert_string_equal(konce_addr_str(&a[2], s), "[2001:db8::1]:9");
	/* rdv_len bounds it: the second word is cut to "-" */
	t.rdv_len = 18;
	assert_int_equal(konce_ctoken_hint_addrs(&t, a, have), 1);
	/* two spaces leave a key without an address (positions do not shift) */
	snprintf(t.rdv, sizeof(t.rdv), "%s", "192.0.2.1:1  192.0.2.3:3");
	t.rdv_len = (uint8_t)strlen(t.rdv);
	assert_int_equal(konce_ctoken_hint_addrs(&t, a, have), 2);
	assert_true(have[0] && !have[1] && have[2]);
	/* an empty hint, and a word longer than any address */
	t.rdv_len = 0;
	assert_int_equal(konce_ctoken_hint_addrs(&t, a, have), 0);
	memset(t.rdv, '1', 200);
	t.rdv_len = 200;
	assert_int_equal(konce_ctoken_hint_addrs(&t, a, have), 0);
}

static void test_token(void **st)
{
	(void)st;
	konce_ctoken t = sample_token(), p;
	uint8_t b[KONCE_CTOKEN_MAX];
	size_t n = konce_ctoken_encode(&t, b, sizeof(b));
	assert_int_equal(n, 3 + 1 + 16 + 1 + 64 + 32 + 8 + 1 + 14);
	assert_memory_equal(b, "KGI\x01", 4);
	assert_memory_equal(b + 4, GROUP, 16);
	assert_int_equal(b[20], 2);
	assert_int_equal(b[21], 0xa1);
	assert_int_equal(b[21 + 64], 0x5c);
	assert_memory_equal(b + 21 + 96, "\x00\x00\x00\x00\x6b\x49\xd2\x00", 8); /* expires, big-endian */
	assert_int_equal(b[21 + 104], 14);
	assert_int_equal(konce_ctoken_parse(&p, b, n), 0);
	assert_memory_equal(&p, &t, sizeof(t));
	for (size_t k = 0; k < n; k++)
		assert_int_equal(konce_ctoken_parse(&p, b, k), -EINVAL);
	b[3] = 2;
	assert_int_equal(konce_ctoken_parse(&p, b, n), -EINVAL);
	b[3] = 1;
	memset(b + 21 + 32, 0xa1, 32); /* duplicate member */
	assert_int_equal(konce_ctoken_parse(&p, b, n), -EINVAL);

	char text[KONCE_CTOKEN_TEXT_MAX];
	assert_int_equal(konce_ctoken_to_text(&t, text, sizeof(text)), 0);
	assert_memory_equal(text, "konce-invite:", 13);
	assert_int_equal(konce_ctoken_from_text(&p, text), 0);
	assert_memory_equal(&p, &t, sizeof(t));
	assert_int_equal(konce_ctoken_from_text(&p, "konce-invite:!!"), -EINVAL);
	assert_int_equal(konce_ctoken_from_text(&p, "invite:AAAA"), -EINVAL);
	text[20] ^= 1; /* still base64, but no longer the same token */
	assert_true(konce_ctoken_from_text(&p, text) != 0 || memcmp(&p, &t, sizeof(t)) != 0);

	assert_false(konce_ctoken_expired(&t, 1799999999));
	assert_true(konce_ctoken_expired(&t, 1800000000));
	t.expires = 0; /* never */
	assert_false(konce_ctoken_expired(&t, UINT64_MAX));

	uint8_t h[32], h2[32];
	konce_ctoken_secret_hash(h, t.secret);
	konce_ctoken_secret_hash(h2, t.secret);
	assert_memory_equal(h, h2, 32);
	assert_memory_not_equal(h, t.secret, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_truncation_and_trailing),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_every_type_roundtrips),
		cmocka_unit_test(test_snap_chunks),
		cmocka_unit_test(test_snapcore),
		cmocka_unit_test(test_value_rules),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_hint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
