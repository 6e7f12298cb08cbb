/* node_trav_setup.c - starting and stopping traversal in the node: the configuration
 * (rendezvous_peers, introductions, lifetime, capacity), the host candidates, the port-mapping
 * worker's events, and the teardown that deletes the lease.  The traversal core (node/core/trav.h)
 * does the work; node_trav.c hosts it once it is started.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "konce/traversal.h"
#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "node/io/portmap.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/core/nctrav.h"
#include "node/core/trav_info.h"
#include "node/io/node_trav_int.h"
#include "node/io/node_trav_socks.h"

/* ---- port mapping --------------------------------------------------------------------------- */

static void on_portmap(void *ctx, const konce_portmap_policy_event *ev)
{
	struct node_trav *t = ctx;
	char as[KONCE_ADDR_STRLEN];
	uint64_t now = node_now_us();
	switch (ev->type) {
	case KONCE_PM_EV_MAPPED:
		t->pm_state = "mapped";
		t->pm_proto = ev->proto;
		t->pm_external = ev->external;
		node_log(t->n, KONCE_LOG_INFO, "port mapped by %s at %s (lease %u s)", konce_portmap_policy_proto_name(ev->proto),
			 konce_addr_str(&ev->external, as), (unsigned)ev->lifetime_s);
		konce_trav_set_mapped(t->core, &ev->external, now);
		break;
	case KONCE_PM_EV_LOST:
		t->pm_state = "lost";
		t->pm_reason = ev->reason;
		node_log(t->n, KONCE_LOG_INFO, "port mapping lost (%s)", konce_portmap_policy_err_name(ev->reason));
		konce_trav_set_mapped(t->core, NULL, now);
		break;
	case KONCE_PM_EV_UNAVAILABLE:
		t->pm_state = "unavailable";
		t->pm_reason = ev->reason;
		node_log(t->n, KONCE_LOG_DEBUG, "no port mapping (%s)", konce_portmap_policy_err_name(ev->reason));
		break;
	}
	node_trav_schedule(t);
}

static void on_portmap_trace(void *ctx, const char *line)
{
	struct node_trav *t = ctx;
	node_log(t->n, KONCE_LOG_DEBUG, "portmap: %s", line);
}

static void start_portmap(struct node_trav *t)
{
	konce_addr local;
	t->pm_state = "off";
	if (konce_udp_local(t->n->udp, &local))
		return;
	konce_portmap_cfg pc = {.internal_port = local.port, .cb = on_portmap, .trace = on_portmap_trace, .ctx = t};
	int e = konce_portmap_start(&t->pm, t->n->base, &pc);
	if (e)
		node_log(t->n, KONCE_LOG_WARN, "cannot start port mapping: %s", strerror(-e));
	else
		t->pm_state = "trying";
}

/* ---- setup ---------------------------------------------------------------------------------- */

struct trav_setup {
	unsigned nrdv, nhost;
	uint8_t rdv_pk[KONCE_RDVCLIENT_MAX_RDV][KONCE_WIRE_KEY];
	konce_addr rdv_addr[KONCE_RDVCLIENT_MAX_RDV];
	konce_addr host[KONCE_RDVCLIENT_MAX_HOST];
};

