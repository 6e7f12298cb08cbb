/* replay.h - anti-replay window over packet numbers, a bitmap in the style of RFC 6479.
 *
 * The caller owns the struct (no allocation).  Check before decrypting is pointless for forged
 * packets, so the order is: konce_replay_check() (cheap), decrypt, then konce_replay_update() only
 * for a packet that authenticated.  Numbers more than KONCE_REPLAY_WINDOW below the highest seen
 * are refused; top - KONCE_REPLAY_WINDOW itself is still accepted if unseen.  Any number above top
 * is accepted, however far; a jump moves the window and forgets what falls out of it, in time
 * independent of the jump's size.
 */
#ifndef KONCE_REPLAY_H
#define KONCE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum { KONCE_REPLAY_WORDS = 32, KONCE_REPLAY_WINDOW = (KONCE_REPLAY_WORDS - 1) * 64 };

typedef struct konce_replay {
	uint64_t top; /* highest number accepted, 0 = none */
	uint64_t bitmap[KONCE_REPLAY_WORDS];
} konce_replay;

void konce_replay_init(konce_replay *r);
/* true if n is new and not too old (n = 0 is never valid). */
bool konce_replay_check(const konce_replay *r, uint64_t n);
/* Marks n seen.  Returns false (and changes nothing) if konce_replay_check(n) would be false. */
bool konce_replay_update(konce_replay *r, uint64_t n);

#endif
