/* conn_link.c - bulk flows of bare konce_conns over the simulator (see conn_link.h). */
#include "tests/sim/conn_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/wire.h"

enum { SENDER_PORT = 5000, RX_PORT0 = 7001, OVERHEAD = KONCE_WIRE_MAX_DATAGRAM - KONCE_WIRE_MAX_PAYLOAD };

static uint8_t payload[4 << 20];

static void cb_delivered(void *ctx, const konce_smsg *m);
static void cb_refused(void *ctx, const konce_smsg *m, uint8_t why)
{
	(void)m;
	(void)why;
	((clink_flow *)ctx)->failed++;
}
static void cb_message(void *ctx, konce_reasm_msg *m)
{
	clink_flow *f = ctx;
	f->rx_bytes += m->len;
	konce_conn_release(f->rx, m);
}
static void cb_nothing_delivered(void *ctx, const konce_smsg *m)
{
	(void)ctx;
	(void)m;
}
static void cb_nothing_message(void *ctx, konce_reasm_msg *m) { konce_conn_release(((clink_flow *)ctx)->tx, m); }

static void fill(clink_flow *f, uint64_t now)
{
	if (f->l->cfg.stop && now >= f->l->cfg.stop)
		return;
	while (f->started && f->queued < f->l->cfg.depth &&
	       konce_conn_send(f->tx, payload, f->l->cfg.msg, f->klass, 0, now) == 0)
		f->queued++;
}

static void cb_delivered(void *ctx, const konce_smsg *m)
{
	(void)m;
	clink_flow *f = ctx;
	f->queued--;
	/* refilled in flush(): the callback runs inside konce_conn_on_packet */
}

/* Whether packet sp carries a fragment unit flow f never sent before (the table keeps the
 * CLINK_SEEN most recent message ids, which covers the application's few queued messages). */
static bool new_data(clink_flow *f, const konce_sent_packet *sp)
{
	bool fresh = false;
	for (unsigned i = 0; i < sp->nrefs; i++) {
		const konce_frame_ref *r = &sp->refs[i];
		if (r->kind != KONCE_REF_FRAGMENT || r->count == 0)
			continue;
		uint64_t end = (uint64_t)r->index + r->count;
		unsigned j = 0, n = f->nseen < CLINK_SEEN ? f->nseen : CLINK_SEEN;
		while (j < n && f->seen[j].id != r->id)
			j++;
		if (j == n) {
			j = f->nseen++ % CLINK_SEEN;
			f->seen[j].id = r->id;
			f->seen[j].end = 0;
		}
		if (end > f->seen[j].end) {
			f->seen[j].end = end;
			fresh = true;
		}
	}
	return fresh;
}

/* Records a probe timeout if the sender's count grew from `before` while it handled an event. */
static void note_pto(clink_flow *f, uint64_t before, uint64_t now)
{
	for (uint64_t k = before; k < f->tx->rec.pto_total; k++) {
		if (f->npto == CLINK_MAX_PTO)
			return;
		/* declared losses that were really reordering found nothing */
		uint64_t taken = f->dropped_eliciting + sim_host_rx(f->l->rh)->dropped_queue,
			 declared = f->tx->rec.nlost_total - f->tx->rec.spurious_total;
		f->pto[f->npto++] = (clink_pto){.at = now, .last_new_tx = f->last_new_tx, .last_ack_rx = f->last_ack_rx,
						 .msgs = f->tx->q.nactive + (unsigned)f->tx->q.nwait,
						 .undeclared = taken > declared ? taken - declared : 0};
	}
}

/* Everything conn c has due goes out of host h (port from) to `to`; with drops, a sender's, the
 * random loss takes some. */
static void drain(clink *l, sim_host *h, uint16_t from, const konce_addr *to, konce_conn *c, uint64_t *pn,
		  clink_flow *drops, uint64_t now)
{
	static uint8_t d[KONCE_PMTU_MAX + 8];
	konce_sent_packet sp;
	size_t w;
	while ((w = konce_conn_build(c, d + 8, l->cfg.dgram - OVERHEAD, *pn, now, &sp))) {
		memcpy(d, pn, 8);
		memset(d + 8 + w, 0, OVERHEAD - 8);
		konce_conn_on_sent(c, &sp, w + OVERHEAD, now);
		if (drops && new_data(drops, &sp))
			drops->last_new_tx = now;
		if (drops && l->cfg.loss > 0 && sim_rand_unit(l->s) < l->cfg.loss) {
			if (sp.ack_eliciting)
				drops->dropped_eliciting++;
			else
				drops->dropped_other++;
		} else {
			sim_send(l->s, h, from, to, d, w + OVERHEAD);
		}
		(*pn)++;
	}
}

