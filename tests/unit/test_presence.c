/* test_presence.c - a session that only holds keepalives (a presence, ep_msg.c) carries no
 * reliability state: wanted, it PINGs every keepalive interval and the peer acks each at once,
 * and neither side allocates anything for it (the counting env of testenv.h says so); the first
 * message grows it into a channel, which then delivers both ways; a presence's peer that stops
 * answering still ends in the idle close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "ep_link.h"

static void open_link(ep_link *p)
{
	konce_ep_config cfg = {.keepalive_ms = 1000, .idle_timeout_ms = 5000};
	ep_link_open(p, 3, 4, &cfg, &cfg, 0);
	ep_link_run_until(p, p->now + 2000000); /* the handshake's own deadlines pass */
}

static void test_presence_allocates_nothing(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p);
	const struct konce_ep_counters *ca = konce_ep_counters(p.a), *cb = konce_ep_counters(p.b);
	uint64_t alloc_a = p.tenv_a.allocs, alloc_b = p.tenv_b.allocs;
	assert_int_equal(konce_ep_set_wanted(p.a, p.ca, true, p.now), 0);
	assert_int_equal(konce_ep_set_keepalive(p.a, p.ca, 500000, p.now), 0);
	uint64_t ka0 = ca->keepalive_tx, rx0 = ca->data_rx, tx_b0 = cb->data_tx;
	/* 60 s: far past the idle timeout (5 s), which the keepalives hold off on both sides */
	ep_link_run_until(&p, p.now + 60000000);
	assert_int_equal(ca->sessions_live, 1);
	assert_int_equal(cb->sessions_live, 1);
	uint64_t kas = ca->keepalive_tx - ka0;
	assert_true(kas >= 118 && kas <= 121); /* one every 500 ms */
	assert_int_equal(cb->data_tx - tx_b0, kas); /* b answered each with one ACK at once */
	assert_int_equal(ca->data_rx - rx0, kas);
	/* nothing was allocated for the keepalives on either side */
	assert_int_equal(p.tenv_a.allocs, alloc_a);
	assert_int_equal(p.tenv_b.allocs, alloc_b);

	/* the first message grows the presence into a channel: allocations, then delivery both ways */
	uint8_t big[5000];
	memset(big, 0x5a, sizeof big);
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(p.a, p.ca, big, sizeof big, 0, 0, p.now, &id), 0);
	assert_true(p.tenv_a.allocs > alloc_a);
	ep_link_run_until(&p, p.now + 1000000);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 1);
	assert_true(p.tenv_b.allocs > alloc_b);
	assert_int_equal(konce_ep_msg_send(p.b, p.cb, big, 100, 0, 0, p.now, &id), 0);
	ep_link_run_until(&p, p.now + 1000000);
	assert_int_equal(p.a_msgs, 1);
	/* still wanted: the channel's keepalives hold it */
	ep_link_run_until(&p, p.now + 20000000);
	assert_int_equal(ca->sessions_live, 1);
	assert_int_equal(cb->sessions_live, 1);
	ep_link_close(&p);
}

/* A presence whose peer went away still closes at the idle timeout (its PINGs get no answer). */
static void test_presence_peer_gone(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p);
	assert_int_equal(konce_ep_set_wanted(p.a, p.ca, true, p.now), 0);
	uint64_t ka0 = konce_ep_counters(p.a)->keepalive_tx;
	uint64_t end = p.now + 10000000;
	bool closed = false;
	while (konce_ep_next_timer(p.a) <= end && !closed) {
		p.now = konce_ep_next_timer(p.a) > p.now ? konce_ep_next_timer(p.a) : p.now;
		konce_ep_timer(p.a, p.now);
		uint8_t buf[KONCE_PMTU_MAX];
		size_t len;
		konce_addr to;
		while (konce_ep_poll_datagram(p.a, buf, &len, &to))
			; /* b is gone */
		konce_ep_event ev;
		while (konce_ep_poll_event(p.a, &ev))
			if (ev.type == KONCE_EV_CLOSED) {
				assert_int_equal(ev.reason, KONCE_FAIL_IDLE);
				closed = true;
			}
	}
	assert_true(closed);
	/* it kept trying once a second until 5 s after the last packet it heard (the handshake, 2 s
	 * before it was wanted): at 1 s and 2 s, and the third, due at 3 s with the close, leaves
	 * up to a slack step early (ep_timer.c "Coalescing"), before the close */
	assert_int_equal(konce_ep_counters(p.a)->keepalive_tx - ka0, 3);
	ep_link_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presence_allocates_nothing),
		cmocka_unit_test(test_presence_peer_gone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
