/* ep_link.h - two endpoints joined by an ideal link in-process, with one session between them, for
 * the tests that watch a session live over time (test_presence.c, test_ep_shrink.c):
 * ep_link_open() makes both (a counting env each, a at 192.0.2.1:1000 dials b at
 * 198.51.100.2:7807) and checks the session is up at both ends; ep_link_pump() delivers until quiet,
 * counting the events each side saw; ep_link_run_until() runs both timers; ep_link_close() proves
 * every allocation was freed.  The link can drop everything one way (drop_ab, drop_ba, with
 * pass_ab datagrams let through first) or every datagram above mtu, notes the largest datagram a
 * sent (largest_ab), and takes round_us per round of datagrams.
 * It is ep_pair.h's pair, driven another way.  Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_EP_LINK_H
#define KONCE_TEST_EP_LINK_H

#include <stdbool.h>
#include <string.h>

#include "node/transport/endpoint.h"
#include "tests/unit/ep_pair.h"

typedef pair ep_link;

/* What an env has allocated and not yet freed. */
static inline uint64_t ep_link_live(const test_env *t) { return t->allocs - t->frees; }

/* Takes every event both sides queued, noting the sessions and counting messages and outcomes. */
static inline void ep_link_drain(ep_link *p)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(p->a, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED)
			p->ca = ev.conn;
		p->a_msgs += ev.type == KONCE_EV_MESSAGE;
		p->a_delivered += ev.type == KONCE_EV_MSG_DELIVERED;
		p->a_failed += ev.type == KONCE_EV_MSG_FAILED;
	}
	while (konce_ep_poll_event(p->b, &ev)) {
		if (ev.type == KONCE_EV_ESTABLISHED)
			p->cb = ev.conn;
		if (ev.type == KONCE_EV_MESSAGE) {
			p->b_msgs++;
			memcpy(p->last_b_msg, ev.data, ev.len < 8 ? ev.len : 8);
		}
		p->b_delivered += ev.type == KONCE_EV_MSG_DELIVERED;
	}
}

/* A datagram over the link: through its drops, at once. */
static inline void ep_link_hop(ep_link *p, bool from_a, const uint8_t *buf, size_t len, const konce_addr *to)
{
	(void)to;
	if (from_a && len > p->largest_ab)
		p->largest_ab = len;
	if (p->mtu && len > p->mtu)
		return;
	if (from_a) {
		if (!p->drop_ab || (p->pass_ab && p->pass_ab--))
			konce_ep_input(p->b, buf, len, &p->addr_a, p->now, NULL);
	} else if (!p->drop_ba) {
		konce_ep_input(p->a, buf, len, &p->addr_b, p->now, NULL);
	}
}

/* After each round: events drained, the link's delay passes. */
static inline void ep_link_round(ep_link *p)
{
	ep_link_drain(p);
	p->now += p->round_us;
}

/* Both ways until quiet, through the link's drops; events drained after each round. */
static inline void ep_link_pump(ep_link *p) { pair_pump_with(p, ep_link_hop, ep_link_round); }

/* Both endpoints' timers up to t, with the datagrams they send delivered over the link. */
static inline void ep_link_run_until(ep_link *p, uint64_t t)
{
	for (;;) {
		uint64_t na = konce_ep_next_timer(p->a), nb = konce_ep_next_timer(p->b), n = na < nb ? na : nb;
		if (n > t)
			break;
		if (n > p->now)
			p->now = n;
		konce_ep_timer(p->a, p->now);
		konce_ep_timer(p->b, p->now);
		ep_link_pump(p);
	}
	if (t > p->now)
		p->now = t;
}

/* Both endpoints (env seeds seed_a, seed_b; cfg_a and cfg_b give all but env and identity) at 1 s,
 * and a session a dialled, established at both ends. */
static inline void ep_link_open(ep_link *p, unsigned seed_a, unsigned seed_b, const konce_ep_config *cfg_a,
				const konce_ep_config *cfg_b, uint64_t round_us)
{
	make_pair_seeded(p, cfg_a, cfg_b, seed_a, seed_b);
	p->round_us = round_us;
	uint32_t c;
	assert_int_equal(konce_ep_connect(p->a, konce_identity_public(p->id_b), &p->addr_b, NULL, 0, p->now, &c), 0);
	ep_link_pump(p);
	assert_int_equal(p->ca, c);
	assert_int_not_equal(p->cb, 0);
}

static inline void ep_link_close(ep_link *p) { free_pair(p); }

#endif
