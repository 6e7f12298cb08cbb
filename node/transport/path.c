/* path.c - path validation, old-path re-validation and the anti-amplification budget (see path.h). */
#include <stdint.h>
#include "node/transport/path.h"

#include <sodium.h>
#include <string.h>

void konce_path_init(konce_path *p, const konce_addr *cur)
{
	memset(p, 0, sizeof *p);
	p->cur = *cur;
	p->confirmed = true;
}

static void end_check(konce_path *p)
{
	p->checking = false;
	p->old_dead = false;
	p->old_tries = 0;
}

static void end_probe(konce_path *p)
{
	p->probing = false;
	p->probe_ok = false;
	p->tries = 0;
}

/* The peer is still at the old address: stay there, or go back to it; and be wary. */
static enum konce_path_change old_alive(konce_path *p, uint64_t pn, uint64_t now_us)
{
	enum konce_path_change chg = KONCE_PATH_REFUSED;
	p->wary_until_us = now_us + (uint64_t)KONCE_PATH_WARY_MS * 1000;
	p->cur_epoch = ++p->max_epoch; /* whoever saw the probe's ids does not see them here */
	p->refused = konce_addr_eq(&p->old, &p->cur) ? p->probe : p->cur;
	if (!konce_addr_eq(&p->old, &p->cur)) {
		p->cur = p->old;
		p->confirmed = p->old_confirmed;
		p->cur_pn = pn;
		chg = KONCE_PATH_BACK;
	}
	end_check(p);
	end_probe(p);
	return chg;
}

