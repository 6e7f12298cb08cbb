/** \file konce.h
 * The public konce API.
 *
 * Conventions, for every call in include/konce/:
 *  - Types are opaque and prefixed konce_.  The caller owns what it creates and frees it with the
 *    matching _free call.
 *  - Calls that can fail return 0 (or a count) on success and a negative errno value on failure.
 *  - A call that fails never invokes a callback it was given, then or later.  The log sink
 *    (konce_node_config.log) is the exception: it may run inside any call, never after the node is
 *    freed.  Other callbacks run from the event loop, never inside the call that caused them.
 *  - Buffers passed in are borrowed for the duration of the call unless the call says otherwise.
 */
#ifndef KONCE_KONCE_H
#define KONCE_KONCE_H

#include <stddef.h>
#include <stdint.h>

#include "konce/traversal.h"

#define KONCE_VERSION_STRING "0.1.0"

/* KONCE_API marks the calls libkonce.so exports.  The library is built with -fvisibility=hidden, so
 * every other symbol in it is internal (tests and the konce tool link the static libkonce.a). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define KONCE_API __attribute__((visibility("default")))
#else
#define KONCE_API
#endif

enum {
	KONCE_KEY_BYTES = 32,     /* an X25519 public key, the durable identity of a peer */
	KONCE_KEY_TEXT_LEN = 43,  /* its text form: unpadded base64url (RFC 4648 section 5) */
	KONCE_DEFAULT_PORT = 7807 /* the node's documented default UDP port */
};

/** Public key text (docs/KEYS.md): 43 characters of unpadded base64url.  The caller allocates out.
 * konce_key_to_text always succeeds and returns 0.  konce_key_from_text returns 0, or -EINVAL for
 * any text that is not exactly the canonical form of a key (wrong length, a character outside the
 * base64url alphabet, whitespace, padding, non-zero trailing bits), or whose key is not a canonical
 * X25519 public key (bit 255 set, or a value of 2^255 - 19 or more: another name for a key that
 * already has one); key is then left zeroed. */
KONCE_API int konce_key_to_text(char out[KONCE_KEY_TEXT_LEN + 1], const uint8_t key[KONCE_KEY_BYTES]);
KONCE_API int konce_key_from_text(uint8_t key[KONCE_KEY_BYTES], const char *text);

struct event_base;

/** ------------------------------------------------------------------------------------------------
 * The node: one durable identity, one UDP socket, sessions to peers, and a presence store, driven by
 * the caller's libevent loop.
 */
typedef struct konce_node konce_node;

enum konce_log_level { KONCE_LOG_ERROR = 0, KONCE_LOG_WARN, KONCE_LOG_INFO, KONCE_LOG_DEBUG };

/* The congestion controller of the default message class (konce.conf `congestion`, docs/BENCH.md). */
enum konce_congestion {
	KONCE_CONGESTION_DEFAULT = 0, /* BBR */
	KONCE_CONGESTION_BBR,         /* model-based: bandwidth x min RTT; random loss does not slow it */
	KONCE_CONGESTION_NEWRENO,     /* loss-based (RFC 9002): halves the window on a loss */
	KONCE_CONGESTION_CUBIC,       /* loss-based (RFC 9438): cuts the window to 0.7, regrows on a cubic */
};

/* Which key a node shows the peers it dials (docs/KEYS.md, "Which key a node shows").  Sessions a
 * peer opens to us always run under our master key, the one it dialled. */
enum konce_identity_mode {
	KONCE_IDENTITY_DEFAULT = 0,    /* config: per-server; konce_peer_info: not known yet */
	KONCE_IDENTITY_PER_SERVER = 1, /* a key derived for that peer alone: peers cannot link us */
	KONCE_IDENTITY_MASTER = 2,     /* the master key, the one peers dial */
};

