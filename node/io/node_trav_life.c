/* node_trav_life.c - mapping lifetime in the node: the I/O glue of nat/lifetime.c (client) and
 * nat/lifesrv.c (rendezvous side).  docs/TRAVERSAL.md, "Mapping lifetime".
 *
 * Client: a node that registers runs the experiments from a socket of its own (the probe socket,
 * bound to the node's address with a free port), to the primary rendezvous's address, in bare
 * datagrams.  The node's socket could not serve: its mapping toward the rendezvous is refreshed
 * by the registration session all the time, and on an endpoint-independent NAT by every other
 * flow too.  The learned keepalive then drives what holds the node socket's mapping open:
 *     - the registration refresh (konce_rdvclient_set_keepalive), and
 *     - the PING interval of the sessions to the rendezvous (konce_ep_set_keepalive): 5/4 of it,
 *       so that it only fires when the refresh did not, and at most a third of the idle timeout
 *       so that the rendezvous never closes them.
 * It is applied after every traversal pump.  When the primary rendezvous reports a new reflexive
 * address for the node socket (the NAT rebound: the mapping was lost), the search starts again
 * from the conservative keepalive (konce_lifetime_rebound).
 *
 * Rendezvous: LIFE_REQ datagrams arriving on the node socket go to the lifesrv core; its ACKs and
 * delayed probes leave from the node socket.
 *
 * Other peers' sessions (25 s) and the DIRECT paths' keepalive probes (nat/punch.c, 10 s, also
 * the path's liveness check) only ever get shorter, when the learned keepalive is below their
 * default; they are updated when the keepalive or the number of peers changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/lifesrv.h"
#include "nat/lifetime.h"
#include "node/io/node_int.h"
#include "node/io/node_trav_int.h"

#define SEC 1000000ULL

struct node_trav_life {
	struct node_trav *t;
	konce_lifetime *l;
	konce_udp *udp;
	struct event *ev_read, *ev_timer;
	konce_addr probe_local;
	bool have_refl;
	konce_addr refl;
	uint64_t applied;
	unsigned applied_npeers;
	uint64_t rx_other; /* datagrams on the probe socket not from the rendezvous */
	konce_lifesrv *srv;
	struct event *ev_srv;
};

/* "" / NULL / "auto": defaults; "off"; "MIN:MAX" or "MIN:START:MAX" in whole seconds. */
static int parse_spec(const char *spec, bool *off, konce_lifetime_cfg *c, char *err, size_t errlen)
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
	const char *p = spec;
	while (n < 3) {
		char *end;
		if (*p < '0' || *p > '9')
			break;
		v[n++] = strtoul(p, &end, 10);
		p = end;
		if (*p != ':')
			break;
		p++;
	}
	if (*p || n < 2 || v[0] < 2 || v[n - 1] <= v[0] || v[n - 1] > KONCE_LIFE_MAX_DELAY_MS / 1000) {
		snprintf(err, errlen, "nat_lifetime: '%s' is not auto, off, MIN:MAX or MIN:START:MAX seconds "
				      "(2 <= MIN < MAX <= %d)", spec, KONCE_LIFE_MAX_DELAY_MS / 1000);
		return -EINVAL;
	}
	c->min_us = v[0] * SEC;
	c->max_us = v[n - 1] * SEC;
	c->start_us = n == 3 ? v[1] * SEC : 0;
	return 0;
}

static void arm(struct node_trav_life *lf)
{
	uint64_t at = konce_lifetime_next_timer(lf->l), now = node_now_us();
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(d / SEC), (suseconds_t)(d % SEC)};
	event_add(lf->ev_timer, &tv);
}

static void flush(struct node_trav_life *lf)
{
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	while (konce_lifetime_poll(lf->l, buf, &len))
		konce_udp_queue(lf->udp, buf, len, &lf->t->core->rdv_addr[0]);
	konce_udp_flush(lf->udp);
	node_trav_life_apply(lf->t);
	arm(lf);
}

static void on_rx(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav_life *lf = ctx;
	if (!konce_addr_eq(from, &lf->t->core->rdv_addr[0])) {
		lf->rx_other++;
		return;
	}
	konce_lifetime_input(lf->l, pkt, len, node_now_us());
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct node_trav_life *lf = arg;
	(void)fd;
	(void)what;
	konce_udp_recv(lf->udp, 4, on_rx, lf);
	flush(lf);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node_trav_life *lf = arg;
	(void)fd;
	(void)what;
	konce_lifetime_timer(lf->l, node_now_us());
	flush(lf);
}

