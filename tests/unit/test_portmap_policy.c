/* test_portmap_policy.c - the port-mapping policy: protocol order, leases, renewal, backoff, stop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/portmap_policy.h"
#include "tests/unit/count_env.h"

#define S 1000000ULL /* one second in microseconds */

static count_env cenv;

static konce_portmap_policy *make(konce_portmap_policy_cfg *cfg)
{
	konce_portmap_policy *p;
	count_env_init(&cenv, 7);
	cfg->env = &cenv.env;
	assert_int_equal(konce_portmap_policy_new(&p, cfg), 0);
	return p;
}

static void done(konce_portmap_policy *p)
{
	konce_portmap_policy_free(p);
	assert_int_equal(cenv.live, 0);
}

static konce_addr ext(const char *s)
{
	konce_addr a;
	assert_int_equal(konce_addr_parse(&a, s), 0);
	return a;
}

/* The one request due at now; it must be op on proto. */
static konce_portmap_policy_req expect(konce_portmap_policy *p, uint64_t now, enum konce_portmap_policy_op op, enum konce_portmap_policy_proto proto)
{
	konce_portmap_policy_req r;
	assert_true(konce_portmap_policy_next(p, now, &r));
	assert_int_equal(r.op, op);
	assert_int_equal(r.proto, proto);
	konce_portmap_policy_req again;
	assert_false(konce_portmap_policy_next(p, now, &again)); /* invariant 1: one outstanding */
	assert_int_equal(konce_portmap_policy_wake(p), UINT64_MAX);
	return r;
}

static void answer(konce_portmap_policy *p, uint64_t now, const konce_portmap_policy_req *r, enum konce_portmap_policy_err err, const char *addr,
		   uint32_t life)
{
	konce_portmap_policy_result res;
	memset(&res, 0, sizeof(res));
	res.id = r->id;
	res.err = err;
	if (addr)
		res.external = ext(addr);
	res.lifetime_s = life;
	assert_int_equal(konce_portmap_policy_result_in(p, now, &res), 0);
}

static void expect_event(konce_portmap_policy *p, enum konce_portmap_policy_ev_type t, konce_portmap_policy_event *out)
{
	konce_portmap_policy_event ev;
	assert_true(konce_portmap_policy_event_pop(p, &ev));
	assert_int_equal(ev.type, t);
	if (out)
		*out = ev;
}

/* A policy (cfg) started at 0 whose first discovery, by proto, found the gateway at 11.0.0.10;
 * *r is that DISCOVER. */
static konce_portmap_policy *discovered(konce_portmap_policy_cfg *cfg, enum konce_portmap_policy_proto proto,
					konce_portmap_policy_req *r)
{
	konce_portmap_policy *p = make(cfg);
	konce_portmap_policy_start(p, 0);
	*r = expect(p, 0, KONCE_PM_OP_DISCOVER, proto);
	answer(p, 0, r, KONCE_PM_OK, "11.0.0.10:0", 0);
	return p;
}

static void test_config(void **state)
{
	(void)state;
	konce_portmap_policy *p = NULL;
	konce_portmap_policy_cfg c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(konce_portmap_policy_new(&p, &c), -EINVAL); /* no port */
	c.internal_port = 7807;
	c.protos[0] = 9;
	assert_int_equal(konce_portmap_policy_new(&p, &c), -EINVAL);
	c.protos[0] = c.protos[1] = KONCE_PM_PROTO_UPNP;
	assert_int_equal(konce_portmap_policy_new(&p, &c), -EINVAL); /* twice the same */
	c.protos[1] = 0;
	p = make(&c);
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_IDLE);
	konce_portmap_policy_req r;
	assert_false(konce_portmap_policy_next(p, 0, &r)); /* nothing before start */
	konce_portmap_policy_start(p, 0);
	r = expect(p, 0, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_UPNP); /* only UPnP was asked for */
	answer(p, 0, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
	expect_event(p, KONCE_PM_EV_UNAVAILABLE, NULL);
	done(p);
}

