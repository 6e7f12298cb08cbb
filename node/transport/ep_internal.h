/* ep_internal.h - the endpoint's insides, shared by endpoint.c, hs_client.c, hs_server.c,
 * ep_session.c and cidtab.c.  Nothing outside node/ includes this.
 *
 * Handshake state machine of one konce_sess (client and server roles):
 *
 *   client                                            server
 *   ------                                            ------
 *   konce_ep_connect_ex()                             (HELLO: konce_hs_server_hello() answers with a
 *     |  sends HELLO                                   COOKIE and keeps NO state; INITIATE checks a-e
 *     v                                                 in konce_hs_server_initiate() keep none either)
 *   HELLO_SENT --konce_hs_client_cookie()--> SOLVING                |
 *     ^  timer: resend HELLO                    |  timer: one slice | (COOKIE demand not payable in
 *     |                                         |  of the proof     |  KONCE_POW_SOLVE_BUDGET_MS: FAILED)
 *     +---- konce_hs_client_timer(): solve -----+  per call         |
 *     |     outlives KONCE_POW_DEADLINE_MS, once|                   |
 *     |                                  solved v                   |
 *     |                                   INITIATE_SENT             |
 *     ^                                         |  timer: resend   | INITIATE passes a-f
 *     +---- konce_hs_client_timer(): after -----+  same INITIATE   |
 *     |     KONCE_HS_RESTART_AFTER tries, once  |                  |
 *     |  VERSION w/o common version: FAILED     |                  v
 *     |  attempts out: FAILED                   |               ACCEPT_PENDING  (session allocated,
 *     |  demand > max_pow_bits: FAILED          |                 |              ESTABLISHED queued)
 *     |                                         |                 | konce_ep_send() (reply rides in
 *     |                     konce_hs_client_accept()              |  ACCEPT) / poll_datagram / timer:
 *     |                                         v                 v  konce_hs_server_flush_accept()
 *     |                                    ESTABLISHED        ESTABLISHED
 *     |                                         |                 |
 *     +--------- konce_ep_close(), CLOSE frame, idle timeout: session freed (ep_sess_free) ----+
 *
 * Simultaneous open (hs_simopen.c; both sides dial each other, showing the keys the other dials):
 * an authenticated INITIATE from the peer of our own HELLO_SENT / INITIATE_SENT attempt is
 *   dropped, if our key is the lower (we are the client; the peer serves our INITIATE), and
 *   remembered in the accepted-challenge table with conn 0 so copies stop at check c;
 *   served by the attempt itself otherwise: HELLO_SENT / INITIATE_SENT --> ACCEPT_PENDING (incoming,
 *   same conn, slot, queued messages; a fresh server cid; the first message rides in the ACCEPT).
 * A late copy after our ACCEPT (ESTABLISHED, its cookie issued before est_us) is dropped the same way.
 *
 * Invariants:
 *  1. A konce_sess exists for a server only after an INITIATE passed every check (a-f), including
 *     decryption of box2; before that the server has allocated nothing for the peer.  The
 *     simultaneous open allocates nothing at all: it reuses our own attempt's struct or drops.
 *  2. Every live konce_sess is in the cid table under scid, in ep->slots[slot], in the live list,
 *     and owns key slot `slot` of the slab; ep_sess_free() undoes all four and wipes the slot.
 *  3. The client's ephemeral secret and all DH results exist only inside konce_hs_client_cookie()
 *     and konce_hs_server_initiate() and are wiped before they return.
 *  4. A FAILED or CLOSED event is the last event for a conn, and the conn is dead when it is queued.
 *  5. Lifecycle events (ESTABLISHED, FAILED, CLOSED, PATH_CHANGED) and the outcomes of our own
 *     messages are never dropped for want of room: the ring grows for them.  A session's MESSAGE
 *     events are bounded by back-pressure: while it holds KONCE_EP_SESS_MSG_EVENTS unconsumed (or
 *     the ring KONCE_EP_MSG_EVENTS), its MESSAGE frames are dropped (unreliable) and the packets
 *     carrying FRAGMENT frames are neither read nor acknowledged, so the peer sends them again.
 *  6. A control datagram does not find the out ring full because of ordinary traffic.  Control
 *     is what a session sends once and cannot send again later from its state alone, or only a
 *     retry interval later: our handshake datagrams (HELLO, INITIATE, ACCEPT, their resends and
 *     the answers to duplicate INITIATEs), a CLOSE (the session is freed as it leaves), the ack a
 *     presence gives a PING (it keeps no receive state), path challenges (one try spent each,
 *     path.h) and path responses.  They may take the ring's reserve (out_slots - out_cap slots,
 *     KONCE_EP_OUT_RESERVE), which ordinary datagrams (messages, a channel's packets, keepalives,
 *     path MTU probes) never take, and which stateless answers to unauthenticated packets
 *     (COOKIE, VERSION) never take either.  A control datagram is dropped only when the reserve
 *     is full too: more of them than it holds between two flushes of the host (counted in
 *     ring_full_control).  Ordinary datagrams that find the ring full stay due instead
 *     (ep_timer.c invariant 5; a channel's packets stay queued in its conn).
 */
