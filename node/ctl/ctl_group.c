/* ctl_group.c - the control protocol's group commands (docs/CONTROL.md "Groups"): "group.create",
 * "group.invite", "group.invite_status", "group.join", "group.propose", "group.log",
 * "group.members", "group.status" (ctl_group_status.c), "group.leave" and "group.list", each
 * answered over the public API of include/konce/group.h: at once, but for "group.create",
 * "group.join" and "group.log", whose rows are written or read on the store writer's thread
 * (konce_node_group_*_async) while the request waits. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "konce/group.h"
#include "node/ctl/ctl_int.h"
#include "node/transport/keytext.h"

enum { LOG_PAGE = 256, GROUPS_LIST_MAX = 64 }; /* decisions in one group.log answer; groups listed */

static json_t *gerr(int e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *gerr(int e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const char *name = e == EINVAL ? "EINVAL" : e == ENOENT ? "ENOENT" : e == EEXIST ? "EEXIST"
			 : e == EMSGSIZE ? "EMSGSIZE" : e == EAGAIN ? "EAGAIN" : e == ENOTCONN ? "ENOTCONN"
			 : e == ETIMEDOUT ? "ETIMEDOUT" : e == ENOTSUP ? "ENOTSUP" : e == ENOSPC ? "ENOSPC" : "EIO";
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "errno", name);
}

static json_t *fail(int e, const char *what, const char *group)
{
	const char *why = e == -ENOENT    ? "no such group here"
			  : e == -ENOTSUP  ? "the node has no store (run it with a data directory)"
			  : e == -ENOTCONN ? "not a member of a working view now"
			  : e == -EAGAIN   ? "too many proposals waiting; try again"
			  : e == -EMSGSIZE ? "too large: a decision is at most 1024 bytes"
			  : e == -EEXIST   ? "a group with this name or id is here already"
			  : e == -ETIMEDOUT ? "the invitation has expired"
			  : e == -EINVAL   ? "bad argument"
					   : strerror(-e);
	return gerr(-e, "%s%s%s: %s", what, group && *group ? " " : "", group ? group : "", why);
}

static const char *state_name(int s)
{
	return s == KONCE_GROUP_S_MEMBER ? "member" : s == KONCE_GROUP_S_VIEWCHANGE ? "view-change"
	       : s == KONCE_GROUP_S_OUT  ? "out" : "joining";
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
	char h[2 * 64 + 1];
	sodium_bin2hex(h, sizeof h, b, n);
	return json_string(h);
}

void ctl_group_progress(json_t *o, const konce_group_info *g)
{
	const char *why = g->out_reason == KONCE_GROUP_EVICTED ? "evicted" : g->out_reason == KONCE_GROUP_LEFT ? "left"
			  : g->out_reason == KONCE_GROUP_REFUSED ? "refused"
			  : g->out_reason == KONCE_GROUP_JOIN_TIMEDOUT ? "join-timed-out"
			  : g->out_reason == KONCE_GROUP_JOIN_UNKNOWN ? "join-unknown-invitation" : NULL;
	json_object_set_new(o, "out_reason", why ? json_string(why) : json_null());
	if (g->state == KONCE_GROUP_S_JOINING && g->join_left_ms >= 0) {
		json_object_set_new(o, "join_left_ms", json_integer((json_int_t)g->join_left_ms));
		json_object_set_new(o, "join_epoch", json_integer((json_int_t)g->join_epoch));
	}
}

static json_t *info_json(const konce_group_info *g, bool members)
{
	json_t *o = json_pack("{s:s, s:o, s:s, s:b, s:I, s:I, s:i}", "name", g->name, "id",
			      hex_json(g->id, sizeof g->id), "state", state_name(g->state), "halted", g->halted,
			      "epoch", (json_int_t)g->epoch, "commit", (json_int_t)g->commit, "members_count",
			      (int)g->nmembers);
	ctl_group_progress(o, g);
	if (members) {
		json_t *a = json_array();
		for (unsigned i = 0; i < g->nmembers; i++) {
			char t[KONCE_KEY_TEXT_LEN + 1];
			konce_key_to_text(t, g->members[i]);
			json_array_append_new(a, json_pack("{s:s, s:b}", "key", t, "coordinator", i == g->coordinator));
		}
		json_object_set_new(o, "members", a);
	}
	return o;
}

static void create_done(void *arg, int e)
{
	konce_ctlproto_op *op = arg;
	json_t *r = NULL;
	konce_group_info g;
	if (op->out && e)
		r = fail(e, "create", op->name);
	else if (op->out && !konce_node_group_info(op->h->node, op->name, &g))
		r = json_pack("{s:b, s:o}", "ok", 1, "group", info_json(&g, true));
	else if (op->out) /* hosted, and gone again already */
		r = json_pack("{s:b}", "ok", 1);
	ctl_op_answer(op, r);
}

