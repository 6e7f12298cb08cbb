/* nodecore.c - the node core's composition and call set: the endpoint fed from the input priority
 * queue, its events turned into the peer table's transitions, pending outcomes, store notes and
 * application events (the state machines are drawn in nodecore.h).
 *
 * Time: events are processed in poll_event(), at the latest `now` any call has given (c->now); the
 * I/O layer drains the core right after each input, timer or command, so that is the time they
 * happened.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node/core/nc_int.h"

enum { LOG_TEXT_MAX = 200 };

void *nc_alloc(konce_nodecore *c, size_t n) { return konce_env_alloc(c->env, n); }

void nc_free(konce_nodecore *c, void *p)
{
	if (p)
		konce_env_free(c->env, p);
}

void nc_log(konce_nodecore *c, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!c->cfg.log || level > c->cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->cfg.log(c->cfg.log_ctx, level, line);
}

static void tick(konce_nodecore *c, uint64_t now)
{
	if (now > c->now)
		c->now = now;
}

/* ---- the application event queue ------------------------------------------------------------ */

static struct ncqev *evq_push(konce_nodecore *c)
{
	if (c->evq_len == c->evq_cap) {
		size_t cap = c->evq_cap ? c->evq_cap * 2 : 64;
		struct ncqev *v = nc_alloc(c, cap * sizeof(*v));
		if (!v)
			return NULL;
		for (size_t i = 0; i < c->evq_len; i++)
			v[i] = c->evq[(c->evq_head + i) % c->evq_cap];
		nc_free(c, c->evq);
		c->evq = v;
		c->evq_cap = cap;
		c->evq_head = 0;
	}
	struct ncqev *e = &c->evq[(c->evq_head + c->evq_len++) % c->evq_cap];
	memset(e, 0, sizeof(*e));
	return e;
}

void nc_queue_outcome(konce_nodecore *c, struct ncpending *p)
{
	struct ncqev *e = evq_push(c);
	if (e) {
		e->p = p;
		return;
	}
	/* out of memory: the outcome waits on a list through the pending itself, so it is never lost
	 * (M2); poll_event() hands it out after the ring */
	p->next = NULL;
	*c->overflow_tail = p;
	c->overflow_tail = &p->next;
}

void nc_queue_peer(konce_nodecore *c, int peer_event, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr)
{
	struct ncqev *e = evq_push(c);
	if (!e)
		return; /* a peer notification is advisory; the peer table stays right */
	e->peer_event = peer_event;
	memcpy(e->pk, pk, KONCE_KEY_BYTES);
	e->addr = *addr;
}

/* ---- life ----------------------------------------------------------------------------------- */

/* The path MTU search's upper bound (pmtud.h) the endpoint asks for: a path handle (a punched or
 * relayed traversal path) carries base-size datagrams only; a real address, what the host's
 * estimate of its route says (cfg.ep.path_mtu; none = 0, unknown: max_datagram bounds it). */
static unsigned path_mtu(void *ctx, const konce_addr *peer)
{
	const konce_nodecore *c = ctx;
	if (peer->path)
		return KONCE_PMTU_BASE;
	return c->cfg.ep.path_mtu ? c->cfg.ep.path_mtu(c->cfg.ep.path_mtu_ctx, peer) : 0;
}

