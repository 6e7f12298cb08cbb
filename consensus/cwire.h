/* cwire.h - every consensus message layout, size and limit, in one place.
 *
 * Consensus messages ride konce messages on authenticated sessions between members: the transport
 * names the sender's key, so no message carries its sender.  All multi-byte integers are
 * big-endian.  Offsets are from the start of the message.  Every message starts with the same
 * 36-byte header; the commit index in it is how COMMIT "rides on the next message".
 * docs/CONSENSUS.md explains each message and when it is sent.  Parse with konce_cw_parse(),
 * build with konce_cw_encode(); never cast bytes to a struct.
 */
#ifndef KONCE_CWIRE_H
#define KONCE_CWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum konce_cw_limits {
	KONCE_CW_VERSION = 1,
	KONCE_CW_KEY = 32,          /* member key (X25519 public key) */
	KONCE_CW_GROUP_ID = 16,     /* random group id, fixed at creation */
	KONCE_CW_SECRET = 32,       /* invitation secret */
	KONCE_CW_MAX_MEMBERS = 16,  /* members of one view */
	KONCE_CW_MAX_ENTRY = 1024,  /* application bytes in one entry */
	KONCE_CW_WINDOW = 16,       /* entries proposed beyond the commit index, at most */
	KONCE_CW_MAX_BATCH = 16,    /* entries in one PROPOSE */
	KONCE_CW_MAX_LOG = 2 * KONCE_CW_WINDOW, /* entries in a PROMISE's log or a view's tail */
	KONCE_CW_ORIGIN = 8,        /* an entry's origin tag: the first 8 bytes of its proposer's key */
	KONCE_CW_ENTRY_HEAD = 1 + KONCE_CW_ORIGIN + 8 + 2, /* kind, origin, nonce, len */
	KONCE_CW_MAX_RENDEZVOUS = 255, /* bytes of the rendezvous hint in a token */
	KONCE_CW_INVITE_LEN = KONCE_CW_SECRET + 8, /* an INVITE entry's data: hash, expiry */
	KONCE_CW_SNAP_CHUNK = 16384, /* snapshot bytes in one SNAP */
	KONCE_CW_SNAP_MAX = 1 << 20, /* a snapshot's size, at most (64 chunks) */
	KONCE_CW_SNAP_INVITES = 32,  /* invitations in a snapshot's core section, at most */
	KONCE_CW_SNAP_INVITE = KONCE_CW_SECRET + 8 + 1, /* one of them: hash, expiry, used */
	KONCE_CW_SNAP_CORE_MAX = 1 + KONCE_CW_SNAP_INVITES * KONCE_CW_SNAP_INVITE,
	KONCE_CW_MAX_VALUE = 8 + 1 + KONCE_CW_MAX_MEMBERS * KONCE_CW_KEY + KONCE_CW_SECRET + 8 + 8 + 2 +
			     KONCE_CW_MAX_LOG * (KONCE_CW_ENTRY_HEAD + KONCE_CW_MAX_ENTRY),
	/* The largest message: a PROMISE carrying an accepted value and a full log (~67 KiB). */
	KONCE_CW_MAX_MSG = 36 + 8 + 8 + 4 + KONCE_CW_MAX_VALUE + 8 + 2 +
			   KONCE_CW_MAX_LOG * (KONCE_CW_ENTRY_HEAD + KONCE_CW_MAX_ENTRY),
};

/* Header, 36 bytes, first in every message. */
enum konce_cw_header_layout {
	KONCE_CW_H_TYPE = 0,      /* 1: konce_cw_type */
	KONCE_CW_H_VERSION = 1,   /* 1: KONCE_CW_VERSION */
	KONCE_CW_H_RESERVED = 2,  /* 2: zero */
	KONCE_CW_H_GROUP = 4,     /* 16: group id */
	KONCE_CW_H_EPOCH = 20,    /* 8: the sender's installed epoch (NEWVIEW: the new epoch) */
	KONCE_CW_H_COMMIT = 28,   /* 8: the sender's commit index: every seq <= it is committed */
	KONCE_CW_H_SIZE = 36,
};

