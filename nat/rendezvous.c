/* rendezvous.c - registrations in a keyed-hash table, introductions, relaying (rendezvous.h). */
#include "nat/rendezvous.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/base/khtab.h"
#include "node/base/ratelimit.h"

#define MS 1000ULL
enum { MAX_SLOTS = 1u << 20 };

struct reg {
	bool used;
	uint8_t key[KONCE_WIRE_KEY];
	konce_addr addr; /* where the last REGISTER came from: the reflexive address */
	konce_natinfo nat;
	uint8_t ncand;
	konce_cand cand[KONCE_RDV_MAX_REG_CANDS];
	uint64_t last; /* last REGISTER */
	uint64_t rtt;  /* smoothed, us; 0 = not measured */
	uint64_t stamp_sent; /* the stamp of our last REGISTERED: the only echo that is a sample */
	uint64_t offer_win;  /* start of this key's current KONCE_RDV_OFFER_MS window of offers */
	unsigned offer_n;    /* new offers it made as requester in that window */
};

/* An introduction offered to its target and not yet accepted (consent, node/base/wire.h). */
struct offer {
	bool used;
	uint8_t a[KONCE_WIRE_KEY], b[KONCE_WIRE_KEY]; /* requester, target */
	uint64_t id, txid, at;                        /* intro id; the requester's txid; when */
};

struct outq {
	konce_addr to;
	size_t len;
	uint8_t buf[KONCE_RDV_MAX_MSG];
};

struct konce_rendezvous {
	const konce_env *env;
	konce_rendezvous_cfg cfg;
	konce_khtab tab; /* struct reg, by key */
	konce_ratelimit *rl;
	konce_ratelimit *rl_new; /* new registrations per source (KONCE_RDV_NEW_*) */
	konce_ratelimit *rl_offer; /* new offers per requester source (KONCE_RDV_OFFER_SRC_*) */
	konce_relay *relay;
	struct outq *out;
	unsigned out_head, out_n;
	konce_khtab offers; /* struct offer, by (requester, target) */
	struct konce_rendezvous_counters c;
};

