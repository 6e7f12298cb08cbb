/* test_filtertest.c - the filtering test core (nat/filtertest.h): the three verdicts, what may not
 * be concluded (no SENT, no second rendezvous IP, no echo), forged tokens and sources, retries,
 * and no allocation after construction. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/filtertest.h"
#include "tests/unit/count_env.h"
#include "tests/unit/parse_addr.h"

#define MS 1000ULL

typedef struct rig {
	count_env ce;
	konce_filtertest *f;
	konce_addr rdv[2], x;
	uint64_t token;
	long allocs;
} rig;

static konce_rdvwire_msg out(rig *g, bool session, unsigned rdv)
{
	konce_filtertest_out o;
	assert_true(konce_filtertest_poll(g->f, &o));
	assert_int_equal(o.session, session);
	assert_int_equal(o.rdv, rdv);
	konce_rdvwire_msg m;
	assert_int_equal(konce_rdvwire_decode(&m, o.buf, o.len), 0);
	assert_int_equal(m.type, KONCE_RDV_FILTER);
	if (!session)
		assert_true(konce_addr_eq(&o.to, &g->rdv[rdv]));
	return m;
}

static void bare(rig *g, uint8_t op, uint64_t token, const konce_addr *a, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_FILTER, .flags = op, .id = token};
	if (a)
		m.addr = *a;
	uint8_t b[KONCE_FILT_SIZE];
	size_t n = konce_rdvwire_encode(&m, b, sizeof(b));
	assert_true(n > 0);
	konce_filtertest_input_bare(g->f, b, n, from, now);
}

static void sent(rig *g, unsigned i, uint64_t token, uint64_t now)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_SENT, .id = token};
	uint8_t b[KONCE_FILT_SIZE];
	size_t n = konce_rdvwire_encode(&m, b, sizeof(b));
	konce_filtertest_input_session(g->f, i, b, n, now);
}

/* Up to the asks: echo requested, answered with X; returns after both ASKs were polled. */
static void to_probing(rig *g, unsigned nrdv)
{
	count_env_init(&g->ce, 3);
	g->rdv[0] = addr("203.0.113.10:7807");
	g->rdv[1] = addr("203.0.113.11:7807");
	g->x = addr("198.51.100.7:40000");
	assert_int_equal(konce_filtertest_new(&g->f, &g->ce.env, g->rdv, nrdv, 0), 0);
	g->allocs = g->ce.allocs;
	assert_int_equal(konce_filtertest_state(g->f), KONCE_FILTERTEST_ECHO);
	konce_filtertest_timer(g->f, 0);
	konce_rdvwire_msg m = out(g, false, 0);
	assert_int_equal(m.flags, KONCE_FILT_OP_ECHO_REQ);
	g->token = m.id;
	/* an echo with another token, or from elsewhere, is ignored */
	bare(g, KONCE_FILT_OP_ECHO, g->token + 2, &g->x, &g->rdv[0], 10 * MS);
	bare(g, KONCE_FILT_OP_ECHO, g->token, &g->x, &g->rdv[1], 10 * MS);
	assert_int_equal(konce_filtertest_state(g->f), KONCE_FILTERTEST_ECHO);
	bare(g, KONCE_FILT_OP_ECHO, g->token, &g->x, &g->rdv[0], 10 * MS);
	assert_int_equal(konce_filtertest_state(g->f), KONCE_FILTERTEST_PROBING);
	if (nrdv > 1) {
		m = out(g, true, 1);
		assert_int_equal(m.flags, KONCE_FILT_OP_ASK);
		assert_true(konce_addr_eq(&m.addr, &g->x));
	}
	m = out(g, true, 0);
	assert_int_equal(m.flags, KONCE_FILT_OP_ASK_ALT);
	assert_true(konce_addr_eq(&m.addr, &g->x));
	konce_filtertest_out o;
	assert_false(konce_filtertest_poll(g->f, &o));
}

static void done(rig *g, enum konce_nat_filtering want)
{
	assert_int_equal(konce_filtertest_state(g->f), KONCE_FILTERTEST_DONE);
	assert_int_equal(konce_filtertest_result(g->f), want);
	assert_int_equal(g->ce.allocs, g->allocs);
	konce_filtertest_free(g->f);
	assert_int_equal(g->ce.live, 0);
}

static void test_eif(void **state)
{
	(void)state;
	rig g;
	to_probing(&g, 2);
	konce_addr other = addr("203.0.113.11:7807");
	bare(&g, KONCE_FILT_OP_PROBE, g.token, NULL, &other, 20 * MS);
	done(&g, KONCE_NAT_FILT_EIF); /* at once */
}

static void test_adf(void **state)
{
	(void)state;
	rig g;
	to_probing(&g, 2);
	konce_addr alt = addr("203.0.113.10:51000"), same = g.rdv[0];
	bare(&g, KONCE_FILT_OP_PROBE, g.token, NULL, &same, 20 * MS); /* R0's own port: proves nothing */
	bare(&g, KONCE_FILT_OP_PROBE, g.token, NULL, &alt, 20 * MS);
	sent(&g, 1, g.token, 20 * MS);
	sent(&g, 0, g.token, 20 * MS);
	konce_filtertest_timer(g.f, 1000 * MS);
	assert_int_equal(konce_filtertest_state(g.f), KONCE_FILTERTEST_PROBING);
	konce_filtertest_timer(g.f, 10 * MS + 1500 * MS);
	done(&g, KONCE_NAT_FILT_ADF);
}

