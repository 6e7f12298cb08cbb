/* sim_int.h - the simulator's internal structures, shared by sim.c, simnet.c, simnat.c, simrng.c
 * and simmap.c.  Tests use sim.h only. */
#ifndef KONCE_SIM_INT_H
#define KONCE_SIM_INT_H

#include <sodium.h>

#include "tests/sim/sim.h"

/* simrng.c: xoshiro256** seeded through splitmix64; one independent stream per (seed, stream). */
typedef struct simrng {
	uint64_t s[4];
} simrng;
void simrng_seed(simrng *r, uint64_t seed, uint64_t stream);
uint64_t simrng_next(simrng *r);
uint64_t simrng_below(simrng *r, uint64_t n);
double simrng_unit(simrng *r);

/* simrng.c: a counting konce_env.  env must stay the first member (env.ctx points at it). */
typedef struct sim_envctx {
	konce_env env;
	simrng rng;
	uint64_t allocs, frees, fail_after;
	uint64_t bytes, peak_bytes; /* live, by malloc_usable_size() */
} sim_envctx;
void sim_envctx_init(sim_envctx *e, uint64_t seed, uint64_t stream);

/* simmap.c: a chained hash map from short byte keys to a pointer and a number.  Nodes stay where
 * they are until deleted, so callers may keep pointers to them. */
enum { SIMMAP_KEY_MAX = 40 };
typedef struct simmap_node {
	struct simmap_node *next;
	uint64_t hash;
	void *val;
	uint64_t u;
	uint8_t klen;
	uint8_t key[SIMMAP_KEY_MAX];
} simmap_node;
typedef struct simmap {
	simmap_node **b;
	size_t nb, n;
} simmap;
simmap_node *simmap_get(const simmap *m, const void *key, size_t klen);
/* The node for key, created (val NULL, u 0) if absent; NULL only when out of memory. */
simmap_node *simmap_put(simmap *m, const void *key, size_t klen, bool *created);
void simmap_del(simmap *m, simmap_node *node);
/* Calls fn on every node; nodes for which it returns true are deleted after the call. */
void simmap_sweep(simmap *m, bool (*fn)(void *ctx, simmap_node *node), void *ctx);
void simmap_free(simmap *m);

/* Why a datagram was dropped; indexes the counters and names the trace reason. */
enum sim_drop {
	SIM_DROP_LOST,
	SIM_DROP_QUEUE,
	SIM_DROP_MTU,
	SIM_DROP_NOPORT,
	SIM_DROP_FILTER,
	SIM_DROP_NOROUTE,
	SIM_DROP_CPU,
};

/* A datagram on its way.  realm is where `to` is resolved on arrival: 0 is the public realm,
 * k > 0 the private realm inside s->nats[k - 1]. */
typedef struct sim_pkt {
	struct sim_pkt *next; /* deferred-send list */
	sim_host *src;        /* the host it physically left */
	struct sim_link *link;
	sim_host *dst;        /* the receiving host, once found on arrival */
	uint32_t realm;
	int prio;
	uint64_t qseq;
	konce_addr from, to;
	size_t len;
	uint8_t data[];
} sim_pkt;

typedef struct sim_link {
	sim_link_cfg cfg;
	bool custom;         /* false: follows s->deflt */
	uint64_t tx_free_ns; /* when the rate limiter's transmitter is next idle */
	sim_counters c;
} sim_link;

enum sim_ev_kind { EV_ARRIVE, EV_LAND, EV_DEPART, EV_CPU_DONE, EV_TIMER, EV_AT };
typedef struct sim_ev {
	uint64_t t, seq;
	enum sim_ev_kind kind;
	void *p;
} sim_ev;

