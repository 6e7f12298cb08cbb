/* ncgapp.c - the application's side of the hosted groups: names, notices, info, tokens (ncgapp.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node/core/ncgapp.h"

_Static_assert((int)KONCE_CTOKEN_TEXT_MAX <= (int)KONCE_GROUP_TOKEN_MAX, "a token's text fits KONCE_GROUP_TOKEN_MAX");

/* ---- names ---------------------------------------------------------------------------------- */

bool konce_ncgapp_name_ok(const char *s)
{
	size_t l = s ? strlen(s) : 0;
	if (!l || l > KONCE_GROUP_NAME_MAX)
		return false;
	for (size_t i = 0; i < l; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

konce_ncgapp_name *konce_ncgapp_by_name(konce_ncgapp *t, const char *name)
{
	for (int i = 0; name && i < KONCE_NC_GROUPS_MAX; i++)
		if (t->names[i].used && !strcmp(t->names[i].name, name))
			return &t->names[i];
	return NULL;
}

konce_ncgapp_name *konce_ncgapp_by_gid(konce_ncgapp *t, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (t->names[i].used && !memcmp(t->names[i].gid, gid, KONCE_CW_GROUP_ID))
			return &t->names[i];
	return NULL;
}

konce_ncgapp_name *konce_ncgapp_bind(konce_ncgapp *t, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name)
{
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++)
		if (!t->names[i].used) {
			konce_ncgapp_name *x = &t->names[i];
			memset(x, 0, sizeof(*x));
			x->used = true;
			memcpy(x->gid, gid, KONCE_CW_GROUP_ID);
			if (name && *name)
				snprintf(x->name, sizeof(x->name), "%s", name);
			else
				sodium_bin2hex(x->name, sizeof(x->name), gid, KONCE_CW_GROUP_ID);
			return x;
		}
	return NULL;
}

int konce_ncgapp_name_free(konce_ncgapp *t, const char *name)
{
	if (!konce_ncgapp_name_ok(name))
		return -EINVAL;
	return konce_ncgapp_by_name(t, name) ? -EEXIST : 0;
}

static konce_group *find(konce_ncgapp *t, konce_nodecore *c, const char *name, konce_ncgapp_name **xo)
{
	konce_ncgapp_name *x = konce_ncgapp_by_name(t, name);
	if (xo)
		*xo = x;
	return x ? konce_nodecore_group_find(c, x->gid) : NULL;
}

/* ---- events --------------------------------------------------------------------------------- */

static void say(konce_ncgapp_out *o, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(konce_ncgapp_out *o, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->log, sizeof(o->log), fmt, ap);
	va_end(ap);
	o->level = level;
}

int konce_ncgapp_out_why(int core_reason, int kind)
{
	switch (core_reason) {
	case KONCE_GROUP_OUT_EVICTED: return KONCE_GROUP_EVICTED;
	case KONCE_GROUP_OUT_LEFT: return KONCE_GROUP_LEFT;
	case KONCE_GROUP_OUT_TIMEDOUT: return kind == KONCE_CW_R_UNKNOWN ? KONCE_GROUP_JOIN_UNKNOWN : KONCE_GROUP_JOIN_TIMEDOUT;
	case 0: return 0;
	default: return KONCE_GROUP_REFUSED;
	}
}

void konce_ncgapp_event(konce_ncgapp *t, konce_nodecore *c, const konce_nc_event *ev, konce_ncgapp_out *out)
{
	const konce_group_event *g = &ev->group;
	konce_ncgapp_name *x = konce_ncgapp_by_gid(t, ev->gid);
	konce_group_notice o = {0};
	memset(out, 0, sizeof(*out));
	out->level = -1;
	if (!x)
		return;
	snprintf(o.name, sizeof(o.name), "%s", x->name);
	memcpy(o.id, ev->gid, KONCE_CW_GROUP_ID);
	o.epoch = g->epoch;
	switch (g->type) {
	case KONCE_GROUP_EV_COMMITTED:
		if (g->kind != KONCE_CW_E_APP)
			return;
		o.type = KONCE_GROUP_N_DECIDED;
		o.seq = g->seq;
		memcpy(o.origin, g->origin, sizeof(o.origin));
		o.nonce = g->nonce;
		o.data = g->data;
		o.len = g->len;
		break;
	case KONCE_GROUP_EV_VIEW: {
		o.type = KONCE_GROUP_N_VIEW;
		o.members = g->members; /* the event's view: the core may already be in a later one */
		if (x->joining) {
			out->notice[out->n] = o;
			out->notice[out->n++].type = KONCE_GROUP_N_JOINED;
		}
		x->joining = false;
		say(out, KONCE_LOG_INFO, "group %s: view %llu with %u members", x->name, (unsigned long long)g->epoch,
		    o.members);
		break;
	}
	case KONCE_GROUP_EV_HALTED:
		o.type = KONCE_GROUP_N_HALTED;
		say(out, KONCE_LOG_WARN, "group %s: halted (no majority for a new view)", x->name);
		break;
	case KONCE_GROUP_EV_OUT:
		o.type = KONCE_GROUP_N_OUT;
		o.reason = konce_ncgapp_out_why(g->out_reason, g->kind);
		if (o.reason == KONCE_GROUP_JOIN_UNKNOWN)
			say(out, KONCE_LOG_WARN, "group %s: out (the join timed out and withdrew: the group did not know "
			    "the invitation; a forged or mistyped token, or its INVITE never committed)", x->name);
		else if (o.reason == KONCE_GROUP_JOIN_TIMEDOUT)
			say(out, KONCE_LOG_WARN, "group %s: out (the join timed out and withdrew: no coordinator admitted it in time)",
			    x->name);
		else
			say(out, KONCE_LOG_INFO, "group %s: out (%s)", x->name,
			    o.reason == KONCE_GROUP_EVICTED ? "evicted" : o.reason == KONCE_GROUP_LEFT ? "left" : "refused");
		break;
	case KONCE_GROUP_EV_PERSIST_FAILED:
		o.type = KONCE_GROUP_N_STORE_FAILED;
		o.reason = g->err;
		break;
	case KONCE_GROUP_EV_SNAPSHOT:
		o.type = KONCE_GROUP_N_SNAPSHOT;
		o.seq = g->seq;
		o.data = g->data;
		o.len = g->len;
		break;
	case KONCE_GROUP_EV_JOIN_DECIDED:
		say(out, KONCE_LOG_INFO, "group %s: join %s (%u yes, %u no)", x->name, g->flag ? "accepted" : "refused",
		    g->yes, g->no);
		return;
	case KONCE_GROUP_EV_OVERFLOW:
		say(out, KONCE_LOG_ERROR, "group %s: %llu events lost", x->name, (unsigned long long)g->seq);
		return;
	default: return;
	}
	out->notice[out->n++] = o;
}

/* ---- commands ------------------------------------------------------------------------------- */

int konce_ncgapp_create(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name,
			uint64_t now_us, uint64_t unix_s)
{
	konce_group *g;
	int e = konce_ncgapp_name_free(t, name);
	if (e)
		return e;
	if (konce_ncgapp_by_gid(t, gid))
		return -EEXIST;
	if ((e = konce_nodecore_group_add(c, gid, &g)))
		return e;
	konce_nodecore_groups_wallclock(c, unix_s);
	if ((e = konce_group_create(g, now_us)) || !konce_ncgapp_bind(t, gid, name)) {
		konce_nodecore_group_remove(c, gid);
		return e ? e : -ENOSPC;
	}
	return 0;
}

/* The token's hint: one "ADDR:PORT" (or "-") per member, in the token's key order, separated by
 * spaces: this node's (addr_hint), then the newest address this node knows for each other member
 * (from its sessions, never a traversal's virtual one).  A joiner loads them as it would a store's
 * addresses, so it opens a session to every member by key.  Without addr_hint the hint is empty:
 * the members are found by key alone (the joiner's store, or a rendezvous), which is right behind
 * NATs, where an address seen here may be a mapping the joiner cannot use.  Cut at the last whole
 * address that fits. */
static void hint_build(konce_nodecore *c, konce_ctoken *t, const char *addr_hint)
{
	char buf[KONCE_CW_MAX_RENDEZVOUS + 1], as[KONCE_ADDR_STRLEN];
	size_t len = 0;
	buf[0] = '\0';
	for (unsigned i = 0; addr_hint && *addr_hint && i < t->n; i++) {
		const char *a = "-";
		konce_addr ad;
		if (i == 0)
			a = addr_hint;
		else if (!konce_nodecore_known_addr(c, t->keys[i], &ad))
			a = konce_addr_str(&ad, as);
		size_t l = strlen(a);
		if (len + (len ? 1 : 0) + l > KONCE_CW_MAX_RENDEZVOUS)
			break;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? " " : "", a);
	}
	memcpy(t->rdv, buf, len + 1);
	t->rdv_len = (uint8_t)len;
}

