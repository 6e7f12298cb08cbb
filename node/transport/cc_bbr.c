/* cc_bbr.c - a model-based controller in the manner of BBR (draft-cardwell-iccrg-bbr-congestion-
 * control, v3): the default class's controller.
 *
 * The model is two numbers.  bw: the highest delivery rate (recovery.h's per-ack samples) over the
 * last KONCE_BBR_BW_ROUNDS round trips; an application-limited sample counts only if it raises the
 * estimate.  min_rtt: the lowest RTT this flow's acks showed in the last 10 s.  BDP = bw x min_rtt.  The sender paces
 * at pacing_gain x bw and keeps at most cwnd = min(cwnd_gain x BDP + 3 mss + extra_acked,
 * inflight_hi) in flight, where extra_acked (v2's ack aggregation estimate, at most 20 ms at bw)
 * is how much more than bw x time the acks of a burst delivered lately: jitter that reorders,
 * delayed acks.  Without it, jitter that puts min_rtt far below the typical RTT (netsim's 10 ms
 * normal jitter: min_rtt ~15 ms on a 40 ms path) makes 2 x bw x min_rtt smaller than what the
 * achieved rate needs in flight, and the window shrinks round after round.
 * A random loss changes neither number, so it does not change the rate: that is the point.
 *
 *   STARTUP --bw grew < 25% for 3 rounds, or for 1 lossy round (check_full_pipe, round_end)--> DRAIN
 *   DRAIN --bytes in flight <= BDP (check_drain)--> PROBE_BW
 *   PROBE_BW, STARTUP, DRAIN --min_rtt not seen for 10 s (update_min_rtt)--> PROBE_RTT
 *   PROBE_RTT --200 ms and a round at a window of BDP/2 (probe_rtt_step)--> PROBE_BW (STARTUP if
 *             the pipe was never filled)
 *   any --persistent congestion (bbr_on_persistent)--> STARTUP, bandwidth estimate forgotten
 *
 * Gains: STARTUP paces at 2.77 and DRAIN at 0.35 (v3's values); cwnd_gain is 2 (1.5 over a
 * standing queue, below), and 2.89 in STARTUP (v1's): jitter puts min_rtt well below the typical
 * RTT, and a window of 2 x bw x min_rtt then grows by less than 2x a round.  Losses that recovery
 * later finds spurious (reordering) are taken back out of the round's count (bbr_on_spurious).  PROBE_BW
 * cycles pacing_gain through 1.25 (UP: probe for more), 0.75 (DOWN: drain what UP queued) and 1
 * (CRUISE) for six phases; a phase lasts min_rtt, UP until in flight reaches 1.25 BDP, DOWN until it
 * falls to the BDP.  The cycle starts at a phase taken from the clock, so flows that start
 * together do not probe in step.
 *
 * Loss threshold (v3).  Rounds are counted on delivered bytes: a round ends when a packet sent
 * after it began is acked.  A round is lossy when its lost bytes exceed 2% of what it delivered
 * and lost, at least 3 mss were lost, and its largest RTT sample was at least 1.5 min_rtt (a
 * queue stood behind the loss; random loss on an empty path is not congestion).  Only a lossy round reacts, and only where the flow
 * itself was probing: in STARTUP it ends the startup if the bandwidth estimate grew less than 25%
 * in the round (random loss does not stop it growing, an overflowing queue does: v3 ends STARTUP
 * on loss alone, which under 3% random loss leaves it at a fraction of the path for seconds); in
 * UP it ends the probe.  Either way
 * inflight_hi = 0.7 x the round's peak in flight.  inflight_hi is never below the UP gain times
 * the BDP, so a flow can always probe past its current estimate: random loss above 2% costs
 * headroom, not rate, and a queue that overflows is left alone after a round.  An UP round that
 * used the whole window without a lossy round raises inflight_hi, by 1 mss, then 2, 4, ... per round.
 * A cut is undone when losses recovery later finds spurious, arriving before the end of the round
 * after the cut's, bring its round back under the threshold (bbr_on_spurious).
 *
 * A standing queue (cwnd_gain 1.5).  Where this flow shares the bottleneck with another
 * window-limited flow (a TCP BBR or CUBIC flow, another konce), both keep their windows full over a
 * queue that no one's pacing drains, and each delivers window / RTT: the flow whose window is larger
 * for its rate keeps the larger share, whatever its start left it (a BBR flow started second
 * typically takes two thirds; docs/BENCH.md).  When the smallest RTT sample of each of the last
 * KONCE_BBR_QUEUE_ROUNDS (10) rounds stood at least 1.5 min_rtt, and that floor stood further above
 * min_rtt than any of those rounds' samples spread (jitter spreads a round's samples around a
 * floor near min_rtt; a queue lifts the floor), for QUEUE_ROUNDS rounds, cwnd_gain is 1.5 instead
 * of 2, until a round's samples reach below that again.  The model (bw, min_rtt) and the pacing
 * rate are unchanged, so a flow alone, whose pacing keeps the queue empty, never sees this.
 * "min_rtt" in that test is the lower of min_rtt and path_rtt, an RTT the session saw before this
 * flow (bbr_seed_min_rtt: the client's handshake, the session's last channel), while younger than
 * 10 s: a flow started into another flow's queue sees no empty path in its own acks.  path_rtt is not
 * the model's: a BDP from it starves the flow beside a CUBIC flow's deep queue (0% of the link in
 * docs/BENCH.md's share bench, tried).
 *
 * Not here (v3 has them): the lower bounds bw_lo/inflight_lo that any loss outside a probe cuts,
 * ECN, and packet conservation in the first round of a recovery.
 *
 * Invariants: cwnd >= 4 mss outside persistent congestion (cc.c's floor 2 mss then); bw is the
 * maximum of bw_max; inflight_hi >= 1.25 BDP once set; cwnd_gain is 1.5 only after QUEUE_ROUNDS
 * rounds of a standing queue, and only outside STARTUP.
 */
