/* simnat.c - NATs along the behaviour axes of RFC 4787.
 *
 * A mapping ties an internal address (private ip:port) to an external port on the NAT's public
 * address.  Which outbound datagrams share a mapping is the mapping behaviour: the remote key of
 * a mapping is nothing (endpoint-independent), the remote IP (address-dependent) or the remote
 * ip:port (address-and-port-dependent).  Which inbound datagrams a mapping lets in is the
 * filtering behaviour: anyone (endpoint-independent), or only remotes the mapping has sent to,
 * compared by IP or by ip:port.  Those are "permissions", keyed by the mapping's uid, so a port
 * reused by a later mapping inherits none of them.
 *
 * Invariants:
 *  1. Each live mapping is in both tables: n->out under (internal, remote key) and n->in under
 *     its external port.  No two mappings share an external port.
 *  2. A mapping (and a permission) is alive while now - last use < timeout; expired ones are
 *     removed when next looked at or by the periodic sweep, and count as free ports.
 *  3. Static mappings (sim_nat_forward) never expire, filter nothing and survive sim_nat_flush.
 *  4. Outbound datagrams refresh their mapping and permission; inbound ones do if
 *     inbound_refresh.  Peeking (simnat_peek, sim_nat_lookup) changes nothing.
 *  5. A leased mapping (sim_nat_lease: what a NAT-PMP or UPnP-IGD gateway grants) lives until its
 *     lease ends, whatever the traffic, filters nothing and goes with sim_nat_flush.  It sits in
 *     n->out under (internal, LEASE_KEY), which no remote key equals.  Outbound, a flow that has
 *     a live mapping of its own keeps it (its connection-tracking entry came first); any other
 *     leaves through the lease if it is a reply to a remote that came in through the lease (that
 *     remote's permission on it alive: a connection-tracking NAT's reverse translation), or if
 *     the NAT is endpoint-independent (the lease is the address's one mapping, as a Linux NAT
 *     keeps the leased source port), or if the lease was made with outbound (an
 *     endpoint-independent mapping, as RFC 6887's MAP makes); else it gets a new mapping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim_int.h"

typedef struct nat_map {
	konce_addr internal;
	konce_addr rkey;
	uint16_t ext;
	bool fixed;
	uint64_t until; /* a lease's end, 0 = not a lease */
	bool lease_out; /* a lease that carries new outbound flows on an endpoint-dependent NAT too */
	uint64_t uid, last;
	simmap_node *onode, *inode;
} nat_map;

static const char *const preset_names[] = {"full-cone", "restricted-cone", "port-restricted-cone",
					   "symmetric", "symmetric-sequential"};

sim_nat_cfg sim_nat_preset(enum sim_nat_preset p)
{
	sim_nat_cfg c = {.hairpin = true, .inbound_refresh = true, .timeout_us = SIM_NAT_TIMEOUT_DEFAULT};
	switch (p) {
	case SIM_NAT_FULL_CONE:
		c.mapping = SIM_NAT_EI, c.filtering = SIM_NAT_EI, c.ports = SIM_NAT_PORT_PRESERVE;
		break;
	case SIM_NAT_RESTRICTED_CONE:
		c.mapping = SIM_NAT_EI, c.filtering = SIM_NAT_AD, c.ports = SIM_NAT_PORT_PRESERVE;
		break;
	case SIM_NAT_PORT_RESTRICTED_CONE:
		c.mapping = SIM_NAT_EI, c.filtering = SIM_NAT_APD, c.ports = SIM_NAT_PORT_PRESERVE;
		break;
	case SIM_NAT_SYMMETRIC:
		c.mapping = SIM_NAT_APD, c.filtering = SIM_NAT_APD, c.ports = SIM_NAT_PORT_RANDOM;
		break;
	case SIM_NAT_SYMMETRIC_SEQUENTIAL:
		c.mapping = SIM_NAT_APD, c.filtering = SIM_NAT_APD, c.ports = SIM_NAT_PORT_SEQUENTIAL;
		break;
	}
	return c;
}

const char *sim_nat_preset_name(enum sim_nat_preset p)
{
	return (unsigned)p < sizeof(preset_names) / sizeof(preset_names[0]) ? preset_names[p] : "?";
}

