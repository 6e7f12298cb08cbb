/* cc.h - congestion control: one interface, one file per algorithm (cc_bbr.c, cc_newreno.c,
 * cc_cubic.c, cc_ledbat.c; cc_prr.c is the loss-based ones' recovery).
 *
 * One konce_cc per peer path (pair of addresses), shared by every message to that peer; the
 * message layer picks the algorithm (the congestion class) when it creates the path's controller.
 * The caller feeds it what recovery.h reports:
 *   konce_cc_on_sent()   for every in-flight packet sent (bytes_in_flight += bytes);
 *   konce_cc_on_ack()    with konce_loss_result.acked_bytes, the RTT / one-way-delay samples and
 *                        the delivery-rate sample (konce_loss_result.rs);
 *   konce_cc_on_spurious() with konce_loss_result.spurious_bytes;
 *   konce_cc_on_loss()   with lost_bytes and the send time of the newest lost packet;
 *   konce_cc_on_persistent_congestion() when recovery says so.
 * konce_cc_can_send() says whether one more packet of `bytes` fits the window, and
 * konce_cc_pacing_rate() what rate pacer.h should spread it at.
 *
 * Common state: cwnd and ssthresh in bytes, bytes_in_flight, and the congestion recovery period
 * (RFC 9002 section 7.3.2): after a loss, further losses and acks of packets sent before
 * recovery_start do not change the window again, so the window is cut at most once per round trip.
 * For the loss-based controllers the cut is spread over the period by Proportional Rate Reduction
 * (cc_prr.c): the window follows what is delivered down to ssthresh, instead of dropping to it.
 *
 * Under-used window (RFC 9002 section 7.8): a round ends when a packet sent after it began is
 * acked; the window may grow during the next round only if the peak of bytes in flight in the
 * round reached it -- at least half of it in slow start (the window doubles per round trip, so
 * half is already "limited"), all but 2 mss in congestion avoidance (pacing keeps a packet or two
 * back).  An application sending little does not inflate a window it never uses.
 *
 * Units: every window and count is in bytes of the datagrams actually sent (sealed size, as
 * on_sent is told); mss is the path's current datagram size (konce_cc_set_mss), so a window in
 * bytes for a given bandwidth-delay product does not depend on the datagram size.
 *
 * Invariants: cwnd >= 2 * mss; bytes_in_flight is the sum of sent minus acked minus lost bytes.
 */
#ifndef KONCE_CC_H
#define KONCE_CC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct konce_cc konce_cc;

typedef struct konce_cc_ack {
	uint64_t bytes;         /* in-flight bytes newly acked */
	uint64_t largest_sent;  /* send time of the newest newly acked packet */
	uint64_t rtt;           /* latest RTT sample (us), 0 if this ack gave none */
	uint64_t min_rtt;       /* rtt.h's min_rtt (us), 0 if unknown */
	bool has_owd;
	uint32_t owd;           /* one-way delay sample, mod 2^32 us, offset unknown (ackframe.h) */
	uint64_t delivered;     /* recovery.h's count of bytes delivered so far, this ack included */
	uint64_t rate;          /* delivery-rate sample (bytes/s, recovery.h), 0 if none */
	uint64_t prior_delivered; /* the sample's packet: `delivered` when it was sent */
	bool app_limited;       /* the sample is a lower bound: the sender did not fill the window */
} konce_cc_ack;

