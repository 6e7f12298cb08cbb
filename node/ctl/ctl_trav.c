/* ctl_trav.c - the control answers of traversal: konce path (the last attempt's trace),
 * konce netcheck (what the registrations and the filtering test revealed) and the traversal part
 * of konce status.  It reads the core only through its info structs (node/core/trav_info.h), the
 * traversal host's own state through the control host (ctlproto.h), and changes nothing. */
#include <errno.h>
#include <string.h>

#include "nat/rendezvous.h"
#include "node/core/trav_info.h"
#include "node/core/trav_life.h"
#include "node/ctl/ctl_int.h"
#include "node/transport/keytext.h"

static const char *cand_name(uint8_t type)
{
	switch (type) {
	case KONCE_CAND_HOST: return "host";
	case KONCE_CAND_REFLEXIVE: return "reflexive";
	case KONCE_CAND_MAPPED: return "mapped";
	case KONCE_CAND_PREDICTED: return "predicted";
	case KONCE_CAND_PEER_REFLEXIVE: return "peer-reflexive";
	}
	return "unknown";
}

static const char *natmap_name(uint8_t m)
{
	switch (m) {
	case KONCE_NATMAP_EIM: return "endpoint-independent";
	case KONCE_NATMAP_EDM_SEQ: return "endpoint-dependent, sequential";
	case KONCE_NATMAP_EDM_RANDOM: return "endpoint-dependent, random";
	}
	return "unknown (fewer than two rendezvous answered)";
}

static json_t *ms_since(uint64_t t0, uint64_t t)
{
	return t0 && t >= t0 ? json_real((double)(t - t0) / 1000.0) : json_null();
}

static json_t *addr_json(const konce_addr *a)
{
	char as[KONCE_ADDR_STRLEN];
	return json_string(konce_addr_str(a, as));
}

