/* test_traversal_paths.c - NAT traversal on single topologies, on the simulator (trav_world.h):
 * two hosts behind one NAT, with and without host candidates, two home NATs behind one CGNAT, a
 * NAT that forgets its mappings mid-transfer, a peer that restarts under the same identity while
 * the other holds their old session, and port prediction: its negative control (one rendezvous)
 * and sequential NATs whose ports moved on since registration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/trav_world.h"

/* A world with two hosts on one LAN (0.5 ms apart) behind one port-restricted NAT that does not
 * hairpin. */
static void same_nat_world(world *w, uint64_t seed, sim_nat **n, sim_host **ha, sim_host **hb)
{
	world_init(w, seed);
	sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	c.hairpin = false;
	*n = sim_nat_add(w->s, "198.51.100.10", &c);
	*ha = sim_host_add_behind(w->s, *n, "10.0.0.2", NULL, NULL);
	*hb = sim_host_add_behind(w->s, *n, "10.0.0.3", NULL, NULL);
	sim_link_cfg lan = {.delay_us = 500, .jitter_us = 100, .loss = 0.01};
	sim_link_set_both(w->s, *ha, *hb, &lan);
}

/* Two hosts behind one NAT that does not hairpin meet over their host candidates. */
static void test_same_nat(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 6)
	{
		world w;
		sim_nat *n;
		sim_host *ha, *hb;
		same_nat_world(&w, seed, &n, &ha, &hb);
		sim *s = w.s;
		world_peers(&w, ha, hb, NULL);
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 20 * SEC);
		unsigned sock;
		konce_addr pa, pb, host_a = sim_host_addr(ha, TP_MAIN_PORT), host_b = sim_host_addr(hb, TP_MAIN_PORT);
		SIM_ASSERT(s, konce_punch_path(tp_pu(&w.a), &sock, &pa) && sock == 0 && konce_addr_eq(&pa, &host_b));
		SIM_ASSERT(s, konce_punch_path(tp_pu(&w.b), &sock, &pb) && sock == 0 && konce_addr_eq(&pb, &host_a));
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		SIM_ASSERT_EQ(s, sim_nat_counters_get(n)->hairpinned, 0);
		world_free(&w);
	}
}

/* The same two hosts with host_candidates = no (the node's default): neither registers its LAN
 * address, so the rendezvous never hands it to the other, nothing is ever sent across the LAN,
 * the other side's LAN address is never a probe target, and the pair (whose NAT does not
 * hairpin) talks through the relay.  The control run above, with the key, goes direct on the LAN. */
static void test_no_host_candidates(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 4)
	{
		world w;
		sim_nat *n;
		sim_host *ha, *hb;
		same_nat_world(&w, seed, &n, &ha, &hb);
		sim *s = w.s;
		world_peers(&w, ha, hb, &(peers_cfg){.nrdv_a = 2, .nrdv_b = 2,
				.nmsg = TP_MSG, .host_candidates = false});
		tp_peer_connect_at(&w.a, 2 * SEC);
		uint64_t probes_a = 0, probes_b = 0;
		konce_addr host_a = sim_host_addr(ha, TP_MAIN_PORT), host_b = sim_host_addr(hb, TP_MAIN_PORT);
		for (uint64_t t = 2 * SEC; t <= 20 * SEC; t += 10 * MS) {
			sim_run_until(s, t);
			/* while an attempt runs, the other side's LAN address is never one of its targets */
			SIM_ASSERT(s, !konce_punch_is_target(tp_pu(&w.a), 0, &host_b));
			SIM_ASSERT(s, !konce_punch_is_target(tp_pu(&w.b), 0, &host_a));
		}
		probes_a = konce_punch_counters(tp_pu(&w.a))->probes;
		probes_b = konce_punch_counters(tp_pu(&w.b))->probes;
		SIM_ASSERT(s, probes_a + probes_b > 0); /* they did punch: at the reflexive addresses */
		SIM_ASSERT_EQ(s, sim_link_counters(s, ha, hb).sent, 0);
		SIM_ASSERT_EQ(s, sim_link_counters(s, hb, ha).sent, 0);
		SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.a)), KONCE_PUNCH_PATH_RELAYED);
		SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.b)), KONCE_PUNCH_PATH_RELAYED);
		SIM_ASSERT(s, w.a.relay_rx > 0 && w.b.relay_rx > 0);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		world_free(&w);
	}
}

