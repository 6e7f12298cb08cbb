/* stun.c - STUN Binding codec (see stun.h). */
#include "nat/stun.h"

#include <errno.h>
#include <string.h>

/* Bitwise, table-free CRC-32: a STUN message is checked once per datagram and is at most a few
 * hundred bytes, so a 1 KiB table (or linking zlib for one function) buys nothing here. */
uint32_t konce_stun_crc32(const uint8_t *buf, size_t len)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

bool konce_stun_is_candidate(const uint8_t *buf, size_t len)
{
	return len >= KONCE_STUN_HEADER && (buf[0] & 0xc0) == 0 && (buf[3] & 3) == 0;
}

const char *konce_stun_result_str(enum konce_stun_result r)
{
	switch (r) {
	case KONCE_STUN_OK: return "ok";
	case KONCE_STUN_SHORT: return "truncated (shorter than a STUN header)";
	case KONCE_STUN_NOT_STUN: return "not a STUN message";
	case KONCE_STUN_BAD_LENGTH: return "length field disagrees with the datagram";
	case KONCE_STUN_ATTR_TRUNCATED: return "attribute runs past the end of the message";
	case KONCE_STUN_BAD_ATTR: return "malformed attribute value";
	case KONCE_STUN_BAD_FINGERPRINT: return "FINGERPRINT does not match";
	case KONCE_STUN_AFTER_FINGERPRINT: return "attributes after FINGERPRINT";
	}
	return "unknown result";
}

/* MAPPED-ADDRESS shape: 0 || family || port || address; XOR variants masked with cookie || txid. */
static bool parse_addr(konce_addr *a, const uint8_t *v, size_t len, const uint8_t *mask)
{
	if (len < 4)
		return false;
	uint8_t ip[16];
	uint16_t port = wire_get16(v + 2);
	if (mask)
		port ^= wire_get16(mask);
	if (v[1] == KONCE_STUN_FAMILY_V4 && len == 8) {
		for (int i = 0; i < 4; i++)
			ip[i] = (uint8_t)(v[4 + i] ^ (mask ? mask[i] : 0));
		konce_addr_from_v4(a, ip, port);
		return true;
	}
	if (v[1] == KONCE_STUN_FAMILY_V6 && len == 20) {
		for (int i = 0; i < 16; i++)
			ip[i] = (uint8_t)(v[4 + i] ^ (mask ? mask[i] : 0));
		konce_addr_from_v6(a, ip, port);
		return true;
	}
	return false;
}

static void note_unknown(konce_stun_msg *m, uint16_t type)
{
	if (type >= KONCE_STUN_A_OPTIONAL_MIN) {
		m->n_unknown_optional++;
		return;
	}
	if (m->n_unknown_required < KONCE_STUN_MAX_UNKNOWN)
		m->unknown_required[m->n_unknown_required] = type;
	m->n_unknown_required++;
}

