/* hs_server.c - the server side of the handshake: HELLO -> COOKIE (stateless), INITIATE checks
 * (cheapest first), session creation and ACCEPT.
 *
 * Order of the INITIATE checks and why (docs/PROTOCOL.md has the long form):
 *   a) size, layout, version   - free: a few compares on bytes already in cache
 *   b) recent                  - free: two integer compares on the echoed server time and challenge
 *   c) not already used        - one table probe; a duplicate of an accepted INITIATE is answered
 *                                from its session (one hash to tell duplicate from replay)
 *   d) cookie MAC              - one keyed BLAKE2b over ~100 bytes: proves we issued this cookie to
 *                                this address, and binds the demand, times and version list
 *   e) proof of work           - one BLAKE2b over the whole datagram (up to 1200 bytes); after the
 *                                MAC because the MAC is cheaper and authenticates the demanded bits
 *   f) X25519 x3, two AEAD opens, allocation - ~100x the cost of the rest; reached only by a peer
 *                                that received our cookie at its address and paid the demanded work
 * Every drop is counted by reason and charged to the load meter.  The source's rate-limit bucket
 * is charged only once the source has proved its address (its cookie MAC holds at d, or it repeats
 * an INITIATE accepted from that address at c): spoofed junk, HELLOs included, charges nobody, so
 * it cannot price a victim out.  A HELLO reads its source's level; it charges nothing.
 */
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/frame.h"
#include "node/transport/group.h"
#include "node/transport/hs_crypto.h"
#include "node/transport/keys.h"
#include "node/transport/pow.h"

/* Challenges older than this many issued cookies are refused by check (b) before the MAC; with
 * the 10 s cookie lifetime this still admits 1.6 million HELLOs a second. */
#define KONCE_HS_CHALLENGE_WINDOW ((uint64_t)1 << 24)

/* Charges the load meter, and the source's bucket only if it proved its address. */
static void charge(konce_ep *ep, const konce_addr *from, bool proven, unsigned cost, uint64_t now_us, konce_ep_rx *rx)
{
	if (proven) {
		konce_load_charge_proven(&ep->load, cost, now_us);
		konce_ratelimit_charge(ep->rl, from, cost, now_us);
	} else {
		konce_load_charge(&ep->load, cost, now_us);
	}
	rx->cost = cost;
}

/* ---- HELLO -------------------------------------------------------------------------------- */

