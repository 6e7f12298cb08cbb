/* bench_group.c - group decisions on real nodes over loopback: commit latency and decisions per
 * second for groups of 1, 3 and 5 members, beside a request/reply baseline from the same run.
 *
 * All nodes run in this process on one libevent base (the daemon's code: konce_node_new, the
 * public group API of include/konce/group.h, a SQLite store per node in a temporary directory,
 * synchronous = FULL), on 127.0.0.1.  One loop thread serves every node, so a figure for 5
 * members includes the CPU of all five: it is a floor for what five machines would do, not a
 * forecast.  Each node writes its group records on its own store writer thread (node/io/node_storew.c),
 * so the members' fsyncs overlap, as they do on separate machines.
 *
 * Baseline: sequential request/reply round trips (KONCE_CLASS_ECHO) from node 0 to node 1: the
 * network part of a commit without its durability.  A 1-member group adds the durability part
 * alone (one SQLite transaction and fsync per loop turn, no peer).  The group target's baseline
 * (docs/BENCH.md, issue 11) is the sum of the two medians, round trip + one durable commit; each
 * group's line prints its latency against it.
 *   - latency: one proposal at a time from node 0, from konce_node_group_propose() to the DECIDED
 *     event with its nonce at node 0; median and 99th percentile;
 *   - floor: what the members' disk gives a group on this machine, measured beside each group:
 *     N threads (N = the group's size), each with its own store in the same directory, opened by
 *     konce_store_open() (the node's own: WAL, synchronous = FULL), commit one entry each per round
 *     (konce_store_group_note_entries + konce_store_group_flush, a member's write of a PROPOSE),
 *     the N released together by a barrier; a round lasts from the release to the last COMMIT's
 *     return; its median.  The floor is round trip + that: a group on one machine (one disk)
 *     cannot commit faster, since every member's commit is on the path.  On separate machines
 *     each member has its own disk and the floor is round trip + one commit (the baseline);
 *   - throughput: node 0 keeps WINDOW proposals in flight for SECONDS; decisions delivered at node 0
 *     per second.  Every member must deliver the same count (checked).  Batched: the coordinator
 *     puts up to 16 queued entries in one PROPOSE (the default); unbatched (5 members, the last
 *     line): group_max_batch = 1 on every node, one entry per PROPOSE.
 *
 * Usage: bench_group [SECONDS per throughput run, default 3] (BENCH_QUICK=1: 0.3 s, fewer samples)
 * The stores go in $TMPDIR (default /tmp): TMPDIR=/dev/shm takes the disk's fsync out of the
 * figures, which leaves the CPU cost of a decision.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/loop.h"
#include "consensus/cwire.h"
#include "konce/group.h"
#include "konce/konce.h"
#include "store/store.h"

enum { MAXN = 5, WINDOW = 16, LAT_SAMPLES = 200, RR_SAMPLES = 500 };

static const char *me = "bench_group";

typedef struct bnode {
	konce_node *n;
	char addr[64];
	uint64_t decided, last_nonce;
	int joined, out;
} bnode;

static struct event_base *base;
static bnode nodes[MAXN];
static uint64_t want_nonce;
static int got_reply;
static double secs = 3;

static void on_group(void *ctx, const konce_group_notice *ev)
{
	bnode *b = ctx;
	if (ev->type == KONCE_GROUP_N_DECIDED) {
		b->decided++;
		b->last_nonce = ev->nonce;
	} else if (ev->type == KONCE_GROUP_N_JOINED) {
		b->joined = 1;
	} else if (ev->type == KONCE_GROUP_N_OUT) {
		b->out = 1;
	}
}

static void quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (getenv("BENCH_LOG"))
		fprintf(stderr, "%d: %s\n", level, line);
}

static void turn(void) { event_base_loop(base, EVLOOP_ONCE); }
static int run_until(int (*done)(void *), void *ctx, uint64_t us);

/* Runs the loop until *flag or the deadline (us from now); false on timeout. */
static int run_until(int (*done)(void *), void *ctx, uint64_t us)
{
	uint64_t end = bench_now_us() + us;
	while (!done(ctx)) {
		if (bench_now_us() > end)
			return 0;
		turn(); /* never blocks long: every group core ticks every KONCE_GROUP_TICK_MS */
	}
	return 1;
}

