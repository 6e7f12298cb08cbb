/* node_trav_setup.c - starting and stopping traversal in the node: the configuration is read and
 * checked first (node/core/trav_conf.h, which also picks the host candidates from the interfaces
 * listed here), then the traversal core and its sockets, timers and workers are started; the
 * port-mapping worker's events are reported to the core, and the teardown deletes the lease.  The
 * traversal core (node/core/trav.h) does the work; node_trav.c hosts it once it is started.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "konce/traversal.h"
#include "node/io/portmap.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/core/nctrav.h"
#include "node/core/trav_conf.h"
#include "node/core/trav_info.h"
#include "node/io/node_trav_int.h"

/* ---- port mapping --------------------------------------------------------------------------- */

static void on_portmap(void *ctx, const konce_portmap_policy_event *ev)
{
	struct node_trav *t = ctx;
	char line[160];
	int level = konce_nodecore_trav_portmap(t->core, &t->pm_status, ev, node_now_us(), line, sizeof line);
	node_log(t->n, level, "%s", line);
	node_trav_schedule(t);
}

static void on_portmap_trace(void *ctx, const char *line)
{
	struct node_trav *t = ctx;
	node_log(t->n, KONCE_LOG_DEBUG, "portmap: %s", line);
}

static void start_portmap(struct node_trav *t, const konce_addr *local)
{
	if (!local)
		return;
	konce_portmap_cfg pc = {.policy.internal_port = local->port, .cb = on_portmap, .trace = on_portmap_trace, .ctx = t};
	int e = konce_portmap_start(&t->pm, t->n->base, &pc);
	if (e)
		node_log(t->n, KONCE_LOG_WARN, "cannot start port mapping: %s", strerror(-e));
	else
		t->pm_status.state = KONCE_PMST_TRYING;
}

/* ---- the mapping lifetime ------------------------------------------------------------------- */

/* The lifetime core (node/core/nctravlife.h says when it runs) and its probe socket.  0, -EINVAL
 * (err says why), -ENOMEM, -errno. */
static int start_life(struct node_trav *t, const konce_travconf *su, char *err, size_t errlen)
{
	konce_travlife_cfg c;
	konce_addr local;
	int e;
	t->life_with = (konce_nctravlife){.c = t->n->core, .t = t->core, .log = node_log_line, .log_ctx = t->n};
	if (!konce_nctravlife_cfg(&t->life_with, su->life_off, &su->life, &c))
		return 0;
	if ((e = konce_travlife_new(&t->life, &c, node_now_us()))) {
		snprintf(err, errlen, "nat_lifetime: bad bounds");
		return e;
	}
	if (!konce_travlife_wants_probe(t->life))
		return 0;
	if ((e = node_aux_open(t->aux, KONCE_TRAVLIFE_SOCK_PROBE, &local))) {
		if (!*err)
			snprintf(err, errlen, "cannot start the mapping lifetime experiments: %s", strerror(-e));
		return e;
	}
	konce_travlife_sock_opened(t->life, &local);
	return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */

/* The host's interface addresses, for the host candidates (node/core/trav_conf.h chooses). */
static void list_ifaces(konce_travconf *c, const konce_addr *bound)
{
	konce_travconf_iface ifs[32];
	size_t nifs = 0;
	struct ifaddrs *ifa, *i;
	if (konce_travconf_wants_ifaces(c, bound) && getifaddrs(&ifa) == 0) {
		for (i = ifa; i && nifs < sizeof ifs / sizeof ifs[0]; i = i->ifa_next)
			if (i->ifa_addr && !konce_addr_from_sockaddr(&ifs[nifs].addr, i->ifa_addr)) {
				ifs[nifs].up = i->ifa_flags & IFF_UP;
				ifs[nifs++].loopback = i->ifa_flags & IFF_LOOPBACK;
			}
		freeifaddrs(ifa);
	}
	konce_travconf_hosts(c, bound, ifs, nifs);
}

int konce_node_traversal(konce_node *n, const konce_traversal_config *cfg, char *err, size_t errlen)
{
	int e;
	konce_travconf su;
	if (!n || !cfg)
		return -EINVAL;
	if (n->trav)
		return -EALREADY;
	if ((e = konce_travconf_parse(&su, cfg, err, errlen)))
		return e;
	struct node_trav *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n = n;
	n->trav = t;
	konce_addr bound, *local = konce_udp_local(n->udp, &bound) == 0 ? &bound : NULL;
	if ((e = node_trav_aux_new(t, local)))
		goto fail;
	list_ifaces(&su, local);
	konce_trav_cfg tc = {.env = konce_env_default(), .ep = konce_nodecore_ep(n->core), .pk = n->pk,
			     .ops = konce_nodecore_trav_ops(n->core), .local = local};
	konce_travconf_trav_cfg(&su, &tc);
	if ((e = konce_trav_new(&t->core, &tc, node_now_us()))) {
		snprintf(err, errlen, "cannot start traversal: %s", strerror(-e));
		goto fail;
	}
	if ((e = start_life(t, &su, err, errlen)))
		goto fail;
	node_trav_hook(t);
	if (konce_trav_has_client(t->core) && su.portmap)
		start_portmap(t, local);
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
	if (n->core) /* the node core calls into the traversal core no more */
		konce_nodecore_set_hooks(n->core, &(konce_nodecore_hooks){0});
	if (t->pm && konce_portmap_stop(t->pm, 2000) == -ETIMEDOUT)
		node_log(n, KONCE_LOG_WARN, "the port mapping lease could not be confirmed deleted within 2 s");
	node_aux_free(t->aux);
	konce_travlife_free(t->life);
	konce_trav_free(t->core);
	free(t);
	n->trav = NULL;
}
