/* fuzz_rdvsrv.c - the node's rendezvous service (node/core/trav_rdvsrv.c): rendezvous messages
 * arriving on an authenticated session, checked against the session's key, handed to the
 * rendezvous core with the session's address, and the core's answers routed back to sessions.
 *
 * Harness (built once, fuzz_nodepeer.h, as in fuzz_nodemsg.c): a real node with traversal on and the rendezvous
 * service enabled (konce_node_config.traversal.rendezvous = 1, no rendezvous of its own, so nothing is
 * sent anywhere but to the peer), and a peer endpoint on loopback UDP with an established session.
 * The glue cannot be driven without a node: it finds sessions through the node's peer table and
 * sends through its endpoint; here it runs exactly as in the daemon.
 *
 * Input: records  flags u8 | len u8 | bytes[len].  Each record's bytes are a KONCE_CLASS_RENDEZVOUS
 * message body from the peer; with flags bit 0, a body that decodes gets the peer's own key
 * written into its key field (konce_rdvwire_encode), so it passes the key check and reaches the core.
 * Invariants (abort on violation): the node takes every message within 10 s; a body the service
 * handles (REGISTER, INTRO_REQUEST, RELAY, INTRO_REFUSE, INTRO_ACCEPT) that does not decode or names
 * another key moves the service's "forged" counter and gets no answer; every answer the peer gets
 * is a RENDEZVOUS message whose body decodes and is one the rendezvous sends; a REGISTERED that
 * answers the last REGISTER in the peer's name carries the peer's own address (the core's rate
 * limit may leave a REGISTER unanswered, so an answer is not required). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_nodepeer.h"
#include "nat/rdvwire.h"
#include "node/ctl/ctl_int.h"
#include "node/io/node_trav.h"
#include "node/base/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_addr plocal; /* the peer's address as the node sees it */
static uint8_t ppk[KONCE_KEY_BYTES];
static uint64_t want_txid;

static void check_answer(const uint8_t *p, size_t len)
{
	konce_rdvwire_msg m;
	if (len < KONCE_MSG_BODY || wire_get16(p + KONCE_MSG_CLASS) != KONCE_CLASS_RENDEZVOUS ||
	    konce_rdvwire_decode(&m, p + KONCE_MSG_BODY, len - KONCE_MSG_BODY))
		abort();
	if (m.type != KONCE_RDV_REGISTERED && m.type != KONCE_RDV_INTRO && m.type != KONCE_RDV_INTRO_FAIL &&
	    m.type != KONCE_RDV_RELAYED && m.type != KONCE_RDV_INTRO_OFFER)
		abort();
	if (m.type == KONCE_RDV_REGISTERED && m.id == want_txid && memcmp(&m.addr, &plocal, sizeof plocal))
		abort();
}

static void on_message(const uint8_t *data, size_t len) { check_answer(data, len); }

static void setup(void)
{
	konce_node_config cfg = {.traversal = {.rendezvous = 1, .rendezvous_capacity = 64}};
	setup_node_and_peer("rdvsrv", &cfg);
	if (konce_udp_local(pudp, &plocal))
		abort();
	memcpy(ppk, konce_identity_public(peer_id), KONCE_KEY_BYTES);
}

static json_int_t forged(void)
{
	konce_ctlproto_host h;
	node_ctl_host(node, &h);
	json_t *st = ctl_trav_status(&h); /* the traversal part of konce status */
	json_int_t f = json_integer_value(json_object_get(json_object_get(st, "rendezvous_service"), "forged"));
	json_decref(st);
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!node)
		setup();
	for (size_t i = 0; i + 2 <= n;) {
		unsigned flags = d[i];
		size_t len = d[i + 1];
		i += 2;
		if (len > n - i)
			len = n - i;
		uint8_t msg[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG + 256];
		konce_msg_head_put(msg, KONCE_CLASS_RENDEZVOUS, 0, 0);
		memcpy(msg + KONCE_MSG_BODY, d + i, len);
		i += len;
		konce_rdvwire_msg m;
		int dec = konce_rdvwire_decode(&m, msg + KONCE_MSG_BODY, len);
		if (!dec && (flags & 1)) {
			memcpy(m.key, ppk, KONCE_KEY_BYTES);
			size_t l = konce_rdvwire_encode(&m, msg + KONCE_MSG_BODY, KONCE_RDV_MAX_MSG);
			if (!l || konce_rdvwire_decode(&m, msg + KONCE_MSG_BODY, l))
				abort();
			len = l;
		}
		uint8_t t = len ? msg[KONCE_MSG_BODY] : 0;
		int served = t == KONCE_RDV_REGISTER || t == KONCE_RDV_INTRO_REQUEST || t == KONCE_RDV_RELAY ||
			     t == KONCE_RDV_INTRO_REFUSE || t == KONCE_RDV_INTRO_ACCEPT;
		int genuine = served && !dec && m.type == t && !memcmp(m.key, ppk, KONCE_KEY_BYTES);
		if (!up)
			connect_peer();
		json_int_t f = forged();
		seen_before = nstat().msgs_rx + nstat().msgs_dropped;
		if (genuine && t == KONCE_RDV_REGISTER)
			want_txid = m.id;
		uint64_t id;
		if (konce_ep_msg_send(peer, conn, msg, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, peer_clock(), &id))
			abort();
		if (!wait_for(node_took))
			continue; /* the session went down: the message went with it */
		pump(); /* the answers, sent in the same turn */
		if (served && !genuine && forged() != f + 1)
			abort();
		if (genuine && forged() != f)
			abort();
	}
	return 0;
}