static uint64_t timeout(const sim_nat *n)
{
	return n->cfg.timeout_us ? n->cfg.timeout_us : SIM_NAT_TIMEOUT_DEFAULT;
}

static konce_addr remote_key(enum sim_nat_dep d, const konce_addr *r)
{
	konce_addr k = {{0}, 0, 0};
	if (d != SIM_NAT_EI)
		memcpy(k.ip, r->ip, 16);
	if (d == SIM_NAT_APD)
		k.port = r->port;
	return k;
}

static void put_addr(uint8_t *k, const konce_addr *a)
{
	memcpy(k, a->ip, 16);
	k[16] = (uint8_t)(a->port >> 8);
	k[17] = (uint8_t)a->port;
}

static void out_key(uint8_t k[36], const konce_addr *internal, const konce_addr *rkey)
{
	put_addr(k, internal);
	put_addr(k + 18, rkey);
}

static void port_key(uint8_t k[2], uint16_t port)
{
	k[0] = (uint8_t)(port >> 8);
	k[1] = (uint8_t)port;
}

static void perm_key(uint8_t k[26], uint64_t uid, const konce_addr *fkey)
{
	memcpy(k, &uid, 8);
	put_addr(k + 8, fkey);
}

/* The remote key a lease is kept under in n->out: no datagram's remote key (remote_key()) is
 * the all-ones address with port 0. */
static const konce_addr LEASE_KEY = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff}, 0, 0};

static bool expired(const sim_nat *n, const nat_map *m, uint64_t now)
{
	if (m->until)
		return now >= m->until;
	return !m->fixed && now - m->last >= timeout(n);
}

static void map_remove(sim_nat *n, nat_map *m)
{
	simmap_del(&n->out, m->onode);
	simmap_del(&n->in, m->inode);
	free(m);
}

/* The live mapping on ext, or NULL (an expired one is removed on the way). */
static nat_map *by_port(sim_nat *n, uint16_t ext, uint64_t now)
{
	uint8_t k[2];
	port_key(k, ext);
	simmap_node *x = simmap_get(&n->in, k, 2);
	if (!x)
		return NULL;
	nat_map *m = x->val;
	if (expired(n, m, now)) {
		n->c.expired++;
		map_remove(n, m);
		return NULL;
	}
	return m;
}

static bool port_range(const sim_nat *n, uint32_t *lo, uint32_t *hi)
{
	*lo = n->cfg.port_min ? n->cfg.port_min : 1024;
	*hi = n->cfg.port_max ? n->cfg.port_max : 65535;
	return *lo <= *hi;
}

/* Scans from start (wrapping in the range) for a free external port. */
static int scan_free(sim_nat *n, uint32_t start, uint32_t lo, uint32_t hi, uint64_t now,
		     uint16_t *out)
{
	uint32_t span = hi - lo + 1;
	for (uint32_t i = 0; i < span; i++) {
		uint32_t p = lo + (start - lo + i) % span;
		if (!by_port(n, (uint16_t)p, now)) {
			*out = (uint16_t)p;
			return 0;
		}
	}
	return -1;
}

static int alloc_port(sim_nat *n, uint16_t internal, uint64_t now, uint16_t *out)
{
	uint32_t lo, hi;
	if (!port_range(n, &lo, &hi))
		return -1;
	switch (n->cfg.ports) {
	case SIM_NAT_PORT_PRESERVE:
		return scan_free(n, internal >= lo && internal <= hi ? internal : lo, lo, hi, now, out);
	case SIM_NAT_PORT_SEQUENTIAL: {
		uint32_t start = n->next_port >= lo && n->next_port <= hi ? n->next_port : lo;
		if (scan_free(n, start, lo, hi, now, out))
			return -1;
		n->next_port = (uint32_t)*out + 1;
		return 0;
	}
	case SIM_NAT_PORT_RANDOM:
		for (int i = 0; i < 32; i++) {
			uint32_t p = lo + (uint32_t)sim_rand_below(n->s, hi - lo + 1);
			if (!by_port(n, (uint16_t)p, now)) {
				*out = (uint16_t)p;
				return 0;
			}
		}
		return scan_free(n, lo + (uint32_t)sim_rand_below(n->s, hi - lo + 1), lo, hi, now, out);
	}
	return -1;
}