#ifndef KONCE_EP_INTERNAL_H
#define KONCE_EP_INTERNAL_H

#include "node/transport/conn.h"
#include "node/transport/cookie.h"
#include "node/transport/endpoint.h"
#include "node/transport/frame.h"
#include "node/transport/hs_packets.h"
#include "node/transport/keyslab.h"
#include "node/transport/load.h"
#include "node/transport/path.h"
#include "node/transport/pmtud.h"
#include "node/base/ratelimit.h"
#include "node/base/slab.h"
#include "node/transport/session.h"
#include "node/transport/slack.h"

enum konce_hs_state {
	KONCE_HS_HELLO_SENT = 1, /* client */
	KONCE_HS_SOLVING,        /* client: keys derived, INITIATE built, its proof of work in slices */
	KONCE_HS_INITIATE_SENT,  /* client: keys derived, waiting for ACCEPT */
	KONCE_HS_ACCEPT_PENDING, /* server: session made, ACCEPT not yet sent */
	KONCE_HS_ESTABLISHED,
};

enum {
	KONCE_EP_MAX_IDS = 8,
	KONCE_EP_ACC_WAYS = 4,
	KONCE_EP_CIDS = 5, /* connection ids a session answers to at once (cidrot.c) */
};

/* One connection id of a session in the cid table (cidtab.c). */
typedef struct konce_cident {
	uint8_t cid[KONCE_WIRE_CID];
	uint32_t epoch;               /* 0: the handshake id; else derived (cidrot.c) */
	bool used;
	uint8_t idx;                  /* this is cids[idx] of its session (no back pointer: 8 bytes less) */
	struct konce_cident *next;    /* chain */
} konce_cident;

/* Proof of work on the client (hs_client.c).  A demand is paid only if its expected cost fits in
 * SOLVE_BUDGET (an eighth of the cookie lifetime: a solve then outlives DEADLINE, half the
 * lifetime, with probability e^-4 < 2%); hashing runs in slices of SLICE_US per call. */
enum {
	KONCE_POW_SLICE_US = 1000,
	KONCE_POW_SOLVE_BUDGET_MS = KONCE_COOKIE_LIFETIME_MS / 8,
	KONCE_POW_DEADLINE_MS = KONCE_COOKIE_LIFETIME_MS / 2,
	KONCE_EP_DEF_POW_RATE = 250000, /* hashes of 1200 bytes a second: a slow core (bench: ~570,000) */
};

/* The reassembly charge of one source (ep_msg.c): its key as konce_addr_source gives it, and how
 * many sessions' reassemblers it serves.  One per session at most, so max_sessions of them. */
typedef struct konce_ep_rsrc {
	konce_reasm_source acct;
	uint8_t key[16];
	unsigned refs;               /* 0 = free */
	struct konce_ep_rsrc *next;  /* bucket chain (konce_ep.rsrc_buckets), or the free list */
} konce_ep_rsrc;

/* A session's handshake buffers (konce_sess.hb), and the handshake's fields that no one reads once
 * they are gone: a presence does not carry them. */
typedef struct konce_hs_buf {
	uint64_t client_time;         /* client: its HELLO's */
	uint64_t pow_next;            /* client, SOLVING: the next nonce to try */
	uint64_t hs_until_us;         /* server: its INITIATE's cookie expires (hb kept until then) */
	uint64_t accept_retry_us;     /* server: next ACCEPT resend; 0 = not yet scheduled */
	struct konce_sess *solve_prev, *solve_next; /* client, SOLVING: the solve queue (hs_client.c) */
	uint64_t turn_us;             /* client, SOLVING: its turn to hash began (0: not yet) */
	uint8_t waits;                /* client: solves restarted without their turn (hs_client.c) */
	konce_versions offered;       /* client: the versions of its HELLO */
	/* HELLO or INITIATE (client, for resending), ACCEPT (server, for duplicate INITIATEs and its
	 * own resends until the client is heard) */
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	/* the client's first message; a server session's buffer ends before it (konce_sess.hb_full):
	 * it keeps its ACCEPT for a cookie lifetime, and holds half as much meanwhile */
	uint8_t first[KONCE_EP_MAX_FIRST_MESSAGE];
} konce_hs_buf;

