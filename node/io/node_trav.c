/* node_trav.c - NAT traversal in the node: registration, introductions, punching, relaying.
 *
 * The sans-I/O cores do the work (nat/rdvclient.c, nat/punch.c); this file is their I/O glue, the
 * node's version of tests/sim/traversal_peer.c.  node_trav.h says how a peer known by key alone is
 * reached through virtual addresses.
 *
 * Per traversal peer (struct tpeer), the punch core's state decides where a datagram for the
 * peer's virtual address goes:
 *     IDLE, PUNCHING  -> held (the latest two; the endpoint resends its handshake every second);
 *                        a first attempt is PUNCHING only where direct is expected, else it starts
 *                        in PROBING (relay first, nat/punch.h)
 *     DIRECT          -> the verified address, from the node's socket
 *     RELAYED, PROBING-> RELAY through the primary rendezvous, as a message on its session
 * The punch core's events (DIRECT, RELAY) release the held datagrams.  The first attempt's probes
 * are copies of the endpoint's HELLO and its acks the peer's handshake answers; until a pair is
 * verified, answers go to where the peer's handshake came from (node_trav_hs.c).
 *
 * Rendezvous messages ride as reliable KONCE_CLASS_RENDEZVOUS messages on sessions to the
 * configured rendezvous keys; the client core sees them as if they came from the configured
 * address, which is the only source it accepts.  Those sessions are "wanted" (keepalives).
 *
 * Birthday probing: the punch core's sockets 1..KONCE_PUNCH_BIRTHDAY are the extra sockets of
 * node_trav_socks.c, opened on the first probe from each, read like the node socket (with their
 * number), and closed when no attempt or verified path needs them; a peer whose pair was verified
 * on socket S > 0 sends and receives its traffic there.  Probes that could not be sent (no socket:
 * EMFILE, ...) are counted (bday_dropped).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "konce/traversal.h"
#include "nat/punch.h"
#include "nat/rdvclient.h"
#include "node/io/portmap.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/io/node_trav_int.h"
#include "node/io/node_trav_socks.h"
#include "node/core/node_travpool.h"

static struct node_trav *T(struct konce_node *n) { return n->trav; }

/* ---- path handles ----------------------------------------------------------------------------- */

/* The endpoint names a traversal peer by a path handle (node/base/addr.h), slot + 1: no address,
 * so nothing from the network can pose as it, and each peer is its own rate-limit source. */
static void vaddr(konce_addr *a, unsigned slot) { *a = konce_addr_path((uint16_t)(slot + 1)); }

bool node_trav_is_virtual(const konce_addr *a) { return a->path != 0; }

static struct tpeer *tpeer_of_vaddr(struct node_trav *t, const konce_addr *a)
{
	if (!node_trav_is_virtual(a))
		return NULL;
	unsigned slot = a->path - 1u;
	return slot < NODE_TRAV_PEERS && t->peers[slot].used ? &t->peers[slot] : NULL;
}

struct tpeer *tpeer_get(struct node_trav *t, const uint8_t pk[KONCE_KEY_BYTES], int create)
{
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
		struct tpeer *p = &t->peers[i];
		if (p->used && !memcmp(p->pk, pk, KONCE_KEY_BYTES)) {
			p->solicited |= create == TPEER_SOLICITED;
			return p;
		}
	}
	if (!create || !memcmp(pk, t->n->pk, KONCE_KEY_BYTES))
		return NULL;
	/* strangers (introductions others asked for, relayed payloads) live in a bounded, evictable
	 * pool, so they can never take every entry from the keys we ask for (node_travpool.h) */
	struct node_travpool_slot v[NODE_TRAV_PEERS];
	uint64_t now = node_now_us();
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
		struct tpeer *p = &t->peers[i];
		uint64_t last = p->asked_us > p->intro_us ? p->asked_us : p->intro_us;
		last = p->result_us > last ? p->result_us : last;
		v[i] = (struct node_travpool_slot){p->used, p->solicited, p->used && node_peer_find(t->n, p->pk), last};
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
	if (konce_punch_new(&slot->pu, konce_env_default(), t->n->pk, pk))
		return NULL;
	slot->used = true;
	slot->solicited = create == TPEER_SOLICITED;
	slot->intro_us = now; /* its age in the pool starts now */
	memcpy(slot->pk, pk, KONCE_KEY_BYTES);
	return slot;
}