int konce_nodecore_new(konce_nodecore **out, const konce_nodecore_config *cfg, uint64_t now)
{
	*out = NULL;
	if (!cfg || !cfg->ep.identity || cfg->group_max_batch > KONCE_CW_MAX_BATCH)
		return -EINVAL;
	const konce_env *env = cfg->ep.env ? cfg->ep.env : konce_env_default();
	konce_nodecore *c = konce_env_alloc(env, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->cfg.ep.env = env;
	c->env = env;
	c->now = now;
	c->overflow_tail = &c->overflow;
	memcpy(c->pk, konce_identity_public(cfg->ep.identity), KONCE_KEY_BYTES);
	konce_env_random(env, c->hash_key, sizeof(c->hash_key));
	konce_env_random(env, (uint8_t *)&c->next_nonce, sizeof(c->next_nonce));
	c->next_nonce = (c->next_nonce >> 1) | 1;
	konce_ep_config epc = c->cfg.ep;
	epc.path_mtu = path_mtu;
	epc.path_mtu_ctx = c;
	int e = -ENOMEM;
	if (!(c->heap = nc_alloc(c, (size_t)KONCE_NC_PENDING_MAX * sizeof(*c->heap))) || ncknown_new(c) ||
	    konce_inq_new(&c->inq, cfg->inq_slots ? cfg->inq_slots : KONCE_NC_INQ_SLOTS, KONCE_PMTU_MAX) ||
	    (e = konce_ep_new(&c->ep, &epc, now))) {
		konce_nodecore_free(c);
		return e;
	}
	*out = c;
	return 0;
}

void konce_nodecore_free(konce_nodecore *c)
{
	if (!c)
		return;
	ncgroup_free_all(c);
	ncpending_free_all(c);
	while (c->evq_len) {
		struct ncqev *e = &c->evq[c->evq_head];
		c->evq_head = (c->evq_head + 1) % c->evq_cap;
		c->evq_len--;
		ncpending_release(c, e->p);
	}
	while (c->overflow) {
		struct ncpending *p = c->overflow;
		c->overflow = p->next;
		ncpending_release(c, p);
	}
	ncpending_release(c, c->returned);
	for (unsigned b = 0; b < KONCE_NC_BUCKETS; b++)
		while (c->by_pk[b]) {
			konce_ncpeer *p = c->by_pk[b];
			c->by_pk[b] = p->pk_next;
			nc_free(c, p);
		}
	konce_ep_free(c->ep);
	konce_inq_free(c->inq);
	ncknown_free(c);
	ncpeerconf_free(c);
	nc_free(c, c->evq);
	nc_free(c, c->heap);
	konce_env_free(c->env, c);
}

konce_ep *konce_nodecore_ep(konce_nodecore *c) { return c->ep; }
const uint8_t *konce_nodecore_public_key(const konce_nodecore *c) { return c->pk; }
const konce_env *konce_nodecore_env(const konce_nodecore *c) { return c->env; }
void konce_nodecore_set_hooks(konce_nodecore *c, const konce_nodecore_hooks *h) { c->cfg.hooks = *h; }
uint64_t konce_nodecore_now(const konce_nodecore *c) { return c->now; }
void konce_nodecore_count_dropped(konce_nodecore *c) { c->msgs_dropped++; }

void konce_nodecore_stats_get(const konce_nodecore *c, konce_nodecore_stats *o)
{
	memset(o, 0, sizeof(*o));
	o->msgs_rx = c->msgs_rx;
	o->msgs_tx = c->msgs_tx;
	o->msgs_dropped = c->msgs_dropped;
	o->input_shed = konce_inq_shed(c->inq);
	o->input_units = c->input_units;
	o->notes_dropped = c->notes_dropped;
	o->peers = c->npeers;
	o->pending = c->npending;
	o->known = konce_nodecore_known_count(c);
}

/* ---- the call set --------------------------------------------------------------------------- */

bool konce_nodecore_input(konce_nodecore *c, unsigned sock, const uint8_t *pkt, size_t len,
			  const konce_addr *from, uint64_t now)
{
	(void)sock; /* one socket today: its id is 0 */
	tick(c, now);
	return konce_inq_push(c->inq, konce_nodecore_priority(c, pkt, len, from, now), pkt, len, from);
}

unsigned konce_nodecore_priority(konce_nodecore *c, const uint8_t *pkt, size_t len, const konce_addr *from,
				 uint64_t now)
{
	bool trav = c->cfg.hooks.traversal && c->cfg.hooks.traversal(c->cfg.hooks.ctx);
	return konce_rx_priority(c->ep, trav, pkt, len, from, now);
}

/* Feeds the endpoint from the input queue, best first, up to one wake's budget of load units (at
 * least 1 per datagram); the rest waits for the next call, competing with new arrivals. */
static void serve_input(konce_nodecore *c, uint64_t now)
{
	const uint8_t *pkt;
	size_t len;
	const konce_addr *from;
	unsigned spent = 0, budget = c->cfg.wake_budget ? c->cfg.wake_budget : KONCE_NC_WAKE_BUDGET;
	while (spent < budget && konce_inq_peek(c->inq, &pkt, &len, &from, NULL)) {
		unsigned cost = 1;
		enum konce_rx_kind kind = konce_rx_classify(pkt, len);
		if (!c->cfg.hooks.on_datagram ||
		    !c->cfg.hooks.on_datagram(c->cfg.hooks.ctx, kind, pkt, len, from, now)) {
			konce_ep_rx rx = {0};
			if (kind == KONCE_RX_TAGGED_HELLO)
				nc_probe_seen(c, pkt, len, from);
			konce_ep_input(c->ep, pkt, len, from, now, &rx);
			cost = rx.cost;
			c->input_units += rx.cost;
		}
		spent += cost ? cost : 1;
		konce_inq_drop(c->inq);
	}
}

void konce_nodecore_timer(konce_nodecore *c, uint64_t now)
{
	tick(c, now);
	/* the endpoint's timers before new input: an ACCEPT held for the application's answer to the
	 * first message (endpoint.h) must wait for the events to be polled */
	if (konce_ep_next_timer(c->ep) <= now)
		konce_ep_timer(c->ep, now);
	ncpending_expire(c, now);
	serve_input(c, now);
	ncgroup_timer(c, now);
}

uint64_t konce_nodecore_next_timer(const konce_nodecore *c)
{
	if (konce_inq_len(c->inq))
		return 0;
	uint64_t a = konce_ep_next_timer(c->ep), b = ncpending_next_deadline(c), g = ncgroup_next_timer(c);
	a = a < b ? a : b;
	return a < g ? a : g;
}

bool konce_nodecore_poll(konce_nodecore *c, konce_nc_datagram *dg)
{
	while (konce_ep_poll_datagram(c->ep, dg->buf, &dg->len, &dg->to)) {
		if (c->cfg.hooks.outgoing && c->cfg.hooks.outgoing(c->cfg.hooks.ctx, dg->buf, dg->len, &dg->to))
			continue;
		dg->sock = 0;
		return true;
	}
	return false;
}

bool konce_nodecore_poll_ref(konce_nodecore *c, konce_nc_dgref *dg)
{
	while (konce_ep_poll_datagram_ref(c->ep, &dg->pkt, &dg->len, &dg->to)) {
		if (c->cfg.hooks.outgoing && c->cfg.hooks.outgoing(c->cfg.hooks.ctx, dg->pkt, dg->len, &dg->to))
			continue;
		dg->sock = 0;
		return true;
	}
	return false;
}

void konce_nodecore_sent(konce_nodecore *c) { konce_ep_release_datagrams(c->ep); }

static void hand_out(konce_nodecore *c, struct ncpending *p, konce_nc_event *ev)
{
	ev->type = KONCE_NC_EV_OUTCOME;
	ev->fn = p->fn;
	ev->ctx = p->ctx;
	ev->outcome = p->outcome;
	ev->reason = p->reason;
	ev->data = p->data;
	ev->len = p->len;
	c->npending--;
	c->returned = p;
}

bool konce_nodecore_poll_event(konce_nodecore *c, konce_nc_event *ev)
{
	ncpending_release(c, c->returned);
	c->returned = NULL;
	for (;;) {
		if (c->evq_len) {
			struct ncqev *e = &c->evq[c->evq_head];
			c->evq_head = (c->evq_head + 1) % c->evq_cap;
			c->evq_len--;
			memset(ev, 0, sizeof(*ev));
			if (e->p) {
				hand_out(c, e->p, ev);
				if (ev->fn == ncgroup_sent) { /* a group message's outcome stays inside */
					ncpending_release(c, c->returned);
					c->returned = NULL;
					continue;
				}
			} else {
				ev->type = KONCE_NC_EV_PEER;
				ev->peer_event = e->peer_event;
				memcpy(ev->pk, e->pk, KONCE_KEY_BYTES);
				ev->addr = e->addr;
			}
			return true;
		}
		if (c->overflow) {
			struct ncpending *p = c->overflow;
			if (!(c->overflow = p->next))
				c->overflow_tail = &c->overflow;
			memset(ev, 0, sizeof(*ev));
			hand_out(c, p, ev);
			if (ev->fn == ncgroup_sent) {
				ncpending_release(c, c->returned);
				c->returned = NULL;
				continue;
			}
			return true;
		}
		if (ncgroup_poll_event(c, ev))
			return true;
		konce_ep_event e;
		if (!konce_ep_poll_event(c->ep, &e))
			return false;
		if (nc_on_ep_event(c, &e, ev))
			return true;
	}
}

/* ---- endpoint events ------------------------------------------------------------------------ */

static int msg_fail_reason(unsigned r)
{
	switch (r) {
	case KONCE_MSG_FAIL_TOO_LARGE: return KONCE_REASON_TOO_LARGE;
	case KONCE_MSG_FAIL_REFUSED: return KONCE_REASON_REFUSED;
	case KONCE_MSG_FAIL_TIMEOUT: return KONCE_REASON_TIMED_OUT;
	case KONCE_MSG_FAIL_UNREACHABLE: return KONCE_REASON_UNREACHABLE;
	case KONCE_MSG_FAIL_PROTOCOL: return KONCE_REASON_PROTOCOL;
	case KONCE_MSG_FAIL_LOCAL_CLOSE: return KONCE_REASON_LOCAL_CLOSE;
	default: return KONCE_REASON_PEER_CLOSED;
	}
}

static int fail_reason(unsigned r)
{
	switch (r) {
	case KONCE_FAIL_TIMEOUT: return KONCE_REASON_UNREACHABLE;
	case KONCE_FAIL_VERSION: return KONCE_REASON_PROTOCOL;
	case KONCE_FAIL_POW_TOO_HIGH:
	case KONCE_FAIL_CRYPTO: return KONCE_REASON_REFUSED;
	case KONCE_FAIL_LOCAL_CLOSE: return KONCE_REASON_LOCAL_CLOSE;
	default: return KONCE_REASON_PEER_CLOSED;
	}
}

/* A whole message from peer: a reply, a built-in class, a hook's class, or an application event. */
static bool on_message(konce_nodecore *c, konce_ncpeer *peer, const konce_ep_event *ev, konce_nc_event *out)
{
	char text[LOG_TEXT_MAX + 4], who[KONCE_KEY_TEXT_LEN + 1];
	if (ev->len < KONCE_MSG_BODY) {
		c->msgs_dropped++;
		return false;
	}
	konce_message m = {
		.klass = wire_get16(ev->data + KONCE_MSG_CLASS),
		.is_request = (ev->data[KONCE_MSG_FLAGS] & KONCE_MSG_F_REQUEST) != 0,
		.data = ev->data + KONCE_MSG_BODY,
		.len = ev->len - KONCE_MSG_BODY,
		.nonce_ = wire_get64(ev->data + KONCE_MSG_NONCE),
		.conn_ = peer->conn,
	};
	memcpy(m.from, peer->pk, KONCE_KEY_BYTES);
	peer->msgs_rx++;
	c->msgs_rx++;
	peer->last_rx_us = c->now;

	if (ev->data[KONCE_MSG_FLAGS] & KONCE_MSG_F_REPLY) {
		/* a reply counts only from the peer the request went to */
		struct ncpending *p = ncpending_reply_find(c, m.nonce_, m.klass, peer->pk);
		if (!p) {
			c->msgs_dropped++; /* late, unknown or forged nonce */
			return false;
		}
		peer->rtt_us = (uint32_t)(c->now - p->sent_us);
		ncpending_finish(c, p, KONCE_OUTCOME_REPLIED, KONCE_REASON_NONE, m.data, m.len);
		return false;
	}
	if (m.klass == KONCE_CLASS_RENDEZVOUS) {
		if (c->cfg.hooks.on_message)
			c->cfg.hooks.on_message(c->cfg.hooks.ctx, peer, m.data, m.len);
		else
			c->msgs_dropped++;
		return false;
	}
	if (m.klass == KONCE_CLASS_GROUP) {
		ncgroup_on_message(c, peer->pk, m.data, m.len);
		return false;
	}
	if (m.klass == KONCE_CLASS_ECHO) {
		/* bounded: a large body, or a peer that does not take what we already queued for it
		 * (no acks, no credit), gets no answer -- the reply would only pile up in our memory */
		if (!m.is_request)
			return false;
		if (m.len > KONCE_ECHO_MAX || konce_ep_msg_queued(c->ep, peer->conn) >= KONCE_ECHO_QUEUE_MAX ||
		    konce_nodecore_reply(c, &m, m.data, m.len, c->now))
			c->msgs_dropped++;
		return false;
	}
	if (m.klass == KONCE_CLASS_TEXT) {
		size_t l = 0;
		for (size_t i = 0; i < m.len && l < LOG_TEXT_MAX; i++) /* no control characters into the log */
			text[l++] = (m.data[i] >= 0x20 && m.data[i] != 0x7f) || m.data[i] >= 0x80 ? (char)m.data[i] : '?';
		text[l] = '\0';
		konce_key_to_text(who, peer->pk);
		if (m.len > LOG_TEXT_MAX)
			nc_log(c, KONCE_LOG_INFO, "message from %s: %s... (%zu bytes)", who, text, m.len);
		else
			nc_log(c, KONCE_LOG_INFO, "message from %s: %s", who, text);
		if (m.is_request)
			konce_nodecore_reply(c, &m, NULL, 0, c->now);
		return false;
	}
	for (int i = 0; i < KONCE_NC_HANDLERS; i++)
		if (c->handlers[i].fn && c->handlers[i].klass == m.klass) {
			memset(out, 0, sizeof(*out));
			out->type = KONCE_NC_EV_MESSAGE;
			out->handler = c->handlers[i].fn;
			out->handler_ctx = c->handlers[i].ctx;
			out->msg = m;
			return true;
		}
	c->msgs_dropped++; /* no handler: nobody asked for this class */
	return false;
}

static void on_msg_outcome(konce_nodecore *c, const konce_ep_event *ev)
{
	struct ncpending *p = ncpending_msg_find(c, ev->msg_id);
	if (!p)
		return; /* a reply we sent, or a message already finished by its deadline */
	if (ev->type == KONCE_EV_MSG_FAILED)
		ncpending_finish(c, p, KONCE_OUTCOME_FAILED, msg_fail_reason(ev->reason), NULL, 0);
	else if (p->request)
		ncpending_msg_unlink(c, p); /* delivered; the outcome is the reply, or the lifetime running out */
	else
		ncpending_finish(c, p, KONCE_OUTCOME_DELIVERED, KONCE_REASON_NONE, NULL, 0);
}

static void on_established(konce_nodecore *c, konce_ncpeer *peer, const konce_ep_event *ev)
{
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];
	bool dialled = peer != NULL; /* ours, even when a simultaneous open made it incoming */
	if (!peer) {
		/* incoming: the peer proved its key; an older session to the same key is replaced */
		konce_ncpeer *old = konce_nodecore_peer_find(c, ev->peer_pk);
		if (old && old->conn != ev->conn) {
			konce_ep_close(c->ep, old->conn, c->now);
			konce_nodecore_peer_free(c, old, KONCE_REASON_PEER_CLOSED);
		}
		if (!(peer = konce_nodecore_peer_add(c, ev->peer_pk))) {
			konce_ep_close(c->ep, ev->conn, c->now);
			return;
		}
		konce_nodecore_peer_set_conn(c, peer, ev->conn);
		peer->since_us = c->now;
	}
	konce_addr dialled_at = peer->addr; /* where we dialled: a path handle for a key reached by rendezvous */
	peer->up = 1;
	peer->addr = ev->addr;
	memcpy(peer->local_pk, ev->local_pk, KONCE_KEY_BYTES);
	peer->identity = memcmp(ev->local_pk, c->pk, KONCE_KEY_BYTES) ? KONCE_NC_ID_PER_SERVER : KONCE_NC_ID_MASTER;
	konce_key_to_text(who, ev->peer_pk);
	nc_log(c, KONCE_LOG_INFO, "session %s %s at %s", ev->incoming ? "from" : "to", who,
	       konce_addr_str(&ev->addr, as));
	/* a session reached by key counts as a handshake too (introductions = known must still know
	 * it after a restart); neither its path handle nor the NAT mapping under it is noted
	 * (nc_note_addr).  A stranger that dialled us is not recorded: only a key known already is
	 * updated (docs/STORE.md, "Who is recorded") */
	unsigned f = dialled ? 0 : KONCE_NC_NOTE_IF_KNOWN;
	nc_note(c, KONCE_NC_NOTE_SEEN, ev->peer_pk,
		nc_note_addr(c, ev->peer_pk, &ev->addr, dialled ? &dialled_at : NULL), true, f);
	nc_note(c, KONCE_NC_NOTE_HANDSHAKE, ev->peer_pk, NULL, true, f);
	peer->trusted = dialled;
	nc_queue_peer(c, KONCE_PEER_UP, peer->pk, &ev->addr);
	ncpending_peer_up(c, peer, ev, c->now);
}

