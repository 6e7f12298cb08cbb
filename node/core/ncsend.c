/* ncsend.c - the node core's commands: send by public key, reply, handler registration, and the
 * progress of a message in flight.
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
 * The pending outcome's state machine is drawn in nodecore.h.
 */
#include <errno.h>
#include <string.h>

#include "node/core/nc_int.h"

static void tick(konce_nodecore *c, uint64_t now)
{
	if (now > c->now)
		c->now = now;
}

/* The routes a send may take to a key with no session (konce.h, enum konce_send_flags); flags 0 is
 * every route. */
static unsigned routes(const konce_send_opts *o)
{
	unsigned f = o && o->flags ? o->flags : KONCE_SEND_DIRECT | KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT;
	return f & (KONCE_SEND_DIRECT | KONCE_SEND_RENDEZVOUS);
}

/* Where a key with no session is: the hint or the known-keys cache (KONCE_SEND_DIRECT), else an
 * introduction by the rendezvous, through the traversal hook (KONCE_SEND_RENDEZVOUS). */
static int resolve_addr(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_send_opts *o,
			konce_addr *a)
{
	unsigned r = routes(o);
	if (o && o->addr_hint) {
		if (!(r & KONCE_SEND_DIRECT))
			return -EINVAL; /* an address to use, but no leave to use one */
		return konce_addr_parse(a, o->addr_hint) < 0 ? -EINVAL : 0;
	}
	if ((r & KONCE_SEND_DIRECT) && konce_nodecore_known_addr(c, pk, a) == 0)
		return 0;
	if ((r & KONCE_SEND_RENDEZVOUS) && c->cfg.hooks.resolve)
		return c->cfg.hooks.resolve(c->cfg.hooks.ctx, pk, a);
	return -EHOSTUNREACH;
}

static void free_unsent(konce_nodecore *c, struct ncpending *p)
{
	nc_free(c, p->data);
	nc_free(c, p);
}

/* A send that failed: the record goes, and its buffer too unless it is the caller's (own). */
static void unsent(konce_nodecore *c, struct ncpending *p, bool own)
{
	if (own)
		p->data = NULL;
	free_unsent(c, p);
}

/* konce_nodecore_send and konce_nodecore_send_framed: the body is data (copied), or own's bytes from
 * KONCE_MSG_BODY on (own is taken over on 0). */