static void test_apdf_and_retries(void **state)
{
	(void)state;
	rig g;
	to_probing(&g, 2);
	/* the asks are repeated at +500 and +1000 ms, then the verdict at +1500 ms */
	assert_int_equal(konce_filtertest_next_timer(g.f), 510 * MS);
	konce_filtertest_timer(g.f, 510 * MS);
	assert_int_equal(out(&g, true, 1).flags, KONCE_FILT_OP_ASK);
	assert_int_equal(out(&g, true, 0).flags, KONCE_FILT_OP_ASK_ALT);
	konce_filtertest_timer(g.f, 1010 * MS);
	out(&g, true, 1);
	out(&g, true, 0);
	assert_int_equal(konce_filtertest_next_timer(g.f), 1510 * MS);
	sent(&g, 0, g.token, 1100 * MS);
	sent(&g, 1, g.token + 2, 1100 * MS); /* wrong token */
	/* a probe with a forged token, or from a third IP, counts for nothing */
	konce_addr other = addr("203.0.113.11:7807"), third = addr("192.0.2.1:7807");
	bare(&g, KONCE_FILT_OP_PROBE, g.token + 2, NULL, &other, 1200 * MS);
	bare(&g, KONCE_FILT_OP_PROBE, g.token, NULL, &third, 1200 * MS);
	sent(&g, 1, g.token, 1300 * MS);
	konce_filtertest_timer(g.f, 1510 * MS);
	done(&g, KONCE_NAT_FILT_APDF);
}

static void test_no_conclusion_without_sent(void **state)
{
	(void)state;
	rig g;
	/* nothing arrived and R1 never said it probed: an old rendezvous, not APDF */
	to_probing(&g, 2);
	sent(&g, 0, g.token, 20 * MS);
	konce_filtertest_timer(g.f, 1510 * MS);
	done(&g, KONCE_NAT_FILT_UNKNOWN);
	/* R0's other port got in but R1's probe was never sent: ADF or EIF, so unknown */
	to_probing(&g, 2);
	konce_addr alt = addr("203.0.113.10:51000");
	bare(&g, KONCE_FILT_OP_PROBE, g.token, NULL, &alt, 20 * MS);
	konce_filtertest_timer(g.f, 1510 * MS);
	done(&g, KONCE_NAT_FILT_UNKNOWN);
}

static void test_one_rendezvous(void **state)
{
	(void)state;
	rig g;
	to_probing(&g, 1);
	konce_addr alt = addr("203.0.113.10:51000");
	bare(&g, KONCE_FILT_OP_PROBE, g.token, NULL, &alt, 20 * MS);
	konce_filtertest_timer(g.f, 1510 * MS);
	done(&g, KONCE_NAT_FILT_PORT_INDEPENDENT);
	/* two rendezvous on one IP are one for this test */
	count_env_init(&g.ce, 4);
	konce_addr two[2] = {addr("203.0.113.10:7807"), addr("203.0.113.10:7808")};
	assert_int_equal(konce_filtertest_new(&g.f, &g.ce.env, two, 2, 0), 0);
	konce_filtertest_timer(g.f, 0);
	konce_filtertest_out o;
	assert_true(konce_filtertest_poll(g.f, &o));
	konce_rdvwire_msg m;
	assert_int_equal(konce_rdvwire_decode(&m, o.buf, o.len), 0);
	konce_addr x = addr("198.51.100.7:40000");
	bare(&(rig){.f = g.f}, KONCE_FILT_OP_ECHO, m.id, &x, &two[0], 5 * MS);
	assert_true(konce_filtertest_poll(g.f, &o));
	assert_true(o.session && o.rdv == 0); /* only ASK_ALT */
	assert_false(konce_filtertest_poll(g.f, &o));
	konce_filtertest_free(g.f);
}

static void test_no_echo(void **state)
{
	(void)state;
	rig g;
	count_env_init(&g.ce, 5);
	g.rdv[0] = addr("203.0.113.10:7807");
	assert_int_equal(konce_filtertest_new(&g.f, &g.ce.env, g.rdv, 1, 0), 0);
	g.allocs = g.ce.allocs;
	uint64_t now = 0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(konce_filtertest_next_timer(g.f), now);
		konce_filtertest_timer(g.f, now);
		assert_int_equal(out(&g, false, 0).flags, KONCE_FILT_OP_ECHO_REQ);
		now += 300 * MS;
	}
	konce_filtertest_timer(g.f, now);
	konce_addr x;
	assert_int_equal(konce_filtertest_mapping(g.f, &x), -ENOENT);
	done(&g, KONCE_NAT_FILT_UNKNOWN);
	konce_filtertest *f = (konce_filtertest *)1;
	assert_int_equal(konce_filtertest_new(&f, NULL, g.rdv, 0, 0), -EINVAL);
	assert_null(f);
	assert_string_equal(konce_nat_filtering_name(KONCE_NAT_FILT_APDF), "address-and-port-dependent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eif),
		cmocka_unit_test(test_adf),
		cmocka_unit_test(test_apdf_and_retries),
		cmocka_unit_test(test_no_conclusion_without_sent),
		cmocka_unit_test(test_one_rendezvous),
		cmocka_unit_test(test_no_echo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
