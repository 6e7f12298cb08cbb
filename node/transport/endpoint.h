/* endpoint.h - a konce transport endpoint: handshakes (both roles) and encrypted sessions, sans-I/O.
 *
 * Every node is both client and server: one konce_ep answers HELLOs for its durable key(s) and
 * opens sessions to other public keys.  The endpoint never touches a socket or a clock.  The caller
 *   - feeds every received datagram to konce_ep_input() with the time it arrived,
 *   - drains konce_ep_poll_datagram() and sends each datagram to the address it names,
 *   - drains konce_ep_poll_event() for what happened (established, message, failed, closed, ...),
 *   - calls konce_ep_timer() no later than konce_ep_next_timer().
 * Times are microseconds of a monotonic clock and must never go backwards.
 *
 * Ownership and lifetimes:
 *   - konce_ep_new() copies the config.  cfg->env and the identities it names are BORROWED and must
 *     outlive the endpoint (identities also: until replaced by konce_ep_set_server_identities()).
 *   - Buffers passed to any call are borrowed for the duration of the call only.
 *   - Everything the endpoint needs is allocated at konce_ep_new() (out ring, event ring, cid table,
 *     key slab, cookie keys, rate-limit table) except one session struct per session, which is
 *     allocated (through cfg->env) by konce_ep_connect() for a client and, for a server, only
 *     after an INITIATE has passed every check including decryption of its first message.
 *     Nothing is ever allocated for an unauthenticated packet.
 *   - Session secrets live in one sodium_malloc()ed slab sized max_sessions, wiped on reuse/free.
 *   - A conn handle (uint32_t, never 0) names a session until the FAILED or CLOSED event for it has
 *     been queued; afterwards calls with it return -ENOENT (handles are generation-tagged: the bits
 *     the slot number leaves, 22 with 1024 sessions, so a slot is reused 4 million times before a
 *     handle repeats).
 *   - The event ring grows as needed: lifecycle events and the outcomes of our own messages are
 *     never dropped.  A peer's messages are bounded by back-pressure (KONCE_EP_SESS_MSG_EVENTS).
 *
 * Sending a reply inside ACCEPT: when a server-side session is established by an INITIATE, its
 * ESTABLISHED and MESSAGE events are queued and its ACCEPT is held back until the first of
 * konce_ep_send() on that conn (the message then rides in the ACCEPT), konce_ep_poll_datagram()
 * or konce_ep_timer().  So an application that handles events before draining datagrams answers
 * the first message in the ACCEPT, and the client sees the reply at 2 RTT.
 *
 * Not thread-safe: one thread drives one endpoint.  The handshake state machine (states,
 * transitions and the function behind each, invariants) is drawn in ep_internal.h; the protocol
 * itself is docs/PROTOCOL.md.  konce_ep_send() is the unreliable single-packet path (one MESSAGE
 * frame, no ack, no retransmission); konce_ep_msg_send() below is the reliable one.
 */
#ifndef KONCE_ENDPOINT_H
#define KONCE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/transport/cc.h"
#include "node/base/env.h"
#include "node/transport/identity.h"
#include "node/base/wire.h"

typedef struct konce_ep konce_ep;

enum {
	KONCE_EP_MAX_MESSAGE = KONCE_WIRE_MAX_PAYLOAD - 3,    /* konce_ep_send(): one MESSAGE frame */
	KONCE_EP_MAX_FIRST_MESSAGE = KONCE_WIRE_MAX_DATAGRAM - KONCE_INIT_MIN_SIZE - 3, /* in INITIATE */
	/* Back-pressure: a session with this many MESSAGE events not yet polled stops reading message
	 * frames (unreliable ones are dropped, reliable ones left unacknowledged for the peer to send
	 * again) until the application polls; the same for all sessions at KONCE_EP_MSG_EVENTS.  An
	 * application that stops polling for the peer's msg_timeout_ms makes the peer's messages fail
	 * with TIMEOUT, as if it had vanished. */
	KONCE_EP_SESS_MSG_EVENTS = 256,
	KONCE_EP_MSG_EVENTS = 1u << 15,
};