enum konce_ep_verdict konce_hs_server_hello(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
					    uint64_t now_us, konce_ep_rx *rx)
{
	konce_hello h;
	ep->c.hello_rx++;
	charge(ep, from, false, KONCE_COST_HELLO, now_us, rx);
	unsigned overdraft = konce_ratelimit_level(ep->rl, from, now_us);
	if (konce_hello_parse(&h, pkt, len)) {
		ep->c.hello_bad_size++;
		return KONCE_EP_DROPPED_MALFORMED;
	}
	if (ep->group_key && !konce_group_clue_ok(&h, ep->group_key)) {
		ep->c.hello_bad_clue++; /* silently: not even a VERSION */
		return KONCE_EP_DROPPED_AUTH;
	}
	uint16_t version = 0;
	for (unsigned i = 0; i < h.versions.n && !version; i++)
		if (konce_versions_has(&ep->versions, konce_versions_at(&h.versions, i)))
			version = konce_versions_at(&h.versions, i);
	if (!version) {
		konce_version_msg v;
		uint8_t out[KONCE_VERSION_SIZE];
		memcpy(v.client_cid, h.client_cid, KONCE_WIRE_CID);
		v.versions = ep->versions;
		konce_ep_send_raw(ep, from, out, konce_version_build(out, &v));
		ep->c.version_tx++;
		return KONCE_EP_HELLO_ANSWERED;
	}
	const konce_cookie_gen *gen = konce_cookie_keys_current(ep->cookie_keys);
	konce_cookie_params p;
	memset(&p, 0, sizeof p);
	p.client = *from;
	p.version = version;
	p.nversions = h.versions.n;
	memcpy(p.versions, h.versions.raw, sizeof p.versions);
	memcpy(p.client_cid, h.client_cid, KONCE_WIRE_CID);
	p.client_time = h.client_time;
	memcpy(p.clue, h.clue, KONCE_WIRE_CLUE);
	p.challenge = ep->next_challenge++;
	p.server_time = now_us / 1000;
	/* the load and overdraft demand (load.h), or the table's occupancy (ep_table.c) if higher */
	unsigned bits = konce_load_bits(&ep->load, overdraft, now_us), occ = konce_ep_table_bits(ep);
	p.pow_bits = (uint8_t)(occ > bits ? occ : bits);
	p.key_id = gen->key_id;

	konce_cookie_msg c;
	memset(&c, 0, sizeof c);
	c.version = version;
	memcpy(c.client_cid, h.client_cid, KONCE_WIRE_CID);
	c.client_time = h.client_time;
	c.challenge = p.challenge;
	c.server_time = p.server_time;
	c.pow_bits = p.pow_bits;
	c.key_id = p.key_id;
	memcpy(c.epk, gen->epk, KONCE_WIRE_KEY);
	if (ep->group_key) {
		c.flags |= KONCE_COOKIE_F_MASKED;
		konce_group_mask(c.epk, ep->group_key, c.challenge);
	}
	konce_cookie_mac(c.mac, gen->secret, &p);
	uint8_t out[KONCE_COOKIE_SIZE];
	konce_ep_send_raw(ep, from, out, konce_cookie_build(out, &c));
	ep->c.cookie_tx++;
	return KONCE_EP_HELLO_ANSWERED;
}

/* ---- accepted-challenge table ------------------------------------------------------------- */

/* Way w of a challenge's bucket.  The table is way-major (all buckets' way 0, then way 1, ...):
 * challenges are sequential, so at an ordinary handshake rate every entry lands in way 0 and the
 * other ways' pages are never touched (resident memory follows the handshakes in a cookie
 * lifetime, not the table's size). */
static konce_acc_entry *acc_way(konce_ep *ep, uint64_t challenge, unsigned w)
{
	/* challenges are sequential and ours: consecutive ones land in different buckets */
	return &ep->acc[(size_t)w * (ep->acc_mask + 1) + (challenge & ep->acc_mask)];
}

static konce_acc_entry *acc_find(konce_ep *ep, uint64_t challenge, uint64_t now_us)
{
	for (unsigned i = 0; i < KONCE_EP_ACC_WAYS; i++) {
		konce_acc_entry *e = acc_way(ep, challenge, i);
		if (e->expires_us > now_us && e->challenge == challenge)
			return e;
	}
	return NULL;
}

static konce_acc_entry *acc_free_way(konce_ep *ep, uint64_t challenge, uint64_t now_us)
{
	for (unsigned i = 0; i < KONCE_EP_ACC_WAYS; i++) {
		konce_acc_entry *e = acc_way(ep, challenge, i);
		if (e->expires_us <= now_us)
			return e;
	}
	return NULL;
}

/* ---- ACCEPT ------------------------------------------------------------------------------- */

void konce_hs_server_flush_accept(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t flen)
{
	s->hs_len = konce_hs_accept_seal(s->hb->pkt, s->cids_ready ? s->peer_cid0 : s->sess.dcid, s->scid, frames,
					 flen, s->sess.keys->tx);
	konce_ep_set_state(ep, s, KONCE_HS_ESTABLISHED);
	for (konce_sess **pp = &ep->pend_head; *pp; pp = &(*pp)->pend_next)
		if (*pp == s) {
			*pp = s->pend_next;
			break;
		}
	s->pend_next = NULL;
	konce_ep_send_raw_control(ep, &s->hs_addr, s->hb->pkt, s->hs_len);
	ep->c.accept_tx++;
	konce_ep_arm(ep, s, 0); /* established: its timers (ACCEPT resends, idle) start */
}

