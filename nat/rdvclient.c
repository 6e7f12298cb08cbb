/* rdvclient.c - registration, mapping discovery, introductions and relaying for a peer. */
#include "nat/rdvclient.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "nat/candidates.h"

#define MS 1000ULL
enum { OUT_RING = 32, EV_RING = 8, RETRY_MS = 1000, INTRO_TRIES = 5, RECENT = 8, FRESH = 4 };

struct server {
	konce_addr addr;
	bool answered;     /* has ever answered */
	bool have_refl;
	konce_addr refl;
	uint64_t txid;     /* of the last REGISTER */
	uint64_t prev_txid; /* of the one before, if it was not answered yet (see on_registered) */
	bool echoed;       /* the last REGISTER carried an echo */
	uint64_t next;     /* next REGISTER (resend or refresh) */
	uint64_t refresh;  /* us: what the rendezvous asked for */
};

struct pending {
	bool used;
	uint8_t peer[KONCE_WIRE_KEY];
	uint64_t txid, next;
	unsigned tries;
};

/* an introduction we accepted: its target may still decline it (INTRO_FAIL DECLINED, same id) */
struct recent {
	uint8_t peer[KONCE_WIRE_KEY];
	uint64_t id; /* 0 = free */
};

struct outq {
	konce_addr to;
	size_t len;
	uint8_t buf[KONCE_RDV_MAX_MSG];
};

struct konce_rdvclient {
	const konce_env *env;
	uint8_t key[KONCE_WIRE_KEY];
	struct server rdv[KONCE_RDVCLIENT_MAX_RDV];
	unsigned nrdv;
	konce_addr host[KONCE_RDVCLIENT_MAX_HOST], mapped[2];
	unsigned nhost, nmapped;
	uint64_t keepalive; /* us, 0 = none: konce_rdvclient_set_keepalive() */
	bool (*allow)(void *ctx, const uint8_t key[KONCE_WIRE_KEY]);
	void *allow_ctx;
	konce_natinfo nat;
	/* later mappings of our NAT (konce_rdvclient_set_fresh_mapping), the newest FRESH of them */
	konce_addr fresh[FRESH];
	unsigned nfresh, fresh_next;
	struct pending pend[KONCE_RDVCLIENT_MAX_PENDING];
	struct recent recent[RECENT];
	unsigned recent_next;
	struct outq out[OUT_RING];
	unsigned out_head, out_n;
	konce_rdvclient_event ev[EV_RING];
	unsigned ev_head, ev_n;
	struct konce_rdvclient_counters c;
};

int konce_rdvclient_new(konce_rdvclient **out, const konce_rdvclient_cfg *cfg, uint64_t now)
{
	*out = NULL;
	if (!cfg->key || !cfg->rdv || cfg->nrdv < 1 || cfg->nrdv > KONCE_RDVCLIENT_MAX_RDV ||
	    cfg->nhost > KONCE_RDVCLIENT_MAX_HOST || cfg->nmapped > 2)
		return -EINVAL;
	const konce_env *env = cfg->env ? cfg->env : konce_env_default();
	konce_rdvclient *c = konce_env_alloc(env, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->env = env;
	memcpy(c->key, cfg->key, KONCE_WIRE_KEY);
	c->nrdv = cfg->nrdv;
	for (unsigned i = 0; i < cfg->nrdv; i++) {
		c->rdv[i].addr = cfg->rdv[i];
		c->rdv[i].next = now;
		c->rdv[i].refresh = KONCE_RDV_REFRESH_MS * MS;
	}
	c->nhost = cfg->nhost;
	if (cfg->nhost)
		memcpy(c->host, cfg->host, sizeof(c->host[0]) * cfg->nhost);
	c->nmapped = cfg->nmapped;
	if (cfg->nmapped)
		memcpy(c->mapped, cfg->mapped, sizeof(c->mapped[0]) * cfg->nmapped);
	c->allow = cfg->allow;
	c->allow_ctx = cfg->allow_ctx;
	*out = c;
	return 0;
}

void konce_rdvclient_free(konce_rdvclient *c)
{
	if (c)
		konce_env_free(c->env, c);
}

static uint64_t new_id(konce_rdvclient *c)
{
	uint8_t b[8];
	konce_env_random(c->env, b, sizeof(b));
	return wire_get64(b) | 1; /* never 0 */
}

static int send_msg(konce_rdvclient *c, const konce_rdvwire_msg *m, const konce_addr *to)
{
	if (c->out_n == OUT_RING) {
		c->c.out_dropped++;
		return -ENOBUFS;
	}
	struct outq *q = &c->out[(c->out_head + c->out_n) % OUT_RING];
	q->len = konce_rdvwire_encode(m, q->buf, sizeof(q->buf));
	if (!q->len)
		return -EINVAL;
	q->to = *to;
	c->out_n++;
	return 0;
}

static konce_rdvclient_event *push_ev(konce_rdvclient *c, enum konce_rdvclient_ev_type type)
{
	if (c->ev_n == EV_RING) {
		c->c.ev_dropped++;
		return NULL;
	}
	konce_rdvclient_event *e = &c->ev[(c->ev_head + c->ev_n++) % EV_RING];
	memset(e, 0, offsetof(konce_rdvclient_event, data));
	e->type = type;
	return e;
}

static unsigned reflexives(const konce_rdvclient *c, konce_addr *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->nrdv; i++)
		if (c->rdv[i].have_refl)
			out[n++] = c->rdv[i].refl;
	return n;
}

