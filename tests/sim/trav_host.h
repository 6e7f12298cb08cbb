/* trav_host.h - the shipping traversal core (node/core/trav.h) as simulator hosts, for the
 * tests/sim/test_traversal_*.c tests.
 *
 * Each host is what the daemon is around the core, minus libevent: the shipping node core
 * (node/core/nodecore.h: its endpoint with an explicit identity as the node shows it, its peer
 * table, its pending outcomes, its input queue and the one receive switch), composed with the
 * traversal core as node/io/node_trav.c composes them: the node core's hooks (on_datagram with
 * the rx kind, outgoing datagrams for path handles, KONCE_CLASS_RENDEZVOUS messages, resolve,
 * is_virtual, traversal) call the traversal core, and the traversal core's ops are the node core's
 * peer table (node/core/nctrav.h).  One timer at the earliest of the two cores' deadlines.
 * Datagrams leave from the port of the socket the core names (TP_MAIN_PORT for socket 0,
 * TP_BDAY_BASE + n for socket n: birthday socket n bound on first use, as node/io/auxsock.c's pool;
 * the filtering test's fresh socket KONCE_TRAV_SOCK_FILTER and the filtering service's second port
 * KONCE_TRAV_SOCK_ALT bound and unbound when the core's SOCK_OPEN / SOCK_CLOSE events ask, and
 * reported with konce_trav_sock_opened(), as node/io/node_trav.c does).  Datagrams that arrive on
 * them go through konce_nodecore_trav_input(), the daemon's one rule.  So the node core's
 * filtering test runs here as in the daemon: its fresh socket makes a new mapping on the host's
 * NAT, the rendezvous' ECHO reports it, and a sequential NAT's step is refined with it
 * (konce_rdvclient_set_fresh_mapping) and its spent port counted in the prediction.
 *
 * A rendezvous (tp_rdv) runs the same core with the rendezvous service on: peers reach it over
 * authenticated sessions, and rendezvous messages ride in them as reliable KONCE_CLASS_RENDEZVOUS
 * messages, exactly as in the daemon.  Its identity is derived from its address (tp_rdv_key), so
 * a peer configured with the rendezvous' addresses knows their keys.
 *
 * The application on each peer sends nmsg numbered messages (konce_nodecore_send, class
 * TP_APP_CLASS, one every msg_every) to the other peer by key once the node core has a peer for it:
 * the initiator resolves the key through the traversal core (a path handle) and dials it, the other
 * side answers on the session that arrives.  A message counts as acked on its DELIVERED outcome;
 * one that failed is sent again on the next session.  Whether a received message came over the
 * direct path or the relay is read from the traversal core's per-peer datagram counters around the
 * input that delivered it.
 *
 * The mapping lifetime core (node/core/nctravlife.h) runs on every rendezvous (it answers LIFE_REQ)
 * and on a peer whose test calls tp_peer_life() (the daemon's default): its probe socket is
 * KONCE_TRAVLIFE_SOCK_PROBE, bound at start, and flush() runs its timer, applies its keepalive and
 * sends its datagrams as node_trav_run() does.  What the daemon's host (node/io/node_trav.c) does
 * and this one does not: the lifetime search on peers that do not ask for it, port mapping
 * (tp_peer_set_mapped registers a lease the test made), log lines, and the store: the node core
 * makes its store notes (cfg.notes, as with the daemon's store attached) and the host keeps them in
 * order (tp_node.notes, core_host.h), as node_io_kick() hands them to the store worker.  TP_TRACE=1 prints each
 * peer's traversal log lines and path events with their virtual time instead.
 */
#ifndef KONCE_TRAV_HOST_H
#define KONCE_TRAV_HOST_H

#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "nat/rendezvous.h"
#include "node/core/nctrav.h"
#include "node/core/nodecore.h"
#include "node/core/nctravlife.h"
#include "node/core/trav.h"
#include "node/core/trav_life.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/sim/core_host.h"
#include "tests/sim/sim.h"

enum {
	TP_MAIN_PORT = 7000,
	TP_BDAY_BASE = 20000,
	TP_RDV_PORT = 3478,
	TP_MAX_MSG = 64,
	TP_APP_CLASS = 256,
};

