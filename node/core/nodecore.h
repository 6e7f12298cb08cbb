/* nodecore.h - the node core: one konce endpoint, the peer table, the pending message outcomes, the
 * input priority queue and the known-keys cache, sans-I/O.
 *
 * The core is what a node *decides*; the I/O layer (node/io/) only moves bytes and time in and out,
 * and the simulator (tests/sim/node_harness.c) drives the very same core over a virtual network.
 * It never reads a clock, touches a socket, SQLite or libevent: every call that needs the time
 * takes `now` (microseconds of a monotonic clock, never going backwards).  The call set:
 *
 *   konce_nodecore_input(c, sock, pkt, len, from, now)   a received datagram: classified and queued
 *   konce_nodecore_timer(c, now)                         serves queued input (one wake's budget),
 *                                                        the endpoint's timers, pending deadlines
 *   konce_nodecore_next_timer(c)                         when timer() must run next (now if input
 *                                                        waits); UINT64_MAX = never
 *   konce_nodecore_poll_event(c, &ev)                    application events, in order: outcomes,
 *                                                        messages for handlers, peer up/down/path
 *   konce_nodecore_poll(c, &dg)                          datagrams to send (copied out), or
 *   konce_nodecore_poll_ref(c, &ref) ... _sent(c)        the same lent by reference, for a batch
 *   konce_nodecore_poll_note(c, &note)                   store notes (the I/O layer writes them)
 *   konce_nodecore_send / reply / handle / ...           commands from the API, with `now`
 *
 * Drain order after any input, timer or command: events first (a handler may answer the first
 * message inside the pending ACCEPT, endpoint.h), then datagrams, then notes, then re-arm the timer
 * at next_timer().  One function in the I/O layer does this (node_io.c node_io_kick()).
 *
 * Peer lifecycle: one konce_ncpeer per durable key with a session or a connect in progress.
 *
 *     send() to a key with no peer                  endpoint ESTABLISHED (incoming)
 *        -> ncpeer_add + konce_ep_connect                -> ncpeer_add (an older peer of the key
 *                                                           is closed and freed first)
 *     [CONNECTING] --ESTABLISHED (on_established)--> [UP] --CLOSED / FAILED--> freed
 *          |                                                (konce_nodecore_peer_free: every
 *          \--FAILED (the handshake timed out, refused)      pending of the peer FAILS with the
 *              --> freed, pendings FAIL (UNREACHABLE...)     session's reason)
 *
 *   Invariants:
 *    P1. peer->conn != 0 names a live endpoint session for exactly this key, and the conn table
 *        maps it back; peer->up is 1 from ESTABLISHED until the peer is freed.
 *    P2. A freed peer holds no pending: konce_nodecore_peer_free() fails them all first.
 *    P3. PEER_UP is reported once per peer at ESTABLISHED, PEER_DOWN once when an up peer is freed
 *        by CLOSED or FAILED.
 *
 * Pending outcome: one ncpending per successful konce_nodecore_send().
 *
 *     send() ----> [INITIATE]  the message rides in our INITIATE (small first message to a new
 *       |            |          peer); deadline = connect timeout
 *       |            |-- ESTABLISHED (we are the client): plain -> DELIVERED; request -> [AWAIT]
 *       |            |-- ESTABLISHED (simultaneous open, we are its server, msg_id given) -> [SENT]
 *       |            \-- deadline / peer freed -> FAILED
 *       \--------> [SENT]      handed to the endpoint (msg_id); deadline = connect timeout while
 *                    |          the peer is connecting, none for a plain message once up (the
 *                    |          endpoint's message timeout rules), the reply lifetime for a request
 *                    |-- MSG_DELIVERED: plain -> DELIVERED; request -> [AWAIT]
 *                    |-- MSG_FAILED -> FAILED (reason from the endpoint)
 *                    \-- deadline / peer freed -> FAILED
 *                  [AWAIT]     a request delivered (or in flight), awaiting its reply (nonce
 *                              table); deadline = the reply lifetime, restarted at ESTABLISHED
 *                    |-- reply from the same key, same class and nonce -> REPLIED (data = reply)
 *                    \-- deadline -> FAILED (TIMED_OUT if the peer is up, else UNREACHABLE)
 *     FAILED / DELIVERED / REPLIED: [DONE], queued as a KONCE_NC_EV_OUTCOME event; the record is
 *     freed on the next poll_event() after it was returned.
 *
 *   Invariants:
 *    M1. A pending is in exactly one state; before DONE it is held by its peer (initiate_msg),
 *        the message table, the nonce table, or both tables, and ncpending_finish() releases it
 *        from all of them at once.
 *    M2. Exactly one outcome event per successful send(); none for a send() that returned an
 *        error, and never from inside the call (outcomes are only handed out by poll_event()).
 *    M3. A pending has a deadline iff it sits in the deadline heap; deadlines are data, checked by
 *        timer(), and next_timer() is never later than the earliest one.
 *
 * Hooks (konce_nodecore_hooks) are how another core composes with this one: NAT traversal today
 * (nctravhost.h sets them for the daemon's traversal host, node/io/node_trav.c).  All are optional.
 *
 * Not thread-safe: one thread drives one core.
 */
