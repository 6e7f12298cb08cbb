/* test_traversal_guard.c - what a traversal peer and rendezvous refuse, on the simulator
 * (trav_world.h): introductions from unknown keys, a flood of forged registrations and requests
 * from spoofed sources; and that a seed replays exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/trav_world.h"

/* A node that refuses introductions from keys it does not know: no punch, no relayed delivery,
 * and the requester never learns its addresses (it refuses the offer). */
static bool allow_none(void *ctx, const uint8_t key[KONCE_WIRE_KEY]) { return false; }

static void test_refuse_unknown(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1);
	sim *s = w.s;
	sim_host *ha = sim_host_add(s, "203.0.113.10", NULL, NULL), *hb = sim_host_add(s, "203.0.113.20", NULL, NULL);
	world_peers(&w, ha, hb, &(peers_cfg){.nrdv_a = 2, .nrdv_b = 2,
			.nmsg = TP_MSG, .host_candidates = true, .allow_b = allow_none});
	tp_peer_connect_at(&w.a, 2 * SEC);
	sim_run_until(s, 20 * SEC);
	SIM_ASSERT(s, konce_rdvclient_counters(tp_rc(&w.b))->refused > 0);
	SIM_ASSERT_EQ(s, konce_rdvclient_counters(tp_rc(&w.b))->intros, 0);
	SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.b)), KONCE_PUNCH_PATH_IDLE);
	/* b refused at the offer (consent): a never learnt b's addresses, so it never probed */
	SIM_ASSERT_EQ(s, konce_rdvclient_counters(tp_rc(&w.a))->intros, 0);
	SIM_ASSERT_EQ(s, konce_punch_counters(tp_pu(&w.a))->probes, 0);
	SIM_ASSERT_EQ(s, w.b.n.t->punch_bad, 0); /* and b got no probe from a */
	SIM_ASSERT_EQ(s, w.b.ngot, 0);
	SIM_ASSERT(s, !tp_peer_done(&w.a));
	/* b's refusal went back through the rendezvous: a was told, with the introduction's id */
	SIM_ASSERT(s, konce_rendezvous_counters(tp_rdv_core(&w.r1))->intro_declined > 0);
	/* every one reached a, but the last may still be in flight when the run stops */
	uint64_t told = konce_rdvclient_counters(tp_rc(&w.a))->declined,
		 sent = konce_rendezvous_counters(tp_rdv_core(&w.r1))->intro_declined;
	SIM_ASSERT(s, told <= sent && told + 1 >= sent);
	SIM_ASSERT_EQ(s, konce_relay_live(konce_rendezvous_relay(tp_rdv_core(&w.r1)), 20 * SEC), 0);
	world_free(&w);
}

/* Forged registrations and introduction requests from thousands of spoofed sources, sent bare as
 * an old client would: the rendezvous serves only messages on authenticated sessions, so the
 * receive switch drops every one before the service sees it (the service's input counter moves
 * only with the honest pair), nothing is allocated for them, and the honest pair that had
 * registered before is still introduced and goes direct. */
typedef struct flood {
	sim *s;
	sim_host *h;
	konce_addr rdv;
	uint64_t until, sent;
} flood;

static void flood_tick(void *ctx, uint64_t now)
{
	flood *f = ctx;
	if (now >= f->until)
		return;
	uint8_t ip4[4] = {(uint8_t)(1 + sim_rand_below(f->s, 223)), (uint8_t)sim_rand(f->s),
			  (uint8_t)sim_rand(f->s), (uint8_t)sim_rand(f->s)};
	konce_addr from;
	konce_addr_from_v4(&from, ip4, (uint16_t)(1024 + sim_rand_below(f->s, 60000)));
	konce_rdvwire_msg m = {.type = (f->sent & 1) ? KONCE_RDV_INTRO_REQUEST : KONCE_RDV_REGISTER,
			   .id = sim_rand(f->s)};
	for (int i = 0; i < KONCE_WIRE_KEY; i++) {
		m.key[i] = (uint8_t)sim_rand(f->s);
		m.target[i] = (uint8_t)sim_rand(f->s);
	}
	m.ncand = m.type == KONCE_RDV_REGISTER ? KONCE_RDV_MAX_REG_CANDS : 0;
	for (unsigned i = 0; i < m.ncand; i++) {
		m.cand[i].type = KONCE_CAND_HOST;
		m.cand[i].addr = from;
	}
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	sim_send_spoofed(f->s, f->h, &from, &f->rdv, buf, len);
	f->sent++;
	sim_at(f->s, now + 200, flood_tick, f);
}

