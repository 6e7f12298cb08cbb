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
	KONCE_WIRE_MAX_DATAGRAM = 1200, /* no konce datagram is larger */
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
	KONCE_CLASS_ECHO = 1, /* built in: a request is answered with its own body (konce ping) */
	KONCE_CLASS_TEXT = 2, /* built in: text for the operator (konce send), logged by the node */
	KONCE_CLASS_APP_MIN = 256,
};

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
static inline void wire_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* =============================================================================================
 * Reliability and message frames, 0x10..0x3f (issue 3).  Appended section: ackframe.h, recvtrack.h,
 * recovery.h, rtt.h, cc.h, frag.h.  Byte diagrams and rules: docs/PROTOCOL.md sections 11 and 12.
 *
 * Frame bodies use variable-length integers ("varint", RFC 9000 section 16): the two high bits of
 * the first byte give the length (00 = 1, 01 = 2, 10 = 4, 11 = 8 bytes), the remaining bits are the
 * value, big-endian.  Largest value 2^62 - 1.  node/varint.h reads and writes them.
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

/* Keepalive and presence (issue 3): a wanted but idle session sends a PING this often, which holds
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
 * offset + length <= total <= the receiver's maximum message size.  A sender cuts a message at
 * multiples of KONCE_FRAG_DATA_MAX, so (message id, fragment index) names a fragment; a receiver
 * accepts any offsets, overlapping or not.
 */
enum konce_frag_limits {
	KONCE_FRAG_DATA_MAX = 960,           /* bytes of message data in one FRAGMENT */
	KONCE_FRAG_HEADER_MAX = 1 + 8 + 8 + 8 + 2,
	KONCE_MSG_MAX_DEFAULT = 16 * 1024 * 1024,
};

#endif
