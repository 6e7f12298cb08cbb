/* bench_sessions.c - live sessions holding keepalives at the default interval: CPU share of one
 * core and resident memory, on each side, beside the same processes idle with 0 sessions measured
 * in the same run.  Targets (issue "presences cost almost nothing"): 100,000 sessions in <= 200 MB
 * RSS and <= 2% of a core on each side.
 *
 * Two processes over loopback UDP, each one endpoint on one socket in its own loop (bench/loop.c):
 * the parent ("holder") opens N sessions to the child ("peer") and marks each wanted
 * (konce_ep_set_wanted), so it sends a PING after keepalive_ms without sending, and the peer
 * acknowledges it.  This is what a node behind a NAT pays to keep N peers reachable.  All
 * sessions come from one address, so the peer's per-source rate limit and handshake capacity are
 * raised to keep proof of work out of the way (this measures sessions, not admission).
 *
 * konce_ep_timer() visits only the sessions that are due (ep_timer.c), so CPU follows the
 * keepalive rate; the bench prints the timer calls and session visits beside it.  Where the
 * resident bytes go, it prints structure by structure per live session (konce_ep_mem, ep_mem.c),
 * and RSS split into anonymous memory and mapped files.
 *
 * Phases, each over the same fixed wall interval in both processes (CPU from getrusage):
 *   1. baseline: both endpoints exist (sized for N sessions), 0 sessions: the idle loop;
 *   2. N handshakes (at most WAVE in flight, for at most SETUP_S seconds: if fewer than N are
 *      up by then, the figures are printed for the count that is, and say so);
 *   3. warm-up of 1.5 keepalive intervals (10 s at least with MSG_BYTES), so every session is in
 *      its keepalive cycle;
 *   4. measure: only keepalives and their acks flow.  Every session must still be live after.
 * With MSG_BYTES > 0 the holder sends one message of that size on each session as it is set up,
 * so every session grows into a channel on both sides; the warm-up (longer than the shrink
 * interval, ep_msg.c) lets each shrink back to a presence, and the bench fails unless every one
 * did: the figures then show what presences cost after they were channels.
 *
 * Usage: bench_sessions [SESSIONS, default 100000] [KEEPALIVE_MS, default KONCE_KEEPALIVE_MS]
 *        [SECONDS, default one keepalive interval] [SETUP_S, default 900] [MSG_BYTES, default 0]
 * (with BENCH_QUICK=1 the defaults are 200 sessions, 200 ms, 0.4 s: a smoke test)
 * The endpoints' out and event rings have 1,024 slots (BENCH_RING=N: N slots; 0: the endpoint's
 * default of 256, as the daemon has them).  They are a fixed cost, resident as far as datagrams
 * and events have been written through them, and it is in the per-session figures: 4,096-slot
 * rings are 9.8 MB, 98 bytes a session at 100,000; 1,024-slot ones 24.  With 256 slots, one run
 * at 100,000 (6fed277) sent fewer datagrams than keepalives (3,856 against 3,990 a second on the
 * holder) and lost a session during the measurement: a keepalive due when the out ring was full
 * was sealed, dropped and counted as sent.  Since 9f1db14 it waits for room (ep_timer.c invariant
 * 5).  The bench prints the datagrams each side dropped for a full out ring (ring_full_datagrams),
 * in all and during the measurement, and how often due timers waited for room (timer_deferred).
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "bench/loop.h"

enum { WAVE = 256 }; /* handshakes in flight at once */

static const char *me = "bench_sessions";
static unsigned nsess = 100000, keepalive_ms = KONCE_KEEPALIVE_MS;
static double secs = 0, setup_s = 900;
static unsigned msg_bytes; /* one message per session at setup (0 = none) */
static unsigned ring = 1024; /* out and event ring slots (0 = the endpoint's default, as the daemon) */

