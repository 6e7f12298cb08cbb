/* test_traversal_portmap.c - traversal through a port mapping that the shipping policy obtains,
 * on the simulator: peer a sits behind a symmetric NAT (random ports, address-and-port-dependent
 * filtering) whose gateway speaks NAT-PMP and UPnP-IGD (tests/sim/sim_portmap.h), and runs with
 * portmap = 1, so its host runs the port-mapping worker over the shipping policy and hands the
 * policy's events to the traversal unit (konce_nctravhost_portmap), as node/io/node_trav.c does.
 * Peer b is each NAT kind of the matrix (trav_world.h).  Both register with two rendezvous, one
 * asks for the other, and each sends MATRIX_MSG acked messages over the run.  The gateway's
 * leases are endpoint-independent mappings (sim_pmgw_cfg.outbound: a's new flows from the node
 * socket, its probes to b among them, leave from the lease, as with RFC 6887's MAP), except in
 * test_pm_conntrack.
 *
 *   test_pm_connect   the gateway grants the lease: a MAPPED candidate, and the pair goes direct
 *                     whatever b is (through the lease itself where only it can explain the
 *                     path: any b that filters by address and port)
 *   test_pm_conntrack the lease of a Linux NAT's DNAT and connection tracking (miniupnpd): only
 *                     the replies to what came in through it leave from it, and a flow a opened
 *                     first keeps its own mapping.  a lets b come to the lease first (nat/punch.c
 *                     lease_wait), so the pair goes direct (asserted where it is not a
 *                     birthday pair without the lease); how many pairs go
 *                     direct through the lease itself is printed (a measured figure, not a rule)
 *   test_pm_renewed   the lease is shortened to 16..24 s (seeded): the policy renews it several
 *                     times during the run, and the direct path through it never breaks
 *   test_pm_fallback  the gateway refuses, falls silent, or is not there: UNAVAILABLE, no
 *                     candidate, no lease, and the pair ends as the matrix's symmetric row
 *                     (direct, birthday or relayed), every message delivered
 *   test_pm_lost      the gateway falls silent after granting: the lease ends in the NAT, the
 *                     policy reports it LOST, the unit withdraws the candidate, and the pair
 *                     (b symmetric: the lease was its only direct path) goes on over the relay
 *   test_pm_stop      the daemon's teardown of the worker: the lease is deleted (NAT-PMP, UPnP)
 *
 * Every run checks both node cores' store notes (world_check_notes): the other peer's notes carry
 * no address, so the lease (or any NAT mapping) is never stored as the peer's address
 * (node/core/ncknown.c nc_note_addr), and no note at all names a's lease.
 * TP_TRACE=1 prints each run's traversal and port-mapping lines (trav_host.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/trav_world.h"

/* The kinds b takes: the matrix's, less port-mapped (a static forward, not this policy's) */
static const enum kind KINDS[] = {K_PUBLIC, K_FULL, K_RESTRICTED, K_PORT_RESTRICTED, K_SYMMETRIC, K_SYMSEQ, K_CGNAT};
enum { NK = sizeof(KINDS) / sizeof(KINDS[0]) };

typedef struct run {
	world w;
	sim_nat *na, *nb;
	sim_pmgw *gw;
	tp_peer *init;
} run;

/* a: symmetric NAT at idx 0 with a gateway of cfg gc (NULL: none); b of kind kb at idx 1; a with
 * portmap = 1; the links as the matrix's. */
