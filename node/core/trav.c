/* trav.c - the traversal core (trav.h): the peer table, routing of the endpoint's datagrams, the
 * pump that drives the rendezvous client and the punch cores, and the receive side.
 *
 * Per traversal peer (struct tpeer), the punch core's state decides where a datagram for the
 * peer's path handle goes (trav.h draws the transitions):
 *     IDLE, PUNCHING  -> held (the latest two; the endpoint resends its handshake every second);
 *                        a first attempt is PUNCHING only where direct is expected, else it starts
 *                        in PROBING (relay first, nat/punch.h)
 *     DIRECT          -> the verified address, from the socket the pair was verified on
 *     RELAYED, PROBING-> RELAY through the primary rendezvous, as a message on its session
 * The punch core's events (DIRECT, RELAY) release the held datagrams.  The first attempt's probes
 * are copies of the endpoint's HELLO and its acks the peer's handshake answers; until a pair is
 * verified, answers go to where the peer's handshake came from (trav_hs.c).
 *
 * Rendezvous messages ride as reliable KONCE_CLASS_RENDEZVOUS messages on sessions to the
 * configured rendezvous keys; the client core sees them as if they came from the configured
 * address, which is the only source it accepts.  Those sessions are "wanted" (keepalives).
 *
 * Birthday probing: the punch core's sockets 1..KONCE_PUNCH_BIRTHDAY are the host's extra sockets
 * (node/io/auxsock.c opens them on the first datagram konce_trav_poll() names them for,
 * and closes those konce_trav_socks_needed() no longer wants); a peer whose pair was verified on
 * socket S > 0 sends and receives its traffic there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "konce/konce.h"
#include "node/base/wire.h"
#include "node/core/node_travpool.h"
#include "node/core/rx_switch.h"
#include "node/core/trav_int.h"

/* ---- output --------------------------------------------------------------------------------- */

void trav_send(konce_trav *t, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len)
{
	if (len > KONCE_WIRE_MAX_DATAGRAM || to->path)
		return;
	if (t->out_n == t->out_cap) {
		unsigned cap = t->out_cap * 2;
		struct trav_out *o = cap <= TRAV_OUT_MAX && !t->out_lent ? konce_env_alloc(t->env, (size_t)cap * sizeof *o)
									  : NULL;
		if (!o) {
			t->out_dropped++;
			return;
		}
		for (unsigned i = 0; i < t->out_n; i++)
			o[i] = t->out[(t->out_head + i) % t->out_cap];
		konce_env_free(t->env, t->out);
		t->out = o;
		t->out_cap = cap;
		t->out_head = 0;
	}
	struct trav_out *o = &t->out[(t->out_head + t->out_n++) % t->out_cap];
	o->sock = sock;
	o->to = *to;
	o->len = (uint16_t)len;
	memcpy(o->data, pkt, len);
}

bool konce_trav_poll_ref(konce_trav *t, unsigned *sock, const uint8_t **pkt, size_t *len, konce_addr *to)
{
	if (t->out_n == t->out_lent)
		return false;
	const struct trav_out *o = &t->out[(t->out_head + t->out_lent++) % t->out_cap];
	*sock = o->sock;
	*to = o->to;
	*len = o->len;
	*pkt = o->data;
	return true;
}

void konce_trav_sent(konce_trav *t)
{
	t->out_head = (t->out_head + t->out_lent) % t->out_cap;
	t->out_n -= t->out_lent;
	t->out_lent = 0;
}

bool konce_trav_poll(konce_trav *t, unsigned *sock, uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], size_t *len,
		     konce_addr *to)
{
	const uint8_t *pkt;
	bool lending = t->out_lent != 0;
	if (!konce_trav_poll_ref(t, sock, &pkt, len, to))
		return false;
	memcpy(buf, pkt, *len);
	if (!lending) /* else it is released with the datagrams lent before it */
		konce_trav_sent(t);
	return true;
}

konce_trav_event *trav_event(konce_trav *t, enum konce_trav_ev_type type)
{
	if (t->ev_n == TRAV_EV_RING) {
		t->ev_dropped++;
		return NULL;
	}
	konce_trav_event *e = &t->ev[(t->ev_head + t->ev_n++) % TRAV_EV_RING];
	memset(e, 0, sizeof *e);
	e->type = type;
	return e;
}