static unsigned slot_of(struct node_trav *t, const struct tpeer *p) { return (unsigned)(p - t->peers); }

void tpeer_vaddr(struct node_trav *t, const struct tpeer *p, konce_addr *a) { vaddr(a, slot_of(t, p)); }

/* The established session with p at its virtual address (the one its path carries), or 0. */
static uint32_t tpeer_session(struct node_trav *t, const struct tpeer *p)
{
	struct peer *np = node_peer_find(t->n, p->pk);
	konce_addr va;
	vaddr(&va, slot_of(t, p));
	return np && np->up && np->conn && konce_addr_eq(&np->addr, &va) ? np->conn : 0;
}

/* Once a session exists, only its authenticated traffic keeps a direct path alive (punch.h). */
static void tpeer_auth(struct node_trav *t, struct tpeer *p)
{
	konce_punch_set_authenticated(p->pu, tpeer_session(t, p) != 0);
}

void tpeer_seen(struct node_trav *t, struct tpeer *p, const konce_addr *from)
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

int node_trav_send_msg(struct konce_node *n, uint32_t conn, const uint8_t *body, size_t len)
{
	uint8_t buf[KONCE_MSG_BODY + KONCE_RDV_MAX_MSG];
	uint64_t id;
	if (len > KONCE_RDV_MAX_MSG)
		return -EMSGSIZE;
	wire_put16(buf + KONCE_MSG_CLASS, KONCE_CLASS_RENDEZVOUS);
	buf[KONCE_MSG_FLAGS] = 0;
	wire_put64(buf + KONCE_MSG_NONCE, 0);
	memcpy(buf + KONCE_MSG_BODY, body, len);
	return konce_ep_msg_send(n->ep, conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0, node_now_us(), &id);
}

/* The session to rendezvous i, opened if there is none. */
static uint32_t rdv_conn(struct node_trav *t, unsigned i)
{
	struct konce_node *n = t->n;
	struct peer *p = node_peer_find(n, t->rdv_pk[i]);
	uint64_t now = node_now_us();
	if (!p) {
		uint32_t conn;
		if (!(p = node_peer_add(n, t->rdv_pk[i])))
			return 0;
		if (konce_ep_connect(n->ep, t->rdv_pk[i], &t->rdv_addr[i], NULL, 0, now, &conn)) {
			node_peer_free(n, p, KONCE_REASON_NONE);
			return 0;
		}
		node_peer_set_conn(n, p, conn);
		p->addr = t->rdv_addr[i];
		p->since_us = now;
	}
	if (p->conn)
		konce_ep_set_wanted(n->ep, p->conn, true, now);
	return p->conn;
}

static void on_sock_datagram(void *ctx, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from);

/* From the node socket (sock 0) or birthday socket sock (opened on demand). */
static void send_direct(struct node_trav *t, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len)
{
	konce_addr local;
	if (!sock) {
		konce_udp_queue(t->n->udp, pkt, len, to);
		return;
	}
	if (!t->socks && (konce_udp_local(t->n->udp, &local) ||
			  node_trav_socks_new(&t->socks, t->n->base, &local, on_sock_datagram, t))) {
		t->bday_dropped++;
		return;
	}
	if (node_trav_socks_send(t->socks, sock, to, pkt, len))
		t->bday_dropped++;
}

/* Sends one endpoint datagram for p the way its path state says; false if it must be held. */
static bool route(struct node_trav *t, struct tpeer *p, const uint8_t *pkt, size_t len, uint64_t now)
{
	unsigned sock;
	konce_addr to;
	if (konce_punch_path(p->pu, &sock, &to)) {
		send_direct(t, sock, &to, pkt, len);
		p->direct_tx++;
		return true;
	}
	enum konce_path_state st = konce_punch_state(p->pu);
	if (st == KONCE_PATH_RELAYED || st == KONCE_PATH_PROBING) {
		if (konce_rdvc_relay(t->rc, p->pk, pkt, len, now) == 0)
			p->relayed_tx++;
		else
			p->held_dropped++;
		return true;
	}
	return false;
}

