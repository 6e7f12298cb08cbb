/* fuzz_pnwin.c - packet-number window decode and the replay window, each against a reference.
 *
 * Input: bytes [0, 8) are largest_received (big-endian), the rest is decoded as a window.  The
 * same rest, read as 3-byte operations, also drives a replay window beside a reference set.
 * Any disagreement or broken invariant aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/pnwin.h"
#include "node/transport/replay.h"
#include "node/base/wire.h"

#define LIMIT ((uint64_t)1 << 63)
#define W ((uint64_t)KONCE_REPLAY_WINDOW)

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* The k-byte window of pn, from the format description. */
static void ref_encode(uint8_t *out, uint64_t pn, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		out[i] = (uint8_t)((pn >> (7 * (k - 1 - i))) & 0x7f);
		if (i + 1 < k)
			out[i] |= 0x80;
	}
}

static void fuzz_decode(const uint8_t *d, size_t n)
{
	if (n < 8)
		return;
	uint64_t largest = wire_get64(d);
	const uint8_t *p = d + 8;
	size_t avail = n - 8;

	/* Where the window should end, read independently: the first byte without the high bit. */
	size_t k = 0;
	while (k < avail && k < KONCE_WIRE_PN_MAX && (p[k] & 0x80))
		k++;
	bool well_formed = k < avail && k < KONCE_WIRE_PN_MAX;
	k++;

	uint64_t pn = 0;
	size_t c = konce_pnwin_decode(p, avail, largest, &pn);
	if (c == 0) {
		if (pn != 0)
			abort(); /* *pn must be untouched */
		if (!well_formed)
			return;
	} else {
		if (!well_formed || c != k || c > avail || pn == 0 || pn >= LIMIT)
			abort();
		/* re-encoding the result in `consumed` bytes gives back exactly the bytes read */
		uint8_t re[KONCE_WIRE_PN_MAX];
		ref_encode(re, pn, c);
		if (memcmp(re, p, c) != 0)
			abort();
	}

	/* The decode is the value congruent to the window nearest to largest + 1 whenever that value
	 * is a valid packet number (pnwin.h); computed here in 128 bits. */
	if (k < KONCE_WIRE_PN_MAX) {
		uint64_t t = 0;
		for (size_t i = 0; i < k; i++)
			t = (t << 7) | (p[i] & 0x7f);
		__int128 win = (__int128)1 << (7 * k);
		__int128 e = (__int128)(largest < LIMIT ? largest : LIMIT - 1) + 1;
		__int128 q = e + win / 2 - (__int128)t;
		__int128 r = (__int128)t + win * (q >= 0 ? q / win : -((-q + win - 1) / win));
		if (r >= 1 && r < (__int128)LIMIT && (c == 0 || (__int128)pn != r))
			abort();
	}
	if (c == 0)
		return;

	/* And the API's own round trip from the same point: a sender whose peer acked largest. */
	uint64_t acked = largest < pn ? largest : pn - 1;
	uint8_t buf[KONCE_WIRE_PN_MAX];
	size_t len = konce_pnwin_encode(buf, sizeof(buf), pn, acked);
	uint64_t back = 0;
	if (len == 0 || konce_pnwin_decode(buf, len, acked, &back) != len || back != pn)
		abort();
}

/* ---- replay ---------------------------------------------------------------------------------- */

enum { SET_CAP = 4096, MAX_OPS = 1024 };

struct model {
	uint64_t set[SET_CAP]; /* open addressing; 0 = empty, and 0 is never inserted */
	uint64_t top;
};

static size_t slot(uint64_t n) { return (size_t)((n * 0x9e3779b97f4a7c15ULL) >> 52) & (SET_CAP - 1); }

static bool model_check(const struct model *m, uint64_t n)
{
	if (n == 0 || (n <= m->top && m->top - n > W))
		return false;
	for (size_t i = slot(n); m->set[i]; i = (i + 1) & (SET_CAP - 1))
		if (m->set[i] == n)
			return false;
	return true;
}

static void model_add(struct model *m, uint64_t n)
{
	size_t i = slot(n);
	while (m->set[i])
		i = (i + 1) & (SET_CAP - 1);
	m->set[i] = n;
	if (n > m->top)
		m->top = n;
}

static void fuzz_replay(const uint8_t *d, size_t n)
{
	static struct model m;
	memset(&m, 0, sizeof(m));
	konce_replay r;
	konce_replay_init(&r);
	for (size_t i = 0, ops = 0; i + 3 <= n && ops < MAX_OPS; i += 3, ops++) {
		uint64_t v = (uint64_t)d[i + 1] << 8 | d[i + 2], top = m.top, x;
		switch (d[i] & 7) {
		case 0:
		case 1: {
			uint64_t back = v % (W + 100);
			x = back > top ? 0 : top - back;
			break;
		}
		case 2:
		case 3: x = top + 1 + (v & 0xff); break;
		case 4: x = top + v * 64; break;
		case 5: x = top + (v << 40); break;
		case 6: x = v; break;
		default: x = (uint64_t)d[i] << 56 | v << 20 | v; break;
		}
		bool want = model_check(&m, x);
		konce_replay before = r;
		if (konce_replay_check(&r, x) != want || memcmp(&before, &r, sizeof(r)) != 0)
			abort();
		if (konce_replay_update(&r, x) != want)
			abort();
		if (want)
			model_add(&m, x);
		else if (memcmp(&before, &r, sizeof(r)) != 0)
			abort();
		if (r.top != m.top)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	fuzz_decode(d, n);
	if (n > 8)
		fuzz_replay(d + 8, n - 8);
	return 0;
}
