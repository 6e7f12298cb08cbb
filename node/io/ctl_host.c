/* ctl_host.c - what the control protocol (node/ctl/ctlproto.h) reads of the node that only this
 * layer knows: the clock, the store worker's queue, the socket's counters, the traversal host's
 * port mapping and birthday pool (both kept by the unit, node/core/nctravhost.h), and the reader
 * of the files that `send --file` sends (fileread.h).  control.c fills one host per control socket. */
#include <time.h>

#include "node/io/fileread.h"
#include "node/io/node_int.h"
#include "node/io/node_storew.h"
#include "node/io/node_trav_int.h"

static int64_t host_wall_s(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static void host_io_status(void *ctx, konce_ctlproto_io *out)
{
	struct konce_node *n = ctx;
	konce_udp_stats us;
	*out = (konce_ctlproto_io){.uptime_s = (node_now_us() - n->started_us) / 1000000u,
				   .store_ok = n->store && !n->store_failing};
	if (n->storew) {
		node_storew_status sws;
		node_storew_get_status(n->storew, &sws); /* the writes' queue is the worker's */
		out->store_pending = sws.stats.pending;
	}
	konce_udp_get_stats(n->udp, &us);
	out->udp_tx_dropped = us.tx_dropped;
}

static void host_trav_status(void *ctx, konce_ctlproto_travio *out)
{
	struct konce_node *n = ctx;
	struct node_trav *t = n->trav;
	const konce_nctravhost_sockstats *bs = &t->h.socks.st; /* the unit's pool */
	*out = (konce_ctlproto_travio){
		.pm = t->h.pm, .bday_dropped = t->h.bday_dropped,
		.socks_opened = bs->opened, .socks_open_failed = bs->open_failed, .socks_tx = bs->tx,
		.socks_rx = bs->rx, .socks_open_now = bs->open_now, .socks_open_max = bs->open_max,
	};
	out->have_local = konce_udp_local(n->udp, &out->local) == 0;
}

static int host_read_file(void *ctx, int fd, uint8_t *buf, size_t len, void (*done)(void *dctx, int e), void *dctx)
{
	return node_fileread(ctx, fd, buf, len, done, dctx);
}

void node_ctl_host(struct konce_node *n, konce_ctlproto_host *h)
{
	*h = (konce_ctlproto_host){
		.node = n, .core = n->core, .store = n->store, .trav = n->trav ? n->trav->h.t : NULL,
		.life = n->trav ? n->trav->h.life : NULL, .pk = n->pk,
		.file_background_bytes = n->cfg.file_background_bytes, .ctx = n, .now_us = node_clock_us,
		.wall_s = host_wall_s, .io_status = host_io_status, .trav_status = host_trav_status,
		.read_file = host_read_file,
	};
}
