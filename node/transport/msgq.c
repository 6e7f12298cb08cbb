/* msgq.c - outgoing messages, fragment by fragment (see msgq.h). */
#include "node/transport/msgq.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

void konce_msgq_init(konce_msgq *q, const konce_env *env)
{
	memset(q, 0, sizeof *q);
	q->env = env;
	q->next_wire_id = 1;
}

_Static_assert(sizeof(konce_smsg) <= KONCE_MSGQ_MSG_COST, "a message's bookkeeping outgrew its cost");

void konce_msgq_set_limit(konce_msgq *q, uint64_t max_held, konce_msgq_pool *pool)
{
	q->max_held = max_held;
	q->pool = pool;
}

static void msg_free(konce_msgq *q, konce_smsg *m)
{
	if (m->data) {
		sodium_memzero(m->data, m->len);
		konce_env_free(q->env, m->data);
	}
	konce_env_free(q->env, m->acked);
	konce_env_free(q->env, m);
}

void konce_msgq_free(konce_msgq *q)
{
	konce_smsg *m;
	while ((m = konce_msgq_any(q)))
		konce_msgq_retire(q, m);
	konce_env_free(q->env, q->rtx);
	q->rtx = NULL;
}

bool konce_msgq_admits(const konce_msgq *q, uint64_t cost)
{
	if (q->max_held && cost > q->max_held - q->held)
		return false;
	const konce_msgq_pool *p = q->pool;
	if (!p)
		return true;
	if (cost > p->budget - p->used)
		return false;
	if (!p->shares || p->used + cost <= p->budget / 2)
		return true;
	return q->held + cost <= p->budget / 2 / p->shares; /* past half: within the queue's slice */
}

static void charge(konce_msgq *q, uint64_t cost)
{
	if (q->pool) {
		q->pool->holders += q->held == 0;
		q->pool->used += cost;
	}
	q->held += cost;
}

static void uncharge(konce_msgq *q, uint64_t cost)
{
	q->held -= cost;
	if (q->pool) {
		q->pool->used -= cost;
		q->pool->holders -= q->held == 0;
	}
}

/* Queues a message: its bytes are own (taken over on success) or, if own is NULL, a copy of msg. */
static int push(konce_msgq *q, const uint8_t *msg, uint8_t *own, size_t len, uint8_t klass, uint64_t api_id,
		uint64_t now)
{
	uint64_t cost = konce_msgq_cost(len);
	if (!konce_msgq_admits(q, cost))
		return -ENOBUFS;
	konce_smsg *m = konce_env_alloc(q->env, sizeof *m);
	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof *m);
	m->nunits = konce_msgq_units(len);
	m->acked = konce_env_alloc(q->env, (size_t)(m->nunits + 63) / 64 * 8);
	if (!own)
		m->data = len ? konce_env_alloc_raw(q->env, len) : NULL; /* written in full below */
	if (!m->acked || (len && !own && !m->data)) {
		msg_free(q, m); /* not own: the caller keeps it on failure */
		return -ENOMEM;
	}
	memset(m->acked, 0, (size_t)(m->nunits + 63) / 64 * 8);
	if (own)
		m->data = own;
	else if (len)
		memcpy(m->data, msg, len);
	m->len = len;
	m->charge = konce_reasm_charge(len);
	m->klass = klass;
	m->api_id = api_id;
	m->queued_us = now;
	if (q->wait_tail)
		q->wait_tail->next = m;
	else
		q->wait_head = m;
	q->wait_tail = m;
	q->nwait++;
	q->unacked_bytes += len;
	charge(q, cost);
	if (klass)
		q->nbackground++;
	return 0;
}

int konce_msgq_push(konce_msgq *q, const uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now)
{
	return push(q, msg, NULL, len, klass, api_id, now);
}

int konce_msgq_push_owned(konce_msgq *q, uint8_t *msg, size_t len, uint8_t klass, uint64_t api_id, uint64_t now)
{
	if (len && !msg)
		return -EINVAL;
	return push(q, NULL, len ? msg : NULL, len, klass, api_id, now);
}

