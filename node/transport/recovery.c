/* recovery.c - sent-packet store and RFC 9002 loss detection (see recovery.h). */
#include "node/transport/recovery.h"

#include <errno.h>
#include <string.h>

#include "node/base/wire.h"

static void setup(konce_recovery *r, konce_sent_packet *slots, size_t cap, const konce_recovery_ops *ops,
		  uint64_t peer_max_ack_delay_us)
{
	const konce_env *env = r->env;
	memset(r, 0, sizeof(*r));
	memset(slots, 0, cap * sizeof(*slots));
	r->env = env;
	r->slots = slots;
	r->cap = cap;
	r->ops = *ops;
	r->oldest = 1;
	r->loss_time = KONCE_RECOVERY_NEVER;
	r->packet_threshold = KONCE_LOSS_PACKET_THRESHOLD;
	r->time_num = KONCE_LOSS_TIME_NUM;
	konce_rtt_init(&r->rtt, peer_max_ack_delay_us);
}

int konce_recovery_init(konce_recovery *r, const konce_env *env, size_t capacity,
			const konce_recovery_ops *ops, uint64_t peer_max_ack_delay_us)
{
	if (capacity == 0 || capacity > SIZE_MAX / sizeof(konce_sent_packet))
		return -EINVAL;
	konce_sent_packet *slots = konce_env_alloc(env, capacity * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	r->env = env;
	setup(r, slots, capacity, ops, peer_max_ack_delay_us);
	return 0;
}

void konce_recovery_init_with(konce_recovery *r, konce_sent_packet *slots, size_t capacity,
			      const konce_recovery_ops *ops, uint64_t peer_max_ack_delay_us)
{
	r->env = NULL;
	setup(r, slots, capacity, ops, peer_max_ack_delay_us);
}

void konce_recovery_free(konce_recovery *r)
{
	if (r->env)
		konce_env_free(r->env, r->slots);
	r->slots = NULL;
	r->cap = 0;
}

static konce_sent_packet *find(const konce_recovery *r, uint64_t pn)
{
	konce_sent_packet *s = &r->slots[pn % r->cap];
	return s->pn == pn && pn != 0 ? s : NULL;
}

bool konce_recovery_can_send(const konce_recovery *r, uint64_t pn)
{
	if (pn <= r->largest_sent)
		return false;
	return r->oldest > r->largest_sent || pn - r->oldest < r->cap; /* empty, or within the ring */
}

int konce_recovery_on_sent(konce_recovery *r, const konce_sent_packet *p)
{
	if (p->pn <= r->largest_sent || p->nrefs > KONCE_RECOVERY_MAX_REFS)
		return -EINVAL;
	if (!konce_recovery_can_send(r, p->pn))
		return -ENOBUFS;
	if (r->oldest > r->largest_sent)
		r->oldest = p->pn; /* nothing outstanding: the window starts here */
	konce_sent_packet *s = &r->slots[p->pn % r->cap];
	*s = *p;
	if (p->in_flight) {
		if (r->bytes_in_flight == 0) /* nothing in flight: the intervals start now */
			r->first_sent_time = r->delivered_time = p->time_sent;
		s->delivered = r->delivered;
		s->delivered_time = r->delivered_time;
		s->first_sent_time = r->first_sent_time;
		s->app_limited = r->app_limited_until != 0;
	}
	r->largest_sent = p->pn;
	if (p->in_flight)
		r->bytes_in_flight += p->bytes;
	if (p->ack_eliciting) {
		r->eliciting_in_flight++;
		r->last_eliciting_sent = p->time_sent;
	}
	return 0;
}

/* Removes s from the store and moves `oldest` past any free slots. */
static void retire(konce_recovery *r, konce_sent_packet *s)
{
	if (s->in_flight)
		r->bytes_in_flight -= s->bytes;
	if (s->ack_eliciting)
		r->eliciting_in_flight--;
	s->pn = 0;
	while (r->oldest <= r->largest_sent && r->slots[r->oldest % r->cap].pn != r->oldest)
		r->oldest++;
}

/* s is lost: counted into res, its frames handed back (on_lost) and its slot freed. */
static void declare_lost(konce_recovery *r, konce_sent_packet *s, konce_loss_result *res)
{
	res->nlost++;
	res->nlost_big += r->big_bytes && s->bytes > r->big_bytes;
	if (s->in_flight) {
		res->lost_bytes += s->bytes;
		if (s->time_sent > res->largest_lost_sent)
			res->largest_lost_sent = s->time_sent;
	}
	for (uint8_t i = 0; i < s->nrefs; i++)
		if (r->ops.on_lost)
			r->ops.on_lost(r->ops.ctx, &s->refs[i]);
	retire(r, s);
}

/* RFC 9002 section 7.6: the period whose loss, with no ack in between, is persistent congestion. */
static uint64_t persistent_duration(const konce_recovery *r)
{
	uint64_t v = 4 * r->rtt.var;
	if (v < KONCE_GRANULARITY_US)
		v = KONCE_GRANULARITY_US;
	return (r->rtt.smoothed + v + r->rtt.max_ack_delay) * KONCE_PERSISTENT_CONGESTION_THRESHOLD;
}

/* RFC 9002 DetectAndRemoveLostPackets.  Walks the outstanding packets up to largest_acked. */
static void detect_lost(konce_recovery *r, uint64_t now, konce_loss_result *res)
{
	uint64_t rtt = r->rtt.latest > r->rtt.smoothed ? r->rtt.latest : r->rtt.smoothed;
	uint64_t delay = rtt * r->time_num / KONCE_LOSS_TIME_DEN;
	if (delay < KONCE_GRANULARITY_US)
		delay = KONCE_GRANULARITY_US;
	/* A run of consecutive lost ack-eliciting packets, for persistent congestion: any packet in
	 * between that is not in the store (acked earlier, or never tracked) ends the run. */
	uint64_t run_start = 0, run_last_pn = 0;

	r->loss_time = KONCE_RECOVERY_NEVER;
	for (uint64_t pn = r->oldest; pn <= r->largest_acked && pn <= r->largest_sent; pn++) {
		konce_sent_packet *s = find(r, pn);
		if (!s) {
			run_start = 0;
			continue;
		}
		uint64_t t = s->time_sent + delay;
		bool by_count = r->largest_acked >= pn + r->packet_threshold;
		if (t > now && !by_count) {
			if (t < r->loss_time)
				r->loss_time = t;
			run_start = 0;
			continue;
		}
		if (s->ack_eliciting && r->first_rtt_sample && s->time_sent > r->first_rtt_sample) {
			if (run_start == 0 || run_last_pn + 1 != pn)
				run_start = s->time_sent;
			else if (s->time_sent - run_start > persistent_duration(r))
				res->persistent_congestion = true;
			run_last_pn = pn;
		} else {
			run_start = 0;
		}
		konce_lost_packet *l = &r->lost[r->nlost_total++ % KONCE_RECOVERY_LOST_MEMORY];
		l->pn = pn;
		l->largest_acked = r->largest_acked;
		l->by_time = !by_count;
		l->bytes = s->in_flight ? s->bytes : 0;
		l->nrefs = s->nrefs;
		memcpy(l->refs, s->refs, s->nrefs * sizeof(s->refs[0]));
		declare_lost(r, s, res);
	}
}

/* draft-cheng-iccrg-delivery-rate-estimation UpdateRateSample, for one newly acked packet. */
static void rate_acked(konce_recovery *r, const konce_sent_packet *s, uint64_t now, konce_sent_packet *newest)
{
	r->delivered += s->bytes;
	r->delivered_time = now;
	if (!newest->pn || s->delivered > newest->delivered ||
	    (s->delivered == newest->delivered && s->time_sent > newest->time_sent)) {
		*newest = *s;
		r->first_sent_time = s->time_sent; /* the next send interval starts at this packet */
	}
}

/* GenerateRateSample, once per ack, from the newest packet it covered. */
static void rate_sample(konce_recovery *r, const konce_sent_packet *p, konce_loss_result *res)
{
	if (r->app_limited_until && r->delivered > r->app_limited_until)
		r->app_limited_until = 0;
	konce_rate_sample *rs = &res->rs;
	rs->prior_delivered = p->delivered;
	rs->app_limited = p->app_limited;
	rs->delivered = r->delivered - p->delivered;
	uint64_t send_elapsed = p->time_sent - p->first_sent_time;
	uint64_t ack_elapsed = r->delivered_time - p->delivered_time;
	rs->interval_us = send_elapsed > ack_elapsed ? send_elapsed : ack_elapsed;
	/* an interval shorter than the minimum RTT cannot be right (RFC draft section 3.3) */
	if (rs->interval_us == 0 || (r->rtt.have_sample && rs->interval_us < r->rtt.min))
		return;
	rs->rate = rs->delivered * 1000000 / rs->interval_us;
}

void konce_recovery_on_app_limited(konce_recovery *r)
{
	uint64_t v = r->delivered + r->bytes_in_flight;
	r->app_limited_until = v ? v : 1;
}

/* An ack covering a packet declared lost: it was reordering, not loss. */
static void spurious(konce_recovery *r, const konce_ack *ack, konce_loss_result *res)
{
	for (size_t i = 0; i < KONCE_RECOVERY_LOST_MEMORY; i++) {
		konce_lost_packet *l = &r->lost[i];
		if (l->pn == 0 || !konce_ack_contains(ack, l->pn))
			continue;
		uint64_t distance = l->largest_acked - l->pn + 1;
		if (!l->by_time && distance > KONCE_LOSS_PACKET_THRESHOLD_MAX)
			r->packet_threshold = KONCE_RECOVERY_NO_PACKET_THRESHOLD; /* RACK: time alone */
		else if (!l->by_time && distance > r->packet_threshold)
			r->packet_threshold = distance;
		if (l->by_time && r->time_num < KONCE_LOSS_TIME_NUM_MAX)
			r->time_num += 2;
		for (uint8_t k = 0; k < l->nrefs; k++)
			if (r->ops.on_acked)
				r->ops.on_acked(r->ops.ctx, &l->refs[k]);
		l->pn = 0;
		res->nspurious++;
		res->spurious_bytes += l->bytes;
		r->spurious_total++;
	}
}

int konce_recovery_on_ack(konce_recovery *r, const konce_ack *ack, uint64_t now, konce_loss_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!konce_ack_valid(ack) || konce_ack_largest(ack) > r->largest_sent)
		return -EPROTO;

	uint64_t largest = konce_ack_largest(ack);
	bool largest_new = false, eliciting_new = false;
	konce_sent_packet newest = {0}; /* the sample's packet: the one sent last, by delivered */
	uint64_t largest_sent_time = 0;
	/* Ranges are newest first; only [oldest, largest_sent] can hold outstanding packets. */
	for (size_t i = 0; i < ack->nranges; i++) {
		uint64_t lo = ack->ranges[i].lo < r->oldest ? r->oldest : ack->ranges[i].lo;
		for (uint64_t pn = ack->ranges[i].hi; pn >= lo && pn != 0; pn--) {
			konce_sent_packet *s = find(r, pn);
			if (!s)
				continue;
			if (pn == largest) {
				largest_new = true;
				largest_sent_time = s->time_sent;
			}
			eliciting_new |= s->ack_eliciting;
			res->nacked++;
			res->nacked_big += r->big_bytes && s->bytes > r->big_bytes;
			if (s->in_flight) {
				res->acked_bytes += s->bytes;
				if (s->time_sent > res->largest_acked_sent)
					res->largest_acked_sent = s->time_sent;
				rate_acked(r, s, now, &newest);
			}
			for (uint8_t k = 0; k < s->nrefs; k++)
				if (r->ops.on_acked)
					r->ops.on_acked(r->ops.ctx, &s->refs[k]);
			retire(r, s);
		}
	}
	spurious(r, ack, res);
	if (newest.pn)
		rate_sample(r, &newest, res);
	if (res->nacked == 0)
		return 0; /* old or duplicate ack: nothing to learn (RFC 9002 OnAckReceived) */
	if (largest > r->largest_acked)
		r->largest_acked = largest;
	if (largest_new && eliciting_new) {
		konce_rtt_update(&r->rtt, now > largest_sent_time ? now - largest_sent_time : 0, ack->ack_delay_us);
		res->rtt_sample = true;
		if (!r->first_rtt_sample)
			r->first_rtt_sample = now;
	}
	detect_lost(r, now, res);
	r->pto_count = 0;
	return 0;
}

