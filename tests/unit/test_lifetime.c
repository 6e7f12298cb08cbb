/* test_lifetime.c - the mapping lifetime search (nat/lifetime.c) and the rendezvous's delayed
 * probes (nat/lifesrv.c), driven by hand against a toy NAT with a given lifetime. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/lifesrv.h"
#include "nat/lifetime.h"
#include "nat/rdvwire.h"
#include "tests/unit/testenv.h"

#define MS 1000ULL
#define SEC 1000000ULL

/* A client, a rendezvous and between them a NAT whose mapping dies `life` after the last packet
 * that crossed it (either way).  drop_probes / drop_acks / drop_reqs lose the next n of each. */
struct rig {
	test_env env;
	konce_lifetime *l;
	konce_lifesrv *s;
	uint64_t now, life, last_cross;
	bool mapped;
	konce_addr client;
	unsigned drop_probes, drop_acks, drop_reqs, probes_seen, reqs_seen;
};

static void rig_init(struct rig *r, uint64_t life, const konce_lifetime_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	test_env_init(&r->env, 7);
	konce_lifetime_cfg c = cfg ? *cfg : (konce_lifetime_cfg){0};
	c.env = &r->env.env;
	assert_int_equal(konce_lifetime_new(&r->l, &c, 0), 0);
	konce_lifesrv_cfg sc = {.env = &r->env.env, .queue = 16};
	assert_int_equal(konce_lifesrv_new(&r->s, &sc), 0);
	r->life = life;
	assert_int_equal(konce_addr_parse(&r->client, "198.51.100.7:40000"), 0);
}

static void rig_free(struct rig *r)
{
	konce_lifetime_free(r->l);
	konce_lifesrv_free(r->s);
	assert_int_equal(r->env.allocs, r->env.frees);
}

static bool nat_alive(struct rig *r) { return r->mapped && r->now - r->last_cross < r->life; }

static void rig_pump(struct rig *r)
{
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	konce_addr to;
	while (konce_lifetime_poll(r->l, buf, &len)) {
		r->reqs_seen++;
		if (r->drop_reqs) {
			r->drop_reqs--;
			continue;
		}
		if (!nat_alive(r))
			r->mapped = true; /* a new mapping (same port: the toy NAT preserves it) */
		r->last_cross = r->now;
		konce_lifesrv_input(r->s, buf, len, &r->client, r->now);
	}
	while (konce_lifesrv_poll(r->s, buf, &len, &to)) {
		assert_true(konce_addr_eq(&to, &r->client));
		bool probe = buf[0] == KONCE_RDV_LIFE_PROBE;
		unsigned *drop = probe ? &r->drop_probes : &r->drop_acks;
		if (*drop) {
			(*drop)--;
			continue;
		}
		if (!nat_alive(r))
			continue; /* the NAT dropped it */
		r->last_cross = r->now;
		r->probes_seen += probe;
		konce_lifetime_input(r->l, buf, len, r->now);
	}
}

static void rig_run(struct rig *r, uint64_t until)
{
	rig_pump(r);
	for (;;) {
		uint64_t a = konce_lifetime_next_timer(r->l), b = konce_lifesrv_next_timer(r->s);
		uint64_t t = a < b ? a : b;
		if (t > until)
			break;
		r->now = t > r->now ? t : r->now;
		konce_lifesrv_timer(r->s, r->now);
		konce_lifetime_timer(r->l, r->now);
		rig_pump(r);
	}
	r->now = until;
}

static konce_lifetime_status status(const struct rig *r)
{
	konce_lifetime_status st;
	konce_lifetime_status_get(r->l, &st);
	return st;
}

/* Converges inside the true lifetime for NATs across and beyond the bounds. */
static void test_converges(void **state)
{
	(void)state;
	static const uint64_t lives[] = {12, 20, 30, 45, 60, 90, 120, 180, 299};
	for (unsigned i = 0; i < sizeof(lives) / sizeof(lives[0]); i++) {
		struct rig r;
		rig_init(&r, lives[i] * SEC, NULL);
		assert_int_equal(konce_lifetime_keepalive(r.l), 15 * SEC); /* 75% of the 20 s start */
		rig_run(&r, 3600 * SEC);
		konce_lifetime_status st = status(&r);
		assert_true(st.learned); /* LEARNED, or revalidating */
		assert_true(st.lo_us <= lives[i] * SEC);
		assert_true(st.lo_us >= lives[i] * SEC * 3 / 4);
		assert_true(!st.hi_us || st.hi_us >= lives[i] * SEC);
		assert_int_equal(st.keepalive_us, st.lo_us * 75 / 100);
		bool busy = st.state == KONCE_LIFE_REQUEST || st.state == KONCE_LIFE_SILENT;
		assert_int_equal(st.failures + st.successes + st.retries + busy, st.experiments);
		rig_free(&r);
	}
}