void trav_log(konce_trav *t, int level, const char *fmt, ...)
{
	konce_trav_event *e = trav_event(t, KONCE_TRAV_EV_LOG);
	if (!e)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
	e->level = level;
}

bool konce_trav_poll_event(konce_trav *t, konce_trav_event *ev)
{
	if (!t->ev_n)
		return false;
	*ev = t->ev[t->ev_head];
	t->ev_head = (t->ev_head + 1) % TRAV_EV_RING;
	t->ev_n--;
	return true;
}

/* ---- path handles --------------------------------------------------------------------------- */

/* The endpoint names a traversal peer by a path handle (node/base/addr.h), slot + 1: no address,
 * so nothing from the network can pose as it, and each peer is its own rate-limit source. */
static void vaddr(konce_addr *a, unsigned slot) { *a = konce_addr_path((uint16_t)(slot + 1)); }

bool konce_trav_is_path(const konce_addr *a) { return a->path != 0; }

static struct tpeer *tpeer_of_vaddr(konce_trav *t, const konce_addr *a)
{
	if (!konce_trav_is_path(a))
		return NULL;
	unsigned slot = a->path - 1u;
	return slot < NODE_TRAV_PEERS && t->peers[slot].used ? &t->peers[slot] : NULL;
}

bool trav_peer(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out)
{
	return t->ops.peer(t->ops.ctx, pk, out);
}

struct tpeer *tpeer_get(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], int create, uint64_t now)
{
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
		struct tpeer *p = &t->peers[i];
		if (p->used && !memcmp(p->pk, pk, KONCE_WIRE_KEY)) {
			p->solicited |= create == TPEER_SOLICITED;
			return p;
		}
	}
	if (!create || !memcmp(pk, t->pk, KONCE_WIRE_KEY))
		return NULL;
	/* strangers (introductions others asked for, relayed payloads) live in a bounded, evictable
	 * pool, so they can never take every entry from the keys we ask for (node_travpool.h) */
	struct node_travpool_slot v[NODE_TRAV_PEERS];
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
		struct tpeer *p = &t->peers[i];
		konce_trav_peer np;
		uint64_t last = p->asked_us > p->intro_us ? p->asked_us : p->intro_us;
		last = p->result_us > last ? p->result_us : last;
		v[i] = (struct node_travpool_slot){p->used, p->solicited, p->used && trav_peer(t, p->pk, &np), last};
	}
	int k = node_travpool_pick(v, NODE_TRAV_PEERS, create == TPEER_SOLICITED, now);
	if (k < 0) {
		t->tpeer_full++;
		return NULL;
	}
	struct tpeer *slot = &t->peers[k];
	if (slot->used) {
		t->tpeer_evicted++;
		konce_punch_free(slot->pu);
		slot->used = false;
	}
	memset(slot, 0, sizeof(*slot));
	if (konce_punch_new(&slot->pu, t->env, t->pk, pk))
		return NULL;
	slot->used = true;
	slot->solicited = create == TPEER_SOLICITED;
	slot->intro_us = now; /* its age in the pool starts now */
	memcpy(slot->pk, pk, KONCE_WIRE_KEY);
	return slot;
}

static unsigned slot_of(konce_trav *t, const struct tpeer *p) { return (unsigned)(p - t->peers); }

void tpeer_vaddr(konce_trav *t, const struct tpeer *p, konce_addr *a) { vaddr(a, slot_of(t, p)); }

/* The established session with p at its handle (the one its path carries), or 0. */
static uint32_t tpeer_session(konce_trav *t, const struct tpeer *p)
{
	konce_trav_peer np;
	konce_addr va;
	vaddr(&va, slot_of(t, p));
	return trav_peer(t, p->pk, &np) && np.up && np.conn && konce_addr_eq(&np.addr, &va) ? np.conn : 0;
}

/* Once a session exists, only its authenticated traffic keeps a direct path alive (punch.h). */
static void tpeer_auth(konce_trav *t, struct tpeer *p)
{
	konce_punch_set_authenticated(p->pu, tpeer_session(t, p) != 0);
}

void tpeer_seen(konce_trav *t, struct tpeer *p, const konce_addr *from)
{
	for (unsigned k = 0; k < p->nseen; k++)
		if (konce_addr_eq(&p->seen[k], from))
			return;
	p->seen[p->seen_next] = *from;
	p->seen_next = (p->seen_next + 1) % SEEN_MAX;
	if (p->nseen < SEEN_MAX)
		p->nseen++;
	t->nknown++; /* recounted by the next pump */
}

