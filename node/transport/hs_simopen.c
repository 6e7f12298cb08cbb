/* hs_simopen.c - the simultaneous variant of the handshake: two endpoints that each start a client
 * handshake to the other at the same time end with ONE session, whose client (initiator) is the
 * side with the lower public key.  docs/PROTOCOL.md section 14 has the long form.
 *
 * Nothing here runs before an INITIATE passed every server check (a-f, box2 decrypted): the
 * stateless COOKIE and "no state before proof" are untouched.  Then, if we have a client
 * handshake toward the key the INITIATE proved (c_pub), showing the server key the INITIATE asked
 * for (S), the two handshakes are the two halves of one simultaneous open:
 *
 *   our key < c_pub   we are the initiator: the INITIATE is dropped (simopen_yielded) and nothing
 *                     is kept.  The peer, whose key is higher, accepts our INITIATE instead and
 *                     answers it with ACCEPT.  If our attempt has had no COOKIE yet (our HELLO
 *                     or its COOKIE was lost, or we dial a stale address), it sends its HELLO
 *                     at once to the address the INITIATE came from, where the peer just proved
 *                     to be, instead of waiting for its retransmission.  Also after our ACCEPT arrived, for an INITIATE whose
 *                     cookie we issued before that moment (a late copy of the peer's attempt); a
 *                     cookie issued later is a new handshake (the peer restarted) and is served.
 *   our key > c_pub   we are the responder: our own client attempt (HELLO_SENT, SOLVING or INITIATE_SENT)
 *                     becomes the server session in place (simopen_merged): same conn handle,
 *                     same queued messages.  Its first message becomes a reliable message that
 *                     rides in the ACCEPT (packet 1, acked and retransmitted like any; its id in
 *                     the ESTABLISHED event).  The application sees ESTABLISHED (incoming) on the
 *                     conn it connected with and no failure.  Late COOKIEs for the abandoned attempt match nothing.
 *
 * Both sides compare the same two keys (ours as shown in our attempt = the S the peer asked for;
 * the peer's = c_pub = the key our attempt dials), so they agree on the roles whatever the order
 * of arrivals.  A client that shows a derived per-server key (the default without
 * explicit_identity) never matches: its c_pub is not the key the other side dials, and the two
 * handshakes stay two ordinary sessions, as before this variant.
 */
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"

/* The key s shows the server; NULL when it is derived per server (never a simultaneous match). */
static const uint8_t *shown_key(const konce_ep *ep, const konce_sess *s)
{
	if (s->as)
		return konce_identity_public(s->as);
	return ep->explicit_identity && !s->per_server ? konce_identity_public(ep->identity) : NULL;
}

konce_sess *konce_hs_simopen_find(konce_ep *ep, const uint8_t c_pub[KONCE_WIRE_KEY], const konce_identity *S,
				  uint64_t cookie_ms)
{
	if (ep->c.sessions_live == ep->n_incoming)
		return NULL; /* no attempt of ours: a server's table is not walked per INITIATE */
	for (konce_sess *s = ep->live; s; s = s->next) {
		if (s->incoming || memcmp(s->peer_pk, c_pub, KONCE_WIRE_KEY))
			continue;
		const uint8_t *me = shown_key(ep, s);
		if (!me || memcmp(me, konce_identity_public(S), KONCE_WIRE_KEY))
			continue;
		if (s->state == KONCE_HS_HELLO_SENT || s->state == KONCE_HS_SOLVING || s->state == KONCE_HS_INITIATE_SENT)
			return s;
		/* established by the peer's ACCEPT: only the peer's own half of that open is stale */
		if (s->state == KONCE_HS_ESTABLISHED && cookie_ms <= s->est_us / 1000 &&
		    memcmp(konce_identity_public(S), c_pub, KONCE_WIRE_KEY) < 0)
			return s;
	}
	return NULL;
}

bool konce_hs_simopen_initiator(const konce_identity *S, const uint8_t c_pub[KONCE_WIRE_KEY])
{
	return memcmp(konce_identity_public(S), c_pub, KONCE_WIRE_KEY) < 0;
}

uint64_t konce_hs_simopen_merge(konce_ep *ep, konce_sess *s, const konce_addr *from,
				const uint8_t client_cid[KONCE_WIRE_CID], const uint8_t k_c2s[KONCE_WIRE_KEY],
				const uint8_t k_s2c[KONCE_WIRE_KEY], uint64_t now_us)
{
	/* a fresh server cid: the abandoned attempt's client cid stays out of use */
	konce_cid_remove(ep, s);
	konce_ep_new_cid(ep, s->scid);
	konce_cid_insert(ep, s);
	sodium_memzero(konce_keyslab_slot(ep->slab, s->slot)->group, KONCE_WIRE_KEY);
	s->grouped = false;
	s->as = NULL;
	s->incoming = true;
	ep->n_incoming++;
	konce_ep_set_state(ep, s, KONCE_HS_ACCEPT_PENDING);
	s->attempts = 0;
	s->restarted = false;
	s->retry_at_us = 0;
	s->hs_addr = *from;
	konce_ep_table_join(ep, s);
	s->last_rx_us = now_us;
	konce_session_init(&s->sess, konce_keyslab_slot(ep->slab, s->slot), k_s2c, k_c2s, client_cid, now_us);
	konce_path_init(&s->path, from);
	s->cids_ready = false;
	konce_cid_sync(ep, s);
	s->pend_next = ep->pend_head;
	ep->pend_head = s;
	ep->c.simopen_merged++;
	/* The first message was for our INITIATE, whose ACCEPT would have proved the peer opened it.
	 * Nothing proves that of an ACCEPT, which may be lost (the peer's INITIATE retransmission
	 * brings a copy, until it gives up): so it becomes a reliable message, packet 1 in the ACCEPT
	 * and recorded like any, delivered only once acked. */
	uint64_t id = 0;
	if (s->first_len && konce_ep_msg_queue(ep, s, s->hb->first, s->first_len, KONCE_MSG_CLASS_DEFAULT, now_us, &id))
		id = 0; /* out of memory: not sent, and the application is told so by the 0 */
	sodium_memzero(s->hb->first, s->first_len);
	s->first_len = 0;
	return id;
}

void konce_hs_simopen_first(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (s->rel)
		konce_ep_msg_flush(ep, s, now_us); /* packet 1 in the ACCEPT, the rest as DATA */
	konce_ep_arm(ep, s, now_us);
}
