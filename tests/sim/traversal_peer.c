/* traversal_peer.c - simulator glue for nat/ (see traversal_peer.h). */
#include "tests/sim/traversal_peer.h"

#include <stdlib.h>
#include <string.h>

#define MS SIM_MS

/* ---- rendezvous host ------------------------------------------------------------------------ */

static void rdv_flush(tp_rdv *r)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	while (konce_rendezvous_poll(r->r, buf, &len, &to))
		sim_send(r->s, r->h, TP_RDV_PORT, &to, buf, len);
}

static uint64_t rdv_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			 const konce_addr *to, uint64_t now)
{
	tp_rdv *r = ctx;
	konce_rendezvous_input(r->r, pkt, len, from, now);
	rdv_flush(r);
	return 20;
}

static void rdv_timer(void *ctx, uint64_t now) { (void)ctx; }

const sim_host_ops tp_rdv_ops = {rdv_recv, rdv_timer, NULL};

void tp_rdv_init(tp_rdv *r, sim *s, const char *ip, const konce_rendezvous_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->h = sim_host_add(s, ip, &tp_rdv_ops, r);
	if (!r->h || sim_host_bind(r->h, TP_RDV_PORT))
		abort();
	konce_rendezvous_cfg c = cfg ? *cfg : (konce_rendezvous_cfg){0};
	c.env = sim_host_env(r->h);
	if (konce_rendezvous_new(&r->r, &c))
		abort();
}

void tp_rdv_free(tp_rdv *r) { konce_rendezvous_free(r->r); }

/* ---- peer ----------------------------------------------------------------------------------- */

static uint16_t sock_port(unsigned sock) { return sock ? (uint16_t)(TP_BDAY_BASE + sock) : TP_MAIN_PORT; }

static void send_from(tp_peer *p, unsigned sock, const konce_addr *to, const void *buf, size_t len)
{
	if (sock > KONCE_PUNCH_BIRTHDAY)
		abort();
	if (!p->bound[sock]) {
		sim_host_bind(p->h, sock_port(sock));
		p->bound[sock] = true;
	}
	sim_send(p->s, p->h, sock_port(sock), to, buf, len);
}

/* Sends app bytes to the other peer: direct when the path is verified, else relayed. */
static bool app_send(tp_peer *p, const uint8_t *buf, size_t len, uint64_t now)
{
	unsigned sock;
	konce_addr to;
	if (konce_punch_path(p->pu, &sock, &to)) {
		send_from(p, sock, &to, buf, len);
		return true;
	}
	enum konce_punch_path_state st = konce_punch_state(p->pu);
	if (st == KONCE_PUNCH_PATH_RELAYED || st == KONCE_PUNCH_PATH_PROBING)
		return konce_rdvclient_relay(p->rc, p->other, buf, len, now) == 0;
	return false;
}

static void app_in(tp_peer *p, const uint8_t *pkt, size_t len, unsigned sock, const konce_addr *from,
		   bool relayed, uint64_t now)
{
	if (len != 2 || pkt[1] >= TP_MAX_MSG)
		return;
	unsigned k = pkt[1];
	if (pkt[0] == TP_APP_ACK) {
		if (k < p->sent && !p->acked[k]) {
			p->acked[k] = true;
			p->nacked++;
		}
		return;
	}
	if (!relayed) {
		p->direct_rx++;
		if (!p->first_direct_rx)
			p->first_direct_rx = now;
		konce_punch_heard(p->pu, now);
	} else {
		p->relay_rx++;
		if (!p->first_relay_rx)
			p->first_relay_rx = now;
	}
	if (!p->got[k]) {
		p->got[k] = true;
		p->ngot++;
	}
	uint8_t ack[2] = {TP_APP_ACK, (uint8_t)k};
	/* answer the way it came: that is where the sender looks */
	if (relayed)
		konce_rdvclient_relay(p->rc, p->other, ack, 2, now);
	else
		send_from(p, sock, from, ack, 2);
}

