/* replay.c - anti-replay window (see replay.h), after RFC 6479.
 *
 * A ring of KONCE_REPLAY_WORDS 64-bit words; number n lives in bit n % 64 of word (n / 64) % WORDS.
 * Invariants, with T = top and W = T / 64 (the word holding top):
 *   1. For each word index w in [W - WORDS + 1, W] (all distinct modulo WORDS), slot w % WORDS holds
 *      exactly the numbers of word w that were accepted.
 *   2. No bit above T is set, so numbers above top need no lookup.
 *   3. Every n with 0 < T - n <= KONCE_REPLAY_WINDOW has word index >= W - (WORDS - 1), so invariant
 *      1 covers it; that is why the window is (WORDS - 1) * 64 and not WORDS * 64.
 *   4. A window widened from a small one (konce_replay_widen) has lo = top - SMALL_WINDOW at the
 *      time, whose word is at or above W - (SMALL_WORDS - 1): the words it copied.  Invariant 1
 *      then holds for every number >= lo, and check() refuses the rest before any lookup.
 * Advancing top clears only the slots of the words it skips into, at most WORDS of them, so a
 * forward jump of any size costs O(WORDS).  konce_replay_small is the same ring with
 * KONCE_REPLAY_SMALL_WORDS words.
 */
#include "node/transport/replay.h"

#include <string.h>

_Static_assert((KONCE_REPLAY_WORDS & (KONCE_REPLAY_WORDS - 1)) == 0, "ring size must be a power of two");
_Static_assert((KONCE_REPLAY_SMALL_WORDS & (KONCE_REPLAY_SMALL_WORDS - 1)) == 0, "ring size must be a power of two");
_Static_assert(KONCE_REPLAY_SMALL_WORDS <= KONCE_REPLAY_WORDS, "the small window is the smaller");

/* The ring of `words` words (a power of two) is the same algorithm at either size. */
static bool check(uint64_t top, uint64_t lo, const uint64_t *bitmap, unsigned words, uint64_t n)
{
	if (n == 0 || n < lo)
		return false;
	if (n > top)
		return true;
	if (top - n > (uint64_t)(words - 1) * 64)
		return false;
	uint64_t w = bitmap[(n >> 6) & (words - 1)];
	return !((w >> (n & 63)) & 1);
}

static void mark(uint64_t *top, uint64_t *bitmap, unsigned words, uint64_t n)
{
	if (n > *top) {
		uint64_t from = *top >> 6, skip = (n >> 6) - from;
		if (skip > words)
			skip = words;
		for (uint64_t i = 1; i <= skip; i++)
			bitmap[(from + i) & (words - 1)] = 0;
		*top = n;
	}
	bitmap[(n >> 6) & (words - 1)] |= (uint64_t)1 << (n & 63);
}

void konce_replay_init(konce_replay *r) { memset(r, 0, sizeof(*r)); }

bool konce_replay_check(const konce_replay *r, uint64_t n)
{
	return check(r->top, r->lo, r->bitmap, KONCE_REPLAY_WORDS, n);
}

bool konce_replay_update(konce_replay *r, uint64_t n)
{
	if (!konce_replay_check(r, n))
		return false;
	mark(&r->top, r->bitmap, KONCE_REPLAY_WORDS, n);
	return true;
}

void konce_replay_small_init(konce_replay_small *r) { memset(r, 0, sizeof(*r)); }

bool konce_replay_small_check(const konce_replay_small *r, uint64_t n)
{
	return check(r->top, 0, r->bitmap, KONCE_REPLAY_SMALL_WORDS, n);
}

bool konce_replay_small_update(konce_replay_small *r, uint64_t n)
{
	if (!konce_replay_small_check(r, n))
		return false;
	mark(&r->top, r->bitmap, KONCE_REPLAY_SMALL_WORDS, n);
	return true;
}

/* Word indexes [W - SMALL_WORDS + 1, W] of top's word W are the ones both rings hold. */
void konce_replay_widen(konce_replay *w, const konce_replay_small *s)
{
	memset(w, 0, sizeof(*w));
	w->top = s->top;
	w->lo = s->top > KONCE_REPLAY_SMALL_WINDOW ? s->top - KONCE_REPLAY_SMALL_WINDOW : 0;
	uint64_t W = s->top >> 6;
	for (uint64_t i = 0; i < KONCE_REPLAY_SMALL_WORDS && i <= W; i++)
		w->bitmap[(W - i) & (KONCE_REPLAY_WORDS - 1)] = s->bitmap[(W - i) & (KONCE_REPLAY_SMALL_WORDS - 1)];
}

void konce_replay_narrow(konce_replay_small *s, const konce_replay *w)
{
	memset(s, 0, sizeof(*s));
	s->top = w->top;
	uint64_t W = w->top >> 6;
	for (uint64_t i = 0; i < KONCE_REPLAY_SMALL_WORDS && i <= W; i++)
		s->bitmap[(W - i) & (KONCE_REPLAY_SMALL_WORDS - 1)] = w->bitmap[(W - i) & (KONCE_REPLAY_WORDS - 1)];
}