typedef struct konce_cc_ops {
	const char *name;
	void (*init)(konce_cc *cc, uint64_t now);
	void (*on_ack)(konce_cc *cc, const konce_cc_ack *ack, uint64_t now);
	/* Called only for a loss that starts a new recovery period. */
	void (*on_congestion)(konce_cc *cc, uint64_t now);
	void (*on_persistent_congestion)(konce_cc *cc, uint64_t now);
	/* Optional.  Every loss of in-flight bytes, within a recovery period or not (before
	 * on_congestion), for controllers that count losses rather than react to each. */
	void (*on_lost)(konce_cc *cc, uint64_t lost_bytes, uint64_t now);
	/* Optional.  Bytes declared lost earlier turned out to be only reordered (recovery.h). */
	void (*on_spurious)(konce_cc *cc, uint64_t bytes, uint64_t now);
	/* Optional.  cc->mss changed (konce_cc_set_mss); cwnd is already at least the new floor. */
	void (*on_mss)(konce_cc *cc);
	/* Optional.  An RTT sample taken at `at` outside this controller's acks (the handshake, an
	 * earlier channel's model: konce_cc_seed_min_rtt). */
	void (*seed_min_rtt)(konce_cc *cc, uint64_t rtt_us, uint64_t at, uint64_t now);
	/* Optional.  The controller's windowed minimum RTT and when it was seen (0: none yet). */
	uint64_t (*min_rtt)(const konce_cc *cc, uint64_t *at);
	/* Optional.  The pacing rate (bytes/s) if the controller sets its own (cc_bbr.c). */
	uint64_t (*pacing_rate)(const konce_cc *cc, uint64_t smoothed_rtt_us);
	/* The window follows Proportional Rate Reduction during a recovery period (cc_prr.c):
	 * on_congestion sets ssthresh, and cc.c sets cwnd, ack by ack, until the period ends at
	 * cwnd = ssthresh.  A loss-based controller's on_ack is not called for acks in the period. */
	bool prr;
} konce_cc_ops;

/* Proportional Rate Reduction state (cc_prr.c), for controllers with ops->prr. */
typedef struct konce_cc_prr {
	uint64_t delivered;      /* prr_delivered: bytes delivered during the episode */
	uint64_t out;            /* prr_out: bytes sent during the episode */
	uint64_t recover_fs;     /* RecoverFS: bytes in flight just before the episode began */
	uint64_t last_ack;       /* time of the latest ack (cc.c), to recognise its loss */
	uint64_t last_delivered; /* its DeliveredData */
} konce_cc_prr;

enum { KONCE_LEDBAT_BASE_HISTORY = 10, KONCE_LEDBAT_CURRENT_FILTER = 4 };

/* LEDBAT phases (cc_ledbat.c has the diagram). */
enum konce_ledbat_phase {
	KONCE_LEDBAT_SLOW_START = 0, /* initial slow start */
	KONCE_LEDBAT_AVOID,          /* congestion avoidance toward the target delay */
	KONCE_LEDBAT_SLOWDOWN,       /* periodic slowdown: 2 mss for 2 RTT, so the queue drains */
	KONCE_LEDBAT_RAMP,           /* slow start back to the window before the slowdown */
};

typedef struct konce_cc_ledbat_state {
	double cwnd;                 /* fractional window; cc->cwnd is its integer part */
	uint64_t target_us;
	uint8_t phase;               /* enum konce_ledbat_phase */
	bool no_slowdown;            /* tests of steady state turn periodic slowdowns off */
	bool fixed_target;           /* tests: keep target_us, do not follow the minimum RTT */
	uint64_t rtt;                /* latest RTT sample */
	uint64_t next_slowdown;      /* when AVOID next enters SLOWDOWN (0 = not scheduled) */
	uint64_t slowdown_start, hold_until;
	double saved_cwnd;           /* the window RAMP climbs back to */
	bool have_ref;
	uint32_t ref;                /* first owd sample: samples are kept relative to it */
	int64_t base[KONCE_LEDBAT_BASE_HISTORY]; /* minimum delay per minute, oldest first */
	unsigned nbase;
	uint64_t base_minute_start;
	int64_t current[KONCE_LEDBAT_CURRENT_FILTER]; /* the latest delay samples */
	unsigned ncurrent, current_at;
	int64_t last_queuing_delay;  /* for tests and status */
} konce_cc_ledbat_state;

enum { KONCE_BBR_BW_ROUNDS = 10 };
/* How long a minimum RTT sample stands (BBR's min_rtt window), the controller's own or one from
 * outside it (konce_cc_seed_min_rtt). */
