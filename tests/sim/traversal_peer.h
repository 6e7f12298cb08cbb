/* traversal_peer.h - simulator glue for the traversal tests: a rendezvous host and a peer host
 * that drive nat/rendezvous, nat/rdvclient and nat/punch over sim datagrams.
 *
 * The cores are sans-I/O; this is the thin I/O layer the node will later provide: it demultiplexes
 * datagrams by their first byte, encodes the scheduler's probes as PUNCH packets, binds the extra
 * birthday sockets on first use (ports TP_BDAY_BASE + 1..256), and keeps one timer per host.
 * Rendezvous messages travel directly in datagrams here (in the protocol they ride in an
 * authenticated session; node/base/wire.h, rendezvous section).
 *
 * The application on each peer sends TP_MAX_MSG numbered messages, each acked by the other side and
 * re-sent every 300 ms until acked, over the direct path when there is one and through the
 * rendezvous relay otherwise.  These app datagrams (TP_APP_DATA / TP_APP_ACK) stand in for session
 * packets; they are test-only and not a konce wire format.
 */
#ifndef KONCE_TRAVERSAL_PEER_H
#define KONCE_TRAVERSAL_PEER_H

#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "nat/rendezvous.h"
#include "tests/sim/sim.h"

enum {
	TP_MAIN_PORT = 7000,
	TP_BDAY_BASE = 20000,
	TP_RDV_PORT = 3478,
	TP_MAX_MSG = 64,
	TP_APP_DATA = 0xEE,
	TP_APP_ACK = 0xEF,
};

typedef struct tp_rdv {
	sim *s;
	sim_host *h;
	konce_rendezvous *r;
} tp_rdv;

typedef struct tp_peer {
	sim *s;
	sim_host *h;
	const char *name;
	uint8_t key[KONCE_WIRE_KEY], other[KONCE_WIRE_KEY];
	konce_rdvclient *rc;
	konce_punch *pu;
	bool initiator, asked;
	uint64_t connect_at, asked_at;
	/* application */
	unsigned nmsg, sent;
	uint64_t msg_every, next_msg;
	bool acked[TP_MAX_MSG], got[TP_MAX_MSG];
	uint64_t sent_at[TP_MAX_MSG];
	unsigned ngot, nacked, direct_rx, relay_rx;
	uint64_t first_direct_rx;
	unsigned ev_direct, ev_relay, ev_lost, ev_upgrade;
	uint64_t last_direct_at;
	bool bound[KONCE_PUNCH_BIRTHDAY + 1];
	uint64_t app_tick;
	bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]); /* also applied to probes */
	void *allow_ctx;
	unsigned probes_refused;
	uint64_t first_probe_at; /* when the first probe (not ack) of the last attempt left */
	uint64_t first_probe_intro;
	unsigned self_spent; /* told to the punch core: mappings our NAT made since registering */
	konce_cand self_cand[1]; /* our port-mapped candidate, as registered (tp_peer_set_mapped) */
	unsigned nself_cand;
	uint64_t first_relay_rx; /* when the first app message arrived through the relay */
} tp_peer;

void tp_rdv_init(tp_rdv *r, sim *s, const char *ip, const konce_rendezvous_cfg *cfg);
void tp_rdv_free(tp_rdv *r);
/* A peer on host h (already added), registering with rdv[0, nrdv) (rdv[0] the primary). */
void tp_peer_init(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
		  const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
		  bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx);
void tp_peer_free(tp_peer *p);
/* The initiator asks for an introduction at (or after) t, once it knows its NAT class. */
void tp_peer_connect_at(tp_peer *p, uint64_t t);
bool tp_peer_done(const tp_peer *p); /* every message sent was acked and nmsg were sent */
extern const sim_host_ops tp_peer_ops, tp_rdv_ops;

/* Registers the port-mapped candidate m, and tells the punch core about it on every INTRO. */
int tp_peer_set_mapped(tp_peer *p, const konce_addr *m, uint64_t now);

#endif
