/* inq.c - the input queue: a fixed pool of slots, one FIFO list per priority (see inq.h). */
#include "node/core/inq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct slot {
	uint32_t next; /* in its priority's FIFO, or on the free stack */
	uint32_t len;
	konce_addr from;
};

struct konce_inq {
	struct slot *slots;
	uint8_t *data; /* slots x max_len */
	size_t max_len;
	uint32_t nslots, nqueued, free_top;
	uint32_t head[KONCE_INQ_PRIOS], tail[KONCE_INQ_PRIOS];
	uint64_t shed[KONCE_INQ_PRIOS], shed_total;
};

int konce_inq_new(konce_inq **out, unsigned slots, size_t max_len)
{
	*out = NULL;
	if (!slots || !max_len || slots > (1u << 24))
		return -EINVAL;
	konce_inq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->slots = calloc(slots, sizeof(*q->slots));
	q->data = malloc((size_t)slots * max_len);
	if (!q->slots || !q->data) {
		konce_inq_free(q);
		return -ENOMEM;
	}
	q->max_len = max_len;
	q->nslots = slots;
	for (uint32_t i = 0; i < slots; i++)
		q->slots[i].next = i + 1 < slots ? i + 1 : NIL;
	q->free_top = 0;
	for (unsigned p = 0; p < KONCE_INQ_PRIOS; p++)
		q->head[p] = q->tail[p] = NIL;
	*out = q;
	return 0;
}

void konce_inq_free(konce_inq *q)
{
	if (!q)
		return;
	free(q->slots);
	free(q->data);
	free(q);
}

static void count_shed(konce_inq *q, unsigned prio)
{
	q->shed[prio]++;
	q->shed_total++;
}

/* Unlinks the oldest datagram of priority p onto the free stack. */
static void pop_head(konce_inq *q, unsigned p)
{
	uint32_t i = q->head[p];
	q->head[p] = q->slots[i].next;
	if (q->head[p] == NIL)
		q->tail[p] = NIL;
	q->slots[i].next = q->free_top;
	q->free_top = i;
	q->nqueued--;
}

bool konce_inq_push(konce_inq *q, unsigned prio, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	if (prio >= KONCE_INQ_PRIOS)
		prio = KONCE_INQ_PRIOS - 1;
	if (len > q->max_len) {
		count_shed(q, prio);
		return false;
	}
	if (q->free_top == NIL) {
		unsigned worst = KONCE_INQ_PRIOS;
		while (worst > 0 && q->head[worst - 1] == NIL)
			worst--;
		/* full, so some list is non-empty: worst >= 1 */
		if (worst - 1 <= prio) {
			count_shed(q, prio); /* nothing queued is worse than this one */
			return false;
		}
		count_shed(q, worst - 1);
		pop_head(q, worst - 1);
	}
	uint32_t i = q->free_top;
	struct slot *s = &q->slots[i];
	q->free_top = s->next;
	s->next = NIL;
	s->len = (uint32_t)len;
	s->from = *from;
	if (len)
		memcpy(q->data + (size_t)i * q->max_len, pkt, len);
	if (q->tail[prio] == NIL)
		q->head[prio] = i;
	else
		q->slots[q->tail[prio]].next = i;
	q->tail[prio] = i;
	q->nqueued++;
	return true;
}

static int best(const konce_inq *q)
{
	for (unsigned p = 0; p < KONCE_INQ_PRIOS; p++)
		if (q->head[p] != NIL)
			return (int)p;
	return -1;
}

bool konce_inq_peek(const konce_inq *q, const uint8_t **pkt, size_t *len, const konce_addr **from,
		    unsigned *prio)
{
	int p = best(q);
	if (p < 0)
		return false;
	uint32_t i = q->head[p];
	*pkt = q->data + (size_t)i * q->max_len;
	*len = q->slots[i].len;
	*from = &q->slots[i].from;
	if (prio)
		*prio = (unsigned)p;
	return true;
}

void konce_inq_drop(konce_inq *q)
{
	int p = best(q);
	if (p >= 0)
		pop_head(q, (unsigned)p);
}

size_t konce_inq_len(const konce_inq *q) { return q->nqueued; }

uint64_t konce_inq_shed(const konce_inq *q) { return q->shed_total; }

uint64_t konce_inq_shed_prio(const konce_inq *q, unsigned prio)
{
	return prio < KONCE_INQ_PRIOS ? q->shed[prio] : 0;
}
