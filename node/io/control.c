/* control.c - the node's control socket: newline-delimited JSON over a Unix stream socket (docs/CONTROL.md).
 *
 * The socket is created mode 0600 so only the node's owner can drive it.  Each connection is served one
 * request at a time: reading pauses while a request waits for the network (connect, send, ping) and
 * resumes after its one response line, so responses come back in request order.  A client that goes
 * away while its request is pending is only marked closed; the outcome callback frees it.
 *
 * A send that asks for progress ("progress_ms") gets progress lines, {"progress": {...}} without "ok",
 * every progress_ms until its response line: how much the peer has acknowledged, the rate over the last
 * interval and the node's estimate of when the outcome is known.
 */
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "node/base/secmem.h"
#include "node/transport/keytext.h"
#include "node/core/ncinfo.h"
#include "node/io/node_int.h"
#include "node/io/node_storew.h"
#include "node/io/node_trav.h"

enum { LINE_MAX_BYTES = 64 * 1024, MAX_CLIENTS = 64 };

struct control {
	struct konce_node *node;
	struct evconnlistener *lst;
	char *path;
	unsigned nclients;
};

struct client {
	struct control *ctl;
	struct bufferevent *bev;
	int busy, closed;
};

struct op {
	struct client *cl;
	char cmd[16];
	uint8_t pk[KONCE_KEY_BYTES];
	uint64_t start_us;
	size_t bytes;
	char addr[KONCE_ADDR_STRLEN]; /* where the handshake went, for the error message */
	/* progress lines (send with "progress_ms") */
	uint64_t handle;
	struct event *tick;
	struct timeval every;
	uint64_t last_acked, last_us;
};

static void op_free(struct op *op)
{
	if (op->tick)
		event_free(op->tick);
	free(op);
}

static void client_free(struct client *cl)
{
	cl->ctl->nclients--;
	bufferevent_free(cl->bev);
	free(cl);
}

static void respond(struct client *cl, json_t *r)
{
	char *s = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	if (s) {
		evbuffer_add_printf(bufferevent_get_output(cl->bev), "%s\n", s);
		free(s);
	}
	cl->busy = 0;
	bufferevent_enable(cl->bev, EV_READ);
}

static json_t *error_json(int e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *error_json(int e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *name = e == EHOSTUNREACH ? "EHOSTUNREACH" : e == EINVAL ? "EINVAL" : e == ENOENT ? "ENOENT"
			 : e == ETIMEDOUT ? "ETIMEDOUT" : e == EMSGSIZE ? "EMSGSIZE" : e == EEXIST ? "EEXIST"
			 : e == ENOBUFS ? "ENOBUFS" : e == ECONNREFUSED ? "ECONNREFUSED" : e == EPROTO ? "EPROTO"
			 : e == ECONNRESET ? "ECONNRESET" : e == EACCES ? "EACCES" : "EIO";
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "errno", name);
}