#include "node/transport/cc.h"

#include "node/base/wire.h"

#define UNIT 100 /* gains in percent */
enum {
	STARTUP_GAIN = 277,
	STARTUP_CWND_GAIN = 289, /* v1's 2/ln 2: jitter puts min_rtt well below the typical RTT */
	DRAIN_GAIN = 35,
	CWND_GAIN = 200,
	UP_GAIN = 125,
	DOWN_GAIN = 75,
	CYCLE_LEN = 8,
	QUEUE_ROUNDS = 3,      /* rounds of a standing queue before the window's gain falls */
	QUEUE_CWND_GAIN = 150, /* cwnd_gain over a standing queue */
	LOSS_THRESH_PCT = 2,
	BETA_PCT = 70,
	UNDO_ROUNDS = 2, /* a cut can be undone until the end of the round after its own */
	FULL_BW_PCT = 125,
	FULL_BW_ROUNDS = 3,
	PROBE_RTT_MS = 200,
	/* extra_acked at most this long at bw (Linux allows 100 ms; 20 ms covers 10 ms of netem-like
	 * jitter, and more made two flows on a shared 20 Mbit/s link measurably less fair) */
	EXTRA_MAX_MS = 20,
};
#define MIN_RTT_WINDOW_US KONCE_CC_MIN_RTT_WINDOW_US
#define NO_BOUND UINT64_MAX

static const uint8_t cycle_gain[CYCLE_LEN] = {UP_GAIN, DOWN_GAIN, 100, 100, 100, 100, 100, 100};

static uint64_t bdp(const konce_cc *cc, uint64_t gain)
{
	const konce_cc_bbr_state *b = &cc->u.bbr;
	if (!b->bw || !b->min_rtt)
		return konce_cc_initial_window(cc->mss) * gain / UNIT;
	return b->bw * b->min_rtt / 1000000 * gain / UNIT;
}

static uint64_t min_cwnd(const konce_cc *cc) { return 4 * cc->mss; }

static void bbr_init(konce_cc *cc, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	*b = (konce_cc_bbr_state){0};
	b->mode = KONCE_BBR_STARTUP;
	b->inflight_hi = NO_BOUND;
	b->min_rtt_stamp = now;
	b->hi_growth = cc->mss;
}

static uint64_t pacing_gain(const konce_cc *cc)
{
	const konce_cc_bbr_state *b = &cc->u.bbr;
	switch (b->mode) {
	case KONCE_BBR_STARTUP:
		return STARTUP_GAIN;
	case KONCE_BBR_DRAIN:
		return DRAIN_GAIN;
	case KONCE_BBR_PROBE_BW:
		return cycle_gain[b->cycle];
	default:
		return 100;
	}
}

