/* hs_client.c - the client side of the handshake: HELLO, COOKIE -> INITIATE, ACCEPT, VERSION,
 * retransmission.  The state machine is drawn in ep_internal.h.
 *
 * The client keeps its transient secret only inside konce_hs_client_cookie(): the INITIATE is
 * built once, its session keys go to the key slot, and retransmissions resend the same bytes, so
 * there is nothing to recompute and nothing secret to keep in the session struct.
 *
 * Proof of work (SOLVING).  A COOKIE is unauthenticated, so its demand is whatever the server we
 * dial, or anyone who sees our HELLO, writes there.  Two rules keep such a demand from freezing
 * the caller's loop:
 *   - a demand whose expected cost, 2^bits hashes of this INITIATE at the endpoint's hash rate
 *     (cfg->pow_rate, scaled by the INITIATE's BLAKE2b blocks), exceeds KONCE_POW_SOLVE_BUDGET_MS
 *     fails at once (KONCE_FAIL_POW_TOO_HIGH): it could not be paid within the cookie's lifetime;
 *   - the proof is solved in slices of KONCE_POW_SLICE_US of hashing each, one per konce_ep_timer()
 *     call (the endpoint asks to be called again at once); only an eighth of a slice runs right
 *     after the COOKIE (none if another attempt is solving), which pays a small demand without a
 *     timer round.  Nothing else waits on a slice, and every slice runs with the clock of its own
 *     call, so the INITIATE's timers start when it leaves.
 * Attempts solving at once take turns: they queue in the order their COOKIEs came (ep->solve_head,
 * konce_hs_solve_join), which is the order of their deadlines, and only the head hashes, with the
 * whole slice; when it leaves the queue (solved, abandoned, freed) the next one is armed.  Shared
 * evenly instead, n proofs would each run at 1/n of the rate and all finish late together: 256
 * dials at once to a server whose filling table demands 15 bits (bench_sessions) are 8 million
 * hashes, several times what one core hashes within the deadline, so most of them missed it twice
 * and failed.  In turns the oldest finish within their deadline, one after another.
 * A solve still running KONCE_POW_DEADLINE_MS after its COOKIE arrived is abandoned (the cookie is
 * about to expire): the attempt starts over with a fresh HELLO once, as after unanswered INITIATEs.
 * One whose turn never came, or came less than half the deadline before it (hb->turn_us: the
 * queue ahead of it was about as long as the deadline), starts over without spending that one
 * restart (pow_waited), up to KONCE_HS_ATTEMPTS times: waiting for the attempts ahead is not a
 * sign that the server or the path failed.
 */
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/frame.h"
#include "node/transport/group.h"
#include "node/transport/hs_crypto.h"
#include "node/transport/keys.h"
#include "node/transport/pow.h"

/* Builds and sends a HELLO and enters HELLO_SENT. */
static void send_hello(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_hello h;
	memset(&h, 0, sizeof h);
	s->hb->client_time = now_us / 1000;
	h.versions = s->hb->offered;
	h.client_time = s->hb->client_time;
	memcpy(h.client_cid, s->scid, KONCE_WIRE_CID);
	if (s->grouped) {
		h.flags |= KONCE_HELLO_F_CLUE;
		konce_group_clue(h.clue, konce_keyslab_slot(ep->slab, s->slot)->group, h.client_cid, h.client_time,
				 &h.versions);
	}
	s->hs_len = konce_hello_build(s->hb->pkt, &h);
	konce_ep_set_state(ep, s, KONCE_HS_HELLO_SENT);
	s->attempts = 1;
	s->retry_at_us = now_us + (uint64_t)KONCE_HS_RETRY_MS * 1000;
	konce_ep_arm(ep, s, s->retry_at_us);
	konce_ep_send_raw_control(ep, &s->hs_addr, s->hb->pkt, s->hs_len);
}

int konce_hs_client_start(konce_ep *ep, konce_sess *s, const uint8_t server_pk[KONCE_WIRE_KEY],
			  const konce_addr *to, uint64_t now_us)
{
	memcpy(s->peer_pk, server_pk, KONCE_WIRE_KEY);
	s->hb->offered = ep->versions;
	konce_path_init(&s->path, to);
	s->hs_addr = *to;
	send_hello(ep, s, now_us);
	return 0;
}