static void flush_flow(clink_flow *f, uint64_t now)
{
	clink *l = f->l;
	if (!f->started && now >= f->start)
		f->started = true;
	fill(f, now);
	konce_addr rx = sim_host_addr(l->rh, f->port), tx = sim_host_addr(f->h, SENDER_PORT);
	drain(l, f->h, SENDER_PORT, &rx, f->tx, &f->pn_tx, f, now);
	drain(l, l->rh, f->port, &tx, f->rx, &f->pn_rx, NULL, now);
	uint64_t t = konce_conn_next_timer(f->tx, now), tick = l->cfg.tx_tick_us;
	if (!f->started && f->start < t)
		t = f->start;
	if (tick && t > now && t != UINT64_MAX)
		t = (t + tick - 1) / tick * tick;
	sim_timer_set(l->s, f->h, t);
	uint64_t r = UINT64_MAX;
	for (int i = 0; i < l->nf; i++) {
		uint64_t x = konce_conn_next_timer(l->f[i].rx, now);
		if (x < r)
			r = x;
	}
	sim_timer_set(l->s, l->rh, r);
}

static uint64_t tx_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			uint64_t now)
{
	(void)from;
	(void)to;
	clink_flow *f = ctx;
	uint64_t pn;
	if (len < 8 + OVERHEAD - 8)
		return 0;
	memcpy(&pn, pkt, 8);
	uint64_t pto = f->tx->rec.pto_total;
	konce_conn_on_packet(f->tx, pn, pkt + 8, len - OVERHEAD, now);
	note_pto(f, pto, now);
	f->last_ack_rx = now;
	flush_flow(f, now);
	return 0;
}

static void tx_timer(void *ctx, uint64_t now)
{
	clink_flow *f = ctx;
	uint64_t pto = f->tx->rec.pto_total;
	if (!konce_conn_tick(f->tx, now))
		f->failed++;
	note_pto(f, pto, now);
	flush_flow(f, now);
}

static uint64_t rx_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			uint64_t now)
{
	(void)from;
	clink *l = ctx;
	uint64_t pn;
	if (len < OVERHEAD || to->port < RX_PORT0 || to->port >= RX_PORT0 + l->nf)
		return 0;
	clink_flow *f = &l->f[to->port - RX_PORT0];
	memcpy(&pn, pkt, 8);
	konce_conn_on_packet(f->rx, pn, pkt + 8, len - OVERHEAD, now);
	flush_flow(f, now);
	return 0;
}

static void rx_timer(void *ctx, uint64_t now)
{
	clink *l = ctx;
	for (int i = 0; i < l->nf; i++)
		konce_conn_tick(l->f[i].rx, now);
	for (int i = 0; i < l->nf; i++)
		flush_flow(&l->f[i], now);
}

static const sim_host_ops tx_ops = {tx_recv, tx_timer, NULL};
static const sim_host_ops rx_ops = {rx_recv, rx_timer, NULL};

static void sample(void *ctx, uint64_t now)
{
	clink *l = ctx;
	if (now == l->cfg.warm)
		l->qdrop_at_warm = sim_host_rx(l->rh)->dropped_queue;
	for (int i = 0; i < l->nf; i++) {
		clink_flow *f = &l->f[i];
		if (now == l->cfg.warm)
			f->rx_at_warm = f->rx_bytes;
		if (now == l->cfg.stop)
			f->rx_at_stop = f->rx_bytes;
		if (now < l->cfg.warm || (l->cfg.stop && now >= l->cfg.stop) || !f->started)
			continue;
		uint64_t cw = konce_cc_cwnd(&f->tx->cc), rate = f->tx->pacer.rate;
		f->nsamples++;
		f->sum_cwnd += cw;
		f->sum_rate += rate;
		if (!f->min_cwnd || cw < f->min_cwnd)
			f->min_cwnd = cw;
		if (cw > f->max_cwnd)
			f->max_cwnd = cw;
		if (l->cfg.trace && f->nsamples % 10 == 0)
			fprintf(stderr,
				"  t=%6.2f s flow %d %-7s cwnd %7llu B inflight %7llu pacing %6.1f Mbit/s srtt %5.1f ms "
				"rx %6.1f MB episodes %llu lost-retx %llu spurious %llu pto %llu\n",
				now / 1e6, i, f->tx->cc.ops->name, (unsigned long long)cw,
				(unsigned long long)f->tx->cc.bytes_in_flight, rate * 8 / 1e6,
				f->tx->rec.rtt.smoothed / 1e3, f->rx_bytes / 1e6, (unsigned long long)f->tx->cc.episodes,
				(unsigned long long)f->tx->retransmitted, (unsigned long long)f->tx->rec.spurious_total,
				(unsigned long long)f->tx->rec.pto_total);
	}
	sim_at(l->s, now + l->cfg.sample_us, sample, l);
}

int clink_init(clink *l, sim *s, const clink_cfg *cfg)
{
	memset(l, 0, sizeof *l);
	l->s = s;
	l->cfg = *cfg;
	if (!l->cfg.dgram)
		l->cfg.dgram = KONCE_PMTU_BASE;
	if (l->cfg.dgram < KONCE_PMTU_BASE || l->cfg.dgram > KONCE_PMTU_MAX)
		return -EINVAL;
	if (cfg->msg > sizeof payload || !cfg->depth || !cfg->sample_us || cfg->warm % cfg->sample_us ||
	    cfg->stop % cfg->sample_us || (cfg->stop && cfg->stop <= cfg->warm))
		return -EINVAL;
	if (!(l->rh = sim_host_add(s, "192.0.2.1", &rx_ops, l)))
		return -ENOMEM;
	sim_host_set_downlink(l->rh, cfg->rate, cfg->queue);
	return sim_at(s, cfg->sample_us, sample, l);
}