#ifndef KONCE_NODECORE_H
#define KONCE_NODECORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/cgroup.h"
#include "konce/konce.h"
#include "node/base/addr.h"
#include "node/base/ncnote.h"
#include "node/base/wire.h"
#include "node/transport/endpoint.h"
#include "node/core/rx_switch.h"

typedef struct konce_nodecore konce_nodecore;
struct ncpending;

/* A peer: the tag `struct peer` is what the traversal glue (node/io/node_trav*.c) names; the core
 * calls it konce_ncpeer.  Fields are read by the I/O layer and the traversal glue; only the core
 * and the peer-table calls below write them (the glue sets addr of a peer it adds). */
typedef struct peer {
	uint8_t pk[KONCE_KEY_BYTES];
	uint32_t conn;
	int up;
	konce_addr addr;
	uint64_t since_us, last_rx_us;
	uint64_t msgs_rx, msgs_tx;
	uint32_t rtt_us; /* last measured by a request/reply */
	/* traffic: session bytes at the last sample (konce_nodecore_sample_traffic, ncinfo.h), and the rates */
	uint64_t sample_rx, sample_tx, sample_us;
	double rx_rate, tx_rate; /* bytes per second */
	struct ncpending *initiate_msg; /* the message that rode in our INITIATE */
	int trusted; /* noted to the store as trusted (we dialled it, or it took a message of ours) */
	int identity; /* enum konce_nc_identity: the key we show it (UNSET until known) */
	uint8_t local_pk[KONCE_KEY_BYTES]; /* once up: our key in this session (shown or dialled) */
	struct peer *pk_next, *conn_next; /* hash chains */
} konce_ncpeer;

enum {
	KONCE_NC_BUCKETS = 1024,      /* peer, nonce and message hash buckets */
	KONCE_NC_PENDING_MAX = 65536, /* sends awaiting their outcome, node-wide */
	KONCE_NC_HANDLERS = 64,       /* registered application classes */
	KONCE_NC_CONNECT_TIMEOUT_MS = 6000,
	KONCE_NC_REPLY_LIFETIME_MS = 10000,
	/* load units of input served per timer() call: ~40 full handshakes or 2,048 session
	 * datagrams, a few ms of CPU (one unit is about one BLAKE2b of 1,200 bytes, 1.76 us on the
	 * bench core) */
	KONCE_NC_WAKE_BUDGET = 2048,
	KONCE_NC_INQ_SLOTS = 1024,
	KONCE_NC_KNOWN_MAX = 100000,  /* known keys cached (the store keeps as many, docs/STORE.md) */
	KONCE_NC_NOTES_MAX = 65536,   /* unpolled store notes; beyond, notes are dropped and counted */
	KONCE_NC_PEERCONF_MAX = 256,  /* keys with their own identity or group key setting */
	KONCE_NC_PETNAME_MAX = 63,    /* bytes of a petname (the store's KONCE_STORE_PETNAME_MAX) */
};