static uint64_t bbr_pacing_rate(const konce_cc *cc, uint64_t smoothed_rtt_us)
{
	const konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t bw = b->bw;
	/* No sample yet, or STARTUP: at least the initial window over the RTT we have.  A session
	 * that carried only short messages has an application-limited estimate of a few kB/s, and
	 * pacing the first rounds of a bulk transfer at 2.77 x that took 2-3 round trips to send the
	 * initial window (Linux's BBR likewise starts from the initial window and does not pace
	 * below it until the pipe is filled). */
	if (!bw || !b->filled_pipe) {
		uint64_t rtt = b->min_rtt ? b->min_rtt : smoothed_rtt_us ? smoothed_rtt_us : KONCE_INITIAL_RTT_US;
		uint64_t iw_rate = konce_cc_initial_window(cc->mss) * 1000000 / rtt;
		if (bw < iw_rate)
			bw = iw_rate;
	}
	/* 1% under the estimate, so the bottleneck queue drains when the gain is 1 */
	return bw * pacing_gain(cc) / UNIT * 99 / 100;
}

/* What ack aggregation showed the window needs beyond bw x min_rtt: the windowed max of
 * extra_acked, at most EXTRA_MAX_MS at bw.  (Not part of inflight_hi's floor: that made two flows
 * sharing a 20 Mbit/s link less fair, Jain 0.92 for a seed where it was 1.00.) */
static uint64_t extra_acked(const konce_cc *cc)
{
	const konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t extra = b->extra_acked[0] > b->extra_acked[1] ? b->extra_acked[0] : b->extra_acked[1];
	uint64_t extra_max = b->bw * EXTRA_MAX_MS / 1000;
	return extra < extra_max ? extra : extra_max;
}

/* A lossy round ends a probe: inflight_hi comes down to 0.7 of the round's peak, never below 1.25
 * BDP.  Where the typical RTT is well above min_rtt (jitter), a window of 1.25 bw x min_rtt
 * delivers less than bw, the bandwidth estimate follows the window down and the next cut's floor
 * follows the estimate: cuts that should not have been (bbr_on_spurious) ratchet the rate down. */
static void cut_inflight_hi(konce_cc *cc, uint64_t delivered)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t hi = b->round_flight_hi * BETA_PCT / 100, floor = bdp(cc, UP_GAIN);
	b->undo_hi = b->inflight_hi;
	b->undo_lost = b->round_lost;
	b->undo_total = delivered + b->round_lost;
	b->undo_rounds = UNDO_ROUNDS;
	b->inflight_hi = hi > floor ? hi : floor;
	b->hi_growth = cc->mss;
}

static void enter_cycle(konce_cc *cc, unsigned phase, uint64_t now)
{
	cc->u.bbr.cycle = (uint8_t)phase;
	cc->u.bbr.cycle_stamp = now;
}

static void enter_probe_bw(konce_cc *cc, uint64_t now)
{
	cc->u.bbr.mode = KONCE_BBR_PROBE_BW;
	/* a phase from the clock, never DOWN first (as BBR v1 picks one at random) */
	unsigned r = (unsigned)((now / 1000) % (CYCLE_LEN - 1));
	enter_cycle(cc, r == 0 ? 0 : r + 1, now);
}

/* Did `lost` of `total` bytes (delivered + lost) pass the loss threshold? */
static bool over_threshold(const konce_cc *cc, uint64_t lost, uint64_t total)
{
	return lost >= 3 * cc->mss && lost * 100 > total * LOSS_THRESH_PCT;
}

/* path_rtt is set and within min_rtt's window (bbr_seed_min_rtt). */
static bool path_rtt_fresh(const konce_cc_bbr_state *b, uint64_t now)
{
	return b->path_rtt && now - b->path_rtt_at < MIN_RTT_WINDOW_US;
}

