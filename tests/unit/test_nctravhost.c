/* test_nctravhost.c - the node's traversal cores as one unit a host runs (node/core/nctravhost.h),
 * on a real node core with a recording host (no socket):
 *
 *   - start: the INFO line, a first run scheduled (kick, due); a rendezvous needs no probe
 *     socket, a client opens the lifetime's probe socket at start and fails the start, with a
 *     reason, when it cannot;
 *   - a run: nothing when not due and no deadline passed; when scheduled, the service's second
 *     port is opened (SOCK_OPEN), and a
 *     socket that cannot be opened is logged as a warning; a client's run dials its rendezvous
 *     through the node core (the registration's session) and runs again at its next deadline,
 *     not before;
 *   - the next deadline is the earlier of both cores';
 *   - a datagram on an extra socket that traversal does not take is counted as refused;
 *   - the birthday pool: a socket opened on its first datagram, kept while the attempt runs,
 *     swept after it but for a verified path's socket, counted (opened, open now and at most, sent, received); one that cannot be
 *     opened drops its datagrams (bday_dropped); the unit opens only closed sockets, closes only
 *     open ones and sends only on open ones (the recording host asserts it on every call);
 *   - a port-mapping event is noted, logged and schedules a run;
 *   - whether to run the port-mapping worker: asked for, a client, and a known local port;
 *   - stop clears the node core's hooks (a bare key resolves no more);
 *   - both cores borrow the node core's env (memory and randomness: what makes a simulator's run
 *     reproducible), and give back through it all they took;
 *   - the host's watch sees each event after the run handled it; start clears it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "konce/konce.h"
#include "node/core/nctravhost.h"
#include "node/core/trav_info.h"
#include "node/core/trav_int.h"
#include "node/transport/identity.h"

/* What the host was asked to do. */
typedef struct rec {
	unsigned sends, flushes, kicks, closes, opens, logs;
	unsigned opened[KONCE_TRAVLIFE_SOCK_PROBE + 1];
	bool is_open[KONCE_TRAVLIFE_SOCK_PROBE + 1]; /* the host's sockets, as the unit's calls leave them */
	unsigned pool_sends, open_now_max;
	int open_result;
	int last_level;
	char last_log[256];
	char all_logs[4096];
} rec;

static int io_send(void *ctx, unsigned sock, const konce_addr *to, const uint8_t *pkt, size_t len, bool ref)
{
	rec *r = ctx;
	(void)to, (void)pkt, (void)len, (void)ref;
	assert_true(sock <= KONCE_TRAVLIFE_SOCK_PROBE);
	assert_true(!sock || r->is_open[sock]); /* the unit sends only on an open socket */
	r->sends++;
	r->pool_sends += sock >= 1 && sock <= KONCE_PUNCH_BIRTHDAY;
	return 0;
}

static void io_flush(void *ctx) { ((rec *)ctx)->flushes++; }

static int io_open(void *ctx, unsigned sock, konce_addr *local)
{
	rec *r = ctx;
	assert_true(sock >= 1 && sock <= KONCE_TRAVLIFE_SOCK_PROBE);
	assert_false(r->is_open[sock]); /* only a closed one is opened */
	r->opens++;
	if (r->open_result)
		return r->open_result;
	r->opened[sock]++;
	r->is_open[sock] = true;
	assert_int_equal(konce_addr_parse(local, "127.0.0.1:40000"), 0);
	local->port = (uint16_t)(40000 + sock);
	return 0;
}

static void io_close(void *ctx, unsigned sock)
{
	rec *r = ctx;
	assert_true(sock >= 1 && sock <= KONCE_TRAVLIFE_SOCK_PROBE);
	assert_true(r->is_open[sock]); /* only an open one is closed */
	r->is_open[sock] = false;
	r->closes++;
}

static void io_log(void *ctx, int level, const char *text)
{
	rec *r = ctx;
	r->logs++;
	r->last_level = level;
	snprintf(r->last_log, sizeof r->last_log, "%s", text);
	size_t l = strlen(r->all_logs);
	snprintf(r->all_logs + l, sizeof r->all_logs - l, "%s\n", text);
}

static void io_kick(void *ctx) { ((rec *)ctx)->kicks++; }

