/* sim.c - the simulator's clock, event queue, hosts, timers and CPU model.
 *
 * Events live in one binary min-heap ordered by (time, sequence number); the sequence number
 * grows with every scheduling, so events due at the same microsecond run in the order they were
 * scheduled and a seed replays exactly.  The clock only moves when an event runs (or when
 * sim_run_until reaches its target).
 *
 * A host's CPU:
 *
 *	idle --arrival--> recv() returns cost c --c == 0--> idle
 *	                                         --c > 0--> busy until now + c (EV_CPU_DONE)
 *	busy --arrival--> input queue (min-heap on (priority, arrival order); when full the worst
 *	                  of queue + newcomer is dropped)
 *	busy --EV_CPU_DONE--> idle, then the best queued datagram is processed as an arrival
 *
 * Invariants: a host with a non-empty queue is busy; exactly one EV_CPU_DONE is pending per busy
 * host; sends made inside recv() leave at now + cost (EV_DEPART), before that host's EV_CPU_DONE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim_int.h"

enum { STREAM_NET = 0, STREAM_ENV = 1, STREAM_HOST = 0x100 };

static void print_tracer(void *ctx, const sim_trace_ev *ev);

sim *sim_new(uint64_t seed)
{
	if (sodium_init() < 0)
		return NULL;
	sim *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->seed = seed;
	s->event_limit = SIM_EVENT_LIMIT_DEFAULT;
	simrng_seed(&s->rng, seed, STREAM_NET);
	sim_envctx_init(&s->env, seed, STREAM_ENV);
	crypto_generichash_init(&s->trace, NULL, 0, 8);
	s->defer_tail = &s->defer_head;
	const char *t = getenv("SIM_TRACE");
	if (t && *t && strcmp(t, "0") != 0)
		sim_set_tracer(s, print_tracer, NULL);
	return s;
}

static void free_event(sim_ev *e)
{
	if (e->kind == EV_ARRIVE || e->kind == EV_LAND || e->kind == EV_DEPART || e->kind == EV_AT)
		free(e->p);
}

void sim_free(sim *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->hn; i++)
		free_event(&s->heap[i]);
	free(s->heap);
	for (sim_pkt *p = s->defer_head, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	for (size_t i = 0; i < s->nhosts; i++) {
		sim_host *h = s->hosts[i];
		for (size_t j = 0; j < h->qn; j++)
			free(h->q[j]);
		free(h->q);
		free(h);
	}
	free(s->hosts);
	for (size_t i = 0; i < s->nnats; i++)
		simnat_free(s->nats[i]);
	free(s->nats);
	sim_links_free(s);
	simmap_free(&s->addrs);
	free(s);
}

uint64_t sim_now(const sim *s) { return s->now; }
uint64_t sim_seed(const sim *s) { return s->seed; }
uint64_t sim_events_run(const sim *s) { return s->events; }

/* ---- the event heap ---------------------------------------------------------------------- */

static bool ev_less(const sim_ev *a, const sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_set(sim *s, size_t i, sim_ev e)
{
	s->heap[i] = e;
	if (e.kind == EV_TIMER)
		((sim_host *)e.p)->timer_pos = i;
}

static void sift_up(sim *s, size_t i)
{
	sim_ev e = s->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ev_less(&e, &s->heap[parent]))
			break;
		heap_set(s, i, s->heap[parent]);
		i = parent;
	}
	heap_set(s, i, e);
}

static void sift_down(sim *s, size_t i)
{
	sim_ev e = s->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->hn)
			break;
		if (c + 1 < s->hn && ev_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_less(&s->heap[c], &e))
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, e);
}

static sim_ev heap_remove(sim *s, size_t i)
{
	sim_ev out = s->heap[i];
	if (out.kind == EV_TIMER)
		((sim_host *)out.p)->timer_pos = SIZE_MAX;
	s->hn--;
	if (i < s->hn) {
		heap_set(s, i, s->heap[s->hn]);
		sift_down(s, i);
		sift_up(s, i);
	}
	return out;
}