/* ---- sending -------------------------------------------------------------------------------- */

int konce_trav_send_msg(konce_trav *t, uint32_t conn, const uint8_t *body, size_t len, uint64_t now)
{
	uint8_t buf[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG];
	uint64_t id;
	if (len > KONCE_RDV_MAX_MSG)
		return -EMSGSIZE;
	konce_msg_head_put(buf, KONCE_CLASS_RENDEZVOUS, 0, 0);
	memcpy(buf + KONCE_MSG_BODY, body, len);
	return konce_ep_msg_send(t->ep, conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, now, &id);
}

/* The session to rendezvous i, opened if there is none. */
static uint32_t rdv_conn(konce_trav *t, unsigned i, uint64_t now)
{
	konce_trav_peer np;
	uint32_t conn;
	if (trav_peer(t, t->rdv_pk[i], &np))
		conn = np.conn;
	else
		conn = t->ops.dial(t->ops.ctx, t->rdv_pk[i], &t->rdv_addr[i], now);
	if (conn)
		konce_ep_set_wanted(t->ep, conn, true, now);
	return conn;
}

/* Sends one endpoint datagram for p the way its path state says; false if it must be held. */
static bool route(konce_trav *t, struct tpeer *p, const uint8_t *pkt, size_t len, uint64_t now)
{
	unsigned sock;
	konce_addr to;
	if (konce_punch_path(p->pu, &sock, &to)) {
		trav_send(t, sock, &to, pkt, len);
		p->direct_tx++;
		return true;
	}
	enum konce_punch_path_state st = konce_punch_state(p->pu);
	if (st == KONCE_PUNCH_PATH_RELAYED || st == KONCE_PUNCH_PATH_PROBING) {
		if (konce_rdvclient_relay(t->rc, p->pk, pkt, len, now) == 0)
			p->relayed_tx++;
		else
			p->held_dropped++;
		return true;
	}
	return false;
}

static void release_held(konce_trav *t, struct tpeer *p, uint64_t now)
{
	unsigned i = 0;
	for (; i < p->nheld; i++)
		if (!route(t, p, p->held[i], p->held_len[i], now))
			break;
	if (i == p->nheld)
		p->nheld = 0;
}

/* ---- the pump ------------------------------------------------------------------------------- */

/* A live session behind p's handle now goes another way (rebinding, relay fallback). */
static void path_moved(konce_trav *t, struct tpeer *p, uint64_t now)
{
	konce_addr va;
	vaddr(&va, slot_of(t, p));
	konce_ep_path_reset(t->ep, &va, now);
}

uint64_t konce_trav_next_timer(const konce_trav *t)
{
	if (t->dirty)
		return 0;
	uint64_t at = t->rc ? konce_rdvclient_next_timer(t->rc) : UINT64_MAX, f = trav_filter_next_timer(t);
	at = f < at ? f : at;
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
		if (t->peers[i].used) {
			uint64_t u = konce_punch_next_timer(t->peers[i].pu);
			at = u < at ? u : at;
		}
	return at;
}

/* Mappings our sequential NAT made since the registrations saw its last port: the filtering test's
 * fresh socket made one after them (candidates.h shifts the prediction by this). */
static unsigned self_spent(konce_trav *t, const konce_natinfo *self)
{
	konce_addr x, refl;
	int e = t->ops.fresh_mapping ? t->ops.fresh_mapping(t->ops.ctx, &x) : konce_trav_fresh_mapping(t, &x);
	if (self->mapping != KONCE_NATMAP_EDM_SEQ || !self->step || e < 0)
		return 0;
	if (e == 1 || konce_rdvclient_reflexive(t->rc, 0, &refl) || memcmp(x.ip, refl.ip, 16))
		return 1;
	/* registered again since (new mappings to the rendezvous): that port is older, not spent */
	return x.port > self->last_port ? (unsigned)(x.port - self->last_port) / self->step : 0;
}

