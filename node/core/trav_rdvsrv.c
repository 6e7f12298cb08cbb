/* trav_rdvsrv.c - the rendezvous service of a node: nat/rendezvous.c fed from sessions.
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
#include <string.h>

#include "nat/rendezvous.h"
#include "node/core/trav_int.h"

enum { AMAP_SLOTS = 4096, AMAP_RUN = 8 };

struct amap_ent {
	konce_addr a;
	uint8_t pk[KONCE_WIRE_KEY];
	uint64_t at; /* 0 = free */
};

struct trav_rdvsrv {
	konce_trav *t;
	konce_rendezvous *rdv;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	uint64_t forged, no_session;
	struct amap_ent amap[AMAP_SLOTS];
};

static unsigned amap_home(const struct trav_rdvsrv *s, const konce_addr *a)
{
	uint8_t h[crypto_shorthash_BYTES], in[18];
	memcpy(in, a->ip, 16);
	in[16] = (uint8_t)(a->port >> 8);
	in[17] = (uint8_t)a->port;
	crypto_shorthash(h, in, sizeof(in), s->hkey);
	return (unsigned)(h[0] | h[1] << 8 | h[2] << 16) % AMAP_SLOTS;
}

/* Remembers that pk speaks from a; the oldest entry of the run gives way. */
static void amap_put(struct trav_rdvsrv *s, const konce_addr *a, const uint8_t pk[KONCE_WIRE_KEY], uint64_t now)
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
	memcpy(e->pk, pk, KONCE_WIRE_KEY);
	e->at = now ? now : 1;
}

static const uint8_t *amap_get(const struct trav_rdvsrv *s, const konce_addr *a)
{
	unsigned h = amap_home(s, a);
	for (unsigned i = 0; i < AMAP_RUN; i++) {
		const struct amap_ent *e = &s->amap[(h + i) % AMAP_SLOTS];
		if (e->at && konce_addr_eq(&e->a, a))
			return e->pk;
	}
	return NULL;
}

int trav_rdvsrv_new(struct trav_rdvsrv **out, konce_trav *t, unsigned slots)
{
	struct trav_rdvsrv *s = konce_env_alloc(t->env, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof *s);
	s->t = t;
	konce_env_random(t->env, s->hkey, sizeof(s->hkey));
	konce_rendezvous_cfg c = {.env = t->env, .slots = slots};
	int e = konce_rendezvous_new(&s->rdv, &c);
	if (e) {
		konce_env_free(t->env, s);
		return e;
	}
	*out = s;
	return 0;
}

void trav_rdvsrv_free(struct trav_rdvsrv *s)
{
	if (!s)
		return;
	konce_rendezvous_free(s->rdv);
	konce_env_free(s->t->env, s);
}

konce_rendezvous *trav_rdvsrv_core(struct trav_rdvsrv *s) { return s->rdv; }

void trav_rdvsrv_counters(const struct trav_rdvsrv *s, uint64_t *forged, uint64_t *no_session)
{
	*forged = s->forged;
	*no_session = s->no_session;
}

static void flush(struct trav_rdvsrv *s, uint64_t now)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	while (konce_rendezvous_poll(s->rdv, buf, &len, &to)) {
		const uint8_t *pk = amap_get(s, &to);
		konce_trav_peer p;
		if (!pk || !trav_peer(s->t, pk, &p) || !p.conn || konce_trav_send_msg(s->t, p.conn, buf, len, now) < 0)
			s->no_session++;
	}
}

void trav_rdvsrv_input(struct trav_rdvsrv *s, const uint8_t from_pk[KONCE_WIRE_KEY], const konce_addr *from_addr,
		       const uint8_t *body, size_t len, uint64_t now)
{
	konce_rdvwire_msg m;
	if (konce_rdvwire_decode(&m, body, len) ||
	    (m.type != KONCE_RDV_REGISTER && m.type != KONCE_RDV_INTRO_REQUEST && m.type != KONCE_RDV_RELAY &&
	     m.type != KONCE_RDV_INTRO_REFUSE && m.type != KONCE_RDV_INTRO_ACCEPT) ||
	    memcmp(m.key, from_pk, KONCE_WIRE_KEY) != 0) {
		s->forged++;
		return;
	}
	amap_put(s, from_addr, from_pk, now);
	konce_rendezvous_input(s->rdv, body, len, from_addr, now);
	flush(s, now);
}