int konce_rendezvous_new(konce_rendezvous **out, const konce_rendezvous_cfg *cfg)
{
	*out = NULL;
	konce_rendezvous_cfg c = *cfg;
	c.env = c.env ? c.env : konce_env_default();
	c.slots = c.slots ? c.slots : 4096;
	c.expire_us = c.expire_us ? c.expire_us : KONCE_RDV_EXPIRE_MS * MS;
	c.refresh_ms = c.refresh_ms ? c.refresh_ms : KONCE_RDV_REFRESH_MS;
	c.rl_slots = c.rl_slots ? c.rl_slots : 4096;
	c.rl_rate = c.rl_rate ? c.rl_rate : 20;
	c.rl_burst = c.rl_burst ? c.rl_burst : 40;
	c.out_ring = c.out_ring ? c.out_ring : 256;
	if (c.slots > MAX_SLOTS)
		return -EINVAL;
	konce_rendezvous *r = konce_env_alloc(c.env, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->env = c.env;
	r->cfg = c;
	int err = konce_khtab_init(&r->tab, c.env, c.slots, MAX_SLOTS, sizeof(struct reg));
	if (err)
		goto fail;
	uint32_t n = konce_khtab_size(&r->tab);
	unsigned no = n / 4 > 64 ? n / 4 : 64; /* a quarter of the table may be waiting to accept */
	if ((err = konce_khtab_init(&r->offers, c.env, no, MAX_SLOTS, sizeof(struct offer))))
		goto fail;
	err = -ENOMEM;
	r->out = konce_env_alloc(c.env, (size_t)c.out_ring * sizeof(*r->out));
	if (!r->out)
		goto fail;
	if ((err = konce_ratelimit_new(&r->rl, c.env, c.rl_slots, c.rl_rate, c.rl_burst)) ||
	    (err = konce_ratelimit_new(&r->rl_new, c.env, c.rl_slots, 1, KONCE_RDV_NEW_BURST)) ||
	    (err = konce_ratelimit_new(&r->rl_offer, c.env, c.rl_slots, KONCE_RDV_OFFER_SRC_RATE,
				       KONCE_RDV_OFFER_SRC_BURST)) ||
	    (err = konce_relay_new(&r->relay, c.env, &c.relay)))
		goto fail;
	*out = r;
	return 0;
fail:
	konce_rendezvous_free(r);
	return err;
}

void konce_rendezvous_free(konce_rendezvous *r)
{
	if (!r)
		return;
	const konce_env *env = r->env;
	konce_ratelimit_free(r->rl);
	konce_ratelimit_free(r->rl_new);
	konce_ratelimit_free(r->rl_offer);
	konce_relay_free(r->relay);
	konce_env_free(env, r->out);
	konce_khtab_fini(&r->tab, env);
	konce_khtab_fini(&r->offers, env);
	sodium_memzero(r, sizeof(*r));
	konce_env_free(env, r);
}

static bool live(const konce_rendezvous *r, const struct reg *e, uint64_t now)
{
	return e->used && now - e->last < r->cfg.expire_us;
}

static struct reg *find(const konce_rendezvous *r, const uint8_t key[KONCE_WIRE_KEY], uint64_t now)
{
	uint32_t home = konce_khtab_home(&r->tab, key, KONCE_WIRE_KEY);
	for (unsigned i = 0; i < konce_khtab_run(&r->tab); i++) {
		struct reg *e = konce_khtab_at(&r->tab, home, i);
		if (live(r, e, now) && memcmp(e->key, key, KONCE_WIRE_KEY) == 0)
			return e;
	}
	return NULL;
}

static struct reg *claim(konce_rendezvous *r, const uint8_t key[KONCE_WIRE_KEY], uint64_t now)
{
	uint32_t home = konce_khtab_home(&r->tab, key, KONCE_WIRE_KEY);
	for (unsigned i = 0; i < konce_khtab_run(&r->tab); i++) {
		struct reg *e = konce_khtab_at(&r->tab, home, i);
		if (!live(r, e, now)) {
			memset(e, 0, sizeof(*e));
			e->used = true;
			memcpy(e->key, key, KONCE_WIRE_KEY);
			return e;
		}
	}
	return NULL;
}

static void send_msg(konce_rendezvous *r, const konce_rdvwire_msg *m, const konce_addr *to)
{
	if (r->out_n == r->cfg.out_ring) {
		r->c.out_dropped++;
		return;
	}
	struct outq *q = &r->out[(r->out_head + r->out_n) % r->cfg.out_ring];
	q->len = konce_rdvwire_encode(m, q->buf, sizeof(q->buf));
	if (!q->len)
		return;
	q->to = *to;
	r->out_n++;
}

static void on_register(konce_rendezvous *r, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	struct reg *e = find(r, m->key, now);
	if (e) {
		r->c.refreshed++;
	} else if (konce_ratelimit_charge(r->rl_new, from, KONCE_RDV_NEW_COST, now)) {
		/* a new key is charged to its source: one address cannot fill the table with keys */
		r->c.source_full++;
		return;
	} else if ((e = claim(r, m->key, now))) {
		r->c.registered++;
	} else {
		r->c.table_full++;
		return;
	}
	e->addr = *from;
	e->last = now;
	e->nat = m->nat;
	e->ncand = (uint8_t)m->ncand;
	memcpy(e->cand, m->cand, sizeof(e->cand[0]) * m->ncand);
	/* We measure the RTT ourselves: only the echo of the very stamp we sent this key last is a
	 * sample (a made-up older stamp would be a made-up RTT, and a long RTT delays the other side
	 * of every introduction by half of it), used once, and only under KONCE_RDV_RTT_MAX_MS (an
	 * echo held back longer is no round trip).  A peer can still answer late, but that delays
	 * its introductions by at most half the cap. */
	if (m->stamp && m->stamp == e->stamp_sent && now >= m->stamp && now - m->stamp < KONCE_RDV_RTT_MAX_MS * MS) {
		uint64_t sample = now - m->stamp;
		e->rtt = e->rtt ? (7 * e->rtt + sample) / 8 : sample;
		r->c.rtt_samples++;
	} else if (m->stamp) {
		r->c.rtt_refused++;
	}
	e->stamp_sent = now ? now : 1;
	konce_rdvwire_msg a = {.type = KONCE_RDV_REGISTERED, .id = m->id, .stamp = e->stamp_sent, .addr = *from,
			   .value = r->cfg.refresh_ms};
	send_msg(r, &a, from);
}

void konce_rendezvous_delays(uint64_t rtt_a, uint64_t rtt_b, uint32_t *delay_a, uint32_t *delay_b)
{
	uint64_t cap = KONCE_RDV_RTT_MAX_MS * MS;
	rtt_a = rtt_a < cap ? rtt_a : cap;
	rtt_b = rtt_b < cap ? rtt_b : cap;
	uint64_t max = rtt_a > rtt_b ? rtt_a : rtt_b, margin = KONCE_RDV_MARGIN_MS * MS;
	*delay_a = (uint32_t)((max - rtt_a) / 2 + margin);
	*delay_b = (uint32_t)((max - rtt_b) / 2 + margin);
}

/* The candidates about a peer that another may probe: its host and port-mapped ones as claimed,
 * and as its only reflexive address the one we saw it at (a claimed REFLEXIVE could name anyone's
 * address, turning the introduced peer into a reflector; docs/TRAVERSAL.md "amplification"). */
static void intro_to(konce_rendezvous *r, const struct reg *to, const struct reg *about, uint64_t id,
		     const uint8_t secret[KONCE_INTRO_SECRET_BYTES], uint32_t delay, bool initiator)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO, .flags = initiator ? KONCE_INTRO_F_INITIATOR : 0,
			   .id = id, .value = delay, .nat = about->nat};
	memcpy(m.key, about->key, KONCE_WIRE_KEY);
	memcpy(m.secret, secret, KONCE_INTRO_SECRET_BYTES);
	m.cand[m.ncand].type = KONCE_CAND_REFLEXIVE; /* what we saw goes first: it is the freshest */
	m.cand[m.ncand++].addr = about->addr;
	for (unsigned i = 0; i < about->ncand; i++)
		if (about->cand[i].type != KONCE_CAND_REFLEXIVE)
			m.cand[m.ncand++] = about->cand[i];
		else
			r->c.claimed_dropped++;
	send_msg(r, &m, &to->addr);
	sodium_memzero(m.secret, sizeof(m.secret));
}

