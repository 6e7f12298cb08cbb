/* node_trav.c - the node's host of the traversal core (node/core/trav.h) and of the mapping
 * lifetime core composed with it (node/core/trav_life.h, nctravlife.h): plumbing only.
 *
 * Both directions between the node core and traversal are the core's own: the node core's hooks
 * (konce_nodecore_trav_hooks(), set by node_trav_hook()) feed the traversal core, and its ops are
 * the node core's peer table itself (node/core/nctrav.h), so nothing calls up through the I/O
 * layer.  This file feeds the cores the datagrams of the sockets they name by number (one set,
 * auxsock.h: birthday probing's pool, the filtering test's two, the lifetime's probe socket).
 * After what they took (the hooks' kick, a socket's read), from the
 * node's event loop (never inside the caller: node_trav_schedule() marks the cores due and
 * schedules node_io.c's kick), node_trav_run() runs both cores' timers and pumps, sends what they
 * return from the socket they name, acts on the traversal core's events (log lines, a declined
 * introduction, a socket to open or close) and closes the pool sockets no peer needs any more.
 * The node's one timer (node_io.c) is armed at the earliest of the node core's and these cores'
 * deadlines (node_trav_next_timer()): one loop drains them all.
 */
#include <errno.h>
#include <string.h>

#include "konce/traversal.h"
#include "node/core/nctrav.h"
#include "node/core/rx_switch.h"
#include "node/core/trav_info.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"

static struct node_trav *T(struct konce_node *n) { return n->trav; }

/* ---- what the cores return ------------------------------------------------------------------ */

/* From the node socket (sock 0: copied into its batch, or lent when ref) or the set's socket sock
 * (a pool socket opens on demand). */
static void send_from(struct node_trav *t, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len,
		      bool ref)
{
	if (!sock)
		(ref ? konce_udp_queue_ref : konce_udp_queue)(t->n->udp, pkt, len, to);
	else if (node_aux_send(t->aux, sock, pkt, len, to) && sock <= KONCE_PUNCH_BIRTHDAY)
		t->bday_dropped++; /* the others are lost datagrams their cores retry */
}

/* A socket the traversal core asks for (the filtering test's): opened, then reported. */
static void sock_event(struct node_trav *t, unsigned id, bool open, uint64_t now)
{
	konce_addr local;
	int e;
	if (!open) {
		node_aux_close(t->aux, id);
		return;
	}
	if ((e = node_aux_open(t->aux, id, &local)))
		node_log(t->n, KONCE_LOG_WARN, "filtering test: cannot open a socket: %s", strerror(-e));
	konce_trav_sock_opened(t->core, id, e ? NULL : &local, now);
}

static void drain(struct node_trav *t, uint64_t now)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	const uint8_t *pkt;
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_trav_event ev;
	/* the traversal core's datagrams (a punched path's session traffic among them) are lent to
	 * the socket, sent, then released (konce_trav_poll_ref): no copy on the way out */
	while (konce_trav_poll_ref(t->core, &sock, &pkt, &len, &to))
		send_from(t, sock, &to, pkt, len, true);
	konce_udp_flush(t->n->udp);
	konce_trav_sent(t->core);
	while (t->life && konce_travlife_poll(t->life, &sock, buf, &len, &to))
		send_from(t, sock, &to, buf, len, false);
	while (konce_trav_poll_event(t->core, &ev))
		switch (ev.type) {
		case KONCE_TRAV_EV_LOG:
			node_log(t->n, ev.level, "%s", ev.text);
			break;
		case KONCE_TRAV_EV_REFLEXIVE:
			break; /* the core starts its filtering test itself */
		case KONCE_TRAV_EV_SOCK_OPEN:
		case KONCE_TRAV_EV_SOCK_CLOSE:
			sock_event(t, ev.sock, ev.type == KONCE_TRAV_EV_SOCK_OPEN, now);
			break;
		case KONCE_TRAV_EV_DECLINED:
			konce_nodecore_trav_declined(t->n->core, ev.pk, now); /* io_kick reports it */
			break;
		case KONCE_TRAV_EV_PATH:
			break; /* logged by the core; konce path reads the state */
		}
}

uint64_t node_trav_next_timer(struct konce_node *n)
{
	struct node_trav *t = T(n);
	uint64_t at = t ? konce_trav_next_timer(t->core) : UINT64_MAX;
	uint64_t l = t && t->life ? konce_travlife_next_timer(t->life) : UINT64_MAX;
	return l < at ? l : at;
}

void node_trav_run(struct konce_node *n, uint64_t now)
{
	struct node_trav *t = T(n);
	bool keep[KONCE_PUNCH_BIRTHDAY + 1] = {false};
	struct node_aux_stats as;
	if (!t || (!t->due && now < node_trav_next_timer(n)))
		return;
	t->due = false;
	konce_trav_timer(t->core, now);
	drain(t, now);
	node_aux_get_stats(t->aux, &as);
	if (as.open_now && !konce_trav_socks_needed(t->core, now, keep)) /* the pool sockets no one needs */
		node_aux_keep(t->aux, keep);
	if (t->life) {
		konce_travlife_timer(t->life, now);
		/* a rebound restarts the search: its next experiment is due now */
		konce_nctravlife_apply(&t->life_with, t->life, now);
		drain(t, now);
	}
}

void node_trav_schedule(struct node_trav *t)
{
	t->due = true;
	node_io_schedule(t->n);
}

/* From the set's socket id: a pool socket's only peers use (anything not for traversal is
 * refused), the filtering test's, the lifetime's probe socket. */
static void on_aux(void *ctx, unsigned id, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav *t = ctx;
	if (!konce_nodecore_trav_input(t->core, t->life, id, konce_rx_classify(pkt, len), pkt, len, from,
				       node_now_us()))
		konce_trav_count_refused(t->core);
}

static void on_aux_done(void *ctx) { node_trav_schedule(ctx); }

int node_trav_aux_new(struct node_trav *t, const konce_addr *local)
{
	return node_aux_new(&t->aux, t->n->base, local, KONCE_TRAVLIFE_SOCK_PROBE, KONCE_PUNCH_BIRTHDAY, on_aux,
			    on_aux_done, t);
}

static void glue_kick(void *ctx) { node_trav_schedule(ctx); }

void node_trav_hook(struct node_trav *t)
{
	konce_nodecore_hooks h;
	t->glue = (konce_nodecore_trav_glue){.c = t->n->core, .t = t->core, .life = t->life, .kick = glue_kick,
					     .kick_ctx = t};
	konce_nodecore_trav_hooks(&t->glue, &h);
	konce_nodecore_set_hooks(t->n->core, &h);
}

const char *node_trav_path_name(struct konce_node *n, const struct peer *p)
{
	return konce_trav_path_name(T(n) ? T(n)->core : NULL, &p->addr);
}