typedef struct konce_ep_config {
	const konce_env *env;           /* NULL = konce_env_default() */
	const konce_identity *identity; /* required: server key, and client master for derivation */
	unsigned max_sessions;          /* 0 = 1024; client handshakes in progress count too.  Incoming
					 * sessions are capped per source and per key, and an eighth is
					 * kept for dials and wanted sessions (ep_table.c) */
	unsigned max_per_source;        /* incoming sessions per source and per key; 0 = max(4,
					 * max_sessions / 16).  A server whose peers share one address (a
					 * CGNAT, a test on loopback) raises it */
	uint64_t capacity;              /* handshake load units (load.h) per second; 0 = 20000 */
	unsigned rl_slots;              /* rate-limit table slots; 0 = 4096 */
	uint32_t rl_rate;               /* units per second per source; 0 = 400 */
	uint32_t rl_burst;              /* bucket depth; 0 = 800 */
	const uint16_t *versions;       /* most preferred first; NULL = {KONCE_VERSION_1} */
	unsigned nversions;             /* 1..KONCE_WIRE_MAX_VERSIONS */
	unsigned max_pow_bits;          /* client: most bits it will pay; 0 = KONCE_WIRE_POW_MAX_BITS */
	uint64_t pow_rate;              /* client: BLAKE2b hashes of a 1200-byte datagram per second on
					 * this machine (the caller measures it; the core has no clock);
					 * 0 = 250,000.  A COOKIE demand whose expected cost exceeds 1.25 s
					 * at this rate fails at once; others are solved in 1 ms slices
					 * from konce_ep_input() and konce_ep_timer() (hs_client.c) */
	bool explicit_identity;         /* client: show `identity` itself, not a per-server key */
	unsigned out_ring;              /* queued datagrams; 0 = 256.  A quarter more (16 at least) are
					 * kept for control datagrams: handshakes, CLOSE, acks of PINGs,
					 * path validation (ep_internal.h invariant 6) */
	unsigned event_ring;            /* queued events; 0 = 256 */
	const uint8_t *group_key;       /* 32 bytes: limited-circulation server mode (copied); NULL = public */
	/* Reliable messages (konce_ep_msg_send). */
	uint64_t max_message;           /* largest message sent or accepted; 0 = KONCE_MSG_MAX_DEFAULT */
	uint64_t msg_budget;            /* reassembly memory per session; 0 = enough for one max_message */
	uint64_t msg_budget_total;      /* reassembly memory of all sessions together, shared fairly
					 * (frag.h); 0 = 4 x msg_budget */
	uint64_t send_queue_max;        /* bytes queued to send per session (msgq.h cost); beyond it
					 * konce_ep_msg_send() fails with -ENOBUFS; 0 = 2 x max_message,
					 * at least 16 MiB */
	uint64_t send_queue_total;      /* the same for all sessions together; 0 = 4 x send_queue_max */
	unsigned channel_ring;          /* packets in flight per channel, at most; 0 = 2048 */
	unsigned keepalive_ms;          /* PING a wanted idle session this often (up to 1/64 of it, at most
					 * 16 ms, early: ep_timer.c); 0 = KONCE_KEEPALIVE_MS */
	unsigned idle_timeout_ms;       /* close a session idle this long; 0 = KONCE_IDLE_TIMEOUT_MS */
	unsigned msg_timeout_ms;        /* fail messages after no ack progress this long; 0 = KONCE_MSG_TIMEOUT_MS */
	const konce_cc_ops *cc;         /* default class's congestion controller; NULL = KONCE_CC_DEFAULT */
	/* Path MTU (pmtud.h).  With max_datagram above KONCE_PMTU_BASE, a session that opens a
	 * channel searches for the largest datagram its path carries, up to path_mtu(peer) (or
	 * max_datagram without the hook), and konce_ep_poll_datagram() may hand out datagrams that
	 * large: its buffer must hold max_datagram bytes. */
	unsigned max_datagram;          /* at most KONCE_PMTU_MAX; 0 = KONCE_PMTU_BASE: no search */
	/* The I/O layer's estimate of the largest datagram toward peer (IP_MTU of a socket connected
	 * to it, minus IP and UDP headers); 0 = unknown.  Called when a search starts or restarts. */
	unsigned (*path_mtu)(void *ctx, const konce_addr *peer);
	void *path_mtu_ctx;
} konce_ep_config;

enum konce_ep_event_type {
	KONCE_EV_ESTABLISHED = 1, /* handshake done; peer_pk and addr set; incoming = server side */
	KONCE_EV_MESSAGE,         /* data[0, len) is one whole application message (any size up to
				   * max_message), valid until the next konce_ep_poll_event() */
	KONCE_EV_FAILED,          /* client handshake failed; reason = konce_ep_fail */
	KONCE_EV_CLOSED,          /* session ended; reason = peer's CLOSE reason, or konce_ep_fail */
	KONCE_EV_PATH_CHANGED,    /* peer moved to addr after path validation; see validated */
	KONCE_EV_MSG_DELIVERED,   /* msg_id: the peer acknowledged every byte of it */
	KONCE_EV_MSG_FAILED,      /* msg_id: it will never be delivered; reason = konce_ep_msg_fail */
};