/* The offer slot of (requester a, target b): the live one, or with claim a free or stale one of
 * its run; NULL if none. */
static struct offer *offer_slot(konce_rendezvous *r, const uint8_t *a, const uint8_t *b, uint64_t now, bool claim)
{
	uint8_t k[2 * KONCE_WIRE_KEY];
	memcpy(k, a, KONCE_WIRE_KEY);
	memcpy(k + KONCE_WIRE_KEY, b, KONCE_WIRE_KEY);
	uint32_t home = konce_khtab_home(&r->offers, k, sizeof(k));
	struct offer *free_o = NULL;
	for (unsigned i = 0; i < konce_khtab_run(&r->offers); i++) {
		struct offer *o = konce_khtab_at(&r->offers, home, i);
		bool live_o = o->used && now - o->at < KONCE_RDV_OFFER_MS * MS;
		if (live_o && !memcmp(o->a, a, KONCE_WIRE_KEY) && !memcmp(o->b, b, KONCE_WIRE_KEY))
			return o;
		if (!live_o && !free_o)
			free_o = o;
	}
	return claim ? free_o : NULL;
}

/* A new offer from requester a (at `from`): within its key's KONCE_RDV_OFFERS_PER_KEY unanswered
 * ones per KONCE_RDV_OFFER_MS window and its source's KONCE_RDV_OFFER_SRC_* bucket, so that
 * neither one key nor one address holds more than a bounded share of the offer table (a retry of
 * a pending offer is not new).  No cap per target: strangers filling one would lock out the
 * target's friends. */
static bool offer_allowed(konce_rendezvous *r, struct reg *a, const konce_addr *from, uint64_t now)
{
	if (!a->offer_win || now - a->offer_win >= KONCE_RDV_OFFER_MS * MS) {
		a->offer_win = now ? now : 1;
		a->offer_n = 0;
	}
	if (a->offer_n >= KONCE_RDV_OFFERS_PER_KEY) {
		r->c.offers_key_full++;
		return false;
	}
	if (konce_ratelimit_charge(r->rl_offer, from, 1, now)) {
		r->c.offers_source_full++;
		return false;
	}
	a->offer_n++;
	return true;
}

/* An answered offer leaves the table: it no longer counts against its requester's window. */
static void offer_done(struct reg *a, struct offer *o)
{
	if (a->offer_n && o->at >= a->offer_win)
		a->offer_n--;
	o->used = false;
}

