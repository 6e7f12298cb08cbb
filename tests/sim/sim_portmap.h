/* sim_portmap.h - port mapping on the simulator: a NAT-PMP / UPnP-IGD gateway on a simulated NAT,
 * and a host's port-mapping worker that runs the shipping policy (nat/portmap_policy.h) against it.
 *
 * The gateway (sim_pmgw) sits on a NAT (sim.h) and grants leases as real ones in it
 * (sim_nat_lease): a datagram to the leased port reaches the host, and the replies to it leave from
 * that port, until the lease ends; a lease not renewed in time is gone.  It speaks NAT-PMP, UPnP-IGD
 * or both, and it may refuse every mapping (NAT-PMP result 2, UPnP error 606), fall silent (nothing
 * answered, as a gateway with the service off that drops the requests), grant only permanent leases
 * (UPnP 725), or shorten the lease: a lease asked for longer than lease_max_s is granted a seeded
 * one in [lease_min_s, lease_max_s].  Each NAT-PMP datagram, either way, is lost with probability
 * loss; the LAN round trip to the gateway is seeded per exchange.
 *
 * The worker (sim_pm) is what node/io/portmap.c and portmap_io.c are to the daemon, on virtual time:
 * the policy's calls as portmap.c makes them (konce_portmap_policy_start / _next / _result_in /
 * _event_pop / _wake / _stop), one request performed at a time, and each request answered as the
 * libraries would answer it on the daemon (libnatpmp's codes, with its retransmissions at 250 ms
 * doubling up to the 2000 ms deadline portmap_io.c gives it; miniupnpc's SSDP wait of 2000 ms, its
 * UPnP error codes, its 3 s SOAP timeouts), interpreted by the same nat/pmresult.h calls as
 * portmap_io.c's.  A request's result is due after the virtual time its exchanges take; the host
 * runs sim_pm_run() from its timer when sim_pm_next_timer() is due, and gets the policy's events.
 * The gateway's side of an exchange (a lease made, renewed or deleted) happens when the request is
 * handed to the worker.
 *
 * Everything random draws from the simulator's seeded streams: a run is a function of its seed.
 */
#ifndef KONCE_SIM_PORTMAP_H
#define KONCE_SIM_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/portmap_policy.h"
#include "tests/sim/sim.h"

enum sim_pmgw_mode {
	SIM_PMGW_ANSWER = 0, /* grants what it can */
	SIM_PMGW_REFUSE,     /* answers, but maps nothing */
	SIM_PMGW_SILENT,     /* answers nothing (the requests time out) */
};

typedef struct sim_pmgw_cfg {
	bool natpmp, upnp;        /* the protocols it speaks; a NAT-PMP request to one that does not
				   * is answered by ICMP port unreachable */
	enum sim_pmgw_mode mode;
	bool permanent_only;      /* UPnP: only lifetime-0 leases (error 725) */
	/* its leases carry the host's new flows from the leased port on an endpoint-dependent NAT too
	 * (sim_nat_lease's outbound: an endpoint-independent mapping, as RFC 6887's MAP); false: there
	 * only the replies to what came in through them, as a Linux NAT's DNAT and connection
	 * tracking (miniupnpd) */
	bool outbound;
	uint32_t lease_min_s, lease_max_s; /* the shortening above; lease_max_s 0 = grant what is asked */
	double loss;              /* each NAT-PMP datagram lost with this probability */
	uint64_t rtt_min_us, rtt_max_us; /* the LAN round trip; 0 = 1..4 ms */
} sim_pmgw_cfg;

typedef struct sim_pmgw_counters {
	uint64_t exchanges;  /* requests that reached it (each NAT-PMP retransmission counts) */
	uint64_t granted;    /* new leases */
	uint64_t renewed;    /* leases extended */
	uint64_t deleted;    /* leases given back */
	uint64_t refused;    /* mapping requests refused (REFUSE, 725, a taken port) */
	uint64_t unanswered; /* requests that got no answer in time (SILENT, losses) */
} sim_pmgw_counters;

typedef struct sim_pmgw sim_pmgw;

/* A gateway on nat (which must outlive it).  NULL on a bad cfg or out of memory. */
sim_pmgw *sim_pmgw_new(sim *s, sim_nat *nat, const sim_pmgw_cfg *cfg);
void sim_pmgw_free(sim_pmgw *g); /* the leases it granted stay in the NAT until they end */
void sim_pmgw_set_mode(sim_pmgw *g, enum sim_pmgw_mode mode);
const sim_pmgw_counters *sim_pmgw_counters_get(const sim_pmgw *g);
sim_nat *sim_pmgw_nat(const sim_pmgw *g);

typedef struct sim_pm sim_pm;

typedef struct sim_pm_cfg {
	sim_host *h;              /* the host: directly behind the gateway's NAT to get anything */
	sim_pmgw *gw;             /* its LAN's gateway; NULL = none (every request times out) */
	konce_portmap_policy_cfg policy; /* as konce_nctravhost_wants_portmap() makes it: the port, defaults */
	/* the policy's events, as portmap.h's callback (valid for the call only) */
	void (*on_event)(void *ctx, const konce_portmap_policy_event *ev, uint64_t now);
	/* one line per request and result (konce_pmres_req_line / _result_line); NULL = none */
	void (*trace)(void *ctx, const char *line);
	void *ctx;
} sim_pm_cfg;

/* The policy, started (its first discovery is due at once: run sim_pm_run).  0 and *out,
 * -EINVAL, -ENOMEM; policy.env NULL = the host's seeded env. */
int sim_pm_start(sim_pm **out, sim *s, const sim_pm_cfg *cfg, uint64_t now);
/* The policy's stop (a held lease is deleted by the next runs, as konce_portmap_stop does). */
void sim_pm_stop(sim_pm *pm, uint64_t now);
void sim_pm_free(sim_pm *pm);
/* Feeds the result due (if any), hands out the policy's next request, delivers its events. */
void sim_pm_run(sim_pm *pm, uint64_t now);
/* When sim_pm_run has something to do: the outstanding result's time, or the policy's wake. */
uint64_t sim_pm_next_timer(const sim_pm *pm);
const konce_portmap_policy *sim_pm_policy(const sim_pm *pm);
uint64_t sim_pm_requests(const sim_pm *pm, enum konce_portmap_policy_op op); /* handed out so far */

#endif