static void release_held(struct node_trav *t, struct tpeer *p, uint64_t now)
{
	unsigned i = 0;
	for (; i < p->nheld; i++)
		if (!route(t, p, p->held[i], p->held_len[i], now))
			break;
	if (i == p->nheld)
		p->nheld = 0;
}

/* ---- the pump ------------------------------------------------------------------------------- */

/* A live session behind p's virtual address now goes another way (rebinding, relay fallback). */
static void path_moved(struct node_trav *t, struct tpeer *p, uint64_t now)
{
	konce_addr va;
	vaddr(&va, slot_of(t, p));
	konce_ep_path_reset(t->n->ep, &va, now);
}

static void arm(struct node_trav *t)
{
	uint64_t at = t->rc ? konce_rdvc_next_timer(t->rc) : UINT64_MAX, now = node_now_us();
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
		if (t->peers[i].used) {
			uint64_t u = konce_punch_next_timer(t->peers[i].pu);
			at = u < at ? u : at;
		}
	if (at == UINT64_MAX) {
		event_del(t->ev_timer);
		return;
	}
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
	event_add(t->ev_timer, &tv);
}

/* Mappings our sequential NAT made since the registrations saw its last port: the filtering test's
 * fresh socket made one after them (candidates.h shifts the prediction by this). */
static unsigned self_spent(struct node_trav *t, const konce_natinfo *self)
{
	konce_addr x, refl;
	int e = node_travfilter_mapping(t, &x);
	if (self->mapping != KONCE_NATMAP_EDM_SEQ || !self->step || e < 0)
		return 0;
	if (e == 1 || konce_rdvc_reflexive(t->rc, 0, &refl) || memcmp(x.ip, refl.ip, 16))
		return 1;
	/* registered again since (new mappings to the rendezvous): that port is older, not spent */
	return x.port > self->last_port ? (unsigned)(x.port - self->last_port) / self->step : 0;
}

static void on_intro(struct node_trav *t, const konce_rdvc_event *e, uint64_t now)
{
	struct tpeer *p = tpeer_get(t, e->peer, TPEER_STRANGER); /* solicited if we asked */
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
				.npeer = e->ncand, .peer_nat = e->peer_nat, .self_nat = konce_rdvc_nat(t->rc),
				.secret = e->secret};
	in.self_spent = self_spent(t, &in.self_nat);
	konce_cand mine = {KONCE_CAND_MAPPED, t->pm_external};
	if (t->pm_state && !strcmp(t->pm_state, "mapped")) {
		in.self_cands = &mine; /* as registered: the rule needs what the peer sees of us */
		in.nself = 1;
	}
	konce_punch_start(p->pu, &in, now);
	node_trav_hs_intro(t, p, now);
	char who[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(who, e->peer);
	node_log(t->n, KONCE_LOG_INFO, "introduced to %s: %u candidates, first probe in %u ms", who, e->ncand,
		 (unsigned)(e->delay_us / 1000));
}

