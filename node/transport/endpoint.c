/* endpoint.c - the endpoint: creation, input demultiplexing, rings, timers, session slots.
 * The handshake lives in hs_client.c / hs_server.c, session traffic in ep_session.c; the state
 * machine is drawn in ep_internal.h.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sodium.h>
#include <string.h>

#include "node/transport/ep_internal.h"
#include "node/transport/frame.h"
#include "node/transport/keys.h"
#include "node/base/secmem.h"
#include "node/base/varint.h"

enum {
	KONCE_EP_DEF_SESSIONS = 1024,
	KONCE_EP_DEF_CAPACITY = 20000,
	KONCE_EP_DEF_RL_SLOTS = 4096,
	KONCE_EP_DEF_RL_RATE = 400,
	KONCE_EP_DEF_RL_BURST = 800,
	KONCE_EP_DEF_RING = 256,
	KONCE_EP_MAX_SESSIONS = 1u << 20, /* conn = generation << slot_bits | slot: >= 12 bits of tag */
	KONCE_EP_COST_DATA = 1,
	KONCE_EP_MAX_ACC_BUCKETS = 1u << 16, /* x 4 ways x 56 bytes = 14.7 MB at most */
	KONCE_EP_DEF_CHANNEL_RING = KONCE_CONN_CHANNEL_RING,
	KONCE_EP_DEF_SEND_QUEUE = 16 * 1024 * 1024, /* least default send queue per session */
};

static unsigned pow2_at_least(unsigned n)
{
	unsigned p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static void *zalloc(const konce_env *env, size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n)
		return NULL;
	return konce_env_alloc(env, n * size);
}