void konce_hs_client_redirect(konce_ep *ep, konce_sess *s, const konce_addr *to, uint64_t now_us)
{
	konce_path_init(&s->path, to);
	s->hs_addr = *to;
	send_hello(ep, s, now_us);
}

/* The first message and the group key are kept until the handshake ends, for a restart. */
static void handshake_done(konce_ep *ep, konce_sess *s)
{
	sodium_memzero(s->hb->first, s->first_len);
	s->first_len = 0;
	sodium_memzero(konce_keyslab_slot(ep->slab, s->slot)->group, KONCE_WIRE_KEY);
	s->grouped = false;
	konce_cid_sync(ep, s);
}

static konce_sess *match(konce_ep *ep, const uint8_t cid[KONCE_WIRE_CID], enum konce_hs_state want)
{
	konce_sess *s = konce_cid_find(ep, cid);
	return s && s->state == want && !s->incoming ? s : NULL;
}

struct cookie_secrets {
	uint8_t esk[32], k_c2s[32], k_s2c[32];
	uint8_t frames[KONCE_WIRE_MAX_PAYLOAD];
};

/* Hashes a len-byte INITIATE per second at the endpoint's rate (given for 1200-byte datagrams):
 * BLAKE2b's cost is per 128-byte block. */
static uint64_t pow_rate_for(const konce_ep *ep, size_t len)
{
	uint64_t blocks = (len + 127) / 128, full = (KONCE_WIRE_MAX_DATAGRAM + 127) / 128;
	return ep->pow_rate * full / (blocks ? blocks : 1);
}

/* True if 2^bits hashes of a len-byte INITIATE fit in KONCE_POW_SOLVE_BUDGET_MS at our rate. */
static bool pow_payable(const konce_ep *ep, unsigned bits, size_t len)
{
	if (bits > ep->max_pow_bits)
		return false;
	unsigned __int128 need = (unsigned __int128)1 << bits;
	return need * 1000 <= (unsigned __int128)pow_rate_for(ep, len) * KONCE_POW_SOLVE_BUDGET_MS;
}

/* Fills s->hb->pkt with the INITIATE (nonce not yet solved) and the key slot with the session keys.
 * 0 or a fail reason. */
static unsigned build_initiate(konce_ep *ep, konce_sess *s, const konce_cookie_msg *c, struct cookie_secrets *x,
			       uint64_t now_us)
{
	konce_initiate in;
	memset(&in, 0, sizeof in);
	in.version = c->version;
	memcpy(in.client_cid, s->scid, KONCE_WIRE_CID);
	in.client_time = s->hb->client_time;
	in.challenge = c->challenge;
	in.server_time = c->server_time;
	in.pow_bits = c->pow_bits;
	in.key_id = c->key_id;
	in.versions = s->hb->offered;
	memcpy(in.mac, c->mac, KONCE_WIRE_MAC);
	size_t flen = 0;
	if (s->first_len)
		flen = konce_frame_put_message(x->frames, sizeof x->frames, s->hb->first, s->first_len);
	/* refused before any public-key work: the INITIATE will be KONCE_INIT_MIN_SIZE + flen bytes */
	if (!pow_payable(ep, c->pow_bits, KONCE_INIT_MIN_SIZE + flen))
		return KONCE_FAIL_POW_TOO_HIGH;
	if (s->grouped) {
		/* the clue is echoed (the MAC binds it); the HELLO we sent holds it */
		memcpy(in.clue, s->hb->pkt + KONCE_HELLO_CLUE, KONCE_WIRE_CLUE);
	}
	konce_env_random(ep->env, x->esk, sizeof x->esk);

	const konce_identity *me = s->as;
	konce_identity *derived = NULL;
	if (!me && ep->explicit_identity && !s->per_server)
		me = ep->identity;
	if (!me) {
		if (konce_identity_derive_for(ep->identity, s->peer_pk, &derived))
			return KONCE_FAIL_CRYPTO;
		me = derived;
	}
	memcpy(s->local_pk, konce_identity_public(me), KONCE_WIRE_KEY);
	size_t len = konce_hs_initiate_seal(s->hb->pkt, &in, x->esk, c->epk, me, s->peer_pk, x->frames, flen,
					    x->k_c2s, x->k_s2c);
	konce_identity_free(derived);
	if (len == 0)
		return KONCE_FAIL_CRYPTO;
	s->hs_len = len;
	uint8_t start[8];
	konce_env_random(ep->env, start, sizeof start);
	s->hb->pow_next = wire_get64(start);
	s->pow_bits = c->pow_bits;
	/* The client's session: it sends with k_c2s, receives with k_s2c; the server's cid comes in ACCEPT. */
	static const uint8_t no_cid[KONCE_WIRE_CID];
	konce_session_init(&s->sess, konce_keyslab_slot(ep->slab, s->slot), x->k_c2s, x->k_s2c, no_cid, now_us);
	return 0;
}

