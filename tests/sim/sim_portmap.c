/* sim_portmap.c - a port-mapping gateway on a simulated NAT, and a host's worker running the
 * shipping policy against it (sim_portmap.h).
 *
 * The worker's answers follow node/io/portmap_io.c call for call: the library's code for what the
 * gateway did, then the nat/pmresult.h call that portmap_io.c makes on it.  The codes are the
 * libraries' own (natpmp.h, miniupnpc's upnpcommands.h) and the UPnP-IGD error numbers.
 */
#include "tests/sim/sim_portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <miniupnpc/upnpcommands.h>
#include <natpmp.h>

#include "nat/pmresult.h"

#define MS SIM_MS

enum {
	NATPMP_DEADLINE_MS = 2000,   /* portmap_io.c's natpmp_timeout_ms default (node_trav.c gives 0) */
	NATPMP_FIRST_RETRY_MS = 250, /* libnatpmp's first retransmission, doubling after */
	UPNP_DISCOVER_MS = 2000,     /* portmap_io.c's upnp_discover_ms default: SSDP waits it out */
	UPNP_SOAP_TIMEOUT_MS = 3000, /* miniupnpc's socket timeouts */
	UPNP_IGD_CONNECTED = 1,      /* UPNP_GetValidIGD(): a connected IGD */
	UPNP_NOT_AUTHORIZED = 606,   /* UPnP: Action not authorized */
	NATPMP_RC_NOT_AUTHORIZED = 2, /* NAT-PMP result codes (RFC 6886 3.5) */
	NATPMP_RC_NO_RESOURCES = 4,
};

struct sim_pmgw {
	sim *s;
	sim_nat *nat;
	sim_pmgw_cfg cfg;
	sim_pmgw_counters c;
};

struct sim_pm {
	sim *s;
	sim_pm_cfg cfg;
	konce_portmap_policy *pol;
	bool busy;                     /* a request is being performed; its result is due at res_at */
	konce_portmap_policy_result res;
	char detail[160];
	uint64_t res_at;
	bool queued;                   /* the policy's next request, waiting for the busy one */
	konce_portmap_policy_req next;
	/* what the worker keeps between requests (portmap_io.c's konce_pmio) */
	bool natpmp_open, upnp_ok;
	konce_addr natpmp_ext, upnp_ext;
	uint64_t nreq[KONCE_PM_OP_DELETE + 1];
};

/* ---- the gateway ------------------------------------------------------------------------------ */

sim_pmgw *sim_pmgw_new(sim *s, sim_nat *nat, const sim_pmgw_cfg *cfg)
{
	if (!nat || !cfg || cfg->loss < 0 || cfg->loss >= 1 || cfg->rtt_min_us > cfg->rtt_max_us ||
	    cfg->lease_min_s > cfg->lease_max_s)
		return NULL;
	sim_pmgw *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->s = s;
	g->nat = nat;
	g->cfg = *cfg;
	if (!g->cfg.rtt_max_us)
		g->cfg.rtt_min_us = 1 * MS, g->cfg.rtt_max_us = 4 * MS;
	if (g->cfg.lease_max_s && !g->cfg.lease_min_s)
		g->cfg.lease_min_s = g->cfg.lease_max_s;
	return g;
}

void sim_pmgw_free(sim_pmgw *g) { free(g); }
void sim_pmgw_set_mode(sim_pmgw *g, enum sim_pmgw_mode mode) { g->cfg.mode = mode; }
const sim_pmgw_counters *sim_pmgw_counters_get(const sim_pmgw *g) { return &g->c; }
sim_nat *sim_pmgw_nat(const sim_pmgw *g) { return g->nat; }

static uint64_t gw_rtt(sim_pmgw *g)
{
	return g->cfg.rtt_min_us + sim_rand_below(g->s, g->cfg.rtt_max_us - g->cfg.rtt_min_us + 1);
}