/* Loads the addresses of a token's hint (hint_build) into the known-keys cache. */
static void hint_load(konce_nodecore *c, const konce_ctoken *t)
{
	konce_addr a[KONCE_CW_MAX_MEMBERS];
	bool have[KONCE_CW_MAX_MEMBERS];
	konce_ctoken_hint_addrs(t, a, have); /* fuzzed: tests/fuzz/fuzz_tokenhint.c */
	for (unsigned i = 0; i < t->n && i < KONCE_CW_MAX_MEMBERS; i++)
		if (have[i])
			konce_nodecore_known_load(c, t->keys[i], &a[i], NULL);
}

int konce_ncgapp_invite(konce_ncgapp *t, konce_nodecore *c, const char *name, const uint8_t self[KONCE_CW_KEY],
			const uint8_t secret[KONCE_CW_SECRET], uint64_t expires, const char *addr_hint,
			uint64_t now_us, uint64_t unix_s, char *token, size_t cap)
{
	konce_ncgapp_name *x;
	konce_group *g = find(t, c, name, &x);
	if (!g)
		return -ENOENT;
	if (!token || cap < KONCE_CTOKEN_TEXT_MAX || (addr_hint && strlen(addr_hint) > KONCE_CW_MAX_RENDEZVOUS))
		return -EINVAL;
	enum konce_group_state s = konce_group_state(g);
	if (s != KONCE_GROUP_NORMAL && s != KONCE_GROUP_VIEWCHANGE)
		return -ENOTCONN;
	konce_ctoken *tok = sodium_malloc(sizeof(*tok));
	if (!tok)
		return -ENOMEM;
	memset(tok, 0, sizeof(*tok));
	memcpy(tok->group, x->gid, KONCE_CW_GROUP_ID);
	const uint8_t(*keys)[KONCE_CW_KEY];
	unsigned m = konce_group_members(g, &keys);
	/* this node first: the address hint is its own */
	memcpy(tok->keys[tok->n++], self, KONCE_CW_KEY);
	for (unsigned i = 0; i < m; i++)
		if (memcmp(keys[i], self, KONCE_CW_KEY))
			memcpy(tok->keys[tok->n++], keys[i], KONCE_CW_KEY);
	memcpy(tok->secret, secret, KONCE_CW_SECRET);
	tok->expires = expires;
	hint_build(c, tok, addr_hint);
	uint8_t hash[KONCE_CW_SECRET];
	konce_ctoken_secret_hash(hash, tok->secret);
	konce_nodecore_groups_wallclock(c, unix_s);
	int64_t r = konce_group_invite(g, hash, expires, now_us);
	int e = r < 0 ? (int)r : konce_ctoken_to_text(tok, token, cap);
	sodium_free(tok);
	return e;
}