int sim_ev_push(sim *s, uint64_t t, enum sim_ev_kind kind, void *p)
{
	if (s->hn == s->hcap) {
		size_t cap = s->hcap ? s->hcap * 2 : 256;
		sim_ev *h = realloc(s->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		s->heap = h;
		s->hcap = cap;
	}
	sim_ev e = {t < s->now ? s->now : t, s->seq++, kind, p};
	s->hn++;
	heap_set(s, s->hn - 1, e);
	sift_up(s, s->hn - 1);
	return 0;
}

uint64_t sim_next_event(const sim *s) { return s->hn ? s->heap[0].t : UINT64_MAX; }

/* ---- the trace --------------------------------------------------------------------------- */

void sim_trace_mix(sim *s, const void *p, size_t n) { crypto_generichash_update(&s->trace, p, n); }

uint64_t sim_trace_hash(const sim *s)
{
	crypto_generichash_state st = s->trace;
	uint8_t out[8];
	crypto_generichash_final(&st, out, sizeof(out));
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | out[i];
	return v;
}

void sim_set_tracer(sim *s, void (*fn)(void *ctx, const sim_trace_ev *ev), void *ctx)
{
	s->tracer = fn;
	s->tracer_ctx = ctx;
}

void sim_trace_emit(sim *s, enum sim_trace_kind kind, const sim_host *h, const konce_addr *from,
		    const konce_addr *to, size_t len, const char *why)
{
	uint8_t rec[8 + 4 + 4 + 2 * 18 + 8];
	size_t o = 0;
	for (int i = 0; i < 8; i++)
		rec[o++] = (uint8_t)(s->now >> (8 * i));
	uint32_t id = h ? h->id : 0;
	memcpy(rec + o, &id, 4), o += 4;
	uint32_t k = (uint32_t)kind | (why ? (uint32_t)why[0] << 8 | (uint32_t)why[1] << 16 : 0);
	memcpy(rec + o, &k, 4), o += 4;
	static const konce_addr none;
	const konce_addr *ab[2] = {from ? from : &none, to ? to : &none};
	for (int i = 0; i < 2; i++) {
		memcpy(rec + o, ab[i]->ip, 16), o += 16;
		rec[o++] = (uint8_t)(ab[i]->port >> 8);
		rec[o++] = (uint8_t)ab[i]->port;
	}
	uint64_t l = len;
	memcpy(rec + o, &l, 8), o += 8;
	sim_trace_mix(s, rec, o);
	if (s->tracer) {
		sim_trace_ev ev = {kind, s->now, h, from ? *from : none, to ? *to : none, len, why};
		s->tracer(s->tracer_ctx, &ev);
	}
}

static void print_tracer(void *ctx, const sim_trace_ev *ev)
{
	static const char *names[] = {"send", "deliver", "drop", "timer"};
	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN];
	fprintf(stderr, "sim %10llu.%06llu %-7s %-15s %s -> %s len %zu%s%s\n",
		(unsigned long long)(ev->now / SIM_SEC), (unsigned long long)(ev->now % SIM_SEC),
		names[ev->kind], ev->host ? sim_host_name(ev->host) : "-", konce_addr_str(&ev->from, a),
		konce_addr_str(&ev->to, b), ev->len, ev->why ? " " : "", ev->why ? ev->why : "");
}

/* ---- running ------------------------------------------------------------------------------ */

typedef struct sim_at_ev {
	void (*fn)(void *ctx, uint64_t now);
	void *ctx;
} sim_at_ev;

int sim_at(sim *s, uint64_t at, void (*fn)(void *ctx, uint64_t now), void *ctx)
{
	sim_at_ev *a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fn = fn;
	a->ctx = ctx;
	int r = sim_ev_push(s, at, EV_AT, a);
	if (r)
		free(a);
	return r;
}

static void host_cpu_done(sim *s, sim_host *h);

void sim_set_event_limit(sim *s, uint64_t n) { s->event_limit = n; }

