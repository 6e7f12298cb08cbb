/* lifesrv.c - delayed probes for mapping lifetime experiments: a bounded heap and a rate limit. */
#include "nat/lifesrv.h"

#include <errno.h>
#include <string.h>

#include "nat/rdvwire.h"
#include "node/base/ratelimit.h"

#define MS 1000ULL
enum { OUT_RING = 64, REQ_COST = 4, MAX_QUEUE = 1u << 20 };

struct entry {
	uint64_t due, nonce;
	konce_addr to;
	uint32_t delay_ms;
	uint8_t copy;
};

struct outq {
	konce_addr to;
	size_t len;
	uint8_t buf[KONCE_LIFE_ACK_SIZE];
};

struct konce_lifesrv {
	const konce_env *env;
	konce_ratelimit *rl;
	struct entry *heap;
	unsigned cap, n;
	struct outq out[OUT_RING];
	unsigned out_head, out_n;
	struct konce_lifesrv_counters c;
};

int konce_lifesrv_new(konce_lifesrv **out, const konce_lifesrv_cfg *cfg)
{
	*out = NULL;
	konce_lifesrv_cfg c = cfg ? *cfg : (konce_lifesrv_cfg){0};
	c.queue = c.queue ? c.queue : 4096;
	if (c.queue > MAX_QUEUE)
		return -EINVAL;
	const konce_env *env = c.env ? c.env : konce_env_default();
	konce_lifesrv *s = konce_env_alloc(env, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->env = env;
	s->cap = c.queue;
	s->heap = konce_env_alloc(env, sizeof(s->heap[0]) * c.queue);
	int e = s->heap ? konce_ratelimit_new(&s->rl, env, c.rl_slots ? c.rl_slots : 4096, c.rl_rate ? c.rl_rate : 1,
					      c.rl_burst ? c.rl_burst : 16)
			: -ENOMEM;
	if (e) {
		konce_lifesrv_free(s);
		return e;
	}
	*out = s;
	return 0;
}

void konce_lifesrv_free(konce_lifesrv *s)
{
	if (!s)
		return;
	konce_ratelimit_free(s->rl);
	if (s->heap)
		konce_env_free(s->env, s->heap);
	konce_env_free(s->env, s);
}

static void heap_push(konce_lifesrv *s, const struct entry *e)
{
	unsigned i = s->n++;
	while (i && s->heap[(i - 1) / 2].due > e->due) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = *e;
}

static struct entry heap_pop(konce_lifesrv *s)
{
	struct entry top = s->heap[0], last = s->heap[--s->n];
	unsigned i = 0;
	for (;;) {
		unsigned k = 2 * i + 1;
		if (k >= s->n)
			break;
		if (k + 1 < s->n && s->heap[k + 1].due < s->heap[k].due)
			k++;
		if (s->heap[k].due >= last.due)
			break;
		s->heap[i] = s->heap[k];
		i = k;
	}
	if (s->n)
		s->heap[i] = last;
	return top;
}

static void emit(konce_lifesrv *s, uint8_t type, uint8_t flags, uint64_t nonce, uint32_t delay_ms,
		 const konce_addr *to)
{
	if (s->out_n == OUT_RING) {
		s->c.out_dropped++;
		return;
	}
	struct outq *q = &s->out[(s->out_head + s->out_n) % OUT_RING];
	/* an ACK tells the requester its source as seen here: its probe socket's mapping */
	konce_rdvwire_msg m = {.type = type, .flags = flags, .id = nonce, .value = delay_ms, .addr = *to};
	if (!(q->len = konce_rdvwire_encode(&m, q->buf, sizeof(q->buf))))
		return;
	q->to = *to;
	s->out_n++;
}

void konce_lifesrv_input(konce_lifesrv *s, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m;
	s->c.rx++;
	if (konce_rdvwire_decode(&m, pkt, len) || m.type != KONCE_RDV_LIFE_REQ) {
		s->c.bad++;
		return;
	}
	if (konce_ratelimit_charge(s->rl, from, REQ_COST, now)) {
		s->c.rate_limited++;
		return;
	}
	uint32_t delay = m.value < KONCE_LIFE_MAX_DELAY_MS ? m.value : KONCE_LIFE_MAX_DELAY_MS;
	if (s->n == s->cap) {
		s->c.busy++;
		emit(s, KONCE_RDV_LIFE_ACK, KONCE_LIFE_F_BUSY, m.id, delay, from);
		return;
	}
	struct entry e = {.due = now + (uint64_t)delay * MS, .nonce = m.id, .to = *from, .delay_ms = delay};
	heap_push(s, &e);
	s->c.queued++;
	emit(s, KONCE_RDV_LIFE_ACK, 0, m.id, delay, from);
}

uint64_t konce_lifesrv_next_timer(const konce_lifesrv *s) { return s->n ? s->heap[0].due : UINT64_MAX; }

void konce_lifesrv_timer(konce_lifesrv *s, uint64_t now)
{
	/* stop while the ring is full: the rest go out at the next call, late rather than lost */
	while (s->n && s->heap[0].due <= now && s->out_n < OUT_RING) {
		struct entry e = heap_pop(s);
		emit(s, KONCE_RDV_LIFE_PROBE, e.copy, e.nonce, e.delay_ms, &e.to);
		s->c.probes++;
		if (++e.copy < KONCE_LIFE_COPIES) {
			e.due += KONCE_LIFE_COPY_GAP_MS * MS; /* the slot just freed: never fails */
			heap_push(s, &e);
		}
	}
}

bool konce_lifesrv_poll(konce_lifesrv *s, uint8_t buf[KONCE_LIFE_ACK_SIZE], size_t *len, konce_addr *to)
{
	if (!s->out_n)
		return false;
	const struct outq *q = &s->out[s->out_head];
	memcpy(buf, q->buf, q->len);
	*len = q->len;
	*to = q->to;
	s->out_head = (s->out_head + 1) % OUT_RING;
	s->out_n--;
	return true;
}

size_t konce_lifesrv_pending(const konce_lifesrv *s) { return s->n; }

const struct konce_lifesrv_counters *konce_lifesrv_counters(const konce_lifesrv *s) { return &s->c; }