/* The key our session with a peer runs under (docs/KEYS.md, "Which key a node shows"). */
enum konce_nc_identity {
	KONCE_NC_ID_UNSET = 0,      /* no setting (peer conf) / not known yet (a peer still connecting) */
	KONCE_NC_ID_PER_SERVER = 1, /* a key derived from the master secret for that peer alone */
	KONCE_NC_ID_MASTER = 2,     /* our master key, the one others dial */
};

/* The composition seam: NAT traversal plugs in here.  ctx is passed to each. */
typedef struct konce_nodecore_hooks {
	void *ctx;
	/* A received datagram, before the endpoint, with its kind from the one receive switch
	 * (rx_switch.h): true if the hook consumed it. */
	bool (*on_datagram)(void *ctx, enum konce_rx_kind kind, const uint8_t *pkt, size_t len,
			    const konce_addr *from, uint64_t now);
	/* A datagram from the endpoint, before it is handed out by poll(): true if the hook took it
	 * (an address the hook owns, e.g. a traversal virtual address). */
	bool (*outgoing)(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *to);
	/* A KONCE_CLASS_RENDEZVOUS message body from an authenticated peer. */
	void (*on_message)(void *ctx, konce_ncpeer *from, const uint8_t *body, size_t len);
	/* No session, no hint, no cached address for pk: 0 and *a, or -EHOSTUNREACH. */
	int (*resolve)(void *ctx, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a);
	/* An address that means nothing outside this process (never noted to the store). */
	bool (*is_virtual)(void *ctx, const konce_addr *a);
	/* Whether pk is reached through a rendezvous (an introduction asked for or received): a real
	 * address of its session is then a NAT mapping punched for it, never noted to the store
	 * (docs/STORE.md), unless this node dialled that address itself. */
	bool (*traversed)(void *ctx, const uint8_t pk[KONCE_KEY_BYTES]);
	/* Whether traversal runs now: its bare datagrams then queue beside a fresh source's
	 * handshake (konce_rx_priority); otherwise they are junk. */
	bool (*traversal)(void *ctx);
} konce_nodecore_hooks;

typedef struct konce_nodecore_config {
	/* the endpoint's (identity required); ep.env is the core's env too.  ep.path_mtu is the
	 * host's estimate for a real address: the core asks it for those, and bounds a path handle
	 * (a traversal path) at KONCE_PMTU_BASE itself. */
	konce_ep_config ep;
	bool notes;               /* produce store notes (a store is attached) */
	unsigned inq_slots;       /* 0 = KONCE_NC_INQ_SLOTS */
	unsigned wake_budget;     /* 0 = KONCE_NC_WAKE_BUDGET */
	unsigned known_max;       /* 0 = KONCE_NC_KNOWN_MAX */
	int log_level;            /* enum konce_log_level */
	void (*log)(void *ctx, int level, const char *line); /* NULL = no log */
	void *log_ctx;
	konce_nodecore_hooks hooks;
	/* Our own dials (send) show each peer a key derived for it, except where the identity rule
	 * (konce_nodecore_identity_for) says master; false = always master.  Dials made straight on
	 * the endpoint (the traversal glue's) follow ep.explicit_identity. */
	bool per_server;
	/* Every hosted group's konce_group_set_max_batch(): 1 .. KONCE_CW_MAX_BATCH; 0 = the default. */
	unsigned group_max_batch;
} konce_nodecore_config;

enum konce_nc_event_type {
	KONCE_NC_EV_OUTCOME = 1, /* fn(ctx, outcome, reason, data, len) is the send's callback */
	KONCE_NC_EV_MESSAGE,     /* handler(handler_ctx, node, &msg); msg.data valid until next poll */
	KONCE_NC_EV_PEER,        /* peer_event (enum konce_peer_event) for pk at addr */
	KONCE_NC_EV_GROUP,       /* a hosted group's event (ncgroup.h): gid, group */
};

