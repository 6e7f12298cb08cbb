/* test_rawpkt.c - ICMP echo and fake-TCP bytes around probe payloads: vectors, checksums, bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/rawpkt.h"

static konce_addr mk(const char *s)
{
	konce_addr a;
	assert_int_equal(konce_addr_parse(&a, s), 0);
	return a;
}

/* Ones'-complement sum of the bytes, folded: 0xffff when a checksum inside them is right. */
static uint16_t csum(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* An IPv4 header in front of l4, as a raw socket delivers it. */
static size_t wrap(uint8_t *out, uint8_t proto, const konce_addr *src, const konce_addr *dst, const uint8_t *l4,
		   size_t n)
{
	memset(out, 0, 20);
	out[0] = 0x45;
	out[2] = (uint8_t)((20 + n) >> 8);
	out[3] = (uint8_t)(20 + n);
	out[8] = 57;
	out[9] = proto;
	memcpy(out + 12, src->ip + 12, 4);
	memcpy(out + 16, dst->ip + 12, 4);
	memcpy(out + 20, l4, n);
	return 20 + n;
}

static void test_icmp_vector(void **state)
{
	(void)state;
	uint8_t out[64];
	konce_rawpkt p = {.src = mk("10.0.0.1:1"), .dst = mk("10.0.0.2:1"), .seq = 1};
	/* echo request, id 1, seq 1, no data: checksum ~(0x0800 + 1 + 1) = 0xf7fd */
	assert_int_equal(konce_rawpkt_build(KONCE_RAWPKT_ICMP, &p, out, sizeof(out)), 8);
	static const uint8_t want[8] = {0x08, 0x00, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x01};
	assert_memory_equal(out, want, 8);
}

static void test_icmp_roundtrip(void **state)
{
	(void)state;
	uint8_t l4[128], pkt[160];
	konce_addr src = mk("192.0.2.10:4242"), dst = mk("198.51.100.1:4242");
	konce_rawpkt p = {.src = src, .dst = dst, .seq = 7, .is_reply = true, .payload = (const uint8_t *)"KPRB-odd",
			  .len = 7}, q;
	int n = konce_rawpkt_build(KONCE_RAWPKT_ICMP, &p, l4, sizeof(l4));
	assert_int_equal(n, 8 + 7);
	assert_int_equal(csum(l4, (size_t)n, 0), 0xffff);
	size_t m = wrap(pkt, 1, &src, &dst, l4, (size_t)n);
	assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_ICMP, pkt, m, &q), 0);
	assert_true(q.is_reply);
	assert_int_equal(q.seq, 7);
	assert_int_equal(q.ttl, 57);
	assert_true(konce_addr_eq(&q.src, &src));
	assert_int_equal(q.dst.port, 4242);
	assert_int_equal(q.len, 7);
	assert_memory_equal(q.payload, "KPRB-od", 7);
	/* the wrong protocol for this parser */
	assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_TCP, pkt, m, &q), -EINVAL);
}

static void test_tcp_roundtrip(void **state)
{
	(void)state;
	uint8_t l4[128], pkt[160], pseudo[12];
	konce_addr src = mk("192.0.2.10:40000"), dst = mk("198.51.100.1:7807");
	konce_rawpkt p = {.src = src, .dst = dst, .seq = 0x01020304, .ack = 0x0a0b0c0d, .payload = (const uint8_t *)"probe",
			  .len = 5}, q;
	int n = konce_rawpkt_build(KONCE_RAWPKT_TCP, &p, l4, sizeof(l4));
	assert_int_equal(n, 25);
	assert_int_equal(l4[13], KONCE_RAWPKT_TCP_SYN);
	assert_memory_equal(l4 + 8, "\0\0\0\0", 4); /* a SYN acknowledges nothing */
	memcpy(pseudo, src.ip + 12, 4);
	memcpy(pseudo + 4, dst.ip + 12, 4);
	pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = 0, pseudo[11] = 25;
	assert_int_equal(csum(l4, 25, csum(pseudo, 12, 0)), 0xffff);
	size_t m = wrap(pkt, 6, &src, &dst, l4, (size_t)n);
	assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_TCP, pkt, m, &q), 0);
	assert_false(q.is_reply);
	assert_true(konce_addr_eq(&q.src, &src));
	assert_true(konce_addr_eq(&q.dst, &dst));
	assert_int_equal(q.seq, 0x01020304);
	assert_memory_equal(q.payload, "probe", 5);

	p.is_reply = true;
	n = konce_rawpkt_build(KONCE_RAWPKT_TCP, &p, l4, sizeof(l4));
	assert_int_equal(l4[13], KONCE_RAWPKT_TCP_SYN | KONCE_RAWPKT_TCP_ACK);
	m = wrap(pkt, 6, &src, &dst, l4, (size_t)n);
	assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_TCP, pkt, m, &q), 0);
	assert_true(q.is_reply);
	assert_int_equal(q.ack, 0x0a0b0c0d);
}

static void test_bad_input(void **state)
{
	(void)state;
	uint8_t l4[64], pkt[96], b[96];
	konce_addr src = mk("192.0.2.10:40000"), dst = mk("198.51.100.1:7807");
	konce_rawpkt p = {.src = src, .dst = dst, .payload = (const uint8_t *)"x", .len = 1}, q;
	int n = konce_rawpkt_build(KONCE_RAWPKT_TCP, &p, l4, sizeof(l4));
	size_t m = wrap(pkt, 6, &src, &dst, l4, (size_t)n);

	for (size_t k = 0; k < m; k++)
		assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_TCP, pkt, k, &q), -EINVAL);
#define MUTATE(off, val)                                                                        \
	do {                                                                                    \
		memcpy(b, pkt, m);                                                              \
		b[off] = (val);                                                                 \
		assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_TCP, b, m, &q), -EINVAL);     \
	} while (0)
	MUTATE(0, 0x65);                  /* IPv6 version nibble */
	MUTATE(0, 0x44);                  /* IHL below 20 */
	MUTATE(0, 0x4f);                  /* IHL past the packet */
	MUTATE(3, (uint8_t)(m + 1));      /* total length past the buffer */
	MUTATE(20 + 12, 0x40);            /* data offset below 20 */
	MUTATE(20 + 12, 0xf0);            /* data offset past the segment */
	MUTATE(20 + 13, 0x10);            /* a bare ACK is not ours */
	MUTATE(20 + 13, 0x06);            /* SYN+RST */
#undef MUTATE
	/* an ICMP message that is not an echo */
	uint8_t unreach[8] = {3, 1, 0, 0, 0, 0, 0, 0};
	m = wrap(pkt, 1, &src, &dst, unreach, sizeof(unreach));
	assert_int_equal(konce_rawpkt_parse(KONCE_RAWPKT_ICMP, pkt, m, &q), -EINVAL);

	/* building: IPv6, no room */
	p.dst = mk("[2001:db8::1]:1");
	assert_int_equal(konce_rawpkt_build(KONCE_RAWPKT_ICMP, &p, l4, sizeof(l4)), -EINVAL);
	p.dst = dst;
	assert_int_equal(konce_rawpkt_build(KONCE_RAWPKT_TCP, &p, l4, 20), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icmp_vector),
		cmocka_unit_test(test_icmp_roundtrip),
		cmocka_unit_test(test_tcp_roundtrip),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