int konce_ep_new(konce_ep **out, const konce_ep_config *cfg, uint64_t now_us)
{
	*out = NULL;
	if (!cfg || !cfg->identity)
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOMEM;
	const konce_env *env = cfg->env ? cfg->env : konce_env_default();
	konce_ep *ep = konce_env_alloc(env, sizeof *ep);
	if (!ep)
		return -ENOMEM;
	ep->env = env;
	ep->identity = cfg->identity;
	ep->server_ids[0] = cfg->identity;
	ep->n_server_ids = 1;
	static const uint16_t def_versions[] = {KONCE_VERSION_1};
	int r = konce_versions_set(&ep->versions, cfg->versions ? cfg->versions : def_versions,
				   cfg->versions ? cfg->nversions : 1);
	if (r)
		goto fail;
	r = -EINVAL;
	ep->max_pow_bits = cfg->max_pow_bits ? cfg->max_pow_bits : KONCE_WIRE_POW_MAX_BITS;
	if (ep->max_pow_bits > KONCE_WIRE_POW_MAX_BITS)
		goto fail;
	ep->pow_rate = cfg->pow_rate ? cfg->pow_rate : KONCE_EP_DEF_POW_RATE;
	if (ep->pow_rate > (uint64_t)1 << 40)
		goto fail;
	ep->explicit_identity = cfg->explicit_identity;
	if (cfg->group_key) {
		if (!(ep->group_key = konce_secmem_alloc(KONCE_WIRE_KEY, &r)))
			goto fail;
		memcpy(ep->group_key, cfg->group_key, KONCE_WIRE_KEY);
		r = -EINVAL;
	}
	ep->max_sessions = cfg->max_sessions ? cfg->max_sessions : KONCE_EP_DEF_SESSIONS;
	ep->max_per_source = cfg->max_per_source ? cfg->max_per_source
			   : ep->max_sessions / 16 > 4 ? ep->max_sessions / 16 : 4;
	if (ep->max_sessions > KONCE_EP_MAX_SESSIONS)
		goto fail;
	ep->conn_cfg.max_message = cfg->max_message ? cfg->max_message : KONCE_MSG_MAX_DEFAULT;
	ep->conn_cfg.budget = cfg->msg_budget ? cfg->msg_budget : konce_reasm_charge(ep->conn_cfg.max_message);
	ep->reasm_pool.budget = cfg->msg_budget_total ? cfg->msg_budget_total : 4 * ep->conn_cfg.budget;
	ep->conn_cfg.pool = &ep->reasm_pool;
	ep->conn_cfg.send_max = cfg->send_queue_max ? cfg->send_queue_max : 2 * konce_msgq_cost(ep->conn_cfg.max_message);
	if (!cfg->send_queue_max && ep->conn_cfg.send_max < KONCE_EP_DEF_SEND_QUEUE)
		ep->conn_cfg.send_max = KONCE_EP_DEF_SEND_QUEUE;
	ep->send_pool.budget = cfg->send_queue_total ? cfg->send_queue_total : 4 * ep->conn_cfg.send_max;
	ep->conn_cfg.send_pool = &ep->send_pool;
	ep->send_pool.shares = ep->max_sessions; /* msgq.h: each session's slice of the upper half */
	ep->conn_cfg.ring = cfg->channel_ring ? cfg->channel_ring : KONCE_EP_DEF_CHANNEL_RING;
	ep->conn_cfg.keepalive_us = (uint64_t)(cfg->keepalive_ms ? cfg->keepalive_ms : KONCE_KEEPALIVE_MS) * 1000;
	ep->conn_cfg.msg_timeout_us = (uint64_t)(cfg->msg_timeout_ms ? cfg->msg_timeout_ms : KONCE_MSG_TIMEOUT_MS) * 1000;
	ep->conn_cfg.overhead = KONCE_WIRE_MAX_DATAGRAM - KONCE_WIRE_MAX_PAYLOAD;
	ep->conn_cfg.cc = cfg->cc;
	ep->idle_us = (uint64_t)(cfg->idle_timeout_ms ? cfg->idle_timeout_ms : KONCE_IDLE_TIMEOUT_MS) * 1000;
	ep->conn_cfg.reasm_idle_us = ep->idle_us;
	if (ep->conn_cfg.ring <= KONCE_CONN_PRESENCE_RING || ep->conn_cfg.max_message > KONCE_VARINT_MAX)
		goto fail;
	ep->out_cap = cfg->out_ring ? cfg->out_ring : KONCE_EP_DEF_RING;
	if (ep->out_cap > UINT_MAX / 2)
		goto fail;
	ep->out_slots = ep->out_cap + konce_ep_out_reserve_for(ep->out_cap);
	ep->max_datagram = cfg->max_datagram ? cfg->max_datagram : KONCE_PMTU_BASE;
	if (ep->max_datagram < KONCE_PMTU_BASE || ep->max_datagram > KONCE_PMTU_MAX)
		goto fail;
	ep->path_mtu = cfg->path_mtu;
	ep->path_mtu_ctx = cfg->path_mtu_ctx;
	ep->ev_cap = cfg->event_ring ? cfg->event_ring : KONCE_EP_DEF_RING;

	r = -ENOMEM;
	ep->slots = zalloc(env, ep->max_sessions, sizeof *ep->slots);
	ep->gen = zalloc(env, ep->max_sessions, sizeof *ep->gen);
	while ((1u << ep->slot_bits) < ep->max_sessions)
		ep->slot_bits++;
	ep->free_slots = zalloc(env, ep->max_sessions, sizeof *ep->free_slots);
	/* up to KONCE_EP_CIDS ids each (cidrot.c), 3 for a presence: at most 2.5 a bucket, about 1.5
	 * for presences, and every bucket's page is resident once the table fills (8 bytes a bucket) */
	unsigned nb = pow2_at_least(ep->max_sessions * 2);
	ep->cid_buckets = zalloc(env, nb, sizeof *ep->cid_buckets);
	ep->cid_mask = nb - 1;
	/* Accepted challenges must be remembered for a cookie lifetime: size for the handshakes the
	 * capacity allows in that time (or max_sessions, if larger), at half the 4-way table. */
	uint64_t capacity = cfg->capacity ? cfg->capacity : KONCE_EP_DEF_CAPACITY;
	uint64_t want = capacity * (KONCE_COOKIE_LIFETIME_MS / 1000) / KONCE_COST_DH;
	if (want < ep->max_sessions)
		want = ep->max_sessions;
	want = want / 2 + 64;
	unsigned accb = pow2_at_least(want > KONCE_EP_MAX_ACC_BUCKETS ? KONCE_EP_MAX_ACC_BUCKETS : (unsigned)want);
	ep->acc = zalloc(env, (size_t)accb * KONCE_EP_ACC_WAYS, sizeof *ep->acc);
	ep->acc_mask = accb - 1;
	ep->out = zalloc(env, ep->out_slots, sizeof *ep->out);
	ep->out_mem = zalloc(env, ep->out_slots, ep->max_datagram);
	ep->ev = zalloc(env, ep->ev_cap, sizeof *ep->ev);
	ep->rsrc = zalloc(env, ep->max_sessions, sizeof *ep->rsrc);
	ep->rsrc_mask = pow2_at_least(ep->max_sessions) - 1;
	ep->rsrc_buckets = zalloc(env, (size_t)ep->rsrc_mask + 1, sizeof *ep->rsrc_buckets);
	ep->heap_due = zalloc(env, ep->max_sessions, sizeof *ep->heap_due);
	ep->heap_slot = zalloc(env, ep->max_sessions, sizeof *ep->heap_slot);
	ep->tpos = zalloc(env, ep->max_sessions, sizeof *ep->tpos);
	/* a timer call takes at most as many sessions as the out ring has room (ep_timer.c) */
	ep->batch = zalloc(env, ep->out_cap, sizeof *ep->batch);
	ep->batch_due = zalloc(env, ep->out_cap, sizeof *ep->batch_due);
	/* sessions and their handshake buffers each in their own slab: no malloc header, and the
	 * buffers a handshake frees leave no holes between the sessions that stay (slab.h) */
	konce_slab_init(&ep->sess_slab, env, sizeof(konce_sess));
	konce_slab_init(&ep->hb_slab[0], env, offsetof(konce_hs_buf, first));
	konce_slab_init(&ep->hb_slab[1], env, sizeof(konce_hs_buf));
	konce_slab_init(&ep->pm_slab, env, sizeof(konce_pmtud)); /* a channel's, freed at its shrink */
	if (!ep->heap_due || !ep->heap_slot || !ep->tpos || !ep->batch || !ep->batch_due || !ep->slots || !ep->gen || !ep->free_slots || !ep->cid_buckets || !ep->acc || !ep->out || !ep->out_mem ||
	    !ep->ev || !ep->rsrc || !ep->rsrc_buckets)
		goto fail;
	for (unsigned i = 0; i < ep->out_slots; i++)
		ep->out[i].data = ep->out_mem + (size_t)i * ep->max_datagram;
	for (unsigned i = 0; i < ep->max_sessions; i++)
		ep->free_slots[i] = ep->max_sessions - 1 - i;
	ep->n_free = ep->max_sessions;
	if ((r = konce_ep_table_init(ep)))
		goto fail;
	if ((r = konce_keyslab_new(&ep->slab, ep->max_sessions)))
		goto fail;
	if ((r = konce_cookie_keys_new(&ep->cookie_keys, env, now_us)))
		goto fail;
	ep->cookie_rotate_us = konce_cookie_keys_tick(ep->cookie_keys, env, now_us);
	if ((r = konce_ratelimit_new(&ep->rl, env, cfg->rl_slots ? cfg->rl_slots : KONCE_EP_DEF_RL_SLOTS,
				     cfg->rl_rate ? cfg->rl_rate : KONCE_EP_DEF_RL_RATE,
				     cfg->rl_burst ? cfg->rl_burst : KONCE_EP_DEF_RL_BURST)))
		goto fail;
	konce_load_init(&ep->load, capacity, now_us);
	konce_env_random(env, ep->cid_key, sizeof ep->cid_key);
	uint8_t c[8];
	konce_env_random(env, c, sizeof c);
	ep->next_challenge = wire_get64(c) >> 1; /* a random 63-bit start */
	ep->timer_extra_us = UINT64_MAX;
	*out = ep;
	return 0;
fail:
	konce_ep_free(ep);
	return r;
}