bool nc_on_ep_event(konce_nodecore *c, const konce_ep_event *ev, konce_nc_event *out)
{
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];
	konce_ncpeer *peer = konce_nodecore_peer_by_conn(c, ev->conn);

	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
		on_established(c, peer, ev);
		break;
	case KONCE_EV_MESSAGE:
		if (peer)
			return on_message(c, peer, ev, out);
		break;
	case KONCE_EV_PATH_CHANGED:
		if (peer) {
			peer->addr = ev->addr;
			nc_log(c, KONCE_LOG_INFO, "peer moved to %s%s", konce_addr_str(&ev->addr, as),
			       ev->validated ? "" : " (not yet confirmed)");
			nc_queue_peer(c, KONCE_PEER_PATH, peer->pk, &ev->addr);
			/* Only a confirmed move is remembered: an unconfirmed one may be an attacker's copy
			 * of the peer's packets, and the endpoint undoes it if the old path answers. */
			if (ev->validated)
				nc_note(c, KONCE_NC_NOTE_SEEN, peer->pk, nc_note_addr(c, peer->pk, &ev->addr, NULL),
					true, KONCE_NC_NOTE_IF_KNOWN);
		}
		break;
	case KONCE_EV_MSG_DELIVERED:
	case KONCE_EV_MSG_FAILED:
		on_msg_outcome(c, ev);
		break;
	case KONCE_EV_FAILED:
	case KONCE_EV_CLOSED:
		if (!peer)
			break;
		if (ev->type == KONCE_EV_FAILED)
			nc_note(c, KONCE_NC_NOTE_HANDSHAKE, peer->pk, NULL, false, 0);
		konce_key_to_text(who, peer->pk);
		nc_log(c, KONCE_LOG_INFO, "session with %s %s (reason %#x)", who,
		       ev->type == KONCE_EV_FAILED ? "failed" : "closed", ev->reason);
		if (peer->up)
			nc_queue_peer(c, KONCE_PEER_DOWN, peer->pk, &peer->addr);
		konce_nodecore_peer_free(c, peer,
					 ev->type == KONCE_EV_FAILED ? fail_reason(ev->reason) : KONCE_REASON_PEER_CLOSED);
		break;
	}
	return false;
}
