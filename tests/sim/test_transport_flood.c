/* test_transport_flood.c - FLOOD: honest handshakes complete while forged INITIATEs arrive at 10x
 * the server's capacity, and the proof-of-work demand rises and falls back to 0.
 *
 * The server and the honest clients are the shipping node core (node/core/nodecore.h, driven by
 * tests/sim/node_harness.c as node_io.c drives it in the daemon): each client sends an echo request
 * to the server's key (its address in the client's known-keys cache), so the handshake carries the
 * request and the server's core answers it.  The attackers and the spoofer are raw packets.
 *
 * The server's CPU (the simulator's CPU model): every datagram costs konce_ep_input()'s cost in load
 * units x US_PER_UNIT virtual microseconds, arrivals wait in a queue of SIM_HOST_QUEUE_DEFAULT
 * ordered by konce_ep_priority(), and the endpoint's configured capacity is exactly what that CPU
 * can do: 1 s / US_PER_UNIT = 50,000 units per second.
 *
 * Capacity, precisely: a complete handshake costs the server HS_UNITS = HELLO + INITIATE =
 * 1 + (1 + 2 + 50) = 54 units = 1.08 ms, so it can complete at most CAP_HS = 1e6 / 1080 = 925
 * handshakes per second.  The flood sends forged INITIATEs at 10 x CAP_HS = 9,259 per second from
 * random spoofed sources (echoes of real cookies from the wrong address, garbage, stale ones),
 * PLUS whatever a few real attacker machines manage: each owns an IPv6 /48 and rotates over 64 of
 * its /64s (so per-source pricing alone cannot stop it), fetches real cookies, pays the demanded
 * work on its own CPU (2^bits x US_PER_HASH of virtual time, and the proof is really solved) and
 * sends a bad box1, which costs the server the full 53 units.  At 0 bits they alone bring about
 * 4x the server's capacity in work.
 *
 * Scale: US_PER_UNIT = 20 us is a server ten times slower than bench/bench_pow's core (1.76 us per
 * unit), so that 10x its capacity is tens of thousands of packets, not hundreds of thousands; and
 * clients hash at US_PER_HASH = 20 us of virtual time per try (their proofs are real, so the test's
 * own run time stays a fraction of the virtual time they model).
 *
 * Honest clients: 200, arriving evenly over the 10 s flood, each behind its own address and a
 * 10-100 ms link; at least 99% must be ESTABLISHED (their first reply received) by the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/hs_packets.h"
#include "node/transport/load.h"
#include "node/transport/pow.h"
#include "tests/sim/hs_forge.h"
#include "tests/sim/sim.h"
#include "tests/sim/node_harness.h"

enum {
	PORT = 7807,
	US_PER_UNIT = 20,
	US_PER_HASH = 20,
	HS_UNITS = KONCE_COST_HELLO + KONCE_COST_REJECT + KONCE_COST_POW + KONCE_COST_DH,
	NHONEST = 200,
	NATT = 4,            /* attacker machines */
	NADDR = 64,          /* addresses (IPv6 /64s) each */
	ATT_MAX_BITS = 14,   /* an attacker pays at most this (16,384 tries, 0.33 s of its CPU) */
	ATT_BACKLOG_US = 50 * 1000, /* an attacker asks for cookies while its CPU queue is shorter */
	FLOOD_START_S = 3,
	FLOOD_S = 10,
	RUN_S = FLOOD_START_S + FLOOD_S + 12,
	HARVEST = 1024,
};
#define CAP_HS (1e6 / ((double)US_PER_UNIT * HS_UNITS)) /* handshakes per second */
#define FLOOD_PER_S (10 * CAP_HS)                        /* spoofed forged INITIATEs per second */

typedef struct world world;
typedef struct attacker attacker;

typedef struct att_addr {
	attacker *a;
	sim_host *h;
} att_addr;

