/* trav_host.h - the shipping traversal unit (node/core/nctravhost.h) as simulator hosts, for the
 * tests/sim/test_traversal_*.c tests.
 *
 * Each host is what the daemon is around its cores, minus libevent: the shipping node core
 * (node/core/nodecore.h: its endpoint with an explicit identity as the node shows it, its peer
 * table, its pending outcomes, its input queue and the one receive switch), and over it the
 * shipping traversal unit, started as konce_node_traversal() starts it: a traversal configuration
 * (konce/traversal.h: the rendezvous as "KEY@IP:PORT", the service, host candidates,
 * introductions = known, nat_lifetime) read by konce_travconf_parse(), the host candidate the node
 * socket's address, then konce_nctravhost_start() over the node core.  The unit decides everything
 * about traversal (the hooks into the node core, when the traversal and lifetime cores run and in
 * which order, what their events mean, where a datagram on an extra socket goes); this host only
 * gives it the simulator's sockets as its I/O table (konce_nctravhost_io), as node/io/node_trav.c
 * gives it the daemon's.  Both cores draw memory and randomness from the node core's env, the
 * host's seeded one (sim_host_env).
 *
 * The loop is node/io/node_io.c's, at one virtual time: a datagram on the node socket goes into
 * the node core's input queue and a timer turn follows (the node core's timer, konce_nctravhost_run,
 * the drain: the node core's events to the application, its datagrams, its store notes); a
 * datagram on an extra socket goes to konce_nctravhost_input and a kick turn follows (the run, the
 * drain); the unit's io.kick asks for one more kick turn.  Then one timer, at the earliest of the
 * node core's, the unit's and the owner's deadlines.  Datagrams leave from the port of the socket
 * the unit names (TP_MAIN_PORT, or TP_RDV_PORT on a rendezvous, for socket 0; TP_BDAY_BASE + n for
 * socket n), and socket n is bound when the unit opens it and unbound when it closes it: the unit
 * decides which are open (birthday socket n on first use, swept when no attempt needs it; the
 * filtering test's fresh socket KONCE_TRAV_SOCK_FILTER, the filtering service's second port
 * KONCE_TRAV_SOCK_ALT and the lifetime's probe socket KONCE_TRAVLIFE_SOCK_PROBE when its cores
 * ask) and keeps the pool's counters, as in the daemon.  So the node core's filtering test runs
 * here as in the daemon: its fresh socket makes a new mapping on the host's NAT, the rendezvous'
 * ECHO reports it, and a sequential NAT's step is refined with it
 * (konce_rdvclient_set_fresh_mapping) and its spent port counted in the prediction.
 *
 * A rendezvous (tp_rdv) runs the same unit with the rendezvous service on: peers reach it over
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
 * input that delivered it; the traversal core's path events reach the peer through the unit's
 * watch.
 *
 * The mapping lifetime core (node/core/nctravlife.h) runs on every rendezvous (it answers LIFE_REQ)
 * and on a peer made with life (tp_peer_init_hosts: nat_lifetime = auto, the daemon's default).  The
 * port-mapping worker runs on a peer made with portmap (portmap = 1): the shipping policy against
 * a simulated gateway on the host's NAT (sim_portmap.h), at the host's timer, its events handed to
 * the unit as node/io/node_trav.c hands them.  What the daemon's host does and this one does not:
 * the lifetime search on peers that do not ask for it, and the store:
 * the node core makes its store notes (cfg.notes, as with the daemon's store attached) and the host
 * keeps them in order (tp_node.notes, core_host.h), as node_io_kick() hands them to the store
 * worker.  TP_TRACE=1 prints each peer's log lines (the unit's and its cores') and path events with
 * their virtual time.
 */
#ifndef KONCE_TRAV_HOST_H
#define KONCE_TRAV_HOST_H