void konce_ep_free(konce_ep *ep)
{
	if (!ep)
		return;
	const konce_env *env = ep->env;
	if (ep->held)
		konce_ep_msg_release(ep, ep->held_conn, ep->held);
	ep->held = NULL;
	for (unsigned i = 0; ep->ev && i < ep->ev_n; i++) {
		konce_ep_evslot *e = &ep->ev[(ep->ev_head + i) % ep->ev_cap];
		if (e->msg)
			konce_ep_msg_release(ep, e->ev.conn, e->msg);
	}
	while (ep->live)
		konce_ep_sess_free(ep, ep->live);
	konce_keyslab_free(ep->slab);
	konce_ep_table_fini(ep);
	konce_cookie_keys_free(ep->cookie_keys);
	konce_ratelimit_free(ep->rl);
	if (ep->group_key)
		konce_secmem_free(ep->group_key, KONCE_WIRE_KEY);
	if (ep->ev)
		sodium_memzero(ep->ev, (size_t)ep->ev_cap * sizeof *ep->ev);
	konce_env_free(env, ep->slots);
	konce_env_free(env, ep->gen);
	konce_env_free(env, ep->free_slots);
	konce_env_free(env, ep->rsrc);
	konce_env_free(env, ep->rsrc_buckets);
	konce_env_free(env, ep->heap_due);
	konce_env_free(env, ep->heap_slot);
	konce_env_free(env, ep->tpos);
	konce_env_free(env, ep->batch);
	konce_env_free(env, ep->batch_due);
	konce_slab_fini(&ep->sess_slab);
	konce_slab_fini(&ep->hb_slab[0]);
	konce_slab_fini(&ep->hb_slab[1]);
	konce_slab_fini(&ep->pm_slab);
	konce_env_free(env, ep->cid_buckets);
	konce_env_free(env, ep->acc);
	if (ep->out_mem)
		sodium_memzero(ep->out_mem, (size_t)ep->out_slots * ep->max_datagram);
	konce_env_free(env, ep->out);
	konce_env_free(env, ep->out_mem);
	konce_env_free(env, ep->ev);
	sodium_memzero(ep, sizeof *ep);
	konce_env_free(env, ep);
}

