/* load.h - the server's handshake load and the proof-of-work demand that follows from it.
 *
 * The server charges cost units for handshake work as it does it (KONCE_COST_*), and compares the
 * units spent in each KONCE_LOAD_PERIOD_MS against its capacity.  The demand rises as load nears
 * capacity and falls back to 0 when the server is idle.  The caller owns the struct.
 */
#ifndef KONCE_LOAD_H
#define KONCE_LOAD_H

#include <stdint.h>

/* Relative costs: one unit is about one BLAKE2b of a datagram. */
enum konce_cost {
	KONCE_COST_HELLO = 1,    /* MAC a cookie */
	KONCE_COST_REJECT = 1,   /* an INITIATE refused by the cheap checks */
	KONCE_COST_POW = 2,      /* hash a full INITIATE */
	KONCE_COST_DH = 40,      /* X25519 and session setup (about 3 X25519 operations) */
};

typedef struct konce_load {
	uint64_t capacity;     /* units per period the server can afford */
	uint64_t period_start; /* us */
	uint64_t used;         /* units spent in this period */
	uint32_t level;        /* load of the last period, permille of capacity (smoothed) */
	uint8_t bits;          /* current base demand */
} konce_load;

void konce_load_init(konce_load *l, uint64_t capacity_per_period, uint64_t now_us);
/* Adds units; closes the period (and recomputes bits) when KONCE_LOAD_PERIOD_MS has passed. */
void konce_load_charge(konce_load *l, unsigned units, uint64_t now_us);
/* The demand in bits for a source with the given overdraft level (ratelimit.h). */
unsigned konce_load_bits(konce_load *l, unsigned overdraft, uint64_t now_us);

#endif
