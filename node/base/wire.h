/* wire.h - every konce packet layout, size, limit and timeout, in one place.
 *
 * All multi-byte integers on the wire are big-endian (network order).  Offsets are byte offsets
 * from the start of the datagram.  Times on the wire are milliseconds of the sender's own steady
 * clock; they are compared only against values the same side produced earlier.  The cores take
 * `now` in microseconds of a monotonic clock; the _MS constants below are converted where used.
 *
 * docs/PROTOCOL.md explains each field and why the server's checks come in the order they do.
 * Read with wire_get/put helpers below; never cast a datagram to a struct.
 */
#ifndef KONCE_WIRE_H
#define KONCE_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum konce_wire_limits {
	KONCE_WIRE_MAX_DATAGRAM = 1200, /* no konce datagram is larger but DATA, which may be up to
					 * its session's PLPMTU (KONCE_PMTU_MAX, at the end) */
	KONCE_WIRE_MAX_PAYLOAD = 1024,  /* plaintext frame bytes in one session packet */
	KONCE_WIRE_KEY = 32,            /* X25519 public/secret key, symmetric key */
	KONCE_WIRE_TAG = 16,            /* Poly1305 tag */
	KONCE_WIRE_MAC = 16,            /* cookie MAC, BLAKE2b-128 */
	KONCE_WIRE_CID = 8,             /* connection id */
	KONCE_WIRE_CLUE = 16,           /* limited-circulation group clue */
	KONCE_WIRE_MAX_VERSIONS = 8,    /* version slots in HELLO / INITIATE / VERSION */
	KONCE_WIRE_PN_MAX = 9,          /* longest packet-number window: 9 x 7 = 63 bits */
	KONCE_WIRE_PN_SPAN_FACTOR = 32, /* window span >= 32 x (newest sent - largest acked) */
	KONCE_WIRE_POW_MAX_BITS = 32,   /* largest proof-of-work demand a client will pay */
};

/* Protocol versions. */
enum konce_wire_version {
	KONCE_VERSION_1 = 1,
};

/* Byte 0 of every datagram. */
enum konce_packet_type {
	KONCE_PKT_HELLO = 0x01,    /* client -> server, padded to 1200 bytes */
	KONCE_PKT_COOKIE = 0x02,   /* server -> client, stateless */
	KONCE_PKT_INITIATE = 0x03, /* client -> server: cookie echo, proof of work, keys, first message */
	KONCE_PKT_ACCEPT = 0x04,   /* server -> client: session confirmed, may carry the first reply */
	KONCE_PKT_DATA = 0x05,     /* session packet, either direction */
	KONCE_PKT_VERSION = 0x06,  /* server -> client: none of your versions; here are mine */
};

/* ---------------------------------------------------------------------------------------------
 * HELLO, client -> server.  Always exactly KONCE_WIRE_MAX_DATAGRAM bytes (zero padding), so that no
 * answer to an unauthenticated packet is larger than the packet that caused it.
 */
enum konce_hello_layout {
	KONCE_HELLO_TYPE = 0,        /* 1: KONCE_PKT_HELLO */
	KONCE_HELLO_FLAGS = 1,       /* 1: KONCE_HELLO_F_* */
	KONCE_HELLO_NVERSIONS = 2,   /* 1: 1..KONCE_WIRE_MAX_VERSIONS */
	KONCE_HELLO_RESERVED = 3,    /* 1: zero */
	KONCE_HELLO_VERSIONS = 4,    /* 16: u16 x 8, most preferred first, unused slots zero */
	KONCE_HELLO_CLIENT_TIME = 20, /* 8: u64 client steady time, ms */
	KONCE_HELLO_CLIENT_CID = 28, /* 8: the id the client wants its packets addressed to */
	KONCE_HELLO_CLUE = 36,       /* 16: group clue if KONCE_HELLO_F_CLUE, else zero */
	KONCE_HELLO_PADDING = 52,    /* zero bytes up to KONCE_HELLO_SIZE */
	KONCE_HELLO_SIZE = KONCE_WIRE_MAX_DATAGRAM,
};
enum { KONCE_HELLO_F_CLUE = 0x01 };

/* ---------------------------------------------------------------------------------------------
 * COOKIE, server -> client.  Built from the HELLO and server secrets only: no allocation, no
 * public-key work.  mac = BLAKE2b-128 keyed by the cookie secret of generation key_id over
 * KONCE_COOKIE_MAC_INPUT (below).
 */
enum konce_cookie_layout {
	KONCE_COOKIE_TYPE = 0,        /* 1: KONCE_PKT_COOKIE */
	KONCE_COOKIE_FLAGS = 1,       /* 1: KONCE_COOKIE_F_* */
	KONCE_COOKIE_VERSION = 2,     /* 2: the version the server chose from the HELLO's list */
	KONCE_COOKIE_CLIENT_CID = 4,  /* 8: echo of HELLO client_cid */
	KONCE_COOKIE_CLIENT_TIME = 12, /* 8: echo of HELLO client_time */
	KONCE_COOKIE_CHALLENGE = 20,  /* 8: u64 sequential challenge number */
	KONCE_COOKIE_SERVER_TIME = 28, /* 8: u64 server steady time, ms */
	KONCE_COOKIE_POW_BITS = 36,   /* 1: proof-of-work demand, 0..KONCE_WIRE_POW_MAX_BITS */
	KONCE_COOKIE_KEY_ID = 37,     /* 1: generation of transient key + cookie secret */
	KONCE_COOKIE_RESERVED = 38,   /* 2: zero */
	KONCE_COOKIE_SERVER_EPK = 40, /* 32: server transient public key (masked if F_MASKED) */
	KONCE_COOKIE_MAC = 72,        /* 16 */
	KONCE_COOKIE_SIZE = 88,
};
enum { KONCE_COOKIE_F_MASKED = 0x01 }; /* limited-circulation: epk XORed with a group keystream */

/* The cookie MAC input, assembled by cookie.c (not sent as such):
 *   client address as 16 bytes (IPv4 as ::ffff:a.b.c.d) || client port u16 || version u16 ||
 *   nversions u8 || versions 16 || client_cid 8 || client_time u64 || clue 16 ||
 *   challenge u64 || server_time u64 || pow_bits u8 || key_id u8
 */
enum { KONCE_COOKIE_MAC_INPUT = 16 + 2 + 2 + 1 + 16 + 8 + 8 + 16 + 8 + 8 + 1 + 1 };

