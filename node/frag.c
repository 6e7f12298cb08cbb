/* frag.c - FRAGMENT frames and per-message reassembly under a budget (see frag.h). */
#include "node/frag.h"

#include <errno.h>
#include <string.h>

#include "node/varint.h"

enum { MSG_OVERHEAD = 64 }; /* charged per message for its header */
_Static_assert(sizeof(konce_reasm_msg) <= MSG_OVERHEAD, "message header outgrew its charge");

uint64_t konce_frag_count(uint64_t total)
{
	return total == 0 ? 1 : (total + KONCE_FRAG_DATA_MAX - 1) / KONCE_FRAG_DATA_MAX;
}

int konce_frag_bounds(uint64_t total, uint64_t index, uint64_t *offset, size_t *len)
{
	if (index >= konce_frag_count(total))
		return -EINVAL;
	*offset = index * KONCE_FRAG_DATA_MAX;
	uint64_t rest = total - *offset;
	*len = (size_t)(rest < KONCE_FRAG_DATA_MAX ? rest : KONCE_FRAG_DATA_MAX);
	return 0;
}

static bool frag_valid(const konce_fragment *f)
{
	return f->msg_id >= 1 && f->msg_id <= KONCE_VARINT_MAX && f->total <= KONCE_VARINT_MAX &&
	       f->len <= KONCE_WIRE_MAX_PAYLOAD && f->offset <= f->total && f->len <= f->total - f->offset &&
	       (f->len > 0 || f->total == 0);
}

size_t konce_frag_encode(uint8_t *out, size_t cap, const konce_fragment *f)
{
	if (!frag_valid(f) || cap < 1)
		return 0;
	size_t n = 1, w;
	out[0] = KONCE_FRAME_FRAGMENT;
	const uint64_t v[3] = {f->msg_id, f->offset, f->total};
	for (int i = 0; i < 3; i++) {
		if (!(w = konce_varint_put(out + n, cap - n, v[i])))
			return 0;
		n += w;
	}
	if (cap - n < 2 + f->len)
		return 0;
	wire_put16(out + n, (uint16_t)f->len);
	n += 2;
	if (f->len)
		memcpy(out + n, f->data, f->len);
	return n + f->len;
}

size_t konce_frag_decode(const uint8_t *p, size_t avail, konce_fragment *f)
{
	size_t n = 1, w;
	uint64_t v[3];
	if (avail < 1 || p[0] != KONCE_FRAME_FRAGMENT)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (!(w = konce_varint_get(p + n, avail - n, &v[i])))
			return 0;
		n += w;
	}
	if (avail - n < 2)
		return 0;
	f->msg_id = v[0];
	f->offset = v[1];
	f->total = v[2];
	f->len = wire_get16(p + n);
	n += 2;
	if (avail - n < f->len || !frag_valid(f))
		return 0;
	f->data = p + n;
	return n + f->len;
}

/* ---- reassembly ---------------------------------------------------------------------------- */

uint64_t konce_reasm_charge(uint64_t total) { return MSG_OVERHEAD + total + (total + 63) / 64 * 8; }

int konce_reasm_init(konce_reasm *r, const konce_env *env, const konce_reasm_config *cfg)
{
	memset(r, 0, sizeof(*r));
	if (cfg->budget == 0)
		return -EINVAL;
	r->env = env;
	r->cfg = *cfg;
	if (!r->cfg.max_message)
		r->cfg.max_message = KONCE_MSG_MAX_DEFAULT;
	if (!r->cfg.max_messages)
		r->cfg.max_messages = 64;
	r->active = konce_env_alloc(env, r->cfg.max_messages * sizeof(*r->active));
	if (!r->active)
		return -ENOMEM;
	r->base = 1;
	return 0;
}

void konce_reasm_free(konce_reasm *r)
{
	if (!r->active)
		return;
	for (size_t i = 0; i < r->cfg.max_messages; i++)
		konce_env_free(r->env, r->active[i]);
	konce_env_free(r->env, r->active);
	r->active = NULL;
}

static bool ring_get(const uint64_t *ring, uint64_t id)
{
	uint64_t b = id % KONCE_REASM_WINDOW;
	return ring[b / 64] >> (b % 64) & 1;
}

static void ring_put(uint64_t *ring, uint64_t id, bool v)
{
	uint64_t b = id % KONCE_REASM_WINDOW, bit = UINT64_C(1) << (b % 64);
	ring[b / 64] = v ? ring[b / 64] | bit : ring[b / 64] & ~bit;
}

/* Marks id finished and slides the window past every finished id at its bottom. */
static void finish(konce_reasm *r, uint64_t id, bool refused)
{
	ring_put(r->finished, id, true);
	ring_put(r->refused, id, refused);
	while (ring_get(r->finished, r->base)) {
		ring_put(r->finished, r->base, false);
		ring_put(r->refused, r->base, false);
		r->base++;
	}
}