static void run_init(run *r, uint64_t seed, enum kind kb, const sim_pmgw_cfg *gc)
{
	memset(r, 0, sizeof(*r));
	world_init(&r->w, seed);
	sim *s = r->w.s;
	sim_host *ha = make_host(s, K_SYMMETRIC, 0, &r->na), *hb = make_host(s, kb, 1, &r->nb);
	SIM_ASSERT(s, ha && hb);
	if (gc)
		SIM_ASSERT(s, (r->gw = sim_pmgw_new(s, r->na, gc)) != NULL);
	sim_link_cfg near = {.delay_us = 10 * MS, .jitter_us = 2 * MS, .loss = 0.01, .duplicate = 0.005};
	sim_link_cfg far = {.delay_us = 70 * MS, .jitter_us = 5 * MS, .loss = 0.01, .duplicate = 0.005};
	sim_link_set_both(s, ha, r->w.r1.h, &near);
	sim_link_set_both(s, hb, r->w.r1.h, &far);
	world_peers(&r->w, ha, hb, &(peers_cfg){.nrdv_a = 2, .nrdv_b = 2, .nmsg = MATRIX_MSG, .host_candidates = true,
					       .portmap_a = true, .gw_a = r->gw});
	r->w.a.msg_every = r->w.b.msg_every = 1400 * MS;
	r->init = (seed & 1) ? &r->w.a : &r->w.b;
	tp_peer_connect_at(r->init, 2 * SEC);
	if (getenv("TP_TRACE"))
		fprintf(stderr, "=== symmetric+gateway - %s seed %llu\n", kind_name[kb], (unsigned long long)seed);
}

static void run_free(run *r)
{
	world_free(&r->w);
	sim_pmgw_free(r->gw);
}

static bool is_direct(tp_peer *p) { return konce_punch_state(tp_pu(p)) == KONCE_PUNCH_PATH_DIRECT; }

/* Every message both ways, and what each store keeps: the other's key, never an address, and no
 * note anywhere with a's lease (lease: NULL when there was none). */
static void check_delivery_and_notes(run *r, const konce_addr *lease)
{
	sim *s = r->w.s;
	SIM_ASSERT(s, tp_peer_done(&r->w.a) && tp_peer_done(&r->w.b));
	SIM_ASSERT_EQ(s, r->w.a.ngot, MATRIX_MSG);
	SIM_ASSERT_EQ(s, r->w.b.ngot, MATRIX_MSG);
	world_check_notes(&r->w, &r->w.a, 2, r->init == &r->w.a);
	world_check_notes(&r->w, &r->w.b, 2, r->init == &r->w.b);
	for (int side = 0; lease && side < 2; side++) {
		const core_host_notes *ns = side ? &r->w.b.n.notes : &r->w.a.n.notes;
		for (size_t i = 0; i < ns->n; i++)
			SIM_ASSERT(s, !ns->v[i].has_addr || !konce_addr_eq(&ns->v[i].addr, lease));
	}
}

/* a's lease as its unit holds it, checked against the policy, the status and the NAT: 0 and *lease. */
static void check_mapped(run *r, konce_addr *lease)
{
	sim *s = r->w.s;
	konce_addr pol;
	uint16_t ext;
	enum konce_portmap_policy_proto proto;
	SIM_ASSERT(s, konce_trav_mapped(r->w.a.n.t, lease));
	SIM_ASSERT(s, konce_portmap_policy_mapping(sim_pm_policy(r->w.a.n.pm), &pol, &proto));
	SIM_ASSERT(s, konce_addr_eq(&pol, lease));
	SIM_ASSERT_EQ(s, proto, KONCE_PM_PROTO_NATPMP); /* tried first, and it answers */
	SIM_ASSERT_EQ(s, r->w.a.n.th.pm.state, KONCE_PMST_MAPPED);
	SIM_ASSERT(s, konce_addr_eq(&r->w.a.n.th.pm.external, lease));
	SIM_ASSERT_EQ(s, sim_nat_lease_get(r->na, r->w.a.h, TP_MAIN_PORT, &ext, NULL), 0);
	SIM_ASSERT_EQ(s, ext, lease->port);
}

/* Direct both ways, with messages over it; b's path is the lease itself when b filters by address
 * and port (then only the lease, from which a's traffic to b leaves, lets b's probes in: without
 * it the pair would be a birthday gamble or relayed).  A b that filters less may also end on
 * another of a's sockets that reached it (a birthday socket's mapping). */
