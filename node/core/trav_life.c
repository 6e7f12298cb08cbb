/* trav_life.c - the mapping lifetime in the node, sans-I/O (trav_life.h). */
#include "node/core/trav_life.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "konce/konce.h"
#include "node/base/wire.h"

#define SEC 1000000ULL

struct konce_travlife {
	const konce_env *env;
	konce_travlife_ops ops;
	konce_lifetime *l;      /* the client, or NULL */
	konce_lifesrv *srv;     /* the service, or NULL */
	unsigned nrdv;
	uint8_t rdv_pk[KONCE_TRAV_MAX_RDV][KONCE_WIRE_KEY];
	konce_addr rdv;         /* the primary rendezvous: where the experiments go */
	konce_addr probe_local;
	bool have_refl, applied_once;
	konce_addr refl;
	uint64_t applied;
	unsigned applied_npeers;
	uint64_t rx_other;      /* datagrams on the probe socket not from the rendezvous */
};

int konce_travlife_parse(const char *spec, bool *off, konce_lifetime_cfg *c, char *err, size_t errlen)
{
	*off = false;
	if (!spec || !*spec || !strcmp(spec, "auto"))
		return 0;
	if (!strcmp(spec, "off")) {
		*off = true;
		return 0;
	}
	unsigned long v[3];
	int n = 0;
	bool bad = false;
	const char *p = spec;
	while (n < 3) {
		char *end;
		if (*p < '0' || *p > '9') {
			bad = n > 0; /* a colon with no number after it */
			break;
		}
		v[n++] = strtoul(p, &end, 10);
		p = end;
		if (*p != ':')
			break;
		p++;
	}
	if (bad || *p || n < 2 || v[0] < 2 || v[n - 1] <= v[0] || v[n - 1] > KONCE_LIFE_MAX_DELAY_MS / 1000) {
		snprintf(err, errlen, "nat_lifetime: '%s' is not auto, off, MIN:MAX or MIN:START:MAX seconds "
				      "(2 <= MIN < MAX <= %d)", spec, KONCE_LIFE_MAX_DELAY_MS / 1000);
		return -EINVAL;
	}
	c->min_us = v[0] * SEC;
	c->max_us = v[n - 1] * SEC;
	c->start_us = n == 3 ? v[1] * SEC : 0;
	return 0;
}

int konce_travlife_new(konce_travlife **out, const konce_travlife_cfg *cfg, uint64_t now)
{
	*out = NULL;
	const konce_travlife_ops *o = &cfg->ops;
	if (cfg->nrdv > KONCE_TRAV_MAX_RDV || (cfg->client && (!cfg->nrdv || !o->each_peer || !o->set_keepalive ||
							       !o->set_rdv_keepalive || !o->set_path_keepalive || !o->log)))
		return -EINVAL;
	const konce_env *env = cfg->env ? cfg->env : konce_env_default();
	konce_travlife *l = konce_env_alloc(env, sizeof(*l));
	if (!l)
		return -ENOMEM;
	memset(l, 0, sizeof(*l));
	l->env = env;
	l->ops = *o;
	l->nrdv = cfg->nrdv;
	if (cfg->nrdv) {
		memcpy(l->rdv_pk, cfg->rdv_pk, cfg->nrdv * sizeof(l->rdv_pk[0]));
		l->rdv = cfg->rdv_addr[0];
	}
	int e = 0;
	konce_lifesrv_cfg sc = {.env = env};
	konce_lifetime_cfg lc = cfg->life;
	if (!lc.env)
		lc.env = env;
	if (cfg->server)
		e = konce_lifesrv_new(&l->srv, &sc);
	if (!e && cfg->client)
		e = konce_lifetime_new(&l->l, &lc, now);
	if (e) {
		konce_travlife_free(l);
		return e;
	}
	*out = l;
	return 0;
}

void konce_travlife_free(konce_travlife *l)
{
	if (!l)
		return;
	konce_lifetime_free(l->l);
	konce_lifesrv_free(l->srv);
	konce_env_free(l->env, l);
}

bool konce_travlife_wants_probe(const konce_travlife *l) { return l->l != NULL; }

void konce_travlife_sock_opened(konce_travlife *l, const konce_addr *local) { l->probe_local = *local; }

void konce_travlife_input(konce_travlife *l, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
			  uint64_t now)
{
	if (!sock) {
		if (l->srv)
			konce_lifesrv_input(l->srv, pkt, len, from, now);
	} else if (sock == KONCE_TRAVLIFE_SOCK_PROBE && l->l) {
		if (konce_addr_eq(from, &l->rdv))
			konce_lifetime_input(l->l, pkt, len, now);
		else
			l->rx_other++;
	}
}

bool konce_travlife_poll(konce_travlife *l, unsigned *sock, uint8_t buf[KONCE_LIFE_REQ_SIZE], size_t *len,
			 konce_addr *to)
{
	_Static_assert(KONCE_LIFE_ACK_SIZE <= KONCE_LIFE_REQ_SIZE, "a service datagram fits the buffer");
	if (l->l && konce_lifetime_poll(l->l, buf, len)) {
		*sock = KONCE_TRAVLIFE_SOCK_PROBE;
		*to = l->rdv;
		return true;
	}
	if (l->srv && konce_lifesrv_poll(l->srv, buf, len, to)) {
		*sock = 0;
		return true;
	}
	return false;
}

