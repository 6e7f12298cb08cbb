/* cwire.c - the consensus message codec (layouts in cwire.h).
 *
 * The parser reads through a cursor that refuses every read past the end, so no field is read
 * before its length is checked; counts are checked against the limits before any loop. */
#include <string.h>

#include "consensus/cwire.h"

typedef struct rd {
	const uint8_t *p;
	size_t left;
	bool bad;
} rd;

static const uint8_t *rd_take(rd *r, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint64_t rd_be(rd *r, size_t n)
{
	const uint8_t *p = rd_take(r, n);
	uint64_t v = 0;
	if (!p)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

typedef struct wr {
	uint8_t *p;
	size_t left;
	bool bad;
} wr;

static void wr_bytes(wr *w, const void *src, size_t n)
{
	if (w->bad || w->left < n) {
		w->bad = true;
		return;
	}
	if (n)
		memcpy(w->p, src, n);
	w->p += n;
	w->left -= n;
}

static void wr_be(wr *w, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	wr_bytes(w, b, n);
}

/* An invitation is its hash and expiry; a revocation, the hash. */
static bool entry_len_ok(uint8_t kind, uint16_t len)
{
	return kind == KONCE_CW_E_APP || (kind == KONCE_CW_E_INVITE && len == KONCE_CW_INVITE_LEN) ||
	       (kind == KONCE_CW_E_REVOKE && len == KONCE_CW_SECRET);
}

static bool rd_entry(rd *r, konce_cw_entry *e)
{
	e->kind = (uint8_t)rd_be(r, 1);
	e->origin = rd_take(r, KONCE_CW_ORIGIN);
	e->nonce = rd_be(r, 8);
	e->len = (uint16_t)rd_be(r, 2);
	if (r->bad || e->kind > KONCE_CW_E_REVOKE || e->len > KONCE_CW_MAX_ENTRY)
		return false;
	if (!entry_len_ok(e->kind, e->len))
		return false;
	e->data = rd_take(r, e->len);
	return !r->bad;
}

static void wr_entry(wr *w, const konce_cw_entry *e)
{
	if (e->len > KONCE_CW_MAX_ENTRY || e->kind > KONCE_CW_E_REVOKE || !entry_len_ok(e->kind, e->len)) {
		w->bad = true;
		return;
	}
	wr_be(w, e->kind, 1);
	wr_bytes(w, e->origin, KONCE_CW_ORIGIN);
	wr_be(w, e->nonce, 8);
	wr_be(w, e->len, 2);
	wr_bytes(w, e->data, e->len);
}

static bool rd_entries(rd *r, uint16_t *count, konce_cw_entry *e, unsigned max)
{
	*count = (uint16_t)rd_be(r, 2);
	if (r->bad || *count > max)
		return false;
	for (unsigned i = 0; i < *count; i++)
		if (!rd_entry(r, &e[i]))
			return false;
	return true;
}

static void wr_entries(wr *w, uint16_t count, const konce_cw_entry *e, unsigned max)
{
	if (count > max) {
		w->bad = true;
		return;
	}
	wr_be(w, count, 2);
	for (unsigned i = 0; i < count; i++)
		wr_entry(w, &e[i]);
}

static bool rd_value(rd *r, konce_cw_value *v)
{
	v->epoch = rd_be(r, 8);
	v->n = (uint8_t)rd_be(r, 1);
	if (r->bad || v->n == 0 || v->n > KONCE_CW_MAX_MEMBERS)
		return false;
	v->keys = rd_take(r, (size_t)v->n * KONCE_CW_KEY);
	v->used_invite = rd_take(r, KONCE_CW_SECRET);
	v->commit = rd_be(r, 8);
	v->first_seq = rd_be(r, 8);
	if (r->bad)
		return false;
	/* Members are distinct: a view that names one key twice would count its votes twice. */
	for (unsigned i = 0; i < v->n; i++)
		for (unsigned j = i + 1; j < v->n; j++)
			if (!memcmp(v->keys + i * KONCE_CW_KEY, v->keys + j * KONCE_CW_KEY, KONCE_CW_KEY))
				return false;
	if (v->first_seq != v->commit + 1)
		return false;
	return rd_entries(r, &v->count, v->e, KONCE_CW_MAX_LOG);
}

static void wr_value(wr *w, const konce_cw_value *v)
{
	if (v->n == 0 || v->n > KONCE_CW_MAX_MEMBERS || v->first_seq != v->commit + 1) {
		w->bad = true;
		return;
	}
	wr_be(w, v->epoch, 8);
	wr_be(w, v->n, 1);
	wr_bytes(w, v->keys, (size_t)v->n * KONCE_CW_KEY);
	wr_bytes(w, v->used_invite, KONCE_CW_SECRET);
	wr_be(w, v->commit, 8);
	wr_be(w, v->first_seq, 8);
	wr_entries(w, v->count, v->e, KONCE_CW_MAX_LOG);
}

/* What an encoder wrote into cap bytes: its length, or 0 when it did not fit. */
static size_t wr_len(const wr *w, size_t cap) { return w->bad ? 0 : cap - w->left; }

/* A parse of len bytes ends here, ok if every field read was valid: SHORT if a read ran past the
 * end, BAD_FIELD if a field was not valid; else, with used, it says how many bytes the item took;
 * without, bytes left over are an error. */
static enum konce_cw_result rd_end(const rd *r, bool ok, size_t len, size_t *used)
{
	if (r->bad)
		return KONCE_CW_SHORT;
	if (!ok)
		return KONCE_CW_BAD_FIELD;
	if (used)
		*used = len - r->left;
	else if (r->left)
		return KONCE_CW_TRAILING;
	return KONCE_CW_OK;
}

size_t konce_cw_entry_size(const konce_cw_entry *e) { return KONCE_CW_ENTRY_HEAD + e->len; }

size_t konce_cw_value_size(const konce_cw_value *v)
{
	size_t n = 8 + 1 + (size_t)v->n * KONCE_CW_KEY + KONCE_CW_SECRET + 8 + 8 + 2;
	for (unsigned i = 0; i < v->count && i < KONCE_CW_MAX_LOG; i++)
		n += konce_cw_entry_size(&v->e[i]);
	return n;
}

size_t konce_cw_entry_encode(const konce_cw_entry *e, uint8_t *out, size_t cap)
{
	wr w = {out, cap, false};
	wr_entry(&w, e);
	return wr_len(&w, cap);
}

enum konce_cw_result konce_cw_entry_parse(konce_cw_entry *e, const uint8_t *b, size_t len, size_t *used)
{
	rd r = {b, len, false};
	bool ok = rd_entry(&r, e);
	return rd_end(&r, ok, len, used);
}

size_t konce_cw_value_encode(const konce_cw_value *v, uint8_t *out, size_t cap)
{
	wr w = {out, cap, false};
	wr_value(&w, v);
	return wr_len(&w, cap);
}

enum konce_cw_result konce_cw_value_parse(konce_cw_value *v, const uint8_t *b, size_t len, size_t *used)
{
	rd r = {b, len, false};
	bool ok = rd_value(&r, v);
	return rd_end(&r, ok, len, used);
}

enum konce_cw_result konce_cw_snapcore_parse(konce_cw_invite *inv, unsigned *count, const uint8_t *b, size_t len,
					     size_t *used)
{
	rd r = {b, len, false};
	unsigned n = (unsigned)rd_be(&r, 1);
	if (r.bad)
		return KONCE_CW_SHORT;
	if (n > KONCE_CW_SNAP_INVITES)
		return KONCE_CW_BAD_FIELD;
	for (unsigned i = 0; i < n; i++) {
		inv[i].hash = rd_take(&r, KONCE_CW_SECRET);
		inv[i].expires = rd_be(&r, 8);
		uint64_t u = rd_be(&r, 1);
		if (r.bad)
			return KONCE_CW_SHORT;
		if (u > 1)
			return KONCE_CW_BAD_FIELD;
		inv[i].used = u == 1;
	}
	*count = n;
	return rd_end(&r, true, len, used);
}

size_t konce_cw_snapcore_encode(const konce_cw_invite *inv, unsigned count, uint8_t *out, size_t cap)
{
	if (count > KONCE_CW_SNAP_INVITES)
		return 0;
	wr w = {out, cap, false};
	wr_be(&w, count, 1);
	for (unsigned i = 0; i < count; i++) {
		wr_bytes(&w, inv[i].hash, KONCE_CW_SECRET);
		wr_be(&w, inv[i].expires, 8);
		wr_be(&w, inv[i].used ? 1 : 0, 1);
	}
	return wr_len(&w, cap);
}

/* A SNAP chunk's place: within a snapshot of at most KONCE_CW_SNAP_MAX bytes, at a chunk boundary,
 * and exactly as long as that chunk (an empty snapshot is one empty chunk). */
static bool snap_chunk_ok(uint32_t total, uint32_t offset, uint16_t dlen)
{
	if (total > KONCE_CW_SNAP_MAX || offset % KONCE_CW_SNAP_CHUNK)
		return false;
	if (total == 0)
		return offset == 0 && dlen == 0;
	if (offset >= total)
		return false;
	uint32_t want = total - offset < KONCE_CW_SNAP_CHUNK ? total - offset : KONCE_CW_SNAP_CHUNK;
	return dlen == want;
}

/* The types whose body is u (a u64) and nothing else. */
static bool body_is_u(uint8_t type)
{
	switch (type) {
	case KONCE_CW_HEARTBEAT:
	case KONCE_CW_ACK:
	case KONCE_CW_PREPARE:
	case KONCE_CW_NACK:
	case KONCE_CW_ACCEPTED:
	case KONCE_CW_SNAP_REQ:
		return true;
	default:
		return false;
	}
}

enum konce_cw_result konce_cw_parse(konce_cw_msg *m, const uint8_t *bytes, size_t len)
{
	rd r = {bytes, len, false};
	memset(m, 0, sizeof(*m) - sizeof(m->e) - sizeof(m->v));
	m->has_value = false;
	if (len < KONCE_CW_H_SIZE)
		return KONCE_CW_SHORT;
	m->type = (uint8_t)rd_be(&r, 1);
	if (m->type == 0 || m->type > KONCE_CW_TYPE_MAX)
		return KONCE_CW_BAD_TYPE;
	if (rd_be(&r, 1) != KONCE_CW_VERSION)
		return KONCE_CW_BAD_VERSION;
	if (rd_be(&r, 2) != 0)
		return KONCE_CW_BAD_FIELD;
	m->group = rd_take(&r, KONCE_CW_GROUP_ID);
	m->epoch = rd_be(&r, 8);
	m->commit = rd_be(&r, 8);
	if (body_is_u(m->type)) {
		m->u = rd_be(&r, 8);
		return rd_end(&r, true, len, NULL);
	}
	bool ok = true;
	switch (m->type) {
	case KONCE_CW_SUBMIT:
		m->count = 1;
		ok = rd_entry(&r, &m->e[0]);
		break;
	case KONCE_CW_PROPOSE:
		m->first = rd_be(&r, 8);
		ok = !r.bad && m->first > 0 && rd_entries(&r, &m->count, m->e, KONCE_CW_MAX_BATCH) && m->count > 0;
		break;
	case KONCE_CW_PROBE_REQ:
	case KONCE_CW_PROBE_REP:
		m->key = rd_take(&r, KONCE_CW_KEY);
		m->nonce = (uint32_t)rd_be(&r, 4);
		if (m->type == KONCE_CW_PROBE_REP) {
			m->flag = (uint8_t)rd_be(&r, 1);
			ok = m->flag <= 1;
		}
		break;
	case KONCE_CW_PROMISE:
		m->u = rd_be(&r, 8);
		m->acc_ballot = rd_be(&r, 8);
		if (m->acc_ballot) {
			uint32_t vlen = (uint32_t)rd_be(&r, 4);
			const uint8_t *vb = rd_take(&r, vlen);
			m->has_value = true;
			ok = vb && konce_cw_value_parse(&m->v, vb, vlen, NULL) == KONCE_CW_OK;
		}
		m->first = rd_be(&r, 8);
		ok = ok && !r.bad && m->first > 0 && rd_entries(&r, &m->count, m->e, KONCE_CW_MAX_LOG);
		break;
	case KONCE_CW_ACCEPT:
		m->u = rd_be(&r, 8);
		m->has_value = true;
		ok = rd_value(&r, &m->v);
		break;
	case KONCE_CW_NEWVIEW:
		m->has_value = true;
		ok = rd_value(&r, &m->v) && m->v.epoch == m->epoch;
		break;
	case KONCE_CW_JOIN:
		m->secret = rd_take(&r, KONCE_CW_SECRET);
		break;
	case KONCE_CW_JOIN_WITHDRAW:
		m->secret = rd_take(&r, KONCE_CW_SECRET);
		m->flag = (uint8_t)rd_be(&r, 1);
		ok = m->flag <= KONCE_CW_WD_OUT;
		break;
	case KONCE_CW_JOIN_ASK:
		m->key = rd_take(&r, KONCE_CW_KEY);
		m->secret = rd_take(&r, KONCE_CW_SECRET);
		break;
	case KONCE_CW_JOIN_VOTE:
		m->key = rd_take(&r, KONCE_CW_KEY);
		m->flag = (uint8_t)rd_be(&r, 1);
		ok = m->flag <= KONCE_CW_VOTE_ABSTAIN;
		break;
	case KONCE_CW_REFUSED:
		m->flag = (uint8_t)rd_be(&r, 1);
		ok = m->flag >= KONCE_CW_R_REJECTED && m->flag <= KONCE_CW_R_UNKNOWN;
		break;
	case KONCE_CW_LEAVE:
		break;
	case KONCE_CW_SNAP:
		m->u = rd_be(&r, 8);
		m->total = (uint32_t)rd_be(&r, 4);
		m->offset = (uint32_t)rd_be(&r, 4);
		m->dlen = (uint16_t)rd_be(&r, 2);
		ok = !r.bad && snap_chunk_ok(m->total, m->offset, m->dlen);
		m->data = ok ? rd_take(&r, m->dlen) : NULL;
		break;
	}
	return rd_end(&r, ok, len, NULL);
}

static void wr_msg(wr *w, const konce_cw_msg *m)
{
	wr_be(w, m->type, 1);
	wr_be(w, KONCE_CW_VERSION, 1);
	wr_be(w, 0, 2);
	wr_bytes(w, m->group, KONCE_CW_GROUP_ID);
	wr_be(w, m->epoch, 8);
	wr_be(w, m->commit, 8);
	if (body_is_u(m->type)) {
		wr_be(w, m->u, 8);
		return;
	}
	switch (m->type) {
	case KONCE_CW_SUBMIT:
		wr_entry(w, &m->e[0]);
		break;
	case KONCE_CW_PROPOSE:
		if (m->count == 0 || m->first == 0)
			w->bad = true;
		wr_be(w, m->first, 8);
		wr_entries(w, m->count, m->e, KONCE_CW_MAX_BATCH);
		break;
	case KONCE_CW_PROBE_REQ:
	case KONCE_CW_PROBE_REP:
		wr_bytes(w, m->key, KONCE_CW_KEY);
		wr_be(w, m->nonce, 4);
		if (m->type == KONCE_CW_PROBE_REP)
			wr_be(w, m->flag ? 1 : 0, 1);
		break;
	case KONCE_CW_PROMISE:
		wr_be(w, m->u, 8);
		wr_be(w, m->acc_ballot, 8);
		if (m->acc_ballot) {
			wr_be(w, konce_cw_value_size(&m->v), 4);
			wr_value(w, &m->v);
		}
		if (m->first == 0)
			w->bad = true;
		wr_be(w, m->first, 8);
		wr_entries(w, m->count, m->e, KONCE_CW_MAX_LOG);
		break;
	case KONCE_CW_ACCEPT:
		wr_be(w, m->u, 8);
		wr_value(w, &m->v);
		break;
	case KONCE_CW_NEWVIEW:
		if (m->v.epoch != m->epoch)
			w->bad = true;
		wr_value(w, &m->v);
		break;
	case KONCE_CW_JOIN:
		wr_bytes(w, m->secret, KONCE_CW_SECRET);
		break;
	case KONCE_CW_JOIN_WITHDRAW:
		wr_bytes(w, m->secret, KONCE_CW_SECRET);
		if (m->flag > KONCE_CW_WD_OUT)
			w->bad = true;
		wr_be(w, m->flag, 1);
		break;
	case KONCE_CW_JOIN_ASK:
		wr_bytes(w, m->key, KONCE_CW_KEY);
		wr_bytes(w, m->secret, KONCE_CW_SECRET);
		break;
	case KONCE_CW_JOIN_VOTE:
		wr_bytes(w, m->key, KONCE_CW_KEY);
		if (m->flag > KONCE_CW_VOTE_ABSTAIN)
			w->bad = true;
		wr_be(w, m->flag, 1);
		break;
	case KONCE_CW_REFUSED:
		wr_be(w, m->flag, 1);
		break;
	case KONCE_CW_LEAVE:
		break;
	case KONCE_CW_SNAP:
		if (!snap_chunk_ok(m->total, m->offset, m->dlen) || (m->dlen && !m->data))
			w->bad = true;
		wr_be(w, m->u, 8);
		wr_be(w, m->total, 4);
		wr_be(w, m->offset, 4);
		wr_be(w, m->dlen, 2);
		if (!w->bad)
			wr_bytes(w, m->data, m->dlen);
		break;
	default:
		w->bad = true;
	}
}

size_t konce_cw_encode(const konce_cw_msg *m, uint8_t *out, size_t cap)
{
	wr w = {out, cap, false};
	wr_msg(&w, m);
	return wr_len(&w, cap);
}

size_t konce_cw_msg_size(const konce_cw_msg *m)
{
	size_t n = KONCE_CW_H_SIZE;
	if (body_is_u(m->type))
		return n + 8;
	switch (m->type) {
	case KONCE_CW_SUBMIT:
		return n + konce_cw_entry_size(&m->e[0]);
	case KONCE_CW_PROPOSE:
	case KONCE_CW_PROMISE:
		n += m->type == KONCE_CW_PROPOSE ? 8 + 2 : 8 + 8 + 8 + 2;
		if (m->type == KONCE_CW_PROMISE && m->acc_ballot)
			n += 4 + konce_cw_value_size(&m->v);
		for (unsigned i = 0; i < m->count && i < KONCE_CW_MAX_LOG; i++)
			n += konce_cw_entry_size(&m->e[i]);
		return n;
	case KONCE_CW_PROBE_REQ: return n + KONCE_CW_KEY + 4;
	case KONCE_CW_PROBE_REP: return n + KONCE_CW_KEY + 5;
	case KONCE_CW_ACCEPT: return n + 8 + konce_cw_value_size(&m->v);
	case KONCE_CW_NEWVIEW: return n + konce_cw_value_size(&m->v);
	case KONCE_CW_JOIN: return n + KONCE_CW_SECRET;
	case KONCE_CW_JOIN_WITHDRAW: return n + KONCE_CW_SECRET + 1;
	case KONCE_CW_JOIN_ASK: return n + KONCE_CW_KEY + KONCE_CW_SECRET;
	case KONCE_CW_JOIN_VOTE: return n + KONCE_CW_KEY + 1;
	case KONCE_CW_REFUSED: return n + 1;
	case KONCE_CW_SNAP: return n + 8 + 4 + 4 + 2 + m->dlen;
	default: return n;
	}
}
