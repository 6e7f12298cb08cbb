/* node_trav_int.h - the traversal state shared by node_trav.c (the glue) and node_travinfo.c
 * (konce path / konce netcheck answers).  node_trav.c's header comment describes it. */
#ifndef KONCE_NODE_TRAV_INT_H
#define KONCE_NODE_TRAV_INT_H

#include <event2/event.h>

#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "node/io/node_trav.h"
#include "node/io/portmap.h"

enum { NODE_TRAV_PEERS = 64, HELD_MAX = 2, SEEN_MAX = 4 };

struct tpeer {
	bool used;
	bool solicited;       /* a key we asked to reach; else a stranger (node_travpool.h) */
	uint8_t pk[KONCE_KEY_BYTES];
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
	unsigned ncand;
	konce_cand cand[KONCE_RDV_MAX_INTRO_CANDS];
	int result;           /* last konce_punch_ev_type, 0 = none yet */
	unsigned intro_fail;  /* KONCE_IFAIL_* of the last refusal */
	konce_addr path;      /* DIRECT: the verified address */
	konce_addr seen[SEEN_MAX]; /* where the peer's PUNCH packets came from (latest SEEN_MAX) */
	unsigned nseen, seen_next;
	uint64_t relayed_tx, relayed_rx, direct_tx, direct_rx, held_dropped;
	/* the handshake as the probe (node_trav_hs.c) */
	uint8_t opener[KONCE_WIRE_MAX_DATAGRAM]; /* the endpoint's latest HELLO to the virtual address */
	size_t opener_len;
	konce_addr reply_to;  /* where the peer's latest handshake packet came from, while attempting */
	bool have_reply_to;
	unsigned hs_copies;   /* HELLO copies sent in this attempt (at most NODE_TRAV_HS_MAX_COPIES) */
	uint64_t hs_probes, hs_probes_rx, hs_acks, hs_replies;
	/* authenticated liveness: session PINGs sent as keepalives (and not sent), authenticated
	 * datagrams heard over the direct path */
	uint64_t session_probes, session_probe_fail, auth_heard;
};

struct node_trav {
	struct konce_node *n;
	struct node_rdvsrv *srv;
	konce_rdvc *rc;
	unsigned nrdv;
	uint8_t rdv_pk[KONCE_RDVC_MAX_RDV][KONCE_KEY_BYTES];
	konce_addr rdv_addr[KONCE_RDVC_MAX_RDV];
	uint64_t rdv_sent_us[KONCE_RDVC_MAX_RDV], rdv_rtt_us[KONCE_RDVC_MAX_RDV];
	konce_addr host[KONCE_RDVC_MAX_HOST];
	unsigned nhost;
	struct tpeer peers[NODE_TRAV_PEERS];
	struct event *ev_timer, *ev_kick;
	konce_portmap *pm;
	const char *pm_state; /* "off", "trying", "mapped", "unavailable", "lost" */
	enum konce_pm_proto pm_proto;
	enum konce_pm_err pm_reason;
	konce_addr pm_external;
	unsigned nknown; /* peers with a direct or probing address: the receive path checks them */
	struct node_trav_socks *socks; /* birthday probing's extra sockets (node_trav_socks.c), or NULL */
	bool known_only; /* introductions = known (node_travpolicy.c) */
	struct node_filt *filt; /* the filtering test, both sides (node_travfilter.c) */
	uint64_t bday_dropped, punch_bad, msg_unknown;
	uint64_t tpeer_full, tpeer_evicted; /* new keys with no entry to take; strangers evicted */
	struct node_trav_life *life; /* node_trav_life.c: mapping lifetime, NULL = off */
	uint64_t intros_refused, intros_declined; /* by us; by the peers we asked for */
};

/* The entry for pk; with create, a new one if none (node_travpool.h chooses it: a stranger's from
 * the bounded pool).  TPEER_SOLICITED also marks an existing entry solicited.  NULL if none. */
enum { TPEER_FIND = 0, TPEER_STRANGER = 1, TPEER_SOLICITED = 2 };
struct tpeer *tpeer_get(struct node_trav *t, const uint8_t pk[KONCE_KEY_BYTES], int create);
/* p's virtual address. */
/* node_trav.c: run pump() soon (from the event loop, never inside the caller); create the timer
 * and kick events (node_trav_setup.c frees them).  0 or -ENOMEM. */