int konce_ep_set_server_identities(konce_ep *ep, const konce_identity *const *ids, unsigned n)
{
	if (n < 1 || n > KONCE_EP_MAX_IDS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!ids[i])
			return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		ep->server_ids[i] = ids[i];
	ep->n_server_ids = n;
	return 0;
}

/* ---- session slots ---------------------------------------------------------------------- */

konce_sess *konce_ep_sess_new(konce_ep *ep, bool client, uint64_t now_us)
{
	if (ep->n_free == 0)
		return NULL;
	konce_sess *s = konce_slab_alloc(&ep->sess_slab);
	if (!s)
		return NULL;
	s->hb_full = client;
	if (!(s->hb = konce_slab_alloc(&ep->hb_slab[client]))) {
		konce_slab_free(&ep->sess_slab, s);
		return NULL;
	}
	unsigned slot = ep->free_slots[--ep->n_free];
	uint32_t g = (ep->gen[slot] + 1) & (UINT32_MAX >> ep->slot_bits); /* 2^(32 - slot_bits) tags */
	ep->gen[slot] = g ? g : 1;
	s->slot = slot;
	s->conn = (ep->gen[slot] << ep->slot_bits) | slot;
	s->last_rx_us = now_us;
	s->last_app_us = now_us;
	s->ep = ep;
	ep->slots[slot] = s;
	konce_ep_new_cid(ep, s->scid);
	konce_cid_insert(ep, s);
	s->next = ep->live;
	if (ep->live)
		ep->live->prev = s;
	ep->live = s;
	konce_ep_timer_add(ep, s, now_us);
	ep->c.sessions_opened++;
	ep->c.sessions_live++;
	return s;
}

