/* test_ep_shrink.c - a channel shrinks back to a presence when idle (ep_msg.c): its conn is freed
 * (the counting env of testenv.h shows every allocation the channel made returned) once nothing
 * is queued, in flight, owed or being reassembled and no message moved for the shrink interval
 * (5 s here); it grows again on the next message, and a message delivered before the shrink is
 * never delivered again after it, even when the sender, whose acks were lost, retransmits it to
 * the shrunk receiver.  It never shrinks with unacked data, with a message half reassembled, or when
 * the channel is kept (a group's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "testenv.h"

enum { SHRINK_US = 5000000 }; /* KONCE_EP_SHRINK_MS: the 4-PTO floor is far below it here */

typedef struct pair {
	test_env tenv_a, tenv_b;
	konce_identity *id_a, *id_b;
	konce_ep *a, *b;
	konce_addr addr_a, addr_b;
	uint64_t now;
	uint32_t ca, cb; /* the session at a and at b */
	unsigned a_msgs, b_msgs, a_delivered, b_delivered, a_failed;
	bool drop_ab, drop_ba;       /* the link drops everything that way */
	unsigned pass_ab;            /* while drop_ab: let this many more a->b datagrams through */
	uint8_t last_b_msg[8];       /* the first bytes of the latest message b got */
} pair;

static uint64_t live(const test_env *t) { return t->allocs - t->frees; }

static void drain(pair *p)
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

static void pump(pair *p)
{
	uint8_t buf[KONCE_PMTU_MAX];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		while (konce_ep_poll_datagram(p->a, buf, &len, &to)) {
			moved = 1;
			if (!p->drop_ab || (p->pass_ab && p->pass_ab--))
				konce_ep_input(p->b, buf, len, &p->addr_a, p->now, NULL);
		}
		while (konce_ep_poll_datagram(p->b, buf, &len, &to)) {
			moved = 1;
			if (!p->drop_ba)
				konce_ep_input(p->a, buf, len, &p->addr_b, p->now, NULL);
		}
		drain(p);
		/* a 1 ms link: the next round of datagrams is a millisecond later */
		p->now += 1000;
	}
}

/* Both endpoints' timers up to t, with the datagrams they send delivered at once. */
static void run_until(pair *p, uint64_t t)
{
	for (;;) {
		uint64_t na = konce_ep_next_timer(p->a), nb = konce_ep_next_timer(p->b), n = na < nb ? na : nb;
		if (n > t)
			break;
		if (n > p->now)
			p->now = n;
		konce_ep_timer(p->a, p->now);
		konce_ep_timer(p->b, p->now);
		pump(p);
	}
	if (t > p->now)
		p->now = t;
}

static void make_pair(pair *p, unsigned keepalive_ms)
{
	memset(p, 0, sizeof *p);
	test_env_init(&p->tenv_a, 5);
	test_env_init(&p->tenv_b, 6);
	assert_int_equal(konce_identity_generate(&p->id_a, &p->tenv_a.env), 0);
	assert_int_equal(konce_identity_generate(&p->id_b, &p->tenv_b.env), 0);
	/* long idle and message timeouts (the reassembler's expiry is the idle one): the tests hold
	 * messages back for tens of seconds */
	konce_ep_config a = {.env = &p->tenv_a.env, .identity = p->id_a, .keepalive_ms = keepalive_ms, .idle_timeout_ms = 120000,
			     .msg_timeout_ms = 120000};
	konce_ep_config b = {.env = &p->tenv_b.env, .identity = p->id_b, .keepalive_ms = keepalive_ms, .idle_timeout_ms = 120000,
			     .msg_timeout_ms = 120000};
	p->now = 1000000;
	assert_int_equal(konce_ep_new(&p->a, &a, p->now), 0);
	assert_int_equal(konce_ep_new(&p->b, &b, p->now), 0);
	assert_int_equal(konce_addr_parse(&p->addr_a, "192.0.2.1:1000"), 0);
	assert_int_equal(konce_addr_parse(&p->addr_b, "198.51.100.2:7807"), 0);
	uint32_t c;
	assert_int_equal(konce_ep_connect(p->a, konce_identity_public(p->id_b), &p->addr_b, NULL, 0, p->now, &c), 0);
	pump(p);
	assert_int_equal(p->ca, c);
	assert_int_not_equal(p->cb, 0);
	assert_int_equal(konce_ep_set_wanted(p->a, p->ca, true, p->now), 0);
	run_until(p, p->now + 12000000); /* the handshake's deadlines and buffers (cookie lifetime) pass */
}

