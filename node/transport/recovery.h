/* recovery.h - the sender's record of packets in flight, and loss detection (RFC 9002 section 6).
 *
 * Each sent packet is recorded with its send time, size and up to KONCE_RECOVERY_MAX_REFS opaque
 * frame references: a reference names data the message layer owns (for instance message id and
 * fragment index), never the packet's bytes.  When a packet is acked its references are reported
 * through ops->on_acked; when it is declared lost, through ops->on_lost, and the message layer
 * queues that data again (in a new packet with a new number).  A packet leaves the store when it
 * is acked or declared lost, whichever comes first.
 *
 * The store is a ring of `capacity` slots indexed by pn % capacity, allocated through konce_env or
 * handed in by the caller.  A packet can be sent only while fewer than `capacity` packet numbers
 * separate it from the oldest outstanding packet (konce_recovery_can_send): that is the sender's
 * bound on memory and on the range it must look through for any ack.
 *
 * Loss (konce_recovery_on_ack, konce_recovery_on_timeout): an outstanding packet older than the
 * largest acknowledged packet is lost when
 *   - KONCE_LOSS_PACKET_THRESHOLD (3) newer packets have been acknowledged (largest_acked >= pn+3), or
 *   - it was sent more than 9/8 max(smoothed, latest RTT) (at least G) before now
 * (both thresholds until reordering is seen, see below).
 * Otherwise a timer fires when the time threshold would be reached.  The packet threshold is what
 * gives the rule "the most recent missing packets wait one more ack": the receiver acks
 * every second packet, so the ack that first reveals a hole at pn acknowledges at most pn + 2, and
 * pn is not lost until a later ack has covered pn + 3 -- a reordered pn has that long to arrive.
 * Reordering (RFC 9002 section 6.1 allows adapting both thresholds): the last
 * KONCE_RECOVERY_LOST_MEMORY packets declared lost are remembered.  If an ack later covers one, the
 * loss was spurious -- the packet was only reordered: its references are reported on_acked after
 * all (so the message layer drops a retransmission it has not sent yet), and the thresholds grow
 * to what would have tolerated that reordering: the packet threshold to the distance observed, the
 * time threshold by 1/4 RTT (at most 2 RTT) if the packet was declared lost by time.  A distance
 * beyond KONCE_LOSS_PACKET_THRESHOLD_MAX (jitter that reorders dozens of packets on a fast path)
 * gives the packet threshold up: as RACK does (RFC 8985), time alone decides from then on, and the
 * time threshold keeps adapting.  They never shrink back within a connection.
 * Probe timeout: if no ack arrives for PTO = SRTT + max(G, 4 RTTVAR) + max_ack_delay, doubled
 * after each unanswered probe (up to 2^KONCE_PTO_MAX_BACKOFF), the caller sends one or two
 * ack-eliciting probes: new data, or else the data of the oldest outstanding packets that is still
 * needed (konce_recovery_probe_refs), or else a PING.  A probe declares nothing lost; the ack it
 * draws does that.
 *
 * Delivery rate (konce_loss_result.rs): each packet records, when sent, how many bytes had been
 * delivered (acked) and when; the newest packet an ack covers yields bytes delivered since then
 * over max(send interval, ack interval).  A model-based controller (cc_bbr.c) builds its bandwidth
 * estimate from these samples.
 *
 * Packets the store does not record (the caller's ACK-only packets) still take packet numbers, and
 * the peer acknowledges them: konce_recovery_on_unrecorded_ack() moves largest_acked past
 * largest_sent, as RFC 9002 does with every acknowledged packet, so the packet threshold declares
 * lost what the peer skipped before them.  Without it a sender whose recorded packets were all lost
 * (an outage) and that sends only ACK-only packets afterwards would never learn of the loss: the
 * ring would stay full and nothing ack-eliciting could go out again.  konce_recovery_evict() is
 * the last resort when the caller must send an ack-eliciting packet (a probe, a keepalive) and
 * the ring is full: the oldest outstanding packets are declared lost to make room.
 *
 * Invariants:
 *   1. every occupied slot s holds s.pn with oldest <= s.pn <= largest_sent and s.pn % cap = slot;
 *   2. a packet is reported on_acked at most once and on_lost at most once, and an acked packet
 *      is never reported lost (a lost one may later be reported acked, if the loss was spurious):
 *      nothing acknowledged is ever sent again by this layer (the message layer keeps the same
 *      rule for data it put in two packets, e.g. a probe and its original);
 *   3. bytes_in_flight = sum of bytes of occupied in-flight slots;
 *   4. konce_recovery_on_ack refuses acks for packets never sent (pn > largest_sent) with -EPROTO,
 *      before any change; acks of unrecorded packets above largest_sent come only through
 *      konce_recovery_on_unrecorded_ack, whose caller knows they were sent.
 */