typedef struct sample {
	double cpu_s, wall_s;
	uint64_t rx_packets, tx_packets, keepalive_tx, wakeups, timer_calls, visits;
	uint64_t sessions_live, evicted, idle_closed;
	uint64_t grown, shrunk, msgs_rx, msgs_delivered;
	uint64_t ring_full; /* datagrams dropped for a full out ring, since the endpoint began */
	uint64_t ring_full_phase; /* of them, during this phase */
	uint64_t deferred;  /* timers that waited for room in the out ring (timer_deferred) */
	uint64_t deferred_phase; /* of them, during this phase */
	uint64_t rekey_rx, challenges; /* during this phase: key updates received, path challenges sent
					* (what visits a session beside its keepalive: ep_timer.c) */
	long rss_kib;
	long rss_anon_kib, rss_file_kib; /* of it: anonymous memory, and mapped files (code, libraries) */
	long heap_kib; /* malloc's bytes in use (mallinfo2 uordblks): what the structures hold, without
			* the allocator's free holes that RSS keeps (handshake buffers freed after setup) */
	struct konce_ep_counters ctr; /* every counter, since the endpoint began */
	uint64_t sock_drops;          /* datagrams the kernel dropped at this side's socket (SO_MEMINFO) */
	struct konce_ep_mem_row mem[24]; /* konce_ep_mem (the names are the library's: valid in both
					  * processes after the fork) */
	unsigned n_mem;
} sample;

/* RssAnon and RssFile of /proc/self/status (kB); 0 where absent. */
static void rss_parts(long *anon, long *file)
{
	*anon = *file = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "RssAnon:", 8))
			*anon = strtol(line + 8, NULL, 10);
		else if (!strncmp(line, "RssFile:", 8))
			*file = strtol(line + 8, NULL, 10);
	}
	fclose(f);
}

/* Datagrams the kernel dropped at n's socket for a full receive buffer (SK_MEMINFO_DROPS). */
static uint64_t sock_drops(const bench_node *n)
{
	uint32_t mi[SK_MEMINFO_VARS] = {0};
	socklen_t l = sizeof mi;
	if (getsockopt(konce_udp_fd(n->udp), SOL_SOCKET, SO_MEMINFO, mi, &l) < 0 || l <= SK_MEMINFO_DROPS * sizeof mi[0])
		return 0;
	return mi[SK_MEMINFO_DROPS];
}

typedef struct meter {
	double c0;
	uint64_t t0, rx0, tx0, ka0, w0, tc0, v0, rf0, d0, rk0, pc0;
} meter;

static void meter_start(meter *m, const bench_node *n)
{
	const struct konce_ep_counters *c = konce_ep_counters(n->ep);
	m->c0 = bench_cpu_s();
	m->t0 = bench_now_us();
	m->rx0 = c->rx_packets;
	m->tx0 = c->tx_packets;
	m->ka0 = c->keepalive_tx;
	m->w0 = n->wakeups;
	m->tc0 = n->timer_calls;
	m->v0 = c->timer_visits;
	m->rf0 = c->ring_full_datagrams;
	m->d0 = c->timer_deferred;
	m->rk0 = c->rekey_rx;
	m->pc0 = c->path_challenge_tx;
}

static void meter_stop(const meter *m, const bench_node *n, sample *s)
{
	const struct konce_ep_counters *c = konce_ep_counters(n->ep);
	s->cpu_s = bench_cpu_s() - m->c0;
	s->wall_s = (double)(bench_now_us() - m->t0) / 1e6;
	s->rx_packets = c->rx_packets - m->rx0;
	s->tx_packets = c->tx_packets - m->tx0;
	s->keepalive_tx = c->keepalive_tx - m->ka0;
	s->wakeups = n->wakeups - m->w0;
	s->timer_calls = n->timer_calls - m->tc0;
	s->visits = c->timer_visits - m->v0;
	s->sessions_live = c->sessions_live;
	s->evicted = c->sessions_evicted;
	s->idle_closed = c->sessions_closed;
	s->grown = c->channels_grown;
	s->shrunk = c->channels_shrunk;
	s->msgs_rx = c->msgs_rx;
	s->msgs_delivered = c->msgs_delivered;
	s->ring_full = c->ring_full_datagrams;
	s->ring_full_phase = c->ring_full_datagrams - m->rf0;
	s->deferred = c->timer_deferred;
	s->deferred_phase = c->timer_deferred - m->d0;
	s->rekey_rx = c->rekey_rx - m->rk0;
	s->challenges = c->path_challenge_tx - m->pc0;
	s->rss_kib = bench_rss_kib();
	rss_parts(&s->rss_anon_kib, &s->rss_file_kib);
	s->heap_kib = (long)(mallinfo2().uordblks / 1024);
	s->ctr = *c;
	s->sock_drops = sock_drops(n);
	s->n_mem = konce_ep_mem(n->ep, s->mem, sizeof s->mem / sizeof s->mem[0]);
	if (s->n_mem > sizeof s->mem / sizeof s->mem[0])
		s->n_mem = sizeof s->mem / sizeof s->mem[0];
}