static void run_event(sim *s, sim_ev e)
{
	s->now = e.t;
	if (++s->events == s->event_limit) {
		char what[160];
		snprintf(what, sizeof(what), "event limit of %llu reached at virtual time %llu us (a runaway?)",
			 (unsigned long long)s->event_limit, (unsigned long long)s->now);
		sim_report_failure(s->seed, what, NULL, 0);
		abort();
	}
	switch (e.kind) {
	case EV_ARRIVE:
		sim_pkt_arrive(s, e.p);
		break;
	case EV_LAND:
		sim_pkt_land(s, e.p);
		break;
	case EV_DEPART:
		sim_pkt_depart(s, e.p);
		break;
	case EV_CPU_DONE:
		host_cpu_done(s, e.p);
		break;
	case EV_TIMER: {
		sim_host *h = e.p;
		sim_trace_emit(s, SIM_TR_TIMER, h, NULL, NULL, 0, NULL);
		if (h->ops.timer)
			h->ops.timer(h->ctx, s->now);
		break;
	}
	case EV_AT: {
		sim_at_ev a = *(sim_at_ev *)e.p;
		free(e.p);
		a.fn(a.ctx, s->now);
		break;
	}
	}
}

bool sim_step(sim *s)
{
	if (!s->hn)
		return false;
	run_event(s, heap_remove(s, 0));
	return true;
}

void sim_run_until(sim *s, uint64_t t)
{
	while (s->hn && s->heap[0].t <= t)
		run_event(s, heap_remove(s, 0));
	if (t > s->now)
		s->now = t;
}

void sim_run_for(sim *s, uint64_t dt)
{
	sim_run_until(s, dt > UINT64_MAX - s->now ? UINT64_MAX : s->now + dt);
}

int sim_run_while(sim *s, bool (*keep_going)(void *ctx), void *ctx, uint64_t deadline)
{
	while (keep_going(ctx)) {
		if (!s->hn || s->heap[0].t > deadline) {
			if (deadline > s->now)
				s->now = deadline;
			return -ETIMEDOUT;
		}
		run_event(s, heap_remove(s, 0));
	}
	return 0;
}

/* ---- hosts --------------------------------------------------------------------------------- */

int sim_parse_ip(const char *text, konce_addr *out)
{
	uint8_t buf[16];
	if (!text)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, buf) == 1) {
		konce_addr_from_v4(out, buf, 0);
		return 0;
	}
	if (inet_pton(AF_INET6, text, buf) == 1) {
		konce_addr_from_v6(out, buf, 0);
		return 0;
	}
	return -EINVAL;
}

static void host_name(sim_host *h)
{
	char buf[KONCE_ADDR_STRLEN];
	konce_addr_str(&h->ip, buf);
	/* drop the ":0" port and the brackets of the v6 form */
	char *colon = strrchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (buf[0] == '[') {
		size_t n = strlen(buf);
		buf[n - 1] = '\0';
		memmove(buf, buf + 1, n - 1);
	}
	snprintf(h->name, sizeof(h->name), "%s", buf);
}