/* The lease granted for one asked for life seconds (not 0). */
static uint32_t gw_shorten(sim_pmgw *g, uint32_t life)
{
	if (!g->cfg.lease_max_s || life <= g->cfg.lease_max_s)
		return life;
	return g->cfg.lease_min_s + (uint32_t)sim_rand_below(g->s, g->cfg.lease_max_s - g->cfg.lease_min_s + 1);
}

static uint64_t lease_end(uint64_t at, uint32_t life_s)
{
	return life_s ? at + (uint64_t)life_s * SIM_SEC : UINT64_MAX;
}

/* A NAT-PMP mapping request reaching the gateway at `at` (RFC 6886 3.3): lifetime 0 deletes the
 * host's mapping of iport; otherwise the host's mapping is renewed at its port, or a new one made at
 * the port asked for, or another if that one is taken.  0 and *port, *granted, or a result code. */
static unsigned gw_natpmp_map(sim_pmgw *g, sim_host *h, uint16_t iport, uint16_t want, uint32_t life, uint64_t at,
			      uint16_t *port, uint32_t *granted)
{
	uint16_t held;
	bool has = sim_nat_lease_get(g->nat, h, iport, &held, NULL) == 0;
	*port = 0;
	*granted = 0;
	if (!life) {
		if (has && !sim_nat_unlease(g->nat, held))
			g->c.deleted++;
		return 0;
	}
	if (g->cfg.mode == SIM_PMGW_REFUSE) {
		g->c.refused++;
		return NATPMP_RC_NOT_AUTHORIZED;
	}
	*granted = gw_shorten(g, life);
	uint64_t until = lease_end(at, *granted);
	if (has && !sim_nat_lease(g->nat, held, h, iport, until, g->cfg.outbound)) {
		g->c.renewed++;
		*port = held;
		return 0;
	}
	uint16_t p = want ? want : iport;
	for (int i = 0; i < 64; i++, p = (uint16_t)(1024 + sim_rand_below(g->s, 65536 - 1024))) {
		if (!sim_nat_lease(g->nat, p, h, iport, until, g->cfg.outbound)) {
			g->c.granted++;
			*port = p;
			return 0;
		}
	}
	g->c.refused++;
	return NATPMP_RC_NO_RESOURCES;
}

/* AddPortMapping reaching the IGD at `at`: 0, or a UPnP error code. */
static int gw_upnp_add(sim_pmgw *g, sim_host *h, uint16_t ext, uint16_t iport, uint32_t life, uint64_t at)
{
	uint16_t held;
	if (g->cfg.mode == SIM_PMGW_REFUSE || (g->cfg.permanent_only && life)) {
		g->c.refused++;
		return g->cfg.mode == SIM_PMGW_REFUSE ? UPNP_NOT_AUTHORIZED : KONCE_PMRES_UPNP_PERMANENT_ONLY;
	}
	bool renew = sim_nat_lease_get(g->nat, h, iport, &held, NULL) == 0 && held == ext;
	if (sim_nat_lease(g->nat, ext, h, iport, lease_end(at, life ? gw_shorten(g, life) : 0), g->cfg.outbound)) {
		g->c.refused++;
		return KONCE_PMRES_UPNP_CONFLICT; /* taken, or the client's port is mapped elsewhere */
	}
	renew ? g->c.renewed++ : g->c.granted++;
	return 0;
}

/* ---- the worker's exchanges ------------------------------------------------------------------- */

static sim_pmgw *gw_of(const sim_pm *pm)
{
	sim_pmgw *g = pm->cfg.gw;
	return g && sim_host_nat(pm->cfg.h) == g->nat ? g : NULL;
}

/* One libnatpmp request from *t: sent, then retransmitted at 250 ms, doubling, until the deadline
 * (portmap_io.c natpmp_wait).  1: answered, *t at the answer; 0: no answer, *t at the deadline;
 * NATPMP_ERR_NOGATEWAYSUPPORT: the gateway does not speak NAT-PMP (ICMP port unreachable).
 * *reached: the gateway got the request (at *at) and acts on it, answered or not. */
