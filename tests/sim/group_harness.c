/* group_harness.c - the consensus members' simulated network, stores and checks (group_harness.h). */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/ctoken.h"
#include "store/store.h"
#include "tests/sim/group_harness.h"

static void violation(gh *s, const char *fmt, ...)
{
	if (!s->violations++) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->first_violation, sizeof(s->first_violation), fmt, ap);
		va_end(ap);
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t gh_wall(const gh *s) { return 1800000000ULL + s->now / 1000000; }

static void set_wall(gh *s, unsigned i)
{
	if (s->node[i].g)
		konce_group_set_wallclock(s->node[i].g, gh_wall(s));
}

int gh_node_of(const gh *s, const uint8_t key[KONCE_CW_KEY])
{
	for (unsigned i = 0; i < s->nn; i++)
		if (!memcmp(s->node[i].key, key, KONCE_CW_KEY))
			return (int)i;
	return -1;
}

/* ---- the store ------------------------------------------------------------------------------ */

static void put_bytes(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t len)
{
	free(*dst);
	*dst = NULL;
	*dlen = len;
	if (len) {
		*dst = malloc(len);
		memcpy(*dst, src, len);
	}
}

static int set_entry(gh_store *st, uint64_t seq, const konce_cw_entry *e)
{
	if (seq >= GH_MAX_SEQ)
		return -ENOSPC;
	uint8_t b[KONCE_CW_ENTRY_HEAD + KONCE_CW_MAX_ENTRY];
	size_t n = konce_cw_entry_encode(e, b, sizeof(b));
	put_bytes(&st->entry[seq], &st->entry_len[seq], b, n);
	return 0;
}

static void truncate_from(gh_store *st, uint64_t seq)
{
	for (uint64_t s = seq; s <= st->max_seq && s < GH_MAX_SEQ; s++)
		put_bytes(&st->entry[s], &st->entry_len[s], NULL, 0);
	if (st->max_seq >= seq)
		st->max_seq = seq - 1;
}

static int a_view(gh_store *st, const uint8_t *value, size_t len)
{
	konce_cw_value v;
	if (konce_cw_value_parse(&v, value, len, NULL) != KONCE_CW_OK)
		return -EINVAL;
	put_bytes(&st->view, &st->view_len, value, len);
	static const uint8_t zero[KONCE_CW_SECRET];
	bool known = !memcmp(v.used_invite, zero, KONCE_CW_SECRET);
	for (size_t k = 0; k < st->nused && !known; k++)
		known = !memcmp(st->used[k], v.used_invite, KONCE_CW_SECRET);
	if (!known) {
		st->used = realloc(st->used, (st->nused + 1) * sizeof(*st->used));
		memcpy(st->used[st->nused++], v.used_invite, KONCE_CW_SECRET);
	}
	truncate_from(st, v.commit + 1);
	for (unsigned i = 0; i < v.count; i++)
		if (set_entry(st, v.commit + 1 + i, &v.e[i]))
			return -ENOSPC;
	if (v.commit + v.count > st->max_seq)
		st->max_seq = v.commit + v.count;
	return 0;
}

static int a_vote(gh_store *st, uint64_t base, uint64_t promised, uint64_t acc_ballot, const uint8_t *value,
		  size_t len)
{
	st->vote_base = base;
	st->promised = promised;
	st->acc_ballot = acc_ballot;
	put_bytes(&st->acc, &st->acc_len, value, len);
	return 0;
}

static int a_entries(gh_store *st, uint64_t first, unsigned count, const uint8_t *b, size_t len)
{
	truncate_from(st, first);
	size_t off = 0;
	for (unsigned i = 0; i < count; i++) {
		konce_cw_entry e;
		size_t used;
		if (konce_cw_entry_parse(&e, b + off, len - off, &used) != KONCE_CW_OK)
			return -EINVAL;
		if (set_entry(st, first + i, &e))
			return -ENOSPC;
		off += used;
	}
	if (count)
		st->max_seq = first + count - 1;
	return off == len ? 0 : -EINVAL;
}

static int a_delivered(gh_store *st, uint64_t seq)
{
	st->delivered = seq;
	return 0;
}

static int apply(gh_store *st, const gh_rec *r)
{
	switch (r->kind) {
	case 1:
		return a_view(st, r->bytes, r->len);
	case 2:
		return a_vote(st, r->a, r->b, r->c, r->bytes, r->len);
	case 3:
		return a_entries(st, r->a, (unsigned)r->b, r->bytes, r->len);
	case 5:
		if (r->a == 0) {
			st->needs_state = true;
		} else {
			st->needs_state = false;
			st->snap_seq = r->a;
			st->snap_len = r->len;
		}
		return 0;
	default:
		return a_delivered(st, r->a);
	}
}

/* The persist interface: applied at once, or (asynchronous) queued for a flush. */
static gh *the_sim(gh_store *st) { return st->sim; }