/* Two home NATs behind one CGNAT (netsim's cgnat-nested), the hosts on distinct LANs, with
 * host_candidates = no: both peers' reflexive addresses are on the CGNAT's one public address.
 * Where the CGNAT hairpins, a probe to the other's reflexive address turns back at the CGNAT and
 * reaches the other home NAT: with two rendezvous the pair goes direct over the hairpin (asserted;
 * a symmetric-sequential home NAT by prediction through it).  With one nobody predicts, and
 * without the hairpin nothing crosses: they relay.  Every message arrives
 * either way, with one rendezvous and with two, and the first answer meets the relay bound. */
static void test_shared_cgnat(void **state)
{
	(void)state;
	static const struct {
		enum sim_nat_preset home_b;
		bool hairpin;
		unsigned nrdv;
		bool direct;  /* must end direct */
		bool bounded; /* the first answer meets the relay bound (see below) */
	} cases[] = {
		{SIM_NAT_PORT_RESTRICTED_CONE, true, 2, true, true},
		{SIM_NAT_PORT_RESTRICTED_CONE, true, 1, true, true},
		{SIM_NAT_PORT_RESTRICTED_CONE, false, 2, false, true},
		{SIM_NAT_SYMMETRIC_SEQUENTIAL, false, 2, false, true},
		{SIM_NAT_SYMMETRIC_SEQUENTIAL, true, 2, true, true},
		{SIM_NAT_SYMMETRIC_SEQUENTIAL, true, 1, false, true},
		{SIM_NAT_SYMMETRIC_SEQUENTIAL, false, 1, false, true},
	};
	/* Both reflexive addresses are on the CGNAT's public IP and neither side offers a host
	 * candidate, so the rule starts on the relay (nat/candidates.h) whatever the mappings: without
	 * the hairpin the first answer does not wait for the give-up, and with it the pair upgrades. */
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint32_t worst = 0;
		unsigned ndirect = 0, runs = 0;
		SIM_FOR_EACH_SEED(seed, 4)
		{
			world w;
			world_init(&w, seed);
			sim *s = w.s;
			sim_nat_cfg cc = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
			cc.hairpin = cases[k].hairpin;
			sim_nat_cfg ca = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE), cb = sim_nat_preset(cases[k].home_b);
			sim_nat *cgn = sim_nat_add(s, "198.51.100.10", &cc);
			sim_nat *home_a = sim_nat_add_behind(s, cgn, "100.64.1.2", &ca);
			sim_nat *home_b = sim_nat_add_behind(s, cgn, "100.64.2.2", &cb);
			sim_host *ha = sim_host_add_behind(s, home_a, "10.1.0.2", NULL, NULL);
			sim_host *hb = sim_host_add_behind(s, home_b, "10.2.0.2", NULL, NULL);
			SIM_ASSERT(s, ha && hb);
			world_peers(&w, ha, hb, &(peers_cfg){.nrdv_a = cases[k].nrdv, .nrdv_b = cases[k].nrdv,
					.nmsg = TP_MSG, .host_candidates = false});
			tp_peer_connect_at(&w.a, 2 * SEC);
			sim_run_until(s, 30 * SEC);
			bool direct = konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT &&
				      konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT;
			SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
			if (cases[k].direct) {
				SIM_ASSERT(s, direct);
				SIM_ASSERT(s, sim_nat_counters_get(cgn)->hairpinned > 0);
			}
			/* konce path: the shared address was tried; its hairpin carried the pair, or
			 * (off) nothing came back through it before the give-up */
			konce_trav_path_info pi;
			SIM_ASSERT_EQ(s, konce_trav_path_info_get(w.a.n.t, w.a.other, sim_now(s), &pi), 0);
			SIM_ASSERT(s, pi.shared_public);
			if (direct)
				SIM_ASSERT_EQ(s, pi.hairpin, KONCE_NAT_YES);
			if (!cases[k].hairpin)
				SIM_ASSERT_EQ(s, pi.hairpin, KONCE_NAT_NO);
			/* the first answer: both peers 25 ms from R1, the relay RTT 100 ms */
			SIM_ASSERT(s, w.a.asked_at && w.a.acked_at[0] > w.a.asked_at);
			uint64_t answer = w.a.acked_at[0] - w.a.asked_at;
			if (cases[k].bounded)
				SIM_ASSERT(s, answer < answer_bound(true, 50 * MS, 50 * MS, 50 * MS) + 2 * KONCE_HS_RETRY_MS * MS);
			if (answer > worst)
				worst = (uint32_t)answer;
			ndirect += direct;
			runs++;
			world_free(&w);
		}
		printf("shared CGNAT (hairpin %s), home NATs port-restricted and %s, %u rendezvous: %u/%u direct, first answer max %u ms\n",
		       cases[k].hairpin ? "on" : "off", sim_nat_preset_name(cases[k].home_b), cases[k].nrdv, ndirect, runs,
		       worst / 1000);
	}
}

