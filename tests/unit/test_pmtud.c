/* test_pmtud.c - the PLPMTUD state machine (node/transport/pmtud.h) against a modelled path: a
 * path that carries datagrams up to `limit` bytes and silently drops larger ones (no ICMP), with
 * acks coming back an RTT later.  Vectors: growth to the upper bound in two probes, a black hole at
 * 1,400 bytes (settles at exactly 1,400), a path change (back to BASE and a new search), a black
 * hole that appears after the search (detected from large-packet losses), the ERROR state, and
 * the raise timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/wire.h"
#include "node/transport/pmtud.h"

enum { RTT_US = 20000, TIMEOUT_US = 3 * RTT_US };

typedef struct path {
	size_t limit;      /* largest datagram that gets through */
	uint64_t now, pn;
	unsigned sent, lost;
	size_t largest_probe;
} path;

static konce_ack ack_of(uint64_t pn)
{
	konce_ack a;
	memset(&a, 0, sizeof a);
	a.nranges = 1;
	a.ranges[0].lo = a.ranges[0].hi = pn;
	return a;
}

/* Runs the machine until it stops probing (or `steps` probes went), as a sender would. */
static void run(konce_pmtud *p, path *w, unsigned steps)
{
	for (unsigned i = 0; i < steps; i++) {
		size_t size = konce_pmtud_probe_due(p, w->now);
		if (size == 0) {
			uint64_t t = konce_pmtud_next_timer(p, w->now);
			if (t == UINT64_MAX || p->state == KONCE_PMTUD_SEARCH_COMPLETE || p->state == KONCE_PMTUD_ERROR)
				return;
			w->now = t;
			konce_pmtud_tick(p, w->now);
			continue;
		}
		assert_true(size >= KONCE_PMTU_BASE && size <= p->max);
		uint64_t pn = ++w->pn;
		konce_pmtud_probe_sent(p, size, pn, w->now, TIMEOUT_US);
		w->sent++;
		if (size > w->largest_probe)
			w->largest_probe = size;
		assert_int_equal(konce_pmtud_probe_due(p, w->now), 0); /* one outstanding at a time */
		if (size <= w->limit) {
			w->now += RTT_US;
			konce_ack a = ack_of(pn);
			konce_pmtud_on_ack(p, &a, w->now);
		} else {
			w->lost++;
			uint64_t t = konce_pmtud_next_timer(p, w->now);
			assert_true(t >= w->now + TIMEOUT_US);
			assert_false(konce_pmtud_tick(p, t - 1) && p->probed); /* not before its time */
			w->now = t;
			konce_pmtud_tick(p, w->now);
		}
		/* invariant 1 */
		assert_true(p->plpmtu >= KONCE_PMTU_BASE && p->plpmtu <= p->max && p->max <= KONCE_PMTU_MAX);
		assert_true(p->plpmtu <= w->limit || w->limit < KONCE_PMTU_BASE);
	}
	fail_msg("the search did not end in %u probes", steps);
}

static void test_disabled(void **state)
{
	(void)state;
	konce_pmtud p;
	konce_pmtud_init(&p);
	assert_int_equal(p.state, KONCE_PMTUD_DISABLED);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	assert_int_equal(konce_pmtud_probe_due(&p, 0), 0);
	assert_int_equal(konce_pmtud_next_timer(&p, 5), UINT64_MAX);
	/* a reset before the start keeps it disabled */
	konce_pmtud_reset(&p, 1472, 0);
	assert_int_equal(p.state, KONCE_PMTUD_DISABLED);
}

static void test_grow_1500(void **state)
{
	(void)state;
	konce_pmtud p;
	path w = {.limit = 1500 - KONCE_PMTU_IPV4_UDP, .now = 1000};
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 1500 - KONCE_PMTU_IPV4_UDP, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), KONCE_PMTU_BASE); /* BASE confirms first */
	run(&p, &w, 40);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, 1472);
	assert_int_equal(w.sent, 2); /* the base, then the estimate itself */
	assert_int_equal(w.lost, 0);
	/* IPv6 on the same link */
	konce_pmtud_init(&p);
	w = (path){.limit = 1500 - KONCE_PMTU_IPV6_UDP};
	konce_pmtud_start(&p, 1500 - KONCE_PMTU_IPV6_UDP, 0);
	run(&p, &w, 40);
	assert_int_equal(p.plpmtu, 1452);
	/* the upper bound is clamped to MAX_PLPMTU and raised to BASE */
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 65535, 0);
	assert_int_equal(p.max, KONCE_PMTU_MAX);
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 500, 0);
	assert_int_equal(p.max, KONCE_PMTU_BASE);
	w = (path){.limit = 1500};
	run(&p, &w, 10);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE); /* nothing to search */
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
}