static void join_done(void *arg, int e)
{
	konce_ctlproto_op *op = arg;
	json_t *r = !op->out ? NULL : e ? fail(e, "join", op->name) : json_pack("{s:b, s:I}", "ok", 1, "timeout", (json_int_t)op->bytes);
	ctl_op_answer(op, r);
}

/* One decision into the answer's array (ctx), on the store writer's thread. */
static int log_one(void *ctx, uint64_t seq, const uint8_t origin[KONCE_GROUP_ORIGIN_BYTES], const uint8_t *d,
		   size_t len)
{
	json_t *arr = ctx;
	json_t *e = json_pack("{s:I, s:o}", "seq", (json_int_t)seq, "origin", hex_json(origin, KONCE_GROUP_ORIGIN_BYTES));
	/* text only for valid UTF-8 without NUL (a NUL would end it for every reader) */
	json_t *t = memchr(d, 0, len) ? NULL : json_stringn((const char *)d, len);
	if (t)
		json_object_set_new(e, "text", t);
	json_object_set_new(e, "hex", hex_json(d, len > 64 ? 0 : len));
	if (len > 64) { /* long data: hex of all of it */
		char *h = malloc(2 * len + 1);
		if (h) {
			sodium_bin2hex(h, 2 * len + 1, d, len);
			json_object_set_new(e, "hex", json_string(h));
			free(h);
		}
	}
	json_array_append_new(arr, e);
	return json_array_size(arr) >= LOG_PAGE;
}

/* In the loop, once the rows are read: the answer (for a client still there). */
static void log_done(void *arg, int k)
{
	konce_ctlproto_op *op = arg;
	json_t *r = !op->out ? NULL : k < 0 ? fail(k, "log", op->name)
			  : json_pack("{s:b, s:O, s:b}", "ok", 1, "entries", op->answer, "more",
				      json_array_size(op->answer) >= LOG_PAGE);
	ctl_op_answer(op, r);
}

/* "group.log": the group's id from the core here, its rows on the store writer's thread. */
static json_t *log_start(const konce_ctlproto_host *h, const char *group, json_t *req, konce_ctlproto_out_fn out,
			 void *octx, konce_ctlproto_op **opp)
{
	json_int_t from = json_integer_value(json_object_get(req, "from"));
	konce_ctlproto_op *op = ctl_op_new(h, out, octx, "group.log", group);
	if (!op || !(op->answer = json_array())) {
		if (op)
			ctl_op_answer(op, NULL);
		return gerr(ENOMEM, "out of memory");
	}
	int e = konce_node_group_log_async(h->node, group, from > 0 ? (uint64_t)from : 1, log_one, op->answer,
					  log_done, op);
	if (e) {
		op->out = NULL;
		ctl_op_answer(op, NULL);
		return fail(e, "log", group);
	}
	*opp = op;
	return NULL;
}

