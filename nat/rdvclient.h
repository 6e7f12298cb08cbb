/* rdvclient.h - the peer side of rendezvous: registration, mapping discovery, introductions,
 * relayed payloads.  Sans-I/O, like the endpoint.
 *
 * The client registers with every configured rendezvous at once (so that all reflexive addresses
 * come from the same moment of the NAT) and again every refresh interval the rendezvous asks for,
 * which also keeps the NAT mappings toward them alive.  Each REGISTERED that answers a REGISTER
 * without an echo is echoed at once by a second REGISTER, which gives the rendezvous an RTT sample
 * for its start-time formula.  From the reflexive addresses the client classifies its own mapping
 * behaviour (candidates.h) and re-registers when that or an address changes.
 *
 * rdv[0] is the primary: introductions are asked of it and relaying goes through it.  The others
 * only reveal the mapping behaviour.  Only datagrams from a configured rendezvous address are
 * accepted.  If cfg->allow is set, introductions and relayed payloads from keys it rejects are
 * dropped (a node that refuses introductions from keys it does not know); a refused INTRO is
 * answered with INTRO_REFUSE, so that the rendezvous can tell the requester at once.  The
 * requester sees KONCE_RDVCLIENT_EV_INTRO_FAIL with reason KONCE_IFAIL_DECLINED, accepted only with
 * the id of one of the last 8 INTROs it got as the initiator.
 *
 * Timers: per rendezvous, a resend 1 s after an unanswered REGISTER and the refresh; per pending
 * introduction request, a resend every second up to 5 times.
 *
 * States, per rendezvous (all of them register together, so that their reflexive addresses
 * describe one moment of the NAT):
 *
 *   UNREGISTERED --timer (at start)--> WAITING: REGISTER sent (txid), resent every 1 s
 *   WAITING --REGISTERED with that txid--> REGISTERED (reflexive address, refresh interval);
 *           if it carried a stamp and our REGISTER no echo: a second REGISTER echoes it at once
 *           (the RTT sample), WAITING again for its answer
 *   REGISTERED --refresh interval (or the learned keepalive, konce_rdvclient_set_keepalive)--> WAITING
 *   any --reflexive address or NAT class changed--> event REFLEXIVE; a secondary's change also
 *           re-registers with the primary (to tell it what the others saw)
 *   any --konce_rdvclient_reregister() (the node's direct path was LOST)--> WAITING at once
 * konce_rdvclient_registered() is "the primary ever answered".  The NAT class is classified only when
 * every rendezvous answered the same round.
 *
 * Per introduction request (at most KONCE_RDVCLIENT_MAX_PENDING, one per peer):
 *
 *   (none) --konce_rdvclient_request_intro()--> ASKED: INTRO_REQUEST to the primary, resent every 1 s
 *   ASKED --INTRO for that peer--> (none), event INTRO (we are the initiator)
 *   ASKED --INTRO_FAIL with its txid--> (none), event INTRO_FAIL (reason)
 *   ASKED --5 tries unanswered--> (none), event INTRO_FAIL (reason 0: no answer)
 * Every INTRO (asked for by us or by the peer) and every RELAYED payload is taken only if allow
 * says so; a refused INTRO is answered with INTRO_REFUSE.  An INTRO_FAIL DECLINED counts only for
 * one of the last 8 INTROs we initiated.
 */
#ifndef KONCE_RDVCLIENT_H
#define KONCE_RDVCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/rdvwire.h"
#include "node/base/env.h"

enum { KONCE_RDVCLIENT_MAX_RDV = 4, KONCE_RDVCLIENT_MAX_HOST = 4, KONCE_RDVCLIENT_MAX_PENDING = 8 };

typedef struct konce_rdvclient konce_rdvclient;

typedef struct konce_rdvclient_cfg {
	const konce_env *env;            /* NULL = konce_env_default() */
	const uint8_t *key;              /* KONCE_WIRE_KEY bytes: our public key (copied) */
	const konce_addr *rdv;           /* 1..KONCE_RDVCLIENT_MAX_RDV rendezvous addresses (copied) */
	unsigned nrdv;
	const konce_addr *host;          /* 0..KONCE_RDVCLIENT_MAX_HOST host candidates (copied) */
	unsigned nhost;
	const konce_addr *mapped;        /* 0..2 port-mapped candidates from the I/O layer */
	unsigned nmapped;
	bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
	void *allow_ctx;
} konce_rdvclient_cfg;

