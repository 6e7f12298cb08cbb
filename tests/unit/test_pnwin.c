/* test_pnwin.c - packet-number windows: byte vectors, the span rule's boundaries, malformed input,
 * the documented result outside the guarantee, and a property test over a simulated channel that
 * loses, reorders, duplicates and holds back stragglers.
 *
 * Every random test is seeded; a failure prints the seed.  PNWIN_SEED=<seed> reruns that one seed.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/pnwin.h"
#include "node/base/wire.h"
#include "tests/unit/splitmix.h"

#define LIMIT ((uint64_t)1 << 63) /* first invalid packet number */
#define PN_MAX KONCE_WIRE_PN_MAX

/* ---- seeded randomness ---------------------------------------------------------------------- */

static uint64_t below(uint64_t *s, uint64_t n) { return splitmix_below(s, n); }
static bool chance(uint64_t *s, unsigned permille) { return below(s, 1000) < permille; }
/* A value in [1, max] whose bit length is uniform, so small and huge values both come up. */
static uint64_t logrand(uint64_t *s, uint64_t max)
{
	unsigned bits = 1 + (unsigned)below(s, 64);
	uint64_t v = bits == 64 ? splitmix64(s) : splitmix64(s) & (((uint64_t)1 << bits) - 1);
	v = v % max + 1;
	return v;
}

static uint64_t cur_seed; /* the seed of the random case being run, for failure messages */

#define CHECK(cond, ...)                                                                            \
	do {                                                                                        \
		if (!(cond)) {                                                                      \
			print_error(__VA_ARGS__);                                                   \
			print_error("\n");                                                         \
			fail_msg("%s:%d: %s; seed %" PRIu64 " (rerun: PNWIN_SEED=%" PRIu64 ")",     \
				 __FILE__, __LINE__, #cond, cur_seed, cur_seed);                    \
		}                                                                                   \
	} while (0)

/* Returns true and sets *seed if PNWIN_SEED asks for a single seed. */
static bool seed_from_env(uint64_t *seed)
{
	const char *e = getenv("PNWIN_SEED");
	if (!e || !*e)
		return false;
	*seed = strtoull(e, NULL, 0);
	return true;
}

/* ---- independent reference -------------------------------------------------------------------- */

/* The k-byte window of pn, written from the format description (not from pnwin.c). */
static void ref_encode(uint8_t *out, uint64_t pn, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		unsigned shift = 7 * (unsigned)(k - 1 - i);
		out[i] = (uint8_t)((pn >> shift) & 0x7f);
		if (i + 1 < k)
			out[i] |= 0x80;
	}
}

static uint64_t hwin_of(size_t k) { return (uint64_t)1 << (7 * k - 1); }

/* The value congruent to pn modulo 2^(7k) in (L + 1 - hwin, L + 1 + hwin], in 128-bit arithmetic:
 * what the decoder must return when that value is a valid packet number. */
static unsigned __int128 ref_nearest(uint64_t pn, size_t k, uint64_t L)
{
	__int128 win = (__int128)1 << (7 * k), e = (__int128)L + 1;
	__int128 q = e + win / 2 - (__int128)pn; /* r = pn + win * floor(q / win) */
	__int128 f = q >= 0 ? q / win : -((-q + win - 1) / win);
	return (unsigned __int128)((__int128)pn + win * f);
}

/* ---- fixed vectors ------------------------------------------------------------------------------ */

struct vec {
	uint64_t pn, acked;
	size_t len;
	uint8_t b[PN_MAX];
};

/* Bytes computed independently (Python) from the format; each pair sits on or next to a boundary
 * of the span rule 2^(7k) >= 32 * (pn - acked), i.e. pn - acked <= 4, 512, 65536, 2^23, ... */
