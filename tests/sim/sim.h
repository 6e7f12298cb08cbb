/* sim.h - a deterministic network simulator for sans-I/O endpoints, on a virtual clock.
 *
 * Many endpoints live in one test process.  Each is a "host" with one address, a few bound UDP
 * ports and two callbacks (a datagram arrived; its timer fired).  Datagrams travel over directed
 * links with seeded delay, jitter, loss, duplication, reordering, rate limits and an MTU, through
 * NATs that follow the RFC 4787 behaviour axes.  Every random choice comes from one seed, nothing
 * reads the wall clock, and events at equal times run in the order they were scheduled, so a seed
 * replays exactly: sim_trace_hash() is the same for two runs of one seed.
 *
 * A test in three steps (tests/sim/README.md has a full example):
 *
 *	SIM_FOR_EACH_SEED(seed, 20) {
 *		sim *s = sim_new(seed);
 *		sim_host *a = sim_host_add(s, "10.0.0.1", &echo_ops, &a_state);
 *		sim_host_bind(a, 7807);
 *		sim_run_for(s, 10 * SIM_SEC);
 *		SIM_ASSERT(s, a_state.replies == 100);
 *		sim_free(s);
 *	}
 *
 * Time is in microseconds.  Everything here is single-threaded and not re-entrant: a callback may
 * call sim_send, sim_timer_set, sim_link_set, sim_host_* and sim_nat_* but never sim_run_* or
 * sim_free.  Functions that can fail return 0 or a negative errno; constructors return NULL on
 * failure (only for bad arguments or out of memory).
 */
#ifndef KONCE_SIM_H
#define KONCE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node/base/addr.h"
#include "node/base/env.h"

#define SIM_MS 1000ULL
#define SIM_SEC 1000000ULL
#define SIM_MAX_DATAGRAM 65507 /* largest UDP payload */

typedef struct sim sim;
typedef struct sim_host sim_host;
typedef struct sim_nat sim_nat;

/* ---------------------------------------------------------------------------------------------
 * The simulation and its clock. */

/* A new, empty simulation at time 0.  All randomness derives from seed. */
sim *sim_new(uint64_t seed);
/* Frees hosts, NATs, links and datagrams still in flight.  Host contexts belong to the caller. */
void sim_free(sim *s);
uint64_t sim_now(const sim *s);
uint64_t sim_seed(const sim *s);

/* Runs every event due at or before t, then sets the clock to t (if t is in the future). */
void sim_run_until(sim *s, uint64_t t);
void sim_run_for(sim *s, uint64_t dt);
/* Runs the single next event (the clock jumps to its time).  false if nothing is scheduled. */
bool sim_step(sim *s);
/* Runs events while keep_going(ctx) is true and events are due at or before deadline.  0 when
 * keep_going returned false (the clock is at the event that made it so), -ETIMEDOUT when the
 * deadline came first (the clock is then at deadline). */
int sim_run_while(sim *s, bool (*keep_going)(void *ctx), void *ctx, uint64_t deadline);
/* A runaway guard: after n events (default SIM_EVENT_LIMIT_DEFAULT) the simulation prints its seed
 * and the virtual time and aborts, so that a scenario that grows without bound (echo storms,
 * timers re-armed at `now`) fails with a rerun line instead of hanging.  0 = no limit. */
#define SIM_EVENT_LIMIT_DEFAULT 200000000ULL
void sim_set_event_limit(sim *s, uint64_t n);
/* Time of the next pending event, or UINT64_MAX. */
uint64_t sim_next_event(const sim *s);
/* Calls fn(ctx, now) once at time `at` (now, if past): scripted faults such as link flaps. */
int sim_at(sim *s, uint64_t at, void (*fn)(void *ctx, uint64_t now), void *ctx);

/* ---------------------------------------------------------------------------------------------
 * Seeded randomness and the konce_env handed to cores. */

uint64_t sim_rand(sim *s);                    /* 64 random bits from the network stream */
uint64_t sim_rand_below(sim *s, uint64_t n);  /* uniform in [0, n), n > 0 */
double sim_rand_unit(sim *s);                 /* uniform in [0, 1) */