typedef struct rig {
	konce_identity *id;
	konce_nodecore *c;
	konce_nctravhost h;
	konce_travconf su;
	rec r;
	konce_nctravhost_io io;
	konce_addr local, rdv;
	uint64_t now;
	char err[256];
} rig;

static rig R;

/* A node core at 1 s and the configuration: a rendezvous (service) or a client of one at
 * 192.0.2.1:7000 (the lifetime search on unless life_off). */
static void rig_open_env(rig *g, bool service, bool life_off, const konce_env *env);
static void rig_open(rig *g, bool service, bool life_off) { rig_open_env(g, service, life_off, NULL); }
static void rig_open_env(rig *g, bool service, bool life_off, const konce_env *env)
{
	char list[128], key[KONCE_KEY_TEXT_LEN + 1];
	uint8_t k[KONCE_KEY_BYTES];
	memset(g, 0, sizeof *g);
	g->now = 1000000;
	assert_int_equal(konce_identity_generate(&g->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.env = env, .identity = g->id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&g->c, &cfg, g->now), 0);
	memset(k, 0x42, sizeof k);
	konce_key_to_text(key, k);
	snprintf(list, sizeof list, "%s@192.0.2.1:7000", key);
	konce_traversal_config tc = {.rendezvous = service, .rendezvous_peers = service ? NULL : list, .portmap = 1,
				     .lifetime = life_off ? "off" : NULL};
	assert_int_equal(konce_travconf_parse(&g->su, &tc, g->err, sizeof g->err), 0);
	assert_int_equal(konce_addr_parse(&g->local, "127.0.0.1:7807"), 0);
	assert_int_equal(konce_addr_parse(&g->rdv, "192.0.2.1:7000"), 0);
	g->io = (konce_nctravhost_io){io_send, io_flush, io_open, io_close, io_log, io_kick, &g->r};
}

static int rig_start(rig *g)
{
	g->err[0] = 0;
	return konce_nctravhost_start(&g->h, g->c, &g->su, &g->local, &g->io, g->now, g->err, sizeof g->err);
}

static int rig_teardown(void **state)
{
	(void)state;
	konce_nctravhost_stop(&R.h);
	konce_nodecore_free(R.c);
	konce_identity_free(R.id);
	R.c = NULL;
	R.id = NULL;
	return 0;
}

static void service_start_and_run(void **state)
{
	(void)state;
	rig_open(&R, true, false);
	assert_int_equal(rig_start(&R), 0);
	assert_non_null(strstr(R.r.all_logs, "traversal: rendezvous service on, registering with 0 rendezvous"));
	assert_int_equal(R.r.opens, 0); /* the service answers experiments: no probe socket */
	assert_non_null(R.h.life);
	assert_int_equal(R.r.kicks, 1);
	assert_true(R.h.due);
	konce_portmap_policy_cfg pc;
	assert_false(konce_nctravhost_wants_portmap(&R.h, &R.su, &R.local, &pc)); /* no client: nothing to offer */

	konce_nctravhost_run(&R.h, R.now);
	assert_false(R.h.due);
	assert_int_equal(R.r.opened[KONCE_TRAV_SOCK_ALT], 1); /* the filtering service's second port */
	assert_true(R.r.flushes >= 1);
	assert_int_equal(R.r.closes, 0); /* no birthday socket is open: none to sweep */

	/* not due, no deadline passed: a run does nothing */
	unsigned flushes = R.r.flushes;
	uint64_t at = konce_nctravhost_next_timer(&R.h);
	assert_true(at > R.now);
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(R.r.flushes, flushes);
	/* the deadline is the earlier of both cores' */
	uint64_t t = konce_trav_next_timer(R.h.t), l = konce_travlife_next_timer(R.h.life);
	assert_int_equal(at, t < l ? t : l);
}

static void service_alt_socket_fails(void **state)
{
	(void)state;
	rig_open(&R, true, true);
	assert_int_equal(rig_start(&R), 0);
	R.r.open_result = -EMFILE;
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(R.r.opens, 1);
	assert_non_null(strstr(R.r.all_logs, "filtering test: cannot open a socket: "));
}