static int send_msg(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const uint8_t *data,
		    uint8_t *own, size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t now,
		    uint64_t *handle)
{
	konce_addr addr;
	konce_ncpeer *peer;
	int e;

	if (!c || !pk || !fn || (len && !data && !own))
		return -EINVAL;
	if (len > KONCE_MESSAGE_MAX)
		return -EMSGSIZE;
	if (o && (o->flags & ~(unsigned)(KONCE_SEND_DIRECT | KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT |
					 KONCE_SEND_STORE_FORWARD)))
		return -EINVAL;
	if (o && (o->flags & KONCE_SEND_STORE_FORWARD))
		return -ENOTSUP; /* reserved: no store-and-forward yet */
	if (o && o->flags && !(o->flags & KONCE_SEND_RETRANSMIT))
		return -ENOTSUP; /* only retransmitted delivery exists so far */
	if (!routes(o))
		return -EINVAL; /* no route allowed */
	if (!memcmp(pk, c->pk, KONCE_KEY_BYTES))
		return -EINVAL; /* a node does not open sessions to itself */
	if (c->npending >= KONCE_NC_PENDING_MAX)
		return -ENOBUFS;
	tick(c, now);
	peer = konce_nodecore_peer_find(c, pk);
	if (!peer && (e = resolve_addr(c, pk, o, &addr)))
		return e;

	struct ncpending *p = nc_alloc(c, sizeof(*p));
	/* written in full below: the header, then the body */
	if (!p || !(p->data = own ? own : konce_env_alloc_raw(c->env, KONCE_MSG_BODY + len))) {
		nc_free(c, p);
		return -ENOMEM;
	}
	p->heap_ix = UINT32_MAX;
	memcpy(p->pk, pk, KONCE_KEY_BYTES);
	p->klass = klass;
	p->fn = fn;
	p->ctx = ctx;
	p->request = o && o->expect_reply;
	p->nonce = p->request ? c->next_nonce++ : 0;
	p->reply_lifetime_ms = o && o->reply_lifetime_ms ? o->reply_lifetime_ms : KONCE_NC_REPLY_LIFETIME_MS;
	uint32_t connect_ms = o && o->connect_timeout_ms ? o->connect_timeout_ms : KONCE_NC_CONNECT_TIMEOUT_MS;
	unsigned cc = o && o->background ? KONCE_MSG_CLASS_BACKGROUND : KONCE_MSG_CLASS_DEFAULT;
	konce_msg_head_put(p->data, klass, p->request ? KONCE_MSG_F_REQUEST : 0, p->nonce);
	if (len && !own)
		memcpy(p->data + KONCE_MSG_BODY, data, len);
	p->len = KONCE_MSG_BODY + len;

	int fresh = !peer;
	if (fresh) {
		uint32_t conn;
		/* a small first message rides in the INITIATE: its reply can come back in the ACCEPT */
		int in_init = p->len <= KONCE_EP_MAX_FIRST_MESSAGE;
		if (!(peer = konce_nodecore_peer_add(c, pk))) {
			unsent(c, p, own);
			return -ENOMEM;
		}
		int id = konce_nodecore_identity_for(c, pk, &addr);
		konce_ep_connect_opts co = {
			.as = id == KONCE_NC_ID_MASTER ? c->cfg.ep.identity : NULL,
			.per_server = id == KONCE_NC_ID_PER_SERVER,
			.group_key = ncpeerconf_group(c, pk),
		};
		e = konce_ep_connect_ex(c->ep, pk, &addr, in_init ? p->data : NULL, in_init ? p->len : 0, &co, now,
					&conn);
		if (e) {
			konce_nodecore_peer_free(c, peer, KONCE_REASON_NONE);
			unsent(c, p, own);
			return e == -ENOSPC ? -ENOBUFS : e;
		}
		konce_nodecore_peer_set_conn(c, peer, conn);
		peer->identity = id;
		peer->addr = addr;
		peer->since_us = now;
		if (in_init) {
			p->peer = peer;
			p->sent_us = now;
			peer->initiate_msg = p;
			if (p->request)
				ncpending_nonce_add(c, p);
			/* then the reply lifetime, from ESTABLISHED */
			ncpending_set_deadline(c, p, now + (uint64_t)connect_ms * 1000u);
			goto sent;
		}
	}
	/* the endpoint queues it even while the handshake runs */
	/* The endpoint takes the framed message over (same env): no copy of a large body.  The record
	 * keeps no bytes: a failed message is reported, never sent again by another route. */
	e = konce_ep_msg_send(c->ep, peer->conn, p->data, p->len, cc, KONCE_EP_MSG_TAKE, now, &p->msg_id);
	if (e) {
		if (fresh)
			konce_nodecore_peer_free(c, peer, KONCE_REASON_NONE);
		unsent(c, p, own);
		return e;
	}
	p->data = NULL; /* the endpoint's now */
	p->peer = peer;
	p->sent_us = now;
	ncpending_msg_add(c, p);
	if (p->request)
		ncpending_nonce_add(c, p);
	/* Until the session is up, the connect deadline; then a request's reply lifetime (restarted at
	 * ESTABLISHED), while a plain message's delivery is left to the endpoint's message timeout. */
	if (!peer->up)
		ncpending_set_deadline(c, p, now + (uint64_t)connect_ms * 1000u);
	else if (p->request)
		ncpending_set_deadline(c, p, now + (uint64_t)p->reply_lifetime_ms * 1000u);
sent:
	if (o && o->keep_session)
		konce_ep_set_wanted(c->ep, peer->conn, true, now);
	peer->msgs_tx++;
	c->msgs_tx++;
	c->npending++;
	if (handle)
		*handle = p->msg_id ? p->msg_id : ((uint64_t)peer->conn << 32);
	return 0;
}