static int is_joined(void *ctx) { return ((bnode *)ctx)->joined; }
static int members_are(void *ctx)
{
	konce_group_info gi;
	unsigned *want = ctx;
	return konce_node_group_info(nodes[0].n, "bench", &gi) == 0 && gi.nmembers == *want &&
	       gi.state == KONCE_GROUP_S_MEMBER;
}
static int nonce_seen(void *ctx) { return nodes[0].last_nonce == *(uint64_t *)ctx; }
static int replied(void *ctx) { return *(int *)ctx; }

/* max_batch: konce_node_config.group_max_batch (0 = the default, 16 entries per PROPOSE). */
static void start_nodes(unsigned n, const char *dir, unsigned round, unsigned max_batch)
{
	for (unsigned i = 0; i < n; i++) {
		char data[512], listen[32], err[512];
		snprintf(data, sizeof data, "%s/r%u-n%u", dir, round, i);
		snprintf(listen, sizeof listen, "127.0.0.1:0");
		konce_node_config cfg = {.data_dir = data, .listen = listen, .log = quiet,
					 .log_level = getenv("BENCH_LOG") ? KONCE_LOG_INFO : KONCE_LOG_ERROR,
					 .group_max_batch = max_batch};
		memset(&nodes[i], 0, sizeof nodes[i]);
		if (konce_node_new(&nodes[i].n, base, &cfg, err, sizeof err))
			bench_die(me, err);
		konce_node_listen_addr(nodes[i].n, nodes[i].addr, sizeof nodes[i].addr);
		if (konce_node_group_on_event(nodes[i].n, on_group, &nodes[i]))
			bench_die(me, "no group support (no store?)");
	}
}

static void stop_nodes(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		konce_node_free(nodes[i].n);
}

