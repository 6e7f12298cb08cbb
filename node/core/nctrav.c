/* nctrav.c - the traversal core's ops over the node core's peer table (nctrav.h). */
#include "node/core/nctrav.h"

#include <stdio.h>

#include "konce/konce.h"
#include "node/core/trav_info.h"

static bool op_peer(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out)
{
	const konce_ncpeer *p = konce_nodecore_peer_find(ctx, pk);
	if (!p)
		return false;
	out->conn = p->conn;
	out->up = p->up;
	out->addr = p->addr;
	return true;
}

static uint32_t op_dial(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, uint64_t now)
{
	konce_nodecore *c = ctx;
	konce_ncpeer *p;
	uint32_t conn;
	if (!(p = konce_nodecore_peer_add(c, pk)))
		return 0;
	if (konce_ep_connect(konce_nodecore_ep(c), pk, to, NULL, 0, now, &conn)) {
		konce_nodecore_peer_free(c, p, KONCE_REASON_NONE);
		return 0;
	}
	konce_nodecore_peer_set_conn(c, p, conn);
	p->addr = *to;
	p->since_us = now;
	return conn;
}

/* introductions = known, the store's part: a petname marks a key as known before first contact;
 * the known set is in memory (loaded from the store at start), so no SQLite on the input path */
static bool op_known(void *ctx, const uint8_t pk[KONCE_WIRE_KEY])
{
	return (konce_nodecore_known(ctx, pk) & KONCE_NC_NAMED) != 0;
}

konce_trav_ops konce_nodecore_trav_ops(konce_nodecore *c)
{
	return (konce_trav_ops){.peer = op_peer, .dial = op_dial, .known = op_known, .ctx = c};
}

void konce_nodecore_trav_declined(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint64_t now)
{
	konce_ncpeer *p = konce_nodecore_peer_find(c, pk);
	if (p && !p->up) {
		if (p->conn)
			konce_ep_close(konce_nodecore_ep(c), p->conn, now);
		konce_nodecore_peer_free(c, p, KONCE_REASON_INTRO_REFUSED);
	}
}

bool konce_nodecore_trav_outgoing(konce_trav *t, const uint8_t *pkt, size_t len, const konce_addr *to,
				  uint64_t now, bool *queued)
{
	*queued = false;
	if (!konce_trav_is_path(to))
		return false;
	if (t)
		*queued = konce_trav_outgoing(t, pkt, len, to, now);
	return true;
}

bool konce_nodecore_trav_message(konce_nodecore *c, konce_trav *t, const konce_ncpeer *from, const uint8_t *body,
				 size_t len, uint64_t now)
{
	if (!t || !len) {
		konce_nodecore_count_dropped(c);
		return false;
	}
	konce_trav_message(t, from->pk, &from->addr, body, len, now);
	return true;
}

bool konce_nodecore_trav_input(konce_trav *t, konce_travlife *life, unsigned sock, enum konce_rx_kind k,
			       const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	if (sock == KONCE_TRAVLIFE_SOCK_PROBE || (!sock && k == KONCE_RX_LIFE_REQ)) {
		konce_addr x;
		if (life)
			konce_travlife_input(life, sock, pkt, len, from, now);
		/* the probe socket's mapping is one more sample of our NAT's allocator */
		if (sock == KONCE_TRAVLIFE_SOCK_PROBE && konce_travlife_mapping(life, &x) == 0)
			konce_trav_mapping_sample(t, &x, now);
		return true;
	}
	if (sock > KONCE_PUNCH_BIRTHDAY) {
		konce_trav_input(t, sock, pkt, len, from, now);
		return true;
	}
	return k == KONCE_RX_LIFE_REQ || konce_trav_input(t, sock, pkt, len, from, now);
}

static bool took(konce_nodecore_trav_glue *g, bool t)
{
	if (t && g->kick)
		g->kick(g->kick_ctx);
	return t;
}

static bool hook_on_datagram(void *ctx, enum konce_rx_kind k, const uint8_t *pkt, size_t len, const konce_addr *from,
			     uint64_t now)
{
	konce_nodecore_trav_glue *g = ctx;
	return took(g, konce_nodecore_trav_input(g->t, g->life, 0, k, pkt, len, from, now));
}

static bool hook_outgoing(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	konce_nodecore_trav_glue *g = ctx;
	bool queued;
	if (!konce_nodecore_trav_outgoing(g->t, pkt, len, to, konce_nodecore_now(g->c), &queued))
		return false;
	took(g, queued);
	return true;
}

static void hook_on_message(void *ctx, konce_ncpeer *from, const uint8_t *body, size_t len)
{
	konce_nodecore_trav_glue *g = ctx;
	took(g, konce_nodecore_trav_message(g->c, g->t, from, body, len, konce_nodecore_now(g->c)));
}

static int hook_resolve(void *ctx, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a)
{
	konce_nodecore_trav_glue *g = ctx;
	int e = konce_trav_resolve(g->t, pk, a, konce_nodecore_now(g->c));
	took(g, e == 0);
	return e;
}

static bool hook_is_virtual(void *ctx, const konce_addr *a)
{
	(void)ctx;
	return konce_trav_is_path(a);
}

/* the traversal core holds an entry for pk: it asked for an introduction to it or got one */
static bool hook_traversed(void *ctx, const uint8_t pk[KONCE_KEY_BYTES])
{
	konce_nodecore_trav_glue *g = ctx;
	konce_trav_path_info info;
	return g->t && konce_trav_path_info_get(g->t, pk, konce_nodecore_now(g->c), &info) == 0;
}

static bool hook_traversal(void *ctx)
{
	(void)ctx;
	return true;
}

void konce_nodecore_trav_hooks(konce_nodecore_trav_glue *g, konce_nodecore_hooks *h)
{
	*h = (konce_nodecore_hooks){.ctx = g, .on_datagram = hook_on_datagram, .outgoing = hook_outgoing,
				    .on_message = hook_on_message, .resolve = hook_resolve,
				    .is_virtual = hook_is_virtual, .traversed = hook_traversed,
				    .traversal = hook_traversal};
}

int konce_nodecore_trav_portmap(konce_trav *t, konce_portmap_status *st, const konce_portmap_policy_event *ev,
				uint64_t now, char *line, size_t cap)
{
	char as[KONCE_ADDR_STRLEN];
	konce_portmap_status_note(st, ev);
	switch (ev->type) {
	case KONCE_PM_EV_MAPPED:
		snprintf(line, cap, "port mapped by %s at %s (lease %u s)", konce_portmap_policy_proto_name(ev->proto),
			 konce_addr_str(&ev->external, as), (unsigned)ev->lifetime_s);
		konce_trav_set_mapped(t, &ev->external, now);
		return KONCE_LOG_INFO;
	case KONCE_PM_EV_LOST:
		snprintf(line, cap, "port mapping lost (%s)", konce_portmap_policy_err_name(ev->reason));
		konce_trav_set_mapped(t, NULL, now);
		return KONCE_LOG_INFO;
	default:
		snprintf(line, cap, "no port mapping (%s)", konce_portmap_policy_err_name(ev->reason));
		return KONCE_LOG_DEBUG;
	}
}