typedef struct konce_sess {
	uint32_t conn;
	unsigned slot;
	enum konce_hs_state state;
	uint8_t scid[KONCE_WIRE_CID]; /* our id: client_cid (client) or server_cid (server) */
	uint32_t dcid_epoch;          /* the epoch whose peer id sess.dcid holds (here: no hole) */
	konce_cident cids[KONCE_EP_CIDS]; /* our ids in the cid table; [0] is scid until cidrot.c */
	/* cid rotation (cidrot.c) */
	uint8_t peer_cid0[KONCE_WIRE_CID]; /* the peer's handshake id (epoch 0) */
	struct konce_sess *next, *prev; /* live list */
	struct konce_sess *pend_next; /* server: ACCEPT not yet flushed */
	uint8_t peer_pk[KONCE_WIRE_KEY];
	konce_session sess;
	konce_path path;
	konce_pmtud *pm;              /* path MTU search (ep_pmtud.c): allocated when it starts, for a
				 * channel, and freed when the channel shrinks back (ep_msg.c) */
	konce_pmtud_kept pmk;         /* what the searches of its earlier channels found and counted:
				       * the next one resumes from it (ep_pmtud.c) */
	uint64_t last_rx_us;
	konce_ep_rsrc *rsrc;          /* the source its reassembler is charged to (ep_msg.c), or NULL */
	/* client handshake */
	const konce_identity *as;
	uint8_t local_pk[KONCE_WIRE_KEY]; /* the key this session shows (client) or was dialled as */
	bool tbatch;                  /* in ep->batch (ep_timer.c) */
	uint16_t first_len;           /* hb->first */
	uint16_t hs_len;              /* hb->pkt */
	uint16_t init_len;            /* server: bytes of the INITIATE that opened the session */
	uint64_t retry_at_us;         /* SOLVING: when the solve is abandoned */
	uint64_t est_us;              /* client: when the ACCEPT arrived (hs_simopen.c) */
	/* the handshake's buffers: allocated with the session, freed when its handshake is over
	 * (konce_ep_hs_done) so that an established presence does not carry 2 KiB of them */
	struct konce_hs_buf *hb;
	konce_addr hs_addr;           /* server: where the INITIATE came from */
	uint32_t next_msg;            /* low half of the next msg_id (here: no hole) */
	/* reliable messages (ep_msg.c) */
	struct konce_ep *ep;
	konce_conn *rel;              /* NULL until the first message or reliability frame, and again
				       * once the channel is idle (ep_msg.c) */
	/* a presence (no rel) keeps itself alive (ep_msg.c): these, mirrored into rel once it exists */
	uint64_t keepalive_us;        /* konce_ep_set_keepalive(); 0 = the endpoint's */
	uint64_t ping_tx_us;          /* a presence: when its last keepalive PING left */
	uint64_t last_app_us;         /* last message sent or received (idle close) */
	uint64_t blocked_until_us;    /* the path refused a packet (amplification limit): wait */
	/* a presence that was a channel: the ids its next conn continues (ep_msg.c shrink; 0 = none) */
	uint64_t tx_wire_next, rx_wire_base;
	uint32_t gone_lost, gone_retransmitted; /* its earlier conns' rec.nlost_total, retransmitted */
	/* the path's smallest RTT seen outside its channel's controller (ep_msg.c konce_ep_rtt_seen:
	 * the client's INITIATE to ACCEPT, a shrunk channel's min_rtt) and when, packed so that a
	 * presence stays within 1 KiB: bits 0-23 the RTT in us (< 16.8 s), 24-63 when, in ms; 0 = none */
	uint64_t rtt_min;
	uint64_t rx_bytes, tx_bytes;  /* authenticated DATA datagrams, for konce_ep_conn_traffic() */
	/* the table's indexes (ep_table.c), while incoming */
	struct konce_ep_tnode *src;   /* its source's count, while also unwanted (NULL otherwise) */
	struct konce_ep_tnode *key;   /* its peer key's node */
	struct konce_sess *key_next, *key_prev; /* that key's sessions */
	struct konce_sess *lru_next, *lru_prev; /* ep->lru, while unwanted: by last_app_us */
	/* the small fields of the groups above, packed here (no holes; see each comment) */
	unsigned dup_answers;         /* server: duplicate INITIATEs answered with the stored ACCEPT */
	unsigned accept_resends;      /* server: ACCEPT resent by the timer (larger than its INITIATE) */
	unsigned ev_msgs;             /* its MESSAGE events in the ring, not yet polled */
	bool incoming;
	bool cids_ready;              /* keys set, peer_cid0 known */
	bool per_server;              /* show the key derived for the server even if explicit_identity */
	bool grouped;                 /* slot's group key is set: send a clue, expect a masked COOKIE */
	bool restarted;               /* went back from INITIATE_SENT to HELLO_SENT once */
	bool heard;                   /* server: authenticated DATA came after our ACCEPT */
	bool wanted;                  /* konce_ep_set_wanted() */
	bool hb_full;                 /* hb has first (a client's): konce_ep_sess_new */
	uint8_t attempts;             /* HELLO or INITIATE copies sent (at most KONCE_HS_ATTEMPTS) */
	uint8_t pow_bits;             /* SOLVING: the demand (the COOKIE's byte, at most max_pow_bits) */
} konce_sess;

/* An event ring slot: the event and, for MESSAGE, where its bytes are. */
typedef struct konce_ep_evslot {
	konce_ep_event ev;
	konce_reasm_msg *msg;         /* a reassembled message (owned by the slot) */
	uint8_t inl[KONCE_WIRE_MAX_PAYLOAD]; /* a MESSAGE frame's copy */
} konce_ep_evslot;

