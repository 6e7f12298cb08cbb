/* pnwin.c - windowed packet numbers (see pnwin.h for the format and the guarantee).
 *
 * Valid packet numbers are 1 .. 2^63 - 1, so nine 7-bit groups carry any of them whole.  Decoding
 * is RFC 9000 appendix A.3 with 7k-bit windows; unsigned 64-bit arithmetic leaves room above 2^63,
 * so none of the sums below can wrap.
 */
#include "node/transport/pnwin.h"

#include "node/base/wire.h"

#define PN_LIMIT ((uint64_t)1 << 63) /* first invalid packet number */

_Static_assert(7 * KONCE_WIRE_PN_MAX == 63, "nine 7-bit groups must hold any packet number");

size_t konce_pnwin_len(uint64_t pn, uint64_t largest_acked)
{
	/* An ack at or past pn is a caller bug; the full window decodes right whatever happened. */
	if (largest_acked >= pn)
		return KONCE_WIRE_PN_MAX;
	uint64_t d = pn - largest_acked;
	/* 2^(7k) >= F * d  <=>  d <= floor(2^(7k) / F); written so that F * d cannot overflow. */
	for (size_t k = 1; k < KONCE_WIRE_PN_MAX; k++)
		if (d <= ((uint64_t)1 << (7 * k)) / KONCE_WIRE_PN_SPAN_FACTOR)
			return k;
	/* Also when even 2^63 < F * d: nine bytes send every bit, so nothing is left to guess. */
	return KONCE_WIRE_PN_MAX;
}

size_t konce_pnwin_encode(uint8_t *out, size_t cap, uint64_t pn, uint64_t largest_acked)
{
	if (pn == 0 || pn >= PN_LIMIT)
		return 0;
	size_t k = konce_pnwin_len(pn, largest_acked);
	if (cap < k)
		return 0;
	for (size_t i = 0; i < k; i++) {
		uint8_t g = (uint8_t)((pn >> (7 * (k - 1 - i))) & 0x7f);
		out[i] = i + 1 < k ? (uint8_t)(g | 0x80) : g;
	}
	return k;
}

size_t konce_pnwin_decode(const uint8_t *p, size_t avail, uint64_t largest_received, uint64_t *pn)
{
	uint64_t t = 0;
	size_t k = 0;
	for (;;) {
		if (k == avail || k == KONCE_WIRE_PN_MAX)
			return 0;
		uint8_t b = p[k++];
		t = (t << 7) | (b & 0x7f);
		if (!(b & 0x80))
			break;
	}

	uint64_t v;
	if (k == KONCE_WIRE_PN_MAX) {
		v = t; /* all 63 bits travelled: the only candidate in range */
	} else {
		if (largest_received >= PN_LIMIT)
			largest_received = PN_LIMIT - 1;
		uint64_t expected = largest_received + 1; /* <= 2^63 */
		uint64_t win = (uint64_t)1 << (7 * k), hwin = win / 2;
		v = (expected & ~(win - 1)) | t; /* <= 2^63 + 2^56 */
		/* Move to the neighbouring candidate if it is nearer to expected, but never out of
		 * 1 .. 2^63 - 1; ties (distance exactly hwin) go to the larger value. */
		if (v + hwin <= expected && v + win < PN_LIMIT)
			v += win;
		else if (v > expected + hwin && v >= win)
			v -= win;
	}
	if (v == 0 || v >= PN_LIMIT)
		return 0;
	*pn = v;
	return k;
}