void konce_hs_server_flush_all(konce_ep *ep)
{
	while (ep->pend_head)
		konce_hs_server_flush_accept(ep, ep->pend_head, NULL, 0);
}

/* ---- INITIATE ----------------------------------------------------------------------------- */

/* What makes two INITIATEs the same: everything but the proof-of-work nonce, which no key and no
 * box depends on.  So a copy whose nonce someone changed is answered like a retransmission (from
 * the same address only) instead of being dropped as a replay and starving the real client. */
static void initiate_hash(uint8_t out[32], const uint8_t *pkt, size_t len)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, pkt, KONCE_INIT_POW_NONCE);
	crypto_generichash_update(&st, pkt + KONCE_INIT_BOX1, len - KONCE_INIT_BOX1);
	crypto_generichash_final(&st, out, 32);
}

static bool initiate_crypto(konce_ep *ep, const uint8_t *pkt, const konce_initiate *in, const konce_cookie_gen *gen,
			    uint8_t c_pub[32], const konce_identity **S, uint8_t k_c2s[32], uint8_t k_s2c[32],
			    uint8_t *plain)
{
	switch (konce_hs_initiate_open(pkt, in, gen->esk, gen->epk, ep->server_ids, ep->n_server_ids, c_pub, S,
				       k_c2s, k_s2c, plain)) {
	case KONCE_HS_OPEN_OK:
		if (konce_frame_validate(plain, in->box2_len - KONCE_WIRE_TAG, konce_ep_fext(ep)) == 0)
			return true;
		ep->c.init_bad_box2++;
		return false;
	case KONCE_HS_OPEN_LOW_ORDER:
		ep->c.init_low_order++;
		return false;
	case KONCE_HS_OPEN_BAD_BOX1:
		ep->c.init_bad_box1++;
		return false;
	case KONCE_HS_OPEN_UNKNOWN_SERVER:
		ep->c.init_unknown_server++;
		return false;
	case KONCE_HS_OPEN_BAD_BOX2:
		ep->c.init_bad_box2++;
		return false;
	}
	return false;
}