struct attacker {
	world *w;
	att_addr addr[NADDR];
	unsigned naddr, next;
	uint64_t busy_until;
	unsigned outstanding; /* HELLOs not yet answered */
	unsigned last_bits;   /* demand of the last cookie */
	uint64_t last_cookie; /* when it came */
	sim_host *clock; /* a host without ports whose timer paces the HELLOs */
};

typedef struct honest {
	ncnode n;
	world *w;
	uint64_t t_start, t_done;
	bool established, failed;
	bool replied;
} honest;

typedef struct send_job {
	world *w;
	sim_host *from;
	size_t len;
	uint8_t pkt[KONCE_WIRE_MAX_DATAGRAM];
} send_job;

struct world {
	sim *s;
	ncnode srv;
	konce_addr srv_addr;
	honest hc[NHONEST];
	attacker att[NATT];
	sim_host *spoof;
	konce_versions v1;
	konce_cookie_msg harvest[HARVEST];
	uint64_t nharvest;
	double spoof_due;
	/* per second of the run */
	unsigned bits[RUN_S + 1];
	uint64_t forged[RUN_S + 1], att_paid[RUN_S + 1], att_priced_out;
	uint64_t att_bits_sum, att_inits;
	int max_bits_flood;
	unsigned max_base_bits; /* the base demand, read at every load period of the run */
	uint64_t base_samples;
};

static unsigned sec_of(uint64_t t) { return (unsigned)(t / SIM_SEC); }

static bool flooding(uint64_t now)
{
	return now >= FLOOD_START_S * SIM_SEC && now < (uint64_t)(FLOOD_START_S + FLOOD_S) * SIM_SEC;
}

/* ---- attacker machines ---------------------------------------------------------------------- */

static void send_job_run(void *ctx, uint64_t now)
{
	send_job *j = ctx;
	sim_send(j->w->s, j->from, PORT, &j->w->srv_addr, j->pkt, j->len);
	free(j);
}

static uint64_t att_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			 uint64_t now)
{
	att_addr *aa = ctx;
	attacker *a = aa->a;
	world *w = a->w;
	konce_cookie_msg c;
	if (konce_cookie_parse(&c, pkt, len))
		return 0;
	w->harvest[w->nharvest++ % HARVEST] = c;
	if (a->outstanding)
		a->outstanding--;
	a->last_bits = c.pow_bits;
	a->last_cookie = now;
	if (!flooding(now) || a->busy_until > now + ATT_BACKLOG_US)
		return 0; /* over, or too late: a cookie asked for when proofs were cheap */
	if (c.pow_bits > ATT_MAX_BITS) {
		w->att_priced_out++;
		return 0;
	}
	/* the machine's one CPU: proofs are solved in turn */
	uint64_t start = a->busy_until > now ? a->busy_until : now;
	uint64_t done = start + ((uint64_t)1 << c.pow_bits) * US_PER_HASH;
	a->busy_until = done;
	send_job *j = malloc(sizeof *j);
	assert_non_null(j);
	j->w = w;
	j->from = aa->h;
	j->len = forge_initiate(w->s, &w->v1, j->pkt, &c, 300);
	assert_int_equal(konce_pow_solve(j->pkt, j->len, KONCE_INIT_POW_NONCE, c.pow_bits, sim_rand(w->s), 0, NULL), 0);
	w->att_paid[sec_of(done) <= RUN_S ? sec_of(done) : RUN_S]++;
	w->att_bits_sum += c.pow_bits;
	w->att_inits++;
	assert_int_equal(sim_at(w->s, done, send_job_run, j), 0);
	return 0;
}

