/* ep_msg.c - reliable messages at the endpoint: the glue between a session (ep_session.c) and
 * its reliability state (conn.h).  The endpoint API is documented in endpoint.h.
 *
 * A presence (a session that only holds keepalives) has no konce_conn: no reliability state,
 * reassembly or send ring.  When wanted (konce_ep_set_wanted) it sends a PING after keepalive_us
 * without one (ping_tx_us), and it answers a PING from the peer at once with an ACK frame of that
 * one packet number and the credit a fresh conn would give, keeping no receive state; ACK frames
 * that reach it are dropped (its PINGs are not retransmitted: the next keepalive, or the idle
 * close, follows).  It grows into a channel (its konce_conn is created) on first use:
 * konce_ep_msg_send(), konce_ep_ping(), or a packet from the peer carrying reliability frames
 * other than ACK.  It shrinks back (shrink(): the conn is freed) once the conn is idle
 * (konce_conn_idle: nothing queued, in flight, owed or pending, the reassembler settled, every
 * message it delivered released by the application) and no message was queued, no message frame
 * arrived and no outcome came (konce_conn.msg_us) for KONCE_EP_SHRINK_MS or 4 probe timeouts,
 * whichever is longer; keepalives either way do not count.  The session keeps the two numbers
 * exactly-once delivery needs (konce_conn_ids: the next outgoing wire id, and the incoming id
 * below which every message is finished), and the next conn continues from them, so a
 * retransmission of a message delivered before the shrink is a duplicate after it.  A path MTU
 * search in progress holds the shrink off until it ends; the search state (konce_sess.pm) is
 * freed, and its result stays in 16 bytes of the session (konce_sess.pmk, ep_pmtud.c: the PLPMTU
 * a completed search confirmed, its bound and probe counts), so the next channel starts at the
 * size the path carries without probing from the base; so do the conn's loss counts
 * (gone_lost, gone_retransmitted: konce_ep_conn_pmtu reports them).  While it has a conn, the
 * session's anti-replay window is the wide one (replay.h), kept in the conn; a presence keeps the
 * small one.  The source's reassembly charge (konce_sess.rsrc) is let go with the conn and taken
 * again by the next one, so a shrunk presence holds nothing of its channel but the ids, the loss
 * counts and the path MTU result, all in its konce_sess: it costs what a presence that never grew
 * costs.  A kept channel (konce_ep_msg_keep_channel, a group's) never shrinks.  Correctness
 * does not depend on the interval; it is chosen so that messages a few seconds apart (a request
 * and its reply, a consensus round) keep their conn, RTT estimate and window, while a channel
 * that went quiet costs what a presence costs well before its next keepalive
 * (KONCE_KEEPALIVE_MS, 25 s).  Every authenticated payload
 * of a session with a conn goes to konce_conn_on_packet(); afterwards, and after every send and
 * timer, konce_ep_msg_flush() seals whatever the conn has due into DATA packets.  The conn's
 * callbacks become MSG_DELIVERED, MSG_FAILED and MESSAGE events; when a session ends, every
 * message still queued fails (konce_ep_msg_abort) before its FAILED or CLOSED event, so that
 * event stays the last one for the conn (ep_internal.h invariant 4).
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/ackframe.h"
#include "node/transport/frame.h"

enum { KONCE_EP_BLOCKED_WAIT_US = 10 * 1000, KONCE_EP_SHRINK_MS = 5000 };

static uint64_t msg_id_of(const konce_sess *s, uint64_t low) { return (uint64_t)s->conn << 32 | low; }

static void push_failed(konce_sess *s, const konce_smsg *m, unsigned reason)
{
	konce_ep *ep = s->ep;
	ep->c.msgs_failed++;
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_MSG_FAILED, s->conn);
	if (e) {
		e->msg_id = msg_id_of(s, m->api_id);
		e->reason = reason;
	}
}

static void cb_delivered(void *ctx, const konce_smsg *m)
{
	konce_sess *s = ctx;
	konce_ep *ep = s->ep;
	ep->c.msgs_delivered++;
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_MSG_DELIVERED, s->conn);
	if (e)
		e->msg_id = msg_id_of(s, m->api_id);
}

static void cb_refused(void *ctx, const konce_smsg *m, uint8_t why)
{
	push_failed(ctx, m, why == KONCE_REFUSE_TOO_LARGE ? KONCE_MSG_FAIL_TOO_LARGE : KONCE_MSG_FAIL_REFUSED);
}

static void cb_message(void *ctx, konce_reasm_msg *m)
{
	konce_sess *s = ctx;
	konce_ep *ep = s->ep;
	konce_ep_evslot *e = konce_ep_push_slot(ep, KONCE_EV_MESSAGE, s->conn);
	if (!e) {
		/* Only when the allocator refuses to grow the ring; the message is lost, and counted. */
		sodium_memzero(m->data, (size_t)m->len);
		konce_conn_release(s->rel, m);
		return;
	}
	ep->c.msgs_rx++;
	konce_ep_table_touch(ep, s, m->last_progress);
	e->msg = m;
	e->ev.len = (size_t)m->len;
}