static uint64_t refresh_of(const konce_rdvclient *c, const struct server *s)
{
	if (!c->keepalive)
		return s->refresh;
	uint64_t limit = s->refresh > KONCE_RDV_REFRESH_MAX_MS * MS ? s->refresh : KONCE_RDV_REFRESH_MAX_MS * MS;
	return c->keepalive < limit ? c->keepalive : limit;
}

void konce_rdvclient_set_keepalive(konce_rdvclient *c, uint64_t keepalive_us) { c->keepalive = keepalive_us; }

static void send_register(konce_rdvclient *c, unsigned i, uint64_t echo, uint64_t now)
{
	struct server *s = &c->rdv[i];
	konce_addr refl[KONCE_RDVCLIENT_MAX_RDV];
	unsigned nrefl = reflexives(c, refl);
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .id = new_id(c), .stamp = echo, .nat = c->nat};
	memcpy(m.key, c->key, KONCE_WIRE_KEY);
	m.ncand = konce_candidates_gather(m.cand, KONCE_RDV_MAX_REG_CANDS, c->host, c->nhost, refl, nrefl,
				    c->mapped, c->nmapped);
	s->prev_txid = s->txid;
	s->txid = m.id;
	s->echoed = echo != 0;
	s->next = now + RETRY_MS * MS;
	c->c.registers++;
	send_msg(c, &m, &s->addr);
}

/* What every rendezvous saw, with the step refined by a later mapping if we know one. */
static konce_natinfo classify(const konce_rdvclient *c, const konce_addr *refl, unsigned nrefl)
{
	konce_natinfo ni = konce_candidates_classify(refl, nrefl);
	return nrefl ? konce_candidates_refine_all(ni, &refl[0], c->fresh, c->nfresh) : ni;
}

static void on_registered(konce_rdvclient *c, unsigned i, const konce_rdvwire_msg *m, uint64_t now)
{
	struct server *s = &c->rdv[i];
	/* The answer to the REGISTER before the last one counts too: REGISTERs queued together (behind
	 * the session's handshake) are answered together, and the rendezvous may hold back the later
	 * answer in its session's send path; echoing the first one keeps that hold out of its RTT
	 * sample (the start-time formula, docs/TRAVERSAL.md "Timing"). */
	if (!m->id || (m->id != s->txid && m->id != s->prev_txid)) {
		c->c.ignored++;
		return;
	}
	c->c.registered++;
	s->answered = true;
	s->txid = s->prev_txid = 0; /* answered: a duplicate is ignored */
	if (m->value)
		s->refresh = (uint64_t)m->value * MS;
	bool changed = !s->have_refl || !konce_addr_eq(&s->refl, &m->addr);
	s->have_refl = true;
	s->refl = m->addr;
	konce_addr refl[KONCE_RDVCLIENT_MAX_RDV];
	unsigned nrefl = reflexives(c, refl);
	/* classify only once every rendezvous has answered this round */
	konce_natinfo ni = nrefl == c->nrdv ? classify(c, refl, nrefl) : c->nat;
	if (nrefl == c->nrdv && memcmp(&ni, &c->nat, sizeof(ni)) != 0) {
		c->nat = ni;
		changed = true;
	}
	s->next = now + refresh_of(c, s);
	if (!s->echoed && m->stamp)
		send_register(c, i, m->stamp, now); /* the RTT sample */
	if (changed) {
		push_ev(c, KONCE_RDVCLIENT_EV_REFLEXIVE);
		/* tell the primary what the others saw */
		if (i != 0)
			send_register(c, 0, 0, now);
	}
}