static void att_timer(void *ctx, uint64_t now)
{
	attacker *a = ctx;
	world *w = a->w;
	if (!flooding(now))
		return;
	/* keep the CPU busy but no more: as many cookies in flight as proofs fit in the backlog */
	uint64_t per_proof = ((uint64_t)1 << a->last_bits) * US_PER_HASH;
	uint64_t depth = ATT_BACKLOG_US / per_proof;
	if (now - a->last_cookie > 4 * ATT_BACKLOG_US)
		a->outstanding = 0; /* the server's queue dropped them */
	if (a->busy_until < now + ATT_BACKLOG_US && a->outstanding < (depth > 1 ? depth : 1)) {
		uint8_t h[KONCE_HELLO_SIZE];
		a->outstanding++;
		att_addr *aa = &a->addr[a->next++ % a->naddr];
		sim_send(w->s, aa->h, PORT, &w->srv_addr, h, forge_hello(w->s, &w->v1, h));
	}
	sim_timer_set(w->s, a->clock, now + SIM_MS);
}

/* ---- the spoofer ------------------------------------------------------------------------------- */

static void spoof_one(world *w)
{
	sim *s = w->s;
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	size_t n;
	konce_addr from;
	uint8_t ip[4];
	sim_rand_bytes(s, ip, 4);
	ip[0] = (uint8_t)(100 + ip[0] % 90); /* 100.x .. 189.x: no host lives there */
	konce_addr_from_v4(&from, ip, (uint16_t)(1024 + sim_rand_below(s, 60000)));
	uint64_t kind = sim_rand_below(s, 4);
	if (kind < 2 && w->nharvest) { /* a real cookie, from the wrong address */
		uint64_t k = w->nharvest < HARVEST ? w->nharvest : HARVEST;
		n = forge_initiate(w->s, &w->v1, p, &w->harvest[(w->nharvest - 1 - sim_rand_below(s, k)) % HARVEST], 300);
	} else if (kind == 2) { /* a cookie from the future */
		konce_cookie_msg f;
		memset(&f, 0, sizeof f);
		f.version = KONCE_VERSION_1;
		f.server_time = sim_now(s) / 1000 + 1 + sim_rand_below(s, 1u << 30);
		f.challenge = sim_rand(s);
		n = forge_initiate(w->s, &w->v1, p, &f, 300);
	} else {
		n = 1 + sim_rand_below(s, KONCE_WIRE_MAX_DATAGRAM);
		sim_rand_bytes(s, p, n);
		p[0] = KONCE_PKT_INITIATE;
	}
	sim_send_spoofed(s, w->spoof, &from, &w->srv_addr, p, n);
	w->forged[sec_of(sim_now(s))]++;
}

static void spoof_timer(void *ctx, uint64_t now)
{
	world *w = ctx;
	if (!flooding(now))
		return;
	for (w->spoof_due += FLOOD_PER_S / 1000; w->spoof_due >= 1; w->spoof_due -= 1)
		spoof_one(w);
	sim_timer_set(w->s, w->spoof, now + SIM_MS);
}

/* ---- honest clients ----------------------------------------------------------------------------- */

static void honest_peer(ncnode *n, int event, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr, uint64_t now)
{
	honest *c = n->user;
	(void)pk;
	(void)addr;
	if (event == KONCE_PEER_UP && !c->established) {
		c->established = true;
		c->t_done = now;
	}
}

static void honest_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	honest *c = ctx;
	(void)reason;
	if (outcome == KONCE_OUTCOME_REPLIED && len == 2 && !memcmp(data, "hi", 2))
		c->replied = true;
	else if (outcome == KONCE_OUTCOME_FAILED && !c->established) {
		c->failed = true; /* the handshake failed: the node reports it as the send's outcome */
		c->t_done = sim_now(c->w->s);
	}
}

static void honest_start(void *ctx, uint64_t now)
{
	honest *c = ctx;
	c->t_start = now;
	/* the endpoint's own handshake retries decide, as before: the node's deadlines are longer */
	konce_send_opts o = {.expect_reply = 1, .connect_timeout_ms = 120000, .reply_lifetime_ms = 120000};
	ncnode_learn(&c->n, &c->w->srv);
	assert_int_equal(ncnode_send(&c->n, ncnode_pk(&c->w->srv), KONCE_CLASS_ECHO, "hi", 2, &o, honest_outcome, c, NULL),
			 0);
}

