/* ctl_status.c - the control answers "status", "peers" and "alias" (docs/CONTROL.md).  The node's
 * figures come from the core's report views (node/core/ncinfo.h), the plumbing's from the host.
 * What the presence store holds comes from the core's copy of it (node/core/ncknown.c): "status"
 * and "peers" read no SQLite; only "alias" writes it, on the store writer's thread, and answers
 * when the write is done (docs/STORE.md). */
#include <errno.h>
#include <string.h>

#include "node/core/ncinfo.h"
#include "node/core/trav_info.h"
#include "node/ctl/ctl_int.h"
#include "node/transport/keytext.h"

/* A peer's session traffic: totals since the session opened and the rates over the last second. */
static void add_traffic(const konce_nc_peer_info *r, json_t *o)
{
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)r->rx_bytes));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)r->tx_bytes));
	json_object_set_new(o, "rx_bytes_per_s", json_real(r->rx_rate));
	json_object_set_new(o, "tx_bytes_per_s", json_real(r->tx_rate));
}

/* The node's traffic: the sum of the peers' rates and the busiest peers (ncinfo.h). */
static json_t *traffic_json(const konce_ctlproto_host *h)
{
	konce_nc_traffic t;
	konce_nodecore_traffic(h->core, &t);
	json_t *arr = json_array();
	for (size_t i = 0; i < t.nbusiest; i++) {
		json_t *o = json_pack("{s:o}", "public_key", ctl_key_json(t.busiest[i].pk));
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

/* The sessions' path MTU searches (node/transport/pmtud.h, docs/CONTROL.md "status"). */
static void add_pmtu_counters(json_t *o, const struct konce_ep_counters *c)
{
	json_object_set_new(o, "pmtu_probes_tx", json_integer((json_int_t)c->pmtu_probes_tx));
	json_object_set_new(o, "pmtu_probes_lost", json_integer((json_int_t)c->pmtu_probes_lost));
	json_object_set_new(o, "pmtu_raised", json_integer((json_int_t)c->pmtu_raised));
	json_object_set_new(o, "pmtu_blackholes", json_integer((json_int_t)c->pmtu_blackholes));
	json_object_set_new(o, "pmtu_resets", json_integer((json_int_t)c->pmtu_resets));
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

json_t *ctl_status(const konce_ctlproto_host *h)
{
	char listen[KONCE_ADDR_STRLEN];
	konce_ctlproto_io io = {0};
	konce_nc_status nst;
	konce_nodecore_status(h->core, h->now_us(h->ctx), &nst);
	const struct konce_ep_counters *c = &nst.ep;
	const konce_nodecore_stats cs = nst.core;
	konce_node_listen_addr(h->node, listen, sizeof(listen));
	h->io_status(h->ctx, &io);
	/* the core's copy of the store's keys (docs/STORE.md): no SQLite on the loop */
	int64_t known = h->store ? (int64_t)konce_nodecore_known_count(h->core) : -1;
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
		(json_int_t)io.udp_tx_dropped, "input_shed", (json_int_t)cs.input_shed,
		"pow_bits", (json_int_t)nst.pow_bits);
	add_hostile_counters(counters, c);
	add_pmtu_counters(counters, c);
	json_t *st = json_pack("{s:b, s:o, s:s, s:s, s:I, s:I, s:o, s:{s:b, s:I}, s:o, s:o, s:o}", "ok", 1, "public_key",
			       ctl_key_json(h->pk), "listen", listen, "version", KONCE_VERSION_STRING, "uptime_s",
			       (json_int_t)io.uptime_s, "peers_active", (json_int_t)cs.peers, "peers_known",
			       known >= 0 ? json_integer(known) : json_null(), "store", "ok", io.store_ok, "pending",
			       (json_int_t)io.store_pending, "counters", counters, "traversal", ctl_trav_status(h),
			       "traffic", traffic_json(h));
	if (st)
		json_object_set_new(st, "memory", memory_json(&nst.memory));
	return st;
}

struct peers_ctx {
	const konce_ctlproto_host *h;
	json_t *arr;
};

static json_t *peer_json(const uint8_t pk[KONCE_KEY_BYTES], const char *petname, const konce_addr *addr,
			 const char *state, uint32_t rtt_us, int64_t last_seen, uint32_t hs, uint32_t fails)
{
	char as[KONCE_ADDR_STRLEN];
	return json_pack("{s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:I, s:I}", "public_key", ctl_key_json(pk), "petname",
			 petname && *petname ? json_string(petname) : json_null(), "address",
			 addr ? json_string(konce_addr_str(addr, as)) : json_null(), "path",
			 addr && strcmp(state, "known") ? json_string("direct") : json_null(), "state", state, "rtt_ms",
			 rtt_us ? json_real(rtt_us / 1000.0) : json_null(), "last_seen",
			 last_seen ? json_integer(last_seen) : json_null(), "handshakes", (json_int_t)hs, "failures",
			 (json_int_t)fails);
}

/* When the store says k was last seen (unix seconds, 0 = never): the wall time of the core's
 * last note that made it seen, else the time loaded from the store. */
static int64_t known_seen(const konce_ctlproto_host *h, const konce_nc_known_info *k)
{
	if (!k->seen_noted)
		return k->last_seen;
	uint64_t now = h->now_us(h->ctx);
	return h->wall_s(h->ctx) - (int64_t)((now > k->seen_us ? now - k->seen_us : 0) / 1000000u);
}

static int add_known(void *ctx, const konce_nc_known_info *k)
{
	struct peers_ctx *pc = ctx;
	if (konce_nodecore_peer_find(pc->h->core, k->pk))
		return 0; /* listed as active already */
	json_array_append_new(pc->arr, peer_json(k->pk, k->petname, k->has_addr ? &k->addr : NULL, "known",
						 k->rtt_us, known_seen(pc->h, k), k->handshakes, k->failures));
	return 0;
}

static int add_active(void *ctx, const konce_nc_peer_info *p)
{
	struct peers_ctx *pc = ctx;
	const konce_ctlproto_host *h = pc->h;
	/* the store's petname and counts, from the core's copy (docs/STORE.md): no SQLite on the loop */
	konce_nc_known_info r = {0};
	if (h->store)
		konce_nodecore_known_info(h->core, p->pk, &r);
	/* an active peer's last contact is known now; a connecting one was last seen at its last note */
	uint64_t ago_us = h->now_us(h->ctx) - p->last_contact_us;
	int64_t seen = p->up ? h->wall_s(h->ctx) - (int64_t)(ago_us / 1000000u) : known_seen(h, &r);
	json_t *pj = peer_json(p->pk, r.petname, &p->addr, p->up ? "up" : "connecting", p->rtt_us, seen,
			       r.handshakes, r.failures);
	json_object_set_new(pj, "path", json_string(konce_trav_path_name(h->trav, &p->peer->addr)));
	/* the key we show it: incoming sessions always run under the master key */
	json_object_set_new(pj, "identity", p->identity == KONCE_NC_ID_MASTER       ? json_string("master")
					    : p->identity == KONCE_NC_ID_PER_SERVER ? json_string("per-server")
										    : json_null());
	json_object_set_new(pj, "local_key", p->up ? ctl_key_json(p->local_pk) : json_null());
	add_traffic(p, pj);
	json_array_append_new(pc->arr, pj);
	return 0;
}

json_t *ctl_peers(const konce_ctlproto_host *h, json_t *req)
{
	json_int_t limit = json_integer_value(json_object_get(req, "limit"));
	struct peers_ctx pc = {h, json_array()};
	konce_nodecore_peers_each(h->core, add_active, &pc);
	/* the store's keys from the core's copy, most recently seen first (ncknown.c): no SQLite */
	if (h->store)
		konce_nodecore_known_each(h->core, limit > 0 ? (size_t)limit : 100, add_known, &pc);
	return json_pack("{s:b, s:o}", "ok", 1, "peers", pc.arr);
}

/* On the store writer's thread: the petname's write, on its connection. */
static int alias_write(konce_store *st, void *arg, char *msg, size_t msglen)
{
	konce_ctlproto_op *op = arg;
	return konce_store_set_petname(st, op->pk, op->name, msg, msglen);
}

/* In the loop, once written: the core's copy follows (even for a client gone), then the answer. */
static void alias_done(void *arg, int e, const char *msg)
{
	konce_ctlproto_op *op = arg;
	if (!e) /* the core's copy: a petname makes a key known and keeps it (docs/STORE.md) */
		konce_nodecore_known_name(op->core, op->pk, op->name);
	ctl_op_answer(op, !op->out ? NULL : e ? ctl_error(-e, "%s", msg) : json_pack("{s:b}", "ok", 1));
}

json_t *ctl_alias(const konce_ctlproto_host *h, json_t *req, konce_ctlproto_out_fn out, void *octx,
		  konce_ctlproto_op **opp)
{
	uint8_t pk[KONCE_KEY_BYTES];
	const char *key = json_string_value(json_object_get(req, "peer"));
	const char *name = json_string_value(json_object_get(req, "name"));
	if (!key || konce_key_from_text(pk, key))
		return ctl_error(EINVAL, "alias needs a public key (43 characters of base64url) as \"peer\"");
	if (!name)
		return ctl_error(EINVAL, "missing \"name\"");
	if (!h->store)
		return ctl_error(EIO, "no presence store: petnames cannot be kept (see the node's log)");
	konce_ctlproto_op *op = ctl_op_new(h, out, octx, "alias", name);
	if (!op)
		return ctl_error(ENOMEM, "out of memory");
	op->core = h->core;
	memcpy(op->pk, pk, sizeof pk);
	int e = konce_node_store_call(h->node, alias_write, alias_done, op);
	if (e) {
		op->out = NULL;
		ctl_op_answer(op, NULL);
		return ctl_error(-e, "cannot queue the petname's write: %s", strerror(-e));
	}
	*opp = op;
	return NULL;
}