int konce_ncgapp_join_check(konce_ncgapp *t, const uint8_t self[KONCE_CW_KEY], const char *text, const char *name,
			    uint64_t unix_s, konce_ctoken *tok, char name_out[KONCE_GROUP_NAME_MAX + 1])
{
	if (name && !konce_ncgapp_name_ok(name))
		return -EINVAL;
	if (konce_ctoken_from_text(tok, text ? text : ""))
		return -EINVAL;
	if (konce_ctoken_expired(tok, unix_s))
		return -ETIMEDOUT;
	if (name)
		snprintf(name_out, KONCE_GROUP_NAME_MAX + 1, "%s", name);
	else {
		memcpy(name_out, "g-", 2);
		sodium_bin2hex(name_out + 2, KONCE_GROUP_NAME_MAX + 1 - 2, tok->group, 4);
	}
	if (konce_ncgapp_by_name(t, name_out) || konce_ncgapp_by_gid(t, tok->group))
		return -EEXIST;
	return konce_ncgapp_token_own(tok, self) ? -EINVAL : 0;
}

bool konce_ncgapp_token_own(const konce_ctoken *tok, const uint8_t self[KONCE_CW_KEY])
{
	for (unsigned i = 0; i < tok->n; i++)
		if (!memcmp(tok->keys[i], self, KONCE_CW_KEY))
			return true;
	return false;
}

bool konce_ncgapp_rejoinable(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID],
			     const char *name)
{
	konce_ncgapp_name *x = konce_ncgapp_by_gid(t, gid), *y = konce_ncgapp_by_name(t, name);
	konce_group *g = konce_nodecore_group_find(c, gid);
	return x && (!y || y == x) && (!g || konce_group_state(g) == KONCE_GROUP_OUT);
}

void konce_ncgapp_forget(konce_ncgapp *t, konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID])
{
	konce_ncgapp_name *x = konce_ncgapp_by_gid(t, gid);
	konce_nodecore_group_remove(c, gid); /* its queued notes go with it */
	if (x)
		memset(x, 0, sizeof(*x));
}

int konce_ncgapp_join(konce_ncgapp *t, konce_nodecore *c, const konce_ctoken *tok, const char *name, uint64_t now_us,
		      uint64_t unix_s)
{
	return konce_ncgapp_join_for(t, c, tok, name, now_us, unix_s, 0);
}