/* One attribute; false if its value is malformed. */
static bool parse_attr(konce_stun_msg *m, uint16_t type, const uint8_t *v, size_t len, const uint8_t *mask)
{
	switch (type) {
	case KONCE_STUN_A_XOR_MAPPED_ADDRESS:
	case KONCE_STUN_A_XOR_MAPPED_ADDRESS_OLD:
		if (m->has_xor_mapped)
			return true; /* the first one counts (RFC 5389 section 15) */
		return (m->has_xor_mapped = parse_addr(&m->xor_mapped, v, len, mask));
	case KONCE_STUN_A_MAPPED_ADDRESS:
		if (m->has_mapped)
			return true;
		return (m->has_mapped = parse_addr(&m->mapped, v, len, NULL));
	case KONCE_STUN_A_OTHER_ADDRESS:
	case KONCE_STUN_A_CHANGED_ADDRESS:
		if (m->has_other && !m->other_is_changed_address)
			return true; /* OTHER-ADDRESS wins over the older CHANGED-ADDRESS */
		m->other_is_changed_address = type == KONCE_STUN_A_CHANGED_ADDRESS;
		return (m->has_other = parse_addr(&m->other, v, len, NULL));
	case KONCE_STUN_A_RESPONSE_ORIGIN:
	case KONCE_STUN_A_SOURCE_ADDRESS:
		if (m->has_origin && !m->origin_is_source_address)
			return true;
		m->origin_is_source_address = type == KONCE_STUN_A_SOURCE_ADDRESS;
		return (m->has_origin = parse_addr(&m->origin, v, len, NULL));
	case KONCE_STUN_A_CHANGE_REQUEST:
		if (len != 4)
			return false;
		m->has_change = true;
		m->change = wire_get32(v);
		return true;
	case KONCE_STUN_A_RESPONSE_PORT:
		if (len != 4)
			return false;
		m->has_response_port = true;
		m->response_port = wire_get16(v);
		return true;
	case KONCE_STUN_A_SOFTWARE: {
		size_t n = len < KONCE_STUN_SOFTWARE_MAX ? len : KONCE_STUN_SOFTWARE_MAX;
		memcpy(m->software, v, n);
		m->software[n] = '\0';
		m->has_software = true;
		return true;
	}
	case KONCE_STUN_A_ERROR_CODE:
		if (len < 4 || v[2] > 6 || v[2] < 3 || v[3] > 99)
			return false;
		m->has_error = true;
		m->error_code = (uint16_t)(v[2] * 100 + v[3]);
		return true;
	case KONCE_STUN_A_RESPONSE_ADDRESS:
	case KONCE_STUN_A_USERNAME:
	case KONCE_STUN_A_UNKNOWN_ATTRIBUTES:
	case KONCE_STUN_A_REALM:
	case KONCE_STUN_A_NONCE:
	case KONCE_STUN_A_PADDING:
	case KONCE_STUN_A_ALTERNATE_SERVER:
		return true; /* understood, not needed for Binding without credentials */
	default:
		note_unknown(m, type);
		return true;
	}
}

enum konce_stun_result konce_stun_parse(konce_stun_msg *m, const uint8_t *buf, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len < KONCE_STUN_HEADER)
		return KONCE_STUN_SHORT;
	if (!konce_stun_is_candidate(buf, len))
		return KONCE_STUN_NOT_STUN;
	m->type = wire_get16(buf);
	m->length = wire_get16(buf + 2);
	m->cookie = wire_get32(buf + 4);
	memcpy(m->txid, buf + 8, KONCE_STUN_TXID);
	if ((size_t)m->length + KONCE_STUN_HEADER != len)
		return KONCE_STUN_BAD_LENGTH;

	const uint8_t *mask = buf + 4; /* cookie || txid */
	size_t off = KONCE_STUN_HEADER;
	while (off < len) {
		if (m->has_fingerprint)
			return KONCE_STUN_AFTER_FINGERPRINT;
		if (len - off < KONCE_STUN_ATTR_HEADER)
			return KONCE_STUN_ATTR_TRUNCATED;
		uint16_t type = wire_get16(buf + off);
		size_t alen = wire_get16(buf + off + 2);
		size_t padded = (alen + 3) & ~(size_t)3;
		if (padded > len - off - KONCE_STUN_ATTR_HEADER)
			return KONCE_STUN_ATTR_TRUNCATED;
		const uint8_t *v = buf + off + KONCE_STUN_ATTR_HEADER;
		m->n_attrs++;
		if (type == KONCE_STUN_A_FINGERPRINT) {
			if (alen != 4)
				return KONCE_STUN_BAD_ATTR;
			if (wire_get32(v) != (konce_stun_crc32(buf, off) ^ KONCE_STUN_FINGERPRINT_XOR))
				return KONCE_STUN_BAD_FINGERPRINT;
			m->has_fingerprint = true;
		} else if (type == KONCE_STUN_A_MESSAGE_INTEGRITY) {
			if (alen != 20)
				return KONCE_STUN_BAD_ATTR;
			if (!m->has_integrity) {
				m->has_integrity = true;
				m->integrity_offset = off;
			}
		} else if (!m->has_integrity) {
			/* attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored */
			if (!parse_attr(m, type, v, alen, mask))
				return KONCE_STUN_BAD_ATTR;
		}
		off += KONCE_STUN_ATTR_HEADER + padded;
	}
	return KONCE_STUN_OK;
}