static void test_above_and_below_bounds(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 1000 * SEC, NULL);
	rig_run(&r, 3600 * SEC);
	konce_lifetime_status st = status(&r);
	assert_true(st.learned && !st.below_min);
	assert_int_equal(st.lo_us, 300 * SEC); /* capped at max */
	assert_int_equal(st.keepalive_us, 225 * SEC);
	assert_int_equal(st.failures, 0);
	rig_free(&r);

	rig_init(&r, 6 * SEC, NULL);
	rig_run(&r, 3600 * SEC);
	st = status(&r);
	assert_true(st.learned && st.below_min);
	assert_int_equal(st.lo_us, 0);
	assert_int_equal(st.hi_us, 10 * SEC);
	assert_int_equal(st.keepalive_us, 5 * SEC); /* min / 2 */
	rig_free(&r);
}

/* Every copy of one probe lost: the repetition at the same T tells loss from expiry. */
static void test_probe_loss_is_not_expiry(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 100 * SEC, NULL);
	r.drop_probes = KONCE_LIFE_COPIES; /* the first experiment (T = 20 s) hears nothing */
	rig_run(&r, 3600 * SEC);
	konce_lifetime_status st = status(&r);
	assert_true(st.learned);
	assert_true(st.retries >= 1);
	assert_true(st.lo_us >= 75 * SEC && st.lo_us <= 100 * SEC);
	rig_free(&r);

	/* one copy lost out of three: no retry needed, the gap is still proven */
	rig_init(&r, 100 * SEC, NULL);
	r.drop_probes = 1;
	rig_run(&r, 25 * SEC);
	st = status(&r);
	assert_int_equal(st.successes, 1);
	assert_int_equal(st.retries, 0);
	assert_true(st.lo_us >= 20 * SEC);
	rig_free(&r);
}

/* A lost ACK: the probe still counts; a lost REQ: wait out its probes, then ask again. */
static void test_ack_and_request_loss(void **state)
{
	(void)state;
	struct rig r;
	konce_addr x;
	rig_init(&r, 100 * SEC, NULL);
	r.drop_acks = 1;
	rig_run(&r, 1 * SEC);
	/* the probe socket's mapping is known only from an ACK (a probe does not carry it) */
	assert_int_equal(konce_lifetime_mapping(r.l, &x), -ENOENT);
	rig_run(&r, 21 * SEC);
	konce_lifetime_status st = status(&r);
	assert_int_equal(st.no_acks, 1);
	/* the next REQ (right after the probe) was ACKed with the source the rendezvous saw */
	assert_int_equal(konce_lifetime_mapping(r.l, &x), 0);
	assert_true(konce_addr_eq(&x, &r.client));
	/* the REQ reached the rendezvous; its probe came while we were waiting it out */
	assert_int_equal(st.successes, 1);
	rig_free(&r);

	rig_init(&r, 100 * SEC, NULL);
	r.drop_reqs = 1;
	rig_run(&r, 2 * SEC + 1);
	st = status(&r);
	assert_int_equal(st.no_acks, 1);
	assert_int_equal(st.state, KONCE_LIFE_WAIT);
	/* invariant 3: not before the last copy of the lost REQ's probes could have come */
	assert_true(konce_lifetime_next_timer(r.l) > 20 * SEC + (KONCE_LIFE_COPIES - 1) * KONCE_LIFE_COPY_GAP_MS * MS);
	assert_int_equal(r.reqs_seen, 1);
	rig_run(&r, 3600 * SEC);
	assert_true(status(&r).learned);
	rig_free(&r);
}

/* A rendezvous that never answers: NO_ANSWER after four requests, the keepalive untouched. */
static void test_no_answer(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 100 * SEC, NULL);
	r.drop_reqs = 1000;
	rig_run(&r, 200 * SEC);
	konce_lifetime_status st = status(&r);
	assert_int_equal(st.state, KONCE_LIFE_NO_ANSWER);
	assert_int_equal(r.reqs_seen, 4);
	assert_int_equal(st.keepalive_us, 15 * SEC);
	assert_int_equal(konce_lifetime_next_timer(r.l) - r.now > 300 * SEC, true);
	rig_free(&r);
}