/* The reassembly charges live in a chained hash under the table's keyed hash (ep->table_key, so no
 * one without the key can aim a chain at one source), and a charge is found by its source in a few
 * entries, not by a walk over max_sessions (counted in rsrc_visits).  Only an authenticated
 * session takes one, each holds at most one, and rsrc has max_sessions entries: there is always
 * a free one, and nothing is allocated after konce_ep_new. */
static uint32_t rsrc_bucket(const konce_ep *ep, const uint8_t key[16])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, key, 16, ep->table_key);
	return (uint32_t)(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24) & ep->rsrc_mask;
}

/* The reassembly charge of s's source (its handshake address, counted as ep_table.c rule 2 counts
 * sources): the one other sessions from there use, else a fresh one, with no reference yet. */
static konce_ep_rsrc *rsrc_get(konce_ep *ep, const konce_sess *s)
{
	uint8_t key[16];
	konce_addr_source(key, &s->hs_addr);
	uint32_t b = rsrc_bucket(ep, key);
	for (konce_ep_rsrc *g = ep->rsrc_buckets[b]; g; g = g->next) {
		ep->c.rsrc_visits++;
		if (memcmp(g->key, key, sizeof key) == 0)
			return g;
	}
	konce_ep_rsrc *g = ep->rsrc_free;
	if (g)
		ep->rsrc_free = g->next;
	else if (ep->rsrc_used < ep->max_sessions)
		g = &ep->rsrc[ep->rsrc_used++];
	else
		return NULL; /* cannot happen: a session holds at most one */
	memset(g, 0, sizeof *g);
	memcpy(g->key, key, sizeof key);
	g->next = ep->rsrc_buckets[b];
	ep->rsrc_buckets[b] = g;
	return g;
}