enum konce_ep_fail {
	KONCE_FAIL_NONE = 0,
	KONCE_FAIL_TIMEOUT = 0x100,  /* no answer after KONCE_HS_ATTEMPTS tries */
	KONCE_FAIL_VERSION,          /* the server speaks none of our versions (versions[] set) */
	KONCE_FAIL_POW_TOO_HIGH,     /* the server demanded more bits than max_pow_bits */
	KONCE_FAIL_IDLE,             /* nothing authenticated heard for KONCE_IDLE_TIMEOUT_MS; or an
				      * idle, unwanted incoming session closed to make room (ep_table.c) */
	KONCE_FAIL_CRYPTO,           /* a DH produced a low-order result (bad peer key) */
	KONCE_FAIL_LOCAL_CLOSE,      /* konce_ep_close() (CLOSED is not queued for this) */
};

/* Why a message failed (KONCE_EV_MSG_FAILED). */
enum konce_ep_msg_fail {
	KONCE_MSG_FAIL_TOO_LARGE = 0x200, /* larger than the peer accepts (its REFUSE said so) */
	KONCE_MSG_FAIL_REFUSED,           /* the peer would not take it now (memory, busy) */
	KONCE_MSG_FAIL_TIMEOUT,           /* no ack progress for msg_timeout_ms: the peer vanished */
	KONCE_MSG_FAIL_PEER_CLOSED,       /* the peer closed the session first */
	KONCE_MSG_FAIL_UNREACHABLE,       /* the handshake timed out (connect timeout) */
	KONCE_MSG_FAIL_PROTOCOL,          /* no common version, bad key, proof of work too high */
	KONCE_MSG_FAIL_LOCAL_CLOSE,       /* konce_ep_close() or the idle close */
};

enum konce_ep_msg_class {
	KONCE_MSG_CLASS_DEFAULT = 0,      /* NewReno with pacing */
	KONCE_MSG_CLASS_BACKGROUND = 1,   /* LEDBAT: yields to other traffic */
};

/* konce_ep_msg_send() flags. */
enum konce_ep_msg_flags {
	KONCE_EP_MSG_TAKE = 1, /* take the buffer over instead of copying it (see konce_ep_msg_send) */
};

typedef struct konce_ep_event {
	enum konce_ep_event_type type;
	uint32_t conn;
	bool incoming;                  /* ESTABLISHED: we were the server */
	unsigned reason;                /* FAILED / CLOSED */
	uint8_t peer_pk[KONCE_WIRE_KEY]; /* ESTABLISHED: the peer's durable key as it showed it */
	uint8_t local_pk[KONCE_WIRE_KEY]; /* ESTABLISHED: our key in this session: the one we showed
					   * (client), or the one the peer dialled (server) */
	konce_addr addr;                /* ESTABLISHED, PATH_CHANGED: the peer's address */
	bool validated;                 /* ESTABLISHED, PATH_CHANGED: addr may stand as the peer's
					 * (be persisted): the handshake's address, or a move whose
					 * old path failed its re-validation.  False for a move not yet
					 * confirmed: a later PATH_CHANGED confirms it (same addr,
					 * validated) or undoes it (the old addr) */
	uint16_t versions[KONCE_WIRE_MAX_VERSIONS]; /* FAILED with KONCE_FAIL_VERSION: server's list */
	unsigned nversions;
	uint64_t msg_id;                /* MSG_DELIVERED, MSG_FAILED; ESTABLISHED: see konce_ep_connect */
	size_t len;                     /* MESSAGE */
	const uint8_t *data;            /* MESSAGE: the endpoint's, valid until the next
					 * konce_ep_poll_event() or konce_ep_free() */
} konce_ep_event;

/* Every drop is counted under exactly one reason.  (A struct tag, not a typedef: the accessor
 * function konce_ep_counters() has the name.) */