void konce_hs_solve_join(konce_ep *ep, konce_sess *s)
{
	s->hb->solve_next = NULL;
	s->hb->solve_prev = ep->solve_tail;
	s->hb->turn_us = 0;
	if (ep->solve_tail)
		ep->solve_tail->hb->solve_next = s;
	else
		ep->solve_head = s;
	ep->solve_tail = s;
}

void konce_hs_solve_leave(konce_ep *ep, konce_sess *s)
{
	konce_sess *p = s->hb->solve_prev, *n = s->hb->solve_next;
	if (p)
		p->hb->solve_next = n;
	else
		ep->solve_head = n;
	if (n)
		n->hb->solve_prev = p;
	else
		ep->solve_tail = p;
	s->hb->solve_prev = s->hb->solve_next = NULL;
	if (!p && n)
		konce_ep_arm(ep, n, 0); /* the new head: its turn, at once */
}

/* Up to `tries` more nonces; true when the proof holds (the INITIATE then leaves, at now_us). */
static bool solve_slice(konce_ep *ep, konce_sess *s, uint64_t tries, uint64_t now_us)
{
	uint64_t done = 0;
	if (!s->hb->turn_us)
		s->hb->turn_us = now_us;
	int r = 0; /* 0 bits: any nonce will do, nothing to hash */
	if (s->pow_bits)
		r = konce_pow_solve(s->hb->pkt, s->hs_len, KONCE_INIT_POW_NONCE, s->pow_bits, s->hb->pow_next, tries, &done);
	ep->c.pow_tries += done;
	s->hb->pow_next += done;
	if (r)
		return false; /* -ETIMEDOUT: more next time (-EINVAL cannot happen: bits were checked) */
	s->sess.tx_key_since_us = now_us;
	konce_ep_set_state(ep, s, KONCE_HS_INITIATE_SENT);
	s->attempts = 1;
	s->retry_at_us = now_us + (uint64_t)KONCE_HS_RETRY_MS * 1000;
	konce_ep_arm(ep, s, s->retry_at_us);
	konce_ep_send_raw_control(ep, &s->hs_addr, s->hb->pkt, s->hs_len);
	return true;
}

/* Tries worth `us` microseconds of hashing on s's INITIATE (at least one). */
static uint64_t slice_tries(const konce_ep *ep, const konce_sess *s, uint64_t us)
{
	uint64_t t = pow_rate_for(ep, s->hs_len) * us / 1000000;
	return t ? t : 1;
}