typedef struct konce_nc_event {
	enum konce_nc_event_type type;
	/* OUTCOME: data (a reply) is valid until the next poll_event() */
	konce_outcome_fn fn;
	void *ctx;
	int outcome, reason;
	const uint8_t *data;
	size_t len;
	/* MESSAGE */
	konce_handler_fn handler;
	void *handler_ctx;
	konce_message msg;
	/* PEER */
	int peer_event;
	uint8_t pk[KONCE_KEY_BYTES];
	konce_addr addr;
	/* GROUP: group.data is valid until the next poll_event() */
	uint8_t gid[KONCE_CW_GROUP_ID];
	konce_group_event group;
} konce_nc_event;

/* Store notes (konce_nc_note): node/base/ncnote.h. */

typedef struct konce_nc_datagram {
	unsigned sock;
	konce_addr to;
	size_t len;
	uint8_t buf[KONCE_PMTU_MAX];
} konce_nc_datagram;

/* A datagram to send, by reference: pkt[0, len) lies in the endpoint's out ring. */
typedef struct konce_nc_dgref {
	unsigned sock;
	konce_addr to;
	const uint8_t *pkt;
	size_t len;
} konce_nc_dgref;

typedef struct konce_nodecore_stats {
	uint64_t msgs_rx, msgs_tx, msgs_dropped;
	uint64_t input_shed;     /* received datagrams the input queue shed, lowest priority first */
	uint64_t input_units;    /* load units the endpoint spent on served input (konce_ep_rx.cost) */
	uint64_t notes_dropped;  /* store notes dropped: the I/O layer did not poll them */
	unsigned peers, pending, known;
} konce_nodecore_stats;

/* ---- life ----------------------------------------------------------------------------------- */

/* 0, -EINVAL, -ENOMEM, or konce_ep_new()'s error.  cfg is copied; cfg->ep.env and identity are
 * borrowed for the core's life. */
int konce_nodecore_new(konce_nodecore **out, const konce_nodecore_config *cfg, uint64_t now);
/* Frees everything; pendings are dropped silently (call fail_all first to report them). */
void konce_nodecore_free(konce_nodecore *c);
konce_ep *konce_nodecore_ep(konce_nodecore *c);
const uint8_t *konce_nodecore_public_key(const konce_nodecore *c);
/* The env the core runs on (its cfg.ep.env): memory and randomness for the cores composed with it. */
const konce_env *konce_nodecore_env(const konce_nodecore *c);
void konce_nodecore_set_hooks(konce_nodecore *c, const konce_nodecore_hooks *h);
/* The latest time any call gave (the time events are processed at). */
uint64_t konce_nodecore_now(const konce_nodecore *c);
void konce_nodecore_stats_get(const konce_nodecore *c, konce_nodecore_stats *out);
/* Counts a message the hooks refused (for msgs_dropped). */
void konce_nodecore_count_dropped(konce_nodecore *c);

/* ---- the call set --------------------------------------------------------------------------- */

/* Queues a received datagram by priority (the worst is shed when full).  true if queued. */
bool konce_nodecore_input(konce_nodecore *c, unsigned sock, const uint8_t *pkt, size_t len,
			  const konce_addr *from, uint64_t now);
/* The input priority input() gives a datagram (lower is served first): konce_rx_priority(), the
 * one receive switch.  No crypto, charges nothing. */
unsigned konce_nodecore_priority(konce_nodecore *c, const uint8_t *pkt, size_t len, const konce_addr *from,
				 uint64_t now);