/* A konce_env whose random() draws from a stream derived from the seed and whose alloc/free are
 * calloc/free with counters.  sim_env() is shared; sim_host_env() is one per host (its own stream
 * and counters), so a test can assert that one server allocated nothing.  Valid until sim_free. */
const konce_env *sim_env(sim *s);
const konce_env *sim_host_env(sim_host *h);
uint64_t sim_env_allocs(const konce_env *e); /* successful allocations so far */
uint64_t sim_env_frees(const konce_env *e);  /* frees of non-NULL pointers so far */
uint64_t sim_env_live(const konce_env *e);   /* allocs - frees */
/* Bytes live now and at most so far (malloc_usable_size of each allocation: what it really holds) */
uint64_t sim_env_bytes(const konce_env *e);
uint64_t sim_env_peak_bytes(const konce_env *e);
/* After n more successful allocations every alloc returns NULL (to test -ENOMEM paths);
 * UINT64_MAX turns failure injection off again. */
void sim_env_fail_after(const konce_env *e, uint64_t n);

/* ---------------------------------------------------------------------------------------------
 * Counters.  A host keeps two sets: tx, the fate of every datagram it sent (and the copies links
 * made of them), and rx, the datagrams that reached it.  A link keeps one set for what crossed it.
 * Invariant once nothing is in flight: sent + duplicated == delivered + lost + every dropped_*. */
typedef struct sim_counters {
	uint64_t sent;            /* datagrams sim_send accepted (valid arguments) */
	uint64_t delivered;       /* handed to a recv callback */
	uint64_t lost;            /* link loss */
	uint64_t duplicated;      /* extra copies made by link duplication */
	uint64_t reordered;       /* copies held back by the link's reorder delay */
	uint64_t dropped_queue;   /* a link's or access link's rate-limit queue was full */
	uint64_t dropped_mtu;     /* larger than the link MTU */
	uint64_t dropped_noport;  /* no such port bound at the receiver (or no recv callback) */
	uint64_t dropped_filter;  /* a NAT refused it: no mapping, filtered, no hairpin, no port */
	uint64_t dropped_noroute; /* no host or NAT has the destination address */
	uint64_t dropped_cpu;     /* the receiver's input queue was full (lowest priority dropped) */
	uint64_t bytes_sent;
	uint64_t bytes_delivered;
} sim_counters;

/* ---------------------------------------------------------------------------------------------
 * Hosts. */
typedef struct sim_host_ops {
	/* A datagram for one of the host's bound ports.  pkt is valid only during the call.  Returns
	 * the virtual CPU time the host spends on it (us); 0 is free.  While that time runs the host
	 * is busy: later arrivals wait in its input queue, and whatever it sends from this callback
	 * leaves when the work is done (at now + cost). */
	uint64_t (*recv)(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			 const konce_addr *to, uint64_t now);
	/* The host's timer (sim_timer_set) is due.  Timers fire even when busy, and cost no CPU
	 * unless the callback says so with sim_host_spend(). */
	void (*timer)(void *ctx, uint64_t now);
	/* Optional: the queueing priority of an arriving datagram, computed when it arrives while the
	 * host is busy.  Lower is served first, FIFO among equals; when the queue is full the
	 * datagram with the highest value (the newest among equals) is dropped.  NULL: FIFO. */
	int (*priority)(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			uint64_t now);
} sim_host_ops;

/* 320 ports: birthday probing (nat/punch.h) binds 257 sockets on one host */
enum { SIM_HOST_QUEUE_DEFAULT = 1024, SIM_HOST_MAX_PORTS = 320 };

/* A host with address ip ("10.0.0.1" or "2001:db8::1", no port) in the public realm.  ops may be
 * NULL (set it later); ops is copied, ctx is borrowed.  NULL if ip is malformed or taken. */
sim_host *sim_host_add(sim *s, const char *ip, const sim_host_ops *ops, void *ctx);
/* The same, with a private address inside nat (nat NULL means the public realm). */
sim_host *sim_host_add_behind(sim *s, sim_nat *nat, const char *ip, const sim_host_ops *ops,
			      void *ctx);
