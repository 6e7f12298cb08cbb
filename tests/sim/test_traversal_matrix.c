/* test_traversal_matrix.c - NAT traversal between every pair of NAT kinds, on the simulator.
 *
 * For each unordered pair of {public, full-cone, restricted-cone, port-restricted-cone, symmetric,
 * symmetric-sequential, cgnat (a port-restricted NAT behind another), port-mapped (netsim's upnp
 * and natpmp: a port-restricted cone whose lease is registered as a candidate)} and each seed: two peers
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
 * received) where direct is possible; never direct where it is impossible.
 * The grid prints, per pair, how many seeds ended direct and the mean virtual time from the
 * introduction request to the first message received over the direct path.  TP_DEBUG=1 prints
 * each run's end state and counters; TP_TRACE=1 each run's traversal events (trav_host.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "node/core/trav_info.h"
#include "node/core/trav_int.h"
#include "tests/sim/trav_host.h"

#define MS SIM_MS
#define SEC SIM_SEC

enum kind { K_PUBLIC, K_FULL, K_RESTRICTED, K_PORT_RESTRICTED, K_SYMMETRIC, K_SYMSEQ, K_CGNAT, K_MAPPED, NKIND };
static const char *const kind_name[NKIND] = {"public", "full-cone", "restricted", "port-restr",
					     "symmetric", "sym-seq", "cgnat", "port-mapped"};
/* The external port of K_MAPPED's lease (distinct from TP_MAIN_PORT, so that only the lease, not a
 * preserved port, can explain an inbound probe). */
enum { MAPPED_EXT_PORT = 41641 };
enum expect { E_DIRECT, E_BIRTHDAY, E_RELAY };
enum { TP_MSG = 5, MATRIX_MSG = 48, RUN_FOR_S = 75 };

static bool eim(enum kind k) { return k != K_SYMMETRIC && k != K_SYMSEQ; }
static bool mapped(enum kind k) { return k == K_MAPPED; }
static bool apdf(enum kind k) { return k == K_PORT_RESTRICTED || k == K_CGNAT || !eim(k); }

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

/* A host of the given kind; idx 0 or 1 picks distinct public addresses and distinct private
 * LANs, as netsim does (10.1.0.0/24, 10.2.0.0/24): a probe to the other side's host candidate
 * then leaves through the NAT and, as on a real sequential NAT, spends a port. */
static sim_host *make_host(sim *s, enum kind k, int idx, sim_nat **nat_out)
{
	char pub[32], lan[32], mid[32];
	snprintf(pub, sizeof(pub), "198.51.100.%d", 10 + 10 * idx);
	snprintf(lan, sizeof(lan), "10.%d.0.2", 1 + idx);
	snprintf(mid, sizeof(mid), "100.64.%d.2", 1 + idx);
	*nat_out = NULL;
	if (k == K_PUBLIC) {
		snprintf(pub, sizeof(pub), "203.0.113.%d", 10 + 10 * idx);
		return sim_host_add(s, pub, NULL, NULL);
	}
	if (k == K_CGNAT) {
		sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		sim_nat *cgn = sim_nat_add(s, pub, &c);
		sim_nat *home = sim_nat_add_behind(s, cgn, mid, &c);
		*nat_out = home;
		return sim_host_add_behind(s, home, lan, NULL, NULL);
	}
	if (k == K_MAPPED) {
		/* netsim's upnp and natpmp presets: a port-restricted cone with a port-mapping service.
		 * The lease protocols (NAT-PMP, UPnP-IGD; node/portmap*.c, nat/portmap_policy.c) are
		 * proven against real miniupnpd on netsim; here the lease they obtain is a static
		 * forward, and run_pair registers it as the peer's port-mapped candidate. */
		sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		sim_nat *n = sim_nat_add(s, pub, &c);
		*nat_out = n;
		sim_host *h = sim_host_add_behind(s, n, lan, NULL, NULL);
		if (h && sim_nat_forward(n, MAPPED_EXT_PORT, h, TP_MAIN_PORT))
			return NULL;
		return h;
	}
	static const enum sim_nat_preset map[] = {
		[K_FULL] = SIM_NAT_FULL_CONE, [K_RESTRICTED] = SIM_NAT_RESTRICTED_CONE,
		[K_PORT_RESTRICTED] = SIM_NAT_PORT_RESTRICTED_CONE, [K_SYMMETRIC] = SIM_NAT_SYMMETRIC,
		[K_SYMSEQ] = SIM_NAT_SYMMETRIC_SEQUENTIAL};
	sim_nat_cfg c = sim_nat_preset(map[k]);
	sim_nat *n = sim_nat_add(s, pub, &c);
	*nat_out = n;
	return sim_host_add_behind(s, n, lan, NULL, NULL);
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
} cell;

