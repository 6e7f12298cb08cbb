/* conn.h - one session's reliability state: what arrived and when to ack it (recvtrack), what is
 * in flight and what was lost (recovery, rtt), the path's congestion controller (cc) and pacer,
 * the peer's flow-control credit, reassembly of incoming messages under a memory budget (frag),
 * and the outgoing messages (msgq).  Sans-I/O: the endpoint (ep_msg.c) seals what
 * konce_conn_build() writes into DATA packets, hands every authenticated payload to
 * konce_conn_on_packet(), and turns the callbacks into events.
 *
 * Presence and channel.  A konce_conn starts as a *presence*: a 16-slot sent-packet ring and at
 * most one ack-eliciting message packet in flight, so short single-packet messages go one per
 * round trip at the cost of a few hundred bytes per peer.  The first message that needs more than
 * one packet opens the *channel*: the ring grows to cfg.ring packets and the congestion window
 * and flow-control credit govern how much is in flight.  (Reassembly buffers exist only while a
 * message is being received, and are charged to the budget.)
 *
 *   PRESENCE --konce_conn_send() of a multi-fragment message (konce_recovery_resize)--> CHANNEL
 *   CHANNEL --konce_conn_on_packet(): nothing queued, nothing outstanding (resize back)--> PRESENCE
 *   PRESENCE or CHANNEL --konce_conn_keep_channel()--> CHANNEL, kept (a session whose short
 *       messages must not wait a round trip each, e.g. a consensus group's: node/core/ncgroup.c)
 *   PRESENCE or CHANNEL, not kept, konce_conn_idle() --the endpoint frees the conn--> none (the
 *       session is a presence without a conn, ep_msg.c; the next conn continues its ids through
 *       konce_conn_ids() and konce_conn_resume())
 *
 * Packets: every packet konce_conn_build() writes is recorded in recovery (except ACK-only ones,
 * which are neither ack-eliciting nor in flight); its frame references are (wire id, fragment
 * index, FRAGMENT) or (lowest pn the ack covered, 0, ACK).  A run of KONCE_CONN_ACK_ONLY_RUN
 * ACK-only packets gets a PING, so the peer acks one and we can forget old ranges.
 *
 * Work per packet is bounded: only its first ACK frame is acted on (each walks at most the
 * sent-packet window, cfg.ring slots), and the fragments it carries are at most one packet's worth.
 *
 * Timers (konce_conn_next_timer): recovery's loss/probe timer, the ack delay, the pacer when data
 * waits (for a quantum of the rate: konce_conn_pace_quantum), the keepalive, and the message
 * timeout (no ack progress for cfg.msg_timeout_us while messages are outstanding:
 * konce_conn_tick() says the peer is gone).
 *
 * Invariants:
 *   1. cc.bytes_in_flight == rec.bytes_in_flight after every call;
 *   2. a fragment acked through any packet is never put in a packet again (msgq.h invariant 1);
 *   3. reasm.used <= cfg.budget; a completed incoming message stays charged until
 *      konce_conn_release();
 *   4. each outgoing message gets exactly one of the delivered or refused callbacks, or is still
 *      in c->q (the endpoint fails the rest itself when the session ends).
 */
#ifndef KONCE_CONN_H
#define KONCE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/transport/cc.h"
#include "node/base/env.h"
#include "node/transport/frag.h"
#include "node/transport/gather.h"
#include "node/transport/msgq.h"
#include "node/transport/pacer.h"
#include "node/transport/recovery.h"
#include "node/transport/recvtrack.h"
#include "node/transport/replay.h"

enum {
	KONCE_CONN_PRESENCE_RING = 16,
	KONCE_CONN_CHANNEL_RING = 2048,
	KONCE_CONN_ACK_ONLY_RUN = 8,
	KONCE_CONN_INITIAL_CREDIT = 256 * 1024, /* assumed before the peer's first ack */
	KONCE_CONN_MSS = 1200,                  /* KONCE_PMTU_BASE: the datagram size until
						 * konce_conn_set_mss says the path carries more */
	KONCE_CONN_PACER_BURST = 4 * 1200,     /* at least; 2 ms at the pacing rate, up to: */
	KONCE_CONN_PACER_BURST_MAX = 256 * 1024, /* 2 ms up to ~1 Gbit/s (konce_conn_pacer_burst) */
	KONCE_CONN_PACE_QUANTUM_US = 1000,     /* the sender wakes for this much of the rate */
	KONCE_CONN_PACE_QUANTUM_MIN = 4,       /* datagrams; a smaller quantum is one datagram */
};

