/* node_trav.c - the node's host of its traversal cores (node/core/nctravhost.h): plumbing only.
 *
 * The unit of cores decides when they run, in which order, and what their events and the
 * port-mapping worker's events mean; this file does the I/O they ask for.  It reads the
 * configuration (node/core/trav_conf.h, which also picks the host candidates from the interfaces
 * listed here), starts the cores over the node core, and gives them the node socket (udp.c) and a
 * set of numbered extra sockets (auxsock.h: birthday probing's pool, the filtering test's two, the
 * lifetime's probe socket; the unit decides which are open), the log, and node_io.c's kick event: a run happens from the node's
 * event loop (node_trav_run), never inside the call that took something.  The node's one timer
 * (node_io.c) is armed at the earliest of the node core's and these cores' deadlines
 * (node_trav_next_timer()): one loop drains them all.  The port-mapping worker (portmap.h) runs
 * when the cores want it and is stopped, its lease deleted, at the teardown.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "konce/traversal.h"
#include "node/core/trav_conf.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"

/* ---- the cores' I/O (konce_nctravhost_io) ----------------------------------------------------- */

/* From the node socket (sock 0: copied into its batch, or lent when ref) or the set's socket sock. */
static int io_send(void *ctx, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len, bool ref)
{
	struct node_trav *t = ctx;
	if (sock)
		return node_aux_send(t->aux, sock, pkt, len, to);
	return (ref ? konce_udp_queue_ref : konce_udp_queue)(t->n->udp, pkt, len, to);
}

static void io_flush(void *ctx) { konce_udp_flush(((struct node_trav *)ctx)->n->udp); }

static int io_open(void *ctx, unsigned sock, konce_addr *local)
{
	return node_aux_open(((struct node_trav *)ctx)->aux, sock, local);
}

static void io_close(void *ctx, unsigned sock) { node_aux_close(((struct node_trav *)ctx)->aux, sock); }

static void io_log(void *ctx, int level, const char *text) { node_log(((struct node_trav *)ctx)->n, level, "%s", text); }

static void io_kick(void *ctx) { node_io_schedule(((struct node_trav *)ctx)->n); }

static const konce_nctravhost_io trav_io = {io_send, io_flush, io_open, io_close, io_log, io_kick, NULL};

/* ---- the loop --------------------------------------------------------------------------------- */

uint64_t node_trav_next_timer(struct konce_node *n)
{
	return n->trav ? konce_nctravhost_next_timer(&n->trav->h) : UINT64_MAX;
}

void node_trav_run(struct konce_node *n, uint64_t now)
{
	if (n->trav)
		konce_nctravhost_run(&n->trav->h, now);
}

static void on_aux(void *ctx, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav *t = ctx;
	konce_nctravhost_input(&t->h, id, pkt, len, from, node_now_us());
}

static void on_aux_done(void *ctx) { konce_nctravhost_schedule(&((struct node_trav *)ctx)->h); }

/* ---- port mapping ----------------------------------------------------------------------------- */

static void on_portmap(void *ctx, const konce_portmap_policy_event *ev)
{
	struct node_trav *t = ctx;
	konce_nctravhost_portmap(&t->h, ev, node_now_us());
}

static void on_portmap_trace(void *ctx, const char *line)
{
	struct node_trav *t = ctx;
	node_log(t->n, KONCE_LOG_DEBUG, "portmap: %s", line);
}

static void start_portmap(struct node_trav *t, const konce_portmap_policy_cfg *policy)
{
	konce_portmap_cfg pc = {.policy = *policy, .cb = on_portmap, .trace = on_portmap_trace, .ctx = t};
	int e = konce_portmap_start(&t->pm, t->n->base, &pc);
	if (e)
		node_log(t->n, KONCE_LOG_WARN, "cannot start port mapping: %s", strerror(-e));
	else
		konce_nctravhost_portmap_started(&t->h);
}

/* ---- setup ------------------------------------------------------------------------------------ */

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
	konce_addr bound, *local = konce_udp_local(n->udp, &bound) == 0 ? &bound : NULL;
	konce_nctravhost_io io = trav_io;
	io.ctx = t;
	if ((e = node_aux_new(&t->aux, n->base, local, KONCE_TRAVLIFE_SOCK_PROBE, on_aux, on_aux_done, t))) {
		free(t);
		return e;
	}
	list_ifaces(&su, local);
	if ((e = konce_nctravhost_start(&t->h, n->core, &su, local, &io, node_now_us(), err, errlen))) {
		node_aux_free(t->aux);
		free(t);
		return e;
	}
	n->trav = t;
	konce_portmap_policy_cfg policy;
	if (konce_nctravhost_wants_portmap(&t->h, &su, local, &policy))
		start_portmap(t, &policy);
	return 0;
}

void node_trav_free(struct konce_node *n)
{
	struct node_trav *t = n->trav;
	if (!t)
		return;
	if (t->pm && konce_portmap_stop(t->pm, KONCE_NCTRAVHOST_PORTMAP_STOP_MS) == -ETIMEDOUT)
		node_log(n, KONCE_LOG_WARN, "the port mapping lease could not be confirmed deleted within %u ms",
			 (unsigned)KONCE_NCTRAVHOST_PORTMAP_STOP_MS);
	if (!n->core) /* freed first (node_io_stop): there are no hooks left to clear */
		t->h.c = NULL;
	konce_nctravhost_stop(&t->h);
	node_aux_free(t->aux);
	free(t);
	n->trav = NULL;
}