typedef struct tp_node {
	sim *s;
	sim_host *h;
	konce_identity *id;
	uint8_t pk[KONCE_WIRE_KEY];
	konce_nodecore *core; /* the shipping node core: the peer table, the pendings, the endpoint */
	konce_ep *ep;         /* the core's endpoint (konce_nodecore_ep) */
	konce_trav *t;
	konce_trav_ops base;  /* the node core's ops for the traversal core (nctrav.h) */
	konce_nodecore_trav_glue glue; /* the node core's hooks' context (nctrav.h) */
	konce_travlife *life;          /* the mapping lifetime core (nctravlife.h), NULL = none */
	konce_nctravlife life_with;
	bool bound[KONCE_TRAVLIFE_SOCK_PROBE + 1]; /* the node's, the pool's, the filtering test's two, the probe */
	void *owner; /* the tp_peer or tp_rdv */
	void (*on_trav)(void *owner, const konce_trav_event *ev, uint64_t now);
	void (*on_tick)(void *owner, uint64_t now);
	uint64_t tick_at; /* the owner's own timer, UINT64_MAX = none */
	bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
	void *allow_ctx;
	bool refuse_socks; /* opening the filtering test's sockets fails, as node_aux_open can */
	/* the node core's store notes, kept in order: what the daemon's store worker would write */
	core_host_notes notes;
} tp_node;

typedef struct tp_rdv {
	tp_node n;
	sim *s;
	sim_host *h;
} tp_rdv;

typedef struct tp_peer {
	tp_node n;
	sim *s;
	sim_host *h;
	const char *name;
	uint8_t key[KONCE_WIRE_KEY], other[KONCE_WIRE_KEY]; /* public keys */
	bool initiator, asked;
	uint64_t connect_at, asked_at;
	uint64_t class_at; /* when our rendezvous client first knew our NAT's mapping class */
	uint32_t conn; /* the session with the other peer, 0 = none */
	/* application */
	unsigned nmsg, sent;
	uint64_t msg_every, next_msg;
	bool acked[TP_MAX_MSG], got[TP_MAX_MSG], inflight[TP_MAX_MSG];
	struct tp_send { struct tp_peer *p; unsigned k; } send_ctx[TP_MAX_MSG]; /* outcome callback ctx */
	uint64_t sent_at[TP_MAX_MSG];
	uint64_t acked_at[TP_MAX_MSG]; /* when MSG_DELIVERED first came, 0 = not yet */
	unsigned ngot, nacked, direct_rx, relay_rx;
	uint64_t first_direct_rx, first_relay_rx;
	unsigned ev_direct, ev_relay, ev_lost;
	uint64_t last_direct_at;
	/* the core's per-peer counters before the input being handled */
	uint64_t snap_direct, snap_relayed;
} tp_peer;

/* The key a rendezvous at addr has (its identity is derived from the address). */
void tp_rdv_key(const konce_addr *addr, uint8_t pk[KONCE_WIRE_KEY]);
void tp_rdv_init(tp_rdv *r, sim *s, const char *ip, const konce_rendezvous_cfg *cfg);
void tp_rdv_free(tp_rdv *r);
/* The rendezvous service's core (its counters). */
konce_rendezvous *tp_rdv_core(tp_rdv *r);

/* A peer on host h (already added), with the identity whose secret is key (and the other peer's
 * secret other, from which its public key is derived), registering with rdv[0, nrdv) (rdv[0] the
 * primary).  allow: introductions = known; a key counts as known if the node core's known set
 * has a petname for it (nctrav.h, as in the daemon) or allow says so (the store's predicate).  The node
 * registers its address as a host candidate (host_candidates = yes). */
void tp_peer_init(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
		  const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
		  bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx);
/* The same with the node's host_candidates setting (tp_peer_init: yes, the host's address). */
void tp_peer_init_hosts(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
			const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
			bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx,
			bool host_candidates);
void tp_peer_free(tp_peer *p);
/* The peer runs the mapping lifetime search as the daemon does by default (nat_lifetime = auto:
 * node/core/nctravlife.h, its probe socket's first LIFE_REQ to the primary rendezvous now).
 * Call before the run starts.  Without it a peer runs no lifetime core. */
void tp_peer_life(tp_peer *p);
/* Two distinct keys for a pair of peers, from the simulator's seeded randomness; either may be the
 * lower. */
void tp_random_keys(sim *s, uint8_t ka[KONCE_WIRE_KEY], uint8_t kb[KONCE_WIRE_KEY]);
/* The initiator asks for the other peer (by key) at (or after) t, once it knows its NAT class. */
void tp_peer_connect_at(tp_peer *p, uint64_t t);
bool tp_peer_done(const tp_peer *p); /* every message sent was acked and nmsg were sent */
/* Our port-mapped candidate (the host's lease). */
int tp_peer_set_mapped(tp_peer *p, const konce_addr *m, uint64_t now); /* 0 */
/* The core's punch state for the other peer (a fresh IDLE one while it has no entry), its
 * rendezvous client, and its trace of the other peer's last attempt. */
konce_punch *tp_pu(tp_peer *p);
konce_rdvclient *tp_rc(tp_peer *p);
uint64_t tp_first_probe_at(tp_peer *p);
uint64_t tp_first_probe_intro(tp_peer *p);

#endif
