/* portmap_policy.c - the port-mapping state machine; see portmap_policy.h for the diagram. */
#include <errno.h>
#include <string.h>

#include "nat/portmap_policy.h"

enum {
	DEFAULT_LIFETIME_S = 7200,
	RENEW_RETRY_MIN_US = 1000000, /* a failed renewal is retried no sooner than this */
};
#define DEFAULT_RETRY_MIN_US (30ULL * 1000000)
#define DEFAULT_RETRY_MAX_US (30ULL * 60 * 1000000)
#define DEFAULT_PERMANENT_US (20ULL * 60 * 1000000)
#define NEVER UINT64_MAX

struct konce_portmap_policy {
	const konce_env *env;
	konce_portmap_policy_cfg cfg;
	unsigned nprotos;
	enum konce_portmap_policy_state state;
	unsigned pi;                 /* index of the protocol being tried or held */
	uint32_t next_id, inflight;  /* inflight: id of the outstanding request, 0 = none */
	bool pending;                /* the state's request is still to be handed out */
	bool held;                   /* the router may hold a lease of ours (invariant 2) */
	bool restart;                /* DELETE came from reset(): start over afterwards */
	uint16_t want_port;          /* external port to ask for */
	uint32_t want_life;          /* lifetime to ask for */
	unsigned conflicts;
	konce_addr ext;              /* DISCOVER's address, then the mapping */
	bool have_mapping;
	konce_addr last_reported;
	bool reported;
	uint32_t granted;
	uint64_t renew_at, expires_at, retry_at;
	uint64_t backoff;
	enum konce_portmap_policy_err last_err;
	konce_portmap_policy_event evq[KONCE_PM_EVQ];
	unsigned evhead, evn;
};

static void push(konce_portmap_policy *p, const konce_portmap_policy_event *ev)
{
	if (p->evn == KONCE_PM_EVQ) { /* the consumer fell behind: the oldest event is the least useful */
		p->evhead = (p->evhead + 1) % KONCE_PM_EVQ;
		p->evn--;
	}
	p->evq[(p->evhead + p->evn) % KONCE_PM_EVQ] = *ev;
	p->evn++;
}

static void emit(konce_portmap_policy *p, enum konce_portmap_policy_ev_type t, enum konce_portmap_policy_err reason)
{
	konce_portmap_policy_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = t;
	ev.proto = p->cfg.protos[p->pi];
	ev.reason = reason;
	if (t == KONCE_PM_EV_MAPPED) {
		ev.external = p->ext;
		ev.lifetime_s = p->granted;
		ev.changed = p->reported && !konce_addr_eq(&p->ext, &p->last_reported);
		p->last_reported = p->ext;
		p->reported = true;
	}
	push(p, &ev);
}