typedef struct konce_node_config {
	const char *data_dir;     /* required: holds identity.key (created 0600 on first run) and peers.db */
	const char *listen;       /* "ADDR:PORT"; NULL = "[::]:7807" (dual stack) */
	const char *control_path; /* Unix socket for the konce CLI (created 0600); NULL = none */
	int log_level;            /* enum konce_log_level; messages above it are not produced */
	/* Log sink; NULL = stderr.  line has no trailing newline and never contains a secret. */
	void (*log)(void *ctx, int level, const char *line);
	void *log_ctx;
	unsigned max_sessions;    /* 0 = 1024 */
	/* Incoming sessions per source address (IPv4, IPv6 /64) and per peer key; 0 = max(4,
	 * max_sessions / 16).  A node whose peers share one public address (a CGNAT) raises it. */
	unsigned max_per_source;
	uint64_t capacity;        /* handshake load units per second; 0 = default */
	int congestion;           /* enum konce_congestion */
	/* Control-socket sends of a file (`konce send --file`) of at least this many bytes use the
	 * background congestion class unless the request says otherwise; 0 = never (the default). */
	uint64_t file_background_bytes;
	/* The key our dials show by default (enum konce_identity_mode; 0 = per-server).  Peers with a
	 * petname, peers reached through a rendezvous, the rendezvous we register with and the keys
	 * of identity_master ("KEY,KEY,...", NULL = none) are always shown the master key. */
	int identity;
	const char *identity_master;
	/* Key text of a limited-circulation group: the node answers only clients that hold it (the
	 * others get no answer at all); NULL = answer everyone.  The node keeps it in locked memory
	 * only, not the text. */
	const char *group_key;
	/* NAT traversal (traversal.h); all zero = none.  Its strings are only read by konce_node_new(). */
	konce_traversal_config traversal;
	/* The most decisions one PROPOSE carries when this node coordinates a group (every group it
	 * hosts; docs/CONSENSUS.md "Pipelining and batching"): 1 (unbatched: one message and one
	 * durable write per decision) to 16; 0 = 16.  Members that only receive need no setting. */
	unsigned group_max_batch;
} konce_node_config;

/** Creates a node on base: loads or generates the identity, opens the store, binds the socket and, when
 * cfg->traversal asks for it, starts NAT traversal.  The config's strings are copied (traversal's are
 * read and not kept).  0, or a negative errno with err saying what failed and what to do, and *out NULL:
 * -EINVAL (a bad config: no base or data_dir, an unknown congestion, a traversal.rendezvous_peers entry
 * that is not KEY@IP:PORT or more than 4, a bad traversal.lifetime, a rendezvous_capacity above 2^20,
 * a group_max_batch above 16,
 * or a malformed identity.key), -EPERM (a data directory others may write), -ENOMEM, or the errno of
 * what could not be opened (the data directory, the socket, the control socket, a socket the
 * mapping-lifetime experiments need).
 * The node runs while base runs. */
KONCE_API int konce_node_new(konce_node **out, struct event_base *base, const konce_node_config *cfg,
			     char *err, size_t errlen);
/** Tells every connected peer the session is closing, flushes the store and frees the node.  Pending
 * sends complete with KONCE_OUTCOME_FAILED / KONCE_REASON_LOCAL_CLOSE before it returns.  0, or the
 * store's flush error (the node is freed regardless). */
KONCE_API int konce_node_free(konce_node *node);
KONCE_API void konce_node_public_key(const konce_node *node, uint8_t pk[KONCE_KEY_BYTES]);
/** The bound address as text, e.g. "[::]:7807". */
KONCE_API void konce_node_listen_addr(const konce_node *node, char *buf, size_t len);

/** Peer events: a session to a peer came up, went down, or moved to a new validated address.
 * addr is "IP:PORT" text, borrowed for the call. */
enum konce_peer_event { KONCE_PEER_UP = 1, KONCE_PEER_DOWN, KONCE_PEER_PATH };
typedef void (*konce_peer_fn)(void *ctx, int event, const uint8_t pk[KONCE_KEY_BYTES], const char *addr);
/** Registers the one peer-event callback (fn NULL removes it); it is not called from konce_node_free().
 * 0, -EINVAL. */
KONCE_API int konce_node_on_peer(konce_node *node, konce_peer_fn fn, void *ctx);

/** What this node's dials to pk use from now on: identity (enum konce_identity_mode; DEFAULT = the
 * rule of konce_node_config.identity), and group_key, the 32-byte key of pk's limited-circulation
 * group (NULL = none; copied into locked memory).  0, -EINVAL, -ENOSPC (256 keys have settings),
 * -ENOMEM. */
