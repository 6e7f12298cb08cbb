/* test_handshake_vectors.c - exact bytes of HELLO, COOKIE, INITIATE (0 bits), ACCEPT and DATA
 * from fixed keys and randomness, built by the same functions the endpoint runs.  The vectors are
 * in docs/PROTOCOL.md too; an implementation in another language should reproduce them.
 *
 * Inputs (all fixed):
 *   client durable secret  32 x 0x01      server durable secret  32 x 0x02
 *   server transient secret 32 x 0x03     cookie MAC secret      32 x 0x04
 *   client transient secret 32 x 0x05     client 192.0.2.1:1000, versions {1}
 *   client_cid 11..11, client_time 1000 ms; challenge 0x0123456789abcdef, server_time 2000 ms,
 *   pow_bits 0, key_id 1, pow_nonce 0; server_cid 22..22
 *   box2 = MESSAGE "hello?"; ACCEPT carries MESSAGE "hi!"; DATA (client pn 2) carries MESSAGE "data"
 *   limited circulation: group key 32 x 0x06
 * Run with KONCE_PRINT_VECTORS=1 to print them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/transport/cookie.h"
#include "node/transport/frame.h"
#include "node/transport/group.h"
#include "node/transport/hs_crypto.h"
#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"
#include "node/transport/keys.h"
#include "node/transport/keyslab.h"
#include "node/transport/pow.h"
#include "node/transport/session.h"

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void check(const char *name, const uint8_t *p, size_t n, const char *want)
{
	char *h = malloc(2 * n + 1);
	assert_non_null(h);
	hex(h, p, n);
	if (getenv("KONCE_PRINT_VECTORS"))
		printf("%s (%zu bytes):\n%s\n", name, n, h);
	else
		assert_string_equal(h, want);
	free(h);
}

/* Expected bytes (hex). */
static const char *V_HELLO_HEAD = "010001000001000000000000000000000000000000000000000003e81111111111111111000000000000000000000000"
	"00000000";
static const char *V_COOKIE = "02000001111111111111111100000000000003e80123456789abcdef00000000000007d0000100005dfedd3b6bd47f6f"
	"a28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef2242b320b0f47be2d316c9f340de3374bb";
static const char *V_INITIATE = "03000001111111111111111100000000000003e80123456789abcdef00000000000007d0000101000001000000000000"
	"000000000000000042b320b0f47be2d316c9f340de3374bb0000000000000000000000000000000050a61409b1ddd032"
	"5e9b16b700e719e9772c07000b1bd7786e907c653d20495d0000000000000000daebd73b086fac5fa0495dc11dc5055f"
	"36191bbc69ae9f6170ff795ab191b4a2bbe0006964b7688ae834e5c2eeb74dc39b0a4192fc58043baee3942dc06bd4a2"
	"eff8ffe3fe22c96391732a59be34f892b2f38e90506cb919e7cfca23eaec1f138640d96812898a66b312c37277eaa867"
	"d0";
static const char *V_ACCEPT = "0400111111111111111122222222222222229bc162b093365d026fb1dc4bb3ffaa0b60912fd6077a";
static const char *V_CLUE = "64f2738d37be7a69dadebe6dac1d816a";
static const char *V_MASKED_EPK = "491428f07d5fb6507339c453b0274b0659c5ce7585430e92e9d61ea34d7970f4";
static const char *V_DATA = "0500222222222222222202f222557f012eb8cb6b26c8ecdb4b898c055ac4cc1c9be2";