static int persist(gh_store *st, gh_rec r, const uint8_t *bytes)
{
	gh *s = the_sim(st);
	if (!s->async)
		return apply(st, &(gh_rec){r.kind, r.a, r.b, r.c, (uint8_t *)bytes, r.len});
	if (st->npend == st->cpend) {
		st->cpend = st->cpend ? 2 * st->cpend : 16;
		st->pend = realloc(st->pend, st->cpend * sizeof(*st->pend));
	}
	r.bytes = NULL;
	if (r.len) {
		r.bytes = malloc(r.len);
		memcpy(r.bytes, bytes, r.len);
	}
	st->pend[st->npend++] = r;
	st->calls++;
	if (st->db) {
		int rc = 0;
		switch (r.kind) {
		case 1:
			rc = konce_store_group_note_view(st->db, s->group, r.bytes, r.len);
			break;
		case 2:
			rc = konce_store_group_note_vote(st->db, s->group, r.a, r.b, r.c, r.bytes, r.len);
			break;
		case 3:
			rc = konce_store_group_note_entries(st->db, s->group, r.a, (unsigned)r.b, r.bytes, r.len);
			break;
		case 5:
			rc = konce_store_group_note_snapshot(st->db, s->group, r.a, r.bytes, r.len);
			break;
		default:
			rc = konce_store_group_note_delivered(st->db, s->group, r.a);
		}
		if (rc)
			violation(s, "the SQLite store refused a record: %d", rc);
	}
	if (!st->flush_at)
		st->flush_at = s->now + 1 + simrng_below(&s->frng, s->flush_max);
	return KONCE_GROUP_PERSIST_QUEUED;
}

static int p_view(void *ctx, const uint8_t *value, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 1, .len = len}, value);
}

static int p_vote(void *ctx, uint64_t base, uint64_t promised, uint64_t acc_ballot, const uint8_t *value, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 2, .a = base, .b = promised, .c = acc_ballot, .len = len}, value);
}

static int p_entries(void *ctx, uint64_t first, unsigned count, const uint8_t *b, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 3, .a = first, .b = count, .len = len}, b);
}

static int p_delivered(void *ctx, uint64_t seq)
{
	return persist(ctx, (gh_rec){.kind = 4, .a = seq}, NULL);
}

static int p_snapshot(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	return persist(ctx, (gh_rec){.kind = 5, .a = seq, .len = len}, data);
}

/* ---- the application ------------------------------------------------------------------------ */

enum { APP_FILLER_MAX = 40000 };

static size_t app_state(uint64_t hash, uint8_t *out)
{
	size_t len = 8 + (size_t)(hash % (APP_FILLER_MAX + 1));
	memcpy(out, &hash, 8);
	for (size_t k = 8; k < len; k++)
		out[k] = (uint8_t)(hash >> (k % 8 * 8) ^ k);
	return len;
}

static int app_snapshot(void *ctx, const uint8_t **data, size_t *len)
{
	static uint8_t buf[8 + APP_FILLER_MAX];
	gh_node *n = ctx;
	if (n->awaiting)
		violation(n->st.sim, "node %d was asked for a snapshot it does not have", gh_node_of(n->st.sim, n->key));
	*len = app_state(n->app_hash, buf);
	*data = buf;
	return 0;
}

static void drop_pending(gh_store *st)
{
	for (size_t k = 0; k < st->npend; k++)
		free(st->pend[k].bytes);
	st->lost += st->npend;
	st->npend = 0;
	if (st->db)
		konce_store_group_discard(st->db);
	st->calls = 0;
	st->flush_at = 0;
}

static bool policy(void *ctx, const uint8_t joiner[KONCE_CW_KEY])
{
	gh_node *n = ctx;
	/* The node's table; the harness finds the joiner's number by its first key byte. */
	unsigned j = joiner[0] - 1;
	return j < GH_MAX_NODES ? n->policy[j] : false;
}

static konce_group *make_core(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	drop_pending(&n->st); /* a new core counts its persist calls from 1 */
	konce_group_config cfg = {.env = &s->envc.env, .policy = policy, .policy_ctx = n, .snapshot = app_snapshot,
				  .snapshot_ctx = n};
	memcpy(cfg.group, s->group, sizeof(cfg.group));
	memcpy(cfg.self, n->key, KONCE_CW_KEY);
	cfg.persist = (konce_group_persist){.ctx = &n->st, .put_view = p_view, .put_vote = p_vote,
					    .put_entries = p_entries, .put_delivered = p_delivered,
					    .put_snapshot = p_snapshot};
	return konce_group_new(&cfg);
}

/* ---- the network ---------------------------------------------------------------------------- */

static bool q_less(const gh_msg *a, const gh_msg *b) { return a->at < b->at || (a->at == b->at && a->seq < b->seq); }