static json_t *path_json(const konce_ctlproto_host *h, const uint8_t pk[KONCE_KEY_BYTES])
{
	konce_trav_path_info pi, *p = &pi;
	konce_ctlproto_travio tio = {0};
	if (konce_trav_path_info_get(h->trav, pk, h->now_us(h->ctx), p))
		return json_pack("{s:b,s:i,s:s}", "ok", 0, "errno", ENOENT, "error",
				 "no traversal attempt for this peer (it was reached at a known address, or never)");
	const struct konce_punch_counters *c = &p->punch;
	h->trav_status(h->ctx, &tio);
	/* times from our request, or from the introduction when the peer asked */
	uint64_t base = p->asked_us ? p->asked_us : p->intro_us;
	json_t *cands = json_array();
	for (unsigned i = 0; i < p->ncand; i++)
		json_array_append_new(cands, json_pack("{s:s,s:o}", "type", cand_name(p->cand[i].type), "address",
						       addr_json(&p->cand[i].addr)));
	const char *why = NULL;
	if (p->intro_fail)
		why = p->intro_fail == KONCE_IFAIL_UNKNOWN ? "the rendezvous does not know the peer (not registered)"
		      : p->intro_fail == KONCE_IFAIL_REFUSED ? "the rendezvous refused to introduce us"
							     : "the rendezvous relay table is full";
	else if (p->state == KONCE_PUNCH_PATH_PROBING && c->relay_first && !c->giveups)
		why = "the two NATs (in the introduction) make a direct path impossible or a birthday gamble: "
		      "relayed from the start while the attempt probes";
	else if (p->result == KONCE_PUNCH_EV_RELAY && p->hairpin == KONCE_NAT_NO)
		why = "both sides are behind one public address, and no probe through it came back: its NAT "
		      "does not hairpin (or the NATs behind it filter)";
	else if (p->result == KONCE_PUNCH_EV_RELAY && c->lost)
		why = "a direct path stopped answering keepalive probes, and no attempt since found another";
	else if (p->result == KONCE_PUNCH_EV_RELAY && !c->probes_rx)
		why = "no probe from the peer arrived within 4 s of the start time: its NAT filtered every "
		      "candidate we opened (both sides map endpoint-dependently, or birthday probing was "
		      "needed and its two sets of 256 ports did not meet: ~36% per attempt)";
	else if (p->result == KONCE_PUNCH_EV_RELAY)
		why = "probes from the peer arrived but none of ours was answered within 4 s";
	else if (p->result == KONCE_PUNCH_EV_LOST)
		why = "the direct path stopped answering keepalives";
	json_t *o = json_pack(
		"{s:b,s:o,s:s,s:b,s:b,s:I,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I}}",
		"ok", 1, "peer", json_string(""), "state", konce_punch_path_state_name(p->state), "initiator",
		p->initiator, "controlling", p->controlling, "intro_id", (json_int_t)p->intro_id,
		"intro_ms", ms_since(base, p->intro_us), "delay_ms",
		p->intro_us ? json_real(p->delay_us / 1000.0) : json_null(), "first_probe_ms",
		ms_since(base, p->first_probe_us), "result_ms", ms_since(base, p->result_us), "peer_nat",
		natmap_name(p->peer_nat.mapping), "candidates", cands, "path",
		p->state == KONCE_PUNCH_PATH_DIRECT ? addr_json(&p->path) : json_null(), "probes", "attempts",
		(json_int_t)c->attempts, "sent", (json_int_t)c->probes, "answered", (json_int_t)c->acks_rx, "received",
		(json_int_t)c->probes_rx, "acks_sent", (json_int_t)c->acks_sent, "verified", (json_int_t)c->verified,
		"giveups", (json_int_t)c->giveups, "lost", (json_int_t)c->lost, "birthday_not_sent", (json_int_t)tio.bday_dropped, "datagrams",
		"direct_tx", (json_int_t)p->direct_tx, "direct_rx", (json_int_t)p->direct_rx, "relayed_tx", (json_int_t)p->relayed_tx, "relayed_rx",
		(json_int_t)p->relayed_rx, "held_dropped", (json_int_t)p->held_dropped);
	char who[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(who, pk);
	json_object_set_new(o, "peer", json_string(who));
	json_object_set_new(o, "why_relayed", why ? json_string(why) : json_null());
	/* what our side's port prediction used at the last INTRO: our NAT's step (refined by the
	 * filtering test's fresh mapping) and the mappings it made since the registrations */
	json_object_set_new(o, "self_nat",
			    p->intro_us ? json_pack("{s:s,s:I,s:I}", "mapping", natmap_name(p->self_nat.mapping), "step",
						    (json_int_t)p->self_nat.step, "spent", (json_int_t)p->self_spent)
					: json_null());
	json_object_set_new(o, "hairpin", p->shared_public ? json_string(konce_nat_tri_name(p->hairpin)) : json_null());
	/* the handshake as the probe (node/core/trav_hs.c): HELLO copies sent and received, handshake
	 * answers that verified a pair, answers sent to where the peer's handshake came from */
	json_object_set_new(o, "handshake",
			    json_pack("{s:I,s:I,s:I,s:I}", "hello_copies", (json_int_t)p->hs_probes, "hello_copies_rx",
				      (json_int_t)p->hs_probes_rx, "acks", (json_int_t)p->hs_acks, "replies",
				      (json_int_t)p->hs_replies));
	/* authenticated liveness of the direct path (punch.h): session PINGs sent as keepalives or
	 * move confirmations (and failed), authenticated datagrams heard over it, PUNCH acks from it
	 * that no longer count, moves made with a session that were confirmed or undone */
	json_object_set_new(o, "liveness",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "session_probes", (json_int_t)p->session_probes,
				      "session_probe_fail", (json_int_t)p->session_probe_fail, "heard",
				      (json_int_t)p->auth_heard, "punch_acks_ignored", (json_int_t)c->acks_ignored,
				      "moves_confirmed", (json_int_t)c->confirmed, "moves_undone",
				      (json_int_t)c->unconfirmed));
	/* traversal safety: probes refused for their MAC, moves held after unconfirmed ones, probes withheld
	 * from claimed candidates (the budget) */
	json_object_set_new(o, "security",
			    json_pack("{s:I,s:I,s:I,s:b}", "forged", (json_int_t)c->forged, "moves_held",
				      (json_int_t)c->moves_held, "claimed_withheld", (json_int_t)c->claimed_withheld,
				      "solicited", p->solicited));
	/* 0: the node socket; 1..256: a birthday socket, which then carries the session */
	json_object_set_new(o, "path_socket", p->have_path_sock ? json_integer(p->path_sock) : json_null());
	json_object_set_new(o, "birthday_sockets",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "opened", (json_int_t)tio.socks_opened, "open_now",
				      (json_int_t)tio.socks_open_now, "open_max", (json_int_t)tio.socks_open_max,
				      "open_failed", (json_int_t)tio.socks_open_failed, "tx", (json_int_t)tio.socks_tx,
				      "rx", (json_int_t)tio.socks_rx));
	return o;
}