static bool sweep_perm(void *ctx, simmap_node *x)
{
	sim_nat *n = ctx;
	return n->s->now - x->u >= timeout(n);
}

static bool sweep_map(void *ctx, simmap_node *x)
{
	sim_nat *n = ctx;
	nat_map *m = x->val;
	if (!expired(n, m, n->s->now))
		return false;
	n->c.expired++;
	simmap_del(&n->out, m->onode);
	free(m);
	return true;
}

/* Keeps tables from growing with dead entries: a full pass whenever they have doubled. */
static void maybe_sweep(sim_nat *n)
{
	if (n->in.n + n->perms.n < n->sweep_at)
		return;
	simmap_sweep(&n->in, sweep_map, n);
	simmap_sweep(&n->perms, sweep_perm, n);
	size_t live = n->in.n + n->perms.n;
	n->sweep_at = live * 2 > 1024 ? live * 2 : 1024;
}

static nat_map *map_create(sim_nat *n, const konce_addr *internal, const konce_addr *rkey,
			   uint16_t ext, bool fixed)
{
	uint8_t ok[36], pk[2];
	out_key(ok, internal, rkey);
	port_key(pk, ext);
	nat_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->internal = *internal;
	m->rkey = *rkey;
	m->ext = ext;
	m->fixed = fixed;
	m->uid = ++n->next_uid;
	m->last = n->s->now;
	m->onode = simmap_put(&n->out, ok, sizeof(ok), NULL);
	if (!m->onode) {
		free(m);
		return NULL;
	}
	m->inode = simmap_put(&n->in, pk, sizeof(pk), NULL);
	if (!m->inode) {
		simmap_del(&n->out, m->onode);
		free(m);
		return NULL;
	}
	m->onode->val = m;
	m->inode->val = m;
	n->c.mappings++;
	return m;
}

/* The live outbound mapping of internal under remote key rk, or NULL (an expired one is removed
 * on the way). */
static nat_map *live_out(sim_nat *n, const konce_addr *internal, const konce_addr *rk, uint64_t now)
{
	uint8_t ok[36];
	out_key(ok, internal, rk);
	simmap_node *x = simmap_get(&n->out, ok, sizeof(ok));
	nat_map *m = x ? x->val : NULL;
	if (m && expired(n, m, now)) {
		n->c.expired++;
		map_remove(n, m);
		m = NULL;
	}
	return m;
}

/* The live lease on internal, or NULL (an expired one is removed on the way). */
static nat_map *lease_of(sim_nat *n, const konce_addr *internal, uint64_t now)
{
	return live_out(n, internal, &LEASE_KEY, now);
}

/* A lease's permission for remote (its full ip:port: the connection a reply belongs to). */
static void lease_perm_key(uint8_t k[26], const nat_map *m, const konce_addr *remote)
{
	konce_addr fk = remote_key(SIM_NAT_APD, remote);
	perm_key(k, m->uid, &fk);
}

/* The lease that carries a datagram from internal to `to` (invariant 5), or NULL. */
static nat_map *reply_lease(sim_nat *n, const konce_addr *internal, const konce_addr *to, uint64_t now)
{
	uint8_t pk[26];
	nat_map *m = lease_of(n, internal, now);
	if (!m || n->cfg.mapping == SIM_NAT_EI || m->lease_out)
		return m;
	lease_perm_key(pk, m, to);
	simmap_node *p = simmap_get(&n->perms, pk, sizeof(pk));
	return p && now - p->u < timeout(n) ? m : NULL;
}

int simnat_out(sim_nat *n, konce_addr *from, const konce_addr *to, uint64_t now)
{
	bool hairpin = memcmp(to->ip, n->pub.ip, 16) == 0;
	if (hairpin && !n->cfg.hairpin) {
		n->c.dropped_hairpin++;
		return -1;
	}
	konce_addr rk = remote_key(n->cfg.mapping, to);
	/* a flow that has its mapping keeps it (its connection-tracking entry came first); else a
	 * lease may carry it (invariant 5); else a new mapping */
	nat_map *m = live_out(n, from, &rk, now);
	if (!m)
		m = reply_lease(n, from, to, now);
	if (!m) {
		uint16_t ext;
		maybe_sweep(n);
		if (alloc_port(n, from->port, now, &ext) || !(m = map_create(n, from, &rk, ext, false))) {
			n->c.dropped_ports++;
			return -1;
		}
	}
	m->last = now;
	if (m->until) {
		uint8_t pk[26];
		lease_perm_key(pk, m, to);
		simmap_node *p = simmap_get(&n->perms, pk, sizeof(pk));
		if (p)
			p->u = now;
	} else if (n->cfg.filtering != SIM_NAT_EI) {
		uint8_t pk[26];
		konce_addr fk = remote_key(n->cfg.filtering, to);
		perm_key(pk, m->uid, &fk);
		simmap_node *p = simmap_put(&n->perms, pk, sizeof(pk), NULL);
		if (p)
			p->u = now;
	}
	memcpy(from->ip, n->pub.ip, 16);
	from->port = m->ext;
	n->c.out++;
	if (hairpin)
		n->c.hairpinned++;
	return 0;
}

