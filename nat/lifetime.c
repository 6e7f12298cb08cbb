/* lifetime.c - the mapping lifetime search (lifetime.h has the state machine). */
#include "nat/lifetime.h"

#include <errno.h>
#include <string.h>

#include "nat/rdvwire.h"

#define MS 1000ULL
enum {
	ACK_WAIT_MS = 2000,  /* a REQ unanswered this long is lost (or the rendezvous is mute) */
	GAP_MS = 500,        /* between two experiments */
	GRACE_MS = 1500,     /* after the last copy's due time, on top of twice the ACK's RTT */
	BUSY_WAIT_MS = 30 * 1000,
	MAX_NO_ACK = 4,      /* REQs in a row without an ACK: NO_ANSWER */
	DEFAULT_SAFETY = 75,
};

struct konce_lifetime {
	const konce_env *env;
	uint64_t min, max, start, reval;
	unsigned safety;
	enum konce_lifetime_state state;
	bool learned, below_min, confirming, revalidating;
	uint64_t lo, hi, t;     /* t: the delay being tested */
	uint64_t keepalive;
	uint64_t timer;         /* WAIT, LEARNED, NO_ANSWER: next request; REQUEST: ACK deadline;
				 * SILENT: probe deadline */
	uint64_t nonce, sent_at, quiet_since, rtt;
	unsigned no_ack;
	bool have_seen;
	konce_addr seen;        /* the probe socket's mapping, as the last ACK reported it */
	bool out_pending;
	uint8_t out[KONCE_LIFE_REQ_SIZE];
	size_t out_len;
	konce_lifetime_status c;    /* counters only */
};

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

int konce_lifetime_new(konce_lifetime **out, const konce_lifetime_cfg *cfg, uint64_t now)
{
	*out = NULL;
	konce_lifetime_cfg c = cfg ? *cfg : (konce_lifetime_cfg){0};
	c.min_us = c.min_us ? c.min_us : KONCE_LIFE_MIN_MS * MS;
	c.max_us = c.max_us ? c.max_us : KONCE_LIFE_MAX_MS * MS;
	c.start_us = c.start_us ? c.start_us : KONCE_LIFE_START_MS * MS;
	c.revalidate_us = c.revalidate_us ? c.revalidate_us : KONCE_LIFE_REVALIDATE_MS * MS;
	c.safety_pct = c.safety_pct ? c.safety_pct : DEFAULT_SAFETY;
	if (c.min_us >= c.max_us || c.max_us > (uint64_t)KONCE_LIFE_MAX_DELAY_MS * MS || c.safety_pct > 95 ||
	    c.min_us < 2 * MS)
		return -EINVAL;
	const konce_env *env = c.env ? c.env : konce_env_default();
	konce_lifetime *l = konce_env_alloc(env, sizeof(*l));
	if (!l)
		return -ENOMEM;
	memset(l, 0, sizeof(*l));
	l->env = env;
	l->min = c.min_us;
	l->max = c.max_us;
	l->start = clamp(c.start_us, c.min_us, c.max_us);
	l->reval = c.revalidate_us;
	l->safety = c.safety_pct;
	l->t = l->start;
	l->keepalive = l->start * l->safety / 100;
	l->state = KONCE_LIFE_WAIT;
	l->timer = now;
	*out = l;
	return 0;
}

void konce_lifetime_free(konce_lifetime *l)
{
	if (l)
		konce_env_free(l->env, l);
}

/* Invariant 1. */
static void set_keepalive(konce_lifetime *l)
{
	if (l->lo)
		l->keepalive = l->lo * l->safety / 100;
	else if (l->below_min)
		l->keepalive = l->min / 2;
	else {
		l->keepalive = l->start * l->safety / 100;
		if (l->hi && l->hi / 2 < l->keepalive)
			l->keepalive = l->hi / 2;
	}
	if (l->keepalive < MS)
		l->keepalive = MS;
}