struct konce_ep_counters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_short, rx_unknown_type; /* rx_short: empty, over 1200 bytes (DATA: over
					     * KONCE_PMTU_MAX) */
	/* server: HELLO */
	uint64_t hello_rx, hello_bad_size, hello_bad_clue, cookie_tx, version_tx;
	/* server: INITIATE, in the order the checks run */
	uint64_t init_rx, init_bad_size, init_bad_version, init_stale, init_challenge_window,
		init_dup_resent, init_dup_dropped, init_bad_mac, init_bad_pow, init_bad_box1,
		init_unknown_server, init_low_order, init_bad_box2, init_full, init_source_full, accept_tx,
		accept_resent;
	/* server: an authenticated INITIATE met our own attempt toward its peer (simultaneous open):
	 * dropped because our key is lower (we initiate), or our attempt became its session */
	uint64_t simopen_yielded, simopen_merged;
	/* client */
	uint64_t cookie_unmatched, cookie_bad, cookie_pow_too_high, version_rx, version_ignored,
		accept_unmatched, accept_bad, hs_retransmits, hs_restarts, hs_failed, pow_tries;
	/* client: of hs_restarts, solves whose turn to hash (hs_client.c: one at a time, the oldest
	 * first) did not come before their cookie's deadline, or began less than half of it before,
	 * for the attempts ahead of them */
	uint64_t pow_waited;
	/* sessions */
	uint64_t data_rx, data_unknown_cid, data_bad_header, data_replay, data_auth_fail, data_bad_frame,
		data_not_ready, data_tx, rekey_tx, rekey_rx, rx_old_key, path_challenge_tx,
		path_response_bad, path_changed, amplification_blocked;
	/* the old path's re-validation after an apparent migration (path.h): challenges sent to the
	 * address left, moves refused before they happened, undone after, and confirmed */
	uint64_t path_old_challenge_tx, path_refused, path_reverted, path_confirmed;
	uint64_t ring_full_datagrams, ring_full_events;
	/* of ring_full_datagrams, control datagrams (handshake, CLOSE, a presence's ack of a PING,
	 * path challenges and responses) that found even the ring's reserve for them full: more of
	 * them than the reserve holds came between two flushes of the host (ep_internal.h inv. 6) */
	uint64_t ring_full_control;
	uint64_t msg_events_held; /* packets whose message frames were left unread: the session had
				   * KONCE_EP_SESS_MSG_EVENTS unconsumed MESSAGE events (back-pressure) */
	uint64_t sessions_opened, sessions_closed, sessions_live;
	/* the table's rules (ep_table.c): idle incoming sessions closed to make room, and ones
	 * replaced by a newer session of the same key */
	uint64_t sessions_evicted, sessions_replaced;
	/* reliable messages */
	uint64_t msgs_queued, msgs_delivered, msgs_failed, msgs_rx, keepalive_tx, idle_closed;
	/* waits for room in the out ring (ep_timer.c invariant 5), each one counted: a timer call
	 * that left due sessions for want of free slots, a due session sent back unvisited by a
	 * call that filled the ring, a keepalive or path challenge's retry found due with no room.
	 * What waited stayed due (the next timer is now) */
	uint64_t timer_deferred;
	/* presences that grew into channels (their reliability state made), and idle channels that
	 * shrank back to presences (ep_msg.c) */
	uint64_t channels_grown, channels_shrunk;
	/* path MTU: probes sent and lost, PLPMTU raises, black holes and path changes that set a
	 * session back to KONCE_PMTU_BASE, MESSAGE frames over KONCE_EP_MAX_MESSAGE (dropped) */
	uint64_t pmtu_probes_tx, pmtu_probes_lost, pmtu_raised, pmtu_blackholes, pmtu_resets, message_too_long;
	/* timers (ep_timer.c): sessions whose timers konce_ep_timer() ran; it visits only those due */
	uint64_t timer_visits;
	/* the table's rules (ep_table.c): index entries (sessions, sources) they looked at; per
	 * admission a handful, whatever the number of sessions */
	uint64_t table_visits;
	/* reassembly charges per source (ep_msg.c): entries a channel's growth looked at to find its
	 * source's; one or two, whatever the number of sessions */
	uint64_t rsrc_visits;
};

/* 0, -EINVAL (bad config), -ENOMEM, or the error of locking the session key slab in memory
 * (-ENOMEM over RLIMIT_MEMLOCK, -EPERM, -EAGAIN: node/base/secmem.h; 288 bytes per session). */
int konce_ep_new(konce_ep **out, const konce_ep_config *cfg, uint64_t now_us);
/* Wipes every secret and frees everything; NULL is fine.  No events are queued. */
void konce_ep_free(konce_ep *ep);

/* What konce_ep_input() did with one datagram.  Every drop is also counted (konce_ep_counters) under
 * its exact reason; the verdict says what a caller routing datagrams by other means (the node's
 * receive switch, traversal) needs to know, without reading counters. */