static void test_map_and_renew(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 40000};
	konce_portmap_policy *p = make(&c);
	konce_portmap_policy_event ev;
	konce_portmap_policy_start(p, 0);
	konce_portmap_policy_req r = expect(p, 0, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP); /* NAT-PMP first */
	answer(p, 10, &r, KONCE_PM_OK, "11.0.0.10:0", 0);
	assert_int_equal(konce_portmap_policy_wake(p), 0);
	r = expect(p, 10, KONCE_PM_OP_ADD, KONCE_PM_PROTO_NATPMP);
	assert_int_equal(r.internal_port, 40000);
	assert_int_equal(r.external_port, 40000); /* same port by default */
	assert_int_equal(r.lifetime_s, 7200);     /* RFC 6886's recommended lease */
	assert_false(konce_portmap_policy_mapping(p, NULL, NULL));
	answer(p, 100, &r, KONCE_PM_OK, "11.0.0.10:40001", 3600); /* another port, a shorter lease */
	expect_event(p, KONCE_PM_EV_MAPPED, &ev);
	assert_int_equal(ev.proto, KONCE_PM_PROTO_NATPMP);
	assert_int_equal(ev.external.port, 40001);
	assert_int_equal(ev.lifetime_s, 3600);
	assert_false(ev.changed);
	assert_false(konce_portmap_policy_event_pop(p, &ev));
	konce_addr m;
	enum konce_portmap_policy_proto pr;
	assert_true(konce_portmap_policy_mapping(p, &m, &pr));
	assert_true(konce_addr_eq(&m, &ev.external));
	assert_int_equal(pr, KONCE_PM_PROTO_NATPMP);

	/* renewal at half the granted lifetime, for the granted port */
	assert_int_equal(konce_portmap_policy_wake(p), 100 + 1800 * S);
	assert_false(konce_portmap_policy_next(p, 100 + 1800 * S - 1, &r));
	uint64_t t = 100 + 1800 * S;
	r = expect(p, t, KONCE_PM_OP_RENEW, KONCE_PM_PROTO_NATPMP);
	assert_int_equal(r.external_port, 40001);
	assert_int_equal(r.lifetime_s, 7200);
	assert_true(konce_portmap_policy_mapping(p, NULL, NULL)); /* still held while renewing */
	answer(p, t, &r, KONCE_PM_OK, "11.0.0.10:40001", 3600);
	assert_false(konce_portmap_policy_event_pop(p, &ev)); /* nothing changed: nothing to tell */
	assert_int_equal(konce_portmap_policy_wake(p), t + 1800 * S);

	/* the router's external address moved: MAPPED again, changed */
	t += 1800 * S;
	r = expect(p, t, KONCE_PM_OP_RENEW, KONCE_PM_PROTO_NATPMP);
	answer(p, t, &r, KONCE_PM_OK, "11.0.0.99:40001", 3600);
	expect_event(p, KONCE_PM_EV_MAPPED, &ev);
	assert_true(ev.changed);
	char buf[KONCE_ADDR_STRLEN];
	assert_string_equal(konce_addr_str(&ev.external, buf), "11.0.0.99:40001");

	/* stop deletes the granted port and then nothing more happens */
	konce_portmap_policy_stop(p, t + 5);
	r = expect(p, t + 5, KONCE_PM_OP_DELETE, KONCE_PM_PROTO_NATPMP);
	assert_int_equal(r.external_port, 40001);
	assert_false(konce_portmap_policy_mapping(p, NULL, NULL));
	answer(p, t + 6, &r, KONCE_PM_OK, NULL, 0);
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_STOPPED);
	assert_false(konce_portmap_policy_next(p, UINT64_MAX - 1, &r));
	assert_int_equal(konce_portmap_policy_wake(p), UINT64_MAX);
	konce_portmap_policy_stop(p, t + 7); /* idempotent */
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_STOPPED);
	done(p);
}

