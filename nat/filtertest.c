/* filtertest.c - the filtering test's state machine (filtertest.h). */
#include "nat/filtertest.h"

#include <errno.h>
#include <string.h>

#define MS 1000ULL
enum { ECHO_EVERY_MS = 300, ECHO_TRIES = 5, ASK_EVERY_MS = 500, ASK_TRIES = 3, VERDICT_MS = 1500, OUT = 8 };

struct konce_filtertest {
	const konce_env *env;
	konce_addr rdv[4];
	unsigned nrdv;
	int other; /* index of a rendezvous at another IP than rdv[0], or -1 */
	enum konce_filtertest_state state;
	enum konce_nat_filtering result;
	uint64_t token, next, deadline;
	unsigned tries;
	bool have_x, other_rx, alt_rx, other_sent, alt_sent;
	konce_addr x;
	konce_filtertest_out out[OUT];
	unsigned out_head, out_n;
};

static bool same_ip(const konce_addr *a, const konce_addr *b) { return memcmp(a->ip, b->ip, 16) == 0; }

static void emit(konce_filtertest *f, bool session, unsigned rdv, uint8_t op, const konce_addr *addr)
{
	if (f->out_n == OUT)
		return; /* a full ring only delays: every message is resent on its timer */
	konce_filtertest_out *o = &f->out[(f->out_head + f->out_n) % OUT];
	konce_rdvwire_msg m = {.type = KONCE_RDV_FILTER, .flags = op, .id = f->token};
	if (addr)
		m.addr = *addr;
	o->session = session;
	o->rdv = rdv;
	o->to = f->rdv[rdv];
	o->len = konce_rdvwire_encode(&m, o->buf, sizeof(o->buf));
	if (o->len)
		f->out_n++;
}

int konce_filtertest_new(konce_filtertest **out, const konce_env *env, const konce_addr *rdv, unsigned nrdv, uint64_t now)
{
	*out = NULL;
	if (!rdv || nrdv < 1 || nrdv > 4)
		return -EINVAL;
	env = env ? env : konce_env_default();
	konce_filtertest *f = konce_env_alloc(env, sizeof(*f));
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	f->env = env;
	memcpy(f->rdv, rdv, sizeof(rdv[0]) * nrdv);
	f->nrdv = nrdv;
	f->other = -1;
	for (unsigned i = 1; i < nrdv && f->other < 0; i++)
		if (!same_ip(&rdv[i], &rdv[0]))
			f->other = (int)i;
	uint8_t b[8];
	konce_env_random(env, b, sizeof(b));
	f->token = wire_get64(b) | 1;
	f->state = KONCE_FILTERTEST_ECHO;
	f->next = now;
	*out = f;
	return 0;
}

void konce_filtertest_free(konce_filtertest *f)
{
	if (f)
		konce_env_free(f->env, f);
}

static void finish(konce_filtertest *f, enum konce_nat_filtering r)
{
	f->state = KONCE_FILTERTEST_DONE;
	f->result = r;
	f->next = UINT64_MAX;
}

static void verdict(konce_filtertest *f)
{
	if (f->other_rx)
		finish(f, KONCE_NAT_FILT_EIF);
	else if (f->alt_rx)
		finish(f, f->other < 0 ? KONCE_NAT_FILT_PORT_INDEPENDENT : f->other_sent ? KONCE_NAT_FILT_ADF : KONCE_NAT_FILT_UNKNOWN);
	else if (f->alt_sent && f->other_sent)
		finish(f, KONCE_NAT_FILT_APDF);
	else
		finish(f, KONCE_NAT_FILT_UNKNOWN);
}

static void ask(konce_filtertest *f)
{
	if (f->other >= 0 && !f->other_rx)
		emit(f, true, (unsigned)f->other, KONCE_FILT_OP_ASK, &f->x);
	if (!f->alt_rx)
		emit(f, true, 0, KONCE_FILT_OP_ASK_ALT, &f->x);
}

