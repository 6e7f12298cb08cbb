/* session.c - DATA packets: seal/open, rekey, replay (see session.h). */
#include "node/transport/session.h"

#include <sodium.h>
#include <string.h>

#include "node/transport/hs_packets.h"
#include "node/transport/keys.h"
#include "node/transport/pnwin.h"

void konce_session_init(konce_session *s, konce_keyslot *slot, const uint8_t k_tx[KONCE_WIRE_KEY],
			const uint8_t k_rx[KONCE_WIRE_KEY], const uint8_t dcid[KONCE_WIRE_CID], uint64_t now_us)
{
	memset(s, 0, sizeof *s);
	s->keys = slot;
	memcpy(slot->tx, k_tx, KONCE_WIRE_KEY);
	memcpy(slot->rx, k_rx, KONCE_WIRE_KEY);
	konce_aead_subkey(slot->tx_sub, k_tx);
	konce_aead_subkey(slot->rx_sub, k_rx);
	sodium_memzero(slot->rx_prev, KONCE_WIRE_KEY);
	/* connection-id keys, before any rekey: each side's ids come from its receive key, so the
	 * peer derives ours from its send key (cidrot.c) */
	static const uint8_t label[] = "konce cid key";
	crypto_generichash(slot->cid_tx, KONCE_WIRE_KEY, label, sizeof label - 1, k_tx, KONCE_WIRE_KEY);
	crypto_generichash(slot->cid_rx, KONCE_WIRE_KEY, label, sizeof label - 1, k_rx, KONCE_WIRE_KEY);
	memcpy(s->dcid, dcid, KONCE_WIRE_CID);
	s->tx_pn = 2;
	s->tx_key_since_us = now_us;
	s->rx_phase_first_pn = 1;
	s->wide = NULL;
	konce_replay_small_init(&s->replay);
	konce_replay_small_update(&s->replay, 1); /* spent by INITIATE box2 / ACCEPT */
}

void konce_session_widen(konce_session *s, konce_replay *storage)
{
	if (s->wide)
		return;
	konce_replay_widen(storage, &s->replay);
	s->wide = storage;
}

konce_replay *konce_session_narrow(konce_session *s)
{
	konce_replay *w = s->wide;
	if (w) {
		konce_replay_narrow(&s->replay, w);
		s->wide = NULL;
	}
	return w;
}

static bool replay_check(const konce_session *s, uint64_t pn)
{
	return s->wide ? konce_replay_check(s->wide, pn) : konce_replay_small_check(&s->replay, pn);
}

static void maybe_rekey_tx(konce_session *s, uint64_t now_us)
{
	if (now_us - s->tx_key_since_us < (uint64_t)KONCE_REKEY_AFTER_MS * 1000 &&
	    s->tx_key_packets < KONCE_REKEY_AFTER_PACKETS)
		return;
	konce_keys_rekey(s->keys->tx, s->keys->tx); /* the old key is overwritten, hence gone */
	konce_aead_subkey(s->keys->tx_sub, s->keys->tx);
	s->tx_phase ^= KONCE_DATA_F_KEY_PHASE;
	s->tx_key_since_us = now_us;
	s->tx_key_packets = 0;
}

size_t konce_session_overhead(const konce_session *s)
{
	return konce_session_header_len(s) + KONCE_WIRE_TAG;
}

size_t konce_session_header_len(const konce_session *s)
{
	return KONCE_DATA_PN + konce_pnwin_len(s->tx_pn, s->largest_acked);
}

size_t konce_session_seal(konce_session *s, uint8_t *out, const uint8_t *plain, size_t len, uint64_t now_us)
{
	return konce_session_seal_gather(s, out, plain, len, NULL, now_us);
}