#include "konce/konce.h"
#include "konce/traversal.h"
#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "nat/rendezvous.h"
#include "node/core/nctrav.h"
#include "node/core/nctravhost.h"
#include "node/core/nodecore.h"
#include "node/core/nctravlife.h"
#include "node/core/trav.h"
#include "node/core/trav_life.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/sim/core_host.h"
#include "tests/sim/sim.h"
#include "tests/sim/sim_portmap.h"

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
	const char *name; /* a peer's, for TP_TRACE; NULL = a rendezvous */
	konce_identity *id;
	uint8_t pk[KONCE_WIRE_KEY];
	konce_nodecore *core; /* the shipping node core: the peer table, the pendings, the endpoint */
	konce_ep *ep;         /* the core's endpoint (konce_nodecore_ep) */
	konce_nctravhost th;  /* the shipping traversal unit over core (nctravhost.h) */
	konce_trav *t;        /* th's traversal core, and its lifetime core (NULL = none), for the tests */
	konce_travlife *life;
	konce_trav_ops base;  /* the node core's ops for the traversal core (nctrav.h): the app's dial */
	/* the traversal configuration the unit is started with, as konce_node_traversal() is given it */
	konce_traversal_config tc;
	char rdv_list[KONCE_TRAV_MAX_RDV * (KONCE_KEY_TEXT_LEN + KONCE_ADDR_STRLEN + 2)];
	bool kicked;  /* the unit asked for a run (io.kick) */
	bool in_turn; /* inside a loop turn (turn() runs it before it ends) */
	bool bound[KONCE_TRAVLIFE_SOCK_PROBE + 1]; /* the node's, the pool's, the filtering test's two, the probe */
	void *owner; /* the tp_peer or tp_rdv */
	void (*on_trav)(void *owner, const konce_trav_event *ev, uint64_t now);
	void (*on_tick)(void *owner, uint64_t now);
	uint64_t tick_at; /* the owner's own timer, UINT64_MAX = none */
	bool refuse_socks; /* opening the sockets above the pool fails, as node_aux_open can */
	/* the node core's store notes, kept in order: what the daemon's store worker would write */
	core_host_notes notes;
	/* port mapping (sim_portmap.h): the LAN's gateway (NULL: none), and the worker running the
	 * shipping policy while the unit wants it (NULL: none) */
	sim_pmgw *gw;
	sim_pm *pm;
	unsigned pm_ev[KONCE_PM_EV_UNAVAILABLE + 1]; /* the policy's events handed to the unit, by type */
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
 * primary).  allow non-NULL: introductions = known; a key counts as known if the node core's known
 * set has a petname for it (nctrav.h, as in the daemon): the other peer's is given one at init if
 * allow(allow_ctx, its key) says so, as the daemon loads the store's rows.  The node registers its
 * address as a host candidate (host_candidates = yes). */
void tp_peer_init(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
		  const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
		  bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx);
/* The same with the node's host_candidates setting (tp_peer_init: yes, the host's address) and
 * life: the peer runs the mapping lifetime search as the daemon does by default (nat_lifetime =
 * auto: node/core/nctravlife.h, its probe socket's first LIFE_REQ to the primary rendezvous at
 * start; tp_peer_init: no lifetime core).  portmap: the node runs with portmap = 1
 * (konce/traversal.h), gw its LAN's gateway (NULL: none answers); as the unit then wants port
 * mapping (the node registers with a rendezvous), the host runs the port-mapping worker
 * (sim_portmap.h) as node/io/node_trav.c start_portmap() does, its events handed to the unit
 * (konce_nctravhost_portmap), which offers a MAPPED lease as our port-mapped candidate and
 * withdraws it when LOST (tp_peer_init: none). */
void tp_peer_init_hosts(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
			const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
			bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx,
			bool host_candidates, bool life, bool portmap, sim_pmgw *gw);
void tp_peer_free(tp_peer *p);
/* The peer's daemon killed: its node freed with nothing more leaving (its sessions stay open at
 * the other end) and every socket it bound released, so that tp_peer_init_hosts() may start it
 * again on the same host, under the same identity. */
void tp_peer_crash(tp_peer *p);
/* Two distinct keys for a pair of peers, from the simulator's seeded randomness; either may be the
 * lower. */
void tp_random_keys(sim *s, uint8_t ka[KONCE_WIRE_KEY], uint8_t kb[KONCE_WIRE_KEY]);
/* The initiator asks for the other peer (by key) at (or after) t, once it knows its NAT class. */
void tp_peer_connect_at(tp_peer *p, uint64_t t);
bool tp_peer_done(const tp_peer *p); /* every message sent was acked and nmsg were sent */
/* The daemon's teardown of the port-mapping worker (konce_portmap_stop): the policy stopped, a
 * held lease deleted by the gateway exchanges that follow on virtual time. */
void tp_peer_portmap_stop(tp_peer *p);
/* The core's punch state for the other peer (a fresh IDLE one while it has no entry), its
 * rendezvous client, and its trace of the other peer's last attempt. */
konce_punch *tp_pu(tp_peer *p);
konce_rdvclient *tp_rc(tp_peer *p);
uint64_t tp_first_probe_at(tp_peer *p);
uint64_t tp_first_probe_intro(tp_peer *p);

#endif