void konce_filtertest_input_bare(konce_filtertest *f, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now)
{
	konce_rdvwire_msg m;
	if (konce_rdvwire_decode(&m, pkt, len) || m.type != KONCE_RDV_FILTER || m.id != f->token)
		return;
	if (m.flags == KONCE_FILT_OP_ECHO && f->state == KONCE_FILTERTEST_ECHO && konce_addr_eq(from, &f->rdv[0])) {
		f->x = m.addr;
		f->have_x = true;
		f->state = KONCE_FILTERTEST_PROBING;
		f->tries = 1;
		f->next = now + ASK_EVERY_MS * MS;
		f->deadline = now + VERDICT_MS * MS;
		ask(f);
		return;
	}
	if (m.flags != KONCE_FILT_OP_PROBE || f->state != KONCE_FILTERTEST_PROBING)
		return;
	if (f->other >= 0 && same_ip(from, &f->rdv[f->other])) {
		f->other_rx = true;
		verdict(f); /* nothing can change EIF */
	} else if (same_ip(from, &f->rdv[0]) && from->port != f->rdv[0].port) {
		f->alt_rx = true;
	}
}

void konce_filtertest_input_session(konce_filtertest *f, unsigned i, const uint8_t *pkt, size_t len, uint64_t now)
{
	konce_rdvwire_msg m;
	(void)now;
	if (i >= f->nrdv || konce_rdvwire_decode(&m, pkt, len) || m.type != KONCE_RDV_FILTER ||
	    m.flags != KONCE_FILT_OP_SENT || m.id != f->token || f->state != KONCE_FILTERTEST_PROBING)
		return;
	if ((int)i == f->other)
		f->other_sent = true;
	else if (i == 0)
		f->alt_sent = true;
}

bool konce_filtertest_poll(konce_filtertest *f, konce_filtertest_out *out)
{
	if (!f->out_n)
		return false;
	*out = f->out[f->out_head];
	f->out_head = (f->out_head + 1) % OUT;
	f->out_n--;
	return true;
}

uint64_t konce_filtertest_next_timer(const konce_filtertest *f)
{
	if (f->state == KONCE_FILTERTEST_PROBING)
		return f->next < f->deadline ? f->next : f->deadline;
	return f->next;
}

void konce_filtertest_timer(konce_filtertest *f, uint64_t now)
{
	switch (f->state) {
	case KONCE_FILTERTEST_ECHO:
		if (f->next > now)
			return;
		if (f->tries == ECHO_TRIES) {
			finish(f, KONCE_NAT_FILT_UNKNOWN);
			return;
		}
		f->tries++;
		f->next = now + ECHO_EVERY_MS * MS;
		emit(f, false, 0, KONCE_FILT_OP_ECHO_REQ, NULL);
		return;
	case KONCE_FILTERTEST_PROBING:
		if (now >= f->deadline) {
			verdict(f);
			return;
		}
		if (f->next <= now) {
			f->next = f->tries < ASK_TRIES ? now + ASK_EVERY_MS * MS : UINT64_MAX;
			if (f->tries++ < ASK_TRIES)
				ask(f);
		}
		return;
	case KONCE_FILTERTEST_DONE:
		return;
	}
}

enum konce_filtertest_state konce_filtertest_state(const konce_filtertest *f) { return f->state; }

enum konce_nat_filtering konce_filtertest_result(const konce_filtertest *f) { return f->result; }

int konce_filtertest_mapping(const konce_filtertest *f, konce_addr *x)
{
	if (!f->have_x)
		return -ENOENT;
	*x = f->x;
	return 0;
}

void konce_filtertest_seen(const konce_filtertest *f, bool *other_rx, bool *alt_rx, bool *other_sent, bool *alt_sent)
{
	*other_rx = f->other_rx;
	*alt_rx = f->alt_rx;
	*other_sent = f->other_sent;
	*alt_sent = f->alt_sent;
}
