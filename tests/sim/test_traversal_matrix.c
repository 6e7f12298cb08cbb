/* test_traversal_matrix.c - NAT traversal between every pair of NAT kinds, on the simulator.
 *
 * For each unordered pair of {public, full-cone, restricted-cone, port-restricted-cone, symmetric,
 * symmetric-sequential, cgnat (a port-restricted NAT behind another), port-mapped (netsim's upnp
 * and natpmp: a port-restricted cone whose NAT-PMP/UPnP gateway grants the lease that the peer's
 * port-mapping worker asks for, through the shipping policy, and the unit offers as a candidate;
 * tests/sim/sim_portmap.h)} and each seed: two peers
 * register with two public rendezvous (R1 is the primary, R2 only reveals mapping behaviour), one
 * asks R1 for the other, both punch, and each side sends MATRIX_MSG acked messages over whatever
 * path it has (direct, or relayed through R1).  Links lose 1% of datagrams, duplicate 0.5% and
 * hold back 1% by 15 ms (reordering).
 *
 * Whether a direct path is possible follows from RFC 4787 semantics (docs/TRAVERSAL.md):
 *   M(x): mapping, EIM for public, the cones and cgnat; EDM for the two symmetric kinds.
 *   F(x): filtering, EIF for public and full-cone, ADF for restricted-cone, APDF for the rest.
 *   - both EIM: direct.  Each side's reflexive address is the same toward everyone, and each side's
 *     own probe opens its filter for the other's reflexive address before the other's probe lands.
 *   - EIM e and EDM d: the EDM side's mapping toward e is new and unknown to e.
 *       F(e) is EIF or ADF: direct (e's probe to d's IP opened ADF for any port of it);
 *       F(e) is APDF and d sequential: direct, by predicting d's next ports;
 *       F(e) is APDF and d random: birthday probing, direct with probability ~64% per attempt,
 *       so either outcome is allowed; connectivity is still required.
 *   - either side port-mapped: direct (the lease forwards whatever reaches it; against a symmetric
 *     peer the path must be the lease itself, asserted).
 *   - both EDM: both sequential: direct (each predicts the other; the k-th new mappings meet);
 *     otherwise impossible: relay.
 * Asserted per run: 100% of messages acked both ways; DIRECT at the end (and direct messages
 * received) where direct is possible; never direct where it is impossible.  A sym-seq side (with
 * two rendezvous) ran the node core's filtering test over its fresh socket (trav_host.h opens it
 * as the daemon does), its NAT's step is 1, and the prediction it made at the INTRO counted the
 * fresh socket's mapping as spent (konce path's self_nat).  test_matrix_seq_between runs the sym-seq
 * row with another mapping between each sym-seq side's two registrations (they then read step 2:
 * the bug konce_candidates_refine fixed with the fresh mapping) and holds it to the same outcomes;
 * test_matrix_seq_between_unrefined is its control, hosts that cannot open the fresh socket, whose
 * sym-seq x sym-seq pair then relays.  test_matrix_seq_life runs the sym-seq row with both peers
 * running the mapping lifetime search (the daemon's default): its probe socket's mapping comes
 * after the registrations and is counted too (self_spent 2 when it did).
 * test_matrix_seq_between_life runs both at once: the step is refined only with the probe socket's
 * mapping, which LIFE_ACK reports (a run whose first LIFE_ACK was lost before the INTRO may relay
 * sym-seq x sym-seq, and is counted).
 * The grid prints, per pair, how many seeds ended direct and the mean virtual time from the
 * introduction request to the first message received over the direct path.  TP_ONLY=pattern runs
 * the matching tests alone (TP_ONLY='test_matrix_seq*' SIM_SEEDS=300).  TP_DEBUG=1 prints
 * each run's end state and counters; TP_TRACE=1 each run's traversal events (trav_host.h).
 * The world (NAT kinds, hosts, rendezvous) is trav_world.h's; the single-topology cases are in
 * test_traversal_paths.c, refusal, flood and replay in test_traversal_guard.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/trav_world.h"

static enum expect expected(enum kind a, enum kind b)
{
	/* a lease forwards everything sent to it, from anyone: the peer's probe to the port-mapped
	 * candidate passes whatever the peer's own NAT does */
	if (mapped(a) || mapped(b))
		return E_DIRECT;
	if (eim(a) && eim(b))
		return E_DIRECT;
	if (eim(a) != eim(b)) {
		enum kind e = eim(a) ? a : b, d = eim(a) ? b : a;
		if (!apdf(e) || d == K_SYMSEQ)
			return E_DIRECT;
		return E_BIRTHDAY;
	}
	return a == K_SYMSEQ && b == K_SYMSEQ ? E_DIRECT : E_RELAY;
}

