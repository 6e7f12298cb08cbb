/* trav_host.c - the shipping traversal unit on simulator hosts (see trav_host.h). */
#include "tests/sim/trav_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "konce/konce.h"

#include "node/base/wire.h"
#include "node/core/trav_conf.h"
#include "node/core/trav_info.h"
#include "node/core/trav_int.h"
#include "tests/sim/core_host.h"

#define MS SIM_MS

/* ---- the traversal unit's I/O: the simulator's sockets (konce_nctravhost_io) ---------------- */

/* Socket n's port: 0 the node's; birthday probing's pool and the filtering test's two at
 * TP_BDAY_BASE + n (each its own local port, so a sequential NAT maps each anew). */
static uint16_t sock_port(unsigned sock) { return sock ? (uint16_t)(TP_BDAY_BASE + sock) : TP_MAIN_PORT; }

static uint16_t main_port(const tp_node *n) { return n->owner && n->on_tick ? TP_MAIN_PORT : TP_RDV_PORT; }

/* As node/io/node_trav.c io_send over node/io/auxsock.c: the unit sends on an extra socket only
 * while it is open (a datagram for one closed is refused). */
static int io_send(void *ctx, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len, bool ref)
{
	tp_node *n = ctx;
	(void)ref; /* sim_send copies: nothing stays lent after the call */
	if (sock > KONCE_TRAVLIFE_SOCK_PROBE)
		return -EINVAL;
	if (!n->bound[sock])
		return -ENOTCONN;
	return sim_send(n->s, n->h, sock ? sock_port(sock) : main_port(n), to, pkt, len);
}

static void io_flush(void *ctx) { (void)ctx; /* sim_send sends each datagram at once */ }

/* As node_aux_open: bound (refuse_socks makes it fail for the sockets above the birthday pool, as
 * a full descriptor table would), and its address. */
static int io_open(void *ctx, unsigned sock, konce_addr *local)
{
	tp_node *n = ctx;
	int e;
	if (!sock || sock > KONCE_TRAVLIFE_SOCK_PROBE)
		return -EINVAL;
	if (!n->bound[sock]) {
		if (n->refuse_socks && sock > KONCE_PUNCH_BIRTHDAY)
			return -EMFILE;
		if ((e = sim_host_bind(n->h, sock_port(sock))))
			return e;
		n->bound[sock] = true;
	}
	*local = sim_host_addr(n->h, sock_port(sock));
	return 0;
}

static void io_close(void *ctx, unsigned sock)
{
	tp_node *n = ctx;
	if (!sock || sock > KONCE_TRAVLIFE_SOCK_PROBE || !n->bound[sock])
		return;
	sim_host_unbind(n->h, sock_port(sock));
	n->bound[sock] = false;
}

/* The log lines of a peer's unit (the core's LOG events among them), with their virtual time
 * under TP_TRACE=1; dropped otherwise, as there is no log. */
static void io_log(void *ctx, int level, const char *text)
{
	tp_node *n = ctx;
	(void)level;
	if (n->name && getenv("TP_TRACE"))
		fprintf(stderr, "%9.3f %s log %s\n", sim_now(n->s) / 1e6, n->name, text);
}

/* As node_io_schedule: a run on the loop's next turn.  Inside a turn that is the turn's next round;
 * outside one (the application's call into the node core) the host's timer, now. */
static void io_kick(void *ctx)
{
	tp_node *n = ctx;
	n->kicked = true;
	if (!n->in_turn)
		sim_timer_set(n->s, n->h, sim_now(n->s));
}

static const konce_nctravhost_io sim_io = {
	.send = io_send, .flush = io_flush, .open = io_open, .close = io_close, .log = io_log, .kick = io_kick,
};

/* Each event of the traversal core, after the unit handled it: the owner's record. */
static void watch(void *ctx, const konce_trav_event *ev, uint64_t now)
{
	tp_node *n = ctx;
	if (n->on_trav)
		n->on_trav(n->owner, ev, now);
}

