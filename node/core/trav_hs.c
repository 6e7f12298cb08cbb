/* trav_hs.c - the handshake is the probe: traversal's first contact by simultaneous open.
 *
 * On an introduction both nodes run a handshake to the other's path handle (the side that
 * asked already does; the other starts one here).  Instead of PUNCH probes, each punch-core probe
 * of the first attempt is a copy of the endpoint's HELLO (the "opener") sent to the probe's
 * target, with a tag in the HELLO's padding (node/base/wire.h: the sender's key and the intro id) so
 * that a copy from an address we do not know yet (a symmetric NAT's new mapping) is recognised as
 * the peer's probe.  The peer's endpoint answers it with a COOKIE, which goes back to where the
 * copy came from; a COOKIE that our endpoint accepts (it echoes our HELLO's random cid) arriving
 * from X only steers our INITIATE there (whoever got our HELLO copy can echo its cid); the peer's
 * INITIATE that crossed ours or its ACCEPT is the punch core's ack: the pair is verified and
 * from then on the path handle maps to X.  The two handshakes cross and the endpoint's
 * tie-break (node/transport/hs_simopen.c) leaves one session, initiated by the lower key.  The punch core
 * still decides targets, pacing, rounds, the extra probes after the winner and the give-up to
 * the relay.
 *
 * At most NODE_TRAV_HS_MAX_COPIES copies per attempt (about 29 KB; the targets are the peer's own
 * claims, relayed by the rendezvous, so this bounds what an introduction can aim at a third
 * party); later probes of the attempt are PUNCH, whose ack verifies a pair as before and the
 * handshake then follows over it.
 *
 * A first attempt that starts in PROBING (relay first: direct not expected, nat/punch.h) sends no
 * copies: the handshake goes through the relay, both sides' HELLOs cross there and the tie-break
 * leaves one session; the probes are PUNCH, and a pair they verify moves the session (or what is
 * left of the handshake) off the relay.
 *
 * PUNCH stays where there is no handshake to carry: birthday probes (256 per round: a 1200-byte
 * HELLO each would be 300 KB a round), keepalives and rebinding probes on a direct path, and
 * upgrade attempts from the relay (the session exists; no handshake runs).  A peer's PUNCH probe
 * is still answered with a PUNCH ack in every state.
 *
 * Per tpeer: opener (the endpoint's latest HELLO while no path is chosen), reply_to (where the
 * peer's latest probe or handshake packet came from, while attempting: answers go there until a
 * pair is verified).
 */
#include <string.h>

#include "node/base/wire.h"
#include "node/core/trav_int.h"

static bool attempting(const struct tpeer *p)
{
	enum konce_punch_path_state st = konce_punch_state(p->pu);
	return st == KONCE_PUNCH_PATH_PUNCHING || st == KONCE_PUNCH_PATH_PROBING;
}

/* The opener is used only while our handshake to the peer is not done. */
static bool opener_live(konce_trav *t, const struct tpeer *p)
{
	konce_trav_peer np;
	return p->opener_len && trav_peer(t, p->pk, &np) && !np.up;
}

void trav_hs_intro(konce_trav *t, struct tpeer *p, uint64_t now)
{
	konce_trav_peer np;
	p->hs_copies = 0;
	if (trav_peer(t, p->pk, &np)) {
		if (np.up)
			p->opener_len = 0; /* an upgrade: the session exists, PUNCH probes */
		return;
	}
	konce_addr va;
	tpeer_vaddr(t, p, &va);
	t->ops.dial(t->ops.ctx, p->pk, &va, now);
}

bool trav_hs_outgoing(konce_trav *t, struct tpeer *p, const uint8_t *pkt, size_t len)
{
	if (pkt[0] == KONCE_PKT_HELLO && len == KONCE_HELLO_SIZE) {
		memcpy(p->opener, pkt, len);
		p->opener_len = len;
		return false;
	}
	if (!p->have_reply_to || !attempting(p))
		return false;
	trav_send(t, 0, &p->reply_to, pkt, len);
	p->hs_replies++;
	return true;
}