static json_t *key_json(const uint8_t pk[KONCE_KEY_BYTES])
{
	char t[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(t, pk);
	return json_string(t);
}

/* "peer" is key text or a petname.  0, or an error response in *err. */
static int resolve_peer(struct konce_node *n, json_t *req, uint8_t pk[KONCE_KEY_BYTES], json_t **err)
{
	const char *s = json_string_value(json_object_get(req, "peer"));
	if (!s || !*s) {
		*err = error_json(EINVAL, "missing \"peer\": a public key or a petname");
		return -1;
	}
	if (konce_key_from_text(pk, s) == 0)
		return 0;
	if (n->store && konce_store_peer_by_petname(n->store, s, pk) == 0)
		return 0;
	*err = error_json(ENOENT, "'%s' is neither a public key (43 characters of base64url) nor a known petname", s);
	return -1;
}

static json_t *outcome_error(const struct op *op, int reason)
{
	int e = reason == KONCE_REASON_UNREACHABLE ? EHOSTUNREACH : reason == KONCE_REASON_TIMED_OUT ? ETIMEDOUT
	      : reason == KONCE_REASON_TOO_LARGE ? EMSGSIZE : reason == KONCE_REASON_REFUSED ? ECONNREFUSED
	      : reason == KONCE_REASON_PROTOCOL ? EPROTO : reason == KONCE_REASON_INTRO_REFUSED ? EACCES : ECONNRESET;
	/* A bare "unreachable" leaves a user behind a UDP-blocking NAT guessing: say where and how long. */
	if (reason == KONCE_REASON_UNREACHABLE)
		return error_json(e, "unreachable: no answer%s%s within %.1f s", op->addr[0] ? " from " : "", op->addr,
				  (double)(node_now_us() - op->start_us) / 1e6);
	return error_json(e, "%s", konce_reason_str(reason));
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct op *op = ctx;
	struct client *cl = op->cl;
	struct konce_node *n = cl->ctl->node;
	double rtt = (double)(node_now_us() - op->start_us) / 1000.0;
	(void)data;
	if (cl->closed) {
		client_free(cl);
		op_free(op);
		return;
	}
	json_t *r;
	if (outcome == KONCE_OUTCOME_FAILED) {
		r = outcome_error(op, reason);
	} else if (!strcmp(op->cmd, "send")) {
		const char *o = outcome == KONCE_OUTCOME_REPLIED ? "replied" : outcome == KONCE_OUTCOME_DELIVERED ? "delivered"
												: "unknown";
		r = json_pack("{s:b, s:s, s:o}", "ok", 1, "outcome", o,
			      "rtt_ms", outcome == KONCE_OUTCOME_UNKNOWN ? json_null() : json_real(rtt));
	} else if (!strcmp(op->cmd, "ping")) {
		r = json_pack("{s:b, s:f, s:I}", "ok", 1, "rtt_ms", rtt, "bytes", (json_int_t)len);
	} else { /* connect */
		struct peer *p = konce_nodecore_peer_find(n->core, op->pk);
		char as[KONCE_ADDR_STRLEN];
		r = json_pack("{s:b, s:o, s:s, s:f}", "ok", 1, "public_key", key_json(op->pk), "address",
			      p ? konce_addr_str(&p->addr, as) : "", "rtt_ms", rtt);
	}
	op_free(op);
	respond(cl, r);
}

static void on_progress_tick(evutil_socket_t fd, short what, void *arg)
{
	struct op *op = arg;
	struct konce_node *n = op->cl->ctl->node;
	konce_progress pr;
	(void)fd;
	(void)what;
	if (op->cl->closed)
		return; /* nobody to tell; the outcome frees the op */
	uint64_t now = node_now_us();
	int have = konce_node_outcome_progress(n, op->handle, &pr) == 0;
	if (!have) /* delivered (a reply may be due) or still in the handshake: what is known */
		pr = (konce_progress){.acked_bytes = op->last_acked, .total_bytes = op->bytes, .eta_ms = -1};
	double secs = (double)(now - op->last_us) / 1e6;
	double rate = secs > 0 && pr.acked_bytes >= op->last_acked ? (double)(pr.acked_bytes - op->last_acked) / secs : 0;
	json_t *p = json_pack("{s:{s:I, s:I, s:f, s:o, s:I}}", "progress", "acked_bytes", (json_int_t)pr.acked_bytes,
			      "total_bytes", (json_int_t)pr.total_bytes, "rate_bytes_per_s", rate, "eta_ms",
			      pr.eta_ms >= 0 ? json_integer(pr.eta_ms) : json_null(), "elapsed_ms",
			      (json_int_t)((now - op->start_us) / 1000));
	char *s = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (s) {
		evbuffer_add_printf(bufferevent_get_output(op->cl->bev), "%s\n", s);
		free(s);
	}
	op->last_acked = pr.acked_bytes;
	op->last_us = now;
	evtimer_add(op->tick, &op->every);
}

/* connect, send, ping: one request through konce_node_send. */
/* Reads a whole regular file of at most KONCE_MESSAGE_MAX bytes.  0, or an error response in *err. */
static int read_file(const char *path, uint8_t **out, size_t *len, json_t **err)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		*err = error_json(errno == ENOENT ? ENOENT : EIO, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > KONCE_MESSAGE_MAX) {
		*err = error_json(S_ISREG(sb.st_mode) ? EMSGSIZE : EINVAL, "%s: %s", path,
				  S_ISREG(sb.st_mode) ? "larger than a message may be (16 MiB)" : "not a regular file");
		close(fd);
		return -1;
	}
	size_t n = (size_t)sb.st_size, got = 0;
	uint8_t *buf = malloc(n ? n : 1);
	while (buf && got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || got != n) {
		free(buf);
		*err = error_json(EIO, "%s: short read", path);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* "group" (the key text of the peer's limited-circulation group) and "identity" ("master" or
 * "per-server"): settings of the node's dials to pk from this request on (docs/CONTROL.md).  NULL,
 * or an error response. */
static json_t *peer_settings(struct konce_node *n, json_t *req, const uint8_t pk[KONCE_KEY_BYTES])
{
	json_t *g = json_object_get(req, "group"), *id = json_object_get(req, "identity");
	const char *ids = json_string_value(id);
	int mode = !ids ? KONCE_NC_ID_UNSET : !strcmp(ids, "master") ? KONCE_NC_ID_MASTER
					 : !strcmp(ids, "per-server") ? KONCE_NC_ID_PER_SERVER : -1;
	if (id && mode <= KONCE_NC_ID_UNSET)
		return error_json(EINVAL, "\"identity\" is \"master\" or \"per-server\"");
	if (g) {
		const char *t = json_string_value(g);
		uint8_t *key = konce_secmem_alloc(KONCE_KEY_BYTES, NULL);
		if (!key)
			return error_json(ENOMEM, "cannot lock memory for the group key");
		int e = !t || konce_key_decode_(key, t, strlen(t)) ? -EINVAL : konce_nodecore_peer_group(n->core, pk, key);
		konce_secmem_free(key, KONCE_KEY_BYTES);
		if (e == -EINVAL)
			return error_json(EINVAL, "\"group\" is not a key's text (43 characters of base64url)");
		if (e)
			return error_json(-e, "cannot keep the peer's group key: %s", strerror(-e));
	}
	if (mode > KONCE_NC_ID_UNSET) {
		int e = konce_nodecore_peer_identity(n->core, pk, mode);
		if (e)
			return error_json(-e, "cannot keep the peer's identity setting: %s", strerror(-e));
	}
	return NULL;
}

/* connect, send, ping: one request through konce_node_send. */
static json_t *start_op(struct client *cl, json_t *req, const char *cmd)
{
	struct konce_node *n = cl->ctl->node;
	json_t *err = NULL;
	uint8_t *body = NULL;
	const uint8_t *data = NULL;
	size_t len = 0;
	uint16_t klass = KONCE_CLASS_ECHO;
	struct op *op = calloc(1, sizeof(*op));
	if (!op)
		return error_json(ENOMEM, "out of memory");
	if (resolve_peer(n, req, op->pk, &err))
		goto fail;
	if (!memcmp(op->pk, n->pk, KONCE_KEY_BYTES)) {
		err = error_json(EINVAL, "that is this node's own key");
		goto fail;
	}
	konce_send_opts o = {.expect_reply = 1, .keep_session = !strcmp(cmd, "connect")};
	json_int_t progress_ms = json_integer_value(json_object_get(req, "progress_ms"));
	json_t *bg = json_object_get(req, "background");
	if (progress_ms && (progress_ms < 100 || progress_ms > 60000 || strcmp(cmd, "send"))) {
		err = error_json(EINVAL, "\"progress_ms\" is for send, from 100 to 60000");
		goto fail;
	}
	if (bg && !json_is_boolean(bg)) {
		err = error_json(EINVAL, "\"background\" is true or false");
		goto fail;
	}
	if ((err = peer_settings(n, req, op->pk)))
		goto fail;
	o.addr_hint = json_string_value(json_object_get(req, "addr"));
	json_int_t t = json_integer_value(json_object_get(req, "timeout_ms"));
	if (t > 0 && t < 3600000)
		o.reply_lifetime_ms = o.connect_timeout_ms = (uint32_t)t;
	if (!strcmp(cmd, "send")) {
		const char *text = json_string_value(json_object_get(req, "text"));
		const char *file = json_string_value(json_object_get(req, "file"));
		klass = KONCE_CLASS_TEXT;
		if (file) {
			if (read_file(file, &body, &len, &err))
				goto fail;
			data = body;
			/* big files take the background class if the node says so and the request does not */
			o.background = n->cfg.file_background_bytes && len >= n->cfg.file_background_bytes;
		} else if (text) {
			data = (const uint8_t *)text;
			len = strlen(text);
		} else {
			err = error_json(EINVAL, "missing \"text\" or \"file\"");
			goto fail;
		}
	} else if (!strcmp(cmd, "ping")) {
		json_int_t size = json_integer_value(json_object_get(req, "size"));
		if (size < 0 || size > KONCE_ECHO_MAX) {
			err = error_json(EMSGSIZE, "ping size must be 0..%d bytes", KONCE_ECHO_MAX);
			goto fail;
		}
		len = (size_t)size;
		if (len && !(body = malloc(len))) {
			err = error_json(ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < len; i++)
			body[i] = (uint8_t)i;
		data = body;
	}
	if (bg)
		o.background = json_is_true(bg);
	snprintf(op->cmd, sizeof(op->cmd), "%s", cmd);
	op->cl = cl;
	op->start_us = op->last_us = node_now_us();
	op->bytes = len;
	if (progress_ms && !(op->tick = evtimer_new(n->base, on_progress_tick, op))) {
		err = error_json(ENOMEM, "out of memory");
		goto fail;
	}
	int e = konce_node_send(n, op->pk, klass, data, len, &o, on_outcome, op, &op->handle);
	free(body); /* copied by the node */
	body = NULL;
	if (e) {
		if (e == -EHOSTUNREACH)
			err = error_json(EHOSTUNREACH, "no address known for that peer: give one (KEY@HOST:PORT or --addr)");
		else if (e == -EINVAL && o.addr_hint)
			err = error_json(EINVAL, "bad address '%s': use a numeric IP:PORT or [IPv6]:PORT", o.addr_hint);
		else
			err = error_json(-e, "%s", strerror(-e));
		goto fail;
	}
	struct peer *p = konce_nodecore_peer_find(n->core, op->pk);
	if (p && p->addr.port)
		konce_addr_str(&p->addr, op->addr);
	if (op->tick) {
		op->every = (struct timeval){progress_ms / 1000, progress_ms % 1000 * 1000};
		evtimer_add(op->tick, &op->every);
	}
	cl->busy = 1;
	bufferevent_disable(cl->bev, EV_READ); /* one request at a time */
	return NULL;
fail:
	free(body);
	op_free(op);
	return err;
}

/* A peer's session traffic: totals since the session opened and the rates over the last second. */
static void add_traffic(const konce_nc_peer_info *r, json_t *o)
{
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)r->rx_bytes));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)r->tx_bytes));
	json_object_set_new(o, "rx_bytes_per_s", json_real(r->rx_rate));
	json_object_set_new(o, "tx_bytes_per_s", json_real(r->tx_rate));
}