/* The end of a round: was it lossy, and what does that do to the probe? */
static void round_end(konce_cc *cc, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t delivered = b->delivered - b->round_delivered;
	/* ... and a queue stood behind the loss: the round's largest RTT at least 1.5 min_rtt.  Random
	 * loss with no queue (a lossy radio link, netsim's netem) is not congestion and does not cut
	 * inflight_hi: without this, 3% random loss makes nearly every round lossy, each one ends the
	 * probe, and the bandwidth estimate ratchets down to ~10% of the path (docs/BENCH.md). */
	bool queued = !b->min_rtt || b->round_rtt_max * 2 >= b->min_rtt * 3;
	bool lossy = over_threshold(cc, b->round_lost, delivered + b->round_lost) && queued;
	if (b->undo_rounds && !--b->undo_rounds)
		b->undo_hi = 0; /* the cut stands: its losses were real */
	/* random loss does not stop the bandwidth from growing; a full queue does */
	bool growing = b->bw * UNIT >= b->full_bw * FULL_BW_PCT;
	if (lossy) {
		b->lossy_rounds++;
		if (b->mode == KONCE_BBR_STARTUP && !growing) {
			cut_inflight_hi(cc, delivered);
			b->filled_pipe = true;
			b->mode = KONCE_BBR_DRAIN;
		} else if (b->mode == KONCE_BBR_PROBE_BW && b->cycle == 0) {
			cut_inflight_hi(cc, delivered);
			enter_cycle(cc, 1, now);
		}
	} else if (b->mode == KONCE_BBR_PROBE_BW && b->cycle == 0 && b->inflight_hi != NO_BOUND &&
		   b->round_flight_hi + cc->mss >= b->inflight_hi) {
		b->inflight_hi += b->hi_growth; /* the probe used the bound and lost little: raise it */
		if (b->hi_growth < b->inflight_hi)
			b->hi_growth *= 2;
	}
	b->rtt_min_ring[b->round_count % KONCE_BBR_QUEUE_ROUNDS] = b->round_rtt_min;
	b->rtt_spread_ring[b->round_count % KONCE_BBR_QUEUE_ROUNDS] = b->round_rtt_max - b->round_rtt_min;
	uint64_t wmin = UINT64_MAX, spread = 0;
	for (unsigned i = 0; i < KONCE_BBR_QUEUE_ROUNDS; i++) {
		if (b->rtt_min_ring[i] < wmin)
			wmin = b->rtt_min_ring[i];
		if (b->rtt_spread_ring[i] > spread)
			spread = b->rtt_spread_ring[i];
	}
	uint64_t base = b->min_rtt; /* the path's RTT without a queue, as best known */
	if (path_rtt_fresh(b, now) && (!base || b->path_rtt < base))
		base = b->path_rtt;
	if (wmin && base && wmin * 2 >= base * 3 && wmin - base > spread)
		b->queue_rounds++;
	else
		b->queue_rounds = 0;
	b->round_lost = 0;
	b->round_rtt_max = 0;
	b->round_rtt_min = 0;
	b->round_delivered = b->delivered;
	b->round_flight_hi = cc->bytes_in_flight;
}

static void update_bw(konce_cc *cc, const konce_cc_ack *ack)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	b->round_start = false;
	if (ack->bytes && ack->prior_delivered >= b->next_round_delivered) {
		b->next_round_delivered = ack->delivered;
		b->round_count++;
		b->round_start = true;
		b->bw_max[b->round_count % KONCE_BBR_BW_ROUNDS] = 0;
	}
	if (ack->rate && (!ack->app_limited || ack->rate >= b->bw)) {
		uint64_t *slot = &b->bw_max[b->round_count % KONCE_BBR_BW_ROUNDS];
		if (ack->rate > *slot)
			*slot = ack->rate;
	}
	b->bw = 0;
	for (unsigned i = 0; i < KONCE_BBR_BW_ROUNDS; i++)
		if (b->bw_max[i] > b->bw)
			b->bw = b->bw_max[i];
}

static void check_full_pipe(konce_cc *cc, const konce_cc_ack *ack)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	if (b->filled_pipe || !b->round_start || ack->app_limited)
		return;
	if (b->bw * UNIT >= b->full_bw * FULL_BW_PCT) {
		b->full_bw = b->bw;
		b->full_bw_count = 0;
		return;
	}
	if (++b->full_bw_count >= FULL_BW_ROUNDS)
		b->filled_pipe = true;
}

static void advance_cycle(konce_cc *cc, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	bool elapsed = now - b->cycle_stamp > b->min_rtt;
	uint64_t inflight = cc->bytes_in_flight;
	bool next;
	if (b->cycle == 0) /* UP: until in flight reaches the probe's BDP (or the bound stops it) */
		next = elapsed && (inflight >= bdp(cc, UP_GAIN) || inflight + cc->mss > cc->cwnd);
	else if (b->cycle == 1) /* DOWN: until the queue UP built is gone */
		next = elapsed || inflight <= bdp(cc, UNIT);
	else
		next = elapsed;
	if (next)
		enter_cycle(cc, (b->cycle + 1u) % CYCLE_LEN, now);
}

