/* trav_info.c - read-only views of the traversal core for its host (trav_info.h). */
#include "node/core/trav_info.h"

#include <errno.h>
#include <string.h>

#include "node/core/node_travpool.h"
#include "node/core/trav_int.h"

unsigned konce_trav_rdvs(const konce_trav *t, const uint8_t (**pk)[KONCE_WIRE_KEY], const konce_addr **addr)
{
	*pk = (const uint8_t(*)[KONCE_WIRE_KEY])t->rdv_pk;
	*addr = t->rdv_addr;
	return t->rc ? t->nrdv : 0;
}

bool konce_trav_has_client(const konce_trav *t) { return t->rc != NULL; }
bool konce_trav_has_service(const konce_trav *t) { return t->srv != NULL; }

bool konce_trav_mapped(const konce_trav *t, konce_addr *external)
{
	if (t->mapped)
		*external = t->mapped_ext;
	return t->mapped;
}

int konce_trav_reflexive(const konce_trav *t, konce_addr *a)
{
	if (!t->rc)
		return -ENOENT;
	return konce_rdvclient_reflexive(t->rc, 0, a) ? -ENOENT : 0;
}

void konce_trav_set_rdv_keepalive(konce_trav *t, uint64_t keepalive_us)
{
	if (t->rc)
		konce_rdvclient_set_keepalive(t->rc, keepalive_us);
}

void konce_trav_info_get(const konce_trav *t, konce_trav_info *o)
{
	memset(o, 0, sizeof(*o));
	o->client = t->rc != NULL;
	o->service = t->srv != NULL;
	o->registered = t->rc && konce_rdvclient_registered(t->rc);
	o->known_only = t->known_only;
	o->nrdv = t->nrdv;
	for (unsigned i = 0; i < t->nrdv; i++) {
		memcpy(o->rdv[i].pk, t->rdv_pk[i], KONCE_WIRE_KEY);
		o->rdv[i].addr = t->rdv_addr[i];
		o->rdv[i].have_refl = t->rc && konce_rdvclient_reflexive(t->rc, i, &o->rdv[i].refl) == 0;
		o->rdv[i].rtt_us = t->rdv_rtt_us[i];
	}
	o->nhost = t->nhost;
	memcpy(o->host, t->host, t->nhost * sizeof(o->host[0]));
	if (t->rc)
		o->nat = konce_rdvclient_nat(t->rc);
	const struct trav_filt *f = &t->filt;
	o->filter_started = f->started;
	if (f->ft) {
		o->filter_running = true;
		o->filter_done = konce_filtertest_state(f->ft) == KONCE_FILTERTEST_DONE;
		if (o->filter_done)
			o->filter_result = konce_filtertest_result(f->ft);
		o->filter_have_mapping = konce_filtertest_mapping(f->ft, &o->filter_mapping) == 0;
		konce_filtertest_seen(f->ft, &o->other_ip_rx, &o->other_port_rx, &o->other_ip_sent, &o->other_port_sent);
	}
	o->filter_echoes = f->echoes;
	o->filter_probes = f->probes;
	o->filter_refused = f->refused;
	o->alt_open = f->alt_open;
	o->alt_local = f->alt_local;
	o->intros_refused = t->intros_refused;
	o->intros_declined = t->intros_declined;
	o->probes_refused = t->punch_bad;
	o->peers_full = t->tpeer_full;
	o->strangers_evicted = t->tpeer_evicted;
	o->peer_capacity = NODE_TRAV_PEERS;
	o->stranger_capacity = NODE_TRAVPOOL_STRANGERS;
	for (unsigned i = 0; i < NODE_TRAV_PEERS; i++) {
		o->peers_used += t->peers[i].used;
		o->peers_solicited += t->peers[i].used && t->peers[i].solicited;
	}
	o->peers_strangers = o->peers_used - o->peers_solicited;
}

int konce_trav_service_info_get(const konce_trav *t, uint64_t now, konce_trav_service_info *o)
{
	memset(o, 0, sizeof(*o));
	if (!t->srv)
		return -ENOENT;
	const konce_rendezvous *rdv = trav_rdvsrv_core(t->srv);
	const konce_relay *rl = konce_rendezvous_relay(rdv);
	o->rdv = *konce_rendezvous_counters(rdv);
	o->registrations = konce_rendezvous_count(rdv, now);
	o->capacity = konce_rendezvous_capacity(rdv);
	o->relay = *konce_relay_counters(rl);
	o->relay_pairs = konce_relay_live(rl, now);
	trav_rdvsrv_counters(t->srv, &o->forged, &o->no_session);
	return 0;
}

int konce_trav_path_info_get(konce_trav *t, const uint8_t pk[KONCE_WIRE_KEY], uint64_t now, konce_trav_path_info *o)
{
	memset(o, 0, sizeof(*o));
	const struct tpeer *p = tpeer_get(t, pk, TPEER_FIND, now);
	if (!p)
		return -ENOENT;
	o->state = konce_punch_state(p->pu);
	o->initiator = p->initiator;
	o->controlling = konce_punch_controlling(p->pu);
	o->solicited = p->solicited;
	o->intro_id = p->intro_id;
	o->asked_us = p->asked_us;
	o->intro_us = p->intro_us;
	o->first_probe_us = p->first_probe_us;
	o->result_us = p->result_us;
	o->delay_us = p->delay_us;
	o->peer_nat = p->peer_nat;
	o->self_nat = p->self_nat;
	o->self_spent = p->self_spent;
	o->ncand = p->ncand;
	memcpy(o->cand, p->cand, p->ncand * sizeof(o->cand[0]));
	o->result = p->result;
	o->intro_fail = p->intro_fail;
	o->shared_public = p->shared_public;
	o->hairpin = (enum konce_nat_tri)p->hairpin;
	o->path = p->path;
	konce_addr a;
	o->have_path_sock = konce_punch_path(p->pu, &o->path_sock, &a);
	o->punch = *konce_punch_counters(p->pu);
	o->relayed_tx = p->relayed_tx;
	o->relayed_rx = p->relayed_rx;
	o->direct_tx = p->direct_tx;
	o->direct_rx = p->direct_rx;
	o->held_dropped = p->held_dropped;
	o->hs_probes = p->hs_probes;
	o->hs_probes_rx = p->hs_probes_rx;
	o->hs_acks = p->hs_acks;
	o->hs_replies = p->hs_replies;
	o->session_probes = p->session_probes;
	o->session_probe_fail = p->session_probe_fail;
	o->auth_heard = p->auth_heard;
	return 0;
}

const char *konce_trav_path_name(const konce_trav *t, const konce_addr *a)
{
	if (!konce_trav_is_path(a))
		return "direct";
	unsigned slot = a->path - 1u;
	const struct tpeer *tp = t && slot < NODE_TRAV_PEERS && t->peers[slot].used ? &t->peers[slot] : NULL;
	/* a handle whose datagrams go straight to the punched address is direct; through the peer's
	 * port mapping when that is the peer's MAPPED candidate */
	if (!tp || konce_punch_state(tp->pu) != KONCE_PUNCH_PATH_DIRECT)
		return "relayed";
	for (unsigned i = 0; i < tp->ncand; i++)
		if (tp->cand[i].type == KONCE_CAND_MAPPED && konce_addr_eq(&tp->cand[i].addr, &tp->path))
			return "port-mapped";
	return "direct";
}

void konce_trav_count_refused(konce_trav *t) { t->punch_bad++; }
