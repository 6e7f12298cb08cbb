/*
 * netsim/wire_sched.h: the pure part of netsim-wire, netsim's userspace link impairment for
 * kernels without sch_netem.  It decides what happens to each frame (lost, duplicated, sent
 * early, delayed by how much) and keeps the frames in flight in a min-heap ordered by departure
 * time.  No I/O and no clock reads: the caller passes `now` (microseconds) and a seeded RNG, so
 * every decision is reproducible in tests/unit/test_netsim_wire.c.
 *
 * Semantics per direction, chosen to match what tc netem does for netsim:
 *   loss=P       the frame is dropped with probability P
 *   duplicate=P  a surviving frame is sent twice with probability P; each copy draws its own delay
 *   reorder=P    a copy skips the delay with probability P (departs at once, ahead of earlier ones)
 *   delay=D      departure = arrival + D + jitter sample, never before arrival
 *   jitter=J     dist=normal: sigma J, clamped to +-3J; dist=uniform: uniform in [-J, +J]
 * Frames that depart at the same time keep their arrival order (the heap breaks ties by sequence).
 */
#ifndef NETSIM_WIRE_SCHED_H
#define NETSIM_WIRE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define NSW_PPM 1000000u            /* probabilities are in parts per million */
#define NSW_MAX_DELAY_US 60000000ull /* 60 s: more is surely a typo */

enum nsw_dist { NSW_DIST_NORMAL = 0, NSW_DIST_UNIFORM = 1 };

struct nsw_imp {
	uint64_t delay_us;
	uint64_t jitter_us;
	enum nsw_dist dist;
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;
};

/* Direction 0 is A -> B, direction 1 is B -> A. */
struct nsw_conf {
	struct nsw_imp dir[2];
};

struct nsw_rng {
	uint64_t s;
};

void nsw_rng_seed(struct nsw_rng *r, uint64_t seed);
uint64_t nsw_rng_next(struct nsw_rng *r);
/* true with probability ppm / 1e6 (never for 0, always for 1e6) */
int nsw_rng_chance(struct nsw_rng *r, uint32_t ppm);

/*
 * nsw_decide: what to do with a frame that arrived at `now`.  Returns the number of copies to send
 * (0 = lost, 1, or 2 = duplicated) and stores their departure times in when[0..n-1]; *early counts
 * the copies that skipped the delay.
 */
unsigned nsw_decide(const struct nsw_imp *imp, struct nsw_rng *r, uint64_t now, uint64_t when[2],
		    unsigned *early);

/* A bounded min-heap of pending frames.  The caller owns `frame`; the heap only orders it. */
struct nsw_item {
	uint64_t when;
	uint64_t seq;
	void *frame;
	size_t len;
};

struct nsw_heap {
	struct nsw_item *v;
	size_t n, cap;
	uint64_t next_seq;
};

/* Allocates room for cap items up front: the heap never grows.  0 or -ENOMEM. */
int nsw_heap_init(struct nsw_heap *h, size_t cap);
void nsw_heap_free(struct nsw_heap *h);
/* 0, or -ENOBUFS when full (the caller drops the frame: drop-tail). */
int nsw_heap_push(struct nsw_heap *h, uint64_t when, void *frame, size_t len);
/* The earliest item, or NULL when empty. */
const struct nsw_item *nsw_heap_peek(const struct nsw_heap *h);
/* Removes the earliest item into *out if it is due (when <= now): 1, else 0. */
int nsw_heap_pop_due(struct nsw_heap *h, uint64_t now, struct nsw_item *out);

/*
 * Settings text: whitespace-separated KEY=VALUE tokens, '#' to end of line is a comment.  Keys:
 * delay, jitter (40ms, 500us, 1.5s), dist (normal|uniform), loss, duplicate, reorder (1%, 0.5,
 * 100%; up to 4 decimals), each optionally prefixed "ab." or "ba." for one direction only.
 * Parsing starts from an all-zero conf.  0, or -EINVAL with a message in err.
 */
int nsw_conf_parse(struct nsw_conf *c, const char *text, size_t len, char *err, size_t errlen);
/* Writes c as settings text that nsw_conf_parse reads back to the same conf.  Returns the length
 * snprintf would have written. */
int nsw_conf_format(const struct nsw_conf *c, char *out, size_t outlen);

#endif