static void update_min_rtt(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	bool expired = now > b->min_rtt_stamp + MIN_RTT_WINDOW_US;
	if (ack->rtt && (!b->min_rtt || ack->rtt <= b->min_rtt || expired)) {
		b->min_rtt = ack->rtt;
		b->min_rtt_stamp = now;
	}
	if (expired && b->mode != KONCE_BBR_PROBE_RTT && b->min_rtt) {
		b->mode = KONCE_BBR_PROBE_RTT;
		b->probe_rtt_done = 0;
	}
}

/* A sample from before this flow (cc.h konce_cc_seed_min_rtt): the path's RTT without a queue, for
 * as long as min_rtt's window would keep it (the header, "A standing queue"). */
static void bbr_seed_min_rtt(konce_cc *cc, uint64_t rtt_us, uint64_t at, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	if (now - at >= MIN_RTT_WINDOW_US || (path_rtt_fresh(b, now) && b->path_rtt <= rtt_us))
		return;
	b->path_rtt = rtt_us;
	b->path_rtt_at = at;
}

static uint64_t bbr_min_rtt(const konce_cc *cc, uint64_t *at)
{
	*at = cc->u.bbr.min_rtt_stamp;
	return cc->u.bbr.min_rtt;
}

static void probe_rtt_step(konce_cc *cc, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t target = bdp(cc, UNIT) / 2;
	if (target < min_cwnd(cc))
		target = min_cwnd(cc);
	if (!b->probe_rtt_done) {
		if (cc->bytes_in_flight <= target) { /* the queue is gone: hold for 200 ms and a round */
			b->probe_rtt_done = now + PROBE_RTT_MS * 1000ull;
			b->probe_rtt_round_done = false;
			b->next_round_delivered = b->delivered;
		}
		return;
	}
	if (b->round_start)
		b->probe_rtt_round_done = true;
	if (b->probe_rtt_round_done && now >= b->probe_rtt_done) {
		b->min_rtt_stamp = now;
		if (b->filled_pipe)
			enter_probe_bw(cc, now);
		else
			b->mode = KONCE_BBR_STARTUP;
	}
}

/* BBR v2's ack aggregation estimate (draft-cardwell-iccrg-bbr-congestion-control,
 * BBRUpdateACKAggregation): acks that arrive in bursts -- delayed acks, jitter that reorders, a
 * busy receiver -- deliver more in a burst than bw x its duration; the window must hold that much
 * more or the sender stalls between bursts.  Windowed max over 10 rounds, at most one window. */
static void update_ack_aggregation(konce_cc *cc, uint64_t acked, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	if (!b->bw || !acked)
		return;
	if (b->round_start && b->round_count % 5 == 0) {
		unsigned w = (unsigned)(b->round_count / 5 % 2);
		b->extra_acked[w] = 0;
	}
	uint64_t expected = b->bw * (now - b->agg_start) / 1000000;
	if (b->agg_acked <= expected) { /* the acks caught up with the rate: a new epoch */
		b->agg_acked = 0;
		b->agg_start = now;
		expected = 0;
	}
	b->agg_acked += acked;
	uint64_t extra = b->agg_acked - expected;
	if (extra > cc->cwnd)
		extra = cc->cwnd;
	uint64_t *slot = &b->extra_acked[b->round_count / 5 % 2];
	if (extra > *slot)
		*slot = extra;
}

static void set_cwnd(konce_cc *cc, uint64_t acked)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t extra = extra_acked(cc);
	/* 3 mss for delayed acks, and what ack aggregation showed the window needs */
	uint64_t gain = CWND_GAIN;
	if (!b->filled_pipe)
		gain = STARTUP_CWND_GAIN;
	else if (b->queue_rounds >= QUEUE_ROUNDS)
		gain = QUEUE_CWND_GAIN; /* a standing queue that this flow's pacing does not drain */
	uint64_t target = bdp(cc, gain) + 3 * cc->mss + extra;
	if (b->inflight_hi != NO_BOUND && target > b->inflight_hi)
		target = b->inflight_hi;
	if (b->filled_pipe)
		cc->cwnd = cc->cwnd + acked < target ? cc->cwnd + acked : target;
	else if (cc->cwnd < target || b->delivered < konce_cc_initial_window(cc->mss))
		cc->cwnd += acked;
	if (b->mode == KONCE_BBR_PROBE_RTT) {
		uint64_t cap = bdp(cc, UNIT) / 2;
		if (cc->cwnd > cap)
			cc->cwnd = cap;
	}
	if (cc->cwnd < min_cwnd(cc))
		cc->cwnd = min_cwnd(cc);
}