/* The node's traffic: the sum of the peers' rates and the busiest peers (ncinfo.h). */
static json_t *traffic_json(struct konce_node *n)
{
	konce_nc_traffic t;
	konce_nodecore_traffic(n->core, &t);
	json_t *arr = json_array();
	for (size_t i = 0; i < t.nbusiest; i++) {
		json_t *o = json_pack("{s:o}", "public_key", key_json(t.busiest[i].pk));
		add_traffic(&t.busiest[i], o);
		json_array_append_new(arr, o);
	}
	return json_pack("{s:f, s:f, s:o}", "rx_bytes_per_s", t.rx_rate, "tx_bytes_per_s", t.tx_rate, "busiest", arr);
}

/* What an operator watches to see a hostile peer at work, and the endpoint's rules holding
 * (docs/CONTROL.md, "status"). */
static void add_hostile_counters(json_t *o, const struct konce_ep_counters *c)
{
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		{"init_full", c->init_full},
		{"init_source_full", c->init_source_full},
		{"init_bad_pow", c->init_bad_pow},
		{"init_dup_dropped", c->init_dup_dropped},
		{"cookie_pow_too_high", c->cookie_pow_too_high},
		{"sessions_evicted", c->sessions_evicted},
		{"sessions_replaced", c->sessions_replaced},
		{"msg_events_held", c->msg_events_held},
		{"ring_full_events", c->ring_full_events},
		{"ring_full_datagrams", c->ring_full_datagrams},
		{"path_old_challenge_tx", c->path_old_challenge_tx},
		{"path_refused", c->path_refused},
		{"path_reverted", c->path_reverted},
		{"path_confirmed", c->path_confirmed},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		json_object_set_new(o, f[i].name, json_integer((json_int_t)f[i].v));
}