void konce_ep_rsrc_put(konce_ep *ep, konce_sess *s)
{
	konce_ep_rsrc *g = s->rsrc;
	if (!g)
		return;
	s->rsrc = NULL;
	if (--g->refs)
		return;
	for (konce_ep_rsrc **pp = &ep->rsrc_buckets[rsrc_bucket(ep, g->key)]; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	g->next = ep->rsrc_free;
	ep->rsrc_free = g;
}

/* konce_sess.rtt_min, unpacked: the RTT (us) and when it was seen (us, to the ms) */
#define RTT_MASK 0xffffffull
static uint64_t kept_rtt(const konce_sess *s) { return s->rtt_min & RTT_MASK; }
static uint64_t kept_at(const konce_sess *s) { return (s->rtt_min >> 24) * 1000; }

static konce_conn *get_conn(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (s->rel)
		return s->rel;
	konce_conn_ops ops = {cb_delivered, cb_refused, cb_message, s};
	if (konce_conn_new(&s->rel, ep->env, &ep->conn_cfg, &ops, now_us))
		return NULL;
	s->rel->wanted = s->wanted;
	if (s->keepalive_us)
		s->rel->cfg.keepalive_us = s->keepalive_us;
	if (s->tx_wire_next)
		konce_conn_resume(s->rel, s->tx_wire_next, s->rx_wire_base); /* after a shrink */
	/* reassembly is charged per source, so many sessions from one host share one fair part of
	 * the pool (frag.h); a session keeps its source across a shrink */
	if (!s->rsrc && (s->rsrc = rsrc_get(ep, s)))
		s->rsrc->refs++;
	if (s->rsrc)
		konce_reasm_set_source(&s->rel->ra, &s->rsrc->acct);
	if (s->rtt_min)
		konce_conn_seed_rtt(s->rel, kept_rtt(s), kept_at(s), now_us);
	ep->c.channels_grown++;
	return s->rel;
}

/* When s's idle conn may be freed (UINT64_MAX: it is not idle). */
static uint64_t shrink_at(const konce_sess *s)
{
	const konce_conn *c = s->rel;
	if (s->state != KONCE_HS_ESTABLISHED || !konce_conn_idle(c) || (s->pm && s->pm->state == KONCE_PMTUD_SEARCHING))
		return UINT64_MAX;
	uint64_t quiet = (uint64_t)KONCE_EP_SHRINK_MS * 1000, pto = 4 * konce_rtt_pto(&c->rec.rtt);
	return c->msg_us + (pto > quiet ? pto : quiet);
}

/* The channel goes back to a presence: everything but its ids, loss counts and path MTU result is
 * freed (ep_msg.c header). */
static void shrink(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_conn *c = s->rel;
	konce_conn_ids(c, &s->tx_wire_next, &s->rx_wire_base);
	s->ping_tx_us = c->last_eliciting_tx; /* the presence's keepalives keep the conn's rhythm */
	/* konce_ep_conn_pmtu() reports the session's losses over all its channels */
	s->gone_lost += (uint32_t)c->rec.nlost_total;
	s->gone_retransmitted += (uint32_t)c->retransmitted;
	uint64_t at, rtt = konce_cc_min_rtt(&c->cc, &at);
	if (rtt)
		konce_ep_rtt_seen(s, rtt, at, now_us);
	konce_ep_pmtud_shrink(ep, s); /* its result and counts stay, the search state goes */
	konce_session_narrow(&s->sess); /* out of the conn's storage */
	konce_conn_free(c); /* its reassembler (settled: konce_conn_idle) no longer charges the source */
	s->rel = NULL;
	konce_ep_rsrc_put(ep, s); /* the next conn takes the source's charge again (get_conn) */
	ep->c.channels_shrunk++;
	konce_ep_mem_shrunk(ep);
}

/* The conn's next deadline, or its shrink's. */
static uint64_t conn_next(const konce_sess *s, uint64_t now_us)
{
	uint64_t t = konce_conn_next_timer(s->rel, now_us), at = shrink_at(s);
	return at < t ? (at < now_us ? now_us : at) : t;
}

unsigned konce_ep_msg_reason(unsigned fail)
{
	switch (fail) {
	case KONCE_FAIL_TIMEOUT:
		return KONCE_MSG_FAIL_UNREACHABLE;
	case KONCE_FAIL_IDLE:
		return KONCE_MSG_FAIL_TIMEOUT;
	case KONCE_FAIL_LOCAL_CLOSE:
		return KONCE_MSG_FAIL_LOCAL_CLOSE;
	default: /* VERSION, POW_TOO_HIGH, CRYPTO */
		return KONCE_MSG_FAIL_PROTOCOL;
	}
}

void konce_ep_msg_abort(konce_ep *ep, konce_sess *s, unsigned reason)
{
	(void)ep;
	if (!s->rel)
		return;
	konce_smsg *m;
	while ((m = konce_msgq_any(&s->rel->q))) {
		push_failed(s, m, reason);
		konce_msgq_retire(&s->rel->q, m);
	}
}

void konce_ep_msg_release(konce_ep *ep, uint32_t conn, konce_reasm_msg *m)
{
	sodium_memzero(m->data, (size_t)m->len);
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (s && s->rel) {
		konce_conn_release(s->rel, m);
		konce_ep_arm(ep, s, shrink_at(s)); /* the conn may be idle now */
	} else
		konce_reasm_msg_free(ep->env, m); /* the session is gone, and its budget with it */
}

/* A presence answers a PING in packet pn at once: an ACK of that packet alone, with the credit a
 * new conn would announce.  No receive state is kept (the peer's conn, if it has one, takes an ack
 * of one packet as it comes). */
static void presence_ack(konce_ep *ep, konce_sess *s, uint64_t pn, uint64_t now_us)
{
	if (s->state != KONCE_HS_ESTABLISHED)
		return;
	konce_ack a = {.nranges = 1};
	a.ranges[0].lo = a.ranges[0].hi = pn;
	a.credit = ep->conn_cfg.budget;
	if (ep->reasm_pool.budget - ep->reasm_pool.used < a.credit)
		a.credit = ep->reasm_pool.budget - ep->reasm_pool.used;
	uint8_t f[64];
	size_t n = konce_ackframe_encode(f, sizeof f, &a, NULL);
	if (n)
		konce_ep_send_control(ep, s, f, n, &s->path.cur, now_us); /* nothing would send it again */
}

/* A presence's keepalive: a PING after keepalive_us without one, while wanted, up to one slack
 * step early (on its grid point, ep_timer.c "Coalescing"), never late.  Its next deadline:
 * now while the PING is due and the out ring has no room for it (timer_deferred), so that a
 * keepalive is never lost to a full ring, only late by one flush of the host. */
static uint64_t presence_timer(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (!s->wanted || s->state != KONCE_HS_ESTABLISHED)
		return UINT64_MAX;
	if (now_us < s->blocked_until_us)
		return s->blocked_until_us;
	uint64_t k = s->keepalive_us ? s->keepalive_us : ep->conn_cfg.keepalive_us;
	uint64_t due = konce_ep_due_early(s->ping_tx_us + k, k);
	if (now_us >= due) {
		if (!konce_ep_out_reserve(ep)) {
			/* the out ring is full: the PING stays due (not sealed, not dropped), and the
			 * endpoint's next timer is now, so the host flushes the ring and calls again */
			ep->c.timer_deferred++;
			return now_us;
		}
		uint8_t f[1];
		size_t n = konce_frame_put_ping(f, sizeof f);
		int r = konce_ep_send_frames(ep, s, f, n, &s->path.cur, now_us);
		if (r == -EAGAIN) {
			s->blocked_until_us = now_us + KONCE_EP_BLOCKED_WAIT_US; /* until the path validates */
			return s->blocked_until_us;
		}
		s->ping_tx_us = now_us;
		if (r == 0)
			ep->c.keepalive_tx++;
		due = konce_ep_due_early(now_us + k, k);
	}
	return due;
}

int konce_ep_msg_input(konce_ep *ep, konce_sess *s, uint64_t pn, const uint8_t *p, size_t len, uint64_t now_us)
{
	konce_ep_scan sc;
	konce_ep_scan_frames(ep, p, len, &sc); /* what validates up to the first bad frame counts */
	return konce_ep_msg_input_scanned(ep, s, pn, p, len, &sc, now_us);
}

int konce_ep_msg_input_scanned(konce_ep *ep, konce_sess *s, uint64_t pn, const uint8_t *p, size_t len,
			       const konce_ep_scan *sc, uint64_t now_us)
{
	bool rel = sc->rel, ping = sc->ping;
	if (ping)
		konce_ep_table_touch(ep, s, now_us); /* the peer wants the session: it is not idle here either */
	if (!s->rel) {
		if (!rel) {
			if (ping)
				presence_ack(ep, s, pn, now_us);
			return 0; /* a presence: an ACK of its PING is news of nothing it keeps */
		}
		if (!get_conn(ep, s, now_us))
			return -ENOMEM;
	}
	if (!s->sess.wide)
		konce_session_widen(&s->sess, &s->rel->rx_window); /* a channel's reordering (replay.h) */
	/* back-pressure: while the application has not consumed this session's messages, packets
	 * with fragments are left unread and unacknowledged (the peer sends them again) */
	s->rel->hold_fragments = konce_ep_msg_events_full(ep, s);
	uint64_t outcomes = ep->c.msgs_delivered + ep->c.msgs_failed;
	if (!konce_conn_on_packet(s->rel, pn, p, len, now_us))
		ep->c.msg_events_held++;
	if (rel || ep->c.msgs_delivered + ep->c.msgs_failed != outcomes)
		s->rel->msg_us = now_us; /* message traffic, or an outcome: not idle (shrink_at) */
	konce_session_acked(&s->sess, s->rel->rec.largest_acked);
	return 0;
}

void konce_ep_msg_flush(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_conn *c = s->rel;
	if (!c || (s->state != KONCE_HS_ESTABLISHED && s->state != KONCE_HS_ACCEPT_PENDING))
		return;
	uint8_t frames[KONCE_WIRE_MAX_SESSION_PAYLOAD];
	if (s->state == KONCE_HS_ACCEPT_PENDING) {
		/* The first reliable packet rides in the ACCEPT (pn 1).  Sent as DATA behind it, it can
		 * arrive first (a relay reorders) and be dropped as not ready until its retransmission. */
		konce_sent_packet sp;
		size_t n = now_us < s->blocked_until_us ? 0 : konce_conn_build(c, frames, KONCE_WIRE_MAX_PAYLOAD, 1, now_us, &sp);
		if (n == 0) {
			/* nothing due: the ACCEPT waits for the application's reply (or leaves with the
			 * next poll_datagram or timer) */
			konce_ep_arm(ep, s, now_us < s->blocked_until_us ? s->blocked_until_us : konce_conn_next_timer(c, now_us));
			return;
		}
		unsigned before = ep->out_n;
		konce_hs_server_flush_accept(ep, s, frames, n);
		sodium_memzero(frames, n);
		if (ep->out_n != before)
			konce_conn_on_sent(c, &sp, ep->out[(ep->out_head + ep->out_n - 1) % ep->out_slots].len, now_us);
		else
			konce_conn_unbuild(c, &sp);
	}
	if (now_us < s->blocked_until_us)
		return;
	konce_ep_pmtud_flush(ep, s, now_us);
	konce_conn_set_mss(c, konce_ep_plpmtu(s));
	uint8_t *slot;
	while ((slot = konce_ep_out_reserve(ep))) {
		konce_sent_packet sp;
		uint64_t pn = s->sess.tx_pn;
		bool ping = c->ping_due;
		/* As large as the path carries (pmtud.h); but a probe timeout may mean the path stopped
		 * carrying that (a black hole): its probes are base-size, so that their acks declare the
		 * large packets lost and ep_pmtud.c sees it. */
		size_t dgram = c->probes_due ? KONCE_PMTU_BASE : konce_ep_plpmtu(s);
		if (dgram > ep->max_datagram)
			dgram = ep->max_datagram; /* the slot's size; ep_pmtud.c never searches past it */
		/* The frames are built where the payload goes, in the out ring's slot after the header,
		 * and sealed there in place (session.h): no copy, and no plaintext left behind to wipe,
		 * as the ciphertext overwrites it.  The fragments' data is not copied in at all: the
		 * seal reads it from the message (gather.h). */
		uint8_t *fr = slot + konce_session_header_len(&s->sess);
		konce_gather g;
		size_t n = konce_conn_build_gather(c, fr, dgram - konce_session_overhead(&s->sess), pn, now_us, &sp, &g);
		if (n == 0)
			break;
		unsigned before = ep->out_n;
		int r = konce_ep_send_gather(ep, s, fr, n, &g, &s->path.cur, now_us);
		if (r || ep->out_n == before) {
			sodium_memzero(fr, n); /* not sealed (too large), or sealed and not sent */
			konce_conn_unbuild(c, &sp); /* amplification limit or ring full: requeue */
			if (r)
				s->blocked_until_us = now_us + KONCE_EP_BLOCKED_WAIT_US; /* until the path validates */
			break;
		}
		const konce_out *o = &ep->out[(ep->out_head + ep->out_n - 1) % ep->out_slots];
		konce_conn_on_sent(c, &sp, o->len, now_us);
		if (ping && sp.ack_eliciting)
			ep->c.keepalive_tx++;
	}
	konce_ep_arm(ep, s, now_us < s->blocked_until_us ? s->blocked_until_us : conn_next(s, now_us));
}

bool konce_ep_msg_timer(konce_ep *ep, konce_sess *s, uint64_t now_us, uint64_t *next)
{
	*next = UINT64_MAX;
	konce_conn *c = s->rel;
	if (!c) {
		*next = presence_timer(ep, s, now_us);
		return true;
	}
	if (s->state == KONCE_HS_ESTABLISHED && !c->wanted && konce_msgq_empty(&c->q) &&
	    now_us >= s->last_app_us + ep->idle_us) {
		/* idle: nobody wants it and no message went either way for idle_timeout_ms */
		ep->c.idle_closed++;
		konce_ep_sess_end(ep, s, KONCE_FAIL_IDLE, now_us);
		return false;
	}
	if (s->state == KONCE_HS_ESTABLISHED && !konce_conn_tick(c, now_us)) {
		/* no ack progress for msg_timeout with messages outstanding: the peer is gone */
		konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_TIMEOUT);
		konce_ep_sess_end(ep, s, KONCE_FAIL_IDLE, now_us);
		return false;
	}
	konce_ep_msg_flush(ep, s, now_us);
	if (now_us >= shrink_at(s)) {
		shrink(ep, s, now_us);
		*next = presence_timer(ep, s, now_us);
		return true;
	}
	*next = conn_next(s, now_us);
	if (*next < s->blocked_until_us)
		*next = s->blocked_until_us;
	if (s->state == KONCE_HS_ESTABLISHED && !c->wanted && konce_msgq_empty(&c->q) &&
	    s->last_app_us + ep->idle_us < *next)
		*next = s->last_app_us + ep->idle_us;
	return true;
}

