/* transport_node.c - a konce endpoint as a simulator host (see transport_node.h). */
#include "tests/sim/transport_node.h"

#include <stdlib.h>
#include <string.h>

#include "node/base/wire.h"
#include "tests/sim/core_host.h"

static void rearm(tnode *n) { core_host_rearm(n->s, n->h, konce_ep_next_timer(n->ep), n->busy_until); }

/* Events first (the application may answer inside the pending ACCEPT), then datagrams.  Returns
 * the proof-of-work bits of an INITIATE among them, or -1. */
static int pump(tnode *n, uint64_t now)
{
	konce_ep_event ev;
	while (!n->hold_events && konce_ep_poll_event(n->ep, &ev))
		if (n->on_event)
			n->on_event(n, &ev, now);
	uint8_t buf[KONCE_PMTU_MAX]; /* an endpoint may be given max_datagram */
	size_t len;
	konce_addr to;
	int bits = -1;
	while (konce_ep_poll_datagram(n->ep, buf, &len, &to)) {
		if (len > KONCE_INIT_POW_BITS && buf[0] == KONCE_PKT_INITIATE)
			bits = buf[KONCE_INIT_POW_BITS];
		if (n->on_tx && !n->on_tx(n, buf, len, &to, now))
			continue;
		sim_send(n->s, n->h, n->port, &to, buf, len);
	}
	/* events an on_tx hook or a flush may have produced */
	while (!n->hold_events && konce_ep_poll_event(n->ep, &ev))
		if (n->on_event)
			n->on_event(n, &ev, now);
	return bits;
}

void tnode_flush(tnode *n, uint64_t now)
{
	pump(n, now);
	rearm(n);
}

/* The proof-of-work hashing the endpoint did since the last call (slices run from input and timer). */
static uint64_t pow_cost(tnode *n) { return core_host_pow_cost(n->ep, &n->pow_tries_seen, n->us_per_hash); }

static uint64_t tn_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			uint64_t now)
{
	tnode *n = ctx;
	(void)to;
	if (n->on_rx)
		n->on_rx(n, pkt, len, from, now);
	uint64_t allocs = tnode_allocs(n);
	n->last_verdict = konce_ep_input(n->ep, pkt, len, from, now, &n->last_rx);
	if (n->on_input)
		n->on_input(n, pkt, len, from, tnode_allocs(n) - allocs, now);
	uint64_t cost = (uint64_t)n->last_rx.cost * n->us_per_unit;
	int bits = pump(n, now);
	if (bits >= 0 && len > 0 && pkt[0] == KONCE_PKT_COOKIE)
		n->last_pow_bits = (unsigned)bits; /* this COOKIE made us build an INITIATE */
	cost += pow_cost(n);
	n->cpu_us += cost;
	n->busy_until = now + cost;
	if (cost > n->max_work_us)
		n->max_work_us = cost;
	rearm(n);
	return cost;
}

static void tn_timer(void *ctx, uint64_t now)
{
	tnode *n = ctx;
	konce_ep_timer(n->ep, now);
	int bits = pump(n, now);
	uint64_t cost = pow_cost(n);
	if (bits >= 0 && cost)
		n->last_pow_bits = (unsigned)bits; /* a proof finished in this slice */
	n->cpu_us += cost;
	if (cost > n->max_work_us)
		n->max_work_us = cost;
	if (now + cost > n->busy_until)
		n->busy_until = now + cost;
	sim_host_spend(n->s, n->h, cost); /* a slice of proof of work holds up the host's input */
	rearm(n);
}

static int tn_prio(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	tnode *n = ctx;
	return n->use_priority ? (int)konce_ep_priority(n->ep, pkt, len, from, now) : 0;
}

static const sim_host_ops tn_ops = {tn_recv, tn_timer, tn_prio};

int tnode_init(tnode *n, sim *s, sim_nat *nat, const char *ip, uint16_t port, const konce_ep_config *cfg)
{
	memset(n, 0, sizeof *n);
	n->s = s;
	n->port = port;
	int r = core_host_add(s, nat, ip, port, &tn_ops, n, &n->h, &n->id);
	if (r)
		return r;
	const konce_env *env = sim_host_env(n->h);
	konce_ep_config c = cfg ? *cfg : (konce_ep_config){0};
	c.env = env;
	c.identity = n->id;
	if ((r = konce_ep_new(&n->ep, &c, sim_now(s)))) {
		konce_identity_free(n->id);
		n->id = NULL;
		return r;
	}
	rearm(n);
	return 0;
}

sim_host *tnode_mitm_open(sim *s, tnode *srv, tnode *cli, uint16_t port, uint16_t back, const sim_host_ops *ops,
			  void *user, konce_addr *front)
{
	if (tnode_init(srv, s, NULL, "198.51.100.1", port, NULL) || tnode_init(cli, s, NULL, "203.0.113.5", 5555, NULL))
		return NULL;
	srv->user = cli->user = user;
	sim_host *m = sim_host_add(s, "192.0.2.99", ops, user);
	if (!m || sim_host_bind(m, port) || sim_host_bind(m, back))
		return NULL;
	*front = sim_host_addr(m, port);
	return m;
}

void tnode_free(tnode *n)
{
	konce_ep_free(n->ep);
	konce_identity_free(n->id);
	n->ep = NULL;
	n->id = NULL;
}

konce_addr tnode_addr(const tnode *n) { return sim_host_addr(n->h, n->port); }
const uint8_t *tnode_pk(const tnode *n) { return konce_identity_public(n->id); }
const struct konce_ep_counters *tnode_counters(const tnode *n) { return konce_ep_counters(n->ep); }
uint64_t tnode_allocs(const tnode *n) { return sim_env_allocs(sim_host_env(n->h)); }

int tnode_connect(tnode *n, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, const void *msg, size_t len,
		  uint32_t *conn)
{
	int r = konce_ep_connect(n->ep, pk, to, msg, len, sim_now(n->s), conn);
	tnode_flush(n, sim_now(n->s));
	return r;
}

int tnode_send(tnode *n, uint32_t conn, const void *msg, size_t len)
{
	int r = konce_ep_send(n->ep, conn, msg, len, sim_now(n->s));
	tnode_flush(n, sim_now(n->s));
	return r;
}

/* ---- addrmap: open addressing, linear probing ------------------------------------------------ */

static uint64_t addr_hash(const konce_addr *a)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 16; i++)
		h = (h ^ a->ip[i]) * 1099511628211ull;
	h = (h ^ a->port) * 1099511628211ull;
	return h ^ (h >> 29);
}

addrstat *addrmap_get(addrmap *m, const konce_addr *a)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		addrstat *v = calloc(cap, sizeof *v);
		if (!v)
			abort();
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->v[i].used)
				continue;
			size_t j = addr_hash(&m->v[i].a) & (cap - 1);
			while (v[j].used)
				j = (j + 1) & (cap - 1);
			v[j] = m->v[i];
		}
		free(m->v);
		m->v = v;
		m->cap = cap;
	}
	size_t j = addr_hash(a) & (m->cap - 1);
	while (m->v[j].used) {
		if (konce_addr_eq(&m->v[j].a, a))
			return &m->v[j];
		j = (j + 1) & (m->cap - 1);
	}
	m->v[j].used = true;
	m->v[j].a = *a;
	m->n++;
	return &m->v[j];
}

void addrmap_free(addrmap *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}
