/* test_hs_packets.c - build/parse of HELLO, COOKIE, INITIATE, ACCEPT, VERSION and the DATA
 * header: round trips, and every malformed case the layouts in wire.h rule out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/frame.h"
#include "node/transport/hs_packets.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

static void test_versions(void **state)
{
	(void)state;
	konce_versions v;
	assert_int_equal(konce_versions_set(&v, (const uint16_t[]){3, 1}, 2), 0);
	assert_int_equal(konce_versions_check(&v), 0);
	assert_true(konce_versions_has(&v, 1));
	assert_false(konce_versions_has(&v, 2));
	assert_int_equal(konce_versions_at(&v, 0), 3);
	assert_int_equal(konce_versions_set(&v, (const uint16_t[]){0}, 1), -EINVAL);
	assert_int_equal(konce_versions_set(&v, (const uint16_t[]){1}, 0), -EINVAL);
	assert_int_equal(konce_versions_set(&v, (const uint16_t[9]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 9), -EINVAL);
	konce_versions_set(&v, (const uint16_t[]){3, 1}, 2);
	v.raw[5] = 1; /* a used-looking unused slot */
	assert_int_equal(konce_versions_check(&v), -EINVAL);
	konce_versions_set(&v, (const uint16_t[]){3, 1}, 2);
	v.n = 3; /* a zero used slot */
	assert_int_equal(konce_versions_check(&v), -EINVAL);
}

static konce_hello sample_hello(void)
{
	konce_hello h;
	memset(&h, 0, sizeof h);
	konce_versions_set(&h.versions, (const uint16_t[]){1, 2}, 2);
	h.client_time = 0x0102030405060708ull;
	fill(h.client_cid, 8, 1);
	return h;
}

static void test_hello(void **state)
{
	(void)state;
	konce_hello h = sample_hello(), g;
	uint8_t p[KONCE_HELLO_SIZE + 1], q[KONCE_HELLO_SIZE];
	assert_int_equal(konce_hello_build(p, &h), KONCE_HELLO_SIZE);
	assert_int_equal(konce_hello_parse(&g, p, KONCE_HELLO_SIZE), 0);
	assert_int_equal(g.client_time, h.client_time);
	assert_memory_equal(g.client_cid, h.client_cid, 8);
	assert_int_equal(konce_hello_build(q, &g), KONCE_HELLO_SIZE);
	assert_memory_equal(p, q, KONCE_HELLO_SIZE);
	/* with a clue */
	h.flags = KONCE_HELLO_F_CLUE;
	fill(h.clue, 16, 9);
	konce_hello_build(p, &h);
	assert_int_equal(konce_hello_parse(&g, p, KONCE_HELLO_SIZE), 0);
	assert_memory_equal(g.clue, h.clue, 16);
	/* padding is ignored */
	p[KONCE_HELLO_SIZE - 1] = 0xff;
	assert_int_equal(konce_hello_parse(&g, p, KONCE_HELLO_SIZE), 0);

	/* malformed */
	h = sample_hello();
	konce_hello_build(p, &h);
	for (size_t n = 0; n <= KONCE_HELLO_SIZE + 1; n++)
		if (n != KONCE_HELLO_SIZE)
			assert_int_equal(konce_hello_parse(&g, p, n), -EINVAL);
	struct { size_t off; uint8_t v; } bad[] = {
		{KONCE_HELLO_TYPE, KONCE_PKT_COOKIE}, {KONCE_HELLO_FLAGS, 0x02}, {KONCE_HELLO_FLAGS, 0x80},
		{KONCE_HELLO_NVERSIONS, 0}, {KONCE_HELLO_NVERSIONS, 9}, {KONCE_HELLO_NVERSIONS, 3},
		{KONCE_HELLO_NVERSIONS, 1}, {KONCE_HELLO_RESERVED, 1}, {KONCE_HELLO_VERSIONS + 15, 1},
		{KONCE_HELLO_CLUE, 1} /* a clue without the flag */,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		konce_hello_build(p, &h);
		p[bad[i].off] = bad[i].v;
		assert_int_equal(konce_hello_parse(&g, p, KONCE_HELLO_SIZE), -EINVAL);
	}
	konce_hello_build(p, &h);
	memset(p + KONCE_HELLO_VERSIONS, 0, 4); /* zero versions */
	assert_int_equal(konce_hello_parse(&g, p, KONCE_HELLO_SIZE), -EINVAL);
}