static struct pending *pending_for(konce_rdvclient *c, const uint8_t *peer)
{
	for (unsigned i = 0; i < KONCE_RDVCLIENT_MAX_PENDING; i++)
		if (c->pend[i].used && memcmp(c->pend[i].peer, peer, KONCE_WIRE_KEY) == 0)
			return &c->pend[i];
	return NULL;
}

static bool allowed(const konce_rdvclient *c, const uint8_t *key)
{
	return !c->allow || c->allow(c->allow_ctx, key);
}

/* An introduction from a key we do not accept: tell the rendezvous, which tells the requester. */
static void refuse(konce_rdvclient *c, unsigned i, const konce_rdvwire_msg *intro)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REFUSE, .id = intro->id};
	memcpy(m.key, c->key, KONCE_WIRE_KEY);
	memcpy(m.target, intro->key, KONCE_WIRE_KEY);
	send_msg(c, &m, &c->rdv[i].addr);
}

/* The target of an introduction we asked for refuses us: valid only for the id of that INTRO. */
static void declined(konce_rdvclient *c, const konce_rdvwire_msg *m)
{
	struct recent *r = NULL;
	struct pending *p = NULL;
	for (unsigned j = 0; j < RECENT && !r; j++)
		if (m->id && c->recent[j].id == m->id && !memcmp(c->recent[j].peer, m->key, KONCE_WIRE_KEY))
			r = &c->recent[j];
	/* refused at the offer, before any INTRO: the id is our request's txid */
	for (unsigned j = 0; j < KONCE_RDVCLIENT_MAX_PENDING && !r && !p; j++)
		if (m->id && c->pend[j].used && c->pend[j].txid == m->id && !memcmp(c->pend[j].peer, m->key, KONCE_WIRE_KEY))
			p = &c->pend[j];
	if (!r && !p) {
		c->c.ignored++;
		return;
	}
	if (r)
		r->id = 0;
	if (p)
		p->used = false;
	c->c.intro_fails++;
	c->c.declined++;
	konce_rdvclient_event *e = push_ev(c, KONCE_RDVCLIENT_EV_INTRO_FAIL);
	if (e) {
		memcpy(e->peer, m->key, KONCE_WIRE_KEY);
		e->reason = KONCE_IFAIL_DECLINED;
	}
}

