/* classify.c - RFC 5780 NAT behaviour discovery state machine (see classify.h for the diagram). */
#include "nat/classify.h"

#include <string.h>

enum { SOCK_MAP = 0, SOCK_FILT = 1, SOCK_HAIRPIN = 2, SOCK_FRESH = 3 };

void konce_classify_init(konce_classify *c, const konce_classify_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	if (!c->cfg.timeout_us)
		c->cfg.timeout_us = 1500000;
	if (!c->cfg.resend_us)
		c->cfg.resend_us = 300000;
	if (!c->cfg.lifetime_first_s)
		c->cfg.lifetime_first_s = 5;
	if (!c->cfg.lifetime_max_s)
		c->cfg.lifetime_max_s = 120;
	if (c->cfg.lifetime_first_s > c->cfg.lifetime_max_s)
		c->cfg.lifetime_first_s = c->cfg.lifetime_max_s;
	c->state = KONCE_CLASSIFY_T_BASIC;
	c->next_sock = SOCK_FRESH + KONCE_CLASSIFY_PORT_SAMPLES;
}

const konce_classify_result *konce_classify_result_get(const konce_classify *c) { return &c->r; }

void konce_classify_set_reply_to_port(konce_classify *c, bool can) { c->cfg.reply_to_port = can; }

static void addr_with_port(konce_addr *out, const konce_addr *ip_of, uint16_t port)
{
	*out = *ip_of;
	out->port = port;
}

static void add_sample(konce_classify *c, const konce_classify_obs *a, bool first_for_socket)
{
	if (!a->has_mapped || c->r.n_samples >= KONCE_CLASSIFY_MAX_SAMPLES)
		return;
	konce_classify_sample *s = &c->r.samples[c->r.n_samples++];
	s->local_port = a->local.port;
	s->mapped_port = a->mapped.port;
	s->first_for_socket = first_for_socket;
}

/* Port allocation from the samples, in the order the mappings were made.  Sequential means every new
 * mapping lies a little above the previous one: by at most KONCE_CLASSIFY_SEQ_MAX_STEP, or by a small
 * multiple (up to 4, for mappings made by sockets we did not sample) of one common stride, as NATs
 * that allocate every 2nd or every 256th port do. */
static enum konce_nat_ports judge_ports(konce_classify_result *r)
{
	unsigned firsts = 0, preserved = 0, nd = 0;
	uint16_t d[KONCE_CLASSIFY_MAX_SAMPLES], prev = 0, stride = 0;
	for (unsigned i = 0; i < r->n_samples; i++) {
		const konce_classify_sample *s = &r->samples[i];
		if (s->first_for_socket) {
			firsts++;
			preserved += s->mapped_port == s->local_port;
		}
		/* a repeated port is an existing mapping reused (EIM), not a new allocation */
		if (i && s->mapped_port != prev)
			d[nd++] = (uint16_t)(s->mapped_port - prev);
		prev = s->mapped_port;
	}
	if (firsts >= 2 && preserved == firsts)
		return KONCE_NAT_PORTS_PRESERVING;
	if (nd < 2)
		return KONCE_NAT_PORTS_UNKNOWN;
	for (unsigned i = 0; i < nd; i++) {
		if (d[i] >= 0x8000)
			return KONCE_NAT_PORTS_RANDOM; /* went down */
		if (!stride || d[i] < stride)
			stride = d[i];
	}
	for (unsigned i = 0; i < nd; i++)
		if (d[i] > KONCE_CLASSIFY_SEQ_MAX_STEP && (d[i] % stride || d[i] / stride > 4))
			return KONCE_NAT_PORTS_RANDOM;
	r->port_stride = stride;
	return KONCE_NAT_PORTS_SEQUENTIAL;
}

static void finish(konce_classify *c)
{
	c->state = KONCE_CLASSIFY_T_DONE;
	c->r.done = true;
	if (!c->r.blocked)
		c->r.ports = c->r.nat ? judge_ports(&c->r) : KONCE_NAT_PORTS_PRESERVING;
}

/* The state after the mapping tests. */
static enum konce_classify_test after_mapping(const konce_classify *c)
{
	if (c->r.has_alt_addr)
		return KONCE_CLASSIFY_T_FILT_BOTH;
	return c->r.has_alt_port ? KONCE_CLASSIFY_T_FILT_PORT : KONCE_CLASSIFY_T_HAIRPIN;
}

static enum konce_classify_test after_ports(const konce_classify *c)
{
	return c->cfg.lifetime && c->cfg.reply_to_port ? KONCE_CLASSIFY_T_LIFE_MAP : KONCE_CLASSIFY_T_DONE;
}

