/* bench_pow.c - what the server's cheap checks cost against the public-key work they protect.
 *
 * Prints, from one run: konce_pow_check() on a 1200-byte datagram (the unit of load.h's costs) and
 * on a minimal INITIATE, X25519 operations (crypto_scalarmult) per second, their ratio and the
 * KONCE_COST_DH it implies (3 X25519 per handshake), and the average time to solve 8, 12 and 16
 * bits on a 1200-byte and a 300-byte INITIATE, beside the expectation 2^bits / check rate.
 * BENCH_QUICK=1: a tenth of the intervals and fewer solve runs (a smoke test, not figures).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/loop.h"
#include "node/load.h"
#include "node/pow.h"
#include "node/wire.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile unsigned sink;

/* Operations per second of konce_pow_check on len bytes, over about `secs`. */
static double check_rate(size_t len, double secs)
{
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	randombytes_buf(pkt, sizeof(pkt));
	uint64_t n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			pkt[KONCE_INIT_POW_NONCE] = (uint8_t)n;
			sink += konce_pow_check(pkt, len, 32);
			n++;
		}
	} while ((t = now_s()) - t0 < secs);
	return (double)n / (t - t0);
}

static double x25519_rate(double secs)
{
	uint8_t sk[32], pk[32], out[32];
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	uint64_t n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 100; i++) {
			sk[0] = (uint8_t)n;
			sink += (unsigned)crypto_scalarmult(out, sk, pk);
			n++;
		}
	} while ((t = now_s()) - t0 < secs);
	return (double)n / (t - t0);
}

/* Average seconds and tries to solve `bits` on a len-byte INITIATE over `runs` random packets. */
static void solve_avg(size_t len, unsigned bits, int runs, double rate)
{
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	uint64_t total = 0;
	double t0 = now_s();
	for (int r = 0; r < runs; r++) {
		uint64_t tries = 0;
		randombytes_buf(pkt, len);
		if (konce_pow_solve(pkt, len, KONCE_INIT_POW_NONCE, bits, 0, 0, &tries) != 0) {
			fprintf(stderr, "solve failed\n");
			exit(1);
		}
		total += tries;
	}
	double dt = (now_s() - t0) / runs;
	/* tries are geometric (sd = mean), so few runs scatter widely; the expectation is firmer */
	printf("  solve %2u bits, %4zu-byte INITIATE: %8.2f ms avg, %8.0f tries avg over %2d runs;"
	       " expected 2^%u tries = %.2f ms\n",
	       bits, len, dt * 1e3, (double)total / runs, runs, bits, (double)(1ull << bits) / rate * 1e3);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	double k = bench_quick() ? 0.1 : 1;
	double c1200 = check_rate(KONCE_WIRE_MAX_DATAGRAM, 0.5 * k);
	double c232 = check_rate(KONCE_INIT_MIN_SIZE, 0.3 * k);
	double c300 = check_rate(300, 0.3 * k);
	double x = x25519_rate(0.5 * k);
	printf("  pow_check 1200 B:      %10.0f /s (%.2f us)\n", c1200, 1e6 / c1200);
	printf("  pow_check %4d B:      %10.0f /s (%.2f us)\n", KONCE_INIT_MIN_SIZE, c232, 1e6 / c232);
	printf("  X25519 (baseline):     %10.0f /s (%.2f us)\n", x, 1e6 / x);
	printf("  ratio: one X25519 = %.1f checks of 1200 B; 3 X25519 = %.0f units (KONCE_COST_DH = %d)\n",
	       c1200 / x, 3 * c1200 / x, KONCE_COST_DH);
	const struct {
		unsigned bits;
		int runs;
	} s[] = {{8, 64}, {12, 16}, {16, 8}};
	int div = bench_quick() ? 8 : 1;
	for (int i = 0; i < 3; i++)
		solve_avg(KONCE_WIRE_MAX_DATAGRAM, s[i].bits, s[i].runs / div > 0 ? s[i].runs / div : 1, c1200);
	for (int i = 0; i < 3; i++)
		solve_avg(300, s[i].bits, s[i].runs / div > 0 ? s[i].runs / div : 1, c300);
	return 0;
}