static void test_cookie(void **state)
{
	(void)state;
	konce_cookie_msg c, d;
	memset(&c, 0, sizeof c);
	c.version = 1;
	fill(c.client_cid, 8, 2);
	c.client_time = 11;
	c.challenge = 0x7fffffffffffffffull;
	c.server_time = 13;
	c.pow_bits = KONCE_WIRE_POW_MAX_BITS;
	c.key_id = 200;
	fill(c.epk, 32, 3);
	fill(c.mac, 16, 4);
	uint8_t p[KONCE_COOKIE_SIZE + 1], q[KONCE_COOKIE_SIZE];
	assert_int_equal(konce_cookie_build(p, &c), KONCE_COOKIE_SIZE);
	assert_int_equal(konce_cookie_parse(&d, p, KONCE_COOKIE_SIZE), 0);
	assert_memory_equal(&c, &d, sizeof c);
	konce_cookie_build(q, &d);
	assert_memory_equal(p, q, KONCE_COOKIE_SIZE);
	c.flags = KONCE_COOKIE_F_MASKED;
	konce_cookie_build(p, &c);
	assert_int_equal(konce_cookie_parse(&d, p, KONCE_COOKIE_SIZE), 0);
	assert_int_equal(d.flags, KONCE_COOKIE_F_MASKED);
	c.flags = 0;
	for (size_t n = 0; n <= KONCE_COOKIE_SIZE + 1; n++)
		if (n != KONCE_COOKIE_SIZE)
			assert_int_equal(konce_cookie_parse(&d, p, n), -EINVAL);
	struct { size_t off; uint8_t v; } bad[] = {
		{KONCE_COOKIE_TYPE, KONCE_PKT_HELLO}, {KONCE_COOKIE_FLAGS, 2}, {KONCE_COOKIE_RESERVED, 1},
		{KONCE_COOKIE_RESERVED + 1, 1}, {KONCE_COOKIE_POW_BITS, KONCE_WIRE_POW_MAX_BITS + 1},
		{KONCE_COOKIE_POW_BITS, 255},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		konce_cookie_build(p, &c);
		p[bad[i].off] = bad[i].v;
		assert_int_equal(konce_cookie_parse(&d, p, KONCE_COOKIE_SIZE), -EINVAL);
	}
	konce_cookie_build(p, &c);
	wire_put16(p + KONCE_COOKIE_VERSION, 0);
	assert_int_equal(konce_cookie_parse(&d, p, KONCE_COOKIE_SIZE), -EINVAL);
}

static size_t sample_initiate(uint8_t *p, konce_initiate *in, size_t box2_len)
{
	memset(in, 0, sizeof *in);
	in->version = 2;
	fill(in->client_cid, 8, 5);
	in->client_time = 21;
	in->challenge = 22;
	in->server_time = 23;
	in->pow_bits = 4;
	in->key_id = 9;
	konce_versions_set(&in->versions, (const uint16_t[]){1, 2}, 2);
	fill(in->mac, 16, 6);
	fill(in->client_epk, 32, 8);
	in->pow_nonce = 0x1122334455667788ull;
	konce_initiate_build_head(p, in);
	fill(p + KONCE_INIT_BOX1, KONCE_INIT_BOX2 - KONCE_INIT_BOX1 + box2_len, 10);
	return KONCE_INIT_BOX2 + box2_len;
}

