/* test_candidates.c - mapping classification, port prediction, gathering and target order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/candidates.h"
#include "tests/unit/parse_addr.h"

static void test_classify(void **state)
{
	(void)state;
	konce_addr r[3];
	memset(r, 0, sizeof(r));
	konce_natinfo n = konce_candidates_classify(r, 0);
	assert_int_equal(n.mapping, KONCE_NATMAP_UNKNOWN);
	r[0] = addr("198.51.100.1:5000");
	n = konce_candidates_classify(r, 1);
	assert_int_equal(n.mapping, KONCE_NATMAP_UNKNOWN); /* one rendezvous cannot tell */
	assert_int_equal(n.last_port, 5000);
	r[1] = r[0];
	assert_int_equal(konce_candidates_classify(r, 2).mapping, KONCE_NATMAP_EIM);
	r[1].port = 5001;
	n = konce_candidates_classify(r, 2);
	assert_int_equal(n.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(n.step, 1);
	assert_int_equal(n.last_port, 5001);
	r[0].port = 5003, r[1].port = 5000; /* answers in either order */
	n = konce_candidates_classify(r, 2);
	assert_int_equal(n.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(n.step, 3);
	assert_int_equal(n.last_port, 5003);
	r[1].port = 5000 + KONCE_RDV_SEQ_MAX_STEP + 3 + 1;
	assert_int_equal(konce_candidates_classify(r, 2).mapping, KONCE_NATMAP_EDM_RANDOM);
	r[0].port = 40000, r[1].port = 1200;
	assert_int_equal(konce_candidates_classify(r, 2).mapping, KONCE_NATMAP_EDM_RANDOM);
	/* same port on another public address (address pooling): endpoint-dependent */
	r[0] = addr("198.51.100.1:5000"), r[1] = addr("198.51.100.2:5000");
	assert_int_equal(konce_candidates_classify(r, 2).mapping, KONCE_NATMAP_EDM_RANDOM);
	/* three rendezvous: evenly spaced is sequential, uneven is not */
	r[0].port = 100, r[1].port = 102, r[2] = addr("198.51.100.1:104");
	r[1] = addr("198.51.100.1:102");
	n = konce_candidates_classify(r, 3);
	assert_int_equal(n.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(n.step, 2);
	r[2].port = 105;
	assert_int_equal(konce_candidates_classify(r, 3).mapping, KONCE_NATMAP_EDM_RANDOM);
}

/* Two registrations 2 ports apart with one foreign mapping between them (the lifetime test's
 * socket): the fresh mapping right after them shows the step is 1.  The netsim failure this came
 * from: R1 saw 36182, R2 36184, the filtering socket 36185, and a predicted step of 2 never met the
 * peer's probes. */
static void test_refine(void **state)
{
	(void)state;
	konce_addr r[2] = {addr("198.51.100.1:36182"), addr("198.51.100.1:36184")};
	konce_natinfo n = konce_candidates_classify(r, 2);
	assert_int_equal(n.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(n.step, 2);
	konce_addr x = addr("198.51.100.1:36185");
	konce_natinfo m = konce_candidates_refine(n, &r[0], &x);
	assert_int_equal(m.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(m.step, 1);
	assert_int_equal(m.last_port, 36184); /* the peer predicts from the registrations */
	/* a true step of 2: every later mapping is an even distance away, the step stays */
	x.port = 36188;
	assert_int_equal(konce_candidates_refine(n, &r[0], &x).step, 2);
	/* step 3 and a mapping 2 after: gcd 1 */
	n.step = 3;
	x.port = 36186;
	assert_int_equal(konce_candidates_refine(n, &r[0], &x).step, 1);
	n.step = 2;
	/* nothing learned from an older port, another address, one too far, or a non-sequential NAT */
	x.port = 36183;
	assert_int_equal(konce_candidates_refine(n, &r[0], &x).step, 2);
	x = addr("198.51.100.2:36185");
	assert_int_equal(konce_candidates_refine(n, &r[0], &x).step, 2);
	x = addr("198.51.100.1:36184");
	x.port = (uint16_t)(36184 + KONCE_PREDICT_WINDOW * KONCE_RDV_SEQ_MAX_STEP + 1);
	assert_int_equal(konce_candidates_refine(n, &r[0], &x).step, 2);
	x.port = (uint16_t)(36184 + KONCE_PREDICT_WINDOW * KONCE_RDV_SEQ_MAX_STEP - 1);
	assert_int_equal(konce_candidates_refine(n, &r[0], &x).step, 1);
	konce_natinfo e = {KONCE_NATMAP_EIM, 0, 36184};
	x.port = 36185;
	konce_natinfo f = konce_candidates_refine(e, &r[0], &x);
	assert_memory_equal(&f, &e, sizeof(e));
	e.mapping = KONCE_NATMAP_EDM_RANDOM;
	f = konce_candidates_refine(e, &r[0], &x);
	assert_memory_equal(&f, &e, sizeof(e));
}

/* Three samples: registrations p, p+2 (one other mapping between them: step read 2), the lifetime
 * probe socket's mapping p+3 and the filtering socket's p+4.  p+4 alone keeps step 2; with p+3 the
 * step is 1.  A true step of 2 (p, p+2, p+4, p+6) stays 2 whatever the order of the samples. */
static void test_refine_all(void **state)
{
	(void)state;
	konce_addr r[2] = {addr("198.51.100.1:40000"), addr("198.51.100.1:40002")};
	konce_natinfo n = konce_candidates_classify(r, 2);
	assert_int_equal(n.step, 2);
	konce_addr x[2] = {addr("198.51.100.1:40004"), addr("198.51.100.1:40003")};
	assert_int_equal(konce_candidates_refine_all(n, &r[0], x, 1).step, 2); /* the gap: fresh alone */
	konce_natinfo m = konce_candidates_refine_all(n, &r[0], x, 2);
	assert_int_equal(m.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(m.step, 1);
	assert_int_equal(m.last_port, 40002);
	assert_int_equal(konce_candidates_refine_all(n, &r[0], &x[1], 1).step, 1);
	konce_addr y[2] = {addr("198.51.100.1:40006"), addr("198.51.100.1:40004")};
	assert_int_equal(konce_candidates_refine_all(n, &r[0], y, 2).step, 2);
	/* a sample through another address (another NAT) proves nothing */
	konce_addr z[2] = {addr("198.51.100.1:40004"), addr("198.51.100.7:40003")};
	assert_int_equal(konce_candidates_refine_all(n, &r[0], z, 2).step, 2);
	assert_int_equal(konce_candidates_refine_all(n, &r[0], NULL, 0).step, 2);
}

static void test_predict(void **state)
{
	(void)state;
	konce_addr ip = addr("198.51.100.1:1"), out[KONCE_PREDICT_WINDOW];
	konce_natinfo n = {KONCE_NATMAP_EDM_SEQ, 2, 5001};
	assert_int_equal(konce_candidates_predict(out, 4, &n, &ip), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(out[i].port, 5001 + 2 * (i + 1));
		assert_memory_equal(out[i].ip, ip.ip, 16);
	}
	n.last_port = 65533; /* the top of the port space: stop rather than wrap to an unknown base */
	assert_int_equal(konce_candidates_predict(out, 4, &n, &ip), 1);
	assert_int_equal(out[0].port, 65535);
	n.mapping = KONCE_NATMAP_EDM_RANDOM;
	assert_int_equal(konce_candidates_predict(out, 4, &n, &ip), 0);
	n.mapping = KONCE_NATMAP_EIM;
	assert_int_equal(konce_candidates_predict(out, 4, &n, &ip), 0);
}

static void test_gather(void **state)
{
	(void)state;
	konce_addr host[2] = {addr("10.0.0.2:7000"), addr("203.0.113.5:7000")};
	konce_addr refl[2] = {addr("203.0.113.5:7000"), addr("198.51.100.9:7000")};
	konce_addr mapped[1] = {addr("198.51.100.9:30000")};
	konce_cand c[8];
	unsigned n = konce_candidates_gather(c, 8, host, 2, refl, 2, mapped, 1);
	assert_int_equal(n, 4); /* the public host address is not repeated as reflexive */
	assert_int_equal(c[0].type, KONCE_CAND_HOST);
	assert_int_equal(c[1].type, KONCE_CAND_HOST);
	assert_int_equal(c[2].type, KONCE_CAND_MAPPED);
	assert_int_equal(c[3].type, KONCE_CAND_REFLEXIVE);
	assert_true(konce_addr_eq(&c[3].addr, &refl[1]));
	assert_int_equal(konce_candidates_gather(c, 2, host, 2, refl, 2, mapped, 1), 2);
}

static bool same_targets(const konce_target *a, const konce_target *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i].sock != b[i].sock || a[i].type != b[i].type || !konce_addr_eq(&a[i].addr, &b[i].addr))
			return false;
	return true;
}

static void test_target_order(void **state)
{
	(void)state;
	konce_cand c[4] = {{KONCE_CAND_REFLEXIVE, addr("198.51.100.7:4001")},
			   {KONCE_CAND_HOST, addr("10.0.0.9:7000")},
			   {KONCE_CAND_REFLEXIVE, addr("198.51.100.7:4002")},
			   {KONCE_CAND_MAPPED, addr("198.51.100.7:30000")}};
	konce_natinfo eim = {KONCE_NATMAP_EIM, 0, 4002}, seq = {KONCE_NATMAP_EDM_SEQ, 1, 4002};
	konce_target t[KONCE_CAND_MAX_TARGETS];
	unsigned n = konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &eim, NULL, 0);
	assert_int_equal(n, 4);
	assert_int_equal(t[0].type, KONCE_CAND_HOST);
	assert_int_equal(t[1].type, KONCE_CAND_MAPPED);
	assert_int_equal(t[2].type, KONCE_CAND_REFLEXIVE);
	assert_int_equal(t[2].addr.port, 4001);
	/* a sequential peer: the predicted window comes before the reflexive addresses */
	n = konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &seq, NULL, 0);
	assert_int_equal(n, 4 + KONCE_PREDICT_WINDOW);
	for (unsigned i = 0; i < KONCE_PREDICT_WINDOW; i++) {
		assert_int_equal(t[2 + i].type, KONCE_CAND_PREDICTED);
		assert_int_equal(t[2 + i].addr.port, 4003 + i);
		assert_int_equal(t[2 + i].sock, 0);
	}
	assert_int_equal(t[2 + KONCE_PREDICT_WINDOW].type, KONCE_CAND_REFLEXIVE);
	/* our own NAT EIM (no port shifts on our side): the same order */
	konce_target u[KONCE_CAND_MAX_TARGETS];
	assert_int_equal(konce_candidates_targets(u, KONCE_CAND_MAX_TARGETS, c, 4, &seq, &eim, 0), n);
	assert_true(same_targets(u, t, n));
	/* both EDM, the peer sequential: the window first, so that each side's first new mappings
	 * are made toward the other's predicted ports; then host, mapped, reflexive */
	konce_natinfo self_seq = {KONCE_NATMAP_EDM_SEQ, 1, 20000}, self_rnd = {KONCE_NATMAP_EDM_RANDOM, 0, 0};
	n = konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &seq, &self_seq, 0);
	assert_int_equal(n, 4 + KONCE_PREDICT_WINDOW);
	for (unsigned i = 0; i < KONCE_PREDICT_WINDOW; i++) {
		assert_int_equal(t[i].type, KONCE_CAND_PREDICTED);
		assert_int_equal(t[i].addr.port, 4003 + i);
	}
	assert_int_equal(t[KONCE_PREDICT_WINDOW].type, KONCE_CAND_HOST);
	assert_int_equal(t[KONCE_PREDICT_WINDOW + 1].type, KONCE_CAND_MAPPED);
	assert_int_equal(t[KONCE_PREDICT_WINDOW + 2].type, KONCE_CAND_REFLEXIVE);
	assert_int_equal(t[KONCE_PREDICT_WINDOW + 2].addr.port, 4001);
	assert_int_equal(konce_candidates_targets(u, KONCE_CAND_MAX_TARGETS, c, 4, &seq, &self_rnd, 0), n);
	assert_true(same_targets(u, t, n));
	/* our sequential NAT spent a port since its registration: skip one of the peer's ports too */
	n = konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &seq, &self_seq, 1);
	assert_int_equal(n, 4 + KONCE_PREDICT_WINDOW);
	for (unsigned i = 0; i < KONCE_PREDICT_WINDOW; i++)
		assert_int_equal(t[i].addr.port, 4004 + i);
	/* only our own sequential allocator shifts; the skip is bounded by the window */
	assert_int_equal(konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &seq, &self_rnd, 5), n);
	assert_int_equal(t[0].addr.port, 4003);
	assert_int_equal(konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &seq, &self_seq, 1000), n);
	assert_int_equal(t[0].addr.port, 4003 + KONCE_PREDICT_WINDOW);
	/* a non-sequential peer has no window: the usual order whatever our NAT */
	assert_int_equal(konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &eim, &self_seq, 0), 4);
	assert_int_equal(t[0].type, KONCE_CAND_HOST);
	/* bounded by cap */
	assert_int_equal(konce_candidates_targets(t, 3, c, 4, &seq, NULL, 0), 3);
	/* add_target de-duplicates by (sock, addr) */
	konce_target x = {0, c[1].addr, KONCE_CAND_PEER_REFLEXIVE};
	n = 4;
	konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, c, 4, &eim, NULL, 0);
	assert_false(konce_candidates_add_target(t, &n, KONCE_CAND_MAX_TARGETS, &x));
	x.sock = 3;
	assert_true(konce_candidates_add_target(t, &n, KONCE_CAND_MAX_TARGETS, &x));
	assert_int_equal(n, 5);
	assert_false(konce_candidates_add_target(t, &n, 5, &(konce_target){0, addr("1.2.3.4:5"), 1}));
}