enum konce_cw_type {
	KONCE_CW_HEARTBEAT = 1, /* last u64: the sender's last persisted seq */
	KONCE_CW_SUBMIT = 2,    /* entry: member -> coordinator */
	KONCE_CW_PROPOSE = 3,   /* first_seq u64, count u16, count x entry: coordinator -> members */
	KONCE_CW_ACK = 4,       /* last u64: persisted through seq, member -> coordinator */
	KONCE_CW_PROBE_REQ = 5, /* target key 32, nonce u32: "have you heard target lately?" */
	KONCE_CW_PROBE_REP = 6, /* target key 32, nonce u32, alive u8 */
	KONCE_CW_PREPARE = 7,   /* ballot u64: a view change of the view in the header's epoch */
	KONCE_CW_PROMISE = 8,   /* ballot u64, acc_ballot u64, [value_len u32, value] if acc_ballot,
				 * first_seq u64, count u16, count x entry (the promiser's uncommitted log) */
	KONCE_CW_NACK = 9,      /* ballot u64: the higher ballot already promised */
	KONCE_CW_ACCEPT = 10,   /* ballot u64, value */
	KONCE_CW_ACCEPTED = 11, /* ballot u64 */
	KONCE_CW_NEWVIEW = 12,  /* value: the decided next view, to its members and the removed */
	KONCE_CW_JOIN = 13,     /* secret 32: joiner -> every member (header epoch: the latest view the
				 * joiner was told of, 0: none) */
	KONCE_CW_JOIN_ASK = 14, /* joiner key 32, secret 32: coordinator -> members */
	KONCE_CW_JOIN_VOTE = 15, /* joiner key 32, vote u8 (konce_cw_vote): member -> coordinator */
	KONCE_CW_REFUSED = 16,  /* reason u8: member -> joiner */
	KONCE_CW_LEAVE = 17,    /* empty: member -> coordinator */
	KONCE_CW_SNAP_REQ = 18, /* min_seq u64: a member without state asks for a snapshot at >= min_seq */
	KONCE_CW_SNAP = 19,     /* seq u64, total u32, offset u32, len u16, len bytes: one chunk of the
				 * sender's state after delivering seq (a core section, then the
				 * application's bytes); offset is a multiple of KONCE_CW_SNAP_CHUNK and
				 * len = min(KONCE_CW_SNAP_CHUNK, total - offset) */
	KONCE_CW_JOIN_WITHDRAW = 20, /* secret 32, final u8 (konce_cw_withdraw): a joiner that gives up
				      * -> every member it asks (header epoch as in JOIN) */
	KONCE_CW_TYPE_MAX = 20,
};

/* An entry on the wire: kind u8, origin 8, nonce u64, len u16, len bytes. */
enum konce_cw_entry_kind {
	KONCE_CW_E_APP = 0,    /* application data */
	KONCE_CW_E_INVITE = 1, /* data = BLAKE2b-256 of an invitation secret (32 bytes), then its expiry
				* u64 (unix seconds; 0: never): KONCE_CW_INVITE_LEN bytes */
	KONCE_CW_E_REVOKE = 2, /* data = the same hash: the invitation was refused and is spent */
};

enum konce_cw_refused_reason {
	KONCE_CW_R_REJECTED = 1, /* a member rejected, or too few acked by the deadline */
	KONCE_CW_R_INVALID = 2,  /* the invitation is unknown or used */
	KONCE_CW_R_EXPIRED = 3,  /* the invitation has expired */
	KONCE_CW_R_WITHDRAWN = 4, /* the answer to JOIN_WITHDRAW: the coordinator dropped the join and
				   * admits no JOIN from that key for KONCE_GROUP_WITHDRAW_KEEP_MS */
};

/* JOIN_WITHDRAW's final byte.  PENDING: the joiner's time is up, but it still takes its seat if a
 * view naming it is already decided (it waits for that view or REFUSED(WITHDRAWN)).  OUT: the
 * joiner has given up for good; a member whose view names it removes it at once. */
enum konce_cw_withdraw {
	KONCE_CW_WD_PENDING = 0,
	KONCE_CW_WD_OUT = 1,
};

/* A member's answer to JOIN_ASK.  ABSTAIN: it does not know the invitation (it joined, or missed
 * views, after the invitation committed): neither a yes nor a no. */
enum konce_cw_vote {
	KONCE_CW_VOTE_NO = 0,
	KONCE_CW_VOTE_YES = 1,
	KONCE_CW_VOTE_ABSTAIN = 2,
};

/* A snapshot's core section, first in its bytes: the invitations the sender knows.
 *   count u8 (<= KONCE_CW_SNAP_INVITES), count x (hash 32, expiry u64, used u8 0 or 1) */
typedef struct konce_cw_invite {
	const uint8_t *hash; /* KONCE_CW_SECRET */
	uint64_t expires;
	bool used;
} konce_cw_invite;