static void srv_flush(struct node_trav_life *lf)
{
	uint8_t buf[KONCE_LIFE_SHORT_SIZE];
	size_t len;
	konce_addr to;
	while (konce_lifesrv_poll(lf->srv, buf, &len, &to))
		konce_udp_queue(lf->t->n->udp, buf, len, &to);
	konce_udp_flush(lf->t->n->udp);
	uint64_t at = konce_lifesrv_next_timer(lf->srv), now = node_now_us();
	if (at == UINT64_MAX) {
		event_del(lf->ev_srv);
		return;
	}
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(d / SEC), (suseconds_t)(d % SEC)};
	event_add(lf->ev_srv, &tv);
}

static void on_srv_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node_trav_life *lf = arg;
	(void)fd;
	(void)what;
	konce_lifesrv_timer(lf->srv, node_now_us());
	srv_flush(lf);
}

static int start_client(struct node_trav_life *lf, const konce_lifetime_cfg *lc, char *err, size_t errlen)
{
	struct konce_node *n = lf->t->n;
	konce_addr bind;
	int e;
	if ((e = konce_udp_local(n->udp, &bind)))
		return e;
	bind.port = 0;
	if ((e = konce_udp_open(&lf->udp, &bind, err, errlen)))
		return e;
	konce_udp_local(lf->udp, &lf->probe_local);
	if ((e = konce_lifetime_new(&lf->l, lc, node_now_us()))) {
		snprintf(err, errlen, "nat_lifetime: bad bounds");
		return e;
	}
	lf->ev_read = event_new(n->base, konce_udp_fd(lf->udp), EV_READ | EV_PERSIST, on_read, lf);
	lf->ev_timer = evtimer_new(n->base, on_timer, lf);
	if (!lf->ev_read || !lf->ev_timer || event_add(lf->ev_read, NULL))
		return -ENOMEM;
	arm(lf);
	return 0;
}

int node_trav_life_start(struct node_trav *t, const char *spec, char *err, size_t errlen)
{
	bool off;
	konce_lifetime_cfg lc = {0};
	int e = parse_spec(spec, &off, &lc, err, errlen);
	if (e)
		return e;
	if ((off || !t->core->rc) && !t->core->srv)
		return 0;
	struct node_trav_life *lf = calloc(1, sizeof(*lf));
	if (!lf)
		return -ENOMEM;
	lf->t = t;
	t->life = lf;
	if (t->core->srv) {
		if ((e = konce_lifesrv_new(&lf->srv, NULL)))
			return e;
		if (!(lf->ev_srv = evtimer_new(t->n->base, on_srv_timer, lf)))
			return -ENOMEM;
	}
	if (!off && t->core->rc && (e = start_client(lf, &lc, err, errlen))) {
		if (!*err)
			snprintf(err, errlen, "cannot start the mapping lifetime experiments: %s", strerror(-e));
		return e;
	}
	return 0;
}

void node_trav_life_free(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	if (!lf)
		return;
	if (lf->ev_read)
		event_free(lf->ev_read);
	if (lf->ev_timer)
		event_free(lf->ev_timer);
	if (lf->ev_srv)
		event_free(lf->ev_srv);
	konce_udp_close(lf->udp);
	konce_lifetime_free(lf->l);
	konce_lifesrv_free(lf->srv);
	free(lf);
	t->life = NULL;
}

void node_trav_life_datagram(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav_life *lf = t->life;
	if (lf && lf->srv) {
		konce_lifesrv_input(lf->srv, pkt, len, from, node_now_us());
		srv_flush(lf);
	}
}

static bool is_rdv(const struct node_trav *t, const uint8_t *pk)
{
	for (unsigned i = 0; i < t->core->nrdv; i++)
		if (!memcmp(pk, t->core->rdv_pk[i], KONCE_KEY_BYTES))
			return true;
	return false;
}

/* Other peers only ever get a shorter keepalive than the defaults (25 s for sessions, 10 s for a
 * direct path): a longer one would also stretch the liveness check, and a peer behind a NAT of its
 * own may rely on our packets to hold its side open. */
