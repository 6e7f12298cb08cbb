/* node_rdvsrv.c - the rendezvous service of a node: nat/rendezvous.c fed from sessions.
 *
 * REGISTER, INTRO_REQUEST, RELAY, INTRO_REFUSE and INTRO_ACCEPT arrive as KONCE_CLASS_RENDEZVOUS messages on authenticated
 * sessions.  Their key field must equal the session's proven key, else they are dropped: this is
 * what binds a registration to its holder (the core itself only checks source addresses).  The
 * core is given the session's address as the source, so the reflexive address it reports is the
 * one the handshake came from.  Its answers are addressed to peer addresses; a bounded table,
 * hashed with a random key (never scanned), maps each address back to the key that last spoke
 * from it, and the answer goes out as a message on that key's session.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "nat/rendezvous.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"

enum { AMAP_SLOTS = 4096, AMAP_RUN = 8 };

struct amap_ent {
	konce_addr a;
	uint8_t pk[KONCE_KEY_BYTES];
	uint64_t at; /* 0 = free */
};

struct node_rdvsrv {
	struct konce_node *n;
	konce_rendezvous *rdv;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	uint64_t forged, no_session;
	struct amap_ent amap[AMAP_SLOTS];
};

static unsigned amap_home(const struct node_rdvsrv *s, const konce_addr *a)
{
	uint8_t h[crypto_shorthash_BYTES], in[18];
	memcpy(in, a->ip, 16);
	in[16] = (uint8_t)(a->port >> 8);
	in[17] = (uint8_t)a->port;
	crypto_shorthash(h, in, sizeof(in), s->hkey);
	return (unsigned)(h[0] | h[1] << 8 | h[2] << 16) % AMAP_SLOTS;
}

/* Remembers that pk speaks from a; the oldest entry of the run gives way. */
static void amap_put(struct node_rdvsrv *s, const konce_addr *a, const uint8_t pk[KONCE_KEY_BYTES], uint64_t now)
{
	unsigned h = amap_home(s, a), victim = h;
	for (unsigned i = 0; i < AMAP_RUN; i++) {
		struct amap_ent *e = &s->amap[(h + i) % AMAP_SLOTS];
		if (e->at && konce_addr_eq(&e->a, a)) {
			victim = (h + i) % AMAP_SLOTS;
			break;
		}
		if (e->at < s->amap[victim].at)
			victim = (h + i) % AMAP_SLOTS;
	}
	struct amap_ent *e = &s->amap[victim];
	e->a = *a;
	memcpy(e->pk, pk, KONCE_KEY_BYTES);
	e->at = now ? now : 1;
}

static const uint8_t *amap_get(const struct node_rdvsrv *s, const konce_addr *a)
{
	unsigned h = amap_home(s, a);
	for (unsigned i = 0; i < AMAP_RUN; i++) {
		const struct amap_ent *e = &s->amap[(h + i) % AMAP_SLOTS];
		if (e->at && konce_addr_eq(&e->a, a))
			return e->pk;
	}
	return NULL;
}

int node_rdvsrv_new(struct node_rdvsrv **out, struct konce_node *n, unsigned slots)
{
	struct node_rdvsrv *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n = n;
	randombytes_buf(s->hkey, sizeof(s->hkey));
	konce_rendezvous_cfg c = {.env = konce_env_default(), .slots = slots};
	int e = konce_rendezvous_new(&s->rdv, &c);
	if (e) {
		free(s);
		return e;
	}
	*out = s;
	return 0;
}

void node_rdvsrv_free(struct node_rdvsrv *s)
{
	if (!s)
		return;
	konce_rendezvous_free(s->rdv);
	free(s);
}

static void flush(struct node_rdvsrv *s)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	while (konce_rendezvous_poll(s->rdv, buf, &len, &to)) {
		const uint8_t *pk = amap_get(s, &to);
		struct peer *p = pk ? node_peer_find(s->n, pk) : NULL;
		if (!p || !p->conn || node_trav_send_msg(s->n, p->conn, buf, len) < 0)
			s->no_session++;
	}
}

void node_rdvsrv_input(struct node_rdvsrv *s, struct peer *from, const uint8_t *body, size_t len, uint64_t now)
{
	konce_rdvwire_msg m;
	if (konce_rdvwire_decode(&m, body, len) ||
	    (m.type != KONCE_RDV_REGISTER && m.type != KONCE_RDV_INTRO_REQUEST && m.type != KONCE_RDV_RELAY &&
	     m.type != KONCE_RDV_INTRO_REFUSE && m.type != KONCE_RDV_INTRO_ACCEPT) ||
	    memcmp(m.key, from->pk, KONCE_KEY_BYTES) != 0) {
		s->forged++;
		return;
	}
	amap_put(s, &from->addr, from->pk, now);
	konce_rendezvous_input(s->rdv, body, len, &from->addr, now);
	flush(s);
}

json_t *node_rdvsrv_json(struct node_rdvsrv *s, uint64_t now)
{
	const struct konce_rendezvous_counters *c = konce_rendezvous_counters(s->rdv);
	const konce_relay *rl = konce_rendezvous_relay(s->rdv);
	const struct konce_relay_counters *rc = konce_relay_counters(rl);
	json_t *o = json_object();
#define SET(name, v) json_object_set_new(o, name, json_integer((json_int_t)(v)))
	SET("registrations", konce_rendezvous_count(s->rdv, now));
	SET("registration_capacity", konce_rendezvous_capacity(s->rdv));
	SET("registered", c->registered);
	SET("refreshed", c->refreshed);
	SET("table_full", c->table_full);
	SET("rx", c->rx);
	SET("bad", c->bad);
	SET("rate_limited", c->rate_limited);
	SET("not_registered", c->not_registered);
	SET("intro_requests", c->intro_requests);
	SET("intros", c->intros);
	SET("intro_unknown", c->intro_unknown);
	SET("intro_refused", c->intro_refused);
	SET("intro_declined", c->intro_declined);
	SET("relayed", c->relayed);
	SET("relay_refused", c->relay_refused);
	SET("relay_pairs", konce_relay_live(rl, now));
	SET("relay_full", rc->full);
	SET("relay_bytes", rc->bytes);
	SET("relay_key_full", rc->key_full);
	SET("relay_over_global", rc->over_global);
	SET("source_full", c->source_full);
	SET("offers", c->offers);
	SET("offers_full", c->offers_full);
	SET("rtt_samples", c->rtt_samples);
	SET("rtt_refused", c->rtt_refused);
	SET("claimed_dropped", c->claimed_dropped);
	SET("out_dropped", c->out_dropped);
	SET("forged", s->forged);
	SET("no_session", s->no_session);
#undef SET
	return o;
}
