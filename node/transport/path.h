/* path.h - path validation and the anti-amplification limit of one session.
 *
 * Sessions are named by connection id, so an authenticated packet may arrive from an address the
 * session has not seen (a NAT rebinding, a roaming peer, or an attacker replaying a captured
 * packet from elsewhere).  The session does not move to that address on trust: it sends a
 * PATH_CHALLENGE there and moves only when the matching PATH_RESPONSE comes back FROM that address.
 * Until then every byte sent to the new address is charged against the bytes received from it
 * (at most 1x), so a spoofed source cannot turn the session into an amplifier.
 *
 *   states:   VALID --konce_path_on_packet(new addr)--> PROBING --on_response(match)--> VALID(moved)
 *                                                          |--konce_path_tick(tries out)--> VALID
 * Invariant: cur is always an address the peer has proven it receives at (or the handshake
 * address, proven by the cookie).
 */
#ifndef KONCE_PATH_H
#define KONCE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/transport/frame.h"

enum { KONCE_PATH_TRIES = 3, KONCE_PATH_RETRY_MS = 1000 };

typedef struct konce_path {
	konce_addr cur;   /* validated */
	bool probing;
	konce_addr probe; /* being validated */
	uint8_t challenge[KONCE_FRAME_PATH_DATA];
	uint64_t rx_bytes, tx_bytes; /* from / to probe, for the amplification limit */
	uint64_t deadline_us;        /* next challenge retransmission (probing only) */
	unsigned tries;              /* challenges sent for this probe */
} konce_path;

void konce_path_init(konce_path *p, const konce_addr *cur);
/* An authenticated packet of len bytes arrived from `from`.  Returns true if a new probe starts:
 * the caller then fills p->challenge with fresh random bytes. */
bool konce_path_on_packet(konce_path *p, const konce_addr *from, size_t len, uint64_t now_us);
/* true while a probe's first challenge has not gone out yet (the 1x budget was too small for
 * it); the caller tries again as more bytes arrive from the probe address. */
bool konce_path_challenge_due(const konce_path *p);
/* The first challenge went out to the probe address (later ones are counted by tick). */
void konce_path_challenge_sent(konce_path *p, uint64_t now_us);
/* May len bytes go to `to` now?  Always for cur; for the probe address within the 1x budget. */
bool konce_path_may_send(const konce_path *p, const konce_addr *to, size_t len);
void konce_path_sent(konce_path *p, const konce_addr *to, size_t len);
/* A PATH_RESPONSE arrived from `from`; true if it validated the probe (cur is now the probe). */
bool konce_path_on_response(konce_path *p, const konce_addr *from, const uint8_t data[KONCE_FRAME_PATH_DATA]);
/* true if the probe's challenge must be resent now (then call konce_path_challenge_sent once it
 * went out); gives up (probing = false) after KONCE_PATH_TRIES. */
bool konce_path_tick(konce_path *p, uint64_t now_us);

#endif