/* ---------------------------------------------------------------------------------------------
 * INITIATE, client -> server.  Echoes everything the server needs to recompute the cookie MAC,
 * pays the proof of work, and carries two boxes:
 *   box1 = XChaCha20-Poly1305(k_box1, nonce 0, ad = bytes [0, POW_NONCE)):
 *          client durable pk (32) || wanted server durable pk (32) || client time u64 (8)
 *   box2 = the first session packet payload under the client->server session key, packet
 *          number 1, ad = bytes [0, POW_NONCE).  It runs to the end of the datagram.
 * Proof of work: BLAKE2b-256 of the whole datagram (pow_nonce in place) ends in pow_bits zero bits
 * (the last byte's low bits first, then the byte before it, and so on).
 */
enum konce_initiate_layout {
	KONCE_INIT_TYPE = 0,          /* 1: KONCE_PKT_INITIATE */
	KONCE_INIT_FLAGS = 1,         /* 1: zero */
	KONCE_INIT_VERSION = 2,       /* 2: from the COOKIE */
	KONCE_INIT_CLIENT_CID = 4,    /* 8 */
	KONCE_INIT_CLIENT_TIME = 12,  /* 8: echo */
	KONCE_INIT_CHALLENGE = 20,    /* 8: echo */
	KONCE_INIT_SERVER_TIME = 28,  /* 8: echo */
	KONCE_INIT_POW_BITS = 36,     /* 1: echo */
	KONCE_INIT_KEY_ID = 37,       /* 1: echo */
	KONCE_INIT_NVERSIONS = 38,    /* 1: echo of the HELLO's list, so a downgrade breaks the MAC */
	KONCE_INIT_RESERVED = 39,     /* 1: zero */
	KONCE_INIT_VERSIONS = 40,     /* 16: echo */
	KONCE_INIT_MAC = 56,          /* 16: echo of the cookie MAC */
	KONCE_INIT_CLUE = 72,         /* 16: echo of the HELLO clue (zero if none) */
	KONCE_INIT_CLIENT_EPK = 88,   /* 32: client transient public key */
	KONCE_INIT_POW_NONCE = 120,   /* 8: varied by the client until the proof holds */
	KONCE_INIT_BOX1 = 128,        /* 72 + 16 */
	KONCE_INIT_BOX1_PLAIN = 72,
	KONCE_INIT_BOX2 = 128 + 72 + 16, /* 216: first message, >= 16 bytes (the tag) */
	KONCE_INIT_MIN_SIZE = 216 + KONCE_WIRE_TAG,
};

/* ---------------------------------------------------------------------------------------------
 * ACCEPT, server -> client.  The payload is the server's first session packet (packet number 1,
 * server->client key), ad = bytes [0, ACCEPT_BOX).  Decrypting it proves the server holds the
 * durable key the client asked for.
 */
enum konce_accept_layout {
	KONCE_ACCEPT_TYPE = 0,        /* 1: KONCE_PKT_ACCEPT */
	KONCE_ACCEPT_FLAGS = 1,       /* 1: zero */
	KONCE_ACCEPT_CLIENT_CID = 2,  /* 8: destination */
	KONCE_ACCEPT_SERVER_CID = 10, /* 8: where the client sends from now on */
	KONCE_ACCEPT_BOX = 18,
	KONCE_ACCEPT_MIN_SIZE = 18 + KONCE_WIRE_TAG,
};

/* ---------------------------------------------------------------------------------------------
 * DATA, either direction, after the handshake.  The packet number is sent as a window (pnwin.h);
 * the AEAD nonce is 16 zero bytes || full packet number u64.  ad = the whole header.
 */
enum konce_data_layout {
	KONCE_DATA_TYPE = 0,          /* 1: KONCE_PKT_DATA */
	KONCE_DATA_FLAGS = 1,         /* 1: KONCE_DATA_F_* */
	KONCE_DATA_DCID = 2,          /* 8: the receiver's connection id */
	KONCE_DATA_PN = 10,           /* 1..KONCE_WIRE_PN_MAX: packet number window */
	KONCE_DATA_MIN_SIZE = 10 + 1 + KONCE_WIRE_TAG,
};
enum { KONCE_DATA_F_KEY_PHASE = 0x01 }; /* flips at each rekey */

/* ---------------------------------------------------------------------------------------------
 * VERSION, server -> client, unauthenticated, sent only in answer to a full-size HELLO.
 */
enum konce_version_layout {
	KONCE_VERSION_TYPE = 0,       /* 1: KONCE_PKT_VERSION */
	KONCE_VERSION_NVERSIONS = 1,  /* 1 */
	KONCE_VERSION_RESERVED = 2,   /* 2: zero */
	KONCE_VERSION_CLIENT_CID = 4, /* 8: echo */
	KONCE_VERSION_VERSIONS = 12,  /* 16 */
	KONCE_VERSION_SIZE = 28,
};

/* ---------------------------------------------------------------------------------------------
 * Frames: the plaintext inside box2, ACCEPT and DATA payloads is a sequence of frames, each a type
 * byte and a body.  Unknown frame types end parsing of that packet (it is counted and dropped).
 */
enum konce_frame_type {
	KONCE_FRAME_PADDING = 0x00,        /* to the end of the payload */
	KONCE_FRAME_PING = 0x01,           /* no body; asks for an ack */
	KONCE_FRAME_MESSAGE = 0x02,        /* u16 length || bytes: a single-packet message */
	KONCE_FRAME_PATH_CHALLENGE = 0x03, /* 8 random bytes */
	KONCE_FRAME_PATH_RESPONSE = 0x04,  /* 8 bytes, echo */
	KONCE_FRAME_CLOSE = 0x05,          /* u16 reason */
	/* 0x10..0x3f: reliability and message frames (ACK, FRAGMENT, ...), see reliability headers */
};

/* ---------------------------------------------------------------------------------------------
 * Message header: the first bytes of every MESSAGE frame body, so a message can be routed to a
 * handler class and a reply to the request it answers.  Nonces are per sender and class.
 */