enum konce_ep_verdict {
	KONCE_EP_NOT_MINE = 1,         /* empty, over 1200 bytes, or a type byte that is not the transport's */
	KONCE_EP_HELLO_ANSWERED,       /* server: a HELLO answered statelessly (COOKIE or VERSION sent) */
	KONCE_EP_ESTABLISHED,          /* conn is established now: a new server session by an INITIATE, or
					* our attempt by an ACCEPT that matched it and decrypted */
	KONCE_EP_SIMOPEN_MERGED,       /* server: an authenticated INITIATE crossed our attempt conn to its
					* key and became that attempt's session (hs_simopen.c) */
	KONCE_EP_SIMOPEN_YIELDED,      /* server: an authenticated INITIATE crossed our attempt conn to its
					* key and was dropped: our key is lower, our INITIATE wins */
	KONCE_EP_ACCEPT_RESENT,        /* server: a copy of an INITIATE we accepted (conn); ACCEPT sent again */
	KONCE_EP_COOKIE_TAKEN,         /* client: a COOKIE for our HELLO (conn); our INITIATE follows, now or
					* once the proof of work is solved.  It proves nothing about the
					* server: whoever saw our HELLO can echo its cid */
	KONCE_EP_VERSION_TAKEN,        /* client: a VERSION for our HELLO (conn); the attempt FAILED */
	KONCE_EP_SESSION_DATA,         /* an authenticated DATA packet for conn (decrypted, not a replay,
					* valid frames): proof that its route carries the peer's traffic */
	KONCE_EP_DROPPED_MALFORMED,    /* bad size, header or frames (conn set when it decrypted) */
	KONCE_EP_DROPPED_UNMATCHED,    /* answers no handshake or session of ours (unknown cid, a VERSION
					* that contradicts our HELLO), or the session is not ready */
	KONCE_EP_DROPPED_STALE,        /* cookie expired or challenge out of the window; a replayed INITIATE
					* or DATA packet */
	KONCE_EP_DROPPED_AUTH,         /* failed a MAC, the proof of work, a decryption or a key check, or
					* the HELLO's group clue */
	KONCE_EP_DROPPED_FULL,         /* no room: the challenge table, the session table, the source's or
					* the key's session cap */
	KONCE_EP_DROPPED_VERSION,      /* server: an INITIATE for a version we do not speak */
	KONCE_EP_DROPPED_POW_TOO_HIGH, /* client: the COOKIE demands more work than we pay; conn FAILED */
};

/* The rest of konce_ep_input()'s answer. */
typedef struct konce_ep_rx {
	uint32_t conn;  /* the session the verdict names, or 0 */
	unsigned cost;  /* load units (load.h KONCE_COST_*) the datagram cost: what an input queue charges */
} konce_ep_rx;

/* One received datagram (any length; garbage is counted and dropped).  rx (may be NULL) gets the
 * conn and the cost.  Returns what happened to it. */
enum konce_ep_verdict konce_ep_input(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
				     uint64_t now_us, konce_ep_rx *rx);
/* Whether a verdict means the datagram was dropped (counted, nothing changed). */
static inline bool konce_ep_dropped(enum konce_ep_verdict v) { return v >= KONCE_EP_DROPPED_MALFORMED; }

/* Opens a session to server_pk at `to`; msg (len <= KONCE_EP_MAX_FIRST_MESSAGE, may be empty)
 * rides in the INITIATE.  The client shows a key derived for server_pk from cfg->identity, or
 * cfg->identity itself if cfg->explicit_identity.  On 0, *conn names the session and exactly one
 * of ESTABLISHED or FAILED follows (unless konce_ep_close() ends it first).  Simultaneous open: if
 * the peer dials us at the same time and both show the keys the other dials (explicit identity),
 * the two handshakes make one session; on the side with the higher key it is the peer's, and this
 * conn's ESTABLISHED then says incoming (docs/PROTOCOL.md section 14), and msg became a reliable
 * message riding in our ACCEPT: the event's msg_id names it (MSG_DELIVERED or MSG_FAILED follows),
 * 0 if msg was empty or could not be queued (not sent).  -EINVAL (also: server_pk not a canonical X25519 key),
 * -EMSGSIZE, -ENOSPC (every slot taken, none evictable: ep_table.c), -ENOMEM. */
int konce_ep_connect(konce_ep *ep, const uint8_t server_pk[KONCE_WIRE_KEY], const konce_addr *to,
		     const uint8_t *msg, size_t len, uint64_t now_us, uint32_t *conn);
/* Per-connection choices; a zeroed struct means the defaults of konce_ep_connect(). */
typedef struct konce_ep_connect_opts {
	const konce_identity *as; /* show this identity (borrowed until ESTABLISHED or FAILED) */
	const uint8_t *group_key; /* 32 bytes: limited-circulation group of the server (copied) */
	bool per_server;          /* show the key derived for server_pk, even with explicit_identity
				   * (ignored when `as` is set) */
} konce_ep_connect_opts;
/* konce_ep_connect() with options; opts may be NULL. */
int konce_ep_connect_ex(konce_ep *ep, const uint8_t server_pk[KONCE_WIRE_KEY], const konce_addr *to,
			const uint8_t *msg, size_t len, const konce_ep_connect_opts *opts, uint64_t now_us,
			uint32_t *conn);
