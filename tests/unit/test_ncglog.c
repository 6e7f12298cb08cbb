/* test_ncglog.c - the application's read of a group's log (node/core/ncglog.c): only a name bound
 * to a hosted group is read; the positions run from the one asked (0: seq 1) to the delivery point
 * and none beyond it; only whole application entries reach the reader, counted, and the reader's
 * nonzero return stops the read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncgapp.h"
#include "node/transport/identity.h"

static void test_gid(void **state)
{
	(void)state;
	static konce_ncgapp t;
	konce_identity *id;
	konce_nodecore *c;
	uint8_t gid[KONCE_CW_GROUP_ID], other[KONCE_CW_GROUP_ID], got[KONCE_CW_GROUP_ID];
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&c, &cfg, 1000), 0);
	randombytes_buf(gid, sizeof gid);
	memset(other, 7, sizeof other);
	assert_int_equal(konce_ncgapp_create(&t, c, gid, "team", 2000, 100), 0);
	assert_int_equal(konce_ncgapp_log_gid(&t, c, "team", got), 0);
	assert_memory_equal(got, gid, sizeof gid);
	assert_int_equal(konce_ncgapp_log_gid(&t, c, "nobody", got), -ENOENT);
	assert_non_null(konce_ncgapp_bind(&t, other, "gone")); /* bound, but not hosted */
	assert_int_equal(konce_ncgapp_log_gid(&t, c, "gone", got), -ENOENT);
	konce_ncgapp_unwire(&t, c);
	konce_nodecore_free(c);
	konce_identity_free(id);
}

static void test_span(void **state)
{
	(void)state;
	uint64_t first = 99;
	assert_true(konce_ncgapp_log_span(0, 5, &first));
	assert_int_equal(first, 1);
	assert_true(konce_ncgapp_log_span(5, 5, &first));
	assert_int_equal(first, 5);
	assert_false(konce_ncgapp_log_span(6, 5, &first));
	assert_true(konce_ncgapp_log_span(0, 0, &first)); /* nothing delivered: the store has no seq 1..0 */
	assert_int_equal(first, 1);
}

struct seen {
	uint64_t seq[4];
	size_t len[4];
	int n, stop_at;
};

static int reader(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *data,
		  size_t len)
{
	struct seen *s = ctx;
	assert_memory_equal(origin, "origin!", KONCE_GROUP_ORIGIN_BYTES);
	assert_memory_equal(data, "hello", len);
	s->seq[s->n] = seq;
	s->len[s->n++] = len;
	return s->n == s->stop_at;
}

static size_t entry(uint8_t kind, const char *data, size_t dlen, uint8_t *out, size_t cap)
{
	static const uint8_t origin[KONCE_CW_ORIGIN] = "origin!";
	konce_cw_entry e = {.kind = kind, .origin = origin, .nonce = 1, .len = (uint16_t)dlen,
			    .data = (const uint8_t *)data};
	return konce_cw_entry_encode(&e, out, cap);
}

static void test_entries(void **state)
{
	(void)state;
	uint8_t app[64], inv[128];
	char hash[KONCE_CW_INVITE_LEN];
	memset(hash, 'h', sizeof hash);
	size_t na = entry(KONCE_CW_E_APP, "hello", 5, app, sizeof app);
	size_t ni = entry(KONCE_CW_E_INVITE, hash, sizeof hash, inv, sizeof inv);
	assert_true(na > 0 && ni > 0);
	struct seen s = {.stop_at = 2};
	konce_ncgapp_logread l = {reader, &s, 0};
	assert_int_equal(konce_ncgapp_log_one(&l, 1, app, na), 0);
	assert_int_equal(konce_ncgapp_log_one(&l, 2, inv, ni), 0);     /* the group's own */
	assert_int_equal(konce_ncgapp_log_one(&l, 3, app, na - 1), 0); /* cut short */
	assert_int_equal(konce_ncgapp_log_one(&l, 4, app, na), 1);     /* the reader stops */
	assert_int_equal(l.n, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[1], 4);
	assert_int_equal(s.len[1], 5);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gid),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
