/* ep_session.c - session traffic at the endpoint: DATA in, frames acted on, DATA out, path
 * validation and per-session timers.  Crypto and packet numbers are in session.c, path state in
 * path.c.  Nothing a forged, replayed, truncated or garbage packet does can close a session: only
 * a CLOSE frame inside a packet that authenticated.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/frame.h"

static int send_frames(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_gather *g,
		       const konce_addr *to, bool control, uint64_t now_us)
{
	uint8_t stack_pkt[KONCE_PMTU_MAX];
	uint8_t phase = s->sess.tx_phase;
	konce_cid_for(s, to);
	if (konce_session_overhead(&s->sess) + len > ep->max_datagram)
		return -EMSGSIZE;
	/* sealed straight into the out ring's slot (at most max_datagram bytes, checked above); only
	 * with the ring full does it go through the stack, to be counted and dropped like before */
	uint8_t *slot = control ? konce_ep_out_reserve_control(ep) : konce_ep_out_reserve(ep);
	uint8_t *pkt = slot ? slot : stack_pkt;
	size_t n = konce_session_seal_gather(&s->sess, pkt, frames, len, g, now_us);
	if (n == 0)
		return -EMSGSIZE;
	if (s->sess.tx_phase != phase)
		ep->c.rekey_tx++;
	if (!konce_path_may_send(&s->path, to, n)) {
		ep->c.amplification_blocked++;
		return -EAGAIN;
	}
	konce_path_sent(&s->path, to, n);
	if (slot)
		konce_ep_out_commit(ep, to, n);
	else if (control)
		konce_ep_send_raw_control(ep, to, pkt, n);
	else
		konce_ep_send_raw(ep, to, pkt, n);
	ep->c.data_tx++;
	s->tx_bytes += n;
	return 0;
}

int konce_ep_send_frames(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_addr *to,
			 uint64_t now_us)
{
	return send_frames(ep, s, frames, len, NULL, to, false, now_us);
}

int konce_ep_send_gather(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_gather *g,
			 const konce_addr *to, uint64_t now_us)
{
	return send_frames(ep, s, frames, len, g, to, false, now_us);
}

int konce_ep_send_control(konce_ep *ep, konce_sess *s, const uint8_t *frames, size_t len, const konce_addr *to,
			  uint64_t now_us)
{
	return send_frames(ep, s, frames, len, NULL, to, true, now_us);
}

static int send_path_frame(konce_ep *ep, konce_sess *s, uint8_t type, const uint8_t data[KONCE_FRAME_PATH_DATA],
			   const konce_addr *to, uint64_t now_us)
{
	uint8_t f[1 + KONCE_FRAME_PATH_DATA];
	size_t n = konce_frame_put_path(f, sizeof f, type, data);
	return konce_ep_send_control(ep, s, f, n, to, now_us);
}

static void send_challenge(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (send_path_frame(ep, s, KONCE_FRAME_PATH_CHALLENGE, s->path.challenge, &s->path.probe, now_us) == 0) {
		ep->c.path_challenge_tx++;
		konce_path_challenge_sent(&s->path, now_us);
		konce_ep_arm(ep, s, s->path.deadline_us);
	}
}

/* The old path's re-validation (path.h): a challenge to the address the peer seems to leave. */
static void send_old_challenge(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (send_path_frame(ep, s, KONCE_FRAME_PATH_CHALLENGE, s->path.old_challenge, &s->path.old, now_us) == 0) {
		ep->c.path_old_challenge_tx++;
		konce_path_old_sent(&s->path, now_us);
		konce_ep_arm(ep, s, s->path.old_deadline_us);
	}
}

/* Reports what a path call did: PATH_CHANGED for a move, a move undone and a move confirmed,
 * with validated set only when the address may stand as the peer's (path.h `confirmed`). */
static void path_changed(konce_ep *ep, konce_sess *s, enum konce_path_change chg, uint64_t now_us)
{
	switch (chg) {
	case KONCE_PATH_SAME:
		return;
	case KONCE_PATH_REFUSED:
		ep->c.path_refused++;
		return;
	case KONCE_PATH_MOVED:
		ep->c.path_changed++;
		break;
	case KONCE_PATH_BACK:
		ep->c.path_reverted++;
		break;
	case KONCE_PATH_CONFIRMED:
		ep->c.path_confirmed++;
		break;
	}
	if (chg != KONCE_PATH_CONFIRMED) /* a new (or the old) address: its size is not known */
		konce_ep_pmtud_reset(ep, s, now_us);
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_PATH_CHANGED, s->conn);
	if (e) {
		e->addr = s->path.cur;
		e->validated = s->path.confirmed;
	}
}