enum konce_msg_layout {
	KONCE_MSG_CLASS = 0, /* 2: handler class (KONCE_CLASS_*; applications use >= 256) */
	KONCE_MSG_FLAGS = 2, /* 1: KONCE_MSG_F_* */
	KONCE_MSG_NONCE = 3, /* 8: request nonce, echoed by the reply; 0 for a plain message */
	KONCE_MSG_BODY = 11,
};
enum { KONCE_MSG_F_REQUEST = 0x01, KONCE_MSG_F_REPLY = 0x02 };
enum konce_msg_class {
	KONCE_CLASS_ECHO = 1, /* built in: a request is answered with its own body (konce ping), if the
			       * body is at most KONCE_ECHO_MAX bytes and the peer's send queue holds
			       * less than KONCE_ECHO_QUEUE_MAX (a peer that never acks gets nothing) */
	KONCE_CLASS_TEXT = 2, /* built in: text for the operator (konce send), logged by the node */
	KONCE_CLASS_RENDEZVOUS = 3, /* rendezvous messages (REGISTER ... RELAYED), see the end of this file */
	KONCE_CLASS_GROUP = 4, /* consensus group messages (consensus/cwire.h), node/core/ncgroup.h */
	KONCE_CLASS_APP_MIN = 256,
};
enum { KONCE_ECHO_QUEUE_MAX = 256 * 1024 }; /* KONCE_ECHO_MAX is in konce/konce.h */

/* ---------------------------------------------------------------------------------------------
 * Timers and periods (milliseconds unless named otherwise).
 */
enum konce_wire_times {
	KONCE_KEY_ROTATE_MS = 120 * 1000,     /* server transient key + cookie secret rotation */
	KONCE_COOKIE_LIFETIME_MS = 10 * 1000, /* an INITIATE must echo a cookie at most this old */
	KONCE_HS_RETRY_MS = 1000,             /* client resends HELLO / INITIATE */
	KONCE_HS_ATTEMPTS = 6,                /* then the handshake fails */
	KONCE_HS_RESTART_AFTER = 3,           /* unanswered INITIATEs before the client starts over
						 with a HELLO (once): its cookie may be dead */
	KONCE_HS_DUP_ANSWERS = 3,             /* duplicate INITIATEs a server answers with its stored
						 ACCEPT, at most, and only if no larger than them */
	KONCE_LOAD_PERIOD_MS = 1000,          /* server re-measures handshake load */
	KONCE_REKEY_AFTER_MS = 120 * 1000,    /* a sender rekeys after this long on one key */
	KONCE_REKEY_OLD_KEY_MS = 3000,        /* receiver keeps the previous key this long */
	KONCE_IDLE_TIMEOUT_MS = 180 * 1000,   /* default idle close */
};
#define KONCE_REKEY_AFTER_PACKETS ((uint64_t)1 << 24)

/* ---------------------------------------------------------------------------------------------
 * Big-endian accessors.  Callers check bounds first; these never do.
 */
static inline uint16_t wire_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t wire_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}
static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void wire_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The message header (konce_msg_layout) into out[0, KONCE_MSG_BODY); the body follows it. */
static inline void konce_msg_head_put(uint8_t out[KONCE_MSG_BODY], uint16_t klass, uint8_t flags, uint64_t nonce)
{
	wire_put16(out + KONCE_MSG_CLASS, klass);
	out[KONCE_MSG_FLAGS] = flags;
	wire_put64(out + KONCE_MSG_NONCE, nonce);
}

/* =============================================================================================
 * Reliability and message frames, 0x10..0x3f.  Appended section: ackframe.h, recvtrack.h,
 * recovery.h, rtt.h, cc.h, frag.h.  Byte diagrams and rules: docs/PROTOCOL.md sections 11 and 12.
 *
 * Frame bodies use variable-length integers ("varint", RFC 9000 section 16): the two high bits of
 * the first byte give the length (00 = 1, 01 = 2, 10 = 4, 11 = 8 bytes), the remaining bits are the
 * value, big-endian.  Largest value 2^62 - 1.  node/base/varint.h reads and writes them.
 */
enum konce_rel_frame_type {
	KONCE_FRAME_ACK = 0x10,       /* selective ack + flow-control credit */
	KONCE_FRAME_ACK_OWD = 0x11,   /* the same, followed by a u32 one-way-delay sample */
	KONCE_FRAME_TIMESTAMP = 0x12, /* u32: low 32 bits of the sender's send time, microseconds */
	KONCE_FRAME_FRAGMENT = 0x13,  /* a piece of a message */
	KONCE_FRAME_REFUSE = 0x14,    /* varint message id | u8 reason: the receiver will not take it */
};

/* REFUSE reasons (the receiver's konce_reasm_result, narrowed to what the sender acts on). */
enum konce_refuse_reason {
	KONCE_REFUSE_TOO_LARGE = 1, /* over the receiver's maximum message size: final */
	KONCE_REFUSE_NO_BUDGET = 2, /* more than the receiver's memory budget has free */
	KONCE_REFUSE_BUSY = 3,      /* too many messages in reassembly at once */
	KONCE_REFUSE_OTHER = 4,     /* out of memory, stalled, or refused before */
};
enum { KONCE_REFUSE_MAX_SIZE = 1 + 8 + 1 };

/* Keepalive and presence: a wanted but idle session sends a PING this often, which holds
 * a NAT mapping open (RFC 4787 REQ-5 asks NATs for 2 minutes, many keep 30 s). */
enum konce_keepalive_times {
	KONCE_KEEPALIVE_MS = 25 * 1000,
	KONCE_MSG_TIMEOUT_MS = 30 * 1000, /* no ack progress this long with data outstanding: timed out */
};

/* ACK / ACK_OWD body (all varints except owd):
 *   largest acknowledged | ack delay (us >> KONCE_ACK_DELAY_EXPONENT) | credit (bytes) |
 *   first range (packets below largest also received) | range count |
 *   range count x (gap: missing packets - 1 | length: received packets - 1) | [owd u32]
 */
enum konce_ack_limits {
	KONCE_ACK_DELAY_EXPONENT = 3,     /* ack delay travels in units of 8 us */
	KONCE_ACK_MAX_RANGES = 32,        /* received ranges in one ack, the first included */
	KONCE_ACK_OWD_SIZE = 4,
	KONCE_ACK_MIN_SIZE = 1 + 5,       /* type + five one-byte varints */
	KONCE_ACK_ELICITING_THRESHOLD = 2, /* ack at once after this many ack-eliciting packets */
	KONCE_ACK_MAX_DELAY_MS = 25,      /* otherwise at most this late */
	KONCE_RECVTRACK_MAX_RANGES = 64,  /* received ranges a receiver remembers */
};

enum { KONCE_TIMESTAMP_SIZE = 1 + 4 };

