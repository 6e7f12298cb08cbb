/* trav_int.h - the traversal core's state (trav.h), shared by its files (trav.c: the peer table,
 * routing and the pump; trav_hs.c: the handshake as the probe; trav_policy.c: introductions =
 * known; trav_rdvsrv.c: the rendezvous service).  The host reads it only through trav_info.h
 * (node/ctl/ctl_trav.c).  trav.h draws the per-peer state machine. */
#ifndef KONCE_TRAV_INT_H
#define KONCE_TRAV_INT_H

#include <stdarg.h>

#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "nat/filtertest.h"
#include "nat/rendezvous.h"
#include "node/base/ratelimit.h"
#include "node/core/trav.h"

enum { NODE_TRAV_PEERS = 64, HELD_MAX = 2, SEEN_MAX = 4, TRAV_OUT_MIN = 64, TRAV_OUT_MAX = 4096, TRAV_EV_RING = 64 };
/* a peer the rendezvous did not know is asked for again at most this often (ms), on a held datagram */
enum { INTRO_REASK_MS = 500 };

struct tpeer {
	bool used;
	bool solicited;       /* a key we asked to reach; else a stranger (node_travpool.h) */
	uint8_t pk[KONCE_WIRE_KEY];
	konce_punch *pu;
	bool want_intro;      /* ask as soon as we are registered */
	uint8_t held[HELD_MAX][KONCE_WIRE_MAX_DATAGRAM];
	size_t held_len[HELD_MAX];
	unsigned nheld;
	/* the trace of the last attempt (konce path) */
	uint64_t asked_us, intro_us, start_us, result_us, first_probe_us;
	uint64_t intro_id;
	uint32_t delay_us;
	bool initiator;
	konce_natinfo peer_nat;
	konce_natinfo self_nat; /* ours, as the last INTRO's prediction used it */
	unsigned self_spent;    /* mappings our NAT made since self_nat.last_port (candidates.h) */
	unsigned ncand;
	konce_cand cand[KONCE_RDV_MAX_INTRO_CANDS];
	int result;           /* last konce_punch_ev_type, 0 = none yet */
	unsigned intro_fail;  /* KONCE_IFAIL_* of the last refusal */
	unsigned intro_reasks; /* introductions asked again after KONCE_IFAIL_UNKNOWN */
	/* the last INTRO put both sides behind one public address (konce_candidates_shared_public):
	 * whether its hairpin carried the attempt (enum konce_nat_tri: YES a pair verified, NO the
	 * attempt gave up with nothing from the peer, else UNKNOWN); probes and acks from the peer
	 * counted before the attempt */
	bool shared_public;
	uint8_t hairpin;
	uint64_t rx_before;
	konce_addr path;      /* DIRECT: the verified address */
	konce_addr seen[SEEN_MAX]; /* where the peer's PUNCH packets came from (latest SEEN_MAX) */
	unsigned nseen, seen_next;
	uint64_t relayed_tx, relayed_rx, direct_tx, direct_rx, held_dropped;
	/* the handshake as the probe (trav_hs.c) */
	uint8_t opener[KONCE_WIRE_MAX_DATAGRAM]; /* the endpoint's latest HELLO to the path handle */
	size_t opener_len;
	konce_addr reply_to;  /* where the peer's latest handshake packet came from, while attempting */
	bool have_reply_to;
	unsigned hs_copies;   /* HELLO copies sent in this attempt (at most NODE_TRAV_HS_MAX_COPIES) */
	uint64_t hs_probes, hs_probes_rx, hs_acks, hs_replies;
	/* authenticated liveness: session PINGs sent as keepalives (and not sent), authenticated
	 * datagrams heard over the direct path */
	uint64_t session_probes, session_probe_fail, auth_heard;
};

struct trav_out {
	unsigned sock;
	konce_addr to;
	uint16_t len;
	uint8_t data[KONCE_WIRE_MAX_DATAGRAM];
};

struct trav_rdvsrv;

/* The filtering test, both sides (trav_filter.c). */
struct trav_filt {
	/* client */
	konce_filtertest *ft;
	bool started, s_open;
	bool told_fresh;    /* S's mapping went to the rendezvous client (the step refinement) */
	konce_addr local;   /* S's local address */
	/* service */
	bool alt_open;
	konce_addr alt_local;
	konce_ratelimit *rl;
	uint64_t echoes, probes, refused;
};

struct konce_trav {
	const konce_env *env;
	konce_ep *ep;
	uint8_t pk[KONCE_WIRE_KEY];
	konce_trav_ops ops;
	struct trav_rdvsrv *srv; /* the rendezvous service, or NULL */
	konce_rdvclient *rc;          /* the rendezvous client, or NULL */
	unsigned nrdv;
	uint8_t rdv_pk[KONCE_RDVCLIENT_MAX_RDV][KONCE_WIRE_KEY];
	konce_addr rdv_addr[KONCE_RDVCLIENT_MAX_RDV];
	uint64_t rdv_sent_us[KONCE_RDVCLIENT_MAX_RDV], rdv_rtt_us[KONCE_RDVCLIENT_MAX_RDV];
	konce_addr host[KONCE_RDVCLIENT_MAX_HOST];
	unsigned nhost;
	konce_addr local; /* the node socket's address (cfg.local), zero if unknown */
	struct trav_filt filt;
	struct tpeer peers[NODE_TRAV_PEERS];
	bool mapped;             /* the host's port mapping holds */
	konce_addr mapped_ext;
	unsigned nknown; /* peers with a direct or probing address: the receive path checks them */
	bool known_only; /* introductions = known (trav_policy.c) */
	bool dirty;      /* the pump is due (konce_trav_next_timer() says now) */
	/* the output ring (grows by doubling up to TRAV_OUT_MAX; a full ring drops, counted): out_n
	 * entries from out_head, the first out_lent of them handed out by konce_trav_poll_ref() and
	 * kept until konce_trav_sent() (the ring does not grow, which would move them, meanwhile) */
	struct trav_out *out;
	unsigned out_cap, out_head, out_n, out_lent;
	konce_trav_event ev[TRAV_EV_RING];
	unsigned ev_head, ev_n;
	uint64_t out_dropped, ev_dropped;
	uint64_t punch_bad, msg_unknown;
	uint64_t tpeer_full, tpeer_evicted; /* new keys with no entry to take; strangers evicted */
	uint64_t intros_refused, intros_declined; /* by us; by the peers we asked for */
};