/* The port allocation pattern the registrations show: the step between two rendezvous' mappings
 * for an endpoint-dependent NAT; for an endpoint-independent one, whether the port was kept. */
static const char *allocation_name(const konce_ctlproto_travio *tio, const konce_trav_info *in)
{
	switch (in->nat.mapping) {
	case KONCE_NATMAP_EDM_SEQ: return "sequential";
	case KONCE_NATMAP_EDM_RANDOM: return "random";
	case KONCE_NATMAP_EIM:
		if (in->nrdv && in->rdv[0].have_refl && tio->have_local)
			return in->rdv[0].refl.port == tio->local.port ? "port-preserving" : "not port-preserving (one mapping seen)";
		break;
	}
	return "unknown";
}

static json_t *filtering_json(const konce_trav_info *in)
{
	if (!in->client)
		return json_pack("{s:s}", "result", "not measured");
	if (!in->filter_running)
		return json_pack("{s:s}", "result", in->filter_started ? "not measured" : "waiting for registration");
	return json_pack("{s:s,s:o,s:{s:b,s:b,s:b,s:b}}", "result",
			 in->filter_done ? konce_nat_filtering_name(in->filter_result) : "measuring", "mapping",
			 in->filter_have_mapping ? addr_json(&in->filter_mapping) : json_null(), "probes",
			 "other_ip_received", in->other_ip_rx, "other_port_received", in->other_port_rx,
			 "other_ip_sent", in->other_ip_sent, "other_port_sent", in->other_port_sent);
}

static json_t *filter_service_json(const konce_trav_info *in)
{
	if (!in->service)
		return json_null();
	return json_pack("{s:I,s:I,s:I,s:o}", "filter_echoes", (json_int_t)in->filter_echoes, "filter_probes",
			 (json_int_t)in->filter_probes, "filter_refused", (json_int_t)in->filter_refused,
			 "filter_alt_port", in->alt_open ? addr_json(&in->alt_local) : json_null());
}

/* The rendezvous service's table and counters, or null without the service. */
static json_t *rdvsrv_json(const konce_ctlproto_host *h, uint64_t now)
{
	konce_trav_service_info si;
	if (konce_trav_service_info_get(h->trav, now, &si))
		return json_null();
	const struct konce_rendezvous_counters *c = &si.rdv;
	const struct konce_relay_counters *rc = &si.relay;
	json_t *o = json_object();
#define SET(name, v) json_object_set_new(o, name, json_integer((json_int_t)(v)))
	SET("registrations", si.registrations);
	SET("registration_capacity", si.capacity);
	SET("registered", c->registered);
	SET("refreshed", c->refreshed);
	SET("table_full", c->table_full);
	SET("rx", c->rx);
	SET("bad", c->bad);
	SET("rate_limited", c->rate_limited);
	SET("rate_limited_requests", c->rate_limited_requests);
	SET("not_registered", c->not_registered);
	SET("intro_requests", c->intro_requests);
	SET("intros", c->intros);
	SET("intro_unknown", c->intro_unknown);
	SET("intro_refused", c->intro_refused);
	SET("intro_declined", c->intro_declined);
	SET("relayed", c->relayed);
	SET("relay_refused", c->relay_refused);
	SET("relay_pairs", si.relay_pairs);
	SET("relay_full", rc->full);
	SET("relay_bytes", rc->bytes);
	SET("relay_key_full", rc->key_full);
	SET("relay_over_global", rc->over_global);
	SET("source_full", c->source_full);
	SET("offers", c->offers);
	SET("offers_full", c->offers_full);
	SET("offers_key_full", c->offers_key_full);
	SET("offers_source_full", c->offers_source_full);
	SET("answers_unmatched", c->answers_unmatched);
	SET("rtt_samples", c->rtt_samples);
	SET("rtt_refused", c->rtt_refused);
	SET("claimed_dropped", c->claimed_dropped);
	SET("out_dropped", c->out_dropped);
	SET("forged", si.forged);
	SET("no_session", si.no_session);
#undef SET
	return o;
}