/* Loss detection and RTT (RFC 9002 sections 5 and 6; times in microseconds). */
enum konce_loss_constants {
	KONCE_LOSS_PACKET_THRESHOLD = 3,  /* lost when 3 later packets are acked */
	KONCE_LOSS_TIME_NUM = 9,          /* ... or sent 9/8 RTT before a later acked packet */
	KONCE_LOSS_TIME_DEN = 8,
	KONCE_GRANULARITY_US = 1000,      /* timer granularity G */
	KONCE_INITIAL_RTT_US = 333000,    /* before the first sample */
	KONCE_PERSISTENT_CONGESTION_THRESHOLD = 3, /* PTO periods of loss = persistent congestion */
	KONCE_PTO_MAX_BACKOFF = 16,       /* cap on the PTO doubling exponent */
	KONCE_LOSS_PACKET_THRESHOLD_MAX = 32, /* packet threshold after observed reordering, at most */
	KONCE_LOSS_TIME_NUM_MAX = 16,     /* time threshold after observed reordering: at most 2 RTT */
};

/* FRAGMENT body:
 *   message id (varint, >= 1) | offset (varint) | total length (varint) | length u16 | bytes
 * offset + length <= total <= the receiver's maximum message size.  A sender cuts a message into
 * units of KONCE_FRAG_UNIT bytes and sends runs of whole units (the message's last unit may be
 * short), as many as the packet has room for at the session's PLPMTU, so (message id, first unit,
 * unit count) names a fragment; a receiver accepts any offsets, overlapping or not.
 */
enum konce_frag_limits {
	KONCE_FRAG_UNIT = 64,                /* the sender's cutting granularity */
	KONCE_FRAG_DATA_MAX = 960,           /* message data in one FRAGMENT of a base-size packet:
					      * a message larger than this takes more than one */
	KONCE_FRAG_HEADER_MAX = 1 + 8 + 8 + 8 + 2,
	KONCE_MSG_MAX_DEFAULT = 16 * 1024 * 1024,
};

/* =============================================================================================
 * Rendezvous and traversal.  Appended section: nat/rdvwire.h encodes and parses these;
 * docs/TRAVERSAL.md explains them.
 *
 * In the protocol, REGISTER ... RELAYED are bodies of MESSAGE frames of class
 * KONCE_CLASS_RENDEZVOUS on an authenticated konce session with the rendezvous node, so the key
 * fields must equal the session's peer key and the receiver checks that.  The simulator tests
 * (tests/sim/test_traversal_matrix.c) carry them directly in datagrams, where nothing
 * authenticates them.  PUNCH is a placeholder probe: the real traversal runs the simultaneous
 * variant of the handshake instead (nat/punch.h says how it maps).
 *
 * A candidate on the wire is 19 bytes: type u8 (KONCE_CAND_*) | ip 16 (IPv4 mapped) | port u16.
 * NAT information is 4 bytes: mapping u8 (enum konce_natmap, nat/nat.h) | port step u8 | last mapped
 * port u16.
 */
enum konce_rdv_type {
	KONCE_RDV_REGISTER = 0x40,      /* peer -> rendezvous: I am key K, here are my candidates */
	KONCE_RDV_REGISTERED = 0x41,    /* rendezvous -> peer: your reflexive address, a time stamp */
	KONCE_RDV_INTRO_REQUEST = 0x42, /* peer -> rendezvous: introduce me to key T */
	KONCE_RDV_INTRO = 0x43,         /* rendezvous -> both peers: the other's candidates, a delay */
	KONCE_RDV_INTRO_FAIL = 0x44,    /* rendezvous -> requester: no introduction (reason) */
	KONCE_RDV_RELAY = 0x45,         /* peer -> rendezvous: forward this opaque payload to key T */
	KONCE_RDV_RELAYED = 0x46,       /* rendezvous -> peer: an opaque payload from key F */
	KONCE_RDV_PUNCH = 0x47,         /* peer <-> peer: probe or its acknowledgement */
	KONCE_RDV_INTRO_REFUSE = 0x48,  /* peer -> rendezvous: I refuse the introduction to key T */
	KONCE_RDV_FILTER = 0x49,        /* the filtering test: echo, ask for a probe, the probe */
	KONCE_RDV_INTRO_OFFER = 0x4a,   /* rdv -> target: key R asks for you (no addresses yet) */
	KONCE_RDV_INTRO_ACCEPT = 0x4f,  /* target -> rdv: I accept the introduction to key R */
};

enum konce_cand_type {
	KONCE_CAND_HOST = 1,      /* a local interface address */
	KONCE_CAND_REFLEXIVE = 2, /* the address a rendezvous saw us at */
	KONCE_CAND_MAPPED = 3,    /* a port mapping from NAT-PMP / UPnP-IGD */
	KONCE_CAND_PREDICTED = 4, /* a guessed next mapping of a sequential allocator (never sent) */
	KONCE_CAND_PEER_REFLEXIVE = 5, /* the address a peer's probe came from (never sent) */
};

enum konce_rdv_limits {
	KONCE_RDV_CAND_SIZE = 19,
	KONCE_RDV_NAT_SIZE = 4,
	KONCE_RDV_MAX_REG_CANDS = 8,     /* candidates in one REGISTER */
	KONCE_RDV_MAX_INTRO_CANDS = 12,  /* candidates in one INTRO (the registered ones + observed) */
	KONCE_RDV_MAX_RELAY = KONCE_WIRE_MAX_DATAGRAM, /* payload bytes in RELAY / RELAYED: any base-size
						       * konce datagram (a relayed session's PLPMTU) */
	KONCE_RDV_SEQ_MAX_STEP = 8,      /* a port step above this is taken as random allocation */
	KONCE_INTRO_SECRET_BYTES = 32,   /* the per-introduction probe key */
	KONCE_PUNCH_MAC_BYTES = 16,      /* PUNCH and HELLO-tag MACs */
};

/* REGISTER: size 56 + 19 x ncand. */
enum konce_rdv_register_layout {
	KONCE_REG_TYPE = 0,      /* 1 */
	KONCE_REG_FLAGS = 1,     /* 1: zero */
	KONCE_REG_NCAND = 2,     /* 1: 0..KONCE_RDV_MAX_REG_CANDS */
	KONCE_REG_RESERVED = 3,  /* 1: zero */
	KONCE_REG_KEY = 4,       /* 32: the registrant's durable public key */
	KONCE_REG_TXID = 36,     /* 8: echoed in REGISTERED */
	KONCE_REG_ECHO = 44,     /* 8: stamp of the last REGISTERED, 0 if none (RTT measurement) */
	KONCE_REG_NAT = 52,      /* 4: NAT information */
	KONCE_REG_CANDS = 56,
};