/* Bits [off, off + len) of map: counts those already set, and sets them all if set is true. */
static uint64_t bits_range(uint64_t *map, uint64_t off, uint64_t len, bool set)
{
	uint64_t end = off + len, count = 0;
	while (off < end) {
		uint64_t b = off % 64, n = end - off < 64 - b ? end - off : 64 - b;
		uint64_t mask = (n == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << b;
		count += (uint64_t)__builtin_popcountll(map[off / 64] & mask);
		if (set)
			map[off / 64] |= mask;
		off += n;
	}
	return count;
}

static konce_reasm_result refuse(konce_reasm *r, uint64_t id, konce_reasm_result why)
{
	r->recent_refused[r->nrefused++ % KONCE_REASM_REFUSED_MEMORY] = id;
	finish(r, id, true);
	return why;
}

konce_reasm_result konce_reasm_on_fragment(konce_reasm *r, const konce_fragment *f, uint64_t now,
					   konce_reasm_msg **out)
{
	*out = NULL;
	if (!frag_valid(f))
		return KONCE_REASM_INCONSISTENT;
	if (f->msg_id < r->base) {
		for (size_t i = 0; i < KONCE_REASM_REFUSED_MEMORY; i++)
			if (r->recent_refused[i] == f->msg_id)
				return KONCE_REASM_REFUSED;
		return KONCE_REASM_DUPLICATE;
	}
	if (f->msg_id - r->base >= KONCE_REASM_WINDOW)
		return KONCE_REASM_OUT_OF_WINDOW;
	if (ring_get(r->finished, f->msg_id))
		return ring_get(r->refused, f->msg_id) ? KONCE_REASM_REFUSED : KONCE_REASM_DUPLICATE;

	konce_reasm_msg *m = NULL, **slot = NULL;
	for (size_t i = 0; i < r->cfg.max_messages; i++) {
		if (r->active[i] && r->active[i]->id == f->msg_id) {
			m = r->active[i];
			slot = &r->active[i];
			break;
		}
		if (!r->active[i] && !slot)
			slot = &r->active[i];
	}
	if (!m) {
		if (f->total > r->cfg.max_message)
			return refuse(r, f->msg_id, KONCE_REASM_TOO_LARGE);
		uint64_t charge = konce_reasm_charge(f->total);
		if (charge > r->cfg.budget - r->used)
			return refuse(r, f->msg_id, KONCE_REASM_NO_BUDGET);
		if (!slot)
			return refuse(r, f->msg_id, KONCE_REASM_BUSY);
		/* One block: header | map | data.  charge <= budget, so it fits in size_t here
		 * unless the budget itself is absurd; check anyway. */
		if (charge > SIZE_MAX)
			return refuse(r, f->msg_id, KONCE_REASM_NO_MEMORY);
		uint8_t *block = konce_env_alloc(r->env, (size_t)charge);
		if (!block)
			return refuse(r, f->msg_id, KONCE_REASM_NO_MEMORY);
		m = (konce_reasm_msg *)block;
		m->id = f->msg_id;
		m->len = f->total;
		m->charge = charge;
		m->map = (uint64_t *)(block + MSG_OVERHEAD);
		m->data = block + MSG_OVERHEAD + (f->total + 63) / 64 * 8;
		m->last_progress = now;
		r->used += charge;
		*slot = m;
		r->nactive++;
	} else if (f->total != m->len) {
		return KONCE_REASM_INCONSISTENT;
	}

	uint64_t held = bits_range(m->map, f->offset, f->len, false);
	if (f->len > 0 && held == f->len)
		return KONCE_REASM_DUPLICATE;
	if (held == 0) {
		memcpy(m->data + f->offset, f->data, f->len);
	} else {
		/* Overlap: write only the bytes not held yet, so the first copy of each byte wins. */
		for (uint64_t i = 0; i < f->len; i++) {
			uint64_t at = f->offset + i;
			if (!(m->map[at / 64] >> (at % 64) & 1))
				m->data[at] = f->data[i];
		}
	}
	bits_range(m->map, f->offset, f->len, true);
	m->have += f->len - held;
	m->last_progress = now;
	if (m->have < m->len)
		return KONCE_REASM_PARTIAL;
	*slot = NULL;
	r->nactive--;
	finish(r, m->id, false);
	*out = m;
	return KONCE_REASM_COMPLETE;
}

void konce_reasm_release(konce_reasm *r, konce_reasm_msg *m)
{
	if (!m)
		return;
	r->used -= m->charge;
	konce_env_free(r->env, m);
}

size_t konce_reasm_expire(konce_reasm *r, uint64_t now, uint64_t idle_us)
{
	size_t n = 0;
	for (size_t i = 0; r->nactive && i < r->cfg.max_messages; i++) {
		konce_reasm_msg *m = r->active[i];
		if (!m || now < m->last_progress || now - m->last_progress < idle_us)
			continue;
		r->active[i] = NULL;
		r->nactive--;
		refuse(r, m->id, KONCE_REASM_REFUSED);
		konce_reasm_release(r, m);
		n++;
	}
	return n;
}