void konce_recovery_on_unrecorded_ack(konce_recovery *r, uint64_t largest, uint64_t now, konce_loss_result *res)
{
	memset(res, 0, sizeof(*res));
	if (largest <= r->largest_acked)
		return;
	r->largest_acked = largest;
	detect_lost(r, now, res);
	r->pto_count = 0;
}

void konce_recovery_evict(konce_recovery *r, uint64_t pn, konce_loss_result *res)
{
	memset(res, 0, sizeof(*res));
	while (pn > r->largest_sent && !konce_recovery_can_send(r, pn)) {
		konce_sent_packet *s = find(r, r->oldest); /* occupied: retire() keeps oldest on one */
		if (!s)
			break;
		/* not remembered as a loss: a late ack of it says nothing about reordering */
		declare_lost(r, s, res);
	}
}

void konce_recovery_path_reset(konce_recovery *r)
{
	konce_rtt_init(&r->rtt, r->rtt.max_ack_delay);
	r->pto_count = 0;
	r->first_rtt_sample = 0;
}

uint64_t konce_recovery_timer(const konce_recovery *r)
{
	if (r->loss_time != KONCE_RECOVERY_NEVER)
		return r->loss_time;
	if (r->eliciting_in_flight == 0)
		return KONCE_RECOVERY_NEVER;
	unsigned shift = r->pto_count < KONCE_PTO_MAX_BACKOFF ? r->pto_count : KONCE_PTO_MAX_BACKOFF;
	return r->last_eliciting_sent + (konce_rtt_pto(&r->rtt) << shift);
}

