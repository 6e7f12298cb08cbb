/* path.h - path validation, old-path re-validation and the anti-amplification limit of one session.
 *
 * Sessions are named by connection id, so an authenticated packet may arrive from an address the
 * session has not seen: a NAT rebinding, a roaming peer, or an attacker who copied a genuine
 * packet and raced it from elsewhere (its copy wins, the genuine one is then a replay).  The
 * session does not move to that address on trust:
 *   - it sends a PATH_CHALLENGE there (the probe) and moves only when the matching PATH_RESPONSE
 *     comes back FROM that address; until then every byte sent to the probe address is charged
 *     against the bytes received from it (at most 1x), so a spoofed source cannot turn the session
 *     into an amplifier;
 *   - at the same time it re-validates the old path (RFC 9000 section 9.3.3): a PATH_CHALLENGE to
 *     the address it is leaving.  A rebinding NAT has forgotten that mapping, so the challenge is
 *     lost; a peer that is still there answers it.  If the old path answers (the response may come
 *     from anywhere: only the peer, reached at the old address, can seal it), or the peer sends a
 *     packet from the old address numbered above everything from the probe, the migration is not
 *     confirmed: the probe ends, or a move already made is undone.  A move stands (confirmed)
 *     only once the old path failed KONCE_PATH_TRIES challenges.
 * Only the highest-numbered packet so far starts a probe (RFC 9000 section 9.3): a late,
 * reordered packet from an address the session left does not.
 * A refused or undone migration is a sign of an attacker racing copies of the peer's packets, so
 * for KONCE_PATH_WARY_MS after one the session is wary: the refused address starts no probe, and
 * a probe that validates moves only once the old path's check failed (a real rebinding then
 * costs up to KONCE_PATH_TRIES x KONCE_PATH_RETRY_MS before the move, instead of one round trip;
 * an attacker gets no flapping between paths).
 *
 *   states (cur, probing, checking):
 *     VALID (cur confirmed) --on_packet(new addr, newest pn)--> PROBING+CHECKING(old = cur)
 *     PROBING+CHECKING --on_response(probe's data, from probe)--> MOVED (cur = probe, unconfirmed,
 *                                                                  still CHECKING old)
 *     PROBING+CHECKING --old path answers / newer pn from cur--> VALID (REFUSED: probe ends)
 *     PROBING+CHECKING --old check out of tries--> PROBING (old dead: the move, when it comes,
 *                                                           is confirmed at once)
 *     MOVED --old check out of tries--> VALID (CONFIRMED)
 *     MOVED --old path answers / newer pn from old--> VALID (BACK: cur = old again)
 *     PROBING --tick: probe out of tries--> VALID (and the old check ends too)
 *     wary: PROBING+CHECKING --on_response(probe's data)--> PROBE_OK --old check out of tries-->
 *           VALID (MOVED, confirmed); PROBE_OK --old path answers--> VALID (REFUSED)
 *     any --on_packet(yet another addr, newest pn)--> PROBING+CHECKING(old = cur) (restarts)
 * Connection ids: every new probe address gets a fresh epoch (cur keeps its own until the move),
 * and so does the old address when a migration is refused or undone; the peer follows an epoch
 * higher than any it knows (konce_path_on_epoch).  Epochs only grow.
 * Invariants: cur is always an address the peer has proven it receives at (the handshake
 * address, proven by the cookie, or a validated probe); `confirmed` is false exactly while cur
 * is a move whose old path has neither failed nor answered; while checking, the only datagrams
 * that go to `old` (when it is not cur) are the old path's challenges.
 */
#ifndef KONCE_PATH_H
#define KONCE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/transport/frame.h"

enum { KONCE_PATH_TRIES = 3, KONCE_PATH_RETRY_MS = 1000, KONCE_PATH_WARY_MS = 60 * 1000 };

/* What a call did to cur (the caller reports MOVED, BACK and CONFIRMED as a path change). */
enum konce_path_change {
	KONCE_PATH_SAME = 0,
	KONCE_PATH_MOVED,     /* cur is the validated probe; confirmed tells if the old path failed already */
	KONCE_PATH_CONFIRMED, /* the old path failed its check: the move to cur stands (confirmed) */
	KONCE_PATH_BACK,      /* the old path proved alive after a move: cur is the old address again */
	KONCE_PATH_REFUSED,   /* the old path proved alive before the probe validated: the probe ended */
};