/* ---- port mapping: the worker (sim_portmap.h) as node/io/node_trav.c runs portmap.c ---------- */

static void on_portmap(void *ctx, const konce_portmap_policy_event *ev, uint64_t now)
{
	tp_node *n = ctx;
	if ((unsigned)ev->type <= KONCE_PM_EV_UNAVAILABLE)
		n->pm_ev[ev->type]++;
	konce_nctravhost_portmap(&n->th, ev, now);
}

static void on_portmap_trace(void *ctx, const char *line)
{
	tp_node *n = ctx;
	if (n->name && getenv("TP_TRACE"))
		fprintf(stderr, "%9.3f %s portmap: %s\n", sim_now(n->s) / 1e6, n->name, line);
}

/* As node_trav.c start_portmap: the policy the unit configured, over the LAN's gateway. */
static void start_portmap(tp_node *n, const konce_portmap_policy_cfg *policy)
{
	sim_pm_cfg pc = {.h = n->h, .gw = n->gw, .policy = *policy, .on_event = on_portmap,
			 .trace = on_portmap_trace, .ctx = n};
	int e = sim_pm_start(&n->pm, n->s, &pc, sim_now(n->s));
	if (e) {
		fprintf(stderr, "trav_host: cannot start port mapping: %s\n", strerror(-e));
		abort();
	}
	konce_nctravhost_portmap_started(&n->th);
}

/* Starts the node's traversal unit with its configuration (n->tc), as konce_node_traversal():
 * parsed (trav_conf.h), the host candidate (the node socket's specific address), then
 * konce_nctravhost_start over the node core. */
static void node_start(tp_node *n)
{
	char err[256];
	konce_travconf su;
	konce_addr local = sim_host_addr(n->h, main_port(n)); /* the node socket's, as udp.c reports it */
	konce_nctravhost_io io = sim_io;
	io.ctx = n;
	int e = konce_travconf_parse(&su, &n->tc, err, sizeof err);
	if (!e) {
		konce_travconf_hosts(&su, &local, NULL, 0); /* a specific address: no interface list */
		e = konce_nctravhost_start(&n->th, n->core, &su, &local, &io, sim_now(n->s), err, sizeof err);
	}
	if (e) {
		fprintf(stderr, "trav_host: %s\n", err);
		abort();
	}
	n->th.watch = watch;
	n->th.watch_ctx = n;
	n->t = n->th.t;
	n->life = n->th.life;
	konce_portmap_policy_cfg policy;
	if (konce_nctravhost_wants_portmap(&n->th, &su, &local, &policy))
		start_portmap(n, &policy);
}

/* ---- the loop --------------------------------------------------------------------------------- */

static void core_datagram(void *ctx, const konce_nc_datagram *dg, uint64_t now)
{
	tp_node *n = ctx;
	(void)now;
	io_send(n, dg->sock, &dg->to, dg->buf, dg->len, false);
}

/* The node core's store notes: kept, as the daemon's store worker receives them. */
static void core_note(void *ctx, const konce_nc_note *note, uint64_t now)
{
	tp_node *n = ctx;
	(void)now;
	core_host_notes_keep(&n->notes, note);
}

/* The daemon's loop turns (node/io/node_io.c) at one virtual time: on_timer (the node core's timer
 * when timer, the unit's run, node_io_kick()'s drain: the node core's events to the application,
 * its datagrams, which those for path handles left through the outgoing hook to the unit, and its
 * store notes, kept), then on_kick's (the unit's run, the drain) while the unit asks for one, or
 * the node core's deadline is due again (its input queue's next budget), up to 8 rounds; then the
 * one timer at the earliest deadline (the node core's, the unit's, the owner's tick). */