/* A direct path whose NAT forgets its mappings mid-transfer: both sides notice through unanswered
 * keepalives, fall back to the relay, re-register, are introduced again and go direct again; every
 * message arrives.  A's NAT allocates at random, so after the flush its mapping has a new port
 * that B's port-restricted filter refuses: rebinding alone cannot repair the path. */
static void test_flush_recovers(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 6)
	{
		world w;
		world_init(&w, seed);
		sim *s = w.s;
		sim_nat_cfg ca = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		ca.ports = SIM_NAT_PORT_RANDOM;
		sim_nat_cfg cb = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		sim_nat *na = sim_nat_add(s, "198.51.100.10", &ca), *nb = sim_nat_add(s, "198.51.100.20", &cb);
		sim_host *ha = sim_host_add_behind(s, na, "10.0.0.2", NULL, NULL);
		sim_host *hb = sim_host_add_behind(s, nb, "10.0.0.2", NULL, NULL);
		world_peers(&w, ha, hb, &(peers_cfg){.nrdv_a = 2, .nrdv_b = 2, .nmsg = 60, .host_candidates = true});
		w.a.msg_every = w.b.msg_every = SEC;
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 20 * SEC);
		if (getenv("TP_DEBUG"))
			fprintf(stderr, "flush seed %llu before: a %s (att %llu relay %u up %llu nat %d) b %s (att %llu relay %u nat %d)\n",
				(unsigned long long)seed, konce_punch_path_state_name(konce_punch_state(tp_pu(&w.a))),
				(unsigned long long)konce_punch_counters(tp_pu(&w.a))->attempts, w.a.ev_relay,
				(unsigned long long)konce_punch_counters(tp_pu(&w.a))->upgrades, konce_rdvclient_nat(tp_rc(&w.a)).mapping,
				konce_punch_path_state_name(konce_punch_state(tp_pu(&w.b))),
				(unsigned long long)konce_punch_counters(tp_pu(&w.b))->attempts, w.b.ev_relay,
				konce_rdvclient_nat(tp_rc(&w.b)).mapping);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT);
		sim_nat_flush(na);
		uint64_t flushed = sim_now(s);
		sim_run_until(s, 120 * SEC);
		if (getenv("TP_DEBUG"))
			printf("flush seed %llu: lost a %u b %u, relayed rx a %u b %u, attempts a %llu b %llu, "
			       "direct again a %.1fs b %.1fs, rebinds a %llu b %llu\n", (unsigned long long)seed,
			       w.a.ev_lost, w.b.ev_lost, w.a.relay_rx, w.b.relay_rx,
			       (unsigned long long)konce_punch_counters(tp_pu(&w.a))->attempts,
			       (unsigned long long)konce_punch_counters(tp_pu(&w.b))->attempts,
			       (double)w.a.last_direct_at / 1e6, (double)w.b.last_direct_at / 1e6,
			       (unsigned long long)konce_punch_counters(tp_pu(&w.a))->rebinds,
			       (unsigned long long)konce_punch_counters(tp_pu(&w.b))->rebinds);
		SIM_ASSERT(s, w.a.ev_lost + w.b.ev_lost >= 1);
		SIM_ASSERT(s, w.a.relay_rx + w.b.relay_rx > 0);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, w.a.last_direct_at > flushed && w.b.last_direct_at > flushed);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		SIM_ASSERT_EQ(s, w.a.ngot, 60);
		SIM_ASSERT_EQ(s, w.b.ngot, 60);
		world_free(&w);
	}
}