static uint64_t oldest_wire(const konce_msgq *q)
{
	uint64_t o = q->next_wire_id;
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q->active[i] && q->active[i]->wire_id < o)
			o = q->active[i]->wire_id;
	return o;
}

unsigned konce_msgq_start(konce_msgq *q, uint64_t credit)
{
	unsigned n = 0;
	while (q->wait_head && q->nactive < KONCE_MSGQ_ACTIVE) {
		konce_smsg *m = q->wait_head;
		if (q->nactive > 0 && (m->charge > credit || q->outstanding_charge > credit - m->charge))
			break;
		if (q->next_wire_id >= oldest_wire(q) + KONCE_REASM_WINDOW)
			break;
		unsigned slot = 0;
		while (q->active[slot])
			slot++;
		q->wait_head = m->next;
		if (!q->wait_head)
			q->wait_tail = NULL;
		q->nwait--;
		m->next = NULL;
		m->wire_id = q->next_wire_id++;
		q->active[slot] = m;
		q->nactive++;
		q->outstanding_charge += m->charge;
		n++;
	}
	return n;
}

static bool bit(const uint64_t *map, uint64_t i) { return map[i / 64] >> (i % 64) & 1; }

/* Data bytes of units [index, index + count) of m (the last unit may be short; an empty message's
 * one unit holds none). */
static uint64_t run_bytes(const konce_smsg *m, uint64_t index, uint64_t count)
{
	uint64_t off = index * KONCE_FRAG_UNIT;
	if (off >= m->len)
		return 0;
	uint64_t n = count * KONCE_FRAG_UNIT;
	return n < m->len - off ? n : m->len - off;
}

/* The units ref covers, within m. */
static uint64_t ref_end(const konce_smsg *m, const konce_frame_ref *ref)
{
	uint64_t end = (uint64_t)ref->index + (ref->count ? ref->count : 1);
	return end < m->nunits ? end : m->nunits;
}

konce_smsg *konce_msgq_by_wire(const konce_msgq *q, uint64_t wire_id)
{
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q->active[i] && q->active[i]->wire_id == wire_id)
			return q->active[i];
	return NULL;
}

konce_smsg *konce_msgq_by_api(const konce_msgq *q, uint64_t api_id)
{
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q->active[i] && q->active[i]->api_id == api_id)
			return q->active[i];
	for (konce_smsg *m = q->wait_head; m; m = m->next)
		if (m->api_id == api_id)
			return m;
	return NULL;
}

uint64_t konce_msgq_acked_bytes(const konce_smsg *m)
{
	if (!m->acked || m->nacked == 0)
		return 0;
	uint64_t last = m->nunits - 1;
	uint64_t bytes = m->nacked * KONCE_FRAG_UNIT;
	if (bit(m->acked, last)) /* the last unit is short: count what it holds */
		bytes -= KONCE_FRAG_UNIT - run_bytes(m, last, 1);
	return bytes > m->len ? m->len : bytes;
}

/* The mask of units [i, end) within word w of a map (i < end, and [i, end) meets word w). */
static uint64_t word_mask(uint64_t w, uint64_t i, uint64_t end)
{
	uint64_t lo = i > w * 64 ? i - w * 64 : 0, hi = end < (w + 1) * 64 ? end - w * 64 : 64;
	return (hi - lo == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << (hi - lo)) - 1)) << lo;
}

bool konce_msgq_needed(const konce_msgq *q, const konce_frame_ref *ref)
{
	if (ref->kind != KONCE_REF_FRAGMENT)
		return false;
	const konce_smsg *m = konce_msgq_by_wire(q, ref->id);
	if (!m)
		return false;
	uint64_t i = ref->index, end = ref_end(m, ref);
	if (i >= end)
		return false;
	/* a word at a time: a packet's run is about a hundred units */
	for (uint64_t w = i / 64; w <= (end - 1) / 64; w++)
		if (~m->acked[w] & word_mask(w, i, end))
			return true;
	return false;
}

/* Narrows ref to its first needed run that fits max_bytes; *rest gets the units after that run
 * (count 0 if none).  0 = done, -ENOENT = nothing needed, -EMSGSIZE = needed but no unit fits. */
