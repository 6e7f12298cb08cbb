/* node_io.c - the libevent plumbing around the node core: the UDP socket (read in batches, sent with
 * GSO batching by udp.c), the one timer (the node core's deadline and the traversal host's,
 * node_trav.h), the store writer, and node_io_kick(), which drains the core.
 *
 * Every path through here ends in node_io_kick(): dispatch the core's events (outcome callbacks,
 * handlers, peer callbacks), send its datagrams from the endpoint's own buffers (send_datagrams(),
 * no copy), write its store notes into the store writer's inbox, and re-arm the one timer at the
 * core's next deadline.
 * The notes are written only by the store writer's thread (node_storew.c), never by the loop.
 *
 * Input is served by priority, not first come first served: each readable wake reads up to
 * RECV_CALLS_PER_WAKE batches into the core's input queue (konce_nodecore_input: classified by
 * konce_ep_priority, session traffic first, then handshakes from sources by rate-limit overdraft,
 * unknown types last), and konce_nodecore_timer() feeds the endpoint best first up to one wake's
 * budget of load units (KONCE_NC_WAKE_BUDGET).  What is left makes the core's next timer "now",
 * so it runs again on the loop's next turn, behind whatever else is ready; when the queue is full
 * the worst priority is shed, counted as `input_shed` in `konce status --json`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "node/core/ncconf.h"
#include "node/core/ncinfo.h"
#include "node/io/node_int.h"
#include "node/io/node_storew.h"
#include "node/io/node_trav.h"

enum {
	TICK_INTERVAL_MS = 1000,
	RECV_CALLS_PER_WAKE = 16,
	INQ_SLOTS = RECV_CALLS_PER_WAKE * KONCE_UDP_BATCH, /* one full read: 1,024 datagrams */
};

static void on_datagram(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct konce_node *n = ctx;
	konce_nodecore_input(n->core, 0, pkt, len, from, node_now_us());
}

/* The core's notes, to the store writer: copies into its inbox, never SQLite (node_storew.h). */
static void write_notes(struct konce_node *n)
{
	konce_nc_note note;
	int64_t wall = (int64_t)time(NULL);
	while (n->core && konce_nodecore_poll_note(n->core, &note))
		node_storew_note(n->storew, &note, wall); /* -ENOBUFS is counted in the store's stats */
}

static void free_event(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
}

static void dispatch(struct konce_node *n, const konce_nc_event *ev)
{
	char as[KONCE_ADDR_STRLEN];
	switch (ev->type) {
	case KONCE_NC_EV_OUTCOME:
		ev->fn(ev->ctx, ev->outcome, ev->reason, ev->data, ev->len);
		break;
	case KONCE_NC_EV_MESSAGE:
		ev->handler(ev->handler_ctx, n, &ev->msg);
		break;
	case KONCE_NC_EV_PEER:
		if (n->peer_fn)
			n->peer_fn(n->peer_ctx, ev->peer_event, ev->pk, konce_addr_str(&ev->addr, as));
		break;
	case KONCE_NC_EV_GROUP:
		node_group_event(n, ev);
		break;
	}
}

/* The core's datagrams to the socket without a copy: a batch at a time lent from the endpoint's
 * out ring (konce_nodecore_poll_ref), read by the kernel from there (konce_udp_queue_ref), and
 * released once the flush has returned, so no slot is reused while the socket points at it. */
static void send_datagrams(struct konce_node *n)
{
	konce_nc_dgref dg;
	unsigned k;
	do {
		for (k = 0; k < KONCE_UDP_BATCH && konce_nodecore_poll_ref(n->core, &dg); k++)
			konce_udp_queue_ref(n->udp, dg.pkt, dg.len, &dg.to);
		konce_udp_flush(n->udp);
		konce_nodecore_sent(n->core);
	} while (k == KONCE_UDP_BATCH);
}