/* Probes with a foreign nonce, the wrong type or malformed bytes change nothing. */
static void test_forged_probes(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 100 * SEC, NULL);
	rig_run(&r, 1 * SEC); /* REQ sent, ACK heard: SILENT */
	assert_int_equal(status(&r).state, KONCE_LIFE_SILENT);
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	konce_rdvwire_msg m = {.type = KONCE_RDV_LIFE_PROBE, .id = 12345, .value = 20000};
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	konce_lifetime_input(r.l, buf, len, r.now);
	m.type = KONCE_RDV_LIFE_REQ;
	len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	konce_lifetime_input(r.l, buf, len, r.now);
	konce_lifetime_input(r.l, buf, 3, r.now);
	konce_lifetime_status st = status(&r);
	assert_int_equal(st.state, KONCE_LIFE_SILENT);
	assert_int_equal(st.successes, 0);
	assert_int_equal(st.lo_us, 0);
	rig_free(&r);
}

/* Rebinding: back to the conservative keepalive, then the search again. */
static void test_rebound(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 60 * SEC, NULL);
	rig_run(&r, 3600 * SEC);
	konce_lifetime_status st = status(&r);
	assert_true(st.learned);
	uint64_t lo = st.lo_us;
	assert_true(st.keepalive_us > 30 * SEC);
	/* the NAT rebooted into one with a 25 s timeout */
	r.life = 25 * SEC;
	konce_lifetime_rebound(r.l, r.now);
	st = status(&r);
	assert_false(st.learned);
	assert_int_equal(st.hi_us, lo);
	assert_true(st.keepalive_us <= 15 * SEC);
	rig_run(&r, r.now + 3600 * SEC);
	st = status(&r);
	assert_true(st.learned);
	assert_true(st.lo_us <= 25 * SEC && st.lo_us >= 18 * SEC);
	assert_int_equal(st.rebounds, 1);
	rig_free(&r);
}

/* Revalidation: a NAT whose timeout shrank is caught at the next revalidation. */
static void test_revalidation(void **state)
{
	(void)state;
	struct rig r;
	konce_lifetime_cfg c = {.revalidate_us = 120 * SEC};
	rig_init(&r, 90 * SEC, &c);
	rig_run(&r, 3600 * SEC);
	assert_true(status(&r).learned);
	uint64_t exp = status(&r).experiments;
	rig_run(&r, r.now + 600 * SEC);
	assert_true(status(&r).experiments > exp); /* revalidated, still fine */
	assert_true(status(&r).learned);
	assert_true(status(&r).lo_us >= 67 * SEC);
	r.life = 30 * SEC;
	rig_run(&r, r.now + 3600 * SEC);
	konce_lifetime_status st = status(&r);
	assert_true(st.learned);
	assert_true(st.lo_us <= 30 * SEC && st.lo_us >= 22 * SEC);
	rig_free(&r);
}

static void test_bad_config(void **state)
{
	(void)state;
	konce_lifetime *l;
	konce_lifetime_cfg c = {.min_us = 30 * SEC, .max_us = 20 * SEC};
	assert_int_equal(konce_lifetime_new(&l, &c, 0), -EINVAL);
	c = (konce_lifetime_cfg){.safety_pct = 99};
	assert_int_equal(konce_lifetime_new(&l, &c, 0), -EINVAL);
	c = (konce_lifetime_cfg){.max_us = 3600 * SEC};
	assert_int_equal(konce_lifetime_new(&l, &c, 0), -EINVAL);
	c = (konce_lifetime_cfg){.min_us = 3 * SEC, .max_us = 24 * SEC, .start_us = 100 * SEC};
	assert_int_equal(konce_lifetime_new(&l, &c, 0), 0);
	konce_lifetime_status st;
	konce_lifetime_status_get(l, &st);
	assert_int_equal(st.testing_us, 24 * SEC); /* start clamped into the bounds */
	konce_lifetime_free(l);
}

/* The rendezvous side: ACK at once, copies at T, T + 200 ms, T + 400 ms, in due order; capped
 * delay; busy when full; per-source limit; never more bytes out than in. */