/* Where the bytes go, structure by structure, per live session: what is in use, and what is
 * allocated (arrays sized for max_sessions are resident only as far as they are touched; hashed
 * buckets are touched all over). */
static void print_mem(const sample *h, const sample *p, unsigned up)
{
	printf("  memory by structure, bytes per live session (konce_ep_mem): in use / allocated\n");
	printf("    %-44s %6s  %15s  %15s\n", "structure", "each", "holder", "peer");
	for (unsigned i = 0; i < h->n_mem && i < p->n_mem; i++) {
		const struct konce_ep_mem_row *a = &h->mem[i], *b = &p->mem[i];
		printf("    %-44s %6zu  %6.1f / %6.1f  %6.1f / %6.1f\n", a->name, a->each, (double)(a->each * a->used) / up,
		       (double)(a->each * a->n) / up, (double)(b->each * b->used) / up, (double)(b->each * b->n) / up);
	}
}

/* ---- the peer (child) ------------------------------------------------------------------------ */

typedef struct peer_ctx {
	konce_identity *sid;
	int ctl; /* commands from the parent: 'b' begin, 'e' end (report a sample), 'q' quit */
	long rss_before_ep;
} peer_ctx;

/* Sessions the peer closed: a handshake whose ACCEPT the holder never got leaves a session here
 * that idles out; the final check compares the live counts of both sides. */
static unsigned peer_closed;

static void peer_event(bench_node *n, const konce_ep_event *ev)
{
	(void)n;
	if (ev->type == KONCE_EV_CLOSED || ev->type == KONCE_EV_FAILED)
		peer_closed++;
}

static int peer_main(void *ctx, int wfd)
{
	peer_ctx *p = ctx;
	bench_node n = {.on_event = peer_event, .has_extra = true, .extra_fd = p->ctl};
	long rss0 = bench_rss_kib();
	if (bench_node_open_udp(&n))
		return 1;
	/* every session comes from the holder's one address and key: the per-source and per-key caps
	 * (ep_table.c), which this bench does not measure, are raised to the session count */
	/* the table keeps an eighth of its slots for sessions it dials (ep_table.c): room for N incoming,
	 * and a twentieth more for the sessions of handshakes whose ACCEPT was lost, which idle out here */
	unsigned in_room = nsess + nsess / 20 + 16;
	konce_ep_config cfg = {.identity = p->sid, .max_sessions = in_room + in_room / 7 + 8, .max_per_source = in_room,
			       .capacity = 2000000,
			       .rl_rate = 1u << 24, .rl_burst = 1u << 24, .out_ring = ring, .event_ring = ring,
			       .keepalive_ms = keepalive_ms};
	if (bench_node_start(&n, &cfg))
		return 1;
	if (write(wfd, &n.local, sizeof n.local) != (ssize_t)sizeof n.local ||
	    write(wfd, &rss0, sizeof rss0) != (ssize_t)sizeof rss0)
		return 1;
	meter m = {0};
	for (;;) {
		bench_node_step(&n, 1000000);
		if (!n.extra_ready)
			continue;
		char cmd;
		if (read(p->ctl, &cmd, 1) != 1 || cmd == 'q')
			break;
		if (cmd == 'b') {
			meter_start(&m, &n);
		} else if (cmd == 'e') {
			sample s;
			meter_stop(&m, &n, &s);
			if (write(wfd, &s, sizeof s) != (ssize_t)sizeof s)
				return 1;
		}
	}
	bench_node_close(&n);
	return 0;
}

