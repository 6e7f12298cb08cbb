/* punch.h - the path to one peer: timed simultaneous open, relay fallback, upgrade, liveness.
 *
 * One konce_punch per peer.  It is sans-I/O and knows nothing of packet formats: it says "send a
 * probe (or an ack) from local socket S to address X now" (konce_punch_poll), is told "a probe (or
 * an ack) from the peer arrived on socket S from address Y" (konce_punch_input), and reports what
 * became of the path (konce_punch_poll_event).  The caller runs konce_punch_timer() no later than
 * konce_punch_next_timer().  Times are microseconds and never go backwards.
 *
 * States and transitions (the function behind each):
 *
 *           konce_punch_start()                 ack from X on S: pair (S,X) verified
 *   IDLE ------------------------> PUNCHING -------------------------------------+
 *     |                               |                                          |
 *     |  (konce_punch_relay_heard(): IDLE --> RELAYED, our INTRO was lost)        |
 *     +-------------------------------+ konce_punch_timer(): start+GIVEUP passed  v
 *                                     v  (event RELAY)                         DIRECT
 *          +--------------------> RELAYED <-------------------------------+   |   ^
 *          |  konce_punch_timer():  |   ^ konce_punch_timer(): FAILS      |   |   |
 *          |  give-up               |   | keepalives unanswered (LOST) ---+---+   |
 *          |                        |   |                                         |
 *          |  konce_punch_start()   |   | konce_punch_timer(): upgrade due        |
 *          |                        v   | (controlling side; event UPGRADE:       |
 *          +------------------- PROBING |  the caller asks for a new intro)       |
 *                                   |   +---------------------- (stays RELAYED)   |
 *                                   +---- ack from X on S: verified --------------+
 *   DIRECT --konce_punch_start() (the peer re-introduced itself: its side broke)--> PROBING
 *   IDLE --konce_punch_start() where direct is not expected (event RELAY at once)--> PROBING
 *   PUNCHING --konce_punch_relay_heard() (the peer relays: event RELAY)--> PROBING
 *
 * Relay first: the first attempt starts in PROBING instead of PUNCHING when
 * konce_candidates_direct_expectation() over the INTRO (both NATs' mapping, both sides' port-mapped
 * candidates: self_cands / nself) says direct is impossible or only a birthday gamble.  The rule
 * is symmetric, so both sides choose alike: the relay carries the handshake and the first
 * messages at once (no 4 s hold), the schedule runs unchanged beside it, and a verified pair
 * upgrades the path as from RELAYED (with a session, confirmed or undone as below).  Where direct
 * is expected the first attempt stays PUNCHING (traffic held; the HELLO copies are the probes).
 *
 * Liveness of DIRECT: a keepalive every period (KONCE_PUNCH_PATH_KEEPALIVE_MS or set_keepalive), retried
 * every KONCE_PUNCH_PATH_PROBE_RETRY_MS while unanswered; KONCE_PUNCH_PATH_PROBE_FAILS unanswered in a row is
 * LOST.  Without a session (konce_punch_set_authenticated off) the keepalive is a PUNCH probe and
 * its PUNCH ack answers it.  With one (on: the caller has an established session with the peer
 * over this path) a PUNCH ack proves nothing -- it only echoes an intro id and a seq, so an
 * on-path or lucky off-path attacker could keep a dead path alive -- so the keepalive is an out
 * with .session set (the caller sends an ack-eliciting packet on the session), PUNCH acks from the
 * path are ignored (counted in acks_ignored), and only konce_punch_heard(), for authenticated
 * session traffic that came over the path, answers.  PUNCH still verifies pairs (attempts,
 * rebinding, the extra probes), but in authenticated mode a move so made (a rebind, or an upgrade
 * from PROBING) is unconfirmed: a session out goes over the new pair at once and every
 * KONCE_PUNCH_CONFIRM_RETRY_MS, and konce_punch_heard() confirms it; none within
 * KONCE_PUNCH_CONFIRM_MS undoes it -- a rebind back to the DIRECT pair it left (event DIRECT,
 * keepalive due at once), an upgrade (or a move away from an unconfirmed pair) to RELAYED (event
 * LOST).  A forged ack so moves traffic for at most KONCE_PUNCH_CONFIRM_MS.  Without a session
 * (first attempt, handshake as probe) a verified pair is final at once.
 *   DIRECT --input(probe from a new address Y), then input(ack from Y)--> DIRECT on Y (rebinding:
 *            the peer's NAT gave it a new mapping; the new address is probed before it is used:
 *            by the controlled side at once, by the controlling side only with the retries of an
 *            unanswered keepalive, so that two sides holding different valid pairs of one attempt
 *            converge on the controlling side's instead of swapping for ever; only an ack that
 *            arrives after that probe moves the path, not one answering an earlier probe of the
 *            attempt, such as a birthday port; a rebind sends no extra probes)
 *
 * PUNCHING and PROBING run the same schedule (an "attempt"); PROBING keeps the relay in use.
 * The schedule of an attempt that starts at T = now + intro delay (the rendezvous chose the delays
 * so both sides reach T together; docs/TRAVERSAL.md has the formula):
 *   - rounds at T + {0, 100, 300, 700, 1000, 1600, 2200, 2800, 3400} ms; in each round every target
 *     gets one probe, KONCE_PUNCH_PACE_MS apart, in candidates.h order;
 *   - a probe from an address not yet a target adds it (peer-reflexive) and triggers a probe to it
 *     at once; every probe from the peer is acked, in every state;
 *   - an ack from X on socket S verifies the pair (S, X) both ways: our probe reached the peer and
 *     its answer came back through both NATs.  The first verified pair wins; KONCE_PUNCH_EXTRA more
 *     probes follow to it, so a peer whose early probes died in our filter learns our address;
 *     then, until a probe of the attempt comes from the peer over the pair (a peer whose INTRO came
 *     late dropped the earlier ones) and at most until T + KONCE_PUNCH_GIVEUP_MS, one every
 *     KONCE_PUNCH_LINGER_MS, so the peer verifies the same pair instead of giving up;
 *   - birthday probing, only when exactly one side maps endpoint-independently and the other
 *     allocates at random (with an EDM_SEQ peer prediction does the job): from the round at
 *     T + 1000 ms, the EIM side probes KONCE_PUNCH_BIRTHDAY random ports of the peer's IP from
 *     sock 0, and the random side probes the peer's reflexive address from sockets 1..256 (256
 *     fresh mappings).  One attempt succeeds when the two 256-sets meet: with R = 64512 ports,
 *     P = 1 - (1 - 256/R)^256 = 64%; each later upgrade draws fresh sets.  Never with two EDM
 *     sides: their mappings toward each other do not exist until each knows the other's.
 *   - lease first: when we hold a port-mapping lease (a MAPPED candidate in self_cands), our NAT
 *     maps endpoint-dependently and the peer holds none, targets the peer has not probed us
 *     from get no probes until T + KONCE_PUNCH_LEASE_WAIT_MS: a connection-tracking lease
 *     carries only replies, and a flow we open first toward the address the peer's probe to the
 *     lease comes from would keep a mapping of its own (counted in lease_withheld);
 *   - at T + KONCE_PUNCH_GIVEUP_MS with nothing verified: RELAYED.
 * Budget per attempt: at most 9 x KONCE_CAND_MAX_TARGETS + 5 x KONCE_PUNCH_BIRTHDAY probes
 * (1640; the birthday set is re-sent in the 5 rounds from T + 1000 ms, so a probe that reached
 * the peer's NAT before the matching mapping existed gets another chance), plus acks, which
 * answer the peer's probes one for one.
 *
 * Invariants:
 *   1. state == DIRECT exactly when a verified pair (path_sock, path) exists.
 *   2. Probes go only to targets of the current attempt (PUNCHING, PROBING) or to the path
 *      (DIRECT keepalives; in authenticated mode the path's keepalive is a session out, and a
 *      PUNCH ack resets `unanswered` only when the mode is off); acks only to where a probe came
 *      from, echoing its intro id.
 *   3. An ack counts only if it echoes the current intro id and comes from a target probed on
 *      the socket it arrived on.
 *   4. UPGRADE is raised only by the controlling side (the lower key), at most once per backoff
 *      interval, which doubles from KONCE_UPGRADE_FIRST_MS to KONCE_UPGRADE_MAX_MS after each
 *      failed attempt and is reset when a path dies (first retry after
 *      KONCE_UPGRADE_AFTER_LOSS_MS, once the caller has re-registered).  One exception per
 *      verified path: an attempt that heard not a single probe from the peer (its INTRO was
 *      probably lost) is retried after KONCE_UPGRADE_AFTER_LOSS_MS.
 *   5. Nothing is allocated after konce_punch_new(); queues are bounded and overflow is counted.
 *   6. Only konce_punch_start() (an INTRO, from an authenticated rendezvous session) starts an
 *      attempt.  A probe counts only with the current intro id, and on the wire only with a MAC
 *      keyed by the INTRO's secret (konce_punch_receive); then its address is no longer a claim
 *      and may become a peer-reflexive target.  Claimed targets (HOST, MAPPED) not heard from get
 *      KONCE_PUNCH_CLAIMED_ALLOW probes each in an attempt, and all attempts to one peer share a
 *      bucket of KONCE_PUNCH_CLAIMED_BUDGET, one back per KONCE_PUNCH_CLAIMED_REFILL_MS, full
 *      again once a pair verifies (a peer that asks for introductions again and again cannot
 *      aim more than that at addresses it claims).
 *   7. With a session, after a move that was undone (never confirmed) verified pairs are not moved
 *      to for 1, 2, 4 ... KONCE_PUNCH_HOLD_MAX_MS (moves_held); a confirmation resets it.
 *
 * How this maps onto the endpoint (node/io/node_trav_hs.c; docs/TRAVERSAL.md "the handshake is the
 * probe"): for a first attempt in PUNCHING a probe is a copy of the endpoint's HELLO
 * (with the sender's key and the intro id in its padding), not PUNCH.  Both sides run a handshake
 * to each other; each answers the other's HELLO with a COOKIE, and the endpoint's simultaneous-open
 * tie-break (node/transport/hs_simopen.c) leaves one session whose client is the lower key.  "Ack from X" is
 * the peer's handshake answer that our endpoint accepted (a COOKIE matching our HELLO, an INITIATE
 * or ACCEPT that opened) arriving from X; the node feeds a HELLO copy to konce_punch_input() with
 * seq 0, which probes never use, and sends no PUNCH ack for it.  Birthday probes (out.birthday),
 * keepalives without a session, rebinding probes and upgrade attempts (the session exists) stay
 * PUNCH, and so is every probe of a first attempt started in PROBING (relay first: the handshake
 * itself goes through the relay, where the two sides' HELLOs cross and the tie-break leaves one
 * session); keepalives with a session are session PINGs (konce_ep_ping), answered by datagrams the
 * endpoint authenticated for that session (konce_ep_input verdict SESSION_DATA) from the path.  The intro
 * id rides in the HELLO copy but the handshake does not bind it (the COOKIE's MAC does not cover
 * the padding); a stale attempt still cannot complete a new one, every handshake being fresh.
 */