static cell grid[NKIND][NKIND];

/* What the matrix runs under: how many rendezvous each peer registers with (one: its NAT's
 * mapping stays unknown, so every pair without a port mapping starts on the relay), and the links'
 * impairment. */
typedef struct scenario {
	const char *name;
	unsigned nrdv;
	double loss;
	uint64_t delay_us, jitter_us; /* the default link (the direct path between the peers) */
} scenario;
static const scenario SCEN_BASE = {"two rendezvous", 2, 0.01, 25 * SIM_MS, 3 * SIM_MS};
static const scenario SCEN_ONE_RDV = {"one rendezvous", 1, 0.01, 25 * SIM_MS, 3 * SIM_MS};
static const scenario SCEN_IMPAIRED = {"impaired: 2% loss, 20-30 ms", 2, 0.02, 25 * SIM_MS, 5 * SIM_MS};
static const scenario *scen = &SCEN_BASE;

typedef struct world {
	sim *s;
	tp_rdv r1, r2;
	tp_peer a, b;
	konce_addr rdv[2];
} world;

/* sc: the links' defaults (the matrix's scenario; every other test the base one) */
static void world_init_sc(world *w, uint64_t seed, const scenario *sc)
{
	memset(w, 0, sizeof(*w));
	w->s = sim_new(seed);
	sim_link_cfg dflt = {.delay_us = sc->delay_us, .jitter_us = sc->jitter_us, .loss = sc->loss,
			     .duplicate = 0.005, .reorder = 0.01, .reorder_us = 15 * MS};
	sim_link_default(w->s, &dflt);
	tp_rdv_init(&w->r1, w->s, "192.0.2.1", NULL);
	tp_rdv_init(&w->r2, w->s, "192.0.2.2", NULL);
	w->rdv[0] = sim_host_addr(w->r1.h, TP_RDV_PORT);
	w->rdv[1] = sim_host_addr(w->r2.h, TP_RDV_PORT);
}

static void world_init(world *w, uint64_t seed) { world_init_sc(w, seed, &SCEN_BASE); }

static void world_free(world *w)
{
	tp_peer_free(&w->a);
	tp_peer_free(&w->b);
	tp_rdv_free(&w->r1);
	tp_rdv_free(&w->r2);
	sim_free(w->s);
}

static void random_keys(sim *s, uint8_t ka[KONCE_WIRE_KEY], uint8_t kb[KONCE_WIRE_KEY])
{
	for (int i = 0; i < KONCE_WIRE_KEY; i++) {
		ka[i] = (uint8_t)sim_rand(s);
		kb[i] = (uint8_t)sim_rand(s);
	}
	kb[0] = (uint8_t)(ka[0] ^ 0x80); /* distinct, and either may be the lower */
}

