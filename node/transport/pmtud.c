/* pmtud.c - the PLPMTUD state machine (see pmtud.h). */
#include "node/transport/pmtud.h"

#include <string.h>

#include "node/base/wire.h"

static uint16_t clamp_max(size_t max)
{
	if (max < KONCE_PMTU_BASE)
		return KONCE_PMTU_BASE;
	return (uint16_t)(max > KONCE_PMTU_MAX ? KONCE_PMTU_MAX : max);
}

void konce_pmtud_init(konce_pmtud *p)
{
	memset(p, 0, sizeof *p);
	p->plpmtu = KONCE_PMTU_BASE;
	p->max = KONCE_PMTU_BASE;
}

static void to_base(konce_pmtud *p)
{
	p->state = KONCE_PMTUD_BASE;
	p->plpmtu = KONCE_PMTU_BASE;
	p->probed = 0;
	p->retry = 0;
	p->suspect = 0;
	p->probe_losses = 0;
	p->big_lost = 0;
	p->eager = false;
}

/* A new path's search: BASE, whose first probe is the upper bound itself (see pmtud.h). */
static void to_fresh_base(konce_pmtud *p)
{
	to_base(p);
	p->eager = p->max > KONCE_PMTU_BASE;
}

void konce_pmtud_start(konce_pmtud *p, size_t max, uint64_t now)
{
	(void)now;
	if (p->state != KONCE_PMTUD_DISABLED)
		return;
	p->max = clamp_max(max);
	to_fresh_base(p);
}

void konce_pmtud_reset(konce_pmtud *p, size_t max, uint64_t now)
{
	(void)now;
	p->max = clamp_max(max);
	p->plpmtu = KONCE_PMTU_BASE;
	if (p->state != KONCE_PMTUD_DISABLED)
		to_fresh_base(p);
}

static void search(konce_pmtud *p)
{
	p->state = KONCE_PMTUD_SEARCHING;
	p->hi = p->max;
	p->tried_max = false;
	p->probe_losses = 0;
}

static void complete(konce_pmtud *p, uint64_t now)
{
	p->state = KONCE_PMTUD_SEARCH_COMPLETE;
	p->eager = false;
	p->again_at = now + (uint64_t)KONCE_PMTU_RAISE_MS * 1000;
}

void konce_pmtud_keep(const konce_pmtud *p, konce_pmtud_kept *k)
{
	k->probes_sent += p->probes_sent;
	k->probes_lost += p->probes_lost;
	k->blackholes += p->blackholes;
	if (p->state == KONCE_PMTUD_DISABLED)
		return; /* it never ran: k is as it was */
	k->max = p->max;
	k->plpmtu = p->state == KONCE_PMTUD_SEARCH_COMPLETE && !p->suspect ? p->plpmtu : 0;
}

bool konce_pmtud_kept_reset(konce_pmtud_kept *k, size_t max)
{
	if (!k->max)
		return false;
	k->max = clamp_max(max);
	k->plpmtu = 0;
	return true;
}

enum konce_pmtud_state konce_pmtud_kept_state(const konce_pmtud_kept *k)
{
	if (k->plpmtu)
		return KONCE_PMTUD_SEARCH_COMPLETE;
	return k->max ? KONCE_PMTUD_BASE : KONCE_PMTUD_DISABLED;
}

void konce_pmtud_resume(konce_pmtud *p, const konce_pmtud_kept *k, size_t max, uint64_t now)
{
	if (p->state != KONCE_PMTUD_DISABLED)
		return;
	konce_pmtud_start(p, max, now);
	/* A new search if none was kept, or if the bound moved: the route may have (the kept
	 * PLPMTU <= the kept bound, so invariant 1 holds when it did not).  Under the same bound
	 * with no size kept, the last search did not complete or suspected a black hole (or the
	 * path changed while shrunk): BASE first, no eager probe. */
	if (k->max == p->max && k->plpmtu < KONCE_PMTU_BASE)
		p->eager = false;
	if (k->plpmtu < KONCE_PMTU_BASE || k->max != p->max)
		return;
	p->plpmtu = k->plpmtu; /* acknowledged in an earlier channel on this path (invariant 2) */
	complete(p, now);
}

/* SEARCHING: the next size to try; max first, then the upper middle of (plpmtu, hi]. */
static uint16_t candidate(const konce_pmtud *p)
{
	if (!p->tried_max)
		return p->hi;
	return (uint16_t)((p->plpmtu + p->hi + 1) / 2);
}

size_t konce_pmtud_probe_due(konce_pmtud *p, uint64_t now)
{
	if (p->probed)
		return 0;
	if (p->retry)
		return p->retry;
	if (p->suspect)
		return p->suspect;
	switch (p->state) {
	case KONCE_PMTUD_BASE:
		return p->eager ? p->max : KONCE_PMTU_BASE;
	case KONCE_PMTUD_SEARCHING:
		return candidate(p);
	case KONCE_PMTUD_SEARCH_COMPLETE:
		if (now < p->again_at || p->plpmtu >= p->max)
			return 0;
		search(p);
		p->tried_max = true; /* max failed before: go straight to halving */
		return candidate(p);
	case KONCE_PMTUD_ERROR:
		if (now < p->again_at)
			return 0;
		to_base(p);
		return KONCE_PMTU_BASE;
	default:
		return 0;
	}
}