static void client_registers(void **state)
{
	(void)state;
	rig_open(&R, false, false);
	assert_int_equal(rig_start(&R), 0);
	assert_int_equal(R.r.opened[KONCE_TRAVLIFE_SOCK_PROBE], 1); /* the lifetime search's socket */
	konce_portmap_policy_cfg pc;
	memset(&pc, 0xff, sizeof pc);
	assert_true(konce_nctravhost_wants_portmap(&R.h, &R.su, &R.local, &pc));
	assert_int_equal(pc.internal_port, R.local.port); /* the node socket's port, defaults for the rest */
	assert_int_equal(pc.external_port, 0);
	assert_int_equal(pc.lifetime_s, 0);
	assert_false(konce_nctravhost_wants_portmap(&R.h, &R.su, NULL, &pc)); /* no port to map */
	R.su.portmap = false;
	assert_false(konce_nctravhost_wants_portmap(&R.h, &R.su, &R.local, &pc));

	konce_nctravhost_run(&R.h, R.now);
	assert_true(R.r.flushes >= 1);
	/* the registration: a session with the rendezvous, dialled through the node core */
	konce_nc_dgref dg;
	bool to_rdv = false;
	while (konce_nodecore_poll_ref(R.c, &dg))
		to_rdv |= konce_addr_eq(&dg.to, &R.rdv);
	konce_nodecore_sent(R.c);
	assert_true(to_rdv);

	/* the registration's retry is the next deadline; not due before it, run at it */
	uint64_t at = konce_nctravhost_next_timer(&R.h);
	uint64_t t = konce_trav_next_timer(R.h.t), l = konce_travlife_next_timer(R.h.life);
	assert_int_equal(at, t < l ? t : l);
	assert_true(at > R.now && at != UINT64_MAX);
	unsigned flushes = R.r.flushes;
	konce_nctravhost_run(&R.h, at - 1);
	assert_int_equal(R.r.flushes, flushes);
	konce_nctravhost_run(&R.h, at);
	assert_true(R.r.flushes > flushes);
}

static void client_probe_socket_fails(void **state)
{
	(void)state;
	rig_open(&R, false, false);
	R.r.open_result = -EMFILE;
	assert_int_equal(rig_start(&R), -EMFILE);
	assert_non_null(strstr(R.err, "cannot start the mapping lifetime experiments"));
	assert_null(R.h.t); /* nothing left running */
	assert_null(R.h.life);
	/* without the lifetime search, no probe socket is needed */
	rig_teardown(NULL);
	rig_open(&R, false, true);
	R.r.open_result = -EMFILE;
	assert_int_equal(rig_start(&R), 0);
	assert_null(R.h.life);
	assert_int_equal(R.r.opens, 0);
}

static void extra_socket_refused(void **state)
{
	(void)state;
	konce_trav_info before, after;
	const uint8_t junk[] = {0xee, 1, 2, 3};
	rig_open(&R, false, true);
	assert_int_equal(rig_start(&R), 0);
	konce_trav_info_get(R.h.t, &before);
	konce_nctravhost_input(&R.h, 1, junk, sizeof junk, &R.rdv, R.now);
	konce_trav_info_get(R.h.t, &after);
	assert_int_equal(after.probes_refused, before.probes_refused + 1);
}

static void portmap_event(void **state)
{
	(void)state;
	rig_open(&R, false, true);
	assert_int_equal(rig_start(&R), 0);
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(R.h.pm.state, KONCE_PMST_OFF);
	konce_nctravhost_portmap_started(&R.h); /* the host's worker runs */
	assert_int_equal(R.h.pm.state, KONCE_PMST_TRYING);
	unsigned kicks = R.r.kicks;
	konce_portmap_policy_event ev = {.type = KONCE_PM_EV_MAPPED, .proto = KONCE_PM_PROTO_NATPMP, .lifetime_s = 7200};
	assert_int_equal(konce_addr_parse(&ev.external, "203.0.113.5:7807"), 0);
	konce_nctravhost_portmap(&R.h, &ev, R.now);
	assert_int_equal(R.h.pm.state, KONCE_PMST_MAPPED);
	assert_true(konce_addr_eq(&R.h.pm.external, &ev.external));
	assert_int_equal(R.r.last_level, KONCE_LOG_INFO);
	assert_true(R.h.due);
	assert_int_equal(R.r.kicks, kicks + 1);
	ev = (konce_portmap_policy_event){.type = KONCE_PM_EV_UNAVAILABLE, .reason = KONCE_PM_ERR_NO_GATEWAY};
	konce_nctravhost_portmap(&R.h, &ev, R.now);
	assert_int_equal(R.h.pm.state, KONCE_PMST_UNAVAILABLE);
	assert_int_equal(R.r.last_level, KONCE_LOG_DEBUG);
}