static void on_intro(konce_trav *t, const konce_rdvclient_event *e, uint64_t now)
{
	struct tpeer *p = tpeer_get(t, e->peer, TPEER_STRANGER, now); /* solicited if we asked */
	if (!p)
		return;
	p->intro_us = now;
	p->start_us = now + e->delay_us;
	p->intro_id = e->intro_id;
	p->delay_us = e->delay_us;
	p->initiator = e->initiator;
	p->peer_nat = e->peer_nat;
	p->ncand = e->ncand;
	memcpy(p->cand, e->cand, sizeof(p->cand));
	p->result = 0;
	p->result_us = p->first_probe_us = 0;
	p->want_intro = false;
	konce_punch_intro in = {.intro_id = e->intro_id, .delay_us = e->delay_us, .peer_cands = e->cand,
				.npeer = e->ncand, .peer_nat = e->peer_nat, .self_nat = konce_rdvclient_nat(t->rc),
				.secret = e->secret};
	in.self_spent = self_spent(t, &in.self_nat);
	p->self_nat = in.self_nat;
	p->self_spent = in.self_spent;
	/* ours as registered: the rule needs what the peer sees of us (a lease, our reflexive
	 * address at the primary, whether we offered a host candidate) */
	konce_cand mine[3];
	unsigned nmine = 0;
	if (t->mapped)
		mine[nmine++] = (konce_cand){KONCE_CAND_MAPPED, t->mapped_ext};
	if (konce_rdvclient_reflexive(t->rc, 0, &mine[nmine].addr) == 0)
		mine[nmine++].type = KONCE_CAND_REFLEXIVE;
	if (t->nhost)
		mine[nmine++] = (konce_cand){KONCE_CAND_HOST, t->host[0]};
	in.self_cands = nmine ? mine : NULL;
	in.nself = nmine;
	p->shared_public = konce_candidates_shared_public(mine, nmine, e->cand, e->ncand);
	p->hairpin = KONCE_NAT_UNKNOWN;
	const struct konce_punch_counters *pc = konce_punch_counters(p->pu);
	p->rx_before = pc->probes_rx + pc->acks_rx;
	konce_punch_start(p->pu, &in, now);
	trav_hs_intro(t, p, now);
	char who[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(who, e->peer);
	trav_log(t, KONCE_LOG_INFO, "introduced to %s: %u candidates, first probe in %u ms", who, e->ncand,
		 (unsigned)(e->delay_us / 1000));
}

static void path_event(konce_trav *t, const struct tpeer *p, enum konce_punch_path_state st, const konce_addr *a,
		       bool lost)
{
	konce_trav_event *e = trav_event(t, KONCE_TRAV_EV_PATH);
	if (!e)
		return;
	memcpy(e->pk, p->pk, KONCE_WIRE_KEY);
	e->state = st;
	e->lost = lost;
	if (a)
		e->addr = *a;
}

static void client_events(konce_trav *t, uint64_t now)
{
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];
	konce_rdvclient_event e;
	konce_addr to;
	while (konce_rdvclient_poll_event(t->rc, &e)) {
		struct tpeer *p;
		switch (e.type) {
		case KONCE_RDVCLIENT_EV_REFLEXIVE:
			if (konce_rdvclient_reflexive(t->rc, 0, &to) == 0)
				trav_log(t, KONCE_LOG_INFO, "rendezvous sees us at %s", konce_addr_str(&to, as));
			trav_event(t, KONCE_TRAV_EV_REFLEXIVE);
			trav_filter_kick(t);
			break;
		case KONCE_RDVCLIENT_EV_INTRO:
			on_intro(t, &e, now);
			sodium_memzero(e.secret, sizeof(e.secret)); /* the punch core keeps its copy */
			break;
		case KONCE_RDVCLIENT_EV_INTRO_FAIL:
			if (e.reason == KONCE_IFAIL_DECLINED) {
				trav_declined(t, e.peer, now);
			} else if ((p = tpeer_get(t, e.peer, TPEER_FIND, now))) {
				p->intro_fail = e.reason;
				p->nheld = 0; /* the handshake will time out: unreachable */
			}
			konce_key_to_text(who, e.peer);
			trav_log(t, KONCE_LOG_INFO, "no introduction to %s (reason %u)", who, e.reason);
			break;
		case KONCE_RDVCLIENT_EV_RELAYED:
			if ((p = tpeer_get(t, e.peer, TPEER_STRANGER, now))) {
				konce_addr va;
				vaddr(&va, slot_of(t, p));
				p->relayed_rx++;
				/* before the endpoint sees it: a handshake answer it takes (a COOKIE the
				 * peer sent while upgrading) has ours follow over the relay */
				konce_punch_relay_heard(p->pu, now);
				konce_ep_input(t->ep, e.data, e.len, &va, now, NULL);
			}
			break;
		}
	}
}