static void q_push(gh *s, gh_msg m)
{
	if (s->qlen == s->qcap) {
		s->qcap = s->qcap ? s->qcap * 2 : 256;
		s->q = realloc(s->q, s->qcap * sizeof(*s->q));
	}
	size_t i = s->qlen++;
	s->q[i] = m;
	while (i && q_less(&s->q[i], &s->q[(i - 1) / 2])) {
		gh_msg t = s->q[i];
		s->q[i] = s->q[(i - 1) / 2];
		s->q[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static gh_msg q_pop(gh *s)
{
	gh_msg top = s->q[0];
	s->q[0] = s->q[--s->qlen];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->qlen && q_less(&s->q[l], &s->q[m]))
			m = l;
		if (r < s->qlen && q_less(&s->q[r], &s->q[m]))
			m = r;
		if (m == i)
			break;
		gh_msg t = s->q[i];
		s->q[i] = s->q[m];
		s->q[m] = t;
		i = m;
	}
	return top;
}

static void send_one(gh *s, unsigned from, unsigned to, const uint8_t *b, size_t len)
{
	uint64_t d = s->delay_min + simrng_below(&s->rng, s->delay_max - s->delay_min + 1);
	d += s->node[from].extra_delay + s->node[to].extra_delay;
	gh_msg m = {.at = s->now + d, .seq = s->qseq++, .from = from, .to = to, .len = len};
	m.bytes = malloc(len);
	memcpy(m.bytes, b, len);
	q_push(s, m);
}

static void record_view(gh *s, unsigned i, uint64_t epoch)
{
	const uint8_t (*keys)[KONCE_CW_KEY];
	unsigned n = konce_group_members(s->node[i].g, &keys);
	uint64_t h = fnv(0xcbf29ce484222325ULL, keys, (size_t)n * KONCE_CW_KEY);
	if (epoch >= GH_MAX_EPOCH) {
		violation(s, "epoch %llu beyond the harness's table", (unsigned long long)epoch);
		return;
	}
	if (!s->epoch_hash[epoch]) {
		s->epoch_hash[epoch] = h;
		s->epoch_n[epoch] = (uint8_t)n;
		memcpy(s->epoch_keys[epoch], keys, (size_t)n * KONCE_CW_KEY);
		/* A key new since the previous recorded epoch must have been accepted. */
		uint64_t p = epoch - 1;
		while (p > 0 && !s->epoch_hash[p])
			p--;
		if (p > 0)
			for (unsigned k = 0; k < n; k++) {
				bool old = false;
				for (unsigned q = 0; q < s->epoch_n[p]; q++)
					old |= !memcmp(s->epoch_keys[p][q], keys[k], KONCE_CW_KEY);
				int j = gh_node_of(s, keys[k]);
				if (!old && (j < 0 || !s->accepted[j]))
					violation(s, "epoch %llu adds node %d without an accepted join",
						  (unsigned long long)epoch, j);
			}
	} else if (s->epoch_hash[epoch] != h) {
		violation(s, "node %u installed epoch %llu with other members", i, (unsigned long long)epoch);
	}
}

static void check_join_decision(gh *s, unsigned c, const konce_group_event *ev)
{
	int j = gh_node_of(s, ev->key);
	if (j < 0) {
		violation(s, "join decided for an unknown key");
		return;
	}
	if (!ev->flag)
		return;
	/* The size of the view the vote ran in (the coordinator may have installed the next one by
	 * the time the event is polled). */
	unsigned n = ev->epoch < GH_MAX_EPOCH ? s->epoch_n[ev->epoch] : 0;
	if (!n) {
		violation(s, "join decided in epoch %llu, which no node installed", (unsigned long long)ev->epoch);
		return;
	}
	unsigned yes = s->node[c].policy[j] ? 1 : 0, no = s->node[c].policy[j] ? 0 : 1;
	if (s->votes_epoch[c][j] == ev->epoch)
		for (unsigned v = 0; v < s->nn; v++) {
			yes += s->votes[c][j][v] == 1;
			no += s->votes[c][j][v] == 2;
		}
	if (no || yes < n / 2 + 1)
		violation(s, "node %u accepted joiner %d with %u yes, %u no of %u", c, j, yes, no, n);
	if (s->node[j].invite_expires && gh_wall(s) >= s->node[j].invite_expires)
		violation(s, "node %u accepted joiner %d after its invitation expired", c, j);
	s->accepted[j] = true;
	s->joins_accepted++;
}

static void drain(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	if (!n->up || !n->g)
		return;
	konce_group_out o;
	while (konce_group_poll(n->g, &o)) {
		int to = gh_node_of(s, o.to);
		s->msgs++;
		if (to < 0 || simrng_unit(&s->rng) < s->loss)
			continue;
		send_one(s, i, (unsigned)to, o.bytes, o.len);
		if (simrng_unit(&s->rng) < s->dup)
			send_one(s, i, (unsigned)to, o.bytes, o.len);
	}
	konce_group_event ev;
	while (konce_group_poll_event(n->g, &ev)) {
		switch (ev.type) {
		case KONCE_GROUP_EV_COMMITTED: {
			uint64_t h = fnv(0xcbf29ce484222325ULL, &ev.kind, 1);
			h = fnv(h, ev.origin, KONCE_CW_ORIGIN);
			h = fnv(h, &ev.nonce, sizeof(ev.nonce));
			h = fnv(fnv(h, ev.data, ev.len), &ev.len, sizeof(ev.len));
			h |= 1;
			s->delivered_events++;
			if (getenv("GH_TRACE"))
				fprintf(stderr, "%8.3f node %u delivers seq %llu origin %u nonce %llu epoch %llu\n",
					s->now / 1e6, i, (unsigned long long)ev.seq, ev.origin[0] - 1u,
					(unsigned long long)ev.nonce, (unsigned long long)ev.epoch);
			if (ev.seq >= GH_MAX_SEQ) {
				violation(s, "seq %llu beyond the harness's table", (unsigned long long)ev.seq);
				break;
			}
			if (n->next_delivery && ev.seq != n->next_delivery)
				violation(s, "node %u delivered seq %llu, expected %llu", i,
					  (unsigned long long)ev.seq, (unsigned long long)n->next_delivery);
			if (n->awaiting)
				violation(s, "node %u delivered seq %llu without state", i, (unsigned long long)ev.seq);
			n->next_delivery = ev.seq + 1;
			n->app_hash = fnv(n->app_hash, &h, sizeof(h)) | 1;
			n->app_seq = ev.seq;
			if (!s->chain[ev.seq])
				s->chain[ev.seq] = n->app_hash;
			else if (s->chain[ev.seq] != n->app_hash)
				violation(s, "node %u's state after seq %llu differs", i, (unsigned long long)ev.seq);
			if (!s->seq_hash[ev.seq])
				s->seq_hash[ev.seq] = h;
			else if (s->seq_hash[ev.seq] != h)
				violation(s, "node %u delivered a different entry at seq %llu", i,
					  (unsigned long long)ev.seq);
			if (ev.seq > s->max_delivered)
				s->max_delivered = ev.seq;
			break;
		}
		case KONCE_GROUP_EV_VIEW:
			if (getenv("GH_TRACE"))
				fprintf(stderr, "%8.3f node %u installs epoch %llu\n", s->now / 1e6, i,
					(unsigned long long)ev.epoch);
			s->views++;
			record_view(s, i, ev.epoch);
			if (!n->next_delivery && !n->awaiting) {
				/* A joiner: with the state before the view's commit index to transfer, it
				 * waits for a snapshot; else it starts at the beginning. */
				if (konce_group_catching_up(n->g))
					n->awaiting = true;
				else
					n->next_delivery = konce_group_commit_index(n->g) + 1;
			}
			break;
		case KONCE_GROUP_EV_SNAPSHOT: {
			uint64_t hash;
			static uint8_t want[8 + APP_FILLER_MAX];
			if (ev.len < 8 || ev.seq >= GH_MAX_SEQ) {
				violation(s, "node %u: a snapshot of %zu bytes at seq %llu", i, ev.len, (unsigned long long)ev.seq);
				break;
			}
			memcpy(&hash, ev.data, 8);
			if (app_state(hash, want) != ev.len || memcmp(want, ev.data, ev.len))
				violation(s, "node %u: a snapshot reassembled wrong", i);
			if (!s->chain[ev.seq] || s->chain[ev.seq] != hash)
				violation(s, "node %u: the snapshot at seq %llu is not the state after it", i,
					  (unsigned long long)ev.seq);
			if (getenv("GH_TRACE"))
				fprintf(stderr, "%8.3f node %u restores a snapshot at seq %llu (%zu bytes)\n", s->now / 1e6,
					i, (unsigned long long)ev.seq, ev.len);
			n->app_hash = hash;
			n->app_seq = ev.seq;
			n->next_delivery = ev.seq + 1;
			n->awaiting = false;
			n->snapshots++;
			s->snapshots++;
			break;
		}
		case KONCE_GROUP_EV_HALTED:
			s->halts++;
			n->halted_events++;
			break;
		case KONCE_GROUP_EV_JOIN_DECIDED:
			if (getenv("GH_TRACE"))
				fprintf(stderr, "%8.3f node %u decides joiner %d: %d (%u yes, %u no, epoch %llu)\n", s->now / 1e6, i,
					gh_node_of(s, ev.key), ev.flag, ev.yes, ev.no, (unsigned long long)ev.epoch);
			if (!ev.flag)
				s->joins_refused++;
			check_join_decision(s, i, &ev);
			break;
		case KONCE_GROUP_EV_OUT:
			n->out = true;
			n->out_reason = ev.out_reason;
			s->expired_refusals += ev.out_reason == KONCE_GROUP_OUT_REFUSED && ev.kind == KONCE_CW_R_EXPIRED;
			s->evictions += ev.out_reason == KONCE_GROUP_OUT_EVICTED;
			break;
		case KONCE_GROUP_EV_GAP: /* a snapshot must fill it before anything is delivered */
			if (!konce_group_catching_up(n->g))
				violation(s, "node %u skipped seq %llu..%llu", i, (unsigned long long)ev.seq,
					  (unsigned long long)ev.nonce);
			n->awaiting = true;
			break;
		case KONCE_GROUP_EV_PERSIST_FAILED:
			violation(s, "node %u: persist failed %d", i, ev.err);
			break;
		default:
			break;
		}
	}
}

static void note_vote(gh *s, const gh_msg *m)
{
	konce_cw_msg *p = malloc(sizeof(*p));
	if (konce_cw_parse(p, m->bytes, m->len) == KONCE_CW_OK && p->type == KONCE_CW_JOIN_VOTE) {
		int j = gh_node_of(s, p->key);
		if (j >= 0) {
			if (s->votes_epoch[m->to][j] != p->epoch) {
				memset(s->votes[m->to][j], 0, sizeof(s->votes[m->to][j]));
				s->votes_epoch[m->to][j] = p->epoch;
			}
			s->votes[m->to][j][m->from] = p->flag ? 1 : 2;
			if (getenv("GH_TRACE"))
				fprintf(stderr, "%8.3f vote from %u to %u on %d: %d (epoch %llu)\n", s->now / 1e6, m->from,
					m->to, j, p->flag, (unsigned long long)p->epoch);
		}
	}
	free(p);
}

static void deliver(gh *s, gh_msg *m)
{
	gh_node *to = &s->node[m->to];
	if (to->up && to->g && s->node[m->from].side == to->side) {
		if (m->len > KONCE_CW_H_SIZE && m->bytes[0] == KONCE_CW_JOIN_VOTE)
			note_vote(s, m);
		set_wall(s, m->to);
		konce_group_input(to->g, s->node[m->from].key, m->bytes, m->len, s->now);
		drain(s, m->to);
	}
	free(m->bytes);
}

/* Make node i's queued records durable, in order, and tell its core. */
static void flush(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	gh_store *st = &n->st;
	for (size_t k = 0; k < st->npend; k++) {
		if (apply(st, &st->pend[k]))
			violation(s, "node %u: a queued record does not apply", i);
		free(st->pend[k].bytes);
	}
	st->npend = 0;
	st->flush_at = 0;
	if (st->db) {
		char err[512];
		if (konce_store_group_flush(st->db, err, sizeof(err)))
			violation(s, "node %u: %s", i, err);
		s->db_flushes++;
	}
	if (n->up && n->g) {
		if (konce_group_persisted(n->g, st->calls))
			violation(s, "node %u: persisted(%llu) refused", i, (unsigned long long)st->calls);
		drain(s, i);
	}
}

void gh_set_async(gh *s, uint64_t flush_max)
{
	s->async = true;
	s->flush_max = flush_max ? flush_max : 1;
}

static int db_open(gh *s, unsigned i)
{
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/node%u.db", s->dbdir, i);
	int rc = konce_store_open(&s->node[i].st.db, path, 1, err, sizeof(err));
	if (rc)
		violation(s, "node %u: %s", i, err);
	return rc;
}

static void db_close(gh *s, unsigned i)
{
	char err[512];
	gh_store *st = &s->node[i].st;
	if (!st->db)
		return;
	konce_store_group_discard(st->db); /* a dead process's queue dies with it */
	if (konce_store_close(st->db, err, sizeof(err)))
		violation(s, "node %u: %s", i, err);
	st->db = NULL;
}

int gh_set_sqlite(gh *s, uint64_t flush_max)
{
	char err[512];
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	gh_set_async(s, flush_max);
	snprintf(s->dbdir, sizeof(s->dbdir), "%s/konce-gh-XXXXXX", tmp);
	if (!mkdtemp(s->dbdir)) {
		s->dbdir[0] = 0;
		return -errno;
	}
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *n = &s->node[i];
		int rc = db_open(s, i);
		if (rc)
			return rc;
		if (!n->st.view_len)
			continue; /* a spare: gh_join records its invitation */
		/* A founder: the founding view, as gh_new put it in the in-memory store. */
		if ((rc = konce_store_group_add(n->st.db, s->group, "sim", NULL, 0, NULL, err, sizeof(err))) ||
		    (rc = konce_store_group_note_view(n->st.db, s->group, n->st.view, n->st.view_len)) ||
		    (rc = konce_store_group_flush(n->st.db, err, sizeof(err)))) {
			violation(s, "node %u: %s", i, err);
			return rc;
		}
	}
	return 0;
}

