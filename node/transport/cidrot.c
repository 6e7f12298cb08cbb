/* cidrot.c - connection ids that change with the path, so an observer cannot link a peer's old
 * and new addresses by the ids on the wire (RFC 9000 section 9.5).
 *
 * Epoch 0 is the handshake's pair of ids (random, sent in HELLO/INITIATE and ACCEPT).  The ids
 * of epoch e >= 1 are derived, with no frame on the wire:
 *	id(e) = BLAKE2b-64(key = cid key, "konce cid" || e as u32 big-endian)
 * where the cid key of the ids a side answers to is BLAKE2b-256("konce cid key", key = its initial
 * receive key) (session.c), so the peer, whose initial send key that is, derives the same ids;
 * nobody without the session keys can tell that id(e) and id(e + 1) belong to one session.
 *
 * Which epoch goes where is path.c's: each destination address has one (a probe address gets a
 * fresh one; a refused or undone migration gives the old address a fresh one), and a packet to
 * our id of a higher epoch than any we know makes us follow (konce_path_on_epoch).
 *
 * The table holds, per session, our ids of epochs max-1 .. max+2 and of the highest epoch the peer
 * has used (path.h max_epoch, rx_epoch): at most KONCE_EP_CIDS = 5.  A peer can therefore move to
 * ids up to two epochs ahead of the last we know of, and packets on ids older than that are
 * dropped (counted data_unknown_cid).
 */
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"

static void derive(uint8_t out[KONCE_WIRE_CID], const uint8_t key[KONCE_WIRE_KEY], uint32_t epoch)
{
	uint8_t m[13] = "konce cid";
	m[9] = (uint8_t)(epoch >> 24);
	m[10] = (uint8_t)(epoch >> 16);
	m[11] = (uint8_t)(epoch >> 8);
	m[12] = (uint8_t)epoch;
	crypto_generichash(out, KONCE_WIRE_CID, m, sizeof m, key, KONCE_WIRE_KEY);
}

static void our_id(const konce_sess *s, uint32_t epoch, uint8_t out[KONCE_WIRE_CID])
{
	if (epoch == 0)
		memcpy(out, s->scid, KONCE_WIRE_CID);
	else
		derive(out, s->sess.keys->cid_rx, epoch);
}

void konce_cid_sync(konce_ep *ep, konce_sess *s)
{
	if (!s->cids_ready) {
		memcpy(s->peer_cid0, s->sess.dcid, KONCE_WIRE_CID);
		s->dcid_epoch = 0;
		s->cids_ready = true;
	}
	uint32_t want[KONCE_EP_CIDS];
	unsigned n = 0;
	uint32_t m = s->path.max_epoch, lo = m ? m - 1 : 0;
	for (uint32_t e = lo; e <= m + 2; e++)
		want[n++] = e;
	if (s->path.rx_epoch < lo)
		want[n++] = s->path.rx_epoch;
	for (unsigned i = 0; i < KONCE_EP_CIDS; i++) {
		konce_cident *c = &s->cids[i];
		bool keep = false;
		for (unsigned j = 0; j < n && c->used && !keep; j++)
			keep = c->epoch == want[j];
		if (c->used && !keep)
			konce_cid_del(ep, c);
	}
	for (unsigned j = 0; j < n; j++) {
		bool have = false;
		konce_cident *free_e = NULL;
		for (unsigned i = 0; i < KONCE_EP_CIDS; i++) {
			if (s->cids[i].used && s->cids[i].epoch == want[j])
				have = true;
			else if (!s->cids[i].used && !free_e)
				free_e = &s->cids[i];
		}
		if (have || !free_e)
			continue;
		uint8_t id[KONCE_WIRE_CID];
		our_id(s, want[j], id);
		if (!konce_cid_find(ep, id)) /* a 2^-64 clash: that epoch is then not answered */
			konce_cid_add(ep, s, free_e, id, want[j]);
	}
}

void konce_cid_for(konce_sess *s, const konce_addr *to)
{
	if (!s->cids_ready)
		return;
	uint32_t e = konce_path_epoch(&s->path, to);
	if (e == s->dcid_epoch)
		return;
	if (e == 0)
		memcpy(s->sess.dcid, s->peer_cid0, KONCE_WIRE_CID);
	else
		derive(s->sess.dcid, s->sess.keys->cid_tx, e);
	s->dcid_epoch = e;
}
