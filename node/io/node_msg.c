/* node_msg.c - messages over the endpoint: send by public key, requests and replies, handlers.
 *
 * Every message is a reliable endpoint message (konce_ep_msg_send: fragmented, acknowledged,
 * retransmitted, congestion-controlled), prefixed with the node's message header (wire.h: class,
 * flags, nonce).  What the application is told:
 *   - a plain message: DELIVERED when the peer acknowledged every byte, else FAILED with a reason;
 *   - a request: REPLIED with the reply, else FAILED (the reply lifetime ran out, or the message could
 *     not be delivered);
 *   - a small first message to a new peer rides inside the INITIATE, so a request's reply can arrive
 *     at 2 RTT; it is DELIVERED when the ACCEPT arrives, because the server opens that message before
 *     it answers.  If a simultaneous open makes us the server instead, it becomes a reliable message
 *     in our ACCEPT (its id comes with ESTABLISHED) and is DELIVERED when the peer acks it.
 * A pending message is in the nonce table (a request awaiting its reply), the message table (handed to
 * the endpoint, outcome not yet known), both, or is its peer's INITIATE message.  finish() takes it off
 * whatever holds it and queues the outcome for the event loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/keytext.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"

enum { CONNECT_TIMEOUT_MS = 6000, REPLY_LIFETIME_MS = 10000, LOG_TEXT_MAX = 200 };

static unsigned bucket64(uint64_t v) { return (unsigned)((v * 0x9e3779b97f4a7c15ull) >> 54) % NODE_BUCKETS; }

static void unlink_from(struct pending **head, struct pending *p, size_t next_off)
{
	for (struct pending **pp = head; *pp; pp = (struct pending **)((char *)*pp + next_off))
		if (*pp == p) {
			*pp = *(struct pending **)((char *)p + next_off);
			return;
		}
}

static void nonce_add(struct konce_node *n, struct pending *p)
{
	unsigned b = bucket64(p->nonce);
	p->nonce_next = n->by_nonce[b];
	n->by_nonce[b] = p;
	p->in_nonces = 1;
}

static void msg_add(struct konce_node *n, struct pending *p)
{
	unsigned b = bucket64(p->msg_id);
	p->msg_next = n->by_msg[b];
	n->by_msg[b] = p;
	p->in_msgs = 1;
}

static struct pending *msg_find(struct konce_node *n, uint64_t msg_id)
{
	for (struct pending *p = n->by_msg[bucket64(msg_id)]; p; p = p->msg_next)
		if (p->msg_id == msg_id)
			return p;
	return NULL;
}

static void deliver_done(struct konce_node *n);

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver_done(arg);
}

/* Takes p off everything that holds it and queues its outcome for the event loop. */
static const konce_addr *store_addr(const konce_addr *addr);

/* A message of ours reached the peer (delivered, or it replied): a trust signal.  A peer that
 * only ever dialled us is recorded from now on (docs/STORE.md, "Who is recorded"). */
static void note_trusted(struct konce_node *n, const uint8_t pk[KONCE_KEY_BYTES])
{
	struct peer *peer = node_peer_find(n, pk);
	if (!n->store || !peer || peer->trusted)
		return;
	if (konce_store_note_trusted(n->store, pk, peer->up ? store_addr(&peer->addr) : NULL, (int64_t)time(NULL)) == 0)
		peer->trusted = 1;
}

static void finish(struct pending *p, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct konce_node *n = p->node;
	if (outcome == KONCE_OUTCOME_DELIVERED || outcome == KONCE_OUTCOME_REPLIED)
		note_trusted(n, p->pk);
	if (p->in_nonces)
		unlink_from(&n->by_nonce[bucket64(p->nonce)], p, offsetof(struct pending, nonce_next));
	if (p->in_msgs)
		unlink_from(&n->by_msg[bucket64(p->msg_id)], p, offsetof(struct pending, msg_next));
	if (p->peer && p->peer->initiate_msg == p)
		p->peer->initiate_msg = NULL;
	p->in_nonces = p->in_msgs = 0;
	if (p->timer)
		event_del(p->timer);
	free(p->data);
	p->data = NULL;
	p->len = 0;
	if (data && len && (p->data = malloc(len))) {
		memcpy(p->data, data, len);
		p->len = len;
	}
	p->outcome = outcome;
	p->reason = reason;
	p->peer = NULL;
	p->next = NULL;
	*n->done_tail = p;
	n->done_tail = &p->next;
	if (!n->ev_done)
		n->ev_done = event_new(n->base, -1, 0, on_done, n);
	if (n->ev_done)
		event_active(n->ev_done, EV_TIMEOUT, 0);
}