static int natpmp_exchange(sim_pm *pm, uint64_t *t, bool *reached, uint64_t *at)
{
	sim_pmgw *g = gw_of(pm);
	uint64_t deadline = *t + NATPMP_DEADLINE_MS * MS, wait = NATPMP_FIRST_RETRY_MS * MS;
	*reached = false;
	if (g && !g->cfg.natpmp) {
		*t += gw_rtt(g);
		return NATPMP_ERR_NOGATEWAYSUPPORT;
	}
	for (uint64_t send = *t; g && send < deadline; send += wait, wait *= 2) {
		uint64_t rtt = gw_rtt(g);
		if (sim_rand_unit(pm->s) < g->cfg.loss || g->cfg.mode == SIM_PMGW_SILENT)
			continue; /* the request is lost, or dropped */
		g->c.exchanges++;
		if (!*reached)
			*at = send + rtt / 2;
		*reached = true;
		if (sim_rand_unit(pm->s) >= g->cfg.loss && send + rtt < deadline) {
			*t = send + rtt;
			return 1;
		}
	}
	if (g)
		g->c.unanswered++;
	*t = deadline;
	return 0;
}

static void natpmp_fail(konce_portmap_policy_result *res, int r, char *detail, size_t dlen, const char *what)
{
	res->err = konce_pmres_natpmp_err(r);
	res->code = r;
	snprintf(detail, dlen, "%s (libnatpmp %d)", what, r);
}

static void natpmp_do(sim_pm *pm, const konce_portmap_policy_req *req, konce_portmap_policy_result *res, uint64_t *t)
{
	bool reached;
	uint64_t at;
	int r;
	if (req->op == KONCE_PM_OP_DISCOVER || !pm->natpmp_open) {
		pm->natpmp_open = false;
		if ((r = natpmp_exchange(pm, t, &reached, &at)) != 1) { /* the public address request */
			r = r ? r : NATPMP_TRYAGAIN;
			natpmp_fail(res, r, pm->detail, sizeof pm->detail, konce_pmres_natpmp_why(r));
			return;
		}
		pm->natpmp_open = true;
		pm->natpmp_ext = sim_nat_public(gw_of(pm)->nat, 0);
	}
	if (req->op == KONCE_PM_OP_DISCOVER) {
		res->external = pm->natpmp_ext;
		snprintf(pm->detail, sizeof pm->detail, "gateway on %s", gw_of(pm) ? "the NAT" : "?");
		return;
	}
	uint32_t life, granted = 0;
	uint16_t pub, port = 0;
	unsigned rc = 0;
	konce_pmres_natpmp_lease(req, &pub, &life);
	r = natpmp_exchange(pm, t, &reached, &at);
	if (reached)
		rc = gw_natpmp_map(gw_of(pm), pm->cfg.h, req->internal_port, pub, life, at, &port, &granted);
	if (r != 1) {
		natpmp_fail(res, r ? r : NATPMP_TRYAGAIN, pm->detail, sizeof pm->detail, "mapping request");
		return;
	}
	if (rc) { /* readnatpmpresponseorretry: NATPMP_ERR_NOTAUTHORIZED etc. for result codes */
		natpmp_fail(res, rc == NATPMP_RC_NOT_AUTHORIZED ? NATPMP_ERR_NOTAUTHORIZED : NATPMP_ERR_OUTOFRESOURCES,
			    pm->detail, sizeof pm->detail, "mapping refused");
		return;
	}
	if (!konce_pmres_natpmp_answers(req, NATPMP_RESPTYPE_UDPPORTMAPPING, req->internal_port)) {
		res->err = KONCE_PM_ERR_IO;
		snprintf(pm->detail, sizeof pm->detail, "answer for another mapping");
		return;
	}
	res->external = pm->natpmp_ext;
	res->external.port = port;
	res->lifetime_s = granted;
	snprintf(pm->detail, sizeof pm->detail, "granted %u s", (unsigned)granted);
}