/* The rule against the table in docs/TRAVERSAL.md "What happens for each NAT pair", and its
 * symmetry: both sides of an INTRO must reach the same answer. */
static void test_direct_expectation(void **state)
{
	(void)state;
	enum { U = KONCE_NATMAP_UNKNOWN, EIM = KONCE_NATMAP_EIM, SEQ = KONCE_NATMAP_EDM_SEQ,
	       RND = KONCE_NATMAP_EDM_RANDOM };
	enum { X = KONCE_CAND_DIRECT_EXPECTED, B = KONCE_CAND_DIRECT_BIRTHDAY, I = KONCE_CAND_DIRECT_IMPOSSIBLE,
	       Q = KONCE_CAND_DIRECT_UNKNOWN };
	static const struct {
		uint8_t a, b;
		int want;
	} table[] = {
		{EIM, EIM, X}, /* both EIM: direct */
		{EIM, SEQ, X}, /* EIM vs EDM sequential: prediction */
		{EIM, RND, B}, /* EIM vs EDM random: birthday (filtering is not in the INTRO) */
		{SEQ, SEQ, X}, /* EDM seq vs EDM seq: prediction both ways */
		{SEQ, RND, I}, /* EDM random vs any EDM: relay */
		{RND, RND, I},
		{U, RND, Q},   /* unknown: no claim, the relay at once beside the punch */
		{U, EIM, Q},
		{U, U, Q},
	};
	konce_cand refl = {KONCE_CAND_REFLEXIVE, addr("198.51.100.1:5000")};
	konce_cand other = {KONCE_CAND_REFLEXIVE, addr("203.0.113.7:5000")}; /* another public IP */
	konce_cand mapped[2] = {refl, {KONCE_CAND_MAPPED, addr("198.51.100.1:6000")}};
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		konce_natinfo a = {table[i].a, 1, 5000}, b = {table[i].b, 1, 7000};
		assert_int_equal(konce_candidates_direct_expectation(&a, &refl, 1, &b, &other, 1), table[i].want);
		assert_int_equal(konce_candidates_direct_expectation(&b, &other, 1, &a, &refl, 1), table[i].want);
		assert_int_equal(konce_candidates_direct_expectation(&a, NULL, 0, &b, NULL, 0), table[i].want);
		/* one public IP on both sides (a shared CGNAT), no host candidate: the relay first,
		 * whatever the mappings, seen alike from both; a host candidate on either side, or
		 * another IP, leaves the table's answer */
		if (table[i].a != U && table[i].b != U) {
			konce_cand ra = {KONCE_CAND_REFLEXIVE, addr("198.51.100.1:5000")};
			konce_cand rb = {KONCE_CAND_REFLEXIVE, addr("198.51.100.1:7000")};
			konce_cand rc = {KONCE_CAND_REFLEXIVE, addr("198.51.100.2:7000")};
			konce_cand hb[2] = {rb, {KONCE_CAND_HOST, addr("10.2.0.2:7807")}};
			assert_int_equal(konce_candidates_direct_expectation(&a, &ra, 1, &b, &rb, 1), Q);
			assert_int_equal(konce_candidates_direct_expectation(&b, &rb, 1, &a, &ra, 1), Q);
			assert_int_equal(konce_candidates_direct_expectation(&a, &ra, 1, &b, hb, 2), table[i].want);
			assert_int_equal(konce_candidates_direct_expectation(&b, hb, 2, &a, &ra, 1), table[i].want);
			assert_int_equal(konce_candidates_direct_expectation(&a, &ra, 1, &b, &rc, 1), table[i].want);
		}
		/* a port mapping on either side: direct expected, seen alike from both */
		assert_int_equal(konce_candidates_direct_expectation(&a, mapped, 2, &b, &refl, 1), X);
		assert_int_equal(konce_candidates_direct_expectation(&b, &refl, 1, &a, mapped, 2), X);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_refine),
		cmocka_unit_test(test_refine_all),
		cmocka_unit_test(test_predict),
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_target_order),
		cmocka_unit_test(test_direct_expectation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
