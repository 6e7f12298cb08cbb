/* hs_packets.c - bounds-checked build/parse of handshake packets (see hs_packets.h, wire.h). */
#include "node/transport/hs_packets.h"

#include <errno.h>
#include <string.h>

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * COOKIE and INITIATE share bytes [KONCE_COOKIE_VERSION, KONCE_COOKIE_RESERVED): the INITIATE echoes
 * the cookie fields its MAC covers, at the same offsets.  One writer and one reader serve both.
 */
#define SAME_OFFSET(f) ((int)KONCE_INIT_##f == (int)KONCE_COOKIE_##f)
_Static_assert(SAME_OFFSET(VERSION) && SAME_OFFSET(CLIENT_CID) && SAME_OFFSET(CLIENT_TIME) && SAME_OFFSET(CHALLENGE) &&
		       SAME_OFFSET(SERVER_TIME) && SAME_OFFSET(POW_BITS) && SAME_OFFSET(KEY_ID),
	       "COOKIE and INITIATE echo fields must share offsets");
#undef SAME_OFFSET

static void echo_put(uint8_t *out, uint16_t version, const uint8_t client_cid[KONCE_WIRE_CID], uint64_t client_time,
		     uint64_t challenge, uint64_t server_time, uint8_t pow_bits, uint8_t key_id)
{
	wire_put16(out + KONCE_COOKIE_VERSION, version);
	memcpy(out + KONCE_COOKIE_CLIENT_CID, client_cid, KONCE_WIRE_CID);
	wire_put64(out + KONCE_COOKIE_CLIENT_TIME, client_time);
	wire_put64(out + KONCE_COOKIE_CHALLENGE, challenge);
	wire_put64(out + KONCE_COOKIE_SERVER_TIME, server_time);
	out[KONCE_COOKIE_POW_BITS] = pow_bits;
	out[KONCE_COOKIE_KEY_ID] = key_id;
}

/* -EINVAL for version 0 or a proof-of-work demand above KONCE_WIRE_POW_MAX_BITS. */
static int echo_get(const uint8_t *p, uint16_t *version, uint8_t client_cid[KONCE_WIRE_CID], uint64_t *client_time,
		    uint64_t *challenge, uint64_t *server_time, uint8_t *pow_bits, uint8_t *key_id)
{
	*version = wire_get16(p + KONCE_COOKIE_VERSION);
	*pow_bits = p[KONCE_COOKIE_POW_BITS];
	if (*version == 0 || *pow_bits > KONCE_WIRE_POW_MAX_BITS)
		return -EINVAL;
	memcpy(client_cid, p + KONCE_COOKIE_CLIENT_CID, KONCE_WIRE_CID);
	*client_time = wire_get64(p + KONCE_COOKIE_CLIENT_TIME);
	*challenge = wire_get64(p + KONCE_COOKIE_CHALLENGE);
	*server_time = wire_get64(p + KONCE_COOKIE_SERVER_TIME);
	*key_id = p[KONCE_COOKIE_KEY_ID];
	return 0;
}

uint16_t konce_versions_at(const konce_versions *v, unsigned i) { return wire_get16(v->raw + 2 * i); }

int konce_versions_check(const konce_versions *v)
{
	if (v->n < 1 || v->n > KONCE_WIRE_MAX_VERSIONS)
		return -EINVAL;
	for (unsigned i = 0; i < KONCE_WIRE_MAX_VERSIONS; i++)
		if ((konce_versions_at(v, i) != 0) != (i < v->n))
			return -EINVAL;
	return 0;
}

bool konce_versions_has(const konce_versions *v, uint16_t version)
{
	for (unsigned i = 0; i < v->n && i < KONCE_WIRE_MAX_VERSIONS; i++)
		if (konce_versions_at(v, i) == version)
			return true;
	return false;
}

int konce_versions_set(konce_versions *v, const uint16_t *list, unsigned n)
{
	if (n < 1 || n > KONCE_WIRE_MAX_VERSIONS)
		return -EINVAL;
	memset(v, 0, sizeof *v);
	v->n = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		if (list[i] == 0)
			return -EINVAL;
		wire_put16(v->raw + 2 * i, list[i]);
	}
	return 0;
}

size_t konce_hello_build(uint8_t out[KONCE_HELLO_SIZE], const konce_hello *h)
{
	memset(out, 0, KONCE_HELLO_SIZE);
	out[KONCE_HELLO_TYPE] = KONCE_PKT_HELLO;
	out[KONCE_HELLO_FLAGS] = h->flags;
	out[KONCE_HELLO_NVERSIONS] = h->versions.n;
	memcpy(out + KONCE_HELLO_VERSIONS, h->versions.raw, sizeof h->versions.raw);
	wire_put64(out + KONCE_HELLO_CLIENT_TIME, h->client_time);
	memcpy(out + KONCE_HELLO_CLIENT_CID, h->client_cid, KONCE_WIRE_CID);
	if (h->flags & KONCE_HELLO_F_CLUE)
		memcpy(out + KONCE_HELLO_CLUE, h->clue, KONCE_WIRE_CLUE);
	return KONCE_HELLO_SIZE;
}