/* ---- sampling ------------------------------------------------------------------------------------ */

static void sample(void *ctx, uint64_t now)
{
	world *w = ctx;
	unsigned t = sec_of(now);
	w->bits[t] = konce_ep_pow_bits(ncnode_ep(&w->srv), now);
	if (flooding(now - 1) && (int)w->bits[t] > w->max_bits_flood)
		w->max_bits_flood = (int)w->bits[t];
	if (t < RUN_S)
		sim_at(w->s, now + SIM_SEC, sample, w);
}

/* The base demand (what a source with no overdraft pays) changes only when a load period closes
 * (node/transport/load.c), so reading it once per period sees every value it takes.  Reading is no input:
 * the period arithmetic gives the same level however often it is advanced. */
static void sample_period(void *ctx, uint64_t now)
{
	world *w = ctx;
	unsigned b = konce_ep_pow_bits(ncnode_ep(&w->srv), now);
	if (b > w->max_base_bits)
		w->max_base_bits = b;
	w->base_samples++;
	if (now < (uint64_t)RUN_S * SIM_SEC)
		sim_at(w->s, now + (uint64_t)KONCE_LOAD_PERIOD_MS * SIM_MS, sample_period, w);
}

static int completed_by(const world *w, uint64_t t)
{
	int n = 0;
	for (int i = 0; i < NHONEST; i++)
		n += w->hc[i].established && w->hc[i].t_done <= t;
	return n;
}

typedef struct scenario {
	const char *name;
	unsigned capacity_div; /* the endpoint is told its capacity is the CPU's / this */
	int nhonest;
	unsigned honest_max_bits;
	unsigned naddr; /* addresses per attacker machine */
	bool expect_rise; /* the base demand must rise during the flood; if false, it must never leave 0 */
	uint64_t seeds;
} scenario;