/* take: data is a buffer the queue takes over on success (KONCE_EP_MSG_TAKE), else it is copied. */
static int msg_queue(konce_ep *ep, konce_sess *s, const uint8_t *data, size_t len, unsigned klass, bool take,
		     uint64_t now_us, uint64_t *msg_id)
{
	konce_conn *c = get_conn(ep, s, now_us);
	if (!c)
		return -ENOMEM;
	uint32_t low = s->next_msg + 1 ? s->next_msg + 1 : 1;
	int r = take && len ? konce_conn_send_owned(c, (uint8_t *)data, len, (uint8_t)klass, low, now_us)
			    : konce_conn_send(c, data, len, (uint8_t)klass, low, now_us);
	if (r)
		return r;
	s->next_msg = low;
	c->msg_us = now_us;
	konce_ep_table_touch(ep, s, now_us);
	ep->c.msgs_queued++;
	*msg_id = msg_id_of(s, low);
	return 0;
}

int konce_ep_msg_queue(konce_ep *ep, konce_sess *s, const uint8_t *data, size_t len, unsigned klass, uint64_t now_us,
		       uint64_t *msg_id)
{
	return msg_queue(ep, s, data, len, klass, false, now_us, msg_id);
}

int konce_ep_msg_send(konce_ep *ep, uint32_t conn, const uint8_t *data, size_t len, unsigned klass, unsigned flags,
		      uint64_t now_us, uint64_t *msg_id)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	if (klass > KONCE_MSG_CLASS_BACKGROUND || (flags & ~(unsigned)KONCE_EP_MSG_TAKE) || (len && !data) || !msg_id)
		return -EINVAL;
	if (len > ep->conn_cfg.max_message)
		return -EMSGSIZE;
	int r = msg_queue(ep, s, data, len, klass, flags & KONCE_EP_MSG_TAKE, now_us, msg_id);
	if (r)
		return r;
	konce_ep_msg_flush(ep, s, now_us);
	konce_ep_arm(ep, s, now_us);
	return 0;
}