static int clip(const konce_msgq *q, konce_frame_ref *ref, size_t max_bytes, konce_frame_ref *rest)
{
	rest->count = 0;
	const konce_smsg *m = ref->kind == KONCE_REF_FRAGMENT ? konce_msgq_by_wire(q, ref->id) : NULL;
	if (!m)
		return -ENOENT;
	uint64_t i = ref->index, end = ref_end(m, ref);
	while (i < end && bit(m->acked, i))
		i++;
	if (i >= end)
		return -ENOENT;
	uint64_t j = i;
	while (j < end && j - i < UINT16_MAX && !bit(m->acked, j) && run_bytes(m, i, j - i + 1) <= max_bytes)
		j++;
	if (j == i)
		return -EMSGSIZE;
	if (j < end)
		*rest = (konce_frame_ref){.id = ref->id, .index = (uint32_t)j, .kind = ref->kind,
					  .count = (uint16_t)(end - j)};
	ref->index = (uint32_t)i;
	ref->count = (uint16_t)(j - i);
	return 0;
}

bool konce_msgq_clip(const konce_msgq *q, konce_frame_ref *ref, size_t max_bytes)
{
	konce_frame_ref rest;
	return clip(q, ref, max_bytes, &rest) == 0;
}

static int rtx_push(konce_msgq *q, const konce_frame_ref *ref, bool front)
{
	if (q->rtx_n == q->rtx_cap) {
		size_t cap = q->rtx_cap ? q->rtx_cap * 2 : 64;
		konce_frame_ref *r = konce_env_alloc(q->env, cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		for (size_t i = 0; i < q->rtx_n; i++)
			r[i] = q->rtx[(q->rtx_head + i) % q->rtx_cap];
		konce_env_free(q->env, q->rtx);
		q->rtx = r;
		q->rtx_cap = cap;
		q->rtx_head = 0;
	}
	if (front) {
		q->rtx_head = (q->rtx_head + q->rtx_cap - 1) % q->rtx_cap;
		q->rtx[q->rtx_head] = *ref;
	} else {
		q->rtx[(q->rtx_head + q->rtx_n) % q->rtx_cap] = *ref;
	}
	q->rtx_n++;
	return 0;
}

bool konce_msgq_next(konce_msgq *q, konce_frame_ref *ref, size_t max_bytes)
{
	while (q->rtx_n) {
		*ref = q->rtx[q->rtx_head];
		q->rtx_head = (q->rtx_head + 1) % q->rtx_cap;
		q->rtx_n--;
		konce_frame_ref rest;
		int r = clip(q, ref, max_bytes, &rest);
		if (r == -EMSGSIZE) {
			rtx_push(q, ref, true); /* the slot it came from is free */
			return false;
		}
		if (r == 0) {
			if (rest.count) /* on ENOMEM the probe timeout finds the rest among outstanding data */
				rtx_push(q, &rest, true);
			return true;
		}
	}
	for (unsigned k = 0; k < KONCE_MSGQ_ACTIVE; k++) {
		unsigned i = (q->rr + k) % KONCE_MSGQ_ACTIVE;
		konce_smsg *m = q->active[i];
		if (!m || m->next_new >= m->nunits)
			continue;
		uint64_t n = max_bytes / KONCE_FRAG_UNIT, left = m->nunits - m->next_new;
		if (n > left)
			n = left;
		if (n > UINT16_MAX)
			n = UINT16_MAX;
		if (n == 0 && left == 1 && run_bytes(m, m->next_new, 1) <= max_bytes)
			n = 1; /* a short last unit */
		if (n == 0)
			return false;
		*ref = (konce_frame_ref){.id = m->wire_id, .index = (uint32_t)m->next_new, .kind = KONCE_REF_FRAGMENT,
					 .count = (uint16_t)n};
		m->next_new += n;
		q->rr = i + 1;
		return true;
	}
	return false;
}

void konce_msgq_unnext(konce_msgq *q, const konce_frame_ref *ref)
{
	konce_smsg *m = konce_msgq_by_wire(q, ref->id);
	if (m && m->next_new == (uint64_t)ref->index + ref->count) {
		m->next_new = ref->index;
		/* its turn is not over: the round-robin starts from it again, or a message whose
		 * fragment keeps not fitting behind another would be skipped for ever */
		for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
			if (q->active[i] == m)
				q->rr = i;
	} else if (rtx_push(q, ref, true))
		return; /* out of memory: the probe timeout sends it again (it is still in no packet) */
}

bool konce_msgq_has_data(const konce_msgq *q)
{
	if (konce_msgq_empty(q) && q->rtx_n == 0)
		return false; /* the common case for a session that only holds keepalives */
	for (size_t i = 0; i < q->rtx_n; i++)
		if (konce_msgq_needed(q, &q->rtx[(q->rtx_head + i) % q->rtx_cap]))
			return true;
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q->active[i] && q->active[i]->next_new < q->active[i]->nunits)
			return true;
	return false;
}