/* REGISTERED: size 42. */
enum konce_rdv_registered_layout {
	KONCE_REGD_TYPE = 0,     /* 1 */
	KONCE_REGD_FLAGS = 1,    /* 1: zero */
	KONCE_REGD_RESERVED = 2, /* 2: zero */
	KONCE_REGD_TXID = 4,     /* 8: echo */
	KONCE_REGD_STAMP = 12,   /* 8: rendezvous steady time, us; the next REGISTER echoes it */
	KONCE_REGD_ADDR = 20,    /* 18: ip 16 | port u16, the reflexive address */
	KONCE_REGD_REFRESH = 38, /* 4: u32 ms, register again within this */
	KONCE_REGD_SIZE = 42,
};

/* INTRO_REQUEST: size 76. */
enum konce_rdv_intro_request_layout {
	KONCE_IREQ_TYPE = 0,
	KONCE_IREQ_FLAGS = 1,    /* 1: zero */
	KONCE_IREQ_RESERVED = 2, /* 2: zero */
	KONCE_IREQ_KEY = 4,      /* 32: the requester */
	KONCE_IREQ_TARGET = 36,  /* 32: the key it wants to reach */
	KONCE_IREQ_TXID = 68,    /* 8 */
	KONCE_IREQ_SIZE = 76,
};

/* INTRO: size 84 + 19 x ncand. */
enum konce_rdv_intro_layout {
	KONCE_INTRO_TYPE = 0,
	KONCE_INTRO_FLAGS = 1,   /* 1: KONCE_INTRO_F_* */
	KONCE_INTRO_NCAND = 2,   /* 1: 1..KONCE_RDV_MAX_INTRO_CANDS */
	KONCE_INTRO_RESERVED = 3,
	KONCE_INTRO_PEER = 4,    /* 32: the other side's key */
	KONCE_INTRO_ID = 36,     /* 8: names this introduction; both sides get the same one */
	KONCE_INTRO_DELAY = 44,  /* 4: u32 us: send the first probe this long after receipt */
	KONCE_INTRO_NAT = 48,    /* 4: the other side's NAT information */
	KONCE_INTRO_SECRET = 52, /* 32: random, the same in both INTROs: keys this attempt's probe MACs */
	KONCE_INTRO_CANDS = 84,
};
enum { KONCE_INTRO_F_INITIATOR = 0x01 }; /* you asked for this introduction */

/* INTRO_FAIL: size 44. */
enum konce_rdv_intro_fail_layout {
	KONCE_IFAIL_TYPE = 0,
	KONCE_IFAIL_REASON = 1,  /* 1: KONCE_IFAIL_* */
	KONCE_IFAIL_RESERVED = 2,
	KONCE_IFAIL_TARGET = 4,  /* 32 */
	KONCE_IFAIL_TXID = 36,   /* 8: echo */
	KONCE_IFAIL_SIZE = 44,
};
enum konce_ifail_reason {
	KONCE_IFAIL_UNKNOWN = 1,  /* the target did not register (or its registration expired) */
	KONCE_IFAIL_REFUSED = 2,  /* the rendezvous does not introduce this requester */
	KONCE_IFAIL_FULL = 3,     /* no room for the offer (table, or the requester key's or source's cap) */
	KONCE_IFAIL_DECLINED = 4, /* the target refuses introductions from keys it does not know */
};

/* Consent: an INTRO_REQUEST makes the rendezvous send the target only an INTRO_OFFER
 * (the INTRO_REQUEST layout: KONCE_IREQ_KEY = the requester, KONCE_IREQ_TARGET = the target,
 * KONCE_IREQ_TXID = the intro id), with no address of anyone.  The target answers INTRO_ACCEPT (the
 * same layout: KEY = the target, TARGET = the requester, TXID = the intro id) or INTRO_REFUSE
 * (below); only on INTRO_ACCEPT does the rendezvous open the relay pair and send both INTROs, with
 * that id.  Both ride on sessions only (0x4a and 0x4f are never bare datagrams).
 *
 * INTRO_REFUSE: the INTRO_REQUEST layout (size 76) with KONCE_IREQ_KEY = the refusing peer (the
 * session's key), KONCE_IREQ_TARGET = the requester it refuses, KONCE_IREQ_TXID = the INTRO's id.
 * The rendezvous answers the requester with INTRO_FAIL (KONCE_IFAIL_DECLINED, TXID = the intro id)
 * if it introduced the two. */

/* RELAY: size 68 + len.  RELAYED: size 36 + len. */
enum konce_rdv_relay_layout {
	KONCE_RELAY_TYPE = 0,
	KONCE_RELAY_FLAGS = 1,   /* 1: zero */
	KONCE_RELAY_LEN = 2,     /* 2: payload length, <= KONCE_RDV_MAX_RELAY */
	KONCE_RELAY_FROM = 4,    /* 32 */
	KONCE_RELAY_TO = 36,     /* 32 (RELAY only) */
	KONCE_RELAY_PAYLOAD = 68,
	KONCE_RELAYED_PAYLOAD = 36,
};

/* PUNCH: size 78.  MAC = BLAKE2b-128 keyed with the INTRO's secret over bytes [0, KONCE_PUNCH_MAC)
 * (nat/punch.h konce_punch_mac): only the two introduced peers can make a probe or an ack. */
enum konce_rdv_punch_layout {
	KONCE_PUNCH_TYPE = 0,
	KONCE_PUNCH_FLAGS = 1,   /* 1: KONCE_PUNCH_F_* */
	KONCE_PUNCH_SEQ = 2,     /* 2: probe number; an ACK echoes it */
	KONCE_PUNCH_INTRO = 4,   /* 8: the introduction id */
	KONCE_PUNCH_KEY = 12,    /* 32: the sender's key */
	KONCE_PUNCH_SEEN = 44,   /* 18: ACK only: the address the probe came from, else zero */
	KONCE_PUNCH_MAC = 62,    /* 16: over bytes [0, 62), keyed with the INTRO's secret */
	KONCE_PUNCH_SIZE = 78,
};
enum { KONCE_PUNCH_F_ACK = 0x01 };

