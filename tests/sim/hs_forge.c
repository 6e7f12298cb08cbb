/* hs_forge.c - forged handshake packets for the simulator (hs_forge.h). */
#include "tests/sim/hs_forge.h"

#include <string.h>

void sim_rand_bytes(sim *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = sim_rand(s);
		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

size_t forge_hello(sim *s, const konce_versions *v, uint8_t out[KONCE_HELLO_SIZE])
{
	konce_hello h;
	memset(&h, 0, sizeof h);
	h.versions = *v;
	h.client_time = sim_now(s) / 1000;
	sim_rand_bytes(s, h.client_cid, sizeof h.client_cid);
	return konce_hello_build(out, &h);
}

size_t forge_initiate(sim *s, const konce_versions *v, uint8_t *pkt, const konce_cookie_msg *c, size_t len)
{
	konce_initiate in;
	memset(&in, 0, sizeof in);
	in.version = c->version;
	memcpy(in.client_cid, c->client_cid, KONCE_WIRE_CID);
	in.client_time = c->client_time;
	in.challenge = c->challenge;
	in.server_time = c->server_time;
	in.pow_bits = c->pow_bits;
	in.key_id = c->key_id;
	in.versions = *v;
	memcpy(in.mac, c->mac, KONCE_WIRE_MAC);
	sim_rand_bytes(s, in.client_epk, sizeof in.client_epk);
	konce_initiate_build_head(pkt, &in);
	sim_rand_bytes(s, pkt + KONCE_INIT_BOX1, len - KONCE_INIT_BOX1);
	return len;
}