/* The message memory every session shares: reassembly and send queues, used of budget. */
static json_t *memory_json(const konce_ep_memory *m)
{
	return json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "reassembly", "used",
			 (json_int_t)m->reasm_used, "budget", (json_int_t)m->reasm_budget, "sessions",
			 (json_int_t)m->reasm_holders, "sources", (json_int_t)m->reasm_sources,
			 "send_queues", "used", (json_int_t)m->send_used, "budget", (json_int_t)m->send_budget,
			 "sessions", (json_int_t)m->send_holders);
}

static json_t *do_status(struct konce_node *n)
{
	char listen[KONCE_ADDR_STRLEN];
	konce_store_stats ss = {0};
	konce_udp_stats us;
	konce_nc_status nst;
	konce_nodecore_status(n->core, node_now_us(), &nst);
	const struct konce_ep_counters *c = &nst.ep;
	const konce_nodecore_stats cs = nst.core;
	konce_node_listen_addr(n, listen, sizeof(listen));
	if (n->storew) {
		node_storew_status sws;
		node_storew_get_status(n->storew, &sws); /* the writes' queue is the worker's */
		ss = sws.stats;
	}
	konce_udp_get_stats(n->udp, &us);
	int64_t known = n->store ? konce_store_peer_count(n->store) : -1;
	json_t *counters = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"rx_packets", (json_int_t)c->rx_packets, "tx_packets", (json_int_t)c->tx_packets,
		"hello_rx", (json_int_t)c->hello_rx, "initiate_rx", (json_int_t)c->init_rx,
		"accept_tx", (json_int_t)c->accept_tx, "handshakes_failed", (json_int_t)c->hs_failed,
		"data_rx", (json_int_t)c->data_rx, "data_auth_fail", (json_int_t)c->data_auth_fail,
		"data_replay", (json_int_t)c->data_replay, "sessions_live", (json_int_t)c->sessions_live,
		"sessions_opened", (json_int_t)c->sessions_opened, "path_challenge_tx", (json_int_t)c->path_challenge_tx,
		"path_changed", (json_int_t)c->path_changed, "path_response_bad", (json_int_t)c->path_response_bad,
		"amplification_blocked", (json_int_t)c->amplification_blocked,
		"messages_rx", (json_int_t)cs.msgs_rx, "messages_tx", (json_int_t)cs.msgs_tx,
		"messages_dropped", (json_int_t)cs.msgs_dropped, "udp_tx_dropped",
		(json_int_t)us.tx_dropped, "input_shed", (json_int_t)cs.input_shed,
		"pow_bits", (json_int_t)nst.pow_bits);
	add_hostile_counters(counters, c);
	json_t *st = json_pack("{s:b, s:o, s:s, s:s, s:I, s:I, s:o, s:{s:b, s:I}, s:o, s:o, s:o}", "ok", 1, "public_key", key_json(n->pk),
			 "listen", listen, "version", KONCE_VERSION_STRING, "uptime_s",
			 (json_int_t)((node_now_us() - n->started_us) / 1000000u), "peers_active", (json_int_t)cs.peers,
			 "peers_known", known >= 0 ? json_integer(known) : json_null(), "store", "ok",
			 n->store && !n->store_failing, "pending", (json_int_t)ss.pending, "counters", counters, "traversal",
			 node_trav_status_json(n), "traffic", traffic_json(n));
	if (st)
		json_object_set_new(st, "memory", memory_json(&nst.memory));
	return st;
}