/* A SOAP call to the IGD from *t: its round trip (true), or miniupnpc's timeout (false). */
static bool soap(sim_pm *pm, uint64_t *t)
{
	sim_pmgw *g = gw_of(pm);
	if (!g || !g->cfg.upnp || g->cfg.mode == SIM_PMGW_SILENT) {
		if (g)
			g->c.unanswered++;
		*t += UPNP_SOAP_TIMEOUT_MS * MS;
		return false;
	}
	g->c.exchanges++;
	*t += gw_rtt(g);
	return true;
}

/* GetExternalIPAddress: 0 and *out, or a miniupnpc code. */
static int upnp_extip(sim_pm *pm, uint64_t *t, konce_addr *out)
{
	char ip[INET_ADDRSTRLEN];
	if (!soap(pm, t))
		return UPNPCOMMAND_HTTP_ERROR;
	konce_addr a = sim_nat_public(gw_of(pm)->nat, 0);
	if (!inet_ntop(AF_INET, a.ip + 12, ip, sizeof ip))
		return UPNPCOMMAND_INVALID_RESPONSE;
	return konce_pmres_upnp_extip(ip, out);
}

static void upnp_do(sim_pm *pm, const konce_portmap_policy_req *req, konce_portmap_policy_result *res, uint64_t *t)
{
	int r;
	if (req->op == KONCE_PM_OP_DISCOVER || !pm->upnp_ok) {
		sim_pmgw *g = gw_of(pm);
		pm->upnp_ok = false;
		*t += UPNP_DISCOVER_MS * MS; /* SSDP collects answers for the whole wait */
		if (!g || !g->cfg.upnp || g->cfg.mode == SIM_PMGW_SILENT) {
			if (g)
				g->c.unanswered++;
			res->err = KONCE_PM_ERR_NO_GATEWAY;
			snprintf(pm->detail, sizeof pm->detail, "no UPnP device answered SSDP within %u ms",
				 (unsigned)UPNP_DISCOVER_MS);
			return;
		}
		const char *why;
		if (!soap(pm, t) || !konce_pmres_upnp_igd(UPNP_IGD_CONNECTED, &res->err, &why)) {
			res->err = KONCE_PM_ERR_NO_GATEWAY; /* the description fetch timed out */
			return;
		}
		pm->upnp_ok = true;
	}
	if (req->op == KONCE_PM_OP_DISCOVER) {
		if ((r = upnp_extip(pm, t, &res->external))) {
			res->err = konce_pmres_upnp_err(r), res->code = r;
			pm->upnp_ok = false;
			return;
		}
		pm->upnp_ext = res->external;
		return;
	}
	uint64_t at = *t;
	if (req->op == KONCE_PM_OP_DELETE) {
		r = UPNPCOMMAND_HTTP_ERROR;
		if (soap(pm, t)) {
			r = sim_nat_unlease(gw_of(pm)->nat, req->external_port) ? KONCE_PMRES_UPNP_NO_SUCH_ENTRY : 0;
			gw_of(pm)->c.deleted += !r;
		}
		if ((res->err = konce_pmres_upnp_delete(r)))
			res->code = r;
		snprintf(pm->detail, sizeof pm->detail, "DeletePortMapping: %d", r);
		return;
	}
	r = soap(pm, t) ? gw_upnp_add(gw_of(pm), pm->cfg.h, req->external_port, req->internal_port, req->lifetime_s, at)
			: UPNPCOMMAND_HTTP_ERROR;
	if (r) {
		res->err = konce_pmres_upnp_err(r), res->code = r;
		snprintf(pm->detail, sizeof pm->detail, "AddPortMapping: %d", r);
		return;
	}
	konce_addr now_ext;
	char lease[16];
	uint64_t until;
	bool ext_ok = upnp_extip(pm, t, &now_ext) == 0;
	/* GetSpecificPortMappingEntry: the lease left, in seconds (0: permanent) */
	bool entry = soap(pm, t) && !sim_nat_lease_get(gw_of(pm)->nat, pm->cfg.h, req->internal_port, NULL, &until);
	if (entry)
		snprintf(lease, sizeof lease, "%llu",
			 until == UINT64_MAX ? 0ULL : (unsigned long long)((until - *t + SIM_SEC / 2) / SIM_SEC));
	konce_pmres_upnp_mapped(req, ext_ok ? &now_ext : NULL, &pm->upnp_ext, entry ? lease : NULL, res);
	snprintf(pm->detail, sizeof pm->detail, "IGD granted lease %s s", entry ? lease : "(unknown)");
}