void konce_nodecore_timer(konce_nodecore *c, uint64_t now);
uint64_t konce_nodecore_next_timer(const konce_nodecore *c);
bool konce_nodecore_poll_event(konce_nodecore *c, konce_nc_event *ev);
bool konce_nodecore_poll(konce_nodecore *c, konce_nc_datagram *dg);
/* konce_nodecore_poll() without the copy, so that an I/O layer hands the endpoint's own bytes to
 * the kernel (konce_ep_poll_datagram_ref).  Lifetime: dg->pkt is valid and unchanged until
 * konce_nodecore_sent(c), whatever else is called on the core meanwhile (konce_nodecore_free()
 * excepted); the slots stay reserved until then, so poll a batch, send it, then call sent().
 * Datagrams the outgoing hook takes are lent too (the hook copies what it keeps). */
bool konce_nodecore_poll_ref(konce_nodecore *c, konce_nc_dgref *dg);
/* Every datagram poll_ref() handed out has been sent (or dropped): their slots are free again. */
void konce_nodecore_sent(konce_nodecore *c);
bool konce_nodecore_poll_note(konce_nodecore *c, konce_nc_note *note);

/* ---- commands ------------------------------------------------------------------------------- */

/* konce_node_send() semantics (konce.h): 0 and exactly one later OUTCOME event carrying fn and
 * ctx, or a negative errno and no event. */
int konce_nodecore_send(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass,
			const uint8_t *data, size_t len, const konce_send_opts *o, konce_outcome_fn fn,
			void *ctx, uint64_t now, uint64_t *handle);
/* konce_nodecore_send without copying the body: msg holds KONCE_MSG_BODY bytes of room for the
 * message header, then the len bytes of the body, and was allocated through konce_nodecore_env(c)
 * (konce_env_alloc_raw or konce_env_alloc).  On 0 the core owns msg (it goes to the endpoint's send
 * queue, which wipes and frees it); on a negative return it is still the caller's. */
int konce_nodecore_send_framed(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, uint8_t *msg,
			       size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t now,
			       uint64_t *handle);
int konce_nodecore_reply(konce_nodecore *c, const konce_message *req, const uint8_t *data, size_t len,
			 uint64_t now);
/* Routes class klass (>= KONCE_CLASS_APP_MIN) to fn: MESSAGE events carry fn and ctx. */
int konce_nodecore_handle(konce_nodecore *c, uint16_t klass, konce_handler_fn fn, void *ctx);
int64_t konce_nodecore_outcome_eta(konce_nodecore *c, uint64_t handle, uint64_t now);
int konce_nodecore_outcome_progress(konce_nodecore *c, uint64_t handle, konce_progress *out, uint64_t now);
/* Fails every pending with reason (queued as OUTCOME events). */
void konce_nodecore_fail_all(konce_nodecore *c, int reason);
/* Closes every session (their CLOSE datagrams are queued) and frees every peer, failing their
 * pendings with LOCAL_CLOSE. */
void konce_nodecore_close_all(konce_nodecore *c, uint64_t now);

/* ---- the peer table (also the traversal core's ops, nctrav.h) ------------------------------------- */

konce_ncpeer *konce_nodecore_peer_find(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES]);
konce_ncpeer *konce_nodecore_peer_by_conn(konce_nodecore *c, uint32_t conn);
konce_ncpeer *konce_nodecore_peer_add(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES]);
void konce_nodecore_peer_set_conn(konce_nodecore *c, konce_ncpeer *p, uint32_t conn);
/* Fails p's pendings with reason (0 = PEER_CLOSED) and frees it. */
void konce_nodecore_peer_free(konce_nodecore *c, konce_ncpeer *p, int reason);
/* The hash buckets (KONCE_NC_BUCKETS of them, chained by pk_next), for iteration. */
konce_ncpeer *const *konce_nodecore_peer_buckets(const konce_nodecore *c);
unsigned konce_nodecore_npeers(const konce_nodecore *c);

/* ---- per-peer settings of our dials (ncpeerconf.c) ---------------------------------------------- */

