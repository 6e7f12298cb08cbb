/* stun.h - a STUN (RFC 5389 / 8489) message codec for Binding, with RFC 5780's NAT-discovery
 * attributes and RFC 3489's older ones, which deployed servers (Debian's stund among them) still send.
 *
 * The parser never reads outside the buffer it is given, copies nothing it does not need, and tells
 * its caller exactly why it refused a message (enum konce_stun_result).  Unknown attributes in the
 * comprehension-optional range (0x8000-0xffff) are skipped; unknown comprehension-required ones are
 * listed in the parsed message so that a server can answer 420 and a client can refuse the response.
 * MESSAGE-INTEGRITY is recognised and located but not verified: Binding without credentials never
 * needs it, and verifying it would need HMAC-SHA1, which libsodium does not offer.
 *
 * The builder writes into a caller-supplied buffer and reports overflow once, at the end.
 */
#ifndef KONCE_NAT_STUN_H
#define KONCE_NAT_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/wire.h"

enum konce_stun_result {
	KONCE_STUN_OK = 0,
	KONCE_STUN_SHORT,          /* fewer than 20 bytes */
	KONCE_STUN_NOT_STUN,       /* top two bits set, or length not a multiple of 4 */
	KONCE_STUN_BAD_LENGTH,     /* header length disagrees with the datagram */
	KONCE_STUN_ATTR_TRUNCATED, /* an attribute runs past the end of the message */
	KONCE_STUN_BAD_ATTR,       /* a known attribute has a malformed value */
	KONCE_STUN_BAD_FINGERPRINT, /* FINGERPRINT present and wrong */
	KONCE_STUN_AFTER_FINGERPRINT, /* attributes follow FINGERPRINT */
};

enum { KONCE_STUN_MAX_UNKNOWN = 8, KONCE_STUN_SOFTWARE_MAX = 128 };

typedef struct konce_stun_msg {
	uint16_t type;
	uint16_t length;            /* attribute bytes, from the header */
	uint32_t cookie;            /* KONCE_STUN_MAGIC_COOKIE unless an RFC 3489 peer sent it */
	uint8_t txid[KONCE_STUN_TXID];

	bool has_xor_mapped, has_mapped, has_other, has_origin, has_change, has_response_port;
	bool other_is_changed_address; /* has_other came from RFC 3489 CHANGED-ADDRESS */
	bool origin_is_source_address; /* has_origin came from RFC 3489 SOURCE-ADDRESS */
	bool has_software, has_error, has_integrity, has_fingerprint;
	konce_addr xor_mapped, mapped, other, origin;
	uint32_t change;            /* KONCE_STUN_CHANGE_* bits */
	uint16_t response_port;
	uint16_t error_code;        /* 300..699 */
	size_t integrity_offset;    /* where MESSAGE-INTEGRITY's header starts */
	char software[KONCE_STUN_SOFTWARE_MAX + 1]; /* NUL-terminated, truncated, bytes as sent */

	unsigned n_unknown_required; /* how many; the first KONCE_STUN_MAX_UNKNOWN are listed */
	uint16_t unknown_required[KONCE_STUN_MAX_UNKNOWN];
	unsigned n_unknown_optional;
	unsigned n_attrs;           /* every attribute seen, known or not */
} konce_stun_msg;

/* True if buf could be a STUN message (the cheap demultiplexing test of RFC 5389 section 7.3). */
bool konce_stun_is_candidate(const uint8_t *buf, size_t len);

enum konce_stun_result konce_stun_parse(konce_stun_msg *m, const uint8_t *buf, size_t len);
const char *konce_stun_result_str(enum konce_stun_result r);

/* The reflexive address a response carries: XOR-MAPPED-ADDRESS if present, else MAPPED-ADDRESS.
 * NULL if neither. */
const konce_addr *konce_stun_mapped(const konce_stun_msg *m);

/* CRC-32 (ISO-HDLC, as zlib computes it). */
uint32_t konce_stun_crc32(const uint8_t *buf, size_t len);

typedef struct konce_stun_builder {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
} konce_stun_builder;

/* The answer a Binding server gives to the request req, which arrived from seen_src and is answered
 * from origin; other is the server's alternate address (RFC 5780 OTHER-ADDRESS) or NULL.  An RFC 3489
 * request (no magic cookie) gets the attributes an RFC 3489 client understands: MAPPED-ADDRESS,
 * SOURCE-ADDRESS, CHANGED-ADDRESS.  A request with unknown comprehension-required attributes gets a
 * 420 error listing them.  Returns the answer's length, 0 if req deserves no answer (not a Binding
 * request), or -ENOSPC. */
int konce_stun_answer(uint8_t *out, size_t cap, const konce_stun_msg *req, const konce_addr *seen_src,
		      const konce_addr *origin, const konce_addr *other, const char *software);

/* A Binding request with a fresh transaction id from the caller; change is KONCE_STUN_CHANGE_* bits
 * (0: no CHANGE-REQUEST), response_port 0 for none.  Returns the length or -ENOSPC. */
int konce_stun_request(uint8_t *out, size_t cap, const uint8_t txid[KONCE_STUN_TXID], uint32_t change,
		       uint16_t response_port, const char *software);

/* Starts a message.  cookie is normally KONCE_STUN_MAGIC_COOKIE; a server echoes whatever an
 * RFC 3489 client sent.  XOR addresses are masked with the 16 bytes cookie || txid. */
void konce_stun_build_start(konce_stun_builder *b, uint8_t *buf, size_t cap, uint16_t type, uint32_t cookie,
			    const uint8_t txid[KONCE_STUN_TXID]);
void konce_stun_add_addr(konce_stun_builder *b, uint16_t attr, const konce_addr *a); /* XOR form by type */
void konce_stun_add_u32(konce_stun_builder *b, uint16_t attr, uint32_t v);
void konce_stun_add_bytes(konce_stun_builder *b, uint16_t attr, const void *data, size_t len);
void konce_stun_add_error(konce_stun_builder *b, uint16_t code, const char *reason);
/* FINGERPRINT must be the last attribute added. */
void konce_stun_add_fingerprint(konce_stun_builder *b);
/* The message length, or -ENOSPC if anything did not fit. */
int konce_stun_build_finish(konce_stun_builder *b);

#endif