/* The time to the first answer (the initiator's first message, sent when it asks for the peer,
 * acknowledged) is bounded by the round trips it needs, from the RTTs of the links the run set:
 *   the introduction: the request to the primary (rtt_i / 2), the target's consent (rtt_t), the
 *     INTROs (max / 2, the nearer one delayed to meet the farther);
 *   then on the path it starts on: the handshake (HELLO and answer, INITIATE and ACCEPT: 2 path
 *     RTTs) and the message and its ack (1 path RTT);
 *     a relay-first pair's path is the relay (rtt_i + rtt_t), plus one relay RTT for a direct
 *     pair that verifies mid-handshake (the endpoint restarts its path state);
 *     a held (direct-expected) pair's is the direct one, plus two direct RTTs of punching (the
 *     first probes' crossing, and a peer-reflexive address learnt from the peer's probe);
 *   plus 10 ms of jitter per path RTT and 100 ms for the cores' pacing.
 * This is the bound without a loss; a lost handshake datagram costs KONCE_HS_RETRY_MS, so each run
 * may take two of those more, and the median over the seeds must meet the bound itself. */
static uint64_t answer_bound(bool relay_first, uint64_t rtt_i, uint64_t rtt_t, uint64_t rtt_direct)
{
	uint64_t intro = rtt_i / 2 + rtt_t + (rtt_i > rtt_t ? rtt_i : rtt_t) / 2;
	if (relay_first)
		return intro + 4 * (rtt_i + rtt_t + 10 * MS) + 100 * MS;
	return intro + 5 * (rtt_direct + 10 * MS) + 100 * MS;
}

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
	uint8_t key_a[KONCE_WIRE_KEY], key_b[KONCE_WIRE_KEY];
	random_keys(s, key_a, key_b);
	/* messages all through the run, so that a path that goes direct late still carries some */
	tp_peer_init(&w.a, s, ha, "a", key_a, key_b, w.rdv, scen->nrdv, MATRIX_MSG, NULL, NULL);
	tp_peer_init(&w.b, s, hb, "b", key_b, key_a, w.rdv, scen->nrdv, MATRIX_MSG, NULL, NULL);
	w.a.msg_every = w.b.msg_every = 1400 * MS;
	/* a port-mapped side registers its lease, as node/io/node_trav.c does when the lease arrives */
	if (ka == K_MAPPED) {
		konce_addr m = sim_nat_public(na, MAPPED_EXT_PORT);
		SIM_ASSERT_EQ(s, tp_peer_set_mapped(&w.a, &m, sim_now(s)), 0);
	}
	if (kb == K_MAPPED) {
		konce_addr m = sim_nat_public(nb, MAPPED_EXT_PORT);
		SIM_ASSERT_EQ(s, tp_peer_set_mapped(&w.b, &m, sim_now(s)), 0);
	}
	/* odd seeds: a asks for b; even seeds: b asks for a (the key order, which decides the
	 * controlling side, is random either way) */
	tp_peer *init = (seed & 1) ? &w.a : &w.b;
	if (getenv("TP_TRACE"))
		fprintf(stderr, "=== %s-%s seed %llu\n", kind_name[ka], kind_name[kb], (unsigned long long)seed);
	tp_peer_connect_at(init, 2 * SEC);
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
	SIM_ASSERT_EQ(s, w.a.ngot, MATRIX_MSG);
	SIM_ASSERT_EQ(s, w.b.ngot, MATRIX_MSG);
	if (e == E_DIRECT) {
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
		konce_addr path, lease = sim_nat_public(side ? na : nb, MAPPED_EXT_PORT);
		SIM_ASSERT(s, konce_punch_path(side ? tp_pu(&w.b) : tp_pu(&w.a), &sock, &path));
		SIM_ASSERT(s, konce_addr_eq(&path, &lease));
	}
	cell *c = &grid[ka][kb];
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
	 * outliers it prints) */
	if (scen != &SCEN_IMPAIRED)
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
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static void run_matrix(const scenario *sc, uint64_t seeds)
{
	scen = sc;
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

/* Two hosts behind one NAT that does not hairpin meet over their host candidates. */
static void test_same_nat(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 6)
	{
		world w;
		world_init(&w, seed);
		sim *s = w.s;
		sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		c.hairpin = false;
		sim_nat *n = sim_nat_add(s, "198.51.100.10", &c);
		sim_host *ha = sim_host_add_behind(s, n, "10.0.0.2", NULL, NULL);
		sim_host *hb = sim_host_add_behind(s, n, "10.0.0.3", NULL, NULL);
		sim_link_cfg lan = {.delay_us = 500, .jitter_us = 100, .loss = 0.01};
		sim_link_set_both(s, ha, hb, &lan);
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		random_keys(s, ka, kb);
		tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
		tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL);
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
		world_init(&w, seed);
		sim *s = w.s;
		sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		c.hairpin = false;
		sim_nat *n = sim_nat_add(s, "198.51.100.10", &c);
		sim_host *ha = sim_host_add_behind(s, n, "10.0.0.2", NULL, NULL);
		sim_host *hb = sim_host_add_behind(s, n, "10.0.0.3", NULL, NULL);
		sim_link_cfg lan = {.delay_us = 500, .jitter_us = 100, .loss = 0.01};
		sim_link_set_both(s, ha, hb, &lan);
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		random_keys(s, ka, kb);
		tp_peer_init_hosts(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL, false);
		tp_peer_init_hosts(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL, false);
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
			uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
			random_keys(s, ka, kb);
			tp_peer_init_hosts(&w.a, s, ha, "a", ka, kb, w.rdv, cases[k].nrdv, TP_MSG, NULL, NULL, false);
			tp_peer_init_hosts(&w.b, s, hb, "b", kb, ka, w.rdv, cases[k].nrdv, TP_MSG, NULL, NULL, false);
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
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		random_keys(s, ka, kb);
		tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, 60, NULL, NULL);
		tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, 60, NULL, NULL);
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
	uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
	random_keys(s, ka, kb);
	tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
	tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, allow_none, NULL);
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
	SIM_ASSERT_EQ(s, konce_rdvclient_counters(tp_rc(&w.a))->declined, konce_rendezvous_counters(tp_rdv_core(&w.r1))->intro_declined);
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
		konce_rendezvous_cfg rc = {.slots = 512};
		tp_rdv_init(&w.r1, s, "192.0.2.1", &rc);
		tp_rdv_init(&w.r2, s, "192.0.2.2", &rc);
		w.rdv[0] = sim_host_addr(w.r1.h, TP_RDV_PORT);
		w.rdv[1] = sim_host_addr(w.r2.h, TP_RDV_PORT);
		sim_nat *na, *nb;
		sim_host *ha = make_host(s, K_PORT_RESTRICTED, 0, &na), *hb = make_host(s, K_SYMSEQ, 1, &nb);
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		random_keys(s, ka, kb);
		tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
		tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL);
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
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		random_keys(s, ka, kb);
		tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
		tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 1, TP_MSG, NULL, NULL);
		tp_peer_connect_at(&w.a, 2 * SEC);
		sim_run_until(s, 20 * SEC);
		SIM_ASSERT_EQ(s, konce_rdvclient_nat(tp_rc(&w.b)).mapping, KONCE_NATMAP_UNKNOWN);
		SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.a)), KONCE_PUNCH_PATH_RELAYED);
		SIM_ASSERT_EQ(s, konce_punch_state(tp_pu(&w.b)), KONCE_PUNCH_PATH_RELAYED);
		SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
		world_free(&w);
	}
}