size_t konce_session_seal_gather(konce_session *s, uint8_t *out, const uint8_t *plain, size_t len,
				 const konce_gather *g, uint64_t now_us)
{
	if (len > KONCE_WIRE_MAX_SESSION_PAYLOAD)
		return 0;
	/* in place (plain == out + header) or apart; a header written over the payload is not */
	size_t hdr0 = konce_session_header_len(s);
	uintptr_t o = (uintptr_t)out, p = (uintptr_t)plain;
	if (p != o + hdr0 && p < o + hdr0 + len + KONCE_WIRE_TAG && o < p + len)
		return 0;
	maybe_rekey_tx(s, now_us);
	out[KONCE_DATA_TYPE] = KONCE_PKT_DATA;
	out[KONCE_DATA_FLAGS] = s->tx_phase;
	memcpy(out + KONCE_DATA_DCID, s->dcid, KONCE_WIRE_CID);
	size_t w = konce_pnwin_encode(out + KONCE_DATA_PN, KONCE_WIRE_PN_MAX, s->tx_pn, s->largest_acked);
	if (w == 0)
		return 0; /* 2^63 packets: cannot happen before the heat death of the session */
	size_t hdr = KONCE_DATA_PN + w;
	if (hdr + len + KONCE_WIRE_TAG > KONCE_PMTU_MAX)
		return 0;
	if (!g || g->n == 0)
		konce_aead_seal_sub(out + hdr, plain, len, out, hdr, s->tx_pn, s->keys->tx_sub);
	else if (!konce_aead_seal_sub_gather(out + hdr, plain, len, g, out, hdr, s->tx_pn, s->keys->tx_sub))
		return 0;
	s->tx_pn++;
	s->tx_key_packets++;
	return hdr + len + KONCE_WIRE_TAG;
}

enum konce_session_open_result konce_session_open(konce_session *s, uint8_t *out, size_t *plain_len,
						  uint64_t *pn_out, const uint8_t *pkt, size_t len, uint64_t now_us)
{
	konce_data_hdr h;
	uint64_t pn;
	if (konce_data_parse_hdr(&h, pkt, len))
		return KONCE_SESS_BAD_HEADER;
	size_t w = konce_pnwin_decode(pkt + KONCE_DATA_PN, len - KONCE_DATA_PN, konce_session_rx_top(s), &pn);
	if (w == 0)
		return KONCE_SESS_BAD_HEADER;
	size_t hdr = KONCE_DATA_PN + w;
	if (len < hdr + KONCE_WIRE_TAG || len - hdr - KONCE_WIRE_TAG > KONCE_WIRE_MAX_SESSION_PAYLOAD)
		return KONCE_SESS_BAD_HEADER;
	if (!replay_check(s, pn))
		return KONCE_SESS_REPLAY;
	const uint8_t *ct = pkt + hdr;
	size_t ctlen = len - hdr;
	uint8_t phase = h.flags & KONCE_DATA_F_KEY_PHASE;
	if (phase == s->rx_phase) {
		if (konce_aead_open_sub(out, ct, ctlen, pkt, hdr, pn, s->keys->rx_sub))
			return KONCE_SESS_AUTH;
		if (pn < s->rx_phase_first_pn)
			s->rx_phase_first_pn = pn;
	} else if (pn < s->rx_phase_first_pn) {
		/* a straggler from before the peer's last rekey */
		if (s->rx_prev_until_us == 0 || now_us >= s->rx_prev_until_us ||
		    konce_aead_open_sub(out, ct, ctlen, pkt, hdr, pn, s->keys->rx_prev))
			return KONCE_SESS_AUTH;
	} else {
		konce_keys_rekey(s->keys->spare, s->keys->rx);
		if (konce_aead_open(out, ct, ctlen, pkt, hdr, pn, s->keys->spare)) {
			sodium_memzero(s->keys->spare, KONCE_WIRE_KEY);
			return KONCE_SESS_AUTH;
		}
		memcpy(s->keys->rx_prev, s->keys->rx_sub, KONCE_WIRE_KEY);
		memcpy(s->keys->rx, s->keys->spare, KONCE_WIRE_KEY);
		konce_aead_subkey(s->keys->rx_sub, s->keys->rx);
		sodium_memzero(s->keys->spare, KONCE_WIRE_KEY);
		s->rx_prev_until_us = now_us + (uint64_t)KONCE_REKEY_OLD_KEY_MS * 1000;
		s->rx_phase ^= KONCE_DATA_F_KEY_PHASE;
		s->rx_phase_first_pn = pn;
	}
	if (s->wide)
		konce_replay_update(s->wide, pn);
	else
		konce_replay_small_update(&s->replay, pn);
	*plain_len = ctlen - KONCE_WIRE_TAG;
	*pn_out = pn;
	return KONCE_SESS_OK;
}

void konce_session_acked(konce_session *s, uint64_t pn)
{
	if (pn > s->largest_acked && pn < s->tx_pn)
		s->largest_acked = pn;
}

uint64_t konce_session_tick(konce_session *s, uint64_t now_us)
{
	if (s->rx_prev_until_us && now_us >= s->rx_prev_until_us) {
		sodium_memzero(s->keys->rx_prev, KONCE_WIRE_KEY);
		s->rx_prev_until_us = 0;
	}
	return s->rx_prev_until_us ? s->rx_prev_until_us : UINT64_MAX;
}