const konce_addr *konce_stun_mapped(const konce_stun_msg *m)
{
	if (m->has_xor_mapped)
		return &m->xor_mapped;
	return m->has_mapped ? &m->mapped : NULL;
}

void konce_stun_build_start(konce_stun_builder *b, uint8_t *buf, size_t cap, uint16_t type, uint32_t cookie,
			    const uint8_t txid[KONCE_STUN_TXID])
{
	b->buf = buf;
	b->cap = cap;
	b->len = KONCE_STUN_HEADER;
	b->overflow = cap < KONCE_STUN_HEADER;
	if (b->overflow)
		return;
	wire_put16(buf, type);
	wire_put16(buf + 2, 0);
	wire_put32(buf + 4, cookie);
	memcpy(buf + 8, txid, KONCE_STUN_TXID);
}

/* Reserves an attribute of value length len (zero padding included); NULL on overflow. */
static uint8_t *add_attr(konce_stun_builder *b, uint16_t attr, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	if (b->overflow || len > 0xffff || b->cap - b->len < KONCE_STUN_ATTR_HEADER + padded ||
	    b->len - KONCE_STUN_HEADER + KONCE_STUN_ATTR_HEADER + padded > 0xffff) {
		b->overflow = true;
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	wire_put16(p, attr);
	wire_put16(p + 2, (uint16_t)len);
	memset(p + KONCE_STUN_ATTR_HEADER, 0, padded);
	b->len += KONCE_STUN_ATTR_HEADER + padded;
	wire_put16(b->buf + 2, (uint16_t)(b->len - KONCE_STUN_HEADER));
	return p + KONCE_STUN_ATTR_HEADER;
}

void konce_stun_add_addr(konce_stun_builder *b, uint16_t attr, const konce_addr *a)
{
	bool v4 = konce_addr_is_v4(a);
	bool x = attr == KONCE_STUN_A_XOR_MAPPED_ADDRESS || attr == KONCE_STUN_A_XOR_MAPPED_ADDRESS_OLD;
	uint8_t *v = add_attr(b, attr, v4 ? 8 : 20);
	if (!v)
		return;
	const uint8_t *mask = b->buf + 4;
	const uint8_t *ip = v4 ? a->ip + 12 : a->ip;
	size_t n = v4 ? 4 : 16;
	v[1] = v4 ? KONCE_STUN_FAMILY_V4 : KONCE_STUN_FAMILY_V6;
	wire_put16(v + 2, (uint16_t)(a->port ^ (x ? wire_get16(mask) : 0)));
	for (size_t i = 0; i < n; i++)
		v[4 + i] = (uint8_t)(ip[i] ^ (x ? mask[i] : 0));
}

void konce_stun_add_u32(konce_stun_builder *b, uint16_t attr, uint32_t val)
{
	uint8_t *v = add_attr(b, attr, 4);
	if (v)
		wire_put32(v, val);
}

void konce_stun_add_bytes(konce_stun_builder *b, uint16_t attr, const void *data, size_t len)
{
	uint8_t *v = add_attr(b, attr, len);
	if (v && len)
		memcpy(v, data, len);
}

void konce_stun_add_error(konce_stun_builder *b, uint16_t code, const char *reason)
{
	size_t rlen = strlen(reason);
	if (rlen > 763)
		rlen = 763; /* RFC 5389: reason phrase < 128 characters, <= 763 bytes */
	uint8_t *v = add_attr(b, KONCE_STUN_A_ERROR_CODE, 4 + rlen);
	if (!v)
		return;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, rlen);
}

void konce_stun_add_fingerprint(konce_stun_builder *b)
{
	/* the length in the header must already count FINGERPRINT when the CRC is taken */
	size_t at = b->len;
	uint8_t *v = add_attr(b, KONCE_STUN_A_FINGERPRINT, 4);
	if (v)
		wire_put32(v, konce_stun_crc32(b->buf, at) ^ KONCE_STUN_FINGERPRINT_XOR);
}

int konce_stun_build_finish(konce_stun_builder *b)
{
	if (b->overflow)
		return -ENOSPC;
	return (int)b->len;
}