static void check_direct_via(run *r, enum kind kb, const konce_addr *lease)
{
	sim *s = r->w.s;
	unsigned sock;
	konce_addr path;
	SIM_ASSERT(s, is_direct(&r->w.a) && is_direct(&r->w.b));
	SIM_ASSERT(s, r->w.a.direct_rx > 0 && r->w.b.direct_rx > 0);
	SIM_ASSERT(s, konce_punch_path(tp_pu(&r->w.b), &sock, &path));
	SIM_ASSERT(s, !apdf(kb) || konce_addr_eq(&path, lease));
}

static void test_pm_connect(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (unsigned k = 0; k < NK; k++) {
			run r;
			run_init(&r, seed, KINDS[k], &(sim_pmgw_cfg){.natpmp = true, .upnp = true, .outbound = true});
			sim_run_until(r.w.s, RUN_FOR_S * SEC);
			konce_addr lease;
			check_mapped(&r, &lease);
			SIM_ASSERT_EQ(r.w.s, sim_pmgw_counters_get(r.gw)->granted, 1);
			SIM_ASSERT_EQ(r.w.s, r.w.a.n.pm_ev[KONCE_PM_EV_MAPPED], 1);
			SIM_ASSERT_EQ(r.w.s, r.w.a.n.pm_ev[KONCE_PM_EV_LOST] + r.w.a.n.pm_ev[KONCE_PM_EV_UNAVAILABLE], 0);
			check_direct_via(&r, KINDS[k], &lease);
			check_delivery_and_notes(&r, &lease);
			run_free(&r);
		}
	}
}

/* The matrix's rule for a symmetric peer and b (test_traversal_matrix.c expected()). */
static enum expect expected_sym(enum kind kb)
{
	if (eim(kb))
		return apdf(kb) ? E_BIRTHDAY : E_DIRECT;
	return E_RELAY;
}

static void test_pm_conntrack(void **state)
{
	(void)state;
	unsigned runs[NK] = {0}, direct[NK] = {0}, via[NK] = {0};
	SIM_FOR_EACH_SEED(seed, 8) {
		for (unsigned k = 0; k < NK; k++) {
			run r;
			run_init(&r, seed, KINDS[k], &(sim_pmgw_cfg){.natpmp = true, .upnp = true});
			sim_run_until(r.w.s, RUN_FOR_S * SEC);
			sim *s = r.w.s;
			konce_addr lease, path;
			unsigned sock;
			check_mapped(&r, &lease);
			check_delivery_and_notes(&r, &lease);
			bool da = is_direct(&r.w.a), db = is_direct(&r.w.b);
			/* b's probe to the lease comes before a opens a flow of its own toward b, so
			 * the lease answers it: direct, also where the pair would be relayed without
			 * the lease (b sym-seq, whose ports a would predict and probe first).  Not
			 * asserted for the birthday pairs: a run in which a's mapping was still unknown
			 * at the introduction probes as usual and can leave a flow of a's own toward
			 * b's reflexive address (SIM_SEEDS=256: cgnat seed 208) */
			/* only the leased side waits (a's count may be 0 too: b's probe through the
			 * lease can verify the pair before a's first round) */
			SIM_ASSERT_EQ(s, konce_punch_counters(tp_pu(&r.w.b))->lease_withheld, 0);
			if (expected_sym(KINDS[k]) != E_BIRTHDAY) {
				SIM_ASSERT(s, da && db);
				SIM_ASSERT(s, r.w.a.direct_rx > 0 && r.w.b.direct_rx > 0);
			}
			runs[k]++;
			direct[k] += da && db;
			via[k] += da && db && konce_punch_path(tp_pu(&r.w.b), &sock, &path) && konce_addr_eq(&path, &lease);
			run_free(&r);
		}
	}
	printf("\nsymmetric NAT with a connection-tracking lease (miniupnpd on Linux) x b: direct / through the lease / runs\n");
	for (unsigned k = 0; k < NK; k++)
		printf("  %-11s %2u / %2u / %2u\n", kind_name[KINDS[k]], direct[k], via[k], runs[k]);
}