static void free_pair(pair *p)
{
	konce_ep_free(p->a);
	konce_ep_free(p->b);
	konce_identity_free(p->id_a);
	konce_identity_free(p->id_b);
	assert_int_equal(p->tenv_a.allocs, p->tenv_a.frees);
	assert_int_equal(p->tenv_b.allocs, p->tenv_b.frees);
}

static uint64_t grown(const konce_ep *ep) { return konce_ep_counters(ep)->channels_grown; }
static uint64_t shrunk(const konce_ep *ep) { return konce_ep_counters(ep)->channels_shrunk; }

static void send_msg(pair *p, konce_ep *ep, uint32_t conn, size_t len, unsigned klass, uint8_t tag)
{
	static uint8_t buf[20000];
	memset(buf, tag, len);
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(ep, conn, buf, len, klass, 0, p->now, &id), 0);
}

/* grows on a message, shrinks after the interval (not before), gives back every allocation,
 * keeps its keepalives, and grows again for the next message, in either class */
static void test_grow_shrink_regrow(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 1000);
	uint64_t live_a = live(&p.tenv_a), live_b = live(&p.tenv_b);
	assert_int_equal(grown(p.a), 0);
	assert_int_equal(grown(p.b), 0);

	send_msg(&p, p.a, p.ca, 5000, KONCE_MSG_CLASS_DEFAULT, 1);
	run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 1);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(grown(p.b), 1);
	assert_true(live(&p.tenv_a) > live_a);
	assert_true(live(&p.tenv_b) > live_b);

	uint64_t t0 = p.now;
	run_until(&p, t0 + SHRINK_US - 500000);
	assert_int_equal(shrunk(p.a), 0); /* not yet: the interval runs from the last message */
	assert_int_equal(shrunk(p.b), 0);
	run_until(&p, t0 + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 1);
	assert_int_equal(shrunk(p.b), 1);
	assert_int_equal(live(&p.tenv_a), live_a); /* the channel's memory is all back */
	assert_int_equal(live(&p.tenv_b), live_b);

	/* a presence again: wanted, it keeps the session with keepalives alone */
	uint64_t ka = konce_ep_counters(p.a)->keepalive_tx;
	run_until(&p, p.now + 10000000);
	assert_true(konce_ep_counters(p.a)->keepalive_tx - ka >= 9);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(konce_ep_counters(p.a)->sessions_live, 1);
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 1);

	/* grows again, both ways and in the background class, each message delivered once */
	send_msg(&p, p.a, p.ca, 3000, KONCE_MSG_CLASS_BACKGROUND, 2);
	send_msg(&p, p.b, p.cb, 100, KONCE_MSG_CLASS_DEFAULT, 3);
	run_until(&p, p.now + 1000000);
	assert_int_equal(p.b_msgs, 2);
	assert_int_equal(p.last_b_msg[0], 2);
	assert_int_equal(p.a_msgs, 1);
	assert_int_equal(p.a_delivered, 2);
	assert_int_equal(p.b_delivered, 1);
	assert_int_equal(grown(p.a), 2);
	assert_int_equal(grown(p.b), 2);
	run_until(&p, p.now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 2);
	assert_int_equal(shrunk(p.b), 2);
	assert_int_equal(live(&p.tenv_a), live_a);
	assert_int_equal(live(&p.tenv_b), live_b);
	assert_int_equal(p.a_failed, 0);
	free_pair(&p);
}

/* b delivers a message but every ack it sends is lost; a retransmits; b shrinks meanwhile; a's
 * next retransmission grows b again, which takes it as a duplicate: delivered exactly once, and a
 * hears of the delivery once the link heals. */