json_t *ctl_group(const konce_ctlproto_host *h, const char *cmd, json_t *req, konce_ctlproto_out_fn out, void *octx,
		  konce_ctlproto_op **opp)
{
	konce_node *n = h->node;
	const char *group = json_string_value(json_object_get(req, "group"));
	int e;
	if (!strcmp(cmd, "group.list")) {
		konce_group_info *v = calloc(GROUPS_LIST_MAX, sizeof *v);
		if (!v)
			return gerr(ENOMEM, "out of memory");
		int k = konce_node_group_list(n, v, GROUPS_LIST_MAX);
		if (k < 0) {
			free(v);
			return fail(k, "list", "");
		}
		json_t *a = json_array();
		for (int i = 0; i < k && i < GROUPS_LIST_MAX; i++)
			json_array_append_new(a, info_json(&v[i], false));
		free(v);
		return json_pack("{s:b, s:o}", "ok", 1, "groups", a);
	}
	if (!strcmp(cmd, "group.create")) {
		const char *name = json_string_value(json_object_get(req, "name"));
		if (!name)
			return gerr(EINVAL, "group.create needs \"name\"");
		konce_ctlproto_op *op = ctl_op_new(h, out, octx, "group.create", name);
		if (!op)
			return gerr(ENOMEM, "out of memory");
		if ((e = konce_node_group_create_async(n, name, create_done, op))) {
			op->out = NULL;
			ctl_op_answer(op, NULL);
			return e == -EINVAL ? gerr(EINVAL, "bad group name '%s': use 1-63 letters, digits, '-', '_', '.'", name)
					    : fail(e, "create", name);
		}
		*opp = op; /* answered once its row is written */
		return NULL;
	}
	if (!strcmp(cmd, "group.join")) {
		const char *token = json_string_value(json_object_get(req, "token"));
		const char *name = json_string_value(json_object_get(req, "name"));
		json_t *to = json_object_get(req, "timeout");
		json_int_t secs = to ? json_integer_value(to) : KONCE_GROUP_JOIN_TIMEOUT_DEFAULT;
		if (!token)
			return gerr(EINVAL, "group.join needs \"token\"");
		if ((to && !json_is_integer(to)) || secs < 1 || secs > KONCE_GROUP_JOIN_TIMEOUT_MAX)
			return gerr(EINVAL, "\"timeout\" is whole seconds, 1 to %d", KONCE_GROUP_JOIN_TIMEOUT_MAX);
		konce_ctlproto_op *op = ctl_op_new(h, out, octx, "group.join", name);
		if (!op)
			return gerr(ENOMEM, "out of memory");
		op->bytes = (size_t)secs; /* for the answer */
		if ((e = konce_node_group_join_async(n, token, name, (unsigned)secs, join_done, op))) {
			op->out = NULL;
			ctl_op_answer(op, NULL);
			return e == -EINVAL ? gerr(EINVAL, "not a valid invitation token (or a bad name)") : fail(e, "join", name);
		}
		*opp = op; /* answered once its row is written */
		return NULL;
	}
	if (!group)
		return gerr(EINVAL, "%s needs \"group\"", cmd);
	if (!strcmp(cmd, "group.invite")) {
		char token[KONCE_GROUP_TOKEN_MAX];
		json_int_t exp = json_integer_value(json_object_get(req, "expires"));
		const char *addr = json_string_value(json_object_get(req, "addr"));
		if (exp < 0)
			return gerr(EINVAL, "\"expires\" is unix seconds, 0 for never");
		if ((e = konce_node_group_invite(n, group, (uint64_t)exp, addr, token, sizeof token)))
			return fail(e, "invite", group);
		return json_pack("{s:b, s:s, s:I}", "ok", 1, "token", token, "expires", exp);
	}
	if (!strcmp(cmd, "group.invite_status")) { /* has the invitation of "token" committed here? */
		const char *token = json_string_value(json_object_get(req, "token"));
		if (!token)
			return gerr(EINVAL, "group.invite_status needs \"token\"");
		e = konce_node_group_invite_status(n, group, token);
		if (e == -ESTALE)
			return gerr(EINVAL, "invite %s: the invitation has been used or refused", group);
		if (e == -EINVAL)
			return gerr(EINVAL, "invite %s: not a token of this group", group);
		if (e < 0)
			return fail(e, "invite", group);
		return json_pack("{s:b, s:b}", "ok", 1, "committed", e == 1);
	}
	if (!strcmp(cmd, "group.propose")) {
		const char *text = json_string_value(json_object_get(req, "text"));
		const char *hex = json_string_value(json_object_get(req, "hex"));
		uint8_t buf[KONCE_GROUP_DECISION_MAX + 1];
		size_t len = 0;
		if (text) {
			len = strlen(text);
			if (len > KONCE_GROUP_DECISION_MAX)
				return fail(-EMSGSIZE, "propose", group);
			memcpy(buf, text, len);
		} else if (hex) {
			if (strlen(hex) > 2 * KONCE_GROUP_DECISION_MAX)
				return fail(-EMSGSIZE, "propose", group);
			if (sodium_hex2bin(buf, sizeof buf, hex, strlen(hex), NULL, &len, NULL))
				return gerr(EINVAL, "\"hex\" is not hex");
		} else {
			return gerr(EINVAL, "group.propose needs \"text\" or \"hex\"");
		}
		if (!len)
			return gerr(EINVAL, "a decision is 1 to %d bytes", KONCE_GROUP_DECISION_MAX);
		int64_t r = konce_node_group_propose(n, group, buf, len);
		if (r < 0)
			return fail((int)r, "propose", group);
		return json_pack("{s:b, s:I}", "ok", 1, "nonce", (json_int_t)r);
	}
	if (!strcmp(cmd, "group.log"))
		return log_start(h, group, req, out, octx, opp);
	if (!strcmp(cmd, "group.status"))
		return ctl_group_status(n, group);
	if (!strcmp(cmd, "group.members")) {
		konce_group_info g;
		if ((e = konce_node_group_info(n, group, &g)))
			return fail(e, "members", group);
		return json_pack("{s:b, s:o}", "ok", 1, "group", info_json(&g, true));
	}
	if (!strcmp(cmd, "group.leave")) {
		if ((e = konce_node_group_leave(n, group)))
			return fail(e, "leave", group);
		return json_pack("{s:b}", "ok", 1);
	}
	return gerr(EINVAL, "unknown command '%s'", cmd);
}
