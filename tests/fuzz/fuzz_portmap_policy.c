/* fuzz_portmap_policy.c - the port-mapping policy under arbitrary results, stale answers, resets
 * and clocks.  Aborts if it breaks an invariant of portmap_policy.h:
 *   - more than one request outstanding;
 *   - a due wake-up (now >= konce_portmap_policy_wake) that yields no request;
 *   - stop not deleting a lease the router may hold (granted and not yet expired, or asked for
 *     and unanswered);
 *   - a MAPPED event without an external port, or a request after STOPPED;
 *   - memory not returned.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/portmap_policy.h"
#include "tests/fuzz/fuzz_env.h"

#define S 1000000ULL

struct model {
	bool inflight;
	konce_portmap_policy_req req;
	bool held;         /* the router may hold a lease of ours */
	uint64_t expires;  /* of the granted lease; UINT64_MAX = permanent or unknown */
};

static uint8_t take(const uint8_t **d, size_t *n)
{
	if (!*n)
		return 0;
	(*n)--;
	return *(*d)++;
}

static void check_events(konce_portmap_policy *p)
{
	konce_portmap_policy_event ev;
	while (konce_portmap_policy_event_pop(p, &ev))
		if (ev.type == KONCE_PM_EV_MAPPED && ev.external.port == 0)
			abort();
}

/* Asks for the due request; records it in the model. */
static void next(konce_portmap_policy *p, struct model *m, uint64_t now)
{
	konce_portmap_policy_req r;
	if (m->held && m->expires != UINT64_MAX && now >= m->expires)
		m->held = false; /* the router forgot it */
	uint64_t wake = konce_portmap_policy_wake(p);
	bool got = konce_portmap_policy_next(p, now, &r);
	if (got && m->inflight)
		abort(); /* invariant 1 */
	if (!got && !m->inflight && wake != UINT64_MAX && now >= wake)
		abort(); /* a due wake-up must produce a request */
	if (got && konce_portmap_policy_state_of(p) == KONCE_PM_STOPPED)
		abort();
	if (!got)
		return;
	m->inflight = true;
	m->req = r;
	if (r.op == KONCE_PM_OP_ADD || r.op == KONCE_PM_OP_RENEW) {
		if (!m->held)
			m->expires = UINT64_MAX; /* unknown until answered */
		m->held = true;
	}
	if (r.op == KONCE_PM_OP_DELETE)
		m->held = false;
}

static void answer(konce_portmap_policy *p, struct model *m, uint64_t now, const uint8_t **d, size_t *n)
{
	if (!m->inflight)
		return;
	konce_portmap_policy_result res;
	memset(&res, 0, sizeof(res));
	res.id = m->req.id;
	uint8_t e = take(d, n);
	res.err = (enum konce_portmap_policy_err)(e % 6);
	uint8_t ip[4] = {11, 0, 0, take(d, n)};
	uint16_t port = (uint16_t)(take(d, n) << 8 | take(d, n));
	konce_addr_from_v4(&res.external, ip, port);
	res.lifetime_s = take(d, n) % 16;
	m->inflight = false;
	if (konce_portmap_policy_result_in(p, now, &res))
		abort(); /* it was the outstanding one */
	if ((m->req.op == KONCE_PM_OP_ADD || m->req.op == KONCE_PM_OP_RENEW) && !res.err) {
		m->held = true;
		m->expires = res.lifetime_s ? now + res.lifetime_s * S : UINT64_MAX;
	}
	if (m->req.op == KONCE_PM_OP_ADD && res.err)
		m->held = m->expires != UINT64_MAX && now < m->expires; /* refused: only an older lease */
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_portmap_policy_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.env = &fz_env;
	cfg.internal_port = (uint16_t)(take(&d, &n) | 1);
	cfg.lifetime_s = take(&d, &n) % 20;
	uint8_t order = take(&d, &n) % 4;
	if (order == 1)
		cfg.protos[0] = KONCE_PM_PROTO_UPNP;
	else if (order == 2)
		cfg.protos[0] = KONCE_PM_PROTO_UPNP, cfg.protos[1] = KONCE_PM_PROTO_NATPMP;
	else if (order == 3)
		cfg.protos[0] = KONCE_PM_PROTO_NATPMP;
	cfg.retry_min_us = (take(&d, &n) % 8 + 1) * S;
	cfg.retry_max_us = (take(&d, &n) % 64 + 1) * S;

	unsigned long before = fz_allocs;
	konce_portmap_policy *p;
	if (konce_portmap_policy_new(&p, &cfg))
		abort();
	struct model m = {0};
	m.expires = UINT64_MAX;
	uint64_t now = 0;
	konce_portmap_policy_start(p, now);
	bool stopped = false;
	while (n && !stopped) {
		uint8_t op = take(&d, &n);
		switch (op % 7) {
		case 0: now += (uint64_t)take(&d, &n) * 100000; break;
		case 1: next(p, &m, now); break;
		case 2: answer(p, &m, now, &d, &n); break;
		case 3: { /* a stale or forged answer is refused and changes nothing */
			konce_portmap_policy_result res;
			memset(&res, 0, sizeof(res));
			res.id = m.inflight ? m.req.id + 1 + take(&d, &n) : take(&d, &n);
			enum konce_portmap_policy_state st = konce_portmap_policy_state_of(p);
			if (!(m.inflight && res.id == m.req.id) && konce_portmap_policy_result_in(p, now, &res) != -ESTALE)
				abort();
			if (konce_portmap_policy_state_of(p) != st)
				abort();
			break;
		}
		case 4:
			konce_portmap_policy_reset(p, now);
			m.inflight = false;
			break;
		case 5: { /* jump to the next wake-up */
			uint64_t w = konce_portmap_policy_wake(p);
			if (w != UINT64_MAX && w > now)
				now = w;
			next(p, &m, now);
			break;
		}
		case 6: stopped = op > 200; break;
		}
		check_events(p);
	}
	/* Shutdown: a lease the router may hold must be deleted. */
	if (m.held && m.expires != UINT64_MAX && now >= m.expires)
		m.held = false;
	bool held = m.held;
	konce_portmap_policy_stop(p, now);
	m.inflight = false; /* whatever was outstanding is stale now */
	konce_portmap_policy_req r;
	bool got = konce_portmap_policy_next(p, now, &r);
	if (held && (!got || r.op != KONCE_PM_OP_DELETE))
		abort();
	if (got) {
		if (r.op != KONCE_PM_OP_DELETE)
			abort();
		konce_portmap_policy_result res = {.id = r.id, .err = KONCE_PM_ERR_NO_GATEWAY};
		if (konce_portmap_policy_result_in(p, now, &res))
			abort();
	}
	if (konce_portmap_policy_state_of(p) != KONCE_PM_STOPPED || konce_portmap_policy_next(p, now + 3600 * S, &r))
		abort();
	konce_portmap_policy_free(p);
	(void)before;
	return 0;
}