/* konce_path_tick(): which challenges to (re)send now. */
enum { KONCE_PATH_SEND_PROBE = 1, KONCE_PATH_SEND_OLD = 2 };

typedef struct konce_path {
	konce_addr cur;   /* validated */
	bool confirmed;   /* cur is the handshake address or a move whose old path failed */
	uint64_t largest; /* largest authenticated packet number, from anywhere */
	uint64_t cur_pn;  /* largest from cur */
	bool probing;
	bool probe_ok;    /* wary: the probe validated, and waits for the old check to fail */
	konce_addr probe; /* being validated */
	uint8_t challenge[KONCE_FRAME_PATH_DATA];
	uint64_t probe_pn;           /* largest from probe */
	uint64_t rx_bytes, tx_bytes; /* from / to probe, for the amplification limit */
	uint64_t deadline_us;        /* next challenge retransmission (probing only) */
	unsigned tries;              /* challenges sent for this probe */
	/* the old path's re-validation */
	bool checking;
	konce_addr old;
	bool old_confirmed;          /* old's confirmed, to restore on BACK */
	bool old_dead;               /* the check failed before the probe validated */
	uint8_t old_challenge[KONCE_FRAME_PATH_DATA];
	unsigned old_tries;          /* here, not beside its deadline: no holes (8 bytes a session) */
	uint64_t old_deadline_us;
	/* after a refused or undone migration */
	uint64_t wary_until_us;
	konce_addr refused;          /* the address it was refused for */
	/* connection-id epochs (cidrot.c): each destination address gets its own, so an observer
	 * cannot link two of the peer's addresses by the ids on the wire */
	uint32_t cur_epoch, probe_epoch, old_epoch;
	uint32_t max_epoch;          /* the highest made or seen */
	uint32_t rx_epoch;           /* the highest of ours the peer has used */
} konce_path;

void konce_path_init(konce_path *p, const konce_addr *cur);
/* An authenticated packet number pn of len bytes arrived from `from`; *chg says what it did to
 * cur (REFUSED, BACK or SAME).  Returns true if a new probe starts: the caller then fills
 * p->challenge and p->old_challenge with fresh random bytes. */
bool konce_path_on_packet(konce_path *p, const konce_addr *from, size_t len, uint64_t pn, uint64_t now_us,
			  enum konce_path_change *chg);
/* true while a probe's first challenge has not gone out yet (the 1x budget was too small for
 * it); the caller tries again as more bytes arrive from the probe address. */
bool konce_path_challenge_due(const konce_path *p);
/* The first challenge went out to the probe address (later ones are counted by tick). */
void konce_path_challenge_sent(konce_path *p, uint64_t now_us);
/* true while the old path's first challenge has not gone out yet (to p->old). */
bool konce_path_old_due(const konce_path *p);
void konce_path_old_sent(konce_path *p, uint64_t now_us);
/* May len bytes go to `to` now?  Always for cur and, while checking, for old; for the probe
 * address within the 1x budget. */
bool konce_path_may_send(const konce_path *p, const konce_addr *to, size_t len);
void konce_path_sent(konce_path *p, const konce_addr *to, size_t len);
/* A PATH_RESPONSE arrived from `from`: MOVED, BACK, REFUSED, or SAME (it matched nothing, or
 * the session is wary and the validated probe waits for the old path's check). */
enum konce_path_change konce_path_on_response(konce_path *p, const konce_addr *from,
					      const uint8_t data[KONCE_FRAME_PATH_DATA], uint64_t now_us);
/* Retransmission and give-up times.  Returns KONCE_PATH_SEND_* bits for the challenges due now
 * (after sending, nothing more to call: tick counted them); *chg may be CONFIRMED, or MOVED (a
 * wary session's validated probe, confirmed, once the old path failed). */
unsigned konce_path_tick(konce_path *p, uint64_t now_us, enum konce_path_change *chg);
/* An authenticated packet came from `from` to our id of `epoch`: a higher epoch than any is the
 * peer's move to fresh ids, followed on the path it came by. */
void konce_path_on_epoch(konce_path *p, const konce_addr *from, uint32_t epoch);
/* The epoch of the ids for datagrams to `to`. */
uint32_t konce_path_epoch(const konce_path *p, const konce_addr *to);
/* The earliest deadline of the probe and the old check, UINT64_MAX if none. */
uint64_t konce_path_next(const konce_path *p);

#endif