void node_io_kick(struct konce_node *n)
{
	konce_nc_event ev;

	if (!n->core)
		return;
	if (n->draining) { /* called from inside a callback or hook below: one more round */
		n->drain_again = 1;
		return;
	}
	n->draining = 1;
	do {
		n->drain_again = 0;
		/* Events first: a handler may answer the first message inside the pending ACCEPT. */
		while (konce_nodecore_poll_event(n->core, &ev))
			dispatch(n, &ev);
		send_datagrams(n);
		if (n->storew) {
			write_notes(n);
			node_groups_io(n);
		}
	} while (n->drain_again);
	n->draining = 0;

	if (!n->timer.ev)
		return;
	uint64_t at = konce_nodecore_next_timer(n->core), t = node_trav_next_timer(n);
	node_ptimer_arm(&n->timer, t < at ? t : at);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	(void)fd;
	(void)what;
	node_trav_run(n, node_now_us()); /* when scheduled: traversal's input and requests */
	node_io_kick(n);
}

void node_io_schedule(struct konce_node *n)
{
	if (n->ev_kick)
		event_active(n->ev_kick, EV_TIMEOUT, 0);
}

static void on_timer(void *arg)
{
	struct konce_node *n = arg;
	uint64_t now = node_now_us();
	konce_nodecore_timer(n->core, now);
	node_trav_run(n, now);
	node_io_kick(n);
}

/* What waits, into the core's input queue; the core's timer then serves it. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	int r = konce_udp_recv(n->udp, RECV_CALLS_PER_WAKE, on_datagram, n);
	if (r < 0 && r != -ECONNREFUSED)
		node_log(n, KONCE_LOG_DEBUG, "udp receive: %s", strerror(-r));
	(void)fd;
	(void)what;
	on_timer(arg);
}

/* The once-a-second tick: per-peer rates, and the store writer's health in the log (once per failing
 * spell, not every second). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct konce_node *n = arg;
	node_storew_status st;
	(void)fd;
	(void)what;
	konce_nodecore_sample_traffic(n->core, node_now_us());
	if (!n->storew)
		return;
	node_storew_get_status(n->storew, &st);
	if (st.failing && !n->store_failing)
		node_log(n, KONCE_LOG_ERROR, "%s", st.err);
	else if (!st.failing && n->store_failing)
		node_log(n, KONCE_LOG_INFO, "presence store writable again; queued records written");
	n->store_failing = st.failing;
}

/* The store writer, with its own connection to the store n->store reads (node_storew.h).  Without
 * it the node runs without a presence store, as when the store cannot be opened. */
static void start_storew(struct konce_node *n)
{
	char err[768];
	int e = node_storew_start(&n->storew, n->base, n->db_path, err, sizeof(err));
	if (e) {
		node_log(n, KONCE_LOG_ERROR, "%s; running without a presence store", err);
		konce_store_close(n->store, NULL, 0);
		n->store = NULL;
	}
}

_Static_assert((int)KONCE_NC_PETNAME_MAX == (int)KONCE_STORE_PETNAME_MAX, "the core holds every stored petname");

/* The store's keys, their newest addresses, petnames and counts, into the core's cache, once,
 * before the loop serves anything: from then on the send and input paths and the control answers
 * read the cache, never SQLite (docs/STORE.md).  One query for every key and its newest address. */
static int load_known(void *ctx, const konce_peer_rec *r, const konce_store_addr *newest)
{
	struct konce_node *n = ctx;
	if (konce_nodecore_known_load(n->core, r->pk, newest ? &newest->addr : NULL, r->petname) == 0)
		konce_nodecore_known_load_counts(n->core, r->pk, r->handshakes, r->failures, r->last_seen,
						 r->rtt_us);
	return 0;
}

