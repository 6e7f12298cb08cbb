/* rendezvous.h - the rendezvous server: registrations, introductions, relaying.  Sans-I/O.
 *
 * Any publicly reachable node can run one.  Peers REGISTER (key, candidates, NAT information) and
 * learn their reflexive address from REGISTERED; registering keeps their NAT mapping toward the
 * rendezvous alive.  A peer asks for another by key (INTRO_REQUEST); the rendezvous asks the
 * target first (INTRO_OFFER: who asks, nothing more), and only when it accepts (INTRO_ACCEPT, within
 * KONCE_RDV_OFFER_MS) opens the pair's relay and sends both sides an INTRO with the other's candidates and a delay chosen so that their first probes leave
 * at the same moment and cross in flight:
 *
 *     start   = now + max(rtt_a, rtt_b) / 2 + margin
 *     delay_x = start - (now + rtt_x / 2) = (max(rtt_a, rtt_b) - rtt_x) / 2 + margin
 *
 * where rtt_x is the round-trip time the rendezvous measured to x (from its own REGISTERED to the
 * next REGISTER echoing exactly the stamp it holds for x; any other echo, or one later than
 * KONCE_RDV_RTT_MAX_MS, is no sample; both RTTs are capped there; KONCE_RDV_RTT_DEFAULT_MS until
 * measured) and now + rtt_x / 2 is when the INTRO reaches x.  It also relays opaque payloads between introduced pairs (relay.h).
 *
 * Abuse: the registration table is a konce_khtab (node/base/khtab.h), a fixed array allocated once
 * (slots), indexed by a keyed hash of the public key; a key lives in one of the 8 slots from
 * there, so a lookup touches at most 8 entries, never the whole table.  A new key takes a free or
 * expired slot of its run, else it is refused: live registrations are never evicted, so a flood of
 * forged registrations can fill free slots but cannot push out honest peers, who keep refreshing.
 * Every REGISTER and INTRO_REQUEST is charged to its source address (node/base/ratelimit.h) and dropped
 * when overdrawn; a REGISTER for a new key is also charged to a second, slower bucket of its source
 * (KONCE_RDV_NEW_*), so one address cannot fill the table with keys.  Whoever causes work pays for
 * it: an INTRO_REQUEST costs its requester the target's answer too (KONCE_RDV_COST_REQUEST), and
 * the target's INTRO_ACCEPT and INTRO_REFUSE are never charged, so a stranger asking for B again
 * and again spends its own budget, never B's (B's REGISTER and its own requests stay served).  An
 * answer does something only for an offer this rendezvous made and still holds (the target's key,
 * from its registered address, with the offer's id; a refusal also for a pair it introduced), once:
 * an unsolicited one is dropped and costs nobody anything (answers_unmatched).  Offers are
 * bounded per requester key (KONCE_RDV_OFFERS_PER_KEY unanswered per KONCE_RDV_OFFER_MS) and per
 * requester source (KONCE_RDV_OFFER_SRC_*), and a pair has one offer at a time; there is no cap
 * per target, which strangers could fill to lock out the target's friends.  A key that did not
 * register (or whose registration expired) is never introduced; requests must come from the address the requester registered from (in the protocol
 * the session authenticates the key instead).  cfg->allow, if set, refuses introductions to
 * requesters it does not know.  A target that refuses an introduction (INTRO_REFUSE, a peer that
 * accepts only keys it knows) makes the rendezvous close the pair's relay and answer the requester
 * with INTRO_FAIL DECLINED.  Nothing is allocated after konce_rendezvous_new().
 *
 * Offers, one per (requester R, target T) pair, in a keyed-hash table like the registrations:
 *
 *   (none) --INTRO_REQUEST from R's registered address, within R's key and source caps-->
 *           PENDING (random intro id, R's txid, time): INTRO_OFFER(R, id) to T
 *   PENDING --INTRO_REQUEST again (a retry; no cap)--> PENDING, txid updated, INTRO_OFFER again
 *   PENDING --INTRO_ACCEPT(T, R, id) from T's registered address--> (none): relay pair, both INTROs
 *   PENDING --INTRO_REFUSE(T, R, id) from T's registered address--> (none): INTRO_FAIL DECLINED
 *           (R's latest txid) to R
 *   PENDING --KONCE_RDV_OFFER_MS without an answer--> (none) (the slot is free for reuse)
 * Invariant: every INTRO and every INTRO_FAIL DECLINED answers a PENDING offer (or, for a refusal
 * after the INTRO, a relay pair that an accepted offer opened) that a paid INTRO_REQUEST made.
 *
 * A REGISTER for a live key from a new address moves the registration there: that is how a peer
 * whose NAT rebound is found again.  Carried bare (as in the simulator tests) anyone could move
 * anyone's registration; carried on a session, as designed, only the key's holder can.  The node
 * must not run this core on bare datagrams.
 */
#ifndef KONCE_RENDEZVOUS_H
#define KONCE_RENDEZVOUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/rdvwire.h"
#include "nat/relay.h"
#include "node/base/env.h"