/* With one rendezvous neither side knows its mapping: nobody predicts a sequential NAT's ports and
 * nobody runs birthday probing, so what needs either relays; the rest punches as with two (beside
 * the relay, which carries the first messages). */
static enum expect expected_one_rdv(enum kind a, enum kind b)
{
	if (mapped(a) || mapped(b) || (eim(a) && eim(b)))
		return E_DIRECT;
	if (eim(a) != eim(b))
		return apdf(eim(a) ? a : b) ? E_RELAY : E_DIRECT;
	return E_RELAY;
}

enum { ANS_MAX = 512 }; /* first-answer samples kept per pair (SIM_SEEDS beyond that are run, not kept) */

typedef struct cell {
	unsigned runs, direct, connected;
	uint64_t t_sum; /* us, over direct runs */
	unsigned t_n;
	unsigned nans;
	uint32_t ans_us[ANS_MAX]; /* time to the first answer, per run */
	uint32_t bound_us;        /* its tight bound (the same for every run of the pair) */
	unsigned slow;            /* runs past the bound and two handshake retries */
	/* sym-seq sides: predictions made knowing our NAT sequential, and of them those that
	 * counted every port up to the filtering test's fresh mapping at the true step 1 */
	unsigned seq_sides, seq_fresh;
	unsigned lost_ack; /* test_matrix_seq_between_life: relayed, a side's first LIFE_ACK lost */
} cell;

static cell grid[NKIND][NKIND];

static const scenario SCEN_ONE_RDV = {"one rendezvous", 1, 0.01, 25 * SIM_MS, 3 * SIM_MS};
static const scenario SCEN_IMPAIRED = {"impaired: 2% loss, 20-30 ms", 2, 0.02, 25 * SIM_MS, 5 * SIM_MS};
static const scenario *scen = &SCEN_BASE;
/* Another mapping on each sym-seq side's NAT between its two registrations (test_matrix_seq_between) */
static bool between;
/* Both peers run the mapping lifetime search, as the daemon does by default (test_matrix_seq_life) */
static bool life;