int clink_add_flow(clink *l, uint8_t klass, uint64_t start)
{
	if (l->nf == CLINK_MAX_FLOWS)
		return -ENOSPC;
	clink_flow *f = &l->f[l->nf];
	char ip[32];
	snprintf(ip, sizeof ip, "10.0.0.%d", l->nf + 1);
	f->l = l;
	f->klass = klass;
	f->start = start;
	f->port = (uint16_t)(RX_PORT0 + l->nf);
	f->pn_tx = f->pn_rx = 1;
	if (!(f->h = sim_host_add(l->s, ip, &tx_ops, f)))
		return -ENOMEM;
	sim_host_bind(f->h, SENDER_PORT);
	sim_host_bind(l->rh, f->port);
	enum sim_jitter dist = l->cfg.jitter_normal ? SIM_JITTER_NORMAL : SIM_JITTER_UNIFORM;
	sim_link_cfg fwd = {.delay_us = l->cfg.owd_us, .jitter_us = l->cfg.jitter_us, .jitter_dist = dist};
	sim_link_cfg rev = {.delay_us = l->cfg.owd_us, .jitter_us = l->cfg.jitter_us, .jitter_dist = dist,
			    .loss = l->cfg.ack_loss};
	sim_link_set(l->s, f->h, l->rh, &fwd);
	sim_link_set(l->s, l->rh, f->h, &rev);
	uint64_t max = 4 * l->cfg.msg * l->cfg.depth;
	konce_conn_cfg cc = {.budget = konce_reasm_charge(max), .max_message = l->cfg.msg, .ring = 2048,
			     .keepalive_us = 25 * SIM_SEC, .msg_timeout_us = 30 * SIM_SEC,
			     .reasm_idle_us = 180 * SIM_SEC, .overhead = OVERHEAD, .cc = l->cfg.cc};
	konce_conn_ops txo = {cb_delivered, cb_refused, cb_nothing_message, f};
	konce_conn_ops rxo = {cb_nothing_delivered, cb_refused, cb_message, f};
	int r = konce_conn_new(&f->tx, sim_host_env(f->h), &cc, &txo, sim_now(l->s));
	if (r)
		return r;
	if ((r = konce_conn_new(&f->rx, sim_host_env(l->rh), &cc, &rxo, sim_now(l->s))))
		return r;
	konce_conn_set_mss(f->tx, l->cfg.dgram);
	konce_conn_set_mss(f->rx, l->cfg.dgram);
	l->nf++;
	sim_timer_set(l->s, f->h, start);
	return 0;
}

void clink_free(clink *l)
{
	for (int i = 0; i < l->nf; i++) {
		konce_conn_free(l->f[i].tx);
		konce_conn_free(l->f[i].rx);
	}
}

int clink_run_one(clink *l, sim *s, const clink_cfg *cfg, uint8_t klass, uint64_t until)
{
	int e = clink_init(l, s, cfg);
	if (!e)
		e = clink_add_flow(l, klass, 0);
	if (!e)
		sim_run_until(s, until);
	return e;
}

double clink_goodput(const clink *l, int i)
{
	uint64_t now = sim_now(l->s), rx = l->f[i].rx_bytes;
	if (l->cfg.stop && now >= l->cfg.stop) {
		now = l->cfg.stop;
		rx = l->f[i].rx_at_stop;
	}
	if (now <= l->cfg.warm)
		return 0;
	return (double)(rx - l->f[i].rx_at_warm) / ((now - l->cfg.warm) / 1e6);
}

double clink_mean_cwnd(const clink *l, int i)
{
	const clink_flow *f = &l->f[i];
	return f->nsamples ? (double)f->sum_cwnd / (double)f->nsamples : 0;
}

double clink_mean_rate(const clink *l, int i)
{
	const clink_flow *f = &l->f[i];
	return f->nsamples ? (double)f->sum_rate / (double)f->nsamples : 0;
}

uint64_t clink_queue_after_warm(const clink *l) { return sim_host_rx(l->rh)->dropped_queue - l->qdrop_at_warm; }

unsigned clink_pto_mid(const clink *l, int i)
{
	const clink_flow *f = &l->f[i];
	unsigned n = 0;
	for (unsigned k = 0; k < f->npto; k++)
		n += f->last_new_tx >= f->pto[k].at;
	return n;
}

unsigned clink_pto_spurious(const clink *l, int i)
{
	const clink_flow *f = &l->f[i];
	unsigned n = 0;
	for (unsigned k = 0; k < f->npto; k++)
		n += f->pto[k].undeclared == 0;
	return n;
}