/* Two sequential NATs that made other mappings after the registrations saw their last ports (the
 * node's filtering test opens one): each side skips as many of the peer's predicted ports as its
 * own NAT spent, and a matching pair remains for any two offsets (candidates.h).  The negative
 * control spends a port on each side and tells neither punch core: relayed, as on netsim. */
typedef struct spender {
	sim *s;
	sim_host *h;
	tp_peer *p;
	unsigned n;
	uint64_t at;
} spender;

static void spend_ports(void *ctx, uint64_t now)
{
	spender *sp = ctx;
	if (konce_rdvclient_nat(tp_rc(sp->p)).mapping != KONCE_NATMAP_EDM_SEQ) {
		/* a lost REGISTER: spend only after the registrations saw the last port */
		sim_at(sp->s, now + 100 * MS, spend_ports, sp);
		return;
	}
	sp->at = now;
	for (unsigned i = 0; i < sp->n; i++) {
		konce_addr to;
		char txt[32];
		snprintf(txt, sizeof(txt), "192.0.2.%u:3478", 100 + i); /* nobody: the NAT maps it all the same */
		SIM_ASSERT(sp->s, konce_addr_parse(&to, txt) == 0);
		SIM_ASSERT_EQ(sp->s, sim_send(sp->s, sp->h, 9000, &to, "x", 1), 0);
	}
}

