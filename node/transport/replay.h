/* replay.h - anti-replay window over packet numbers, a bitmap in the style of RFC 6479.
 *
 * The caller owns the struct (no allocation).  Check before decrypting is pointless for forged
 * packets, so the order is: konce_replay_check() (cheap), decrypt, then konce_replay_update() only
 * for a packet that authenticated.  Numbers more than KONCE_REPLAY_WINDOW below the highest seen
 * are refused; top - KONCE_REPLAY_WINDOW itself is still accepted if unseen.  Any number above top
 * is accepted, however far; a jump moves the window and forgets what falls out of it, in time
 * independent of the jump's size.
 *
 * Two sizes.  konce_replay is a channel's window, KONCE_REPLAY_WINDOW numbers deep (a fast path
 * reorders that much); konce_replay_small, KONCE_REPLAY_SMALL_WINDOW deep, is what a presence
 * keeps (keepalives and their acks reorder little), 40 bytes instead of 272.  A session widens
 * its window when it grows into a channel and narrows it when it shrinks back (session.h).
 * Narrowing forgets numbers more than the small window below top, which the small window refuses
 * anyway.  Widening cannot tell which numbers between the two depths were seen, so it sets lo to
 * top - KONCE_REPLAY_SMALL_WINDOW: numbers below lo stay refused, and the wide window reaches below
 * that only once top has moved on.
 */
#ifndef KONCE_REPLAY_H
#define KONCE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	KONCE_REPLAY_WORDS = 32,
	KONCE_REPLAY_WINDOW = (KONCE_REPLAY_WORDS - 1) * 64,
	KONCE_REPLAY_SMALL_WORDS = 4,
	KONCE_REPLAY_SMALL_WINDOW = (KONCE_REPLAY_SMALL_WORDS - 1) * 64,
};

typedef struct konce_replay {
	uint64_t top; /* highest number accepted, 0 = none */
	uint64_t lo;  /* numbers below are refused (konce_replay_widen); 0 = none */
	uint64_t bitmap[KONCE_REPLAY_WORDS];
} konce_replay;

typedef struct konce_replay_small {
	uint64_t top;
	uint64_t bitmap[KONCE_REPLAY_SMALL_WORDS];
} konce_replay_small;

void konce_replay_init(konce_replay *r);
/* true if n is new and not too old (n = 0 is never valid). */
bool konce_replay_check(const konce_replay *r, uint64_t n);
/* Marks n seen.  Returns false (and changes nothing) if konce_replay_check(n) would be false. */
bool konce_replay_update(konce_replay *r, uint64_t n);

void konce_replay_small_init(konce_replay_small *r);
bool konce_replay_small_check(const konce_replay_small *r, uint64_t n);
bool konce_replay_small_update(konce_replay_small *r, uint64_t n);
/* w takes over from s: it accepts exactly what s accepts, until top moves (header). */
void konce_replay_widen(konce_replay *w, const konce_replay_small *s);
/* s takes over from w: it accepts what w accepts within KONCE_REPLAY_SMALL_WINDOW of top. */
void konce_replay_narrow(konce_replay_small *s, const konce_replay *w);

#endif