/* What dials to pk use, from the next dial on: the identity it is shown (enum konce_nc_identity;
 * UNSET = the rule decides), and the group key of a limited-circulation server (32 bytes, copied
 * into locked memory; NULL = none).  A key with neither set has no entry.  0, -EINVAL, -ENOSPC
 * (KONCE_NC_PEERCONF_MAX keys have settings), or konce_secmem_alloc()'s error. */
int konce_nodecore_peer_identity(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], int identity);
int konce_nodecore_peer_group(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const uint8_t *group_key);
/* The identity a dial of pk to `to` (NULL = unknown) shows now: KONCE_NC_ID_MASTER or
 * KONCE_NC_ID_PER_SERVER.  The rule: pk's own setting; master for a traversal address (the
 * is_virtual hook); master for a key with a petname; else per_server of the config. */
int konce_nodecore_identity_for(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *to);

/* ---- known keys and their addresses (loaded from the store at start, kept by notes) --------- */

enum { KONCE_NC_KNOWN = 1, KONCE_NC_NAMED = 2 };
/* Loads one stored key (addr NULL = none stored; petname NULL or "" = none; a named key is never
 * evicted).  0, -EINVAL (petname over KONCE_NC_PETNAME_MAX bytes), -ENOMEM. */
int konce_nodecore_known_load(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr,
			      const char *petname);
/* pk's petname has just changed in the store (`konce alias`): name NULL or "" clears it (pk stays
 * known, evictable again); a name keeps pk.  Either makes pk known, as the store's row (at the
 * oldest end of the list until a note makes it seen).  0, -EINVAL, -ENOMEM. */
int konce_nodecore_known_name(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const char *name);
/* pk's petname into name: 0, or -ENOENT (unknown, or no petname). */
int konce_nodecore_known_petname(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES],
				 char name[KONCE_NC_PETNAME_MAX + 1]);
/* 0 (unknown), KONCE_NC_KNOWN, or KONCE_NC_KNOWN | KONCE_NC_NAMED. */
int konce_nodecore_known(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES]);
unsigned konce_nodecore_known_count(const konce_nodecore *c);
/* The key named `name`: 0 (pk filled), or -ENOENT (no key has that petname). */
int konce_nodecore_known_by_name(const konce_nodecore *c, const char *name, uint8_t pk[KONCE_KEY_BYTES]);
/* What the store holds of a known key, kept by the core's notes (ncknown.c). */
typedef struct konce_nc_known_info {
	uint8_t pk[KONCE_KEY_BYTES];
	char petname[KONCE_NC_PETNAME_MAX + 1]; /* "" if none */
	bool has_addr;                          /* addr: the newest address known */
	konce_addr addr;
	uint32_t handshakes, failures;          /* the store's counts */
	uint32_t rtt_us;                        /* the store's, as loaded (0 = unknown): no note changes it */
	int64_t last_seen;                      /* wall seconds as loaded from the store, 0 = never */
	bool seen_noted;                        /* seen since the load: at seen_us, the core's clock */
	uint64_t seen_us;
} konce_nc_known_info;
/* Loads a key's stored counts, last-seen wall time and RTT, after konce_nodecore_known_load() of
 * pk.  0, or -ENOENT (pk not known). */
int konce_nodecore_known_load_counts(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint32_t handshakes,
				     uint32_t failures, int64_t last_seen, uint32_t rtt_us);
/* pk's entry into out: 0, or -ENOENT (unknown). */
int konce_nodecore_known_info(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], konce_nc_known_info *out);
/* Calls fn for the known keys, most recently seen first (the store's ORDER BY last_seen DESC; the
 * order is described in ncknown.c), at most limit of them (0 = all), until fn returns nonzero.  fn
 * must not change the known set.  Returns the number of calls. */
typedef int (*konce_nc_known_fn)(void *ctx, const konce_nc_known_info *in);
size_t konce_nodecore_known_each(const konce_nodecore *c, size_t limit, konce_nc_known_fn fn, void *ctx);
/* The newest address known for pk: 0, or -ENOENT. */
int konce_nodecore_known_addr(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a);

#endif
