/* ep_pmtud.c - each session's path MTU search at the endpoint: the glue between a session and its
 * PLPMTUD state machine (pmtud.h, which has the states and the rules).
 *
 * When.  A session searches once its conn opens a channel (a message larger than one base-size
 * packet, conn.h) and the endpoint was given a max_datagram above KONCE_PMTU_BASE: presences that
 * only hold keepalives never probe, and carry no search state (konce_sess.pm is allocated from
 * pm_slab when the search starts, and freed when the channel shrinks back to a presence or the
 * session ends).  The upper bound is the I/O layer's path_mtu(peer) estimate, at most
 * max_datagram.
 *
 * Shrink and regrow.  A channel does not shrink while SEARCHING (ep_msg.c).  When it shrinks,
 * konce_pmtud_keep() leaves in the session (konce_sess.pmk, 16 bytes) the PLPMTU a completed search
 * confirmed, its bound and the probe counts, and the 64-byte search state goes back to the slab;
 * the next channel's search resumes there (konce_pmtud_resume: SEARCH_COMPLETE at that size, the
 * raise timer armed as after a search) and sends its first data at that size with no probe,
 * unless the bound changed meanwhile.  A search that was in BASE or ERROR, or suspected a black
 * hole, keeps no size: the next one starts from BASE.  konce_ep_conn_pmtu() reports a presence
 * from what it kept.  The raise interval runs from the resume (the kept 16 bytes have no room for
 * the old deadline), so a session whose channels each live less than KONCE_PMTU_RAISE_MS does not
 * look for a larger size until a path change starts a full search.
 *
 * Probes.  A probe is a PING frame and PADDING sealed to exactly the candidate size, sent on the
 * validated path through konce_ep_send_frames(), so the anti-amplification check of path.h
 * applies to it as to any DATA packet and its bytes are counted the same way.  Its packet number is
 * announced to the conn (konce_conn_on_probe_sent) but not recorded in recovery: a lost probe is
 * no lost data and no congestion signal.  The ACK frames of every authenticated payload are
 * checked for the probe's number; the probe timeout is the conn's PTO, at least
 * KONCE_PMTU_PROBE_MIN_MS.
 *
 * Black holes.  Recovery counts, per ack or loss timeout, packets larger than KONCE_PMTU_BASE
 * declared lost and acked (conn big_lost / big_acked); they are drained into the state machine
 * after every payload and timer.  A run of large losses with no large ack sends data at BASE at
 * once and probes the PLPMTU: lost MAX_PROBES times, it is a black hole (a new search from BASE);
 * acked, it was congestion.  Data in the lost large packets is sent again in runs that fit
 * (msgq.h).
 *
 * Path changes.  A validated move to a new address (PATH_RESPONSE, ep_session.c) and a move the
 * traversal layer announces (konce_ep_path_reset, direct <-> relayed) reset the search to BASE; a
 * presence's kept size is forgotten (konce_pmtud_kept_reset), so its next channel searches anew.
 */
#include <errno.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/frame.h"

static size_t upper_bound(konce_ep *ep, const konce_sess *s)
{
	size_t max = ep->max_datagram;
	if (ep->path_mtu) {
		unsigned m = ep->path_mtu(ep->path_mtu_ctx, &s->path.cur);
		if (m && m < max)
			max = m;
	}
	return max;
}

/* Large-packet losses and acks since the last look. */
static void settle(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_conn *c = s->rel;
	if (!c || (!c->big_lost && !c->big_acked))
		return;
	konce_pmtud_on_loss(s->pm, (size_t)c->big_lost, (size_t)c->big_acked, now_us);
	c->big_lost = c->big_acked = 0;
}