static void test_pm_renewed(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (unsigned k = 0; k < NK; k++) {
			run r;
			run_init(&r, seed, KINDS[k],
				 &(sim_pmgw_cfg){.natpmp = true, .upnp = true, .outbound = true, .lease_min_s = 16,
						 .lease_max_s = 24});
			sim_run_until(r.w.s, RUN_FOR_S * SEC);
			konce_addr lease;
			check_mapped(&r, &lease);
			const sim_pmgw_counters *c = sim_pmgw_counters_get(r.gw);
			SIM_ASSERT_EQ(r.w.s, c->granted, 1);
			SIM_ASSERT(r.w.s, c->renewed >= RUN_FOR_S / 12 - 1); /* every 8..12 s */
			SIM_ASSERT_EQ(r.w.s, r.w.a.n.pm_ev[KONCE_PM_EV_LOST] + r.w.a.n.pm_ev[KONCE_PM_EV_UNAVAILABLE], 0);
			/* the path through the lease never broke */
			SIM_ASSERT_EQ(r.w.s, r.w.a.ev_lost + r.w.b.ev_lost, 0);
			check_direct_via(&r, KINDS[k], &lease);
			check_delivery_and_notes(&r, &lease);
			run_free(&r);
		}
	}
}

static void test_pm_fallback(void **state)
{
	(void)state;
	unsigned birthday_direct = 0, birthday_runs = 0;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (int g = 0; g < 3; g++) {
			for (unsigned k = 0; k < NK; k++) {
				run r;
				sim_pmgw_cfg gc = {.natpmp = true, .upnp = true, .outbound = true,
						   .mode = g == 0 ? SIM_PMGW_REFUSE : SIM_PMGW_SILENT};
				run_init(&r, seed, KINDS[k], g == 2 ? NULL : &gc);
				sim_run_until(r.w.s, RUN_FOR_S * SEC);
				sim *s = r.w.s;
				konce_addr m;
				SIM_ASSERT_EQ(s, r.w.a.n.th.pm.state, KONCE_PMST_UNAVAILABLE);
				SIM_ASSERT_EQ(s, r.w.a.n.th.pm.reason, g == 0 ? KONCE_PM_ERR_REFUSED : KONCE_PM_ERR_NO_GATEWAY);
				SIM_ASSERT(s, !konce_trav_mapped(r.w.a.n.t, &m));
				/* the first cycle and the one after the 30 s backoff; never a mapping */
				SIM_ASSERT(s, r.w.a.n.pm_ev[KONCE_PM_EV_UNAVAILABLE] >= 2);
				SIM_ASSERT_EQ(s, r.w.a.n.pm_ev[KONCE_PM_EV_MAPPED], 0);
				SIM_ASSERT_EQ(s, sim_nat_lease_get(r.na, r.w.a.h, TP_MAIN_PORT, NULL, NULL), -ENOENT);
				check_delivery_and_notes(&r, NULL);
				bool da = is_direct(&r.w.a), db = is_direct(&r.w.b);
				switch (expected_sym(KINDS[k])) {
				case E_DIRECT:
					SIM_ASSERT(s, da && db);
					SIM_ASSERT(s, r.w.a.direct_rx > 0 && r.w.b.direct_rx > 0);
					break;
				case E_RELAY:
					SIM_ASSERT(s, !da && !db);
					SIM_ASSERT_EQ(s, r.w.a.direct_rx + r.w.b.direct_rx, 0);
					SIM_ASSERT(s, r.w.a.relay_rx > 0 && r.w.b.relay_rx > 0);
					break;
				case E_BIRTHDAY:
					SIM_ASSERT_EQ(s, da, db);
					birthday_runs++;
					birthday_direct += da;
					break;
				}
				run_free(&r);
			}
		}
	}
	/* birthday probing did run (P(no hit in 6 runs) < 1e-3 at ~64% each) */
	if (birthday_runs >= 6)
		assert_true(birthday_direct > 0);
}

/* The gateway falls silent right after granting; b symmetric, so the lease is the pair's only
 * direct path. */
