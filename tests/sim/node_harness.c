/* node_harness.c - the shipping node core as a simulator host (see node_harness.h). */
#include "tests/sim/node_harness.h"
#include "node/core/ncgroup.h"
#include "tests/sim/core_host.h"
#include "tests/sim/nn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The core's timer, the group flush event or the writer's end, whichever comes first; now if
 * the groups asked for the loop's next turn. */
static void rearm(ncnode *n)
{
	uint64_t at = konce_nodecore_next_timer(n->core), g = gwriter_next(&n->gw);
	if (g < at)
		at = g;
	if (nn_groups_due(n))
		at = sim_now(n->s);
	core_host_rearm(n->s, n->h, at, n->busy_until);
}

void nn_rearm(ncnode *n) { rearm(n); }

size_t ncnode_noted(const ncnode *n, const uint8_t *pk, const konce_addr *addr)
{
	return core_host_notes_count(&n->noted, pk, addr);
}

static void nn_event(void *ctx, const konce_nc_event *ev, uint64_t now)
{
	ncnode *n = ctx;
	if (ev->type == KONCE_NC_EV_PEER) {
		n->peers_up += ev->peer_event == KONCE_PEER_UP;
		n->peers_down += ev->peer_event == KONCE_PEER_DOWN;
		if (n->on_peer)
			n->on_peer(n, ev->peer_event, ev->pk, &ev->addr, now);
	} else if (ev->type == KONCE_NC_EV_GROUP) {
		if (n->groups) /* node_group_event(): the API's notices */
			nn_groups_event(n, ev);
		if (n->on_group)
			n->on_group(n, ev, now);
	}
}

static void nn_datagram(void *ctx, const konce_nc_datagram *dg, uint64_t now)
{
	ncnode *n = ctx;
	if (!n->on_tx || n->on_tx(n, dg->buf, dg->len, &dg->to, now))
		sim_send(n->s, n->h, n->port, &dg->to, dg->buf, dg->len);
}

static void nn_note(void *ctx, const konce_nc_note *note, uint64_t now)
{
	ncnode *n = ctx;
	(void)now;
	n->notes++;
	core_host_notes_keep(&n->noted, note);
}

/* ---- group records: node/io/group_io.c's calls on a simulated store and writer (gwriter.h) ---- */

static void drain(ncnode *n, uint64_t now);

static void gw_kick(void *ctx)
{
	ncnode *n = ctx;
	drain(n, sim_now(n->s));
}

/* group_io.c node_groups_io(): each note queued on the store and told to the table, then the
 * round's flush. */
static void groups_io(ncnode *n, uint64_t now)
{
	konce_nc_gnote gn;
	while (konce_nodecore_poll_gnote(n->core, &gn)) {
		n->gnotes++;
		if (n->groups)
			nn_groups_note(n, &gn); /* konce_store_group_note(), then the table */
		else
			gwriter_noted(&n->gw, &gn); /* a store that only counts: it queues */
	}
	gwriter_round(&n->gw, now);
}

/* node_io_kick()'s order: events, datagrams, notes, then the group records. */
static void drain(ncnode *n, uint64_t now)
{
	const core_host_sink sink = {n, nn_event, nn_datagram, nn_note};
	if (n->draining) {
		n->again = true;
		return;
	}
	n->draining = true;
	do {
		n->again = false;
		core_host_drain(n->core, &sink, now);
		groups_io(n, now);
	} while (n->again);
	n->draining = false;
}

void ncnode_flush(ncnode *n, uint64_t now)
{
	drain(n, now);
	if (!n->draining)
		rearm(n);
}

void nn_drain_rearm(ncnode *n, uint64_t now) { ncnode_flush(n, now); }

static uint64_t pow_cost(ncnode *n) { return core_host_pow_cost(ncnode_ep(n), &n->pow_tries_seen, n->us_per_hash); }

static uint64_t nn_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			uint64_t now)
{
	ncnode *n = ctx;
	(void)to;
	if (!n->core)
		return 0; /* freed: the host stays in the simulation */
	konce_nodecore_input(n->core, 0, pkt, len, from, now);
	konce_nodecore_stats before, after;
	konce_nodecore_stats_get(n->core, &before);
	konce_nodecore_timer(n->core, now);
	/* the one datagram was served (the sim hands them over one at a time): the load units the
	 * endpoint's verdict charged for it (none if a hook took it before the endpoint) */
	konce_nodecore_stats_get(n->core, &after);
	uint64_t cost = (after.input_units - before.input_units) * n->us_per_unit;
	drain(n, now);
	cost += pow_cost(n);
	n->cpu_us += cost;
	n->busy_until = now + cost;
	rearm(n);
	return cost;
}

