/* group_harness.c - the consensus members' simulated network, application and checks, and the
 * loop that runs them (group_harness.h).  The stores are in gh_store.c, setup and faults in
 * gh_setup.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/sim/gh_int.h"

void gh_violation(gh *s, const char *fmt, ...)
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

void gh_set_wall(gh *s, unsigned i)
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
		gh_violation(n->st.sim, "node %d was asked for a snapshot it does not have", gh_node_of(n->st.sim, n->key));
	*len = app_state(n->app_hash, buf);
	*data = buf;
	return 0;
}

/* What the application folds into its hash chain for one delivered entry. */
static uint64_t entry_hash(uint8_t kind, const uint8_t *origin, uint64_t nonce, const uint8_t *data, size_t len)
{
	uint64_t h = fnv(0xcbf29ce484222325ULL, &kind, 1);
	h = fnv(h, origin, KONCE_CW_ORIGIN);
	h = fnv(h, &nonce, sizeof(nonce));
	h = fnv(fnv(h, data, len), &len, sizeof(len));
	return h | 1;
}

/* A restarted application rebuilds its state from the store (konce_store_group_replay): from the
 * empty state, the snapshot, then the entries after it, as it did when it delivered them. */
static int replay_snap(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	static uint8_t want[8 + APP_FILLER_MAX];
	gh_node *n = ctx;
	uint64_t hash;
	if (len < 8) {
		gh_violation(n->st.sim, "node %d: the stored snapshot at %llu has %zu bytes", gh_node_of(n->st.sim, n->key),
			     (unsigned long long)seq, len);
		return 1;
	}
	memcpy(&hash, data, 8);
	if (app_state(hash, want) != len || memcmp(want, data, len))
		gh_violation(n->st.sim, "node %d: the stored snapshot is not the one received", gh_node_of(n->st.sim, n->key));
	n->app_hash = hash;
	n->app_seq = seq;
	return 0;
}

static int replay_entry(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
	gh_node *n = ctx;
	konce_cw_entry e;
	if (konce_cw_entry_parse(&e, b, len, NULL) != KONCE_CW_OK) {
		gh_violation(n->st.sim, "node %d: stored entry %llu does not parse", gh_node_of(n->st.sim, n->key),
			     (unsigned long long)seq);
		return 1;
	}
	n->app_hash = fnv(n->app_hash, &(uint64_t){entry_hash(e.kind, e.origin, e.nonce, e.data, e.len)},
			  sizeof(uint64_t)) | 1;
	n->app_seq = seq;
	return 0;
}

void gh_app_replay(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	n->app_hash = s->chain[0];
	n->app_seq = 0;
	s->replays++;
	int r = konce_store_group_replay(n->st.db, s->group, UINT64_MAX, replay_snap, replay_entry, n);
	if (r < 0) {
		gh_violation(s, "node %u: its state cannot be rebuilt from the store (%d)", i, r);
		return;
	}
	if (n->st.needs_state)
		return;
	if (n->app_seq != n->st.delivered)
		gh_violation(s, "node %u: the store handed back the state after %llu, delivered %llu", i,
			     (unsigned long long)n->app_seq, (unsigned long long)n->st.delivered);
	else if (n->st.delivered < GH_MAX_SEQ && s->chain[n->st.delivered] != n->app_hash)
		gh_violation(s, "node %u: the state rebuilt from the store after seq %llu differs", i,
			     (unsigned long long)n->st.delivered);
}

static bool policy(void *ctx, const uint8_t joiner[KONCE_CW_KEY])
{
	gh_node *n = ctx;
	/* The node's table; the harness finds the joiner's number by its first key byte. */
	unsigned j = joiner[0] - 1;
	return j < GH_MAX_NODES ? n->policy[j] : false;
}