/* Accepted challenges: a duplicate INITIATE is answered from its session, a replay is dropped. */
typedef struct konce_acc_entry {
	uint64_t challenge;
	uint64_t expires_us; /* 0 = free; after this the cookie is too old for check (b) anyway */
	uint32_t conn;
	uint8_t hash[32];    /* BLAKE2b-256 of the INITIATE but its pow nonce (hs_server.c) */
} konce_acc_entry;

typedef struct konce_out {
	konce_addr to;
	uint16_t len;
	uint8_t *data;                /* max_datagram bytes, in ep->out_mem */
} konce_out;

struct konce_ep {
	const konce_env *env;
	const konce_identity *identity;
	const konce_identity *server_ids[KONCE_EP_MAX_IDS];
	unsigned n_server_ids;
	konce_versions versions;
	unsigned max_pow_bits;
	uint64_t pow_rate;       /* client: 1200-byte BLAKE2b hashes per second */
	bool explicit_identity;
	uint8_t *group_key;      /* sodium_malloc()ed; NULL = public server */

	unsigned max_sessions;
	unsigned max_per_source;      /* ep_table.c rules 2 and 3 */
	konce_sess **slots;      /* [max_sessions] */
	uint32_t *gen;           /* [max_sessions] generation tag of each slot's conn handles */
	unsigned slot_bits;      /* conn = generation << slot_bits | slot; the rest of 32 bits tag */
	unsigned *free_slots;    /* stack */
	unsigned n_free;
	konce_keyslab *slab;
	konce_slab sess_slab;    /* the konce_sess structs (slab.h) */
	konce_slab hb_slab[2];   /* handshake buffers: [0] a server's (no first), [1] a client's */
	konce_slab pm_slab;      /* path MTU searches (konce_sess.pm), one per channel that searches */
	konce_sess *live;        /* list head */
	unsigned n_incoming;     /* live sessions with incoming set (ep_table.c prices their occupancy) */
	konce_sess *solve_head, *solve_tail; /* live sessions in KONCE_HS_SOLVING, oldest COOKIE first:
					      * the head hashes (hs_client.c, konce_ep_set_state) */
	/* ep_table.c's indexes, so that no rule walks the table */
	struct konce_ep_tnode *tnodes;     /* [2 * max_sessions] count nodes of sources and keys */
	struct konce_ep_tnode *tnode_free; /* returned nodes */
	unsigned tnode_used;               /* tnodes[0, tnode_used) have been handed out */
	struct konce_ep_tnode **src_buckets; /* [tmask + 1] sources by keyed hash */
	struct konce_ep_tnode **key_buckets; /* [tmask + 1] peer keys of incoming sessions, the same */
	unsigned tmask;
	uint8_t table_key[16];          /* crypto_shorthash key of both */
	unsigned n_unwanted;            /* incoming sessions the application does not want */
	konce_sess *lru_head, *lru_tail; /* those, oldest last_app_us first */

	konce_cident **cid_buckets;
	unsigned cid_mask;
	uint8_t cid_key[16];     /* crypto_shorthash key: cids hash unpredictably */

	konce_acc_entry *acc;
	unsigned acc_mask;       /* buckets - 1; each bucket has KONCE_EP_ACC_WAYS entries, way-major (hs_server.c) */

	konce_sess *pend_head;   /* ACCEPTs to flush */

	konce_cookie_keys *cookie_keys;
	uint64_t cookie_rotate_us;
	konce_load load;
	konce_ratelimit *rl;
	uint64_t next_challenge;

	konce_out *out;
	uint8_t *out_mem;             /* out_slots x max_datagram bytes */
	/* The out ring: out_n slots from out_head are taken; the first out_lent of them were handed
	 * out by konce_ep_poll_datagram_ref() and stay reserved until konce_ep_release_datagrams(),
	 * so "full" counts them and nothing is written over a lent datagram.  It has out_slots slots:
	 * out_cap (the config's out_ring) for every datagram, and out_slots - out_cap more that only
	 * control datagrams may take (invariant 6), so the ring is full for ordinary traffic at
	 * out_n >= out_cap and for control at out_n == out_slots. */
	unsigned out_cap, out_slots, out_head, out_n, out_lent;
	unsigned max_datagram;        /* KONCE_PMTU_BASE..KONCE_PMTU_MAX */
	unsigned (*path_mtu)(void *ctx, const konce_addr *peer);
	void *path_mtu_ctx;
	konce_ep_evslot *ev;
	unsigned ev_cap, ev_head, ev_n;
	unsigned ev_msgs;        /* MESSAGE events in the ring */
	/* the MESSAGE handed out by the last konce_ep_poll_event() */
	konce_reasm_msg *held;
	uint32_t held_conn;
	uint8_t held_inl[KONCE_WIRE_MAX_PAYLOAD];
	size_t held_inl_len;
	konce_conn_cfg conn_cfg;
	konce_reasm_pool reasm_pool; /* conn_cfg.pool */
	konce_ep_rsrc *rsrc;         /* max_sessions: reassembly charged per source (frag.h) */
	konce_ep_rsrc **rsrc_buckets; /* [rsrc_mask + 1] the live ones by keyed hash of their key */
	konce_ep_rsrc *rsrc_free;    /* released ones */
	unsigned rsrc_used;          /* rsrc[0, rsrc_used) have been handed out */
	unsigned rsrc_mask;
	konce_msgq_pool send_pool;   /* conn_cfg.send_pool */
	uint64_t idle_us;

