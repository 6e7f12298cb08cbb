/* varint.h - RFC 9000 variable-length integers, the integer encoding of the reliability frames.
 *
 * The two high bits of the first byte give the length (1, 2, 4 or 8 bytes); the other bits carry the
 * value, big-endian.  Encoders always pick the shortest form; decoders accept any form (a longer
 * than needed encoding is still the same number), so decode(encode(x)) == x but not the reverse.
 */
#ifndef KONCE_VARINT_H
#define KONCE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define KONCE_VARINT_MAX ((UINT64_C(1) << 62) - 1)

static inline size_t konce_varint_len(uint64_t v)
{
	if (v < 64)
		return 1;
	if (v < 16384)
		return 2;
	if (v < (UINT64_C(1) << 30))
		return 4;
	if (v <= KONCE_VARINT_MAX)
		return 8;
	return 0;
}

/* Writes v at p[0, cap); returns the bytes written, 0 if it does not fit or v > KONCE_VARINT_MAX. */
static inline size_t konce_varint_put(uint8_t *p, size_t cap, uint64_t v)
{
	size_t n = konce_varint_len(v);
	if (n == 0 || n > cap)
		return 0;
	for (size_t i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
	p[0] |= (uint8_t)((n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3) << 6);
	return n;
}

/* Reads a varint from p[0, avail); returns the bytes consumed, 0 if it runs past avail. */
static inline size_t konce_varint_get(const uint8_t *p, size_t avail, uint64_t *v)
{
	if (avail == 0)
		return 0;
	size_t n = (size_t)1 << (p[0] >> 6);
	if (n > avail)
		return 0;
	uint64_t x = p[0] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return n;
}

#endif
