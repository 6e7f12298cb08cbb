/* lifesrv.h - the rendezvous side of mapping lifetime experiments (lifetime.h).  Sans-I/O.
 *
 * A LIFE_REQ(nonce, T) from address A is answered at once with LIFE_ACK to A, and T later with
 * KONCE_LIFE_COPIES x LIFE_PROBE to A, KONCE_LIFE_COPY_GAP_MS apart.  The rendezvous is a public
 * server, so everything is bounded and nothing is remembered per requester beyond the pending
 * probes:
 *   - The timer queue is a fixed binary heap (cfg.queue entries, allocated once): a request that
 *     finds it full gets an ACK with KONCE_LIFE_F_BUSY and no probe.
 *   - Every request is charged to its source (node/base/ratelimit.h: IPv4 address or IPv6 /64) and
 *     dropped unanswered when the source is overdrawn: by default 4 requests at once, then one
 *     every 4 s, so one source can hold at most about T / 4 s entries of the queue.
 *   - T is capped at KONCE_LIFE_MAX_DELAY_MS.
 *   - What a request causes (16 + 3 x 16 bytes) is never more than the request (64 bytes): a
 *     forged source buys no amplification, only a delayed reflection of the same size.
 * Outgoing datagrams wait in a bounded ring; when it is full they are dropped and counted.
 */
#ifndef KONCE_LIFESRV_H
#define KONCE_LIFESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/env.h"
#include "node/base/wire.h"

typedef struct konce_lifesrv konce_lifesrv;

typedef struct konce_lifesrv_cfg {
	const konce_env *env; /* NULL = konce_env_default() */
	unsigned queue;       /* pending probe series; 0 = 4096 */
	unsigned rl_slots;    /* per-source buckets; 0 = 4096 */
	uint32_t rl_rate;     /* units per second per source: 0 = 1 (a request costs 4) */
	uint32_t rl_burst;    /* 0 = 16 */
} konce_lifesrv_cfg;

struct konce_lifesrv_counters {
	uint64_t rx, bad, rate_limited, busy, queued, probes, out_dropped;
};

/* 0, -EINVAL, -ENOMEM. */
int konce_lifesrv_new(konce_lifesrv **out, const konce_lifesrv_cfg *cfg);
void konce_lifesrv_free(konce_lifesrv *s);
/* A datagram whose byte 0 is KONCE_RDV_LIFE_REQ (anything else is counted bad). */
void konce_lifesrv_input(konce_lifesrv *s, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
bool konce_lifesrv_poll(konce_lifesrv *s, uint8_t buf[KONCE_LIFE_ACK_SIZE], size_t *len, konce_addr *to);
uint64_t konce_lifesrv_next_timer(const konce_lifesrv *s);
void konce_lifesrv_timer(konce_lifesrv *s, uint64_t now);
size_t konce_lifesrv_pending(const konce_lifesrv *s);
const struct konce_lifesrv_counters *konce_lifesrv_counters(const konce_lifesrv *s);

#endif
