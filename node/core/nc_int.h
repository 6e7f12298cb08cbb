/* nc_int.h - the node core's private state, shared by nodecore.c, ncpeer.c, ncpending.c, ncsend.c
 * and ncknown.c.  The state machines are drawn once, in nodecore.h. */
#ifndef KONCE_NC_INT_H
#define KONCE_NC_INT_H

#include <stdarg.h>

#include "node/core/inq.h"
#include "node/core/nodecore.h"

struct ncpending {
	konce_ncpeer *peer;
	uint8_t pk[KONCE_KEY_BYTES];
	uint16_t klass;
	int request;
	uint64_t nonce;
	uint64_t sent_us;
	uint32_t reply_lifetime_ms;
	konce_outcome_fn fn;
	void *ctx;
	uint64_t deadline;   /* 0 = none (M3: then heap_ix is UINT32_MAX) */
	uint32_t heap_ix;
	size_t len;
	uint8_t *data;       /* the framed message until handed over; the reply once REPLIED */
	uint64_t msg_id;     /* the endpoint's id once handed over (konce_ep_msg_send), else 0 */
	int in_nonces, in_msgs;
	struct ncpending *next, *nonce_next, *msg_next;
	int outcome, reason; /* set when finished */
};

struct nchandler {
	uint16_t klass;
	konce_handler_fn fn;
	void *ctx;
};

/* A queued application event: an outcome (p) or a peer event. */
struct ncqev {
	struct ncpending *p;
	int peer_event;
	uint8_t pk[KONCE_KEY_BYTES];
	konce_addr addr;
};

struct ncknown;

enum { KONCE_NC_PROBES = 32 }; /* tagged HELLOs remembered (nc_probe_seen) */

struct konce_nodecore {
	konce_nodecore_config cfg;
	const konce_env *env;
	konce_ep *ep;
	uint8_t pk[KONCE_KEY_BYTES];
	uint8_t hash_key[16];
	konce_inq *inq;
	uint64_t input_units; /* load units of input served to the endpoint (the verdicts' cost) */
	/* peers (ncpeer.c) */
	konce_ncpeer *by_pk[KONCE_NC_BUCKETS], *by_conn[KONCE_NC_BUCKETS];
	unsigned npeers;
	/* pendings (ncpending.c) */
	struct ncpending *by_nonce[KONCE_NC_BUCKETS]; /* requests awaiting a reply */
	struct ncpending *by_msg[KONCE_NC_BUCKETS];   /* handed to the endpoint, outcome unknown */
	struct ncpending **heap;                      /* deadlines, earliest first */
	uint32_t nheap, heap_cap;
	unsigned npending;
	uint64_t next_nonce;
	/* application events (nodecore.c): a FIFO ring */
	struct ncqev *evq;
	size_t evq_head, evq_len, evq_cap;
	struct ncpending *overflow, **overflow_tail; /* outcomes the ring had no memory for */
	struct ncpending *returned; /* the outcome handed out last, freed at the next poll */
	/* store notes and the known-keys cache (ncknown.c) */
	konce_nc_note *notes;
	size_t notes_head, notes_len, notes_cap;
	struct ncknown *known;
	/* the latest tagged HELLOs (traversal's probes, trav_hs.c) that no traversal entry took:
	 * the key each claims and its source, a ring (nc_probe_seen) */
	struct ncprobe {
		uint8_t pk[KONCE_KEY_BYTES];
		konce_addr from;
	} probes[KONCE_NC_PROBES];
	unsigned nprobes, probes_next;
	struct ncpeerconf *peerconf; /* ncpeerconf.c: locked, KONCE_NC_PEERCONF_MAX, or NULL */
	struct nchandler handlers[KONCE_NC_HANDLERS];
	uint64_t msgs_rx, msgs_tx, msgs_dropped, notes_dropped;
	uint64_t now; /* the latest time any call gave: events are processed at it */
	struct ncgroups *groups; /* hosted consensus groups (ncgroup.c), NULL until the first */
};