int konce_ep_msg_keep_channel(konce_ep *ep, uint32_t conn)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s || !s->rel)
		return -ENOENT;
	return s->rel->channel_kept ? 0 : konce_conn_keep_channel(s->rel);
}

uint64_t konce_ep_msg_queued(const konce_ep *ep, uint32_t conn)
{
	konce_sess *s = konce_ep_sess_by_conn((konce_ep *)ep, conn);
	return s && s->rel ? s->rel->q.held : 0;
}

void konce_ep_memory_get(const konce_ep *ep, konce_ep_memory *out)
{
	*out = (konce_ep_memory){
		.reasm_used = ep->reasm_pool.used,
		.reasm_budget = ep->reasm_pool.budget,
		.reasm_holders = ep->reasm_pool.holders,
		.reasm_sources = ep->reasm_pool.sources,
		.send_used = ep->send_pool.used,
		.send_budget = ep->send_pool.budget,
		.send_holders = ep->send_pool.holders,
	};
}

uint64_t konce_ep_msg_eta(const konce_ep *ep, uint64_t msg_id, uint64_t now_us)
{
	konce_sess *s = konce_ep_sess_by_conn((konce_ep *)ep, (uint32_t)(msg_id >> 32));
	if (!s || !s->rel)
		return UINT64_MAX;
	uint64_t eta = konce_conn_eta(s->rel, (uint32_t)msg_id, now_us);
	if (eta != UINT64_MAX && s->state != KONCE_HS_ESTABLISHED && s->state != KONCE_HS_ACCEPT_PENDING &&
	    s->retry_at_us > now_us)
		eta += s->retry_at_us - now_us; /* the handshake first */
	return eta;
}