static void bbr_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now)
{
	konce_cc_bbr_state *b = &cc->u.bbr;
	uint64_t before = cc->bytes_in_flight + ack->bytes;
	if (before > b->round_flight_hi)
		b->round_flight_hi = before;
	b->delivered = ack->delivered;
	if (ack->rtt > b->round_rtt_max)
		b->round_rtt_max = ack->rtt;
	if (ack->rtt && (!b->round_rtt_min || ack->rtt < b->round_rtt_min))
		b->round_rtt_min = ack->rtt;
	update_bw(cc, ack);
	if (b->round_start)
		round_end(cc, now);
	check_full_pipe(cc, ack);
	if (b->mode == KONCE_BBR_STARTUP && b->filled_pipe)
		b->mode = KONCE_BBR_DRAIN;
	if (b->mode == KONCE_BBR_DRAIN && cc->bytes_in_flight <= bdp(cc, UNIT))
		enter_probe_bw(cc, now);
	if (b->mode == KONCE_BBR_PROBE_BW)
		advance_cycle(cc, now);
	update_min_rtt(cc, ack, now);
	update_ack_aggregation(cc, ack->bytes, now);
	if (b->mode == KONCE_BBR_PROBE_RTT)
		probe_rtt_step(cc, now);
	set_cwnd(cc, ack->bytes);
}

static void bbr_on_lost(konce_cc *cc, uint64_t lost_bytes, uint64_t now)
{
	(void)now;
	cc->u.bbr.round_lost += lost_bytes;
}

/* Reordering, not loss: out of the loss count of the round that declared it.  Recovery often
 * recognises a spurious loss after the round that counted it has ended; if that round cut
 * inflight_hi and, without its spurious losses, would not have passed the threshold, the cut is
 * undone (as TCP undoes a window reduction that spurious retransmissions caused).  Without this,
 * jitter that reorders makes most declared losses spurious, round after round passes the
 * threshold, and every probe is cut (docs/BENCH.md).  The bytes are taken first from a cut still
 * open to undo, the rest from the current round. */
static void bbr_on_spurious(konce_cc *cc, uint64_t bytes, uint64_t now)
{
	(void)now;
	konce_cc_bbr_state *b = &cc->u.bbr;
	if (b->undo_hi) {
		uint64_t take = bytes < b->undo_lost ? bytes : b->undo_lost;
		b->undo_lost -= take;
		bytes -= take;
		if (!over_threshold(cc, b->undo_lost, b->undo_total)) {
			if (b->undo_hi > b->inflight_hi)
				b->inflight_hi = b->undo_hi;
			b->undo_hi = 0;
			b->undo_rounds = 0;
			b->undone_cuts++;
		}
	}
	b->round_lost -= bytes < b->round_lost ? bytes : b->round_lost;
}

/* A new recovery period: the model, not the loss, sets the window. */
static void bbr_on_congestion(konce_cc *cc, uint64_t now)
{
	(void)cc;
	(void)now;
}

/* cc.c drops the window to 2 mss.  The path may have changed under the outage: the bandwidth
 * estimate starts again from what arrives, in STARTUP (min_rtt and inflight_hi stay), and the
 * losses that made it persistent do not count toward the round's loss rate. */
static void bbr_on_persistent(konce_cc *cc, uint64_t now)
{
	(void)now;
	konce_cc_bbr_state *b = &cc->u.bbr;
	for (unsigned i = 0; i < KONCE_BBR_BW_ROUNDS; i++)
		b->bw_max[i] = 0;
	b->bw = b->full_bw = 0;
	b->full_bw_count = 0;
	b->round_lost = 0; /* an outage's losses say nothing of the loss rate of a round */
	b->filled_pipe = false;
	b->mode = KONCE_BBR_STARTUP;
}

const konce_cc_ops konce_cc_bbr = {
	.name = "bbr",
	.init = bbr_init,
	.on_ack = bbr_on_ack,
	.on_congestion = bbr_on_congestion,
	.on_persistent_congestion = bbr_on_persistent,
	.on_lost = bbr_on_lost,
	.on_spurious = bbr_on_spurious,
	.seed_min_rtt = bbr_seed_min_rtt,
	.min_rtt = bbr_min_rtt,
	.pacing_rate = bbr_pacing_rate,
};
