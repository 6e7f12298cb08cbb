/* node_msg.c - messages over the endpoint: send by public key, requests and replies, handlers.
 *
 * Until the reliability layer lands (issue 3) a message is one MESSAGE frame in one packet.  What
 * can honestly be known about it:
 *   - a request's outcome is REPLIED, or FAILED when the reply lifetime runs out;
 *   - a plain message carried inside the INITIATE is DELIVERED once the ACCEPT arrives, because the
 *     server opens that message before it allocates the session and answers;
 *   - any other plain message is UNKNOWN once handed to the socket: nothing acknowledges it yet.
 * A pending message waits on its peer's queue while the handshake runs, then is handed over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/keytext.h"
#include "node/node_int.h"
#include "node/node_trav.h"

enum { CONNECT_TIMEOUT_MS = 6000, REPLY_LIFETIME_MS = 10000 };

static unsigned nonce_bucket(uint64_t nonce) { return (unsigned)((nonce * 0x9e3779b97f4a7c15ull) >> 54) % NODE_BUCKETS; }

static void nonce_unlink(struct konce_node *n, struct pending *p)
{
	for (struct pending **pp = &n->by_nonce[nonce_bucket(p->nonce)]; *pp; pp = &(*pp)->nonce_next)
		if (*pp == p) {
			*pp = p->nonce_next;
			return;
		}
}

static void waitq_unlink(struct peer *peer, struct pending *p)
{
	for (struct pending **pp = &peer->waitq; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			if (peer->waitq_tail == &p->next)
				peer->waitq_tail = pp;
			peer->nwait--;
			return;
		}
}

enum where { NOWHERE, IN_WAITQ, IN_NONCES, IN_INITIATE };

static void deliver_done(struct konce_node *n);

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver_done(arg);
}

/* Takes p off every list and queues its outcome for the event loop. */
static void finish(struct pending *p, int where, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct konce_node *n = p->node;
	if (where == IN_WAITQ && p->peer)
		waitq_unlink(p->peer, p);
	else if (where == IN_NONCES)
		nonce_unlink(n, p);
	else if (where == IN_INITIATE && p->peer && p->peer->initiate_msg == p)
		p->peer->initiate_msg = NULL;
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
	p->where_ = NOWHERE;
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
	int reason = p->peer && p->peer->up ? KONCE_REASON_TIMED_OUT : KONCE_REASON_UNREACHABLE;
	finish(p, p->where_, KONCE_OUTCOME_FAILED, reason, NULL, 0);
}

static void arm(struct pending *p, uint32_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_add(p->timer, &tv);
}

static size_t frame(uint8_t *out, uint16_t klass, uint8_t flags, uint64_t nonce, const uint8_t *data, size_t len)
{
	wire_put16(out + KONCE_MSG_CLASS, klass);
	out[KONCE_MSG_FLAGS] = flags;
	wire_put64(out + KONCE_MSG_NONCE, nonce);
	if (len)
		memcpy(out + KONCE_MSG_BODY, data, len);
	return KONCE_MSG_BODY + len;
}

