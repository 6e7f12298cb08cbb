/* test_sim_portmap.c - the simulated port-mapping gateway (sim_portmap.h) and the leases it makes in
 * a NAT (sim_nat_lease), with the shipping policy (nat/portmap_policy.h) driven against it by the
 * simulated worker, as node/io/portmap.c drives it against a router.
 *
 *	   S1 203.0.113.1  S2 203.0.113.2          (public; port 1)
 *	            \           /
 *	      symmetric NAT 198.51.100.1 + gateway (NAT-PMP and/or UPnP-IGD)
 *	                  |
 *	           C 192.168.1.10:7000             (the worker's host)
 *
 * The traversal cases (a node core behind such a gateway reached through its lease) are
 * test_traversal_portmap.c's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "tests/sim/sim_portmap.h"

#define MS SIM_MS
#define SEC SIM_SEC

enum { C_PORT = 7000, EVMAX = 64 };

typedef struct host {
	sim *s;
	sim_host *h;
	uint64_t n;
	konce_addr from;
	sim_pm *pm;
	konce_portmap_policy_event ev[EVMAX];
	uint64_t ev_at[EVMAX];
	unsigned nev;
} host;

static uint64_t host_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			  uint64_t now)
{
	host *p = ctx;
	(void)pkt, (void)len, (void)to, (void)now;
	p->n++;
	p->from = *from;
	return 0;
}

/* The worker at the host's timer, as trav_host.c runs it: due, run, the timer at its next. */
static void host_timer(void *ctx, uint64_t now)
{
	host *p = ctx;
	if (!p->pm)
		return;
	if (now >= sim_pm_next_timer(p->pm))
		sim_pm_run(p->pm, now);
	uint64_t t = sim_pm_next_timer(p->pm);
	if (t != UINT64_MAX)
		sim_timer_set(p->s, p->h, t > now ? t : now);
}

static const sim_host_ops host_ops = {host_recv, host_timer, NULL};

static void on_event(void *ctx, const konce_portmap_policy_event *ev, uint64_t now)
{
	host *p = ctx;
	assert_true(p->nev < EVMAX);
	p->ev_at[p->nev] = now;
	p->ev[p->nev++] = *ev;
}

static void on_trace(void *ctx, const char *line)
{
	host *p = ctx;
	if (getenv("PM_TRACE"))
		fprintf(stderr, "%9.3f pm %s\n", sim_now(p->s) / 1e6, line);
}

typedef struct net {
	sim *s;
	sim_nat *nat;
	sim_pmgw *gw;
	host S[2], C;
} net;

static void add_host(net *w, host *p, sim_nat *nat, const char *ip, uint16_t port)
{
	p->s = w->s;
	p->h = nat ? sim_host_add_behind(w->s, nat, ip, &host_ops, p) : sim_host_add(w->s, ip, &host_ops, p);
	assert_non_null(p->h);
	assert_int_equal(sim_host_bind(p->h, port), 0);
}

static void net_init(net *w, uint64_t seed, const sim_pmgw_cfg *gc)
{
	memset(w, 0, sizeof(*w));
	w->s = sim_new(seed);
	sim_link_cfg c = {.delay_us = 10 * MS};
	sim_link_default(w->s, &c);
	sim_nat_cfg nc = sim_nat_preset(SIM_NAT_SYMMETRIC);
	w->nat = sim_nat_add(w->s, "198.51.100.1", &nc);
	assert_non_null(w->nat);
	add_host(w, &w->S[0], NULL, "203.0.113.1", 1);
	add_host(w, &w->S[1], NULL, "203.0.113.2", 1);
	add_host(w, &w->C, w->nat, "192.168.1.10", C_PORT);
	if (gc)
		assert_non_null(w->gw = sim_pmgw_new(w->s, w->nat, gc));
}