konce_recovery_timeout konce_recovery_on_timeout(konce_recovery *r, uint64_t now, konce_loss_result *res)
{
	memset(res, 0, sizeof(*res));
	uint64_t t = konce_recovery_timer(r);
	if (t == KONCE_RECOVERY_NEVER || now < t)
		return KONCE_RECOVERY_TIMER_NONE;
	if (r->loss_time != KONCE_RECOVERY_NEVER) {
		detect_lost(r, now, res);
		return KONCE_RECOVERY_TIMER_LOSS;
	}
	r->pto_count++;
	r->pto_total++;
	return KONCE_RECOVERY_TIMER_PROBE;
}

size_t konce_recovery_probe_refs(const konce_recovery *r, konce_frame_ref *refs, size_t max,
				 bool (*needed)(void *ctx, const konce_frame_ref *ref), void *ctx)
{
	size_t n = 0;
	for (uint64_t pn = r->oldest; pn <= r->largest_sent && n < max; pn++) {
		const konce_sent_packet *s = find(r, pn);
		if (!s || !s->ack_eliciting)
			continue;
		for (uint8_t i = 0; i < s->nrefs && n < max; i++)
			if (!needed || needed(ctx, &s->refs[i]))
				refs[n++] = s->refs[i];
	}
	return n;
}

int konce_recovery_resize(konce_recovery *r, size_t capacity)
{
	if (!r->env || capacity == 0 || capacity > SIZE_MAX / sizeof(konce_sent_packet))
		return -EINVAL;
	if (r->oldest <= r->largest_sent && r->largest_sent - r->oldest >= capacity)
		return -EINVAL; /* the outstanding packets would not fit */
	konce_sent_packet *slots = konce_env_alloc(r->env, capacity * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0, capacity * sizeof(*slots));
	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i].pn)
			slots[r->slots[i].pn % capacity] = r->slots[i];
	konce_env_free(r->env, r->slots);
	r->slots = slots;
	r->cap = capacity;
	return 0;
}
