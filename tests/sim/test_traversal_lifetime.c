/* test_traversal_lifetime.c - learning the NAT mapping lifetime (nat/lifetime.c against
 * nat/lifesrv.c) through simulated NATs with different idle timeouts, with loss and jitter.
 *
 * A client behind a NAT has two ports: 5001 runs the lifetime experiments with a rendezvous, 5000
 * stands for everything the node holds open (registration, sessions) and sends one keepalive to
 * the rendezvous every konce_lifetime_keepalive() (the value in force at that moment).  Before each
 * keepalive the test looks the 5000 mapping up in the NAT without touching it: it must still be
 * there, on the same public port.  Asserted per run: the search ends; the learned lower bound is
 * at most the NAT's timeout and within a quarter of it (or the bounds' max); once learned, the
 * 5000 mapping never expired; for NATs whose timeout the initial 15 s keepalive covers, it never
 * expired at all.  The test prints, per timeout, what was learned and the keepalives per hour
 * against the fixed 20 s registration refresh (180 per hour).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/lifesrv.h"
#include "nat/lifetime.h"
#include "tests/sim/sim.h"

#define SEC SIM_SEC
enum { RDV_PORT = 3478, MAIN_PORT = 5000, PROBE_PORT = 5001 };

struct rdv {
	sim *s;
	sim_host *h;
	konce_lifesrv *ls;
};

struct client {
	sim *s;
	sim_host *h;
	sim_nat *nat;
	konce_lifetime *l;
	konce_addr rdv;
	uint64_t next_ka, learned_at;
	bool have_ext, ever_learned;
	konce_addr ext;
	unsigned expired, expired_after_learning, moved;
	uint64_t ka_sent, ka_last_hour;
	uint64_t run_end;
};

static void rdv_flush(struct rdv *r)
{
	uint8_t buf[KONCE_LIFE_ACK_SIZE];
	size_t len;
	konce_addr to;
	while (konce_lifesrv_poll(r->ls, buf, &len, &to))
		sim_send(r->s, r->h, RDV_PORT, &to, buf, len);
	uint64_t t = konce_lifesrv_next_timer(r->ls);
	if (t != UINT64_MAX)
		sim_timer_set(r->s, r->h, t);
}

static uint64_t rdv_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			 uint64_t now)
{
	struct rdv *r = ctx;
	(void)to;
	if (len && pkt[0] == KONCE_RDV_LIFE_REQ) {
		konce_lifesrv_input(r->ls, pkt, len, from, now);
		rdv_flush(r);
	}
	return 0; /* keepalives: nothing to do */
}

static void rdv_timer(void *ctx, uint64_t now)
{
	struct rdv *r = ctx;
	konce_lifesrv_timer(r->ls, now);
	rdv_flush(r);
}

static const sim_host_ops rdv_ops = {rdv_recv, rdv_timer, NULL};

static void client_arm(struct client *c)
{
	uint64_t t = konce_lifetime_next_timer(c->l);
	sim_timer_set(c->s, c->h, t < c->next_ka ? t : c->next_ka);
}

static void client_flush(struct client *c)
{
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	while (konce_lifetime_poll(c->l, buf, &len))
		sim_send(c->s, c->h, PROBE_PORT, &c->rdv, buf, len);
	konce_lifetime_status st;
	konce_lifetime_status_get(c->l, &st);
	if (st.learned && !c->ever_learned) {
		c->ever_learned = true;
		c->learned_at = sim_now(c->s);
	}
}

static uint64_t client_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			    const konce_addr *to, uint64_t now)
{
	struct client *c = ctx;
	if (to->port == PROBE_PORT && konce_addr_eq(from, &c->rdv)) {
		konce_lifetime_input(c->l, pkt, len, now);
		client_flush(c);
		client_arm(c);
	}
	return 0;
}

static void keepalive(struct client *c, uint64_t now)
{
	konce_addr internal = sim_host_addr(c->h, MAIN_PORT), ext;
	if (c->have_ext) {
		if (sim_nat_lookup(c->nat, &internal, &c->rdv, &ext) != 0) {
			c->expired++;
			c->expired_after_learning += c->ever_learned;
		} else if (!konce_addr_eq(&ext, &c->ext)) {
			c->moved++;
		}
	}
	static const uint8_t ka[1] = {0x7f};
	sim_send(c->s, c->h, MAIN_PORT, &c->rdv, ka, sizeof(ka));
	if (sim_nat_lookup(c->nat, &internal, &c->rdv, &ext) == 0) {
		c->ext = ext;
		c->have_ext = true;
	}
	c->ka_sent++;
	c->ka_last_hour += now + 3600 * SEC >= c->run_end;
	c->next_ka = now + konce_lifetime_keepalive(c->l);
}

static void client_timer(void *ctx, uint64_t now)
{
	struct client *c = ctx;
	if (now >= c->next_ka)
		keepalive(c, now);
	konce_lifetime_timer(c->l, now);
	client_flush(c);
	client_arm(c);
}

/* The rendezvous's socket and the client's two bound, the lifetime service and the client's
 * lifetime core made, and the client's first timer run at 0. */
static void start(struct rdv *r, struct client *c)
{
	sim_host_bind(r->h, RDV_PORT);
	sim_host_bind(c->h, MAIN_PORT);
	sim_host_bind(c->h, PROBE_PORT);
	c->rdv = sim_host_addr(r->h, RDV_PORT);
	konce_lifesrv_cfg sc = {.env = sim_host_env(r->h), .queue = 64};
	assert_int_equal(konce_lifesrv_new(&r->ls, &sc), 0);
	konce_lifetime_cfg lc = {.env = sim_host_env(c->h)};
	assert_int_equal(konce_lifetime_new(&c->l, &lc, 0), 0);
	client_timer(c, 0);
}