static void send_req(konce_lifetime *l, uint64_t now)
{
	uint8_t b[8];
	konce_env_random(l->env, b, sizeof(b));
	l->nonce = wire_get64(b) | 1;
	konce_rdvwire_msg m = {.type = KONCE_RDV_LIFE_REQ, .id = l->nonce, .value = (uint32_t)(l->t / MS)};
	l->out_len = konce_rdvwire_encode(&m, l->out, sizeof(l->out));
	l->out_pending = l->out_len != 0;
	l->sent_at = l->quiet_since = now;
	l->state = KONCE_LIFE_REQUEST;
	l->timer = now + ACK_WAIT_MS * MS;
	l->c.experiments++;
}

/* When every probe the outstanding request could cause has come and gone. */
static uint64_t probes_passed(const konce_lifetime *l)
{
	return l->sent_at + l->t + (KONCE_LIFE_COPIES - 1) * KONCE_LIFE_COPY_GAP_MS * MS + GRACE_MS * MS + 2 * l->rtt;
}

/* Re-validation tests halfway between the keepalive and lo: enough to catch a timeout that shrank
 * below what the keepalive relies on, without flapping on a lo measured right at the lifetime. */
static uint64_t reval_t(const konce_lifetime *l)
{
	uint64_t t = l->lo * (100 + l->safety) / 200;
	return t > l->min ? t : l->min;
}

/* Decides whether the search is over; if not, picks the next T. */
static void next_step(konce_lifetime *l, uint64_t now)
{
	set_keepalive(l);
	bool done = l->lo >= l->max || (l->hi && l->hi <= l->min) || (l->lo && l->hi && l->hi - l->lo <= l->lo / 4);
	if (done) {
		l->learned = true;
		l->revalidating = false;
		l->state = KONCE_LIFE_LEARNED;
		l->timer = now + l->reval;
		l->t = reval_t(l);
		return;
	}
	if (!l->hi)
		l->t = clamp(l->t * 2 > l->lo * 2 ? l->t * 2 : l->lo * 2, l->min, l->max);
	else if (!l->lo)
		l->t = clamp(l->hi / 2, l->min, l->max);
	else
		l->t = (l->lo + l->hi) / 2;
	l->state = KONCE_LIFE_WAIT;
	l->timer = now + GAP_MS * MS;
}

/* The search starts again below the bound that failed. */
static void relearn(konce_lifetime *l, uint64_t failed, uint64_t now)
{
	l->learned = l->revalidating = l->confirming = false;
	l->lo = 0;
	l->hi = failed;
	l->below_min = failed <= l->min;
	l->t = clamp(failed / 2, l->min, l->max);
	set_keepalive(l);
	if (l->below_min) {
		next_step(l, now);
		return;
	}
	l->state = KONCE_LIFE_WAIT;
	l->timer = now + GAP_MS * MS;
}

static void on_success(konce_lifetime *l, uint64_t gap, uint64_t now)
{
	l->c.successes++;
	l->confirming = false;
	l->no_ack = 0;
	if (gap > l->max)
		gap = l->max;
	if (gap > l->lo)
		l->lo = gap;
	if (l->hi && l->hi <= l->lo)
		l->hi = 0; /* a later success beat an earlier failure: the NAT changed; search up again */
	l->below_min = false;
	if (l->revalidating) {
		l->revalidating = false;
		set_keepalive(l);
		l->state = KONCE_LIFE_LEARNED;
		l->timer = now + l->reval;
		return;
	}
	next_step(l, now);
}

static void on_failure(konce_lifetime *l, uint64_t now)
{
	if (!l->confirming) {
		l->confirming = true; /* all copies lost, or expired: ask once more at the same T */
		l->c.retries++;
		l->state = KONCE_LIFE_WAIT;
		l->timer = now;
		return;
	}
	l->confirming = false;
	l->c.failures++;
	if (l->revalidating || (l->lo && l->t <= l->lo)) {
		relearn(l, l->t, now);
		return;
	}
	l->hi = l->hi && l->hi < l->t ? l->hi : l->t;
	if (l->hi <= l->min)
		l->below_min = true;
	next_step(l, now);
}