void konce_ep_sess_free(konce_ep *ep, konce_sess *s)
{
	if (s->state == KONCE_HS_SOLVING)
		konce_hs_solve_leave(ep, s); /* its link is in hb, freed below */
	konce_ep_timer_remove(ep, s);
	konce_cid_remove(ep, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		ep->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	for (konce_sess **pp = &ep->pend_head; *pp; pp = &(*pp)->pend_next)
		if (*pp == s) {
			*pp = s->pend_next;
			break;
		}
	konce_ep_hs_done(ep, s);
	s->sess.wide = NULL; /* its storage goes with the conn */
	konce_conn_free(s->rel); /* its reassembler's charge ends: the source's share of it too */
	konce_slab_free(&ep->pm_slab, s->pm);
	konce_ep_rsrc_put(ep, s);
	konce_keyslab_wipe(ep->slab, s->slot);
	ep->slots[s->slot] = NULL;
	ep->free_slots[ep->n_free++] = s->slot;
	ep->c.sessions_closed++;
	ep->c.sessions_live--;
	if (s->incoming) {
		konce_ep_table_leave(ep, s);
		ep->n_incoming--;
	}
	sodium_memzero(s, sizeof *s);
	konce_slab_free(&ep->sess_slab, s);
}

void konce_ep_hs_done(konce_ep *ep, konce_sess *s)
{
	if (!s->hb)
		return;
	sodium_memzero(s->hb, s->hb_full ? sizeof *s->hb : offsetof(konce_hs_buf, first));
	konce_slab_free(&ep->hb_slab[s->hb_full], s->hb);
	s->hb = NULL;
	s->first_len = 0;
	s->hs_len = 0;
}

konce_sess *konce_ep_sess_by_conn(konce_ep *ep, uint32_t conn)
{
	unsigned slot = conn & ((1u << ep->slot_bits) - 1);
	if (slot >= ep->max_sessions)
		return NULL;
	konce_sess *s = ep->slots[slot];
	return s && s->conn == conn ? s : NULL;
}

void konce_ep_new_cid(konce_ep *ep, uint8_t cid[KONCE_WIRE_CID])
{
	do
		konce_env_random(ep->env, cid, KONCE_WIRE_CID);
	while (konce_cid_find(ep, cid));
}

/* ---- rings ------------------------------------------------------------------------------ */

uint8_t *konce_ep_out_reserve(konce_ep *ep)
{
	if (konce_ep_out_full(ep))
		return NULL;
	return ep->out[(ep->out_head + ep->out_n) % ep->out_slots].data;
}

uint8_t *konce_ep_out_reserve_control(konce_ep *ep)
{
	if (ep->out_n == ep->out_slots)
		return NULL;
	return ep->out[(ep->out_head + ep->out_n) % ep->out_slots].data;
}

void konce_ep_out_commit(konce_ep *ep, const konce_addr *to, size_t len)
{
	konce_out *o = &ep->out[(ep->out_head + ep->out_n++) % ep->out_slots];
	o->to = *to;
	o->len = (uint16_t)len;
	ep->c.tx_packets++;
	ep->c.tx_bytes += len;
}

static void send_raw(konce_ep *ep, const konce_addr *to, const uint8_t *pkt, size_t len, bool control)
{
	if (len > ep->max_datagram)
		return; /* only sealed by a caller that checked: never */
	uint8_t *slot = control ? konce_ep_out_reserve_control(ep) : konce_ep_out_reserve(ep);
	if (!slot) {
		ep->c.ring_full_datagrams++;
		ep->c.ring_full_control += control;
		return;
	}
	memcpy(slot, pkt, len);
	konce_ep_out_commit(ep, to, len);
}

void konce_ep_send_raw(konce_ep *ep, const konce_addr *to, const uint8_t *pkt, size_t len)
{
	send_raw(ep, to, pkt, len, false);
}

void konce_ep_send_raw_control(konce_ep *ep, const konce_addr *to, const uint8_t *pkt, size_t len)
{
	send_raw(ep, to, pkt, len, true);
}

bool konce_ep_poll_datagram_ref(konce_ep *ep, const uint8_t **pkt, size_t *len, konce_addr *to)
{
	konce_hs_server_flush_all(ep);
	if (ep->out_n == ep->out_lent)
		return false;
	const konce_out *o = &ep->out[(ep->out_head + ep->out_lent++) % ep->out_slots];
	*pkt = o->data;
	*len = o->len;
	*to = o->to;
	return true;
}

void konce_ep_release_datagrams(konce_ep *ep)
{
	ep->out_n -= ep->out_lent;
	/* An empty ring starts again at slot 0: a sender that drains the ring after each batch then
	 * seals into the same few slots, warm in the cache, instead of walking out_cap x max_datagram
	 * bytes (9 MB with 1,024 slots of 8,972) and writing every packet to a cold line. */
	ep->out_head = ep->out_n ? (ep->out_head + ep->out_lent) % ep->out_slots : 0;
	ep->out_lent = 0;
}

bool konce_ep_poll_datagram(konce_ep *ep, uint8_t *buf, size_t *len, konce_addr *to)
{
	const uint8_t *pkt;
	bool lending = ep->out_lent != 0;
	if (!konce_ep_poll_datagram_ref(ep, &pkt, len, to))
		return false;
	memcpy(buf, pkt, *len);
	if (!lending) /* else it is released with the datagrams lent before it */
		konce_ep_release_datagrams(ep);
	return true;
}

static bool grow_events(konce_ep *ep)
{
	if (ep->ev_cap > UINT_MAX / 2)
		return false;
	unsigned cap = ep->ev_cap * 2;
	konce_ep_evslot *v = zalloc(ep->env, cap, sizeof *v);
	if (!v)
		return false;
	for (unsigned i = 0; i < ep->ev_n; i++)
		v[i] = ep->ev[(ep->ev_head + i) % ep->ev_cap];
	sodium_memzero(ep->ev, (size_t)ep->ev_cap * sizeof *ep->ev);
	konce_env_free(ep->env, ep->ev);
	ep->ev = v;
	ep->ev_cap = cap;
	ep->ev_head = 0;
	return true;
}

konce_ep_evslot *konce_ep_push_slot(konce_ep *ep, enum konce_ep_event_type type, uint32_t conn)
{
	if (ep->ev_n == ep->ev_cap && !grow_events(ep)) {
		ep->c.ring_full_events++;
		return NULL;
	}
	konce_ep_evslot *e = &ep->ev[(ep->ev_head + ep->ev_n++) % ep->ev_cap];
	if (type == KONCE_EV_MESSAGE) {
		konce_sess *s = konce_ep_sess_by_conn(ep, conn);
		ep->ev_msgs++;
		if (s)
			s->ev_msgs++;
	}
	memset(&e->ev, 0, sizeof e->ev);
	e->msg = NULL;
	e->ev.type = type;
	e->ev.conn = conn;
	return e;
}

bool konce_ep_msg_events_full(const konce_ep *ep, const konce_sess *s)
{
	return s->ev_msgs >= KONCE_EP_SESS_MSG_EVENTS || ep->ev_msgs >= KONCE_EP_MSG_EVENTS;
}

konce_ep_event *konce_ep_push_event(konce_ep *ep, enum konce_ep_event_type type, uint32_t conn)
{
	konce_ep_evslot *e = konce_ep_push_slot(ep, type, conn);
	return e ? &e->ev : NULL;
}

bool konce_ep_poll_event(konce_ep *ep, konce_ep_event *ev)
{
	if (ep->held)
		konce_ep_msg_release(ep, ep->held_conn, ep->held);
	ep->held = NULL;
	if (ep->held_inl_len)
		sodium_memzero(ep->held_inl, ep->held_inl_len);
	ep->held_inl_len = 0;
	if (ep->ev_n == 0)
		return false;
	konce_ep_evslot *e = &ep->ev[ep->ev_head];
	*ev = e->ev;
	if (ev->type == KONCE_EV_MESSAGE) {
		konce_sess *s = konce_ep_sess_by_conn(ep, ev->conn);
		ep->ev_msgs--;
		if (s && s->ev_msgs)
			s->ev_msgs--;
	}
	if (e->msg) {
		ep->held = e->msg;
		ep->held_conn = e->ev.conn;
		ev->data = e->msg->data;
		ev->len = (size_t)e->msg->len;
	} else if (ev->type == KONCE_EV_MESSAGE) {
		memcpy(ep->held_inl, e->inl, ev->len);
		sodium_memzero(e->inl, ev->len);
		ep->held_inl_len = ev->len;
		ev->data = ep->held_inl;
	}
	e->msg = NULL;
	ep->ev_head = (ep->ev_head + 1) % ep->ev_cap;
	ep->ev_n--;
	return true;
}

void konce_ep_fail(konce_ep *ep, konce_sess *s, unsigned reason)
{
	konce_ep_msg_abort(ep, s, konce_ep_msg_reason(reason));
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_FAILED, s->conn);
	if (e)
		e->reason = reason;
	ep->c.hs_failed++;
	konce_ep_sess_free(ep, s);
}