void sim_host_set_ops(sim_host *h, const sim_host_ops *ops, void *ctx);
/* Moves the host to a new address, in nat's private realm or (nat NULL) the public one: roaming.
 * Bound ports stay bound; datagrams in flight to the old address find whoever has it on arrival.
 * 0, -EINVAL (malformed ip), -EADDRINUSE. */
int sim_host_move(sim_host *h, sim_nat *nat, const char *ip);
/* 0, -EADDRINUSE (already bound), -ENOSPC (SIM_HOST_MAX_PORTS), -EINVAL (port 0). */
int sim_host_bind(sim_host *h, uint16_t port);
int sim_host_unbind(sim_host *h, uint16_t port); /* 0 or -ENOENT */
/* The host's address with the given port. */
konce_addr sim_host_addr(const sim_host *h, uint16_t port);
sim_nat *sim_host_nat(const sim_host *h); /* the NAT the host sits behind, or NULL */
void *sim_host_ctx(const sim_host *h);
const char *sim_host_name(const sim_host *h); /* its address as text */
const sim_counters *sim_host_tx(const sim_host *h);
const sim_counters *sim_host_rx(const sim_host *h);
/* Access links: the host's own bottleneck, shared by all its paths.  Every datagram it sends waits
 * in its uplink queue (drained at rate bytes/s, drop-tail at queue_bytes, 0 = the link default)
 * before entering the path link; every datagram reaching it waits in its downlink queue before
 * its CPU sees it.  So flows from many senders to one host compete for its downlink, as at a real
 * bottleneck.  rate 0 (the default) is unlimited.  Drops count as dropped_queue. */
void sim_host_set_uplink(sim_host *h, uint64_t rate, size_t queue_bytes);
void sim_host_set_downlink(sim_host *h, uint64_t rate, size_t queue_bytes);
/* Bounds the CPU input queue (default SIM_HOST_QUEUE_DEFAULT, at least 1). */
void sim_host_set_queue(sim_host *h, size_t cap);
size_t sim_host_queue_len(const sim_host *h);
bool sim_host_busy(const sim_host *h);
/* From a timer callback: the host spends cost us of CPU on the timer's work, busy (arrivals queue)
 * until now + cost.  Nothing if cost is 0 or the host is busy already. */
void sim_host_spend(sim *s, sim_host *h, uint64_t cost);

/* Sends len bytes from the host's address and from_port to `to`.  The data is copied.  0 once the
 * datagram is on its way (it may still be lost: see the counters), -EMSGSIZE (> SIM_MAX_DATAGRAM),
 * -EINVAL, -EHOSTUNREACH (a host on the internet, and no host or NAT holds the destination
 * address; counted dropped_noroute).  A host behind a NAT has a default route through it: its
 * datagram to an address that exists nowhere returns 0, is mapped by every NAT on the way out (a
 * sequential allocator spends a port on it) and is counted dropped_noroute beyond them.
 * Sending needs no bound port, but replies to an unbound port are dropped. */
int sim_send(sim *s, sim_host *h, uint16_t from_port, const konce_addr *to, const void *pkt,
	     size_t len);
/* The same with any source address the host chooses (spoofing, in the host's own realm); the
 * packet still physically leaves from h, over h's links. */
int sim_send_spoofed(sim *s, sim_host *h, const konce_addr *from, const konce_addr *to,
		     const void *pkt, size_t len);

/* The host's single timer: calls ops->timer at time at (now if at is past).  Setting replaces the
 * pending one. */
void sim_timer_set(sim *s, sim_host *h, uint64_t at);
void sim_timer_cancel(sim *s, sim_host *h);
uint64_t sim_timer_get(const sim_host *h); /* pending time or UINT64_MAX */

/* ---------------------------------------------------------------------------------------------
 * Links.  Each directed pair of hosts has a link; pairs without their own configuration follow
 * the default, including later changes to it.  The path of a datagram through NATs counts as one
 * link, from the sending host to the host it is addressed to when it leaves (found by following
 * the NAT mappings that exist at that moment); a datagram to a NAT port with no mapping yet uses
 * the sender's link to "nowhere", configured by the default.  Order of effects: the
 * sender's uplink (sim_host_set_uplink), MTU, loss, then for each copy (duplication) the link's
 * rate-limit queue, delay, jitter and the reorder delay, and at the far end the receiver's
 * downlink.  Jitter larger than the gap between datagrams reorders them too, as with netem. */