/* One message (len <= KONCE_EP_MAX_MESSAGE) in one DATA packet (or in the pending ACCEPT).
 * 0, -ENOENT (no such conn), -ENOTCONN (handshake not finished), -EMSGSIZE, -ENOBUFS (out ring full). */
int konce_ep_send(konce_ep *ep, uint32_t conn, const uint8_t *msg, size_t len, uint64_t now_us);
/* Sends an authenticated CLOSE (if established) and frees the session now.  0, -ENOENT. */
int konce_ep_close(konce_ep *ep, uint32_t conn, uint64_t now_us);

/* Next datagram to send: copies it into buf (KONCE_PMTU_BASE bytes, or the configured
 * max_datagram), sets *len and *to.  false when none is queued. */
bool konce_ep_poll_datagram(konce_ep *ep, uint8_t *buf, size_t *len, konce_addr *to);
/* The same without the copy, for a caller that hands datagrams to the kernel by reference
 * (node/io/udp.h konce_udp_queue_ref): the next datagram is *pkt[0, *len), inside the endpoint's
 * out ring.  Lifetime: the datagram is lent, not freed; its slot stays reserved (the ring counts
 * it as taken, so no later call writes over it) until konce_ep_release_datagrams(), and *pkt is
 * valid and unchanged until then, whatever else is called on the endpoint (konce_ep_free()
 * excepted).  A caller lends a batch, sends it, then releases it: while datagrams are lent the
 * ring holds fewer new ones (a full ring drops and counts them, ring_full_datagrams).
 * konce_ep_poll_datagram() while some are lent lends its datagram too (it is released with
 * them).  false when none is queued. */
bool konce_ep_poll_datagram_ref(konce_ep *ep, const uint8_t **pkt, size_t *len, konce_addr *to);
/* Ends the loan of every datagram konce_ep_poll_datagram_ref() handed out: their slots are free
 * for new datagrams, and the pointers to them are no longer valid. */
void konce_ep_release_datagrams(konce_ep *ep);
/* A session's path MTU search (pmtud.h) and what its reliability layer lost meanwhile. */
typedef struct konce_ep_pmtu_info {
	unsigned plpmtu;         /* the largest datagram it sends now */
	unsigned state;          /* enum konce_pmtud_state (0 = not searching) */
	unsigned max;            /* the upper bound of the search */
	uint64_t probes_sent, probes_lost, blackholes;
	uint64_t packets_lost;   /* data packets recovery declared lost: what congestion control saw */
	uint64_t retransmitted;  /* fragments queued again after a loss */
} konce_ep_pmtu_info;
/* 0, or -ENOENT if conn is not live. */
int konce_ep_conn_pmtu(const konce_ep *ep, uint32_t conn, konce_ep_pmtu_info *out);
/* Next event; false when none. */
bool konce_ep_poll_event(konce_ep *ep, konce_ep_event *ev);

/* When konce_ep_timer() must next be called (UINT64_MAX = no timer). */
uint64_t konce_ep_next_timer(const konce_ep *ep);
/* Retransmissions, handshake failures, proof-of-work slices (next timer = now while one is being
 * solved), key rotation, load periods, rekey, idle close, ACCEPT resends. */
void konce_ep_timer(konce_ep *ep, uint64_t now_us);

/* Scheduling hint for an input queue (the I/O layer, the simulator's CPU model): lower is served
 * first.  0 = DATA whose connection id names one of our sessions, and answers to our own
 * handshakes; 1 + the source's rate-limit overdraft (1..16) for HELLO and INITIATE; 17 for DATA
 * for no session and unknown types.  No crypto (a header parse and a table lookup); charges
 * nothing. */
unsigned konce_ep_priority(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now_us);
const struct konce_ep_counters *konce_ep_counters(const konce_ep *ep);
/* Calls fn once per counter, with its field name, in declaration order (for status output). */
void konce_ep_counters_foreach(const struct konce_ep_counters *c,
			       void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx);
/* The current proof-of-work demand for a source with no overdraft. */
unsigned konce_ep_pow_bits(konce_ep *ep, uint64_t now_us);

/* Extension point for frame types 0x20..0x3f (see frame.h; 0x10..0x1f are the reliability
 * layer's own and never reach it).  body_len
 * says how long such a frame's body is (negative = malformed); on_frame gets each one from an
 * authenticated packet (pn = its packet number) after the packet as a whole validated.  The
 * struct is copied; ctx is borrowed.  Pass NULL to remove. */