static void pump(struct node_trav *t)
{
	struct konce_node *n = t->n;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	uint64_t now = node_now_us();
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];

	if (!t->rc)
		return;
	for (int round = 0; round < 4; round++) {
		konce_rdvc_event e;
		while (konce_rdvc_poll_event(t->rc, &e)) {
			struct tpeer *p;
			switch (e.type) {
			case KONCE_RDVC_EV_REFLEXIVE:
				if (konce_rdvc_reflexive(t->rc, 0, &to) == 0)
					node_log(n, KONCE_LOG_INFO, "rendezvous sees us at %s", konce_addr_str(&to, as));
				node_travfilter_kick(t);
				break;
			case KONCE_RDVC_EV_INTRO:
				on_intro(t, &e, now);
				sodium_memzero(e.secret, sizeof(e.secret)); /* the punch core keeps its copy */
				break;
			case KONCE_RDVC_EV_INTRO_FAIL:
				if (e.reason == KONCE_IFAIL_DECLINED) {
					node_trav_declined(t, e.peer, now);
				} else if ((p = tpeer_get(t, e.peer, false))) {
					p->intro_fail = e.reason;
					p->nheld = 0; /* the handshake will time out: unreachable */
				}
				konce_key_to_text(who, e.peer);
				node_log(n, KONCE_LOG_INFO, "no introduction to %s (reason %u)", who, e.reason);
				break;
			case KONCE_RDVC_EV_RELAYED:
				if ((p = tpeer_get(t, e.peer, TPEER_STRANGER))) {
					konce_addr va;
					vaddr(&va, slot_of(t, p));
					p->relayed_rx++;
					konce_punch_relay_heard(p->pu, now);
					konce_ep_input(n->ep, e.data, e.len, &va, now, NULL);
				}
				break;
			}
		}
		for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
			struct tpeer *p = &t->peers[i];
			if (!p->used)
				continue;
			if (p->want_intro && konce_rdvc_registered(t->rc) &&
			    konce_rdvc_request_intro(t->rc, p->pk, now) == 0) {
				p->want_intro = false;
				p->asked_us = now;
			}
			konce_punch_event pe;
			while (konce_punch_poll_event(p->pu, &pe)) {
				konce_key_to_text(who, p->pk);
				if (pe.type != KONCE_PUNCH_EV_UPGRADE)
					p->result = pe.type;
				switch (pe.type) {
				case KONCE_PUNCH_EV_DIRECT:
					p->result_us = now;
					p->path = pe.addr;
					node_log(n, KONCE_LOG_INFO, "direct path to %s at %s", who, konce_addr_str(&pe.addr, as));
					release_held(t, p, now);
					path_moved(t, p, now);
					break;
				case KONCE_PUNCH_EV_RELAY:
					p->result_us = now;
					node_log(n, KONCE_LOG_INFO, "no direct path to %s: relaying", who);
					release_held(t, p, now);
					break;
				case KONCE_PUNCH_EV_LOST:
					node_log(n, KONCE_LOG_INFO, "direct path to %s lost: relaying, registering again", who);
					konce_rdvc_reregister(t->rc, now);
					path_moved(t, p, now);
					break;
				case KONCE_PUNCH_EV_UPGRADE:
					if (konce_rdvc_request_intro(t->rc, p->pk, now) == 0)
						p->asked_us = now;
					break;
				}
			}
			konce_punch_out o;
			tpeer_auth(t, p);
			while (konce_punch_poll(p->pu, &o)) {
				if (o.session) {
					/* the keepalive as a PING on the session: its ack is the answer */
					uint32_t conn = tpeer_session(t, p);
					if (conn && konce_ep_ping(n->ep, conn, now) == 0)
						p->session_probes++;
					else
						p->session_probe_fail++; /* the next retry is PUNCH again */
					continue;
				}
				if (node_trav_hs_probe(t, p, &o)) {
					if (!p->first_probe_us)
						p->first_probe_us = now;
					continue;
				}
				if (o.ack && o.seq == NODE_TRAV_HS_SEQ)
					continue; /* it answers a HELLO copy: the endpoint's COOKIE is the ack */
				if (!o.ack && !p->first_probe_us)
					p->first_probe_us = now;
				if ((len = konce_punch_encode(p->pu, &o, buf, sizeof(buf)))) /* MAC'd */
					send_direct(t, o.sock, &o.to, buf, len);
			}
		}
		if (t->socks)
			node_trav_socks_sweep(t->socks, t);
		t->nknown = 0;
		for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
			t->nknown += t->peers[i].used && (t->peers[i].nseen ||
							  konce_punch_state(t->peers[i].pu) != KONCE_PATH_IDLE);
		while (konce_rdvc_poll(t->rc, buf, &len, &to))
			for (unsigned i = 0; i < t->nrdv; i++)
				if (konce_addr_eq(&to, &t->rdv_addr[i])) {
					uint32_t conn = rdv_conn(t, i);
					if (buf[0] == KONCE_RDV_REGISTER && !t->rdv_sent_us[i])
						t->rdv_sent_us[i] = now;
					if (conn)
						node_trav_send_msg(n, conn, buf, len);
					break;
				}
	}
	node_trav_life_apply(t);
}