struct peers_ctx {
	struct konce_node *n;
	json_t *arr;
};

static json_t *peer_json(const uint8_t pk[KONCE_KEY_BYTES], const char *petname, const konce_addr *addr,
			 const char *state, uint32_t rtt_us, int64_t last_seen, uint32_t hs, uint32_t fails)
{
	char as[KONCE_ADDR_STRLEN];
	return json_pack("{s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:I, s:I}", "public_key", key_json(pk), "petname",
			 petname && *petname ? json_string(petname) : json_null(), "address",
			 addr ? json_string(konce_addr_str(addr, as)) : json_null(), "path",
			 addr && strcmp(state, "known") ? json_string("direct") : json_null(), "state", state, "rtt_ms",
			 rtt_us ? json_real(rtt_us / 1000.0) : json_null(), "last_seen",
			 last_seen ? json_integer(last_seen) : json_null(), "handshakes", (json_int_t)hs, "failures",
			 (json_int_t)fails);
}

static int add_stored(void *ctx, const konce_peer_rec *r)
{
	struct peers_ctx *pc = ctx;
	if (konce_nodecore_peer_find(pc->n->core, r->pk))
		return 0; /* listed as active already */
	konce_store_addr a;
	int have = konce_store_addrs(pc->n->store, r->pk, &a, 1) == 1;
	json_array_append_new(pc->arr, peer_json(r->pk, r->petname, have ? &a.addr : NULL, "known", r->rtt_us,
						 r->last_seen, r->handshakes, r->failures));
	return 0;
}