	konce_ep_ext ext;        /* reliability layer hook; zeroed = none */
	konce_frame_ext fext;    /* ext.body_len as frame.c wants it */
	/* timers (ep_timer.c) */
	/* The min-heap of deadlines, its keys beside the slots (ep_timer.c): a sift compares and
	 * moves array entries and never touches a session struct. */
	uint64_t *heap_due;      /* [max_sessions] entry i's deadline: may be early, never late */
	uint32_t *heap_slot;     /* [max_sessions] entry i's session slot */
	uint32_t *tpos;          /* [max_sessions] by slot: its index in the heap, or in batch while tbatch */
	uint32_t *batch;         /* [out_cap] the slots konce_ep_timer() is visiting (UINT32_MAX: freed) */
	uint64_t *batch_due;     /* [out_cap] the deadline each was popped with */
	unsigned heap_n, batch_n;
	uint64_t timer_extra_us; /* konce_ep_arm() without a session: may be early, never late */
	unsigned untrimmed;      /* channels shrunk since malloc's heap was last trimmed (ep_mem.c) */
	struct konce_ep_counters c;
};

/* ep_table.c: who may hold a slot (rules in its header). */
/* An index node: a source (konce_addr_source, 16 bytes) and how many incoming, unwanted sessions
 * it has; or a peer key and how many incoming sessions past ACCEPT_PENDING it has, and all of
 * its incoming sessions. */
typedef struct konce_ep_tnode {
	uint8_t key[KONCE_WIRE_KEY];
	unsigned n;
	struct konce_sess *list;      /* a key's sessions (key_next) */
	struct konce_ep_tnode *next;  /* bucket chain, or free list */
} konce_ep_tnode;
/* Allocates the indexes (max_sessions set); 0 or -ENOMEM.  Fini frees them (after the sessions). */
int konce_ep_table_init(konce_ep *ep);
void konce_ep_table_fini(konce_ep *ep);
/* s became incoming (hs_addr, peer_pk and wanted set): it enters the indexes. */
void konce_ep_table_join(konce_ep *ep, konce_sess *s);
/* s is freed: it leaves them. */
void konce_ep_table_leave(konce_ep *ep, konce_sess *s);
/* konce_ep_set_wanted(): sets s->wanted and moves s in or out of the unwanted index. */
void konce_ep_table_wanted(konce_ep *ep, konce_sess *s, bool wanted);
/* s->last_app_us = at_us, keeping the unwanted sessions in order of it. */
void konce_ep_table_touch(konce_ep *ep, konce_sess *s, uint64_t at_us);
enum { KONCE_EP_EVICT_IDLE_MS = 10000 }; /* an unwanted incoming session idle this long may be evicted */
/* The occupancy part of the proof-of-work demand (0..KONCE_LOAD_BITS_BASE_MAX). */
unsigned konce_ep_table_bits(const konce_ep *ep);
/* Before the DH of an INITIATE from `from`: 0 (and *victim, a session to evict once the INITIATE
 * authenticates, or NULL) or -ENOSPC (counted: init_source_full or init_full). */
int konce_ep_table_admit(konce_ep *ep, const konce_addr *from, uint64_t now_us, konce_sess **victim);
/* After it authenticated as peer_pk, before its session is made: applies the per-key rule and
 * evicts victim if room is still needed. */
void konce_ep_table_seat(konce_ep *ep, const uint8_t peer_pk[KONCE_WIRE_KEY], konce_sess *victim, uint64_t now_us);
/* The session a dial may evict when every slot is taken, or NULL. */
konce_sess *konce_ep_table_victim(konce_ep *ep, uint64_t now_us);
/* Closes s to make room: CLOSE to the peer, CLOSED (KONCE_FAIL_IDLE) to the application. */
void konce_ep_evict(konce_ep *ep, konce_sess *s, uint64_t now_us);

/* hs_client.c: the solve queue.  s (SOLVING, hb set) joins at the tail / leaves it; when the head
 * leaves, the next one is armed to hash at once. */
void konce_hs_solve_join(konce_ep *ep, konce_sess *s);
void konce_hs_solve_leave(konce_ep *ep, konce_sess *s);

