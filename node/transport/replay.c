/* replay.c - anti-replay window (see replay.h), after RFC 6479.
 *
 * A ring of KONCE_REPLAY_WORDS 64-bit words; number n lives in bit n % 64 of word (n / 64) % WORDS.
 * Invariants, with T = top and W = T / 64 (the word holding top):
 *   1. For each word index w in [W - WORDS + 1, W] (all distinct modulo WORDS), slot w % WORDS holds
 *      exactly the numbers of word w that were accepted.
 *   2. No bit above T is set, so numbers above top need no lookup.
 *   3. Every n with 0 < T - n <= KONCE_REPLAY_WINDOW has word index >= W - (WORDS - 1), so invariant
 *      1 covers it; that is why the window is (WORDS - 1) * 64 and not WORDS * 64.
 * Advancing top clears only the slots of the words it skips into, at most WORDS of them, so a
 * forward jump of any size costs O(WORDS).
 */
#include "node/transport/replay.h"

#include <string.h>

_Static_assert((KONCE_REPLAY_WORDS & (KONCE_REPLAY_WORDS - 1)) == 0, "ring size must be a power of two");

static inline uint64_t *word_of(konce_replay *r, uint64_t n)
{
	return &r->bitmap[(n >> 6) & (KONCE_REPLAY_WORDS - 1)];
}

void konce_replay_init(konce_replay *r) { memset(r, 0, sizeof(*r)); }

bool konce_replay_check(const konce_replay *r, uint64_t n)
{
	if (n == 0)
		return false;
	if (n > r->top)
		return true;
	if (r->top - n > KONCE_REPLAY_WINDOW)
		return false;
	uint64_t w = r->bitmap[(n >> 6) & (KONCE_REPLAY_WORDS - 1)];
	return !((w >> (n & 63)) & 1);
}

bool konce_replay_update(konce_replay *r, uint64_t n)
{
	if (!konce_replay_check(r, n))
		return false;
	if (n > r->top) {
		uint64_t from = r->top >> 6, skip = (n >> 6) - from;
		if (skip > KONCE_REPLAY_WORDS)
			skip = KONCE_REPLAY_WORDS;
		for (uint64_t i = 1; i <= skip; i++)
			r->bitmap[(from + i) & (KONCE_REPLAY_WORDS - 1)] = 0;
		r->top = n;
	}
	*word_of(r, n) |= (uint64_t)1 << (n & 63);
	return true;
}