/* Lifetime search: double the idle period until the mapping is found gone (or the bound is reached),
 * then halve the interval between the last alive and the first dead period a few times. */
static void life_step(konce_classify *c, bool alive)
{
	c->life_steps++;
	c->r.lifetime_measured = true;
	if (alive)
		c->life_lo = c->life_t;
	else
		c->life_hi = c->life_t;
	c->r.lifetime_alive_s = c->life_lo;
	c->r.lifetime_dead_s = c->life_hi;

	uint32_t next;
	if (!c->life_hi) {
		if (c->life_t >= c->cfg.lifetime_max_s) {
			c->state = KONCE_CLASSIFY_T_DONE;
			return;
		}
		next = c->life_t * 2 > c->cfg.lifetime_max_s ? c->cfg.lifetime_max_s : c->life_t * 2;
	} else {
		uint32_t gap = c->life_hi - c->life_lo;
		/* stop at 1 s or 10 % of the dead bound */
		if (gap <= 1 || gap * 10 <= c->life_hi) {
			c->state = KONCE_CLASSIFY_T_DONE;
			return;
		}
		next = c->life_lo + gap / 2;
	}
	if (c->life_steps >= KONCE_CLASSIFY_LIFE_MAX_STEPS) {
		c->state = KONCE_CLASSIFY_T_DONE;
		return;
	}
	c->life_t = next;
	c->state = KONCE_CLASSIFY_T_LIFE_MAP;
}

bool konce_classify_poll(konce_classify *c, uint64_t now, konce_classify_probe *p)
{
	if (c->outstanding) {
		*p = c->cur;
		return true;
	}
	/* skip tests the server cannot support (invariant 2) */
	for (;;) {
		if (c->state == KONCE_CLASSIFY_T_MAP_ALT_ADDR && !c->r.has_alt_addr)
			c->state = c->r.has_alt_port ? KONCE_CLASSIFY_T_MAP_ALT_PORT : after_mapping(c);
		else if (c->state == KONCE_CLASSIFY_T_HAIRPIN && !c->r.nat)
			c->state = KONCE_CLASSIFY_T_PORTS;
		else if (c->state == KONCE_CLASSIFY_T_PORTS && c->port_i >= KONCE_CLASSIFY_PORT_SAMPLES)
			c->state = after_ports(c);
		else
			break;
	}
	if (c->state == KONCE_CLASSIFY_T_DONE) {
		if (!c->r.done)
			finish(c);
		return false;
	}

	konce_classify_probe *q = &c->cur;
	memset(q, 0, sizeof(*q));
	q->test = c->state;
	q->ask = KONCE_CLASSIFY_ASK_SAME;
	q->to = c->cfg.server;
	q->not_before = now;
	q->resend_us = c->cfg.resend_us;
	switch (c->state) {
	case KONCE_CLASSIFY_T_BASIC:
		q->sock = SOCK_MAP;
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_ADDR:
		q->sock = SOCK_MAP;
		addr_with_port(&q->to, &c->r.other, c->cfg.server.port);
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_BOTH:
		q->sock = SOCK_MAP;
		q->to = c->r.other;
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_PORT:
		q->sock = SOCK_MAP;
		q->to.port = c->r.other.port;
		break;
	case KONCE_CLASSIFY_T_FILT_BOTH:
		q->sock = SOCK_FILT;
		q->ask = KONCE_CLASSIFY_ASK_OTHER_BOTH;
		break;
	case KONCE_CLASSIFY_T_FILT_PORT:
		q->sock = SOCK_FILT;
		q->ask = KONCE_CLASSIFY_ASK_OTHER_PORT;
		break;
	case KONCE_CLASSIFY_T_HAIRPIN:
		q->sock = SOCK_HAIRPIN;
		q->to = c->r.mapped;
		q->hairpin = true;
		break;
	case KONCE_CLASSIFY_T_PORTS:
		q->sock = SOCK_FRESH + c->port_i;
		break;
	case KONCE_CLASSIFY_T_LIFE_MAP:
		if (!c->life_t)
			c->life_t = c->cfg.lifetime_first_s;
		q->sock = c->next_sock++;
		c->life_sock = q->sock;
		break;
	case KONCE_CLASSIFY_T_LIFE_CHECK:
		q->sock = c->next_sock++;
		q->ask = KONCE_CLASSIFY_ASK_TO_PORT;
		q->reply_port = c->life_mapping.port;
		q->not_before = c->life_mapped_at + (uint64_t)c->life_t * 1000000;
		if (q->not_before < now)
			q->not_before = now;
		break;
	case KONCE_CLASSIFY_T_DONE:
		break;
	}
	q->expect_sock = q->test == KONCE_CLASSIFY_T_HAIRPIN ? SOCK_MAP
			 : q->test == KONCE_CLASSIFY_T_LIFE_CHECK ? c->life_sock
							     : q->sock;
	q->deadline = q->not_before + c->cfg.timeout_us;
	c->outstanding = true;
	c->r.tests_run++;
	*p = *q;
	return true;
}