/* Every change of s->state goes here: it keeps the solve queue. */
static inline void konce_ep_set_state(konce_ep *ep, konce_sess *s, enum konce_hs_state st)
{
	if (s->key && s->state == KONCE_HS_ACCEPT_PENDING && st != KONCE_HS_ACCEPT_PENDING)
		s->key->n++; /* an incoming session counts for its key's rule once accepted */
	if (s->state == KONCE_HS_SOLVING)
		konce_hs_solve_leave(ep, s);
	if (st == KONCE_HS_SOLVING)
		konce_hs_solve_join(ep, s);
	s->state = st;
}

/* endpoint.c */
/* slot + struct + handshake buffer (a server's without hb->first); NULL if full/ENOMEM */
konce_sess *konce_ep_sess_new(konce_ep *ep, bool client, uint64_t now_us);
void konce_ep_sess_free(konce_ep *ep, konce_sess *s);
/* The handshake is over for s (client: ACCEPT taken; server: the client was heard after our
 * ACCEPT): its buffers are wiped and freed.  Idempotent. */
void konce_ep_hs_done(konce_ep *ep, konce_sess *s);
/* Tells the peer the session is closing (a CLOSE frame), if it is established. */
void konce_ep_send_close(konce_ep *ep, konce_sess *s, uint64_t now_us);
/* A session the endpoint ends itself (idle, peer silent, evicted): CLOSE to the peer if established,
 * CLOSED with reason (KONCE_FAIL_*) to the application, and s is freed.  Messages still pending must
 * have been failed first (konce_ep_msg_abort). */
void konce_ep_sess_end(konce_ep *ep, konce_sess *s, unsigned reason, uint64_t now_us);
konce_sess *konce_ep_sess_by_conn(konce_ep *ep, uint32_t conn);
/* The out ring's reserve for control datagrams (invariant 6): a quarter of the ring, 16 at least. */
static inline unsigned konce_ep_out_reserve_for(unsigned out_cap) { return out_cap / 4 > 16 ? out_cap / 4 : 16; }
/* True while an ordinary datagram finds no room (the reserve is not its). */
static inline bool konce_ep_out_full(const konce_ep *ep) { return ep->out_n >= ep->out_cap; }
/* The out ring's next slot (max_datagram bytes), to build a datagram in place, or NULL if the ring
 * is full; konce_ep_out_commit(ep, to, len) queues what was written there.  Nothing else may touch
 * the ring in between.  The _control form may take the reserve (invariant 6). */
uint8_t *konce_ep_out_reserve(konce_ep *ep);
uint8_t *konce_ep_out_reserve_control(konce_ep *ep);
void konce_ep_out_commit(konce_ep *ep, const konce_addr *to, size_t len);
/* A datagram built elsewhere into the ring, or dropped (counted) if it has no room: an ordinary
 * one (COOKIE and VERSION, the stateless answers), or a control one (our handshake's). */
void konce_ep_send_raw(konce_ep *ep, const konce_addr *to, const uint8_t *pkt, size_t len);
void konce_ep_send_raw_control(konce_ep *ep, const konce_addr *to, const uint8_t *pkt, size_t len);
konce_ep_event *konce_ep_push_event(konce_ep *ep, enum konce_ep_event_type type, uint32_t conn);
void konce_ep_fail(konce_ep *ep, konce_sess *s, unsigned reason);
/* A fresh random cid not in the table. */
void konce_ep_new_cid(konce_ep *ep, uint8_t cid[KONCE_WIRE_CID]);

/* cidtab.c */
konce_sess *konce_cid_find(const konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID]);
/* The same, and the epoch of the id (if epoch is not NULL). */
konce_sess *konce_cid_lookup(const konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID], uint32_t *epoch);
/* s->scid as its epoch-0 entry. */
void konce_cid_insert(konce_ep *ep, konce_sess *s);
/* Every id of s. */
void konce_cid_remove(konce_ep *ep, konce_sess *s);
void konce_cid_add(konce_ep *ep, konce_sess *s, konce_cident *e, const uint8_t cid[KONCE_WIRE_CID], uint32_t epoch);
void konce_cid_del(konce_ep *ep, konce_cident *e);

/* cidrot.c */
/* Makes the table hold exactly the ids of s the peer may use now (its keys must be set). */
void konce_cid_sync(konce_ep *ep, konce_sess *s);
/* Puts into s->sess.dcid the peer's id for datagrams to `to`. */
void konce_cid_for(konce_sess *s, const konce_addr *to);

/* hs_server.c */
/* The input handlers return konce_ep_input()'s verdict and fill rx (never NULL here). */
enum konce_ep_verdict konce_hs_server_hello(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
					    uint64_t now_us, konce_ep_rx *rx);
enum konce_ep_verdict konce_hs_server_initiate(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
					       uint64_t now_us, konce_ep_rx *rx);
/* Builds, stores and sends the ACCEPT, carrying frames[0, flen). */
void konce_hs_server_flush_accept(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t flen);
void konce_hs_server_flush_all(konce_ep *ep);

/* hs_client.c */
int konce_hs_client_start(konce_ep *ep, konce_sess *s, const uint8_t server_pk[KONCE_WIRE_KEY],
			  const konce_addr *to, uint64_t now_us);
