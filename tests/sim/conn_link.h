/* conn_link.h - bulk flows of bare konce_conns (node/transport/conn.h) over the simulator, for the tests of
 * congestion control and loss recovery (tests/sim/test_cc_*.c).
 *
 * No handshake and no crypto: a datagram is the packet number (8 bytes) and konce_conn_build()'s
 * payload, padded by the endpoint's overhead (KONCE_WIRE_MAX_DATAGRAM - KONCE_WIRE_MAX_PAYLOAD) so
 * that it occupies the link as a sealed DATA packet would.  Datagrams are up to cfg.dgram bytes
 * (a path MTU, told to both conns with konce_conn_set_mss as the endpoint does).  What is measured is what the sender's
 * recovery, congestion controller and pacer make of the path, with nothing else in the way.
 *
 * Topology: every flow has its own sender host (10.0.0.i) and a port on one receiver host
 * (192.0.2.1).  The receiver's downlink is the shared bottleneck (rate, drop-tail queue); each
 * sender's link carries the forward delay, the reverse link the return delay.  Random loss is
 * drawn here, from the simulator's seeded stream, for every datagram a sender sends: so the test
 * knows which lost datagrams were ack-eliciting (recorded by recovery) and which were ACK-only.
 * The return path's loss (ack_loss), as netsim's loss applies to each direction, is the link's.
 *
 *     10.0.0.1 --delay, loss--\
 *                              >-- [ downlink: rate, queue ] -- 192.0.2.1 :7001, :7002
 *     10.0.0.2 --delay, loss--/
 *
 * Each flow's application keeps `depth` messages of `msg` bytes queued (one more as each is
 * delivered), so the sender is never application-limited.  clink_sample() is called every
 * sample_us and records the sender's window, pacing rate and delivered bytes.
 */
#ifndef KONCE_CONN_LINK_H
#define KONCE_CONN_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "node/transport/conn.h"
#include "tests/sim/sim.h"

enum { CLINK_MAX_FLOWS = 4, CLINK_MAX_PTO = 16, CLINK_SEEN = 32 };

/* One probe timeout of a sender (its rec.pto_total grew while the sender handled an event). */
typedef struct clink_pto {
	uint64_t at;          /* when it fired */
	uint64_t last_new_tx; /* the sender's last new fragment before it */
	uint64_t last_ack_rx; /* the last datagram the sender received before it */
	unsigned msgs;        /* messages the sender held, not yet acked in full */
	uint64_t undeclared;  /* datagrams the path had taken (random loss, the bottleneck queue's
			       * drops) that recovery had not yet declared lost: 0 = a spurious probe */
} clink_pto;

typedef struct clink_flow {
	struct clink *l;
	sim_host *h;          /* the sender's host */
	konce_conn *tx, *rx;  /* sender's conn, receiver's conn */
	uint16_t port;        /* receiver port */
	uint64_t pn_tx, pn_rx;
	uint8_t klass;
	uint64_t start;       /* the application starts sending at this time */
	bool started;
	unsigned queued;
	uint64_t rx_bytes;    /* message bytes handed to the receiver's application */
	uint64_t failed;      /* message timeouts */
	uint64_t dropped_eliciting, dropped_other; /* datagrams the random loss took */
	/* the sender's window over time: every sample_us after warm */
	uint64_t nsamples, sum_cwnd, sum_rate, min_cwnd, max_cwnd;
	uint64_t rx_at_warm, rx_at_stop;
	/* probe timeouts against the transfer: a fragment is new the first time its units go out */
	struct { uint64_t id, end; } seen[CLINK_SEEN]; /* highest unit sent, per recent message id */
	unsigned nseen;
	uint64_t last_new_tx, last_ack_rx;
	clink_pto pto[CLINK_MAX_PTO];
	unsigned npto;
} clink_flow;

typedef struct clink_cfg {
	uint64_t rate;        /* bottleneck bytes/s */
	size_t queue;         /* bottleneck queue bytes */
	uint64_t owd_us;      /* one-way delay, each direction */
	uint64_t jitter_us;
	bool jitter_normal;   /* jitter_us is a normal sigma (cut at 3 sigma), as netsim's; else uniform */
	double loss;          /* random loss on the forward path */
	double ack_loss;      /* random loss on the return path (acks), drawn by the simulator */
	size_t msg, depth;    /* the application's messages */
	uint64_t sample_us;
	uint64_t warm;        /* samples and goodput count from this time on */
	uint64_t stop;        /* the applications queue nothing new from this time on (0 = never) */
	const konce_cc_ops *cc; /* the foreground controller; NULL = the conn's default */
	size_t dgram;         /* datagram size both sides send (as a path MTU would allow);
			       * 0 = KONCE_PMTU_BASE */
	bool trace;           /* print one line per sample_us * 10 to stderr */
	uint64_t tx_tick_us;  /* the senders' timers fire only on multiples of this, as a loop whose
			       * clock moves in jiffies does (libevent's CLOCK_MONOTONIC_COARSE: 4 ms at
			       * HZ=250); datagrams still wake them at once.  0 = exact */
} clink_cfg;

typedef struct clink {
	sim *s;
	clink_cfg cfg;
	sim_host *rh;         /* the receiver */
	uint64_t qdrop_at_warm; /* the bottleneck queue's drops before warm (slow start's overshoot) */
	clink_flow f[CLINK_MAX_FLOWS];
	int nf;
} clink;

/* A link without flows.  0 or negative errno. */
int clink_init(clink *l, sim *s, const clink_cfg *cfg);
/* Adds a flow whose application starts at `start`.  0 or negative errno. */
int clink_add_flow(clink *l, uint8_t klass, uint64_t start);
void clink_free(clink *l);
/* A link with one flow of class klass from time 0, run until `until`.  0 or negative errno. */
int clink_run_one(clink *l, sim *s, const clink_cfg *cfg, uint8_t klass, uint64_t until);
/* Goodput of flow i between warm and stop (or now, if earlier or no stop), bytes/s. */
double clink_goodput(const clink *l, int i);
/* Flow i's mean congestion window (bytes) and mean pacing rate (bytes/s) over its samples; 0 with
 * none. */
double clink_mean_cwnd(const clink *l, int i);
double clink_mean_rate(const clink *l, int i);
/* The bottleneck queue's drops since warm. */
uint64_t clink_queue_after_warm(const clink *l);
/* Flow i's probe timeouts after which it still sent new data (mid-transfer, as opposed to a probe
 * for the tail of the transfer, which only a probe can find: RFC 9002 section 6.2). */
unsigned clink_pto_mid(const clink *l, int i);
/* Flow i's probe timeouts that fired with no loss left to find (the bottleneck's drops count for
 * every flow: exact with one flow). */
unsigned clink_pto_spurious(const clink *l, int i);

#endif
