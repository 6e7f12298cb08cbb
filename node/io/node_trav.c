/* node_trav.c - the node's host of the traversal core (node/core/trav.h): plumbing only.
 *
 * Both directions between the node core and traversal: the node core's hook table
 * (konce_nodecore_hooks, filled by node_trav_hooks()) is this file's entry points, and the
 * traversal core's ops are the node core's peer table itself (node/core/nctrav.h), so nothing
 * calls up through the I/O layer.  This file feeds the core the node socket's datagrams (after the one receive switch, node/core/rx_switch.h: LIFE_REQ goes
 * to the lifetime service of node_trav_life.c), the birthday sockets' and the filtering test's
 * sockets' datagrams (node_trav_socks.c, node_travfilter.c) and the rendezvous messages from
 * sessions, and hands it the endpoint's datagrams for path handles.  After each, from the event
 * loop (never inside the caller), kick() runs the core's timer and pump, sends what it returns
 * from the socket it names, acts on its events (log lines, a declined introduction, the reflexive
 * address), closes the birthday sockets it no longer needs, and re-arms one timer at its next
 * deadline.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "konce/traversal.h"
#include "node/core/nctrav.h"
#include "node/core/rx_switch.h"
#include "node/core/trav_info.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"
#include "node/io/node_trav_socks.h"

static struct node_trav *T(struct konce_node *n) { return n->trav; }

/* ---- what the core returns ------------------------------------------------------------------ */

static void on_sock_datagram(void *ctx, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from);

/* From the node socket (sock 0) or birthday socket sock (opened on demand). */
static void send_from(struct node_trav *t, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len)
{
	konce_addr local;
	if (!sock) {
		konce_udp_queue(t->n->udp, pkt, len, to);
		return;
	}
	if (node_travfilter_send(t, sock, pkt, len, to))
		return;
	if (!t->socks && (konce_udp_local(t->n->udp, &local) ||
			  node_trav_socks_new(&t->socks, t->n->base, &local, on_sock_datagram, t))) {
		t->bday_dropped++;
		return;
	}
	if (node_trav_socks_send(t->socks, sock, to, pkt, len))
		t->bday_dropped++;
}

static void drain(struct node_trav *t, uint64_t now)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_trav_event ev;
	while (konce_trav_poll(t->core, &sock, buf, &len, &to))
		send_from(t, sock, &to, buf, len);
	while (konce_trav_poll_event(t->core, &ev))
		switch (ev.type) {
		case KONCE_TRAV_EV_LOG:
			node_log(t->n, ev.level, "%s", ev.text);
			break;
		case KONCE_TRAV_EV_REFLEXIVE:
			break; /* the core starts its filtering test itself */
		case KONCE_TRAV_EV_SOCK_OPEN:
		case KONCE_TRAV_EV_SOCK_CLOSE:
			node_travfilter_sock(t, ev.sock, ev.type == KONCE_TRAV_EV_SOCK_OPEN);
			break;
		case KONCE_TRAV_EV_DECLINED:
			konce_nodecore_trav_declined(t->n->core, ev.pk, now); /* io_kick reports it */
			break;
		case KONCE_TRAV_EV_PATH:
			break; /* logged by the core; konce path reads the state */
		}
}

static void arm(struct node_trav *t, uint64_t now)
{
	uint64_t at = konce_trav_next_timer(t->core);
	if (at == UINT64_MAX) {
		event_del(t->ev_timer);
		return;
	}
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
	event_add(t->ev_timer, &tv);
}

