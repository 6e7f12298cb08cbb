/* fuzz_cheap.c - arbitrary sequences of rate-limit charges, load charges and demand queries, with
 * arbitrary sources, costs and (possibly backwards) clocks.  Not a parser: this hunts arithmetic
 * overflow (UBSan) and checks the invariants the handshake relies on, aborting on a violation:
 *   - an overdraft level is at most 15, and level() right after charge() agrees with it;
 *   - with no charge in between, a later now never raises a source's level;
 *   - the demand is at most KONCE_WIRE_POW_MAX_BITS and never falls as the overdraft rises;
 *   - a proof of n bits is also a proof of every smaller n.
 */
#include <stdlib.h>
#include <string.h>

#include "node/base/addr.h"
#include "node/transport/load.h"
#include "node/transport/pow.h"
#include "node/base/ratelimit.h"
#include "node/base/wire.h"

static void *f_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return calloc(1, n);
}
static void f_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}
static void f_random(void *ctx, uint8_t *b, size_t n)
{
	(void)ctx;
	memset(b, 0x5a, n); /* reproducible runs */
}
static const konce_env fenv = {f_alloc, f_free, f_random, NULL, NULL, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 8)
		return 0;
	konce_ratelimit *rl;
	/* table size, rate and burst from the first bytes: small tables make eviction common */
	unsigned slots = 1u + d[0] % 64;
	uint32_t rate = 1u + (uint32_t)wire_get16(d + 1) * (d[3] & 0x80 ? 65536u : 1u);
	uint32_t burst = 1u + (uint32_t)wire_get16(d + 4) * (d[3] & 0x40 ? 65536u : 1u);
	if (konce_ratelimit_new(&rl, &fenv, slots, rate, burst) != 0)
		abort();
	konce_load ld;
	konce_load_init(&ld, wire_get16(d + 6), 0);
	uint64_t now = 0;
	d += 8;
	n -= 8;
	for (; n >= 8; d += 8, n -= 8) {
		konce_addr a;
		uint8_t ip[16] = {0};
		memcpy(ip, d + 1, 3);
		if (d[0] & 1) {
			konce_addr_from_v4(&a, ip, d[4]);
		} else {
			ip[7] = d[4];
			ip[12] = d[5]; /* inside the /64's interface id: must not matter */
			konce_addr_from_v6(&a, ip, 1);
		}
		unsigned cost = (unsigned)d[5] << (d[6] & 31);
		/* time steps up to ~71 minutes forward, or small steps backwards */
		uint64_t step = (uint64_t)d[7] << ((d[6] >> 5) * 4);
		if ((d[0] & 0x06) == 0x06)
			now = now > step ? now - step : 0;
		else
			now += step;
		switch ((d[0] >> 1) & 3) {
		case 0:
		case 3: {
			unsigned lv = konce_ratelimit_charge(rl, &a, cost, now);
			if (lv > 15 || konce_ratelimit_level(rl, &a, now) != lv)
				abort();
			if (konce_ratelimit_level(rl, &a, now + step + 1) > lv)
				abort();
			break;
		}
		case 1:
			konce_load_charge(&ld, cost, now);
			break;
		case 2: {
			unsigned prev = 0;
			for (unsigned o = 0; o <= 16; o++) {
				unsigned b = konce_load_bits(&ld, o, now);
				if (b > KONCE_WIRE_POW_MAX_BITS || b < prev || (o == 0 && b > KONCE_LOAD_BITS_BASE_MAX))
					abort();
				prev = b;
			}
			break;
		}
		}
	}
	/* the proof-of-work convention is monotonic in bits */
	unsigned most = 0;
	while (most < 256 && konce_pow_check(d, n, most + 1))
		most++;
	for (unsigned b = 0; b <= most; b++)
		if (!konce_pow_check(d, n, b))
			abort();
	konce_ratelimit_free(rl);
	return 0;
}
