/* node_trav_life.c - the mapping lifetime's plumbing: it hosts the sans-I/O core
 * (node/core/trav_life.h, which says what the lifetime does; composed with the node and traversal
 * cores by node/core/nctravlife.h) in the node.  It opens the probe socket the core names
 * (KONCE_TRAVLIFE_SOCK_PROBE: the node socket's IP, any port) and reads it, feeds the core the node
 * socket's LIFE_REQ datagrams, sends what the core returns from the socket it names, runs its one
 * timer, and logs its lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/core/trav_info.h"
#include "node/core/nctravlife.h"
#include "node/core/trav_life.h"
#include "node/io/node_int.h"
#include "node/io/node_trav_int.h"

#define SEC 1000000ULL

struct node_trav_life {
	struct node_trav *t;
	konce_nctravlife with; /* the node and traversal cores it is composed with */
	konce_travlife *core;
	int fd;         /* the probe socket, or -1 */
	bool v6;
	struct event *ev_read, *ev_timer;
};

static void log_line(void *ctx, int level, const char *text)
{
	struct node_trav_life *lf = ctx;
	node_log(lf->t->n, level, "%s", text);
}

/* ---- plumbing --------------------------------------------------------------------------------- */

static void flush(struct node_trav_life *lf)
{
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	unsigned sock;
	konce_addr to;
	bool node_sock = false;
	while (konce_travlife_poll(lf->core, &sock, buf, &len, &to)) {
		if (sock == KONCE_TRAVLIFE_SOCK_PROBE && lf->fd >= 0) {
			(void)konce_udp_send_one(lf->fd, lf->v6, buf, len, &to); /* lost: the search retries */
		} else if (!sock) {
			konce_udp_queue(lf->t->n->udp, buf, len, &to);
			node_sock = true;
		}
	}
	if (node_sock)
		konce_udp_flush(lf->t->n->udp);
	uint64_t at = konce_travlife_next_timer(lf->core), now = node_now_us();
	if (at == UINT64_MAX) {
		event_del(lf->ev_timer);
		return;
	}
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(d / SEC), (suseconds_t)(d % SEC)};
	event_add(lf->ev_timer, &tv);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct node_trav_life *lf = arg;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM]; /* anything larger than an answer is refused whole */
	konce_addr from;
	(void)what;
	for (int i = 0; i < 16; i++) {
		int n = konce_udp_recv_one(fd, buf, sizeof(buf), &from);
		if (n == -EAGAIN)
			break;
		if (n >= 0)
			konce_travlife_input(lf->core, KONCE_TRAVLIFE_SOCK_PROBE, buf, (size_t)n, &from, node_now_us());
	}
	node_trav_life_apply(lf->t);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node_trav_life *lf = arg;
	(void)fd;
	(void)what;
	konce_travlife_timer(lf->core, node_now_us());
	node_trav_life_apply(lf->t);
}

static int open_probe(struct node_trav_life *lf)
{
	struct konce_node *n = lf->t->n;
	konce_addr bind, local;
	int e;
	if ((e = konce_udp_local(n->udp, &bind)))
		return e;
	bind.port = 0;
	lf->v6 = !konce_addr_is_v4(&bind);
	if ((lf->fd = konce_udp_socket(&bind, &local)) < 0) {
		e = lf->fd;
		lf->fd = -1;
		return e;
	}
	konce_travlife_sock_opened(lf->core, &local);
	lf->ev_read = event_new(n->base, lf->fd, EV_READ | EV_PERSIST, on_read, lf);
	if (!lf->ev_read || event_add(lf->ev_read, NULL))
		return -ENOMEM;
	return 0;
}

int node_trav_life_start(struct node_trav *t, bool off, const konce_lifetime_cfg *life, char *err, size_t errlen)
{
	int e;
	konce_travlife_cfg c;
	struct node_trav_life *lf = calloc(1, sizeof(*lf));
	if (!lf)
		return -ENOMEM;
	lf->t = t;
	lf->fd = -1;
	lf->with = (konce_nctravlife){.c = t->n->core, .t = t->core, .log = log_line, .log_ctx = lf};
	if (!konce_nctravlife_cfg(&lf->with, off, life, &c)) {
		free(lf);
		return 0;
	}
	t->life = lf;
	if ((e = konce_travlife_new(&lf->core, &c, node_now_us()))) {
		snprintf(err, errlen, "nat_lifetime: bad bounds");
		return e;
	}
	if (!(lf->ev_timer = evtimer_new(t->n->base, on_timer, lf)))
		return -ENOMEM;
	if (konce_travlife_wants_probe(lf->core) && (e = open_probe(lf))) {
		if (!*err)
			snprintf(err, errlen, "cannot start the mapping lifetime experiments: %s", strerror(-e));
		return e;
	}
	flush(lf);
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
	if (lf->fd >= 0)
		close(lf->fd);
	konce_travlife_free(lf->core);
	free(lf);
	t->life = NULL;
}

void node_trav_life_datagram(struct node_trav *t, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct node_trav_life *lf = t->life;
	if (lf && lf->core) {
		konce_travlife_input(lf->core, 0, pkt, len, from, node_now_us());
		flush(lf);
	}
}

void node_trav_life_apply(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	if (!lf || !lf->core)
		return;
	konce_nctravlife_apply(&lf->with, lf->core, node_now_us());
	flush(lf); /* a rebound restarts the search: its next experiment is due now */
}

json_t *node_trav_life_json(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	konce_lifetime_status st;
	konce_addr probe;
	if (!lf || !konce_travlife_status(lf->core, &st, &probe))
		return json_pack("{s:s}", "state", "off");
	char as[KONCE_ADDR_STRLEN];
	const char *state = st.learned ? "learned" : st.state == KONCE_LIFE_NO_ANSWER ? "no-answer" : "learning";
	return json_pack("{s:s,s:s,s:b,s:o,s:o,s:f,s:f,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "state", state, "phase",
			 konce_lifetime_state_name(st.state), "below_min", st.below_min, "lower_bound_s",
			 st.lo_us ? json_real((double)st.lo_us / SEC) : json_null(), "upper_bound_s",
			 st.hi_us ? json_real((double)st.hi_us / SEC) : json_null(), "keepalive_s",
			 (double)st.keepalive_us / SEC, "testing_s", (double)st.testing_us / SEC, "probe_socket",
			 konce_addr_str(&probe, as), "experiments", (json_int_t)st.experiments, "successes",
			 (json_int_t)st.successes, "failures", (json_int_t)st.failures, "retries",
			 (json_int_t)st.retries, "no_acks", (json_int_t)st.no_acks, "rebounds", (json_int_t)st.rebounds);
}

json_t *node_trav_life_srv_json(struct node_trav *t)
{
	struct node_trav_life *lf = t->life;
	size_t pending;
	const struct konce_lifesrv_counters *c = lf ? konce_travlife_srv(lf->core, &pending) : NULL;
	if (!c)
		return json_null();
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)c->queued, "pending", (json_int_t)pending,
			 "probes", (json_int_t)c->probes, "rate_limited", (json_int_t)c->rate_limited, "busy",
			 (json_int_t)c->busy);
}