static void test_initiate(void **state)
{
	(void)state;
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM + 1], q[KONCE_INIT_BOX1];
	konce_initiate in, out;
	size_t n = sample_initiate(p, &in, 40);
	assert_int_equal(konce_initiate_parse(&out, p, n), 0);
	assert_int_equal(out.challenge, 22);
	assert_int_equal(out.pow_nonce, in.pow_nonce);
	assert_ptr_equal(out.box1, p + KONCE_INIT_BOX1);
	assert_ptr_equal(out.box2, p + KONCE_INIT_BOX2);
	assert_int_equal(out.box2_len, 40);
	konce_initiate_build_head(q, &out);
	assert_memory_equal(p, q, KONCE_INIT_BOX1);
	/* sizes: minimum (empty box2 plaintext) and maximum */
	n = sample_initiate(p, &in, KONCE_WIRE_TAG);
	assert_int_equal(n, KONCE_INIT_MIN_SIZE);
	assert_int_equal(konce_initiate_parse(&out, p, n), 0);
	for (size_t m = 0; m < KONCE_INIT_MIN_SIZE; m++)
		assert_int_equal(konce_initiate_parse(&out, p, m), -EINVAL);
	n = sample_initiate(p, &in, KONCE_WIRE_MAX_DATAGRAM - KONCE_INIT_BOX2);
	assert_int_equal(konce_initiate_parse(&out, p, n), 0);
	assert_int_equal(konce_initiate_parse(&out, p, n + 1), -EINVAL);
	struct { size_t off; uint8_t v; } bad[] = {
		{KONCE_INIT_TYPE, KONCE_PKT_ACCEPT}, {KONCE_INIT_FLAGS, 1}, {KONCE_INIT_RESERVED, 1},
		{KONCE_INIT_POW_BITS, KONCE_WIRE_POW_MAX_BITS + 1}, {KONCE_INIT_NVERSIONS, 0},
		{KONCE_INIT_NVERSIONS, 9}, {KONCE_INIT_NVERSIONS, 1} /* version 2 no longer listed */,
		{KONCE_INIT_VERSIONS + 15, 1}, {KONCE_INIT_VERSION + 1, 3} /* not in the list */,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = sample_initiate(p, &in, 40);
		p[bad[i].off] = bad[i].v;
		assert_int_equal(konce_initiate_parse(&out, p, n), -EINVAL);
	}
	n = sample_initiate(p, &in, 40);
	wire_put16(p + KONCE_INIT_VERSION, 0);
	assert_int_equal(konce_initiate_parse(&out, p, n), -EINVAL);
}