static void form(unsigned n)
{
	if (konce_node_group_create(nodes[0].n, "bench"))
		bench_die(me, "create");
	for (unsigned i = 1; i < n; i++) {
		char tok[KONCE_GROUP_TOKEN_MAX];
		if (konce_node_group_invite(nodes[0].n, "bench", 0, nodes[0].addr, tok, sizeof tok))
			bench_die(me, "invite");
		for (int k = 0; k < 50; k++) /* the invitation commits */
			turn();
		if (konce_node_group_join(nodes[i].n, tok, "bench"))
			bench_die(me, "join");
		if (!run_until(is_joined, &nodes[i], 10000000))
			bench_die(me, "a join did not complete within 10 s");
		unsigned want = i + 1;
		if (!run_until(members_are, &want, 10000000))
			bench_die(me, "the view did not grow within 10 s");
		/* a member that has just joined knows no invitation until its snapshot arrives, and it
		 * votes against a join meanwhile: let it catch up before the next invitation */
		uint64_t t = bench_now_us() + 1500000;
		while (bench_now_us() < t)
			turn();
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void latency(unsigned samples, double *p50, double *p99)
{
	uint64_t *v = calloc(samples, sizeof *v);
	for (unsigned k = 0; k < samples; k++) {
		uint8_t d[16];
		int l = snprintf((char *)d, sizeof d, "lat%u", k);
		uint64_t t0 = bench_now_us();
		int64_t nonce = konce_node_group_propose(nodes[0].n, "bench", d, (size_t)l);
		if (nonce < 0)
			bench_die(me, "propose");
		want_nonce = (uint64_t)nonce;
		if (!run_until(nonce_seen, &want_nonce, 10000000))
			bench_die(me, "a decision did not commit within 10 s");
		v[k] = bench_now_us() - t0;
	}
	qsort(v, samples, sizeof *v, cmp_u64);
	*p50 = (double)v[samples / 2] / 1000.0;
	*p99 = (double)v[samples * 99 / 100] / 1000.0;
	free(v);
}

static double throughput(unsigned n, double seconds)
{
	uint64_t d0 = nodes[0].decided, proposed = 0;
	uint64_t t0 = bench_now_us(), end = t0 + (uint64_t)(seconds * 1e6);
	while (bench_now_us() < end) {
		while (proposed - (nodes[0].decided - d0) < WINDOW) {
			uint8_t d[16];
			int l = snprintf((char *)d, sizeof d, "tp%llu", (unsigned long long)proposed);
			if (konce_node_group_propose(nodes[0].n, "bench", d, (size_t)l) < 0)
				break; /* -EAGAIN: the core's own window is full */
			proposed++;
		}
		turn();
	}
	double rate = (double)(nodes[0].decided - d0) / ((double)(bench_now_us() - t0) / 1e6);
	/* drain, then every member must have delivered the same number */
	uint64_t drain_end = bench_now_us() + 10000000;
	for (;;) {
		int same = 1;
		for (unsigned i = 1; i < n; i++)
			same &= nodes[i].decided == nodes[0].decided;
		if (same && nodes[0].decided - d0 == proposed)
			break;
		if (bench_now_us() > drain_end)
			bench_die(me, "the members did not deliver the same decisions within 10 s");
		turn();
	}
	return rate;
}

/* ---- the floor: N members' durable commits at once on this machine's disk ---- */

enum { FLOOR_WARMUP = 10 };

typedef struct floor_thr {
	pthread_t t;
	konce_store *st;
	unsigned rounds;
	uint64_t *t0, *t1; /* per round: after the release, after the COMMIT */
} floor_thr;

static pthread_barrier_t floor_bar;
static const uint8_t floor_gid[KONCE_STORE_GROUP_ID] = {'f', 'l', 'o', 'o', 'r'};

static void *floor_run(void *arg)
{
	floor_thr *f = arg;
	static const uint8_t origin[KONCE_CW_ORIGIN] = {1};
	char err[256];
	for (unsigned r = 0; r < f->rounds; r++) {
		char text[16];
		uint8_t b[64];
		int l = snprintf(text, sizeof text, "lat%u", r);
		konce_cw_entry e = {.kind = KONCE_CW_E_APP, .origin = origin, .nonce = r + 1, .len = (uint16_t)l,
				    .data = (const uint8_t *)text};
		size_t n = konce_cw_entry_encode(&e, b, sizeof b);
		pthread_barrier_wait(&floor_bar); /* the round's release */
		f->t0[r] = bench_now_us();
		if (!n || konce_store_group_note_entries(f->st, floor_gid, r + 1, 1, b, n) ||
		    konce_store_group_flush(f->st, err, sizeof err))
			bench_die(me, "floor: a commit failed");
		f->t1[r] = bench_now_us();
		pthread_barrier_wait(&floor_bar); /* every commit of the round has returned */
	}
	return NULL;
}

/* The median over rounds of (the last COMMIT's return - the first release) of n threads, each
 * committing to its own store in dir; ms. */
static double floor_commits(unsigned n, const char *dir, unsigned samples)
{
	floor_thr f[MAXN];
	unsigned rounds = samples + FLOOR_WARMUP;
	uint64_t *v = calloc(samples, sizeof *v);
	if (!v || pthread_barrier_init(&floor_bar, NULL, n))
		bench_die(me, "floor: setup");
	for (unsigned i = 0; i < n; i++) {
		char path[600], err[512];
		snprintf(path, sizeof path, "%s/floor-n%u-%u.db", dir, n, i);
		f[i] = (floor_thr){.rounds = rounds, .t0 = calloc(rounds, sizeof(uint64_t)),
				   .t1 = calloc(rounds, sizeof(uint64_t))};
		if (!f[i].t0 || !f[i].t1 || konce_store_open(&f[i].st, path, 0, err, sizeof err) ||
		    konce_store_group_add(f[i].st, floor_gid, "floor", NULL, 0, NULL, err, sizeof err))
			bench_die(me, "floor: cannot open a store");
	}
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&f[i].t, NULL, floor_run, &f[i]))
			bench_die(me, "floor: pthread_create");
	for (unsigned i = 0; i < n; i++)
		pthread_join(f[i].t, NULL);
	for (unsigned r = 0; r < samples; r++) {
		uint64_t first = UINT64_MAX, last = 0;
		for (unsigned i = 0; i < n; i++) {
			uint64_t a = f[i].t0[FLOOR_WARMUP + r], z = f[i].t1[FLOOR_WARMUP + r];
			first = a < first ? a : first;
			last = z > last ? z : last;
		}
		v[r] = last - first;
	}
	for (unsigned i = 0; i < n; i++) {
		konce_store_close(f[i].st, NULL, 0);
		free(f[i].t0);
		free(f[i].t1);
	}
	pthread_barrier_destroy(&floor_bar);
	qsort(v, samples, sizeof *v, cmp_u64);
	double med = (double)v[samples / 2] / 1000.0;
	free(v);
	return med;
}