/* An attempt between two sides behind one public address gave up (not the relay-first RELAY at
 * its start) and not one probe or ack of the peer came through that address's hairpin. */
static void hairpin_giveup(struct tpeer *p)
{
	const struct konce_punch_counters *c = konce_punch_counters(p->pu);
	if (p->shared_public && p->hairpin == KONCE_NAT_UNKNOWN && p->first_probe_us &&
	    konce_punch_state(p->pu) == KONCE_PUNCH_PATH_RELAYED && c->probes_rx + c->acks_rx == p->rx_before)
		p->hairpin = KONCE_NAT_NO;
}

static void peer_events(konce_trav *t, struct tpeer *p, uint64_t now)
{
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];
	konce_punch_event pe;
	while (konce_punch_poll_event(p->pu, &pe)) {
		konce_key_to_text(who, p->pk);
		if (pe.type != KONCE_PUNCH_EV_UPGRADE)
			p->result = pe.type;
		switch (pe.type) {
		case KONCE_PUNCH_EV_DIRECT:
			p->result_us = now;
			p->path = pe.addr;
			if (p->shared_public)
				p->hairpin = KONCE_NAT_YES; /* no host candidate: the pair runs through it */
			trav_log(t, KONCE_LOG_INFO, "direct path to %s at %s", who, konce_addr_str(&pe.addr, as));
			path_event(t, p, KONCE_PUNCH_PATH_DIRECT, &pe.addr, false);
			release_held(t, p, now);
			path_moved(t, p, now);
			break;
		case KONCE_PUNCH_EV_RELAY:
			p->result_us = now;
			hairpin_giveup(p);
			if (konce_punch_state(p->pu) == KONCE_PUNCH_PATH_PROBING)
				trav_log(t, KONCE_LOG_INFO, "relaying to %s while probing for a direct path", who);
			else
				trav_log(t, KONCE_LOG_INFO, "no direct path to %s: relaying", who);
			path_event(t, p, KONCE_PUNCH_PATH_RELAYED, NULL, false);
			release_held(t, p, now);
			break;
		case KONCE_PUNCH_EV_LOST:
			trav_log(t, KONCE_LOG_INFO, "direct path to %s lost: relaying, registering again", who);
			path_event(t, p, KONCE_PUNCH_PATH_RELAYED, NULL, true);
			konce_rdvclient_reregister(t->rc, now);
			path_moved(t, p, now);
			break;
		case KONCE_PUNCH_EV_UPGRADE:
			if (konce_rdvclient_request_intro(t->rc, p->pk, now) == 0)
				p->asked_us = now;
			break;
		}
	}
}

static void peer_probes(konce_trav *t, struct tpeer *p, uint64_t now)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_punch_out o;
	tpeer_auth(t, p);
	while (konce_punch_poll(p->pu, &o)) {
		if (o.session) {
			/* the keepalive as a PING on the session: its ack is the answer */
			uint32_t conn = tpeer_session(t, p);
			if (conn && konce_ep_ping(t->ep, conn, now) == 0)
				p->session_probes++;
			else
				p->session_probe_fail++; /* the next retry is PUNCH again */
			continue;
		}
		if (trav_hs_probe(t, p, &o, now)) {
			if (!p->first_probe_us)
				p->first_probe_us = now;
			continue;
		}
		if (o.ack && o.seq == NODE_TRAV_HS_SEQ)
			continue; /* it answers a HELLO copy: the endpoint's COOKIE is the ack */
		if (!o.ack && !p->first_probe_us)
			p->first_probe_us = now;
		if ((len = konce_punch_encode(p->pu, &o, buf, sizeof(buf)))) /* MAC'd */
			trav_send(t, o.sock, &o.to, buf, len);
	}
}