/* The entry for pk; with create, a new one if none (node_travpool.h chooses it: a stranger's from
 * the bounded pool).  TPEER_SOLICITED also marks an existing entry solicited.  NULL if none. */
enum { TPEER_FIND = 0, TPEER_STRANGER = 1, TPEER_SOLICITED = 2 };
struct tpeer *tpeer_get(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], int create, uint64_t now);
/* p's path handle. */
void tpeer_vaddr(konce_trav *t, const struct tpeer *p, konce_addr *a);
/* Remembers that the peer's packets came from `from` (the latest SEEN_MAX addresses). */
void tpeer_seen(konce_trav *t, struct tpeer *p, const konce_addr *from);
/* The node's entry for pk (ops.peer). */
bool trav_peer(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out);
/* Queues a datagram from socket sock. */
void trav_send(konce_trav *t, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len);
/* Queues a LOG event. */
void trav_log(konce_trav *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
konce_trav_event *trav_event(konce_trav *t, enum konce_trav_ev_type type);

/* trav_hs.c: the simultaneous-open handshake as the punch probe (docs/TRAVERSAL.md). */
enum {
	NODE_TRAV_HS_SEQ = 0,         /* the seq a HELLO copy is fed to the punch core with: no PUNCH ack */
	NODE_TRAV_HS_MAX_COPIES = 24, /* per attempt; later probes are PUNCH (the candidates come from
				       * the peer: this bounds what one introduction sends to them) */
};
/* An introduction: make sure our endpoint runs a handshake to the peer (both sides must). */
void trav_hs_intro(konce_trav *t, struct tpeer *p, uint64_t now);
/* A datagram from the endpoint to p's handle while no path is chosen (IDLE, PUNCHING): a HELLO
 * becomes the opener (and is still held for the relay); an answer goes to where the peer's
 * handshake came from.  True if it was sent. */
bool trav_hs_outgoing(konce_trav *t, struct tpeer *p, const uint8_t *pkt, size_t len);
/* A probe of the punch core: sent as a copy of the opener when there is one.  True if sent. */
bool trav_hs_probe(konce_trav *t, struct tpeer *p, const konce_punch_out *o, uint64_t now);
/* A HELLO with the tag's magic (node/core/rx_switch.h): when its tag verifies for an introduced
 * peer, fed to the punch core and the endpoint (at the peer's handle); true if taken. */
bool trav_hs_hello(konce_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
/* A datagram from p's known addresses, for the endpoint at p's handle: while attempting, one the
 * endpoint's verdict names the peer's authentic handshake answer (an INITIATE that crossed our
 * attempt, an ACCEPT that opened it) is the punch core's ack for the pair.  *auth_conn gets the
 * session an authenticated DATA packet was for, else 0.  True if it was an ack. */
bool trav_hs_deliver(konce_trav *t, struct tpeer *p, unsigned sock, const uint8_t *pkt, size_t len,
		     const konce_addr *from, uint64_t now, uint32_t *auth_conn);

/* trav_policy.c: the rdvclient allow predicate of "introductions = known" (ctx: the core), and
 * the requester's side of a refusal (resets pk's punch; event DECLINED for the host). */
bool trav_known(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
void trav_declined(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], uint64_t now);

/* trav_filter.c: the filtering test.  new: after the service (asks for the second port); kick: on
 * every REFLEXIVE event; datagram: a FILTER datagram on the node socket, or anything on S;
 * message: a FILTER message from a session. */
int trav_filter_new(konce_trav *t);
void trav_filter_free(konce_trav *t);
void trav_filter_kick(konce_trav *t);
void trav_filter_pump(konce_trav *t, uint64_t now);
uint64_t trav_filter_next_timer(const konce_trav *t);
void trav_filter_timer(konce_trav *t, uint64_t now);
void trav_filter_datagram(konce_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
			  uint64_t now);
void trav_filter_message(konce_trav *t, const uint8_t from_pk[KONCE_WIRE_KEY], const konce_addr *from_addr,
			 const uint8_t *body, size_t len, uint64_t now);

/* trav_rdvsrv.c: the rendezvous service, fed from sessions. */
int trav_rdvsrv_new(struct trav_rdvsrv **out, konce_trav *t, unsigned slots);
void trav_rdvsrv_free(struct trav_rdvsrv *s);
/* REGISTER, INTRO_REQUEST, RELAY, INTRO_REFUSE or INTRO_ACCEPT from the session with from_pk. */
void trav_rdvsrv_input(struct trav_rdvsrv *s, const uint8_t from_pk[KONCE_WIRE_KEY], const konce_addr *from_addr,
		       const uint8_t *body, size_t len, uint64_t now);
/* The service's core and its own counters (status output). */
konce_rendezvous *trav_rdvsrv_core(struct trav_rdvsrv *s);
void trav_rdvsrv_counters(const struct trav_rdvsrv *s, uint64_t *forged, uint64_t *no_session);

#endif
