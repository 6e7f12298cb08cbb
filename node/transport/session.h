/* session.h - the encrypted session: DATA packet seal/open, packet numbers, replay, rekey.
 *
 * One konce_session per established peer; the caller (endpoint.c) owns the struct and lends it a
 * key slot from its locked slab.  Packet number 1 in each direction was spent by the handshake
 * (INITIATE box2 and ACCEPT), so DATA starts at 2; the replay window already holds 1.
 *
 * Key phases.  The sender moves to k' = BLAKE2b-256(key = k, "rekey") after KONCE_REKEY_AFTER_MS
 * or KONCE_REKEY_AFTER_PACKETS on one key, flips KONCE_DATA_F_KEY_PHASE and wipes k at once (so a
 * later compromise does not expose earlier traffic).  The receiver, on a packet with the other
 * phase and a number above the first one of its current phase, derives the next key into scratch
 * and tries it; only if that authenticates does it advance (the current key becomes rx_prev for
 * KONCE_REKEY_OLD_KEY_MS, for stragglers), so a forged phase bit costs one hash and changes
 * nothing.  A packet with the other phase and a lower number is a straggler: rx_prev opens it.
 *
 * Packet-number windows (pnwin.h) need the largest number the peer has acknowledged.  Until the
 * reliability layer feeds acks in (konce_session_acked), largest_acked stays 0, which is the
 * conservative choice: the window spans 32 x the full number, never ambiguous, a few bytes longer.
 *
 * Invariants: the replay window is updated only after a packet authenticated; a packet that fails
 * any check changes nothing in the session.
 */
#ifndef KONCE_SESSION_H
#define KONCE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/transport/gather.h"
#include "node/transport/keyslab.h"
#include "node/transport/replay.h"
#include "node/base/wire.h"

typedef struct konce_session {
	konce_keyslot *keys;
	uint8_t dcid[KONCE_WIRE_CID]; /* the peer's id: destination of what we send */
	uint64_t tx_pn;               /* next number to send */
	uint64_t largest_acked;
	uint8_t tx_phase, rx_phase;   /* 0 or KONCE_DATA_F_KEY_PHASE */
	uint64_t tx_key_since_us, tx_key_packets;
	uint64_t rx_prev_until_us;    /* 0 = no previous key held */
	uint64_t rx_phase_first_pn;   /* lowest number opened under the current receive key */
	konce_replay *wide;           /* a channel's window (konce_session_widen), or NULL: replay */
	konce_replay_small replay;    /* a presence's window; unused while wide is set */
} konce_session;

enum konce_session_open_result {
	KONCE_SESS_OK = 0,
	KONCE_SESS_BAD_HEADER = -1, /* short, wrong type, bad flags, bad window */
	KONCE_SESS_REPLAY = -2,     /* number seen or too old */
	KONCE_SESS_AUTH = -3,       /* did not authenticate under any key it may use */
};

/* Takes keys (copied into the slot; caller wipes its copies). */
void konce_session_init(konce_session *s, konce_keyslot *slot, const uint8_t k_tx[KONCE_WIRE_KEY],
			const uint8_t k_rx[KONCE_WIRE_KEY], const uint8_t dcid[KONCE_WIRE_CID], uint64_t now_us);
/* Seals plain[0, len) as one DATA packet into out (room for konce_session_overhead() + len bytes);
 * rekeys first if due.  Returns the packet length, or 0 if it would exceed KONCE_PMTU_MAX.  Packets
 * over KONCE_PMTU_BASE are for a caller that knows the path carries them (pmtud.h).  plain may be
 * out + konce_session_header_len(s): the payload built where it goes is sealed in place (no copy;
 * the ciphertext overwrites it).  Any other overlap of plain and out is refused (0). */
size_t konce_session_seal(konce_session *s, uint8_t *out, const uint8_t *plain, size_t len, uint64_t now_us);
/* The same, with g's holes in plain read from their sources (gather.h); 0 also for a gather that
 * is out of order or past len.  g may be NULL. */
size_t konce_session_seal_gather(konce_session *s, uint8_t *out, const uint8_t *plain, size_t len,
				 const konce_gather *g, uint64_t now_us);
/* Bytes the next DATA packet adds around its payload: header with packet number, and tag. */
size_t konce_session_overhead(const konce_session *s);
/* Bytes of the next DATA packet's header, where its payload starts (overhead minus the tag). */
size_t konce_session_header_len(const konce_session *s);
/* Opens a DATA packet into out (at least len bytes); *plain_len and *pn are set on KONCE_SESS_OK. */
enum konce_session_open_result konce_session_open(konce_session *s, uint8_t *out, size_t *plain_len,
						  uint64_t *pn, const uint8_t *pkt, size_t len, uint64_t now_us);
/* The anti-replay window: small for a presence, wide for a channel (replay.h).  Widening moves
 * it into storage the caller owns (uninitialised) until konce_session_narrow(), which moves it
 * back and returns that storage (NULL if it was not wide). */
void konce_session_widen(konce_session *s, konce_replay *storage);
konce_replay *konce_session_narrow(konce_session *s);
/* The highest packet number received (what packet-number windows are decoded against). */
static inline uint64_t konce_session_rx_top(const konce_session *s) { return s->wide ? s->wide->top : s->replay.top; }

/* The peer acknowledged pn (for the reliability layer). */
void konce_session_acked(konce_session *s, uint64_t pn);
/* Wipes the previous receive key once its time is up.  Returns the next time it needs a call
 * (UINT64_MAX if none). */
uint64_t konce_session_tick(konce_session *s, uint64_t now_us);

#endif