struct cmp_ctx {
	gh_store *st;
	uint64_t next, bad;
};

static int cmp_entry(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
	struct cmp_ctx *c = ctx;
	gh_store *st = c->st;
	for (; c->next < seq && c->next < GH_MAX_SEQ; c->next++)
		if (st->entry[c->next])
			c->bad = c->next; /* the memory store has one SQLite lacks */
	if (seq >= GH_MAX_SEQ || !st->entry[seq] || st->entry_len[seq] != len || memcmp(st->entry[seq], b, len))
		c->bad = seq;
	c->next = seq + 1;
	return 0;
}

/* The SQLite store holds exactly what the in-memory one does (what a restart reads). */
static void db_compare(gh *s, unsigned i)
{
	gh_store *st = &s->node[i].st;
	konce_store_group_rec r;
	if (konce_store_group_get(st->db, s->group, &r)) {
		violation(s, "node %u: the SQLite store lost the group", i);
		return;
	}
	if (r.view_len != st->view_len || memcmp(r.view, st->view, r.view_len) || r.delivered != st->delivered ||
	    r.vote_base != st->vote_base || r.promised != st->promised || r.acc_ballot != st->acc_ballot ||
	    r.acc_len != st->acc_len || (r.acc_len && memcmp(r.acc_value, st->acc, r.acc_len)) ||
	    r.needs_state != st->needs_state || r.snap_seq != st->snap_seq || r.snap_len != st->snap_len)
		violation(s, "node %u: the SQLite store's view, vote or delivery point differs", i);
	uint64_t last = 0;
	for (uint64_t q = 1; q <= st->max_seq && q < GH_MAX_SEQ; q++)
		if (st->entry[q])
			last = q;
	if (r.last != last)
		violation(s, "node %u: the SQLite store's log ends at %llu, the memory one at %llu", i,
			  (unsigned long long)r.last, (unsigned long long)last);
	struct cmp_ctx c = {.st = st, .next = 1};
	if (konce_store_group_entries(st->db, s->group, 1, UINT64_MAX, cmp_entry, &c) < 0 || c.bad)
		violation(s, "node %u: the SQLite store's entry at seq %llu differs", i, (unsigned long long)c.bad);
	konce_store_group_rec_free(&r);
}