static void pump(konce_trav *t, uint64_t now)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;

	t->dirty = false;
	if (!t->rc)
		return;
	for (int round = 0; round < 4; round++) {
		client_events(t, now);
		for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
			struct tpeer *p = &t->peers[i];
			if (!p->used)
				continue;
			if (p->want_intro && konce_rdvclient_registered(t->rc) &&
			    konce_rdvclient_request_intro(t->rc, p->pk, now) == 0) {
				p->want_intro = false;
				p->asked_us = now;
			}
			peer_events(t, p, now);
			peer_probes(t, p, now);
		}
		t->nknown = 0;
		for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
			t->nknown += t->peers[i].used && (t->peers[i].nseen ||
							  konce_punch_state(t->peers[i].pu) != KONCE_PUNCH_PATH_IDLE);
		while (konce_rdvclient_poll(t->rc, buf, &len, &to))
			for (unsigned i = 0; i < t->nrdv; i++)
				if (konce_addr_eq(&to, &t->rdv_addr[i])) {
					uint32_t conn = rdv_conn(t, i, now);
					if (buf[0] == KONCE_RDV_REGISTER && !t->rdv_sent_us[i])
						t->rdv_sent_us[i] = now;
					if (conn)
						konce_trav_send_msg(t, conn, buf, len, now);
					break;
				}
	}
}

void konce_trav_timer(konce_trav *t, uint64_t now)
{
	trav_filter_timer(t, now);
	if (t->rc && now >= konce_rdvclient_next_timer(t->rc))
		konce_rdvclient_timer(t->rc, now);
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
		if (t->peers[i].used) {
			tpeer_auth(t, &t->peers[i]);
			if (now >= konce_punch_next_timer(t->peers[i].pu))
				konce_punch_timer(t->peers[i].pu, now);
		}
	pump(t, now);
}

bool konce_trav_socks_needed(const konce_trav *t, uint64_t now, bool keep[KONCE_PUNCH_BIRTHDAY + 1])
{
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
		const struct tpeer *p = &t->peers[i];
		unsigned sock;
		konce_addr a;
		if (!p->used)
			continue;
		enum konce_punch_path_state st = konce_punch_state(p->pu);
		/* An attempt may still verify any of its sockets, or be answered on it.  And until its
		 * give-up time, even once a pair won: when the two sets met twice, the peer may have
		 * verified the other pair, and its probes there are what moves our path (punch.h's
		 * rebinding, when we are the controlled side). */
		if (st == KONCE_PUNCH_PATH_PUNCHING || st == KONCE_PUNCH_PATH_PROBING ||
		    (p->start_us && now < p->start_us + KONCE_PUNCH_GIVEUP_MS * 1000ull))
			return true;
		if (konce_punch_path(p->pu, &sock, &a) && sock <= KONCE_PUNCH_BIRTHDAY)
			keep[sock] = true;
	}
	return false;
}

/* ---- the receive side ----------------------------------------------------------------------- */

/* A datagram from a peer's path, or from where the peer's probes came (its handshake may beat our
 * own verification): the endpoint sees the peer at its path handle, so the session never leaves
 * it (a cookie stays bound to one address) and the punch core alone decides direct or relayed (a
 * dead direct path falls back to the relay without the endpoint noticing).  True if it was one. */
static bool path_input(konce_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
		       uint64_t now)
{
	for (unsigned i = 0; t->nknown && i < NODE_TRAV_PEERS; i++) {
		struct tpeer *p = &t->peers[i];
		unsigned ps, k;
		konce_addr pa;
		if (!p->used)
			continue;
		bool match = konce_punch_path(p->pu, &ps, &pa) && konce_addr_eq(&pa, from);
		for (k = 0; !match && k < p->nseen; k++)
			match = konce_addr_eq(&p->seen[k], from);
		if (!match)
			match = konce_punch_is_target(p->pu, sock, from); /* an answer to our HELLO copy */
		if (!match)
			continue;
		uint32_t conn;
		trav_hs_deliver(t, p, sock, pkt, len, from, now, &conn);
		/* the endpoint authenticated it as the peer's session traffic, and it came over the
		 * direct path: the path is alive (punch.h; never for PUNCH) */
		if (conn && conn == tpeer_session(t, p) && konce_punch_path(p->pu, &ps, &pa) && ps == sock &&
		    konce_addr_eq(&pa, from)) {
			p->auth_heard++;
			konce_punch_heard(p->pu, now);
		}
		return true;
	}
	return false;
}

/* PUNCH never creates state, or forged keys could fill the table; it counts only with a MAC made
 * with the secret of the INTRO we hold for that key (konce_punch_receive).  A probe that beats our
 * INTRO (a reliable message) is dropped; the peer's later rounds find us. */
static void punch_input(konce_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
			uint64_t now)
{
	konce_rdvwire_msg m;
	struct tpeer *p;
	if (!t->rc || konce_rdvwire_decode(&m, pkt, len) || !(p = tpeer_get(t, m.key, TPEER_FIND, now)) ||
	    konce_punch_receive(p->pu, sock, from, pkt, len, now)) {
		t->punch_bad++; /* not an introduced peer's, or its MAC is not the introduction's */
		return;
	}
	tpeer_seen(t, p, from); /* only an authenticated probe teaches an address */
}

