/* simnet.c - addresses, routes, links and the journey of a datagram.
 *
 * A datagram's life:
 *   sim_send       counts it, checks a route exists (addresses only), and either departs now or,
 *                  when sent from inside the host's recv callback, waits for the CPU cost (sim.c).
 *   depart         walks out through the NATs between the sender and the destination's realm
 *                  (translating the source at each), picks the link from the sending host to the
 *                  host the destination currently maps to, and applies the sender's uplink
 *                  queue, then the link: MTU, loss, duplication, then per copy the link's
 *                  rate-limit queue, delay, jitter, reordering.
 *   arrive         at the scheduled time walks in through the NATs in front of the destination
 *                  (translating and filtering at each) to the host, and waits in its downlink
 *                  queue if it has one.
 *   land           checks the port and hands the datagram to the host's CPU model (sim.c).
 *
 * Realms: 0 is the public realm; realm k > 0 is the private side of s->nats[k - 1].  An address
 * is unique within its realm.  Every drop is counted on the sender's tx counters, on the link if
 * the datagram had reached one, and on the receiver's rx counters if it had reached a host.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim_int.h"

/* ---- addresses ------------------------------------------------------------------------------ */

static void addr_key(uint8_t key[20], uint32_t realm, const uint8_t ip[16])
{
	memcpy(key, &realm, 4);
	memcpy(key + 4, ip, 16);
}

simmap_node *sim_addr_node(const sim *s, uint32_t realm, const uint8_t ip[16])
{
	uint8_t key[20];
	addr_key(key, realm, ip);
	return simmap_get(&s->addrs, key, sizeof(key));
}

int sim_addr_claim(sim *s, uint32_t realm, const uint8_t ip[16], void *ent, uint64_t type)
{
	uint8_t key[20];
	bool created;
	addr_key(key, realm, ip);
	simmap_node *n = simmap_put(&s->addrs, key, sizeof(key), &created);
	if (!n)
		return -ENOMEM;
	if (!created)
		return -EADDRINUSE;
	n->val = ent;
	n->u = type;
	return 0;
}

void sim_addr_release(sim *s, uint32_t realm, const uint8_t ip[16])
{
	simmap_node *n = sim_addr_node(s, realm, ip);
	if (n)
		simmap_del(&s->addrs, n);
}

static bool route_exists(const sim *s, uint32_t realm, const konce_addr *to)
{
	for (;;) {
		if (sim_addr_node(s, realm, to->ip))
			return true;
		if (realm == 0)
			return false;
		realm = s->nats[realm - 1]->outer;
	}
}

/* The host a datagram to `to` in realm would reach now, following NAT mappings without filtering
 * or refreshing them; NULL if none. */
static sim_host *peek_dest(const sim *s, uint32_t realm, konce_addr to)
{
	for (size_t hops = 0; hops <= s->nnats; hops++) {
		simmap_node *n = sim_addr_node(s, realm, to.ip);
		if (!n)
			return NULL;
		if (n->u == SIM_ENT_HOST)
			return n->val;
		sim_nat *nat = n->val;
		if (!simnat_peek(nat, &to, s->now, &to))
			return NULL;
		realm = nat->id;
	}
	return NULL;
}

/* ---- links ---------------------------------------------------------------------------------- */

static sim_link *link_find(const sim *s, uint32_t from, uint32_t to)
{
	uint32_t key[2] = {from, to};
	simmap_node *n = simmap_get(&s->links, key, sizeof(key));
	return n ? n->val : NULL;
}

static sim_link *link_make(sim *s, uint32_t from, uint32_t to)
{
	uint32_t key[2] = {from, to};
	bool created;
	simmap_node *n = simmap_put(&s->links, key, sizeof(key), &created);
	if (!n)
		return NULL;
	if (created) {
		n->val = calloc(1, sizeof(sim_link));
		if (!n->val) {
			simmap_del(&s->links, n);
			return NULL;
		}
	}
	return n->val;
}

static const sim_link_cfg *link_cfg(const sim *s, const sim_link *l)
{
	return l && l->custom ? &l->cfg : &s->deflt;
}

static bool free_link(void *ctx, simmap_node *n)
{
	free(n->val);
	return true;
}

void sim_links_free(sim *s)
{
	simmap_sweep(&s->links, free_link, NULL);
	simmap_free(&s->links);
}

void sim_link_default(sim *s, const sim_link_cfg *cfg) { s->deflt = *cfg; }

int sim_link_set(sim *s, const sim_host *from, const sim_host *to, const sim_link_cfg *cfg)
{
	sim_link *l = link_make(s, from->id, to ? to->id : 0);
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	l->custom = true;
	return 0;
}

int sim_link_set_both(sim *s, const sim_host *a, const sim_host *b, const sim_link_cfg *cfg)
{
	int r = sim_link_set(s, a, b, cfg);
	return r ? r : sim_link_set(s, b, a, cfg);
}

void sim_link_reset(sim *s, const sim_host *from, const sim_host *to)
{
	sim_link *l = link_find(s, from->id, to ? to->id : 0);
	if (l)
		l->custom = false;
}