/* Traversal tag in the padding of a HELLO copy the node sends to a punch target
 * (node/io/node_trav_hs.c): who sends it and for which introduction, so that a copy arriving from an
 * address the receiver does not know yet (a symmetric NAT's new mapping) is still recognised as
 * the peer's probe.  The MAC (keyed with the INTRO's secret, like PUNCH's) covers the HELLO up to
 * its padding and the tag, so only the introduced peer can make one.  The endpoint ignores HELLO
 * padding (docs/PROTOCOL.md section 2). */
enum konce_hello_trav_layout {
	KONCE_HELLO_TRAV_MAGIC = KONCE_HELLO_PADDING, /* 4: "KTRV" */
	KONCE_HELLO_TRAV_KEY = KONCE_HELLO_PADDING + 4, /* 32: the sender's public key */
	KONCE_HELLO_TRAV_INTRO = KONCE_HELLO_PADDING + 36, /* 8: u64 intro id */
	KONCE_HELLO_TRAV_MAC = KONCE_HELLO_PADDING + 44, /* 16: over bytes [0, KONCE_HELLO_TRAV_MAC) */
	KONCE_HELLO_TRAV_END = KONCE_HELLO_PADDING + 60,
};
#define KONCE_HELLO_TRAV_MAGIC_BYTES "KTRV"

/* FILTER: size 30.  The filtering test (nat/filtertest.h).  The client opens a fresh socket S and
 * sends ECHO_REQ from it, bare, to rendezvous R0; R0 answers ECHO (bare, same size, from the socket
 * it came to) with S's mapping X.  The client then asks, on its sessions, a rendezvous at another
 * IP address (ASK: probe X from your main socket) and R0 (ASK_ALT: probe X from another port); each
 * sends PROBE (bare) to X and answers SENT on the session with the address it probed from.  S never
 * sent to either source, so which probes arrive tells the filtering: the other IP's probe passes
 * only endpoint-independent filtering, R0's other port passes address-dependent too.  A
 * rendezvous probes only addresses with the IP of the asking session (the requester's own NAT). */
enum konce_rdv_filter_layout {
	KONCE_FILT_TYPE = 0,
	KONCE_FILT_OP = 1,       /* 1: KONCE_FILT_OP_* */
	KONCE_FILT_RESERVED = 2, /* 2: zero */
	KONCE_FILT_TOKEN = 4,    /* 8: chosen by the client, echoed in every answer */
	KONCE_FILT_ADDR = 12,    /* 18: ECHO: the source seen; ASK, ASK_ALT: where to probe; SENT: the
				  * probe's source; ECHO_REQ, PROBE: zero */
	KONCE_FILT_SIZE = 30,
};
enum konce_filt_op {
	KONCE_FILT_OP_ECHO_REQ = 1, /* client (fresh socket) -> rendezvous, bare */
	KONCE_FILT_OP_ECHO = 2,     /* rendezvous -> client, bare: the address ECHO_REQ came from */
	KONCE_FILT_OP_ASK = 3,      /* client -> rendezvous, on the session: probe ADDR from your socket */
	KONCE_FILT_OP_ASK_ALT = 4,  /* ... from another port of yours */
	KONCE_FILT_OP_PROBE = 5,    /* rendezvous -> ADDR, bare */
	KONCE_FILT_OP_SENT = 6,     /* rendezvous -> client, on the session: PROBE left from ADDR */
};

/* Times (milliseconds). */
enum konce_traversal_times {
	KONCE_RDV_REFRESH_MS = 20 * 1000,   /* peers re-register this often (NAT keepalive) */
	KONCE_RDV_EXPIRE_MS = 75 * 1000,    /* a registration not refreshed for this long is gone */
	KONCE_RDV_RTT_DEFAULT_MS = 100,     /* before a rendezvous has measured a peer */
	KONCE_RDV_RTT_MAX_MS = 1500,        /* longer echoes are no sample; RTTs are capped here */
	KONCE_RDV_OFFER_MS = 5000,          /* an INTRO_OFFER not accepted within this is forgotten */
	KONCE_RDV_MARGIN_MS = 20,           /* added to the intro start time */
	KONCE_PUNCH_PACE_MS = 2,            /* between two probes of one round */
	KONCE_PUNCH_GIVEUP_MS = 4000,       /* after the start time: then relay */
	KONCE_PUNCH_BIRTHDAY_AT_MS = 1000,  /* after the start time, if still nothing */
	KONCE_PUNCH_PATH_KEEPALIVE_MS = 10 * 1000, /* probe a direct path this often */
	KONCE_PUNCH_PATH_PROBE_RETRY_MS = 700,    /* ... and again this soon when unanswered */
	KONCE_PUNCH_PATH_PROBE_FAILS = 3,         /* unanswered probes in a row: the path is dead */
	KONCE_UPGRADE_FIRST_MS = 30 * 1000, /* relayed: first attempt to go direct again */
	KONCE_UPGRADE_AFTER_LOSS_MS = 2000, /* ... when a direct path just died (NAT flush) */
	KONCE_UPGRADE_MAX_MS = 300 * 1000,  /* backoff cap */
};

/* =============================================================================================
 * Probe and STUN (konce probe; nat/probewire.c, nat/stun.c; docs/PROBE.md).
 * This section is appended on its own so that edits above it do not collide with it.
 * ============================================================================================= */

/* ---------------------------------------------------------------------------------------------
 * The konce probe packet: the same fixed size in both directions, so that no reply is larger than
 * the request that caused it.  Byte 0 is 'K' (0x4b): its top two bits are 01, never 00, so a probe
 * cannot be mistaken for a STUN message arriving on the same port.
 */