void konce_classify_input(konce_classify *c, uint64_t now, const konce_classify_obs *a)
{
	if (!c->outstanding) {
		c->r.ignored++;
		return;
	}
	konce_classify_result *r = &c->r;
	/* every test but the hairpin one needs the mapped address; an answer without it is ignored */
	if (c->cur.test != KONCE_CLASSIFY_T_HAIRPIN && c->cur.test != KONCE_CLASSIFY_T_LIFE_CHECK && !a->has_mapped) {
		r->ignored++;
		return;
	}
	c->outstanding = false;
	switch (c->cur.test) {
	case KONCE_CLASSIFY_T_BASIC:
		r->local = a->local;
		r->mapped = a->mapped;
		r->nat = !konce_addr_eq(&a->local, &a->mapped);
		if (a->has_other) {
			r->other = a->other;
			r->has_alt_addr = memcmp(a->other.ip, c->cfg.server.ip, 16) != 0;
			r->has_alt_port = a->other.port != 0 && a->other.port != c->cfg.server.port;
			if (!r->has_alt_port && r->has_alt_addr) {
				/* an alternate address on the same port: still enough for the address tests */
				r->other.port = c->cfg.server.port;
			}
		}
		if (!r->nat)
			r->mapping = KONCE_NAT_MAP_NONE;
		add_sample(c, a, true);
		c->state = KONCE_CLASSIFY_T_MAP_ALT_ADDR;
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_ADDR:
		r->map_alt_addr = a->mapped;
		add_sample(c, a, false);
		if (konce_addr_eq(&a->mapped, &r->mapped)) {
			if (r->nat)
				r->mapping = KONCE_NAT_MAP_EIM;
			c->state = after_mapping(c);
		} else {
			c->state = r->has_alt_port ? KONCE_CLASSIFY_T_MAP_ALT_BOTH : after_mapping(c);
		}
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_BOTH:
		r->map_alt_both = a->mapped;
		add_sample(c, a, false);
		if (r->nat)
			r->mapping = konce_addr_eq(&a->mapped, &r->map_alt_addr) ? KONCE_NAT_MAP_ADM
										   : KONCE_NAT_MAP_APDM;
		c->state = after_mapping(c);
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_PORT:
		r->map_alt_both = a->mapped;
		add_sample(c, a, false);
		if (r->nat)
			r->mapping = konce_addr_eq(&a->mapped, &r->mapped) ? KONCE_NAT_MAP_PORT_INDEPENDENT
									   : KONCE_NAT_MAP_APDM;
		c->state = after_mapping(c);
		break;
	case KONCE_CLASSIFY_T_FILT_BOTH:
		add_sample(c, a, true); /* socket 1's first mapping */
		r->filtering = KONCE_NAT_FILT_EIF;
		c->state = KONCE_CLASSIFY_T_HAIRPIN;
		break;
	case KONCE_CLASSIFY_T_FILT_PORT:
		add_sample(c, a, true); /* made when FILT_BOTH was sent, unanswered */
		r->filtering = r->has_alt_addr ? KONCE_NAT_FILT_ADF : KONCE_NAT_FILT_PORT_INDEPENDENT;
		c->state = KONCE_CLASSIFY_T_HAIRPIN;
		break;
	case KONCE_CLASSIFY_T_HAIRPIN:
		r->hairpin = KONCE_NAT_YES;
		c->state = KONCE_CLASSIFY_T_PORTS;
		break;
	case KONCE_CLASSIFY_T_PORTS:
		add_sample(c, a, true);
		c->port_i++;
		break;
	case KONCE_CLASSIFY_T_LIFE_MAP:
		c->life_mapping = a->mapped;
		c->life_mapped_at = now;
		c->state = KONCE_CLASSIFY_T_LIFE_CHECK;
		break;
	case KONCE_CLASSIFY_T_LIFE_CHECK:
		life_step(c, true);
		break;
	case KONCE_CLASSIFY_T_DONE:
		break;
	}
}

uint64_t konce_classify_next_timer(const konce_classify *c)
{
	return c->outstanding ? c->cur.deadline : UINT64_MAX;
}

