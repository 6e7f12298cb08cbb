/* trav.h - NAT traversal in the node, sans-I/O: the rendezvous client, the per-peer punch, the
 * handshake as the probe, relaying, the rendezvous service, and the introduction policy.
 *
 * The protocol cores do the work (nat/rdvclient.h, nat/punch.h, nat/rendezvous.h); this core
 * composes them with the node's transport endpoint.  It owns no socket, no clock and no timer: the
 * host (the node's I/O layer, or the simulator) gives it datagrams, session messages and `now`,
 * and takes back datagrams to send (each from a socket the core names by number), events and the
 * next deadline.  Docs: docs/TRAVERSAL.md ("In the node").
 *
 * How a peer known by key alone is reached:
 *   1. The node finds no address for a key: konce_trav_resolve() gives the endpoint a path handle
 *      for it (node/base/addr.h: no ip, no port, never from the network) and asks the primary
 *      rendezvous for an introduction.
 *   2. Datagrams the endpoint sends to a path handle never reach a socket directly: the host hands
 *      them to konce_trav_outgoing(), which holds them while the punch runs, then sends them to
 *      the verified direct address (from the socket the pair was verified on) or wraps them in
 *      RELAY to the rendezvous once punching gave up.
 *   3. RELAYED payloads, and datagrams from a peer's direct path, are fed to the endpoint as if
 *      they came from the peer's path handle, so a traversed session is an ordinary session whose
 *      address is a handle; when the path changes underneath, the endpoint restarts its congestion
 *      state (konce_ep_path_reset) instead of validating an address.
 *
 * Per-peer traversal state (one entry per key being reached; NODE_TRAV_PEERS entries, strangers
 * in a bounded pool, node/core/node_travpool.h).  The punch core's state decides where a
 * datagram for the peer's handle goes:
 *
 *     (no entry) --resolve() / INTRO / RELAYED--> IDLE
 *     IDLE      --INTRO, direct expected--> PUNCHING   (our endpoint's HELLO is the opener; each
 *                                                       probe a tagged copy of it; held datagrams
 *                                                       wait, the latest two)
 *     IDLE      --INTRO, relay first------> PROBING    (handshake through the relay, PUNCH probes)
 *     PUNCHING / PROBING --a pair verified: the peer's INITIATE that crossed ours, its ACCEPT to
 *                          ours, or a PUNCH ack--> DIRECT    (held datagrams go to the address)
 *     PUNCHING / PROBING --give-up (T + 4 s)--> RELAYED       (held datagrams go through RELAY)
 *     DIRECT    --keepalives unanswered (LOST)--> RELAYED, registering again
 *     RELAYED   --upgrade (controlling side asks again)--> PROBING
 *     any       --the peer's rendezvous declines us--> IDLE (what waits for it fails: event)
 *
 * Invariants: a datagram for a handle is sent only to a verified pair's address or as RELAY to the
 * primary rendezvous, else held (at most two); a HELLO copy goes only to an observed address of an
 * introduced peer, at most NODE_TRAV_HS_MAX_COPIES per attempt; PUNCH never creates an entry; the
 * endpoint sees a traversed peer only at its handle; nothing is allocated after konce_trav_new()
 * but the peers' punch cores (bounded by the table) and the output ring (bounded, see below).
 *
 * The rendezvous client's state machine (registration, RTT echo, introductions, relay, refusal)
 * is drawn in nat/rdvclient.h; the punch core's in nat/punch.h.
 *
 * Call set (one thread; times in microseconds, never backwards):
 *   konce_trav_input()      a datagram from socket `sock` (below): true if traversal took it
 *                           (PUNCH, FILTER, a tagged HELLO, anything from a traversed peer's path,
 *                           which it feeds to the endpoint itself, anything on a socket other than
 *                           the node's); false = the host gives it to the endpoint as usual
 *   konce_trav_message()    a KONCE_CLASS_RENDEZVOUS message (its body) from an authenticated
 *                           session with from_pk at from_addr
 *   konce_trav_outgoing()   a datagram of the endpoint's: true if it was for a path handle (taken)
 *   konce_trav_resolve()    a path handle for a key with no address
 *   konce_trav_poll()       the next datagram to send: its socket number, bytes and destination
 *   konce_trav_poll_event() the next event (below)
 *   konce_trav_next_timer() when konce_trav_timer() is due (now when work is pending)
 *   konce_trav_timer()      timers of the cores, then the pump: introductions asked, probes,
 *                           registrations, held datagrams released
 * After any of these the host drains konce_trav_poll() and konce_trav_poll_event() and then the
 * endpoint (whose datagrams may now go elsewhere).
 */
