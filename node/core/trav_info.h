/* trav_info.h - read-only views of the traversal core (trav.h) for its host: structs the core
 * fills for the status answers (konce netcheck, konce path, konce status), the rendezvous it
 * registers with, and the registration refresh the mapping lifetime (trav_life.h) sets.  The host
 * never reads the core's state (trav_int.h) itself.  Nothing here changes the core's state
 * machines. */
#ifndef KONCE_TRAV_INFO_H
#define KONCE_TRAV_INFO_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/candidates.h"
#include "nat/nat.h"
#include "nat/relay.h"
#include "nat/rendezvous.h"
#include "node/core/trav.h"

/* The rendezvous the client registers with ([0] = primary): their count, and *pk, *addr pointing
 * at the core's arrays (valid for its life).  0 when the node runs no client. */
unsigned konce_trav_rdvs(const konce_trav *t, const uint8_t (**pk)[KONCE_WIRE_KEY], const konce_addr **addr);
/* Whether the core runs the rendezvous client / the rendezvous service. */
bool konce_trav_has_client(const konce_trav *t);
bool konce_trav_has_service(const konce_trav *t);
/* The host's port mapping as set by konce_trav_set_mapped(): true and its external address. */
bool konce_trav_mapped(const konce_trav *t, konce_addr *external);
/* The primary rendezvous's latest report of our reflexive address: 0, or -ENOENT. */
int konce_trav_reflexive(const konce_trav *t, konce_addr *a);
/* The registration refresh interval (konce_rdvclient_set_keepalive); no-op without a client. */
void konce_trav_set_rdv_keepalive(konce_trav *t, uint64_t keepalive_us);

/* What the registrations and the filtering test revealed, and the core's counters. */
typedef struct konce_trav_info {
	bool client, service, registered, known_only;
	unsigned nrdv;
	struct {
		uint8_t pk[KONCE_WIRE_KEY];
		konce_addr addr;
		bool have_refl;
		konce_addr refl;  /* our reflexive address as this rendezvous reported it */
		uint64_t rtt_us;  /* the registration's round trip, 0 = not measured */
	} rdv[KONCE_TRAV_MAX_RDV];
	unsigned nhost;
	konce_addr host[KONCE_TRAV_MAX_HOST];
	konce_natinfo nat;
	/* the filtering test, client: not started / running / done (then result) */
	bool filter_started, filter_running, filter_done;
	enum konce_nat_filtering filter_result;
	bool filter_have_mapping;
	konce_addr filter_mapping;
	bool other_ip_rx, other_port_rx, other_ip_sent, other_port_sent;
	/* the filtering service */
	uint64_t filter_echoes, filter_probes, filter_refused;
	bool alt_open;
	konce_addr alt_local;
	/* refusals: introductions we refused / the peers we asked for declined; PUNCH and tagged
	 * HELLOs refused; new keys with no entry to take; strangers evicted from their pool */
	uint64_t intros_refused, intros_declined, probes_refused, peers_full, strangers_evicted;
	/* the traversal-peer table now (node/core/node_travpool.h): entries of peer_capacity in use,
	 * of them solicited (keys we asked to reach) and strangers (at most stranger_capacity) */
	unsigned peer_capacity, stranger_capacity, peers_used, peers_solicited, peers_strangers;
} konce_trav_info;
void konce_trav_info_get(const konce_trav *t, konce_trav_info *out);

/* The rendezvous service's table and counters: 0, or -ENOENT (no service). */
typedef struct konce_trav_service_info {
	struct konce_rendezvous_counters rdv;
	size_t registrations, capacity, relay_pairs;
	struct konce_relay_counters relay;
	uint64_t forged, no_session; /* messages refused for a bad MAC / with no session */
} konce_trav_service_info;
int konce_trav_service_info_get(const konce_trav *t, uint64_t now, konce_trav_service_info *out);

/* The trace of the last attempt to reach pk (konce path): 0, or -ENOENT (no traversal entry). */
typedef struct konce_trav_path_info {
	enum konce_punch_path_state state;
	bool initiator, controlling, solicited;
	uint64_t intro_id;
	uint64_t asked_us, intro_us, first_probe_us, result_us; /* 0 = not (yet) */
	uint32_t delay_us;
	konce_natinfo peer_nat;
	/* our NAT as the last INTRO's prediction used it (a sequential NAT's step, refined by the
	 * filtering test's fresh mapping), and the mappings it made since its last registered port
	 * (self_spent: the fresh socket's among them; candidates.h) */
	konce_natinfo self_nat;
	unsigned self_spent;
	unsigned ncand;
	konce_cand cand[KONCE_RDV_MAX_INTRO_CANDS];
	int result;           /* last konce_punch_ev_type, 0 = none yet */
	unsigned intro_fail;  /* KONCE_IFAIL_* of the last refusal, 0 = none */
	/* both sides behind one public address, no host candidates: the attempt probed through that
	 * NAT's hairpin, which carried a pair (YES), answered nothing before the give-up (NO: off, or
	 * the NATs behind it filter), or neither yet (UNKNOWN) */
	bool shared_public;
	enum konce_nat_tri hairpin;
	konce_addr path;      /* DIRECT: the verified address */
	bool have_path_sock;
	unsigned path_sock;   /* the socket the path was verified on (0 = the node's) */
	struct konce_punch_counters punch;
	uint64_t relayed_tx, relayed_rx, direct_tx, direct_rx, held_dropped;
	uint64_t hs_probes, hs_probes_rx, hs_acks, hs_replies;
	uint64_t session_probes, session_probe_fail, auth_heard;
} konce_trav_path_info;
int konce_trav_path_info_get(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], uint64_t now,
			     konce_trav_path_info *out);
/* How a session at address a travels: "direct" (not a path handle, or a verified direct path),
 * "port-mapped" (direct, to the peer's MAPPED candidate) or "relayed". */
const char *konce_trav_path_name(const konce_trav *t, const konce_addr *a);
/* Counts a datagram on a traversal socket that traversal did not take (in probes_refused). */
void konce_trav_count_refused(konce_trav *t);

#endif