bool trav_hs_probe(konce_trav *t, struct tpeer *p, const konce_punch_out *o, uint64_t now)
{
	/* PROBING: the relay carries the handshake (direct not expected: both sides started so), and
	 * the probes are PUNCH beside it; a pair they verify moves the handshake or session there */
	/* a 1200-byte copy goes only where the rendezvous saw the peer (its reflexive address, the
	 * ports predicted on it) or where the peer's authenticated probe came from: a host or mapped
	 * candidate is the peer's claim, which may name a third party, so it gets small PUNCH probes
	 * within the punch core's claimed budget */
	if (o->ack || o->sock != 0 || o->birthday || p->hs_copies >= NODE_TRAV_HS_MAX_COPIES || !opener_live(t, p) ||
	    konce_punch_state(p->pu) == KONCE_PUNCH_PATH_PROBING || o->type == KONCE_CAND_HOST ||
	    o->type == KONCE_CAND_MAPPED)
		return false;
	uint8_t copy[KONCE_WIRE_MAX_DATAGRAM];
	memcpy(copy, p->opener, p->opener_len);
	memcpy(copy + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4);
	memcpy(copy + KONCE_HELLO_TRAV_KEY, t->pk, KONCE_WIRE_KEY);
	wire_put64(copy + KONCE_HELLO_TRAV_INTRO, o->intro_id);
	if (!konce_punch_tag(p->pu, copy, KONCE_HELLO_TRAV_MAC, copy + KONCE_HELLO_TRAV_MAC))
		return false;
	(void)now;
	trav_send(t, 0, &o->to, copy, p->opener_len);
	p->hs_copies++;
	p->hs_probes++;
	return true;
}

bool trav_hs_hello(konce_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	/* the receive switch (node/core/rx_switch.c) saw a full HELLO with the tag's magic; like PUNCH: it counts only for a peer we were introduced to, with a MAC made with that
	 * introduction's secret (the tag covers the HELLO up to it, so it is not movable either) */
	struct tpeer *p = t->rc && len == KONCE_HELLO_SIZE ? tpeer_get(t, pkt + KONCE_HELLO_TRAV_KEY, TPEER_FIND, now)
							    : NULL;
	if (!p || wire_get64(pkt + KONCE_HELLO_TRAV_INTRO) != konce_punch_intro_id(p->pu) ||
	    !konce_punch_tag_ok(p->pu, pkt, KONCE_HELLO_TRAV_MAC, pkt + KONCE_HELLO_TRAV_MAC)) {
		t->punch_bad++;
		return false; /* still an ordinary HELLO: the endpoint answers it statelessly */
	}
	konce_addr va;
	tpeer_seen(t, p, from);
	p->reply_to = *from;
	p->have_reply_to = true;
	p->hs_probes_rx++;
	konce_punch_input(p->pu, 0, from, false, wire_get64(pkt + KONCE_HELLO_TRAV_INTRO), NODE_TRAV_HS_SEQ, now);
	tpeer_vaddr(t, p, &va);
	p->direct_rx++;
	konce_ep_input(t->ep, pkt, len, &va, now, NULL);
	return true;
}

bool trav_hs_deliver(konce_trav *t, struct tpeer *p, unsigned sock, const uint8_t *pkt, size_t len,
		     const konce_addr *from, uint64_t now, uint32_t *auth_conn)
{
	konce_addr va;
	konce_ep_rx rx;
	tpeer_vaddr(t, p, &va);
	p->direct_rx++;
	enum konce_ep_verdict v = konce_ep_input(t->ep, pkt, len, &va, now, &rx);
	*auth_conn = v == KONCE_EP_SESSION_DATA ? rx.conn : 0;
	if (!len || sock || !attempting(p)) /* our HELLO copies leave from the node socket */
		return false;
	if (v == KONCE_EP_COOKIE_TAKEN) {
		/* our INITIATE answers it: send it where the COOKIE came from, but verify nothing
		 * (whoever got our HELLO copy can echo its cid) */
		p->reply_to = *from;
		p->have_reply_to = true;
		return false;
	}
	/* The peer's authentic answer: its INITIATE proves its key only when it crossed our own
	 * attempt to that key (merged or yielded); an ACCEPT, when it matched our INITIATE to the
	 * peer's path handle and decrypted. */
	if (v != KONCE_EP_SIMOPEN_MERGED && v != KONCE_EP_SIMOPEN_YIELDED &&
	    !(pkt[0] == KONCE_PKT_ACCEPT && v == KONCE_EP_ESTABLISHED))
		return false;
	p->reply_to = *from;
	p->have_reply_to = true;
	p->hs_acks++;
	konce_punch_input(p->pu, 0, from, true, konce_punch_intro_id(p->pu), NODE_TRAV_HS_SEQ, now);
	return true;
}