static void test_exactly_once_across_shrink(void **state)
{
	(void)state;
	pair p;
	/* the default keepalive (25 s): one every second would stand in for a's probes (each PING
	 * re-arms the probe timer), and a would not send the message's data again */
	make_pair(&p, 0);
	p.drop_ba = true;
	send_msg(&p, p.a, p.ca, 2500, KONCE_MSG_CLASS_DEFAULT, 7);
	pump(&p);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 0);
	uint64_t t0 = p.now;
	uint64_t rtx0 = konce_ep_counters(p.a)->data_tx;
	/* a probes with the message's data 1, 2, 4 and 8 s later (the probe timeout doubling); b
	 * shrinks 5 s after the one at 4 s, and the one at 8 s finds a presence */
	run_until(&p, t0 + 20000000);
	assert_true(konce_ep_counters(p.a)->data_tx > rtx0 + 3); /* a kept retransmitting */
	assert_int_equal(shrunk(p.a), 0);                         /* a: unacked data */
	assert_true(shrunk(p.b) >= 1);                            /* b: nothing owed, shrank */
	assert_true(grown(p.b) >= 2);                             /* ...and grew for a's retransmission */
	assert_int_equal(p.b_msgs, 1);                            /* which was a duplicate */
	/* the link heals: b acks a's next probe (16 s after the last), and a hears of the delivery */
	p.drop_ba = false;
	run_until(&p, p.now + 20000000);
	assert_int_equal(p.a_delivered, 1);
	assert_int_equal(p.a_failed, 0);
	assert_int_equal(p.b_msgs, 1);
	/* and the ids go on: the next message is new */
	send_msg(&p, p.a, p.ca, 2500, KONCE_MSG_CLASS_DEFAULT, 8);
	run_until(&p, p.now + 1000000);
	assert_int_equal(p.b_msgs, 2);
	assert_int_equal(p.last_b_msg[0], 8);
	assert_int_equal(p.a_delivered, 2);
	free_pair(&p);
}

/* With a message unacked (the peer unreachable), the sender never shrinks. */
static void test_no_shrink_with_unacked(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 1000);
	p.drop_ab = true;
	send_msg(&p, p.a, p.ca, 500, KONCE_MSG_CLASS_DEFAULT, 1);
	run_until(&p, p.now + 25000000);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(shrunk(p.a), 0);
	assert_int_equal(p.a_failed, 0);
	p.drop_ab = false;
	run_until(&p, p.now + 3000000);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 1);
	run_until(&p, p.now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 1);
	free_pair(&p);
}

/* With a message half reassembled, the receiver never shrinks; once it completes, it does. */
static void test_no_shrink_with_partial(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 1000);
	p.drop_ab = true;
	p.pass_ab = 2; /* the first two packets of a 20 kB message get through, then nothing */
	send_msg(&p, p.a, p.ca, 20000, KONCE_MSG_CLASS_DEFAULT, 4);
	run_until(&p, p.now + 20000000);
	assert_int_equal(grown(p.b), 1);
	assert_int_equal(p.b_msgs, 0);
	assert_int_equal(shrunk(p.b), 0); /* a partial reassembly: not idle */
	assert_int_equal(shrunk(p.a), 0);
	p.drop_ab = false;
	run_until(&p, p.now + 3000000);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 1);
	run_until(&p, p.now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 1);
	assert_int_equal(shrunk(p.b), 1);
	assert_int_equal(p.b_msgs, 1);
	free_pair(&p);
}

/* A kept channel (konce_ep_msg_keep_channel: a consensus group's) stays a channel while idle. */
static void test_kept_channel_stays(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 1000);
	send_msg(&p, p.a, p.ca, 10, KONCE_MSG_CLASS_DEFAULT, 1);
	pump(&p);
	assert_int_equal(konce_ep_msg_keep_channel(p.a, p.ca), 0);
	run_until(&p, p.now + 4 * SHRINK_US);
	assert_int_equal(shrunk(p.a), 0);
	assert_int_equal(shrunk(p.b), 1); /* b's side was not kept */
	send_msg(&p, p.a, p.ca, 10, KONCE_MSG_CLASS_DEFAULT, 2);
	run_until(&p, p.now + 1000000);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(p.b_msgs, 2);
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_shrink_regrow),
		cmocka_unit_test(test_exactly_once_across_shrink),
		cmocka_unit_test(test_no_shrink_with_unacked),
		cmocka_unit_test(test_no_shrink_with_partial),
		cmocka_unit_test(test_kept_channel_stays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