void gh_run_until(gh *s, uint64_t t)
{
	while (s->now <= t) {
		uint64_t next = t + 1;
		if (s->qlen && s->q[0].at < next)
			next = s->q[0].at;
		for (unsigned i = 0; i < s->nn; i++)
			if (s->node[i].up && s->node[i].g) {
				uint64_t nt = konce_group_next_timer(s->node[i].g);
				if (nt < next)
					next = nt;
				if (s->node[i].st.flush_at && s->node[i].st.flush_at < next)
					next = s->node[i].st.flush_at;
			}
		if (next > t) {
			s->now = t + 1;
			break;
		}
		if (next > s->now)
			s->now = next;
		for (unsigned i = 0; i < s->nn; i++)
			if (s->node[i].up && s->node[i].st.flush_at && s->node[i].st.flush_at <= s->now)
				flush(s, i);
		while (s->qlen && s->q[0].at <= s->now) {
			gh_msg m = q_pop(s);
			deliver(s, &m);
		}
		for (unsigned i = 0; i < s->nn; i++)
			if (s->node[i].up && s->node[i].g && konce_group_next_timer(s->node[i].g) <= s->now) {
				set_wall(s, i);
				konce_group_timer(s->node[i].g, s->now);
				drain(s, i);
			}
	}
	s->now = t;
}

