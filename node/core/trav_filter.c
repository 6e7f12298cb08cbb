/* trav_filter.c - the filtering test in the traversal core: both sides of nat/filtertest.h.
 *
 * Client (a node that registers with rendezvous): once every configured rendezvous has reported a
 * reflexive address, the core asks its host for a fresh socket S (KONCE_TRAV_EV_SOCK_OPEN with
 * KONCE_TRAV_SOCK_FILTER: same local IP as the node's socket, any port) and, once the host says it
 * is open (konce_trav_sock_opened), runs the test core over it: bare FILTER datagrams leave from
 * and arrive on S, the ASKs ride on the sessions with the rendezvous as KONCE_CLASS_RENDEZVOUS
 * messages.  When the test is done the core asks the host to close S; the verdict stays for
 * `konce netcheck`.  Run once per core.
 *
 *   IDLE --every rendezvous reflexive--> OPENING (SOCK_OPEN) --opened--> TESTING --done--> DONE
 *   OPENING --the host could not open S--> DONE (not measured)            (SOCK_CLOSE)
 * S's mapping, once the ECHO has told it, is also handed to the rendezvous client
 * (konce_rdvclient_set_fresh_mapping): a sequential NAT's step read off the two registrations alone
 * is too large when another mapping came between them (candidates.h, konce_candidates_refine).
 *
 * Rendezvous (the service on): answers ECHO_REQ on the node's socket with ECHO (same size, so no
 * amplification), and ASK / ASK_ALT on a session with a PROBE from the node's socket or from a
 * second socket on another port of the same IP (KONCE_TRAV_SOCK_ALT, asked for at start).  It
 * probes only addresses with the IP of the asking session (the asker's own NAT), and both bare
 * echoes and asks are charged to their source address (10 per second, burst 20).
 */
#include <errno.h>
#include <string.h>

#include "konce/konce.h"
#include "nat/filtertest.h"
#include "node/core/trav_int.h"

static void sock_event(konce_trav *t, enum konce_trav_ev_type type, unsigned sock)
{
	konce_trav_event *e = trav_event(t, type);
	if (e)
		e->sock = sock;
}

int trav_filter_new(konce_trav *t)
{
	struct trav_filt *f = &t->filt;
	memset(f, 0, sizeof *f);
	if (!t->srv)
		return 0;
	int e = konce_ratelimit_new(&f->rl, t->env, 1024, 10, 20);
	if (e)
		return e;
	sock_event(t, KONCE_TRAV_EV_SOCK_OPEN, KONCE_TRAV_SOCK_ALT);
	return 0;
}

void trav_filter_free(konce_trav *t)
{
	konce_filtertest_free(t->filt.ft);
	konce_ratelimit_free(t->filt.rl);
	t->filt.ft = NULL;
	t->filt.rl = NULL;
}

void trav_filter_kick(konce_trav *t)
{
	struct trav_filt *f = &t->filt;
	konce_addr a;
	if (f->started || !t->rc || !t->nrdv)
		return;
	for (unsigned i = 0; i < t->nrdv; i++)
		if (konce_rdvclient_reflexive(t->rc, i, &a))
			return; /* not every rendezvous answered yet */
	f->started = true;
	sock_event(t, KONCE_TRAV_EV_SOCK_OPEN, KONCE_TRAV_SOCK_FILTER);
}

void trav_filter_pump(konce_trav *t, uint64_t now)
{
	struct trav_filt *f = &t->filt;
	konce_filtertest_out o;
	if (!f->ft)
		return;
	while (konce_filtertest_poll(f->ft, &o)) {
		konce_trav_peer p;
		if (!o.session) {
			if (f->s_open)
				trav_send(t, KONCE_TRAV_SOCK_FILTER, &o.to, o.buf, o.len);
			continue;
		}
		if (trav_peer(t, t->rdv_pk[o.rdv], &p) && p.conn)
			konce_trav_send_msg(t, p.conn, o.buf, o.len, now);
	}
	konce_addr fx;
	if (!f->told_fresh && t->rc && konce_filtertest_mapping(f->ft, &fx) == 0) {
		/* S's mapping is one more sample of our NAT's allocator (candidates.h: refine) */
		f->told_fresh = true;
		konce_trav_mapping_sample(t, &fx, now);
	}
	if (konce_filtertest_state(f->ft) == KONCE_FILTERTEST_DONE && f->s_open) {
		char as[KONCE_ADDR_STRLEN];
		konce_addr x = {0};
		konce_filtertest_mapping(f->ft, &x);
		trav_log(t, KONCE_LOG_INFO, "NAT filtering: %s (tested on a fresh mapping %s)",
			 konce_nat_filtering_name(konce_filtertest_result(f->ft)), konce_addr_str(&x, as));
		f->s_open = false;
		sock_event(t, KONCE_TRAV_EV_SOCK_CLOSE, KONCE_TRAV_SOCK_FILTER);
	}
}

uint64_t trav_filter_next_timer(const konce_trav *t)
{
	const struct trav_filt *f = &t->filt;
	return f->ft && konce_filtertest_state(f->ft) != KONCE_FILTERTEST_DONE ? konce_filtertest_next_timer(f->ft) : UINT64_MAX;
}

void trav_filter_timer(konce_trav *t, uint64_t now)
{
	if (now >= trav_filter_next_timer(t))
		konce_filtertest_timer(t->filt.ft, now);
	trav_filter_pump(t, now);
}