void konce_ep_pmtud_flush(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	konce_conn *c = s->rel;
	if (ep->max_datagram <= KONCE_PMTU_BASE || !c || s->state != KONCE_HS_ESTABLISHED)
		return;
	if (!s->pm || s->pm->state == KONCE_PMTUD_DISABLED) {
		if (!c->channel)
			return;
		/* a presence has no search state: it is made for the channel (freed at its shrink) and
		 * resumes from what earlier channels found */
		if (!s->pm) {
			if (!(s->pm = konce_slab_alloc(&ep->pm_slab)))
				return; /* it stays at KONCE_PMTU_BASE; the next flush tries again */
			konce_pmtud_init(s->pm);
		}
		konce_pmtud_resume(s->pm, &s->pmk, upper_bound(ep, s), now_us);
	}
	size_t size = konce_pmtud_probe_due(s->pm, now_us);
	size_t over = konce_session_overhead(&s->sess);
	if (!size || konce_ep_out_full(ep) || size <= over)
		return;
	uint8_t frames[KONCE_WIRE_MAX_SESSION_PAYLOAD];
	size_t len = size - over;
	memset(frames, 0, len); /* PADDING to the end */
	konce_frame_put_ping(frames, len);
	uint64_t pn = s->sess.tx_pn;
	if (konce_ep_send_frames(ep, s, frames, len, &s->path.cur, now_us))
		return; /* again at the next flush */
	konce_conn_on_probe_sent(c, pn);
	konce_pmtud_probe_sent(s->pm, size, pn, now_us, konce_rtt_pto(&c->rec.rtt));
	ep->c.pmtu_probes_tx++;
	konce_ep_arm(ep, s, s->pm->probe_deadline);
}

void konce_ep_pmtud_input(konce_ep *ep, konce_sess *s, const uint8_t *p, size_t len, const konce_ep_scan *sc,
			  uint64_t now_us)
{
	if (!s->pm || s->pm->state == KONCE_PMTUD_DISABLED)
		return;
	/* the conn acts on the first ACK frame only: so do we (the scan validated it) */
	konce_ack a;
	if (s->pm->probed && sc->ack_off < len && konce_ackframe_decode(p + sc->ack_off, len - sc->ack_off, &a) &&
	    konce_pmtud_on_ack(s->pm, &a, now_us))
		ep->c.pmtu_raised++;
	settle(ep, s, now_us);
}

uint64_t konce_ep_pmtud_timer(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (!s->pm || s->pm->state == KONCE_PMTUD_DISABLED)
		return UINT64_MAX;
	settle(ep, s, now_us);
	uint32_t lost = s->pm->probes_lost, holes = s->pm->blackholes;
	konce_pmtud_tick(s->pm, now_us);
	ep->c.pmtu_probes_lost += s->pm->probes_lost - lost;
	ep->c.pmtu_blackholes += s->pm->blackholes - holes;
	uint64_t t = konce_pmtud_next_timer(s->pm, now_us);
	if (t <= now_us && now_us < s->blocked_until_us)
		t = s->blocked_until_us; /* the probe waits with the rest (konce_ep_msg_flush) */
	return t;
}

void konce_ep_pmtud_reset(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (!s->pm) {
		/* a presence: the size its last channel found is not this path's (none ran: nothing to do) */
		if (s->pmk.max && konce_pmtud_kept_reset(&s->pmk, upper_bound(ep, s)))
			ep->c.pmtu_resets++;
		return;
	}
	if (s->pm->state != KONCE_PMTUD_DISABLED)
		ep->c.pmtu_resets++;
	konce_pmtud_reset(s->pm, upper_bound(ep, s), now_us);
	if (s->rel)
		s->rel->big_lost = s->rel->big_acked = 0;
}

void konce_ep_pmtud_shrink(konce_ep *ep, konce_sess *s)
{
	if (!s->pm)
		return;
	konce_pmtud_keep(s->pm, &s->pmk);
	konce_slab_free(&ep->pm_slab, s->pm);
	s->pm = NULL;
}

int konce_ep_conn_pmtu(const konce_ep *ep, uint32_t conn, konce_ep_pmtu_info *out)
{
	const konce_sess *s = konce_ep_sess_by_conn((konce_ep *)ep, conn);
	if (!s)
		return -ENOENT;
	memset(out, 0, sizeof *out);
	/* earlier channels' searches, then this one's */
	const konce_pmtud_kept *k = &s->pmk;
	out->plpmtu = k->plpmtu ? k->plpmtu : KONCE_PMTU_BASE;
	out->state = konce_pmtud_kept_state(k);
	out->max = k->max ? k->max : KONCE_PMTU_BASE;
	out->probes_sent = k->probes_sent;
	out->probes_lost = k->probes_lost;
	out->blackholes = k->blackholes;
	if (s->pm) {
		out->plpmtu = s->pm->plpmtu;
		out->state = s->pm->state;
		out->max = s->pm->max;
		out->probes_sent += s->pm->probes_sent;
		out->probes_lost += s->pm->probes_lost;
		out->blackholes += s->pm->blackholes;
	}
	out->packets_lost = s->gone_lost;
	out->retransmitted = s->gone_retransmitted;
	if (s->rel) {
		out->packets_lost += s->rel->rec.nlost_total;
		out->retransmitted += s->rel->retransmitted;
	}
	return 0;
}
