/* path.c - path validation and the anti-amplification budget (see path.h). */
#include <stdint.h>
#include "node/transport/path.h"

#include <sodium.h>
#include <string.h>

void konce_path_init(konce_path *p, const konce_addr *cur)
{
	memset(p, 0, sizeof *p);
	p->cur = *cur;
}

bool konce_path_on_packet(konce_path *p, const konce_addr *from, size_t len, uint64_t now_us)
{
	if (konce_addr_eq(from, &p->cur))
		return false;
	if (p->probing && konce_addr_eq(from, &p->probe)) {
		p->rx_bytes += len;
		return false;
	}
	/* A newer address replaces an older probe: the latest mapping is the one that matters. */
	p->probing = true;
	p->probe = *from;
	p->rx_bytes = len;
	p->tx_bytes = 0;
	p->tries = 0;
	p->deadline_us = UINT64_MAX;
	return true;
}

bool konce_path_challenge_due(const konce_path *p) { return p->probing && p->tries == 0; }

void konce_path_challenge_sent(konce_path *p, uint64_t now_us)
{
	if (p->tries == 0) {
		p->tries = 1;
		p->deadline_us = now_us + (uint64_t)KONCE_PATH_RETRY_MS * 1000;
	}
}

bool konce_path_may_send(const konce_path *p, const konce_addr *to, size_t len)
{
	if (konce_addr_eq(to, &p->cur))
		return true;
	if (!p->probing || !konce_addr_eq(to, &p->probe))
		return false;
	return p->tx_bytes + len <= p->rx_bytes;
}

void konce_path_sent(konce_path *p, const konce_addr *to, size_t len)
{
	if (p->probing && konce_addr_eq(to, &p->probe) && !konce_addr_eq(to, &p->cur))
		p->tx_bytes += len;
}

bool konce_path_on_response(konce_path *p, const konce_addr *from, const uint8_t data[KONCE_FRAME_PATH_DATA])
{
	if (!p->probing || !konce_addr_eq(from, &p->probe) ||
	    sodium_memcmp(data, p->challenge, KONCE_FRAME_PATH_DATA) != 0)
		return false;
	p->cur = p->probe;
	p->probing = false;
	return true;
}

bool konce_path_tick(konce_path *p, uint64_t now_us)
{
	if (!p->probing || p->tries == 0 || now_us < p->deadline_us)
		return false;
	if (p->tries >= KONCE_PATH_TRIES) {
		p->probing = false;
		return false;
	}
	/* counted whether or not the 1x budget lets it out, so a starved probe still ends */
	p->tries++;
	p->deadline_us = now_us + (uint64_t)KONCE_PATH_RETRY_MS * 1000;
	return true;
}