void konce_rdvclient_input(konce_rdvclient *c, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	unsigned i;
	for (i = 0; i < c->nrdv; i++)
		if (konce_addr_eq(&c->rdv[i].addr, from))
			break;
	konce_rdvwire_msg m;
	if (i == c->nrdv || konce_rdvwire_decode(&m, pkt, len)) {
		c->c.ignored++;
		return;
	}
	konce_rdvclient_event *e;
	struct pending *p;
	switch (m.type) {
	case KONCE_RDV_REGISTERED:
		on_registered(c, i, &m, now);
		return;
	case KONCE_RDV_INTRO_OFFER: {
		/* consent: the rendezvous releases our addresses and opens a relay pair only if we
		 * accept (node/base/wire.h) */
		c->c.offers++;
		if (memcmp(m.target, c->key, KONCE_WIRE_KEY) || !allowed(c, m.key)) {
			c->c.refused++;
			refuse(c, i, &m);
			return;
		}
		konce_rdvwire_msg a = {.type = KONCE_RDV_INTRO_ACCEPT, .id = m.id};
		memcpy(a.key, c->key, KONCE_WIRE_KEY);
		memcpy(a.target, m.key, KONCE_WIRE_KEY);
		send_msg(c, &a, &c->rdv[i].addr);
		return;
	}
	case KONCE_RDV_INTRO:
		if (!allowed(c, m.key)) {
			c->c.refused++;
			refuse(c, i, &m);
			return;
		}
		if ((p = pending_for(c, m.key)))
			p->used = false;
		if (m.flags & KONCE_INTRO_F_INITIATOR) {
			struct recent *r = &c->recent[c->recent_next++ % RECENT];
			memcpy(r->peer, m.key, KONCE_WIRE_KEY);
			r->id = m.id;
		}
		if (!(e = push_ev(c, KONCE_RDVCLIENT_EV_INTRO)))
			return;
		c->c.intros++;
		memcpy(e->peer, m.key, KONCE_WIRE_KEY);
		e->intro_id = m.id;
		e->delay_us = m.value;
		e->initiator = m.flags & KONCE_INTRO_F_INITIATOR;
		e->peer_nat = m.nat;
		e->ncand = m.ncand;
		memcpy(e->cand, m.cand, sizeof(m.cand[0]) * m.ncand);
		memcpy(e->secret, m.secret, sizeof(e->secret));
		sodium_memzero(m.secret, sizeof(m.secret));
		return;
	case KONCE_RDV_INTRO_FAIL:
		if (m.flags == KONCE_IFAIL_DECLINED) {
			declined(c, &m);
			return;
		}
		if (!(p = pending_for(c, m.key)) || p->txid != m.id) {
			c->c.ignored++;
			return;
		}
		p->used = false;
		c->c.intro_fails++;
		if ((e = push_ev(c, KONCE_RDVCLIENT_EV_INTRO_FAIL))) {
			memcpy(e->peer, m.key, KONCE_WIRE_KEY);
			e->reason = m.flags;
		}
		return;
	case KONCE_RDV_RELAYED:
		if (i != 0 || !allowed(c, m.key)) {
			c->c.refused++;
			return;
		}
		if (!(e = push_ev(c, KONCE_RDVCLIENT_EV_RELAYED)))
			return;
		c->c.relay_rx++;
		memcpy(e->peer, m.key, KONCE_WIRE_KEY);
		e->len = m.len;
		if (m.len)
			memcpy(e->data, m.payload, m.len);
		return;
	default:
		c->c.ignored++;
		return;
	}
}

static void send_intro_request(konce_rdvclient *c, struct pending *p, uint64_t now)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REQUEST, .id = p->txid};
	memcpy(m.key, c->key, KONCE_WIRE_KEY);
	memcpy(m.target, p->peer, KONCE_WIRE_KEY);
	p->tries++;
	p->next = now + RETRY_MS * MS;
	c->c.intro_requests++;
	send_msg(c, &m, &c->rdv[0].addr);
}

int konce_rdvclient_request_intro(konce_rdvclient *c, const uint8_t peer[KONCE_WIRE_KEY], uint64_t now)
{
	if (!c->rdv[0].answered)
		return -ENOTCONN;
	struct pending *p = pending_for(c, peer);
	for (unsigned i = 0; !p && i < KONCE_RDVCLIENT_MAX_PENDING; i++)
		if (!c->pend[i].used)
			p = &c->pend[i];
	if (!p)
		return -ENOSPC;
	p->used = true;
	memcpy(p->peer, peer, KONCE_WIRE_KEY);
	p->txid = new_id(c);
	p->tries = 0;
	send_intro_request(c, p, now);
	return 0;
}

int konce_rdvclient_relay(konce_rdvclient *c, const uint8_t peer[KONCE_WIRE_KEY], const uint8_t *data, size_t len,
			  uint64_t now)
{
	if (len > KONCE_RDV_MAX_RELAY)
		return -EMSGSIZE;
	if (!c->rdv[0].answered)
		return -ENOTCONN;
	konce_rdvwire_msg m = {.type = KONCE_RDV_RELAY, .payload = data, .len = len};
	memcpy(m.key, c->key, KONCE_WIRE_KEY);
	memcpy(m.target, peer, KONCE_WIRE_KEY);
	int r = send_msg(c, &m, &c->rdv[0].addr);
	if (!r)
		c->c.relay_tx++;
	return r;
}

int konce_rdvclient_set_mapped(konce_rdvclient *c, const konce_addr *mapped, unsigned n, uint64_t now)
{
	if (n > 2 || (n && !mapped))
		return -EINVAL;
	if (n == c->nmapped && (!n || !memcmp(c->mapped, mapped, sizeof(c->mapped[0]) * n)))
		return 0;
	c->nmapped = n;
	if (n)
		memcpy(c->mapped, mapped, sizeof(c->mapped[0]) * n);
	konce_rdvclient_reregister(c, now);
	return 0;
}