static void test_blackhole_1400(void **state)
{
	(void)state;
	konce_pmtud p;
	path w = {.limit = 1400};
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 1472, 0); /* the interface says 1500; the path drops above 1400 */
	run(&p, &w, 200);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, 1400); /* exactly the largest size that works */
	assert_int_equal(w.largest_probe, 1472);
	assert_int_equal(w.lost % KONCE_PMTU_MAX_PROBES, 0); /* each failed size: MAX_PROBES losses */
	assert_int_equal(p.probes_lost, w.lost);
	/* a jumbo interface in front of a 1,280-byte tunnel, IPv6 */
	konce_pmtud_init(&p);
	w = (path){.limit = 1280 - KONCE_PMTU_IPV6_UDP};
	konce_pmtud_start(&p, 9000 - KONCE_PMTU_IPV6_UDP, 0);
	run(&p, &w, 400);
	assert_int_equal(p.plpmtu, 1232);
	/* a path that carries nothing above BASE */
	konce_pmtud_init(&p);
	w = (path){.limit = KONCE_PMTU_BASE};
	konce_pmtud_start(&p, 1472, 0);
	run(&p, &w, 200);
	assert_int_equal(p.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
}

static void test_path_change(void **state)
{
	(void)state;
	konce_pmtud p;
	path w = {.limit = 1472};
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 1472, 0);
	run(&p, &w, 40);
	assert_int_equal(p.plpmtu, 1472);
	/* the peer moves behind a relay: the new path carries 1,200 only */
	konce_pmtud_reset(&p, 1472, w.now);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	w.limit = KONCE_PMTU_BASE;
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	/* and back to a direct 9000-byte path, whose estimate the I/O layer passes in */
	konce_pmtud_reset(&p, 8972, w.now);
	w.limit = 8972;
	run(&p, &w, 40);
	assert_int_equal(p.plpmtu, 8972);
	/* a probe outstanding across the reset is forgotten: its ack grows nothing */
	konce_pmtud_reset(&p, 8972, w.now);
	size_t size = konce_pmtud_probe_due(&p, w.now);
	assert_int_equal(size, KONCE_PMTU_BASE);
	konce_pmtud_probe_sent(&p, size, 1000, w.now, TIMEOUT_US);
	konce_pmtud_reset(&p, 1472, w.now);
	konce_ack a = ack_of(1000);
	assert_false(konce_pmtud_on_ack(&p, &a, w.now));
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
}

static void test_blackhole_after(void **state)
{
	(void)state;
	konce_pmtud p;
	path w = {.limit = 1472};
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 1472, 0);
	run(&p, &w, 40);
	assert_int_equal(p.plpmtu, 1472);
	/* losses of large packets with large ones acked in between: congestion, not a black hole */
	for (int i = 0; i < 10; i++) {
		assert_false(konce_pmtud_on_loss(&p, 2, 0, w.now));
		assert_false(konce_pmtud_on_loss(&p, 0, 1, w.now));
	}
	assert_false(konce_pmtud_on_loss(&p, 5, 3, w.now)); /* acked in the same batch */
	assert_int_equal(p.plpmtu, 1472);
	/* a route change drops everything above 1,300, no ICMP: small packets still pass */
	w.limit = 1300;
	assert_false(konce_pmtud_on_loss(&p, 1, 0, w.now));
	assert_false(konce_pmtud_on_loss(&p, 0, 0, w.now)); /* only small ones settled */
	assert_true(konce_pmtud_on_loss(&p, KONCE_PMTU_BLACKHOLE_LOSSES - 1, 0, w.now));
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE);
	assert_int_equal(p.blackholes, 1);
	/* and the search finds the new size */
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, 1300);
	/* at BASE nothing is large: no black hole to detect */
	konce_pmtud_reset(&p, 1472, w.now);
	assert_false(konce_pmtud_on_loss(&p, 10, 0, w.now));
}

static void test_error_and_raise(void **state)
{
	(void)state;
	konce_pmtud p;
	path w = {.limit = 0}; /* nothing gets through */
	konce_pmtud_init(&p);
	konce_pmtud_start(&p, 1472, 0);
	run(&p, &w, 10);
	assert_int_equal(p.state, KONCE_PMTUD_ERROR);
	assert_int_equal(p.plpmtu, KONCE_PMTU_BASE); /* the floor stays */
	assert_int_equal(w.lost, KONCE_PMTU_MAX_PROBES);
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), 0);
	uint64_t t = konce_pmtud_next_timer(&p, w.now);
	assert_int_equal(t, w.now + (uint64_t)KONCE_PMTU_ERROR_RETRY_MS * 1000);
	w.now = t;
	w.limit = 1400; /* the path came back */
	assert_int_equal(konce_pmtud_probe_due(&p, w.now), KONCE_PMTU_BASE);
	assert_int_equal(p.state, KONCE_PMTUD_BASE);
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, 1400);
	/* SEARCH_COMPLETE below max: the raise timer searches again, and finds a grown path */
	t = konce_pmtud_next_timer(&p, w.now);
	assert_int_equal(t, w.now + (uint64_t)KONCE_PMTU_RAISE_MS * 1000);
	assert_int_equal(konce_pmtud_probe_due(&p, t - 1), 0);
	w.now = t;
	w.limit = 1472;
	run(&p, &w, 200);
	assert_int_equal(p.plpmtu, 1472);
	/* at max, nothing more to raise */
	assert_int_equal(konce_pmtud_next_timer(&p, w.now), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_grow_1500),
		cmocka_unit_test(test_blackhole_1400),
		cmocka_unit_test(test_path_change),
		cmocka_unit_test(test_blackhole_after),
		cmocka_unit_test(test_error_and_raise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
