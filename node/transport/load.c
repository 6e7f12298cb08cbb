/* load.c - handshake load per period and the proof-of-work demand it sets (curve in load.h). */
#include "node/transport/load.h"

#include "node/base/wire.h"

#define PERIOD_US ((uint64_t)KONCE_LOAD_PERIOD_MS * 1000)

enum { LEVEL_MAX = 1000000 }; /* 1000x capacity: anything beyond reads the same */

static unsigned base_bits(uint32_t level)
{
	if (level < KONCE_LOAD_LEVEL_START)
		return 0;
	if (level < 1000)
		return KONCE_LOAD_BITS_START + (level - KONCE_LOAD_LEVEL_START) *
						       (KONCE_LOAD_BITS_FULL - KONCE_LOAD_BITS_START) /
						       (1000 - KONCE_LOAD_LEVEL_START);
	uint32_t b = KONCE_LOAD_BITS_FULL + (level - 1000) / KONCE_LOAD_STEP_ABOVE;
	return b > KONCE_WIRE_POW_MAX_BITS ? KONCE_WIRE_POW_MAX_BITS : b;
}

/* Half way from level to sample, rounded towards sample, so that a steady load converges to exactly
 * its own level (a steady full load reads 1000, not 999) and an idle server reaches exactly 0. */
static uint32_t ewma(uint32_t level, uint32_t sample)
{
	if (sample >= level)
		return level + (sample - level + 1) / 2;
	return level - (level - sample + 1) / 2;
}

void konce_load_init(konce_load *l, uint64_t capacity_per_period, uint64_t now_us)
{
	l->capacity = capacity_per_period ? capacity_per_period : 1;
	l->period_start = now_us;
	l->used = 0;
	l->level = 0;
	l->bits = 0;
	l->overloaded = 0;
	l->proven_used = 0;
	l->proven_level = 0;
}

/* After each closed period: how many in a row have ended with the curve of proven work alone
 * above the base cap. */
static void surge_step(konce_load *l, uint32_t proven_level)
{
	if (base_bits(proven_level) <= KONCE_LOAD_BITS_BASE_MAX)
		l->overloaded = 0;
	else if (l->overloaded < UINT32_MAX)
		l->overloaded++;
}

/* Closes every period that has ended by now: the current one with what it used, then each period
 * skipped without a call as an empty one (each halves the level). */
static void advance(konce_load *l, uint64_t now_us)
{
	if (now_us < l->period_start || now_us - l->period_start < PERIOD_US)
		return;
	uint64_t k = (now_us - l->period_start) / PERIOD_US;
	unsigned __int128 sample = (unsigned __int128)l->used * 1000 / l->capacity;
	uint32_t level = ewma(l->level, sample > LEVEL_MAX ? LEVEL_MAX : (uint32_t)sample);
	sample = (unsigned __int128)l->proven_used * 1000 / l->capacity;
	uint32_t proven = ewma(l->proven_level, sample > LEVEL_MAX ? LEVEL_MAX : (uint32_t)sample);
	surge_step(l, proven);
	/* each empty period at least halves the level: from LEVEL_MAX, 0 within 21 of them */
	for (uint64_t i = 1; i < k && (level || proven); i++) {
		level = ewma(level, 0);
		proven = ewma(proven, 0);
		surge_step(l, proven);
	}
	l->level = level;
	l->proven_level = proven;
	l->proven_used = 0;
	l->bits = (uint8_t)base_bits(level);
	l->used = 0;
	l->period_start += k * PERIOD_US;
}

void konce_load_charge(konce_load *l, unsigned units, uint64_t now_us)
{
	advance(l, now_us);
	l->used += units;
}

void konce_load_charge_proven(konce_load *l, unsigned units, uint64_t now_us)
{
	advance(l, now_us);
	l->used += units;
	l->proven_used += units;
}

unsigned konce_load_bits(konce_load *l, unsigned overdraft, uint64_t now_us)
{
	advance(l, now_us);
	unsigned b = l->bits;
	if (!overdraft) {
		uint32_t surge = l->overloaded / KONCE_LOAD_SURGE_PERIODS;
		unsigned cap = surge >= KONCE_LOAD_BITS_SURGE_MAX - KONCE_LOAD_BITS_BASE_MAX
				       ? KONCE_LOAD_BITS_SURGE_MAX
				       : KONCE_LOAD_BITS_BASE_MAX + surge;
		return b > cap ? cap : b;
	}
	if (b < KONCE_LOAD_BITS_OVERDRAWN)
		b = KONCE_LOAD_BITS_OVERDRAWN;
	b += KONCE_LOAD_BITS_PER_OVERDRAFT * (overdraft > 15 ? 15 : overdraft);
	return b > KONCE_LOAD_BITS_MAX ? KONCE_LOAD_BITS_MAX : b;
}