/* ---- setup and faults ----------------------------------------------------------------------- */

gh *gh_new(uint64_t seed, unsigned members, unsigned spares)
{
	gh *s = calloc(1, sizeof(*s));
	s->seed = seed;
	simrng_seed(&s->rng, seed, 0x67726f7570ULL);
	sim_envctx_init(&s->envc, seed, 1);
	s->seq_hash = calloc(GH_MAX_SEQ, sizeof(uint64_t));
	s->chain = calloc(GH_MAX_SEQ, sizeof(uint64_t));
	s->chain[0] = 0xcbf29ce484222325ULL | 1; /* the empty state */
	simrng_seed(&s->frng, seed, 0x666c757368ULL);
	s->nn = members + spares;
	s->delay_min = 500;
	s->delay_max = 5000;
	for (unsigned k = 0; k < KONCE_CW_GROUP_ID; k++)
		s->group[k] = (uint8_t)simrng_next(&s->rng);
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *n = &s->node[i];
		n->key[0] = (uint8_t)(i + 1);
		for (unsigned k = 1; k < KONCE_CW_KEY; k++)
			n->key[k] = (uint8_t)simrng_next(&s->rng);
		n->st.sim = s;
		n->st.entry = calloc(GH_MAX_SEQ, sizeof(uint8_t *));
		n->st.entry_len = calloc(GH_MAX_SEQ, sizeof(size_t));
		for (unsigned j = 0; j < GH_MAX_NODES; j++)
			n->policy[j] = simrng_unit(&s->rng) < 0.9;
		for (unsigned k = 0; k < KONCE_CW_SECRET; k++)
			n->secret[k] = (uint8_t)simrng_next(&s->rng);
	}
	/* The founding view, as every founder's store would hold it. */
	uint8_t keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	for (unsigned i = 0; i < members; i++)
		memcpy(keys[i], s->node[i].key, KONCE_CW_KEY);
	static const uint8_t zero[KONCE_CW_SECRET];
	konce_cw_value v = {.epoch = 1, .n = (uint8_t)members, .keys = &keys[0][0], .used_invite = zero,
			    .commit = 0, .first_seq = 1};
	uint8_t vb[KONCE_CW_MAX_VALUE];
	size_t vlen = konce_cw_value_encode(&v, vb, sizeof(vb));
	for (unsigned i = 0; i < members; i++) {
		gh_node *n = &s->node[i];
		n->used = true;
		put_bytes(&n->st.view, &n->st.view_len, vb, vlen);
		gh_restart(s, i);
		n->next_delivery = 1;
	}
	record_view(s, 0, 1);
	return s;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void gh_free(gh *s)
{
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *n = &s->node[i];
		konce_group_free(n->g);
		free(n->st.view);
		free(n->st.acc);
		for (unsigned k = 0; k < GH_MAX_SEQ; k++)
			free(n->st.entry[k]);
		free(n->st.entry);
		free(n->st.entry_len);
		drop_pending(&n->st);
		free(n->st.pend);
		free(n->st.used);
		db_close(s, i);
	}
	if (s->dbdir[0])
		nftw(s->dbdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	while (s->qlen) {
		gh_msg m = q_pop(s);
		free(m.bytes);
	}
	free(s->q);
	free(s->seq_hash);
	free(s->chain);
	free(s);
}