#ifndef KONCE_PUNCH_H
#define KONCE_PUNCH_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/candidates.h"
#include "node/base/env.h"

enum {
	KONCE_PUNCH_BIRTHDAY = 256, /* random ports probed / extra sockets, per attempt */
	KONCE_PUNCH_EXTRA = 3,      /* probes to the winner after it is verified */
	KONCE_PUNCH_LINGER_MS = 200, /* then one per this until the peer probes over it (or the give-up) */
	KONCE_PUNCH_OUT_RING = 64,
	KONCE_PUNCH_EV_RING = 8,
	KONCE_PUNCH_CONFIRM_MS = 1000,      /* a move with a session must be confirmed this soon */
	KONCE_PUNCH_CONFIRM_RETRY_MS = 300, /* confirming session PINGs this far apart */
	KONCE_PUNCH_HOLD_MAX_MS = 64000,    /* longest hold on moves after unconfirmed ones */
	KONCE_PUNCH_CLAIMED_ALLOW = 2,      /* probes to a claimed (host, mapped) target not heard from */
	KONCE_PUNCH_CLAIMED_BUDGET = 6,     /* such probes, all targets and attempts together: a bucket */
	KONCE_PUNCH_CLAIMED_REFILL_MS = 10000, /* per peer, one more every this long; full once verified */
	KONCE_PUNCH_LEASE_WAIT_MS = 1000, /* our lease, EDM NAT: only heard-from targets probed until T + this */
};