static void test_accept_version_data(void **state)
{
	(void)state;
	static uint8_t p[KONCE_PMTU_MAX + 1];
	konce_accept a, b;
	fill(a.client_cid, 8, 1);
	fill(a.server_cid, 8, 2);
	assert_int_equal(konce_accept_build_head(p, &a), KONCE_ACCEPT_BOX);
	fill(p + KONCE_ACCEPT_BOX, 30, 3);
	assert_int_equal(konce_accept_parse(&b, p, KONCE_ACCEPT_BOX + 30), 0);
	assert_memory_equal(b.client_cid, a.client_cid, 8);
	assert_memory_equal(b.server_cid, a.server_cid, 8);
	assert_int_equal(b.box_len, 30);
	for (size_t n = 0; n < KONCE_ACCEPT_MIN_SIZE; n++)
		assert_int_equal(konce_accept_parse(&b, p, n), -EINVAL);
	assert_int_equal(konce_accept_parse(&b, p, KONCE_WIRE_MAX_DATAGRAM + 1), -EINVAL);
	p[KONCE_ACCEPT_FLAGS] = 1;
	assert_int_equal(konce_accept_parse(&b, p, KONCE_ACCEPT_BOX + 30), -EINVAL);
	p[KONCE_ACCEPT_FLAGS] = 0;
	p[KONCE_ACCEPT_TYPE] = KONCE_PKT_DATA;
	assert_int_equal(konce_accept_parse(&b, p, KONCE_ACCEPT_BOX + 30), -EINVAL);

	konce_version_msg v, w;
	fill(v.client_cid, 8, 4);
	konce_versions_set(&v.versions, (const uint16_t[]){5, 6, 7}, 3);
	assert_int_equal(konce_version_build(p, &v), KONCE_VERSION_SIZE);
	assert_int_equal(konce_version_parse(&w, p, KONCE_VERSION_SIZE), 0);
	assert_memory_equal(&v, &w, sizeof v);
	assert_int_equal(konce_version_parse(&w, p, KONCE_VERSION_SIZE - 1), -EINVAL);
	assert_int_equal(konce_version_parse(&w, p, KONCE_VERSION_SIZE + 1), -EINVAL);
	p[KONCE_VERSION_RESERVED] = 1;
	assert_int_equal(konce_version_parse(&w, p, KONCE_VERSION_SIZE), -EINVAL);
	konce_version_build(p, &v);
	p[KONCE_VERSION_NVERSIONS] = 0;
	assert_int_equal(konce_version_parse(&w, p, KONCE_VERSION_SIZE), -EINVAL);
	konce_version_build(p, &v);
	p[KONCE_VERSION_NVERSIONS] = 2; /* a third version in an unused slot */
	assert_int_equal(konce_version_parse(&w, p, KONCE_VERSION_SIZE), -EINVAL);

	konce_data_hdr d;
	memset(p, 0, sizeof p);
	p[0] = KONCE_PKT_DATA;
	fill(p + KONCE_DATA_DCID, 8, 5);
	assert_int_equal(konce_data_parse_hdr(&d, p, KONCE_DATA_MIN_SIZE), 0);
	assert_memory_equal(d.dcid, p + KONCE_DATA_DCID, 8);
	assert_int_equal(konce_data_parse_hdr(&d, p, KONCE_DATA_MIN_SIZE - 1), -EINVAL);
	/* DATA may be as large as a PLPMTU can grow (pmtud.h), no larger */
	assert_int_equal(konce_data_parse_hdr(&d, p, KONCE_PMTU_MAX), 0);
	assert_int_equal(konce_data_parse_hdr(&d, p, KONCE_PMTU_MAX + 1), -EINVAL);
	p[KONCE_DATA_FLAGS] = KONCE_DATA_F_KEY_PHASE;
	assert_int_equal(konce_data_parse_hdr(&d, p, KONCE_DATA_MIN_SIZE), 0);
	p[KONCE_DATA_FLAGS] = 2;
	assert_int_equal(konce_data_parse_hdr(&d, p, KONCE_DATA_MIN_SIZE), -EINVAL);
}

static long ext_len(void *ctx, uint8_t type, const uint8_t *p, size_t avail)
{
	(void)ctx;
	(void)p;
	return type == 0x20 ? (avail >= 4 ? 4 : -1) : -1;
}