#ifndef KONCE_TRAV_H
#define KONCE_TRAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "node/base/addr.h"
#include "node/base/env.h"
#include "node/transport/endpoint.h"

typedef struct konce_trav konce_trav;

/* What the core needs from the node's peer table (the host's): */
typedef struct konce_trav_peer {
	uint32_t conn;   /* the peer's session or attempt, 0 if none */
	bool up;         /* established */
	konce_addr addr; /* where the node reaches it (a path handle for a traversed peer) */
} konce_trav_peer;

typedef struct konce_trav_ops {
	/* The node's entry for pk: true and *out, or false if it has none. */
	bool (*peer)(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out);
	/* Open a session to pk at `to` (the node adds the peer, konce_ep_connect()s, and tracks it as
	 * for any dial); its conn, or 0 if it could not.  Never calls back into the core. */
	uint32_t (*dial)(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, uint64_t now_us);
	/* introductions = known: does the node know pk otherwise (a petname in its presence store)?
	 * NULL = no.  The core asks only after its own rules (a live session, a key we asked to
	 * reach) said no. */
	bool (*known)(void *ctx, const uint8_t pk[KONCE_WIRE_KEY]);
	/* A mapping our NAT made after the registrations (nat/candidates.h self_spent): 0 and *x once
	 * echoed, 1 if sent but not echoed, negative if none.  NULL = the core's own filtering test's
	 * fresh socket (konce_trav_fresh_mapping), which is what the node uses. */
	int (*fresh_mapping)(void *ctx, konce_addr *x);
	void *ctx;
} konce_trav_ops;

enum { KONCE_TRAV_MAX_RDV = KONCE_RDVCLIENT_MAX_RDV, KONCE_TRAV_MAX_HOST = KONCE_RDVCLIENT_MAX_HOST };

/* Sockets the core names (konce_trav_poll, konce_trav_input): 0 is the node's; 1..KONCE_PUNCH_BIRTHDAY
 * are birthday probing's, opened by the host on the first datagram for them and closed when
 * konce_trav_socks_needed() says; these two the host opens and closes when an event asks
 * (KONCE_TRAV_EV_SOCK_OPEN / _CLOSE; each bound to the node socket's IP, any port) and reports
 * with konce_trav_sock_opened(). */
enum {
	KONCE_TRAV_SOCK_FILTER = KONCE_PUNCH_BIRTHDAY + 1, /* the filtering test's fresh socket (client) */
	KONCE_TRAV_SOCK_ALT,                               /* the filtering service's second port */
	KONCE_TRAV_SOCKS
};

typedef struct konce_trav_cfg {
	const konce_env *env;          /* NULL = konce_env_default() */
	konce_ep *ep;                  /* the node's endpoint (borrowed; outlives the core) */
	const uint8_t *pk;             /* our public key (copied) */
	konce_trav_ops ops;            /* peer and dial required */
	const uint8_t (*rdv_pk)[KONCE_WIRE_KEY]; /* the rendezvous to register with; [0] = primary */
	const konce_addr *rdv_addr;
	unsigned nrdv;                 /* 0 = no client (a rendezvous only) */
	const konce_addr *host;        /* host candidates */
	unsigned nhost;
	bool host_candidates;          /* register host[] with the rendezvous; false = host and nhost
					* are ignored (nothing tells introduced keys our LAN addresses) */
	bool known_only;               /* introductions = known */
	const konce_addr *local;       /* the node socket's bound address (what the filtering service
					* reports as a PROBE's source); NULL = unknown */
	bool rendezvous;               /* run the rendezvous service (and the filtering service) */
	unsigned rendezvous_capacity;  /* its registration slots; 0 = the core's default */
} konce_trav_cfg;

/* 0, -EINVAL, -ENOMEM. */
int konce_trav_new(konce_trav **out, const konce_trav_cfg *cfg, uint64_t now_us);
void konce_trav_free(konce_trav *t);

bool konce_trav_input(konce_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
		      uint64_t now_us);
void konce_trav_message(konce_trav *t, const uint8_t from_pk[KONCE_WIRE_KEY], const konce_addr *from_addr,
			const uint8_t *body, size_t len, uint64_t now_us);
