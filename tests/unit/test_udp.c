/* test_udp.c - batched UDP over loopback: batching, GSO trains and their fallback, dual stack. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>

#include <cmocka.h>

#include "node/udp.h"

struct rx {
	int n;
	size_t bytes;
	uint8_t seen[512];
	konce_addr from;
	int bad;
};

static void on_rx(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct rx *r = ctx;
	/* every test datagram: byte 0..1 = index, the rest = index pattern */
	unsigned idx = (unsigned)(pkt[0] << 8 | pkt[1]);
	for (size_t i = 2; i < len; i++)
		if (pkt[i] != (uint8_t)(idx + i))
			r->bad++;
	if (idx < sizeof(r->seen))
		r->seen[idx]++;
	r->n++;
	r->bytes += len;
	r->from = *from;
}

static void fill(uint8_t *b, unsigned idx, size_t len)
{
	b[0] = (uint8_t)(idx >> 8);
	b[1] = (uint8_t)idx;
	for (size_t i = 2; i < len; i++)
		b[i] = (uint8_t)(idx + i);
}

static void drain(konce_udp *u, struct rx *r, int want)
{
	for (int tries = 0; r->n < want && tries < 200; tries++) {
		struct pollfd p = {.fd = konce_udp_fd(u), .events = POLLIN};
		poll(&p, 1, 10);
		assert_true(konce_udp_recv(u, 8, on_rx, r) >= 0);
	}
}

static void pair(konce_udp **a, konce_udp **b, konce_addr *baddr, const char *bind)
{
	konce_addr any;
	char err[256];
	assert_int_equal(konce_addr_parse(&any, bind), 0);
	assert_int_equal(konce_udp_open(a, &any, err, sizeof(err)), 0);
	assert_int_equal(konce_udp_open(b, &any, err, sizeof(err)), 0);
	assert_int_equal(konce_udp_local(*b, baddr), 0);
	if (bind[0] == '[') {
		static const uint8_t lo6[16] = {[15] = 1};
		konce_addr_from_v6(baddr, lo6, baddr->port);
	}
}

static void run_batch(bool gso, const char *bind)
{
	konce_udp *a, *b;
	konce_addr to;
	struct rx r = {0};
	uint8_t buf[1200];
	pair(&a, &b, &to, bind);
	konce_udp_set_offload(a, gso, gso);
	konce_udp_set_offload(b, gso, gso);
	/* 300 datagrams: runs of equal sizes (GSO trains) mixed with odd sizes */
	for (unsigned i = 0; i < 300; i++) {
		size_t len = (i % 50 < 40) ? 1200 : 100 + i;
		fill(buf, i, len);
		assert_int_equal(konce_udp_queue(a, buf, len, &to), 0);
		if (i % 100 == 99) {
			assert_int_equal(konce_udp_flush(a), 0);
			drain(b, &r, (int)i + 1);
		}
	}
	assert_int_equal(konce_udp_flush(a), 0);
	drain(b, &r, 300);
	assert_int_equal(r.n, 300);
	assert_int_equal(r.bad, 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(r.seen[i], 1);
	konce_udp_stats st;
	konce_udp_get_stats(a, &st);
	assert_int_equal(st.tx, 300);
	assert_true(st.tx_calls < 300); /* batched */
	print_message("gso=%d: %llu datagrams in %llu sendmmsg calls, %llu GSO trains, gso still on=%d\n", gso,
		      (unsigned long long)st.tx, (unsigned long long)st.tx_calls, (unsigned long long)st.gso_sends,
		      st.gso);
	konce_udp_close(a);
	konce_udp_close(b);
}

static void test_batch_plain(void **s) { (void)s; run_batch(false, "127.0.0.1:0"); }
static void test_batch_gso(void **s) { (void)s; run_batch(true, "127.0.0.1:0"); }
static void test_batch_v6(void **s) { (void)s; run_batch(true, "[::]:0"); }

static void test_dual_stack(void **state)
{
	(void)state;
	konce_udp *v6, *v4;
	konce_addr any6, any4, to;
	char err[256], as[KONCE_ADDR_STRLEN];
	struct rx r = {0};
	uint8_t buf[64];
	assert_int_equal(konce_addr_parse(&any6, "[::]:0"), 0);
	assert_int_equal(konce_addr_parse(&any4, "127.0.0.1:0"), 0);
	assert_int_equal(konce_udp_open(&v6, &any6, err, sizeof(err)), 0);
	assert_int_equal(konce_udp_open(&v4, &any4, err, sizeof(err)), 0);
	assert_int_equal(konce_udp_local(v6, &to), 0);
	assert_int_equal(konce_addr_parse(&any4, "127.0.0.1:1"), 0);
	any4.port = to.port;
	fill(buf, 7, sizeof(buf));
	assert_int_equal(konce_udp_queue(v4, buf, sizeof(buf), &any4), 0);
	assert_int_equal(konce_udp_flush(v4), 0);
	drain(v6, &r, 1);
	assert_int_equal(r.n, 1);
	/* an IPv4 peer reaching the dual-stack socket is seen as an IPv4 address */
	assert_true(konce_addr_is_v4(&r.from));
	konce_addr_str(&r.from, as);
	assert_int_equal(strncmp(as, "127.0.0.1:", 10), 0);
	konce_udp_close(v6);
	konce_udp_close(v4);
}

static void test_errors(void **state)
{
	(void)state;
	konce_udp *a, *b;
	konce_addr addr;
	char err[256];
	uint8_t big[1300] = {0};
	pair(&a, &b, &addr, "127.0.0.1:0");
	assert_int_equal(konce_udp_queue(a, big, sizeof(big), &addr), -EMSGSIZE);
	assert_int_equal(konce_udp_queue(a, big, 0, &addr), -EMSGSIZE);
	/* binding a port in use names the address and the likely cause */
	konce_udp *c;
	assert_int_equal(konce_udp_open(&c, &addr, err, sizeof(err)), -EADDRINUSE);
	assert_null(c);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_non_null(strstr(err, "another node"));
	konce_udp_close(a);
	konce_udp_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_plain), cmocka_unit_test(test_batch_gso), cmocka_unit_test(test_batch_v6),
		cmocka_unit_test(test_dual_stack), cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