void gh_crash(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	konce_group_free(n->g);
	n->g = NULL;
	n->up = false;
	s->lost_records += n->st.npend;
	drop_pending(&n->st); /* what was not durable is gone */
	db_close(s, i);
}

void gh_restart(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	if (n->up || n->out || !n->st.view_len)
		return;
	gh_store *st = &n->st;
	int rc;
	if (s->dbdir[0] && !st->db && db_open(s, i))
		return;
	n->g = make_core(s, i);
	if (st->db) {
		char err[512];
		db_compare(s, i);
		rc = konce_store_group_restore(st->db, s->group, n->g, s->now, err, sizeof(err));
		if (rc)
			violation(s, "node %u could not restart from SQLite: %s", i, err);
		s->db_restores++;
	} else {
		rc = konce_group_restore(n->g, st->view, st->view_len, st->vote_base, st->promised, st->acc_ballot,
					 st->acc, st->acc_len, st->delivered, s->now);
		for (uint64_t q = st->delivered + 1; !rc && q <= st->max_seq; q++)
			if (st->entry[q])
				rc = konce_group_restore_entry(n->g, q, st->entry[q], st->entry_len[q]);
		for (uint64_t q = 1; !rc && q <= st->delivered && q < GH_MAX_SEQ; q++)
			if (st->entry[q])
				rc = konce_group_restore_invite(n->g, st->entry[q], st->entry_len[q]);
		for (size_t k = 0; !rc && k < st->nused; k++)
			rc = konce_group_restore_used(n->g, st->used[k]);
		if (!rc && st->needs_state)
			rc = konce_group_restore_catchup(n->g);
		if (rc)
			violation(s, "node %u could not restart: %d", i, rc);
	}
	n->up = true;
	n->next_delivery = st->delivered + 1;
	/* The application kept its state with each delivery (or the snapshot), durable with them. */
	n->app_hash = st->delivered < GH_MAX_SEQ ? s->chain[st->delivered] : 0;
	n->app_seq = st->delivered;
	n->awaiting = st->needs_state;
	if (st->needs_state)
		n->next_delivery = 0;
	drain(s, i);
}

void gh_heal(gh *s)
{
	for (unsigned i = 0; i < s->nn; i++)
		s->node[i].side = 0;
}

int gh_propose(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	if (!n->up || !n->g)
		return -ENOTCONN;
	uint8_t data[64];
	size_t len = 1 + simrng_below(&s->rng, sizeof(data));
	for (size_t k = 0; k < len; k++)
		data[k] = (uint8_t)simrng_next(&s->rng);
	set_wall(s, i);
	int64_t r = konce_group_propose(n->g, data, len, s->now);
	drain(s, i);
	if (r > 0)
		n->proposals++;
	return r > 0 ? 0 : (int)r;
}