int konce_hello_parse(konce_hello *h, const uint8_t *p, size_t len)
{
	if (len != KONCE_HELLO_SIZE || p[KONCE_HELLO_TYPE] != KONCE_PKT_HELLO)
		return -EINVAL;
	memset(h, 0, sizeof *h);
	h->flags = p[KONCE_HELLO_FLAGS];
	if ((h->flags & ~KONCE_HELLO_F_CLUE) || p[KONCE_HELLO_RESERVED])
		return -EINVAL;
	h->versions.n = p[KONCE_HELLO_NVERSIONS];
	memcpy(h->versions.raw, p + KONCE_HELLO_VERSIONS, sizeof h->versions.raw);
	if (konce_versions_check(&h->versions))
		return -EINVAL;
	h->client_time = wire_get64(p + KONCE_HELLO_CLIENT_TIME);
	memcpy(h->client_cid, p + KONCE_HELLO_CLIENT_CID, KONCE_WIRE_CID);
	memcpy(h->clue, p + KONCE_HELLO_CLUE, KONCE_WIRE_CLUE);
	if (!(h->flags & KONCE_HELLO_F_CLUE) && !all_zero(h->clue, KONCE_WIRE_CLUE))
		return -EINVAL;
	return 0;
}

size_t konce_cookie_build(uint8_t out[KONCE_COOKIE_SIZE], const konce_cookie_msg *c)
{
	memset(out, 0, KONCE_COOKIE_SIZE);
	out[KONCE_COOKIE_TYPE] = KONCE_PKT_COOKIE;
	out[KONCE_COOKIE_FLAGS] = c->flags;
	echo_put(out, c->version, c->client_cid, c->client_time, c->challenge, c->server_time, c->pow_bits, c->key_id);
	memcpy(out + KONCE_COOKIE_SERVER_EPK, c->epk, KONCE_WIRE_KEY);
	memcpy(out + KONCE_COOKIE_MAC, c->mac, KONCE_WIRE_MAC);
	return KONCE_COOKIE_SIZE;
}

int konce_cookie_parse(konce_cookie_msg *c, const uint8_t *p, size_t len)
{
	if (len != KONCE_COOKIE_SIZE || p[KONCE_COOKIE_TYPE] != KONCE_PKT_COOKIE)
		return -EINVAL;
	memset(c, 0, sizeof *c);
	c->flags = p[KONCE_COOKIE_FLAGS];
	if ((c->flags & ~KONCE_COOKIE_F_MASKED) || !all_zero(p + KONCE_COOKIE_RESERVED, 2))
		return -EINVAL;
	if (echo_get(p, &c->version, c->client_cid, &c->client_time, &c->challenge, &c->server_time, &c->pow_bits,
		     &c->key_id))
		return -EINVAL;
	memcpy(c->epk, p + KONCE_COOKIE_SERVER_EPK, KONCE_WIRE_KEY);
	memcpy(c->mac, p + KONCE_COOKIE_MAC, KONCE_WIRE_MAC);
	return 0;
}

size_t konce_initiate_build_head(uint8_t out[KONCE_INIT_BOX1], const konce_initiate *in)
{
	memset(out, 0, KONCE_INIT_BOX1);
	out[KONCE_INIT_TYPE] = KONCE_PKT_INITIATE;
	echo_put(out, in->version, in->client_cid, in->client_time, in->challenge, in->server_time, in->pow_bits,
		 in->key_id);
	out[KONCE_INIT_NVERSIONS] = in->versions.n;
	memcpy(out + KONCE_INIT_VERSIONS, in->versions.raw, sizeof in->versions.raw);
	memcpy(out + KONCE_INIT_MAC, in->mac, KONCE_WIRE_MAC);
	memcpy(out + KONCE_INIT_CLUE, in->clue, KONCE_WIRE_CLUE);
	memcpy(out + KONCE_INIT_CLIENT_EPK, in->client_epk, KONCE_WIRE_KEY);
	wire_put64(out + KONCE_INIT_POW_NONCE, in->pow_nonce);
	return KONCE_INIT_BOX1;
}