enum konce_ep_verdict konce_hs_client_cookie(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
                                             uint64_t now_us, konce_ep_rx *rx)
{
	konce_cookie_msg c;
	if (konce_cookie_parse(&c, pkt, len)) {
		ep->c.cookie_bad++;
		return KONCE_EP_DROPPED_MALFORMED;
	}
	konce_sess *s = match(ep, c.client_cid, KONCE_HS_HELLO_SENT);
	if (!s) {
		ep->c.cookie_unmatched++;
		return KONCE_EP_DROPPED_UNMATCHED;
	}
	rx->conn = s->conn;
	/* a group server always masks; a public one never does (no downgrade either way) */
	if (c.client_time != s->hb->client_time || !konce_versions_has(&s->hb->offered, c.version) ||
	    !(c.flags & KONCE_COOKIE_F_MASKED) != !s->grouped) {
		ep->c.cookie_bad++;
		return KONCE_EP_DROPPED_AUTH;
	}
	if (s->grouped)
		konce_group_mask(c.epk, konce_keyslab_slot(ep->slab, s->slot)->group, c.challenge);
	if (!konce_key_canonical(c.epk)) {
		ep->c.cookie_bad++;
		return KONCE_EP_DROPPED_AUTH;
	}
	if (c.pow_bits > ep->max_pow_bits) {
		ep->c.cookie_pow_too_high++;
		konce_ep_fail(ep, s, KONCE_FAIL_POW_TOO_HIGH);
		return KONCE_EP_DROPPED_POW_TOO_HIGH;
	}
	struct cookie_secrets x;
	unsigned fail = build_initiate(ep, s, &c, &x, now_us);
	sodium_memzero(&x, sizeof x);
	if (fail) {
		if (fail == KONCE_FAIL_POW_TOO_HIGH)
			ep->c.cookie_pow_too_high++;
		konce_ep_fail(ep, s, fail);
		return fail == KONCE_FAIL_POW_TOO_HIGH ? KONCE_EP_DROPPED_POW_TOO_HIGH : KONCE_EP_DROPPED_AUTH;
	}
	konce_ep_set_state(ep, s, KONCE_HS_SOLVING);
	s->retry_at_us = now_us + (uint64_t)KONCE_POW_DEADLINE_MS * 1000; /* abandon the solve then */
	/* A small demand is paid at once, in an eighth of a slice, unless others are solving already:
	 * so many COOKIEs in one wake (many dials) add up to little hashing; the rest is the timer's,
	 * in turns (the header). */
	if (ep->solve_head != s)
		konce_ep_arm(ep, s, s->retry_at_us); /* armed sooner when its turn comes */
	else if (!solve_slice(ep, s, slice_tries(ep, s, KONCE_POW_SLICE_US / 8), now_us))
		konce_ep_arm(ep, s, now_us); /* the rest in slices from konce_ep_timer() */
	return KONCE_EP_COOKIE_TAKEN;
}

enum konce_ep_verdict konce_hs_client_version(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
                                              uint64_t now_us, konce_ep_rx *rx)
{
	konce_version_msg v;
	ep->c.version_rx++;
	if (konce_version_parse(&v, pkt, len)) {
		ep->c.version_ignored++;
		return KONCE_EP_DROPPED_UNMATCHED;
	}
	konce_sess *s = match(ep, v.client_cid, KONCE_HS_HELLO_SENT);
	if (!s) {
		ep->c.version_ignored++;
		return KONCE_EP_DROPPED_UNMATCHED;
	}
	/* Our HELLO listed every version we speak.  A VERSION naming one of them contradicts itself
	 * (or is forged to push us off a version): ignore it and keep trying. */
	for (unsigned i = 0; i < v.versions.n; i++)
		if (konce_versions_has(&s->hb->offered, konce_versions_at(&v.versions, i))) {
			ep->c.version_ignored++;
			return KONCE_EP_DROPPED_UNMATCHED;
		}
	konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_PROTOCOL);
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_FAILED, s->conn);
	if (e) {
		e->reason = KONCE_FAIL_VERSION;
		e->nversions = v.versions.n;
		for (unsigned i = 0; i < v.versions.n; i++)
			e->versions[i] = konce_versions_at(&v.versions, i);
	}
	ep->c.hs_failed++;
	rx->conn = s->conn;
	konce_ep_sess_free(ep, s);
	return KONCE_EP_VERSION_TAKEN;
}

