/* node_int.h - the node's private state, shared by node.c, node_io.c, node_msg.c and control.c.
 *
 * The node is the I/O layer around one konce_ep: it owns the socket, the clock, the store and the
 * libevent events, and keeps a table of active peers.  The endpoint's sans-I/O state is never touched
 * directly, only through endpoint.h.
 *
 * Peer lifecycle (one struct peer per durable key with a session or a connect in progress):
 *
 *     konce_node_send() to a key with no peer            ESTABLISHED event (incoming)
 *        -> peer_get(create) + konce_ep_connect()              -> peer_get(create)
 *     [CONNECTING] --ESTABLISHED--> [UP] --CLOSED/FAILED/idle--> freed (pending sends fail)
 *          \--FAILED / connect timeout--> freed (pending sends fail UNREACHABLE)
 *
 * Invariants:
 *  1. peer->conn != 0 names a live endpoint session for exactly this key, and conn_table maps it back.
 *  2. A pending message is held by its peer's initiate_msg (it rode in the INITIATE), the message
 *     table (handed to the endpoint, its delivery not yet known), the nonce table (a request awaiting
 *     its reply), or both tables; finish() releases it from all of them at once.
 *  3. Outcome callbacks run from the event loop (a deferred event), never inside the call that queued
 *     the message.
 */
#ifndef KONCE_NODE_INT_H
#define KONCE_NODE_INT_H

#include <event2/event.h>
#include <stdarg.h>

#include "konce/konce.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "node/io/udp.h"
#include "store/store.h"

enum {
	NODE_BUCKETS = 1024,      /* peer and nonce hash buckets */
	NODE_PENDING_MAX = 65536, /* requests awaiting replies, node-wide */
	NODE_HANDLERS = 64,       /* registered application classes */
};

struct pending;

struct peer {
	uint8_t pk[KONCE_KEY_BYTES];
	uint32_t conn;
	int up;
	konce_addr addr;
	uint64_t since_us, last_rx_us;
	uint64_t msgs_rx, msgs_tx;
	uint32_t rtt_us; /* last measured by a request/reply */
	/* traffic: session bytes at the last once-a-second sample, and the rates over that second */
	uint64_t sample_rx, sample_tx, sample_us;
	double rx_rate, tx_rate; /* bytes per second */
	struct pending *initiate_msg; /* the message that rode in our INITIATE */
	int trusted; /* the store records it (we dialled it, or it took a message of ours) */
	struct peer *pk_next, *conn_next; /* hash chains */
};

struct pending {
	struct konce_node *node;
	struct peer *peer;
	uint8_t pk[KONCE_KEY_BYTES];
	uint16_t klass;
	int request;
	uint64_t nonce;
	uint64_t sent_us;
	uint32_t reply_lifetime_ms;
	konce_outcome_fn fn;
	void *ctx;
	struct event *timer; /* connect timeout, then reply lifetime */
	size_t len;
	uint8_t *data; /* the framed message, kept until handed to the endpoint */
	uint64_t msg_id;     /* the endpoint's id once handed over (konce_ep_msg_send), else 0 */
	int in_nonces, in_msgs;
	struct pending *next, *nonce_next, *msg_next;
	int outcome, reason; /* set when finished, reported from the deferred event */
};

struct handler {
	uint16_t klass;
	konce_handler_fn fn;
	void *ctx;
};

struct control;

struct konce_node {
	struct event_base *base;
	konce_node_config cfg;
	char *data_dir, *listen, *control_path;
	konce_identity *id;
	uint8_t pk[KONCE_KEY_BYTES];
	konce_store *store;
	konce_udp *udp;
	konce_ep *ep;
	struct event *ev_read, *ev_timer, *ev_flush, *ev_done, *ev_kick, *ev_drain;
	struct konce_inq *inq; /* received datagrams awaiting the endpoint, by priority (inq.h) */
	uint64_t started_us;
	uint8_t hash_key[16];
	struct peer *by_pk[NODE_BUCKETS], *by_conn[NODE_BUCKETS];
	unsigned npeers;
	struct pending *by_nonce[NODE_BUCKETS]; /* requests awaiting a reply */
	struct pending *by_msg[NODE_BUCKETS];   /* messages handed to the endpoint, outcome unknown */
	struct pending *done_head, **done_tail; /* finished, outcome not yet reported */
	unsigned npending;
	uint64_t next_nonce;
	struct handler handlers[NODE_HANDLERS];
	struct control *control;
	konce_peer_fn peer_fn;
	void *peer_ctx;
	int store_failing;
	int listen_default; /* no listen address given: fall back to IPv4 if IPv6 is missing */
	uint64_t msgs_rx, msgs_tx, msgs_dropped;
	struct node_trav *trav; /* node_trav.c; NULL = no traversal */
};

/* node.c */
uint64_t node_now_us(void);
void node_log(struct konce_node *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct peer *node_peer_find(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES]);
struct peer *node_peer_by_conn(struct konce_node *n, uint32_t conn);
struct peer *node_peer_add(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES]);
void node_peer_set_conn(struct konce_node *n, struct peer *p, uint32_t conn);
void node_peer_free(struct konce_node *n, struct peer *p, int reason);
/* Samples every peer's session traffic: rx_rate and tx_rate become the rates since the last sample. */
void node_peers_sample_traffic(struct konce_node *n, uint64_t now_us);

/* node_io.c */
int node_io_start(struct konce_node *n, char *err, size_t errlen);
void node_io_stop(struct konce_node *n);
/* After anything that may have queued datagrams or events: handle events, send, re-arm the timer. */
void node_io_kick(struct konce_node *n);
/* Received datagrams the input queue shed (lowest priority first) since start. */
uint64_t node_io_input_shed(const struct konce_node *n);
/* The same, from the event loop's next turn: for API calls that may run inside a callback. */
void node_io_schedule(struct konce_node *n);

/* node_msg.c */
void node_msg_on_event(struct konce_node *n, const konce_ep_event *ev);
void node_msg_fail_peer(struct konce_node *n, struct peer *p, int reason);
void node_msg_fail_all(struct konce_node *n, int reason);

/* control.c */
int node_control_start(struct konce_node *n, const char *path, char *err, size_t errlen);
void node_control_stop(struct konce_node *n);

#endif