int konce_initiate_parse(konce_initiate *in, const uint8_t *p, size_t len)
{
	if (len < KONCE_INIT_MIN_SIZE || len > KONCE_WIRE_MAX_DATAGRAM || p[KONCE_INIT_TYPE] != KONCE_PKT_INITIATE)
		return -EINVAL;
	memset(in, 0, sizeof *in);
	if (p[KONCE_INIT_FLAGS] || p[KONCE_INIT_RESERVED])
		return -EINVAL;
	if (echo_get(p, &in->version, in->client_cid, &in->client_time, &in->challenge, &in->server_time,
		     &in->pow_bits, &in->key_id))
		return -EINVAL;
	in->versions.n = p[KONCE_INIT_NVERSIONS];
	memcpy(in->versions.raw, p + KONCE_INIT_VERSIONS, sizeof in->versions.raw);
	if (konce_versions_check(&in->versions) || !konce_versions_has(&in->versions, in->version))
		return -EINVAL;
	memcpy(in->mac, p + KONCE_INIT_MAC, KONCE_WIRE_MAC);
	memcpy(in->clue, p + KONCE_INIT_CLUE, KONCE_WIRE_CLUE);
	memcpy(in->client_epk, p + KONCE_INIT_CLIENT_EPK, KONCE_WIRE_KEY);
	in->pow_nonce = wire_get64(p + KONCE_INIT_POW_NONCE);
	in->box1 = p + KONCE_INIT_BOX1;
	in->box2 = p + KONCE_INIT_BOX2;
	in->box2_len = len - KONCE_INIT_BOX2;
	return 0;
}

size_t konce_accept_build_head(uint8_t out[KONCE_ACCEPT_BOX], const konce_accept *a)
{
	out[KONCE_ACCEPT_TYPE] = KONCE_PKT_ACCEPT;
	out[KONCE_ACCEPT_FLAGS] = 0;
	memcpy(out + KONCE_ACCEPT_CLIENT_CID, a->client_cid, KONCE_WIRE_CID);
	memcpy(out + KONCE_ACCEPT_SERVER_CID, a->server_cid, KONCE_WIRE_CID);
	return KONCE_ACCEPT_BOX;
}

int konce_accept_parse(konce_accept *a, const uint8_t *p, size_t len)
{
	if (len < KONCE_ACCEPT_MIN_SIZE || len > KONCE_WIRE_MAX_DATAGRAM || p[KONCE_ACCEPT_TYPE] != KONCE_PKT_ACCEPT ||
	    p[KONCE_ACCEPT_FLAGS])
		return -EINVAL;
	memcpy(a->client_cid, p + KONCE_ACCEPT_CLIENT_CID, KONCE_WIRE_CID);
	memcpy(a->server_cid, p + KONCE_ACCEPT_SERVER_CID, KONCE_WIRE_CID);
	a->box = p + KONCE_ACCEPT_BOX;
	a->box_len = len - KONCE_ACCEPT_BOX;
	return 0;
}

size_t konce_version_build(uint8_t out[KONCE_VERSION_SIZE], const konce_version_msg *v)
{
	memset(out, 0, KONCE_VERSION_SIZE);
	out[KONCE_VERSION_TYPE] = KONCE_PKT_VERSION;
	out[KONCE_VERSION_NVERSIONS] = v->versions.n;
	memcpy(out + KONCE_VERSION_CLIENT_CID, v->client_cid, KONCE_WIRE_CID);
	memcpy(out + KONCE_VERSION_VERSIONS, v->versions.raw, sizeof v->versions.raw);
	return KONCE_VERSION_SIZE;
}

int konce_version_parse(konce_version_msg *v, const uint8_t *p, size_t len)
{
	if (len != KONCE_VERSION_SIZE || p[KONCE_VERSION_TYPE] != KONCE_PKT_VERSION ||
	    !all_zero(p + KONCE_VERSION_RESERVED, 2))
		return -EINVAL;
	memset(v, 0, sizeof *v);
	v->versions.n = p[KONCE_VERSION_NVERSIONS];
	memcpy(v->versions.raw, p + KONCE_VERSION_VERSIONS, sizeof v->versions.raw);
	memcpy(v->client_cid, p + KONCE_VERSION_CLIENT_CID, KONCE_WIRE_CID);
	return konce_versions_check(&v->versions);
}

int konce_data_parse_hdr(konce_data_hdr *d, const uint8_t *p, size_t len)
{
	if (len < KONCE_DATA_MIN_SIZE || len > KONCE_PMTU_MAX || p[KONCE_DATA_TYPE] != KONCE_PKT_DATA)
		return -EINVAL;
	d->flags = p[KONCE_DATA_FLAGS];
	if (d->flags & ~KONCE_DATA_F_KEY_PHASE)
		return -EINVAL;
	memcpy(d->dcid, p + KONCE_DATA_DCID, KONCE_WIRE_CID);
	return 0;
}