sim_link_cfg sim_link_get(sim *s, const sim_host *from, const sim_host *to)
{
	return *link_cfg(s, link_find(s, from->id, to ? to->id : 0));
}

sim_counters sim_link_counters(sim *s, const sim_host *from, const sim_host *to)
{
	const sim_link *l = link_find(s, from->id, to ? to->id : 0);
	sim_counters zero = {0};
	return l ? l->c : zero;
}

/* ---- drops ---------------------------------------------------------------------------------- */

static uint64_t *drop_field(sim_counters *c, enum sim_drop why)
{
	switch (why) {
	case SIM_DROP_LOST:
		return &c->lost;
	case SIM_DROP_QUEUE:
		return &c->dropped_queue;
	case SIM_DROP_MTU:
		return &c->dropped_mtu;
	case SIM_DROP_NOPORT:
		return &c->dropped_noport;
	case SIM_DROP_FILTER:
		return &c->dropped_filter;
	case SIM_DROP_NOROUTE:
		return &c->dropped_noroute;
	case SIM_DROP_CPU:
		return &c->dropped_cpu;
	}
	abort();
}

static const char *const drop_names[] = {"lost",   "queue",   "mtu", "noport",
					  "filter", "noroute", "cpu"};

void sim_pkt_drop(sim *s, sim_pkt *p, enum sim_drop why, const sim_host *rx)
{
	(*drop_field(&p->src->tx, why))++;
	if (p->link)
		(*drop_field(&p->link->c, why))++;
	if (rx)
		(*drop_field(&((sim_host *)rx)->rx, why))++;
	sim_trace_emit(s, SIM_TR_DROP, rx ? rx : p->src, &p->from, &p->to, p->len, drop_names[why]);
	free(p);
}

/* ---- sending -------------------------------------------------------------------------------- */

static int send_common(sim *s, sim_host *h, const konce_addr *from, const konce_addr *to,
		       const void *data, size_t len)
{
	if (!s || !h || !to || (len && !data))
		return -EINVAL;
	if (len > SIM_MAX_DATAGRAM)
		return -EMSGSIZE;
	sim_pkt *p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->src = h;
	p->realm = h->realm;
	p->from = *from;
	p->to = *to;
	p->len = len;
	if (len)
		memcpy(p->data, data, len);
	h->tx.sent++;
	h->tx.bytes_sent += len;
	sim_trace_emit(s, SIM_TR_SEND, h, from, to, len, NULL);
	/* A host behind a NAT has a default route through it: a datagram to an address that exists
	 * nowhere still leaves through the NATs, which map it (a sequential allocator spends a port
	 * on it, as nftables does in netsim), and dies beyond them (sim_pkt_depart). */
	if (h->realm == 0 && !route_exists(s, h->realm, to)) {
		sim_pkt_drop(s, p, SIM_DROP_NOROUTE, NULL);
		return -EHOSTUNREACH;
	}
	if (s->in_recv == h) {
		*s->defer_tail = p;
		s->defer_tail = &p->next;
		return 0;
	}
	sim_pkt_depart(s, p);
	return 0;
}

int sim_send(sim *s, sim_host *h, uint16_t from_port, const konce_addr *to, const void *pkt,
	     size_t len)
{
	if (!h)
		return -EINVAL;
	konce_addr from = sim_host_addr(h, from_port);
	return send_common(s, h, &from, to, pkt, len);
}

int sim_send_spoofed(sim *s, sim_host *h, const konce_addr *from, const konce_addr *to,
		     const void *pkt, size_t len)
{
	if (!from)
		return -EINVAL;
	return send_common(s, h, from, to, pkt, len);
}

static int64_t jitter(sim *s, const sim_link_cfg *c)
{
	if (!c->jitter_us)
		return 0;
	if (c->jitter_dist == SIM_JITTER_NORMAL) {
		/* Irwin-Hall: the sum of 12 uniforms minus 6 is close to N(0, 1); cut at 3 sd */
		double z = -6.0;
		for (int i = 0; i < 12; i++)
			z += sim_rand_unit(s);
		z = z < -3.0 ? -3.0 : z > 3.0 ? 3.0 : z;
		double j = z * (double)c->jitter_us;
		return (int64_t)(j < 0 ? j - 0.5 : j + 0.5);
	}
	return (int64_t)sim_rand_below(s, 2 * c->jitter_us + 1) - (int64_t)c->jitter_us;
}

/* A drop-tail FIFO drained at rate bytes/s, entered at time t (us).  Returns when the datagram
 * has been fully sent (us), or UINT64_MAX when the backlog leaves no room for it.  An empty queue
 * takes any datagram.  *free_ns is when the transmitter is next idle. */