uint64_t konce_travlife_next_timer(const konce_travlife *l)
{
	uint64_t a = l->l ? konce_lifetime_next_timer(l->l) : UINT64_MAX;
	uint64_t b = l->srv ? konce_lifesrv_next_timer(l->srv) : UINT64_MAX;
	return a < b ? a : b;
}

void konce_travlife_timer(konce_travlife *l, uint64_t now)
{
	if (l->l && konce_lifetime_next_timer(l->l) <= now)
		konce_lifetime_timer(l->l, now);
	if (l->srv && konce_lifesrv_next_timer(l->srv) <= now)
		konce_lifesrv_timer(l->srv, now);
}

static void logf_(konce_travlife *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(konce_travlife *l, int level, const char *fmt, ...)
{
	char line[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->ops.log(l->ops.ctx, level, line);
}

static bool is_rdv(const konce_travlife *l, const uint8_t *pk)
{
	for (unsigned i = 0; i < l->nrdv; i++)
		if (!memcmp(pk, l->rdv_pk[i], KONCE_WIRE_KEY))
			return true;
	return false;
}

struct walk {
	konce_travlife *l;
	uint64_t rdv_k, other_k, now;
	bool others;
};

static void set_one(void *arg, const uint8_t pk[KONCE_WIRE_KEY], uint32_t conn)
{
	struct walk *w = arg;
	if (!conn)
		return;
	if (is_rdv(w->l, pk))
		w->l->ops.set_keepalive(w->l->ops.ctx, conn, w->rdv_k, w->now);
	else if (w->others)
		w->l->ops.set_keepalive(w->l->ops.ctx, conn, w->other_k, w->now);
}

void konce_travlife_apply(konce_travlife *l, const konce_addr *refl, unsigned npeers, uint64_t now)
{
	if (!l->l)
		return;
	if (refl) {
		if (l->have_refl && !konce_addr_eq(refl, &l->refl)) {
			char as[KONCE_ADDR_STRLEN];
			logf_(l, KONCE_LOG_INFO, "the NAT rebound us to %s: learning the mapping lifetime again",
			      konce_addr_str(refl, as));
			konce_lifetime_rebound(l->l, now);
		}
		l->refl = *refl;
		l->have_refl = true;
	}
	uint64_t k = konce_lifetime_keepalive(l->l);
	bool changed = !l->applied_once || k != l->applied;
	if (changed) {
		konce_lifetime_status st;
		konce_lifetime_status_get(l->l, &st);
		if (st.learned)
			logf_(l, KONCE_LOG_INFO, "mapping lifetime >= %.1f s: keepalive %.1f s", (double)st.lo_us / SEC,
			      (double)k / SEC);
		else
			logf_(l, KONCE_LOG_INFO, "mapping lifetime: learning (proven >= %.1f s): keepalive %.1f s",
			      (double)st.lo_us / SEC, (double)k / SEC);
	}
	l->ops.set_rdv_keepalive(l->ops.ctx, k);
	/* the registration refresh (a reliable message, every k) already holds the mapping and counts
	 * as session traffic; the PING, a little later, only fires if the refresh did not.  Other
	 * peers only ever get a shorter keepalive than the defaults: a longer one would also stretch
	 * the liveness check, and a peer behind a NAT of its own may rely on our packets to hold its
	 * side open. */
	uint64_t cap = KONCE_IDLE_TIMEOUT_MS * 1000ull / 3;
	struct walk w = {.l = l,
			 .rdv_k = k + k / 4 < cap ? k + k / 4 : cap,
			 .other_k = k < KONCE_KEEPALIVE_MS * 1000ull ? k : 0,
			 .now = now,
			 .others = changed || npeers != l->applied_npeers};
	l->ops.each_peer(l->ops.ctx, set_one, &w);
	if (w.others)
		l->ops.set_path_keepalive(l->ops.ctx, k < KONCE_PUNCH_PATH_KEEPALIVE_MS * 1000ull ? k : 0, now);
	l->applied = k;
	l->applied_once = true;
	l->applied_npeers = npeers;
}

bool konce_travlife_status(const konce_travlife *l, konce_lifetime_status *st, konce_addr *probe_local)
{
	if (!l || !l->l)
		return false;
	konce_lifetime_status_get(l->l, st);
	*probe_local = l->probe_local;
	return true;
}

int konce_travlife_mapping(const konce_travlife *l, konce_addr *x)
{
	return l && l->l ? konce_lifetime_mapping(l->l, x) : -ENOENT;
}

const struct konce_lifesrv_counters *konce_travlife_srv(const konce_travlife *l, size_t *pending)
{
	if (!l || !l->srv)
		return NULL;
	*pending = konce_lifesrv_pending(l->srv);
	return konce_lifesrv_counters(l->srv);
}

uint64_t konce_travlife_rx_other(const konce_travlife *l) { return l->rx_other; }
