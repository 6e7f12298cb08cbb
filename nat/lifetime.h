/* lifetime.h - learn how long the NAT keeps an idle UDP mapping, by experiment.  Sans-I/O.
 *
 * A fixed keepalive is either too frequent (a NAT that keeps mappings 5 minutes is pinged every
 * 20 s) or too rare (one that keeps them 15 s loses them).  This core finds a lower bound L of the
 * mapping lifetime, inside [min, max], and derives the keepalive from it: safety% x L.
 *
 * One experiment: from a dedicated probe socket the caller sends LIFE_REQ(nonce, T) to a
 * rendezvous (konce_lifetime_poll); the rendezvous answers LIFE_ACK at once and three LIFE_PROBEs T
 * later (0, 200, 400 ms apart).  The probe socket sends nothing else, so the mapping is idle from
 * the last packet through it (the REQ out, or the ACK in, whichever the NAT counts) until the
 * probe: a probe that arrives proves lifetime >= the measured gap (>= T); none (after T plus the
 * copies plus a grace) means the NAT dropped it, i.e. lifetime < T, or that every copy was lost,
 * which one repetition at the same T separates (two failures in a row at T: lifetime < T).
 *
 * Search: lo = the longest proven gap (0: none), hi = the shortest confirmed failure (0: none).
 * While hi is unknown T doubles from start up to max; then T = (lo + hi) / 2; it ends when
 * lo >= max, when hi <= min (the lifetime is below the bounds) or when hi - lo <= lo / 4.
 *
 *                  timer: gap over                ACK                 PROBE with the nonce
 *      +-- WAIT ---------------------> REQUEST ---------> SILENT ----------------------+
 *      |    ^  ^                         |  |               |                           |
 *      |    |  | no ACK in 2 s: wait     |  | ACK BUSY      | timer: no probe by        |
 *      |    |  +- until its probes  -----+  | (30 s)        | T + copies + grace         |
 *      |    |     could have passed         v               v                           v
 *      |    +------------------------ (WAIT) <---- fail: retry T once, then hi = T   success: lo
 *      |                                                                                |
 *      |   search over (konce_lifetime_timer)                                               |
 *      +-----------> LEARNED --timer: revalidate (T = (100+safety)/200 x lo)--> REQUEST |
 *                        ^---------------------------------------------------------------+
 *   (re-validating at 87.5% of lo, not lo itself: a lo measured right at the lifetime would flap)
 *   four REQs in a row unanswered: NO_ANSWER (the rendezvous does not do this), again after the
 *   revalidation interval.  A failed revalidation, or konce_lifetime_rebound(), forgets lo (hi becomes
 *   the bound that failed), drops the keepalive back to the conservative value and searches again.
 *
 * Invariants:
 *  1. 0 < keepalive <= safety% x lo when lo > 0; otherwise keepalive = min(safety% x start,
 *     hi / 2) (the conservative value), and min / 2 when even min failed.
 *  2. lo < hi whenever both are known; lo <= max; a failure only counts after the repetition.
 *  3. At most one request is outstanding, and a new one is sent only after every probe an older
 *     one could have caused has passed, so no stale probe refreshes the mapping mid-experiment.
 *  4. A probe counts only with the nonce of the outstanding request; lo only rises from a probe.
 *  5. Nothing is allocated after konce_lifetime_new().
 *
 * Caveats (the caller's part, docs/TRAVERSAL.md "Mapping lifetime"): the result describes the
 * probe socket's mapping, with the NAT's timeout for a flow that has seen traffic both ways.  A
 * NAT that gives flows with more traffic longer timeouts (Linux conntrack's "stream" state) keeps
 * the caller's busier mappings at least as long, which errs on the safe side; one that gave them
 * a shorter timeout than the probe flow's (per port range, per destination) would defeat the
 * measurement until a rebinding or a failed re-validation shows it.
 */
#ifndef KONCE_LIFETIME_H
#define KONCE_LIFETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/env.h"
#include "node/base/wire.h"

typedef struct konce_lifetime konce_lifetime;

typedef struct konce_lifetime_cfg {
	const konce_env *env;   /* NULL = konce_env_default() */
	uint64_t min_us;        /* bounds; 0 = KONCE_LIFE_MIN_MS, KONCE_LIFE_MAX_MS */
	uint64_t max_us;
	uint64_t start_us;      /* first experiment; 0 = KONCE_LIFE_START_MS (clamped into the bounds) */
	uint64_t revalidate_us; /* 0 = KONCE_LIFE_REVALIDATE_MS */
	unsigned safety_pct;    /* keepalive = lo x safety_pct / 100; 0 = 75; at most 95 */
} konce_lifetime_cfg;

enum konce_lifetime_state {
	KONCE_LIFE_WAIT = 1,  /* searching: the next experiment is due at the timer */
	KONCE_LIFE_REQUEST,   /* LIFE_REQ sent, waiting for LIFE_ACK */
	KONCE_LIFE_SILENT,    /* ACK heard, the mapping must stay idle until the probe */
	KONCE_LIFE_LEARNED,   /* the search ended; revalidation at the timer */
	KONCE_LIFE_NO_ANSWER, /* the rendezvous never answered; retried at the timer */
};

typedef struct konce_lifetime_status {
	enum konce_lifetime_state state;
	bool learned;         /* a search has ended and nothing since contradicted it */
	bool below_min;       /* even min failed: the lifetime is below the bounds */
	uint64_t lo_us, hi_us; /* proven lower bound, confirmed upper bound (0 = unknown) */
	uint64_t keepalive_us;
	uint64_t testing_us;  /* T of the experiment in progress or next */
	uint64_t experiments, successes, failures, retries, no_acks, rebounds;
} konce_lifetime_status;

/* 0, -EINVAL (bounds out of order or zero safety after defaults), -ENOMEM.  The first experiment
 * is due at now. */
int konce_lifetime_new(konce_lifetime **out, const konce_lifetime_cfg *cfg, uint64_t now);
void konce_lifetime_free(konce_lifetime *l);
/* A datagram that arrived on the probe socket from the rendezvous (the caller checks the source). */
void konce_lifetime_input(konce_lifetime *l, const uint8_t *pkt, size_t len, uint64_t now);
/* The probe socket's mapping as the rendezvous saw it (the address in the last LIFE_ACK that
 * answered our REQ): 0 and *x, or -ENOENT before any. */
int konce_lifetime_mapping(const konce_lifetime *l, konce_addr *x);
/* The next datagram to send from the probe socket to the rendezvous; false when none. */
bool konce_lifetime_poll(konce_lifetime *l, uint8_t buf[KONCE_LIFE_REQ_SIZE], size_t *len);
uint64_t konce_lifetime_next_timer(const konce_lifetime *l);
void konce_lifetime_timer(konce_lifetime *l, uint64_t now);
/* A mapping the keepalive should have held was lost (the reflexive address changed, a direct path
 * died): drop back to the conservative keepalive and learn again. */
void konce_lifetime_rebound(konce_lifetime *l, uint64_t now);
/* The keepalive interval for the mappings the caller holds open (us). */
uint64_t konce_lifetime_keepalive(const konce_lifetime *l);
void konce_lifetime_status_get(const konce_lifetime *l, konce_lifetime_status *st);
const char *konce_lifetime_state_name(enum konce_lifetime_state s);

#endif