static void run_pair(enum kind ka, enum kind kb, uint64_t seed)
{
	world w;
	world_init_sc(&w, seed, scen);
	sim *s = w.s;
	sim_nat *na, *nb;
	sim_host *ha = make_host(s, ka, 0, &na), *hb = make_host(s, kb, 1, &nb);
	SIM_ASSERT(s, ha && hb);
	/* unequal distances to the primary rendezvous exercise the start-time formula */
	sim_link_cfg near = {.delay_us = 10 * MS, .jitter_us = 2 * MS, .loss = scen->loss, .duplicate = 0.005};
	sim_link_cfg far = {.delay_us = 70 * MS, .jitter_us = 5 * MS, .loss = scen->loss, .duplicate = 0.005};
	sim_link_set_both(s, ha, w.r1.h, &near);
	sim_link_set_both(s, hb, w.r1.h, &far);
	/* messages all through the run, so that a path that goes direct late still carries some */
	/* messages all through the run, so that a path that goes direct late still carries some */
	/* a port-mapped side runs the port-mapping worker against its NAT's gateway, as
	 * node/io/node_trav.c does: the lease is the policy's, offered when it is MAPPED */
	sim_pmgw *gw[2] = {NULL, NULL};
	if (ka == K_MAPPED)
		SIM_ASSERT(s, (gw[0] = sim_pmgw_new(s, na, &MAPPED_GW)) != NULL);
	if (kb == K_MAPPED)
		SIM_ASSERT(s, (gw[1] = sim_pmgw_new(s, nb, &MAPPED_GW)) != NULL);
	world_peers(&w, ha, hb, &(peers_cfg){.nrdv_a = scen->nrdv, .nrdv_b = scen->nrdv,
			.nmsg = MATRIX_MSG, .host_candidates = true, .life = life,
			.portmap_a = gw[0] != NULL, .portmap_b = gw[1] != NULL, .gw_a = gw[0], .gw_b = gw[1]});
	w.a.msg_every = w.b.msg_every = 1400 * MS;
	if (between) {
		/* just before a sym-seq side's first datagram to R2: the registrations then see ports 2
		 * apart, step 2 read off them alone (the lifetime probe socket's mapping on netsim) */
		if (ka == K_SYMSEQ)
			world_spend(&w, ha, TP_MAIN_PORT, &w.rdv[1], 1);
		if (kb == K_SYMSEQ)
			world_spend(&w, hb, TP_MAIN_PORT, &w.rdv[1], 1);
	}
	/* odd seeds: a asks for b; even seeds: b asks for a (the key order, which decides the
	 * controlling side, is random either way) */
	tp_peer *init = (seed & 1) ? &w.a : &w.b;
	if (getenv("TP_TRACE"))
		fprintf(stderr, "=== %s-%s seed %llu\n", kind_name[ka], kind_name[kb], (unsigned long long)seed);
	tp_peer_connect_at(init, 2 * SEC);
	/* at the request: whether each side already had its probe socket's mapping (LIFE_ACK) */
	bool life_known[2] = {false, false};
	if (life) {
		sim_run_until(s, 2 * SEC);
		konce_addr x;
		life_known[0] = konce_travlife_mapping(w.a.n.life, &x) == 0;
		life_known[1] = konce_travlife_mapping(w.b.n.life, &x) == 0;
	}
	sim_run_until(s, RUN_FOR_S * SEC);

	if (getenv("TP_DEBUG")) {
		const struct konce_punch_counters *pa = konce_punch_counters(tp_pu(&w.a)), *pb = konce_punch_counters(tp_pu(&w.b));
		fprintf(stderr, "class a %.2f b %.2f, first relay a %.2f b %.2f, first direct a %.2f b %.2f asked %.2f, last direct event a %.2f b %.2f; ", w.a.class_at / 1e6, w.b.class_at / 1e6, w.a.first_relay_rx / 1e6, w.b.first_relay_rx / 1e6, w.a.first_direct_rx / 1e6, w.b.first_direct_rx / 1e6, init->asked_at / 1e6, w.a.last_direct_at / 1e6, w.b.last_direct_at / 1e6);
		fprintf(stderr, "%s-%s seed %llu: a %s att %llu up %llu relay %u bday %llu | b %s att %llu up %llu relay %u bday %llu ctl %d\n",
		       kind_name[ka], kind_name[kb], (unsigned long long)seed,
		       konce_punch_path_state_name(konce_punch_state(tp_pu(&w.a))), (unsigned long long)pa->attempts,
		       (unsigned long long)pa->upgrades, w.a.ev_relay, (unsigned long long)pa->birthday_probes,
		       konce_punch_path_state_name(konce_punch_state(tp_pu(&w.b))), (unsigned long long)pb->attempts,
		       (unsigned long long)pb->upgrades, w.b.ev_relay, (unsigned long long)pb->birthday_probes,
		       konce_punch_controlling(tp_pu(&w.a)));
		const struct konce_ep_counters *ca = konce_ep_counters(w.a.n.ep), *cb = konce_ep_counters(w.b.n.ep);
		const struct konce_rendezvous_counters *cr = konce_rendezvous_counters(tp_rdv_core(&w.r1));
		fprintf(stderr, "  hs retx a %llu b %llu restarts a %llu b %llu simopen a %llu/%llu b %llu/%llu; relayed %llu refused %llu\n",
			(unsigned long long)ca->hs_retransmits, (unsigned long long)cb->hs_retransmits,
			(unsigned long long)ca->hs_restarts, (unsigned long long)cb->hs_restarts,
			(unsigned long long)ca->simopen_merged, (unsigned long long)ca->simopen_yielded,
			(unsigned long long)cb->simopen_merged, (unsigned long long)cb->simopen_yielded,
			(unsigned long long)cr->relayed, (unsigned long long)cr->relay_refused);
	}
	enum expect e = scen->nrdv < 2 ? expected_one_rdv(ka, kb) : expected(ka, kb);
	if (e != E_DIRECT && scen == &SCEN_BASE) {
		/* direct impossible or a gamble: the relay carries the first messages at once, while the
		 * attempt runs (it gives up KONCE_PUNCH_GIVEUP_MS after the introduction at the earliest).
		 * The rule needs both NAT classes in the introduction: when a side learnt its class less
		 * than 500 ms before the request (a registration delayed by losses on its rendezvous
		 * session), the rendezvous may not have had it, and the first attempt runs to its
		 * give-up before the relay carries anything. */
		uint64_t known = w.a.class_at > w.b.class_at ? w.a.class_at : w.b.class_at;
		uint64_t ready = init->asked_at;
		if (!known || known + 500 * MS > init->asked_at)
			ready += KONCE_PUNCH_GIVEUP_MS * MS;
		for (int side = 0; side < 2; side++) {
			const tp_peer *me = side ? &w.b : &w.a;
			uint64_t first = me->first_relay_rx;
			if (me->first_direct_rx && (!first || me->first_direct_rx < first))
				first = me->first_direct_rx;
			if (!(first && init->asked_at && first < ready + 2500 * MS))
				fprintf(stderr, "%s %s-%s seed %llu: side %d first rx %.3f s, asked %.3f, ready %.3f\n", scen->name,
					kind_name[ka], kind_name[kb], (unsigned long long)seed, side, first / 1e6,
					init->asked_at / 1e6, ready / 1e6);
			SIM_ASSERT(s, first && init->asked_at && first < ready + 2500 * MS);
		}
	}
	bool da = konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT, db = konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT;
	SIM_ASSERT(s, tp_peer_done(&w.a));
	SIM_ASSERT(s, tp_peer_done(&w.b));
	/* what each side's store keeps of the other: its key, no address (reached by rendezvous) */
	world_check_notes(&w, &w.a, scen->nrdv, init == &w.a);
	world_check_notes(&w, &w.b, scen->nrdv, init == &w.b);
	SIM_ASSERT_EQ(s, w.a.ngot, MATRIX_MSG);
	SIM_ASSERT_EQ(s, w.b.ngot, MATRIX_MSG);
	/* with both a mapping between the registrations and the lifetime search on, a sym-seq side
	 * predicts at step 1 only once its probe socket's mapping is known (LIFE_ACK): when the first
	 * REQ or its ACK was lost, the next REQ waits out the probes it may have caused (~20 s), and an
	 * INTRO before then predicts every second port; sym-seq x sym-seq may then relay (counted) */
	bool lacked = false;
	for (int side = 0; side < 2 && between && life; side++) {
		konce_lifetime_status ls;
		konce_addr pl;
		tp_peer *me = side ? &w.b : &w.a;
		lacked |= !life_known[side] && konce_travlife_status(me->n.life, &ls, &pl) && ls.no_acks > 0;
	}
	if (lacked && ka == K_SYMSEQ && kb == K_SYMSEQ && !(da && db)) {
		grid[ka][kb].lost_ack++;
		fprintf(stderr, "%s %s-%s seed %llu: relayed, a first LIFE_ACK lost before the INTRO\n", scen->name,
			kind_name[ka], kind_name[kb], (unsigned long long)seed);
	} else if (e == E_DIRECT) {
		SIM_ASSERT(s, da && db);
		SIM_ASSERT(s, w.a.direct_rx > 0 && w.b.direct_rx > 0);
	} else if (e == E_RELAY) {
		SIM_ASSERT(s, !da && !db);
		SIM_ASSERT_EQ(s, w.a.direct_rx + w.b.direct_rx, 0);
		SIM_ASSERT(s, w.a.relay_rx > 0 && w.b.relay_rx > 0);
	} else {
		SIM_ASSERT_EQ(s, da, db);
		/* direct early enough that messages were still being sent: some went direct */
		uint64_t last_msg = w.a.sent_at[MATRIX_MSG - 1] < w.b.sent_at[MATRIX_MSG - 1]
					    ? w.a.sent_at[MATRIX_MSG - 1] : w.b.sent_at[MATRIX_MSG - 1];
		if (da && w.a.last_direct_at + 2 * SEC < last_msg && w.b.last_direct_at + 2 * SEC < last_msg)
			SIM_ASSERT(s, w.a.direct_rx > 0 && w.b.direct_rx > 0);
	}
	/* against a symmetric peer only the lease can explain a direct path (without it the pair
	 * would be a birthday or relayed pair): the symmetric side's path is the lease itself, from
	 * whichever of its sockets verified first (a birthday socket's PUNCH ack comes back in one
	 * round trip, the node socket's HELLO copy is answered by the handshake in two) */
	for (int side = 0; side < 2; side++) {
		enum kind me = side ? kb : ka, other = side ? ka : kb;
		if (!mapped(other) || eim(me))
			continue;
		unsigned sock;
		konce_addr path, lease;
		SIM_ASSERT(s, konce_trav_mapped(side ? w.a.n.t : w.b.n.t, &lease));
		SIM_ASSERT(s, konce_punch_path(side ? tp_pu(&w.b) : tp_pu(&w.a), &sock, &path));
		SIM_ASSERT(s, konce_addr_eq(&path, &lease));
	}
	/* each port-mapped side holds the one lease its gateway granted, in its NAT, and offers it */
	for (int side = 0; side < 2; side++) {
		konce_addr lease;
		uint16_t ext;
		if (!gw[side])
			continue;
		tp_peer *me = side ? &w.b : &w.a;
		SIM_ASSERT(s, konce_trav_mapped(me->n.t, &lease));
		SIM_ASSERT_EQ(s, sim_nat_lease_get(side ? nb : na, me->h, TP_MAIN_PORT, &ext, NULL), 0);
		SIM_ASSERT_EQ(s, ext, lease.port);
		SIM_ASSERT_EQ(s, sim_pmgw_counters_get(gw[side])->granted, 1);
		SIM_ASSERT_EQ(s, me->n.pm_ev[KONCE_PM_EV_MAPPED], 1);
	}
	cell *c = &grid[ka][kb];
	/* a sym-seq side ran the node core's filtering test (its fresh socket's mapping echoed), its
	 * NAT's step is the true 1 (refined from the registrations' 2 when another mapping came
	 * between them), and, when it knew its NAT sequential at the INTRO, its prediction counted
	 * the fresh socket's mapping as spent: at least that one, at most every port between the last
	 * registered one and the fresh one (the lifetime probe socket's, usually, and whatever loss
	 * made the node open in between).  "Refined" counts the predictions that had the echo: step 1
	 * and exactly that many (an INTRO before the echo counts the fresh socket alone, at the
	 * registrations' step). */
	for (int side = 0; side < 2 && scen->nrdv >= 2; side++) {
		tp_peer *me = side ? &w.b : &w.a;
		if ((side ? kb : ka) != K_SYMSEQ)
			continue;
		konce_trav_info ti;
		konce_trav_path_info pi;
		konce_trav_info_get(me->n.t, &ti);
		SIM_ASSERT(s, ti.filter_started && ti.filter_have_mapping);
		SIM_ASSERT_EQ(s, ti.nat.mapping, KONCE_NATMAP_EDM_SEQ);
		SIM_ASSERT_EQ(s, ti.nat.step, 1);
		SIM_ASSERT(s, ti.rdv[0].have_refl && ti.rdv[1].have_refl);
		unsigned gap = (unsigned)abs((int)ti.rdv[1].refl.port - (int)ti.rdv[0].refl.port);
		if (between)
			SIM_ASSERT_EQ(s, gap, 2);
		SIM_ASSERT_EQ(s, konce_trav_path_info_get(me->n.t, me->other, sim_now(s), &pi), 0);
		if (pi.self_nat.mapping == KONCE_NATMAP_EDM_SEQ) {
			c->seq_sides++;
			int past = (int)ti.filter_mapping.port - (int)pi.self_nat.last_port; /* ports since */
			bool refined = pi.self_nat.step == 1 && (int)pi.self_spent == past;
			c->seq_fresh += refined;
			if (getenv("TP_DEBUG") || !refined)
				fprintf(stderr, "%s %s-%s seed %llu side %d: registrations %u apart, prediction step %u spent %u, fresh %d past\n",
					scen->name, kind_name[ka], kind_name[kb], (unsigned long long)seed, side, gap,
					pi.self_nat.step, pi.self_spent, past);
			SIM_ASSERT(s, pi.self_spent >= 1 && (int)pi.self_spent <= past);
		}
	}
	/* the first answer: the initiator's first message, sent as it asked for the peer, acked */
	bool relay_first = expected(ka, kb) != E_DIRECT || (scen->nrdv < 2 && !mapped(ka) && !mapped(kb));
	uint64_t rtt_a = 2 * near.delay_us, rtt_b = 2 * far.delay_us;
	uint64_t bound = answer_bound(relay_first, init == &w.a ? rtt_a : rtt_b, init == &w.a ? rtt_b : rtt_a,
				      2 * scen->delay_us);
	SIM_ASSERT(s, init->asked_at && init->acked_at[0] > init->asked_at);
	uint64_t answer = init->acked_at[0] - init->asked_at;
	if (getenv("TP_DEBUG") || answer > bound + 2 * KONCE_HS_RETRY_MS * MS)
		fprintf(stderr, "%s %s-%s seed %llu: first answer %.3f s (bound %.3f s, relay first %d)\n", scen->name,
			kind_name[ka], kind_name[kb], (unsigned long long)seed, answer / 1e6, bound / 1e6, relay_first);
	/* no run waits for the give-up (the 2% loss scenario is measured, not held to this: see the
	 * outliers it prints).  In the sym-seq rows (test_matrix_seq_*: a re-registration after the
	 * refinement, or the lifetime search's traffic) the same exception as the relay rule's above:
	 * a side that learnt its class less than 500 ms before the request (a registration delayed by
	 * losses) may be unknown to the rendezvous, and the first attempt then runs to its give-up. */
	uint64_t known = w.a.class_at > w.b.class_at ? w.a.class_at : w.b.class_at;
	bool late = (between || life) && (!known || known + 500 * MS > init->asked_at);
	if (scen != &SCEN_IMPAIRED && !late && !lacked)
		SIM_ASSERT(s, answer < KONCE_PUNCH_GIVEUP_MS * MS);
	c->slow += answer > bound + 2 * KONCE_HS_RETRY_MS * MS;
	c->bound_us = (uint32_t)bound;
	if (c->nans < ANS_MAX)
		c->ans_us[c->nans++] = (uint32_t)answer;
	c->runs++;
	c->connected += tp_peer_done(&w.a) && tp_peer_done(&w.b);
	if (da && db)
		c->direct++;
	uint64_t first = w.a.first_direct_rx;
	if (!first || (w.b.first_direct_rx && w.b.first_direct_rx < first))
		first = w.b.first_direct_rx;
	if (first && init->asked_at) {
		c->t_sum += first - init->asked_at;
		c->t_n++;
	}
	/* nothing leaks: every allocation of the cores is freed below, and none happened since init */
	world_free(&w);
	sim_pmgw_free(gw[0]);
	sim_pmgw_free(gw[1]);
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static void run_matrix(const scenario *sc, uint64_t seeds)
{
	scen = sc;
	between = life = false; /* a failed row test may have left them set */
	memset(grid, 0, sizeof(grid));
	SIM_FOR_EACH_SEED(seed, seeds)
	{
		for (int a = 0; a < NKIND; a++)
			for (int b = a; b < NKIND; b++)
				run_pair((enum kind)a, (enum kind)b, seed);
	}
	printf("\ntraversal grid, %s (%u seeds, %.0f%% loss, 0.5%% duplication, 1%% reordering): \"n/m t\" = n of m runs ended direct, t = mean virtual"
	       " time from the\nintroduction request to the first message over the direct path;"
	       " \"R m/m\" = relayed (direct impossible), all m\nruns delivered every message;"
	       " \"B\" = birthday pair (~64%% per attempt; retried 2 s later, then after 30 s, 60 s, ...)\n%-11s",
	       sc->name, grid[0][0].runs, sc->loss * 100, "");
	for (int b = 0; b < NKIND; b++)
		printf(" %-15s", kind_name[b]);
	printf("\n");
	for (int a = 0; a < NKIND; a++) {
		printf("%-11s", kind_name[a]);
		for (int b = 0; b < NKIND; b++) {
			const cell *c = b >= a ? &grid[a][b] : &grid[b][a];
			char txt[32];
			enum expect e = expected((enum kind)a, (enum kind)b);
			if (!c->runs)
				snprintf(txt, sizeof(txt), "-");
			else if (e == E_RELAY)
				snprintf(txt, sizeof(txt), "R %u/%u", c->connected, c->runs);
			else if (c->t_n)
				snprintf(txt, sizeof(txt), "%s%u/%u %.2fs", e == E_BIRTHDAY ? "B " : "", c->direct,
					 c->runs, (double)c->t_sum / c->t_n / 1e6);
			else
				snprintf(txt, sizeof(txt), "%s%u/%u", e == E_BIRTHDAY ? "B " : "", c->direct, c->runs);
			printf(" %-15s", txt);
		}
		printf("\n");
	}
	/* the first answer per pair: median and max over the seeds, against the pair's loss-free bound */
	printf("\ntime to the first answer, %s (the initiator's first message acked, from its send; median / max over %u"
	       " seeds; bound = loss-free round trips, each run may add 2 x %d ms handshake retries):\n",
	       sc->name, grid[0][0].runs, KONCE_HS_RETRY_MS);
	for (int a = 0; a < NKIND; a++)
		for (int b = a; b < NKIND; b++) {
			cell *c = &grid[a][b];
			if (!c->nans)
				continue;
			qsort(c->ans_us, c->nans, sizeof(c->ans_us[0]), cmp_u32);
			uint32_t med = c->ans_us[c->nans / 2], max = c->ans_us[c->nans - 1];
			unsigned over = 0;
			for (unsigned i = 0; i < c->nans; i++)
				over += c->ans_us[i] > c->bound_us;
			printf("  %-11s x %-11s median %4u ms  max %5u ms  bound %4u ms  over bound %u/%u, over bound + 2 s %u\n",
			       kind_name[a], kind_name[b], med / 1000, max / 1000, c->bound_us / 1000, over, c->nans, c->slow);
			/* the median run lost nothing that mattered: it meets the bound itself (over 8 seeds
			 * or more: over fewer, two unlucky seeds of four are a median) */
			if (c->nans >= 8)
				assert_true(med <= c->bound_us);
		}
	/* birthday pairs: over enough seeds at least one must have gone direct (P(miss) < 1e-3 at 6) */
	for (int a = 0; a < NKIND; a++)
		for (int b = a; b < NKIND; b++)
			if (sc->nrdv >= 2 && expected((enum kind)a, (enum kind)b) == E_BIRTHDAY && grid[a][b].runs >= 6)
				assert_true(grid[a][b].direct > 0);
	scen = &SCEN_BASE;
}

static void test_matrix(void **state)
{
	(void)state;
	run_matrix(&SCEN_BASE, 16);
}

/* The sym-seq row of the matrix, with another mapping on each sym-seq side's NAT between its two
 * registrations (the bug konce_candidates_refine fixed: the registrations alone read step 2, and the
 * peer predicted every second port).  The node core's filtering test refines the step with its
 * fresh mapping; the row must end as the base matrix's (and netsim's) does, each run held to
 * run_pair's assertions, and the prediction of every run that knew its NAT sequential must have
 * used the fresh mapping at step 1. */
static void run_seq_row(const char *what)
{
	memset(grid, 0, sizeof(grid));
	SIM_FOR_EACH_SEED(seed, 8)
	{
		for (int k = 0; k < NKIND; k++)
			run_pair(k < K_SYMSEQ ? (enum kind)k : K_SYMSEQ, k < K_SYMSEQ ? K_SYMSEQ : (enum kind)k, seed);
	}
	printf("\nsym-seq row, %s: runs ended direct / runs, sym-seq sides whose prediction used the fresh"
	       " mapping at step 1 / sides that predicted\n", what);
	for (int k = 0; k < NKIND; k++) {
		const cell *c = k < K_SYMSEQ ? &grid[k][K_SYMSEQ] : &grid[K_SYMSEQ][k];
		enum expect e = expected(K_SYMSEQ, (enum kind)k);
		printf("  sym-seq x %-11s %s%u/%u direct, refined %u/%u\n", kind_name[k],
		       e == E_RELAY ? "R " : e == E_BIRTHDAY ? "B " : "", c->direct, c->runs, c->seq_fresh, c->seq_sides);
		/* the sym-seq sides predicted knowing their NAT sequential, and with the fresh mapping
		 * echoed (all of them but a rare run whose registration loss delayed: see run_pair) */
		assert_true(c->seq_sides > 0 && c->seq_fresh > 0);
		if (c->lost_ack)
			printf("    (%u relayed: a side's first LIFE_ACK lost, the INTRO predicted at step 2)\n", c->lost_ack);
		if (e == E_DIRECT)
			assert_int_equal(c->direct + c->lost_ack, c->runs);
	}
}

static void test_matrix_seq_between(void **state)
{
	(void)state;
	life = false;
	between = true;
	run_seq_row("another mapping between the registrations");
	between = false;
}

/* The sym-seq row with both peers running the mapping lifetime search (the daemon's default): its
 * probe socket's first mapping comes right after the registrations, before the fresh socket's, and
 * the fresh mapping counts both (self_spent 2; 1 when its first mapping came before the
 * registrations). */
static void test_matrix_seq_life(void **state)
{
	(void)state;
	between = false;
	life = true;
	run_seq_row("lifetime search");
	life = false;
}

/* Both at once: another mapping between the registrations (they read step 2) and the lifetime
 * search on, whose probe socket's first mapping usually comes right after the registrations, so
 * the fresh socket's sits 2 ports past the last registered one and gcd(2, 2) alone kept step 2
 * (sym-seq x sym-seq relayed, seed 1).  The probe socket's mapping, which its rendezvous reports in
 * LIFE_ACK, is a sample too (konce_candidates_refine_all), and the row ends as the base matrix's. */
static void test_matrix_seq_between_life(void **state)
{
	(void)state;
	between = true;
	life = true;
	run_seq_row("another mapping between the registrations, lifetime search");
	between = false;
	life = false;
}

/* The negative control: the same mapping between the registrations on hosts that cannot open the
 * filtering test's socket (node_aux_open failing; the daemon then runs without the test): the
 * step stays the registrations' 2, both sides predict every second port, no pair meets, and
 * sym-seq x sym-seq relays where the refined row goes direct.  (Against a port-restricted cone the
 * step-2 prediction happens to hit: the sym-seq side's probe to the cone's host candidate spends
 * the odd port first; that pair is not a control.) */
static void test_matrix_seq_between_unrefined(void **state)
{
	(void)state;
	static const enum kind other[] = {K_SYMSEQ};
	enum { NOTHER = sizeof(other) / sizeof(other[0]) };
	unsigned direct[NOTHER] = {0}, runs[NOTHER] = {0};
	SIM_FOR_EACH_SEED(seed, 8)
	{
		for (unsigned o = 0; o < NOTHER; o++) {
			world w;
			world_init(&w, seed);
			sim *s = w.s;
			sim_nat *na, *nb;
			sim_host *ha = make_host(s, K_SYMSEQ, 0, &na), *hb = make_host(s, other[o], 1, &nb);
			world_peers(&w, ha, hb, NULL);
			w.a.n.refuse_socks = w.b.n.refuse_socks = true;
			world_spend(&w, ha, TP_MAIN_PORT, &w.rdv[1], 1);
			if (other[o] == K_SYMSEQ)
				world_spend(&w, hb, TP_MAIN_PORT, &w.rdv[1], 1);
			tp_peer_connect_at((seed & 1) ? &w.a : &w.b, 2 * SEC);
			sim_run_until(s, 20 * SEC); /* the quick retry included */
			konce_trav_info ti;
			konce_trav_info_get(w.a.n.t, &ti);
			SIM_ASSERT(s, ti.filter_started && !ti.filter_running && !ti.filter_have_mapping);
			SIM_ASSERT_EQ(s, ti.nat.mapping, KONCE_NATMAP_EDM_SEQ);
			SIM_ASSERT_EQ(s, ti.nat.step, 2);
			bool d = konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT &&
				 konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT;
			direct[o] += d;
			runs[o]++;
			SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b)); /* over the relay */
			world_free(&w);
		}
	}
	for (unsigned o = 0; o < NOTHER; o++) {
		printf("unrefined: sym-seq x %s, another mapping between the registrations, no filtering test: %u/%u direct\n",
		       kind_name[other[o]], direct[o], runs[o]);
		assert_int_equal(direct[o], 0);
	}
}

