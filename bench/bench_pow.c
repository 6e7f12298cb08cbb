/* bench_pow.c - what the server's cheap checks cost against the public-key work they protect, and
 * how long a client's event loop can wait on a proof.
 *
 * Prints, from one run: konce_pow_check() on a 1200-byte datagram (the unit of load.h's costs) and
 * on a minimal INITIATE, X25519 operations (crypto_scalarmult) per second, their ratio and the
 * KONCE_COST_DH it implies (3 X25519 per handshake), and the average time to solve 8, 12 and 16
 * bits on a 1200-byte and a 300-byte INITIATE, beside the expectation 2^bits / check rate.
 *
 * Then the client side: a real endpoint, told the 1200-byte rate just measured (as the
 * node tells it), gets COOKIEs demanding 16 bits, the most it accepts (its cap) and one bit more.
 * For each: whether it paid, the longest and mean time of one konce_ep_input()/konce_ep_timer()
 * call while it solved (what the loop waits at most), the calls and the total time, beside the
 * baseline of the old synchronous solve: 2^bits hashes in one call.
 *
 * BENCH_QUICK=1: a tenth of the intervals and fewer solve runs (a smoke test, not figures).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/loop.h"
#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"
#include "node/transport/load.h"
#include "node/transport/pow.h"
#include "node/base/wire.h"

static volatile unsigned sink;

/* Operations per second of konce_pow_check on len bytes, over about `secs`. */
static double check_rate(size_t len, double secs)
{
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	randombytes_buf(pkt, sizeof(pkt));
	uint64_t n = 0;
	double t0 = bench_now_s(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			pkt[KONCE_INIT_POW_NONCE] = (uint8_t)n;
			sink += konce_pow_check(pkt, len, 32);
			n++;
		}
	} while ((t = bench_now_s()) - t0 < secs);
	return (double)n / (t - t0);
}

/* Average seconds and tries to solve `bits` on a len-byte INITIATE over `runs` random packets. */
static void solve_avg(size_t len, unsigned bits, int runs, double rate)
{
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
	uint64_t total = 0;
	double t0 = bench_now_s();
	for (int r = 0; r < runs; r++) {
		uint64_t tries = 0;
		randombytes_buf(pkt, len);
		if (konce_pow_solve(pkt, len, KONCE_INIT_POW_NONCE, bits, 0, 0, &tries) != 0) {
			fprintf(stderr, "solve failed\n");
			exit(1);
		}
		total += tries;
	}
	double dt = (bench_now_s() - t0) / runs;
	/* tries are geometric (sd = mean), so few runs scatter widely; the expectation is firmer */
	printf("  solve %2u bits, %4zu-byte INITIATE: %8.2f ms avg, %8.0f tries avg over %2d runs;"
	       " expected 2^%u tries = %.2f ms\n",
	       bits, len, dt * 1e3, (double)total / runs, runs, bits, (double)(1ull << bits) / rate * 1e3);
}

static uint64_t now_us(void) { return (uint64_t)(bench_now_s() * 1e6); }

/* One dial whose COOKIE is rewritten to demand `bits` (a hostile server can: the COOKIE is not
 * authenticated); times every endpoint call until the INITIATE leaves or the attempt fails. */
static void client_solve(uint64_t rate, unsigned bits)
{
	konce_identity *ia, *ib;
	konce_ep *a, *b;
	if (konce_identity_generate(&ia, konce_env_default()) || konce_identity_generate(&ib, konce_env_default()))
		exit(1);
	konce_ep_config ca = {.identity = ia, .pow_rate = rate}, cb = {.identity = ib};
	if (konce_ep_new(&a, &ca, now_us()) || konce_ep_new(&b, &cb, now_us()))
		exit(1);
	konce_addr aa, ab, to;
	konce_addr_parse(&aa, "192.0.2.1:1000");
	konce_addr_parse(&ab, "198.51.100.2:7807");
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	uint32_t conn;
	if (konce_ep_connect(a, konce_identity_public(ib), &ab, NULL, 0, now_us(), &conn) ||
	    !konce_ep_poll_datagram(a, buf, &len, &to))
		exit(1);
	konce_ep_input(b, buf, len, &aa, now_us(), NULL);
	if (!konce_ep_poll_datagram(b, buf, &len, &to))
		exit(1);
	buf[KONCE_COOKIE_POW_BITS] = (uint8_t)bits;
	double t0 = bench_now_s(), worst = 0;
	konce_ep_input(a, buf, len, &ab, now_us(), NULL);
	double t1 = bench_now_s();
	worst = t1 - t0;
	unsigned calls = 1;
	bool sent = false, failed = false;
	for (;;) {
		konce_ep_event ev;
		while (konce_ep_poll_event(a, &ev))
			failed |= ev.type == KONCE_EV_FAILED;
		if (konce_ep_poll_datagram(a, buf, &len, &to)) {
			sent = buf[0] == KONCE_PKT_INITIATE;
			break;
		}
		if (failed || konce_ep_next_timer(a) > now_us())
			break;
		double c0 = bench_now_s();
		konce_ep_timer(a, now_us());
		double c = bench_now_s() - c0;
		worst = c > worst ? c : worst;
		calls++;
	}
	double total = bench_now_s() - t0;
	printf("  demand %2u bits: %-8s %6u calls, longest %6.2f ms, mean %6.3f ms, total %8.1f ms;"
	       " baseline (one synchronous solve) 2^%u / rate = %8.1f ms\n",
	       bits, sent ? "paid" : failed ? "refused" : "pending", calls, worst * 1e3, total / calls * 1e3, total * 1e3,
	       bits, (double)(1ull << bits) / (double)rate * 1e3 * 2 / 10);
	konce_ep_free(a);
	konce_ep_free(b);
	konce_identity_free(ia);
	konce_identity_free(ib);
}

/* The largest demand the endpoint pays at `rate` for a len-byte INITIATE (hs_client.c's rule). */
static unsigned cap_bits(uint64_t rate, size_t len)
{
	uint64_t per_s = rate * 10 / ((len + 127) / 128);
	unsigned b = 0;
	while (b < KONCE_WIRE_POW_MAX_BITS && ((uint64_t)1 << (b + 1)) * 1000 <= per_s * (KONCE_COOKIE_LIFETIME_MS / 8))
		b++;
	return b;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	double k = bench_quick() ? 0.1 : 1;
	double c1200 = check_rate(KONCE_WIRE_MAX_DATAGRAM, 0.5 * k);
	double c232 = check_rate(KONCE_INIT_MIN_SIZE, 0.3 * k);
	double c300 = check_rate(300, 0.3 * k);
	double x = bench_x25519_rate(0.5 * k);
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
	uint64_t rate = (uint64_t)c1200;
	unsigned cap = cap_bits(rate, KONCE_INIT_MIN_SIZE);
	printf("  client cap at %llu hashes/s of 1200 B: %u bits for a %d-byte INITIATE, %u for a 1200-byte one"
	       " (expected cost <= %d ms)\n",
	       (unsigned long long)rate, cap, KONCE_INIT_MIN_SIZE, cap_bits(rate, KONCE_WIRE_MAX_DATAGRAM),
	       KONCE_COOKIE_LIFETIME_MS / 8);
	client_solve(rate, 16);
	client_solve(rate, cap);
	client_solve(rate, cap + 1);
	client_solve(rate, 24);
	return 0;
}