static void deliver_done(struct konce_node *n)
{
	while (n->done_head) {
		struct pending *p = n->done_head;
		n->done_head = p->next;
		if (!n->done_head)
			n->done_tail = &n->done_head;
		n->npending--;
		p->fn(p->ctx, p->outcome, p->reason, p->data, p->len);
		if (p->timer)
			event_free(p->timer);
		free(p->data);
		free(p);
	}
}

static void on_pending_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	(void)fd;
	(void)what;
	finish(p, KONCE_OUTCOME_FAILED, p->peer && p->peer->up ? KONCE_REASON_TIMED_OUT : KONCE_REASON_UNREACHABLE,
	       NULL, 0);
}

static void arm(struct pending *p, uint32_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(p->timer, &tv);
}

static void header(uint8_t *out, uint16_t klass, uint8_t flags, uint64_t nonce)
{
	wire_put16(out + KONCE_MSG_CLASS, klass);
	out[KONCE_MSG_FLAGS] = flags;
	wire_put64(out + KONCE_MSG_NONCE, nonce);
}

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

static int resolve_addr(struct konce_node *n, const uint8_t pk[32], const konce_send_opts *o, konce_addr *a)
{
	if (o && o->addr_hint)
		return konce_addr_parse(a, o->addr_hint) < 0 ? -EINVAL : 0;
	konce_store_addr sa;
	if (n->store && konce_store_addrs(n->store, pk, &sa, 1) == 1) {
		*a = sa.addr;
		return 0;
	}
	return node_trav_resolve(n, pk, a); /* -EHOSTUNREACH without rendezvous */
}

static void free_unsent(struct pending *p)
{
	if (p->timer)
		event_free(p->timer);
	free(p->data);
	free(p);
}