bool konce_trav_outgoing(konce_trav *t, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now_us);
/* A path handle for pk in *a, an introduction asked for if needed.  0, -EHOSTUNREACH (no
 * rendezvous client, or no entry to take). */
int konce_trav_resolve(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], konce_addr *a, uint64_t now_us);
bool konce_trav_poll(konce_trav *t, unsigned *sock, uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], size_t *len,
		     konce_addr *to);
/* konce_trav_poll() without the copy: *pkt[0, *len) lies in the core's output ring, valid and
 * unchanged until konce_trav_sent(t), whatever else is called meanwhile (konce_trav_free()
 * excepted; a full ring drops new datagrams rather than grow while any is lent, so release
 * before the next input or timer).  konce_trav_poll() while some are lent lends its slot too. */
bool konce_trav_poll_ref(konce_trav *t, unsigned *sock, const uint8_t **pkt, size_t *len, konce_addr *to);
/* Every datagram konce_trav_poll_ref() handed out is sent: their slots are free again. */
void konce_trav_sent(konce_trav *t);

enum konce_trav_ev_type {
	KONCE_TRAV_EV_LOG = 1,   /* level (enum konce_log_level), text */
	KONCE_TRAV_EV_REFLEXIVE, /* a rendezvous reported our reflexive address (the filtering test
				  * may start once every one has) */
	KONCE_TRAV_EV_DECLINED,  /* pk's side refused the introduction we asked for: fail what waits
				  * for pk now (KONCE_REASON_INTRO_REFUSED) and drop its attempt */
	KONCE_TRAV_EV_PATH,      /* pk's path changed: state (enum konce_punch_path_state), addr (DIRECT);
				  * lost: RELAYED because the direct path stopped answering */
	KONCE_TRAV_EV_SOCK_OPEN, /* open socket `sock` (KONCE_TRAV_SOCK_FILTER or _ALT), then say so
				  * with konce_trav_sock_opened() */
	KONCE_TRAV_EV_SOCK_CLOSE, /* close socket `sock` */
};
typedef struct konce_trav_event {
	enum konce_trav_ev_type type;
	int level;
	char text[160];
	uint8_t pk[KONCE_WIRE_KEY];
	int state;
	bool lost;
	unsigned sock;
	konce_addr addr;
} konce_trav_event;
bool konce_trav_poll_event(konce_trav *t, konce_trav_event *ev);

uint64_t konce_trav_next_timer(const konce_trav *t);
void konce_trav_timer(konce_trav *t, uint64_t now_us);

/* The host's port mapping: our external address (NULL: none now). */
void konce_trav_set_mapped(konce_trav *t, const konce_addr *external, uint64_t now_us);
/* The learned mapping lifetime's keepalive for direct paths (0 = the punch core's default). */
void konce_trav_set_path_keepalive(konce_trav *t, uint64_t keepalive_us, uint64_t now_us);
/* Which birthday sockets (1..KONCE_PUNCH_BIRTHDAY) an attempt or a verified path still needs: all
 * of them (true) while any attempt runs or is within its give-up window, else keep[sock]. */
bool konce_trav_socks_needed(const konce_trav *t, uint64_t now_us, bool keep[KONCE_PUNCH_BIRTHDAY + 1]);
/* Sends body as a KONCE_CLASS_RENDEZVOUS message on conn (reliable).  0 or negative errno. */
int konce_trav_send_msg(konce_trav *t, uint32_t conn, const uint8_t *body, size_t len, uint64_t now_us);
/* The host opened socket sock at local (NULL: it could not). */
void konce_trav_sock_opened(konce_trav *t, unsigned sock, const konce_addr *local, uint64_t now_us);
/* The filtering test's fresh mapping: 0 and *x once echoed; 1 if its socket sent but no echo came
 * yet (the mapping exists on our NAT); -ENOENT if it never sent. */
int konce_trav_fresh_mapping(const konce_trav *t, konce_addr *x);
/* x is one more mapping of our NAT made by a socket of this host (the lifetime probe socket's, as
 * its rendezvous reported it): handed to the rendezvous client like the filtering socket's
 * (konce_rdvclient_set_fresh_mapping), so that a sequential NAT's step is refined over every
 * sample.  Logs when it changes the step. */
void konce_trav_mapping_sample(konce_trav *t, const konce_addr *x, uint64_t now_us);
/* Whether a is a path handle of ours (a traversed peer's). */
bool konce_trav_is_path(const konce_addr *a);

#endif