static void turn(tp_node *n, bool timer, uint64_t now)
{
	const core_host_sink sink = {n, NULL, core_datagram, core_note};
	n->in_turn = true;
	for (int round = 0; round < 8; round++) {
		if (timer)
			konce_nodecore_timer(n->core, now);
		n->kicked = false;
		konce_nctravhost_run(&n->th, now);
		core_host_drain(n->core, &sink, now);
		timer = konce_nodecore_next_timer(n->core) <= now;
		if (!timer && !n->kicked && konce_nctravhost_next_timer(&n->th) > now)
			break;
	}
	n->in_turn = false;
	uint64_t t = konce_nodecore_next_timer(n->core), u = konce_nctravhost_next_timer(&n->th);
	t = u < t ? u : t;
	t = n->tick_at < t ? n->tick_at : t;
	u = n->pm ? sim_pm_next_timer(n->pm) : UINT64_MAX;
	t = u < t ? u : t;
	sim_timer_set(n->s, n->h, t > now && !n->kicked ? t : now);
}

static void snap(tp_node *n, uint64_t now)
{
	if (n->owner && n->on_tick) {
		tp_peer *p = n->owner;
		struct tpeer *tp = tpeer_get(n->t, p->other, TPEER_FIND, now);
		p->snap_direct = tp ? tp->direct_rx : 0;
		p->snap_relayed = tp ? tp->relayed_rx : 0;
	}
}

static uint64_t node_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			  uint64_t now)
{
	tp_node *n = ctx;
	unsigned sock = to->port >= TP_BDAY_BASE ? (unsigned)(to->port - TP_BDAY_BASE) : 0;
	snap(n, now);
	if (sock) {
		/* a pool, filtering or probe socket (node_trav.c on_aux, then on_aux_done's run) */
		konce_nctravhost_input(&n->th, sock, pkt, len, from, now);
		konce_nctravhost_schedule(&n->th);
		turn(n, false, now);
	} else {
		/* the node socket: the node core's input queue, served by the timer's turn
		 * (node_io.c on_readable); the message events of this datagram are dispatched in
		 * it, while the snapshot holds */
		konce_nodecore_input(n->core, 0, pkt, len, from, now);
		turn(n, true, now);
	}
	return 30;
}

static void node_timer(void *ctx, uint64_t now)
{
	tp_node *n = ctx;
	snap(n, now);
	if (n->on_tick && now >= n->tick_at)
		n->on_tick(n->owner, now);
	if (n->pm && now >= sim_pm_next_timer(n->pm)) /* portmap.c's timer and result wake */
		sim_pm_run(n->pm, now);
	turn(n, true, now);
}

static const sim_host_ops node_ops = {node_recv, node_timer, NULL};

/* A node on host h: its node core, then its traversal unit (node_start) with the traversal
 * configuration a daemon would be given: the rendezvous to register with (their keys from their
 * addresses, tp_rdv_key), the service (a rendezvous, with rc's slots), the host candidates,
 * introductions = known, the lifetime search on a rendezvous and on a peer that asks (life), and
 * port mapping on a peer that asks (portmap, gw its LAN's gateway). */
