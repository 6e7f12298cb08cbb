/* trav_host.c - the shipping traversal core on simulator hosts (see trav_host.h). */
#include "tests/sim/trav_host.h"

#include <stdlib.h>
#include <string.h>

#include "node/base/wire.h"
#include "node/core/rx_switch.h"
#include "node/core/trav_int.h"

#define MS SIM_MS

/* ---- the host's peer table: the core's ops --------------------------------------------------- */

static tp_entry *entry_by_pk(tp_node *n, const uint8_t pk[KONCE_WIRE_KEY])
{
	for (unsigned i = 0; i < TP_PEERS; i++)
		if (n->tab[i].used && !memcmp(n->tab[i].pk, pk, KONCE_WIRE_KEY))
			return &n->tab[i];
	return NULL;
}

static tp_entry *entry_by_conn(tp_node *n, uint32_t conn)
{
	for (unsigned i = 0; i < TP_PEERS; i++)
		if (n->tab[i].used && n->tab[i].conn == conn)
			return &n->tab[i];
	return NULL;
}

static tp_entry *entry_add(tp_node *n, const uint8_t pk[KONCE_WIRE_KEY])
{
	for (unsigned i = 0; i < TP_PEERS; i++)
		if (!n->tab[i].used) {
			memset(&n->tab[i], 0, sizeof n->tab[i]);
			n->tab[i].used = true;
			memcpy(n->tab[i].pk, pk, KONCE_WIRE_KEY);
			return &n->tab[i];
		}
	return NULL;
}

static bool op_peer(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out)
{
	tp_entry *e = entry_by_pk(ctx, pk);
	if (!e)
		return false;
	*out = (konce_trav_peer){e->conn, e->up, e->addr};
	return true;
}

static uint32_t op_dial(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, uint64_t now)
{
	tp_node *n = ctx;
	tp_entry *e = entry_add(n, pk);
	uint32_t conn;
	if (!e)
		return 0;
	if (konce_ep_connect(n->ep, pk, to, NULL, 0, now, &conn)) {
		e->used = false;
		return 0;
	}
	e->conn = conn;
	e->addr = *to;
	return conn;
}

static bool op_known(void *ctx, const uint8_t pk[KONCE_WIRE_KEY])
{
	tp_node *n = ctx;
	return n->allow && n->allow(n->allow_ctx, pk);
}

static int op_fresh_mapping(void *ctx, konce_addr *x)
{
	tp_node *n = ctx;
	return n->fresh_mapping ? n->fresh_mapping(n->owner, x) : -1;
}

/* ---- the loop --------------------------------------------------------------------------------- */

static uint16_t sock_port(unsigned sock) { return sock ? (uint16_t)(TP_BDAY_BASE + sock) : TP_MAIN_PORT; }

static void send_from(tp_node *n, unsigned sock, const konce_addr *to, const uint8_t *buf, size_t len, uint16_t port0)
{
	if (sock > KONCE_PUNCH_BIRTHDAY)
		abort();
	uint16_t port = sock ? sock_port(sock) : port0;
	if (!n->bound[sock]) {
		sim_host_bind(n->h, port);
		n->bound[sock] = true;
	}
	sim_send(n->s, n->h, port, to, buf, len);
}

static uint16_t main_port(const tp_node *n) { return n->owner && n->on_tick ? TP_MAIN_PORT : TP_RDV_PORT; }

/* Events of the endpoint: the peer table (as node_msg.c keeps it) and the messages. */
static void ep_events(tp_node *n, uint64_t now)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(n->ep, &ev)) {
		tp_entry *e = entry_by_conn(n, ev.conn);
		switch (ev.type) {
		case KONCE_EV_ESTABLISHED:
			if (!e) {
				tp_entry *old = entry_by_pk(n, ev.peer_pk);
				if (old) {
					konce_ep_close(n->ep, old->conn, now);
					old->used = false;
				}
				if (!(e = entry_add(n, ev.peer_pk))) {
					konce_ep_close(n->ep, ev.conn, now);
					break;
				}
				e->conn = ev.conn;
			}
			e->up = true;
			e->addr = ev.addr;
			break;
		case KONCE_EV_PATH_CHANGED:
			if (e)
				e->addr = ev.addr;
			break;
		case KONCE_EV_FAILED:
		case KONCE_EV_CLOSED:
			if (e)
				e->used = false;
			break;
		case KONCE_EV_MESSAGE:
			if (!e || ev.len < KONCE_MSG_BODY)
				break;
			if (wire_get16(ev.data + KONCE_MSG_CLASS) == KONCE_CLASS_RENDEZVOUS) {
				konce_trav_message(n->t, e->pk, &e->addr, ev.data + KONCE_MSG_BODY, ev.len - KONCE_MSG_BODY,
						   now);
				break;
			}
			if (n->on_message && wire_get16(ev.data + KONCE_MSG_CLASS) == TP_APP_CLASS)
				n->on_message(n->owner, e->pk, ev.data + KONCE_MSG_BODY, ev.len - KONCE_MSG_BODY, now);
			break;
		default:
			break;
		}
		if (n->on_event)
			n->on_event(n->owner, &ev, now);
	}
}