static const struct vec vecs[] = {
	{1, 0, 1, {0x01}},
	{4, 0, 1, {0x04}},                  /* 32 * 4 = 128 = 2^7: still one byte */
	{5, 0, 2, {0x80, 0x05}},            /* 160 > 128 */
	{300, 290, 2, {0x82, 0x2c}},
	{1000, 488, 2, {0x87, 0x68}},       /* distance 512 = 2^14 / 32 */
	{1001, 488, 3, {0x80, 0x87, 0x69}}, /* 513 */
	{70000, 69000, 3, {0x84, 0xa2, 0x70}},
	{100000, 34464, 3, {0x86, 0x8d, 0x20}},       /* 65536 = 2^21 / 32 */
	{100000, 34463, 4, {0x80, 0x86, 0x8d, 0x20}}, /* 65537 */
	{0x123456789abcdef0, 0x123456789abcdeef, 1, {0x70}},
	{0x123456789abcdef0, 0x123456789abcdef0 - ((uint64_t)1 << 44), 7,
	 {0x95, 0xcf, 0x89, 0xd5, 0xf3, 0xbd, 0x70}},
	{0x123456789abcdef0, 0x123456789abcdef0 - ((uint64_t)1 << 44) - 1, 8,
	 {0x9a, 0x95, 0xcf, 0x89, 0xd5, 0xf3, 0xbd, 0x70}},
	{0x4000000000000055, 0x3ff8000000000055, 8, /* 2^51 = 2^56 / 32 */
	 {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x55}},
	{0x4000000000000055, 0x3ff8000000000054, 9, {0xc0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x55}},
	{LIMIT - 1, 0, 9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		uint8_t out[PN_MAX + 4];
		memset(out, 0xee, sizeof(out));
		assert_int_equal(konce_pnwin_len(v->pn, v->acked), v->len);
		assert_int_equal(konce_pnwin_encode(out, sizeof(out), v->pn, v->acked), v->len);
		assert_memory_equal(out, v->b, v->len);
		assert_int_equal(out[v->len], 0xee); /* wrote nothing past the window */
		assert_int_equal(konce_pnwin_encode(out, v->len - 1, v->pn, v->acked), 0);
		assert_int_equal(konce_pnwin_encode(out, v->len, v->pn, v->acked), v->len);

		/* decodes from the ack state the sender assumed, from just before it, and from the far
		 * edge of the guarantee (receiver hwin - 2 ahead) */
		uint64_t Ls[3] = {v->acked, v->pn - 1, v->len < PN_MAX ? v->pn + hwin_of(v->len) - 2 : LIMIT - 1};
		for (size_t j = 0; j < 3; j++) {
			uint64_t pn = 0;
			assert_int_equal(konce_pnwin_decode(v->b, v->len, Ls[j], &pn), v->len);
			assert_int_equal(pn, v->pn);
		}
	}
}

/* k changes exactly where 2^(7k) >= 32 * d stops holding, for every k, far from 0. */
static void test_span_boundaries(void **state)
{
	(void)state;
	const uint64_t pn = LIMIT - 12345;
	for (size_t k = 1; k < PN_MAX; k++) {
		uint64_t dmax = ((uint64_t)1 << (7 * k)) / KONCE_WIRE_PN_SPAN_FACTOR;
		assert_int_equal(konce_pnwin_len(pn, pn - dmax), k);
		assert_int_equal(konce_pnwin_len(pn, pn - dmax - 1), k + 1);
		if (k > 1)
			assert_int_equal(konce_pnwin_len(pn, pn - (((uint64_t)1 << (7 * (k - 1))) / 32) - 1), k);
	}
	assert_int_equal(konce_pnwin_len(pn, pn - 1), 1);
	assert_int_equal(konce_pnwin_len(pn, 0), PN_MAX);             /* d > 2^58: nothing fits */
	assert_int_equal(konce_pnwin_len(pn, pn), PN_MAX);            /* confused caller: safe */
	assert_int_equal(konce_pnwin_len(pn, UINT64_MAX), PN_MAX);
	assert_int_equal(konce_pnwin_len(1, 0), 1);

	uint8_t out[PN_MAX];
	assert_int_equal(konce_pnwin_encode(out, sizeof(out), 0, 0), 0);
	assert_int_equal(konce_pnwin_encode(out, sizeof(out), LIMIT, 0), 0);
	assert_int_equal(konce_pnwin_encode(out, sizeof(out), UINT64_MAX, UINT64_MAX - 1), 0);
	assert_int_equal(konce_pnwin_encode(out, sizeof(out), LIMIT - 1, LIMIT - 2), 1);
	assert_int_equal(out[0], 0x7f);
}