enum konce_ep_verdict konce_hs_client_cookie(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
                                             uint64_t now_us, konce_ep_rx *rx);
enum konce_ep_verdict konce_hs_client_version(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
                                              uint64_t now_us, konce_ep_rx *rx);
enum konce_ep_verdict konce_hs_client_accept(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
                                             uint64_t now_us, konce_ep_rx *rx);
/* A HELLO_SENT attempt sends its HELLO now, to `to` (where the peer proved to be: hs_simopen.c). */
void konce_hs_client_redirect(konce_ep *ep, konce_sess *s, const konce_addr *to, uint64_t now_us);
/* Resend, solve the next slice (SOLVING; `solving` attempts share this call's slice) or fail;
 * returns the session's next handshake deadline (UINT64_MAX when done, now_us for more work). */
uint64_t konce_hs_client_timer(konce_ep *ep, konce_sess *s, unsigned solving, uint64_t now_us);

/* hs_simopen.c: the simultaneous open, decided after an INITIATE authenticated (checks a-f). */
/* Our client handshake that makes this INITIATE (peer c_pub, asking for our key S, cookie issued
 * at cookie_ms) the other half of a simultaneous open; NULL if none. */
konce_sess *konce_hs_simopen_find(konce_ep *ep, const uint8_t c_pub[KONCE_WIRE_KEY], const konce_identity *S,
				  uint64_t cookie_ms);
/* True if we (showing S) are the initiator against c_pub: the lower key. */
bool konce_hs_simopen_initiator(const konce_identity *S, const uint8_t c_pub[KONCE_WIRE_KEY]);
/* Turns our client attempt s into the server session of the peer's INITIATE (ACCEPT_PENDING).
 * The attempt's first message becomes a reliable message (it rides in the ACCEPT as packet 1,
 * acknowledged and retransmitted like any): its msg_id, or 0 (none, or it could not be queued). */
uint64_t konce_hs_simopen_merge(konce_ep *ep, konce_sess *s, const konce_addr *from, const uint8_t client_cid[KONCE_WIRE_CID],
			    const uint8_t k_c2s[KONCE_WIRE_KEY], const uint8_t k_s2c[KONCE_WIRE_KEY], uint64_t now_us);
/* After the merged session's events: the ACCEPT leaves with the first reliable packet. */
void konce_hs_simopen_first(konce_ep *ep, konce_sess *s, uint64_t now_us);

/* The slot for a new event, growing the ring as needed; NULL only if the allocator said no.
 * Events that do not carry a peer's message (lifecycle, outcomes of our own messages) are bounded
 * by our own sessions and messages, and are never refused for room.  MESSAGE events are bounded by
 * back-pressure instead: a session stops reading message frames while konce_ep_msg_events_full(). */
konce_ep_evslot *konce_ep_push_slot(konce_ep *ep, enum konce_ep_event_type type, uint32_t conn);
/* true while s may not add MESSAGE events: it has KONCE_EP_SESS_MSG_EVENTS unconsumed, or all
 * sessions together KONCE_EP_MSG_EVENTS. */
bool konce_ep_msg_events_full(const konce_ep *ep, const konce_sess *s);

/* What one walk over a payload's frames found, so that the receive path's steps need not walk
 * them again each (a FRAGMENT or ACK frame is decoded to find its end). */
typedef struct konce_ep_scan {
	bool rel;       /* a reliability frame other than an ACK */
	bool ping;      /* a PING frame */
	bool ep_frames; /* a frame konce_ep_frames() acts on: MESSAGE, PATH_*, CLOSE, an extension */
	size_t ack_off; /* offset of the first ACK frame, SIZE_MAX if none */
} konce_ep_scan;
/* Validates p[0, len) as konce_frame_validate() does (0, or its negative errno) and fills *sc. */
int konce_ep_scan_frames(const konce_ep *ep, const uint8_t *p, size_t len, konce_ep_scan *sc);

/* ep_msg.c */
/* An authenticated payload for s: reliability frames, acks due.  Creates s->rel when the payload
 * carries reliability frames or a PING.  Returns 0 or -ENOMEM.  The _scanned form takes the
 * payload's konce_ep_scan_frames() result instead of walking the frames itself. */
int konce_ep_msg_input(konce_ep *ep, konce_sess *s, uint64_t pn, const uint8_t *p, size_t len, uint64_t now_us);
int konce_ep_msg_input_scanned(konce_ep *ep, konce_sess *s, uint64_t pn, const uint8_t *p, size_t len,
			       const konce_ep_scan *sc, uint64_t now_us);
/* Sends whatever s->rel has due (acks, data, probes, keepalives). */
void konce_ep_msg_flush(konce_ep *ep, konce_sess *s, uint64_t now_us);
/* konce_ep_msg_send() on a session, without flushing. */
int konce_ep_msg_queue(konce_ep *ep, konce_sess *s, const uint8_t *data, size_t len, unsigned klass, uint64_t now_us,
		       uint64_t *msg_id);