enum konce_ep_verdict konce_hs_client_accept(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
                                             uint64_t now_us, konce_ep_rx *rx)
{
	konce_accept a;
	uint8_t plain[KONCE_WIRE_MAX_DATAGRAM];
	if (konce_accept_parse(&a, pkt, len)) {
		ep->c.accept_bad++;
		return KONCE_EP_DROPPED_MALFORMED;
	}
	konce_sess *s = match(ep, a.client_cid, KONCE_HS_INITIATE_SENT);
	if (!s) {
		ep->c.accept_unmatched++;
		return KONCE_EP_DROPPED_UNMATCHED;
	}
	size_t plen = a.box_len - KONCE_WIRE_TAG;
	if (konce_hs_accept_open(pkt, &a, s->sess.keys->rx, plain) ||
	    konce_frame_validate(plain, plen, konce_ep_fext(ep))) {
		ep->c.accept_bad++;
		return KONCE_EP_DROPPED_AUTH;
	}
	memcpy(s->sess.dcid, a.server_cid, KONCE_WIRE_CID);
	if (s->attempts == 1 && now_us > s->sess.tx_key_since_us) /* one INITIATE: an RTT sample (Karn) */
		konce_ep_rtt_seen(s, now_us - s->sess.tx_key_since_us, now_us, now_us);
	konce_ep_set_state(ep, s, KONCE_HS_ESTABLISHED);
	handshake_done(ep, s);
	konce_ep_hs_done(ep, s);
	s->last_rx_us = now_us;
	s->est_us = now_us;
	konce_ep_arm(ep, s, now_us + ep->idle_us);
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_ESTABLISHED, s->conn);
	if (e) {
		memcpy(e->peer_pk, s->peer_pk, KONCE_WIRE_KEY);
		memcpy(e->local_pk, s->local_pk, KONCE_WIRE_KEY);
		e->addr = s->path.cur;
		e->validated = true;
	}
	uint32_t conn = s->conn;
	konce_ep_msg_input(ep, s, 1, plain, plen, now_us); /* the server's first reliable packet may ride here */
	if (konce_ep_frames(ep, s, plain, plen, from, 1, now_us) && konce_ep_sess_by_conn(ep, conn) == s)
		konce_ep_msg_flush(ep, s, now_us); /* messages queued during the handshake */
	sodium_memzero(plain, plen);
	rx->conn = conn;
	return KONCE_EP_ESTABLISHED;
}

uint64_t konce_hs_client_timer(konce_ep *ep, konce_sess *s, unsigned solving, uint64_t now_us)
{
	(void)solving; /* the solves take turns (the header): the head has the whole slice */
	if (s->state == KONCE_HS_SOLVING && now_us < s->retry_at_us) {
		if (ep->solve_head != s)
			return s->retry_at_us; /* not its turn: armed when it comes */
		if (solve_slice(ep, s, slice_tries(ep, s, KONCE_POW_SLICE_US), now_us))
			return s->retry_at_us;
		return now_us;
	}
	if (now_us < s->retry_at_us)
		return s->retry_at_us;
	/* A solve whose turn never came, or came late, starts over without spending its one restart:
	 * it is not the server's or the path's failure (the header). */
	bool waited = s->state == KONCE_HS_SOLVING && s->hb->waits < KONCE_HS_ATTEMPTS &&
		      (!s->hb->turn_us || now_us - s->hb->turn_us < (uint64_t)KONCE_POW_DEADLINE_MS * 1000 / 2);
	if (waited || (s->state == KONCE_HS_INITIATE_SENT && s->attempts >= KONCE_HS_RESTART_AFTER && !s->restarted) ||
	    (s->state == KONCE_HS_SOLVING && !s->restarted)) {
		/* No ACCEPT: the cookie may be dead (our address changed since the COOKIE, which breaks
		 * its MAC, or the server restarted and lost its secrets), or the proof took so long that
		 * the cookie is about to expire.  Start over once with a fresh
		 * HELLO; the session keys of the abandoned INITIATE are wiped. */
		konce_keyslot *k = konce_keyslab_slot(ep->slab, s->slot);
		if (waited) {
			s->hb->waits++;
			ep->c.pow_waited++;
		} else {
			s->restarted = true;
		}
		sodium_memzero(k->tx, sizeof k->tx);
		sodium_memzero(k->rx, sizeof k->rx);
		ep->c.hs_restarts++;
		send_hello(ep, s, now_us);
		return s->retry_at_us;
	}
	if (s->attempts >= KONCE_HS_ATTEMPTS || s->state == KONCE_HS_SOLVING) {
		konce_ep_fail(ep, s, KONCE_FAIL_TIMEOUT);
		return UINT64_MAX;
	}
	s->attempts++;
	ep->c.hs_retransmits++;
	s->retry_at_us = now_us + (uint64_t)KONCE_HS_RETRY_MS * 1000;
	konce_ep_send_raw_control(ep, &s->hs_addr, s->hb->pkt, s->hs_len);
	return s->retry_at_us;
}