static void node_init(tp_node *n, sim *s, sim_host *h, const uint8_t secret[32], const konce_addr *rdv, unsigned nrdv,
		      bool host_cands, bool rendezvous, const konce_rendezvous_cfg *rc, bool known_only, bool life,
		      bool portmap, sim_pmgw *gw)
{
	n->s = s;
	n->h = h;
	n->tick_at = UINT64_MAX;
	if (konce_identity_from_secret(&n->id, secret))
		abort();
	memcpy(n->pk, konce_identity_public(n->id), KONCE_WIRE_KEY);
	konce_nodecore_config nc = {
		.ep = {.env = sim_host_env(h), .identity = n->id, .explicit_identity = true, .max_per_source = 64},
		.notes = true, /* a store is attached, as in the daemon: tp_node.notes keeps them */
	};
	if (konce_nodecore_new(&n->core, &nc, sim_now(s)))
		abort();
	n->ep = konce_nodecore_ep(n->core);
	n->base = konce_nodecore_trav_ops(n->core);
	size_t off = 0;
	for (unsigned i = 0; i < nrdv; i++) {
		uint8_t pk[KONCE_WIRE_KEY];
		char key[KONCE_KEY_TEXT_LEN + 1], addr[KONCE_ADDR_STRLEN];
		tp_rdv_key(&rdv[i], pk);
		konce_key_to_text(key, pk);
		off += (size_t)snprintf(n->rdv_list + off, sizeof n->rdv_list - off, "%s%s@%s", i ? "," : "", key,
					konce_addr_str(&rdv[i], addr));
		if (off >= sizeof n->rdv_list)
			abort();
	}
	n->tc = (konce_traversal_config){.rendezvous = rendezvous, .rendezvous_peers = n->rdv_list,
					 .lifetime = rendezvous || life ? "auto" : "off", .host_candidates = host_cands,
					 .introductions_known = known_only, .portmap = portmap,
					 .rendezvous_capacity = rc ? rc->slots : 0};
	n->gw = gw;
	sim_host_set_ops(h, &node_ops, n);
	node_start(n);
}

static void node_free(tp_node *n)
{
	sim_pm_free(n->pm); /* the sim no longer runs: the lease is not deleted (tp_peer_portmap_stop does) */
	n->pm = NULL;
	konce_nctravhost_stop(&n->th); /* the hooks reach the traversal cores no more; both freed */
	n->t = NULL;
	n->life = NULL;
	konce_nodecore_free(n->core); /* pendings dropped silently: the test is over */
	konce_identity_free(n->id);
	core_host_notes_free(&n->notes);
}

/* ---- rendezvous ------------------------------------------------------------------------------ */

static void rdv_secret(const konce_addr *addr, uint8_t secret[32])
{
	memset(secret, 0x52, 32);
	memcpy(secret, addr->ip, 16);
	secret[16] = (uint8_t)(addr->port >> 8);
	secret[17] = (uint8_t)addr->port;
}

void tp_rdv_key(const konce_addr *addr, uint8_t pk[KONCE_WIRE_KEY])
{
	uint8_t secret[32];
	konce_identity *id;
	rdv_secret(addr, secret);
	if (konce_identity_from_secret(&id, secret))
		abort();
	memcpy(pk, konce_identity_public(id), KONCE_WIRE_KEY);
	konce_identity_free(id);
}

void tp_rdv_init(tp_rdv *r, sim *s, const char *ip, const konce_rendezvous_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->h = sim_host_add(s, ip, NULL, NULL);
	if (!r->h || sim_host_bind(r->h, TP_RDV_PORT))
		abort();
	konce_addr a = sim_host_addr(r->h, TP_RDV_PORT);
	uint8_t secret[32];
	rdv_secret(&a, secret);
	r->n.bound[0] = true;
	r->n.owner = r;
	node_init(&r->n, s, r->h, secret, NULL, 0, false, true, cfg, false, true, false, NULL);
}

void tp_rdv_free(tp_rdv *r) { node_free(&r->n); }

konce_rendezvous *tp_rdv_core(tp_rdv *r) { return trav_rdvsrv_core(r->n.t->srv); }

/* ---- peer ------------------------------------------------------------------------------------ */

static void app_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct tp_send *c = ctx;
	tp_peer *p = c->p;
	(void)reason;
	(void)data;
	(void)len;
	if (!p->n.core)
		return; /* the node is being freed */
	p->inflight[c->k] = false;
	if (outcome == KONCE_OUTCOME_DELIVERED && !p->acked[c->k]) {
		p->acked[c->k] = true;
		p->acked_at[c->k] = sim_now(p->s);
		p->nacked++;
	}
	/* FAILED: sent again on the next session */
}