bool konce_trav_input(konce_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
		      uint64_t now)
{
	bool taken = false;
	if (sock > KONCE_PUNCH_BIRTHDAY) {
		trav_filter_datagram(t, sock, pkt, len, from, now);
		t->dirty = true;
		return true;
	}
	switch (konce_rx_classify(pkt, len)) {
	case KONCE_RX_JUNK:
	case KONCE_RX_LIFE_REQ: /* the host's lifetime service, on the node socket */
		return false;
	case KONCE_RX_FILTER:
		trav_filter_datagram(t, sock, pkt, len, from, now);
		taken = true;
		break;
	case KONCE_RX_PUNCH:
		punch_input(t, sock, pkt, len, from, now);
		taken = true;
		break;
	case KONCE_RX_TAGGED_HELLO:
		/* a HELLO copy tagged with an introduced key is that peer's probe, from wherever it
		 * came (trav_hs.c); a tag that does not verify leaves an ordinary HELLO */
		taken = (!sock && trav_hs_hello(t, pkt, len, from, now)) || path_input(t, sock, pkt, len, from, now);
		break;
	case KONCE_RX_TRANSPORT:
		taken = path_input(t, sock, pkt, len, from, now);
		break;
	}
	t->dirty |= taken;
	return taken;
}

bool konce_trav_outgoing(konce_trav *t, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	if (!konce_trav_is_path(to))
		return false;
	struct tpeer *p = tpeer_of_vaddr(t, to);
	if (!p)
		return true; /* never to a socket */
	if (!route(t, p, pkt, len, now) && !trav_hs_outgoing(t, p, pkt, len)) {
		if (p->nheld == HELD_MAX) {
			memmove(p->held[0], p->held[1], p->held_len[1]);
			p->held_len[0] = p->held_len[1];
			p->nheld--;
			p->held_dropped++;
		}
		memcpy(p->held[p->nheld], pkt, len);
		p->held_len[p->nheld++] = len;
		/* The rendezvous did not know the peer when we asked: it may be registering right now
		 * (its REGISTER lost and resent).  Each handshake retry the endpoint makes asks again,
		 * so the introduction follows the registration within a retry, instead of the pair
		 * waiting with nothing in flight until the handshake gives up. */
		if (konce_punch_state(p->pu) == KONCE_PUNCH_PATH_IDLE && p->intro_fail == KONCE_IFAIL_UNKNOWN &&
		    !p->want_intro && now >= p->asked_us + INTRO_REASK_MS * 1000ull) {
			p->intro_fail = 0;
			p->want_intro = true;
			p->intro_reasks++;
		}
	}
	t->dirty = true; /* relayed: the RELAY waits in the client core */
	return true;
}

void konce_trav_message(konce_trav *t, const uint8_t from_pk[KONCE_WIRE_KEY], const konce_addr *from_addr,
			const uint8_t *body, size_t len, uint64_t now)
{
	if (!len) {
		t->msg_unknown++;
		return;
	}
	if (body[0] == KONCE_RDV_FILTER) {
		trav_filter_message(t, from_pk, from_addr, body, len, now);
		t->dirty = true;
		return;
	}
	if (body[0] == KONCE_RDV_REGISTER || body[0] == KONCE_RDV_INTRO_REQUEST || body[0] == KONCE_RDV_RELAY ||
	    body[0] == KONCE_RDV_INTRO_REFUSE || body[0] == KONCE_RDV_INTRO_ACCEPT) {
		if (t->srv)
			trav_rdvsrv_input(t->srv, from_pk, from_addr, body, len, now);
		else
			t->msg_unknown++;
		return;
	}
	for (unsigned i = 0; t->rc && i < t->nrdv; i++)
		if (!memcmp(from_pk, t->rdv_pk[i], KONCE_WIRE_KEY)) {
			if (body[0] == KONCE_RDV_REGISTERED && t->rdv_sent_us[i]) {
				t->rdv_rtt_us[i] = now - t->rdv_sent_us[i];
				t->rdv_sent_us[i] = 0;
			}
			konce_rdvclient_input(t->rc, body, len, &t->rdv_addr[i], now);
			t->dirty = true;
			return;
		}
	t->msg_unknown++;
}