static void test_server(void **state)
{
	(void)state;
	test_env env;
	test_env_init(&env, 3);
	konce_lifesrv *s;
	konce_lifesrv_cfg cfg = {.env = &env.env, .queue = 4};
	assert_int_equal(konce_lifesrv_new(&s, &cfg), 0);
	konce_addr a[6];
	for (unsigned i = 0; i < 6; i++) {
		char txt[32];
		snprintf(txt, sizeof(txt), "203.0.113.%u:5000", i + 1);
		assert_int_equal(konce_addr_parse(&a[i], txt), 0);
	}
	uint8_t req[KONCE_LIFE_REQ_SIZE], out[KONCE_LIFE_ACK_SIZE];
	size_t len, in_bytes = 0, out_bytes = 0;
	konce_addr to;
	konce_rdvwire_msg m, d;
	/* four requests with delays 30, 10, 20, 700 s (capped to 600) fill the queue */
	static const uint32_t delays[] = {30000, 10000, 20000, 700000, 5000};
	for (unsigned i = 0; i < 5; i++) {
		m = (konce_rdvwire_msg){.type = KONCE_RDV_LIFE_REQ, .id = 100 + i, .value = delays[i]};
		len = konce_rdvwire_encode(&m, req, sizeof(req));
		assert_int_equal(len, KONCE_LIFE_REQ_SIZE);
		konce_lifesrv_input(s, req, len, &a[i], 0);
		in_bytes += len;
		assert_true(konce_lifesrv_poll(s, out, &len, &to));
		out_bytes += len;
		assert_true(konce_addr_eq(&to, &a[i]));
		assert_int_equal(konce_rdvwire_decode(&d, out, len), 0);
		assert_int_equal(d.type, KONCE_RDV_LIFE_ACK);
		assert_int_equal(len, KONCE_LIFE_ACK_SIZE);
		assert_true(konce_addr_eq(&d.addr, &a[i])); /* the requester's source, as seen here */
		assert_int_equal(d.id, 100 + i);
		assert_int_equal(d.flags, i == 4 ? KONCE_LIFE_F_BUSY : 0);
		assert_int_equal(d.value, i == 3 ? KONCE_LIFE_MAX_DELAY_MS : delays[i]);
	}
	assert_int_equal(konce_lifesrv_pending(s), 4);
	assert_int_equal(konce_lifesrv_counters(s)->busy, 1);
	assert_int_equal(konce_lifesrv_next_timer(s), 10 * SEC);
	/* in due order: 10 s x3, 20 s x3, 30 s x3, 600 s x3 */
	static const unsigned order[] = {1, 2, 0, 3};
	unsigned got = 0;
	for (uint64_t t = 0; t <= 601 * SEC; t += 100 * MS) {
		konce_lifesrv_timer(s, t);
		while (konce_lifesrv_poll(s, out, &len, &to)) {
			out_bytes += len;
			assert_int_equal(konce_rdvwire_decode(&d, out, len), 0);
			assert_int_equal(d.type, KONCE_RDV_LIFE_PROBE);
			unsigned who = order[got / KONCE_LIFE_COPIES];
			assert_int_equal(d.id, 100 + who);
			assert_int_equal(d.flags, got % KONCE_LIFE_COPIES);
			assert_true(konce_addr_eq(&to, &a[who]));
			assert_int_equal(t, (uint64_t)(who == 3 ? 600000 : delays[who]) * MS +
						    d.flags * KONCE_LIFE_COPY_GAP_MS * MS);
			got++;
		}
	}
	assert_int_equal(got, 4 * KONCE_LIFE_COPIES);
	assert_int_equal(konce_lifesrv_pending(s), 0);
	assert_true(out_bytes <= in_bytes);
	/* per source: a burst of 4, then refused until the bucket refills */
	unsigned answered = 0;
	for (unsigned i = 0; i < 10; i++) {
		m = (konce_rdvwire_msg){.type = KONCE_RDV_LIFE_REQ, .id = 1, .value = 1000};
		len = konce_rdvwire_encode(&m, req, sizeof(req));
		konce_lifesrv_input(s, req, len, &a[5], 700 * SEC);
		while (konce_lifesrv_poll(s, out, &len, &to))
			answered++;
	}
	assert_int_equal(answered, 4);
	assert_int_equal(konce_lifesrv_counters(s)->rate_limited, 6);
	/* not a request: counted, no answer */
	m = (konce_rdvwire_msg){.type = KONCE_RDV_LIFE_PROBE, .id = 1};
	len = konce_rdvwire_encode(&m, req, sizeof(req));
	konce_lifesrv_input(s, req, len, &a[0], 700 * SEC);
	konce_lifesrv_input(s, req, 0, &a[0], 700 * SEC);
	assert_false(konce_lifesrv_poll(s, out, &len, &to));
	assert_int_equal(konce_lifesrv_counters(s)->bad, 2);
	konce_lifesrv_free(s);
	assert_int_equal(env.allocs, env.frees);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges),
		cmocka_unit_test(test_above_and_below_bounds),
		cmocka_unit_test(test_probe_loss_is_not_expiry),
		cmocka_unit_test(test_ack_and_request_loss),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_forged_probes),
		cmocka_unit_test(test_rebound),
		cmocka_unit_test(test_revalidation),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