/* A birthday attempt toward a peer's one reflexive address, run to its first birthday round: our
 * side (endpoint-dependent, random ports) probes from the pool's sockets. */
static struct tpeer *birthday_attempt(rig *g)
{
	uint8_t pk[KONCE_WIRE_KEY], secret[KONCE_INTRO_SECRET_BYTES];
	konce_cand c = {KONCE_CAND_REFLEXIVE, {{0}, 0, 0}};
	memset(pk, 0x5a, sizeof pk);
	memset(secret, 0x33, sizeof secret); /* keys the probes' MACs */
	assert_int_equal(konce_addr_parse(&c.addr, "198.51.100.7:9000"), 0);
	static uint64_t intro_id = 9; /* each attempt its own introduction */
	konce_punch_intro in = {.intro_id = intro_id++, .delay_us = 0, .peer_cands = &c, .npeer = 1,
				.peer_nat = {KONCE_NATMAP_EIM, 0, 0}, .self_nat = {KONCE_NATMAP_EDM_RANDOM, 0, 0}, .secret = secret};
	struct tpeer *p = tpeer_get(g->h.t, pk, TPEER_SOLICITED, g->now);
	assert_non_null(p);
	uint64_t before = konce_punch_counters(p->pu)->birthday_probes; /* the earlier attempts' */
	assert_int_equal(konce_punch_start(p->pu, &in, g->now), 0);
	p->start_us = g->now;
	p->intro_id = in.intro_id;
	konce_nctravhost_schedule(&g->h);
	konce_nctravhost_run(&g->h, g->now);
	/* the birthday round starts 1 s in, one probe a millisecond (nat/punch.h): run at each
	 * deadline until it is through, before the next round (1.6 s) */
	uint64_t until = g->now + 1500000;
	while (konce_punch_counters(p->pu)->birthday_probes < before + KONCE_PUNCH_BIRTHDAY && g->now < until) {
		g->now = konce_nctravhost_next_timer(&g->h);
		konce_nctravhost_run(&g->h, g->now);
	}
	assert_int_equal(konce_punch_counters(p->pu)->birthday_probes, before + KONCE_PUNCH_BIRTHDAY);
	return p;
}

static unsigned pool_open(const rec *r)
{
	unsigned n = 0;
	for (unsigned i = 1; i <= KONCE_PUNCH_BIRTHDAY; i++)
		n += r->is_open[i];
	return n;
}

/* The birthday pool is the unit's: a pool socket opens on its first datagram (io.open, counted),
 * stays open while the attempt may still verify or be answered on it, and is closed by the sweep
 * once no attempt needs it; a datagram on a pool socket counts as received; a number opened again
 * later is a fresh socket. */
