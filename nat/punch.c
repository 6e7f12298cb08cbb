/* punch.c - the per-peer path state machine and probe scheduler (see punch.h for the diagram). */
#include "nat/punch.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define MS 1000ULL

static const uint32_t round_ms[] = {0, 100, 300, 700, 1000, 1600, 2200, 2800, 3400};
enum { NROUNDS = sizeof(round_ms) / sizeof(round_ms[0]), BDAY_NONE = 0, BDAY_SPRAY, BDAY_SOCKETS };

struct konce_punch {
	const konce_env *env;
	uint8_t self[KONCE_WIRE_KEY], peer[KONCE_WIRE_KEY];
	bool controlling;
	enum konce_punch_path_state state;

	/* the attempt */
	uint64_t intro_id, start;
	unsigned round, cursor;
	bool in_round;
	uint64_t round_at;
	konce_target t[KONCE_CAND_MAX_TARGETS];
	unsigned nt;
	int bday;
	konce_addr bday_peer;
	uint16_t bday_ports[KONCE_PUNCH_BIRTHDAY];
	uint16_t seq;
	uint8_t ikey[KONCE_INTRO_SECRET_BYTES]; /* the INTRO's secret: keys the probes' MACs */
	bool keyed;
	/* we hold a port-mapping lease on an endpoint-dependent NAT and the peer holds none: until
	 * T + KONCE_PUNCH_LEASE_WAIT_MS only targets the peer probed us from get probes (lease_wait) */
	bool lease_first;
	/* claimed targets (HOST, MAPPED: the peer's word, which may name anyone) get at most
	 * KONCE_PUNCH_CLAIMED_ALLOW probes each until the peer is heard from there, and
	 * KONCE_PUNCH_CLAIMED_BUDGET in all per attempt (docs/TRAVERSAL.md "amplification") */
	uint8_t tsent[KONCE_CAND_MAX_TARGETS];
	bool theard[KONCE_CAND_MAX_TARGETS];
	unsigned claimed_left;      /* the bucket, over attempts */
	uint64_t claimed_refill_at; /* the next token back */

	/* direct */
	unsigned path_sock;
	konce_addr path;
	unsigned extra_left, unanswered;
	bool peer_on_path; /* a probe of this attempt came from the peer over the path: it has the INTRO */
	uint64_t extra_at, keepalive_at;
	uint64_t keepalive_us; /* DIRECT keepalive period; 0 = KONCE_PUNCH_PATH_KEEPALIVE_MS */
	bool auth; /* a session authenticates the path: only konce_punch_heard() proves it alive */
	bool have_rebind; /* the peer's probes come from elsewhere now: its NAT rebound */
	bool rebind_probed; /* and we probed it there: only an ack after that moves the path */
	unsigned rebind_sock;
	konce_addr rebind;
	/* a move made with a session (auth) waits for authenticated traffic over the new pair */
	bool confirming, have_prev; /* have_prev: the move left a DIRECT pair (a rebind) */
	unsigned prev_sock;
	uint64_t confirm_at, confirm_end;
	konce_addr prev;
	unsigned unconf_run; /* moves undone in a row; each doubles the hold on the next move */
	uint64_t hold_until;

	/* relayed */
	uint64_t upgrade_at, backoff;
	uint64_t attempt_rx; /* probes from the peer during the current attempt */
	bool quick_used;     /* the one quick retry after an attempt that heard nothing */

	konce_punch_out out[KONCE_PUNCH_OUT_RING];
	unsigned out_head, out_n;
	konce_punch_event ev[KONCE_PUNCH_EV_RING];
	unsigned ev_head, ev_n;
	struct konce_punch_counters c;
};

static const char *const state_names[] = {"idle", "punching", "direct", "relayed", "probing"};

