/* pacer.c - token-bucket pacing (see pacer.h). */
#include "node/transport/pacer.h"

#define SCALE 1000000ull

void konce_pacer_init(konce_pacer *p, uint64_t burst_bytes, uint64_t now)
{
	p->rate = 0;
	p->burst = burst_bytes;
	p->tokens = burst_bytes * SCALE;
	p->last = now;
}

static void refill(konce_pacer *p, uint64_t now)
{
	if (now <= p->last)
		return;
	uint64_t cap = p->burst * SCALE, dt = now - p->last;
	p->last = now;
	if (p->rate == 0 || dt >= cap / p->rate + 1) {
		p->tokens = cap; /* long enough to fill the bucket (and rate * dt might overflow) */
		return;
	}
	p->tokens += p->rate * dt;
	if (p->tokens > cap)
		p->tokens = cap;
}

void konce_pacer_set_rate(konce_pacer *p, uint64_t rate_bytes_per_s, uint64_t now)
{
	refill(p, now);
	p->rate = rate_bytes_per_s;
}

void konce_pacer_set_burst(konce_pacer *p, uint64_t burst_bytes)
{
	p->burst = burst_bytes;
	if (p->tokens > burst_bytes * SCALE)
		p->tokens = burst_bytes * SCALE;
}

uint64_t konce_pacer_next_time(konce_pacer *p, uint64_t bytes, uint64_t now)
{
	refill(p, now);
	uint64_t need = (bytes < p->burst ? bytes : p->burst) * SCALE;
	if (p->rate == 0 || p->tokens >= need)
		return now;
	return now + (need - p->tokens + p->rate - 1) / p->rate;
}

void konce_pacer_on_sent(konce_pacer *p, uint64_t bytes, uint64_t now)
{
	refill(p, now);
	uint64_t spend = bytes * SCALE;
	p->tokens = p->tokens > spend ? p->tokens - spend : 0;
}