enum {
	KONCE_RDV_NEW_COST = 4,   /* a new registration costs this in its source's second bucket, */
	KONCE_RDV_NEW_BURST = 32, /* which holds this and refills 1 a second: 8 keys at once, then 1/4 s */
	/* Per-source budget (cfg rl_rate, rl_burst): a REGISTER costs 1; an INTRO_REQUEST 4, its own
	 * work (2) and the target's INTRO_ACCEPT or INTRO_REFUSE it provokes (2), which are free. */
	KONCE_RDV_COST_REGISTER = 1,
	KONCE_RDV_COST_REQUEST = 4,
	/* Pending offers: a requester key makes at most this many new ones per KONCE_RDV_OFFER_MS
	 * that are still unanswered (so it holds at most twice as many: offers live that long), */
	KONCE_RDV_OFFERS_PER_KEY = 8,
	/* and a requester source at most this burst, refilled this many a second (so at most
	 * 16 + 4 x 5 = 36 pending at once), whatever cfg's per-source budget. */
	KONCE_RDV_OFFER_SRC_BURST = 16,
	KONCE_RDV_OFFER_SRC_RATE = 4,
};

typedef struct konce_rendezvous konce_rendezvous;

typedef struct konce_rendezvous_cfg {
	const konce_env *env;    /* NULL = konce_env_default() */
	unsigned slots;          /* registrations; 0 = 4096, rounded up to a power of two (<= 2^20) */
	uint64_t expire_us;      /* 0 = KONCE_RDV_EXPIRE_MS */
	uint32_t refresh_ms;     /* told to peers; 0 = KONCE_RDV_REFRESH_MS */
	unsigned rl_slots;       /* per-source limits: 0 = 4096 */
	uint32_t rl_rate;        /* units per second per source: 0 = 20 (KONCE_RDV_COST_*) */
	uint32_t rl_burst;       /* 0 = 40 */
	unsigned out_ring;       /* queued datagrams; 0 = 256 */
	konce_relay_cfg relay;   /* zeroed = relay.h defaults */
	/* NULL: introduce any registered requester; else only those it returns true for. */
	bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
	void *allow_ctx;
} konce_rendezvous_cfg;

struct konce_rendezvous_counters {
	uint64_t rx, bad, rate_limited, registered, refreshed, table_full, rtt_samples;
	uint64_t intro_requests, intros, intro_unknown, intro_refused, intro_declined, not_registered;
	uint64_t relayed, relay_refused, out_dropped;
	uint64_t claimed_dropped; /* claimed REFLEXIVE candidates never forwarded (only the observed one is) */
	uint64_t rtt_refused;     /* echoes that were not our last stamp, or too late: no RTT sample */
	uint64_t source_full;     /* new registrations refused: their source registered too many keys */
	uint64_t offers, offers_dup, offers_full; /* INTRO_OFFERs sent; retries of a pending one; no room */
	uint64_t offers_key_full;    /* new offers refused: the requester key made KONCE_RDV_OFFERS_PER_KEY */
	uint64_t offers_source_full; /* new offers refused: the requester source's offer bucket is empty */
	uint64_t rate_limited_requests; /* the INTRO_REQUESTs among rate_limited (the rest are REGISTERs) */
	uint64_t answers_unmatched;  /* INTRO_ACCEPT/REFUSE matching no pending offer (or open pair): dropped */
};

/* 0, -EINVAL, -ENOMEM. */
int konce_rendezvous_new(konce_rendezvous **out, const konce_rendezvous_cfg *cfg);
void konce_rendezvous_free(konce_rendezvous *r);
void konce_rendezvous_input(konce_rendezvous *r, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
/* Next datagram to send; false when none. */
bool konce_rendezvous_poll(konce_rendezvous *r, uint8_t buf[KONCE_RDV_MAX_MSG], size_t *len, konce_addr *to);

/* Live registrations (a full scan: for tests and status, not the packet path). */
size_t konce_rendezvous_count(const konce_rendezvous *r, uint64_t now);
/* The size of the registration table (slots rounded up to a power of two): the most live
 * registrations there can ever be. */
size_t konce_rendezvous_capacity(const konce_rendezvous *r);
/* The registered reflexive address and RTT (us, 0 if unmeasured) of key.  0 or -ENOENT. */
int konce_rendezvous_lookup(const konce_rendezvous *r, const uint8_t key[KONCE_WIRE_KEY], uint64_t now,
			    konce_addr *addr, uint64_t *rtt);
/* The delays of an introduction between peers with these RTTs (us); see the formula above. */
void konce_rendezvous_delays(uint64_t rtt_a, uint64_t rtt_b, uint32_t *delay_a, uint32_t *delay_b);
const struct konce_rendezvous_counters *konce_rendezvous_counters(const konce_rendezvous *r);
const konce_relay *konce_rendezvous_relay(const konce_rendezvous *r);

#endif