typedef struct konce_conn_cfg {
	uint64_t budget;         /* reassembly memory, bytes */
	uint64_t max_message;    /* largest incoming message */
	size_t ring;             /* sent-packet ring of an open channel */
	uint64_t keepalive_us;   /* a PING after this without one, up to a slack step early (slack.h) */
	uint64_t msg_timeout_us;
	uint64_t reasm_idle_us;  /* drop an incoming message that got no byte for this long */
	uint64_t overhead;       /* bytes a DATA packet adds around its payload (header + tag) */
	const konce_cc_ops *cc;  /* the default class's controller; NULL = KONCE_CC_DEFAULT */
	konce_reasm_pool *pool;  /* reassembly memory shared with other conns; NULL = none */
	uint64_t send_max;       /* bytes the send queue may hold (konce_msgq_cost); 0 = no limit */
	konce_msgq_pool *send_pool; /* send-queue memory shared with other conns; NULL = none */
} konce_conn_cfg;

typedef struct konce_conn_ops {
	void (*delivered)(void *ctx, const konce_smsg *m);              /* then retired */
	void (*refused)(void *ctx, const konce_smsg *m, uint8_t reason); /* then retired */
	void (*message)(void *ctx, konce_reasm_msg *m); /* caller's until konce_conn_release() */
	void *ctx;
} konce_conn_ops;

typedef struct konce_conn {
	const konce_env *env;
	konce_conn_cfg cfg;
	konce_conn_ops ops;
	konce_recvtrack rt;
	konce_recovery rec;
	konce_cc cc;
	konce_pacer pacer;
	konce_reasm ra;
	konce_msgq q;
	bool channel;
	bool channel_kept; /* konce_conn_keep_channel(): never goes back to a presence */
	bool wanted;             /* keep the session (and the NAT mapping) alive while idle */
	bool hold_fragments;     /* set by the caller: leave packets with FRAGMENT frames unread */
	bool defer_ack;          /* set by the caller while it takes in a burst of packets: an ACK that
				  * would leave alone waits for the next konce_conn_build() without it
				  * (konce_conn_next_timer() says now), so one ACK covers the burst */
	uint64_t credit, credit_largest;
	uint64_t largest_pn_sent;
	unsigned ack_only_run;
	uint64_t path_since;     /* last konce_conn_path_reset (0: never) */
	uint64_t seed_rtt, seed_at; /* the path's RTT from outside the controller, and when it was seen
				     * (konce_conn_seed_rtt; 0: none): a controller the conn starts
				     * again (a class switch) starts from it too */
	uint64_t big_lost, big_acked; /* packets over KONCE_PMTU_BASE declared lost / acked since the
				       * endpoint last took them (path MTU black holes, pmtud.h) */
	unsigned probes_due;
	bool ping_due;
	uint64_t last_eliciting_tx, progress_at;
	uint64_t msg_us;         /* set by the endpoint: the last message queued, message frame in, or
				  * outcome (ep_msg.c shrinks an idle conn some time after it) */
	uint64_t refuse[8];      /* wire ids to refuse, with reasons in refuse_why */
	uint8_t refuse_why[8];
	unsigned nrefuse;
	uint64_t refused[16];    /* recent refusals, so a repeat names the first reason */
	uint8_t refused_why[16];
	unsigned nrefused;
	konce_replay rx_window;  /* the endpoint's: storage for its session's wide anti-replay window
				  * while the conn exists (konce_session_widen, ep_msg.c) */
	/* statistics */
	uint64_t retransmitted, probes, acks_tx, msgs_rx;
	uint64_t acks_ignored;   /* ACK frames after the first in one packet (bounded work per packet) */
} konce_conn;

int konce_conn_new(konce_conn **out, const konce_env *env, const konce_conn_cfg *cfg, const konce_conn_ops *ops,
		   uint64_t now);
/* Frees everything, messages included, without callbacks (fail them first). */
void konce_conn_free(konce_conn *c);

/* Opens the channel now and keeps it open for the conn's life.  0, or -ENOMEM. */
int konce_conn_keep_channel(konce_conn *c);
/* Queues an outgoing message (copied).  klass 0 = default, 1 = background.  0, -ENOBUFS (the
 * send queue or the shared send pool is full; nothing queued) or -ENOMEM. */
int konce_conn_send(konce_conn *c, const uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now);
/* konce_conn_send without the copy: msg (allocated through the conn's env) is the queue's on 0
 * (konce_msgq_push_owned), still the caller's on a negative return. */
int konce_conn_send_owned(konce_conn *c, uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now);

/* One authenticated payload with packet number pn.  The frames were validated (frame.c).  While
 * c->hold_fragments is set, a payload with FRAGMENT frames is not recorded as received (so never
 * acknowledged) and its fragments are not read; its acks and refusals still count.  Returns false
 * if it held the payload back that way. */