#define KONCE_CC_MIN_RTT_WINDOW_US 10000000ull
/* the rounds over which cc_bbr.c looks for a standing queue */
enum { KONCE_BBR_QUEUE_ROUNDS = 10 };

/* BBR modes (cc_bbr.c has the diagram). */
enum konce_bbr_mode {
	KONCE_BBR_STARTUP = 0, /* pace at 2.77 bw until the bandwidth stops growing (or loss is high) */
	KONCE_BBR_DRAIN,       /* pace at 0.35 bw until what is in flight fits the BDP */
	KONCE_BBR_PROBE_BW,    /* cycle the pacing gain 1.25, 0.75, then 1 for six rounds */
	KONCE_BBR_PROBE_RTT,   /* a window of BDP/2 for 200 ms, to see the path's minimum RTT again */
};

typedef struct konce_cc_bbr_state {
	uint8_t mode;                /* enum konce_bbr_mode */
	bool filled_pipe;            /* STARTUP is over */
	bool round_start;            /* this ack began a new round trip */
	bool probe_rtt_round_done;
	uint8_t cycle;               /* PROBE_BW phase: index into the gain cycle */
	uint8_t full_bw_count;       /* rounds in STARTUP without 25% more bandwidth */
	uint64_t bw_max[KONCE_BBR_BW_ROUNDS]; /* highest delivery rate per round, ring by round */
	uint64_t bw;                 /* max of bw_max: the bottleneck bandwidth estimate, bytes/s */
	uint64_t full_bw;
	uint64_t round_count, next_round_delivered;
	uint64_t min_rtt, min_rtt_stamp; /* windowed minimum RTT (us) and when it was last seen */
	uint64_t path_rtt, path_rtt_at; /* an RTT the session saw before this flow, and when (cc_bbr.c
	                                 * bbr_seed_min_rtt; 0: none): the standing queue's reference */
	uint64_t probe_rtt_done;     /* PROBE_RTT ends at this time (0 = not yet armed) */
	uint64_t cycle_stamp;        /* when the current PROBE_BW phase began */
	uint64_t inflight_hi;        /* the loss threshold's bound on bytes in flight (UINT64_MAX: none) */
	uint64_t hi_growth;          /* what a probe adds to inflight_hi next round */
	uint64_t round_lost, round_delivered; /* this round: bytes lost, `delivered` at its start */
	uint64_t round_flight_hi;    /* this round: most bytes in flight */
	uint64_t round_rtt_max;      /* this round: the largest RTT sample (us) */
	uint64_t round_rtt_min;      /* this round: the smallest RTT sample (us; 0: none) */
	uint32_t queue_rounds;       /* consecutive rounds at whose end the floor of the last rounds'
	                              * smallest RTTs stood >= 1.5 min_rtt and further above min_rtt
	                              * than those rounds' spread (cc_bbr.c, "A standing queue") */
	uint64_t rtt_min_ring[KONCE_BBR_QUEUE_ROUNDS];  /* each of the last rounds: its smallest RTT sample */
	uint64_t rtt_spread_ring[KONCE_BBR_QUEUE_ROUNDS]; /* ... and its largest less its smallest */
	uint64_t delivered;          /* the latest ack's delivered count */
	/* ack aggregation: bytes acked beyond bw x time in the current epoch, and the windowed max */
	uint64_t agg_start, agg_acked;
	uint64_t extra_acked[2];     /* max per 5-round window, the current one and the last */
	/* the latest cut of inflight_hi, undone if reordering explains its round's loss */
	uint64_t undo_hi;            /* inflight_hi before the cut (0: nothing to undo) */
	uint64_t undo_lost, undo_total; /* the cut round's lost bytes, net of spurious ones, and
				      * its delivered + lost */
	uint8_t undo_rounds;         /* rounds left in which a spurious loss can undo it */
	/* statistics */
	uint64_t undone_cuts;        /* cuts undone: their round's loss was reordering */
	uint64_t lossy_rounds;       /* rounds whose loss rate passed the threshold */
} konce_cc_bbr_state;