static void kick(struct node_trav *t)
{
	pump(t);
	arm(t);
	node_io_kick(t->n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node_trav *t = arg;
	uint64_t now = node_now_us();
	(void)fd;
	(void)what;
	if (t->rc)
		konce_rdvc_timer(t->rc, now);
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++)
		if (t->peers[i].used) {
			tpeer_auth(t, &t->peers[i]);
			konce_punch_timer(t->peers[i].pu, now);
		}
	kick(t);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kick(arg);
}

void node_trav_schedule(struct node_trav *t) { event_active(t->ev_kick, EV_TIMEOUT, 0); }
static void schedule(struct node_trav *t) { node_trav_schedule(t); }

int node_trav_events_new(struct node_trav *t)
{
	t->ev_timer = evtimer_new(t->n->base, on_timer, t);
	t->ev_kick = event_new(t->n->base, -1, 0, on_kick, t);
	return t->ev_timer && t->ev_kick ? 0 : -ENOMEM;
}

/* ---- hooks ---------------------------------------------------------------------------------- */

/* A datagram from a peer's path, or from where the peer's probes came (its handshake may beat our
 * own verification): the endpoint sees the peer at its path handle, so the session never leaves
 * it (a cookie stays bound to one address) and the punch core alone decides direct or relayed (a
 * dead direct path falls back to the relay without the endpoint noticing).  True if it was one. */
static bool path_input(struct node_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from)
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
		uint64_t now = node_now_us();
		uint32_t conn;
		if (node_trav_hs_deliver(t, p, sock, pkt, len, from, now, &conn))
			schedule(t);
		/* the endpoint authenticated it as the peer's session traffic, and it came over the
		 * direct path: the path is alive (punch.h; never for PUNCH) */
		if (conn && conn == tpeer_session(t, p) && konce_punch_path(p->pu, &ps, &pa) && ps == sock &&
		    konce_addr_eq(&pa, from)) {
			p->auth_heard++;
			konce_punch_heard(p->pu, now);
			schedule(t);
		}
		return true;
	}
	return false;
}

/* PUNCH never creates state, or forged keys could fill the table; it counts only with a MAC made
 * with the secret of the INTRO we hold for that key (konce_punch_receive).  A probe that beats our
 * INTRO (a reliable message) is dropped; the peer's later rounds find us. */
static void punch_input(struct node_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	konce_rdv_msg m;
	struct tpeer *p;
	if (!t->rc || konce_rdv_decode(&m, pkt, len) || !(p = tpeer_get(t, m.key, false)) ||
	    konce_punch_receive(p->pu, sock, from, pkt, len, node_now_us())) {
		t->punch_bad++; /* not an introduced peer's, or its MAC is not the introduction's */
		return;
	}
	tpeer_seen(t, p, from); /* only an authenticated probe teaches an address */
	schedule(t);
}

/* A datagram of kind k (node/core/rx_switch.h) on local socket sock (0: the node's).  True if it
 * was traversal's, consumed. */
static bool trav_input(struct node_trav *t, unsigned sock, enum konce_rx_kind k, const uint8_t *pkt, size_t len,
		       const konce_addr *from)
{
	switch (k) {
	case KONCE_RX_JUNK:
		return false;
	case KONCE_RX_LIFE_REQ: /* the lifetime service and the filtering echo belong to the node socket */
		if (!sock)
			node_trav_life_datagram(t, pkt, len, from);
		return true;
	case KONCE_RX_FILTER:
		if (!sock)
			node_travfilter_datagram(t, pkt, len, from);
		return true;
	case KONCE_RX_PUNCH:
		punch_input(t, sock, pkt, len, from);
		return true;
	case KONCE_RX_TAGGED_HELLO:
		/* a HELLO copy tagged with an introduced key is that peer's probe, from wherever it
		 * came (node_trav_hs.c); a tag that does not verify leaves an ordinary HELLO */
		if (!sock && node_trav_hs_hello(t, pkt, len, from, node_now_us())) {
			schedule(t);
			return true;
		}
		return path_input(t, sock, pkt, len, from);
	case KONCE_RX_TRANSPORT:
		return path_input(t, sock, pkt, len, from);
	}
	return false;
}