/* Consent: the target hears only who asks (INTRO_OFFER); nothing about anyone's addresses leaves
 * and no relay pair opens until it accepts (on_intro_accept). */
static void on_intro_request(konce_rendezvous *r, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	r->c.intro_requests++;
	struct reg *a = find(r, m->key, now);
	if (!a || !konce_addr_eq(&a->addr, from)) {
		r->c.not_registered++;
		return;
	}
	konce_rdvwire_msg f = {.type = KONCE_RDV_INTRO_FAIL, .id = m->id};
	memcpy(f.key, m->target, KONCE_WIRE_KEY);
	if (r->cfg.allow && !r->cfg.allow(r->cfg.allow_ctx, m->key)) {
		r->c.intro_refused++;
		f.flags = KONCE_IFAIL_REFUSED;
		send_msg(r, &f, from);
		return;
	}
	struct reg *b = find(r, m->target, now);
	if (!b || b == a) {
		r->c.intro_unknown++;
		f.flags = KONCE_IFAIL_UNKNOWN;
		send_msg(r, &f, from);
		return;
	}
	struct offer *o = offer_slot(r, a->key, b->key, now, true);
	bool retry = o && o->used && now - o->at < KONCE_RDV_OFFER_MS * MS;
	if (!o)
		r->c.offers_full++;
	if (!o || (!retry && !offer_allowed(r, a, from, now))) {
		f.flags = KONCE_IFAIL_FULL;
		send_msg(r, &f, from);
		return;
	}
	if (retry) {
		/* a retry: the offer stands (same id; a refusal answers the latest txid) and goes out
		 * again, in case it or the target's answer was lost */
		o->txid = m->id;
		r->c.offers_dup++;
	} else {
		uint8_t idb[8];
		konce_env_random(r->env, idb, sizeof(idb));
		*o = (struct offer){.used = true, .id = wire_get64(idb), .txid = m->id, .at = now};
		memcpy(o->a, a->key, KONCE_WIRE_KEY);
		memcpy(o->b, b->key, KONCE_WIRE_KEY);
	}
	konce_rdvwire_msg off = {.type = KONCE_RDV_INTRO_OFFER, .id = o->id};
	memcpy(off.key, a->key, KONCE_WIRE_KEY);
	memcpy(off.target, b->key, KONCE_WIRE_KEY);
	send_msg(r, &off, &b->addr);
	r->c.offers++;
}

/* The target accepts: open the relay pair and send both INTROs (the delays from the RTTs now). */
static void on_intro_accept(konce_rendezvous *r, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	struct reg *b = find(r, m->key, now), *a = find(r, m->target, now);
	struct offer *o = a && b ? offer_slot(r, a->key, b->key, now, false) : NULL;
	if (!a || !b || !konce_addr_eq(&b->addr, from) || !o || o->id != m->id) {
		r->c.answers_unmatched++;
		return;
	}
	offer_done(a, o);
	/* relaying needs the pair; a full relay table still leaves the direct path to try */
	(void)konce_relay_open(r->relay, a->key, b->key, now);
	uint64_t dflt = KONCE_RDV_RTT_DEFAULT_MS * MS;
	uint32_t da, db;
	uint8_t secret[KONCE_INTRO_SECRET_BYTES];
	konce_env_random(r->env, secret, sizeof(secret));
	konce_rendezvous_delays(a->rtt ? a->rtt : dflt, b->rtt ? b->rtt : dflt, &da, &db);
	intro_to(r, a, b, m->id, secret, da, true);
	intro_to(r, b, a, m->id, secret, db, false);
	sodium_memzero(secret, sizeof(secret));
	r->c.intros++;
}

/* The target of an introduction refuses it: tell the requester, and relay nothing between them.
 * Only a pair we introduced (its relay pair is open) is answered, so a refusal cannot be made up
 * for keys that never met here; the requester checks the id against the INTRO it got. */