/* Each peer registers with one rendezvous: its mapping stays unknown (a mapping seen from one
 * destination says nothing of the next), every pair without a port mapping starts on the relay,
 * and the first answer still comes within the relay's round trips. */
static void test_matrix_one_rdv(void **state)
{
	(void)state;
	run_matrix(&SCEN_ONE_RDV, 8);
}

/* Every link loses 2% and delays 20 to 30 ms (the peers' links to the rendezvous keep their
 * distances, 10 and 70 ms, with 2% loss). */
static void test_matrix_impaired(void **state)
{
	(void)state;
	run_matrix(&SCEN_IMPAIRED, 8);
}

/* The start-time formula: A is 10 ms from the rendezvous, B 70 ms, yet their first probes leave
 * within a few milliseconds of each other (the rendezvous measured both RTTs and told A to wait
 * 60 ms longer).  With equal delays instead, B would start 60 ms after A. */
static void test_start_times_cross(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 8)
	{
		world w;
		world_init(&w, seed);
		sim *s = w.s;
		sim_nat *na, *nb;
		sim_host *ha = make_host(s, K_PORT_RESTRICTED, 0, &na), *hb = make_host(s, K_PORT_RESTRICTED, 1, &nb);
		sim_link_cfg near = {.delay_us = 10 * MS, .jitter_us = 1 * MS};
		sim_link_cfg far = {.delay_us = 70 * MS, .jitter_us = 1 * MS};
		sim_link_cfg mid = {.delay_us = 25 * MS, .jitter_us = 1 * MS};
		sim_link_set_both(s, ha, w.r1.h, &near);
		sim_link_set_both(s, hb, w.r1.h, &far);
		sim_link_set_both(s, ha, w.r2.h, &mid);
		sim_link_set_both(s, hb, w.r2.h, &mid);
		sim_link_set_both(s, ha, hb, &mid); /* lossless here: the timing alone is under test */
		world_peers(&w, ha, hb, NULL);
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 10 * SEC);
		SIM_ASSERT(s, tp_first_probe_at(&w.a) && tp_first_probe_at(&w.b));
		SIM_ASSERT_EQ(s, tp_first_probe_intro(&w.a), tp_first_probe_intro(&w.b));
		uint64_t d = tp_first_probe_at(&w.a) > tp_first_probe_at(&w.b) ? tp_first_probe_at(&w.a) - tp_first_probe_at(&w.b)
								   : tp_first_probe_at(&w.b) - tp_first_probe_at(&w.a);
		if (getenv("TP_DEBUG"))
			fprintf(stderr, "start seed %llu: first probes a %.4f b %.4f s; register rtt a %.1f b %.1f ms\n",
				(unsigned long long)seed, tp_first_probe_at(&w.a) / 1e6, tp_first_probe_at(&w.b) / 1e6,
				w.a.n.t->rdv_rtt_us[0] / 1e3, w.b.n.t->rdv_rtt_us[0] / 1e3);
		SIM_ASSERT(s, d <= 4 * MS);
		/* and the first probes already worked: direct within the first round */
		SIM_ASSERT(s, w.a.last_direct_at && w.a.last_direct_at < tp_first_probe_at(&w.a) + 100 * MS);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		world_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_matrix_seq_between),
		cmocka_unit_test(test_matrix_seq_between_unrefined),
		cmocka_unit_test(test_matrix_seq_life),
		cmocka_unit_test(test_matrix_seq_between_life),
		cmocka_unit_test(test_matrix_one_rdv),
		cmocka_unit_test(test_matrix_impaired),
		cmocka_unit_test(test_start_times_cross),
	};
	/* TP_ONLY=pattern runs only the tests whose names match (with SIM_SEEDS=N: many seeds of one) */
	if (getenv("TP_ONLY"))
		cmocka_set_test_filter(getenv("TP_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