/* What a node does after any input: the core's pump, its datagrams and events, the endpoint's
 * events and datagrams (those for path handles through the core), one timer. */
static void flush(tp_node *n, uint64_t now)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_trav_event tev;
	for (int round = 0; round < 8; round++) {
		if (konce_trav_next_timer(n->t) <= now)
			konce_trav_timer(n->t, now);
		while (konce_trav_poll_event(n->t, &tev)) {
			/* the filtering test's sockets are not opened here: the tests tell the core what
			 * ports their NATs spent (tp_peer.self_spent through ops.fresh_mapping) */
			if (tev.type == KONCE_TRAV_EV_SOCK_OPEN)
				konce_trav_sock_opened(n->t, tev.sock, NULL, now);
			if (n->on_trav)
				n->on_trav(n->owner, &tev, now);
		}
		ep_events(n, now);
		bool more = false;
		while (konce_ep_poll_datagram(n->ep, buf, &len, &to)) {
			if (!konce_trav_outgoing(n->t, buf, len, &to, now))
				send_from(n, 0, &to, buf, len, main_port(n));
			more = true;
		}
		while (konce_trav_poll(n->t, &sock, buf, &len, &to))
			send_from(n, sock, &to, buf, len, main_port(n));
		if (!more && konce_trav_next_timer(n->t) > now)
			break;
	}
	uint64_t t = konce_ep_next_timer(n->ep), u = konce_trav_next_timer(n->t);
	t = u < t ? u : t;
	t = n->tick_at < t ? n->tick_at : t;
	sim_timer_set(n->s, n->h, t > now ? t : now);
}

static uint64_t node_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			  uint64_t now)
{
	tp_node *n = ctx;
	unsigned sock = to->port >= TP_BDAY_BASE ? (unsigned)(to->port - TP_BDAY_BASE) : 0;
	if (n->owner && n->on_tick) {
		tp_peer *p = n->owner;
		struct tpeer *tp = tpeer_get(n->t, p->other, TPEER_FIND, now);
		p->snap_direct = tp ? tp->direct_rx : 0;
		p->snap_relayed = tp ? tp->relayed_rx : 0;
	}
	switch (konce_rx_classify(pkt, len)) {
	case KONCE_RX_LIFE_REQ:
		break; /* the node's lifetime service: not run here (test_traversal_lifetime runs its cores) */
	default:
		if (!konce_trav_input(n->t, sock, pkt, len, from, now) && !sock)
			konce_ep_input(n->ep, pkt, len, from, now, NULL);
	}
	flush(n, now);
	return 30;
}

static void node_timer(void *ctx, uint64_t now)
{
	tp_node *n = ctx;
	if (n->owner && n->on_tick) {
		tp_peer *p = n->owner;
		struct tpeer *tp = tpeer_get(n->t, p->other, TPEER_FIND, now);
		p->snap_direct = tp ? tp->direct_rx : 0;
		p->snap_relayed = tp ? tp->relayed_rx : 0;
	}
	if (now >= konce_ep_next_timer(n->ep))
		konce_ep_timer(n->ep, now);
	if (now >= konce_trav_next_timer(n->t))
		konce_trav_timer(n->t, now);
	if (n->on_tick && now >= n->tick_at)
		n->on_tick(n->owner, now);
	flush(n, now);
}

static const sim_host_ops node_ops = {node_recv, node_timer, NULL};

