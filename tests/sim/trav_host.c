/* trav_host.c - the shipping traversal core on simulator hosts (see trav_host.h). */
#include "tests/sim/trav_host.h"

#include <stdlib.h>
#include <string.h>

#include "node/base/wire.h"
#include "node/core/rx_switch.h"
#include "node/core/trav_info.h"
#include "node/core/trav_int.h"
#include "tests/sim/core_host.h"

#define MS SIM_MS

/* ---- the traversal core's ops: the node core's peer table (nctrav.h) ------------------------- */

/* ctx is the tp_node: peer, dial and known forward to the node core's ops; known also asks the
 * test's predicate (the store's "known").  fresh_mapping is NULL, as in the daemon: the core
 * reads its own filtering test's fresh socket. */
static bool op_peer(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out)
{
	tp_node *n = ctx;
	return n->base.peer(n->base.ctx, pk, out);
}

static uint32_t op_dial(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, uint64_t now)
{
	tp_node *n = ctx;
	return n->base.dial(n->base.ctx, pk, to, now);
}

static bool op_known(void *ctx, const uint8_t pk[KONCE_WIRE_KEY])
{
	tp_node *n = ctx;
	return n->base.known(n->base.ctx, pk) || (n->allow && n->allow(n->allow_ctx, pk));
}

/* ---- the loop --------------------------------------------------------------------------------- */

/* Socket n's port: 0 the node's; birthday probing's pool and the filtering test's two at
 * TP_BDAY_BASE + n (each its own local port, so a sequential NAT maps each anew). */
static uint16_t sock_port(unsigned sock) { return sock ? (uint16_t)(TP_BDAY_BASE + sock) : TP_MAIN_PORT; }

/* As node/io/auxsock.c node_aux_send: a pool socket opens on its first datagram, the filtering
 * test's only on the core's SOCK_OPEN (a datagram for one closed is dropped). */
static void send_from(tp_node *n, unsigned sock, const konce_addr *to, const uint8_t *buf, size_t len, uint16_t port0)
{
	if (sock > KONCE_TRAVLIFE_SOCK_PROBE)
		abort();
	uint16_t port = sock ? sock_port(sock) : port0;
	if (!n->bound[sock]) {
		if (sock > KONCE_PUNCH_BIRTHDAY)
			return;
		sim_host_bind(n->h, port);
		n->bound[sock] = true;
	}
	sim_send(n->s, n->h, port, to, buf, len);
}

/* A socket the traversal core asks for (the filtering test's, the filtering service's second
 * port), as node/io/node_trav.c sock_event: bound, then reported with its address; closed. */
static void sock_event(tp_node *n, unsigned sock, bool open, uint64_t now)
{
	if (sock <= KONCE_PUNCH_BIRTHDAY || sock >= KONCE_TRAV_SOCKS)
		return;
	uint16_t port = sock_port(sock);
	if (!open) {
		if (n->bound[sock])
			sim_host_unbind(n->h, port);
		n->bound[sock] = false;
		return;
	}
	if (!n->bound[sock] && !n->refuse_socks && sim_host_bind(n->h, port) == 0)
		n->bound[sock] = true;
	konce_addr local = sim_host_addr(n->h, port);
	konce_trav_sock_opened(n->t, sock, n->bound[sock] ? &local : NULL, now);
}

static uint16_t main_port(const tp_node *n) { return n->owner && n->on_tick ? TP_MAIN_PORT : TP_RDV_PORT; }

/* The node core's events (node_io_kick()'s order: events, datagrams, notes): outcomes and
 * messages go to the application, peer events are the core's own business. */
static void core_events(tp_node *n)
{
	konce_nc_event ev;
	while (konce_nodecore_poll_event(n->core, &ev))
		core_host_app_event(&ev); /* peer and group events: the core's own (no groups here) */
}

static void core_datagram(void *ctx, const konce_nc_datagram *dg, uint64_t now)
{
	tp_node *n = ctx;
	(void)now;
	send_from(n, dg->sock, &dg->to, dg->buf, dg->len, main_port(n));
}

/* The node core's store notes: kept, as the daemon's store worker receives them. */
static void core_note(void *ctx, const konce_nc_note *note, uint64_t now)
{
	tp_node *n = ctx;
	(void)now;
	core_host_notes_keep(&n->notes, note);
}

/* What a node does after any input: both cores' timers and pumps, the traversal core's events,
 * the node core's events, datagrams (those for path handles went to the traversal core through
 * the outgoing hook) and store notes (kept), one timer. */