struct sim_host {
	sim *s;
	uint32_t id; /* 1-based; 0 names "nowhere" in link keys */
	uint32_t realm;
	konce_addr ip;
	char name[KONCE_ADDR_STRLEN];
	sim_host_ops ops;
	void *ctx;
	uint16_t ports[SIM_HOST_MAX_PORTS];
	size_t nports;
	sim_counters tx, rx;
	sim_envctx env;
	size_t timer_pos; /* index of its EV_TIMER in the heap, or SIZE_MAX */
	bool busy;
	uint64_t up_rate, down_rate; /* access links, bytes/s; 0 unlimited */
	size_t up_queue, down_queue;
	uint64_t up_free_ns, down_free_ns;
	sim_pkt **q; /* input queue: a min-heap on (prio, qseq) */
	size_t qn, qalloc, qlimit;
};

struct sim_nat {
	sim *s;
	uint32_t id;        /* its private realm's number */
	uint32_t outer;     /* the realm its public address lives in */
	konce_addr pub;     /* port 0 */
	char name[KONCE_ADDR_STRLEN];
	sim_nat_cfg cfg;
	simmap out;         /* internal addr + remote key -> struct nat_map */
	simmap in;          /* external port -> struct nat_map */
	simmap perms;       /* mapping uid + remote key -> last use (u) */
	uint64_t next_uid;
	uint32_t next_port; /* sequential allocation */
	size_t sweep_at;
	sim_nat_counters c;
};

struct sim {
	uint64_t seed, now, seq, events, qseq, event_limit;
	simrng rng;
	sim_envctx env;
	sim_ev *heap;
	size_t hn, hcap;
	sim_host **hosts;
	size_t nhosts, hosts_cap;
	sim_nat **nats;
	size_t nnats, nats_cap;
	simmap addrs; /* realm + ip -> host (u = 1) or NAT (u = 2) */
	simmap links; /* from id + to id -> sim_link */
	sim_link_cfg deflt;
	crypto_generichash_state trace;
	void (*tracer)(void *ctx, const sim_trace_ev *ev);
	void *tracer_ctx;
	sim_host *in_recv; /* the host whose recv callback is running */
	sim_pkt *defer_head, **defer_tail;
};

enum { SIM_ENT_HOST = 1, SIM_ENT_NAT = 2 };

/* sim.c */
int sim_ev_push(sim *s, uint64_t t, enum sim_ev_kind kind, void *p);
void sim_trace_mix(sim *s, const void *p, size_t n);
void sim_trace_emit(sim *s, enum sim_trace_kind kind, const sim_host *h, const konce_addr *from,
		    const konce_addr *to, size_t len, const char *why);
void sim_host_arrive(sim *s, sim_host *h, sim_pkt *p);
bool sim_host_bound(const sim_host *h, uint16_t port);
int sim_parse_ip(const char *text, konce_addr *out);

/* simnet.c */
simmap_node *sim_addr_node(const sim *s, uint32_t realm, const uint8_t ip[16]);
int sim_addr_claim(sim *s, uint32_t realm, const uint8_t ip[16], void *ent, uint64_t type);
void sim_addr_release(sim *s, uint32_t realm, const uint8_t ip[16]);
void sim_pkt_drop(sim *s, sim_pkt *p, enum sim_drop why, const sim_host *rx);
void sim_pkt_depart(sim *s, sim_pkt *p);
void sim_pkt_arrive(sim *s, sim_pkt *p);
void sim_pkt_land(sim *s, sim_pkt *p);
void sim_links_free(sim *s);

/* simnat.c */
/* Outbound through n: rewrites *from.  0, or -1 (dropped; n's counters say why). */
int simnat_out(sim_nat *n, konce_addr *from, const konce_addr *to, uint64_t now);
/* Inbound through n: rewrites *to to the internal address.  0 or -1. */
int simnat_in(sim_nat *n, const konce_addr *from, konce_addr *to, uint64_t now);
/* The internal address a datagram to `to` would reach now, ignoring filtering; changes nothing. */
bool simnat_peek(const sim_nat *n, const konce_addr *to, uint64_t now, konce_addr *internal);
void simnat_free(sim_nat *n);

#endif