static void send_one(tp_peer *p, unsigned k, uint64_t now)
{
	uint8_t m = (uint8_t)k;
	p->send_ctx[k] = (struct tp_send){p, k};
	if (konce_nodecore_send(p->n.core, p->other, TP_APP_CLASS, &m, 1, NULL, app_outcome, &p->send_ctx[k], now,
				NULL) == 0) {
		p->inflight[k] = true;
		p->sent_at[k] = now;
	}
}

/* The session with the other peer: the one the node core's peer table holds for its key. */
static void find_conn(tp_peer *p)
{
	const konce_ncpeer *e = konce_nodecore_peer_find(p->n.core, p->other);
	p->conn = e ? e->conn : 0;
}

static void app_tick(void *owner, uint64_t now)
{
	tp_peer *p = owner;
	konce_rdvclient *rc = tp_rc(p);
	if (!p->class_at && rc && konce_rdvclient_nat(rc).mapping != KONCE_NATMAP_UNKNOWN)
		p->class_at = now;
	find_conn(p);
	if (p->initiator && !p->conn && now >= p->connect_at && rc && konce_rdvclient_registered(rc) &&
	    (konce_rdvclient_nat(rc).mapping != KONCE_NATMAP_UNKNOWN || p->n.t->nrdv < 2)) {
		konce_addr va;
		if (konce_trav_resolve(p->n.t, p->other, &va, now) == 0 && p->n.base.dial(p->n.base.ctx, p->other, &va, now)) {
			if (!p->asked_at)
				p->asked_at = now;
			p->asked = true;
			find_conn(p);
		}
	}
	if (p->conn) {
		for (unsigned k = 0; k < p->sent; k++)
			if (!p->acked[k] && !p->inflight[k])
				send_one(p, k, now);
		if (p->sent < p->nmsg && now >= p->next_msg) {
			send_one(p, p->sent, now);
			if (p->inflight[p->sent]) {
				p->sent++;
				p->next_msg = now + p->msg_every;
			}
		}
	}
	p->n.tick_at = now + 100 * MS;
}

/* A TP_APP_CLASS message (the node core's handler). */
static void app_message(void *ctx, konce_node *node, const konce_message *msg)
{
	tp_peer *p = ctx;
	uint64_t now = sim_now(p->s);
	const uint8_t *body = msg->data;
	(void)node;
	if (memcmp(msg->from, p->other, KONCE_WIRE_KEY) || msg->len != 1 || body[0] >= TP_MAX_MSG)
		return;
	struct tpeer *tp = tpeer_get(p->n.t, p->other, TPEER_FIND, now);
	if (tp && tp->relayed_rx > p->snap_relayed) {
		p->relay_rx++;
		if (!p->first_relay_rx)
			p->first_relay_rx = now;
	} else {
		p->direct_rx++; /* over the punched path, or a session at a real address */
		if (!p->first_direct_rx)
			p->first_direct_rx = now;
	}
	if (!p->got[body[0]]) {
		p->got[body[0]] = true;
		p->ngot++;
	}
}

/* The traversal core's events (the unit's watch; its LOG lines are io_log's). */
static void app_trav(void *owner, const konce_trav_event *ev, uint64_t now)
{
	tp_peer *p = owner;
	if (getenv("TP_TRACE") && ev->type == KONCE_TRAV_EV_PATH) {
		char as[KONCE_ADDR_STRLEN];
		konce_addr_str(&ev->addr, as);
		fprintf(stderr, "%9.3f %s path %s %s lost %d\n", now / 1e6, p->name, konce_punch_path_state_name(ev->state), as, ev->lost);
	}
	if (ev->type != KONCE_TRAV_EV_PATH || memcmp(ev->pk, p->other, KONCE_WIRE_KEY))
		return;
	if (ev->state == KONCE_PUNCH_PATH_DIRECT) {
		p->ev_direct++;
		p->last_direct_at = now;
	} else if (ev->lost) {
		p->ev_lost++;
	} else {
		p->ev_relay++;
	}
}