enum konce_rdvclient_ev_type {
	KONCE_RDVCLIENT_EV_REFLEXIVE = 1, /* a reflexive address or the NAT class changed */
	KONCE_RDVCLIENT_EV_INTRO,         /* start punching to peer */
	KONCE_RDVCLIENT_EV_INTRO_FAIL,    /* reason: KONCE_IFAIL_*, or 0 = no answer */
	KONCE_RDVCLIENT_EV_RELAYED,       /* data[0, len) from peer, through the primary rendezvous */
};

typedef struct konce_rdvclient_event {
	enum konce_rdvclient_ev_type type;
	uint8_t peer[KONCE_WIRE_KEY];
	uint64_t intro_id;
	uint32_t delay_us;
	bool initiator;
	konce_natinfo peer_nat;
	unsigned ncand;
	konce_cand cand[KONCE_RDV_MAX_INTRO_CANDS];
	uint8_t secret[KONCE_INTRO_SECRET_BYTES]; /* INTRO: the probe key (konce_punch_intro); the
						   * caller wipes its copy once given to the punch core */
	unsigned reason;
	size_t len;
	uint8_t data[KONCE_RDV_MAX_RELAY];
} konce_rdvclient_event;

struct konce_rdvclient_counters {
	uint64_t registers, registered, intro_requests, intros, intro_fails, refused, declined, relay_tx,
		relay_rx, ignored, out_dropped, ev_dropped;
	uint64_t offers; /* INTRO_OFFERs: accepted unless refused (refused counts those too) */
};

/* 0, -EINVAL, -ENOMEM.  Registration starts at the first konce_rdvclient_timer(). */
int konce_rdvclient_new(konce_rdvclient **out, const konce_rdvclient_cfg *cfg, uint64_t now);
void konce_rdvclient_free(konce_rdvclient *c);
void konce_rdvclient_input(konce_rdvclient *c, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
/* Asks the primary rendezvous to introduce us to peer.  0, -ENOTCONN (not registered yet),
 * -ENOSPC (too many pending). */
int konce_rdvclient_request_intro(konce_rdvclient *c, const uint8_t peer[KONCE_WIRE_KEY], uint64_t now);
/* Sends an opaque payload to peer through the primary rendezvous.  0, -EMSGSIZE, -ENOTCONN,
 * -ENOBUFS. */
int konce_rdvclient_relay(konce_rdvclient *c, const uint8_t peer[KONCE_WIRE_KEY], const uint8_t *data, size_t len,
			  uint64_t now);
/* The port-mapped candidates changed (the I/O layer's lease came or went): registers again at
 * once if they differ.  0, -EINVAL (n > 2). */
int konce_rdvclient_set_mapped(konce_rdvclient *c, const konce_addr *mapped, unsigned n, uint64_t now);
/* The keepalive the NAT mapping needs (us; nat/lifetime.h), 0 = none known: registrations are
 * refreshed at that interval instead of the rendezvous's, but never more rarely than the larger of
 * the rendezvous's interval and KONCE_RDV_REFRESH_MAX_MS.  Takes effect from the next refresh. */
void konce_rdvclient_set_keepalive(konce_rdvclient *c, uint64_t keepalive_us);
/* x is a mapping our NAT made after the registrations (the filtering test's fresh socket, its
 * ECHO answer): with a sequential NAT it refines the step we register (konce_candidates_refine_all
 * over the newest 4 distinct samples told), and if that changes our NAT info, registers again at
 * once so that introductions carry it. */
void konce_rdvclient_set_fresh_mapping(konce_rdvclient *c, const konce_addr *x, uint64_t now);
/* Registers again with every rendezvous now (a direct path just died: the NAT may have forgotten
 * its mappings). */
void konce_rdvclient_reregister(konce_rdvclient *c, uint64_t now);

bool konce_rdvclient_poll(konce_rdvclient *c, uint8_t buf[KONCE_RDV_MAX_MSG], size_t *len, konce_addr *to);
bool konce_rdvclient_poll_event(konce_rdvclient *c, konce_rdvclient_event *ev);
uint64_t konce_rdvclient_next_timer(const konce_rdvclient *c);
void konce_rdvclient_timer(konce_rdvclient *c, uint64_t now);

/* True once the primary rendezvous has answered. */
bool konce_rdvclient_registered(const konce_rdvclient *c);
konce_natinfo konce_rdvclient_nat(const konce_rdvclient *c);
/* The reflexive address rendezvous i reported.  0 or -ENOENT. */
int konce_rdvclient_reflexive(const konce_rdvclient *c, unsigned i, konce_addr *addr);
const struct konce_rdvclient_counters *konce_rdvclient_counters(const konce_rdvclient *c);

#endif