static void test_malformed(void **state)
{
	(void)state;
	uint64_t pn = 0xdead;
	const uint8_t cont[12] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	assert_int_equal(konce_pnwin_decode(cont, 0, 0, &pn), 0);           /* nothing there */
	assert_int_equal(konce_pnwin_decode(cont, 1, 0, &pn), 0);           /* runs past avail */
	assert_int_equal(konce_pnwin_decode(cont, 9, 0, &pn), 0);           /* ditto, 9 bytes */
	assert_int_equal(konce_pnwin_decode(cont, sizeof(cont), 0, &pn), 0); /* longer than 9 */
	const uint8_t two[2] = {0x87, 0x68};
	assert_int_equal(konce_pnwin_decode(two, 1, 999, &pn), 0);
	const uint8_t zero1[1] = {0x00};
	assert_int_equal(konce_pnwin_decode(zero1, 1, 0, &pn), 0); /* rebuilds to 0 */
	assert_int_equal(konce_pnwin_decode(zero1, 1, 10, &pn), 0);
	assert_int_equal(konce_pnwin_decode(cont + 3, 9, 0, &pn), 0); /* nine bytes of zero bits */
	const uint8_t one[1] = {0x01};
	/* expected = 2^63: 2^63 + 1 is nearest but invalid, 2^63 + 1 - 128 is more than hwin away */
	assert_int_equal(konce_pnwin_decode(one, 1, LIMIT - 1, &pn), 0);
	assert_int_equal(konce_pnwin_decode(one, 1, UINT64_MAX, &pn), 0); /* clamped to 2^63 - 1 */
	assert_int_equal(pn, 0xdead);                                    /* untouched on failure */

	/* stops at the first byte without the high bit; later bytes are the payload's business */
	const uint8_t tail[3] = {0x05, 0xff, 0xff};
	assert_int_equal(konce_pnwin_decode(tail, 3, 4, &pn), 1);
	assert_int_equal(pn, 5);
	/* the nine-byte form takes all 63 bits as they are, whatever largest_received says */
	const uint8_t full[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	assert_int_equal(konce_pnwin_decode(full, 9, 0, &pn), 9);
	assert_int_equal(pn, LIMIT - 1);
	assert_int_equal(konce_pnwin_decode(full, 9, UINT64_MAX, &pn), 9);
	assert_int_equal(pn, LIMIT - 1);
	/* near the top: the +win move is refused when it would leave the valid range */
	const uint8_t low[1] = {0x00};
	assert_int_equal(konce_pnwin_decode(low, 1, LIMIT - 2, &pn), 1);
	assert_int_equal(pn, LIMIT - 128);
}

/* Non-minimal windows are accepted, and the window length actually sent is what counts. */
static void test_non_minimal(void **state)
{
	(void)state;
	uint8_t b[PN_MAX];
	for (size_t k = 1; k <= PN_MAX; k++) {
		uint64_t pn = 0;
		ref_encode(b, 5, k);
		assert_int_equal(konce_pnwin_decode(b, k, 4, &pn), k);
		assert_int_equal(pn, 5);
	}
	/* Same low seven bits, different lengths, far from 5: one byte is read near 1001 ... */
	const uint8_t one[1] = {0x05}, two[2] = {0x80, 0x05};
	uint64_t pn = 0;
	assert_int_equal(konce_pnwin_decode(one, 1, 1000, &pn), 1);
	assert_int_equal(pn, 1029);
	/* ... two bytes reach back to 5. */
	assert_int_equal(konce_pnwin_decode(two, 2, 1000, &pn), 2);
	assert_int_equal(pn, 5);
}

/* Random (pn, acked, largest_received) with largest inside the documented guarantee: the encoder
 * obeys the span rule minimally, writes the format, and the decode is exact. */
static void test_random_roundtrip(void **state)
{
	(void)state;
	uint64_t seed = 0x706e77696e01, one;
	bool single = seed_from_env(&one);
	unsigned n = single ? 1 : 200000;
	for (unsigned i = 0; i < n; i++) {
		cur_seed = single ? one : seed + i;
		uint64_t s = cur_seed;
		uint64_t pn = logrand(&s, LIMIT - 1);
		uint64_t d = logrand(&s, pn); /* 1 .. pn */
		uint64_t acked = pn - d;
		size_t k = konce_pnwin_len(pn, acked);
		CHECK(k >= 1 && k <= PN_MAX, "k %zu", k);
		if (k < PN_MAX) /* the span rule, in 128 bits */
			CHECK((unsigned __int128)1 << (7 * k) >= (unsigned __int128)32 * d, "pn %" PRIu64, pn);
		if (k > 1) /* and the shortest that obeys it */
			CHECK((unsigned __int128)1 << (7 * (k - 1)) < (unsigned __int128)32 * d, "pn %" PRIu64, pn);

		uint8_t got[PN_MAX], want[PN_MAX];
		CHECK(konce_pnwin_encode(got, sizeof(got), pn, acked) == k, "encode");
		ref_encode(want, pn, k);
		CHECK(memcmp(got, want, k) == 0, "bytes differ from the format, pn %" PRIu64, pn);

		/* largest_received anywhere in [pn - 1 - hwin, pn + hwin - 2], clipped to [0, 2^63) */
		uint64_t L;
		if (k == PN_MAX) {
			L = below(&s, LIMIT);
		} else {
			uint64_t h = hwin_of(k);
			uint64_t lo = pn > h + 1 ? pn - 1 - h : 0;
			uint64_t hi = pn + h - 2 < LIMIT ? pn + h - 2 : LIMIT - 1;
			L = chance(&s, 200) ? (chance(&s, 500) ? lo : hi) : lo + below(&s, hi - lo + 1);
		}
		uint64_t dec = 0;
		CHECK(konce_pnwin_decode(got, k, L, &dec) == k, "decode failed, pn %" PRIu64 " L %" PRIu64, pn, L);
		CHECK(dec == pn, "pn %" PRIu64 " L %" PRIu64 " decoded %" PRIu64, pn, L, dec);
	}
}

/* Outside the guarantee the decode returns the other candidate, pn +- j * 2^(7k): a wrong value
 * the AEAD rejects.  Checked exactly at both edges and at random distances beyond them. */
static void test_beyond_bound(void **state)
{
	(void)state;
	uint64_t seed = 0x706e77696e02, one;
	bool single = seed_from_env(&one);
	uint8_t b[PN_MAX];
	for (size_t k = 1; k < PN_MAX; k++) {
		uint64_t win = (uint64_t)1 << (7 * k), h = win / 2;
		for (unsigned rep = 0; rep < (single ? 1u : 2000u); rep++) {
			cur_seed = single ? one : seed + 2000 * k + rep;
			uint64_t s = cur_seed;
			uint64_t pn = 8 * win + below(&s, LIMIT - 16 * win);
			ref_encode(b, pn, k);
			uint64_t dec = 0;
			/* last exact points on both sides */
			assert_int_equal(konce_pnwin_decode(b, k, pn + h - 2, &dec), k);
			assert_int_equal(dec, pn);
			assert_int_equal(konce_pnwin_decode(b, k, pn - h - 1, &dec), k);
			assert_int_equal(dec, pn);
			/* first wrong points: a straggler overtaken by hwin - 1, a packet hwin + 2 ahead */
			assert_int_equal(konce_pnwin_decode(b, k, pn + h - 1, &dec), k);
			assert_int_equal(dec, pn + win);
			assert_int_equal(konce_pnwin_decode(b, k, pn - h - 2, &dec), k);
			assert_int_equal(dec, pn - win);
			/* further out, the nearest candidate to largest + 1, never pn */
			uint64_t L = chance(&s, 500) ? pn + h - 1 + below(&s, 3 * win) : pn - h - 2 - below(&s, 3 * win);
			unsigned __int128 want = ref_nearest(pn, k, L);
			CHECK(want >= 1 && want < LIMIT && want != pn, "test picked a bad case");
			assert_int_equal(konce_pnwin_decode(b, k, L, &dec), k);
			CHECK(dec == (uint64_t)want, "k %zu pn %" PRIu64 " L %" PRIu64 " got %" PRIu64, k, pn, L, dec);
		}
	}
}

/* ---- the channel property test ---------------------------------------------------------------
 *
 * Model.  A sender numbers packets start, start+1, ... and encodes each with the largest ack it
 * has received (acks are delayed, jittered, lost, sometimes blacked out for a while, so the ack
 * state lags).  Each packet is lost, or delivered after latency + jitter (reordering within a
 * bounded displacement), possibly duplicated, and now and then held back as a straggler for up
 * to thousands of ticks.  The receiver decodes with the largest number it has received and acks
 * that largest every few packets.
 *
 * Precondition (pnwin.h): a k-byte window decodes exactly while the receiver's largest is at most
 * hwin - 2 past it.  The span rule makes hwin >= max(64, 16 * (pn - acked)), and the receiver has
 * seen every acked number, so only stragglers can break it.  The channel therefore holds a
 * straggler at most until the receiver is about to pass that bound: before a packet that raises
 * the receiver's largest beyond pn + hwin - 2 of some held packet, the held one is delivered.
 * Stragglers thus arrive anywhere up to exactly the edge; every decode must be exact.
 */

struct pkt {
	uint64_t pn;
	uint8_t b[PN_MAX];
	uint8_t len;
	bool done;
};

struct hent {
	uint64_t key, val;
};

struct heap {
	struct hent *a;
	size_t n;
};

static bool hless(struct hent x, struct hent y) { return x.key < y.key || (x.key == y.key && x.val < y.val); }

static void heap_push(struct heap *h, uint64_t key, uint64_t val)
{
	size_t i = h->n++;
	h->a[i] = (struct hent){key, val};
	while (i && hless(h->a[i], h->a[(i - 1) / 2])) {
		struct hent t = h->a[i];
		h->a[i] = h->a[(i - 1) / 2];
		h->a[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct hent heap_pop(struct heap *h)
{
	struct hent top = h->a[0];
	h->a[0] = h->a[--h->n];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && hless(h->a[l], h->a[m]))
			m = l;
		if (r < h->n && hless(h->a[r], h->a[m]))
			m = r;
		if (m == i)
			break;
		struct hent t = h->a[i];
		h->a[i] = h->a[m];
		h->a[m] = t;
		i = m;
	}
	return top;
}

struct stats {
	uint64_t sent, decoded, dups, forced, at_edge, straggled, max_behind;
	uint64_t by_k[PN_MAX + 1];
	unsigned high_starts;
};

struct sim {
	uint64_t rng, now;
	uint64_t next, last; /* sender: next number to send, last one it will send */
	uint64_t acked;      /* sender: largest ack received */
	uint64_t largest;    /* receiver: largest number received */
	/* channel parameters, drawn per sequence */
	unsigned rate, lat, jitter, loss, dup, straggle, straggle_max, ack_every, ack_loss, blackout_flip;
	bool blackout;
	unsigned since_ack;
	struct pkt *p;
	size_t np;
	struct heap arrive, deadline, acks;
	struct stats *st;
};

static void receive(struct sim *s, uint64_t id)
{
	struct pkt *x = &s->p[id];
	if (x->done)
		return;
	x->done = true;
	if (x->len < PN_MAX && s->largest > x->pn) {
		uint64_t behind = s->largest - x->pn;
		CHECK(behind <= hwin_of(x->len) - 2, "harness bug: channel passed its bound");
		if (behind == hwin_of(x->len) - 2)
			s->st->at_edge++;
		if (behind >= 64)
			s->st->straggled++;
		if (behind > s->st->max_behind)
			s->st->max_behind = behind;
	}
	uint64_t dec = 0;
	size_t c = konce_pnwin_decode(x->b, x->len, s->largest, &dec);
	CHECK(c == x->len && dec == x->pn, "pn %" PRIu64 " (%u bytes) decoded as %" PRIu64 " with largest %" PRIu64,
	      x->pn, x->len, dec, s->largest);
	s->st->decoded++;
	if (x->pn > s->largest)
		s->largest = x->pn;
	if (++s->since_ack >= s->ack_every) {
		s->since_ack = 0;
		if (!s->blackout && !chance(&s->rng, s->ack_loss))
			heap_push(&s->acks, s->now + s->lat + below(&s->rng, s->jitter + 1), s->largest);
	}
}

static void deliver(struct sim *s, uint64_t id)
{
	/* Raising the receiver's largest to pn must not strand a held packet beyond its bound. */
	while (!s->p[id].done && s->p[id].pn > s->largest && s->deadline.n && s->deadline.a[0].key < s->p[id].pn) {
		struct hent e = heap_pop(&s->deadline);
		if (!s->p[e.val].done) {
			s->st->forced++;
			receive(s, e.val);
		}
	}
	receive(s, id);
}

static void send_one(struct sim *s)
{
	uint64_t pn = s->next++;
	struct pkt x = {.pn = pn};
	x.len = (uint8_t)konce_pnwin_encode(x.b, sizeof(x.b), pn, s->acked);
	CHECK(x.len >= 1, "encode failed for %" PRIu64, pn);
	uint64_t d = pn - s->acked;
	if (x.len < PN_MAX) {
		uint64_t rule = 16 * d > 64 ? 16 * d : 64;
		CHECK(hwin_of(x.len) >= rule, "span rule broken: pn %" PRIu64 " acked %" PRIu64, pn, s->acked);
	}
	s->st->sent++;
	s->st->by_k[x.len]++;
	unsigned copies = chance(&s->rng, s->loss) ? 0 : 1;
	if (chance(&s->rng, s->dup)) {
		copies++;
		s->st->dups++;
	}
	for (unsigned c = 0; c < copies; c++) {
		uint64_t id = s->np++;
		s->p[id] = x;
		uint64_t delay = s->lat + below(&s->rng, s->jitter + 1);
		if (chance(&s->rng, s->straggle))
			delay += 1 + below(&s->rng, s->straggle_max);
		heap_push(&s->arrive, s->now + delay, id);
		uint64_t dl = x.len < PN_MAX ? pn + hwin_of(x.len) - 2 : UINT64_MAX;
		heap_push(&s->deadline, dl, id);
	}
}

static void run_sequence(uint64_t seed, struct stats *st)
{
	cur_seed = seed;
	struct sim s = {.rng = seed, .st = st};
	/* Profiles: "tight" keeps few packets in flight so one-byte windows (hwin 64) dominate;
	 * "long" runs far enough for a two-byte straggler (hwin 8192) to be overtaken to its edge. */
	unsigned profile = (unsigned)below(&s.rng, 100);
	bool tight = profile < 25, lng = profile >= 90;
	uint64_t npk = lng ? 10000 + below(&s.rng, 10000) : 500 + below(&s.rng, 2500);
	unsigned startkind = (unsigned)below(&s.rng, 100);
	uint64_t start = 1;
	if (startkind >= 85) { /* ends at or just below 2^63 - 1 */
		start = LIMIT - npk - below(&s.rng, npk);
		st->high_starts++;
	} else if (startkind >= 70) { /* mid-session, anywhere */
		start = 2 + below(&s.rng, (uint64_t)1 << 62);
	}
	s.next = start;
	s.last = start + npk - 1 < LIMIT ? start + npk - 1 : LIMIT - 1;
	s.acked = s.largest = start - 1; /* everything before start was delivered and acked */
	s.rate = 1 + (unsigned)below(&s.rng, 16);
	s.lat = (unsigned)below(&s.rng, 40);
	s.jitter = (unsigned)below(&s.rng, 60);
	s.loss = (unsigned)below(&s.rng, 300);
	s.dup = (unsigned)below(&s.rng, 150);
	s.straggle = (unsigned)below(&s.rng, 60);
	s.straggle_max = 1 + (unsigned)below(&s.rng, 5000);
	s.ack_every = 1 + (unsigned)below(&s.rng, 8);
	s.ack_loss = (unsigned)below(&s.rng, 500);
	s.blackout_flip = chance(&s.rng, 250) ? 1 + (unsigned)below(&s.rng, 20) : 0;
	if (tight) {
		s.rate = 1;
		s.lat = (unsigned)below(&s.rng, 2);
		s.jitter = (unsigned)below(&s.rng, 3);
		s.ack_every = 1;
		s.ack_loss = (unsigned)below(&s.rng, 100);
		s.blackout_flip = 0;
	}

	size_t cap = 2 * npk + 2;
	s.p = malloc(cap * sizeof(*s.p));
	s.arrive.a = malloc(cap * sizeof(struct hent));
	s.deadline.a = malloc(cap * sizeof(struct hent));
	s.acks.a = malloc(cap * sizeof(struct hent));
	assert_non_null(s.p);
	assert_non_null(s.arrive.a);
	assert_non_null(s.deadline.a);
	assert_non_null(s.acks.a);

	for (s.now = 0;; s.now++) {
		if (s.blackout_flip && below(&s.rng, 1000) < s.blackout_flip)
			s.blackout = !s.blackout;
		while (s.acks.n && s.acks.a[0].key <= s.now) {
			uint64_t a = heap_pop(&s.acks).val;
			if (a > s.acked)
				s.acked = a;
		}
		for (uint64_t r = below(&s.rng, s.rate + 1); r && s.next <= s.last; r--)
			send_one(&s);
		while (s.arrive.n && s.arrive.a[0].key <= s.now)
			deliver(&s, heap_pop(&s.arrive).val);
		if (s.next > s.last) {
			if (!s.arrive.n)
				break;
			if (s.arrive.a[0].key > s.now + 1)
				s.now = s.arrive.a[0].key - 1; /* nothing else happens until then */
		}
	}
	for (size_t i = 0; i < s.np; i++)
		CHECK(s.p[i].done, "packet %" PRIu64 " never delivered", s.p[i].pn);
	free(s.p);
	free(s.arrive.a);
	free(s.deadline.a);
	free(s.acks.a);
}

static void test_channel(void **state)
{
	(void)state;
	struct stats st = {0};
	uint64_t one;
	if (seed_from_env(&one)) {
		run_sequence(one, &st);
		return;
	}
	uint64_t master = 0x706e77696e03;
	const unsigned nseq = 2000;
	for (unsigned i = 0; i < nseq; i++)
		run_sequence(splitmix64(&master), &st);
	print_message("channel: %u sequences, %" PRIu64 " sent, %" PRIu64 " decoded (%" PRIu64 " duplicates), "
		      "%" PRIu64 " arrived >= 64 behind, %" PRIu64 " at exactly hwin - 2 behind, max %" PRIu64
		      " behind (%" PRIu64 " forced out at their bound); window bytes 1..4: %" PRIu64 " %" PRIu64
		      " %" PRIu64 " %" PRIu64 "\n",
		      nseq, st.sent, st.decoded, st.dups, st.straggled, st.at_edge, st.max_behind, st.forced,
		      st.by_k[1], st.by_k[2], st.by_k[3], st.by_k[4]);
	/* the run covered what it claims to */
	assert_true(st.decoded > 2000000);
	assert_true(st.dups > 10000);
	assert_true(st.at_edge > 1000);
	assert_true(st.straggled > 1000);
	assert_true(st.max_behind > 8000); /* a straggler decoded from a 2-byte window's far edge */
	assert_true(st.by_k[1] > 0 && st.by_k[2] > 0 && st.by_k[3] > 0);
	assert_true(st.high_starts > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_span_boundaries),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_non_minimal),
		cmocka_unit_test(test_random_roundtrip),
		cmocka_unit_test(test_beyond_bound),
		cmocka_unit_test(test_channel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