/* ---- input ------------------------------------------------------------------------------ */

/* Who takes each packet type, and the load cost charged for it.  The handshake server's handlers
 * (cost 0 here) set their own when they charge the load meter (hs_server.c charge()). */
static const struct {
	enum konce_ep_verdict (*fn)(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
				    uint64_t now_us, konce_ep_rx *rx);
	unsigned cost;
} input_by_type[] = {
	[KONCE_PKT_HELLO] = {konce_hs_server_hello, 0},
	[KONCE_PKT_INITIATE] = {konce_hs_server_initiate, 0},
	[KONCE_PKT_COOKIE] = {konce_hs_client_cookie, KONCE_EP_COST_DATA},
	[KONCE_PKT_VERSION] = {konce_hs_client_version, KONCE_EP_COST_DATA},
	[KONCE_PKT_ACCEPT] = {konce_hs_client_accept, KONCE_EP_COST_DATA},
	[KONCE_PKT_DATA] = {konce_ep_data_input, KONCE_EP_COST_DATA},
};

enum konce_ep_verdict konce_ep_input(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from,
				     uint64_t now_us, konce_ep_rx *rx)
{
	konce_ep_rx local;
	if (!rx)
		rx = &local;
	rx->conn = 0;
	rx->cost = 0;
	ep->c.rx_packets++;
	ep->c.rx_bytes += len;
	if (len < 1 || len > (pkt[0] == KONCE_PKT_DATA ? KONCE_PMTU_MAX : KONCE_WIRE_MAX_DATAGRAM)) {
		ep->c.rx_short++;
		return KONCE_EP_NOT_MINE;
	}
	if (pkt[0] >= sizeof input_by_type / sizeof input_by_type[0] || !input_by_type[pkt[0]].fn) {
		ep->c.rx_unknown_type++;
		return KONCE_EP_NOT_MINE;
	}
	rx->cost = input_by_type[pkt[0]].cost;
	return input_by_type[pkt[0]].fn(ep, pkt, len, from, now_us, rx);
}