/* A peer restarts under the same identity while the other still holds their old session (the
 * daemon was killed; netsim's test_rendezvous_flood restarts it for each round).  a sits behind a
 * port-restricted NAT, b behind a full cone, and they talk direct.  a restarts, registers and asks
 * for b again.  Its new attempt is a first one (PUNCHING: its HELLO copies are the probes, its
 * traffic held for a direct pair), while b's, with a session in hand, is an upgrade that keeps
 * the relay (PROBING).  b answers a's first HELLO copy before any pair of the attempt is verified, so
 * its COOKIE goes through the relay.  a joins the relay (konce_punch_relay_heard): its INITIATE
 * follows, the session replaces b's stale one at once, and the attempt still makes the path direct.
 * Without that, a held its INITIATE for a direct pair that its HELLO copies could no longer verify
 * (its endpoint had taken the COOKIE) until the give-up, KONCE_PUNCH_GIVEUP_MS later. */
static void test_peer_restart(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 6)
	{
		world w;
		world_init(&w, seed);
		sim *s = w.s;
		sim_nat *na, *nb;
		sim_host *ha = make_host(s, K_PORT_RESTRICTED, 0, &na), *hb = make_host(s, K_FULL, 1, &nb);
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		tp_random_keys(s, ka, kb);
		tp_peer_init_hosts(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL, false, false, false, NULL);
		tp_peer_init_hosts(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL, false, false, false, NULL);
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 15 * SEC);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, tp_peer_done(&w.a));

		tp_peer_crash(&w.a);
		uint64_t restart = sim_now(s);
		tp_peer_init_hosts(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL, false, false, false, NULL);
		tp_peer_connect_at(&w.a, restart);
		sim_run_until(s, restart + 20 * SEC);
		const struct konce_punch_counters *c = konce_punch_counters(tp_pu(&w.a));
		if (getenv("TP_DEBUG"))
			fprintf(stderr, "restart seed %llu: asked %.3f s, first ack %.3f s, relay_joined %llu, giveups %llu\n",
				(unsigned long long)seed, (double)(w.a.asked_at - restart) / 1e6,
				(double)(w.a.acked_at[0] - restart) / 1e6, (unsigned long long)c->relay_joined,
				(unsigned long long)c->giveups);
		SIM_ASSERT(s, tp_peer_done(&w.a));
		SIM_ASSERT(s, w.a.asked_at >= restart && w.a.acked_at[0] > w.a.asked_at);
		/* answered long before an attempt could give up, which did not happen either */
		SIM_ASSERT(s, w.a.acked_at[0] - w.a.asked_at < KONCE_PUNCH_GIVEUP_MS * MS / 2);
		SIM_ASSERT_EQ(s, c->giveups, 0);
		/* and the path is direct again on both sides */
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT);
		world_free(&w);
	}
}

/* A negative control for the rule: registered with one rendezvous only, a peer cannot tell that
 * its NAT allocates sequentially, so nobody predicts its ports, and port-restricted against
 * symmetric-sequential (direct in the matrix, by prediction) must relay. */
static void test_prediction_needed(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 4)
	{
		world w;
		world_init(&w, seed);
		sim *s = w.s;
		sim_nat *na, *nb;
		sim_host *ha = make_host(s, K_PORT_RESTRICTED, 0, &na), *hb = make_host(s, K_SYMSEQ, 1, &nb);
		world_peers(&w, ha, hb, &(peers_cfg){.nrdv_a = 2, .nrdv_b = 1,
				.nmsg = TP_MSG, .host_candidates = true});
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 20 * SEC);
		SIM_ASSERT_EQ(s, konce_rdvclient_nat(tp_rc(&w.b)).mapping, KONCE_NATMAP_UNKNOWN);
		SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.a)), KONCE_PUNCH_PATH_RELAYED);
		SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.b)), KONCE_PUNCH_PATH_RELAYED);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		world_free(&w);
	}
}

/* Two sequential NATs that made other mappings after the registrations saw their last ports: each
 * side skips as many of the peer's predicted ports as its own NAT spent, and a matching pair
 * remains for any two offsets (candidates.h).  The node learns what its NAT spent from its
 * filtering test's fresh socket, whose ECHO tells its mapping: when the other mappings come before
 * that socket's first datagram (da, db of them), the fresh mapping lies da + 1 (db + 1) steps past
 * the registered port, each side counts them all, and the pair goes direct.  The negative control
 * spends its ports only after the fresh socket's mapping: the node counts that one alone, both
 * predictions miss, and the pair relays, as on netsim. */