void node_trav_schedule(struct node_trav *t);
int node_trav_events_new(struct node_trav *t);
void tpeer_vaddr(struct node_trav *t, const struct tpeer *p, konce_addr *a);
/* Remembers that the peer's packets came from `from` (the latest SEEN_MAX addresses). */
void tpeer_seen(struct node_trav *t, struct tpeer *p, const konce_addr *from);

/* node_trav_hs.c: the simultaneous-open handshake as the punch probe (docs/TRAVERSAL.md). */
enum {
	NODE_TRAV_HS_SEQ = 0,         /* the seq a HELLO copy is fed to the punch core with: no PUNCH ack */
	NODE_TRAV_HS_MAX_COPIES = 24, /* per attempt; later probes are PUNCH (the candidates come from
				       * the peer: this bounds what one introduction sends to them) */
};
/* An introduction: make sure our endpoint runs a handshake to the peer (both sides must). */
void node_trav_hs_intro(struct node_trav *t, struct tpeer *p, uint64_t now);
/* A datagram from the endpoint to p's virtual address while no path is chosen (IDLE, PUNCHING):
 * a HELLO becomes the opener (and is still held for the relay); an answer goes to where the
 * peer's handshake came from.  True if it was sent. */
bool node_trav_hs_outgoing(struct node_trav *t, struct tpeer *p, const uint8_t *pkt, size_t len);
/* A probe of the punch core: sent as a copy of the opener when there is one.  True if sent. */
bool node_trav_hs_probe(struct node_trav *t, struct tpeer *p, const konce_punch_out *o);
/* A non-PUNCH datagram: a tagged HELLO copy (the peer's probe) is fed to the punch core and the
 * endpoint (at the peer's virtual address); true if taken. */
bool node_trav_hs_hello(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
/* A datagram from p's known addresses, for the endpoint at p's virtual address: while attempting,
 * one the endpoint's verdict names the peer's authentic handshake answer (an INITIATE that crossed
 * our attempt, an ACCEPT that opened it) is the punch core's ack for the pair.  *auth_conn gets
 * the session an authenticated DATA packet was for, else 0.  True if it was an ack. */
bool node_trav_hs_deliver(struct node_trav *t, struct tpeer *p, unsigned sock, const uint8_t *pkt, size_t len,
			  const konce_addr *from, uint64_t now, uint32_t *auth_conn);

/* node_trav_life.c (mapping lifetime).  start: spec is the nat_lifetime setting; 0, -EINVAL (err
 * says why), -ENOMEM.  datagram: a LIFE_REQ from the node socket.  apply: after every pump. */
int node_trav_life_start(struct node_trav *t, const char *spec, char *err, size_t errlen);
void node_trav_life_free(struct node_trav *t);
void node_trav_life_datagram(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from);
void node_trav_life_apply(struct node_trav *t);
json_t *node_trav_life_json(struct node_trav *t);
json_t *node_trav_life_srv_json(struct node_trav *t);
/* node_travpolicy.c: the rdvclient allow predicate of "introductions = known" (ctx: the node_trav),
 * and the requester's side of a refusal (fails what waits for pk, resets its punch). */
bool node_trav_known(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
void node_trav_declined(struct node_trav *t, const uint8_t pk[KONCE_KEY_BYTES], uint64_t now);

/* node_travfilter.c: the filtering test (nat/filtertest.h) -- the client over a fresh socket, and
 * the rendezvous's echo and probes.  new/free with the traversal state; kick starts the client
 * once every rendezvous reported a reflexive address; datagram takes a bare FILTER datagram
 * from the node socket (always consumed); message a FILTER message from a session. */
int node_travfilter_new(struct node_trav *t);
void node_travfilter_free(struct node_trav *t);
void node_travfilter_kick(struct node_trav *t);
/* The filtering test's fresh mapping: 0 and *x once echoed; 1 if its socket sent but no echo came
 * yet (the mapping exists on our NAT); -ENOENT if it never sent. */
int node_travfilter_mapping(struct node_trav *t, konce_addr *x);
void node_travfilter_datagram(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from);
void node_travfilter_message(struct node_trav *t, struct peer *from, const uint8_t *body, size_t len);
json_t *node_travfilter_json(struct node_trav *t);
json_t *node_travfilter_service_json(struct node_trav *t);

#endif
