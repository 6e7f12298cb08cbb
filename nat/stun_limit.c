/* stun_limit.c - a STUN responder's per-source budget of answer bytes (see stun_limit.h). */
#include "nat/stun_limit.h"

#include <sodium.h>
#include <string.h>

void konce_stun_limit_init(konce_stun_limit *l, const uint8_t key[16])
{
	memset(l, 0, sizeof *l);
	memcpy(l->key, key, sizeof l->key);
}

static unsigned slot_of(const konce_stun_limit *l, const konce_addr *src)
{
	uint8_t h[crypto_shorthash_BYTES];
	/* IPv4 (::ffff:a.b.c.d): the address; IPv6: its /64, which one host usually owns */
	bool v4 = !memcmp(src->ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
	crypto_shorthash(h, src->ip, v4 ? 16 : 8, l->key);
	return (unsigned)((uint32_t)h[0] | (uint32_t)h[1] << 8) % KONCE_STUN_LIMIT_SLOTS;
}

bool konce_stun_limit_allow(konce_stun_limit *l, const konce_addr *src, size_t request_len, size_t answer_len,
			    uint64_t now_us)
{
	if (answer_len <= request_len)
		return true;
	unsigned i = slot_of(l, src);
	uint64_t tokens = l->slot[i].tokens;
	if (l->slot[i].at_us == 0) {
		tokens = KONCE_STUN_LIMIT_BURST;
	} else if (now_us > l->slot[i].at_us) {
		uint64_t add = (now_us - l->slot[i].at_us) * KONCE_STUN_LIMIT_RATE / 1000000;
		tokens = tokens + add > KONCE_STUN_LIMIT_BURST ? KONCE_STUN_LIMIT_BURST : tokens + add;
		if (add == 0)
			now_us = l->slot[i].at_us; /* keep the fraction for later */
	} else {
		now_us = l->slot[i].at_us;
	}
	l->slot[i].at_us = now_us ? now_us : 1;
	size_t excess = answer_len - request_len;
	if (excess > tokens) {
		l->slot[i].tokens = (uint32_t)tokens;
		return false;
	}
	l->slot[i].tokens = (uint32_t)(tokens - excess);
	return true;
}