enum konce_punch_path_state {
	KONCE_PUNCH_PATH_IDLE = 0,
	KONCE_PUNCH_PATH_PUNCHING, /* first attempt, no relay yet */
	KONCE_PUNCH_PATH_DIRECT,
	KONCE_PUNCH_PATH_RELAYED,
	KONCE_PUNCH_PATH_PROBING,  /* relayed, and an attempt to go direct is running */
};

enum konce_punch_ev_type {
	KONCE_PUNCH_EV_DIRECT = 1, /* verified direct path (sock, addr) */
	KONCE_PUNCH_EV_RELAY,      /* an attempt failed: use the relay */
	KONCE_PUNCH_EV_LOST,       /* the direct path stopped answering: use the relay, re-register */
	KONCE_PUNCH_EV_UPGRADE,    /* ask the rendezvous for a new introduction */
};

typedef struct konce_punch_event {
	enum konce_punch_ev_type type;
	unsigned sock;
	konce_addr addr;
	uint64_t at;
} konce_punch_event;

typedef struct konce_punch_out {
	bool ack;          /* an ack (else a probe) */
	unsigned sock;     /* send from this local socket */
	konce_addr to;
	uint16_t seq;      /* probe number, or the one acked */
	uint64_t intro_id; /* put in the packet */
	konce_addr seen;   /* ack: the address the probe came from */
	bool birthday;     /* a birthday probe (one of KONCE_PUNCH_BIRTHDAY random ports or sockets) */
	bool session;      /* authenticated mode's DIRECT keepalive: send an ack-eliciting packet on the
			    * peer's session over the path (sock, to), not PUNCH; seq is 0 */
	uint8_t type;      /* probe: KONCE_CAND_* of the target (0: the path, a rebind or a birthday
			    * probe); only observed addresses (REFLEXIVE, PREDICTED on its IP,
			    * PEER_REFLEXIVE) may get a large probe such as a HELLO copy */
} konce_punch_out;