void konce_lifetime_input(konce_lifetime *l, const uint8_t *pkt, size_t len, uint64_t now)
{
	konce_rdvwire_msg m;
	if (konce_rdvwire_decode(&m, pkt, len) || m.id != l->nonce)
		return;
	if (m.type == KONCE_RDV_LIFE_ACK && l->state == KONCE_LIFE_REQUEST) {
		l->seen = m.addr;
		l->have_seen = true;
		l->rtt = now - l->sent_at;
		l->no_ack = 0;
		if (m.flags & KONCE_LIFE_F_BUSY) {
			l->state = KONCE_LIFE_WAIT;
			l->timer = now + BUSY_WAIT_MS * MS;
			return;
		}
		l->quiet_since = now; /* an inbound packet may refresh the mapping */
		l->state = KONCE_LIFE_SILENT;
		l->timer = probes_passed(l);
		return;
	}
	if (m.type == KONCE_RDV_LIFE_PROBE && l->state != KONCE_LIFE_LEARNED && l->state != KONCE_LIFE_NO_ANSWER) {
		/* a probe whose ACK was lost (REQUEST, or WAIT after the ACK timeout) still proves the
		 * gap since the REQ */
		uint64_t gap = now - l->quiet_since;
		l->nonce = 0; /* later copies are duplicates */
		on_success(l, gap, now);
	}
}

int konce_lifetime_mapping(const konce_lifetime *l, konce_addr *x)
{
	if (!l->have_seen)
		return -ENOENT;
	*x = l->seen;
	return 0;
}

bool konce_lifetime_poll(konce_lifetime *l, uint8_t buf[KONCE_LIFE_REQ_SIZE], size_t *len)
{
	if (!l->out_pending)
		return false;
	memcpy(buf, l->out, l->out_len);
	*len = l->out_len;
	l->out_pending = false;
	return true;
}

uint64_t konce_lifetime_next_timer(const konce_lifetime *l) { return l->timer; }

void konce_lifetime_timer(konce_lifetime *l, uint64_t now)
{
	if (now < l->timer)
		return;
	switch (l->state) {
	case KONCE_LIFE_LEARNED:
		l->revalidating = true;
		/* fall through */
	case KONCE_LIFE_WAIT:
	case KONCE_LIFE_NO_ANSWER:
		send_req(l, now);
		break;
	case KONCE_LIFE_REQUEST:
		l->c.no_acks++;
		if (++l->no_ack >= MAX_NO_ACK) {
			l->no_ack = 0;
			l->nonce = 0;
			l->state = KONCE_LIFE_NO_ANSWER;
			l->timer = now + l->reval;
			return;
		}
		/* the REQ may have arrived and only its ACK been lost: wait out its probes (invariant 3) */
		l->state = KONCE_LIFE_WAIT;
		l->timer = probes_passed(l);
		break;
	case KONCE_LIFE_SILENT:
		l->nonce = 0;
		on_failure(l, now);
		break;
	}
}

void konce_lifetime_rebound(konce_lifetime *l, uint64_t now)
{
	l->c.rebounds++;
	if (l->state == KONCE_LIFE_REQUEST || l->state == KONCE_LIFE_SILENT) {
		/* an experiment in flight: let it finish after the restart, its probes would be stale */
		l->nonce = 0;
	}
	uint64_t failed = l->lo ? l->lo : (l->hi ? l->hi : l->start);
	uint64_t passed = l->state == KONCE_LIFE_REQUEST || l->state == KONCE_LIFE_SILENT ? probes_passed(l) : now;
	relearn(l, failed, now);
	if (passed > l->timer)
		l->timer = passed;
}

uint64_t konce_lifetime_keepalive(const konce_lifetime *l) { return l->keepalive; }

void konce_lifetime_status_get(const konce_lifetime *l, konce_lifetime_status *st)
{
	*st = l->c;
	st->state = l->state;
	st->learned = l->learned;
	st->below_min = l->below_min;
	st->lo_us = l->lo;
	st->hi_us = l->hi;
	st->keepalive_us = l->keepalive;
	st->testing_us = l->t;
}

const char *konce_lifetime_state_name(enum konce_lifetime_state s)
{
	switch (s) {
	case KONCE_LIFE_WAIT: return "wait";
	case KONCE_LIFE_REQUEST: return "request";
	case KONCE_LIFE_SILENT: return "silent";
	case KONCE_LIFE_LEARNED: return "learned";
	case KONCE_LIFE_NO_ANSWER: return "no-answer";
	}
	return "?";
}
