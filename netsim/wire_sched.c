/*
 * netsim/wire_sched.c: impairment decisions, the pending-frame heap and the settings parser of
 * netsim-wire (see wire_sched.h).  Pure: no I/O, no clock, randomness from the caller's RNG.
 */
#include "netsim/wire_sched.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, full period, good enough for impairment decisions. */
void nsw_rng_seed(struct nsw_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t nsw_rng_next(struct nsw_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int nsw_rng_chance(struct nsw_rng *r, uint32_t ppm)
{
	if (ppm == 0)
		return 0;
	if (ppm >= NSW_PPM)
		return 1;
	return nsw_rng_next(r) % NSW_PPM < ppm;
}

/* A uniform double in [0, 1) from the top 53 bits. */
static double unit(struct nsw_rng *r)
{
	return (double)(nsw_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Jitter offset in microseconds.  Normal: the sum of 12 uniforms minus 6 has mean 0 and variance 1
 * (Irwin-Hall), which needs no libm; clamped to +-3 sigma as netem's table roughly is. */
static int64_t jitter_sample(const struct nsw_imp *imp, struct nsw_rng *r)
{
	double j = (double)imp->jitter_us, x = 0;

	if (imp->jitter_us == 0)
		return 0;
	if (imp->dist == NSW_DIST_UNIFORM)
		return (int64_t)((unit(r) * 2.0 - 1.0) * j);
	for (int i = 0; i < 12; i++)
		x += unit(r);
	x -= 6.0;
	if (x > 3.0)
		x = 3.0;
	if (x < -3.0)
		x = -3.0;
	return (int64_t)(x * j);
}

unsigned nsw_decide(const struct nsw_imp *imp, struct nsw_rng *r, uint64_t now, uint64_t when[2],
		    unsigned *early)
{
	unsigned copies, i;

	*early = 0;
	if (nsw_rng_chance(r, imp->loss_ppm))
		return 0;
	copies = nsw_rng_chance(r, imp->dup_ppm) ? 2 : 1;
	for (i = 0; i < copies; i++) {
		int64_t d;

		if (nsw_rng_chance(r, imp->reorder_ppm)) {
			when[i] = now;
			(*early)++;
			continue;
		}
		d = (int64_t)imp->delay_us + jitter_sample(imp, r);
		when[i] = now + (d > 0 ? (uint64_t)d : 0);
	}
	return copies;
}

int nsw_heap_init(struct nsw_heap *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	if (cap == 0 || cap > SIZE_MAX / sizeof(*h->v))
		return -EINVAL;
	h->v = calloc(cap, sizeof(*h->v));
	if (!h->v)
		return -ENOMEM;
	h->cap = cap;
	return 0;
}

void nsw_heap_free(struct nsw_heap *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

static int before(const struct nsw_item *a, const struct nsw_item *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

int nsw_heap_push(struct nsw_heap *h, uint64_t when, void *frame, size_t len)
{
	size_t i;

	if (h->n == h->cap)
		return -ENOBUFS;
	i = h->n++;
	h->v[i] = (struct nsw_item){ .when = when, .seq = h->next_seq++, .frame = frame, .len = len };
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct nsw_item t;

		if (!before(&h->v[i], &h->v[p]))
			break;
		t = h->v[i];
		h->v[i] = h->v[p];
		h->v[p] = t;
		i = p;
	}
	return 0;
}

const struct nsw_item *nsw_heap_peek(const struct nsw_heap *h)
{
	return h->n ? &h->v[0] : NULL;
}

int nsw_heap_pop_due(struct nsw_heap *h, uint64_t now, struct nsw_item *out)
{
	size_t i = 0;

	if (h->n == 0 || h->v[0].when > now)
		return 0;
	*out = h->v[0];
	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct nsw_item t;

		if (l < h->n && before(&h->v[l], &h->v[m]))
			m = l;
		if (r < h->n && before(&h->v[r], &h->v[m]))
			m = r;
		if (m == i)
			break;
		t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
	return 1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Fixed point: "12.345" -> 12345 with decimals=3.  At most `decimals` fractional digits, and the
 * whole value at most `max` in those units.  Returns the number of characters used, or -1.
 */
static int parse_fixed(const char *s, size_t n, unsigned decimals, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	unsigned frac = 0, digits = 0;
	int dot = 0;

	if (n == 0 || s[0] < '0' || s[0] > '9')
		return -1;
	for (; i < n; i++) {
		if (s[i] == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			break;
		if (dot && ++frac > decimals)
			return -1;
		if (v > max)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		digits++;
	}
	if (digits == 0 || (dot && frac == 0))
		return -1;
	for (; frac < decimals; frac++) {
		if (v > max)
			return -1;
		v *= 10;
	}
	if (v > max)
		return -1;
	*out = v;
	return (int)i;
}

static int parse_time(const char *s, size_t n, uint64_t *us)
{
	uint64_t v; /* nanoseconds-free: value in millionths of the unit */
	uint64_t scale;
	int used = parse_fixed(s, n, 6, NSW_MAX_DELAY_US * 1000000ull, &v);
	size_t rest;

	if (used < 0)
		return -1;
	rest = n - (size_t)used;
	if (rest == 2 && memcmp(s + used, "us", 2) == 0)
		scale = 1;
	else if (rest == 2 && memcmp(s + used, "ms", 2) == 0)
		scale = 1000;
	else if (rest == 1 && s[used] == 's')
		scale = 1000000;
	else
		return -1;
	if (v / 1000000 * scale > NSW_MAX_DELAY_US)
		return -1;
	*us = v / 1000000 * scale + (v % 1000000) * scale / 1000000;
	return *us <= NSW_MAX_DELAY_US ? 0 : -1;
}

static int parse_pct(const char *s, size_t n, uint32_t *ppm)
{
	uint64_t v;
	int used = parse_fixed(s, n, 4, NSW_PPM, &v);

	if (used < 0)
		return -1;
	if ((size_t)used != n && !((size_t)used == n - 1 && s[used] == '%'))
		return -1;
	*ppm = (uint32_t)v;
	return 0;
}

/* One KEY=VALUE token (not NUL-terminated). */
static int parse_token(struct nsw_conf *c, const char *t, size_t n, char *err, size_t errlen)
{
	const char *eq = memchr(t, '=', n);
	const char *k = t, *v;
	size_t kn, vn;
	int lo = 0, hi = 1;

	if (!eq)
		return fail(err, errlen, "expected KEY=VALUE, got '%.*s'", (int)(n > 64 ? 64 : n), t);
	kn = (size_t)(eq - t);
	v = eq + 1;
	vn = n - kn - 1;
	if (kn > 3 && (memcmp(k, "ab.", 3) == 0 || memcmp(k, "ba.", 3) == 0)) {
		lo = hi = k[0] == 'b';
		k += 3;
		kn -= 3;
	}
	for (int d = lo; d <= hi; d++) {
		struct nsw_imp *imp = &c->dir[d];
		int bad;

		if (kn == 5 && memcmp(k, "delay", 5) == 0)
			bad = parse_time(v, vn, &imp->delay_us);
		else if (kn == 6 && memcmp(k, "jitter", 6) == 0)
			bad = parse_time(v, vn, &imp->jitter_us);
		else if (kn == 4 && memcmp(k, "loss", 4) == 0)
			bad = parse_pct(v, vn, &imp->loss_ppm);
		else if (kn == 9 && memcmp(k, "duplicate", 9) == 0)
			bad = parse_pct(v, vn, &imp->dup_ppm);
		else if (kn == 7 && memcmp(k, "reorder", 7) == 0)
			bad = parse_pct(v, vn, &imp->reorder_ppm);
		else if (kn == 4 && memcmp(k, "dist", 4) == 0) {
			bad = 0;
			if (vn == 6 && memcmp(v, "normal", 6) == 0)
				imp->dist = NSW_DIST_NORMAL;
			else if (vn == 7 && memcmp(v, "uniform", 7) == 0)
				imp->dist = NSW_DIST_UNIFORM;
			else
				bad = -1;
		} else
			return fail(err, errlen, "unknown key '%.*s' (delay jitter dist loss duplicate reorder)",
				    (int)(kn > 32 ? 32 : kn), k);
		if (bad)
			return fail(err, errlen, "bad value in '%.*s' (delay=40ms jitter=5ms dist=normal loss=1%%)",
				    (int)(n > 64 ? 64 : n), t);
	}
	return 0;
}

int nsw_conf_parse(struct nsw_conf *c, const char *text, size_t len, char *err, size_t errlen)
{
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	if (errlen)
		err[0] = '\0';
	while (i < len) {
		size_t start;
		int rc;

		if (text[i] == '#') {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
			i++;
			continue;
		}
		start = i;
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r' &&
		       text[i] != '#')
			i++;
		rc = parse_token(c, text + start, i - start, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int nsw_conf_format(const struct nsw_conf *c, char *out, size_t outlen)
{
	char dir[2][256];

	for (int d = 0; d < 2; d++) {
		const struct nsw_imp *m = &c->dir[d];
		const char *p = d ? "ba." : "ab.";

		snprintf(dir[d], sizeof(dir[d]),
			 "%sdelay=%lluus %sjitter=%lluus %sdist=%s %sloss=%u.%04u%% %sduplicate=%u.%04u%% "
			 "%sreorder=%u.%04u%%",
			 p, (unsigned long long)m->delay_us, p, (unsigned long long)m->jitter_us, p,
			 m->dist == NSW_DIST_UNIFORM ? "uniform" : "normal", p, m->loss_ppm / 10000,
			 m->loss_ppm % 10000, p, m->dup_ppm / 10000, m->dup_ppm % 10000, p,
			 m->reorder_ppm / 10000, m->reorder_ppm % 10000);
	}
	return snprintf(out, outlen, "%s\n%s\n", dir[0], dir[1]);
}