KONCE_API int konce_node_peer_conf(konce_node *node, const uint8_t pk[KONCE_KEY_BYTES], int identity,
				   const uint8_t *group_key);

/** Introspection. */
typedef struct konce_peer_info {
	uint8_t pk[KONCE_KEY_BYTES];
	char addr[64];      /* "IP:PORT" */
	int up;             /* 1 session established, 0 handshake in progress */
	uint32_t rtt_us;    /* last request/reply round trip, 0 = none yet */
	uint64_t msgs_rx, msgs_tx;
	uint64_t since_ms;  /* how long ago the session (or its handshake) started */
	int identity;       /* enum konce_identity_mode: the key we show it (DEFAULT = not known yet) */
	uint8_t local_pk[KONCE_KEY_BYTES]; /* once up: that key (the master key on incoming sessions) */
} konce_peer_info;
/** Fills up to max active peers; returns how many there are in all (may exceed max). */
KONCE_API int konce_node_peers(const konce_node *node, konce_peer_info *out, size_t max);

typedef struct konce_node_stats {
	uint64_t uptime_ms;
	unsigned peers_active;
	uint64_t msgs_rx, msgs_tx, msgs_dropped;
	uint64_t rx_packets, tx_packets, handshakes_in, handshakes_failed;
	uint64_t forged_dropped; /* packets that failed authentication or a handshake check */
	unsigned pow_bits;       /* proof of work currently asked of new peers */
} konce_node_stats;
KONCE_API void konce_node_get_stats(const konce_node *node, konce_node_stats *out);

/** Outcome of a message.  Exactly one outcome is reported per successful konce_node_send(). */
enum konce_outcome {
	KONCE_OUTCOME_REPLIED = 1, /* a reply arrived: data/len hold it */
	KONCE_OUTCOME_DELIVERED,   /* the peer acknowledged the message */
	KONCE_OUTCOME_FAILED,      /* reason says why */
	KONCE_OUTCOME_UNKNOWN,     /* reserved: no send produces it (every send is reliable) */
};
enum konce_reason {
	KONCE_REASON_NONE = 0,
	KONCE_REASON_UNREACHABLE, /* no answer to the handshake before the connect timeout */
	KONCE_REASON_REFUSED,     /* the peer demanded more proof of work than we pay, or a bad key */
	KONCE_REASON_TIMED_OUT,   /* connected, but no reply within the reply lifetime */
	KONCE_REASON_TOO_LARGE,   /* larger than the peer or this build accepts */
	KONCE_REASON_PEER_CLOSED, /* the session closed before the outcome was known */
	KONCE_REASON_PROTOCOL,    /* no protocol version in common */
	KONCE_REASON_LOCAL_CLOSE, /* the node was shut down */
	KONCE_REASON_INTRO_REFUSED, /* the peer refuses introductions from keys it does not know */
};
KONCE_API const char *konce_reason_str(int reason);

/** The data in an outcome or an incoming message is borrowed for the duration of the callback. */
typedef void (*konce_outcome_fn)(void *ctx, int outcome, int reason, const uint8_t *data, size_t len);

/** How a message may travel (konce_send_opts.flags).  0 = every route: DIRECT | RENDEZVOUS | RETRANSMIT.
 * The route flags say how a new session to a key with no session is reached; a session that already
 * exists is used whatever the flags.  A nonzero flags must hold RETRANSMIT and at least one route. */
enum konce_send_flags {
	/** Connect to an address the node has for the key: opts->addr_hint, else the presence store's
	 * last address for it.  Without it, a hint gives -EINVAL and stored addresses are not used. */
	KONCE_SEND_DIRECT = 0x1,
	/** When the node has no address to use (or DIRECT is not set), ask the node's primary
	 * rendezvous (konce_node_config.traversal.rendezvous_peers) for an introduction: hole punching,
	 * then relaying through the rendezvous if punching fails.  Without it, or on a node that
	 * registers with no rendezvous, such a send gives -EHOSTUNREACH. */
	KONCE_SEND_RENDEZVOUS = 0x2,
	KONCE_SEND_RETRANSMIT = 0x4,    /**< lost fragments are sent again (required: -ENOTSUP without it) */
	KONCE_SEND_STORE_FORWARD = 0x8, /**< reserved: -ENOTSUP */
};