/* Fails every message queued on s with reason (a konce_ep_msg_fail), before the conn's last event. */
void konce_ep_msg_abort(konce_ep *ep, konce_sess *s, unsigned reason);
/* s lets go of its source's reassembly charge (its conn's reassembler is gone or settled); the
 * charge is freed with the source's last session (ep_msg.c). */
void konce_ep_rsrc_put(konce_ep *ep, konce_sess *s);
/* Message timers for s; false if the session was closed.  *next gets the earliest deadline. */
bool konce_ep_msg_timer(konce_ep *ep, konce_sess *s, uint64_t now_us, uint64_t *next);
/* Frees a message an event slot or ep->held owns. */
void konce_ep_msg_release(konce_ep *ep, uint32_t conn, konce_reasm_msg *m);
/* The konce_ep_msg_fail for a handshake failure or close reason. */
unsigned konce_ep_msg_reason(unsigned fail);
/* s's path had an RTT of rtt_us at `at`, seen outside its channel's acks: kept in the session (the
 * smaller, or the fresher once the older is 10 s old) for its channels' controllers, and handed to
 * the present one. */
void konce_ep_rtt_seen(konce_sess *s, uint64_t rtt_us, uint64_t at, uint64_t now_us);

/* ep_pmtud.c: the path MTU search of each session (pmtud.h) */
/* The largest datagram s sends now. */
static inline size_t konce_ep_plpmtu(const konce_sess *s) { return s->pm ? s->pm->plpmtu : KONCE_PMTU_BASE; }
/* Starts the search once s has a channel; sends a probe if one is due. */
void konce_ep_pmtud_flush(konce_ep *ep, konce_sess *s, uint64_t now_us);
/* After an authenticated payload went through the conn: probe acks, black holes. */
void konce_ep_pmtud_input(konce_ep *ep, konce_sess *s, const uint8_t *p, size_t len, const konce_ep_scan *sc,
			  uint64_t now_us);
/* Probe timeout; the next time it needs a call (UINT64_MAX: none). */
uint64_t konce_ep_pmtud_timer(konce_ep *ep, konce_sess *s, uint64_t now_us);
/* s's datagrams take another path: the search starts again from KONCE_PMTU_BASE (a presence's
 * next one: the kept size is forgotten). */
void konce_ep_pmtud_reset(konce_ep *ep, konce_sess *s, uint64_t now_us);
/* s's channel shrinks: the search's result and counts go to s->pmk, its state back to the slab. */
void konce_ep_pmtud_shrink(konce_ep *ep, konce_sess *s);

/* ep_mem.c: a channel shrank back to a presence (its conn is freed).  Every KONCE_EP_TRIM_SHRINKS
 * of them, the env's trim hook (konce_env_trim; malloc_trim in the default env) gives the
 * allocator's free pages back to the system. */
enum { KONCE_EP_TRIM_SHRINKS = 64 }; /* what stays untrimmed: 64 conns, about 640 KB */
void konce_ep_mem_shrunk(konce_ep *ep);

/* ep_timer.c: the deadline heap (invariants in its header) */
/* s's work may be due at at_us: lowers its deadline.  NULL s: the endpoint's own. */
void konce_ep_arm(konce_ep *ep, konce_sess *s, uint64_t at_us);
/* A new session enters the heap, due at now_us; a freed one leaves it. */
void konce_ep_timer_add(konce_ep *ep, konce_sess *s, uint64_t now_us);
void konce_ep_timer_remove(konce_ep *ep, konce_sess *s);
/* Timer slack (ep_timer.c header, "Coalescing"): konce_ep_slack, konce_ep_due_early,
 * konce_ep_due_late are in slack.h. */

/* ep_session.c */
enum konce_ep_verdict konce_ep_data_input(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
					  uint64_t now_us, konce_ep_rx *rx);
/* Acts on validated frames of an authenticated payload.  Returns false if the session was freed. */
bool konce_ep_frames(konce_ep *ep, konce_sess *s, const uint8_t *p, size_t len, const konce_addr *from,
		     uint64_t pn, uint64_t now_us);
/* The frame extension in force, or NULL. */
const konce_frame_ext *konce_ep_fext(const konce_ep *ep);
/* Seals frames into one DATA packet to `to` (amplification limit applies); 0 or negative errno.
 * The _control form is for control frames (invariant 6: CLOSE, a presence's ack of a PING, path
 * challenges and responses): it may take the out ring's reserve. */
int konce_ep_send_frames(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_addr *to,
			 uint64_t now_us);
int konce_ep_send_control(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_addr *to,
			  uint64_t now_us);
/* konce_ep_send_frames() with g's holes in frames read from the message (gather.h). */
int konce_ep_send_gather(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_gather *g,
			 const konce_addr *to, uint64_t now_us);
/* Per-session timers (path probe, old key, idle).  Returns false if the session was freed; sets *next. */
bool konce_ep_sess_timer(konce_ep *ep, konce_sess *s, uint64_t now_us, uint64_t *next);

#endif
