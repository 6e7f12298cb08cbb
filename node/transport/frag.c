/* frag.c - FRAGMENT frames and per-message reassembly under a budget (see frag.h). */
#include "node/transport/frag.h"

#include <errno.h>
#include <string.h>

#include "node/base/varint.h"

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
	       f->len <= KONCE_WIRE_MAX_SESSION_PAYLOAD && f->offset <= f->total && f->len <= f->total - f->offset &&
	       (f->len > 0 || f->total == 0);
}

size_t konce_frag_encode_header(uint8_t *out, size_t cap, const konce_fragment *f)
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
	return n + 2;
}

size_t konce_frag_encode(uint8_t *out, size_t cap, const konce_fragment *f)
{
	size_t n = konce_frag_encode_header(out, cap, f);
	if (n && f->len)
		memcpy(out + n, f->data, f->len);
	return n ? n + f->len : 0;
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

/* A message of at most KONCE_REASM_CHUNK bytes is one block: header | map | data.  A larger one
 * is a header, a table of chunk pointers and its data, a block of its own; each chunk is allocated
 * and charged when a fragment first touches it.  The data goes one of two ways:
 *   in place: m->data is a lazy block of the message's length (konce_env_alloc_lazy), taken at the
 *     first fragment when the env has one and the lazy blocks of messages in progress stay within
 *     the budget and the pool's; a chunk is then only its map, and its bytes are written at their
 *     place in m->data.  On completion the maps go, and m->data is the message.
 *   in chunks: m->data is NULL and a chunk is map | data; on completion the chunks are copied into
 *     one block, m->data, and freed -- briefly holding the message twice.
 * Either way a chunk is charged map + data when first touched, and a delivered message header +
 * data.  konce_reasm_release() -- or the endpoint, once the session is gone, with
 * konce_reasm_msg_free() -- frees it. */

static uint64_t nchunks(uint64_t total) { return (total + KONCE_REASM_CHUNK - 1) / KONCE_REASM_CHUNK; }
static uint64_t map_bytes(uint64_t len) { return (len + 63) / 64 * 8; }
static bool chunked(uint64_t total) { return total > KONCE_REASM_CHUNK; }
/* m's data is a block of its own (NULL while it comes in chunks), not after its header and map. */
static bool data_apart(const konce_reasm_msg *m) { return chunked(m->len); }
static uint64_t chunk_len(uint64_t total, uint64_t i)
{
	uint64_t rest = total - i * KONCE_REASM_CHUNK;
	return rest < KONCE_REASM_CHUNK ? rest : KONCE_REASM_CHUNK;
}
static uint64_t chunk_charge(uint64_t total, uint64_t i)
{
	return map_bytes(chunk_len(total, i)) + chunk_len(total, i);
}
/* What a message in progress is charged at its first fragment, before any chunk. */
static uint64_t head_charge(uint64_t total)
{
	return chunked(total) ? MSG_OVERHEAD + nchunks(total) * 8 : konce_reasm_charge(total);
}

uint64_t konce_reasm_charge(uint64_t total)
{
	return MSG_OVERHEAD + total + map_bytes(total) + (chunked(total) ? nchunks(total) * 8 : 0);
}

uint64_t konce_reasm_credit(const konce_reasm *r)
{
	uint64_t c = r->cfg.budget - r->used;
	if (r->pool && r->pool->budget - r->pool->used < c)
		c = r->pool->budget - r->pool->used;
	return c;
}

/* May r take x more bytes?  Its own budget, the pool's, and -- once the pool is more than half
 * full -- its fair share of the pool: with a source, the source's holdings stay within
 * budget / max(2, sources holding), itself counted; without, r's within budget / reassemblers
 * holding (frag.h).  A source alone, whatever its sessions, therefore stops at half the pool
 * (below half the pool itself is at most half full), so the next source finds half the pool
 * free, and half is its share. */
static bool admit(const konce_reasm *r, uint64_t x)
{
	if (x > r->cfg.budget - r->used)
		return false;
	konce_reasm_pool *p = r->pool;
	if (!p)
		return true;
	if (x > p->budget - p->used)
		return false;
	if (p->used + x <= p->budget / 2)
		return true;
	const konce_reasm_source *src = r->source;
	if (src) {
		uint64_t sources = p->sources + (src->used == 0);
		return src->used + x <= p->budget / (sources < 2 ? 2 : sources);
	}
	uint64_t holders = p->holders + (r->used == 0);
	return r->used + x <= p->budget / holders;
}

static void charge(konce_reasm *r, uint64_t x)
{
	if (r->pool) {
		if (r->used == 0 && x)
			r->pool->holders++;
		if (r->source && r->source->used == 0 && x)
			r->pool->sources++;
		r->pool->used += x;
	}
	if (r->source)
		r->source->used += x;
	r->used += x;
}

static void uncharge(konce_reasm *r, uint64_t x)
{
	r->used -= x;
	if (r->source)
		r->source->used -= x;
	if (r->pool) {
		r->pool->used -= x;
		if (r->used == 0 && x)
			r->pool->holders--;
		if (r->source && r->source->used == 0 && x)
			r->pool->sources--;
	}
}

int konce_reasm_set_source(konce_reasm *r, konce_reasm_source *src)
{
	if (r->used)
		return -EBUSY;
	r->source = src;
	return 0;
}

int konce_reasm_init(konce_reasm *r, const konce_env *env, const konce_reasm_config *cfg)
{
	memset(r, 0, sizeof(*r));
	if (cfg->budget == 0)
		return -EINVAL;
	r->env = env;
	r->cfg = *cfg;
	r->pool = cfg->pool;
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

/* Frees m's chunks, if it has any, and nothing else. */
static void chunks_free(const konce_env *env, konce_reasm_msg *m)
{
	if (!m->chunks)
		return;
	for (uint64_t i = 0; i < nchunks(m->len); i++)
		konce_env_free(env, m->chunks[i]);
	konce_env_free(env, m->chunks);
	m->chunks = NULL;
}

void konce_reasm_msg_free(const konce_env *env, konce_reasm_msg *m)
{
	if (!m)
		return;
	chunks_free(env, m);
	if (data_apart(m))
		konce_env_free(env, m->data); /* NULL while in chunks */
	konce_env_free(env, m);
}

/* The lazy blocks of messages in progress (in place): r->lazy counts r's, pool->lazy the pool's. */
static bool lazy_fits(const konce_reasm *r, uint64_t total)
{
	return total <= SIZE_MAX && total <= r->cfg.budget - r->lazy &&
	       (!r->pool || total <= r->pool->budget - r->pool->lazy);
}

static void lazy_add(konce_reasm *r, uint64_t x, bool add)
{
	r->lazy = add ? r->lazy + x : r->lazy - x;
	if (r->pool)
		r->pool->lazy = add ? r->pool->lazy + x : r->pool->lazy - x;
}

void konce_reasm_free(konce_reasm *r)
{
	if (!r->active)
		return;
	for (size_t i = 0; i < r->cfg.max_messages; i++)
		konce_reasm_msg_free(r->env, r->active[i]);
	konce_env_free(r->env, r->active);
	r->active = NULL;
	lazy_add(r, r->lazy, false);
	/* delivered messages not yet released are freed by their holder; their charge ends here */
	uncharge(r, r->used);
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

/* The mask of bits [b, b + n) of one word, 0 <= b < 64, 1 <= n <= 64 - b. */
static inline uint64_t word_mask(uint64_t b, uint64_t n)
{
	return (n == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << b;
}

/* How many of bits [off, off + len) of map are set.  The usual fragment is all new, so the whole
 * words between the partial ones are first ORed together and counted only when that is not 0 (the
 * popcount is libgcc's, without -mpopcnt). */
static uint64_t bits_count(const uint64_t *map, uint64_t off, uint64_t len)
{
	uint64_t end = off + len, count = 0;
	if (len == 0)
		return 0;
	uint64_t w = off / 64, last = (end - 1) / 64;
	if (w == last)
		return (uint64_t)__builtin_popcountll(map[w] & word_mask(off % 64, len));
	count += (uint64_t)__builtin_popcountll(map[w] & word_mask(off % 64, 64 - off % 64));
	count += (uint64_t)__builtin_popcountll(map[last] & word_mask(0, end - last * 64));
	uint64_t any = 0;
	for (uint64_t i = w + 1; i < last; i++)
		any |= map[i];
	if (any)
		for (uint64_t i = w + 1; i < last; i++)
			count += (uint64_t)__builtin_popcountll(map[i]);
	return count;
}

/* Sets bits [off, off + len) of map. */
static void bits_set(uint64_t *map, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	if (len == 0)
		return;
	uint64_t w = off / 64, last = (end - 1) / 64;
	if (w == last) {
		map[w] |= word_mask(off % 64, len);
		return;
	}
	map[w] |= word_mask(off % 64, 64 - off % 64);
	map[last] |= word_mask(0, end - last * 64);
	if (last > w + 1)
		memset(map + w + 1, 0xff, (size_t)(last - w - 1) * sizeof *map);
}

static konce_reasm_result refuse(konce_reasm *r, uint64_t id, konce_reasm_result why)
{
	r->recent_refused[r->nrefused++ % KONCE_REASM_REFUSED_MEMORY] = id;
	finish(r, id, true);
	return why;
}

/* Drops message m in progress (slot *slot) and refuses its id. */
static konce_reasm_result drop(konce_reasm *r, konce_reasm_msg **slot, konce_reasm_result why)
{
	konce_reasm_msg *m = *slot;
	uint64_t id = m->id;
	*slot = NULL;
	r->nactive--;
	uncharge(r, m->charge);
	if (data_apart(m) && m->data) /* in progress in place */
		lazy_add(r, m->len, false);
	konce_reasm_msg_free(r->env, m);
	return refuse(r, id, why);
}

/* A new message in progress for f, in *slot. */
static konce_reasm_result start(konce_reasm *r, const konce_fragment *f, uint64_t now, konce_reasm_msg **slot)
{
	uint64_t total = f->total;
	uint64_t c = head_charge(total);
	if (!admit(r, c))
		return refuse(r, f->msg_id, KONCE_REASM_NO_BUDGET);
	/* c <= budget, so it fits in size_t unless the budget itself is absurd; check anyway. */
	if (c > SIZE_MAX || (chunked(total) && nchunks(total) > SIZE_MAX / sizeof(uint8_t *)))
		return refuse(r, f->msg_id, KONCE_REASM_NO_MEMORY);
	/* the data is written before it is read (a message is delivered once every byte is held):
	 * only the header and the map are zeroed */
	uint8_t *block = chunked(total) ? konce_env_alloc(r->env, MSG_OVERHEAD) : konce_env_alloc_raw(r->env, (size_t)c);
	if (!block)
		return refuse(r, f->msg_id, KONCE_REASM_NO_MEMORY);
	if (!chunked(total))
		memset(block, 0, (size_t)(MSG_OVERHEAD + map_bytes(total)));
	konce_reasm_msg *m = (konce_reasm_msg *)block;
	if (chunked(total)) {
		m->chunks = konce_env_alloc(r->env, (size_t)nchunks(total) * sizeof(uint8_t *));
		if (!m->chunks) {
			konce_env_free(r->env, block);
			return refuse(r, f->msg_id, KONCE_REASM_NO_MEMORY);
		}
		/* in place if it may be; else in chunks (NULL), which needs no lazy block */
		if (lazy_fits(r, total) && (m->data = konce_env_alloc_lazy(r->env, (size_t)total)))
			lazy_add(r, total, true);
	} else {
		m->map = (uint64_t *)(block + MSG_OVERHEAD);
		m->data = block + MSG_OVERHEAD + map_bytes(total);
	}
	m->id = f->msg_id;
	m->len = total;
	m->charge = c;
	m->last_progress = now;
	charge(r, c);
	*slot = m;
	r->nactive++;
	return KONCE_REASM_PARTIAL;
}

/* The map and data of the piece of m holding byte `at`, and the piece's offset and length. */
static void piece(const konce_reasm_msg *m, uint64_t at, uint64_t **map, uint8_t **data, uint64_t *off,
		  uint64_t *room)
{
	if (!m->chunks) {
		*map = m->map;
		*data = m->data;
		*off = at;
		*room = m->len - at;
		return;
	}
	uint64_t i = at / KONCE_REASM_CHUNK, clen = chunk_len(m->len, i);
	uint8_t *c = m->chunks[i];
	*map = c ? (uint64_t *)c : NULL;
	*data = !c ? NULL : m->data ? m->data + i * KONCE_REASM_CHUNK : c + map_bytes(clen);
	*off = at % KONCE_REASM_CHUNK;
	*room = clen - *off;
}

/* Bytes of f that m already holds. */
static uint64_t held_of(const konce_reasm_msg *m, const konce_fragment *f)
{
	uint64_t held = 0;
	for (uint64_t done = 0; done < f->len;) {
		uint64_t *map, off, room;
		uint8_t *data;
		piece(m, f->offset + done, &map, &data, &off, &room);
		uint64_t n = room < f->len - done ? room : f->len - done;
		if (map)
			held += bits_count(map, off, n);
		done += n;
	}
	return held;
}

/* Allocates the chunks f touches that m does not have yet; false if the budget or the allocator
 * said no (*why says which). */
static bool touch(konce_reasm *r, konce_reasm_msg *m, const konce_fragment *f, konce_reasm_result *why)
{
	if (!m->chunks || f->len == 0)
		return true;
	for (uint64_t i = f->offset / KONCE_REASM_CHUNK; i <= (f->offset + f->len - 1) / KONCE_REASM_CHUNK; i++) {
		if (m->chunks[i])
			continue;
		uint64_t c = chunk_charge(m->len, i); /* in place too: the data's pages are touched now */
		if (!admit(r, c)) {
			*why = KONCE_REASM_NO_BUDGET;
			return false;
		}
		size_t size = (size_t)(m->data ? map_bytes(chunk_len(m->len, i)) : c);
		if (!(m->chunks[i] = konce_env_alloc_raw(r->env, size))) {
			*why = KONCE_REASM_NO_MEMORY;
			return false;
		}
		memset(m->chunks[i], 0, (size_t)map_bytes(chunk_len(m->len, i))); /* the map; data as for start() */
		m->charge += c;
		charge(r, c);
	}
	return true;
}

/* Writes the bytes of f that m does not hold yet (the first copy of each byte wins).  all_new: m
 * holds none of them (held_of() said 0), so the map need not be read first. */
static void write_new(konce_reasm_msg *m, const konce_fragment *f, bool all_new)
{
	for (uint64_t done = 0; done < f->len;) {
		uint64_t *map, off, room;
		uint8_t *data;
		piece(m, f->offset + done, &map, &data, &off, &room);
		uint64_t n = room < f->len - done ? room : f->len - done;
		if (all_new || bits_count(map, off, n) == 0) {
			memcpy(data + off, f->data + done, n);
		} else {
			for (uint64_t i = 0; i < n; i++)
				if (!(map[(off + i) / 64] >> ((off + i) % 64) & 1))
					data[off + i] = f->data[done + i];
		}
		bits_set(map, off, n);
		done += n;
	}
}

/* A complete message in chunks: its data is copied into one block, and the chunks are freed.
 * false if the allocator said no. */
static bool flatten(konce_reasm *r, konce_reasm_msg *m)
{
	uint8_t *data = konce_env_alloc_raw(r->env, (size_t)m->len); /* written in full below */
	if (!data)
		return false;
	for (uint64_t i = 0; i < nchunks(m->len); i++) {
		uint64_t clen = chunk_len(m->len, i);
		memcpy(data + i * KONCE_REASM_CHUNK, m->chunks[i] + map_bytes(clen), (size_t)clen);
	}
	m->data = data;
	return true;
}

/* A complete large message: its maps and chunk table go, and it is charged as any delivered
 * message; in place, its lazy block is charged in full from now on. */
static void settle(konce_reasm *r, konce_reasm_msg *m, bool in_place)
{
	chunks_free(r->env, m);
	if (in_place)
		lazy_add(r, m->len, false);
	uncharge(r, m->charge - (MSG_OVERHEAD + m->len));
	m->charge = MSG_OVERHEAD + m->len;
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
		if (!slot)
			return refuse(r, f->msg_id, KONCE_REASM_BUSY);
		konce_reasm_result res = start(r, f, now, slot);
		if (res != KONCE_REASM_PARTIAL)
			return res;
		m = *slot;
	} else if (f->total != m->len) {
		return KONCE_REASM_INCONSISTENT;
	}

	uint64_t held = held_of(m, f);
	if (f->len > 0 && held == f->len)
		return KONCE_REASM_DUPLICATE;
	konce_reasm_result why;
	if (!touch(r, m, f, &why))
		return drop(r, slot, why);
	write_new(m, f, held == 0);
	m->have += f->len - held;
	m->last_progress = now;
	if (m->have < m->len)
		return KONCE_REASM_PARTIAL;
	if (m->chunks) {
		bool in_place = m->data != NULL;
		if (!in_place && !flatten(r, m))
			return drop(r, slot, KONCE_REASM_NO_MEMORY);
		settle(r, m, in_place);
	}
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
	uncharge(r, m->charge);
	konce_reasm_msg_free(r->env, m);
}

bool konce_reasm_settled(const konce_reasm *r)
{
	if (r->nactive || r->used || r->nrefused)
		return false;
	for (size_t i = 0; i < KONCE_REASM_WINDOW / 64; i++)
		if (r->finished[i])
			return false; /* finished above a hole: base moves when the hole fills */
	return true;
}

void konce_reasm_resume(konce_reasm *r, uint64_t base) { r->base = base ? base : 1; }

size_t konce_reasm_expire(konce_reasm *r, uint64_t now, uint64_t idle_us)
{
	size_t n = 0;
	for (size_t i = 0; r->nactive && i < r->cfg.max_messages; i++) {
		konce_reasm_msg *m = r->active[i];
		if (!m || now < m->last_progress || now - m->last_progress < idle_us)
			continue;
		drop(r, &r->active[i], KONCE_REASM_REFUSED);
		n++;
	}
	return n;
}