static void test_vectors(void **state)
{
	(void)state;
	uint8_t secret[32];
	konce_identity *client, *server;
	memset(secret, 0x01, 32);
	assert_int_equal(konce_identity_from_secret(&client, secret), 0);
	memset(secret, 0x02, 32);
	assert_int_equal(konce_identity_from_secret(&server, secret), 0);
	uint8_t s_esk[32], s_epk[32], cookie_secret[32], c_esk[32];
	memset(s_esk, 0x03, 32);
	crypto_scalarmult_base(s_epk, s_esk);
	memset(cookie_secret, 0x04, 32);
	memset(c_esk, 0x05, 32);
	konce_addr caddr;
	konce_addr_parse(&caddr, "192.0.2.1:1000");

	/* HELLO */
	konce_hello h;
	memset(&h, 0, sizeof h);
	konce_versions_set(&h.versions, (const uint16_t[]){KONCE_VERSION_1}, 1);
	h.client_time = 1000;
	memset(h.client_cid, 0x11, 8);
	uint8_t hello[KONCE_HELLO_SIZE];
	assert_int_equal(konce_hello_build(hello, &h), KONCE_HELLO_SIZE);
	check("HELLO [0, 52); the rest is zero", hello, KONCE_HELLO_PADDING, V_HELLO_HEAD);
	for (size_t i = KONCE_HELLO_PADDING; i < KONCE_HELLO_SIZE; i++)
		assert_int_equal(hello[i], 0);

	/* COOKIE */
	konce_cookie_params p;
	memset(&p, 0, sizeof p);
	p.client = caddr;
	p.version = KONCE_VERSION_1;
	p.nversions = h.versions.n;
	memcpy(p.versions, h.versions.raw, sizeof p.versions);
	memcpy(p.client_cid, h.client_cid, 8);
	p.client_time = h.client_time;
	p.challenge = 0x0123456789abcdefull;
	p.server_time = 2000;
	p.pow_bits = 0;
	p.key_id = 1;
	konce_cookie_msg c;
	memset(&c, 0, sizeof c);
	c.version = p.version;
	memcpy(c.client_cid, p.client_cid, 8);
	c.client_time = p.client_time;
	c.challenge = p.challenge;
	c.server_time = p.server_time;
	c.pow_bits = p.pow_bits;
	c.key_id = p.key_id;
	memcpy(c.epk, s_epk, 32);
	konce_cookie_mac(c.mac, cookie_secret, &p);
	uint8_t cookie[KONCE_COOKIE_SIZE];
	assert_int_equal(konce_cookie_build(cookie, &c), KONCE_COOKIE_SIZE);
	check("COOKIE", cookie, sizeof cookie, V_COOKIE);

	/* INITIATE */
	konce_initiate in;
	memset(&in, 0, sizeof in);
	in.version = c.version;
	memcpy(in.client_cid, c.client_cid, 8);
	in.client_time = c.client_time;
	in.challenge = c.challenge;
	in.server_time = c.server_time;
	in.pow_bits = c.pow_bits;
	in.key_id = c.key_id;
	in.versions = h.versions;
	memcpy(in.mac, c.mac, 16);
	uint8_t frames[64], init[KONCE_WIRE_MAX_DATAGRAM], k_c2s[32], k_s2c[32];
	size_t flen = konce_frame_put_message(frames, sizeof frames, (const uint8_t *)"hello?", 6);
	size_t ilen = konce_hs_initiate_seal(init, &in, c_esk, s_epk, client, konce_identity_public(server), frames,
					     flen, k_c2s, k_s2c);
	assert_int_equal(ilen, KONCE_INIT_MIN_SIZE + flen);
	assert_true(konce_pow_check(init, ilen, 0));
	check("INITIATE", init, ilen, V_INITIATE);

	/* the server opens it: same keys, the client's durable key, the first message */
	konce_initiate parsed;
	assert_int_equal(konce_initiate_parse(&parsed, init, ilen), 0);
	assert_true(konce_cookie_mac_ok(parsed.mac, cookie_secret, &p));
	const konce_identity *ids[] = {server}, *S;
	uint8_t c_pub[32], sk_c2s[32], sk_s2c[32], plain[KONCE_WIRE_MAX_DATAGRAM];
	assert_int_equal(konce_hs_initiate_open(init, &parsed, s_esk, s_epk, ids, 1, c_pub, &S, sk_c2s, sk_s2c, plain),
			 KONCE_HS_OPEN_OK);
	assert_ptr_equal(S, server);
	assert_memory_equal(c_pub, konce_identity_public(client), 32);
	assert_memory_equal(sk_c2s, k_c2s, 32);
	assert_memory_equal(sk_s2c, k_s2c, 32);
	assert_memory_equal(plain, frames, flen);
	assert_memory_not_equal(k_c2s, k_s2c, 32);

	/* ACCEPT */
	uint8_t server_cid[8], accept[KONCE_WIRE_MAX_DATAGRAM];
	memset(server_cid, 0x22, 8);
	flen = konce_frame_put_message(frames, sizeof frames, (const uint8_t *)"hi!", 3);
	size_t alen = konce_hs_accept_seal(accept, in.client_cid, server_cid, frames, flen, sk_s2c);
	check("ACCEPT", accept, alen, V_ACCEPT);
	konce_accept a;
	assert_int_equal(konce_accept_parse(&a, accept, alen), 0);
	assert_int_equal(konce_hs_accept_open(accept, &a, k_s2c, plain), 0);
	assert_memory_equal(plain, frames, flen);

	/* DATA, client -> server, packet number 2 */
	konce_keyslab *slab;
	assert_int_equal(konce_keyslab_new(&slab, 2), 0);
	konce_session cs, ss;
	konce_session_init(&cs, konce_keyslab_slot(slab, 0), k_c2s, k_s2c, server_cid, 0);
	konce_session_init(&ss, konce_keyslab_slot(slab, 1), sk_s2c, sk_c2s, in.client_cid, 0);
	flen = konce_frame_put_message(frames, sizeof frames, (const uint8_t *)"data", 4);
	uint8_t data[KONCE_WIRE_MAX_DATAGRAM];
	size_t dlen = konce_session_seal(&cs, data, frames, flen, 0);
	check("DATA", data, dlen, V_DATA);
	size_t plen;
	uint64_t pn;
	assert_int_equal(konce_session_open(&ss, plain, &plen, &pn, data, dlen, 0), KONCE_SESS_OK);
	assert_int_equal(pn, 2);
	assert_memory_equal(plain, frames, flen);

	/* limited circulation, group key 32 x 0x06: the HELLO's clue and the COOKIE's masked point */
	uint8_t group[32], clue[16], masked[32];
	memset(group, 0x06, 32);
	konce_group_clue(clue, group, h.client_cid, h.client_time, &h.versions);
	check("CLUE", clue, 16, V_CLUE);
	memcpy(masked, s_epk, 32);
	konce_group_mask(masked, group, c.challenge);
	check("MASKED s_epk", masked, 32, V_MASKED_EPK);
	konce_group_mask(masked, group, c.challenge);
	assert_memory_equal(masked, s_epk, 32);
	h.flags = KONCE_HELLO_F_CLUE;
	memcpy(h.clue, clue, 16);
	assert_true(konce_group_clue_ok(&h, group));
	group[0] ^= 1;
	assert_false(konce_group_clue_ok(&h, group));

	konce_keyslab_free(slab);
	konce_identity_free(client);
	konce_identity_free(server);
}

/* The key schedule's building blocks, against values computed directly with libsodium. */
static void test_key_schedule(void **state)
{
	(void)state;
	uint8_t k[32], r[32], want[32];
	memset(k, 0x42, 32);
	konce_keys_rekey(r, k);
	crypto_generichash(want, 32, (const uint8_t *)"rekey", 5, k, 32);
	assert_memory_equal(r, want, 32);
	uint8_t th2[32], ee[32], es[32], se[32], c2s[32], s2c[32], prk[32], cat[96];
	memset(th2, 1, 32);
	memset(ee, 2, 32);
	memset(es, 3, 32);
	memset(se, 4, 32);
	konce_keys_session(c2s, s2c, th2, ee, es, se);
	memcpy(cat, ee, 32);
	memcpy(cat + 32, es, 32);
	memcpy(cat + 64, se, 32);
	crypto_generichash(prk, 32, cat, 96, th2, 32);
	crypto_generichash(want, 32, (const uint8_t *)"c2s", 3, prk, 32);
	assert_memory_equal(c2s, want, 32);
	crypto_generichash(want, 32, (const uint8_t *)"s2c", 3, prk, 32);
	assert_memory_equal(s2c, want, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_key_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