/* The worker on C for its port C_PORT, with the policy's defaults (konce_nctravhost_wants_portmap). */
static void start_pm(net *w)
{
	sim_pm_cfg pc = {.h = w->C.h, .gw = w->gw, .policy.internal_port = C_PORT, .on_event = on_event,
			 .trace = on_trace, .ctx = &w->C};
	assert_int_equal(sim_pm_start(&w->C.pm, w->s, &pc, sim_now(w->s)), 0);
	sim_timer_set(w->s, w->C.h, sim_now(w->s));
}

static void net_free(net *w)
{
	sim_pm_free(w->C.pm);
	sim_pmgw_free(w->gw);
	sim_free(w->s);
}

/* One datagram from `from`'s port to `to`; whether rx got it, and from where. */
static bool xfer(net *w, host *from, uint16_t fport, const konce_addr *to, host *rx, konce_addr *seen)
{
	uint64_t before = rx->n;
	assert_int_equal(sim_send(w->s, from->h, fport, to, "x", 1), 0);
	sim_run_for(w->s, 100 * MS);
	if (seen)
		*seen = rx->from;
	return rx->n == before + 1;
}

static unsigned count(const host *p, enum konce_portmap_policy_ev_type t)
{
	unsigned k = 0;
	for (unsigned i = 0; i < p->nev; i++)
		k += p->ev[i].type == t;
	return k;
}

/* ---- the NAT's leases ------------------------------------------------------------------------- */