static void flush(tp_node *n, uint64_t now)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_trav_event tev;
	const core_host_sink sink = {n, NULL, core_datagram, core_note};
	for (int round = 0; round < 8; round++) {
		bool more = false;
		if (konce_nodecore_next_timer(n->core) <= now) {
			konce_nodecore_timer(n->core, now);
			more = true;
		}
		if (konce_trav_next_timer(n->t) <= now)
			konce_trav_timer(n->t, now);
		while (konce_trav_poll_event(n->t, &tev)) {
			if (tev.type == KONCE_TRAV_EV_SOCK_OPEN || tev.type == KONCE_TRAV_EV_SOCK_CLOSE)
				sock_event(n, tev.sock, tev.type == KONCE_TRAV_EV_SOCK_OPEN, now);
			if (tev.type == KONCE_TRAV_EV_DECLINED)
				konce_nodecore_trav_declined(n->core, tev.pk, now);
			if (n->on_trav)
				n->on_trav(n->owner, &tev, now);
		}
		if (core_host_drain(n->core, &sink, now))
			more = true;
		while (konce_trav_poll(n->t, &sock, buf, &len, &to))
			send_from(n, sock, &to, buf, len, main_port(n));
		if (n->life) {
			/* as node_trav_run: its timer, the keepalive applied, its datagrams */
			konce_travlife_timer(n->life, now);
			konce_nctravlife_apply(&n->life_with, n->life, now);
			while (konce_travlife_poll(n->life, &sock, buf, &len, &to))
				send_from(n, sock, &to, buf, len, main_port(n));
		}
		if (!more && konce_trav_next_timer(n->t) > now && konce_nodecore_next_timer(n->core) > now &&
		    (!n->life || konce_travlife_next_timer(n->life) > now))
			break;
	}
	uint64_t t = konce_nodecore_next_timer(n->core), u = konce_trav_next_timer(n->t);
	t = u < t ? u : t;
	u = n->life ? konce_travlife_next_timer(n->life) : UINT64_MAX;
	t = u < t ? u : t;
	t = n->tick_at < t ? n->tick_at : t;
	sim_timer_set(n->s, n->h, t > now ? t : now);
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
		/* a pool, filtering or probe socket: only traversal and the lifetime core use it
		 * (node_trav.c on_aux) */
		if (sock > KONCE_TRAVLIFE_SOCK_PROBE || !n->bound[sock] ||
		    !konce_nodecore_trav_input(n->t, n->life, sock, konce_rx_classify(pkt, len), pkt, len, from, now))
			konce_trav_count_refused(n->t);
	} else {
		/* the node socket: the node core's input queue, served now (the hooks see it first) */
		konce_nodecore_input(n->core, 0, pkt, len, from, now);
		konce_nodecore_timer(n->core, now);
		core_events(n); /* the message events of this datagram, while the snapshot holds */
	}
	flush(n, now);
	return 30;
}

static void node_timer(void *ctx, uint64_t now)
{
	tp_node *n = ctx;
	snap(n, now);
	if (now >= konce_nodecore_next_timer(n->core))
		konce_nodecore_timer(n->core, now);
	if (now >= konce_trav_next_timer(n->t))
		konce_trav_timer(n->t, now);
	if (n->on_tick && now >= n->tick_at)
		n->on_tick(n->owner, now);
	flush(n, now);
}

static const sim_host_ops node_ops = {node_recv, node_timer, NULL};

/* The mapping lifetime core with nat_lifetime's defaults, as node_trav_setup.c start_life: a
 * client searches over its probe socket (bound now), a rendezvous answers LIFE_REQ.  The node
 * core's hooks reach it through the glue. */
static void node_life(tp_node *n)
{
	n->life_with = (konce_nctravlife){.c = n->core, .t = n->t};
	konce_travlife_cfg lc;
	if (n->life || !konce_nctravlife_cfg(&n->life_with, false, &(konce_lifetime_cfg){.env = sim_host_env(n->h)}, &lc))
		return;
	lc.env = sim_host_env(n->h);
	if (konce_travlife_new(&n->life, &lc, sim_now(n->s)))
		abort();
	if (konce_travlife_wants_probe(n->life)) {
		uint16_t port = sock_port(KONCE_TRAVLIFE_SOCK_PROBE);
		if (sim_host_bind(n->h, port))
			abort();
		n->bound[KONCE_TRAVLIFE_SOCK_PROBE] = true;
		konce_addr pl = sim_host_addr(n->h, port);
		konce_travlife_sock_opened(n->life, &pl);
	}
	n->glue.life = n->life;
	sim_timer_set(n->s, n->h, sim_now(n->s));
}