/* What an introduction told us, and what we know of ourselves. */
typedef struct konce_punch_intro {
	uint64_t intro_id;
	uint32_t delay_us;            /* first probe this long after now */
	const konce_cand *peer_cands; /* the peer's candidates */
	unsigned npeer;
	konce_natinfo peer_nat;
	konce_natinfo self_nat;
	unsigned self_spent; /* new mappings our NAT made since self_nat.last_port (candidates.h) */
	const konce_cand *self_cands; /* ours as registered (only port-mapped ones matter), or NULL */
	unsigned nself;
	const uint8_t *secret; /* KONCE_INTRO_SECRET_BYTES from the INTRO: keys the probes' MACs */
} konce_punch_intro;

struct konce_punch_counters {
	uint64_t attempts, probes, acks_sent, acks_rx, probes_rx, birthday_probes, verified, giveups,
		lost, upgrades, rebinds, out_dropped, ev_dropped, stale;
	uint64_t session_probes, heard, acks_ignored; /* authenticated liveness (set_authenticated) */
	uint64_t confirmed, unconfirmed; /* moves with a session: confirmed by heard(), or undone */
	uint64_t relay_first; /* first attempts started in PROBING: direct not expected */
	uint64_t forged;      /* PUNCH datagrams refused by konce_punch_receive (MAC, key, id) */
	uint64_t moves_held;  /* verified pairs not moved to: moves are held after unconfirmed ones */
	uint64_t claimed_withheld; /* probes not sent to claimed targets not heard from (budget) */
	uint64_t linger_probes; /* probes to a verified pair the peer had not probed yet (its INTRO late) */
	uint64_t lease_withheld; /* probes not sent while the peer comes to our lease first (lease wait) */
	uint64_t relay_joined; /* PUNCHING -> PROBING: the peer's traffic came through the relay */
};

typedef struct konce_punch konce_punch;

/* One peer.  Keys are copied.  0, -ENOMEM. */
int konce_punch_new(konce_punch **out, const konce_env *env, const uint8_t self_key[KONCE_WIRE_KEY],
		    const uint8_t peer_key[KONCE_WIRE_KEY]);
void konce_punch_free(konce_punch *p);

/* An introduction arrived: start an attempt (see the diagram for which state it leads to).
 * 0, -EINVAL (no usable candidate). */