static void run_flood(const scenario *sc)
{
	const int NH = sc->nhonest;
	SIM_FOR_EACH_SEED(seed, sc->seeds) {
		static world w;
		memset(&w, 0, sizeof w);
		uint16_t one = KONCE_VERSION_1;
		konce_versions_set(&w.v1, &one, 1);
		w.s = sim_new(seed);
		sim *s = w.s;
		konce_nodecore_config scfg = {.ep = {.capacity = 1000000 / US_PER_UNIT / sc->capacity_div,
						     .max_sessions = 2 * NHONEST}};
		assert_int_equal(ncnode_init(&w.srv, s, NULL, "198.51.100.1", PORT, &scfg), 0);
		w.srv.us_per_unit = US_PER_UNIT;
		w.srv.use_priority = true;
		w.srv_addr = ncnode_addr(&w.srv);
		sim_link_cfg l = {.delay_us = 20 * SIM_MS, .jitter_us = 5 * SIM_MS};
		sim_link_default(s, &l);

		for (int i = 0; i < NH; i++) {
			honest *c = &w.hc[i];
			char ip[32];
			snprintf(ip, sizeof ip, "203.0.%d.%d", 1 + i / 200, 1 + i % 200);
			konce_nodecore_config hcfg = {.ep = {.max_pow_bits = sc->honest_max_bits}};
			assert_int_equal(ncnode_init(&c->n, s, NULL, ip, 5000, &hcfg), 0);
			c->w = &w;
			c->n.user = c;
			c->n.on_peer = honest_peer;
			c->n.us_per_unit = US_PER_UNIT;
			c->n.us_per_hash = US_PER_HASH;
			sim_link_cfg hl = {.delay_us = 10 * SIM_MS + sim_rand_below(s, 90 * SIM_MS),
					   .jitter_us = 2 * SIM_MS};
			sim_link_set_both(s, w.srv.h, c->n.h, &hl);
			uint64_t t0 = FLOOD_START_S * SIM_SEC + (uint64_t)i * FLOOD_S * SIM_SEC / (uint64_t)NH +
				      sim_rand_below(s, 10 * SIM_MS);
			sim_at(s, t0, honest_start, c);
		}
		for (int m = 0; m < NATT; m++) {
			attacker *a = &w.att[m];
			static const sim_host_ops att_ops = {att_recv, NULL, NULL};
			static const sim_host_ops clock_ops = {NULL, att_timer, NULL};
			a->w = &w;
			a->naddr = sc->naddr;
			for (unsigned k = 0; k < a->naddr; k++) {
				char ip[64];
				snprintf(ip, sizeof ip, "2001:db8:%x:%x::1", 0x100 + m, k);
				a->addr[k].a = a;
				a->addr[k].h = sim_host_add(s, ip, &att_ops, &a->addr[k]);
				assert_non_null(a->addr[k].h);
				assert_int_equal(sim_host_bind(a->addr[k].h, PORT), 0);
			}
			char ip[64];
			snprintf(ip, sizeof ip, "2001:db8:%x:ffff::1", 0x100 + m);
			a->clock = sim_host_add(s, ip, &clock_ops, a);
			sim_timer_set(s, a->clock, FLOOD_START_S * SIM_SEC + (uint64_t)m * 250);
		}
		static const sim_host_ops spoof_ops = {NULL, spoof_timer, NULL};
		w.spoof = sim_host_add(s, "192.0.2.66", &spoof_ops, &w);
		sim_timer_set(s, w.spoof, FLOOD_START_S * SIM_SEC);
		sim_at(s, SIM_SEC, sample, &w);
		sim_at(s, (uint64_t)KONCE_LOAD_PERIOD_MS * SIM_MS, sample_period, &w);

		sim_run_until(s, (uint64_t)RUN_S * SIM_SEC + 1);

		int done = 0, failed = 0, replied = 0;
		uint64_t lat_max = 0, lat_sum = 0;
		for (int i = 0; i < NH; i++) {
			if (w.hc[i].established) {
				uint64_t lat = w.hc[i].t_done - w.hc[i].t_start;
				lat_sum += lat;
				lat_max = lat > lat_max ? lat : lat_max;
			}
			done += w.hc[i].established;
			failed += w.hc[i].failed;
			replied += w.hc[i].replied;
		}
		if (seed == 1 || done * 100 < NH * 99) {
			const struct konce_ep_counters *c = konce_ep_counters(ncnode_ep(&w.srv));
			printf("  %s\n", sc->name);
			printf("  seed %llu: capacity %.0f handshakes/s (%d units each at %d us/unit); spoofed forged"
			       " INITIATEs %.0f/s (10x) during %d-%d s, plus %d attacker machines x %d sources\n",
			       (unsigned long long)seed, CAP_HS, HS_UNITS, US_PER_UNIT, FLOOD_PER_S, FLOOD_START_S,
			       FLOOD_START_S + FLOOD_S, NATT, sc->naddr);
			printf("  %4s %5s %9s %9s %9s\n", "t/s", "bits", "honest ok", "forged/s", "paid/s");
			for (unsigned t = 1; t <= RUN_S; t++)
				printf("  %4u %5u %5d/%-3d %9llu %9llu\n", t, w.bits[t], completed_by(&w, (uint64_t)t * SIM_SEC),
				       NH, (unsigned long long)w.forged[t - 1],
				       (unsigned long long)w.att_paid[t - 1]);
			printf("  base demand: at most %u bits over %llu load periods\n", w.max_base_bits,
			       (unsigned long long)w.base_samples);
			printf("  honest handshake time: mean %.0f ms, max %.0f ms\n",
			       done ? (double)lat_sum / done / 1000 : 0.0, (double)lat_max / 1000);
			printf("  honest: %d established (%d with the reply), %d failed; attackers paid %llu proofs"
			       " (avg %.1f bits), %llu cookies priced out; server: init_rx %llu, bad_mac %llu, bad_box1"
			       " %llu, CPU-queue drops %llu\n",
			       done, replied, failed, (unsigned long long)w.att_inits,
			       w.att_inits ? (double)w.att_bits_sum / (double)w.att_inits : 0.0,
			       (unsigned long long)w.att_priced_out, (unsigned long long)c->init_rx,
			       (unsigned long long)c->init_bad_mac, (unsigned long long)c->init_bad_box1,
			       (unsigned long long)sim_host_rx(w.srv.h)->dropped_cpu);
		}
		SIM_ASSERT(s, done * 100 >= NH * 99);
		SIM_ASSERT_EQ(s, done + failed, NH); /* and every one of them has ended */
		SIM_ASSERT_EQ(s, w.bits[FLOOD_START_S], 0);       /* idle before */
		if (sc->expect_rise)
			SIM_ASSERT(s, w.max_bits_flood >= (int)KONCE_LOAD_BITS_START); /* rose */
		else { /* per-source pricing alone held each attacker to its bucket's refill (400 units/s,
			* the endpoint's default rl_rate, / 53 units per paid INITIATE, with slack): the base
			* demand honest clients see never leaves 0, at any load period, and every honest
			* client gets in */
			for (unsigned t = FLOOD_START_S + 2; t <= FLOOD_START_S + FLOOD_S; t++)
				SIM_ASSERT(s, w.att_paid[t - 1] <= NATT * 400 / (HS_UNITS - KONCE_COST_HELLO) * 3 / 2);
			SIM_ASSERT(s, w.base_samples >= (uint64_t)RUN_S * 1000 / KONCE_LOAD_PERIOD_MS);
			SIM_ASSERT_EQ(s, w.max_base_bits, 0);
			SIM_ASSERT_EQ(s, done, NH);
		}
		SIM_ASSERT_EQ(s, w.bits[RUN_S], 0);               /* and back to 0 after */
		/* spoofed junk proves no address, so however long the flood it never starts a surge
		 * (load.h): the base demand stays within BASE_MAX, here even with capacity undersold */
		SIM_ASSERT(s, w.max_base_bits <= KONCE_LOAD_BITS_BASE_MAX);
		for (int i = 0; i < NH; i++)
			ncnode_free(&w.hc[i].n);
		ncnode_free(&w.srv);
		sim_free(s);
	}
}