int simnat_in(sim_nat *n, const konce_addr *from, konce_addr *to, uint64_t now)
{
	nat_map *m = by_port(n, to->port, now);
	if (!m) {
		n->c.dropped_nomap++;
		return -1;
	}
	if (m->until) {
		/* a lease lets anyone in, and remembers who for the replies (invariant 5) */
		uint8_t pk[26];
		lease_perm_key(pk, m, from);
		simmap_node *p = simmap_put(&n->perms, pk, sizeof(pk), NULL);
		if (p)
			p->u = now;
	} else if (!m->fixed && n->cfg.filtering != SIM_NAT_EI) {
		uint8_t pk[26];
		konce_addr fk = remote_key(n->cfg.filtering, from);
		perm_key(pk, m->uid, &fk);
		simmap_node *p = simmap_get(&n->perms, pk, sizeof(pk));
		if (!p || now - p->u >= timeout(n)) {
			n->c.dropped_filter++;
			return -1;
		}
		if (n->cfg.inbound_refresh)
			p->u = now;
	}
	if (n->cfg.inbound_refresh)
		m->last = now;
	*to = m->internal;
	n->c.in++;
	return 0;
}

bool simnat_peek(const sim_nat *n, const konce_addr *to, uint64_t now, konce_addr *internal)
{
	uint8_t k[2];
	port_key(k, to->port);
	simmap_node *x = simmap_get(&n->in, k, 2);
	if (!x || expired(n, x->val, now))
		return false;
	*internal = ((nat_map *)x->val)->internal;
	return true;
}

/* ---- the public calls ------------------------------------------------------------------------ */