enum sim_jitter { SIM_JITTER_UNIFORM = 0, SIM_JITTER_NORMAL = 1 };

typedef struct sim_link_cfg {
	uint64_t delay_us;          /* one-way propagation delay */
	uint64_t jitter_us;         /* UNIFORM: +-jitter; NORMAL: standard deviation, cut at 3 sd */
	enum sim_jitter jitter_dist;
	double loss;                /* probability a datagram is lost */
	double duplicate;           /* probability it arrives twice */
	double reorder;             /* probability a copy is held back by reorder_us more */
	uint64_t reorder_us;
	uint64_t rate;              /* bytes per second; 0 = unlimited */
	size_t queue_bytes;         /* rate-limit queue bound; 0 = SIM_LINK_QUEUE_DEFAULT */
	size_t mtu;                 /* largest datagram carried; 0 = unlimited */
} sim_link_cfg;

enum { SIM_LINK_QUEUE_DEFAULT = 65536 };

/* Sets the default (initially all zero: no delay, no loss, unlimited). */
void sim_link_default(sim *s, const sim_link_cfg *cfg);
/* Configures the directed link from -> to.  Takes effect for datagrams sent from now on;
 * datagrams already in flight keep their schedule.  0 or -ENOMEM. */
int sim_link_set(sim *s, const sim_host *from, const sim_host *to, const sim_link_cfg *cfg);
/* Both directions. */
int sim_link_set_both(sim *s, const sim_host *a, const sim_host *b, const sim_link_cfg *cfg);
/* Makes from -> to follow the default again. */
void sim_link_reset(sim *s, const sim_host *from, const sim_host *to);
/* The configuration in force for from -> to (to may be NULL: the link to nowhere). */
sim_link_cfg sim_link_get(sim *s, const sim_host *from, const sim_host *to);
/* The link's counters; all zero if nothing crossed it yet. */
sim_counters sim_link_counters(sim *s, const sim_host *from, const sim_host *to);

/* ---------------------------------------------------------------------------------------------
 * NATs, along the axes of RFC 4787.  A NAT has one public address in the realm outside it (the
 * public realm, or another NAT's private realm: a home NAT behind a carrier-grade NAT) and a
 * private realm inside.  Going out it rewrites the source address to a mapping; coming in it
 * rewrites the destination back and drops what its filtering refuses.  Mappings and filter
 * permissions expire timeout_us after the last datagram that refreshed them.
 *
 * Timing: a datagram is translated outbound when it leaves the sender and inbound when it reaches
 * the destination's NAT, so a hole punched by one side is seen by a datagram from the other side
 * that arrives after it. */
enum sim_nat_dep {
	SIM_NAT_EI = 0,  /* endpoint-independent */
	SIM_NAT_AD = 1,  /* address-dependent */
	SIM_NAT_APD = 2, /* address-and-port-dependent */
};
enum sim_nat_ports {
	SIM_NAT_PORT_PRESERVE = 0,   /* the internal port if free, else the next free one */
	SIM_NAT_PORT_SEQUENTIAL = 1, /* a NAT-wide counter: each new mapping gets the next port */
	SIM_NAT_PORT_RANDOM = 2,     /* uniform in the range */
};
enum sim_nat_preset {
	SIM_NAT_FULL_CONE,            /* EI mapping, EI filtering, preserving */
	SIM_NAT_RESTRICTED_CONE,      /* EI mapping, AD filtering, preserving */
	SIM_NAT_PORT_RESTRICTED_CONE, /* EI mapping, APD filtering, preserving */
	SIM_NAT_SYMMETRIC,            /* APD mapping, APD filtering, random ports */
	SIM_NAT_SYMMETRIC_SEQUENTIAL, /* APD mapping, APD filtering, sequential ports */
};