#ifdef __SANITIZE_ADDRESS__
enum { SEEDS = 1 }; /* the proofs are real hashing; ASan makes everything else slow */
#else
enum { SEEDS = 2 };
#endif

/* The endpoint's capacity is what its CPU can do. */
static void test_flood(void **state)
{
	(void)state;
	static const scenario sc = {"capacity = the CPU's", 1, NHONEST, KONCE_WIRE_POW_MAX_BITS, NADDR, true, SEEDS};
	run_flood(&sc);
}

/* The attackers have one address each: per-source pricing (overdraft: 8 + 2 bits per level; only
 * INITIATEs that prove the address charge the bucket) holds each to its bucket's refill rate, and
 * the base demand honest clients see need not move at all. */
static void test_flood_single_address_attackers(void **state)
{
	(void)state;
	static const scenario sc = {"capacity = the CPU's, one address per attacker", 1, NHONEST,
				    KONCE_WIRE_POW_MAX_BITS, 1, false, 1};
	run_flood(&sc);
}

/* The endpoint is told a tenth of what its CPU can do (as the default capacity undersells a real
 * core ~25x): the junk alone reads ~2x "capacity" and the curve goes past 20 bits.  Honest clients
 * that pay up to 20 bits must still get in: the base demand stops at KONCE_LOAD_BITS_BASE_MAX.
 * (Fewer honest clients: each really solves 16 bits here.) */
static void test_flood_capacity_undersold(void **state)
{
	(void)state;
	static const scenario sc = {"capacity = the CPU's / 10", 10, 30, 20, NADDR, true, 1};
	run_flood(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_flood_single_address_attackers),
		cmocka_unit_test(test_flood_capacity_undersold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