int konce_ep_conn_traffic(const konce_ep *ep, uint32_t conn, uint64_t *rx_bytes, uint64_t *tx_bytes)
{
	const konce_sess *s = konce_ep_sess_by_conn((konce_ep *)ep, conn);
	if (!s)
		return -ENOENT;
	*rx_bytes = s->rx_bytes;
	*tx_bytes = s->tx_bytes;
	return 0;
}

const konce_frame_ext *konce_ep_fext(const konce_ep *ep) { return ep->ext.body_len ? &ep->fext : NULL; }

int konce_ep_scan_frames(const konce_ep *ep, const uint8_t *p, size_t len, konce_ep_scan *sc)
{
	*sc = (konce_ep_scan){.ack_off = SIZE_MAX};
	const konce_frame_ext *ext = konce_ep_fext(ep);
	size_t off = 0, at;
	konce_frame f;
	int r;
	while (at = off, (r = konce_frame_next(p, len, &off, &f, ext)) == 1) {
		bool ack = f.type == KONCE_FRAME_ACK || f.type == KONCE_FRAME_ACK_OWD;
		sc->rel |= f.type >= KONCE_FRAME_REL_FIRST && f.type <= KONCE_FRAME_REL_LAST && !ack;
		sc->ping |= f.type == KONCE_FRAME_PING;
		sc->ep_frames |= f.type == KONCE_FRAME_MESSAGE || f.type == KONCE_FRAME_PATH_CHALLENGE ||
				 f.type == KONCE_FRAME_PATH_RESPONSE || f.type == KONCE_FRAME_CLOSE ||
				 (f.type >= KONCE_FRAME_EXT_FIRST && f.type <= KONCE_FRAME_EXT_LAST);
		if (ack && sc->ack_off == SIZE_MAX)
			sc->ack_off = at;
	}
	return r;
}

bool konce_ep_frames(konce_ep *ep, konce_sess *s, const uint8_t *p, size_t len, const konce_addr *from,
		     uint64_t pn, uint64_t now_us)
{
	size_t off = 0;
	konce_frame f;
	uint32_t conn = s->conn;
	bool responded = false; /* one PATH_RESPONSE per packet, however many challenges it carries */
	while (konce_frame_next(p, len, &off, &f, konce_ep_fext(ep)) == 1) {
		if (f.type >= KONCE_FRAME_EXT_FIRST && f.type <= KONCE_FRAME_EXT_LAST) {
			if (ep->ext.on_frame)
				ep->ext.on_frame(ep->ext.ctx, conn, pn, f.type, f.body, f.len, now_us);
			if (konce_ep_sess_by_conn(ep, conn) != s)
				return false; /* the hook closed it */
			continue;
		}
		switch (f.type) {
		case KONCE_FRAME_MESSAGE: {
			if (f.len > KONCE_EP_MAX_MESSAGE) {
				ep->c.message_too_long++; /* a MESSAGE frame stays within a base-size packet */
				break;
			}
			if (konce_ep_msg_events_full(ep, s)) {
				ep->c.msg_events_held++; /* unreliable: dropped while the app is behind */
				break;
			}
			konce_ep_evslot *e = konce_ep_push_slot(ep, KONCE_EV_MESSAGE, s->conn);
			if (e) {
				e->ev.len = f.len;
				memcpy(e->inl, f.body, f.len);
			}
			break;
		}
		case KONCE_FRAME_PATH_CHALLENGE:
			if (responded)
				break;
			responded = true;
			if (s->state == KONCE_HS_ACCEPT_PENDING)
				konce_hs_server_flush_accept(ep, s, NULL, 0);
			send_path_frame(ep, s, KONCE_FRAME_PATH_RESPONSE, f.body, from, now_us);
			break;
		case KONCE_FRAME_PATH_RESPONSE:
		{
			enum konce_path_change chg = konce_path_on_response(&s->path, from, f.body, now_us);
			if (chg == KONCE_PATH_SAME)
				ep->c.path_response_bad++;
			path_changed(ep, s, chg, now_us);
			break;
		}
		case KONCE_FRAME_CLOSE: {
			konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_PEER_CLOSED);
			konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_CLOSED, s->conn);
			if (e)
				e->reason = f.reason;
			konce_ep_sess_free(ep, s);
			return false;
		}
		default: /* PADDING, PING; extension frames once the reliability layer registers */
			break;
		}
	}
	return true;
}

/* When the peer's previous key is wiped: KONCE_REKEY_OLD_KEY_MS after its rekey, moved later to a
 * point of the slack grid (ep_timer.c "Coalescing"; stragglers are refused from the exact time
 * on, session.c), so that the sessions that rekeyed in one burst of keepalives share a timer
 * call; UINT64_MAX if none is kept. */