typedef struct sim_nat_cfg {
	enum sim_nat_dep mapping;
	enum sim_nat_dep filtering;
	enum sim_nat_ports ports;
	bool hairpin;          /* inside hosts may reach each other via public mappings */
	bool inbound_refresh;  /* inbound datagrams also refresh the mapping (RFC 4787 REQ-6: MAY) */
	uint64_t timeout_us;   /* idle mapping lifetime; 0 = SIM_NAT_TIMEOUT_DEFAULT */
	uint16_t port_min;     /* allocation range; 0 = 1024 */
	uint16_t port_max;     /* 0 = 65535 */
} sim_nat_cfg;

#define SIM_NAT_TIMEOUT_DEFAULT (120 * SIM_SEC) /* RFC 4787 REQ-5: at least 2 minutes */

/* The preset's behaviour, with hairpinning and inbound refresh on and the default timeout. */
sim_nat_cfg sim_nat_preset(enum sim_nat_preset p);
const char *sim_nat_preset_name(enum sim_nat_preset p);
/* A NAT with public address ip in the public realm.  NULL if ip is malformed or taken. */
sim_nat *sim_nat_add(sim *s, const char *public_ip, const sim_nat_cfg *cfg);
/* A NAT whose "public" address ip is inside outer's private realm (nested NAT). */
sim_nat *sim_nat_add_behind(sim *s, sim_nat *outer, const char *ip, const sim_nat_cfg *cfg);
void sim_nat_set_cfg(sim_nat *n, const sim_nat_cfg *cfg); /* existing mappings are kept */
/* Forgets every mapping and permission (a NAT reboot or rebinding).  The sequential counter goes
 * on, so a sequential NAT hands out new ports; a preserving one may hand out the same ones. */
void sim_nat_flush(sim_nat *n);
/* A static mapping (port forward): ext_port on the public address to host:int_port, never
 * expiring, endpoint-independent filtering.  h must sit directly behind n.  0, -EINVAL,
 * -EADDRINUSE, -ENOMEM. */
int sim_nat_forward(sim_nat *n, uint16_t ext_port, sim_host *h, uint16_t int_port);
/* A leased mapping, as a NAT-PMP or UPnP-IGD gateway grants it (tests/sim/sim_portmap.h): ext_port
 * on the public address to h:int_port until the virtual time `until`, whatever the traffic, with
 * endpoint-independent filtering.  Outbound, a flow from h:int_port that has a mapping of its own
 * keeps it (connection tracking: that entry came first); another leaves from ext_port if it
 * answers a remote that came in through the lease (while that remote's permission lives), or if
 * the NAT is endpoint-independent (the lease is the address's one mapping, and the port of its
 * own mapping may be leased: that mapping becomes the lease, as a Linux NAT keeps a leased source
 * port), or if outbound (the lease is an endpoint-independent mapping even on an
 * endpoint-dependent NAT, as RFC 6887's MAP); else it gets a new mapping.  One lease per internal
 * address: the same call for the same ext_port renews it.  sim_nat_flush forgets it (a reboot).
 * 0, -EINVAL (h not directly behind n, a zero port, until not in the future), -EADDRINUSE
 * (ext_port taken, or h:int_port leases another port), -ENOMEM. */
int sim_nat_lease(sim_nat *n, uint16_t ext_port, sim_host *h, uint16_t int_port, uint64_t until, bool outbound);
/* Ends the lease on ext_port now.  0 or -ENOENT (no live lease there). */
int sim_nat_unlease(sim_nat *n, uint16_t ext_port);
/* The live lease of h:int_port: 0 and its external port and end (either may be NULL), or -ENOENT. */
int sim_nat_lease_get(sim_nat *n, const sim_host *h, uint16_t int_port, uint16_t *ext_port, uint64_t *until);
/* The public mapping that a datagram from internal to remote would use now, without creating or
 * refreshing anything.  0 and *external, or -ENOENT. */
int sim_nat_lookup(sim_nat *n, const konce_addr *internal, const konce_addr *remote,
		   konce_addr *external);
konce_addr sim_nat_public(const sim_nat *n, uint16_t port);
size_t sim_nat_mappings(sim_nat *n); /* live (unexpired) mappings */