enum konce_ep_verdict konce_hs_server_initiate(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
					       uint64_t now_us, konce_ep_rx *rx)
{
	enum konce_ep_verdict v = KONCE_EP_DROPPED_MALFORMED;
	konce_initiate in;
	unsigned cost = KONCE_COST_REJECT;
	bool proven = false; /* the source proved its address: charge its bucket */
	uint64_t now_ms = now_us / 1000;
	ep->c.init_rx++;

	/* a) */
	if (konce_initiate_parse(&in, pkt, len)) {
		ep->c.init_bad_size++;
		goto out;
	}
	if (!konce_versions_has(&ep->versions, in.version)) {
		ep->c.init_bad_version++;
		v = KONCE_EP_DROPPED_VERSION;
		goto out;
	}
	/* b) */
	if (in.server_time > now_ms || now_ms - in.server_time > KONCE_COOKIE_LIFETIME_MS) {
		ep->c.init_stale++;
		v = KONCE_EP_DROPPED_STALE;
		goto out;
	}
	if (in.challenge >= ep->next_challenge || ep->next_challenge - in.challenge > KONCE_HS_CHALLENGE_WINDOW) {
		ep->c.init_challenge_window++;
		v = KONCE_EP_DROPPED_STALE;
		goto out;
	}
	/* c) */
	konce_acc_entry *used = acc_find(ep, in.challenge, now_us);
	if (used) {
		uint8_t hash[32];
		initiate_hash(hash, pkt, len);
		konce_sess *s = konce_ep_sess_by_conn(ep, used->conn);
		v = KONCE_EP_DROPPED_STALE;
		if (s && sodium_memcmp(hash, used->hash, 32) == 0 && konce_addr_eq(from, &s->hs_addr)) {
			/* A retransmission (our ACCEPT was lost) or a replay from the same address, which
			 * only someone on the path can make: answered at most KONCE_HS_DUP_ANSWERS times, and
			 * never with more bytes than it carried.  An ACCEPT larger than its INITIATE is
			 * resent by our own timer instead (ep_session.c), which no replay can drive. */
			if (s->state == KONCE_HS_ACCEPT_PENDING) {
				konce_hs_server_flush_accept(ep, s, NULL, 0);
				ep->c.init_dup_resent++;
				v = KONCE_EP_ACCEPT_RESENT;
				rx->conn = s->conn;
			} else if (s->hb && s->dup_answers < KONCE_HS_DUP_ANSWERS && s->hs_len <= len) {
				s->dup_answers++;
				konce_ep_send_raw_control(ep, from, s->hb->pkt, s->hs_len);
				ep->c.init_dup_resent++;
				v = KONCE_EP_ACCEPT_RESENT;
				rx->conn = s->conn;
			} else {
				ep->c.init_dup_dropped++;
			}
		} else {
			ep->c.init_dup_dropped++;
		}
		cost += KONCE_COST_POW;
		goto out;
	}
	/* d) */
	const konce_cookie_gen *gen = konce_cookie_keys_get(ep->cookie_keys, in.key_id);
	konce_cookie_params p;
	memset(&p, 0, sizeof p);
	p.client = *from;
	p.version = in.version;
	p.nversions = in.versions.n;
	memcpy(p.versions, in.versions.raw, sizeof p.versions);
	memcpy(p.client_cid, in.client_cid, KONCE_WIRE_CID);
	p.client_time = in.client_time;
	memcpy(p.clue, in.clue, KONCE_WIRE_CLUE);
	p.challenge = in.challenge;
	p.server_time = in.server_time;
	p.pow_bits = in.pow_bits;
	p.key_id = in.key_id;
	if (!gen || !konce_cookie_mac_ok(in.mac, gen->secret, &p)) {
		ep->c.init_bad_mac++;
		v = KONCE_EP_DROPPED_AUTH;
		goto out;
	}
	proven = true;
	/* e) */
	cost += KONCE_COST_POW;
	if (!konce_pow_check(pkt, len, in.pow_bits)) {
		ep->c.init_bad_pow++;
		v = KONCE_EP_DROPPED_AUTH;
		goto out;
	}
	/* f) */
	konce_acc_entry *slot_e = acc_free_way(ep, in.challenge, now_us);
	if (!slot_e) {
		ep->c.init_full++; /* refused before the DH: nowhere to remember the challenge */
		v = KONCE_EP_DROPPED_FULL;
		goto out;
	}
	konce_sess *victim; /* the table's rules, before the DH (ep_table.c) */
	if (konce_ep_table_admit(ep, from, now_us, &victim)) {
		v = KONCE_EP_DROPPED_FULL;
		goto out;
	}
	cost += KONCE_COST_DH;
	struct {
		uint8_t c_pub[32], k_c2s[32], k_s2c[32];
		uint8_t plain[KONCE_WIRE_MAX_DATAGRAM];
	} x;
	const konce_identity *S = NULL;
	if (!initiate_crypto(ep, pkt, &in, gen, x.c_pub, &S, x.k_c2s, x.k_s2c, x.plain)) {
		sodium_memzero(&x, sizeof x);
		v = KONCE_EP_DROPPED_AUTH;
		goto out;
	}
	/* Authenticated.  Our own attempt toward this peer makes it a simultaneous open (hs_simopen.c):
	 * the lower key's INITIATE wins, so either this one is dropped or our attempt becomes its
	 * server session. */
	konce_sess *s = konce_hs_simopen_find(ep, x.c_pub, S, in.server_time);
	if (s && konce_hs_simopen_initiator(S, x.c_pub)) {
		/* remembered as used with no session (conn 0): its retransmissions and replays stop at
		 * check c, before the DH */
		slot_e->challenge = in.challenge;
		slot_e->expires_us = (in.server_time + KONCE_COOKIE_LIFETIME_MS + 1) * 1000;
		if (s->hb) /* an ESTABLISHED attempt has none, and is no server session */
			s->hb->hs_until_us = slot_e->expires_us;
		slot_e->conn = 0;
		initiate_hash(slot_e->hash, pkt, len);
		ep->c.simopen_yielded++;
		v = KONCE_EP_SIMOPEN_YIELDED;
		rx->conn = s->conn;
		sodium_memzero(&x, sizeof x);
		/* No COOKIE yet for our attempt: our HELLO (or its COOKIE) was lost, or we dial a stale
		 * address.  The peer just proved it is at `from`: send our HELLO there now, instead of
		 * dropping its INITIATEs until our retransmission (1 s) or timeout.  Once per
		 * challenge: copies of this INITIATE stop at check c. */
		if (s->state == KONCE_HS_HELLO_SENT)
			konce_hs_client_redirect(ep, s, from, now_us);
		goto out;
	}
	bool merged = s != NULL;
	const uint8_t *dialled = konce_identity_public(S);
	uint64_t first_id = 0;
	if (!s) /* a new session: the per-key rule, and room made if the table needs it */
		konce_ep_table_seat(ep, x.c_pub, victim, now_us);
	if (s) {
		first_id = konce_hs_simopen_merge(ep, s, from, in.client_cid, x.k_c2s, x.k_s2c, now_us);
		memcpy(s->local_pk, dialled, KONCE_WIRE_KEY);
	} else if ((s = konce_ep_sess_new(ep, false, now_us))) {
		s->incoming = true;
		ep->n_incoming++;
		konce_ep_set_state(ep, s, KONCE_HS_ACCEPT_PENDING);
		s->hs_addr = *from;
		memcpy(s->peer_pk, x.c_pub, KONCE_WIRE_KEY);
		memcpy(s->local_pk, dialled, KONCE_WIRE_KEY);
		konce_ep_table_join(ep, s);
		konce_session_init(&s->sess, konce_keyslab_slot(ep->slab, s->slot), x.k_s2c, x.k_c2s, in.client_cid,
				   now_us);
		konce_path_init(&s->path, from);
		konce_cid_sync(ep, s);
		s->pend_next = ep->pend_head;
		ep->pend_head = s;
	} else {
		sodium_memzero(&x, sizeof x);
		ep->c.init_full++;
		v = KONCE_EP_DROPPED_FULL;
		goto out;
	}
	s->init_len = (uint16_t)len;
	s->heard = false;
	s->accept_resends = 0;
	s->hb->accept_retry_us = 0;
	slot_e->challenge = in.challenge;
	slot_e->expires_us = (in.server_time + KONCE_COOKIE_LIFETIME_MS + 1) * 1000;
	s->hb->hs_until_us = slot_e->expires_us;
	slot_e->conn = s->conn;
	initiate_hash(slot_e->hash, pkt, len);
	konce_ep_arm(ep, s, now_us);

	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_ESTABLISHED, s->conn);
	if (e) {
		e->incoming = true;
		e->msg_id = first_id;
		memcpy(e->peer_pk, s->peer_pk, KONCE_WIRE_KEY);
		memcpy(e->local_pk, s->local_pk, KONCE_WIRE_KEY);
		e->addr = *from;
		e->validated = true;
	}
	uint32_t conn = s->conn;
	v = merged ? KONCE_EP_SIMOPEN_MERGED : KONCE_EP_ESTABLISHED;
	rx->conn = conn;
	bool live = konce_ep_frames(ep, s, x.plain, in.box2_len - KONCE_WIRE_TAG, from, 1, now_us);
	sodium_memzero(&x, sizeof x);
	if (merged && live && konce_ep_sess_by_conn(ep, conn) == s)
		konce_hs_simopen_first(ep, s, now_us);
out:
	charge(ep, from, proven, cost, now_us, rx);
	return v;
}