/* ---- the holder (parent) --------------------------------------------------------------------- */

typedef struct holder {
	unsigned inflight, established, failed;
	unsigned why[8]; /* FAILED events by reason (KONCE_FAIL_TIMEOUT + i) */
	unsigned closed; /* CLOSED events */
} holder;

static void holder_event(bench_node *n, const konce_ep_event *ev)
{
	holder *h = n->ctx;
	switch (ev->type) {
	case KONCE_EV_ESTABLISHED:
		h->inflight--;
		h->established++;
		if (konce_ep_set_wanted(n->ep, ev->conn, true, bench_now_us()))
			bench_die(me, "konce_ep_set_wanted");
		if (msg_bytes) {
			static uint8_t msg[1 << 20];
			uint64_t id;
			if (konce_ep_msg_send(n->ep, ev->conn, msg, msg_bytes, KONCE_MSG_CLASS_DEFAULT, 0, bench_now_us(), &id))
				bench_die(me, "konce_ep_msg_send");
		}
		break;
	case KONCE_EV_FAILED:
		h->inflight--;
		h->failed++;
		if (ev->reason >= KONCE_FAIL_TIMEOUT && ev->reason < KONCE_FAIL_TIMEOUT + 8)
			h->why[ev->reason - KONCE_FAIL_TIMEOUT]++;
		break;
	case KONCE_EV_CLOSED:
		h->closed++;
		h->failed++;
		break;
	default:
		break;
	}
}

static void run_for(bench_node *n, double s)
{
	uint64_t end = bench_now_us() + (uint64_t)(s * 1e6);
	for (uint64_t now; (now = bench_now_us()) < end;)
		bench_node_step(n, end - now);
}

/* Both processes measure the same wall interval: the parent's own loop runs between 'b' and 'e'. */
static void measure(bench_node *n, int ctl, int rfd, sample *mine, sample *peer)
{
	meter m;
	if (write(ctl, "b", 1) != 1)
		bench_die(me, "ctl");
	meter_start(&m, n);
	run_for(n, secs);
	meter_stop(&m, n, mine);
	if (write(ctl, "e", 1) != 1)
		bench_die(me, "ctl");
	/* keep serving the sessions while the peer writes its sample */
	uint64_t limit = bench_now_us() + 5000000;
	for (;;) {
		struct timeval tv = {0, 0};
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(rfd, &rs);
		if (select(rfd + 1, &rs, NULL, NULL, &tv) > 0)
			break;
		if (bench_now_us() > limit)
			bench_die(me, "peer did not report");
		bench_node_step(n, 1000);
	}
	if (bench_read_full(rfd, peer, sizeof *peer, 5000))
		bench_die(me, "peer report");
}

/* The handshake's counters of one side (nonzero ones), since its endpoint began. */
static void print_hs_counter(void *ctx, const char *name, uint64_t v)
{
	static const char *const pre[] = {"hello_", "cookie_", "init_", "accept_", "hs_", "version_", "ring_full",
					  "simopen", "sessions_", "timer_deferred", "pow_"};
	if (!v)
		return;
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
		if (!strncmp(name, pre[i], strlen(pre[i]))) {
			printf(" %s %llu", name, (unsigned long long)v);
			(*(unsigned *)ctx)++;
			return;
		}
}

static void print_hs(const char *who, const sample *s)
{
	unsigned n = 0;
	printf("  handshake counters, %s:", who);
	konce_ep_counters_foreach(&s->ctr, print_hs_counter, &n);
	printf("; its socket dropped %llu datagrams (receive buffer full)\n", (unsigned long long)s->sock_drops);
}

