/* test_ep_scan.c - konce_ep_scan_frames(): the receive path's one walk over a payload's frames
 * validates exactly as konce_frame_validate() does and reports what the later steps look for
 * (reliability frames, PING, frames for konce_ep_frames(), the first ACK frame's offset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ackframe.h"
#include "node/transport/ep_internal.h"
#include "node/transport/frag.h"
#include "node/transport/frame.h"
#include "node/transport/identity.h"

typedef struct fx {
	konce_identity *id;
	konce_ep *ep;
} fx;

static int setup(void **state)
{
	static fx f;
	memset(&f, 0, sizeof f);
	assert_int_equal(konce_identity_generate(&f.id, konce_env_default()), 0);
	konce_ep_config cfg = {.identity = f.id, .max_sessions = 4};
	assert_int_equal(konce_ep_new(&f.ep, &cfg, 1000000), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	konce_ep_free(f->ep);
	konce_identity_free(f->id);
	return 0;
}

static size_t put_ack(uint8_t *out, size_t cap, uint64_t lo, uint64_t hi)
{
	konce_ack a = {.credit = 1 << 20, .nranges = 1, .ranges = {{lo, hi}}};
	size_t enc;
	size_t n = konce_ackframe_encode(out, cap, &a, &enc);
	assert_true(n > 0);
	return n;
}

static size_t put_fragment(uint8_t *out, size_t cap)
{
	static const uint8_t data[100] = {7};
	konce_fragment fr = {.msg_id = 3, .offset = 0, .total = sizeof data, .len = sizeof data, .data = data};
	size_t n = konce_frag_encode(out, cap, &fr);
	assert_true(n > 0);
	return n;
}

/* a DATA packet's usual payload: ACK, FRAGMENT (no frame for konce_ep_frames, no PING) */
static void test_ack_and_fragment(void **state)
{
	fx *f = *state;
	uint8_t p[1200];
	size_t n = put_ack(p, sizeof p, 1, 40);
	size_t frag_at = n;
	n += put_fragment(p + n, sizeof p - n);
	konce_ep_scan sc;
	assert_int_equal(konce_ep_scan_frames(f->ep, p, n, &sc), 0);
	assert_int_equal(konce_frame_validate(p, n, NULL), 0);
	assert_true(sc.rel);
	assert_false(sc.ping);
	assert_false(sc.ep_frames);
	assert_int_equal(sc.ack_off, 0);
	/* the fragment alone: no ACK */
	assert_int_equal(konce_ep_scan_frames(f->ep, p + frag_at, n - frag_at, &sc), 0);
	assert_true(sc.rel);
	assert_int_equal(sc.ack_off, SIZE_MAX);
}

/* the first of two ACK frames is the one reported; PING and MESSAGE are seen; an ACK alone is
 * not a reliability frame */
static void test_first_ack_ping_message(void **state)
{
	fx *f = *state;
	uint8_t p[1200];
	size_t n = konce_frame_put_ping(p, sizeof p);
	size_t ack_at = n;
	n += put_ack(p + n, sizeof p - n, 5, 9);
	n += put_ack(p + n, sizeof p - n, 1, 3);
	n += konce_frame_put_message(p + n, sizeof p - n, (const uint8_t *)"hi", 2);
	konce_ep_scan sc;
	assert_int_equal(konce_ep_scan_frames(f->ep, p, n, &sc), 0);
	assert_true(sc.ping);
	assert_true(sc.ep_frames);
	assert_false(sc.rel);
	assert_int_equal(sc.ack_off, ack_at);
	konce_ack a;
	assert_true(konce_ackframe_decode(p + sc.ack_off, n - sc.ack_off, &a) > 0);
	assert_int_equal(konce_ack_largest(&a), 9);

	uint8_t q[64];
	size_t m = konce_frame_put_close(q, sizeof q, 1);
	assert_int_equal(konce_ep_scan_frames(f->ep, q, m, &sc), 0);
	assert_true(sc.ep_frames);
}

/* a malformed frame: the same error as konce_frame_validate, and the flags of the frames before it */
static void test_malformed_as_validate(void **state)
{
	fx *f = *state;
	uint8_t p[1200];
	size_t n = konce_frame_put_ping(p, sizeof p);
	n += put_fragment(p + n, sizeof p - n);
	size_t cut = n - 10; /* the fragment's data runs past the end */
	konce_ep_scan sc;
	int r = konce_ep_scan_frames(f->ep, p, cut, &sc);
	assert_true(r < 0);
	assert_int_equal(r, konce_frame_validate(p, cut, NULL));
	assert_true(sc.ping);
	assert_false(sc.rel);
	p[0] = 0xff; /* no such frame type */
	assert_int_equal(konce_ep_scan_frames(f->ep, p, n, &sc), konce_frame_validate(p, n, NULL));
	assert_false(sc.ping);
	/* empty: valid, nothing in it */
	assert_int_equal(konce_ep_scan_frames(f->ep, p, 0, &sc), 0);
	assert_false(sc.rel || sc.ping || sc.ep_frames);
	assert_int_equal(sc.ack_off, SIZE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_and_fragment),
		cmocka_unit_test(test_first_ack_ping_message),
		cmocka_unit_test(test_malformed_as_validate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
