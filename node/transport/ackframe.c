/* ackframe.c - ACK frame encode and decode (see ackframe.h). */
#include "node/transport/ackframe.h"

#include "node/base/varint.h"

bool konce_ack_valid(const konce_ack *a)
{
	if (a->nranges < 1 || a->nranges > KONCE_ACK_MAX_RANGES)
		return false;
	for (size_t i = 0; i < a->nranges; i++) {
		const konce_ack_range *r = &a->ranges[i];
		if (r->lo < 1 || r->lo > r->hi || r->hi > KONCE_VARINT_MAX)
			return false;
		if (i > 0 && r->hi + 1 >= a->ranges[i - 1].lo)
			return false;
	}
	return true;
}

bool konce_ack_contains(const konce_ack *a, uint64_t pn)
{
	for (size_t i = 0; i < a->nranges; i++) {
		if (pn > a->ranges[i].hi)
			return false;
		if (pn >= a->ranges[i].lo)
			return true;
	}
	return false;
}

size_t konce_ackframe_encode(uint8_t *out, size_t cap, const konce_ack *a, size_t *nencoded)
{
	if (nencoded)
		*nencoded = 0;
	if (!konce_ack_valid(a))
		return 0;
	uint64_t credit = a->credit > KONCE_VARINT_MAX ? KONCE_VARINT_MAX : a->credit;
	size_t tail = a->has_owd ? KONCE_ACK_OWD_SIZE : 0;
	size_t n = 0, w;

	if (cap < 1 + tail)
		return 0;
	cap -= tail; /* keep room for the owd sample whatever the ranges take */
	out[n++] = a->has_owd ? KONCE_FRAME_ACK_OWD : KONCE_FRAME_ACK;
	uint64_t fields[3] = {a->ranges[0].hi, a->ack_delay_us >> KONCE_ACK_DELAY_EXPONENT, credit};
	for (int i = 0; i < 3; i++) {
		if (!(w = konce_varint_put(out + n, cap - n, fields[i])))
			return 0;
		n += w;
	}
	if (!(w = konce_varint_put(out + n, cap - n, a->ranges[0].hi - a->ranges[0].lo)))
		return 0;
	n += w;
	/* KONCE_ACK_MAX_RANGES < 64, so the count is one byte whatever value it ends up with. */
	if (n >= cap)
		return 0;
	size_t count_at = n++, done = 1;
	for (; done < a->nranges; done++) {
		const konce_ack_range *r = &a->ranges[done];
		uint64_t gap = a->ranges[done - 1].lo - r->hi - 2, len = r->hi - r->lo;
		size_t gw = konce_varint_len(gap), lw = konce_varint_len(len);
		if (n + gw + lw > cap)
			break;
		n += konce_varint_put(out + n, cap - n, gap);
		n += konce_varint_put(out + n, cap - n, len);
	}
	out[count_at] = (uint8_t)(done - 1);
	if (a->has_owd) {
		wire_put32(out + n, a->owd);
		n += KONCE_ACK_OWD_SIZE;
	}
	if (nencoded)
		*nencoded = done;
	return n;
}

size_t konce_ackframe_decode(const uint8_t *p, size_t avail, konce_ack *a)
{
	uint64_t largest, delay, credit, first, count, gap, len;
	size_t n = 1, w;

	if (avail < KONCE_ACK_MIN_SIZE || (p[0] != KONCE_FRAME_ACK && p[0] != KONCE_FRAME_ACK_OWD))
		return 0;
#define GET(v)                                                   \
	do {                                                     \
		if (!(w = konce_varint_get(p + n, avail - n, &(v)))) \
			return 0;                                \
		n += w;                                          \
	} while (0)
	GET(largest);
	GET(delay);
	GET(credit);
	GET(first);
	GET(count);
	if (delay > (UINT64_MAX >> KONCE_ACK_DELAY_EXPONENT) || first >= largest ||
	    count >= KONCE_ACK_MAX_RANGES)
		return 0;
	a->ack_delay_us = delay << KONCE_ACK_DELAY_EXPONENT;
	a->credit = credit;
	a->ranges[0].hi = largest;
	a->ranges[0].lo = largest - first;
	a->nranges = 1;
	for (uint64_t i = 0; i < count; i++) {
		GET(gap);
		GET(len);
		uint64_t prev_lo = a->ranges[a->nranges - 1].lo;
		/* hi = prev_lo - gap - 2 must be >= 1, and lo = hi - len too. */
		if (prev_lo < 3 || gap > prev_lo - 3)
			return 0;
		uint64_t hi = prev_lo - gap - 2;
		if (len >= hi)
			return 0;
		a->ranges[a->nranges].hi = hi;
		a->ranges[a->nranges].lo = hi - len;
		a->nranges++;
	}
#undef GET
	a->has_owd = p[0] == KONCE_FRAME_ACK_OWD;
	a->owd = 0;
	if (a->has_owd) {
		if (avail - n < KONCE_ACK_OWD_SIZE)
			return 0;
		a->owd = wire_get32(p + n);
		n += KONCE_ACK_OWD_SIZE;
	}
	return n;
}

size_t konce_timestamp_encode(uint8_t *out, size_t cap, uint32_t ts)
{
	if (cap < KONCE_TIMESTAMP_SIZE)
		return 0;
	out[0] = KONCE_FRAME_TIMESTAMP;
	wire_put32(out + 1, ts);
	return KONCE_TIMESTAMP_SIZE;
}

size_t konce_timestamp_decode(const uint8_t *p, size_t avail, uint32_t *ts)
{
	if (avail < KONCE_TIMESTAMP_SIZE || p[0] != KONCE_FRAME_TIMESTAMP)
		return 0;
	*ts = wire_get32(p + 1);
	return KONCE_TIMESTAMP_SIZE;
}