konce_group *gh_make_core(gh *s, unsigned i)
{
	gh_node *n = &s->node[i];
	gh_store_drop_pending(&n->st); /* a new core counts its persist calls from 1 */
	konce_group_config cfg = {.env = &s->envc.env, .policy = policy, .policy_ctx = n, .snapshot = app_snapshot,
				  .snapshot_ctx = n};
	memcpy(cfg.group, s->group, sizeof(cfg.group));
	memcpy(cfg.self, n->key, KONCE_CW_KEY);
	cfg.persist = gh_store_persist(&n->st);
	konce_group *g = konce_group_new(&cfg);
	if (g && n->max_batch && konce_group_set_max_batch(g, n->max_batch))
		gh_violation(s, "node %u: max_batch %u refused", i, n->max_batch);
	return g;
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

gh_msg gh_q_pop(gh *s)
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

void gh_record_view(gh *s, unsigned i, uint64_t epoch)
{
	const uint8_t (*keys)[KONCE_CW_KEY];
	unsigned n = konce_group_members(s->node[i].g, &keys);
	uint64_t h = fnv(0xcbf29ce484222325ULL, keys, (size_t)n * KONCE_CW_KEY);
	if (epoch >= GH_MAX_EPOCH) {
		gh_violation(s, "epoch %llu beyond the harness's table", (unsigned long long)epoch);
		return;
	}
	if (getenv("GH_TRACE")) {
		fprintf(stderr, "%8.3f node %u installs epoch %llu (core at %llu):", s->now / 1e6, i, (unsigned long long)epoch,
			(unsigned long long)konce_group_epoch(s->node[i].g));
		for (unsigned k = 0; k < n; k++)
			fprintf(stderr, " %d", gh_node_of(s, keys[k]));
		fprintf(stderr, "\n");
	}
	/* A VIEW event is released once the records before it are durable; if the core installed a
	 * later view meanwhile (a slow or failing writer), konce_group_members() is that view's, and
	 * this epoch's members are not known here: the later VIEW event is checked instead. */
	if (konce_group_epoch(s->node[i].g) != epoch) {
		s->stale_views++;
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
					gh_violation(s, "epoch %llu adds node %d without an accepted join",
						  (unsigned long long)epoch, j);
			}
	} else if (s->epoch_hash[epoch] != h) {
		gh_violation(s, "node %u installed epoch %llu with other members", i, (unsigned long long)epoch);
	}
}

static void check_join_decision(gh *s, unsigned c, const konce_group_event *ev)
{
	int j = gh_node_of(s, ev->key);
	if (j < 0) {
		gh_violation(s, "join decided for an unknown key");
		return;
	}
	if (!ev->flag)
		return;
	/* The size of the view the vote ran in (the coordinator may have installed the next one by
	 * the time the event is polled). */
	unsigned n = ev->epoch < GH_MAX_EPOCH ? s->epoch_n[ev->epoch] : 0;
	if (!n) {
		gh_violation(s, "join decided in epoch %llu, which no node installed", (unsigned long long)ev->epoch);
		return;
	}
	unsigned yes = s->node[c].policy[j] ? 1 : 0, no = s->node[c].policy[j] ? 0 : 1;
	if (s->votes_epoch[c][j] == ev->epoch)
		for (unsigned v = 0; v < s->nn; v++) {
			yes += s->votes[c][j][v] == 1;
			no += s->votes[c][j][v] == 2;
		}
	if (no || yes < n / 2 + 1)
		gh_violation(s, "node %u accepted joiner %d with %u yes, %u no of %u", c, j, yes, no, n);
	if (s->node[j].invite_expires && gh_wall(s) >= s->node[j].invite_expires)
		gh_violation(s, "node %u accepted joiner %d after its invitation expired", c, j);
	s->accepted[j] = true;
	s->joins_accepted++;
}