typedef struct sim_nat_counters {
	uint64_t out;             /* datagrams translated outbound */
	uint64_t in;              /* datagrams translated inbound and passed */
	uint64_t hairpinned;
	uint64_t mappings;        /* mappings created */
	uint64_t expired;         /* mappings that timed out */
	uint64_t dropped_nomap;   /* inbound to a port with no live mapping */
	uint64_t dropped_filter;  /* inbound refused by filtering */
	uint64_t dropped_hairpin; /* hairpin attempted while disabled */
	uint64_t dropped_ports;   /* no free port for a new mapping */
} sim_nat_counters;
const sim_nat_counters *sim_nat_counters_get(const sim_nat *n);

/* ---------------------------------------------------------------------------------------------
 * The trace: a BLAKE2b hash over every delivery (time, host, addresses, bytes) and timer firing.
 * Two runs of one seed with the same test code give the same value. */
uint64_t sim_trace_hash(const sim *s);
uint64_t sim_events_run(const sim *s); /* events processed so far */

enum sim_trace_kind { SIM_TR_SEND, SIM_TR_DELIVER, SIM_TR_DROP, SIM_TR_TIMER };
typedef struct sim_trace_ev {
	enum sim_trace_kind kind;
	uint64_t now;
	const sim_host *host;  /* sender for SEND/DROP, receiver for DELIVER, owner for TIMER */
	konce_addr from, to;   /* as seen at that point (after NAT rewriting) */
	size_t len;
	const char *why;       /* DROP: "lost", "queue", "mtu", "noport", "filter", "noroute", "cpu" */
} sim_trace_ev;
/* Calls fn for every event; NULL turns it off.  With SIM_TRACE=1 in the environment, sim_new
 * installs a tracer that prints one line per event to stderr. */
void sim_set_tracer(sim *s, void (*fn)(void *ctx, const sim_trace_ev *ev), void *ctx);

/* ---------------------------------------------------------------------------------------------
 * Seeds and failure reports for test mains.
 *
 * SIM_FOR_EACH_SEED(seed, n) runs its body for seeds 1..n, or SIM_SEEDS=count seeds, or just the
 * one seed SIM_SEED=N.  SIM_ASSERT(s, cond) and SIM_ASSERT_EQ(s, a, b) print
 *     sim: failed with seed N (rerun: SIM_SEED=N ./build/tests/sim/test_x)
 * before failing through cmocka's fail() (define SIM_FAIL() before including sim.h to change
 * that).  If any other assertion escapes a seed loop (a cmocka assert_*), the next loop or exit
 * prints the same line for the seed that was running.  Seed loops do not nest. */
uint64_t sim_seeds_begin(uint64_t default_count);
bool sim_seeds_next(uint64_t *seed);
void sim_report_failure(uint64_t seed, const char *what, const char *file, int line);

#define SIM_FOR_EACH_SEED(var, n) \
	for (uint64_t var = sim_seeds_begin(n); sim_seeds_next(&var);)

#ifndef SIM_FAIL
#define SIM_FAIL() fail()
#endif

/* As SIM_ASSERT, for a test that holds the seed rather than the simulator. */
#define SIM_ASSERT_SEED(seed, cond)                                               \
	do {                                                                      \
		if (!(cond)) {                                                    \
			sim_report_failure((seed), #cond, __FILE__, __LINE__);     \
			SIM_FAIL();                                               \
		}                                                                 \
	} while (0)

#define SIM_ASSERT(s, cond) SIM_ASSERT_SEED(sim_seed(s), cond)

#define SIM_ASSERT_EQ(s, a, b)                                                          \
	do {                                                                            \
		unsigned long long sim_a_ = (unsigned long long)(a);                    \
		unsigned long long sim_b_ = (unsigned long long)(b);                    \
		if (sim_a_ != sim_b_) {                                                 \
			char sim_m_[256];                                               \
			snprintf(sim_m_, sizeof(sim_m_), "%s == %s (%llu != %llu)", #a, #b, \
				 sim_a_, sim_b_);                                       \
			sim_report_failure(sim_seed(s), sim_m_, __FILE__, __LINE__);    \
			SIM_FAIL();                                                     \
		}                                                                       \
	} while (0)

#endif