void tp_peer_init(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
		  const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
		  bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx)
{
	tp_peer_init_hosts(p, s, h, name, key, other, rdv, nrdv, nmsg, allow, allow_ctx, true, false, false, NULL);
}

void tp_peer_init_hosts(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
			const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
			bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx,
			bool host_candidates, bool life, bool portmap, sim_pmgw *gw)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->h = h;
	p->name = name;
	p->nmsg = nmsg;
	p->msg_every = 200 * MS;
	p->connect_at = UINT64_MAX;
	konce_identity *oid;
	if (konce_identity_from_secret(&oid, other))
		abort();
	memcpy(p->other, konce_identity_public(oid), KONCE_WIRE_KEY);
	konce_identity_free(oid);
	if (sim_host_bind(h, TP_MAIN_PORT))
		abort();
	p->n.bound[0] = true;
	p->n.owner = p;
	p->n.on_trav = app_trav;
	p->n.on_tick = app_tick;
	p->n.name = name;
	node_init(&p->n, s, h, key, rdv, nrdv, host_candidates, false, NULL, allow != NULL, life, portmap, gw);
	memcpy(p->key, p->n.pk, KONCE_WIRE_KEY);
	if (konce_nodecore_handle(p->n.core, TP_APP_CLASS, app_message, p))
		abort();
	/* the other peer is known if allow says so: a petname in the node core's known set, as the
	 * daemon loads the store's rows */
	if (allow && allow(allow_ctx, p->other) && konce_nodecore_known_name(p->n.core, p->other, "other"))
		abort();
	p->n.tick_at = sim_now(s);
}

void tp_peer_connect_at(tp_peer *p, uint64_t t)
{
	p->initiator = true;
	p->connect_at = t;
}

void tp_peer_free(tp_peer *p) { node_free(&p->n); }

void tp_peer_crash(tp_peer *p)
{
	node_free(&p->n);
	for (unsigned sock = 0; sock <= KONCE_TRAVLIFE_SOCK_PROBE; sock++)
		if (p->n.bound[sock]) {
			sim_host_unbind(p->h, sock_port(sock));
			p->n.bound[sock] = false;
		}
}

void tp_random_keys(sim *s, uint8_t ka[KONCE_WIRE_KEY], uint8_t kb[KONCE_WIRE_KEY])
{
	for (int i = 0; i < KONCE_WIRE_KEY; i++) {
		ka[i] = (uint8_t)sim_rand(s);
		kb[i] = (uint8_t)sim_rand(s);
	}
	kb[0] = (uint8_t)(ka[0] ^ 0x80); /* distinct, and either may be the lower */
}

bool tp_peer_done(const tp_peer *p) { return p->sent == p->nmsg && p->nacked == p->nmsg; }

void tp_peer_portmap_stop(tp_peer *p)
{
	uint64_t now = sim_now(p->s);
	if (!p->n.pm)
		return;
	sim_pm_stop(p->n.pm, now);
	sim_timer_set(p->s, p->h, now); /* the turn arms the timer at the delete's result */
}

konce_punch *tp_pu(tp_peer *p)
{
	static konce_punch *idle;
	struct tpeer *tp = tpeer_get(p->n.t, p->other, TPEER_FIND, 0);
	if (tp)
		return tp->pu;
	if (!idle && konce_punch_new(&idle, konce_env_default(), p->key, p->other))
		abort();
	return idle;
}

konce_rdvclient *tp_rc(tp_peer *p) { return p->n.t->rc; }

uint64_t tp_first_probe_at(tp_peer *p)
{
	struct tpeer *tp = tpeer_get(p->n.t, p->other, TPEER_FIND, 0);
	return tp ? tp->first_probe_us : 0;
}

uint64_t tp_first_probe_intro(tp_peer *p)
{
	struct tpeer *tp = tpeer_get(p->n.t, p->other, TPEER_FIND, 0);
	return tp ? tp->intro_id : 0;
}
