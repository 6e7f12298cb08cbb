/* sim_rec.h - the recorder hosts of test_sim_net.c and test_sim_links.c: each logs what reached
 * it (a sequence number in the first 4 bytes, the arrival time) and can echo or charge CPU time;
 * plus helpers that send numbered datagrams and sum the simulator's drop counters.
 * Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_SIM_REC_H
#define KONCE_TEST_SIM_REC_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim.h"

enum { MAXREC = 200000 };

typedef struct rec {
	sim *s;
	sim_host *h;
	bool echo;       /* send every datagram back to its sender */
	uint64_t cost;   /* CPU time charged per datagram */
	uint64_t n;      /* datagrams received */
	uint64_t bytes;
	uint32_t *seq;   /* sequence numbers in arrival order */
	uint64_t *at;    /* arrival (processing) times */
	int *prio_of;    /* priority callback: seq -> priority */
	konce_addr last_from, last_to;
	uint64_t timers;
	uint64_t timer_at[16];
} rec;

/* Newton's method: the tests need a square root and libm is not linked. */
static inline double root2(double x)
{
	double r = x > 1 ? x : 1;
	for (int i = 0; i < 100; i++)
		r = 0.5 * (r + x / r);
	return r;
}

static inline double absd(double x) { return x < 0 ? -x : x; }

static inline uint32_t get_seq(const uint8_t *p, size_t len)
{
	uint32_t v = 0;
	if (len >= 4)
		memcpy(&v, p, 4);
	return v;
}

static inline uint64_t rec_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			 const konce_addr *to, uint64_t now)
{
	rec *r = ctx;
	if (r->n < MAXREC) {
		r->seq[r->n] = get_seq(pkt, len);
		r->at[r->n] = now;
	}
	r->n++;
	r->bytes += len;
	r->last_from = *from;
	r->last_to = *to;
	/* echo requests, never echoes (byte 4 marks a reply), so two echo hosts do not ping-pong */
	if (r->echo && (len <= 4 || pkt[4] != 0xEE)) {
		uint8_t buf[2048];
		assert_true(len <= sizeof(buf));
		memcpy(buf, pkt, len);
		if (len > 4)
			buf[4] = 0xEE;
		int e = sim_send(r->s, r->h, to->port, from, buf, len);
		assert_true(e == 0 || e == -EHOSTUNREACH); /* the sender may have moved away */
	}
	return r->cost;
}

static inline void rec_timer(void *ctx, uint64_t now)
{
	rec *r = ctx;
	if (r->timers < 16)
		r->timer_at[r->timers] = now;
	r->timers++;
}

static inline int rec_prio(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	rec *r = ctx;
	return r->prio_of ? r->prio_of[get_seq(pkt, len)] : 0;
}

static const sim_host_ops rec_ops = {rec_recv, rec_timer, rec_prio};

static inline rec *rec_new(sim *s, const char *ip, uint16_t port)
{
	rec *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->seq = calloc(MAXREC, sizeof(*r->seq));
	r->at = calloc(MAXREC, sizeof(*r->at));
	assert_true(r->seq && r->at);
	r->s = s;
	r->h = sim_host_add(s, ip, &rec_ops, r);
	assert_non_null(r->h);
	if (port)
		assert_int_equal(sim_host_bind(r->h, port), 0);
	return r;
}

static inline void rec_free(rec *r)
{
	free(r->seq);
	free(r->at);
	free(r);
}

static inline void send_seq(sim *s, rec *from, uint16_t port, const konce_addr *to, uint32_t seq, size_t len)
{
	uint8_t buf[2000] = {0};
	assert_true(len <= sizeof(buf) && len >= 4);
	memcpy(buf, &seq, 4);
	assert_int_equal(sim_send(s, from->h, port, to, buf, len), 0);
}

/* Sends count datagrams of len bytes, one every gap us starting now, by running the clock. */
static inline void stream(sim *s, rec *from, const konce_addr *to, uint32_t count, uint64_t gap, size_t len)
{
	for (uint32_t i = 0; i < count; i++) {
		send_seq(s, from, 5000, to, i, len);
		sim_run_for(s, gap);
	}
}

static inline uint64_t sum_drops(const sim_counters *c)
{
	return c->lost + c->dropped_queue + c->dropped_mtu + c->dropped_noport + c->dropped_filter +
	       c->dropped_noroute + c->dropped_cpu;
}

#endif