static void print_pair(const char *what, const sample *s)
{
	double pps = (double)(s->rx_packets + s->tx_packets) / s->wall_s;
	printf("  %-34s %7.3f%% of a core  %9.0f pkt/s  (%7.0f tx/s, %7.0f rx/s, %6.0f keepalives/s)  RSS %7ld KiB  "
	       "%5.0f wakeups/s, %5.0f timer calls/s visiting %6.0f sessions/s\n",
	       what, 100 * s->cpu_s / s->wall_s, pps, (double)s->tx_packets / s->wall_s,
	       (double)s->rx_packets / s->wall_s, (double)s->keepalive_tx / s->wall_s, s->rss_kib,
	       (double)s->wakeups / s->wall_s, (double)s->timer_calls / s->wall_s, (double)s->visits / s->wall_s);
}

int main(int argc, char **argv)
{
	if (bench_quick()) {
		nsess = 200;
		keepalive_ms = 200;
		secs = 0.4;
	}
	if (argc > 1)
		nsess = (unsigned)strtoul(argv[1], NULL, 10);
	if (argc > 2)
		keepalive_ms = (unsigned)strtoul(argv[2], NULL, 10);
	if (argc > 3)
		secs = atof(argv[3]);
	if (argc > 4)
		setup_s = atof(argv[4]);
	if (argc > 5)
		msg_bytes = (unsigned)strtoul(argv[5], NULL, 10);
	if (secs == 0)
		secs = keepalive_ms / 1000.0;
	if (getenv("BENCH_RING"))
		ring = (unsigned)strtoul(getenv("BENCH_RING"), NULL, 10);
	if (sodium_init() < 0 || !nsess || !keepalive_ms || secs <= 0 || msg_bytes > 1 << 20)
		return 1;
	signal(SIGPIPE, SIG_IGN);

	peer_ctx pc = {0};
	konce_identity *cid = NULL;
	if (konce_identity_generate(&pc.sid, konce_env_default()) || konce_identity_generate(&cid, konce_env_default()))
		bench_die(me, "identity");
	int ctl[2];
	if (pipe(ctl) < 0)
		bench_die(me, "pipe");
	pc.ctl = ctl[0];
	pid_t pid;
	int rfd;
	konce_addr to;
	long peer_rss0, rss0 = bench_rss_kib();
	if (bench_fork(peer_main, &pc, &pid, &rfd))
		bench_die(me, "fork");
	close(ctl[0]);
	if (bench_read_full(rfd, &to, sizeof to, 5000) || bench_read_full(rfd, &peer_rss0, sizeof peer_rss0, 5000))
		bench_die(me, "peer did not start");

	holder h = {0};
	bench_node n = {.on_event = holder_event, .ctx = &h};
	if (bench_node_open_udp(&n))
		bench_die(me, "udp");
	konce_ep_config cfg = {.identity = cid, .max_sessions = nsess + 16, .out_ring = ring, .event_ring = ring,
			       .keepalive_ms = keepalive_ms};
	if (bench_node_start(&n, &cfg))
		bench_die(me, "endpoint");

	sample base_h, base_p, live_h, live_p;
	measure(&n, ctl[1], rfd, &base_h, &base_p);

	uint64_t t0 = bench_now_us();
	unsigned started = 0;
	const uint8_t *spk = konce_identity_public(pc.sid);
	uint64_t limit = t0 + (uint64_t)(setup_s * 1e6);
	while (h.established + h.failed < nsess && bench_now_us() < limit) {
		while (started < nsess && h.inflight < WAVE) {
			uint32_t conn;
			if (konce_ep_connect(n.ep, spk, &to, NULL, 0, bench_now_us(), &conn))
				bench_die(me, "connect");
			started++;
			h.inflight++;
		}
		bench_node_step(&n, 10000);
	}
	double hs_wall = (double)(bench_now_us() - t0) / 1e6;
	unsigned hs_failed = h.failed, closed_setup = h.closed;
	if (h.established != nsess)
		fprintf(stderr, "%s: only %u of %u sessions established (%u failed)\n", me, h.established, nsess,
			h.failed);
	double warm = 1.5 * keepalive_ms / 1000.0;
	if (msg_bytes && warm < 10)
		warm = 10; /* past the shrink interval (5 s, ep_msg.c) */
	run_for(&n, warm);
	measure(&n, ctl[1], rfd, &live_h, &live_p);
	unsigned failed_after = h.failed;

	if (write(ctl[1], "q", 1) != 1)
		bench_die(me, "ctl");
	close(ctl[1]);
	close(rfd);
	bench_reap(pid, 3000);

	printf("%s: %u sessions, keepalive every %u ms (default %u ms), %g s measured per phase, two processes "
	       "over loopback; out and event rings of %u slots%s\n",
	       me, nsess, keepalive_ms, (unsigned)KONCE_KEEPALIVE_MS, secs, ring ? ring : 256,
	       ring ? "" : " (the endpoint's default, as the daemon's)");
	printf("  %u handshakes in %.2f s (%.0f /s, both sides on a shared machine), %u failed\n", h.established,
	       hs_wall, h.established / hs_wall, hs_failed);
	printf("  failed handshakes by reason: timeout %u, version %u, pow too high %u, crypto %u; closed during setup %u\n",
	       h.why[KONCE_FAIL_TIMEOUT - KONCE_FAIL_TIMEOUT], h.why[KONCE_FAIL_VERSION - KONCE_FAIL_TIMEOUT],
	       h.why[KONCE_FAIL_POW_TOO_HIGH - KONCE_FAIL_TIMEOUT], h.why[KONCE_FAIL_CRYPTO - KONCE_FAIL_TIMEOUT],
	       closed_setup);
	print_hs("holder", &live_h);
	print_hs("peer", &live_p);
	print_pair("holder, 0 sessions (baseline)", &base_h);
	print_pair("holder, sessions wanted", &live_h);
	print_pair("peer, 0 sessions (baseline)", &base_p);
	print_pair("peer, sessions acking", &live_p);
	unsigned up = h.established; /* the figures below are for these */
	double ka_rate = (double)up * 1000.0 / keepalive_ms;
	double cpu_h = live_h.cpu_s / live_h.wall_s - base_h.cpu_s / base_h.wall_s;
	double cpu_p = live_p.cpu_s / live_p.wall_s - base_p.cpu_s / base_p.wall_s;
	printf("  expected keepalives: %.0f /s (sessions / interval); holder sent %.0f /s\n", ka_rate,
	       (double)live_h.keepalive_tx / live_h.wall_s);
	printf("  CPU above baseline: holder %.3f%%, peer %.3f%% of a core; per keepalive round trip %.2f us "
	       "(holder) + %.2f us (peer)\n",
	       100 * cpu_h, 100 * cpu_p, cpu_h * 1e6 / ka_rate, cpu_p * 1e6 / ka_rate);
	if (keepalive_ms != KONCE_KEEPALIVE_MS)
		printf("  scaled to the default keepalive of %u ms (CPU follows the keepalive rate: the timers visit "
		       "only sessions due): holder %.4f%%, peer %.4f%% of a core\n",
		       (unsigned)KONCE_KEEPALIVE_MS, 100 * cpu_h * keepalive_ms / KONCE_KEEPALIVE_MS,
		       100 * cpu_p * keepalive_ms / KONCE_KEEPALIVE_MS);
	if (live_h.timer_calls && live_p.timer_calls)
		printf("  timer calls: holder %.1f sessions visited per call, peer %.1f (of %u live)\n",
		       (double)live_h.visits / (double)live_h.timer_calls, (double)live_p.visits / (double)live_p.timer_calls,
		       up);
	printf("  RSS: holder %ld KiB before its endpoint, %ld with it and 0 sessions, %ld with %u: %.0f bytes per "
	       "session\n",
	       rss0, base_h.rss_kib, live_h.rss_kib, up, (double)(live_h.rss_kib - base_h.rss_kib) * 1024 / up);
	printf("  RSS: peer   %ld KiB before its endpoint, %ld with it and 0 sessions, %ld with %u: %.0f bytes per "
	       "session\n",
	       peer_rss0, base_p.rss_kib, live_p.rss_kib, up,
	       (double)(live_p.rss_kib - base_p.rss_kib) * 1024 / up);
	printf("  heap in use (malloc): holder %ld KiB with 0 sessions, %ld with %u: %.0f bytes per session; peer %ld, %ld: "
	       "%.0f bytes per session\n",
	       base_h.heap_kib, live_h.heap_kib, up, (double)(live_h.heap_kib - base_h.heap_kib) * 1024 / up,
	       base_p.heap_kib, live_p.heap_kib, (double)(live_p.heap_kib - base_p.heap_kib) * 1024 / up);
	printf("  RSS above the baseline, per session: holder %.0f anonymous + %.0f mapped files (code first run "
	       "after the baseline), peer %.0f + %.0f bytes\n",
	       (double)(live_h.rss_anon_kib - base_h.rss_anon_kib) * 1024 / up,
	       (double)(live_h.rss_file_kib - base_h.rss_file_kib) * 1024 / up,
	       (double)(live_p.rss_anon_kib - base_p.rss_anon_kib) * 1024 / up,
	       (double)(live_p.rss_file_kib - base_p.rss_file_kib) * 1024 / up);
	print_mem(&live_h, &live_p, up);
	printf("  targets for 100000 sessions: <= 200 MB RSS and <= 2%% of a core per side; measured with %u%s: "
	       "RSS holder %.0f MB, peer %.0f MB; CPU holder %.3f%%, peer %.3f%%\n",
	       up, up == nsess ? "" : " (NOT the count asked)", live_h.rss_kib / 1024.0,
	       live_p.rss_kib / 1024.0, 100 * live_h.cpu_s / live_h.wall_s, 100 * live_p.cpu_s / live_p.wall_s);
	printf("  live after the measurement: holder %llu, peer %llu sessions; %u closed or failed at the holder; the peer "
	       "closed %llu sessions in all, %llu of them evicted by its table's rules (ep_table.c)\n",
	       (unsigned long long)live_h.sessions_live, (unsigned long long)live_p.sessions_live, failed_after,
	       (unsigned long long)live_p.idle_closed, (unsigned long long)live_p.evicted);
	printf("  channels (ep_msg.c): holder grew %llu and shrank %llu back to presences, peer grew %llu and shrank "
	       "%llu; messages: %llu delivered, %llu received\n",
	       (unsigned long long)live_h.grown, (unsigned long long)live_h.shrunk, (unsigned long long)live_p.grown,
	       (unsigned long long)live_p.shrunk, (unsigned long long)live_h.msgs_delivered,
	       (unsigned long long)live_p.msgs_rx);
	printf("  datagrams dropped for a full out ring: holder %llu (%llu during the measurement), peer %llu (%llu); "
	       "timer waits for room in it (timer_deferred): holder %llu (%llu), peer %llu (%llu)\n",
	       (unsigned long long)live_h.ring_full, (unsigned long long)live_h.ring_full_phase,
	       (unsigned long long)live_p.ring_full, (unsigned long long)live_p.ring_full_phase,
	       (unsigned long long)live_h.deferred, (unsigned long long)live_h.deferred_phase,
	       (unsigned long long)live_p.deferred, (unsigned long long)live_p.deferred_phase);
	printf("  during the measurement: key updates received %.0f/s (holder), %.0f/s (peer); path challenges sent "
	       "%.0f/s, %.0f/s\n",
	       (double)live_h.rekey_rx / live_h.wall_s, (double)live_p.rekey_rx / live_p.wall_s,
	       (double)live_h.challenges / live_h.wall_s, (double)live_p.challenges / live_p.wall_s);
	bench_node_close(&n);
	konce_identity_free(cid);
	konce_identity_free(pc.sid);
	if (msg_bytes && (live_h.msgs_delivered < up || live_h.shrunk < live_h.grown || live_p.shrunk < live_p.grown))
		bench_die(me, "with MSG_BYTES, every session's message must be delivered and every channel shrunk");
	if (live_h.sessions_live < up || live_p.sessions_live < up)
		bench_die(me, "sessions were lost during the measurement: the figures above are not for the full count");
	if (up != nsess)
		fprintf(stderr, "%s: %u of %u sessions were set up (%u handshakes failed, %u still open when the %.0f s "
			"of setup ran out): the figures are for %u\n",
			me, up, nsess, hs_failed, nsess - up - hs_failed, setup_s, up);
	return 0;
}