static void test_lease_in_nat(void **state)
{
	(void)state;
	net w;
	net_init(&w, 1, NULL);
	konce_addr lease = sim_nat_public(w.nat, 41000), s1 = sim_host_addr(w.S[0].h, 1), s2 = sim_host_addr(w.S[1].h, 1);
	konce_addr seen;
	uint16_t ext;
	uint64_t until;

	/* nothing there yet: the symmetric NAT's filter drops it */
	assert_false(xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
	assert_int_equal(sim_nat_lease(w.nat, 41000, w.C.h, C_PORT, sim_now(w.s) + 10 * SEC, false), 0);
	assert_int_equal(sim_nat_lease_get(w.nat, w.C.h, C_PORT, &ext, &until), 0);
	assert_int_equal(ext, 41000);
	/* anyone gets in (endpoint-independent filtering) */
	assert_true(xfer(&w, &w.S[0], 1, &lease, &w.C, &seen));
	assert_true(konce_addr_eq(&seen, &s1));
	assert_true(xfer(&w, &w.S[1], 1, &lease, &w.C, NULL));
	/* the reply to S1 leaves from the lease (connection tracking), whatever the mapping behaviour */
	assert_true(xfer(&w, &w.C, C_PORT, &s1, &w.S[0], &seen));
	assert_true(konce_addr_eq(&seen, &lease));
	/* a flow S3 never opened through it gets the NAT's own mapping */
	konce_addr s3 = s2;
	s3.port = 2;
	assert_int_equal(sim_host_bind(w.S[1].h, 2), 0);
	assert_true(xfer(&w, &w.C, C_PORT, &s3, &w.S[1], &seen));
	assert_int_not_equal(seen.port, 41000);
	/* one lease per internal address; a port held is taken */
	assert_int_equal(sim_nat_lease(w.nat, 41001, w.C.h, C_PORT, sim_now(w.s) + 10 * SEC, false), -EADDRINUSE);
	assert_int_equal(sim_nat_lease(w.nat, seen.port, w.C.h, C_PORT + 1, sim_now(w.s) + 10 * SEC, false), -EADDRINUSE);
	assert_int_equal(sim_nat_lease(w.nat, 41000, w.C.h, C_PORT, sim_now(w.s), false), -EINVAL);
	/* renewed before its end, it outlives the first end; not renewed, it is gone at the second */
	sim_run_until(w.s, 8 * SEC);
	assert_int_equal(sim_nat_lease(w.nat, 41000, w.C.h, C_PORT, 15 * SEC, false), 0);
	sim_run_until(w.s, 12 * SEC);
	assert_true(xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
	sim_run_until(w.s, 15 * SEC);
	assert_false(xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
	assert_int_equal(sim_nat_lease_get(w.nat, w.C.h, C_PORT, NULL, NULL), -ENOENT);
	/* unlease and flush end it at once */
	assert_int_equal(sim_nat_lease(w.nat, 41000, w.C.h, C_PORT, 100 * SEC, false), 0);
	assert_int_equal(sim_nat_unlease(w.nat, 41000), 0);
	assert_int_equal(sim_nat_unlease(w.nat, 41000), -ENOENT);
	assert_false(xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
	assert_int_equal(sim_nat_lease(w.nat, 41000, w.C.h, C_PORT, 100 * SEC, false), 0);
	sim_nat_flush(w.nat);
	assert_false(xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
	net_free(&w);
}

/* On an endpoint-independent NAT the lease is the address's one mapping: the port of its own
 * mapping may be leased (as the policy asks for the node's port), every flow leaves from it, and
 * everyone gets in; when the lease ends, the address gets a mapping of its own again. */
static void test_lease_eim(void **state)
{
	(void)state;
	net w;
	net_init(&w, 2, NULL);
	sim_nat_cfg pr = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	sim_nat_set_cfg(w.nat, &pr);
	konce_addr s1 = sim_host_addr(w.S[0].h, 1), s2 = sim_host_addr(w.S[1].h, 1), seen;
	assert_true(xfer(&w, &w.C, C_PORT, &s1, &w.S[0], &seen));
	assert_int_equal(seen.port, C_PORT); /* port-preserving */
	konce_addr own = seen;
	assert_false(xfer(&w, &w.S[1], 1, &own, &w.C, NULL)); /* port-restricted */
	assert_int_equal(sim_nat_lease(w.nat, C_PORT, w.C.h, C_PORT, sim_now(w.s) + 10 * SEC, false), 0);
	assert_true(xfer(&w, &w.S[1], 1, &own, &w.C, NULL));
	assert_true(xfer(&w, &w.C, C_PORT, &s2, &w.S[1], &seen));
	assert_true(konce_addr_eq(&seen, &own));
	/* another address's mapping is not ours to lease */
	host other = {.s = w.s};
	add_host(&w, &other, w.nat, "192.168.1.11", C_PORT);
	assert_true(xfer(&w, &other, C_PORT, &s1, &w.S[0], &seen));
	assert_int_equal(sim_nat_lease(w.nat, seen.port, w.C.h, C_PORT + 1, sim_now(w.s) + 10 * SEC, false), -EADDRINUSE);
	sim_run_until(w.s, 11 * SEC);
	assert_false(xfer(&w, &w.S[1], 1, &own, &w.C, NULL));
	assert_true(xfer(&w, &w.C, C_PORT, &s1, &w.S[0], &seen));
	assert_int_equal(seen.port, C_PORT);
	net_free(&w);
}

/* ---- the policy against the gateway ----------------------------------------------------------- */

/* NAT-PMP grants a shortened lease (seeded in 20..30 s, drawn anew at each renewal): the policy
 * renews it at half its life, the gateway extends the same lease each time, and it never lapses:
 * no LOST, the same address all along, and a datagram to it still reaches the host at the end. */
static void test_natpmp_renewed(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 16) {
		net w;
		net_init(&w, seed, &(sim_pmgw_cfg){.natpmp = true, .upnp = true, .lease_min_s = 20, .lease_max_s = 30});
		start_pm(&w);
		sim_run_until(w.s, 100 * SEC);
		/* a renewal granted another lifetime is reported again (the host reschedules), never as
		 * a new address */
		SIM_ASSERT(w.s, count(&w.C, KONCE_PM_EV_MAPPED) >= 1);
		SIM_ASSERT_EQ(w.s, count(&w.C, KONCE_PM_EV_LOST) + count(&w.C, KONCE_PM_EV_UNAVAILABLE), 0);
		const konce_portmap_policy_event *ev = &w.C.ev[0];
		for (unsigned i = 1; i < w.C.nev; i++)
			SIM_ASSERT(w.s, !w.C.ev[i].changed && konce_addr_eq(&w.C.ev[i].external, &ev->external));
		SIM_ASSERT_EQ(w.s, ev->proto, KONCE_PM_PROTO_NATPMP);
		SIM_ASSERT(w.s, ev->lifetime_s >= 20 && ev->lifetime_s <= 30);
		SIM_ASSERT(w.s, w.C.ev_at[0] < 100 * MS); /* two LAN round trips */
		const sim_pmgw_counters *c = sim_pmgw_counters_get(w.gw);
		SIM_ASSERT_EQ(w.s, c->granted, 1);
		SIM_ASSERT(w.s, c->renewed >= 100 / 15 - 1); /* every 10..15 s */
		SIM_ASSERT_EQ(w.s, c->renewed, sim_pm_requests(w.C.pm, KONCE_PM_OP_RENEW));
		uint16_t ext;
		konce_addr m;
		SIM_ASSERT_EQ(w.s, sim_nat_lease_get(w.nat, w.C.h, C_PORT, &ext, NULL), 0);
		SIM_ASSERT(w.s, konce_portmap_policy_mapping(sim_pm_policy(w.C.pm), &m, NULL));
		SIM_ASSERT_EQ(w.s, m.port, ext);
		SIM_ASSERT(w.s, konce_addr_eq(&m, &ev->external));
		SIM_ASSERT(w.s, xfer(&w, &w.S[0], 1, &m, &w.C, NULL));
		net_free(&w);
	}
}

/* A gateway that speaks UPnP only: NAT-PMP meets ICMP port unreachable at once, UPnP maps after
 * SSDP's 2 s wait.  One that grants permanent leases only (725) gets asked again for lifetime 0. */
static void test_upnp_only(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (int perm = 0; perm < 2; perm++) {
			net w;
			net_init(&w, seed, &(sim_pmgw_cfg){.upnp = true, .permanent_only = perm});
			start_pm(&w);
			sim_run_until(w.s, 60 * SEC);
			SIM_ASSERT_EQ(w.s, count(&w.C, KONCE_PM_EV_MAPPED), 1);
			SIM_ASSERT_EQ(w.s, w.C.nev, 1);
			SIM_ASSERT_EQ(w.s, w.C.ev[0].proto, KONCE_PM_PROTO_UPNP);
			SIM_ASSERT_EQ(w.s, w.C.ev[0].lifetime_s, perm ? 0 : 7200);
			SIM_ASSERT_EQ(w.s, w.C.ev[0].external.port, C_PORT); /* the port asked for was free */
			SIM_ASSERT(w.s, w.C.ev_at[0] >= 2 * SEC && w.C.ev_at[0] < 2200 * MS);
			SIM_ASSERT_EQ(w.s, sim_pmgw_counters_get(w.gw)->refused, (uint64_t)perm);
			SIM_ASSERT(w.s, xfer(&w, &w.S[0], 1, &w.C.ev[0].external, &w.C, NULL));
			net_free(&w);
		}
	}
}

/* The lease's port is taken by another host's: NAT-PMP's gateway picks another one; UPnP answers
 * 718 and the policy asks for a random port, from the host's seeded env. */
static void test_port_taken(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (int upnp = 0; upnp < 2; upnp++) {
			net w;
			net_init(&w, seed, &(sim_pmgw_cfg){.natpmp = !upnp, .upnp = upnp});
			host other = {.s = w.s};
			add_host(&w, &other, w.nat, "192.168.1.11", 1);
			SIM_ASSERT_EQ(w.s, sim_nat_lease(w.nat, C_PORT, other.h, 1, UINT64_MAX, false), 0);
			start_pm(&w);
			sim_run_until(w.s, 30 * SEC);
			SIM_ASSERT_EQ(w.s, w.C.nev, 1);
			SIM_ASSERT_EQ(w.s, w.C.ev[0].type, KONCE_PM_EV_MAPPED);
			SIM_ASSERT(w.s, w.C.ev[0].external.port != C_PORT);
			SIM_ASSERT_EQ(w.s, sim_pmgw_counters_get(w.gw)->refused, (uint64_t)upnp);
			SIM_ASSERT(w.s, xfer(&w, &w.S[0], 1, &w.C.ev[0].external, &w.C, NULL));
			net_free(&w);
		}
	}
}

/* Refused by both protocols, or nothing answering at all (a silent gateway, or none on the LAN):
 * UNAVAILABLE with the reason, no lease anywhere, and the policy tries again after its 30 s
 * backoff.  Silence costs NAT-PMP's 2 s deadline and SSDP's 2 s wait. */
static void test_unavailable(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (int k = 0; k < 3; k++) {
			net w;
			sim_pmgw_cfg gc = {.natpmp = true, .upnp = true, .mode = k == 0 ? SIM_PMGW_REFUSE : SIM_PMGW_SILENT};
			net_init(&w, seed, k == 2 ? NULL : &gc);
			start_pm(&w);
			sim_run_until(w.s, 40 * SEC);
			SIM_ASSERT_EQ(w.s, count(&w.C, KONCE_PM_EV_MAPPED), 0);
			SIM_ASSERT_EQ(w.s, count(&w.C, KONCE_PM_EV_UNAVAILABLE), 2);
			SIM_ASSERT_EQ(w.s, w.C.ev[0].reason, k == 0 ? KONCE_PM_ERR_REFUSED : KONCE_PM_ERR_NO_GATEWAY);
			if (k)
				SIM_ASSERT(w.s, w.C.ev_at[0] >= 4 * SEC && w.C.ev_at[0] < 4100 * MS);
			else
				SIM_ASSERT(w.s, w.C.ev_at[0] < 2100 * MS);
			SIM_ASSERT(w.s, w.C.ev_at[1] >= w.C.ev_at[0] + 30 * SEC);
			SIM_ASSERT_EQ(w.s, sim_nat_lease_get(w.nat, w.C.h, C_PORT, NULL, NULL), -ENOENT);
			if (k == 0)
				SIM_ASSERT_EQ(w.s, sim_pmgw_counters_get(w.gw)->refused, 4); /* each protocol, twice */
			SIM_ASSERT_EQ(w.s, konce_portmap_policy_state_of(sim_pm_policy(w.C.pm)), KONCE_PM_BACKOFF);
			net_free(&w);
		}
	}
}

/* A gateway that falls silent after granting: the renewals time out, the lease ends in the NAT at
 * its granted end, and the policy reports LOST then (not before: the lease forwards until then,
 * and at most a renewal's timeout after); when the gateway answers again, the next cycle maps
 * anew. */
static void test_lost_unless_renewed(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 16) {
		net w;
		net_init(&w, seed, &(sim_pmgw_cfg){.natpmp = true, .lease_min_s = 20, .lease_max_s = 30});
		start_pm(&w);
		sim_run_until(w.s, 1 * SEC);
		SIM_ASSERT_EQ(w.s, w.C.nev, 1);
		konce_addr lease = w.C.ev[0].external;
		uint64_t until;
		SIM_ASSERT_EQ(w.s, sim_nat_lease_get(w.nat, w.C.h, C_PORT, NULL, &until), 0);
		sim_pmgw_set_mode(w.gw, SIM_PMGW_SILENT);
		sim_run_until(w.s, until - 100 * MS);
		SIM_ASSERT_EQ(w.s, w.C.nev, 1);
		SIM_ASSERT(w.s, xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
		sim_run_until(w.s, until + 2 * SEC);
		SIM_ASSERT_EQ(w.s, count(&w.C, KONCE_PM_EV_LOST), 1);
		SIM_ASSERT_EQ(w.s, w.C.ev[1].type, KONCE_PM_EV_LOST);
		SIM_ASSERT_EQ(w.s, w.C.ev[1].reason, KONCE_PM_ERR_NO_GATEWAY);
		/* the policy counts the lease from its answer, the gateway from the request's arrival
		 * (half a LAN round trip earlier); a renewal timing out across the end (NAT-PMP's 2 s)
		 * makes the policy see it that much later */
		SIM_ASSERT(w.s, w.C.ev_at[1] + 10 * MS >= until && w.C.ev_at[1] <= until + 2100 * MS);
		SIM_ASSERT(w.s, sim_pmgw_counters_get(w.gw)->unanswered >= 2);
		SIM_ASSERT(w.s, !xfer(&w, &w.S[0], 1, &lease, &w.C, NULL));
		SIM_ASSERT(w.s, !konce_portmap_policy_mapping(sim_pm_policy(w.C.pm), NULL, NULL));
		sim_pmgw_set_mode(w.gw, SIM_PMGW_ANSWER);
		sim_run_until(w.s, until + 60 * SEC);
		SIM_ASSERT_EQ(w.s, w.C.ev[w.C.nev - 1].type, KONCE_PM_EV_MAPPED);
		SIM_ASSERT_EQ(w.s, sim_pmgw_counters_get(w.gw)->granted, 2);
		net_free(&w);
	}
}

/* NAT-PMP over a LAN that loses 20% of datagrams: libnatpmp's retransmissions get a request
 * through (each fails with 0.36^4, a cycle of two with ~3.4%), or a later cycle does (the backoff
 * allows four in 300 s), and the trace is the same for the same seed. */
static void test_lossy_deterministic(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 16) {
		uint64_t hash[2];
		for (int run = 0; run < 2; run++) {
			net w;
			net_init(&w, seed, &(sim_pmgw_cfg){.natpmp = true, .loss = 0.2, .lease_min_s = 20, .lease_max_s = 30});
			start_pm(&w);
			sim_run_until(w.s, 300 * SEC);
			SIM_ASSERT(w.s, count(&w.C, KONCE_PM_EV_MAPPED) >= 1);
			SIM_ASSERT(w.s, sim_pmgw_counters_get(w.gw)->exchanges > sim_pmgw_counters_get(w.gw)->granted);
			hash[run] = sim_trace_hash(w.s) ^ sim_pmgw_counters_get(w.gw)->exchanges ^
				    ((uint64_t)w.C.nev << 32) ^ w.C.ev_at[w.C.nev - 1];
			net_free(&w);
		}
		if (hash[0] != hash[1]) {
			sim_report_failure(seed, "the same seed ran differently", __FILE__, __LINE__);
			fail();
		}
	}
}