static void app_tick(tp_peer *p, uint64_t now)
{
	if (p->initiator && !p->asked && now >= p->connect_at && konce_rdvclient_registered(p->rc) &&
	    konce_rdvclient_nat(p->rc).mapping != KONCE_NATMAP_UNKNOWN) {
		if (konce_rdvclient_request_intro(p->rc, p->other, now) == 0) {
			p->asked = true;
			if (!p->asked_at)
				p->asked_at = now;
		}
	}
	for (unsigned k = 0; k < p->sent; k++) {
		if (!p->acked[k] && now - p->sent_at[k] >= 300 * MS) {
			uint8_t m[2] = {TP_APP_DATA, (uint8_t)k};
			if (app_send(p, m, 2, now))
				p->sent_at[k] = now;
		}
	}
	if (p->sent < p->nmsg && now >= p->next_msg) {
		uint8_t m[2] = {TP_APP_DATA, (uint8_t)p->sent};
		if (app_send(p, m, 2, now)) {
			p->sent_at[p->sent++] = now;
			p->next_msg = now + p->msg_every;
		}
	}
	p->app_tick = now + 100 * MS;
}

static void punch_intro(tp_peer *p, const konce_rdvclient_event *e, uint64_t now)
{
	if (memcmp(e->peer, p->other, KONCE_WIRE_KEY) != 0)
		return;
	konce_punch_intro in = {.intro_id = e->intro_id, .delay_us = e->delay_us, .peer_cands = e->cand,
				.npeer = e->ncand, .peer_nat = e->peer_nat, .self_nat = konce_rdvclient_nat(p->rc),
				.self_spent = p->self_spent, .self_cands = p->self_cand, .nself = p->nself_cand,
				.secret = e->secret};
	konce_punch_start(p->pu, &in, now);
}

static void pump(tp_peer *p, uint64_t now)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	for (int round = 0; round < 4; round++) {
		konce_rdvclient_event e;
		while (konce_rdvclient_poll_event(p->rc, &e)) {
			if (e.type == KONCE_RDVCLIENT_EV_INTRO)
				punch_intro(p, &e, now);
			else if (e.type == KONCE_RDVCLIENT_EV_INTRO_FAIL && p->initiator) {
				p->asked = false;
				p->connect_at = now + SIM_SEC;
			} else if (e.type == KONCE_RDVCLIENT_EV_RELAYED &&
				   memcmp(e.peer, p->other, KONCE_WIRE_KEY) == 0) {
				konce_punch_relay_heard(p->pu, now);
				app_in(p, e.data, e.len, 0, NULL, true, now);
			}
		}
		konce_punch_event pe;
		while (konce_punch_poll_event(p->pu, &pe)) {
			switch (pe.type) {
			case KONCE_PUNCH_EV_DIRECT:
				p->ev_direct++;
				p->last_direct_at = now;
				break;
			case KONCE_PUNCH_EV_RELAY:
				p->ev_relay++;
				break;
			case KONCE_PUNCH_EV_LOST:
				p->ev_lost++;
				konce_rdvclient_reregister(p->rc, now); /* the NAT may have forgotten us */
				break;
			case KONCE_PUNCH_EV_UPGRADE:
				p->ev_upgrade++;
				konce_rdvclient_request_intro(p->rc, p->other, now);
				break;
			}
		}
		konce_punch_out o;
		while (konce_punch_poll(p->pu, &o)) {
			len = konce_punch_encode(p->pu, &o, buf, sizeof(buf));
			if (!o.ack && o.intro_id != p->first_probe_intro) {
				p->first_probe_intro = o.intro_id;
				p->first_probe_at = now;
			}
			if (len)
				send_from(p, o.sock, &o.to, buf, len);
		}
		while (konce_rdvclient_poll(p->rc, buf, &len, &to))
			sim_send(p->s, p->h, TP_MAIN_PORT, &to, buf, len);
	}
	uint64_t t = konce_rdvclient_next_timer(p->rc), u = konce_punch_next_timer(p->pu);
	t = u < t ? u : t;
	t = p->app_tick < t ? p->app_tick : t;
	sim_timer_set(p->s, p->h, t > now ? t : now);
}