#define KONCE_PROBE_MAGIC 0x4b505242u /* "KPRB" */
enum konce_probe_layout {
	KONCE_PROBE_MAGIC_OFF = 0,     /* 4: KONCE_PROBE_MAGIC */
	KONCE_PROBE_VERSION_OFF = 4,   /* 1: KONCE_PROBE_VERSION */
	KONCE_PROBE_TYPE_OFF = 5,      /* 1: KONCE_PROBE_T_* */
	KONCE_PROBE_COMMAND_OFF = 6,   /* 1: KONCE_PROBE_CMD_*; in a reply, the command obeyed */
	KONCE_PROBE_FLAGS_OFF = 7,     /* 1: KONCE_PROBE_F_* */
	KONCE_PROBE_NONCE_OFF = 8,     /* 8: chosen by the sender, echoed in the reply */
	KONCE_PROBE_SEQ_OFF = 16,      /* 4: sender's sequence number, echoed */
	KONCE_PROBE_REPLY_PORT_OFF = 20, /* 2: REPLY_TO_PORT: the port to answer to; else zero */
	KONCE_PROBE_TRANSPORT_OFF = 22, /* 1: KONCE_PROBE_TR_*: how the request travelled */
	KONCE_PROBE_TTL_OFF = 23,      /* 1: TTL / hop limit the request arrived with, 0 unknown */
	KONCE_PROBE_SEEN_SRC_OFF = 24, /* 16+2: the request's source address and port as they arrived */
	KONCE_PROBE_SEEN_DST_OFF = 42, /* 16+2: the local address and port the request arrived on */
	KONCE_PROBE_FROM_OFF = 60,     /* 16+2: the address and port this reply is sent from */
	KONCE_PROBE_OTHER_OFF = 78,    /* 16+2: the listener's alternate address and port (RFC 5780) */
	KONCE_PROBE_RESERVED_OFF = 96, /* 8: zero */
	KONCE_PROBE_SIZE = 104,
	KONCE_PROBE_ADDR_LEN = 18,     /* address as 16 bytes (IPv4 as ::ffff:a.b.c.d) || port u16 */
};
enum { KONCE_PROBE_VERSION = 1 };
enum konce_probe_type {
	KONCE_PROBE_T_REQUEST = 1,
	KONCE_PROBE_T_REPLY = 2,
};
enum konce_probe_command {
	KONCE_PROBE_CMD_SAME = 1,       /* reply from the socket the request arrived on */
	KONCE_PROBE_CMD_OTHER_PORT = 2, /* reply from the same address, the other port */
	KONCE_PROBE_CMD_OTHER_ADDR = 3, /* reply from the other address and the other port */
	KONCE_PROBE_CMD_DISPLAY = 4,    /* show it, send nothing */
	KONCE_PROBE_CMD_REPLY_TO_PORT = 5, /* reply from the same socket to (source address, reply_port) */
	KONCE_PROBE_CMD_MAX = 5,
};
enum konce_probe_flags {
	KONCE_PROBE_F_SEEN = 0x01,      /* reply: seen_src and seen_dst are filled */
	KONCE_PROBE_F_TTL = 0x02,       /* reply: ttl is known */
	KONCE_PROBE_F_OTHER = 0x04,     /* reply: the listener has an alternate address/port */
	KONCE_PROBE_F_ALL = 0x07,
};
enum konce_probe_transport {
	KONCE_PROBE_TR_UDP = 1,
	KONCE_PROBE_TR_ICMP = 2,        /* inside an ICMP / ICMPv6 echo */
	KONCE_PROBE_TR_TCP = 3,         /* inside a raw SYN / SYN-ACK-shaped TCP segment */
};
enum { KONCE_PROBE_ICMP_ID = 0x4b50 }; /* echo identifier konce uses for probes */

/* ---------------------------------------------------------------------------------------------
 * STUN (RFC 5389 / 8489, RFC 5780, and RFC 3489's older attributes, which old servers still send).
 */
#define KONCE_STUN_MAGIC_COOKIE 0x2112a442u
#define KONCE_STUN_FINGERPRINT_XOR 0x5354554eu
enum konce_stun_layout {
	KONCE_STUN_HEADER = 20,        /* type 2 || length 2 || cookie 4 || transaction id 12 */
	KONCE_STUN_TXID = 12,
	KONCE_STUN_ATTR_HEADER = 4,    /* type 2 || length 2, value padded to 4 */
	KONCE_STUN_DEFAULT_PORT = 3478,
	KONCE_STUN_MAX_MESSAGE = 1280, /* we never build a larger one; we parse any length */
};
enum konce_stun_type {
	KONCE_STUN_BINDING_REQUEST = 0x0001,
	KONCE_STUN_BINDING_INDICATION = 0x0011,
	KONCE_STUN_BINDING_SUCCESS = 0x0101,
	KONCE_STUN_BINDING_ERROR = 0x0111,
};
enum konce_stun_attr {
	KONCE_STUN_A_MAPPED_ADDRESS = 0x0001,
	KONCE_STUN_A_RESPONSE_ADDRESS = 0x0002, /* RFC 3489, ignored */
	KONCE_STUN_A_CHANGE_REQUEST = 0x0003,   /* RFC 5780 / 3489 */
	KONCE_STUN_A_SOURCE_ADDRESS = 0x0004,   /* RFC 3489: same meaning as RESPONSE-ORIGIN */
	KONCE_STUN_A_CHANGED_ADDRESS = 0x0005,  /* RFC 3489: same meaning as OTHER-ADDRESS */
	KONCE_STUN_A_USERNAME = 0x0006,
	KONCE_STUN_A_MESSAGE_INTEGRITY = 0x0008,
	KONCE_STUN_A_ERROR_CODE = 0x0009,
	KONCE_STUN_A_UNKNOWN_ATTRIBUTES = 0x000a,
	KONCE_STUN_A_REALM = 0x0014,
	KONCE_STUN_A_NONCE = 0x0015,
	KONCE_STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
	KONCE_STUN_A_PADDING = 0x0026,          /* RFC 5780 */
	KONCE_STUN_A_RESPONSE_PORT = 0x0027,    /* RFC 5780 */
	KONCE_STUN_A_XOR_MAPPED_ADDRESS_OLD = 0x8020, /* pre-RFC drafts; some servers still send it */
	KONCE_STUN_A_SOFTWARE = 0x8022,
	KONCE_STUN_A_ALTERNATE_SERVER = 0x8023,
	KONCE_STUN_A_FINGERPRINT = 0x8028,
	KONCE_STUN_A_RESPONSE_ORIGIN = 0x802b,  /* RFC 5780 */
	KONCE_STUN_A_OTHER_ADDRESS = 0x802c,    /* RFC 5780 */
};
enum { KONCE_STUN_A_OPTIONAL_MIN = 0x8000 }; /* types below are comprehension-required */
enum konce_stun_change {
	KONCE_STUN_CHANGE_IP = 0x04,
	KONCE_STUN_CHANGE_PORT = 0x02,
};
enum konce_stun_family {
	KONCE_STUN_FAMILY_V4 = 0x01,
	KONCE_STUN_FAMILY_V6 = 0x02,
};
enum konce_stun_error_code {
	KONCE_STUN_ERR_BAD_REQUEST = 400,
	KONCE_STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
};