unsigned konce_ep_priority(konce_ep *ep, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now_us)
{
	if (len < 1)
		return 17;
	switch (pkt[0]) {
	case KONCE_PKT_HELLO:
	case KONCE_PKT_INITIATE:
		return 1 + konce_ratelimit_level(ep->rl, from, now_us);
	case KONCE_PKT_DATA: {
		/* only for a session we have: junk typed DATA must not outrank a fresh handshake */
		konce_data_hdr h;
		return !konce_data_parse_hdr(&h, pkt, len) && konce_cid_find(ep, h.dcid) ? 0 : 17;
	}
	case KONCE_PKT_COOKIE:
	case KONCE_PKT_VERSION:
	case KONCE_PKT_ACCEPT:
		return 0;
	default:
		return 17;
	}
}

#define C(f) {#f, offsetof(struct konce_ep_counters, f)}
static const struct {
	const char *name;
	size_t off;
} counter_names[] = {
	C(rx_packets),
	C(rx_bytes),
	C(tx_packets),
	C(tx_bytes),
	C(rx_short),
	C(rx_unknown_type),
	C(hello_rx),
	C(hello_bad_size),
	C(hello_bad_clue),
	C(cookie_tx),
	C(version_tx),
	C(init_rx),
	C(init_bad_size),
	C(init_bad_version),
	C(init_stale),
	C(init_challenge_window),
	C(init_dup_resent),
	C(init_dup_dropped),
	C(init_bad_mac),
	C(init_bad_pow),
	C(init_bad_box1),
	C(init_unknown_server),
	C(init_low_order),
	C(init_bad_box2),
	C(init_full),
	C(init_source_full),
	C(accept_tx),
	C(accept_resent),
	C(simopen_yielded),
	C(simopen_merged),
	C(cookie_unmatched),
	C(cookie_bad),
	C(cookie_pow_too_high),
	C(version_rx),
	C(version_ignored),
	C(accept_unmatched),
	C(accept_bad),
	C(hs_retransmits),
	C(hs_restarts),
	C(hs_failed),
	C(pow_tries),
	C(pow_waited),
	C(data_rx),
	C(data_unknown_cid),
	C(data_bad_header),
	C(data_replay),
	C(data_auth_fail),
	C(data_bad_frame),
	C(data_not_ready),
	C(data_tx),
	C(rekey_tx),
	C(rekey_rx),
	C(rx_old_key),
	C(path_challenge_tx),
	C(path_response_bad),
	C(path_changed),
	C(amplification_blocked),
	C(path_old_challenge_tx),
	C(path_refused),
	C(path_reverted),
	C(path_confirmed),
	C(ring_full_datagrams),
	C(ring_full_events),
	C(ring_full_control),
	C(msg_events_held),
	C(sessions_opened),
	C(sessions_closed),
	C(sessions_live),
	C(sessions_evicted),
	C(sessions_replaced),
	C(msgs_queued),
	C(msgs_delivered),
	C(msgs_failed),
	C(msgs_rx),
	C(keepalive_tx),
	C(timer_deferred),
	C(idle_closed),
	C(channels_grown),
	C(channels_shrunk),
	C(pmtu_probes_tx),
	C(pmtu_probes_lost),
	C(pmtu_raised),
	C(pmtu_blackholes),
	C(pmtu_resets),
	C(message_too_long),
	C(timer_visits),
	C(table_visits),
	C(rsrc_visits),
};
#undef C
_Static_assert(sizeof counter_names / sizeof counter_names[0] * sizeof(uint64_t) == sizeof(struct konce_ep_counters),
	       "every counter has a name");