static int add_active(void *ctx, const konce_nc_peer_info *p)
{
	struct peers_ctx *pc = ctx;
	struct konce_node *n = pc->n;
	konce_peer_rec r = {0};
	if (n->store)
		konce_store_peer_get(n->store, p->pk, &r);
	/* the store is written once a second; an active peer's last contact is known now */
	uint64_t ago_us = node_now_us() - p->last_contact_us;
	int64_t seen = p->up ? (int64_t)time(NULL) - (int64_t)(ago_us / 1000000u) : r.last_seen;
	json_t *pj = peer_json(p->pk, r.petname, &p->addr, p->up ? "up" : "connecting", p->rtt_us, seen,
			       r.handshakes, r.failures);
	json_object_set_new(pj, "path", json_string(node_trav_path_name(n, p->peer)));
	/* the key we show it: incoming sessions always run under the master key */
	json_object_set_new(pj, "identity", p->identity == KONCE_NC_ID_MASTER       ? json_string("master")
					    : p->identity == KONCE_NC_ID_PER_SERVER ? json_string("per-server")
										    : json_null());
	json_object_set_new(pj, "local_key", p->up ? key_json(p->local_pk) : json_null());
	add_traffic(p, pj);
	json_array_append_new(pc->arr, pj);
	return 0;
}

static json_t *do_peers(struct konce_node *n, json_t *req)
{
	json_int_t limit = json_integer_value(json_object_get(req, "limit"));
	struct peers_ctx pc = {n, json_array()};
	konce_nodecore_peers_each(n->core, add_active, &pc);
	if (n->store)
		konce_store_peers_each(n->store, limit > 0 ? (size_t)limit : 100, add_stored, &pc);
	return json_pack("{s:b, s:o}", "ok", 1, "peers", pc.arr);
}