int konce_msgq_fragment(const konce_msgq *q, const konce_frame_ref *ref, konce_fragment *f)
{
	if (!konce_msgq_needed(q, ref))
		return -ENOENT;
	const konce_smsg *m = konce_msgq_by_wire(q, ref->id);
	uint64_t off = (uint64_t)ref->index * KONCE_FRAG_UNIT;
	size_t len = (size_t)run_bytes(m, ref->index, ref_end(m, ref) - ref->index);
	*f = (konce_fragment){.msg_id = m->wire_id, .offset = off, .total = m->len, .len = len,
			      .data = m->data && len ? m->data + off : NULL};
	return 0;
}

konce_smsg *konce_msgq_acked(konce_msgq *q, const konce_frame_ref *ref)
{
	if (!konce_msgq_needed(q, ref))
		return NULL;
	konce_smsg *m = konce_msgq_by_wire(q, ref->id);
	uint64_t i = ref->index, end = ref_end(m, ref), last = m->nunits - 1;
	for (uint64_t w = i / 64; w <= (end - 1) / 64; w++) {
		uint64_t fresh = word_mask(w, i, end) & ~m->acked[w];
		if (!fresh)
			continue;
		uint64_t n = (uint64_t)__builtin_popcountll(fresh), bytes = n * KONCE_FRAG_UNIT;
		if (w == last / 64 && (fresh >> (last % 64) & 1)) /* the last unit may be short */
			bytes -= KONCE_FRAG_UNIT - run_bytes(m, last, 1);
		m->acked[w] |= fresh;
		q->unacked_bytes -= bytes;
		m->nacked += n;
	}
	return m->nacked == m->nunits ? m : NULL;
}

void konce_msgq_lost(konce_msgq *q, const konce_frame_ref *ref)
{
	if (konce_msgq_needed(q, ref))
		rtx_push(q, ref, false); /* on ENOMEM the probe timeout finds it among outstanding data */
}

void konce_msgq_retire(konce_msgq *q, konce_smsg *m)
{
	bool found = false;
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q->active[i] == m) {
			q->active[i] = NULL;
			q->nactive--;
			q->outstanding_charge -= m->charge;
			found = true;
		}
	if (!found) {
		konce_smsg **pp = &q->wait_head, *prev = NULL;
		while (*pp && *pp != m) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (!*pp)
			return;
		*pp = m->next;
		if (q->wait_tail == m)
			q->wait_tail = prev;
		q->nwait--;
	}
	/* bytes of units never acked (a word at a time: a delivered message has every bit set) */
	for (uint64_t w = 0; w * 64 < m->nunits; w++) {
		if (m->acked[w] == UINT64_MAX)
			continue;
		for (uint64_t i = w * 64; i < m->nunits && i < w * 64 + 64; i++)
			if (!bit(m->acked, i))
				q->unacked_bytes -= run_bytes(m, i, 1);
	}
	if (m->klass)
		q->nbackground--;
	uncharge(q, konce_msgq_cost(m->len));
	msg_free(q, m);
}

konce_smsg *konce_msgq_any(const konce_msgq *q)
{
	for (unsigned i = 0; i < KONCE_MSGQ_ACTIVE; i++)
		if (q->active[i])
			return q->active[i];
	return q->wait_head;
}