bool konce_path_on_packet(konce_path *p, const konce_addr *from, size_t len, uint64_t pn, uint64_t now_us,
			  enum konce_path_change *chg)
{
	uint64_t largest = p->largest;
	if (pn > p->largest)
		p->largest = pn;
	*chg = KONCE_PATH_SAME;
	if (konce_addr_eq(from, &p->cur)) {
		if (pn > p->cur_pn)
			p->cur_pn = pn;
		/* newer than anything from the probe: the peer still sends from here (not from the
		 * probe address, which then had a copy) */
		if (p->probing && p->checking && konce_addr_eq(&p->old, &p->cur) && pn > p->probe_pn)
			*chg = old_alive(p, pn, now_us);
		return false;
	}
	if (p->probing && konce_addr_eq(from, &p->probe)) {
		p->rx_bytes += len;
		if (pn > p->probe_pn)
			p->probe_pn = pn;
		return false;
	}
	if (p->checking && konce_addr_eq(from, &p->old)) {
		/* after a move: a packet from the address we left, newer than all from the new one */
		if (pn > p->cur_pn)
			*chg = old_alive(p, pn, now_us);
		return false;
	}
	/* Only the newest packet starts a probe: a late one from an address left behind does not;
	 * nor, for a while, one from the address whose migration was just refused. */
	if (pn <= largest || (now_us < p->wary_until_us && konce_addr_eq(from, &p->refused)))
		return false;
	/* A newer address replaces an older probe: the latest mapping is the one that matters. */
	p->probing = true;
	p->probe_ok = false;
	p->probe = *from;
	p->probe_epoch = ++p->max_epoch;
	p->old_epoch = p->cur_epoch;
	p->probe_pn = pn;
	p->rx_bytes = len;
	p->tx_bytes = 0;
	p->tries = 0;
	p->deadline_us = UINT64_MAX;
	/* and the path the peer seems to leave is checked afresh */
	p->checking = true;
	p->old = p->cur;
	p->old_confirmed = p->confirmed;
	p->old_dead = false;
	p->old_tries = 0;
	p->old_deadline_us = UINT64_MAX;
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

bool konce_path_old_due(const konce_path *p) { return p->checking && p->old_tries == 0; }

void konce_path_old_sent(konce_path *p, uint64_t now_us)
{
	if (p->old_tries == 0) {
		p->old_tries = 1;
		p->old_deadline_us = now_us + (uint64_t)KONCE_PATH_RETRY_MS * 1000;
	}
}

bool konce_path_may_send(const konce_path *p, const konce_addr *to, size_t len)
{
	if (konce_addr_eq(to, &p->cur))
		return true;
	if (p->checking && konce_addr_eq(to, &p->old))
		return true; /* validated before; only its challenges go there */
	if (!p->probing || !konce_addr_eq(to, &p->probe))
		return false;
	return p->tx_bytes + len <= p->rx_bytes;
}

void konce_path_sent(konce_path *p, const konce_addr *to, size_t len)
{
	if (p->probing && konce_addr_eq(to, &p->probe) && !konce_addr_eq(to, &p->cur))
		p->tx_bytes += len;
}

static enum konce_path_change move(konce_path *p)
{
	p->cur = p->probe;
	p->cur_pn = p->probe_pn;
	p->cur_epoch = p->probe_epoch;
	end_probe(p);
	if (p->checking && p->old_dead)
		end_check(p);
	p->confirmed = !p->checking;
	return KONCE_PATH_MOVED;
}

enum konce_path_change konce_path_on_response(konce_path *p, const konce_addr *from,
					      const uint8_t data[KONCE_FRAME_PATH_DATA], uint64_t now_us)
{
	if (p->checking && p->old_tries > 0 &&
	    sodium_memcmp(data, p->old_challenge, KONCE_FRAME_PATH_DATA) == 0)
		return old_alive(p, p->largest, now_us);
	if (!p->probing || p->probe_ok || p->tries == 0 || !konce_addr_eq(from, &p->probe) ||
	    sodium_memcmp(data, p->challenge, KONCE_FRAME_PATH_DATA) != 0)
		return KONCE_PATH_SAME;
	if (now_us < p->wary_until_us && p->checking && !p->old_dead) {
		p->probe_ok = true; /* a migration was refused lately: wait for the old path's verdict */
		return KONCE_PATH_SAME;
	}
	return move(p);
}

unsigned konce_path_tick(konce_path *p, uint64_t now_us, enum konce_path_change *chg)
{
	unsigned send = 0;
	*chg = KONCE_PATH_SAME;
	if (p->probing && !p->probe_ok && p->tries > 0 && now_us >= p->deadline_us) {
		if (p->tries >= KONCE_PATH_TRIES) {
			end_probe(p);
			if (p->checking && konce_addr_eq(&p->old, &p->cur))
				end_check(p); /* no move to compare the old path with */
		} else {
			/* counted whether or not the 1x budget lets it out, so a starved probe still ends */
			p->tries++;
			p->deadline_us = now_us + (uint64_t)KONCE_PATH_RETRY_MS * 1000;
			send |= KONCE_PATH_SEND_PROBE;
		}
	}
	if (p->checking && !p->old_dead && p->old_tries > 0 && now_us >= p->old_deadline_us) {
		if (p->old_tries >= KONCE_PATH_TRIES) {
			if (konce_addr_eq(&p->old, &p->cur)) {
				p->old_dead = true; /* the probe, when it validates, is confirmed at once */
				if (p->probe_ok)
					*chg = move(p);
			} else {
				end_check(p);
				p->confirmed = true;
				*chg = KONCE_PATH_CONFIRMED;
			}
		} else {
			p->old_tries++;
			p->old_deadline_us = now_us + (uint64_t)KONCE_PATH_RETRY_MS * 1000;
			send |= KONCE_PATH_SEND_OLD;
		}
	}
	return send;
}

uint64_t konce_path_next(const konce_path *p)
{
	uint64_t t = UINT64_MAX;
	if (p->probing && !p->probe_ok && p->tries > 0)
		t = p->deadline_us;
	if (p->checking && !p->old_dead && p->old_tries > 0 && p->old_deadline_us < t)
		t = p->old_deadline_us;
	return t;
}

void konce_path_on_epoch(konce_path *p, const konce_addr *from, uint32_t epoch)
{
	if (epoch > p->rx_epoch)
		p->rx_epoch = epoch;
	if (epoch <= p->max_epoch)
		return;
	/* the peer started a new epoch toward us: we follow on the path it came by */
	p->max_epoch = epoch;
	if (konce_addr_eq(from, &p->cur))
		p->cur_epoch = epoch;
	else if (p->probing && konce_addr_eq(from, &p->probe))
		p->probe_epoch = epoch;
}

uint32_t konce_path_epoch(const konce_path *p, const konce_addr *to)
{
	if (konce_addr_eq(to, &p->cur))
		return p->cur_epoch;
	if (p->probing && konce_addr_eq(to, &p->probe))
		return p->probe_epoch;
	if (p->checking && konce_addr_eq(to, &p->old))
		return p->old_epoch;
	return p->cur_epoch;
}
