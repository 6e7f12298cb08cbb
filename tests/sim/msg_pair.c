/* msg_pair.c - two endpoints with a session, for the reliable-message tests (see msg_pair.h). */
#include "tests/sim/msg_pair.h"

#include <errno.h>
#include <string.h>

static void pair_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	mpair *p = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED) {
		if (n == &p->a)
			p->a_up = 1;
		else {
			p->b_up = 1;
			p->cb = ev->conn;
		}
	}
	if (p->on_event)
		p->on_event(p, n, ev, now);
}

static bool not_up(void *ctx)
{
	mpair *p = ctx;
	return !(p->a_up && p->b_up);
}

int mpair_init(mpair *p, sim *s, const sim_link_cfg *link, const konce_ep_config *cfg_a,
	       const konce_ep_config *cfg_b)
{
	void (*hook)(struct mpair *, tnode *, const konce_ep_event *, uint64_t) = p->on_event;
	void *user = p->user;
	memset(p, 0, sizeof *p);
	p->on_event = hook;
	p->user = user;
	p->s = s;
	int r = tnode_init(&p->a, s, NULL, "10.0.0.1", 40000, cfg_a);
	if (r)
		return r;
	if ((r = tnode_init(&p->b, s, NULL, "192.0.2.1", 7807, cfg_b)))
		return r;
	p->a.user = p->b.user = p;
	p->a.on_event = p->b.on_event = pair_event;
	sim_link_set_both(s, p->a.h, p->b.h, link);
	konce_addr to = tnode_addr(&p->b);
	if ((r = tnode_connect(&p->a, tnode_pk(&p->b), &to, NULL, 0, &p->ca)))
		return r;
	if (sim_run_while(s, not_up, p, sim_now(s) + 30 * SIM_SEC))
		return -ETIMEDOUT;
	return 0;
}

void mpair_free(mpair *p)
{
	tnode_free(&p->a);
	tnode_free(&p->b);
}

int mpair_send(mpair *p, tnode *n, const void *msg, size_t len, unsigned klass, uint64_t *id)
{
	uint32_t conn = n == &p->a ? p->ca : p->cb;
	int r = konce_ep_msg_send(n->ep, conn, msg, len, klass, 0, sim_now(p->s), id);
	tnode_flush(n, sim_now(p->s));
	return r;
}

bool mpair_tally(mpair_outcomes *o, bool at_a, const konce_ep_event *ev)
{
	switch (ev->type) {
	case KONCE_EV_MSG_DELIVERED:
		if (at_a)
			o->delivered_a++;
		else
			o->delivered_b++;
		return true;
	case KONCE_EV_MSG_FAILED:
		o->failed++;
		return true;
	case KONCE_EV_CLOSED:
	case KONCE_EV_FAILED:
		o->closed++;
		return true;
	default:
		return false;
	}
}