static void test_seq_offsets(void **state)
{
	(void)state;
	static const struct {
		unsigned da, db;
		bool told, direct;
	} cases[] = {{1, 1, true, true}, {1, 0, true, true}, {0, 2, true, true}, {3, 1, true, true},
		     {1, 1, false, false}};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		SIM_FOR_EACH_SEED(seed, 4)
		{
			world w;
			world_init(&w, seed);
			sim *s = w.s;
			sim_nat *na, *nb;
			sim_host *ha = make_host(s, K_SYMSEQ, 0, &na), *hb = make_host(s, K_SYMSEQ, 1, &nb);
			uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
			random_keys(s, ka, kb);
			tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
			tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL);
			spender sa = {s, ha, &w.a, cases[c].da, 0}, sb = {s, hb, &w.b, cases[c].db, 0};
			sim_at(s, 1000 * MS, spend_ports, &sa);
			sim_at(s, 1000 * MS, spend_ports, &sb);
			if (cases[c].told) {
				w.a.self_spent = cases[c].da;
				w.b.self_spent = cases[c].db;
			}
			tp_peer_connect_at(&w.a, 3 * SEC);
			sim_run_until(s, 20 * SEC); /* the relayed control's quick retry included */
			/* the ports were spent before the introduction (the node's filtering test too) */
			SIM_ASSERT(s, sa.at && sa.at < 3 * SEC && sb.at && sb.at < 3 * SEC);
			SIM_ASSERT_EQ(s, konce_rdvclient_nat(tp_rc(&w.a)).mapping, KONCE_NATMAP_EDM_SEQ);
			bool direct = konce_punch_state(tp_pu(&w.a)) == KONCE_PUNCH_PATH_DIRECT &&
				      konce_punch_state(tp_pu(&w.b)) == KONCE_PUNCH_PATH_DIRECT;
			if (direct != cases[c].direct || getenv("TP_DEBUG"))
				fprintf(stderr, "offsets a %u b %u told %d: a %s b %s, attempts a %llu b %llu\n", cases[c].da,
					cases[c].db, cases[c].told, konce_punch_path_state_name(konce_punch_state(tp_pu(&w.a))),
					konce_punch_path_state_name(konce_punch_state(tp_pu(&w.b))),
					(unsigned long long)konce_punch_counters(tp_pu(&w.a))->attempts,
					(unsigned long long)konce_punch_counters(tp_pu(&w.b))->attempts);
			SIM_ASSERT_EQ(s, direct, cases[c].direct);
			SIM_ASSERT(s, tp_peer_done(&w.a) && tp_peer_done(&w.b));
			world_free(&w);
		}
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
	uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
	random_keys(s, ka, kb);
	tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
	tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL);
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
		uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
		random_keys(s, ka, kb);
		tp_peer_init(&w.a, s, ha, "a", ka, kb, w.rdv, 2, TP_MSG, NULL, NULL);
		tp_peer_init(&w.b, s, hb, "b", kb, ka, w.rdv, 2, TP_MSG, NULL, NULL);
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
		cmocka_unit_test(test_matrix_one_rdv),
		cmocka_unit_test(test_matrix_impaired),
		cmocka_unit_test(test_start_times_cross),
		cmocka_unit_test(test_same_nat),
		cmocka_unit_test(test_no_host_candidates),
		cmocka_unit_test(test_shared_cgnat),
		cmocka_unit_test(test_flush_recovers),
		cmocka_unit_test(test_refuse_unknown),
		cmocka_unit_test(test_rendezvous_flood),
		cmocka_unit_test(test_prediction_needed),
		cmocka_unit_test(test_seq_offsets),
		cmocka_unit_test(test_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