static json_t *do_alias(struct konce_node *n, json_t *req)
{
	uint8_t pk[KONCE_KEY_BYTES];
	char err[512];
	const char *key = json_string_value(json_object_get(req, "peer"));
	const char *name = json_string_value(json_object_get(req, "name"));
	if (!key || konce_key_from_text(pk, key))
		return error_json(EINVAL, "alias needs a public key (43 characters of base64url) as \"peer\"");
	if (!name)
		return error_json(EINVAL, "missing \"name\"");
	if (!n->store)
		return error_json(EIO, "no presence store: petnames cannot be kept (see the node's log)");
	int e = konce_store_set_petname(n->store, pk, name, err, sizeof(err));
	if (!e && *name) /* a petname makes a key known, and keeps it (docs/STORE.md) */
		konce_nodecore_known_load(n->core, pk, NULL, true);
	return e ? error_json(-e, "%s", err) : json_pack("{s:b}", "ok", 1);
}

static void handle_line(struct client *cl, const char *line)
{
	struct konce_node *n = cl->ctl->node;
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *r = NULL;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	if (!req || !json_is_object(req))
		r = error_json(EINVAL, "request is not a JSON object: %s", req ? "wrong type" : jerr.text);
	else if (!cmd)
		r = error_json(EINVAL, "request has no \"cmd\"");
	else if (!strcmp(cmd, "status"))
		r = do_status(n);
	else if (!strcmp(cmd, "peers"))
		r = do_peers(n, req);
	else if (!strcmp(cmd, "alias"))
		r = do_alias(n, req);
	else if (!strcmp(cmd, "path") || !strcmp(cmd, "netcheck"))
		r = node_trav_control(n, cmd, req);
	else if (!strcmp(cmd, "connect") || !strcmp(cmd, "send") || !strcmp(cmd, "ping"))
		r = start_op(cl, req, cmd);
	else if (!strncmp(cmd, "group.", 6))
		r = node_group_control(n, cmd, req); /* group_ctl.c */
	else
		r = error_json(EINVAL, "unknown command '%s'", cmd);
	json_decref(req);
	if (r)
		respond(cl, r);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!cl->busy) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) > LINE_MAX_BYTES) {
				respond(cl, error_json(EMSGSIZE, "request longer than %d bytes", LINE_MAX_BYTES));
				evbuffer_drain(in, evbuffer_get_length(in));
			}
			return;
		}
		if (len)
			handle_line(cl, line);
		free(line);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *cl = arg;
	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (cl->busy)
		cl->closed = 1; /* the pending outcome frees it */
	else
		client_free(cl);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	(void)l;
	(void)sa;
	(void)salen;
	if (ctl->nclients >= MAX_CLIENTS) {
		close(fd);
		return;
	}
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->bev = bufferevent_socket_new(ctl->node->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(cl);
		close(fd);
		return;
	}
	cl->ctl = ctl;
	ctl->nclients++;
	bufferevent_setcb(cl->bev, on_read, NULL, on_event, cl);
	bufferevent_enable(cl->bev, EV_READ);
}

int node_control_start(struct konce_node *n, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct control *ctl;
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long (max %zu bytes): %s", sizeof(sun.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return snprintf(err, errlen, "control socket: %s", strerror(errno)), -errno;
	/* A socket file left by a node that died is replaced; a live node's is not. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		snprintf(err, errlen, "another node is already running with control socket %s", path);
		return -EADDRINUSE;
	}
	unlink(path);
	mode_t old = umask(0177);
	e = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (!e && chmod(path, 0600) < 0)
		e = -errno;
	if (e) {
		close(fd);
		snprintf(err, errlen, "cannot create control socket %s: %s", path, strerror(-e));
		return e;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (ctl)
		ctl->path = strdup(path);
	if (!ctl || !ctl->path ||
	    !(ctl->lst = evconnlistener_new(n->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd))) {
		if (ctl)
			free(ctl->path);
		free(ctl);
		close(fd);
		unlink(path);
		snprintf(err, errlen, "cannot listen on control socket %s", path);
		return -ENOMEM;
	}
	ctl->node = n;
	n->control = ctl;
	return 0;
}

void node_control_stop(struct konce_node *n)
{
	struct control *ctl = n->control;
	if (!ctl)
		return;
	evconnlistener_free(ctl->lst);
	unlink(ctl->path);
	free(ctl->path);
	free(ctl);
	n->control = NULL;
}