bool node_trav_on_datagram(struct konce_node *n, enum konce_rx_kind k, const uint8_t *pkt, size_t len,
			   const konce_addr *from)
{
	return T(n) && trav_input(T(n), 0, k, pkt, len, from);
}

/* From a birthday socket: anything not for traversal is dropped (only peers use those sockets). */
static void on_sock_datagram(void *ctx, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav *t = ctx;
	if (!trav_input(t, sock, konce_rx_classify(pkt, len), pkt, len, from))
		t->punch_bad++;
	kick(t);
}

bool node_trav_outgoing(struct konce_node *n, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	struct node_trav *t = T(n);
	if (!node_trav_is_virtual(to))
		return false;
	struct tpeer *p = t ? tpeer_of_vaddr(t, to) : NULL;
	if (!p)
		return true; /* never to the socket */
	if (!route(t, p, pkt, len, node_now_us()) && !node_trav_hs_outgoing(t, p, pkt, len)) {
		if (p->nheld == HELD_MAX) {
			memmove(p->held[0], p->held[1], p->held_len[1]);
			p->held_len[0] = p->held_len[1];
			p->nheld--;
			p->held_dropped++;
		}
		memcpy(p->held[p->nheld], pkt, len);
		p->held_len[p->nheld++] = len;
	}
	schedule(t); /* relayed: the RELAY waits in the client core */
	return true;
}

void node_trav_on_message(struct konce_node *n, struct peer *from, const uint8_t *body, size_t len)
{
	struct node_trav *t = T(n);
	uint64_t now = node_now_us();
	if (!t || !len) {
		n->msgs_dropped++;
		return;
	}
	if (body[0] == KONCE_RDV_FILTER) {
		node_travfilter_message(t, from, body, len);
		return;
	}
	if (body[0] == KONCE_RDV_REGISTER || body[0] == KONCE_RDV_INTRO_REQUEST || body[0] == KONCE_RDV_RELAY ||
	    body[0] == KONCE_RDV_INTRO_REFUSE || body[0] == KONCE_RDV_INTRO_ACCEPT) {
		if (t->srv)
			node_rdvsrv_input(t->srv, from, body, len, now);
		else
			t->msg_unknown++;
		return;
	}
	for (unsigned i = 0; t->rc && i < t->nrdv; i++)
		if (!memcmp(from->pk, t->rdv_pk[i], KONCE_KEY_BYTES)) {
			if (body[0] == KONCE_RDV_REGISTERED && t->rdv_sent_us[i]) {
				t->rdv_rtt_us[i] = now - t->rdv_sent_us[i];
				t->rdv_sent_us[i] = 0;
			}
			konce_rdvc_input(t->rc, body, len, &t->rdv_addr[i], now);
			schedule(t);
			return;
		}
	t->msg_unknown++;
}

int node_trav_resolve(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a)
{
	struct node_trav *t = T(n);
	if (!t || !t->rc)
		return -EHOSTUNREACH;
	struct tpeer *p = tpeer_get(t, pk, TPEER_SOLICITED);
	if (!p)
		return -EHOSTUNREACH;
	vaddr(a, slot_of(t, p));
	enum konce_path_state st = konce_punch_state(p->pu);
	if (st == KONCE_PATH_IDLE || (st == KONCE_PATH_RELAYED && p->intro_fail)) {
		p->intro_fail = 0;
		p->want_intro = true;
		p->asked_us = node_now_us();
		schedule(t);
	}
	return 0;
}

const char *node_trav_path_name(struct konce_node *n, const struct peer *p)
{
	struct tpeer *tp = T(n) ? tpeer_of_vaddr(T(n), &p->addr) : NULL;
	if (!node_trav_is_virtual(&p->addr))
		return "direct";
	/* a virtual address whose datagrams go straight to the punched address is direct; through
	 * the peer's port mapping when that is the peer's MAPPED candidate */
	if (!tp || konce_punch_state(tp->pu) != KONCE_PATH_DIRECT)
		return "relayed";
	for (unsigned i = 0; i < tp->ncand; i++)
		if (tp->cand[i].type == KONCE_CAND_MAPPED && konce_addr_eq(&tp->cand[i].addr, &tp->path))
			return "port-mapped";
	return "direct";
}
