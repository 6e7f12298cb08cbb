/* load.h - the server's handshake load and the proof-of-work demand that follows from it.
 *
 * The server charges cost units for handshake work as it does it (KONCE_COST_*), and compares the
 * units spent in each KONCE_LOAD_PERIOD_MS against its capacity.  The demand rises as load nears
 * capacity and falls back to 0 when the server is idle.  The caller owns the struct.
 *
 * Load level.  At the end of each period, sample = used x 1000 / capacity (permille) and
 * the level moves half way to the sample (an EWMA with alpha 1/2, rounded towards the sample so a
 * steady load converges to exactly its own level): a flood shows within one period, and a quiet
 * server halves its level every period.  Periods in which nothing was charged are closed lazily,
 * at the next charge() or bits() call: each skipped period counts as an empty one, so after a long
 * gap the level is 0 however high it was.  Examples (tests/unit/test_load.c checks them): a steady
 * load at exactly capacity demands 6, 10, 12, 13, 14, ... and 15 bits from the 10th period; a flood
 * of 10x capacity on an idle server takes the curve to 31 after one period and 32 after two (a
 * source with no overdraft pays 16, see below), and once it stops the curve falls 30, 20, 15, 8
 * and is 0 from the fifth quiet period.
 *
 * Base demand (bits), against the smoothed level L in permille:
 *
 *   L < 500            0       nobody pays while the server has headroom
 *   500 <= L <= 1000   6 + 9 x (L - 500) / 500, i.e. 6 at 500 rising to 15 at 1000
 *   L > 1000           15 + (L - 1000) / 250, i.e. 19 at 2x capacity, 23 at 3x, capped at
 *                      KONCE_WIRE_POW_MAX_BITS (32) from about 5.25x; no demand ever exceeds
 *                      KONCE_LOAD_BITS_MAX (20), below
 *
 * ...but a source with no overdraft is never asked for more than KONCE_LOAD_BITS_BASE_MAX (16)
 * bits outside a surge (below): the curve above 1250 permille prices only overdrawn sources.
 * Why (tests/sim/test_transport_flood.c shows both cases): if `capacity` matches the CPU, load is
 * charged as the CPU does the work, so the level cannot pass ~1000 and the cap never binds;
 * excess arrivals wait in the input queue, overdrawn sources last (konce_ep_priority), and are shed there.  If capacity
 * is set below what the CPU really does (the endpoint's default, 20,000 units/s, is ~4% of the
 * bench core), a flood of junk the server absorbs easily (spoofed INITIATEs refused at the MAC for
 * 1 unit each) read 2-5x "capacity" and demanded 21-32 bits from everyone: honest clients were
 * locked out (11 of 30 willing to pay 20 bits got in, in the flood test) while the CPU idled, and
 * the proof of work, which only gates the DH, could not have reduced that junk anyway.  2^16 tries is ~25 ms for a 300-byte
 * INITIATE (~115 ms for a full 1200-byte one) on the bench core: payable; it still makes each
 * forced DH cost an attacker ~1200x what it costs the server.
 *
 * Why these numbers (bench/bench_pow on an AMD EPYC core: a 1200-byte check 1.76 us, a 232-byte
 * one 0.37 us, X25519 28 us, so one X25519 = 16 units):
 *   - Below 6 bits a proof costs the client less than the X25519 work (KONCE_COST_DH = 50 units =
 *     2^5.6 hashes) it unlocks, so smaller demands would only annoy honest clients.
 *   - At full load (L = 1000) an honest client pays 2^15 hashes of its INITIATE: about 17 ms for a
 *     300-byte INITIATE and 58 ms for a full 1200-byte one on that core, under the ~100 ms budget
 *     even on a client a few times slower for typical sizes.  An attacker then pays about
 *     2^15 / 53 = 600 times the server's cost of each handshake it forces.
 *   - Past capacity the server cannot serve everyone anyway; each further 25% of overload doubles
 *     the price for overdrawn sources (up to KONCE_LOAD_BITS_MAX), so sustained overload from few sources costs an attacker
 *     exponentially more, while everyone else pays at most 16 bits (above).
 *
 * Sustained overload (the surge).  The BASE_MAX cap rises by one bit for every
 * KONCE_LOAD_SURGE_PERIODS (5) periods in a row that close with proven work alone above it, up to
 * KONCE_LOAD_BITS_SURGE_MAX (18): 17 bits after 5 s, 18 after 10 s.  Proven work is what the
 * server spends on sources that proved their address (konce_load_charge_proven: an INITIATE whose
 * cookie MAC holds), smoothed like the level; "above" is its curve past 16 bits (> 1250
 * permille).  The first period that closes at or below that (a quiet period included) drops the
 * cap back to 16.  Why it is safe: spoofed junk never proves an address, so it cannot start a
 * surge (the undersold-capacity flood above keeps its 16 bits); what can is handshake work the
 * server really did, past capacity for 5 s, for sources the overdraft does not price: many
 * sources each within its rate.  Each extra bit doubles what each of them pays per forced DH.  Why 18 and not
 * KONCE_LOAD_BITS_MAX (20): a client refuses a demand it cannot pay in KONCE_POW_SOLVE_BUDGET_MS
 * (1.25 s, hs_client.c); 2^18 hashes of a full 1200-byte INITIATE take ~0.46 s on the bench
 * core, payable on a client up to ~2.7x slower, where 2^20 (~1.85 s) would be refused by every
 * bench-speed client with a full first message: a demand clients refuse locks everyone out.
 *
 * Overdrawn sources (ratelimit.h level o >= 1) pay max(curve, 8) + 2 x o bits (the curve without
 * the BASE_MAX cap), capped at KONCE_LOAD_BITS_MAX (20), even on an idle server: 10 bits (~2 ms)
 * for a first overdraft, 16 at o = 4, 20 from o = 6.  Waiting refills the bucket, so an honest but
 * bursty source can always wait instead of paying.  Only traffic that proves its source address
 * charges a bucket (hs_server.c: an INITIATE whose cookie MAC holds), so spoofed junk cannot
 * overdraw a victim.  Why the cap: a demand must be payable inside the 10 s cookie lifetime, and
 * a client refuses what it cannot pay in an eighth of it (hs_client.c); 2^20 hashes of a minimal
 * INITIATE take ~0.4 s on the bench core (a full 1200-byte one ~1.9 s).  Past that, a higher
 * demand would not slow an attacker further, only lock out the honest clients it shares with.
 */