int konce_trav_resolve(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], konce_addr *a, uint64_t now)
{
	if (!t->rc)
		return -EHOSTUNREACH;
	struct tpeer *p = tpeer_get(t, pk, TPEER_SOLICITED, now);
	if (!p)
		return -EHOSTUNREACH;
	vaddr(a, slot_of(t, p));
	enum konce_punch_path_state st = konce_punch_state(p->pu);
	if (st == KONCE_PUNCH_PATH_IDLE || (st == KONCE_PUNCH_PATH_RELAYED && p->intro_fail)) {
		p->intro_fail = 0;
		p->want_intro = true;
		p->asked_us = now;
		t->dirty = true;
	}
	return 0;
}

void konce_trav_set_mapped(konce_trav *t, const konce_addr *external, uint64_t now)
{
	t->mapped = external != NULL;
	if (external)
		t->mapped_ext = *external;
	if (t->rc)
		konce_rdvclient_set_mapped(t->rc, external, external ? 1 : 0, now);
	t->dirty = true;
}

void konce_trav_set_path_keepalive(konce_trav *t, uint64_t keepalive_us, uint64_t now)
{
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
		if (t->peers[i].used)
			konce_punch_set_keepalive(t->peers[i].pu, keepalive_us, now);
}

/* ---- life ----------------------------------------------------------------------------------- */

int konce_trav_new(konce_trav **out, const konce_trav_cfg *cfg, uint64_t now)
{
	*out = NULL;
	if (!cfg || !cfg->ep || !cfg->pk || !cfg->ops.peer || !cfg->ops.dial || cfg->nrdv > KONCE_RDVCLIENT_MAX_RDV ||
	    cfg->nhost > KONCE_RDVCLIENT_MAX_HOST || (cfg->nrdv && (!cfg->rdv_pk || !cfg->rdv_addr)))
		return -EINVAL;
	const konce_env *env = cfg->env ? cfg->env : konce_env_default();
	konce_trav *t = konce_env_alloc(env, sizeof *t);
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof *t);
	t->env = env;
	t->ep = cfg->ep;
	memcpy(t->pk, cfg->pk, KONCE_WIRE_KEY);
	t->ops = cfg->ops;
	t->nrdv = cfg->nrdv;
	for (unsigned i = 0; i < cfg->nrdv; i++) {
		memcpy(t->rdv_pk[i], cfg->rdv_pk[i], KONCE_WIRE_KEY);
		t->rdv_addr[i] = cfg->rdv_addr[i];
	}
	t->nhost = cfg->host_candidates ? cfg->nhost : 0;
	for (unsigned i = 0; i < t->nhost; i++)
		t->host[i] = cfg->host[i];
	t->known_only = cfg->known_only;
	if (cfg->local)
		t->local = *cfg->local;
	int e = -ENOMEM;
	t->out_cap = TRAV_OUT_MIN;
	if (!(t->out = konce_env_alloc(env, (size_t)t->out_cap * sizeof *t->out)))
		goto fail;
	if (cfg->rendezvous && (e = trav_rdvsrv_new(&t->srv, t, cfg->rendezvous_capacity)))
		goto fail;
	if ((e = trav_filter_new(t)))
		goto fail;
	if (t->nrdv) {
		konce_rdvclient_cfg rc = {.env = env, .key = t->pk, .rdv = t->rdv_addr, .nrdv = t->nrdv, .host = t->host,
				     .nhost = t->nhost, .allow = t->known_only ? trav_known : NULL, .allow_ctx = t};
		if ((e = konce_rdvclient_new(&t->rc, &rc, now)))
			goto fail;
		konce_rdvclient_timer(t->rc, now);
		t->dirty = true;
	}
	*out = t;
	return 0;
fail:
	konce_trav_free(t);
	return e;
}

void konce_trav_free(konce_trav *t)
{
	if (!t)
		return;
	const konce_env *env = t->env;
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
		if (t->peers[i].used)
			konce_punch_free(t->peers[i].pu);
	trav_filter_free(t);
	konce_rdvclient_free(t->rc);
	trav_rdvsrv_free(t->srv);
	if (t->out)
		sodium_memzero(t->out, (size_t)t->out_cap * sizeof *t->out);
	konce_env_free(env, t->out);
	sodium_memzero(t, sizeof *t);
	konce_env_free(env, t);
}
