/* trav_world.h - the NAT-traversal world of the tests/sim/test_traversal_{matrix,paths,guard}.c
 * programs: the NAT kinds and a host of each kind (make_host), two public rendezvous with the
 * links' defaults (world_init, world_rdvs), a pair of peers under fresh keys (world_peers), and the
 * bound on the time to the first answer (answer_bound).  The peers and rendezvous are trav_host.h's.
 * Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_TRAV_WORLD_H
#define KONCE_TEST_TRAV_WORLD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/sim/sim.h"
#include "node/core/trav_info.h"
#include "node/core/trav_int.h"
#include "tests/sim/trav_host.h"

#define MS SIM_MS
#define SEC SIM_SEC

enum kind { K_PUBLIC, K_FULL, K_RESTRICTED, K_PORT_RESTRICTED, K_SYMMETRIC, K_SYMSEQ, K_CGNAT, K_MAPPED, NKIND };
static const char *const kind_name[NKIND] = {"public", "full-cone", "restricted", "port-restr",
					     "symmetric", "sym-seq", "cgnat", "port-mapped"};
/* K_MAPPED's gateway (sim_portmap.h): NAT-PMP and UPnP-IGD, granting what the policy asks for:
 * the node's port, which the NAT's own (endpoint-independent, port-preserving) mapping of the node
 * socket holds, so that mapping becomes the lease, open to everyone, as on netsim's miniupnpd. */
static const sim_pmgw_cfg MAPPED_GW = {.natpmp = true, .upnp = true};
enum expect { E_DIRECT, E_BIRTHDAY, E_RELAY };
enum { TP_MSG = 5, MATRIX_MSG = 48, RUN_FOR_S = 75 };

static inline bool eim(enum kind k) { return k != K_SYMMETRIC && k != K_SYMSEQ; }
static inline bool mapped(enum kind k) { return k == K_MAPPED; }
static inline bool apdf(enum kind k) { return k == K_PORT_RESTRICTED || k == K_CGNAT || !eim(k); }


/* A host of the given kind; idx 0 or 1 picks distinct public addresses and distinct private
 * LANs, as netsim does (10.1.0.0/24, 10.2.0.0/24): a probe to the other side's host candidate
 * then leaves through the NAT and, as on a real sequential NAT, spends a port. */
/* The public address (IP) of a host of kind k at idx: its own, or its (outermost) NAT's. */
static inline void host_public_ip(enum kind k, int idx, char pub[32])
{
	snprintf(pub, 32, k == K_PUBLIC ? "203.0.113.%d" : "198.51.100.%d", 10 + 10 * idx);
}

