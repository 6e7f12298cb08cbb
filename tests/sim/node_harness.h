/* node_harness.h - the shipping node core (node/core/nodecore.h) as a simulator host.
 *
 * The glue does what node/io/node_io.c does around the same core: every datagram that reaches the
 * host goes to konce_nodecore_input() and konce_nodecore_timer(); then the core is drained as
 * node_io_kick() drains it: events first (outcome callbacks, handlers, peer events, so a handler
 * answers inside the pending ACCEPT), then datagrams (out through sim_send()), then store notes
 * (there is no presence store: they are counted, and kept in order in noted when the core makes
 * them, i.e. cfg->notes is set), then the group records, and the host's timer is set to
 * konce_nodecore_next_timer() (or the group flush, or the writer's end, if sooner).
 * A drain is never re-entered: a command made from inside a callback only asks for another round.
 *
 * CPU model (optional), as tests/sim/transport_node.h: a datagram costs the verdict's cost (konce_nodecore_stats.input_units) x
 * us_per_unit virtual microseconds and every proof-of-work hash the endpoint tried costs
 * us_per_hash.  While the host is busy, the simulator queues its arrivals ordered by the core's
 * own classification (konce_nodecore_priority) when use_priority is set.
 *
 * Group records: as node/io/group_io.c, every group note is queued on the "store" and told to
 * the daemon's persist table, whose answers drive a flush event and a simulated writer thread
 * (tests/sim/gwriter.h): a batch is written 0.2-5 ms after it is handed over (seeded per node),
 * fails with probability gw.fail (retried alone), and only a written batch is reported to the
 * groups.  Without a store (the default) the records are counted, not kept, and ncnode_free() is a
 * crash for them: what is queued or in flight is lost (records_lost), what was written stays.
 *
 * Groups with a store (nn_groups.c, ncnode_groups_open): the node runs the public group API as
 * node/io/group_io.c does, through node/core/ncgapi.c (the decisions, the name table, restore,
 * replay, the notices), over its own store (store/store.h on a file in a temporary directory, on
 * tmpfs where there is one): the store's immediate writes, its group-record queue (each note
 * queued with konce_store_group_note), the writer's own connection the queue moves to when a
 * batch is handed over (konce_store_group_move, as node/io/node_storew.c) and commits when the
 * simulated writer ends.  ncnode_stop() ends the node as the daemon's stop (everything queued
 * written, sessions closed) or as a crash (queues lost, no datagram leaves); ncnode_restart()
 * makes a new core with the same identity on the same host, reopens the store and restores its
 * groups (konce_ncgapi_restore); the application's state comes back as replayed notices once it
 * listens (konce_ncgapi_on_event), as in the daemon.
 *
 * The core's konce_env is sim_host_env(h): seeded randomness and counted allocations.
 */
#ifndef KONCE_NODE_HARNESS_H
#define KONCE_NODE_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "node/core/ncgapi.h"
#include "node/core/nodecore.h"
#include "store/store.h"
#include "node/transport/identity.h"
#include "tests/sim/core_host.h"
#include "tests/sim/gwriter.h"
#include "tests/sim/sim.h"

typedef struct ncnode ncnode;

struct ncnode {
	sim *s;
	sim_host *h;
	konce_nodecore *core;
	konce_identity *id;
	uint16_t port;
	uint64_t us_per_unit, us_per_hash; /* CPU model; 0 = free */
	bool use_priority;
	uint64_t busy_until, cpu_us, pow_tries_seen;
	bool draining, again;
	/* every datagram before it leaves (return false to swallow it); optional */
	bool (*on_tx)(ncnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now);
	/* peer events (up, down, path) of this node; optional */
	void (*on_peer)(ncnode *n, int event, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr, uint64_t now);
	/* events of the groups the core hosts (node/core/ncgroup.h); optional */
	void (*on_group)(ncnode *n, const konce_nc_event *ev, uint64_t now);
	void *user;
	uint64_t notes, peers_up, peers_down;
	/* every store note the core made (type, key, address), oldest first; freed by ncnode_free() */
	core_host_notes noted;
	uint64_t gnotes; /* group persistence notes polled from the core */
	/* The group records' flush event and writer (gwriter.h; delay and fail may be set after
	 * ncnode_init); the records themselves are counted, not kept. */
	gwriter gw;
	simrng wrng;
	uint64_t records_lost; /* queued or in flight when the core was freed */
	struct nn_groups *groups; /* the group API and its store (ncnode_groups_open), or NULL */
	char store_path[128];     /* the store ncnode_restart() reopens ("": none) */
	konce_nodecore_config cfg; /* the core's config (ncnode_restart makes the next core from it) */
};