void konce_rdvclient_set_fresh_mapping(konce_rdvclient *c, const konce_addr *x, uint64_t now)
{
	konce_addr refl[KONCE_RDVCLIENT_MAX_RDV] = {0};
	unsigned nrefl = reflexives(c, refl);
	bool known = false;
	for (unsigned i = 0; i < c->nfresh; i++)
		known |= konce_addr_eq(&c->fresh[i], x);
	if (!known) {
		c->fresh[c->fresh_next] = *x;
		c->fresh_next = (c->fresh_next + 1) % FRESH;
		if (c->nfresh < FRESH)
			c->nfresh++;
	}
	if (nrefl != c->nrdv)
		return; /* applied when every rendezvous has answered */
	konce_natinfo ni = classify(c, refl, nrefl);
	if (!memcmp(&ni, &c->nat, sizeof(ni)))
		return;
	c->nat = ni;
	konce_rdvclient_reregister(c, now);
}

void konce_rdvclient_reregister(konce_rdvclient *c, uint64_t now)
{
	for (unsigned i = 0; i < c->nrdv; i++)
		send_register(c, i, 0, now);
}

uint64_t konce_rdvclient_next_timer(const konce_rdvclient *c)
{
	uint64_t t = UINT64_MAX;
	for (unsigned i = 0; i < c->nrdv; i++)
		t = c->rdv[i].next < t ? c->rdv[i].next : t;
	for (unsigned i = 0; i < KONCE_RDVCLIENT_MAX_PENDING; i++)
		if (c->pend[i].used && c->pend[i].next < t)
			t = c->pend[i].next;
	return t;
}

void konce_rdvclient_timer(konce_rdvclient *c, uint64_t now)
{
	/* all rendezvous together, so their reflexive addresses describe one moment of the NAT */
	bool due = false;
	for (unsigned i = 0; i < c->nrdv; i++)
		due |= c->rdv[i].next <= now;
	if (due)
		for (unsigned i = 0; i < c->nrdv; i++)
			if (c->rdv[i].next <= now + RETRY_MS * MS)
				send_register(c, i, 0, now);
	for (unsigned i = 0; i < KONCE_RDVCLIENT_MAX_PENDING; i++) {
		struct pending *p = &c->pend[i];
		if (!p->used || p->next > now)
			continue;
		if (p->tries >= INTRO_TRIES) {
			p->used = false;
			konce_rdvclient_event *e = push_ev(c, KONCE_RDVCLIENT_EV_INTRO_FAIL);
			if (e) {
				memcpy(e->peer, p->peer, KONCE_WIRE_KEY);
				e->reason = 0; /* no answer */
			}
			continue;
		}
		send_intro_request(c, p, now);
	}
}

bool konce_rdvclient_poll(konce_rdvclient *c, uint8_t buf[KONCE_RDV_MAX_MSG], size_t *len, konce_addr *to)
{
	if (!c->out_n)
		return false;
	const struct outq *q = &c->out[c->out_head];
	memcpy(buf, q->buf, q->len);
	*len = q->len;
	*to = q->to;
	c->out_head = (c->out_head + 1) % OUT_RING;
	c->out_n--;
	return true;
}

bool konce_rdvclient_poll_event(konce_rdvclient *c, konce_rdvclient_event *ev)
{
	if (!c->ev_n)
		return false;
	*ev = c->ev[c->ev_head];
	c->ev_head = (c->ev_head + 1) % EV_RING;
	c->ev_n--;
	return true;
}

bool konce_rdvclient_registered(const konce_rdvclient *c) { return c->rdv[0].answered; }

konce_natinfo konce_rdvclient_nat(const konce_rdvclient *c) { return c->nat; }

int konce_rdvclient_reflexive(const konce_rdvclient *c, unsigned i, konce_addr *addr)
{
	if (i >= c->nrdv || !c->rdv[i].have_refl)
		return -ENOENT;
	*addr = c->rdv[i].refl;
	return 0;
}

const struct konce_rdvclient_counters *konce_rdvclient_counters(const konce_rdvclient *c) { return &c->c; }