void konce_pmtud_probe_sent(konce_pmtud *p, size_t size, uint64_t pn, uint64_t now, uint64_t timeout_us)
{
	uint64_t min = (uint64_t)KONCE_PMTU_PROBE_MIN_MS * 1000;
	p->probed = (uint16_t)size;
	p->retry = 0;
	p->probe_pn = pn;
	p->probe_deadline = now + (timeout_us > min ? timeout_us : min);
	p->probes_sent++;
	if (p->state == KONCE_PMTUD_SEARCHING && size == p->hi)
		p->tried_max = true;
}

bool konce_pmtud_on_ack(konce_pmtud *p, const konce_ack *a, uint64_t now)
{
	if (!p->probed || !konce_ack_contains(a, p->probe_pn))
		return false;
	uint16_t size = p->probed;
	p->probed = 0;
	p->probe_losses = 0;
	if (p->suspect) {
		/* a false alarm: the path still carries the PLPMTU (the losses were congestion) */
		p->plpmtu = p->suspect;
		p->suspect = 0;
		return true;
	}
	switch (p->state) {
	case KONCE_PMTUD_BASE:
		if (size > KONCE_PMTU_BASE) {
			/* the eager probe of max: the path carries max, hence BASE */
			p->plpmtu = size;
			complete(p, now);
			return true;
		}
		if (p->max > KONCE_PMTU_BASE)
			search(p);
		else
			complete(p, now);
		return false;
	case KONCE_PMTUD_SEARCHING: {
		bool grew = size > p->plpmtu;
		if (grew)
			p->plpmtu = size;
		if (p->plpmtu >= p->hi)
			complete(p, now);
		return grew;
	}
	default:
		return false;
	}
}

bool konce_pmtud_on_loss(konce_pmtud *p, size_t nlost_big, size_t nacked_big, uint64_t now)
{
	(void)now;
	if (p->state == KONCE_PMTUD_DISABLED)
		return false;
	if (nacked_big) {
		p->big_lost = 0; /* the path carries large packets: a loss among them is congestion */
		return false;
	}
	if (!nlost_big)
		return false;
	size_t run = p->big_lost + nlost_big;
	p->big_lost = (uint8_t)(run > 255 ? 255 : run);
	if (p->big_lost < KONCE_PMTU_BLACKHOLE_LOSSES || p->plpmtu <= KONCE_PMTU_BASE || p->suspect)
		return false;
	/* Suspected: data goes at BASE at once, and a probe of the PLPMTU decides (a burst of
	 * congestion loss also loses large packets in a row). */
	p->suspect = p->plpmtu;
	p->plpmtu = KONCE_PMTU_BASE;
	p->probed = 0;
	p->retry = 0;
	p->probe_losses = 0;
	p->big_lost = 0;
	return true;
}

bool konce_pmtud_tick(konce_pmtud *p, uint64_t now)
{
	if (!p->probed || now < p->probe_deadline)
		return false;
	uint16_t size = p->probed;
	p->probed = 0;
	p->probes_lost++;
	if (p->state == KONCE_PMTUD_BASE && p->eager && !p->suspect) {
		/* the eager probe of max is tried once: BASE confirms next, then the search as usual */
		p->eager = false;
		p->probe_losses = 0;
		return true;
	}
	if (++p->probe_losses < KONCE_PMTU_MAX_PROBES) {
		p->retry = size; /* the same size again */
		return false;
	}
	p->probe_losses = 0;
	if (p->suspect) {
		p->blackholes++; /* confirmed: search again from the floor */
		to_base(p);
		return true;
	}
	switch (p->state) {
	case KONCE_PMTUD_BASE:
		p->state = KONCE_PMTUD_ERROR;
		p->again_at = now + (uint64_t)KONCE_PMTU_ERROR_RETRY_MS * 1000;
		return true;
	case KONCE_PMTUD_SEARCHING:
		p->tried_max = true;
		if (size > p->plpmtu && size - 1 < p->hi)
			p->hi = (uint16_t)(size - 1);
		if (p->plpmtu >= p->hi)
			complete(p, now);
		return true;
	default:
		return false;
	}
}

uint64_t konce_pmtud_next_timer(const konce_pmtud *p, uint64_t now)
{
	if (p->probed)
		return p->probe_deadline;
	if (p->retry || p->suspect)
		return now;
	switch (p->state) {
	case KONCE_PMTUD_BASE:
	case KONCE_PMTUD_SEARCHING:
		return now;
	case KONCE_PMTUD_SEARCH_COMPLETE:
		return p->plpmtu >= p->max ? UINT64_MAX : p->again_at;
	case KONCE_PMTUD_ERROR:
		return p->again_at;
	default:
		return UINT64_MAX;
	}
}