static void node_init(tp_node *n, sim *s, sim_host *h, const uint8_t secret[32], const konce_addr *rdv, unsigned nrdv,
		      const konce_addr *host, bool host_cands, bool rendezvous, const konce_rendezvous_cfg *rc, bool known_only)
{
	n->s = s;
	n->h = h;
	n->tick_at = UINT64_MAX;
	if (konce_identity_from_secret(&n->id, secret))
		abort();
	memcpy(n->pk, konce_identity_public(n->id), KONCE_WIRE_KEY);
	konce_ep_config ec = {.env = sim_host_env(h), .identity = n->id, .explicit_identity = true, .max_per_source = 64};
	if (konce_ep_new(&n->ep, &ec, sim_now(s)))
		abort();
	uint8_t rdv_pk[KONCE_TRAV_MAX_RDV][KONCE_WIRE_KEY];
	for (unsigned i = 0; i < nrdv; i++)
		tp_rdv_key(&rdv[i], rdv_pk[i]);
	konce_trav_cfg tc = {.env = sim_host_env(h), .ep = n->ep, .pk = n->pk,
			     .ops = {op_peer, op_dial, op_known, op_fresh_mapping, n},
			     .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])rdv_pk, .rdv_addr = rdv, .nrdv = nrdv,
			     .host = host, .nhost = host ? 1 : 0, .host_candidates = host_cands, .known_only = known_only, .rendezvous = rendezvous,
			     .rendezvous_capacity = rc ? rc->slots : 0};
	if (konce_trav_new(&n->t, &tc, sim_now(s)))
		abort();
	sim_host_set_ops(h, &node_ops, n);
	sim_timer_set(s, h, sim_now(s));
}

static void node_free(tp_node *n)
{
	konce_trav_free(n->t);
	konce_ep_free(n->ep);
	konce_identity_free(n->id);
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

static void send_one(tp_peer *p, unsigned k, uint64_t now)
{
	uint8_t m[KONCE_MSG_BODY + 1];
	wire_put16(m + KONCE_MSG_CLASS, TP_APP_CLASS);
	m[KONCE_MSG_FLAGS] = 0;
	wire_put64(m + KONCE_MSG_NONCE, 0);
	m[KONCE_MSG_BODY] = (uint8_t)k;
	if (konce_ep_msg_send(p->n.ep, p->conn, m, sizeof m, KONCE_MSG_CLASS_DEFAULT, 0, now, &p->msg_id[k]) == 0) {
		p->inflight[k] = true;
		p->sent_at[k] = now;
	}
}

/* The session with the other peer: the one the table holds for its key. */
static void find_conn(tp_peer *p)
{
	tp_entry *e = entry_by_pk(&p->n, p->other);
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

static void app_message(void *owner, const uint8_t pk[KONCE_WIRE_KEY], const uint8_t *body, size_t len, uint64_t now)
{
	tp_peer *p = owner;
	if (memcmp(pk, p->other, KONCE_WIRE_KEY) || len != 1 || body[0] >= TP_MAX_MSG)
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

static void app_event(void *owner, const konce_ep_event *ev, uint64_t now)
{
	tp_peer *p = owner;
	(void)now;
	for (unsigned k = 0; k < p->sent; k++) {
		if (!p->inflight[k] || p->msg_id[k] != ev->msg_id)
			continue;
		if (ev->type == KONCE_EV_MSG_DELIVERED) {
			p->inflight[k] = false;
			if (!p->acked[k]) {
				p->acked[k] = true;
				p->acked_at[k] = now;
				p->nacked++;
			}
		} else if (ev->type == KONCE_EV_MSG_FAILED) {
			p->inflight[k] = false; /* sent again on the next session */
		}
	}
	if ((ev->type == KONCE_EV_FAILED || ev->type == KONCE_EV_CLOSED) && ev->conn == p->conn)
		p->conn = 0;
}

static void app_trav(void *owner, const konce_trav_event *ev, uint64_t now)
{
	tp_peer *p = owner;
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

/* self_spent as the node learns it: the filtering test's fresh mapping, self_spent ports past the
 * registered last port. */
static int app_fresh_mapping(void *owner, konce_addr *x)
{
	tp_peer *p = owner;
	konce_rdvclient *rc = tp_rc(p);
	if (!p->self_spent || !rc || konce_rdvclient_reflexive(rc, 0, x))
		return -1;
	konce_natinfo nat = konce_rdvclient_nat(rc);
	x->port = (uint16_t)(nat.last_port + p->self_spent * (nat.step ? nat.step : 1));
	return 0;
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
	p->n.on_message = app_message;
	p->n.on_event = app_event;
	p->n.on_trav = app_trav;
	p->n.on_tick = app_tick;
	p->n.allow = allow;
	p->n.allow_ctx = allow_ctx;
	p->n.fresh_mapping = app_fresh_mapping;
	konce_addr host = sim_host_addr(h, TP_MAIN_PORT);
	/* the address is always offered: the core decides by host_candidates */
	node_init(&p->n, s, h, key, rdv, nrdv, &host, host_candidates, false, NULL, allow != NULL);
	memcpy(p->key, p->n.pk, KONCE_WIRE_KEY);
	p->n.tick_at = sim_now(s);
}

void tp_peer_connect_at(tp_peer *p, uint64_t t)
{
	p->initiator = true;
	p->connect_at = t;
}

void tp_peer_free(tp_peer *p) { node_free(&p->n); }

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