/* The mapping lifetime's search (node/core/trav_life.h), or {"state": "off"}. */
static json_t *lifetime_json(const konce_travlife *l)
{
	const double sec = 1e6;
	konce_lifetime_status st;
	konce_addr probe;
	char as[KONCE_ADDR_STRLEN];
	if (!l || !konce_travlife_status(l, &st, &probe))
		return json_pack("{s:s}", "state", "off");
	const char *state = st.learned ? "learned" : st.state == KONCE_LIFE_NO_ANSWER ? "no-answer" : "learning";
	return json_pack("{s:s,s:s,s:b,s:o,s:o,s:f,s:f,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "state", state, "phase",
			 konce_lifetime_state_name(st.state), "below_min", st.below_min, "lower_bound_s",
			 st.lo_us ? json_real((double)st.lo_us / sec) : json_null(), "upper_bound_s",
			 st.hi_us ? json_real((double)st.hi_us / sec) : json_null(), "keepalive_s",
			 (double)st.keepalive_us / sec, "testing_s", (double)st.testing_us / sec, "probe_socket",
			 konce_addr_str(&probe, as), "experiments", (json_int_t)st.experiments, "successes",
			 (json_int_t)st.successes, "failures", (json_int_t)st.failures, "retries",
			 (json_int_t)st.retries, "no_acks", (json_int_t)st.no_acks, "rebounds", (json_int_t)st.rebounds);
}

/* The lifetime service's counters (a rendezvous), or null. */
static json_t *lifetime_srv_json(const konce_travlife *l)
{
	size_t pending;
	const struct konce_lifesrv_counters *c = l ? konce_travlife_srv(l, &pending) : NULL;
	if (!c)
		return json_null();
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)c->queued, "pending", (json_int_t)pending,
			 "probes", (json_int_t)c->probes, "rate_limited", (json_int_t)c->rate_limited, "busy",
			 (json_int_t)c->busy);
}