static void kick(struct node_trav *t)
{
	uint64_t now = node_now_us();
	konce_trav_timer(t->core, now);
	drain(t, now);
	if (t->socks)
		node_trav_socks_sweep(t->socks, t->core);
	node_trav_life_apply(t);
	drain(t, now); /* the lifetime's keepalives may have queued nothing, but a log line */
	arm(t, now);
	node_io_kick(t->n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kick(arg);
}

void node_trav_schedule(struct node_trav *t) { event_active(t->ev_kick, EV_TIMEOUT, 0); }

int node_trav_events_new(struct node_trav *t)
{
	t->ev_timer = evtimer_new(t->n->base, on_timer, t);
	t->ev_kick = event_new(t->n->base, -1, 0, on_timer, t);
	return t->ev_timer && t->ev_kick ? 0 : -ENOMEM;
}

/* ---- the node core's hooks ------------------------------------------------------------------ */

/* A datagram of kind k on local socket sock (0: the node's).  True if traversal took it. */
static bool trav_input(struct node_trav *t, unsigned sock, enum konce_rx_kind k, const uint8_t *pkt, size_t len,
		       const konce_addr *from, uint64_t now)
{
	switch (k) {
	case KONCE_RX_LIFE_REQ: /* the lifetime service and the filtering echo belong to the node socket */
		if (!sock)
			node_trav_life_datagram(t, pkt, len, from);
		return true;
	default:
		if (!konce_trav_input(t->core, sock, pkt, len, from, now))
			return false;
		node_trav_schedule(t);
		return true;
	}
}

/* From the node socket, after the receive switch: a PUNCH, a verified tagged HELLO, a traversal
 * peer's datagram or a service's kind, before the endpoint sees it. */
static bool hook_on_datagram(void *ctx, enum konce_rx_kind k, const uint8_t *pkt, size_t len, const konce_addr *from,
			     uint64_t now)
{
	struct konce_node *n = ctx;
	return T(n) && trav_input(T(n), 0, k, pkt, len, from, now);
}

/* From a birthday socket: anything not for traversal is dropped (only peers use those sockets). */
static void on_sock_datagram(void *ctx, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav *t = ctx;
	if (!trav_input(t, sock, konce_rx_classify(pkt, len), pkt, len, from, node_now_us()))
		konce_trav_count_refused(t->core);
	kick(t);
}

/* A datagram from the endpoint to a path handle: held, punched or relayed, never to the socket. */
static bool hook_outgoing(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	struct node_trav *t = T(ctx);
	bool queued;
	if (!konce_nodecore_trav_outgoing(t ? t->core : NULL, pkt, len, to, node_now_us(), &queued))
		return false;
	if (queued)
		node_trav_schedule(t);
	return true;
}

/* A KONCE_CLASS_RENDEZVOUS body from a session. */
static void hook_on_message(void *ctx, konce_ncpeer *from, const uint8_t *body, size_t len)
{
	struct konce_node *n = ctx;
	struct node_trav *t = T(n);
	if (konce_nodecore_trav_message(n->core, t ? t->core : NULL, from, body, len, node_now_us()))
		node_trav_schedule(t);
}

/* A key with no address: a path handle, and an introduction asked for.  -EHOSTUNREACH without
 * rendezvous. */
static int hook_resolve(void *ctx, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a)
{
	struct node_trav *t = T(ctx);
	if (!t)
		return -EHOSTUNREACH;
	int e = konce_trav_resolve(t->core, pk, a, node_now_us());
	if (!e)
		node_trav_schedule(t);
	return e;
}

/* Path handles are never noted to the store. */
static bool hook_is_virtual(void *ctx, const konce_addr *a)
{
	(void)ctx;
	return konce_trav_is_path(a);
}

/* Rendezvous types rank beside a fresh source's handshake in the input queue only with traversal. */
static bool hook_traversal(void *ctx) { return T(ctx) != NULL; }

void node_trav_hooks(struct konce_node *n, konce_nodecore_hooks *h)
{
	*h = (konce_nodecore_hooks){
		.ctx = n,
		.on_datagram = hook_on_datagram,
		.outgoing = hook_outgoing,
		.on_message = hook_on_message,
		.resolve = hook_resolve,
		.is_virtual = hook_is_virtual,
		.traversal = hook_traversal,
	};
}

const char *node_trav_path_name(struct konce_node *n, const struct peer *p)
{
	return konce_trav_path_name(T(n) ? T(n)->core : NULL, &p->addr);
}