int konce_ep_msg_progress(const konce_ep *ep, uint64_t msg_id, uint64_t *acked, uint64_t *total)
{
	konce_sess *s = konce_ep_sess_by_conn((konce_ep *)ep, (uint32_t)(msg_id >> 32));
	if (!s || !s->rel)
		return -ENOENT;
	return konce_conn_progress(s->rel, (uint32_t)msg_id, acked, total);
}

int konce_ep_set_wanted(konce_ep *ep, uint32_t conn, bool wanted, uint64_t now_us)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	if (wanted && !s->wanted && !s->rel)
		s->ping_tx_us = now_us; /* the first keepalive a keepalive interval from now */
	konce_ep_table_wanted(ep, s, wanted);
	if (s->rel)
		s->rel->wanted = wanted;
	if (!wanted)
		konce_ep_table_touch(ep, s, now_us);
	konce_ep_arm(ep, s, now_us);
	return 0;
}

int konce_ep_set_keepalive(konce_ep *ep, uint32_t conn, uint64_t keepalive_us, uint64_t now_us)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	uint64_t k = keepalive_us ? keepalive_us : ep->conn_cfg.keepalive_us;
	uint64_t was = s->keepalive_us ? s->keepalive_us : ep->conn_cfg.keepalive_us;
	s->keepalive_us = k;
	if (s->rel && s->rel->cfg.keepalive_us != k) {
		s->rel->cfg.keepalive_us = k;
		konce_ep_arm(ep, s, now_us);
	} else if (!s->rel && was != k) {
		konce_ep_arm(ep, s, now_us);
	}
	return 0;
}