#ifndef KONCE_RECOVERY_H
#define KONCE_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/transport/ackframe.h"
#include "node/base/env.h"
#include "node/transport/rtt.h"

#define KONCE_RECOVERY_NEVER UINT64_MAX
/* packet_threshold once reordering went beyond KONCE_LOSS_PACKET_THRESHOLD_MAX: never reached */
#define KONCE_RECOVERY_NO_PACKET_THRESHOLD (UINT64_MAX / 4)
enum { KONCE_RECOVERY_MAX_REFS = 4, KONCE_RECOVERY_LOST_MEMORY = 64 };

typedef struct konce_frame_ref {
	uint64_t id;    /* e.g. message id */
	uint32_t index; /* e.g. first fragment unit */
	uint16_t kind;  /* the message layer's tag for the kind of frame */
	uint16_t count; /* e.g. fragment units from index on */
} konce_frame_ref;

typedef struct konce_sent_packet {
	uint64_t pn; /* 0: free slot */
	uint64_t time_sent;
	uint32_t bytes;
	bool ack_eliciting;
	bool in_flight; /* counts toward bytes_in_flight and congestion control */
	uint8_t nrefs;
	konce_frame_ref refs[KONCE_RECOVERY_MAX_REFS];
	/* delivery-rate sampling, set by konce_recovery_on_sent() (the caller's values are ignored) */
	bool app_limited;         /* sent while the sender had less to send than the window allowed */
	uint64_t delivered;       /* r->delivered when it was sent */
	uint64_t delivered_time;  /* r->delivered_time when it was sent */
	uint64_t first_sent_time; /* r->first_sent_time when it was sent */
} konce_sent_packet;

/* A packet declared lost, kept to recognise a spurious loss. */
typedef struct konce_lost_packet {
	uint64_t pn;            /* 0: empty */
	uint64_t largest_acked; /* when it was declared lost */
	bool by_time;           /* declared by the time threshold, not the packet threshold */
	uint32_t bytes;         /* in-flight bytes (0 if it was not in flight) */
	uint8_t nrefs;
	konce_frame_ref refs[KONCE_RECOVERY_MAX_REFS];
} konce_lost_packet;

typedef struct konce_recovery_ops {
	void (*on_acked)(void *ctx, const konce_frame_ref *ref);
	void (*on_lost)(void *ctx, const konce_frame_ref *ref);
	void *ctx;
} konce_recovery_ops;

/* A delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation): the bytes delivered
 * between sending the newest packet this ack covers and its ack, over the longer of the send and
 * the ack intervals (so neither a burst of sends nor compressed acks inflates it). */
typedef struct konce_rate_sample {
	uint64_t rate;            /* bytes per second; 0 = no sample from this ack */
	uint64_t delivered;       /* bytes delivered over the interval */
	uint64_t interval_us;
	uint64_t prior_delivered; /* r->delivered when that packet was sent: round trips count on it */
	bool app_limited;         /* the sender was application-limited: the rate is a lower bound */
} konce_rate_sample;

/* What one ack or timeout did; the caller feeds it to congestion control (cc.h). */
typedef struct konce_loss_result {
	size_t nacked;                  /* packets newly acked */
	uint64_t acked_bytes;           /* in-flight bytes newly acked */
	uint64_t largest_acked_sent;    /* send time of the newest newly acked packet */
	bool rtt_sample;                /* rtt.latest is a new sample */
	size_t nlost;                   /* packets declared lost */
	uint64_t lost_bytes;            /* in-flight bytes declared lost */
	uint64_t largest_lost_sent;     /* send time of the newest lost packet */
	bool persistent_congestion;     /* RFC 9002 section 7.6 */
	size_t nlost_big, nacked_big;   /* of those, packets larger than big_bytes (path MTU black
					 * hole detection, pmtud.h) */
	size_t nspurious;               /* earlier losses this ack showed to be reordering */
	uint64_t spurious_bytes;        /* their in-flight bytes */
	konce_rate_sample rs;           /* acks only */
} konce_loss_result;

typedef enum konce_recovery_timeout {
	KONCE_RECOVERY_TIMER_NONE = 0, /* nothing was due */
	KONCE_RECOVERY_TIMER_LOSS,     /* packets declared lost: see the result */
	KONCE_RECOVERY_TIMER_PROBE,    /* send one or two ack-eliciting probe packets now */
} konce_recovery_timeout;