typedef struct konce_send_opts {
	const char *addr_hint;    /* "ADDR:PORT" to reach the peer if it has no session; NULL = use the store */
	uint32_t connect_timeout_ms; /* 0 = 6000 */
	uint32_t reply_lifetime_ms;  /* requests: how long the reply handler lives once connected; 0 = 10000 */
	int expect_reply;         /* nonzero: this is a request; the outcome is REPLIED or FAILED */
	unsigned flags;           /* enum konce_send_flags; 0 = DIRECT | RENDEZVOUS | RETRANSMIT */
	int background;           /* nonzero: the background congestion class (LEDBAT): yields to other traffic */
	int keep_session;         /* nonzero: keep the session open with keepalives while idle */
} konce_send_opts;

enum { KONCE_MESSAGE_MAX = 16 * 1024 * 1024 - 64 }; /* bytes of data in one message */
enum { KONCE_ECHO_MAX = 64 * 1024 }; /* largest echo (konce ping) body a node answers */

/** Sends data to the peer with durable key pk, in handler class `klass`, connecting on demand.  The data is
 * copied; opts (NULL = the defaults) and its strings are borrowed for the call.  0 and exactly one later
 * call of fn (never from inside this call), or a negative errno and no call: -EMSGSIZE (len >
 * KONCE_MESSAGE_MAX), -EHOSTUNREACH (no session, no hint, no stored address, no introduction possible),
 * -EINVAL, -ENOTSUP (a flag combination not available yet), -ENOMEM, -ENOBUFS (too many pending).
 * handle (NULL = not wanted) receives, on success only, a number naming the message for
 * konce_node_outcome_eta() and konce_node_outcome_progress(): a plain value the caller keeps, valid until
 * the outcome is reported (later those calls give -ENOENT). */
KONCE_API int konce_node_send(konce_node *node, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass,
			      const uint8_t *data, size_t len, const konce_send_opts *opts, konce_outcome_fn fn,
			      void *ctx, uint64_t *handle);
/** When the outcome of a message is likely to be known: milliseconds from now (an estimate from what is
 * still unacknowledged, the send rate and the probe timeout), or -ENOENT once its delivery is settled
 * (a request may still await its reply) or for a message that rode in the handshake. */
KONCE_API int64_t konce_node_outcome_eta(konce_node *node, uint64_t handle);
/** How far the peer has acknowledged a message. */
typedef struct konce_progress {
	uint64_t acked_bytes; /**< bytes of its data acknowledged (to within its 11-byte header) */
	uint64_t total_bytes; /**< its length */
	int64_t eta_ms;       /**< as konce_node_outcome_eta(), or -1 when it cannot tell */
} konce_progress;
/** Fills *out for the message named by handle (from konce_node_send()).  0, -EINVAL, or -ENOENT once
 * its delivery is settled (a request may still await its reply), for a message that rode in the
 * handshake, and for an unknown handle. */
KONCE_API int konce_node_outcome_progress(konce_node *node, uint64_t handle, konce_progress *out);

/** An incoming message, valid for the duration of the handler call. */
typedef struct konce_message {
	uint8_t from[KONCE_KEY_BYTES];
	uint16_t klass;
	int is_request;
	const uint8_t *data;
	size_t len;
	uint64_t nonce_; /* for konce_node_reply() */
	uint32_t conn_;
} konce_message;
typedef void (*konce_handler_fn)(void *ctx, konce_node *node, const konce_message *msg);
/** Routes messages of class klass to fn (replacing any previous handler), called from the event loop.
 * fn NULL removes it.  Classes below 256 are reserved for konce itself.  0, -EINVAL, -ENOSPC (64 classes
 * already handled); on failure fn is never called. */
KONCE_API int konce_node_handle(konce_node *node, uint16_t klass, konce_handler_fn fn, void *ctx);
/** Answers a request; only valid inside (or after, while the session lives) the handler call.  The data
 * is copied.  0, -EINVAL (not a request), -ENOTCONN (session gone), -EMSGSIZE, -ENOMEM. */
KONCE_API int konce_node_reply(konce_node *node, const konce_message *req, const uint8_t *data, size_t len);

#endif