int gh_invite(gh *s, unsigned inviter, unsigned j)
{
	gh_node *n = &s->node[inviter];
	if (!n->up || !n->g)
		return -ENOTCONN;
	uint8_t h[KONCE_CW_SECRET];
	konce_ctoken_secret_hash(h, s->node[j].secret);
	/* A quarter of the invitations expire 1-3 s after they are issued (the joiner starts 0.5-2 s
	 * later): some are refused for it, and none may be accepted after it. */
	uint64_t expires = 0;
	if (s->expiring_invites && simrng_below(&s->frng, 4) == 0)
		expires = gh_wall(s) + 1 + simrng_below(&s->frng, 3);
	s->node[j].invite_expires = expires;
	set_wall(s, inviter);
	int64_t r = konce_group_invite(n->g, h, expires, s->now);
	drain(s, inviter);
	return r > 0 ? 0 : (int)r;
}

int gh_join(gh *s, unsigned j)
{
	gh_node *n = &s->node[j];
	if (n->used)
		return -EALREADY;
	unsigned members[KONCE_CW_MAX_MEMBERS], cnt;
	gh_top_epoch(s, members, &cnt);
	uint8_t keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	for (unsigned k = 0; k < cnt; k++)
		memcpy(keys[k], s->node[members[k]].key, KONCE_CW_KEY);
	n->used = true;
	n->app_hash = s->chain[0];
	if (n->st.db) {
		char err[512];
		if (konce_store_group_add(n->st.db, s->group, "sim", &keys[0][0], cnt, n->secret, err, sizeof(err)))
			violation(s, "node %u: %s", j, err);
	}
	n->g = make_core(s, j);
	n->up = true;
	set_wall(s, j);
	int rc = konce_group_join(n->g, (const uint8_t (*)[KONCE_CW_KEY])keys, cnt, n->secret, s->now);
	drain(s, j);
	return rc;
}

uint64_t gh_top_epoch(gh *s, unsigned *members, unsigned *n)
{
	/* The highest view any node has persisted, running or not. */
	uint64_t top = 0;
	static konce_cw_value v, best;
	*n = 0;
	for (unsigned i = 0; i < s->nn; i++) {
		gh_node *x = &s->node[i];
		if (x->out || !x->st.view_len || konce_cw_value_parse(&v, x->st.view, x->st.view_len, NULL) != KONCE_CW_OK)
			continue;
		if (v.epoch > top) {
			top = v.epoch;
			best = v;
		}
	}
	for (unsigned k = 0; top && k < best.n; k++) {
		int j = gh_node_of(s, best.keys + k * KONCE_CW_KEY);
		if (j >= 0)
			members[(*n)++] = (unsigned)j;
	}
	return top;
}

int gh_progress(gh *s, uint64_t within)
{
	unsigned mem[KONCE_CW_MAX_MEMBERS], cnt;
	uint64_t top = gh_top_epoch(s, mem, &cnt);
	if (!top) {
		violation(s, "no node holds a view");
		return -1;
	}
	uint64_t old_max = s->max_delivered;
	unsigned proposed = 0;
	for (unsigned k = 0; k < cnt; k++) {
		gh_node *x = &s->node[mem[k]];
		if (!x->up || x->out)
			continue; /* down (or a joiner refused by a stale round): the others must evict it */
		if (gh_propose(s, mem[k]))
			violation(s, "node %u cannot propose after the faults", mem[k]);
		else
			proposed++;
	}
	gh_run_until(s, s->now + within);
	/* Every member of the view now in force has delivered the same prefix, and it includes the
	 * cnt entries just proposed: they take seqs past everything delivered before. */
	uint64_t top2 = gh_top_epoch(s, mem, &cnt);
	uint64_t first = 0;
	if (getenv("GH_TRACE"))
		for (unsigned k = 0; k < s->nn; k++)
			if (s->node[k].g)
				gh_debug_dump(s->node[k].g, k);
	for (unsigned k = 0; k < cnt; k++) {
		gh_node *x = &s->node[mem[k]];
		if (!x->up || konce_group_state(x->g) != KONCE_GROUP_NORMAL || konce_group_epoch(x->g) != top2) {
			violation(s, "node %u is not running epoch %llu after the faults (state %d, epoch %llu)", mem[k],
				  (unsigned long long)top2, x->g ? (int)konce_group_state(x->g) : -1,
				  x->g ? (unsigned long long)konce_group_epoch(x->g) : 0ULL);
			return -1;
		}
		uint64_t d = x->next_delivery ? x->next_delivery - 1 : 0;
		if (!k)
			first = d;
		else if (d != first) {
			violation(s, "node %u delivered through %llu, node %u through %llu", mem[k],
				  (unsigned long long)d, mem[0], (unsigned long long)first);
			return -1;
		}
	}
	if (first < old_max + proposed)
		violation(s, "no progress: delivered through %llu, %u proposals after seq %llu",
			  (unsigned long long)first, proposed, (unsigned long long)old_max);
	return s->violations ? -1 : 0;
}
