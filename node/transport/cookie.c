/* cookie.c - server secret generations and the stateless cookie MAC.
 *
 * Both live generations (current and previous) sit in one sodium_malloc()ed block (guard pages,
 * mlock), read-only except while konce_cookie_keys_tick() rotates them.  Rotation overwrites the
 * slot of the previous generation: that slot is wiped first, then filled with fresh secrets, and
 * becomes current.
 *
 * Invariants:
 *   1. gens[cur] is the current generation; gens[cur ^ 1] is the previous one iff have_prev, and
 *      is all zero otherwise.
 *   2. The previous generation's key_id is the current one's minus 1 (mod 256), so the two live ids
 *      always differ and konce_cookie_keys_get() is unambiguous.
 *   3. A generation is accepted until the rotation after the one that retired it: one period when
 *      tick() runs on time.  If tick() runs a full period late, nothing older than the generation
 *      that was current until now survives.
 *   4. Nothing is allocated after konce_cookie_keys_new().
 */
#include "node/transport/cookie.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

struct konce_cookie_keys {
	const konce_env *env;   /* allocated the struct; frees it */
	konce_cookie_gen *gens; /* sodium_malloc: [2] */
	unsigned cur;
	bool have_prev;
	uint64_t next_rotate_us;
};

#define ROTATE_US ((uint64_t)KONCE_KEY_ROTATE_MS * 1000)

static void gen_fill(konce_cookie_gen *g, const konce_env *env, uint8_t key_id, uint64_t now_us)
{
	g->key_id = key_id;
	g->born_us = now_us;
	konce_env_random(env, g->secret, sizeof(g->secret));
	/* crypto_scalarmult_base clamps esk; it fails only on an all-zero result, which a clamped
	 * scalar cannot give, but retrying is cheaper than reasoning about it at every call site. */
	do
		konce_env_random(env, g->esk, sizeof(g->esk));
	while (crypto_scalarmult_base(g->epk, g->esk) != 0);
}

int konce_cookie_keys_new(konce_cookie_keys **out, const konce_env *env, uint64_t now_us)
{
	*out = NULL;
	if (sodium_init() < 0) /* sodium_malloc needs it; idempotent */
		return -EIO;
	konce_cookie_keys *k = konce_env_alloc(env, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->gens = sodium_malloc(2 * sizeof(konce_cookie_gen));
	if (!k->gens) {
		konce_env_free(env, k);
		return -ENOMEM;
	}
	sodium_memzero(k->gens, 2 * sizeof(konce_cookie_gen));
	k->env = env;
	k->cur = 0;
	k->have_prev = false;
	uint8_t id;
	konce_env_random(env, &id, 1); /* a restarted server does not reuse yesterday's ids first */
	gen_fill(&k->gens[0], env, id, now_us);
	k->next_rotate_us = now_us + ROTATE_US;
	sodium_mprotect_readonly(k->gens);
	*out = k;
	return 0;
}

void konce_cookie_keys_free(konce_cookie_keys *k)
{
	if (!k)
		return;
	sodium_free(k->gens); /* wipes */
	const konce_env *env = k->env;
	sodium_memzero(k, sizeof(*k));
	konce_env_free(env, k);
}

uint64_t konce_cookie_keys_tick(konce_cookie_keys *k, const konce_env *env, uint64_t now_us)
{
	if (now_us < k->next_rotate_us)
		return k->next_rotate_us;
	konce_cookie_gen *cur = &k->gens[k->cur];
	konce_cookie_gen *slot = &k->gens[k->cur ^ 1];
	sodium_mprotect_readwrite(k->gens);
	sodium_memzero(slot, sizeof(*slot)); /* the retired generation */
	gen_fill(slot, env, (uint8_t)(cur->key_id + 1), now_us);
	k->cur ^= 1;
	k->have_prev = true;
	sodium_mprotect_readonly(k->gens);
	/* From now, not from the missed deadline: the new generation gets a whole period. */
	k->next_rotate_us = now_us + ROTATE_US;
	return k->next_rotate_us;
}

const konce_cookie_gen *konce_cookie_keys_current(const konce_cookie_keys *k) { return &k->gens[k->cur]; }

const konce_cookie_gen *konce_cookie_keys_get(const konce_cookie_keys *k, uint8_t key_id)
{
	const konce_cookie_gen *g = &k->gens[k->cur];
	if (g->key_id == key_id)
		return g;
	g = &k->gens[k->cur ^ 1];
	if (k->have_prev && g->key_id == key_id)
		return g;
	return NULL;
}

static void mac_input(uint8_t in[KONCE_COOKIE_MAC_INPUT], const konce_cookie_params *p)
{
	uint8_t *q = in;
	memcpy(q, p->client.ip, 16);
	q += 16;
	wire_put16(q, p->client.port);
	q += 2;
	wire_put16(q, p->version);
	q += 2;
	*q++ = p->nversions;
	memcpy(q, p->versions, sizeof(p->versions));
	q += sizeof(p->versions);
	memcpy(q, p->client_cid, KONCE_WIRE_CID);
	q += KONCE_WIRE_CID;
	wire_put64(q, p->client_time);
	q += 8;
	memcpy(q, p->clue, KONCE_WIRE_CLUE);
	q += KONCE_WIRE_CLUE;
	wire_put64(q, p->challenge);
	q += 8;
	wire_put64(q, p->server_time);
	q += 8;
	*q++ = p->pow_bits;
	*q++ = p->key_id;
	_Static_assert(sizeof(((konce_cookie_params *)0)->versions) == 16, "versions field is 16 bytes");
	_Static_assert(KONCE_COOKIE_MAC_INPUT == 87, "cookie MAC input layout changed");
}

void konce_cookie_mac(uint8_t mac[KONCE_WIRE_MAC], const uint8_t secret[KONCE_WIRE_KEY],
		      const konce_cookie_params *p)
{
	uint8_t in[KONCE_COOKIE_MAC_INPUT];
	mac_input(in, p);
	crypto_generichash(mac, KONCE_WIRE_MAC, in, sizeof(in), secret, KONCE_WIRE_KEY);
}

bool konce_cookie_mac_ok(const uint8_t mac[KONCE_WIRE_MAC], const uint8_t secret[KONCE_WIRE_KEY],
			 const konce_cookie_params *p)
{
	uint8_t want[KONCE_WIRE_MAC];
	konce_cookie_mac(want, secret, p);
	return sodium_memcmp(want, mac, KONCE_WIRE_MAC) == 0;
}
