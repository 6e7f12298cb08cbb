/* lossy_pair.h - the message tests' lossy pair (test_msg_reliable.c, test_msg_exactly_once.c): node
 * A at 10.0.0.1:40000 and node B at 192.0.2.1:7807 (node_harness.h, both cores from cfg) joined by
 * a link with 10% loss, 5% duplication, 25% reordering (held back up to 30 ms), +-5 ms jitter,
 * 20 ms one way, 4 MB/s with a 256 kB queue; B handles klass with on_message, A knows B's address.
 * And what they send: lengths log-uniform by octave over 1 B .. 1 MiB (lossy_len) filled with a
 * seeded pattern (lossy_pat: byte k of message i; lossy_fill writes it, lossy_intact checks it).  Include it after <cmocka.h>: it asserts. */
#ifndef KONCE_SIM_LOSSY_PAIR_H
#define KONCE_SIM_LOSSY_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "tests/sim/node_harness.h"
#include "tests/sim/sim.h"

static inline uint8_t lossy_pat(uint64_t seed, unsigned i, uint64_t k)
{
	uint64_t x = (seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)i << 40) ^ k;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint8_t)(x >> 56);
}

/* Writes message i's pattern into buf[first, len). */
static inline void lossy_fill(uint8_t *buf, uint64_t seed, unsigned i, uint64_t first, uint64_t len)
{
	for (uint64_t k = first; k < len; k++)
		buf[k] = lossy_pat(seed, i, k);
}

/* Whether data[first, len) is message i's pattern. */
static inline bool lossy_intact(const uint8_t *data, uint64_t seed, unsigned i, uint64_t first, uint64_t len)
{
	for (uint64_t k = first; k < len; k++)
		if (data[k] != lossy_pat(seed, i, k))
			return false;
	return true;
}

/* Log-uniform by octave on [1, 2^20]: an octave [2^e, 2^(e+1)] of 20, then uniform inside it. */
static inline uint32_t lossy_len(sim *s)
{
	unsigned e = (unsigned)sim_rand_below(s, 20);
	return (1u << e) + (uint32_t)sim_rand_below(s, (1u << e) + 1);
}

static inline void lossy_pair_open(sim *s, ncnode *a, ncnode *b, const konce_nodecore_config *cfg, uint16_t klass,
				   konce_handler_fn on_message, void *ctx)
{
	sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 5 * SIM_MS, .loss = 0.10, .duplicate = 0.05,
			     .reorder = 0.25, .reorder_us = 30 * SIM_MS, .rate = 4000000, .queue_bytes = 256000};
	SIM_ASSERT_EQ(s, ncnode_init(a, s, NULL, "10.0.0.1", 40000, cfg), 0);
	SIM_ASSERT_EQ(s, ncnode_init(b, s, NULL, "192.0.2.1", 7807, cfg), 0);
	sim_link_set_both(s, a->h, b->h, &link);
	SIM_ASSERT_EQ(s, konce_nodecore_handle(b->core, klass, on_message, ctx), 0);
	ncnode_learn(a, b);
}

#endif