void konce_ep_counters_foreach(const struct konce_ep_counters *c,
			       void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx)
{
	for (size_t i = 0; i < sizeof counter_names / sizeof counter_names[0]; i++) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)c + counter_names[i].off, sizeof v);
		fn(ctx, counter_names[i].name, v);
	}
}
const struct konce_ep_counters *konce_ep_counters(const konce_ep *ep) { return &ep->c; }
unsigned konce_ep_pow_bits(konce_ep *ep, uint64_t now_us) { return konce_load_bits(&ep->load, 0, now_us); }

/* ---- application calls ------------------------------------------------------------------ */

int konce_ep_connect(konce_ep *ep, const uint8_t server_pk[KONCE_WIRE_KEY], const konce_addr *to,
		     const uint8_t *msg, size_t len, uint64_t now_us, uint32_t *conn)
{
	return konce_ep_connect_ex(ep, server_pk, to, msg, len, NULL, now_us, conn);
}

int konce_ep_connect_ex(konce_ep *ep, const uint8_t server_pk[KONCE_WIRE_KEY], const konce_addr *to,
			const uint8_t *msg, size_t len, const konce_ep_connect_opts *opts, uint64_t now_us,
			uint32_t *conn)
{
	if (!server_pk || !to || (len && !msg) || !konce_key_canonical(server_pk))
		return -EINVAL;
	if (len > KONCE_EP_MAX_FIRST_MESSAGE)
		return -EMSGSIZE;
	if (ep->n_free == 0) {
		/* every slot taken: an idle, unwanted incoming session makes room (ep_table.c) */
		konce_sess *v = konce_ep_table_victim(ep, now_us);
		if (!v)
			return -ENOSPC;
		konce_ep_evict(ep, v, now_us);
	}
	konce_sess *s = konce_ep_sess_new(ep, true, now_us);
	if (!s)
		return -ENOMEM;
	s->as = opts ? opts->as : NULL;
	s->per_server = opts && opts->per_server;
	if (opts && opts->group_key) {
		memcpy(konce_keyslab_slot(ep->slab, s->slot)->group, opts->group_key, KONCE_WIRE_KEY);
		s->grouped = true;
	}
	s->first_len = len;
	if (len)
		memcpy(s->hb->first, msg, len);
	int r = konce_hs_client_start(ep, s, server_pk, to, now_us);
	if (r) {
		konce_ep_sess_free(ep, s);
		return r;
	}
	*conn = s->conn;
	return 0;
}

int konce_ep_send(konce_ep *ep, uint32_t conn, const uint8_t *msg, size_t len, uint64_t now_us)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	if (len > KONCE_EP_MAX_MESSAGE || (len && !msg))
		return -EMSGSIZE;
	if (s->state != KONCE_HS_ESTABLISHED && s->state != KONCE_HS_ACCEPT_PENDING)
		return -ENOTCONN;
	if (konce_ep_out_full(ep))
		return -ENOBUFS;
	uint8_t frames[KONCE_WIRE_MAX_PAYLOAD];
	size_t n = konce_frame_put_message(frames, sizeof frames, msg, len);
	if (s->state == KONCE_HS_ACCEPT_PENDING) {
		konce_hs_server_flush_accept(ep, s, frames, n);
		return 0;
	}
	return konce_ep_send_frames(ep, s, frames, n, &s->path.cur, now_us);
}

int konce_ep_close(konce_ep *ep, uint32_t conn, uint64_t now_us)
{
	konce_sess *s = konce_ep_sess_by_conn(ep, conn);
	if (!s)
		return -ENOENT;
	konce_ep_msg_abort(ep, s, KONCE_MSG_FAIL_LOCAL_CLOSE);
	if (s->state == KONCE_HS_ACCEPT_PENDING)
		konce_hs_server_flush_accept(ep, s, NULL, 0);
	konce_ep_send_close(ep, s, now_us);
	konce_ep_sess_free(ep, s);
	return 0;
}

void konce_ep_send_close(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	if (s->state != KONCE_HS_ESTABLISHED)
		return;
	uint8_t f[3];
	size_t n = konce_frame_put_close(f, sizeof f, 0);
	konce_ep_send_control(ep, s, f, n, &s->path.cur, now_us);
}

void konce_ep_sess_end(konce_ep *ep, konce_sess *s, unsigned reason, uint64_t now_us)
{
	konce_ep_send_close(ep, s, now_us);
	konce_ep_event *e = konce_ep_push_event(ep, KONCE_EV_CLOSED, s->conn);
	if (e)
		e->reason = reason;
	konce_ep_sess_free(ep, s);
}