int konce_node_send_ex(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const uint8_t *data,
		       size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t *handle)
{
	konce_addr addr;
	struct peer *peer;
	int e;

	if (!n || !pk || !fn || (len && !data))
		return -EINVAL;
	if (len > KONCE_MESSAGE_MAX)
		return -EMSGSIZE;
	if (o && (o->flags & ~(unsigned)(KONCE_SEND_DIRECT | KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT |
					 KONCE_SEND_STORE_FORWARD)))
		return -EINVAL;
	if (o && (o->flags & KONCE_SEND_STORE_FORWARD))
		return -ENOTSUP; /* reserved: no store-and-forward yet */
	if (o && o->flags && (!(o->flags & KONCE_SEND_DIRECT) || !(o->flags & KONCE_SEND_RETRANSMIT)))
		return -ENOTSUP; /* only direct, retransmitted delivery exists so far */
	if (!memcmp(pk, n->pk, KONCE_KEY_BYTES))
		return -EINVAL; /* a node does not open sessions to itself */
	if (n->npending >= NODE_PENDING_MAX)
		return -ENOBUFS;
	peer = node_peer_find(n, pk);
	if (!peer && (e = resolve_addr(n, pk, o, &addr)))
		return e;

	struct pending *p = calloc(1, sizeof(*p));
	if (!p || !(p->data = malloc(KONCE_MSG_BODY + len)) || !(p->timer = evtimer_new(n->base, on_pending_timer, p))) {
		if (p)
			free(p->data);
		free(p);
		return -ENOMEM;
	}
	p->node = n;
	memcpy(p->pk, pk, KONCE_KEY_BYTES);
	p->klass = klass;
	p->fn = fn;
	p->ctx = ctx;
	p->request = o && o->expect_reply;
	p->nonce = p->request ? n->next_nonce++ : 0;
	uint32_t lifetime = o && o->reply_lifetime_ms ? o->reply_lifetime_ms : REPLY_LIFETIME_MS;
	p->reply_lifetime_ms = lifetime;
	uint32_t connect_ms = o && o->connect_timeout_ms ? o->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	unsigned cc = o && o->background ? KONCE_MSG_CLASS_BACKGROUND : KONCE_MSG_CLASS_DEFAULT;
	header(p->data, klass, p->request ? KONCE_MSG_F_REQUEST : 0, p->nonce);
	if (len)
		memcpy(p->data + KONCE_MSG_BODY, data, len);
	p->len = KONCE_MSG_BODY + len;
	uint64_t now = node_now_us();

	int fresh = !peer;
	if (fresh) {
		uint32_t conn;
		/* a small first message rides in the INITIATE: its reply can come back in the ACCEPT */
		int in_init = p->len <= KONCE_EP_MAX_FIRST_MESSAGE;
		if (!(peer = node_peer_add(n, pk))) {
			free_unsent(p);
			return -ENOMEM;
		}
		e = konce_ep_connect(n->ep, pk, &addr, in_init ? p->data : NULL, in_init ? p->len : 0, now, &conn);
		if (e) {
			node_peer_free(n, peer, KONCE_REASON_NONE);
			free_unsent(p);
			return e == -ENOSPC ? -ENOBUFS : e;
		}
		node_peer_set_conn(n, peer, conn);
		peer->addr = addr;
		peer->since_us = now;
		if (in_init) {
			p->peer = peer;
			p->sent_us = now;
			peer->initiate_msg = p;
			if (p->request)
				nonce_add(n, p);
			arm(p, connect_ms); /* then the reply lifetime, from ESTABLISHED */
			goto sent;
		}
	}
	/* the endpoint queues it even while the handshake runs */
	e = konce_ep_msg_send(n->ep, peer->conn, p->data, p->len, cc, 0, now, &p->msg_id);
	if (e) {
		if (fresh)
			node_peer_free(n, peer, KONCE_REASON_NONE);
		free_unsent(p);
		return e;
	}
	free(p->data); /* the endpoint copied it */
	p->data = NULL;
	p->peer = peer;
	p->sent_us = now;
	msg_add(n, p);
	if (p->request)
		nonce_add(n, p);
	/* Until the session is up, the connect deadline; then a request's reply lifetime (re-armed at
	 * ESTABLISHED), while a plain message's delivery is left to the endpoint's message timeout. */
	if (!peer->up)
		arm(p, connect_ms);
	else if (p->request)
		arm(p, lifetime);
sent:
	if (o && o->keep_session)
		konce_ep_set_wanted(n->ep, peer->conn, true, now);
	peer->msgs_tx++;
	n->msgs_tx++;
	n->npending++;
	if (handle)
		*handle = p->msg_id ? p->msg_id : ((uint64_t)peer->conn << 32);
	node_io_schedule(n);
	return 0;
}

int konce_node_send(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const uint8_t *data,
		    size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx)
{
	return konce_node_send_ex(n, pk, klass, data, len, o, fn, ctx, NULL);
}

int64_t konce_node_outcome_eta(konce_node *n, uint64_t handle)
{
	if (!n || !handle)
		return -EINVAL;
	uint64_t now = node_now_us();
	struct pending *p = msg_find(n, handle);
	if (!p)
		return -ENOENT;
	uint64_t at = konce_ep_msg_eta(n->ep, handle, now);
	if (at == UINT64_MAX)
		return -ENOENT;
	return at > now ? (int64_t)((at - now + 999) / 1000) : 0;
}

int konce_node_outcome_progress(konce_node *n, uint64_t handle, konce_progress *out)
{
	uint64_t acked, total;
	if (!n || !handle || !out)
		return -EINVAL;
	if (!msg_find(n, handle) || konce_ep_msg_progress(n->ep, handle, &acked, &total))
		return -ENOENT;
	/* the endpoint counts the framed message: the header rides in the first fragment */
	out->total_bytes = total > KONCE_MSG_BODY ? total - KONCE_MSG_BODY : 0;
	out->acked_bytes = acked > KONCE_MSG_BODY ? acked - KONCE_MSG_BODY : 0;
	if (out->acked_bytes > out->total_bytes)
		out->acked_bytes = out->total_bytes;
	int64_t eta = konce_node_outcome_eta(n, handle);
	out->eta_ms = eta >= 0 ? eta : -1;
	return 0;
}