static int open_socket(struct konce_node *n, const konce_ncconf *pc, char *err, size_t errlen)
{
	konce_addr a;
	int e = konce_udp_open(&n->udp, &pc->listen_addr, err, errlen);
	if (konce_ncconf_listen_fallback(pc, e, &a)) {
		node_log(n, KONCE_LOG_WARN, "IPv6 unavailable; listening on IPv4 only");
		e = konce_udp_open(&n->udp, &a, err, errlen);
	}
	return e;
}

/* The route's MTU toward a real address (a path handle's is the core's rule, nodecore.h). */
static unsigned path_mtu(void *ctx, const konce_addr *peer)
{
	(void)ctx;
	return konce_udp_path_mtu(peer);
}

int node_io_start(struct konce_node *n, const konce_ncconf *pc, char *err, size_t errlen)
{
	int e = open_socket(n, pc, err, errlen);
	if (e)
		return e;
	if (n->store)
		start_storew(n);
	konce_nodecore_config cc;
	konce_ncconf_core(pc, &n->cfg, n->id, n->store != NULL, &cc);
	char line[256];
	konce_ncconf_measure(&cc, node_clock_us, NULL, line, sizeof line); /* about 10 ms, once */
	node_log(n, KONCE_LOG_DEBUG, "%s", line);
	cc.ep.path_mtu = path_mtu;
	cc.inq_slots = INQ_SLOTS;
	cc.log = node_log_line;
	cc.log_ctx = n;
	/* no hooks until traversal starts (konce_nctravhost_start) */
	if ((e = konce_nodecore_new(&n->core, &cc, node_now_us()))) {
		struct rlimit rl;
		bool finite = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
		konce_ncconf_core_err(&cc, e, finite ? (uint64_t)rl.rlim_cur : UINT64_MAX, err, errlen);
		node_log(n, KONCE_LOG_ERROR, "%s", err);
		return e;
	}
	if (n->store && konce_store_peers_each_newest(n->store, 0, load_known, n) < 0)
		node_log(n, KONCE_LOG_WARN, "cannot read the known peers from the presence store");
	if (node_groups_start(n)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->ev_read = event_new(n->base, konce_udp_fd(n->udp), EV_READ | EV_PERSIST, on_readable, n);
	if ((e = node_ptimer_init(&n->timer, n->base, on_timer, n))) {
		snprintf(err, errlen, "cannot create the node's timer: %s", strerror(-e));
		return e;
	}
	n->ev_flush = event_new(n->base, -1, EV_PERSIST, on_tick, n);
	n->ev_kick = event_new(n->base, -1, 0, on_kick, n);
	if (!n->ev_read || !n->ev_flush || !n->ev_kick) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct timeval fl = {TICK_INTERVAL_MS / 1000, (TICK_INTERVAL_MS % 1000) * 1000};
	event_add(n->ev_read, NULL);
	event_add(n->ev_flush, &fl);
	node_io_kick(n);
	return 0;
}

void node_io_stop(struct konce_node *n)
{
	node_groups_stop(n); /* the groups' last records, flushed */
	if (n->core) {
		char line[512];
		konce_nodecore_counters_line(n->core, line, sizeof line);
		node_log(n, KONCE_LOG_DEBUG, "%s", line);
		/* close every session so peers hear CLOSE now rather than idling out; a CLOSE to a
		 * punched peer goes direct (the outgoing hook) */
		konce_nodecore_close_all(n->core, node_now_us());
		if (n->udp)
			send_datagrams(n);
	}
	free_event(&n->ev_read);
	node_ptimer_free(&n->timer);
	free_event(&n->ev_kick);
	free_event(&n->ev_flush);
	if (n->storew) { /* the notes of the last moments, then the writer's last write */
		char err[768];
		write_notes(n);
		if ((n->store_result = node_storew_stop(n->storew, err, sizeof(err))))
			node_log(n, KONCE_LOG_ERROR, "%s", err);
		n->storew = NULL;
	}
	konce_udp_close(n->udp);
	n->udp = NULL;
	konce_nodecore_free(n->core);
	n->core = NULL;
}