static void birthday_pool(void **state)
{
	(void)state;
	rig_open(&R, false, true);
	assert_int_equal(rig_start(&R), 0);
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(R.h.socks.st.opened, 0); /* nothing until a birthday probe goes */
	birthday_attempt(&R);
	const konce_nctravhost_sockstats *st = &R.h.socks.st;
	unsigned n = pool_open(&R.r);
	assert_int_equal(n, KONCE_PUNCH_BIRTHDAY); /* the whole pool toward the one address */
	assert_int_equal(st->opened, n);
	assert_int_equal(st->open_now, n);
	assert_int_equal(st->open_max, n);
	assert_int_equal(st->open_failed, 0);
	assert_int_equal(st->tx, KONCE_PUNCH_BIRTHDAY); /* one probe each */
	assert_int_equal(R.r.pool_sends, KONCE_PUNCH_BIRTHDAY);
	assert_int_equal(R.h.bday_dropped, 0);
	assert_int_equal(R.r.closes, 0); /* the attempt runs: every socket stays */

	const uint8_t junk[] = {0xee, 1, 2, 3};
	konce_addr from;
	assert_int_equal(konce_addr_parse(&from, "198.51.100.7:9000"), 0);
	konce_nctravhost_input(&R.h, 1, junk, sizeof junk, &from, R.now);
	konce_nctravhost_input(&R.h, KONCE_TRAV_SOCK_FILTER, junk, sizeof junk, &from, R.now);
	assert_int_equal(st->rx, 1); /* the pool's only */

	/* past the attempt's window, given up with no pair: the sweep closes them all */
	R.now += (KONCE_PUNCH_GIVEUP_MS + 1000) * 1000ull;
	konce_nctravhost_schedule(&R.h);
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(pool_open(&R.r), 0);
	assert_int_equal(st->open_now, 0);
	assert_int_equal(R.r.closes, n);
	assert_int_equal(st->open_max, n);

	/* a new attempt opens them again */
	unsigned opens = R.r.opens, closes = R.r.closes;
	struct tpeer *p = birthday_attempt(&R);
	assert_int_equal(R.r.opens, opens + KONCE_PUNCH_BIRTHDAY);
	assert_int_equal(pool_open(&R.r), KONCE_PUNCH_BIRTHDAY);
	assert_int_equal(st->opened, 2 * KONCE_PUNCH_BIRTHDAY);
	assert_int_equal(st->open_now, KONCE_PUNCH_BIRTHDAY);

	/* the peer's probe acked from socket 3 verifies the pair (3, its address): within the
	 * attempt's window every socket stays; after it, socket 3 alone, the path's */
	konce_punch_input(p->pu, 3, &from, true, p->intro_id, 1, R.now);
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(p->pu, &sock, &path) && sock == 3);
	konce_nctravhost_schedule(&R.h);
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(st->open_now, KONCE_PUNCH_BIRTHDAY);
	R.now = p->start_us + KONCE_PUNCH_GIVEUP_MS * 1000ull;
	konce_nctravhost_schedule(&R.h);
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(st->open_now, 1);
	assert_true(R.r.is_open[3]);
	assert_int_equal(R.r.closes, closes + KONCE_PUNCH_BIRTHDAY - 1);
}

/* A pool socket that cannot be opened (EMFILE) drops its datagrams: counted as not sent
 * (bday_dropped) and as failed opens, each datagram trying again. */
static void birthday_pool_open_fails(void **state)
{
	(void)state;
	rig_open(&R, false, true);
	assert_int_equal(rig_start(&R), 0);
	konce_nctravhost_run(&R.h, R.now);
	R.r.open_result = -EMFILE;
	birthday_attempt(&R);
	const konce_nctravhost_sockstats *st = &R.h.socks.st;
	assert_int_equal(st->open_failed, KONCE_PUNCH_BIRTHDAY);
	assert_int_equal(R.h.bday_dropped, st->open_failed);
	assert_int_equal(st->opened, 0);
	assert_int_equal(st->open_now, 0);
	assert_int_equal(st->tx, 0);
	assert_int_equal(R.r.pool_sends, 0);
}

static int outcomes;
static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	(void)ctx, (void)outcome, (void)reason, (void)data, (void)len;
	outcomes++;
}

static void stop_clears_hooks(void **state)
{
	(void)state;
	uint8_t pk[KONCE_KEY_BYTES];
	rig_open(&R, false, true);
	assert_int_equal(rig_start(&R), 0);
	memset(pk, 0x77, sizeof pk);
	/* a bare key: with the hooks, traversal resolves it and the send waits for the path */
	assert_int_equal(konce_nodecore_send(R.c, pk, 300, (const uint8_t *)"x", 1, NULL, on_outcome, NULL, R.now, NULL), 0);
	konce_nctravhost_stop(&R.h);
	assert_null(R.h.t);
	memset(pk, 0x78, sizeof pk);
	assert_true(konce_nodecore_send(R.c, pk, 300, (const uint8_t *)"x", 1, NULL, on_outcome, NULL, R.now, NULL) < 0);
}