/* ---- the policy's driver ---------------------------------------------------------------------- */

static void trace(sim_pm *pm, const char *line)
{
	if (pm->cfg.trace)
		pm->cfg.trace(pm->cfg.ctx, line);
}

/* The worker takes req (portmap_io.c konce_pmio_do): the gateway acts now, the result is due at
 * the end of the exchanges. */
static void perform(sim_pm *pm, const konce_portmap_policy_req *req, uint64_t now)
{
	char line[256];
	uint64_t t = now;
	konce_pmres_req_line(req, line, sizeof line);
	trace(pm, line);
	pm->nreq[req->op]++;
	memset(&pm->res, 0, sizeof pm->res);
	pm->res.id = req->id;
	pm->detail[0] = 0;
	if (req->proto == KONCE_PM_PROTO_NATPMP)
		natpmp_do(pm, req, &pm->res, &t);
	else if (req->proto == KONCE_PM_PROTO_UPNP)
		upnp_do(pm, req, &pm->res, &t);
	else
		pm->res.err = KONCE_PM_ERR_IO;
	pm->busy = true;
	pm->res_at = t;
}

int sim_pm_start(sim_pm **out, sim *s, const sim_pm_cfg *cfg, uint64_t now)
{
	if (!cfg || !cfg->h || !cfg->on_event)
		return -EINVAL;
	sim_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->s = s;
	pm->cfg = *cfg;
	konce_portmap_policy_cfg pc = cfg->policy;
	if (!pc.env)
		pc.env = sim_host_env(cfg->h);
	int e = konce_portmap_policy_new(&pm->pol, &pc);
	if (e) {
		free(pm);
		return e;
	}
	konce_portmap_policy_start(pm->pol, now);
	*out = pm;
	return 0;
}

void sim_pm_run(sim_pm *pm, uint64_t now)
{
	konce_portmap_policy_event ev;
	char line[256];
	if (pm->busy && now >= pm->res_at) {
		pm->busy = false;
		konce_pmres_result_line(&pm->res, pm->detail, line, sizeof line);
		trace(pm, line);
		if (konce_portmap_policy_result_in(pm->pol, now, &pm->res) == -ESTALE) {
			snprintf(line, sizeof line, "result %u: stale, ignored", pm->res.id);
			trace(pm, line);
		}
	}
	if (!pm->queued && konce_portmap_policy_next(pm->pol, now, &pm->next))
		pm->queued = true;
	if (pm->queued && !pm->busy) {
		pm->queued = false;
		perform(pm, &pm->next, now);
	}
	while (konce_portmap_policy_event_pop(pm->pol, &ev))
		pm->cfg.on_event(pm->cfg.ctx, &ev, now);
}

uint64_t sim_pm_next_timer(const sim_pm *pm)
{
	return pm->busy ? pm->res_at : konce_portmap_policy_wake(pm->pol);
}

void sim_pm_stop(sim_pm *pm, uint64_t now)
{
	konce_portmap_policy_stop(pm->pol, now);
	sim_pm_run(pm, now);
}

void sim_pm_free(sim_pm *pm)
{
	if (!pm)
		return;
	konce_portmap_policy_free(pm->pol);
	free(pm);
}

const konce_portmap_policy *sim_pm_policy(const sim_pm *pm) { return pm->pol; }

uint64_t sim_pm_requests(const sim_pm *pm, enum konce_portmap_policy_op op)
{
	return (unsigned)op <= KONCE_PM_OP_DELETE ? pm->nreq[op] : 0;
}