/* CUBIC's state (cc_cubic.c).  Windows in bytes; K in seconds. */
typedef struct konce_cc_cubic_state {
	double w_max;      /* the window before the last reduction (fast convergence may lower it) */
	double cwnd_prior; /* the window when ssthresh was last set */
	double w_est;      /* the Reno-friendly estimate */
	double k;          /* from the epoch's start to W_max (s) */
	double alpha;      /* alpha_cubic, 1 once w_est reaches cwnd_prior */
	double frac;       /* growth below one byte, carried to the next ack */
	uint64_t epoch;    /* start of the congestion avoidance epoch (us); 0: at the next ack */
	uint64_t last_ack; /* time of the previous ack (us): what an application-limited ack covers */
	/* HyStart++ (RFC 9406), the initial slow start only; RTTs in us, UINT64_MAX: none yet */
	uint8_t hs_phase;        /* enum konce_cubic_hs: slow start, Conservative Slow Start, off */
	uint8_t css_rounds;      /* rounds ended in CSS */
	uint32_t rtt_samples;    /* this round's RTT samples */
	uint64_t hs_round_start; /* an ack of a packet sent at or after this time ends the round */
	uint64_t last_round_min_rtt, cur_round_min_rtt, css_baseline_min_rtt;
	uint64_t css_acked;      /* acked bytes not yet a quarter's growth in CSS */
	/* undo of a spurious congestion event (RFC 9438 section 4.9): the state before the last one */
	uint64_t undo_lost;      /* bytes lost in it not yet shown spurious (0: nothing to undo) */
	uint64_t last_lost;      /* the latest on_lost's bytes: the loss that began the event */
	uint64_t prior_cwnd, prior_ssthresh, prior_epoch;
	double prior_w_max, prior_k, prior_w_est, prior_alpha, prior_cwnd_prior;
	uint8_t prior_hs_phase;
	uint64_t undone;         /* statistics: congestion events undone */
} konce_cc_cubic_state;

/* CUBIC's HyStart++ phases (cc_cubic.c). */
enum konce_cubic_hs { KONCE_CUBIC_HS_SS = 0, KONCE_CUBIC_HS_CSS, KONCE_CUBIC_HS_OFF };

struct konce_cc {
	const konce_cc_ops *ops;
	uint64_t mss;
	uint64_t cwnd;
	uint64_t ssthresh;
	uint64_t bytes_in_flight;
	bool in_recovery_period;
	uint64_t recovery_start;
	uint64_t flight_hi;   /* highest bytes_in_flight in the current round */
	uint64_t round_start; /* when the current round began */
	bool window_used;     /* the last round's peak used the window: growth allowed */
	/* statistics */
	uint64_t episodes;    /* congestion events: recovery periods begun (on_congestion calls) */
	uint64_t persistent;  /* persistent congestion declared */
	konce_cc_prr prr;     /* ops->prr only */
	union {
		struct {
			uint64_t acked; /* bytes acked toward the next mss of growth */
		} newreno;
		konce_cc_ledbat_state ledbat;
		konce_cc_bbr_state bbr;
		konce_cc_cubic_state cubic;
	} u;
};

extern const konce_cc_ops konce_cc_newreno;
extern const konce_cc_ops konce_cc_ledbat;
extern const konce_cc_ops konce_cc_bbr;
extern const konce_cc_ops konce_cc_cubic;
/* RFC 9438's curve, in segments and seconds: K = cbrt((w_max - cwnd_epoch) / C), 0 if cwnd_epoch
 * >= w_max; W_cubic(t) = C (t - K)^3 + w_max, with C = 0.4. */
double konce_cc_cubic_k(double w_max, double cwnd_epoch);
double konce_cc_cubic_w(double t, double k, double w_max);

/* PRR's steps (cc_prr.c), called by cc.c for controllers with ops->prr.  start: a recovery period
 * began (ssthresh already set), lost_bytes already out of bytes_in_flight; on_ack: an ack during the
 * period delivered delivered_data bytes; on_loss: a loss within the period; on_sent: a packet
 * went during the period. */