typedef struct konce_recovery {
	konce_sent_packet *slots;
	size_t cap;
	const konce_env *env; /* NULL if the caller owns slots */
	konce_recovery_ops ops;
	konce_rtt rtt;
	uint64_t oldest;             /* no outstanding packet below this */
	uint64_t largest_sent;
	uint64_t largest_acked;      /* 0 = none; may exceed largest_sent (unrecorded packets) */
	uint64_t bytes_in_flight;
	size_t eliciting_in_flight;  /* outstanding ack-eliciting packets */
	uint64_t last_eliciting_sent;
	uint64_t loss_time;          /* earliest time-threshold loss, or NEVER */
	uint64_t first_rtt_sample;   /* time of the first RTT sample, 0 = none yet */
	unsigned pto_count;
	uint64_t packet_threshold;   /* KONCE_LOSS_PACKET_THRESHOLD, raised by spurious losses */
	uint64_t time_num;           /* time threshold = time_num / KONCE_LOSS_TIME_DEN RTT */
	uint32_t big_bytes;          /* the caller's "large packet" size for nlost_big; 0 = none */
	konce_lost_packet lost[KONCE_RECOVERY_LOST_MEMORY]; /* ring of recent losses */
	size_t nlost_total;
	/* delivery-rate sampling */
	uint64_t delivered;          /* in-flight bytes acked so far */
	uint64_t delivered_time;     /* when delivered last grew */
	uint64_t first_sent_time;    /* send time of the packet that delivered_time's ack covered */
	uint64_t app_limited_until;  /* 0, or the delivered count that ends an app-limited phase */
	/* statistics */
	uint64_t spurious_total;     /* losses later shown to be reordering */
	uint64_t pto_total;          /* probe timeouts */
} konce_recovery;

/* Allocates capacity slots through env.  Returns 0 or -ENOMEM / -EINVAL (capacity 0). */
int konce_recovery_init(konce_recovery *r, const konce_env *env, size_t capacity,
			const konce_recovery_ops *ops, uint64_t peer_max_ack_delay_us);
/* The same over a caller-provided array of capacity slots (zeroed here; freed by the caller). */
void konce_recovery_init_with(konce_recovery *r, konce_sent_packet *slots, size_t capacity,
			      const konce_recovery_ops *ops, uint64_t peer_max_ack_delay_us);
/* Moves an env-allocated store to a ring of another size (a presence opening a channel, or a
 * channel closing); every record is kept.  0, -EINVAL (not env-allocated, or the outstanding
 * packets would not fit), -ENOMEM (nothing changed). */
int konce_recovery_resize(konce_recovery *r, size_t capacity);
/* Frees env-allocated slots; references still outstanding are dropped unreported. */
void konce_recovery_free(konce_recovery *r);

/* true if packet number pn (> every number sent before) has a free slot. */
bool konce_recovery_can_send(const konce_recovery *r, uint64_t pn);
/* Records a sent packet (p->pn > largest_sent, 0 < nrefs <= MAX_REFS).  Returns 0, -ENOBUFS if
 * its slot is still taken, -EINVAL for a bad packet. */
int konce_recovery_on_sent(konce_recovery *r, const konce_sent_packet *p);

/* Processes a decoded ACK frame.  Returns 0 or -EPROTO (acks a packet never sent). */
int konce_recovery_on_ack(konce_recovery *r, const konce_ack *ack, uint64_t now, konce_loss_result *res);

/* The peer acknowledged packet numbers up to `largest` (> every recorded packet it acked) that the
 * store never recorded; the caller knows they were sent.  Moves largest_acked, declares lost what
 * the thresholds now say is lost, and resets the probe backoff (the peer answers). */
void konce_recovery_on_unrecorded_ack(konce_recovery *r, uint64_t largest, uint64_t now, konce_loss_result *res);

/* Declares the oldest outstanding packets lost until packet number pn (> largest_sent) has a slot.
 * For a probe or keepalive that must go out while the ring is full.  An evicted packet is not
 * remembered for spurious-loss detection (a late ack of it is ignored; its data is resent). */
void konce_recovery_evict(konce_recovery *r, uint64_t pn, konce_loss_result *res);

/* The packets now travel another path (RFC 9000 section 9.4): the RTT estimate starts afresh, the
 * probe backoff of the old path ends, and losses of packets sent before this are not counted as
 * persistent congestion.  Outstanding packets are kept. */
void konce_recovery_path_reset(konce_recovery *r);

/* The sender has less to send than its window allows: packets sent from now until what is in
 * flight has been delivered carry app_limited, and their rate samples say so. */
void konce_recovery_on_app_limited(konce_recovery *r);

/* When konce_recovery_on_timeout() must be called next (NEVER if no timer is armed). */
uint64_t konce_recovery_timer(const konce_recovery *r);
konce_recovery_timeout konce_recovery_on_timeout(konce_recovery *r, uint64_t now, konce_loss_result *res);

/* Data for a probe: references from the outstanding packets, oldest first, for which needed()
 * (if not NULL) says yes -- the message layer's check that the data was not acked through another
 * packet.  Returns how many were copied to refs[0, max); 0 means send a PING instead. */
size_t konce_recovery_probe_refs(const konce_recovery *r, konce_frame_ref *refs, size_t max,
				 bool (*needed)(void *ctx, const konce_frame_ref *ref), void *ctx);

#endif
