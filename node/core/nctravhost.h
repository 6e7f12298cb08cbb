/* nctravhost.h - the node's traversal cores as one unit a host runs, sans-I/O: the traversal core
 * (trav.h), the mapping lifetime core composed with it (nctravlife.h) and the node core's hooks
 * over both (nctrav.h).  What the host does with what they return (send, open and close the
 * numbered sockets, log, wake its loop) is a table of calls it hands in (konce_nctravhost_io);
 * every decision about when the cores run, in which order, and what an event or a port-mapping
 * worker's event means is made here, once, for every host (node/io/node_trav.c,
 * tests/sim/trav_host.c).
 *
 * The extra sockets 1..KONCE_TRAVLIFE_SOCK_PROBE (birthday probing's pool 1..KONCE_PUNCH_BIRTHDAY,
 * the filtering test's two, the lifetime's probe socket) are the unit's too: which are open
 * (socks.open), when one opens and closes, and the pool's counters (socks.st, which the control
 * protocol shows) are decided here; the host's table only makes the syscalls.  A pool socket
 * opens on its first datagram (io.open, then io.send) and closes when no attempt needs it any
 * more (the sweep, io.close); the others open and close when a core asks.
 *
 * Lifecycle:
 *
 *   konce_nctravhost_start()  the traversal core; the lifetime core and its probe socket when the
 *                             configuration asks for it (io.open(KONCE_TRAVLIFE_SOCK_PROBE)),
 *                             both on the node core's env (its memory and randomness: the
 *                             simulator's seeded one there); the node core's hooks set; a first
 *                             run scheduled (io.kick)
 *   konce_nctravhost_run()    from the host's loop, never inside the call that took something:
 *                             when scheduled or when a deadline is due, in this order:
 *                               1. the traversal core's timer, its datagrams (lent, io.send with
 *                                  ref, then io.flush), its events (LOG -> io.log, SOCK_OPEN ->
 *                                  io.open then konce_trav_sock_opened, SOCK_CLOSE -> io.close,
 *                                  DECLINED -> the node core's pendings fail), each then shown
 *                                  to the host's watch if it set one;
 *                               2. the birthday sockets no attempt needs any more: io.close;
 *                               3. the lifetime core's timer, the rebound applied
 *                                  (konce_nctravlife_apply), then 1.'s datagrams and events again
 *                                  with the lifetime core's datagrams
 *   konce_nctravhost_stop()   the hooks cleared first, then both cores freed; the sockets still
 *                             open are the host's to free with its table
 *
 * Invariants:
 *   1. No io call but io.kick is made from inside an input (konce_nctravhost_input, the hooks,
 *      konce_nctravhost_portmap): those only mark the unit due, and the run does the rest.
 *   2. A datagram for a birthday socket (1..KONCE_PUNCH_BIRTHDAY) that could not be sent (the
 *      socket could not be opened, or io.send failed) is counted in bday_dropped; the other
 *      sockets' losses are retried by their cores.
 *   3. io.open is called only for a closed socket, io.close only for an open one, io.send with
 *      sock > 0 only for an open one: socks.open is the host's sockets' state.
 */
#ifndef KONCE_NCTRAVHOST_H
#define KONCE_NCTRAVHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/portmap_policy.h"
#include "node/core/nctrav.h"
#include "node/core/nctravlife.h"
#include "node/core/trav_conf.h"

/* How long the host waits, at stop, for the router to confirm the lease deleted. */
enum { KONCE_NCTRAVHOST_PORTMAP_STOP_MS = 2000 };

/* The host's side.  Every call gets ctx. */
typedef struct konce_nctravhost_io {
	/* Sends pkt from socket sock (0: the node's, where ref means pkt is lent until flush()
	 * returns; any other is open).  0 or -errno. */
	int (*send)(void *ctx, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len, bool ref);
	void (*flush)(void *ctx); /* what send() queued on the node socket goes out now */
	/* Opens socket sock (closed; bound to the node socket's IP, any port): 0 and *local, or
	 * -errno. */
	int (*open)(void *ctx, unsigned sock, konce_addr *local);
	void (*close)(void *ctx, unsigned sock); /* sock is open */
	void (*log)(void *ctx, int level, const char *text);
	/* Run konce_nctravhost_run() on the loop's next turn (never inside this call). */
	void (*kick)(void *ctx);
	void *ctx;
} konce_nctravhost_io;