int konce_node_handle(konce_node *n, uint16_t klass, konce_handler_fn fn, void *ctx)
{
	if (!n || klass < KONCE_CLASS_APP_MIN)
		return -EINVAL;
	struct handler *free_slot = NULL;
	for (int i = 0; i < NODE_HANDLERS; i++) {
		struct handler *h = &n->handlers[i];
		if (h->fn && h->klass == klass) {
			h->fn = fn;
			h->ctx = ctx;
			return 0;
		}
		if (!h->fn && !free_slot)
			free_slot = h;
	}
	if (!fn)
		return 0;
	if (!free_slot)
		return -ENOSPC;
	*free_slot = (struct handler){klass, fn, ctx};
	return 0;
}

int konce_node_reply(konce_node *n, const konce_message *req, const uint8_t *data, size_t len)
{
	if (!n || !req || !req->is_request || (len && !data))
		return -EINVAL;
	if (len > KONCE_MESSAGE_MAX)
		return -EMSGSIZE;
	struct peer *peer = node_peer_by_conn(n, req->conn_);
	if (!peer)
		return -ENOTCONN;
	uint8_t *buf = malloc(KONCE_MSG_BODY + len);
	if (!buf)
		return -ENOMEM;
	header(buf, req->klass, KONCE_MSG_F_REPLY, req->nonce_);
	if (len)
		memcpy(buf + KONCE_MSG_BODY, data, len);
	uint64_t id;
	int e = konce_ep_msg_send(n->ep, peer->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT, 0,
				  node_now_us(), &id);
	free(buf);
	if (e == 0) {
		peer->msgs_tx++;
		n->msgs_tx++;
		node_io_schedule(n);
	}
	return e == -ENOENT ? -ENOTCONN : e;
}

void node_msg_fail_peer(struct konce_node *n, struct peer *peer, int reason)
{
	if (!reason)
		reason = KONCE_REASON_PEER_CLOSED;
	if (peer->initiate_msg)
		finish(peer->initiate_msg, KONCE_OUTCOME_FAILED, reason, NULL, 0);
	for (unsigned b = 0; b < NODE_BUCKETS; b++) {
		for (struct pending *p = n->by_nonce[b], *next; p; p = next) {
			next = p->nonce_next;
			if (p->peer == peer)
				finish(p, KONCE_OUTCOME_FAILED, reason, NULL, 0);
		}
		for (struct pending *p = n->by_msg[b], *next; p; p = next) {
			next = p->msg_next;
			if (p->peer == peer)
				finish(p, KONCE_OUTCOME_FAILED, reason, NULL, 0);
		}
	}
}

void node_msg_fail_all(struct konce_node *n, int reason)
{
	for (unsigned b = 0; b < NODE_BUCKETS; b++)
		for (struct peer *p = n->by_pk[b]; p; p = p->pk_next)
			node_msg_fail_peer(n, p, reason);
	deliver_done(n);
	if (n->ev_done) {
		event_free(n->ev_done);
		n->ev_done = NULL;
	}
}

