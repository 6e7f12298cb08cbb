/* cc_prr.c - Proportional Rate Reduction (RFC 9937, which obsoletes RFC 6937) for the loss-based
 * controllers (ops->prr: cc_newreno.c, cc_cubic.c).  BBR bounds what is in flight itself.
 *
 * Without PRR the window drops to ssthresh the moment a loss is found: a sender with RecoverFS
 * bytes out stops dead for half a round trip (nothing may go until what is in flight falls below
 * the new window), then sends in a burst.  PRR instead spreads the reduction over the recovery
 * episode, one ack at a time, so that by its end what is in flight is ssthresh:
 *
 *   entering recovery (konce_cc_prr_start, after ops->on_congestion set ssthresh):
 *     prr_delivered = DeliveredData of the ack that found the loss (0 for a timer), prr_out = 0,
 *     RecoverFS = the bytes in flight just before that ack (lost ones included, those acked before
 *     excluded: RFC 9937 leaves out what was SACKed before recovery);
 *   every ack during the episode that delivers data (konce_cc_prr_on_ack):
 *     prr_delivered += DeliveredData;
 *     pipe > ssthresh:  sndcnt = ceil(prr_delivered * ssthresh / RecoverFS) - prr_out   (proportional;
 *                       the ceiling rounded up to whole mss)
 *     otherwise:        sndcnt = min(ssthresh - pipe, max(prr_delivered - prr_out, DeliveredData)
 *                                    + (safe ? mss : 0))    (PRR-CRB, or PRR-SSRB on a safe ack)
 *     sndcnt = mss if prr_out = 0 and sndcnt = 0 (the first retransmission goes at once);
 *     cwnd = pipe + sndcnt  (never below cc.h's floor of 2 mss);
 *   every packet sent during the episode: prr_out += bytes (konce_cc_prr_on_sent);
 *   the ack that ends the episode (cc.c: it acks a packet sent after the episode began, RFC 9002's
 *   recovery period): cwnd = ssthresh.
 *
 * pipe is cc->bytes_in_flight: recovery.h takes a lost packet out of it when declaring it lost,
 * and its data goes again in a new packet, as RFC 6675's pipe counts a retransmission.
 *
 * A safe ack (RFC 9937: SND.UNA advances and no further loss is indicated) is, here, an ack that
 * delivers data and declares nothing lost.  konce's recovery takes a packet out of the store the
 * moment it is declared lost, so the oldest outstanding packet is never a known hole and "SND.UNA
 * advances" has no closer equivalent.  cc.c calls on_ack before on_loss for the same ack (conn.c's
 * apply_loss), so the step is taken as safe and taken again, unsafe and with the smaller pipe,
 * when a loss arrives at the same time (konce_cc_prr_on_loss): the step is a function of the
 * state, not an increment, so repeating it is exact.
 *
 * Invariant: prr_out <= what the steps allowed, i.e. every byte sent during the episode fitted
 * cwnd = pipe + sndcnt when it went (konce_cc_can_send); at the end of an episode in which the
 * sender kept up, pipe is ssthresh.
 */
#include "node/transport/cc.h"

/* cwnd from the state (RFC 9937 section 6), for the latest ack's DeliveredData. */
static void step(konce_cc *cc, uint64_t delivered_data, bool safe)
{
	konce_cc_prr *p = &cc->prr;
	uint64_t pipe = cc->bytes_in_flight, sndcnt;
	if (pipe > cc->ssthresh) {
		uint64_t fs = p->recover_fs ? p->recover_fs : 1;
		/* prr_delivered and ssthresh are bytes below 2^40: the product fits */
		uint64_t allowed = (p->delivered * cc->ssthresh + fs - 1) / fs;
		/* in whole datagrams, as Linux counts PRR in packets: an allowance of 667 bytes lets
		 * one datagram go, not none (konce does not send part of an mss to fill it) */
		allowed = (allowed + cc->mss - 1) / cc->mss * cc->mss;
		sndcnt = allowed > p->out ? allowed - p->out : 0;
	} else {
		uint64_t behind = p->delivered > p->out ? p->delivered - p->out : 0;
		sndcnt = behind > delivered_data ? behind : delivered_data;
		if (safe)
			sndcnt += cc->mss;
		if (sndcnt > cc->ssthresh - pipe)
			sndcnt = cc->ssthresh - pipe;
	}
	if (p->out == 0 && sndcnt == 0)
		sndcnt = cc->mss;
	cc->cwnd = pipe + sndcnt;
	if (cc->cwnd < konce_cc_min_window(cc->mss))
		cc->cwnd = konce_cc_min_window(cc->mss);
}

void konce_cc_prr_start(konce_cc *cc, uint64_t lost_bytes, uint64_t now)
{
	konce_cc_prr *p = &cc->prr;
	uint64_t d = p->last_ack == now ? p->last_delivered : 0;
	p->delivered = d;
	p->out = 0;
	p->recover_fs = cc->bytes_in_flight + lost_bytes + d;
	step(cc, d, false);
}

void konce_cc_prr_on_ack(konce_cc *cc, uint64_t delivered_data)
{
	if (delivered_data == 0)
		return; /* RFC 9937: an ack that delivers nothing sends nothing */
	cc->prr.delivered += delivered_data;
	step(cc, delivered_data, true);
}

void konce_cc_prr_on_loss(konce_cc *cc, uint64_t now)
{
	konce_cc_prr *p = &cc->prr;
	if (p->last_ack == now && p->last_delivered)
		step(cc, p->last_delivered, false); /* the same ack, which now indicates a loss */
}

void konce_cc_prr_on_sent(konce_cc *cc, uint64_t bytes) { cc->prr.out += bytes; }
