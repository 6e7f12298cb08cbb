/* fuzz_wire_conf.c - netsim-wire's settings parser (netsim/wire_sched.c) on arbitrary text.
 * Invariants: an accepted text formats to text that parses back to the same settings, the
 * settings stay within their bounds, and decisions on them never depart before arrival. */
#include <stdlib.h>
#include <string.h>

#include "netsim/wire_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct nsw_conf a, b;
	struct nsw_rng r;
	char err[160], text[1024];
	int len;

	if (nsw_conf_parse(&a, (const char *)d, n, err, sizeof(err)) != 0) {
		if (strlen(err) == 0)
			abort(); /* a rejection always says why */
		return 0;
	}
	len = nsw_conf_format(&a, text, sizeof(text));
	if (len <= 0 || (size_t)len >= sizeof(text))
		abort();
	if (nsw_conf_parse(&b, text, (size_t)len, err, sizeof(err)) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	nsw_rng_seed(&r, n);
	for (int k = 0; k < 2; k++) {
		const struct nsw_imp *m = &a.dir[k];

		if (m->delay_us > NSW_MAX_DELAY_US || m->jitter_us > NSW_MAX_DELAY_US || m->loss_ppm > NSW_PPM ||
		    m->dup_ppm > NSW_PPM || m->reorder_ppm > NSW_PPM)
			abort();
		for (int i = 0; i < 8; i++) {
			uint64_t when[2], now = 1000000;
			unsigned early, c = nsw_decide(m, &r, now, when, &early);

			if (c > 2 || early > c)
				abort();
			for (unsigned j = 0; j < c; j++)
				if (when[j] < now || when[j] > now + m->delay_us + 3 * m->jitter_us)
					abort();
		}
	}
	return 0;
}