typedef struct konce_ep_ext {
	long (*body_len)(void *ctx, uint8_t type, const uint8_t *p, size_t avail);
	void (*on_frame)(void *ctx, uint32_t conn, uint64_t pn, uint8_t type, const uint8_t *body, size_t len,
			 uint64_t now_us);
	void *ctx;
} konce_ep_ext;
void konce_ep_set_ext(konce_ep *ep, const konce_ep_ext *ext);
/* Sends already-encoded frames (len <= KONCE_WIRE_MAX_PAYLOAD) in one DATA packet on conn's path;
 * *pn (if not NULL) gets its packet number.  0, -ENOENT, -ENOTCONN, -EMSGSIZE, -ENOBUFS. */
int konce_ep_send_frames_conn(konce_ep *ep, uint32_t conn, const uint8_t *frames, size_t len, uint64_t now_us,
			      uint64_t *pn);
/* The peer acknowledged our packet pn on conn (shortens packet-number windows).  0, -ENOENT. */
int konce_ep_acked(konce_ep *ep, uint32_t conn, uint64_t pn);

/* ---- Reliable messages ---------------------------------------------------------------------
 *
 * konce_ep_msg_send() queues a message of any size up to cfg->max_message for the peer of conn.
 * The call copies the bytes (the caller's buffer is free on return) -- unless flags has
 * KONCE_EP_MSG_TAKE: then data must have been allocated through the endpoint's env (cfg->env,
 * konce_env_alloc or konce_env_alloc_raw), and on 0 the endpoint owns it (it wipes and frees it when
 * the message is delivered or failed; the caller must not touch it again), while on a negative
 * return it is still the caller's.  With len 0 nothing is taken.  It may be made while the
 * handshake is still running: the message waits for ESTABLISHED.  On 0, *msg_id names it and
 * exactly one of these events follows for it, before the conn's FAILED or CLOSED:
 *   KONCE_EV_MSG_DELIVERED  every byte acknowledged by the peer (it holds the whole message);
 *   KONCE_EV_MSG_FAILED     reason (enum konce_ep_msg_fail): TOO_LARGE (the peer's limit),
 *                           REFUSED, TIMEOUT (no ack progress for msg_timeout_ms: the peer
 *                           vanished; the session is closed too), PEER_CLOSED, UNREACHABLE (the
 *                           handshake failed: connect timeout), PROTOCOL, LOCAL_CLOSE.
 * On a negative return nothing is queued and no event follows: -ENOENT (no such conn), -EINVAL
 * (bad class or flags), -EMSGSIZE (len > max_message), -ENOBUFS (the session's send queue holds
 * send_queue_max, or all sessions' send_queue_total: wait for outcomes), -ENOMEM.
 *
 * Each message is cut into fragments (<= 960 bytes), sent under the session's congestion
 * controller (one per session, i.e. per peer path; the class of the message that starts a busy
 * period picks NewReno or LEDBAT) and pacer, retransmitted by reference when lost, and
 * reassembled by the peer on its own: a lost fragment of one message never delays another.
 * Incoming messages arrive as KONCE_EV_MESSAGE, whole, with ev.data/ev.len pointing into the
 * endpoint's memory until the next konce_ep_poll_event() (or konce_ep_free()); until then the
 * message counts against the session's msg_budget, so a slow reader pushes back on its peers.
 *
 * Presence and channel (ep_msg.c, conn.h): a session that only holds keepalives (a presence) has
 * no reliability state; the first message, or reliable frame from the peer, grows it into a
 * channel, which shrinks back to a presence after a few seconds with no message either way and
 * nothing outstanding (konce_ep_msg_keep_channel keeps one open).
 *
 * Keepalive and idle close: a session that is wanted (konce_ep_set_wanted) or has messages
 * queued sends a PING after keepalive_ms without sending, which holds NAT mappings open.  A
 * session that is not wanted closes (CLOSED with KONCE_FAIL_IDLE) after idle_timeout_ms without
 * messages either way or a PING from the peer (whose keepalive says it wants the session); any
 * session closes when nothing was heard for idle_timeout_ms.  Protocol: docs/PROTOCOL.md s. 12.
 *
 * Worked example (an I/O loop; tests/sim/msg_pair.c and transport_node.c drive one on the simulator):
 *
 *	uint64_t id;
 *	konce_ep_connect(ep, peer_pk, &addr, NULL, 0, now, &conn);
 *	konce_ep_msg_send(ep, conn, buf, len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id); // buf: free now
 *	for (;;) {
 *		// input, timer, then:
 *		while (konce_ep_poll_event(ep, &ev))
 *			if (ev.type == KONCE_EV_MESSAGE)
 *				consume(ev.data, ev.len);       // copy it if it must live longer
 *			else if (ev.type == KONCE_EV_MSG_DELIVERED && ev.msg_id == id)
 *				done();
 *			else if (ev.type == KONCE_EV_MSG_FAILED && ev.msg_id == id)
 *				report(ev.reason);
 *		// then drain konce_ep_poll_datagram() and rearm konce_ep_next_timer()
 *	}
 */