void gh_drain(gh *s, unsigned i)
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
			uint64_t h = entry_hash(ev.kind, ev.origin, ev.nonce, ev.data, ev.len);
			s->delivered_events++;
			if (getenv("GH_TRACE"))
				fprintf(stderr, "%8.3f node %u delivers seq %llu origin %u nonce %llu epoch %llu\n",
					s->now / 1e6, i, (unsigned long long)ev.seq, ev.origin[0] - 1u,
					(unsigned long long)ev.nonce, (unsigned long long)ev.epoch);
			if (ev.seq >= GH_MAX_SEQ) {
				gh_violation(s, "seq %llu beyond the harness's table", (unsigned long long)ev.seq);
				break;
			}
			if (n->next_delivery && ev.seq != n->next_delivery)
				gh_violation(s, "node %u delivered seq %llu, expected %llu", i,
					  (unsigned long long)ev.seq, (unsigned long long)n->next_delivery);
			if (n->awaiting)
				gh_violation(s, "node %u delivered seq %llu without state", i, (unsigned long long)ev.seq);
			n->next_delivery = ev.seq + 1;
			n->app_hash = fnv(n->app_hash, &h, sizeof(h)) | 1;
			n->app_seq = ev.seq;
			if (!s->chain[ev.seq])
				s->chain[ev.seq] = n->app_hash;
			else if (s->chain[ev.seq] != n->app_hash)
				gh_violation(s, "node %u's state after seq %llu differs", i, (unsigned long long)ev.seq);
			if (!s->seq_hash[ev.seq])
				s->seq_hash[ev.seq] = h;
			else if (s->seq_hash[ev.seq] != h)
				gh_violation(s, "node %u delivered a different entry at seq %llu", i,
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
			gh_record_view(s, i, ev.epoch);
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
				gh_violation(s, "node %u: a snapshot of %zu bytes at seq %llu", i, ev.len, (unsigned long long)ev.seq);
				break;
			}
			memcpy(&hash, ev.data, 8);
			if (app_state(hash, want) != ev.len || memcmp(want, ev.data, ev.len))
				gh_violation(s, "node %u: a snapshot reassembled wrong", i);
			if (!s->chain[ev.seq] || s->chain[ev.seq] != hash)
				gh_violation(s, "node %u: the snapshot at seq %llu is not the state after it", i,
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
			s->joins_withdrawn += ev.out_reason == KONCE_GROUP_OUT_TIMEDOUT;
			break;
		case KONCE_GROUP_EV_GAP: /* a snapshot must fill it before anything is delivered */
			if (!konce_group_catching_up(n->g))
				gh_violation(s, "node %u skipped seq %llu..%llu", i, (unsigned long long)ev.seq,
					  (unsigned long long)ev.nonce);
			n->awaiting = true;
			break;
		case KONCE_GROUP_EV_PERSIST_FAILED:
			gh_violation(s, "node %u: persist failed %d", i, ev.err);
			break;
		default:
			break;
		}
	}
	if (s->async)
		gwriter_round(&n->st.gw, s->now); /* the records this drain queued (node_groups_io) */
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
		gh_set_wall(s, m->to);
		konce_group_input(to->g, s->node[m->from].key, m->bytes, m->len, s->now);
		gh_drain(s, m->to);
	}
	free(m->bytes);
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
				if (gwriter_next(&s->node[i].st.gw) < next)
					next = gwriter_next(&s->node[i].st.gw);
			}
		if (next > t) {
			s->now = t + 1;
			break;
		}
		if (next > s->now)
			s->now = next;
		for (unsigned i = 0; i < s->nn; i++)
			if (s->node[i].up && s->node[i].g)
				gwriter_run(&s->node[i].st.gw, s->now);
		while (s->qlen && s->q[0].at <= s->now) {
			gh_msg m = gh_q_pop(s);
			deliver(s, &m);
		}
		for (unsigned i = 0; i < s->nn; i++)
			if (s->node[i].up && s->node[i].g && konce_group_next_timer(s->node[i].g) <= s->now) {
				gh_set_wall(s, i);
				konce_group_timer(s->node[i].g, s->now);
				gh_drain(s, i);
			}
	}
	s->now = t;
}