static json_t *netcheck_json(const konce_ctlproto_host *h)
{
	uint64_t now = h->now_us(h->ctx);
	konce_trav_info in;
	konce_ctlproto_travio tio = {0};
	konce_trav_info_get(h->trav, &in);
	h->trav_status(h->ctx, &tio);
	json_t *rdvs = json_array(), *hosts = json_array();
	char who[KONCE_KEY_TEXT_LEN + 1];
	for (unsigned i = 0; i < in.nrdv; i++) {
		struct peer *p = konce_nodecore_peer_find(h->core, in.rdv[i].pk);
		konce_key_to_text(who, in.rdv[i].pk);
		json_array_append_new(
			rdvs, json_pack("{s:s,s:o,s:b,s:o,s:o,s:o}", "key", who, "address", addr_json(&in.rdv[i].addr),
					"session", p && p->up, "reflexive",
					in.rdv[i].have_refl ? addr_json(&in.rdv[i].refl) : json_null(), "register_rtt_ms",
					in.rdv[i].rtt_us ? json_real(in.rdv[i].rtt_us / 1000.0) : json_null(),
					"session_rtt_ms", p && p->rtt_us ? json_real(p->rtt_us / 1000.0) : json_null()));
	}
	for (unsigned i = 0; i < in.nhost; i++)
		json_array_append_new(hosts, addr_json(&in.host[i]));
	bool mapped = tio.pm.state == KONCE_PMST_MAPPED;
	bool failed = tio.pm.state == KONCE_PMST_UNAVAILABLE || tio.pm.state == KONCE_PMST_LOST;
	json_t *o = json_pack("{s:b,s:b,s:o,s:{s:s,s:i,s:i},s:o,s:{s:s,s:o,s:o,s:o}}", "ok", 1, "registered",
			      in.registered, "rendezvous", rdvs, "nat", "mapping", natmap_name(in.nat.mapping),
			      "port_step", in.nat.step, "last_port", in.nat.last_port, "host", hosts, "portmap", "state",
			      konce_portmap_status_name(tio.pm.state), "protocol",
			      mapped ? json_string(konce_portmap_policy_proto_name(tio.pm.proto)) : json_null(), "external",
			      mapped ? addr_json(&tio.pm.external) : json_null(), "reason",
			      failed ? json_string(konce_portmap_policy_err_name(tio.pm.reason)) : json_null());
	json_object_set_new(o, "rendezvous_service", rdvsrv_json(h, now));
	json_object_set_new(o, "lifetime", lifetime_json(h->life));
	json_object_set_new(o, "lifetime_service", lifetime_srv_json(h->life));
	json_object_set_new(o, "filtering", filtering_json(&in));
	json_object_set_new(o, "allocation", json_string(allocation_name(&tio, &in)));
	return o;
}

json_t *ctl_trav(const konce_ctlproto_host *h, const char *cmd, json_t *req)
{
	if (!h->trav)
		return json_pack("{s:b,s:i,s:s}", "ok", 0, "errno", ENOTSUP, "error",
				 "traversal is off: configure rendezvous_peers or rendezvous = yes");
	if (!strcmp(cmd, "netcheck"))
		return netcheck_json(h);
	uint8_t pk[KONCE_KEY_BYTES];
	const char *key = json_string_value(json_object_get(req, "peer"));
	if (!key || konce_key_from_text(pk, key))
		return json_pack("{s:b,s:i,s:s}", "ok", 0, "errno", EINVAL, "error", "\"peer\" must be a public key");
	return path_json(h, pk);
}

json_t *ctl_trav_status(const konce_ctlproto_host *h)
{
	if (!h->trav)
		return json_null();
	konce_trav_info in;
	konce_trav_info_get(h->trav, &in);
	json_t *o = json_pack("{s:s,s:I,s:I}", "introductions", in.known_only ? "known" : "any", "intros_refused",
			      (json_int_t)in.intros_refused, "intros_declined", (json_int_t)in.intros_declined);
	json_object_set_new(o, "rendezvous_service", rdvsrv_json(h, h->now_us(h->ctx)));
	json_object_set_new(o, "filter_service", filter_service_json(&in));
	/* traversal safety: PUNCH / tagged HELLOs refused (no introduction, bad MAC), new keys with no
	 * traversal entry to take, strangers evicted from their pool */
	json_object_set_new(o, "probes_refused", json_integer((json_int_t)in.probes_refused));
	json_object_set_new(o, "peers_full", json_integer((json_int_t)in.peers_full));
	json_object_set_new(o, "strangers_evicted", json_integer((json_int_t)in.strangers_evicted));
	/* the traversal-peer table now: strangers live in a bounded, evictable pool beside the keys we
	 * asked to reach (node/core/node_travpool.h) */
	json_object_set_new(o, "peer_table",
			    json_pack("{s:i,s:i,s:i,s:i,s:i}", "capacity", (int)in.peer_capacity, "used",
				      (int)in.peers_used, "solicited", (int)in.peers_solicited, "strangers",
				      (int)in.peers_strangers, "stranger_capacity", (int)in.stranger_capacity));
	return o;
}