static void on_intro_refuse(konce_rendezvous *r, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	struct reg *b = find(r, m->key, now), *a = find(r, m->target, now);
	struct offer *o = a && b ? offer_slot(r, a->key, b->key, now, false) : NULL;
	uint64_t id = m->id;
	if (a && b && konce_addr_eq(&b->addr, from) && o && o->id == m->id) {
		offer_done(a, o); /* refused at the offer: nothing was released; the requester knows
				   * its request's txid */
		id = o->txid;
	} else if (!a || !b || !konce_addr_eq(&b->addr, from) ||
		   konce_relay_close(r->relay, m->key, m->target, now)) {
		r->c.answers_unmatched++;
		return;
	}
	konce_rdvwire_msg f = {.type = KONCE_RDV_INTRO_FAIL, .flags = KONCE_IFAIL_DECLINED, .id = id};
	memcpy(f.key, m->key, KONCE_WIRE_KEY);
	send_msg(r, &f, &a->addr);
	r->c.intro_declined++;
}

static void on_relay(konce_rendezvous *r, const konce_rdvwire_msg *m, const konce_addr *from, uint64_t now)
{
	struct reg *a = find(r, m->key, now), *b = find(r, m->target, now);
	if (!a || !b || !konce_addr_eq(&a->addr, from) ||
	    konce_relay_admit(r->relay, m->key, m->target, m->len, now)) {
		r->c.relay_refused++;
		return;
	}
	konce_rdvwire_msg o = {.type = KONCE_RDV_RELAYED, .payload = m->payload, .len = m->len};
	memcpy(o.key, m->key, KONCE_WIRE_KEY);
	send_msg(r, &o, &b->addr);
	r->c.relayed++;
}

void konce_rendezvous_input(konce_rendezvous *r, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m;
	r->c.rx++;
	if (konce_rdvwire_decode(&m, pkt, len)) {
		r->c.bad++;
		return;
	}
	switch (m.type) {
	case KONCE_RDV_REGISTER:
		if (konce_ratelimit_charge(r->rl, from, KONCE_RDV_COST_REGISTER, now)) {
			r->c.rate_limited++;
			return;
		}
		on_register(r, &m, from, now);
		return;
	case KONCE_RDV_INTRO_REQUEST:
		/* the requester pays for the answer it provokes too (KONCE_RDV_COST_REQUEST) */
		if (konce_ratelimit_charge(r->rl, from, KONCE_RDV_COST_REQUEST, now)) {
			r->c.rate_limited++;
			r->c.rate_limited_requests++;
			return;
		}
		on_intro_request(r, &m, from, now);
		return;
	case KONCE_RDV_RELAY:
		on_relay(r, &m, from, now); /* limited per pair, by the relay table */
		return;
	case KONCE_RDV_INTRO_ACCEPT:
		/* never charged: the target answers an offer a requester paid for, and an answer that
		 * matches no pending offer (or open pair, for a refusal) does nothing */
		on_intro_accept(r, &m, from, now);
		return;
	case KONCE_RDV_INTRO_REFUSE:
		on_intro_refuse(r, &m, from, now);
		return;
	default:
		r->c.bad++; /* messages for peers, not for us */
		return;
	}
}

bool konce_rendezvous_poll(konce_rendezvous *r, uint8_t buf[KONCE_RDV_MAX_MSG], size_t *len, konce_addr *to)
{
	if (!r->out_n)
		return false;
	const struct outq *q = &r->out[r->out_head];
	memcpy(buf, q->buf, q->len);
	*len = q->len;
	*to = q->to;
	r->out_head = (r->out_head + 1) % r->cfg.out_ring;
	r->out_n--;
	return true;
}

size_t konce_rendezvous_count(const konce_rendezvous *r, uint64_t now)
{
	size_t n = 0;
	for (uint32_t i = 0; i < konce_khtab_size(&r->tab); i++)
		n += live(r, konce_khtab_entry(&r->tab, i), now);
	return n;
}

size_t konce_rendezvous_capacity(const konce_rendezvous *r) { return konce_khtab_size(&r->tab); }

int konce_rendezvous_lookup(const konce_rendezvous *r, const uint8_t key[KONCE_WIRE_KEY], uint64_t now,
			    konce_addr *addr, uint64_t *rtt)
{
	const struct reg *e = find(r, key, now);
	if (!e)
		return -ENOENT;
	*addr = e->addr;
	*rtt = e->rtt;
	return 0;
}

const struct konce_rendezvous_counters *konce_rendezvous_counters(const konce_rendezvous *r) { return &r->c; }

const konce_relay *konce_rendezvous_relay(const konce_rendezvous *r) { return r->relay; }