/* An env that counts what goes through it (its randomness a counter: reproducible). */
typedef struct cenv {
	konce_env env;
	unsigned allocs, frees, randoms;
	uint8_t next;
} cenv;

static void *cenv_alloc(void *ctx, size_t size)
{
	((cenv *)ctx)->allocs++;
	return calloc(1, size);
}

static void cenv_free(void *ctx, void *ptr)
{
	((cenv *)ctx)->frees++;
	free(ptr);
}

static void cenv_random(void *ctx, uint8_t *buf, size_t len)
{
	cenv *e = ctx;
	e->randoms++;
	for (size_t i = 0; i < len; i++)
		buf[i] = e->next++;
}

/* What starting the unit takes from the node core's env (allocations, random draws), checking that
 * stopping it gives every allocation back (before a run: a run makes the node core dial). */
static void start_through(cenv *e, bool life_off, unsigned *allocs, unsigned *randoms)
{
	*e = (cenv){.env = {cenv_alloc, cenv_free, cenv_random, e}};
	rig_open_env(&R, false, life_off, &e->env);
	unsigned a = e->allocs, f = e->frees, r = e->randoms;
	assert_int_equal(rig_start(&R), 0);
	assert_int_equal(life_off, R.h.life == NULL);
	*allocs = e->allocs - a;
	*randoms = e->randoms - r;
	konce_nctravhost_stop(&R.h);
	assert_int_equal(e->allocs - a, e->frees - f); /* everything the cores took, given back */
	rig_teardown(NULL);
}

static void cores_borrow_node_env(void **state)
{
	(void)state;
	cenv e;
	unsigned trav_allocs, trav_randoms, both_allocs, both_randoms;
	start_through(&e, true, &trav_allocs, &trav_randoms);
	assert_true(trav_allocs > 0); /* the traversal core's memory */
	assert_true(trav_randoms > 0); /* its randomness */
	start_through(&e, false, &both_allocs, &both_randoms);
	assert_true(both_allocs > trav_allocs); /* and the lifetime core's */
	assert_true(both_randoms >= trav_randoms);
}

static const konce_nctravhost *watched;
static unsigned watch_events, watch_sock_open, watch_opened_before;
static void on_watch(void *ctx, const konce_trav_event *ev, uint64_t now)
{
	assert_ptr_equal(ctx, watched);
	assert_int_equal(now, R.now);
	watch_events++;
	if (ev->type == KONCE_TRAV_EV_SOCK_OPEN && ev->sock == KONCE_TRAV_SOCK_ALT) {
		watch_sock_open++;
		watch_opened_before = R.r.opened[KONCE_TRAV_SOCK_ALT]; /* handled before it is shown */
	}
}

static void watch_sees_events(void **state)
{
	(void)state;
	rig_open(&R, true, true);
	R.h.watch = on_watch; /* start clears what was there */
	assert_int_equal(rig_start(&R), 0);
	assert_null(R.h.watch);
	assert_null(R.h.watch_ctx);
	watched = &R.h;
	R.h.watch = on_watch;
	R.h.watch_ctx = &R.h;
	konce_nctravhost_run(&R.h, R.now);
	assert_int_equal(watch_sock_open, 1); /* the filtering service's second port */
	assert_int_equal(watch_opened_before, 1);
	assert_true(watch_events >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(service_start_and_run, rig_teardown),
		cmocka_unit_test_teardown(service_alt_socket_fails, rig_teardown),
		cmocka_unit_test_teardown(client_registers, rig_teardown),
		cmocka_unit_test_teardown(client_probe_socket_fails, rig_teardown),
		cmocka_unit_test_teardown(extra_socket_refused, rig_teardown),
		cmocka_unit_test_teardown(birthday_pool, rig_teardown),
		cmocka_unit_test_teardown(birthday_pool_open_fails, rig_teardown),
		cmocka_unit_test_teardown(portmap_event, rig_teardown),
		cmocka_unit_test_teardown(stop_clears_hooks, rig_teardown),
		cmocka_unit_test_teardown(cores_borrow_node_env, rig_teardown),
		cmocka_unit_test_teardown(watch_sees_events, rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