int konce_punch_start(konce_punch *p, const konce_punch_intro *in, uint64_t now);
/* A probe or ack from the peer arrived on sock from `from`, already authenticated by the caller:
 * a PUNCH through konce_punch_receive(), a HELLO copy whose tag konce_punch_tag_ok() accepted, or
 * a handshake answer the endpoint authenticated as the peer's.  Only the current attempt's intro
 * id counts; nothing else starts an attempt (konce_punch_start does, from an INTRO). */
void konce_punch_input(konce_punch *p, unsigned sock, const konce_addr *from, bool ack,
		       uint64_t intro_id, uint16_t seq, uint64_t now);
/* PUNCH on the wire (node/base/wire.h): the out `o` as a datagram, MAC'd with the current
 * introduction's secret.  Its length, or 0 (no introduction yet, cap too small). */
size_t konce_punch_encode(const konce_punch *p, const konce_punch_out *o, uint8_t *buf, size_t cap);
/* A PUNCH datagram arrived on sock from `from`.  It counts only if it parses, names the peer's key
 * and the current intro id, and its MAC checks with the introduction's secret: then
 * konce_punch_input().  0, or -EBADMSG (counted in forged; nothing else changes). */
int konce_punch_receive(konce_punch *p, unsigned sock, const konce_addr *from, const uint8_t *pkt, size_t len,
			uint64_t now);
/* MAC (KONCE_PUNCH_MAC_BYTES) of msg with the current introduction's secret, for a tag carried
 * elsewhere (the HELLO copy, node/base/wire.h).  false if there is no introduction yet. */
bool konce_punch_tag(const konce_punch *p, const uint8_t *msg, size_t len, uint8_t mac[KONCE_PUNCH_MAC_BYTES]);
bool konce_punch_tag_ok(const konce_punch *p, const uint8_t *msg, size_t len,
			const uint8_t mac[KONCE_PUNCH_MAC_BYTES]);
/* Authenticated traffic from the peer's session arrived over the direct path: it is alive. */
void konce_punch_heard(konce_punch *p, uint64_t now);
/* Whether a session with the peer exists (off at konce_punch_new()).  While on, the DIRECT
 * keepalive is an out with .session set, and PUNCH acks from the path no longer answer it: only
 * konce_punch_heard() does. */
void konce_punch_set_authenticated(konce_punch *p, bool on);
/* The peer's traffic arrived through the relay.  In IDLE (our INTRO was lost, and the peer gave
 * up punching) this moves to RELAYED, with an upgrade soon if we are the controlling side.  In
 * PUNCHING (the peer relays: it still holds a session with us, from before we restarted, so its
 * attempt is an upgrade that keeps the relay, or it gave up) this moves to PROBING, with event
 * RELAY: what we send goes through the relay too, and the attempt's schedule runs on. */
void konce_punch_relay_heard(konce_punch *p, uint64_t now);
/* The DIRECT path's keepalive period (us; 0 = KONCE_PUNCH_PATH_KEEPALIVE_MS), e.g. shorter when the NAT's
 * mapping lifetime is (nat/lifetime.h).  A pending keepalive further away moves in. */
void konce_punch_set_keepalive(konce_punch *p, uint64_t keepalive_us, uint64_t now);

bool konce_punch_poll(konce_punch *p, konce_punch_out *out);
bool konce_punch_poll_event(konce_punch *p, konce_punch_event *ev);
uint64_t konce_punch_next_timer(const konce_punch *p);
void konce_punch_timer(konce_punch *p, uint64_t now);

enum konce_punch_path_state konce_punch_state(const konce_punch *p);
/* The verified pair; false unless DIRECT. */
bool konce_punch_path(const konce_punch *p, unsigned *sock, konce_addr *addr);
bool konce_punch_controlling(const konce_punch *p);
/* True while an attempt runs and (sock, a) is one of its targets: where an ack may come from. */
bool konce_punch_is_target(const konce_punch *p, unsigned sock, const konce_addr *a);
/* The intro id of the current (or last) attempt. */
uint64_t konce_punch_intro_id(const konce_punch *p);
const struct konce_punch_counters *konce_punch_counters(const konce_punch *p);
const char *konce_punch_path_state_name(enum konce_punch_path_state s);

#endif