/* =============================================================================================
 * Mapping lifetime experiments (nat/lifetime.h, nat/lifesrv.h; docs/TRAVERSAL.md,
 * "Mapping lifetime").  Appended section.
 *
 * A node learns how long its NAT keeps an idle UDP mapping by asking a rendezvous to send an
 * unsolicited probe after the mapping has been idle for a delay T.  These three messages travel
 * bare in datagrams (not on a session), from and to a dedicated probe socket, so that nothing else
 * refreshes that mapping during T.  The rendezvous answers LIFE_REQ at once with LIFE_ACK and
 * KONCE_LIFE_COPIES x LIFE_PROBE after T: 34 + 3 x 16 = 82 bytes, never more than the 96-byte
 * request, so a forged source gains no amplification.  Nothing is authenticated: the 64-bit nonce,
 * chosen at random by the requester and echoed, is what an off-path forger would have to guess.
 * The ACK carries the REQ's source as the rendezvous saw it: the probe socket's mapping, one more
 * sample of a sequential NAT's allocator (nat/candidates.h, konce_candidates_refine_all).
 *
 * LIFE_REQ (96):   type | flags 0 | reserved 2 | nonce 8 | delay ms u32 | zero padding 80
 * LIFE_ACK (34):   type | flags (KONCE_LIFE_F_BUSY) | reserved 2 | nonce 8 | delay ms u32 |
 *                  observed address 18 (konce_addr_encode)
 * LIFE_PROBE (16): type | copy (0..KONCE_LIFE_COPIES-1) | reserved 2 | nonce 8 | delay ms u32
 * ============================================================================================= */
enum konce_life_type {
	KONCE_RDV_LIFE_REQ = 0x4c,   /* node -> rendezvous: probe me after delay ms of silence */
	KONCE_RDV_LIFE_ACK = 0x4d,   /* rendezvous -> node: request taken (or refused: BUSY) */
	KONCE_RDV_LIFE_PROBE = 0x4e, /* rendezvous -> node: the delayed probe */
};
enum konce_life_layout {
	KONCE_LIFE_TYPE = 0,
	KONCE_LIFE_FLAGS = 1,     /* REQ: zero; ACK: KONCE_LIFE_F_*; PROBE: copy number */
	KONCE_LIFE_RESERVED = 2,  /* 2: zero */
	KONCE_LIFE_NONCE = 4,     /* 8: the requester's, echoed */
	KONCE_LIFE_DELAY = 12,    /* 4: u32 ms; ACK and PROBE echo what the rendezvous granted */
	KONCE_LIFE_SHORT_SIZE = 16, /* PROBE */
	KONCE_LIFE_ADDR = 16,     /* ACK: 18, the observed address */
	KONCE_LIFE_ACK_SIZE = 34,
	KONCE_LIFE_REQ_SIZE = 96,
};
enum { KONCE_LIFE_F_BUSY = 0x01 }; /* ACK: the timer queue is full, no probe will come */
enum konce_life_times {
	KONCE_LIFE_COPIES = 3,              /* probes per request, so one loss is not an expiry */
	KONCE_LIFE_COPY_GAP_MS = 200,       /* between two copies */
	KONCE_LIFE_MAX_DELAY_MS = 600 * 1000, /* longest delay a rendezvous grants */
	KONCE_LIFE_MIN_MS = 10 * 1000,      /* default bounds of the learned lifetime */
	KONCE_LIFE_MAX_MS = 300 * 1000,
	KONCE_LIFE_START_MS = 20 * 1000,    /* the first experiment, and the keepalive until learned */
	KONCE_LIFE_REVALIDATE_MS = 600 * 1000, /* re-test the learned bound this often */
	KONCE_RDV_REFRESH_MAX_MS = 60 * 1000, /* a client that learned a long lifetime may register this
					       * rarely (KONCE_RDV_EXPIRE_MS keeps it well inside) */
};

/* =============================================================================================
 * Path MTU (node/transport/pmtud.h, docs/PROTOCOL.md section "Path MTU").  Appended
 * section.
 *
 * Datagram sizes here are UDP payload bytes: a whole konce datagram.  Every path must carry
 * KONCE_PMTU_BASE (= KONCE_WIRE_MAX_DATAGRAM): handshakes, unauthenticated answers and MESSAGE
 * frames stay within it.  An established session searches for a larger PLPMTU with probes (RFC
 * 8899 DPLPMTUD): a DATA packet holding one PING frame and PADDING up to the candidate size,
 * acknowledged like any ack-eliciting packet.  DATA packets of that session may then be up to its
 * PLPMTU, at most KONCE_PMTU_MAX (a 9000-byte IPv4 jumbo frame minus IP and UDP headers).
 * ============================================================================================= */
enum konce_pmtu_limits {
	KONCE_PMTU_BASE = KONCE_WIRE_MAX_DATAGRAM, /* BASE_PLPMTU: the floor, never given up */
	KONCE_PMTU_MAX = 9000 - 20 - 8,            /* MAX_PLPMTU: 8972 */
	KONCE_PMTU_IPV4_UDP = 20 + 8,              /* IPv4 + UDP headers outside a datagram */
	KONCE_PMTU_IPV6_UDP = 40 + 8,              /* IPv6 + UDP headers */
	KONCE_PMTU_MAX_PROBES = 3,                 /* MAX_PROBES: losses of one size = it does not fit */
	KONCE_PMTU_BLACKHOLE_LOSSES = 3,           /* large packets lost in a row, none acked between:
						    * the PLPMTU stopped working (back to BASE) */
	KONCE_DATA_OVERHEAD_MAX = KONCE_DATA_PN + KONCE_WIRE_PN_MAX + KONCE_WIRE_TAG, /* 35 */
	KONCE_WIRE_MAX_SESSION_PAYLOAD = KONCE_PMTU_MAX - KONCE_DATA_MIN_SIZE + 1, /* frame bytes in
						    * the largest DATA packet (1-byte pn) */
};
enum konce_pmtu_times {
	KONCE_PMTU_PROBE_MIN_MS = 100,        /* a probe unanswered for max(this, PTO) is lost */
	KONCE_PMTU_RAISE_MS = 600 * 1000,     /* PMTU_RAISE_TIMER: search again after this long */
	KONCE_PMTU_ERROR_RETRY_MS = 30 * 1000, /* ERROR: probe the base size again after this long */
};

#endif