static void test_pm_lost(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		run r;
		run_init(&r, seed, K_SYMMETRIC,
			 &(sim_pmgw_cfg){.natpmp = true, .outbound = true, .lease_min_s = 30, .lease_max_s = 40});
		sim *s = r.w.s;
		sim_run_until(s, 1 * SEC);
		uint64_t until;
		konce_addr lease, m;
		SIM_ASSERT_EQ(s, sim_nat_lease_get(r.na, r.w.a.h, TP_MAIN_PORT, NULL, &until), 0);
		SIM_ASSERT(s, konce_trav_mapped(r.w.a.n.t, &lease));
		sim_pmgw_set_mode(r.gw, SIM_PMGW_SILENT);
		/* direct through the lease while it lasts */
		sim_run_until(s, until - 1 * SEC);
		check_direct_via(&r, K_SYMMETRIC, &lease);
		unsigned relay_before = r.w.a.relay_rx + r.w.b.relay_rx;
		sim_run_until(s, RUN_FOR_S * SEC);
		/* gone from the NAT, reported LOST, the candidate withdrawn */
		SIM_ASSERT_EQ(s, sim_nat_lease_get(r.na, r.w.a.h, TP_MAIN_PORT, NULL, NULL), -ENOENT);
		SIM_ASSERT_EQ(s, r.w.a.n.pm_ev[KONCE_PM_EV_MAPPED], 1);
		SIM_ASSERT_EQ(s, r.w.a.n.pm_ev[KONCE_PM_EV_LOST], 1);
		/* then the policy starts over and finds no gateway answering */
		SIM_ASSERT(s, r.w.a.n.th.pm.state == KONCE_PMST_LOST || r.w.a.n.th.pm.state == KONCE_PMST_UNAVAILABLE);
		SIM_ASSERT(s, !konce_trav_mapped(r.w.a.n.t, &m));
		/* the direct path broke, and the relay carried what came after */
		SIM_ASSERT(s, !is_direct(&r.w.a) && !is_direct(&r.w.b));
		SIM_ASSERT(s, r.w.a.relay_rx + r.w.b.relay_rx > relay_before);
		check_delivery_and_notes(&r, &lease);
		run_free(&r);
	}
}

/* The daemon's teardown of the worker (konce_portmap_stop, tp_peer_portmap_stop): the policy
 * deletes the lease it holds, and the gateway takes it out of the NAT. */
static void test_pm_stop(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8) {
		for (int upnp = 0; upnp < 2; upnp++) {
			run r;
			run_init(&r, seed, K_PORT_RESTRICTED, &(sim_pmgw_cfg){.natpmp = !upnp, .upnp = true, .outbound = true});
			sim *s = r.w.s;
			sim_run_until(s, 10 * SEC);
			konce_addr lease;
			SIM_ASSERT(s, konce_trav_mapped(r.w.a.n.t, &lease));
			SIM_ASSERT_EQ(s, sim_nat_lease_get(r.na, r.w.a.h, TP_MAIN_PORT, NULL, NULL), 0);
			tp_peer_portmap_stop(&r.w.a);
			sim_run_until(s, 10 * SEC + KONCE_NCTRAVHOST_PORTMAP_STOP_MS * MS);
			SIM_ASSERT_EQ(s, konce_portmap_policy_state_of(sim_pm_policy(r.w.a.n.pm)), KONCE_PM_STOPPED);
			SIM_ASSERT_EQ(s, sim_pm_requests(r.w.a.n.pm, KONCE_PM_OP_DELETE), 1);
			SIM_ASSERT_EQ(s, sim_pmgw_counters_get(r.gw)->deleted, 1);
			SIM_ASSERT_EQ(s, sim_nat_lease_get(r.na, r.w.a.h, TP_MAIN_PORT, NULL, NULL), -ENOENT);
			run_free(&r);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pm_connect),
		cmocka_unit_test(test_pm_conntrack),
		cmocka_unit_test(test_pm_renewed),
		cmocka_unit_test(test_pm_fallback),
		cmocka_unit_test(test_pm_lost),
		cmocka_unit_test(test_pm_stop),
	};
	if (getenv("TP_ONLY"))
		cmocka_set_test_filter(getenv("TP_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
