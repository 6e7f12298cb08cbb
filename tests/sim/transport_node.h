/* transport_node.h - a konce endpoint (node/transport/endpoint.h) as a simulator host, for the
 * tests/sim/test_transport_*.c tests.
 *
 * The glue is what a real I/O layer does: every datagram that reaches the host goes to
 * konce_ep_input(); then the endpoint's events are handed to the test (which may answer with
 * konce_ep_send(), so a reply rides in the ACCEPT), then its datagrams leave through sim_send(),
 * and the host's timer is set to konce_ep_next_timer().
 *
 * CPU model (optional): a datagram costs konce_ep_input()'s cost x us_per_unit virtual microseconds,
 * and every proof-of-work hash the endpoint really tried (its pow_tries counter: slices run from
 * konce_ep_input() and konce_ep_timer()) costs us_per_hash more.
 * While the host is busy its arrivals queue, ordered by konce_ep_priority() if use_priority, and
 * its timer waits until the work is done (one thread does both).
 *
 * The endpoint's konce_env is sim_host_env(h): seeded randomness and counted allocations.
 */
#ifndef KONCE_TRANSPORT_NODE_H
#define KONCE_TRANSPORT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/sim/sim.h"

typedef struct tnode tnode;

struct tnode {
	sim *s;
	sim_host *h;
	konce_ep *ep;
	konce_identity *id;
	uint16_t port;
	uint64_t us_per_unit; /* CPU model; 0 = free */
	uint64_t us_per_hash; /* proof-of-work hashing, for a client */
	bool use_priority;
	bool hold_events;     /* never poll the endpoint's events (an application that stops reading) */
	uint64_t busy_until;
	uint64_t max_work_us; /* the longest single piece of work (one input or one timer call) */
	/* Hooks (all optional).  on_event sees every endpoint event; on_rx every datagram before the
	 * endpoint does; on_tx every datagram before it leaves (return false to swallow it). */
	void (*on_event)(tnode *n, const konce_ep_event *ev, uint64_t now);
	void (*on_rx)(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
	bool (*on_tx)(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now);
	/* on_input: right after konce_ep_input(), with the allocations that call made */
	void (*on_input)(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t allocs,
			 uint64_t now);
	void *user;
	uint64_t cpu_us;      /* virtual CPU time spent */
	unsigned last_pow_bits; /* bits of the last INITIATE this node built */
	uint64_t pow_tries_seen; /* pow_tries counter already charged */
	enum konce_ep_verdict last_verdict; /* of the latest datagram konce_ep_input() took */
	konce_ep_rx last_rx;
};

/* A host at ip (behind nat, or public if NULL) bound to port, with a fresh identity and an
 * endpoint made from cfg (env and identity are filled in; cfg may be NULL).  0 or negative errno. */
int tnode_init(tnode *n, sim *s, sim_nat *nat, const char *ip, uint16_t port, const konce_ep_config *cfg);
void tnode_free(tnode *n);
/* The adversary sims' three hosts: a server at 198.51.100.1:port and a client at 203.0.113.5:5555
 * (public, default endpoints, both with user as their user), and M at 192.0.2.99 (ops, user),
 * bound to port, where the client is told the server is, and to back, from which M talks to the
 * server.  Returns M (*front: its address at port), or NULL when a host could not be set up. */
sim_host *tnode_mitm_open(sim *s, tnode *srv, tnode *cli, uint16_t port, uint16_t back, const sim_host_ops *ops,
			  void *user, konce_addr *front);
konce_addr tnode_addr(const tnode *n);
const uint8_t *tnode_pk(const tnode *n);
const struct konce_ep_counters *tnode_counters(const tnode *n);
uint64_t tnode_allocs(const tnode *n);

/* konce_ep_connect() / konce_ep_send() at the current virtual time, outside a callback. */
int tnode_connect(tnode *n, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, const void *msg, size_t len,
		  uint32_t *conn);
int tnode_send(tnode *n, uint32_t conn, const void *msg, size_t len);
/* Hands out events and datagrams and rearms the timer; the calls above do it themselves. */
void tnode_flush(tnode *n, uint64_t now);

/* A small map from address (ip and port, or ip only) to two counters, for per-source accounting. */
typedef struct addrstat {
	konce_addr a;
	uint64_t in, out;
	bool used;
	bool validated; /* the caller's: the address was a session's validated path */
} addrstat;
typedef struct addrmap {
	addrstat *v;
	size_t cap, n;
} addrmap;
addrstat *addrmap_get(addrmap *m, const konce_addr *a); /* created if absent; aborts on ENOMEM */
void addrmap_free(addrmap *m);

#endif
