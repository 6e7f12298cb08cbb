/* test_cookie.c - cookie MAC vector and binding, secret generations and their rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/transport/cookie.h"
#include "tests/unit/count_env.h"

#define ROT_US ((uint64_t)KONCE_KEY_ROTATE_MS * 1000)

static void vector_params(konce_cookie_params *p)
{
	memset(p, 0, sizeof(*p));
	const uint8_t ip4[4] = {192, 0, 2, 7};
	konce_addr_from_v4(&p->client, ip4, 7807);
	p->version = 1;
	p->nversions = 2;
	p->versions[1] = 1;
	p->versions[3] = 2;
	for (int i = 0; i < KONCE_WIRE_CID; i++)
		p->client_cid[i] = (uint8_t)(0xa0 + i);
	p->client_time = 0x0102030405060708ull;
	for (int i = 0; i < KONCE_WIRE_CLUE; i++)
		p->clue[i] = (uint8_t)(0xc0 + i);
	p->challenge = 0x7fffffff00000001ull;
	p->server_time = 123456789;
	p->pow_bits = 12;
	p->key_id = 0x42;
}

static void vector_secret(uint8_t s[KONCE_WIRE_KEY])
{
	for (int i = 0; i < KONCE_WIRE_KEY; i++)
		s[i] = (uint8_t)i;
}

/* Expected bytes computed independently (Python hashlib.blake2b(digest_size=16, key=00..1f) over the
 * 87-byte layout of wire.h), not by this code. */
static void test_mac_vector(void **state)
{
	(void)state;
	static const uint8_t want[KONCE_WIRE_MAC] = {0xf7, 0x14, 0x61, 0xa8, 0xf5, 0x96, 0x57, 0xf3,
						     0x3d, 0x29, 0xf7, 0xd0, 0xfc, 0x0e, 0x5a, 0xbc};
	konce_cookie_params p;
	uint8_t secret[KONCE_WIRE_KEY], mac[KONCE_WIRE_MAC];
	vector_params(&p);
	vector_secret(secret);
	konce_cookie_mac(mac, secret, &p);
	assert_memory_equal(mac, want, sizeof(want));
	assert_true(konce_cookie_mac_ok(want, secret, &p));
	for (int i = 0; i < KONCE_WIRE_MAC * 8; i++) {
		uint8_t bad[KONCE_WIRE_MAC];
		memcpy(bad, want, sizeof(bad));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_false(konce_cookie_mac_ok(bad, secret, &p));
	}
}

/* Each bound field, changed alone, changes the MAC. */
static void test_mac_binds_every_field(void **state)
{
	(void)state;
	konce_cookie_params base, p;
	uint8_t secret[KONCE_WIRE_KEY], want[KONCE_WIRE_MAC], got[KONCE_WIRE_MAC];
	vector_params(&base);
	vector_secret(secret);
	konce_cookie_mac(want, secret, &base);

	enum { N_CASES = 14 };
	for (int c = 0; c < N_CASES; c++) {
		p = base;
		switch (c) {
		case 0: p.client.ip[15] ^= 1; break;
		case 1: p.client.ip[0] = 0x20; break; /* a v6 address */
		case 2: p.client.port++; break;
		case 3: p.version = 2; break;
		case 4: p.nversions = 1; break;
		case 5: p.versions[15] = 9; break; /* an unused slot: still as on the wire */
		case 6: p.client_cid[7] ^= 1; break;
		case 7: p.client_time++; break;
		case 8: p.clue[0] ^= 1; break;
		case 9: p.challenge++; break;
		case 10: p.challenge ^= 1ull << 63; break;
		case 11: p.server_time++; break;
		case 12: p.pow_bits = 0; break;
		case 13: p.key_id++; break;
		}
		konce_cookie_mac(got, secret, &p);
		assert_memory_not_equal(got, want, sizeof(want));
		assert_false(konce_cookie_mac_ok(want, secret, &p));
	}
	secret[31] ^= 1;
	assert_false(konce_cookie_mac_ok(want, secret, &base));
}

static void test_generation_keys(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 1);
	konce_cookie_keys *k;
	assert_int_equal(konce_cookie_keys_new(&k, &ce.env, 5000), 0);
	const konce_cookie_gen *g = konce_cookie_keys_current(k);
	uint8_t epk[KONCE_WIRE_KEY];
	assert_int_equal(crypto_scalarmult_base(epk, g->esk), 0);
	assert_memory_equal(epk, g->epk, sizeof(epk));
	assert_memory_not_equal(g->secret, g->esk, KONCE_WIRE_KEY);
	assert_int_equal(g->born_us, 5000);
	assert_ptr_equal(konce_cookie_keys_get(k, g->key_id), g);
	assert_null(konce_cookie_keys_get(k, (uint8_t)(g->key_id - 1))); /* no previous yet */
	assert_null(konce_cookie_keys_get(k, (uint8_t)(g->key_id + 1)));

	/* same seed, same keys: the simulator depends on it */
	count_env ce2;
	count_env_init(&ce2, 1);
	konce_cookie_keys *k2;
	assert_int_equal(konce_cookie_keys_new(&k2, &ce2.env, 5000), 0);
	assert_memory_equal(konce_cookie_keys_current(k2), g, sizeof(*g));
	konce_cookie_keys_free(k2);
	assert_int_equal(ce2.live, 0);

	konce_cookie_keys_free(k);
	assert_int_equal(ce.live, 0);
	konce_cookie_keys_free(NULL);
}