void konce_classify_timer(konce_classify *c, uint64_t now)
{
	(void)now;
	if (!c->outstanding) {
		c->r.ignored++;
		return;
	}
	c->outstanding = false;
	c->r.timeouts++;
	konce_classify_result *r = &c->r;
	switch (c->cur.test) {
	case KONCE_CLASSIFY_T_BASIC:
		r->blocked = true;
		c->state = KONCE_CLASSIFY_T_DONE;
		break;
	/* An alternate that does not answer is treated as absent from then on (invariant 2). */
	case KONCE_CLASSIFY_T_MAP_ALT_ADDR:
		r->has_alt_addr = false;
		c->state = r->has_alt_port ? KONCE_CLASSIFY_T_MAP_ALT_PORT : after_mapping(c);
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_BOTH:
		r->has_alt_port = false; /* X2 != X1 is known, ADM versus APDM is not */
		c->state = after_mapping(c);
		break;
	case KONCE_CLASSIFY_T_MAP_ALT_PORT:
		r->has_alt_port = false;
		c->state = after_mapping(c);
		break;
	case KONCE_CLASSIFY_T_FILT_BOTH:
		c->state = r->has_alt_port ? KONCE_CLASSIFY_T_FILT_PORT : KONCE_CLASSIFY_T_HAIRPIN;
		if (!r->has_alt_port)
			r->filtering = KONCE_NAT_FILT_ADF; /* address-dependent at least; port untestable */
		break;
	case KONCE_CLASSIFY_T_FILT_PORT:
		r->filtering = KONCE_NAT_FILT_APDF;
		c->state = KONCE_CLASSIFY_T_HAIRPIN;
		break;
	case KONCE_CLASSIFY_T_HAIRPIN:
		r->hairpin = KONCE_NAT_NO;
		c->state = KONCE_CLASSIFY_T_PORTS;
		break;
	case KONCE_CLASSIFY_T_PORTS:
		c->port_i++; /* a lost sample is only a smaller sample */
		break;
	case KONCE_CLASSIFY_T_LIFE_MAP:
		c->state = KONCE_CLASSIFY_T_DONE; /* the server stopped answering: give up the measurement */
		break;
	case KONCE_CLASSIFY_T_LIFE_CHECK:
		life_step(c, false);
		break;
	case KONCE_CLASSIFY_T_DONE:
		break;
	}
}

const char *konce_classify_test_str(enum konce_classify_test t)
{
	static const char *const names[] = {
		[KONCE_CLASSIFY_T_BASIC] = "basic",
		[KONCE_CLASSIFY_T_MAP_ALT_ADDR] = "mapping to alternate address",
		[KONCE_CLASSIFY_T_MAP_ALT_BOTH] = "mapping to alternate address and port",
		[KONCE_CLASSIFY_T_MAP_ALT_PORT] = "mapping to alternate port",
		[KONCE_CLASSIFY_T_FILT_BOTH] = "filtering: answer from alternate address and port",
		[KONCE_CLASSIFY_T_FILT_PORT] = "filtering: answer from alternate port",
		[KONCE_CLASSIFY_T_HAIRPIN] = "hairpinning",
		[KONCE_CLASSIFY_T_PORTS] = "port allocation sample",
		[KONCE_CLASSIFY_T_LIFE_MAP] = "lifetime: new mapping",
		[KONCE_CLASSIFY_T_LIFE_CHECK] = "lifetime: is the mapping still there",
		[KONCE_CLASSIFY_T_DONE] = "done",
	};
	return (unsigned)t <= KONCE_CLASSIFY_T_DONE ? names[t] : "unknown";
}

const char *konce_classify_classic_str(const konce_classify_result *r)
{
	if (r->blocked)
		return "blocked";
	if (r->mapping == KONCE_NAT_MAP_NONE) {
		if (r->filtering == KONCE_NAT_FILT_EIF)
			return "open";
		if (r->filtering == KONCE_NAT_FILT_ADF || r->filtering == KONCE_NAT_FILT_APDF)
			return "firewalled";
		return "no-nat"; /* filtering not fully measured */
	}
	if (r->mapping == KONCE_NAT_MAP_ADM || r->mapping == KONCE_NAT_MAP_APDM)
		return r->ports == KONCE_NAT_PORTS_SEQUENTIAL ? "symmetric-sequential" : "symmetric";
	if (r->mapping == KONCE_NAT_MAP_EIM) {
		switch (r->filtering) {
		case KONCE_NAT_FILT_EIF: return "full-cone";
		case KONCE_NAT_FILT_ADF: return "restricted-cone";
		case KONCE_NAT_FILT_APDF: return "port-restricted-cone";
		default: break;
		}
	}
	return "other";
}