int konce_ncgapp_join_for(konce_ncgapp *t, konce_nodecore *c, const konce_ctoken *tok, const char *name,
			  uint64_t now_us, uint64_t unix_s, unsigned timeout_s)
{
	konce_group *g;
	konce_ncgapp_name *x;
	hint_load(c, tok); /* the members' addresses: sessions open by them */
	konce_nodecore_groups_wallclock(c, unix_s);
	int e = konce_nodecore_group_add(c, tok->group, &g);
	if (e)
		return e;
	if ((e = konce_group_join(g, (const uint8_t(*)[KONCE_CW_KEY])tok->keys, tok->n, tok->secret, now_us)) ||
	    (timeout_s && (e = konce_group_join_deadline(g, now_us + (uint64_t)timeout_s * 1000000u))) ||
	    !(x = konce_ncgapp_bind(t, tok->group, name))) {
		konce_nodecore_group_remove(c, tok->group);
		return e ? e : -ENOSPC;
	}
	x->joining = true;
	return 0;
}

int64_t konce_ncgapp_propose(konce_ncgapp *t, konce_nodecore *c, const char *name, const uint8_t *data, size_t len,
			     uint64_t now_us)
{
	konce_group *g = find(t, c, name, NULL);
	if (!g)
		return -ENOENT;
	if (!len || !data)
		return -EINVAL;
	if (len > KONCE_GROUP_DECISION_MAX)
		return -EMSGSIZE;
	return konce_group_propose(g, data, len, now_us);
}

int konce_ncgapp_leave(konce_ncgapp *t, konce_nodecore *c, const char *name, uint64_t now_us)
{
	konce_group *g = find(t, c, name, NULL);
	return g ? konce_group_leave(g, now_us) : -ENOENT;
}

/* ---- reads ---------------------------------------------------------------------------------- */

static void fill_info(konce_group *g, const konce_ncgapp_name *x, konce_group_info *o)
{
	const uint8_t(*keys)[KONCE_CW_KEY];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", x->name);
	memcpy(o->id, x->gid, KONCE_CW_GROUP_ID);
	switch (konce_group_state(g)) {
	case KONCE_GROUP_NORMAL: o->state = KONCE_GROUP_S_MEMBER; break;
	case KONCE_GROUP_VIEWCHANGE: o->state = KONCE_GROUP_S_VIEWCHANGE; break;
	case KONCE_GROUP_OUT: o->state = KONCE_GROUP_S_OUT; break;
	default: o->state = KONCE_GROUP_S_JOINING; break;
	}
	o->halted = konce_group_halted(g);
	o->epoch = konce_group_epoch(g);
	o->commit = konce_group_commit_index(g);
	o->nmembers = konce_group_members(g, &keys);
	if (o->nmembers > KONCE_GROUP_MEMBERS_MAX)
		o->nmembers = KONCE_GROUP_MEMBERS_MAX;
	for (unsigned i = 0; i < o->nmembers; i++)
		memcpy(o->members[i], keys[i], KONCE_KEY_BYTES);
	o->coordinator = o->nmembers ? konce_group_coordinator(g) : 0;
	o->out_reason = konce_ncgapp_out_why(konce_group_out_reason(g), konce_group_join_unknown(g) ? KONCE_CW_R_UNKNOWN : 0);
	uint64_t je, left;
	o->join_left_ms = -1;
	if (!konce_group_join_progress(g, &je, &left)) {
		o->join_left_ms = (int64_t)left;
		o->join_epoch = je;
	}
}

int konce_ncgapp_info(konce_ncgapp *t, konce_nodecore *c, const char *name, konce_group_info *out)
{
	konce_ncgapp_name *x;
	konce_group *g = find(t, c, name, &x);
	if (!g || !out)
		return g ? -EINVAL : -ENOENT;
	fill_info(g, x, out);
	return 0;
}

int konce_ncgapp_list(konce_ncgapp *t, konce_nodecore *c, konce_group_info *out, size_t max)
{
	int count = 0;
	for (int i = 0; i < KONCE_NC_GROUPS_MAX; i++) {
		konce_ncgapp_name *x = &t->names[i];
		konce_group *g = x->used ? konce_nodecore_group_find(c, x->gid) : NULL;
		if (!g)
			continue;
		if ((size_t)count < max && out)
			fill_info(g, x, &out[count]);
		count++;
	}
	return count;
}

bool konce_ncgapp_log_entry(const uint8_t *e, size_t len, const uint8_t **origin, const uint8_t **data, size_t *dlen)
{
	if (len < KONCE_CW_ENTRY_HEAD || e[0] != KONCE_CW_E_APP)
		return false;
	size_t dl = (size_t)e[1 + KONCE_CW_ORIGIN + 8] << 8 | e[1 + KONCE_CW_ORIGIN + 8 + 1];
	if (dl > len - KONCE_CW_ENTRY_HEAD)
		return false;
	*origin = e + 1;
	*data = e + KONCE_CW_ENTRY_HEAD;
	*dlen = dl;
	return true;
}