/* The birthday pool's counters (sockets 1..KONCE_PUNCH_BIRTHDAY). */
typedef struct konce_nctravhost_sockstats {
	uint64_t opened, open_failed, tx, rx;
	unsigned open_now, open_max; /* open now, most open at once */
} konce_nctravhost_sockstats;

typedef struct konce_nctravhost {
	konce_nodecore *c;
	konce_trav *t;
	konce_travlife *life;       /* NULL: no lifetime core */
	konce_nctravlife life_with; /* what it is composed with (life's ops point here) */
	konce_nodecore_trav_glue glue; /* the node core's hooks' context */
	konce_nctravhost_io io;
	bool due;                   /* scheduled: the next run runs the cores whatever their deadlines */
	konce_portmap_status pm;    /* what the port-mapping worker last reported */
	uint64_t bday_dropped;      /* datagrams for a birthday socket that could not be sent */
	struct {
		bool open[KONCE_TRAVLIFE_SOCK_PROBE + 1]; /* [0] unused: the node socket is the host's */
		konce_addr local[KONCE_TRAVLIFE_SOCK_PROBE + 1]; /* an open socket's address */
		konce_nctravhost_sockstats st;
	} socks;
	/* Optional, set by the host after start (start clears it): every event of the traversal core,
	 * after the run handled it, for the host's own record (the simulator counts the PATH events).
	 * It must not call into h.  NULL: none. */
	void (*watch)(void *ctx, const konce_trav_event *ev, uint64_t now);
	void *watch_ctx;
} konce_nctravhost;

/* Starts the cores in *h (the caller's memory, which must not move while they run) over the node
 * core c, with the configuration su (its host candidates already chosen, konce_travconf_hosts)
 * and the node socket's address local (NULL: unknown).  0, or a negative errno with err saying
 * what failed; on failure nothing is left to stop. */
int konce_nctravhost_start(konce_nctravhost *h, konce_nodecore *c, const konce_travconf *su, const konce_addr *local,
			   const konce_nctravhost_io *io, uint64_t now, char *err, size_t errlen);
/* h->c may be set to NULL first when the node core is already freed (nothing to clear). */
void konce_nctravhost_stop(konce_nctravhost *h);

/* Whether the host should run a port-mapping worker: su asks for it, the node registers with a
 * rendezvous (the mapped address is a candidate only a client hands out), and the node socket's
 * port is known.  If so, *out is its policy's configuration: the node socket's port mapped, the
 * policy's defaults for the rest (nat/portmap_policy.h). */
bool konce_nctravhost_wants_portmap(const konce_nctravhost *h, const konce_travconf *su, const konce_addr *local,
				    konce_portmap_policy_cfg *out);
/* The host's worker runs: h->pm says "trying" until its first event (konce_nctravhost_portmap). */
void konce_nctravhost_portmap_started(konce_nctravhost *h);

/* Marks the unit due and asks the host to run it (io.kick). */
void konce_nctravhost_schedule(konce_nctravhost *h);
/* The run (see the top of this file).  Does nothing if not due and no deadline has passed. */
void konce_nctravhost_run(konce_nctravhost *h, uint64_t now);
/* The earliest of both cores' deadlines (UINT64_MAX: none). */
uint64_t konce_nctravhost_next_timer(const konce_nctravhost *h);

/* A datagram on extra socket sock (1..KONCE_TRAVLIFE_SOCK_PROBE): to the core it is for
 * (konce_nodecore_trav_input); anything else is counted as refused.  The host schedules a run
 * after its read batch. */
void konce_nctravhost_input(konce_nctravhost *h, unsigned sock, const uint8_t *pkt, size_t len,
			    const konce_addr *from, uint64_t now);
/* An event of the port-mapping worker: noted in h->pm, handed to the traversal core
 * (konce_nodecore_trav_portmap), logged, and a run scheduled. */
void konce_nctravhost_portmap(konce_nctravhost *h, const konce_portmap_policy_event *ev, uint64_t now);

#endif