static inline sim_host *make_host(sim *s, enum kind k, int idx, sim_nat **nat_out)
{
	char pub[32], lan[32], mid[32];
	host_public_ip(k, idx, pub);
	snprintf(lan, sizeof(lan), "10.%d.0.2", 1 + idx);
	snprintf(mid, sizeof(mid), "100.64.%d.2", 1 + idx);
	*nat_out = NULL;
	if (k == K_PUBLIC)
		return sim_host_add(s, pub, NULL, NULL);
	if (k == K_CGNAT) {
		sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		sim_nat *cgn = sim_nat_add(s, pub, &c);
		sim_nat *home = sim_nat_add_behind(s, cgn, mid, &c);
		*nat_out = home;
		return sim_host_add_behind(s, home, lan, NULL, NULL);
	}
	if (k == K_MAPPED) {
		/* netsim's upnp and natpmp presets: a port-restricted cone with a port-mapping service.
		 * The lease protocols' I/O (libnatpmp, miniupnpc; node/io/portmap_io.c) is proven
		 * against real miniupnpd on netsim; here the caller puts a gateway (MAPPED_GW) on the
		 * NAT and makes the peer with portmap (peers_cfg): the shipping policy
		 * (nat/portmap_policy.c) obtains the lease, and the unit offers it. */
		sim_nat_cfg c = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		sim_nat *n = sim_nat_add(s, pub, &c);
		*nat_out = n;
		return sim_host_add_behind(s, n, lan, NULL, NULL);
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

/* Other mappings on a host's NAT at a chosen moment (world_spend): when host h first sends a
 * datagram from port from_port (to `to` too, with match_to), it first sends n datagrams from
 * SPEND_PORT to addresses that exist nowhere, which its NAT maps all the same (a sequential NAT
 * spends a port on each, test_sim_nat's test_unreachable_spends_port), before that datagram
 * leaves: another host behind the NAT, or the daemon's lifetime probe socket, at that moment. */
enum { SPEND_PORT = 9000, SPENDERS = 4 };
typedef struct spender {
	sim_host *h;
	uint16_t from_port;
	bool match_to;
	konce_addr to;
	unsigned n;
	bool done;
	uint64_t at; /* when it spent */
} spender;

typedef struct world {
	sim *s;
	tp_rdv r1, r2;
	tp_peer a, b;
	konce_addr rdv[2];
	spender sp[SPENDERS];
	unsigned nsp, nowhere; /* spenders; destinations used */
	bool spending;
} world;

/* n datagrams from h's SPEND_PORT to addresses that exist nowhere, now: n new mappings on h's NAT. */
static inline void world_spend_now(world *w, sim_host *h, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		konce_addr to;
		char txt[40];
		unsigned d = w->nowhere++; /* distinct: an EDM NAT maps each anew */
		snprintf(txt, sizeof(txt), "198.18.%u.%u:%u", d / 200, 1 + d % 200, 1000 + d);
		SIM_ASSERT(w->s, konce_addr_parse(&to, txt) == 0);
		SIM_ASSERT_EQ(w->s, sim_send(w->s, h, SPEND_PORT, &to, "x", 1), 0);
	}
}

/* The simulator's tracer: each send is checked against the spenders (SIM_TRACE=1's printing is
 * replaced in the worlds that spend). */
static inline void world_spend_trace(void *ctx, const sim_trace_ev *ev)
{
	world *w = ctx;
	if (ev->kind != SIM_TR_SEND || w->spending)
		return;
	for (unsigned i = 0; i < w->nsp; i++) {
		spender *sp = &w->sp[i];
		if (sp->done || ev->host != sp->h || ev->from.port != sp->from_port ||
		    (sp->match_to && !konce_addr_eq(&ev->to, &sp->to)))
			continue;
		sp->done = true;
		sp->at = ev->now;
		w->spending = true;
		world_spend_now(w, sp->h, sp->n);
		w->spending = false;
	}
}

/* Adds a spender (its n datagrams before h's first from from_port, to *to if not NULL). */
static inline spender *world_spend(world *w, sim_host *h, uint16_t from_port, const konce_addr *to, unsigned n)
{
	SIM_ASSERT(w->s, w->nsp < SPENDERS);
	spender *sp = &w->sp[w->nsp++];
	*sp = (spender){.h = h, .from_port = from_port, .match_to = to != NULL, .n = n};
	if (to)
		sp->to = *to;
	sim_set_tracer(w->s, world_spend_trace, w);
	return sp;
}

/* The store notes a connected peer's node core made (tp_node.notes: what the daemon's store worker
 * would write), as docs/STORE.md says they are: the other peer's session came up (SEEN and a
 * successful HANDSHAKE under its key), and no note for the other peer carries an address, for
 * every pair: the matrix reaches each peer by key through a rendezvous, so its session runs at a
 * path handle or at a NAT mapping punched for it, never at an address to keep.  That holds also
 * when the other's handshake reaches this node at its punched mapping before this node's
 * traversal core knows the path, with this node's introduction late (test_matrix_impaired,
 * full-cone x full-cone, SIM_SEED=12) or not come yet (test_matrix, port-restricted x
 * port-mapped, SIM_SEED=9): the node core's nc_note_addr().  Every rendezvous note carries that
 * rendezvous' own address when it carries one, and each of the nrdv it registers with has one;
 * no note names another key.  dialled: me asked for the other peer, so its SEEN note makes a row
 * in the store (not only if the key is known already). */
static inline void world_check_notes(world *w, const tp_peer *me, unsigned nrdv, bool dialled)
{
	size_t seen = 0, hs = 0, row = 0;
	if (getenv("TP_NOTES"))
		for (size_t i = 0; i < me->n.notes.n; i++) {
			const konce_nc_note *e = &me->n.notes.v[i];
			char a[KONCE_ADDR_STRLEN] = "-";
			if (e->has_addr)
				konce_addr_str(&e->addr, a);
			fprintf(stderr, "%s note %d key %02x%02x ok %d flags %u addr %s\n", me->name, e->type, e->pk[0],
				e->pk[1], e->ok, e->flags, a);
		}
	SIM_ASSERT(w->s, !me->n.notes.oom);
	for (size_t i = 0; i < me->n.notes.n; i++) {
		const konce_nc_note *e = &me->n.notes.v[i];
		if (!memcmp(e->pk, me->other, KONCE_WIRE_KEY)) {
			SIM_ASSERT(w->s, !e->has_addr);
			seen += e->type == KONCE_NC_NOTE_SEEN;
			row += e->type == KONCE_NC_NOTE_SEEN && !(e->flags & KONCE_NC_NOTE_IF_KNOWN);
			hs += e->type == KONCE_NC_NOTE_HANDSHAKE && e->ok;
			continue;
		}
		int r = -1;
		for (int k = 0; k < 2; k++) {
			uint8_t pk[KONCE_WIRE_KEY];
			tp_rdv_key(&w->rdv[k], pk);
			if (!memcmp(e->pk, pk, KONCE_WIRE_KEY))
				r = k;
		}
		SIM_ASSERT(w->s, r >= 0);
		SIM_ASSERT(w->s, !e->has_addr || konce_addr_eq(&e->addr, &w->rdv[r]));
	}
	SIM_ASSERT(w->s, seen >= 1 && hs >= 1);
	SIM_ASSERT(w->s, !dialled || row >= 1); /* the side that asked for the other records it */
	/* each rendezvous it registers with (rdv[0, nrdv)) was noted with its address: we dialled it */
	for (unsigned k = 0; k < nrdv; k++) {
		uint8_t pk[KONCE_WIRE_KEY];
		tp_rdv_key(&w->rdv[k], pk);
		SIM_ASSERT(w->s, core_host_notes_count(&me->n.notes, pk, &w->rdv[k]) >= 1);
	}
}

/* The two public rendezvous, 192.0.2.1 and .2, with rc (NULL: trav_host.h's defaults). */
static inline void world_rdvs(world *w, const konce_rendezvous_cfg *rc)
{
	tp_rdv_init(&w->r1, w->s, "192.0.2.1", rc);
	tp_rdv_init(&w->r2, w->s, "192.0.2.2", rc);
	w->rdv[0] = sim_host_addr(w->r1.h, TP_RDV_PORT);
	w->rdv[1] = sim_host_addr(w->r2.h, TP_RDV_PORT);
}

/* sc: the links' defaults (the matrix's scenario; every other test the base one) */
static inline void world_init_sc(world *w, uint64_t seed, const scenario *sc)
{
	memset(w, 0, sizeof(*w));
	w->s = sim_new(seed);
	sim_link_cfg dflt = {.delay_us = sc->delay_us, .jitter_us = sc->jitter_us, .loss = sc->loss,
			     .duplicate = 0.005, .reorder = 0.01, .reorder_us = 15 * MS};
	sim_link_default(w->s, &dflt);
	world_rdvs(w, NULL);
}

static inline void world_init(world *w, uint64_t seed) { world_init_sc(w, seed, &SCEN_BASE); }

static inline void world_free(world *w)
{
	tp_peer_free(&w->a);
	tp_peer_free(&w->b);
	tp_rdv_free(&w->r1);
	tp_rdv_free(&w->r2);
	sim_free(w->s);
}

/* How world_peers() makes the pair: how many of the world's rendezvous each registers with, how
 * many messages each sends the other, whether they offer host candidates, b's introduction
 * policy (NULL: b accepts everyone), whether both run the mapping lifetime search, and whether
 * each runs port mapping (portmap = 1) and with which gateway on its LAN (NULL: none). */
typedef struct peers_cfg {
	unsigned nrdv_a, nrdv_b, nmsg;
	bool host_candidates;
	bool (*allow_b)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
	bool life;
	bool portmap_a, portmap_b;
	sim_pmgw *gw_a, *gw_b;
} peers_cfg;
static const peers_cfg PEERS_BASE = {2, 2, TP_MSG, true, NULL, false, false, false, NULL, NULL};

/* Peers a at ha and b at hb, each the other's peer, under fresh keys from the world's seed
 * (pc: NULL for PEERS_BASE).  Neither dials yet (tp_peer_connect_at). */
static inline void world_peers(world *w, sim_host *ha, sim_host *hb, const peers_cfg *pc)
{
	if (!pc)
		pc = &PEERS_BASE;
	uint8_t ka[KONCE_WIRE_KEY], kb[KONCE_WIRE_KEY];
	tp_random_keys(w->s, ka, kb);
	tp_peer_init_hosts(&w->a, w->s, ha, "a", ka, kb, w->rdv, pc->nrdv_a, pc->nmsg, NULL, NULL, pc->host_candidates,
			   pc->life, pc->portmap_a, pc->gw_a);
	tp_peer_init_hosts(&w->b, w->s, hb, "b", kb, ka, w->rdv, pc->nrdv_b, pc->nmsg, pc->allow_b, NULL,
			   pc->host_candidates, pc->life, pc->portmap_b, pc->gw_b);
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
static inline uint64_t answer_bound(bool relay_first, uint64_t rtt_i, uint64_t rtt_t, uint64_t rtt_direct)
{
	uint64_t intro = rtt_i / 2 + rtt_t + (rtt_i > rtt_t ? rtt_i : rtt_t) / 2;
	if (relay_first)
		return intro + 4 * (rtt_i + rtt_t + 10 * MS) + 100 * MS;
	return intro + 5 * (rtt_direct + 10 * MS) + 100 * MS;
}

#endif