/* nodecore.c */
void nc_log(konce_nodecore *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *nc_alloc(konce_nodecore *c, size_t n);
void nc_free(konce_nodecore *c, void *p);
/* Queues an application event (an outcome or a peer event).  Outcomes are never dropped: on
 * allocation failure the ring is not grown and the event is delivered from the overflow list. */
void nc_queue_outcome(konce_nodecore *c, struct ncpending *p);
void nc_queue_peer(konce_nodecore *c, int peer_event, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr);
/* An endpoint event: the peer table, pendings, notes and application events follow. */
bool nc_on_ep_event(konce_nodecore *c, const konce_ep_event *ev, konce_nc_event *out);

/* ncpeer.c */
void ncpeer_free_all(konce_nodecore *c, int reason);

/* ncpeerconf.c */
/* The group key our dials to pk carry, or NULL. */
const uint8_t *ncpeerconf_group(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES]);
void ncpeerconf_free(konce_nodecore *c);

/* ncpending.c */
unsigned nc_bucket64(uint64_t v);
void ncpending_nonce_add(konce_nodecore *c, struct ncpending *p);
void ncpending_msg_add(konce_nodecore *c, struct ncpending *p);
void ncpending_msg_unlink(konce_nodecore *c, struct ncpending *p);
struct ncpending *ncpending_msg_find(konce_nodecore *c, uint64_t msg_id);
struct ncpending *ncpending_reply_find(konce_nodecore *c, uint64_t nonce, uint16_t klass,
				       const uint8_t pk[KONCE_KEY_BYTES]);
/* Sets (at != 0) or clears (0) p's deadline. */
void ncpending_set_deadline(konce_nodecore *c, struct ncpending *p, uint64_t at);
uint64_t ncpending_next_deadline(const konce_nodecore *c);
void ncpending_expire(konce_nodecore *c, uint64_t now);
/* Takes p off everything that holds it and queues its outcome (M1, M2). */
void ncpending_finish(konce_nodecore *c, struct ncpending *p, int outcome, int reason, const uint8_t *data,
		      size_t len);
void ncpending_fail_peer(konce_nodecore *c, konce_ncpeer *peer, int reason);
/* ESTABLISHED for peer: the connect deadline is met; requests now wait their reply lifetime. */
void ncpending_peer_up(konce_nodecore *c, konce_ncpeer *peer, const konce_ep_event *ev, uint64_t now);
void ncpending_release(konce_nodecore *c, struct ncpending *p);
void ncpending_free_all(konce_nodecore *c);

/* ncknown.c */
int ncknown_new(konce_nodecore *c);
void ncknown_free(konce_nodecore *c);
/* Makes a note (when notes are on) and applies it to the cache. */
void nc_note(konce_nodecore *c, enum konce_nc_note_type type, const uint8_t pk[KONCE_KEY_BYTES],
	     const konce_addr *addr, bool ok, unsigned flags);
/* A tagged HELLO from `from` that the hooks did not take: traversal's probe from a peer whose
 * introduction has not reached us yet.  Its claimed key and source are kept (the last
 * KONCE_NC_PROBES; the same pair once), so that a session which grows out of it is known for a
 * rendezvous' by nc_note_addr().  The claim is not verified: a forged one can only keep the
 * address of the claimed key's session from that very source out of the store. */
void nc_probe_seen(konce_nodecore *c, const uint8_t *pkt, size_t len, const konce_addr *from);
/* The address a note may carry for pk's session at addr (docs/STORE.md, the peers table): addr,
 * or NULL for a path handle (the hook's is_virtual) and for a real address of a key reached
 * through a rendezvous: the hook's traversed, or a tagged HELLO claiming pk came from addr
 * (nc_probe_seen).  That session runs at the NAT mapping the punch opened, also when the peer's
 * handshake reached us there before our traversal core knew the path (our own dial was to the
 * handle, or our introduction had not come), and a later direct dial would find the mapping
 * closed.  dialled: the address this node dialled pk at itself (NULL: none), which is noted
 * whatever traversal knows. */
const konce_addr *nc_note_addr(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr,
			       const konce_addr *dialled);

/* ncgroup.c */
void ncgroup_free_all(konce_nodecore *c);
void ncgroup_sent(void *ctx, int outcome, int reason, const uint8_t *data, size_t len);
void ncgroup_on_message(konce_nodecore *c, const uint8_t from[KONCE_KEY_BYTES], const uint8_t *b, size_t len);
void ncgroup_timer(konce_nodecore *c, uint64_t now);
uint64_t ncgroup_next_timer(const konce_nodecore *c);
bool ncgroup_poll_event(konce_nodecore *c, konce_nc_event *ev);

#endif