static uint64_t peer_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			  const konce_addr *to, uint64_t now)
{
	tp_peer *p = ctx;
	unsigned sock = to->port == TP_MAIN_PORT ? 0 : (unsigned)(to->port - TP_BDAY_BASE);
	if (len && (pkt[0] == TP_APP_DATA || pkt[0] == TP_APP_ACK)) {
		app_in(p, pkt, len, sock, from, false, now);
	} else if (len && pkt[0] == KONCE_RDV_PUNCH) {
		konce_rdvwire_msg m;
		if (konce_rdvwire_decode(&m, pkt, len) || memcmp(m.key, p->other, KONCE_WIRE_KEY) != 0)
			;
		else if (p->allow && !p->allow(p->allow_ctx, m.key))
			p->probes_refused++; /* the handshake's server side would refuse it the same way */
		else
			konce_punch_receive(p->pu, sock, from, pkt, len, now); /* MAC checked there */
	} else if (sock == 0) {
		konce_rdvclient_input(p->rc, pkt, len, from, now);
	}
	pump(p, now);
	return 30;
}

static void peer_timer(void *ctx, uint64_t now)
{
	tp_peer *p = ctx;
	konce_rdvclient_timer(p->rc, now);
	konce_punch_timer(p->pu, now);
	if (now >= p->app_tick)
		app_tick(p, now);
	pump(p, now);
}

const sim_host_ops tp_peer_ops = {peer_recv, peer_timer, NULL};

void tp_peer_init(tp_peer *p, sim *s, sim_host *h, const char *name, const uint8_t key[KONCE_WIRE_KEY],
		  const uint8_t other[KONCE_WIRE_KEY], const konce_addr *rdv, unsigned nrdv, unsigned nmsg,
		  bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]), void *allow_ctx)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->h = h;
	p->name = name;
	memcpy(p->key, key, KONCE_WIRE_KEY);
	memcpy(p->other, other, KONCE_WIRE_KEY);
	p->nmsg = nmsg;
	p->msg_every = 200 * MS;
	p->connect_at = UINT64_MAX;
	p->allow = allow;
	p->allow_ctx = allow_ctx;
	sim_host_set_ops(h, &tp_peer_ops, p);
	if (sim_host_bind(h, TP_MAIN_PORT))
		abort();
	p->bound[0] = true;
	konce_addr host = sim_host_addr(h, TP_MAIN_PORT);
	konce_rdvclient_cfg c = {.env = sim_host_env(h), .key = key, .rdv = rdv, .nrdv = nrdv, .host = &host,
			    .nhost = 1, .allow = allow, .allow_ctx = allow_ctx};
	if (konce_rdvclient_new(&p->rc, &c, sim_now(s)) || konce_punch_new(&p->pu, sim_host_env(h), key, other))
		abort();
	p->app_tick = sim_now(s);
	sim_timer_set(s, h, sim_now(s));
}

void tp_peer_connect_at(tp_peer *p, uint64_t t)
{
	p->initiator = true;
	p->connect_at = t;
}

void tp_peer_free(tp_peer *p)
{
	konce_punch_free(p->pu);
	konce_rdvclient_free(p->rc);
}

bool tp_peer_done(const tp_peer *p) { return p->sent == p->nmsg && p->nacked == p->nmsg; }

int tp_peer_set_mapped(tp_peer *p, const konce_addr *m, uint64_t now)
{
	p->self_cand[0].type = KONCE_CAND_MAPPED;
	p->self_cand[0].addr = *m;
	p->nself_cand = 1;
	return konce_rdvclient_set_mapped(p->rc, m, 1, now);
}