bool konce_conn_on_packet(konce_conn *c, uint64_t pn, const uint8_t *p, size_t len, uint64_t now);
/* A payload's frames other than ACK and PADDING make it ack-eliciting. */
bool konce_conn_eliciting(const uint8_t *p, size_t len);

/* Writes the payload of packet pn into out[0, cap) if anything is due; *sp describes it for
 * konce_conn_on_sent().  Returns the payload length, 0 if nothing is due. */
size_t konce_conn_build(konce_conn *c, uint8_t *out, size_t cap, uint64_t pn, uint64_t now, konce_sent_packet *sp);
/* The same, with each fragment's data left unwritten in out and recorded in g instead, for
 * konce_session_seal_gather() to read from the message (gather.h).  The holes' bytes are the
 * queue's until the packet is sealed or unbuilt; out's bytes there are undefined. */
size_t konce_conn_build_gather(konce_conn *c, uint8_t *out, size_t cap, uint64_t pn, uint64_t now,
			       konce_sent_packet *sp, konce_gather *g);
/* The packet built for sp could not be sent: its fragments go back to the queue. */
void konce_conn_unbuild(konce_conn *c, const konce_sent_packet *sp);
/* The largest datagram the path now carries (the PLPMTU, pmtud.h; at least KONCE_CONN_MSS): the
 * controller and the pacer count it as one packet (konce_cc_set_mss). */
void konce_conn_set_mss(konce_conn *c, size_t dgram);
/* The packet built for sp left as a datagram of `bytes`. */
void konce_conn_on_sent(konce_conn *c, konce_sent_packet *sp, size_t bytes, uint64_t now);
/* Packet number pn left outside the conn (a path MTU probe, pmtud.h): not recorded, so its loss
 * is nobody's congestion signal, but an ack of it is no ack of a packet never sent. */
void konce_conn_on_probe_sent(konce_conn *c, uint64_t pn);

/* Idle enough to free (ep_msg.c shrinks the session back to a presence): not a kept channel,
 * nothing queued or in flight, no ack owed, no ping, probe or refusal due, and the reassembler
 * settled (konce_reasm_settled: it holds nothing and has refused nothing).  All such a conn knows
 * that a successor needs is konce_conn_ids(). */
bool konce_conn_idle(const konce_conn *c);
/* The next outgoing wire id, and the incoming one below which every message is finished. */
void konce_conn_ids(const konce_conn *c, uint64_t *tx_next, uint64_t *rx_base);
/* On a fresh conn, before anything else: it continues an idle predecessor's ids, so that a message
 * the predecessor delivered is a duplicate here too (exactly once across a shrink). */
void konce_conn_resume(konce_conn *c, uint64_t tx_next, uint64_t rx_base);

/* Loss and probe timers, keepalive.  Returns false if the peer stopped answering (message timeout). */
bool konce_conn_tick(konce_conn *c, uint64_t now);
/* The session's datagrams now take another path (the traversal layer moved a virtual address
 * between direct and relayed): congestion control and the RTT estimate start afresh (RFC 9000
 * section 9.4), and if anything is outstanding two probes go at once. */
void konce_conn_path_reset(konce_conn *c, uint64_t now);
/* The path's RTT taken at `at`, from outside the conn's controller: the one the session keeps (its
 * handshake's, an earlier channel's minimum; ep_msg.c chooses, the conn keeps the latest given).
 * The controller takes it (konce_cc_seed_min_rtt), and so does the one a class switch starts,
 * until a path reset forgets it. */
void konce_conn_seed_rtt(konce_conn *c, uint64_t rtt_us, uint64_t at, uint64_t now);
uint64_t konce_conn_next_timer(const konce_conn *c, uint64_t now);
/* How many bytes of pacer tokens the sender waits for before it wakes to send (conn.c). */
/* The pacer's burst: 2 ms at rate (bytes/s) plus the host's recent lateness, at least 4 datagrams of
 * mss, at most KONCE_CONN_PACER_BURST_MAX. */
uint64_t konce_conn_pacer_burst(uint64_t rate, uint64_t late_us, uint64_t mss);
uint64_t konce_conn_pace_quantum(const konce_conn *c);
/* Gives back a message handed out by ops->message. */
void konce_conn_release(konce_conn *c, konce_reasm_msg *m);
/* When the outcome of message api_id is likely to be known (UINT64_MAX: not queued here). */
uint64_t konce_conn_eta(const konce_conn *c, uint64_t api_id, uint64_t now);
/* Acknowledged bytes and length of a pending message.  0, or -ENOENT if api_id is not pending. */
int konce_conn_progress(const konce_conn *c, uint64_t api_id, uint64_t *acked, uint64_t *total);

#endif
