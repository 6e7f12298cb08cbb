/* group.c - limited-circulation clue and cookie mask (see group.h). */
#include "node/transport/group.h"

#include <sodium.h>
#include <string.h>

void konce_group_clue(uint8_t clue[KONCE_WIRE_CLUE], const uint8_t key[KONCE_WIRE_KEY],
		      const uint8_t client_cid[KONCE_WIRE_CID], uint64_t client_time, const konce_versions *v)
{
	uint8_t in[KONCE_WIRE_CID + 8 + 1 + sizeof v->raw];
	memcpy(in, client_cid, KONCE_WIRE_CID);
	wire_put64(in + KONCE_WIRE_CID, client_time);
	in[KONCE_WIRE_CID + 8] = v->n;
	memcpy(in + KONCE_WIRE_CID + 9, v->raw, sizeof v->raw);
	crypto_generichash(clue, KONCE_WIRE_CLUE, in, sizeof in, key, KONCE_WIRE_KEY);
}

bool konce_group_clue_ok(const konce_hello *h, const uint8_t key[KONCE_WIRE_KEY])
{
	uint8_t want[KONCE_WIRE_CLUE];
	if (!(h->flags & KONCE_HELLO_F_CLUE))
		return false;
	konce_group_clue(want, key, h->client_cid, h->client_time, &h->versions);
	return sodium_memcmp(want, h->clue, KONCE_WIRE_CLUE) == 0;
}

void konce_group_mask(uint8_t epk[KONCE_WIRE_KEY], const uint8_t key[KONCE_WIRE_KEY], uint64_t challenge)
{
	static const char label[] = "konce cookie mask";
	uint8_t in[sizeof label - 1 + 8], mask[KONCE_WIRE_KEY];
	memcpy(in, label, sizeof label - 1);
	wire_put64(in + sizeof label - 1, challenge);
	crypto_generichash(mask, sizeof mask, in, sizeof in, key, KONCE_WIRE_KEY);
	for (unsigned i = 0; i < KONCE_WIRE_KEY; i++)
		epk[i] ^= mask[i];
	sodium_memzero(mask, sizeof mask);
}
