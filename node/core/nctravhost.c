/* nctravhost.c - the node's traversal cores as one unit a host runs (nctravhost.h). */
#include "node/core/nctravhost.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/core/rx_switch.h"
#include "node/core/trav_info.h"

static void hlog(const konce_nctravhost *h, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void hlog(const konce_nctravhost *h, int level, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	h->io.log(h->io.ctx, level, line);
}

void konce_nctravhost_schedule(konce_nctravhost *h)
{
	h->due = true;
	h->io.kick(h->io.ctx);
}

static void glue_kick(void *ctx) { konce_nctravhost_schedule(ctx); }

/* ---- the run ---------------------------------------------------------------------------------- */

/* ---- the extra sockets (socks) ---------------------------------------------------------------- */

static bool in_pool(unsigned sock) { return sock >= 1 && sock <= KONCE_PUNCH_BIRTHDAY; }

/* Opens sock if it is closed; *local its address.  0 or -errno (the pool's counters kept). */
static int sock_open(konce_nctravhost *h, unsigned sock, konce_addr *local)
{
	konce_nctravhost_sockstats *st = &h->socks.st;
	int e;
	if (sock < 1 || sock > KONCE_TRAVLIFE_SOCK_PROBE)
		return -EINVAL;
	if (!h->socks.open[sock]) {
		if ((e = h->io.open(h->io.ctx, sock, &h->socks.local[sock]))) {
			st->open_failed += in_pool(sock);
			return e;
		}
		h->socks.open[sock] = true;
		if (in_pool(sock)) {
			st->opened++;
			if (++st->open_now > st->open_max)
				st->open_max = st->open_now;
		}
	}
	*local = h->socks.local[sock];
	return 0;
}

static void sock_close(konce_nctravhost *h, unsigned sock)
{
	if (sock < 1 || sock > KONCE_TRAVLIFE_SOCK_PROBE || !h->socks.open[sock])
		return;
	h->io.close(h->io.ctx, sock);
	h->socks.open[sock] = false;
	h->socks.st.open_now -= in_pool(sock);
}

/* From the node socket (0) or an extra one: a pool socket opens on its first datagram, the others
 * send only while a core keeps them open. */
static void send_from(konce_nctravhost *h, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len,
		      bool ref)
{
	konce_addr local;
	int e = 0;
	if (sock > KONCE_TRAVLIFE_SOCK_PROBE)
		e = -EINVAL;
	else if (sock && !h->socks.open[sock])
		e = in_pool(sock) ? sock_open(h, sock, &local) : -ENOTCONN;
	if (!e)
		e = h->io.send(h->io.ctx, sock, to, pkt, len, ref);
	if (in_pool(sock)) {
		h->socks.st.tx += !e;
		h->bday_dropped += e != 0;
	}
}

/* The pool's sockets no attempt needs any more are closed (konce_trav_socks_needed). */
static void sweep(konce_nctravhost *h, uint64_t now)
{
	bool keep[KONCE_PUNCH_BIRTHDAY + 1] = {false};
	if (!h->socks.st.open_now || konce_trav_socks_needed(h->t, now, keep))
		return;
	for (unsigned i = 1; i <= KONCE_PUNCH_BIRTHDAY; i++)
		if (!keep[i])
			sock_close(h, i);
}

/* A socket the traversal core asks for (the filtering test's): opened, then reported. */
static void sock_event(konce_nctravhost *h, unsigned sock, bool open, uint64_t now)
{
	konce_addr local;
	int e;
	if (!open) {
		sock_close(h, sock);
		return;
	}
	if ((e = sock_open(h, sock, &local)))
		hlog(h, KONCE_LOG_WARN, "filtering test: cannot open a socket: %s", strerror(-e));
	konce_trav_sock_opened(h->t, sock, e ? NULL : &local, now);
}

static void drain(konce_nctravhost *h, uint64_t now)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	const uint8_t *pkt;
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_trav_event ev;
	/* the traversal core's datagrams (a punched path's session traffic among them) are lent to
	 * the socket, sent, then released (konce_trav_poll_ref): no copy on the way out */
	while (konce_trav_poll_ref(h->t, &sock, &pkt, &len, &to))
		send_from(h, sock, &to, pkt, len, true);
	h->io.flush(h->io.ctx);
	konce_trav_sent(h->t);
	while (h->life && konce_travlife_poll(h->life, &sock, buf, &len, &to))
		send_from(h, sock, &to, buf, len, false);
	while (konce_trav_poll_event(h->t, &ev)) {
		switch (ev.type) {
		case KONCE_TRAV_EV_LOG:
			h->io.log(h->io.ctx, ev.level, ev.text);
			break;
		case KONCE_TRAV_EV_REFLEXIVE:
			break; /* the core starts its filtering test itself */
		case KONCE_TRAV_EV_SOCK_OPEN:
		case KONCE_TRAV_EV_SOCK_CLOSE:
			sock_event(h, ev.sock, ev.type == KONCE_TRAV_EV_SOCK_OPEN, now);
			break;
		case KONCE_TRAV_EV_DECLINED:
			konce_nodecore_trav_declined(h->c, ev.pk, now); /* the host's drain reports it */
			break;
		case KONCE_TRAV_EV_PATH:
			break; /* logged by the core; konce path reads the state */
		}
		if (h->watch)
			h->watch(h->watch_ctx, &ev, now);
	}
}