/* Stop (the daemon's teardown): the held lease is deleted, over NAT-PMP and over UPnP. */
static void test_stop_deletes(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (int upnp = 0; upnp < 2; upnp++) {
			net w;
			net_init(&w, seed, &(sim_pmgw_cfg){.natpmp = !upnp, .upnp = upnp});
			start_pm(&w);
			sim_run_until(w.s, 5 * SEC);
			SIM_ASSERT_EQ(w.s, sim_nat_lease_get(w.nat, w.C.h, C_PORT, NULL, NULL), 0);
			sim_pm_stop(w.C.pm, sim_now(w.s));
			sim_timer_set(w.s, w.C.h, sim_now(w.s));
			sim_run_until(w.s, 6 * SEC);
			SIM_ASSERT_EQ(w.s, konce_portmap_policy_state_of(sim_pm_policy(w.C.pm)), KONCE_PM_STOPPED);
			SIM_ASSERT_EQ(w.s, sim_nat_lease_get(w.nat, w.C.h, C_PORT, NULL, NULL), -ENOENT);
			SIM_ASSERT_EQ(w.s, sim_pmgw_counters_get(w.gw)->deleted, 1);
			SIM_ASSERT_EQ(w.s, sim_pm_requests(w.C.pm, KONCE_PM_OP_DELETE), 1);
			net_free(&w);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lease_in_nat),
		cmocka_unit_test(test_lease_eim),
		cmocka_unit_test(test_natpmp_renewed),
		cmocka_unit_test(test_upnp_only),
		cmocka_unit_test(test_port_taken),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_lost_unless_renewed),
		cmocka_unit_test(test_lossy_deterministic),
		cmocka_unit_test(test_stop_deletes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
