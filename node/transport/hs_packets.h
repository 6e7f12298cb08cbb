/* hs_packets.h - build and parse the handshake packets (HELLO, COOKIE, INITIATE, ACCEPT, VERSION)
 * and the DATA header, to and from plain structs.
 *
 * Parsers check every bound and every field the layout in wire.h pins (type byte, exact or minimum
 * size, reserved bytes zero, known flags only, version lists well formed, proof-of-work demand in
 * range).  They do no cryptography and keep no state, so the fuzz targets call them directly.
 * Pointers a parser returns (box1, box2, box) point into the caller's packet.
 * Builders write exactly the layout; they never fail for a struct the parser produced, and
 * build(parse(p)) == p for every p the parser accepts (HELLO: but for its padding, which is
 * ignored on input and zero on output, so later versions can use it).
 */
#ifndef KONCE_HS_PACKETS_H
#define KONCE_HS_PACKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/wire.h"

/* A version list as it travels: nversions used slots of u16, unused slots zero. */
typedef struct konce_versions {
	uint8_t n;
	uint8_t raw[2 * KONCE_WIRE_MAX_VERSIONS];
} konce_versions;

/* 0 or -EINVAL: n in 1..8, used slots nonzero, unused slots zero. */
int konce_versions_check(const konce_versions *v);
uint16_t konce_versions_at(const konce_versions *v, unsigned i);
bool konce_versions_has(const konce_versions *v, uint16_t version);
/* From a host array; -EINVAL if n is 0, > 8, or a version is 0. */
int konce_versions_set(konce_versions *v, const uint16_t *list, unsigned n);

typedef struct konce_hello {
	uint8_t flags;
	konce_versions versions;
	uint64_t client_time;
	uint8_t client_cid[KONCE_WIRE_CID];
	uint8_t clue[KONCE_WIRE_CLUE];
} konce_hello;

typedef struct konce_cookie_msg {
	uint8_t flags;
	uint16_t version;
	uint8_t client_cid[KONCE_WIRE_CID];
	uint64_t client_time, challenge, server_time;
	uint8_t pow_bits, key_id;
	uint8_t epk[KONCE_WIRE_KEY];
	uint8_t mac[KONCE_WIRE_MAC];
} konce_cookie_msg;

typedef struct konce_initiate {
	uint16_t version;
	uint8_t client_cid[KONCE_WIRE_CID];
	uint64_t client_time, challenge, server_time;
	uint8_t pow_bits, key_id;
	konce_versions versions;
	uint8_t mac[KONCE_WIRE_MAC];
	uint8_t clue[KONCE_WIRE_CLUE];
	uint8_t client_epk[KONCE_WIRE_KEY];
	uint64_t pow_nonce;
	const uint8_t *box1; /* parse only: KONCE_INIT_BOX1_PLAIN + tag bytes */
	const uint8_t *box2; /* parse only */
	size_t box2_len;     /* >= KONCE_WIRE_TAG */
} konce_initiate;

typedef struct konce_accept {
	uint8_t client_cid[KONCE_WIRE_CID];
	uint8_t server_cid[KONCE_WIRE_CID];
	const uint8_t *box; /* parse only */
	size_t box_len;
} konce_accept;

typedef struct konce_version_msg {
	uint8_t client_cid[KONCE_WIRE_CID];
	konce_versions versions;
} konce_version_msg;

typedef struct konce_data_hdr {
	uint8_t flags;
	uint8_t dcid[KONCE_WIRE_CID];
} konce_data_hdr;

/* Builders return the bytes written. */
size_t konce_hello_build(uint8_t out[KONCE_HELLO_SIZE], const konce_hello *h);
size_t konce_cookie_build(uint8_t out[KONCE_COOKIE_SIZE], const konce_cookie_msg *c);
/* Writes the INITIATE head, bytes [0, KONCE_INIT_BOX1) including the pow nonce. */
size_t konce_initiate_build_head(uint8_t out[KONCE_INIT_BOX1], const konce_initiate *in);
/* Writes the ACCEPT head, bytes [0, KONCE_ACCEPT_BOX). */
size_t konce_accept_build_head(uint8_t out[KONCE_ACCEPT_BOX], const konce_accept *a);
size_t konce_version_build(uint8_t out[KONCE_VERSION_SIZE], const konce_version_msg *v);

/* Parsers: 0, or -EINVAL for anything the layout does not allow. */
int konce_hello_parse(konce_hello *h, const uint8_t *p, size_t len);
int konce_cookie_parse(konce_cookie_msg *c, const uint8_t *p, size_t len);
int konce_initiate_parse(konce_initiate *in, const uint8_t *p, size_t len);
int konce_accept_parse(konce_accept *a, const uint8_t *p, size_t len);
int konce_version_parse(konce_version_msg *v, const uint8_t *p, size_t len);
/* The fixed part of a DATA packet (type, flags, dcid, size bounds); the packet-number window that
 * follows is decoded by the session, which knows the largest number received. */
int konce_data_parse_hdr(konce_data_hdr *d, const uint8_t *p, size_t len);

#endif