static void test_fallback_and_backoff(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 40000, .retry_min_us = 10 * S, .retry_max_us = 35 * S};
	konce_portmap_policy *p = make(&c);
	konce_portmap_policy_event ev;
	konce_portmap_policy_start(p, 0);
	uint64_t t = 0, expect_wait[] = {10 * S, 20 * S, 35 * S, 35 * S};
	for (unsigned i = 0; i < 4; i++) {
		konce_portmap_policy_req r = expect(p, t, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
		answer(p, t, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
		assert_false(konce_portmap_policy_event_pop(p, &ev)); /* UPnP is still to be tried */
		r = expect(p, t, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_UPNP);
		t += 2 * S;
		answer(p, t, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
		expect_event(p, KONCE_PM_EV_UNAVAILABLE, &ev);
		assert_int_equal(ev.reason, KONCE_PM_ERR_NO_GATEWAY);
		assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_BACKOFF);
		assert_int_equal(konce_portmap_policy_wake(p), t + expect_wait[i]); /* doubling, capped */
		assert_false(konce_portmap_policy_next(p, t + expect_wait[i] - 1, &r));
		t += expect_wait[i];
	}
	/* this time NAT-PMP answers but refuses the mapping, and UPnP grants it */
	konce_portmap_policy_req r = expect(p, t, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
	answer(p, t, &r, KONCE_PM_OK, "11.0.0.10:0", 0);
	r = expect(p, t, KONCE_PM_OP_ADD, KONCE_PM_PROTO_NATPMP);
	answer(p, t, &r, KONCE_PM_ERR_REFUSED, NULL, 0);
	r = expect(p, t, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_UPNP);
	answer(p, t, &r, KONCE_PM_OK, "11.0.0.10:0", 0);
	r = expect(p, t, KONCE_PM_OP_ADD, KONCE_PM_PROTO_UPNP);
	answer(p, t, &r, KONCE_PM_OK, "11.0.0.10:40000", 60);
	expect_event(p, KONCE_PM_EV_MAPPED, &ev);
	assert_int_equal(ev.proto, KONCE_PM_PROTO_UPNP);
	/* a refused NAT-PMP ADD left nothing to delete; stop deletes only the UPnP lease */
	konce_portmap_policy_stop(p, t);
	r = expect(p, t, KONCE_PM_OP_DELETE, KONCE_PM_PROTO_UPNP);
	answer(p, t, &r, KONCE_PM_ERR_IO, NULL, 0); /* even a failed delete ends the cycle */
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_STOPPED);
	done(p);
}

static void test_backoff_resets_after_mapping(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 5000, .protos = {KONCE_PM_PROTO_NATPMP}, .retry_min_us = 10 * S};
	konce_portmap_policy *p = make(&c);
	konce_portmap_policy_start(p, 0);
	konce_portmap_policy_req r = expect(p, 0, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
	answer(p, 0, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
	r = expect(p, 10 * S, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
	answer(p, 10 * S, &r, KONCE_PM_OK, "11.0.0.10:0", 0);
	r = expect(p, 10 * S, KONCE_PM_OP_ADD, KONCE_PM_PROTO_NATPMP);
	answer(p, 10 * S, &r, KONCE_PM_OK, "11.0.0.10:5000", 4);
	konce_portmap_policy_reset(p, 11 * S); /* network change: lost, deleted, rediscovered */
	konce_portmap_policy_event ev;
	expect_event(p, KONCE_PM_EV_UNAVAILABLE, NULL);
	expect_event(p, KONCE_PM_EV_MAPPED, NULL);
	expect_event(p, KONCE_PM_EV_LOST, NULL);
	r = expect(p, 11 * S, KONCE_PM_OP_DELETE, KONCE_PM_PROTO_NATPMP);
	assert_int_equal(r.external_port, 5000);
	answer(p, 11 * S, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
	r = expect(p, 11 * S, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
	answer(p, 12 * S, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
	expect_event(p, KONCE_PM_EV_UNAVAILABLE, &ev);
	assert_int_equal(konce_portmap_policy_wake(p), 22 * S); /* back to the minimum, not 20 s */
	done(p);
}

static void test_conflict_and_permanent(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 7807, .external_port = 9000, .lifetime_s = 600,
			  .protos = {KONCE_PM_PROTO_UPNP}, .permanent_refresh_us = 60 * S};
	konce_portmap_policy_req r;
	konce_portmap_policy *p = discovered(&c, KONCE_PM_PROTO_UPNP, &r);
	konce_portmap_policy_event ev;
	r = expect(p, 0, KONCE_PM_OP_ADD, KONCE_PM_PROTO_UPNP);
	assert_int_equal(r.external_port, 9000);
	assert_int_equal(r.lifetime_s, 600);
	answer(p, 0, &r, KONCE_PM_ERR_CONFLICT, NULL, 0);
	r = expect(p, 0, KONCE_PM_OP_ADD, KONCE_PM_PROTO_UPNP);
	uint16_t second = r.external_port;
	assert_true(second >= 1024 && second != 9000); /* a random unprivileged port */
	answer(p, 0, &r, KONCE_PM_ERR_PERMANENT_ONLY, NULL, 0);
	r = expect(p, 0, KONCE_PM_OP_ADD, KONCE_PM_PROTO_UPNP);
	assert_int_equal(r.external_port, second);
	assert_int_equal(r.lifetime_s, 0); /* the IGD takes only permanent leases */
	answer(p, 0, &r, KONCE_PM_OK, "11.0.0.10:0", 0); /* port 0 in the answer: keep the one asked */
	expect_event(p, KONCE_PM_EV_MAPPED, &ev);
	assert_int_equal(ev.external.port, second);
	assert_int_equal(ev.lifetime_s, 0);
	/* a permanent lease is re-added every refresh interval, and never expires on its own */
	assert_int_equal(konce_portmap_policy_wake(p), 60 * S);
	r = expect(p, 60 * S, KONCE_PM_OP_RENEW, KONCE_PM_PROTO_UPNP);
	assert_int_equal(r.lifetime_s, 0);
	answer(p, 60 * S, &r, KONCE_PM_ERR_IO, NULL, 0);
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_MAPPED);
	assert_true(konce_portmap_policy_wake(p) > 60 * S);
	konce_portmap_policy_stop(p, 61 * S);
	r = expect(p, 61 * S, KONCE_PM_OP_DELETE, KONCE_PM_PROTO_UPNP);
	assert_int_equal(r.external_port, second);
	done(p);
}

static void test_conflicts_give_up(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 7807};
	konce_portmap_policy_req r;
	konce_portmap_policy *p = discovered(&c, KONCE_PM_PROTO_NATPMP, &r);
	for (unsigned i = 0; i < KONCE_PM_CONFLICT_TRIES; i++) {
		r = expect(p, 0, KONCE_PM_OP_ADD, KONCE_PM_PROTO_NATPMP);
		answer(p, 0, &r, KONCE_PM_ERR_CONFLICT, NULL, 0);
	}
	r = expect(p, 0, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_UPNP); /* the next protocol */
	done(p);
}

static void test_renew_failures_then_lost(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 7807, .protos = {KONCE_PM_PROTO_NATPMP}};
	konce_portmap_policy_req r;
	konce_portmap_policy *p = discovered(&c, KONCE_PM_PROTO_NATPMP, &r);
	konce_portmap_policy_event ev;
	r = expect(p, 0, KONCE_PM_OP_ADD, KONCE_PM_PROTO_NATPMP);
	answer(p, 0, &r, KONCE_PM_OK, "11.0.0.10:7807", 40);
	expect_event(p, KONCE_PM_EV_MAPPED, NULL);
	uint64_t t = 20 * S, n = 0;
	/* renewals fail; each retry comes before the lease's end (invariant 3) */
	while (konce_portmap_policy_state_of(p) == KONCE_PM_MAPPED && n < 20) {
		t = konce_portmap_policy_wake(p);
		assert_true(t <= 40 * S);
		if (!konce_portmap_policy_next(p, t, &r))
			break;
		if (r.op != KONCE_PM_OP_RENEW)
			break;
		answer(p, t, &r, KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
		n++;
	}
	assert_true(n >= 3); /* 20 s, 30 s, 35 s, ... retried, not given up at once */
	/* at the lease's end it is lost and discovery starts over */
	assert_int_equal(r.op, KONCE_PM_OP_DISCOVER);
	assert_int_equal(t, 40 * S);
	expect_event(p, KONCE_PM_EV_LOST, &ev);
	assert_int_equal(ev.reason, KONCE_PM_ERR_NO_GATEWAY);
	assert_false(konce_portmap_policy_mapping(p, NULL, NULL));
	/* the lease is gone: stop during this discovery has nothing to delete */
	konce_portmap_policy_stop(p, t);
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_STOPPED);
	assert_false(konce_portmap_policy_next(p, t, &r));
	done(p);
}

static void test_stop_while_adding(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 7807};
	konce_portmap_policy_req r;
	konce_portmap_policy *p = discovered(&c, KONCE_PM_PROTO_NATPMP, &r);
	konce_portmap_policy_req add = expect(p, 0, KONCE_PM_OP_ADD, KONCE_PM_PROTO_NATPMP);
	/* stop before the ADD is answered: the router may grant it, so it is deleted anyway */
	konce_portmap_policy_stop(p, 1);
	konce_portmap_policy_req del = expect(p, 1, KONCE_PM_OP_DELETE, KONCE_PM_PROTO_NATPMP);
	assert_int_equal(del.external_port, 7807);
	konce_portmap_policy_result res = {.id = add.id, .err = KONCE_PM_OK, .lifetime_s = 7200};
	assert_int_equal(konce_portmap_policy_result_in(p, 2, &res), -ESTALE); /* the ADD's late answer */
	konce_portmap_policy_event ev;
	assert_false(konce_portmap_policy_event_pop(p, &ev));                  /* ... is not reported */
	res.id = 12345;
	assert_int_equal(konce_portmap_policy_result_in(p, 2, &res), -ESTALE);
	answer(p, 3, &del, KONCE_PM_OK, NULL, 0);
	assert_int_equal(konce_portmap_policy_state_of(p), KONCE_PM_STOPPED);

	/* stop during discovery: nothing was asked for, nothing to delete */
	konce_portmap_policy *q = NULL;
	konce_portmap_policy_cfg c2 = {.internal_port = 7807, .env = &cenv.env};
	assert_int_equal(konce_portmap_policy_new(&q, &c2), 0);
	konce_portmap_policy_start(q, 0);
	r = expect(q, 0, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
	konce_portmap_policy_stop(q, 1);
	assert_int_equal(konce_portmap_policy_state_of(q), KONCE_PM_STOPPED);
	assert_false(konce_portmap_policy_next(q, 1, &r));
	konce_portmap_policy_free(q);
	done(p);
}

static void test_event_queue_bounded(void **state)
{
	(void)state;
	konce_portmap_policy_cfg c = {.internal_port = 7807, .protos = {KONCE_PM_PROTO_NATPMP}, .retry_min_us = S, .retry_max_us = S};
	konce_portmap_policy *p = make(&c);
	konce_portmap_policy_start(p, 0);
	uint64_t t = 0;
	for (unsigned i = 0; i < KONCE_PM_EVQ + 3; i++) { /* nobody pops: the oldest are dropped */
		konce_portmap_policy_req r = expect(p, t, KONCE_PM_OP_DISCOVER, KONCE_PM_PROTO_NATPMP);
		answer(p, t, &r, i == KONCE_PM_EVQ + 2 ? KONCE_PM_ERR_REFUSED : KONCE_PM_ERR_NO_GATEWAY, NULL, 0);
		t += S;
	}
	konce_portmap_policy_event ev;
	unsigned n = 0;
	while (konce_portmap_policy_event_pop(p, &ev))
		n++;
	assert_int_equal(n, KONCE_PM_EVQ);
	assert_int_equal(ev.reason, KONCE_PM_ERR_REFUSED); /* the newest survived */
	done(p);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(konce_portmap_policy_proto_name(KONCE_PM_PROTO_NATPMP), "natpmp");
	assert_string_equal(konce_portmap_policy_proto_name(KONCE_PM_PROTO_UPNP), "upnp");
	assert_string_equal(konce_portmap_policy_op_name(KONCE_PM_OP_RENEW), "renew");
	assert_string_equal(konce_portmap_policy_err_name(KONCE_PM_ERR_NO_GATEWAY), "no gateway answered");
}

/* The host's report follows the events: each moves it to its own state, MAPPED keeps the
 * protocol and address, a failure keeps its reason and the last mapping stays for MAPPED only. */
static void test_status_note(void **state)
{
	(void)state;
	konce_portmap_status st = {0};
	konce_portmap_policy_event ev = {.type = KONCE_PM_EV_MAPPED, .proto = KONCE_PM_PROTO_UPNP};
	assert_string_equal(konce_portmap_status_name(st.state), "off");
	assert_int_equal(konce_addr_parse(&ev.external, "198.51.100.7:40000"), 0);
	konce_portmap_status_note(&st, &ev);
	assert_int_equal(st.state, KONCE_PMST_MAPPED);
	assert_string_equal(konce_portmap_status_name(st.state), "mapped");
	assert_int_equal(st.proto, KONCE_PM_PROTO_UPNP);
	assert_true(konce_addr_eq(&st.external, &ev.external));
	ev = (konce_portmap_policy_event){.type = KONCE_PM_EV_LOST, .reason = KONCE_PM_ERR_REFUSED};
	konce_portmap_status_note(&st, &ev);
	assert_string_equal(konce_portmap_status_name(st.state), "lost");
	assert_int_equal(st.reason, KONCE_PM_ERR_REFUSED);
	ev = (konce_portmap_policy_event){.type = KONCE_PM_EV_UNAVAILABLE, .reason = KONCE_PM_ERR_NO_GATEWAY};
	konce_portmap_status_note(&st, &ev);
	assert_string_equal(konce_portmap_status_name(st.state), "unavailable");
	assert_int_equal(st.reason, KONCE_PM_ERR_NO_GATEWAY);
	assert_string_equal(konce_portmap_status_name(KONCE_PMST_TRYING), "trying");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_map_and_renew),
		cmocka_unit_test(test_fallback_and_backoff),
		cmocka_unit_test(test_backoff_resets_after_mapping),
		cmocka_unit_test(test_conflict_and_permanent),
		cmocka_unit_test(test_conflicts_give_up),
		cmocka_unit_test(test_renew_failures_then_lost),
		cmocka_unit_test(test_stop_while_adding),
		cmocka_unit_test(test_event_queue_bounded),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_status_note),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