static uint64_t shape(uint64_t *free_ns, uint64_t rate, size_t queue_bytes, uint64_t t, size_t len)
{
	uint64_t t_ns = t * 1000;
	uint64_t start = *free_ns > t_ns ? *free_ns : t_ns;
	uint64_t backlog = (uint64_t)((unsigned __int128)(start - t_ns) * rate / 1000000000u);
	size_t qb = queue_bytes ? queue_bytes : SIM_LINK_QUEUE_DEFAULT;
	if (backlog > 0 && backlog + len > qb)
		return UINT64_MAX;
	*free_ns = start + (uint64_t)(((unsigned __int128)len * 1000000000u + rate - 1) / rate);
	return (*free_ns + 999) / 1000;
}

/* One copy, leaving the sender's uplink at t, through the link's rate limiter and delays. */
static void transmit(sim *s, sim_pkt *p, const sim_link_cfg *c, uint64_t t)
{
	sim_link *l = p->link;
	if (c->rate) {
		t = shape(&l->tx_free_ns, c->rate, c->queue_bytes, t, p->len);
		if (t == UINT64_MAX) {
			sim_pkt_drop(s, p, SIM_DROP_QUEUE, NULL);
			return;
		}
	}
	int64_t d = (int64_t)c->delay_us + jitter(s, c);
	t += d > 0 ? (uint64_t)d : 0;
	if (c->reorder > 0 && sim_rand_unit(s) < c->reorder) {
		t += c->reorder_us;
		p->src->tx.reordered++;
		l->c.reordered++;
	}
	if (sim_ev_push(s, t, EV_ARRIVE, p))
		sim_pkt_drop(s, p, SIM_DROP_QUEUE, NULL);
}

void sim_pkt_depart(sim *s, sim_pkt *p)
{
	/* out through the NATs until the destination address is in the current realm */
	while (!sim_addr_node(s, p->realm, p->to.ip)) {
		if (p->realm == 0) {
			sim_pkt_drop(s, p, SIM_DROP_NOROUTE, NULL);
			return;
		}
		sim_nat *n = s->nats[p->realm - 1];
		if (simnat_out(n, &p->from, &p->to, s->now)) {
			sim_pkt_drop(s, p, SIM_DROP_FILTER, NULL);
			return;
		}
		p->realm = n->outer;
	}
	sim_host *dst = peek_dest(s, p->realm, p->to);
	p->link = link_make(s, p->src->id, dst ? dst->id : 0);
	if (!p->link) {
		sim_pkt_drop(s, p, SIM_DROP_QUEUE, NULL);
		return;
	}
	const sim_link_cfg *c = link_cfg(s, p->link);
	p->link->c.sent++;
	p->link->c.bytes_sent += p->len;
	uint64_t t = s->now;
	if (p->src->up_rate) {
		t = shape(&p->src->up_free_ns, p->src->up_rate, p->src->up_queue, t, p->len);
		if (t == UINT64_MAX) {
			sim_pkt_drop(s, p, SIM_DROP_QUEUE, NULL);
			return;
		}
	}
	if (c->mtu && p->len > c->mtu) {
		sim_pkt_drop(s, p, SIM_DROP_MTU, NULL);
		return;
	}
	if (c->loss > 0 && sim_rand_unit(s) < c->loss) {
		sim_pkt_drop(s, p, SIM_DROP_LOST, NULL);
		return;
	}
	sim_pkt *copy = NULL;
	if (c->duplicate > 0 && sim_rand_unit(s) < c->duplicate) {
		copy = malloc(sizeof(*p) + p->len);
		if (copy) {
			memcpy(copy, p, sizeof(*p) + p->len);
			p->src->tx.duplicated++;
			p->link->c.duplicated++;
		}
	}
	transmit(s, p, c, t);
	if (copy)
		transmit(s, copy, c, t);
}

void sim_pkt_arrive(sim *s, sim_pkt *p)
{
	for (size_t hops = 0; hops <= s->nnats; hops++) {
		simmap_node *n = sim_addr_node(s, p->realm, p->to.ip);
		if (!n)
			break;
		if (n->u == SIM_ENT_HOST) {
			sim_host *h = n->val;
			p->dst = h;
			if (!h->down_rate) {
				sim_pkt_land(s, p);
				return;
			}
			uint64_t t = shape(&h->down_free_ns, h->down_rate, h->down_queue, s->now, p->len);
			if (t == UINT64_MAX || sim_ev_push(s, t, EV_LAND, p))
				sim_pkt_drop(s, p, SIM_DROP_QUEUE, h);
			return;
		}
		sim_nat *nat = n->val;
		if (simnat_in(nat, &p->from, &p->to, s->now)) {
			sim_pkt_drop(s, p, SIM_DROP_FILTER, NULL);
			return;
		}
		p->realm = nat->id;
	}
	sim_pkt_drop(s, p, SIM_DROP_NOROUTE, NULL);
}

/* Past the receiver's downlink: the host's ports and CPU. */
void sim_pkt_land(sim *s, sim_pkt *p)
{
	sim_host *h = p->dst;
	if (!h->ops.recv || !sim_host_bound(h, p->to.port))
		sim_pkt_drop(s, p, SIM_DROP_NOPORT, h);
	else
		sim_host_arrive(s, h, p);
}