static void on_echo(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	(void)reason, (void)data, (void)len;
	*(int *)ctx = outcome == KONCE_OUTCOME_REPLIED ? 1 : -1;
}

/* The baseline: request/reply round trips node 0 -> node 1 (sequential). */
static void baseline(unsigned samples, double *p50, double *rate)
{
	uint8_t pk[KONCE_KEY_BYTES];
	konce_node_public_key(nodes[1].n, pk);
	konce_send_opts o = {.addr_hint = nodes[1].addr, .expect_reply = 1, .keep_session = 1};
	uint64_t *v = calloc(samples, sizeof *v), t_all = bench_now_us();
	for (unsigned k = 0; k < samples + 10; k++) {
		got_reply = 0;
		uint64_t t0 = bench_now_us();
		if (konce_node_send(nodes[0].n, pk, 1 /* KONCE_CLASS_ECHO */, (const uint8_t *)"x", 1, &o, on_echo,
				    &got_reply, NULL))
			bench_die(me, "send");
		if (!run_until(replied, &got_reply, 10000000) || got_reply < 0)
			bench_die(me, "no echo reply");
		if (k == 9)
			t_all = bench_now_us();
		if (k >= 10) /* the first ones include the handshake */
			v[k - 10] = bench_now_us() - t0;
	}
	*rate = samples / ((double)(bench_now_us() - t_all) / 1e6);
	qsort(v, samples, sizeof *v, cmp_u64);
	*p50 = (double)v[samples / 2] / 1000.0;
	free(v);
}

int main(int argc, char **argv)
{
	unsigned lat_n = LAT_SAMPLES, rr_n = RR_SAMPLES;
	if (argc > 1)
		secs = atof(argv[1]);
	if (bench_quick()) {
		secs = 0.3;
		lat_n = 20;
		rr_n = 50;
	}
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	snprintf(dir, sizeof dir, "%s/bench_group.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		bench_die(me, "mkdtemp");
	if (!(base = event_base_new()))
		bench_die(me, "event_base_new");

	double rr50, rrrate;
	start_nodes(2, dir, 0, 0);
	baseline(rr_n, &rr50, &rrrate);
	stop_nodes(2);
	printf("baseline: request/reply over loopback, sequential: median %.3f ms, %.0f round trips/s\n", rr50, rrrate);

	static const unsigned sizes[] = {1, 3, 5};
	double durable = 0, rate5 = 0; /* the group of 1's median: one durable commit */
	for (unsigned s = 0; s < 3; s++) {
		unsigned n = sizes[s];
		double p50, p99;
		start_nodes(n, dir, s + 1, 0);
		form(n);
		latency(lat_n, &p50, &p99);
		double rate = throughput(n, secs);
		if (n == 1)
			durable = p50;
		if (n == 5)
			rate5 = rate;
		stop_nodes(n);
		double floor = rr50 + floor_commits(n, dir, lat_n);
		printf("floor: round trip + %u concurrent durable commit%s = %.3f ms (%.2fx the baseline)\n", n,
		       n == 1 ? "" : "s", floor, floor / (rr50 + durable));
		printf("group of %u: commit latency median %.3f ms, p99 %.3f ms (%.1fx the request/reply median, "
		       "%.2fx round trip + one durable commit = %.3f ms, %.2fx the floor); "
		       "%.0f decisions/s with %d in flight (%.2fx the request/reply rate)\n",
		       n, p50, p99, p50 / rr50, p50 / (rr50 + durable), rr50 + durable, p50 / floor, rate, WINDOW,
		       rate / rrrate);
	}
	/* Unbatched: the same 5 members and window, every node configured to put one entry in a
	 * PROPOSE when it coordinates (so one persist call and one PROPOSE per member per decision). */
	start_nodes(5, dir, 4, 1);
	form(5);
	double rate1 = throughput(5, secs);
	stop_nodes(5);
	printf("group of 5, unbatched (1 entry per PROPOSE): %.0f decisions/s with %d in flight "
	       "(%.2fx the batched rate, %.2fx the request/reply rate)\n",
	       rate1, WINDOW, rate1 / rate5, rate1 / rrrate);
	event_base_free(base);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", me, dir);
	return 0;
}