static void test_seq_offsets(void **state)
{
	(void)state;
	static const struct {
		unsigned da, db;
		bool before_fresh, direct;
	} cases[] = {{1, 1, true, true}, {1, 0, true, true}, {0, 2, true, true}, {3, 1, true, true},
		     {1, 1, false, false}};
	const uint16_t fresh_port = TP_BDAY_BASE + KONCE_TRAV_SOCK_FILTER;
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		SIM_FOR_EACH_SEED(seed, 4)
		{
			world w;
			world_init(&w, seed);
			sim *s = w.s;
			sim_nat *na, *nb;
			sim_host *ha = make_host(s, K_SYMSEQ, 0, &na), *hb = make_host(s, K_SYMSEQ, 1, &nb);
			world_peers(&w, ha, hb, NULL);
			spender *sa = NULL, *sb = NULL;
			if (cases[c].before_fresh) {
				/* before the fresh socket's first datagram (its ECHO_REQ) */
				sa = cases[c].da ? world_spend(&w, ha, fresh_port, NULL, cases[c].da) : NULL;
				sb = cases[c].db ? world_spend(&w, hb, fresh_port, NULL, cases[c].db) : NULL;
			}
			tp_peer_connect_at(&w.a, 3 * SEC);
			if (!cases[c].before_fresh) {
				/* spend once the fresh mappings were echoed, before the introduction */
				sim_run_until(s, 2500 * MS);
				konce_trav_info ia, ib;
				konce_trav_info_get(w.a.n.t, &ia);
				konce_trav_info_get(w.b.n.t, &ib);
				SIM_ASSERT(s, ia.filter_have_mapping && ib.filter_have_mapping);
				world_spend_now(&w, ha, cases[c].da);
				world_spend_now(&w, hb, cases[c].db);
			}
			sim_run_until(s, 20 * SEC); /* the relayed control's quick retry included */
			/* the ports were spent before the introduction */
			SIM_ASSERT(s, !sa || (sa->done && sa->at < 3 * SEC));
			SIM_ASSERT(s, !sb || (sb->done && sb->at < 3 * SEC));
			SIM_ASSERT_EQ(s, konce_rdvclient_nat(tp_rc(&w.a)).mapping, KONCE_NATMAP_EDM_SEQ);
			/* what each side's prediction counted: every port its NAT spent before the fresh
			 * socket, and the fresh socket's */
			konce_trav_path_info pia, pib;
			SIM_ASSERT_EQ(s, konce_trav_path_info_get(w.a.n.t, w.b.key, sim_now(s), &pia), 0);
			SIM_ASSERT_EQ(s, konce_trav_path_info_get(w.b.n.t, w.a.key, sim_now(s), &pib), 0);
			SIM_ASSERT_EQ(s, pia.self_spent, cases[c].before_fresh ? cases[c].da + 1 : 1);
			SIM_ASSERT_EQ(s, pib.self_spent, cases[c].before_fresh ? cases[c].db + 1 : 1);
			bool direct = konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT &&
				      konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT;
			if (direct != cases[c].direct || getenv("TP_DEBUG"))
				fprintf(stderr, "offsets a %u b %u before fresh %d: a %s b %s, spent a %u b %u, attempts a %llu b %llu\n",
					cases[c].da, cases[c].db, cases[c].before_fresh,
					konce_punch_path_state_name(konce_punch_state(tp_pu(&w.a))),
					konce_punch_path_state_name(konce_punch_state(tp_pu(&w.b))), pia.self_spent, pib.self_spent,
					(unsigned long long)konce_punch_counters(tp_pu(&w.a))->attempts,
					(unsigned long long)konce_punch_counters(tp_pu(&w.b))->attempts);
			SIM_ASSERT_EQ(s, direct, cases[c].direct);
			SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
			world_free(&w);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_nat),
		cmocka_unit_test(test_no_host_candidates),
		cmocka_unit_test(test_shared_cgnat),
		cmocka_unit_test(test_flush_recovers),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_prediction_needed),
		cmocka_unit_test(test_seq_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