static void nn_timer(void *ctx, uint64_t now)
{
	ncnode *n = ctx;
	if (!n->core)
		return;
	gwriter_run(&n->gw, now);
	if (nn_groups_due(n))
		nn_groups_run(n);
	if (konce_nodecore_next_timer(n->core) <= now)
		konce_nodecore_timer(n->core, now);
	drain(n, now);
	uint64_t cost = pow_cost(n);
	n->cpu_us += cost;
	if (now + cost > n->busy_until)
		n->busy_until = now + cost;
	sim_host_spend(n->s, n->h, cost);
	rearm(n);
}

static int nn_prio(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	ncnode *n = ctx;
	return n->use_priority && n->core ? (int)konce_nodecore_priority(n->core, pkt, len, from, now) : 0;
}

static const sim_host_ops nn_ops = {nn_recv, nn_timer, nn_prio};

/* A core for n's identity on n's host, from n->cfg, and the host's writer stream. */
static int make_core(ncnode *n)
{
	konce_nodecore_config c = n->cfg;
	c.ep.env = sim_host_env(n->h);
	c.ep.identity = n->id;
	c.ep.explicit_identity = true; /* as the daemon: peers reach it back by its durable key */
	int r = konce_nodecore_new(&n->core, &c, sim_now(n->s));
	if (r)
		return r;
	uint64_t k;
	memcpy(&k, konce_identity_public(n->id), sizeof k);
	simrng_seed(&n->wrng, sim_seed(n->s), 0x6e68777200000000ULL ^ k ^ n->gnotes); /* the host's writer stream */
	/* the records are counts (gwriter's own), a write an fsync of a small transaction: 0.2-5 ms */
	double fail = n->gw.fail;
	n->gw = (gwriter){.ctx = n, .kick = gw_kick, .core = n->core, .delay_min = 200, .delay_max = 5000,
			  .rng = &n->wrng, .fail = fail};
	rearm(n);
	return 0;
}

int ncnode_init(ncnode *n, sim *s, sim_nat *nat, const char *ip, uint16_t port, const konce_nodecore_config *cfg)
{
	memset(n, 0, sizeof *n);
	n->s = s;
	n->port = port;
	int r = core_host_add(s, nat, ip, port, &nn_ops, n, &n->h, &n->id);
	if (r)
		return r;
	if (cfg)
		n->cfg = *cfg;
	if ((r = make_core(n))) {
		konce_identity_free(n->id);
		n->id = NULL;
	}
	return r;
}

void ncnode_stop(ncnode *n, bool crash)
{
	if (!n->core)
		return;
	uint64_t now = sim_now(n->s);
	if (!crash) {
		konce_nodecore_fail_all(n->core, KONCE_REASON_LOCAL_CLOSE);
		drain(n, now);
		nn_groups_stop(n, false); /* the last records written (node_groups_stop) */
		konce_nodecore_close_all(n->core, now);
		drain(n, now);
	}
	nn_groups_stop(n, true); /* a crash (or nothing left: stopped above) */
	sim_timer_cancel(n->s, n->h);
	/* a crash for the group records: what is queued or in flight dies, the written stays */
	n->records_lost += gwriter_drop(&n->gw);
	konce_nodecore_free(n->core);
	n->core = NULL;
	n->busy_until = 0;
}

int ncnode_restart(ncnode *n)
{
	if (n->core || !n->id)
		return -EINVAL;
	int r = make_core(n);
	if (!r && n->store_path[0]) {
		char path[sizeof n->store_path];
		memcpy(path, n->store_path, sizeof path);
		r = ncnode_groups_open(n, path);
	}
	return r < 0 ? r : 0;
}

void ncnode_free(ncnode *n)
{
	ncnode_stop(n, false);
	if (!n->id)
		return;
	konce_identity_free(n->id);
	core_host_notes_free(&n->noted);
	n->id = NULL;
}

konce_addr ncnode_addr(const ncnode *n) { return sim_host_addr(n->h, n->port); }
const uint8_t *ncnode_pk(const ncnode *n) { return konce_identity_public(n->id); }
konce_ep *ncnode_ep(const ncnode *n) { return konce_nodecore_ep(n->core); }

void ncnode_learn(ncnode *n, const ncnode *peer)
{
	konce_addr a = ncnode_addr(peer);
	konce_nodecore_known_load(n->core, ncnode_pk(peer), &a, NULL);
}

int ncnode_send(ncnode *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const void *data, size_t len,
		const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t *handle)
{
	int r = konce_nodecore_send(n->core, pk, klass, data, len, o, fn, ctx, sim_now(n->s), handle);
	ncnode_flush(n, sim_now(n->s));
	return r;
}

int ncnode_reply(ncnode *n, const konce_message *req, const void *data, size_t len)
{
	int r = konce_nodecore_reply(n->core, req, data, len, sim_now(n->s));
	ncnode_flush(n, sim_now(n->s));
	return r;
}