void konce_cc_prr_start(konce_cc *cc, uint64_t lost_bytes, uint64_t now);
void konce_cc_prr_on_ack(konce_cc *cc, uint64_t delivered_data);
void konce_cc_prr_on_loss(konce_cc *cc, uint64_t now);
void konce_cc_prr_on_sent(konce_cc *cc, uint64_t bytes);

/* The controller named name ("bbr", "newreno", "cubic"; the default class only), or NULL. */
const konce_cc_ops *konce_cc_by_name(const char *name);
/* The default class's controller when the configuration names none. */
#define KONCE_CC_DEFAULT konce_cc_bbr

/* LEDBAT's target queueing delay; LEDBAT++'s 60 ms (see cc_ledbat.c for why). */
#define KONCE_LEDBAT_TARGET_US 60000
/* The lowest target (cc_ledbat.c: a quarter of the minimum RTT, within these bounds). */
#define KONCE_LEDBAT_TARGET_MIN_US 5000

void konce_cc_init(konce_cc *cc, const konce_cc_ops *ops, uint64_t mss, uint64_t now);
/* The datagram size changed (path MTU discovery, pmtud.h): mss is the largest datagram the path
 * now carries, in the bytes on_sent counts.  Windows stay in bytes; what is counted in mss (the
 * floors, additive increase, BBR's allowance for delayed acks, the 3-mss loss minimum) follows, and
 * konce_cc_can_send is asked about a datagram of this size. */
void konce_cc_set_mss(konce_cc *cc, uint64_t mss);
void konce_cc_on_sent(konce_cc *cc, uint64_t bytes, uint64_t now);
void konce_cc_on_ack(konce_cc *cc, const konce_cc_ack *ack, uint64_t now);
/* lost_bytes of in-flight data (0: nothing in flight was lost, no reaction); largest_lost_sent:
 * send time of the newest lost in-flight packet.  Call before on_persistent_congestion. */
void konce_cc_on_loss(konce_cc *cc, uint64_t lost_bytes, uint64_t largest_lost_sent, uint64_t now);
void konce_cc_on_persistent_congestion(konce_cc *cc, uint64_t now);
/* bytes declared lost were only reordered: a controller that counts losses takes them back.
 * (bytes_in_flight is not touched: they left it when declared lost.) */
void konce_cc_on_spurious(konce_cc *cc, uint64_t bytes, uint64_t now);
/* In-flight bytes that leave the flight without saying anything of congestion: packets sent on a
 * path the session has since left (konce_conn_path_reset), declared lost later. */
void konce_cc_on_discard(konce_cc *cc, uint64_t bytes);
/* An RTT sample of this path taken at `at` before this controller began: the handshake's, or an
 * earlier channel's minimum (ep_msg.c).  A controller that keeps a windowed minimum RTT (BBR) starts
 * from it, so that a flow started into another flow's standing queue knows the path's empty RTT;
 * others ignore it. */
void konce_cc_seed_min_rtt(konce_cc *cc, uint64_t rtt_us, uint64_t at, uint64_t now);
/* The controller's windowed minimum RTT and when it was seen (0: it keeps none, or none yet). */
uint64_t konce_cc_min_rtt(const konce_cc *cc, uint64_t *at);

/* true if a packet of bytes fits: bytes_in_flight + bytes <= cwnd. */
bool konce_cc_can_send(const konce_cc *cc, uint64_t bytes);
static inline uint64_t konce_cc_cwnd(const konce_cc *cc) { return cc->cwnd; }
/* Bytes per second to pace at: cwnd / smoothed_rtt, times 2 in slow start (the window doubles each
 * round trip) and 5/4 otherwise (RFC 9002 section 7.7), so pacing never holds the window back. */
uint64_t konce_cc_pacing_rate(const konce_cc *cc, uint64_t smoothed_rtt_us);
/* RFC 9002 section 7.2: min(10 mss, max(14720, 2 mss)); and the floor 2 mss. */
uint64_t konce_cc_initial_window(uint64_t mss);
static inline uint64_t konce_cc_min_window(uint64_t mss) { return 2 * mss; }

#endif