#ifndef KONCE_LOAD_H
#define KONCE_LOAD_H

#include <stdint.h>

/* Relative costs: one unit is about one BLAKE2b of a 1200-byte datagram.  bench/bench_pow measures
 * the ratio behind KONCE_COST_DH: one X25519 = 16.0 units (1.76 us vs 28 us), so 3 X25519 = 48,
 * plus key derivation and two small AEAD opens. */
enum konce_cost {
	KONCE_COST_HELLO = 1,    /* MAC a cookie */
	KONCE_COST_REJECT = 1,   /* an INITIATE refused by the cheap checks */
	KONCE_COST_POW = 2,      /* hash a full INITIATE */
	KONCE_COST_DH = 50,      /* X25519 and session setup (about 3 X25519 operations) */
};

/* The demand curve, as described above. */
enum konce_load_curve {
	KONCE_LOAD_LEVEL_START = 500,      /* permille: below this, no proof of work */
	KONCE_LOAD_BITS_START = 6,         /* demand at LEVEL_START */
	KONCE_LOAD_BITS_FULL = 15,         /* demand at 1000 permille (load == capacity) */
	KONCE_LOAD_BITS_BASE_MAX = 16,     /* most a source with no overdraft pays */
	KONCE_LOAD_STEP_ABOVE = 250,       /* +1 bit per this many permille above 1000 */
	KONCE_LOAD_BITS_OVERDRAWN = 8,     /* floor for any overdrawn source, even on an idle server */
	KONCE_LOAD_BITS_PER_OVERDRAFT = 2, /* + this per overdraft level (ratelimit.h) */
	KONCE_LOAD_BITS_MAX = 20,          /* most any source is asked (see "Overdrawn sources") */
	KONCE_LOAD_SURGE_PERIODS = 5,      /* overloaded periods in a row per surge bit */
	KONCE_LOAD_BITS_SURGE_MAX = 18,    /* most a source with no overdraft pays in a surge */
};

typedef struct konce_load {
	uint64_t capacity;     /* units per period the server can afford */
	uint64_t period_start; /* us */
	uint64_t used;         /* units spent in this period */
	uint32_t level;        /* load of the last period, permille of capacity (smoothed) */
	uint8_t bits;          /* the curve at `level`, before KONCE_LOAD_BITS_BASE_MAX */
	uint64_t proven_used;  /* of `used`, units for sources that proved their address */
	uint32_t proven_level; /* the level of proven work alone, smoothed as `level` */
	uint32_t overloaded;   /* closed periods in a row with proven_level's curve above BASE_MAX */
} konce_load;

/* capacity_per_period 0 is taken as 1. */
void konce_load_init(konce_load *l, uint64_t capacity_per_period, uint64_t now_us);
/* Adds units; closes the period (and recomputes bits) when KONCE_LOAD_PERIOD_MS has passed. */
void konce_load_charge(konce_load *l, unsigned units, uint64_t now_us);
/* The same, for work on behalf of a source that proved its address (a cookie MAC that holds):
 * only such work can start a surge (above). */
void konce_load_charge_proven(konce_load *l, unsigned units, uint64_t now_us);
/* The demand in bits for a source with the given overdraft level (ratelimit.h), after closing any
 * periods that have ended by now.  Never more than KONCE_LOAD_BITS_BASE_MAX for overdraft 0 (plus
 * the surge, up to KONCE_LOAD_BITS_SURGE_MAX), nor KONCE_LOAD_BITS_MAX for any. */
unsigned konce_load_bits(konce_load *l, unsigned overdraft, uint64_t now_us);

#endif