uint64_t konce_nctravhost_next_timer(const konce_nctravhost *h)
{
	uint64_t at = konce_trav_next_timer(h->t);
	uint64_t l = h->life ? konce_travlife_next_timer(h->life) : UINT64_MAX;
	return l < at ? l : at;
}

void konce_nctravhost_run(konce_nctravhost *h, uint64_t now)
{
	if (!h->due && now < konce_nctravhost_next_timer(h))
		return;
	h->due = false;
	konce_trav_timer(h->t, now);
	drain(h, now);
	sweep(h, now);
	if (h->life) {
		konce_travlife_timer(h->life, now);
		/* a rebound restarts the search: its next experiment is due now */
		konce_nctravlife_apply(&h->life_with, h->life, now);
		drain(h, now);
	}
}

/* ---- what comes in ---------------------------------------------------------------------------- */

void konce_nctravhost_input(konce_nctravhost *h, unsigned sock, const uint8_t *pkt, size_t len,
			    const konce_addr *from, uint64_t now)
{
	/* a pool socket's only peers use (anything not for traversal is refused), the filtering
	 * test's, the lifetime's probe socket */
	h->socks.st.rx += in_pool(sock);
	if (!konce_nodecore_trav_input(h->t, h->life, sock, konce_rx_classify(pkt, len), pkt, len, from, now))
		konce_trav_count_refused(h->t);
}

void konce_nctravhost_portmap(konce_nctravhost *h, const konce_portmap_policy_event *ev, uint64_t now)
{
	char line[160];
	int level = konce_nodecore_trav_portmap(h->t, &h->pm, ev, now, line, sizeof line);
	h->io.log(h->io.ctx, level, line);
	konce_nctravhost_schedule(h);
}

/* ---- start and stop --------------------------------------------------------------------------- */

/* The lifetime core (nctravlife.h says when it runs) and its probe socket.  0, -EINVAL, -ENOMEM,
 * -errno, with err set. */
static int start_life(konce_nctravhost *h, const konce_travconf *su, uint64_t now, char *err, size_t errlen)
{
	konce_travlife_cfg lc;
	konce_addr local;
	int e;
	h->life_with = (konce_nctravlife){.c = h->c, .t = h->t, .log = h->io.log, .log_ctx = h->io.ctx};
	if (!konce_nctravlife_cfg(&h->life_with, su->life_off, &su->life, &lc))
		return 0;
	lc.env = konce_nodecore_env(h->c); /* also the mapping lifetime search's, unless su->life names one */
	if ((e = konce_travlife_new(&h->life, &lc, now))) {
		snprintf(err, errlen, "nat_lifetime: bad bounds");
		return e;
	}
	if (!konce_travlife_wants_probe(h->life))
		return 0;
	if ((e = sock_open(h, KONCE_TRAVLIFE_SOCK_PROBE, &local))) {
		snprintf(err, errlen, "cannot start the mapping lifetime experiments: %s", strerror(-e));
		return e;
	}
	konce_travlife_sock_opened(h->life, &local);
	return 0;
}

int konce_nctravhost_start(konce_nctravhost *h, konce_nodecore *c, const konce_travconf *su, const konce_addr *local,
			   const konce_nctravhost_io *io, uint64_t now, char *err, size_t errlen)
{
	konce_nodecore_hooks hooks;
	int e;
	*h = (konce_nctravhost){.c = c, .io = *io};
	konce_trav_cfg tc = {.env = konce_nodecore_env(c), .ep = konce_nodecore_ep(c), .pk = konce_nodecore_public_key(c),
			     .ops = konce_nodecore_trav_ops(c), .local = local};
	konce_travconf_trav_cfg(su, &tc);
	if ((e = konce_trav_new(&h->t, &tc, now))) {
		snprintf(err, errlen, "cannot start traversal: %s", strerror(-e));
		return e;
	}
	if ((e = start_life(h, su, now, err, errlen))) {
		konce_nctravhost_stop(h);
		return e;
	}
	h->glue = (konce_nodecore_trav_glue){.c = c, .t = h->t, .life = h->life, .kick = glue_kick, .kick_ctx = h};
	konce_nodecore_trav_hooks(&h->glue, &hooks);
	konce_nodecore_set_hooks(c, &hooks);
	hlog(h, KONCE_LOG_INFO, "traversal: rendezvous service %s, registering with %u rendezvous, %u host candidates",
	     konce_trav_has_service(h->t) ? "on" : "off", su->nrdv, su->nhost);
	konce_nctravhost_schedule(h); /* the first registration; the filtering service's second port */
	return 0;
}

void konce_nctravhost_stop(konce_nctravhost *h)
{
	if (h->c) /* the node core calls into the traversal cores no more */
		konce_nodecore_set_hooks(h->c, &(konce_nodecore_hooks){0});
	konce_travlife_free(h->life);
	konce_trav_free(h->t);
	h->life = NULL;
	h->t = NULL;
	h->c = NULL;
}

bool konce_nctravhost_wants_portmap(const konce_nctravhost *h, const konce_travconf *su, const konce_addr *local,
				    konce_portmap_policy_cfg *out)
{
	if (!su->portmap || !local || !konce_trav_has_client(h->t))
		return false;
	*out = (konce_portmap_policy_cfg){.internal_port = local->port};
	return true;
}

void konce_nctravhost_portmap_started(konce_nctravhost *h) { h->pm.state = KONCE_PMST_TRYING; }