static const sim_host_ops client_ops = {client_recv, client_timer, NULL};

struct summary {
	unsigned runs;
	uint64_t lo_min, lo_max, lo_sum, ka_sum, learn_sum, ka_hour_sum;
};

static void run_one(uint64_t seed, uint64_t timeout_s, unsigned variant, struct summary *sum)
{
	sim *s = sim_new(seed);
	sim_link_cfg wan = {.delay_us = 15 * SIM_MS + seed % 4 * 10 * SIM_MS, .jitter_us = 3 * SIM_MS,
			    .loss = 0.02, .duplicate = 0.005};
	sim_link_default(s, &wan);
	sim_nat_cfg nc = sim_nat_preset(variant & 1 ? SIM_NAT_SYMMETRIC : SIM_NAT_PORT_RESTRICTED_CONE);
	nc.timeout_us = timeout_s * SEC;
	nc.inbound_refresh = !(variant & 2);
	sim_nat *nat = sim_nat_add(s, "203.0.113.1", &nc);
	struct rdv r = {.s = s};
	struct client c = {.s = s, .nat = nat, .run_end = 6 * 3600 * SEC};
	r.h = sim_host_add(s, "192.0.2.1", &rdv_ops, &r);
	c.h = sim_host_add_behind(s, nat, "10.0.0.2", &client_ops, &c);
	assert_non_null(r.h);
	assert_non_null(c.h);
	start(&r, &c);
	sim_run_until(s, c.run_end);

	konce_lifetime_status st;
	konce_lifetime_status_get(c.l, &st);
	uint64_t t = timeout_s * SEC;
	SIM_ASSERT(s, st.learned);
	SIM_ASSERT(s, st.lo_us <= t);
	SIM_ASSERT(s, st.lo_us >= t * 3 / 4 || st.lo_us == 300 * SEC);
	SIM_ASSERT(s, st.keepalive_us < t);
	SIM_ASSERT_EQ(s, c.expired_after_learning, 0);
	SIM_ASSERT_EQ(s, c.moved, 0);
	if (t > 15 * SEC + 2 * wan.delay_us)
		SIM_ASSERT_EQ(s, c.expired, 0);
	SIM_ASSERT_EQ(s, konce_lifesrv_counters(r.ls)->rate_limited, 0);
	if (!sum->runs || st.lo_us < sum->lo_min)
		sum->lo_min = st.lo_us;
	if (st.lo_us > sum->lo_max)
		sum->lo_max = st.lo_us;
	sum->lo_sum += st.lo_us;
	sum->ka_sum += st.keepalive_us;
	sum->learn_sum += c.learned_at;
	sum->ka_hour_sum += c.ka_last_hour;
	sum->runs++;
	konce_lifetime_free(c.l);
	konce_lifesrv_free(r.ls);
	sim_free(s);
}

static void test_learns_within_timeout(void **state)
{
	(void)state;
	static const uint64_t timeouts[] = {12, 20, 30, 60, 120, 180, 600};
	for (unsigned i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		struct summary sum = {0};
		SIM_FOR_EACH_SEED(seed, 8) {
			run_one(seed, timeouts[i], (unsigned)seed & 3, &sum);
		}
		if (!sum.runs)
			continue;
		printf("NAT timeout %3u s: learned >= %5.1f s (%5.1f..%5.1f) in %5.0f s, keepalive %5.1f s, "
		       "%4.0f keepalives/h (fixed 20 s: 180), %u runs\n",
		       (unsigned)timeouts[i], (double)sum.lo_sum / sum.runs / SEC, (double)sum.lo_min / SEC,
		       (double)sum.lo_max / SEC, (double)sum.learn_sum / sum.runs / SEC,
		       (double)sum.ka_sum / sum.runs / SEC, (double)sum.ka_hour_sum / sum.runs, sum.runs);
	}
}

/* A NAT whose timeout drops from 120 s to 30 s (a new router, a reboot into other settings): the
 * client notices at the revalidation, or sooner if the caller reports a rebinding. */
static void test_timeout_shrinks(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		sim *s = sim_new(seed);
		sim_link_cfg wan = {.delay_us = 20 * SIM_MS, .jitter_us = 3 * SIM_MS, .loss = 0.02};
		sim_link_default(s, &wan);
		sim_nat_cfg nc = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		nc.timeout_us = 120 * SEC;
		sim_nat *nat = sim_nat_add(s, "203.0.113.1", &nc);
		struct rdv r = {.s = s};
		struct client c = {.s = s, .nat = nat, .run_end = 4 * 3600 * SEC};
		r.h = sim_host_add(s, "192.0.2.1", &rdv_ops, &r);
		c.h = sim_host_add_behind(s, nat, "10.0.0.2", &client_ops, &c);
		start(&r, &c);
		sim_run_until(s, 3600 * SEC);
		konce_lifetime_status st;
		konce_lifetime_status_get(c.l, &st);
		SIM_ASSERT(s, st.learned && st.lo_us >= 90 * SEC && st.lo_us <= 120 * SEC);
		nc.timeout_us = 30 * SEC;
		sim_nat_set_cfg(nat, &nc);
		sim_run_until(s, c.run_end);
		konce_lifetime_status_get(c.l, &st);
		SIM_ASSERT(s, st.learned);
		SIM_ASSERT(s, st.lo_us <= 30 * SEC && st.lo_us >= 22 * SEC);
		SIM_ASSERT(s, st.failures >= 1);
		konce_lifetime_free(c.l);
		konce_lifesrv_free(r.ls);
		sim_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learns_within_timeout),
		cmocka_unit_test(test_timeout_shrinks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