int konce_ep_ping(konce_ep *ep, uint32_t conn, uint64_t now_us)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	if (s->state != KONCE_HS_ESTABLISHED)
		return -ENOTCONN;
	konce_conn *c = get_conn(ep, s, now_us);
	if (!c)
		return -ENOMEM;
	c->ping_due = true;
	konce_ep_msg_flush(ep, s, now_us);
	konce_ep_arm(ep, s, now_us);
	return 0;
}

void konce_ep_rtt_seen(konce_sess *s, uint64_t rtt_us, uint64_t at, uint64_t now_us)
{
	if (!rtt_us || rtt_us > RTT_MASK)
		return;
	bool stale = !s->rtt_min || (now_us > kept_at(s) && now_us - kept_at(s) >= KONCE_CC_MIN_RTT_WINDOW_US);
	if (stale || rtt_us <= kept_rtt(s))
		s->rtt_min = (at / 1000) << 24 | rtt_us;
	if (s->rel) /* the session's choice, which the conn keeps as it is */
		konce_conn_seed_rtt(s->rel, kept_rtt(s), kept_at(s), now_us);
}

void konce_ep_path_reset(konce_ep *ep, const konce_addr *peer, uint64_t now_us)
{
	for (konce_sess *s = ep->live; s; s = s->next) {
		if (s->state != KONCE_HS_ESTABLISHED || !konce_addr_eq(&s->path.cur, peer))
			continue;
		s->rtt_min = 0; /* that RTT was another path's */
		if (!s->rel) {
			konce_ep_pmtud_reset(ep, s, now_us); /* a presence forgets its kept size */
			continue;
		}
		konce_conn_path_reset(s->rel, now_us);
		konce_ep_pmtud_reset(ep, s, now_us);
		konce_ep_msg_flush(ep, s, now_us);
		konce_ep_arm(ep, s, now_us);
	}
}
