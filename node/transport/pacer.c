/* pacer.c - token-bucket pacing (see pacer.h). */
#include "node/transport/pacer.h"

#define SCALE 1000000ull

void konce_pacer_init(konce_pacer *p, uint64_t burst_bytes, uint64_t now)
{
	*p = (konce_pacer){.burst = burst_bytes, .tokens = (int64_t)(burst_bytes * SCALE), .last = now,
			   .late_start = now};
}

static void refill(konce_pacer *p, uint64_t now)
{
	if (now <= p->last)
		return;
	uint64_t cap = p->burst * SCALE, dt = now - p->last;
	/* what it takes to fill the bucket from here, debt included */
	uint64_t room = p->tokens < 0 ? cap + (uint64_t)-p->tokens : cap - (uint64_t)p->tokens;
	p->last = now;
	if (p->rate == 0 || dt >= room / p->rate + 1) {
		p->tokens = (int64_t)cap; /* long enough to fill the bucket (and rate * dt might overflow) */
		return;
	}
	p->tokens += (int64_t)(p->rate * dt);
	if (p->tokens > (int64_t)cap)
		p->tokens = (int64_t)cap;
}

void konce_pacer_set_rate(konce_pacer *p, uint64_t rate_bytes_per_s, uint64_t now)
{
	refill(p, now);
	p->rate = rate_bytes_per_s;
}

void konce_pacer_set_burst(konce_pacer *p, uint64_t burst_bytes)
{
	p->burst = burst_bytes;
	if (p->tokens > (int64_t)(burst_bytes * SCALE))
		p->tokens = (int64_t)(burst_bytes * SCALE);
}

uint64_t konce_pacer_next_time(konce_pacer *p, uint64_t bytes, uint64_t now)
{
	refill(p, now);
	/* a packet larger than the burst waits for a full bucket, and leaves the rest as debt */
	int64_t need = (int64_t)((bytes < p->burst ? bytes : p->burst) * SCALE);
	if (p->rate == 0 || p->tokens >= need)
		return now;
	return now + ((uint64_t)(need - p->tokens) + p->rate - 1) / p->rate;
}

static void note_late(konce_pacer *p, uint64_t now)
{
	if (now - p->late_start >= KONCE_PACER_LATE_WINDOW_US) {
		p->late[1] = now - p->late_start >= 2 * KONCE_PACER_LATE_WINDOW_US ? 0 : p->late[0];
		p->late[0] = 0;
		p->late_start = now;
	}
	if (!p->release || now <= p->release) {
		p->release = 0;
		return;
	}
	uint64_t late = now - p->release;
	p->release = 0;
	if (late > KONCE_PACER_LATE_MAX_US)
		late = KONCE_PACER_LATE_MAX_US;
	if (late > p->late[0])
		p->late[0] = late;
}

void konce_pacer_wait(konce_pacer *p, uint64_t at) { p->release = at ? at : 1; }

uint64_t konce_pacer_late(const konce_pacer *p) { return p->late[0] > p->late[1] ? p->late[0] : p->late[1]; }

void konce_pacer_on_sent(konce_pacer *p, uint64_t bytes, uint64_t now)
{
	note_late(p, now);
	refill(p, now);
	int64_t spend = (int64_t)(bytes * SCALE);
	/* owe at most one packet's worth beyond an empty bucket (a packet sent without waiting for
	 * the pacer, e.g. a probe, does not push the next ones back by more) */
	int64_t floor = -spend;
	p->tokens = p->tokens - spend > floor ? p->tokens - spend : floor;
}