/* A view value: what a view change decides.
 *   epoch u64, n u8, n x key 32, used_invite 32 (zero if the view adds nobody),
 *   commit u64, first_seq u64, count u16, count x entry
 * The entries are the uncommitted tail (commit, commit + count] that the new view re-proposes. */

/* Parsed forms.  Entry data and keys point into the parsed bytes. */
typedef struct konce_cw_entry {
	uint8_t kind;
	const uint8_t *origin; /* KONCE_CW_ORIGIN bytes */
	uint64_t nonce;
	uint16_t len;
	const uint8_t *data;
} konce_cw_entry;

typedef struct konce_cw_value {
	uint64_t epoch;
	uint8_t n;
	const uint8_t *keys; /* n x KONCE_CW_KEY */
	const uint8_t *used_invite; /* 32 */
	uint64_t commit, first_seq;
	uint16_t count;
	konce_cw_entry e[KONCE_CW_MAX_LOG];
} konce_cw_value;

typedef struct konce_cw_msg {
	uint8_t type;
	const uint8_t *group; /* KONCE_CW_GROUP_ID */
	uint64_t epoch, commit;
	uint64_t u;           /* HEARTBEAT/ACK last, PREPARE/NACK/ACCEPT/ACCEPTED/PROMISE ballot,
			       * PROPOSE/PROMISE first_seq (in first) */
	uint64_t acc_ballot;  /* PROMISE */
	uint64_t first;       /* PROPOSE / PROMISE first seq */
	uint32_t nonce;       /* PROBE_* */
	uint8_t flag;         /* PROBE_REP alive, JOIN_VOTE yes, REFUSED reason, JOIN_WITHDRAW final */
	const uint8_t *key;   /* PROBE_* target, JOIN_ASK / JOIN_VOTE joiner */
	const uint8_t *secret; /* JOIN, JOIN_ASK, JOIN_WITHDRAW */
	uint16_t count;       /* entries in e[] (SUBMIT: 1) */
	uint32_t total, offset; /* SNAP */
	const uint8_t *data;  /* SNAP: dlen bytes */
	uint16_t dlen;
	konce_cw_entry e[KONCE_CW_MAX_LOG];
	bool has_value;       /* PROMISE with acc_ballot, ACCEPT, NEWVIEW */
	konce_cw_value v;
} konce_cw_msg;

enum konce_cw_result {
	KONCE_CW_OK = 0,
	KONCE_CW_SHORT,      /* truncated */
	KONCE_CW_BAD_TYPE,
	KONCE_CW_BAD_VERSION,
	KONCE_CW_BAD_FIELD,  /* a count, length, kind or membership out of range */
	KONCE_CW_TRAILING,   /* bytes after the last field */
};

/* Parse len bytes into m (which then points into bytes).  Checks every length before reading. */
enum konce_cw_result konce_cw_parse(konce_cw_msg *m, const uint8_t *bytes, size_t len);

/* Encode m into out (cap bytes).  Returns the length, or 0 if it does not fit or m is invalid. */
size_t konce_cw_encode(const konce_cw_msg *m, uint8_t *out, size_t cap);

/* Sizes, for buffers. */
size_t konce_cw_entry_size(const konce_cw_entry *e);
size_t konce_cw_value_size(const konce_cw_value *v);
size_t konce_cw_msg_size(const konce_cw_msg *m);

/* One entry on its own: the persisted form of a log position. */
size_t konce_cw_entry_encode(const konce_cw_entry *e, uint8_t *out, size_t cap);
enum konce_cw_result konce_cw_entry_parse(konce_cw_entry *e, const uint8_t *b, size_t len, size_t *used);

/* The snapshot core section: parse (inv holds KONCE_CW_SNAP_INVITES; *used is the section's
 * length) and encode (returns the length, or 0 if it does not fit or count is too large). */
enum konce_cw_result konce_cw_snapcore_parse(konce_cw_invite *inv, unsigned *count, const uint8_t *b, size_t len,
					     size_t *used);
size_t konce_cw_snapcore_encode(const konce_cw_invite *inv, unsigned count, uint8_t *out, size_t cap);

/* Value codec on its own (persisted views and votes use it). */
size_t konce_cw_value_encode(const konce_cw_value *v, uint8_t *out, size_t cap);
enum konce_cw_result konce_cw_value_parse(konce_cw_value *v, const uint8_t *b, size_t len, size_t *used);

#endif