static void test_frames(void **state)
{
	(void)state;
	uint8_t p[64];
	size_t n = 0;
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	n += konce_frame_put_ping(p + n, sizeof p - n);
	n += konce_frame_put_message(p + n, sizeof p - n, (const uint8_t *)"abc", 3);
	n += konce_frame_put_path(p + n, sizeof p - n, KONCE_FRAME_PATH_CHALLENGE, data);
	n += konce_frame_put_close(p + n, sizeof p - n, 0x1234);
	n += konce_frame_put_message(p + n, sizeof p - n, NULL, 0);
	p[n++] = KONCE_FRAME_PADDING;
	p[n++] = 0;
	assert_int_equal(konce_frame_validate(p, n, NULL), 0);
	size_t off = 0;
	konce_frame f;
	uint8_t want[] = {KONCE_FRAME_PING, KONCE_FRAME_MESSAGE, KONCE_FRAME_PATH_CHALLENGE, KONCE_FRAME_CLOSE,
			  KONCE_FRAME_MESSAGE, KONCE_FRAME_PADDING};
	for (size_t i = 0; i < sizeof want; i++) {
		assert_int_equal(konce_frame_next(p, n, &off, &f, NULL), 1);
		assert_int_equal(f.type, want[i]);
		if (i == 1)
			assert_memory_equal(f.body, "abc", 3);
		if (i == 2)
			assert_memory_equal(f.body, data, 8);
		if (i == 3)
			assert_int_equal(f.reason, 0x1234);
	}
	assert_int_equal(konce_frame_next(p, n, &off, &f, NULL), 0);
	/* every truncation of the frames before the padding either parses as a prefix or is refused,
	 * and truncating inside a frame body is refused */
	assert_int_equal(konce_frame_validate(p, 2, NULL), -EINVAL);  /* MESSAGE without length */
	assert_int_equal(konce_frame_validate(p, 5, NULL), -EINVAL);  /* MESSAGE body short */
	assert_int_equal(konce_frame_validate(p, 10, NULL), -EINVAL); /* PATH_CHALLENGE short */
	assert_int_equal(konce_frame_validate(p, 18, NULL), -EINVAL); /* CLOSE short */
	assert_int_equal(konce_frame_validate(p, 16, NULL), 0);      /* ends between frames */
	/* unknown types; extension types only with the extension */
	uint8_t u[] = {0x06};
	assert_int_equal(konce_frame_validate(u, 1, NULL), -EINVAL);
	uint8_t e[] = {0x20, 1, 2, 3, 4, KONCE_FRAME_PING};
	assert_int_equal(konce_frame_validate(e, sizeof e, NULL), -EINVAL);
	konce_frame_ext ext = {ext_len, NULL};
	assert_int_equal(konce_frame_validate(e, sizeof e, &ext), 0);
	assert_int_equal(konce_frame_validate(e, 4, &ext), -EINVAL);
	uint8_t e2[] = {0x40};
	assert_int_equal(konce_frame_validate(e2, 1, &ext), -EINVAL);
	/* the reliability frames (0x10..0x1f) are parsed here, never by the extension */
	uint8_t r[] = {0x10, 1, 2, 3, 4};
	assert_int_equal(konce_frame_validate(r, sizeof r, &ext), -EINVAL); /* ACK: a range below 1 */
	uint8_t ts[] = {KONCE_FRAME_TIMESTAMP, 1, 2, 3, 4, KONCE_FRAME_PING};
	assert_int_equal(konce_frame_validate(ts, sizeof ts, NULL), 0);
	assert_int_equal(konce_frame_validate(ts, 4, NULL), -EINVAL);
	/* REFUSE: varint id >= 1 and a reason byte >= 1; test vector 14 4123 01 */
	uint8_t rf[8];
	assert_int_equal(konce_frame_put_refuse(rf, sizeof rf, 0x123, KONCE_REFUSE_TOO_LARGE), 4);
	uint8_t rf_want[] = {0x14, 0x41, 0x23, 0x01};
	assert_memory_equal(rf, rf_want, 4);
	assert_int_equal(konce_frame_validate(rf, 4, NULL), 0);
	assert_int_equal(konce_frame_validate(rf, 3, NULL), -EINVAL);
	uint8_t rf0[] = {0x14, 0x00, 0x01};
	assert_int_equal(konce_frame_validate(rf0, sizeof rf0, NULL), -EINVAL);
	uint8_t rf1[] = {0x14, 0x01, 0x00};
	assert_int_equal(konce_frame_validate(rf1, sizeof rf1, NULL), -EINVAL);
	assert_int_equal(konce_frame_put_refuse(rf, 3, 0x123, 1), 0);
	/* builders refuse what does not fit */
	assert_int_equal(konce_frame_put_message(p, 5, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(konce_frame_put_path(p, 8, KONCE_FRAME_PATH_RESPONSE, data), 0);
	assert_int_equal(konce_frame_put_close(p, 2, 0), 0);
	assert_int_equal(konce_frame_put_ping(p, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_initiate),
		cmocka_unit_test(test_accept_version_data),
		cmocka_unit_test(test_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
