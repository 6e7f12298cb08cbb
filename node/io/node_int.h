/* node_int.h - the libevent layer around one node core (node/core/nodecore.h), shared by node.c,
 * node_io.c, control.c, ctl_host.c and the traversal host (node_trav*.c).
 *
 * What lives here is plumbing: the socket, the clock, the store, the libevent events, the
 * application's callbacks.  Every decision (peer table, pending outcomes, input priority, known
 * keys) is the core's, and its state machines are drawn in nodecore.h.
 *
 * Invariant: outcome callbacks, handlers and peer callbacks run only from node_io_kick() (called
 * from the event loop, or from konce_node_free()), never inside the API call that queued them.
 */
#ifndef KONCE_NODE_INT_H
#define KONCE_NODE_INT_H

#include <event2/event.h>
#include <stdarg.h>

#include "konce/konce.h"
#include "node/core/nodecore.h"
#include "node/ctl/ctlproto.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "node/io/evclock.h"
#include "node/io/udp.h"
#include "store/store.h"

struct control;

struct konce_node {
	struct event_base *base;
	konce_node_config cfg;
	char *data_dir, *listen, *control_path;
	char *db_path;               /* data_dir/peers.db: the presence store and the group records */
	konce_identity *id;
	uint8_t pk[KONCE_KEY_BYTES];
	konce_store *store;          /* the loop thread's connection: reads, petnames */
	struct node_storew *storew; /* the store writer (node_storew.h): notes, group batches, control calls */
	int store_result;           /* the writer's last write at stop (konce_node_free returns it) */
	konce_udp *udp;
	konce_nodecore *core;
	struct event *ev_read, *ev_flush, *ev_kick;
	node_ptimer timer; /* the core's and traversal's next deadline (evclock.h: why a timerfd) */
	uint64_t started_us;
	struct control *control;
	konce_peer_fn peer_fn;
	void *peer_ctx;
	int store_failing;
	int draining, drain_again; /* node_io_kick() is not re-entered: a nested call runs it again */
	struct node_trav *trav; /* node_trav.c; NULL = no traversal */
	struct node_groups *groups; /* group_io.c; NULL = no store, no groups */
	struct node_worker *reader; /* fileread.c: the control's file reads; NULL until the first */
};

/* node_trav.c: starts traversal on a node whose socket is bound (konce_node_new() calls it when
 * cfg->traversal asks for traversal).  cfg is borrowed for the call.  0, -EINVAL (err says why),
 * -EALREADY, -ENOMEM, or a socket's errno; on failure the node has no traversal. */
int konce_node_traversal(konce_node *node, const konce_traversal_config *cfg, char *err, size_t errlen);

/* node.c */
void node_log(struct konce_node *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The core's log sink (konce_nodecore_config.log): node_log's output. */
void node_log_line(void *ctx, int level, const char *line);

/* node_io.c */
struct konce_ncconf;
int node_io_start(struct konce_node *n, const struct konce_ncconf *pc, char *err, size_t errlen);
void node_io_stop(struct konce_node *n);
/* Drains the core: dispatches its events (outcomes, handlers, peer callbacks), sends its datagrams,
 * writes its store notes and re-arms the one timer.  The only place any of that happens. */
void node_io_kick(struct konce_node *n);
/* The same, from the event loop's next turn: for API calls (which never call back inside). */
void node_io_schedule(struct konce_node *n);

/* group_io.c: the consensus groups (include/konce/group.h) */
int node_groups_start(struct konce_node *n);
void node_groups_stop(struct konce_node *n);
/* Writes the core's group notes into the store and schedules their flush. */
void node_groups_io(struct konce_node *n);
void node_group_event(struct konce_node *n, const konce_nc_event *ev);
/* control.c: the control socket's plumbing */
int node_control_start(struct konce_node *n, const char *path, char *err, size_t errlen);
void node_control_stop(struct konce_node *n);
/* ctl_host.c: what the control protocol (node/ctl/ctlproto.h) reads of n; h is valid while n is. */
void node_ctl_host(struct konce_node *n, konce_ctlproto_host *h);

#endif