sim_host *sim_host_add_behind(sim *s, sim_nat *nat, const char *ip, const sim_host_ops *ops,
			      void *ctx)
{
	konce_addr a;
	if (sim_parse_ip(ip, &a))
		return NULL;
	uint32_t realm = nat ? nat->id : 0;
	if (sim_addr_node(s, realm, a.ip))
		return NULL;
	if (s->nhosts == s->hosts_cap) {
		size_t cap = s->hosts_cap ? s->hosts_cap * 2 : 16;
		sim_host **v = realloc(s->hosts, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->hosts = v;
		s->hosts_cap = cap;
	}
	sim_host *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->s = s;
	h->id = (uint32_t)s->nhosts + 1;
	h->realm = realm;
	h->ip = a;
	host_name(h);
	if (ops)
		h->ops = *ops;
	h->ctx = ctx;
	h->timer_pos = SIZE_MAX;
	h->qlimit = SIM_HOST_QUEUE_DEFAULT;
	sim_envctx_init(&h->env, s->seed, STREAM_HOST + h->id);
	if (sim_addr_claim(s, realm, a.ip, h, SIM_ENT_HOST)) {
		free(h);
		return NULL;
	}
	s->hosts[s->nhosts++] = h;
	return h;
}

sim_host *sim_host_add(sim *s, const char *ip, const sim_host_ops *ops, void *ctx)
{
	return sim_host_add_behind(s, NULL, ip, ops, ctx);
}

void sim_host_set_ops(sim_host *h, const sim_host_ops *ops, void *ctx)
{
	if (ops)
		h->ops = *ops;
	else
		memset(&h->ops, 0, sizeof(h->ops));
	h->ctx = ctx;
}

int sim_host_move(sim_host *h, sim_nat *nat, const char *ip)
{
	konce_addr a;
	if (sim_parse_ip(ip, &a))
		return -EINVAL;
	uint32_t realm = nat ? nat->id : 0;
	if (realm == h->realm && memcmp(a.ip, h->ip.ip, 16) == 0)
		return 0;
	if (sim_addr_node(h->s, realm, a.ip))
		return -EADDRINUSE;
	int r = sim_addr_claim(h->s, realm, a.ip, h, SIM_ENT_HOST);
	if (r)
		return r;
	sim_addr_release(h->s, h->realm, h->ip.ip);
	h->realm = realm;
	h->ip = a;
	host_name(h);
	return 0;
}

static ssize_t port_index(const sim_host *h, uint16_t port)
{
	for (size_t i = 0; i < h->nports; i++)
		if (h->ports[i] == port)
			return (ssize_t)i;
	return -1;
}

bool sim_host_bound(const sim_host *h, uint16_t port) { return port_index(h, port) >= 0; }

int sim_host_bind(sim_host *h, uint16_t port)
{
	if (port == 0)
		return -EINVAL;
	if (port_index(h, port) >= 0)
		return -EADDRINUSE;
	if (h->nports == SIM_HOST_MAX_PORTS)
		return -ENOSPC;
	h->ports[h->nports++] = port;
	return 0;
}

int sim_host_unbind(sim_host *h, uint16_t port)
{
	ssize_t i = port_index(h, port);
	if (i < 0)
		return -ENOENT;
	h->ports[i] = h->ports[--h->nports];
	return 0;
}

konce_addr sim_host_addr(const sim_host *h, uint16_t port)
{
	konce_addr a = h->ip;
	a.port = port;
	return a;
}

sim_nat *sim_host_nat(const sim_host *h) { return h->realm ? h->s->nats[h->realm - 1] : NULL; }
void *sim_host_ctx(const sim_host *h) { return h->ctx; }
const char *sim_host_name(const sim_host *h) { return h->name; }
const sim_counters *sim_host_tx(const sim_host *h) { return &h->tx; }
const sim_counters *sim_host_rx(const sim_host *h) { return &h->rx; }
void sim_host_set_uplink(sim_host *h, uint64_t rate, size_t queue_bytes)
{
	h->up_rate = rate;
	h->up_queue = queue_bytes;
}

void sim_host_set_downlink(sim_host *h, uint64_t rate, size_t queue_bytes)
{
	h->down_rate = rate;
	h->down_queue = queue_bytes;
}

void sim_host_set_queue(sim_host *h, size_t cap) { h->qlimit = cap ? cap : 1; }
size_t sim_host_queue_len(const sim_host *h) { return h->qn; }
bool sim_host_busy(const sim_host *h) { return h->busy; }

void sim_host_spend(sim *s, sim_host *h, uint64_t cost)
{
	if (!cost || h->busy)
		return;
	h->busy = true;
	if (sim_ev_push(s, cost > UINT64_MAX - s->now ? UINT64_MAX : s->now + cost, EV_CPU_DONE, h))
		abort();
}

/* ---- timers -------------------------------------------------------------------------------- */

void sim_timer_set(sim *s, sim_host *h, uint64_t at)
{
	if (at < s->now)
		at = s->now;
	if (h->timer_pos != SIZE_MAX) {
		/* re-key in place: a new sequence number, as if freshly scheduled */
		size_t i = h->timer_pos;
		s->heap[i].t = at;
		s->heap[i].seq = s->seq++;
		sift_down(s, i);
		sift_up(s, h->timer_pos);
		return;
	}
	if (sim_ev_push(s, at, EV_TIMER, h))
		abort(); /* out of memory in a test: nothing sensible to do */
}

void sim_timer_cancel(sim *s, sim_host *h)
{
	if (h->timer_pos != SIZE_MAX)
		heap_remove(s, h->timer_pos);
}

uint64_t sim_timer_get(const sim_host *h)
{
	return h->timer_pos == SIZE_MAX ? UINT64_MAX : h->s->heap[h->timer_pos].t;
}

/* ---- the CPU model ------------------------------------------------------------------------- */

static bool q_less(const sim_pkt *a, const sim_pkt *b)
{
	return a->prio < b->prio || (a->prio == b->prio && a->qseq < b->qseq);
}

static void q_sift_up(sim_host *h, size_t i)
{
	sim_pkt *p = h->q[i];
	while (i > 0 && q_less(p, h->q[(i - 1) / 2])) {
		h->q[i] = h->q[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->q[i] = p;
}

static void q_sift_down(sim_host *h, size_t i)
{
	sim_pkt *p = h->q[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->qn)
			break;
		if (c + 1 < h->qn && q_less(h->q[c + 1], h->q[c]))
			c++;
		if (!q_less(h->q[c], p))
			break;
		h->q[i] = h->q[c];
		i = c;
	}
	h->q[i] = p;
}

static sim_pkt *q_take(sim_host *h, size_t i)
{
	sim_pkt *p = h->q[i];
	h->qn--;
	if (i < h->qn) {
		h->q[i] = h->q[h->qn];
		q_sift_down(h, i);
		q_sift_up(h, i);
	}
	return p;
}

static void host_enqueue(sim *s, sim_host *h, sim_pkt *p)
{
	p->prio = h->ops.priority ? h->ops.priority(h->ctx, p->data, p->len, &p->from, s->now) : 0;
	p->qseq = s->qseq++;
	if (h->qn >= h->qlimit) {
		/* the worst entry is a leaf: scan the second half of the heap */
		size_t worst = h->qn / 2;
		for (size_t i = worst + 1; i < h->qn; i++)
			if (q_less(h->q[worst], h->q[i]))
				worst = i;
		if (!q_less(p, h->q[worst])) {
			sim_pkt_drop(s, p, SIM_DROP_CPU, h);
			return;
		}
		sim_pkt_drop(s, q_take(h, worst), SIM_DROP_CPU, h);
	}
	if (h->qn == h->qalloc) {
		size_t n = h->qalloc ? h->qalloc * 2 : 64;
		sim_pkt **q = realloc(h->q, n * sizeof(*q));
		if (!q) {
			sim_pkt_drop(s, p, SIM_DROP_CPU, h);
			return;
		}
		h->q = q;
		h->qalloc = n;
	}
	h->q[h->qn++] = p;
	q_sift_up(h, h->qn - 1);
}

/* Hands p to h's recv callback now; h is idle. */
static void host_process(sim *s, sim_host *h, sim_pkt *p)
{
	if (!h->ops.recv || !sim_host_bound(h, p->to.port)) {
		/* unbound or callback removed while it waited in the queue */
		sim_pkt_drop(s, p, SIM_DROP_NOPORT, h);
		return;
	}
	h->rx.delivered++;
	h->rx.bytes_delivered += p->len;
	p->src->tx.delivered++;
	p->src->tx.bytes_delivered += p->len;
	p->link->c.delivered++;
	p->link->c.bytes_delivered += p->len;
	sim_trace_emit(s, SIM_TR_DELIVER, h, &p->from, &p->to, p->len, NULL);
	sim_trace_mix(s, p->data, p->len);

	s->in_recv = h;
	uint64_t cost = h->ops.recv(h->ctx, p->data, p->len, &p->from, &p->to, s->now);
	s->in_recv = NULL;
	free(p);

	sim_pkt *d = s->defer_head;
	s->defer_head = NULL;
	s->defer_tail = &s->defer_head;
	uint64_t done = cost > UINT64_MAX - s->now ? UINT64_MAX : s->now + cost;
	while (d) {
		sim_pkt *next = d->next;
		d->next = NULL;
		if (cost == 0)
			sim_pkt_depart(s, d);
		else if (sim_ev_push(s, done, EV_DEPART, d))
			free(d);
		d = next;
	}
	if (cost) {
		h->busy = true;
		if (sim_ev_push(s, done, EV_CPU_DONE, h))
			abort();
	}
}

/* A datagram reached h's bound port. */
void sim_host_arrive(sim *s, sim_host *h, sim_pkt *p)
{
	if (h->busy)
		host_enqueue(s, h, p);
	else
		host_process(s, h, p);
}

static void host_cpu_done(sim *s, sim_host *h)
{
	h->busy = false;
	while (!h->busy && h->qn)
		host_process(s, h, q_take(h, 0));
}