int konce_portmap_policy_new(konce_portmap_policy **out, const konce_portmap_policy_cfg *cfg)
{
	const konce_env *env = cfg->env ? cfg->env : konce_env_default();
	unsigned n = 0;
	if (!cfg->internal_port)
		return -EINVAL;
	for (unsigned i = 0; i < KONCE_PM_MAX_PROTOS; i++) {
		uint8_t pr = cfg->protos[i];
		if (pr == KONCE_PM_PROTO_NONE)
			break;
		if (pr != KONCE_PM_PROTO_NATPMP && pr != KONCE_PM_PROTO_UPNP)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (cfg->protos[j] == pr)
				return -EINVAL;
		n++;
	}
	konce_portmap_policy *p = konce_env_alloc(env, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->env = env;
	p->cfg = *cfg;
	if (n == 0) {
		p->cfg.protos[0] = KONCE_PM_PROTO_NATPMP;
		p->cfg.protos[1] = KONCE_PM_PROTO_UPNP;
		n = 2;
	}
	p->nprotos = n;
	if (!p->cfg.external_port)
		p->cfg.external_port = p->cfg.internal_port;
	if (!p->cfg.lifetime_s)
		p->cfg.lifetime_s = DEFAULT_LIFETIME_S;
	if (!p->cfg.retry_min_us)
		p->cfg.retry_min_us = DEFAULT_RETRY_MIN_US;
	if (!p->cfg.retry_max_us)
		p->cfg.retry_max_us = DEFAULT_RETRY_MAX_US;
	if (p->cfg.retry_max_us < p->cfg.retry_min_us)
		p->cfg.retry_max_us = p->cfg.retry_min_us;
	if (!p->cfg.permanent_refresh_us)
		p->cfg.permanent_refresh_us = DEFAULT_PERMANENT_US;
	p->backoff = p->cfg.retry_min_us;
	p->state = KONCE_PM_IDLE;
	p->next_id = 1;
	*out = p;
	return 0;
}

void konce_portmap_policy_free(konce_portmap_policy *p)
{
	if (p)
		konce_env_free(p->env, p);
}

static void enter(konce_portmap_policy *p, enum konce_portmap_policy_state s)
{
	p->state = s;
	p->pending = (s == KONCE_PM_DISCOVER || s == KONCE_PM_ADD || s == KONCE_PM_RENEW || s == KONCE_PM_DELETE);
}

static void discover(konce_portmap_policy *p, unsigned pi)
{
	p->pi = pi;
	p->conflicts = 0;
	p->want_port = p->cfg.external_port;
	p->want_life = p->cfg.lifetime_s;
	p->have_mapping = false;
	enter(p, KONCE_PM_DISCOVER);
}

void konce_portmap_policy_start(konce_portmap_policy *p, uint64_t now)
{
	(void)now;
	if (p->state == KONCE_PM_IDLE)
		discover(p, 0);
}

static void lose(konce_portmap_policy *p, enum konce_portmap_policy_err why)
{
	if (p->have_mapping)
		emit(p, KONCE_PM_EV_LOST, why);
	p->have_mapping = false;
}

void konce_portmap_policy_stop(konce_portmap_policy *p, uint64_t now)
{
	(void)now;
	if (p->state == KONCE_PM_STOPPED || (p->state == KONCE_PM_DELETE && !p->restart))
		return;
	p->restart = false;
	if (p->held) {
		/* an ADD in flight may still be granted: delete whatever it got (invariant 2); its
		 * result will be stale, and DELETE's own result ends the cycle */
		p->inflight = 0;
		enter(p, KONCE_PM_DELETE);
	} else {
		p->inflight = 0;
		enter(p, KONCE_PM_STOPPED);
	}
	p->have_mapping = false;
}

void konce_portmap_policy_reset(konce_portmap_policy *p, uint64_t now)
{
	(void)now;
	if (p->state == KONCE_PM_IDLE || p->state == KONCE_PM_STOPPED ||
	    (p->state == KONCE_PM_DELETE && !p->restart))
		return;
	lose(p, KONCE_PM_OK);
	p->inflight = 0;
	p->backoff = p->cfg.retry_min_us;
	if (p->held) {
		p->restart = true;
		enter(p, KONCE_PM_DELETE);
	} else {
		discover(p, 0);
	}
}

bool konce_portmap_policy_next(konce_portmap_policy *p, uint64_t now, konce_portmap_policy_req *req)
{
	if (p->inflight)
		return false;
	if (p->state == KONCE_PM_MAPPED && now >= p->renew_at) {
		if (p->granted && now >= p->expires_at) { /* renewals kept failing: it is gone */
			p->held = false;
			lose(p, p->last_err);
			discover(p, 0);
		} else {
			enter(p, KONCE_PM_RENEW);
		}
	} else if (p->state == KONCE_PM_BACKOFF && now >= p->retry_at) {
		discover(p, 0);
	}
	if (!p->pending)
		return false;
	memset(req, 0, sizeof(*req));
	req->id = p->next_id++;
	if (!p->next_id)
		p->next_id = 1;
	req->proto = p->cfg.protos[p->pi];
	req->internal_port = p->cfg.internal_port;
	switch (p->state) {
	case KONCE_PM_DISCOVER: req->op = KONCE_PM_OP_DISCOVER; break;
	case KONCE_PM_ADD:
	case KONCE_PM_RENEW:
		req->op = p->state == KONCE_PM_ADD ? KONCE_PM_OP_ADD : KONCE_PM_OP_RENEW;
		req->external_port = p->want_port;
		req->lifetime_s = p->want_life;
		p->held = true;
		break;
	case KONCE_PM_DELETE:
		req->op = KONCE_PM_OP_DELETE;
		/* the port granted if known, else the one asked for */
		req->external_port = p->ext.port ? p->ext.port : p->want_port;
		break;
	default: return false;
	}
	p->pending = false;
	p->inflight = req->id;
	return true;
}

/* This protocol failed: try the next, or back off when none is left. */
static void next_proto(konce_portmap_policy *p, uint64_t now, enum konce_portmap_policy_err err)
{
	p->last_err = err;
	if (p->pi + 1 < p->nprotos) {
		discover(p, p->pi + 1);
		return;
	}
	emit(p, KONCE_PM_EV_UNAVAILABLE, err);
	p->pi = 0;
	p->retry_at = now + p->backoff;
	p->backoff = p->backoff > p->cfg.retry_max_us / 2 ? p->cfg.retry_max_us : p->backoff * 2;
	enter(p, KONCE_PM_BACKOFF);
}

static void mapped(konce_portmap_policy *p, uint64_t now, const konce_portmap_policy_result *r)
{
	/* a granted port of 0 would be nonsense: keep what was asked for */
	uint16_t port = r->external.port ? r->external.port : p->want_port;
	memcpy(p->ext.ip, r->external.ip, 16);
	p->ext.port = port;
	p->want_port = port; /* renew the same port */
	p->granted = r->lifetime_s;
	p->have_mapping = true;
	p->backoff = p->cfg.retry_min_us;
	if (p->granted) {
		uint64_t life = (uint64_t)p->granted * 1000000;
		p->expires_at = now + life;
		p->renew_at = now + life / 2;
	} else {
		p->expires_at = NEVER;
		p->renew_at = now + p->cfg.permanent_refresh_us;
	}
	enter(p, KONCE_PM_MAPPED);
}

int konce_portmap_policy_result_in(konce_portmap_policy *p, uint64_t now, const konce_portmap_policy_result *r)
{
	if (!p->inflight || r->id != p->inflight)
		return -ESTALE;
	p->inflight = 0;
	switch (p->state) {
	case KONCE_PM_DISCOVER:
		if (r->err) {
			next_proto(p, now, r->err);
		} else {
			p->ext = r->external;
			p->ext.port = 0;
			enter(p, KONCE_PM_ADD);
		}
		break;
	case KONCE_PM_ADD:
		if (!r->err) {
			mapped(p, now, r);
			emit(p, KONCE_PM_EV_MAPPED, KONCE_PM_OK);
		} else if (r->err == KONCE_PM_ERR_CONFLICT && ++p->conflicts < KONCE_PM_CONFLICT_TRIES) {
			uint8_t b[2];
			konce_env_random(p->env, b, 2);
			p->want_port = (uint16_t)(1024 + ((b[0] << 8 | b[1]) % (65536 - 1024)));
			enter(p, KONCE_PM_ADD);
		} else if (r->err == KONCE_PM_ERR_PERMANENT_ONLY && p->want_life) {
			p->want_life = 0;
			enter(p, KONCE_PM_ADD);
		} else {
			p->held = false; /* refused: the router holds nothing of ours */
			next_proto(p, now, r->err);
		}
		break;
	case KONCE_PM_RENEW:
		if (!r->err) {
			bool was = p->have_mapping;
			konce_addr before = p->ext;
			uint32_t life = p->granted;
			mapped(p, now, r);
			/* report a renewal only if something the caller advertises or schedules changed */
			if (!was || !konce_addr_eq(&before, &p->ext) || life != p->granted)
				emit(p, KONCE_PM_EV_MAPPED, KONCE_PM_OK);
		} else {
			p->last_err = r->err;
			enter(p, KONCE_PM_MAPPED);
			uint64_t left = p->expires_at == NEVER ? p->backoff : p->expires_at - now;
			uint64_t wait = left / 2 < RENEW_RETRY_MIN_US ? RENEW_RETRY_MIN_US : left / 2;
			if (wait > p->cfg.retry_max_us)
				wait = p->cfg.retry_max_us;
			p->renew_at = now + wait;
			if (p->expires_at != NEVER && p->renew_at > p->expires_at)
				p->renew_at = p->expires_at; /* konce_portmap_policy_next declares it lost then */
		}
		break;
	case KONCE_PM_DELETE:
		p->held = false;
		p->ext.port = 0;
		if (p->restart) {
			p->restart = false;
			discover(p, 0);
		} else {
			enter(p, KONCE_PM_STOPPED);
		}
		break;
	default: return -ESTALE;
	}
	return 0;
}

uint64_t konce_portmap_policy_wake(const konce_portmap_policy *p)
{
	if (p->inflight)
		return NEVER;
	if (p->pending)
		return 0;
	if (p->state == KONCE_PM_MAPPED)
		return p->renew_at;
	if (p->state == KONCE_PM_BACKOFF)
		return p->retry_at;
	return NEVER;
}

bool konce_portmap_policy_event_pop(konce_portmap_policy *p, konce_portmap_policy_event *ev)
{
	if (!p->evn)
		return false;
	*ev = p->evq[p->evhead];
	p->evhead = (p->evhead + 1) % KONCE_PM_EVQ;
	p->evn--;
	return true;
}

enum konce_portmap_policy_state konce_portmap_policy_state_of(const konce_portmap_policy *p) { return p->state; }

bool konce_portmap_policy_mapping(const konce_portmap_policy *p, konce_addr *external, enum konce_portmap_policy_proto *proto)
{
	if (!p->have_mapping)
		return false;
	if (external)
		*external = p->ext;
	if (proto)
		*proto = p->cfg.protos[p->pi];
	return true;
}

const char *konce_portmap_policy_proto_name(enum konce_portmap_policy_proto proto)
{
	switch (proto) {
	case KONCE_PM_PROTO_NATPMP: return "natpmp";
	case KONCE_PM_PROTO_UPNP: return "upnp";
	default: return "none";
	}
}

const char *konce_portmap_policy_op_name(enum konce_portmap_policy_op op)
{
	switch (op) {
	case KONCE_PM_OP_DISCOVER: return "discover";
	case KONCE_PM_OP_ADD: return "add";
	case KONCE_PM_OP_RENEW: return "renew";
	case KONCE_PM_OP_DELETE: return "delete";
	default: return "none";
	}
}

void konce_portmap_status_note(konce_portmap_status *st, const konce_portmap_policy_event *ev)
{
	switch (ev->type) {
	case KONCE_PM_EV_MAPPED:
		st->state = KONCE_PMST_MAPPED;
		st->proto = ev->proto;
		st->external = ev->external;
		break;
	case KONCE_PM_EV_LOST:
		st->state = KONCE_PMST_LOST;
		st->reason = ev->reason;
		break;
	case KONCE_PM_EV_UNAVAILABLE:
		st->state = KONCE_PMST_UNAVAILABLE;
		st->reason = ev->reason;
		break;
	}
}

const char *konce_portmap_status_name(enum konce_portmap_status_state s)
{
	switch (s) {
	case KONCE_PMST_OFF: return "off";
	case KONCE_PMST_TRYING: return "trying";
	case KONCE_PMST_MAPPED: return "mapped";
	case KONCE_PMST_UNAVAILABLE: return "unavailable";
	case KONCE_PMST_LOST: return "lost";
	}
	return "unknown";
}

const char *konce_portmap_policy_err_name(enum konce_portmap_policy_err err)
{
	switch (err) {
	case KONCE_PM_OK: return "ok";
	case KONCE_PM_ERR_NO_GATEWAY: return "no gateway answered";
	case KONCE_PM_ERR_REFUSED: return "the gateway refused";
	case KONCE_PM_ERR_CONFLICT: return "the external port is taken";
	case KONCE_PM_ERR_PERMANENT_ONLY: return "only permanent leases are supported";
	default: return "I/O error";
	}
}