static void node_init(tp_node *n, sim *s, sim_host *h, const uint8_t secret[32], const konce_addr *rdv, unsigned nrdv,
		      const konce_addr *host, bool host_cands, bool rendezvous, const konce_rendezvous_cfg *rc, bool known_only)
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
	uint8_t rdv_pk[KONCE_TRAV_MAX_RDV][KONCE_WIRE_KEY];
	konce_addr local = sim_host_addr(h, main_port(n)); /* the node socket's, as udp.c reports it */
	for (unsigned i = 0; i < nrdv; i++)
		tp_rdv_key(&rdv[i], rdv_pk[i]);
	konce_trav_cfg tc = {.env = sim_host_env(h), .ep = n->ep, .pk = n->pk,
			     .ops = {op_peer, op_dial, op_known, NULL, n},
			     .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])rdv_pk, .rdv_addr = rdv, .nrdv = nrdv,
			     .host = host, .nhost = host ? 1 : 0, .host_candidates = host_cands, .known_only = known_only,
			     .local = &local, .rendezvous = rendezvous,
			     .rendezvous_capacity = rc ? rc->slots : 0};
	if (konce_trav_new(&n->t, &tc, sim_now(s)))
		abort();
	/* a rendezvous answers LIFE_REQ (the lifetime service); a peer searches only when its test
	 * asks (tp_peer_life) */
	/* the node core's hooks, as the daemon's (node/core/nctrav.h), the lifetime core's LIFE_REQ
	 * included; no kick (flush() runs the cores after every input) */
	konce_nodecore_hooks hooks;
	n->glue = (konce_nodecore_trav_glue){.c = n->core, .t = n->t};
	konce_nodecore_trav_hooks(&n->glue, &hooks);
	konce_nodecore_set_hooks(n->core, &hooks);
	/* a rendezvous answers LIFE_REQ (the lifetime service); a peer searches only when its test
	 * asks (tp_peer_life) */
	if (rendezvous)
		node_life(n);
	sim_host_set_ops(h, &node_ops, n);
	sim_timer_set(s, h, sim_now(s));
}

static void node_free(tp_node *n)
{
	if (n->core) /* the hooks reach the traversal core no more */
		konce_nodecore_set_hooks(n->core, &(konce_nodecore_hooks){0});
	konce_travlife_free(n->life);
	n->life = NULL;
	konce_trav_free(n->t);
	n->t = NULL;
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
	node_init(&r->n, s, r->h, secret, NULL, 0, NULL, false, true, cfg, false);
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
		if (konce_trav_resolve(p->n.t, p->other, &va, now) == 0 && op_dial(&p->n, p->other, &va, now)) {
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

static void app_trav(void *owner, const konce_trav_event *ev, uint64_t now)
{
	tp_peer *p = owner;
	if (getenv("TP_TRACE") && ev->type == KONCE_TRAV_EV_LOG)
		fprintf(stderr, "%9.3f %s log %s\n", now / 1e6, p->name, ev->text);
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
	tp_peer_init_hosts(p, s, h, name, key, other, rdv, nrdv, nmsg, allow, allow_ctx, true);
}

void tp_peer_init_hosts(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
			const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
			bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx,
			bool host_candidates)
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
	p->n.allow = allow;
	p->n.allow_ctx = allow_ctx;
	konce_addr host = sim_host_addr(h, TP_MAIN_PORT);
	/* the address is always offered: the core decides by host_candidates */
	node_init(&p->n, s, h, key, rdv, nrdv, &host, host_candidates, false, NULL, allow != NULL);
	memcpy(p->key, p->n.pk, KONCE_WIRE_KEY);
	if (konce_nodecore_handle(p->n.core, TP_APP_CLASS, app_message, p))
		abort();
	p->n.tick_at = sim_now(s);
}

void tp_peer_life(tp_peer *p) { node_life(&p->n); }

void tp_peer_connect_at(tp_peer *p, uint64_t t)
{
	p->initiator = true;
	p->connect_at = t;
}

void tp_peer_free(tp_peer *p) { node_free(&p->n); }

void tp_random_keys(sim *s, uint8_t ka[KONCE_WIRE_KEY], uint8_t kb[KONCE_WIRE_KEY])
{
	for (int i = 0; i < KONCE_WIRE_KEY; i++) {
		ka[i] = (uint8_t)sim_rand(s);
		kb[i] = (uint8_t)sim_rand(s);
	}
	kb[0] = (uint8_t)(ka[0] ^ 0x80); /* distinct, and either may be the lower */
}

bool tp_peer_done(const tp_peer *p) { return p->sent == p->nmsg && p->nacked == p->nmsg; }

int tp_peer_set_mapped(tp_peer *p, const konce_addr *m, uint64_t now)
{
	konce_trav_set_mapped(p->n.t, m, now);
	return 0;
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
