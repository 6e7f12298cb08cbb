/* core_host.h - what the simulator's hosts of a konce core share: transport_node.c (a bare
 * endpoint), node_harness.c and trav_host.c (the node core), and how the last two drain it.
 *
 * A host with a CPU model is busy until busy_until after a piece of work; its timer waits for the
 * work to end (one thread does input and timers), and the proof-of-work hashes its endpoint tried
 * are charged by its pow_tries counter. */
#ifndef KONCE_CORE_HOST_H
#define KONCE_CORE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "node/core/nodecore.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/sim/sim.h"

/* A host at ip (behind nat, or public if NULL) run by ops with ctx, bound to port, and a fresh
 * identity from the host's env.  0 or negative errno. */
int core_host_add(sim *s, sim_nat *nat, const char *ip, uint16_t port, const sim_host_ops *ops, void *ctx,
		  sim_host **h, konce_identity **id);
/* Sets h's timer to next_timer, not before busy_until; cancels it if next_timer is UINT64_MAX. */
void core_host_rearm(sim *s, sim_host *h, uint64_t next_timer, uint64_t busy_until);
/* The virtual CPU time of the proof-of-work hashes ep tried since *seen (its pow_tries counter
 * then), at us_per_hash each; *seen moves to the counter's value. */
uint64_t core_host_pow_cost(const konce_ep *ep, uint64_t *seen, uint64_t us_per_hash);
/* What node/io does with a node core's application events: an outcome goes to its callback, a
 * message to its handler (with no konce_node).  False for the other events (peer, group), which
 * are the caller's. */
bool core_host_app_event(const konce_nc_event *ev);

/* The store notes a host keeps (type, key, address), oldest first: what the daemon's store worker
 * receives from node_io_kick() (node/io/node_storew.c) and writes to the presence store. */
typedef struct core_host_notes {
	konce_nc_note *v;
	size_t n, cap;
	bool oom; /* a note could not be kept: v is incomplete */
} core_host_notes;
void core_host_notes_keep(core_host_notes *k, const konce_nc_note *note);
/* How many of k's notes name addr (NULL: any address) for key pk (NULL: any key). */
size_t core_host_notes_count(const core_host_notes *k, const uint8_t *pk, const konce_addr *addr);
void core_host_notes_free(core_host_notes *k);

/* Where core_host_drain() hands a node core's output: the events that are not the application's,
 * the datagrams to send, the store notes (NULL: dropped, there is no store). */
typedef struct core_host_sink {
	void *ctx;
	void (*event)(void *ctx, const konce_nc_event *ev, uint64_t now);
	void (*datagram)(void *ctx, const konce_nc_datagram *dg, uint64_t now);
	void (*note)(void *ctx, const konce_nc_note *note, uint64_t now);
} core_host_sink;
/* One pass over what core has queued, in node_io_kick()'s order: events (the application's
 * delivered by core_host_app_event, the others to sink->event), datagrams, notes.  True if a
 * datagram came out. */
bool core_host_drain(konce_nodecore *core, const core_host_sink *sink, uint64_t now);

#endif