sim_nat *sim_nat_add_behind(sim *s, sim_nat *outer, const char *ip, const sim_nat_cfg *cfg)
{
	konce_addr a;
	if (!cfg || sim_parse_ip(ip, &a))
		return NULL;
	uint32_t realm = outer ? outer->id : 0;
	if (sim_addr_node(s, realm, a.ip))
		return NULL;
	if (s->nnats == s->nats_cap) {
		size_t cap = s->nats_cap ? s->nats_cap * 2 : 8;
		sim_nat **v = realloc(s->nats, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->nats = v;
		s->nats_cap = cap;
	}
	sim_nat *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->s = s;
	n->id = (uint32_t)s->nnats + 1;
	n->outer = realm;
	n->pub = a;
	n->cfg = *cfg;
	n->sweep_at = 1024;
	uint32_t lo, hi;
	if (port_range(n, &lo, &hi))
		n->next_port = lo + (uint32_t)sim_rand_below(s, hi - lo + 1);
	konce_addr_str(&a, n->name);
	if (sim_addr_claim(s, realm, a.ip, n, SIM_ENT_NAT)) {
		free(n);
		return NULL;
	}
	s->nats[s->nnats++] = n;
	return n;
}

sim_nat *sim_nat_add(sim *s, const char *public_ip, const sim_nat_cfg *cfg)
{
	return sim_nat_add_behind(s, NULL, public_ip, cfg);
}

void sim_nat_set_cfg(sim_nat *n, const sim_nat_cfg *cfg) { n->cfg = *cfg; }

static bool flush_map(void *ctx, simmap_node *x)
{
	sim_nat *n = ctx;
	nat_map *m = x->val;
	if (m->fixed)
		return false;
	simmap_del(&n->out, m->onode);
	free(m);
	return true;
}

static bool flush_all(void *ctx, simmap_node *x) { return true; }

void sim_nat_flush(sim_nat *n)
{
	simmap_sweep(&n->in, flush_map, n);
	simmap_sweep(&n->perms, flush_all, NULL);
}

int sim_nat_forward(sim_nat *n, uint16_t ext_port, sim_host *h, uint16_t int_port)
{
	if (!h || h->realm != n->id || !ext_port || !int_port)
		return -EINVAL;
	if (by_port(n, ext_port, n->s->now))
		return -EADDRINUSE;
	konce_addr internal = sim_host_addr(h, int_port), rk = {{0}, 0, 0};
	uint8_t ok[36];
	out_key(ok, &internal, &rk);
	simmap_node *x = simmap_get(&n->out, ok, sizeof(ok));
	if (x) {
		if (!expired(n, x->val, n->s->now))
			return -EADDRINUSE;
		n->c.expired++;
		map_remove(n, x->val);
	}
	return map_create(n, &internal, &rk, ext_port, true) ? 0 : -ENOMEM;
}

int sim_nat_lease(sim_nat *n, uint16_t ext_port, sim_host *h, uint16_t int_port, uint64_t until, bool outbound)
{
	if (!h || h->realm != n->id || !ext_port || !int_port || until <= n->s->now)
		return -EINVAL;
	konce_addr internal = sim_host_addr(h, int_port);
	nat_map *m = lease_of(n, &internal, n->s->now);
	if (m) {
		if (m->ext != ext_port)
			return -EADDRINUSE;
		m->until = until; /* a renewal */
		m->lease_out = outbound;
		return 0;
	}
	nat_map *cur = by_port(n, ext_port, n->s->now);
	if (cur && (cur->fixed || cur->until || n->cfg.mapping != SIM_NAT_EI ||
		    !konce_addr_eq(&cur->internal, &internal)))
		return -EADDRINUSE;
	if (cur) /* the address's own endpoint-independent mapping becomes its lease */
		map_remove(n, cur);
	maybe_sweep(n);
	if (!(m = map_create(n, &internal, &LEASE_KEY, ext_port, false)))
		return -ENOMEM;
	m->until = until;
	m->lease_out = outbound;
	return 0;
}

int sim_nat_unlease(sim_nat *n, uint16_t ext_port)
{
	nat_map *m = by_port(n, ext_port, n->s->now);
	if (!m || !m->until)
		return -ENOENT;
	map_remove(n, m);
	return 0;
}

int sim_nat_lease_get(sim_nat *n, const sim_host *h, uint16_t int_port, uint16_t *ext_port, uint64_t *until)
{
	if (!h || h->realm != n->id)
		return -ENOENT;
	konce_addr internal = sim_host_addr(h, int_port);
	nat_map *m = lease_of(n, &internal, n->s->now);
	if (!m)
		return -ENOENT;
	if (ext_port)
		*ext_port = m->ext;
	if (until)
		*until = m->until;
	return 0;
}

int sim_nat_lookup(sim_nat *n, const konce_addr *internal, const konce_addr *remote,
		   konce_addr *external)
{
	konce_addr rk = remote_key(n->cfg.mapping, remote);
	uint8_t ok[36];
	out_key(ok, internal, &rk);
	simmap_node *x = simmap_get(&n->out, ok, sizeof(ok));
	if (!x || expired(n, x->val, n->s->now))
		return -ENOENT;
	*external = sim_nat_public(n, ((nat_map *)x->val)->ext);
	return 0;
}

konce_addr sim_nat_public(const sim_nat *n, uint16_t port)
{
	konce_addr a = n->pub;
	a.port = port;
	return a;
}

size_t sim_nat_mappings(sim_nat *n)
{
	size_t live = 0;
	for (size_t i = 0; i < n->in.nb; i++)
		for (simmap_node *x = n->in.b[i]; x; x = x->next)
			live += !expired(n, x->val, n->s->now);
	return live;
}

const sim_nat_counters *sim_nat_counters_get(const sim_nat *n) { return &n->c; }

static bool free_map(void *ctx, simmap_node *x)
{
	free(x->val);
	return true;
}

void simnat_free(sim_nat *n)
{
	simmap_sweep(&n->in, free_map, NULL);
	simmap_free(&n->in);
	simmap_free(&n->out);
	simmap_free(&n->perms);
	free(n);
}