int konce_ep_msg_send(konce_ep *ep, uint32_t conn, const uint8_t *data, size_t len, unsigned klass, unsigned flags,
		      uint64_t now_us, uint64_t *msg_id);
/* When the outcome of msg_id is likely to be known: now + (unacked bytes queued on its session,
 * its own included) / the pacing rate + one probe timeout.  UINT64_MAX if msg_id is not pending
 * (its outcome event is queued already, or it never existed). */
/* Bytes queued to send on conn (msgq.h cost: messages not yet delivered or failed); 0 if none. */
uint64_t konce_ep_msg_queued(const konce_ep *ep, uint32_t conn);
/* The message memory of every session together: reassembly (frag.h, the pool of msg_budget_total)
 * and send queues (msgq.h, the pool of send_queue_total): bytes charged, the budget, and the
 * sessions holding some (for reassembly also their sources, which it is shared among). */
typedef struct konce_ep_memory {
	uint64_t reasm_used, reasm_budget, reasm_holders, reasm_sources;
	uint64_t send_used, send_budget, send_holders;
} konce_ep_memory;
void konce_ep_memory_get(const konce_ep *ep, konce_ep_memory *out);
/* Keeps the session's channel open for its life (conn.h "Presence and channel"): its short messages
 * then go out without waiting a round trip each.  0, -ENOENT (no such session or no reliable state
 * yet), -ENOMEM. */
int konce_ep_msg_keep_channel(konce_ep *ep, uint32_t conn);
uint64_t konce_ep_msg_eta(const konce_ep *ep, uint64_t msg_id, uint64_t now_us);
/* How much of msg_id the peer has acknowledged (*acked of *total bytes).  0, or -ENOENT if msg_id is
 * not pending (its outcome event is queued already, or it never existed). */
int konce_ep_msg_progress(const konce_ep *ep, uint64_t msg_id, uint64_t *acked, uint64_t *total);
/* Bytes of authenticated DATA datagrams received from and sent to conn's peer since the session opened
 * (handshake packets not counted).  0, or -ENOENT for an unknown conn. */
int konce_ep_conn_traffic(const konce_ep *ep, uint32_t conn, uint64_t *rx_bytes, uint64_t *tx_bytes);
/* Whether the application wants conn kept open while idle (keepalives).  0, -ENOENT, -ENOMEM. */
int konce_ep_set_wanted(konce_ep *ep, uint32_t conn, bool wanted, uint64_t now_us);
/* The keepalive interval of conn (us; 0 = the endpoint's keepalive_ms): what holds the NAT mapping
 * under it, learned by nat/lifetime.h.  0, -ENOENT, -ENOMEM. */
int konce_ep_set_keepalive(konce_ep *ep, uint32_t conn, uint64_t keepalive_us, uint64_t now_us);
/* Sends an ack-eliciting PING on conn now (or as soon as congestion control lets it), whose ack
 * is authenticated traffic from the peer: a liveness probe of the path under the session.
 * 0, -ENOENT, -ENOTCONN (not established), -ENOMEM. */
int konce_ep_ping(konce_ep *ep, uint32_t conn, uint64_t now_us);
/* The datagrams to peer now take another path that the endpoint cannot see (a traversal virtual
 * address moved between direct and relayed): every established session there restarts its
 * congestion control and RTT estimate and probes what is outstanding at once, instead of waiting
 * out a probe timeout that backed off while the old path was dead; every one, channel or
 * presence, starts its path MTU search again from the base size. */
void konce_ep_path_reset(konce_ep *ep, const konce_addr *peer, uint64_t now_us);

/* The durable keys this endpoint answers for as a server (default: cfg->identity alone).  The array
 * is copied (up to 8 entries), the identities are borrowed.  0, -EINVAL. */
int konce_ep_set_server_identities(konce_ep *ep, const konce_identity *const *ids, unsigned n);

/* Where the endpoint's memory goes, structure by structure (bench_sessions prints it per session):
 * each row is `n` allocated items of `each` bytes, `used` of them in use.  Arrays sized for
 * max_sessions cost resident memory only as far as they are touched.  Fills at most max rows and
 * returns how many there are.  Walks every session: a diagnostic, not for a hot path. */
struct konce_ep_mem_row {
	const char *name;
	size_t each, n, used;
};
unsigned konce_ep_mem(const konce_ep *ep, struct konce_ep_mem_row *rows, unsigned max);

#endif
