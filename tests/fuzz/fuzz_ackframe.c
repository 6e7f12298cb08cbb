/* fuzz_ackframe.c - ACK and TIMESTAMP frame decoders; every ACK frame accepted must satisfy the
 * konce_ack invariants, re-encode, and decode again to the same ack (TIMESTAMP: byte-exact). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/ackframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_ack a, b;
	uint32_t ts, ts2;
	uint8_t tbuf[KONCE_TIMESTAMP_SIZE];
	if (konce_timestamp_decode(d, n, &ts) == KONCE_TIMESTAMP_SIZE &&
	    (konce_timestamp_encode(tbuf, sizeof(tbuf), ts) != KONCE_TIMESTAMP_SIZE ||
	     memcmp(tbuf, d, KONCE_TIMESTAMP_SIZE) != 0 || konce_timestamp_decode(tbuf, sizeof(tbuf), &ts2) == 0 ||
	     ts2 != ts))
		abort();
	size_t used = konce_ackframe_decode(d, n, &a);
	if (used == 0)
		return 0;
	if (used > n || !konce_ack_valid(&a))
		abort();
	uint8_t buf[1 + 4 * 8 + 1 + 2 * 8 * KONCE_ACK_MAX_RANGES + KONCE_ACK_OWD_SIZE];
	size_t nenc;
	size_t m = konce_ackframe_encode(buf, sizeof(buf), &a, &nenc);
	/* The encoder writes minimal varints, so it is never longer than the input. */
	if (m == 0 || m > used || nenc != a.nranges)
		abort();
	if (konce_ackframe_decode(buf, m, &b) != m)
		abort();
	if (a.nranges != b.nranges || a.ack_delay_us != b.ack_delay_us || a.credit != b.credit ||
	    a.has_owd != b.has_owd || a.owd != b.owd ||
	    memcmp(a.ranges, b.ranges, a.nranges * sizeof(a.ranges[0])) != 0)
		abort();
	/* Truncated re-encodings still decode to a prefix of the ranges. */
	for (size_t cap = m; cap-- > 0;) {
		size_t k = konce_ackframe_encode(buf, cap, &a, &nenc);
		if (k == 0)
			break;
		if (k > cap || konce_ackframe_decode(buf, k, &b) != k || b.nranges != nenc ||
		    memcmp(a.ranges, b.ranges, nenc * sizeof(a.ranges[0])) != 0)
			abort();
	}
	return 0;
}