int konce_nodecore_send(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass,
			const uint8_t *data, size_t len, const konce_send_opts *o, konce_outcome_fn fn,
			void *ctx, uint64_t now, uint64_t *handle)
{
	return send_msg(c, pk, klass, data, NULL, len, o, fn, ctx, now, handle);
}

int konce_nodecore_send_framed(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, uint8_t *msg,
			       size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t now,
			       uint64_t *handle)
{
	if (!msg)
		return -EINVAL;
	return send_msg(c, pk, klass, NULL, msg, len, o, fn, ctx, now, handle);
}

int konce_nodecore_reply(konce_nodecore *c, const konce_message *req, const uint8_t *data, size_t len,
			 uint64_t now)
{
	if (!c || !req || !req->is_request || (len && !data))
		return -EINVAL;
	if (len > KONCE_MESSAGE_MAX)
		return -EMSGSIZE;
	tick(c, now);
	konce_ncpeer *peer = konce_nodecore_peer_by_conn(c, req->conn_);
	if (!peer)
		return -ENOTCONN;
	uint8_t *buf = konce_env_alloc_raw(c->env, KONCE_MSG_BODY + len); /* written in full */
	if (!buf)
		return -ENOMEM;
	konce_msg_head_put(buf, req->klass, KONCE_MSG_F_REPLY, req->nonce_);
	if (len)
		memcpy(buf + KONCE_MSG_BODY, data, len);
	uint64_t id;
	/* the endpoint takes the framed reply over (same env); on failure it is still ours */
	int e = konce_ep_msg_send(c->ep, peer->conn, buf, KONCE_MSG_BODY + len, KONCE_MSG_CLASS_DEFAULT,
				  KONCE_EP_MSG_TAKE, now, &id);
	if (e)
		nc_free(c, buf);
	if (e == 0) {
		peer->msgs_tx++;
		c->msgs_tx++;
	}
	return e == -ENOENT ? -ENOTCONN : e;
}

int konce_nodecore_handle(konce_nodecore *c, uint16_t klass, konce_handler_fn fn, void *ctx)
{
	if (!c || klass < KONCE_CLASS_APP_MIN)
		return -EINVAL;
	struct nchandler *free_slot = NULL;
	for (int i = 0; i < KONCE_NC_HANDLERS; i++) {
		struct nchandler *h = &c->handlers[i];
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
	*free_slot = (struct nchandler){klass, fn, ctx};
	return 0;
}

int64_t konce_nodecore_outcome_eta(konce_nodecore *c, uint64_t handle, uint64_t now)
{
	if (!c || !handle)
		return -EINVAL;
	if (!ncpending_msg_find(c, handle))
		return -ENOENT;
	uint64_t at = konce_ep_msg_eta(c->ep, handle, now);
	if (at == UINT64_MAX)
		return -ENOENT;
	return at > now ? (int64_t)((at - now + 999) / 1000) : 0;
}

int konce_nodecore_outcome_progress(konce_nodecore *c, uint64_t handle, konce_progress *out, uint64_t now)
{
	uint64_t acked, total;
	if (!c || !handle || !out)
		return -EINVAL;
	if (!ncpending_msg_find(c, handle) || konce_ep_msg_progress(c->ep, handle, &acked, &total))
		return -ENOENT;
	/* the endpoint counts the framed message: the header rides in the first fragment */
	out->total_bytes = total > KONCE_MSG_BODY ? total - KONCE_MSG_BODY : 0;
	out->acked_bytes = acked > KONCE_MSG_BODY ? acked - KONCE_MSG_BODY : 0;
	if (out->acked_bytes > out->total_bytes)
		out->acked_bytes = out->total_bytes;
	int64_t eta = konce_nodecore_outcome_eta(c, handle, now);
	out->eta_ms = eta >= 0 ? eta : -1;
	return 0;
}