/* A host at ip (behind nat, or public if NULL) bound to port, with a fresh identity and a core made
 * from cfg (env and identity filled in; cfg may be NULL).  0 or negative errno. */
int ncnode_init(ncnode *n, sim *s, sim_nat *nat, const char *ip, uint16_t port, const konce_nodecore_config *cfg);
/* Fails what is pending (LOCAL_CLOSE, reported to the callbacks), closes every session (CLOSE
 * datagrams leave) and frees the core. */
void ncnode_free(ncnode *n);
konce_addr ncnode_addr(const ncnode *n);
const uint8_t *ncnode_pk(const ncnode *n);
konce_ep *ncnode_ep(const ncnode *n);
/* How many of n's store notes name addr (NULL: any address) for key pk (NULL: any key). */
size_t ncnode_noted(const ncnode *n, const uint8_t *pk, const konce_addr *addr);
/* Teaches n where peer lives (the known-keys cache, as a store load would). */
void ncnode_learn(ncnode *n, const ncnode *peer);

/* The core's commands at the current virtual time; the node is drained after each. */
int ncnode_send(ncnode *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const void *data, size_t len,
		const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t *handle);
int ncnode_reply(ncnode *n, const konce_message *req, const void *data, size_t len);
/* Drains the core and rearms the timer. */
void ncnode_flush(ncnode *n, uint64_t now);

/* The node's end without its host and identity: as the daemon's stop (crash false: pending
 * outcomes fail LOCAL_CLOSE, every group record queued is written, sessions close) or as a crash
 * (nothing more leaves; the records queued or in flight are lost).  The store is closed. */
void ncnode_stop(ncnode *n, bool crash);
/* After ncnode_stop(): a new core from the first one's config and the same identity, and the
 * store reopened with its groups restored (when ncnode_groups_open was called).  The known keys
 * are the test's to teach again (ncnode_learn).  0 or negative errno. */
int ncnode_restart(ncnode *n);

/* ---- groups with a store (nn_groups.c) ---- */
typedef struct nn_groups nn_groups;
/* Opens (or creates) the store at path and starts the node's groups as node_groups_start(): every
 * stored group is hosted and restored.  The number restored or a negative errno. */
int ncnode_groups_open(ncnode *n, const char *path);
/* One call's context for node/core/ncgapi.h at the current virtual time (the wall clock is
 * NN_UNIX_BASE + virtual seconds).  The caller runs ncnode_flush() after a command. */
enum { NN_UNIX_BASE = 1700000000 };
konce_ncgapi ncnode_gapi(ncnode *n);
/* The control socket's create and join (konce_node_group_create_async, _join_async): the row written
 * on the simulated store writer (node/core/ncghost.c, as the daemon), done(dctx, e) later. */
int ncnode_group_create_call(ncnode *n, const char *name, void (*done)(void *dctx, int e), void *dctx);
int ncnode_group_join_call(ncnode *n, const char *text, const char *name, unsigned timeout_s,
			   void (*done)(void *dctx, int e), void *dctx);
/* The control socket's log read (konce_node_group_log_async): the entries read on the simulated
 * store writer (fn on it), then done(dctx, count or a negative errno). */
int ncnode_group_log_call(ncnode *n, const char *name, uint64_t from,
			  int (*fn)(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES],
				    const uint8_t *data, size_t len),
			  void *fnctx, void (*done)(void *dctx, int n), void *dctx);
/* What went wrong in n's groups: error lines logged by ncgapi, notes the store refused, store
 * failures of the harness (the first message in *first, if given). */
uint64_t ncnode_group_errors(const ncnode *n, const char **first);
/* The node's store (NULL: none open). */
konce_store *ncnode_store(const ncnode *n);

#endif