static uint64_t old_key_due(const konce_sess *s)
{
	if (!s->sess.rx_prev_until_us)
		return UINT64_MAX;
	return konce_ep_due_late(s->sess.rx_prev_until_us, (uint64_t)KONCE_REKEY_OLD_KEY_MS * 1000);
}

enum konce_ep_verdict konce_ep_data_input(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
					  uint64_t now_us, konce_ep_rx *rx)
{
	konce_data_hdr h;
	uint8_t plain[KONCE_PMTU_MAX];
	size_t plen;
	uint64_t pn;
	ep->c.data_rx++;
	if (konce_data_parse_hdr(&h, pkt, len)) {
		ep->c.data_bad_header++;
		return KONCE_EP_DROPPED_MALFORMED;
	}
	uint32_t epoch = 0;
	konce_sess *s = konce_cid_lookup(ep, h.dcid, &epoch);
	if (!s) {
		ep->c.data_unknown_cid++;
		return KONCE_EP_DROPPED_UNMATCHED;
	}
	if (s->state != KONCE_HS_ESTABLISHED && s->state != KONCE_HS_ACCEPT_PENDING) {
		ep->c.data_not_ready++;
		return KONCE_EP_DROPPED_UNMATCHED;
	}
	uint8_t phase = s->sess.rx_phase;
	switch (konce_session_open(&s->sess, plain, &plen, &pn, pkt, len, now_us)) {
	case KONCE_SESS_OK:
		break;
	case KONCE_SESS_BAD_HEADER:
		ep->c.data_bad_header++;
		return KONCE_EP_DROPPED_MALFORMED;
	case KONCE_SESS_REPLAY:
		ep->c.data_replay++;
		return KONCE_EP_DROPPED_STALE;
	case KONCE_SESS_AUTH:
		ep->c.data_auth_fail++;
		return KONCE_EP_DROPPED_AUTH;
	}
	if (s->sess.rx_phase != phase) {
		ep->c.rekey_rx++;
		konce_ep_arm(ep, s, old_key_due(s));
	} else if ((pkt[KONCE_DATA_FLAGS] & KONCE_DATA_F_KEY_PHASE) != phase) {
		ep->c.rx_old_key++;
	}
	/* one walk over the frames validates them and tells the steps below which of them to look at */
	konce_ep_scan sc;
	if (konce_ep_scan_frames(ep, plain, plen, &sc)) {
		ep->c.data_bad_frame++;
		sodium_memzero(plain, plen);
		rx->conn = s->conn;
		return KONCE_EP_DROPPED_MALFORMED;
	}
	s->last_rx_us = now_us;
	if (!s->heard && s->hb && s->incoming && s->state == KONCE_HS_ESTABLISHED)
		konce_ep_arm(ep, s, s->hb->hs_until_us); /* its handshake buffers go then (konce_ep_sess_timer) */
	s->heard = true;
	s->rx_bytes += len;
	enum konce_path_change chg;
	konce_path_on_epoch(&s->path, from, epoch);
	if (konce_path_on_packet(&s->path, from, len, pn, now_us, &chg)) {
		konce_env_random(ep->env, s->path.challenge, sizeof s->path.challenge);
		konce_env_random(ep->env, s->path.old_challenge, sizeof s->path.old_challenge);
	}
	path_changed(ep, s, chg, now_us);
	if (konce_path_old_due(&s->path))
		send_old_challenge(ep, s, now_us);
	if (konce_path_challenge_due(&s->path))
		send_challenge(ep, s, now_us);
	uint32_t conn = s->conn;
	konce_ep_msg_input_scanned(ep, s, pn, plain, plen, &sc, now_us);
	konce_ep_pmtud_input(ep, s, plain, plen, &sc, now_us);
	if ((!sc.ep_frames || konce_ep_frames(ep, s, plain, plen, from, pn, now_us)) &&
	    konce_ep_sess_by_conn(ep, conn) == s) {
		konce_cid_sync(ep, s); /* the epochs may have moved: the ids the peer may use now */
		/* Data and probes leave now; an ACK alone waits for the session's timer, due now, which
		 * the caller runs once it has fed the packets it received together: one ACK for them
		 * all instead of one per two packets (the sender's and our own per-packet work) */
		if (s->rel)
			s->rel->defer_ack = true;
		konce_ep_msg_flush(ep, s, now_us);
		if (s->rel)
			s->rel->defer_ack = false;
		/* the packet may have moved the path's or the MTU search's deadlines earlier */
		konce_ep_arm(ep, s, konce_path_next(&s->path));
		if (s->pm && s->pm->state != KONCE_PMTUD_DISABLED)
			konce_ep_arm(ep, s, konce_pmtud_next_timer(s->pm, now_us));
	}
	sodium_memzero(plain, plen);
	rx->conn = conn;
	return KONCE_EP_SESSION_DATA;
}