static void apply_others(struct node_trav *t, uint64_t k, uint64_t now)
{
	struct konce_node *n = t->n;
	uint64_t pk = k < KONCE_KEEPALIVE_MS * 1000ull ? k : 0;
	uint64_t dk = k < KONCE_PUNCH_PATH_KEEPALIVE_MS * 1000ull ? k : 0;
	for (unsigned b = 0; b < NODE_BUCKETS; b++)
		for (struct peer *p = n->by_pk[b]; p; p = p->pk_next)
			if (p->conn && !is_rdv(t, p->pk))
				konce_ep_set_keepalive(n->ep, p->conn, pk, now);
	konce_trav_set_path_keepalive(t->core, dk, now);
}

void node_trav_life_apply(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	konce_addr refl;
	if (!lf || !lf->l || !t->core->rc)
		return;
	uint64_t now = node_now_us();
	if (konce_rdvclient_reflexive(t->core->rc, 0, &refl) == 0) {
		if (lf->have_refl && !konce_addr_eq(&refl, &lf->refl)) {
			char as[KONCE_ADDR_STRLEN];
			node_log(t->n, KONCE_LOG_INFO, "the NAT rebound us to %s: learning the mapping lifetime again",
				 konce_addr_str(&refl, as));
			konce_lifetime_rebound(lf->l, now);
			arm(lf);
		}
		lf->refl = refl;
		lf->have_refl = true;
	}
	uint64_t k = konce_lifetime_keepalive(lf->l);
	if (k != lf->applied) {
		konce_lifetime_status st;
		konce_lifetime_status_get(lf->l, &st);
		if (st.learned)
			node_log(t->n, KONCE_LOG_INFO, "mapping lifetime >= %.1f s: keepalive %.1f s",
				 (double)st.lo_us / SEC, (double)k / SEC);
		else
			node_log(t->n, KONCE_LOG_INFO, "mapping lifetime: learning (proven >= %.1f s): keepalive %.1f s",
				 (double)st.lo_us / SEC, (double)k / SEC);
	}
	konce_rdvclient_set_keepalive(t->core->rc, k);
	/* the registration refresh (a reliable message, every k) already holds the mapping and counts as
	 * session traffic; the PING, a little later, only fires if the refresh did not */
	uint64_t sk = k + k / 4 < KONCE_IDLE_TIMEOUT_MS * 1000ull / 3 ? k + k / 4 : KONCE_IDLE_TIMEOUT_MS * 1000ull / 3;
	for (unsigned i = 0; i < t->core->nrdv; i++) {
		struct peer *p = node_peer_find(t->n, t->core->rdv_pk[i]);
		if (p && p->conn)
			konce_ep_set_keepalive(t->n->ep, p->conn, sk, now);
	}
	if (k != lf->applied || t->n->npeers != lf->applied_npeers)
		apply_others(t, k, now);
	lf->applied = k;
	lf->applied_npeers = t->n->npeers;
}

json_t *node_trav_life_json(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	if (!lf || !lf->l)
		return json_pack("{s:s}", "state", "off");
	konce_lifetime_status st;
	char as[KONCE_ADDR_STRLEN];
	konce_lifetime_status_get(lf->l, &st);
	const char *state = st.learned ? "learned" : st.state == KONCE_LIFE_NO_ANSWER ? "no-answer" : "learning";
	return json_pack("{s:s,s:s,s:b,s:o,s:o,s:f,s:f,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "state", state, "phase",
			 konce_lifetime_state_name(st.state), "below_min", st.below_min, "lower_bound_s",
			 st.lo_us ? json_real((double)st.lo_us / SEC) : json_null(), "upper_bound_s",
			 st.hi_us ? json_real((double)st.hi_us / SEC) : json_null(), "keepalive_s",
			 (double)st.keepalive_us / SEC, "testing_s", (double)st.testing_us / SEC, "probe_socket",
			 konce_addr_str(&lf->probe_local, as), "experiments", (json_int_t)st.experiments, "successes",
			 (json_int_t)st.successes, "failures", (json_int_t)st.failures, "retries",
			 (json_int_t)st.retries, "no_acks", (json_int_t)st.no_acks, "rebounds", (json_int_t)st.rebounds);
}

json_t *node_trav_life_srv_json(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	if (!lf || !lf->srv)
		return json_null();
	const struct konce_lifesrv_counters *c = konce_lifesrv_counters(lf->srv);
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)c->queued, "pending",
			 (json_int_t)konce_lifesrv_pending(lf->srv), "probes", (json_int_t)c->probes, "rate_limited",
			 (json_int_t)c->rate_limited, "busy", (json_int_t)c->busy);
}