void konce_trav_sock_opened(konce_trav *t, unsigned sock, const konce_addr *local, uint64_t now)
{
	struct trav_filt *f = &t->filt;
	if (sock == KONCE_TRAV_SOCK_ALT) {
		f->alt_open = local != NULL;
		if (local)
			f->alt_local = *local;
		else
			trav_log(t, KONCE_LOG_WARN, "filtering test service: no second port: ASK_ALT refused");
		return;
	}
	if (sock != KONCE_TRAV_SOCK_FILTER || f->s_open || f->ft)
		return;
	if (!local) {
		trav_log(t, KONCE_LOG_WARN, "filtering test: cannot open a socket");
		return;
	}
	if (konce_filtertest_new(&f->ft, t->env, t->rdv_addr, t->nrdv, now)) {
		sock_event(t, KONCE_TRAV_EV_SOCK_CLOSE, KONCE_TRAV_SOCK_FILTER);
		return;
	}
	f->s_open = true;
	f->local = *local;
	konce_filtertest_timer(f->ft, now);
	trav_filter_pump(t, now);
	t->dirty = true;
}

void konce_trav_mapping_sample(konce_trav *t, const konce_addr *x, uint64_t now)
{
	if (!t || !t->rc)
		return;
	konce_natinfo before = konce_rdvclient_nat(t->rc);
	konce_rdvclient_set_fresh_mapping(t->rc, x, now);
	konce_natinfo after = konce_rdvclient_nat(t->rc);
	if (after.step != before.step)
		trav_log(t, KONCE_LOG_INFO,
			 "NAT allocates ports sequentially, step %u, not %u: another mapping came between the registrations",
			 after.step, before.step);
}

int konce_trav_fresh_mapping(const konce_trav *t, konce_addr *x)
{
	const struct trav_filt *f = &t->filt;
	if (!f->ft)
		return -ENOENT;
	return konce_filtertest_mapping(f->ft, x) == 0 ? 0 : 1;
}

static void reply_bare(konce_trav *t, unsigned sock, uint8_t op, uint64_t token, const konce_addr *addr,
		       const konce_addr *to)
{
	uint8_t b[KONCE_FILT_SIZE];
	konce_rdvwire_msg m = {.type = KONCE_RDV_FILTER, .flags = op, .id = token};
	if (addr)
		m.addr = *addr;
	size_t n = konce_rdvwire_encode(&m, b, sizeof(b));
	if (n)
		trav_send(t, sock, to, b, n);
}

void trav_filter_datagram(konce_trav *t, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from,
			  uint64_t now)
{
	struct trav_filt *f = &t->filt;
	konce_rdvwire_msg m;
	if (sock == KONCE_TRAV_SOCK_FILTER) {
		if (f->ft && f->s_open) {
			konce_filtertest_input_bare(f->ft, pkt, len, from, now);
			trav_filter_pump(t, now);
		}
		return;
	}
	/* on the node socket (a bare FILTER datagram is ours either way: dropped unless an ECHO_REQ
	 * we serve); on any other socket: dropped */
	if (sock || !t->srv || !f->rl || konce_rdvwire_decode(&m, pkt, len) || m.type != KONCE_RDV_FILTER ||
	    m.flags != KONCE_FILT_OP_ECHO_REQ)
		return;
	if (konce_ratelimit_charge(f->rl, from, 1, now)) {
		f->refused++;
		return;
	}
	f->echoes++;
	reply_bare(t, 0, KONCE_FILT_OP_ECHO, m.id, from, from);
}

void trav_filter_message(konce_trav *t, const uint8_t from_pk[KONCE_WIRE_KEY], const konce_addr *from_addr,
			 const uint8_t *body, size_t len, uint64_t now)
{
	struct trav_filt *f = &t->filt;
	konce_rdvwire_msg m;
	if (konce_rdvwire_decode(&m, body, len))
		return;
	if (m.flags == KONCE_FILT_OP_SENT) {
		for (unsigned i = 0; f->ft && i < t->nrdv; i++)
			if (!memcmp(from_pk, t->rdv_pk[i], KONCE_WIRE_KEY)) {
				konce_filtertest_input_session(f->ft, i, body, len, now);
				trav_filter_pump(t, now);
			}
		return;
	}
	if (!t->srv || !f->rl || (m.flags != KONCE_FILT_OP_ASK && m.flags != KONCE_FILT_OP_ASK_ALT))
		return;
	/* only the asker's own public IP; charged like a bare echo */
	if (memcmp(m.addr.ip, from_addr->ip, 16) || from_addr->path || konce_ratelimit_charge(f->rl, from_addr, 1, now)) {
		f->refused++;
		return;
	}
	konce_addr src;
	if (m.flags == KONCE_FILT_OP_ASK_ALT) {
		if (!f->alt_open) {
			f->refused++;
			return;
		}
		reply_bare(t, KONCE_TRAV_SOCK_ALT, KONCE_FILT_OP_PROBE, m.id, NULL, &m.addr);
		src = f->alt_local;
	} else {
		reply_bare(t, 0, KONCE_FILT_OP_PROBE, m.id, NULL, &m.addr);
		src = t->local; /* the node socket's address, as the host told it */
	}
	f->probes++;
	uint8_t b[KONCE_FILT_SIZE];
	konce_rdvwire_msg s = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_SENT, .id = m.id, .addr = src};
	size_t n = konce_rdvwire_encode(&s, b, sizeof(b));
	konce_trav_peer p;
	if (n && trav_peer(t, from_pk, &p) && p.conn)
		konce_trav_send_msg(t, p.conn, b, n, now);
}