void konce_ep_set_ext(konce_ep *ep, const konce_ep_ext *ext)
{
	memset(&ep->ext, 0, sizeof ep->ext);
	memset(&ep->fext, 0, sizeof ep->fext);
	if (!ext)
		return;
	ep->ext = *ext;
	ep->fext.body_len = ext->body_len;
	ep->fext.ctx = ext->ctx;
}

int konce_ep_send_frames_conn(konce_ep *ep, uint32_t conn, const uint8_t *frames, size_t len, uint64_t now_us,
			      uint64_t *pn)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	if (len > KONCE_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (s->state == KONCE_HS_ACCEPT_PENDING)
		konce_hs_server_flush_accept(ep, s, NULL, 0);
	if (s->state != KONCE_HS_ESTABLISHED)
		return -ENOTCONN;
	if (konce_ep_out_full(ep))
		return -ENOBUFS;
	uint64_t n = s->sess.tx_pn;
	int r = konce_ep_send_frames(ep, s, frames, len, &s->path.cur, now_us);
	if (r == 0 && pn)
		*pn = n;
	return r;
}

int konce_ep_acked(konce_ep *ep, uint32_t conn, uint64_t pn)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	konce_session_acked(&s->sess, pn);
	return 0;
}

bool konce_ep_sess_timer(konce_ep *ep, konce_sess *s, uint64_t now_us, uint64_t *next)
{
	uint64_t idle_at = s->last_rx_us + ep->idle_us;
	if (now_us >= idle_at) {
		konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_TIMEOUT);
		konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_CLOSED, s->conn);
		if (e)
			e->reason = KONCE_FAIL_IDLE;
		konce_ep_sess_free(ep, s);
		return false;
	}
	uint64_t t = konce_ep_due_late(idle_at, ep->idle_us); /* closes up to a slack step late (ep_timer.c) */
	if (s->hb && s->incoming && s->heard && s->state == KONCE_HS_ESTABLISHED) {
		/* the client has our ACCEPT; duplicates of its INITIATE are answered from hb until
		 * their cookie is too old to pass (hs_server.c check b), then hb goes */
		if (now_us >= s->hb->hs_until_us)
			konce_ep_hs_done(ep, s);
		else if (s->hb->hs_until_us < t)
			t = s->hb->hs_until_us;
	}
	if (s->incoming && !s->heard && s->hb && s->state == KONCE_HS_ESTABLISHED && s->hs_len > s->init_len &&
	    s->accept_resends < KONCE_HS_DUP_ANSWERS) {
		/* Our ACCEPT is larger than the INITIATE, so a duplicate INITIATE (maybe a replay) does
		 * not get it again (hs_server.c check c); until the client is heard from, we resend it
		 * ourselves, a few times, a retry interval apart. */
		if (!s->hb->accept_retry_us) {
			s->hb->accept_retry_us = now_us + (uint64_t)KONCE_HS_RETRY_MS * 1000;
		} else if (now_us >= s->hb->accept_retry_us) {
			s->accept_resends++;
			s->hb->accept_retry_us = now_us + (uint64_t)KONCE_HS_RETRY_MS * 1000;
			konce_ep_send_raw_control(ep, &s->hs_addr, s->hb->pkt, s->hs_len);
			ep->c.accept_resent++;
		}
		if (s->accept_resends < KONCE_HS_DUP_ANSWERS && s->hb->accept_retry_us < t)
			t = s->hb->accept_retry_us;
	}
	konce_session_tick(&s->sess, now_us);
	uint64_t k = old_key_due(s);
	if (k < t)
		t = k;
	uint64_t pt = konce_path_next(&s->path);
	if (now_us >= pt && !konce_ep_out_reserve(ep)) {
		/* a path challenge's retry is due and the out ring has no room: the path's tick waits
		 * for the host's flush (next timer now), so that a try is spent only on a challenge
		 * that leaves */
		ep->c.timer_deferred++;
	} else {
		enum konce_path_change chg;
		unsigned due = konce_path_tick(&s->path, now_us, &chg);
		path_changed(ep, s, chg, now_us);
		if (due & KONCE_PATH_SEND_PROBE)
			send_challenge(ep, s, now_us);
		if (due & KONCE_PATH_SEND_OLD)
			send_old_challenge(ep, s, now_us);
		pt = konce_path_next(&s->path);
	}
	if (pt < t)
		t = pt;
	uint64_t m = konce_ep_pmtud_timer(ep, s, now_us);
	if (m < t)
		t = m;
	*next = t;
	return true;
}