static void test_rendezvous_flood(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 3)
	{
		sim *s = sim_new(seed);
		world w;
		memset(&w, 0, sizeof(w));
		w.s = s;
		sim_link_cfg dflt = {.delay_us = 25 * MS, .jitter_us = 3 * MS, .loss = 0.01};
		sim_link_default(s, &dflt);
		world_rdvs(&w, &(konce_rendezvous_cfg){.slots = 512});
		sim_nat *na, *nb;
		sim_host *ha = make_host(s, K_PORT_RESTRICTED, 0, &na), *hb = make_host(s, K_SYMSEQ, 1, &nb);
		world_peers(&w, ha, hb, NULL);
		tp_peer_connect_at(&w.a, 5 * SEC);
		flood f = {s, sim_host_add(s, "192.0.2.66", NULL, NULL), w.rdv[0], 30 * SEC, 0};
		sim_at(s, SEC, flood_tick, &f);
		/* the honest pair's sessions and registrations are made in the first second; the
		 * flood's datagrams allocate nothing at the rendezvous (its sessions' own traffic may) */
		const konce_env *renv = sim_host_env(w.r1.h);
		sim_run_until(s, SEC);
		uint64_t junk0 = konce_ep_counters(w.r1.n.ep)->rx_unknown_type;
		sim_run_until(s, 35 * SEC);
		const struct konce_rendezvous_counters *c = konce_rendezvous_counters(tp_rdv_core(&w.r1));
		SIM_ASSERT(s, f.sent > 100000);
		/* every forged datagram that arrived was junk to the receive switch and the endpoint */
		SIM_ASSERT(s, konce_ep_counters(w.r1.n.ep)->rx_unknown_type - junk0 > f.sent * 9 / 10);
		SIM_ASSERT_EQ(s, c->table_full, 0);
		SIM_ASSERT(s, c->rx < 200);                /* the honest pair's messages only */
		SIM_ASSERT_EQ(s, konce_rendezvous_count(tp_rdv_core(&w.r1), sim_now(s)), 2);
		SIM_ASSERT(s, sim_env_live(renv) < 1000);  /* nothing piled up per forged source */
		SIM_ASSERT(s, c->intros >= 1);
		SIM_ASSERT(s, konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		world_free(&w);
	}
}

/* A seed replays exactly: two runs of one pair give the same trace hash. */
static uint64_t one_run_hash(uint64_t seed)
{
	world w;
	world_init(&w, seed);
	sim *s = w.s;
	sim_nat *na, *nb;
	sim_host *ha = make_host(s, K_CGNAT, 0, &na), *hb = make_host(s, K_SYMMETRIC, 1, &nb);
	world_peers(&w, ha, hb, NULL);
	tp_peer_connect_at(&w.a, 2 * SEC);
	sim_run_until(s, 40 * SEC);
	uint64_t h = sim_trace_hash(s);
	world_free(&w);
	return h;
}

static void test_replay(void **state)
{
	(void)state;
	assert_true(one_run_hash(5) == one_run_hash(5));
	assert_true(one_run_hash(5) != one_run_hash(6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuse_unknown),
		cmocka_unit_test(test_rendezvous_flood),
		cmocka_unit_test(test_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