static void on_message(struct konce_node *n, struct peer *peer, const konce_ep_event *ev)
{
	char text[LOG_TEXT_MAX + 4], who[KONCE_KEY_TEXT_LEN + 1];
	if (ev->len < KONCE_MSG_BODY) {
		n->msgs_dropped++;
		return;
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
	n->msgs_rx++;
	peer->last_rx_us = node_now_us();

	if (ev->data[KONCE_MSG_FLAGS] & KONCE_MSG_F_REPLY) {
		/* a reply counts only from the peer the request went to */
		for (struct pending *p = n->by_nonce[bucket64(m.nonce_)]; p; p = p->nonce_next)
			if (p->nonce == m.nonce_ && p->klass == m.klass && !memcmp(p->pk, peer->pk, KONCE_KEY_BYTES)) {
				peer->rtt_us = (uint32_t)(node_now_us() - p->sent_us);
				finish(p, KONCE_OUTCOME_REPLIED, KONCE_REASON_NONE, m.data, m.len);
				return;
			}
		n->msgs_dropped++; /* late, unknown or forged nonce */
		return;
	}
	if (m.klass == KONCE_CLASS_RENDEZVOUS) {
		node_trav_on_message(n, peer, m.data, m.len);
		return;
	}
	if (m.klass == KONCE_CLASS_ECHO) {
		/* bounded: a large body, or a peer that does not take what we already queued for it
		 * (no acks, no credit), gets no answer -- the reply would only pile up in our memory */
		if (!m.is_request)
			return;
		if (m.len > KONCE_ECHO_MAX || konce_ep_msg_queued(n->ep, peer->conn) >= KONCE_ECHO_QUEUE_MAX ||
		    konce_node_reply(n, &m, m.data, m.len))
			n->msgs_dropped++;
		return;
	}
	if (m.klass == KONCE_CLASS_TEXT) {
		size_t l = 0;
		for (size_t i = 0; i < m.len && l < LOG_TEXT_MAX; i++) /* no control characters into the log */
			text[l++] = (m.data[i] >= 0x20 && m.data[i] != 0x7f) || m.data[i] >= 0x80 ? (char)m.data[i] : '?';
		text[l] = '\0';
		konce_key_to_text(who, peer->pk);
		if (m.len > LOG_TEXT_MAX)
			node_log(n, KONCE_LOG_INFO, "message from %s: %s... (%zu bytes)", who, text, m.len);
		else
			node_log(n, KONCE_LOG_INFO, "message from %s: %s", who, text);
		if (m.is_request)
			konce_node_reply(n, &m, NULL, 0);
		return;
	}
	for (int i = 0; i < NODE_HANDLERS; i++)
		if (n->handlers[i].fn && n->handlers[i].klass == m.klass) {
			n->handlers[i].fn(n->handlers[i].ctx, n, &m);
			return;
		}
	n->msgs_dropped++; /* no handler: nobody asked for this class */
}

static void on_msg_outcome(struct konce_node *n, const konce_ep_event *ev)
{
	struct pending *p = msg_find(n, ev->msg_id);
	if (!p)
		return; /* a reply we sent, or a message already finished by its timer */
	if (ev->type == KONCE_EV_MSG_FAILED) {
		finish(p, KONCE_OUTCOME_FAILED, msg_fail_reason(ev->reason), NULL, 0);
	} else if (p->request) {
		/* delivered; the outcome is the reply, or the reply lifetime running out */
		unlink_from(&n->by_msg[bucket64(p->msg_id)], p, offsetof(struct pending, msg_next));
		p->in_msgs = 0;
	} else {
		finish(p, KONCE_OUTCOME_DELIVERED, KONCE_REASON_NONE, NULL, 0);
	}
}

/* The address to record in the store for a session at addr: addr itself, or none for a session
 * reached by key (a virtual address, node_trav.c).  Not the punched path behind it either: that is a
 * NAT mapping that lives only while the punch keeps it open, and resolve_addr() would later send to
 * a stored address directly instead of asking a rendezvous, which fails behind a filtering NAT. */
static const konce_addr *store_addr(const konce_addr *addr) { return node_trav_is_virtual(addr) ? NULL : addr; }

void node_msg_on_event(struct konce_node *n, const konce_ep_event *ev)
{
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];
	struct peer *peer = node_peer_by_conn(n, ev->conn);
	int64_t wall = (int64_t)time(NULL);
	bool dialled;

	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
		dialled = peer != NULL; /* ours, even when a simultaneous open made it incoming */
		if (!peer) {
			/* incoming: the peer proved its key; an older session to the same key is replaced */
			struct peer *old = node_peer_find(n, ev->peer_pk);
			if (old && old->conn != ev->conn) {
				konce_ep_close(n->ep, old->conn, node_now_us());
				node_peer_free(n, old, KONCE_REASON_PEER_CLOSED);
			}
			if (!(peer = node_peer_add(n, ev->peer_pk))) {
				konce_ep_close(n->ep, ev->conn, node_now_us());
				return;
			}
			node_peer_set_conn(n, peer, ev->conn);
			peer->since_us = node_now_us();
		}
		peer->up = 1;
		peer->addr = ev->addr;
		konce_key_to_text(who, ev->peer_pk);
		node_log(n, KONCE_LOG_INFO, "session %s %s at %s", ev->incoming ? "from" : "to", who,
			 konce_addr_str(&ev->addr, as));
		if (n->store) {
			/* a session reached by key counts as a handshake too (introductions = known must
			 * still know it after a restart); its virtual address is never recorded.  A
			 * stranger that dialled us is not recorded: only a key the store knows already
			 * is updated (docs/STORE.md, "Who is recorded") */
			unsigned f = dialled ? 0 : KONCE_NOTE_IF_KNOWN;
			konce_store_note_seen_ex(n->store, ev->peer_pk, store_addr(&ev->addr),
						 KONCE_ADDR_SEEN, wall, 0, f);
			konce_store_note_handshake_ex(n->store, ev->peer_pk, true, wall, f);
			peer->trusted = dialled;
		}
		if (n->peer_fn)
			n->peer_fn(n->peer_ctx, KONCE_PEER_UP, peer->pk, konce_addr_str(&ev->addr, as));
		/* connected: the connect deadline is met; requests now wait at most their reply lifetime */
		for (unsigned b = 0; b < NODE_BUCKETS; b++) {
			for (struct pending *p = n->by_msg[b]; p; p = p->msg_next)
				if (p->peer == peer && !p->request)
					event_del(p->timer);
			for (struct pending *p = n->by_nonce[b]; p; p = p->nonce_next)
				if (p->peer == peer)
					arm(p, p->reply_lifetime_ms);
		}
		if (peer->initiate_msg) {
			struct pending *p = peer->initiate_msg;
			peer->initiate_msg = NULL;
			if (ev->incoming && ev->msg_id) {
				/* simultaneous open, and we are its server: the message now rides in our
				 * ACCEPT as a reliable one, delivered when the peer acks it */
				free(p->data);
				p->data = NULL;
				p->msg_id = ev->msg_id;
				msg_add(n, p);
				if (!p->request)
					event_del(p->timer);
			} else if (ev->incoming) {
				finish(p, KONCE_OUTCOME_FAILED, KONCE_REASON_NONE, NULL, 0); /* never sent */
			} else if (!p->request) {
				/* the server opened it before it answered: delivered (a request now waits
				 * for its reply) */
				finish(p, KONCE_OUTCOME_DELIVERED, KONCE_REASON_NONE, NULL, 0);
			}
		}
		break;
	case KONCE_EV_MESSAGE:
		if (peer)
			on_message(n, peer, ev);
		break;
	case KONCE_EV_PATH_CHANGED:
		if (peer) {
			peer->addr = ev->addr;
			node_log(n, KONCE_LOG_INFO, "peer moved to %s", konce_addr_str(&ev->addr, as));
			if (n->peer_fn)
				n->peer_fn(n->peer_ctx, KONCE_PEER_PATH, peer->pk, as);
			if (n->store)
				konce_store_note_seen_ex(n->store, peer->pk, store_addr(&ev->addr),
							 KONCE_ADDR_SEEN, wall, 0, KONCE_NOTE_IF_KNOWN);
		}
		break;
	case KONCE_EV_MSG_DELIVERED:
	case KONCE_EV_MSG_FAILED:
		on_msg_outcome(n, ev);
		break;
	case KONCE_EV_FAILED:
	case KONCE_EV_CLOSED:
		if (!peer)
			break;
		if (ev->type == KONCE_EV_FAILED && n->store)
			konce_store_note_handshake(n->store, peer->pk, false, wall);
		konce_key_to_text(who, peer->pk);
		node_log(n, KONCE_LOG_INFO, "session with %s %s (reason %#x)", who,
			 ev->type == KONCE_EV_FAILED ? "failed" : "closed", ev->reason);
		if (peer->up && n->peer_fn)
			n->peer_fn(n->peer_ctx, KONCE_PEER_DOWN, peer->pk, konce_addr_str(&peer->addr, as));
		node_peer_free(n, peer, ev->type == KONCE_EV_FAILED ? fail_reason(ev->reason) : KONCE_REASON_PEER_CLOSED);
		break;
	}
}