/* Hands p to the endpoint on an established session.  0 or a negative errno (p untouched). */
static int hand_over(struct konce_node *n, struct pending *p)
{
	int e = konce_ep_send(n->ep, p->peer->conn, p->data, p->len, node_now_us());
	if (e)
		return e;
	p->peer->msgs_tx++;
	n->msgs_tx++;
	p->sent_us = node_now_us();
	if (p->request) {
		p->where_ = IN_NONCES;
		unsigned b = nonce_bucket(p->nonce);
		p->nonce_next = n->by_nonce[b];
		n->by_nonce[b] = p;
		arm(p, p->reply_lifetime_ms);
	} else {
		finish(p, NOWHERE, KONCE_OUTCOME_UNKNOWN, KONCE_REASON_NONE, NULL, 0);
	}
	return 0;
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

int konce_node_send(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const uint8_t *data,
		    size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx)
{
	konce_addr addr;
	struct peer *peer;
	int e;

	if (!n || !pk || !fn || (len && !data))
		return -EINVAL;
	if (len > KONCE_MESSAGE_MAX)
		return -EMSGSIZE;
	if (!memcmp(pk, n->pk, KONCE_KEY_BYTES))
		return -EINVAL; /* a node does not open sessions to itself */
	if (n->npending >= NODE_PENDING_MAX)
		return -ENOBUFS;
	peer = node_peer_find(n, pk);
	if (!peer && (e = resolve_addr(n, pk, o, &addr)))
		return e;
	if (peer && !peer->up && peer->nwait >= NODE_WAITQ_MAX)
		return -ENOBUFS;

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
	p->reply_lifetime_ms = o && o->reply_lifetime_ms ? o->reply_lifetime_ms : REPLY_LIFETIME_MS;
	uint32_t connect_ms = o && o->connect_timeout_ms ? o->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	p->len = frame(p->data, klass, p->request ? KONCE_MSG_F_REQUEST : 0, p->nonce, data, len);

	if (peer && peer->up) {
		p->peer = peer;
		if ((e = hand_over(n, p)) < 0) {
			event_free(p->timer);
			free(p->data);
			free(p);
			return e;
		}
		n->npending++;
		node_io_schedule(n);
		return 0;
	}
	if (!peer) {
		/* a new peer: the message rides in the INITIATE */
		uint32_t conn;
		if (!(peer = node_peer_add(n, pk)))
			e = -ENOMEM;
		else if ((e = konce_ep_connect(n->ep, pk, &addr, p->data, p->len, node_now_us(), &conn)) == 0) {
			node_peer_set_conn(n, peer, conn);
			peer->addr = addr;
			peer->since_us = node_now_us();
		}
		if (e) {
			if (peer)
				node_peer_free(n, peer, KONCE_REASON_NONE);
			event_free(p->timer);
			free(p->data);
			free(p);
			return e == -ENOSPC ? -ENOBUFS : e;
		}
		p->peer = peer;
		p->sent_us = node_now_us();
		peer->msgs_tx++;
		n->msgs_tx++;
		if (p->request) {
			p->where_ = IN_NONCES;
			unsigned b = nonce_bucket(p->nonce);
			p->nonce_next = n->by_nonce[b];
			n->by_nonce[b] = p;
			arm(p, connect_ms + p->reply_lifetime_ms);
		} else {
			p->where_ = IN_INITIATE;
			peer->initiate_msg = p;
			arm(p, connect_ms);
		}
		n->npending++;
		node_io_schedule(n);
		return 0;
	}
	/* handshake in progress: wait for it */
	p->peer = peer;
	p->where_ = IN_WAITQ;
	*peer->waitq_tail = p;
	peer->waitq_tail = &p->next;
	peer->nwait++;
	arm(p, connect_ms);
	n->npending++;
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
	uint8_t buf[KONCE_MSG_BODY + KONCE_MESSAGE_MAX];
	if (!n || !req || !req->is_request || (len && !data))
		return -EINVAL;
	if (len > KONCE_MESSAGE_MAX)
		return -EMSGSIZE;
	struct peer *peer = node_peer_by_conn(n, req->conn_);
	if (!peer || !peer->up)
		return -ENOTCONN;
	size_t l = frame(buf, req->klass, KONCE_MSG_F_REPLY, req->nonce_, data, len);
	int e = konce_ep_send(n->ep, peer->conn, buf, l, node_now_us());
	if (e == 0) {
		peer->msgs_tx++;
		n->msgs_tx++;
		node_io_schedule(n);
	}
	return e;
}

void node_msg_flush_waitq(struct konce_node *n, struct peer *peer)
{
	while (peer->waitq) {
		struct pending *p = peer->waitq;
		peer->waitq = p->next;
		if (!peer->waitq)
			peer->waitq_tail = &peer->waitq;
		peer->nwait--;
		p->next = NULL;
		p->where_ = NOWHERE;
		event_del(p->timer);
		int e = hand_over(n, p);
		if (e)
			finish(p, NOWHERE, KONCE_OUTCOME_FAILED, e == -EMSGSIZE ? KONCE_REASON_TOO_LARGE : KONCE_REASON_PEER_CLOSED,
			       NULL, 0);
	}
}

void node_msg_fail_peer(struct konce_node *n, struct peer *peer, int reason)
{
	if (!reason)
		reason = KONCE_REASON_PEER_CLOSED;
	while (peer->waitq)
		finish(peer->waitq, IN_WAITQ, KONCE_OUTCOME_FAILED, reason, NULL, 0);
	if (peer->initiate_msg)
		finish(peer->initiate_msg, IN_INITIATE, KONCE_OUTCOME_FAILED, reason, NULL, 0);
	for (unsigned b = 0; b < NODE_BUCKETS; b++)
		for (struct pending *p = n->by_nonce[b], *next; p; p = next) {
			next = p->nonce_next;
			if (p->peer == peer)
				finish(p, IN_NONCES, KONCE_OUTCOME_FAILED, reason, NULL, 0);
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

static void on_message(struct konce_node *n, struct peer *peer, const konce_ep_event *ev)
{
	char text[KONCE_MESSAGE_MAX + 1], who[KONCE_KEY_TEXT_LEN + 1];
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
		for (struct pending *p = n->by_nonce[nonce_bucket(m.nonce_)]; p; p = p->nonce_next)
			if (p->nonce == m.nonce_ && p->klass == m.klass && !memcmp(p->pk, peer->pk, KONCE_KEY_BYTES)) {
				peer->rtt_us = (uint32_t)(node_now_us() - p->sent_us);
				finish(p, IN_NONCES, KONCE_OUTCOME_REPLIED, KONCE_REASON_NONE, m.data, m.len);
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
		if (m.is_request)
			konce_node_reply(n, &m, m.data, m.len);
		return;
	}
	if (m.klass == KONCE_CLASS_TEXT) {
		size_t l = 0;
		for (size_t i = 0; i < m.len; i++) /* never let a peer write control characters to the log */
			text[l++] = (m.data[i] >= 0x20 && m.data[i] != 0x7f) || m.data[i] >= 0x80 ? (char)m.data[i] : '?';
		text[l] = '\0';
		konce_key_to_text(who, peer->pk);
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

void node_msg_on_event(struct konce_node *n, const konce_ep_event *ev)
{
	char who[KONCE_KEY_TEXT_LEN + 1], as[KONCE_ADDR_STRLEN];
	struct peer *peer = node_peer_by_conn(n, ev->conn);
	int64_t wall = (int64_t)time(NULL);

	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
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
		if (n->store && !node_trav_is_virtual(&ev->addr)) {
			konce_store_note_seen(n->store, ev->peer_pk, &ev->addr, KONCE_ADDR_SEEN, wall, 0);
			konce_store_note_handshake(n->store, ev->peer_pk, true, wall);
		}
		if (n->peer_fn)
			n->peer_fn(n->peer_ctx, KONCE_PEER_UP, peer->pk, konce_addr_str(&ev->addr, as));
		if (peer->initiate_msg) /* the server opened it before it answered */
			finish(peer->initiate_msg, IN_INITIATE, KONCE_OUTCOME_DELIVERED, KONCE_REASON_NONE, NULL, 0);
		node_msg_flush_waitq(n, peer);
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
				konce_store_note_seen(n->store, peer->pk, &ev->addr, KONCE_ADDR_SEEN, wall, 0);
		}
		break;
	case KONCE_EV_MSG_DELIVERED: /* konce_ep_msg_send() is not used by the node yet */
	case KONCE_EV_MSG_FAILED:
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
