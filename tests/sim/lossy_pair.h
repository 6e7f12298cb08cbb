/* lossy_pair.h - the message tests' lossy pair (test_msg_reliable.c, test_msg_exactly_once.c): node
 * A at 10.0.0.1:40000 and node B at 192.0.2.1:7807 (node_harness.h, both cores from cfg) joined by
 * a link with 10% loss, 5% duplication, 25% reordering (held back up to 30 ms), +-5 ms jitter,
 * 20 ms one way, 4 MB/s with a 256 kB queue; B handles klass with on_message, A knows B's address.
 * And what they send: lengths log-uniform by octave over 1 B .. 1 MiB (lossy_len) filled with a
 * seeded pattern (lossy_pat: byte k of message i; lossy_fill writes it, lossy_intact checks it).
 * And how A sends them (lossy_tx): at most a window of messages queued, the next queued when one's
 * outcome comes, as an application would.  Include it after <cmocka.h>: it asserts. */
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

/* Frees both nodes: nothing either allocated survives them. */
static inline void lossy_pair_close(sim *s, ncnode *a, ncnode *b)
{
	const konce_env *ea = sim_host_env(a->h), *eb = sim_host_env(b->h);
	ncnode_free(a);
	ncnode_free(b);
	SIM_ASSERT_EQ(s, sim_env_live(ea), 0);
	SIM_ASSERT_EQ(s, sim_env_live(eb), 0);
}

typedef struct lossy_tx lossy_tx;

/* The outcome context of message i. */
typedef struct lossy_slot {
	lossy_tx *tx;
	unsigned i;
} lossy_slot;

/* A's sender: messages 0 .. nmsg - 1 to B in order, of len[i] bytes that fill() writes into buf,
 * at most window of them with no outcome yet.  outcome() is told each message's outcome; it returns
 * false for one it does not count (the window is not moved).  Set every field but next and queued,
 * then lossy_tx_more() queues the first window. */
struct lossy_tx {
	sim *s;
	ncnode *a, *b;
	uint16_t klass;
	unsigned nmsg, window;
	const uint32_t *len;
	uint8_t *buf;
	lossy_slot *slot; /* nmsg of them */
	void (*fill)(lossy_tx *tx, unsigned i);
	bool (*outcome)(lossy_tx *tx, unsigned i, int outcome, int reason);
	void *ctx; /* the test's */
	unsigned next;   /* next message to queue */
	unsigned queued; /* queued, no outcome yet */
};

static inline void lossy_tx_more(lossy_tx *tx);

static inline void lossy_tx_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	lossy_slot *sl = ctx;
	lossy_tx *tx = sl->tx;
	(void)data, (void)len;
	if (!tx->outcome(tx, sl->i, outcome, reason))
		return;
	tx->queued--;
	lossy_tx_more(tx);
}

static inline void lossy_tx_more(lossy_tx *tx)
{
	/* generous deadlines: the endpoint's own retries and message timeout decide */
	konce_send_opts o = {.connect_timeout_ms = 30000};
	while (tx->next < tx->nmsg && tx->queued < tx->window) {
		unsigned i = tx->next++;
		tx->fill(tx, i);
		tx->slot[i] = (lossy_slot){tx, i};
		SIM_ASSERT_EQ(tx->s, ncnode_send(tx->a, ncnode_pk(tx->b), tx->klass, tx->buf, tx->len[i], &o,
						 lossy_tx_outcome, &tx->slot[i], NULL),
			      0);
		tx->queued++;
	}
}

#endif