const char *konce_punch_path_state_name(enum konce_punch_path_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

int konce_punch_new(konce_punch **out, const konce_env *env, const uint8_t self_key[KONCE_WIRE_KEY],
		    const uint8_t peer_key[KONCE_WIRE_KEY])
{
	*out = NULL;
	konce_punch *p = konce_env_alloc(env, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->env = env;
	memcpy(p->self, self_key, KONCE_WIRE_KEY);
	memcpy(p->peer, peer_key, KONCE_WIRE_KEY);
	p->controlling = memcmp(self_key, peer_key, KONCE_WIRE_KEY) < 0;
	p->state = KONCE_PUNCH_PATH_IDLE;
	p->upgrade_at = UINT64_MAX;
	p->keepalive_at = UINT64_MAX;
	p->claimed_left = KONCE_PUNCH_CLAIMED_BUDGET;
	p->backoff = KONCE_UPGRADE_FIRST_MS * MS;
	*out = p;
	return 0;
}

void konce_punch_free(konce_punch *p)
{
	if (!p)
		return;
	sodium_memzero(p->ikey, sizeof(p->ikey));
	konce_env_free(p->env, p);
}

static bool attempting(const konce_punch *p)
{
	return p->state == KONCE_PUNCH_PATH_PUNCHING || p->state == KONCE_PUNCH_PATH_PROBING;
}

static void push_out(konce_punch *p, const konce_punch_out *o)
{
	if (p->out_n == KONCE_PUNCH_OUT_RING) {
		p->c.out_dropped++;
		return;
	}
	p->out[(p->out_head + p->out_n++) % KONCE_PUNCH_OUT_RING] = *o;
}

static void push_ev(konce_punch *p, enum konce_punch_ev_type type, uint64_t now)
{
	if (p->ev_n == KONCE_PUNCH_EV_RING) {
		p->c.ev_dropped++;
		return;
	}
	konce_punch_event e = {type, p->path_sock, p->path, now};
	p->ev[(p->ev_head + p->ev_n++) % KONCE_PUNCH_EV_RING] = e;
}

static void probe_typed(konce_punch *p, unsigned sock, const konce_addr *to, uint8_t type)
{
	if (++p->seq == 0)
		p->seq = 1; /* 0 is never a probe's: the node feeds HELLO copies with it (node_trav_hs.c) */
	konce_punch_out o = {false, sock, *to, p->seq, p->intro_id, {{0}, 0, 0}, false, false, type};
	p->c.probes++;
	push_out(p, &o);
}

static void probe(konce_punch *p, unsigned sock, const konce_addr *to) { probe_typed(p, sock, to, 0); }

/* The DIRECT keepalive: with a session, an authenticated packet the caller sends on it. */
static void keepalive_probe(konce_punch *p)
{
	if (!p->auth) {
		probe(p, p->path_sock, &p->path);
		return;
	}
	konce_punch_out o = {false, p->path_sock, p->path, 0, p->intro_id, {{0}, 0, 0}, false, true, 0};
	p->c.session_probes++;
	push_out(p, &o);
}

static void probe_birthday(konce_punch *p, unsigned sock, const konce_addr *to)
{
	if (++p->seq == 0)
		p->seq = 1;
	konce_punch_out o = {false, sock, *to, p->seq, p->intro_id, {{0}, 0, 0}, true, false, 0};
	p->c.probes++;
	push_out(p, &o);
}

/* Entries in round r: the targets, then the birthday set from T + 1000 ms on. */
static unsigned round_len(const konce_punch *p, unsigned r)
{
	bool b = p->bday != BDAY_NONE && round_ms[r] >= KONCE_PUNCH_BIRTHDAY_AT_MS;
	return p->nt + (b ? KONCE_PUNCH_BIRTHDAY : 0);
}

static bool claimed(uint8_t type) { return type == KONCE_CAND_HOST || type == KONCE_CAND_MAPPED; }

/* Let the peer come to our lease first.  On an endpoint-dependent NAT a lease made of DNAT and
 * connection tracking (miniupnpd on Linux) carries only the replies to what came in through it:
 * a flow we open first keeps a mapping of its own, and our answer to the peer's probe at the
 * lease then leaves from that mapping, which the peer's filter (opened toward the lease) drops.
 * Our probes to the peer's predicted or reflexive ports open exactly such flows, toward the
 * address the peer's probe to the lease comes from.  So, while waiting, only targets the peer
 * has probed us from (peer-reflexive: its probe came through the lease, and what we send there
 * is a reply the lease carries) get probes; after the wait the attempt probes as usual. */
static bool lease_wait(const konce_punch *p, unsigned i, uint64_t now)
{
	return p->lease_first && !p->theard[i] && now < p->start + KONCE_PUNCH_LEASE_WAIT_MS * MS;
}

static void probe_entry(konce_punch *p, unsigned i, uint64_t now)
{
	if (i < p->nt) {
		if (lease_wait(p, i, now)) {
			p->c.lease_withheld++;
			return;
		}
		if (claimed(p->t[i].type) && !p->theard[i]) {
			while (p->claimed_left < KONCE_PUNCH_CLAIMED_BUDGET && now >= p->claimed_refill_at) {
				p->claimed_left++;
				p->claimed_refill_at += KONCE_PUNCH_CLAIMED_REFILL_MS * MS;
			}
			if (p->tsent[i] >= KONCE_PUNCH_CLAIMED_ALLOW || !p->claimed_left) {
				p->c.claimed_withheld++;
				return;
			}
			if (p->claimed_left-- == KONCE_PUNCH_CLAIMED_BUDGET)
				p->claimed_refill_at = now + KONCE_PUNCH_CLAIMED_REFILL_MS * MS;
			p->tsent[i]++;
		}
		/* heard from: the peer is there, so it is no longer a claim (a HELLO copy may go) */
		probe_typed(p, p->t[i].sock, &p->t[i].addr, p->theard[i] ? KONCE_CAND_PEER_REFLEXIVE : p->t[i].type);
		return;
	}
	i -= p->nt;
	p->c.birthday_probes++;
	if (p->bday == BDAY_SPRAY) {
		konce_addr a = p->bday_peer;
		a.port = p->bday_ports[i];
		probe_birthday(p, 0, &a);
	} else {
		probe_birthday(p, 1 + i, &p->bday_peer);
	}
}

static bool is_target(const konce_punch *p, unsigned sock, const konce_addr *a)
{
	for (unsigned i = 0; i < p->nt; i++)
		if (p->t[i].sock == sock && konce_addr_eq(&p->t[i].addr, a))
			return true;
	if (p->bday == BDAY_SOCKETS)
		return sock >= 1 && sock <= KONCE_PUNCH_BIRTHDAY && konce_addr_eq(a, &p->bday_peer);
	if (p->bday == BDAY_SPRAY && sock == 0 && memcmp(a->ip, p->bday_peer.ip, 16) == 0)
		for (unsigned i = 0; i < KONCE_PUNCH_BIRTHDAY; i++)
			if (p->bday_ports[i] == a->port)
				return true;
	return false;
}

uint64_t konce_punch_intro_id(const konce_punch *p) { return p->intro_id; }

bool konce_punch_is_target(const konce_punch *p, unsigned sock, const konce_addr *a)
{
	return attempting(p) && is_target(p, sock, a);
}

static bool has_mapped(const konce_cand *c, unsigned n)
{
	for (unsigned i = 0; c && i < n; i++)
		if (c[i].type == KONCE_CAND_MAPPED)
			return true;
	return false;
}

static const konce_cand *first_reflexive(const konce_cand *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (c[i].type == KONCE_CAND_REFLEXIVE)
			return &c[i];
	return NULL;
}

static void spray_ports(konce_punch *p)
{
	for (unsigned i = 0; i < KONCE_PUNCH_BIRTHDAY;) {
		uint8_t r[2];
		konce_env_random(p->env, r, 2);
		uint16_t port = (uint16_t)(1024 + (unsigned)((r[0] << 8) | r[1]) % 64512u);
		bool dup = false;
		for (unsigned j = 0; j < i && !dup; j++)
			dup = p->bday_ports[j] == port;
		if (!dup)
			p->bday_ports[i++] = port;
	}
}

static void begin_attempt(konce_punch *p, uint64_t intro_id, uint64_t start)
{
	p->state = p->state == KONCE_PUNCH_PATH_IDLE || p->state == KONCE_PUNCH_PATH_PUNCHING ? KONCE_PUNCH_PATH_PUNCHING
										   : KONCE_PUNCH_PATH_PROBING;
	p->intro_id = intro_id;
	p->start = start;
	p->round = 0;
	p->cursor = 0;
	p->in_round = false;
	p->keepalive_at = UINT64_MAX;
	p->extra_left = 0;
	p->upgrade_at = UINT64_MAX;
	p->confirming = false;
	memset(&p->path, 0, sizeof(p->path));
	p->attempt_rx = 0;
	memset(p->tsent, 0, sizeof(p->tsent));
	memset(p->theard, 0, sizeof(p->theard));
	p->c.attempts++;
}

int konce_punch_start(konce_punch *p, const konce_punch_intro *in, uint64_t now)
{
	if (p->state != KONCE_PUNCH_PATH_IDLE && in->intro_id == p->intro_id)
		return 0; /* a repeated INTRO (the rendezvous or the network duplicated it) */
	konce_target t[KONCE_CAND_MAX_TARGETS];
	unsigned nt = konce_candidates_targets(t, KONCE_CAND_MAX_TARGETS, in->peer_cands, in->npeer, &in->peer_nat,
					&in->self_nat, in->self_spent);
	const konce_cand *refl = first_reflexive(in->peer_cands, in->npeer);
	int bday = BDAY_NONE;
	if (refl && in->self_nat.mapping == KONCE_NATMAP_EIM && in->peer_nat.mapping == KONCE_NATMAP_EDM_RANDOM)
		bday = BDAY_SPRAY;
	if (refl && in->self_nat.mapping == KONCE_NATMAP_EDM_RANDOM && in->peer_nat.mapping == KONCE_NATMAP_EIM)
		bday = BDAY_SOCKETS;
	if (nt == 0 && bday == BDAY_NONE)
		return -EINVAL;
	bool first = p->state == KONCE_PUNCH_PATH_IDLE || p->state == KONCE_PUNCH_PATH_PUNCHING;
	begin_attempt(p, in->intro_id, now + in->delay_us);
	p->keyed = in->secret != NULL;
	/* our lease, an endpoint-dependent NAT (our new flows do not leave from the lease), and no
	 * lease on the peer's side (two waiting sides would probe nothing): see lease_wait().  Not
	 * with our mapping unknown (one rendezvous answered so far): on an EIM NAT, the usual case,
	 * the lease is our one mapping and waiting would only delay the handshake */
	p->lease_first = has_mapped(in->self_cands, in->nself) && !has_mapped(in->peer_cands, in->npeer) &&
			 (in->self_nat.mapping == KONCE_NATMAP_EDM_SEQ || in->self_nat.mapping == KONCE_NATMAP_EDM_RANDOM);
	if (in->secret)
		memcpy(p->ikey, in->secret, sizeof(p->ikey));
	else
		sodium_memzero(p->ikey, sizeof(p->ikey));
	if (first && konce_candidates_direct_expectation(&in->self_nat, in->self_cands, in->nself, &in->peer_nat,
							 in->peer_cands, in->npeer) != KONCE_CAND_DIRECT_EXPECTED) {
		/* direct is impossible or a gamble: the relay at once, the attempt runs beside it.
		 * Both sides decide alike (a symmetric rule over the INTRO), so both relay. */
		p->state = KONCE_PUNCH_PATH_PROBING;
		p->c.relay_first++;
		push_ev(p, KONCE_PUNCH_EV_RELAY, now);
	}
	/* a claimed candidate that is also where the rendezvous saw the peer (a public host's own
	 * address) is observed, not a claim */
	for (unsigned i = 0; i < nt; i++)
		for (unsigned k = 0; claimed(t[i].type) && k < in->npeer; k++)
			if (in->peer_cands[k].type == KONCE_CAND_REFLEXIVE && konce_addr_eq(&in->peer_cands[k].addr, &t[i].addr))
				t[i].type = KONCE_CAND_REFLEXIVE;
	memcpy(p->t, t, sizeof(t[0]) * nt);
	p->nt = nt;
	p->bday = bday;
	if (bday != BDAY_NONE)
		p->bday_peer = refl->addr;
	if (bday == BDAY_SPRAY)
		spray_ports(p);
	return 0;
}

static void go_relayed(konce_punch *p, enum konce_punch_ev_type why, uint64_t now)
{
	p->state = KONCE_PUNCH_PATH_RELAYED;
	p->keepalive_at = UINT64_MAX;
	p->extra_left = 0;
	p->confirming = false;
	if (why == KONCE_PUNCH_EV_LOST) {
		p->c.lost++;
		p->backoff = KONCE_UPGRADE_FIRST_MS * MS;
		p->upgrade_at = now + KONCE_UPGRADE_AFTER_LOSS_MS * MS;
	} else {
		p->c.giveups++;
		p->upgrade_at = now + p->backoff; /* the backoff doubles when the upgrade is asked for */
		if (!p->attempt_rx && !p->quick_used) {
			/* not one probe from the peer: more likely its INTRO was lost than its NAT
			 * incompatible, so try once more soon */
			p->quick_used = true;
			p->upgrade_at = now + KONCE_UPGRADE_AFTER_LOSS_MS * MS;
		}
	}
	if (!p->controlling)
		p->upgrade_at = UINT64_MAX;
	push_ev(p, why, now);
	memset(&p->path, 0, sizeof(p->path));
}

/* DIRECT, the extra probes sent, and not one probe of the attempt from the peer over the path
 * yet: the peer may still be without its INTRO (a retransmitted one lands after our pair verified
 * by the handshake), and a probe that reaches it before that is dropped.  Until the attempt's
 * give-up, keep probing the pair every KONCE_PUNCH_LINGER_MS: the first probe the peer can take
 * teaches it our address (peer-reflexive), its triggered probe comes back over the pair and we ack
 * it, so it verifies the same pair.  Without this the peer gives up to the relay while we stay
 * direct, and we, direct, never ask for an upgrade. */
static bool lingering(const konce_punch *p)
{
	return p->state == KONCE_PUNCH_PATH_DIRECT && !p->extra_left && !p->peer_on_path && !p->have_rebind &&
	       p->extra_at < p->start + KONCE_PUNCH_GIVEUP_MS * MS;
}

static uint64_t ka_period(const konce_punch *p)
{
	return p->keepalive_us ? p->keepalive_us : KONCE_PUNCH_PATH_KEEPALIVE_MS * MS;
}

void konce_punch_set_keepalive(konce_punch *p, uint64_t keepalive_us, uint64_t now)
{
	p->keepalive_us = keepalive_us;
	if (p->state == KONCE_PUNCH_PATH_DIRECT && !p->unanswered && p->keepalive_at > now + ka_period(p))
		p->keepalive_at = now + ka_period(p);
}

static void verified(konce_punch *p, unsigned sock, const konce_addr *from, bool rebind, uint64_t now)
{
	/* With a session, a PUNCH ack (forgeable) may move the path but not keep it: the move stands
	 * only once authenticated traffic comes over the new pair (konce_punch_heard). */
	p->have_prev = p->state == KONCE_PUNCH_PATH_DIRECT && !p->confirming;
	p->prev_sock = p->path_sock;
	p->prev = p->path;
	p->confirming = p->auth;
	p->confirm_end = now + KONCE_PUNCH_CONFIRM_MS * MS;
	p->state = KONCE_PUNCH_PATH_DIRECT;
	p->have_rebind = false;
	p->path_sock = sock;
	p->path = *from;
	/* extra probes tell a peer whose early probes died in our filter where we are; after a
	 * rebind the peer knows (it probed us from there), and extra probes from both sides of a
	 * rebind would start the next one */
	p->extra_left = rebind ? 0 : KONCE_PUNCH_EXTRA;
	p->extra_at = now + 20 * MS;
	p->peer_on_path = rebind;
	p->unanswered = 0;
	p->keepalive_at = now + ka_period(p);
	p->upgrade_at = UINT64_MAX;
	p->backoff = KONCE_UPGRADE_FIRST_MS * MS;
	p->quick_used = false;
	p->claimed_left = KONCE_PUNCH_CLAIMED_BUDGET; /* the peer proved real */
	p->c.verified++;
	push_ev(p, KONCE_PUNCH_EV_DIRECT, now);
	if (p->confirming) {
		keepalive_probe(p); /* at once, over the new pair (the event above routes it there) */
		p->confirm_at = now + KONCE_PUNCH_CONFIRM_RETRY_MS * MS;
	}
}

void konce_punch_input(konce_punch *p, unsigned sock, const konce_addr *from, bool ack,
		       uint64_t intro_id, uint16_t seq, uint64_t now)
{
	if (ack) {
		p->c.acks_rx++;
		if (intro_id != p->intro_id) {
			p->c.stale++;
			return;
		}
		if (p->auth && now < p->hold_until &&
		    ((attempting(p) && is_target(p, sock, from)) ||
		     (p->state == KONCE_PUNCH_PATH_DIRECT && p->have_rebind && p->rebind_probed &&
		      sock == p->rebind_sock && konce_addr_eq(from, &p->rebind)))) {
			/* moves made with a session were undone lately (never confirmed): hold */
			p->c.moves_held++;
			return;
		}
		if (attempting(p) && is_target(p, sock, from))
			verified(p, sock, from, false, now);
		else if (p->state == KONCE_PUNCH_PATH_DIRECT && sock == p->path_sock && konce_addr_eq(from, &p->path)) {
			if (p->auth) {
				/* anyone who saw a probe can forge its ack: with a session, only
				 * authenticated traffic says the path still works */
				p->c.acks_ignored++;
				return;
			}
			p->unanswered = 0;
			p->keepalive_at = now + ka_period(p);
		} else if (p->state == KONCE_PUNCH_PATH_DIRECT && p->have_rebind && p->rebind_probed &&
			   sock == p->rebind_sock && konce_addr_eq(from, &p->rebind)) {
			/* only after our rebind probe: an ack that answers a probe of the attempt (a
			 * birthday spray port the peer's other socket later probed us from) says the pair
			 * works, not that the peer moved, and the controlling side keeps its path while it
			 * answers (the two sides would otherwise hold different pairs) */
			p->c.rebinds++;
			p->have_rebind = false;
			verified(p, sock, from, true, now);
		}
		return;
	}
	if (p->state == KONCE_PUNCH_PATH_IDLE || intro_id != p->intro_id) {
		/* not the introduction we hold (none yet, or another): it starts nothing, and our own
		 * INTRO, a reliable message, brings the attempt */
		p->c.stale++;
		return;
	}
	p->c.probes_rx++;
	p->attempt_rx++;
	if (p->state == KONCE_PUNCH_PATH_DIRECT && sock == p->path_sock && konce_addr_eq(from, &p->path))
		p->peer_on_path = true;
	konce_punch_out a = {true, sock, *from, seq, intro_id, *from, false, false, 0};
	p->c.acks_sent++;
	push_out(p, &a);
	for (unsigned i = 0; i < p->nt; i++)
		if (p->t[i].sock == sock && konce_addr_eq(&p->t[i].addr, from))
			p->theard[i] = true; /* the peer is there: no longer limited as a claim */
	if (p->state == KONCE_PUNCH_PATH_DIRECT && !(sock == p->path_sock && konce_addr_eq(from, &p->path)) &&
	    !(p->have_rebind && sock == p->rebind_sock && konce_addr_eq(from, &p->rebind))) {
		/* validate the new address before moving the path there.  Two sides may hold different
		 * valid pairs of one attempt (two sequential NATs have 16); if each followed the other's
		 * probes they would swap pairs for ever.  So the controlled side follows at once, and the
		 * controlling side only once its own path stops answering (a keepalive retry probes the
		 * new address too): the peer's NAT really moved. */
		p->have_rebind = true;
		p->rebind_sock = sock;
		p->rebind = *from;
		p->rebind_probed = !p->controlling || p->unanswered;
		if (p->rebind_probed)
			probe(p, sock, from);
	}
	if (!attempting(p))
		return;
	konce_target t = {sock, *from, KONCE_CAND_PEER_REFLEXIVE};
	if (konce_candidates_add_target(p->t, &p->nt, KONCE_CAND_MAX_TARGETS, &t)) {
		p->tsent[p->nt - 1] = 0;
		p->theard[p->nt - 1] = true;
		probe_typed(p, sock, from, KONCE_CAND_PEER_REFLEXIVE); /* triggered: this pair may work at once */
	}
}

void konce_punch_heard(konce_punch *p, uint64_t now)
{
	if (p->state != KONCE_PUNCH_PATH_DIRECT)
		return;
	p->c.heard++;
	if (p->confirming) {
		p->confirming = false;
		p->c.confirmed++;
		p->unconf_run = 0;
		p->hold_until = 0;
	}
	if (p->unanswered) {
		/* a keepalive was out (retries pending): answered, so the next one a period on */
		p->unanswered = 0;
		p->keepalive_at = now + ka_period(p);
	}
}

void konce_punch_set_authenticated(konce_punch *p, bool on)
{
	p->auth = on;
	if (!on)
		p->confirming = false; /* no session left to confirm a move with */
}

void konce_punch_relay_heard(konce_punch *p, uint64_t now)
{
	if (p->state == KONCE_PUNCH_PATH_PUNCHING) {
		/* the peer talks through the relay (it holds a session, or gave up): so do we, and
		 * the attempt runs on beside it, unchanged */
		p->state = KONCE_PUNCH_PATH_PROBING;
		p->c.relay_joined++;
		push_ev(p, KONCE_PUNCH_EV_RELAY, now);
		return;
	}
	if (p->state != KONCE_PUNCH_PATH_IDLE)
		return;
	p->state = KONCE_PUNCH_PATH_RELAYED;
	p->upgrade_at = p->controlling ? now + KONCE_UPGRADE_AFTER_LOSS_MS * MS : UINT64_MAX;
	push_ev(p, KONCE_PUNCH_EV_RELAY, now);
}

static uint64_t next_probe_at(const konce_punch *p)
{
	if (!attempting(p))
		return UINT64_MAX;
	if (p->in_round)
		return p->round_at;
	return p->round < NROUNDS ? p->start + round_ms[p->round] * MS : UINT64_MAX;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t konce_punch_next_timer(const konce_punch *p)
{
	uint64_t t = p->upgrade_at;
	if (attempting(p)) {
		t = min64(t, next_probe_at(p));
		t = min64(t, p->start + KONCE_PUNCH_GIVEUP_MS * MS);
	}
	if (p->state == KONCE_PUNCH_PATH_DIRECT) {
		t = min64(t, p->keepalive_at);
		if (p->extra_left || lingering(p))
			t = min64(t, p->extra_at);
		if (p->confirming)
			t = min64(t, min64(p->confirm_at, p->confirm_end));
	}
	return t;
}

/* A move not confirmed in time: back to the pair it left, which must answer its own
 * (authenticated) keepalive at once, or to the relay. */
static void confirm_failed(konce_punch *p, uint64_t now)
{
	p->confirming = false;
	p->c.unconfirmed++;
	/* a forged ack can make a move that is never confirmed: hold further moves for 1, 2, 4 ...
	 * 64 s, so forging again buys nothing more than once a hold */
	uint64_t hold = (uint64_t)KONCE_PUNCH_CONFIRM_MS << (p->unconf_run < 6 ? p->unconf_run : 6);
	p->hold_until = now + (hold < KONCE_PUNCH_HOLD_MAX_MS ? hold : KONCE_PUNCH_HOLD_MAX_MS) * MS;
	p->unconf_run++;
	if (!p->have_prev) {
		go_relayed(p, KONCE_PUNCH_EV_LOST, now);
		return;
	}
	p->have_prev = false;
	p->have_rebind = false;
	p->path_sock = p->prev_sock;
	p->path = p->prev;
	p->extra_left = 0;
	p->unanswered = 0;
	p->keepalive_at = now;
	push_ev(p, KONCE_PUNCH_EV_DIRECT, now);
}

static void run_rounds(konce_punch *p, uint64_t now)
{
	while (attempting(p) && next_probe_at(p) <= now) {
		if (!p->in_round) {
			p->in_round = true;
			p->cursor = 0;
			p->round_at = p->start + round_ms[p->round] * MS;
		}
		if (p->cursor < round_len(p, p->round)) {
			bool bday = p->cursor >= p->nt;
			probe_entry(p, p->cursor++, now);
			p->round_at += bday ? MS : KONCE_PUNCH_PACE_MS * MS;
		}
		if (p->cursor >= round_len(p, p->round)) {
			p->in_round = false;
			p->round++;
		}
	}
}

void konce_punch_timer(konce_punch *p, uint64_t now)
{
	run_rounds(p, now);
	if (attempting(p) && now >= p->start + KONCE_PUNCH_GIVEUP_MS * MS)
		go_relayed(p, KONCE_PUNCH_EV_RELAY, now);
	if (p->state == KONCE_PUNCH_PATH_DIRECT && p->confirming) {
		if (now >= p->confirm_end) {
			confirm_failed(p, now);
		} else if (p->confirm_at <= now) {
			keepalive_probe(p);
			p->confirm_at = now + KONCE_PUNCH_CONFIRM_RETRY_MS * MS;
		}
	}
	if (p->state == KONCE_PUNCH_PATH_DIRECT) {
		while (p->extra_left && p->extra_at <= now) {
			probe(p, p->path_sock, &p->path);
			p->extra_left--;
			p->extra_at += 50 * MS;
		}
		if (lingering(p) && p->extra_at <= now) {
			probe(p, p->path_sock, &p->path);
			p->c.linger_probes++;
			p->extra_at = now + KONCE_PUNCH_LINGER_MS * MS;
		}
		if (p->keepalive_at <= now) {
			if (p->unanswered >= KONCE_PUNCH_PATH_PROBE_FAILS) {
				go_relayed(p, KONCE_PUNCH_EV_LOST, now);
			} else {
				keepalive_probe(p);
				if (p->unanswered && p->have_rebind) {
					probe(p, p->rebind_sock, &p->rebind);
					p->rebind_probed = true;
				}
				p->unanswered++;
				p->keepalive_at = now + KONCE_PUNCH_PATH_PROBE_RETRY_MS * MS;
			}
		}
	}
	if (p->state == KONCE_PUNCH_PATH_RELAYED && p->upgrade_at <= now) {
		p->c.upgrades++;
		push_ev(p, KONCE_PUNCH_EV_UPGRADE, now);
		/* asked again after backoff if no introduction comes; doubled for the next failure */
		p->upgrade_at = now + p->backoff;
		p->backoff = p->backoff * 2 > KONCE_UPGRADE_MAX_MS * MS ? KONCE_UPGRADE_MAX_MS * MS : p->backoff * 2;
	}
}

bool konce_punch_poll(konce_punch *p, konce_punch_out *out)
{
	if (!p->out_n)
		return false;
	*out = p->out[p->out_head];
	p->out_head = (p->out_head + 1) % KONCE_PUNCH_OUT_RING;
	p->out_n--;
	return true;
}

bool konce_punch_poll_event(konce_punch *p, konce_punch_event *ev)
{
	if (!p->ev_n)
		return false;
	*ev = p->ev[p->ev_head];
	p->ev_head = (p->ev_head + 1) % KONCE_PUNCH_EV_RING;
	p->ev_n--;
	return true;
}

enum konce_punch_path_state konce_punch_state(const konce_punch *p) { return p->state; }

bool konce_punch_path(const konce_punch *p, unsigned *sock, konce_addr *addr)
{
	if (p->state != KONCE_PUNCH_PATH_DIRECT)
		return false;
	*sock = p->path_sock;
	*addr = p->path;
	return true;
}

bool konce_punch_controlling(const konce_punch *p) { return p->controlling; }

const struct konce_punch_counters *konce_punch_counters(const konce_punch *p) { return &p->c; }

/* ---- PUNCH on the wire, authenticated with the introduction's secret -------------------------- */

bool konce_punch_tag(const konce_punch *p, const uint8_t *msg, size_t len, uint8_t mac[KONCE_PUNCH_MAC_BYTES])
{
	if (!p->keyed)
		return false;
	crypto_generichash(mac, KONCE_PUNCH_MAC_BYTES, msg, len, p->ikey, sizeof(p->ikey));
	return true;
}

bool konce_punch_tag_ok(const konce_punch *p, const uint8_t *msg, size_t len,
			const uint8_t mac[KONCE_PUNCH_MAC_BYTES])
{
	uint8_t want[KONCE_PUNCH_MAC_BYTES];
	bool ok = konce_punch_tag(p, msg, len, want) && sodium_memcmp(want, mac, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

size_t konce_punch_encode(const konce_punch *p, const konce_punch_out *o, uint8_t *buf, size_t cap)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = o->ack ? KONCE_PUNCH_F_ACK : 0, .seq = o->seq,
			   .id = o->intro_id};
	memcpy(m.key, p->self, KONCE_WIRE_KEY);
	if (o->ack)
		m.addr = o->seen;
	size_t len = p->keyed ? konce_rdvwire_encode(&m, buf, cap) : 0;
	if (len)
		konce_punch_tag(p, buf, KONCE_PUNCH_MAC, buf + KONCE_PUNCH_MAC);
	return len;
}

int konce_punch_receive(konce_punch *p, unsigned sock, const konce_addr *from, const uint8_t *pkt, size_t len,
			uint64_t now)
{
	konce_rdvwire_msg m;
	/* the sender key must be the peer's (our own probe reflected back has ours), the id the
	 * current one, and the MAC made with this introduction's secret, which only the two
	 * introduced peers hold */
	if (konce_rdvwire_decode(&m, pkt, len) || m.type != KONCE_RDV_PUNCH || memcmp(m.key, p->peer, KONCE_WIRE_KEY) ||
	    m.id != p->intro_id || !konce_punch_tag_ok(p, pkt, KONCE_PUNCH_MAC, pkt + KONCE_PUNCH_MAC)) {
		p->c.forged++;
		return -EBADMSG;
	}
	konce_punch_input(p, sock, from, m.flags & KONCE_PUNCH_F_ACK, m.id, m.seq, now);
	return 0;
}