static void test_rotation(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 2);
	konce_cookie_keys *k;
	const uint64_t t0 = 1000000;
	assert_int_equal(konce_cookie_keys_new(&k, &ce.env, t0), 0);
	long allocs = ce.allocs;
	konce_cookie_gen g0 = *konce_cookie_keys_current(k);

	/* not due: nothing changes */
	assert_int_equal(konce_cookie_keys_tick(k, &ce.env, t0 + ROT_US - 1), t0 + ROT_US);
	assert_memory_equal(konce_cookie_keys_current(k), &g0, sizeof(g0));

	/* first rotation: a new current, the old one still accepted, unchanged */
	assert_int_equal(konce_cookie_keys_tick(k, &ce.env, t0 + ROT_US), t0 + 2 * ROT_US);
	konce_cookie_gen g1 = *konce_cookie_keys_current(k);
	assert_int_equal(g1.key_id, (uint8_t)(g0.key_id + 1));
	assert_int_equal(g1.born_us, t0 + ROT_US);
	assert_memory_not_equal(g1.secret, g0.secret, KONCE_WIRE_KEY);
	assert_memory_not_equal(g1.epk, g0.epk, KONCE_WIRE_KEY);
	const konce_cookie_gen *prev = konce_cookie_keys_get(k, g0.key_id);
	assert_non_null(prev);
	assert_memory_equal(prev, &g0, sizeof(g0));
	assert_memory_equal(konce_cookie_keys_get(k, g1.key_id), &g1, sizeof(g1));

	/* during the whole next period g0 stays valid */
	konce_cookie_keys_tick(k, &ce.env, t0 + 2 * ROT_US - 1);
	assert_non_null(konce_cookie_keys_get(k, g0.key_id));

	/* second rotation: g0 is retired and wiped; its slot now holds g2 */
	konce_cookie_keys_tick(k, &ce.env, t0 + 2 * ROT_US);
	assert_null(konce_cookie_keys_get(k, g0.key_id));
	const konce_cookie_gen *g2 = konce_cookie_keys_current(k);
	assert_int_equal(g2->key_id, (uint8_t)(g0.key_id + 2));
	assert_memory_equal(konce_cookie_keys_get(k, g1.key_id), &g1, sizeof(g1));
	assert_memory_not_equal(g2->secret, g0.secret, KONCE_WIRE_KEY);
	assert_memory_not_equal(g2->esk, g0.esk, KONCE_WIRE_KEY);

	/* a late tick (three periods overdue) rotates once; what was current stays for one period */
	uint64_t late = t0 + 5 * ROT_US;
	assert_int_equal(konce_cookie_keys_tick(k, &ce.env, late), late + ROT_US);
	assert_null(konce_cookie_keys_get(k, g1.key_id));
	assert_non_null(konce_cookie_keys_get(k, (uint8_t)(g0.key_id + 2)));
	assert_int_equal(konce_cookie_keys_current(k)->key_id, (uint8_t)(g0.key_id + 3));

	/* ids wrap at 256 and never collide between the two live generations */
	uint64_t t = late;
	for (int i = 0; i < 300; i++) {
		t += ROT_US;
		uint8_t before = konce_cookie_keys_current(k)->key_id;
		konce_cookie_keys_tick(k, &ce.env, t);
		const konce_cookie_gen *c = konce_cookie_keys_current(k);
		assert_int_equal(c->key_id, (uint8_t)(before + 1));
		assert_ptr_equal(konce_cookie_keys_get(k, c->key_id), c);
		assert_int_equal(konce_cookie_keys_get(k, before)->key_id, before);
		assert_null(konce_cookie_keys_get(k, (uint8_t)(before - 1)));
	}
	assert_int_equal(ce.allocs, allocs); /* rotation never allocates */
	konce_cookie_keys_free(k);
	assert_int_equal(ce.live, 0);
}

/* A cookie made under a generation verifies under the secret get() finds for its key_id, and stops
 * verifying once that generation is retired. */
static void test_mac_across_rotation(void **state)
{
	(void)state;
	count_env ce;
	count_env_init(&ce, 3);
	konce_cookie_keys *k;
	assert_int_equal(konce_cookie_keys_new(&k, &ce.env, 0), 0);
	konce_cookie_params p;
	vector_params(&p);
	p.key_id = konce_cookie_keys_current(k)->key_id;
	uint8_t mac[KONCE_WIRE_MAC];
	konce_cookie_mac(mac, konce_cookie_keys_current(k)->secret, &p);

	konce_cookie_keys_tick(k, &ce.env, ROT_US);
	const konce_cookie_gen *g = konce_cookie_keys_get(k, p.key_id);
	assert_non_null(g);
	assert_true(konce_cookie_mac_ok(mac, g->secret, &p));
	assert_false(konce_cookie_mac_ok(mac, konce_cookie_keys_current(k)->secret, &p));

	konce_cookie_keys_tick(k, &ce.env, 2 * ROT_US);
	assert_null(konce_cookie_keys_get(k, p.key_id));
	konce_cookie_keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_vector),
		cmocka_unit_test(test_mac_binds_every_field),
		cmocka_unit_test(test_generation_keys),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_mac_across_rotation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