static int parse_peers(struct trav_setup *t, const char *list, char *err, size_t errlen)
{
	char *dup = strdup(list), *save = NULL;
	if (!dup)
		return -ENOMEM;
	for (char *tok = strtok_r(dup, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char *at = strchr(tok, '@');
		if (t->nrdv == KONCE_RDVCLIENT_MAX_RDV) {
			snprintf(err, errlen, "rendezvous_peers: at most %d", KONCE_RDVCLIENT_MAX_RDV);
			free(dup);
			return -EINVAL;
		}
		if (!at || (*at = '\0', konce_key_from_text(t->rdv_pk[t->nrdv], tok)) ||
		    konce_addr_parse(&t->rdv_addr[t->nrdv], at + 1) < 0) {
			snprintf(err, errlen, "rendezvous_peers: '%s' is not KEY@IP:PORT", tok);
			free(dup);
			return -EINVAL;
		}
		t->nrdv++;
	}
	free(dup);
	return 0;
}

/* Host candidates: the bound address, or every up, non-loopback interface address. */
static void gather_hosts(struct trav_setup *t, struct konce_node *n)
{
	konce_addr local;
	struct ifaddrs *ifa, *i;
	static const uint8_t zero[16] = {0}, v4any[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
	if (konce_udp_local(n->udp, &local))
		return;
	if (memcmp(local.ip, zero, 16) && memcmp(local.ip, v4any, 16)) {
		t->host[t->nhost++] = local;
		return;
	}
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && t->nhost < KONCE_RDVCLIENT_MAX_HOST; i = i->ifa_next) {
		konce_addr a;
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK) ||
		    i->ifa_addr->sa_family != AF_INET || konce_addr_from_sockaddr(&a, i->ifa_addr))
			continue;
		a.port = local.port;
		t->host[t->nhost++] = a;
	}
	freeifaddrs(ifa);
}

int konce_node_traversal(konce_node *n, const konce_traversal_config *cfg, char *err, size_t errlen)
{
	int e;
	struct trav_setup su;
	if (!n || !cfg)
		return -EINVAL;
	if (n->trav)
		return -EALREADY;
	memset(&su, 0, sizeof su);
	if (cfg->rendezvous_peers && *cfg->rendezvous_peers && (e = parse_peers(&su, cfg->rendezvous_peers, err, errlen)))
		return e;
	struct node_trav *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n = n;
	t->pm_state = "off";
	n->trav = t;
	if ((e = node_trav_events_new(t)))
		goto fail;
	if (su.nrdv && cfg->host_candidates)
		gather_hosts(&su, n);
	konce_addr local;
	bool have_local = konce_udp_local(n->udp, &local) == 0;
	if ((e = node_travfilter_new(t)))
		goto fail;
	konce_trav_cfg tc = {.env = konce_env_default(), .ep = konce_nodecore_ep(n->core), .pk = n->pk,
			     .ops = konce_nodecore_trav_ops(n->core),
			     .local = have_local ? &local : NULL,
			     .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])su.rdv_pk, .rdv_addr = su.rdv_addr,
			     .nrdv = su.nrdv, .host = su.host, .nhost = su.nhost,
			     .host_candidates = cfg->host_candidates != 0,
			     .known_only = su.nrdv && cfg->introductions_known, .rendezvous = cfg->rendezvous,
			     .rendezvous_capacity = cfg->rendezvous_capacity};
	if ((e = konce_trav_new(&t->core, &tc, node_now_us()))) {
		snprintf(err, errlen, "cannot start traversal: %s", strerror(-e));
		goto fail;
	}
	if ((e = node_trav_life_start(t, cfg->lifetime, err, errlen)))
		goto fail;
	if (konce_trav_has_client(t->core) && cfg->portmap)
		start_portmap(t);
	node_trav_schedule(t); /* the first registration; the filtering service's second port */
	node_log(n, KONCE_LOG_INFO, "traversal: rendezvous service %s, registering with %u rendezvous, %u host candidates",
		 konce_trav_has_service(t->core) ? "on" : "off", su.nrdv, su.nhost);
	return 0;
fail:
	node_trav_free(n);
	return e;
}

void node_trav_free(struct konce_node *n)
{
	struct node_trav *t = n->trav;
	if (!t)
		return;
	node_trav_life_free(t);
	if (t->pm && konce_portmap_stop(t->pm, 2000) == -ETIMEDOUT)
		node_log(n, KONCE_LOG_WARN, "the port mapping lease could not be confirmed deleted within 2 s");
	if (t->ev_timer)
		event_free(t->ev_timer);
	if (t->ev_kick)
		event_free(t->ev_kick);
	node_trav_socks_free(t->socks);
	node_travfilter_free(t);
	konce_trav_free(t->core);
	free(t);
	n->trav = NULL;
}
